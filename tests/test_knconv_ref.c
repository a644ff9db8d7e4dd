/*
 * Reference checks of nets/knconv.c: the box-sum layer against a naive one that
 * materializes the units (KernelNorm on a tiled copy, then the direct convolution),
 * forward and backward, with and without a dropout mask; and central-difference
 * gradients of a double-precision reference written from the definition, for every
 * input, weight and bias, including units whose variance was clamped.
 */
#include "tests/knconv_bufs.h"

#include "nets/conv.h"
#include "nets/gemm.h"
#include "nets/kernelnorm.h"

static const int pad0[4] = {0, 0, 0, 0}, pad1[4] = {1, 1, 1, 1}, pad3[4] = {3, 3, 3, 3};
static const int pad1010[4] = {1, 0, 1, 0}, pad0101[4] = {0, 1, 0, 1};
static const int pad2121[4] = {2, 1, 2, 1};
/* Left differs from top: catches a swapped padding order. */
static const int pad0210[4] = {0, 2, 1, 0};

/* ---- The box-sum layer against one that materializes the units ---- */

/*
 * KNConv from its definition: KernelNorm (general form) of the units, with the shared
 * mask of the padded input gathered into the per-unit tiled layout, then a convolution
 * whose kernel and stride equal the window (the direct reference loops of conv.c).
 */
struct naive {
	struct kernelnorm_geom kg;
	struct conv_geom cg;
	size_t n_tiled;
	float *tiled, *dtiled, *mu, *s, *ws;
	uint8_t *tkeep;
	struct knorm_cache cache;
};

static void naive_init(struct naive *nv, const struct kc_bufs *b)
{
	const struct conv_geom *c = &b->g.conv;
	int pad[4] = {c->pad_left, c->pad_right, c->pad_top, c->pad_bottom};
	struct kernelnorm_geom *kg = &nv->kg;

	*kg = kernelnorm_geom_make(c->n, c->cin, c->h, c->w, c->kh, c->kw, c->sh, c->sw, pad,
				   b->g.p);
	nv->cg = conv_geom_make(c->n, c->cin, kg->ho * c->kh, kg->wo * c->kw, c->cout, c->kh,
				c->kw, c->kh, c->kw, pad0);
	nv->n_tiled = kernelnorm_out_count(kg);
	nv->tiled = xcalloc(nv->n_tiled, sizeof(float));
	nv->dtiled = xcalloc(nv->n_tiled, sizeof(float));
	nv->tkeep = xcalloc(nv->n_tiled, 1);
	nv->mu = xcalloc(kernelnorm_unit_count(kg), sizeof(float));
	nv->s = xcalloc(kernelnorm_unit_count(kg), sizeof(float));
	nv->ws = xcalloc(kernelnorm_workspace_floats(kg), sizeof(float));
	/* tile [n, ch, i*kh + a, j*kw + bb] <- padded input [n, ch, i*sh + a, j*sw + bb] */
	for (size_t t = 0; t < nv->n_tiled; t++) {
		size_t tw = (size_t)kg->wo * kg->kw, th = (size_t)kg->ho * kg->kh;
		size_t col = t % tw, row = t / tw % th, plane = t / tw / th;
		size_t y = row / kg->kh * kg->sh + row % kg->kh;
		size_t x = col / kg->kw * kg->sw + col % kg->kw;

		nv->tkeep[t] = b->keep[(plane * b->g.hp + y) * b->g.wp + x];
	}
	nv->cache = (struct knorm_cache){.mu = nv->mu, .s = nv->s, .mode = b->cache.mode};
	nv->cache.keep = b->cache.keep ? nv->tkeep : NULL;
}

static void naive_free(struct naive *nv)
{
	free(nv->tiled);
	free(nv->dtiled);
	free(nv->tkeep);
	free(nv->mu);
	free(nv->s);
	free(nv->ws);
}

static void naive_run(struct naive *nv, struct kc_bufs *b)
{
	kernelnorm_forward(nv->tiled, &nv->cache, b->in, &nv->kg);
	conv_forward_naive(b->out, nv->tiled, b->weight, b->bias, &nv->cg);
	conv_backward_naive(nv->dtiled, b->dweight, b->dbias, b->dout, nv->tiled, b->weight,
			    &nv->cg);
	kernelnorm_backward(b->din, nv->dtiled, &nv->cache, b->in, &nv->kg, nv->ws);
}

