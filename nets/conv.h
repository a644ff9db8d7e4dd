/*
 * 2-D convolution (cross-correlation, as in PyTorch), NCHW float32, groups = 1,
 * dilation 1, with asymmetric zero padding.
 *
 * Shapes:
 *   in     (n, cin, h, w)
 *   weight (cout, cin, kh, kw)
 *   bias   (cout) or NULL
 *   out    (n, cout, ho, wo), ho = (h + pad_top + pad_bottom - kh) / sh + 1, wo likewise
 *
 * Forward overwrites out. Backward ACCUMULATES (+=) into din, dweight and dbias (the
 * caller zeroes gradients once per step); din and dbias may be NULL when not needed.
 * ws is a workspace of at least conv_workspace_floats(g) floats, shared across layers.
 */
#ifndef KNSEG_NETS_CONV_H
#define KNSEG_NETS_CONV_H

#include <stdbool.h>
#include <stddef.h>

struct conv_geom {
	int n, cin, h, w;
	int cout, kh, kw;
	int sh, sw;
	int pad_left, pad_right, pad_top, pad_bottom;
	int ho, wo; /* derived */
};

/*
 * Fills a geometry; pad is (left, right, top, bottom), the order of the reference code.
 * CHECKs that the padded input holds at least one window.
 */
struct conv_geom conv_geom_make(int n, int cin, int h, int w, int cout, int kh, int kw,
				int sh, int sw, const int pad[4]);

size_t conv_workspace_floats(const struct conv_geom *g);

/*
 * True when the convolution runs as one GEMM per kernel tap on the padded image (stride
 * 1, many input channels, enough positions) rather than through im2col; see conv.c.
 */
bool conv_uses_shifts(const struct conv_geom *g);

void conv_forward(float *out, const float *in, const float *weight, const float *bias,
		  const struct conv_geom *g, float *ws);

void conv_backward(float *din, float *dweight, float *dbias, const float *dout,
		   const float *in, const float *weight, const struct conv_geom *g, float *ws);

/* Direct loops from the definition, the reference the fast path is tested against. */
void conv_forward_naive(float *out, const float *in, const float *weight, const float *bias,
			const struct conv_geom *g);
void conv_backward_naive(float *din, float *dweight, float *dbias, const float *dout,
			 const float *in, const float *weight, const struct conv_geom *g);

#endif
