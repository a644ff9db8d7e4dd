/*
 * Training augmentation and normalization of one sample. See augment.h.
 *
 * Rescale, crop, flip, photometric distortion, normalization and padding run as one pass
 * over the output: each output pixel of the window reads its 2x2 source neighbourhood of
 * the original image at the position the rescaled, cropped and flipped image would have
 * there, so the rescaled image (up to 4x the input's pixels) is never materialised and
 * only the cropped pixels are computed. Photometric ops are per pixel, so they run on
 * each interpolated pixel before it is normalized and stored. The flip mirrors the
 * window's columns (output column x takes window column win_w - 1 - x), so a flipped
 * output is exactly the mirror image of the unflipped one.
 */
#include "datasets/augment.h"
#include "datasets/dataset.h"

#include "io/alloc.h"
#include "io/bilinear.h"
#include "io/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Windows tried by the crop's class check (mmseg tries 10). */
#define AUGMENT_CROP_TRIES 10
/* Largest rescale factor accepted: keeps rescaled sizes far from int overflow. */
#define AUGMENT_SCALE_LIMIT 16.0f

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

void augment_config_eval(struct augment_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = AUGMENT_NONE;
	c->scale_min = c->scale_max = 1.0f;
	c->contrast_lo = c->contrast_hi = 1.0f;
	c->saturation_lo = c->saturation_hi = 1.0f;
	memcpy(c->mean, imagenet_mean, sizeof(c->mean));
	memcpy(c->std, imagenet_std, sizeof(c->std));
}

void augment_config_default(struct augment_config *c, int crop_w, int crop_h)
{
	augment_config_eval(c);
	c->mode = AUGMENT_TRAIN;
	c->crop_w = crop_w;
	c->crop_h = crop_h;
	c->scale_min = 0.5f;
	c->scale_max = 2.0f;
	c->cat_max_ratio = 0.75f;
	c->flip_p = 0.5f;
	c->photometric = true;
	c->brightness_delta = 32.0f;
	c->contrast_lo = 0.5f;
	c->contrast_hi = 1.5f;
	c->saturation_lo = 0.5f;
	c->saturation_hi = 1.5f;
	c->hue_delta = 18.0f;
}

/* lo <= hi, both in [min, max] (written so that NaN fails). */
static bool range_ok(float lo, float hi, float min, float max)
{
	return lo >= min && hi <= max && lo <= hi;
}

int augment_config_check(const struct augment_config *c)
{
	for (int k = 0; k < 3; k++)
		if (!isfinite(c->mean[k]) || !(c->std[k] > 0.0f) || !isfinite(c->std[k]))
			return kn_error(KN_EINVAL, "bad normalization: mean %g std %g (channel %d)",
					c->mean[k], c->std[k], k);
	if (c->mode == AUGMENT_NONE)
		return KN_OK;
	if (c->mode != AUGMENT_TRAIN)
		return kn_error(KN_EINVAL, "unknown augmentation mode %d", (int)c->mode);
	if (c->crop_w < 1 || c->crop_h < 1 || c->crop_w > IMAGE_MAX_SIDE ||
	    c->crop_h > IMAGE_MAX_SIDE)
		return kn_error(KN_EINVAL, "bad crop size %dx%d", c->crop_w, c->crop_h);
	if (!range_ok(c->scale_min, c->scale_max, 1e-3f, AUGMENT_SCALE_LIMIT))
		return kn_error(KN_EINVAL, "bad rescale range %g..%g (allowed 0.001..%g)",
				c->scale_min, c->scale_max, AUGMENT_SCALE_LIMIT);
	if (!range_ok(c->cat_max_ratio, c->cat_max_ratio, 0.0f, 1.0f) ||
	    !range_ok(c->flip_p, c->flip_p, 0.0f, 1.0f))
		return kn_error(KN_EINVAL, "bad probability or ratio: flip %g, cat_max_ratio %g",
				c->flip_p, c->cat_max_ratio);
	if (!c->photometric)
		return KN_OK;
	if (!range_ok(c->brightness_delta, c->brightness_delta, 0.0f, 255.0f) ||
	    !range_ok(c->hue_delta, c->hue_delta, 0.0f, 90.0f) ||
	    !range_ok(c->contrast_lo, c->contrast_hi, 0.0f, 100.0f) ||
	    !range_ok(c->saturation_lo, c->saturation_hi, 0.0f, 100.0f))
		return kn_error(KN_EINVAL,
				"bad photometric ranges: brightness %g, contrast %g..%g, "
				"saturation %g..%g, hue %g", c->brightness_delta, c->contrast_lo,
				c->contrast_hi, c->saturation_lo, c->saturation_hi, c->hue_delta);
	return KN_OK;
}

