/*
 * Reading a PNG file in bands of rows, as 8-bit RGB, holding only libpng's state and
 * the rows asked for: images larger than the memory for their pixels.
 *
 *     struct png_rows r;
 *     if (png_rows_open(&r, path) < 0) ...        (r.w, r.h are set)
 *     while (...) png_rows_read(&r, rgb, n);      (the next n rows, n * r.w * 3 bytes)
 *     png_rows_close(&r);                         (on every path after a successful open)
 *
 * Interlaced (Adam7) files are refused: their rows are only known after the last pass.
 * Errors return a negative code with a kn_error() message naming the file.
 */
#ifndef KNSEG_IO_PNGROWS_H
#define KNSEG_IO_PNGROWS_H

#include "io/pngio.h"

#include <stdint.h>
#include <stdio.h>

struct png_rows {
	struct pngio p; /* libpng state; p.name is the path (not owned) */
	FILE *f;
	int w, h;
	int next; /* the next row to be read */
};

int png_rows_open(struct png_rows *r, const char *path);

/* The next n rows into rgb (n * w * 3 bytes); reading past the last row is an error. */
int png_rows_read(struct png_rows *r, uint8_t *rgb, int n);

void png_rows_close(struct png_rows *r);

#endif
