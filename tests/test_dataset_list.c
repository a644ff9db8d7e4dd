/*
 * Tests of the list layout (datasets/list.c), of reading samples (dataset.c) and of the
 * statistics (stats.c), on small files written into a temporary folder: list parsing
 * and its errors, missing files, label values outside the class table, size
 * mismatches, palette labels, statistics with bad files and any thread count.
 */
#include "tests/testutil.h"

#include "datasets/dataset.h"
#include "datasets/stats.h"
#include "io/error.h"
#include "nets/gemm.h"
#include "tests/dstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 12
#define H 5

static void test_list_parsing(void **state)
{
	char *root = tmpdir_create();
	char list[1024], path[1024], text[2048], want[1024];
	struct class_table t;
	struct dataset d;
	int n;

	(void)state;
	class_table_camvid(&t);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/img/f%d.v2.jpg.png", root, i);
		dstest_write_image(path, W, H, i);
		snprintf(path, sizeof(path), "%s/ann/f%d.png", root, i);
		dstest_write_values(path, W, H, (uint8_t[W * H]){0});
	}
	snprintf(list, sizeof(list), "%s/lists/train.txt", root);
	n = snprintf(text, sizeof(text),
		     "# image label\n"
		     "\n"
		     "../img/f0.v2.jpg.png ../ann/f0.png\r\n"
		     "   \t\n"
		     "\t../img/f1.v2.jpg.png\t ../ann/f1.png   # second\n"
		     "../img/f2.v2.jpg.png\n"
		     "%s/img/f1.v2.jpg.png", root);
	dstest_write_text(list, text, (size_t)n);
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(d.layout, DATASET_LIST);
	assert_int_equal(d.count, 4);
	assert_int_equal(dataset_labelled(&d), 2);
	assert_true(class_table_equal(&d.classes, &t));
	snprintf(want, sizeof(want), "%s/lists/../img/f0.v2.jpg.png", root);
	assert_string_equal(d.samples[0].image, want);
	snprintf(want, sizeof(want), "%s/lists/../ann/f1.png", root);
	assert_string_equal(d.samples[1].label, want);
	assert_null(d.samples[2].label);
	assert_null(d.samples[0].instance);
	snprintf(want, sizeof(want), "%s/img/f1.v2.jpg.png", root);
	assert_string_equal(d.samples[3].image, want);
	assert_string_equal(d.samples[0].name, "f0.v2.jpg");
	assert_string_equal(d.samples[2].name, "f2.v2.jpg");
	dataset_free(&d);
	tmpdir_remove(root);
}

/* A list file of len bytes of text; the strict opening must fail naming each of want. */
static void assert_list_error_n(const char *root, const char *text, size_t len, int code,
				const char *want1, const char *want2)
{
	char list[1024];
	struct class_table t;
	struct dataset d;

	class_table_camvid(&t);
	snprintf(list, sizeof(list), "%s/l.txt", root);
	dstest_write_text(list, text, len);
	assert_int_equal(dataset_open_list(&d, list, &t), code);
	dstest_assert_msg_has(list);
	dstest_assert_msg_has(want1);
	if (want2)
		dstest_assert_msg_has(want2);
	assert_int_equal(d.count, 0);
}

static void assert_list_error(const char *root, const char *text, int code,
			      const char *want1, const char *want2)
{
	assert_list_error_n(root, text, strlen(text), code, want1, want2);
}

