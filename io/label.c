/*
 * Label PNGs read as raw sample values and written as gray or palette PNG. See label.h.
 *
 * libpng is asked for no transform but unpacking of 1/2/4-bit samples (png_set_packing,
 * which keeps their values): no palette expansion, no gray conversion, no scaling.
 * 16-bit samples arrive big-endian, as in the file, and are assembled here.
 */
#include "io/label.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"
#include "io/file.h"
#include "io/image.h"
#include "io/pngio.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void label_init(struct label_image *lab, int w, int h, int bits)
{
	size_t n = (size_t)w * (size_t)h;

	CHECK(w > 0 && h > 0 && (bits == 8 || bits == 16));
	lab->w = w;
	lab->h = h;
	lab->bits = bits;
	lab->u8 = bits == 8 ? xcalloc(n, 1) : NULL;
	lab->u16 = bits == 16 ? xcalloc(n, sizeof(uint16_t)) : NULL;
}

void label_free(struct label_image *lab)
{
	free(lab->u8);
	free(lab->u16);
	memset(lab, 0, sizeof(*lab));
}

/* The libpng calls of label_decode, under one setjmp (see pngio.h). */
static int label_png_run(struct pngio *p, size_t max_pixels, int *depth)
{
	int type, err;

	if (setjmp(png_jmpbuf(p->png)))
		return p->err;
	err = pngio_read_header(p, max_pixels);
	if (err)
		return err;
	type = png_get_color_type(p->png, p->info);
	*depth = png_get_bit_depth(p->png, p->info);
	if (type == PNG_COLOR_TYPE_RGB || type == PNG_COLOR_TYPE_RGB_ALPHA)
		return kn_error(KN_EFORMAT,
				"'%s': colour PNG (%s) is not a label image (labels are gray or "
				"palette PNG)",
				p->name, type == PNG_COLOR_TYPE_RGB ? "RGB" : "RGBA");
	if (type == PNG_COLOR_TYPE_GRAY_ALPHA)
		return kn_error(KN_EFORMAT,
				"'%s': gray+alpha PNG is not a label image (labels are gray or "
				"palette PNG)", p->name);
	if (*depth < 8)
		png_set_packing(p->png);
	return pngio_read_pixels(p, 1, *depth == 16 ? 2 : 1);
}

/* 16-bit big-endian samples (in place) to host uint16 values. */
static uint16_t *samples_to_u16(unsigned char *b, size_t n)
{
	uint16_t *v = (uint16_t *)(void *)b;

	for (size_t i = 0; i < n; i++)
		v[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	return v;
}

/* 16-bit values to 8 bits; an error naming the file and pixel when one exceeds 255. */
static int narrow_to_u8(const struct pngio *p, const uint16_t *v, size_t n, const char *what,
			uint8_t **out)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] > 255)
			return kn_error(KN_EFORMAT,
					"'%s': label value %u at (%zu, %zu) exceeds 255 (a 16-bit "
					"PNG; read it as 16-bit labels)",
					p->name, v[i], i % (size_t)p->w, i / (size_t)p->w);
	*out = kn_try_alloc(n, what);
	if (!*out)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = (uint8_t)v[i];
	return 0;
}

/* Moves the decoded samples of p (depth bits each) into out as values of bits bits. */
static int take_values(struct pngio *p, int depth, int bits, struct label_image *out)
{
	size_t n = (size_t)p->w * (size_t)p->h;
	char what[300];
	int err;

	snprintf(what, sizeof(what), "labels of '%s'", p->name);
	memset(out, 0, sizeof(*out));
	if (depth == 16 && bits == 16) {
		out->u16 = samples_to_u16(p->pixels, n);
		p->pixels = NULL;
	} else if (depth == 16) {
		err = narrow_to_u8(p, samples_to_u16(p->pixels, n), n, what, &out->u8);
		if (err)
			return err;
	} else if (bits == 8) {
		out->u8 = p->pixels;
		p->pixels = NULL;
	} else {
		out->u16 = kn_try_alloc(n * sizeof(uint16_t), what);
		if (!out->u16)
			return KN_ENOMEM;
		for (size_t i = 0; i < n; i++)
			out->u16[i] = p->pixels[i];
	}
	out->w = p->w;
	out->h = p->h;
	out->bits = bits;
	return 0;
}

