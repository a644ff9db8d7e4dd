/*
 * Tests of the Cityscapes layout (datasets/cityscapes.c) and of opening a dataset from
 * command options (dataset_open_spec), on small trees written into a temporary folder:
 * discovery and matching, labelIds mapped on load against labelTrainIds files (every
 * labelId), unmatched files named, unlabelled splits, layout errors.
 */
#include "tests/testutil.h"

#include "datasets/cityscapes_labels.h"
#include "datasets/dataset.h"
#include "io/error.h"
#include "tests/dstest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W 12
#define H 5

/* The labelId of pixel i of frame seed: every id 0..33 appears. */
static int label_id_at(int i, int seed)
{
	return (i + 5 * seed) % CITYSCAPES_NUM_IDS;
}

/* A label of w x h; train: the trainIds of label_id_at, else the labelIds. */
static void write_label(const char *path, int w, int h, int seed, bool train)
{
	struct label_image lab;

	dstest_make_parents(path);
	label_init(&lab, w, h, 8);
	for (int i = 0; i < w * h; i++) {
		int id = label_id_at(i, seed);

		lab.u8[i] = (uint8_t)(train ? cityscapes_by_id(id)->train_id : id);
	}
	assert_int_equal(label_write_png(path, &lab), 0);
	label_free(&lab);
}

enum { F_IMAGE = 1, F_IDS = 2, F_TRAIN = 4, F_INSTANCE = 8 };

/* Writes the files of frame base (city_seq_frame) of a Cityscapes split. */
static void write_frame(const char *root, const char *split, const char *base, int seed,
			int files)
{
	char city[64], path[1024];
	struct label_image inst;

	snprintf(city, sizeof(city), "%s", base);
	*strchr(city, '_') = '\0';
	snprintf(path, sizeof(path), "%s/leftImg8bit/%s/%s/%s_leftImg8bit.png", root, split,
		 city, base);
	if (files & F_IMAGE)
		dstest_write_image(path, W, H, seed);
	snprintf(path, sizeof(path), "%s/gtFine/%s/%s/%s_gtFine_labelIds.png", root, split,
		 city, base);
	if (files & F_IDS)
		write_label(path, W, H, seed, false);
	snprintf(path, sizeof(path), "%s/gtFine/%s/%s/%s_gtFine_labelTrainIds.png", root,
		 split, city, base);
	if (files & F_TRAIN)
		write_label(path, W, H, seed, true);
	snprintf(path, sizeof(path), "%s/gtFine/%s/%s/%s_gtFine_instanceIds.png", root, split,
		 city, base);
	if (files & F_INSTANCE) {
		dstest_make_parents(path);
		label_init(&inst, W, H, 16);
		inst.u16[0] = 26001;
		assert_int_equal(label_write_png(path, &inst), 0);
		label_free(&inst);
	}
}

/* Three frames in two cities, written out of order, plus files that do not match. */
static void write_city_tree(const char *root)
{
	char path[1024];

	write_frame(root, "train", "zurich_000000_000019", 3, F_IMAGE | F_IDS | F_TRAIN);
	write_frame(root, "train", "aachen_000001_000019", 2, F_IMAGE | F_IDS | F_TRAIN);
	write_frame(root, "train", "aachen_000000_000019", 1,
		    F_IMAGE | F_IDS | F_TRAIN | F_INSTANCE);
	/* Other files of a real download are not samples. */
	snprintf(path, sizeof(path), "%s/gtFine/train/aachen/aachen_000000_000019_gtFine_"
		 "polygons.json", root);
	dstest_write_str(path, "{}");
	snprintf(path, sizeof(path), "%s/leftImg8bit/train/aachen/README", root);
	dstest_write_str(path, "x");
}

