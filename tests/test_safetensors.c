/*
 * Tests of safetensors reading and writing (io/safetensors.h): round trips, byte-exact
 * agreement with files laid out as the Python library writes them (fixtures made by
 * scripts/ref_safetensors.py, and the library's own published test vectors), dtype
 * conversions, and one rejection test per rule with an assertion on the message.
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/file.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFERENCE "tests/fixtures/safetensors_reference.safetensors"
#define DTYPES "tests/fixtures/safetensors_dtypes.safetensors"

/* A file image: the 8-byte length of header, header, then data_len bytes 0, 1, 2, ... */
static unsigned char *image(const char *header, size_t data_len, size_t *len)
{
	size_t n = strlen(header);
	unsigned char *buf = malloc(8 + n + data_len + 1);

	assert_non_null(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(buf + 8, header, n);
	for (size_t i = 0; i < data_len; i++)
		buf[8 + n + i] = (unsigned char)i;
	*len = 8 + n + data_len;
	return buf;
}

static void expect_bad_bytes(const unsigned char *buf, size_t len, const char *want)
{
	struct safetensors_file st = {0};
	int err = safetensors_parse(buf, len, "mem.safetensors", &st);

	if (err >= 0)
		fail_msg("should be rejected (%s)", want);
	if (strncmp(kn_errmsg(), "'mem.safetensors': ", 19) != 0 || !strstr(kn_errmsg(), want))
		fail_msg("message '%s' lacks the file name or '%s'", kn_errmsg(), want);
	assert_null(st.tensors);
}

static void expect_bad(const char *header, size_t data_len, const char *want)
{
	size_t len;
	unsigned char *buf = image(header, data_len, &len);

	expect_bad_bytes(buf, len, want);
	free(buf);
}

static void expect_good(const char *header, size_t data_len, size_t n_tensors)
{
	struct safetensors_file st;
	size_t len;
	unsigned char *buf = image(header, data_len, &len);

	if (safetensors_parse(buf, len, "mem.safetensors", &st) != 0)
		fail_msg("'%s' should be accepted: %s", header, kn_errmsg());
	assert_int_equal(st.n_tensors, n_tensors);
	safetensors_free(&st);
	free(buf);
}

static void test_round_trip_file(void **state)
{
	float a[2 * 3 * 4 * 5], b[7], c = 3.5f, got[2 * 3 * 4 * 5];
	size_t sa[] = {2, 3, 4, 5}, sb[] = {7}, se[] = {3, 0};
	char *dir = tmpdir_create(), path[600];
	struct safetensors_writer w;
	struct safetensors_file st;
	const struct safetensors_tensor *t;

	(void)state;
	fill_uniform(a, 120, -2, 2, 1);
	fill_uniform(b, 7, -1, 1, 2);
	safetensors_writer_init(&w);
	safetensors_add_f32(&w, "layer1.conv.weight", a, 4, sa);
	safetensors_add_f32(&w, "layer1.bias", b, 1, sb);
	safetensors_add_f32(&w, "step", &c, 0, NULL);
	safetensors_add_f32(&w, "empty", NULL, 2, se);
	safetensors_add_meta(&w, "format_version", "1");
	safetensors_add_meta(&w, "classes", "road,sidewalk,\"building\"\n");
	snprintf(path, sizeof(path), "%s/ckpt.safetensors", dir);
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);

	assert_int_equal(safetensors_read(path, &st), 0);
	assert_int_equal(st.n_tensors, 4);
	assert_string_equal(st.tensors[0].name, "empty"); /* sorted by name */
	assert_string_equal(st.tensors[3].name, "step");
	assert_int_equal(safetensors_copy_f32(&st, "layer1.conv.weight", got, 4, sa), 0);
	assert_memory_equal(got, a, sizeof(a));
	assert_int_equal(safetensors_copy_f32(&st, "layer1.bias", got, 1, sb), 0);
	assert_memory_equal(got, b, sizeof(b));
	assert_int_equal(safetensors_copy_f32(&st, "step", got, 0, NULL), 0);
	assert_true(got[0] == 3.5f);
	t = safetensors_find(&st, "empty");
	assert_true(t && t->ndim == 2 && t->count == 0 && t->nbytes == 0);
	assert_int_equal(safetensors_copy_f32(&st, "empty", got, 2, se), 0);
	t = safetensors_find(&st, "layer1.conv.weight");
	assert_true(t && t->dtype == SAFETENSORS_F32 && t->nbytes == sizeof(a));
	assert_null(safetensors_find(&st, "layer1"));
	assert_int_equal(st.n_meta, 2);
	assert_string_equal(safetensors_meta_get(&st, "format_version"), "1");
	assert_string_equal(safetensors_meta_get(&st, "classes"), "road,sidewalk,\"building\"\n");
	assert_null(safetensors_meta_get(&st, "arch"));
	safetensors_free(&st);
	tmpdir_remove(dir);
}

