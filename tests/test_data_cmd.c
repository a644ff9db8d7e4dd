/*
 * Tests of dataset statistics on the real data and of the `knseg data` command: the
 * CamVid train class shares published in the data's README, the Cityscapes frame read
 * from labelIds and from labelTrainIds, and the program itself (JSON output, bad files
 * listed with exit status 1, usage errors with 2). Real-data tests skip with a message
 * when ../shared/data is absent; command tests skip when the program is not built
 * beside the test program (build/<cfg>/knseg, as `make test` builds it).
 */
#include "tests/testutil.h"

#include "datasets/dataset.h"
#include "datasets/stats.h"
#include "io/error.h"
#include "io/file.h"
#include "io/json.h"
#include "tests/dstest.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Per-class pixel shares of CamVid train (%), README of the shared data; last is void. */
static const double camvid_train_shares[12] = {
	16.85, 23.26, 0.98, 31.66, 4.49, 9.72, 1.17, 1.13, 5.87, 0.64, 0.29, 3.95,
};

static const char *data_or_skip(void)
{
	const char *dir = shared_data_dir();

	if (!dir) {
		printf("skipped: no shared data folder (../shared/data or KNSEG_SHARED_DATA)\n");
		skip();
	}
	return dir;
}

/*
 * Runs "knseg data ARGS" with stdout and stderr into files of dir; returns the exit
 * status and the outputs (freed by the caller).
 */
static int run_data(const char *dir, const char *args, char **out, char **err)
{
	char words[4096];

	snprintf(words, sizeof(words), "data %s", args);
	return run_knseg(dir, words, out, err);
}

static void parse_json(const char *text, struct json_doc *doc)
{
	if (json_parse(text, strlen(text), doc) < 0)
		fail_msg("not JSON (%s): %s", kn_errmsg(), text);
}

static uint64_t json_u64_of(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);
	uint64_t x = 0;

	assert_non_null(v);
	assert_true(json_get_u64(v, &x));
	return x;
}

static void test_camvid_train_shares(void **state)
{
	const char *data = data_or_skip();
	char list[1024];
	struct dataset_spec spec = {.layout = "list", .list = list, .classes = "camvid"};
	struct dataset_stats st;
	struct dataset d;

	(void)state;
	snprintf(list, sizeof(list), "%s/camvid/train.txt", data);
	assert_int_equal(dataset_open_spec(&d, &spec, NULL), 0);
	assert_int_equal(d.count, 367);
	dataset_stats_compute(&d, &st);
	assert_int_equal(st.bad.count, 0);
	assert_int_equal(st.labelled, 367);
	assert_int_equal(st.num_sizes, 1);
	assert_int_equal(st.sizes[0].w, 480);
	assert_int_equal(st.sizes[0].h, 360);
	assert_int_equal(st.label_pixels, 367ull * 480 * 360);
	for (int k = 0; k < 12; k++) {
		uint64_t px = k < 11 ? st.class_pixels[k] : st.ignore_pixels;
		double share = 100.0 * (double)px / (double)st.label_pixels;

		/* The README rounds to two decimals. */
		if (fabs(share - camvid_train_shares[k]) > 0.005)
			fail_msg("class %d: share %.4f, README %.2f", k, share,
				 camvid_train_shares[k]);
	}
	dataset_stats_free(&st);
	dataset_free(&d);
}

/* The frame's labelIds mapped on load equal its labelTrainIds file. */
static void test_cityscapes_frame_ids_agree(void **state)
{
	const char *data = data_or_skip();
	char root[1024];
	struct dataset ids, train;
	struct label_image a, b;
	struct image img;

	(void)state;
	snprintf(root, sizeof(root), "%s/cityscapes_frame", data);
	assert_int_equal(dataset_open_cityscapes(&ids, root, "val", false), 0);
	assert_int_equal(dataset_open_cityscapes(&train, root, "val", true), 0);
	assert_int_equal(ids.count, 1);
	assert_string_equal(ids.samples[0].name, "frankfurt_000000_000294");
	assert_non_null(ids.samples[0].instance);
	assert_int_equal(dataset_read(&ids, 0, &img, &a), 0);
	assert_int_equal(dataset_read_label(&train, 0, &b), 0);
	assert_int_equal(img.w, 256);
	assert_int_equal(img.h, 128);
	assert_int_equal(a.w, 256);
	assert_memory_equal(a.u8, b.u8, 256 * 128);
	image_free(&img);
	label_free(&a);
	label_free(&b);
	dataset_free(&ids);
	dataset_free(&train);
}

