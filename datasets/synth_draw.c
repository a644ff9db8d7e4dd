/*
 * The generator's drawing layer: hashed value noise, convex shapes filled at pixel
 * centres with a textured paint, shadows that darken without relabelling, and the
 * photographic finish (blur, colour balance, contrast, vignette, gamma, sensor noise,
 * JPEG round trip). See synth_internal.h.
 *
 * Everything is a pure function of its arguments (noise comes from hashes of the seed
 * and the pixel or lattice coordinates), so frames never depend on threads.
 */
#include "datasets/synth_internal.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct synth_paint synth_paint_make(const float rgb[3], int label, int inst, uint32_t seed)
{
	struct synth_paint p = {
	    .rgb = {rgb[0], rgb[1], rgb[2]},
	    .label = (uint8_t)label,
	    .inst = (uint16_t)inst,
	    .grain = 0.04f,
	    .mottle_px = 8,
	    .seed = seed,
	};
	return p;
}

uint32_t synth_hash(uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t h =
	    a * 0x9e3779b1u ^ (b + 0x7f4a7c15u) * 0x85ebca77u ^ (c + 0x165667b1u) * 0xc2b2ae3du;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 12;
	h *= 0x297a2d39u;
	h ^= h >> 15;
	return h;
}

float synth_hash01(uint32_t seed, int32_t x, int32_t y)
{
	return (float)(synth_hash(seed, (uint32_t)x, (uint32_t)y) >> 8) * (1.0f / 16777216.0f);
}

/* A cheaper hash for the lattice of value noise, four per sample. */
static float lattice(uint32_t seed, int32_t x, int32_t y)
{
	uint32_t h = ((uint32_t)x * 0x8da6b343u) ^ ((uint32_t)y * 0xd8163841u) ^ seed;

	h ^= h >> 15;
	h *= 0x2c1b3c6du;
	h ^= h >> 13;
	return (float)(h >> 8) * (1.0f / 16777216.0f);
}

float synth_noise(uint32_t seed, float x, float y)
{
	float fx, fy, tx, ty, a, b, c, d;
	int32_t ix, iy;

	/* Keeps the lattice index representable (and NaN out of the conversion). */
	x = x > -1e6f ? (x < 1e6f ? x : 1e6f) : -1e6f;
	y = y > -1e6f ? (y < 1e6f ? y : 1e6f) : -1e6f;
	fx = floorf(x);
	fy = floorf(y);
	ix = (int32_t)fx;
	iy = (int32_t)fy;
	tx = x - fx;
	ty = y - fy;
	tx = tx * tx * (3 - 2 * tx);
	ty = ty * ty * (3 - 2 * ty);
	seed *= 0xcb1ab31fu;
	a = lattice(seed, ix, iy);
	b = lattice(seed, ix + 1, iy);
	c = lattice(seed, ix, iy + 1);
	d = lattice(seed, ix + 1, iy + 1);
	return a + (b - a) * tx + (c - a) * ty + (a - b - c + d) * tx * ty;
}

float synth_fbm(uint32_t seed, float x, float y, int octaves)
{
	float sum = 0, amp = 1, norm = 0;

	for (int o = 0; o < octaves; o++) {
		sum += amp * synth_noise(seed + 7919u * (uint32_t)o, x, y);
		norm += amp;
		amp *= 0.5f;
		x *= 2.03f;
		y *= 2.03f;
	}
	return sum / norm;
}

/* ---- shapes ---- */

struct span_ctx {
	const struct synth_paint *paint;
	float shade;
	float y0, y1; /* vertical extent of the shape, for top_light */
};

static void paint_pixel(struct synth_canvas *cv, int x, int y, const struct span_ctx *c)
{
	const struct synth_paint *p = c->paint;
	float k = 1, rgb[3];

	if (p->grain > 0)
		k *= 1 + p->grain * (2 * synth_hash01(p->seed, x, y) - 1);
	if (p->mottle > 0)
		k *= 1 + p->mottle * (2 * synth_noise(p->seed + 1, (float)x / p->mottle_px,
						      (float)y / p->mottle_px) -
				      1);
	if (p->top_light != 0 && c->y1 > c->y0)
		k *= 1 + p->top_light * (0.5f - ((float)y + 0.5f - c->y0) / (c->y1 - c->y0));
	for (int i = 0; i < 3; i++)
		rgb[i] = p->rgb[i] * k;
	synth_put(cv, x, y, rgb, p->label, p->inst);
}

static void fill_span(struct synth_canvas *cv, int y, int x0, int x1, const struct span_ctx *c)
{
	if (c->paint) {
		for (int x = x0; x <= x1; x++)
			paint_pixel(cv, x, y, c);
		return;
	}
	for (int x = x0; x <= x1; x++) {
		size_t i = (size_t)y * (size_t)cv->w + (size_t)x;
		float *px = cv->rgb + 3 * i;

		if (cv->label[i] != LBL_ROAD && cv->label[i] != LBL_SIDEWALK &&
		    cv->label[i] != LBL_TERRAIN)
			continue;
		px[0] *= c->shade;
		px[1] *= c->shade;
		px[2] *= c->shade;
	}
}

