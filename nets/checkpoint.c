/* knseg checkpoints: metadata and parameters in safetensors files. See checkpoint.h. */
#include "nets/checkpoint.h"
#include "io/alloc.h"
#include "io/error.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void checkpoint_meta_default(struct checkpoint_meta *meta, const struct net_config *cfg)
{
	static const float mean[3] = {0.485f, 0.456f, 0.406f};
	static const float std[3] = {0.229f, 0.224f, 0.225f};

	memset(meta, 0, sizeof(*meta));
	strcpy(meta->kind, "model");
	meta->cfg = *cfg;
	memcpy(meta->mean, mean, sizeof(mean));
	memcpy(meta->std, std, sizeof(std));
	meta->kn_eval = KNORM_EVAL_EXPECTED;
}

static const char *need(const struct safetensors_file *f, const char *key)
{
	const char *v = safetensors_meta_get(f, key);

	if (!v)
		kn_error(KN_EFORMAT, "'%s': checkpoint metadata lacks '%s'", f->name, key);
	return v;
}

static int parse_float(const struct safetensors_file *f, const char *key, const char *s,
		       double lo, double hi, float *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return kn_error(KN_EFORMAT, "'%s': metadata %s '%s' is not a number in [%g, %g]",
				f->name, key, s, lo, hi);
	*out = (float)v;
	return 0;
}

/* "a,b,c" into three floats in [lo, hi]. */
static int parse_triple(const struct safetensors_file *f, const char *key, double lo,
			double hi, float out[3])
{
	const char *s = need(f, key);
	char buf[128], *tok, *save = NULL;
	int i = 0;

	if (!s)
		return KN_EFORMAT;
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (i == 3 || parse_float(f, key, tok, lo, hi, &out[i]) < 0)
			break;
		i++;
	}
	if (i != 3 || tok)
		return kn_error(KN_EFORMAT, "'%s': metadata %s '%s' is not three numbers in "
				"[%g, %g]", f->name, key, s, lo, hi);
	return 0;
}

/*
 * Pixels are scaled to [0, 1] before (x - mean) / std: a std below a thousandth of that
 * range, or a mean far outside it, turns every input into huge or infinite values and
 * the output into garbage without any error.
 */
static int read_normalization(const struct safetensors_file *f, struct checkpoint_meta *meta)
{
	int err = parse_triple(f, "mean", -1000, 1000, meta->mean);

	return err ? err : parse_triple(f, "std", 0.001, 1000, meta->std);
}

