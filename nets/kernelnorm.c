/*
 * KernelNorm, general and 1x1 forms. See kernelnorm.h.
 *
 * Notation: a unit has M elements x_e with keep factors f_e (1/(1-p) or 0 when masked,
 * 1 otherwise) and dropped values d_e = x_e * f_e;
 *     mu = sum(d)/M,  var = sum((d - mu)^2)/M + c * sum(x^2)/M,  s = sqrt(var + eps),
 *     y_e = (x_e - mu) / s,
 * with c the expected-mode factor (0 outside KNORM_EVAL_EXPECTED). The variance is taken in
 * two passes (the unit is at hand), so it is never negative.
 *
 * The general form is written for clarity (the networks only use the 1x1 form and
 * KNConv): one unit at a time, statistics in double. Its backward first reduces each
 * unit to (dmu, dvar), then each (n, c) plane gathers its pixels' gradients from every
 * unit that covers them, in a fixed order, so overlapping windows need no atomics and
 * the result does not depend on the thread count. The 1x1 form runs on contiguous
 * pixels in float; its two passes keep the variance accurate.
 */
#include "nets/kernelnorm.h"
#include "io/error.h"

#include <math.h>
#include <stdbool.h>

/*
 * Loops touching fewer elements than this run on one thread: waking threads and the
 * closing barrier cost more than such loops. Results are the same either way.
 */
#define KNORM_PARALLEL_MIN 16384
#define KN_PARALLEL(work) ((size_t)(work) >= KNORM_PARALLEL_MIN)

struct kernelnorm_geom kernelnorm_geom_make(int n, int c, int h, int w, int kh, int kw,
					    int sh, int sw, const int pad[4], float p)
{
	struct kernelnorm_geom g = {
		.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
		.pad_left = pad[0], .pad_right = pad[1], .pad_top = pad[2], .pad_bottom = pad[3],
		.p = p, .eps = KNORM_EPS,
	};

	CHECK(n > 0 && c > 0 && h > 0 && w > 0 && kh > 0 && kw > 0 && sh > 0 && sw > 0);
	CHECK(pad[0] >= 0 && pad[1] >= 0 && pad[2] >= 0 && pad[3] >= 0);
	CHECK(p >= 0 && p < 1);
	g.hp = h + g.pad_top + g.pad_bottom;
	g.wp = w + g.pad_left + g.pad_right;
	CHECK(g.hp >= kh && g.wp >= kw);
	g.ho = (g.hp - kh) / sh + 1;
	g.wo = (g.wp - kw) / sw + 1;
	return g;
}

struct kernelnorm_geom kernelnorm_geom_1x1(int n, int c, int h, int w, float p)
{
	static const int no_pad[4] = {0, 0, 0, 0};

	return kernelnorm_geom_make(n, c, h, w, 1, 1, 1, 1, no_pad, p);
}

size_t kernelnorm_out_count(const struct kernelnorm_geom *g)
{
	return (size_t)g->n * g->c * g->ho * g->kh * g->wo * g->kw;
}

size_t kernelnorm_unit_count(const struct kernelnorm_geom *g)
{
	return (size_t)g->n * g->ho * g->wo;
}

size_t kernelnorm_workspace_floats(const struct kernelnorm_geom *g)
{
	return 2 * kernelnorm_unit_count(g);
}

static float keep_scale(float p)
{
	return 1.0f / (1.0f - p);
}

/* The statistics-dropout setting of one call, as the element loops need it. */
struct drop_setting {
	const uint8_t *keep; /* NULL without a mask */
	float scale;         /* 1/(1-p) */
	double cexp;         /* the expected-mode factor c */
};

static struct drop_setting drop_setting_of(const struct knorm_cache *cache,
					   const struct kernelnorm_geom *g)
{
	struct drop_setting d = {
		.keep = dropout_uses_mask(cache->mode, g->p) ? cache->keep : NULL,
		.scale = keep_scale(g->p),
		.cexp = dropout_expected_factor(cache->mode, g->p,
						(size_t)g->c * g->kh * g->kw),
	};

	CHECK(d.keep || !dropout_uses_mask(cache->mode, g->p));
	return d;
}

/* One element of a unit: its input value (0 in the padding), keep factor, tile index. */
struct unit_elem {
	float x, f;
	size_t t;
	bool inside;
	size_t src; /* index into in, when inside */
};

