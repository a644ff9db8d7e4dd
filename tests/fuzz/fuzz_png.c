/*
 * libFuzzer target for the PNG readers: each input goes through image_decode (RGB) and
 * label_decode (8-bit and 16-bit labels), the same code that reads files. A failure must
 * leave a message naming the input; a success must give a fully readable buffer (every
 * byte is read, so ASan sees any short allocation).
 *
 * libpng is a system library without coverage instrumentation, and nearly every
 * mutation breaks a chunk CRC, so the input is decoded twice: as given, and with every
 * chunk's CRC recomputed, which lets mutations reach the header checks, zlib and the
 * transforms behind the CRC check.
 */
#include "io/error.h"
#include "io/image.h"
#include "io/label.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 1M pixels: the fuzzer's memory limit stays about the decoder, not about image size. */
#define FUZZ_MAX_PIXELS ((size_t)1 << 20)
#define NAME "fuzz.png"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++)
		c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

/* Rewrites the CRC of every complete chunk after the 8-byte signature. */
static void fix_crcs(uint8_t *p, size_t size)
{
	size_t pos = 8;

	while (pos + 12 <= size) {
		size_t len = (size_t)p[pos] << 24 | (size_t)p[pos + 1] << 16 |
			     (size_t)p[pos + 2] << 8 | p[pos + 3];
		uint32_t crc;

		if (len > size - pos - 12)
			break;
		crc = crc32_of(p + pos + 4, len + 4);
		p[pos + 8 + len] = (uint8_t)(crc >> 24);
		p[pos + 9 + len] = (uint8_t)(crc >> 16);
		p[pos + 10 + len] = (uint8_t)(crc >> 8);
		p[pos + 11 + len] = (uint8_t)crc;
		pos += 12 + len;
	}
}

static void check_failure(int err)
{
	if (err >= 0 || !strstr(kn_errmsg(), NAME))
		abort();
}

static void touch(const uint8_t *p, size_t n)
{
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += p[i];
	sink = s;
}

static void decode_all(const uint8_t *data, size_t size)
{
	struct image img;
	struct label_image lab;
	int err;

	err = image_decode(data, size, NAME, FUZZ_MAX_PIXELS, &img);
	if (err == 0) {
		if (img.w <= 0 || img.h <= 0 || (size_t)img.w * (size_t)img.h > FUZZ_MAX_PIXELS)
			abort();
		touch(img.rgb, (size_t)img.w * (size_t)img.h * 3);
		image_free(&img);
	} else {
		check_failure(err);
	}
	for (int bits = 8; bits <= 16; bits += 8) {
		err = label_decode(data, size, NAME, bits, FUZZ_MAX_PIXELS, &lab);
		if (err == 0) {
			if (lab.bits != bits || lab.w <= 0 || lab.h <= 0)
				abort();
			touch(bits == 8 ? lab.u8 : (const uint8_t *)lab.u16,
			      (size_t)lab.w * (size_t)lab.h * (size_t)(bits / 8));
			label_free(&lab);
		} else {
			check_failure(err);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	decode_all(data, size);
	if (!crc_table[1])
		crc_init();
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	fix_crcs(copy, size);
	decode_all(copy, size);
	free(copy);
	return 0;
}
