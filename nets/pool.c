/*
 * Max pooling. See pool.h.
 *
 * Padding is never materialized: each window is clamped to the real rows and columns,
 * which is what -inf padding amounts to. A window is scanned one input row at a time
 * (fold_row), which lets the stride-2 pools of the networks run as vectorized selects
 * on NaN-free planes (fold_row_stride2). OpenMP runs over (image, channel) planes; a
 * plane's outputs, and in backward its input gradient, belong to one thread, so the
 * overlapping windows of a 3x3 stride-2 pool scatter their gradients in a fixed order
 * and the result does not depend on the thread count.
 */
#include "nets/pool.h"

#include "io/error.h"

#include <limits.h>
#include <stdbool.h>
#include <math.h>
#include <stddef.h>

struct pool_geom pool_geom_make(int n, int c, int h, int w, int kh, int kw, int sh, int sw,
				int ph, int pw)
{
	struct pool_geom g = {
		.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
		.ph = ph, .pw = pw,
	};

	CHECK(n >= 1 && c >= 1 && h >= 1 && w >= 1);
	CHECK(kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1);
	CHECK(ph >= 0 && pw >= 0 && ph <= kh / 2 && pw <= kw / 2);
	CHECK(h + 2 * ph >= kh && w + 2 * pw >= kw);
	/* argmax holds a plane index as int32. */
	CHECK((long long)h * w <= INT32_MAX);
	g.ho = (h + 2 * ph - kh) / sh + 1;
	g.wo = (w + 2 * pw - kw) / sw + 1;
	return g;
}

