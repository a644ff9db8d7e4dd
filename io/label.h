/*
 * Label images: PNG files whose samples are class indices (or, 16-bit, Cityscapes
 * instanceIds), read exactly as stored and written as gray or palette PNG.
 *
 *     struct label_image lab;
 *     if (label_read("a_labelIds.png", &lab) < 0) ...    (message from kn_errmsg())
 *     ... lab.u8[y * lab.w + x] ...
 *     label_free(&lab);
 *
 * Who frees what: the caller owns struct label_image; label_read, label_read16,
 * label_decode and label_init fill it with one value buffer (u8 when bits is 8, u16
 * when bits is 16; the other pointer is NULL) that label_free releases (a no-op on a
 * zeroed or freed label). On failure nothing is left to free. Buffers returned by
 * label_encode_png are freed by the caller with free().
 *
 * Accepted: single-channel gray PNG of 1..16 bits and palette PNG, both read as raw
 * values: a palette PNG gives its indices (never expanded through the palette, never
 * converted to luminance), a 1/2/4-bit gray PNG its unscaled values. A colour (RGB,
 * RGBA) or gray+alpha PNG, or a JPEG, is not a label image: an error naming the file.
 * label_read (8-bit values) also fails, naming the file, the value and the pixel, when a
 * 16-bit PNG holds a value above 255; label_read16 reads any accepted file exactly.
 */
#ifndef KNSEG_IO_LABEL_H
#define KNSEG_IO_LABEL_H

#include <stddef.h>
#include <stdint.h>

struct label_image {
	int w, h;
	int bits;          /* 8 or 16: which of u8 / u16 holds the w * h values */
	uint8_t *u8;       /* row-major values when bits == 8, else NULL; owned */
	uint16_t *u16;     /* row-major values when bits == 16, else NULL; owned */
};

/* A w x h label of zeros with bits 8 or 16 (sizes chosen by the program). */
void label_init(struct label_image *lab, int w, int h, int bits);

void label_free(struct label_image *lab);

/* The value at pixel i (0 <= i < w * h), whichever buffer holds it. */
static inline unsigned label_at(const struct label_image *lab, size_t i)
{
	return lab->bits == 16 ? lab->u16[i] : lab->u8[i];
}

/*
 * Decodes a label PNG held in memory into values of the given bits (8 or 16); name is
 * used in messages; more than max_pixels pixels (IMAGE_MAX_PIXELS for files) is refused.
 */
int label_decode(const unsigned char *buf, size_t len, const char *name, int bits,
		 size_t max_pixels, struct label_image *out);

/* Reads a label PNG into 8-bit values (bits 8). */
int label_read(const char *path, struct label_image *out);

/* Reads a label PNG into 16-bit values (bits 16), e.g. Cityscapes instanceIds. */
int label_read16(const char *path, struct label_image *out);

/*
 * Encodes as a gray PNG of lab->bits bits, or, when palette is not NULL, as an 8-bit
 * palette PNG with ncolors (1..256) RGB triples; then every value must be below ncolors
 * (else KN_EINVAL naming the value) and bits must be 8.
 */
int label_encode_png(const struct label_image *lab, const uint8_t *palette, int ncolors,
		     unsigned char **buf, size_t *len);

/* Write atomically (io/atomic.h): gray 8 or 16 bits, or palette. */
int label_write_png(const char *path, const struct label_image *lab);
int label_write_palette_png(const char *path, const struct label_image *lab,
			    const uint8_t *palette, int ncolors);

#endif
