/*
 * Tiled inference (KNSEG_TILE, see knseg.h): overlapping tiles through one network built
 * for the tile, their probabilities blended in a band of tile_h rows.
 *
 * Layout: the band acc holds (K, th, w) weighted probabilities and wsum (th, w) the
 * summed weights; band row 0 is image row band_y. Tile rows start at increasing y0, so
 * when a tile row starts at y0 > band_y the rows band_y..y0-1 receive nothing more:
 * they are finished (divided by the weight, written to labels and probs) and the band
 * is shifted up by y0 - band_y rows, which is at most the step tile_h - overlap. The
 * pixels come from the whole image or, for knseg_segment_rows, from a band of tile_h
 * input rows that moves down with the tiles.
 */
#include "app/knseg.h"
#include "app/knseg_internal.h"
#include "io/alloc.h"
#include "io/error.h"
#include "nets/model.h"

#include <stdlib.h>
#include <string.h>

struct tiler {
	int k, w, h;       /* classes, image size */
	int th, tw;        /* tile, cut to the image */
	int ovy, ovx;      /* overlap, cut to the tile - 1 */
	float *acc, *wsum; /* the band: (k, th, w), (th, w) */
	float *in, *lg, *pr; /* one tile: (3, th, tw), (k, th, tw), (k, th, tw) */
	float *ry, *rx;    /* a tile's weight along y (th) and x (tw) */
	/* The pixels: the whole image rgb (h, w, 3), or rows from read into band (th, w,
	 * 3), whose row 0 is image row in_y and which holds rows up to in_end - 1. */
	const uint8_t *rgb;
	knseg_read_rows_fn read;
	void *ctx;
	uint8_t *band;
	int in_y, in_end;
};

/* Image row y (w RGB triples), y within the rows the band holds. */
static const uint8_t *src_row(const struct tiler *t, int y)
{
	if (t->rgb)
		return t->rgb + (size_t)y * t->w * 3;
	return t->band + (size_t)(y - t->in_y) * t->w * 3;
}

/* Makes the input band hold rows y0..y0+th-1, reading the rows not yet read. */
static int fill_band(struct tiler *t, int y0)
{
	size_t row = (size_t)t->w * 3;
	int keep = t->in_end - y0, err;

	if (t->rgb)
		return 0;
	if (keep > 0 && y0 > t->in_y)
		memmove(t->band, t->band + (size_t)(y0 - t->in_y) * row, (size_t)keep * row);
	keep = keep > 0 ? keep : 0;
	t->in_y = y0;
	err = t->read(t->ctx, t->band + (size_t)keep * row, t->th - keep);
	if (!err)
		t->in_end = y0 + t->th;
	return err;
}

/* As window_start in knseg.c: tiles every stride, the last flush with the end. */
static int tile_start(int index, int stride, int tile, int side)
{
	int end = index * stride + tile < side ? index * stride + tile : side;

	return end - tile > 0 ? end - tile : 0;
}

/*
 * The weight along one side of a tile of n pixels starting at t0 in an image of side
 * pixels: 1, falling linearly over ov pixels toward a border that is not the image's.
 */
static void ramp(float *r, int n, int t0, int side, int ov)
{
	for (int i = 0; i < n; i++) {
		float v = 1.0f;

		if (t0 > 0 && i < ov)
			v = (i + 0.5f) / (float)ov;
		if (t0 + n < side && n - i <= ov) {
			float u = (n - i - 0.5f) / (float)ov;

			v = u < v ? u : v;
		}
		r[i] = v;
	}
}

/* Normalizes the tile (y0, x0) of the image into t->in (3, th, tw). */
static void crop_tile(struct tiler *t, int y0, int x0, const float *mean, const float *std)
{
#pragma omp parallel for schedule(static)
	for (int y = 0; y < t->th; y++)
		for (int c = 0; c < 3; c++) {
			const uint8_t *src = src_row(t, y0 + y) + (size_t)x0 * 3 + c;
			float *dst = t->in + ((size_t)c * t->th + y) * t->tw;

			for (int x = 0; x < t->tw; x++)
				dst[x] = (src[3 * x] / 255.0f - mean[c]) / std[c];
		}
}

/* Adds the weighted probabilities of the tile at column x0 into the band's rows 0..th-1. */
static void add_tile(struct tiler *t, int x0)
{
#pragma omp parallel for schedule(static)
	for (int y = 0; y < t->th; y++) {
		float *ws = t->wsum + (size_t)y * t->w + x0;

		for (int x = 0; x < t->tw; x++)
			ws[x] += t->ry[y] * t->rx[x];
		for (int c = 0; c < t->k; c++) {
			const float *p = t->pr + ((size_t)c * t->th + y) * t->tw;
			float *a = t->acc + ((size_t)c * t->th + y) * t->w + x0;

			for (int x = 0; x < t->tw; x++)
				a[x] += p[x] * (t->ry[y] * t->rx[x]);
		}
	}
}

/*
 * Finishes the band's first n rows as image rows band_y.., into labels (h, w) and probs
 * (k, h, w) (either may be NULL), then moves the band up by n rows.
 */
