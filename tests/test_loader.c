/*
 * Tests of datasets/loader.c on synthetic samples (a source whose image and label encode
 * the sample index): bitwise identical batches for 1, 2 and 4 loader threads and any
 * prefetch depth; each sample augmented with the stream (seed, epoch, position);
 * shuffling as a permutation per epoch that changes across epochs; partial last
 * batches and the end of the stream; a bad file stopping the stream with its name, or
 * skipped and counted; shutdown mid-epoch; resuming at (epoch, batch); slices of each
 * batch (data-parallel training) that are exactly parts of it; evaluation in
 * order with images of different sizes; bad settings; a list dataset with a file that is
 * not an image; the real CamVid list when the shared data is present.
 */
#include "tests/testutil.h"

#include "datasets/loader.h"
#include "io/alloc.h"
#include "io/atomic.h"
#include "io/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_MAX 128

/* Sample i: a w x h image (w + i % vary wide when vary) derived from i; bad[i] fails. */
struct synth {
	int count, w, h, vary;
	bool bad[SYNTH_MAX];
};

static int synth_read(void *ctx, int index, struct image *img, struct label_image *lab)
{
	const struct synth *s = ctx;
	int w = s->w + (s->vary ? index % s->vary : 0), h = s->h;

	if (s->bad[index])
		return kn_error(KN_EFORMAT, "'img_%03d.png': corrupt data", index);
	image_init(img, w, h);
	label_init(lab, w, h, 8);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			for (int c = 0; c < 3; c++)
				img->rgb[3 * (y * w + x) + c] =
					(uint8_t)(index * 37 + x * 3 + y * 5 + c * 11);
			lab->u8[y * w + x] = (x + y) % 7 == 6 ? 255 : (uint8_t)((index + x / 4) % 6);
		}
	return KN_OK;
}

static struct loader_source synth_source(struct synth *s)
{
	struct loader_source src = {s->count, synth_read, NULL, s};

	return src;
}

/* Everything a run delivered, batch after batch. */
struct record {
	int batches, samples, pix, err;
	float *images;
	uint8_t *labels;
	int *index, *epoch, *bindex, *n, *skipped;
	char msg[512];
};

static void record_free(struct record *r)
{
	free(r->images);
	free(r->labels);
	free(r->index);
	free(r->epoch);
	free(r->bindex);
	free(r->n);
	free(r->skipped);
	memset(r, 0, sizeof(*r));
}

static void record_batch(struct record *r, const struct loader_batch *b)
{
	size_t pix = (size_t)b->w * b->h, at = (size_t)r->samples;

	r->pix = (int)pix;
	r->images = xrealloc(r->images, (at + b->n) * 3 * pix * sizeof(float));
	r->labels = xrealloc(r->labels, (at + b->n) * pix);
	r->index = xrealloc(r->index, (at + b->n) * sizeof(int));
	memcpy(r->images + at * 3 * pix, b->images, (size_t)b->n * 3 * pix * sizeof(float));
	memcpy(r->labels + at * pix, b->labels, (size_t)b->n * pix);
	memcpy(r->index + at, b->samples, (size_t)b->n * sizeof(int));
	r->samples += b->n;
	r->epoch = xrealloc(r->epoch, (r->batches + 1) * sizeof(int));
	r->bindex = xrealloc(r->bindex, (r->batches + 1) * sizeof(int));
	r->n = xrealloc(r->n, (r->batches + 1) * sizeof(int));
	r->skipped = xrealloc(r->skipped, (r->batches + 1) * sizeof(int));
	r->epoch[r->batches] = b->epoch;
	r->bindex[r->batches] = b->index;
	r->n[r->batches] = b->n;
	r->skipped[r->batches] = b->skipped;
	r->batches++;
}

/* Runs a loader until the stream ends, fails, or max batches (0: no limit) came. */
static struct record run(const struct loader_config *c, struct synth *s, int max)
{
	struct loader_source src = synth_source(s);
	struct record r = {0};
	struct loader *l;
	const struct loader_batch *b;
	int rc = 0;

	assert_int_equal(loader_create(&l, c, &src), KN_OK);
	while ((!max || r.batches < max) && (rc = loader_next(l, &b)) > 0)
		record_batch(&r, b);
	if (rc < 0) {
		r.err = rc;
		snprintf(r.msg, sizeof(r.msg), "%s", kn_errmsg());
	}
	loader_destroy(l);
	return r;
}

