/*
 * 2-D convolution as im2col + GEMM, and the direct reference loops. See conv.h.
 *
 * Per image, with K = cin*kh*kw and P = ho*wo:
 *
 *     col = im2col(in)                 (K, P)
 *     out = weight * col + bias        (cout, P) = (cout, K) * (K, P)
 *
 * done one band of output rows at a time: the band's column matrix (about
 * CONV_BAND_FLOATS floats) is written by im2col and read back by the GEMM while it is
 * still in cache, which makes the pair as fast as the GEMM alone, and the workspace is
 * one band. A 1x1 convolution with stride 1 and no padding needs no im2col: the image
 * (cin, h*w) already is its column matrix.
 *
 * GEMMs are called outside any OpenMP region so that OpenBLAS can use its own threads;
 * im2col/col2im and the bias loops run OpenMP threads that each own the memory they
 * write. Every sum is taken in an order that does not depend on the thread count (see
 * CONV_GEMM_KC), so results are bitwise the same at any number of threads.
 */
#include "nets/conv.h"

#include "io/error.h"
#include "nets/gemm.h"
#include "nets/im2col.h"

#include <limits.h>
#include <stdbool.h>

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
 * The target size of one band's column matrix: 6 MB, small enough to stay in the last
 * level cache between im2col and GEMM, large enough that the GEMM keeps its speed
 * (measured on the 2x2 256->256 shape: bands of 2.6 to 17 MB all ran within 1% of a
 * bare GEMM; whole-image column matrices, 34 MB, were 4% slower).
 */
#define CONV_BAND_FLOATS ((size_t)3 << 19)

/* Output rows per band: the bands are about equal and hold at most CONV_BAND_FLOATS. */
static int conv_band_rows(const struct conv_geom *g)
{
	size_t row = (size_t)g->cin * g->kh * g->kw * g->wo;
	size_t rows = CONV_BAND_FLOATS / row, bands;

	if (conv_is_pointwise(g) || rows >= (size_t)g->ho)
		return g->ho;
	if (rows < 1)
		rows = 1;
	bands = ((size_t)g->ho + rows - 1) / rows;
	return (int)(((size_t)g->ho + bands - 1) / bands);
}

size_t conv_workspace_floats(const struct conv_geom *g)
{
	if (conv_is_pointwise(g))
		return 0;
	return (size_t)g->cin * g->kh * g->kw * (size_t)conv_band_rows(g) * g->wo;
}

/*
 * The inner dimension of one GEMM call. OpenBLAS blocks k into panels of its GEMM_Q
 * (256 for the AVX-512 single-precision kernels, larger elsewhere) and adds each
 * panel's products to C; its threaded and single-threaded drivers halve a remainder
 * between Q and 2Q differently, so for such k the rounding depended on the thread count.
 * Calls with k <= CONV_GEMM_KC are one panel in either driver, and the panels are added
 * here in a fixed order, so results are bitwise the same at any thread count. The cost
 * is nil: OpenBLAS runs the same panel loop internally.
 */
#define CONV_GEMM_KC 256

/* gemm() with the inner dimension k split into panels of CONV_GEMM_KC, in order. */
static void conv_gemm(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
		      int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	for (int p = 0; p < k; p += CONV_GEMM_KC) {
		int kc = k - p < CONV_GEMM_KC ? k - p : CONV_GEMM_KC;
		/* Offsets of column p of op(A) and of row p of op(B). */
		const float *ap = trans_a ? a + (size_t)p * lda : a + p;
		const float *bp = trans_b ? b + p : b + (size_t)p * ldb;

		gemm(trans_a, trans_b, m, n, kc, 1.0f, ap, lda, bp, ldb, p == 0 ? beta : 1.0f, c,
		     ldc);
	}
}

/* out (cout, npos), rows ldo apart, <- bias broadcast along each row. */
static void conv_fill_bias(float *out, const float *bias, int cout, int npos, int ldo)
{
#pragma omp parallel for schedule(static)
	for (int o = 0; o < cout; o++) {
		float *row = out + (size_t)o * ldo;

		for (int p = 0; p < npos; p++)
			row[p] = bias[o];
	}
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
	int k = g->cin * g->kh * g->kw, npos = g->ho * g->wo, band = conv_band_rows(g);
	size_t in_size = (size_t)g->cin * g->h * g->w, out_size = (size_t)g->cout * npos;

	for (int b = 0; b < g->n; b++) {
		for (int i0 = 0; i0 < g->ho; i0 += band) {
			int i1 = i0 + band < g->ho ? i0 + band : g->ho, nb = (i1 - i0) * g->wo, ld;
			const float *col = conv_band_col(ws, in + b * in_size, g, i0, i1, &ld);
			float *out_band = out + b * out_size + (size_t)i0 * g->wo;

			if (bias)
				conv_fill_bias(out_band, bias, g->cout, nb, npos);
			/* out = weight * col (+ bias) */
			conv_gemm(false, false, g->cout, nb, k, weight, k, col, ld,
				  bias ? 1.0f : 0.0f, out_band, npos);
		}
	}
}

