/*
 * Bilinear resizing. See upsample.h.
 *
 * The source rows and columns and their weights depend only on the output coordinate.
 * Row weights are computed per output row; column weights for a tile of output columns
 * are computed once per (plane, tile) into small stack arrays and reused for every row,
 * so nothing is allocated and any output width works. OpenMP runs over planes: a plane's
 * output, and in backward its input gradient, is written by one thread only, so the
 * scatter of backward happens in a fixed order whatever the thread count.
 */
#include "nets/upsample.h"

#include "io/error.h"

#include <stddef.h>

/* Output columns whose weights are computed together. */
#define UPSAMPLE_TILE 256

/* The two source indices along one axis and their weights. */
struct upsample_tap {
	int i0, i1;
	float l0, l1;
};

static struct upsample_tap upsample_tap_at(float scale, int dst, int in, int out)
{
	struct upsample_tap t;
	double src;

	if (in == out) {
		t.i0 = t.i1 = dst;
		t.l0 = 1.0f;
		t.l1 = 0.0f;
		return t;
	}
	/* PyTorch: a float scale, the source index in double, clamped at 0. */
	src = (double)scale * (dst + 0.5) - 0.5;
	if (src < 0)
		src = 0;
	t.i0 = (int)src;
	if (t.i0 > in - 1)
		t.i0 = in - 1;
	t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
	t.l1 = (float)(src - t.i0);
	t.l0 = 1.0f - t.l1;
	return t;
}

static void upsample_check(int planes, int h, int w, int ho, int wo)
{
	CHECK(planes >= 1 && h >= 1 && w >= 1 && ho >= 1 && wo >= 1);
}

/* One plane: in (h, w) -> out (ho, wo). */
static void upsample_plane(float *out, const float *in, int h, int w, int ho, int wo)
{
	struct upsample_tap cols[UPSAMPLE_TILE];
	float sy = (float)h / (float)ho, sx = (float)w / (float)wo;

	for (int x0 = 0; x0 < wo; x0 += UPSAMPLE_TILE) {
		int nx = wo - x0 < UPSAMPLE_TILE ? wo - x0 : UPSAMPLE_TILE;

		for (int j = 0; j < nx; j++)
			cols[j] = upsample_tap_at(sx, x0 + j, w, wo);
		for (int y = 0; y < ho; y++) {
			struct upsample_tap r = upsample_tap_at(sy, y, h, ho);
			const float *row0 = in + (size_t)r.i0 * w, *row1 = in + (size_t)r.i1 * w;
			float *o = out + (size_t)y * wo + x0;

			for (int j = 0; j < nx; j++) {
				const struct upsample_tap *c = &cols[j];
				float t0 = c->l0 * row0[c->i0] + c->l1 * row0[c->i1];
				float t1 = c->l0 * row1[c->i0] + c->l1 * row1[c->i1];

				o[j] = r.l0 * t0 + r.l1 * t1;
			}
		}
	}
}

/*
 * out (planes, ho, wo)
 * in  (planes, h, w)
 */
void upsample_bilinear_forward(float *out, const float *in, int planes, int h, int w, int ho,
			       int wo)
{
	size_t in_plane = (size_t)h * w, out_plane = (size_t)ho * wo;

	upsample_check(planes, h, w, ho, wo);
#pragma omp parallel for schedule(static)
	for (int p = 0; p < planes; p++)
		upsample_plane(out + p * out_plane, in + p * in_plane, h, w, ho, wo);
}

/*
 * One plane: din (h, w) += scatter of dout (ho, wo).
 * Differentiates o[j] = r.l0 * (c->l0 * row0[c->i0] + c->l1 * row0[c->i1])
 *                     + r.l1 * (c->l0 * row1[c->i0] + c->l1 * row1[c->i1]).
 */
static void upsample_plane_backward(float *din, const float *dout, int h, int w, int ho,
				    int wo)
{
	struct upsample_tap cols[UPSAMPLE_TILE];
	float sy = (float)h / (float)ho, sx = (float)w / (float)wo;

	for (int x0 = 0; x0 < wo; x0 += UPSAMPLE_TILE) {
		int nx = wo - x0 < UPSAMPLE_TILE ? wo - x0 : UPSAMPLE_TILE;

		for (int j = 0; j < nx; j++)
			cols[j] = upsample_tap_at(sx, x0 + j, w, wo);
		for (int y = 0; y < ho; y++) {
			struct upsample_tap r = upsample_tap_at(sy, y, h, ho);
			float *row0 = din + (size_t)r.i0 * w, *row1 = din + (size_t)r.i1 * w;
			const float *d = dout + (size_t)y * wo + x0;

			for (int j = 0; j < nx; j++) {
				const struct upsample_tap *c = &cols[j];
				float g0 = r.l0 * d[j], g1 = r.l1 * d[j];

				row0[c->i0] += c->l0 * g0;
				row0[c->i1] += c->l1 * g0;
				row1[c->i0] += c->l0 * g1;
				row1[c->i1] += c->l1 * g1;
			}
		}
	}
}

/*
 * din  (planes, h, w)
 * dout (planes, ho, wo)
 */
void upsample_bilinear_backward(float *din, const float *dout, int planes, int h, int w,
				int ho, int wo)
{
	size_t in_plane = (size_t)h * w, out_plane = (size_t)ho * wo;

	upsample_check(planes, h, w, ho, wo);
#pragma omp parallel for schedule(static)
	for (int p = 0; p < planes; p++)
		upsample_plane_backward(din + p * in_plane, dout + p * out_plane, h, w, ho, wo);
}
