/*
 * Tests of nets/pool.c: max pooling. Hand-computed windows (padding, ties, NaN), the
 * PyTorch fixtures with their argmax indices (scripts/ref_layers.py), central-difference
 * gradients in double against a double reference, accumulation, and thread-count
 * independence.
 */
#include "tests/testutil.h"

#include "tests/gradcheck.h"
#include "tests/layers_ref.h"

#include "io/alloc.h"
#include "nets/gemm.h"
#include "nets/pool.h"
#include "io/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t in_count(const struct pool_geom *g)
{
	return (size_t)g->n * g->c * g->h * g->w;
}

static size_t out_count(const struct pool_geom *g)
{
	return (size_t)g->n * g->c * g->ho * g->wo;
}

static void test_geometry(void **state)
{
	struct pool_geom g;

	(void)state;
	g = pool_geom_make(2, 64, 128, 256, 3, 3, 2, 2, 1, 1);
	assert_int_equal(g.ho, 64);
	assert_int_equal(g.wo, 128);
	g = pool_geom_make(1, 256, 64, 128, 2, 2, 2, 2, 0, 0);
	assert_int_equal(g.ho, 32);
	assert_int_equal(g.wo, 64);
	/* Odd sizes floor, as PyTorch does without ceil_mode. */
	g = pool_geom_make(1, 1, 7, 9, 2, 2, 2, 2, 0, 0);
	assert_int_equal(g.ho, 3);
	assert_int_equal(g.wo, 4);
	g = pool_geom_make(1, 1, 9, 11, 3, 3, 2, 2, 1, 1);
	assert_int_equal(g.ho, 5);
	assert_int_equal(g.wo, 6);
}

static void test_closed_form_2x2(void **state)
{
	/* Windows: {1,5,2,0} {3,3,7,3} / {-1,-2,-4,-3} {8,8,8,8}: ties pick the first. */
	const float in[16] = {
		1, 5, 3, 3,
		2, 0, 7, 3,
		-1, -2, 8, 8,
		-4, -3, 8, 8,
	};
	const float want[4] = {5, 7, -1, 8};
	const int32_t want_at[4] = {1, 6, 8, 10};
	const float dout[4] = {1, 2, 3, 4};
	float out[4], din[16];
	int32_t at[4];
	struct pool_geom g = pool_geom_make(1, 1, 4, 4, 2, 2, 2, 2, 0, 0);

	(void)state;
	maxpool_forward(out, at, in, &g);
	assert_memory_equal(out, want, sizeof(want));
	assert_memory_equal(at, want_at, sizeof(want_at));
	for (int i = 0; i < 16; i++)
		din[i] = 0.5f;
	maxpool_backward(din, dout, at, &g);
	for (int i = 0; i < 16; i++) {
		float add = 0;

		for (int o = 0; o < 4; o++)
			add += want_at[o] == i ? dout[o] : 0;
		assert_true(din[i] == 0.5f + add);
	}
}

/* Padding is -inf: an all-negative input never pools to a padded 0. */
static void test_padding_is_minus_infinity(void **state)
{
	float in[9], out[4];
	int32_t at[4];
	struct pool_geom g = pool_geom_make(1, 1, 3, 3, 3, 3, 2, 2, 1, 1);

	(void)state;
	for (int i = 0; i < 9; i++)
		in[i] = -10.0f - (float)i;
	maxpool_forward(out, at, in, &g);
	/* Window (0,0) covers rows 0..1, columns 0..1: its maximum is in[0]. */
	assert_true(out[0] == -10.0f && at[0] == 0);
	assert_true(out[1] == -11.0f && at[1] == 1);
	assert_true(out[2] == -13.0f && at[2] == 3);
	assert_true(out[3] == -14.0f && at[3] == 4);
	/* All -inf: the first real element of the window, as PyTorch's initial index. */
	for (int i = 0; i < 9; i++)
		in[i] = -INFINITY;
	maxpool_forward(out, at, in, &g);
	assert_true(isinf(out[3]) && out[3] < 0);
	assert_int_equal(at[0], 0);
	assert_int_equal(at[3], 4);
}

static void test_nan_propagates(void **state)
{
	float in[4] = {1, NAN, 3, 2}, out[1];
	int32_t at[1];
	struct pool_geom g = pool_geom_make(1, 1, 2, 2, 2, 2, 2, 2, 0, 0);

	(void)state;
	maxpool_forward(out, at, in, &g);
	assert_true(isnan(out[0]));
	assert_int_equal(at[0], 1);
	/* argmax is optional at inference. */
	out[0] = 0;
	maxpool_forward(out, NULL, in, &g);
	assert_true(isnan(out[0]));
}

