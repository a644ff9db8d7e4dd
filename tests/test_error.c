/* Tests of error messages (io/error.h): a message is recorded, and a prefix names its file. */
#include "tests/testutil.h"

#include "io/error.h"

static void test_error_message_and_prefix(void **state)
{
	(void)state;
	assert_int_equal(kn_error(KN_EFORMAT, "bad value %d", 7), KN_EFORMAT);
	assert_string_equal(kn_errmsg(), "bad value 7");
	assert_int_equal(kn_error_prefix(KN_EFORMAT, "'%s'", "a.png"), KN_EFORMAT);
	assert_string_equal(kn_errmsg(), "'a.png': bad value 7");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_message_and_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
