/* Tests of the strict JSON reader and the compact writer (io/json.h). */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a C string that must be valid JSON. */
static void parse_ok(const char *text, struct json_doc *doc)
{
	if (json_parse(text, strlen(text), doc) != 0)
		fail_msg("'%s' should parse: %s", text, kn_errmsg());
	assert_non_null(doc->root);
}

/* Parses len bytes that must be rejected with a message containing want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
	struct json_doc doc;
	int err = json_parse(text, len, &doc);

	if (err != KN_EFORMAT)
		fail_msg("'%.*s' should be rejected (got %d)", (int)len, text, err);
	if (!strstr(kn_errmsg(), want))
		fail_msg("'%.*s': message '%s' lacks '%s'", (int)len, text, kn_errmsg(), want);
	assert_null(doc.root);
	assert_null(doc.blocks);
}

static void test_values_and_lookup(void **state)
{
	struct json_doc doc;
	const struct json_value *a, *v;
	int64_t i;
	uint64_t u;

	(void)state;
	parse_ok(" {\"a\": [1, -2, 3.5, true, false, null, \"x\"], \"b\": {}, \"c\": []}\n",
		 &doc);
	assert_int_equal(doc.root->type, JSON_OBJECT);
	assert_int_equal(doc.root->len, 3);
	a = json_get(doc.root, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JSON_ARRAY);
	assert_int_equal(a->len, 7);
	assert_true(json_get_u64(&a->u.items[0], &u) && u == 1);
	assert_false(json_get_u64(&a->u.items[1], &u));
	assert_true(json_get_i64(&a->u.items[1], &i) && i == -2);
	assert_false(json_get_i64(&a->u.items[2], &i));
	assert_true(a->u.items[2].u.num.d == 3.5);
	assert_int_equal(a->u.items[3].type, JSON_TRUE);
	assert_int_equal(a->u.items[4].type, JSON_FALSE);
	assert_int_equal(a->u.items[5].type, JSON_NULL);
	assert_string_equal(json_get_string(&a->u.items[6]), "x");
	assert_null(json_get_string(&a->u.items[0]));
	v = json_get(doc.root, "b");
	assert_true(v && v->type == JSON_OBJECT && v->len == 0);
	assert_null(json_get(v, "anything"));
	v = json_get(doc.root, "c");
	assert_true(v && v->type == JSON_ARRAY && v->len == 0);
	assert_null(json_get(doc.root, "d"));
	assert_null(json_get(a, "a")); /* not an object */
	/* Members keep document order besides the sorted index. */
	assert_string_equal(doc.root->u.obj.members[0].key, "a");
	assert_string_equal(doc.root->u.obj.members[2].key, "c");
	assert_string_equal(json_type_name(a), "array");
	json_doc_free(&doc);
	assert_null(doc.root);
}

static void test_scalar_roots(void **state)
{
	struct json_doc doc;

	(void)state;
	parse_ok("17", &doc);
	assert_int_equal(doc.root->type, JSON_NUMBER);
	json_doc_free(&doc);
	parse_ok("\"s\"", &doc);
	assert_string_equal(doc.root->u.str, "s");
	json_doc_free(&doc);
	parse_ok("null", &doc);
	assert_int_equal(doc.root->type, JSON_NULL);
	json_doc_free(&doc);
	/* The length given bounds the text: what follows is never read. */
	assert_int_equal(json_parse("[1]garbage", 3, &doc), 0);
	assert_int_equal(doc.root->len, 1);
	json_doc_free(&doc);
}

static void test_string_escapes(void **state)
{
	/* " \ / b f n r t, A, e-acute, euro sign, U+1F600 (a surrogate pair), then raw UTF-8. */
	const char *text = "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\u20AC "
			   "\\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80\"";
	const char *want = "\" \\ / \b \f \n \r \t A \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
			   "caf\xc3\xa9 \xf0\x9f\x98\x80";
	struct json_doc doc;

	(void)state;
	parse_ok(text, &doc);
	assert_int_equal(doc.root->type, JSON_STRING);
	assert_string_equal(doc.root->u.str, want);
	assert_int_equal(doc.root->len, strlen(want));
	json_doc_free(&doc);

	/* \u0000 is kept: the length tells, and json_get by C string cannot reach it. */
	parse_ok("{\"a\\u0000b\": \"x\\u0000y\"}", &doc);
	assert_int_equal(doc.root->u.obj.members[0].key_len, 3);
	assert_int_equal(doc.root->u.obj.members[0].value.len, 3);
	assert_memory_equal(doc.root->u.obj.members[0].value.u.str, "x\0y", 4);
	assert_null(json_get(doc.root, "a"));
	json_doc_free(&doc);
}

