/*
 * 2-D convolution as im2col + GEMM. See conv.h.
 *
 * Per image, with K = cin*kh*kw and P = ho*wo:
 *
 *     col = im2col(in)                 (K, P)
 *     out = weight * col + bias        (cout, P) = (cout, K) * (K, P)
 *
 * done one band of output rows at a time: the band's column matrix (about
 * CONV_BAND_FLOATS floats) is written by im2col and read back by the GEMM while it is
 * still in cache, which makes the pair about as fast as the GEMM alone, and the
 * workspace is one band. A 1x1 convolution with stride 1 and no padding needs no
 * im2col: the image (cin, h*w) already is its column matrix.
 *
 * Images go one at a time, never side by side in one GEMM, although the narrow GEMMs of
 * the late layers (a few hundred positions per image) would run a few % faster wider:
 * OpenBLAS rounds a column differently depending on where it falls in the GEMM, so an
 * image's result would depend on the other images of its batch.
 *
 * Stride-1 layers with many input channels take another path, one GEMM per kernel tap on
 * the padded image (conv_shift.c); the direct reference loops are in conv_naive.c.
 *
 * GEMMs are called outside any OpenMP region and share their fixed tiles among the threads (gemm.c); im2col/col2im and the bias
 * loops run OpenMP threads that each own the memory they write. Every sum is taken in
 * an order that does not depend on the thread count, so results are bitwise the same
 * at any number of threads.
 */
#include "nets/conv.h"

#include "io/error.h"
#include "nets/conv_internal.h"
#include "nets/gemm.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>

struct conv_geom conv_geom_make(int n, int cin, int h, int w, int cout, int kh, int kw,
				int sh, int sw, const int pad[4])
{
	struct conv_geom g = {
		.n = n, .cin = cin, .h = h, .w = w, .cout = cout, .kh = kh, .kw = kw,
		.sh = sh, .sw = sw, .pad_left = pad[0], .pad_right = pad[1],
		.pad_top = pad[2], .pad_bottom = pad[3],
	};

	CHECK(n >= 1 && cin >= 1 && h >= 1 && w >= 1 && cout >= 1);
	CHECK(kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1);
	CHECK(pad[0] >= 0 && pad[1] >= 0 && pad[2] >= 0 && pad[3] >= 0);
	CHECK(h + g.pad_top + g.pad_bottom >= kh && w + g.pad_left + g.pad_right >= kw);
	g.ho = (h + g.pad_top + g.pad_bottom - kh) / sh + 1;
	g.wo = (w + g.pad_left + g.pad_right - kw) / sw + 1;
	/* GEMM dimensions are ints. */
	CHECK((long long)cin * kh * kw <= INT_MAX && (long long)g.ho * g.wo <= INT_MAX);
	CHECK((long long)h * w <= INT_MAX);
	return g;
}

/* True when the image itself is the column matrix (1x1, stride 1, no padding). */
static int conv_is_pointwise(const struct conv_geom *g)
{
	return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pad_left == 0 &&
	       g->pad_right == 0 && g->pad_top == 0 && g->pad_bottom == 0;
}

/*
 * Bands: about CONV_BAND_FLOATS floats of column matrix (8 MB, a quarter of this
 * machine's last-level cache, so it is still there when the GEMM reads it), but at
 * least CONV_BAND_MIN_COLS output positions so that the GEMM stays wide enough to run
 * at full speed. Measured forward times, 2 threads, against whole-image column matrices:
 * 2x2 256->256 on 64x128, -4% with 4-8 MB bands; the 7x7/2 stem 3->64 on 256x512, -18%;
 * 3x3 512->512 on 16x32 was 4% slower in 8 MB bands of 256 positions, hence the minimum
 * width, which keeps it whole. Smaller bands also mean more GEMM calls, and each call
 * is a synchronization point, which costs much more on a loaded machine.
 */
#define CONV_BAND_FLOATS ((size_t)2 << 20)
#define CONV_BAND_MIN_COLS 2048

/* Output rows per band: equal bands (the last may be shorter) of the size above. */
static int conv_band_rows(const struct conv_geom *g)
{
	size_t row = (size_t)g->cin * g->kh * g->kw * g->wo;
	size_t rows = CONV_BAND_FLOATS / row, min_rows, bands;

	min_rows = (CONV_BAND_MIN_COLS + (size_t)g->wo - 1) / g->wo;
	if (rows < min_rows)
		rows = min_rows;
	if (conv_is_pointwise(g) || rows >= (size_t)g->ho)
		return g->ho;
	bands = (size_t)g->ho / rows;
	return (int)(((size_t)g->ho + bands - 1) / bands);
}

/* out (cout, npos), rows ldo apart, <- bias broadcast along each row. */
static void conv_fill_bias(float *out, const float *bias, int cout, int npos, int ldo)
{
#pragma omp parallel for schedule(static) if ((size_t)cout * npos >= CONV_PARALLEL_MIN)
	for (int o = 0; o < cout; o++) {
		float *row = out + (size_t)o * ldo;

		for (int p = 0; p < npos; p++)
			row[p] = bias[o];
	}
}

size_t conv_workspace_floats(const struct conv_geom *g)
{
	if (conv_uses_shifts(g))
		return conv_shift_workspace_floats(g);
	if (conv_is_pointwise(g))
		return 0;
	return (size_t)g->cin * g->kh * g->kw * (size_t)conv_band_rows(g) * g->wo;
}

