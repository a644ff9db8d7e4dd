/*
 * knseg predict: segment images with a checkpoint and write masks.
 *
 * Inputs are image files (PNG or JPEG, recognized by content) and folders, searched
 * recursively for *.png, *.jpg and *.jpeg. An output mirrors its input's name: a file
 * given directly lands in OUT/<stem>_<kind>.png; a file found in a folder D at D/a/b.jpg
 * lands in OUT/a/b_<kind>.png; names that differ only in the extension keep it
 * (OUT/b.jpg_<kind>.png), and an input whose outputs would still take an earlier
 * input's names fails (see walk.h). Kinds (--format, comma-separated, repeats allowed):
 *   trainid  8-bit PNG of class indices
 *   labelid  8-bit PNG of Cityscapes labelIds (19-class models; never 255), named so
 *            that the official evaluation finds it (CITY_SEQ_FRAME*.png)
 *   color    palette PNG with the class colours
 *   overlay  the colours blended over the image (--alpha)
 * and with --save-logits the raw logits as OUT/.../<stem>_logits.npy (K, H, W).
 * An existing output is an error unless --force; an output never replaces an input. The
 * --out folder is left out of the walk, so outputs are not read back. A bad input is
 * reported with its name and the others are still processed; the exit status is 1 if
 * any failed.
 */
#include "app/commands.h"
#include "app/knseg.h"
#include "app/options.h"
#include "app/walk.h"
#include "datasets/cityscapes_labels.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/image.h"
#include "io/label.h"
#include "io/npy.h"
#include "io/pngrows.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* In the order of parse_format's names. */
enum { OUT_TRAINID = 1, OUT_LABELID = 2, OUT_COLOR = 4, OUT_OVERLAY = 8 };

struct predict_opts {
	const char *checkpoint, *out, *kn_eval;
	int formats, threads;
	bool logits, force, quiet;
	double alpha;
	struct knseg_options seg;
	const struct walk_list *inputs;
};

static int parse_format(const char *tok, size_t len, int *out)
{
	static const char *const names[] = {"trainid", "labelid", "color", "overlay"};

	if (!len)
		return usage_error("predict", "--format has an empty entry");
	for (int i = 0; i < 4; i++)
		if (strlen(names[i]) == len && !strncmp(tok, names[i], len)) {
			*out |= 1 << i;
			return 0;
		}
	return usage_error("predict", "unknown format '%.*s' (trainid, labelid, color, overlay)",
			   (int)len, tok);
}

/* A comma-separated list of kinds into an int of OUT_* bits; repeats are the same as one. */
static int parse_formats(const char *cmd, const struct opt *opt, const char *s, void *field)
{
	int rc, *out = field;

	(void)cmd;
	(void)opt;
	*out = 0;
	for (;;) {
		size_t len = strcspn(s, ",");

		if ((rc = parse_format(s, len, out)))
			return rc;
		if (!s[len])
			return 0;
		s += len + 1;
	}
}

#define F(m) offsetof(struct predict_opts, m)
static const struct opt predict_opts_table[] = {
	{"checkpoint", OPT_STRING, F(checkpoint), .required = true, .arg = "FILE",
	 .help = "the knseg checkpoint"},
	{"out", OPT_STRING, F(out), .required = true, .arg = "DIR",
	 .help = "the folder of the masks, created when missing"},
	{"format", OPT_CUSTOM, F(formats), .parse = parse_formats, .def = "trainid,color",
	 .arg = "LIST", .help = "trainid,labelid,color,overlay"},
	{"save-logits", OPT_FLAG, F(logits), .help = "also write <stem>_logits.npy, float32 (K, H, W)"},
	{"alpha", OPT_DOUBLE, F(alpha), .lo = 0, .hi = 1, .def = "0.5", .arg = "A",
	 .help = "overlay opacity of the colours"},
	{"force", OPT_FLAG, F(force), .help = "overwrite existing outputs"},
	{"quiet", OPT_FLAG, F(quiet), .help = "print only errors and the summary"},
	THREADS_OPT(struct predict_opts, threads),
	{.kind = OPT_SECTION, .help = "inference:"},
	SEG_OPTS(struct predict_opts, seg),
	KN_EVAL_OPT(struct predict_opts, kn_eval),
	{0},
};
#undef F

static const struct opt_command predict_command = {
	"predict",
	"usage: knseg predict --checkpoint FILE --out DIR [options] INPUT...\n\n"
	"Segments images (files, or folders searched recursively for .png/.jpg/.jpeg)\n"
	"and writes masks under DIR, mirroring the input names.\n",
	predict_opts_table,
	true,
};

