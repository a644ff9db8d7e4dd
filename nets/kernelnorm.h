/*
 * KernelNorm (nets/README.md 1.1), NCHW float32: the general form and the 1x1 form.
 *
 * General form: the input X (n, c, h, w) is zero-padded by (left, right, top, bottom);
 * every kh x kw window of the padded input across all c channels is one normalization
 * unit of M = c*kh*kw values; windows slide with the stride, giving (ho, wo) units. Each
 * unit is normalized with the mean and biased variance of its dropped-out copy (padded
 * zeros count), (U - mu) / sqrt(var + eps), and the normalized units are tiled side by
 * side:
 *
 *     in   (n, c, h, w)
 *     out  (n, c, ho*kh, wo*kw)   element (c, a, b) of unit (i, j) at [c, i*kh+a, j*kw+b]
 *     keep (n, c, ho*kh, wo*kw)   one flag per element of every unit (units do not share)
 *     mu, s (n, ho, wo)
 *
 * 1x1 form (kernel 1, stride 1, no padding): each pixel is normalized across channels;
 * out, keep have the shape of in, and mu, s are (n, h, w).
 *
 * Forward overwrites out, cache->mu and cache->s; backward ACCUMULATES (+=) into din.
 * Backward needs the same input, cache (mu, s, keep flags, mode) and geometry as the
 * forward call. out must not alias in. There are no parameters and no running
 * statistics.
 */
#ifndef KNSEG_NETS_KERNELNORM_H
#define KNSEG_NETS_KERNELNORM_H

#include "nets/dropout.h"

#include <stddef.h>
#include <stdint.h>

#define KNORM_EPS 1e-5f

/*
 * What a forward call leaves for its backward, and how its statistics are taken.
 * mu and s are written by forward; keep (NULL when the mode reads no mask, see
 * dropout_uses_mask) and mode are set by the caller for both calls.
 */
struct knorm_cache {
	float *mu;           /* mean of each unit's (dropped) values */
	float *s;            /* sqrt(var + eps) of each unit (KNConv: see knconv.h) */
	const uint8_t *keep; /* keep flags, layout given by the layer */
	enum knorm_mode mode;
};

struct kernelnorm_geom {
	int n, c, h, w;
	int kh, kw, sh, sw;
	int pad_left, pad_right, pad_top, pad_bottom;
	float p, eps;
	int hp, wp, ho, wo; /* derived */
};

/*
 * The general form; pad is (left, right, top, bottom), the order of the reference code.
 * CHECKs that the padded input holds at least one window and 0 <= p < 1.
 */
struct kernelnorm_geom kernelnorm_geom_make(int n, int c, int h, int w, int kh, int kw,
					    int sh, int sw, const int pad[4], float p);

/* The 1x1 form. */
struct kernelnorm_geom kernelnorm_geom_1x1(int n, int c, int h, int w, float p);

/* Elements of out (and of keep): n*c*ho*kh*wo*kw. */
size_t kernelnorm_out_count(const struct kernelnorm_geom *g);

/* Units, the length of mu and s: n*ho*wo. */
size_t kernelnorm_unit_count(const struct kernelnorm_geom *g);

/* Workspace floats kernelnorm_backward needs: 2*n*ho*wo. */
size_t kernelnorm_workspace_floats(const struct kernelnorm_geom *g);

void kernelnorm_forward(float *out, const struct knorm_cache *cache, const float *in,
			const struct kernelnorm_geom *g);

void kernelnorm_backward(float *din, const float *dout, const struct knorm_cache *cache,
			 const float *in, const struct kernelnorm_geom *g, float *ws);

/* The 1x1 form (g from kernelnorm_geom_1x1); needs no workspace. */
void kernelnorm1x1_forward(float *out, const struct knorm_cache *cache, const float *in,
			   const struct kernelnorm_geom *g);

void kernelnorm1x1_backward(float *din, const float *dout, const struct knorm_cache *cache,
			    const float *in, const struct kernelnorm_geom *g);

#endif
