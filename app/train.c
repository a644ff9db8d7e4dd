/*
 * knseg train: options and set-up. See train.h; the iterations are in train_loop.c.
 */
#include "app/args.h"
#include "app/commands.h"
#include "app/train.h"
#include "datasets/weights.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "nets/gemm.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: knseg train --root DIR --out RUNDIR [dataset options] [options]\n\n"
		"Trains a network on a dataset split (default train) and validates on another\n"
		"(default val). RUNDIR receives config.txt, log.csv, curve.svg, last.safetensors\n"
		"(to resume) and best.safetensors (best validation mIoU).\n\n" DATASET_HELP
		"  --val-split S     validation split, or none (default val; list layout: ROOT/S.txt,\n"
		"                    and no validation by default)\n"
		"  --val-list FILE   validation list (list layout)\n"
		"  --arch A          knresnet18 | knresnet34 | knresnet50 (default knresnet18)\n"
		"  --head H          fcn | fpn (default fpn)\n"
		"  --width W         channel multiplier (default 1.0)\n"
		"  --crop WxH        training crop (default 1024x512)\n"
		"  --batch N         images per iteration (default 2)\n"
		"  --iters N | --epochs N   length of the run (default 1000 iterations)\n"
		"  --optim sgd|adamw (default sgd)   --lr X (default 0.01, adamw 0.001)\n"
		"  --momentum X (0.9)  --nesterov  --weight-decay X (sgd 5e-4, adamw 0.01)\n"
		"  --warmup-iters N  linear warm-up (default 0)   --poly-power X (default 0.9)\n"
		"  --class-weights median|W1,W2,...   weighted loss (default none)\n"
		"  --augment train|none   rescale/crop/flip/photometric, or full images\n"
		"  --scale-range A,B  rescale factors (default 0.5,2.0)\n"
		"  --kn-p P          KN statistics dropout while training (default 0.05)\n"
		"  --kn-eval MODE    statistics at inference: expected | none | sample\n"
		"  --init FILE       start from a whole model   --init-backbone FILE  backbone only\n"
		"  --resume FILE     continue a run from its last.safetensors, with the same\n"
		"                    options (a longer --iters or --epochs may be given)\n"
		"  --val-every N     validate and save every N iterations (default: each epoch)\n"
		"  --log-every N     log every N iterations (default 10)\n"
		"  --stop-after N    save and stop after N iterations of this invocation\n"
		"  --threads N  --loader-threads N (default 1)  --seed S (default 1)\n"
		"  --skip-bad        skip unreadable samples (counted) instead of stopping\n"
		"  --force           start over in a run folder that holds another run (its\n"
		"                    checkpoints, val.json, log.csv and curve.svg are removed)\n");
}

enum {
	O_ARCH = OPT_FIRST_FREE, O_HEAD, O_WIDTH, O_CROP, O_BATCH, O_ITERS, O_EPOCHS, O_OPTIM,
	O_LR, O_MOMENTUM, O_NESTEROV, O_WD, O_WARMUP, O_POWER, O_CW, O_AUGMENT, O_SCALES,
	O_KNP, O_KNEVAL, O_INIT, O_INITB, O_RESUME, O_VALEVERY, O_LOGEVERY, O_STOP, O_THREADS,
	O_LTHREADS, O_SEED, O_SKIP, O_FORCE, O_OUT, O_VALSPLIT, O_VALLIST
};

static int parse_pair(const char *s, double *a, double *b)
{
	char *end;

	*a = strtod(s, &end);
	if (end == s || *end != ',')
		return usage_error("train", "--scale-range '%s' is not A,B", s);
	*b = strtod(end + 1, &end);
	if (*end || !(*a > 0.05 && *a <= *b && *b <= 8))
		return usage_error("train", "--scale-range '%s' must be 0.05 < A <= B <= 8", s);
	return 0;
}

/* An iteration count option (at most 10^8) into an int64_t field. */
static int iteration_count(const char *opt, const char *arg, int lo, int64_t *out)
{
	int i;
	int rc = arg_int("train", opt, arg, lo, 100000000, &i);

	if (!rc)
		*out = i;
	return rc;
}

