/*
 * libFuzzer target for the JPEG reader: each input goes through image_decode, the same
 * code that reads files, and through label_decode, which must refuse it. A failure must
 * leave a message naming the input; a success must give a fully readable RGB buffer.
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
#define NAME "fuzz.jpg"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image img;
	struct label_image lab;
	int err = image_decode(data, size, NAME, FUZZ_MAX_PIXELS, &img);

	if (err == 0) {
		unsigned s = 0;
		size_t n = (size_t)img.w * (size_t)img.h * 3;

		if (img.w <= 0 || img.h <= 0 || n > 3 * FUZZ_MAX_PIXELS)
			abort();
		for (size_t i = 0; i < n; i++)
			s += img.rgb[i];
		sink = s;
		image_free(&img);
	} else if (!strstr(kn_errmsg(), NAME)) {
		abort();
	}
	/* A JPEG is never a label; anything else the PNG target covers. */
	if (image_detect(data, size) == IMAGE_FORMAT_JPEG &&
	    label_decode(data, size, NAME, 8, FUZZ_MAX_PIXELS, &lab) == 0)
		abort();
	return 0;
}
