/*
 * Tests of nets/kernelnorm.c and nets/dropout.c: PyTorch fixtures (scripts/ref_kn.py,
 * p = 0 and the `expected` mode), closed-form outputs, central-difference gradients in
 * double (general and 1x1 forms; plain, fixed mask, expected mode), the statistics of
 * dropout masks, and thread-count independence.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "nets/dropout.h"
#include "nets/gemm.h"
#include "nets/kernelnorm.h"
#include "io/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tolerances. Fixtures are float64 results rounded to float32; the float layer differs
 * by a few float roundings of O(1) values divided by s ~ 1, so 1e-5 (relative and
 * absolute) leaves a wide margin. Gradients: see GRAD_RTOL.
 */
#define FWD_TOL 1e-5
/*
 * The double reference forward is smooth in x, so central differences with h = 1e-4
 * are accurate to ~1e-8 (truncation h^2 f''' and rounding 1e-16/h); the float backward
 * is accurate to ~1e-6 relative. Entries that nearly cancel get an absolute allowance of
 * GRAD_RTOL times the largest gradient.
 */
#define GRAD_RTOL 1e-4
#define GRAD_H 1e-4

/* Every buffer of one KernelNorm call. */
struct kn_bufs {
	struct kernelnorm_geom g;
	size_t n_in, n_out, n_units;
	float *in, *out, *dout, *din, *mu, *s, *ws;
	uint8_t *keep;
	struct knorm_cache cache;
};

static void bufs_init(struct kn_bufs *b, const struct kernelnorm_geom *g, enum knorm_mode mode)
{
	b->g = *g;
	b->n_in = (size_t)g->n * g->c * g->h * g->w;
	b->n_out = kernelnorm_out_count(g);
	b->n_units = kernelnorm_unit_count(g);
	b->in = xcalloc(b->n_in, sizeof(float));
	b->din = xcalloc(b->n_in, sizeof(float));
	b->out = xcalloc(b->n_out, sizeof(float));
	b->dout = xcalloc(b->n_out, sizeof(float));
	b->keep = xcalloc(b->n_out, 1);
	b->mu = xcalloc(b->n_units, sizeof(float));
	b->s = xcalloc(b->n_units, sizeof(float));
	b->ws = xcalloc(kernelnorm_workspace_floats(g), sizeof(float));
	b->cache = (struct knorm_cache){.mu = b->mu, .s = b->s, .mode = mode};
	b->cache.keep = dropout_uses_mask(mode, g->p) ? b->keep : NULL;
}

static void bufs_free(struct kn_bufs *b)
{
	free(b->in);
	free(b->din);
	free(b->out);
	free(b->dout);
	free(b->keep);
	free(b->mu);
	free(b->s);
	free(b->ws);
}

static bool is_1x1(const struct kernelnorm_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_left == 0 &&
	       g->pad_right == 0 && g->pad_top == 0 && g->pad_bottom == 0;
}

/* Forward and backward through the 1x1 functions when fast1x1 is set. */
static void run_forward(struct kn_bufs *b, bool fast1x1)
{
	if (fast1x1)
		kernelnorm1x1_forward(b->out, &b->cache, b->in, &b->g);
	else
		kernelnorm_forward(b->out, &b->cache, b->in, &b->g);
}

static void run_backward(struct kn_bufs *b, bool fast1x1)
{
	if (fast1x1)
		kernelnorm1x1_backward(b->din, b->dout, &b->cache, b->in, &b->g);
	else
		kernelnorm_backward(b->din, b->dout, &b->cache, b->in, &b->g, b->ws);
}

/* var = s^2 - eps of every unit, for comparison with the fixtures' variances. */
static void variances(float *var, const struct kn_bufs *b)
{
	for (size_t q = 0; q < b->n_units; q++)
		var[q] = (float)((double)b->s[q] * b->s[q] - b->g.eps);
}

/* ---- PyTorch fixtures ---- */

