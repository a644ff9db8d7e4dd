/*
 * KNConv2d through the convolution of the un-dropped input and box-sum statistics. See
 * knconv.h for the formula and shapes.
 *
 * Forward:  A = conv(Xp, W) into out; S1, S2 = channel sums of Xd, Xd^2 per padded
 *           pixel; B1, B2 = separable box sums of S1, S2 over each window (columns of
 *           kh rows, then kw of those columns); mu, s per unit; out = (A - mu SW)/s + b.
 * Backward: dA = g/s through conv_backward; dSW and db; dmu and dvar per unit; dB1, dB2;
 *           the adjoint box sum scatters them back to the pixels (G1, G2); then
 *           dXd = G1 + 2 Xd G2 and dX += dXd * f, f the keep factor of the pixel.
 *
 * Every parallel loop runs over the index that owns its writes, and every sum runs in a
 * fixed order, so results are bitwise the same at any thread count. The statistics
 * (channel sums, box sums, mu, var) accumulate in double: the one-pass variance
 * B2/M - mu^2 cancels when the mean dominates, and double costs ~1% of the layer.
 */
#include "nets/knconv.h"
#include "io/arena.h"
#include "io/error.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/*
 * Loops touching fewer elements than this run on one thread: waking threads and the
 * closing barrier cost more than such loops. Results are the same either way.
 */
#define KNORM_PARALLEL_MIN 16384
#define KN_PARALLEL(work) ((size_t)(work) >= KNORM_PARALLEL_MIN)

/* Independent partial sums per reduction: a fixed association that vectorizes. */
#define KNORM_LANES 8

struct knconv_geom knconv_geom_make(int n, int cin, int h, int w, int cout, int kh, int kw,
				    int sh, int sw, const int pad[4], float p)
{
	struct knconv_geom g;

	CHECK(p >= 0 && p < 1);
	g.conv = conv_geom_make(n, cin, h, w, cout, kh, kw, sh, sw, pad);
	g.hp = h + pad[2] + pad[3];
	g.wp = w + pad[0] + pad[1];
	g.p = p;
	g.eps = KNORM_EPS;
	return g;
}

size_t knconv_mask_count(const struct knconv_geom *g)
{
	return (size_t)g->conv.n * g->conv.cin * g->hp * g->wp;
}

size_t knconv_unit_count(const struct knconv_geom *g)
{
	return (size_t)g->conv.n * g->conv.ho * g->conv.wo;
}

/* Workspace pieces; forward and backward carve the same buffer differently. */
struct knconv_ws {
	float *conv;      /* conv_workspace_floats */
	float *sw;        /* (cout) weight sums SW */
	float *rs;        /* (n, ho, wo) 1/|s| */
	double *s1, *s2;  /* forward (n, hp, wp): channel sums of Xd, Xd^2 */
	double *c1, *c2;  /* forward (n, ho, wp): sums of kh rows of s1, s2 per window row */
	float *d1, *d2;   /* backward (n, ho, wo): dB1, dB2 */
	float *v1, *v2;   /* backward (n, ho, wp): d1, d2 scattered along each window row */
	float *g1, *g2;   /* backward (n, h, w): G1, G2 */
	float *da;        /* backward (n, cout, ho, wo): dA */
};

/* Carves the forward's or the backward's pieces from a (measuring or real). */
static void ws_layout(struct knconv_ws *w, struct arena *a, const struct knconv_geom *g,
		      bool backward)
{
	const struct conv_geom *c = &g->conv;
	size_t units = knconv_unit_count(g), rows = (size_t)c->n * c->ho * g->wp;
	size_t padded = (size_t)c->n * g->hp * g->wp, plane = (size_t)c->n * c->h * c->w;

	memset(w, 0, sizeof(*w));
	w->conv = arena_take(a, conv_workspace_floats(c));
	w->sw = arena_take(a, (size_t)c->cout);
	w->rs = arena_take(a, units);
	if (!backward) {
		w->s1 = arena_take_doubles(a, padded);
		w->s2 = arena_take_doubles(a, padded);
		w->c1 = arena_take_doubles(a, rows);
		w->c2 = arena_take_doubles(a, rows);
		return;
	}
	w->d1 = arena_take(a, units);
	w->d2 = arena_take(a, units);
	w->v1 = arena_take(a, rows);
	w->v2 = arena_take(a, rows);
	w->g1 = arena_take(a, plane);
	w->g2 = arena_take(a, plane);
	w->da = arena_take(a, (size_t)c->cout * units);
}

