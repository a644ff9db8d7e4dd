/*
 * Model-level behaviour: buffer planning, weight initialization, padded inputs and
 * cropped logits, reproducible statistics dropout, results that do not depend on the
 * thread count, and data-parallel splits of a batch: per-image mask streams that give
 * the same logits however the batch is split, and a loss over the whole batch's weight
 * sum whose parts add up to the batch's loss and gradient.
 */
#include "tests/testutil.h"

#include "nets/gemm.h"
#include "nets/kernelnorm.h"
#include "nets/knconv.h"
#include "nets/model.h"
#include "nets/plan.h"
#include "io/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool overlaps(const struct plan_item *a, const struct plan_item *b)
{
	bool in_time = a->start <= b->end && b->start <= a->end;
	bool in_memory = a->offset < b->offset + b->size && b->offset < a->offset + a->size;

	return in_time && in_memory && a->size && b->size;
}

static void test_plan_never_overlaps_live_buffers(void **state)
{
	struct plan_item items[60];
	struct rng r;
	size_t total, sum = 0, peak = 0;

	(void)state;
	rng_init(&r, 5);
	for (int i = 0; i < 60; i++) {
		items[i].start = (int)rng_below(&r, 40);
		items[i].end = items[i].start + (int)rng_below(&r, 10);
		items[i].size = 1 + rng_below(&r, 1000);
		sum += items[i].size;
	}
	total = plan_buffers(items, 60);
	for (int i = 0; i < 60; i++) {
		assert_int_equal(items[i].offset % 16, 0);
		assert_true(items[i].offset + items[i].size <= total);
		for (int j = i + 1; j < 60; j++)
			assert_false(overlaps(&items[i], &items[j]));
	}
	for (int t = 0; t < 50; t++) {
		size_t live = 0;

		for (int i = 0; i < 60; i++)
			if (items[i].start <= t && t <= items[i].end)
				live += items[i].size;
		if (live > peak)
			peak = live;
	}
	/* Sharing happened: less than the sum, and never less than the peak live size. */
	assert_true(total >= peak && total < sum);
}

/* An output starting when an input ends must not take the input's memory. */
static void test_plan_output_never_takes_input(void **state)
{
	struct plan_item items[2] = {{0, 3, 100, 0}, {3, 5, 100, 0}};

	(void)state;
	plan_buffers(items, 2);
	assert_true(items[0].offset != items[1].offset);
}

static struct net_config tiny(enum net_head head, float p)
{
	struct net_config cfg = net_config_default(NET_KNRESNET18, head, 4);

	cfg.width = 0.05f;
	cfg.p = p;
	return cfg;
}

static void test_kaiming_init(void **state)
{
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 19);
	struct model *a, *b;
	int id;
	double sum = 0, sum2 = 0;
	const struct graph_param *p;

	(void)state;
	assert_int_equal(model_create(&a, &cfg, 1, 64, 64, MODEL_EVAL), 0);
	assert_int_equal(model_create(&b, &cfg, 1, 64, 64, MODEL_EVAL), 0);
	model_init_weights(a, 3);
	model_init_weights(b, 3);
	assert_memory_equal(a->params, b->params, a->g.param_count * sizeof(float));
	id = graph_find_param(&a->g, "backbone.res_block3.conv1.weight");
	p = &a->g.params[id];
	for (size_t i = 0; i < p->count; i++) {
		double x = a->params[p->offset + i];

		sum += x;
		sum2 += x * x;
	}
	/* fan_out = 256 * 2 * 2: std sqrt(2 / 1024), within a few standard errors. */
	assert_true(fabs(sum / p->count) < 5 * sqrt(2.0 / 1024 / p->count));
	assert_true(fabs(sqrt(sum2 / p->count) / sqrt(2.0 / 1024) - 1) < 0.01);
	id = graph_find_param(&a->g, "backbone.res_block3.conv1.bias");
	for (size_t i = 0; i < a->g.params[id].count; i++)
		assert_true(a->params[a->g.params[id].offset + i] == 0.0f);
	model_init_weights(b, 4);
	assert_memory_not_equal(a->params, b->params, a->g.param_count * sizeof(float));
	model_destroy(a);
	model_destroy(b);
}

