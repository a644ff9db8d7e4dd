/*
 * Tests of the dataset layouts and reading (datasets/cityscapes.c, list.c, dataset.c,
 * stats.c) on small trees written into a temporary folder: Cityscapes discovery and
 * matching, labelIds mapped on load against labelTrainIds files, unmatched and missing
 * files named, unlabelled splits, list parsing and its errors, label values outside
 * the class table, size mismatches, palette labels, command option sets, statistics.
 */
#include "tests/testutil.h"

#include "datasets/cityscapes_labels.h"
#include "datasets/dataset.h"
#include "datasets/stats.h"
#include "io/error.h"
#include "nets/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define W 12
#define H 5

static void assert_msg_has(const char *want)
{
	if (!strstr(kn_errmsg(), want))
		fail_msg("message '%s' does not contain '%s'", kn_errmsg(), want);
}

/* mkdir -p of the folder holding path. */
static void make_parents(const char *path)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f;

	make_parents(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

static void write_str(const char *path, const char *text)
{
	write_text(path, text, strlen(text));
}

static void write_image(const char *path, int w, int h, int seed)
{
	struct image img;

	make_parents(path);
	image_init(&img, w, h);
	for (int i = 0; i < 3 * w * h; i++)
		img.rgb[i] = (uint8_t)(i * 13 + seed);
	assert_int_equal(image_write_png(path, &img), 0);
	image_free(&img);
}

/* The labelId of pixel i of frame seed: every id 0..33 appears. */
static int label_id_at(int i, int seed)
{
	return (i + 5 * seed) % CITYSCAPES_NUM_IDS;
}

/* A label of w x h; train: the trainIds of label_id_at, else the labelIds. */
static void write_label(const char *path, int w, int h, int seed, bool train)
{
	struct label_image lab;

	make_parents(path);
	label_init(&lab, w, h, 8);
	for (int i = 0; i < w * h; i++) {
		int id = label_id_at(i, seed);

		lab.u8[i] = (uint8_t)(train ? cityscapes_by_id(id)->train_id : id);
	}
	assert_int_equal(label_write_png(path, &lab), 0);
	label_free(&lab);
}

static void write_values(const char *path, int w, int h, const uint8_t *v)
{
	struct label_image lab;

	make_parents(path);
	label_init(&lab, w, h, 8);
	memcpy(lab.u8, v, (size_t)w * h);
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
		write_image(path, W, H, seed);
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
		make_parents(path);
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
	write_str(path, "{}");
	snprintf(path, sizeof(path), "%s/leftImg8bit/train/aachen/README", root);
	write_str(path, "x");
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
	assert_msg_has(img);
	assert_msg_has("has no label");
	assert_msg_has("aachen_000002_000019_gtFine_labelIds.png");
	assert_msg_has("and 1 more");
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
	assert_msg_has("leftImg8bit/val' is not a folder");
	snprintf(path, sizeof(path), "%s/leftImg8bit/val/aachen/x.txt", root);
	write_str(path, "");
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", false), KN_EFORMAT);
	assert_msg_has("no *_leftImg8bit.png images");
	/* labelIds only: asking for labelTrainIds explains where they come from. */
	write_frame(root, "val", "aachen_000000_000019", 1, F_IMAGE | F_IDS);
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", true), KN_EFORMAT);
	assert_msg_has("no *_gtFine_labelTrainIds.png labels");
	assert_msg_has("createTrainIdLabelImgs");
	assert_int_equal(dataset_open_cityscapes(&d, root, "val", false), 0);
	assert_int_equal(d.count, 1);
	dataset_free(&d);
	tmpdir_remove(root);
}

/* A list in a sub-folder: paths are relative to it, whatever the working folder. */
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
		write_image(path, W, H, i);
		snprintf(path, sizeof(path), "%s/ann/f%d.png", root, i);
		write_values(path, W, H, (uint8_t[W * H]){0});
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
	write_text(list, text, (size_t)n);
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
	write_text(list, text, len);
	assert_int_equal(dataset_open_list(&d, list, &t), code);
	assert_msg_has(list);
	assert_msg_has(want1);
	if (want2)
		assert_msg_has(want2);
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
	write_image(path, W, H, 0);
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
	write_image(path, W, H, 0);
	snprintf(list, sizeof(list), "%s/l.txt", root);
	write_str(list, "a.png\nb.png c.png\na.png d.png\n");
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
	assert_msg_has(list);
	tmpdir_remove(root);
}

