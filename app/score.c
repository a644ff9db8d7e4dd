/*
 * knseg score: evaluates existing prediction PNGs against a dataset split with the same
 * code as knseg eval, without a model.
 *
 * Finding predictions: every PNG below --pred DIR (recursively) is indexed by file name.
 * Sample NAME (Cityscapes CITY_SEQ_FRAME, or a list image's stem) whose image file is
 * STEM.png takes the file named exactly NAME or STEM followed by the format's suffix
 * (_labelIds.png or _trainIds.png, as knseg predict writes them), or else by a plain
 * .png (as other tools write them). Two such files are an error, and so is a file only
 * in the other format: a prefix never matches (q never takes q_z_trainIds.png).
 * Values: Cityscapes labelIds by default for the Cityscapes layout with its 19 classes
 * (what the official evaluation reads; knseg predict --format labelid writes them),
 * class indices otherwise; --pred-format says which.
 */
#include "app/commands.h"
#include "app/options.h"
#include "app/split_eval.h"
#include "app/walk.h"
#include "datasets/cityscapes_labels.h"
#include "io/alloc.h"
#include "io/error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum pred_format { PRED_AUTO, PRED_TRAINID, PRED_LABELID };

struct score_ctx {
	const struct dataset *d;
	struct walk_list files;
	enum pred_format format;
};

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Whether file name b is exactly stem followed by suffix. */
static bool is_named(const char *b, const char *stem, const char *suffix)
{
	size_t n = strlen(stem);

	return !strncmp(b, stem, n) && !strcmp(b + n, suffix);
}

/* A plain NAME.png never holds NAME's prefix's trainIds or labelIds (q_trainIds.png is q's). */
static bool has_kind_suffix(const char *b)
{
	size_t len = strlen(b);

	return len >= 13 && (!strcmp(b + len - 13, "_trainIds.png") ||
			     !strcmp(b + len - 13, "_labelIds.png"));
}

struct pred_match {
	const char *path[2]; /* the first two files found */
	int count;
};

/* The files named stems[0..nstems) followed by suffix. */
static void match_files(const struct score_ctx *c, const char *const *stems, int nstems,
			const char *suffix, struct pred_match *m)
{
	m->count = 0;
	for (size_t i = 0; i < c->files.count; i++) {
		const char *b = base_name(c->files.items[i].path);

		if (!strcmp(suffix, ".png") && has_kind_suffix(b))
			continue;
		for (int s = 0; s < nstems; s++) {
			if (!is_named(b, stems[s], suffix))
				continue;
			if (m->count < 2)
				m->path[m->count] = c->files.items[i].path;
			m->count++;
			break;
		}
	}
}

/* Why stems have no prediction: none at all, or only one of the other format. */
static void missing_error(const struct score_ctx *c, const char *const *stems, int nstems,
			  const char *name, const char *stem)
{
	bool trainid = c->format == PRED_TRAINID;
	const char *own = trainid ? "trainIds" : "labelIds", *other = trainid ? "labelIds"
									      : "trainIds";
	char suffix[16];
	struct pred_match o;

	snprintf(suffix, sizeof(suffix), "_%s.png", other);
	match_files(c, stems, nstems, suffix, &o);
	if (o.count)
		kn_error(KN_EIO, "no prediction for '%s': '%s' holds %s, not %s (score it with "
			 "--pred-format %s)", name, o.path[0], other, own, trainid ? "labelid"
										 : "trainid");
	else
		kn_error(KN_EIO, "no prediction for '%s' (no %s_%s.png or %s.png under the folder)",
			 name, stem, own, stem);
}

/*
 * The prediction file of sample s, or NULL with a message. Its name is the sample's name
 * or its image's stem followed by the format's suffix, or else by a plain .png.
 */
static const char *find_prediction(const struct score_ctx *c, const struct dataset_sample *s)
{
	const char *const suffixes[2] = {
		c->format == PRED_TRAINID ? "_trainIds.png" : "_labelIds.png", ".png"};
	const char *stems[2] = {s->name, base_name(s->image)};
	char *stem = xmalloc(strlen(stems[1]) + 1), *dot;
	struct pred_match m = {{NULL, NULL}, 0};
	int nstems;

	strcpy(stem, stems[1]);
	dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = '\0';
	stems[1] = stem;
	nstems = strcmp(stems[0], stems[1]) ? 2 : 1;
	for (int k = 0; k < 2 && m.count == 0; k++)
		match_files(c, stems, nstems, suffixes[k], &m);
	if (m.count > 1)
		kn_error(KN_EINVAL, "several predictions for '%s': '%s' and '%s'", s->name,
			 m.path[0], m.path[1]);
	if (m.count == 0)
		missing_error(c, stems, nstems, s->name, stem);
	free(stem);
	return m.count == 1 ? m.path[0] : NULL;
}