/* The classes list must name each of the num_classes classes, none empty. */
static int check_classes(const struct safetensors_file *f, const struct checkpoint_meta *meta)
{
	const char *p = meta->classes;
	int n = 0;

	for (;;) {
		size_t len = strcspn(p, ",");

		if (len == 0)
			return kn_error(KN_EFORMAT, "'%s': metadata classes: class %d has no name",
					f->name, n);
		n++;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (n != meta->cfg.num_classes)
		return kn_error(KN_EFORMAT, "'%s': metadata classes names %d class%s, num_classes "
				"is %d", f->name, n, n == 1 ? "" : "es", meta->cfg.num_classes);
	return 0;
}

static int read_arch_width(const struct safetensors_file *f, struct checkpoint_meta *meta)
{
	const char *arch = need(f, "arch"), *width = need(f, "width");

	if (!arch || !width)
		return KN_EFORMAT;
	if (net_arch_parse(arch, &meta->cfg.arch) < 0)
		return kn_error_prefix(KN_EFORMAT, "'%s'", f->name);
	return parse_float(f, "width", width, 0.01, 8, &meta->cfg.width);
}

/* "r g b,r g b,..." with one triple per class. */
static int parse_colors(const struct safetensors_file *f, const char *s,
			struct checkpoint_meta *meta)
{
	const char *p = s;

	for (int i = 0; i < meta->cfg.num_classes; i++) {
		int r, g, b, used = 0;

		if (sscanf(p, "%d %d %d%n", &r, &g, &b, &used) != 3 || r < 0 || r > 255 ||
		    g < 0 || g > 255 || b < 0 || b > 255)
			return kn_error(KN_EFORMAT, "'%s': metadata colors: class %d is not 'r g b'",
					f->name, i);
		meta->colors[i][0] = (uint8_t)r;
		meta->colors[i][1] = (uint8_t)g;
		meta->colors[i][2] = (uint8_t)b;
		p += used;
		if (i + 1 < meta->cfg.num_classes && *p++ != ',')
			return kn_error(KN_EFORMAT, "'%s': metadata colors: too few colours", f->name);
	}
	if (*p)
		return kn_error(KN_EFORMAT, "'%s': metadata colors: too many colours", f->name);
	meta->has_colors = true;
	return 0;
}

static int read_model_keys(const struct safetensors_file *f, struct checkpoint_meta *meta)
{
	const char *head = need(f, "head"), *k = need(f, "num_classes");
	const char *classes = need(f, "classes"), *kn_eval = need(f, "kn_eval");
	const char *kn_p = safetensors_meta_get(f, "kn_p");
	const char *colors = safetensors_meta_get(f, "colors");
	float classes_f = 0;
	int err;

	if (!head || !k || !classes || !kn_eval)
		return KN_EFORMAT;
	if (net_head_parse(head, &meta->cfg.head) < 0)
		return kn_error_prefix(KN_EFORMAT, "'%s'", f->name);
	err = parse_float(f, "num_classes", k, 1, 255, &classes_f);
	if (err)
		return err;
	meta->cfg.num_classes = (int)classes_f;
	if ((float)meta->cfg.num_classes != classes_f)
		return kn_error(KN_EFORMAT, "'%s': metadata num_classes '%s' is not an integer",
				f->name, k);
	if (strlen(classes) >= sizeof(meta->classes))
		return kn_error(KN_EFORMAT, "'%s': metadata classes is too long", f->name);
	strcpy(meta->classes, classes);
	if ((err = check_classes(f, meta)))
		return err;
	if (knorm_mode_parse(kn_eval, &meta->kn_eval) < 0)
		return kn_error_prefix(KN_EFORMAT, "'%s'", f->name);
	meta->cfg.p = 0.05f;
	if (kn_p && (err = parse_float(f, "kn_p", kn_p, 0, 0.99, &meta->cfg.p)))
		return err;
	if ((err = read_normalization(f, meta)))
		return err;
	if (colors && (err = parse_colors(f, colors, meta)))
		return err;
	return 0;
}

int checkpoint_read_meta(const struct safetensors_file *f, struct checkpoint_meta *meta)
{
	const char *format = safetensors_meta_get(f, "format");
	const char *kind = safetensors_meta_get(f, "kind");
	struct net_config base = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 19);
	int err;

	checkpoint_meta_default(meta, &base);
	if (!format)
		return kn_error(KN_EFORMAT, "'%s': not a knseg checkpoint (no 'format' metadata)",
				f->name);
	if (strcmp(format, CHECKPOINT_FORMAT) != 0)
		return kn_error(KN_EFORMAT, "'%s': checkpoint format '%s' is not %s", f->name,
				format, CHECKPOINT_FORMAT);
	if (!kind)
		kind = "model";
	if (strcmp(kind, "model") && strcmp(kind, "train") && strcmp(kind, "backbone"))
		return kn_error(KN_EFORMAT, "'%s': unknown checkpoint kind '%s'", f->name, kind);
	strcpy(meta->kind, kind);
	err = read_arch_width(f, meta);
	if (err || !strcmp(kind, "backbone"))
		return err;
	return read_model_keys(f, meta);
}

static bool in_training_namespace(const char *name)
{
	return !strncmp(name, "optim.", 6) || !strncmp(name, "state.", 6);
}

int checkpoint_load_params(const struct safetensors_file *f, const struct graph *g,
			   float *params, const char *prefix)
{
	size_t plen = strlen(prefix);
	int failed = 0, first_err = 0;
	char first[1024] = "";

	for (int i = 0; i < g->nparams; i++) {
		const struct graph_param *p = &g->params[i];
		size_t shape[4];
		int err;

		if (strncmp(p->name, prefix, plen) != 0)
			continue;
		for (int d = 0; d < p->ndim; d++)
			shape[d] = (size_t)p->dims[d];
		err = safetensors_copy_f32_finite(f, p->name, params + p->offset, p->ndim,
						  shape);
		if (err && !failed++) {
			first_err = err;
			snprintf(first, sizeof(first), "%s", kn_errmsg());
		}
	}
	if (failed > 1)
		return kn_error(first_err, "%s (and %d more bad parameters)", first, failed - 1);
	if (failed)
		return kn_error(first_err, "%s", first);
	for (size_t t = 0; t < f->n_tensors; t++) {
		const char *name = f->tensors[t].name;

		if (strncmp(name, prefix, plen) == 0 && !in_training_namespace(name) &&
		    graph_find_param(g, name) < 0)
			return kn_error(KN_EMISMATCH, "'%s': tensor '%s' is not a parameter of %s",
					f->name, name, "this network");
	}
	return 0;
}

