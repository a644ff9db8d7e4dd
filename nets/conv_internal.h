/*
 * Pieces shared by the convolution files (conv.c, conv_shift.c); not part of the API.
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

#endif
