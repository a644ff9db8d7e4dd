/* Dataset evaluation from a network or from prediction files. See split_eval.h. */
#include "app/split_eval.h"
#include "app/commands.h"
#include "app/dist.h"
#include "app/options.h"
#include "datasets/cityscapes_labels.h"
#include "io/alloc.h"
#include "io/error.h"
#include "metrics/cityscapes_eval.h"
#include "metrics/confusion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

bool evaluate_is_cityscapes(const struct dataset *d)
{
	struct class_table t;

	if (d->layout != DATASET_CITYSCAPES || d->classes.num_classes != CITYSCAPES_NUM_TRAIN)
		return false;
	class_table_cityscapes(&t, true);
	if (!class_table_equal(&t, &d->classes))
		return false;
	for (int i = 0; i < d->count; i++)
		if (d->samples[i].label && !ends_with(d->samples[i].label, "_labelIds.png"))
			return false;
	return true;
}

/* Class indices (trainIds) into labelIds, in place; a value that is no trainId fails. */
static int train_to_label_ids(struct label_image *pred, const char *name)
{
	size_t n = (size_t)pred->w * pred->h;

	for (size_t i = 0; i < n; i++) {
		const struct cityscapes_label *l = cityscapes_by_train_id(pred->u8[i]);

		if (!l)
			return kn_error(KN_EINVAL, "'%s': prediction %d at pixel (%zu, %zu) is not a "
					"Cityscapes trainId", name, pred->u8[i], i % pred->w,
					i / pred->w);
		pred->u8[i] = (uint8_t)l->id;
	}
	return 0;
}

/* Labels for the official rules: raw labelIds and instanceIds of sample s. */
static int add_official(struct cityscapes_eval *e, const struct dataset_sample *s,
			struct label_image *pred, bool label_ids)
{
	struct label_image gt = {0}, inst = {0};
	int err;

	if (!label_ids && (err = train_to_label_ids(pred, s->image)))
		return err;
	if ((err = label_read(s->label, &gt)))
		return err;
	if (s->instance && (err = label_read16(s->instance, &inst))) {
		label_free(&gt);
		return err;
	}
	err = cityscapes_eval_add_labels(e, &gt, pred, s->instance ? &inst : NULL);
	if (err)
		kn_error_prefix(err, "'%s'", s->label);
	label_free(&inst);
	label_free(&gt);
	return err;
}

/* Reads sample i's ground truth (and image when needed) and its prediction. */
static int sample_pair(const struct dataset *d, int i, const struct eval_source *src,
		       struct label_image *gt, struct label_image *pred, bool *label_ids)
{
	struct image img = {0};
	int err = src->needs_image ? dataset_read(d, i, &img, gt) : dataset_read_label(d, i, gt);

	if (err)
		return err;
	*label_ids = false;
	err = src->predict(src->ctx, i, src->needs_image ? &img : NULL, pred, label_ids);
	image_free(&img);
	if (!err && (pred->w != gt->w || pred->h != gt->h))
		err = kn_error(KN_EMISMATCH, "prediction for '%s' is %dx%d, its label %dx%d",
			       d->samples[i].image, pred->w, pred->h, gt->w, gt->h);
	if (err)
		label_free(gt);
	return err;
}

/*
 * What a rank counts over its share of the samples. Official rules: the counts of its
 * images in ce (whose weighted sums stay zero), and each image's weighted sums in its
 * own row of rows, by the image's position j among the labelled samples (zero for the
 * images of other ranks). Plain rules: the confusion matrix and the images counted.
 */
struct split_counts {
	bool official;
	struct cityscapes_eval ce;
	double *rows; /* labelled x CITYSCAPES_EVAL_WEIGHTS */
	struct confusion conf;
	uint64_t images;
};

