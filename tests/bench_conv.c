/*
 * Benchmark of nets/conv.c on the heaviest KNResNet convolution shape, beside a plain
 * sgemm of the same sizes (the ceiling im2col + GEMM can reach).
 *
 *     build/release/tests/bench_conv [reps] [threads] [n cin h w cout k pad]
 *
 * Default: 2x256x64x128 input, 2x2 kernel, pad (1,1,1,1), 256 outputs, 2 threads.
 * Prints one line per measurement, "name median_ms gflops", medians over reps runs
 * after one warm-up. scripts/bench_conv.py runs this beside PyTorch.
 */
#include "io/alloc.h"
#include "io/clock.h"
#include "nets/conv.h"
#include "nets/gemm.h"
#include "nets/conv_internal.h"
#include "io/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 100

struct bench {
	struct conv_geom g;
	float *in, *weight, *bias, *out, *dout, *din, *dweight, *dbias, *ws;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static float *random_floats(size_t n, uint64_t seed)
{
	struct rng r;
	float *x = xmalloc_aligned(n * sizeof(float));

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = rng_uniform(&r) - 0.5f;
	return x;
}

/* Runs one kernel of the benchmark: 0 forward, 1 backward, 2 im2col, 3-5 plain GEMMs. */
static void run(struct bench *b, int what)
{
	const struct conv_geom *g = &b->g;
	int k = g->cin * g->kh * g->kw, npos = g->ho * g->wo;

	for (int i = 0; i < (what >= 2 ? g->n : 1); i++) {
		switch (what) {
		case 0:
			conv_forward(b->out, b->in, b->weight, b->bias, g, b->ws);
			break;
		case 1:
			conv_backward(b->din, b->dweight, b->dbias, b->dout, b->in, b->weight, g,
				      b->ws);
			break;
		case 2:
			im2col(b->ws, b->in, g, 0, g->ho);
			break;
		case 3: /* the forward GEMM */
			gemm(false, false, g->cout, npos, k, 1, b->weight, k, b->ws, npos, 0,
			     b->out, npos);
			break;
		case 4: /* the dweight GEMM */
			gemm(false, true, g->cout, k, npos, 1, b->dout, npos, b->ws, npos, 1,
			     b->dweight, k);
			break;
		default: /* the dcol GEMM */
			gemm(true, false, k, npos, g->cout, 1, b->weight, k, b->dout, npos, 0,
			     b->ws, npos);
			break;
		}
	}
}

static void measure(struct bench *b, int what, const char *name, double gflop, int reps)
{
	double ms[MAX_REPS];

	run(b, what);
	for (int r = 0; r < reps; r++) {
		double t0 = 1e3 * kn_seconds();

		run(b, what);
		ms[r] = 1e3 * kn_seconds() - t0;
	}
	qsort(ms, (size_t)reps, sizeof(double), cmp_double);
	printf("%-16s %9.2f %8.1f\n", name, ms[reps / 2], gflop / (ms[reps / 2] * 1e-3));
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 10, threads = argc > 2 ? atoi(argv[2]) : 2;
	int s[7] = {2, 256, 64, 128, 256, 2, 1};
	struct bench b;

	if (argc != 3 && argc != 10 && argc > 1) {
		fprintf(stderr, "usage: %s [reps] [threads] [n cin h w cout k pad]\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 7 && argc == 10; i++)
		s[i] = atoi(argv[3 + i]);
	if (reps < 1 || reps > MAX_REPS || threads < 1) {
		fprintf(stderr, "reps must be 1..%d and threads at least 1\n", MAX_REPS);
		return 2;
	}
	kn_set_threads(threads);
	b.g = conv_geom_make(s[0], s[1], s[2], s[3], s[4], s[5], s[5], 1, 1,
			     (const int[4]){s[6], s[6], s[6], s[6]});

	const struct conv_geom *g = &b.g;
	size_t n_in = (size_t)g->n * g->cin * g->h * g->w;
	size_t n_out = (size_t)g->n * g->cout * g->ho * g->wo;
	size_t n_w = (size_t)g->cout * g->cin * g->kh * g->kw;
	size_t n_col = (size_t)g->cin * g->kh * g->kw * g->ho * g->wo;
	double gflop = 2.0 * g->n * g->cout * g->ho * g->wo * g->cin * g->kh * g->kw * 1e-9;

	b.in = random_floats(n_in, 1);
	b.weight = random_floats(n_w, 2);
	b.bias = random_floats((size_t)g->cout, 3);
	b.dout = random_floats(n_out, 4);
	b.out = xcalloc(n_out, sizeof(float));
	b.din = xcalloc(n_in, sizeof(float));
	b.dweight = xcalloc(n_w, sizeof(float));
	b.dbias = xcalloc((size_t)g->cout, sizeof(float));
	b.ws = random_floats(n_col, 5);
	printf("# conv %dx%dx%dx%d -> %d, %dx%d pad %d, %d threads, %.2f GFLOP per pass\n",
	       g->n, g->cin, g->h, g->w, g->cout, g->kh, g->kw, s[6], threads, gflop);
	printf("# name            median_ms   gflops\n");
	measure(&b, 0, "conv_forward", gflop, reps);
	measure(&b, 1, "conv_backward", 2 * gflop, reps);
	measure(&b, 2, "im2col", 0, reps);
	measure(&b, 3, "sgemm_forward", gflop, reps);
	measure(&b, 4, "sgemm_dweight", gflop, reps);
	measure(&b, 5, "sgemm_dcol", gflop, reps);
	free(b.in);
	free(b.weight);
	free(b.bias);
	free(b.dout);
	free(b.out);
	free(b.din);
	free(b.dweight);
	free(b.dbias);
	free(b.ws);
	return 0;
}
