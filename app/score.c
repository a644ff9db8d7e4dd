/*
 * knseg score: evaluates existing prediction PNGs against a dataset split with the same
 * code as knseg eval, without a model.
 *
 * Finding predictions: every PNG below --pred DIR (recursively) is indexed by file name.
 * Sample NAME (Cityscapes CITY_SEQ_FRAME, or a list image's stem) takes the file whose
 * name starts with NAME followed by '_' or '.', as the official Cityscapes evaluation
 * matches "*CITY_SEQ_FRAME*.png"; when several do, the one whose suffix matches the
 * prediction format wins (_labelIds or _trainIds), and otherwise it is an error.
 * Values: Cityscapes labelIds by default for the Cityscapes layout with its 19 classes
 * (what the official evaluation reads; knseg predict --format labelid writes them),
 * class indices otherwise; --pred-format says which.
 */
#include "app/args.h"
#include "app/commands.h"
#include "app/evaluate.h"
#include "app/walk.h"
#include "io/alloc.h"
#include "io/error.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum pred_format { PRED_AUTO, PRED_TRAINID, PRED_LABELID };

struct score_ctx {
	const struct dataset *d;
	struct walk_list files;
	enum pred_format format;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knseg score --pred DIR --root DIR [dataset options] [options]\n\n"
		"Scores prediction PNGs under DIR against a labelled split (default val).\n\n"
		DATASET_HELP
		"  --pred-format F   labelid | trainid (default: labelid for Cityscapes, class\n"
		"                    indices otherwise)\n"
		"  --json F, --csv F, --md F, --heatmap F   also write these reports\n"
		"  --plain           plain confusion-matrix scores even for Cityscapes\n"
		"  --quiet           no table on the terminal\n");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static bool name_matches(const char *file, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(file, name, n) && (file[n] == '_' || file[n] == '.');
}

/* The prediction file of sample name, or NULL with a message. */
static const char *find_prediction(const struct score_ctx *c, const char *name)
{
	const char *found = NULL, *suffix = c->format == PRED_TRAINID ? "_trainIds.png"
							: "_labelIds.png";
	int matches = 0;

	for (size_t i = 0; i < c->files.count; i++) {
		const char *b = base_name(c->files.items[i].path);
		size_t len = strlen(b);

		if (len < 4 || strcmp(b + len - 4, ".png") || !name_matches(b, name))
			continue;
		if (++matches == 1 || (len >= strlen(suffix) &&
				       !strcmp(b + len - strlen(suffix), suffix)))
			found = c->files.items[i].path;
	}
	if (matches > 1 && (!found || strcmp(found + strlen(found) - strlen(suffix), suffix))) {
		kn_error(KN_EINVAL, "several predictions for '%s' and none ends in %s", name, suffix);
		return NULL;
	}
	if (!found)
		kn_error(KN_EIO, "no prediction for '%s' (no %s_*.png under the folder)", name, name);
	return found;
}

static int predict_file(void *ctx, int i, const struct image *img, struct label_image *pred,
			bool *label_ids)
{
	struct score_ctx *c = ctx;
	const char *path = find_prediction(c, c->d->samples[i].name);

	(void)img;
	if (!path)
		return KN_EIO;
	*label_ids = c->format == PRED_LABELID;
	return label_read(path, pred);
}

static int parse(int argc, char **argv, struct dataset_spec *spec, const char **pred,
		 enum pred_format *fmt, const char *out[4], bool *plain, bool *quiet)
{
	static const struct option opts[] = {
		DATASET_OPTIONS,
		{"pred", required_argument, 0, 'p'}, {"pred-format", required_argument, 0, 'f'},
		{"json", required_argument, 0, 'j'}, {"csv", required_argument, 0, 'v'},
		{"md", required_argument, 0, 'd'},   {"heatmap", required_argument, 0, 'H'},
		{"plain", no_argument, 0, 'P'},      {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (dataset_option(c, optarg, spec))
			continue;
		switch (c) {
		case 'p': *pred = optarg; break;
		case 'f':
			if (strcmp(optarg, "labelid") && strcmp(optarg, "trainid"))
				return usage_error("score", "--pred-format '%s' is not labelid or trainid",
						   optarg);
			*fmt = strcmp(optarg, "labelid") ? PRED_TRAINID : PRED_LABELID;
			break;
		case 'j': out[0] = optarg; break;
		case 'v': out[1] = optarg; break;
		case 'd': out[2] = optarg; break;
		case 'H': out[3] = optarg; break;
		case 'P': *plain = true; break;
		case 'q': *quiet = true; break;
		case 'h': usage(stdout); return -1;
		default: return usage_error("score", "unknown option");
		}
	}
	if (optind < argc)
		return usage_error("score", "unexpected argument '%s'", argv[optind]);
	if (!*pred)
		return usage_error("score", "--pred is required");
	if (!spec->split)
		spec->split = "val";
	return 0;
}

int cmd_score(int argc, char **argv)
{
	struct dataset_spec spec = {0};
	struct dataset d = {0};
	struct score_ctx ctx = {0};
	struct eval_source src;
	struct eval_options eo = {true, true, NULL};
	const char *pred = NULL, *out[4] = {NULL, NULL, NULL, NULL};
	enum pred_format fmt = PRED_AUTO;
	bool plain = false, quiet = false;
	struct report r;
	char *inputs[1];
	int rc = parse(argc, argv, &spec, &pred, &fmt, out, &plain, &quiet);

	if (rc)
		return rc < 0 ? 0 : rc;
	inputs[0] = (char *)pred;
	if (dataset_open_spec(&d, &spec, NULL) < 0 || walk_inputs(inputs, 1, NULL, &ctx.files) < 0) {
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
		fmt = !plain && evaluate_is_cityscapes(&d) ? PRED_LABELID : PRED_TRAINID;
	ctx.d = &d;
	ctx.format = fmt;
	src.predict = predict_file;
	src.needs_image = false;
	src.ctx = &ctx;
	eo.official = !plain;
	eo.progress = !quiet;
	eo.name = spec.layout ? spec.layout : "cityscapes";
	rc = evaluate_dataset(&d, &src, &eo, &r);
	if (!rc) {
		rc = evaluate_write_reports(&r, out[0], out[1], out[2], out[3], quiet);
		report_free(&r);
	}
	walk_list_free(&ctx.files);
	dataset_free(&d);
	return rc < 0 ? die("%s", kn_errmsg()) : 0;
}