static void add_meta_float3(struct safetensors_writer *w, const char *key, const float v[3])
{
	char buf[96];

	snprintf(buf, sizeof(buf), "%.9g,%.9g,%.9g", (double)v[0], (double)v[1], (double)v[2]);
	safetensors_add_meta(w, key, buf);
}

void checkpoint_add_model(struct safetensors_writer *w, const struct graph *g,
			  const float *params, const struct checkpoint_meta *meta)
{
	char buf[32];

	for (int i = 0; i < g->nparams; i++) {
		const struct graph_param *p = &g->params[i];
		size_t shape[4];

		for (int d = 0; d < p->ndim; d++)
			shape[d] = (size_t)p->dims[d];
		safetensors_add_f32(w, p->name, params + p->offset, p->ndim, shape);
	}
	safetensors_add_meta(w, "format", CHECKPOINT_FORMAT);
	safetensors_add_meta(w, "kind", meta->kind);
	safetensors_add_meta(w, "arch", net_arch_name(meta->cfg.arch));
	snprintf(buf, sizeof(buf), "%.9g", (double)meta->cfg.width);
	safetensors_add_meta(w, "width", buf);
	safetensors_add_meta(w, "head", net_head_name(meta->cfg.head));
	snprintf(buf, sizeof(buf), "%d", meta->cfg.num_classes);
	safetensors_add_meta(w, "num_classes", buf);
	safetensors_add_meta(w, "classes", meta->classes);
	add_meta_float3(w, "mean", meta->mean);
	add_meta_float3(w, "std", meta->std);
	safetensors_add_meta(w, "kn_eval", knorm_mode_name(meta->kn_eval));
	snprintf(buf, sizeof(buf), "%.9g", (double)meta->cfg.p);
	safetensors_add_meta(w, "kn_p", buf);
	if (meta->has_colors) {
		char text[255 * 13];
		size_t len = 0;

		for (int i = 0; i < meta->cfg.num_classes; i++)
			len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%d %d %d",
						i ? "," : "", meta->colors[i][0],
						meta->colors[i][1], meta->colors[i][2]);
		safetensors_add_meta(w, "colors", text);
	}
}

int checkpoint_save_model(const char *path, const struct graph *g, const float *params,
			  const struct checkpoint_meta *meta)
{
	struct safetensors_writer w;
	int err;

	safetensors_writer_init(&w);
	checkpoint_add_model(&w, g, params, meta);
	err = safetensors_write(&w, path);
	safetensors_writer_free(&w);
	return err;
}

static void add_meta_number(struct safetensors_writer *w, const char *key, double v)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%.17g", v);
	safetensors_add_meta(w, key, buf);
}

static void add_meta_int(struct safetensors_writer *w, const char *key, long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	safetensors_add_meta(w, key, buf);
}

void checkpoint_add_train(struct safetensors_writer *w, const struct optim *o,
			  const struct train_state *ts)
{
	size_t n = optim_state_floats(o->cfg.kind, o->n);

	safetensors_add_f32(w, "optim.state", o->state, 1, &n);
	safetensors_add_meta(w, "optim.kind", o->cfg.kind == OPTIM_SGD ? "sgd" : "adamw");
	add_meta_number(w, "optim.lr", o->cfg.lr);
	add_meta_number(w, "optim.weight_decay", o->cfg.weight_decay);
	add_meta_number(w, "optim.momentum", o->cfg.momentum);
	add_meta_int(w, "optim.nesterov", o->cfg.nesterov);
	add_meta_number(w, "optim.beta1", o->cfg.beta1);
	add_meta_number(w, "optim.beta2", o->cfg.beta2);
	add_meta_number(w, "optim.eps", o->cfg.eps);
	add_meta_int(w, "optim.step", (long long)o->step);
	add_meta_int(w, "state.step", (long long)ts->step);
	add_meta_int(w, "state.epoch", (long long)ts->epoch);
	add_meta_int(w, "state.batch", (long long)ts->batch);
	add_meta_int(w, "state.seed", (long long)ts->seed);
	add_meta_number(w, "state.best_miou", ts->best_miou);
	add_meta_int(w, "state.best_step", (long long)ts->best_step);
}

static int meta_number(const struct safetensors_file *f, const char *key, double *out)
{
	const char *s = need(f, key);
	char *end;

	if (!s)
		return KN_EFORMAT;
	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end)
		return kn_error(KN_EFORMAT, "'%s': metadata %s '%s' is not a number", f->name, key, s);
	return 0;
}

static int meta_int(const struct safetensors_file *f, const char *key, long long lo,
		    long long hi, long long *out)
{
	const char *s = need(f, key);
	char *end;

	if (!s)
		return KN_EFORMAT;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s || *end || *out < lo || *out > hi)
		return kn_error(KN_EFORMAT, "'%s': metadata %s '%s' is not an integer in %lld..%lld",
				f->name, key, s, lo, hi);
	return 0;
}

