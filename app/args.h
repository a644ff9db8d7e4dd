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
struct dataset_spec;

/*
 * The dataset options every dataset command takes, for getopt_long tables:
 *     static const struct option opts[] = { DATASET_OPTIONS, ... };
 * and in the option loop: if (dataset_option(c, optarg, &spec)) continue;
 */
enum {
	OPT_DATASET = 0x100, OPT_ROOT, OPT_SPLIT, OPT_LIST, OPT_CLASSES, OPT_LABEL_IDS,
	OPT_TRAIN_IDS, OPT_FIRST_FREE
};
#define DATASET_OPTIONS                                                               \
	{"dataset", required_argument, 0, OPT_DATASET},                               \
	{"root", required_argument, 0, OPT_ROOT},                                     \
	{"split", required_argument, 0, OPT_SPLIT},                                   \
	{"list", required_argument, 0, OPT_LIST},                                     \
	{"classes", required_argument, 0, OPT_CLASSES},                               \
	{"label-ids", no_argument, 0, OPT_LABEL_IDS},                                 \
	{"train-ids", no_argument, 0, OPT_TRAIN_IDS}
#define DATASET_HELP                                                                  \
	"  --dataset cityscapes|list   layout (default cityscapes)\n"                    \
	"  --root DIR        Cityscapes root, or the folder of SPLIT.txt for lists\n"     \
	"  --split S         split (default as stated above)\n"                           \
	"  --list FILE       list file of \"image label\" lines (list layout)\n"          \
	"  --classes C       cityscapes | camvid | a class table file\n"                  \
	"  --label-ids / --train-ids   Cityscapes labels from labelIds (default) or\n"   \
	"                    labelTrainIds files\n"

/* 1 when c was a dataset option (stored in spec), 0 otherwise. */
int dataset_option(int c, const char *arg, struct dataset_spec *spec);

/* The inference options of eval and predict (struct knseg_options), the same way. */
enum { OPT_MODE = 0x200, OPT_CROP, OPT_STRIDE, OPT_FLIP, OPT_SCALES };
#define SEG_OPTIONS                                                                   \
	{"mode", required_argument, 0, OPT_MODE},                                     \
	{"crop", required_argument, 0, OPT_CROP},                                     \
	{"stride", required_argument, 0, OPT_STRIDE},                                 \
	{"flip", no_argument, 0, OPT_FLIP},                                           \
	{"scales", required_argument, 0, OPT_SCALES}
#define SEG_HELP                                                                      \
	"  --mode M          whole | slide (default whole)\n"                            \
	"  --crop WxH        sliding window (default 1024x512)\n"                        \
	"  --stride WxH      sliding step, at most the window (default 3/4 of it)\n"     \
	"  --flip            average with the mirrored image\n"                          \
	"  --scales LIST     average over scales, e.g. 0.75,1,1.25\n"

/*
 * -1 when c is not an inference option; else 0 (stored in seg) or the usage exit
 * status after a message.
 */
int seg_option(const char *cmd, int c, const char *arg, struct knseg_options *seg);

/* knseg_default_options() with the stride unset, before seg_option and seg_finish. */
struct knseg_options seg_defaults(void);

/*
 * After the options are parsed: a stride not given is 3/4 of the window on each side
 * (768x384 for the default 1024x512), so that windows overlap whatever --crop says; a
 * --stride larger than the window, which would leave pixels between windows without a
 * prediction, is a usage error. 0 or the usage exit status after a message.
 */
int seg_finish(const char *cmd, struct knseg_options *seg);

/* "0.75,1,1.25" into o->scales (at most KNSEG_MAX_SCALES, each in [1/16, 8]). */
int arg_scales(const char *cmd, const char *s, struct knseg_options *o);

#endif
