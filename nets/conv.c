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
 * still in cache, which makes the pair about as fast as the GEMM alone, and the
 * workspace is one band. A 1x1 convolution with stride 1 and no padding needs no
 * im2col: the image (cin, h*w) already is its column matrix.
 *
 * GEMMs are called outside any OpenMP region so that OpenBLAS can use its own threads;
 * im2col/col2im and the bias loops run OpenMP threads that each own the memory they
 * write. Every sum is taken in an order that does not depend on the thread count (see
 * conv_gemm), so results are bitwise the same at any number of threads.
 */
#include "nets/conv.h"

#include "io/error.h"
#include "nets/gemm.h"
#include "nets/im2col.h"

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

/*
 * OpenBLAS blocks the inner dimension k into panels of its GEMM_Q (256 for the AVX-512
 * single-precision kernels) and adds each panel's products to C; when a tail between Q
 * and 2Q is left, its threaded and single-threaded drivers halve it with different
 * rounding, so for such k the result depended on the thread count. conv_gemm passes k
 * as a multiple of CONV_GEMM_KC, whose panels and halved tails come out the same in
 * either driver when Q is a multiple of 32, then the remainder (below Q when Q >= 256)
 * as a second call: results are then bitwise the same at any thread count (test_conv
 * checks it on the machine at hand), at the price of at most one extra call.
 */
#define CONV_GEMM_KC 256

/* gemm() with alpha 1 and k split as above: C = op(A) op(B) + beta C. */
static void conv_gemm(bool trans_a, bool trans_b, int m, int n, int k, const float *a,
		      int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	int k1 = k - k % CONV_GEMM_KC;
	/* Column k1 of op(A) and row k1 of op(B). */
	const float *a1 = trans_a ? a + (size_t)k1 * lda : a + k1;
	const float *b1 = trans_b ? b + k1 : b + (size_t)k1 * ldb;

	if (k1 > 0)
		gemm(trans_a, trans_b, m, n, k1, 1.0f, a, lda, b, ldb, beta, c, ldc);
	if (k > k1)
		gemm(trans_a, trans_b, m, n, k - k1, 1.0f, a1, lda, b1, ldb, k1 > 0 ? 1.0f : beta,
		     c, ldc);
}

/* Below this many floats touched, a loop runs on one thread (as in im2col.c). */
#define CONV_PARALLEL_MIN 32768

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

/*
 * Stride-1 convolutions with many input channels skip im2col. Pad the input to (hp, wp)
 * and lay the output out "wide", (ho, wp) with kw - 1 spare columns per row: output
 * (i, j) of tap (ki, kj) reads padded element (i + ki) * wp + (j + kj), which is wide
 * position i * wp + j shifted by ki * wp + kj. So each tap is one GEMM whose B is the
 * padded image itself, starting ki * wp + kj floats in, its rows (channels) hp * wp apart:
 *
 *     wide (cout, ho*wp) += W_t (cout, cin) * Xp_shifted (cin, ho*wp)
 *
 * and the real columns of wide are then copied out. The spare columns read the next
 * row's first elements and are thrown away; the last row's are left out so that no read
 * passes the end of the plane. Backward runs the same shifts: dW_t = dwide * Xp_shifted^T
 * and dXp_shifted += W_t^T * dwide, with dwide's spare columns zero so that they add
 * nothing. Against im2col this writes no K x P column matrix (kh*kw times the input) and
 * reads the input kh*kw times through the GEMM's own packing instead; measured on the
 * reference network's layers (2 threads), 256->64 2x2 on 65x129 ran 30 % faster and
 * 256->256 2x2 on 33x65 8 % faster, while 64->256 (K = 64 per GEMM) and layers with few
 * positions ran as fast or slower, hence the thresholds.
 */
#define CONV_SHIFT_MIN_CIN 128
#define CONV_SHIFT_MIN_COLS 2048

static int conv_padded_h(const struct conv_geom *g)
{
	return g->h + g->pad_top + g->pad_bottom;
}

static int conv_padded_w(const struct conv_geom *g)
{
	return g->w + g->pad_left + g->pad_right;
}

static bool conv_is_padded(const struct conv_geom *g)
{
	return g->pad_left || g->pad_right || g->pad_top || g->pad_bottom;
}

bool conv_uses_shifts(const struct conv_geom *g)
{
	return g->sh == 1 && g->sw == 1 && (g->kh > 1 || g->kw > 1) &&
	       g->cin >= CONV_SHIFT_MIN_CIN &&
	       (size_t)g->ho * conv_padded_w(g) >= CONV_SHIFT_MIN_COLS;
}

/* Workspace of the shift path (see shift_ws_layout). */
struct shift_ws {
	float *wt;    /* (kh*kw, cout, cin) weights by tap */
	float *dwt;   /* (kh*kw, cout, cin) backward: weight gradients by tap */
	float *xp;    /* (cin, hp, wp) padded image, when padded */
	float *dxp;   /* (cin, hp, wp) backward: its gradient, when padded */
	float *wide;  /* (cout, ho, wp) forward output or backward dout, wide */
};

