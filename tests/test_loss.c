/*
 * Tests of nets/loss.c: softmax cross-entropy with ignore label and class weights.
 * Closed forms (uniform logits give log K, all-ignored gives 0 with zero gradient), the
 * PyTorch fixtures (scripts/ref_layers.py), central-difference gradients in double
 * against a double reference, the forward/backward/fused variants against each other,
 * stability for huge logits, the CHECK on a bad label, accumulation, thread-count
 * independence, and a batch split into parts over a shared denominator.
 */
#include "tests/testutil.h"

#include "tests/gradcheck.h"
#include "tests/layers_ref.h"

#include "io/alloc.h"
#include "nets/gemm.h"
#include "nets/fastexp.h"
#include "nets/loss.h"
#include "io/rng.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define IGNORE 255

/* Labels in [0, k) with about a quarter ignored. */
static void fill_labels(uint8_t *y, size_t n, int k, uint64_t seed)
{
	struct rng r;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		y[i] = rng_below(&r, 4) == 0 ? IGNORE : (uint8_t)rng_below(&r, (uint64_t)k);
}

static void test_uniform_logits_give_log_k(void **state)
{
	enum { N = 2, K = 19, HW = 30 };
	float *logits = xmalloc(N * K * HW * sizeof(float));
	float *d = xcalloc(N * K * HW, sizeof(float));
	uint8_t y[N * HW];
	struct loss_ce_geom g = {N, K, HW, IGNORE};
	double loss, count;

	(void)state;
	for (int i = 0; i < N * K * HW; i++)
		logits[i] = 3.25f;
	fill_labels(y, N * HW, K, 1);
	count = loss_ce_weight_sum(y, NULL, &g);
	assert_true(count > 0 && count < N * HW);
	loss = loss_ce_forward_backward(d, logits, y, NULL, 1.0f, &g);
	assert_true(fabs(loss - log((double)K)) < 1e-6);
	/* d = (1/K - [c == y]) / count on valid pixels, 0 on ignored ones. */
	for (int n = 0; n < N; n++) {
		for (int c = 0; c < K; c++) {
			for (int s = 0; s < HW; s++) {
				int yy = y[n * HW + s];
				double want = yy == IGNORE ? 0 : (1.0 / K - (yy == c)) / count;

				assert_true(fabs(d[(n * K + c) * HW + s] - want) < 1e-7);
			}
		}
	}
	free(logits);
	free(d);
}

static void test_all_ignored_is_zero(void **state)
{
	enum { K = 3, HW = 10 };
	float logits[K * HW], d[K * HW];
	uint8_t y[HW];
	const float w[K] = {1, 2, 3};
	struct loss_ce_geom g = {1, K, HW, IGNORE};

	(void)state;
	fill_uniform(logits, K * HW, -5, 5, 2);
	memset(y, IGNORE, sizeof(y));
	memset(d, 0, sizeof(d));
	assert_true(loss_ce_forward(logits, y, NULL, &g) == 0.0);
	assert_true(loss_ce_forward(logits, y, w, &g) == 0.0);
	assert_true(loss_ce_forward_backward(d, logits, y, w, 1.0f, &g) == 0.0);
	loss_ce_backward(d, logits, y, NULL, 1.0f, &g);
	for (int i = 0; i < K * HW; i++)
		assert_true(d[i] == 0.0f);
	/* The same when the only valid pixels have weight 0. */
	y[3] = 1;
	{
		const float w0[K] = {1, 0, 1};

		assert_true(loss_ce_forward_backward(d, logits, y, w0, 1.0f, &g) == 0.0);
		for (int i = 0; i < K * HW; i++)
			assert_true(d[i] == 0.0f);
	}
}