static void assert_records_equal(const struct record *a, const struct record *b)
{
	assert_int_equal(a->batches, b->batches);
	assert_int_equal(a->samples, b->samples);
	assert_int_equal(a->err, b->err);
	assert_memory_equal(a->index, b->index, (size_t)a->samples * sizeof(int));
	assert_memory_equal(a->epoch, b->epoch, (size_t)a->batches * sizeof(int));
	assert_memory_equal(a->bindex, b->bindex, (size_t)a->batches * sizeof(int));
	assert_memory_equal(a->skipped, b->skipped, (size_t)a->batches * sizeof(int));
	assert_memory_equal(a->images, b->images, (size_t)a->samples * 3 * a->pix * sizeof(float));
	assert_memory_equal(a->labels, b->labels, (size_t)a->samples * a->pix);
}

static void train_config(struct loader_config *c, int batch, int threads)
{
	loader_config_default(c, batch, 24, 16);
	c->threads = threads;
	c->seed = 1234;
}

static void test_same_batches_for_any_thread_count(void **state)
{
	struct synth s = {.count = 23, .w = 30, .h = 20};
	struct loader_config c;
	struct record one, other;

	(void)state;
	train_config(&c, 4, 1);
	c.epochs = 3;
	one = run(&c, &s, 0);
	assert_int_equal(one.batches, 15);
	assert_int_equal(one.err, 0);
	for (int t = 2; t <= 4; t += 2)
		for (int prefetch = 1; prefetch <= 3; prefetch += 2) {
			c.threads = t;
			c.prefetch = prefetch;
			other = run(&c, &s, 0);
			assert_records_equal(&one, &other);
			record_free(&other);
		}
	c.seed = 1235;
	other = run(&c, &s, 0);
	assert_memory_not_equal(one.images, other.images, (size_t)one.pix * 3 * sizeof(float));
	record_free(&other);
	record_free(&one);
}

static void test_sample_streams_are_seed_epoch_position(void **state)
{
	struct synth s = {.count = 9, .w = 30, .h = 20};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct record r;
	float *img = xmalloc(3 * 24 * 16 * sizeof(float));
	uint8_t *lab = xmalloc(24 * 16);

	(void)state;
	train_config(&c, 3, 2);
	c.epochs = 2;
	r = run(&c, &s, 0);
	assert_int_equal(r.samples, 18);
	for (int k = 0; k < r.samples; k++) {
		struct image im;
		struct label_image lb;
		struct rng g;

		assert_int_equal(synth_read(src.ctx, r.index[k], &im, &lb), KN_OK);
		rng_init_stream(&g, 1234, (uint64_t)(k / 9), (uint64_t)(k % 9));
		assert_int_equal(augment_sample(&c.aug, &im, &lb, &g, img, lab, NULL), KN_OK);
		assert_memory_equal(img, r.images + (size_t)k * 3 * r.pix, 3 * r.pix * sizeof(float));
		assert_memory_equal(lab, r.labels + (size_t)k * r.pix, r.pix);
		image_free(&im);
		label_free(&lb);
	}
	free(img);
	free(lab);
	record_free(&r);
}

/* Whether the count indices at v are a permutation of 0..count-1. */
static bool is_permutation(const int *v, int count)
{
	bool seen[SYNTH_MAX] = {false};

	for (int i = 0; i < count; i++) {
		if (v[i] < 0 || v[i] >= count || seen[v[i]])
			return false;
		seen[v[i]] = true;
	}
	return true;
}

static void test_shuffle_permutes_each_epoch(void **state)
{
	struct synth s = {.count = 20, .w = 8, .h = 8};
	struct loader_config c;
	struct record r, plain;

	(void)state;
	loader_config_default(&c, 5, 8, 8);
	c.seed = 7;
	c.epochs = 3;
	c.threads = 2;
	r = run(&c, &s, 0);
	assert_int_equal(r.batches, 12);
	for (int e = 0; e < 3; e++) {
		assert_true(is_permutation(r.index + 20 * e, 20));
		assert_int_equal(r.epoch[4 * e + 3], e);
		assert_int_equal(r.bindex[4 * e + 3], 3);
	}
	assert_memory_not_equal(r.index, r.index + 20, 20 * sizeof(int));
	assert_memory_not_equal(r.index + 20, r.index + 40, 20 * sizeof(int));
	c.shuffle = false;
	plain = run(&c, &s, 0);
	for (int k = 0; k < 60; k++)
		assert_int_equal(plain.index[k], k % 20);
	assert_memory_not_equal(r.index, plain.index, 20 * sizeof(int));
	record_free(&plain);
	record_free(&r);
}

