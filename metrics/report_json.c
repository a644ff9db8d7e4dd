/*
 * A report as JSON (see report.h): one object
 *
 *   {"dataset", "images", "valid_pixels", "correct_pixels", "mIoU", "mAcc", "aAcc",
 *    "iIoU" (when a class has one), "classes": [{"name", "iou", "acc", "iiou"?,
 *    "pixels"}], "categories" and "category_mIoU", "category_iIoU" (when there are
 *    categories), "confusion": {"rows": [names], "columns": [names..., "void"],
 *    "counts": [[...]]}}
 *
 * with NaN scores as null and counts as exact integers.
 */
#include "metrics/report.h"

#include "io/atomic.h"
#include "io/error.h"

#include <stdio.h>

static void json_row(struct json_writer *w, const struct report_row *row)
{
	json_object_begin(w);
	json_key(w, "name");
	json_string(w, row->name);
	json_key(w, "iou");
	json_double(w, row->iou);
	json_key(w, "acc");
	json_double(w, row->acc);
	if (row->has_iiou) {
		json_key(w, "iiou");
		json_double(w, row->iiou);
	}
	json_key(w, "pixels");
	json_u64(w, row->pixels);
	json_object_end(w);
}

static void json_rows(struct json_writer *w, const char *key, const struct report_row *rows,
		      int n)
{
	json_key(w, key);
	json_array_begin(w);
	for (int i = 0; i < n; i++)
		json_row(w, &rows[i]);
	json_array_end(w);
}

static void json_confusion(struct json_writer *w, const struct report *r)
{
	const struct confusion *c = &r->conf;

	json_key(w, "confusion");
	json_object_begin(w);
	json_key(w, "rows");
	json_array_begin(w);
	for (int i = 0; i < c->k; i++)
		json_string(w, r->classes[i].name);
	json_array_end(w);
	json_key(w, "columns");
	json_array_begin(w);
	for (int i = 0; i < c->k; i++)
		json_string(w, r->classes[i].name);
	json_string(w, "void");
	json_array_end(w);
	json_key(w, "counts");
	json_array_begin(w);
	for (int i = 0; i < c->k; i++) {
		json_array_begin(w);
		for (int j = 0; j <= c->k; j++)
			json_u64(w, confusion_at(c, i, j));
		json_array_end(w);
	}
	json_array_end(w);
	json_object_end(w);
}

void report_json(struct json_writer *w, const struct report *r)
{
	bool cat_iiou = false;

	json_object_begin(w);
	json_key(w, "dataset");
	json_string(w, r->dataset);
	json_key(w, "images");
	json_u64(w, r->images);
	json_key(w, "valid_pixels");
	json_u64(w, r->valid_pixels);
	json_key(w, "correct_pixels");
	json_u64(w, r->correct_pixels);
	json_key(w, "mIoU");
	json_double(w, r->miou);
	json_key(w, "mAcc");
	json_double(w, r->macc);
	json_key(w, "aAcc");
	json_double(w, r->aacc);
	if (r->has_iiou) {
		json_key(w, "iIoU");
		json_double(w, r->miiou);
	}
	json_rows(w, "classes", r->classes, r->num_classes);
	if (r->num_categories) {
		json_rows(w, "categories", r->categories, r->num_categories);
		json_key(w, "category_mIoU");
		json_double(w, r->cat_miou);
		for (int i = 0; i < r->num_categories; i++)
			cat_iiou |= r->categories[i].has_iiou;
		if (cat_iiou) {
			json_key(w, "category_iIoU");
			json_double(w, r->cat_miiou);
		}
	}
	json_confusion(w, r);
	json_object_end(w);
}

int report_write_json(const char *path, const struct report *r)
{
	struct json_writer w;
	int rc;

	json_writer_init(&w);
	report_json(&w, r);
	json_append_raw(&w, "\n", 1);
	rc = atomic_write_file(path, w.data, w.len);
	json_writer_free(&w);
	return rc;
}