/* The writer reproduces, byte for byte, the file made in Python by the library's rules. */
static void test_matches_python_layout(void **state)
{
	float w6[6], bias[3] = {1, 2, 3}, scalar = 42;
	size_t s23[] = {2, 3}, s3[] = {3}, s04[] = {0, 4};
	struct safetensors_writer w;
	unsigned char *want, *got;
	size_t want_len, got_len;

	(void)state;
	for (int i = 0; i < 6; i++)
		w6[i] = 0.5f * (float)i - 1;
	safetensors_writer_init(&w);
	/* Added out of order: the writer sorts. */
	safetensors_add_f32(&w, "scalar", &scalar, 0, NULL);
	safetensors_add_meta(&w, "note", "tab\there \"q\" \\ caf\xc3\xa9 \x01");
	safetensors_add_f32(&w, "empty", NULL, 2, s04);
	safetensors_add_f32(&w, "conv.weight", w6, 2, s23);
	safetensors_add_meta(&w, "arch", "knresnet18");
	safetensors_add_f32(&w, "bias", bias, 1, s3);
	assert_int_equal(safetensors_serialize(&w, &got, &got_len), 0);
	safetensors_writer_free(&w);
	if (file_read_all(REFERENCE, &want, &want_len) != 0)
		fail_msg("%s (regenerate with `make fixtures`)", kn_errmsg());
	assert_int_equal(got_len, want_len);
	assert_memory_equal(got, want, want_len);
	free(got);
	free(want);
}

/* Test vectors published with the library: an empty file, metadata only, one tensor. */
static void test_library_vectors(void **state)
{
	static const char empty[] = "\x08\0\0\0\0\0\0\0{}      ";
	static const char meta[] = "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ";
	static const char one[] = "\x48\0\0\0\0\0\0\0{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
				  "\"data_offsets\":[0,24]}}       ";
	float data[6] = {0, 1, 2, 3, 4, 5};
	size_t shape[] = {1, 1, 2, 3};
	struct safetensors_writer w;
	unsigned char *got;
	size_t len;

	(void)state;
	safetensors_writer_init(&w);
	assert_int_equal(safetensors_serialize(&w, &got, &len), 0);
	assert_int_equal(len, sizeof(empty) - 1);
	assert_memory_equal(got, empty, len);
	free(got);
	safetensors_add_meta(&w, "framework", "pt");
	assert_int_equal(safetensors_serialize(&w, &got, &len), 0);
	assert_int_equal(len, sizeof(meta) - 1);
	assert_memory_equal(got, meta, len);
	free(got);
	safetensors_writer_free(&w);
	safetensors_writer_init(&w);
	safetensors_add_f32(&w, "attn0", data, 4, shape);
	assert_int_equal(safetensors_serialize(&w, &got, &len), 0);
	assert_int_equal(len, sizeof(one) - 1 + 24);
	assert_memory_equal(got, one, sizeof(one) - 1);
	assert_memory_equal(got + sizeof(one) - 1,
			    "\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40", 24);
	free(got);
	safetensors_writer_free(&w);
}

