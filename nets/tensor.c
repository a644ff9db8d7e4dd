/* Arenas: one allocation per role, views carved in order. See tensor.h. */
#include "nets/tensor.h"
#include "io/alloc.h"
#include "io/error.h"

#include <stdlib.h>
#include <string.h>

void arena_init(struct arena *a, size_t nfloats)
{
	size_t bytes;

	CHECK(kn_size_mul(&bytes, nfloats, sizeof(float)));
	a->base = xmalloc_aligned(bytes);
	memset(a->base, 0, bytes);
	a->cap = nfloats;
	a->used = 0;
	a->measure = false;
}

void arena_init_measure(struct arena *a)
{
	a->base = NULL;
	a->cap = 0;
	a->used = 0;
	a->measure = true;
}

float *arena_take(struct arena *a, size_t nfloats)
{
	size_t start = (a->used + ARENA_ALIGN_FLOATS - 1) / ARENA_ALIGN_FLOATS * ARENA_ALIGN_FLOATS;

	CHECK(start >= a->used && start + nfloats >= start);
	a->used = start + nfloats;
	if (a->measure)
		return NULL;
	CHECK(a->used <= a->cap);
	return a->base + start;
}

struct tensor arena_tensor(struct arena *a, int n, int c, int h, int w)
{
	struct tensor t = {NULL, n, c, h, w};

	CHECK(n >= 0 && c >= 0 && h >= 0 && w >= 0);
	t.data = arena_take(a, tensor_count(&t));
	return t;
}

void arena_reset(struct arena *a)
{
	a->used = 0;
}

void arena_free(struct arena *a)
{
	free(a->base);
	a->base = NULL;
	a->cap = a->used = 0;
}
