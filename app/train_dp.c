/*
 * knseg train --dp-clip C: differentially private training (DP-SGD, Abadi et al. 2016)
 * with one training image, all its pixels and crops, as the unit of privacy.
 *
 * An iteration: the images of the step are a Poisson sample (each in with probability
 * q = B / N, B the expected batch --batch, N the training images; nets/dp.h); each image
 * goes forward and backward alone (kernel normalization mixes no images, so that is
 * exactly its gradient), averaged over --dp-aug-mult augmentations of it, clipped to L2
 * norm C and added up; Gaussian noise of standard deviation sigma C is added to every
 * coordinate once (by rank 0 in a job of several processes, after which the ranks' sums
 * are added up); the sum is divided by B, the expected batch, and the optimizer takes its
 * step. The privacy spent follows from (q, sigma, iterations) by the accountant of
 * nets/privacy.h; with --dp-epsilon E, sigma is the smallest that keeps the whole planned
 * run within E.
 *
 * What reads the private labels outside this mechanism is refused: median-frequency
 * class weights (computed from every training label). Validation must use another split.
 */
#include "app/dist.h"
#include "app/train.h"
#include "io/alloc.h"
#include "io/error.h"
#include "io/rng.h"
#include "nets/dp.h"
#include "nets/privacy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The augmentation streams of private steps: (seed, tag | step, image * K + k), apart
 * from the loader's (seed, epoch, position) and the other tags of nets/dp.c. */
#define DP_AUG_TAG (UINT64_C(1) << 61)

double train_dp_epsilon(const struct train_run *r, int64_t steps)
{
	return privacy_epsilon_steps(r->dp.q, r->dp.sigma, steps, r->o.dp_delta, NULL);
}

int train_dp_plan(struct train_run *r)
{
	const struct train_opts *o = &r->o;
	int n = r->train.count;

	r->dp.on = o->dp_clip > 0;
	if (!r->dp.on)
		return 0;
	if (o->class_weights && !strcmp(o->class_weights, "median"))
		return kn_error(KN_EINVAL, "--class-weights median is computed from every training "
				"label, outside the private mechanism: give the weights (W1,W2,...) "
				"or none");
	r->dp.q = (double)o->batch / n;
	r->dp.per_epoch = n / o->batch;
	if (o->dp_noise >= 0) {
		r->dp.sigma = o->dp_noise;
		return 0;
	}
	if (privacy_sigma_for(r->dp.q, o->iters, o->dp_delta, o->dp_epsilon, &r->dp.sigma) < 0) {
		char why[512];

		snprintf(why, sizeof(why), "%s", kn_errmsg()); /* kn_error writes over it */
		return kn_error(KN_EINVAL, "no noise keeps %lld iterations at q = %.4g within epsilon "
				"%g at delta %g: %s", (long long)o->iters, r->dp.q, o->dp_epsilon,
				o->dp_delta, why);
	}
	return 0;
}

int train_dp_resumed(struct train_run *r, const struct safetensors_file *f)
{
	const char *sigma = safetensors_meta_get(f, "run.dp_noise");

	if (!r->dp.on)
		return 0;
	/* Its earlier iterations must have been private too, or no guarantee holds. */
	if (!sigma || !strcmp(sigma, "none"))
		return kn_error(KN_EMISMATCH, "'%s' comes from a run without differential privacy: "
				"a private run must be private from its first iteration", f->name);
	/* The run goes on with its own noise, whatever a new length would make of it. */
	r->dp.sigma = strtod(sigma, NULL);
	return 0;
}

int train_dp_start(struct train_run *r)
{
	size_t n;
	double spent;

	if (!r->dp.on)
		return 0;
	/* Every rank goes on with rank 0's noise (a resumed run's). */
	dist_broadcast(&r->dp.sigma, sizeof(r->dp.sigma));
	spent = train_dp_epsilon(r, r->o.iters);
	if (r->o.dp_epsilon > 0 && spent > r->o.dp_epsilon + PRIVACY_EPSILON_TOLERANCE)
		return kn_error(KN_EINVAL, "%lld iterations with noise %.4g would spend epsilon %.3f, "
				"more than the budget --dp-epsilon %g", (long long)r->o.iters,
				r->dp.sigma, spent, r->o.dp_epsilon);
	n = r->m->g.param_count;
	r->dp.sum = xmalloc_aligned(n * sizeof(float));
	r->dp.avg = xmalloc_aligned(n * sizeof(float));
	r->dp.idx = xmalloc((size_t)r->train.count * sizeof(int));
	return 0;
}

void train_dp_free(struct train_run *r)
{
	free(r->dp.sum);
	free(r->dp.avg);
	free(r->dp.idx);
}

