/* Arenas: pieces carved in order, measured first. See arena.h. */
#include "io/arena.h"
#include "io/error.h"

void arena_init_over(struct arena *a, float *base, size_t cap)
{
	a->base = base;
	a->cap = base ? cap : 0;
	a->used = 0;
}

float *arena_take(struct arena *a, size_t n)
{
	size_t start = arena_round(a->used);

	CHECK(start >= a->used && start + n >= start);
	a->used = start + n;
	if (!a->base)
		return NULL;
	CHECK(a->used <= a->cap);
	return a->base + start;
}

double *arena_take_doubles(struct arena *a, size_t n)
{
	CHECK(n <= (size_t)-1 / 2);
	return (double *)(void *)arena_take(a, 2 * n);
}