/* Options with a number: 0, a usage exit status, or -1 when c is not one of them. */
static int parse_value(struct train_opts *o, int c, const char *arg, double *lr, double *wd)
{
	double v;
	int i;

	switch (c) {
	case O_WIDTH:
		if (arg_float("train", "--width", arg, 0.01, 8, &v))
			return 2;
		o->net.width = (float)v;
		return 0;
	case O_CROP: return arg_size("train", "--crop", arg, 32, 8192, &o->crop_w, &o->crop_h);
	case O_BATCH: return arg_int("train", "--batch", arg, 1, 1024, &o->batch);
	case O_ITERS: return iteration_count("--iters", arg, 1, &o->iters);
	case O_EPOCHS: return arg_int("train", "--epochs", arg, 1, 100000, &o->epochs);
	case O_LR: return arg_float("train", "--lr", arg, 0, 10, lr);
	case O_MOMENTUM: return arg_float("train", "--momentum", arg, 0, 0.999, &o->optim.momentum);
	case O_WD: return arg_float("train", "--weight-decay", arg, 0, 1, wd);
	case O_WARMUP: return iteration_count("--warmup-iters", arg, 0, &o->warmup);
	case O_POWER: return arg_float("train", "--poly-power", arg, 0, 10, &o->power);
	case O_KNP:
		if (arg_float("train", "--kn-p", arg, 0, 0.9, &v))
			return 2;
		o->net.p = (float)v;
		return 0;
	case O_VALEVERY: return iteration_count("--val-every", arg, 1, &o->val_every);
	case O_LOGEVERY: return iteration_count("--log-every", arg, 1, &o->log_every);
	case O_STOP: return iteration_count("--stop-after", arg, 1, &o->stop_after);
	case O_THREADS: return arg_int("train", "--threads", arg, 1, 1024, &o->threads);
	case O_LTHREADS:
		return arg_int("train", "--loader-threads", arg, 1, 64, &o->loader_threads);
	case O_SEED:
		if (arg_int("train", "--seed", arg, 0, 2147483647, &i))
			return 2;
		o->seed = (uint64_t)i;
		return 0;
	case O_SCALES: return parse_pair(arg, &o->scale_min, &o->scale_max);
	}
	return -1;
}

static int parse_word(struct train_opts *o, int c, const char *arg)
{
	switch (c) {
	case O_ARCH:
		return net_arch_parse(arg, &o->net.arch) < 0 ? usage_error("train", "%s", kn_errmsg()) : 0;
	case O_HEAD:
		return net_head_parse(arg, &o->net.head) < 0 ? usage_error("train", "%s", kn_errmsg()) : 0;
	case O_OPTIM:
		if (strcmp(arg, "sgd") && strcmp(arg, "adamw"))
			return usage_error("train", "--optim '%s' is not sgd or adamw", arg);
		o->optim.kind = strcmp(arg, "sgd") ? OPTIM_ADAMW : OPTIM_SGD;
		return 0;
	case O_AUGMENT:
		if (strcmp(arg, "train") && strcmp(arg, "none"))
			return usage_error("train", "--augment '%s' is not train or none", arg);
		o->augment = !strcmp(arg, "train");
		return 0;
	case O_KNEVAL:
		return knorm_mode_parse(arg, &o->kn_eval) < 0 ? usage_error("train", "%s", kn_errmsg()) : 0;
	case O_NESTEROV: o->optim.nesterov = true; return 0;
	case O_CW: o->class_weights = arg; return 0;
	case O_INIT: o->init = arg; return 0;
	case O_INITB: o->init_backbone = arg; return 0;
	case O_RESUME: o->resume = arg; return 0;
	case O_SKIP: o->skip_bad = true; return 0;
	case O_FORCE: o->force = true; return 0;
	case O_OUT: o->out = arg; return 0;
	case O_VALSPLIT: o->val_split = arg; return 0;
	case O_VALLIST: o->val_list = arg; return 0;
	}
	return -1;
}

