/*
 * Benchmark of nets/knconv.c in training mode, beside the convolution it contains.
 *
 *     build/release/tests/bench_knconv [reps] [threads] [p]
 *
 * Shape: 2x256x64x128 input, KNConv 2x2 pad (1,1,1,1), 256 outputs, statistics dropout
 * p (default 0.05), 2 threads by default. Prints one line per measurement,
 * "name median_ms", medians over reps rounds after one warm-up; each round runs every
 * kernel once:
 *   knconv_forward   drawing the mask (dropout_mask) and knconv_forward
 *   knconv_backward  knconv_backward (din, dweight, dbias)
 *   dropout_mask     the mask alone
 *   conv_forward, conv_backward  the plain convolution of the same shape, no bias
 *   kn_forward_overhead, kn_backward_overhead  KNConv minus the plain convolution
 * scripts/bench_knconv.py runs this beside the same layer in PyTorch.
 */
#include "io/alloc.h"
#include "io/clock.h"
#include "nets/dropout.h"
#include "nets/gemm.h"
#include "nets/knconv.h"
#include "io/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 100
#define NKERNELS 5

struct bench {
	struct knconv_geom g;
	size_t n_in, n_out, n_w;
	float *in, *weight, *bias, *out, *dout, *din, *dweight, *dbias, *mu, *s, *ws;
	uint8_t *keep;
	struct knorm_cache cache;
	uint64_t step;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static float *random_floats(size_t n, float lo, float hi, uint64_t seed)
{
	struct rng r;
	float *x = xmalloc_aligned(n * sizeof(float));

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = lo + (hi - lo) * rng_uniform(&r);
	return x;
}

static void draw_mask(struct bench *b)
{
	struct rng r;

	/* One stream per (step, layer), as a model seeds it. */
	rng_init_stream(&r, 1, b->step++, 0);
	dropout_mask(b->keep, knconv_mask_count(&b->g), b->g.p, &r);
}

/* 0 KNConv forward (with the mask), 1 KNConv backward, 2 mask, 3-4 plain conv. */
static void run(struct bench *b, int what)
{
	const struct conv_geom *c = &b->g.conv;

	switch (what) {
	case 0:
		draw_mask(b);
		knconv_forward(b->out, &b->cache, b->in, b->weight, b->bias, &b->g, b->ws);
		break;
	case 1:
		knconv_backward(b->din, b->dweight, b->dbias, b->dout, b->out, &b->cache, b->in,
				b->weight, b->bias, &b->g, b->ws);
		break;
	case 2:
		draw_mask(b);
		break;
	case 3:
		conv_forward(b->out, b->in, b->weight, NULL, c, b->ws);
		break;
	default:
		conv_backward(b->din, b->dweight, NULL, b->dout, b->in, b->weight, c, b->ws);
		break;
	}
}

static double median(double *ms, int reps)
{
	qsort(ms, (size_t)reps, sizeof(double), cmp_double);
	return ms[reps / 2];
}

/*
 * Runs every kernel once per round, interleaved, so that the load of the machine hits
 * them alike; the KN overheads are medians of the per-round differences between
 * KNConv and the plain convolution.
 */
static void measure_all(struct bench *b, int reps)
{
	static const char *names[NKERNELS] = {"knconv_forward", "knconv_backward",
					      "dropout_mask", "conv_forward", "conv_backward"};
	double ms[NKERNELS][MAX_REPS], over_f[MAX_REPS], over_b[MAX_REPS];

	for (int k = 0; k < NKERNELS; k++)
		run(b, k);
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < NKERNELS; k++) {
			double t0 = 1e3 * kn_seconds();

			run(b, k);
			ms[k][r] = 1e3 * kn_seconds() - t0;
		}
		over_f[r] = ms[0][r] - ms[3][r];
		over_b[r] = ms[1][r] - ms[4][r];
	}
	for (int k = 0; k < NKERNELS; k++)
		printf("%-20s %9.2f\n", names[k], median(ms[k], reps));
	printf("%-20s %9.2f\n", "kn_forward_overhead", median(over_f, reps));
	printf("%-20s %9.2f\n", "kn_backward_overhead", median(over_b, reps));
}

static void bench_init(struct bench *b, float p)
{
	static const int pad[4] = {1, 1, 1, 1};
	const struct conv_geom *c;

	b->g = knconv_geom_make(2, 256, 64, 128, 256, 2, 2, 1, 1, pad, p);
	c = &b->g.conv;
	b->n_in = (size_t)c->n * c->cin * c->h * c->w;
	b->n_out = (size_t)c->n * c->cout * c->ho * c->wo;
	b->n_w = (size_t)c->cout * c->cin * c->kh * c->kw;
	/* Post-ReLU-like inputs, Kaiming-scaled weights. */
	b->in = random_floats(b->n_in, 0, 1, 1);
	b->weight = random_floats(b->n_w, -0.06f, 0.06f, 2);
	b->bias = random_floats((size_t)c->cout, -0.1f, 0.1f, 3);
	b->dout = random_floats(b->n_out, -1, 1, 4);
	b->out = xcalloc(b->n_out, sizeof(float));
	b->din = xcalloc(b->n_in, sizeof(float));
	b->dweight = xcalloc(b->n_w, sizeof(float));
	b->dbias = xcalloc((size_t)c->cout, sizeof(float));
	b->mu = xcalloc(knconv_unit_count(&b->g), sizeof(float));
	b->s = xcalloc(knconv_unit_count(&b->g), sizeof(float));
	b->ws = xmalloc_aligned(knconv_workspace_floats(&b->g) * sizeof(float));
	b->keep = xmalloc(knconv_mask_count(&b->g));
	b->cache = (struct knorm_cache){.mu = b->mu, .s = b->s, .keep = b->keep, .mode = KNORM_TRAIN};
	b->step = 0;
}

static void bench_free(struct bench *b)
{
	float *f[] = {b->in, b->weight, b->bias, b->dout, b->out, b->din,
		      b->dweight, b->dbias, b->mu, b->s, b->ws};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		free(f[i]);
	free(b->keep);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 10, threads = argc > 2 ? atoi(argv[2]) : 2;
	float p = argc > 3 ? (float)atof(argv[3]) : 0.05f;
	struct bench b;

	if (argc > 4 || reps < 1 || reps > MAX_REPS || threads < 1 || p < 0 || p >= 1) {
		fprintf(stderr, "usage: %s [reps 1..%d] [threads >= 1] [p in [0, 1)]\n", argv[0],
			MAX_REPS);
		return 2;
	}
	kn_set_threads(threads);
	bench_init(&b, p);
	printf("# knconv 2x256x64x128 -> 256, 2x2 pad (1,1,1,1), p %g, %d threads\n", (double)p,
	       threads);
	printf("# name                median_ms\n");
	measure_all(&b, reps);
	bench_free(&b);
	return 0;
}
