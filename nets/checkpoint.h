/*
 * knseg checkpoints: safetensors files (io/safetensors.h) holding a network's
 * parameters under their graph names and string metadata (nets/README.md 2.2):
 *
 *   format       "knseg-1"
 *   kind         "model" (weights of a whole network), "train" (model plus optimizer
 *                and run state, see app/), or "backbone" (backbone weights only, e.g.
 *                imported from PyTorch by scripts/import_torch.py)
 *   arch, width, head, num_classes,
 *   classes      comma-separated, one non-empty name per class
 *   mean, std    three comma-separated floats each, applied to pixel / 255 (mean in
 *                [-1000, 1000], std in [0.001, 1000])
 *   kn_eval      "expected" | "none" | "sample"
 *   kn_p         the KNConv statistics dropout probability the network was trained with
 *   colors       optional: "r g b" per class, comma-separated (for colour masks)
 *
 * A "backbone" file carries format, kind, arch and width only. Loading checks every
 * parameter's presence, shape and float dtype and that its values (and the optimizer
 * state's) are finite, rejects tensors that belong to no parameter (outside the "optim."
 * and "state." namespaces that training files add), and says exactly what does not match.
 */
#ifndef KNSEG_NETS_CHECKPOINT_H
#define KNSEG_NETS_CHECKPOINT_H

#include "io/safetensors.h"
#include "nets/dropout.h"
#include "nets/graph.h"
#include "nets/knresnet.h"
#include "nets/optim.h"

#include <stdbool.h>
#include <stdint.h>

#define CHECKPOINT_FORMAT "knseg-1"
/* Room for the largest class table: 255 names of up to 47 characters, with commas. */
#define CHECKPOINT_MAX_CLASSES_TEXT 12288

struct checkpoint_meta {
	char kind[16];
	struct net_config cfg;
	char classes[CHECKPOINT_MAX_CLASSES_TEXT]; /* comma-separated class names */
	bool has_colors;
	uint8_t colors[255][3]; /* per class, when has_colors */
	float mean[3], std[3];
	enum knorm_mode kn_eval;
};

/* ImageNet mean/std, expected mode, no classes: a starting point for new models. */
void checkpoint_meta_default(struct checkpoint_meta *meta, const struct net_config *cfg);

/*
 * Reads and validates the metadata of f. A "backbone" file fills kind, arch and width
 * only. KN_EFORMAT with a message naming the file and key on anything missing or bad.
 */
int checkpoint_read_meta(const struct safetensors_file *f, struct checkpoint_meta *meta);

/*
 * Copies into params (laid out as g's parameters) every parameter whose name starts
 * with prefix ("" for all, "backbone." for a backbone file). Fails, naming the file
 * and the first offending tensor (with how many more), when one is missing, misshaped
 * or holds a NaN or infinity, or when f holds a tensor under prefix that g does not have.
 */
int checkpoint_load_params(const struct safetensors_file *f, const struct graph *g,
			   float *params, const char *prefix);

/* Adds g's parameters and meta's keys to a writer (tensors point into params). */
void checkpoint_add_model(struct safetensors_writer *w, const struct graph *g,
			  const float *params, const struct checkpoint_meta *meta);

/* Writes a weights-only ("model") checkpoint atomically. */
int checkpoint_save_model(const char *path, const struct graph *g, const float *params,
			  const struct checkpoint_meta *meta);

/*
 * What a training checkpoint ("train") adds to a model so that a run resumes exactly:
 * the optimizer's state (tensor "optim.state") and its configuration and step count
 * (metadata "optim.*"), and where the run stands (metadata "state.*"). Numbers are
 * written with 17 significant digits, so they read back bit for bit.
 */
struct train_state {
	int64_t step;     /* iterations done */
	int64_t epoch;    /* epoch of the next batch */
	int64_t batch;    /* index of the next batch within that epoch */
	uint64_t seed;
	double best_miou; /* best validation mIoU so far, NaN when none */
	int64_t best_step;
};

/* Adds the optimizer state (pointing into o->state) and the run state to a writer. */
void checkpoint_add_train(struct safetensors_writer *w, const struct optim *o,
			  const struct train_state *ts);

/*
 * Reads the optimizer configuration of a "train" file (to size the state buffer):
 * kind and hyperparameters into *cfg.
 */
int checkpoint_read_optim_config(const struct safetensors_file *f, struct optim_config *cfg);

/*
 * Restores o (initialized by the caller with the configuration read above and n
 * parameters) and ts from a "train" file: state values, step count, run state.
 */
int checkpoint_read_train(const struct safetensors_file *f, struct optim *o,
			  struct train_state *ts);

/*
 * Checks that f, whose metadata meta was read above, loads as the commands that use it
 * would load it: every parameter of its network (the backbone's alone for a "backbone"
 * file) present, shaped and finite, and for a "train" file the optimizer and run state.
 * Uses scratch memory of the parameters' size; the first problem's message.
 */
int checkpoint_verify(const struct safetensors_file *f, const struct checkpoint_meta *meta);

#endif
