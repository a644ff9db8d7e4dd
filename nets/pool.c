/*
 * Max pooling. See pool.h.
 *
 * Padding is never materialized: each window is clamped to the real rows and columns,
 * which is what -inf padding amounts to. OpenMP runs over (image, channel) planes; a
 * plane's outputs, and in backward its input gradient, belong to one thread, so the
 * overlapping windows of a 3x3 stride-2 pool scatter their gradients in a fixed order
 * and the result does not depend on the thread count.
 */
#include "nets/pool.h"

#include "io/error.h"

#include <limits.h>
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

/* One plane: in (h, w) -> out (ho, wo), argmax (ho, wo) or NULL. */
static void maxpool_plane(float *out, int32_t *argmax, const float *in,
			  const struct pool_geom *g)
{
	for (int oy = 0; oy < g->ho; oy++) {
		int y0 = oy * g->sh - g->ph;
		int y1 = imin(y0 + g->kh, g->h);

		y0 = imax(y0, 0);
		for (int ox = 0; ox < g->wo; ox++) {
			int x0 = ox * g->sw - g->pw;
			int x1 = imin(x0 + g->kw, g->w);
			int best_at;
			float best = -INFINITY;

			x0 = imax(x0, 0);
			best_at = y0 * g->w + x0;
			for (int y = y0; y < y1; y++) {
				for (int x = x0; x < x1; x++) {
					float v = in[y * g->w + x];

					/* Strictly greater: the first maximum keeps the gradient. */
					if (v > best || isnan(v)) {
						best = v;
						best_at = y * g->w + x;
					}
				}
			}
			out[oy * g->wo + ox] = best;
			if (argmax)
				argmax[oy * g->wo + ox] = best_at;
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
