/*
 * Tests of nets/upsample.c: bilinear resizing with PyTorch's align_corners = false rule.
 * Closed forms (constants stay constant, linear ramps are reproduced away from the
 * clamped borders, mass is conserved by backward), the fast tiled kernel against a
 * per-pixel double reference, the PyTorch fixtures (scripts/ref_layers.py),
 * central-difference gradients in double, accumulation, and thread-count independence.
 */
#include "tests/testutil.h"

#include "tests/gradcheck.h"
#include "tests/layers_ref.h"

#include "io/alloc.h"
#include "nets/gemm.h"
#include "nets/upsample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct resize_case {
	int planes, h, w, ho, wo;
};

static size_t in_count(const struct resize_case *c)
{
	return (size_t)c->planes * c->h * c->w;
}

static size_t out_count(const struct resize_case *c)
{
	return (size_t)c->planes * c->ho * c->wo;
}

static void test_constant_stays_constant(void **state)
{
	const struct resize_case cases[] = {
		{2, 3, 4, 96, 128}, {1, 17, 13, 5, 4}, {1, 7, 5, 16, 23}, {1, 1, 1, 5, 3},
		{1, 6, 1, 3, 7},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct resize_case *c = &cases[k];
		float *x = xmalloc(in_count(c) * sizeof(float));
		float *out = xmalloc(out_count(c) * sizeof(float));
		float *want = xmalloc(out_count(c) * sizeof(float));

		for (size_t i = 0; i < in_count(c); i++)
			x[i] = 0.7f;
		for (size_t i = 0; i < out_count(c); i++)
			want[i] = 0.7f;
		upsample_bilinear_forward(out, x, c->planes, c->h, c->w, c->ho, c->wo);
		/* The two weights of an axis sum to 1 up to one rounding. */
		assert_allclose("constant", out, want, out_count(c), 3e-7, 0);
		free(x);
		free(out);
		free(want);
	}
}

/* Inside the unclamped region, a linear ramp is resampled exactly at the source points. */
static void check_ramp(int h, int w, int ho, int wo)
{
	float *x = xmalloc((size_t)h * w * sizeof(float));
	float *out = xmalloc((size_t)ho * wo * sizeof(float));
	int checked = 0;

	for (int y = 0; y < h; y++)
		for (int xx = 0; xx < w; xx++)
			x[y * w + xx] = 0.5f * xx - 0.25f * y + 1.0f;
	upsample_bilinear_forward(out, x, 1, h, w, ho, wo);
	for (int y = 0; y < ho; y++) {
		double sy = ((double)h / ho) * (y + 0.5) - 0.5;

		for (int xx = 0; xx < wo; xx++) {
			double sx = ((double)w / wo) * (xx + 0.5) - 0.5;

			if (sy < 0 || sy > h - 1 || sx < 0 || sx > w - 1)
				continue;
			assert_true(fabs(out[y * wo + xx] - (0.5 * sx - 0.25 * sy + 1.0)) < 1e-5);
			checked++;
		}
	}
	/* The interior is most of the output. */
	assert_true(checked >= (ho - 2 * (ho / h + 1)) * (wo - 2 * (wo / w + 1)));
	free(x);
	free(out);
}

static void test_linear_ramp(void **state)
{
	(void)state;
	check_ramp(5, 6, 10, 12);
	check_ramp(4, 5, 16, 20);
	check_ramp(2, 3, 64, 96);
	check_ramp(7, 5, 16, 23);
	check_ramp(17, 13, 5, 4);
}

static void test_same_size_copies(void **state)
{
	float x[2 * 5 * 7], out[2 * 5 * 7];

	(void)state;
	fill_uniform(x, 70, -1, 1, 3);
	upsample_bilinear_forward(out, x, 2, 5, 7, 5, 7);
	assert_memory_equal(out, x, sizeof(x));
}

