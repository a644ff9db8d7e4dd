/*
 * Tests of nets/conv.c: closed-form outputs, the im2col/GEMM path against the direct
 * loops, PyTorch fixtures (scripts/ref_conv.py), central-difference gradients in double,
 * accumulation semantics, and thread-count independence.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "nets/conv.h"
#include "nets/gemm.h"
#include "io/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Every buffer of one convolution, sized from its geometry. */
struct conv_bufs {
	struct conv_geom g;
	size_t n_in, n_out, n_w;
	float *in, *weight, *bias, *out, *dout, *din, *dweight, *dbias, *ws;
};

static void bufs_init(struct conv_bufs *b, const struct conv_geom *g)
{
	b->g = *g;
	b->n_in = (size_t)g->n * g->cin * g->h * g->w;
	b->n_out = (size_t)g->n * g->cout * g->ho * g->wo;
	b->n_w = (size_t)g->cout * g->cin * g->kh * g->kw;
	b->in = xcalloc(b->n_in, sizeof(float));
	b->weight = xcalloc(b->n_w, sizeof(float));
	b->bias = xcalloc((size_t)g->cout, sizeof(float));
	b->out = xcalloc(b->n_out, sizeof(float));
	b->dout = xcalloc(b->n_out, sizeof(float));
	b->din = xcalloc(b->n_in, sizeof(float));
	b->dweight = xcalloc(b->n_w, sizeof(float));
	b->dbias = xcalloc((size_t)g->cout, sizeof(float));
	/* +1 so that a zero-sized workspace is still a valid pointer. */
	b->ws = xcalloc(conv_workspace_floats(g) + 1, sizeof(float));
}

/* Uniform random input, weight, bias and upstream gradient from one seed. */
static void bufs_randomize(struct conv_bufs *b, uint64_t seed)
{
	fill_uniform(b->in, b->n_in, -1, 1, seed);
	fill_uniform(b->weight, b->n_w, -1, 1, seed + 1);
	fill_uniform(b->bias, (size_t)b->g.cout, -1, 1, seed + 2);
	fill_uniform(b->dout, b->n_out, -1, 1, seed + 3);
}

static void bufs_zero_grads(struct conv_bufs *b)
{
	memset(b->din, 0, b->n_in * sizeof(float));
	memset(b->dweight, 0, b->n_w * sizeof(float));
	memset(b->dbias, 0, (size_t)b->g.cout * sizeof(float));
}

static void bufs_free(struct conv_bufs *b)
{
	free(b->in);
	free(b->weight);
	free(b->bias);
	free(b->out);
	free(b->dout);
	free(b->din);
	free(b->dweight);
	free(b->dbias);
	free(b->ws);
}

/* A copy of the outputs and gradients held by a conv_bufs. */
struct conv_result {
	float *out, *din, *dweight, *dbias;
};

static float *copy_floats(const float *x, size_t n)
{
	float *y = xmalloc(n * sizeof(float) + 1);

	memcpy(y, x, n * sizeof(float));
	return y;
}

static struct conv_result result_save(const struct conv_bufs *b)
{
	return (struct conv_result){
		.out = copy_floats(b->out, b->n_out),
		.din = copy_floats(b->din, b->n_in),
		.dweight = copy_floats(b->dweight, b->n_w),
		.dbias = copy_floats(b->dbias, (size_t)b->g.cout),
	};
}

static void result_free(struct conv_result *r)
{
	free(r->out);
	free(r->din);
	free(r->dweight);
	free(r->dbias);
}

static struct conv_geom geom(int n, int cin, int h, int w, int cout, int k, int s, int pl,
			     int pr, int pt, int pb)
{
	const int pad[4] = {pl, pr, pt, pb};

	return conv_geom_make(n, cin, h, w, cout, k, k, s, s, pad);
}