static void test_list_errors(void **state)
{
	char *root = tmpdir_create();
	char path[1024];
	static const char nul[] = "a.png\n\0b.png\n";

	(void)state;
	snprintf(path, sizeof(path), "%s/a.png", root);
	dstest_write_image(path, W, H, 0);
	assert_list_error(root, "a.png a.png\n# x\na.png a.png a.png\n", KN_EFORMAT,
			  "line 3: more than two paths", NULL);
	assert_list_error(root, "", KN_EFORMAT, "lists no images", NULL);
	assert_list_error(root, "# nothing\n\n", KN_EFORMAT, "lists no images", NULL);
	assert_list_error_n(root, nul, sizeof(nul) - 1, KN_EFORMAT, "line 2: NUL byte", NULL);
	assert_list_error(root, "a.png\nmissing.jpg a.png\n", KN_EMISMATCH,
			  "line 2: image '", "/missing.jpg' does not exist");
	assert_list_error(root, "a.png gone.png\n", KN_EMISMATCH,
			  "line 1: label '", "/gone.png' does not exist");
	assert_list_error(root, "x.png y.png\n", KN_EMISMATCH, "x.png' does not exist",
			  "and 1 more");
	assert_list_error(root, ". a.png\n", KN_EMISMATCH, "is not a regular file", NULL);
	tmpdir_remove(root);
}

/*
 * A UTF-8 byte-order mark before the first path is skipped; UTF-16 and lines ended by
 * CR alone are named as such.
 */
static void test_list_byte_order_marks(void **state)
{
	char *root = tmpdir_create();
	char path[1024], list[1024];
	struct class_table t;
	struct dataset d;
	static const char u16le[] = "\xff\xfe" "a\0.\0p\0n\0g\0\n\0";
	static const char u16be[] = "\xfe\xff" "\0a\0.\0p\0n\0g\0\n";

	(void)state;
	class_table_camvid(&t);
	snprintf(path, sizeof(path), "%s/a.png", root);
	dstest_write_image(path, W, H, 0);
	snprintf(path, sizeof(path), "%s/a_L.png", root);
	dstest_write_values(path, W, H, (uint8_t[W * H]){0});
	snprintf(list, sizeof(list), "%s/bom.txt", root);
	dstest_write_str(list, "\xef\xbb\xbf" "a.png a_L.png \t\r\na.png  \r\n");
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(d.count, 2);
	assert_string_equal(d.samples[0].name, "a");
	assert_non_null(d.samples[0].label);
	assert_null(d.samples[1].label);
	dataset_free(&d);
	assert_list_error_n(root, u16le, sizeof(u16le) - 1, KN_EFORMAT, "is UTF-16 text",
			    "save it as UTF-8");
	assert_list_error_n(root, u16be, sizeof(u16be) - 1, KN_EFORMAT, "is UTF-16 text",
			    "save it as UTF-8");
	assert_list_error(root, "a.png a_L.png\ra.png\r", KN_EFORMAT, "CR alone", "CR LF");
	tmpdir_remove(root);
}

static void test_list_lenient_and_missing_list(void **state)
{
	char *root = tmpdir_create();
	char path[1024], list[1024];
	struct dataset_problems p;
	struct class_table t;
	struct dataset d;

	(void)state;
	class_table_camvid(&t);
	snprintf(path, sizeof(path), "%s/a.png", root);
	dstest_write_image(path, W, H, 0);
	snprintf(list, sizeof(list), "%s/l.txt", root);
	dstest_write_str(list, "a.png\nb.png c.png\na.png d.png\n");
	assert_int_equal(dataset_scan_list(&d, list, &t, &p), 0);
	assert_int_equal(d.count, 1);
	assert_int_equal(p.count, 3);
	assert_non_null(strstr(p.msgs[0], "line 2: image"));
	assert_non_null(strstr(p.msgs[1], "line 2: label"));
	assert_non_null(strstr(p.msgs[2], "line 3: label"));
	dataset_problems_free(&p);
	dataset_free(&d);
	snprintf(list, sizeof(list), "%s/none.txt", root);
	assert_int_equal(dataset_open_list(&d, list, &t), KN_EIO);
	dstest_assert_msg_has(list);
	tmpdir_remove(root);
}