static void test_partial_batch_and_end(void **state)
{
	struct synth s = {.count = 10, .w = 8, .h = 8};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	loader_config_default(&c, 4, 8, 8);
	c.drop_last = false;
	c.shuffle = false;
	c.epochs = 1;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_batches_per_epoch(l), 3);
	for (int j = 0; j < 3; j++) {
		assert_int_equal(loader_next(l, &b), 1);
		assert_int_equal(b->index, j);
		assert_int_equal(b->n, j < 2 ? 4 : 2);
		assert_int_equal(b->samples[b->n - 1], 4 * j + b->n - 1);
	}
	assert_int_equal(loader_next(l, &b), 0);
	assert_null(b);
	assert_int_equal(loader_next(l, &b), 0);
	loader_destroy(l);
	c.drop_last = true;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_batches_per_epoch(l), 2);
	loader_destroy(l);
}

static void test_bad_file_stops_with_its_name(void **state)
{
	struct synth s = {.count = 12, .w = 30, .h = 20};
	struct loader_config c;
	struct record r;

	(void)state;
	s.bad[7] = true;
	for (int t = 1; t <= 4; t *= 2) {
		train_config(&c, 3, t);
		c.shuffle = false;
		r = run(&c, &s, 0);
		assert_int_equal(r.batches, 2);
		assert_int_equal(r.err, KN_EFORMAT);
		assert_non_null(strstr(r.msg, "img_007.png"));
		record_free(&r);
	}
}

static void test_bad_files_skipped_and_counted(void **state)
{
	struct synth s = {.count = 12, .w = 30, .h = 20};
	struct loader_config c;
	struct record one, four;
	const int want[12] = {0, 1, 2, 3, 6, 6, 6, 7, 8, 9, 10, 11};

	(void)state;
	s.bad[4] = s.bad[5] = true;
	train_config(&c, 3, 1);
	c.shuffle = false;
	c.skip_bad = true;
	c.epochs = 2;
	one = run(&c, &s, 0);
	assert_int_equal(one.err, 0);
	assert_int_equal(one.batches, 8);
	/* Positions 4 and 5 take the next readable sample, 6, with their own streams. */
	assert_memory_equal(one.index, want, sizeof(want));
	assert_int_equal(one.skipped[0], 0);
	assert_int_equal(one.skipped[1], 2);
	assert_int_equal(one.skipped[5], 2);
	assert_memory_not_equal(one.images + 4 * 3 * one.pix, one.images + 5 * 3 * one.pix,
				3 * one.pix * sizeof(float));
	c.threads = 4;
	four = run(&c, &s, 0);
	assert_records_equal(&one, &four);
	record_free(&four);
	record_free(&one);
	/* Nothing readable: an error, not an endless search. */
	for (int i = 0; i < 12; i++)
		s.bad[i] = true;
	one = run(&c, &s, 0);
	assert_int_equal(one.batches, 0);
	assert_int_equal(one.err, KN_EIO);
	assert_non_null(strstr(one.msg, "no readable sample"));
	record_free(&one);
}

static void test_skip_message_kept(void **state)
{
	struct synth s = {.count = 6, .w = 30, .h = 20};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	s.bad[1] = true;
	train_config(&c, 3, 2);
	c.shuffle = false;
	c.skip_bad = true;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(b->skipped, 1);
	assert_non_null(strstr(b->skip_msg, "img_001.png"));
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(b->skipped, 0);
	assert_string_equal(b->skip_msg, "");
	loader_destroy(l);
}

static void test_shutdown_mid_epoch(void **state)
{
	struct synth s = {.count = 100, .w = 60, .h = 40};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	train_config(&c, 4, 4);
	c.prefetch = 3;
	/* Straight away, while the workers fill the ring. */
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	loader_destroy(l);
	/* After two of 25 batches, one of them held. */
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(b->index, 1);
	loader_destroy(l);
	/* After an error, with later batches prepared. */
	s.bad[30] = true;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	while (loader_next(l, &b) > 0)
		;
	assert_int_equal(loader_next(l, &b), KN_EFORMAT);
	loader_destroy(l);
	loader_destroy(NULL);
}

