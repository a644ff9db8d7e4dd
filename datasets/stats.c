/*
 * Dataset statistics for knseg data. See stats.h. Each sample is inspected on its own
 * (image, label, their sizes) into a per-sample slot; the slots are then summed in
 * sample order by one thread.
 */
#include "datasets/stats.h"
#include "datasets/dataset_build.h"
#include "io/alloc.h"
#include "io/error.h"

#include <stdlib.h>
#include <string.h>

struct sample_result {
	int w, h;           /* image size, 0 when the image could not be read */
	bool label_ok;      /* counts holds the label's pixels */
	char *msg[2];       /* image and label problems, NULL when none */
};

static char *copy_errmsg(void)
{
	return dataset_strdup(kn_errmsg());
}

/* Reads sample i; counts gets K + 1 pixel counts (the last for ignore). */
static void inspect_sample(const struct dataset *d, int i, struct sample_result *r,
			   uint64_t *counts)
{
	int k = d->classes.num_classes;
	struct label_image lab;
	struct image img;
	uint64_t hist[256] = {0};
	size_t n;

	if (image_read(d->samples[i].image, &img) == 0) {
		r->w = img.w;
		r->h = img.h;
		image_free(&img);
	} else {
		r->msg[0] = copy_errmsg();
	}
	if (dataset_read_label(d, i, &lab) < 0) {
		r->msg[1] = copy_errmsg();
		return;
	}
	if (!lab.u8)
		return;
	if (r->w && (lab.w != r->w || lab.h != r->h)) {
		kn_error(KN_EMISMATCH, "label '%s' is %dx%d but its image '%s' is %dx%d",
			 d->samples[i].label, lab.w, lab.h, d->samples[i].image, r->w, r->h);
		r->msg[1] = copy_errmsg();
	} else if (r->w) {
		n = (size_t)lab.w * (size_t)lab.h;
		for (size_t p = 0; p < n; p++)
			hist[lab.u8[p]]++;
		for (int c = 0; c < k; c++)
			counts[c] = hist[c];
		counts[k] = hist[CLASS_IGNORE];
		r->label_ok = true;
	}
	label_free(&lab);
}

static void add_size(struct dataset_stats *s, int w, int h)
{
	for (int j = 0; j < s->num_sizes; j++) {
		if (s->sizes[j].w == w && s->sizes[j].h == h) {
			s->sizes[j].count++;
			return;
		}
	}
	s->sizes = xrealloc(s->sizes, (size_t)(s->num_sizes + 1) * sizeof(*s->sizes));
	s->sizes[s->num_sizes++] = (struct dataset_size){w, h, 1};
}

static int cmp_size(const void *pa, const void *pb)
{
	const struct dataset_size *a = pa, *b = pb;

	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->w != b->w)
		return a->w < b->w ? -1 : 1;
	return (a->h > b->h) - (a->h < b->h);
}

/* Sums the per-sample results in sample order. */
static void reduce(const struct dataset *d, struct sample_result *res, const uint64_t *counts,
		   struct dataset_stats *s)
{
	int k = d->classes.num_classes;

	for (int i = 0; i < d->count; i++) {
		struct sample_result *r = &res[i];

		if (r->w)
			add_size(s, r->w, r->h);
		for (int m = 0; m < 2; m++) {
			if (r->msg[m])
				dataset_problem_add(&s->bad, "%s", r->msg[m]);
			free(r->msg[m]);
		}
		if (!r->label_ok)
			continue;
		s->labelled++;
		for (int c = 0; c < k; c++)
			s->class_pixels[c] += counts[(size_t)i * (size_t)(k + 1) + (size_t)c];
		s->ignore_pixels += counts[(size_t)i * (size_t)(k + 1) + (size_t)k];
	}
	for (int c = 0; c < k; c++)
		s->label_pixels += s->class_pixels[c];
	s->label_pixels += s->ignore_pixels;
	if (s->num_sizes > 1)
		qsort(s->sizes, (size_t)s->num_sizes, sizeof(*s->sizes), cmp_size);
}

void dataset_stats_compute(const struct dataset *d, struct dataset_stats *s)
{
	int k = d->classes.num_classes;
	struct sample_result *res = xcalloc((size_t)d->count + 1, sizeof(*res));
	uint64_t *counts = xcalloc((size_t)(d->count + 1) * (size_t)(k + 1), sizeof(*counts));

	memset(s, 0, sizeof(*s));
	s->images = d->count;
	s->num_classes = k;
	/* Dynamic scheduling: decode times vary a lot between files. */
#pragma omp parallel for schedule(dynamic, 1)
	for (int i = 0; i < d->count; i++)
		inspect_sample(d, i, &res[i], counts + (size_t)i * (size_t)(k + 1));
	reduce(d, res, counts, s);
	free(res);
	free(counts);
}

void dataset_stats_free(struct dataset_stats *s)
{
	free(s->sizes);
	dataset_problems_free(&s->bad);
	memset(s, 0, sizeof(*s));
}
