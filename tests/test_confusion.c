/*
 * Tests of metrics/confusion.h: hand-computed matrices and scores (ignored ground truth,
 * void predictions, absent classes, empty matrices), the fast accumulation against the
 * pixel-by-pixel one, merging, and independence from the thread count.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "io/error.h"
#include "metrics/confusion.h"
#include "io/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static void assert_near(double got, double want)
{
	if (isnan(want)) {
		assert_true(isnan(got));
		return;
	}
	if (fabs(got - want) > 1e-12)
		fail_msg("got %.17g, want %.17g", got, want);
}

static void assert_rows(const struct confusion *c, const uint64_t *want)
{
	for (int i = 0; i < c->k; i++)
		for (int j = 0; j <= c->k; j++)
			if (confusion_at(c, i, j) != want[i * (c->k + 1) + j])
				fail_msg("C[%d][%d] = %llu, want %llu", i, j,
					 (unsigned long long)confusion_at(c, i, j),
					 (unsigned long long)want[i * (c->k + 1) + j]);
}

/*
 * k = 3. gt 255 is ignored; predictions 255 and 9 are void (column 3).
 *   row 0: 0,0 -> 0; 0 -> 1; 0 -> void         [2 1 0 1]
 *   row 1: 1 -> 1; 1 -> void; 1 -> 0           [1 1 0 1]
 *   row 2: 2 -> 2                              [0 0 1 0]
 * IoU: 2/(2+1+2) = 0.4, 1/(1+1+2) = 0.25, 1; Acc: 2/4, 1/3, 1; aAcc 4/8.
 */
static const uint8_t hand_gt[] = {0, 0, 0, 1, 1, 2, 255, 255, 0, 1};
static const uint8_t hand_pred[] = {0, 0, 1, 1, 9, 2, 0, 1, 255, 0};

static void test_hand_matrix_and_scores(void **state)
{
	static const uint64_t want[] = {2, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0};
	struct confusion c;
	struct confusion_summary s;

	(void)state;
	confusion_init(&c, 3);
	confusion_add(&c, hand_gt, hand_pred, sizeof(hand_gt));
	assert_rows(&c, want);
	assert_int_equal(confusion_row_sum(&c, 0), 4);
	assert_int_equal(confusion_col_sum(&c, 0), 3);
	assert_int_equal(confusion_col_sum(&c, CONFUSION_VOID(&c)), 2);
	assert_near(confusion_iou(&c, 0), 0.4);
	assert_near(confusion_iou(&c, 1), 0.25);
	assert_near(confusion_iou(&c, 2), 1.0);
	assert_near(confusion_acc(&c, 0), 0.5);
	assert_near(confusion_acc(&c, 1), 1.0 / 3.0);
	assert_near(confusion_acc(&c, 2), 1.0);
	confusion_summarize(&c, &s);
	assert_near(s.miou, (0.4 + 0.25 + 1.0) / 3);
	assert_near(s.macc, (0.5 + 1.0 / 3.0 + 1.0) / 3);
	assert_near(s.aacc, 0.5);
	assert_int_equal(s.valid, 8);
	assert_int_equal(s.correct, 4);
	assert_int_equal(s.iou_classes, 3);
	confusion_free(&c);
}

/* Class 1 is predicted but never in the ground truth; class 2 appears nowhere. */
static void test_absent_classes(void **state)
{
	static const uint8_t gt[] = {0, 0, 0, 0, 3, 3};
	static const uint8_t pred[] = {0, 1, 1, 0, 2, 1};
	struct confusion c;
	struct confusion_summary s;

	(void)state;
	confusion_init(&c, 3);
	confusion_add(&c, gt, pred, sizeof(gt));
	assert_near(confusion_iou(&c, 0), 0.5);          /* 2 / (2 + 0 + 2) */
	assert_near(confusion_acc(&c, 0), 0.5);
	assert_near(confusion_iou(&c, 1), 0.0);          /* 0 / (0 + 2 + 0) */
	assert_true(isnan(confusion_acc(&c, 1)));        /* no ground truth pixel */
	assert_true(isnan(confusion_iou(&c, 2)));
	assert_true(isnan(confusion_acc(&c, 2)));
	confusion_summarize(&c, &s);
	assert_int_equal(s.iou_classes, 2);
	assert_int_equal(s.acc_classes, 1);
	assert_near(s.miou, 0.25);
	assert_near(s.macc, 0.5);
	assert_near(s.aacc, 0.5);
	confusion_free(&c);
}

static void test_empty_matrix(void **state)
{
	static const uint8_t gt[] = {7, 200, 255};
	static const uint8_t pred[] = {0, 1, 2};
	struct confusion c;
	struct confusion_summary s;

	(void)state;
	confusion_init(&c, 5);
	confusion_add(&c, gt, pred, sizeof(gt));     /* all ignored */
	confusion_add(&c, gt, pred, 0);
	for (int i = 0; i < 5; i++) {
		assert_true(isnan(confusion_iou(&c, i)));
		assert_true(isnan(confusion_acc(&c, i)));
		assert_int_equal(confusion_row_sum(&c, i), 0);
	}
	confusion_summarize(&c, &s);
	assert_true(isnan(s.miou) && isnan(s.macc) && isnan(s.aacc));
	assert_int_equal(s.valid, 0);
	assert_int_equal(s.iou_classes, 0);
	confusion_free(&c);
}