static void test_resume_at_epoch_and_batch(void **state)
{
	struct synth s = {.count = 11, .w = 30, .h = 20};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l;
	struct record full, resumed, part;
	size_t at = 5 * 3, pix;

	(void)state;
	train_config(&c, 3, 2);
	c.epochs = 3;
	full = run(&c, &s, 0);
	assert_int_equal(full.batches, 9);
	c.start_epoch = 1;
	c.start_batch = 2;
	c.threads = 1;
	resumed = run(&c, &s, 0);
	assert_int_equal(resumed.batches, 4);
	assert_int_equal(resumed.epoch[0], 1);
	assert_int_equal(resumed.bindex[0], 2);
	pix = (size_t)full.pix;
	assert_memory_equal(resumed.index, full.index + at, 12 * sizeof(int));
	assert_memory_equal(resumed.images, full.images + at * 3 * pix, 12 * 3 * pix * sizeof(float));
	assert_memory_equal(resumed.labels, full.labels + at * pix, 12 * pix);
	/* Endless streams resume the same way. */
	c.epochs = 0;
	part = run(&c, &s, 2);
	assert_memory_equal(part.images, resumed.images, 6 * 3 * pix * sizeof(float));
	/* Epochs of 11 / 3 = 3 batches: batch 3 does not exist. */
	c.start_batch = 3;
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	assert_null(l);
	record_free(&part);
	record_free(&resumed);
	record_free(&full);
}

/*
 * part's batches are the slice [first, first + count) of whole's batches of N from
 * whole's batch `from` on: the same epochs and batch indices, and the same samples,
 * images and labels, bit for bit.
 */
static void assert_slice_of(const struct record *whole, const struct record *part, int first,
			    int count, int batch, int from)
{
	size_t pix = (size_t)whole->pix;

	assert_int_equal(part->pix, whole->pix);
	assert_true(part->batches > 0 && from + part->batches <= whole->batches);
	for (int t = 0; t < part->batches; t++) {
		size_t at = (size_t)(from + t) * batch + first, mine = (size_t)t * count;

		assert_int_equal(part->n[t], count);
		assert_int_equal(part->epoch[t], whole->epoch[from + t]);
		assert_int_equal(part->bindex[t], whole->bindex[from + t]);
		assert_memory_equal(part->index + mine, whole->index + at, count * sizeof(int));
		assert_memory_equal(part->images + mine * 3 * pix, whole->images + at * 3 * pix,
				    count * 3 * pix * sizeof(float));
		assert_memory_equal(part->labels + mine * pix, whole->labels + at * pix,
				    count * pix);
	}
}

/*
 * The slices [0, 2) and [2, 4) of batches of 4 (augmented, shuffled) are the first and
 * last two samples of the whole batches, over three epochs of 2 batches, for 1 and 2
 * loader threads, and when resuming at (epoch 1, batch 1).
 */
static void test_slices_are_parts_of_the_batch(void **state)
{
	struct synth s = {.count = 11, .w = 30, .h = 20};
	struct loader_config c;
	struct record whole, part;

	(void)state;
	train_config(&c, 4, 1);
	c.epochs = 3;
	whole = run(&c, &s, 0);
	assert_int_equal(whole.batches, 6);
	for (int t = 1; t <= 2; t++)
		for (int first = 0; first < 4; first += 2) {
			c.threads = t;
			c.slice_first = first;
			c.slice_count = 2;
			part = run(&c, &s, 0);
			assert_int_equal(part.batches, 6);
			assert_slice_of(&whole, &part, first, 2, 4, 0);
			record_free(&part);
			c.start_epoch = 1;
			c.start_batch = 1;
			part = run(&c, &s, 0);
			assert_int_equal(part.batches, 3);
			assert_int_equal(part.epoch[0], 1);
			assert_int_equal(part.bindex[0], 1);
			assert_slice_of(&whole, &part, first, 2, 4, 3);
			record_free(&part);
			c.start_epoch = c.start_batch = 0;
		}
	/* An uneven split: one sample, then three. */
	c.slice_first = 1;
	c.slice_count = 3;
	part = run(&c, &s, 0);
	assert_slice_of(&whole, &part, 1, 3, 4, 0);
	record_free(&part);
	record_free(&whole);
}

