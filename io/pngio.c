/*
 * libpng from and to memory, with errors as kn_error() messages. See pngio.h.
 *
 * Reading keeps only what the decoders need: every ancillary chunk but tRNS is skipped
 * unparsed (its CRC still checked), which also keeps zTXt/iCCP decompression and large
 * text chunks away from the fuzzers. No gamma or colour management is applied: samples
 * come out as stored.
 */
#include "io/pngio.h"
#include "io/alloc.h"
#include "io/error.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest ancillary chunk libpng may allocate; tRNS, the only one kept, is <= 256 B. */
#define PNGIO_CHUNK_MALLOC_MAX (1u << 20)

const unsigned char pngio_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void on_error(png_structp png, png_const_charp msg)
{
	struct pngio *p = png_get_error_ptr(png);

	if (p->name)
		p->err = kn_error(KN_EFORMAT, "'%s': bad PNG: %s", p->name, msg);
	else
		p->err = kn_error(KN_EINVAL, "cannot encode PNG: %s", msg);
	png_longjmp(png, 1);
}

/* Warnings describe data libpng has already discarded or repaired; stderr stays quiet. */
static void on_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

static void on_read(png_structp png, png_bytep data, size_t n)
{
	struct pngio *p = png_get_io_ptr(png);

	if (n > p->src_len - p->src_pos) {
		p->err = kn_error(KN_EFORMAT, "'%s': truncated PNG (ends after %zu bytes)",
				  p->name, p->src_len);
		png_longjmp(png, 1);
	}
	memcpy(data, p->src + p->src_pos, n);
	p->src_pos += n;
}

int pngio_read_create(struct pngio *p, const unsigned char *buf, size_t len,
		      const char *name, int max_side)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->max_side = max_side;
	p->src = buf;
	p->src_len = len;
	p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, p, on_error, on_warning);
	if (!p->png)
		return kn_error(KN_ENOMEM, "'%s': cannot set up the PNG decoder", name);
	p->info = png_create_info_struct(p->png);
	if (!p->info) {
		png_destroy_read_struct(&p->png, NULL, NULL);
		return kn_error(KN_ENOMEM, "'%s': cannot set up the PNG decoder", name);
	}
	png_set_read_fn(p->png, p, on_read);
	png_set_user_limits(p->png, (png_uint_32)max_side, (png_uint_32)max_side);
	png_set_chunk_malloc_max(p->png, PNGIO_CHUNK_MALLOC_MAX);
	/* A negative count means: every ancillary chunk except tRNS. */
	png_set_keep_unknown_chunks(p->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	return 0;
}

void pngio_read_destroy(struct pngio *p)
{
	if (p->png)
		png_destroy_read_struct(&p->png, &p->info, NULL);
	free(p->rows);
	free(p->pixels);
	p->rows = NULL;
	p->pixels = NULL;
}

int pngio_read_header(struct pngio *p, size_t max_pixels)
{
	png_uint_32 w, h;

	png_read_info(p->png, p->info);
	w = png_get_image_width(p->png, p->info);
	h = png_get_image_height(p->png, p->info);
	/* libpng already enforces the side limit; the pixel count is ours. */
	if (w > (png_uint_32)p->max_side || h > (png_uint_32)p->max_side || (size_t)w * h > max_pixels)
		return kn_error(KN_ENOMEM,
				"'%s': image of %lu x %lu pixels is larger than the %zu allowed",
				p->name, (unsigned long)w, (unsigned long)h, max_pixels);
	p->w = (int)w;
	p->h = (int)h;
	return 0;
}