static void test_geometry_and_workspace(void **state)
{
	struct conv_geom g;
	size_t ws;

	(void)state;
	g = geom(2, 64, 128, 256, 256, 2, 1, 1, 1, 1, 1);
	assert_int_equal(g.ho, 129);
	assert_int_equal(g.wo, 257);
	/* The workspace is one band of whole output rows, smaller than the image's. */
	assert_false(conv_uses_shifts(&g));
	ws = conv_workspace_floats(&g);
	assert_int_equal(ws % (64 * 4 * 257), 0);
	assert_true(ws >= 64 * 4 * 257 && ws < (size_t)64 * 4 * 129 * 257);
	/* With 256 input channels it runs one GEMM per tap on the padded image: weights by
	 * tap and their gradients, the padded image and its gradient, the wide output. */
	g = geom(2, 256, 64, 128, 64, 2, 1, 1, 1, 1, 1);
	assert_true(conv_uses_shifts(&g));
	assert_int_equal(conv_workspace_floats(&g),
			 2 * 4 * 64 * 256 + 2 * 256 * 66 * 130 + 64 * 65 * 130);
	g = geom(1, 256, 65, 129, 64, 2, 1, 0, 0, 0, 0);
	assert_true(conv_uses_shifts(&g));
	assert_int_equal(conv_workspace_floats(&g), 2 * 4 * 64 * 256 + 64 * 64 * 129);
	/* Strided or with few positions, it does not. */
	g = geom(1, 256, 65, 129, 64, 2, 2, 0, 0, 0, 0);
	assert_false(conv_uses_shifts(&g));
	g = geom(1, 724, 8, 16, 724, 2, 1, 1, 1, 1, 1);
	assert_false(conv_uses_shifts(&g));
	g = geom(1, 64, 64, 128, 256, 2, 1, 1, 0, 1, 0);
	assert_int_equal(g.ho, 64);
	assert_int_equal(g.wo, 128);
	g = geom(1, 3, 256, 512, 64, 7, 2, 3, 3, 3, 3);
	assert_int_equal(g.ho, 128);
	assert_int_equal(g.wo, 256);
	g = geom(1, 3, 7, 9, 4, 3, 2, 0, 0, 0, 0);
	assert_int_equal(g.ho, 3);
	assert_int_equal(g.wo, 4);
	/* A small convolution takes the whole image in one band. */
	assert_int_equal(conv_workspace_floats(&g), 3 * 9 * 3 * 4);
	/* A 1x1 stride-1 unpadded convolution reads the input directly. */
	g = geom(2, 810, 16, 32, 2048, 1, 1, 0, 0, 0, 0);
	assert_int_equal(conv_workspace_floats(&g), 0);
}

/* How many of the k taps from o*s - pad land inside [0, size). */
static int taps_inside(int o, int k, int s, int pad, int size)
{
	int count = 0;

	for (int t = 0; t < k; t++)
		count += o * s - pad + t >= 0 && o * s - pad + t < size;
	return count;
}

/* All-ones input and weights: each output is cin times the window area inside the image. */
static void check_ones(const struct conv_geom *g, const float *probe_want, const int *probes,
		       int nprobes)
{
	struct conv_bufs b;

	bufs_init(&b, g);
	for (size_t i = 0; i < b.n_in; i++)
		b.in[i] = 1;
	for (size_t i = 0; i < b.n_w; i++)
		b.weight[i] = 1;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			conv_forward(b.out, b.in, b.weight, NULL, g, b.ws);
		else
			conv_forward_naive(b.out, b.in, b.weight, NULL, g);
		for (int p = 0; p < nprobes; p++)
			assert_true(b.out[probes[2 * p] * g->wo + probes[2 * p + 1]] == probe_want[p]);
		for (size_t idx = 0; idx < b.n_out; idx++) {
			int j = (int)(idx % g->wo), i = (int)(idx / g->wo % g->ho);
			int want = g->cin * taps_inside(i, g->kh, g->sh, g->pad_top, g->h) *
				   taps_inside(j, g->kw, g->sw, g->pad_left, g->w);

			assert_true(b.out[idx] == (float)want);
		}
	}
	bufs_free(&b);
}

static void test_ones_window_counts(void **state)
{
	struct conv_geom g;

	(void)state;
	/* 3x3 pad 1 on 5x5, 2 channels: interior 2*9, edge 2*6, corner 2*4. */
	g = geom(1, 2, 5, 5, 3, 3, 1, 1, 1, 1, 1);
	check_ones(&g, (const float[]){18, 12, 8, 8}, (const int[]){2, 2, 0, 2, 0, 0, 4, 4}, 4);
	/* 2x2 pad (1,1,1,1): corners see one pixel, edges two, interior four. */
	g = geom(1, 3, 4, 6, 2, 2, 1, 1, 1, 1, 1);
	check_ones(&g, (const float[]){3, 6, 12, 3}, (const int[]){0, 0, 0, 3, 2, 3, 4, 6}, 4);
	/* 7x7 stride 2 pad 3 on 9x11: corner window covers 4x4, the one at (2,2) 7x7. */
	g = geom(1, 1, 9, 11, 1, 7, 2, 3, 3, 3, 3);
	check_ones(&g, (const float[]){16, 49, 28}, (const int[]){0, 0, 2, 2, 0, 2}, 3);
	/* Asymmetric (2,1,2,1), 2x2: the first row/column see only padding. */
	g = geom(2, 4, 3, 5, 2, 2, 1, 2, 1, 2, 1);
	check_ones(&g, (const float[]){0, 0, 4, 16}, (const int[]){0, 0, 1, 0, 1, 1, 2, 2}, 4);
}