struct fixture_case {
	const char *name;
	int n, c, h, w, kh, kw, sh, sw, pad[4];
	float p; /* > 0: the expected mode */
};

static const struct fixture_case fixture_cases[] = {
	{"g2x2p1", 2, 3, 5, 6, 2, 2, 1, 1, {1, 1, 1, 1}, 0},
	{"g3x2s21", 1, 4, 7, 5, 3, 2, 2, 1, {0, 1, 0, 1}, 0},
	{"g2x3s23", 2, 2, 6, 7, 2, 3, 2, 3, {2, 1, 2, 1}, 0},
	{"g2x2p0210", 1, 3, 4, 5, 2, 2, 1, 1, {0, 2, 1, 0}, 0},
	{"n1x1", 2, 7, 5, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0},
	{"n1x1e05", 2, 7, 5, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0.05f},
	{"n1x1e25", 2, 7, 5, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0.25f},
	{"g2x2p1e05", 2, 3, 5, 6, 2, 2, 1, 1, {1, 1, 1, 1}, 0.05f},
	{"g2x2p1e25", 2, 3, 5, 6, 2, 2, 1, 1, {1, 1, 1, 1}, 0.25f},
};

static void load(const struct fixture_case *fc, const char *tensor, struct npy_array *a,
		 size_t count)
{
	char name[128];

	snprintf(name, sizeof(name), "kn_%s_%s", fc->name, tensor);
	fixture_load(name, a);
	if (a->count != count)
		fail_msg("fixture %s: %zu values, expected %zu", name, a->count, count);
}

static void check_fixture(const struct fixture_case *fc, bool fast1x1)
{
	struct kernelnorm_geom g = kernelnorm_geom_make(fc->n, fc->c, fc->h, fc->w, fc->kh,
							fc->kw, fc->sh, fc->sw, fc->pad, fc->p);
	struct npy_array in, dout, out, din, mu, var;
	struct kn_bufs b;
	float *got_var;

	bufs_init(&b, &g, fc->p > 0 ? KNORM_EVAL_EXPECTED : KNORM_TRAIN);
	load(fc, "in", &in, b.n_in);
	load(fc, "dout", &dout, b.n_out);
	load(fc, "out", &out, b.n_out);
	load(fc, "din", &din, b.n_in);
	load(fc, "mu", &mu, b.n_units);
	load(fc, "var", &var, b.n_units);
	memcpy(b.in, in.data, b.n_in * sizeof(float));
	memcpy(b.dout, dout.data, b.n_out * sizeof(float));
	run_forward(&b, fast1x1);
	run_backward(&b, fast1x1);
	got_var = xmalloc(b.n_units * sizeof(float));
	variances(got_var, &b);
	assert_allclose(fc->name, b.out, out.data, b.n_out, FWD_TOL, FWD_TOL);
	assert_allclose("mu", b.mu, mu.data, b.n_units, FWD_TOL, FWD_TOL);
	assert_allclose("var", got_var, var.data, b.n_units, FWD_TOL, FWD_TOL);
	assert_allclose("din", b.din, din.data, b.n_in, 1e-4, 1e-5);
	free(got_var);
	npy_free(&in);
	npy_free(&dout);
	npy_free(&out);
	npy_free(&din);
	npy_free(&mu);
	npy_free(&var);
	bufs_free(&b);
}

static void test_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
		struct kernelnorm_geom g = kernelnorm_geom_make(
			1, 1, fixture_cases[i].h, fixture_cases[i].w, fixture_cases[i].kh,
			fixture_cases[i].kw, fixture_cases[i].sh, fixture_cases[i].sw,
			fixture_cases[i].pad, 0);

		check_fixture(&fixture_cases[i], false);
		if (is_1x1(&g))
			check_fixture(&fixture_cases[i], true);
	}
}

/* ---- Closed-form outputs ---- */

