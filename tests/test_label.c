/*
 * Tests of io/label.c: label PNGs read as raw values (palette indices, unscaled gray,
 * exact 16-bit), written as gray and palette PNG and read back exactly; colour PNGs and
 * JPEGs refused as labels; damaged files rejected with the file named; the real CamVid
 * and Cityscapes labels, cross-checked against each other where the formats allow.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "io/image.h"
#include "io/label.h"
#include "io/pngio.h"
#include "io/rng.h"
#include "tests/imgtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

/* CamVid's 11 classes and void (docs/camvid-labels.tsv). */
static const uint8_t camvid_colors[12 * 3] = {
	128, 128, 128, 128, 0, 0, 192, 192, 128, 128, 64, 128, 60, 40, 222, 128, 128, 0,
	192, 128, 128, 64, 64, 128, 64, 0, 128, 64, 64, 0, 0, 128, 192, 0, 0, 0,
};

static void assert_error_names(int err, const char *name)
{
	assert_true(err < 0);
	if (!strstr(kn_errmsg(), name))
		fail_msg("message '%s' does not name '%s'", kn_errmsg(), name);
}

static void test_gray8_roundtrip_exact(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab, back;
	struct image img;

	(void)state;
	label_init(&lab, 31, 17, 8);
	for (size_t i = 0; i < 31 * 17; i++)
		lab.u8[i] = (uint8_t)(i * 7);
	snprintf(path, sizeof(path), "%s/gray.png", dir);
	assert_int_equal(label_write_png(path, &lab), 0);
	assert_int_equal(label_read(path, &back), 0);
	assert_int_equal(back.w, 31);
	assert_int_equal(back.h, 17);
	assert_int_equal(back.bits, 8);
	assert_null(back.u16);
	assert_memory_equal(back.u8, lab.u8, 31 * 17);
	label_free(&back);
	assert_null(back.u8);
	/* Widened by the 16-bit reader; gray to R = G = B by the image reader. */
	assert_int_equal(label_read16(path, &back), 0);
	assert_int_equal(back.bits, 16);
	assert_int_equal(image_read(path, &img), 0);
	for (size_t i = 0; i < 31 * 17; i++) {
		assert_int_equal(back.u16[i], lab.u8[i]);
		assert_int_equal(label_at(&back, i), lab.u8[i]);
		assert_int_equal(img.rgb[3 * i + 1], lab.u8[i]);
	}
	image_free(&img);
	label_free(&back);
	label_free(&lab);
	tmpdir_remove(dir);
}

/* A palette PNG reads as its indices; the image reader gives the palette's colours. */
static void test_palette_reads_indices_not_colours(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab, back;
	struct image img;

	(void)state;
	label_init(&lab, 24, 12, 8);
	for (size_t i = 0; i < 24 * 12; i++)
		lab.u8[i] = (uint8_t)(i * 5 % 12);
	snprintf(path, sizeof(path), "%s/camvid_like.png", dir);
	assert_int_equal(label_write_palette_png(path, &lab, camvid_colors, 12), 0);
	assert_int_equal(label_read(path, &back), 0);
	assert_memory_equal(back.u8, lab.u8, 24 * 12);
	assert_int_equal(image_read(path, &img), 0);
	for (size_t i = 0; i < 24 * 12; i++)
		assert_memory_equal(img.rgb + 3 * i, camvid_colors + 3 * lab.u8[i], 3);
	image_free(&img);
	label_free(&back);
	label_free(&lab);
	tmpdir_remove(dir);
}

/* A palette (with tRNS) or gray PNG of 1..8 bits reads as its raw values. */
static void check_low_depth(int type, int depth, bool interlace, struct rng *r)
{
	uint8_t palette[3 * 256], alpha[3] = {0, 0, 0};
	struct pngio_spec s = {
		.w = 11, .h = 7, .color_type = type, .bit_depth = depth, .interlace = interlace,
	};
	uint16_t *v = imgtest_random_samples(77, 1u << depth, r);
	struct label_image lab;
	unsigned char *png;
	size_t len;

	for (int i = 0; i < 3 * 256; i++)
		palette[i] = (uint8_t)(255 - i % 256);
	if (type == PNG_COLOR_TYPE_PALETTE) {
		s.palette = palette;
		s.npalette = 1 << depth;
		s.trns = alpha;
		s.ntrns = depth == 1 ? 2 : 3;
	}
	png = imgtest_make_png(&s, v, &len);
	assert_int_equal(label_decode(png, len, "low.png", 8, IMAGE_MAX_PIXELS, &lab), 0);
	for (size_t i = 0; i < 77; i++)
		if (lab.u8[i] != v[i])
			fail_msg("type %d depth %d interlace %d: pixel %zu is %u, want %u", type,
				 depth, interlace, i, lab.u8[i], v[i]);
	label_free(&lab);
	free(png);
	free(v);
}

