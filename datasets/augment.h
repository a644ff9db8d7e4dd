/*
 * Training augmentation and input normalization of one sample (datasets/README.md): an RGB
 * image and its label map become a float CHW network input and a uint8 label map.
 *
 *     struct augment_config c;
 *     struct augment_params p;
 *     struct rng r;
 *     augment_config_default(&c, 1024, 512);              (crop 1024 wide, 512 high)
 *     rng_init_stream(&r, seed, epoch, sample);
 *     augment_draw(&c, &img, &lab, &r, &p);
 *     if (augment_apply(&c, &p, &img, &lab, out, out_lab) < 0) ...   (kn_errmsg())
 *
 * out is (3, p.out_h, p.out_w) floats and out_lab (p.out_h, p.out_w) bytes, both owned by
 * the caller; nothing is allocated for the caller to free. augment_sample does the draw
 * and the apply in one call. All functions are pure: the only randomness is the struct
 * rng passed in, consumed in a fixed order, so the same stream gives the same output.
 * They use no OpenMP and no BLAS (the data loader calls them from its own threads).
 *
 * AUGMENT_TRAIN, in the order of the common toolboxes' Cityscapes pipeline (mmseg):
 *  1. rescale by f uniform in [scale_min, scale_max] (default 0.5..2.0), relative to the
 *     image as read: the rescaled size is round(w f) x round(h f). The image is sampled
 *     bilinearly with half-pixel centres (as cv2 INTER_LINEAR and PyTorch
 *     align_corners=False), labels by nearest neighbour with the same centres: source
 *     index floor((dst + 0.5) * in / out) ("nearest-exact"), so a label pixel lands where
 *     its image pixel lands. (cv2 and PyTorch "nearest" use floor(dst * in / out), which
 *     shifts labels by up to half a source pixel against the image.) Labels are never
 *     interpolated, so they keep only values present in the input, plus 255 for padding.
 *  2. random crop of crop_w x crop_h: the window's top-left is uniform over the valid
 *     offsets of each axis (0 when the rescaled image is smaller). With cat_max_ratio r
 *     in (0, 1), up to 10 windows are drawn until one has at least two non-ignored
 *     classes and none covering a fraction >= r of its non-ignored pixels (mmseg's
 *     cat_max_ratio, 0.75 in its Cityscapes recipe); otherwise the last window is kept.
 *  3. horizontal flip of the window with probability flip_p (default 0.5).
 *  4. photometric distortion on pixel values in [0, 255], as mmseg's
 *     PhotoMetricDistortion: brightness (add d uniform in [-32, 32]), then contrast
 *     (multiply by a in [0.5, 1.5]) either first or last (a fair coin), saturation
 *     (HSV S times a in [0.5, 1.5]) and hue (HSV H plus d in [-18, 18] in OpenCV's 8-bit
 *     hue unit of 2 degrees, i.e. up to 36 degrees). Each op applies with probability
 *     0.5; values are clamped to [0, 255] after each. Unlike mmseg, values stay in float
 *     between ops (no rounding to uint8) and the hue shift is continuous.
 *  5. normalization: (v / 255 - mean[c]) / std[c], ImageNet mean/std by default.
 *  6. padding to crop_w x crop_h at the right and bottom: image 0 AFTER normalization
 *     (the mean colour before it) and label 255 (ignore). Zero is chosen, as mmseg does,
 *     so the padded area carries no signal into the network, the same value the
 *     convolutions' own zero padding uses, and the mean colour is what a neutral image
 *     would be; the labels there are ignored by the loss anyway.
 * AUGMENT_NONE (evaluation): the whole image at its size, only normalized.
 */
#ifndef KNSEG_DATASETS_AUGMENT_H
#define KNSEG_DATASETS_AUGMENT_H

#include "io/image.h"
#include "io/label.h"
#include "io/rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum augment_mode { AUGMENT_NONE, AUGMENT_TRAIN };

struct augment_config {
	enum augment_mode mode;
	int crop_w, crop_h;            /* AUGMENT_TRAIN output size */
	float scale_min, scale_max;    /* rescale factor range */
	float cat_max_ratio;           /* 0 (or >= 1) disables the crop's class check */
	float flip_p;                  /* probability of a horizontal flip */
	bool photometric;              /* whether step 4 runs at all */
	float brightness_delta;        /* added value in [-delta, delta], pixel units */
	float contrast_lo, contrast_hi;
	float saturation_lo, saturation_hi;
	float hue_delta;               /* in OpenCV 8-bit hue units (2 degrees) */
	float mean[3], std[3];         /* of pixel / 255, RGB order */
};

/* The random choices for one sample, and the output size they give. */
struct augment_params {
	int out_w, out_h;              /* output size: crop, or the image size */
	int scaled_w, scaled_h;        /* size of the rescaled image */
	int x0, y0, win_w, win_h;      /* window of the rescaled image in the output */
	bool flip;
	bool brightness_on, contrast_on, saturation_on, hue_on;
	bool contrast_last;            /* contrast after saturation and hue */
	float brightness, contrast, saturation, hue; /* hue in degrees */
};

/* Training defaults (as above) with the given crop; mode AUGMENT_TRAIN. */
void augment_config_default(struct augment_config *c, int crop_w, int crop_h);

/* Evaluation: mode AUGMENT_NONE with ImageNet mean/std. */
void augment_config_eval(struct augment_config *c);

/* KN_EINVAL with a message naming the bad field when c is not usable. */
int augment_config_check(const struct augment_config *c);

/*
 * Draws the random choices for an image of img->w x img->h (lab, 8-bit, may be NULL when
 * unlabelled or when cat_max_ratio is off; it is read only by the class check). Draws
 * nothing from r in AUGMENT_NONE.
 */
void augment_draw(const struct augment_config *c, const struct image *img,
		  const struct label_image *lab, struct rng *r, struct augment_params *p);

/*
 * Writes the augmented, normalized image to out (3, p->out_h, p->out_w) and, when out_lab
 * is not NULL, the label to out_lab (p->out_h, p->out_w); lab NULL gives an all-255 label.
 * KN_EMISMATCH when the label is not 8-bit or its size differs from the image's.
 */
int augment_apply(const struct augment_config *c, const struct augment_params *p,
		  const struct image *img, const struct label_image *lab, float *out,
		  uint8_t *out_lab);

/* augment_draw then augment_apply; p may be NULL. */
int augment_sample(const struct augment_config *c, const struct image *img,
		   const struct label_image *lab, struct rng *r, float *out, uint8_t *out_lab,
		   struct augment_params *p);

/*
 * Step 4 on npix interleaved RGB values in [0, 255], in place; they stay in [0, 255].
 * (augment_apply runs it pixel by pixel; exposed for tests and tools.)
 */
void augment_photometric(float *rgb, size_t npix, const struct augment_params *p);

#endif
