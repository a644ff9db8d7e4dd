/*
 * Tests of nets/activation.c: ReLU and the residual add. Closed forms, the PyTorch
 * fixtures (scripts/ref_layers.py), central-difference gradients in double against a
 * double reference, accumulation, aliasing, and thread-count independence.
 */
#include "tests/testutil.h"

#include "tests/gradcheck.h"

#include "io/alloc.h"
#include "nets/activation.h"
#include "nets/gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_relu_closed_form(void **state)
{
	const float in[6] = {-2.0f, -0.0f, 0.0f, 1e-30f, 3.5f, NAN};
	float out[6], din[6] = {1, 1, 1, 1, 1, 1}, dout[6] = {2, 3, 4, 5, 6, 7};

	(void)state;
	relu_forward(out, in, 6);
	assert_true(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f);
	assert_true(out[3] == 1e-30f && out[4] == 3.5f);
	assert_true(isnan(out[5]));
	/* Accumulates; slope 0 at exactly 0 and for NaN, 1 for any positive value. */
	relu_backward(din, dout, in, 6);
	assert_true(din[0] == 1 && din[1] == 1 && din[2] == 1 && din[5] == 1);
	assert_true(din[3] == 6 && din[4] == 7);
}

static void test_relu_in_place_and_mask_from_output(void **state)
{
	enum { N = 1000 };
	float *x = xmalloc(N * sizeof(float)), *y = xmalloc(N * sizeof(float));
	float *dout = xmalloc(N * sizeof(float));
	float *d_in = xcalloc(N, sizeof(float)), *d_out = xcalloc(N, sizeof(float));

	(void)state;
	fill_uniform(x, N, -1, 1, 1);
	fill_uniform(dout, N, -1, 1, 2);
	for (int i = 0; i < N; i += 7)
		x[i] = 0.0f;
	relu_forward(y, x, N);
	relu_backward(d_in, dout, x, N);
	/* The output gives the same mask as the input, so an in-place forward is fine. */
	relu_backward(d_out, dout, y, N);
	assert_memory_equal(d_in, d_out, N * sizeof(float));
	relu_forward(x, x, N);
	assert_memory_equal(x, y, N * sizeof(float));
	free(x);
	free(y);
	free(dout);
	free(d_in);
	free(d_out);
}

