/*
 * Tests of io/image.c: PNG of every colour type, bit depth and interlacing, and JPEG
 * (baseline and progressive, gray, colour, CMYK) read into RGB; the writers round-tripped;
 * format chosen by content; bad files (missing, empty, wrong magic, truncated at every
 * byte, huge headers, bit flips, a FIFO) rejected with the file named.
 *
 * PNG variants are made with pngio_encode from raw samples and the expected RGB is
 * computed here from those samples. JPEG inputs are made with TurboJPEG directly.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "io/image.h"
#include "io/pngio.h"
#include "io/rng.h"
#include "tests/imgtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

/* The 8-bit value of a depth-bit sample: exact for 1..8 bits, rounded from 16 bits. */
static unsigned to8(unsigned v, int depth)
{
	if (depth == 16)
		return (v * 255u + 32767u) / 65535u;
	return v * 255u / ((1u << depth) - 1);
}

/* The RGB a reader must give for pixel i of a variant made from samples v. */
static void expect_rgb(const struct pngio_spec *s, const uint16_t *v, size_t i,
		       unsigned rgb[3])
{
	int ch = imgtest_channels(s->color_type);
	const uint16_t *px = v + i * (size_t)ch;

	for (int c = 0; c < 3; c++) {
		if (s->color_type == PNG_COLOR_TYPE_PALETTE)
			rgb[c] = s->palette[3 * px[0] + c];
		else if (ch <= 2)
			rgb[c] = to8(px[0], s->bit_depth);
		else
			rgb[c] = to8(px[c], s->bit_depth);
	}
}

static void check_png_variant(int type, int depth, bool interlace, bool trns)
{
	uint8_t palette[3 * 256], alpha[256];
	struct pngio_spec s = {
		.w = 13, .h = 9, .color_type = type, .bit_depth = depth, .interlace = interlace,
	};
	int ch = imgtest_channels(type);
	size_t n = (size_t)s.w * (size_t)s.h, len;
	unsigned limit = depth == 16 ? 65536u : 1u << depth;
	uint16_t *v;
	unsigned char *png;
	struct image img;
	struct rng r;

	rng_init_stream(&r, 11, (uint64_t)type, (uint64_t)depth);
	if (type == PNG_COLOR_TYPE_PALETTE) {
		for (int i = 0; i < 3 * 256; i++)
			palette[i] = (uint8_t)rng_below(&r, 256);
		for (int i = 0; i < 256; i++)
			alpha[i] = (uint8_t)(i * 37);
		s.palette = palette;
		s.npalette = (int)limit;
		s.trns = trns ? alpha : NULL;
		s.ntrns = trns ? (int)limit / 2 + 1 : 0;
	}
	v = imgtest_random_samples(n * (size_t)ch, limit, &r);
	png = imgtest_make_png(&s, v, &len);
	assert_int_equal(image_decode(png, len, "variant.png", IMAGE_MAX_PIXELS, &img), 0);
	assert_int_equal(img.w, s.w);
	assert_int_equal(img.h, s.h);
	for (size_t i = 0; i < n; i++) {
		unsigned want[3];

		expect_rgb(&s, v, i, want);
		for (int c = 0; c < 3; c++)
			if (img.rgb[3 * i + c] != want[c])
				fail_msg("type %d depth %d interlace %d trns %d: pixel %zu "
					 "channel %d is %u, want %u", type, depth, interlace, trns,
					 i, c, img.rgb[3 * i + c], want[c]);
	}
	image_free(&img);
	assert_null(img.rgb);
	free(png);
	free(v);
}

static void test_png_every_colour_type_and_depth(void **state)
{
	static const struct {
		int type, depth;
	} variants[] = {
		{PNG_COLOR_TYPE_GRAY, 1}, {PNG_COLOR_TYPE_GRAY, 2}, {PNG_COLOR_TYPE_GRAY, 4},
		{PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY, 16},
		{PNG_COLOR_TYPE_GRAY_ALPHA, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16},
		{PNG_COLOR_TYPE_RGB, 8}, {PNG_COLOR_TYPE_RGB, 16},
		{PNG_COLOR_TYPE_RGB_ALPHA, 8}, {PNG_COLOR_TYPE_RGB_ALPHA, 16},
		{PNG_COLOR_TYPE_PALETTE, 1}, {PNG_COLOR_TYPE_PALETTE, 2},
		{PNG_COLOR_TYPE_PALETTE, 4}, {PNG_COLOR_TYPE_PALETTE, 8},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(variants) / sizeof(variants[0]); k++)
		for (int interlace = 0; interlace < 2; interlace++)
			for (int trns = 0; trns < 2; trns++)
				if (!trns || variants[k].type == PNG_COLOR_TYPE_PALETTE)
					check_png_variant(variants[k].type, variants[k].depth,
							  interlace, trns);
}