static void finish_rows(struct tiler *t, int band_y, int n, uint8_t *labels, float *probs)
{
	size_t plane = (size_t)t->th * t->w, hw = (size_t)t->h * t->w;

#pragma omp parallel for schedule(static)
	for (int y = 0; y < n; y++)
		for (int x = 0; x < t->w; x++) {
			size_t i = (size_t)y * t->w + x, o = (size_t)(band_y + y) * t->w + x;
			float best = t->acc[i], inv = 1.0f / t->wsum[i];
			int at = 0;

			for (int c = 1; c < t->k; c++)
				if (t->acc[c * plane + i] > best) {
					best = t->acc[c * plane + i];
					at = c;
				}
			if (labels)
				labels[o] = (uint8_t)at;
			for (int c = 0; probs && c < t->k; c++)
				probs[c * hw + o] = t->acc[c * plane + i] * inv;
		}
	for (int c = 0; c <= t->k; c++) {
		float *p = c < t->k ? t->acc + c * plane : t->wsum;

		memmove(p, p + (size_t)n * t->w, (plane - (size_t)n * t->w) * sizeof(float));
		memset(p + plane - (size_t)n * t->w, 0, (size_t)n * t->w * sizeof(float));
	}
}

static int tiler_alloc(struct tiler *t)
{
	size_t band = (size_t)t->th * t->w, tile = (size_t)t->th * t->tw;

	t->acc = kn_try_malloc((size_t)(t->k + 1) * band, sizeof(float), "the band");
	t->in = t->acc ? kn_try_malloc((size_t)(3 + 2 * t->k) * tile, sizeof(float), "a tile")
		       : NULL;
	t->ry = t->in ? kn_try_malloc((size_t)t->th + t->tw, sizeof(float), "the tile weights")
		      : NULL;
	if (t->ry && !t->rgb)
		t->band = kn_try_malloc(band, 3, "the input rows");
	if (!t->ry || (!t->rgb && !t->band))
		return KN_ENOMEM;
	memset(t->acc, 0, (size_t)(t->k + 1) * band * sizeof(float));
	t->wsum = t->acc + (size_t)t->k * band;
	t->lg = t->in + 3 * tile;
	t->pr = t->lg + (size_t)t->k * tile;
	t->rx = t->ry + t->th;
	return 0;
}

static int check_tile_args(const struct knseg_options *o)
{
	if (o->tile_w < 1 || o->tile_h < 1 || o->overlap < 0)
		return kn_error(KN_EINVAL, "tile %dx%d with overlap %d", o->tile_w, o->tile_h,
				o->overlap);
	if (o->flip || o->nscales > 1 || (o->nscales == 1 && o->scales[0] != 1.0f))
		return kn_error(KN_EINVAL, "tiled inference takes one scale (1) and no flip");
	return 0;
}

int knseg_segment_tiled(struct knseg *ks, const uint8_t *rgb, knseg_read_rows_fn read,
			void *ctx, int w, int h, const struct knseg_options *o, uint8_t *labels,
			float *probs)
{
	struct tiler t = {.k = knseg_num_classes(ks), .w = w, .h = h, .rgb = rgb, .read = read,
			  .ctx = ctx};
	const float *mean, *std;
	struct model *m;
	int err = check_tile_args(o), ny, nx, sy, sx, band_y = 0;

	if (err)
		return err;
	t.th = o->tile_h < h ? o->tile_h : h;
	t.tw = o->tile_w < w ? o->tile_w : w;
	t.ovy = o->overlap < t.th ? o->overlap : t.th - 1;
	t.ovx = o->overlap < t.tw ? o->overlap : t.tw - 1;
	sy = t.th - t.ovy;
	sx = t.tw - t.ovx;
	ny = h > t.th ? (h - t.th + sy - 1) / sy + 1 : 1;
	nx = w > t.tw ? (w - t.tw + sx - 1) / sx + 1 : 1;
	knseg_norm(ks, &mean, &std);
	err = tiler_alloc(&t);
	if (!err)
		err = knseg_model_for(ks, model_padded_side(t.th), model_padded_side(t.tw), &m);
	if (!err)
		knseg_set_tile_bytes(ks, ((size_t)(t.k + 1) * t.th * w +
					  (size_t)(3 + 2 * t.k) * t.th * t.tw +
					  (size_t)t.th + t.tw) * sizeof(float) +
						 (rgb ? 0 : (size_t)t.th * w * 3) +
						 model_memory_bytes(m));
	for (int iy = 0; iy < ny && !err; iy++) {
		int y0 = tile_start(iy, sy, t.th, h);

		if (y0 > band_y)
			finish_rows(&t, band_y, y0 - band_y, labels, probs);
		band_y = y0;
		if ((err = fill_band(&t, y0)))
			break;
		ramp(t.ry, t.th, y0, h, t.ovy);
		for (int ix = 0; ix < nx && !err; ix++) {
			int x0 = tile_start(ix, sx, t.tw, w);

			ramp(t.rx, t.tw, x0, w, t.ovx);
			crop_tile(&t, y0, x0, mean, std);
			err = knseg_run_pass(ks, t.in, t.th, t.tw, t.lg);
			if (!err) {
				memset(t.pr, 0, (size_t)t.k * t.th * t.tw * sizeof(float));
				knseg_add_softmax(t.pr, t.lg, t.k, (size_t)t.th * t.tw);
				add_tile(&t, x0);
			}
		}
	}
	if (!err)
		finish_rows(&t, band_y, h - band_y, labels, probs);
	else
		kn_error_prefix(err, "image of %d x %d in tiles of %d x %d", w, h, t.tw, t.th);
	free(t.band);
	free(t.ry);
	free(t.in);
	free(t.acc);
	return err;
}
