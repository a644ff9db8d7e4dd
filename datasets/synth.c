/*
 * Frames of the street-scene generator and the dataset writer. See synth.h.
 *
 * A frame is planned (synth_plan.c), drawn (synth_scene.c, synth_objects.c) onto a
 * canvas of colour, labelIds and instanceIds, and finished into a photo (synth_draw.c).
 * trainIds and the colour image are derived from the labelIds through the official table,
 * so the four annotation files always agree.
 */
#include "datasets/synth.h"
#include "datasets/synth_internal.h"
#include "io/alloc.h"
#include "io/error.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const split_names[2] = {"train", "val"};

/* ---- frames ---- */

static void derive_annotations(struct synth_frame *fr, const struct synth_canvas *cv)
{
	uint8_t train[256], color[256][3];
	size_t n = (size_t)cv->w * (size_t)cv->h;

	memset(train, 255, sizeof(train));
	memset(color, 0, sizeof(color));
	for (int id = 0; id < CITYSCAPES_NUM_IDS; id++) {
		const struct cityscapes_label *l = cityscapes_by_id(id);

		train[id] = (uint8_t)l->train_id;
		memcpy(color[id], l->color, 3);
	}
	label_init(&fr->label_ids, cv->w, cv->h, 8);
	label_init(&fr->train_ids, cv->w, cv->h, 8);
	label_init(&fr->instance_ids, cv->w, cv->h, 16);
	image_init(&fr->color, cv->w, cv->h);
	for (size_t i = 0; i < n; i++) {
		uint8_t id = cv->label[i];

		CHECK(id < CITYSCAPES_NUM_IDS);
		fr->label_ids.u8[i] = id;
		fr->train_ids.u8[i] = train[id];
		fr->instance_ids.u16[i] = cv->inst[i];
		memcpy(fr->color.rgb + 3 * i, color[id], 3);
	}
}

void synth_render(struct synth_frame *fr, int w, int h, uint64_t seed, int split, int index)
{
	struct synth_scene *sc = xmalloc(sizeof(*sc));
	struct synth_canvas cv = {.w = w, .h = h};
	size_t n = (size_t)w * (size_t)h;
	struct rng r;

	CHECK(w >= SYNTH_MIN_SIDE && w <= SYNTH_MAX_SIDE);
	CHECK(h >= SYNTH_MIN_SIDE && h <= SYNTH_MAX_SIDE);
	CHECK((split == SYNTH_TRAIN || split == SYNTH_VAL) && index >= 0);
	rng_init_stream(&r, seed, (uint64_t)split, (uint64_t)index);
	synth_plan(sc, w, h, &r);
	cv.rgb = xmalloc(n * 3 * sizeof(float));
	cv.label = xcalloc(n, 1);
	cv.inst = xcalloc(n, sizeof(uint16_t));
	synth_draw_background(&cv, sc);
	synth_draw_objects(&cv, sc);
	synth_draw_hood(&cv, sc);
	synth_draw_sky(&cv, sc);
	image_init(&fr->image, w, h);
	synth_finish_image(&cv, &sc->finish, fr->image.rgb);
	derive_annotations(fr, &cv);
	free(cv.rgb);
	free(cv.label);
	free(cv.inst);
	free(sc);
}

void synth_frame_free(struct synth_frame *fr)
{
	image_free(&fr->image);
	label_free(&fr->label_ids);
	label_free(&fr->train_ids);
	label_free(&fr->instance_ids);
	image_free(&fr->color);
}

void synth_frame_name(char *buf, size_t size, int index)
{
	snprintf(buf, size, "synth_000000_%06d", index);
}

struct synth_options synth_options_default(void)
{
	struct synth_options o = {
	    .out = NULL,
	    .w = 512,
	    .h = 256,
	    .count = {200, 50},
	    .seed = 1,
	    .force = false,
	};
	return o;
}

/* ---- folders ---- */

/* Creates path and its missing parents. */
static int make_dirs(const char *path)
{
	size_t len = strlen(path);
	char *p = xmalloc(len + 1);
	int rc = 0;

	memcpy(p, path, len + 1);
	for (size_t i = 1; i <= len && rc == 0; i++) {
		struct stat st;

		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0777) != 0 && errno != EEXIST)
			rc = kn_error(KN_EIO, "cannot create folder '%s': %s", p,
				      strerror(errno));
		else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			rc = kn_error(KN_EIO, "cannot create folder '%s': not a folder", p);
		p[i] = path[i];
	}
	free(p);
	return rc;
}

