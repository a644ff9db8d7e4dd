/*
 * libFuzzer target for the safetensors reader and the JSON reader and writer under it.
 *
 * Each input is used three ways:
 *   1. as a whole file for safetensors_parse; an accepted file is checked for consistency
 *      (ranges inside the input, lookups, conversions, the finite-values check, shape
 *      mismatch errors) and, when all its tensors are F32, written again with the writer
 *      and parsed back identical;
 *   2. as the JSON header of a file with an empty data buffer (so header text reaches the
 *      entry checks without a matching length prefix);
 *   3. as JSON text for json_parse; an accepted document is written back with the JSON
 *      writer and must parse to the same tree.
 */
#include "io/alloc.h"
#include "io/error.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_float_dtype(enum safetensors_dtype d)
{
	return d == SAFETENSORS_F32 || d == SAFETENSORS_F16 || d == SAFETENSORS_BF16 ||
	       d == SAFETENSORS_F64;
}

static bool all_finite(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return false;
	return true;
}

/* Writes the F32 tensors (in dst, one buffer each) and metadata again and re-parses. */
static void check_rewrite(const struct safetensors_file *st, float **values)
{
	struct safetensors_writer w;
	struct safetensors_file again;
	unsigned char *buf;
	size_t len;

	safetensors_writer_init(&w);
	for (size_t i = 0; i < st->n_tensors; i++)
		safetensors_add_f32(&w, st->tensors[i].name, values[i], st->tensors[i].ndim,
				    st->tensors[i].shape);
	for (size_t i = 0; i < st->n_meta; i++)
		safetensors_add_meta(&w, st->meta[i].key, st->meta[i].value);
	CHECK(safetensors_serialize(&w, &buf, &len) == 0);
	CHECK(safetensors_parse(buf, len, "rewrite", &again) == 0);
	CHECK(again.n_tensors == st->n_tensors && again.n_meta == st->n_meta);
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct safetensors_tensor *a = &st->tensors[i], *b = &again.tensors[i];

		CHECK(strcmp(a->name, b->name) == 0 && a->ndim == b->ndim);
		CHECK(memcmp(a->shape, b->shape, sizeof(a->shape[0]) * (size_t)a->ndim) == 0);
		CHECK(a->nbytes == b->nbytes && memcmp(a->data, b->data, a->nbytes) == 0);
	}
	for (size_t i = 0; i < st->n_meta; i++)
		CHECK(strcmp(safetensors_meta_get(&again, st->meta[i].key), st->meta[i].value) == 0);
	safetensors_free(&again);
	free(buf);
	safetensors_writer_free(&w);
}

static void check_file(const struct safetensors_file *st, const uint8_t *data, size_t size)
{
	float **values = calloc(st->n_tensors + 1, sizeof(*values));
	bool all_f32 = true;

	CHECK(values);
	for (size_t i = 0; i < st->n_tensors; i++) {
		const struct safetensors_tensor *t = &st->tensors[i];
		size_t wrong[SAFETENSORS_MAX_DIMS + 1];

		CHECK(t->data >= data && t->nbytes <= size && t->data + t->nbytes <= data + size);
		CHECK(t->nbytes == t->count * safetensors_dtype_size(t->dtype));
		CHECK(safetensors_find(st, t->name) == t);
		CHECK(i == 0 || strcmp(st->tensors[i - 1].name, t->name) < 0);
		all_f32 = all_f32 && t->dtype == SAFETENSORS_F32;
		if (!is_float_dtype(t->dtype))
			continue;
		values[i] = kn_try_alloc(t->count * sizeof(float), "fuzz");
		CHECK(values[i]);
		CHECK(safetensors_copy_f32(st, t->name, values[i], t->ndim, t->shape) == 0);
		CHECK(safetensors_copy_f32_finite(st, t->name, values[i], t->ndim, t->shape) ==
		      (all_finite(values[i], t->count) ? 0 : KN_EFORMAT));
		memcpy(wrong, t->shape, sizeof(t->shape));
		wrong[t->ndim] = 1;
		CHECK(safetensors_copy_f32(st, t->name, values[i], t->ndim + 1, wrong) ==
		      KN_EMISMATCH);
	}
	for (size_t i = 0; i < st->n_meta; i++)
		CHECK(safetensors_meta_get(st, st->meta[i].key) == st->meta[i].value);
	if (all_f32)
		check_rewrite(st, values);
	for (size_t i = 0; i < st->n_tensors; i++)
		free(values[i]);
	free(values);
}

