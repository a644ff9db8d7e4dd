/*
 * Tests of metrics/cityscapes_eval.h: every score against the reference of the official
 * rules (scripts/ref_cityscapes_eval.py fixtures) to 1e-6, a hand-computed image, value
 * errors, merging, the report built from the evaluation, and the real frame evaluated
 * against itself. The fixtures are held both in the official order of the weighted sums
 * and image by image, the order of knseg's split evaluation, whose bits do not depend on
 * how the images are shared between processes.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "metrics/cityscapes_eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6

/* |got - want| <= tol in double (cmocka's float comparison would round). */
#define assert_close(got, want, tol) check_close((got), (want), (tol), __LINE__)

static void check_close(double got, double want, double tol, int line)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("line %d: got %.17g, want %.17g (tolerance %g)", line, got, want, tol);
}

struct image_maps {
	size_t n;
	uint8_t *gt, *pred;
	uint16_t *inst;
};

/* Loads cityscapes_eval_<case>_img<i>.npy: (3, H, W) labelIds, prediction, instanceIds. */
static void load_maps(const char *name, int i, struct image_maps *m)
{
	struct npy_array a;
	char fx[96];

	snprintf(fx, sizeof(fx), "cityscapes_eval_%s_img%d", name, i);
	fixture_load(fx, &a);
	assert_int_equal(a.ndim, 3);
	assert_int_equal(a.shape[0], 3);
	m->n = a.shape[1] * a.shape[2];
	m->gt = xmalloc(m->n);
	m->pred = xmalloc(m->n);
	m->inst = xmalloc(m->n * sizeof(*m->inst));
	for (size_t p = 0; p < m->n; p++) {
		m->gt[p] = (uint8_t)a.data[p];
		m->pred[p] = (uint8_t)a.data[m->n + p];
		m->inst[p] = (uint16_t)a.data[2 * m->n + p];
	}
	npy_free(&a);
}

static void free_maps(struct image_maps *m)
{
	free(m->gt);
	free(m->pred);
	free(m->inst);
}

/*
 * Compares n doubles with the fixture's [hi, lo] float pairs (want = hi + lo), NaN
 * matching NaN only; returns the largest difference.
 */
static double compare(const char *what, const double *got, const float *hi, const float *lo,
		      int n)
{
	double worst = 0;

	for (int i = 0; i < n; i++) {
		double want = (double)hi[i] + (double)lo[i];

		if (isnan(want) || isnan(got[i])) {
			if (!(isnan(want) && isnan(got[i])))
				fail_msg("%s[%d] = %.17g, want %.17g", what, i, got[i], want);
			continue;
		}
		if (fabs(got[i] - want) > TOL)
			fail_msg("%s[%d] = %.17g, want %.17g", what, i, got[i], want);
		worst = fmax(worst, fabs(got[i] - want));
	}
	return worst;
}

static double compare_table(const char *name, const char *tensor, const double *const *got,
			    const char *const *labels, int rows, int n)
{
	struct npy_array a;
	char fx[96];
	double worst = 0;

	snprintf(fx, sizeof(fx), "cityscapes_eval_%s_%s", name, tensor);
	fixture_load(fx, &a);
	assert_int_equal(a.count, (size_t)(2 * rows * n));
	for (int r = 0; r < rows; r++)
		worst = fmax(worst, compare(labels[r], got[r], a.data + (size_t)r * n,
					    a.data + (size_t)(rows + r) * n, n));
	npy_free(&a);
	return worst;
}

static void evaluate_case(const char *name, int images, struct cityscapes_eval *e)
{
	cityscapes_eval_init(e);
	for (int i = 0; i < images; i++) {
		struct image_maps m;

		load_maps(name, i, &m);
		assert_int_equal(cityscapes_eval_add(e, m.gt, m.pred, m.inst, m.n), KN_OK);
		free_maps(&m);
	}
}

/*
 * Image i's own accumulator into *one (cityscapes_eval_free after) and its row of
 * weighted sums into row.
 */
static void evaluate_image(const char *name, int i, struct cityscapes_eval *one, double *row)
{
	struct image_maps m;

	load_maps(name, i, &m);
	cityscapes_eval_init(one);
	assert_int_equal(cityscapes_eval_add(one, m.gt, m.pred, m.inst, m.n), KN_OK);
	cityscapes_eval_weights_get(one, row);
	free_maps(&m);
}

