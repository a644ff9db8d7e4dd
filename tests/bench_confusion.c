/*
 * Benchmark of confusion accumulation on one 1024x2048 image: confusion_add (19
 * classes), the pixel-by-pixel reference, and cityscapes_eval_add with instanceIds, at
 * 1 thread and at the default thread count. Prints the median of 21 runs in ms.
 *
 *     build/release/tests/bench_confusion
 */
#include "io/alloc.h"
#include "io/clock.h"
#include "metrics/cityscapes_eval.h"
#include "metrics/confusion.h"
#include "nets/gemm.h"
#include "io/rng.h"

#include <stdio.h>
#include <stdlib.h>

#define H 1024
#define W 2048
#define RUNS 21

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Blocks of 32x64 pixels with one labelId (cars as instances), predictions 90% right. */
static void make_image(uint8_t *gt, uint8_t *pred, uint16_t *inst)
{
	struct rng r;

	rng_init(&r, 1);
	for (int by = 0; by < H / 32; by++)
		for (int bx = 0; bx < W / 64; bx++) {
			uint8_t id = (uint8_t)rng_below(&r, 34);
			uint16_t iv = id == 26 ? (uint16_t)(26000 + bx) : id;

			for (int y = by * 32; y < by * 32 + 32; y++)
				for (int x = bx * 64; x < bx * 64 + 64; x++) {
					size_t i = (size_t)y * W + (size_t)x;

					gt[i] = id;
					inst[i] = iv;
					pred[i] = rng_below(&r, 10) ? id : (uint8_t)rng_below(&r, 34);
				}
		}
}

enum kind { FAST, NAIVE, CITYSCAPES };

static double median_ms(enum kind kind, const uint8_t *gt, const uint8_t *pred,
			const uint16_t *inst)
{
	double t[RUNS];

	for (int r = 0; r < RUNS; r++) {
		struct confusion c;
		struct cityscapes_eval e;
		double t0;

		confusion_init(&c, 19);
		cityscapes_eval_init(&e);
		t0 = 1e3 * kn_seconds();
		if (kind == FAST)
			confusion_add(&c, gt, pred, (size_t)H * W);
		else if (kind == NAIVE)
			confusion_add_naive(&c, gt, pred, (size_t)H * W);
		else if (cityscapes_eval_add(&e, gt, pred, inst, (size_t)H * W) < 0)
			abort();
		t[r] = 1e3 * kn_seconds() - t0;
		confusion_free(&c);
		cityscapes_eval_free(&e);
	}
	qsort(t, RUNS, sizeof(t[0]), cmp_double);
	return t[RUNS / 2];
}

int main(void)
{
	uint8_t *gt = xmalloc((size_t)H * W), *pred = xmalloc((size_t)H * W);
	uint16_t *inst = xmalloc((size_t)H * W * sizeof(*inst));
	int threads = kn_get_threads();

	make_image(gt, pred, inst);
	for (int nt = 1; nt <= threads; nt = nt == threads ? threads + 1 : threads) {
		kn_set_threads(nt);
		printf("threads %d: confusion_add %.2f ms, naive %.2f ms, "
		       "cityscapes_eval_add %.2f ms (1024x2048)\n",
		       nt, median_ms(FAST, gt, pred, inst), median_ms(NAIVE, gt, pred, inst),
		       median_ms(CITYSCAPES, gt, pred, inst));
	}
	free(gt);
	free(pred);
	free(inst);
	return 0;
}
