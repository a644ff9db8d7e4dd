/*
 * Convolution by direct loops from the definition (conv_forward_naive,
 * conv_backward_naive in conv.h): the reference the GEMM paths are tested against. Every
 * sum is taken in double and added once.
 */
#include "nets/conv.h"

#include <stddef.h>

/* The input row (or column) seen by kernel tap t at output index o, or -1 when padded. */
static int conv_src(int o, int t, int stride, int pad, int size)
{
	int s = o * stride - pad + t;

	return s >= 0 && s < size ? s : -1;
}

void conv_forward_naive(float *out, const float *in, const float *weight, const float *bias,
			const struct conv_geom *g)
{
	for (int b = 0; b < g->n; b++)
	for (int o = 0; o < g->cout; o++)
	for (int i = 0; i < g->ho; i++)
	for (int j = 0; j < g->wo; j++) {
		double sum = bias ? bias[o] : 0.0;

		for (int c = 0; c < g->cin; c++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			int y = conv_src(i, ki, g->sh, g->pad_top, g->h);
			int x = conv_src(j, kj, g->sw, g->pad_left, g->w);

			if (y < 0 || x < 0)
				continue;
			sum += (double)in[(((size_t)b * g->cin + c) * g->h + y) * g->w + x] *
			       weight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj];
		}
		out[(((size_t)b * g->cout + o) * g->ho + i) * g->wo + j] = (float)sum;
	}
}

/* The output index whose tap t reads input index s, or -1 when none does. */
static int conv_dst(int s, int t, int stride, int pad, int size_out)
{
	int u = s + pad - t;

	return u >= 0 && u % stride == 0 && u / stride < size_out ? u / stride : -1;
}

/* dweight and dbias: sums over images and output positions. */
static void conv_naive_dweight(float *dweight, float *dbias, const float *dout,
			       const float *in, const struct conv_geom *g)
{
	size_t in_size = (size_t)g->cin * g->h * g->w, npos = (size_t)g->ho * g->wo;

	for (int o = 0; o < g->cout; o++) {
		double sb = 0;

		for (int b = 0; b < g->n; b++)
			for (size_t p = 0; p < npos; p++)
				sb += dout[((size_t)b * g->cout + o) * npos + p];
		if (dbias)
			dbias[o] += (float)sb;
		for (int c = 0; c < g->cin; c++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			double sum = 0;

			for (int b = 0; b < g->n; b++)
			for (int i = 0; i < g->ho; i++)
			for (int j = 0; j < g->wo; j++) {
				int y = conv_src(i, ki, g->sh, g->pad_top, g->h);
				int x = conv_src(j, kj, g->sw, g->pad_left, g->w);

				if (y < 0 || x < 0)
					continue;
				sum += (double)dout[((size_t)b * g->cout + o) * npos +
						    (size_t)i * g->wo + j] *
				       in[b * in_size + ((size_t)c * g->h + y) * g->w + x];
			}
			dweight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj] += (float)sum;
		}
	}
}

/* din: for each input element, the sum over the (o, ki, kj) taps that read it. */
static void conv_naive_din(float *din, const float *dout, const float *weight,
			   const struct conv_geom *g)
{
	for (int b = 0; b < g->n; b++)
	for (int c = 0; c < g->cin; c++)
	for (int y = 0; y < g->h; y++)
	for (int x = 0; x < g->w; x++) {
		double sum = 0;

		for (int o = 0; o < g->cout; o++)
		for (int ki = 0; ki < g->kh; ki++)
		for (int kj = 0; kj < g->kw; kj++) {
			int i = conv_dst(y, ki, g->sh, g->pad_top, g->ho);
			int j = conv_dst(x, kj, g->sw, g->pad_left, g->wo);

			if (i < 0 || j < 0)
				continue;
			sum += (double)dout[(((size_t)b * g->cout + o) * g->ho + i) * g->wo + j] *
			       weight[(((size_t)o * g->cin + c) * g->kh + ki) * g->kw + kj];
		}
		din[(((size_t)b * g->cin + c) * g->h + y) * g->w + x] += (float)sum;
	}
}

/*
 * forward: out[b,o,i,j] = bias[o] + sum_{c,ki,kj} in[b,c,i*sh-pt+ki,j*sw-pl+kj] * w[o,c,ki,kj]
 * Each gradient is the sum over the forward terms that contain it, taken in double and
 * added once.
 */
void conv_backward_naive(float *din, float *dweight, float *dbias, const float *dout,
			 const float *in, const float *weight, const struct conv_geom *g)
{
	conv_naive_dweight(dweight, dbias, dout, in, g);
	if (din)
		conv_naive_din(din, dout, weight, g);
}
