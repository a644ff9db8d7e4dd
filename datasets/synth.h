/*
 * A procedural street-scene generator: cartoon road scenes rendered with their exact
 * Cityscapes annotations, written in the Cityscapes layout (datasets/README.md). It is the
 * built-in dataset of the demo and of tests that need labelled images without real data.
 *
 *     struct synth_frame fr;
 *     synth_render(&fr, 512, 256, seed, SYNTH_VAL, 7);
 *     ... fr.image.rgb, fr.label_ids.u8, fr.instance_ids.u16 ...
 *     synth_frame_free(&fr);
 *
 *     struct synth_options o = synth_options_default();
 *     o.out = "data/synth";
 *     struct synth_summary s;
 *     if (synth_write_dataset(&o, &s) < 0) ...   (message from kn_errmsg())
 *
 * A scene is a straight street seen by a pinhole camera: sky, road with lane markings,
 * curbs and sidewalks, grass verges, facades with windows, walls, fences, hedges,
 * buildings across the far end, and objects placed on the ground plane in perspective
 * (cars, pedestrians, trees, street lamps, traffic signs and lights), drawn far to near
 * so nearer objects occlude farther ones. The hood of the recording car (labelId 1,
 * ego vehicle, not trained) covers the bottom rows. The photo then gets global lighting,
 * shadows, blur, sensor noise and a JPEG round trip.
 *
 * Reproducibility: frame (seed, split, index) draws every random choice from the stream
 * rng_init_stream(seed, split, index), so a frame never depends on the other frames, on
 * the thread that renders it or on the thread count.
 *
 * Who frees what: synth_render fills a caller-owned struct synth_frame whose buffers
 * synth_frame_free releases.
 */
#ifndef KNSEG_DATASETS_SYNTH_H
#define KNSEG_DATASETS_SYNTH_H

#include "datasets/cityscapes_labels.h"
#include "io/image.h"
#include "io/label.h"

#include <stdbool.h>
#include <stdint.h>

/* Accepted image sides: smaller scenes lose their thin objects entirely. */
#define SYNTH_MIN_SIDE 32
#define SYNTH_MAX_SIDE 4096
/* Frames per split: the FRAME field of the names has six digits. */
#define SYNTH_MAX_FRAMES 1000000

enum synth_split { SYNTH_TRAIN = 0, SYNTH_VAL = 1 };

/* One rendered frame and its annotations, all w x h. */
struct synth_frame {
	struct image image;              /* the photo (leftImg8bit) */
	struct label_image label_ids;    /* 8-bit labelIds */
	struct label_image train_ids;    /* 8-bit trainIds, 255 where not trained */
	struct label_image instance_ids; /* 16-bit: labelId * 1000 + k on cars and people,
					    the plain labelId elsewhere */
	struct image color;              /* official colour of each labelId */
};

/* Renders frame index of split for seed. w and h must be within the SYNTH_*_SIDE limits. */
void synth_render(struct synth_frame *fr, int w, int h, uint64_t seed, int split, int index);

void synth_frame_free(struct synth_frame *fr);

/* The name stem of a frame: "synth_000000_" and the six-digit index. */
void synth_frame_name(char *buf, size_t size, int index);

struct synth_options {
	const char *out; /* the dataset root */
	int w, h;
	int count[2]; /* frames of SYNTH_TRAIN and SYNTH_VAL */
	uint64_t seed;
	bool force; /* write into a non-empty root */
};

/* 200 train and 50 val frames of 512x256, seed 1, no root, no force. */
struct synth_options synth_options_default(void);

struct synth_summary {
	int frames[2];                       /* frames written per split */
	int files;                           /* files written */
	int removed;                         /* stale frames' files removed (--force) */
	uint64_t pixels[CITYSCAPES_NUM_IDS]; /* labelId pixel counts over all frames */
	uint64_t total_pixels;
};

/*
 * Writes the dataset under o->out:
 *   leftImg8bit/{train,val}/synth/synth_000000_FRAME_leftImg8bit.png
 *   gtFine/{train,val}/synth/synth_000000_FRAME_gtFine_{labelIds,labelTrainIds,color,
 *   instanceIds}.png
 * Creates the root when missing. A root that already holds anything is refused
 * (KN_EINVAL) unless o->force; then frames are overwritten, and files of this
 * generator's naming with a frame number beyond the new counts are removed, so the
 * folders hold exactly the new dataset. Each file is written atomically; frames are
 * rendered in parallel (OpenMP). Fills *s (which may be NULL).
 */
int synth_write_dataset(const struct synth_options *o, struct synth_summary *s);

#endif