static void test_read_python_reference(void **state)
{
	struct safetensors_file st;
	const struct safetensors_tensor *t;
	float got[6];
	size_t s23[] = {2, 3}, s32[] = {3, 2};

	(void)state;
	if (safetensors_read(REFERENCE, &st) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(st.n_tensors, 4);
	assert_string_equal(safetensors_meta_get(&st, "note"), "tab\there \"q\" \\ caf\xc3\xa9 \x01");
	t = safetensors_find(&st, "conv.weight");
	assert_true(t && t->offset == 12 && t->nbytes == 24 && t->ndim == 2);
	assert_int_equal(safetensors_copy_f32(&st, "conv.weight", got, 2, s23), 0);
	for (int i = 0; i < 6; i++)
		assert_true(got[i] == 0.5f * (float)i - 1);
	t = safetensors_find(&st, "scalar");
	assert_true(t && t->ndim == 0 && t->count == 1);
	/* Shape mismatch: the message names the file, the tensor and both shapes. */
	assert_int_equal(safetensors_copy_f32(&st, "conv.weight", got, 2, s32), KN_EMISMATCH);
	assert_string_equal(kn_errmsg(), "'" REFERENCE "': tensor 'conv.weight' has shape [2, 3], "
					 "expected [3, 2]");
	assert_int_equal(safetensors_copy_f32(&st, "conv.weight", got, 1, s23), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "has shape [2, 3], expected [2]"));
	assert_int_equal(safetensors_copy_f32(&st, "scalar", got, 1, s23), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "has shape [], expected [2]"));
	assert_int_equal(safetensors_copy_f32(&st, "fc.weight", got, 2, s23), KN_EMISMATCH);
	assert_string_equal(kn_errmsg(), "'" REFERENCE "': no tensor 'fc.weight'");
	safetensors_free(&st);
}

static void test_dtypes_and_conversion(void **state)
{
	struct safetensors_file st;
	const struct safetensors_tensor *t;
	float got[5];
	size_t s2[] = {2}, s3[] = {3}, s5[] = {5}, s22[] = {2, 2};

	(void)state;
	if (safetensors_read(DTYPES, &st) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(st.n_tensors, 6);
	/* Laid out by dtype, widest first: I64 at 0, F64 after it. */
	t = safetensors_find(&st, "i64");
	assert_true(t && t->dtype == SAFETENSORS_I64 && t->offset == 0 && t->nbytes == 16);
	t = safetensors_find(&st, "d64");
	assert_true(t && t->dtype == SAFETENSORS_F64 && t->offset == 16);
	assert_int_equal(safetensors_copy_f32(&st, "d64", got, 1, s3), 0);
	assert_true(got[0] == 0.1f && got[1] == -2.5f && isinf(got[2]) && got[2] > 0);
	assert_int_equal(safetensors_copy_f32(&st, "h16", got, 1, s5), 0);
	assert_true(got[0] == 1.0f && got[1] == 0.0f && signbit(got[1]));
	assert_true(got[2] == 0x1p-24f && got[3] == 65504.0f && isinf(got[4]));
	assert_int_equal(safetensors_copy_f32(&st, "b16", got, 1, s3), 0);
	assert_true(got[0] == 1.5f && got[1] == -2.0f && got[2] == 0x1p-133f);
	assert_int_equal(safetensors_copy_f32(&st, "i64", got, 1, s2), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "tensor 'i64' has dtype I64, not a float type"));
	t = safetensors_find(&st, "u8");
	assert_true(t && t->dtype == SAFETENSORS_U8 && t->nbytes == 4 && t->data[3] == 255);
	assert_int_equal(safetensors_copy_f32(&st, "u8", got, 2, s22), KN_EMISMATCH);
	assert_string_equal(safetensors_dtype_name(SAFETENSORS_BF16), "BF16");
	assert_int_equal(safetensors_dtype_size(SAFETENSORS_F64), 8);
	safetensors_free(&st);
}

static void test_accepts_valid_variants(void **state)
{
	(void)state;
	/* Leading/trailing whitespace padding, any key order, metadata anywhere. */
	expect_good("{\"b\":{\"shape\":[1],\"data_offsets\":[4,8],\"dtype\":\"F32\"},"
		    "\"__metadata__\":{},\"a\":{\"dtype\":\"I32\",\"shape\":[1],"
		    "\"data_offsets\":[0,4]}}  \n ",
		    8, 2);
	/* Zero-size tensors may share an offset with a neighbour's start or end. */
	expect_good("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
		    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
		    "\"c\":{\"dtype\":\"BOOL\",\"shape\":[3,0],\"data_offsets\":[2,2]}}",
		    2, 3);
	expect_good("{}", 0, 0);
	expect_good("{\"__metadata__\":{\"k\":\"v\"}}", 0, 0);
}

