/*
 * Tests of nets/knconv.c: PyTorch fixtures (scripts/ref_kn.py: p = 0 and the `expected`
 * mode), closed-form outputs, the dropout statistics, accumulation and thread-count
 * independence. test_knconv_ref.c holds the naive-layer and gradient checks.
 */
#include "tests/knconv_bufs.h"

#include "nets/gemm.h"

#include <stdio.h>

static const int pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad3[4] = {3, 3, 3, 3};
static const int pad1010[4] = {1, 0, 1, 0}, pad0101[4] = {0, 1, 0, 1};
static const int pad2121[4] = {2, 1, 2, 1};
/* Left differs from top: catches a swapped padding order. */
static const int pad0210[4] = {0, 2, 1, 0};

/* ---- PyTorch fixtures ---- */

struct fixture_case {
	const char *name;
	int n, cin, h, w, cout, k, s;
	const int *pad;
	float p; /* > 0: the expected mode */
};

static const struct fixture_case fixture_cases[] = {
	{"cstem", 2, 3, 13, 11, 4, 7, 2, pad3, 0},
	{"cp1111", 2, 5, 7, 9, 6, 2, 1, pad1, 0},
	{"cp0", 2, 6, 7, 5, 5, 2, 1, pad0, 0},
	{"cp1010", 1, 4, 9, 6, 7, 2, 1, pad1010, 0},
	{"cp0101", 2, 4, 6, 9, 3, 2, 1, pad0101, 0},
	{"cp2121", 1, 3, 5, 7, 4, 2, 1, pad2121, 0},
	{"ck3", 2, 8, 5, 6, 8, 3, 1, pad1, 0},
	{"ck1", 2, 9, 4, 5, 3, 1, 1, pad0, 0},
	{"cwide", 1, 32, 5, 4, 16, 2, 1, pad1, 0},
	{"cp0210", 2, 3, 5, 6, 4, 2, 1, pad0210, 0},
	{"cp1111e05", 2, 5, 7, 9, 6, 2, 1, pad1, 0.05f},
	{"cp1111e25", 2, 5, 7, 9, 6, 2, 1, pad1, 0.25f},
};

static void load(const char *cname, const char *tensor, struct npy_array *a, size_t count)
{
	char name[128];

	snprintf(name, sizeof(name), "kn_%s_%s", cname, tensor);
	fixture_load(name, a);
	if (a->count != count)
		fail_msg("fixture %s: %zu values, expected %zu", name, a->count, count);
}

/* Loads the inputs of a case into b (in, weight, bias, dout). */
static void load_inputs(struct kc_bufs *b, const char *cname)
{
	struct npy_array a;

	load(cname, "in", &a, b->n_in);
	memcpy(b->in, a.data, b->n_in * sizeof(float));
	npy_free(&a);
	load(cname, "weight", &a, b->n_w);
	memcpy(b->weight, a.data, b->n_w * sizeof(float));
	npy_free(&a);
	load(cname, "bias", &a, (size_t)b->g.conv.cout);
	memcpy(b->bias, a.data, (size_t)b->g.conv.cout * sizeof(float));
	npy_free(&a);
	load(cname, "dout", &a, b->n_out);
	memcpy(b->dout, a.data, b->n_out * sizeof(float));
	npy_free(&a);
}

static void expect_fixture(const char *cname, const char *tensor, const float *got, size_t n)
{
	struct npy_array a;
	char what[128];

	load(cname, tensor, &a, n);
	snprintf(what, sizeof(what), "%s %s", cname, tensor);
	assert_true(close_scaled(what, got, a.data, n));
	npy_free(&a);
}

static void check_fixture(const struct fixture_case *fc, enum knorm_mode mode, float p)
{
	struct knconv_geom g = geom(fc->n, fc->cin, fc->h, fc->w, fc->cout, fc->k, fc->s,
				    fc->pad, p);
	struct kc_bufs b;
	float *var;

	bufs_init(&b, &g, mode);
	load_inputs(&b, fc->name);
	run_forward(&b);
	run_backward(&b);
	var = xmalloc(b.n_units * sizeof(float));
	for (size_t q = 0; q < b.n_units; q++)
		var[q] = (float)((double)b.s[q] * b.s[q] - g.eps);
	expect_fixture(fc->name, "out", b.out, b.n_out);
	expect_fixture(fc->name, "mu", b.mu, b.n_units);
	expect_fixture(fc->name, "var", var, b.n_units);
	expect_fixture(fc->name, "din", b.din, b.n_in);
	expect_fixture(fc->name, "dweight", b.dweight, b.n_w);
	expect_fixture(fc->name, "dbias", b.dbias, (size_t)g.conv.cout);
	free(var);
	bufs_free(&b);
}

