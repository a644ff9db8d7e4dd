/*
 * libpng plumbing shared by the image and label readers and writers (io/image.c,
 * io/label.c): PNG from and to memory, errors turned into kn_error() messages, limits
 * checked before any pixel memory is allocated. Also the general PNG encoder
 * (pngio_encode) that writes any colour type and bit depth; the tests use it to make
 * every variant the readers must accept.
 *
 * libpng reports errors by longjmp. A decoder keeps everything it allocates in the
 * struct pngio (which lives in its caller's frame, so it survives the jump), runs the
 * libpng calls in a function that starts with
 *
 *     if (setjmp(png_jmpbuf(p->png)))
 *             return p->err;              (the message is already recorded)
 *
 * and calls pngio_read_destroy() afterwards on every path, which frees it all.
 * Warnings (a bad CRC in an ancillary chunk, which libpng discards) are dropped, never
 * printed.
 */
#ifndef KNSEG_IO_PNGIO_H
#define KNSEG_IO_PNGIO_H

#include <png.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const unsigned char pngio_signature[8];

struct pngio {
	png_structp png;
	png_infop info;
	const char *name;           /* file name for messages (not owned) */
	int err;                    /* status recorded before a longjmp */
	const unsigned char *src;   /* reading: the whole file */
	size_t src_len, src_pos;
	unsigned char *dst;         /* writing: the encoded file so far (owned) */
	size_t dst_len, dst_cap;
	png_bytep *rows;            /* row pointers into pixels (owned) */
	unsigned char *pixels;      /* decoded samples, h rows of rowbytes (owned) */
	int w, h;
	size_t rowbytes;
	int max_side;               /* reading: the longest side accepted */
};

/*
 * Sets up reading of buf[0..len) (not copied; must outlive p), accepting sides up to
 * max_side (the readers pass IMAGE_MAX_SIDE). Negative on failure.
 */
int pngio_read_create(struct pngio *p, const unsigned char *buf, size_t len,
		      const char *name, int max_side);

/* Frees libpng state, rows and pixels (unless taken: set p->pixels = NULL first). */
void pngio_read_destroy(struct pngio *p);

/*
 * Reads the header; fails (before allocating) when w * h exceeds max_pixels or a side
 * exceeds the max_side given to pngio_read_create. Call under the caller's setjmp.
 */
int pngio_read_header(struct pngio *p, size_t max_pixels);

/* The transforms to 8-bit RGB (any colour type and depth; alpha dropped). */
void pngio_set_rgb8(struct pngio *p);

/*
 * After the caller's transforms: reads the whole image (interlaced or not) and the
 * chunks up to IEND into p->pixels, h rows of w * channels samples of bytes_per_sample
 * bytes (16-bit samples big-endian, as in the file). Call under the caller's setjmp.
 */
int pngio_read_pixels(struct pngio *p, int channels, int bytes_per_sample);

/* What pngio_encode writes. */
struct pngio_spec {
	int w, h;
	int color_type;            /* PNG_COLOR_TYPE_* */
	int bit_depth;             /* 1, 2, 4, 8 or 16, as the colour type allows */
	bool interlace;            /* Adam7 */
	const uint8_t *palette;    /* npalette RGB triples, for PNG_COLOR_TYPE_PALETTE */
	int npalette;
	const uint8_t *trns;       /* ntrns alpha values of palette entries, or NULL */
	int ntrns;
};

/*
 * Encodes an image given as h rows of png_get_rowbytes bytes, packed as PNG stores them
 * (samples below 8 bits packed from the most significant bit, 16-bit samples
 * big-endian). *buf (freed by the caller with free()) receives *len bytes. Negative
 * with a message when libpng refuses the spec.
 */
int pngio_encode(const struct pngio_spec *s, const uint8_t *rows, unsigned char **buf,
		 size_t *len);

/* Bytes in one packed row of w pixels of the given channels and bit depth. */
size_t pngio_rowbytes(int w, int channels, int bit_depth);

#endif
