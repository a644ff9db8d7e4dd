/*
 * knseg synth: writes a procedural street-scene dataset in the Cityscapes layout
 * (datasets/synth.h) and prints what it wrote, with the pixel share of each class.
 */
#include "app/args.h"
#include "app/commands.h"
#include "datasets/cityscapes_labels.h"
#include "datasets/synth.h"
#include "io/error.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: knseg synth --out DIR [--train N] [--val N] [--size WxH] [--seed S]\n"
	    "                   [--force]\n\n"
	    "Renders synthetic street scenes with exact annotations and writes them in the\n"
	    "Cityscapes layout: DIR/leftImg8bit/{train,val}/synth/*_leftImg8bit.png and\n"
	    "DIR/gtFine/{train,val}/synth/"
	    "*_gtFine_{labelIds,labelTrainIds,color,instanceIds}.png.\n"
	    "A frame depends only on (seed, split, index), whatever the thread count.\n\n"
	    "  --out DIR     dataset root, created when missing\n"
	    "  --train N     training frames (default 200)\n"
	    "  --val N       validation frames (default 50)\n"
	    "  --size WxH    image size (default 512x256; sides %d..%d)\n"
	    "  --seed S      generator seed (default 1)\n"
	    "  --force       write into a non-empty DIR, replacing earlier synth frames\n",
	    SYNTH_MIN_SIDE, SYNTH_MAX_SIDE);
}

static int parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-')
		return usage_error("synth", "--seed '%s' is not a non-negative integer", s);
	*out = (uint64_t)v;
	return 0;
}

static void print_summary(const struct synth_options *o, const struct synth_summary *s)
{
	printf("wrote %d train and %d val frames of %dx%d (seed %llu) to %s: %d files\n",
	       s->frames[0], s->frames[1], o->w, o->h, (unsigned long long)o->seed, o->out,
	       s->files);
	if (s->removed)
		printf("removed %d files of earlier frames beyond the new counts\n",
		       s->removed);
	if (s->total_pixels == 0)
		return;
	printf("pixel shares by class (labelId name: %%):\n");
	for (int id = 0; id < CITYSCAPES_NUM_IDS; id++) {
		const struct cityscapes_label *l = cityscapes_by_id(id);

		if (s->pixels[id])
			printf("  %2d %-14s %6.2f%s\n", id, l->name,
			       100.0 * (double)s->pixels[id] / (double)s->total_pixels,
			       l->train_id == 255 ? "  (not trained)" : "");
	}
}

int cmd_synth(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, 0, 'o'},  {"train", required_argument, 0, 't'},
	    {"val", required_argument, 0, 'v'},  {"size", required_argument, 0, 's'},
	    {"seed", required_argument, 0, 'S'}, {"force", no_argument, 0, 'f'},
	    {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
	};
	struct synth_options o = synth_options_default();
	struct synth_summary s;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'o': o.out = optarg; break;
		case 't':
			rc = arg_int("synth", "--train", optarg, 0, SYNTH_MAX_FRAMES,
				     &o.count[0]);
			break;
		case 'v':
			rc =
			    arg_int("synth", "--val", optarg, 0, SYNTH_MAX_FRAMES, &o.count[1]);
			break;
		case 's':
			rc = arg_size("synth", "--size", optarg, SYNTH_MIN_SIDE, SYNTH_MAX_SIDE,
				      &o.w, &o.h);
			break;
		case 'S': rc = parse_seed(optarg, &o.seed); break;
		case 'f': o.force = true; break;
		case 'h': usage(stdout); return 0;
		default: return usage_error("synth", "unknown option");
		}
		if (rc)
			return rc;
	}
	if (optind < argc)
		return usage_error("synth", "unexpected argument '%s'", argv[optind]);
	if (!o.out)
		return usage_error("synth", "--out DIR is required");
	if (synth_write_dataset(&o, &s) < 0)
		return die("%s", kn_errmsg());
	print_summary(&o, &s);
	return 0;
}
