/*
 * Single-precision matrix multiply, row-major:
 *
 *     C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C[m, n]
 *
 * op(A) is A (m x k, leading dimension lda) or, with trans_a, the transpose of a stored
 * k x m matrix; likewise op(B). gemm() goes through OpenBLAS (its OpenMP build, so BLAS
 * threads and knseg's threads share one pool); gemm_naive() is the plain triple loop,
 * accumulating in double, kept as the reference the fast path is tested against.
 * When beta is 0, C is not read (it may hold NaN).
 */
#ifndef KNSEG_NETS_GEMM_H
#define KNSEG_NETS_GEMM_H

#include <stdbool.h>

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
	  int lda, const float *b, int ldb, float beta, float *c, int ldc);

void gemm_naive(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
		int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Sets the threads used by OpenMP regions and by OpenBLAS (n >= 1). */
void kn_set_threads(int n);

/* The number of threads set (1 without OpenMP). */
int kn_get_threads(void);

#endif
