/*
 * KNConv2d, the kernel normalized convolution (nets/README.md 1.2), NCHW float32, groups 1,
 * dilation 1, bias always present.
 *
 * KNConv is KernelNorm (kernel k, stride s, padding, statistics dropout p) followed by a
 * convolution whose kernel and stride equal the window, computed without materializing
 * the units. With Xp the zero-padded input, A = conv(Xp, W) (stride s, no bias),
 * SW_o = sum of the weights of output channel o, and mu, s the statistics of the
 * dropped-out copy Xd of Xp over each window, M = cin*kh*kw elements, padded zeros
 * included:
 *
 *     y[n,o,i,j] = (A[n,o,i,j] - mu[n,i,j] * SW_o) / s[n,i,j] + b_o
 *
 * Statistics: per pixel the channel sums of Xd and Xd^2, then box sums B1, B2 of those
 * two planes over each window; mu = B1/M, var = max(B2/M - mu^2, 0) (+ the expected-mode
 * term, see dropout.h), s = sqrt(var + eps). The mask has one flag per element of the
 * padded input, shared by overlapping windows. KNConv2d1x1 (KernelNorm 1x1, then a 1x1
 * convolution with bias) is the case k = 1, s = 1, no padding.
 *
 * Shapes:
 *   in      (n, cin, h, w)
 *   weight  (cout, cin, kh, kw)
 *   bias    (cout)
 *   out     (n, cout, ho, wo), ho = (h + pad_top + pad_bottom - kh) / sh + 1, wo likewise
 *   keep    (n, cin, hp, wp), hp = h + pad_top + pad_bottom, wp likewise (padded input);
 *           NULL when the mode reads no mask (dropout_uses_mask)
 *   mu, s   (n, ho, wo), the knorm_cache written by forward. s is stored NEGATED (-s) for a
 *           unit whose variance was clamped at 0, so that backward passes no gradient
 *           through that variance, as autograd does for clamp_min(0); |s| is the value.
 *   ws      knconv_workspace_floats(g) floats, 8-byte aligned (the statistics planes are
 *           double; arena views are 64-byte aligned), shared across layers
 *
 * Forward overwrites out and the cache. Backward ACCUMULATES (+=) into din, dweight and
 * dbias (din may be NULL); it needs out exactly as forward wrote it (y - b gives the
 * variance gradient without recomputing A), and the same in, weight, bias, cache and
 * geometry.
 */
#ifndef KNSEG_NETS_KNCONV_H
#define KNSEG_NETS_KNCONV_H

#include "nets/conv.h"
#include "nets/kernelnorm.h"

#include <stddef.h>

struct knconv_geom {
	struct conv_geom conv; /* sizes, kernel, stride, padding, ho, wo; no bias */
	int hp, wp;            /* padded input */
	float p, eps;          /* statistics dropout probability, eps */
};

/* pad is (left, right, top, bottom), the order of the reference code; 0 <= p < 1. */
struct knconv_geom knconv_geom_make(int n, int cin, int h, int w, int cout, int kh, int kw,
				    int sh, int sw, const int pad[4], float p);

/* Keep flags a masked call needs: n*cin*hp*wp. */
size_t knconv_mask_count(const struct knconv_geom *g);

/* Units, the length of mu and s: n*ho*wo. */
size_t knconv_unit_count(const struct knconv_geom *g);

size_t knconv_workspace_floats(const struct knconv_geom *g);

void knconv_forward(float *out, const struct knorm_cache *cache, const float *in,
		    const float *weight, const float *bias, const struct knconv_geom *g,
		    float *ws);

void knconv_backward(float *din, float *dweight, float *dbias, const float *dout,
		     const float *out, const struct knorm_cache *cache, const float *in,
		     const float *weight, const float *bias, const struct knconv_geom *g,
		     float *ws);

#endif
