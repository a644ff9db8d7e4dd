/*
 * Softmax cross-entropy over per-pixel logits, with an ignore label and optional class
 * weights: PyTorch's F.cross_entropy(logits, labels, weight, ignore_index,
 * reduction="mean").
 *
 * Shapes:
 *   logits  (n, k, h, w) float32; pass hw = h * w
 *   labels  (n, h, w) uint8: a class in [0, k), or ignore
 *   weights (k) per-class weights, or NULL for all 1
 *   dlogits (n, k, h, w)
 *
 * With V the pixels whose label is not ignore, y_i their labels and w the weights:
 *
 *     loss = sum_{i in V} w[y_i] * nll_i / sum_{i in V} w[y_i]
 *     nll_i = logsumexp_c(logits[i, c]) - logits[i, y_i]
 *     dlogits[i, c] += dloss * w[y_i] * (softmax_c(logits[i]) - [c == y_i]) / sum w[y_i]
 *
 * for i in V (0 elsewhere). When V is empty (or its weights sum to 0) the loss is 0 and
 * the gradient is 0, where PyTorch would return NaN. The loss is accumulated in double
 * in a fixed order, so it does not depend on the thread count.
 *
 * A label that is neither below k nor the ignore value is a programming error (CHECK):
 * the data loaders validate labels against the class table, so it cannot come from a
 * file. ignore is an int so that a value above 255 means "no ignore label".
 *
 * Backward ACCUMULATES (+=) into dlogits, like every layer backward; dloss is the
 * upstream gradient of the loss (1 for the training loss itself).
 */
#ifndef KNSEG_NETS_LOSS_H
#define KNSEG_NETS_LOSS_H

#include <stdint.h>

struct loss_ce_geom {
	int n, k, hw;
	int ignore; /* label value to skip, e.g. 255 */
};

/* The mean weighted loss. */
double loss_ce_forward(const float *logits, const uint8_t *labels, const float *weights,
		       const struct loss_ce_geom *g);

/* dlogits += the gradient of dloss * loss. */
void loss_ce_backward(float *dlogits, const float *logits, const uint8_t *labels,
		      const float *weights, float dloss, const struct loss_ce_geom *g);

/* Both in one pass over the logits: returns the loss and accumulates its gradient. */
double loss_ce_forward_backward(float *dlogits, const float *logits, const uint8_t *labels,
				const float *weights, float dloss,
				const struct loss_ce_geom *g);

/*
 * The same over a denominator the caller gives: returns this part's sum of
 * w[y_i] * nll_i divided by wsum, and accumulates dloss * w[y_i] * (softmax - onehot) /
 * wsum. For a batch split into parts (data-parallel training: one part per process),
 * wsum is the weight sum of the whole batch, the sum of every part's
 * loss_ce_weight_sum; then the parts' losses add up to the whole batch's loss and their
 * gradients are the whole batch's gradient of those pixels. wsum = 0 (no valid pixel
 * anywhere) gives 0 and no gradient; wsum < 0 is a programming error (CHECK).
 * loss_ce_forward_backward is this call with the part's own weight sum.
 */
double loss_ce_forward_backward_over(float *dlogits, const float *logits,
				     const uint8_t *labels, const float *weights, float dloss,
				     double wsum, const struct loss_ce_geom *g);

/* sum over non-ignored pixels of w[y_i] (the count of valid pixels without weights). */
double loss_ce_weight_sum(const uint8_t *labels, const float *weights,
			  const struct loss_ce_geom *g);

#endif
