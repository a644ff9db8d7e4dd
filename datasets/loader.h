/*
 * The data loader: worker threads read and augment the next batches while the network
 * computes, and hand them to the consumer in a fixed order (datasets/README.md).
 *
 *     struct loader_config c;
 *     struct loader_source src;
 *     struct loader *l;
 *     const struct loader_batch *b;
 *     loader_config_default(&c, 8, 1024, 512);          (8 crops 1024 wide, 512 high)
 *     loader_source_dataset(&src, &dataset);
 *     if (loader_create(&l, &c, &src) < 0) ...          (kn_errmsg())
 *     while ((rc = loader_next(l, &b)) > 0)
 *         ... b->images (b->n, 3, b->h, b->w), b->labels (b->n, b->h, b->w) ...
 *     if (rc < 0) ...                                    (names the bad file)
 *     loader_destroy(l);
 *
 * Order and randomness. The batches form one stream over epochs: epoch e holds
 * loader_batches_per_epoch() batches, and batch j of epoch e holds the samples at
 * positions j*N .. j*N+N-1 of epoch e's order. The order is the identity, or with
 * shuffle a Fisher-Yates permutation drawn from the stream (seed, e, UINT64_MAX). The
 * sample at position k of epoch e is augmented with the stream (seed, e, k) (io/rng.h).
 * Which thread prepares a batch never matters, and batches are delivered in order, so
 * the same seed gives bitwise identical batches for any number of threads. Starting at
 * (start_epoch, start_batch) gives exactly the batches a run from (0, 0) gives there
 * (resuming a training run).
 *
 * Slices. In data-parallel training each process takes a part of every global batch of
 * N: with slice_count > 0, batch j of epoch e holds only the samples at positions
 * j*N + slice_first .. j*N + slice_first + slice_count - 1 of epoch e's order, each
 * read, augmented (stream (seed, e, position)) and, with skip_bad, replaced exactly as
 * in the whole batch, so the slices of the processes together are the whole batch, bit
 * for bit. b->n is slice_count; epochs, batch indices, loader_batches_per_epoch and
 * (start_epoch, start_batch) still count global batches of N; skipped and skip_msg
 * count the slice's own replacements. Slices need drop_last (a last partial batch would
 * be cut otherwise), and slice_first + slice_count <= N. 0 and 0 take the whole batch.
 *
 * Bad samples. When reading or augmenting a sample fails, the batch holding it carries
 * the error, and loader_next returns it (with the message, which names the file) once
 * the earlier batches are delivered; no later batch is delivered. With skip_bad, the
 * sample is replaced by the next readable one in the epoch's order (positions k+1, k+2,
 * ..., wrapping), keeping the stream (seed, e, k), and counted in the batch's skipped
 * (the first message is kept in skip_msg); this too is the same for any thread count.
 *
 * Threads. Workers are pthreads that only read files and augment (datasets/augment.h,
 * which uses no OpenMP and no BLAS), so they never start OpenMP teams or BLAS threads of
 * their own; they do compete for cores with the network, so a loader thread or two is
 * enough (bench_loader measures what one gives). At most `prefetch` batches are prepared
 * ahead of the one the consumer holds, so the loader keeps prefetch + 1 batches of
 * N * 13 bytes per pixel (e.g. 235 MB for prefetch 2, N = 12, 512x1024 crops; a slice
 * keeps slice_count samples a batch).
 * loader_destroy stops the workers between samples, joins them and frees everything, at
 * any point of an epoch.
 *
 * Sizes. In AUGMENT_TRAIN every sample is a crop_w x crop_h crop. In AUGMENT_NONE the
 * samples keep their sizes, so the images of a batch must all have one size (else an
 * error naming the sample); evaluation uses batch 1, or loader_read_sample in order.
 */
#ifndef KNSEG_DATASETS_LOADER_H
#define KNSEG_DATASETS_LOADER_H

#include "datasets/augment.h"
#include "datasets/dataset.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Where samples come from. read fills img and lab (lab zeroed when the sample has no
 * label) or returns a negative code with a message naming the file, leaving nothing to
 * free. It is called from several threads at once. name (optional) names sample index
 * in messages.
 */
struct loader_source {
	int count;
	int (*read)(void *ctx, int index, struct image *img, struct label_image *lab);
	const char *(*name)(void *ctx, int index);
	void *ctx;
};

struct loader_config {
	int batch;               /* N samples per batch */
	int threads;             /* worker threads, >= 1 */
	int prefetch;            /* batches prepared ahead, >= 1 */
	uint64_t seed;
	bool shuffle;
	bool drop_last;          /* drop an epoch's last partial batch */
	bool skip_bad;           /* replace bad samples instead of stopping */
	int epochs;              /* the stream ends after this epoch count; 0: never */
	int start_epoch, start_batch; /* where the stream starts (resume) */
	int slice_first, slice_count; /* this part of each batch; 0, 0: the whole batch */
	struct augment_config aug;
};

struct loader_batch {
	int epoch, index;        /* batch index within the epoch */
	int n, w, h;             /* n samples (N, fewer in a last partial batch, or the
				    slice's slice_count) */
	float *images;           /* (n, 3, h, w), normalized */
	uint8_t *labels;         /* (n, h, w): classes and 255 */
	int *samples;            /* (n) source index of each sample, after replacements */
	int skipped;             /* bad samples replaced in this batch (or slice) */
	char skip_msg[256];      /* message of the first of them ("" when none) */
};

struct loader;

/*
 * Training defaults: default augmentation with the crop, 1 thread, prefetch 2, seed 0,
 * shuffle, drop_last, no skipping, endless.
 */
void loader_config_default(struct loader_config *c, int batch, int crop_w, int crop_h);

/* Evaluation: batch 1, no augmentation, in order, one epoch. */
void loader_config_eval(struct loader_config *c);

/* A source reading dataset d (which must outlive the loader) with dataset_read. */
void loader_source_dataset(struct loader_source *s, const struct dataset *d);

/*
 * Checks the configuration (KN_EINVAL naming the bad field: a bad slice among them) and
 * starts the workers.
 */
int loader_create(struct loader **out, const struct loader_config *c,
		  const struct loader_source *src);

/*
 * The next batch: 1 and *out (valid until the next loader_next or loader_destroy), 0
 * when the configured epochs are done, negative with a message on a failure (the loader
 * then delivers nothing more).
 */
int loader_next(struct loader *l, const struct loader_batch **out);

/* Batches per epoch (0 when the source holds fewer than N samples and drop_last). */
int loader_batches_per_epoch(const struct loader *l);

/* Stops the workers, joins them, frees everything (l may be NULL). */
void loader_destroy(struct loader *l);

/* A sample prepared on the caller's thread: image (3, h, w) and label (h, w). */
struct loader_sample {
	int w, h;
	float *image;
	uint8_t *label;
};

/*
 * Reads and prepares sample index on the calling thread, no worker involved (evaluation
 * in order: aug in AUGMENT_NONE, r NULL; or any augmentation with its stream r). Frees
 * with loader_sample_free; on failure nothing is left to free.
 */
int loader_read_sample(const struct loader_source *src, const struct augment_config *aug,
		       int index, struct rng *r, struct loader_sample *out);

void loader_sample_free(struct loader_sample *s);

#endif