/* One image and label pair in root, and a list naming them. */
static void write_pair(const char *root, const char *name, int iw, int ih, int lw, int lh,
		       const uint8_t *values, char *list, size_t size)
{
	char path[1024], line[256];

	snprintf(path, sizeof(path), "%s/%s.png", root, name);
	dstest_write_image(path, iw, ih, 1);
	snprintf(path, sizeof(path), "%s/%s_L.png", root, name);
	dstest_write_values(path, lw, lh, values);
	snprintf(list, size, "%s/%s.txt", root, name);
	snprintf(line, sizeof(line), "%s.png %s_L.png\n", name, name);
	dstest_write_text(list, line, strlen(line));
}

static void test_read_value_outside_table(void **state)
{
	char *root = tmpdir_create();
	char list[1024];
	uint8_t v[W * H] = {0};
	struct class_table t;
	struct dataset d;
	struct image img;
	struct label_image lab;

	(void)state;
	class_table_camvid(&t);
	v[2 * W + 7] = 40;
	v[4 * W + 1] = 11;
	write_pair(root, "bad", W, H, W, H, v, list, sizeof(list));
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(dataset_read(&d, 0, &img, &lab), KN_EMISMATCH);
	dstest_assert_msg_has("bad_L.png'");
	dstest_assert_msg_has("value 40 at (7, 2)");
	assert_null(lab.u8);
	dataset_free(&d);
	tmpdir_remove(root);
}

static void test_read_size_mismatch(void **state)
{
	char *root = tmpdir_create();
	char list[1024];
	uint8_t v[(W + 1) * H] = {0};
	struct class_table t;
	struct dataset d;
	struct image img;
	struct label_image lab;

	(void)state;
	class_table_camvid(&t);
	write_pair(root, "odd", W, H, W + 1, H, v, list, sizeof(list));
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(dataset_read(&d, 0, &img, &lab), KN_EMISMATCH);
	dstest_assert_msg_has("odd_L.png' is 13x5");
	dstest_assert_msg_has("odd.png' is 12x5");
	assert_null(img.rgb);
	assert_null(lab.u8);
	/* The label alone reads (a scorer needs no image). */
	assert_int_equal(dataset_read_label(&d, 0, &lab), 0);
	assert_int_equal(lab.w, W + 1);
	label_free(&lab);
	/* And the image alone, with lab NULL. */
	assert_int_equal(dataset_read(&d, 0, &img, NULL), 0);
	assert_int_equal(img.w, W);
	image_free(&img);
	dataset_free(&d);
	tmpdir_remove(root);
}

/* Palette labels are read as their indices, whatever colours the palette holds. */
static void test_read_palette_label(void **state)
{
	char *root = tmpdir_create();
	char path[1024], list[1024];
	uint8_t palette[12 * 3];
	struct label_image lab, got;
	struct class_table t;
	struct dataset d;
	struct image img;

	(void)state;
	class_table_camvid(&t);
	for (int i = 0; i < 12 * 3; i++)
		palette[i] = (uint8_t)(255 - 7 * i);
	label_init(&lab, W, H, 8);
	for (int i = 0; i < W * H; i++)
		lab.u8[i] = (uint8_t)(i % 12);
	snprintf(path, sizeof(path), "%s/p.png", root);
	dstest_write_image(path, W, H, 0);
	snprintf(path, sizeof(path), "%s/p_L.png", root);
	assert_int_equal(label_write_palette_png(path, &lab, palette, 12), 0);
	snprintf(list, sizeof(list), "%s/p.txt", root);
	dstest_write_str(list, "p.png p_L.png\n");
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(dataset_read(&d, 0, &img, &got), 0);
	for (int i = 0; i < W * H; i++)
		assert_int_equal(got.u8[i], i % 12 == 11 ? CLASS_IGNORE : i % 12);
	image_free(&img);
	label_free(&got);
	label_free(&lab);
	dataset_free(&d);
	tmpdir_remove(root);
}