/* The floats the forward's (or the backward's) pieces take. */
static size_t ws_measure(const struct knconv_geom *g, bool backward)
{
	struct knconv_ws w;
	struct arena a;

	arena_init_over(&a, NULL, 0);
	ws_layout(&w, &a, g, backward);
	return a.used;
}

/* The pieces carved from the layer's workspace ws (knconv_workspace_floats). */
static void ws_carve(struct knconv_ws *w, float *ws, const struct knconv_geom *g,
		     bool backward)
{
	struct arena a;

	arena_init_over(&a, ws, knconv_workspace_floats(g));
	ws_layout(w, &a, g, backward);
}

size_t knconv_workspace_floats(const struct knconv_geom *g)
{
	size_t fwd = ws_measure(g, false), bwd = ws_measure(g, true);

	return fwd > bwd ? fwd : bwd;
}

/*
 * sw[o] = SW_o, the sum of the weights of output channel o, in double over KNORM_LANES
 * interleaved partial sums (a fixed association that vectorizes: a single running sum
 * in double cannot, and this runs over every weight twice per training step).
 */
static void weight_sums(float *sw, const float *weight, const struct conv_geom *c)
{
	size_t m = (size_t)c->cin * c->kh * c->kw;

#pragma omp parallel for schedule(static) if (KN_PARALLEL(c->cout * m))
	for (int o = 0; o < c->cout; o++) {
		const float *w = weight + o * m;
		double lane[KNORM_LANES] = {0}, sum = 0;
		size_t e = 0;

		for (; e + KNORM_LANES <= m; e += KNORM_LANES)
			for (int l = 0; l < KNORM_LANES; l++)
				lane[l] += w[e + l];
		for (; e < m; e++)
			sum += w[e];
		for (int l = 0; l < KNORM_LANES; l++)
			sum += lane[l];
		sw[o] = (float)sum;
	}
}

/*
 * r1[i] += sum_c d[c][i], r2[i] += sum_c d[c][i]^2 for one pixel row, d = X * f; x and k
 * point to channel 0's row, xs and ks are the channel strides (k NULL: no mask, f = 1).
 * Channels go in groups of four so that the accumulators are loaded and stored once per
 * group; restrict tells the compiler that the uint8 flags do not alias the sums, so the
 * loops vectorize.
 */
static inline void add4(double *restrict r1, double *restrict r2, int i, double a,
			double b, double c, double d)
{
	r1[i] += ((a + b) + c) + d;
	r2[i] += ((a * a + b * b) + c * c) + d * d;
}

static void row_sums(double *restrict r1, double *restrict r2, const float *restrict x,
		     size_t xs, const uint8_t *restrict k, size_t ks, int cin, int w, float scale)
{
	int ch = 0;

	for (; ch + 4 <= cin; ch += 4) {
		const float *x0 = x + ch * xs, *x1 = x0 + xs, *x2 = x1 + xs, *x3 = x2 + xs;

		if (k) {
			const uint8_t *k0 = k + ch * ks, *k1 = k0 + ks, *k2 = k1 + ks;
			const uint8_t *k3 = k2 + ks;

			for (int i = 0; i < w; i++)
				add4(r1, r2, i, x0[i] * ((float)k0[i] * scale),
				     x1[i] * ((float)k1[i] * scale), x2[i] * ((float)k2[i] * scale),
				     x3[i] * ((float)k3[i] * scale));
		} else {
			for (int i = 0; i < w; i++)
				add4(r1, r2, i, x0[i], x1[i], x2[i], x3[i]);
		}
	}
	for (; ch < cin; ch++) {
		for (int i = 0; i < w; i++) {
			double a = x[ch * xs + i] * (k ? (float)k[ch * ks + i] * scale : 1.0f);

			r1[i] += a;
			r2[i] += a * a;
		}
	}
}

