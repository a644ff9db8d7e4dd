/*
 * Tests of the street-scene generator (datasets/synth.c) and of `knseg synth`:
 * frames depend only on (seed, split, index), also across thread counts; the four
 * annotations agree with each other through the official label table; every class the
 * generator draws shows up with a sane pixel share; the files follow the Cityscapes
 * layout and its discovery finds them; a non-empty output folder needs force, which
 * also removes stale frames; bad sizes and unwritable folders are refused.
 * Frames are small so the program stays fast.
 */
#include "tests/testutil.h"

#include "datasets/cityscapes_labels.h"
#include "datasets/dataset.h"
#include "datasets/synth.h"
#include "io/error.h"
#include "io/file.h"
#include "io/image.h"
#include "io/label.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* The labelIds the generator draws: ego vehicle and 13 trained classes. */
static const int drawn_ids[] = {1, 7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 26};
#define NDRAWN ((int)(sizeof(drawn_ids) / sizeof(drawn_ids[0])))

static void assert_frames_equal(const struct synth_frame *a, const struct synth_frame *b)
{
	size_t n = (size_t)a->image.w * (size_t)a->image.h;

	assert_int_equal(a->image.w, b->image.w);
	assert_int_equal(a->image.h, b->image.h);
	assert_memory_equal(a->image.rgb, b->image.rgb, 3 * n);
	assert_memory_equal(a->label_ids.u8, b->label_ids.u8, n);
	assert_memory_equal(a->train_ids.u8, b->train_ids.u8, n);
	assert_memory_equal(a->instance_ids.u16, b->instance_ids.u16, n * sizeof(uint16_t));
	assert_memory_equal(a->color.rgb, b->color.rgb, 3 * n);
}

static bool frames_differ(const struct synth_frame *a, const struct synth_frame *b)
{
	size_t n = (size_t)a->image.w * (size_t)a->image.h;

	return memcmp(a->image.rgb, b->image.rgb, 3 * n) != 0 &&
	       memcmp(a->label_ids.u8, b->label_ids.u8, n) != 0;
}

static void test_render_deterministic(void **state)
{
	struct synth_frame a, b, c, d, e;

	(void)state;
	synth_render(&a, 160, 80, 5, SYNTH_VAL, 3);
	synth_render(&b, 160, 80, 5, SYNTH_VAL, 3);
	synth_render(&c, 160, 80, 6, SYNTH_VAL, 3);
	synth_render(&d, 160, 80, 5, SYNTH_TRAIN, 3);
	synth_render(&e, 160, 80, 5, SYNTH_VAL, 4);
	assert_int_equal(a.image.w, 160);
	assert_int_equal(a.image.h, 80);
	assert_int_equal(a.label_ids.bits, 8);
	assert_int_equal(a.train_ids.bits, 8);
	assert_int_equal(a.instance_ids.bits, 16);
	assert_frames_equal(&a, &b);
	assert_true(frames_differ(&a, &c));
	assert_true(frames_differ(&a, &d));
	assert_true(frames_differ(&a, &e));
	synth_frame_free(&a);
	synth_frame_free(&b);
	synth_frame_free(&c);
	synth_frame_free(&d);
	synth_frame_free(&e);
	assert_null(a.image.rgb);
}

/* Every pixel: trainId and colour from the table, instanceIds consistent with labelIds. */
static void check_frame_consistent(const struct synth_frame *fr)
{
	size_t n = (size_t)fr->image.w * (size_t)fr->image.h;

	for (size_t i = 0; i < n; i++) {
		int id = fr->label_ids.u8[i], inst = fr->instance_ids.u16[i];
		const struct cityscapes_label *l = cityscapes_by_id(id);
		bool drawn = false;

		for (int k = 0; k < NDRAWN; k++)
			drawn |= drawn_ids[k] == id;
		if (!drawn || !l)
			fail_msg("pixel %zu: labelId %d is not one the generator draws", i, id);
		if (fr->train_ids.u8[i] != l->train_id)
			fail_msg("pixel %zu: trainId %d for labelId %d (table: %d)", i,
				 fr->train_ids.u8[i], id, l->train_id);
		if (memcmp(fr->color.rgb + 3 * i, l->color, 3) != 0)
			fail_msg("pixel %zu: colour is not the official colour of labelId %d",
				 i, id);
		/* cars and people are always instances, the rest their plain labelId */
		if (l->has_instances ? inst < 1000 || inst / 1000 != id : inst != id)
			fail_msg("pixel %zu: instanceId %d for labelId %d", i, inst, id);
	}
}

