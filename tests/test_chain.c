/*
 * A whole-chain check of the backward passes working together, on a small network
 *
 *     a = KNConv 3x3 pad 1 (x)              statistics dropout p = 0.05, one fixed mask
 *     m = MaxPool 3x3 s2 p1 (ReLU(a))
 *     logits = resize_bilinear(m, to a's size) + a
 *     L = weighted softmax cross-entropy (logits, labels with ignored pixels)
 *
 * run in float by the library layers. The analytic directional derivative sum(grad * d)
 * that the backward passes give, along random directions d over the input and every
 * parameter (all at once and each group alone), is compared with central differences:
 *
 * - of a double-precision reference of the same chain written in this file from the
 *   definitions (KNConv from nets/README.md 1.2, the others from tests/layers_ref.h): with
 *   eps = 1e-6 the difference is accurate to ~1e-9, so the only error left is the float
 *   backward's own, and the tolerance is 1e-4 relative;
 * - of the float chain itself (loss in double): its forward carries ~5e-8 absolute noise
 *   in L, which the difference divides by 2 eps, while a larger eps soon crosses a kink;
 *   eps = 3e-4 stays inside the smooth piece and leaves ~1e-4 relative noise, hence a
 *   tolerance of 1e-3.
 *
 * The chain is piecewise smooth (ReLU and max pooling have kinks), so the test also
 * proves that each difference is taken inside one smooth piece: the ReLU signs and the
 * pooling winners at theta +- eps d are the same as at theta.
 */
#include "tests/testutil.h"

#include "tests/layers_ref.h"

#include "io/alloc.h"
#include "nets/activation.h"
#include "nets/dropout.h"
#include "nets/knconv.h"
#include "nets/loss.h"
#include "nets/pool.h"
#include "io/rng.h"
#include "nets/upsample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 2, CIN = 3, H = 12, W = 10, K = 4, KS = 3 };

/* The input and the parameters in one flat array, so that a direction is one array. */
#define NX ((size_t)N * CIN * H * W)
#define NW ((size_t)K * CIN * KS * KS)
#define NVARS (NX + NW + K)

struct chain {
	struct knconv_geom kg;
	struct pool_geom pg;
	struct loss_ce_geom lg;
	size_t n_a, n_m;
	float *vars, *grad; /* (NVARS): x, weight, bias */
	float *a, *r, *m, *logits, *dlogits, *dm, *dr, *da, *ws, *mu, *s;
	int32_t *argmax;
	uint8_t *keep, *labels;
	float weights[K];
};

static void chain_init(struct chain *c)
{
	const int pad[4] = {1, 1, 1, 1};
	struct rng r;

	c->kg = knconv_geom_make(N, CIN, H, W, K, KS, KS, 1, 1, pad, 0.05f);
	c->pg = pool_geom_make(N, K, H, W, 3, 3, 2, 2, 1, 1);
	c->lg = (struct loss_ce_geom){N, K, H * W, 255};
	c->n_a = (size_t)N * K * H * W;
	c->n_m = (size_t)N * K * c->pg.ho * c->pg.wo;
	c->vars = xcalloc(NVARS, sizeof(float));
	c->grad = xcalloc(NVARS, sizeof(float));
	c->a = xmalloc(c->n_a * sizeof(float));
	c->r = xmalloc(c->n_a * sizeof(float));
	c->m = xmalloc(c->n_m * sizeof(float));
	c->logits = xmalloc(c->n_a * sizeof(float));
	c->dlogits = xmalloc(c->n_a * sizeof(float));
	c->dm = xmalloc(c->n_m * sizeof(float));
	c->dr = xmalloc(c->n_a * sizeof(float));
	c->da = xmalloc(c->n_a * sizeof(float));
	c->ws = xmalloc((knconv_workspace_floats(&c->kg) + 1) * sizeof(float));
	c->mu = xmalloc(knconv_unit_count(&c->kg) * sizeof(float));
	c->s = xmalloc(knconv_unit_count(&c->kg) * sizeof(float));
	c->argmax = xmalloc(c->n_m * sizeof(int32_t));
	c->keep = xmalloc(knconv_mask_count(&c->kg));
	c->labels = xmalloc((size_t)N * H * W);
	fill_uniform(c->vars, NX, -1, 1, 1);
	fill_uniform(c->vars + NX, NW, -0.5f, 0.5f, 2);
	fill_uniform(c->vars + NX + NW, K, -0.2f, 0.2f, 3);
	rng_init(&r, 4);
	dropout_mask(c->keep, knconv_mask_count(&c->kg), c->kg.p, &r);
	for (size_t i = 0; i < (size_t)N * H * W; i++)
		c->labels[i] = rng_below(&r, 5) == 0 ? 255 : (uint8_t)rng_below(&r, K);
	for (int k = 0; k < K; k++)
		c->weights[k] = 0.5f + 0.25f * (float)k;
}

