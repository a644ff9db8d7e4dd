/*
 * libFuzzer target for the PNG readers: each input goes through image_decode (RGB) and
 * label_decode (8-bit and 16-bit labels), the same code that reads files. A failure must
 * leave a message naming the input; a success must give a fully readable buffer (every
 * byte is read, so ASan sees any short allocation).
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
	return 0;
}