/* Element e = (c*kh + a)*kw + b of unit (n, i, j). */
static struct unit_elem unit_elem_at(const float *in, struct drop_setting ds,
				     const struct kernelnorm_geom *g, int n, int i, int j,
				     int e)
{
	int kk = g->kh * g->kw;
	int c = e / kk, a = e % kk / g->kw, b = e % g->kw;
	int y = i * g->sh + a - g->pad_top, x = j * g->sw + b - g->pad_left;
	size_t th = (size_t)g->ho * g->kh, tw = (size_t)g->wo * g->kw;
	struct unit_elem u;

	u.t = (((size_t)n * g->c + c) * th + (size_t)i * g->kh + a) * tw + (size_t)j * g->kw + b;
	u.f = ds.keep ? (ds.keep[u.t] ? ds.scale : 0.0f) : 1.0f;
	u.inside = y >= 0 && y < g->h && x >= 0 && x < g->w;
	u.src = u.inside ? (((size_t)n * g->c + c) * g->h + y) * g->w + x : 0;
	u.x = u.inside ? in[u.src] : 0.0f;
	return u;
}

/* Statistics of unit (n, i, j) into the cache, then its normalized values into out. */
static void unit_forward(float *out, const struct knorm_cache *cache, const float *in,
			 struct drop_setting ds, const struct kernelnorm_geom *g, int n, int i,
			 int j)
{
	size_t q = ((size_t)n * g->ho + i) * g->wo + j;
	int m = g->c * g->kh * g->kw;
	double sum = 0, sq = 0, dev = 0, mean;
	float mu, s;

	for (int e = 0; e < m; e++) {
		struct unit_elem u = unit_elem_at(in, ds, g, n, i, j, e);

		sum += (double)u.x * u.f;
		sq += (double)u.x * u.x;
	}
	mean = sum / m;
	for (int e = 0; e < m; e++) {
		struct unit_elem u = unit_elem_at(in, ds, g, n, i, j, e);
		double d = (double)u.x * u.f - mean;

		dev += d * d;
	}
	mu = (float)mean;
	s = (float)sqrt(dev / m + ds.cexp * sq / m + g->eps);
	cache->mu[q] = mu;
	cache->s[q] = s;
	for (int e = 0; e < m; e++) {
		struct unit_elem u = unit_elem_at(in, ds, g, n, i, j, e);

		out[u.t] = (u.x - mu) / s;
	}
}

/*
 * out   (n, c, ho*kh, wo*kw)
 * cache mu, s (n, ho, wo) written; keep (n, c, ho*kh, wo*kw) read when the mode uses it
 * in    (n, c, h, w)
 */
void kernelnorm_forward(float *out, const struct knorm_cache *cache, const float *in,
			const struct kernelnorm_geom *g)
{
	struct drop_setting ds = drop_setting_of(cache, g);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL(kernelnorm_out_count(g)))
	for (int n = 0; n < g->n; n++)
		for (int i = 0; i < g->ho; i++)
			for (int j = 0; j < g->wo; j++)
				unit_forward(out, cache, in, ds, g, n, i, j);
}

/*
 * ws[2q] = dL/dmu, ws[2q+1] = dL/dvar of unit q = (n, i, j), from
 *     y_e = (x_e - mu) / s:  dmu = -sum(g_e) / s,  dvar = -sum(g_e * y_e) / (2 s^2).
 */
static void unit_grads(float *ws, const float *dout, const struct knorm_cache *cache,
		       const float *in, const struct kernelnorm_geom *g, int n, int i, int j)
{
	const struct drop_setting no_mask = {.keep = NULL, .scale = 1, .cexp = 0};
	size_t q = ((size_t)n * g->ho + i) * g->wo + j;
	double mu = cache->mu[q], s = cache->s[q], sg = 0, sgy = 0;
	int m = g->c * g->kh * g->kw;

	for (int e = 0; e < m; e++) {
		struct unit_elem u = unit_elem_at(in, no_mask, g, n, i, j, e);

		sg += dout[u.t];
		sgy += dout[u.t] * ((u.x - mu) / s);
	}
	ws[2 * q] = (float)(-sg / s);
	ws[2 * q + 1] = (float)(-sgy / (2 * s * s));
}

/*
 * Forward: y_e = (x_e - mu) / s, mu = sum(f x)/M, var = sum((f x - mu)^2)/M + c sum(x^2)/M.
 * dx_e = g_e/s + dmu * f_e/M + dvar * (2 (d_e - mu) f_e/M + 2 c x_e/M); the mu term of
 * dvar/dx vanishes because sum(d - mu) = 0. This adds the terms of plane (n, ch) from
 * every unit, in unit order.
 */