/* One augmentation k of training image i, forward and backward; its loss. */
static int image_gradient(struct train_run *r, int i, int k, double *loss)
{
	struct model *m = r->m;
	struct loader_source src;
	struct loader_sample s;
	struct augment_config aug;
	size_t plane = (size_t)m->h * m->w;
	struct rng g;
	int err;

	train_augment_config(r, &aug);
	loader_source_dataset(&src, &r->train);
	rng_init_stream(&g, r->o.seed, DP_AUG_TAG | (uint64_t)r->ts.step,
			(uint64_t)i * (uint64_t)r->o.dp_aug_mult + (uint64_t)k);
	if ((err = loader_read_sample(&src, &aug, i, &g, &s)))
		return err;
	if (s.h > m->h || s.w > m->w) {
		loader_sample_free(&s);
		return kn_error(KN_EMISMATCH, "'%s' is %dx%d, larger than the network input %dx%d "
				"(--augment none needs images of one size)", r->train.samples[i].image,
				s.w, s.h, m->w, m->h);
	}
	model_set_input(m, 0, s.image, s.h, s.w);
	memset(r->labels, 255, plane);
	for (int y = 0; y < s.h; y++)
		memcpy(r->labels + (size_t)y * m->w, s.label + (size_t)y * s.w, (size_t)s.w);
	loader_sample_free(&s);
	m->step = r->ts.step;
	m->image_streams = true;
	m->image0 = (int64_t)i * r->o.dp_aug_mult + k;
	model_forward(m);
	*loss = model_backward(m, r->labels, r->weights);
	return 0;
}

int train_dp_gradients(struct train_run *r)
{
	size_t n = r->m->g.param_count;
	int count = dp_poisson_batch(r->o.seed, r->ts.step, r->train.count, r->dp.q, r->dp.idx);
	int mult = r->o.dp_aug_mult, err = 0;

	memset(r->dp.sum, 0, n * sizeof(float));
	r->dp.loss_sum = 0;
	r->dp.images = count;
	/* Rank r takes the images at r, r + P, ... of the step's batch. */
	for (int j = r->rank; j < count && !err; j += r->ranks) {
		int i = r->dp.idx[j];
		const float *g = r->m->grads;

		for (int k = 0; k < mult && !err; k++) {
			double loss = 0;

			if ((err = image_gradient(r, i, k, &loss)))
				break;
			r->dp.loss_sum += loss / mult;
			if (mult == 1)
				break;
			if (k == 0)
				memset(r->dp.avg, 0, n * sizeof(float));
			for (size_t p = 0; p < n; p++)
				r->dp.avg[p] += r->m->grads[p];
			g = r->dp.avg;
		}
		if (err)
			break;
		if (mult > 1)
			for (size_t p = 0; p < n; p++)
				r->dp.avg[p] /= (float)mult;
		dp_add_clipped(r->dp.sum, g, n, r->o.dp_clip);
	}
	/* The noise goes in once, with rank 0's part. */
	if (!err && r->rank == 0)
		err = dp_add_noise(r->dp.sum, n, r->dp.sigma * r->o.dp_clip, r->o.seed, r->ts.step,
				   r->o.dp_secure_noise);
	return err;
}

/*
 * The flat parameter array has alignment gaps between tensors; the noise went there too.
 * They hold no parameter, but the optimizer's state of them is saved with the rest, so
 * they are zeroed as a backward pass leaves them (and a resumed run writes the same).
 */
static void zero_gaps(const struct graph *g, float *v)
{
	size_t end = 0;

	/* Parameters lie in the array in the order of their ids (nets/graph.c). */
	for (int i = 0; i < g->nparams; i++) {
		if (g->params[i].offset > end)
			memset(v + end, 0, (g->params[i].offset - end) * sizeof(float));
		end = g->params[i].offset + g->params[i].count;
	}
	if (g->param_count > end)
		memset(v + end, 0, (g->param_count - end) * sizeof(float));
}

void train_dp_update(struct train_run *r, double lr)
{
	size_t n = r->m->g.param_count;
	float b = (float)r->o.batch;

	dist_sum_floats(r->dp.sum, n);
	for (size_t p = 0; p < n; p++)
		r->m->grads[p] = r->dp.sum[p] / b;
	zero_gaps(&r->m->g, r->m->grads);
	r->opt.cfg.lr = lr;
	optim_step(&r->opt, r->m->params, r->m->grads);
	r->ts.step++;
	r->ts.epoch = r->ts.step / r->dp.per_epoch;
	r->ts.batch = r->ts.step % r->dp.per_epoch;
}