void pngio_set_rgb8(struct pngio *p)
{
	int type = png_get_color_type(p->png, p->info), depth = png_get_bit_depth(p->png, p->info);

	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(p->png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(p->png);
	if (depth == 16)
		png_set_scale_16(p->png);
	if (!(type & PNG_COLOR_MASK_COLOR))
		png_set_gray_to_rgb(p->png);
	png_set_strip_alpha(p->png);
}

int pngio_read_pixels(struct pngio *p, int channels, int bytes_per_sample)
{
	char what[300];
	size_t size;

	png_set_interlace_handling(p->png);
	png_read_update_info(p->png, p->info);
	p->rowbytes = (size_t)p->w * (size_t)channels * (size_t)bytes_per_sample;
	/* The caller's transforms decide the layout; a mismatch is a bug here, not bad data. */
	CHECK(png_get_channels(p->png, p->info) == channels);
	CHECK(png_get_rowbytes(p->png, p->info) == p->rowbytes);
	snprintf(what, sizeof(what), "pixels of '%s'", p->name);
	if (!kn_size_mul(&size, p->rowbytes, (size_t)p->h))
		return kn_error(KN_ENOMEM, "'%s': image size overflows", p->name);
	p->pixels = kn_try_alloc(size, what);
	p->rows = p->pixels ? kn_try_alloc((size_t)p->h * sizeof(*p->rows), what) : NULL;
	if (!p->rows)
		return KN_ENOMEM;
	for (int y = 0; y < p->h; y++)
		p->rows[y] = p->pixels + (size_t)y * p->rowbytes;
	png_read_image(p->png, p->rows);
	/* Reading on to IEND makes a file cut after its last IDAT an error too. */
	png_read_end(p->png, NULL);
	return 0;
}

static void on_write(png_structp png, png_bytep data, size_t n)
{
	struct pngio *p = png_get_io_ptr(png);

	if (n > p->dst_cap - p->dst_len) {
		size_t cap = p->dst_cap ? p->dst_cap : 4096;
		unsigned char *dst;

		while (n > cap - p->dst_len)
			cap *= 2;
		dst = realloc(p->dst, cap);
		if (!dst) {
			p->err = kn_error(KN_ENOMEM, "out of memory allocating %zu bytes for an "
					  "encoded PNG", cap);
			png_longjmp(png, 1);
		}
		p->dst = dst;
		p->dst_cap = cap;
	}
	memcpy(p->dst + p->dst_len, data, n);
	p->dst_len += n;
}

static void on_flush(png_structp png)
{
	(void)png;
}

size_t pngio_rowbytes(int w, int channels, int bit_depth)
{
	return ((size_t)w * (size_t)channels * (size_t)bit_depth + 7) / 8;
}

/* The libpng calls of pngio_encode, under one setjmp. */
static int encode_run(struct pngio *p, const struct pngio_spec *s, const uint8_t *rows)
{
	png_color colors[256];
	size_t rowbytes;
	int passes;

	if (setjmp(png_jmpbuf(p->png)))
		return p->err;
	png_set_write_fn(p->png, p, on_write, on_flush);
	png_set_IHDR(p->png, p->info, (png_uint_32)s->w, (png_uint_32)s->h, s->bit_depth,
		     s->color_type, s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
		CHECK(s->palette && s->npalette >= 1 && s->npalette <= 256);
		for (int i = 0; i < s->npalette; i++) {
			colors[i].red = s->palette[3 * i];
			colors[i].green = s->palette[3 * i + 1];
			colors[i].blue = s->palette[3 * i + 2];
		}
		png_set_PLTE(p->png, p->info, colors, s->npalette);
	}
	if (s->trns)
		png_set_tRNS(p->png, p->info, s->trns, s->ntrns, NULL);
	png_write_info(p->png, p->info);
	rowbytes = png_get_rowbytes(p->png, p->info);
	passes = png_set_interlace_handling(p->png);
	for (int pass = 0; pass < passes; pass++)
		for (int y = 0; y < s->h; y++)
			png_write_row(p->png, rows + (size_t)y * rowbytes);
	png_write_end(p->png, p->info);
	return 0;
}

int pngio_encode(const struct pngio_spec *s, const uint8_t *rows, unsigned char **buf,
		 size_t *len)
{
	struct pngio p;
	int err;

	CHECK(s->w > 0 && s->h > 0);
	memset(&p, 0, sizeof(p));
	p.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &p, on_error, on_warning);
	if (!p.png)
		return kn_error(KN_ENOMEM, "cannot set up the PNG encoder");
	p.info = png_create_info_struct(p.png);
	if (!p.info) {
		png_destroy_write_struct(&p.png, NULL);
		return kn_error(KN_ENOMEM, "cannot set up the PNG encoder");
	}
	err = encode_run(&p, s, rows);
	png_destroy_write_struct(&p.png, &p.info);
	if (err) {
		free(p.dst);
		return err;
	}
	*buf = p.dst;
	*len = p.dst_len;
	return 0;
}