static void test_integer_limits(void **state)
{
	static const struct {
		const char *text;
		bool has_u64, has_i64;
		uint64_t u;
		int64_t i;
	} cases[] = {
		{"0", true, true, 0, 0},
		{"-0", false, true, 0, 0},
		{"18446744073709551615", true, false, UINT64_MAX, 0},
		{"18446744073709551616", false, false, 0, 0},
		{"99999999999999999999999", false, false, 0, 0},
		{"9223372036854775807", true, true, INT64_MAX, INT64_MAX},
		{"9223372036854775808", true, false, (uint64_t)INT64_MAX + 1, 0},
		{"-9223372036854775808", false, true, 0, INT64_MIN},
		{"-9223372036854775809", false, false, 0, 0},
		{"1.0", false, false, 0, 0},
		{"1e3", false, false, 0, 0},
		{"-1", false, true, 0, -1},
	};
	struct json_doc doc;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint64_t u = 0;
		int64_t i = 0;

		parse_ok(cases[k].text, &doc);
		assert_int_equal(doc.root->type, JSON_NUMBER);
		if (json_get_u64(doc.root, &u) != cases[k].has_u64 ||
		    json_get_i64(doc.root, &i) != cases[k].has_i64)
			fail_msg("%s: wrong integer forms", cases[k].text);
		if ((cases[k].has_u64 && u != cases[k].u) || (cases[k].has_i64 && i != cases[k].i))
			fail_msg("%s: wrong integer value", cases[k].text);
		json_doc_free(&doc);
	}
	/* Every number also has its double, rounded to nearest. */
	parse_ok("[18446744073709551616, 1e-2, -2.5E+3, 1e999]", &doc);
	assert_true(doc.root->u.items[0].u.num.d == 18446744073709551616.0);
	assert_true(doc.root->u.items[1].u.num.d == 0.01);
	assert_true(doc.root->u.items[2].u.num.d == -2500.0);
	assert_true(isinf(doc.root->u.items[3].u.num.d));
	json_doc_free(&doc);
}