static void test_cityscapes_discovery(void **state)
{
	char *root = tmpdir_create();
	char want[1024];
	struct dataset d;

	(void)state;
	write_city_tree(root);
	assert_int_equal(dataset_open_cityscapes(&d, root, "train", false), 0);
	assert_int_equal(d.layout, DATASET_CITYSCAPES);
	assert_int_equal(d.count, 3);
	assert_int_equal(dataset_labelled(&d), 3);
	assert_string_equal(d.samples[0].name, "aachen_000000_000019");
	assert_string_equal(d.samples[1].name, "aachen_000001_000019");
	assert_string_equal(d.samples[2].name, "zurich_000000_000019");
	snprintf(want, sizeof(want), "%s/leftImg8bit/train/aachen/aachen_000001_000019_"
		 "leftImg8bit.png", root);
	assert_string_equal(d.samples[1].image, want);
	snprintf(want, sizeof(want), "%s/gtFine/train/aachen/aachen_000001_000019_gtFine_"
		 "labelIds.png", root);
	assert_string_equal(d.samples[1].label, want);
	snprintf(want, sizeof(want), "%s/gtFine/train/aachen/aachen_000000_000019_gtFine_"
		 "instanceIds.png", root);
	assert_string_equal(d.samples[0].instance, want);
	assert_null(d.samples[1].instance);
	assert_int_equal(d.classes.num_classes, 19);
	assert_int_equal(d.classes.map[7], 0); /* labelIds mapped: road */
	dataset_free(&d);
	assert_int_equal(dataset_open_cityscapes(&d, root, "train", true), 0);
	assert_non_null(strstr(d.samples[2].label, "zurich_000000_000019_gtFine_labelTrainIds"));
	assert_int_equal(d.classes.map[7], 7);
	dataset_free(&d);
	tmpdir_remove(root);
}

/* Reading labelIds maps every id as the official table does; trainId files agree. */
static void test_cityscapes_label_ids_mapped_on_load(void **state)
{
	char *root = tmpdir_create();
	struct dataset ids, train;

	(void)state;
	write_city_tree(root);
	assert_int_equal(dataset_open_cityscapes(&ids, root, "train", false), 0);
	assert_int_equal(dataset_open_cityscapes(&train, root, "train", true), 0);
	for (int s = 0; s < ids.count; s++) {
		struct image img, img2;
		struct label_image a, b;
		int seed = s + 1; /* frames sorted as written with seeds 1, 2, 3 */

		assert_int_equal(dataset_read(&ids, s, &img, &a), 0);
		assert_int_equal(dataset_read(&train, s, &img2, &b), 0);
		assert_int_equal(img.w, W);
		assert_int_equal(a.w, W);
		assert_int_equal(a.h, H);
		assert_int_equal(a.bits, 8);
		for (int i = 0; i < W * H; i++) {
			int t = cityscapes_by_id(label_id_at(i, seed))->train_id;

			assert_int_equal(a.u8[i], t);
		}
		assert_memory_equal(a.u8, b.u8, W * H);
		image_free(&img);
		image_free(&img2);
		label_free(&a);
		label_free(&b);
	}
	dataset_free(&ids);
	dataset_free(&train);
	tmpdir_remove(root);
}

static void test_cityscapes_unmatched_files(void **state)
{
	char *root = tmpdir_create();
	char img[1024], lab[1024];
	struct dataset_problems p;
	struct dataset d;

	(void)state;
	write_city_tree(root);
	write_frame(root, "train", "aachen_000002_000019", 4, F_IMAGE);
	write_frame(root, "train", "bremen_000000_000019", 5, F_IDS);
	snprintf(img, sizeof(img), "%s/leftImg8bit/train/aachen/aachen_000002_000019_"
		 "leftImg8bit.png", root);
	snprintf(lab, sizeof(lab), "%s/gtFine/train/bremen/bremen_000000_000019_gtFine_"
		 "labelIds.png", root);
	assert_int_equal(dataset_open_cityscapes(&d, root, "train", false), KN_EMISMATCH);
	dstest_assert_msg_has(img);
	dstest_assert_msg_has("has no label");
	dstest_assert_msg_has("aachen_000002_000019_gtFine_labelIds.png");
	dstest_assert_msg_has("and 1 more");
	assert_int_equal(d.count, 0);
	assert_null(d.samples);
	/* Leniently: the matched frames, and each unmatched file named. */
	assert_int_equal(dataset_scan_cityscapes(&d, root, "train", false, &p), 0);
	assert_int_equal(d.count, 3);
	assert_int_equal(p.count, 2);
	assert_non_null(strstr(p.msgs[0], img));
	assert_non_null(strstr(p.msgs[1], lab));
	assert_non_null(strstr(p.msgs[1], "has no image"));
	assert_non_null(strstr(p.msgs[1], "bremen_000000_000019_leftImg8bit.png"));
	dataset_problems_free(&p);
	dataset_free(&d);
	tmpdir_remove(root);
}

