/*
 * knseg synth: writes a procedural street-scene dataset in the Cityscapes layout
 * (datasets/synth.h) and prints what it wrote, with the pixel share of each class.
 */
#include "app/commands.h"
#include "app/options.h"
#include "datasets/cityscapes_labels.h"
#include "datasets/synth.h"
#include "io/error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define STRINGIFY(x) #x
#define TEXT(x) STRINGIFY(x)

#define F(m) offsetof(struct synth_options, m)
static const struct opt synth_opts[] = {
	{"out", OPT_STRING, F(out), .required = true, .arg = "DIR",
	 .help = "dataset root, created when missing"},
	{"train", OPT_INT, F(count[0]), .lo = 0, .hi = SYNTH_MAX_FRAMES, .def = "200",
	 .arg = "N", .help = "training frames"},
	{"val", OPT_INT, F(count[1]), .lo = 0, .hi = SYNTH_MAX_FRAMES, .def = "50",
	 .arg = "N", .help = "validation frames"},
	{"size", OPT_SIZE, F(w), F(h), .lo = SYNTH_MIN_SIDE, .hi = SYNTH_MAX_SIDE,
	 .def = "512x256", .arg = "WxH",
	 .help = "image size, sides " TEXT(SYNTH_MIN_SIDE) ".." TEXT(SYNTH_MAX_SIDE)},
	{"seed", OPT_U64, F(seed), .def = "1", .arg = "S", .help = "generator seed"},
	{"force", OPT_FLAG, F(force),
	 .help = "write into a non-empty DIR, replacing earlier synth frames"},
	{0},
};
#undef F

static const struct opt_command synth_command = {
	"synth",
	"usage: knseg synth --out DIR [--train N] [--val N] [--size WxH] [--seed S]\n"
	"                   [--force]\n\n"
	"Renders synthetic street scenes with exact annotations and writes them in the\n"
	"Cityscapes layout: DIR/leftImg8bit/{train,val}/synth/*_leftImg8bit.png and\n"
	"DIR/gtFine/{train,val}/synth/*_gtFine_{labelIds,labelTrainIds,color,\n"
	"instanceIds}.png.\n"
	"A frame depends only on (seed, split, index), whatever the thread count.\n",
	synth_opts,
	false,
};

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
	struct synth_options o = synth_options_default();
	struct synth_summary s;
	int rc = opt_parse(&synth_command, argc, argv, &o, NULL);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (synth_write_dataset(&o, &s) < 0)
		return die("%s", kn_errmsg());
	print_summary(&o, &s);
	return 0;
}
