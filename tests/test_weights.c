/* Median frequency class weights on a hand-made list dataset, and on CamVid if present. */
#include "tests/testutil.h"

#include "datasets/dataset.h"
#include "datasets/weights.h"
#include "io/image.h"
#include "io/label.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two 4x1 images over 3 classes (raw 3 is ignore):
 *   a: 0 0 1 3      b: 0 2 2 2
 * freq(0) = 3 / (3 + 4) (present in both; labelled pixels 3 and 4)
 * freq(1) = 1 / 3, freq(2) = 3 / 4, median = 3 / 7. */
static void test_hand_made(void **state)
{
	char *dir = tmpdir_create(), path[600];
	const uint8_t va[4] = {0, 0, 1, 3}, vb[4] = {0, 2, 2, 2};
	const uint8_t *vals[2] = {va, vb};
	struct class_table t;
	struct dataset d;
	float w[3];
	FILE *f;

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct image img;
		struct label_image lab;

		image_init(&img, 4, 1);
		label_init(&lab, 4, 1, 8);
		memcpy(lab.u8, vals[i], 4);
		snprintf(path, sizeof(path), "%s/i%d.png", dir, i);
		assert_int_equal(image_write_png(path, &img), 0);
		snprintf(path, sizeof(path), "%s/l%d.png", dir, i);
		assert_int_equal(label_write_png(path, &lab), 0);
		image_free(&img);
		label_free(&lab);
	}
	snprintf(path, sizeof(path), "%s/list.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "i0.png l0.png\ni1.png l1.png\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/classes.txt", dir);
	f = fopen(path, "w");
	fprintf(f, "a 1 1 1 0\nb 2 2 2 1\nc 3 3 3 2\nignore 3\n");
	fclose(f);
	assert_int_equal(class_table_read(&t, path), 0);
	snprintf(path, sizeof(path), "%s/list.txt", dir);
	assert_int_equal(dataset_open_list(&d, path, &t), 0);
	assert_int_equal(class_weights_median_frequency(&d, w), 0);
	assert_true(fabs(w[0] - 1.0) < 1e-6);
	assert_true(fabs(w[1] - (3.0 / 7) / (1.0 / 3)) < 1e-6);
	assert_true(fabs(w[2] - (3.0 / 7) / 0.75) < 1e-6);
	dataset_free(&d);
	tmpdir_remove(dir);
}

static void test_camvid(void **state)
{
	const char *root = shared_data_dir();
	const float want[11] = {0.2794f, 0.2018f, 4.7889f, 0.1491f, 1.0f, 0.4235f,
				3.8464f, 1.9798f, 0.7890f, 6.3847f, 8.8193f};
	struct class_table t;
	struct dataset d;
	char path[600];
	float w[11];

	(void)state;
	if (!root) {
		skip();
		return;
	}
	snprintf(path, sizeof(path), "%s/camvid/train.txt", root);
	assert_int_equal(class_table_preset(&t, "camvid"), 0);
	assert_int_equal(dataset_open_list(&d, path, &t), 0);
	assert_int_equal(class_weights_median_frequency(&d, w), 0);
	assert_allclose("camvid weights", w, want, 11, 0, 6e-5);
	dataset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_made),
		cmocka_unit_test(test_camvid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