static void test_padded_input_and_crop(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FPN, 0.05f);
	int h = 37, w = 50, hp = model_padded_side(h), wp = model_padded_side(w), k = 4;
	float *img = malloc(3 * h * w * sizeof(float)), *logits = malloc(k * h * w * sizeof(float));
	const float *in, *full;
	struct model *m;

	(void)state;
	assert_int_equal(hp, 64);
	assert_int_equal(wp, 64);
	assert_int_equal(model_create(&m, &cfg, 2, hp, wp, MODEL_EVAL), 0);
	model_init_weights(m, 1);
	fill_uniform(img, 3 * h * w, -2, 2, 9);
	model_set_input(m, 0, img, h, w);
	model_set_input(m, 1, img, h, w);
	in = model_input(m) + 3 * hp * wp;
	for (int c = 0; c < 3; c++)
		for (int y = 0; y < hp; y++)
			for (int x = 0; x < wp; x++) {
				float want = y < h && x < w ? img[(c * h + y) * w + x] : 0.0f;

				assert_true(in[(c * hp + y) * wp + x] == want);
			}
	model_forward(m);
	model_crop_logits(m, 1, logits, h, w);
	full = model_logits(m) + k * hp * wp;
	for (int c = 0; c < k; c++)
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				assert_true(logits[(c * h + y) * w + x] == full[(c * hp + y) * wp + x]);
	/* Both images of the batch are the same, so are their logits. */
	assert_memory_equal(model_logits(m), full, k * hp * wp * sizeof(float));
	free(img);
	free(logits);
	model_destroy(m);
}

/* Runs one training forward and backward; copies logits and gradients out, returns the loss. */
static double train_step(struct model *m, int64_t step, float *logits, float *grads)
{
	double loss;

	const struct graph_value *out = &m->g.values[m->g.output];
	size_t npix = (size_t)m->n * out->h * out->w, nlog = npix * out->c;
	uint8_t *labels = malloc(npix);

	for (size_t i = 0; i < npix; i++)
		labels[i] = (uint8_t)(i * 7 % 5 == 4 ? 255 : i % 4);
	fill_uniform(model_input(m), (size_t)m->n * 3 * m->h * m->w, -2, 2, 11);
	m->step = step;
	model_forward(m);
	memcpy(logits, model_logits(m), nlog * sizeof(float));
	loss = model_backward(m, labels, NULL);
	memcpy(grads, m->grads, m->g.param_count * sizeof(float));
	free(labels);
	return loss;
}

static void test_dropout_reproducible_per_step(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FCN, 0.05f);
	struct model *m;
	size_t nlog = 2 * 4 * 64 * 64;
	float *l1 = malloc(nlog * 4), *l2 = malloc(nlog * 4), *l3 = malloc(nlog * 4);
	float *g1, *g2, *g3;

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 2, 64, 64, MODEL_TRAIN), 0);
	model_init_weights(m, 2);
	m->seed = 77;
	g1 = malloc(m->g.param_count * 4);
	g2 = malloc(m->g.param_count * 4);
	g3 = malloc(m->g.param_count * 4);
	train_step(m, 5, l1, g1);
	train_step(m, 6, l2, g2);
	train_step(m, 5, l3, g3);
	assert_memory_equal(l1, l3, nlog * 4);
	assert_memory_equal(g1, g3, m->g.param_count * 4);
	assert_memory_not_equal(l1, l2, nlog * 4);
	free(l1), free(l2), free(l3), free(g1), free(g2), free(g3);
	model_destroy(m);
}

/* What the gradients-ready hook saw: each call's first index and the gradients then. */
struct ready_log {
	const struct model *m;
	size_t firsts[256];
	float *seen; /* at each call, the gradients it newly declares final */
	int calls;
};

