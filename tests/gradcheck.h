/*
 * Helpers of the layer tests (header only, so that only the programs that include it
 * carry it): float and double copies, central-difference gradients in double, and the
 * tolerances they are compared with.
 *
 * A gradient check evaluates a double-precision reference forward of the layer, written
 * in the test from the definition, at x +- h e_i, and compares the central difference
 * with the float backward under test. The references of these layers are piecewise
 * linear or smooth, so in double the difference is accurate to ~1e-9 relative; the
 * float backward is accurate to ~1e-6 relative, hence GRADCHECK_RTOL.
 */
#ifndef KNSEG_TESTS_GRADCHECK_H
#define KNSEG_TESTS_GRADCHECK_H

#include "io/alloc.h"

#include <stddef.h>
#include <string.h>

#define GRADCHECK_RTOL 1e-4

/* A fresh double copy of x (n floats); free(). */
static inline double *gradcheck_to_double(const float *x, size_t n)
{
	double *y = xmalloc(n * sizeof(double) + 1);

	for (size_t i = 0; i < n; i++)
		y[i] = x[i];
	return y;
}

/* A fresh copy of x (n floats); free(). */
static inline float *gradcheck_copy(const float *x, size_t n)
{
	float *y = xmalloc(n * sizeof(float) + 1);

	memcpy(y, x, n * sizeof(float));
	return y;
}

/*
 * grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h) for every i of the n elements of x,
 * which is restored afterwards. f is a scalar function of x (the test's double forward
 * contracted with an upstream gradient).
 */
static inline void gradcheck_numeric(double *grad, double *x, size_t n, double h,
				     double (*f)(const double *x, void *ctx), void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		double keep = x[i], up, down;

		x[i] = keep + h;
		up = f(x, ctx);
		x[i] = keep - h;
		down = f(x, ctx);
		x[i] = keep;
		grad[i] = (up - down) / (2 * h);
	}
}

/* sum_i a[i] * b[i] in double. */
static inline double gradcheck_dot(const double *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

#endif
