/*
 * Confusion matrices of semantic segmentation and the scores taken from them
 * (metrics/README.md).
 *
 *     struct confusion c;
 *     confusion_init(&c, 19);
 *     for each image:
 *         confusion_add(&c, gt, pred, w * h);       (or confusion_add_labels)
 *     struct confusion_summary s;
 *     confusion_summarize(&c, &s);                  (s.miou, s.macc, s.aacc)
 *     ... confusion_iou(&c, k), confusion_acc(&c, k) ...
 *     confusion_free(&c);
 *
 * Layout: K classes 0..K-1 give K rows (ground truth) and K + 1 columns (prediction);
 * the last column, CONFUSION_VOID(c), counts predictions of any value >= K (an ignore
 * or void value, or anything outside the classes) on valid pixels. Pixels whose ground
 * truth is >= K are ignored: they are counted nowhere. Counts are uint64, so a whole
 * data set never overflows.
 *
 * Scores of class k, with TP = C[k,k], FN = row sum - TP (void predictions included),
 * FP = column sum - TP:
 *     IoU = TP / (TP + FP + FN),  Acc = TP / (TP + FN),
 * NaN when the denominator is zero. mIoU and mAcc average the defined (non-NaN) scores;
 * aAcc = trace / valid pixels. All are NaN when nothing is defined.
 *
 * Accumulators merge: matrices filled from different images (or threads) and summed
 * with confusion_merge equal one matrix filled with all of them, exactly.
 */
#ifndef KNSEG_METRICS_CONFUSION_H
#define KNSEG_METRICS_CONFUSION_H

#include "io/label.h"

#include <stddef.h>
#include <stdint.h>

/* Most classes a confusion matrix holds (prediction values are bytes). */
#define CONFUSION_MAX_CLASSES 255

struct confusion {
	int k;          /* classes 0..k-1 */
	uint64_t *m;    /* k rows x (k + 1) columns, row-major; owned */
};

/* Column of void predictions (values >= k). */
#define CONFUSION_VOID(c) ((c)->k)

/* The count of ground truth row, prediction column col (col == k: void). */
static inline uint64_t confusion_at(const struct confusion *c, int row, int col)
{
	return c->m[(size_t)row * (size_t)(c->k + 1) + (size_t)col];
}

/* A zero matrix of k classes (1 <= k <= CONFUSION_MAX_CLASSES). Free with confusion_free. */
void confusion_init(struct confusion *c, int k);
void confusion_free(struct confusion *c);
void confusion_reset(struct confusion *c);

/*
 * Adds n pixels: gt[i] is the ground truth (>= k: ignored), pred[i] the prediction
 * (>= k: void). Threads (OpenMP) split large inputs and their counts are summed in
 * thread order.
 */
void confusion_add(struct confusion *c, const uint8_t *gt, const uint8_t *pred, size_t n);

/* The same, pixel by pixel, for tests. */
void confusion_add_naive(struct confusion *c, const uint8_t *gt, const uint8_t *pred,
			 size_t n);

/*
 * confusion_add for two 8-bit label images; KN_EMISMATCH (naming both sizes) when
 * their sizes differ, and nothing is added.
 */
int confusion_add_labels(struct confusion *c, const struct label_image *gt,
			 const struct label_image *pred);

/* dst += src; both have the same k. */
void confusion_merge(struct confusion *dst, const struct confusion *src);

/* Sums over row r (void column included) and over column col. */
uint64_t confusion_row_sum(const struct confusion *c, int row);
uint64_t confusion_col_sum(const struct confusion *c, int col);

double confusion_iou(const struct confusion *c, int cls);
double confusion_acc(const struct confusion *c, int cls);

struct confusion_summary {
	double miou, macc, aacc;  /* NaN when no score is defined */
	int iou_classes;          /* classes whose IoU is defined (averaged in mIoU) */
	int acc_classes;          /* classes whose Acc is defined */
	uint64_t valid;           /* pixels counted (ground truth not ignored) */
	uint64_t correct;         /* trace */
};

void confusion_summarize(const struct confusion *c, struct confusion_summary *s);

#endif
