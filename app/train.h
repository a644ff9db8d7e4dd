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
};

/* Adds the run's options as "run.*" metadata to a training checkpoint (train_resume.c). */
void train_add_run_meta(struct safetensors_writer *w, const struct train_run *r);

/*
 * Compares the run's options with those recorded in the checkpoint f it resumes: shows
 * each change (stdout) and each refused one (stderr), and fails when there is one of
 * those. Options f does not record are not compared.
 */
int train_check_resume(const struct safetensors_file *f, const struct train_run *r);

/* Runs the iterations from run->ts.step to run->o.iters. Returns the exit status. */
int train_loop(struct train_run *run);

#endif
