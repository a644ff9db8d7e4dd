/*
 * Elementwise layers of the pre-activation blocks: ReLU and the residual add.
 *
 * Every pointer is a flat float array of n elements (any NCHW tensor seen as flat).
 * Forward overwrites its output; backward ACCUMULATES (+=) into the input gradients
 * (the caller zeroes gradients once per step).
 *
 * ReLU: out = max(x, 0), with NaN passed through (a diverging run shows up as NaN
 * instead of being hidden by zeros). Forward may run in place (out == in): the networks
 * keep the pre-ReLU tensor for the residual and write the ReLU into a separate buffer,
 * but nothing here requires it, because the backward mask x > 0 is the same whether it
 * is taken from the forward input or from the forward output. The gradient at exactly 0
 * is 0, as in PyTorch.
 *
 * Residual add: out = a + b; out may be a or b itself (exact aliasing, not partial
 * overlap). Backward adds dout to da and to db; either may be NULL when not needed.
 * No gradient pointer may alias dout.
 */
#ifndef KNSEG_NETS_ACTIVATION_H
#define KNSEG_NETS_ACTIVATION_H

#include <stddef.h>

/* out (n) = max(in, 0); out may equal in. */
void relu_forward(float *out, const float *in, size_t n);

/* din (n) += dout * (x > 0), x (n) the forward input or the forward output. */
void relu_backward(float *din, const float *dout, const float *x, size_t n);

/* out (n) = a + b; out may equal a or b. */
void residual_add_forward(float *out, const float *a, const float *b, size_t n);

/* da (n) += dout, db (n) += dout; da or db may be NULL. */
void residual_add_backward(float *da, float *db, const float *dout, size_t n);

/*
 * The same two, OVERWRITING din (da, db) instead of adding to it: for the first gradient
 * a backward pass writes to a value, which then needs no zeroing beforehand. din (da, db)
 * may be dout itself.
 */
void relu_backward_set(float *din, const float *dout, const float *x, size_t n);
void residual_add_backward_set(float *da, float *db, const float *dout, size_t n);

#endif
