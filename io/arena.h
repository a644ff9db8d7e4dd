/*
 * Arenas: memory carved into aligned pieces in order.
 *
 * Code that lays out several buffers in one block (a model's statistics, a layer's
 * workspace) runs the same carving twice: first on a measuring arena, which hands out
 * NULL and only counts, then on the real memory of the measured size. The layout is
 * written once, and the size always matches it.
 *
 *     struct arena a;
 *     arena_init_over(&a, NULL, 0);          measuring
 *     lay_out(&a, ...);                       pieces are NULL; a.used is the size
 *     float *base = xmalloc_aligned(a.used * sizeof(float));
 *     arena_init_over(&a, base, a.used);
 *     lay_out(&a, ...);                       the same pieces, now in base
 *
 * Every piece starts ARENA_ALIGN_FLOATS floats (64 bytes) after the base or a multiple
 * of it, so pieces of a 64-byte aligned base are 64-byte aligned, as vector loads and
 * OpenBLAS's packing like. The arena never owns memory: the caller frees the base.
 */
#ifndef KNSEG_IO_ARENA_H
#define KNSEG_IO_ARENA_H

#include <stdbool.h>
#include <stddef.h>

#define ARENA_ALIGN_FLOATS 16

struct arena {
	float *base;  /* NULL while measuring */
	size_t cap;   /* floats available (unused while measuring) */
	size_t used;  /* floats handed out so far, alignment padding included */
};

/* n floats rounded up to a whole number of alignment steps (pieces laid end to end). */
static inline size_t arena_round(size_t n)
{
	return (n + ARENA_ALIGN_FLOATS - 1) / ARENA_ALIGN_FLOATS * ARENA_ALIGN_FLOATS;
}

/* Carves base[0..cap) from the start; base NULL makes a measuring arena. */
void arena_init_over(struct arena *a, float *base, size_t cap);

/* The next n floats, aligned; NULL while measuring. CHECKs that a real arena has room. */
float *arena_take(struct arena *a, size_t n);

/* n doubles (2n floats; the base must be 8-byte aligned, as every allocation is). */
double *arena_take_doubles(struct arena *a, size_t n);

#endif
