/*
 * knseg eval: a checkpoint's scores on a dataset split (confusion matrix over the whole
 * split; per-class IoU and accuracy, mIoU, mAcc, aAcc; for Cityscapes the official rules
 * with category and instance-weighted scores), as a terminal table and optional JSON,
 * CSV, Markdown and confusion heat-map files.
 */
#include "app/args.h"
#include "app/commands.h"
#include "app/knseg.h"
#include "app/split_eval.h"
#include "io/error.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

struct eval_cmd {
	const char *checkpoint, *kn_eval, *json, *csv, *md, *heatmap;
	struct dataset_spec spec;
	struct knseg_options seg;
	int threads;
	bool plain, quiet;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knseg eval --checkpoint FILE --root DIR [dataset options] [options]\n\n"
		"Scores a checkpoint on a labelled split (default val).\n\n" DATASET_HELP
		SEG_HELP
		"  --kn-eval MODE    expected | none | sample (default: the checkpoint's)\n"
		"  --json F, --csv F, --md F   also write the report in these formats\n"
		"  --heatmap F       write the row-normalized confusion matrix as a PNG\n"
		"  --plain           plain confusion-matrix scores even for Cityscapes\n"
		"  --threads N       threads (default: all cores)\n"
		"  --quiet           no table on the terminal\n");
}

static int parse(int argc, char **argv, struct eval_cmd *o)
{
	static const struct option opts[] = {
		DATASET_OPTIONS,
		SEG_OPTIONS,
		{"checkpoint", required_argument, 0, 'c'}, {"kn-eval", required_argument, 0, 'k'},
		{"json", required_argument, 0, 'j'},
		{"csv", required_argument, 0, 'v'},        {"md", required_argument, 0, 'd'},
		{"heatmap", required_argument, 0, 'H'},    {"plain", no_argument, 0, 'p'},
		{"threads", required_argument, 0, 't'},    {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
	};
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (dataset_option(c, optarg, &o->spec))
			continue;
		if ((rc = seg_option("eval", c, optarg, &o->seg)) >= 0) {
			if (rc)
				return rc;
			continue;
		}
		rc = 0;
		switch (c) {
		case 'c': o->checkpoint = optarg; break;
		case 'k': o->kn_eval = optarg; break;
		case 'j': o->json = optarg; break;
		case 'v': o->csv = optarg; break;
		case 'd': o->md = optarg; break;
		case 'H': o->heatmap = optarg; break;
		case 'p': o->plain = true; break;
		case 'q': o->quiet = true; break;
		case 't': rc = arg_int("eval", "--threads", optarg, 1, 1024, &o->threads); break;
		case 'h': usage(stdout); return -1;
		default: return usage_error("eval", "unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("eval", "unexpected argument '%s'", argv[optind]);
	if (!o->checkpoint)
		return usage_error("eval", "--checkpoint is required");
	if ((rc = seg_finish("eval", &o->seg)))
		return rc;
	if (!o->spec.split)
		o->spec.split = "val";
	return 0;
}

/* The checkpoint must predict the dataset's classes. */
static int check_classes(struct knseg *ks, const struct dataset *d)
{
	if (knseg_num_classes(ks) != d->classes.num_classes)
		return kn_error(KN_EMISMATCH, "the checkpoint predicts %d classes, the dataset has %d",
				knseg_num_classes(ks), d->classes.num_classes);
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	struct eval_cmd o = {0};
	struct dataset d = {0};
	struct knseg *ks = NULL;
	struct eval_model_ctx mctx;
	struct eval_source src;
	struct eval_options eo = {true, true, NULL};
	struct report r;
	int rc;

	o.seg = seg_defaults();
	if ((rc = parse(argc, argv, &o)))
		return rc < 0 ? 0 : rc;
	if (o.threads)
		knseg_set_threads(o.threads);
	if (knseg_open(&ks, o.checkpoint) < 0)
		return die("%s", knseg_errmsg());
	if (o.kn_eval && knseg_set_kn_eval(ks, o.kn_eval) < 0) {
		knseg_close(ks);
		return usage_error("eval", "%s", knseg_errmsg());
	}
	if (dataset_open_spec(&d, &o.spec, NULL) < 0 || check_classes(ks, &d) < 0) {
		knseg_close(ks);
		dataset_free(&d);
		return die("%s", kn_errmsg());
	}
	mctx.ks = ks;
	mctx.seg = &o.seg;
	eval_source_model(&src, &mctx);
	eo.official = !o.plain;
	eo.progress = !o.quiet;
	eo.name = o.spec.layout ? o.spec.layout : "cityscapes";
	rc = evaluate_dataset(&d, &src, &eo, &r);
	if (!rc) {
		rc = evaluate_write_reports(&r, o.json, o.csv, o.md, o.heatmap, o.quiet);
		report_free(&r);
	}
	knseg_close(ks);
	dataset_free(&d);
	return rc < 0 ? die("%s", kn_errmsg()) : 0;
}
