/*
 * Command-line options, declared once. Each command describes its options in one table
 * of struct opt: the name, what kind of value it takes, the field of the command's
 * options struct that receives it, the accepted range, the default and the help line.
 * Parsing, range checks, defaults and --help all come from that table:
 *
 *     struct eval_cmd { const char *checkpoint; int threads; ... };
 *     static const struct opt eval_opts[] = {
 *         {"checkpoint", OPT_STRING, F(checkpoint), .arg = "FILE", .required = true,
 *          .help = "the checkpoint to score"},
 *         THREADS_OPT(struct eval_cmd, threads),
 *         {0},
 *     };
 *     rc = opt_parse("eval", &eval_spec, argc, argv, &cmd, NULL);
 *
 * Fragments shared by several commands (dataset, network, inference, threads) are
 * macros that expand to table rows, so a command can take them with its own defaults.
 *
 * Machine-readable output follows one convention across commands: --json FILE writes
 * one JSON object to FILE, and --json - writes it to standard output in place of the
 * text (see opt_is_stdout).
 */
#ifndef KNSEG_APP_OPTIONS_H
#define KNSEG_APP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum opt_kind {
	OPT_END,     /* the row that ends a table: {0} */
	OPT_SECTION, /* not an option: a heading in --help (.help is its text) */
	OPT_FLAG,    /* bool, set by the option; takes no value */
	OPT_STRING,  /* const char *, the argument itself (not copied) */
	OPT_INT,     /* int in [lo, hi] */
	OPT_INT64,   /* int64_t in [lo, hi] */
	OPT_U64,     /* uint64_t: a non-negative integer, at most hi when hi > 0 */
	OPT_FLOAT,   /* float in [lo, hi] */
	OPT_DOUBLE,  /* double in [lo, hi] */
	OPT_SIZE,    /* "WxH": two ints (at field and field2), each side in [lo, hi] */
	OPT_WORD,    /* int: the index of the argument among .words ("a|b|c") */
	OPT_CUSTOM,  /* .parse converts the argument */
};

struct opt;

/* 0, or the usage exit status after a message (usage_error). */
typedef int (*opt_parse_fn)(const char *cmd, const struct opt *o, const char *arg,
			    void *field);

struct opt {
	const char *name;    /* without the leading "--" */
	enum opt_kind kind;
	size_t field, field2; /* offsets in the command's struct (field2: OPT_SIZE's height) */
	double lo, hi;       /* range of numbers and sizes */
	const char *words;   /* OPT_WORD: the accepted words, '|'-separated */
	opt_parse_fn parse;  /* OPT_CUSTOM */
	const char *def;     /* the default, as it would be written on the command line;
			      * parsed like an argument before the command line is read */
	bool required;
	const char *arg;     /* the value's name in --help (N, FILE, WxH, ...) */
	const char *help;    /* the help text; '\n' starts an indented continuation line */
};

/* A command: its synopsis and description (printed first by --help) and its table. */
struct opt_command {
	const char *name;
	const char *usage; /* "usage: knseg eval ...\n\nScores ...\n" */
	const struct opt *opts;
	bool operands;     /* takes arguments that are not options (predict's INPUTs) */
};

/*
 * Sets every default of c's table in obj, then parses argv[1..argc) into obj. Returns
 * 0, -1 when --help was printed (exit 0), or 2 after a usage message. With operands
 * allowed, *first receives the index of the first operand (argc when none); otherwise
 * an operand is a usage error and first may be NULL.
 */
int opt_parse(const struct opt_command *c, int argc, char **argv, void *obj, int *first);

/* Prints c's usage text and the option list generated from its table. */
void opt_help(FILE *out, const struct opt_command *c);

/* Whether an output path names standard output ("-"). */
bool opt_is_stdout(const char *path);

/* The same checks opt_parse makes, for values that arrive another way. */
int arg_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
int arg_float(const char *cmd, const char *opt, const char *s, double lo, double hi,
	      double *out);
int arg_size(const char *cmd, const char *opt, const char *s, int lo, int hi, int *w, int *h);

/* The limits that several commands share. */
#define OPT_BATCH_MAX 1024
#define OPT_THREADS_MAX 1024

/* ---- fragments: table rows for options that several commands take ---- */

/* --threads N into an int field (0, the default, means all cores). */
#define THREADS_OPT(T, m)                                                               \
	{"threads", OPT_INT, offsetof(T, m), .lo = 1, .hi = OPT_THREADS_MAX, .arg = "N",  \
	 .help = "threads (default: all cores)"}