/* The weighted mean of a hand-computed two-pixel case. */
static void test_weighted_mean_by_hand(void **state)
{
	/* Pixel 0: logits (0, ln 3) label 1; pixel 1: logits (ln 2, 0) label 0. */
	const float logits[4] = {0.0f, (float)M_LN2, (float)log(3.0), 0.0f};
	const uint8_t y[2] = {1, 0};
	const float w[2] = {2.0f, 0.5f};
	struct loss_ce_geom g = {1, 2, 2, IGNORE};
	double nll0 = log(4.0) - (double)(float)log(3.0), nll1 = log(3.0) - (double)(float)M_LN2;
	double want = (0.5 * nll0 + 2.0 * nll1) / 2.5;

	(void)state;
	assert_true(fabs(loss_ce_forward(logits, y, w, &g) - want) < 1e-6);
	assert_true(fabs(loss_ce_weight_sum(y, w, &g) - 2.5) == 0);
	assert_true(fabs(loss_ce_forward(logits, y, NULL, &g) - (nll0 + nll1) / 2) < 1e-6);
}

/* "layers_<name>_<tensor>" in a static buffer, used at once by fixture_load. */
static const char *fixture_name(const char *name, const char *tensor)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "layers_%s_%s", name, tensor);
	return buf;
}

static void check_fixture(const char *name, int n, int k, int h, int w, bool weighted)
{
	struct npy_array logits, labels, loss, dlogits, weights = {0};
	struct loss_ce_geom g = {n, k, h * w, IGNORE};
	uint8_t *y = xmalloc((size_t)n * h * w);
	float *d;
	double got;

	fixture_load_shape(fixture_name(name, "logits"), &logits, 4, n, k, h, w);
	fixture_load_shape(fixture_name(name, "labels"), &labels, 3, n, h, w);
	fixture_load_shape(fixture_name(name, "loss"), &loss, 1, 1);
	fixture_load_shape(fixture_name(name, "dlogits"), &dlogits, 4, n, k, h, w);
	if (weighted)
		fixture_load_shape(fixture_name(name, "weights"), &weights, 1, k);
	for (size_t i = 0; i < labels.count; i++)
		y[i] = (uint8_t)labels.data[i];
	d = xcalloc(logits.count, sizeof(float));
	got = loss_ce_forward_backward(d, logits.data, y, weights.data, 1.0f, &g);
	/*
	 * float exp and sums against the double reference: a few ulps per logit, so 1e-5
	 * relative; atol for gradients of classes with a tiny probability.
	 */
	assert_true(fabs(got - loss.data[0]) <= 1e-5 * fabs(loss.data[0]));
	assert_allclose(name, d, dlogits.data, logits.count, 1e-5, 1e-8);
	assert_true(loss_ce_forward(logits.data, y, weights.data, &g) == got);
	free(y);
	free(d);
	npy_free(&logits);
	npy_free(&labels);
	npy_free(&loss);
	npy_free(&dlogits);
	if (weighted)
		npy_free(&weights);
}

static void test_fixtures(void **state)
{
	(void)state;
	check_fixture("ce19", 2, 19, 5, 7, false);
	check_fixture("ce19w", 2, 19, 5, 7, true);
	check_fixture("ce3", 1, 3, 6, 5, false);
	check_fixture("ce3w", 1, 3, 6, 5, true);
}

struct loss_ref_ctx {
	const struct loss_ce_geom *g;
	const uint8_t *y;
	const float *w;
};

static double loss_ref(const double *x, void *ctx)
{
	const struct loss_ref_ctx *c = ctx;

	return ref_ce_loss(x, c->y, c->w, c->g);
}

static void gradcheck_case(int n, int k, int hw, const float *w, uint64_t seed)
{
	struct loss_ce_geom g = {n, k, hw, IGNORE};
	size_t nl = (size_t)n * k * hw;
	float *x = xmalloc(nl * sizeof(float)), *d = xmalloc(nl * sizeof(float));
	uint8_t *y = xmalloc((size_t)n * hw);
	double *xd, *num = xmalloc(nl * sizeof(double));
	struct loss_ref_ctx ctx = {&g, y, w};
	const float dloss = 0.75f;

	fill_uniform(x, nl, -4, 4, seed);
	fill_labels(y, (size_t)n * hw, k, seed + 1);
	/* Backward accumulates: start from 0.5 everywhere. */
	for (size_t i = 0; i < nl; i++)
		d[i] = 0.5f;
	xd = gradcheck_to_double(x, nl);
	assert_true(fabs(loss_ce_forward(x, y, w, &g) - loss_ref(xd, &ctx)) < 1e-6);
	gradcheck_numeric(num, xd, nl, 1e-4, loss_ref, &ctx);
	for (size_t i = 0; i < nl; i++)
		num[i] = 0.5 + dloss * num[i];
	loss_ce_backward(d, x, y, w, dloss, &g);
	assert_allclose_d("loss dlogits", d, num, nl, GRADCHECK_RTOL, 1e-7);
	free(x);
	free(d);
	free(y);
	free(xd);
	free(num);
}

