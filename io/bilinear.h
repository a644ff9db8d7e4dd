/*
 * The bilinear sampling tap along one axis, with half-pixel centres (PyTorch's
 * align_corners=False, cv2's INTER_LINEAR): which two source indices an output index
 * reads and with what weights. Shared by the network's resize layer (nets/upsample.c)
 * and the augmentation's rescale (datasets/augment.c), which sit side by side above io/.
 *
 * For an output index dst, an input of in samples and scale = in / out:
 *   src = max(scale * (dst + 0.5) - 0.5, 0)       (in double)
 *   i0 = min((int)src, in - 1), i1 = min(i0 + 1, in - 1)
 *   l1 = (float)(src - i0), l0 = 1 - l1
 * and the sample is l0 * v[i0] + l1 * v[i1].
 *
 * The scale is a double here, but each caller computes it in its own precision and the
 * results depend on that: upsample rounds it to float first, as PyTorch does, augment
 * keeps the double quotient. Passing a float scale converts it exactly, so both get the
 * bits they had with a tap function of their own.
 */
#ifndef KNSEG_IO_BILINEAR_H
#define KNSEG_IO_BILINEAR_H

struct bilinear_tap {
	int i0, i1;
	float l0, l1;
};

/* The tap of output index dst (>= 0) over in (>= 1) source samples at scale in / out. */
struct bilinear_tap bilinear_tap_at(double scale, int dst, int in);

#endif