static void test_constant_input_gives_zeros(void **state)
{
	static const int no_pad[4] = {0, 0, 0, 0};
	struct kernelnorm_geom gs[2] = {
		kernelnorm_geom_make(2, 3, 4, 6, 2, 3, 2, 3, no_pad, 0),
		kernelnorm_geom_1x1(2, 5, 3, 4, 0),
	};

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct kn_bufs b;

		bufs_init(&b, &gs[k], KNORM_TRAIN);
		for (size_t i = 0; i < b.n_in; i++)
			b.in[i] = 0.75f;
		run_forward(&b, k == 1);
		/* var = 0: every value equals the mean, so (x - mu) / sqrt(eps) = 0 exactly. */
		for (size_t i = 0; i < b.n_out; i++)
			assert_true(b.out[i] == 0.0f);
		for (size_t q = 0; q < b.n_units; q++) {
			assert_true(b.mu[q] == 0.75f);
			assert_true(fabsf(b.s[q] - sqrtf(KNORM_EPS)) < 1e-9f);
		}
		bufs_free(&b);
	}
}

/*
 * One pixel x = 2 padded by (1, 0, 1, 0) and a 2x2 kernel: the unit is [0, 0; 0, 2],
 * mu = 0.5, var = (3 * 0.25 + 2.25) / 4 = 0.75. A second channel 4 makes the unit
 * [0, 0, 0, 2, 0, 0, 0, 4]: mu = 0.75, E[x^2] = 20/8 = 2.5, var = 2.5 - 0.5625 = 1.9375.
 */
static void test_hand_computed_padded_unit(void **state)
{
	static const int pad[4] = {1, 0, 1, 0};
	struct kernelnorm_geom g1 = kernelnorm_geom_make(1, 1, 1, 1, 2, 2, 1, 1, pad, 0);
	struct kernelnorm_geom g2 = kernelnorm_geom_make(1, 2, 1, 1, 2, 2, 1, 1, pad, 0);
	struct kn_bufs b;
	double s;

	(void)state;
	bufs_init(&b, &g1, KNORM_TRAIN);
	b.in[0] = 2;
	kernelnorm_forward(b.out, &b.cache, b.in, &b.g);
	s = sqrt(0.75 + 1e-5);
	assert_true(fabs(b.out[0] - (-0.5 / s)) < 1e-6 && fabs(b.out[1] - (-0.5 / s)) < 1e-6);
	assert_true(fabs(b.out[2] - (-0.5 / s)) < 1e-6 && fabs(b.out[3] - (1.5 / s)) < 1e-6);
	bufs_free(&b);

	bufs_init(&b, &g2, KNORM_TRAIN);
	b.in[0] = 2;
	b.in[1] = 4;
	kernelnorm_forward(b.out, &b.cache, b.in, &b.g);
	s = sqrt(1.9375 + 1e-5);
	assert_true(fabs(b.mu[0] - 0.75) < 1e-7);
	assert_true(fabs(b.out[3] - (2 - 0.75) / s) < 1e-6);
	assert_true(fabs(b.out[7] - (4 - 0.75) / s) < 1e-6);
	assert_true(fabs(b.out[4] - (-0.75) / s) < 1e-6);
	bufs_free(&b);
}

/* ---- Central-difference gradients in double ---- */