static void test_gradcheck(void **state)
{
	const float w3[3] = {0.5f, 2.0f, 1.25f};
	const float w19[19] = {0.8373f, 0.918f, 0.866f, 1.0345f, 1.0166f, 0.9969f, 0.9754f,
			       1.0489f, 0.8786f, 1.0023f, 0.9539f, 0.9843f, 1.1116f, 0.9037f,
			       1.0865f, 1.0955f, 1.0865f, 1.1529f, 1.0507f};

	(void)state;
	gradcheck_case(2, 3, 17, NULL, 71);
	gradcheck_case(2, 3, 17, w3, 72);
	gradcheck_case(1, 19, 23, NULL, 73);
	gradcheck_case(2, 19, 9, w19, 74);
}

/* forward, backward and the fused pass agree bitwise; dloss scales exactly. */
static void test_variants_agree(void **state)
{
	enum { N = 2, K = 5, HW = 700 };
	float *x = xmalloc(N * K * HW * sizeof(float));
	float *d1 = xcalloc(N * K * HW, sizeof(float)), *d2 = xcalloc(N * K * HW, sizeof(float));
	float *d4 = xcalloc(N * K * HW, sizeof(float));
	uint8_t y[N * HW];
	struct loss_ce_geom g = {N, K, HW, IGNORE};
	double fused;

	(void)state;
	fill_uniform(x, N * K * HW, -3, 3, 81);
	fill_labels(y, N * HW, K, 82);
	fused = loss_ce_forward_backward(d1, x, y, NULL, 1.0f, &g);
	assert_true(loss_ce_forward(x, y, NULL, &g) == fused);
	loss_ce_backward(d2, x, y, NULL, 1.0f, &g);
	assert_memory_equal(d1, d2, N * K * HW * sizeof(float));
	/* Accumulation: a second backward doubles; dloss = 2 gives the same bits. */
	loss_ce_backward(d2, x, y, NULL, 1.0f, &g);
	loss_ce_backward(d4, x, y, NULL, 2.0f, &g);
	for (int i = 0; i < N * K * HW; i++) {
		assert_true(d2[i] == 2.0f * d1[i]);
		assert_true(d4[i] == 2.0f * d1[i]);
	}
	free(x);
	free(d1);
	free(d2);
	free(d4);
}

/*
 * A batch of 4 split into halves, each part over the weight sum of the whole batch
 * (loss_ce_forward_backward_over): the parts' losses add up to the batch's loss and
 * their gradients are the batch's gradient. Images 0 and 1 are mostly ignored (15
 * pixels in 16) and labelled with each pixel's likeliest class, images 2 and 3 rarely
 * (1 in 16) and with the least likely class, so the halves' own means differ widely and
 * their average is far from the batch's loss.
 *
 * Tolerances. Each pixel's loss term and gradient come from its own logits, label and
 * weight and the scale (float)(dloss / wsum), the same in either call: the gradients are
 * the same bits. Only the order of the double sum of the (positive) pixel terms differs,
 * at most 2800 of them, which moves the loss by at most 2800 * 2^-53 (3e-13) relative:
 * hence 1e-12.
 */