static void chain_free(struct chain *c)
{
	float *bufs[] = {c->vars, c->grad, c->a, c->r, c->m, c->logits, c->dlogits,
			 c->dm, c->dr, c->da, c->ws, c->mu, c->s};

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		free(bufs[i]);
	free(c->argmax);
	free(c->keep);
	free(c->labels);
}

/* The kink pattern of a forward pass: ReLU signs and pooling winners. */
struct kinks {
	uint8_t pos[N * K * H * W];
	int32_t argmax[N * K * H * W];
};

static bool kinks_equal(const struct kinks *a, const struct kinks *b, const struct chain *c)
{
	return memcmp(a->pos, b->pos, c->n_a) == 0 &&
	       memcmp(a->argmax, b->argmax, c->n_m * sizeof(int32_t)) == 0;
}

/* The float forward at vars v; returns L and fills k (when not NULL). */
static double chain_forward(struct chain *c, const float *v, struct kinks *k)
{
	struct knorm_cache cache = {c->mu, c->s, c->keep, KNORM_TRAIN};
	double loss;

	knconv_forward(c->a, &cache, v, v + NX, v + NX + NW, &c->kg, c->ws);
	relu_forward(c->r, c->a, c->n_a);
	maxpool_forward(c->m, c->argmax, c->r, &c->pg);
	upsample_bilinear_forward(c->logits, c->m, N * K, c->pg.ho, c->pg.wo, H, W);
	residual_add_forward(c->logits, c->logits, c->a, c->n_a);
	loss = loss_ce_forward(c->logits, c->labels, c->weights, &c->lg);
	if (k) {
		for (size_t i = 0; i < c->n_a; i++)
			k->pos[i] = c->a[i] > 0;
		memcpy(k->argmax, c->argmax, c->n_m * sizeof(int32_t));
	}
	return loss;
}

/* The gradient of L into c->grad, right after chain_forward at c->vars. */
static void chain_backward(struct chain *c)
{
	struct knorm_cache cache = {c->mu, c->s, c->keep, KNORM_TRAIN};
	const float *v = c->vars;

	memset(c->grad, 0, NVARS * sizeof(float));
	memset(c->dlogits, 0, c->n_a * sizeof(float));
	memset(c->dm, 0, c->n_m * sizeof(float));
	memset(c->dr, 0, c->n_a * sizeof(float));
	memset(c->da, 0, c->n_a * sizeof(float));
	loss_ce_backward(c->dlogits, c->logits, c->labels, c->weights, 1.0f, &c->lg);
	/* logits = up + a: the identity branch reaches a directly... */
	residual_add_backward(c->da, NULL, c->dlogits, c->n_a);
	upsample_bilinear_backward(c->dm, c->dlogits, N * K, c->pg.ho, c->pg.wo, H, W);
	maxpool_backward(c->dr, c->dm, c->argmax, &c->pg);
	/* ...and the ReLU branch adds to the same gradient. */
	relu_backward(c->da, c->dr, c->a, c->n_a);
	knconv_backward(c->grad, c->grad + NX, c->grad + NX + NW, c->da, c->a, &cache, v,
			v + NX, v + NX + NW, &c->kg, c->ws);
}

/* The padded input at padded coordinates (y, x) of channel ci of image n, or 0. */
static double ref_padded(const double *x, const struct conv_geom *g, int n, int ci, int y,
			 int xx)
{
	y -= g->pad_top;
	xx -= g->pad_left;
	if (y < 0 || y >= g->h || xx < 0 || xx >= g->w)
		return 0;
	return x[(((size_t)n * g->cin + ci) * g->h + y) * g->w + xx];
}

