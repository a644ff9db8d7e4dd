/*
 * The data loader: a ring of batch slots filled by worker threads. See loader.h.
 *
 * The batches of the stream are numbered g = 0, 1, ... from the start point; batch g
 * lives in slot g % nslots (nslots = prefetch + 1: the batch the consumer holds plus
 * prefetch being prepared). Workers claim batch numbers in order under the mutex, each
 * when its slot is free, fill the whole batch without the lock, and mark it ready; the
 * consumer takes batch numbers in order and frees the slot it held on its next call.
 * The content of batch g depends only on g (sample positions, their streams, the
 * epoch's permutation, which each worker computes itself), never on which worker or
 * when, which makes the stream thread-count independent.
 *
 * A failed batch keeps its message in its slot (kn_errmsg() is per thread) and stops the
 * claiming of later batches; the consumer receives it in order. Workers check the stop
 * flag between samples, so loader_destroy waits at most for one sample per worker.
 */
#include "datasets/loader.h"

#include "io/alloc.h"
#include "io/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shuffle's stream index: sample positions never reach it. */
#define LOADER_SHUFFLE_STREAM UINT64_MAX
/* Returned by a worker that saw the stop flag; never reaches the consumer. */
#define LOADER_STOPPED 1

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_READY };

struct loader_slot {
	enum slot_state state;
	int64_t g;               /* batch number held (FILLING, READY) */
	int err;                 /* negative when the batch failed */
	char msg[512];           /* its message */
	size_t cap;              /* pixels per sample the buffers hold */
	struct loader_batch b;
};

struct loader_worker {
	struct loader *l;
	pthread_t thread;
	bool started;
	int *perm;               /* (count) order of perm_epoch, when shuffling */
	int perm_epoch;
};

struct loader {
	struct loader_config c;
	struct loader_source src;
	int per_epoch;           /* batches per epoch */
	int64_t total;           /* batches in the stream from the start point */
	pthread_mutex_t mu;
	pthread_cond_t freed, ready;
	struct loader_slot *slots;
	int nslots;
	int64_t next_claim, next_deliver;
	int64_t limit;           /* no batch number >= limit is claimed */
	struct loader_slot *held;
	bool stop, failed;
	int fail_err;
	char fail_msg[512];
	struct loader_worker *workers;
};

void loader_config_default(struct loader_config *c, int batch, int crop_w, int crop_h)
{
	memset(c, 0, sizeof(*c));
	c->batch = batch;
	c->threads = 1;
	c->prefetch = 2;
	c->shuffle = true;
	c->drop_last = true;
	augment_config_default(&c->aug, crop_w, crop_h);
}

void loader_config_eval(struct loader_config *c)
{
	memset(c, 0, sizeof(*c));
	c->batch = 1;
	c->threads = 1;
	c->prefetch = 2;
	c->epochs = 1;
	augment_config_eval(&c->aug);
}

static int dataset_source_read(void *ctx, int index, struct image *img,
			       struct label_image *lab)
{
	return dataset_read(ctx, index, img, lab);
}

static const char *dataset_source_name(void *ctx, int index)
{
	return ((const struct dataset *)ctx)->samples[index].image;
}

void loader_source_dataset(struct loader_source *s, const struct dataset *d)
{
	s->count = d->count;
	s->read = dataset_source_read;
	s->name = dataset_source_name;
	s->ctx = (void *)d;
}

/* Prefixes the current message with the sample's name. */
static int name_error(const struct loader_source *src, int index, int err)
{
	if (src->name)
		return kn_error_prefix(err, "'%s'", src->name(src->ctx, index));
	return kn_error_prefix(err, "sample %d", index);
}

/* Samples a batch of the stream holds at most: the slice, or the whole batch. */
static int batch_capacity(const struct loader_config *c)
{
	return c->slice_count ? c->slice_count : c->batch;
}

/* Pixels per sample in AUGMENT_TRAIN (fixed), 0 when sizes follow the images. */
static size_t fixed_pixels(const struct loader_config *c)
{
	return c->aug.mode == AUGMENT_TRAIN ? (size_t)c->aug.crop_w * c->aug.crop_h : 0;
}

