/*
 * Allocation helpers.
 *
 * xmalloc/xcalloc/xrealloc are for sizes the program itself decides (model shapes,
 * buffers of known size): they never return NULL; on failure they report the size and
 * file:line and abort, as running out of memory there is not recoverable.
 *
 * Sizes that come from files or users go through kn_size_mul() (overflow check) and
 * kn_try_alloc(), which returns NULL with a kn_error() message instead of aborting, so a
 * corrupt header that claims 10^12 pixels is an error, not a crash.
 *
 * Sizes that follow from an image the user gave (pixels, probabilities, a network's
 * activations for that size) go through kn_try_malloc(): no fixed cap, since a large
 * machine may hold them, but a failure is a KN_ENOMEM message saying how many bytes
 * were needed, so that one image too large for the memory at hand fails alone.
 *
 * Everything is freed with free(). Aligned variants return 64-byte aligned memory
 * (cache line and AVX-512 friendly); they are freed with free() too.
 */
#ifndef KNSEG_IO_ALLOC_H
#define KNSEG_IO_ALLOC_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Largest single allocation accepted for a size read from a file: 4 GiB. */
#define KN_MAX_FILE_ALLOC ((size_t)1 << 32)

void *kn_xmalloc(size_t size, const char *file, int line);
void *kn_xcalloc(size_t n, size_t size, const char *file, int line);
void *kn_xrealloc(void *p, size_t size, const char *file, int line);
void *kn_xmalloc_aligned(size_t size, const char *file, int line);

#define xmalloc(size) kn_xmalloc((size), __FILE__, __LINE__)
#define xcalloc(n, size) kn_xcalloc((n), (size), __FILE__, __LINE__)
#define xrealloc(p, size) kn_xrealloc((p), (size), __FILE__, __LINE__)
#define xmalloc_aligned(size) kn_xmalloc_aligned((size), __FILE__, __LINE__)

/* A new string formatted as printf would (aborts on exhaustion, as xmalloc); free it. */
char *xformat(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvformat(const char *fmt, va_list ap);

/* *out = a * b; false (and *out untouched) on overflow. */
bool kn_size_mul(size_t *out, size_t a, size_t b);

/* *out = a * b * c * d, with overflow checks; false on overflow. */
bool kn_size_mul4(size_t *out, size_t a, size_t b, size_t c, size_t d);

/*
 * Allocates size bytes for data described by a file; what names the data in the
 * message. Returns NULL with a KN_ENOMEM message when size exceeds KN_MAX_FILE_ALLOC or
 * the allocation fails.
 */
void *kn_try_alloc(size_t size, const char *what);

/*
 * n * size bytes (overflow checked, no cap), what naming the data in the message;
 * NULL with a KN_ENOMEM message when it cannot be had. The aligned variant returns
 * 64-byte aligned memory.
 */
void *kn_try_malloc(size_t n, size_t size, const char *what);
void *kn_try_malloc_aligned(size_t n, size_t size, const char *what);

#endif
