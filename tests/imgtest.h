/*
 * Helpers for the image and label tests (test_image.c, test_label.c): PNG variants
 * built from raw sample values, JPEGs made with TurboJPEG, and hand-made damaged headers.
 * Buffers are freed by the caller: free() for PNG, tjFree() for JPEG.
 */
#ifndef KNSEG_TESTS_IMGTEST_H
#define KNSEG_TESTS_IMGTEST_H

#include "io/pngio.h"
#include "io/rng.h"

#include <stddef.h>
#include <stdint.h>

/* The shared real-data folder; skips the calling test, saying why, when it is absent. */
const char *imgtest_shared_data(void);

/* Samples per pixel of a PNG colour type (palette: 1, the index). */
int imgtest_channels(int color_type);

/* n samples uniform in [0, limit). */
uint16_t *imgtest_random_samples(size_t n, unsigned limit, struct rng *r);

/*
 * A PNG of spec s from samples v (w * h * channels values, one per sample, each within
 * the bit depth), packed here as PNG stores them; fails the test on an encoder error.
 */
unsigned char *imgtest_make_png(const struct pngio_spec *s, const uint16_t *v, size_t *len);

/* A JPEG from pixels px of TurboJPEG pixel format pf (tjCompress2 arguments). */
unsigned char *imgtest_make_jpeg(const uint8_t *px, int w, int h, int pf, int subsamp,
				 int flags, int quality, size_t *len);

/*
 * A PNG that is only a signature, an IHDR with a valid CRC for the given size, bit depth
 * and colour type, an empty IDAT and IEND: the reader must refuse a huge size from it.
 */
unsigned char *imgtest_png_header(uint32_t w, uint32_t h, int depth, int color_type,
				  size_t *len);

/* Rewrites the size in the SOF marker of a JPEG in place. */
void imgtest_jpeg_set_size(unsigned char *jpeg, size_t len, int w, int h);

#endif