/* The double reference of the definition; keep is the tiled mask or NULL. */
static void ref_forward(double *out, const double *x, const uint8_t *keep, enum knorm_mode mode,
			const struct kernelnorm_geom *g)
{
	int kk = g->kh * g->kw, m = g->c * kk;
	size_t th = (size_t)g->ho * g->kh, tw = (size_t)g->wo * g->kw;
	double scale = 1.0 / (1.0 - g->p);
	double cexp = dropout_expected_factor(mode, g->p, (size_t)m);
	double *v = xmalloc((size_t)m * sizeof(double)), *d = xmalloc((size_t)m * sizeof(double));
	size_t *t = xmalloc((size_t)m * sizeof(size_t));

	for (int n = 0; n < g->n; n++)
		for (int i = 0; i < g->ho; i++)
			for (int j = 0; j < g->wo; j++) {
				double sum = 0, sq = 0, dev = 0, mu, s;

				for (int e = 0; e < m; e++) {
					int c = e / kk, a = e % kk / g->kw, bb = e % g->kw;
					int y = i * g->sh + a - g->pad_top;
					int xx = j * g->sw + bb - g->pad_left;
					bool in = y >= 0 && y < g->h && xx >= 0 && xx < g->w;

					size_t plane = (size_t)n * g->c + c;

					t[e] = (plane * th + (size_t)i * g->kh + a) * tw +
					       (size_t)j * g->kw + bb;
					v[e] = in ? x[(plane * g->h + y) * g->w + xx] : 0;
					d[e] = keep ? v[e] * (keep[t[e]] ? scale : 0) : v[e];
					sum += d[e];
					sq += v[e] * v[e];
				}
				mu = sum / m;
				for (int e = 0; e < m; e++)
					dev += (d[e] - mu) * (d[e] - mu);
				s = sqrt(dev / m + cexp * sq / m + g->eps);
				for (int e = 0; e < m; e++)
					out[t[e]] = (v[e] - mu) / s;
			}
	free(v);
	free(d);
	free(t);
}

struct grad_ctx {
	const struct kn_bufs *b;
	double *scratch; /* n_out */
};

/* L = sum(y * dout) of the double reference. */
static double ref_loss(const double *x, const struct grad_ctx *ctx)
{
	const struct kn_bufs *b = ctx->b;
	double l = 0;

	ref_forward(ctx->scratch, x, b->cache.keep, b->cache.mode, &b->g);
	for (size_t i = 0; i < b->n_out; i++)
		l += ctx->scratch[i] * b->dout[i];
	return l;
}

static void check_gradients(const struct kernelnorm_geom *g, enum knorm_mode mode, bool fast1x1,
			    uint64_t seed)
{
	struct kn_bufs b;
	struct rng r;
	struct grad_ctx ctx;
	double *x, *num, gmax = 0;

	bufs_init(&b, g, mode);
	fill_uniform(b.in, b.n_in, -1, 2, seed);
	fill_uniform(b.dout, b.n_out, -1, 1, seed + 1);
	rng_init(&r, seed + 2);
	dropout_mask(b.keep, b.n_out, g->p, &r);
	run_forward(&b, fast1x1);
	run_backward(&b, fast1x1);

	ctx = (struct grad_ctx){.b = &b, .scratch = xmalloc(b.n_out * sizeof(double))};
	x = xmalloc(b.n_in * sizeof(double));
	num = xmalloc(b.n_in * sizeof(double));
	for (size_t i = 0; i < b.n_in; i++)
		x[i] = b.in[i];
	for (size_t i = 0; i < b.n_in; i++) {
		double keep = x[i], up, down;

		x[i] = keep + GRAD_H;
		up = ref_loss(x, &ctx);
		x[i] = keep - GRAD_H;
		down = ref_loss(x, &ctx);
		x[i] = keep;
		num[i] = (up - down) / (2 * GRAD_H);
		gmax = fmax(gmax, fabs(num[i]));
	}
	assert_allclose_d("din vs central differences", b.din, num, b.n_in, GRAD_RTOL,
			  GRAD_RTOL * gmax);
	free(x);
	free(num);
	free(ctx.scratch);
	bufs_free(&b);
}

static void test_gradients_central_differences(void **state)
{
	static const int pads[3][4] = {{1, 1, 1, 1}, {1, 0, 0, 2}, {2, 1, 2, 1}};
	static const enum knorm_mode modes[3] = {KNORM_TRAIN, KNORM_TRAIN, KNORM_EVAL_EXPECTED};
	static const float ps[3] = {0, 0.25f, 0.25f};

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct kernelnorm_geom gen =
			kernelnorm_geom_make(2, 3, 4, 5, 2, 3, 1, 2, pads[k], ps[k]);
		struct kernelnorm_geom g3 =
			kernelnorm_geom_make(1, 2, 5, 4, 3, 3, 2, 2, pads[k], ps[k]);
		struct kernelnorm_geom one = kernelnorm_geom_1x1(2, 6, 3, 4, ps[k]);

		check_gradients(&gen, modes[k], false, 10 + k);
		check_gradients(&g3, modes[k], false, 20 + k);
		check_gradients(&one, modes[k], true, 30 + k);
		check_gradients(&one, modes[k], false, 40 + k);
	}
}

