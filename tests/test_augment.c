/*
 * Tests of datasets/augment.c: normalization numerics against a double formula; label
 * values only from the input set plus 255; flip as an exact mirror (flipping a mirrored
 * input gives the original back); crop windows inside the rescaled image and padding of
 * 0 and 255; nearest label resizing keeping values and region layout; the rescale factor
 * range; photometric ops never touching labels; the crop's class check; determinism of
 * a stream; bad configurations and mismatched sizes; the real Cityscapes frame when the
 * shared data is present. The photometric ops themselves: test_augment_photometric.c.
 */
#include "tests/testutil.h"

#include "datasets/augment.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/image.h"
#include "io/label.h"
#include "io/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A w x h image of random bytes from seed. */
static void random_image(struct image *img, int w, int h, uint64_t seed)
{
	struct rng r;

	image_init(img, w, h);
	rng_init(&r, seed);
	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		img->rgb[i] = (uint8_t)rng_below(&r, 256);
}

/* A w x h label whose values are drawn from the n values of set. */
static void random_label(struct label_image *lab, int w, int h, const uint8_t *set, int n,
			 uint64_t seed)
{
	struct rng r;

	label_init(lab, w, h, 8);
	rng_init(&r, seed);
	for (size_t i = 0; i < (size_t)w * h; i++)
		lab->u8[i] = set[rng_below(&r, (uint64_t)n)];
}

/* Output buffers for one sample of up to w x h. */
struct outbuf {
	float *img;
	uint8_t *lab;
};

static struct outbuf outbuf_alloc(int w, int h)
{
	struct outbuf o = {xmalloc((size_t)3 * w * h * sizeof(float)),
			   xmalloc((size_t)w * h)};

	return o;
}

static void outbuf_free(struct outbuf *o)
{
	free(o->img);
	free(o->lab);
}

/* Training config without photometric changes, fixed scale, no class check. */
static void geometric_config(struct augment_config *c, int cw, int ch, float scale)
{
	augment_config_default(c, cw, ch);
	c->scale_min = c->scale_max = scale;
	c->photometric = false;
	c->cat_max_ratio = 0.0f;
}

static void test_none_mode_normalization(void **state)
{
	struct augment_config c;
	struct augment_params p;
	struct image img;
	struct label_image lab;
	const uint8_t set[] = {0, 5, 255};
	struct outbuf o = outbuf_alloc(13, 7);
	double *want = xmalloc(3 * 13 * 7 * sizeof(double));
	struct rng r;

	(void)state;
	random_image(&img, 13, 7, 1);
	random_label(&lab, 13, 7, set, 3, 2);
	augment_config_eval(&c);
	c.mean[1] = 0.25f;
	c.std[2] = 0.5f;
	rng_init(&r, 3);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_OK);
	assert_int_equal(p.out_w, 13);
	assert_int_equal(p.out_h, 7);
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 13 * 7; i++)
			want[k * 13 * 7 + i] = (img.rgb[3 * i + k] / 255.0 - c.mean[k]) / c.std[k];
	assert_allclose_d("normalized", o.img, want, 3 * 13 * 7, 1e-6, 1e-6);
	assert_memory_equal(o.lab, lab.u8, 13 * 7);
	free(want);
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

static void test_labels_keep_input_values(void **state)
{
	const uint8_t set[] = {0, 3, 7, 255};
	struct augment_config c;
	struct image img;
	struct label_image lab;
	struct outbuf o = outbuf_alloc(40, 30);
	int seen_pad = 0;

	(void)state;
	random_image(&img, 37, 23, 4);
	random_label(&lab, 37, 23, set, 4, 5);
	augment_config_default(&c, 40, 30);
	for (uint64_t s = 0; s < 60; s++) {
		struct rng r;
		struct augment_params p;

		rng_init_stream(&r, 9, 0, s);
		assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_OK);
		for (int i = 0; i < 40 * 30; i++)
			if (!memchr(set, o.lab[i], sizeof(set)))
				fail_msg("stream %d pixel %d: label %d not in the input",
					 (int)s, i, o.lab[i]);
		seen_pad += p.win_w < 40 || p.win_h < 30;
	}
	assert_true(seen_pad > 0);
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

/* Mirrors the columns of a (planes, h, w) float and a (h, w) byte array. */
static void mirror(float *x, uint8_t *lab, int planes, int w, int h)
{
	for (int pl = 0; pl < planes; pl++)
		for (int y = 0; y < h; y++)
			for (int i = 0, j = w - 1; i < j; i++, j--) {
				float *row = x + ((size_t)pl * h + y) * w;
				float t = row[i];

				row[i] = row[j];
				row[j] = t;
				if (pl == 0) {
					uint8_t u = lab[y * w + i];

					lab[y * w + i] = lab[y * w + j];
					lab[y * w + j] = u;
				}
			}
}