static int cmp_sample_name(const void *a, const void *b)
{
	const struct dataset_sample *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Two images of one name would take the same prediction file: an error. */
static int check_unique_names(const struct dataset *d)
{
	const struct dataset_sample **s = xmalloc(((size_t)d->count + 1) * sizeof(*s));
	int err = 0;

	for (int i = 0; i < d->count; i++)
		s[i] = &d->samples[i];
	qsort(s, (size_t)d->count, sizeof(*s), cmp_sample_name);
	for (int i = 1; i < d->count && !err; i++)
		if (!strcmp(s[i - 1]->name, s[i]->name) && strcmp(s[i - 1]->image, s[i]->image))
			err = kn_error(KN_EINVAL, "images '%s' and '%s' are both named '%s': their "
				       "predictions cannot be told apart", s[i - 1]->image,
				       s[i]->image, s[i]->name);
	free(s);
	return err;
}

/* Every value of pred is below limit: a class index, or a Cityscapes labelId. */
static int check_values(const struct label_image *pred, int limit, bool label_ids,
			const char *path)
{
	size_t n = (size_t)pred->w * (size_t)pred->h;

	for (size_t i = 0; i < n; i++)
		if (pred->u8[i] >= limit)
			return kn_error(KN_EMISMATCH, "'%s': prediction %d at (%zu, %zu) is not %s "
					"(0..%d)", path, pred->u8[i], i % (size_t)pred->w,
					i / (size_t)pred->w, label_ids ? "a Cityscapes labelId" :
					"a class index", limit - 1);
	return 0;
}

static int predict_file(void *ctx, int i, const struct image *img, struct label_image *pred,
			bool *label_ids)
{
	struct score_ctx *c = ctx;
	const char *path = find_prediction(c, &c->d->samples[i]);
	int err;

	(void)img;
	if (!path)
		return KN_EIO;
	*label_ids = c->format == PRED_LABELID;
	if ((err = label_read(path, pred)))
		return err;
	err = check_values(pred, *label_ids ? CITYSCAPES_NUM_IDS : c->d->classes.num_classes,
			   *label_ids, path);
	if (err)
		label_free(pred);
	return err;
}

struct score_cmd {
	const char *pred;
	int format; /* enum pred_format */
	struct dataset_spec spec;
	struct report_outputs out;
	bool plain;
};

_Static_assert(PRED_AUTO == 0 && PRED_TRAINID == 1 && PRED_LABELID == 2,
	       "--pred-format's words are in enum pred_format's order");

#define F(m) offsetof(struct score_cmd, m)
static const struct opt score_opts[] = {
	{"pred", OPT_STRING, F(pred), .required = true, .arg = "DIR",
	 .help = "the folder of prediction PNGs (searched recursively)"},
	{"pred-format", OPT_WORD, F(format), .words = "auto|trainid|labelid", .def = "auto",
	 .arg = "F", .help = "labelid | trainid: Cityscapes labelIds or class indices;\n"
	 "auto is labelid for Cityscapes, class indices otherwise"},
	{.kind = OPT_SECTION, .help = "dataset:"},
	DATASET_OPTS(struct score_cmd, spec, "val"),
	{.kind = OPT_SECTION, .help = "output:"},
	REPORT_OPTS(struct score_cmd, out),
	{"plain", OPT_FLAG, F(plain), .help = "plain confusion-matrix scores even for Cityscapes"},
	{0},
};
#undef F

static const struct opt_command score_command = {
	"score",
	"usage: knseg score --pred DIR --root DIR [dataset options] [options]\n\n"
	"Scores prediction PNGs under DIR against a labelled split, with the same rules\n"
	"as knseg eval.\n",
	score_opts,
	false,
};

int cmd_score(int argc, char **argv)
{
	struct score_cmd o = {0};
	struct dataset d = {0};
	struct score_ctx ctx = {0};
	struct eval_source src;
	struct eval_options eo = {true, true, NULL};
	enum pred_format fmt;
	struct report r;
	char *inputs[1];
	int rc = opt_parse(&score_command, argc, argv, &o, NULL);

	if (!rc)
		rc = report_outputs_check("score", &o.out);
	if (rc)
		return rc < 0 ? 0 : rc;
	inputs[0] = (char *)o.pred;
	fmt = (enum pred_format)o.format;
	if (dataset_open_spec(&d, &o.spec, NULL) < 0 || check_unique_names(&d) < 0 ||
	    walk_inputs(inputs, 1, NULL, &ctx.files) < 0) {
		dataset_free(&d);
		return die("%s", kn_errmsg());
	}
	for (size_t i = 0; i < ctx.files.count; i++)
		if (ctx.files.items[i].error) {
			rc = die("%s", ctx.files.items[i].error);
			walk_list_free(&ctx.files);
			dataset_free(&d);
			return rc;
		}
	if (fmt == PRED_AUTO)
		fmt = !o.plain && evaluate_is_cityscapes(&d) ? PRED_LABELID : PRED_TRAINID;
	ctx.d = &d;
	ctx.format = fmt;
	src.predict = predict_file;
	src.needs_image = false;
	src.ctx = &ctx;
	eo.official = !o.plain;
	eo.progress = !o.out.quiet;
	eo.name = o.spec.layout ? o.spec.layout : "cityscapes";
	rc = evaluate_dataset(&d, &src, &eo, &r);
	if (!rc) {
		rc = evaluate_write_reports(&r, &o.out);
		report_free(&r);
	}
	walk_list_free(&ctx.files);
	dataset_free(&d);
	return rc < 0 ? die("%s", kn_errmsg()) : 0;
}
