/*
 * Reports: building them from a confusion matrix, and the text formats (terminal
 * table, CSV, Markdown). See report.h for the conventions; JSON is in report_json.c and
 * the heat map in heatmap.c.
 */
#include "metrics/report.h"

#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void report_init(struct report *r, int k, int ncat, const char *dataset)
{
	CHECK(k >= 1 && ncat >= 0);
	memset(r, 0, sizeof(*r));
	snprintf(r->dataset, sizeof(r->dataset), "%s", dataset ? dataset : "");
	r->num_classes = k;
	r->classes = xcalloc((size_t)k, sizeof(*r->classes));
	r->num_categories = ncat;
	r->categories = ncat ? xcalloc((size_t)ncat, sizeof(*r->categories)) : NULL;
	r->miou = r->macc = r->aacc = r->miiou = NAN;
	r->cat_miou = r->cat_miiou = NAN;
	confusion_init(&r->conf, k);
}

void report_free(struct report *r)
{
	free(r->classes);
	free(r->categories);
	confusion_free(&r->conf);
	memset(r, 0, sizeof(*r));
}

void report_from_confusion(struct report *r, const struct confusion *c,
			   const char *const *names, const char *dataset)
{
	struct confusion_summary s;

	report_init(r, c->k, 0, dataset);
	confusion_merge(&r->conf, c);
	confusion_summarize(c, &s);
	for (int i = 0; i < c->k; i++) {
		struct report_row *row = &r->classes[i];

		if (names)
			snprintf(row->name, sizeof(row->name), "%s", names[i]);
		else
			snprintf(row->name, sizeof(row->name), "class %d", i);
		row->iou = confusion_iou(c, i);
		row->acc = confusion_acc(c, i);
		row->iiou = NAN;
		row->pixels = confusion_row_sum(c, i);
	}
	r->miou = s.miou;
	r->macc = s.macc;
	r->aacc = s.aacc;
	r->valid_pixels = s.valid;
	r->correct_pixels = s.correct;
}

static bool any_iiou(const struct report_row *rows, int n)
{
	for (int i = 0; i < n; i++)
		if (rows[i].has_iiou)
			return true;
	return false;
}

/* A score as text tables show it: 4 decimals or "nan". */
static const char *fmt4(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "nan");
	else
		snprintf(buf, size, "%.4f", v);
	return buf;
}

static int name_width(const struct report *r)
{
	size_t w = strlen("category");

	for (int i = 0; i < r->num_classes; i++)
		w = strlen(r->classes[i].name) > w ? strlen(r->classes[i].name) : w;
	for (int i = 0; i < r->num_categories; i++)
		w = strlen(r->categories[i].name) > w ? strlen(r->categories[i].name) : w;
	return (int)w;
}

static void print_line(FILE *f, const char *name, int width, double iou, double acc,
		       bool iiou_col, bool has_iiou, double iiou)
{
	char a[32], b[32], c[32];

	fprintf(f, "%-*s  %8s  %8s", width, name, fmt4(a, sizeof(a), iou),
		fmt4(b, sizeof(b), acc));
	if (iiou_col)
		fprintf(f, "  %8s", has_iiou ? fmt4(c, sizeof(c), iiou) : "-");
	fputc('\n', f);
}

static void print_table(FILE *f, const char *title, const struct report_row *rows, int n,
			int width, double miou, double macc, double miiou)
{
	bool iiou_col = any_iiou(rows, n);
	int rule = width + 20 + (iiou_col ? 10 : 0);

	fprintf(f, "%-*s  %8s  %8s", width, title, "IoU", "Acc");
	fprintf(f, iiou_col ? "  %8s\n" : "\n", "iIoU");
	for (int i = 0; i < rule; i++)
		fputc('-', f);
	fputc('\n', f);
	for (int i = 0; i < n; i++)
		print_line(f, rows[i].name, width, rows[i].iou, rows[i].acc, iiou_col,
			   rows[i].has_iiou, rows[i].iiou);
	for (int i = 0; i < rule; i++)
		fputc('-', f);
	fputc('\n', f);
	print_line(f, "mean", width, miou, macc, iiou_col, true, miiou);
}

static void cat_means(const struct report *r, double *macc)
{
	double sum = 0;
	int count = 0;

	for (int i = 0; i < r->num_categories; i++)
		if (!isnan(r->categories[i].acc)) {
			sum += r->categories[i].acc;
			count++;
		}
	*macc = count ? sum / count : NAN;
}

void report_print(FILE *f, const struct report *r)
{
	int width = name_width(r);
	char a[32], b[32], c[32], d[32];
	double cat_macc;

	if (r->dataset[0])
		fprintf(f, "%s: ", r->dataset);
	if (r->images)
		fprintf(f, "%llu images, ", (unsigned long long)r->images);
	fprintf(f, "%llu pixels evaluated\n\n", (unsigned long long)r->valid_pixels);
	print_table(f, "class", r->classes, r->num_classes, width, r->miou, r->macc, r->miiou);
	fprintf(f, "\nmIoU %s  mAcc %s  aAcc %s", fmt4(a, sizeof(a), r->miou),
		fmt4(b, sizeof(b), r->macc), fmt4(c, sizeof(c), r->aacc));
	if (r->has_iiou)
		fprintf(f, "  iIoU %s", fmt4(d, sizeof(d), r->miiou));
	fputc('\n', f);
	if (!r->num_categories)
		return;
	cat_means(r, &cat_macc);
	fputc('\n', f);
	print_table(f, "category", r->categories, r->num_categories, width, r->cat_miou,
		    cat_macc, r->cat_miiou);
	fprintf(f, "\ncategory mIoU %s", fmt4(a, sizeof(a), r->cat_miou));
	if (any_iiou(r->categories, r->num_categories))
		fprintf(f, "  iIoU %s", fmt4(b, sizeof(b), r->cat_miiou));
	fputc('\n', f);
}