/* Every output spreads weights summing to 1, so backward conserves the total. */
static void test_backward_conserves_sum(void **state)
{
	const struct resize_case c = {2, 7, 5, 16, 23};
	float *dout = xmalloc(out_count(&c) * sizeof(float));
	float *din = xcalloc(in_count(&c), sizeof(float));
	double in_sum = 0, out_sum = 0;

	(void)state;
	fill_uniform(dout, out_count(&c), 0, 1, 4);
	upsample_bilinear_backward(din, dout, c.planes, c.h, c.w, c.ho, c.wo);
	for (size_t i = 0; i < out_count(&c); i++)
		out_sum += dout[i];
	for (size_t i = 0; i < in_count(&c); i++)
		in_sum += din[i];
	assert_true(fabs(in_sum - out_sum) < 1e-5 * out_sum);
	free(dout);
	free(din);
}

/* <resize(x), r> against <x, backward(r)> for x (resized: rx) and a random r. */
static void check_adjoint(const struct resize_case *c, const double *x, const double *rx,
			  uint64_t seed)
{
	size_t ni = in_count(c), no = out_count(c);
	float *r = xmalloc(no * sizeof(float)), *back = xcalloc(ni, sizeof(float));
	double lhs = 0, rhs = 0, scale = 0;

	fill_uniform(r, no, -1, 1, seed);
	upsample_bilinear_backward(back, r, c->planes, c->h, c->w, c->ho, c->wo);
	for (size_t i = 0; i < no; i++) {
		lhs += rx[i] * r[i];
		scale += fabs(rx[i] * r[i]);
	}
	for (size_t i = 0; i < ni; i++)
		rhs += x[i] * back[i];
	if (fabs(lhs - rhs) > 1e-6 * scale)
		fail_msg("adjoint %dx%d -> %dx%d: %.9g vs %.9g", c->h, c->w, c->ho, c->wo, lhs, rhs);
	free(r);
	free(back);
}

/*
 * The tiled float kernels against the per-pixel double reference, with widths beyond a
 * tile and strong shrinking (tiles cut short): forward element by element, backward
 * through the adjoint identity <resize(x), r> = <x, backward(r)> in double, for which
 * one wrong or missing term would move the sum far beyond the tolerance.
 */
static void test_fast_vs_reference(void **state)
{
	const struct resize_case cases[] = {
		{3, 3, 5, 7, 600}, {2, 40, 300, 9, 530}, {1, 9, 700, 20, 257}, {2, 6, 9, 13, 4},
		{1, 4, 2000, 3, 300}, {2, 8, 16, 256, 512},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct resize_case *c = &cases[k];
		size_t ni = in_count(c), no = out_count(c);
		float *x = xmalloc(ni * sizeof(float)), *out = xmalloc(no * sizeof(float));
		double *xd, *want = xmalloc(no * sizeof(double));

		fill_uniform(x, ni, -1, 1, 5 + k);
		xd = gradcheck_to_double(x, ni);
		upsample_bilinear_forward(out, x, c->planes, c->h, c->w, c->ho, c->wo);
		ref_resize(want, xd, c->planes, c->h, c->w, c->ho, c->wo);
		/* Float weights and three float multiply-adds: a few ulps of |x| <= 1. */
		assert_allclose_d("resize", out, want, no, 1e-6, 1e-6);
		check_adjoint(c, xd, want, 70 + k);
		free(x);
		free(out);
		free(xd);
		free(want);
	}
}

/* din (planes, h, w) = the transpose of ref_resize applied to dout, scattered in double. */
static void ref_resize_backward(double *din, const float *dout, int planes, int h, int w,
				int ho, int wo)
{
	memset(din, 0, (size_t)planes * h * w * sizeof(double));
	for (int p = 0; p < planes; p++) {
		double *d = din + (size_t)p * h * w;

		for (int y = 0; y < ho; y++) {
			for (int xx = 0; xx < wo; xx++) {
				double g = dout[((size_t)p * ho + y) * wo + xx], ly, lx;
				int y0, y1, x0, x1;

				ref_resize_taps(y, h, ho, &y0, &y1, &ly);
				ref_resize_taps(xx, w, wo, &x0, &x1, &lx);
				d[y0 * w + x0] += (1 - ly) * (1 - lx) * g;
				d[y0 * w + x1] += (1 - ly) * lx * g;
				d[y1 * w + x0] += ly * (1 - lx) * g;
				d[y1 * w + x1] += ly * lx * g;
			}
		}
	}
}