static void plane_grads(float *din, const float *dout, const struct knorm_cache *cache,
			const float *in, const float *ws, struct drop_setting ds,
			const struct kernelnorm_geom *g, int n, int ch)
{
	int kk = g->kh * g->kw, m = g->c * kk;

	for (int i = 0; i < g->ho; i++) {
		for (int j = 0; j < g->wo; j++) {
			size_t q = ((size_t)n * g->ho + i) * g->wo + j;
			double mu = cache->mu[q], s = cache->s[q];
			double dmu = ws[2 * q], dvar = ws[2 * q + 1];

			for (int e = ch * kk; e < (ch + 1) * kk; e++) {
				struct unit_elem u = unit_elem_at(in, ds, g, n, i, j, e);
				double d = (double)u.x * u.f;
				double dvar_dx = 2 * ((d - mu) * u.f + ds.cexp * u.x) / m;

				if (u.inside)
					din[u.src] += (float)(dout[u.t] / s + dmu * u.f / m +
							      dvar * dvar_dx);
			}
		}
	}
}

/*
 * din   (n, c, h, w), accumulated
 * dout  (n, c, ho*kh, wo*kw)
 * cache, in, g as given to forward; ws kernelnorm_workspace_floats(g)
 */
void kernelnorm_backward(float *din, const float *dout, const struct knorm_cache *cache,
			 const float *in, const struct kernelnorm_geom *g, float *ws)
{
	struct drop_setting ds = drop_setting_of(cache, g);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL(kernelnorm_out_count(g)))
	for (int n = 0; n < g->n; n++)
		for (int i = 0; i < g->ho; i++)
			for (int j = 0; j < g->wo; j++)
				unit_grads(ws, dout, cache, in, g, n, i, j);
	/* Each (n, c) plane owns its pixels: no two threads add to the same one. */
#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL(kernelnorm_out_count(g)))
	for (int n = 0; n < g->n; n++)
		for (int c = 0; c < g->c; c++)
			plane_grads(din, dout, cache, in, ws, ds, g, n, c);
}

/*
 * The 1x1 form works on chunks of KN1X1_CHUNK pixels of one image: channel loops run
 * over contiguous pixels (vectorized), per-pixel sums stay in small local arrays.
 */
#define KN1X1_CHUNK 64

static void check_1x1(const struct kernelnorm_geom *g)
{
	CHECK(g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1);
	CHECK(g->pad_left == 0 && g->pad_right == 0 && g->pad_top == 0 && g->pad_bottom == 0);
}

/* Dropped value x * f: f is keep * 1/(1-p) with a mask, 1 without. */
static inline float dropped(float x, struct drop_setting ds, size_t i)
{
	return ds.keep ? x * ((float)ds.keep[i] * ds.scale) : x;
}

/* Statistics and output of pixels [p0, p0 + len) of image n. */
static void pixels_forward(float *out, const struct knorm_cache *cache, const float *in,
			   struct drop_setting ds, const struct kernelnorm_geom *g, int n,
			   size_t p0, int len)
{
	size_t hw = (size_t)g->h * g->w, base = (size_t)n * g->c * hw + p0;
	float sum[KN1X1_CHUNK] = {0}, dev[KN1X1_CHUNK] = {0}, sq[KN1X1_CHUNK] = {0};
	float mu[KN1X1_CHUNK], s[KN1X1_CHUNK];
	float m = (float)g->c, cexp = (float)ds.cexp;

	for (int c = 0; c < g->c; c++) {
		const float *x = in + base + c * hw;

		for (int k = 0; k < len; k++)
			sum[k] += dropped(x[k], ds, base + c * hw + k);
	}
	for (int k = 0; k < len; k++)
		mu[k] = sum[k] / m;
	for (int c = 0; c < g->c; c++) {
		const float *x = in + base + c * hw;

		for (int k = 0; k < len; k++) {
			float d = dropped(x[k], ds, base + c * hw + k) - mu[k];

			dev[k] += d * d;
			sq[k] += x[k] * x[k];
		}
	}
	for (int k = 0; k < len; k++) {
		s[k] = sqrtf(dev[k] / m + cexp * (sq[k] / m) + g->eps);
		cache->mu[(size_t)n * hw + p0 + k] = mu[k];
		cache->s[(size_t)n * hw + p0 + k] = s[k];
	}
	for (int c = 0; c < g->c; c++) {
		const float *x = in + base + c * hw;
		float *y = out + base + c * hw;

		for (int k = 0; k < len; k++)
			y[k] = (x[k] - mu[k]) / s[k];
	}
}

