/*
 * DP-SGD's batches, clipping and noise (nets/dp.h):
 * - clipping: closed forms, and every clipped vector's norm is at most the bound;
 * - the norm: against a direct double sum, and the same bits at any thread count;
 * - noise: mean 0 and standard deviation std per coordinate within statistical bounds,
 *   reproducible from (seed, step) at any thread count, other for another step; the
 *   secure source gives the same statistics and never the same values twice;
 * - Poisson batches: sizes with mean qN and binomial variance, every image at rate q,
 *   reproducible from the seed; q = 0 and q = 1;
 * - a private step's gradient: each image alone through a batch-1 model, summed with a
 *   bound too large to clip and no noise, divided by the batch, is the gradient of the
 *   same images as one batch (every pixel labelled, so each image weighs the same).
 */
#include "tests/testutil.h"

#include "nets/dp.h"
#include "nets/gemm.h"
#include "nets/model.h"
#include "io/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_clip_closed_form(void **state)
{
	float g[2] = {3, 4}, sum[2] = {1, 1}, small[2] = {0.3f, 0.4f}, zero[2] = {0, 0};
	double norm;

	(void)state;
	norm = dp_add_clipped(sum, g, 2, 1.0);
	assert_true(fabs(norm - 5) < 1e-12);
	/* f = 1 / (5 + 1e-6) in double, then rounded to float. */
	assert_true(sum[0] == 1 + (float)(1 / (5 + DP_NORM_EPS)) * 3.0f);
	assert_true(sum[1] == 1 + (float)(1 / (5 + DP_NORM_EPS)) * 4.0f);
	/* Inside the bound: added as it is. */
	memset(sum, 0, sizeof(sum));
	dp_add_clipped(sum, small, 2, 1.0);
	assert_true(sum[0] == 0.3f && sum[1] == 0.4f);
	/* A zero gradient adds nothing and divides by nothing. */
	assert_true(dp_add_clipped(sum, zero, 2, 1.0) == 0);
	assert_true(sum[0] == 0.3f && sum[1] == 0.4f);
}

static void test_clipped_norm_at_most_the_bound(void **state)
{
	size_t n = 100003;
	float *g = malloc(n * 4), *sum = malloc(n * 4);
	struct rng r;

	(void)state;
	rng_init(&r, 4);
	for (int t = 0; t < 20; t++) {
		double scale = pow(10, t / 4.0 - 2), clip = 0.5 + t, got;

		for (size_t i = 0; i < n; i++)
			g[i] = (float)(scale * rng_normal(&r));
		memset(sum, 0, n * 4);
		dp_add_clipped(sum, g, n, clip);
		got = dp_l2_norm(sum, n);
		/* The float rounding of n products may add a few units in the last place. */
		assert_true(got <= clip * (1 + 1e-6));
		if (dp_l2_norm(g, n) > clip * 1.01)
			assert_true(got > clip * (1 - 1e-5)); /* clipped to the bound, not below */
	}
	free(g);
	free(sum);
}

