/*
 * knseg train: options and set-up. See train.h; the iterations are in train_loop.c.
 */
#include "app/commands.h"
#include "app/dist.h"
#include "app/options.h"
#include "app/train.h"
#include "datasets/weights.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "nets/gemm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --scale-range A,B into double[2]. */
static int parse_scale_range(const char *cmd, const struct opt *opt, const char *s, void *field)
{
	double *range = field;
	char *end;

	(void)opt;
	range[0] = strtod(s, &end);
	if (end == s || *end != ',')
		return usage_error(cmd, "--scale-range '%s' is not A,B", s);
	range[1] = strtod(end + 1, &end);
	if (*end || !(range[0] > 0.05 && range[0] <= range[1] && range[1] <= 8))
		return usage_error(cmd, "--scale-range '%s' must be 0.05 < A <= B <= 8", s);
	return 0;
}

static int parse_augment(const char *cmd, const struct opt *opt, const char *s, void *field)
{
	(void)opt;
	if (strcmp(s, "train") && strcmp(s, "none"))
		return usage_error(cmd, "--augment '%s' is not train or none", s);
	*(bool *)field = !strcmp(s, "train");
	return 0;
}

static int parse_kn_eval(const char *cmd, const struct opt *opt, const char *s, void *field)
{
	(void)opt;
	return knorm_mode_parse(s, field) < 0 ? usage_error(cmd, "%s", kn_errmsg()) : 0;
}

_Static_assert(OPTIM_SGD == 0 && OPTIM_ADAMW == 1 && sizeof(enum optim_kind) == sizeof(int),
	       "--optim's words are in enum optim_kind's order");

/* An iteration count (at most 10^8) into an int64_t field. */
#define ITERATIONS(name, m, low, default_, help_)                                       \
	{name, OPT_INT64, offsetof(struct train_opts, m), .lo = low, .hi = 1e8,          \
	 .def = default_, .arg = "N", .help = help_}

