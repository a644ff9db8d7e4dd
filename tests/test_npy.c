/*
 * Tests of .npy reading and writing (io/npy.h): round trips of every rank, files written
 * by NumPy (fixtures from scripts/ref_npy.py), hand-made version 2 headers, and bad
 * files of every kind: truncated, wrong magic or version, other dtypes, Fortran order,
 * malformed headers, wrong data sizes and bit flips.
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/file.h"
#include "io/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes shape (ndim dims) with values i * 0.5 - 3, reads it back and compares. */
static void round_trip(const char *dir, int ndim, const size_t *shape)
{
	char path[600];
	struct npy_array a;
	size_t count = 1;
	float *x;

	for (int i = 0; i < ndim; i++)
		count *= shape[i];
	x = malloc((count ? count : 1) * sizeof(float));
	assert_non_null(x);
	for (size_t i = 0; i < count; i++)
		x[i] = (float)i * 0.5f - 3;
	snprintf(path, sizeof(path), "%s/a%d.npy", dir, ndim);
	assert_int_equal(npy_write(path, x, ndim, shape), 0);
	if (npy_read(path, &a) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(a.ndim, ndim);
	for (int i = 0; i < ndim; i++)
		assert_int_equal(a.shape[i], shape[i]);
	assert_int_equal(a.count, count);
	if (count)
		assert_memory_equal(a.data, x, count * sizeof(float));
	npy_free(&a);
	free(x);
}

static void test_round_trips(void **state)
{
	char *dir = tmpdir_create();
	size_t s1[] = {5}, s4[] = {2, 3, 4, 5}, s0[] = {2, 0, 3}, s8[] = {1, 2, 1, 2, 1, 2, 1, 2};
	size_t big[] = {100000};

	(void)state;
	round_trip(dir, 0, NULL);
	round_trip(dir, 1, s1);
	round_trip(dir, 4, s4);
	round_trip(dir, 3, s0);
	round_trip(dir, 8, s8);
	round_trip(dir, 1, big);
	tmpdir_remove(dir);
}

/* The written header follows the format: version 1.0, data 64-byte aligned, '\n' last. */
static void test_written_header_layout(void **state)
{
	char *dir = tmpdir_create(), path[600];
	size_t shape[] = {2, 3};
	float x[6] = {0};
	unsigned char *buf;
	size_t len, hlen;
	char text[256];

	(void)state;
	snprintf(path, sizeof(path), "%s/h.npy", dir);
	assert_int_equal(npy_write(path, x, 2, shape), 0);
	assert_int_equal(file_read_all(path, &buf, &len), 0);
	assert_memory_equal(buf, "\x93NUMPY\x01\x00", 8);
	hlen = buf[8] | (size_t)buf[9] << 8;
	assert_int_equal((10 + hlen) % 64, 0);
	assert_int_equal(buf[10 + hlen - 1], '\n');
	assert_int_equal(len, 10 + hlen + sizeof(x));
	assert_true(hlen < sizeof(text));
	memcpy(text, buf + 10, hlen);
	text[hlen] = '\0';
	assert_non_null(strstr(text, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
	free(buf);
	tmpdir_remove(dir);
}

static void test_files_written_by_numpy(void **state)
{
	struct npy_array a;

	(void)state;
	fixture_load_shape("npy_c2x3_x", &a, 2, 2, 3);
	for (int i = 0; i < 6; i++)
		assert_true(a.data[i] == (float)i - 2.5f);
	npy_free(&a);
	fixture_load_shape("npy_scalar_x", &a, 0);
	assert_int_equal(a.count, 1);
	assert_true(a.data[0] == 7.25f);
	npy_free(&a);
	fixture_load_shape("npy_empty_x", &a, 2, 0, 3);
	assert_int_equal(a.count, 0);
	npy_free(&a);
	fixture_load_shape("npy_v2_x", &a, 4, 1, 2, 1, 2);
	for (int i = 0; i < 4; i++)
		assert_true(a.data[i] == (float)i);
	npy_free(&a);
}

static void expect_bad_file(const char *path, const char *want)
{
	struct npy_array a = {0};

	if (npy_read(path, &a) == 0)
		fail_msg("%s should be rejected", path);
	if (!strstr(kn_errmsg(), want) || !strstr(kn_errmsg(), path))
		fail_msg("%s: message '%s' lacks the path or '%s'", path, kn_errmsg(), want);
	assert_null(a.data);
}

static void test_numpy_files_refused(void **state)
{
	(void)state;
	expect_bad_file("tests/fixtures/npy_f8_x.npy", "npy dtype '<f8' is not float32");
	expect_bad_file("tests/fixtures/npy_bigendian_x.npy", "npy dtype '>f4' is not float32");
	expect_bad_file("tests/fixtures/npy_fortran_x.npy", "Fortran-order");
	expect_bad_file("tests/fixtures/npy_missing_x.npy", "cannot open");
}

/* A .npy image with the given version and header text (padded so data is aligned). */
static unsigned char *make_npy(int version, const char *header, const void *data,
			       size_t data_len, size_t *len)
{
	size_t pre = version == 1 ? 10 : 12, n = strlen(header);
	size_t hlen = (pre + n + 1 + 63) / 64 * 64 - pre;
	unsigned char *buf = malloc(pre + hlen + data_len + 1);

	assert_non_null(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)version;
	buf[7] = 0;
	for (size_t i = 0; i < pre - 8; i++)
		buf[8 + i] = (unsigned char)(hlen >> (8 * i));
	memset(buf + pre, ' ', hlen);
	memcpy(buf + pre, header, n);
	buf[pre + hlen - 1] = '\n';
	if (data_len)
		memcpy(buf + pre + hlen, data, data_len);
	*len = pre + hlen + data_len;
	return buf;
}

static void test_hand_made_version2_and_3(void **state)
{
	const float x[3] = {1.5f, -2, 1e30f};
	struct npy_array a;
	unsigned char *buf;
	size_t len;

	(void)state;
	for (int v = 2; v <= 3; v++) {
		buf = make_npy(v, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", x,
			       sizeof(x), &len);
		if (npy_parse(buf, len, "v2.npy", &a) != 0)
			fail_msg("%s", kn_errmsg());
		assert_int_equal(a.ndim, 1);
		assert_int_equal(a.shape[0], 3);
		assert_memory_equal(a.data, x, sizeof(x));
		npy_free(&a);
		free(buf);
	}
	/* Keys in another order, double quotes, no trailing comma. */
	buf = make_npy(2, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<f4\"}", x,
		       sizeof(x), &len);
	assert_int_equal(npy_parse(buf, len, "v2.npy", &a), 0);
	npy_free(&a);
	free(buf);
}

static void expect_bad_header(const char *header, size_t data_len, const char *want)
{
	static const float zeros[64];
	struct npy_array a = {0};
	size_t len;
	unsigned char *buf = make_npy(1, header, zeros, data_len, &len);

	if (npy_parse(buf, len, "h.npy", &a) == 0)
		fail_msg("header '%s' should be rejected", header);
	if (!strstr(kn_errmsg(), want) || strncmp(kn_errmsg(), "'h.npy': ", 9) != 0)
		fail_msg("header '%s': message '%s' lacks '%s'", header, kn_errmsg(), want);
	assert_null(a.data);
	free(buf);
}

static void test_bad_headers(void **state)
{
	(void)state;
	expect_bad_header("['descr', '<f4']", 4, "npy header is not a dict");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False}", 4,
			  "lacks descr, fortran_order or shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4,
			  "unexpected npy header key 'x'");
	expect_bad_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
			  "'shape': (1,)}",
			  4, "unexpected npy header key 'descr'");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4,
			  "malformed or too deep npy shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4,
			  "malformed or too deep npy shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}", 4,
			  "malformed or too deep npy shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
			  "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1)}",
			  4, "malformed or too deep npy shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
			  "'shape': (99999999999999999999,)}",
			  4, "malformed or too deep npy shape");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
			  "'shape': (4294967296, 4294967296, 4294967296)}",
			  4, "npy shape overflows");
	expect_bad_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4,
			  "malformed npy fortran_order");
	expect_bad_header("{'descr': <f4, 'fortran_order': False, 'shape': (1,)}", 4,
			  "malformed npy descr");
	expect_bad_header("{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", 4,
			  "malformed npy header");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4,
			  "malformed npy header");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4,
			  "unexpected bytes after the npy header dict");
	expect_bad_header("{'descr': '<i4', 'fortran_order': False, 'shape': (1,)}", 4,
			  "npy dtype '<i4' is not float32");
	expect_bad_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16,
			  "Fortran-order .npy arrays are not supported");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 4,
			  "npy data is 4 bytes, shape needs 8");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 12,
			  "npy data is 12 bytes, shape needs 8");
	expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 0,
			  "npy data is 0 bytes, shape needs 4");
}