static void check_naive(const struct knconv_geom *g, enum knorm_mode mode, uint64_t seed)
{
	struct kc_bufs fast, ref;
	struct naive nv;

	bufs_init(&fast, g, mode);
	bufs_init(&ref, g, mode);
	bufs_randomize(&fast, seed);
	bufs_randomize(&ref, seed);
	naive_init(&nv, &ref);
	run_forward(&fast);
	run_backward(&fast);
	naive_run(&nv, &ref);
	for (size_t q = 0; q < fast.n_units; q++)
		fast.s[q] = fabsf(fast.s[q]);
	assert_true(close_scaled("out", fast.out, ref.out, fast.n_out));
	assert_true(close_scaled("mu", fast.mu, nv.mu, fast.n_units));
	assert_true(close_scaled("s", fast.s, nv.s, fast.n_units));
	assert_true(close_scaled("din", fast.din, ref.din, fast.n_in));
	assert_true(close_scaled("dweight", fast.dweight, ref.dweight, fast.n_w));
	assert_true(close_scaled("dbias", fast.dbias, ref.dbias, (size_t)g->conv.cout));
	naive_free(&nv);
	bufs_free(&fast);
	bufs_free(&ref);
}

static void test_fast_matches_naive(void **state)
{
	static const enum knorm_mode modes[3] = {KNORM_TRAIN, KNORM_TRAIN, KNORM_EVAL_EXPECTED};
	static const float ps[3] = {0, 0.25f, 0.05f};

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct knconv_geom gs[] = {
			geom(2, 3, 15, 12, 5, 7, 2, pad3, ps[k]),
			geom(2, 6, 7, 8, 5, 2, 1, pad1, ps[k]),
			geom(1, 5, 9, 6, 4, 2, 1, pad0, ps[k]),
			geom(2, 4, 6, 7, 6, 2, 1, pad1010, ps[k]),
			geom(1, 4, 7, 5, 3, 2, 1, pad0101, ps[k]),
			geom(2, 3, 5, 6, 4, 2, 1, pad2121, ps[k]),
			geom(2, 7, 6, 5, 6, 3, 1, pad1, ps[k]),
			geom(2, 11, 4, 7, 5, 1, 1, pad0, ps[k]),
			knconv_geom_make(1, 3, 8, 9, 4, 3, 2, 2, 3, pad2121, ps[k]),
			knconv_geom_make(2, 3, 7, 6, 4, 2, 3, 1, 2, pad0210, ps[k]),
		};

		for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++)
			check_naive(&gs[i], modes[k], 100 + 10 * k + i);
	}
}

/* ---- Central-difference gradients in double ---- */

/*
 * The definition in double: per unit, two-pass statistics of the dropped values. With
 * var_fixed (per unit), the variance is that constant instead: the branch of
 * max(var, 0) that a clamped unit takes.
 */
static void ref_forward(double *out, const double *x, const double *w, const double *bias,
			const uint8_t *keep, enum knorm_mode mode, const double *var_fixed,
			const struct knconv_geom *g)
{
	const struct conv_geom *c = &g->conv;
	int kk = c->kh * c->kw, m = c->cin * kk;
	double scale = 1.0 / (1.0 - g->p), cexp = dropout_expected_factor(mode, g->p, (size_t)m);
	double *u = xmalloc((size_t)m * sizeof(double)), *d = xmalloc((size_t)m * sizeof(double));

	for (int n = 0; n < c->n; n++)
		for (int i = 0; i < c->ho; i++)
			for (int j = 0; j < c->wo; j++) {
				double sum = 0, sq = 0, dev = 0, mu, s;

				for (int e = 0; e < m; e++) {
					int ch = e / kk, y = i * c->sh + e % kk / c->kw;
					int xx = j * c->sw + e % c->kw;
					int h = y - c->pad_top, wi = xx - c->pad_left;
					size_t plane = (size_t)n * c->cin + ch;
					bool inside = h >= 0 && h < c->h && wi >= 0 && wi < c->w;

					u[e] = inside ? x[(plane * c->h + h) * c->w + wi] : 0;
					d[e] = u[e];
					if (keep && !keep[(plane * g->hp + y) * g->wp + xx])
						d[e] = 0;
					else if (keep)
						d[e] *= scale;
					sum += d[e];
					sq += u[e] * u[e];
				}
				mu = sum / m;
				for (int e = 0; e < m; e++)
					dev += (d[e] - mu) * (d[e] - mu);
				s = sqrt(dev / m + cexp * sq / m + g->eps);
				if (var_fixed)
					s = sqrt(var_fixed[((size_t)n * c->ho + i) * c->wo + j] +
						 cexp * sq / m + g->eps);
				for (int o = 0; o < c->cout; o++) {
					double y = bias[o];

					for (int e = 0; e < m; e++)
						y += w[(size_t)o * m + e] * (u[e] - mu) / s;
					out[(((size_t)n * c->cout + o) * c->ho + i) * c->wo + j] = y;
				}
			}
	free(u);
	free(d);
}

struct grad_ctx {
	const struct kc_bufs *b;
	double *x, *w, *bias, *out;
	const double *var_fixed; /* NULL, or the variances of clamped units */
};

/* L = sum(y * dout) of the double reference at the current x, w, bias. */
static double ref_loss(const struct grad_ctx *ctx)
{
	const struct kc_bufs *b = ctx->b;
	double l = 0;

	ref_forward(ctx->out, ctx->x, ctx->w, ctx->bias, b->cache.keep, b->cache.mode,
		    ctx->var_fixed, &b->g);
	for (size_t i = 0; i < b->n_out; i++)
		l += ctx->out[i] * b->dout[i];
	return l;
}