/* Makes the slot's buffers hold n samples of pix pixels (sizes may come from files). */
static int slot_reserve(struct loader_slot *s, int n, size_t pix)
{
	size_t fbytes, lbytes;

	if (pix <= s->cap)
		return KN_OK;
	if (!kn_size_mul4(&fbytes, (size_t)n, 3, pix, sizeof(float)) ||
	    !kn_size_mul(&lbytes, (size_t)n, pix))
		return kn_error(KN_ENOMEM, "batch of %d samples of %zu pixels is too large", n,
				pix);
	free(s->b.images);
	free(s->b.labels);
	s->cap = 0;
	s->b.labels = NULL;
	s->b.images = kn_try_alloc(fbytes, "loader batch images");
	if (!s->b.images)
		return KN_ENOMEM;
	s->b.labels = kn_try_alloc(lbytes, "loader batch labels");
	if (!s->b.labels)
		return KN_ENOMEM;
	s->cap = pix;
	return KN_OK;
}

/*
 * Reads sample index and prepares it as sample s of batch b, with stream r; the first
 * sample (s == 0) sets the batch's size.
 */
static int prepare_into(struct loader *l, struct loader_slot *slot, int s, int index,
			struct rng *r)
{
	struct loader_batch *b = &slot->b;
	struct image img;
	struct label_image lab;
	struct augment_params p;
	size_t pix;
	int err = l->src.read(l->src.ctx, index, &img, &lab);

	if (err)
		return err;
	augment_draw(&l->c.aug, &img, &lab, r, &p);
	if (s == 0) {
		b->w = p.out_w;
		b->h = p.out_h;
		err = slot_reserve(slot, batch_capacity(&l->c), (size_t)p.out_w * p.out_h);
	} else if (p.out_w != b->w || p.out_h != b->h) {
		err = kn_error(KN_EMISMATCH, "image is %dx%d but the batch's first is %dx%d",
			       p.out_w, p.out_h, b->w, b->h);
	}
	pix = (size_t)b->w * b->h;
	if (!err)
		err = augment_apply(&l->c.aug, &p, &img, &lab, b->images + (size_t)s * 3 * pix,
				    b->labels + (size_t)s * pix);
	if (err)
		err = name_error(&l->src, index, err);
	image_free(&img);
	label_free(&lab);
	return err;
}

/* The order of epoch e (NULL: identity), computed once per epoch by each worker. */
static const int *worker_order(struct loader_worker *w, int epoch)
{
	const struct loader *l = w->l;
	struct rng r;

	if (!l->c.shuffle)
		return NULL;
	if (w->perm_epoch == epoch)
		return w->perm;
	rng_init_stream(&r, l->c.seed, (uint64_t)epoch, LOADER_SHUFFLE_STREAM);
	for (int i = 0; i < l->src.count; i++)
		w->perm[i] = i;
	for (int i = l->src.count - 1; i > 0; i--) {
		int j = (int)rng_below(&r, (uint64_t)i + 1), t = w->perm[i];

		w->perm[i] = w->perm[j];
		w->perm[j] = t;
	}
	w->perm_epoch = epoch;
	return w->perm;
}