/* Every 16-bit value scales to round(v * 255 / 65535). */
static void test_png_16bit_scaling_rounds_every_value(void **state)
{
	struct pngio_spec s = {
		.w = 256, .h = 256, .color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 16,
	};
	uint16_t *v = xmalloc(65536 * sizeof(uint16_t));
	unsigned char *png;
	struct image img;
	size_t len;

	(void)state;
	for (unsigned i = 0; i < 65536; i++)
		v[i] = (uint16_t)i;
	png = imgtest_make_png(&s, v, &len);
	assert_int_equal(image_decode(png, len, "all16.png", IMAGE_MAX_PIXELS, &img), 0);
	for (unsigned i = 0; i < 65536; i++) {
		unsigned want = (unsigned)lround(i * 255.0 / 65535.0);

		if (img.rgb[3 * i] != want || img.rgb[3 * i + 2] != want)
			fail_msg("16-bit %u reads as %u, want %u", i, img.rgb[3 * i], want);
	}
	image_free(&img);
	free(png);
	free(v);
}

static void test_png_write_read_exact_and_detected_by_content(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct image img, back;
	struct rng r;

	(void)state;
	rng_init(&r, 3);
	image_init(&img, 37, 23);
	for (size_t i = 0; i < 37 * 23 * 3; i++)
		img.rgb[i] = (uint8_t)rng_below(&r, 256);
	/* A PNG named .jpg: the content decides. */
	snprintf(path, sizeof(path), "%s/really_a_png.jpg", dir);
	assert_int_equal(image_write_png(path, &img), 0);
	assert_int_equal(image_read(path, &back), 0);
	assert_int_equal(back.w, 37);
	assert_int_equal(back.h, 23);
	assert_memory_equal(back.rgb, img.rgb, 37 * 23 * 3);
	image_free(&back);
	/* And a JPEG named .png. */
	snprintf(path, sizeof(path), "%s/really_a_jpeg.png", dir);
	assert_int_equal(image_write_jpeg(path, &img, 90), 0);
	assert_int_equal(image_read(path, &back), 0);
	assert_int_equal(back.w, 37);
	image_free(&back);
	image_free(&img);
	tmpdir_remove(dir);
}

/* A smooth test picture (JPEG errors on it are small and predictable). */
static void smooth_picture(uint8_t *px, int w, int h, int channels)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int c = 0; c < channels; c++)
				px[((size_t)y * w + x) * channels + c] = (uint8_t)lround(
					127.5 + 100 * sin(x / 9.0 + c) * cos(y / 7.0 - c));
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += abs((int)a[i] - (int)b[i]);
	return sum / (double)n;
}

/* Fails when the mean or max absolute difference of n bytes is over its tolerance. */
static void assert_close_bytes(const char *what, const uint8_t *got, const uint8_t *want,
			       size_t n, double mean_tol, int max_tol)
{
	double mean = mean_abs_diff(got, want, n);
	int worst = 0;

	for (size_t i = 0; i < n; i++) {
		int d = abs((int)got[i] - (int)want[i]);

		worst = d > worst ? d : worst;
	}
	if (mean > mean_tol || worst > max_tol)
		fail_msg("%s: mean abs error %.3f (tolerance %.3f), max %d (tolerance %d)", what,
			 mean, mean_tol, worst, max_tol);
}

/*
 * Our own writer (baseline, 4:4:4): at quality 95 within mean 1.0 and max 8 of the
 * source; at quality 5 much smaller and visibly worse.
 */