static void emit(struct json_writer *w, const struct json_value *v)
{
	switch (v->type) {
	case JSON_NULL: json_null(w); break;
	case JSON_FALSE: json_bool(w, false); break;
	case JSON_TRUE: json_bool(w, true); break;
	case JSON_STRING: json_string_n(w, v->u.str, v->len); break;
	case JSON_NUMBER:
		if (v->flags & JSON_NUM_U64)
			json_u64(w, v->u.num.u);
		else if (v->flags & JSON_NUM_I64)
			json_i64(w, v->u.num.i);
		else
			json_double(w, v->u.num.d);
		break;
	case JSON_ARRAY:
		json_array_begin(w);
		for (size_t i = 0; i < v->len; i++)
			emit(w, &v->u.items[i]);
		json_array_end(w);
		break;
	case JSON_OBJECT:
		json_object_begin(w);
		for (size_t i = 0; i < v->len; i++) {
			const struct json_member *m = &v->u.obj.members[i];

			json_key_n(w, m->key, m->key_len);
			emit(w, &m->value);
		}
		json_object_end(w);
		break;
	}
}

static void check_same(const struct json_value *a, const struct json_value *b)
{
	if (a->type == JSON_NUMBER && !isfinite(a->u.num.d)) {
		CHECK(b->type == JSON_NULL); /* the writer's stand-in for inf */
		return;
	}
	CHECK(a->type == b->type && a->len == b->len);
	if (a->type == JSON_NUMBER) {
		CHECK(a->u.num.d == b->u.num.d);
		CHECK(!(a->flags & JSON_NUM_U64) || b->u.num.u == a->u.num.u);
		CHECK(!(a->flags & JSON_NUM_I64) || b->u.num.i == a->u.num.i);
	} else if (a->type == JSON_STRING) {
		CHECK(memcmp(a->u.str, b->u.str, a->len) == 0);
	} else if (a->type == JSON_ARRAY) {
		for (size_t i = 0; i < a->len; i++)
			check_same(&a->u.items[i], &b->u.items[i]);
	} else if (a->type == JSON_OBJECT) {
		for (size_t i = 0; i < a->len; i++) {
			const struct json_member *x = &a->u.obj.members[i], *y = &b->u.obj.members[i];

			CHECK(x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0);
			check_same(&x->value, &y->value);
		}
	}
}

static void check_json(const uint8_t *data, size_t size)
{
	struct json_doc doc, again;
	struct json_writer w;

	if (json_parse((const char *)data, size, &doc) != 0)
		return;
	json_writer_init(&w);
	emit(&w, doc.root);
	CHECK(json_parse(w.data, w.len, &again) == 0);
	check_same(doc.root, again.root);
	json_doc_free(&again);
	json_writer_free(&w);
	json_doc_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct safetensors_file st;
	unsigned char *file;

	if (safetensors_parse(data, size, "fuzz", &st) == 0) {
		check_file(&st, data, size);
		safetensors_free(&st);
	}
	file = malloc(size + 8);
	CHECK(file);
	for (int i = 0; i < 8; i++)
		file[i] = (unsigned char)((uint64_t)size >> (8 * i));
	if (size)
		memcpy(file + 8, data, size);
	if (safetensors_parse(file, size + 8, "fuzz", &st) == 0) {
		check_file(&st, file, size + 8);
		safetensors_free(&st);
	}
	free(file);
	check_json(data, size);
	return 0;
}
