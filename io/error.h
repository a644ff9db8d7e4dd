/*
 * Error conventions used across knseg.
 *
 * Recoverable failures (a bad file, a bad flag, a corrupt checkpoint) are reported by
 * returning a negative KN_E* code after recording a one-line message with kn_error():
 *
 *     if (!f)
 *         return kn_error(KN_EIO, "cannot open '%s': %s", path, strerror(errno));
 *
 * Messages are lowercase, cause first, paths quoted. The message lives in a thread-local
 * buffer until the next kn_error() on that thread; kn_errmsg() returns it. Only app/
 * prints messages and exits. Library code never calls exit().
 *
 * Programming errors (a violated precondition, an impossible state) hit CHECK(), which is
 * always on, reports file:line and the failed expression, and aborts.
 */
#ifndef KNSEG_IO_ERROR_H
#define KNSEG_IO_ERROR_H

enum kn_status {
	KN_OK = 0,
	KN_EIO = -1,      /* cannot open, read or write a file */
	KN_EFORMAT = -2,  /* the content of a file is malformed or unsupported */
	KN_ENOMEM = -3,   /* an allocation failed or a size from a file is too large */
	KN_EINVAL = -4,   /* a bad argument or flag from the user */
	KN_EMISMATCH = -5 /* well-formed data that does not match what is expected */
};

/* Records a printf-style message and returns code (which must be negative). */
int kn_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with "prefix: " (for adding a file name further up). */
int kn_error_prefix(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *kn_errmsg(void);

/* Aborts with file:line and message; used by CHECK. */
_Noreturn void kn_check_failed(const char *file, int line, const char *expr);

#define CHECK(cond) \
	((cond) ? (void)0 : kn_check_failed(__FILE__, __LINE__, #cond))

#endif
