/*
 * Running a graph: buffer planning, the forward pass, the loss and the backward pass.
 * See model.h. The forward pass is the graph's op list in order; the backward pass is
 * the same list reversed, each op's backward ACCUMULATING into the gradients of its
 * inputs, which are zeroed just before their first contribution.
 */
#include "nets/model.h"
#include "io/alloc.h"
#include "io/arena.h"
#include "io/clock.h"
#include "io/error.h"
#include "nets/activation.h"
#include "nets/conv.h"
#include "nets/kernelnorm.h"
#include "nets/knconv.h"
#include "nets/loss.h"
#include "nets/plan.h"
#include "nets/pool.h"
#include "io/rng.h"
#include "nets/upsample.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct model_op_state {
	union {
		struct knconv_geom kn;
		struct conv_geom conv;
		struct kernelnorm_geom kn1;
		struct pool_geom pool;
	} geom;
	float *mu, *s;     /* KN statistics, units floats each */
	size_t units;
	uint8_t *keep;     /* statistics dropout mask, mask_count flags (or NULL) */
	size_t mask_count;
	int32_t *argmax;   /* maxpool winners */
};

static size_t value_count(const struct model *m, int v)
{
	const struct graph_value *gv = &m->g.values[v];

	return (size_t)m->n * gv->c * gv->h * gv->w;
}

/* Geometry, statistics, mask and workspace sizes of every op. */
static void setup_ops(struct model *m)
{
	const struct graph *g = &m->g;

	for (int i = 0; i < g->nops; i++) {
		const struct graph_op *op = &g->ops[i];
		const struct graph_value *in = &g->values[op->in0], *out = &g->values[op->out];
		struct model_op_state *st = &m->st[i];
		size_t ws = 0;

		switch (op->kind) {
		case OP_KNCONV:
			st->geom.kn = knconv_geom_make(m->n, in->c, in->h, in->w, out->c, op->kh,
						       op->kw, op->sh, op->sw, op->pad, op->p);
			st->units = knconv_unit_count(&st->geom.kn);
			st->mask_count = knconv_mask_count(&st->geom.kn);
			ws = knconv_workspace_floats(&st->geom.kn);
			break;
		case OP_CONV:
			st->geom.conv = conv_geom_make(m->n, in->c, in->h, in->w, out->c, op->kh,
						       op->kw, op->sh, op->sw, op->pad);
			ws = conv_workspace_floats(&st->geom.conv);
			break;
		case OP_KN1X1:
			st->geom.kn1 = kernelnorm_geom_1x1(m->n, in->c, in->h, in->w, op->p);
			st->units = kernelnorm_unit_count(&st->geom.kn1);
			st->mask_count = kernelnorm_out_count(&st->geom.kn1);
			break;
		case OP_MAXPOOL:
			st->geom.pool = pool_geom_make(m->n, in->c, in->h, in->w, op->kh, op->kw,
						       op->sh, op->sw, op->pad[2], op->pad[0]);
			m->argmax_count += value_count(m, op->out);
			break;
		default:
			break;
		}
		if (ws > m->ws_floats)
			m->ws_floats = ws;
	}
}

/* Whether op i draws a statistics dropout mask in the model's mode. */
static bool op_uses_mask(const struct model *m, int i)
{
	const struct graph_op *op = &m->g.ops[i];
	enum knorm_mode mode = m->mode == MODEL_TRAIN ? KNORM_TRAIN : m->kn_eval;

	if (op->kind != OP_KNCONV && op->kind != OP_KN1X1)
		return false;
	return dropout_uses_mask(mode, op->p);
}

static int alloc_masks(struct model *m)
{
	size_t total = 0;

	free(m->masks);
	for (int i = 0; i < m->g.nops; i++) {
		m->st[i].keep = NULL;
		if (op_uses_mask(m, i))
			total += m->st[i].mask_count;
	}
	m->mask_bytes = total;
	m->masks = kn_try_malloc(total ? total : 1, 1, "statistics dropout masks");
	if (!m->masks)
		return KN_ENOMEM;
	total = 0;
	for (int i = 0; i < m->g.nops; i++) {
		m->st[i].keep = NULL;
		if (op_uses_mask(m, i)) {
			m->st[i].keep = m->masks + total;
			total += m->st[i].mask_count;
		}
	}
	return 0;
}

