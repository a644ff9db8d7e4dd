/*
 * The official Cityscapes label table (the 34 labelIds of cityscapesScripts' labels.py,
 * plus "license plate" with id -1), as in the official Cityscapes label table:
 * name, labelId, trainId (255 = not trained), category and its id, whether the class
 * has instances, whether the evaluation ignores it, and its colour.
 */
#ifndef KNSEG_DATASETS_CITYSCAPES_LABELS_H
#define KNSEG_DATASETS_CITYSCAPES_LABELS_H

#include <stdbool.h>
#include <stdint.h>

struct cityscapes_label {
	const char *name;
	int id;            /* labelId, -1 for license plate */
	int train_id;      /* 0..18, or 255 (not trained), -1 for license plate */
	const char *category;
	int category_id;
	bool has_instances;
	bool ignore_in_eval;
	uint8_t color[3];
};

#define CITYSCAPES_NUM_LABELS 35   /* rows of the table */
#define CITYSCAPES_NUM_IDS 34      /* labelIds 0..33 */
#define CITYSCAPES_NUM_TRAIN 19    /* trainIds 0..18 */
#define CITYSCAPES_NUM_CATEGORIES 8

extern const struct cityscapes_label cityscapes_labels[CITYSCAPES_NUM_LABELS];

/* The row of labelId id (0..33), or NULL. */
const struct cityscapes_label *cityscapes_by_id(int id);

/* The row of trainId t (0..18), or NULL. */
const struct cityscapes_label *cityscapes_by_train_id(int t);

#endif
