/*
 * Tests of nets/optim.c: SGD (momentum, Nesterov, weight decay) and AdamW. Closed-form
 * first steps, the state layout, the weight-decay mask, five steps against
 * torch.optim in double (scripts/ref_optim.py), resuming from saved state, and
 * thread-count independence.
 */
#include "tests/testutil.h"

#include "io/alloc.h"
#include "nets/gemm.h"
#include "nets/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_state_floats(void **state)
{
	(void)state;
	assert_int_equal(optim_state_floats(OPTIM_SGD, 1000), 1000);
	assert_int_equal(optim_state_floats(OPTIM_ADAMW, 1000), 2000);
}

static void test_sgd_plain_and_first_momentum_step(void **state)
{
	float p[3] = {1.0f, -2.0f, 0.5f}, q[3], s[3] = {9, 9, 9};
	const float g[3] = {0.25f, 1.0f, -4.0f};
	struct optim_config cfg = optim_sgd_config(0.1, 0.0, 0.01, false);
	struct optim o;

	(void)state;
	memcpy(q, p, sizeof(p));
	optim_init(&o, &cfg, 3, s, NULL);
	assert_true(o.step == 0 && s[0] == 0.0f);
	optim_step(&o, p, g);
	for (int i = 0; i < 3; i++)
		assert_true(p[i] == q[i] + -0.1f * (g[i] + 0.01f * q[i]));
	/* With momentum the first step equals the plain step and stores d in the buffer. */
	cfg = optim_sgd_config(0.1, 0.9, 0.01, false);
	memcpy(p, q, sizeof(p));
	optim_init(&o, &cfg, 3, s, NULL);
	optim_step(&o, p, g);
	assert_int_equal(o.step, 1);
	for (int i = 0; i < 3; i++) {
		float d = g[i] + 0.01f * q[i];

		assert_true(s[i] == d);
		assert_true(p[i] == q[i] + -0.1f * d);
	}
	/* Second step: buf = 0.9 buf + d, p -= lr buf. */
	memcpy(q, p, sizeof(p));
	{
		float old[3];

		memcpy(old, s, sizeof(s));
		optim_step(&o, p, g);
		for (int i = 0; i < 3; i++) {
			float buf = old[i] * 0.9f + (g[i] + 0.01f * q[i]);

			assert_true(s[i] == buf);
			assert_true(p[i] == q[i] + -0.1f * buf);
		}
	}
}

static void test_adamw_first_step(void **state)
{
	float p[4] = {1.0f, -1.0f, 0.5f, 2.0f}, s[8];
	const float q[4] = {1.0f, -1.0f, 0.5f, 2.0f}, g[4] = {3.0f, -0.001f, 0.0f, 1e-3f};
	struct optim_config cfg = optim_adamw_config(1e-3, 1e-2);
	struct optim o;

	(void)state;
	optim_init(&o, &cfg, 4, s, NULL);
	optim_step(&o, p, g);
	/* m = 0.1 g, v = 0.001 g^2; bias-corrected the update is lr * g / (|g| + eps). */
	for (int i = 0; i < 4; i++) {
		double want = q[i] * (1 - 1e-5) - 1e-3 * g[i] / (fabs(g[i]) + 1e-8);

		assert_true(fabs(s[i] - 0.1 * g[i]) <= 1e-7 * fabs(g[i]));
		assert_true(fabs(s[4 + i] - 0.001 * g[i] * g[i]) <= 1e-6 * g[i] * g[i]);
		assert_true(fabs(p[i] - want) < 1e-6);
	}
}

/* mask[i] == 0 behaves exactly as weight decay 0 for that parameter. */
static void test_decay_mask(void **state)
{
	enum { N = 6 };
	const uint8_t mask[N] = {1, 0, 1, 0, 0, 1};
	const float g[N] = {0.1f, -0.2f, 0.3f, 0.0f, 1.0f, -1.0f};

	(void)state;
	for (int kind = 0; kind < 2; kind++) {
		struct optim_config with = kind ? optim_adamw_config(0.01, 0.5) :
						  optim_sgd_config(0.01, 0.9, 0.5, true);
		struct optim_config without = with;
		float pm[N], pd[N], p0[N], sm[2 * N], sd[2 * N], s0[2 * N];
		struct optim om, od, o0;

		without.weight_decay = 0;
		fill_uniform(pm, N, -1, 1, 5);
		memcpy(pd, pm, sizeof(pm));
		memcpy(p0, pm, sizeof(pm));
		optim_init(&om, &with, N, sm, mask);
		optim_init(&od, &with, N, sd, NULL);
		optim_init(&o0, &without, N, s0, NULL);
		for (int step = 0; step < 3; step++) {
			optim_step(&om, pm, g);
			optim_step(&od, pd, g);
			optim_step(&o0, p0, g);
		}
		for (int i = 0; i < N; i++)
			assert_true(pm[i] == (mask[i] ? pd[i] : p0[i]));
	}
}

/* "optim_<name>_<tensor>" in a static buffer, used at once by fixture_load. */
static const char *fixture_name(const char *name, const char *tensor)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "optim_%s_%s", name, tensor);
	return buf;
}