static void on_ready(void *ctx, size_t first)
{
	struct ready_log *log = ctx;
	size_t end = log->calls ? log->firsts[log->calls - 1] : log->m->g.param_count;

	assert_true(log->calls < 256);
	log->firsts[log->calls++] = first;
	if (first < end)
		memcpy(log->seen + first, log->m->grads + first, (end - first) * sizeof(float));
}

/*
 * The hook of data-parallel training: called with ever smaller first indices, the last
 * at the first parameter, and what it saw of grads[first, count) at each call is what
 * the pass ends with (so a caller may send those gradients at once). The pass itself is
 * unchanged by the hook.
 */
static void test_grads_ready_hook(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FPN, 0.05f);
	struct ready_log log = {0};
	struct model *m;
	size_t nlog = 2 * 4 * 64 * 64, n;
	float *logits = malloc(nlog * 4), *plain, *hooked;

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 2, 64, 64, MODEL_TRAIN), 0);
	model_init_weights(m, 2);
	n = m->g.param_count;
	plain = malloc(n * 4);
	hooked = malloc(n * 4);
	log.m = m;
	log.seen = calloc(n, 4);
	train_step(m, 3, logits, plain);
	m->grads_ready = on_ready;
	m->grads_ctx = &log;
	train_step(m, 3, logits, hooked);
	assert_memory_equal(plain, hooked, n * 4);
	assert_true(log.calls > 5);
	for (int i = 1; i < log.calls; i++)
		assert_true(log.firsts[i] < log.firsts[i - 1]);
	assert_int_equal(log.firsts[log.calls - 1], 0);
	assert_memory_equal(log.seen, hooked, n * 4);
	free(log.seen), free(logits), free(plain), free(hooked);
	model_destroy(m);
}

/* Logits, loss and gradients of a training step: the same bits at 1, 2, 3 and 4 threads. */
static void test_same_results_at_any_thread_count(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FPN, 0.05f);
	const int counts[] = TEST_THREAD_COUNTS;
	struct model *m;
	size_t nlog = 2 * 4 * 64 * 96;
	float *l1 = malloc(nlog * 4), *l2 = malloc(nlog * 4), *g1, *g2;
	int threads = kn_get_threads();
	double loss1 = 0;

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 2, 64, 96, MODEL_TRAIN), 0);
	model_init_weights(m, 2);
	g1 = malloc(m->g.param_count * 4);
	g2 = malloc(m->g.param_count * 4);
	for (int i = 0; i < TEST_THREAD_COUNT_N; i++) {
		double loss;

		kn_set_threads(counts[i]);
		loss = train_step(m, 3, i ? l2 : l1, i ? g2 : g1);
		if (i == 0) {
			loss1 = loss;
			continue;
		}
		assert_true(loss == loss1);
		assert_memory_equal(l1, l2, nlog * 4);
		assert_memory_equal(g1, g2, m->g.param_count * 4);
	}
	kn_set_threads(threads);
	free(l1), free(l2), free(g1), free(g2);
	model_destroy(m);
}

/*
 * An image's logits are the same bits alone (batch 1) and as the middle image of a
 * batch of 3, in inference and in training models (without dropout), at 1 and 2
 * threads.
 */
static void test_image_alone_or_in_a_batch(void **state)
{
	const int h = 96, w = 128, k = 4, counts[] = {1, 2};
	size_t img = 3 * h * w, nlog = (size_t)k * h * w;
	float *x = malloc(3 * img * 4), *alone = malloc(nlog * 4);
	int threads = kn_get_threads();

	(void)state;
	fill_uniform(x, 3 * img, -2, 2, 17);
	for (int kind = 0; kind < 2; kind++) {
		struct net_config cfg = tiny(kind ? NET_HEAD_FPN : NET_HEAD_FCN, 0.0f);
		enum model_mode mk = kind ? MODEL_TRAIN : MODEL_EVAL;

		for (int t = 0; t < 2; t++) {
			struct model *one, *three;

			kn_set_threads(counts[t]);
			assert_int_equal(model_create(&one, &cfg, 1, h, w, mk), 0);
			assert_int_equal(model_create(&three, &cfg, 3, h, w, mk), 0);
			model_init_weights(one, 5);
			model_init_weights(three, 5);
			memcpy(model_input(one), x + img, img * 4);
			memcpy(model_input(three), x, 3 * img * 4);
			model_forward(one);
			model_forward(three);
			memcpy(alone, model_logits(one), nlog * 4);
			assert_memory_equal(model_logits(three) + nlog, alone, nlog * 4);
			model_destroy(one);
			model_destroy(three);
		}
	}
	kn_set_threads(threads);
	free(x);
	free(alone);
}