static void test_pointwise_is_matrix_product(void **state)
{
	/* in (1, 2, 1, 3), weight (2, 2, 1, 1), bias (2). */
	const float in[] = {1, 2, 3, 4, 5, 6}, weight[] = {1, 0, 2, -1}, bias[] = {0.5f, -1};
	const float want[] = {1.5f, 2.5f, 3.5f, -3, -2, -1};
	/* dweight[o,c] = sum_p dout[o,p] in[c,p]; din[c,p] = sum_o w[o,c] dout[o,p]. */
	const float dout[] = {1, 0, -1, 2, 1, 0};
	const float want_dw[] = {-2, -2, 4, 13}, want_din[] = {5, 2, -1, -2, -1, 0};
	const float want_db[] = {0, 3};
	struct conv_geom g = geom(1, 2, 1, 3, 2, 1, 1, 0, 0, 0, 0);
	float out[6], din[6] = {0}, dw[4] = {0}, db[2] = {0};

	(void)state;
	conv_forward(out, in, weight, bias, &g, NULL);
	assert_allclose("out", out, want, 6, 0, 0);
	conv_backward(din, dw, db, dout, in, weight, &g, NULL);
	assert_allclose("din", din, want_din, 6, 0, 0);
	assert_allclose("dweight", dw, want_dw, 4, 0, 0);
	assert_allclose("dbias", db, want_db, 2, 0, 0);
}

/*
 * weight[o, c, ki, kj] = 1 when o == c and (ki, kj) == (ti, tj): the output is the input
 * shifted by the tap and subsampled by the stride, exactly, and din is dout put back.
 */
static void check_delta(const struct conv_geom *g, int ti, int tj)
{
	struct conv_bufs b;

	bufs_init(&b, g);
	bufs_randomize(&b, 77);
	memset(b.weight, 0, b.n_w * sizeof(float));
	for (int c = 0; c < g->cin; c++)
		b.weight[(((size_t)c * g->cin + c) * g->kh + ti) * g->kw + tj] = 1;
	conv_forward(b.out, b.in, b.weight, NULL, g, b.ws);
	conv_backward(b.din, b.dweight, NULL, b.dout, b.in, b.weight, g, b.ws);
	for (int nc = 0; nc < g->n * g->cin; nc++) {
		const float *in = b.in + (size_t)nc * g->h * g->w;
		const float *out = b.out + (size_t)nc * g->ho * g->wo;
		const float *din = b.din + (size_t)nc * g->h * g->w;
		const float *dout = b.dout + (size_t)nc * g->ho * g->wo;

		for (int i = 0; i < g->ho; i++) {
			for (int j = 0; j < g->wo; j++) {
				int y = i * g->sh - g->pad_top + ti, x = j * g->sw - g->pad_left + tj;
				int inside = y >= 0 && y < g->h && x >= 0 && x < g->w;

				assert_true(out[i * g->wo + j] == (inside ? in[y * g->w + x] : 0));
				if (inside)
					assert_true(din[y * g->w + x] == dout[i * g->wo + j]);
			}
		}
	}
	bufs_free(&b);
}

static void test_delta_kernel_shifts(void **state)
{
	struct conv_geom g;

	(void)state;
	g = geom(2, 3, 6, 7, 3, 3, 1, 1, 1, 1, 1);
	check_delta(&g, 0, 2);
	check_delta(&g, 1, 1);
	g = geom(1, 2, 8, 9, 2, 2, 1, 1, 0, 1, 0);
	check_delta(&g, 0, 0);
	check_delta(&g, 1, 1);
	g = geom(1, 2, 9, 8, 2, 2, 2, 0, 1, 0, 1);
	check_delta(&g, 1, 0);
	g = geom(1, 4, 11, 10, 4, 7, 2, 3, 3, 3, 3);
	check_delta(&g, 6, 3);
}

/* A random geometry: kernels 1..4 (and 7), strides 1..3, pads 0..3. */
static struct conv_geom random_geom(struct rng *r)
{
	int kh = 1 + (int)rng_below(r, 4), kw = 1 + (int)rng_below(r, 4);
	int pad[4];