/*
 * KNConv in double from the definition, one unit at a time: the statistics of the
 * dropped padded window (two-pass variance, clamped at 0), then
 * a = (A - mu * SW) / sqrt(var + eps) + b with A = conv of the undropped window.
 *   a (n, cout, ho, wo); x (n, cin, h, w); wt (cout, cin, kh, kw); keep (n, cin, hp, wp)
 */
static void ref_knconv(double *a, const double *x, const double *wt, const double *b,
		       const uint8_t *keep, const struct knconv_geom *kg)
{
	const struct conv_geom *g = &kg->conv;
	int m = g->cin * g->kh * g->kw;
	double scale = 1.0 / (1.0 - (double)kg->p);

	for (int n = 0; n < g->n; n++) {
		for (int i = 0; i < g->ho; i++) {
			for (int j = 0; j < g->wo; j++) {
				double sum = 0, var = 0, mu;

				for (int pass = 0; pass < 2; pass++) {
					for (int q = 0; q < m; q++) {
						int ci = q / (g->kh * g->kw), u = q / g->kw % g->kh;
						int y = i * g->sh + u, xx = j * g->sw + q % g->kw;
						size_t at = (((size_t)n * g->cin + ci) * kg->hp + y) *
								    kg->wp + xx;
						double xd = ref_padded(x, g, n, ci, y, xx) *
							    (keep[at] ? scale : 0);

						if (pass == 0)
							sum += xd;
						else
							var += (xd - sum / m) * (xd - sum / m);
					}
				}
				mu = sum / m;
				var = fmax(var / m, 0);
				for (int o = 0; o < g->cout; o++) {
					double conv = 0, sw = 0;

					for (int q = 0; q < m; q++) {
						int ci = q / (g->kh * g->kw), u = q / g->kw % g->kh;
						double wv = wt[(size_t)o * m + q];

						conv += wv * ref_padded(x, g, n, ci, i * g->sh + u,
									j * g->sw + q % g->kw);
						sw += wv;
					}
					a[(((size_t)n * g->cout + o) * g->ho + i) * g->wo + j] =
						(conv - mu * sw) / sqrt(var + (double)kg->eps) + b[o];
				}
			}
		}
	}
}

/* The double chain at vars v; returns L and fills k. */
static double ref_chain(const struct chain *c, const double *v, struct kinks *k)
{
	double *a = xmalloc(c->n_a * sizeof(double)), *r = xmalloc(c->n_a * sizeof(double));
	double *m = xmalloc(c->n_m * sizeof(double)), *u = xmalloc(c->n_a * sizeof(double));
	double loss;

	ref_knconv(a, v, v + NX, v + NX + NW, c->keep, &c->kg);
	for (size_t i = 0; i < c->n_a; i++) {
		r[i] = a[i] > 0 ? a[i] : 0;
		k->pos[i] = a[i] > 0;
	}
	ref_maxpool(m, k->argmax, r, &c->pg);
	ref_resize(u, m, N * K, c->pg.ho, c->pg.wo, H, W);
	for (size_t i = 0; i < c->n_a; i++)
		u[i] += a[i];
	loss = ref_ce_loss(u, c->labels, c->weights, &c->lg);
	free(a);
	free(r);
	free(m);
	free(u);
	return loss;
}

/* A random direction over the variables [lo, hi) of the flat array, zero elsewhere. */
static void direction(float *d, size_t lo, size_t hi, uint64_t seed)
{
	memset(d, 0, NVARS * sizeof(float));
	fill_uniform(d + lo, hi - lo, -1, 1, seed);
}