static void test_norm_any_thread_count(void **state)
{
	size_t n = 1000003;
	float *g = malloc(n * 4);
	static const int threads[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();
	double want = 0, got[4];
	struct rng r;

	(void)state;
	rng_init(&r, 5);
	for (size_t i = 0; i < n; i++) {
		g[i] = (float)rng_normal(&r);
		want += (double)g[i] * g[i];
	}
	for (int t = 0; t < 4; t++) {
		kn_set_threads(threads[t]);
		got[t] = dp_l2_norm(g, n);
		assert_true(got[t] == got[0]);
	}
	kn_set_threads(saved);
	assert_true(fabs(got[0] - sqrt(want)) <= 1e-9 * sqrt(want));
	free(g);
}

/* Mean and standard deviation of v (n values). */
static void moments(const float *v, size_t n, double *mean, double *sd)
{
	double s = 0, ss = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	*mean = s / (double)n;
	for (size_t i = 0; i < n; i++)
		ss += (v[i] - *mean) * (v[i] - *mean);
	*sd = sqrt(ss / (double)(n - 1));
}

/*
 * With n samples of N(0, s^2), the mean is within 6 s / sqrt(n) and the standard
 * deviation within 6 s sqrt(1 / (2n)) of s (6 standard errors: a false failure about
 * once in 10^9 runs).
 */
static void check_normal(const float *v, size_t n, double s)
{
	double mean, sd;

	moments(v, n, &mean, &sd);
	if (fabs(mean) > 6 * s / sqrt((double)n) || fabs(sd - s) > 6 * s * sqrt(0.5 / (double)n))
		fail_msg("noise mean %g, sd %g; want 0 and %g", mean, sd, s);
}

static void test_noise_statistics_and_streams(void **state)
{
	static const int threads[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();
	size_t n = 1 << 20;
	float *a = calloc(n, 4), *b = calloc(n, 4), *c = calloc(n, 4);
	double std = 1.1 * 0.5 / 16; /* sigma C / B, as a DP step scales it */

	(void)state;
	assert_int_equal(dp_add_noise(a, n, std, 7, 3, false), 0);
	check_normal(a, n, std);
	for (int t = 0; t < 4; t++) {
		kn_set_threads(threads[t]);
		memset(b, 0, n * 4);
		assert_int_equal(dp_add_noise(b, n, std, 7, 3, false), 0);
		assert_memory_equal(a, b, n * 4);
	}
	kn_set_threads(saved);
	assert_int_equal(dp_add_noise(c, n, std, 7, 4, false), 0);
	assert_memory_not_equal(a, c, n * 4);
	/* Coordinates are independent: neighbours do not correlate. */
	{
		double r = 0;

		for (size_t i = 0; i + 1 < n; i++)
			r += (double)a[i] * a[i + 1];
		r /= (double)(n - 1) * std * std;
		assert_true(fabs(r) < 6 / sqrt((double)n));
	}
	/* Noise adds to what is there. */
	for (size_t i = 0; i < n; i++)
		b[i] = 2.0f;
	assert_int_equal(dp_add_noise(b, n, std, 7, 3, false), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(b[i] == 2.0f + a[i]);
	free(a), free(b), free(c);
}

static void test_secure_noise(void **state)
{
	size_t n = 1 << 20;
	float *a = calloc(n, 4), *b = calloc(n, 4);

	(void)state;
	assert_int_equal(dp_add_noise(a, n, 0.25, 7, 3, true), 0);
	assert_int_equal(dp_add_noise(b, n, 0.25, 7, 3, true), 0);
	check_normal(a, n, 0.25);
	check_normal(b, n, 0.25);
	assert_memory_not_equal(a, b, n * 4);
	free(a), free(b);
}

static void test_poisson_batches(void **state)
{
	enum { N = 1000, STEPS = 2000 };
	double q = 0.05, mean = 0, var = 0, sizes[STEPS];
	int *idx = malloc(N * sizeof(int)), *idx2 = malloc(N * sizeof(int));
	int *hits = calloc(N, sizeof(int));

	(void)state;
	for (int s = 0; s < STEPS; s++) {
		int k = dp_poisson_batch(11, s, N, q, idx);

		for (int i = 0; i < k; i++) {
			assert_true(idx[i] >= 0 && idx[i] < N);
			assert_true(i == 0 || idx[i] > idx[i - 1]);
			hits[idx[i]]++;
		}
		sizes[s] = k;
		mean += k;
	}
	mean /= STEPS;
	for (int s = 0; s < STEPS; s++)
		var += (sizes[s] - mean) * (sizes[s] - mean);
	var /= STEPS - 1;
	/* Binomial(N, q): mean 50, variance 47.5; bounds of 6 standard errors. */
	assert_true(fabs(mean - N * q) < 6 * sqrt(N * q * (1 - q) / STEPS));
	assert_true(fabs(var - N * q * (1 - q)) < 6 * N * q * (1 - q) * sqrt(2.0 / STEPS));
	/* Every image at rate q: its count is Binomial(STEPS, q), mean 100, sd 9.7. */
	for (int i = 0; i < N; i++)
		assert_true(fabs(hits[i] - STEPS * q) < 6.5 * sqrt(STEPS * q * (1 - q)));
	/* Reproducible from (seed, step), and another seed draws another batch. */
	assert_int_equal(dp_poisson_batch(11, 17, N, q, idx), dp_poisson_batch(11, 17, N, q, idx2));
	assert_memory_equal(idx, idx2, (size_t)dp_poisson_batch(11, 17, N, q, idx) * sizeof(int));
	{
		int a = dp_poisson_batch(11, 17, N, q, idx), b = dp_poisson_batch(12, 17, N, q, idx2);

		assert_true(a != b || memcmp(idx, idx2, (size_t)a * sizeof(int)));
	}
	/* q = 0: always empty; q = 1: everyone. */
	assert_int_equal(dp_poisson_batch(11, 3, N, 0, idx), 0);
	assert_int_equal(dp_poisson_batch(11, 3, N, 1, idx), N);
	for (int i = 0; i < N; i++)
		assert_int_equal(idx[i], i);
	free(idx), free(idx2), free(hits);
}

static void test_per_image_sum_is_the_batch_gradient(void **state)
{
	struct net_config cfg = net_config_default(NET_KNRESNET18, NET_HEAD_FPN, 4);
	enum { N = 3, H = 64, W = 64 };
	struct model *batch, *one;
	size_t plane = (size_t)H * W, nparams;
	float *x = malloc(N * 3 * plane * sizeof(float)), *sum;
	uint8_t *labels = malloc(N * plane);
	double norm, worst = 0, scale = 0;

	(void)state;
	cfg.width = 0.05f;
	cfg.p = 0.05f;
	fill_uniform(x, N * 3 * plane, -2, 2, 21);
	for (size_t i = 0; i < N * plane; i++)
		labels[i] = (uint8_t)(i * 7 % 4);
	assert_int_equal(model_create(&batch, &cfg, N, H, W, MODEL_TRAIN), 0);
	assert_int_equal(model_create(&one, &cfg, 1, H, W, MODEL_TRAIN), 0);
	model_init_weights(batch, 3);
	model_init_weights(one, 3);
	nparams = batch->g.param_count;
	sum = calloc(nparams, sizeof(float));
	/* The same masks in both: per-image streams, image i of the batch = image0 i. */
	batch->image_streams = one->image_streams = true;
	batch->step = one->step = 9;
	for (int i = 0; i < N; i++)
		model_set_input(batch, i, x + i * 3 * plane, H, W);
	model_forward(batch);
	model_backward(batch, labels, NULL);
	for (int i = 0; i < N; i++) {
		one->image0 = i;
		model_set_input(one, 0, x + i * 3 * plane, H, W);
		model_forward(one);
		model_backward(one, labels + i * plane, NULL);
		norm = dp_add_clipped(sum, one->grads, nparams, 1e30);
		assert_true(norm > 0 && isfinite(norm));
	}
	for (size_t p = 0; p < nparams; p++) {
		double d = fabs((double)sum[p] / N - batch->grads[p]);

		worst = d > worst ? d : worst;
		scale = fabs((double)batch->grads[p]) > scale ? fabs((double)batch->grads[p]) : scale;
	}
	/* Float sums in another order: within 1e-5 of the largest gradient. */
	if (worst > 1e-5 * scale)
		fail_msg("per-image sum / N differs from the batch gradient by %g (largest %g)", worst,
			 scale);
	free(x), free(labels), free(sum);
	model_destroy(batch);
	model_destroy(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clip_closed_form),
		cmocka_unit_test(test_clipped_norm_at_most_the_bound),
		cmocka_unit_test(test_norm_any_thread_count),
		cmocka_unit_test(test_noise_statistics_and_streams),
		cmocka_unit_test(test_secure_noise),
		cmocka_unit_test(test_poisson_batches),
		cmocka_unit_test(test_per_image_sum_is_the_batch_gradient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