/* The order of knseg's split evaluation: each image apart, its sums added in order. */
static void evaluate_case_by_image(const char *name, int images, struct cityscapes_eval *e)
{
	cityscapes_eval_init(e);
	for (int i = 0; i < images; i++) {
		struct cityscapes_eval one;
		double row[CITYSCAPES_EVAL_WEIGHTS];

		evaluate_image(name, i, &one, row);
		cityscapes_eval_merge_counts(e, &one);
		cityscapes_eval_weights_add(e, row);
		cityscapes_eval_free(&one);
	}
}

static void check_case(const char *name, int images, bool by_image)
{
	struct cityscapes_eval e;
	struct cityscapes_scores s;
	struct npy_array conf;
	char fx[96];
	double worst = 0;
	const char *cls_names[] = {"class IoU", "class iIoU", "class Acc"};
	const char *cat_names[] = {"category IoU", "category iIoU", "category Acc"};
	const char *avg_names[] = {"averages"};

	if (by_image)
		evaluate_case_by_image(name, images, &e);
	else
		evaluate_case(name, images, &e);
	snprintf(fx, sizeof(fx), "cityscapes_eval_%s_confusion", name);
	fixture_load_shape(fx, &conf, 2, (size_t)34, (size_t)34);
	for (int r = 0; r < 34; r++)
		for (int c = 0; c < 34; c++)
			if (confusion_at(&e.conf, r, c) != (uint64_t)conf.data[r * 34 + c])
				fail_msg("%s: C[%d][%d] = %llu, want %.0f", name, r, c,
					 (unsigned long long)confusion_at(&e.conf, r, c),
					 conf.data[r * 34 + c]);
	npy_free(&conf);
	cityscapes_eval_scores(&e, &s);
	const double *cls[] = {s.class_iou, s.class_iiou, s.class_acc};
	const double *cat[] = {s.cat_iou, s.cat_iiou, s.cat_acc};
	const double avg[] = {s.avg_class_iou, s.avg_class_iiou, s.avg_cat_iou,
			      s.avg_cat_iiou, s.macc, s.aacc};
	const double *avgp[] = {avg};

	worst = fmax(worst, compare_table(name, "class", cls, cls_names, 3, 34));
	worst = fmax(worst, compare_table(name, "category", cat, cat_names, 3, 8));
	worst = fmax(worst, compare_table(name, "average", avgp, avg_names, 1, 6));
	print_message("%s%s: largest difference to the reference %.3g\n", name,
		      by_image ? " (image by image)" : "", worst);
	cityscapes_eval_free(&e);
}

static void test_fixtures_match_reference(void **state)
{
	(void)state;
	for (int by_image = 0; by_image < 2; by_image++) {
		check_case("mixed", 4, by_image);
		check_case("perfect", 1, by_image);
		check_case("void", 1, by_image);
	}
}

/*
 * gt    7 7 7 8 8 0 0 26        road road road sidewalk sidewalk unlabeled x2 car
 * pred  7 7 9 8 7 7 8 26        parking (ignored id) predicted on road counts as FN;
 * inst  7 7 7 8 8 0 0 26001     the unlabeled row makes no false positives.
 * road 2/(2+1+1), sidewalk 1/(1+0+1), car 1; flat 4/(4+1+0); car iIoU 1.
 */
static void test_hand_computed(void **state)
{
	static const uint8_t gt[] = {7, 7, 7, 8, 8, 0, 0, 26};
	static const uint8_t pred[] = {7, 7, 9, 8, 7, 7, 8, 26};
	static const uint16_t inst[] = {7, 7, 7, 8, 8, 0, 0, 26001};
	struct cityscapes_eval e;
	struct cityscapes_scores s;

	(void)state;
	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add(&e, gt, pred, inst, 8), KN_OK);
	cityscapes_eval_scores(&e, &s);
	assert_close(s.class_iou[7], 0.5, 1e-15);
	assert_close(s.class_iou[8], 0.5, 1e-15);
	assert_close(s.class_iou[26], 1.0, 1e-15);
	assert_true(isnan(s.class_iou[0]) && isnan(s.class_iou[9]));  /* ignored */
	assert_true(isnan(s.class_iou[11]));                            /* never seen */
	assert_close(s.class_iiou[26], 1.0, 1e-15);
	assert_true(isnan(s.class_iiou[7]) && isnan(s.class_iiou[24]));
	assert_close(s.cat_iou[1], 0.8, 1e-15);
	assert_close(s.cat_iou[7], 1.0, 1e-15);
	assert_true(isnan(s.cat_iou[0]) && isnan(s.cat_iou[2]));
	assert_close(s.cat_iiou[7], 1.0, 1e-15);
	assert_true(isnan(s.cat_iiou[6]) && isnan(s.cat_iiou[1]));
	assert_close(s.avg_class_iou, 2.0 / 3.0, 1e-15);
	assert_close(s.avg_class_iiou, 1.0, 1e-15);
	assert_close(s.avg_cat_iou, 0.9, 1e-15);
	assert_close(s.macc, (2.0 / 3.0 + 0.5 + 1.0) / 3.0, 1e-15);
	assert_close(s.aacc, 4.0 / 6.0, 1e-15);
	assert_int_equal(s.valid, 6);
	assert_close(e.tp_w[26], cityscapes_avg_instance_size(26), 1e-9);
	cityscapes_eval_free(&e);
}

