/*
 * Datasets: where the images and labels of a split are, what the label values mean,
 * and reading one sample as an RGB image and a label map of class indices.
 *
 *     struct dataset d;
 *     if (dataset_open_cityscapes(&d, root, "train", false) < 0) ...   (kn_errmsg())
 *     for (int i = 0; i < d.count; i++) {
 *         struct image img; struct label_image lab;
 *         if (dataset_read(&d, i, &img, &lab) < 0) ...   (names the file and problem)
 *         ... lab.u8 holds classes 0..K-1 and 255 (ignore) ...
 *         image_free(&img); label_free(&lab);
 *     }
 *     dataset_free(&d);
 *
 * Layouts (design.md 3.1, 3.2): Cityscapes (leftImg8bit/ and gtFine/ under a root) and
 * list files of "image label" lines relative to the list's folder, with a class table.
 */
#ifndef KNSEG_DATASETS_DATASET_H
#define KNSEG_DATASETS_DATASET_H

#include "io/image.h"
#include "io/label.h"

#include <stdbool.h>
#include <stdint.h>

#define CLASS_MAX 255          /* trained classes are 0..254; 255 is ignore */
#define CLASS_NAME_MAX 48
#define CLASS_IGNORE 255
#define CLASS_INVALID (-1)     /* a raw value outside the table: an error when read */

/* What the raw values of label files mean. */
struct class_table {
	int num_classes;                     /* K: classes 0..K-1 */
	char names[CLASS_MAX][CLASS_NAME_MAX];
	uint8_t colors[CLASS_MAX][3];
	int16_t map[256];                    /* raw value -> class, CLASS_IGNORE, CLASS_INVALID */
};

enum dataset_layout { DATASET_CITYSCAPES, DATASET_LIST };

struct dataset_sample {
	char *image;    /* path */
	char *label;    /* path, or NULL for unlabelled images */
	char *instance; /* Cityscapes instanceIds path, or NULL */
	char *name;     /* identifier for outputs, e.g. "frankfurt_000000_000294" */
};

struct dataset {
	enum dataset_layout layout;
	struct class_table classes;
	struct dataset_sample *samples;
	int count;
};

#endif
