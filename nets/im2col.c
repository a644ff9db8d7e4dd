/*
 * im2col and its adjoint col2im. See conv_internal.h.
 *
 * Each column-matrix row (c, ki, kj) is written output row by output row: the output
 * columns j whose input column j*sw - pad_left + kj falls inside the image form one
 * contiguous range [j0, j1), computed once per row, so the inner loop is a plain copy
 * (a memcpy at stride 1) with zeros only on the padded margins.
 */
#include "nets/conv_internal.h"

#include <string.h>

/*
 * Below this many floats written, a loop runs on one thread: starting and joining a
 * team costs more than the copy, and on a loaded machine far more.
 */
#define IM2COL_PARALLEL_MIN 32768

/* The output columns [*j0, *j1) whose input column j*sw - pad_left + kj is in [0, w). */
static void valid_range(int *j0, int *j1, int kj, const struct conv_geom *g)
{
	int first = g->pad_left - kj;      /* j*sw >= first */
	int last = g->w - 1 + g->pad_left - kj; /* j*sw <= last */

	*j0 = first <= 0 ? 0 : (first + g->sw - 1) / g->sw;
	*j1 = last < 0 ? 0 : last / g->sw + 1;
	if (*j1 > g->wo)
		*j1 = g->wo;
	if (*j1 < *j0)
		*j1 = *j0;
}

/*
 * Zeros and copies of one output row. Rows are short in the late layers and in narrow
 * networks (tens of floats), where a libc call per piece cost more than the copying: in
 * the training step of a width-0.25 network, memcpy and memset from here took over 10 %.
 * Plain loops vectorize; GCC would turn them back into those calls, hence the attribute.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
static void im2col_copy_row(float *restrict d, const float *restrict s, int j0, int j1,
			    int wo)
{
	for (int j = 0; j < j0; j++)
		d[j] = 0.0f;
	for (int j = j0; j < j1; j++)
		d[j] = s[j - j0];
	for (int j = j1; j < wo; j++)
		d[j] = 0.0f;
}

/* One column-matrix row dst ((i1-i0)*wo) from one input channel plane src (h, w). */
static void im2col_row(float *dst, const float *src, int ki, int kj, int i0, int i1,
		       const struct conv_geom *g)
{
	int j0, j1;

	valid_range(&j0, &j1, kj, g);
	for (int i = i0; i < i1; i++) {
		int ii = i * g->sh - g->pad_top + ki;
		float *d = dst + (size_t)(i - i0) * g->wo;

		if (ii < 0 || ii >= g->h || j0 == j1) {
			im2col_copy_row(d, NULL, 0, 0, g->wo);
			continue;
		}
		const float *s = src + (size_t)ii * g->w + (j0 * g->sw - g->pad_left + kj);

		if (g->sw == 1) {
			im2col_copy_row(d, s, j0, j1, g->wo);
		} else {
			im2col_copy_row(d, NULL, 0, 0, j0);
			for (int j = j0; j < j1; j++)
				d[j] = s[(size_t)(j - j0) * g->sw];
			im2col_copy_row(d + j1, NULL, 0, 0, g->wo - j1);
		}
	}
}

void im2col(float *col, const float *in, const struct conv_geom *g, int i0, int i1)
{
	int rows = g->cin * g->kh * g->kw;
	size_t plane = (size_t)g->h * g->w, npos = (size_t)(i1 - i0) * g->wo;

#pragma omp parallel for schedule(static) if (rows * npos >= IM2COL_PARALLEL_MIN)
	for (int r = 0; r < rows; r++) {
		int c = r / (g->kh * g->kw), ki = r / g->kw % g->kh, kj = r % g->kw;

		im2col_row(col + (size_t)r * npos, in + (size_t)c * plane, ki, kj, i0, i1, g);
	}
}

/* dst (h, w) += the adjoint of im2col_row applied to src ((i1-i0)*wo). */
static void col2im_row(float *dst, const float *src, int ki, int kj, int i0, int i1,
		       const struct conv_geom *g)
{
	int j0, j1;

	valid_range(&j0, &j1, kj, g);
	if (j0 == j1)
		return;
	for (int i = i0; i < i1; i++) {
		int ii = i * g->sh - g->pad_top + ki;

		if (ii < 0 || ii >= g->h)
			continue;
		const float *s = src + (size_t)(i - i0) * g->wo;
		float *d = dst + (size_t)ii * g->w + (j0 * g->sw - g->pad_left + kj);

		if (g->sw == 1) {
			for (int j = j0; j < j1; j++)
				d[j - j0] += s[j];
		} else {
			for (int j = j0; j < j1; j++)
				d[(size_t)(j - j0) * g->sw] += s[j];
		}
	}
}

void col2im(float *din, const float *col, const struct conv_geom *g, int i0, int i1)
{
	size_t plane = (size_t)g->h * g->w, npos = (size_t)(i1 - i0) * g->wo;

	/*
	 * One thread per channel: all kh*kw rows of a channel add into the same plane, in
	 * the fixed order (ki, kj), so the sums do not depend on the thread count.
	 */
#pragma omp parallel for schedule(static) \
	if ((size_t)g->cin * g->kh * g->kw * npos >= IM2COL_PARALLEL_MIN)
	for (int c = 0; c < g->cin; c++) {
		for (int ki = 0; ki < g->kh; ki++) {
			for (int kj = 0; kj < g->kw; kj++) {
				size_t r = ((size_t)c * g->kh + ki) * g->kw + kj;

				col2im_row(din + (size_t)c * plane, col + r * npos, ki, kj, i0, i1,
					   g);
			}
		}
	}
}