static void test_low_depths_read_raw(void **state)
{
	struct rng r;

	(void)state;
	rng_init(&r, 5);
	for (int depth = 1; depth <= 8; depth *= 2)
		for (int interlace = 0; interlace < 2; interlace++) {
			check_low_depth(PNG_COLOR_TYPE_PALETTE, depth, interlace, &r);
			check_low_depth(PNG_COLOR_TYPE_GRAY, depth, interlace, &r);
		}
}

/* Cityscapes-style instanceIds: 16-bit values exact, refused by the 8-bit reader. */
static void test_16bit_exact_and_8bit_refusal(void **state)
{
	static const uint16_t values[] = {0, 1, 255, 1000, 26001, 33999, 65535};
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab, back;

	(void)state;
	label_init(&lab, 7, 3, 16);
	for (size_t i = 0; i < 21; i++)
		lab.u16[i] = values[i % 7];
	snprintf(path, sizeof(path), "%s/instanceIds.png", dir);
	assert_int_equal(label_write_png(path, &lab), 0);
	assert_int_equal(label_read16(path, &back), 0);
	assert_int_equal(back.bits, 16);
	assert_null(back.u8);
	assert_memory_equal(back.u16, lab.u16, 21 * sizeof(uint16_t));
	label_free(&back);
	/* The first value over 255 is 1000, at pixel 3 = (3, 0). */
	assert_error_names(label_read(path, &back), path);
	assert_non_null(strstr(kn_errmsg(), "1000 at (3, 0)"));
	assert_null(back.u8);
	/* A 16-bit PNG whose values all fit reads fine as 8 bits. */
	for (size_t i = 0; i < 21; i++)
		lab.u16[i] = (uint16_t)(i * 12);
	assert_int_equal(label_write_png(path, &lab), 0);
	assert_int_equal(label_read(path, &back), 0);
	for (size_t i = 0; i < 21; i++)
		assert_int_equal(back.u8[i], i * 12);
	label_free(&back);
	label_free(&lab);
	tmpdir_remove(dir);
}

/* Colour and gray+alpha PNGs, and JPEGs, are not label images. */
static void test_not_label_images(void **state)
{
	static const int types[3] = {PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA,
				     PNG_COLOR_TYPE_GRAY_ALPHA};
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab;
	struct image img;
	unsigned char *buf;
	size_t len;
	struct rng r;

	(void)state;
	rng_init(&r, 9);
	for (int t = 0; t < 3; t++)
		for (int depth = 8; depth <= 16; depth += 8) {
			struct pngio_spec s = {
				.w = 4, .h = 4, .color_type = types[t], .bit_depth = depth,
			};
			uint16_t *v = imgtest_random_samples(64, 256, &r);

			buf = imgtest_make_png(&s, v, &len);
			assert_error_names(label_decode(buf, len, "colour.png", 16,
							IMAGE_MAX_PIXELS, &lab),
					   "colour.png");
			assert_non_null(strstr(kn_errmsg(), "not a label image"));
			free(buf);
			free(v);
		}
	image_init(&img, 8, 8);
	snprintf(path, sizeof(path), "%s/rgb_label.png", dir);
	assert_int_equal(image_write_png(path, &img), 0);
	assert_error_names(label_read(path, &lab), path);
	assert_non_null(strstr(kn_errmsg(), "RGB"));
	snprintf(path, sizeof(path), "%s/label.jpg", dir);
	assert_int_equal(image_write_jpeg(path, &img, 90), 0);
	assert_error_names(label_read(path, &lab), path);
	assert_non_null(strstr(kn_errmsg(), "JPEG"));
	image_free(&img);
	tmpdir_remove(dir);
}

static void test_palette_writer_needs_a_colour_per_value(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab, back;

	(void)state;
	label_init(&lab, 5, 5, 8);
	lab.u8[7] = 12;
	snprintf(path, sizeof(path), "%s/bad_palette.png", dir);
	assert_int_equal(label_write_palette_png(path, &lab, camvid_colors, 12), KN_EINVAL);
	assert_error_names(KN_EINVAL, path);
	assert_non_null(strstr(kn_errmsg(), "value 12 at (2, 1)"));
	assert_int_equal(label_read(path, &back), KN_EIO);
	label_free(&lab);
	tmpdir_remove(dir);
}

static unsigned char *small_label_png(size_t *len)
{
	struct label_image lab;
	unsigned char *buf;

	label_init(&lab, 16, 8, 8);
	for (size_t i = 0; i < 16 * 8; i++)
		lab.u8[i] = (uint8_t)(i / 11);
	assert_int_equal(label_encode_png(&lab, camvid_colors, 12, &buf, len), 0);
	label_free(&lab);
	return buf;
}

