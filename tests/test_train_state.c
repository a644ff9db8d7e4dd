/*
 * What exact resumption rests on: the learning-rate schedule as a pure function of the
 * iteration, and training checkpoints that give back the optimizer state, its step count
 * and the run state bit for bit.
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/model.h"
#include "nets/optim.h"
#include "nets/schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_poly_schedule(void **state)
{
	struct lr_schedule s = lr_poly(0.01, 1000, 0);
	struct lr_schedule w = lr_poly(0.01, 1000, 100);

	(void)state;
	assert_true(lr_at(&s, 0) == 0.01);
	assert_true(fabs(lr_at(&s, 500) - 0.01 * pow(0.5, 0.9)) < 1e-15);
	assert_true(lr_at(&s, 1000) == 0.0);
	assert_true(lr_at(&s, 2000) == 0.0);
	for (int it = 1; it < 1000; it++)
		assert_true(lr_at(&s, it) < lr_at(&s, it - 1));
	/* Warm-up: from ratio * lr up to the poly value at the end of the warm-up. */
	assert_true(fabs(lr_at(&w, 0) - 1e-3 * 0.01) < 1e-15);
	assert_true(fabs(lr_at(&w, 50) - lr_at(&s, 50) * (1e-3 + 0.999 * 0.5)) < 1e-15);
	assert_true(lr_at(&w, 100) == lr_at(&s, 100));
	assert_true(lr_at(&w, 99) < lr_at(&s, 99));
}

static void round_trip(struct optim_config cfg)
{
	struct net_config nc = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 3);
	struct checkpoint_meta meta;
	struct train_state ts = {1234, 7, 42, 0xfedcba9876543210ULL, 0.123456789012345678, 1200};
	struct train_state back;
	struct optim o, o2;
	struct optim_config c2;
	struct safetensors_writer w;
	struct safetensors_file f;
	struct model *m;
	char *dir = tmpdir_create(), path[600];
	float *st, *st2, *grads;
	size_t n;

	nc.width = 0.02f;
	assert_int_equal(model_create(&m, &nc, 1, 32, 32, MODEL_EVAL), 0);
	model_init_weights(m, 1);
	n = m->g.param_count;
	st = calloc(optim_state_floats(cfg.kind, n), sizeof(float));
	grads = malloc(n * sizeof(float));
	fill_uniform(grads, n, -1, 1, 3);
	optim_init(&o, &cfg, n, st, NULL);
	for (int i = 0; i < 3; i++)
		optim_step(&o, m->params, grads);
	checkpoint_meta_default(&meta, &nc);
	strcpy(meta.kind, "train");
	safetensors_writer_init(&w);
	checkpoint_add_model(&w, &m->g, m->params, &meta);
	checkpoint_add_train(&w, &o, &ts);
	snprintf(path, sizeof(path), "%s/t.safetensors", dir);
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);

	assert_int_equal(safetensors_read(path, &f), 0);
	assert_int_equal(checkpoint_read_optim_config(&f, &c2), 0);
	assert_int_equal(c2.kind, cfg.kind);
	assert_true(c2.lr == cfg.lr && c2.weight_decay == cfg.weight_decay);
	assert_true(c2.momentum == cfg.momentum && c2.nesterov == cfg.nesterov);
	assert_true(c2.beta1 == cfg.beta1 && c2.beta2 == cfg.beta2 && c2.eps == cfg.eps);
	st2 = calloc(optim_state_floats(c2.kind, n), sizeof(float));
	optim_init(&o2, &c2, n, st2, NULL);
	assert_int_equal(checkpoint_read_train(&f, &o2, &back), 0);
	assert_true(o2.step == 3);
	assert_memory_equal(st, st2, optim_state_floats(cfg.kind, n) * sizeof(float));
	assert_true(back.step == ts.step && back.epoch == ts.epoch && back.batch == ts.batch);
	assert_true(back.seed == ts.seed && back.best_step == ts.best_step);
	assert_true(back.best_miou == ts.best_miou);
	safetensors_free(&f);
	free(st), free(st2), free(grads);
	model_destroy(m);
	tmpdir_remove(dir);
}