/* Last op reading each value (g.nops for the output, which the loss reads). */
static void last_uses(const struct graph *g, int *last)
{
	for (int v = 0; v < g->nvalues; v++)
		last[v] = -1;
	for (int i = 0; i < g->nops; i++) {
		last[g->ops[i].in0] = i;
		if (g->ops[i].in1 >= 0)
			last[g->ops[i].in1] = i;
	}
	last[g->output] = g->nops;
}

/* When value v's memory may be reused: never for the input, which the caller fills
 * once and may run again, nor the output, which the caller reads after the pass. */
static int activation_end(const struct model *m, int v)
{
	if (m->mode == MODEL_TRAIN || v == m->g.input || v == m->g.output)
		return INT_MAX - 1;
	return m->last[v];
}

/*
 * Activations. Training keeps them all (the backward pass reads them); inference lets a
 * value's memory go once its last reader has run (activation_end). Time i is op i; the
 * input lives from time -1.
 */
static int plan_activations(struct model *m)
{
	const struct graph *g = &m->g;
	struct plan_item *items = xcalloc((size_t)g->nvalues, sizeof(*items));

	for (int v = 0; v < g->nvalues; v++) {
		items[v].size = value_count(m, v);
		items[v].start = -1;
		items[v].end = activation_end(m, v);
	}
	for (int i = 0; i < g->nops; i++)
		items[g->ops[i].out].start = i;
	for (int v = 0; v < g->nvalues; v++)
		if (items[v].end < items[v].start)
			items[v].end = items[v].start; /* an unread value (never in these graphs) */
	if (m->mode == MODEL_TRAIN)
		for (int v = 0; v < g->nvalues; v++)
			items[v].start = -1;
	m->act_floats = plan_buffers(items, g->nvalues);
	m->act = kn_try_malloc_aligned(m->act_floats ? m->act_floats : 1, sizeof(float),
				       "activations");
	for (int v = 0; v < g->nvalues && m->act; v++)
		m->val[v] = m->act + items[v].offset;
	free(items);
	return m->act ? 0 : KN_ENOMEM;
}

/*
 * Activation gradients, in backward time T(i) = nops - 1 - i: the gradient of v is
 * written first by the backward of its last reader and read last by the backward of
 * its producer. The output's gradient comes from the loss at time -1. The input needs
 * none.
 */
static int plan_gradients(struct model *m, const int *last)
{
	const struct graph *g = &m->g;
	struct plan_item *items = xcalloc((size_t)g->nvalues, sizeof(*items));
	int nops = g->nops;

	for (int v = 0; v < g->nvalues; v++) {
		items[v].start = items[v].end = 0;
		items[v].size = 0;
	}
	for (int i = 0; i < nops; i++) {
		int v = g->ops[i].out;

		items[v].size = value_count(m, v);
		items[v].start = last[v] >= nops ? -1 : nops - 1 - last[v];
		items[v].end = nops - 1 - i;
	}
	m->dact_floats = plan_buffers(items, g->nvalues);
	m->dact = kn_try_malloc_aligned(m->dact_floats ? m->dact_floats : 1, sizeof(float),
					"activation gradients");
	for (int v = 0; v < g->nvalues && m->dact; v++)
		m->dval[v] = items[v].size ? m->dact + items[v].offset : NULL;
	free(items);
	return m->dact ? 0 : KN_ENOMEM;
}

/* Each KN layer's statistics mu and s, from a (measuring or real). */
static void lay_out_stats(struct model *m, struct arena *a)
{
	for (int i = 0; i < m->g.nops; i++) {
		struct model_op_state *st = &m->st[i];

		if (st->units) {
			st->mu = arena_take(a, st->units);
			st->s = arena_take(a, st->units);
		}
	}
}

static int carve_stats(struct model *m)
{
	struct arena a;

	arena_init_over(&a, NULL, 0);
	lay_out_stats(m, &a);
	m->stats_floats = a.used;
	m->stats = kn_try_malloc_aligned(m->stats_floats ? m->stats_floats : 1, sizeof(float),
					 "normalization statistics");
	m->argmax = m->stats ? kn_try_malloc(m->argmax_count ? m->argmax_count : 1,
					     sizeof(int32_t), "pooling indices")
			     : NULL;
	m->ws = m->argmax ? kn_try_malloc_aligned(m->ws_floats ? m->ws_floats : 1,
						  sizeof(float), "the workspace")
			  : NULL;
	if (!m->ws)
		return KN_ENOMEM;
	arena_init_over(&a, m->stats, m->stats_floats);
	lay_out_stats(m, &a);
	m->argmax_count = 0;
	for (int i = 0; i < m->g.nops; i++) {
		if (m->g.ops[i].kind == OP_MAXPOOL) {
			m->st[i].argmax = m->argmax + m->argmax_count;
			m->argmax_count += value_count(m, m->g.ops[i].out);
		}
	}
	return 0;
}