static void test_bad_magic_and_version(void **state)
{
	static const float one = 1;
	struct npy_array a;
	unsigned char *buf;
	size_t len;

	(void)state;
	assert_int_equal(npy_parse((const unsigned char *)"", 0, "z.npy", &a), KN_EFORMAT);
	assert_string_equal(kn_errmsg(), "'z.npy': not a .npy file (bad magic)");
	buf = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", &one, 4,
		       &len);
	buf[1] = 'n';
	assert_int_equal(npy_parse(buf, len, "m.npy", &a), KN_EFORMAT);
	assert_non_null(strstr(kn_errmsg(), "bad magic"));
	buf[1] = 'N';
	buf[6] = 4;
	assert_int_equal(npy_parse(buf, len, "m.npy", &a), KN_EFORMAT);
	assert_non_null(strstr(kn_errmsg(), "unsupported .npy version 4"));
	buf[6] = 0;
	assert_int_equal(npy_parse(buf, len, "m.npy", &a), KN_EFORMAT);
	buf[6] = 1;
	buf[9] = 0x7f; /* header length past the end */
	assert_int_equal(npy_parse(buf, len, "m.npy", &a), KN_EFORMAT);
	assert_non_null(strstr(kn_errmsg(), "truncated .npy header"));
	free(buf);
}

