/*
 * The option tables (app/options.h): defaults come from the table before the command
 * line; values are converted and range-checked by kind; a missing required option, an
 * unknown word, a value out of range and an unexpected operand are usage errors (exit
 * status 2); operands are allowed only where the command says; --help lists every
 * option with its default, within 80 columns.
 */
#include "tests/testutil.h"

#include "app/commands.h"
#include "app/options.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sample {
	const char *name;
	bool flag;
	int count, w, h, word;
	int64_t big;
	uint64_t seed;
	float ratio;
	double rate;
	int pair[2];
};

/* A custom kind: "A+B" into int[2]. */
static int parse_pair(const char *cmd, const struct opt *o, const char *arg, void *field)
{
	int *pair = field;
	char tail;

	(void)o;
	if (sscanf(arg, "%d+%d%c", &pair[0], &pair[1], &tail) != 2)
		return usage_error(cmd, "--pair '%s' is not A+B", arg);
	return 0;
}

#define F(m) offsetof(struct sample, m)
static const struct opt sample_opts[] = {
	{"name", OPT_STRING, F(name), .required = true, .arg = "NAME", .help = "a name"},
	{"flag", OPT_FLAG, F(flag), .help = "a flag"},
	{.kind = OPT_SECTION, .help = "numbers:"},
	{"count", OPT_INT, F(count), .lo = 1, .hi = 10, .def = "3", .arg = "N",
	 .help = "a count with a help text long enough to be wrapped over more than one line "
		 "of the option list"},
	{"big", OPT_INT64, F(big), .lo = 0, .hi = 1e12, .def = "5000000000", .arg = "N"},
	{"seed", OPT_U64, F(seed), .def = "18446744073709551615", .arg = "S"},
	{"ratio", OPT_FLOAT, F(ratio), .lo = 0, .hi = 1, .def = "0.25", .arg = "R"},
	{"rate", OPT_DOUBLE, F(rate), .lo = -1, .hi = 1, .arg = "X"},
	{"size", OPT_SIZE, F(w), F(h), .lo = 1, .hi = 100, .def = "4x3", .arg = "WxH"},
	{"word", OPT_WORD, F(word), .words = "zero|one|two", .def = "one", .arg = "W"},
	{"pair", OPT_CUSTOM, F(pair), .parse = parse_pair, .arg = "A+B"},
	{0},
};
#undef F

static const struct opt_command sample_command = {
	"sample", "usage: knseg sample --name NAME [options]\n", sample_opts, false,
};

static const struct opt_command sample_with_operands = {
	"sample", "usage: knseg sample --name NAME [options] INPUT...\n", sample_opts, true,
};

