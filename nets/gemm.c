/* GEMM through OpenBLAS in fixed tiles, and the naive reference. See gemm.h. */
#include "nets/gemm.h"
#include "io/error.h"

#include <cblas.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/*
 * Why tiles. OpenBLAS's own threaded driver splits C between its threads by the thread
 * count, and the products of one element of C are not summed in the same order in
 * every part: its kernels handle the edges of a block (rows or columns left over from
 * the unrolling) on other paths, and its drivers block the inner dimension k
 * differently with one and with several threads. Measured with OpenBLAS 0.3.21 on
 * 64 x 4096 x k products: with the Haswell and Zen kernels, k = 16 differs in 37374
 * elements between 1 and 2 threads; Prescott, Core2 and Nehalem differ between 1 and
 * 3 threads from k = 16, Sandybridge between 1 and 2 from k = 400, SkylakeX from 464,
 * Cooperlake from 336.
 *
 * So OpenBLAS never threads a call here. gemm() cuts C into tiles whose sizes depend
 * on m, n and k alone, and each tile is one single-threaded OpenBLAS call (OpenBLAS's
 * OpenMP build runs single-threaded inside an active parallel region, and a
 * one-thread team is single-threaded anyway); the tiles are shared among knseg's
 * threads. A tile's result depends only on its own shape and the kernel, hence the
 * same bits at any thread count. Every call, even of one tile, goes through the
 * parallel region, so that OpenBLAS never sees an idle team and threads by itself.
 *
 * Tile sizes: at most GEMM_TILES tiles (8: even shares for 1, 2, 4 and 8 threads, 8/9
 * of the work for 3), none with less than GEMM_TILE_MIN_WORK multiply-adds or narrower
 * than GEMM_TILE_MIN_N columns or GEMM_TILE_MIN_M rows, so each call stays wide enough
 * for OpenBLAS's kernels. The larger of m and n is cut first: a tile packs its share
 * of A for each cut of n and of B for each cut of m, so cutting the larger side
 * repacks the smaller operand.
 */
#define GEMM_TILES 8
#define GEMM_TILE_MIN_WORK ((double)(1 << 21))
#define GEMM_TILE_MIN_M 32
#define GEMM_TILE_MIN_N 128
/* Tile sides are multiples of this (all kernels' unrolling divides it). */
#define GEMM_TILE_ALIGN 16

struct gemm_tiling {
	int tm, tn; /* tile rows and columns */
	int mt, nt; /* tiles down and across */
};

static int ceil_div(int a, int b)
{
	return (a + b - 1) / b;
}

/* Cuts len into at most want pieces of at least min, multiples of GEMM_TILE_ALIGN. */
static int tile_side(int len, int want, int min, int *count)
{
	int pieces = len / min, side;

	if (pieces > want)
		pieces = want;
	if (pieces < 1)
		pieces = 1;
	side = ceil_div(ceil_div(len, pieces), GEMM_TILE_ALIGN) * GEMM_TILE_ALIGN;
	if (side > len)
		side = len;
	*count = ceil_div(len, side);
	return side;
}

static struct gemm_tiling gemm_tiling(int m, int n, int k)
{
	struct gemm_tiling t;
	double work = (double)m * n * (k > 0 ? k : 1);
	int want = work / GEMM_TILE_MIN_WORK < GEMM_TILES ? (int)(work / GEMM_TILE_MIN_WORK)
							  : GEMM_TILES;

	if (want < 1)
		want = 1;
	if (n >= m) {
		t.tn = tile_side(n, want, GEMM_TILE_MIN_N, &t.nt);
		t.tm = tile_side(m, ceil_div(want, t.nt), GEMM_TILE_MIN_M, &t.mt);
	} else {
		t.tm = tile_side(m, want, GEMM_TILE_MIN_M, &t.mt);
		t.tn = tile_side(n, ceil_div(want, t.mt), GEMM_TILE_MIN_N, &t.nt);
	}
	return t;
}

/*
 * OpenBLAS's OpenMP build takes its thread count from OpenMP and runs single-threaded
 * inside knseg's parallel regions. Its pthreads build would start threads of its own in
 * every tile, and without OpenMP in knseg nothing shares the tiles: both are held to one
 * OpenBLAS thread.
 */
static void gemm_hold_openblas_threads(void)
{
#ifdef _OPENMP
	if (openblas_get_parallel() == 2)
		return;
#endif
	if (openblas_get_num_threads() != 1)
		openblas_set_num_threads(1);
}

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
	  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	CHECK(m >= 0 && n >= 0 && k >= 0);
	if (m == 0 || n == 0)
		return;
	gemm_hold_openblas_threads();
	struct gemm_tiling t = gemm_tiling(m, n, k);
	int tiles = t.mt * t.nt;

#pragma omp parallel for schedule(dynamic, 1)
	for (int i = 0; i < tiles; i++) {
		int i0 = i / t.nt * t.tm, j0 = i % t.nt * t.tn;
		int tm = m - i0 < t.tm ? m - i0 : t.tm, tn = n - j0 < t.tn ? n - j0 : t.tn;
		/* Row i0 of op(A), column j0 of op(B). */
		const float *ai = trans_a ? a + i0 : a + (size_t)i0 * lda;
		const float *bj = trans_b ? b + (size_t)j0 * ldb : b + j0;

		cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
			    trans_b ? CblasTrans : CblasNoTrans, tm, tn, k, alpha, ai, lda, bj,
			    ldb, beta, c + (size_t)i0 * ldc + j0, ldc);
	}
}

void gemm_naive(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
		int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < n; j++) {
			double sum = 0;

			for (int p = 0; p < k; p++) {
				float av = trans_a ? a[(long)p * lda + i] : a[(long)i * lda + p];
				float bv = trans_b ? b[(long)j * ldb + p] : b[(long)p * ldb + j];

				sum += (double)av * bv;
			}
			c[(long)i * ldc + j] = (float)(alpha * sum +
						       (beta == 0 ? 0 : (double)beta * c[(long)i * ldc + j]));
		}
	}
}

/* OpenMP's threads are knseg's and share gemm()'s tiles (see gemm_hold_openblas_threads). */
void kn_set_threads(int n)
{
	CHECK(n >= 1);
#ifdef _OPENMP
	omp_set_num_threads(n);
#endif
	gemm_hold_openblas_threads();
}

int kn_get_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}