/* Clamps a float coordinate to an int range without overflowing the conversion. */
static int clampi(float v, int lo, int hi)
{
	if (!(v > (float)lo))
		return lo;
	if (v > (float)hi)
		return hi;
	return (int)v;
}

/*
 * Fills the pixels whose centres lie in the convex polygon: each edge bounds the row's
 * span from one side, so a row costs n divisions instead of n tests per pixel.
 */
static void polygon_spans(struct synth_canvas *cv, const float *xy, int n, struct span_ctx *c)
{
	float area = 0, ymin = xy[1], ymax = xy[1];
	int ya, yb;

	for (int i = 0; i < n; i++) {
		const float *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);

		area += a[0] * b[1] - b[0] * a[1];
		ymin = fminf(ymin, a[1]);
		ymax = fmaxf(ymax, a[1]);
	}
	if (!(fabsf(area) > 1e-6f))
		return;
	c->y0 = ymin;
	c->y1 = ymax;
	ya = clampi(ceilf(ymin - 0.5f), 0, cv->h);
	yb = clampi(floorf(ymax - 0.5f), -1, cv->h - 1);
	for (int y = ya; y <= yb; y++) {
		float py = (float)y + 0.5f, lo = -1e9f, hi = 1e9f;

		for (int i = 0; i < n; i++) {
			const float *a = xy + 2 * i, *b = xy + 2 * ((i + 1) % n);
			float s = area > 0 ? 1.0f : -1.0f;
			/* inside: s * ((bx - ax) (py - ay) - (by - ay) (px - ax)) >= 0 */
			float c1 = -s * (b[1] - a[1]);
			float c0 = s * ((b[0] - a[0]) * (py - a[1]) + (b[1] - a[1]) * a[0]);

			if (c1 == 0) {
				if (c0 < 0)
					lo = 1e9f;
			} else if (c1 > 0) {
				lo = fmaxf(lo, -c0 / c1);
			} else {
				hi = fminf(hi, -c0 / c1);
			}
		}
		if (lo <= hi)
			fill_span(cv, y, clampi(ceilf(lo - 0.5f), 0, cv->w),
				  clampi(floorf(hi - 0.5f), -1, cv->w - 1), c);
	}
}

void synth_fill_polygon(struct synth_canvas *cv, const float *xy, int n,
			const struct synth_paint *p)
{
	struct span_ctx c = {.paint = p};

	polygon_spans(cv, xy, n, &c);
}

void synth_shade_polygon(struct synth_canvas *cv, const float *xy, int n, float factor)
{
	struct span_ctx c = {.shade = factor};

	polygon_spans(cv, xy, n, &c);
}

void synth_fill_rect(struct synth_canvas *cv, float x0, float y0, float x1, float y1,
		     const struct synth_paint *p)
{
	float xy[8] = {x0, y0, x1, y0, x1, y1, x0, y1};

	synth_fill_polygon(cv, xy, 4, p);
}

/*
 * Ellipses and blobs: every pixel centre of the bounding box is tested; rough > 0 makes
 * the radius wobble with smooth noise of the direction (foliage, hedges).
 */
static void round_shape(struct synth_canvas *cv, float cx, float cy, float rx, float ry,
			float rough, const struct synth_paint *p)
{
	struct span_ctx c = {.paint = p, .y0 = cy - ry, .y1 = cy + ry};
	float grow = 1 + rough;
	int x0 = clampi(floorf(cx - rx * grow), 0, cv->w);
	int x1 = clampi(ceilf(cx + rx * grow), -1, cv->w - 1);
	int y0 = clampi(floorf(cy - ry * grow), 0, cv->h);
	int y1 = clampi(ceilf(cy + ry * grow), -1, cv->h - 1);

	if (!(rx > 0.05f && ry > 0.05f))
		return;
	for (int y = y0; y <= y1; y++)
		for (int x = x0; x <= x1; x++) {
			float dx = ((float)x + 0.5f - cx) / rx,
			      dy = ((float)y + 0.5f - cy) / ry;
			float d2 = dx * dx + dy * dy, lim = 1;

			if (rough > 0 && d2 > 1e-6f) {
				float d = sqrtf(d2);
				float nz = synth_noise(p->seed + 3, 3 + 2.2f * dx / d,
						       3 + 2.2f * dy / d);

				lim = 1 + rough * (2 * nz - 1);
				lim *= lim;
			}
			if (d2 <= lim)
				paint_pixel(cv, x, y, &c);
		}
}

void synth_fill_ellipse(struct synth_canvas *cv, float cx, float cy, float rx, float ry,
			const struct synth_paint *p)
{
	round_shape(cv, cx, cy, rx, ry, 0, p);
}

void synth_fill_blob(struct synth_canvas *cv, float cx, float cy, float r, float rough,
		     const struct synth_paint *p)
{
	round_shape(cv, cx, cy, r, r, rough, p);
}