static const struct option train_options[] = {
	DATASET_OPTIONS,
	{"arch", required_argument, 0, O_ARCH},       {"head", required_argument, 0, O_HEAD},
	{"width", required_argument, 0, O_WIDTH},     {"crop", required_argument, 0, O_CROP},
	{"batch", required_argument, 0, O_BATCH},     {"iters", required_argument, 0, O_ITERS},
	{"epochs", required_argument, 0, O_EPOCHS},   {"optim", required_argument, 0, O_OPTIM},
	{"lr", required_argument, 0, O_LR},           {"momentum", required_argument, 0, O_MOMENTUM},
	{"nesterov", no_argument, 0, O_NESTEROV},     {"weight-decay", required_argument, 0, O_WD},
	{"warmup-iters", required_argument, 0, O_WARMUP},
	{"poly-power", required_argument, 0, O_POWER},
	{"class-weights", required_argument, 0, O_CW}, {"augment", required_argument, 0, O_AUGMENT},
	{"scale-range", required_argument, 0, O_SCALES}, {"kn-p", required_argument, 0, O_KNP},
	{"kn-eval", required_argument, 0, O_KNEVAL},  {"init", required_argument, 0, O_INIT},
	{"init-backbone", required_argument, 0, O_INITB},
	{"resume", required_argument, 0, O_RESUME},   {"val-every", required_argument, 0, O_VALEVERY},
	{"log-every", required_argument, 0, O_LOGEVERY}, {"stop-after", required_argument, 0, O_STOP},
	{"threads", required_argument, 0, O_THREADS},
	{"loader-threads", required_argument, 0, O_LTHREADS},
	{"seed", required_argument, 0, O_SEED},       {"skip-bad", no_argument, 0, O_SKIP},
	{"force", no_argument, 0, O_FORCE},           {"out", required_argument, 0, O_OUT},
	{"val-split", required_argument, 0, O_VALSPLIT},
	{"val-list", required_argument, 0, O_VALLIST}, {"help", no_argument, 0, 'h'},
	{0, 0, 0, 0},
};

static void defaults(struct train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->net = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 19);
	o->kn_eval = KNORM_EVAL_EXPECTED;
	o->crop_w = 1024;
	o->crop_h = 512;
	o->batch = 2;
	o->log_every = 10;
	o->power = 0.9;
	o->augment = true;
	o->scale_min = 0.5;
	o->scale_max = 2.0;
	o->loader_threads = 1;
	o->seed = 1;
	o->optim.kind = OPTIM_SGD;
	o->optim.momentum = 0.9;
}

/* The validation options that fit the layout: a list run validates on --val-list FILE,
 * or on ROOT/S.txt for --val-split S; a Cityscapes run on a split. */
static int check_validation(const struct train_opts *o)
{
	bool list = o->data.layout && !strcmp(o->data.layout, "list");
	bool split = o->val_split && strcmp(o->val_split, "none");

	if (!list && o->val_list)
		return usage_error("train", "--val-list is for --dataset list; the cityscapes layout "
				   "validates on --val-split S");
	if (split && o->val_list)
		return usage_error("train", "--val-split and --val-list exclude each other");
	if (list && split && !o->data.root)
		return usage_error("train", "--val-split %s needs --root DIR (it reads DIR/%s.txt) "
				   "with --dataset list; give a validation list with --val-list FILE",
				   o->val_split, o->val_split);
	return 0;
}