/*
 * s1[n,y,x] = sum_c Xd[n,c,y,x], s2 the same of Xd^2, over the padded plane (n, hp, wp);
 * zero in the padding. Xd = X * f with f = keep * 1/(1-p), or X without a mask.
 */
static void channel_sums(double *s1, double *s2, const float *in, const uint8_t *keep,
			 const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;
	float scale = 1.0f / (1.0f - g->p);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->cin * g->hp * g->wp))
	for (int n = 0; n < c->n; n++) {
		for (int y = 0; y < g->hp; y++) {
			size_t row = ((size_t)n * g->hp + y) * g->wp;
			size_t plane0 = (size_t)n * c->cin;
			int h = y - c->pad_top;

			memset(s1 + row, 0, (size_t)g->wp * sizeof(double));
			memset(s2 + row, 0, (size_t)g->wp * sizeof(double));
			if (h < 0 || h >= c->h)
				continue;
			row_sums(s1 + row + c->pad_left, s2 + row + c->pad_left,
				 in + (plane0 * c->h + h) * c->w, (size_t)c->h * c->w,
				 keep ? keep + (plane0 * g->hp + y) * g->wp + c->pad_left : NULL,
				 (size_t)g->hp * g->wp, c->cin, c->w, scale);
		}
	}
}

/*
 * mu, s (cache) and rs = 1/s of every unit from the box sums of s1, s2. Per window row
 * (n, i): c = sums of its kh padded rows (every column), then B = sums of kw of c.
 */
static void box_stats(const struct knorm_cache *cache, float *rs, double *c1, double *c2,
		      const double *s1, const double *s2, const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;
	size_t m = (size_t)c->cin * c->kh * c->kw;
	double cexp = dropout_expected_factor(cache->mode, g->p, m);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->ho * g->wp * c->kh))
	for (int n = 0; n < c->n; n++) {
		for (int i = 0; i < c->ho; i++) {
			size_t top = ((size_t)n * g->hp + (size_t)i * c->sh) * g->wp;
			size_t q0 = ((size_t)n * c->ho + i) * c->wo;
			double *r1 = c1 + ((size_t)n * c->ho + i) * g->wp;
			double *r2 = c2 + ((size_t)n * c->ho + i) * g->wp;

			for (int x = 0; x < g->wp; x++) {
				r1[x] = 0;
				r2[x] = 0;
			}
			for (int a = 0; a < c->kh; a++) {
				for (int x = 0; x < g->wp; x++) {
					r1[x] += s1[top + (size_t)a * g->wp + x];
					r2[x] += s2[top + (size_t)a * g->wp + x];
				}
			}
			for (int j = 0; j < c->wo; j++) {
				double b1 = 0, b2 = 0, mu, var, s;

				for (int b = 0; b < c->kw; b++) {
					b1 += r1[j * c->sw + b];
					b2 += r2[j * c->sw + b];
				}
				mu = b1 / (double)m;
				var = b2 / (double)m - mu * mu;
				s = sqrt((var > 0 ? var : 0) + cexp * b2 / (double)m + g->eps);
				cache->mu[q0 + j] = (float)mu;
				/* A negative s records the clamp for backward (see knconv.h). */
				cache->s[q0 + j] = var < 0 ? -(float)s : (float)s;
				rs[q0 + j] = (float)(1 / s);
			}
		}
	}
}