static void test_shared_denominator_splits_batch(void **state)
{
	enum { N = 4, K = 5, HW = 700 };
	const float w[K] = {0.5f, 1.0f, 2.0f, 1.5f, 0.25f};
	struct loss_ce_geom g = {N, K, HW, IGNORE}, half = {N / 2, K, HW, IGNORE};
	size_t nl = (size_t)N * K * HW, hl = nl / 2;
	float *x = xmalloc(nl * sizeof(float));
	float *d = xcalloc(nl, sizeof(float)), *dp = xcalloc(nl, sizeof(float));
	uint8_t y[N * HW];
	double wsum, wpart[2], loss, part[2], own[2];

	(void)state;
	fill_uniform(x, nl, -4, 4, 111);
	for (int i = 0; i < N; i++)
		for (int s = 0; s < HW; s++) {
			const float *px = x + (size_t)i * K * HW + s;
			bool ignored = i < 2 ? s % 16 != 3 : s % 16 == 7;
			int c = 0;

			for (int j = 1; j < K; j++)
				if (i < 2 ? px[j * HW] > px[c * HW] : px[j * HW] < px[c * HW])
					c = j;
			y[i * HW + s] = ignored ? IGNORE : (uint8_t)c;
		}
	wsum = loss_ce_weight_sum(y, w, &g);
	loss = loss_ce_forward_backward(d, x, y, w, 1.0f, &g);
	for (int p = 0; p < 2; p++) {
		const uint8_t *yp = y + p * (N / 2) * HW;
		float *scratch = xcalloc(hl, sizeof(float));

		wpart[p] = loss_ce_weight_sum(yp, w, &half);
		part[p] = loss_ce_forward_backward_over(dp + p * hl, x + p * hl, yp, w, 1.0f, wsum,
							&half);
		own[p] = loss_ce_forward_backward(scratch, x + p * hl, yp, w, 1.0f, &half);
		free(scratch);
	}
	/* Binary fractions of at most a few thousand: every partial sum is exact. */
	assert_true(wpart[0] + wpart[1] == wsum);
	assert_true(wpart[1] > 10 * wpart[0]);
	assert_true(fabs(part[0] + part[1] - loss) <= 1e-12 * loss);
	assert_memory_equal(dp, d, nl * sizeof(float));
	/* The mean of the halves' own means is far off: half 0's few pixels count as much. */
	assert_true(own[0] < 0.5 * own[1]);
	assert_true(fabs((own[0] + own[1]) / 2 - loss) > 0.2 * loss);
	/* Over its own weight sum, the _over form is the plain one, bit for bit. */
	memset(dp, 0, nl * sizeof(float));
	assert_true(loss_ce_forward_backward_over(dp, x, y, w, 1.0f, wsum, &g) == loss);
	assert_memory_equal(dp, d, nl * sizeof(float));
	free(x);
	free(d);
	free(dp);
}

/* A zero shared denominator (no valid pixel in any part) gives 0 and no gradient. */
static void test_shared_denominator_zero(void **state)
{
	enum { K = 3, HW = 10 };
	float logits[K * HW], d[K * HW] = {0};
	uint8_t y[HW];
	struct loss_ce_geom g = {1, K, HW, IGNORE};

	(void)state;
	fill_uniform(logits, K * HW, -5, 5, 3);
	memset(y, IGNORE, sizeof(y));
	assert_true(loss_ce_forward_backward_over(d, logits, y, NULL, 1.0f, 0.0, &g) == 0.0);
	for (int i = 0; i < K * HW; i++)
		assert_true(d[i] == 0.0f);
	/* A part with no valid pixel of a batch that has some: 0 and no gradient either. */
	assert_true(loss_ce_forward_backward_over(d, logits, y, NULL, 1.0f, 37.0, &g) == 0.0);
	for (int i = 0; i < K * HW; i++)
		assert_true(d[i] == 0.0f);
}

/* Shifting all logits of a pixel changes nothing, even by 1e4 (no overflow in exp). */
static void test_huge_logits_stable(void **state)
{
	enum { K = 4, HW = 64 };
	float x[K * HW], xs[K * HW], d[K * HW] = {0}, ds[K * HW] = {0};
	uint8_t y[HW];
	struct loss_ce_geom g = {1, K, HW, IGNORE};
	double a, b;

	(void)state;
	fill_uniform(x, K * HW, -2, 2, 91);
	fill_labels(y, HW, K, 92);
	for (int i = 0; i < K * HW; i++)
		xs[i] = x[i] + 1e4f;
	a = loss_ce_forward_backward(d, x, y, NULL, 1.0f, &g);
	b = loss_ce_forward_backward(ds, xs, y, NULL, 1.0f, &g);
	assert_true(isfinite(b));
	/* x + 1e4 rounds to a multiple of 2^-10: only that much differs. */
	assert_true(fabs(a - b) < 2e-3);
	assert_allclose("shifted", ds, d, K * HW, 1e-2, 1e-3);
}

