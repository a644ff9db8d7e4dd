/*
 * Tests of nets/gemm.c: the tiled OpenBLAS product against the double reference for
 * every transpose and for alpha, beta and leading dimensions, C not read when beta is
 * 0, every element of C written once, and the same bits at any thread count for shapes
 * that cut into many tiles, uneven edges and inner dimensions around every OpenBLAS
 * kernel's blocking of k.
 *
 * scripts/test_kernels.sh runs this program (and the rest of the suite) under every
 * OpenBLAS kernel the CPU can run.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "nets/gemm.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct product {
	bool ta, tb;
	int m, n, k, lda, ldb, ldc;
	float *a, *b, *c;
};

/* Random operands for C (m, n) = op(A) op(B), stored with pad extra columns. */
static struct product product_make(bool ta, bool tb, int m, int n, int k, int pad,
				   uint64_t seed)
{
	struct product p = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k};
	int arows = ta ? k : m, brows = tb ? n : k;

	p.lda = (ta ? m : k) + pad;
	p.ldb = (tb ? k : n) + pad;
	p.ldc = n + pad;
	p.a = xmalloc((size_t)arows * p.lda * sizeof(float) + 1);
	p.b = xmalloc((size_t)brows * p.ldb * sizeof(float) + 1);
	p.c = xmalloc((size_t)m * p.ldc * sizeof(float));
	fill_uniform(p.a, (size_t)arows * p.lda, -1, 1, seed);
	fill_uniform(p.b, (size_t)brows * p.ldb, -1, 1, seed + 1);
	fill_uniform(p.c, (size_t)m * p.ldc, -1, 1, seed + 2);
	return p;
}

static void product_free(struct product *p)
{
	free(p->a);
	free(p->b);
	free(p->c);
}

static void product_run(struct product *p, float alpha, float beta, float *c)
{
	gemm(p->ta, p->tb, p->m, p->n, p->k, alpha, p->a, p->lda, p->b, p->ldb, beta, c, p->ldc);
}

static void test_small_closed_form(void **state)
{
	/* [1 2 3; 4 5 6] * [1 0; 0 1; 1 1] = [4 5; 10 11] */
	const float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
	const float at[6] = {1, 4, 2, 5, 3, 6}, bt[6] = {1, 0, 1, 0, 1, 1};
	float c[4] = {1, 1, 1, 1};

	(void)state;
	gemm(false, false, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
	assert_true(c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11);
	gemm(true, true, 2, 2, 3, 2.0f, at, 2, bt, 3, 1.0f, c, 2);
	assert_true(c[0] == 12 && c[1] == 15 && c[2] == 30 && c[3] == 33);
	/* k = 0: C = beta C. */
	gemm(false, false, 2, 2, 0, 1.0f, a, 3, b, 2, 0.5f, c, 2);
	assert_true(c[0] == 6 && c[1] == 7.5f && c[2] == 15 && c[3] == 16.5f);
}

/* Every transpose, alpha and beta, leading dimensions wider than the rows. */
static void test_matches_naive(void **state)
{
	const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 4096, 16}, {300, 257, 129},
				 {33, 2100, 600}, {520, 90, 1030}};

	(void)state;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		for (int t = 0; t < 4; t++) {
			int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
			struct product p = product_make(t & 1, t & 2, m, n, k, 3, 10 + s);
			size_t size = (size_t)m * p.ldc;
			float *want = xmalloc(size * sizeof(float));
			char what[64];

			memcpy(want, p.c, size * sizeof(float));
			gemm_naive(p.ta, p.tb, m, n, k, 0.75f, p.a, p.lda, p.b, p.ldb, -0.5f, want,
				   p.ldc);
			product_run(&p, 0.75f, -0.5f, p.c);
			snprintf(what, sizeof(what), "gemm %dx%dx%d ta=%d tb=%d", m, n, k, t & 1,
				 (t & 2) != 0);
			/* Padding columns untouched, products close to the double sums. */
			assert_allclose(what, p.c, want, size, 1e-5, 2e-5 * sqrt(k));
			free(want);
			product_free(&p);
		}
	}
}

/* beta = 0: C is only written (NaN in it does not leak), and every element once. */
static void test_beta_zero_writes_every_element(void **state)
{
	int m = 150, n = 3000, k = 40;
	struct product p = product_make(false, false, m, n, k, 5, 3);

	(void)state;
	for (int i = 0; i < k; i++)
		for (int j = 0; j < n; j++)
			p.b[(size_t)i * p.ldb + j] = 1.0f;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < k; j++)
			p.a[(size_t)i * p.lda + j] = (float)(i % 7 + 1);
	for (size_t i = 0; i < (size_t)m * p.ldc; i++)
		p.c[i] = NAN;
	product_run(&p, 1.0f, 0.0f, p.c);
	for (int i = 0; i < m; i++) {
		for (int j = 0; j < p.ldc; j++) {
			float v = p.c[(size_t)i * p.ldc + j];

			if (j < n)
				assert_true(v == (float)(k * (i % 7 + 1)));
			else
				assert_true(isnan(v));
		}
	}
	product_free(&p);
}

/*
 * The same bits at 1, 2, 3 and 4 threads. The shapes cut into many tiles with uneven
 * edges, in both directions, and k crosses the blocking of every kernel (Q from 128
 * to 768 in OpenBLAS 0.3.21, and tails between Q and 2Q halved).
 */
static void test_threads_bitwise_identical(void **state)
{
	const int shapes[][3] = {{64, 4096, 16}, {64, 4097, 147}, {512, 128, 4608},
				 {1, 20000, 300}, {2000, 1, 700}, {96, 1500, 1100},
				 {260, 3000, 513}, {64, 576, 8191}, {3, 5, 2000}};
	const int counts[] = TEST_THREAD_COUNTS;
	int saved = kn_get_threads();

	(void)state;
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		for (int t = 0; t < 4; t++) {
			int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
			struct product p = product_make(t & 1, t & 2, m, n, k, 1, 40 + s);
			size_t size = (size_t)m * p.ldc * sizeof(float);
			float *first = xmalloc(size), *c = xmalloc(size);

			for (int i = 0; i < TEST_THREAD_COUNT_N; i++) {
				kn_set_threads(counts[i]);
				memcpy(c, p.c, size);
				product_run(&p, 1.0f, t == 3 ? 1.0f : 0.0f, c);
				if (i == 0) {
					memcpy(first, c, size);
				} else if (memcmp(first, c, size) != 0) {
					print_error("%dx%dx%d ta=%d tb=%d: %d threads differ from 1\n",
						    m, n, k, t & 1, (t & 2) != 0, counts[i]);
					fail();
				}
			}
			free(first);
			free(c);
			product_free(&p);
		}
	}
	kn_set_threads(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_closed_form),
		cmocka_unit_test(test_matches_naive),
		cmocka_unit_test(test_beta_zero_writes_every_element),
		cmocka_unit_test(test_threads_bitwise_identical),
	};

	/* scripts/test_kernels.sh reads this line to check which kernel ran. */
	printf("OpenBLAS kernel: %s\n", openblas_get_corename());

	return cmocka_run_group_tests(tests, NULL, NULL);
}