/* A category iIoU hit may be any label of the category, ignored ones included. */
static void test_instance_weights_and_category_hits(void **state)
{
	/* car instance 26001 of 4 pixels: car, caravan (29), truck, road. */
	static const uint8_t gt[] = {26, 26, 26, 26, 24, 24};
	static const uint8_t pred[] = {26, 29, 27, 7, 25, 24};
	static const uint16_t inst[] = {26001, 26001, 26001, 26001, 24, 24000};
	struct cityscapes_eval e;
	struct cityscapes_scores s;
	double w = cityscapes_avg_instance_size(26) / 4;

	(void)state;
	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add(&e, gt, pred, inst, 6), KN_OK);
	assert_close(e.tp_w[26], 1 * w, 1e-9);
	assert_close(e.fn_w[26], 3 * w, 1e-9);
	assert_close(e.cat_tp_w[7], 3 * w, 1e-9);
	assert_close(e.cat_fn_w[7], 1 * w, 1e-9);
	/* Only 24000 is an instance of person (24 is a group); it is hit. */
	assert_int_equal(e.instances[24], 1);
	assert_close(e.tp_w[24], cityscapes_avg_instance_size(24), 1e-9);
	cityscapes_eval_scores(&e, &s);
	assert_close(s.class_iiou[26], 0.25, 1e-12);  /* no FP on car */
	assert_close(s.cat_iiou[7], 0.75, 1e-12);
	/* person: tpW = avg, FP 0 (rider's pixel is FP of rider), fnW 0. */
	assert_close(s.class_iiou[24], 1.0, 1e-12);
	assert_close(s.class_iou[24], 0.5, 1e-12);
	cityscapes_eval_free(&e);
}

static void expect_error(const uint8_t *gt, const uint8_t *pred, const uint16_t *inst,
			 size_t n, const char *text)
{
	struct cityscapes_eval e;

	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add(&e, gt, pred, inst, n), KN_EINVAL);
	if (!strstr(kn_errmsg(), text))
		fail_msg("message '%s' lacks '%s'", kn_errmsg(), text);
	for (int r = 0; r < 34; r++)
		assert_int_equal(confusion_row_sum(&e.conf, r), 0);
	for (int l = 0; l < 34; l++)
		assert_true(e.tp_w[l] == 0 && e.fn_w[l] == 0);
	assert_int_equal(e.images, 0);
	cityscapes_eval_free(&e);
}

static void test_bad_values(void **state)
{
	static const uint8_t ok[] = {7, 26, 26, 8};
	static const uint8_t gt_bad[] = {7, 26, 34, 8};
	static const uint8_t pred_bad[] = {7, 255, 26, 8};
	static const uint16_t inst_ok[] = {7, 26001, 26001, 8};
	static const uint16_t inst_no_class[] = {7, 26001, 34001, 8};
	static const uint16_t inst_stuff[] = {7001, 26001, 26001, 8};

	(void)state;
	expect_error(gt_bad, ok, inst_ok, 4, "ground truth value 34 at pixel 2");
	expect_error(ok, pred_bad, inst_ok, 4, "prediction value 255 at pixel 1");
	expect_error(ok, ok, inst_no_class, 4, "instance value 34001");
	expect_error(ok, ok, inst_stuff, 4, "class 'road' has no instances");
}

/* Instances of ignored classes and values up to 1000 take no part in iIoU. */
static void test_ignored_instances_and_groups(void **state)
{
	static const uint8_t gt[] = {29, 30, 1, 26, 26, 26};
	static const uint8_t pred[] = {29, 26, 1, 26, 26, 0};
	static const uint16_t inst[] = {29001, 30000, 1000, 26, 26, 26};
	struct cityscapes_eval e;
	struct cityscapes_scores s;

	(void)state;
	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add(&e, gt, pred, inst, 6), KN_OK);
	for (int l = 0; l < 34; l++)
		assert_true(e.tp_w[l] == 0 && e.fn_w[l] == 0 && e.instances[l] == 0);
	cityscapes_eval_scores(&e, &s);
	/* car: 2 of 3 pixels, FP 0 (trailer's row is ignored); no instance: iIoU NaN. */
	assert_close(s.class_iou[26], 2.0 / 3.0, 1e-15);
	assert_true(isnan(s.class_iiou[26]));
	assert_true(isnan(s.class_iou[29]));
	/* inst NULL: the pixel scores still count. */
	assert_int_equal(cityscapes_eval_add(&e, gt, pred, NULL, 6), KN_OK);
	assert_int_equal(confusion_at(&e.conf, 26, 26), 4);
	assert_int_equal(e.images, 2);
	cityscapes_eval_free(&e);
}

