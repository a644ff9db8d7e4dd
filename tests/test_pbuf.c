/*
 * The protobuf writer (io/pbuf.h) against encodings worked out by hand from the wire
 * format: varints at every length boundary, keys, negative int64 (ten bytes), floats,
 * strings, nested messages whose length needs one, two or three bytes.
 */
#include "tests/testutil.h"

#include "io/pbuf.h"

#include <stdlib.h>
#include <string.h>

static void assert_bytes(const struct pbuf *b, const unsigned char *want, size_t n)
{
	assert_int_equal(b->len, n);
	assert_memory_equal(b->data, want, n);
}

static void test_varints(void **state)
{
	static const struct {
		uint64_t v;
		unsigned char bytes[10];
		size_t n;
	} cases[] = {
		{0, {0x00}, 1},
		{1, {0x01}, 1},
		{127, {0x7f}, 1},
		{128, {0x80, 0x01}, 2},
		{150, {0x96, 0x01}, 2},
		{16383, {0xff, 0x7f}, 2},
		{16384, {0x80, 0x80, 0x01}, 3},
		{(uint64_t)1 << 32, {0x80, 0x80, 0x80, 0x80, 0x10}, 5},
		{UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pbuf b;

		pbuf_init(&b);
		pb_varint(&b, cases[i].v);
		assert_bytes(&b, cases[i].bytes, cases[i].n);
		pbuf_free(&b);
	}
}

static void test_fields(void **state)
{
	/* field 1 = 150; field 2 = "testing"; field 3 = -1 (int64); field 4 = 1.0f;
	 * field 16 = 1 (a two-byte key); field 5 = 7 bytes of raw data */
	static const unsigned char want[] = {
		0x08, 0x96, 0x01,
		0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g',
		0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x25, 0x00, 0x00, 0x80, 0x3f,
		0x80, 0x01, 0x01,
		0x2a, 0x03, 0x01, 0x02, 0x03,
	};
	struct pbuf b;

	(void)state;
	pbuf_init(&b);
	pb_int(&b, 1, 150);
	pb_string(&b, 2, "testing");
	pb_int(&b, 3, -1);
	pb_float(&b, 4, 1.0f);
	pb_int(&b, 16, 1);
	pb_bytes(&b, 5, (const unsigned char[]){1, 2, 3}, 3);
	assert_bytes(&b, want, sizeof want);
	pbuf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

static void test_nested(void **state)
{
	/* field 3 = {field 1 = 150}, then field 4 = {field 2 = {}, field 1 = 1} */
	static const unsigned char want[] = {
		0x1a, 0x03, 0x08, 0x96, 0x01,
		0x22, 0x04, 0x12, 0x00, 0x08, 0x01,
	};
	struct pbuf b;
	size_t outer, inner;

	(void)state;
	pbuf_init(&b);
	outer = pb_begin(&b, 3);
	pb_int(&b, 1, 150);
	pb_end(&b, outer);
	outer = pb_begin(&b, 4);
	inner = pb_begin(&b, 2);
	pb_end(&b, inner);
	pb_int(&b, 1, 1);
	pb_end(&b, outer);
	assert_bytes(&b, want, sizeof want);
	pbuf_free(&b);
}

/* Nested content of 100, 200 and 20000 bytes: lengths of one, two and three bytes,
 * the content moved up intact behind them, and what follows still in place. */
static void test_nested_lengths(void **state)
{
	static const size_t sizes[] = {100, 200, 20000};
	static const unsigned char len_bytes[][3] = {{0x64}, {0xc8, 0x01}, {0xa0, 0x9c, 0x01}};
	static const size_t len_n[] = {1, 2, 3};

	(void)state;
	for (int i = 0; i < 3; i++) {
		size_t n = sizes[i], at;
		unsigned char *content = malloc(n);
		struct pbuf b;

		for (size_t k = 0; k < n; k++)
			content[k] = (unsigned char)(k * 7 + 3);
		pbuf_init(&b);
		pb_int(&b, 1, 5);
		at = pb_begin(&b, 2);
		pb_raw(&b, content, n);
		pb_end(&b, at);
		pb_int(&b, 3, 9);
		assert_int_equal(b.len, 2 + 1 + len_n[i] + n + 2);
		assert_int_equal(b.data[0], 0x08);
		assert_int_equal(b.data[1], 0x05);
		assert_int_equal(b.data[2], 0x12);
		assert_memory_equal(b.data + 3, len_bytes[i], len_n[i]);
		assert_memory_equal(b.data + 3 + len_n[i], content, n);
		assert_int_equal(b.data[b.len - 2], 0x18);
		assert_int_equal(b.data[b.len - 1], 0x09);
		pbuf_free(&b);
		free(content);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_nested_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
