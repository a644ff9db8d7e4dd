/*
 * Tests of path joining (io/file.h; whole-file reading is exercised by the readers'
 * tests): one slash between the parts, none added after a trailing one, and an absolute
 * name or an empty folder giving the name alone.
 */
#include "tests/testutil.h"

#include "io/file.h"

#include <stdlib.h>

static void check_join(const char *dir, const char *name, const char *want)
{
	char *got = file_path_join(dir, name);

	assert_string_equal(got, want);
	free(got);
}

static void test_path_join(void **state)
{
	(void)state;
	check_join("a", "b", "a/b");
	check_join("a/", "b", "a/b");
	check_join("/", "x", "/x");
	check_join("", "b", "b");
	check_join("a/b", "c/d.png", "a/b/c/d.png");
	check_join("a", "/abs/x.png", "/abs/x.png");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
