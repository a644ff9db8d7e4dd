/*
 * Convolution by one GEMM per kernel tap, for stride-1 layers with many input channels
 * (conv_uses_shifts in conv.h); conv.c dispatches here.
 *
 * Pad the input to (hp, wp) and lay the output out "wide", (ho, wp), with kw - 1 spare
 * columns per row: output (i, j) of tap (ki, kj) reads padded element
 * (i + ki) * wp + (j + kj), which is wide position i * wp + j shifted by ki * wp + kj. So
 * each tap is one GEMM whose B is the padded image itself, starting ki * wp + kj floats
 * in, its rows (channels) hp * wp apart:
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
#include "nets/conv.h"
#include "io/arena.h"
#include "nets/conv_internal.h"
#include "nets/gemm.h"

#include <string.h>

/* Thresholds measured as above. */
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

/* Carves base (NULL: only counts) and returns the floats used; absent pieces are NULL. */
static size_t shift_ws_layout(struct shift_ws *s, float *base, const struct conv_geom *g,
			      bool backward)
{
	size_t taps = (size_t)g->kh * g->kw * g->cout * g->cin;
	size_t plane = conv_is_padded(g) ?
			       (size_t)g->cin * conv_padded_h(g) * conv_padded_w(g) : 0;
	size_t wide = (size_t)g->cout * g->ho * conv_padded_w(g);
	size_t sizes[5] = {taps, backward ? taps : 0, plane, backward ? plane : 0, wide};
	float **parts[5] = {&s->wt, &s->dwt, &s->xp, &s->dxp, &s->wide};
	struct arena a;

	arena_init_over(&a, base, base ? conv_shift_workspace_floats(g) : 0);
	for (int i = 0; i < 5; i++) {
		float *p = arena_take(&a, sizes[i]);

		*parts[i] = sizes[i] ? p : NULL;
	}
	return a.used;
}

/* wt (kh*kw, cout, cin) <- weight (cout, cin, kh, kw). */
static void shift_weights(float *wt, const float *weight, const struct conv_geom *g)
{
	int taps = g->kh * g->kw;

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cout * g->cin * taps >= CONV_PARALLEL_MIN)
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

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cout * g->cin * taps >= CONV_PARALLEL_MIN)
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

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cin * hp * wp >= CONV_PARALLEL_MIN)
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

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cin * hp * wp >= CONV_PARALLEL_MIN)
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

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cout * g->ho * wp >= CONV_PARALLEL_MIN)
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

#pragma omp parallel for schedule(static) \
	if ((size_t)g->cout * g->ho * wp >= CONV_PARALLEL_MIN)
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

void conv_shift_forward(float *out, const float *in, const float *weight, const float *bias,
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
			gemm(false, false, g->cout, cols, g->cin, 1.0f,
				  s.wt + (size_t)t * g->cout * g->cin, g->cin, xp + shift, (int)plane,
				  t ? 1.0f : 0.0f, s.wide, g->ho * wp);
		}
		shift_narrow(out + b * out_size, s.wide, bias, g);
	}
}

void conv_shift_backward(float *din, float *dweight, const float *dout, const float *in,
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
			gemm(false, true, g->cout, g->cin, cols, 1.0f, s.wide, g->ho * wp, xp + shift,
				  (int)plane, b ? 1.0f : 0.0f, s.dwt + t * wt_size, g->cin);
			if (!din)
				continue;
			/* dXp_shifted (cin, cols) += W_t^T (cin, cout) * dwide (cout, cols) */
			gemm(true, false, g->cin, cols, g->cout, 1.0f, s.wt + t * wt_size, g->cin,
				  s.wide, g->ho * wp, 1.0f, dxp + shift, (int)plane);
		}
		if (din && s.dxp)
			shift_unpad_add(din + b * in_size, s.dxp, g);
	}
	shift_add_dweights(dweight, s.dwt, g);
}

size_t conv_shift_workspace_floats(const struct conv_geom *g)
{
	struct shift_ws s;

	return shift_ws_layout(&s, NULL, g, true);
}