static void test_merge_equals_one_pass(void **state)
{
	struct cityscapes_eval all, merged;

	(void)state;
	evaluate_case("mixed", 4, &all);
	cityscapes_eval_init(&merged);
	for (int i = 0; i < 4; i++) {
		struct cityscapes_eval one;
		struct image_maps m;

		load_maps("mixed", i, &m);
		cityscapes_eval_init(&one);
		assert_int_equal(cityscapes_eval_add(&one, m.gt, m.pred, m.inst, m.n), KN_OK);
		cityscapes_eval_merge(&merged, &one);
		cityscapes_eval_free(&one);
		free_maps(&m);
	}
	assert_memory_equal(all.conf.m, merged.conf.m, 34 * 35 * sizeof(uint64_t));
	assert_memory_equal(all.tp, merged.tp, sizeof(all.tp));
	assert_memory_equal(all.fn, merged.fn, sizeof(all.fn));
	assert_memory_equal(all.instances, merged.instances, sizeof(all.instances));
	for (int l = 0; l < 34; l++) {
		assert_close(all.tp_w[l], merged.tp_w[l], 1e-9 * (1 + all.tp_w[l]));
		assert_close(all.fn_w[l], merged.fn_w[l], 1e-9 * (1 + all.fn_w[l]));
	}
	for (int c = 0; c < CITYSCAPES_NUM_CATEGORIES; c++)
		assert_close(all.cat_tp_w[c], merged.cat_tp_w[c], 1e-9 * (1 + all.cat_tp_w[c]));
	assert_int_equal(merged.images, 4);
	cityscapes_eval_free(&all);
	cityscapes_eval_free(&merged);
}

/*
 * Images shared out between P processes as split_eval.c does (image i to process
 * i mod P): each process's rows hold its own images' sums and zeros elsewhere, the rows
 * are summed over the processes (in any order: x + 0 is x) and added in image order.
 * The weighted sums are the same bits for every P.
 */
static void test_weights_same_bits_for_any_split(void **state)
{
	enum { IMAGES = 4, W = CITYSCAPES_EVAL_WEIGHTS };
	double rows[IMAGES][W], want[W], got[W];
	struct cityscapes_eval one, ref;

	(void)state;
	evaluate_case_by_image("mixed", IMAGES, &ref);
	cityscapes_eval_weights_get(&ref, want);
	for (int i = 0; i < IMAGES; i++) {
		evaluate_image("mixed", i, &one, rows[i]);
		cityscapes_eval_free(&one);
	}
	for (int p = 1; p <= IMAGES + 1; p++) {
		double sum[IMAGES][W] = {{0}};
		struct cityscapes_eval e;

		for (int rank = p - 1; rank >= 0; rank--)
			for (int i = 0; i < IMAGES; i++)
				for (int k = 0; k < W; k++)
					sum[i][k] += i % p == rank ? rows[i][k] : 0.0;
		cityscapes_eval_init(&e);
		for (int i = 0; i < IMAGES; i++)
			cityscapes_eval_weights_add(&e, sum[i]);
		cityscapes_eval_weights_get(&e, got);
		assert_memory_equal(got, want, sizeof(want));
		cityscapes_eval_free(&e);
	}
	/* Something was summed: the mixed case has instances. */
	assert_true(ref.tp_w[26] > 0 || ref.tp_w[24] > 0);
	cityscapes_eval_free(&ref);
}