/* out (holding A) = (A - mu SW_o) / s + b_o, per (n, o) plane. */
static void normalize(float *out, const struct knorm_cache *cache, const float *rs,
		      const float *sw, const float *bias, const struct conv_geom *c)
{
	size_t units = (size_t)c->ho * c->wo;

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->cout * units))
	for (int n = 0; n < c->n; n++) {
		for (int o = 0; o < c->cout; o++) {
			float *y = out + ((size_t)n * c->cout + o) * units;
			const float *mu = cache->mu + (size_t)n * units;
			const float *r = rs + (size_t)n * units;
			float swo = sw[o], bo = bias[o];

			for (size_t q = 0; q < units; q++)
				y[q] = (y[q] - mu[q] * swo) * r[q] + bo;
		}
	}
}

/*
 * out   (n, cout, ho, wo)
 * cache mu, s (n, ho, wo) written; keep (n, cin, hp, wp) read when the mode uses a mask
 * in    (n, cin, h, w)
 * weight (cout, cin, kh, kw), bias (cout)
 * ws    knconv_workspace_floats(g)
 */
void knconv_forward(float *out, const struct knorm_cache *cache, const float *in,
		    const float *weight, const float *bias, const struct knconv_geom *g,
		    float *ws)
{
	bool masked = dropout_uses_mask(cache->mode, g->p);
	struct knconv_ws w;

	CHECK(!masked || cache->keep);
	CHECK((uintptr_t)ws % sizeof(double) == 0);
	ws_carve(&w, ws, g, false);
	conv_forward(out, in, weight, NULL, &g->conv, w.conv);
	weight_sums(w.sw, weight, &g->conv);
	channel_sums(w.s1, w.s2, in, masked ? cache->keep : NULL, g);
	box_stats(cache, w.rs, w.c1, w.c2, w.s1, w.s2, g);
	normalize(out, cache, w.rs, w.sw, bias, &g->conv);
}

/* d = g r over one (n, o) plane, adding g and d mu to the lane sums sg and sgmu. */
static void plane_channel_grads(float *restrict d, double *restrict sg, double *restrict sgmu,
				const float *restrict g, const float *restrict mu,
				const float *restrict r, size_t units)
{
	double a[KNORM_LANES], b[KNORM_LANES];
	size_t q = 0;

	memcpy(a, sg, sizeof(a));
	memcpy(b, sgmu, sizeof(b));
	for (; q + KNORM_LANES <= units; q += KNORM_LANES) {
		for (int l = 0; l < KNORM_LANES; l++) {
			float t = g[q + l] * r[q + l];

			d[q + l] = t;
			a[l] += g[q + l];
			b[l] += (double)t * mu[q + l];
		}
	}
	for (; q < units; q++) {
		d[q] = g[q] * r[q];
		a[0] += g[q];
		b[0] += (double)d[q] * mu[q];
	}
	memcpy(sg, a, sizeof(a));
	memcpy(sgmu, b, sizeof(b));
}

/*
 * forward: y = (A - mu SW_o) / s + b_o
 * Per output channel o, which owns dbias[o] and the weights of channel o:
 *     dA = g / s,  db_o += sum g,  dSW_o = -sum g mu / s (added to every weight of o).
 */
static void channel_grads(float *da, float *dweight, float *dbias, const float *dout,
			  const struct knorm_cache *cache, const float *rs,
			  const struct conv_geom *c)
{
	size_t units = (size_t)c->ho * c->wo, m = (size_t)c->cin * c->kh * c->kw;

#pragma omp parallel for schedule(static) if (KN_PARALLEL((size_t)c->n * c->cout * units))
	for (int o = 0; o < c->cout; o++) {
		double sum_g[KNORM_LANES] = {0}, sum_gmu[KNORM_LANES] = {0}, db = 0, dsw = 0;

		for (int n = 0; n < c->n; n++) {
			size_t off = ((size_t)n * c->cout + o) * units;

			plane_channel_grads(da + off, sum_g, sum_gmu, dout + off,
					    cache->mu + (size_t)n * units, rs + (size_t)n * units,
					    units);
		}
		for (int l = 0; l < KNORM_LANES; l++) {
			db += sum_g[l];
			dsw -= sum_gmu[l];
		}
		dbias[o] += (float)db;
		for (size_t e = 0; e < m; e++)
			dweight[o * m + e] += (float)dsw;
	}
}