static void test_stats_counts_and_bad_files(void **state)
{
	char *root = tmpdir_create();
	char path[1024], list[1024];
	uint8_t a[W * H], big[2 * W * H] = {0};
	struct class_table t;
	struct dataset_stats st[2];
	struct dataset d;
	int threads = kn_get_threads();

	(void)state;
	class_table_camvid(&t);
	for (int i = 0; i < W * H; i++)
		a[i] = (uint8_t)(i < 10 ? 11 : i < 30 ? 3 : 0); /* 10 void, 20 Road, 30 Sky */
	write_pair(root, "a", W, H, W, H, a, list, sizeof(list));
	write_pair(root, "b", W, H, W, H, a, list, sizeof(list));
	write_pair(root, "big", 2 * W, H, 2 * W, H, big, list, sizeof(list));
	big[5] = 99;
	write_pair(root, "bad", W, H, W, H, big, list, sizeof(list));
	write_pair(root, "odd", W, H, W + 1, H, big + 10, list, sizeof(list));
	snprintf(path, sizeof(path), "%s/corrupt.png", root);
	dstest_write_text(path, "\x89PNG\r\n\x1a\n trunc", sizeof("\x89PNG\r\n\x1a\n trunc") - 1);
	snprintf(list, sizeof(list), "%s/all.txt", root);
	dstest_write_str(list, "a.png a_L.png\nbig.png big_L.png\ncorrupt.png a_L.png\n"
		   "bad.png bad_L.png\nb.png\nodd.png odd_L.png\nb.png b_L.png\n");
	assert_int_equal(dataset_open_list(&d, list, &t), 0);
	assert_int_equal(d.count, 7);
	for (int r = 0; r < 2; r++) {
		kn_set_threads(r + 1);
		dataset_stats_compute(&d, &st[r]);
	}
	kn_set_threads(threads);
	assert_int_equal(st[0].images, 7);
	/* a, big, b: a label without a readable image or of another size counts nothing. */
	assert_int_equal(st[0].labelled, 3);
	assert_int_equal(st[0].num_sizes, 2);
	assert_int_equal(st[0].sizes[0].w, W);
	assert_int_equal(st[0].sizes[0].count, 5);
	assert_int_equal(st[0].sizes[1].w, 2 * W);
	assert_int_equal(st[0].sizes[1].count, 1);
	assert_int_equal(st[0].class_pixels[0], 2 * 30 + 2 * W * H);
	assert_int_equal(st[0].class_pixels[3], 2 * 20);
	assert_int_equal(st[0].class_pixels[1], 0);
	assert_int_equal(st[0].ignore_pixels, 2 * 10);
	assert_int_equal(st[0].label_pixels, 2 * W * H + 2 * W * H);
	assert_int_equal(st[0].bad.count, 3);
	assert_non_null(strstr(st[0].bad.msgs[0], "corrupt.png'"));
	assert_non_null(strstr(st[0].bad.msgs[1], "bad_L.png': label value 99 at (5, 0)"));
	assert_non_null(strstr(st[0].bad.msgs[2], "is 13x5 but its image"));
	assert_int_equal(st[1].num_sizes, st[0].num_sizes);
	assert_memory_equal(st[1].sizes, st[0].sizes, sizeof(*st[0].sizes) * 2);
	assert_memory_equal(st[1].class_pixels, st[0].class_pixels, sizeof(st[0].class_pixels));
	assert_int_equal(st[1].bad.count, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(st[1].bad.msgs[i], st[0].bad.msgs[i]);
	dataset_stats_free(&st[0]);
	dataset_stats_free(&st[1]);
	dataset_free(&d);
	tmpdir_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_parsing),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_list_byte_order_marks),
		cmocka_unit_test(test_list_lenient_and_missing_list),
		cmocka_unit_test(test_read_value_outside_table),
		cmocka_unit_test(test_read_size_mismatch),
		cmocka_unit_test(test_read_palette_label),
		cmocka_unit_test(test_stats_counts_and_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