/* The report's 19 x 20 matrix gives the official class scores through confusion.h. */
static void test_report_matches_scores(void **state)
{
	struct cityscapes_eval e;
	struct cityscapes_scores s;
	struct report r;
	int row = 0;

	(void)state;
	evaluate_case("mixed", 4, &e);
	cityscapes_eval_scores(&e, &s);
	cityscapes_eval_report(&e, &r);
	assert_int_equal(r.num_classes, 19);
	assert_int_equal(r.num_categories, 7);
	assert_string_equal(r.classes[0].name, "road");
	assert_string_equal(r.classes[18].name, "bicycle");
	assert_string_equal(r.categories[0].name, "flat");
	assert_string_equal(r.categories[6].name, "vehicle");
	for (int l = 0; l < 34; l++) {
		const struct cityscapes_label *lab = cityscapes_by_id(l);
		uint64_t void_preds = 0;

		if (lab->ignore_in_eval)
			continue;
		for (int p = 0; p < 34; p++)
			if (cityscapes_by_id(p)->ignore_in_eval)
				void_preds += confusion_at(&e.conf, l, p);
		assert_int_equal(lab->train_id, row);
		assert_int_equal(confusion_at(&r.conf, row, 19), void_preds);
		assert_int_equal(r.classes[row].pixels, confusion_row_sum(&e.conf, l));
		assert_true(r.classes[row].has_iiou == lab->has_instances);
		if (isnan(s.class_iou[l]))
			assert_true(isnan(confusion_iou(&r.conf, row)));
		else
			assert_close(confusion_iou(&r.conf, row), s.class_iou[l], 1e-15);
		row++;
	}
	assert_close(r.miou, s.avg_class_iou, 0);
	assert_close(r.miiou, s.avg_class_iiou, 0);
	assert_close(r.cat_miou, s.avg_cat_iou, 0);
	assert_close(r.aacc, s.aacc, 0);
	assert_int_equal(r.images, 4);
	report_free(&r);
	cityscapes_eval_free(&e);
}

static int read_frame(const char *dir, const char *kind, int bits, struct label_image *lab)
{
	char path[1024];

	snprintf(path, sizeof(path),
		 "%s/cityscapes_frame/gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_%s.png",
		 dir, kind);
	return bits == 16 ? label_read16(path, lab) : label_read(path, lab);
}

static void test_real_frame_against_itself(void **state)
{
	const char *dir = shared_data_dir();
	struct label_image gt, inst;
	struct cityscapes_eval e;
	struct cityscapes_scores s;
	int present = 0;

	(void)state;
	if (!dir || read_frame(dir, "labelIds", 8, &gt) < 0) {
		print_message("no shared Cityscapes frame: skipped\n");
		skip();
	}
	assert_int_equal(read_frame(dir, "instanceIds", 16, &inst), KN_OK);
	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add_labels(&e, &gt, &gt, &inst), KN_OK);
	cityscapes_eval_scores(&e, &s);
	for (int l = 0; l < 34; l++) {
		bool seen = confusion_row_sum(&e.conf, l) > 0;

		if (cityscapes_by_id(l)->ignore_in_eval || !seen) {
			assert_true(isnan(s.class_iou[l]));
			continue;
		}
		present++;
		assert_close(s.class_iou[l], 1.0, 0);
		assert_true(isnan(s.class_iiou[l]) || s.class_iiou[l] == 1.0);
		if (e.instances[l])
			assert_close(s.class_iiou[l], 1.0, 0);
	}
	assert_true(present >= 5);
	assert_close(s.avg_class_iou, 1.0, 0);
	assert_close(s.avg_cat_iou, 1.0, 0);
	assert_close(s.aacc, 1.0, 0);
	print_message("frame: %d classes present, all IoU 1\n", present);
	cityscapes_eval_free(&e);
	label_free(&gt);
	label_free(&inst);
}

static void test_add_labels_checks_sizes(void **state)
{
	struct label_image gt, pred, inst;
	struct cityscapes_eval e;

	(void)state;
	label_init(&gt, 4, 2, 8);
	label_init(&pred, 4, 2, 8);
	label_init(&inst, 2, 4, 16);
	cityscapes_eval_init(&e);
	assert_int_equal(cityscapes_eval_add_labels(&e, &gt, &pred, &inst), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "instanceIds are 2x4"));
	assert_int_equal(cityscapes_eval_add_labels(&e, &gt, &pred, NULL), KN_OK);
	assert_int_equal(confusion_at(&e.conf, 0, 0), 8);
	cityscapes_eval_free(&e);
	label_free(&gt);
	label_free(&pred);
	label_free(&inst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_match_reference),
		cmocka_unit_test(test_hand_computed),
		cmocka_unit_test(test_instance_weights_and_category_hits),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_ignored_instances_and_groups),
		cmocka_unit_test(test_merge_equals_one_pass),
		cmocka_unit_test(test_weights_same_bits_for_any_split),
		cmocka_unit_test(test_report_matches_scores),
		cmocka_unit_test(test_real_frame_against_itself),
		cmocka_unit_test(test_add_labels_checks_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
