/*
 * Images: PNG and JPEG files read into 8-bit interleaved RGB, and written as PNG or
 * JPEG. Labels (raw class indices) are in io/label.h.
 *
 *     struct image img;
 *     if (image_read("a.jpg", &img) < 0) ...    (message from kn_errmsg())
 *     ... img.rgb[3 * (y * img.w + x) + c] ...
 *     image_free(&img);
 *
 * Who frees what: the caller owns struct image; image_read, image_decode and
 * image_init fill it with a pixel buffer that image_free releases (image_free on a
 * zeroed or already freed image is a no-op). On failure nothing is left to free.
 * Buffers returned by the encoders are freed by the caller with free().
 *
 * The format is chosen by content (magic bytes), never by the file name's extension.
 * Read: PNG of every colour type and bit depth (gray, gray+alpha, RGB, RGBA, palette,
 * 1..16 bits, interlaced or not; alpha and tRNS dropped, 16-bit samples scaled to 8 bits
 * with rounding, round(v * 255 / 65535)), JPEG baseline and progressive, gray, YCbCr
 * and CMYK/YCCK (Adobe's inverted CMYK, as Photoshop writes it: R = C * K / 255).
 * No gamma, colour profile or EXIF orientation is applied.
 *
 * Every failure (missing, empty, unknown magic, truncated, corrupt, too large) returns a
 * negative KN_E* code with a message naming the file. Sizes are checked against
 * IMAGE_MAX_SIDE and the caller's pixel limit before any pixel memory is allocated, and
 * a JPEG that decodes with warnings (such as a truncated one) is an error.
 */
#ifndef KNSEG_IO_IMAGE_H
#define KNSEG_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Largest width or height accepted, and the default limit on w * h (3 GiB of RGB). */
#define IMAGE_MAX_SIDE 32768
#define IMAGE_MAX_PIXELS ((size_t)IMAGE_MAX_SIDE * IMAGE_MAX_SIDE)

struct image {
	int w, h;
	uint8_t *rgb;     /* h rows of w RGB triples, owned */
};

enum image_format {
	IMAGE_FORMAT_UNKNOWN,
	IMAGE_FORMAT_PNG,
	IMAGE_FORMAT_JPEG
};

/* The format of a file's content, from its first bytes. */
enum image_format image_detect(const unsigned char *buf, size_t len);

/* A w x h image of zeros (sizes chosen by the program: aborts on exhaustion). */
void image_init(struct image *img, int w, int h);

void image_free(struct image *img);

/*
 * Decodes a PNG or JPEG held in memory; name is used in messages. Images of more than
 * max_pixels pixels are refused (IMAGE_MAX_PIXELS for files; the fuzz targets pass less).
 */
int image_decode(const unsigned char *buf, size_t len, const char *name, size_t max_pixels,
		 struct image *out);

/* Reads a PNG or JPEG file. */
int image_read(const char *path, struct image *out);

/* Encodes as an 8-bit RGB PNG; *buf (freed with free()) receives *len bytes. */
int image_encode_png(const struct image *img, unsigned char **buf, size_t *len);

/*
 * Encodes as a baseline JPEG of the given quality (1..100, 4:4:4 chroma: masks and
 * overlays have sharp colour edges that 4:2:0 would smear).
 */
int image_encode_jpeg(const struct image *img, int quality, unsigned char **buf,
		      size_t *len);

/* Write atomically (io/atomic.h). */
int image_write_png(const char *path, const struct image *img);
int image_write_jpeg(const char *path, const struct image *img, int quality);

#endif
