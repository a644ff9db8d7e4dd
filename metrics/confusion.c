/*
 * Confusion matrices and their scores. See confusion.h.
 *
 * Accumulation maps each pixel to one cell of a (k + 1) x (k + 1) histogram through two
 * byte tables (row k collects the ignored ground truth and is dropped at the end, so the
 * loop has no branch). Neighbouring pixels of a segmentation mostly hit the same cell,
 * and one counter incremented per pixel would wait on its own previous store every
 * time; four interleaved histograms ("lanes") break that chain. Each thread owns its
 * lanes and counts the chunks of pixels it takes; the lanes are summed afterwards in
 * thread order (integer sums: the result does not depend on who counted what).
 */
#include "metrics/confusion.h"

#include "io/alloc.h"
#include "io/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define LANES 4

/* Below this many pixels one thread does the work (thread start-up would dominate). */
#define CONFUSION_PAR_MIN ((size_t)1 << 17)
/* Pixels per unit of work handed to a thread. */
#define CONFUSION_CHUNK ((size_t)1 << 16)

void confusion_init(struct confusion *c, int k)
{
	CHECK(k >= 1 && k <= CONFUSION_MAX_CLASSES);
	c->k = k;
	c->m = xcalloc((size_t)k * (size_t)(k + 1), sizeof(*c->m));
}

void confusion_free(struct confusion *c)
{
	free(c->m);
	c->m = NULL;
	c->k = 0;
}

void confusion_reset(struct confusion *c)
{
	memset(c->m, 0, (size_t)c->k * (size_t)(c->k + 1) * sizeof(*c->m));
}

/* Counts pixels [0, n) into LANES histograms of cells cells each, starting at h. */
static void count_range(uint64_t *h, size_t cells, const uint32_t *row_off,
			const uint32_t *col, const uint8_t *gt, const uint8_t *pred, size_t n)
{
	uint64_t *h0 = h, *h1 = h + cells, *h2 = h + 2 * cells, *h3 = h + 3 * cells;
	size_t i = 0;

	for (; i + LANES <= n; i += LANES) {
		h0[row_off[gt[i]] + col[pred[i]]]++;
		h1[row_off[gt[i + 1]] + col[pred[i + 1]]]++;
		h2[row_off[gt[i + 2]] + col[pred[i + 2]]]++;
		h3[row_off[gt[i + 3]] + col[pred[i + 3]]]++;
	}
	for (; i < n; i++)
		h0[row_off[gt[i]] + col[pred[i]]]++;
}

static int threads_for(size_t n)
{
#ifdef _OPENMP
	if (n >= CONFUSION_PAR_MIN)
		return omp_get_max_threads();
#endif
	(void)n;
	return 1;
}

void confusion_add(struct confusion *c, const uint8_t *gt, const uint8_t *pred, size_t n)
{
	const int k = c->k;
	const size_t cols = (size_t)k + 1, cells = cols * cols, slice = LANES * cells;
	uint32_t row_off[256], col[256];
	int nt = threads_for(n);
	uint64_t *h;

	if (n == 0)
		return;
	for (int v = 0; v < 256; v++) {
		row_off[v] = (uint32_t)((v < k ? v : k) * cols);
		col[v] = (uint32_t)(v < k ? v : k);
	}
	h = xcalloc((size_t)nt * slice, sizeof(*h));
#ifdef _OPENMP
	/*
	 * Chunks handed out dynamically: a thread that loses its core for a while (a busy
	 * machine) leaves its share to the others instead of holding everyone up.
	 */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
	for (size_t lo = 0; lo < n; lo += CONFUSION_CHUNK) {
		size_t len = n - lo < CONFUSION_CHUNK ? n - lo : CONFUSION_CHUNK;

		count_range(h + (size_t)omp_get_thread_num() * slice, cells, row_off, col,
			    gt + lo, pred + lo, len);
	}
#else
	count_range(h, cells, row_off, col, gt, pred, n);
#endif
	/* Fixed order: thread 0's lanes first, the dropped row k never read. */
	for (size_t s = 0; s < (size_t)nt * LANES; s++)
		for (size_t i = 0; i < (size_t)k * cols; i++)
			c->m[i] += h[s * cells + i];
	free(h);
}

void confusion_add_naive(struct confusion *c, const uint8_t *gt, const uint8_t *pred,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (gt[i] >= c->k)
			continue;
		int p = pred[i] < c->k ? pred[i] : c->k;

		c->m[(size_t)gt[i] * (size_t)(c->k + 1) + (size_t)p]++;
	}
}

int confusion_add_labels(struct confusion *c, const struct label_image *gt,
			 const struct label_image *pred)
{
	CHECK(gt->bits == 8 && pred->bits == 8);
	if (gt->w != pred->w || gt->h != pred->h)
		return kn_error(KN_EMISMATCH,
				"prediction is %dx%d but the ground truth is %dx%d", pred->w,
				pred->h, gt->w, gt->h);
	confusion_add(c, gt->u8, pred->u8, (size_t)gt->w * (size_t)gt->h);
	return KN_OK;
}

void confusion_merge(struct confusion *dst, const struct confusion *src)
{
	CHECK(dst->k == src->k);
	for (size_t i = 0; i < (size_t)dst->k * (size_t)(dst->k + 1); i++)
		dst->m[i] += src->m[i];
}

uint64_t confusion_row_sum(const struct confusion *c, int row)
{
	uint64_t s = 0;

	CHECK(row >= 0 && row < c->k);
	for (int j = 0; j <= c->k; j++)
		s += confusion_at(c, row, j);
	return s;
}

uint64_t confusion_col_sum(const struct confusion *c, int col)
{
	uint64_t s = 0;

	CHECK(col >= 0 && col <= c->k);
	for (int i = 0; i < c->k; i++)
		s += confusion_at(c, i, col);
	return s;
}

double confusion_iou(const struct confusion *c, int cls)
{
	uint64_t tp = confusion_at(c, cls, cls);
	uint64_t fn = confusion_row_sum(c, cls) - tp;
	uint64_t fp = confusion_col_sum(c, cls) - tp;
	uint64_t den = tp + fp + fn;

	return den ? (double)tp / (double)den : NAN;
}

double confusion_acc(const struct confusion *c, int cls)
{
	uint64_t den = confusion_row_sum(c, cls);

	return den ? (double)confusion_at(c, cls, cls) / (double)den : NAN;
}

void confusion_summarize(const struct confusion *c, struct confusion_summary *s)
{
	double iou_sum = 0, acc_sum = 0;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < c->k; i++) {
		double iou = confusion_iou(c, i), acc = confusion_acc(c, i);

		if (!isnan(iou)) {
			iou_sum += iou;
			s->iou_classes++;
		}
		if (!isnan(acc)) {
			acc_sum += acc;
			s->acc_classes++;
		}
		s->valid += confusion_row_sum(c, i);
		s->correct += confusion_at(c, i, i);
	}
	s->miou = s->iou_classes ? iou_sum / s->iou_classes : NAN;
	s->macc = s->acc_classes ? acc_sum / s->acc_classes : NAN;
	s->aacc = s->valid ? (double)s->correct / (double)s->valid : NAN;
}