static void test_relu_fixture(void **state)
{
	struct npy_array in, out, dout, din;
	float *got, *dgot;

	(void)state;
	fixture_load_shape("layers_relu_in", &in, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_relu_out", &out, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_relu_dout", &dout, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_relu_din", &din, 4, 2, 3, 4, 5);
	got = xmalloc(in.count * sizeof(float));
	dgot = xcalloc(in.count, sizeof(float));
	relu_forward(got, in.data, in.count);
	relu_backward(dgot, dout.data, in.data, in.count);
	/* ReLU only selects values: float and double agree exactly. */
	assert_allclose("relu out", got, out.data, in.count, 0, 0);
	assert_allclose("relu din", dgot, din.data, in.count, 0, 0);
	free(got);
	free(dgot);
	npy_free(&in);
	npy_free(&out);
	npy_free(&dout);
	npy_free(&din);
}

static void test_add_fixture(void **state)
{
	struct npy_array a, b, out, dout, da, db;
	float *got, *dagot, *dbgot;

	(void)state;
	fixture_load_shape("layers_add_a", &a, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_add_b", &b, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_add_out", &out, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_add_dout", &dout, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_add_da", &da, 4, 2, 3, 4, 5);
	fixture_load_shape("layers_add_db", &db, 4, 2, 3, 4, 5);
	got = xmalloc(a.count * sizeof(float));
	dagot = xcalloc(a.count, sizeof(float));
	dbgot = xcalloc(a.count, sizeof(float));
	residual_add_forward(got, a.data, b.data, a.count);
	residual_add_backward(dagot, dbgot, dout.data, a.count);
	/*
	 * The float sum of two floats is the correctly rounded exact sum, which is what the
	 * double reference rounds to; 1 ulp of slack for the rare double rounding.
	 */
	assert_allclose("add out", got, out.data, a.count, 2e-7, 0);
	assert_allclose("add da", dagot, da.data, a.count, 0, 0);
	assert_allclose("add db", dbgot, db.data, a.count, 0, 0);
	free(got);
	free(dagot);
	free(dbgot);
	npy_free(&a);
	npy_free(&b);
	npy_free(&out);
	npy_free(&dout);
	npy_free(&da);
	npy_free(&db);
}

static void test_add_aliasing_accumulation_and_null(void **state)
{
	float a[4] = {1, 2, 3, 4}, b[4] = {10, 20, 30, 40}, dout[4] = {1, -1, 2, -2};
	float da[4] = {5, 5, 5, 5}, db[4] = {0};
	const float sum[4] = {11, 22, 33, 44};

	(void)state;
	residual_add_forward(a, a, b, 4);
	assert_memory_equal(a, sum, sizeof(sum));
	residual_add_backward(da, NULL, dout, 4);
	assert_true(da[0] == 6 && da[1] == 4 && da[2] == 7 && da[3] == 3);
	residual_add_backward(NULL, db, dout, 4);
	residual_add_backward(NULL, db, dout, 4);
	assert_true(db[0] == 2 && db[1] == -2 && db[2] == 4 && db[3] == -4);
}

/* The _set forms overwrite what was there (NaN here) with what the += forms add to 0. */
static void test_backward_set_overwrites(void **state)
{
	const float x[5] = {-1, 0, 2, NAN, 3}, dout[5] = {1, 2, 3, 4, 5};
	const float relu_want[5] = {0, 0, 3, 0, 5};
	float din[5], da[5], db[5];

	(void)state;
	for (int i = 0; i < 5; i++)
		din[i] = da[i] = db[i] = NAN;
	relu_backward_set(din, dout, x, 5);
	assert_memory_equal(din, relu_want, sizeof(relu_want));
	residual_add_backward_set(da, NULL, dout, 5);
	assert_memory_equal(da, dout, sizeof(dout));
	assert_true(isnan(db[0]));
	residual_add_backward_set(NULL, db, dout, 5);
	assert_memory_equal(db, dout, sizeof(dout));
}

/* Context of the double references: an upstream gradient r contracted with the output. */
struct elementwise_ctx {
	const double *r, *other;
	size_t n;
};

static double relu_ref(const double *x, void *ctx)
{
	const struct elementwise_ctx *c = ctx;
	double s = 0;

	for (size_t i = 0; i < c->n; i++)
		s += c->r[i] * (x[i] > 0 ? x[i] : 0);
	return s;
}

static double add_ref(const double *x, void *ctx)
{
	const struct elementwise_ctx *c = ctx;
	double s = 0;

	for (size_t i = 0; i < c->n; i++)
		s += c->r[i] * (x[i] + c->other[i]);
	return s;
}

static void test_gradcheck(void **state)
{
	enum { N = 300 };
	float x[N], y[N], r[N], dx[N] = {0}, dy[N] = {0}, dx_relu[N] = {0};
	double *xd, *yd, *rd, num[N];
	struct elementwise_ctx c = {.n = N};

	(void)state;
	fill_uniform(x, N, -1, 1, 11);
	fill_uniform(y, N, -1, 1, 12);
	fill_uniform(r, N, -1, 1, 13);
	/* Keep every input away from the kink of ReLU. */
	for (int i = 0; i < N; i++)
		x[i] += x[i] < 0 ? -0.01f : 0.01f;
	xd = gradcheck_to_double(x, N);
	yd = gradcheck_to_double(y, N);
	rd = gradcheck_to_double(r, N);
	c.r = rd;
	relu_backward(dx_relu, r, x, N);
	gradcheck_numeric(num, xd, N, 1e-4, relu_ref, &c);
	assert_allclose_d("relu dx", dx_relu, num, N, GRADCHECK_RTOL, 1e-9);
	residual_add_backward(dx, dy, r, N);
	c.other = yd;
	gradcheck_numeric(num, xd, N, 1e-4, add_ref, &c);
	assert_allclose_d("add da", dx, num, N, GRADCHECK_RTOL, 1e-9);
	c.other = xd;
	gradcheck_numeric(num, yd, N, 1e-4, add_ref, &c);
	assert_allclose_d("add db", dy, num, N, GRADCHECK_RTOL, 1e-9);
	free(xd);
	free(yd);
	free(rd);
}

/* Large enough to run on both threads. */
static void test_threads_bitwise(void **state)
{
	const size_t n = 200003;
	float *x = xmalloc(n * sizeof(float)), *b = xmalloc(n * sizeof(float));
	float *out[2], *dx[2], *db[2];
	int saved = kn_get_threads();

	(void)state;
	fill_uniform(x, n, -1, 1, 21);
	fill_uniform(b, n, -1, 1, 22);
	for (int t = 0; t < 2; t++) {
		kn_set_threads(t + 1);
		out[t] = xmalloc(n * sizeof(float));
		dx[t] = xcalloc(n, sizeof(float));
		db[t] = xcalloc(n, sizeof(float));
		relu_forward(out[t], x, n);
		residual_add_forward(out[t], out[t], b, n);
		relu_backward(dx[t], b, x, n);
		residual_add_backward(dx[t], db[t], x, n);
	}
	kn_set_threads(saved);
	assert_memory_equal(out[0], out[1], n * sizeof(float));
	assert_memory_equal(dx[0], dx[1], n * sizeof(float));
	assert_memory_equal(db[0], db[1], n * sizeof(float));
	for (int t = 0; t < 2; t++) {
		free(out[t]);
		free(dx[t]);
		free(db[t]);
	}
	free(x);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relu_closed_form),
		cmocka_unit_test(test_relu_in_place_and_mask_from_output),
		cmocka_unit_test(test_relu_fixture),
		cmocka_unit_test(test_add_fixture),
		cmocka_unit_test(test_add_aliasing_accumulation_and_null),
		cmocka_unit_test(test_backward_set_overwrites),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_threads_bitwise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
