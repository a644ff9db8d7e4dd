/*
 * Row-band PNG reading (see pngrows.h): libpng reads from the FILE as rows are asked
 * for, with the transforms of the whole-image reader (pngio_set_rgb8).
 */
#include "io/pngrows.h"
#include "io/error.h"
#include "io/image.h"

#include <setjmp.h>
#include <string.h>

static void on_file_read(png_structp png, png_bytep data, size_t n)
{
	struct png_rows *r = png_get_io_ptr(png);

	if (fread(data, 1, n, r->f) != n) {
		r->p.err = kn_error(KN_EFORMAT, "'%s': truncated PNG", r->p.name);
		png_longjmp(png, 1);
	}
}

/* The libpng calls of png_rows_open, under one setjmp (see pngio.h). */
static int open_run(struct png_rows *r)
{
	int err;

	if (setjmp(png_jmpbuf(r->p.png)))
		return r->p.err;
	if ((err = pngio_read_header(&r->p, IMAGE_MAX_PIXELS)))
		return err;
	if (png_get_interlace_type(r->p.png, r->p.info) != PNG_INTERLACE_NONE)
		return kn_error(KN_EINVAL, "'%s': an interlaced PNG cannot be read in bands",
				r->p.name);
	pngio_set_rgb8(&r->p);
	png_read_update_info(r->p.png, r->p.info);
	CHECK(png_get_rowbytes(r->p.png, r->p.info) == (size_t)r->p.w * 3);
	return 0;
}

int png_rows_open(struct png_rows *r, const char *path)
{
	unsigned char sig[8];
	int err;

	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	if (!r->f)
		return kn_error(KN_EIO, "cannot open '%s'", path);
	if (fread(sig, 1, 8, r->f) != 8 || memcmp(sig, pngio_signature, 8)) {
		fclose(r->f);
		r->f = NULL;
		return kn_error(KN_EFORMAT, "'%s' is not a PNG", path);
	}
	if ((err = pngio_read_create(&r->p, NULL, 0, path, IMAGE_MAX_SIDE)) < 0) {
		fclose(r->f);
		r->f = NULL;
		return err;
	}
	png_set_read_fn(r->p.png, r, on_file_read);
	png_set_sig_bytes(r->p.png, 8);
	err = open_run(r);
	if (err) {
		png_rows_close(r);
		return err;
	}
	r->w = r->p.w;
	r->h = r->p.h;
	return 0;
}

int png_rows_read(struct png_rows *r, uint8_t *rgb, int n)
{
	if (n < 0 || n > r->h - r->next)
		return kn_error(KN_EINVAL, "'%s': rows %d..%d asked of %d", r->p.name, r->next,
				r->next + n - 1, r->h);
	if (setjmp(png_jmpbuf(r->p.png)))
		return r->p.err;
	for (int i = 0; i < n; i++, r->next++)
		png_read_row(r->p.png, rgb + (size_t)i * r->w * 3, NULL);
	return 0;
}

void png_rows_close(struct png_rows *r)
{
	pngio_read_destroy(&r->p);
	if (r->f)
		fclose(r->f);
	r->f = NULL;
}