/* "layers_<name>_<tensor>" in a static buffer, used at once by fixture_load. */
static const char *fixture_name(const char *name, const char *tensor)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "layers_%s_%s", name, tensor);
	return buf;
}

static void check_fixture(const char *name, int n, int c, int h, int w, int k, int s, int p)
{
	struct pool_geom g = pool_geom_make(n, c, h, w, k, k, s, s, p, p);
	struct npy_array in, out, idx, dout, din;
	float *got, *dgot, *idx_f;
	int32_t *at;

	fixture_load_shape(fixture_name(name, "in"), &in, 4, n, c, h, w);
	fixture_load_shape(fixture_name(name, "out"), &out, 4, n, c, g.ho, g.wo);
	fixture_load_shape(fixture_name(name, "idx"), &idx, 4, n, c, g.ho, g.wo);
	fixture_load_shape(fixture_name(name, "dout"), &dout, 4, n, c, g.ho, g.wo);
	fixture_load_shape(fixture_name(name, "din"), &din, 4, n, c, h, w);
	got = xmalloc(out.count * sizeof(float));
	idx_f = xmalloc(out.count * sizeof(float));
	at = xmalloc(out.count * sizeof(int32_t));
	dgot = xcalloc(in.count, sizeof(float));
	maxpool_forward(got, at, in.data, &g);
	maxpool_backward(dgot, dout.data, at, &g);
	for (size_t i = 0; i < out.count; i++)
		idx_f[i] = (float)at[i];
	/* Selection is exact, and the indices say which of tied values won. */
	assert_allclose(name, got, out.data, out.count, 0, 0);
	assert_allclose(name, idx_f, idx.data, out.count, 0, 0);
	/*
	 * An input gradient sums up to four dout values (overlapping 3x3 windows): float
	 * sums against the rounded double sums, a few ulps.
	 */
	assert_allclose(name, dgot, din.data, in.count, 1e-6, 1e-7);
	free(got);
	free(idx_f);
	free(at);
	free(dgot);
	npy_free(&in);
	npy_free(&out);
	npy_free(&idx);
	npy_free(&dout);
	npy_free(&din);
}

static void test_fixtures(void **state)
{
	(void)state;
	check_fixture("pool3s2p1", 2, 3, 9, 11, 3, 2, 1);
	check_fixture("pool3s2p1ties", 1, 4, 8, 7, 3, 2, 1);
	check_fixture("pool2s2", 1, 3, 7, 9, 2, 2, 0);
	check_fixture("pool2s2ties", 2, 2, 6, 5, 2, 2, 0);
}

struct pool_ref_ctx {
	const struct pool_geom *g;
	const double *r; /* upstream gradient (n, c, ho, wo) */
	double *out;     /* scratch (n, c, ho, wo) */
};

/* sum(r * maxpool(x)) in double. */
static double pool_ref(const double *x, void *ctx)
{
	const struct pool_ref_ctx *c = ctx;
	size_t no = (size_t)c->g->n * c->g->c * c->g->ho * c->g->wo;
	double s = 0;

	ref_maxpool(c->out, NULL, x, c->g);
	for (size_t i = 0; i < no; i++)
		s += c->r[i] * c->out[i];
	return s;
}

/* Distinct values at least 1e-3 apart, so a step of 1e-5 never changes a winner. */
static void fill_distinct(float *x, size_t n, uint64_t seed)
{
	struct rng r;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)i * 1e-3f - 0.5f * (float)n * 1e-3f;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_below(&r, i + 1);
		float t = x[i];

		x[i] = x[j];
		x[j] = t;
	}
}

