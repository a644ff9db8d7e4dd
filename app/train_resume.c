/*
 * knseg train: the options a run was started with, kept as "run.*" metadata in its
 * training checkpoints, and their comparison when a run resumes. See train.h.
 *
 * A resumed run continues exactly only with the options that shaped the iterations so
 * far: network, classes, dataset, crop, batch, augmentation, optimizer, schedule, class
 * weights, seed. A change of one of those is refused. Options that do not touch the
 * iterations done (the run's length, validation, logging, skipping bad samples, where the
 * dataset lies) may change; each change is shown. Thread counts are not recorded: they
 * change no result, and checkpoints of a run compare byte for byte at any count.
 */
#include "app/train.h"
#include "io/error.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run_option {
	const char *key;   /* metadata key, after "run." */
	const char *label; /* how messages name it */
	bool fixed;        /* a change breaks exact resumption */
	char value[PATH_MAX + 64];
};

enum { MAX_RUN_OPTIONS = 40 };

static void put(struct run_option *o, int *n, const char *key, const char *label, bool fixed,
		const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void put(struct run_option *o, int *n, const char *key, const char *label, bool fixed,
		const char *fmt, ...)
{
	va_list ap;

	o[*n].key = key;
	o[*n].label = label;
	o[*n].fixed = fixed;
	va_start(ap, fmt);
	vsnprintf(o[*n].value, sizeof(o[*n].value), fmt, ap);
	va_end(ap);
	(*n)++;
}

/* path resolved, so that the same folder named another way is no change. */
static const char *resolved(const char *path, char *buf)
{
	return path && realpath(path, buf) ? buf : path ? path : "-";
}

/* Which images the run trains on (fixed), and where they lie (free to move). */
static void put_dataset(const struct train_run *r, struct run_option *o, int *n)
{
	const struct dataset_spec *d = &r->o.data;
	bool list = d->layout && !strcmp(d->layout, "list");
	const char *file = d->list ? strrchr(d->list, '/') : NULL;
	char buf[PATH_MAX];

	file = file ? file + 1 : d->list;
	put(o, n, "dataset", "dataset", true, "%s %s%s, %d images",
	    list ? "list" : "cityscapes", file ? file : d->split,
	    list ? "" : d->train_ids ? " (labelTrainIds)" : " (labelIds)", r->train.count);
	put(o, n, "classes", "--classes", true, "%s", r->meta.classes);
	put(o, n, "dataset_at", d->list ? "--list" : "--root", false, "%s",
	    resolved(d->list ? d->list : d->root, buf));
	put(o, n, "validation", "validation", false, "%s",
	    r->o.val_list ? resolved(r->o.val_list, buf) : r->o.val_split ? r->o.val_split
	    : list ? "none" : "val");
}

static void put_training(const struct train_run *r, struct run_option *o, int *n)
{
	const struct train_opts *t = &r->o;

	put(o, n, "crop", "--crop", true, "%dx%d", t->crop_w, t->crop_h);
	put(o, n, "batch", "--batch", true, "%d", t->batch);
	put(o, n, "augment", "--augment", true, "%s", t->augment ? "train" : "none");
	put(o, n, "scale_range", "--scale-range", true, "%.9g,%.9g", t->scale_range[0],
	    t->scale_range[1]);
	put(o, n, "optim", "--optim", true, "%s", t->optim.kind == OPTIM_SGD ? "sgd" : "adamw");
	put(o, n, "lr", "--lr", true, "%.17g", t->optim.lr);
	put(o, n, "momentum", "--momentum", true, "%.17g", t->optim.momentum);
	put(o, n, "nesterov", "--nesterov", true, "%s", t->optim.nesterov ? "yes" : "no");
	put(o, n, "weight_decay", "--weight-decay", true, "%.17g", t->optim.weight_decay);
	put(o, n, "warmup", "--warmup-iters", true, "%lld", (long long)t->warmup);
	put(o, n, "poly_power", "--poly-power", true, "%.17g", t->power);
	put(o, n, "class_weights", "--class-weights", true, "%s",
	    t->class_weights ? t->class_weights : "none");
	put(o, n, "kn_p", "--kn-p", true, "%.9g", (double)t->net.p);
	put(o, n, "seed", "--seed", true, "%llu", (unsigned long long)t->seed);
	/* A private run's mechanism (train_dp.c); "none" for the others. */
	if (r->dp.on) {
		put(o, n, "dp_clip", "--dp-clip", true, "%.17g", t->dp_clip);
		put(o, n, "dp_noise", "noise multiplier", true, "%.17g", r->dp.sigma);
		put(o, n, "dp_delta", "--dp-delta", true, "%.17g", t->dp_delta);
		put(o, n, "dp_aug_mult", "--dp-aug-mult", true, "%d", t->dp_aug_mult);
	} else {
		put(o, n, "dp_noise", "differential privacy", true, "none");
	}
	/* Older runs have no such key: they drew one mask per batch (train.c). */
	put(o, n, "mask_streams", "statistics dropout masks", true, "%s",
	    r->image_streams ? "image" : "batch");
}

static int run_options(const struct train_run *r, struct run_option *o)
{
	const struct train_opts *t = &r->o;
	int n = 0;

	put(o, &n, "arch", "--arch", true, "%s", net_arch_name(t->net.arch));
	put(o, &n, "head", "--head", true, "%s", net_head_name(t->net.head));
	put(o, &n, "width", "--width", true, "%.9g", (double)t->net.width);
	put_dataset(r, o, &n);
	put_training(r, o, &n);
	put(o, &n, "iters", "iterations", false, "%lld", (long long)t->iters);
	put(o, &n, "val_every", "--val-every", false, "%lld", (long long)t->val_every);
	put(o, &n, "log_every", "--log-every", false, "%lld", (long long)t->log_every);
	put(o, &n, "kn_eval", "--kn-eval", false, "%s", knorm_mode_name(t->kn_eval));
	put(o, &n, "skip_bad", "--skip-bad", false, "%s", t->skip_bad ? "yes" : "no");
	CHECK(n <= MAX_RUN_OPTIONS);
	return n;
}

void train_add_run_meta(struct safetensors_writer *w, const struct train_run *r)
{
	struct run_option *o = calloc(MAX_RUN_OPTIONS, sizeof(*o));
	int n = run_options(r, o);
	char key[64];

	CHECK(o);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "run.%s", o[i].key);
		safetensors_add_meta(w, key, o[i].value);
	}
	free(o);
}

