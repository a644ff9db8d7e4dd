/*
 * knseg's public C API: load a trained checkpoint and segment RGB images.
 *
 *     #include <knseg/knseg.h>      (in the source tree: "app/knseg.h")
 *
 *     struct knseg *ks;
 *     if (knseg_open(&ks, "run/best.safetensors") < 0) {
 *         fprintf(stderr, "%s\n", knseg_errmsg());
 *         return 1;
 *     }
 *     uint8_t *labels = malloc((size_t)w * h);
 *     if (knseg_segment(ks, rgb, w, h, NULL, labels, NULL) < 0) ...
 *     ... labels[y * w + x] is a class index in 0..knseg_num_classes(ks)-1 ...
 *     knseg_close(ks);
 *
 * rgb is w*h interleaved 8-bit RGB triples, row-major. The checkpoint's normalization
 * (mean, std) and statistics mode are applied. Inference is whole-image by default;
 * struct knseg_options asks for sliding windows, horizontal flipping and several scales,
 * whose class probabilities are averaged.
 *
 * One struct knseg is used by one thread at a time (it keeps its buffers between
 * calls); the work inside a call uses the threads set by knseg_set_threads. Errors return
 * a negative code and leave a one-line message for knseg_errmsg() on the calling thread.
 * Installed (`make install`), `pkg-config --cflags --libs knseg` gives the flags (see
 * README, Installing); in the tree, link with libknseg.a, OpenBLAS, libpng, libturbojpeg,
 * OpenMP and libm. This header includes only standard headers.
 */
#ifndef KNSEG_APP_KNSEG_H
#define KNSEG_APP_KNSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The release; the Makefile reads these lines for the shared library's and knseg.pc's
 * versions. */
#define KNSEG_VERSION_MAJOR 0
#define KNSEG_VERSION_MINOR 1
#define KNSEG_VERSION_PATCH 0

#define KNSEG_MAX_SCALES 8

struct knseg;

enum knseg_mode { KNSEG_WHOLE, KNSEG_SLIDE, KNSEG_TILE };

struct knseg_options {
	enum knseg_mode mode;
	int crop_w, crop_h;     /* KNSEG_SLIDE window (multiples of 32 are fastest) */
	int stride_w, stride_h; /* KNSEG_SLIDE step between windows */
	int tile_w, tile_h;     /* KNSEG_TILE tile (multiples of 32 are fastest) */
	int overlap;            /* KNSEG_TILE pixels shared by neighbouring tiles */
	bool flip;              /* also run the mirrored image and average */
	int nscales;            /* 0 or 1 means the image's own scale only */
	float scales[KNSEG_MAX_SCALES];
};

/*
 * Sliding windows (KNSEG_SLIDE): a window larger than the image (or its scaled copy) is
 * cut to the image's side; windows start every stride pixels, the last one flush with
 * the image's end, and the logits of overlapping windows are averaged. A stride larger
 * than the window is taken as the window's side, so that windows always cover every
 * pixel (the defaults, 1024x512 windows every 768x384, overlap by a quarter).
 */

/* "MAJOR.MINOR.PATCH" of the library that runs (which may differ from the header's). */
const char *knseg_version(void);

/*
 * Tiles (KNSEG_TILE): bounded memory for images of any size. The network is built once
 * for the tile size (a tile larger than the image is cut to the image's side) and run
 * on tiles that start every tile - overlap pixels, the last one flush with the image's
 * end. Each tile's probabilities (softmax) are added with a weight that is 1 inside and
 * falls linearly to 0 across the overlap at a border shared with another tile (not at
 * the image's own edges), and divided by the summed weight: in a regular overlap the
 * two tiles cross-fade, the one farther from its own border (whose padding and cut KN
 * windows disturb its output) counting more. Only one band of tile_h rows of
 * probabilities is kept; rows that no later tile touches are finished (labels, probs)
 * as the tiles move down. Besides the network for one tile, the memory is about
 * (K + 1) * tile_h * w + (3 + 2K) * tile_h * tile_w floats: it grows with the image's
 * width, not its height. One scale and no flip; overlap is cut to tile - 1.
 */

/* Whole image, no flip, one scale. */
struct knseg_options knseg_default_options(void);

/* Opens a "model" or "train" checkpoint. */
int knseg_open(struct knseg **out, const char *checkpoint);

void knseg_close(struct knseg *ks);

/* The last error message of this thread. */
const char *knseg_errmsg(void);

/* Threads for the computation (all calls, all models); n >= 1. */
void knseg_set_threads(int n);

int knseg_num_classes(const struct knseg *ks);

/* The name of class i (from the checkpoint's classes), or "" when it has none. */
const char *knseg_class_name(const struct knseg *ks, int i);

/*
 * The display colour of class i: the checkpoint's colours when it has them, else the
 * Cityscapes colours for a 19-class model, else a fixed palette of distinct colours.
 */
void knseg_class_color(const struct knseg *ks, int i, uint8_t rgb[3]);

/* The checkpoint's metadata value for key (e.g. "arch", "classes"), or NULL. */
const char *knseg_meta(const struct knseg *ks, const char *key);

/* Statistics at inference: "expected" (the checkpoint's default), "none" or "sample". */
int knseg_set_kn_eval(struct knseg *ks, const char *mode);

/*
 * Segments one image. opts may be NULL (knseg_default_options). labels (w*h, or NULL)
 * receives the most probable class of every pixel; probs (K*h*w planes, or NULL)
 * receives the class probabilities.
 *
 * Memory grows with the image: about (3 + 2K) floats per pixel besides the network's
 * activations for the image's (or the window's) size; KNSEG_TILE keeps only a band (see
 * above), and labels and probs are then the caller's only whole-image buffers. When it cannot be had, the call
 * returns KN_ENOMEM (-3) with a message giving the bytes that were needed, and ks stays
 * usable for other images.
 */
int knseg_segment(struct knseg *ks, const uint8_t *rgb, int w, int h,
		  const struct knseg_options *opts, uint8_t *labels, float *probs);

/*
 * Reads the next n rows of the image (n * w RGB triples, row-major) into rgb; 0, or a
 * negative code that knseg_segment_rows stops with and returns.
 */
typedef int (*knseg_read_rows_fn)(void *ctx, uint8_t *rgb, int n);

/*
 * knseg_segment for opts->mode == KNSEG_TILE (required) with the pixels read in rows
 * from the top, as the tiles need them: only a band of tile_h rows of the image is held
 * (an image larger than the memory for its pixels, e.g. from io/pngrows.h).
 */
int knseg_segment_rows(struct knseg *ks, knseg_read_rows_fn read, void *ctx, int w, int h,
		       const struct knseg_options *opts, uint8_t *labels, float *probs);

/*
 * The raw logits (K, h, w) of a single whole-image pass at the image's own size, as
 * saved by `knseg predict --save-logits`.
 */
int knseg_logits(struct knseg *ks, const uint8_t *rgb, int w, int h, float *logits);

/*
 * Reads a PNG or JPEG file as w*h interleaved RGB triples into *rgb, which the caller
 * frees with free(). On failure *rgb is NULL.
 */
int knseg_read_image(const char *path, uint8_t **rgb, int *w, int *h);

/* Writes w*h labels (class indices) as an 8-bit grayscale PNG. */
int knseg_write_labels_png(const char *path, const uint8_t *labels, int w, int h);

#endif
