/*
 * PNG and JPEG images to and from 8-bit RGB. See image.h.
 *
 * PNG goes through libpng transforms (palette and gray expanded to RGB, alpha stripped,
 * 16 bits scaled with rounding); JPEG through TurboJPEG with warnings promoted to
 * errors, so a truncated or corrupt stream never becomes a gray-padded image.
 */
#include "io/image.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"
#include "io/file.h"
#include "io/pngio.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/*
 * Accurate DCT; stop at the first warning (truncation, bad huffman code); refuse
 * progressive files with an absurd number of scans (a cheap way to burn CPU).
 */
#define JPEG_DECODE_FLAGS (TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)

enum image_format image_detect(const unsigned char *buf, size_t len)
{
	if (len >= sizeof(pngio_signature) &&
	    memcmp(buf, pngio_signature, sizeof(pngio_signature)) == 0)
		return IMAGE_FORMAT_PNG;
	if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
		return IMAGE_FORMAT_JPEG;
	return IMAGE_FORMAT_UNKNOWN;
}

void image_init(struct image *img, int w, int h)
{
	CHECK(w > 0 && h > 0);
	img->w = w;
	img->h = h;
	img->rgb = xcalloc((size_t)w * (size_t)h, 3);
}

void image_free(struct image *img)
{
	free(img->rgb);
	img->rgb = NULL;
	img->w = img->h = 0;
}

/* The libpng calls of png_decode_rgb, under one setjmp (see pngio.h). */
static int png_rgb_run(struct pngio *p, size_t max_pixels)
{
	int err;

	if (setjmp(png_jmpbuf(p->png)))
		return p->err;
	err = pngio_read_header(p, max_pixels);
	if (err)
		return err;
	pngio_set_rgb8(p);
	return pngio_read_pixels(p, 3, 1);
}

static int png_decode_rgb(const unsigned char *buf, size_t len, const char *name,
			  size_t max_pixels, struct image *out)
{
	struct pngio p;
	int err = pngio_read_create(&p, buf, len, name, IMAGE_MAX_SIDE);

	if (err)
		return err;
	err = png_rgb_run(&p, max_pixels);
	if (!err) {
		out->w = p.w;
		out->h = p.h;
		out->rgb = p.pixels;
		p.pixels = NULL;
	}
	pngio_read_destroy(&p);
	return err;
}

/* Adobe CMYK (stored inverted: 255 = no ink) to RGB. */
static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned k = cmyk[4 * i + 3];

		for (int c = 0; c < 3; c++)
			rgb[3 * i + c] = (uint8_t)((cmyk[4 * i + c] * k + 127) / 255);
	}
}

/* Decompresses into out->rgb (allocated by the caller), through CMYK when needed. */
static int jpeg_decompress(tjhandle tj, const unsigned char *buf, size_t len,
			   const char *name, int colorspace, struct image *out)
{
	size_t n = (size_t)out->w * (size_t)out->h;
	uint8_t *cmyk;
	int rc;

	if (colorspace != TJCS_CMYK && colorspace != TJCS_YCCK)
		rc = tjDecompress2(tj, buf, (unsigned long)len, out->rgb, out->w, 0, out->h,
				   TJPF_RGB, JPEG_DECODE_FLAGS);
	else {
		char what[300];

		snprintf(what, sizeof(what), "CMYK pixels of '%s'", name);
		cmyk = kn_try_alloc(n * 4, what);
		if (!cmyk)
			return KN_ENOMEM;
		rc = tjDecompress2(tj, buf, (unsigned long)len, cmyk, out->w, 0, out->h,
				   TJPF_CMYK, JPEG_DECODE_FLAGS);
		if (rc == 0)
			cmyk_to_rgb(cmyk, out->rgb, n);
		free(cmyk);
	}
	if (rc != 0)
		return kn_error(KN_EFORMAT, "'%s': bad JPEG: %s", name, tjGetErrorStr2(tj));
	return 0;
}