static void test_annotations_consistent(void **state)
{
	(void)state;
	for (int i = 0; i < 12; i++) {
		struct synth_frame fr;

		synth_render(&fr, 192, 96, 11, i % 2, i);
		check_frame_consistent(&fr);
		synth_frame_free(&fr);
	}
}

/*
 * Over a small set: each drawn class is present, in enough frames, with a pixel share
 * in a range that keeps it learnable and the scenes street-like.
 */
static void test_class_shares(void **state)
{
	static const struct {
		int id;
		double lo, hi;  /* share of all pixels, percent */
		int min_frames; /* of 24 */
	} want[] = {
		{1, 1, 10, 12},     {7, 15, 45, 24},   {8, 2, 15, 20},    {11, 8, 40, 20},
		{12, 0.25, 5, 8},   {13, 0.25, 5, 8},  {17, 1, 6, 20},    {19, 0.15, 2, 12},
		{20, 0.4, 4, 16},   {21, 5, 35, 20},   {22, 0.5, 8, 10},  {23, 1, 20, 18},
		{24, 0.5, 5, 16},   {26, 3, 25, 18},
	};
	uint64_t pixels[CITYSCAPES_NUM_IDS] = {0}, total = 0;
	int frames[CITYSCAPES_NUM_IDS] = {0};

	(void)state;
	for (int i = 0; i < 24; i++) {
		struct synth_frame fr;
		uint64_t count[CITYSCAPES_NUM_IDS] = {0};
		size_t n = 256 * 128;

		synth_render(&fr, 256, 128, 3, SYNTH_TRAIN, i);
		for (size_t p = 0; p < n; p++)
			count[fr.label_ids.u8[p]]++;
		for (int id = 0; id < CITYSCAPES_NUM_IDS; id++) {
			pixels[id] += count[id];
			frames[id] += count[id] > 0;
		}
		total += n;
		synth_frame_free(&fr);
	}
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		double share = 100.0 * (double)pixels[want[k].id] / (double)total;

		if (share < want[k].lo || share > want[k].hi ||
		    frames[want[k].id] < want[k].min_frames)
			fail_msg("labelId %d: %.3f%% of pixels in %d frames, expected %g..%g%% "
				 "in >= %d",
				 want[k].id, share, frames[want[k].id], want[k].lo, want[k].hi,
				 want[k].min_frames);
	}
}

/* ---- files ---- */

static void opts_for(struct synth_options *o, const char *out, int train, int val)
{
	*o = synth_options_default();
	o->out = out;
	o->w = 64;
	o->h = 32;
	o->count[0] = train;
	o->count[1] = val;
	o->seed = 9;
}

/* The sorted names in a folder (excluding . and ..), joined by spaces. */
static void list_dir(const char *dir, char *buf, size_t size)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	buf[0] = '\0';
	if (n < 0)
		fail_msg("cannot list '%s'", dir);
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			if (buf[0])
				strncat(buf, " ", size - strlen(buf) - 1);
			strncat(buf, names[i]->d_name, size - strlen(buf) - 1);
		}
		free(names[i]);
	}
	free(names);
}

/* Bit depth and colour type from a PNG's IHDR. */
static void png_kind(const char *path, int *depth, int *color_type)
{
	unsigned char *buf;
	size_t len;

	assert_int_equal(file_read_all(path, &buf, &len), 0);
	assert_true(len > 26);
	*depth = buf[24];
	*color_type = buf[25];
	free(buf);
}

/* "DIR/REL" into path, REL a printf format with one %d (a frame number). */
static void frame_path(char *path, size_t size, const char *dir, const char *rel, int frame)
{
	char fmt[300];

	snprintf(fmt, sizeof(fmt), "%s/%s", dir, rel);
	snprintf(path, size, fmt, frame);
}

