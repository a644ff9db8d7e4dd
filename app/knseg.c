/*
 * The public segmentation API. See knseg.h.
 *
 * A struct knseg holds the checkpoint's parameters once, in an inference model built at a
 * small size, and a few inference models for the padded input sizes seen most recently,
 * all reading those parameters. A pass normalizes the image into (3, h, w) floats, pads
 * it to multiples of 32, runs the network and crops the logits back. Sliding windows
 * average the logits of overlapping windows (as common toolboxes do); each scale and flip
 * gives logits resized to the image size, turned into probabilities, and the
 * probabilities of all passes are averaged; when a single pass is asked for labels only,
 * its largest logit gives the class, with no probabilities at all.
 */
#include "app/knseg.h"
#include "app/knseg_internal.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/safetensors.h"
#include "datasets/cityscapes_labels.h"
#include "nets/checkpoint.h"
#include "nets/gemm.h"
#include "nets/fastexp.h"
#include "nets/model.h"
#include "nets/upsample.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_CACHE 4
#define NAME_MAX_LEN 48

struct cached_model {
	int h, w;
	struct model *m;
};

struct knseg {
	struct checkpoint_meta meta;
	struct safetensors_file file; /* kept for knseg_meta; tensors are not used after open */
	struct model *owner; /* holds the parameters */
	struct cached_model cache[MODEL_CACHE];
	int next_evict;
	enum knorm_mode kn_eval;
	int64_t calls;       /* advances the sampling stream in "sample" mode */
	size_t tile_scratch; /* knseg_tile_bytes */
	int nnames;
	char (*names)[NAME_MAX_LEN];
};

#define KNSEG_STR_(x) #x
#define KNSEG_STR(x) KNSEG_STR_(x)

const char *knseg_version(void)
{
	return KNSEG_STR(KNSEG_VERSION_MAJOR) "." KNSEG_STR(KNSEG_VERSION_MINOR) "." KNSEG_STR(
		KNSEG_VERSION_PATCH);
}

struct knseg_options knseg_default_options(void)
{
	struct knseg_options o;

	memset(&o, 0, sizeof(o));
	o.mode = KNSEG_WHOLE;
	o.crop_w = 1024;
	o.crop_h = 512;
	o.stride_w = 768;
	o.stride_h = 384;
	o.nscales = 1;
	o.scales[0] = 1.0f;
	return o;
}

const char *knseg_errmsg(void)
{
	return kn_errmsg();
}

void knseg_set_threads(int n)
{
	kn_set_threads(n);
}

static void split_names(struct knseg *ks)
{
	const char *p = ks->meta.classes;

	ks->names = xcalloc((size_t)ks->meta.cfg.num_classes, sizeof(*ks->names));
	for (int i = 0; i < ks->meta.cfg.num_classes && *p; i++) {
		size_t n = strcspn(p, ",");

		snprintf(ks->names[i], NAME_MAX_LEN, "%.*s", (int)n, p);
		p += n + (p[n] == ',');
	}
}

int knseg_open(struct knseg **out, const char *checkpoint)
{
	struct knseg *ks = xcalloc(1, sizeof(*ks));
	struct safetensors_file f;
	int err = safetensors_read(checkpoint, &f);

	if (err)
		goto fail;
	err = checkpoint_read_meta(&f, &ks->meta);
	if (!err && !strcmp(ks->meta.kind, "backbone"))
		err = kn_error(KN_EFORMAT, "'%s': a backbone file has no head to segment with",
			       checkpoint);
	if (!err)
		err = model_create(&ks->owner, &ks->meta.cfg, 1, 32, 32, MODEL_EVAL);
	if (!err)
		err = checkpoint_load_params(&f, &ks->owner->g, ks->owner->params, "");
	if (err) {
		safetensors_free(&f);
		goto fail;
	}
	ks->file = f;
	ks->kn_eval = ks->meta.kn_eval;
	split_names(ks);
	*out = ks;
	return 0;
fail:
	if (ks->owner)
		model_destroy(ks->owner);
	free(ks);
	return err;
}

int knseg_wrap(struct knseg **out, const struct checkpoint_meta *meta, const struct model *src)
{
	struct knseg *ks = xcalloc(1, sizeof(*ks));
	int err;

	ks->meta = *meta;
	err = model_create(&ks->owner, &meta->cfg, 1, 32, 32, MODEL_EVAL);
	if (err) {
		free(ks);
		return err;
	}
	model_share_params(ks->owner, src);
	ks->kn_eval = meta->kn_eval;
	split_names(ks);
	*out = ks;
	return 0;
}

