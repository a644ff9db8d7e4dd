/* Strict option value parsing. See args.h. */
#include "app/args.h"
#include "app/commands.h"
#include "app/knseg.h"
#include "datasets/dataset.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int arg_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return usage_error(cmd, "%s '%s' is not an integer in %d..%d", opt, s, lo, hi);
	*out = (int)v;
	return 0;
}

int arg_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
	      double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return usage_error(cmd, "%s '%s' is not a number in [%g, %g]", opt, s, lo, hi);
	*out = v;
	return 0;
}

int arg_size(const char *cmd, const char *opt, const char *s, int lo, int hi, int *w, int *h)
{
	char *end, *end2;
	long a, b;

	errno = 0;
	a = strtol(s, &end, 10);
	if (errno || end == s || (*end != 'x' && *end != 'X'))
		return usage_error(cmd, "%s '%s' is not of the form WxH", opt, s);
	b = strtol(end + 1, &end2, 10);
	if (errno || end2 == end + 1 || *end2)
		return usage_error(cmd, "%s '%s' is not of the form WxH", opt, s);
	if (a < lo || a > hi || b < lo || b > hi)
		return usage_error(cmd, "%s '%s': sides must be in %d..%d", opt, s, lo, hi);
	*w = (int)a;
	*h = (int)b;
	return 0;
}

int arg_scales(const char *cmd, const char *s, struct knseg_options *o)
{
	char buf[256], *tok, *save = NULL;
	double v = 0;
	int rc;

	snprintf(buf, sizeof(buf), "%s", s);
	o->nscales = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (o->nscales == KNSEG_MAX_SCALES)
			return usage_error(cmd, "--scales: at most %d scales", KNSEG_MAX_SCALES);
		if ((rc = arg_float(cmd, "--scales", tok, 0.0625, 8, &v)))
			return rc;
		o->scales[o->nscales++] = (float)v;
	}
	return o->nscales ? 0 : usage_error(cmd, "--scales '%s' is empty", s);
}

int dataset_option(int c, const char *arg, struct dataset_spec *spec)
{
	switch (c) {
	case OPT_DATASET: spec->layout = arg; return 1;
	case OPT_ROOT: spec->root = arg; return 1;
	case OPT_SPLIT: spec->split = arg; return 1;
	case OPT_LIST: spec->list = arg; return 1;
	case OPT_CLASSES: spec->classes = arg; return 1;
	case OPT_LABEL_IDS: spec->label_ids = true; return 1;
	case OPT_TRAIN_IDS: spec->train_ids = true; return 1;
	default: return 0;
	}
}

struct knseg_options seg_defaults(void)
{
	struct knseg_options o = knseg_default_options();

	o.stride_w = o.stride_h = 0;
	return o;
}

int seg_finish(const char *cmd, struct knseg_options *seg)
{
	if (!seg->stride_w) {
		seg->stride_w = seg->crop_w * 3 / 4;
		seg->stride_h = seg->crop_h * 3 / 4;
	}
	if (seg->stride_w > seg->crop_w || seg->stride_h > seg->crop_h)
		return usage_error(cmd, "--stride %dx%d is larger than the window %dx%d (--crop): "
				   "pixels between windows would get no prediction",
				   seg->stride_w, seg->stride_h, seg->crop_w, seg->crop_h);
	return 0;
}

int seg_option(const char *cmd, int c, const char *arg, struct knseg_options *seg)
{
	switch (c) {
	case OPT_MODE:
		if (strcmp(arg, "whole") && strcmp(arg, "slide"))
			return usage_error(cmd, "--mode '%s' is not whole or slide", arg);
		seg->mode = strcmp(arg, "whole") ? KNSEG_SLIDE : KNSEG_WHOLE;
		return 0;
	case OPT_CROP:
		return arg_size(cmd, "--crop", arg, 32, 16384, &seg->crop_w, &seg->crop_h);
	case OPT_STRIDE:
		return arg_size(cmd, "--stride", arg, 1, 16384, &seg->stride_w, &seg->stride_h);
	case OPT_FLIP:
		seg->flip = true;
		return 0;
	case OPT_SCALES:
		return arg_scales(cmd, arg, seg);
	default:
		return -1;
	}
}
