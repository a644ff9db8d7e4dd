/* Allocation helpers that fail loudly, and checked sizes for file data. See alloc.h. */
#include "io/alloc.h"
#include "io/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static _Noreturn void out_of_memory(size_t size, const char *file, int line)
{
	fprintf(stderr, "%s:%d: out of memory allocating %zu bytes\n", file, line, size);
	abort();
}

void *kn_xmalloc(size_t size, const char *file, int line)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		out_of_memory(size, file, line);
	return p;
}

void *kn_xcalloc(size_t n, size_t size, const char *file, int line)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		out_of_memory(n * size, file, line);
	return p;
}

void *kn_xrealloc(void *p, size_t size, const char *file, int line)
{
	void *q = realloc(p, size ? size : 1);

	if (!q)
		out_of_memory(size, file, line);
	return q;
}

void *kn_xmalloc_aligned(size_t size, const char *file, int line)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, size ? size : 64) != 0)
		out_of_memory(size, file, line);
	return p;
}

bool kn_size_mul(size_t *out, size_t a, size_t b)
{
	if (a != 0 && b > SIZE_MAX / a)
		return false;
	*out = a * b;
	return true;
}

bool kn_size_mul4(size_t *out, size_t a, size_t b, size_t c, size_t d)
{
	size_t ab, abc;

	return kn_size_mul(&ab, a, b) && kn_size_mul(&abc, ab, c) && kn_size_mul(out, abc, d);
}

void *kn_try_alloc(size_t size, const char *what)
{
	void *p;

	if (size > KN_MAX_FILE_ALLOC) {
		kn_error(KN_ENOMEM, "%s needs %zu bytes, more than the %zu allowed", what, size,
			 (size_t)KN_MAX_FILE_ALLOC);
		return NULL;
	}
	p = malloc(size ? size : 1);
	if (!p)
		kn_error(KN_ENOMEM, "out of memory allocating %zu bytes for %s", size, what);
	return p;
}