	if (rng_below(r, 10) == 0)
		kh = kw = 7;
	for (int i = 0; i < 4; i++)
		pad[i] = (int)rng_below(r, 4);
	if (rng_below(r, 5) == 0) /* the pointwise path */
		return conv_geom_make(1 + (int)rng_below(r, 3), 1 + (int)rng_below(r, 9),
				      1 + (int)rng_below(r, 7), 1 + (int)rng_below(r, 7),
				      1 + (int)rng_below(r, 9), 1, 1, 1, 1, (const int[4]){0});
	return conv_geom_make(1 + (int)rng_below(r, 2), 1 + (int)rng_below(r, 6),
			      kh + (int)rng_below(r, 9), kw + (int)rng_below(r, 9),
			      1 + (int)rng_below(r, 6), kh, kw, 1 + (int)rng_below(r, 3),
			      1 + (int)rng_below(r, 3), pad);
}

/*
 * The GEMM path sums in float in blocks, the direct loops in double. With values in
 * [-1, 1], a float sum of m terms errs by about sqrt(m) float epsilons of its typical
 * magnitude, hence rtol 1e-5 with an absolute term 1e-6 * sqrt(m) for sums that cancel,
 * m being the longest sum of the case (K for out and din, n*ho*wo for the weights).
 */
static void check_close(const struct conv_bufs *b, const struct conv_result *want)
{
	const struct conv_geom *g = &b->g;
	double terms = fmax(g->cin * g->kh * g->kw, (double)g->n * g->ho * g->wo);
	double rtol = 1e-5, atol = 1e-6 * sqrt(fmax(terms, 100));

	if (!allclose("out", b->out, want->out, b->n_out, rtol, atol) ||
	    !allclose("din", b->din, want->din, b->n_in, rtol, atol) ||
	    !allclose("dweight", b->dweight, want->dweight, b->n_w, rtol, atol) ||
	    !allclose("dbias", b->dbias, want->dbias, (size_t)g->cout, rtol, atol))
		fail_msg("conv %dx%dx%dx%d -> %d, %dx%d stride %dx%d pad %d,%d,%d,%d", g->n,
			 g->cin, g->h, g->w, g->cout, g->kh, g->kw, g->sh, g->sw, g->pad_left,
			 g->pad_right, g->pad_top, g->pad_bottom);
}

/*
 * conv_forward and conv_backward against the direct loops. Without bias, NULL goes to
 * both paths and dbias stays zero.
 */
static void check_against_naive_bias(const struct conv_geom *g, uint64_t seed, bool bias)
{
	struct conv_bufs b;
	struct conv_result want;
	const float *bs;
	float *dbs;

	bufs_init(&b, g);
	bufs_randomize(&b, seed);
	bs = bias ? b.bias : NULL;
	dbs = bias ? b.dbias : NULL;
	conv_forward_naive(b.out, b.in, b.weight, bs, g);
	conv_backward_naive(b.din, b.dweight, dbs, b.dout, b.in, b.weight, g);
	want = result_save(&b);
	bufs_zero_grads(&b);
	conv_forward(b.out, b.in, b.weight, bs, g, b.ws);
	conv_backward(b.din, b.dweight, dbs, b.dout, b.in, b.weight, g, b.ws);
	check_close(&b, &want);
	result_free(&want);
	bufs_free(&b);
}

static void check_against_naive(const struct conv_geom *g, uint64_t seed)
{
	check_against_naive_bias(g, seed, true);
}

static void test_fast_matches_naive(void **state)
{
	struct rng r;

	(void)state;
	rng_init(&r, 2024);
	for (int t = 0; t < 100; t++) {
		struct conv_geom g = random_geom(&r);

		check_against_naive(&g, 100 + (uint64_t)t);
	}
}

/*
 * Geometries whose column matrix is split into bands of output rows (see conv.c): the
 * bands share input rows, so col2im adds across band boundaries.
 */
static void test_banded_matches_naive(void **state)
{
	const int p1[4] = {1, 1, 1, 1}, p3[4] = {3, 3, 3, 3}, pa[4] = {0, 2, 1, 0};
	struct conv_geom g;

	(void)state;
	g = conv_geom_make(1, 64, 60, 128, 2, 3, 3, 1, 1, p1);
	assert_true(conv_workspace_floats(&g) < (size_t)64 * 9 * g.ho * g.wo);
	check_against_naive(&g, 1);
	g = conv_geom_make(1, 16, 90, 256, 2, 7, 7, 2, 2, p3);
	assert_true(conv_workspace_floats(&g) < (size_t)16 * 49 * g.ho * g.wo);
	check_against_naive(&g, 2);
	/* One output row per band. */
	g = conv_geom_make(1, 32, 4, 8000, 1, 3, 3, 1, 1, pa);
	assert_int_equal(g.ho, 3);
	assert_int_equal(conv_workspace_floats(&g), (size_t)32 * 9 * g.wo);
	check_against_naive(&g, 3);
}

