/*
 * A network ready to run: its graph (nets/graph.h), its parameters, and every buffer a
 * forward and backward pass needs, allocated once for a batch size and input size.
 *
 *     struct model *m;
 *     if (model_create(&m, &cfg, n, h, w, MODEL_TRAIN) < 0) ...   (kn_errmsg())
 *     model_init_weights(m, seed);
 *     fill model_input(m)            (n, 3, h, w), normalized pixels
 *     m->step = iteration;           (seeds the statistics dropout masks)
 *     model_forward(m);
 *     loss = model_backward(m, labels, class_weights);   (fills m->grads)
 *     ... optimizer step on m->params with m->grads ...
 *     model_destroy(m);
 *
 * Memory: parameters and gradients are one flat array each (graph_param offsets). A
 * training model keeps every activation for the backward pass and plans the activation
 * gradients so that buffers whose lifetimes do not overlap share memory; an inference
 * model (MODEL_EVAL) plans its activations the same way, so it keeps only what is still
 * to be read. Nothing is allocated by forward or backward.
 *
 * Randomness: the statistics dropout mask of op i at step t comes from the stream
 * (seed, t, i) (io/rng.h), so a run is reproducible whatever the thread count. With
 * image_streams set, image j of the batch instead draws its slice of every mask from
 * its own stream, keyed by (seed, t, i, image0 + j) (dropout_image_stream): then a
 * model holding images [image0, image0 + n) of a larger global batch computes exactly
 * the logits that a model of the whole batch computes for them, since every layer of
 * the forward pass is per image apart from the masks. Data-parallel training sets both
 * on every process; the default (false, 0) keeps the whole-batch streams.
 */
#ifndef KNSEG_NETS_MODEL_H
#define KNSEG_NETS_MODEL_H

#include "nets/dropout.h"
#include "nets/graph.h"
#include "nets/knresnet.h"

#include <stddef.h>
#include <stdint.h>

enum model_mode { MODEL_TRAIN, MODEL_EVAL };

struct model_op_state;

struct model {
	struct net_config cfg;
	struct graph g;
	enum model_mode mode;
	enum knorm_mode kn_eval; /* statistics at inference (MODEL_EVAL); default expected */
	uint64_t seed;        /* dropout mask streams */
	int64_t step;         /* current iteration, set by the caller */
	bool image_streams;   /* one mask stream per image (default false: per batch) */
	int64_t image0;       /* global index of image 0 of the batch, for image_streams */
	int n, h, w;          /* batch and input size (multiples of 32) */

	float *params; /* g.param_count floats */
	float *grads;  /* g.param_count floats, MODEL_TRAIN only */
	bool owns_params;

	/* Per op: seconds spent in forward and backward, added to when not NULL (nops each,
	 * set by the caller; knseg bench --ops). */
	double *fwd_seconds, *bwd_seconds;

	/*
	 * Called, when not NULL, during the backward pass each time the gradients of more
	 * parameters are final: grads[first, g.param_count) will not change again in this
	 * pass (parameters lie in the flat array in the order of their ops, and the pass
	 * goes from the last op to the first). Lets a caller start sending gradients while
	 * the pass goes on (data-parallel training). Called from the calling thread, never
	 * from inside a parallel region.
	 */
	void (*grads_ready)(void *ctx, size_t first);
	void *grads_ctx;

	/* private */
	float **val, **dval;          /* per value: data and gradient (NULL when none) */
	struct model_op_state *st;    /* per op */
	int *last;                    /* per value: index of the last op reading it */
	float *act, *dact, *stats, *ws;
	uint8_t *masks;
	int32_t *argmax;
	size_t act_floats, dact_floats, stats_floats, ws_floats, mask_bytes, argmax_count;
};

/*
 * Builds the network for n images of h x w (multiples of 32) and allocates everything;
 * the buffers that grow with the input size fail with KN_ENOMEM and a message naming
 * the bytes needed rather than aborting.
 * Parameters are zero until model_init_weights, a load, or model_share_params.
 */
int model_create(struct model **out, const struct net_config *cfg, int n, int h, int w,
		 enum model_mode mode);

void model_destroy(struct model *m);

/*
 * Chooses the statistics of an inference model (expected, none or sample). "sample"
 * needs dropout masks the size of the activations: KN_ENOMEM with a message when they
 * cannot be had, and then the model must not run until a call succeeds.
 */
int model_set_kn_eval(struct model *m, enum knorm_mode mode);

/* Kaiming-normal weights (graph_param.init_std), zero biases, from seed. */
void model_init_weights(struct model *m, uint64_t seed);

/* Makes m read the parameters of src (same graph parameters) instead of its own. */
void model_share_params(struct model *m, const struct model *src);

/* The input buffer (n, 3, h, w) and the logits (n, K, h, w) of the last forward. */
float *model_input(struct model *m);
const float *model_logits(const struct model *m);

/*
 * Places image i of the batch: src (3, h, w) with h <= m->h and w <= m->w goes to the
 * top-left of the input, the rest of the padded input is 0 (the normalized mean).
 */
void model_set_input(struct model *m, int i, const float *src, int h, int w);

/* Copies image i's logits cropped back to (K, h, w) into dst. */
void model_crop_logits(const struct model *m, int i, float *dst, int h, int w);

/* The padded size the networks need for an h x w image: sides rounded up to 32. */
int model_padded_side(int side);

void model_forward(struct model *m);

/*
 * Softmax cross-entropy of the last forward's logits against labels (n, h, w) (255 =
 * ignore; optional class weights), then the backward pass: m->grads is overwritten with
 * the gradient of the loss. Returns the loss. MODEL_TRAIN only.
 */
double model_backward(struct model *m, const uint8_t *labels, const float *class_weights);

/*
 * The loss's denominator for labels (n, h, w): the sum of the class weights (1 each
 * without them) of the pixels that are not ignored (loss_ce_weight_sum).
 */
double model_label_weight(const struct model *m, const uint8_t *labels,
			  const float *class_weights);

/*
 * model_backward over a denominator the caller gives: the loss is this batch's weighted
 * sum of pixel losses divided by wsum, and so are the gradients. When n images are part
 * of a global batch split among processes, wsum is the sum of every part's
 * model_label_weight; the parts' losses and gradients then add up to those of the global
 * batch (up to the order of float sums). model_backward is this call with wsum =
 * model_label_weight(m, labels, class_weights). wsum = 0 gives 0 and zero gradients.
 */
double model_backward_over(struct model *m, const uint8_t *labels,
			   const float *class_weights, double wsum);

/* Bytes the model holds (parameters, gradients, activations, caches, workspace). */
size_t model_memory_bytes(const struct model *m);

#endif