static void test_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
		const struct fixture_case *fc = &fixture_cases[i];

		check_fixture(fc, fc->p > 0 ? KNORM_EVAL_EXPECTED : KNORM_TRAIN, fc->p);
		/* KNORM_EVAL_NONE of any p is the plain p = 0 layer. */
		if (fc->p == 0)
			check_fixture(fc, KNORM_EVAL_NONE, 0.25f);
	}
}

/* ---- Closed-form outputs ---- */

/*
 * A constant input 0.5 without padding has var = 0 and mu = 0.5 exactly; with weights
 * that are multiples of 1/8 every sum is exact, so A = 0.5 SW and y = b exactly.
 */
static void test_constant_input_gives_bias(void **state)
{
	struct knconv_geom g = geom(2, 3, 5, 6, 4, 2, 1, pad0, 0);
	struct kc_bufs b;
	struct rng r;

	(void)state;
	bufs_init(&b, &g, KNORM_TRAIN);
	rng_init(&r, 1);
	for (size_t i = 0; i < b.n_in; i++)
		b.in[i] = 0.5f;
	for (size_t i = 0; i < b.n_w; i++)
		b.weight[i] = (float)((int)rng_below(&r, 17) - 8) / 8;
	for (int o = 0; o < g.conv.cout; o++)
		b.bias[o] = 0.25f * (float)o - 0.3f;
	run_forward(&b);
	for (size_t i = 0; i < b.n_out; i++)
		assert_true(b.out[i] == b.bias[i / ((size_t)g.conv.ho * g.conv.wo) % 4]);
	bufs_free(&b);
}

/* All-ones weights: A = sum of the unit = M mu = mu SW, so y = b for any input (p = 0). */
static void test_ones_weights_give_bias(void **state)
{
	struct knconv_geom g = geom(2, 4, 6, 5, 3, 2, 1, pad1, 0);
	struct kc_bufs b;

	(void)state;
	bufs_init(&b, &g, KNORM_TRAIN);
	bufs_randomize(&b, 21);
	for (size_t i = 0; i < b.n_w; i++)
		b.weight[i] = 1;
	run_forward(&b);
	for (size_t i = 0; i < b.n_out; i++)
		assert_true(fabsf(b.out[i] - b.bias[i / ((size_t)g.conv.ho * g.conv.wo) % 3]) <
			    1e-5f);
	bufs_free(&b);
}

/*
 * All-ones input (2 channels, 3x3), pad 1, kernel 2, weights 1 on the top-left tap only
 * (SW = 2). A window holding r real pixels per channel has mu = r/4, var = mu (1 - mu);
 * A = 2 when its top-left pixel is real, else 0. Output rows i and columns j 0..3:
 *   corner (0,0): r = 1, A = 0: (0 - 0.5) / sqrt(0.1875 + eps)
 *   corner (3,3): r = 1, A = 2: (2 - 0.5) / sqrt(0.1875 + eps)
 *   corner (0,3), (3,0): r = 1, A = 0
 *   edge (0,1), (1,0): r = 2, A = 0: (0 - 1) / sqrt(0.25 + eps)
 *   edge (3,1), (1,3): r = 2, A = 2: (2 - 1) / sqrt(0.25 + eps)
 *   inside (1,1): r = 4, A = 2, var = 0: 0
 */
static void test_ones_input_corners_edges(void **state)
{
	struct knconv_geom g = geom(1, 2, 3, 3, 1, 2, 1, pad1, 0);
	const double c = sqrt(0.1875 + 1e-5), e = sqrt(0.25 + 1e-5);
	const double want[16] = {
		-0.5 / c, -1 / e, -1 / e, -0.5 / c,
		-1 / e,   0,      0,      1 / e,
		-1 / e,   0,      0,      1 / e,
		-0.5 / c, 1 / e,  1 / e,  1.5 / c,
	};
	struct kc_bufs b;

	(void)state;
	bufs_init(&b, &g, KNORM_TRAIN);
	for (size_t i = 0; i < b.n_in; i++)
		b.in[i] = 1;
	b.weight[0] = 1; /* (o 0, c 0, top-left) */
	b.weight[4] = 1; /* (o 0, c 1, top-left) */
	run_forward(&b);
	assert_allclose_d("ones input", b.out, want, 16, 1e-6, 1e-6);
	bufs_free(&b);
}