static void test_rejections(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"", "expected a value, found end of input"},
		{"   ", "expected a value"},
		{"{", "expected a string key"},
		{"[1,]", "expected a value, found character ']'"},
		{"{\"a\":1,}", "expected a string key"},
		{"[1 2]", "expected ',' or ']'"},
		{"{\"a\" 1}", "expected ':'"},
		{"{1:2}", "expected a string key"},
		{"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
		{"01", "leading zero"},
		{"-", "expected a digit"},
		{"1.", "digit after '.'"},
		{"1e", "digit in the exponent"},
		{"1e+", "digit in the exponent"},
		{"+1", "expected a value"},
		{".5", "expected a value"},
		{"tru", "expected a value"},
		{"nul", "expected a value"},
		{"NaN", "expected a value"},
		{"Infinity", "expected a value"},
		{"'a'", "expected a value"},
		{"/* c */ 1", "expected a value"},
		{"\"abc", "unterminated string"},
		{"\"abc\\", "unterminated string"},
		{"\"\\x\"", "invalid escape"},
		{"\"\\u12zz\"", "invalid hex digit"},
		{"\"\\u12", "truncated \\u escape"},
		{"\"\\ud800\"", "high surrogate not followed by a low one"},
		{"\"\\ud800\\u0041\"", "high surrogate not followed by a low one"},
		{"\"\\udc00\"", "lone low surrogate"},
		{"\"a\tb\"", "control character 0x09"},
		{"\"a\nb\"", "control character 0x0a"},
		{"\"\xff\"", "invalid UTF-8"},
		{"\"\xc0\xaf\"", "invalid UTF-8"},         /* overlong '/' */
		{"\"\xe0\x80\xaf\"", "invalid UTF-8"},     /* overlong, 3 bytes */
		{"\"\xed\xa0\x80\"", "invalid UTF-8"},     /* a surrogate in UTF-8 */
		{"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, /* past U+10FFFF */
		{"\"\xe2\x82\"", "invalid UTF-8"},         /* cut short */
		{"\"\x80\"", "invalid UTF-8"},             /* lone continuation */
		{"{} x", "expected end of input after the value"},
		{"[] []", "expected end of input"},
		{"{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\""},
		{"{\"k\":{\"x\":1,\"x\":1}}", "duplicate key \"x\" in the object starting at line 1, "
					    "column 6"},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
		parse_bad(cases[k].text, strlen(cases[k].text), cases[k].want);
	/* A NUL byte inside the text is not whitespace. */
	parse_bad("[1]\0", 4, "found byte 0x00");
	parse_bad("\"a\0\"", 4, "control character 0x00");
}

static void test_error_position(void **state)
{
	(void)state;
	parse_bad("[1,\n  x]", 8, "at line 2, column 3");
	parse_bad("{\"a\":\n\n   tru }", 15, "at line 3, column 4");
}

/* n nested arrays around 0. */
static char *nested(int n)
{
	char *s = malloc((size_t)n * 2 + 2);

	assert_non_null(s);
	memset(s, '[', (size_t)n);
	s[n] = '0';
	memset(s + n + 1, ']', (size_t)n);
	s[2 * n + 1] = '\0';
	return s;
}

static void test_depth_limit(void **state)
{
	struct json_doc doc;
	const struct json_value *v;
	char *ok = nested(JSON_MAX_DEPTH), *deep = nested(JSON_MAX_DEPTH + 1);
	char *very = nested(100000);

	(void)state;
	parse_ok(ok, &doc);
	v = doc.root;
	for (int i = 0; i < JSON_MAX_DEPTH; i++) {
		assert_int_equal(v->type, JSON_ARRAY);
		v = &v->u.items[0];
	}
	assert_int_equal(v->type, JSON_NUMBER);
	json_doc_free(&doc);
	parse_bad(deep, strlen(deep), "nesting deeper than 64");
	parse_bad(very, strlen(very), "nesting deeper than 64");
	/* Objects and arrays count alike: 33 of each is 66 levels. */
	{
		char mixed[33 * 8 + 1] = "";

		for (int i = 0; i < 33; i++)
			strcat(mixed, "{\"a\":[");
		for (int i = 0; i < 33; i++)
			strcat(mixed, "]}");
		parse_bad(mixed, strlen(mixed), "nesting deeper than 64");
	}
	free(ok);
	free(deep);
	free(very);
}

/* Mixed nesting: the pending stacks must keep each container's entries apart. */
static void test_nested_structure(void **state)
{
	struct json_doc doc;
	const struct json_value *r, *x;
	uint64_t u;

	(void)state;
	parse_ok("[[1,2],[3,[4,5]],{\"a\":[6,{\"b\":7}],\"c\":8},9]", &doc);
	r = doc.root;
	assert_int_equal(r->len, 4);
	assert_int_equal(r->u.items[0].len, 2);
	assert_true(json_get_u64(&r->u.items[0].u.items[1], &u) && u == 2);
	x = &r->u.items[1].u.items[1];
	assert_int_equal(x->len, 2);
	assert_true(json_get_u64(&x->u.items[0], &u) && u == 4);
	x = json_get(&r->u.items[2], "a");
	assert_true(x && x->len == 2);
	assert_true(json_get_u64(json_get(&x->u.items[1], "b"), &u) && u == 7);
	assert_true(json_get_u64(json_get(&r->u.items[2], "c"), &u) && u == 8);
	assert_true(json_get_u64(&r->u.items[3], &u) && u == 9);
	json_doc_free(&doc);
}

/* Large documents: many members (sorted index, duplicates far apart) and many items. */
static void test_large_documents(void **state)
{
	struct json_writer w;
	struct json_doc doc;
	const int n = 20000;
	char key[32];
	uint64_t u;

	(void)state;
	json_writer_init(&w);
	json_object_begin(&w);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "k%d", (i * 7919) % n);
		json_key(&w, key);
		json_array_begin(&w);
		json_u64(&w, (uint64_t)((i * 7919) % n));
		json_array_end(&w);
	}
	json_object_end(&w);
	parse_ok(w.data, &doc);
	assert_int_equal(doc.root->len, n);
	for (int i = 0; i < n; i += 997) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_true(json_get_u64(&json_get(doc.root, key)->u.items[0], &u));
		assert_int_equal(u, i);
	}
	json_doc_free(&doc);
	/* The same key at both ends of the object. */
	w.data[w.len - 1] = ',';
	json_append_raw(&w, "\"k0\":1}", 7);
	parse_bad(w.data, w.len, "duplicate key \"k0\"");
	json_writer_free(&w);
}