/* out, in, keep (n, c, h, w); mu, s (n, h, w). */
void kernelnorm1x1_forward(float *out, const struct knorm_cache *cache, const float *in,
			   const struct kernelnorm_geom *g)
{
	struct drop_setting ds = drop_setting_of(cache, g);
	size_t hw = (size_t)g->h * g->w;
	long chunks = (long)((hw + KN1X1_CHUNK - 1) / KN1X1_CHUNK);

	check_1x1(g);
#pragma omp parallel for schedule(static) if (KN_PARALLEL(kernelnorm_out_count(g)))
	for (long t = 0; t < g->n * chunks; t++) {
		size_t p0 = (size_t)(t % chunks) * KN1X1_CHUNK;
		int len = hw - p0 < KN1X1_CHUNK ? (int)(hw - p0) : KN1X1_CHUNK;

		pixels_forward(out, cache, in, ds, g, (int)(t / chunks), p0, len);
	}
}

/*
 * dx += g/s + f (b1 + b2 (x f - mu)) + b3 x over len pixels of one channel; k is NULL
 * without a mask (f = 1). restrict: the uint8 flags do not alias dx, so it vectorizes.
 */
static void pixel_row_grads(float *restrict dx, const float *restrict gy,
			    const float *restrict x, const uint8_t *restrict k, float scale,
			    const float *restrict mu, const float *restrict rs,
			    const float *restrict b1, const float *restrict b2,
			    const float *restrict b3, int len)
{
	for (int i = 0; i < len; i++) {
		float f = k ? (float)k[i] * scale : 1.0f;

		dx[i] += gy[i] * rs[i] + f * (b1[i] + b2[i] * (x[i] * f - mu[i])) + b3[i] * x[i];
	}
}

/* See plane_grads for the formula: here per pixel, across channels. */
static void pixels_backward(float *din, const float *dout, const struct knorm_cache *cache,
			    const float *in, struct drop_setting ds,
			    const struct kernelnorm_geom *g, int n, size_t p0, int len)
{
	size_t hw = (size_t)g->h * g->w, base = (size_t)n * g->c * hw + p0;
	const float *mu = cache->mu + (size_t)n * hw + p0, *s = cache->s + (size_t)n * hw + p0;
	float sg[KN1X1_CHUNK] = {0}, sgx[KN1X1_CHUNK] = {0};
	float rs[KN1X1_CHUNK], b1[KN1X1_CHUNK], b2[KN1X1_CHUNK], b3[KN1X1_CHUNK];
	float m = (float)g->c, cexp = (float)ds.cexp;

	for (int c = 0; c < g->c; c++) {
		const float *x = in + base + c * hw, *gy = dout + base + c * hw;

		for (int k = 0; k < len; k++) {
			sg[k] += gy[k];
			sgx[k] += gy[k] * (x[k] - mu[k]);
		}
	}
	for (int k = 0; k < len; k++) {
		/* dmu = -sum(g)/s, dvar = -sum(g (x - mu)) / (2 s^3) */
		float dmu = -sg[k] / s[k], dvar = -sgx[k] / (2 * s[k] * s[k] * s[k]);

		rs[k] = 1 / s[k];
		b1[k] = dmu / m;
		b2[k] = 2 * dvar / m;
		b3[k] = 2 * cexp * dvar / m;
	}
	for (int c = 0; c < g->c; c++) {
		size_t off = base + c * hw;

		pixel_row_grads(din + off, dout + off, in + off, ds.keep ? ds.keep + off : NULL,
				ds.scale, mu, rs, b1, b2, b3, len);
	}
}

/* din (accumulated), dout, in, keep (n, c, h, w); mu, s (n, h, w). */
void kernelnorm1x1_backward(float *din, const float *dout, const struct knorm_cache *cache,
			    const float *in, const struct kernelnorm_geom *g)
{
	struct drop_setting ds = drop_setting_of(cache, g);
	size_t hw = (size_t)g->h * g->w;
	long chunks = (long)((hw + KN1X1_CHUNK - 1) / KN1X1_CHUNK);

	check_1x1(g);
#pragma omp parallel for schedule(static) if (KN_PARALLEL(kernelnorm_out_count(g)))
	for (long t = 0; t < g->n * chunks; t++) {
		size_t p0 = (size_t)(t % chunks) * KN1X1_CHUNK;
		int len = hw - p0 < KN1X1_CHUNK ? (int)(hw - p0) : KN1X1_CHUNK;

		pixels_backward(din, dout, cache, in, ds, g, (int)(t / chunks), p0, len);
	}
}