static void gradcheck_case(int n, int c, int h, int w, int k, int s, int p)
{
	struct pool_geom g = pool_geom_make(n, c, h, w, k, k, s, s, p, p);
	size_t ni = in_count(&g), no = out_count(&g);
	float *x = xmalloc(ni * sizeof(float)), *out = xmalloc(no * sizeof(float));
	float *r = xmalloc(no * sizeof(float)), *dx = xmalloc(ni * sizeof(float)), *before;
	int32_t *at = xmalloc(no * sizeof(int32_t));
	double *xd, *num = xmalloc(ni * sizeof(double));
	struct pool_ref_ctx ctx = {&g, NULL, xmalloc(no * sizeof(double))};

	fill_distinct(x, ni, 31 + (uint64_t)k);
	fill_uniform(r, no, -1, 1, 32);
	/* Pre-filled: backward must add to what is there. */
	fill_uniform(dx, ni, -1, 1, 33);
	xd = gradcheck_to_double(x, ni);
	ctx.r = gradcheck_to_double(r, no);
	maxpool_forward(out, at, x, &g);
	assert_true(fabs(gradcheck_dot(ctx.r, out, no) - pool_ref(xd, &ctx)) < 1e-9);
	gradcheck_numeric(num, xd, ni, 1e-5, pool_ref, &ctx);
	before = gradcheck_copy(dx, ni);
	for (size_t i = 0; i < ni; i++)
		num[i] += before[i];
	maxpool_backward(dx, r, at, &g);
	assert_allclose_d("maxpool dx", dx, num, ni, GRADCHECK_RTOL, 1e-6);
	free(x);
	free(out);
	free(r);
	free(dx);
	free(before);
	free(at);
	free(xd);
	free(num);
	free((double *)ctx.r);
	free(ctx.out);
}

static void test_gradcheck(void **state)
{
	(void)state;
	gradcheck_case(2, 3, 9, 11, 3, 2, 1);
	gradcheck_case(1, 2, 7, 9, 2, 2, 0);
	gradcheck_case(1, 2, 8, 6, 3, 1, 1);
}

/*
 * The row-major scan of pool.h, in float with its NaN rule: the reference for
 * the split-row scan and the vectorized stride-2 path of pool.c.
 */
static void scan_maxpool(float *out, int32_t *argmax, const float *x, const struct pool_geom *g)
{
	size_t o = 0;

	for (int p = 0; p < g->n * g->c; p++) {
		const float *plane = x + (size_t)p * g->h * g->w;

		for (int oy = 0; oy < g->ho; oy++) {
			for (int ox = 0; ox < g->wo; ox++, o++) {
				float best = -INFINITY;
				int32_t at = -1;

				for (int dy = 0; dy < g->kh; dy++) {
					for (int dx = 0; dx < g->kw; dx++) {
						int y = oy * g->sh - g->ph + dy;
						int xx = ox * g->sw - g->pw + dx;
						float v;

						if (y < 0 || y >= g->h || xx < 0 || xx >= g->w)
							continue;
						v = plane[y * g->w + xx];
						if (at < 0 || v > best || isnan(v)) {
							best = v;
							at = y * g->w + xx;
						}
					}
				}
				out[o] = best;
				argmax[o] = at;
			}
		}
	}
}

/*
 * Values from {-2, -1, 0, 1, 2} (ties everywhere, including across the rows and columns
 * of a window); every nan_every-th plane (none when 0) holds NaN and -inf. Values and
 * indices must equal the scan exactly, with and without argmax.
 */
static void check_equals_scan(const struct pool_geom *g, int nan_every, uint64_t seed)
{
	size_t ni = in_count(g), no = out_count(g), plane = (size_t)g->h * g->w;
	float *x = xmalloc(ni * sizeof(float)), *got = xmalloc(no * sizeof(float));
	float *want = xmalloc(no * sizeof(float));
	int32_t *at = xmalloc(no * sizeof(int32_t)), *want_at = xmalloc(no * sizeof(int32_t));
	struct rng r;

	rng_init(&r, seed);
	for (size_t i = 0; i < ni; i++)
		x[i] = (float)rng_below(&r, 5) - 2.0f;
	for (int p = 0; nan_every && p < g->n * g->c; p += nan_every) {
		x[p * plane + rng_below(&r, plane)] = NAN;
		x[p * plane + rng_below(&r, plane)] = NAN;
		x[p * plane + rng_below(&r, plane)] = -INFINITY;
	}
	scan_maxpool(want, want_at, x, g);
	maxpool_forward(got, at, x, g);
	if (memcmp(got, want, no * sizeof(float)) || memcmp(at, want_at, no * sizeof(int32_t)))
		fail_msg("pool %dx%d, kernel %dx%d stride %dx%d pad %dx%d", g->h, g->w, g->kh,
			 g->kw, g->sh, g->sw, g->ph, g->pw);
	memset(got, 0, no * sizeof(float));
	maxpool_forward(got, NULL, x, g);
	assert_memory_equal(got, want, no * sizeof(float));
	free(x);
	free(got);
	free(want);
	free(at);
	free(want_at);
}