static void test_writer_output(void **state)
{
	struct json_writer w;
	struct json_doc doc;
	const char *want = "{\"name\":\"a\\\"b\\\\c\\n\\t\\u0001\xc3\xa9\",\"shape\":[2,3],"
			   "\"nested\":[[],{},[true,false,null]],\"neg\":-9223372036854775808,"
			   "\"big\":18446744073709551615,\"x\":0.1,\"y\":1e+300,\"z\":null,"
			   "\"w\":-0}";

	(void)state;
	json_writer_init(&w);
	json_object_begin(&w);
	json_key(&w, "name");
	json_string(&w, "a\"b\\c\n\t\x01\xc3\xa9");
	json_key(&w, "shape");
	json_array_begin(&w);
	json_u64(&w, 2);
	json_u64(&w, 3);
	json_array_end(&w);
	json_key(&w, "nested");
	json_array_begin(&w);
	json_array_begin(&w);
	json_array_end(&w);
	json_object_begin(&w);
	json_object_end(&w);
	json_array_begin(&w);
	json_bool(&w, true);
	json_bool(&w, false);
	json_null(&w);
	json_array_end(&w);
	json_array_end(&w);
	json_key(&w, "neg");
	json_i64(&w, INT64_MIN);
	json_key(&w, "big");
	json_u64(&w, UINT64_MAX);
	json_key(&w, "x");
	json_double(&w, 0.1);
	json_key(&w, "y");
	json_double(&w, 1e300);
	json_key(&w, "z");
	json_double(&w, NAN);
	json_key(&w, "w");
	json_double(&w, -0.0);
	json_object_end(&w);
	assert_string_equal(w.data, want);
	assert_int_equal(w.len, strlen(want));
	parse_ok(w.data, &doc);
	assert_string_equal(json_get_string(json_get(doc.root, "name")),
			    "a\"b\\c\n\t\x01\xc3\xa9");
	json_doc_free(&doc);
	json_writer_free(&w);
}

/* Every byte value in a string survives writing and reading back. */
static void test_writer_round_trip_all_bytes(void **state)
{
	struct json_writer w;
	struct json_doc doc;
	char s[128];
	double values[] = {1.0 / 3, 1e-310, 123456789.125, -2.5e-7, 3.4028234663852886e38};

	(void)state;
	for (int i = 0; i < 128; i++)
		s[i] = (char)i;
	json_writer_init(&w);
	json_array_begin(&w);
	json_string_n(&w, s, sizeof(s));
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		json_double(&w, values[i]);
	json_array_end(&w);
	parse_ok(w.data, &doc);
	assert_int_equal(doc.root->u.items[0].len, sizeof(s));
	assert_memory_equal(doc.root->u.items[0].u.str, s, sizeof(s));
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_true(doc.root->u.items[1 + i].u.num.d == values[i]);
	json_doc_free(&doc);
	json_writer_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_lookup),
		cmocka_unit_test(test_scalar_roots),
		cmocka_unit_test(test_string_escapes),
		cmocka_unit_test(test_integer_limits),
		cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_error_position),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_nested_structure),
		cmocka_unit_test(test_large_documents),
		cmocka_unit_test(test_writer_output),
		cmocka_unit_test(test_writer_round_trip_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