/* Central differences of L over the n values of v (one of ctx's arrays), vs got. */
static void check_numeric(const char *what, const float *got, double *v, size_t n,
			  const struct grad_ctx *ctx)
{
	double *num = xmalloc(n * sizeof(double)), gmax = 0;

	for (size_t i = 0; i < n; i++) {
		double keep = v[i], up, down;

		v[i] = keep + GRAD_H;
		up = ref_loss(ctx);
		v[i] = keep - GRAD_H;
		down = ref_loss(ctx);
		v[i] = keep;
		num[i] = (up - down) / (2 * GRAD_H);
		gmax = fmax(gmax, fabs(num[i]));
	}
	assert_allclose_d(what, got, num, n, GRAD_RTOL, GRAD_RTOL * gmax);
	free(num);
}

static double *to_double(const float *x, size_t n)
{
	double *y = xmalloc(n * sizeof(double));

	for (size_t i = 0; i < n; i++)
		y[i] = x[i];
	return y;
}

/*
 * With clamp set, every unit is marked clamped after forward (s negated) and the
 * reference holds each unit's variance fixed: backward must pass no gradient through
 * the variance of a clamped unit, as autograd does for clamp_min(0) below zero.
 */
static void check_gradients(const struct knconv_geom *g, enum knorm_mode mode, bool clamp,
			    uint64_t seed)
{
	struct kc_bufs b;
	struct grad_ctx ctx;
	double *var = NULL;
	double cexp = dropout_expected_factor(mode, g->p, (size_t)g->conv.cin * g->conv.kh *
								 g->conv.kw);

	bufs_init(&b, g, mode);
	bufs_randomize(&b, seed);
	run_forward(&b);
	if (clamp) {
		/* Each unit's variance from forward, held fixed (no expected-mode term). */
		var = xmalloc(b.n_units * sizeof(double));
		for (size_t q = 0; q < b.n_units; q++) {
			var[q] = (double)b.s[q] * b.s[q] - g->eps;
			b.s[q] = -b.s[q];
		}
		assert_true(cexp == 0);
	}
	run_backward(&b);
	ctx = (struct grad_ctx){
		.b = &b,
		.x = to_double(b.in, b.n_in),
		.w = to_double(b.weight, b.n_w),
		.bias = to_double(b.bias, (size_t)g->conv.cout),
		.out = xmalloc(b.n_out * sizeof(double)),
		.var_fixed = var,
	};
	check_numeric("din", b.din, ctx.x, b.n_in, &ctx);
	check_numeric("dweight", b.dweight, ctx.w, b.n_w, &ctx);
	check_numeric("dbias", b.dbias, ctx.bias, (size_t)g->conv.cout, &ctx);
	free(var);
	free(ctx.x);
	free(ctx.w);
	free(ctx.bias);
	free(ctx.out);
	bufs_free(&b);
}

static void test_gradients_central_differences(void **state)
{
	static const enum knorm_mode modes[3] = {KNORM_TRAIN, KNORM_TRAIN, KNORM_EVAL_EXPECTED};
	static const float ps[3] = {0, 0.25f, 0.25f};

	(void)state;
	for (int k = 0; k < 3; k++) {
		struct knconv_geom gs[] = {
			geom(2, 3, 4, 5, 3, 2, 1, pad1, ps[k]),
			geom(1, 2, 5, 4, 3, 2, 1, pad1010, ps[k]),
			geom(1, 3, 4, 4, 2, 2, 1, pad0101, ps[k]),
			geom(1, 2, 4, 5, 2, 2, 1, pad2121, ps[k]),
			geom(1, 2, 7, 6, 2, 7, 2, pad3, ps[k]),
			geom(1, 2, 4, 4, 3, 3, 1, pad1, ps[k]),
			geom(2, 5, 3, 2, 3, 1, 1, pad0, ps[k]),
			knconv_geom_make(1, 2, 4, 5, 2, 3, 2, 2, 1, pad0210, ps[k]),
		};

		for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++)
			check_gradients(&gs[i], modes[k], false, 300 + 10 * k + i);
	}
}

/* A unit whose one-pass variance rounded below zero passes no gradient through it. */
static void test_clamped_variance_gradients(void **state)
{
	struct knconv_geom gs[] = {
		geom(2, 3, 4, 5, 3, 2, 1, pad1, 0.25f),
		geom(1, 2, 5, 4, 3, 2, 1, pad1010, 0),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(gs) / sizeof(gs[0]); i++)
		check_gradients(&gs[i], KNORM_TRAIN, true, 400 + i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fast_matches_naive),
		cmocka_unit_test(test_gradients_central_differences),
		cmocka_unit_test(test_clamped_variance_gradients),
	};

	return cmocka_run_group_tests(tests, kc_one_thread, NULL);
}