static void test_rejects_file_level_problems(void **state)
{
	unsigned char buf[16] = {0};
	size_t len;
	unsigned char *img;

	(void)state;
	expect_bad_bytes(buf, 0, "file is 0 bytes, too short");
	expect_bad_bytes(buf, 7, "file is 7 bytes, too short");
	buf[0] = 100;
	expect_bad_bytes(buf, 16, "header length 100 is larger than the rest of the file (8 bytes)");
	memset(buf, 0, 8);
	buf[3] = 0x10; /* 2^28, past 100 MB */
	expect_bad_bytes(buf, 16, "header length 268435456 is larger than the 100 MB limit");
	memset(buf, 0xff, 8);
	expect_bad_bytes(buf, 16, "larger than the 100 MB limit");
	expect_bad("", 0, "header does not start with '{'");
	expect_bad(" {}", 0, "header does not start with '{'");
	expect_bad("[1,2]", 0, "header does not start with '{'");
	expect_bad("{\"a\":", 0, "header is not valid JSON: expected a value, found end of input");
	expect_bad("{}x", 0, "header is not valid JSON: expected end of input");
	expect_bad("{\"\xff\":1}", 0, "header is not valid JSON: invalid UTF-8");
	/* A truncated file: the data buffer is shorter than the offsets say. */
	img = image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, &len);
	expect_bad_bytes(img, len - 3, "data_offsets [0, 8] go past the data buffer (5 bytes)");
	expect_bad_bytes(img, 20, "header length 54 is larger than the rest of the file");
	free(img);
}

static void test_rejects_bad_entries(void **state)
{
	(void)state;
	expect_bad("{\"a\":1}", 0, "tensor 'a': entry is not an object (found number)");
	expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no dtype");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no shape");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'a' has no data_offsets");
	expect_bad("{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': dtype is not a string (found number)");
	expect_bad("{\"a\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': unknown dtype 'F128'");
	expect_bad("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		   "unknown dtype 'f32'");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': shape is not an array (found string)");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"offsets\":[0,4]}}", 4,
		   "tensor 'a': unknown field 'offsets'");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
		   "tensor 'a': unknown field 'x'");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
		   "tensor 'a': data_offsets is not two non-negative integers");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4,
		   "data_offsets is not two non-negative integers");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4,
		   "data_offsets is not two non-negative integers");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4,
		   "data_offsets is not two non-negative integers");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 4,
		   "data_offsets is not two non-negative integers");
	expect_bad("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
		   "a tensor name holds a NUL character");
}

static void test_rejects_bad_shapes(void **state)
{
	(void)state;
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': shape[0] is not a non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': shape[1] is not a non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4,
		   "shape[0] is not a non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}", 4,
		   "shape[0] is not a non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
		   "\"data_offsets\":[0,4]}}",
		   4, "shape[0] is not a non-negative integer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
		   "\"data_offsets\":[0,4]}}",
		   4, "tensor 'a': the product of the shape overflows");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
		   "\"data_offsets\":[0,4]}}",
		   4, "tensor 'a': the byte size of the shape overflows");
	/* A zero dimension makes the product 0 even after huge ones. */
	expect_good("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615,0],"
		    "\"data_offsets\":[0,0]}}",
		    0, 1);
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
		   4, "tensor 'a': shape has 9 dimensions, more than 8");
}

static void test_rejects_bad_offsets(void **state)
{
	(void)state;
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
		   "tensor 'a': data_offsets [8, 4] begin after they end");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 4,
		   "tensor 'a': data_offsets [0, 400] go past the data buffer (4 bytes)");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		   "\"data_offsets\":[18446744073709551612,18446744073709551615]}}",
		   4, "go past the data buffer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
		   "tensor 'a': data_offsets [0, 4] hold 4 bytes, but shape [2] of F32 needs 8");
	expect_bad("{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 4,
		   "hold 4 bytes, but shape [2, 2] of F16 needs 8");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
		   12, "tensors 'a' and 'b' overlap in the data buffer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
		   8, "overlap in the data buffer");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		   "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
		   8, "tensors 'a' and 'z' overlap");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
		   12, "bytes [4, 8) of the data buffer belong to no tensor (a hole, which the "
		       "format forbids)");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
		   "bytes [0, 4) of the data buffer belong to no tensor");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
		   "bytes [4, 8) at the end of the data buffer belong to no tensor (a hole");
	expect_bad("{}", 1, "bytes [0, 1) at the end of the data buffer belong to no tensor");
}

