/*
 * Writing safetensors files. See safetensors.h for the layout choices (name order,
 * "__metadata__" first, header padded with spaces to a multiple of 8 bytes).
 *
 * The header is built first (it holds every offset), then the file is streamed: header
 * length, header, each tensor's floats as little-endian bytes.
 */
#include "io/safetensors.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct safetensors_entry {
	char *name;
	const float *data;
	int ndim;
	size_t shape[SAFETENSORS_MAX_DIMS];
	size_t count;
};

static char *copy_string(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);

	memcpy(p, s, n);
	return p;
}

void safetensors_writer_init(struct safetensors_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void safetensors_writer_free(struct safetensors_writer *w)
{
	for (size_t i = 0; i < w->n_tensors; i++)
		free(w->tensors[i].name);
	for (size_t i = 0; i < w->n_meta; i++) {
		free((char *)w->meta[i].key);
		free((char *)w->meta[i].value);
	}
	free(w->tensors);
	free(w->meta);
	memset(w, 0, sizeof(*w));
}

void safetensors_add_f32(struct safetensors_writer *w, const char *name, const float *data,
			 int ndim, const size_t *shape)
{
	struct safetensors_entry *e;

	CHECK(ndim >= 0 && ndim <= SAFETENSORS_MAX_DIMS);
	if (w->n_tensors == w->cap_tensors) {
		w->cap_tensors = w->cap_tensors ? 2 * w->cap_tensors : 16;
		w->tensors = xrealloc(w->tensors, w->cap_tensors * sizeof(*w->tensors));
	}
	e = &w->tensors[w->n_tensors++];
	e->name = copy_string(name);
	e->data = data;
	e->ndim = ndim;
	e->count = 1;
	for (int i = 0; i < ndim; i++) {
		e->shape[i] = shape[i];
		CHECK(kn_size_mul(&e->count, e->count, shape[i]));
	}
	CHECK(e->count <= SIZE_MAX / sizeof(float));
	CHECK(data || e->count == 0);
}

void safetensors_add_meta(struct safetensors_writer *w, const char *key, const char *value)
{
	if (w->n_meta == w->cap_meta) {
		w->cap_meta = w->cap_meta ? 2 * w->cap_meta : 16;
		w->meta = xrealloc(w->meta, w->cap_meta * sizeof(*w->meta));
	}
	w->meta[w->n_meta].key = copy_string(key);
	w->meta[w->n_meta].value = copy_string(value);
	w->n_meta++;
}

static int compare_entries(const void *a, const void *b)
{
	return strcmp((*(const struct safetensors_entry *const *)a)->name,
		      (*(const struct safetensors_entry *const *)b)->name);
}

static int compare_meta(const void *a, const void *b)
{
	return strcmp((*(const struct safetensors_meta *const *)a)->key,
		      (*(const struct safetensors_meta *const *)b)->key);
}

struct layout {
	const struct safetensors_entry **order; /* tensors in data order */
	struct json_writer header;               /* padded header text */
};

static void write_metadata(const struct safetensors_writer *w,
			   const struct safetensors_meta **meta, struct json_writer *jw)
{
	json_key(jw, "__metadata__");
	json_object_begin(jw);
	for (size_t i = 0; i < w->n_meta; i++) {
		json_key(jw, meta[i]->key);
		json_string(jw, meta[i]->value);
	}
	json_object_end(jw);
}

static void write_tensor_entry(const struct safetensors_entry *e, uint64_t begin,
			       struct json_writer *jw)
{
	json_key(jw, e->name);
	json_object_begin(jw);
	json_key(jw, "dtype");
	json_string(jw, "F32");
	json_key(jw, "shape");
	json_array_begin(jw);
	for (int d = 0; d < e->ndim; d++)
		json_u64(jw, e->shape[d]);
	json_array_end(jw);
	json_key(jw, "data_offsets");
	json_array_begin(jw);
	json_u64(jw, begin);
	json_u64(jw, begin + e->count * sizeof(float));
	json_array_end(jw);
	json_object_end(jw);
}

/* Orders the tensors and metadata, checks names, and builds the padded header. */
static int plan_layout(const struct safetensors_writer *w, struct layout *l)
{
	const struct safetensors_meta **meta = xmalloc((w->n_meta + 1) * sizeof(*meta));
	uint64_t offset = 0;
	int err = 0;

	l->order = xmalloc((w->n_tensors + 1) * sizeof(*l->order));
	for (size_t i = 0; i < w->n_tensors; i++)
		l->order[i] = &w->tensors[i];
	for (size_t i = 0; i < w->n_meta; i++)
		meta[i] = &w->meta[i];
	qsort(l->order, w->n_tensors, sizeof(*l->order), compare_entries);
	qsort(meta, w->n_meta, sizeof(*meta), compare_meta);
	for (size_t i = 0; i < w->n_tensors && !err; i++) {
		if (i > 0 && strcmp(l->order[i - 1]->name, l->order[i]->name) == 0)
			err = kn_error(KN_EINVAL, "duplicate tensor name '%s'", l->order[i]->name);
		else if (strcmp(l->order[i]->name, "__metadata__") == 0)
			err = kn_error(KN_EINVAL, "'__metadata__' cannot name a tensor");
	}
	for (size_t i = 1; i < w->n_meta && !err; i++)
		if (strcmp(meta[i - 1]->key, meta[i]->key) == 0)
			err = kn_error(KN_EINVAL, "duplicate metadata key '%s'", meta[i]->key);
	json_writer_init(&l->header);
	if (!err) {
		json_object_begin(&l->header);
		if (w->n_meta)
			write_metadata(w, meta, &l->header);
		for (size_t i = 0; i < w->n_tensors; i++) {
			write_tensor_entry(l->order[i], offset, &l->header);
			offset += l->order[i]->count * sizeof(float);
		}
		json_object_end(&l->header);
		while (l->header.len % 8)
			json_append_raw(&l->header, " ", 1);
	}
	free(meta);
	return err;
}

static void free_layout(struct layout *l)
{
	free(l->order);
	json_writer_free(&l->header);
}

/* Streams the file; false on a write error (errno tells which). */
static bool emit(const struct safetensors_writer *w, const struct layout *l, FILE *f)
{
	unsigned char buf[4096];
	uint64_t n = l->header.len;

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(n >> (8 * i));
	if (fwrite(buf, 1, 8, f) != 8 || fwrite(l->header.data, 1, l->header.len, f) != n)
		return false;
	for (size_t t = 0; t < w->n_tensors; t++) {
		const struct safetensors_entry *e = l->order[t];

		for (size_t i = 0; i < e->count;) {
			size_t k = 0;

			for (; k < sizeof(buf) / 4 && i < e->count; k++, i++) {
				uint32_t u;

				memcpy(&u, &e->data[i], 4);
				for (int b = 0; b < 4; b++)
					buf[4 * k + (size_t)b] = (unsigned char)(u >> (8 * b));
			}
			if (fwrite(buf, 4, k, f) != k)
				return false;
		}
	}
	return true;
}

int safetensors_write(const struct safetensors_writer *w, const char *path)
{
	struct layout l;
	struct atomic_file af;
	int err = plan_layout(w, &l);

	if (err) {
		free_layout(&l);
		return kn_error_prefix(err, "cannot write '%s'", path);
	}
	err = atomic_open(&af, path);
	if (!err) {
		if (emit(w, &l, af.f)) {
			err = atomic_commit(&af);
		} else {
			int e = errno;

			atomic_abort(&af);
			err = kn_error(KN_EIO, "cannot write '%s': %s", path, strerror(e));
		}
	}
	free_layout(&l);
	return err;
}

int safetensors_serialize(const struct safetensors_writer *w, unsigned char **out,
			  size_t *len)
{
	struct layout l;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;
	int err = plan_layout(w, &l);

	if (!err) {
		bool ok;

		f = open_memstream(&buf, &size);
		CHECK(f);
		ok = emit(w, &l, f);
		if (fclose(f) != 0 || !ok)
			err = kn_error(KN_ENOMEM, "cannot serialize safetensors: out of memory");
	}
	free_layout(&l);
	if (err) {
		free(buf);
		return err;
	}
	*out = (unsigned char *)buf;
	*len = size;
	return 0;
}
