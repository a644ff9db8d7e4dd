/*
 * Benchmark of the data loader (datasets/loader.c): training batches of crops with the
 * default augmentation, from the real data in ../shared/data (or $KNSEG_SHARED_DATA).
 *
 *     build/release/tests/bench_loader [batches] [batch] [crop_w] [crop_h] [reps]
 *
 * Defaults: 12 batches of 8 crops 1024 wide and 512 high, 3 repetitions. Sources: the
 * Cityscapes frame (one 256x128 image, repeated as 64 samples: the crop is mostly
 * padding) and the CamVid train list (367 JPEG images of 480x360). For each source it
 * prints the time of the stages on one thread (reading, augmenting), then, for 1 and 2
 * loader threads, the loader's rate with a consumer that does nothing else:
 * "source threads batches/s images/s", medians over reps runs (alternating the thread
 * counts), each run timed after its first batch (thread start and the first fill).
 */
#include "datasets/dataset.h"
#include "datasets/loader.h"
#include "io/alloc.h"
#include "io/clock.h"
#include "io/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPS 32

struct bench {
	int batches, batch, crop_w, crop_h, reps;
};

/* A dataset seen as `count` samples, sample i being dataset sample i % d->count. */
struct repeat {
	const struct dataset *d;
};

static int repeat_read(void *ctx, int index, struct image *img, struct label_image *lab)
{
	const struct repeat *r = ctx;

	return dataset_read(r->d, index % r->d->count, img, lab);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Seconds per batch for `batches` batches after the first, or < 0 on a failure. */
static double time_loader(const struct bench *bn, const struct loader_source *src,
			  int threads, int rep)
{
	struct loader_config c;
	struct loader *l;
	const struct loader_batch *b;
	double t0 = 0;

	loader_config_default(&c, bn->batch, bn->crop_w, bn->crop_h);
	c.threads = threads;
	c.seed = (uint64_t)rep;
	if (loader_create(&l, &c, src) < 0)
		return -1;
	for (int j = 0; j <= bn->batches; j++) {
		if (loader_next(l, &b) <= 0) {
			loader_destroy(l);
			return -1;
		}
		if (j == 0)
			t0 = kn_seconds();
	}
	t0 = kn_seconds() - t0;
	loader_destroy(l);
	return t0 / bn->batches;
}

/* Median milliseconds per sample of reading, and of augmenting, on this thread. */
static void time_stages(const struct bench *bn, const struct loader_source *src)
{
	struct augment_config c;
	float *out = xmalloc((size_t)3 * bn->crop_w * bn->crop_h * sizeof(float));
	uint8_t *lab_out = xmalloc((size_t)bn->crop_w * bn->crop_h);
	double rd[MAX_REPS * 8], au[MAX_REPS * 8];
	int n = bn->reps * 8;

	augment_config_default(&c, bn->crop_w, bn->crop_h);
	for (int i = 0; i < n; i++) {
		struct image img;
		struct label_image lab;
		struct rng r;
		double t = kn_seconds();

		if (src->read(src->ctx, i % src->count, &img, &lab) < 0) {
			fprintf(stderr, "bench_loader: %s\n", kn_errmsg());
			exit(1);
		}
		rd[i] = kn_seconds() - t;
		rng_init_stream(&r, 1, 0, (uint64_t)i);
		t = kn_seconds();
		augment_sample(&c, &img, &lab, &r, out, lab_out, NULL);
		au[i] = kn_seconds() - t;
		image_free(&img);
		label_free(&lab);
	}
	qsort(rd, (size_t)n, sizeof(double), cmp_double);
	qsort(au, (size_t)n, sizeof(double), cmp_double);
	printf("  one thread, per sample: read %.2f ms, augment %.2f ms (medians of %d)\n",
	       rd[n / 2] * 1e3, au[n / 2] * 1e3, n);
	free(out);
	free(lab_out);
}

static void run_source(const struct bench *bn, const char *name,
		       const struct loader_source *src)
{
	double t[2][MAX_REPS];

	printf("%s: %d samples, batch %d, crop %dx%d, %d batches per run\n", name, src->count,
	       bn->batch, bn->crop_w, bn->crop_h, bn->batches);
	time_stages(bn, src);
	for (int r = 0; r < bn->reps; r++)
		for (int k = 0; k < 2; k++) {
			t[k][r] = time_loader(bn, src, k + 1, r);
			if (t[k][r] < 0) {
				fprintf(stderr, "bench_loader: %s\n", kn_errmsg());
				exit(1);
			}
		}
	for (int k = 0; k < 2; k++) {
		double m;

		qsort(t[k], (size_t)bn->reps, sizeof(double), cmp_double);
		m = t[k][bn->reps / 2];
		printf("%s threads %d  %.2f batches/s  %.1f images/s\n", name, k + 1, 1.0 / m,
		       bn->batch / m);
	}
}

static int arg(int argc, char **argv, int i, int def)
{
	return argc > i ? atoi(argv[i]) : def;
}

int main(int argc, char **argv)
{
	struct bench bn = {arg(argc, argv, 1, 12), arg(argc, argv, 2, 8), arg(argc, argv, 3, 1024),
			   arg(argc, argv, 4, 512), arg(argc, argv, 5, 3)};
	const char *dir = getenv("KNSEG_SHARED_DATA");
	char path[1024];
	struct dataset city, camvid;
	struct class_table t;
	struct loader_source src;
	struct repeat rep;

	if (bn.batches < 1 || bn.batch < 1 || bn.crop_w < 1 || bn.crop_h < 1 || bn.reps < 1 ||
	    bn.reps > MAX_REPS) {
		fprintf(stderr, "usage: bench_loader [batches] [batch] [crop_w] [crop_h] [reps]\n");
		return 2;
	}
	dir = dir && *dir ? dir : "../shared/data";
	snprintf(path, sizeof(path), "%s/cityscapes_frame", dir);
	if (dataset_open_cityscapes(&city, path, "val", false) < 0) {
		fprintf(stderr, "bench_loader: %s\n", kn_errmsg());
		return 1;
	}
	rep.d = &city;
	src = (struct loader_source){64, repeat_read, NULL, &rep};
	run_source(&bn, "cityscapes_frame", &src);
	dataset_free(&city);
	snprintf(path, sizeof(path), "%s/camvid/train.txt", dir);
	class_table_camvid(&t);
	if (dataset_open_list(&camvid, path, &t) < 0) {
		fprintf(stderr, "bench_loader: %s\n", kn_errmsg());
		return 1;
	}
	loader_source_dataset(&src, &camvid);
	run_source(&bn, "camvid", &src);
	dataset_free(&camvid);
	return 0;
}