/* The options, then *first: the index of the first INPUT. */
static int parse(int argc, char **argv, struct predict_opts *o, int *first)
{
	int rc = opt_parse(&predict_command, argc, argv, o, first);

	if (!rc)
		rc = seg_finish("predict", &o->seg);
	if (!rc && *first == argc)
		rc = usage_error("predict", "no input images");
	return rc;
}

/*
 * OUT/<stem>_<kind>.<ext>, creating the folders; refuses an existing file, and with
 * --force still one that is an input.
 */
static int output_path(const struct predict_opts *o, const char *stem, const char *kind,
		       const char *ext, char *path, size_t size)
{
	struct stat st;

	if ((size_t)snprintf(path, size, "%s/%s_%s.%s", o->out, stem, kind, ext) >= size)
		return kn_error(KN_EINVAL, "output path for '%s' is too long", stem);
	if (make_parent_dirs(path) < 0)
		return KN_EIO;
	if (stat(path, &st) != 0)
		return 0;
	if (!o->force)
		return kn_error(KN_EIO, "'%s' exists (use --force to overwrite)", path);
	if (walk_find_file(o->inputs, st.st_dev, st.st_ino))
		return kn_error(KN_EIO, "'%s' is one of the inputs; not overwriting it", path);
	return 0;
}

static void colorize(struct knseg *ks, const uint8_t *labels, size_t n, uint8_t *rgb,
		     const uint8_t *under, double alpha)
{
	uint8_t table[256][3];
	int k = knseg_num_classes(ks);

	for (int i = 0; i < k; i++)
		knseg_class_color(ks, i, table[i]);
	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < 3; c++) {
			double v = table[labels[i]][c];

			if (under)
				v = alpha * v + (1 - alpha) * under[3 * i + c];
			rgb[3 * i + c] = (uint8_t)(v + 0.5);
		}
}

static int write_outputs(const struct predict_opts *o, struct knseg *ks,
			 const struct image *img, const uint8_t *labels, const char *stem)
{
	size_t n = (size_t)img->w * img->h;
	struct label_image lab = {img->w, img->h, 8, (uint8_t *)labels, NULL};
	char path[4096];
	int err = 0;

	if (!err && (o->formats & OUT_TRAINID) &&
	    !(err = output_path(o, stem, "trainIds", "png", path, sizeof(path))))
		err = label_write_png(path, &lab);
	if (!err && (o->formats & OUT_LABELID) &&
	    !(err = output_path(o, stem, "labelIds", "png", path, sizeof(path)))) {
		uint8_t *ids = kn_try_malloc(n, 1, "the labelIds");

		if (!ids)
			return KN_ENOMEM;
		for (size_t i = 0; i < n; i++)
			ids[i] = (uint8_t)cityscapes_by_train_id(labels[i])->id;
		lab.u8 = ids;
		err = label_write_png(path, &lab);
		lab.u8 = (uint8_t *)labels;
		free(ids);
	}
	if (!err && (o->formats & OUT_COLOR) &&
	    !(err = output_path(o, stem, "color", "png", path, sizeof(path)))) {
		uint8_t palette[256 * 3];

		for (int i = 0; i < knseg_num_classes(ks); i++)
			knseg_class_color(ks, i, palette + 3 * i);
		err = label_write_palette_png(path, &lab, palette, knseg_num_classes(ks));
	}
	if (!err && (o->formats & OUT_OVERLAY) &&
	    !(err = output_path(o, stem, "overlay", "jpg", path, sizeof(path)))) {
		struct image ov = {img->w, img->h, kn_try_malloc(n, 3, "the overlay")};

		if (!ov.rgb)
			return KN_ENOMEM;
		colorize(ks, labels, n, ov.rgb, img->rgb, o->alpha);
		err = image_write_jpeg(path, &ov, 92);
		image_free(&ov);
	}
	return err;
}

static int read_png_rows(void *ctx, uint8_t *rgb, int n)
{
	return png_rows_read(ctx, rgb, n);
}

/* True when file starts as a PNG does. */
static bool is_png(const char *file)
{
	unsigned char sig[8];
	FILE *f = fopen(file, "rb");
	bool png = f && fread(sig, 1, 8, f) == 8 && !memcmp(sig, pngio_signature, 8);

	if (f)
		fclose(f);
	return png;
}

/*
 * With --tile, a non-interlaced PNG whose outputs need no pixels (not overlay, not
 * --save-logits) is read in bands of rows: only the labels are whole. 1 when it was
 * done (or failed: err), 0 when file takes the whole-image path.
 */