const struct checkpoint_meta *knseg_checkpoint_meta(const struct knseg *ks)
{
	return &ks->meta;
}

const float *knseg_params(const struct knseg *ks)
{
	return ks->owner->params;
}

void knseg_close(struct knseg *ks)
{
	if (!ks)
		return;
	for (int i = 0; i < MODEL_CACHE; i++)
		model_destroy(ks->cache[i].m);
	model_destroy(ks->owner);
	safetensors_free(&ks->file);
	free(ks->names);
	free(ks);
}

const char *knseg_meta(const struct knseg *ks, const char *key)
{
	return safetensors_meta_get(&ks->file, key);
}

void knseg_class_color(const struct knseg *ks, int i, uint8_t rgb[3])
{
	const struct cityscapes_label *cl = cityscapes_by_train_id(i);

	if (i < 0 || i >= ks->meta.cfg.num_classes) {
		rgb[0] = rgb[1] = rgb[2] = 0;
	} else if (ks->meta.has_colors) {
		memcpy(rgb, ks->meta.colors[i], 3);
	} else if (ks->meta.cfg.num_classes == CITYSCAPES_NUM_TRAIN && cl) {
		memcpy(rgb, cl->color, 3);
	} else {
		/* Well-spread hues from the golden ratio; bright enough to see on black. */
		double hue = fmod(0.61803398875 * (i + 1), 1.0) * 6;
		int sector = (int)hue;
		double f = hue - sector, v = 230, lo = 60, up = lo + (v - lo) * f,
		       dn = v - (v - lo) * f;
		double tab[6][3] = {{v, up, lo}, {dn, v, lo}, {lo, v, up},
				    {lo, dn, v}, {up, lo, v}, {v, lo, dn}};

		for (int c = 0; c < 3; c++)
			rgb[c] = (uint8_t)tab[sector % 6][c];
	}
}

int knseg_num_classes(const struct knseg *ks)
{
	return ks->meta.cfg.num_classes;
}

const char *knseg_class_name(const struct knseg *ks, int i)
{
	return i >= 0 && i < ks->meta.cfg.num_classes ? ks->names[i] : "";
}

int knseg_set_kn_eval(struct knseg *ks, const char *mode)
{
	enum knorm_mode m;

	if (knorm_mode_parse(mode, &m) < 0)
		return KN_EINVAL;
	ks->kn_eval = m;
	/* The cached models are rebuilt for the new mode when next needed: "sample" needs
	 * masks as large as their activations, which may not be available. */
	for (int i = 0; i < MODEL_CACHE; i++) {
		model_destroy(ks->cache[i].m);
		ks->cache[i].m = NULL;
	}
	return 0;
}

/* The inference model for a padded size, created (evicting the oldest) when new. */
int knseg_model_for(struct knseg *ks, int hp, int wp, struct model **out)
{
	struct cached_model *c;
	int err;

	for (int i = 0; i < MODEL_CACHE; i++)
		if (ks->cache[i].m && ks->cache[i].h == hp && ks->cache[i].w == wp) {
			*out = ks->cache[i].m;
			return 0;
		}
	c = &ks->cache[ks->next_evict];
	ks->next_evict = (ks->next_evict + 1) % MODEL_CACHE;
	model_destroy(c->m);
	c->m = NULL;
	if ((err = model_create(&c->m, &ks->meta.cfg, 1, hp, wp, MODEL_EVAL)) < 0)
		return err;
	model_share_params(c->m, ks->owner);
	if ((err = model_set_kn_eval(c->m, ks->kn_eval)) < 0) {
		model_destroy(c->m);
		c->m = NULL;
		return err;
	}
	c->h = hp;
	c->w = wp;
	*out = c->m;
	return 0;
}

/* logits (K, h, w) of one pass over img (3, h, w). */
int knseg_run_pass(struct knseg *ks, const float *img, int h, int w, float *logits)
{
	struct model *m;
	int err = knseg_model_for(ks, model_padded_side(h), model_padded_side(w), &m);

	if (err)
		return err;
	m->step = ks->calls++;
	model_set_input(m, 0, img, h, w);
	model_forward(m);
	model_crop_logits(m, 0, logits, h, w);
	return 0;
}

/* Copies the window (y0, x0, ch, cw) of img (c, h, w) into win (c, ch, cw). */
static void crop_planes(float *win, const float *img, int c, int h, int w, int y0, int x0,
			int ch, int cw)
{
	for (int k = 0; k < c; k++)
		for (int y = 0; y < ch; y++)
			memcpy(win + ((size_t)k * ch + y) * cw,
			       img + ((size_t)k * h + y0 + y) * w + x0, (size_t)cw * sizeof(float));
}