/* A number as few digits as give it back exactly (the file keeps 17); other text as is. */
static const char *shown(const char *value, char *buf, size_t size)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end || !strpbrk(value, ".eE"))
		return value; /* text, or an integer */
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/* Prints one changed option; 1 when the change is refused. */
static int show_change(const struct run_option *o, const char *was_text, long long step)
{
	char a[64], b[64];
	const char *was = shown(was_text, a, sizeof(a)), *now = shown(o->value, b, sizeof(b));

	if (!strcmp(o->key, "iters") && strtoll(o->value, NULL, 10) <= step) {
		fprintf(stderr, "knseg train: iterations %s -> %s: the run is at iteration %lld "
			"already\n", was, now, step);
		return 1;
	}
	if (o->fixed) {
		fprintf(stderr, "knseg train: %s %s -> %s: cannot change when resuming\n", o->label,
			was, now);
		return 1;
	}
	printf("resume: %s %s -> %s%s\n", o->label, was, now,
	       strcmp(o->key, "iters") ? "" : " (the learning rate schedule is stretched to it)");
	return 0;
}

int train_check_resume(const struct safetensors_file *f, const struct train_run *r)
{
	struct run_option *o = calloc(MAX_RUN_OPTIONS, sizeof(*o));
	int n = run_options(r, o), refused = 0;
	const char *step = safetensors_meta_get(f, "state.step");
	char key[64];

	CHECK(o);
	for (int i = 0; i < n; i++) {
		const char *was;

		snprintf(key, sizeof(key), "run.%s", o[i].key);
		was = safetensors_meta_get(f, key);
		if (was && strcmp(was, o[i].value))
			refused += show_change(&o[i], was, step ? strtoll(step, NULL, 10) : 0);
	}
	free(o);
	if (refused)
		return kn_error(KN_EMISMATCH, "'%s' was trained with other options (above); resuming "
				"goes on exactly as the run began, so give them as they were, or "
				"start a new run (another --out, or --force)", f->name);
	return 0;
}