int label_decode(const unsigned char *buf, size_t len, const char *name, int bits,
		 size_t max_pixels, struct label_image *out)
{
	struct pngio p;
	int depth = 0, err;

	CHECK(bits == 8 || bits == 16);
	if (len == 0)
		return kn_error(KN_EFORMAT, "'%s': empty file", name);
	switch (image_detect(buf, len)) {
	case IMAGE_FORMAT_PNG:
		break;
	case IMAGE_FORMAT_JPEG:
		return kn_error(KN_EFORMAT, "'%s': a JPEG is not a label image (labels are PNG)",
				name);
	default:
		return kn_error(KN_EFORMAT, "'%s': not a PNG file (unknown magic bytes)", name);
	}
	err = pngio_read_create(&p, buf, len, name, IMAGE_MAX_SIDE);
	if (err)
		return err;
	err = label_png_run(&p, max_pixels, &depth);
	if (!err)
		err = take_values(&p, depth, bits, out);
	pngio_read_destroy(&p);
	return err;
}

static int label_read_bits(const char *path, int bits, struct label_image *out)
{
	unsigned char *buf;
	size_t len;
	int err = file_read_all(path, &buf, &len);

	if (err)
		return err;
	err = label_decode(buf, len, path, bits, IMAGE_MAX_PIXELS, out);
	free(buf);
	return err;
}

int label_read(const char *path, struct label_image *out)
{
	return label_read_bits(path, 8, out);
}

int label_read16(const char *path, struct label_image *out)
{
	return label_read_bits(path, 16, out);
}

static int encode_palette(const struct label_image *lab, const uint8_t *palette,
			  int ncolors, unsigned char **buf, size_t *len)
{
	struct pngio_spec s = {
		.w = lab->w, .h = lab->h, .color_type = PNG_COLOR_TYPE_PALETTE, .bit_depth = 8,
		.palette = palette, .npalette = ncolors,
	};
	size_t n = (size_t)lab->w * (size_t)lab->h;

	CHECK(lab->bits == 8 && ncolors >= 1 && ncolors <= 256);
	for (size_t i = 0; i < n; i++)
		if (lab->u8[i] >= ncolors)
			return kn_error(KN_EINVAL,
					"label value %u at (%zu, %zu) has no colour in a palette "
					"of %d",
					lab->u8[i], i % (size_t)lab->w, i / (size_t)lab->w, ncolors);
	return pngio_encode(&s, lab->u8, buf, len);
}

int label_encode_png(const struct label_image *lab, const uint8_t *palette, int ncolors,
		     unsigned char **buf, size_t *len)
{
	struct pngio_spec s = {
		.w = lab->w, .h = lab->h, .color_type = PNG_COLOR_TYPE_GRAY,
		.bit_depth = lab->bits,
	};
	size_t n = (size_t)lab->w * (size_t)lab->h;
	uint8_t *be;
	int err;

	CHECK(lab->bits == 8 || lab->bits == 16);
	if (palette)
		return encode_palette(lab, palette, ncolors, buf, len);
	if (lab->bits == 8)
		return pngio_encode(&s, lab->u8, buf, len);
	be = kn_try_malloc(n, 2, "16-bit label samples");
	if (!be)
		return KN_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		be[2 * i] = (uint8_t)(lab->u16[i] >> 8);
		be[2 * i + 1] = (uint8_t)lab->u16[i];
	}
	err = pngio_encode(&s, be, buf, len);
	free(be);
	return err;
}

int label_write_png(const char *path, const struct label_image *lab)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int err = label_encode_png(lab, NULL, 0, &buf, &len);

	return atomic_write_encoded(path, err, buf, len);
}

int label_write_palette_png(const char *path, const struct label_image *lab,
			    const uint8_t *palette, int ncolors)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int err = label_encode_png(lab, palette, ncolors, &buf, &len);

	return atomic_write_encoded(path, err, buf, len);
}
