/*
 * Column matrices for convolution as GEMM (one image at a time).
 *
 * For one image in (cin, h, w) and a geometry g (nets/conv.h), the column matrix
 * col (cin*kh*kw, ho*wo) holds in row r = (c*kh + ki)*kw + kj, column p = i*wo + j, the
 * input value seen by weight (c, ki, kj) at output position (i, j):
 *
 *     col[r, p] = in[c, i*sh - pad_top + ki, j*sw - pad_left + kj]   (0 outside the input)
 *
 * so out (cout, ho*wo) = weight (cout, cin*kh*kw) * col. im2col overwrites col;
 * col2im is its adjoint and ACCUMULATES (+=) col back into din (cin, h, w).
 *
 * Both run OpenMP threads over channels (col2im) or rows (im2col), each thread owning
 * the memory it writes, so the result does not depend on the thread count. They must
 * not be called from inside a parallel region.
 */
#ifndef KNSEG_NETS_IM2COL_H
#define KNSEG_NETS_IM2COL_H

#include "nets/conv.h"

/* col (cin*kh*kw, ho*wo) <- in (cin, h, w). */
void im2col(float *col, const float *in, const struct conv_geom *g);

/* din (cin, h, w) += adjoint of im2col applied to col (cin*kh*kw, ho*wo). */
void col2im(float *din, const float *col, const struct conv_geom *g);

#endif