static void test_flip_mirrors_exactly(void **state)
{
	const uint8_t set[] = {1, 2, 9};
	struct augment_config c;
	struct image img, flipped;
	struct label_image lab, flab;
	struct outbuf a = outbuf_alloc(21, 17), b = outbuf_alloc(21, 17);
	struct augment_params p;
	struct rng r;
	int mirrored = 0;

	(void)state;
	random_image(&img, 21, 17, 6);
	random_label(&lab, 21, 17, set, 3, 7);
	/* Flip twice: the flipped output of a mirrored input is the original. */
	geometric_config(&c, 21, 17, 1.0f);
	rng_init(&r, 8);
	augment_draw(&c, &img, &lab, &r, &p);
	image_init(&flipped, 21, 17);
	label_init(&flab, 21, 17, 8);
	for (int y = 0; y < 17; y++)
		for (int x = 0; x < 21; x++) {
			memcpy(flipped.rgb + 3 * (y * 21 + x), img.rgb + 3 * (y * 21 + 20 - x), 3);
			flab.u8[y * 21 + x] = lab.u8[y * 21 + 20 - x];
		}
	p.flip = false;
	assert_int_equal(augment_apply(&c, &p, &img, &lab, a.img, a.lab), KN_OK);
	p.flip = true;
	assert_int_equal(augment_apply(&c, &p, &flipped, &flab, b.img, b.lab), KN_OK);
	assert_memory_equal(a.img, b.img, 3 * 21 * 17 * sizeof(float));
	assert_memory_equal(a.lab, b.lab, 21 * 17);
	/* Any rescale and window: the flipped output is the mirror of the unflipped one. */
	augment_config_default(&c, 21, 17);
	for (uint64_t s = 0; s < 20; s++) {
		rng_init_stream(&r, 1, 2, s);
		augment_draw(&c, &img, &lab, &r, &p);
		if (p.win_w < p.out_w)
			continue; /* padding columns stay right: mirror whole-width windows only */
		mirrored++;
		p.flip = false;
		assert_int_equal(augment_apply(&c, &p, &img, &lab, a.img, a.lab), KN_OK);
		p.flip = true;
		assert_int_equal(augment_apply(&c, &p, &img, &lab, b.img, b.lab), KN_OK);
		mirror(b.img, b.lab, 3, 21, 17);
		assert_memory_equal(a.img, b.img, 3 * 21 * 17 * sizeof(float));
		assert_memory_equal(a.lab, b.lab, 21 * 17);
	}
	assert_true(mirrored >= 5);
	outbuf_free(&a);
	outbuf_free(&b);
	image_free(&img);
	image_free(&flipped);
	label_free(&lab);
	label_free(&flab);
}

/* The normalized value of channel k of pixel (x, y) of img under c. */
static float normalized(const struct augment_config *c, const struct image *img, int x, int y,
			int k)
{
	float v = img->rgb[3 * ((size_t)y * img->w + x) + k];

	return v * (float)(1.0 / (255.0 * c->std[k])) + (float)(-(double)c->mean[k] / c->std[k]);
}

static void test_crop_pads_small_images(void **state)
{
	const uint8_t set[] = {4, 6};
	struct augment_config c;
	struct augment_params p;
	struct image img;
	struct label_image lab;
	struct outbuf o = outbuf_alloc(64, 48);
	struct rng r;

	(void)state;
	random_image(&img, 20, 10, 10);
	random_label(&lab, 20, 10, set, 2, 11);
	geometric_config(&c, 64, 48, 1.0f);
	c.flip_p = 0.0f;
	rng_init(&r, 12);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_OK);
	assert_int_equal(p.x0, 0);
	assert_int_equal(p.y0, 0);
	assert_int_equal(p.win_w, 20);
	assert_int_equal(p.win_h, 10);
	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 64; x++) {
			bool in = x < 20 && y < 10;

			assert_int_equal(o.lab[y * 64 + x], in ? lab.u8[y * 20 + x] : 255);
			for (int k = 0; k < 3; k++) {
				float v = o.img[(k * 48 + y) * 64 + x];

				if (in)
					assert_true(v == normalized(&c, &img, x, y, k));
				else
					assert_true(v == 0.0f);
			}
		}
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