static void test_rejects_bad_metadata_and_duplicates(void **state)
{
	(void)state;
	expect_bad("{\"__metadata__\":{\"k\":1}}", 0,
		   "metadata value of 'k' is not a string (found number)");
	expect_bad("{\"__metadata__\":{\"k\":\"v\",\"j\":{\"x\":\"y\"}}}", 0,
		   "metadata value of 'j' is not a string (found object)");
	expect_bad("{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is not an object (found array)");
	expect_bad("{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0,
		   "metadata 'k' holds a NUL character");
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		   "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
		   8, "header is not valid JSON: duplicate key \"a\"");
	expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key \"__metadata__\"");
	expect_bad("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate key \"k\"");
}

/* Every truncation and every single-bit flip of a valid file: an error or a valid parse. */
static void test_truncations_and_bit_flips(void **state)
{
	unsigned char *buf, *copy;
	size_t len;
	struct safetensors_file st;
	int accepted = 0;

	(void)state;
	if (file_read_all(REFERENCE, &buf, &len) != 0)
		fail_msg("%s", kn_errmsg());
	for (size_t n = 0; n < len; n++) {
		copy = malloc(n + 1); /* exactly sized, so ASan sees any overread */
		assert_non_null(copy);
		memcpy(copy, buf, n);
		if (safetensors_parse(copy, n, "cut", &st) == 0)
			fail_msg("truncation to %zu bytes accepted", n);
		free(copy);
	}
	copy = malloc(len);
	assert_non_null(copy);
	for (size_t i = 0; i < len; i++) {
		for (int b = 0; b < 8; b++) {
			memcpy(copy, buf, len);
			copy[i] ^= (unsigned char)(1u << b);
			if (safetensors_parse(copy, len, "flip", &st) == 0) {
				assert_true(st.n_tensors <= 4);
				safetensors_free(&st);
				accepted++;
			}
		}
	}
	/* Flips in the tensor data are harmless; the header has little slack. */
	assert_true(accepted >= 8 * 40);
	free(copy);
	free(buf);
}

static void test_writer_errors(void **state)
{
	struct safetensors_writer w;
	float x = 1;
	size_t s1[] = {1};
	char *dir = tmpdir_create(), path[600];
	unsigned char *out;
	size_t len;

	(void)state;
	safetensors_writer_init(&w);
	safetensors_add_f32(&w, "a", &x, 1, s1);
	safetensors_add_f32(&w, "a", &x, 1, s1);
	snprintf(path, sizeof(path), "%s/d.safetensors", dir);
	assert_int_equal(safetensors_write(&w, path), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "duplicate tensor name 'a'"));
	assert_non_null(strstr(kn_errmsg(), path));
	safetensors_writer_free(&w);

	safetensors_writer_init(&w);
	safetensors_add_f32(&w, "__metadata__", &x, 1, s1);
	assert_int_equal(safetensors_serialize(&w, &out, &len), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "'__metadata__' cannot name a tensor"));
	safetensors_writer_free(&w);

	safetensors_writer_init(&w);
	safetensors_add_meta(&w, "k", "1");
	safetensors_add_meta(&w, "k", "2");
	assert_int_equal(safetensors_serialize(&w, &out, &len), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "duplicate metadata key 'k'"));
	safetensors_writer_free(&w);

	safetensors_writer_init(&w);
	snprintf(path, sizeof(path), "%s/missing/d.safetensors", dir);
	assert_int_equal(safetensors_write(&w, path), KN_EIO);
	assert_non_null(strstr(kn_errmsg(), path));
	safetensors_writer_free(&w);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_file),
		cmocka_unit_test(test_matches_python_layout),
		cmocka_unit_test(test_library_vectors),
		cmocka_unit_test(test_read_python_reference),
		cmocka_unit_test(test_dtypes_and_conversion),
		cmocka_unit_test(test_accepts_valid_variants),
		cmocka_unit_test(test_rejects_file_level_problems),
		cmocka_unit_test(test_rejects_bad_entries),
		cmocka_unit_test(test_rejects_bad_shapes),
		cmocka_unit_test(test_rejects_bad_offsets),
		cmocka_unit_test(test_rejects_bad_metadata_and_duplicates),
		cmocka_unit_test(test_truncations_and_bit_flips),
		cmocka_unit_test(test_writer_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
