/*
 * Atomic file writing: the content goes to a temporary file in the destination's folder,
 * which is flushed, fsync'ed and renamed over the destination only when complete. A
 * reader sees the old file or the new one, never half of one; a crash leaves at most a
 * stray "NAME.tmp.XXXXXX" beside it.
 *
 *     struct atomic_file af;
 *     if (atomic_open(&af, path) < 0)
 *         return -1;                       (message from kn_errmsg())
 *     fwrite(..., af.f);
 *     return atomic_commit(&af);           (or atomic_abort(&af) on a failure)
 *
 * atomic_commit and atomic_abort both release everything; call exactly one of them.
 */
#ifndef KNSEG_IO_ATOMIC_H
#define KNSEG_IO_ATOMIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct atomic_file {
	FILE *f;
	char *path;
	char *tmp_path;
};

int atomic_open(struct atomic_file *af, const char *path);

/* Checks for write errors, fsyncs, renames, fsyncs the folder. Negative on failure. */
int atomic_commit(struct atomic_file *af);

/* Closes and removes the temporary file. */
void atomic_abort(struct atomic_file *af);

/* Writes len bytes from data to path atomically. */
int atomic_write_file(const char *path, const void *data, size_t len);

/*
 * Finishes writing a file that an encoder made in memory: err is the encoder's status
 * and buf (len bytes, from malloc) its output. When err is 0, writes buf to path with
 * atomic_write_file and frees it, returning that result. When err is negative, writes
 * nothing, prefixes the encoder's message with the quoted path and returns err; buf is
 * left alone (the encoders allocate nothing on failure).
 */
int atomic_write_encoded(const char *path, int err, unsigned char *buf, size_t len);

/* True when name (a file name, no folder) is a temporary that an atomic write of file
 * leaves when killed: "FILE.tmp.XXXXXX". */
bool atomic_is_temporary(const char *name, const char *file);

#endif