static void test_crop_windows_stay_inside(void **state)
{
	const uint8_t set[] = {0, 1, 2};
	struct augment_config c;
	struct image img;
	struct label_image lab;
	struct outbuf o = outbuf_alloc(16, 8);
	int min_x = 1000, max_x = -1, min_y = 1000, max_y = -1;

	(void)state;
	random_image(&img, 50, 30, 13);
	random_label(&lab, 50, 30, set, 3, 14);
	geometric_config(&c, 16, 8, 1.0f);
	c.flip_p = 0.0f;
	for (uint64_t s = 0; s < 300; s++) {
		struct augment_params p;
		struct rng r;

		rng_init_stream(&r, 15, 0, s);
		assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_OK);
		assert_true(p.x0 >= 0 && p.x0 + 16 <= 50 && p.y0 >= 0 && p.y0 + 8 <= 30);
		min_x = p.x0 < min_x ? p.x0 : min_x;
		max_x = p.x0 > max_x ? p.x0 : max_x;
		min_y = p.y0 < min_y ? p.y0 : min_y;
		max_y = p.y0 > max_y ? p.y0 : max_y;
		/* At scale 1 the output is exactly the window of the normalized image. */
		for (int y = 0; y < 8; y++)
			for (int x = 0; x < 16; x++) {
				int sx = p.x0 + x, sy = p.y0 + y;

				assert_int_equal(o.lab[y * 16 + x], lab.u8[sy * 50 + sx]);
				for (int k = 0; k < 3; k++)
					assert_true(o.img[(k * 8 + y) * 16 + x] ==
						    normalized(&c, &img, sx, sy, k));
			}
	}
	/* Every offset is reachable, the extremes included. */
	assert_int_equal(min_x, 0);
	assert_int_equal(max_x, 34);
	assert_int_equal(min_y, 0);
	assert_int_equal(max_y, 22);
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

/*
 * A w x h label of four quadrants (values 1..4) rescaled by scale, whole image, no flip,
 * into out (oh, ow); the rescaled size must be ow x oh.
 */
static void quadrants_rescaled(int w, int h, float scale, uint8_t *out, int ow, int oh)
{
	struct augment_config c;
	struct augment_params p;
	struct image img;
	struct label_image lab;
	float *tmp = xmalloc((size_t)3 * ow * oh * sizeof(float));
	struct rng r;

	image_init(&img, w, h);
	label_init(&lab, w, h, 8);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			lab.u8[y * w + x] = (uint8_t)(1 + (x >= w / 2) + 2 * (y >= h / 2));
	geometric_config(&c, ow, oh, scale);
	c.flip_p = 0.0f;
	rng_init(&r, 16);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, tmp, out, &p), KN_OK);
	assert_int_equal(p.scaled_w, ow);
	assert_int_equal(p.scaled_h, oh);
	free(tmp);
	image_free(&img);
	label_free(&lab);
}

/* Checks that out (oh, ow) holds quadrants split after column cx and row cy. */
static void assert_quadrants(const uint8_t *out, int ow, int oh, int cx, int cy)
{
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			int q = 1 + (x >= cx) + 2 * (y >= cy);

			if (out[y * ow + x] != q)
				fail_msg("(%d,%d) holds %d, expected %d", x, y, out[y * ow + x], q);
		}
}

static void test_nearest_label_resize_keeps_layout(void **state)
{
	uint8_t up[24 * 18], down[6 * 4], odd[15 * 10];

	(void)state;
	/* Integer factors: each source pixel becomes a 3x3 block, or a 2x2 block one pixel. */
	quadrants_rescaled(8, 6, 3.0f, up, 24, 18);
	assert_quadrants(up, 24, 18, 12, 9);
	quadrants_rescaled(12, 8, 0.5f, down, 6, 4);
	assert_quadrants(down, 6, 4, 3, 2);
	/*
	 * 1.25: the boundaries move to 6 * 1.25 = 7.5 and 4 * 1.25 = 5; an output pixel is
	 * right of (below) one when its centre x + 0.5 (y + 0.5) is at or past it.
	 */
	quadrants_rescaled(12, 8, 1.25f, odd, 15, 10);
	assert_quadrants(odd, 15, 10, 7, 5);
}