/* Parses the words of line (split at spaces) with c; argv[0] is the command's name. */
static int parse_line(const struct opt_command *c, const char *line, struct sample *s,
		      int *first)
{
	static char buf[512];
	char *argv[32], *save = NULL;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	argv[argc++] = (char *)c->name;
	for (char *t = strtok_r(buf, " ", &save); t && argc < 31; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	memset(s, 0, sizeof(*s));
	return opt_parse(c, argc, argv, s, first);
}

static void test_defaults_then_values(void **state)
{
	struct sample s;

	(void)state;
	assert_int_equal(parse_line(&sample_command, "--name a", &s, NULL), 0);
	assert_string_equal(s.name, "a");
	assert_false(s.flag);
	assert_int_equal(s.count, 3);
	assert_true(s.big == 5000000000LL);
	assert_true(s.seed == UINT64_MAX);
	assert_true(s.ratio == 0.25f);
	assert_true(s.rate == 0);
	assert_int_equal(s.w, 4);
	assert_int_equal(s.h, 3);
	assert_int_equal(s.word, 1);

	assert_int_equal(parse_line(&sample_command,
				    "--name=b --flag --count 10 --big 0 --seed 7 --ratio 1 "
				    "--rate -0.5 --size 100X1 --word two --pair 2+5",
				    &s, NULL),
			 0);
	assert_string_equal(s.name, "b");
	assert_true(s.flag);
	assert_int_equal(s.count, 10);
	assert_true(s.big == 0);
	assert_true(s.seed == 7);
	assert_true(s.ratio == 1.0f);
	assert_true(s.rate == -0.5);
	assert_int_equal(s.w, 100);
	assert_int_equal(s.h, 1);
	assert_int_equal(s.word, 2);
	assert_int_equal(s.pair[0], 2);
	assert_int_equal(s.pair[1], 5);
}

static void test_bad_values_are_usage_errors(void **state)
{
	static const char *const bad[] = {
		"",                      /* --name is required */
		"--name a --count 0",    "--name a --count 11",  "--name a --count 3x",
		"--name a --count ''",   "--name a --big -1",    "--name a --big 1e3",
		"--name a --seed -1",    "--name a --seed 18446744073709551616",
		"--name a --ratio 1.5",  "--name a --ratio nan", "--name a --rate inf",
		"--name a --size 4",     "--name a --size 0x3",  "--name a --size 4x101",
		"--name a --size 4x3x2", "--name a --word three", "--name a --word on",
		"--name a --pair 2",     "--name a --unknown",   "--name a --count",
		"--name a extra",
	};
	struct sample s;
	FILE *saved = stderr;

	(void)state;
	stderr = fopen("/dev/null", "w"); /* the messages themselves are the program's tests' */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse_line(&sample_command, bad[i], &s, NULL);

		if (rc != 2) {
			fclose(stderr);
			stderr = saved;
			fail_msg("'%s' gave %d, not the usage status 2", bad[i], rc);
		}
	}
	fclose(stderr);
	stderr = saved;
}

static void test_operands_where_allowed(void **state)
{
	struct sample s;
	int first = -1;

	(void)state;
	assert_int_equal(parse_line(&sample_with_operands, "x --name a y --flag", &s, &first), 0);
	assert_true(s.flag);
	/* getopt_long moves the operands behind the options. */
	assert_int_equal(first, 4);
	assert_int_equal(parse_line(&sample_with_operands, "--name a", &s, &first), 0);
	assert_int_equal(first, 3);
}

static void test_help_lists_every_option(void **state)
{
	char *text = NULL, line[256];
	size_t size = 0;
	FILE *f = open_memstream(&text, &size), *saved = stdout;
	struct sample s;
	int lines = 0;

	(void)state;
	assert_non_null(f);
	stdout = f;
	assert_int_equal(parse_line(&sample_command, "--help", &s, NULL), -1);
	stdout = saved;
	fclose(f);
	for (const struct opt *o = sample_opts; o->kind != OPT_END; o++) {
		char want[64];

		snprintf(want, sizeof(want), "--%s", o->kind == OPT_SECTION ? "" : o->name);
		assert_non_null(strstr(text, o->kind == OPT_SECTION ? o->help : want));
	}
	assert_non_null(strstr(text, "(default 3)"));
	assert_non_null(strstr(text, "(default 4x3)"));
	assert_non_null(strstr(text, "(required)"));
	f = fmemopen(text, size, "r");
	while (fgets(line, sizeof(line), f)) {
		assert_true(strlen(line) <= 81); /* 80 columns and the newline */
		lines++;
	}
	fclose(f);
	assert_true(lines > 14); /* the long help text was wrapped, not cut */
	free(text);
}

static void test_stdout_path(void **state)
{
	(void)state;
	assert_true(opt_is_stdout("-"));
	assert_false(opt_is_stdout("--"));
	assert_false(opt_is_stdout("a.json"));
	assert_false(opt_is_stdout(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_then_values),
		cmocka_unit_test(test_bad_values_are_usage_errors),
		cmocka_unit_test(test_operands_where_allowed),
		cmocka_unit_test(test_help_lists_every_option),
		cmocka_unit_test(test_stdout_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