static void test_train_checkpoint_round_trip(void **state)
{
	struct optim_config sgd = optim_sgd_config(0.01, 0.9, 5e-4, true);
	struct optim_config adamw = optim_adamw_config(1e-3, 1e-2);

	(void)state;
	round_trip(sgd);
	round_trip(adamw);
}

static void test_model_file_is_not_a_train_file(void **state)
{
	struct safetensors_file f;
	struct optim_config c;

	(void)state;
	assert_int_equal(safetensors_read("tests/fixtures/models_knresnet18_fcn_weights.safetensors", &f), 0);
	assert_true(checkpoint_read_optim_config(&f, &c) < 0);
	assert_non_null(strstr(kn_errmsg(), "optim.kind"));
	safetensors_free(&f);
}

/* Writes a tiny "train" file with run state ts and reads it back: the error, if any. */
static int write_and_read_state(const char *path, const struct train_state *ts)
{
	struct net_config nc = net_config_default(NET_KNRESNET18, NET_HEAD_FCN, 3);
	struct optim_config cfg = optim_sgd_config(0.01, 0.9, 0, false);
	struct checkpoint_meta meta;
	struct safetensors_writer w;
	struct safetensors_file f;
	struct train_state back;
	struct optim o;
	struct model *m;
	float *st;
	int err;

	nc.width = 0.02f;
	assert_int_equal(model_create(&m, &nc, 1, 32, 32, MODEL_EVAL), 0);
	st = calloc(m->g.param_count, sizeof(float));
	optim_init(&o, &cfg, m->g.param_count, st, NULL);
	checkpoint_meta_default(&meta, &nc);
	strcpy(meta.kind, "train");
	safetensors_writer_init(&w);
	checkpoint_add_model(&w, &m->g, m->params, &meta);
	checkpoint_add_train(&w, &o, ts);
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);
	assert_int_equal(safetensors_read(path, &f), 0);
	err = checkpoint_read_train(&f, &o, &back);
	safetensors_free(&f);
	free(st);
	model_destroy(m);
	return err;
}

/*
 * Run state that no run can have is refused with the file and key named: a best mIoU
 * outside [0, 1] kept every later validation from saving best.safetensors, and an epoch
 * past the int range reached the loader as a negative number.
 */
static void test_impossible_run_state(void **state)
{
	static const struct {
		struct train_state ts;
		const char *needle;
	} bad[] = {
		{{10, 1, 0, 1, INFINITY, 8}, "state.best_miou 'inf'"},
		{{10, 1, 0, 1, 5.0, 8}, "state.best_miou '5'"},
		{{10, 1, 0, 1, -0.5, 8}, "state.best_miou '-0.5'"},
		{{10, 1, 0, 1, 0.5, 11}, "state.best_step '11'"},
		{{10, 9000000000000LL, 0, 1, 0.5, 8}, "state.epoch '9000000000000'"},
		{{10, 1, 3000000000LL, 1, 0.5, 8}, "state.batch '3000000000'"},
	};
	static const struct train_state good[] = {
		{10, 1, 0, 1, NAN, -1}, {10, 1, 0, 1, 0.0, 10}, {10, 1, 0, 1, 1.0, 4},
	};
	char *dir = tmpdir_create(), path[600];

	(void)state;
	snprintf(path, sizeof(path), "%s/t.safetensors", dir);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (write_and_read_state(path, &good[i]) != 0)
			fail_msg("good state %zu refused: %s", i, kn_errmsg());
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = write_and_read_state(path, &bad[i].ts);

		if (err != KN_EFORMAT || !strstr(kn_errmsg(), bad[i].needle) ||
		    !strstr(kn_errmsg(), path))
			fail_msg("bad state %zu: got %d '%s', expected '%s'", i, err, kn_errmsg(),
				 bad[i].needle);
	}
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_poly_schedule),
		cmocka_unit_test(test_train_checkpoint_round_trip),
		cmocka_unit_test(test_model_file_is_not_a_train_file),
		cmocka_unit_test(test_impossible_run_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