/*
 * One 2x2 window of two channels, no padding:
 *   x[0] = [1 2; 3 4], x[1] = [0 -1; 2 5]: sum 16, M = 8, mu = 2, E[x^2] = 60/8 = 7.5,
 *   var = 3.5.
 *   o = 0: w[0] = [1 0; 0 1], w[1] = [0.5 0; 0 -1]: A = 1 + 4 + 0 - 5 = 0, SW = 1.5,
 *          b = 0.25: y = (0 - 3) / sqrt(3.5 + eps) + 0.25
 *   o = 1: w[0] = [2 0; 0 0], w[1] = 0: A = 2, SW = 2, b = -1: y = (2 - 4)/sqrt(3.5 + eps) - 1
 * With p = 0.5 and the last value (x[1] (1,1) = 5) dropped, the statistics see
 *   [2 4 6 8 0 -2 4 0]: mu = 22/8 = 2.75, E[x^2] = 140/8 = 17.5, var = 9.9375,
 * while A still sees the un-dropped input:
 *   y0 = (0 - 2.75 * 1.5) / sqrt(9.9375 + eps) + 0.25,  y1 = (2 - 5.5) / sqrt(9.9375 + eps) - 1.
 */
static void test_hand_computed_window(void **state)
{
	static const float x[8] = {1, 2, 3, 4, 0, -1, 2, 5};
	static const float w[16] = {1, 0, 0, 1, 0.5f, 0, 0, -1, 2, 0, 0, 0, 0, 0, 0, 0};
	struct knconv_geom g0 = geom(1, 2, 2, 2, 2, 2, 1, pad0, 0);
	struct knconv_geom gp = geom(1, 2, 2, 2, 2, 2, 1, pad0, 0.5f);
	const double s0 = sqrt(3.5 + 1e-5), sp = sqrt(9.9375 + 1e-5);
	const double want0[2] = {-3 / s0 + 0.25, -2 / s0 - 1};
	const double wantp[2] = {-2.75 * 1.5 / sp + 0.25, -3.5 / sp - 1};
	struct kc_bufs b;

	(void)state;
	for (int k = 0; k < 2; k++) {
		bufs_init(&b, k ? &gp : &g0, KNORM_TRAIN);
		memcpy(b.in, x, sizeof(x));
		memcpy(b.weight, w, sizeof(w));
		b.bias[0] = 0.25f;
		b.bias[1] = -1;
		memset(b.keep, 1, b.n_mask);
		b.keep[7] = 0;
		run_forward(&b);
		assert_allclose_d("window", b.out, k ? wantp : want0, 2, 1e-6, 1e-6);
		assert_true(b.mu[0] == (k ? 2.75f : 2.0f));
		/* db = sum of the upstream gradient */
		b.dout[0] = 0.5f;
		b.dout[1] = -2;
		run_backward(&b);
		assert_true(b.dbias[0] == 0.5f && b.dbias[1] == -2);
		bufs_free(&b);
	}
}

/* ---- Dropout statistics ---- */

/*
 * Over many masks the sampled mean of every unit averages to the plain mean, and the
 * sampled variance to the expected-mode variance, within 5 standard errors of the
 * Monte-Carlo mean. The padded border units include padded zeros.
 */
static void test_dropout_statistics(void **state)
{
	const int draws = 4000;
	struct knconv_geom g = geom(1, 3, 3, 4, 2, 2, 1, pad1, 0.25f);
	struct kc_bufs sample, plain, expect;
	double m1[20] = {0}, m2[20] = {0}, v1[20] = {0}, v2[20] = {0};
	struct rng r;

	(void)state;
	bufs_init(&sample, &g, KNORM_EVAL_SAMPLE);
	bufs_init(&plain, &g, KNORM_EVAL_NONE);
	bufs_init(&expect, &g, KNORM_EVAL_EXPECTED);
	assert_int_equal(sample.n_units, 20);
	bufs_randomize(&sample, 41);
	bufs_randomize(&plain, 41);
	bufs_randomize(&expect, 41);
	run_forward(&plain);
	run_forward(&expect);
	for (int k = 0; k < draws; k++) {
		rng_init_stream(&r, 8, (uint64_t)k, 1);
		dropout_mask(sample.keep, sample.n_mask, g.p, &r);
		run_forward(&sample);
		for (size_t q = 0; q < 20; q++) {
			double mu = sample.mu[q], var = (double)sample.s[q] * sample.s[q] - g.eps;

			m1[q] += mu;
			m2[q] += mu * mu;
			v1[q] += var;
			v2[q] += var * var;
		}
	}
	for (size_t q = 0; q < 20; q++) {
		double mm = m1[q] / draws, vm = v1[q] / draws;
		double mse = sqrt(fmax(m2[q] / draws - mm * mm, 0) / draws);
		double vse = sqrt(fmax(v2[q] / draws - vm * vm, 0) / draws);
		double var_e = (double)expect.s[q] * expect.s[q] - g.eps;

		assert_true(fabs(mm - plain.mu[q]) <= 5 * mse + 1e-6);
		assert_true(fabs(vm - var_e) <= 5 * vse + 1e-5);
		assert_true(expect.mu[q] == plain.mu[q]);
	}
	bufs_free(&sample);
	bufs_free(&plain);
	bufs_free(&expect);
}