int model_create(struct model **out, const struct net_config *cfg, int n, int h, int w,
		 enum model_mode mode)
{
	struct model *m = xcalloc(1, sizeof(*m));
	int err;

	err = net_build(&m->g, cfg, n, h, w);
	if (err) {
		free(m);
		return err;
	}
	m->cfg = *cfg;
	m->mode = mode;
	m->kn_eval = KNORM_EVAL_EXPECTED;
	m->n = n;
	m->h = h;
	m->w = w;
	m->params = xmalloc_aligned(m->g.param_count * sizeof(float));
	memset(m->params, 0, m->g.param_count * sizeof(float));
	m->owns_params = true;
	if (mode == MODEL_TRAIN)
		m->grads = xmalloc_aligned(m->g.param_count * sizeof(float));
	m->val = xcalloc((size_t)m->g.nvalues, sizeof(*m->val));
	m->dval = xcalloc((size_t)m->g.nvalues, sizeof(*m->dval));
	m->st = xcalloc((size_t)m->g.nops, sizeof(*m->st));
	setup_ops(m);
	m->last = xmalloc((size_t)m->g.nvalues * sizeof(int));
	last_uses(&m->g, m->last);
	err = plan_activations(m);
	if (!err && mode == MODEL_TRAIN)
		err = plan_gradients(m, m->last);
	if (!err)
		err = carve_stats(m);
	if (!err)
		err = alloc_masks(m);
	if (err) {
		kn_error_prefix(err, "the network for %d x %d inputs", w, h);
		model_destroy(m);
		return err;
	}
	*out = m;
	return 0;
}

void model_destroy(struct model *m)
{
	if (!m)
		return;
	if (m->owns_params)
		free(m->params);
	free(m->grads);
	free(m->val);
	free(m->dval);
	free(m->st);
	free(m->last);
	free(m->act);
	free(m->dact);
	free(m->stats);
	free(m->ws);
	free(m->masks);
	free(m->argmax);
	graph_free(&m->g);
	free(m);
}

int model_set_kn_eval(struct model *m, enum knorm_mode mode)
{
	CHECK(mode != KNORM_TRAIN);
	m->kn_eval = mode;
	return m->mode == MODEL_EVAL ? alloc_masks(m) : 0;
}

void model_init_weights(struct model *m, uint64_t seed)
{
	for (int i = 0; i < m->g.nparams; i++) {
		const struct graph_param *p = &m->g.params[i];
		float *x = m->params + p->offset;
		struct rng r;

		/* One stream per parameter: adding a parameter leaves the others unchanged. */
		rng_init_stream(&r, seed, 0x77656967687473ULL, (uint64_t)i);
		for (size_t j = 0; j < p->count; j++)
			x[j] = p->init_std > 0 ? (float)(p->init_std * rng_normal(&r)) : 0.0f;
	}
}

void model_share_params(struct model *m, const struct model *src)
{
	CHECK(m->g.param_count == src->g.param_count);
	if (m->owns_params)
		free(m->params);
	m->params = src->params;
	m->owns_params = false;
}

float *model_input(struct model *m)
{
	return m->val[m->g.input];
}

const float *model_logits(const struct model *m)
{
	return m->val[m->g.output];
}

void model_set_input(struct model *m, int i, const float *src, int h, int w)
{
	float *dst = model_input(m) + (size_t)i * 3 * m->h * m->w;

	CHECK(i >= 0 && i < m->n && h >= 1 && w >= 1 && h <= m->h && w <= m->w);
	memset(dst, 0, (size_t)3 * m->h * m->w * sizeof(float));
	for (int c = 0; c < 3; c++)
		for (int y = 0; y < h; y++)
			memcpy(dst + ((size_t)c * m->h + y) * m->w, src + ((size_t)c * h + y) * w,
			       (size_t)w * sizeof(float));
}

void model_crop_logits(const struct model *m, int i, float *dst, int h, int w)
{
	int k = m->cfg.num_classes;
	const float *src = model_logits(m) + (size_t)i * k * m->h * m->w;

	CHECK(i >= 0 && i < m->n && h >= 1 && w >= 1 && h <= m->h && w <= m->w);
	for (int c = 0; c < k; c++)
		for (int y = 0; y < h; y++)
			memcpy(dst + ((size_t)c * h + y) * w, src + ((size_t)c * m->h + y) * m->w,
			       (size_t)w * sizeof(float));
}

