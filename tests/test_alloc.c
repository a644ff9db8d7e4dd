/*
 * Tests of checked allocation (io/alloc.h): size products that overflow are caught, and
 * an allocation above the limit for sizes read from files fails with a message.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"

#include <stdint.h>
#include <string.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_mul_overflow),
		cmocka_unit_test(test_try_alloc_refuses_huge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
