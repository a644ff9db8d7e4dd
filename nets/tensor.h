/*
 * Tensors and arenas.
 *
 * A struct tensor is a view: a float pointer into memory owned by someone else (an arena)
 * with an NCHW shape. Layers themselves take plain float pointers and explicit sizes; the
 * struct is for code that wires layers together.
 *
 * An arena is one aligned allocation per role (parameters, gradients, optimizer state,
 * activations, workspace) from which views are carved in order. A model plans its memory
 * by running the same carving code twice: first on a measuring arena (arena_init_measure,
 * which hands out NULL and only counts), then on a real arena of the measured size. After
 * that nothing is allocated inside a training step.
 */
#ifndef KNSEG_NETS_TENSOR_H
#define KNSEG_NETS_TENSOR_H

#include <stdbool.h>
#include <stddef.h>

struct tensor {
	float *data;
	int n, c, h, w;
};

static inline size_t tensor_count(const struct tensor *t)
{
	return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

struct arena {
	float *base;   /* NULL for a measuring arena */
	size_t cap;    /* floats available */
	size_t used;   /* floats handed out, alignment padding included */
	bool measure;
};

/* Every view starts on a 64-byte boundary (16 floats). */
#define ARENA_ALIGN_FLOATS 16

/* A real arena of nfloats floats, zero-filled. */
void arena_init(struct arena *a, size_t nfloats);

/* A measuring arena: arena_take returns NULL and only advances used. */
void arena_init_measure(struct arena *a);

/* The next nfloats floats (aligned). CHECKs that a real arena has room. */
float *arena_take(struct arena *a, size_t nfloats);

/* Carves a tensor view of shape (n, c, h, w). */
struct tensor arena_tensor(struct arena *a, int n, int c, int h, int w);

/* Hands everything out again from the start (contents are kept). */
void arena_reset(struct arena *a);

void arena_free(struct arena *a);

#endif
