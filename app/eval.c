/*
 * knseg eval: a checkpoint's scores on a dataset split (confusion matrix over the whole
 * split; per-class IoU and accuracy, mIoU, mAcc, aAcc; for Cityscapes the official rules
 * with category and instance-weighted scores), as a terminal table and optional JSON,
 * CSV, Markdown and confusion heat-map files. Under mpirun (knseg-mpi) the ranks share
 * the images (split_eval.h) and rank 0 alone prints and writes the report.
 */
#include "app/commands.h"
#include "app/dist.h"
#include "app/knseg.h"
#include "app/options.h"
#include "app/split_eval.h"
#include "io/error.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct eval_cmd {
	const char *checkpoint, *kn_eval;
	struct dataset_spec spec;
	struct knseg_options seg;
	struct report_outputs out;
	int threads;
	bool plain;
};

#define F(m) offsetof(struct eval_cmd, m)
static const struct opt eval_opts[] = {
	{"checkpoint", OPT_STRING, F(checkpoint), .required = true, .arg = "FILE",
	 .help = "the knseg checkpoint to score"},
	{.kind = OPT_SECTION, .help = "dataset:"},
	DATASET_OPTS(struct eval_cmd, spec, "val"),
	{.kind = OPT_SECTION, .help = "inference:"},
	SEG_OPTS(struct eval_cmd, seg),
	KN_EVAL_OPT(struct eval_cmd, kn_eval),
	{.kind = OPT_SECTION, .help = "output:"},
	REPORT_OPTS(struct eval_cmd, out),
	{"plain", OPT_FLAG, F(plain), .help = "plain confusion-matrix scores even for Cityscapes"},
	THREADS_OPT(struct eval_cmd, threads),
	{0},
};
#undef F

static const struct opt_command eval_command = {
	"eval",
	"usage: knseg eval --checkpoint FILE --root DIR [dataset options] [options]\n\n"
	"Scores a checkpoint on a labelled split: per-class IoU and accuracy, mIoU, mAcc,\n"
	"aAcc, and for Cityscapes the official rules with category and instance-weighted\n"
	"scores.\n",
	eval_opts,
	false,
};

static int parse(int argc, char **argv, struct eval_cmd *o)
{
	int rc = opt_parse(&eval_command, argc, argv, o, NULL);

	if (!rc)
		rc = seg_finish("eval", &o->seg);
	return rc ? rc : report_outputs_check("eval", &o->out);
}

/* The checkpoint must predict the dataset's classes. */
static int check_classes(struct knseg *ks, const struct dataset *d)
{
	if (knseg_num_classes(ks) != d->classes.num_classes)
		return kn_error(KN_EMISMATCH, "the checkpoint predicts %d classes, the dataset has %d",
				knseg_num_classes(ks), d->classes.num_classes);
	return 0;
}

/*
 * Opens the checkpoint into *ks and the dataset into d. Returns 0, or a negative code
 * with a message; *usage tells a bad option value from a bad file.
 */
static int open_inputs(const struct eval_cmd *o, struct knseg **ks, struct dataset *d,
		       bool *usage)
{
	int err;

	*usage = false;
	if ((err = knseg_open(ks, o->checkpoint)) < 0)
		return err;
	if (o->kn_eval && (err = knseg_set_kn_eval(*ks, o->kn_eval)) < 0) {
		*usage = true;
		return err;
	}
	if ((err = dataset_open_spec(d, &o->spec, NULL)) < 0)
		return err;
	return check_classes(*ks, d);
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
	bool usage;
	int rc;

	if ((rc = dist_same_command("eval", argc, argv)) || (rc = parse(argc, argv, &o)))
		return rc < 0 ? 0 : rc;
	if (!o.threads)
		o.threads = dist_default_threads(); /* several ranks share a machine's cores */
	if (o.threads)
		knseg_set_threads(o.threads);
	/* A rank that cannot open what the others can (a file missing on its machine)
	 * must not leave them waiting in the evaluation's collectives. */
	if (evaluate_agree(open_inputs(&o, &ks, &d, &usage)) < 0) {
		rc = usage ? usage_error("eval", "%s", kn_errmsg()) : die("%s", kn_errmsg());
		goto out;
	}
	if (dist_size() > 1 && dist_rank() == 0)
		fprintf(stderr, "eval: %d ranks share the %d labelled images\n", dist_size(),
			dataset_labelled(&d));
	mctx.ks = ks;
	mctx.seg = &o.seg;
	eval_source_model(&src, &mctx);
	eo.official = !o.plain;
	eo.progress = !o.out.quiet;
	eo.name = o.spec.layout ? o.spec.layout : "cityscapes";
	rc = evaluate_dataset(&d, &src, &eo, &r);
	if (!rc) {
		/* Every rank has the report; one writes it. */
		if (dist_rank() == 0)
			rc = evaluate_write_reports(&r, &o.out);
		report_free(&r);
	}
	rc = rc < 0 ? die("%s", kn_errmsg()) : 0;
out:
	knseg_close(ks);
	dataset_free(&d);
	return rc;
}