int model_padded_side(int side)
{
	return (side + 31) / 32 * 32;
}

static const float *param_ptr(const struct model *m, int id)
{
	return id >= 0 ? m->params + m->g.params[id].offset : NULL;
}

static float *grad_ptr(const struct model *m, int id)
{
	return id >= 0 ? m->grads + m->g.params[id].offset : NULL;
}

static struct knorm_cache op_cache(const struct model *m, int i)
{
	struct knorm_cache c;

	c.mu = m->st[i].mu;
	c.s = m->st[i].s;
	c.keep = m->st[i].keep;
	c.mode = m->mode == MODEL_TRAIN ? KNORM_TRAIN : m->kn_eval;
	return c;
}

/*
 * Op i's statistics dropout mask for this step: one draw for the whole batch, or with
 * image_streams one per image slice (masks are image-major: mask_count / n flags each).
 */
static void draw_mask(struct model *m, int i)
{
	struct model_op_state *st = &m->st[i];
	float p = m->g.ops[i].p;
	size_t per_image = st->mask_count / (size_t)m->n;
	struct rng r;

	if (!m->image_streams) {
		rng_init_stream(&r, m->seed, (uint64_t)m->step, (uint64_t)i);
		dropout_mask(st->keep, st->mask_count, p, &r);
		return;
	}
	CHECK(st->mask_count % (size_t)m->n == 0);
	for (int j = 0; j < m->n; j++) {
		dropout_image_stream(&r, m->seed, m->step, i, m->image0 + j);
		dropout_mask(st->keep + (size_t)j * per_image, per_image, p, &r);
	}
}

static void forward_op(struct model *m, int i)
{
	const struct graph_op *op = &m->g.ops[i];
	struct model_op_state *st = &m->st[i];
	const float *in = m->val[op->in0];
	float *out = m->val[op->out];
	const struct graph_value *vi = &m->g.values[op->in0], *vo = &m->g.values[op->out];
	struct knorm_cache cache = op_cache(m, i);

	if (st->keep)
		draw_mask(m, i);
	switch (op->kind) {
	case OP_KNCONV:
		knconv_forward(out, &cache, in, param_ptr(m, op->weight), param_ptr(m, op->bias),
			       &st->geom.kn, m->ws);
		break;
	case OP_CONV:
		conv_forward(out, in, param_ptr(m, op->weight), param_ptr(m, op->bias),
			     &st->geom.conv, m->ws);
		break;
	case OP_KN1X1:
		kernelnorm1x1_forward(out, &cache, in, &st->geom.kn1);
		break;
	case OP_RELU:
		relu_forward(out, in, value_count(m, op->in0));
		break;
	case OP_MAXPOOL:
		maxpool_forward(out, m->mode == MODEL_TRAIN ? st->argmax : NULL, in,
				&st->geom.pool);
		break;
	case OP_ADD:
		residual_add_forward(out, in, m->val[op->in1], value_count(m, op->out));
		break;
	case OP_RESIZE:
		upsample_bilinear_forward(out, in, m->n * vi->c, vi->h, vi->w, vo->h, vo->w);
		break;
	}
}

void model_forward(struct model *m)
{
	for (int i = 0; i < m->g.nops; i++) {
		double t0 = m->fwd_seconds ? kn_seconds() : 0;

		forward_op(m, i);
		if (m->fwd_seconds)
			m->fwd_seconds[i] += kn_seconds() - t0;
	}
}

/*
 * True when op i is the first (in backward order) to write the gradient of value v: its
 * last reader in forward order. ReLU and add then overwrite it (their _set forms), and
 * zero_input_grads leaves it alone; an add of a value to itself accumulates as usual.
 */
static bool writes_first(const struct model *m, int i, int v)
{
	const struct graph_op *op = &m->g.ops[i];
	bool elementwise = op->kind == OP_RELU || (op->kind == OP_ADD && op->in0 != op->in1);

	return elementwise && v >= 0 && m->dval[v] && m->last[v] == i;
}

