/*
 * Model-level behaviour: buffer planning, weight initialization, padded inputs and
 * cropped logits, reproducible statistics dropout, and results that do not depend on
 * the thread count.
 */
#include "tests/testutil.h"

#include "nets/gemm.h"
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
