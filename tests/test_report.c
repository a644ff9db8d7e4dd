/*
 * Tests of metrics/report.h: the terminal table, CSV and Markdown text line by line,
 * JSON parsed back with io/json.h, and the heat map's size and cell colours (in memory
 * and through a written PNG).
 */
#include "tests/testutil.h"

#include "io/file.h"
#include "io/image.h"
#include "io/json.h"
#include "metrics/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The hand example of test_confusion.c with a fourth class that never occurs:
 *   row 0 [2 1 0 0 | 1], row 1 [1 1 0 0 | 1], row 2 [0 0 1 0 | 0], row 3 zeros;
 *   IoU 0.4 0.25 1 nan, Acc 0.5 1/3 1 nan, aAcc 4/8.
 */
static const char *const names[] = {"road", "car, small", "sky|blue", "absent"};

static void hand_report(struct report *r)
{
	static const uint8_t gt[] = {0, 0, 0, 1, 1, 2, 255, 255, 0, 1};
	static const uint8_t pred[] = {0, 0, 1, 1, 9, 2, 0, 1, 255, 0};
	struct confusion c;

	confusion_init(&c, 4);
	confusion_add(&c, gt, pred, sizeof(gt));
	report_from_confusion(r, &c, names, "demo");
	confusion_free(&c);
}

/* A report with instance scores and a category, as cityscapes_eval builds one. */
static void instance_report(struct report *r)
{
	report_init(r, 2, 1, "cityscapes");
	r->classes[0] = (struct report_row){"person", 0.75, 0.8, 0.5, true, 40};
	r->classes[1] = (struct report_row){"road", 0.25, 1.0, NAN, false, 10};
	r->categories[0] = (struct report_row){"human", 0.75, 0.8, NAN, true, 40};
	r->miou = 0.5;
	r->macc = 0.9;
	r->aacc = 0.84;
	r->has_iiou = true;
	r->miiou = 0.5;
	r->cat_miou = 0.75;
	r->images = 3;
	r->valid_pixels = 50;
}

/* Everything f received, as one string (freed by the caller). */
static char *capture(void (*print)(FILE *f, const struct report *r), const struct report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	print(f, r);
	assert_int_equal(fclose(f), 0);
	return text;
}

static void assert_has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return;
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_terminal_table(void **state)
{
	struct report r;
	char *text;

	(void)state;
	hand_report(&r);
	text = capture(report_print, &r);
	assert_has_line(text, "demo: 8 pixels evaluated");
	assert_has_line(text, "class            IoU       Acc");
	assert_has_line(text, "road          0.4000    0.5000");
	assert_has_line(text, "car, small    0.2500    0.3333");
	assert_has_line(text, "absent           nan       nan");
	assert_has_line(text, "mean          0.5500    0.6111");
	assert_has_line(text, "mIoU 0.5500  mAcc 0.6111  aAcc 0.5000");
	assert_null(strstr(text, "iIoU"));
	assert_null(strstr(text, "category"));
	free(text);
	report_free(&r);

	instance_report(&r);
	text = capture(report_print, &r);
	assert_has_line(text, "cityscapes: 3 images, 50 pixels evaluated");
	assert_has_line(text, "class          IoU       Acc      iIoU");
	assert_has_line(text, "person      0.7500    0.8000    0.5000");
	assert_has_line(text, "road        0.2500    1.0000         -");
	assert_has_line(text, "human       0.7500    0.8000       nan");
	assert_has_line(text, "mIoU 0.5000  mAcc 0.9000  aAcc 0.8400  iIoU 0.5000");
	assert_has_line(text, "category mIoU 0.7500  iIoU nan");
	free(text);
	report_free(&r);
}

static void test_csv(void **state)
{
	struct report r;
	char *text;

	(void)state;
	hand_report(&r);
	text = capture(report_print_csv, &r);
	assert_string_equal(text,
			    "kind,name,iou,acc,iiou,pixels\n"
			    "class,road,0.4,0.5,,4\n"
			    "class,\"car, small\",0.25,0.3333333333333333,,3\n"
			    "class,sky|blue,1,1,,1\n"
			    "class,absent,nan,nan,,0\n"
			    "mean,classes,0.5499999999999999,0.611111111111111,,\n"
			    "overall,pixels,nan,0.5,,8\n");
	free(text);
	report_free(&r);

	instance_report(&r);
	text = capture(report_print_csv, &r);
	assert_has_line(text, "class,person,0.75,0.8,0.5,40");
	assert_has_line(text, "class,road,0.25,1,,10");
	assert_has_line(text, "mean,classes,0.5,0.9,0.5,");
	assert_has_line(text, "category,human,0.75,0.8,nan,40");
	assert_has_line(text, "mean,categories,0.75,0.8,nan,");
	free(text);
	report_free(&r);
}