static void backward_op(struct model *m, int i)
{
	const struct graph_op *op = &m->g.ops[i];
	struct model_op_state *st = &m->st[i];
	const float *in = m->val[op->in0], *dout = m->dval[op->out];
	float *din = m->dval[op->in0];
	const struct graph_value *vi = &m->g.values[op->in0], *vo = &m->g.values[op->out];
	struct knorm_cache cache = op_cache(m, i);

	switch (op->kind) {
	case OP_KNCONV:
		knconv_backward(din, grad_ptr(m, op->weight), grad_ptr(m, op->bias), dout,
				m->val[op->out], &cache, in, param_ptr(m, op->weight),
				param_ptr(m, op->bias), &st->geom.kn, m->ws);
		break;
	case OP_CONV:
		conv_backward(din, grad_ptr(m, op->weight), grad_ptr(m, op->bias), dout, in,
			      param_ptr(m, op->weight), &st->geom.conv, m->ws);
		break;
	case OP_KN1X1:
		if (din)
			kernelnorm1x1_backward(din, dout, &cache, in, &st->geom.kn1);
		break;
	case OP_RELU:
		if (din && writes_first(m, i, op->in0))
			relu_backward_set(din, dout, in, value_count(m, op->in0));
		else if (din)
			relu_backward(din, dout, in, value_count(m, op->in0));
		break;
	case OP_MAXPOOL:
		if (din)
			maxpool_backward(din, dout, st->argmax, &st->geom.pool);
		break;
	case OP_ADD: {
		float *da = din, *db = m->dval[op->in1];
		bool set_a = writes_first(m, i, op->in0), set_b = writes_first(m, i, op->in1);

		residual_add_backward_set(set_a ? da : NULL, set_b ? db : NULL, dout,
					  value_count(m, op->out));
		residual_add_backward(set_a ? NULL : da, set_b ? NULL : db, dout,
				      value_count(m, op->out));
		break;
	}
	case OP_RESIZE:
		if (din)
			upsample_bilinear_backward(din, dout, m->n * vi->c, vi->h, vi->w, vo->h,
						   vo->w);
		break;
	}
}

/* Zeroes the gradients of op i's inputs that op i is the first (in backward order) to
 * write, unless it overwrites them (writes_first). */
static void zero_input_grads(struct model *m, int i)
{
	const struct graph_op *op = &m->g.ops[i];
	int ins[2] = {op->in0, op->in1};

	for (int k = 0; k < 2; k++) {
		int v = ins[k];

		if (v >= 0 && m->dval[v] && m->last[v] == i && !writes_first(m, i, v))
			memset(m->dval[v], 0, value_count(m, v) * sizeof(float));
	}
}

/* The loss's geometry: the logits (n, K, h, w), label 255 ignored. */
static struct loss_ce_geom loss_geom(const struct model *m)
{
	const struct graph_value *out = &m->g.values[m->g.output];
	struct loss_ce_geom lg = {m->n, out->c, out->h * out->w, 255};

	return lg;
}

double model_label_weight(const struct model *m, const uint8_t *labels,
			  const float *class_weights)
{
	struct loss_ce_geom lg = loss_geom(m);

	return loss_ce_weight_sum(labels, class_weights, &lg);
}

double model_backward(struct model *m, const uint8_t *labels, const float *class_weights)
{
	return model_backward_over(m, labels, class_weights,
				   model_label_weight(m, labels, class_weights));
}

double model_backward_over(struct model *m, const uint8_t *labels,
			   const float *class_weights, double wsum)
{
	struct loss_ce_geom lg = loss_geom(m);
	double loss;

	CHECK(m->mode == MODEL_TRAIN);
	memset(m->grads, 0, m->g.param_count * sizeof(float));
	memset(m->dval[m->g.output], 0, value_count(m, m->g.output) * sizeof(float));
	loss = loss_ce_forward_backward_over(m->dval[m->g.output], m->val[m->g.output], labels,
					     class_weights, 1.0f, wsum, &lg);
	for (int i = m->g.nops - 1; i >= 0; i--) {
		const struct graph_op *op = &m->g.ops[i];
		double t0 = m->bwd_seconds ? kn_seconds() : 0;

		zero_input_grads(m, i);
		backward_op(m, i);
		if (m->bwd_seconds)
			m->bwd_seconds[i] += kn_seconds() - t0;
		if (m->grads_ready && op->weight >= 0)
			m->grads_ready(m->grads_ctx, m->g.params[op->weight].offset);
	}
	return loss;
}

size_t model_memory_bytes(const struct model *m)
{
	size_t floats = m->g.param_count * (m->owns_params ? 1 : 0) +
			(m->grads ? m->g.param_count : 0) + m->act_floats + m->dact_floats +
			m->stats_floats + m->ws_floats;

	return floats * sizeof(float) + m->mask_bytes + m->argmax_count * sizeof(int32_t);
}