/* Evaluates sample i, the j-th labelled one, into c. */
static int evaluate_sample(const struct dataset *d, int i, int j, const struct eval_source *src,
			   struct split_counts *c)
{
	struct label_image gt = {0}, pred = {0};
	struct cityscapes_eval one;
	bool label_ids;
	int err;

	if ((err = sample_pair(d, i, src, &gt, &pred, &label_ids)))
		return err;
	if (c->official) {
		cityscapes_eval_init(&one);
		err = add_official(&one, &d->samples[i], &pred, label_ids);
		if (!err) {
			cityscapes_eval_merge_counts(&c->ce, &one);
			cityscapes_eval_weights_get(&one,
						    c->rows + (size_t)j * CITYSCAPES_EVAL_WEIGHTS);
		}
		cityscapes_eval_free(&one);
	} else if (label_ids) {
		err = kn_error(KN_EINVAL, "labelId predictions need the Cityscapes layout");
	} else {
		confusion_add(&c->conf, gt.u8, pred.u8, (size_t)gt.w * gt.h);
		c->images++;
	}
	label_free(&pred);
	label_free(&gt);
	return err;
}

/*
 * The sums of every rank, on every rank. Counts are integers and sum exactly in any
 * order; each weighted row comes from one rank and zeros (x + 0 is x), and the rows are
 * then added in image order: the bits do not depend on the number of ranks.
 */
static void combine_counts(struct split_counts *c, int labelled)
{
	if (!c->official) {
		dist_sum_u64(c->conf.m, (size_t)c->conf.k * (size_t)(c->conf.k + 1));
		dist_sum_u64(&c->images, 1);
		return;
	}
	dist_sum_u64(c->ce.conf.m, (size_t)CITYSCAPES_NUM_IDS * (CITYSCAPES_NUM_IDS + 1));
	dist_sum_u64(c->ce.tp, CITYSCAPES_NUM_IDS);
	dist_sum_u64(c->ce.fn, CITYSCAPES_NUM_IDS);
	dist_sum_u64(c->ce.instances, CITYSCAPES_NUM_IDS);
	dist_sum_u64(&c->ce.images, 1);
	dist_sum_doubles(c->rows, (size_t)labelled * CITYSCAPES_EVAL_WEIGHTS);
	for (int j = 0; j < labelled; j++)
		cityscapes_eval_weights_add(&c->ce, c->rows + (size_t)j * CITYSCAPES_EVAL_WEIGHTS);
}

/* The report of the combined counts. */
static void report_counts(const struct dataset *d, const struct eval_options *o,
			  const struct split_counts *c, struct report *r)
{
	const char *names[CLASS_MAX];

	if (c->official) {
		cityscapes_eval_report(&c->ce, r);
		return;
	}
	for (int k = 0; k < d->classes.num_classes; k++)
		names[k] = d->classes.names[k];
	report_from_confusion(r, &c->conf, names, o->name ? o->name : "");
	r->images = c->images;
}

int evaluate_agree(int err)
{
	char msg[1024];
	int who;

	if (!dist_any(err != 0))
		return 0;
	if (dist_size() == 1)
		return err;
	who = dist_max_int(err ? dist_rank() : -1);
	if (!err)
		return kn_error(KN_EIO, "%sstopped: rank %d failed (see its message)", dist_where(),
				who);
	snprintf(msg, sizeof(msg), "%s", kn_errmsg());
	return kn_error(err, "%s%s", dist_where(), msg);
}