/*
 * The column matrix of output rows [i0, i1) of image in (cin, h, w): the image itself
 * for a pointwise convolution (rows ld = ho*wo apart), else im2col into ws.
 */
static const float *conv_band_col(float *ws, const float *in, const struct conv_geom *g,
				  int i0, int i1, int *ld)
{
	if (conv_is_pointwise(g)) {
		*ld = g->ho * g->wo;
		return in + (size_t)i0 * g->wo;
	}
	im2col(ws, in, g, i0, i1);
	*ld = (i1 - i0) * g->wo;
	return ws;
}

/* One image: out (cout, ho, wo) from in (cin, h, w), a band of output rows at a time. */
static void conv_forward_image(float *out, const float *in, const float *weight,
			       const float *bias, const struct conv_geom *g, float *ws)
{
	int k = g->cin * g->kh * g->kw, npos = g->ho * g->wo, band = conv_band_rows(g);

	for (int i0 = 0; i0 < g->ho; i0 += band) {
		int i1 = i0 + band < g->ho ? i0 + band : g->ho, nb = (i1 - i0) * g->wo, ld;
		const float *col = conv_band_col(ws, in, g, i0, i1, &ld);
		float *out_band = out + (size_t)i0 * g->wo;

		if (bias)
			conv_fill_bias(out_band, bias, g->cout, nb, npos);
		/* out = weight * col (+ bias) */
		gemm(false, false, g->cout, nb, k, 1.0f, weight, k, col, ld, bias ? 1.0f : 0.0f,
			  out_band, npos);
	}
}

/*
 * out    (n, cout, ho, wo)
 * in     (n, cin, h, w)
 * weight (cout, cin, kh, kw)
 * bias   (cout) or NULL
 * ws     conv_workspace_floats(g)
 */
void conv_forward(float *out, const float *in, const float *weight, const float *bias,
		  const struct conv_geom *g, float *ws)
{
	size_t in_size = (size_t)g->cin * g->h * g->w;
	size_t out_size = (size_t)g->cout * g->ho * g->wo;

	if (conv_uses_shifts(g)) {
		conv_shift_forward(out, in, weight, bias, g, ws);
		return;
	}
	for (int b = 0; b < g->n; b++)
		conv_forward_image(out + b * out_size, in + b * in_size, weight, bias, g, ws);
}

/* dbias (cout) += sum over images and positions of dout (n, cout, P), in double. */
static void conv_backward_bias(float *dbias, const float *dout, const struct conv_geom *g)
{
	size_t npos = (size_t)g->ho * g->wo;

#pragma omp parallel for schedule(static) \
	if ((size_t)g->n * g->cout * npos >= CONV_PARALLEL_MIN)
	for (int o = 0; o < g->cout; o++) {
		double sum = 0;

		for (int b = 0; b < g->n; b++) {
			const float *row = dout + ((size_t)b * g->cout + o) * npos;

			for (size_t p = 0; p < npos; p++)
				sum += row[p];
		}
		dbias[o] += (float)sum;
	}
}

/* One image's dweight and din, a band of output rows at a time. */
static void conv_backward_image(float *din, float *dweight, const float *dout,
				const float *in, const float *weight, const struct conv_geom *g,
				float *ws)
{
	int k = g->cin * g->kh * g->kw, npos = g->ho * g->wo, band = conv_band_rows(g);

	for (int i0 = 0; i0 < g->ho; i0 += band) {
		int i1 = i0 + band < g->ho ? i0 + band : g->ho, nb = (i1 - i0) * g->wo, ld;
		const float *col = conv_band_col(ws, in, g, i0, i1, &ld);
		const float *dout_band = dout + (size_t)i0 * g->wo;

		/* dweight (cout, K) += dout (cout, nb) * col^T (nb, K) */
		gemm(false, true, g->cout, k, nb, 1.0f, dout_band, npos, col, ld, 1.0f, dweight, k);
		if (!din)
			continue;
		/* dcol (K, nb) = weight^T (K, cout) * dout (cout, nb); din += col2im(dcol) */
		if (conv_is_pointwise(g)) {
			gemm(true, false, k, nb, g->cout, 1.0f, weight, k, dout_band, npos, 1.0f,
				  din + (size_t)i0 * g->wo, npos);
		} else {
			gemm(true, false, k, nb, g->cout, 1.0f, weight, k, dout_band, npos, 0.0f, ws,
				  nb);
			col2im(din, ws, g, i0, i1);
		}
	}
}

/*
 * din     (n, cin, h, w) or NULL, accumulated
 * dweight (cout, cin, kh, kw), accumulated
 * dbias   (cout) or NULL, accumulated
 * dout    (n, cout, ho, wo)
 * in      (n, cin, h, w)
 * weight  (cout, cin, kh, kw)
 * ws      conv_workspace_floats(g)
 */
void conv_backward(float *din, float *dweight, float *dbias, const float *dout,
		   const float *in, const float *weight, const struct conv_geom *g, float *ws)
{
	size_t in_size = (size_t)g->cin * g->h * g->w;
	size_t out_size = (size_t)g->cout * g->ho * g->wo;

	/* forward: out = weight * col + bias */
	if (dbias)
		conv_backward_bias(dbias, dout, g);
	if (conv_uses_shifts(g)) {
		conv_shift_backward(din, dweight, dout, in, weight, g, ws);
		return;
	}
	for (int b = 0; b < g->n; b++)
		conv_backward_image(din ? din + b * in_size : NULL, dweight, dout + b * out_size,
				    in + b * in_size, weight, g, ws);
}