/*
 * Geometries that take the per-tap GEMMs on the padded image (conv_uses_shifts): every
 * padding of the networks, none, wider and taller kernels than 2x2 with asymmetric
 * padding (kh != kw, so that row and column shifts cannot be swapped), one-column and
 * one-row kernels (no spare column, or only spare columns), with and without bias; two
 * images, so the weight gradients add across images.
 */
static void test_shifts_match_naive(void **state)
{
	static const int cases[][8] = {
		/* k_h, k_w, pad left, right, top, bottom, cout, bias */
		{2, 2, 1, 1, 1, 1, 5, 0}, {2, 2, 1, 0, 1, 0, 3, 1}, {2, 2, 0, 1, 0, 1, 4, 0},
		{2, 2, 0, 0, 0, 0, 6, 1}, {3, 3, 1, 1, 1, 1, 3, 1}, {3, 3, 2, 1, 0, 2, 2, 0},
		{1, 3, 1, 1, 0, 0, 3, 0}, {3, 2, 1, 0, 2, 1, 3, 1}, {2, 3, 0, 2, 1, 0, 2, 0},
		{3, 2, 0, 0, 0, 0, 2, 1}, {3, 1, 0, 0, 1, 1, 2, 0}, {4, 4, 2, 1, 1, 2, 2, 1},
	};
	struct conv_geom g;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const int *c = cases[i];

		g = conv_geom_make(2, 128, 32, 70, c[6], c[0], c[1], 1, 1, c + 2);
		assert_true(conv_uses_shifts(&g));
		check_against_naive_bias(&g, 300 + i, c[7] != 0);
	}
	/* One output column: each wide row is one real column and kw - 1 spare ones. */
	g = conv_geom_make(1, 128, 700, 3, 2, 3, 3, 1, 1, (const int[4]){0});
	assert_true(conv_uses_shifts(&g) && g.wo == 1);
	check_against_naive(&g, 320);
}

/*
 * n floats that end where an inaccessible page begins, so that any access past their
 * end faults (OpenBLAS's reads and writes are outside the sanitizers' sight).
 */
struct guarded {
	void *map;
	size_t len;
	float *p;
};

static void guarded_alloc(struct guarded *gb, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = (n * sizeof(float) + page - 1) / page * page;

	gb->len = bytes + page;
	gb->map = mmap(NULL, gb->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(gb->map != MAP_FAILED);
	assert_int_equal(mprotect((char *)gb->map + bytes, page, PROT_NONE), 0);
	gb->p = (float *)(void *)((char *)gb->map + bytes) - n;
}

static void guarded_free(struct guarded *gb)
{
	munmap(gb->map, gb->len);
}

/*
 * Unpadded, the per-tap GEMMs read the input and add into din in place, each tap's B
 * (and C) starting up to (kh-1) wp + kw-1 floats into the plane: the last wide row's
 * spare columns must stay out of the GEMMs or the last image's last channel runs past
 * its end. Input and din end at a guard page; results must match the direct loops.
 */
static void check_shifts_stay_inside(const struct conv_geom *g)
{
	struct conv_bufs b;
	struct conv_result want;
	struct guarded in, din;

	assert_true(conv_uses_shifts(g));
	bufs_init(&b, g);
	bufs_randomize(&b, 11);
	guarded_alloc(&in, b.n_in);
	guarded_alloc(&din, b.n_in);
	memcpy(in.p, b.in, b.n_in * sizeof(float));
	memset(din.p, 0, b.n_in * sizeof(float));
	conv_forward_naive(b.out, b.in, b.weight, b.bias, g);
	conv_backward_naive(b.din, b.dweight, b.dbias, b.dout, b.in, b.weight, g);
	want = result_save(&b);
	bufs_zero_grads(&b);
	conv_forward(b.out, in.p, b.weight, b.bias, g, b.ws);
	conv_backward(din.p, b.dweight, b.dbias, b.dout, in.p, b.weight, g, b.ws);
	memcpy(b.din, din.p, b.n_in * sizeof(float));
	guarded_free(&in);
	guarded_free(&din);
	check_close(&b, &want);
	result_free(&want);
	bufs_free(&b);
}

static void test_shifts_stay_inside(void **state)
{
	struct conv_geom g;

	(void)state;
	g = conv_geom_make(2, 128, 32, 70, 3, 3, 2, 1, 1, (const int[4]){0});
	check_shifts_stay_inside(&g);
	g = conv_geom_make(1, 128, 28, 80, 2, 2, 4, 1, 1, (const int[4]){0});
	check_shifts_stay_inside(&g);
}

/* The fixture cases of scripts/ref_conv.py; each has its geometry in conv_<case>_geom. */
static const char *const fixture_cases[] = {
	"odd3x3", "k2pad1010", "k2pad0101", "k2pad2121", "k2pad1111", "k2pad0",
	"k3s2", "k1", "k1s2", "k7s2", "k3x2asym", "wide",
};

/* n, cin, h, w, cout, kh, kw, stride, pad (left, right, top, bottom), has bias. */
static struct conv_geom fixture_geom(const char *name, int *bias)
{
	struct npy_array a;
	char full[96];
	int v[13];

	snprintf(full, sizeof(full), "conv_%s_geom", name);
	fixture_load_shape(full, &a, 1, 13);
	for (int i = 0; i < 13; i++)
		v[i] = (int)a.data[i];
	npy_free(&a);
	*bias = v[12];
	return conv_geom_make(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7], v + 8);
}

