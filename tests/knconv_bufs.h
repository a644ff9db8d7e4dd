/*
 * Buffers and helpers shared by the KNConv test programs (test_knconv.c,
 * test_knconv_ref.c); header only, functions static inline.
 */
#ifndef KNSEG_TESTS_KNCONV_BUFS_H
#define KNSEG_TESTS_KNCONV_BUFS_H

#include "tests/testutil.h"

#include "io/alloc.h"
#include "nets/dropout.h"
#include "nets/gemm.h"
#include "nets/knconv.h"
#include "io/rng.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Tolerances. Against the fixtures (float64 rounded to float32) and the naive layer
 * (float, another summation order and a two-pass variance), outputs and gradients
 * differ by float roundings of sums of up to M = cin*kh*kw terms of O(1), divided by
 * s ~ 1: observed up to 5e-6 absolute (the 7x7 stem, M = 147), checked at 1e-4
 * relative with an absolute floor of 1e-5 times the largest value (close_scaled).
 * Gradients: the double reference is smooth, so central differences (h = 1e-4) are
 * accurate to ~1e-8; the float backward to ~1e-6 relative; GRAD_RTOL, with an absolute
 * allowance of GRAD_RTOL times the largest gradient for entries that nearly cancel.
 */
#define CMP_RTOL 1e-4
#define CMP_ATOL 1e-5
#define GRAD_RTOL 1e-4
#define GRAD_H 1e-4

/*
 * allclose with the absolute floor CMP_ATOL scaled by the largest |want| (at least 1):
 * the errors are roundings of sums (A - mu SW) whose size follows the largest values.
 */
static inline bool close_scaled(const char *what, const float *got, const float *want, size_t n)
{
	double top = 1;

	for (size_t i = 0; i < n; i++)
		top = fmax(top, fabs(want[i]));
	return allclose(what, got, want, n, CMP_RTOL, CMP_ATOL * top);
}

/* Every buffer of one KNConv call. */
struct kc_bufs {
	struct knconv_geom g;
	size_t n_in, n_out, n_w, n_units, n_mask;
	float *in, *weight, *bias, *out, *dout, *din, *dweight, *dbias, *mu, *s, *ws;
	uint8_t *keep;
	struct knorm_cache cache;
};

static inline void bufs_init(struct kc_bufs *b, const struct knconv_geom *g, enum knorm_mode mode)
{
	const struct conv_geom *c = &g->conv;

	b->g = *g;
	b->n_in = (size_t)c->n * c->cin * c->h * c->w;
	b->n_out = (size_t)c->n * c->cout * c->ho * c->wo;
	b->n_w = (size_t)c->cout * c->cin * c->kh * c->kw;
	b->n_units = knconv_unit_count(g);
	b->n_mask = knconv_mask_count(g);
	b->in = xcalloc(b->n_in, sizeof(float));
	b->din = xcalloc(b->n_in, sizeof(float));
	b->weight = xcalloc(b->n_w, sizeof(float));
	b->dweight = xcalloc(b->n_w, sizeof(float));
	b->bias = xcalloc((size_t)c->cout, sizeof(float));
	b->dbias = xcalloc((size_t)c->cout, sizeof(float));
	b->out = xcalloc(b->n_out, sizeof(float));
	b->dout = xcalloc(b->n_out, sizeof(float));
	b->mu = xcalloc(b->n_units, sizeof(float));
	b->s = xcalloc(b->n_units, sizeof(float));
	b->ws = xcalloc(knconv_workspace_floats(g), sizeof(float));
	b->keep = xcalloc(b->n_mask, 1);
	b->cache = (struct knorm_cache){.mu = b->mu, .s = b->s, .mode = mode};
	b->cache.keep = dropout_uses_mask(mode, g->p) ? b->keep : NULL;
}

static inline void bufs_free(struct kc_bufs *b)
{
	float *f[] = {b->in, b->din, b->weight, b->dweight, b->bias, b->dbias,
		      b->out, b->dout, b->mu, b->s, b->ws};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(f[i]);
	free(b->keep);
}

/* Random input (offset, so means do not vanish), weights, bias, upstream gradient, mask. */
static inline void bufs_randomize(struct kc_bufs *b, uint64_t seed)
{
	struct rng r;

	fill_uniform(b->in, b->n_in, -1, 2, seed);
	fill_uniform(b->weight, b->n_w, -0.5f, 0.5f, seed + 1);
	fill_uniform(b->bias, (size_t)b->g.conv.cout, -0.5f, 0.5f, seed + 2);
	fill_uniform(b->dout, b->n_out, -1, 1, seed + 3);
	rng_init_stream(&r, seed, 4, 0);
	dropout_mask(b->keep, b->n_mask, b->g.p, &r);
}

static inline void bufs_zero_grads(struct kc_bufs *b)
{
	memset(b->din, 0, b->n_in * sizeof(float));
	memset(b->dweight, 0, b->n_w * sizeof(float));
	memset(b->dbias, 0, (size_t)b->g.conv.cout * sizeof(float));
}

static inline void run_forward(struct kc_bufs *b)
{
	knconv_forward(b->out, &b->cache, b->in, b->weight, b->bias, &b->g, b->ws);
}

static inline void run_backward(struct kc_bufs *b)
{
	knconv_backward(b->din, b->dweight, b->dbias, b->dout, b->out, &b->cache, b->in,
			b->weight, b->bias, &b->g, b->ws);
}

static inline struct knconv_geom geom(int n, int cin, int h, int w, int cout, int k, int s,
			       const int pad[4], float p)
{
	return knconv_geom_make(n, cin, h, w, cout, k, k, s, s, pad, p);
}


/*
 * Group setup: the tests run on one thread (test_threads_bitwise_identical sets 1 and
 * 2 itself). Below KNORM_PARALLEL_MIN the layer's own loops are serial anyway; this keeps
 * the convolution's parallel regions from waiting on a busy machine, where thousands
 * of tiny calls would otherwise take seconds.
 */
static inline int kc_one_thread(void **state)
{
	(void)state;
	kn_set_threads(1);
	return 0;
}

#endif