/*
 * Window starts along one side: a last window flush with the end, as toolboxes do. The
 * stride is at most the crop, so consecutive windows meet or overlap.
 */
static int window_start(int index, int stride, int crop, int side)
{
	int end = index * stride + crop < side ? index * stride + crop : side;

	return end - crop > 0 ? end - crop : 0;
}

static int min_int(int a, int b)
{
	return a < b ? a : b;
}

/* Adds the window's logits wl (k, ch, cw) at (y0, x0) of logits (k, h, w), and 1s to count. */
static void add_window(float *logits, float *count, const float *wl, int k, int h, int w,
		       int y0, int x0, int ch, int cw)
{
	for (int c = 0; c < k; c++)
		for (int y = 0; y < ch; y++)
			for (int x = 0; x < cw; x++)
				logits[((size_t)c * h + y0 + y) * w + x0 + x] +=
					wl[((size_t)c * ch + y) * cw + x];
	for (int y = 0; y < ch; y++)
		for (int x = 0; x < cw; x++)
			count[(size_t)(y0 + y) * w + x0 + x] += 1;
}

static int run_slide(struct knseg *ks, const float *img, int h, int w,
		     const struct knseg_options *o, float *logits)
{
	int k = ks->meta.cfg.num_classes;
	int ch = min_int(o->crop_h, h), cw = min_int(o->crop_w, w);
	int sh = min_int(o->stride_h, ch), sw = min_int(o->stride_w, cw);
	int ny = h > ch ? (h - ch + sh - 1) / sh + 1 : 1;
	int nx = w > cw ? (w - cw + sw - 1) / sw + 1 : 1;
	float *win = kn_try_malloc((size_t)3 * ch * cw, sizeof(float), "a window's pixels");
	float *wl = win ? kn_try_malloc((size_t)k * ch * cw, sizeof(float), "a window's logits")
			: NULL;
	float *count = wl ? kn_try_malloc((size_t)h * w, sizeof(float), "the window counts")
			  : NULL;
	int err = count ? 0 : KN_ENOMEM;

	if (count) {
		memset(logits, 0, (size_t)k * h * w * sizeof(float));
		memset(count, 0, (size_t)h * w * sizeof(float));
	}
	for (int iy = 0; iy < ny && !err; iy++) {
		for (int ix = 0; ix < nx && !err; ix++) {
			int y0 = window_start(iy, sh, ch, h);
			int x0 = window_start(ix, sw, cw, w);

			crop_planes(win, img, 3, h, w, y0, x0, ch, cw);
			err = knseg_run_pass(ks, win, ch, cw, wl);
			if (!err)
				add_window(logits, count, wl, k, h, w, y0, x0, ch, cw);
		}
	}
	for (size_t i = 0; i < (size_t)k * h * w && !err; i++)
		logits[i] /= count[i % ((size_t)h * w)];
	free(count);
	free(wl);
	free(win);
	return err;
}

static void flip_planes(float *x, int c, int h, int w)
{
	for (size_t r = 0; r < (size_t)c * h; r++)
		for (int a = 0, b = w - 1; a < b; a++, b--) {
			float t = x[r * w + a];

			x[r * w + a] = x[r * w + b];
			x[r * w + b] = t;
		}
}

/* Pixels per block of add_softmax. */
#define SOFTMAX_BLOCK 256

/*
 * Adds softmax(logits) over the k planes of hw pixels into acc. Blocks of consecutive
 * pixels make every inner loop run over contiguous memory, so that it vectorizes (the
 * exponential is the loss's, nets/fastexp.h), and the blocks are spread over the
 * threads. Each exponential is computed twice, for the sum and for the share, rather
 * than kept in a k x block scratch too large for a thread's stack.
 */