static void test_rescale_factor_range(void **state)
{
	struct augment_config c;
	struct image img;
	double lo = 10, hi = 0, sum = 0;
	const int n = 2000;

	(void)state;
	image_init(&img, 400, 300);
	augment_config_default(&c, 64, 64);
	for (int s = 0; s < n; s++) {
		struct augment_params p;
		struct rng r;
		double fw, fh;

		rng_init_stream(&r, 17, 3, (uint64_t)s);
		augment_draw(&c, &img, NULL, &r, &p);
		fw = p.scaled_w / 400.0;
		fh = p.scaled_h / 300.0;
		/* Both sides use the same factor, up to the rounding of each size. */
		assert_true(fabs(fw - fh) <= 1.0 / 300 + 1.0 / 400);
		assert_true(fw >= 0.5 - 0.5 / 400 && fw <= 2.0 + 0.5 / 400);
		lo = fw < lo ? fw : lo;
		hi = fw > hi ? fw : hi;
		sum += fw;
	}
	assert_true(lo < 0.51 && hi > 1.99);
	/* Uniform on [0.5, 2]: mean 1.25, standard error 0.433 / sqrt(n). */
	assert_true(fabs(sum / n - 1.25) < 5 * 0.433 / sqrt(n));
	image_free(&img);
}

static void test_photometric_leaves_labels(void **state)
{
	const uint8_t set[] = {0, 18, 255};
	struct augment_config c;
	struct augment_params p;
	struct image img;
	struct label_image lab;
	struct outbuf a = outbuf_alloc(24, 16), b = outbuf_alloc(24, 16);
	struct rng r;
	int changed = 0;

	(void)state;
	random_image(&img, 30, 20, 18);
	random_label(&lab, 30, 20, set, 3, 19);
	augment_config_default(&c, 24, 16);
	for (uint64_t s = 0; s < 20; s++) {
		rng_init_stream(&r, 20, 0, s);
		augment_draw(&c, &img, &lab, &r, &p);
		p.brightness_on = p.contrast_on = p.saturation_on = p.hue_on = true;
		assert_int_equal(augment_apply(&c, &p, &img, &lab, a.img, a.lab), KN_OK);
		p.brightness_on = p.contrast_on = p.saturation_on = p.hue_on = false;
		assert_int_equal(augment_apply(&c, &p, &img, &lab, b.img, b.lab), KN_OK);
		assert_memory_equal(a.lab, b.lab, 24 * 16);
		changed += memcmp(a.img, b.img, 3 * 24 * 16 * sizeof(float)) != 0;
	}
	assert_int_equal(changed, 20);
	outbuf_free(&a);
	outbuf_free(&b);
	image_free(&img);
	label_free(&lab);
}

/* Share of draws whose window has two classes and none over 75% of it. */
static double balanced_share(const struct augment_config *c, const struct image *img,
			     const struct label_image *lab)
{
	int good = 0;

	for (uint64_t s = 0; s < 300; s++) {
		struct augment_params p;
		struct rng r;
		int ones = 0;

		rng_init_stream(&r, 22, 0, s);
		augment_draw(c, img, lab, &r, &p);
		for (int y = p.y0; y < p.y0 + p.win_h; y++)
			for (int x = p.x0; x < p.x0 + p.win_w; x++)
				ones += lab->u8[y * lab->w + x];
		good += ones > 0 && ones < 0.75 * p.win_w * p.win_h &&
			p.win_w * p.win_h - ones < 0.75 * p.win_w * p.win_h;
	}
	return good / 300.0;
}

static void test_crop_class_check(void **state)
{
	struct augment_config c;
	struct image img;
	struct label_image lab;
	double with, without;

	(void)state;
	/* Class 1 left of column 50, class 0 right: few 20x20 windows straddle it evenly. */
	image_init(&img, 100, 100);
	label_init(&lab, 100, 100, 8);
	for (int y = 0; y < 100; y++)
		for (int x = 0; x < 50; x++)
			lab.u8[y * 100 + x] = 1;
	geometric_config(&c, 20, 20, 1.0f);
	without = balanced_share(&c, &img, &lab);
	c.cat_max_ratio = 0.75f;
	with = balanced_share(&c, &img, &lab);
	/* One window: 11 of 81 offsets pass; ten tries: 1 - (70/81)^10 = 77%. */
	assert_true(without < 0.25);
	assert_true(with > 0.6);
	image_free(&img);
	label_free(&lab);
}

static void test_same_stream_same_output(void **state)
{
	const uint8_t set[] = {2, 3};
	struct augment_config c;
	struct image img;
	struct label_image lab;
	struct outbuf a = outbuf_alloc(32, 32), b = outbuf_alloc(32, 32);
	struct rng r;

	(void)state;
	random_image(&img, 40, 25, 23);
	random_label(&lab, 40, 25, set, 2, 24);
	augment_config_default(&c, 32, 32);
	rng_init_stream(&r, 5, 6, 7);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, a.img, a.lab, NULL), KN_OK);
	rng_init_stream(&r, 5, 6, 7);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, b.img, b.lab, NULL), KN_OK);
	assert_memory_equal(a.img, b.img, 3 * 32 * 32 * sizeof(float));
	assert_memory_equal(a.lab, b.lab, 32 * 32);
	rng_init_stream(&r, 5, 6, 8);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, b.img, b.lab, NULL), KN_OK);
	assert_memory_not_equal(a.img, b.img, 3 * 32 * 32 * sizeof(float));
	outbuf_free(&a);
	outbuf_free(&b);
	image_free(&img);
	label_free(&lab);
}