/* Missing, empty, wrong magic, every truncation, every bit flip, a huge header. */
static void test_bad_label_files(void **state)
{
	char *dir = tmpdir_create();
	char path[600];
	struct label_image lab;
	unsigned char *png;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.png", dir);
	assert_int_equal(label_read(path, &lab), KN_EIO);
	assert_error_names(KN_EIO, path);
	assert_error_names(label_decode((const unsigned char *)"", 0, "empty.png", 8,
					IMAGE_MAX_PIXELS, &lab), "empty.png");
	assert_error_names(label_decode((const unsigned char *)"BM6\0\0\0", 6, "bmp.png", 8,
					IMAGE_MAX_PIXELS, &lab), "bmp.png");
	png = small_label_png(&len);
	for (size_t cut = 0; cut < len; cut++)
		assert_error_names(label_decode(png, cut, "cut.png", 8, IMAGE_MAX_PIXELS, &lab),
				   "cut.png");
	for (size_t bit = 0; bit < 8 * len; bit++) {
		png[bit / 8] ^= (unsigned char)(1u << bit % 8);
		assert_error_names(label_decode(png, len, "flip.png", 16, IMAGE_MAX_PIXELS, &lab),
				   "flip.png");
		png[bit / 8] ^= (unsigned char)(1u << bit % 8);
	}
	free(png);
	png = imgtest_png_header(100000, 100000, 16, PNG_COLOR_TYPE_GRAY, &len);
	assert_error_names(label_decode(png, len, "huge.png", 16, IMAGE_MAX_PIXELS, &lab),
			   "huge.png");
	free(png);
	png = imgtest_png_header(30000, 30000, 8, PNG_COLOR_TYPE_GRAY, &len);
	assert_error_names(label_decode(png, len, "big.png", 8, 1u << 20, &lab), "big.png");
	free(png);
	tmpdir_remove(dir);
}

static void test_real_camvid_label(void **state)
{
	const char *data = imgtest_shared_data();
	char path[600];
	struct label_image lab;
	int seen[256] = {0}, classes = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/camvid/trainannot/0001TP_006690.png", data);
	if (label_read(path, &lab) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(lab.w, 480);
	assert_int_equal(lab.h, 360);
	for (size_t i = 0; i < 480 * 360; i++)
		seen[lab.u8[i]]++;
	for (int v = 0; v < 256; v++) {
		if (v > 11 && seen[v])
			fail_msg("CamVid label value %d outside 0..11", v);
		classes += seen[v] > 0;
	}
	assert_true(classes >= 4);
	label_free(&lab);
}

/* The official labelId -> trainId table (docs/cityscapes-labels.tsv). */
static const uint8_t cityscapes_train_id[34] = {
	255, 255, 255, 255, 255, 255, 255, 0, 1, 255, 255, 2, 3, 4, 255, 255, 255,
	5, 255, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 255, 255, 16, 17, 18,
};

static void read_cityscapes(const char *data, const char *kind, int bits,
			    struct label_image *lab)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/cityscapes_frame/gtFine/val/frankfurt/"
		 "frankfurt_000000_000294_gtFine_%s.png", data, kind);
	if ((bits == 8 ? label_read(path, lab) : label_read16(path, lab)) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(lab->w, 256);
	assert_int_equal(lab->h, 128);
}

/* labelIds, labelTrainIds and instanceIds of one frame agree pixel by pixel. */
static void test_real_cityscapes_labels(void **state)
{
	const char *data = imgtest_shared_data();
	struct label_image ids, train, inst, fail = {0};
	char path[600];
	size_t instances = 0;

	(void)state;
	read_cityscapes(data, "labelIds", 8, &ids);
	read_cityscapes(data, "labelTrainIds", 8, &train);
	read_cityscapes(data, "instanceIds", 16, &inst);
	for (size_t i = 0; i < 256 * 128; i++) {
		unsigned id = ids.u8[i], v = inst.u16[i];

		assert_true(id < 34);
		assert_int_equal(train.u8[i], cityscapes_train_id[id]);
		/* Instances are labelId * 1000 + k; other pixels hold the labelId. */
		assert_int_equal(v >= 1000 ? v / 1000 : v, id);
		instances += v > 1000;
	}
	assert_true(instances > 0);
	/* Refused: instanceIds by the 8-bit reader, the colour PNG by both. */
	snprintf(path, sizeof(path), "%s/cityscapes_frame/gtFine/val/frankfurt/"
		 "frankfurt_000000_000294_gtFine_instanceIds.png", data);
	assert_error_names(label_read(path, &fail), path);
	snprintf(path, sizeof(path), "%s/cityscapes_frame/gtFine/val/frankfurt/"
		 "frankfurt_000000_000294_gtFine_color.png", data);
	assert_error_names(label_read16(path, &fail), path);
	label_free(&ids);
	label_free(&train);
	label_free(&inst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gray8_roundtrip_exact),
		cmocka_unit_test(test_palette_reads_indices_not_colours),
		cmocka_unit_test(test_low_depths_read_raw),
		cmocka_unit_test(test_16bit_exact_and_8bit_refusal),
		cmocka_unit_test(test_not_label_images),
		cmocka_unit_test(test_palette_writer_needs_a_colour_per_value),
		cmocka_unit_test(test_bad_label_files),
		cmocka_unit_test(test_real_camvid_label),
		cmocka_unit_test(test_real_cityscapes_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