/* The shortest of %.15g..%.17g that reads back to v, or "nan". */
static void csv_number(FILE *f, double v)
{
	char buf[40];

	if (isnan(v)) {
		fputs("nan", f);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* A CSV field, quoted (RFC 4180) when it holds a comma, quote or line break. */
static void csv_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void csv_row(FILE *f, const char *kind, const char *name, double iou, double acc,
		    bool has_iiou, double iiou, bool has_pixels, uint64_t pixels)
{
	fprintf(f, "%s,", kind);
	csv_text(f, name);
	fputc(',', f);
	csv_number(f, iou);
	fputc(',', f);
	csv_number(f, acc);
	fputc(',', f);
	if (has_iiou)
		csv_number(f, iiou);
	fputc(',', f);
	if (has_pixels)
		fprintf(f, "%llu", (unsigned long long)pixels);
	fputc('\n', f);
}

void report_print_csv(FILE *f, const struct report *r)
{
	double cat_macc;

	fputs("kind,name,iou,acc,iiou,pixels\n", f);
	for (int i = 0; i < r->num_classes; i++) {
		const struct report_row *c = &r->classes[i];

		csv_row(f, "class", c->name, c->iou, c->acc, c->has_iiou, c->iiou, true,
			c->pixels);
	}
	csv_row(f, "mean", "classes", r->miou, r->macc, r->has_iiou, r->miiou, false, 0);
	csv_row(f, "overall", "pixels", NAN, r->aacc, false, 0, true, r->valid_pixels);
	if (!r->num_categories)
		return;
	for (int i = 0; i < r->num_categories; i++) {
		const struct report_row *c = &r->categories[i];

		csv_row(f, "category", c->name, c->iou, c->acc, c->has_iiou, c->iiou, true,
			c->pixels);
	}
	cat_means(r, &cat_macc);
	csv_row(f, "mean", "categories", r->cat_miou, cat_macc,
		any_iiou(r->categories, r->num_categories), r->cat_miiou, false, 0);
}

static void md_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void md_table(FILE *f, const char *title, const struct report_row *rows, int n,
		     double miou, double macc, double miiou)
{
	bool iiou_col = any_iiou(rows, n);
	char a[32], b[32], c[32];

	fprintf(f, "| %s | IoU | Acc |%s\n", title, iiou_col ? " iIoU |" : "");
	fprintf(f, "|:---|---:|---:|%s\n", iiou_col ? "---:|" : "");
	for (int i = 0; i <= n; i++) {
		const struct report_row *row = i < n ? &rows[i] : NULL;
		double iou = row ? row->iou : miou, acc = row ? row->acc : macc;

		fputs("| ", f);
		md_text(f, row ? row->name : "mean");
		fprintf(f, " | %s | %s |", fmt4(a, sizeof(a), iou), fmt4(b, sizeof(b), acc));
		if (iiou_col)
			fprintf(f, " %s |", !row ? fmt4(c, sizeof(c), miiou) :
				row->has_iiou ? fmt4(c, sizeof(c), row->iiou) : "-");
		fputc('\n', f);
	}
}

void report_print_md(FILE *f, const struct report *r)
{
	char a[32], b[32], c[32], d[32];
	double cat_macc;

	fputs("# Evaluation", f);
	if (r->dataset[0]) {
		fputs(": ", f);
		md_text(f, r->dataset);
	}
	fputs("\n\n", f);
	if (r->images)
		fprintf(f, "%llu images, ", (unsigned long long)r->images);
	fprintf(f, "%llu pixels evaluated.\n\n", (unsigned long long)r->valid_pixels);
	fprintf(f, "mIoU %s, mAcc %s, aAcc %s", fmt4(a, sizeof(a), r->miou),
		fmt4(b, sizeof(b), r->macc), fmt4(c, sizeof(c), r->aacc));
	if (r->has_iiou)
		fprintf(f, ", iIoU %s", fmt4(d, sizeof(d), r->miiou));
	fputs("\n\n", f);
	md_table(f, "class", r->classes, r->num_classes, r->miou, r->macc, r->miiou);
	if (!r->num_categories)
		return;
	cat_means(r, &cat_macc);
	fputc('\n', f);
	md_table(f, "category", r->categories, r->num_categories, r->cat_miou, cat_macc,
		 r->cat_miiou);
}

static int write_with(const char *path, const struct report *r,
		      void (*print)(FILE *f, const struct report *r))
{
	struct atomic_file af;
	int rc = atomic_open(&af, path);

	if (rc < 0)
		return rc;
	print(af.f, r);
	return atomic_commit(&af);
}

int report_write_csv(const char *path, const struct report *r)
{
	return write_with(path, r, report_print_csv);
}

int report_write_md(const char *path, const struct report *r)
{
	return write_with(path, r, report_print_md);
}