#define F(m) offsetof(struct train_opts, m)
static const struct opt train_opts_table[] = {
	{"out", OPT_STRING, F(out), .required = true, .arg = "RUNDIR",
	 .help = "the run folder: config.txt, log.csv, curve.svg, last.safetensors\n"
		 "(to resume), best.safetensors (best validation mIoU)"},
	{"resume", OPT_STRING, F(resume), .arg = "FILE",
	 .help = "continue a run from its last.safetensors, with the same\n"
		 "options (a longer --iters or --epochs may be given)"},
	{"force", OPT_FLAG, F(force),
	 .help = "start over in a run folder that holds another run (its\n"
		 "checkpoints, val.json, log.csv and curve.svg are removed)"},
	{.kind = OPT_SECTION, .help = "dataset:"},
	DATASET_OPTS(struct train_opts, data, "train"),
	{"val-split", OPT_STRING, F(val_split), .arg = "S",
	 .help = "validation split, or none (default val; list layout: ROOT/S.txt,\n"
		 "and no validation by default)"},
	{"val-list", OPT_STRING, F(val_list), .arg = "FILE", .help = "validation list (list layout)"},
	{"augment", OPT_CUSTOM, F(augment), .parse = parse_augment, .def = "train", .arg = "A",
	 .help = "train (rescale, crop, flip, photometric) | none (full images)"},
	{"crop", OPT_SIZE, F(crop_w), F(crop_h), .lo = 32, .hi = 8192, .def = "1024x512",
	 .arg = "WxH", .help = "training crop"},
	{"scale-range", OPT_CUSTOM, F(scale_range), .parse = parse_scale_range, .def = "0.5,2.0",
	 .arg = "A,B", .help = "rescale factors"},
	{"skip-bad", OPT_FLAG, F(skip_bad),
	 .help = "skip unreadable samples (counted) instead of stopping"},
	{.kind = OPT_SECTION, .help = "network:"},
	NET_OPTS(struct train_opts, net, "fpn"),
	{"kn-p", OPT_FLOAT, F(net.p), .lo = 0, .hi = 0.9, .def = "0.05", .arg = "P",
	 .help = "KN statistics dropout while training"},
	{"kn-eval", OPT_CUSTOM, F(kn_eval), .parse = parse_kn_eval, .def = "expected",
	 .arg = "MODE", .help = "statistics at inference: expected | none | sample"},
	{"init", OPT_STRING, F(init), .arg = "FILE", .help = "start from a whole model"},
	{"init-backbone", OPT_STRING, F(init_backbone), .arg = "FILE",
	 .help = "start from a backbone only"},
	{.kind = OPT_SECTION, .help = "optimization:"},
	{"batch", OPT_INT, F(batch), .lo = 1, .hi = OPT_BATCH_MAX, .def = "2", .arg = "N",
	 .help = "images per iteration"},
	ITERATIONS("iters", iters, 1, NULL, "length of the run (default 1000)"),
	{"epochs", OPT_INT, F(epochs), .lo = 1, .hi = 100000, .arg = "N",
	 .help = "length of the run in passes over the training split"},
	{"optim", OPT_WORD, F(optim.kind), .words = "sgd|adamw", .def = "sgd", .arg = "O",
	 .help = "sgd | adamw"},
	{"lr", OPT_DOUBLE, F(lr), .lo = 0, .hi = 10, .arg = "X",
	 .help = "learning rate (default sgd 0.01, adamw 0.001)"},
	{"momentum", OPT_DOUBLE, F(optim.momentum), .lo = 0, .hi = 0.999, .def = "0.9",
	 .arg = "X", .help = "SGD momentum"},
	{"nesterov", OPT_FLAG, F(optim.nesterov), .help = "Nesterov momentum"},
	{"weight-decay", OPT_DOUBLE, F(weight_decay), .lo = 0, .hi = 1, .arg = "X",
	 .help = "weight decay (default sgd 5e-4, adamw 0.01)"},
	ITERATIONS("warmup-iters", warmup, 0, "0", "linear learning-rate warm-up"),
	{"poly-power", OPT_DOUBLE, F(power), .lo = 0, .hi = 10, .def = "0.9", .arg = "X",
	 .help = "power of the polynomial decay"},
	{"class-weights", OPT_STRING, F(class_weights), .arg = "W",
	 .help = "median | W1,W2,...: weighted loss (default none)"},
	{"seed", OPT_U64, F(seed), .hi = 2147483647, .def = "1", .arg = "S",
	 .help = "seed of the initial weights, the sample order and the augmentations"},
	{.kind = OPT_SECTION, .help = "differential privacy (one training image is the unit):"},
	{"dp-clip", OPT_DOUBLE, F(dp_clip), .lo = 1e-9, .hi = 1e9, .arg = "C",
	 .help = "train with DP-SGD: each image's gradient clipped to L2 norm C"},
	{"dp-epsilon", OPT_DOUBLE, F(dp_epsilon), .lo = 1e-9, .hi = 1e6, .arg = "E",
	 .help = "the privacy budget of the whole run: the noise is the least that keeps "
		 "it (or give --dp-noise)"},
	{"dp-noise", OPT_DOUBLE, F(dp_noise), .lo = 0, .hi = 1e6, .arg = "S",
	 .help = "noise multiplier sigma (noise std sigma C); epsilon is reported"},
	{"dp-delta", OPT_DOUBLE, F(dp_delta), .lo = 1e-300, .hi = 0.999999, .def = "1e-5",
	 .arg = "D", .help = "delta of (epsilon, delta); keep it below 1 / images"},
	{"dp-aug-mult", OPT_INT, F(dp_aug_mult), .lo = 1, .hi = 64, .def = "1", .arg = "K",
	 .help = "augmentations of an image averaged before clipping"},
	{"dp-secure-noise", OPT_FLAG, F(dp_secure_noise),
	 .help = "draw the noise from the system's secure source (getrandom) instead of "
		 "--seed, for deployments"},
	{.kind = OPT_SECTION, .help = "running:"},
	ITERATIONS("val-every", val_every, 1, NULL,
		   "validate and save every N iterations (default: each epoch)"),
	ITERATIONS("log-every", log_every, 1, "10", "log every N iterations"),
	ITERATIONS("stop-after", stop_after, 1, NULL,
		   "save and stop after N iterations of this invocation"),
	THREADS_OPT(struct train_opts, threads),
	{"loader-threads", OPT_INT, F(loader_threads), .lo = 1, .hi = 64, .def = "1", .arg = "N",
	 .help = "threads reading and augmenting samples"},
	{"bucket-mb", OPT_DOUBLE, F(bucket_mb), .lo = 0, .hi = 4096, .def = "8", .arg = "M",
	 .help = "several processes: gradients sent in buckets of M MB during the\n"
		 "backward pass (0: in one sum after it)"},
	{0},
};
#undef F

