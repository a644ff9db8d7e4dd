/*
 * ONNX export of a segmentation network (nets/README.md 4): the inference network as a
 * standard ONNX model (opset 13, IR version 7, no custom operator), encoded by hand with
 * io/pbuf.h.
 *
 * The model's interface:
 *   input  "image"   float32 (N, 3, H, W): RGB values 0..255 (uint8 pixels as floats)
 *   output "logits"  float32 (N, K, H, W): the network's logits at the image's size
 *   output "labels"  int64 (N, H, W): the class of the largest logit (the first on ties)
 * N, H and W are dynamic ("batch", "height", "width") unless a size is given; any H, W
 * of at least 1 work. Inside the graph the image goes through exactly what
 * knseg_logits does (app/knseg.h): (x / 255 - mean) / std per channel, zero padding at
 * the bottom and right to multiples of 32, the network, and a crop back to H x W.
 *
 * KNConv and KernelNorm 1x1 are written with standard operators: Pad; Conv of the
 * padded input without bias; per-pixel channel means of x and x^2 (ReduceMean over the
 * channels) and their window means (AveragePool with the layer's kernel and stride over
 * the already padded planes); var = Relu(E[x^2] - mu^2); in the "expected" statistics
 * mode + c * E[x^2]; s = Sqrt(var + eps); y = (A - mu * sum(W)) / s + b. Resize is
 * linear with "pytorch_half_pixel" coordinates (align_corners = false); its output
 * sizes come from the shape of the tensor the network matches (Shape), so they follow
 * the input size.
 */
#ifndef KNSEG_NETS_ONNX_H
#define KNSEG_NETS_ONNX_H

#include "nets/dropout.h"
#include "nets/knresnet.h"

#include <stddef.h>

#define ONNX_OPSET 13
#define ONNX_IR_VERSION 7

struct onnx_spec {
	struct net_config cfg;
	const float *params;     /* laid out as net_build's graph parameters */
	float mean[3], std[3];   /* normalization of pixel / 255 */
	enum knorm_mode kn_eval; /* KNORM_EVAL_EXPECTED or KNORM_EVAL_NONE */
	int height, width;       /* a fixed input size, or 0 and 0 for dynamic sides */
	const char *producer_version;
	/* metadata_props: nmeta (key, value) pairs, meta[2 i] and meta[2 i + 1] */
	const char *const *meta;
	int nmeta;
};

/*
 * Encodes the model into *buf (malloc'ed, *len bytes; the caller frees it). KN_EINVAL
 * with a message for a statistics mode an ONNX graph cannot express ("sample" draws
 * random masks) or a bad size; nothing is allocated then.
 */
int onnx_encode(const struct onnx_spec *spec, unsigned char **buf, size_t *len);

#endif