/* Carves base (NULL: only counts) and returns the floats used. */
static size_t shift_ws_layout(struct shift_ws *s, float *base, const struct conv_geom *g,
			      bool backward)
{
	size_t taps = (size_t)g->kh * g->kw * g->cout * g->cin;
	size_t plane = conv_is_padded(g) ? (size_t)g->cin * conv_padded_h(g) * conv_padded_w(g) : 0;
	size_t wide = (size_t)g->cout * g->ho * conv_padded_w(g);
	size_t sizes[5] = {taps, backward ? taps : 0, plane, backward ? plane : 0, wide};
	float **parts[5] = {&s->wt, &s->dwt, &s->xp, &s->dxp, &s->wide};
	size_t total = 0;

	for (int i = 0; i < 5; i++) {
		*parts[i] = base && sizes[i] ? base + total : NULL;
		total += (sizes[i] + 15) / 16 * 16;
	}
	return total;
}

/* wt (kh*kw, cout, cin) <- weight (cout, cin, kh, kw). */
static void shift_weights(float *wt, const float *weight, const struct conv_geom *g)
{
	int taps = g->kh * g->kw;

#pragma omp parallel for schedule(static) if ((size_t)g->cout * g->cin * taps >= CONV_PARALLEL_MIN)
	for (int o = 0; o < g->cout; o++)
		for (int c = 0; c < g->cin; c++)
			for (int t = 0; t < taps; t++)
				wt[((size_t)t * g->cout + o) * g->cin + c] =
					weight[((size_t)o * g->cin + c) * taps + t];
}

/* dweight (cout, cin, kh, kw) += dwt (kh*kw, cout, cin). */
static void shift_add_dweights(float *dweight, const float *dwt, const struct conv_geom *g)
{
	int taps = g->kh * g->kw;

#pragma omp parallel for schedule(static) if ((size_t)g->cout * g->cin * taps >= CONV_PARALLEL_MIN)
	for (int o = 0; o < g->cout; o++)
		for (int c = 0; c < g->cin; c++)
			for (int t = 0; t < taps; t++)
				dweight[((size_t)o * g->cin + c) * taps + t] +=
					dwt[((size_t)t * g->cout + o) * g->cin + c];
}

/* xp (cin, hp, wp) <- image (cin, h, w) with zero padding. */
static void shift_pad(float *xp, const float *in, const struct conv_geom *g)
{
	int hp = conv_padded_h(g), wp = conv_padded_w(g);

#pragma omp parallel for schedule(static) if ((size_t)g->cin * hp * wp >= CONV_PARALLEL_MIN)
	for (int c = 0; c < g->cin; c++) {
		float *d = xp + (size_t)c * hp * wp;
		const float *s = in + (size_t)c * g->h * g->w;

		memset(d, 0, sizeof(float) * (size_t)g->pad_top * wp);
		for (int y = 0; y < g->h; y++) {
			float *row = d + (size_t)(y + g->pad_top) * wp;

			memset(row, 0, sizeof(float) * (size_t)g->pad_left);
			memcpy(row + g->pad_left, s + (size_t)y * g->w, sizeof(float) * (size_t)g->w);
			memset(row + g->pad_left + g->w, 0, sizeof(float) * (size_t)g->pad_right);
		}
		memset(d + (size_t)(g->pad_top + g->h) * wp, 0,
		       sizeof(float) * (size_t)g->pad_bottom * wp);
	}
}

/* din (cin, h, w) += the real part of dxp (cin, hp, wp). */
static void shift_unpad_add(float *din, const float *dxp, const struct conv_geom *g)
{
	int hp = conv_padded_h(g), wp = conv_padded_w(g);

#pragma omp parallel for schedule(static) if ((size_t)g->cin * hp * wp >= CONV_PARALLEL_MIN)
	for (int c = 0; c < g->cin; c++) {
		for (int y = 0; y < g->h; y++) {
			float *d = din + ((size_t)c * g->h + y) * g->w;
			const float *s = dxp + ((size_t)c * hp + y + g->pad_top) * wp + g->pad_left;

			for (int x = 0; x < g->w; x++)
				d[x] += s[x];
		}
	}
}

/* out (cout, ho, wo) <- the real columns of wide (cout, ho, wp), plus bias (or NULL). */
static void shift_narrow(float *out, const float *wide, const float *bias,
			 const struct conv_geom *g)
{
	int wp = conv_padded_w(g);

#pragma omp parallel for schedule(static) if ((size_t)g->cout * g->ho * wp >= CONV_PARALLEL_MIN)
	for (int o = 0; o < g->cout; o++) {
		float b = bias ? bias[o] : 0.0f;

		for (int i = 0; i < g->ho; i++) {
			float *d = out + ((size_t)o * g->ho + i) * g->wo;
			const float *s = wide + ((size_t)o * g->ho + i) * wp;

			for (int j = 0; j < g->wo; j++)
				d[j] = s[j] + b;
		}
	}
}