/*
 * With skip_bad, a slice replaces a bad sample exactly as the whole batch does (the next
 * readable one in the epoch's order, with the bad position's stream), even when the
 * replacement lies in the other slice or in the next batch.
 */
static void test_slices_replace_bad_samples_alike(void **state)
{
	struct synth s = {.count = 12, .w = 30, .h = 20};
	struct loader_config c;
	struct record whole, part[2];
	const int want[8] = {0, 2, 2, 4, 4, 5, 6, 7};

	(void)state;
	s.bad[1] = s.bad[3] = true;
	for (int shuffle = 0; shuffle < 2; shuffle++) {
		train_config(&c, 4, 2);
		c.shuffle = shuffle;
		c.skip_bad = true;
		c.epochs = 2;
		whole = run(&c, &s, 0);
		assert_int_equal(whole.err, 0);
		if (!shuffle)
			assert_memory_equal(whole.index, want, sizeof(want));
		for (int p = 0; p < 2; p++) {
			c.slice_first = 2 * p;
			c.slice_count = 2;
			part[p] = run(&c, &s, 0);
			assert_int_equal(part[p].err, 0);
			assert_slice_of(&whole, &part[p], 2 * p, 2, 4, 0);
		}
		/* Each slice counts its own replacements. */
		for (int t = 0; t < whole.batches; t++)
			assert_int_equal(part[0].skipped[t] + part[1].skipped[t], whole.skipped[t]);
		if (!shuffle)
			assert_true(part[0].skipped[0] == 1 && part[1].skipped[0] == 1);
		record_free(&part[0]);
		record_free(&part[1]);
		record_free(&whole);
	}
}

static void test_eval_in_order_full_images(void **state)
{
	struct synth s = {.count = 5, .w = 17, .h = 9, .vary = 3};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	loader_config_eval(&c);
	c.threads = 2;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	for (int i = 0; i < 5; i++) {
		struct loader_sample one;

		assert_int_equal(loader_next(l, &b), 1);
		assert_int_equal(b->n, 1);
		assert_int_equal(b->samples[0], i);
		assert_int_equal(b->w, 17 + i % 3);
		assert_int_equal(b->h, 9);
		assert_int_equal(loader_read_sample(&src, &c.aug, i, NULL, &one), KN_OK);
		assert_int_equal(one.w, b->w);
		assert_memory_equal(one.image, b->images, 3 * (size_t)one.w * one.h * sizeof(float));
		assert_memory_equal(one.label, b->labels, (size_t)one.w * one.h);
		loader_sample_free(&one);
	}
	assert_int_equal(loader_next(l, &b), 0);
	loader_destroy(l);
	/* Batches of images of different sizes are refused, naming the sample. */
	c.batch = 2;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_next(l, &b), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "sample 1"));
	loader_destroy(l);
}

static void test_bad_settings(void **state)
{
	struct synth s = {.count = 3, .w = 8, .h = 8};
	struct loader_source src = synth_source(&s);
	struct loader_config c;
	struct loader *l = (struct loader *)&s;

	(void)state;
	loader_config_default(&c, 4, 8, 8);
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	assert_null(l);
	assert_non_null(strstr(kn_errmsg(), "no full batch"));
	loader_config_default(&c, 2, 8, 8);
	c.threads = 0;
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	loader_config_default(&c, 2, 0, 8);
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	loader_config_default(&c, 2, 8, 8);
	c.aug.std[0] = -1.0f;
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	/* Slices: inside the batch, not empty unless the whole batch, with drop_last. */
	{
		const int bad[][2] = {{-1, 1}, {0, -1}, {1, 2}, {0, 3}, {2, 1}, {1, 0}};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			loader_config_default(&c, 2, 8, 8);
			c.slice_first = bad[i][0];
			c.slice_count = bad[i][1];
			l = (struct loader *)&s;
			assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
			assert_null(l);
			assert_non_null(strstr(kn_errmsg(), "slice"));
		}
	}
	loader_config_default(&c, 2, 8, 8);
	c.slice_first = 1;
	c.slice_count = 1;
	c.drop_last = false;
	assert_int_equal(loader_create(&l, &c, &src), KN_EINVAL);
	assert_non_null(strstr(kn_errmsg(), "drop_last"));
	c.drop_last = true;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	loader_destroy(l);
}

