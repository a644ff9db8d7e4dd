/* Tests of the base conventions: errors, checked allocation sizes, the random generator. */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "io/rng.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static void test_error_message_and_prefix(void **state)
{
	(void)state;
	assert_int_equal(kn_error(KN_EFORMAT, "bad value %d", 7), KN_EFORMAT);
	assert_string_equal(kn_errmsg(), "bad value 7");
	assert_int_equal(kn_error_prefix(KN_EFORMAT, "'%s'", "a.png"), KN_EFORMAT);
	assert_string_equal(kn_errmsg(), "'a.png': bad value 7");
}

static void test_size_mul_overflow(void **state)
{
	size_t out = 123;

	(void)state;
	assert_true(kn_size_mul(&out, 1000, 1000));
	assert_int_equal(out, 1000000);
	assert_false(kn_size_mul(&out, SIZE_MAX / 2, 3));
	assert_false(kn_size_mul4(&out, 1u << 20, 1u << 20, 1u << 20, 1u << 20));
	assert_true(kn_size_mul4(&out, 2, 3, 4, 5));
	assert_int_equal(out, 120);
}

static void test_try_alloc_refuses_huge(void **state)
{
	(void)state;
	assert_null(kn_try_alloc(KN_MAX_FILE_ALLOC + 1, "pixels of 'x.png'"));
	assert_non_null(strstr(kn_errmsg(), "pixels of 'x.png'"));
}

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
		cmocka_unit_test(test_error_message_and_prefix),
		cmocka_unit_test(test_size_mul_overflow),
		cmocka_unit_test(test_try_alloc_refuses_huge),
		cmocka_unit_test(test_rng_reproducible_and_streams_differ),
		cmocka_unit_test(test_rng_distributions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
