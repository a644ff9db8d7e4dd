/*
 * Strict parsing of option values for the commands. Each returns 0, or prints
 * "knseg <cmd>: <problem>" and returns 2 (the usage exit status), so a command writes
 *
 *     if ((rc = arg_int(cmd, "--batch", optarg, 1, 4096, &batch)))
 *         return rc;
 */
#ifndef KNSEG_APP_ARGS_H
#define KNSEG_APP_ARGS_H

int arg_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
int arg_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
	      double *out);

/* "WxH" with both sides in [lo, hi]. */
int arg_size(const char *cmd, const char *opt, const char *s, int lo, int hi, int *w, int *h);

struct knseg_options;

/* "0.75,1,1.25" into o->scales (at most KNSEG_MAX_SCALES, each in [1/16, 8]). */
int arg_scales(const char *cmd, const char *s, struct knseg_options *o);

#endif