static void test_inference_modes(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FCN, 0.05f);
	struct model *m;
	size_t nlog = 4 * 64 * 64;
	float *e = malloc(nlog * 4), *s1 = malloc(nlog * 4), *s2 = malloc(nlog * 4);

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 1, 64, 64, MODEL_EVAL), 0);
	model_init_weights(m, 2);
	fill_uniform(model_input(m), 3 * 64 * 64, -2, 2, 4);
	model_forward(m);
	memcpy(e, model_logits(m), nlog * 4);
	model_forward(m);
	assert_memory_equal(e, model_logits(m), nlog * 4); /* expected mode: deterministic */
	model_set_kn_eval(m, KNORM_EVAL_NONE);
	model_forward(m);
	assert_memory_not_equal(e, model_logits(m), nlog * 4);
	model_set_kn_eval(m, KNORM_EVAL_SAMPLE);
	m->seed = 1;
	model_forward(m);
	memcpy(s1, model_logits(m), nlog * 4);
	model_forward(m);
	memcpy(s2, model_logits(m), nlog * 4);
	assert_memory_equal(s1, s2, nlog * 4); /* seeded: the same step samples the same */
	m->step = 1;
	model_forward(m);
	assert_memory_not_equal(s1, model_logits(m), nlog * 4);
	free(e), free(s1), free(s2);
	model_destroy(m);
}

/* FNV-1a over n bytes: a fingerprint of masks recorded before a change. */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Flags of op i's mask (0 when it draws none in training), from the graph's shapes. */
static size_t op_mask_count(const struct model *m, int i)
{
	const struct graph_op *op = &m->g.ops[i];
	const struct graph_value *in = &m->g.values[op->in0], *out = &m->g.values[op->out];

	if (op->p <= 0)
		return 0;
	if (op->kind == OP_KNCONV) {
		struct knconv_geom g = knconv_geom_make(m->n, in->c, in->h, in->w, out->c, op->kh,
							op->kw, op->sh, op->sw, op->pad, op->p);

		return knconv_mask_count(&g);
	}
	if (op->kind == OP_KN1X1) {
		struct kernelnorm_geom g = kernelnorm_geom_1x1(m->n, in->c, in->h, in->w, op->p);

		return kernelnorm_out_count(&g);
	}
	return 0;
}

/*
 * Without image_streams, the masks of a batch of 4 are what they were before per-image
 * streams existed: the fingerprint of all of them taken then (FPN, width 0.05, 64x64,
 * seed 77, step 5), and each op's mask a direct draw from the stream (seed, step, op).
 * With image_streams, image j's slice of each op's mask is a direct draw from
 * dropout_image_stream(seed, step, op, image0 + j).
 */