/* The progress of rank 0's share, on rank 0 alone. */
static void progress(const struct eval_options *o, int done, int total)
{
	if (!o->progress || dist_rank() != 0 || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\reval: %d/%d%s", done, total, dist_size() > 1 ? " (rank 0's share)" : "");
	if (done == total)
		fputc('\n', stderr);
}

int evaluate_dataset(const struct dataset *d, const struct eval_source *src,
		     const struct eval_options *o, struct report *r)
{
	int total = dataset_labelled(d), rank = dist_rank(), size = dist_size();
	int share = total / size + (rank < total % size), done = 0, j = -1, err = 0;
	struct split_counts c = {.official = o->official && evaluate_is_cityscapes(d)};

	if (total == 0)
		return kn_error(KN_EINVAL, "the dataset has no labelled image to evaluate");
	if (c.official) {
		cityscapes_eval_init(&c.ce);
		c.rows = xcalloc((size_t)total * CITYSCAPES_EVAL_WEIGHTS, sizeof(*c.rows));
	} else {
		confusion_init(&c.conf, d->classes.num_classes);
	}
	/* Rank r takes the labelled samples whose position j is r modulo the ranks. */
	for (int i = 0; i < d->count && !err; i++) {
		if (!d->samples[i].label)
			continue;
		if (++j % size != rank)
			continue;
		if (!(err = evaluate_sample(d, i, j, src, &c)))
			progress(o, ++done, share);
	}
	if (!(err = evaluate_agree(err))) {
		combine_counts(&c, total);
		report_counts(d, o, &c, r);
	}
	if (c.official) {
		cityscapes_eval_free(&c.ce);
		free(c.rows);
	} else {
		confusion_free(&c.conf);
	}
	return err;
}

static int predict_model(void *ctx, int i, const struct image *img, struct label_image *pred,
			 bool *label_ids)
{
	struct eval_model_ctx *c = ctx;
	int err;

	(void)i;
	*label_ids = false;
	*pred = (struct label_image){img->w, img->h, 8, NULL, NULL};
	pred->u8 = kn_try_malloc((size_t)img->w * img->h, 1, "the predicted labels");
	if (!pred->u8)
		return KN_ENOMEM;
	err = knseg_segment(c->ks, img->rgb, img->w, img->h, c->seg, pred->u8, NULL);
	if (err)
		label_free(pred);
	return err;
}

void eval_source_model(struct eval_source *s, struct eval_model_ctx *ctx)
{
	s->predict = predict_model;
	s->needs_image = true;
	s->ctx = ctx;
}

int report_outputs_check(const char *cmd, const struct report_outputs *out)
{
	int n = opt_is_stdout(out->json) + opt_is_stdout(out->csv) + opt_is_stdout(out->md);

	if (n > 1)
		return usage_error(cmd, "only one of --json, --csv and --md can write to standard "
				   "output (-)");
	if (opt_is_stdout(out->heatmap))
		return usage_error(cmd, "--heatmap writes a PNG file: give it a file name");
	return 0;
}

/* A text report to path, or to standard output for "-". */
static int write_text(const char *path, const struct report *r,
		      int (*to_file)(const char *, const struct report *),
		      void (*to_stream)(FILE *, const struct report *))
{
	if (!opt_is_stdout(path))
		return to_file(path, r);
	to_stream(stdout, r);
	return fflush(stdout) ? kn_error(KN_EIO, "cannot write to standard output") : 0;
}

static void json_to_stream(FILE *f, const struct report *r)
{
	struct json_writer w;

	json_writer_init(&w);
	report_json(&w, r);
	json_append_raw(&w, "\n", 1);
	fwrite(w.data, 1, w.len, f);
	json_writer_free(&w);
}

int evaluate_write_reports(const struct report *r, const struct report_outputs *out)
{
	bool to_stdout = opt_is_stdout(out->json) || opt_is_stdout(out->csv) ||
			 opt_is_stdout(out->md);
	int err = 0;

	if (!out->quiet && !to_stdout)
		report_print(stdout, r);
	if (!err && out->json)
		err = write_text(out->json, r, report_write_json, json_to_stream);
	if (!err && out->csv)
		err = write_text(out->csv, r, report_write_csv, report_print_csv);
	if (!err && out->md)
		err = write_text(out->md, r, report_write_md, report_print_md);
	if (!err && out->heatmap)
		err = report_write_heatmap(out->heatmap, r);
	return err;
}
