/*
 * OpenBLAS sgemm throughput through nets/gemm.h, the ceiling that knseg's convolutions
 * (im2col + GEMM) can reach at a given thread count.
 *
 *     build/release/tests/bench_sgemm [--threads N] [--reps N] [--json]
 *
 * Times C = A B (row-major, no transposes, beta 0) for a square shape and for one shaped
 * like a convolution (M output channels, N pixels, K = input channels x kernel area),
 * reps timed runs each after one warm-up. Prints the best and the median GFLOP/s of each
 * shape; the peak is the best run of the fastest shape. --json prints one line:
 *   {"tool": "sgemm", "threads": N, "gflops": peak, "shapes": [{"m", "n", "k",
 *    "gflops" (best), "median_gflops"}, ...]}
 * scripts/bench.sh runs it beside `knseg bench` to put training GFLOP/s in proportion.
 */
#include "io/alloc.h"
#include "io/clock.h"
#include "nets/gemm.h"
#include "io/rng.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 100
#define NSHAPES 2

struct shape {
	int m, n, k;
	double best_gflops, median_gflops;
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

/* Times reps products of one shape after a warm-up and fills its GFLOP/s figures. */
static void measure(struct shape *s, int reps)
{
	float *a = random_floats((size_t)s->m * s->k, 1);
	float *b = random_floats((size_t)s->k * s->n, 2);
	float *c = xmalloc_aligned((size_t)s->m * s->n * sizeof(float));
	double gflop = 2e-9 * s->m * s->n * s->k, t[MAX_REPS];

	gemm(false, false, s->m, s->n, s->k, 1, a, s->k, b, s->n, 0, c, s->n);
	for (int r = 0; r < reps; r++) {
		double t0 = kn_seconds();

		gemm(false, false, s->m, s->n, s->k, 1, a, s->k, b, s->n, 0, c, s->n);
		t[r] = kn_seconds() - t0;
	}
	qsort(t, (size_t)reps, sizeof(double), cmp_double);
	s->best_gflops = gflop / t[0];
	s->median_gflops = gflop / (reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]));
	free(a);
	free(b);
	free(c);
}

static void print_json(const struct shape *s, int threads, double peak)
{
	printf("{\"tool\": \"sgemm\", \"threads\": %d, \"gflops\": %.2f, \"shapes\": [", threads,
	       peak);
	for (int i = 0; i < NSHAPES; i++)
		printf("%s{\"m\": %d, \"n\": %d, \"k\": %d, \"gflops\": %.2f, \"median_gflops\": %.2f}",
		       i ? ", " : "", s[i].m, s[i].n, s[i].k, s[i].best_gflops, s[i].median_gflops);
	printf("]}\n");
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--threads N] [--reps N] [--json]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	/* 2048^3, and one image of tests/bench_conv's default shape, the heaviest convolution
	 * of KNResNet (256 outputs, 64x128 pixels, 256 inputs x 2x2 taps). */
	struct shape s[NSHAPES] = {{2048, 2048, 2048, 0, 0}, {256, 8192, 1024, 0, 0}};
	int threads = 2, reps = 10;
	bool json = false;
	double peak = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else
			return usage(argv[0]);
	}
	if (threads < 1 || reps < 1 || reps > MAX_REPS) {
		fprintf(stderr, "threads must be at least 1 and reps 1..%d\n", MAX_REPS);
		return 2;
	}
	kn_set_threads(threads);
	for (int i = 0; i < NSHAPES; i++) {
		measure(&s[i], reps);
		if (s[i].best_gflops > peak)
			peak = s[i].best_gflops;
	}
	if (json) {
		print_json(s, threads, peak);
		return 0;
	}
	printf("# sgemm through nets/gemm.h, %d thread%s, best and median of %d after a warm-up\n",
	       threads, threads == 1 ? "" : "s", reps);
	printf("# %6s %6s %6s %10s %10s\n", "m", "n", "k", "best", "median");
	for (int i = 0; i < NSHAPES; i++)
		printf("  %6d %6d %6d %10.1f %10.1f\n", s[i].m, s[i].n, s[i].k, s[i].best_gflops,
		       s[i].median_gflops);
	printf("peak %.1f GFLOP/s\n", peak);
	return 0;
}