static bool stopping(struct loader *l)
{
	bool stop;

	pthread_mutex_lock(&l->mu);
	stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

/* Sample s of the batch, at position pos of the epoch, replacing bad ones if asked. */
static int fill_sample(struct loader_worker *w, struct loader_slot *slot, int s, int pos,
		       const int *order)
{
	struct loader *l = w->l;
	struct loader_batch *b = &slot->b;
	int count = l->src.count;

	for (int tries = 0; tries < count; tries++) {
		int k = (pos + tries) % count, index = order ? order[k] : k;
		struct rng r;
		int err;

		rng_init_stream(&r, l->c.seed, (uint64_t)b->epoch, (uint64_t)pos);
		err = prepare_into(l, slot, s, index, &r);
		if (!err) {
			b->samples[s] = index;
			return KN_OK;
		}
		if (!l->c.skip_bad)
			return err;
		/* One count per replaced sample, however many bad files its search meets. */
		if (tries == 0 && b->skipped++ == 0)
			snprintf(b->skip_msg, sizeof(b->skip_msg), "%s", kn_errmsg());
		if (stopping(l))
			return LOADER_STOPPED;
	}
	return kn_error(KN_EIO, "no readable sample in the dataset (last: %s)", b->skip_msg);
}

/*
 * Fills batch g of the stream into slot: the global batch's samples, or with a slice
 * those of its positions first .. first + slice_count - 1, each exactly as the whole
 * batch would have it (position, stream and replacement depend on the position alone).
 */
static int fill_batch(struct loader_worker *w, struct loader_slot *slot, int64_t g)
{
	struct loader *l = w->l;
	struct loader_batch *b = &slot->b;
	int64_t at = (int64_t)l->c.start_epoch * l->per_epoch + l->c.start_batch + g;
	int first = l->c.slice_count ? l->c.slice_first : 0;
	const int *order;

	b->epoch = (int)(at / l->per_epoch);
	b->index = (int)(at % l->per_epoch);
	b->n = batch_capacity(&l->c);
	if (b->index == l->per_epoch - 1 && !l->c.drop_last)
		b->n = l->src.count - b->index * l->c.batch;
	b->skipped = 0;
	b->skip_msg[0] = '\0';
	order = worker_order(w, b->epoch);
	for (int s = 0; s < b->n; s++) {
		int err;

		if (stopping(l))
			return LOADER_STOPPED;
		err = fill_sample(w, slot, s, b->index * l->c.batch + first + s, order);
		if (err)
			return err;
	}
	return KN_OK;
}

static void *worker_main(void *arg)
{
	struct loader_worker *w = arg;
	struct loader *l = w->l;

	pthread_mutex_lock(&l->mu);
	while (!l->stop && l->next_claim < l->limit) {
		int64_t g = l->next_claim;
		struct loader_slot *s = &l->slots[g % l->nslots];
		int err;

		if (s->state != SLOT_FREE) {
			pthread_cond_wait(&l->freed, &l->mu);
			continue;
		}
		s->state = SLOT_FILLING;
		s->g = g;
		l->next_claim++;
		pthread_mutex_unlock(&l->mu);
		err = fill_batch(w, s, g);
		if (err < 0)
			snprintf(s->msg, sizeof(s->msg), "%s", kn_errmsg());
		pthread_mutex_lock(&l->mu);
		if (err < 0 && g + 1 < l->limit)
			l->limit = g + 1;
		s->err = err;
		s->state = SLOT_READY;
		pthread_cond_broadcast(&l->ready);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static int config_check(const struct loader_config *c, const struct loader_source *src)
{
	if (c->batch < 1 || c->threads < 1 || c->threads > 256 || c->prefetch < 1 ||
	    c->prefetch > 64)
		return kn_error(KN_EINVAL, "bad loader setting: batch %d, threads %d, prefetch %d",
				c->batch, c->threads, c->prefetch);
	if (c->epochs < 0 || c->start_epoch < 0 || c->start_batch < 0)
		return kn_error(KN_EINVAL, "bad loader start: epoch %d batch %d (epochs %d)",
				c->start_epoch, c->start_batch, c->epochs);
	if (c->slice_first < 0 || c->slice_count < 0 || c->slice_first > c->batch - c->slice_count)
		return kn_error(KN_EINVAL, "bad batch slice: %d samples from position %d of a "
				"batch of %d", c->slice_count, c->slice_first, c->batch);
	if (c->slice_count == 0 && c->slice_first != 0)
		return kn_error(KN_EINVAL, "bad batch slice: an empty slice at position %d (a "
				"count of 0 takes the whole batch, from 0)", c->slice_first);
	/* A last partial batch would cut its slices otherwise than the full batches. */
	if (c->slice_count && !c->drop_last)
		return kn_error(KN_EINVAL, "a batch slice needs drop_last: the epoch's last "
				"partial batch cannot be sliced like the others");
	if (src->count < 1 || !src->read)
		return kn_error(KN_EINVAL, "the dataset holds no sample");
	if (src->count < c->batch && c->drop_last)
		return kn_error(KN_EINVAL, "the dataset's %d samples make no full batch of %d",
				src->count, c->batch);
	return augment_config_check(&c->aug);
}

/* Allocates the slots and the workers' buffers; no thread runs yet. */
static int loader_alloc(struct loader *l)
{
	size_t pix = fixed_pixels(&l->c);

	l->nslots = l->c.prefetch + 1;
	l->slots = xcalloc((size_t)l->nslots, sizeof(*l->slots));
	for (int i = 0; i < l->nslots; i++) {
		l->slots[i].b.samples = xcalloc((size_t)batch_capacity(&l->c), sizeof(int));
		if (pix && slot_reserve(&l->slots[i], batch_capacity(&l->c), pix) < 0)
			return KN_ENOMEM;
	}
	l->workers = xcalloc((size_t)l->c.threads, sizeof(*l->workers));
	for (int i = 0; i < l->c.threads; i++) {
		l->workers[i].l = l;
		l->workers[i].perm_epoch = -1;
		if (l->c.shuffle)
			l->workers[i].perm = xmalloc((size_t)l->src.count * sizeof(int));
	}
	return KN_OK;
}

int loader_create(struct loader **out, const struct loader_config *c,
		  const struct loader_source *src)
{
	struct loader *l;
	int per_epoch;
	int64_t start;
	int err;

	*out = NULL;
	if ((err = config_check(c, src)))
		return err;
	per_epoch = c->drop_last ? src->count / c->batch : (src->count + c->batch - 1) / c->batch;
	if (c->start_batch >= per_epoch)
		return kn_error(KN_EINVAL, "start batch %d is past the epoch's %d batches",
				c->start_batch, per_epoch);
	l = xcalloc(1, sizeof(*l));
	l->c = *c;
	l->src = *src;
	l->per_epoch = per_epoch;
	start = (int64_t)c->start_epoch * per_epoch + c->start_batch;
	l->total = c->epochs ? (int64_t)c->epochs * l->per_epoch - start : INT64_MAX;
	l->total = l->total > 0 ? l->total : 0;
	l->limit = l->total;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->freed, NULL);
	pthread_cond_init(&l->ready, NULL);
	if ((err = loader_alloc(l)) < 0) {
		loader_destroy(l);
		return err;
	}
	for (int i = 0; i < c->threads; i++) {
		int rc = pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]);

		if (rc) {
			loader_destroy(l);
			return kn_error(KN_ENOMEM, "cannot start a loader thread: %s", strerror(rc));
		}
		l->workers[i].started = true;
	}
	*out = l;
	return KN_OK;
}