enum { F_IN, F_WEIGHT, F_OUT, F_DOUT, F_DIN, F_DWEIGHT, F_BIAS, F_DBIAS, F_COUNT };

static const char *const fixture_tensors[F_COUNT] = {
	"in", "weight", "out", "dout", "din", "dweight", "bias", "dbias",
};

/* Loads the tensors of one fixture case (bias ones only with a bias), shapes from g. */
static void fixture_load_case(struct npy_array t[F_COUNT], const char *name,
			      const struct conv_geom *g, int bias)
{
	const int in[4] = {g->n, g->cin, g->h, g->w}, w[4] = {g->cout, g->cin, g->kh, g->kw};
	const int out[4] = {g->n, g->cout, g->ho, g->wo};
	const int *shape[F_COUNT] = {in, w, out, out, in, w, &g->cout, &g->cout};
	char full[96];

	memset(t, 0, F_COUNT * sizeof(t[0]));
	for (int i = 0; i < (bias ? F_COUNT : F_BIAS); i++) {
		const int *d = shape[i];

		snprintf(full, sizeof(full), "conv_%s_%s", name, fixture_tensors[i]);
		if (i < F_BIAS)
			fixture_load_shape(full, &t[i], 4, d[0], d[1], d[2], d[3]);
		else
			fixture_load_shape(full, &t[i], 1, d[0]);
	}
}

/*
 * The fixtures are float64 results rounded to float32. Inputs are standard normal and
 * weights scaled by 1/sqrt(fan_in), so outputs and gradients are O(1) to O(10) sums of
 * at most ~130 products; float32 summation of those errs by a few 1e-6 at worst, hence
 * rtol 1e-5 plus atol 2e-5 for entries that cancel to near zero.
 */
static void check_fixture(const char *name, int naive)
{
	int has_bias;
	struct conv_geom g = fixture_geom(name, &has_bias);
	struct npy_array t[F_COUNT];
	struct conv_bufs b;
	const double rtol = 1e-5, atol = 2e-5;
	float *dbias;
	char what[96];

	fixture_load_case(t, name, &g, has_bias);
	bufs_init(&b, &g);
	dbias = has_bias ? b.dbias : NULL;
	if (naive) {
		conv_forward_naive(b.out, t[F_IN].data, t[F_WEIGHT].data, t[F_BIAS].data, &g);
		conv_backward_naive(b.din, b.dweight, dbias, t[F_DOUT].data, t[F_IN].data,
				    t[F_WEIGHT].data, &g);
	} else {
		conv_forward(b.out, t[F_IN].data, t[F_WEIGHT].data, t[F_BIAS].data, &g, b.ws);
		conv_backward(b.din, b.dweight, dbias, t[F_DOUT].data, t[F_IN].data,
			      t[F_WEIGHT].data, &g, b.ws);
	}
	snprintf(what, sizeof(what), "%s %s out", name, naive ? "naive" : "gemm");
	assert_allclose(what, b.out, t[F_OUT].data, b.n_out, rtol, atol);
	assert_allclose("din", b.din, t[F_DIN].data, b.n_in, rtol, atol);
	assert_allclose("dweight", b.dweight, t[F_DWEIGHT].data, b.n_w, rtol, atol);
	if (has_bias)
		assert_allclose("dbias", b.dbias, t[F_DBIAS].data, (size_t)g.cout, rtol, atol);
	bufs_free(&b);
	for (int i = 0; i < F_COUNT; i++)
		npy_free(&t[i]);
}

static void test_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fixture_cases) / sizeof(fixture_cases[0]); i++) {
		check_fixture(fixture_cases[i], 0);
		check_fixture(fixture_cases[i], 1);
	}
}