/* Writes a list dataset of 4 samples in dir whose third image is not an image. */
static void write_list_with_bad_file(const char *dir, char *list, size_t size)
{
	char path[600];
	FILE *f;

	snprintf(list, size, "%s/train.txt", dir);
	f = fopen(list, "w");
	assert_non_null(f);
	for (int i = 0; i < 4; i++) {
		struct image img;
		struct label_image lab;

		image_init(&img, 20, 12);
		label_init(&lab, 20, 12, 8);
		memset(img.rgb, 40 * i, (size_t)20 * 12 * 3);
		memset(lab.u8, i, (size_t)20 * 12);
		snprintf(path, sizeof(path), "%s/img%d.png", dir, i);
		if (i == 2)
			assert_int_equal(atomic_write_file(path, "not an image", 12), KN_OK);
		else
			assert_int_equal(image_write_png(path, &img), KN_OK);
		snprintf(path, sizeof(path), "%s/lab%d.png", dir, i);
		assert_int_equal(label_write_png(path, &lab), KN_OK);
		fprintf(f, "img%d.png lab%d.png\n", i, i);
		image_free(&img);
		label_free(&lab);
	}
	assert_int_equal(fclose(f), 0);
}

static void test_dataset_bad_file_named(void **state)
{
	char *dir = tmpdir_create(), list[600];
	struct dataset d;
	struct class_table t;
	struct loader_source src;
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	write_list_with_bad_file(dir, list, sizeof(list));
	class_table_camvid(&t);
	assert_int_equal(dataset_open_list(&d, list, &t), KN_OK);
	loader_source_dataset(&src, &d);
	loader_config_default(&c, 1, 16, 8);
	c.shuffle = false;
	c.threads = 2;
	c.epochs = 1;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	assert_int_equal(loader_next(l, &b), 1);
	assert_int_equal(loader_next(l, &b), 1);
	assert_true(loader_next(l, &b) < 0);
	assert_non_null(strstr(kn_errmsg(), "img2.png"));
	loader_destroy(l);
	c.skip_bad = true;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(loader_next(l, &b), 1);
		assert_int_equal(b->samples[0], i == 2 ? 3 : i);
		assert_int_equal(b->skipped, i == 2);
		/* The window starts at the output's top-left corner: never padding. */
		assert_int_equal(b->labels[0], i == 2 ? 3 : i);
	}
	assert_int_equal(loader_next(l, &b), 0);
	loader_destroy(l);
	dataset_free(&d);
	tmpdir_remove(dir);
}

static void test_camvid_list(void **state)
{
	const char *dir = shared_data_dir();
	char list[1024];
	struct dataset d;
	struct class_table t;
	struct loader_source src;
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;

	(void)state;
	if (!dir)
		skip();
	snprintf(list, sizeof(list), "%s/camvid/train.txt", dir);
	class_table_camvid(&t);
	assert_int_equal(dataset_open_list(&d, list, &t), KN_OK);
	assert_int_equal(d.count, 367);
	loader_source_dataset(&src, &d);
	loader_config_default(&c, 2, 160, 120);
	c.threads = 2;
	assert_int_equal(loader_create(&l, &c, &src), KN_OK);
	for (int j = 0; j < 2; j++) {
		assert_int_equal(loader_next(l, &b), 1);
		for (int i = 0; i < 2 * 160 * 120; i++)
			assert_true(b->labels[i] < 11 || b->labels[i] == 255);
	}
	loader_destroy(l);
	dataset_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_batches_for_any_thread_count),
		cmocka_unit_test(test_sample_streams_are_seed_epoch_position),
		cmocka_unit_test(test_shuffle_permutes_each_epoch),
		cmocka_unit_test(test_partial_batch_and_end),
		cmocka_unit_test(test_bad_file_stops_with_its_name),
		cmocka_unit_test(test_bad_files_skipped_and_counted),
		cmocka_unit_test(test_skip_message_kept),
		cmocka_unit_test(test_shutdown_mid_epoch),
		cmocka_unit_test(test_resume_at_epoch_and_batch),
		cmocka_unit_test(test_slices_are_parts_of_the_batch),
		cmocka_unit_test(test_slices_replace_bad_samples_alike),
		cmocka_unit_test(test_eval_in_order_full_images),
		cmocka_unit_test(test_bad_settings),
		cmocka_unit_test(test_dataset_bad_file_named),
		cmocka_unit_test(test_camvid_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