static void test_bad_config_and_sizes(void **state)
{
	struct augment_config c;
	struct augment_params p;
	struct image img;
	struct label_image lab;
	struct outbuf o = outbuf_alloc(8, 8);
	struct rng r;

	(void)state;
	augment_config_default(&c, 8, 8);
	assert_int_equal(augment_config_check(&c), KN_OK);
	c.scale_min = 3.0f;
	assert_int_equal(augment_config_check(&c), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "rescale"));
	augment_config_default(&c, 0, 8);
	assert_int_equal(augment_config_check(&c), KN_EINVAL);
	augment_config_default(&c, 8, 8);
	c.std[1] = 0.0f;
	assert_int_equal(augment_config_check(&c), KN_EINVAL);
	augment_config_default(&c, 8, 8);
	c.contrast_lo = NAN;
	assert_int_equal(augment_config_check(&c), KN_EINVAL);
	augment_config_eval(&c);
	assert_int_equal(augment_config_check(&c), KN_OK);
	image_init(&img, 8, 8);
	label_init(&lab, 8, 7, 8);
	rng_init(&r, 1);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "8x7"));
	label_free(&lab);
	label_init(&lab, 8, 8, 16);
	assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_EMISMATCH);
	/* No label: all ignore. */
	assert_int_equal(augment_sample(&c, &img, NULL, &r, o.img, o.lab, &p), KN_OK);
	for (int i = 0; i < 64; i++)
		assert_int_equal(o.lab[i], 255);
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

static void test_cityscapes_frame(void **state)
{
	const char *dir = shared_data_dir();
	const char *stem = "cityscapes_frame/%s/val/frankfurt/frankfurt_000000_000294_%s.png";
	char path[1024];
	struct augment_config c;
	struct image img;
	struct label_image lab;
	struct outbuf o = outbuf_alloc(1024, 512);
	bool present[256] = {false};

	(void)state;
	if (!dir)
		skip();
	snprintf(path, sizeof(path), "%s/", dir);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), stem, "leftImg8bit",
		 "leftImg8bit");
	assert_int_equal(image_read(path, &img), KN_OK);
	snprintf(path, sizeof(path), "%s/", dir);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), stem, "gtFine",
		 "gtFine_labelTrainIds");
	assert_int_equal(label_read(path, &lab), KN_OK);
	for (int i = 0; i < lab.w * lab.h; i++)
		present[lab.u8[i]] = true;
	augment_config_default(&c, 1024, 512);
	for (uint64_t s = 0; s < 4; s++) {
		struct augment_params p;
		struct rng r;
		int padded = 0;

		rng_init_stream(&r, 25, 0, s);
		assert_int_equal(augment_sample(&c, &img, &lab, &r, o.img, o.lab, &p), KN_OK);
		/* 256x128 at most doubled: the 1024x512 crop is mostly padding. */
		assert_true(p.win_w <= 512 && p.win_h <= 256);
		for (int i = 0; i < 1024 * 512; i++) {
			if (!present[o.lab[i]] && o.lab[i] != 255)
				fail_msg("label %d not in the frame", o.lab[i]);
			padded += o.img[i] == 0.0f && o.lab[i] == 255;
		}
		assert_true(padded >= 1024 * 512 - p.win_w * p.win_h);
	}
	outbuf_free(&o);
	image_free(&img);
	label_free(&lab);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none_mode_normalization),
		cmocka_unit_test(test_labels_keep_input_values),
		cmocka_unit_test(test_flip_mirrors_exactly),
		cmocka_unit_test(test_crop_pads_small_images),
		cmocka_unit_test(test_crop_windows_stay_inside),
		cmocka_unit_test(test_nearest_label_resize_keeps_layout),
		cmocka_unit_test(test_rescale_factor_range),
		cmocka_unit_test(test_photometric_leaves_labels),
		cmocka_unit_test(test_crop_class_check),
		cmocka_unit_test(test_same_stream_same_output),
		cmocka_unit_test(test_bad_config_and_sizes),
		cmocka_unit_test(test_cityscapes_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