#define TRAIN_GT "gtFine/train/synth/synth_000000_%06d_gtFine_"
#define TRAIN_IMG "leftImg8bit/train/synth/synth_000000_%06d_leftImg8bit.png"

static void test_layout(void **state)
{
	char *dir = tmpdir_create(), path[900], names[4096], want[4096] = "";
	struct synth_options o;
	struct synth_summary s;
	int depth, ct;

	(void)state;
	opts_for(&o, dir, 3, 2);
	assert_int_equal(synth_write_dataset(&o, &s), 0);
	assert_int_equal(s.frames[0], 3);
	assert_int_equal(s.frames[1], 2);
	assert_int_equal(s.files, 25);
	assert_true(s.total_pixels == 5 * 64 * 32);
	snprintf(path, sizeof(path), "%s/leftImg8bit/val/synth", dir);
	list_dir(path, names, sizeof(names));
	assert_string_equal(names, "synth_000000_000000_leftImg8bit.png "
				   "synth_000000_000001_leftImg8bit.png");
	snprintf(path, sizeof(path), "%s/gtFine/val/synth", dir);
	list_dir(path, names, sizeof(names));
	for (int i = 0; i < 2; i++) {
		static const char *const kinds[4] = {"color", "instanceIds", "labelIds",
						     "labelTrainIds"};
		for (int k = 0; k < 4; k++) {
			char one[96];

			snprintf(one, sizeof(one), "%ssynth_000000_%06d_gtFine_%s.png",
				 want[0] ? " " : "", i, kinds[k]);
			strcat(want, one);
		}
	}
	assert_string_equal(names, want);
	/* 16-bit gray instances, 8-bit gray labels, 8-bit RGB photos */
	frame_path(path, sizeof(path), dir, TRAIN_GT "instanceIds.png", 2);
	png_kind(path, &depth, &ct);
	assert_int_equal(depth, 16);
	assert_int_equal(ct, 0);
	frame_path(path, sizeof(path), dir, TRAIN_GT "labelIds.png", 2);
	png_kind(path, &depth, &ct);
	assert_int_equal(depth, 8);
	assert_int_equal(ct, 0);
	frame_path(path, sizeof(path), dir, TRAIN_IMG, 2);
	png_kind(path, &depth, &ct);
	assert_int_equal(depth, 8);
	assert_int_equal(ct, 2);
	tmpdir_remove(dir);
}

/* The files hold the rendered frame, and the Cityscapes discovery finds them. */
static void test_files_and_discovery(void **state)
{
	char *dir = tmpdir_create(), path[900];
	struct synth_options o;
	struct synth_frame fr;
	struct label_image lab;
	struct image img;
	struct dataset d;

	(void)state;
	opts_for(&o, dir, 3, 2);
	assert_int_equal(synth_write_dataset(&o, NULL), 0);
	synth_render(&fr, 64, 32, 9, SYNTH_TRAIN, 2);
	frame_path(path, sizeof(path), dir, TRAIN_IMG, 2);
	assert_int_equal(image_read(path, &img), 0);
	assert_memory_equal(img.rgb, fr.image.rgb, 64 * 32 * 3);
	image_free(&img);
	frame_path(path, sizeof(path), dir, TRAIN_GT "instanceIds.png", 2);
	assert_int_equal(label_read16(path, &lab), 0);
	assert_memory_equal(lab.u16, fr.instance_ids.u16, 64 * 32 * sizeof(uint16_t));
	label_free(&lab);
	assert_int_equal(dataset_open_cityscapes(&d, dir, "train", true), 0);
	assert_int_equal(d.count, 3);
	assert_string_equal(d.samples[2].name, "synth_000000_000002");
	assert_non_null(d.samples[2].instance);
	assert_int_equal(dataset_read(&d, 2, &img, &lab), 0);
	assert_memory_equal(lab.u8, fr.train_ids.u8, 64 * 32);
	image_free(&img);
	label_free(&lab);
	dataset_free(&d);
	assert_int_equal(dataset_open_cityscapes(&d, dir, "val", false), 0);
	assert_int_equal(d.count, 2);
	dataset_free(&d);
	synth_frame_free(&fr);
	tmpdir_remove(dir);
}