static void test_mask_streams(void **state)
{
	struct net_config cfg = tiny(NET_HEAD_FPN, 0.05f);
	struct model *m;
	uint8_t *want;
	size_t at = 0;
	int with_masks = 0;

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 4, 64, 64, MODEL_TRAIN), 0);
	want = malloc(m->mask_bytes);
	m->seed = 77;
	m->step = 5;
	model_forward(m);
	assert_int_equal(m->mask_bytes, 204272);
	assert_true(fnv1a(m->masks, m->mask_bytes) == 0xcf3ae4d93896b9a3ULL);
	for (int i = 0; i < m->g.nops; i++) {
		size_t count = op_mask_count(m, i);
		struct rng r;

		if (!count)
			continue;
		rng_init_stream(&r, 77, 5, (uint64_t)i);
		dropout_mask(want + at, count, m->g.ops[i].p, &r);
		at += count;
		with_masks++;
	}
	assert_int_equal(at, m->mask_bytes);
	assert_memory_equal(m->masks, want, at);
	/* Both kinds of KN op draw masks: the stem's KNConv and the head's KernelNorm. */
	assert_true(with_masks > 10);

	m->image_streams = true;
	m->image0 = 6;
	model_forward(m);
	at = 0;
	for (int i = 0; i < m->g.nops; i++) {
		size_t count = op_mask_count(m, i), per = count / 4;

		assert_int_equal(count % 4, 0);
		for (int j = 0; j < 4 && count; j++) {
			struct rng r;

			dropout_image_stream(&r, 77, 5, i, 6 + j);
			dropout_mask(want + at + j * per, per, m->g.ops[i].p, &r);
		}
		at += count;
	}
	assert_memory_equal(m->masks, want, at);
	free(want);
	model_destroy(m);
}

/* Per-image stream keys never collide within the documented ranges. */
static void test_image_stream_keys_distinct(void **state)
{
	const int64_t steps[] = {0, 1, INT64_MAX};
	const int layers[] = {0, 1, (1 << 24) - 1};
	const int64_t images[] = {0, 1, ((int64_t)1 << 40) - 1};
	uint64_t seen[27 + 1];
	int n = 0;
	struct rng r;

	(void)state;
	for (int a = 0; a < 3; a++)
		for (int b = 0; b < 3; b++)
			for (int c = 0; c < 3; c++) {
				dropout_image_stream(&r, 9, steps[a], layers[b], images[c]);
				seen[n++] = r.s[0];
			}
	/* The whole-batch stream of step 0, layer 0 is none of them either. */
	rng_init_stream(&r, 9, 0, 0);
	seen[n++] = r.s[0];
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			assert_true(seen[i] != seen[j]);
}

/*
 * Two training models of 2 images each, image0 = 0 and 2, compute the logits a training
 * model of 4 computes for the same images, bitwise, when every model draws per-image
 * mask streams: the forward pass is per image apart from the masks (KNConv, KernelNorm
 * and pooling statistics are per image and position, the convolutions' GEMMs do not
 * sum across images, test_image_alone_or_in_a_batch). Both heads, at 1 and 2 threads.
 * With whole-batch streams the split changes the logits.
 */
static void test_image_streams_split_batch(void **state)
{
	const int h = 64, w = 96, k = 4, counts[] = {1, 2};
	size_t img = 3 * (size_t)h * w, nlog = (size_t)k * h * w;
	int threads = kn_get_threads();

	(void)state;
	for (int run = 0; run < 4; run++) {
		struct net_config cfg = tiny(run / 2 ? NET_HEAD_FCN : NET_HEAD_FPN, 0.05f);
		struct model *full, *half[2];

		kn_set_threads(counts[run % 2]);
		assert_int_equal(model_create(&full, &cfg, 4, h, w, MODEL_TRAIN), 0);
		model_init_weights(full, 5);
		fill_uniform(model_input(full), 4 * img, -2, 2, 23);
		full->seed = 41;
		full->step = 9;
		full->image_streams = true;
		model_forward(full);
		for (int p = 0; p < 2; p++) {
			assert_int_equal(model_create(&half[p], &cfg, 2, h, w, MODEL_TRAIN), 0);
			model_share_params(half[p], full);
			memcpy(model_input(half[p]), model_input(full) + 2 * p * img, 2 * img * 4);
			half[p]->seed = 41;
			half[p]->step = 9;
			half[p]->image_streams = true;
			half[p]->image0 = 2 * p;
			model_forward(half[p]);
			assert_memory_equal(model_logits(half[p]), model_logits(full) + 2 * p * nlog,
					    2 * nlog * 4);
		}
		/* Whole-batch streams: the second half draws other masks than images 2, 3. */
		half[1]->image_streams = false;
		model_forward(half[1]);
		assert_memory_not_equal(model_logits(half[1]), model_logits(full) + 2 * nlog,
					2 * nlog * 4);
		model_destroy(half[0]);
		model_destroy(half[1]);
		model_destroy(full);
	}
	kn_set_threads(threads);
}