static int predict_png_rows(const struct predict_opts *o, struct knseg *ks, const char *file,
			    const char *stem, int *err)
{
	struct png_rows r;
	struct image img = {0};
	uint8_t *labels;

	if (o->seg.mode != KNSEG_TILE || (o->formats & OUT_OVERLAY) || o->logits || !is_png(file))
		return 0;
	if ((*err = png_rows_open(&r, file)) < 0) {
		/* An interlaced PNG is read whole; other errors are the file's. */
		return *err != KN_EINVAL;
	}
	labels = kn_try_malloc((size_t)r.w * r.h, 1, "the labels");
	*err = labels ? knseg_segment_rows(ks, read_png_rows, &r, r.w, r.h, &o->seg, labels, NULL)
		      : KN_ENOMEM;
	if (*err)
		kn_error_prefix(*err, "'%s'", file);
	img.w = r.w;
	img.h = r.h;
	png_rows_close(&r);
	if (!*err && (*err = write_outputs(o, ks, &img, labels, stem)) == KN_ENOMEM)
		kn_error_prefix(*err, "'%s'", file);
	free(labels);
	return 1;
}

static int predict_one(const struct predict_opts *o, struct knseg *ks, const char *file,
		       const char *stem)
{
	struct image img;
	uint8_t *labels;
	int err;

	if (predict_png_rows(o, ks, file, stem, &err))
		return err;
	if ((err = image_read(file, &img)))
		return err;
	labels = kn_try_malloc((size_t)img.w * img.h, 1, "the labels");
	if (!labels) {
		image_free(&img);
		return kn_error_prefix(KN_ENOMEM, "'%s'", file);
	}
	err = knseg_segment(ks, img.rgb, img.w, img.h, &o->seg, labels, NULL);
	if (err)
		kn_error_prefix(err, "'%s'", file);
	if (!err && (err = write_outputs(o, ks, &img, labels, stem)) == KN_ENOMEM)
		kn_error_prefix(err, "'%s'", file);
	if (!err && o->logits) {
		int k = knseg_num_classes(ks);
		size_t shape[3] = {(size_t)k, (size_t)img.h, (size_t)img.w};
		float *lg = kn_try_malloc(shape[0] * shape[1] * shape[2], sizeof(float), "the logits");
		char path[4096];

		err = lg ? knseg_logits(ks, img.rgb, img.w, img.h, lg) : KN_ENOMEM;
		if (err)
			kn_error_prefix(err, "'%s'", file);
		if (!err && !(err = output_path(o, stem, "logits", "npy", path, sizeof(path))))
			err = npy_write(path, lg, 3, shape);
		free(lg);
	}
	free(labels);
	image_free(&img);
	return err;
}

/* Predicts every usable input and reports the others; the number that failed. */
static int predict_all(const struct predict_opts *o, struct knseg *ks,
		       const struct walk_list *files)
{
	int failed = 0;

	for (size_t i = 0; i < files->count; i++) {
		const struct walk_item *it = &files->items[i];
		const char *error = it->error;

		if (!error && predict_one(o, ks, it->path, it->stem) < 0)
			error = knseg_errmsg();
		if (error) {
			fputs("knseg predict: ", stderr);
			put_escaped(stderr, error);
			fputc('\n', stderr);
			failed++;
		} else if (!o->quiet) {
			put_escaped(stdout, it->path);
			fputc('\n', stdout);
		}
	}
	printf("predict: %zu image%s, %d failed, outputs in ", files->count,
	       files->count == 1 ? "" : "s", failed);
	put_escaped(stdout, o->out);
	fputc('\n', stdout);
	return failed;
}

int cmd_predict(int argc, char **argv)
{
	struct predict_opts o = {0};
	struct walk_list files = {0};
	struct knseg *ks;
	int rc, failed = 0, first;

	if ((rc = parse(argc, argv, &o, &first)))
		return rc < 0 ? 0 : rc;
	if (o.threads)
		knseg_set_threads(o.threads);
	rc = walk_inputs(argv + first, argc - first, o.out, &files);
	if (rc == KN_EINVAL)
		return usage_error("predict", "%s", kn_errmsg());
	if (rc < 0)
		return die("%s", kn_errmsg());
	walk_name_outputs(&files);
	o.inputs = &files;
	if (knseg_open(&ks, o.checkpoint) < 0) {
		walk_list_free(&files);
		return die("%s", knseg_errmsg());
	}
	if ((o.formats & OUT_LABELID) && knseg_num_classes(ks) != CITYSCAPES_NUM_TRAIN) {
		int k = knseg_num_classes(ks);

		knseg_close(ks);
		walk_list_free(&files);
		return die("--format labelid needs a 19-class Cityscapes model (this one has %d "
			   "classes)", k);
	}
	if (o.kn_eval && knseg_set_kn_eval(ks, o.kn_eval) < 0) {
		knseg_close(ks);
		walk_list_free(&files);
		return usage_error("predict", "%s", knseg_errmsg());
	}
	failed = predict_all(&o, ks, &files);
	knseg_close(ks);
	walk_list_free(&files);
	return failed ? 1 : 0;
}
