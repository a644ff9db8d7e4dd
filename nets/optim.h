/*
 * Optimizers over the flat parameter layout: every parameter of a model lives in one
 * float array, its gradient at the same offset of a second array and its optimizer
 * state at the same offset of each state slice, so a step is one loop over n floats.
 * Both follow PyTorch 1.13's torch.optim exactly (same formulas, same order of the
 * float operations):
 *
 * SGD (dampening 0), g the gradient, p the parameter:
 *     d = g + wd * p
 *     buf = d on the first step, else buf = momentum * buf + d   (when momentum != 0)
 *     d = nesterov ? d + momentum * buf : buf                   (when momentum != 0)
 *     p -= lr * d
 *
 * AdamW, t the 1-based step:
 *     p *= 1 - lr * wd
 *     m = beta1 * m + (1 - beta1) * g
 *     v = beta2 * v + (1 - beta2) * g * g
 *     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * State layout (what a training checkpoint saves to resume exactly):
 *   SGD:   state[0, n)   momentum buffer (unused when momentum is 0)
 *   AdamW: state[0, n)   m (exp_avg),  state[n, 2n)  v (exp_avg_sq)
 * plus struct optim.step, the number of steps taken, which the state is meaningless
 * without (SGD's first step and AdamW's bias corrections depend on it). The
 * hyperparameters are configuration, not state; lr may change between steps (the
 * learning-rate schedule writes cfg.lr before each step).
 *
 * Weight decay applies to every parameter, as in PyTorch, unless a decay mask is given:
 * decay_mask[i] == 0 exempts parameter i (for instance biases), like a PyTorch parameter
 * group with weight_decay 0.
 *
 * Ownership: the caller owns params, grads, state and the mask; struct optim only
 * points at the state and the mask.
 */
#ifndef KNSEG_NETS_OPTIM_H
#define KNSEG_NETS_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum optim_kind { OPTIM_SGD, OPTIM_ADAMW };

struct optim_config {
	enum optim_kind kind;
	double lr;
	double weight_decay;
	double momentum;    /* SGD */
	bool nesterov;      /* SGD; needs momentum > 0 */
	double beta1, beta2; /* AdamW */
	double eps;         /* AdamW */
};

struct optim {
	struct optim_config cfg;
	size_t n;                  /* parameters */
	int64_t step;              /* steps taken */
	float *state;              /* optim_state_floats(cfg.kind, n) floats */
	const uint8_t *decay_mask; /* (n) or NULL: every parameter decays */
};

/* PyTorch's defaults: SGD momentum 0, wd 0; AdamW betas (0.9, 0.999), eps 1e-8, wd 1e-2. */
struct optim_config optim_sgd_config(double lr, double momentum, double weight_decay,
				     bool nesterov);
struct optim_config optim_adamw_config(double lr, double weight_decay);

/* Floats of state for n parameters: n for SGD, 2n for AdamW. */
size_t optim_state_floats(enum optim_kind kind, size_t n);

/* Zeroes the state and the step count. CHECKs the configuration. */
void optim_init(struct optim *o, const struct optim_config *cfg, size_t n, float *state,
		const uint8_t *decay_mask);

/* One update of params (n) from grads (n); increments o->step. */
void optim_step(struct optim *o, float *params, const float *grads);

#endif