/* Every truncation of a valid file fails; every bit flip fails or parses sanely. */
static void test_truncations_and_bit_flips(void **state)
{
	unsigned char *buf, *copy;
	size_t len;
	struct npy_array a;
	int accepted = 0;

	(void)state;
	assert_int_equal(file_read_all("tests/fixtures/npy_c2x3_x.npy", &buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		copy = malloc(n + 1); /* exactly sized, so ASan sees any overread */
		assert_non_null(copy);
		memcpy(copy, buf, n);
		if (npy_parse(copy, n, "cut.npy", &a) == 0)
			fail_msg("truncation to %zu bytes accepted", n);
		free(copy);
	}
	copy = malloc(len);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(copy, buf, len);
			copy[i] ^= (unsigned char)(1u << b);
			if (npy_parse(copy, len, "flip.npy", &a) == 0) {
				assert_int_equal(a.count * 4, len - 128);
				npy_free(&a);
				accepted++;
			}
		}
	}
	/* All 192 flips of the 24 data bytes, and padding flips that stay whitespace. */
	assert_true(accepted >= 192);
	free(copy);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_written_header_layout),
		cmocka_unit_test(test_files_written_by_numpy),
		cmocka_unit_test(test_numpy_files_refused),
		cmocka_unit_test(test_hand_made_version2_and_3),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_bad_magic_and_version),
		cmocka_unit_test(test_truncations_and_bit_flips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