static const struct opt_command train_command = {
	"train",
	"usage: knseg train --root DIR --out RUNDIR [dataset options] [options]\n\n"
	"Trains a network on a dataset split (default train) and validates on another\n"
	"(default val).\n",
	train_opts_table,
	false,
};

/* The privacy options go together: a bound, and either the noise or the budget. */
static int check_privacy(const struct train_opts *o)
{
	bool any = o->dp_noise >= 0 || o->dp_epsilon > 0 || o->dp_secure_noise ||
		   o->dp_aug_mult > 1;

	if (o->dp_clip <= 0)
		return any ? usage_error("train", "the --dp-* options need --dp-clip C, the bound "
					 "of each image's gradient") : 0;
	if ((o->dp_noise >= 0) == (o->dp_epsilon > 0))
		return usage_error("train", "--dp-clip needs one of --dp-epsilon E (a budget) and "
				   "--dp-noise S (a noise multiplier)");
	if (o->skip_bad)
		return usage_error("train", "--skip-bad and --dp-clip exclude each other: a private "
				   "run stops on a sample it cannot read");
	return 0;
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
	int rc;

	memset(o, 0, sizeof(*o));
	o->net = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 19);
	o->lr = o->weight_decay = -1; /* the optimizer's own defaults */
	o->dp_noise = -1;
	if ((rc = opt_parse(&train_command, argc, argv, o, NULL)))
		return rc;
	if (o->init && o->init_backbone)
		return usage_error("train", "--init and --init-backbone exclude each other");
	if (o->iters && o->epochs)
		return usage_error("train", "--iters and --epochs exclude each other");
	if ((rc = check_privacy(o)))
		return rc;
	if (o->optim.kind == OPTIM_SGD) {
		struct optim_config d = optim_sgd_config(o->lr >= 0 ? o->lr : 0.01, o->optim.momentum,
							 o->weight_decay >= 0 ? o->weight_decay : 5e-4,
							 o->optim.nesterov);

		if (d.nesterov && d.momentum <= 0)
			return usage_error("train", "--nesterov needs --momentum above 0");
		o->optim = d;
	} else {
		o->optim = optim_adamw_config(o->lr >= 0 ? o->lr : 1e-3,
					      o->weight_decay >= 0 ? o->weight_decay : 1e-2);
	}
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

void train_augment_config(const struct train_run *r, struct augment_config *aug)
{
	augment_config_default(aug, r->o.crop_w, r->o.crop_h);
	aug->scale_min = (float)r->o.scale_range[0];
	aug->scale_max = (float)r->o.scale_range[1];
	if (!r->o.augment) {
		struct augment_config e;

		augment_config_eval(&e);
		memcpy(e.mean, aug->mean, sizeof(e.mean));
		memcpy(e.std, aug->std, sizeof(e.std));
		*aug = e;
	}
}