/* Writing with one thread and with two gives the same bytes. */
static void test_files_independent_of_threads(void **state)
{
	char *dir = tmpdir_create(), a[700], b[700];
	struct synth_options o;

	(void)state;
	snprintf(a, sizeof(a), "%s/one", dir);
	snprintf(b, sizeof(b), "%s/two", dir);
#ifdef _OPENMP
	omp_set_num_threads(1);
#endif
	opts_for(&o, a, 4, 2);
	assert_int_equal(synth_write_dataset(&o, NULL), 0);
#ifdef _OPENMP
	omp_set_num_threads(2);
#endif
	opts_for(&o, b, 4, 2);
	assert_int_equal(synth_write_dataset(&o, NULL), 0);
	for (int split = 0; split < 2; split++)
		for (int i = 0; i < (split ? 2 : 4); i++) {
			static const char *const files[5] = {
			    "leftImg8bit/%s/synth/synth_000000_%06d_leftImg8bit.png",
			    "gtFine/%s/synth/synth_000000_%06d_gtFine_labelIds.png",
			    "gtFine/%s/synth/synth_000000_%06d_gtFine_labelTrainIds.png",
			    "gtFine/%s/synth/synth_000000_%06d_gtFine_color.png",
			    "gtFine/%s/synth/synth_000000_%06d_gtFine_instanceIds.png",
			};
			for (int f = 0; f < 5; f++) {
				char rel[200], pa[1000], pb[1000];
				unsigned char *da, *db;
				size_t la, lb;

				snprintf(rel, sizeof(rel), files[f], split ? "val" : "train",
					 i);
				snprintf(pa, sizeof(pa), "%s/%s", a, rel);
				snprintf(pb, sizeof(pb), "%s/%s", b, rel);
				assert_int_equal(file_read_all(pa, &da, &la), 0);
				assert_int_equal(file_read_all(pb, &db, &lb), 0);
				assert_int_equal(la, lb);
				assert_memory_equal(da, db, la);
				free(da);
				free(db);
			}
		}
	tmpdir_remove(dir);
}

static bool exists(const char *dir, const char *rel)
{
	char path[900];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return stat(path, &st) == 0;
}

static void touch(const char *dir, const char *rel)
{
	char path[900];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
}

static void test_force(void **state)
{
	char *dir = tmpdir_create();
	struct synth_options o;
	struct synth_summary s;

	(void)state;
	touch(dir, "notes.txt");
	opts_for(&o, dir, 4, 1);
	assert_int_equal(synth_write_dataset(&o, &s), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "not empty"));
	assert_non_null(strstr(kn_errmsg(), dir));
	assert_false(exists(dir, "leftImg8bit"));
	o.force = true;
	assert_int_equal(synth_write_dataset(&o, &s), 0);
	assert_int_equal(s.removed, 0);
	assert_true(exists(dir, "leftImg8bit/train/synth/synth_000000_000003_leftImg8bit.png"));
	/* fewer frames with force: the old frames beyond the counts go, other files stay */
	touch(dir, "gtFine/train/synth/mine.png");
	o.count[0] = 2;
	o.count[1] = 0;
	assert_int_equal(synth_write_dataset(&o, &s), 0);
	assert_int_equal(s.removed, 2 * 5 + 5);
	assert_true(exists(dir, "leftImg8bit/train/synth/synth_000000_000001_leftImg8bit.png"));
	assert_false(
	    exists(dir, "leftImg8bit/train/synth/synth_000000_000002_leftImg8bit.png"));
	assert_false(exists(dir, "gtFine/train/synth/synth_000000_000003_gtFine_color.png"));
	assert_false(exists(dir, "gtFine/val/synth/synth_000000_000000_gtFine_labelIds.png"));
	assert_true(exists(dir, "gtFine/train/synth/mine.png"));
	assert_true(exists(dir, "notes.txt"));
	/* without force the now non-empty folder is refused again */
	o.force = false;
	assert_int_equal(synth_write_dataset(&o, NULL), KN_EINVAL);
	tmpdir_remove(dir);
}