/* One image and label pair in root, and a list naming them. */
static void write_pair(const char *root, const char *name, int iw, int ih, int lw, int lh,
		       const uint8_t *values, char *list, size_t size)
{
	char path[1024], line[256];

	snprintf(path, sizeof(path), "%s/%s.png", root, name);
	write_image(path, iw, ih, 1);
	snprintf(path, sizeof(path), "%s/%s_L.png", root, name);
	write_values(path, lw, lh, values);
	snprintf(list, size, "%s/%s.txt", root, name);
	snprintf(line, sizeof(line), "%s.png %s_L.png\n", name, name);
	write_text(list, line, strlen(line));
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
	assert_msg_has("bad_L.png'");
	assert_msg_has("value 40 at (7, 2)");
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
	assert_msg_has("odd_L.png' is 13x5");
	assert_msg_has("odd.png' is 12x5");
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
	write_image(path, W, H, 0);
	snprintf(path, sizeof(path), "%s/p_L.png", root);
	assert_int_equal(label_write_palette_png(path, &lab, palette, 12), 0);
	snprintf(list, sizeof(list), "%s/p.txt", root);
	write_str(list, "p.png p_L.png\n");
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
	write_str(path, "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png "
		   "gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png\n");
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), 0);
	assert_int_equal(d.count, 1);
	assert_int_equal(d.classes.map[7], 0);
	dataset_free(&d);
	/* Cityscapes with another table over the same raw values. */
	snprintf(path, sizeof(path), "%s/two.classes", root);
	write_str(path, "flat 1 1 1 7 8\nthing 2 2 2 24 25 26\nignore 0 1 2 3 4 5 6 9 10 11 "
		   "12 13 14 15 16 17 18 19 20 21 22 23 27 28 29 30 31 32 33\n");
	spec = (struct dataset_spec){.layout = "cityscapes", .root = root, .classes = path};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), 0);
	assert_int_equal(d.count, 3);
	assert_int_equal(d.classes.num_classes, 2);
	assert_int_equal(d.classes.map[25], 1);
	dataset_free(&d);
	spec = (struct dataset_spec){.layout = "voc", .root = root};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	assert_msg_has("unknown dataset layout 'voc'");
	spec = (struct dataset_spec){.layout = "cityscapes", .root = root, .label_ids = true,
				     .train_ids = true};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	spec = (struct dataset_spec){.layout = "list"};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	assert_msg_has("--list");
	spec = (struct dataset_spec){.layout = "list", .list = path, .classes = "camvid",
				     .label_ids = true};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	assert_msg_has("not 'camvid'");
	spec = (struct dataset_spec){.layout = "cityscapes"};
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), KN_EINVAL);
	assert_msg_has("--root");
	tmpdir_remove(root);
}

/*
 * Statistics over a list with known contents and three kinds of bad files; the same
 * results with one thread and with two.
 */
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
	write_text(path, "\x89PNG\r\n\x1a\n trunc", sizeof("\x89PNG\r\n\x1a\n trunc") - 1);
	snprintf(list, sizeof(list), "%s/all.txt", root);
	write_str(list, "a.png a_L.png\nbig.png big_L.png\ncorrupt.png a_L.png\n"
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
		cmocka_unit_test(test_cityscapes_discovery),
		cmocka_unit_test(test_cityscapes_label_ids_mapped_on_load),
		cmocka_unit_test(test_cityscapes_unmatched_files),
		cmocka_unit_test(test_cityscapes_unlabelled_split),
		cmocka_unit_test(test_cityscapes_layout_errors),
		cmocka_unit_test(test_list_parsing),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_list_lenient_and_missing_list),
		cmocka_unit_test(test_read_value_outside_table),
		cmocka_unit_test(test_read_size_mismatch),
		cmocka_unit_test(test_read_palette_label),
		cmocka_unit_test(test_open_spec),
		cmocka_unit_test(test_stats_counts_and_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