/* A label that is neither a class nor the ignore value aborts with a CHECK. */
static void test_bad_label_checks(void **state)
{
	float x[3 * 2] = {0};
	uint8_t y[2] = {0, 3};
	struct loss_ce_geom g = {1, 3, 2, IGNORE};
	pid_t pid;
	int status;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/*
		 * The parent's OpenMP worker threads do not exist in the child: stay on one
		 * thread, and let an alarm end the child should anything still block.
		 */
		alarm(20);
		kn_set_threads(1);
		/* The expected CHECK message would only clutter the log. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(2);
		loss_ce_forward(x, y, NULL, &g);
		_exit(0);
	}
	assert_true(waitpid(pid, &status, 0) == pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void test_threads_bitwise(void **state)
{
	enum { N = 2, K = 19, HW = 64 * 48 };
	float *x = xmalloc(N * K * HW * sizeof(float)), *d[TEST_THREAD_COUNT_N];
	uint8_t *y = xmalloc(N * HW);
	const float w[K] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
	struct loss_ce_geom g = {N, K, HW, IGNORE};
	double loss[TEST_THREAD_COUNT_N];
	const int counts[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();

	(void)state;
	fill_uniform(x, N * K * HW, -5, 5, 101);
	fill_labels(y, N * HW, K, 102);
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++) {
		kn_set_threads(counts[t]);
		d[t] = xcalloc(N * K * HW, sizeof(float));
		loss[t] = loss_ce_forward_backward(d[t], x, y, w, 1.0f, &g);
	}
	kn_set_threads(saved);
	for (int t = 1; t < TEST_THREAD_COUNT_N; t++) {
		assert_memory_equal(&loss[0], &loss[t], sizeof(double));
		assert_memory_equal(d[0], d[t], N * K * HW * sizeof(float));
	}
	for (int t = 0; t < TEST_THREAD_COUNT_N; t++)
		free(d[t]);
	free(x);
	free(y);
}

/* Distance in units in the last place between float a and the double reference b. */
static double ulps(float a, double b)
{
	int e;

	frexp(b, &e);
	/* A float has 24 significant bits: its ulp at b is 2^(e - 24). */
	return fabs(a - b) / ldexp(1.0, e - 24);
}

/*
 * The vectorized exp of the softmax against exp in double: every 97th float in
 * [-87, 0] (over 11 million values, all exponents; 1.17 ulp at worst when written),
 * and the edges.
 */
static void test_fast_exp_accuracy(void **state)
{
	uint32_t lo;
	double worst = 0;
	float x = -87.0f;

	(void)state;
	memcpy(&lo, &x, sizeof(lo));
	for (uint32_t b = 0x80000000u; b <= lo; b += 97) {
		float v;
		double u;

		memcpy(&v, &b, sizeof(v));
		u = ulps(kn_exp_nonpositive(v), exp((double)v));
		if (u > worst)
			worst = u;
	}
	print_message("fast exp: worst error %.2f ulp over [-87, 0]\n", worst);
	assert_true(worst <= 2.0);
	assert_true(kn_exp_nonpositive(0.0f) == 1.0f);
	assert_true(kn_exp_nonpositive(-0.0f) == 1.0f);
	assert_true(kn_exp_nonpositive(5.0f) == 1.0f);
	assert_true(kn_exp_nonpositive(-87.5f) == 0.0f);
	assert_true(kn_exp_nonpositive(-INFINITY) == 0.0f);
	assert_true(isnan(kn_exp_nonpositive(NAN)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First, before any OpenMP region has started worker threads. */
		cmocka_unit_test(test_bad_label_checks),
		cmocka_unit_test(test_uniform_logits_give_log_k),
		cmocka_unit_test(test_all_ignored_is_zero),
		cmocka_unit_test(test_weighted_mean_by_hand),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_gradcheck),
		cmocka_unit_test(test_variants_agree),
		cmocka_unit_test(test_huge_logits_stable),
		cmocka_unit_test(test_threads_bitwise),
		cmocka_unit_test(test_shared_denominator_splits_batch),
		cmocka_unit_test(test_shared_denominator_zero),
		cmocka_unit_test(test_fast_exp_accuracy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