/* ---- the photographic finish ---- */

/* Along rows: dst pixel x = sum of k[t + r] src pixel x + t, edges repeated. */
static void blur_rows(float *dst, const float *src, int w, int h, const float *k, int r)
{
	for (int y = 0; y < h; y++) {
		const float *s = src + 3 * (size_t)y * (size_t)w;
		float *d = dst + 3 * (size_t)y * (size_t)w;

		for (int x = 0; x < w; x++) {
			bool inside = x >= r && x < w - r;

			for (int c = 0; c < 3; c++) {
				float sum = 0;

				for (int t = -r; t <= r; t++) {
					int xx = x + t;

					if (!inside)
						xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;

					sum += k[t + r] * s[3 * xx + c];
				}
				d[3 * x + c] = sum;
			}
		}
	}
}

/* Along columns, a whole row at a time (contiguous, so it vectorises). */
static void blur_columns(float *dst, const float *src, int w, int h, const float *k, int r)
{
	size_t row = 3 * (size_t)w;

	for (int y = 0; y < h; y++) {
		float *d = dst + (size_t)y * row;

		for (size_t i = 0; i < row; i++)
			d[i] = 0;
		for (int t = -r; t <= r; t++) {
			int yy = y + t < 0 ? 0 : y + t >= h ? h - 1 : y + t;
			const float *s = src + (size_t)yy * row;

			for (size_t i = 0; i < row; i++)
				d[i] += k[t + r] * s[i];
		}
	}
}

/* Separable binomial blur of the (h, w, 3) buffer in place: 3 or 5 taps. */
static void blur(float *rgb, int w, int h, int taps)
{
	static const float k3[3] = {0.25f, 0.5f, 0.25f};
	static const float k5[5] = {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f};
	float *tmp = xmalloc((size_t)w * (size_t)h * 3 * sizeof(float));

	blur_rows(tmp, rgb, w, h, taps == 3 ? k3 : k5, taps / 2);
	blur_columns(rgb, tmp, w, h, taps == 3 ? k3 : k5, taps / 2);
	free(tmp);
}

static void jpeg_round_trip(uint8_t *rgb, int w, int h, int quality)
{
	struct image img = {.w = w, .h = h, .rgb = rgb}, back;
	unsigned char *buf;
	size_t len;

	/* Both can only fail on memory exhaustion, for an image this program made. */
	CHECK(image_encode_jpeg(&img, quality, &buf, &len) == 0);
	CHECK(image_decode(buf, len, "synthetic frame", IMAGE_MAX_PIXELS, &back) == 0);
	CHECK(back.w == w && back.h == h);
	memcpy(rgb, back.rgb, (size_t)w * (size_t)h * 3);
	image_free(&back);
	free(buf);
}

void synth_finish_image(const struct synth_canvas *cv, const struct synth_finish *fin,
			uint8_t *rgb)
{
	size_t n = (size_t)cv->w * (size_t)cv->h * 3;
	float *buf = xmalloc(n * sizeof(float)), lut[1025];
	float hx = 0.5f * (float)cv->w, hy = 0.5f * (float)cv->h;

	memcpy(buf, cv->rgb, n * sizeof(float));
	if (fin->blur)
		blur(buf, cv->w, cv->h, fin->blur == 1 ? 3 : 5);
	for (int i = 0; i <= 1024; i++)
		lut[i] = 255.0f * powf((float)i / 1024.0f, fin->gamma);
	for (int y = 0; y < cv->h; y++)
		for (int x = 0; x < cv->w; x++) {
			float dx = ((float)x + 0.5f - hx) / hx,
			      dy = ((float)y + 0.5f - hy) / hy;
			float vig = 1 - fin->vignette * 0.5f * (dx * dx + dy * dy);
			size_t i = 3 * ((size_t)y * (size_t)cv->w + (size_t)x);

			/* two hashes give three triangular noise values of 10-bit halves */
			uint32_t h1 = synth_hash(fin->seed, (uint32_t)x, (uint32_t)y);
			uint32_t h2 = synth_hash(fin->seed + 1, (uint32_t)x, (uint32_t)y);

			for (int c = 0; c < 3; c++) {
				float v = buf[i + (size_t)c] * fin->gain[c] * vig;
				float nz = (float)((h1 >> (10 * c)) & 1023) / 1024.0f +
					   (float)((h2 >> (10 * c)) & 1023) / 1024.0f - 1;

				v = (v - 0.5f) * fin->contrast + 0.5f + fin->brightness;
				v = v > 0 ? (v < 1 ? v : 1) : 0;
				v = lut[(int)(v * 1024.0f + 0.5f)] + fin->noise * 255.0f * nz +
				    0.5f;
				rgb[i + (size_t)c] = (uint8_t)(v > 0 ? (v < 255 ? v : 255) : 0);
			}
		}
	free(buf);
	if (fin->jpeg_quality > 0)
		jpeg_round_trip(rgb, cv->w, cv->h, fin->jpeg_quality);
}
