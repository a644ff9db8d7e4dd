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

/* NULL with a message when n * size overflows or the allocation fails. */
static void *try_malloc(size_t n, size_t size, size_t align, const char *what)
{
	size_t bytes;
	void *p = NULL;

	if (!kn_size_mul(&bytes, n, size)) {
		kn_error(KN_ENOMEM, "out of memory: %s would need %zu x %zu bytes", what, n, size);
		return NULL;
	}
	if (align) {
		if (posix_memalign(&p, align, bytes ? bytes : align) != 0)
			p = NULL;
	} else {
		p = malloc(bytes ? bytes : 1);
	}
	if (!p)
		kn_error(KN_ENOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
	return p;
}

void *kn_try_malloc(size_t n, size_t size, const char *what)
{
	return try_malloc(n, size, 0, what);
}

void *kn_try_malloc_aligned(size_t n, size_t size, const char *what)
{
	return try_malloc(n, size, 64, what);
}

char *xvformat(const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *s;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	CHECK(n >= 0);
	s = xmalloc((size_t)n + 1);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *xformat(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvformat(fmt, ap);
	va_end(ap);
	return s;
}