/* sum(gout * conv(in, weight, bias)) in double, straight from the definition. */
static double loss_d(double *const v[4], const struct conv_geom *g)
{
	const double *in = v[0], *weight = v[1], *bias = v[2], *gout = v[3];
	double loss = 0;

	for (int b = 0; b < g->n; b++)
	for (int o = 0; o < g->cout; o++)
	for (int i = 0; i < g->ho; i++)
	for (int j = 0; j < g->wo; j++) {
		double y = bias[o];

		for (int c = 0; c < g->cin; c++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			int yy = i * g->sh - g->pad_top + ki, xx = j * g->sw - g->pad_left + kj;

			if (yy < 0 || yy >= g->h || xx < 0 || xx >= g->w)
				continue;
			y += in[(((size_t)b * g->cin + c) * g->h + yy) * g->w + xx] *
			     weight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj];
		}
		loss += gout[(((size_t)b * g->cout + o) * g->ho + i) * g->wo + j] * y;
	}
	return loss;
}

/* Central differences of loss_d with respect to every element of x = v[k] (n of them). */
static double *numeric_grad(double *x, size_t n, double *const v[4], const struct conv_geom *g)
{
	const double h = 1e-3;
	double *grad = xmalloc(n * sizeof(double));

	for (size_t i = 0; i < n; i++) {
		double keep = x[i], lp, lm;

		x[i] = keep + h;
		lp = loss_d(v, g);
		x[i] = keep - h;
		lm = loss_d(v, g);
		x[i] = keep;
		grad[i] = (lp - lm) / (2 * h);
	}
	return grad;
}

/* The float backward against central differences of the double forward, at 1e-4. */
static void check_gradients(const struct conv_geom *g, uint64_t seed)
{
	static const char *const what[3] = {"din", "dweight", "dbias"};
	struct conv_bufs b;
	double *v[4];

	bufs_init(&b, g);
	bufs_randomize(&b, seed);
	conv_backward(b.din, b.dweight, b.dbias, b.dout, b.in, b.weight, g, b.ws);

	/* in, weight, bias, upstream gradient; the gradients of the first three */
	const float *src[4] = {b.in, b.weight, b.bias, b.dout};
	const float *grad[3] = {b.din, b.dweight, b.dbias};
	const size_t n[4] = {b.n_in, b.n_w, (size_t)g->cout, b.n_out};

	for (int k = 0; k < 4; k++) {
		v[k] = xmalloc(n[k] * sizeof(double));
		for (size_t i = 0; i < n[k]; i++)
			v[k][i] = src[k][i];
	}
	for (int k = 0; k < 3; k++) {
		double *num = numeric_grad(v[k], n[k], v, g);

		assert_allclose_d(what[k], grad[k], num, n[k], 1e-4, 1e-5);
		free(num);
	}
	for (int k = 0; k < 4; k++)
		free(v[k]);
	bufs_free(&b);
}

static void test_gradients_central_differences(void **state)
{
	struct conv_geom g;

	(void)state;
	g = geom(2, 3, 5, 6, 4, 3, 1, 1, 1, 1, 1);
	check_gradients(&g, 11);
	g = geom(1, 3, 6, 5, 4, 2, 1, 1, 0, 1, 0);
	check_gradients(&g, 12);
	g = geom(2, 2, 5, 7, 3, 2, 1, 2, 1, 2, 1);
	check_gradients(&g, 13);
	g = geom(1, 2, 9, 8, 3, 3, 2, 1, 1, 1, 1);
	check_gradients(&g, 14);
	g = geom(1, 2, 9, 9, 2, 7, 2, 3, 3, 3, 3);
	check_gradients(&g, 15);
	g = geom(2, 5, 3, 4, 3, 1, 1, 0, 0, 0, 0);
	check_gradients(&g, 16);
}

/* Backward adds to what the gradients hold; NULL din and dbias skip those. */
static void check_accumulates(const struct conv_geom *g)
{
	struct conv_bufs b;
	struct conv_result once;

	bufs_init(&b, g);
	bufs_randomize(&b, 5);
	conv_backward(b.din, b.dweight, b.dbias, b.dout, b.in, b.weight, g, b.ws);
	once = result_save(&b);
	conv_backward(b.din, b.dweight, b.dbias, b.dout, b.in, b.weight, g, b.ws);
	/* Halving is exact; the second pass adds in blocks, so it may round differently. */
	for (size_t i = 0; i < b.n_in; i++)
		b.din[i] /= 2;
	for (size_t i = 0; i < b.n_w; i++)
		b.dweight[i] /= 2;
	for (int i = 0; i < g->cout; i++)
		b.dbias[i] /= 2;
	assert_allclose("din twice / 2", b.din, once.din, b.n_in, 1e-6, 1e-6);
	assert_allclose("dweight twice / 2", b.dweight, once.dweight, b.n_w, 1e-6, 1e-6);
	assert_allclose("dbias twice / 2", b.dbias, once.dbias, (size_t)g->cout, 1e-6, 1e-6);
	/* The dweight of a call without din and dbias is the same computation. */
	memset(b.dweight, 0, b.n_w * sizeof(float));
	conv_backward(NULL, b.dweight, NULL, b.dout, b.in, b.weight, g, b.ws);
	assert_memory_equal(b.dweight, once.dweight, b.n_w * sizeof(float));
	result_free(&once);
	bufs_free(&b);
}

