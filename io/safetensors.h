/*
 * safetensors files: the checkpoint format, readable by the Python safetensors library.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of JSON header, then the data buffer.
 * The header maps each tensor name to {"dtype": "F32", "shape": [..], "data_offsets":
 * [begin, end]} (byte offsets into the data buffer, end exclusive) and may hold
 * "__metadata__", an object of string values. Data is little-endian, C order.
 *
 * Reading (from memory or a file) validates everything before handing anything out:
 *
 *     struct safetensors_file st;
 *     if (safetensors_read("model.safetensors", &st) < 0) ...   (kn_errmsg())
 *     err = safetensors_copy_f32(&st, "conv1.weight", w, 4, shape);
 *     const char *arch = safetensors_meta_get(&st, "arch");
 *     safetensors_free(&st);
 *
 * Rejected, each with a one-line message naming the file and the problem: a header length
 * past the file or above 100 MB, a header that is not a JSON object (strict JSON, see
 * json.h; duplicate names are duplicate keys), an entry with a missing, unknown or
 * mistyped field, an unknown dtype, shape dimensions that are not non-negative integers
 * or whose product overflows, more than SAFETENSORS_MAX_DIMS dimensions, offsets with
 * begin > end or past the buffer, a byte range that differs from shape x dtype size,
 * overlapping tensors, bytes of the buffer covered by no tensor (holes, which the format
 * forbids), metadata values that are not strings, and names or metadata holding NUL.
 *
 * Writing: add F32 tensors (the writer keeps the caller's pointers until the write) and
 * metadata pairs, then write atomically (io/atomic.h). As the Python library does, the
 * data is laid out in name order (byte-wise; it sorts by dtype first, and everything here
 * is F32), the header lists "__metadata__" first (keys in byte-wise order, so output is
 * reproducible) then the tensors in data order, in compact JSON padded with spaces to a
 * multiple of 8 bytes so that data starts 8-byte aligned.
 */
#ifndef KNSEG_IO_SAFETENSORS_H
#define KNSEG_IO_SAFETENSORS_H

#include <stddef.h>

#include "io/json.h"

#define SAFETENSORS_MAX_DIMS 8

/* Largest header accepted, as in the Python library. */
#define SAFETENSORS_MAX_HEADER ((size_t)100000000)

enum safetensors_dtype {
	SAFETENSORS_BOOL,
	SAFETENSORS_U8,
	SAFETENSORS_I8,
	SAFETENSORS_F8_E5M2,
	SAFETENSORS_F8_E4M3,
	SAFETENSORS_I16,
	SAFETENSORS_U16,
	SAFETENSORS_F16,
	SAFETENSORS_BF16,
	SAFETENSORS_I32,
	SAFETENSORS_U32,
	SAFETENSORS_F32,
	SAFETENSORS_F64,
	SAFETENSORS_I64,
	SAFETENSORS_U64,
	SAFETENSORS_NDTYPES
};

struct safetensors_tensor {
	const char *name; /* NUL-terminated */
	enum safetensors_dtype dtype;
	int ndim; /* 0 for a scalar */
	size_t shape[SAFETENSORS_MAX_DIMS];
	size_t count;              /* product of shape (1 for a scalar) */
	size_t offset, nbytes;     /* the byte range within the data buffer */
	const unsigned char *data; /* offset bytes past the buffer's start; not aligned */
};

struct safetensors_meta {
	const char *key, *value;
};

struct safetensors_file {
	const struct safetensors_tensor *tensors; /* n_tensors, sorted by name */
	size_t n_tensors;
	const struct safetensors_meta *meta; /* n_meta, sorted by key */
	size_t n_meta;
	/* private */
	char *name;            /* for messages */
	unsigned char *owned;  /* the file's bytes, when read by safetensors_read */
	struct json_doc doc;   /* names and strings point into it */
	struct safetensors_tensor *tensor_buf;
	struct safetensors_meta *meta_buf;
};

/* The dtype's name ("F32") and element size in bytes. */
const char *safetensors_dtype_name(enum safetensors_dtype dtype);
size_t safetensors_dtype_size(enum safetensors_dtype dtype);

/*
 * Parses the len bytes at buf, which must outlive out (tensor data points into it); name
 * is used in messages. Negative with a message on any problem, and out holds nothing.
 */
int safetensors_parse(const unsigned char *buf, size_t len, const char *name,
		      struct safetensors_file *out);

/* Reads and parses the file at path; out owns the bytes. */
int safetensors_read(const char *path, struct safetensors_file *out);

void safetensors_free(struct safetensors_file *f);

/* The tensor called name, or NULL. */
const struct safetensors_tensor *safetensors_find(const struct safetensors_file *f,
						  const char *name);

/* The metadata value for key, or NULL. */
const char *safetensors_meta_get(const struct safetensors_file *f, const char *key);

/*
 * Copies tensor name into dst as floats, converting F16, BF16 and F64. Fails with a
 * message naming the file and tensor when it is missing, has another dtype, or its
 * shape is not exactly the ndim sizes given (the message shows both shapes).
 */
int safetensors_copy_f32(const struct safetensors_file *f, const char *name, float *dst,
			 int ndim, const size_t *shape);

/*
 * The same, and fails (KN_EFORMAT) when a value is NaN or infinite, naming the file, the
 * tensor and the first such index: weights with one such value give a network whose
 * every output is garbage without any error.
 */
int safetensors_copy_f32_finite(const struct safetensors_file *f, const char *name,
				float *dst, int ndim, const size_t *shape);

struct safetensors_entry;

struct safetensors_writer {
	struct safetensors_entry *tensors;
	size_t n_tensors, cap_tensors;
	struct safetensors_meta *meta; /* copies owned by the writer */
	size_t n_meta, cap_meta;
};

void safetensors_writer_init(struct safetensors_writer *w);
void safetensors_writer_free(struct safetensors_writer *w);

/* Adds an F32 tensor; data (prod(shape) floats) must stay valid until the write. */
void safetensors_add_f32(struct safetensors_writer *w, const char *name, const float *data,
			 int ndim, const size_t *shape);

/* Adds a metadata pair (both strings are copied). */
void safetensors_add_meta(struct safetensors_writer *w, const char *key, const char *value);

/*
 * Writes the file atomically. Fails (KN_EINVAL) on duplicate tensor names or metadata
 * keys, a name "__metadata__", or KN_EIO with a message naming path.
 */
int safetensors_write(const struct safetensors_writer *w, const char *path);

/* The same file image in memory (*out freed by the caller). */
int safetensors_serialize(const struct safetensors_writer *w, unsigned char **out,
			  size_t *len);

#endif