static double dot(const float *a, const float *b)
{
	double s = 0;

	for (size_t i = 0; i < NVARS; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* (L(v + eps d) - L(v - eps d)) / 2 eps of the double chain; kinks unchanged. */
static double ref_directional(const struct chain *c, const float *d, double eps,
			      const struct kinks *k0)
{
	double *v = xmalloc(NVARS * sizeof(double)), lp, lm;
	struct kinks *kp = xmalloc(sizeof(*kp)), *km = xmalloc(sizeof(*km));

	for (size_t i = 0; i < NVARS; i++)
		v[i] = c->vars[i] + eps * d[i];
	lp = ref_chain(c, v, kp);
	for (size_t i = 0; i < NVARS; i++)
		v[i] = c->vars[i] - eps * d[i];
	lm = ref_chain(c, v, km);
	assert_true(kinks_equal(k0, kp, c) && kinks_equal(k0, km, c));
	free(v);
	free(kp);
	free(km);
	return (lp - lm) / (2 * eps);
}

static void check_close(const char *what, double analytic, double numeric, double rtol)
{
	if (!(fabs(analytic - numeric) <= rtol * fabs(numeric)))
		fail_msg("%s: directional derivative %.10g analytic, %.10g numeric", what,
			 analytic, numeric);
	/* A derivative of ~0 would prove nothing. */
	assert_true(fabs(numeric) > 1e-3);
}

static void test_float_forward_matches_double(void **state)
{
	struct chain c;
	struct kinks *kf = xmalloc(sizeof(*kf)), *kd = xmalloc(sizeof(*kd));
	double *v = xmalloc(NVARS * sizeof(double)), lf, ld;

	(void)state;
	chain_init(&c);
	for (size_t i = 0; i < NVARS; i++)
		v[i] = c.vars[i];
	lf = chain_forward(&c, c.vars, kf);
	ld = ref_chain(&c, v, kd);
	assert_true(isfinite(ld) && ld > 0.5);
	assert_true(fabs(lf - ld) < 1e-6 * ld);
	assert_true(kinks_equal(kf, kd, &c));
	free(kf);
	free(kd);
	free(v);
	chain_free(&c);
}

/* Against the double chain: all variables at once, then the input, weights, bias alone. */
static void test_directional_vs_double_reference(void **state)
{
	const struct {
		const char *what;
		size_t lo, hi;
	} groups[] = {
		{"all", 0, NVARS}, {"input", 0, NX}, {"weight", NX, NX + NW},
		{"bias", NX + NW, NVARS},
	};
	struct chain c;
	struct kinks *k0 = xmalloc(sizeof(*k0));
	double *v = xmalloc(NVARS * sizeof(double));
	float *d = xmalloc(NVARS * sizeof(float));

	(void)state;
	chain_init(&c);
	for (size_t i = 0; i < NVARS; i++)
		v[i] = c.vars[i];
	ref_chain(&c, v, k0);
	chain_forward(&c, c.vars, NULL);
	chain_backward(&c);
	for (size_t gi = 0; gi < sizeof(groups) / sizeof(groups[0]); gi++) {
		direction(d, groups[gi].lo, groups[gi].hi, 10 + gi);
		check_close(groups[gi].what, dot(c.grad, d), ref_directional(&c, d, 1e-6, k0),
			    1e-4);
	}
	free(k0);
	free(v);
	free(d);
	chain_free(&c);
}

/* Against the float chain itself, with the loss in double. */
static void test_directional_vs_float_chain(void **state)
{
	struct chain c;
	struct kinks *k0 = xmalloc(sizeof(*k0)), *kp = xmalloc(sizeof(*kp));
	struct kinks *km = xmalloc(sizeof(*km));
	float *d = xmalloc(NVARS * sizeof(float)), *v = xmalloc(NVARS * sizeof(float));
	const double eps = 3e-4;
	double analytic, lp, lm;

	(void)state;
	chain_init(&c);
	direction(d, 0, NVARS, 30);
	chain_forward(&c, c.vars, k0);
	chain_backward(&c);
	analytic = dot(c.grad, d);
	for (size_t i = 0; i < NVARS; i++)
		v[i] = (float)(c.vars[i] + eps * d[i]);
	lp = chain_forward(&c, v, kp);
	for (size_t i = 0; i < NVARS; i++)
		v[i] = (float)(c.vars[i] - eps * d[i]);
	lm = chain_forward(&c, v, km);
	assert_true(kinks_equal(k0, kp, &c) && kinks_equal(k0, km, &c));
	check_close("float chain", analytic, (lp - lm) / (2 * eps), 1e-3);
	free(k0);
	free(kp);
	free(km);
	free(d);
	free(v);
	chain_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_forward_matches_double),
		cmocka_unit_test(test_directional_vs_double_reference),
		cmocka_unit_test(test_directional_vs_float_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