/* ---- The 1x1 functions against the general form (kernel 1), with a mask ---- */

static void test_1x1_matches_general(void **state)
{
	struct kernelnorm_geom g = kernelnorm_geom_1x1(2, 19, 9, 13, 0.25f);
	struct kn_bufs fast, gen;
	struct rng r;

	(void)state;
	bufs_init(&fast, &g, KNORM_TRAIN);
	bufs_init(&gen, &g, KNORM_TRAIN);
	fill_uniform(fast.in, fast.n_in, -1, 3, 5);
	fill_uniform(fast.dout, fast.n_out, -1, 1, 6);
	rng_init(&r, 7);
	dropout_mask(fast.keep, fast.n_out, g.p, &r);
	memcpy(gen.in, fast.in, fast.n_in * sizeof(float));
	memcpy(gen.dout, fast.dout, fast.n_out * sizeof(float));
	memcpy(gen.keep, fast.keep, fast.n_out);
	run_forward(&fast, true);
	run_backward(&fast, true);
	run_forward(&gen, false);
	run_backward(&gen, false);
	assert_allclose("out", fast.out, gen.out, fast.n_out, 1e-5, 1e-5);
	assert_allclose("mu", fast.mu, gen.mu, fast.n_units, 1e-5, 1e-6);
	assert_allclose("s", fast.s, gen.s, fast.n_units, 1e-5, 1e-6);
	assert_allclose("din", fast.din, gen.din, fast.n_in, 1e-4, 1e-5);
	bufs_free(&fast);
	bufs_free(&gen);
}

/* ---- Dropout masks and their statistics ---- */

static void test_mask_keep_rate(void **state)
{
	static const float ps[3] = {0.05f, 0.25f, 0.5f};
	const size_t n = 1000000;
	uint8_t *a = xmalloc(n), *b = xmalloc(n);

	(void)state;
	for (int k = 0; k < 3; k++) {
		double p = ps[k];
		size_t kept = 0, both_dropped = 0;
		struct rng r;

		rng_init_stream(&r, 1, 2, (uint64_t)k);
		dropout_mask(a, n, ps[k], &r);
		for (size_t i = 0; i < n; i++)
			kept += a[i];
		for (size_t i = 0; i + 1 < n; i += 2)
			both_dropped += !a[i] && !a[i + 1];
		/* Binomial: within 5 standard deviations. */
		assert_true(fabs((double)kept - n * (1 - p)) < 5 * sqrt(n * p * (1 - p)));
		/* The two flags of one draw are independent: both dropped with p^2. */
		assert_true(fabs((double)both_dropped - n / 2 * p * p) <
			    5 * sqrt(n / 2 * p * p * (1 - p * p)));
	}
	/* p = 0 keeps everything; the same stream gives the same mask, another differs. */
	{
		struct rng r1, r2;

		rng_init_stream(&r1, 9, 1, 1);
		dropout_mask(a, n, 0, &r1);
		for (size_t i = 0; i < n; i++)
			assert_true(a[i] == 1);
		rng_init_stream(&r1, 9, 1, 1);
		rng_init_stream(&r2, 9, 1, 1);
		dropout_mask(a, n, 0.1f, &r1);
		dropout_mask(b, n, 0.1f, &r2);
		assert_memory_equal(a, b, n);
		dropout_mask(b, n, 0.1f, &r2);
		assert_true(memcmp(a, b, n) != 0);
	}
	free(a);
	free(b);
}

/*
 * Over many masks, the sampled mean of each unit averages to the plain mean, and the
 * sampled variance to the expected-mode variance (the derivation of nets/README.md 1.3),
 * both within 5 standard errors of the Monte-Carlo mean.
 */