static int setup_loader(struct train_run *r)
{
	struct loader_config c;
	struct loader_source src;

	if (r->dp.on)
		return 0; /* private steps read their Poisson batches themselves */
	loader_config_default(&c, r->o.batch, r->o.crop_w, r->o.crop_h);
	c.threads = r->o.loader_threads;
	c.seed = r->o.seed;
	c.skip_bad = r->o.skip_bad;
	train_augment_config(r, &c.aug);
	c.start_epoch = (int)r->ts.epoch;
	c.start_batch = (int)r->ts.batch;
	/* This rank's part of every global batch, augmented as in the whole batch. */
	c.slice_first = r->rank * r->local_batch;
	c.slice_count = r->local_batch;
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

/*
 * A run resumes with the dropout masks it began with: runs recorded as drawing them per
 * image (run.mask_streams) go on so on any number of processes; older runs drew one
 * mask per batch, which depends on how the batch is split, so they resume on one.
 */
static int resumed_mask_streams(struct train_run *r, const struct safetensors_file *f)
{
	const char *streams = safetensors_meta_get(f, "run.mask_streams");

	r->image_streams = streams && !strcmp(streams, "image");
	if (!r->image_streams && r->ranks > 1)
		return kn_error(KN_EMISMATCH, "'%s' comes from a run that drew its dropout masks per "
				"batch, which depend on how the batch is split: resume it as one "
				"process", f->name);
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
		err = resumed_mask_streams(r, &f);
	if (!err && resume)
		err = train_dp_resumed(r, &f);
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
	/* A private step runs its images one at a time: each one's gradient alone. */
	if ((err = model_create(&r->m, &r->o.net, r->dp.on ? 1 : r->local_batch, h, w,
				MODEL_TRAIN)))
		return err;
	r->m->seed = r->o.seed;
	r->m->image0 = (int64_t)r->rank * r->local_batch;
	r->image_streams = true;
	model_init_weights(r->m, r->o.seed);
	n = r->m->g.param_count;
	r->opt_state = xmalloc_aligned(optim_state_floats(r->o.optim.kind, n) * sizeof(float));
	optim_init(&r->opt, &r->o.optim, n, r->opt_state, NULL);
	r->labels = xmalloc((size_t)r->m->n * h * w);
	r->ts.seed = r->o.seed;
	r->ts.best_miou = NAN;
	r->ts.best_step = -1;
	fill_meta(r);
	if (r->rank != 0)
		return 0; /* rank 0's weights and state reach the others in share_state */
	if (r->o.resume)
		return load_weights(r, r->o.resume, false, true);
	if (r->o.init)
		return load_weights(r, r->o.init, false, false);
	if (r->o.init_backbone)
		return load_weights(r, r->o.init_backbone, true, false);
	return 0;
}

/* The run's datasets as this rank sees them: the sample names in order. */
static uint64_t datasets_hash(const struct train_run *r)
{
	uint64_t h = DIST_HASH_START;

	for (int i = 0; i < r->train.count; i++)
		h = dist_hash(r->train.samples[i].name, strlen(r->train.samples[i].name) + 1, h);
	h = dist_hash(&r->has_val, sizeof(r->has_val), h);
	for (int i = 0; r->has_val && i < r->val.count; i++)
		h = dist_hash(r->val.samples[i].name, strlen(r->val.samples[i].name) + 1, h);
	return h;
}

/*
 * Makes every rank start where rank 0 does: the same datasets (checked), and rank 0's
 * parameters, optimizer state, run state and mask streams (sent), whether they come
 * from the seed, --init, --init-backbone or --resume.
 */
static int share_state(struct train_run *r)
{
	bool mine;
	int streams = r->image_streams;

	if (r->ranks == 1)
		return 0;
	if (dist_differs(datasets_hash(r), &mine)) {
		if (mine)
			fprintf(stderr, "knseg train: %ssees other images than rank 0 (%d for training, "
				"%d for validation): every rank needs the same dataset\n", dist_where(),
				r->train.count, r->has_val ? r->val.count : 0);
		return KN_EMISMATCH;
	}
	dist_broadcast(r->m->params, r->m->g.param_count * sizeof(float));
	dist_broadcast(r->opt_state,
		       optim_state_floats(r->o.optim.kind, r->m->g.param_count) * sizeof(float));
	dist_broadcast(&r->opt.step, sizeof(r->opt.step));
	dist_broadcast(&r->ts, sizeof(r->ts));
	dist_broadcast(&streams, sizeof(streams));
	r->image_streams = streams;
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
		 "class weights %s\nkn_p %g\nkn_eval %s\nseed %llu\n"
		 "processes %d (%d images each), threads %d per process, loader threads %d\n"
		 "init %s\ninit backbone %s\nresume %s\n",
		 net_arch_name(o->net.arch), net_head_name(o->net.head), (double)o->net.width,
		 o->net.num_classes, r->meta.classes, r->train.count,
		 r->has_val ? dataset_labelled(&r->val) : 0, r->m->w, r->m->h, o->crop_w, o->crop_h,
		 o->augment ? "train" : "none", o->scale_range[0], o->scale_range[1], o->batch,
		 (long long)o->iters, r->batches_per_epoch,
		 o->optim.kind == OPTIM_SGD ? "sgd" : "adamw", o->optim.lr, o->optim.momentum,
		 o->optim.nesterov, o->optim.weight_decay, o->power, (long long)o->warmup,
		 o->class_weights ? o->class_weights : "none", (double)o->net.p,
		 knorm_mode_name(o->kn_eval), (unsigned long long)o->seed, r->ranks, r->local_batch,
		 kn_get_threads(), o->loader_threads, o->init ? o->init : "-", o->init_backbone ? o->init_backbone : "-",
		 o->resume ? o->resume : "-");
	if (r->dp.on && strlen(buf) < size)
		snprintf(buf + strlen(buf), size - strlen(buf),
			 "differential privacy: clip %g, noise multiplier %.6g%s, delta %g, sampling "
			 "rate %.6g (expected batch %d of %d images), %d augmentation%s per image, "
			 "noise from %s; epsilon %.4g for the %lld iterations\n",
			 o->dp_clip, r->dp.sigma, o->dp_epsilon > 0 ? " (for the budget)" : "",
			 o->dp_delta, r->dp.q, o->batch, r->train.count, o->dp_aug_mult,
			 o->dp_aug_mult == 1 ? "" : "s",
			 o->dp_secure_noise ? "the system's secure source" : "--seed",
			 train_dp_epsilon(r, o->iters), (long long)o->iters);
	if (o->resume && len < size)
		snprintf(buf + strlen(buf), size - strlen(buf), "resumed at iteration %lld\n",
			 (long long)r->ts.step);
}