static void test_markdown(void **state)
{
	struct report r;
	char *text;

	(void)state;
	hand_report(&r);
	text = capture(report_print_md, &r);
	assert_string_equal(text,
			    "# Evaluation: demo\n\n"
			    "8 pixels evaluated.\n\n"
			    "mIoU 0.5500, mAcc 0.6111, aAcc 0.5000\n\n"
			    "| class | IoU | Acc |\n"
			    "|:---|---:|---:|\n"
			    "| road | 0.4000 | 0.5000 |\n"
			    "| car, small | 0.2500 | 0.3333 |\n"
			    "| sky\\|blue | 1.0000 | 1.0000 |\n"
			    "| absent | nan | nan |\n"
			    "| mean | 0.5500 | 0.6111 |\n");
	free(text);
	report_free(&r);

	instance_report(&r);
	text = capture(report_print_md, &r);
	assert_has_line(text, "| class | IoU | Acc | iIoU |");
	assert_has_line(text, "| road | 0.2500 | 1.0000 | - |");
	assert_has_line(text, "| human | 0.7500 | 0.8000 | nan |");
	assert_has_line(text, "mIoU 0.5000, mAcc 0.9000, aAcc 0.8400, iIoU 0.5000");
	free(text);
	report_free(&r);
}

static void read_json(const char *path, struct json_doc *doc)
{
	unsigned char *data;
	size_t len;

	assert_int_equal(file_read_all(path, &data, &len), 0);
	assert_int_equal(json_parse((const char *)data, len, doc), 0);
	free(data);
}

static double num(const struct json_value *v)
{
	assert_non_null(v);
	assert_int_equal(v->type, JSON_NUMBER);
	return v->u.num.d;
}

static void test_json_round_trip(void **state)
{
	char *dir = tmpdir_create(), path[1024];
	const struct json_value *root, *classes, *conf, *row;
	struct json_doc doc;
	struct report r;
	uint64_t u;

	(void)state;
	hand_report(&r);
	snprintf(path, sizeof(path), "%s/eval.json", dir);
	assert_int_equal(report_write_json(path, &r), 0);
	read_json(path, &doc);
	root = doc.root;
	assert_string_equal(json_get_string(json_get(root, "dataset")), "demo");
	assert_true(num(json_get(root, "mIoU")) == r.miou);
	assert_true(num(json_get(root, "mAcc")) == r.macc);
	assert_true(num(json_get(root, "aAcc")) == 0.5);
	assert_null(json_get(root, "iIoU"));
	assert_null(json_get(root, "categories"));
	assert_true(json_get_u64(json_get(root, "valid_pixels"), &u) && u == 8);
	classes = json_get(root, "classes");
	assert_int_equal(classes->len, 4);
	assert_string_equal(json_get_string(json_get(&classes->u.items[1], "name")), "car, small");
	assert_true(num(json_get(&classes->u.items[1], "acc")) == 1.0 / 3.0);
	assert_int_equal(json_get(&classes->u.items[3], "iou")->type, JSON_NULL);
	assert_null(json_get(&classes->u.items[0], "iiou"));
	conf = json_get(root, "confusion");
	assert_int_equal(json_get(conf, "columns")->len, 5);
	assert_string_equal(json_get_string(&json_get(conf, "columns")->u.items[4]), "void");
	row = &json_get(conf, "counts")->u.items[0];
	assert_int_equal(row->len, 5);
	assert_true(json_get_u64(&row->u.items[0], &u) && u == 2);
	assert_true(json_get_u64(&row->u.items[4], &u) && u == 1);
	json_doc_free(&doc);
	report_free(&r);

	instance_report(&r);
	assert_int_equal(report_write_json(path, &r), 0);
	read_json(path, &doc);
	classes = json_get(doc.root, "classes");
	assert_true(num(json_get(&classes->u.items[0], "iiou")) == 0.5);
	assert_null(json_get(&classes->u.items[1], "iiou"));
	assert_int_equal(json_get(&json_get(doc.root, "categories")->u.items[0], "iiou")->type,
			 JSON_NULL);
	assert_true(num(json_get(doc.root, "category_mIoU")) == 0.75);
	assert_int_equal(json_get(doc.root, "category_iIoU")->type, JSON_NULL);
	assert_true(num(json_get(doc.root, "iIoU")) == 0.5);
	json_doc_free(&doc);
	report_free(&r);
	tmpdir_remove(dir);
}