static void test_command_cityscapes_frame(void **state)
{
	const char *data = data_or_skip();
	char *dir = tmpdir_create(), args[1024], *out, *err;
	const struct json_value *classes;
	struct json_doc doc;
	uint64_t sum = 0;

	(void)state;
	snprintf(args, sizeof(args), "--dataset cityscapes --root '%s/cityscapes_frame' "
		 "--split val --json - --threads 2", data);
	assert_int_equal(run_data(dir, args, &out, &err), 0);
	parse_json(out, &doc);
	assert_int_equal(json_u64_of(doc.root, "images"), 1);
	assert_int_equal(json_u64_of(doc.root, "labelled"), 1);
	assert_int_equal(json_u64_of(doc.root, "label_pixels"), 256 * 128);
	classes = json_get(doc.root, "classes");
	assert_non_null(classes);
	assert_int_equal(classes->type, JSON_ARRAY);
	assert_int_equal(classes->len, 20);
	assert_string_equal(json_get_string(json_get(&classes->u.items[0], "name")), "road");
	assert_string_equal(json_get_string(json_get(&classes->u.items[19], "name")), "void");
	for (int k = 0; k < 20; k++)
		sum += json_u64_of(&classes->u.items[k], "pixels");
	assert_int_equal(sum, 256 * 128);
	assert_int_equal(json_get(doc.root, "bad")->len, 0);
	json_doc_free(&doc);
	free(out);
	free(err);
	/* The text form: a void row, no bad file; the same with labelTrainIds. */
	snprintf(args, sizeof(args), "--dataset cityscapes --root '%s/cityscapes_frame' "
		 "--split val --train-ids", data);
	assert_int_equal(run_data(dir, args, &out, &err), 0);
	assert_non_null(strstr(out, "images: 1 (1 labelled"));
	assert_non_null(strstr(out, "256x128"));
	assert_non_null(strstr(out, "void"));
	assert_non_null(strstr(out, "bad files: 0"));
	free(out);
	free(err);
	tmpdir_remove(dir);
}

static void test_command_camvid_shares(void **state)
{
	const char *data = data_or_skip();
	char *dir = tmpdir_create(), args[1024], *out, *err;
	const struct json_value *classes;
	struct json_doc doc;

	(void)state;
	snprintf(args, sizeof(args), "--dataset list --list '%s/camvid/train.txt' "
		 "--classes camvid --json -", data);
	assert_int_equal(run_data(dir, args, &out, &err), 0);
	parse_json(out, &doc);
	assert_int_equal(json_u64_of(doc.root, "images"), 367);
	classes = json_get(doc.root, "classes");
	assert_int_equal(classes->len, 12);
	for (int k = 0; k < 12; k++) {
		const struct json_value *pct = json_get(&classes->u.items[k], "percent");

		assert_non_null(pct);
		if (fabs(pct->u.num.d - camvid_train_shares[k]) > 0.005)
			fail_msg("class %d: %g%%, README %.2f%%", k, pct->u.num.d,
				 camvid_train_shares[k]);
	}
	json_doc_free(&doc);
	free(out);
	free(err);
	tmpdir_remove(dir);
}

/* Every bad file is listed, the good ones still counted, and the exit status is 1. */
static void test_command_lists_bad_files(void **state)
{
	char *dir = tmpdir_create(), path[1024], args[2048], *out, *err;
	struct label_image lab;
	struct image img;
	struct json_doc doc;

	(void)state;
	knseg_program_or_skip();
	image_init(&img, 4, 2);
	label_init(&lab, 4, 2, 8);
	snprintf(path, sizeof(path), "%s/a.png", dir);
	assert_int_equal(image_write_png(path, &img), 0);
	snprintf(path, sizeof(path), "%s/a_L.png", dir);
	assert_int_equal(label_write_png(path, &lab), 0);
	lab.u8[3] = 200;
	snprintf(path, sizeof(path), "%s/b_L.png", dir);
	assert_int_equal(label_write_png(path, &lab), 0);
	snprintf(path, sizeof(path), "%s/l.txt", dir);
	dstest_write_str(path, "a.png a_L.png\na.png b_L.png\nmissing.png a_L.png\n");
	snprintf(args, sizeof(args), "--dataset list --list '%s' --classes camvid --json -", path);
	assert_int_equal(run_data(dir, args, &out, &err), 1);
	assert_non_null(strstr(err, "2 bad files"));
	parse_json(out, &doc);
	assert_int_equal(json_u64_of(doc.root, "images"), 2);
	assert_int_equal(json_u64_of(doc.root, "label_pixels"), 8);
	assert_int_equal(json_get(doc.root, "bad")->len, 2);
	assert_non_null(strstr(json_get_string(&json_get(doc.root, "bad")->u.items[0]),
			       "missing.png' does not exist"));
	assert_non_null(strstr(json_get_string(&json_get(doc.root, "bad")->u.items[1]),
			       "value 200 at (3, 0)"));
	json_doc_free(&doc);
	free(out);
	free(err);
	image_free(&img);
	label_free(&lab);
	tmpdir_remove(dir);
}

static void test_command_usage(void **state)
{
	char *dir = tmpdir_create(), *out, *err;

	(void)state;
	knseg_program_or_skip();
	assert_int_equal(run_data(dir, "--help", &out, &err), 0);
	assert_non_null(strstr(out, "--classes"));
	free(out);
	free(err);
	assert_int_equal(run_data(dir, "--json -", &out, &err), 2);
	assert_non_null(strstr(err, "needs --root"));
	free(out);
	free(err);
	assert_int_equal(run_data(dir, "--dataset voc --root x", &out, &err), 2);
	assert_non_null(strstr(err, "unknown dataset layout 'voc'"));
	free(out);
	free(err);
	assert_int_equal(run_data(dir, "--dataset cityscapes --root x --label-ids --train-ids",
				  &out, &err), 2);
	assert_non_null(strstr(err, "exclude each other"));
	free(out);
	free(err);
	assert_int_equal(run_data(dir, "--dataset cityscapes --root /nonexistent", &out, &err),
			 1);
	assert_non_null(strstr(err, "/nonexistent/leftImg8bit/train' is not a folder"));
	free(out);
	free(err);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_camvid_train_shares),
		cmocka_unit_test(test_cityscapes_frame_ids_agree),
		cmocka_unit_test(test_command_cityscapes_frame),
		cmocka_unit_test(test_command_camvid_shares),
		cmocka_unit_test(test_command_lists_bad_files),
		cmocka_unit_test(test_command_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
