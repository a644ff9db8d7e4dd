/* Median frequency class weights. See weights.h. */
#include "datasets/weights.h"
#include "io/alloc.h"
#include "io/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Per-sample class pixel counts (row i: K counts then the labelled total). */
static int count_sample(const struct dataset *d, int i, uint64_t *row)
{
	struct label_image lab;
	int k = d->classes.num_classes, err = dataset_read_label(d, i, &lab);

	if (err)
		return err;
	for (size_t p = 0; p < (size_t)lab.w * lab.h; p++)
		if (lab.u8[p] < k) {
			row[lab.u8[p]]++;
			row[k]++;
		}
	label_free(&lab);
	return 0;
}

int class_weights_median_frequency(const struct dataset *d, float *weights)
{
	int k = d->classes.num_classes, first_bad = -1, present = 0;
	uint64_t *rows = xcalloc((size_t)d->count * (k + 1), sizeof(uint64_t));
	double freq[CLASS_MAX], sorted[CLASS_MAX], median;
	char msg[512] = "";

#pragma omp parallel for schedule(dynamic)
	for (int i = 0; i < d->count; i++) {
		if (d->samples[i].label && count_sample(d, i, rows + (size_t)i * (k + 1)) < 0) {
#pragma omp critical
			if (first_bad < 0 || i < first_bad) {
				first_bad = i;
				snprintf(msg, sizeof(msg), "%s", kn_errmsg());
			}
		}
	}
	if (first_bad >= 0) {
		free(rows);
		return kn_error(KN_EIO, "%s", msg);
	}
	for (int c = 0; c < k; c++) {
		uint64_t pix = 0, img_pix = 0;

		for (int i = 0; i < d->count; i++) {
			const uint64_t *row = rows + (size_t)i * (k + 1);

			if (row[c]) {
				pix += row[c];
				img_pix += row[k];
			}
		}
		freq[c] = img_pix ? (double)pix / (double)img_pix : 0;
		if (freq[c] > 0)
			sorted[present++] = freq[c];
	}
	free(rows);
	if (!present)
		return kn_error(KN_EINVAL, "no labelled pixel to compute class weights from");
	qsort(sorted, (size_t)present, sizeof(double), cmp_double);
	median = present % 2 ? sorted[present / 2]
			     : 0.5 * (sorted[present / 2 - 1] + sorted[present / 2]);
	for (int c = 0; c < k; c++)
		weights[c] = freq[c] > 0 ? (float)(median / freq[c]) : 0.0f;
	return 0;
}
