/* Helpers for the image and label tests. See imgtest.h. */
#include "tests/imgtest.h"
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

const char *imgtest_shared_data(void)
{
	const char *dir = shared_data_dir();

	if (!dir) {
		fprintf(stderr, "skipping: no shared data (../shared/data or $KNSEG_SHARED_DATA)\n");
		skip();
	}
	return dir;
}

int imgtest_channels(int color_type)
{
	switch (color_type) {
	case PNG_COLOR_TYPE_GRAY_ALPHA:
		return 2;
	case PNG_COLOR_TYPE_RGB:
		return 3;
	case PNG_COLOR_TYPE_RGB_ALPHA:
		return 4;
	default:
		return 1;
	}
}

uint16_t *imgtest_random_samples(size_t n, unsigned limit, struct rng *r)
{
	uint16_t *v = xmalloc(n * sizeof(uint16_t));

	for (size_t i = 0; i < n; i++)
		v[i] = (uint16_t)rng_below(r, limit);
	return v;
}

/* Packs samples into PNG rows: sub-byte samples from the most significant bit, 16-bit
 * samples big-endian. */
static uint8_t *pack_rows(const uint16_t *v, int w, int h, int channels, int depth)
{
	size_t rowbytes = pngio_rowbytes(w, channels, depth);
	size_t per_row = (size_t)w * (size_t)channels;
	uint8_t *rows = xcalloc((size_t)h, rowbytes);

	for (int y = 0; y < h; y++) {
		uint8_t *row = rows + (size_t)y * rowbytes;
		const uint16_t *s = v + (size_t)y * per_row;

		for (size_t i = 0; i < per_row; i++) {
			if (depth == 16) {
				row[2 * i] = (uint8_t)(s[i] >> 8);
				row[2 * i + 1] = (uint8_t)s[i];
			} else {
				size_t bit = i * (size_t)depth;

				row[bit / 8] |= (uint8_t)(s[i] << (8 - depth - (int)(bit % 8)));
			}
		}
	}
	return rows;
}

unsigned char *imgtest_make_png(const struct pngio_spec *s, const uint16_t *v, size_t *len)
{
	uint8_t *rows = pack_rows(v, s->w, s->h, imgtest_channels(s->color_type),
				  s->bit_depth);
	unsigned char *buf = NULL;

	if (pngio_encode(s, rows, &buf, len) != 0)
		fail_msg("pngio_encode: %s", kn_errmsg());
	free(rows);
	return buf;
}

unsigned char *imgtest_make_jpeg(const uint8_t *px, int w, int h, int pf, int subsamp,
				 int flags, int quality, size_t *len)
{
	tjhandle tj = tjInitCompress();
	unsigned char *buf = NULL;
	unsigned long size = 0;

	assert_non_null(tj);
	if (tjCompress2(tj, px, w, 0, h, pf, &buf, &size, subsamp, quality, flags) != 0)
		fail_msg("tjCompress2: %s", tjGetErrorStr2(tj));
	tjDestroy(tj);
	*len = size;
	return buf;
}

/* CRC-32 of PNG chunks (ISO 3309, reflected polynomial 0xedb88320). */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Appends a chunk (length, type, data, CRC over type and data) at p; returns its size. */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n)
{
	put32(p, n);
	memcpy(p + 4, type, 4);
	if (n)
		memcpy(p + 8, data, n);
	put32(p + 8 + n, crc32_of(p + 4, 4 + (size_t)n));
	return 12 + (size_t)n;
}

unsigned char *imgtest_png_header(uint32_t w, uint32_t h, int depth, int color_type,
				  size_t *len)
{
	uint8_t ihdr[13] = {0};
	unsigned char *buf = xmalloc(8 + 25 + 12 + 12);
	size_t n = 8;

	memcpy(buf, pngio_signature, 8);
	put32(ihdr, w);
	put32(ihdr + 4, h);
	ihdr[8] = (uint8_t)depth;
	ihdr[9] = (uint8_t)color_type;
	n += put_chunk(buf + n, "IHDR", ihdr, 13);
	n += put_chunk(buf + n, "IDAT", NULL, 0);
	n += put_chunk(buf + n, "IEND", NULL, 0);
	*len = n;
	return buf;
}

void imgtest_jpeg_set_size(unsigned char *jpeg, size_t len, int w, int h)
{
	/* SOF0..SOF2: FF Cx, length (2), precision (1), height (2), width (2). */
	for (size_t i = 2; i + 9 < len; i++) {
		if (jpeg[i] == 0xff && jpeg[i + 1] >= 0xc0 && jpeg[i + 1] <= 0xc2) {
			jpeg[i + 5] = (unsigned char)(h >> 8);
			jpeg[i + 6] = (unsigned char)h;
			jpeg[i + 7] = (unsigned char)(w >> 8);
			jpeg[i + 8] = (unsigned char)w;
			return;
		}
	}
	fail_msg("no SOF marker in the JPEG");
}