/*
 * Backward element by element against the scatter in double, on the shapes where the
 * gather's runs and tiles meet their edge cases: sizes 1 in and out, the same width
 * (each input column one run of one), upsampling far (long runs) and by non-integer
 * ratios, shrinking by just over 2 (tiles cut near their end) and far (tiles of one
 * output column); din starts at 1 to check that backward adds.
 */
static void test_backward_vs_reference(void **state)
{
	const struct resize_case cases[] = {
		{2, 1, 1, 1, 1},      {1, 3, 1, 4, 1},       {2, 5, 7, 3, 1},     {1, 4, 1, 6, 300},
		{1, 3, 600, 3, 600},  {1, 3, 257, 5, 600},   {1, 2, 3, 2, 2000},  {1, 2, 700, 3, 513},
		{1, 2, 1030, 2, 512}, {1, 2, 3000, 3, 700},  {1, 2, 5000, 2, 3},  {1, 300, 2, 7, 1},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct resize_case *c = &cases[k];
		size_t ni = in_count(c), no = out_count(c);
		float *dout = xmalloc(no * sizeof(float)), *din = xmalloc(ni * sizeof(float));
		double *want = xmalloc(ni * sizeof(double));

		fill_uniform(dout, no, -1, 1, 80 + k);
		for (size_t i = 0; i < ni; i++)
			din[i] = 1.0f;
		ref_resize_backward(want, dout, c->planes, c->h, c->w, c->ho, c->wo);
		for (size_t i = 0; i < ni; i++)
			want[i] += 1.0;
		upsample_bilinear_backward(din, dout, c->planes, c->h, c->w, c->ho, c->wo);
		if (!allclose_d("resize backward", din, want, ni, 1e-5, 1e-5))
			fail_msg("resize backward %dx%d -> %dx%d", c->h, c->w, c->ho, c->wo);
		free(dout);
		free(din);
		free(want);
	}
}

/* "layers_<name>_<tensor>" in a static buffer, used at once by fixture_load. */
static const char *fixture_name(const char *name, const char *tensor)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "layers_%s_%s", name, tensor);
	return buf;
}

static void check_fixture(const char *name, int n, int c, int h, int w, int ho, int wo)
{
	struct npy_array in, out, dout, din;
	float *got, *dgot;

	fixture_load_shape(fixture_name(name, "in"), &in, 4, n, c, h, w);
	fixture_load_shape(fixture_name(name, "out"), &out, 4, n, c, ho, wo);
	fixture_load_shape(fixture_name(name, "dout"), &dout, 4, n, c, ho, wo);
	fixture_load_shape(fixture_name(name, "din"), &din, 4, n, c, h, w);
	got = xmalloc(out.count * sizeof(float));
	dgot = xcalloc(in.count, sizeof(float));
	upsample_bilinear_forward(got, in.data, n * c, h, w, ho, wo);
	upsample_bilinear_backward(dgot, dout.data, n * c, h, w, ho, wo);
	/*
	 * The double reference rounded to float against float arithmetic: outputs are three
	 * multiply-adds (a few ulps); an input gradient sums up to ~(ho/h)*(wo/w)*4 float
	 * products (4096 for x32), so its rounding grows with the count; atol covers
	 * values that are sums of cancelling terms.
	 */
	assert_allclose(name, got, out.data, out.count, 1e-5, 1e-6);
	assert_allclose(name, dgot, din.data, in.count, 1e-5, 1e-5);
	free(got);
	free(dgot);
	npy_free(&in);
	npy_free(&out);
	npy_free(&dout);
	npy_free(&din);
}