static void check_dropout_statistics(const struct kernelnorm_geom *g, bool fast1x1)
{
	const int draws = 4000;
	struct kn_bufs sample, plain, expect;
	double *m1, *m2, *v1, *v2;
	struct rng r;

	bufs_init(&sample, g, KNORM_EVAL_SAMPLE);
	bufs_init(&plain, g, KNORM_EVAL_NONE);
	bufs_init(&expect, g, KNORM_EVAL_EXPECTED);
	fill_uniform(sample.in, sample.n_in, -0.5f, 2, 77);
	memcpy(plain.in, sample.in, sample.n_in * sizeof(float));
	memcpy(expect.in, sample.in, sample.n_in * sizeof(float));
	run_forward(&plain, fast1x1);
	run_forward(&expect, fast1x1);
	m1 = xcalloc(sample.n_units, sizeof(double));
	m2 = xcalloc(sample.n_units, sizeof(double));
	v1 = xcalloc(sample.n_units, sizeof(double));
	v2 = xcalloc(sample.n_units, sizeof(double));
	for (int k = 0; k < draws; k++) {
		rng_init_stream(&r, 3, (uint64_t)k, 0);
		dropout_mask(sample.keep, sample.n_out, g->p, &r);
		run_forward(&sample, fast1x1);
		for (size_t q = 0; q < sample.n_units; q++) {
			double mu = sample.mu[q], var = (double)sample.s[q] * sample.s[q] - g->eps;

			m1[q] += mu;
			m2[q] += mu * mu;
			v1[q] += var;
			v2[q] += var * var;
		}
	}
	for (size_t q = 0; q < sample.n_units; q++) {
		double mm = m1[q] / draws, vm = v1[q] / draws;
		double mse = sqrt(fmax(m2[q] / draws - mm * mm, 0) / draws);
		double vse = sqrt(fmax(v2[q] / draws - vm * vm, 0) / draws);
		double var_e = (double)expect.s[q] * expect.s[q] - g->eps;

		assert_true(fabs(mm - plain.mu[q]) <= 5 * mse + 1e-6);
		assert_true(fabs(vm - var_e) <= 5 * vse + 1e-5);
		/* The expected mode keeps the plain mean. */
		assert_true(expect.mu[q] == plain.mu[q]);
	}
	free(m1);
	free(m2);
	free(v1);
	free(v2);
	bufs_free(&sample);
	bufs_free(&plain);
	bufs_free(&expect);
}

static void test_dropout_statistics(void **state)
{
	static const int pad[4] = {1, 1, 1, 1};
	struct kernelnorm_geom gen = kernelnorm_geom_make(1, 3, 3, 3, 2, 2, 1, 1, pad, 0.25f);
	struct kernelnorm_geom one = kernelnorm_geom_1x1(1, 6, 2, 3, 0.25f);
	struct kernelnorm_geom light = kernelnorm_geom_1x1(1, 9, 2, 2, 0.05f);

	(void)state;
	check_dropout_statistics(&gen, false);
	check_dropout_statistics(&one, true);
	check_dropout_statistics(&light, true);
}

/* KNORM_EVAL_NONE ignores p and the mask: the plain statistics of p = 0. */
static void test_eval_none_is_plain(void **state)
{
	struct kernelnorm_geom g0 = kernelnorm_geom_1x1(2, 5, 3, 3, 0);
	struct kernelnorm_geom gp = kernelnorm_geom_1x1(2, 5, 3, 3, 0.25f);
	struct kn_bufs a, b;

	(void)state;
	bufs_init(&a, &g0, KNORM_TRAIN);
	bufs_init(&b, &gp, KNORM_EVAL_NONE);
	fill_uniform(a.in, a.n_in, -1, 1, 8);
	memcpy(b.in, a.in, a.n_in * sizeof(float));
	memset(b.keep, 0, b.n_out); /* would drop everything if it were read */
	run_forward(&a, true);
	run_forward(&b, true);
	assert_memory_equal(a.out, b.out, a.n_out * sizeof(float));
	bufs_free(&a);
	bufs_free(&b);
}