/* The network: --arch, --head, --width into a struct net_config member. */
int opt_parse_arch(const char *cmd, const struct opt *o, const char *arg, void *field);
int opt_parse_head(const char *cmd, const struct opt *o, const char *arg, void *field);
#define NET_OPTS(T, m, head_default)                                                    \
	{"arch", OPT_CUSTOM, offsetof(T, m.arch), .parse = opt_parse_arch,              \
	 .def = "knresnet18", .arg = "A", .help = "knresnet18 | knresnet34 | knresnet50"},   \
	{"head", OPT_CUSTOM, offsetof(T, m.head), .parse = opt_parse_head,              \
	 .def = head_default, .arg = "H", .help = "fcn | fpn"},                            \
	{"width", OPT_FLOAT, offsetof(T, m.width), .lo = 0.01, .hi = 8, .def = "1.0",    \
	 .arg = "W", .help = "channel multiplier"}

/* The dataset: a struct dataset_spec member; split_default is the command's split. */
#define DATASET_OPTS(T, m, split_default)                                               \
	{"dataset", OPT_STRING, offsetof(T, m.layout), .arg = "L",                       \
	 .help = "cityscapes | list (default cityscapes)"},                                \
	{"root", OPT_STRING, offsetof(T, m.root), .arg = "DIR",                          \
	 .help = "Cityscapes root, or the folder of SPLIT.txt for lists"},                 \
	{"split", OPT_STRING, offsetof(T, m.split), .def = split_default, .arg = "S",    \
	 .help = "split"},                                                                 \
	{"list", OPT_STRING, offsetof(T, m.list), .arg = "FILE",                         \
	 .help = "list file of \"IMAGE [LABEL]\" lines (list layout; default\n"           \
		 "ROOT/SPLIT.txt)"},                                                       \
	{"classes", OPT_STRING, offsetof(T, m.classes), .arg = "C",                      \
	 .help = "cityscapes | camvid | a class table file (default cityscapes;\n"        \
		 "the file format is in datasets/README.md)"},                             \
	{"label-ids", OPT_FLAG, offsetof(T, m.label_ids),                                \
	 .help = "label values are Cityscapes labelIds, mapped to the 19 trainIds\n"      \
		 "(the default for the cityscapes layout)"},                               \
	{"train-ids", OPT_FLAG, offsetof(T, m.train_ids),                                \
	 .help = "read *_gtFine_labelTrainIds.png (values 0..18, 255 ignored)"}

/* Inference: a struct knseg_options member. The stride's default depends on the
 * window, so seg_finish sets it after parsing. */
int opt_parse_mode(const char *cmd, const struct opt *o, const char *arg, void *field);
int opt_parse_scales(const char *cmd, const struct opt *o, const char *arg, void *field);
#define SEG_OPTS(T, m)                                                                  \
	{"mode", OPT_CUSTOM, offsetof(T, m.mode), .parse = opt_parse_mode,              \
	 .def = "whole", .arg = "M", .help = "whole | slide"},                             \
	{"crop", OPT_SIZE, offsetof(T, m.crop_w), offsetof(T, m.crop_h), .lo = 32,      \
	 .hi = 16384, .def = "1024x512", .arg = "WxH", .help = "sliding window"},          \
	{"stride", OPT_SIZE, offsetof(T, m.stride_w), offsetof(T, m.stride_h), .lo = 1, \
	 .hi = 16384, .arg = "WxH",                                                        \
	 .help = "sliding step, at most the window (default 3/4 of it)"},                  \
	{"tile", OPT_SIZE, offsetof(T, m.tile_w), offsetof(T, m.tile_h), .lo = 32,      \
	 .hi = 16384, .arg = "WxH",                                                        \
	 .help = "tiled inference with bounded memory (any image size)"},                  \
	{"overlap", OPT_INT, offsetof(T, m.overlap), .lo = 0, .hi = 16383, .def = "32",  \
	 .arg = "N", .help = "pixels neighbouring tiles share"},                            \
	{"flip", OPT_FLAG, offsetof(T, m.flip),                                          \
	 .help = "average with the mirrored image"},                                       \
	{"scales", OPT_CUSTOM, offsetof(T, m), .parse = opt_parse_scales, .def = "1",   \
	 .arg = "LIST", .help = "average over scales, e.g. 0.75,1,1.25"}

/* --kn-eval MODE of eval and predict: a string field, checked by knseg_set_kn_eval. */
#define KN_EVAL_OPT(T, m)                                                               \
	{"kn-eval", OPT_STRING, offsetof(T, m), .arg = "MODE",                           \
	 .help = "KN statistics: expected | none | sample (default: the\n"                \
		 "checkpoint's)"}

struct knseg_options;

/*
 * After parsing: a stride not given is 3/4 of the window on each side (768x384 for the
 * default 1024x512), so that windows overlap whatever --crop says; a --stride larger
 * than the window, which would leave pixels between windows without a prediction, is a
 * usage error. --tile asks for KNSEG_TILE (not with --mode slide, --flip or several
 * scales). 0 or the usage exit status after a message.
 */
int seg_finish(const char *cmd, struct knseg_options *seg);

#endif
