/*
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0 read; 1.0 written), float32 data,
 * little-endian, C order. Used for logits and for the reference fixtures of the tests.
 *
 *     struct npy_array a;
 *     if (npy_read("x.npy", &a) < 0) ...   (message from kn_errmsg())
 *     ... a.data[i], a.shape[0..a.ndim-1], a.count ...
 *     npy_free(&a);
 *
 * Reading rejects anything but '<f4' (and '|f4' never occurs for floats), Fortran order,
 * more than NPY_MAX_DIMS dimensions, a malformed header, and a data size that does not
 * equal the product of the shape.
 */
#ifndef KNSEG_IO_NPY_H
#define KNSEG_IO_NPY_H

#include <stddef.h>

#define NPY_MAX_DIMS 8

struct npy_array {
	float *data;          /* count floats, owned */
	int ndim;             /* 0 for a scalar */
	size_t shape[NPY_MAX_DIMS];
	size_t count;         /* product of shape (1 for a scalar) */
};

int npy_read(const char *path, struct npy_array *out);

/* Parses an in-memory .npy image; name is used in messages. */
int npy_parse(const unsigned char *buf, size_t len, const char *name, struct npy_array *out);

void npy_free(struct npy_array *a);

/* Writes count = prod(shape) floats atomically. */
int npy_write(const char *path, const float *data, int ndim, const size_t *shape);

#endif