static void test_backward_accumulates(void **state)
{
	struct conv_geom g;

	(void)state;
	g = geom(2, 4, 7, 6, 5, 3, 1, 1, 1, 1, 1);
	check_accumulates(&g);
	g = geom(2, 6, 5, 5, 3, 1, 1, 0, 0, 0, 0);
	check_accumulates(&g);
	g = geom(1, 3, 8, 9, 4, 2, 2, 0, 1, 0, 1);
	check_accumulates(&g);
	g = geom(2, 128, 30, 70, 4, 2, 1, 1, 1, 1, 1);
	assert_true(conv_uses_shifts(&g));
	check_accumulates(&g);
}

/* Forward and backward at 1 thread and at 2, 3 and 4, compared bit for bit. */
static void check_threads(const struct conv_geom *g)
{
	const int counts[] = TEST_THREAD_COUNTS;
	struct conv_bufs b;
	struct conv_result one;

	bufs_init(&b, g);
	bufs_randomize(&b, 9);
	for (int i = 0; i < TEST_THREAD_COUNT_N; i++) {
		kn_set_threads(counts[i]);
		bufs_zero_grads(&b);
		conv_forward(b.out, b.in, b.weight, b.bias, g, b.ws);
		conv_backward(b.din, b.dweight, b.dbias, b.dout, b.in, b.weight, g, b.ws);
		if (i == 0) {
			one = result_save(&b);
			continue;
		}
		assert_memory_equal(b.out, one.out, b.n_out * sizeof(float));
		assert_memory_equal(b.din, one.din, b.n_in * sizeof(float));
		assert_memory_equal(b.dweight, one.dweight, b.n_w * sizeof(float));
		assert_memory_equal(b.dbias, one.dbias, (size_t)g->cout * sizeof(float));
	}
	result_free(&one);
	bufs_free(&b);
}

/* Sizes whose GEMMs cut into several tiles, k across every OpenBLAS kernel's blocking. */
static void test_threads_bitwise_identical(void **state)
{
	int threads = kn_get_threads();
	struct conv_geom g;

	(void)state;
	g = geom(2, 32, 24, 40, 48, 3, 1, 1, 1, 1, 1);
	check_threads(&g);
	g = geom(1, 64, 20, 30, 96, 2, 1, 1, 0, 1, 0);
	check_threads(&g);
	g = geom(2, 64, 16, 32, 128, 1, 1, 0, 0, 0, 0);
	check_threads(&g);
	g = geom(1, 64, 60, 128, 32, 3, 1, 1, 1, 1, 1);
	assert_true(conv_workspace_floats(&g) < (size_t)64 * 9 * g.ho * g.wo);
	check_threads(&g);
	/* Per-tap GEMMs with k = 300, unpadded and padded. */
	g = geom(2, 300, 33, 65, 40, 2, 1, 0, 0, 0, 0);
	assert_true(conv_uses_shifts(&g));
	check_threads(&g);
	g = geom(1, 128, 32, 64, 96, 2, 1, 0, 1, 0, 1);
	assert_true(conv_uses_shifts(&g));
	check_threads(&g);
	/* A 3x2 kernel, asymmetric padding, k = 300 per GEMM. */
	g = conv_geom_make(2, 300, 30, 70, 24, 3, 2, 1, 1, (const int[4]){1, 0, 2, 1});
	assert_true(conv_uses_shifts(&g));
	check_threads(&g);
	kn_set_threads(threads);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_and_workspace),
		cmocka_unit_test(test_ones_window_counts),
		cmocka_unit_test(test_pointwise_is_matrix_product),
		cmocka_unit_test(test_delta_kernel_shifts),
		cmocka_unit_test(test_fast_matches_naive),
		cmocka_unit_test(test_banded_matches_naive),
		cmocka_unit_test(test_shifts_match_naive),
		cmocka_unit_test(test_shifts_stay_inside),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_gradients_central_differences),
		cmocka_unit_test(test_backward_accumulates),
		cmocka_unit_test(test_threads_bitwise_identical),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
