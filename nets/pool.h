/*
 * 2-D max pooling, NCHW float32, as PyTorch's max_pool2d (dilation 1, floor mode).
 *
 * Padding is symmetric (ph rows above and below, pw columns left and right) and acts as
 * -inf: padded positions never win. As in PyTorch the padding is at most half the
 * kernel, so every window holds at least one real element. Within a window the scan is
 * row-major and the FIRST maximum wins (a later equal value does not replace it), except
 * that NaN always wins, so NaN propagates; a window of only -inf picks its first real
 * element.
 *
 * Shapes:
 *   in     (n, c, h, w)
 *   out    (n, c, ho, wo), ho = (h + 2 ph - kh) / sh + 1, wo likewise
 *   argmax (n, c, ho, wo) int32: the winner's index y * w + x inside its (h, w) plane
 *          (PyTorch's indices), kept by forward for backward
 *
 * Forward overwrites out and argmax (argmax may be NULL at inference). Backward
 * ACCUMULATES (+=) dout into din at the argmax positions.
 */
#ifndef KNSEG_NETS_POOL_H
#define KNSEG_NETS_POOL_H

#include <stdint.h>

struct pool_geom {
	int n, c, h, w;
	int kh, kw, sh, sw;
	int ph, pw;
	int ho, wo; /* derived */
};

/* Fills a geometry; CHECKs the sizes and that ph <= kh / 2 and pw <= kw / 2. */
struct pool_geom pool_geom_make(int n, int c, int h, int w, int kh, int kw, int sh, int sw,
				int ph, int pw);

void maxpool_forward(float *out, int32_t *argmax, const float *in, const struct pool_geom *g);

void maxpool_backward(float *din, const float *dout, const int32_t *argmax,
		      const struct pool_geom *g);

#endif
