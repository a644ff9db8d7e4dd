/*
 * knseg train, split in two files: app/train.c parses the options and sets the run up
 * (datasets, loader, model, optimizer, initial weights or resumed state); app/train_loop.c
 * runs the iterations, logs, validates and writes checkpoints.
 */
#ifndef KNSEG_APP_TRAIN_H
#define KNSEG_APP_TRAIN_H

#include "app/runlog.h"
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "nets/checkpoint.h"
#include "nets/model.h"
#include "nets/optim.h"
#include "nets/schedule.h"

#include <stdbool.h>
#include <stdint.h>

struct train_opts {
	struct dataset_spec data;  /* the training split */
	const char *val_split;     /* "none" disables validation */
	const char *val_list;      /* list layout: the validation list */
	struct net_config net;
	enum knorm_mode kn_eval;
	int crop_w, crop_h, batch, epochs;
	int64_t iters, warmup, val_every, log_every, stop_after;
	struct optim_config optim; /* complete after parsing */
	double lr, weight_decay;   /* as given; -1 for the optimizer's default */
	double power;
	const char *class_weights; /* NULL, "median" or a comma-separated list */
	bool augment, skip_bad, force;
	double scale_range[2];     /* rescale factors, smallest and largest */
	const char *out, *resume, *init, *init_backbone;
	int threads, loader_threads;
	double bucket_mb;          /* several processes: gradients sent in buckets of this */
	uint64_t seed;
	/* Differential privacy (train_dp.c): on when dp_clip > 0. */
	double dp_clip;            /* per-image gradient L2 bound C */
	double dp_noise;           /* noise multiplier sigma, or -1: from dp_epsilon */
	double dp_epsilon;         /* the run's budget, or 0: none (sigma given) */
	double dp_delta;
	int dp_aug_mult;           /* augmentations averaged per image before clipping */
	bool dp_secure_noise;      /* noise from getrandom rather than the seed */
};

/* The state of a private run (train_dp.c). */
struct train_dp {
	bool on;
	double q;          /* sampling rate: the expected batch over the training images */
	double sigma;      /* noise multiplier in use (given, found, or the resumed run's) */
	float *sum, *avg;  /* clipped sum, and one image's averaged gradient (param_count) */
	int *idx;          /* the step's Poisson batch (room for every training image) */
	int64_t per_epoch; /* steps per epoch: images / expected batch */
	double loss_sum;   /* the step's per-image losses, summed over the ranks */
	int images;        /* the step's batch size, over the ranks */
};

struct train_run {
	struct train_opts o;
	struct dataset train, val;
	bool has_val;
	struct loader *loader;
	int batches_per_epoch;
	int ranks, rank;      /* the job's processes (app/dist.h) and this one */
	int local_batch;      /* images per rank: o.batch / ranks */
	bool image_streams;   /* dropout masks per image (false: per batch, older runs) */
	struct model *m;
	float *opt_state;
	struct optim opt;
	struct lr_schedule sched;
	float *weights;       /* class weights (K) or NULL */
	uint8_t *labels;      /* (local_batch, h, w) labels at the model's size */
	struct checkpoint_meta meta;
	struct train_state ts;
	struct runlog log;
	struct train_dp dp;
};

/* Adds the run's options as "run.*" metadata to a training checkpoint (train_resume.c). */
void train_add_run_meta(struct safetensors_writer *w, const struct train_run *r);

/*
 * Compares the run's options with those recorded in the checkpoint f it resumes: shows
 * each change (stdout) and each refused one (stderr), and fails when there is one of
 * those. Options f does not record are not compared.
 */
int train_check_resume(const struct safetensors_file *f, const struct train_run *r);

/* The augmentation of the training samples (the loader's, and private steps'). */
void train_augment_config(const struct train_run *r, struct augment_config *aug);

/*
 * Private runs (train_dp.c). train_dp_plan checks the options against the dataset and
 * finds the noise (after the datasets, before the model); train_dp_resumed takes the
 * noise of the run a checkpoint continues; train_dp_start allocates and checks the
 * budget of the whole run (after the model and the shared state).
 */
int train_dp_plan(struct train_run *r);
int train_dp_resumed(struct train_run *r, const struct safetensors_file *f);
int train_dp_start(struct train_run *r);
void train_dp_free(struct train_run *r);

/* Epsilon spent after steps iterations (delta = --dp-delta). */
double train_dp_epsilon(const struct train_run *r, int64_t steps);

/*
 * The first half of a private iteration on this rank: the Poisson batch of step, and for
 * this rank's share of its images the clipped sum of their gradients (each averaged over
 * its augmentations). 0 or a negative code with a message naming the file.
 */
int train_dp_gradients(struct train_run *r);

/* The second half, once the ranks agree: sum over the ranks, noise, the step. */
void train_dp_update(struct train_run *r, double lr);

/* Runs the iterations from run->ts.step to run->o.iters. Returns the exit status. */
int train_loop(struct train_run *run);

#endif