/* t1[j] += g[j] SW_o, t2[j] += g[j] (y[j] - b_o) over one row of channel o. */
static void row_unit_sums(float *restrict t1, float *restrict t2, const float *restrict g,
			  const float *restrict y, float swo, float bo, int wo)
{
	for (int j = 0; j < wo; j++) {
		t1[j] += g[j] * swo;
		t2[j] += g[j] * (y[j] - bo);
	}
}

/*
 * forward: y = (A - mu SW_o) / s + b_o, mu = B1/M, var = max(B2/M - mu^2, 0) + c B2/M
 *     dmu = -sum_o g SW_o / s,  dvar = -sum_o g (y - b_o) / (2 s^2),
 *     dB1 = dmu/M - 2 mu dvar/M,  dB2 = dvar (1 + c)/M,
 * without the max() branch's terms for a unit whose variance was clamped (s < 0).
 */
static void unit_grads(float *d1, float *d2, const float *dout, const float *out,
		       const float *bias, const struct knorm_cache *cache, const float *rs,
		       const float *sw, const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;
	size_t m = (size_t)c->cin * c->kh * c->kw;
	double cexp = dropout_expected_factor(cache->mode, g->p, m);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->cout * c->ho * c->wo))
	for (int n = 0; n < c->n; n++) {
		for (int i = 0; i < c->ho; i++) {
			size_t q0 = ((size_t)n * c->ho + i) * c->wo;
			float *t1 = d1 + q0, *t2 = d2 + q0;

			memset(t1, 0, (size_t)c->wo * sizeof(float));
			memset(t2, 0, (size_t)c->wo * sizeof(float));
			for (int o = 0; o < c->cout; o++) {
				size_t off = (((size_t)n * c->cout + o) * c->ho + i) * c->wo;

				row_unit_sums(t1, t2, dout + off, out + off, sw[o], bias[o], c->wo);
			}
			for (int j = 0; j < c->wo; j++) {
				double r = rs[q0 + j], mu = cache->mu[q0 + j];
				double dmu = -t1[j] * r, dvar = -t2[j] * r * r / 2;
				bool clamped = cache->s[q0 + j] < 0;

				t1[j] = (float)((dmu - (clamped ? 0 : 2 * mu * dvar)) / (double)m);
				t2[j] = (float)(dvar * ((clamped ? 0 : 1) + cexp) / (double)m);
			}
		}
	}
}

/* First and last window index (stride s, size k, count n) covering position x. */
static void covering(int *lo, int *hi, int x, int k, int s, int n)
{
	*lo = x - k + 1 <= 0 ? 0 : (x - k + s) / s;
	*hi = x / s < n - 1 ? x / s : n - 1;
}

/*
 * The adjoint of the box sums: G[n,h,x] = sum of d[n,i,j] over the windows (i, j) that
 * cover padded pixel (h + pad_top, x + pad_left), for the unpadded pixels only. Rows
 * first (v[n,i,x] = sum over j), then columns, each loop owning what it writes.
 */
static void box_scatter(float *g1, float *g2, float *v1, float *v2, const float *d1,
			const float *d2, const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->ho * c->w * c->kw))
	for (int n = 0; n < c->n; n++) {
		for (int i = 0; i < c->ho; i++) {
			size_t q0 = ((size_t)n * c->ho + i) * c->wo;
			size_t r0 = ((size_t)n * c->ho + i) * g->wp;

			for (int x = c->pad_left; x < c->pad_left + c->w; x++) {
				double a1 = 0, a2 = 0;
				int lo, hi;

				covering(&lo, &hi, x, c->kw, c->sw, c->wo);
				for (int j = lo; j <= hi; j++) {
					a1 += d1[q0 + j];
					a2 += d2[q0 + j];
				}
				v1[r0 + x] = (float)a1;
				v2[r0 + x] = (float)a2;
			}
		}
	}