/* Source index of a label (nearest-exact) for output index dst; scale = in / out. */
static int nearest_src(int dst, double scale, int in)
{
	int s = (int)((dst + 0.5) * scale);

	return s < in - 1 ? s : in - 1;
}

/*
 * Whether the window of p passes the class check: at least two non-ignored classes and
 * none with a share >= ratio of the non-ignored pixels.
 */
static bool crop_classes_ok(const struct label_image *lab, const struct augment_params *p,
			    float ratio)
{
	double sx = (double)lab->w / p->scaled_w, sy = (double)lab->h / p->scaled_h;
	size_t count[256] = {0}, total = 0, top = 0;
	int *cols = xmalloc((size_t)p->win_w * sizeof(int));
	int classes = 0;

	for (int x = 0; x < p->win_w; x++)
		cols[x] = nearest_src(p->x0 + x, sx, lab->w);
	for (int y = 0; y < p->win_h; y++) {
		const uint8_t *row = lab->u8 + (size_t)nearest_src(p->y0 + y, sy, lab->h) * lab->w;

		for (int x = 0; x < p->win_w; x++)
			count[row[cols[x]]]++;
	}
	free(cols);
	for (int v = 0; v < 255; v++) {
		total += count[v];
		classes += count[v] > 0;
		top = count[v] > top ? count[v] : top;
	}
	return classes > 1 && (double)top < ratio * (double)total;
}

/* Draws the rescaled size and the crop window (steps 1 and 2). */
static void draw_geometry(const struct augment_config *c, const struct image *img,
			  const struct label_image *lab, struct rng *r, struct augment_params *p)
{
	float f = c->scale_min + (c->scale_max - c->scale_min) * rng_uniform(r);
	bool check = lab && lab->u8 && c->cat_max_ratio > 0.0f && c->cat_max_ratio < 1.0f;

	p->scaled_w = (int)(img->w * (double)f + 0.5);
	p->scaled_h = (int)(img->h * (double)f + 0.5);
	p->scaled_w = p->scaled_w > 0 ? p->scaled_w : 1;
	p->scaled_h = p->scaled_h > 0 ? p->scaled_h : 1;
	p->out_w = c->crop_w;
	p->out_h = c->crop_h;
	p->win_w = p->scaled_w < c->crop_w ? p->scaled_w : c->crop_w;
	p->win_h = p->scaled_h < c->crop_h ? p->scaled_h : c->crop_h;
	/* A window that cannot move would give the same verdict every try. */
	if (p->win_w == p->scaled_w && p->win_h == p->scaled_h)
		check = false;
	if (check && (lab->w != img->w || lab->h != img->h))
		check = false; /* augment_apply reports the mismatch */
	for (int t = 0; t < AUGMENT_CROP_TRIES; t++) {
		p->x0 = (int)rng_below(r, (uint64_t)(p->scaled_w - p->win_w) + 1);
		p->y0 = (int)rng_below(r, (uint64_t)(p->scaled_h - p->win_h) + 1);
		if (!check || crop_classes_ok(lab, p, c->cat_max_ratio))
			break;
	}
}

/* Uniform in [lo, hi]. */
static float uniform_in(struct rng *r, float lo, float hi)
{
	return lo + (hi - lo) * rng_uniform(r);
}

/* Draws the photometric choices (step 4): every value is drawn, used or not. */
static void draw_photometric(const struct augment_config *c, struct rng *r,
			     struct augment_params *p)
{
	p->brightness_on = rng_below(r, 2);
	p->brightness = uniform_in(r, -c->brightness_delta, c->brightness_delta);
	p->contrast_last = rng_below(r, 2);
	p->contrast_on = rng_below(r, 2);
	p->contrast = uniform_in(r, c->contrast_lo, c->contrast_hi);
	p->saturation_on = rng_below(r, 2);
	p->saturation = uniform_in(r, c->saturation_lo, c->saturation_hi);
	p->hue_on = rng_below(r, 2);
	p->hue = 2.0f * uniform_in(r, -c->hue_delta, c->hue_delta);
	if (!c->photometric)
		p->brightness_on = p->contrast_on = p->saturation_on = p->hue_on = false;
}

void augment_draw(const struct augment_config *c, const struct image *img,
		  const struct label_image *lab, struct rng *r, struct augment_params *p)
{
	CHECK(img->w > 0 && img->h > 0);
	memset(p, 0, sizeof(*p));
	if (c->mode == AUGMENT_NONE) {
		p->out_w = p->scaled_w = p->win_w = img->w;
		p->out_h = p->scaled_h = p->win_h = img->h;
		return;
	}
	CHECK(c->mode == AUGMENT_TRAIN && c->crop_w > 0 && c->crop_h > 0);
	draw_geometry(c, img, lab, r, p);
	p->flip = rng_uniform(r) < c->flip_p;
	draw_photometric(c, r, p);
}