/* dbias (cout) += sum over images and positions of dout (n, cout, P), in double. */
static void conv_backward_bias(float *dbias, const float *dout, const struct conv_geom *g)
{
	size_t npos = (size_t)g->ho * g->wo;

#pragma omp parallel for schedule(static)
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
	int k = g->cin * g->kh * g->kw, npos = g->ho * g->wo, band = conv_band_rows(g);
	size_t in_size = (size_t)g->cin * g->h * g->w, out_size = (size_t)g->cout * npos;

	/* forward: out = weight * col + bias */
	if (dbias)
		conv_backward_bias(dbias, dout, g);
	for (int b = 0; b < g->n; b++) {
		for (int i0 = 0; i0 < g->ho; i0 += band) {
			int i1 = i0 + band < g->ho ? i0 + band : g->ho, nb = (i1 - i0) * g->wo, ld;
			const float *col = conv_band_col(ws, in + b * in_size, g, i0, i1, &ld);
			const float *dout_band = dout + b * out_size + (size_t)i0 * g->wo;

			/* dweight (cout, K) += dout (cout, nb) * col^T (nb, K) */
			conv_gemm(false, true, g->cout, k, nb, dout_band, npos, col, ld, 1.0f,
				  dweight, k);
			if (!din)
				continue;
			/* dcol (K, nb) = weight^T (K, cout) * dout (cout, nb); din += col2im(dcol) */
			if (conv_is_pointwise(g)) {
				conv_gemm(true, false, k, nb, g->cout, weight, k, dout_band, npos, 1.0f,
					  din + b * in_size + (size_t)i0 * g->wo, npos);
			} else {
				conv_gemm(true, false, k, nb, g->cout, weight, k, dout_band, npos, 0.0f,
					  ws, nb);
				col2im(din + b * in_size, ws, g, i0, i1);
			}
		}
	}
}

/* The input row (or column) seen by kernel tap t at output index o, or -1 when padded. */
static int conv_src(int o, int t, int stride, int pad, int size)
{
	int s = o * stride - pad + t;

	return s >= 0 && s < size ? s : -1;
}

void conv_forward_naive(float *out, const float *in, const float *weight, const float *bias,
			const struct conv_geom *g)
{
	for (int b = 0; b < g->n; b++)
	for (int o = 0; o < g->cout; o++)
	for (int i = 0; i < g->ho; i++)
	for (int j = 0; j < g->wo; j++) {
		double sum = bias ? bias[o] : 0.0;

		for (int c = 0; c < g->cin; c++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			int y = conv_src(i, ki, g->sh, g->pad_top, g->h);
			int x = conv_src(j, kj, g->sw, g->pad_left, g->w);

			if (y < 0 || x < 0)
				continue;
			sum += (double)in[(((size_t)b * g->cin + c) * g->h + y) * g->w + x] *
			       weight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj];
		}
		out[(((size_t)b * g->cout + o) * g->ho + i) * g->wo + j] = (float)sum;
	}
}

/* The output index whose tap t reads input index s, or -1 when none does. */
static int conv_dst(int s, int t, int stride, int pad, int size_out)
{
	int u = s + pad - t;

	return u >= 0 && u % stride == 0 && u / stride < size_out ? u / stride : -1;
}

/* dweight and dbias: sums over images and output positions. */
static void conv_naive_dweight(float *dweight, float *dbias, const float *dout,
			       const float *in, const struct conv_geom *g)
{
	size_t in_size = (size_t)g->cin * g->h * g->w, npos = (size_t)g->ho * g->wo;

	for (int o = 0; o < g->cout; o++) {
		double sb = 0;

		for (int b = 0; b < g->n; b++)
			for (size_t p = 0; p < npos; p++)
				sb += dout[((size_t)b * g->cout + o) * npos + p];
		if (dbias)
			dbias[o] += (float)sb;
		for (int c = 0; c < g->cin; c++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			double sum = 0;

			for (int b = 0; b < g->n; b++)
			for (int i = 0; i < g->ho; i++)
			for (int j = 0; j < g->wo; j++) {
				int y = conv_src(i, ki, g->sh, g->pad_top, g->h);
				int x = conv_src(j, kj, g->sw, g->pad_left, g->w);

				if (y < 0 || x < 0)
					continue;
				sum += (double)dout[((size_t)b * g->cout + o) * npos +
						    (size_t)i * g->wo + j] *
				       in[b * in_size + ((size_t)c * g->h + y) * g->w + x];
			}
			dweight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj] += (float)sum;
		}
	}
}

/* din: for each input element, the sum over the (o, ki, kj) taps that read it. */
static void conv_naive_din(float *din, const float *dout, const float *weight,
			   const struct conv_geom *g)
{
	for (int b = 0; b < g->n; b++)
	for (int c = 0; c < g->cin; c++)
	for (int y = 0; y < g->h; y++)
	for (int x = 0; x < g->w; x++) {
		double sum = 0;

		for (int o = 0; o < g->cout; o++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			int i = conv_dst(y, ki, g->sh, g->pad_top, g->ho);
			int j = conv_dst(x, kj, g->sw, g->pad_left, g->wo);

			if (i < 0 || j < 0)
				continue;
			sum += (double)dout[(((size_t)b * g->cout + o) * g->ho + i) * g->wo + j] *
			       weight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj];
		}
		din[(((size_t)b * g->cin + c) * g->h + y) * g->w + x] += (float)sum;
	}
}

/*
 * forward: out[b,o,i,j] = bias[o] + sum_{c,ki,kj} in[b,c,i*sh-pt+ki,j*sw-pl+kj] * w[o,c,ki,kj]
 * Each gradient is the sum over the forward terms that contain it, taken in double and
 * added once.
 */
void conv_backward_naive(float *din, float *dweight, float *dbias, const float *dout,
			 const float *in, const float *weight, const struct conv_geom *g)
{
	conv_naive_dweight(dweight, dbias, dout, in, g);
	if (din)
		conv_naive_din(din, dout, weight, g);
}
