/*
 * Softmax cross-entropy. See loss.h.
 *
 * The logits of one pixel are k values hw apart. Pixels are processed in blocks of
 * consecutive positions of one image, so every inner loop runs over contiguous memory:
 * the block's maxima, then exp(x - max) for every class into a stack scratch (so the
 * fused pass computes exp once per logit), then the sums, the losses and the gradients.
 *
 * Determinism: the pixels are cut into LOSS_CHUNKS ranges fixed by the pixel count alone;
 * each range sums its losses in double in order and the ranges are added in order, so
 * the loss has the same bits for any number of threads. Gradients are per pixel.
 */
#include "nets/loss.h"

#include "io/error.h"
#include "nets/fastexp.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

/* Fixed number of pixel ranges of the reductions (independent of the thread count). */
#define LOSS_CHUNKS 64
/* Floats of exp() scratch per block; a block has min(LOSS_BLOCK, this / k) pixels. */
#define LOSS_SCRATCH 8192
#define LOSS_BLOCK 256

static void loss_check_geom(const struct loss_ce_geom *g)
{
	CHECK(g->n >= 1 && g->k >= 1 && g->hw >= 1 && g->k <= LOSS_SCRATCH);
}

/* The weight of a pixel's label, 0 when ignored; CHECKs the label. */
static float loss_label_weight(int y, const float *weights, const struct loss_ce_geom *g)
{
	if (y == g->ignore)
		return 0.0f;
	CHECK(y < g->k);
	return weights ? weights[y] : 1.0f;
}

/* First pixel of range c of LOSS_CHUNKS over total pixels. */
static size_t loss_chunk_start(size_t total, int c)
{
	return total * (size_t)c / LOSS_CHUNKS;
}

double loss_ce_weight_sum(const uint8_t *labels, const float *weights,
			  const struct loss_ce_geom *g)
{
	size_t total = (size_t)g->n * g->hw;
	double part[LOSS_CHUNKS], sum = 0;

	loss_check_geom(g);
#pragma omp parallel for schedule(static)
	for (int c = 0; c < LOSS_CHUNKS; c++) {
		size_t end = loss_chunk_start(total, c + 1);
		double s = 0;

		for (size_t i = loss_chunk_start(total, c); i < end; i++)
			s += loss_label_weight(labels[i], weights, g);
		part[c] = s;
	}
	for (int c = 0; c < LOSS_CHUNKS; c++)
		sum += part[c];
	return sum;
}

/* What one pass computes besides the loss. */
struct loss_pass {
	const float *logits;
	const uint8_t *labels;
	const float *weights;
	float *dlogits; /* NULL: loss only */
	float gscale;   /* dloss / weight sum */
	const struct loss_ce_geom *g;
};

/*
 * One block of nb pixels of image img starting at position s: returns the block's
 * sum of w[y] * nll in double and, when asked, accumulates the gradient.
 *   x (k, hw) the image's logits; e scratch (k, nb)
 */
static double loss_block(const struct loss_pass *lp, int img, int s, int nb, float *e)
{
	const struct loss_ce_geom *g = lp->g;
	size_t hw = (size_t)g->hw, base = (size_t)img * g->k * hw + (size_t)s;
	const float *x = lp->logits + base;
	const uint8_t *y = lp->labels + (size_t)img * hw + (size_t)s;
	float mx[LOSS_BLOCK], sum[LOSS_BLOCK], wy[LOSS_BLOCK];
	double loss = 0;

	for (int j = 0; j < nb; j++) {
		mx[j] = x[j];
		sum[j] = 0.0f;
	}
	for (int c = 1; c < g->k; c++)
		for (int j = 0; j < nb; j++)
			mx[j] = x[c * hw + j] > mx[j] ? x[c * hw + j] : mx[j];
	/* Subtracting the maximum keeps expf in range: every term is at most 1. */
	for (int c = 0; c < g->k; c++) {
		for (int j = 0; j < nb; j++) {
			e[c * nb + j] = kn_exp_nonpositive(x[c * hw + j] - mx[j]);
			sum[j] += e[c * nb + j];
		}
	}
	for (int j = 0; j < nb; j++) {
		wy[j] = loss_label_weight(y[j], lp->weights, g);
		if (wy[j] != 0.0f)
			loss += wy[j] * (log((double)sum[j]) + mx[j] - x[y[j] * hw + j]);
	}
	if (!lp->dlogits)
		return loss;
	/*
	 * Differentiates loss += wy * (log(sum) + mx - x[y]) (divided by the weight sum in
	 * loss_run): d/dx_c = wy * (e_c / sum - [c == y]) / wsum; mx cancels.
	 */
	for (int j = 0; j < nb; j++)
		wy[j] *= lp->gscale;
	for (int c = 0; c < g->k; c++) {
		float *d = lp->dlogits + base + c * hw;

		for (int j = 0; j < nb; j++)
			if (wy[j] != 0.0f)
				d[j] += (e[c * nb + j] / sum[j] - (y[j] == c ? 1.0f : 0.0f)) *
					wy[j];
	}
	return loss;
}

