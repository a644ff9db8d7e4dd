/*
 * ReLU and the residual add. See activation.h.
 *
 * Each element is written by exactly one iteration, so the static OpenMP split gives
 * the same bits for any thread count. Small arrays run on one thread: starting a team
 * costs more than the loop.
 */
#include "nets/activation.h"

#include <string.h>

/* Below this many elements the loops stay on the calling thread. */
#define ELEMENTWISE_PARALLEL_MIN 32768

void relu_forward(float *out, const float *in, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		float x = in[i];

		/* "x < 0" rather than "x > 0" so that NaN passes through. */
		out[i] = x < 0.0f ? 0.0f : x;
	}
}

/* Differentiates out[i] = x < 0 ? 0 : x: the slope is 1 where x > 0, else 0. */
void relu_backward(float *din, const float *dout, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		din[i] += x[i] > 0.0f ? dout[i] : 0.0f;
}

void relu_backward_set(float *din, const float *dout, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		din[i] = x[i] > 0.0f ? dout[i] : 0.0f;
}

void residual_add_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* Differentiates out[i] = a[i] + b[i]. */
void residual_add_backward(float *da, float *db, const float *dout, size_t n)
{
	if (da) {
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
		for (size_t i = 0; i < n; i++)
			da[i] += dout[i];
	}
	if (db) {
#pragma omp parallel for schedule(static) if (n >= ELEMENTWISE_PARALLEL_MIN)
		for (size_t i = 0; i < n; i++)
			db[i] += dout[i];
	}
}

void residual_add_backward_set(float *da, float *db, const float *dout, size_t n)
{
	/* A gradient sharing dout's memory already holds it. */
	if (da && da != dout)
		memcpy(da, dout, n * sizeof(float));
	if (db && db != dout)
		memcpy(db, dout, n * sizeof(float));
}
