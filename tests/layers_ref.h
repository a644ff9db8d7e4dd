/*
 * Double-precision reference forwards of the layers, written straight from their
 * definitions (one output at a time, no tables, no tiling), for the layer tests and the
 * whole-chain test. Header only (static inline), included by the test programs that
 * use it.
 */
#ifndef KNSEG_TESTS_LAYERS_REF_H
#define KNSEG_TESTS_LAYERS_REF_H

#include "nets/loss.h"
#include "nets/pool.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/*
 * out (n, c, ho, wo) = max over each window of x (n, c, h, w), padding -inf; argmax
 * (n, c, ho, wo), when not NULL, gets the plane index of the first maximum.
 */
static inline void ref_maxpool(double *out, int32_t *argmax, const double *x,
			       const struct pool_geom *g)
{
	size_t o = 0;

	for (int p = 0; p < g->n * g->c; p++) {
		for (int oy = 0; oy < g->ho; oy++) {
			for (int ox = 0; ox < g->wo; ox++, o++) {
				double best = -INFINITY;
				int32_t at = -1;

				for (int dy = 0; dy < g->kh; dy++) {
					for (int dx = 0; dx < g->kw; dx++) {
						int y = oy * g->sh - g->ph + dy;
						int xx = ox * g->sw - g->pw + dx;
						double v;

						if (y < 0 || y >= g->h || xx < 0 || xx >= g->w)
							continue;
						v = x[((size_t)p * g->h + y) * g->w + xx];
						if (v > best || at < 0) {
							best = v;
							at = y * g->w + xx;
						}
					}
				}
				out[o] = best;
				if (argmax)
					argmax[o] = at;
			}
		}
	}
}

/*
 * One axis of the bilinear rule: output index d of out reads i0 and i1 of in with
 * weights 1 - l1 and l1. The scale is a float division, as in PyTorch; the source
 * coordinate (dst + 0.5) * scale - 0.5, clamped at 0, is exact in double.
 */
static inline void ref_resize_taps(int d, int in, int out, int *i0, int *i1, double *l1)
{
	float scale = (float)in / (float)out;
	double s = (double)scale * (d + 0.5) - 0.5;

	if (s < 0)
		s = 0;
	*i0 = (int)floor(s);
	if (*i0 > in - 1)
		*i0 = in - 1;
	*i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
	*l1 = s - *i0;
}

/* out (planes, ho, wo) = bilinear resize of x (planes, h, w), align_corners = false. */
static inline void ref_resize(double *out, const double *x, int planes, int h, int w, int ho,
			      int wo)
{
	for (int p = 0; p < planes; p++) {
		const double *xp = x + (size_t)p * h * w;

		for (int y = 0; y < ho; y++) {
			for (int xx = 0; xx < wo; xx++) {
				int y0, y1, x0, x1;
				double ly, lx;

				ref_resize_taps(y, h, ho, &y0, &y1, &ly);
				ref_resize_taps(xx, w, wo, &x0, &x1, &lx);
				out[((size_t)p * ho + y) * wo + xx] =
					(1 - ly) * ((1 - lx) * xp[y0 * w + x0] + lx * xp[y0 * w + x1]) +
					ly * ((1 - lx) * xp[y1 * w + x0] + lx * xp[y1 * w + x1]);
			}
		}
	}
}

/* The weighted mean softmax cross-entropy of logits x (n, k, hw); 0 with no valid pixel. */
static inline double ref_ce_loss(const double *x, const uint8_t *labels, const float *weights,
				 const struct loss_ce_geom *g)
{
	int k = g->k, hw = g->hw;
	double num = 0, den = 0;

	for (int n = 0; n < g->n; n++) {
		for (int s = 0; s < hw; s++) {
			int y = labels[n * hw + s];
			double m = -INFINITY, sum = 0, wy;

			if (y == g->ignore)
				continue;
			wy = weights ? weights[y] : 1.0;
			for (int j = 0; j < k; j++)
				m = fmax(m, x[((size_t)n * k + j) * hw + s]);
			for (int j = 0; j < k; j++)
				sum += exp(x[((size_t)n * k + j) * hw + s] - m);
			num += wy * (log(sum) + m - x[((size_t)n * k + y) * hw + s]);
			den += wy;
		}
	}
	return den == 0 ? 0 : num / den;
}

#endif