/* ---- Thread-count independence ---- */

static void run_threads(struct kn_bufs *b, int threads, bool fast1x1)
{
	struct rng r;

	kn_set_threads(threads);
	fill_uniform(b->in, b->n_in, -1, 2, 11);
	fill_uniform(b->dout, b->n_out, -1, 1, 12);
	memset(b->din, 0, b->n_in * sizeof(float));
	rng_init_stream(&r, 5, 6, 7);
	dropout_mask(b->keep, b->n_out, b->g.p, &r);
	run_forward(b, fast1x1);
	run_backward(b, fast1x1);
}

/* Sizes above the threshold under which the layers' loops run on one thread. */
static void test_threads_bitwise_identical(void **state)
{
	static const int pad[4] = {1, 0, 1, 0};
	struct kernelnorm_geom gs[2] = {
		kernelnorm_geom_make(2, 8, 20, 20, 2, 2, 1, 1, pad, 0.25f),
		kernelnorm_geom_1x1(2, 32, 24, 21, 0.05f),
	};
	const int counts[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct kn_bufs one, two;

		bufs_init(&one, &gs[k], KNORM_TRAIN);
		bufs_init(&two, &gs[k], KNORM_TRAIN);
		run_threads(&one, 1, k == 1);
		for (int t = 1; t < TEST_THREAD_COUNT_N; t++) {
			run_threads(&two, counts[t], k == 1);
			assert_memory_equal(one.keep, two.keep, one.n_out);
			assert_memory_equal(one.out, two.out, one.n_out * sizeof(float));
			assert_memory_equal(one.mu, two.mu, one.n_units * sizeof(float));
			assert_memory_equal(one.s, two.s, one.n_units * sizeof(float));
			assert_memory_equal(one.din, two.din, one.n_in * sizeof(float));
		}
		bufs_free(&one);
		bufs_free(&two);
	}
	kn_set_threads(saved);
}

static void test_mode_names(void **state)
{
	enum knorm_mode m = KNORM_TRAIN;

	(void)state;
	assert_int_equal(knorm_mode_parse("expected", &m), KN_OK);
	assert_int_equal(m, KNORM_EVAL_EXPECTED);
	assert_int_equal(knorm_mode_parse("none", &m), KN_OK);
	assert_int_equal(m, KNORM_EVAL_NONE);
	assert_int_equal(knorm_mode_parse("sample", &m), KN_OK);
	assert_int_equal(m, KNORM_EVAL_SAMPLE);
	assert_int_equal(knorm_mode_parse("train", &m), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "'train'"));
	assert_string_equal(knorm_mode_name(KNORM_EVAL_EXPECTED), "expected");
	assert_true(dropout_uses_mask(KNORM_TRAIN, 0.1f));
	assert_true(dropout_uses_mask(KNORM_EVAL_SAMPLE, 0.1f));
	assert_false(dropout_uses_mask(KNORM_TRAIN, 0));
	assert_false(dropout_uses_mask(KNORM_EVAL_EXPECTED, 0.1f));
	assert_true(fabs(dropout_expected_factor(KNORM_EVAL_EXPECTED, 0.25f, 4) - 0.25) < 1e-9);
	assert_true(dropout_expected_factor(KNORM_TRAIN, 0.25f, 4) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_constant_input_gives_zeros),
		cmocka_unit_test(test_hand_computed_padded_unit),
		cmocka_unit_test(test_gradients_central_differences),
		cmocka_unit_test(test_1x1_matches_general),
		cmocka_unit_test(test_mask_keep_rate),
		cmocka_unit_test(test_dropout_statistics),
		cmocka_unit_test(test_eval_none_is_plain),
		cmocka_unit_test(test_threads_bitwise_identical),
		cmocka_unit_test(test_mode_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