static void test_bad_options(void **state)
{
	char *dir = tmpdir_create(), out[700];
	struct synth_options o;

	(void)state;
	opts_for(&o, dir, 1, 1);
	o.w = SYNTH_MIN_SIDE - 1;
	assert_int_equal(synth_write_dataset(&o, NULL), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "size"));
	o.w = 64;
	o.h = SYNTH_MAX_SIDE + 1;
	assert_int_equal(synth_write_dataset(&o, NULL), KN_EINVAL);
	o.h = 32;
	o.count[1] = -1;
	assert_int_equal(synth_write_dataset(&o, NULL), KN_EINVAL);
	/* a regular file where a folder must go: refused, naming the path */
	touch(dir, "file");
	snprintf(out, sizeof(out), "%s/file", dir);
	opts_for(&o, out, 1, 1);
	assert_true(synth_write_dataset(&o, NULL) < 0);
	assert_non_null(strstr(kn_errmsg(), "file"));
	snprintf(out, sizeof(out), "%s/file/sub", dir);
	opts_for(&o, out, 1, 1);
	o.force = true;
	assert_true(synth_write_dataset(&o, NULL) < 0);
	assert_non_null(strstr(kn_errmsg(), "file/sub"));
	tmpdir_remove(dir);
}

/* Runs knseg with args; its exit status, after checking that each of want[] shows. */
static int synth_run(const char *dir, const char *args, const char *want0, const char *want1)
{
	const char *want[2] = {want0, want1};
	char *out, *err;
	int rc = run_knseg(dir, args, &out, &err);

	for (int i = 0; i < 2; i++)
		if (want[i] && !strstr(out, want[i]) && !strstr(err, want[i]))
			fail_msg("knseg %s: no '%s' in:\n%s%s", args, want[i], out, err);
	free(out);
	free(err);
	return rc;
}

static void test_command(void **state)
{
	char *dir = tmpdir_create(), args[1500];

	(void)state;
	assert_int_equal(synth_run(dir, "synth --help", "--force", "--seed"), 0);
	assert_int_equal(synth_run(dir, "synth --train 1", "--out", NULL), 2);
	snprintf(args, sizeof(args), "synth --out '%s/a' --size 64", dir);
	assert_int_equal(synth_run(dir, args, "WxH", NULL), 2);
	snprintf(args, sizeof(args), "synth --out '%s/a' --size 16x16", dir);
	assert_int_equal(synth_run(dir, args, "--size", NULL), 2);
	snprintf(args, sizeof(args), "synth --out '%s/a' --seed -3", dir);
	assert_int_equal(synth_run(dir, args, "--seed", NULL), 2);
	assert_false(exists(dir, "a"));
	/* a regular file where the output folder would go */
	touch(dir, "plain");
	snprintf(args, sizeof(args), "synth --out '%s/plain/x' --train 1 --val 0 --size 64x32",
		 dir);
	assert_int_equal(synth_run(dir, args, "plain/x", NULL), 1);
	snprintf(args, sizeof(args), "synth --out '%s/a' --train 2 --val 1 --size 64x32", dir);
	assert_int_equal(synth_run(dir, args, "wrote 2 train and 1 val frames", "road"), 0);
	assert_true(exists(dir, "a/gtFine/val/synth/synth_000000_000000_gtFine_color.png"));
	assert_int_equal(synth_run(dir, args, "not empty", NULL), 1);
	snprintf(args, sizeof(args), "synth --force --out '%s/a' --train 1 --val 1 --size 64x32",
		 dir);
	assert_int_equal(synth_run(dir, args, "removed 5 files", NULL), 0);
	assert_false(exists(dir, "a/gtFine/train/synth/synth_000000_000001_gtFine_color.png"));
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_deterministic),
		cmocka_unit_test(test_annotations_consistent),
		cmocka_unit_test(test_class_shares),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_files_and_discovery),
		cmocka_unit_test(test_files_independent_of_threads),
		cmocka_unit_test(test_force),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
