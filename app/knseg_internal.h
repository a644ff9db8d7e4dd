/*
 * Parts of the segmentation pipeline (knseg.h) for knseg's own commands, not for
 * programs that embed knseg: they take the library's internal structures.
 */
#ifndef KNSEG_APP_KNSEG_INTERNAL_H
#define KNSEG_APP_KNSEG_INTERNAL_H

#include "app/knseg.h"
#include "nets/checkpoint.h"
#include "nets/model.h"

/*
 * A struct knseg over the parameters of an existing model (read, not copied: the model
 * must outlive it), with meta's normalization and classes: validation while training.
 */
int knseg_wrap(struct knseg **out, const struct checkpoint_meta *meta, const struct model *src);

/* The checkpoint's metadata, and its parameters laid out as net_build's graph has them
 * (knseg export). */
const struct checkpoint_meta *knseg_checkpoint_meta(const struct knseg *ks);
const float *knseg_params(const struct knseg *ks);

/* The parts of struct knseg and of one pass that the tiled mode (knseg_tile.c) uses. */
int knseg_run_pass(struct knseg *ks, const float *img, int h, int w, float *logits);
void knseg_add_softmax(float *acc, const float *logits, int k, size_t hw);
void knseg_norm(const struct knseg *ks, const float **mean, const float **std);

/* KNSEG_TILE inference (knseg.h), after the caller has checked the common options. */
/* The pixels are rgb (h, w, 3) or, when rgb is NULL, rows given by read. */
int knseg_segment_tiled(struct knseg *ks, const uint8_t *rgb, knseg_read_rows_fn read,
			void *ctx, int w, int h, const struct knseg_options *o, uint8_t *labels,
			float *probs);

int knseg_model_for(struct knseg *ks, int hp, int wp, struct model **out);

/*
 * The bytes the last knseg_segment_tiled call used: its buffers and the network built
 * for the padded tile (model_memory_bytes). The test of bounded memory reads it.
 */
size_t knseg_tile_bytes(const struct knseg *ks);
void knseg_set_tile_bytes(struct knseg *ks, size_t bytes);

#endif