/* Rows wider than the fast path's pieces, odd sizes, the pools of the networks, others. */
static void test_fast_equals_scan(void **state)
{
	static const int cases[][7] = {
		/* c, h, w, k, s, p, planes with NaN (every k-th) */
		{3, 9, 600, 3, 2, 1, 2}, {2, 8, 1031, 3, 2, 1, 0}, {3, 6, 515, 2, 2, 0, 2},
		{2, 5, 8, 2, 2, 0, 0},   {2, 7, 7, 3, 2, 0, 0},    {2, 5, 9, 3, 1, 1, 2},
		{2, 4, 3, 3, 2, 1, 0},   {1, 3, 2, 2, 2, 0, 0},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const int *c = cases[k];
		struct pool_geom g = pool_geom_make(1, c[0], c[1], c[2], c[3], c[3], c[4], c[4],
						    c[5], c[5]);

		check_equals_scan(&g, c[6], 50 + k);
	}
}

/*
 * The fast path's choice depends on the column geometry alone (stride 2, width 2 or 3):
 * a 2-wide kernel with a padding column (windows cut on the left, pieces that start at
 * column 1), kernels of another height and vertical stride, widths of 1 to 6 where the
 * cut windows meet, and odd widths across pieces; two images.
 */
static void test_fast_equals_scan_shapes(void **state)
{
	static const int cases[][9] = {
		/* h, w, kh, kw, sh, sw, ph, pw, planes with NaN */
		{4, 515, 2, 2, 2, 2, 1, 1, 3}, {5, 514, 2, 2, 2, 2, 1, 1, 0},
		{3, 601, 1, 3, 1, 2, 0, 1, 0}, {6, 517, 3, 2, 1, 2, 1, 1, 2},
		{7, 9, 1, 2, 3, 2, 0, 0, 0},   {5, 1, 3, 3, 2, 2, 1, 1, 0},
		{4, 1, 2, 2, 2, 2, 1, 1, 0},   {3, 2, 3, 3, 2, 2, 1, 1, 0},
		{3, 3, 2, 2, 2, 2, 1, 1, 0},   {3, 4, 3, 3, 2, 2, 1, 1, 0},
		{3, 5, 3, 2, 2, 2, 0, 1, 0},   {3, 6, 2, 3, 1, 2, 1, 0, 0},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const int *c = cases[k];
		struct pool_geom g = pool_geom_make(2, 3, c[0], c[1], c[2], c[3], c[4], c[5], c[6],
						    c[7]);

		check_equals_scan(&g, c[8], 90 + k);
	}
}

static void test_threads_bitwise(void **state)
{
	struct pool_geom g = pool_geom_make(2, 16, 33, 47, 3, 3, 2, 2, 1, 1);
	size_t ni = in_count(&g), no = out_count(&g);
	float *x = xmalloc(ni * sizeof(float)), *dout = xmalloc(no * sizeof(float));
	float *out[TEST_THREAD_COUNT_N], *din[TEST_THREAD_COUNT_N];
	int32_t *at[TEST_THREAD_COUNT_N];
	const int counts[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();

	(void)state;
	fill_uniform(x, ni, -1, 1, 41);
	fill_uniform(dout, no, -1, 1, 42);
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++) {
		kn_set_threads(counts[t]);
		out[t] = xmalloc(no * sizeof(float));
		at[t] = xmalloc(no * sizeof(int32_t));
		din[t] = xcalloc(ni, sizeof(float));
		maxpool_forward(out[t], at[t], x, &g);
		maxpool_backward(din[t], dout, at[t], &g);
	}
	kn_set_threads(saved);
	for (int t = 1; t < TEST_THREAD_COUNT_N; t++) {
		assert_memory_equal(out[0], out[t], no * sizeof(float));
		assert_memory_equal(at[0], at[t], no * sizeof(int32_t));
		assert_memory_equal(din[0], din[t], ni * sizeof(float));
	}
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++) {
		free(out[t]);
		free(at[t]);
		free(din[t]);
	}
	free(x);
	free(dout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_closed_form_2x2),
		cmocka_unit_test(test_padding_is_minus_infinity),
		cmocka_unit_test(test_fast_equals_scan),
		cmocka_unit_test(test_fast_equals_scan_shapes),
		cmocka_unit_test(test_nan_propagates),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_threads_bitwise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
