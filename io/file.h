/*
 * Whole-file reading, and joining a folder and a name into a path. Readers in io/ parse
 * from memory (the same code the fuzz targets drive), so files are loaded with
 * file_read_all first.
 */
#ifndef KNSEG_IO_FILE_H
#define KNSEG_IO_FILE_H

#include <stddef.h>

/*
 * Reads the whole file at path into a new buffer (*data, freed by the caller with
 * free()) of *len bytes; one extra zero byte follows the data. Negative with a message
 * naming the file when it cannot be opened or read, or is larger than KN_MAX_FILE_ALLOC.
 */
int file_read_all(const char *path, unsigned char **data, size_t *len);

/*
 * Where the text of a file (len bytes at text) starts: *start is 3 past a UTF-8
 * byte-order mark (editors on Windows write one), else 0. A UTF-16 byte-order mark is
 * KN_EFORMAT naming the file (name) and saying to save it as UTF-8, and so are lines
 * ended by CR alone (old Mac text, which would read as one line).
 */
int file_text_start(const char *text, size_t len, const char *name, size_t *start);

/*
 * dir/name as a new string (freed with free(); aborts on exhaustion, like xmalloc), with
 * no second slash when dir ends in one ("/" and "x" give "/x"). name alone when it is
 * absolute or dir is empty: a list file's absolute paths stand as they are.
 */
char *file_path_join(const char *dir, const char *name);

#endif