/* ---- Accumulation and thread-count independence ---- */

/* A second backward adds the same again; din = NULL leaves dweight and dbias unchanged. */
static void test_backward_accumulates(void **state)
{
	struct knconv_geom g = geom(2, 4, 6, 5, 3, 2, 1, pad1010, 0.25f);
	struct kc_bufs b;
	float *din1, *dw1, *db1;

	(void)state;
	bufs_init(&b, &g, KNORM_TRAIN);
	bufs_randomize(&b, 51);
	run_forward(&b);
	run_backward(&b);
	din1 = xmalloc(b.n_in * sizeof(float));
	dw1 = xmalloc(b.n_w * sizeof(float));
	db1 = xmalloc(3 * sizeof(float));
	memcpy(din1, b.din, b.n_in * sizeof(float));
	memcpy(dw1, b.dweight, b.n_w * sizeof(float));
	memcpy(db1, b.dbias, 3 * sizeof(float));
	run_backward(&b);
	for (size_t i = 0; i < b.n_in; i++)
		assert_true(fabsf(b.din[i] - 2 * din1[i]) <= 1e-6f * (1 + fabsf(din1[i])));
	for (size_t i = 0; i < b.n_w; i++)
		assert_true(fabsf(b.dweight[i] - 2 * dw1[i]) <= 1e-6f * (1 + fabsf(dw1[i])));
	for (int o = 0; o < 3; o++)
		assert_true(b.dbias[o] == 2 * db1[o]);
	bufs_zero_grads(&b);
	knconv_backward(NULL, b.dweight, b.dbias, b.dout, b.out, &b.cache, b.in, b.weight,
			b.bias, &b.g, b.ws);
	assert_memory_equal(b.dweight, dw1, b.n_w * sizeof(float));
	assert_memory_equal(b.dbias, db1, 3 * sizeof(float));
	free(din1);
	free(dw1);
	free(db1);
	bufs_free(&b);
}

static void run_threads(struct kc_bufs *b, int threads)
{
	struct rng r;

	kn_set_threads(threads);
	bufs_randomize(b, 61);
	bufs_zero_grads(b);
	rng_init_stream(&r, 7, 3, 2);
	dropout_mask(b->keep, b->n_mask, b->g.p, &r);
	run_forward(b);
	run_backward(b);
}

/* Sizes above KNORM_PARALLEL_MIN, so that the loops do split among threads. */
static void test_threads_bitwise_identical(void **state)
{
	struct knconv_geom gs[3] = {
		geom(2, 8, 96, 96, 8, 2, 1, pad1, 0.05f),
		geom(2, 3, 64, 60, 16, 7, 2, pad3, 0.05f),
		geom(2, 40, 24, 24, 20, 1, 1, pad0, 0.25f),
	};
	(void)state;
	const int counts[] = TEST_THREAD_COUNTS;

	for (int k = 0; k < 3; k++) {
		struct kc_bufs one, two;

		bufs_init(&one, &gs[k], KNORM_TRAIN);
		bufs_init(&two, &gs[k], KNORM_TRAIN);
		run_threads(&one, 1);
		for (int i = 1; i < TEST_THREAD_COUNT_N; i++) {
			run_threads(&two, counts[i]);
			assert_memory_equal(one.keep, two.keep, one.n_mask);
			assert_memory_equal(one.out, two.out, one.n_out * sizeof(float));
			assert_memory_equal(one.mu, two.mu, one.n_units * sizeof(float));
			assert_memory_equal(one.s, two.s, one.n_units * sizeof(float));
			assert_memory_equal(one.din, two.din, one.n_in * sizeof(float));
			assert_memory_equal(one.dweight, two.dweight, one.n_w * sizeof(float));
			assert_memory_equal(one.dbias, two.dbias,
					    (size_t)gs[k].conv.cout * sizeof(float));
		}
		bufs_free(&one);
		bufs_free(&two);
	}
	kn_set_threads(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_constant_input_gives_bias),
		cmocka_unit_test(test_ones_weights_give_bias),
		cmocka_unit_test(test_ones_input_corners_edges),
		cmocka_unit_test(test_hand_computed_window),
		cmocka_unit_test(test_dropout_statistics),
		cmocka_unit_test(test_backward_accumulates),
		cmocka_unit_test(test_threads_bitwise_identical),
	};

	return cmocka_run_group_tests(tests, kc_one_thread, NULL);
}