void knseg_add_softmax(float *acc, const float *logits, int k, size_t hw)
{
	size_t blocks = (hw + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;

#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < blocks; b++) {
		size_t i0 = b * SOFTMAX_BLOCK;
		int n = hw - i0 < SOFTMAX_BLOCK ? (int)(hw - i0) : SOFTMAX_BLOCK;
		float mx[SOFTMAX_BLOCK], inv[SOFTMAX_BLOCK];

		for (int j = 0; j < n; j++) {
			mx[j] = logits[i0 + j];
			inv[j] = 0.0f;
		}
		for (int c = 1; c < k; c++) {
			const float *x = logits + (size_t)c * hw + i0;

			for (int j = 0; j < n; j++)
				mx[j] = x[j] > mx[j] ? x[j] : mx[j];
		}
		for (int c = 0; c < k; c++) {
			const float *x = logits + (size_t)c * hw + i0;

			for (int j = 0; j < n; j++)
				inv[j] += kn_exp_nonpositive(x[j] - mx[j]);
		}
		for (int j = 0; j < n; j++)
			inv[j] = 1.0f / inv[j];
		for (int c = 0; c < k; c++) {
			const float *x = logits + (size_t)c * hw + i0;
			float *a = acc + (size_t)c * hw + i0;

			for (int j = 0; j < n; j++)
				a[j] += kn_exp_nonpositive(x[j] - mx[j]) * inv[j];
		}
	}
}

/*
 * labels (hw) = the class of the largest of the k planes of acc, the first on ties. By
 * blocks of SOFTMAX_BLOCK pixels, a plane at a time, so that the comparisons run over
 * contiguous memory as vector selects.
 */
