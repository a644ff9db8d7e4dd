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

#endif
