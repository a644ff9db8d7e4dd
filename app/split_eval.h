/*
 * Evaluation shared by `knseg eval`, `knseg score` and validation while training: for
 * every labelled sample of a dataset, a prediction (from a network, or from a file) is
 * compared with the ground truth, and the counts are turned into a report.
 *
 * Rules: for the Cityscapes layout with the 19 Cityscapes classes, the official pixel-
 * level evaluation (metrics/cityscapes_eval.h): labelIds ground truth, predicted trainIds
 * turned into labelIds, instance-weighted scores from instanceIds when present, category
 * scores. Otherwise the plain confusion matrix over the dataset's classes, ignoring
 * pixels whose ground truth is ignore (metrics/confusion.h).
 *
 * In a job of several processes (app/dist.h) the ranks share the samples and every rank
 * gets the whole report, the same bits as one process would: the counts are integers,
 * and the instance-weighted sums of the official rules are summed image by image and
 * then added in image order, whichever rank evaluated the image (metrics/README.md).
 */
#ifndef KNSEG_APP_SPLIT_EVAL_H
#define KNSEG_APP_SPLIT_EVAL_H

#include "app/knseg.h"
#include "datasets/dataset.h"
#include "metrics/report.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Fills pred (class indices, or Cityscapes labelIds when *label_ids is set on return)
 * for sample i whose image is img (NULL when the source does not need it). Returns a
 * negative code with a message on failure.
 */
struct eval_source {
	int (*predict)(void *ctx, int i, const struct image *img, struct label_image *pred,
		       bool *label_ids);
	bool needs_image;
	void *ctx;
};

struct eval_options {
	bool official;  /* apply the Cityscapes rules when the dataset allows it */
	bool progress;  /* a progress line on stderr */
	const char *name; /* the dataset's name in the report */
};

/* Whether the official Cityscapes rules apply to d. */
bool evaluate_is_cityscapes(const struct dataset *d);

/*
 * Evaluates every labelled sample of d; fills *r (report_free after) on every rank.
 * Rank r of P evaluates the labelled samples whose position among them is r modulo P
 * (all of them in one process); a sample that fails stops that rank's share, and then
 * every rank returns an error (evaluate_agree). Collective: every rank calls it with the
 * same dataset. The progress line is rank 0's, over its share.
 */
int evaluate_dataset(const struct dataset *d, const struct eval_source *src,
		     const struct eval_options *o, struct report *r);

/*
 * An agreement point of the job on err, this rank's result (0, or a negative code with
 * a message): 0 on every rank when no rank failed, else an error on every rank. In a
 * job of several, a failing rank's message then starts with dist_where() (rank and
 * host), and the other ranks' message names a failing rank; in one process err and
 * its message are returned as they are. Collective.
 */
int evaluate_agree(int err);

/* A source segmenting with ks and the given options. */
struct eval_model_ctx {
	struct knseg *ks;
	const struct knseg_options *seg;
};
void eval_source_model(struct eval_source *s, struct eval_model_ctx *ctx);

/*
 * Where eval and score write the report besides the terminal table: each path may be
 * NULL; "-" for json, csv or md writes that format to standard output in place of the
 * table (one of them at most).
 */
struct report_outputs {
	const char *json, *csv, *md, *heatmap;
	bool quiet; /* no table */
};

/* Their option rows (app/options.h), for a struct report_outputs member m of T. */
#define REPORT_OPTS(T, m)                                                               \
	{"json", OPT_STRING, offsetof(T, m.json), .arg = "FILE",                         \
	 .help = "also write the report as JSON (- for standard output)"},                 \
	{"csv", OPT_STRING, offsetof(T, m.csv), .arg = "FILE",                           \
	 .help = "also write the per-class table as CSV (- likewise)"},                    \
	{"md", OPT_STRING, offsetof(T, m.md), .arg = "FILE",                             \
	 .help = "also write the report as Markdown (- likewise)"},                        \
	{"heatmap", OPT_STRING, offsetof(T, m.heatmap), .arg = "FILE",                   \
	 .help = "write the row-normalized confusion matrix as a PNG"},                    \
	{"quiet", OPT_FLAG, offsetof(T, m.quiet), .help = "no table on the terminal"}

/* Refuses (usage error, exit status 2) more than one output to standard output. */
int report_outputs_check(const char *cmd, const struct report_outputs *out);

/*
 * Writes what out asks for and prints the table unless quiet or another format goes to
 * standard output. Returns 0, or a negative code with a message naming the file.
 */
int evaluate_write_reports(const struct report *r, const struct report_outputs *out);

#endif