/* The class with the largest (most) or smallest logit of pixel s of image i. */
static uint8_t extreme_class(const float *logits, int i, int k, size_t hw, size_t s, bool most)
{
	const float *x = logits + (size_t)i * k * hw + s;
	int best = 0;

	for (int c = 1; c < k; c++)
		if (most ? x[c * hw] > x[best * hw] : x[c * hw] < x[best * hw])
			best = c;
	return (uint8_t)best;
}

/*
 * Labels for a batch of 4 whose halves differ: images 0 and 1 mostly ignored (15
 * pixels in 16) and labelled with each pixel's likeliest class (a small loss), images 2
 * and 3 rarely ignored (1 in 16) and labelled with the least likely class (a large
 * loss).
 */
static void uneven_labels(uint8_t *y, const float *logits, int k, size_t hw)
{
	for (int i = 0; i < 4; i++)
		for (size_t s = 0; s < hw; s++) {
			bool ignored = i < 2 ? s % 16 != 3 : s % 16 == 7;

			y[i * hw + s] = ignored ? 255 : extreme_class(logits, i, k, hw, s, i < 2);
		}
}

/*
 * A batch of 4 split in two halves, each running model_backward_over with the weight
 * sum of the whole batch, gives the whole batch's loss (the two halves' losses add up)
 * and gradient (the two halves' gradients add up). The halves hold very different
 * numbers of valid pixels and losses, so the mean of the halves' own losses (what
 * model_backward on each half gives) is clearly not the batch's.
 *
 * Tolerances. The logits are the same bits in the halves and in the batch (per-image
 * streams), and so are the per-pixel loss terms and the gradients of the logits; only
 * the order of sums differs. The loss is a double sum of 16384 positive terms:
 * reordering it moves it by at most 16384 * 2^-53 (2e-12) relative, hence 1e-11. A
 * parameter gradient is a float sum over up to 4 * 64 * 64 = 16384 positions (times
 * channels) of per-position terms, taken in blocks by the GEMMs and the per-channel
 * loops; the batch takes one such sum, the halves one over 2 images each, which the
 * test adds in float. Reordering a float sum of L terms moves it by about
 * sqrt(L) * 2^-24 of the terms' magnitudes (sqrt(16384) * 6e-8 = 8e-6), up to
 * L * 2^-24 in the worst case, which rounding errors of random sign do not approach.
 * Elements may cancel, so each tensor is compared to 1e-5 of its largest gradient (a
 * stand-in for the terms' magnitudes) besides 1e-5 relative: measured, the differences
 * stay below 1.5e-7 of it, while the mean of the halves' own means misses by more than
 * 1e-2 of it in every tensor.
 */
