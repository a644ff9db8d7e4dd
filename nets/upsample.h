/*
 * Bilinear resizing to an arbitrary output size, NCHW float32, with PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False, size=(ho, wo)) semantics, for
 * upsampling and downsampling alike (downsampling does not antialias: like PyTorch, each
 * output reads its 2x2 neighbourhood only).
 *
 * Per axis, with in and out the input and output sizes:
 *   scale = (float)in / out                       (float, as PyTorch computes it)
 *   src   = max(scale * (dst + 0.5) - 0.5, 0)     (in double, as PyTorch does)
 *   i0 = (int)src, i1 = min(i0 + 1, in - 1), l1 = src - i0, l0 = 1 - l1
 * and out[y, x] = l0y * (l0x * in[y0, x0] + l1x * in[y0, x1])
 *               + l1y * (l0x * in[y1, x0] + l1x * in[y1, x1]).
 * Equal sizes copy.
 *
 * Shapes (planes = n * c; every plane is resized the same way):
 *   in  (planes, h, w)
 *   out (planes, ho, wo)
 *
 * Forward overwrites out. Backward ACCUMULATES (+=) into din, scattering each dout
 * element with the four weights it was interpolated with.
 */
#ifndef KNSEG_NETS_UPSAMPLE_H
#define KNSEG_NETS_UPSAMPLE_H

void upsample_bilinear_forward(float *out, const float *in, int planes, int h, int w, int ho,
			       int wo);

void upsample_bilinear_backward(float *din, const float *dout, int planes, int h, int w,
				int ho, int wo);

#endif
