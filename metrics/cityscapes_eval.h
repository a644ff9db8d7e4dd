/*
 * The official Cityscapes pixel-level evaluation (cityscapesScripts'
 * evalPixelLevelSemanticLabeling.py, as metrics/README.md states its rules): class
 * IoU and iIoU, category IoU and iIoU, and their averages, from labelId masks.
 *
 *     struct cityscapes_eval e;
 *     cityscapes_eval_init(&e);
 *     for each image:
 *         if (cityscapes_eval_add_labels(&e, &gt, &pred, &inst) < 0) ...  (kn_errmsg())
 *     struct cityscapes_scores s;
 *     cityscapes_eval_scores(&e, &s);
 *     struct report r;
 *     cityscapes_eval_report(&e, &r);     (the terminal/JSON/CSV/MD report, report.h)
 *     report_free(&r);
 *     cityscapes_eval_free(&e);
 *
 * Inputs per image: the ground truth labelIds (gtFine_labelIds, 8-bit), the predicted
 * labelIds (8-bit, never trainIds) and optionally the instanceIds (gtFine_instanceIds,
 * 16-bit; NULL skips the instance-weighted scores for that image). Every value of the
 * ground truth and of the prediction must be a labelId 0..33 (the official script
 * rejects other ground truth values and has no row or column for other predictions):
 * anything else is a KN_EINVAL error naming the value and pixel, and nothing of that
 * image is added. An instance value v > 1000 is an instance of class v / 1000, which
 * must be a labelId; instances of classes with ignoreInEval are skipped, and a
 * non-ignored class without instances (e.g. 7001, road) is an error. Values <= 1000
 * are plain labelIds or group regions and take no part in iIoU.
 *
 * The rules (l an evaluated labelId, C the 34 x 34 matrix summed over the set):
 *   TP = C[l,l], FN = row sum - TP (an ignored id predicted on l's pixels counts),
 *   FP = sum of C[r,l] over evaluated rows r != l, IoU = TP / (TP + FP + FN), NaN when
 *   that is 0; an ignoreInEval label has no score (NaN).
 *   Category IoU: the same over the evaluated labelIds of a category (TP counts every
 *   confusion inside them), FP from evaluated rows of other categories.
 *   iIoU: every instance adds tp (its pixels predicted as its class) and fn = size - tp,
 *   each times avg_size[class] / size; iIoU = tpW / (tpW + FP + fnW) with the FP above.
 *   Category iIoU (human, vehicle: the categories whose labels all have instances): a
 *   prediction of any label of the category, ignored ones included, is a hit, and FP
 *   counts predictions of all those labels on evaluated rows of other categories.
 *   Averages skip NaN.
 * Beyond the official script: Acc = TP / row sum of each evaluated class, mAcc, and
 * aAcc = sum of TP / sum of the evaluated rows.
 */
#ifndef KNSEG_METRICS_CITYSCAPES_EVAL_H
#define KNSEG_METRICS_CITYSCAPES_EVAL_H

#include "datasets/cityscapes_labels.h"
#include "io/label.h"
#include "metrics/confusion.h"
#include "metrics/report.h"

#include <stddef.h>
#include <stdint.h>

/* Classes with an official average instance size (the instance classes). */
double cityscapes_avg_instance_size(int label_id);

/* Accumulated state; merge per-image or per-thread accumulators with _merge. */
struct cityscapes_eval {
	struct confusion conf;   /* k = 34: rows ground truth labelId, columns predicted */
	double tp_w[CITYSCAPES_NUM_IDS], fn_w[CITYSCAPES_NUM_IDS];  /* weighted, per class */
	uint64_t tp[CITYSCAPES_NUM_IDS], fn[CITYSCAPES_NUM_IDS];    /* unweighted */
	double cat_tp_w[CITYSCAPES_NUM_CATEGORIES], cat_fn_w[CITYSCAPES_NUM_CATEGORIES];
	uint64_t instances[CITYSCAPES_NUM_IDS];  /* instances counted per class */
	uint64_t images;
};

void cityscapes_eval_init(struct cityscapes_eval *e);
void cityscapes_eval_free(struct cityscapes_eval *e);

/* Adds one image of n pixels (inst may be NULL). Errors as described above. */
int cityscapes_eval_add(struct cityscapes_eval *e, const uint8_t *gt, const uint8_t *pred,
			const uint16_t *inst, size_t n);

/*
 * The same from label images: gt and pred 8-bit, inst 16-bit or NULL; KN_EMISMATCH when
 * the sizes differ.
 */
int cityscapes_eval_add_labels(struct cityscapes_eval *e, const struct label_image *gt,
			       const struct label_image *pred,
			       const struct label_image *inst);

/* dst += src (counts, and weighted sums in the order dst then src). */
void cityscapes_eval_merge(struct cityscapes_eval *dst, const struct cityscapes_eval *src);

/* The same for the counts alone (matrix, tp, fn, instances, images); exact in any order. */
void cityscapes_eval_merge_counts(struct cityscapes_eval *dst,
				  const struct cityscapes_eval *src);

/*
 * The weighted sums (tp_w, fn_w, cat_tp_w, cat_fn_w, in that order) as one row of
 * CITYSCAPES_EVAL_WEIGHTS doubles: _get copies them out of e, _add adds a row to them
 * (e's sums first, as _merge does). The counts sum exactly in any order, the weighted
 * sums do not: a set evaluated image by image, each image into a fresh accumulator
 * whose row is added to the total in image order, gives the same bits however the
 * images were shared out (between the ranks of a job, app/split_eval.c).
 */
#define CITYSCAPES_EVAL_WEIGHTS (2 * CITYSCAPES_NUM_IDS + 2 * CITYSCAPES_NUM_CATEGORIES)
void cityscapes_eval_weights_get(const struct cityscapes_eval *e, double *row);
void cityscapes_eval_weights_add(struct cityscapes_eval *e, const double *row);

/* Every score, indexed by labelId or category id (cityscapes_labels.h); NaN = no score. */
struct cityscapes_scores {
	double class_iou[CITYSCAPES_NUM_IDS];
	double class_iiou[CITYSCAPES_NUM_IDS];
	double class_acc[CITYSCAPES_NUM_IDS];
	double cat_iou[CITYSCAPES_NUM_CATEGORIES];
	double cat_iiou[CITYSCAPES_NUM_CATEGORIES];
	double cat_acc[CITYSCAPES_NUM_CATEGORIES];
	double avg_class_iou, avg_class_iiou, avg_cat_iou, avg_cat_iiou;
	double macc, aacc;
	uint64_t valid;   /* pixels of evaluated classes */
};

void cityscapes_eval_scores(const struct cityscapes_eval *e, struct cityscapes_scores *s);

/*
 * The report of the 19 evaluated classes (labelId order, which is trainId order) and 7
 * categories (void has no score and is left out). Its confusion matrix has the
 * evaluated classes as rows and columns, and its void column counts predictions of
 * ignored labelIds. Free with report_free.
 */
void cityscapes_eval_report(const struct cityscapes_eval *e, struct report *r);

#endif