static int imin(int a, int b)
{
	return a < b ? a : b;
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

/* The scan step: v replaces the running maximum if greater, and NaN always replaces it. */
static bool pool_takes(float v, float best)
{
	return v > best || isnan(v);
}

/*
 * The scan of one window, split by rows: input row y (row points to its start) is offered
 * to the running winners out[ox], argmax[ox] (NULL at inference) of outputs ox0..ox1 of
 * one output row. The window's part of the row is scanned left to right and the row's
 * winner replaces the running one if greater or NaN, which over the rows y0..y1 in order
 * is the row-major scan of the whole window. Windows may be cut by the row's ends.
 */
static void fold_row(float *out, int32_t *argmax, const float *row, int y, int ox0, int ox1,
		     const struct pool_geom *g)
{
	for (int ox = ox0; ox < ox1; ox++) {
		int x0 = imax(ox * g->sw - g->pw, 0), x1 = imin(ox * g->sw - g->pw + g->kw, g->w);
		int best_x = x0;
		float best = row[x0];

		for (int x = x0 + 1; x < x1; x++) {
			if (pool_takes(row[x], best)) {
				best = row[x];
				best_x = x;
			}
		}
		if (pool_takes(best, out[ox])) {
			out[ox] = best;
			if (argmax)
				argmax[ox] = y * g->w + best_x;
		}
	}
}

/* Outputs per piece of the stride-2 fast path (stack arrays of that size). */
#define POOL_PIECE 256

/*
 * fold_row for the stride-2 pools of the networks (3x3/2 and 2x2/2) over outputs whose
 * windows lie inside a row free of NaN. The row is split into its even and odd columns
 * so that every window reads contiguous arrays, the comparisons become selects and the
 * loops vectorize; the scalar scan's branches on unordered activations mispredict often
 * enough to make it several times slower. Without NaN the rule is a plain "greater", and
 * the index arithmetic gives the same first maximum as the scan.
 */
static void fold_row_stride2(float *restrict out, int32_t *restrict argmax,
			     const float *restrict row, int y, int ox0, int ox1,
			     const struct pool_geom *g)
{
	float even[POOL_PIECE + 1], odd[POOL_PIECE];

	for (int a = ox0; a < ox1; a += POOL_PIECE) {
		int n = imin(POOL_PIECE, ox1 - a), x0 = 2 * a - g->pw;
		const float *r = row + x0;
		float *o = out + a;

		for (int i = 0; i < n; i++) {
			even[i] = r[2 * i];
			odd[i] = r[2 * i + 1];
		}
		if (g->kw == 3)
			even[n] = r[2 * n];
		if (argmax && g->kw == 3) {
			int32_t *at = argmax + a;
			int base = y * g->w + x0;

			for (int i = 0; i < n; i++) {
				/* Greater wins; x offsets 0, 1, 2 within the window. */
				int t1 = odd[i] > even[i];
				float m = t1 ? odd[i] : even[i];
				int t2 = even[i + 1] > m;
				int t;

				m = t2 ? even[i + 1] : m;
				t = m > o[i];
				at[i] += t * (base + 2 * i + t1 + t2 * (2 - t1) - at[i]);
				o[i] = t ? m : o[i];
			}
		} else if (argmax) {
			int32_t *at = argmax + a;
			int base = y * g->w + x0;

			for (int i = 0; i < n; i++) {
				int t1 = odd[i] > even[i];
				float m = t1 ? odd[i] : even[i];
				int t = m > o[i];

				at[i] += t * (base + 2 * i + t1 - at[i]);
				o[i] = t ? m : o[i];
			}
		} else {
			for (int i = 0; i < n; i++) {
				float m = odd[i] > even[i] ? odd[i] : even[i];

				if (g->kw == 3)
					m = even[i + 1] > m ? even[i + 1] : m;
				o[i] = m > o[i] ? m : o[i];
			}
		}
	}
}

static bool has_nan(const float *x, size_t n)
{
	int found = 0;

	for (size_t i = 0; i < n; i++)
		found |= isnan(x[i]);
	return found;
}

/* One plane: in (h, w) -> out (ho, wo), argmax (ho, wo) or NULL. */
static void maxpool_plane(float *out, int32_t *argmax, const float *in,
			  const struct pool_geom *g)
{
	/* Outputs [lo, hi) have windows wholly inside the row. */
	int lo = imin((g->pw + g->sw - 1) / g->sw, g->wo);
	int hi = imax(imin((g->w + g->pw - g->kw) / g->sw + 1, g->wo), lo);
	bool fast = g->sw == 2 && (g->kw == 2 || g->kw == 3) &&
		    !has_nan(in, (size_t)g->h * g->w);

	for (int oy = 0; oy < g->ho; oy++) {
		int y0 = imax(oy * g->sh - g->ph, 0), y1 = imin(oy * g->sh - g->ph + g->kh, g->h);
		float *o = out + (size_t)oy * g->wo;
		int32_t *at = argmax ? argmax + (size_t)oy * g->wo : NULL;

		for (int ox = 0; ox < g->wo; ox++) {
			o[ox] = -INFINITY;
			if (at)
				at[ox] = y0 * g->w + imax(ox * g->sw - g->pw, 0);
		}
		for (int y = y0; y < y1; y++) {
			const float *row = in + (size_t)y * g->w;

			if (fast) {
				fold_row(o, at, row, y, 0, lo, g);
				fold_row_stride2(o, at, row, y, lo, hi, g);
				fold_row(o, at, row, y, hi, g->wo, g);
			} else {
				fold_row(o, at, row, y, 0, g->wo, g);
			}
		}
	}
}

/*
 * out    (n, c, ho, wo)
 * argmax (n, c, ho, wo) or NULL
 * in     (n, c, h, w)
 */
void maxpool_forward(float *out, int32_t *argmax, const float *in, const struct pool_geom *g)
{
	int planes = g->n * g->c;
	size_t in_plane = (size_t)g->h * g->w, out_plane = (size_t)g->ho * g->wo;

#pragma omp parallel for schedule(static)
	for (int p = 0; p < planes; p++)
		maxpool_plane(out + p * out_plane, argmax ? argmax + p * out_plane : NULL,
			      in + p * in_plane, g);
}

/*
 * din    (n, c, h, w)
 * dout   (n, c, ho, wo)
 * argmax (n, c, ho, wo)
 *
 * Differentiates out[oy * wo + ox] = in[argmax[oy * wo + ox]].
 */
void maxpool_backward(float *din, const float *dout, const int32_t *argmax,
		      const struct pool_geom *g)
{
	int planes = g->n * g->c;
	size_t in_plane = (size_t)g->h * g->w, out_plane = (size_t)g->ho * g->wo;

#pragma omp parallel for schedule(static)
	for (int p = 0; p < planes; p++) {
		float *di = din + p * in_plane;
		const float *d = dout + p * out_plane;
		const int32_t *a = argmax + p * out_plane;

		for (size_t i = 0; i < out_plane; i++)
			di[a[i]] += d[i];
	}
}
