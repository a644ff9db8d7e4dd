/*
 * Pieces shared by the convolution files (conv.c, conv_shift.c, im2col.c); not part of
 * the API.
 */
#ifndef KNSEG_NETS_CONV_INTERNAL_H
#define KNSEG_NETS_CONV_INTERNAL_H

#include "nets/conv.h"

#include <stdbool.h>
#include <stddef.h>

/* Below this many floats touched, a loop runs on one thread (as in im2col.c). */
#define CONV_PARALLEL_MIN 32768

/* The per-tap path of conv_shift.c: workspace, forward, backward (without the bias
 * gradient, which conv_backward adds), with conv.h's shapes and conventions. */
size_t conv_shift_workspace_floats(const struct conv_geom *g);
void conv_shift_forward(float *out, const float *in, const float *weight, const float *bias,
			const struct conv_geom *g, float *ws);
void conv_shift_backward(float *din, float *dweight, const float *dout, const float *in,
			 const float *weight, const struct conv_geom *g, float *ws);


/*
 * im2col.c: column matrices for convolution as GEMM (one image at a time).
 *
 * For one image in (cin, h, w) and a geometry g (nets/conv.h), the column matrix of the
 * output rows [i0, i1), col (cin*kh*kw, (i1-i0)*wo), holds in row r = (c*kh + ki)*kw + kj,
 * column p = (i - i0)*wo + j, the input value seen by weight (c, ki, kj) at output (i, j):
 *
 *     col[r, p] = in[c, i*sh - pad_top + ki, j*sw - pad_left + kj]   (0 outside the input)
 *
 * so out[:, i0*wo .. i1*wo) (cout, (i1-i0)*wo) = weight (cout, cin*kh*kw) * col. Taking a
 * band of output rows at a time keeps col small enough to stay in cache between its
 * writing and the GEMM that reads it. im2col overwrites col; col2im is its adjoint and
 * ACCUMULATES (+=) col back into din (cin, h, w).
 *
 * Both run OpenMP threads over rows of col (im2col) or channels (col2im), each thread
 * owning the memory it writes, so the result does not depend on the thread count. They
 * must not be called from inside a parallel region.
 */

/* col (cin*kh*kw, (i1-i0)*wo) <- in (cin, h, w), output rows [i0, i1). */
void im2col(float *col, const float *in, const struct conv_geom *g, int i0, int i1);

/* din (cin, h, w) += the adjoint of im2col applied to col (cin*kh*kw, (i1-i0)*wo). */
void col2im(float *din, const float *col, const struct conv_geom *g, int i0, int i1);

#endif