int checkpoint_read_optim_config(const struct safetensors_file *f, struct optim_config *cfg)
{
	const char *kind = need(f, "optim.kind");
	long long nesterov;
	int err;

	if (!kind)
		return KN_EFORMAT;
	if (strcmp(kind, "sgd") && strcmp(kind, "adamw"))
		return kn_error(KN_EFORMAT, "'%s': unknown optimizer '%s'", f->name, kind);
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = strcmp(kind, "sgd") ? OPTIM_ADAMW : OPTIM_SGD;
	if ((err = meta_number(f, "optim.lr", &cfg->lr)) ||
	    (err = meta_number(f, "optim.weight_decay", &cfg->weight_decay)) ||
	    (err = meta_number(f, "optim.momentum", &cfg->momentum)) ||
	    (err = meta_int(f, "optim.nesterov", 0, 1, &nesterov)) ||
	    (err = meta_number(f, "optim.beta1", &cfg->beta1)) ||
	    (err = meta_number(f, "optim.beta2", &cfg->beta2)) ||
	    (err = meta_number(f, "optim.eps", &cfg->eps)))
		return err;
	cfg->nesterov = nesterov != 0;
	return 0;
}

int checkpoint_read_train(const struct safetensors_file *f, struct optim *o,
			  struct train_state *ts)
{
	size_t n = optim_state_floats(o->cfg.kind, o->n);
	long long step, v[5];
	int err;

	if (strcmp(safetensors_meta_get(f, "kind") ? safetensors_meta_get(f, "kind") : "",
		   "train"))
		return kn_error(KN_EFORMAT, "'%s': not a training checkpoint (kind is not 'train')",
				f->name);
	if ((err = safetensors_copy_f32_finite(f, "optim.state", o->state, 1, &n)))
		return err;
	if ((err = meta_int(f, "optim.step", 0, INT64_MAX, &step)) ||
	    (err = meta_int(f, "state.step", 0, INT64_MAX, &v[0])) ||
	    (err = meta_int(f, "state.epoch", 0, INT_MAX, &v[1])) ||
	    (err = meta_int(f, "state.batch", 0, INT_MAX, &v[2])) ||
	    (err = meta_int(f, "state.seed", LLONG_MIN, LLONG_MAX, &v[3])) ||
	    (err = meta_int(f, "state.best_step", -1, v[0], &v[4])) ||
	    (err = meta_number(f, "state.best_miou", &ts->best_miou)))
		return err;
	/* NaN stands for no validation yet; anything else outside [0, 1] would stop every
	 * later validation from counting as the best. */
	if (!isnan(ts->best_miou) && !(ts->best_miou >= 0 && ts->best_miou <= 1))
		return kn_error(KN_EFORMAT, "'%s': metadata state.best_miou '%s' is not a mIoU in "
				"[0, 1] (or nan)", f->name, safetensors_meta_get(f, "state.best_miou"));
	o->step = step;
	ts->step = v[0];
	ts->epoch = v[1];
	ts->batch = v[2];
	ts->seed = (uint64_t)v[3];
	ts->best_step = v[4];
	return 0;
}

/* Reads a "train" file's optimizer and run state into scratch memory, as --resume would. */
static int verify_train(const struct safetensors_file *f, size_t nparams)
{
	struct optim_config oc;
	struct train_state ts;
	struct optim o;
	int err = checkpoint_read_optim_config(f, &oc);

	if (err)
		return err;
	memset(&o, 0, sizeof(o));
	o.cfg = oc;
	o.n = nparams;
	o.state = kn_try_alloc(optim_state_floats(oc.kind, nparams) * sizeof(float),
			       "the optimizer state");
	if (!o.state)
		return KN_ENOMEM;
	err = checkpoint_read_train(f, &o, &ts);
	free(o.state);
	return err;
}

int checkpoint_verify(const struct safetensors_file *f, const struct checkpoint_meta *meta)
{
	bool backbone = !strcmp(meta->kind, "backbone");
	struct graph g;
	float *params;
	int err = net_build(&g, &meta->cfg, 1, 32, 32);

	if (err)
		return kn_error_prefix(err, "'%s'", f->name);
	params = kn_try_alloc(g.param_count * sizeof(float), "the parameters");
	err = params ? checkpoint_load_params(f, &g, params, backbone ? "backbone." : "")
		     : KN_ENOMEM;
	if (!err && !strcmp(meta->kind, "train"))
		err = verify_train(f, g.param_count);
	free(params);
	graph_free(&g);
	return err;
}