/* Segmentation-like data: runs of equal values, some ignored and void pixels. */
static void make_maps(uint8_t *gt, uint8_t *pred, size_t n, int k, uint64_t seed)
{
	struct rng r;
	uint8_t g = 0;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++) {
		if (rng_below(&r, 16) == 0)
			g = rng_below(&r, 10) == 0 ? 255 : (uint8_t)rng_below(&r, (uint32_t)k + 1);
		gt[i] = g;
		pred[i] = rng_below(&r, 5) == 0 ? (uint8_t)rng_below(&r, 256) : g;
	}
}

static void check_fast_equals_naive(int k, size_t n, uint64_t seed)
{
	uint8_t *gt = xmalloc(n), *pred = xmalloc(n);
	struct confusion fast, naive;

	make_maps(gt, pred, n, k, seed);
	confusion_init(&fast, k);
	confusion_init(&naive, k);
	confusion_add(&fast, gt, pred, n);
	confusion_add_naive(&naive, gt, pred, n);
	assert_memory_equal(fast.m, naive.m, (size_t)k * (k + 1) * sizeof(uint64_t));
	confusion_free(&fast);
	confusion_free(&naive);
	free(gt);
	free(pred);
}

static void test_fast_equals_naive(void **state)
{
	(void)state;
	check_fast_equals_naive(1, 7, 1);
	check_fast_equals_naive(3, 1001, 2);
	check_fast_equals_naive(19, 300001, 3);     /* threaded, n not a multiple of 4 */
	check_fast_equals_naive(34, 1 << 17, 4);
	check_fast_equals_naive(255, 100003, 5);
}

static void test_merge_equals_one_pass(void **state)
{
	const size_t n = 200000;
	uint8_t *gt = xmalloc(n), *pred = xmalloc(n);
	struct confusion all, parts, part;
	const size_t cuts[] = {0, 1, 70000, 70003, 150000, n};

	(void)state;
	make_maps(gt, pred, n, 19, 9);
	confusion_init(&all, 19);
	confusion_init(&parts, 19);
	confusion_add(&all, gt, pred, n);
	for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
		confusion_init(&part, 19);
		confusion_add(&part, gt + cuts[i], pred + cuts[i], cuts[i + 1] - cuts[i]);
		confusion_merge(&parts, &part);
		confusion_free(&part);
	}
	assert_memory_equal(all.m, parts.m, 19 * 20 * sizeof(uint64_t));
	confusion_reset(&all);
	assert_int_equal(confusion_row_sum(&all, 3), 0);
	confusion_free(&all);
	confusion_free(&parts);
	free(gt);
	free(pred);
}

static void test_thread_count_independent(void **state)
{
#ifdef _OPENMP
	const size_t n = 1 << 20;
	uint8_t *gt = xmalloc(n), *pred = xmalloc(n);
	struct confusion one, two;
	int saved = omp_get_max_threads();

	(void)state;
	make_maps(gt, pred, n, 19, 11);
	confusion_init(&one, 19);
	confusion_init(&two, 19);
	omp_set_num_threads(1);
	confusion_add(&one, gt, pred, n);
	omp_set_num_threads(2);
	confusion_add(&two, gt, pred, n);
	omp_set_num_threads(saved);
	assert_memory_equal(one.m, two.m, 19 * 20 * sizeof(uint64_t));
	confusion_free(&one);
	confusion_free(&two);
	free(gt);
	free(pred);
#else
	(void)state;
	skip();
#endif
}

static void test_add_labels_sizes(void **state)
{
	struct label_image gt, pred;
	struct confusion c;

	(void)state;
	label_init(&gt, 4, 3, 8);
	label_init(&pred, 3, 4, 8);
	confusion_init(&c, 2);
	assert_int_equal(confusion_add_labels(&c, &gt, &pred), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "3x4"));
	assert_int_equal(confusion_row_sum(&c, 0), 0);
	label_free(&pred);
	label_init(&pred, 4, 3, 8);
	pred.u8[5] = 1;
	assert_int_equal(confusion_add_labels(&c, &gt, &pred), KN_OK);
	assert_int_equal(confusion_at(&c, 0, 0), 11);
	assert_int_equal(confusion_at(&c, 0, 1), 1);
	confusion_free(&c);
	label_free(&gt);
	label_free(&pred);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_matrix_and_scores),
		cmocka_unit_test(test_absent_classes),
		cmocka_unit_test(test_empty_matrix),
		cmocka_unit_test(test_fast_equals_naive),
		cmocka_unit_test(test_merge_equals_one_pass),
		cmocka_unit_test(test_thread_count_independent),
		cmocka_unit_test(test_add_labels_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