/* wide (cout, ho, wp) <- dout (cout, ho, wo) with zero spare columns. */
static void shift_widen(float *wide, const float *dout, const struct conv_geom *g)
{
	int wp = conv_padded_w(g);

#pragma omp parallel for schedule(static) if ((size_t)g->cout * g->ho * wp >= CONV_PARALLEL_MIN)
	for (int o = 0; o < g->cout; o++) {
		for (int i = 0; i < g->ho; i++) {
			float *d = wide + ((size_t)o * g->ho + i) * wp;

			memcpy(d, dout + ((size_t)o * g->ho + i) * g->wo, sizeof(float) * (size_t)g->wo);
			memset(d + g->wo, 0, sizeof(float) * (size_t)(wp - g->wo));
		}
	}
}

/* Wide positions each tap's GEMM covers: all but the last row's spare columns. */
static int shift_cols(const struct conv_geom *g)
{
	return g->ho * conv_padded_w(g) - (g->kw - 1);
}

static void shift_forward(float *out, const float *in, const float *weight, const float *bias,
			  const struct conv_geom *g, float *ws)
{
	struct shift_ws s;
	int wp = conv_padded_w(g), cols = shift_cols(g), taps = g->kh * g->kw;
	size_t plane = (size_t)conv_padded_h(g) * wp;
	size_t in_size = (size_t)g->cin * g->h * g->w, out_size = (size_t)g->cout * g->ho * g->wo;

	shift_ws_layout(&s, ws, g, false);
	shift_weights(s.wt, weight, g);
	for (int b = 0; b < g->n; b++) {
		const float *xp = in + b * in_size;

		if (s.xp) {
			shift_pad(s.xp, xp, g);
			xp = s.xp;
		}
		for (int t = 0; t < taps; t++) {
			size_t shift = (size_t)(t / g->kw) * wp + t % g->kw;

			/* wide += W_t * Xp_shifted */
			conv_gemm(false, false, g->cout, cols, g->cin,
				  s.wt + (size_t)t * g->cout * g->cin, g->cin, xp + shift, (int)plane,
				  t ? 1.0f : 0.0f, s.wide, g->ho * wp);
		}
		shift_narrow(out + b * out_size, s.wide, bias, g);
	}
}

static void shift_backward(float *din, float *dweight, const float *dout, const float *in,
			   const float *weight, const struct conv_geom *g, float *ws)
{
	struct shift_ws s;
	int wp = conv_padded_w(g), cols = shift_cols(g), taps = g->kh * g->kw;
	size_t plane = (size_t)conv_padded_h(g) * wp, wt_size = (size_t)g->cout * g->cin;
	size_t in_size = (size_t)g->cin * g->h * g->w, out_size = (size_t)g->cout * g->ho * g->wo;

	shift_ws_layout(&s, ws, g, true);
	if (din)
		shift_weights(s.wt, weight, g);
	for (int b = 0; b < g->n; b++) {
		const float *xp = in + b * in_size;
		/* Unpadded, the image's gradient is dXp itself. */
		float *dxp = din && !s.dxp ? din + b * in_size : s.dxp;

		if (s.xp) {
			shift_pad(s.xp, xp, g);
			xp = s.xp;
		}
		if (din && s.dxp)
			memset(s.dxp, 0, sizeof(float) * g->cin * plane);
		shift_widen(s.wide, dout + b * out_size, g);
		for (int t = 0; t < taps; t++) {
			size_t shift = (size_t)(t / g->kw) * wp + t % g->kw;

			/* dW_t (cout, cin) += dwide (cout, cols) * Xp_shifted^T (cols, cin) */
			conv_gemm(false, true, g->cout, g->cin, cols, s.wide, g->ho * wp, xp + shift,
				  (int)plane, b ? 1.0f : 0.0f, s.dwt + t * wt_size, g->cin);
			if (!din)
				continue;
			/* dXp_shifted (cin, cols) += W_t^T (cin, cout) * dwide (cout, cols) */
			conv_gemm(true, false, g->cin, cols, g->cout, s.wt + t * wt_size, g->cin,
				  s.wide, g->ho * wp, 1.0f, dxp + shift, (int)plane);
		}
		if (din && s.dxp)
			shift_unpad_add(din + b * in_size, s.dxp, g);
	}
	shift_add_dweights(dweight, s.dwt, g);
}

size_t conv_workspace_floats(const struct conv_geom *g)
{
	struct shift_ws s;

	if (conv_uses_shifts(g))
		return shift_ws_layout(&s, NULL, g, true);
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

	if (conv_uses_shifts(g)) {
		shift_forward(out, in, weight, bias, g, ws);
		return;
	}
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
	if (conv_uses_shifts(g)) {
		shift_backward(din, dweight, dout, in, weight, g, ws);
		return;
	}
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