static void test_backward_over_splits_batch(void **state)
{
	const int h = 64, w = 64, k = 4;
	const float cw[4] = {0.5f, 1.0f, 1.5f, 2.0f};
	size_t img = 3 * (size_t)h * w, hw = (size_t)h * w;
	struct net_config cfg = tiny(NET_HEAD_FPN, 0.05f);
	struct model *full, *half[2];
	uint8_t *y = malloc(4 * hw);
	float *g_full, *g_sum, *g_own;
	const struct graph_param *cls;
	double wsum, wpart[2], loss, loss_full, loss_part[2], loss_own[2];
	size_t np;

	(void)state;
	assert_int_equal(model_create(&full, &cfg, 4, h, w, MODEL_TRAIN), 0);
	model_init_weights(full, 6);
	fill_uniform(model_input(full), 4 * img, -2, 2, 29);
	np = full->g.param_count;
	g_full = malloc(np * 4);
	g_sum = malloc(np * 4);
	g_own = malloc(np * 4);
	/* Logits 64 times as far apart, so that the two halves' losses differ widely. */
	cls = &full->g.params[graph_find_param(&full->g, "head.cls.weight")];
	for (size_t j = 0; j < cls->count; j++)
		full->params[cls->offset + j] *= 64.0f;
	full->seed = 3;
	full->step = 12;
	full->image_streams = true;
	model_forward(full);
	uneven_labels(y, model_logits(full), k, hw);
	wsum = model_label_weight(full, y, cw);
	loss_full = model_backward(full, y, cw);
	memcpy(g_full, full->grads, np * 4);
	/* model_backward is model_backward_over its own weight sum, bit for bit. */
	loss = model_backward_over(full, y, cw, wsum);
	assert_true(loss == loss_full);
	assert_memory_equal(full->grads, g_full, np * 4);

	for (int p = 0; p < 2; p++) {
		const uint8_t *yp = y + 2 * p * hw;

		assert_int_equal(model_create(&half[p], &cfg, 2, h, w, MODEL_TRAIN), 0);
		model_share_params(half[p], full);
		memcpy(model_input(half[p]), model_input(full) + 2 * p * img, 2 * img * 4);
		half[p]->seed = 3;
		half[p]->step = 12;
		half[p]->image_streams = true;
		half[p]->image0 = 2 * p;
		model_forward(half[p]);
		wpart[p] = model_label_weight(half[p], yp, cw);
		loss_own[p] = model_backward(half[p], yp, cw);
		for (size_t i = 0; i < np; i++)
			g_own[i] = (p ? g_own[i] : 0.0f) + 0.5f * half[p]->grads[i];
		loss_part[p] = model_backward_over(half[p], yp, cw, wsum);
		for (size_t i = 0; i < np; i++)
			g_sum[i] = (p ? g_sum[i] : 0.0f) + half[p]->grads[i];
	}
	/* Weights in halves: every partial sum is exact in double. */
	assert_true(wpart[0] + wpart[1] == wsum);
	assert_true(wpart[1] > 10 * wpart[0]);
	assert_true(fabs(loss_part[0] + loss_part[1] - loss_full) <= 1e-11 * loss_full);
	/* The mean of the halves' own means weighs the few pixels of half 0 too much. */
	print_message("loss %.17g halves %.17g own means %.17g\n", loss_full,
		      loss_part[0] + loss_part[1], (loss_own[0] + loss_own[1]) / 2);
	assert_true(fabs((loss_own[0] + loss_own[1]) / 2 - loss_full) > 0.2 * loss_full);
	for (int i = 0; i < full->g.nparams; i++) {
		const struct graph_param *gp = &full->g.params[i];
		const float *want = g_full + gp->offset;
		double top = 0, own_err = 0;

		for (size_t j = 0; j < gp->count; j++) {
			top = fmax(top, fabs(want[j]));
			own_err = fmax(own_err, fabs(g_own[gp->offset + j] - want[j]));
		}
		assert_true(top > 0);
		assert_allclose(gp->name, g_sum + gp->offset, want, gp->count, 1e-5,
				1e-5 * top);
		/* A thousand times the tolerance at least, in every tensor. */
		assert_true(own_err > 1e-2 * top);
	}
	free(g_full), free(g_sum), free(g_own), free(y);
	model_destroy(half[0]);
	model_destroy(half[1]);
	model_destroy(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_never_overlaps_live_buffers),
		cmocka_unit_test(test_plan_output_never_takes_input),
		cmocka_unit_test(test_kaiming_init),
		cmocka_unit_test(test_padded_input_and_crop),
		cmocka_unit_test(test_dropout_reproducible_per_step),
		cmocka_unit_test(test_same_results_at_any_thread_count),
		cmocka_unit_test(test_image_alone_or_in_a_batch),
		cmocka_unit_test(test_inference_modes),
		cmocka_unit_test(test_mask_streams),
		cmocka_unit_test(test_image_stream_keys_distinct),
		cmocka_unit_test(test_image_streams_split_batch),
		cmocka_unit_test(test_backward_over_splits_batch),
		cmocka_unit_test(test_grads_ready_hook),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