static void teardown(struct train_run *r)
{
	train_dp_free(r);
	loader_destroy(r->loader);
	model_destroy(r->m);
	free(r->opt_state);
	free(r->weights);
	free(r->labels);
	dataset_free(&r->train);
	dataset_free(&r->val);
	runlog_close(&r->log);
}

/*
 * The end of a part of the set-up, for all ranks together: true when any failed. A rank
 * that failed says why (with its rank and host when there are several).
 */
static bool setup_failed(int err)
{
	if (err)
		die("%s", kn_errmsg());
	return dist_any(err != 0);
}

int cmd_train(int argc, char **argv)
{
	struct train_run *r = xcalloc(1, sizeof(*r));
	char config[CHECKPOINT_MAX_CLASSES_TEXT + 8192];
	int rc, err, threads;

	r->log.fd = r->log.lock_fd = -1;
	r->ranks = dist_size();
	r->rank = dist_rank();
	rc = dist_same_command("train", argc, argv);
	if (!rc)
		rc = parse(argc, argv, &r->o);
	if (!rc && r->o.batch % r->ranks)
		rc = usage_error("train", "--batch %d is the global batch and cannot be split among "
				 "%d processes: give a multiple of %d", r->o.batch, r->ranks, r->ranks);
	if (rc) {
		free(r);
		return rc < 0 ? 0 : rc;
	}
	r->local_batch = r->o.batch / r->ranks;
	threads = r->o.threads ? r->o.threads : dist_default_threads();
	if (threads)
		kn_set_threads(threads);
	err = open_datasets(r);
	if (!err)
		err = resolve_lengths(r);
	if (!err)
		err = setup_weights(r);
	if (!err)
		err = train_dp_plan(r);
	if (!err)
		err = setup_model(r);
	if (setup_failed(err) || share_state(r)) {
		teardown(r);
		free(r);
		return 1;
	}
	err = train_dp_start(r);
	if (!err)
		err = setup_loader(r);
	if (!err) {
		r->sched = lr_poly(r->o.optim.lr, r->o.iters, r->o.warmup);
		r->sched.power = r->o.power;
	}
	/* Rank 0 keeps the run folder: its lock, config.txt, the log and the checkpoints. */
	if (!err && r->rank == 0)
		err = runlog_open(&r->log, r->o.out, r->o.resume != NULL, r->ts.step, r->o.force);
	if (!err && r->rank == 0) {
		/* argv[-1] is the program's path: main passes the words after it. */
		config_text(r, argc + 1, argv - 1, config, sizeof(config));
		err = runlog_write_config(&r->log, config, r->o.resume != NULL);
	}
	if (setup_failed(err)) {
		rc = 1;
	} else {
		if (r->rank == 0)
			printf("%s", config);
		rc = train_loop(r);
	}
	teardown(r);
	free(r);
	return rc;
}
