/* GEMM through OpenBLAS, and the naive reference. See gemm.h. */
#include "nets/gemm.h"
#include "io/error.h"

#include <cblas.h>

#ifdef _OPENMP
#include <omp.h>
#endif

void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
	  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
	CHECK(m >= 0 && n >= 0 && k >= 0);
	if (m == 0 || n == 0)
		return;
	cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
		    trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
		    ldc);
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

void kn_set_threads(int n)
{
	CHECK(n >= 1);
#ifdef _OPENMP
	omp_set_num_threads(n);
#endif
	openblas_set_num_threads(n);
}

int kn_get_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}
