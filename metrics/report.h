/*
 * Evaluation reports: per-class and summary scores with the confusion matrix they came
 * from, printed as a terminal table and written as JSON, CSV, Markdown and a heat-map
 * PNG of the confusion matrix.
 *
 *     struct report r;
 *     report_from_confusion(&r, &conf, names, "camvid");   (or cityscapes_eval_report)
 *     report_print(stdout, &r);
 *     if (report_write_json("eval.json", &r) < 0) ...      (kn_errmsg())
 *     report_free(&r);
 *
 * Who frees what: a report owns copies of everything it shows (names, scores and the
 * confusion matrix); report_free releases them.
 *
 * Conventions: scores are fractions in [0, 1], NaN where undefined (no pixel of the
 * class in the ground truth and none predicted). Text (terminal, Markdown) shows 4
 * decimals and "nan"; CSV shows the shortest decimal that reads back to the same
 * double, and "nan"; JSON writes the shortest round-trip number, and null for NaN. An
 * iIoU that does not apply to a class (no instances) is "-" in text, empty in CSV and
 * absent in JSON. Every file is written atomically (io/atomic.h).
 */
#ifndef KNSEG_METRICS_REPORT_H
#define KNSEG_METRICS_REPORT_H

#include "io/image.h"
#include "io/json.h"
#include "metrics/confusion.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_NAME_MAX 48

/* One class or category. */
struct report_row {
	char name[REPORT_NAME_MAX];
	double iou, acc;
	double iiou;      /* NaN when undefined or when !has_iiou */
	bool has_iiou;    /* the row has an instance-weighted score */
	uint64_t pixels;  /* ground truth pixels of the row that were evaluated */
};

struct report {
	char dataset[REPORT_NAME_MAX];   /* e.g. "cityscapes"; may be "" */
	uint64_t images;                 /* images evaluated, 0 when not known */
	int num_classes;
	struct report_row *classes;      /* num_classes rows, owned */
	double miou, macc, aacc;
	bool has_iiou;                   /* some class has an iIoU */
	double miiou;                    /* mean of the defined class iIoU */
	int num_categories;              /* 0 when the data set has none */
	struct report_row *categories;   /* num_categories rows, owned, or NULL */
	double cat_miou, cat_miiou;      /* means over the categories (NaN when none) */
	uint64_t valid_pixels, correct_pixels;
	struct confusion conf;           /* rows and columns in class order, then void */
};

/*
 * A report of the scores of c (confusion.h): names holds c->k class names (NULL: names
 * "class 0", "class 1", ...; longer names are cut to REPORT_NAME_MAX - 1 bytes),
 * dataset a label for the header (NULL or "" for none).
 */
void report_from_confusion(struct report *r, const struct confusion *c,
			   const char *const *names, const char *dataset);

/* An empty report of k classes and ncat categories, for builders like cityscapes_eval. */
void report_init(struct report *r, int k, int ncat, const char *dataset);

void report_free(struct report *r);

/* The aligned terminal table: classes, means, aAcc, then categories when present. */
void report_print(FILE *f, const struct report *r);

/* The same content as CSV (rows "kind,name,iou,acc,iiou,pixels") and as Markdown. */
void report_print_csv(FILE *f, const struct report *r);
void report_print_md(FILE *f, const struct report *r);

/* The report as one JSON object (scores, classes, categories, confusion matrix). */
void report_json(struct json_writer *w, const struct report *r);

/* Atomic file writers of the formats above. */
int report_write_json(const char *path, const struct report *r);
int report_write_csv(const char *path, const struct report *r);
int report_write_md(const char *path, const struct report *r);

/*
 * The confusion matrix as a heat map (colours explained in heatmap.c's header): rows
 * are ground truth classes top to bottom, columns predictions left to right in the same
 * order plus a last void column; every cell is cell x cell pixels with a one-pixel grid
 * around all cells, so the image is (k + 1) * cell + 1 wide and k * cell + 1 high.
 */
void report_heatmap(const struct confusion *c, int cell, struct image *out);

/* Writes the heat map of r's matrix as a PNG, with cells of REPORT_HEATMAP_CELL pixels. */
#define REPORT_HEATMAP_CELL 24
int report_write_heatmap(const char *path, const struct report *r);

#endif