static inline float clamp255(float v)
{
	return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

/* Plain comparisons: fmaxf/fminf are library calls under -std=c11 (NaN rules). */
static inline float max3(float a, float b, float c)
{
	float m = a > b ? a : b;

	return m > c ? m : c;
}

static inline float min3(float a, float b, float c)
{
	float m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * Saturation alone keeps hue and value (V = max): S' = min(S a, 1) moves every channel c
 * to max - (max - c) S' / S, and S = (max - min) / max, so no hue is needed.
 */
static void saturation_only(float *px, float a)
{
	float mx = max3(px[0], px[1], px[2]), d = mx - min3(px[0], px[1], px[2]);
	float k = d * a > mx ? mx / d : a;

	if (d <= 0.0f)
		return;
	for (int c = 0; c < 3; c++)
		px[c] = clamp255(mx - (mx - px[c]) * k);
}

/* Saturation and hue of one pixel through HSV (h in sextants [0, 6), s and v as RGB). */
static void hsv_adjust(float *px, const struct augment_params *p)
{
	float r = px[0], g = px[1], b = px[2];
	float mx = max3(r, g, b), d = mx - min3(r, g, b);
	float h, s, f, q, t, m, inv;
	int i;

	if (d <= 0.0f)
		return; /* gray: no saturation to scale, no hue to turn */
	if (!p->hue_on) {
		saturation_only(px, p->saturation);
		return;
	}
	inv = 1.0f / d;
	s = d / mx;
	h = mx == r ? (g - b) * inv : mx == g ? 2.0f + (b - r) * inv : 4.0f + (r - g) * inv;
	if (p->saturation_on)
		s = s * p->saturation < 1.0f ? s * p->saturation : 1.0f;
	h += p->hue * (1.0f / 60.0f);
	h -= 6.0f * floorf(h * (1.0f / 6.0f));
	i = (int)h;
	i = i > 5 ? 5 : i < 0 ? 0 : i;
	f = h - (float)i;
	m = mx * (1.0f - s);
	q = mx * (1.0f - s * f);
	t = mx * (1.0f - s * (1.0f - f));
	switch (i) {
	case 0: r = mx; g = t; b = m; break;
	case 1: r = q; g = mx; b = m; break;
	case 2: r = m; g = mx; b = t; break;
	case 3: r = m; g = q; b = mx; break;
	case 4: r = t; g = m; b = mx; break;
	default: r = mx; g = m; b = q; break;
	}
	px[0] = clamp255(r);
	px[1] = clamp255(g);
	px[2] = clamp255(b);
}

static inline void photometric_pixel(float *px, const struct augment_params *p)
{
	if (p->brightness_on)
		for (int k = 0; k < 3; k++)
			px[k] = clamp255(px[k] + p->brightness);
	if (p->contrast_on && !p->contrast_last)
		for (int k = 0; k < 3; k++)
			px[k] = clamp255(px[k] * p->contrast);
	if (p->saturation_on || p->hue_on)
		hsv_adjust(px, p);
	if (p->contrast_on && p->contrast_last)
		for (int k = 0; k < 3; k++)
			px[k] = clamp255(px[k] * p->contrast);
}

void augment_photometric(float *rgb, size_t npix, const struct augment_params *p)
{
	for (size_t i = 0; i < npix; i++)
		photometric_pixel(rgb + 3 * i, p);
}

/* What the per-row image pass needs, computed once per sample. */
struct augment_pass {
	const struct image *img;
	const struct augment_params *p;
	struct bilinear_tap *cols; /* (win_w) source columns of each output column */
	double sy;                 /* in / out along y */
	bool photometric;
	float k[3], o[3];         /* out = v * k + o = (v / 255 - mean) / std */
};

/* Output row y (< win_h) of the image: window pixels, then zero padding. */
static void image_row(const struct augment_pass *a, float *out, int y)
{
	const struct augment_params *p = a->p;
	const struct image *img = a->img;
	size_t plane = (size_t)p->out_w * p->out_h, at = (size_t)y * p->out_w;
	struct bilinear_tap ty = bilinear_tap_at(a->sy, p->y0 + y, img->h);
	const uint8_t *r0 = img->rgb + (size_t)ty.i0 * img->w * 3;
	const uint8_t *r1 = img->rgb + (size_t)ty.i1 * img->w * 3;

	for (int x = 0; x < p->win_w; x++) {
		const struct bilinear_tap *tx = &a->cols[x];
		const uint8_t *a0 = r0 + 3 * tx->i0, *a1 = r0 + 3 * tx->i1;
		const uint8_t *b0 = r1 + 3 * tx->i0, *b1 = r1 + 3 * tx->i1;
		float px[3];

		for (int k = 0; k < 3; k++)
			px[k] = ty.l0 * (tx->l0 * a0[k] + tx->l1 * a1[k]) +
				ty.l1 * (tx->l0 * b0[k] + tx->l1 * b1[k]);
		if (a->photometric)
			photometric_pixel(px, p);
		for (int k = 0; k < 3; k++)
			out[k * plane + at + x] = px[k] * a->k[k] + a->o[k];
	}
	for (int k = 0; k < 3; k++)
		memset(out + k * plane + at + p->win_w, 0,
		       (size_t)(p->out_w - p->win_w) * sizeof(float));
}

static void image_pass(const struct augment_config *c, const struct augment_params *p,
		       const struct image *img, float *out)
{
	struct augment_pass a = {.img = img, .p = p};
	/* Scales in double; the network's resize rounds its own to float (io/bilinear.h). */
	double sx = (double)img->w / p->scaled_w;
	size_t plane = (size_t)p->out_w * p->out_h, done = (size_t)p->win_h * p->out_w;

	a.sy = (double)img->h / p->scaled_h;
	a.photometric = p->brightness_on || p->contrast_on || p->saturation_on || p->hue_on;
	for (int k = 0; k < 3; k++) {
		a.k[k] = (float)(1.0 / (255.0 * c->std[k]));
		a.o[k] = (float)(-(double)c->mean[k] / c->std[k]);
	}
	a.cols = xmalloc((size_t)p->win_w * sizeof(*a.cols));
	for (int x = 0; x < p->win_w; x++)
		a.cols[x] = bilinear_tap_at(sx, p->x0 + (p->flip ? p->win_w - 1 - x : x), img->w);
	for (int y = 0; y < p->win_h; y++)
		image_row(&a, out, y);
	for (int k = 0; k < 3; k++)
		memset(out + k * plane + done, 0, (plane - done) * sizeof(float));
	free(a.cols);
}

static void label_pass(const struct augment_params *p, const struct label_image *lab,
		       uint8_t *out)
{
	double sx = (double)lab->w / p->scaled_w, sy = (double)lab->h / p->scaled_h;
	int *cols = xmalloc((size_t)p->win_w * sizeof(int));

	for (int x = 0; x < p->win_w; x++)
		cols[x] = nearest_src(p->x0 + (p->flip ? p->win_w - 1 - x : x), sx, lab->w);
	for (int y = 0; y < p->win_h; y++) {
		const uint8_t *row = lab->u8 + (size_t)nearest_src(p->y0 + y, sy, lab->h) * lab->w;
		uint8_t *o = out + (size_t)y * p->out_w;

		for (int x = 0; x < p->win_w; x++)
			o[x] = row[cols[x]];
		memset(o + p->win_w, CLASS_IGNORE, (size_t)(p->out_w - p->win_w));
	}
	memset(out + (size_t)p->win_h * p->out_w, CLASS_IGNORE,
	       (size_t)(p->out_h - p->win_h) * p->out_w);
	free(cols);
}

int augment_apply(const struct augment_config *c, const struct augment_params *p,
		  const struct image *img, const struct label_image *lab, float *out,
		  uint8_t *out_lab)
{
	bool labelled = lab && (lab->u8 || lab->u16);

	CHECK(img->w > 0 && img->h > 0 && img->rgb);
	CHECK(p->win_w >= 1 && p->win_w <= p->out_w && p->win_h >= 1 && p->win_h <= p->out_h);
	CHECK(p->x0 >= 0 && p->x0 + p->win_w <= p->scaled_w);
	CHECK(p->y0 >= 0 && p->y0 + p->win_h <= p->scaled_h);
	if (labelled && lab->bits != 8)
		return kn_error(KN_EMISMATCH, "label of %d bits (class labels are 8-bit)",
				lab->bits);
	if (labelled && (lab->w != img->w || lab->h != img->h))
		return kn_error(KN_EMISMATCH, "label is %dx%d but the image is %dx%d", lab->w,
				lab->h, img->w, img->h);
	image_pass(c, p, img, out);
	if (!out_lab)
		return KN_OK;
	if (labelled)
		label_pass(p, lab, out_lab);
	else
		memset(out_lab, CLASS_IGNORE, (size_t)p->out_w * p->out_h);
	return KN_OK;
}

int augment_sample(const struct augment_config *c, const struct image *img,
		   const struct label_image *lab, struct rng *r, float *out, uint8_t *out_lab,
		   struct augment_params *p)
{
	struct augment_params local;

	if (!p)
		p = &local;
	augment_draw(c, img, lab, r, p);
	return augment_apply(c, p, img, lab, out, out_lab);
}
