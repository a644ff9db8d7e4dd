/*
 * Tests of the random generator (io/rng.h): a stream is reproducible from its (seed, a, b),
 * different ones differ, and the uniform, normal and bounded draws have the right moments.
 */
#include "tests/testutil.h"

#include "io/rng.h"

#include <math.h>
#include <stdint.h>

static void test_rng_reproducible_and_streams_differ(void **state)
{
	struct rng a, b, c, d;

	(void)state;
	rng_init_stream(&a, 42, 1, 2);
	rng_init_stream(&b, 42, 1, 2);
	rng_init_stream(&c, 42, 2, 1);
	rng_init_stream(&d, 43, 1, 2);
	for (int i = 0; i < 100; i++) {
		uint64_t x = rng_u64(&a);

		assert_true(x == rng_u64(&b));
		assert_true(x != rng_u64(&c));
		assert_true(x != rng_u64(&d));
	}
}

static void test_rng_distributions(void **state)
{
	struct rng r;
	double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
	int counts[7] = {0};
	const int n = 200000;

	(void)state;
	rng_init(&r, 7);
	for (int i = 0; i < n; i++) {
		float u = rng_uniform(&r);
		double g = rng_normal(&r);

		assert_true(u >= 0.0f && u < 1.0f);
		sum += u;
		sum2 += (double)u * u;
		nsum += g;
		nsum2 += g * g;
		counts[rng_below(&r, 7)]++;
	}
	/* Means within ~5 standard errors of the expected values. */
	assert_true(fabs(sum / n - 0.5) < 5 * sqrt(1.0 / 12 / n));
	assert_true(fabs(sum2 / n - 1.0 / 3) < 0.005);
	assert_true(fabs(nsum / n) < 5 / sqrt(n));
	assert_true(fabs(nsum2 / n - 1.0) < 0.02);
	for (int k = 0; k < 7; k++)
		assert_true(fabs(counts[k] - n / 7.0) < 5 * sqrt(n / 7.0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rng_reproducible_and_streams_differ),
		cmocka_unit_test(test_rng_distributions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