static void test_jpeg_write_read_roundtrip(void **state)
{
	struct image img, back;
	unsigned char *buf, *small;
	size_t len, small_len;

	(void)state;
	image_init(&img, 64, 48);
	smooth_picture(img.rgb, 64, 48, 3);
	assert_int_equal(image_encode_jpeg(&img, 95, &buf, &len), 0);
	assert_int_equal(image_detect(buf, len), IMAGE_FORMAT_JPEG);
	assert_int_equal(image_decode(buf, len, "q95.jpg", IMAGE_MAX_PIXELS, &back), 0);
	assert_int_equal(back.w, 64);
	assert_int_equal(back.h, 48);
	assert_close_bytes("jpeg q95", back.rgb, img.rgb, 64 * 48 * 3, 1.0, 8);
	image_free(&back);
	assert_int_equal(image_encode_jpeg(&img, 5, &small, &small_len), 0);
	assert_true(small_len * 2 < len);
	assert_int_equal(image_decode(small, small_len, "q5.jpg", IMAGE_MAX_PIXELS, &back), 0);
	assert_int_equal(back.w, 64);
	assert_true(mean_abs_diff(back.rgb, img.rgb, 64 * 48 * 3) > 4.0);
	image_free(&back);
	free(small);
	free(buf);
	assert_int_equal(image_encode_jpeg(&img, 0, &buf, &len), KN_EINVAL);
	assert_int_equal(image_encode_jpeg(&img, 101, &buf, &len), KN_EINVAL);
	image_free(&img);
}

/*
 * JPEGs made by TurboJPEG at quality 92: colour (4:2:0) within mean 2.0 and max 20 of the
 * source (subsampled chroma on a colourful picture), gray within mean 1.0 and max 4.
 * A progressive file holds the same coefficients as the baseline one, so both decode to
 * the same bytes.
 */
static void test_jpeg_baseline_progressive_gray_colour(void **state)
{
	uint8_t rgb[64 * 48 * 3], gray[64 * 48], want[64 * 48 * 3];

	(void)state;
	smooth_picture(rgb, 64, 48, 3);
	smooth_picture(gray, 64, 48, 1);
	for (int is_gray = 0; is_gray < 2; is_gray++) {
		struct image img[2];

		for (size_t i = 0; i < sizeof(want); i++)
			want[i] = is_gray ? gray[i / 3] : rgb[i];
		for (int progressive = 0; progressive < 2; progressive++) {
			size_t len;
			unsigned char *jpeg = imgtest_make_jpeg(
				is_gray ? gray : rgb, 64, 48, is_gray ? TJPF_GRAY : TJPF_RGB,
				is_gray ? TJSAMP_GRAY : TJSAMP_420,
				progressive ? TJFLAG_PROGRESSIVE : 0, 92, &len);

			assert_int_equal(image_decode(jpeg, len, "t.jpg", IMAGE_MAX_PIXELS,
						      &img[progressive]), 0);
			assert_int_equal(img[progressive].w, 64);
			assert_int_equal(img[progressive].h, 48);
			assert_close_bytes(is_gray ? "gray" : "colour", img[progressive].rgb, want,
					   sizeof(want), is_gray ? 1.0 : 2.0, is_gray ? 4 : 20);
			tjFree(jpeg);
		}
		assert_memory_equal(img[0].rgb, img[1].rgb, sizeof(want));
		image_free(&img[0]);
		image_free(&img[1]);
	}
}

/* CMYK (YCCK) JPEG: Adobe's inverted convention, R = C * K / 255. */
static void test_jpeg_cmyk(void **state)
{
	uint8_t cmyk[32 * 16 * 4], want[32 * 16 * 3];
	struct image img;
	unsigned char *jpeg;
	size_t len;

	(void)state;
	smooth_picture(cmyk, 32, 16, 4);
	for (size_t i = 0; i < 32 * 16; i++)
		for (int c = 0; c < 3; c++)
			want[3 * i + c] =
				(uint8_t)((cmyk[4 * i + c] * cmyk[4 * i + 3] + 127) / 255);
	jpeg = imgtest_make_jpeg(cmyk, 32, 16, TJPF_CMYK, TJSAMP_444, 0, 100, &len);
	assert_int_equal(image_decode(jpeg, len, "cmyk.jpg", IMAGE_MAX_PIXELS, &img), 0);
	assert_close_bytes("cmyk", img.rgb, want, sizeof(want), 1.0, 6);
	image_free(&img);
	tjFree(jpeg);
}