static int parse(int argc, char **argv, struct train_opts *o)
{
	double lr = -1, wd = -1;
	int c, rc;

	defaults(o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", train_options, NULL)) != -1) {
		if (dataset_option(c, optarg, &o->data))
			continue;
		if (c == 'h') {
			usage(stdout);
			return -1;
		}
		rc = parse_value(o, c, optarg, &lr, &wd);
		if (rc < 0)
			rc = parse_word(o, c, optarg);
		if (rc < 0)
			return usage_error("train", "unknown option");
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("train", "unexpected argument '%s'", argv[optind]);
	if (!o->out)
		return usage_error("train", "--out RUNDIR is required");
	if (o->init && o->init_backbone)
		return usage_error("train", "--init and --init-backbone exclude each other");
	if (o->iters && o->epochs)
		return usage_error("train", "--iters and --epochs exclude each other");
	if (o->optim.kind == OPTIM_SGD) {
		struct optim_config d = optim_sgd_config(lr >= 0 ? lr : 0.01, o->optim.momentum,
							 wd >= 0 ? wd : 5e-4, o->optim.nesterov);

		if (d.nesterov && d.momentum <= 0)
			return usage_error("train", "--nesterov needs --momentum above 0");
		o->optim = d;
	} else {
		o->optim = optim_adamw_config(lr >= 0 ? lr : 1e-3, wd >= 0 ? wd : 1e-2);
	}
	if (!o->data.split)
		o->data.split = "train";
	return check_validation(o);
}

/* The validation split: the training spec with another split or list. */
static int open_datasets(struct train_run *r)
{
	struct dataset_spec v = r->o.data;
	int err = dataset_open_spec(&r->train, &r->o.data, NULL);

	if (err)
		return err;
	if (r->o.val_split && !strcmp(r->o.val_split, "none"))
		return 0;
	if (v.layout && !strcmp(v.layout, "list")) {
		if (!r->o.val_list && !r->o.val_split)
			return 0; /* a list run validates only when given a validation list */
		v.list = r->o.val_list;
		v.split = r->o.val_split;
	} else {
		v.split = r->o.val_split ? r->o.val_split : "val";
	}
	if ((err = dataset_open_spec(&r->val, &v, NULL)))
		return err;
	r->has_val = dataset_labelled(&r->val) > 0;
	return 0;
}

/* The run's length in iterations and the validation interval, from the epoch's length. */
static int resolve_lengths(struct train_run *r)
{
	int n = r->train.count;

	r->batches_per_epoch = n / r->o.batch;
	if (r->batches_per_epoch == 0)
		return kn_error(KN_EINVAL, "the training split has %d images, fewer than --batch %d",
				n, r->o.batch);
	if (r->o.epochs)
		r->o.iters = (int64_t)r->o.epochs * r->batches_per_epoch;
	if (!r->o.iters)
		r->o.iters = 1000;
	if (!r->o.val_every)
		r->o.val_every = r->batches_per_epoch;
	return 0;
}

static int setup_weights(struct train_run *r)
{
	int k = r->train.classes.num_classes;
	const char *p = r->o.class_weights;

	if (!p)
		return 0;
	r->weights = xmalloc((size_t)k * sizeof(float));
	if (!strcmp(p, "median"))
		return class_weights_median_frequency(&r->train, r->weights);
	for (int i = 0; i < k; i++) {
		char *end;
		double v = strtod(p, &end);

		if (end == p || !(v >= 0 && v <= 1e6) || (i + 1 < k && *end != ',') ||
		    (i + 1 == k && *end))
			return kn_error(KN_EINVAL, "--class-weights needs %d non-negative numbers "
					"separated by commas", k);
		r->weights[i] = (float)v;
		p = end + 1;
	}
	return 0;
}

static int setup_loader(struct train_run *r)
{
	struct loader_config c;
	struct loader_source src;

	loader_config_default(&c, r->o.batch, r->o.crop_w, r->o.crop_h);
	c.threads = r->o.loader_threads;
	c.seed = r->o.seed;
	c.skip_bad = r->o.skip_bad;
	c.aug.scale_min = (float)r->o.scale_min;
	c.aug.scale_max = (float)r->o.scale_max;
	if (!r->o.augment) {
		struct augment_config e;

		augment_config_eval(&e);
		memcpy(e.mean, c.aug.mean, sizeof(e.mean));
		memcpy(e.std, c.aug.std, sizeof(e.std));
		c.aug = e;
	}
	c.start_epoch = (int)r->ts.epoch;
	c.start_batch = (int)r->ts.batch;
	loader_source_dataset(&src, &r->train);
	return loader_create(&r->loader, &c, &src);
}

/* The network input size: the crop, or the first image's size for full images. */
static int input_size(struct train_run *r, int *h, int *w)
{
	struct image img;
	int err;

	if (r->o.augment) {
		*h = r->o.crop_h;
		*w = r->o.crop_w;
	} else {
		if ((err = dataset_read(&r->train, 0, &img, NULL)))
			return err;
		*h = img.h;
		*w = img.w;
		image_free(&img);
	}
	*h = model_padded_side(*h);
	*w = model_padded_side(*w);
	return 0;
}

/* The checkpoint at path must describe this network (arch, width; head and classes
 * unless only the backbone is taken). */
static int check_meta(const char *path, const struct checkpoint_meta *have,
		      const struct net_config *want, bool backbone_only)
{
	if (!backbone_only && !strcmp(have->kind, "backbone"))
		return kn_error(KN_EMISMATCH, "'%s' holds a backbone alone, no head (use "
				"--init-backbone)", path);
	if (have->cfg.arch != want->arch || fabsf(have->cfg.width - want->width) > 1e-6f)
		return kn_error(KN_EMISMATCH, "'%s' holds %s at width %g, the run trains %s at width %g",
				path, net_arch_name(have->cfg.arch), (double)have->cfg.width,
				net_arch_name(want->arch), (double)want->width);
	if (!backbone_only && (have->cfg.head != want->head ||
			       have->cfg.num_classes != want->num_classes))
		return kn_error(KN_EMISMATCH, "'%s' holds a %s head of %d classes, the run needs %s "
				"with %d", path, net_head_name(have->cfg.head), have->cfg.num_classes,
				net_head_name(want->head), want->num_classes);
	return 0;
}

/* Loads parameters from path (all, or the "backbone." ones), after checking the file. */
static int load_weights(struct train_run *r, const char *path, bool backbone_only,
			bool resume)
{
	struct safetensors_file f;
	struct checkpoint_meta meta;
	int err = safetensors_read(path, &f);

	if (err)
		return err;
	err = checkpoint_read_meta(&f, &meta);
	if (!err && resume)
		err = train_check_resume(&f, r);
	if (!err)
		err = check_meta(path, &meta, &r->o.net, backbone_only);
	if (!err)
		err = checkpoint_load_params(&f, &r->m->g, r->m->params,
					     backbone_only ? "backbone." : "");
	if (!err && resume) {
		struct optim_config oc;

		err = checkpoint_read_optim_config(&f, &oc);
		if (!err && oc.kind != r->o.optim.kind)
			err = kn_error(KN_EMISMATCH, "'%s' was trained with %s, not %s", path,
				       oc.kind == OPTIM_SGD ? "sgd" : "adamw",
				       r->o.optim.kind == OPTIM_SGD ? "sgd" : "adamw");
		if (!err)
			err = checkpoint_read_train(&f, &r->opt, &r->ts);
		if (!err && r->ts.seed != r->o.seed)
			err = kn_error(KN_EMISMATCH, "'%s' was trained with --seed %llu, not %llu", path,
				       (unsigned long long)r->ts.seed, (unsigned long long)r->o.seed);
	}
	safetensors_free(&f);
	return err;
}

_Static_assert(CLASS_MAX * CLASS_NAME_MAX <= CHECKPOINT_MAX_CLASSES_TEXT,
	       "a checkpoint's classes list holds every class table");

static void fill_meta(struct train_run *r)
{
	const struct class_table *t = &r->train.classes;
	size_t len = 0;

	checkpoint_meta_default(&r->meta, &r->o.net);
	r->meta.kn_eval = r->o.kn_eval;
	for (int i = 0; i < t->num_classes; i++) {
		len += (size_t)snprintf(r->meta.classes + len, sizeof(r->meta.classes) - len, "%s%s",
					i ? "," : "", t->names[i]);
		memcpy(r->meta.colors[i], t->colors[i], 3);
	}
	r->meta.has_colors = true;
}

static int setup_model(struct train_run *r)
{
	int h, w, err = input_size(r, &h, &w);
	size_t n;

	if (err)
		return err;
	r->o.net.num_classes = r->train.classes.num_classes;
	if ((err = model_create(&r->m, &r->o.net, r->o.batch, h, w, MODEL_TRAIN)))
		return err;
	r->m->seed = r->o.seed;
	model_init_weights(r->m, r->o.seed);
	n = r->m->g.param_count;
	r->opt_state = xmalloc_aligned(optim_state_floats(r->o.optim.kind, n) * sizeof(float));
	optim_init(&r->opt, &r->o.optim, n, r->opt_state, NULL);
	r->labels = xmalloc((size_t)r->o.batch * h * w);
	r->ts.seed = r->o.seed;
	r->ts.best_miou = NAN;
	r->ts.best_step = -1;
	fill_meta(r);
	if (r->o.resume)
		return load_weights(r, r->o.resume, false, true);
	if (r->o.init)
		return load_weights(r, r->o.init, false, false);
	if (r->o.init_backbone)
		return load_weights(r, r->o.init_backbone, true, false);
	return 0;
}

static void config_text(const struct train_run *r, int argc, char **argv, char *buf,
			size_t size)
{
	const struct train_opts *o = &r->o;
	size_t len = (size_t)snprintf(buf, size, "command:");

	for (int i = 0; i < argc && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, " %s", argv[i]);
	if (len >= size)
		return;
	snprintf(buf + len, size - len,
		 "\narch %s\nhead %s\nwidth %g\nclasses %d (%s)\ntrain images %d\n"
		 "val images %d\ninput %dx%d (crop %dx%d, augment %s, scales %g..%g)\n"
		 "batch %d\niterations %lld (%d per epoch)\noptimizer %s lr %g momentum %g "
		 "nesterov %d weight decay %g\nschedule poly power %g, warm-up %lld\n"
		 "class weights %s\nkn_p %g\nkn_eval %s\nseed %llu\nthreads %d, loader threads %d\n"
		 "init %s\ninit backbone %s\nresume %s\n",
		 net_arch_name(o->net.arch), net_head_name(o->net.head), (double)o->net.width,
		 o->net.num_classes, r->meta.classes, r->train.count,
		 r->has_val ? dataset_labelled(&r->val) : 0, r->m->w, r->m->h, o->crop_w, o->crop_h,
		 o->augment ? "train" : "none", o->scale_min, o->scale_max, o->batch,
		 (long long)o->iters, r->batches_per_epoch,
		 o->optim.kind == OPTIM_SGD ? "sgd" : "adamw", o->optim.lr, o->optim.momentum,
		 o->optim.nesterov, o->optim.weight_decay, o->power, (long long)o->warmup,
		 o->class_weights ? o->class_weights : "none", (double)o->net.p,
		 knorm_mode_name(o->kn_eval), (unsigned long long)o->seed, kn_get_threads(),
		 o->loader_threads, o->init ? o->init : "-", o->init_backbone ? o->init_backbone : "-",
		 o->resume ? o->resume : "-");
	if (o->resume && len < size)
		snprintf(buf + strlen(buf), size - strlen(buf), "resumed at iteration %lld\n",
			 (long long)r->ts.step);
}

static void teardown(struct train_run *r)
{
	loader_destroy(r->loader);
	model_destroy(r->m);
	free(r->opt_state);
	free(r->weights);
	free(r->labels);
	dataset_free(&r->train);
	dataset_free(&r->val);
	runlog_close(&r->log);
}

int cmd_train(int argc, char **argv)
{
	struct train_run *r = xcalloc(1, sizeof(*r));
	char config[CHECKPOINT_MAX_CLASSES_TEXT + 8192];
	int rc = parse(argc, argv, &r->o), err;

	r->log.fd = r->log.lock_fd = -1;
	if (rc) {
		free(r);
		return rc < 0 ? 0 : rc;
	}
	if (r->o.threads)
		kn_set_threads(r->o.threads);
	err = open_datasets(r);
	if (!err)
		err = resolve_lengths(r);
	if (!err)
		err = setup_weights(r);
	if (!err)
		err = setup_model(r);
	if (!err)
		err = setup_loader(r);
	if (!err) {
		r->sched = lr_poly(r->o.optim.lr, r->o.iters, r->o.warmup);
		r->sched.power = r->o.power;
		err = runlog_open(&r->log, r->o.out, r->o.resume != NULL, r->ts.step, r->o.force);
	}
	if (!err) {
		/* argv[-1] is the program's path: main passes the words after it. */
		config_text(r, argc + 1, argv - 1, config, sizeof(config));
		err = runlog_write_config(&r->log, config, r->o.resume != NULL);
	}
	if (err) {
		rc = die("%s", kn_errmsg());
	} else {
		printf("%s", config);
		rc = train_loop(r);
	}
	teardown(r);
	free(r);
	return rc;
}
