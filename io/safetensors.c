/*
 * Reading safetensors files. See safetensors.h; writing is in safetensors_write.c.
 *
 * Messages are built in two steps: the checks below say what is wrong ("tensor 'w':
 * ..."), and safetensors_parse prefixes the file name once.
 */
#include "io/safetensors.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/file.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtypes[SAFETENSORS_NDTYPES] = {
	[SAFETENSORS_BOOL] = {"BOOL", 1},       [SAFETENSORS_U8] = {"U8", 1},
	[SAFETENSORS_I8] = {"I8", 1},           [SAFETENSORS_F8_E5M2] = {"F8_E5M2", 1},
	[SAFETENSORS_F8_E4M3] = {"F8_E4M3", 1}, [SAFETENSORS_I16] = {"I16", 2},
	[SAFETENSORS_U16] = {"U16", 2},         [SAFETENSORS_F16] = {"F16", 2},
	[SAFETENSORS_BF16] = {"BF16", 2},       [SAFETENSORS_I32] = {"I32", 4},
	[SAFETENSORS_U32] = {"U32", 4},         [SAFETENSORS_F32] = {"F32", 4},
	[SAFETENSORS_F64] = {"F64", 8},         [SAFETENSORS_I64] = {"I64", 8},
	[SAFETENSORS_U64] = {"U64", 8},
};

const char *safetensors_dtype_name(enum safetensors_dtype dtype)
{
	CHECK((unsigned)dtype < SAFETENSORS_NDTYPES);
	return dtypes[dtype].name;
}

size_t safetensors_dtype_size(enum safetensors_dtype dtype)
{
	CHECK((unsigned)dtype < SAFETENSORS_NDTYPES);
	return dtypes[dtype].size;
}