static void test_fixtures(void **state)
{
	(void)state;
	check_fixture("up2", 1, 2, 5, 6, 10, 12);
	check_fixture("up4", 2, 1, 4, 5, 16, 20);
	check_fixture("up32", 1, 1, 2, 2, 64, 64);
	check_fixture("up7x5", 1, 2, 7, 5, 16, 23);
	check_fixture("down17x13", 1, 2, 17, 13, 5, 4);
	check_fixture("mixed", 1, 1, 6, 9, 13, 4);
}

struct resize_ctx {
	const struct resize_case *c;
	const double *r; /* upstream gradient (planes, ho, wo) */
	double *out;     /* scratch (planes, ho, wo) */
};

static double resize_ref_dot(const double *x, void *ctx)
{
	struct resize_ctx *rc = ctx;
	const struct resize_case *c = rc->c;
	double s = 0;

	ref_resize(rc->out, x, c->planes, c->h, c->w, c->ho, c->wo);
	for (size_t i = 0; i < out_count(c); i++)
		s += rc->r[i] * rc->out[i];
	return s;
}

static void test_gradcheck(void **state)
{
	const struct resize_case cases[] = {
		{2, 5, 6, 10, 12}, {1, 2, 2, 64, 64}, {2, 7, 5, 16, 23}, {1, 17, 13, 5, 4},
		{1, 3, 4, 5, 300},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct resize_case *c = &cases[k];
		size_t ni = in_count(c), no = out_count(c);
		float *r = xmalloc(no * sizeof(float)), *dx = xmalloc(ni * sizeof(float));
		double *x = xmalloc(ni * sizeof(double)), *num = xmalloc(ni * sizeof(double));
		struct resize_ctx ctx = {c, NULL, xmalloc(no * sizeof(double))};

		fill_uniform(r, no, -1, 1, 50 + k);
		/* Backward adds to what is there: start from 1 and add it to the expectation. */
		for (size_t i = 0; i < ni; i++) {
			dx[i] = 1.0f;
			x[i] = sin((double)i);
		}
		ctx.r = gradcheck_to_double(r, no);
		gradcheck_numeric(num, x, ni, 1e-3, resize_ref_dot, &ctx);
		for (size_t i = 0; i < ni; i++)
			num[i] += 1.0;
		upsample_bilinear_backward(dx, r, c->planes, c->h, c->w, c->ho, c->wo);
		assert_allclose_d("resize dx", dx, num, ni, GRADCHECK_RTOL, 1e-5);
		free(r);
		free(dx);
		free(x);
		free(num);
		free(ctx.out);
		free((double *)ctx.r);
	}
}

static void test_threads_bitwise(void **state)
{
	const struct resize_case c = {38, 16, 32, 64, 128};
	size_t ni = in_count(&c), no = out_count(&c);
	float *x = xmalloc(ni * sizeof(float)), *dout = xmalloc(no * sizeof(float));
	float *out[TEST_THREAD_COUNT_N], *din[TEST_THREAD_COUNT_N];
	const int counts[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();

	(void)state;
	fill_uniform(x, ni, -1, 1, 61);
	fill_uniform(dout, no, -1, 1, 62);
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++) {
		kn_set_threads(counts[t]);
		out[t] = xmalloc(no * sizeof(float));
		din[t] = xcalloc(ni, sizeof(float));
		upsample_bilinear_forward(out[t], x, c.planes, c.h, c.w, c.ho, c.wo);
		upsample_bilinear_backward(din[t], dout, c.planes, c.h, c.w, c.ho, c.wo);
	}
	kn_set_threads(saved);
	for (int t = 1; t < TEST_THREAD_COUNT_N; t++) {
		assert_memory_equal(out[0], out[t], no * sizeof(float));
		assert_memory_equal(din[0], din[t], ni * sizeof(float));
	}
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++) {
		free(out[t]);
		free(din[t]);
	}
	free(x);
	free(dout);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constant_stays_constant),
		cmocka_unit_test(test_linear_ramp),
		cmocka_unit_test(test_same_size_copies),
		cmocka_unit_test(test_backward_conserves_sum),
		cmocka_unit_test(test_fast_vs_reference),
		cmocka_unit_test(test_backward_vs_reference),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_threads_bitwise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