static void test_files_written(void **state)
{
	char *dir = tmpdir_create(), path[1024];
	struct report r;
	unsigned char *data;
	size_t len;

	(void)state;
	hand_report(&r);
	snprintf(path, sizeof(path), "%s/eval.csv", dir);
	assert_int_equal(report_write_csv(path, &r), 0);
	assert_int_equal(file_read_all(path, &data, &len), 0);
	assert_non_null(strstr((char *)data, "class,road,0.4,0.5,,4\n"));
	free(data);
	snprintf(path, sizeof(path), "%s/eval.md", dir);
	assert_int_equal(report_write_md(path, &r), 0);
	assert_int_equal(file_read_all(path, &data, &len), 0);
	assert_non_null(strstr((char *)data, "| road | 0.4000 | 0.5000 |\n"));
	free(data);
	snprintf(path, sizeof(path), "%s/missing/eval.md", dir);
	assert_true(report_write_md(path, &r) < 0);
	report_free(&r);
	tmpdir_remove(dir);
}

static void assert_pixel(const struct image *img, int x, int y, int r, int g, int b)
{
	const uint8_t *p = img->rgb + 3 * ((size_t)y * (size_t)img->w + (size_t)x);

	if (p[0] != r || p[1] != g || p[2] != b)
		fail_msg("pixel (%d, %d) = (%d, %d, %d), want (%d, %d, %d)", x, y, p[0], p[1],
			 p[2], r, g, b);
}

/* Cell (row i, column j) of cell size 4 covers pixels 4j+1..4j+3, 4i+1..4i+3. */
static void check_heatmap(const struct image *img)
{
	assert_int_equal(img->w, 5 * 4 + 1);
	assert_int_equal(img->h, 4 * 4 + 1);
	assert_pixel(img, 0, 0, 200, 200, 200);        /* grid */
	assert_pixel(img, 4, 6, 200, 200, 200);
	assert_pixel(img, 2, 2, 128, 208, 128);        /* road -> road: 2/4, diagonal */
	assert_pixel(img, 7, 3, 255, 191, 191);        /* road -> car: 1/4 */
	assert_pixel(img, 18, 1, 255, 191, 191);       /* road -> void: 1/4 */
	assert_pixel(img, 11, 3, 255, 255, 255);       /* road -> sky: 0 */
	assert_pixel(img, 6, 6, 170, 223, 170);        /* car -> car: 1/3 */
	assert_pixel(img, 10, 10, 0, 160, 0);          /* sky -> sky: 1 */
	assert_pixel(img, 14, 14, 128, 128, 128);      /* absent: no ground truth */
}

static void test_heatmap(void **state)
{
	char *dir = tmpdir_create(), path[1024];
	struct report r;
	struct image img, back;

	(void)state;
	hand_report(&r);
	report_heatmap(&r.conf, 4, &img);
	check_heatmap(&img);
	image_free(&img);
	snprintf(path, sizeof(path), "%s/confusion.png", dir);
	assert_int_equal(report_write_heatmap(path, &r), 0);
	assert_int_equal(image_read(path, &back), 0);
	assert_int_equal(back.w, 5 * REPORT_HEATMAP_CELL + 1);
	assert_int_equal(back.h, 4 * REPORT_HEATMAP_CELL + 1);
	assert_pixel(&back, REPORT_HEATMAP_CELL / 2, REPORT_HEATMAP_CELL / 2, 128, 208, 128);
	assert_pixel(&back, REPORT_HEATMAP_CELL, 3, 200, 200, 200);
	image_free(&back);
	report_free(&r);
	tmpdir_remove(dir);
}

static void test_default_names(void **state)
{
	struct confusion c;
	struct report r;

	(void)state;
	confusion_init(&c, 12);
	report_from_confusion(&r, &c, NULL, NULL);
	assert_string_equal(r.classes[11].name, "class 11");
	assert_string_equal(r.dataset, "");
	assert_true(isnan(r.miou) && isnan(r.aacc));
	report_free(&r);
	confusion_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminal_table),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_files_written),
		cmocka_unit_test(test_heatmap),
		cmocka_unit_test(test_default_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