/* Writes "[2, 3]" into buf (truncated to size). */
static const char *format_shape(char *buf, size_t size, int ndim, const size_t *shape)
{
	size_t n = (size_t)snprintf(buf, size, "[");

	for (int i = 0; i < ndim && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%zu", i ? ", " : "", shape[i]);
	if (n < size)
		snprintf(buf + n, size - n, "]");
	return buf;
}

static int parse_dtype(const struct json_value *v, const char *name,
		       enum safetensors_dtype *dtype)
{
	const char *s = json_get_string(v);

	if (!v)
		return kn_error(KN_EFORMAT, "tensor '%s' has no dtype", name);
	if (!s)
		return kn_error(KN_EFORMAT, "tensor '%s': dtype is not a string (found %s)", name,
				json_type_name(v));
	for (int i = 0; i < SAFETENSORS_NDTYPES; i++) {
		if (strcmp(s, dtypes[i].name) == 0 && strlen(s) == v->len) {
			*dtype = (enum safetensors_dtype)i;
			return 0;
		}
	}
	return kn_error(KN_EFORMAT, "tensor '%s': unknown dtype '%s'", name, s);
}

static int parse_shape(const struct json_value *v, const char *name,
		       struct safetensors_tensor *t)
{
	if (!v)
		return kn_error(KN_EFORMAT, "tensor '%s' has no shape", name);
	if (v->type != JSON_ARRAY)
		return kn_error(KN_EFORMAT, "tensor '%s': shape is not an array (found %s)", name,
				json_type_name(v));
	if (v->len > SAFETENSORS_MAX_DIMS)
		return kn_error(KN_EFORMAT, "tensor '%s': shape has %zu dimensions, more than %d",
				name, v->len, SAFETENSORS_MAX_DIMS);
	t->ndim = (int)v->len;
	t->count = 1;
	for (size_t i = 0; i < v->len; i++) {
		uint64_t d;

		if (!json_get_u64(&v->u.items[i], &d) || d > SIZE_MAX)
			return kn_error(KN_EFORMAT,
					"tensor '%s': shape[%zu] is not a non-negative integer",
					name, i);
		t->shape[i] = (size_t)d;
	}
	for (int i = 0; i < t->ndim; i++)
		if (!kn_size_mul(&t->count, t->count, t->shape[i]))
			return kn_error(KN_EFORMAT, "tensor '%s': the product of the shape overflows",
					name);
	return 0;
}

/* Reads data_offsets and checks them against the data buffer and the shape. */
static int parse_offsets(const struct json_value *v, const char *name, size_t data_len,
			 struct safetensors_tensor *t)
{
	uint64_t b, e;
	size_t need;
	char shape[160];

	if (!v)
		return kn_error(KN_EFORMAT, "tensor '%s' has no data_offsets", name);
	if (v->type != JSON_ARRAY || v->len != 2 || !json_get_u64(&v->u.items[0], &b) ||
	    !json_get_u64(&v->u.items[1], &e))
		return kn_error(KN_EFORMAT,
				"tensor '%s': data_offsets is not two non-negative integers", name);
	if (b > e)
		return kn_error(KN_EFORMAT,
				"tensor '%s': data_offsets [%llu, %llu] begin after they end", name,
				(unsigned long long)b, (unsigned long long)e);
	if (e > data_len)
		return kn_error(KN_EFORMAT,
				"tensor '%s': data_offsets [%llu, %llu] go past the data buffer "
				"(%zu bytes)",
				name, (unsigned long long)b, (unsigned long long)e, data_len);
	if (!kn_size_mul(&need, t->count, dtypes[t->dtype].size))
		return kn_error(KN_EFORMAT, "tensor '%s': the byte size of the shape overflows",
				name);
	if (e - b != need)
		return kn_error(KN_EFORMAT,
				"tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but shape "
				"%s of %s needs %zu",
				name, (unsigned long long)b, (unsigned long long)e,
				(unsigned long long)(e - b),
				format_shape(shape, sizeof(shape), t->ndim, t->shape),
				dtypes[t->dtype].name, need);
	t->offset = (size_t)b;
	t->nbytes = need;
	return 0;
}

static int parse_tensor(const struct json_member *m, const unsigned char *data,
			size_t data_len, struct safetensors_tensor *t)
{
	const struct json_value *v = &m->value;
	const char *name = m->key;
	int err;

	if (strlen(name) != m->key_len)
		return kn_error(KN_EFORMAT, "a tensor name holds a NUL character");
	if (v->type != JSON_OBJECT)
		return kn_error(KN_EFORMAT, "tensor '%s': entry is not an object (found %s)", name,
				json_type_name(v));
	for (size_t i = 0; i < v->len; i++) {
		const char *key = v->u.obj.members[i].key;

		if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
			return kn_error(KN_EFORMAT, "tensor '%s': unknown field '%s'", name, key);
	}
	t->name = name;
	err = parse_dtype(json_get(v, "dtype"), name, &t->dtype);
	if (!err)
		err = parse_shape(json_get(v, "shape"), name, t);
	if (!err)
		err = parse_offsets(json_get(v, "data_offsets"), name, data_len, t);
	if (!err)
		t->data = data + t->offset;
	return err;
}

static int parse_metadata(const struct json_value *v, struct safetensors_meta *out)
{
	if (v->type != JSON_OBJECT)
		return kn_error(KN_EFORMAT, "__metadata__ is not an object (found %s)",
				json_type_name(v));
	for (size_t i = 0; i < v->len; i++) {
		const struct json_member *m = &v->u.obj.members[i];

		if (m->value.type != JSON_STRING)
			return kn_error(KN_EFORMAT, "metadata value of '%s' is not a string (found %s)",
					m->key, json_type_name(&m->value));
		if (strlen(m->key) != m->key_len || strlen(m->value.u.str) != m->value.len)
			return kn_error(KN_EFORMAT, "metadata '%s' holds a NUL character", m->key);
		out[i].key = m->key;
		out[i].value = m->value.u.str;
	}
	return 0;
}

static int compare_extent(const void *a, const void *b)
{
	const struct safetensors_tensor *x = *(const struct safetensors_tensor *const *)a;
	const struct safetensors_tensor *y = *(const struct safetensors_tensor *const *)b;

	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* Checks that the tensors tile the data buffer exactly: no overlap, no hole. */
static int check_coverage(const struct safetensors_tensor *t, size_t n, size_t data_len)
{
	const struct safetensors_tensor **order, *prev = NULL;
	size_t pos = 0;
	int err = 0;

	order = kn_try_alloc(n * sizeof(*order), "the tensor list");
	if (!order)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = &t[i];
	qsort(order, n, sizeof(*order), compare_extent);
	for (size_t i = 0; i < n && !err; i++) {
		if (order[i]->offset < pos)
			err = kn_error(KN_EFORMAT, "tensors '%s' and '%s' overlap in the data buffer",
				       prev->name, order[i]->name);
		else if (order[i]->offset > pos)
			err = kn_error(KN_EFORMAT,
				       "bytes [%zu, %zu) of the data buffer belong to no tensor "
				       "(a hole, which the format forbids)",
				       pos, order[i]->offset);
		pos = order[i]->offset + order[i]->nbytes;
		prev = order[i];
	}
	if (!err && pos != data_len)
		err = kn_error(KN_EFORMAT,
			       "bytes [%zu, %zu) at the end of the data buffer belong to no tensor "
			       "(a hole, which the format forbids)",
			       pos, data_len);
	free(order);
	return err;
}

static int compare_tensor_names(const void *a, const void *b)
{
	return strcmp(((const struct safetensors_tensor *)a)->name,
		      ((const struct safetensors_tensor *)b)->name);
}

static int compare_meta_keys(const void *a, const void *b)
{
	return strcmp(((const struct safetensors_meta *)a)->key,
		      ((const struct safetensors_meta *)b)->key);
}

/* Fills f's tensors and metadata from the parsed header object. */
static int parse_entries(struct safetensors_file *f, const struct json_value *root,
			 const unsigned char *data, size_t data_len)
{
	const struct json_value *meta = json_get(root, "__metadata__");
	size_t n = root->len - (meta ? 1 : 0), k = 0;
	int err = 0;

	f->tensor_buf = kn_try_alloc(n * sizeof(*f->tensor_buf), "the tensor list");
	if (!f->tensor_buf)
		return KN_ENOMEM;
	if (meta && meta->type == JSON_OBJECT) {
		f->meta_buf = kn_try_alloc(meta->len * sizeof(*f->meta_buf), "the metadata");
		if (!f->meta_buf)
			return KN_ENOMEM;
	}
	if (meta)
		err = parse_metadata(meta, f->meta_buf);
	for (size_t i = 0; i < root->len && !err; i++) {
		const struct json_member *m = &root->u.obj.members[i];

		if (&m->value != meta)
			err = parse_tensor(m, data, data_len, &f->tensor_buf[k++]);
	}
	if (!err)
		err = check_coverage(f->tensor_buf, n, data_len);
	if (err)
		return err;
	qsort(f->tensor_buf, n, sizeof(*f->tensor_buf), compare_tensor_names);
	f->n_tensors = n;
	f->n_meta = meta ? meta->len : 0;
	if (f->n_meta)
		qsort(f->meta_buf, f->n_meta, sizeof(*f->meta_buf), compare_meta_keys);
	f->tensors = f->tensor_buf;
	f->meta = f->meta_buf;
	return 0;
}

/* Reads the header length and parses the header; returns the data buffer's offset. */
static int parse_header(struct safetensors_file *f, const unsigned char *buf, size_t len,
			size_t *data_start)
{
	uint64_t n = 0;
	int err;

	if (len < 8)
		return kn_error(KN_EFORMAT,
				"file is %zu bytes, too short for the 8-byte header length", len);
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	if (n > SAFETENSORS_MAX_HEADER)
		return kn_error(KN_EFORMAT, "header length %llu is larger than the 100 MB limit",
				(unsigned long long)n);
	if (n > len - 8)
		return kn_error(KN_EFORMAT,
				"header length %llu is larger than the rest of the file (%zu bytes): "
				"truncated?",
				(unsigned long long)n, len - 8);
	if (n == 0 || buf[8] != '{')
		return kn_error(KN_EFORMAT, "header does not start with '{'");
	err = json_parse((const char *)buf + 8, (size_t)n, &f->doc);
	if (err)
		return kn_error_prefix(err, "header is not valid JSON");
	if (f->doc.root->type != JSON_OBJECT)
		return kn_error(KN_EFORMAT, "header is not a JSON object");
	*data_start = 8 + (size_t)n;
	return 0;
}

int safetensors_parse(const unsigned char *buf, size_t len, const char *name,
		      struct safetensors_file *out)
{
	struct safetensors_file f = {0};
	size_t start = 0;
	int err;

	err = parse_header(&f, buf, len, &start);
	if (!err)
		err = parse_entries(&f, f.doc.root, buf + start, len - start);
	if (err) {
		safetensors_free(&f);
		return kn_error_prefix(err, "'%s'", name);
	}
	f.name = xmalloc(strlen(name) + 1);
	strcpy(f.name, name);
	*out = f;
	return 0;
}

int safetensors_read(const char *path, struct safetensors_file *out)
{
	unsigned char *buf;
	size_t len;
	int err = file_read_all(path, &buf, &len);

	if (err)
		return err;
	err = safetensors_parse(buf, len, path, out);
	if (err) {
		free(buf);
		return err;
	}
	out->owned = buf;
	return 0;
}

void safetensors_free(struct safetensors_file *f)
{
	json_doc_free(&f->doc);
	free(f->tensor_buf);
	free(f->meta_buf);
	free(f->owned);
	free(f->name);
	memset(f, 0, sizeof(*f));
}

const struct safetensors_tensor *safetensors_find(const struct safetensors_file *f,
						  const char *name)
{
	size_t lo = 0, hi = f->n_tensors;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->tensors[mid].name, name);

		if (c == 0)
			return &f->tensors[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *safetensors_meta_get(const struct safetensors_file *f, const char *key)
{
	size_t lo = 0, hi = f->n_meta;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->meta[mid].key, key);

		if (c == 0)
			return f->meta[mid].value;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static uint64_t load_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static float bits_to_float(uint32_t u)
{
	float x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/* IEEE half to float: exact for every value, subnormals, infinities and NaNs included. */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, mant = h & 0x3ff;

	if (exp == 0) {
		/* Zero or subnormal: mant * 2^-24, exact in float. */
		float x = (float)mant * 0x1p-24f;

		return sign ? -x : x;
	}
	if (exp == 31)
		return bits_to_float(sign | 0x7f800000u | mant << 13);
	return bits_to_float(sign | (exp + 112) << 23 | mant << 13);
}

/*
 * Converts count elements of a float dtype at p (little-endian) to dst. Returns the index
 * of the first value that is NaN or infinite after conversion (count when none): checking
 * each value while it is at hand costs nothing next to a second pass over dst.
 */
static size_t convert_to_float(enum safetensors_dtype dtype, const unsigned char *p,
			       size_t count, float *dst)
{
	size_t size = dtypes[dtype].size, first_bad = count;

	for (size_t i = 0; i < count; i++, p += size) {
		uint64_t v = load_le(p, size);
		double d;

		switch (dtype) {
		case SAFETENSORS_F32:
			dst[i] = bits_to_float((uint32_t)v);
			break;
		case SAFETENSORS_F16:
			dst[i] = half_to_float((uint16_t)v);
			break;
		case SAFETENSORS_BF16:
			dst[i] = bits_to_float((uint32_t)v << 16);
			break;
		default:
			CHECK(dtype == SAFETENSORS_F64);
			memcpy(&d, &v, sizeof(d));
			dst[i] = (float)d;
			break;
		}
		if (!isfinite(dst[i]) && first_bad == count)
			first_bad = i;
	}
	return first_bad;
}

/* The copy behind both public functions; *first_bad as convert_to_float returns it. */
static int copy_f32(const struct safetensors_file *f, const char *name, float *dst, int ndim,
		    const size_t *shape, size_t *first_bad)
{
	const struct safetensors_tensor *t = safetensors_find(f, name);
	char have[160], want[160];
	bool same;

	CHECK(ndim >= 0);
	if (!t)
		return kn_error(KN_EMISMATCH, "'%s': no tensor '%s'", f->name, name);
	same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	if (!same)
		return kn_error(KN_EMISMATCH, "'%s': tensor '%s' has shape %s, expected %s",
				f->name, name, format_shape(have, sizeof(have), t->ndim, t->shape),
				format_shape(want, sizeof(want), ndim, shape));
	if (t->dtype != SAFETENSORS_F32 && t->dtype != SAFETENSORS_F16 &&
	    t->dtype != SAFETENSORS_BF16 && t->dtype != SAFETENSORS_F64)
		return kn_error(KN_EMISMATCH, "'%s': tensor '%s' has dtype %s, not a float type",
				f->name, name, dtypes[t->dtype].name);
	*first_bad = convert_to_float(t->dtype, t->data, t->count, dst);
	return *first_bad < t->count ? 1 : 0;
}

int safetensors_copy_f32(const struct safetensors_file *f, const char *name, float *dst,
			 int ndim, const size_t *shape)
{
	size_t first_bad;
	int err = copy_f32(f, name, dst, ndim, shape, &first_bad);

	return err < 0 ? err : 0;
}

int safetensors_copy_f32_finite(const struct safetensors_file *f, const char *name,
				float *dst, int ndim, const size_t *shape)
{
	size_t first_bad;
	int err = copy_f32(f, name, dst, ndim, shape, &first_bad);

	if (err > 0)
		return kn_error(KN_EFORMAT, "'%s': tensor '%s' holds a non-finite value (%s) at "
				"index %zu", f->name, name, isnan(dst[first_bad]) ? "nan" :
				dst[first_bad] > 0 ? "inf" : "-inf", first_bad);
	return err;
}