static void check_fixture(const char *name, const struct optim_config *cfg, bool masked)
{
	enum { N = 24, STEPS = 5 };
	struct npy_array p0, grads, params;
	float p[N], s[2 * N];
	uint8_t mask[N];
	struct optim o;

	fixture_load_shape(fixture_name(name, "p0"), &p0, 1, N);
	fixture_load_shape(fixture_name(name, "grads"), &grads, 2, STEPS, N);
	fixture_load_shape(fixture_name(name, "params"), &params, 2, STEPS, N);
	/* The reference's second parameter group (the second half) has no decay. */
	for (int i = 0; i < N; i++)
		mask[i] = i < N / 2;
	memcpy(p, p0.data, sizeof(p));
	optim_init(&o, cfg, N, s, masked ? mask : NULL);
	for (int step = 0; step < STEPS; step++) {
		char what[64];

		optim_step(&o, p, grads.data + step * N);
		snprintf(what, sizeof(what), "%s step %d", name, step + 1);
		/*
		 * float updates against the double reference: each step adds a few ulps of
		 * |p| ~ 1, so 1e-5 relative with an absolute floor for parameters near 0.
		 */
		assert_allclose(what, p, params.data + step * N, N, 1e-5, 1e-6);
	}
	npy_free(&p0);
	npy_free(&grads);
	npy_free(&params);
}

static void test_fixtures(void **state)
{
	struct optim_config c;

	(void)state;
	c = optim_sgd_config(0.01, 0.9, 5e-4, false);
	check_fixture("sgd", &c, false);
	c = optim_sgd_config(0.01, 0.9, 5e-4, true);
	check_fixture("sgdnesterov", &c, false);
	c = optim_sgd_config(0.01, 0.9, 0.5, false);
	check_fixture("sgdmask", &c, true);
	c = optim_adamw_config(1e-3, 1e-2);
	check_fixture("adamw", &c, false);
	c = optim_adamw_config(1e-3, 5.0);
	check_fixture("adamwmask", &c, true);
}

/*
 * Saving the state and the step count and continuing in a fresh struct optim (what a
 * checkpoint resume does) gives the same bits as running straight through.
 */
static void test_resume_from_state(void **state)
{
	enum { N = 50, STEPS = 6, SPLIT = 3 };
	float g[STEPS][N];

	(void)state;
	for (int t = 0; t < STEPS; t++)
		fill_uniform(g[t], N, -1, 1, 200 + (uint64_t)t);
	for (int kind = 0; kind < 2; kind++) {
		struct optim_config cfg = kind ? optim_adamw_config(1e-3, 1e-2) :
						 optim_sgd_config(0.05, 0.9, 5e-4, false);
		float a[N], b[N], sa[2 * N], sb[2 * N], saved[2 * N];
		size_t ns = optim_state_floats(cfg.kind, N);
		struct optim oa, ob;
		int64_t step;

		fill_uniform(a, N, -1, 1, 7);
		memcpy(b, a, sizeof(a));
		optim_init(&oa, &cfg, N, sa, NULL);
		optim_init(&ob, &cfg, N, sb, NULL);
		for (int t = 0; t < STEPS; t++)
			optim_step(&oa, a, g[t]);
		for (int t = 0; t < SPLIT; t++)
			optim_step(&ob, b, g[t]);
		memcpy(saved, sb, ns * sizeof(float));
		step = ob.step;
		/* A fresh optimizer, as after loading a checkpoint. */
		optim_init(&ob, &cfg, N, sb, NULL);
		memcpy(sb, saved, ns * sizeof(float));
		ob.step = step;
		for (int t = SPLIT; t < STEPS; t++)
			optim_step(&ob, b, g[t]);
		assert_memory_equal(a, b, sizeof(a));
		assert_memory_equal(sa, sb, ns * sizeof(float));
		assert_true(oa.step == STEPS && ob.step == STEPS);
	}
}

/* A learning rate set between steps (the schedule) is the one used. */
static void test_lr_change_between_steps(void **state)
{
	float p[2] = {1, 1}, s[2];
	const float g[2] = {1, -1};
	struct optim_config cfg = optim_sgd_config(0.5, 0.0, 0.0, false);
	struct optim o;

	(void)state;
	optim_init(&o, &cfg, 2, s, NULL);
	optim_step(&o, p, g);
	o.cfg.lr = 0.25;
	optim_step(&o, p, g);
	assert_true(p[0] == 0.25f && p[1] == 1.75f);
}

static void test_threads_bitwise(void **state)
{
	const size_t n = 300007;
	float *g = xmalloc(n * sizeof(float)), *p[2], *s[2];
	uint8_t *mask = xmalloc(n);
	int saved = kn_get_threads();

	(void)state;
	fill_uniform(g, n, -1, 1, 301);
	for (size_t i = 0; i < n; i++)
		mask[i] = i % 3 != 0;
	for (int kind = 0; kind < 2; kind++) {
		struct optim_config cfg = kind ? optim_adamw_config(1e-3, 1e-2) :
						 optim_sgd_config(0.01, 0.9, 5e-4, true);
		size_t ns = optim_state_floats(cfg.kind, n);

		for (int t = 0; t < 2; t++) {
			struct optim o;

			kn_set_threads(t + 1);
			p[t] = xmalloc(n * sizeof(float));
			s[t] = xmalloc(ns * sizeof(float));
			fill_uniform(p[t], n, -1, 1, 302);
			optim_init(&o, &cfg, n, s[t], mask);
			for (int step = 0; step < 3; step++)
				optim_step(&o, p[t], g);
		}
		kn_set_threads(saved);
		assert_memory_equal(p[0], p[1], n * sizeof(float));
		assert_memory_equal(s[0], s[1], ns * sizeof(float));
		for (int t = 0; t < 2; t++) {
			free(p[t]);
			free(s[t]);
		}
	}
	free(g);
	free(mask);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_floats),
		cmocka_unit_test(test_sgd_plain_and_first_momentum_step),
		cmocka_unit_test(test_adamw_first_step),
		cmocka_unit_test(test_decay_mask),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_resume_from_state),
		cmocka_unit_test(test_lr_change_between_steps),
		cmocka_unit_test(test_threads_bitwise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