static int jpeg_decode_rgb(const unsigned char *buf, size_t len, const char *name,
			   size_t max_pixels, struct image *out)
{
	struct image img = {0};
	int subsamp, colorspace, err;
	char what[300];
	tjhandle tj = tjInitDecompress();

	if (!tj)
		return kn_error(KN_ENOMEM, "'%s': cannot set up the JPEG decoder", name);
	if (tjDecompressHeader3(tj, buf, (unsigned long)len, &img.w, &img.h, &subsamp,
				&colorspace) != 0) {
		err = kn_error(KN_EFORMAT, "'%s': bad JPEG: %s", name, tjGetErrorStr2(tj));
		goto out;
	}
	if (img.w <= 0 || img.h <= 0 || img.w > IMAGE_MAX_SIDE || img.h > IMAGE_MAX_SIDE ||
	    (size_t)img.w * (size_t)img.h > max_pixels) {
		err = kn_error(KN_ENOMEM,
			       "'%s': image of %d x %d pixels is larger than the %zu allowed", name,
			       img.w, img.h, max_pixels);
		goto out;
	}
	snprintf(what, sizeof(what), "pixels of '%s'", name);
	img.rgb = kn_try_alloc((size_t)img.w * (size_t)img.h * 3, what);
	if (!img.rgb) {
		err = KN_ENOMEM;
		goto out;
	}
	err = jpeg_decompress(tj, buf, len, name, colorspace, &img);
	if (err)
		image_free(&img);
	else
		*out = img;
out:
	tjDestroy(tj);
	return err;
}

int image_decode(const unsigned char *buf, size_t len, const char *name, size_t max_pixels,
		 struct image *out)
{
	if (len == 0)
		return kn_error(KN_EFORMAT, "'%s': empty file", name);
	switch (image_detect(buf, len)) {
	case IMAGE_FORMAT_PNG:
		return png_decode_rgb(buf, len, name, max_pixels, out);
	case IMAGE_FORMAT_JPEG:
		return jpeg_decode_rgb(buf, len, name, max_pixels, out);
	default:
		return kn_error(KN_EFORMAT, "'%s': not a PNG or JPEG file (unknown magic bytes)",
				name);
	}
}

int image_read(const char *path, struct image *out)
{
	unsigned char *buf;
	size_t len;
	int err = file_read_all(path, &buf, &len);

	if (err)
		return err;
	err = image_decode(buf, len, path, IMAGE_MAX_PIXELS, out);
	free(buf);
	return err;
}

int image_encode_png(const struct image *img, unsigned char **buf, size_t *len)
{
	struct pngio_spec s = {
		.w = img->w, .h = img->h, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8,
	};

	return pngio_encode(&s, img->rgb, buf, len);
}

int image_encode_jpeg(const struct image *img, int quality, unsigned char **buf,
		      size_t *len)
{
	unsigned long size;
	unsigned char *jpeg;
	tjhandle tj;

	CHECK(img->w > 0 && img->h > 0);
	if (quality < 1 || quality > 100)
		return kn_error(KN_EINVAL, "JPEG quality %d is outside 1..100", quality);
	tj = tjInitCompress();
	if (!tj)
		return kn_error(KN_ENOMEM, "cannot set up the JPEG encoder");
	/* A buffer of the worst-case size lets TurboJPEG write without reallocating. */
	size = tjBufSize(img->w, img->h, TJSAMP_444);
	jpeg = size == (unsigned long)-1 ? NULL : kn_try_malloc(size, 1, "an encoded JPEG");
	if (!jpeg) {
		tjDestroy(tj);
		return kn_error(KN_ENOMEM, "out of memory encoding a %d x %d JPEG", img->w,
				img->h);
	}
	if (tjCompress2(tj, img->rgb, img->w, 0, img->h, TJPF_RGB, &jpeg, &size, TJSAMP_444,
			quality, TJFLAG_ACCURATEDCT | TJFLAG_NOREALLOC) != 0) {
		int err = kn_error(KN_EINVAL, "cannot encode JPEG: %s", tjGetErrorStr2(tj));

		free(jpeg);
		tjDestroy(tj);
		return err;
	}
	tjDestroy(tj);
	*buf = xrealloc(jpeg, size);
	*len = size;
	return 0;
}

int image_write_png(const char *path, const struct image *img)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int err = image_encode_png(img, &buf, &len);

	return atomic_write_encoded(path, err, buf, len);
}

int image_write_jpeg(const char *path, const struct image *img, int quality)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int err = image_encode_jpeg(img, quality, &buf, &len);

	return atomic_write_encoded(path, err, buf, len);
}