#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->h * c->w * c->kh))
	for (int n = 0; n < c->n; n++) {
		for (int h = 0; h < c->h; h++) {
			size_t out0 = ((size_t)n * c->h + h) * c->w;
			int lo, hi;

			covering(&lo, &hi, h + c->pad_top, c->kh, c->sh, c->ho);
			for (int x = 0; x < c->w; x++) {
				double a1 = 0, a2 = 0;

				for (int i = lo; i <= hi; i++) {
					size_t r = ((size_t)n * c->ho + i) * g->wp + c->pad_left;

					a1 += v1[r + x];
					a2 += v2[r + x];
				}
				g1[out0 + x] = (float)a1;
				g2[out0 + x] = (float)a2;
			}
		}
	}
}

/* One pixel row of input_grads; k is NULL without a mask. */
static void row_input_grads(float *restrict dx, const float *restrict x,
			    const float *restrict a1, const float *restrict a2,
			    const uint8_t *restrict k, int w, float scale)
{
	if (k) {
		for (int i = 0; i < w; i++) {
			float f = (float)k[i] * scale;

			dx[i] += (a1[i] + 2 * (x[i] * f) * a2[i]) * f;
		}
	} else {
		for (int i = 0; i < w; i++)
			dx[i] += a1[i] + 2 * x[i] * a2[i];
	}
}

/*
 * forward: S1 = sum_c Xd, S2 = sum_c Xd^2, Xd = X * f
 *     dXd = G1 + 2 Xd G2,  dX += dXd * f   (f = keep/(1-p), or 1 without a mask)
 */
static void input_grads(float *din, const float *g1, const float *g2, const float *in,
			const uint8_t *keep, const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;
	float scale = 1.0f / (1.0f - g->p);

#pragma omp parallel for collapse(2) schedule(static) \
	if (KN_PARALLEL((size_t)c->n * c->cin * c->h * c->w))
	for (int n = 0; n < c->n; n++) {
		for (int ch = 0; ch < c->cin; ch++) {
			size_t plane = (size_t)n * c->cin + ch;

			for (int h = 0; h < c->h; h++) {
				size_t row = (plane * c->h + h) * c->w;
				size_t grow = ((size_t)n * c->h + h) * c->w;
				size_t krow = (plane * g->hp + h + c->pad_top) * g->wp;

				row_input_grads(din + row, in + row, g1 + grow, g2 + grow,
						keep ? keep + krow + c->pad_left : NULL, c->w,
						scale);
			}
		}
	}
}

/*
 * din     (n, cin, h, w) or NULL, accumulated
 * dweight (cout, cin, kh, kw), dbias (cout), accumulated
 * dout, out (n, cout, ho, wo): the upstream gradient and forward's output
 * cache, in, weight, bias, g: as given to forward
 * ws      knconv_workspace_floats(g)
 */
void knconv_backward(float *din, float *dweight, float *dbias, const float *dout,
		     const float *out, const struct knorm_cache *cache, const float *in,
		     const float *weight, const float *bias, const struct knconv_geom *g,
		     float *ws)
{
	bool masked = dropout_uses_mask(cache->mode, g->p);
	size_t units = knconv_unit_count(g);
	struct knconv_ws w;

	CHECK(!masked || cache->keep);
	ws_carve(&w, ws, g, true);
	weight_sums(w.sw, weight, &g->conv);
	for (size_t q = 0; q < units; q++)
		w.rs[q] = 1 / fabsf(cache->s[q]);
	channel_grads(w.da, dweight, dbias, dout, cache, w.rs, &g->conv);
	if (din) {
		unit_grads(w.d1, w.d2, dout, out, bias, cache, w.rs, w.sw, g);
		box_scatter(w.g1, w.g2, w.v1, w.v2, w.d1, w.d2, g);
		input_grads(din, w.g1, w.g2, in, masked ? cache->keep : NULL, g);
	}
	/* forward: A = conv(Xp, W) */
	conv_backward(din, dweight, NULL, w.da, in, weight, &g->conv, w.conv);
}
