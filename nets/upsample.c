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

#include "io/bilinear.h"
#include "io/error.h"

#include <stddef.h>

/* Output columns whose weights are computed together. */
#define UPSAMPLE_TILE 256

/*
 * PyTorch's tap: the scale rounded to float by the callers, the source index in double
 * (bilinear_tap_at; the augmentation keeps its scale in double). Equal sizes read one
 * sample with weight 1 and never its neighbour, so a copy is exact: weight 0 times an
 * infinite neighbour would give NaN.
 */
static struct bilinear_tap upsample_tap_at(float scale, int dst, int in, int out)
{
	struct bilinear_tap t;

	if (in == out) {
		t.i0 = t.i1 = dst;
		t.l0 = 1.0f;
		t.l1 = 0.0f;
		return t;
	}
	return bilinear_tap_at(scale, dst, in);
}

static void upsample_check(int planes, int h, int w, int ho, int wo)
{
	CHECK(planes >= 1 && h >= 1 && w >= 1 && ho >= 1 && wo >= 1);
}

/* One plane: in (h, w) -> out (ho, wo). */
static void upsample_plane(float *out, const float *in, int h, int w, int ho, int wo)
{
	struct bilinear_tap cols[UPSAMPLE_TILE];
	float sy = (float)h / (float)ho, sx = (float)w / (float)wo;

	for (int x0 = 0; x0 < wo; x0 += UPSAMPLE_TILE) {
		int nx = wo - x0 < UPSAMPLE_TILE ? wo - x0 : UPSAMPLE_TILE;

		for (int j = 0; j < nx; j++)
			cols[j] = upsample_tap_at(sx, x0 + j, w, wo);
		for (int y = 0; y < ho; y++) {
			struct bilinear_tap r = upsample_tap_at(sy, y, h, ho);
			const float *row0 = in + (size_t)r.i0 * w, *row1 = in + (size_t)r.i1 * w;
			float *o = out + (size_t)y * wo + x0;

			for (int j = 0; j < nx; j++) {
				const struct bilinear_tap *c = &cols[j];
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
 * The output columns of one tile grouped by the input column they read: for local input
 * column u (input column base + u), first taps i0 == base + u are the output columns
 * [run0[u].lo, run0[u].hi) and second taps [run1[u].lo, run1[u].hi), both contiguous
 * because taps never move left as the output column grows. The input columns a tile
 * spans are at most UPSAMPLE_SPAN (upsample_tile_cols shortens the tile when shrinking).
 */
#define UPSAMPLE_SPAN (2 * UPSAMPLE_TILE)

struct upsample_runs {
	int base, count;
	float l0[UPSAMPLE_TILE], l1[UPSAMPLE_TILE];
	struct {
		int lo, hi;
	} run0[UPSAMPLE_SPAN], run1[UPSAMPLE_SPAN];
};

/*
 * Fills cols for up to UPSAMPLE_TILE output columns from x0 and returns how many were
 * taken: fewer when shrinking strongly, so that they span at most UPSAMPLE_SPAN input
 * columns. One column spans at most two, so at least one is always taken.
 */
static int upsample_tile_cols(struct bilinear_tap *cols, float sx, int x0, int w, int wo)
{
	int nx = wo - x0 < UPSAMPLE_TILE ? wo - x0 : UPSAMPLE_TILE;

	for (int j = 0; j < nx; j++) {
		cols[j] = upsample_tap_at(sx, x0 + j, w, wo);
		if (cols[j].i1 - cols[0].i0 + 1 > UPSAMPLE_SPAN)
			return j;
	}
	return nx;
}

static void upsample_runs_make(struct upsample_runs *r, const struct bilinear_tap *cols,
			       int nx)
{
	r->base = cols[0].i0;
	r->count = cols[nx - 1].i1 - r->base + 1;
	CHECK(r->count <= UPSAMPLE_SPAN);
	for (int u = 0; u < r->count; u++) {
		r->run0[u].lo = r->run0[u].hi = 0;
		r->run1[u].lo = r->run1[u].hi = 0;
	}
	for (int j = nx - 1; j >= 0; j--) {
		int u0 = cols[j].i0 - r->base, u1 = cols[j].i1 - r->base;

		r->l0[j] = cols[j].l0;
		r->l1[j] = cols[j].l1;
		if (r->run0[u0].hi == 0)
			r->run0[u0].hi = j + 1;
		r->run0[u0].lo = j;
		if (r->run1[u1].hi == 0)
			r->run1[u1].hi = j + 1;
		r->run1[u1].lo = j;
	}
}

/*
 * One plane: din (h, w) += the adjoint of upsample_plane applied to dout (ho, wo).
 * Per output row and tile, the adjoint along the row is gathered per input column from
 * its runs (two short dot products, where a scatter would chain every addition through
 * memory), then added to the two input rows the output row reads, with its row weights.
 */
static void upsample_plane_backward(float *din, const float *dout, int h, int w, int ho,
				    int wo)
{
	struct bilinear_tap cols[UPSAMPLE_TILE];
	struct upsample_runs runs;
	float sy = (float)h / (float)ho, sx = (float)w / (float)wo;
	float adj[UPSAMPLE_SPAN];

	for (int x0 = 0, nx; x0 < wo; x0 += nx) {
		nx = upsample_tile_cols(cols, sx, x0, w, wo);
		upsample_runs_make(&runs, cols, nx);
		for (int y = 0; y < ho; y++) {
			struct bilinear_tap r = upsample_tap_at(sy, y, h, ho);
			float *row0 = din + (size_t)r.i0 * w + runs.base;
			float *row1 = din + (size_t)r.i1 * w + runs.base;
			const float *d = dout + (size_t)y * wo + x0;

			for (int u = 0; u < runs.count; u++) {
				float a = 0;

				for (int j = runs.run0[u].lo; j < runs.run0[u].hi; j++)
					a += runs.l0[j] * d[j];
				for (int j = runs.run1[u].lo; j < runs.run1[u].hi; j++)
					a += runs.l1[j] * d[j];
				adj[u] = a;
			}
			for (int u = 0; u < runs.count; u++) {
				row0[u] += r.l0 * adj[u];
				row1[u] += r.l1 * adj[u];
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
