/*
 * Statistics dropout of kernel normalization (nets/README.md 1): keep masks and the
 * inference modes.
 *
 * KernelNorm and KNConv take the mean and variance of each normalization unit from a
 * dropped-out copy of the input; the values they normalize are never dropped. A mask is
 * an array of uint8 keep flags (1 keep, 0 drop); a kept value is scaled by 1/(1-p).
 * Layers never draw masks: the caller draws one per forward call into memory it owns,
 * from a stream seeded by (seed, step, layer), and hands the same flags to backward:
 *
 *     struct rng r;
 *     rng_init_stream(&r, seed, step, layer_index);
 *     dropout_mask(keep, knconv_mask_count(&g), g.p, &r);
 *
 * dropout_mask() splits the flags into fixed blocks, each drawn from its own stream
 * derived from one draw of r, so a mask depends on (seed, step, layer) only, never on
 * the number of threads that drew it.
 *
 * Per-image streams. Masks are laid out image-major (n slices of mask_count / n flags).
 * When a batch is split among processes (data-parallel training), a mask drawn for the
 * whole batch would depend on the split, so each image's slice can come from its own
 * stream instead, keyed by the image's index in the global batch:
 *
 *     dropout_image_stream(&r, seed, step, layer_index, image0 + i);
 *     dropout_mask(keep + i * per_image, per_image, g.p, &r);
 *
 * The key is rng_init_stream(seed, step | 2^63, image * 2^24 + layer), for step >= 0,
 * 0 <= layer < 2^24 and 0 <= image < 2^40: image and layer fill disjoint bits of b, so
 * no two (layer, image) pairs share a stream, and the top bit of a, which no step (an
 * int64_t >= 0) has, keeps these streams apart from the whole-batch ones (seed, step,
 * layer) and from the loader's (seed, epoch, position).
 *
 * Modes (the --kn-eval choice at inference; training always uses KNORM_TRAIN):
 *   KNORM_TRAIN          statistics of the dropped input, mask given (NULL allowed when p = 0)
 *   KNORM_EVAL_EXPECTED  no mask; mu of the input and the expected training-time variance
 *                     var_e = var + p/(1-p) * (1 - 1/M) * mean(x^2) over the M-element unit
 *   KNORM_EVAL_NONE      no mask; plain statistics, as if p = 0
 *   KNORM_EVAL_SAMPLE    as KNORM_TRAIN (a mask from a seeded generator), the reference behaviour
 */
#ifndef KNSEG_NETS_DROPOUT_H
#define KNSEG_NETS_DROPOUT_H

#include "io/rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum knorm_mode {
	KNORM_TRAIN,
	KNORM_EVAL_EXPECTED,
	KNORM_EVAL_NONE,
	KNORM_EVAL_SAMPLE,
};

/*
 * Fills keep[0..n) with independent flags, each 0 with probability p (0 <= p < 1, exact
 * to 2^-32), and advances r by one draw.
 */
void dropout_mask(uint8_t *keep, size_t n, float p, struct rng *r);

/*
 * Seeds r with the mask stream of image `image` (its index in the global batch) of layer
 * `layer` at step `step`: the key above. CHECKs the ranges, step >= 0, 0 <= layer < 2^24,
 * 0 <= image < 2^40.
 */
void dropout_image_stream(struct rng *r, uint64_t seed, int64_t step, int layer,
			  int64_t image);

/* Whether a call in mode with probability p reads keep flags (and so needs a mask). */
bool dropout_uses_mask(enum knorm_mode mode, float p);

/*
 * The factor c of the expected variance, var_e = var + c * mean(x^2), for a unit of m
 * elements: p/(1-p) * (1 - 1/m) in KNORM_EVAL_EXPECTED, 0 in every other mode.
 */
double dropout_expected_factor(enum knorm_mode mode, float p, size_t m);

/* "train", "expected", "none", "sample". */
const char *knorm_mode_name(enum knorm_mode mode);

/* Parses an inference mode name ("expected", "none", "sample"); KN_EINVAL otherwise. */
int knorm_mode_parse(const char *name, enum knorm_mode *out);

#endif