static void assert_error_names(int err, const char *name)
{
	assert_true(err < 0);
	if (!strstr(kn_errmsg(), name))
		fail_msg("message '%s' does not name '%s'", kn_errmsg(), name);
}

static void test_missing_empty_and_wrong_magic(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct image img;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.png", dir);
	assert_int_equal(image_read(path, &img), KN_EIO);
	assert_error_names(KN_EIO, path);
	snprintf(path, sizeof(path), "%s/empty.jpg", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(image_read(path, &img), KN_EFORMAT);
	assert_error_names(KN_EFORMAT, path);
	assert_non_null(strstr(kn_errmsg(), "empty"));
	snprintf(path, sizeof(path), "%s/gif.png", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("GIF89a\x01\x00\x01\x00", f);
	fclose(f);
	assert_int_equal(image_read(path, &img), KN_EFORMAT);
	assert_error_names(KN_EFORMAT, path);
	assert_non_null(strstr(kn_errmsg(), "magic"));
	tmpdir_remove(dir);
}

/* A FIFO named like an image is refused at once: opening it must not wait for a writer
 * (the alarm ends the program if it does). */
static void test_fifo_refused_without_waiting(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct image img;

	(void)state;
	snprintf(path, sizeof(path), "%s/pipe.png", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(image_read(path, &img), KN_EIO);
	alarm(0);
	assert_error_names(KN_EIO, path);
	assert_non_null(strstr(kn_errmsg(), "not a regular file"));
	tmpdir_remove(dir);
}

/* A small RGB PNG and a small JPEG of the smooth picture, for the damage tests. */
static unsigned char *small_png(size_t *len)
{
	struct image img;
	unsigned char *buf;

	image_init(&img, 20, 10);
	smooth_picture(img.rgb, 20, 10, 3);
	assert_int_equal(image_encode_png(&img, &buf, len), 0);
	image_free(&img);
	return buf;
}

static unsigned char *small_jpeg(size_t *len, int flags)
{
	uint8_t rgb[40 * 24 * 3];

	smooth_picture(rgb, 40, 24, 3);
	return imgtest_make_jpeg(rgb, 40, 24, TJPF_RGB, TJSAMP_420, flags, 90, len);
}

/* Every proper prefix of a PNG, and of a baseline and a progressive JPEG, is an error. */
static void test_truncated_at_every_byte(void **state)
{
	size_t len;
	unsigned char *png = small_png(&len);
	struct image img;

	(void)state;
	for (size_t cut = 0; cut < len; cut++)
		assert_error_names(image_decode(png, cut, "cut.png", IMAGE_MAX_PIXELS, &img),
				   "cut.png");
	free(png);
	for (int progressive = 0; progressive < 2; progressive++) {
		unsigned char *jpeg = small_jpeg(&len, progressive ? TJFLAG_PROGRESSIVE : 0);

		for (size_t cut = 0; cut < len; cut++) {
			int err = image_decode(jpeg, cut, "cut.jpg", IMAGE_MAX_PIXELS, &img);

			if (err == 0)
				fail_msg("%s JPEG of %zu bytes cut at %zu decoded",
					 progressive ? "progressive" : "baseline", len, cut);
			assert_error_names(err, "cut.jpg");
		}
		tjFree(jpeg);
	}
}

/* Huge sides are refused from the header, before any pixel memory is allocated. */
static void test_huge_dimensions(void **state)
{
	size_t len;
	unsigned char *png = imgtest_png_header(100000, 100000, 8, PNG_COLOR_TYPE_RGB, &len);
	unsigned char *jpeg;
	struct image img;

	(void)state;
	assert_error_names(image_decode(png, len, "huge.png", IMAGE_MAX_PIXELS, &img),
			   "huge.png");
	free(png);
	/* Within the side limit but over the caller's pixel limit. */
	png = imgtest_png_header(20000, 20000, 8, PNG_COLOR_TYPE_GRAY, &len);
	assert_error_names(image_decode(png, len, "big.png", 1u << 20, &img), "big.png");
	assert_non_null(strstr(kn_errmsg(), "20000 x 20000"));
	free(png);
	jpeg = small_jpeg(&len, 0);
	imgtest_jpeg_set_size(jpeg, len, 60000, 60000);
	assert_error_names(image_decode(jpeg, len, "huge.jpg", IMAGE_MAX_PIXELS, &img),
			   "huge.jpg");
	imgtest_jpeg_set_size(jpeg, len, 20000, 20000);
	assert_error_names(image_decode(jpeg, len, "big.jpg", 1u << 20, &img), "big.jpg");
	assert_non_null(strstr(kn_errmsg(), "20000 x 20000"));
	tjFree(jpeg);
}

/*
 * Single bit flips. In a PNG every byte is under a CRC (or is the signature), so each
 * flip is an error. A JPEG has no checksum: a flip may still decode to a valid image,
 * but must never crash or leak (checked under the sanitizers).
 */
static void test_bit_flips(void **state)
{
	size_t len, errors = 0;
	unsigned char *png = small_png(&len), *jpeg;
	struct image img;

	(void)state;
	for (size_t bit = 0; bit < 8 * len; bit++) {
		png[bit / 8] ^= (unsigned char)(1u << bit % 8);
		assert_error_names(image_decode(png, len, "flip.png", IMAGE_MAX_PIXELS, &img),
				   "flip.png");
		png[bit / 8] ^= (unsigned char)(1u << bit % 8);
	}
	free(png);
	for (int progressive = 0; progressive < 2; progressive++) {
		jpeg = small_jpeg(&len, progressive ? TJFLAG_PROGRESSIVE : 0);
		for (size_t bit = 0; bit < 8 * len; bit += 3) {
			int err;

			jpeg[bit / 8] ^= (unsigned char)(1u << bit % 8);
			err = image_decode(jpeg, len, "flip.jpg", IMAGE_MAX_PIXELS, &img);
			if (err == 0) {
				assert_true(img.w > 0 && img.h > 0 && img.rgb);
				image_free(&img);
			} else {
				assert_error_names(err, "flip.jpg");
				errors++;
			}
			jpeg[bit / 8] ^= (unsigned char)(1u << bit % 8);
		}
		tjFree(jpeg);
	}
	assert_true(errors > 0);
}

static void test_real_camvid_jpeg(void **state)
{
	const char *data = imgtest_shared_data();
	char path[600];
	struct image img;
	double sum = 0, sum2 = 0;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/camvid/train/0001TP_006690.jpg", data);
	if (image_read(path, &img) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(img.w, 480);
	assert_int_equal(img.h, 360);
	n = (size_t)img.w * (size_t)img.h * 3;
	for (size_t i = 0; i < n; i++) {
		sum += img.rgb[i];
		sum2 += (double)img.rgb[i] * img.rgb[i];
	}
	/* A road scene: mid-range mean, plenty of contrast. */
	assert_true(sum / n > 30 && sum / n < 220);
	assert_true(sum2 / n - (sum / n) * (sum / n) > 100);
	image_free(&img);
}

static void test_real_cityscapes_png(void **state)
{
	const char *data = imgtest_shared_data();
	char path[600];
	struct image img;

	(void)state;
	snprintf(path, sizeof(path), "%s/cityscapes_frame/leftImg8bit/val/frankfurt/"
		 "frankfurt_000000_000294_leftImg8bit.png", data);
	if (image_read(path, &img) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(img.w, 256);
	assert_int_equal(img.h, 128);
	image_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_every_colour_type_and_depth),
		cmocka_unit_test(test_png_16bit_scaling_rounds_every_value),
		cmocka_unit_test(test_png_write_read_exact_and_detected_by_content),
		cmocka_unit_test(test_jpeg_write_read_roundtrip),
		cmocka_unit_test(test_jpeg_baseline_progressive_gray_colour),
		cmocka_unit_test(test_jpeg_cmyk),
		cmocka_unit_test(test_missing_empty_and_wrong_magic),
		cmocka_unit_test(test_fifo_refused_without_waiting),
		cmocka_unit_test(test_truncated_at_every_byte),
		cmocka_unit_test(test_huge_dimensions),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_real_camvid_jpeg),
		cmocka_unit_test(test_real_cityscapes_png),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