static void argmax_planes(uint8_t *labels, const float *acc, int k, size_t hw)
{
	size_t blocks = (hw + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK;

#pragma omp parallel for schedule(static)
	for (size_t b = 0; b < blocks; b++) {
		size_t i0 = b * SOFTMAX_BLOCK;
		int n = hw - i0 < SOFTMAX_BLOCK ? (int)(hw - i0) : SOFTMAX_BLOCK;
		float best[SOFTMAX_BLOCK];
		int at[SOFTMAX_BLOCK];

		for (int j = 0; j < n; j++) {
			best[j] = acc[i0 + j];
			at[j] = 0;
		}
		for (int c = 1; c < k; c++) {
			const float *x = acc + (size_t)c * hw + i0;

			for (int j = 0; j < n; j++) {
				int take = x[j] > best[j];

				best[j] = take ? x[j] : best[j];
				at[j] = take ? c : at[j];
			}
		}
		for (int j = 0; j < n; j++)
			labels[i0 + j] = (uint8_t)at[j];
	}
}

static void normalize(float *img, const uint8_t *rgb, int w, int h, const float *mean,
		      const float *std)
{
	size_t hw = (size_t)w * h;

#pragma omp parallel for schedule(static)
	for (int c = 0; c < 3; c++)
		for (size_t i = 0; i < hw; i++)
			img[c * hw + i] = (rgb[3 * i + c] / 255.0f - mean[c]) / std[c];
}

/*
 * One scale (and flip) pass: probabilities added into acc (K, h, w), or with only_logits
 * (a single pass, when only the labels are asked for: the largest logit is the most
 * probable class) the logits written there.
 */
static int add_pass(struct knseg *ks, const float *img, int h, int w, float scale, bool flip,
		    const struct knseg_options *o, bool only_logits, float *acc)
{
	int k = ks->meta.cfg.num_classes;
	int hs = (int)lroundf((float)h * scale), ws = (int)lroundf((float)w * scale);
	float *in, *lg, *full;
	int err;

	hs = hs < 1 ? 1 : hs;
	ws = ws < 1 ? 1 : ws;
	in = kn_try_malloc((size_t)3 * hs * ws, sizeof(float), "the scaled image");
	lg = in ? kn_try_malloc((size_t)k * hs * ws, sizeof(float), "the scaled logits") : NULL;
	full = only_logits ? acc : NULL;
	if (lg && !only_logits)
		full = kn_try_malloc((size_t)k * h * w, sizeof(float), "the logits");
	if (!lg || !full) {
		free(lg);
		free(in);
		return KN_ENOMEM;
	}
	upsample_bilinear_forward(in, img, 3, h, w, hs, ws);
	if (flip)
		flip_planes(in, 3, hs, ws);
	err = o->mode == KNSEG_SLIDE ? run_slide(ks, in, hs, ws, o, lg)
				     : knseg_run_pass(ks, in, hs, ws, lg);
	if (!err) {
		if (flip)
			flip_planes(lg, k, hs, ws);
		if (hs == h && ws == w)
			memcpy(full, lg, (size_t)k * h * w * sizeof(float));
		else
			upsample_bilinear_forward(full, lg, k, hs, ws, h, w);
		if (!only_logits)
			knseg_add_softmax(acc, full, k, (size_t)h * w);
	}
	if (!only_logits)
		free(full);
	free(lg);
	free(in);
	return err;
}

static int check_args(const struct knseg_options *o, int w, int h)
{
	if (w < 1 || h < 1 || w > 32768 || h > 32768)
		return kn_error(KN_EINVAL, "image size %dx%d is not in 1..32768", w, h);
	if (o->nscales < 0 || o->nscales > KNSEG_MAX_SCALES)
		return kn_error(KN_EINVAL, "%d scales (at most %d)", o->nscales, KNSEG_MAX_SCALES);
	for (int i = 0; i < o->nscales; i++)
		if (!(o->scales[i] >= 0.0625f && o->scales[i] <= 8.0f))
			return kn_error(KN_EINVAL, "scale %g is not in [0.0625, 8]",
					(double)o->scales[i]);
	if (o->mode == KNSEG_SLIDE &&
	    (o->crop_w < 1 || o->crop_h < 1 || o->stride_w < 1 || o->stride_h < 1))
		return kn_error(KN_EINVAL, "sliding window %dx%d with stride %dx%d", o->crop_w,
				o->crop_h, o->stride_w, o->stride_h);
	return 0;
}

void knseg_norm(const struct knseg *ks, const float **mean, const float **std)
{
	*mean = ks->meta.mean;
	*std = ks->meta.std;
}

size_t knseg_tile_bytes(const struct knseg *ks)
{
	return ks->tile_scratch;
}

void knseg_set_tile_bytes(struct knseg *ks, size_t bytes)
{
	ks->tile_scratch = bytes;
}

int knseg_segment(struct knseg *ks, const uint8_t *rgb, int w, int h,
		  const struct knseg_options *opts, uint8_t *labels, float *probs)
{
	struct knseg_options def = knseg_default_options();
	const struct knseg_options *o = opts ? opts : &def;
	int k = ks->meta.cfg.num_classes, nscales = o->nscales > 0 ? o->nscales : 1, err;
	bool only_logits = nscales == 1 && !o->flip && !probs;
	size_t hw = (size_t)w * h;
	float *img, *acc;

	if ((err = check_args(o, w, h)))
		return err;
	if (o->mode == KNSEG_TILE)
		return knseg_segment_tiled(ks, rgb, NULL, NULL, w, h, o, labels, probs);
	img = kn_try_malloc(3 * hw, sizeof(float), "the normalized image");
	acc = img ? kn_try_malloc((size_t)k * hw, sizeof(float), "the class scores") : NULL;
	if (!acc) {
		free(img);
		return kn_error_prefix(KN_ENOMEM, "image of %d x %d", w, h);
	}
	memset(acc, 0, (size_t)k * hw * sizeof(float));
	normalize(img, rgb, w, h, ks->meta.mean, ks->meta.std);
	for (int s = 0; s < nscales && !err; s++)
		for (int f = 0; f < (o->flip ? 2 : 1) && !err; f++)
			err = add_pass(ks, img, h, w, o->nscales > 0 ? o->scales[s] : 1.0f, f == 1,
				       o, only_logits, acc);
	if (!err && labels)
		argmax_planes(labels, acc, k, hw);
	if (err)
		kn_error_prefix(err, "image of %d x %d", w, h);
	if (!err && probs) {
		float norm = 1.0f / (float)(nscales * (o->flip ? 2 : 1));

		for (size_t i = 0; i < (size_t)k * hw; i++)
			probs[i] = acc[i] * norm;
	}
	free(acc);
	free(img);
	return err;
}

int knseg_segment_rows(struct knseg *ks, knseg_read_rows_fn read, void *ctx, int w, int h,
		       const struct knseg_options *opts, uint8_t *labels, float *probs)
{
	int err = opts ? check_args(opts, w, h) : 0;

	if (err)
		return err;
	if (!opts || opts->mode != KNSEG_TILE)
		return kn_error(KN_EINVAL, "reading the image in rows needs tiles (KNSEG_TILE)");
	return knseg_segment_tiled(ks, NULL, read, ctx, w, h, opts, labels, probs);
}

int knseg_logits(struct knseg *ks, const uint8_t *rgb, int w, int h, float *logits)
{
	struct knseg_options def = knseg_default_options();
	float *img;
	int err = check_args(&def, w, h);

	if (err)
		return err;
	img = kn_try_malloc((size_t)3 * w * h, sizeof(float), "the normalized image");
	if (!img)
		return kn_error_prefix(KN_ENOMEM, "image of %d x %d", w, h);
	normalize(img, rgb, w, h, ks->meta.mean, ks->meta.std);
	err = knseg_run_pass(ks, img, h, w, logits);
	if (err)
		kn_error_prefix(err, "image of %d x %d", w, h);
	free(img);
	return err;
}