static void test_cityscapes_unlabelled_split(void **state)
{
	char *root = tmpdir_create();
	struct dataset d;
	struct image img;
	struct label_image lab;

	(void)state;
	write_frame(root, "test", "berlin_000000_000019", 1, F_IMAGE);
	write_frame(root, "test", "bielefeld_000000_000019", 2, F_IMAGE);
	assert_int_equal(dataset_open_cityscapes(&d, root, "test", false), 0);
	assert_int_equal(d.count, 2);
	assert_int_equal(dataset_labelled(&d), 0);
	assert_null(d.samples[0].label);
	assert_null(d.samples[0].instance);
	assert_string_equal(d.samples[1].name, "bielefeld_000000_000019");
	assert_int_equal(dataset_read(&d, 1, &img, &lab), 0);
	assert_int_equal(img.w, W);
	assert_null(lab.u8);
	assert_int_equal(lab.w, 0);
	image_free(&img);
	dataset_free(&d);
	tmpdir_remove(root);
}

static void test_cityscapes_layout_errors(void **state)
{
	char *root = tmpdir_create();
	char path[1024];
	struct dataset d;

	(void)state;
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", false), KN_EIO);
	dstest_assert_msg_has("leftImg8bit/val' is not a folder");
	snprintf(path, sizeof(path), "%s/leftImg8bit/val/aachen/x.txt", root);
	dstest_write_str(path, "");
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", false), KN_EFORMAT);
	dstest_assert_msg_has("no *_leftImg8bit.png images");
	/* labelIds only: asking for labelTrainIds explains where they come from. */
	write_frame(root, "val", "aachen_000000_000019", 1, F_IMAGE | F_IDS);
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", true), KN_EFORMAT);
	dstest_assert_msg_has("no *_gtFine_labelTrainIds.png labels");
	dstest_assert_msg_has("createTrainIdLabelImgs");
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", false), 0);
	assert_int_equal(d.count, 1);
	dataset_free(&d);
	tmpdir_remove(root);
}

/* A list in a sub-folder: paths are relative to it, whatever the working folder. */
static void test_open_spec(void **state)
{
	char *root = tmpdir_create();
	char path[1024];
	struct dataset_spec spec = {0};
	struct dataset d;

	(void)state;
	write_city_tree(root);
	/* The list layout finds ROOT/SPLIT.txt; cityscapes over labelIds on request. */
	spec = (struct dataset_spec){.layout = "list", .root = root, .split = "ids",
				     .label_ids = true};
	snprintf(path, sizeof(path), "%s/ids.txt", root);
	dstest_write_str(path, "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png "
		   "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png\n");
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), 0);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.classes.map[7], 0);
	dataset_free(&d);
	/* Cityscapes with another table over the same raw values. */
	snprintf(path, sizeof(path), "%s/two.classes", root);
	dstest_write_str(path, "flat 1 1 1 7 8\nthing 2 2 2 24 25 26\nignore 0 1 2 3 4 5 6 9 10 11 "
		   "12 13 14 15 16 17 18 19 20 21 22 23 27 28 29 30 31 32 33\n");
	spec = (struct dataset_spec){.layout = "cityscapes", .root = root, .classes = path};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), 0);
	assert_int_equal(d.count, 3);
	assert_int_equal(d.classes.num_classes, 2);
	assert_int_equal(d.classes.map[25], 1);
	dataset_free(&d);
	spec = (struct dataset_spec){.layout = "voc", .root = root};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	dstest_assert_msg_has("unknown dataset layout 'voc'");
	spec = (struct dataset_spec){.layout = "cityscapes", .root = root, .label_ids = true,
				     .train_ids = true};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	spec = (struct dataset_spec){.layout = "list"};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	dstest_assert_msg_has("--list");
	spec = (struct dataset_spec){.layout = "list", .list = path, .classes = "camvid",
				     .label_ids = true};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	dstest_assert_msg_has("not 'camvid'");
	spec = (struct dataset_spec){.layout = "cityscapes"};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	dstest_assert_msg_has("--root");
	tmpdir_remove(root);
}

/*
 * Statistics over a list with known contents and three kinds of bad files; the same
 * results with one thread and with two.
 */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cityscapes_discovery),
		cmocka_unit_test(test_cityscapes_label_ids_mapped_on_load),
		cmocka_unit_test(test_cityscapes_unmatched_files),
		cmocka_unit_test(test_cityscapes_unlabelled_split),
		cmocka_unit_test(test_cityscapes_layout_errors),
		cmocka_unit_test(test_open_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
