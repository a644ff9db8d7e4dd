/*
 * What a dataset holds: image count, distinct image sizes, class pixel counts and the
 * files that cannot be used, computed by reading every sample (knseg data).
 *
 *     struct dataset_stats st;
 *     dataset_stats_compute(&d, &st);
 *     ... st.class_pixels[k] * 100.0 / st.label_pixels ...
 *     dataset_stats_free(&st);
 *
 * Samples are read in parallel (OpenMP over samples); each sample's results are kept
 * apart and summed in sample order afterwards, so the output never depends on the
 * number of threads or their scheduling.
 */
#ifndef KNSEG_DATASETS_STATS_H
#define KNSEG_DATASETS_STATS_H

#include "datasets/dataset.h"

#include <stdint.h>

struct dataset_size {
	int w, h;
	int count;           /* images of this size */
};

struct dataset_stats {
	int images;          /* samples of the dataset (sizes count those that were read) */
	int labelled;        /* samples whose label was read and matched its image */
	int num_sizes;
	struct dataset_size *sizes;       /* most frequent first, ties by width, height */
	int num_classes;                  /* of the dataset's class table */
	uint64_t class_pixels[CLASS_MAX]; /* pixels of each class, over the labels read */
	uint64_t ignore_pixels;           /* pixels whose raw value means ignore */
	uint64_t label_pixels;            /* all pixels of the labels read */
	struct dataset_problems bad;      /* one message per bad file, in sample order */
};

/*
 * Reads every sample of d. A file that cannot be read, a label value outside the
 * class table or a label whose size differs from its image's is recorded in s->bad
 * and reading goes on; the sample's label then counts no pixels.
 */
void dataset_stats_compute(const struct dataset *d, struct dataset_stats *s);

void dataset_stats_free(struct dataset_stats *s);

#endif