/* The pixels [start, end) in blocks that stay inside one image. */
static double loss_range(const struct loss_pass *lp, size_t start, size_t end)
{
	float e[LOSS_SCRATCH];
	size_t hw = (size_t)lp->g->hw;
	int block = LOSS_SCRATCH / lp->g->k;
	double loss = 0;

	if (block > LOSS_BLOCK)
		block = LOSS_BLOCK;
	while (start < end) {
		size_t img = start / hw, s = start % hw;
		size_t nb = end - start;

		if (nb > hw - s)
			nb = hw - s;
		if (nb > (size_t)block)
			nb = (size_t)block;
		loss += loss_block(lp, (int)img, (int)s, (int)nb, e);
		start += nb;
	}
	return loss;
}

/* The loss and, when lp->dlogits is set, its gradient; wsum the weight sum. */
static double loss_run(const struct loss_pass *lp, double wsum)
{
	size_t total = (size_t)lp->g->n * lp->g->hw;
	double part[LOSS_CHUNKS], loss = 0;

#pragma omp parallel for schedule(static)
	for (int c = 0; c < LOSS_CHUNKS; c++)
		part[c] = loss_range(lp, loss_chunk_start(total, c),
				     loss_chunk_start(total, c + 1));
	for (int c = 0; c < LOSS_CHUNKS; c++)
		loss += part[c];
	return loss / wsum;
}

double loss_ce_forward(const float *logits, const uint8_t *labels, const float *weights,
		       const struct loss_ce_geom *g)
{
	struct loss_pass lp = {logits, labels, weights, NULL, 0.0f, g};
	double wsum = loss_ce_weight_sum(labels, weights, g);

	if (wsum == 0)
		return 0;
	return loss_run(&lp, wsum);
}

double loss_ce_forward_backward_over(float *dlogits, const float *logits,
				     const uint8_t *labels, const float *weights, float dloss,
				     double wsum, const struct loss_ce_geom *g)
{
	struct loss_pass lp = {logits, labels, weights, dlogits, 0.0f, g};

	CHECK(dlogits);
	CHECK(wsum >= 0);
	loss_check_geom(g);
	/* No valid pixel: the loss is defined as 0, so nothing flows back. */
	if (wsum == 0)
		return 0;
	lp.gscale = (float)(dloss / wsum);
	return loss_run(&lp, wsum);
}

double loss_ce_forward_backward(float *dlogits, const float *logits, const uint8_t *labels,
				const float *weights, float dloss,
				const struct loss_ce_geom *g)
{
	return loss_ce_forward_backward_over(dlogits, logits, labels, weights, dloss,
					     loss_ce_weight_sum(labels, weights, g), g);
}

/* The fused pass without its loss (the exp work is the same). */
void loss_ce_backward(float *dlogits, const float *logits, const uint8_t *labels,
		      const float *weights, float dloss, const struct loss_ce_geom *g)
{
	loss_ce_forward_backward(dlogits, logits, labels, weights, dloss, g);
}