/* The root must be a missing or empty folder, or any folder with force. */
static int check_root(const char *out, bool force)
{
	struct stat st;
	struct dirent *e;
	DIR *d;
	bool empty = true;

	if (stat(out, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		return kn_error(KN_EIO, "cannot use output folder '%s': %s", out,
				strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return kn_error(KN_EINVAL, "output '%s' exists and is not a folder", out);
	if (force)
		return 0;
	if (!(d = opendir(out)))
		return kn_error(KN_EIO, "cannot read folder '%s': %s", out, strerror(errno));
	while (empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	if (!empty)
		return kn_error(
		    KN_EINVAL, "output folder '%s' is not empty (use --force to write into it)",
		    out);
	return 0;
}

/* "OUT/leftImg8bit/SPLIT/synth" (kind 0) or "OUT/gtFine/SPLIT/synth" (kind 1). */
static char *split_dir(const char *out, int kind, int split)
{
	size_t size = strlen(out) + 64;
	char *p = xmalloc(size);

	snprintf(p, size, "%s/%s/%s/synth", out, kind ? "gtFine" : "leftImg8bit",
		 split_names[split]);
	return p;
}

static const char *const gt_suffixes[4] = {
    "gtFine_labelIds.png",
    "gtFine_labelTrainIds.png",
    "gtFine_color.png",
    "gtFine_instanceIds.png",
};

/* The frame number of a file this generator writes into folder kind, or -1. */
static int own_frame(const char *name, int kind)
{
	static const char prefix[] = "synth_000000_";
	size_t plen = sizeof(prefix) - 1;
	int frame = 0;

	if (strncmp(name, prefix, plen) != 0)
		return -1;
	for (int i = 0; i < 6; i++) {
		char ch = name[plen + (size_t)i];

		if (ch < '0' || ch > '9')
			return -1;
		frame = 10 * frame + (ch - '0');
	}
	name += plen + 6;
	if (*name++ != '_')
		return -1;
	if (kind == 0)
		return strcmp(name, "leftImg8bit.png") ? -1 : frame;
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, gt_suffixes[i]))
			return frame;
	return -1;
}

/* Removes this generator's files of frames >= count from folder dir (kind 0 or 1). */
static int remove_stale(const char *dir, int kind, int count, int *removed)
{
	size_t size = strlen(dir) + 300;
	char *path = xmalloc(size);
	struct dirent *e;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d) {
		free(path);
		return 0; /* a folder not made yet holds nothing stale */
	}
	while (rc == 0 && (e = readdir(d))) {
		if (own_frame(e->d_name, kind) < count)
			continue;
		snprintf(path, size, "%s/%s", dir, e->d_name);
		if (unlink(path) != 0)
			rc = kn_error(KN_EIO, "cannot remove '%s': %s", path, strerror(errno));
		else
			(*removed)++;
	}
	closedir(d);
	free(path);
	return rc;
}

/* ---- writing ---- */

static int write_frame(char *dirs[2][2], int split, int index, const struct synth_frame *fr)
{
	size_t size = strlen(dirs[1][split]) + strlen(dirs[0][split]) + 128;
	char *path = xmalloc(size), name[32];
	int rc;

	synth_frame_name(name, sizeof(name), index);
	snprintf(path, size, "%s/%s_leftImg8bit.png", dirs[0][split], name);
	rc = image_write_png(path, &fr->image);
	snprintf(path, size, "%s/%s_%s", dirs[1][split], name, gt_suffixes[0]);
	if (rc == 0)
		rc = label_write_png(path, &fr->label_ids);
	snprintf(path, size, "%s/%s_%s", dirs[1][split], name, gt_suffixes[1]);
	if (rc == 0)
		rc = label_write_png(path, &fr->train_ids);
	snprintf(path, size, "%s/%s_%s", dirs[1][split], name, gt_suffixes[2]);
	if (rc == 0)
		rc = image_write_png(path, &fr->color);
	snprintf(path, size, "%s/%s_%s", dirs[1][split], name, gt_suffixes[3]);
	if (rc == 0)
		rc = label_write_png(path, &fr->instance_ids);
	free(path);
	return rc;
}

/* The folders, created, with stale frames removed. */
static int prepare(const struct synth_options *o, char *dirs[2][2], int *removed)
{
	int rc = check_root(o->out, o->force);

	for (int kind = 0; kind < 2; kind++)
		for (int split = 0; split < 2; split++) {
			dirs[kind][split] = split_dir(o->out, kind, split);
			if (rc == 0 && o->force)
				rc = remove_stale(dirs[kind][split], kind, o->count[split],
						  removed);
			if (rc == 0)
				rc = make_dirs(dirs[kind][split]);
		}
	return rc;
}

/*
 * Renders and writes every frame, in parallel over frames, with twice as many threads
 * as cores: each atomic write waits for fsync, and the spare threads render meanwhile.
 * A failure stops the remaining frames; the message of the lowest failing frame is
 * kept, since kn_error's buffer belongs to the thread that failed.
 */
static int write_frames(const struct synth_options *o, char *dirs[2][2],
			uint64_t pixels[CITYSCAPES_NUM_IDS])
{
	int total = o->count[0] + o->count[1], failed = 0, failed_at = INT_MAX, code = 0;
	char msg[1024] = "";

#pragma omp parallel num_threads(2 * omp_get_max_threads())
	{
		uint64_t local[CITYSCAPES_NUM_IDS] = {0};

#pragma omp for schedule(dynamic, 1)
		for (int i = 0; i < total; i++) {
			int split = i < o->count[0] ? SYNTH_TRAIN : SYNTH_VAL, stop, rc;
			int index = split == SYNTH_TRAIN ? i : i - o->count[0];
			struct synth_frame fr;

#pragma omp atomic read
			stop = failed;
			if (stop)
				continue;
			synth_render(&fr, o->w, o->h, o->seed, split, index);
			for (size_t p = 0; p < (size_t)o->w * (size_t)o->h; p++)
				local[fr.label_ids.u8[p]]++;
			rc = write_frame(dirs, split, index, &fr);
			synth_frame_free(&fr);
			if (rc == 0)
				continue;
#pragma omp critical(synth_failure)
			{
				if (i < failed_at) {
					failed_at = i;
					code = rc;
					snprintf(msg, sizeof(msg), "%s", kn_errmsg());
				}
#pragma omp atomic write
				failed = 1;
			}
		}
#pragma omp critical(synth_pixels)
		for (int k = 0; k < CITYSCAPES_NUM_IDS; k++)
			pixels[k] += local[k];
	}
	return failed ? kn_error(code, "%s", msg) : 0;
}

int synth_write_dataset(const struct synth_options *o, struct synth_summary *s)
{
	struct synth_summary sum;
	char *dirs[2][2];
	int rc;

	CHECK(o->out != NULL);
	if (o->w < SYNTH_MIN_SIDE || o->w > SYNTH_MAX_SIDE || o->h < SYNTH_MIN_SIDE ||
	    o->h > SYNTH_MAX_SIDE)
		return kn_error(KN_EINVAL, "image size %dx%d is outside %d..%d", o->w, o->h,
				SYNTH_MIN_SIDE, SYNTH_MAX_SIDE);
	for (int split = 0; split < 2; split++)
		if (o->count[split] < 0 || o->count[split] > SYNTH_MAX_FRAMES)
			return kn_error(KN_EINVAL, "%d %s frames is outside 0..%d",
					o->count[split], split_names[split], SYNTH_MAX_FRAMES);
	memset(&sum, 0, sizeof(sum));
	rc = prepare(o, dirs, &sum.removed);
	if (rc == 0)
		rc = write_frames(o, dirs, sum.pixels);
	for (int kind = 0; kind < 2; kind++)
		for (int split = 0; split < 2; split++)
			free(dirs[kind][split]);
	if (rc < 0)
		return rc;
	for (int split = 0; split < 2; split++)
		sum.frames[split] = o->count[split];
	sum.files = 5 * (o->count[0] + o->count[1]);
	sum.total_pixels =
	    (uint64_t)o->w * (uint64_t)o->h * (uint64_t)(o->count[0] + o->count[1]);
	if (s)
		*s = sum;
	return 0;
}