int loader_next(struct loader *l, const struct loader_batch **out)
{
	struct loader_slot *s;

	*out = NULL;
	pthread_mutex_lock(&l->mu);
	if (l->held) {
		l->held->state = SLOT_FREE;
		l->held = NULL;
		pthread_cond_broadcast(&l->freed);
	}
	if (l->failed || l->next_deliver >= l->total) {
		pthread_mutex_unlock(&l->mu);
		return l->failed ? kn_error(l->fail_err, "%s", l->fail_msg) : 0;
	}
	s = &l->slots[l->next_deliver % l->nslots];
	while (s->state != SLOT_READY || s->g != l->next_deliver)
		pthread_cond_wait(&l->ready, &l->mu);
	if (s->err < 0) {
		l->failed = true;
		l->fail_err = s->err;
		snprintf(l->fail_msg, sizeof(l->fail_msg), "%s", s->msg);
		pthread_mutex_unlock(&l->mu);
		return kn_error(l->fail_err, "%s", l->fail_msg);
	}
	l->held = s;
	l->next_deliver++;
	pthread_mutex_unlock(&l->mu);
	*out = &s->b;
	return 1;
}

int loader_batches_per_epoch(const struct loader *l)
{
	return l->per_epoch;
}

void loader_destroy(struct loader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_broadcast(&l->freed);
	pthread_cond_broadcast(&l->ready);
	pthread_mutex_unlock(&l->mu);
	for (int i = 0; l->workers && i < l->c.threads; i++) {
		if (l->workers[i].started)
			pthread_join(l->workers[i].thread, NULL);
		free(l->workers[i].perm);
	}
	for (int i = 0; l->slots && i < l->nslots; i++) {
		free(l->slots[i].b.images);
		free(l->slots[i].b.labels);
		free(l->slots[i].b.samples);
	}
	free(l->workers);
	free(l->slots);
	pthread_cond_destroy(&l->freed);
	pthread_cond_destroy(&l->ready);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

int loader_read_sample(const struct loader_source *src, const struct augment_config *aug,
		       int index, struct rng *r, struct loader_sample *out)
{
	struct image img;
	struct label_image lab;
	struct augment_params p;
	struct rng none;
	size_t pix, fbytes;
	int err;

	CHECK(index >= 0 && index < src->count);
	CHECK(r || aug->mode == AUGMENT_NONE);
	memset(out, 0, sizeof(*out));
	if ((err = src->read(src->ctx, index, &img, &lab)))
		return err;
	rng_init(&none, 0);
	augment_draw(aug, &img, &lab, r ? r : &none, &p);
	pix = (size_t)p.out_w * p.out_h;
	if (!kn_size_mul4(&fbytes, 3, pix, sizeof(float), 1))
		err = kn_error(KN_ENOMEM, "image of %zu pixels is too large", pix);
	if (!err && (!(out->image = kn_try_alloc(fbytes, "loader sample image")) ||
		     !(out->label = kn_try_alloc(pix, "loader sample label"))))
		err = KN_ENOMEM;
	if (!err && (err = augment_apply(aug, &p, &img, &lab, out->image, out->label)))
		err = name_error(src, index, err);
	image_free(&img);
	label_free(&lab);
	if (err) {
		loader_sample_free(out);
		return err;
	}
	out->w = p.out_w;
	out->h = p.out_h;
	return KN_OK;
}

void loader_sample_free(struct loader_sample *s)
{
	free(s->image);
	free(s->label);
	memset(s, 0, sizeof(*s));
}
