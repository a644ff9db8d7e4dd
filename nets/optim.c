/*
 * SGD and AdamW. See optim.h.
 *
 * Scalars are computed in double and rounded to float once, as PyTorch passes Python
 * floats to float tensor ops; the per-element arithmetic is float in PyTorch's order.
 * Each element is independent, so the static OpenMP split gives the same bits for any
 * thread count.
 */
#include "nets/optim.h"

#include "io/error.h"

#include <math.h>
#include <string.h>

/* Below this many parameters the update stays on the calling thread. */
#define OPTIM_PARALLEL_MIN 32768

struct optim_config optim_sgd_config(double lr, double momentum, double weight_decay,
				     bool nesterov)
{
	struct optim_config c = {
		.kind = OPTIM_SGD, .lr = lr, .weight_decay = weight_decay,
		.momentum = momentum, .nesterov = nesterov,
	};

	return c;
}

struct optim_config optim_adamw_config(double lr, double weight_decay)
{
	struct optim_config c = {
		.kind = OPTIM_ADAMW, .lr = lr, .weight_decay = weight_decay,
		.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
	};

	return c;
}

size_t optim_state_floats(enum optim_kind kind, size_t n)
{
	return kind == OPTIM_ADAMW ? 2 * n : n;
}

void optim_init(struct optim *o, const struct optim_config *cfg, size_t n, float *state,
		const uint8_t *decay_mask)
{
	CHECK(cfg->kind == OPTIM_SGD || cfg->kind == OPTIM_ADAMW);
	CHECK(cfg->lr >= 0 && cfg->weight_decay >= 0);
	if (cfg->kind == OPTIM_SGD) {
		CHECK(cfg->momentum >= 0);
		CHECK(!cfg->nesterov || cfg->momentum > 0);
	} else {
		CHECK(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 && cfg->beta2 < 1);
		CHECK(cfg->eps >= 0);
	}
	CHECK(state || n == 0);
	o->cfg = *cfg;
	o->n = n;
	o->step = 0;
	o->state = state;
	o->decay_mask = decay_mask;
	if (n)
		memset(state, 0, optim_state_floats(cfg->kind, n) * sizeof(float));
}

/* The weight decay of parameter i. */
static inline float optim_decay(const uint8_t *mask, size_t i, float wd)
{
	return !mask || mask[i] ? wd : 0.0f;
}

static void optim_sgd_step(struct optim *o, float *params, const float *grads)
{
	const uint8_t *mask = o->decay_mask;
	float wd = (float)o->cfg.weight_decay, mom = (float)o->cfg.momentum;
	float neg_lr = (float)-o->cfg.lr;
	float *buf = o->state;
	bool first = o->step == 0, nesterov = o->cfg.nesterov, use_mom = mom != 0.0f;
	size_t n = o->n;

#pragma omp parallel for schedule(static) if (n >= OPTIM_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		float d = grads[i] + optim_decay(mask, i, wd) * params[i];

		if (use_mom) {
			buf[i] = first ? d : buf[i] * mom + d;
			d = nesterov ? d + mom * buf[i] : buf[i];
		}
		params[i] = params[i] + neg_lr * d;
	}
}

static void optim_adamw_step(struct optim *o, float *params, const float *grads)
{
	const uint8_t *mask = o->decay_mask;
	double t = (double)(o->step + 1), lr = o->cfg.lr;
	float b1 = (float)o->cfg.beta1, b2 = (float)o->cfg.beta2;
	float one_b1 = (float)(1 - o->cfg.beta1), one_b2 = (float)(1 - o->cfg.beta2);
	float decay = (float)(1 - lr * o->cfg.weight_decay);
	float neg_step = (float)(-lr / (1 - pow(o->cfg.beta1, t)));
	float bc2_sqrt = (float)sqrt(1 - pow(o->cfg.beta2, t)), eps = (float)o->cfg.eps;
	float *m = o->state, *v = o->state + o->n;
	size_t n = o->n;

#pragma omp parallel for schedule(static) if (n >= OPTIM_PARALLEL_MIN)
	for (size_t i = 0; i < n; i++) {
		float g = grads[i], p = params[i];

		if (!mask || mask[i])
			p = p * decay;
		m[i] = m[i] * b1 + one_b1 * g;
		v[i] = v[i] * b2 + one_b2 * g * g;
		params[i] = p + neg_step * (m[i] / (sqrtf(v[i]) / bc2_sqrt + eps));
	}
}

void optim_step(struct optim *o, float *params, const float *grads)
{
	if (o->cfg.kind == OPTIM_SGD)
		optim_sgd_step(o, params, grads);
	else
		optim_adamw_step(o, params, grads);
	o->step++;
}
