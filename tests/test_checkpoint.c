/*
 * Checkpoints: save and load round trips (weights and metadata), the backbone file that
 * scripts/import_torch.py writes, and every way a file can fail to match a network,
 * each with a message that names the problem.
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/atomic.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct net_config small_config(enum net_arch arch, enum net_head head)
{
	struct net_config cfg = net_config_default(arch, head, 5);

	cfg.width = 0.02f;
	return cfg;
}

static void test_round_trip(void **state)
{
	struct net_config cfg = small_config(NET_KNRESNET18, NET_HEAD_FPN);
	struct checkpoint_meta meta, back;
	struct safetensors_file f;
	struct model *a, *b;
	char *dir = tmpdir_create(), path[600];

	(void)state;
	cfg.p = 0.1f;
	assert_int_equal(model_create(&a, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(model_create(&b, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	model_init_weights(a, 7);
	checkpoint_meta_default(&meta, &cfg);
	strcpy(meta.classes, "road,sidewalk,car,sky,person");
	meta.kn_eval = KNORM_EVAL_NONE;
	meta.mean[1] = 0.5f;
	meta.has_colors = true;
	for (int i = 0; i < 5; i++)
		meta.colors[i][0] = meta.colors[i][1] = meta.colors[i][2] = (uint8_t)(50 * i + 3);
	snprintf(path, sizeof(path), "%s/m.safetensors", dir);
	assert_int_equal(checkpoint_save_model(path, &a->g, a->params, &meta), 0);
	assert_int_equal(safetensors_read(path, &f), 0);
	assert_int_equal(checkpoint_read_meta(&f, &back), 0);
	assert_string_equal(back.kind, "model");
	assert_int_equal(back.cfg.arch, NET_KNRESNET18);
	assert_int_equal(back.cfg.head, NET_HEAD_FPN);
	assert_int_equal(back.cfg.num_classes, 5);
	assert_true(back.cfg.width == 0.02f && back.cfg.p == 0.1f);
	assert_string_equal(back.classes, "road,sidewalk,car,sky,person");
	assert_int_equal(back.kn_eval, KNORM_EVAL_NONE);
	assert_true(back.mean[1] == 0.5f && back.std[2] == 0.225f);
	assert_true(back.has_colors);
	assert_memory_equal(back.colors, meta.colors, 5 * 3);
	assert_int_equal(checkpoint_load_params(&f, &b->g, b->params, ""), 0);
	assert_memory_equal(a->params, b->params, a->g.param_count * sizeof(float));
	safetensors_free(&f);
	model_destroy(a);
	model_destroy(b);
	tmpdir_remove(dir);
}

/* The backbone converted from a reference state_dict equals the model's backbone. */
static void test_imported_backbone(void **state)
{
	struct net_config cfg = small_config(NET_KNRESNET18, NET_HEAD_FCN);
	struct safetensors_file bf, mf;
	struct checkpoint_meta meta;
	struct model *a, *b;

	(void)state;
	assert_int_equal(safetensors_read("tests/fixtures/models_knresnet18_backbone.safetensors", &bf), 0);
	assert_int_equal(checkpoint_read_meta(&bf, &meta), 0);
	assert_string_equal(meta.kind, "backbone");
	assert_int_equal(meta.cfg.arch, NET_KNRESNET18);
	assert_true(meta.cfg.width == 0.02f);
	assert_int_equal(model_create(&a, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(model_create(&b, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(checkpoint_load_params(&bf, &a->g, a->params, "backbone."), 0);
	assert_int_equal(safetensors_read("tests/fixtures/models_knresnet18_fcn_weights.safetensors", &mf), 0);
	assert_int_equal(checkpoint_load_params(&mf, &b->g, b->params, ""), 0);
	for (int i = 0; i < a->g.nparams; i++) {
		const struct graph_param *p = &a->g.params[i];

		if (!strncmp(p->name, "backbone.", 9))
			assert_memory_equal(a->params + p->offset, b->params + p->offset,
					    p->count * sizeof(float));
	}
	/* A backbone file is not a whole model: loading everything names a head tensor. */
	assert_int_equal(checkpoint_load_params(&bf, &a->g, a->params, ""), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), "head."));
	safetensors_free(&bf);
	safetensors_free(&mf);
	model_destroy(a);
	model_destroy(b);
}

/* Zeros to stand in for a reshaped tensor's data (one growing buffer, freed at exit). */
static float *extra_big(size_t n)
{
	static float *buf;
	static size_t cap;

	if (n > cap) {
		free(buf);
		buf = calloc(n, sizeof(float));
		cap = n;
	}
	return buf;
}

/* Writes a model's tensors with one tensor left out, reshaped or added, and metadata. */
enum damage { NONE, DROP, RESHAPE, EXTRA };

static void write_damaged(const char *path, const struct model *m, enum damage d,
			  const char *key, const char *value)
{
	struct safetensors_writer w;
	struct checkpoint_meta meta;
	static float extra[4];

	checkpoint_meta_default(&meta, &m->cfg);
	strcpy(meta.classes, "a,b,c,d,e");
	safetensors_writer_init(&w);
	for (int i = 0; i < m->g.nparams; i++) {
		const struct graph_param *p = &m->g.params[i];
		size_t shape[4];

		for (int k = 0; k < p->ndim; k++)
			shape[k] = (size_t)p->dims[k];
		/* Parameter 2 is res_block1.conv1.weight. */
		if (i == 2 && d == DROP)
			continue;
		if (i == 2 && d == RESHAPE)
			shape[0]++;
		if (i == 2 && d == RESHAPE)
			safetensors_add_f32(&w, p->name, extra_big(p->count * 2), p->ndim, shape);
		else
			safetensors_add_f32(&w, p->name, m->params + p->offset, p->ndim, shape);
	}
	if (d == EXTRA)
		safetensors_add_f32(&w, "backbone.res_block9.conv1.weight", extra, 1,
				    (size_t[]){4});
	if (key) {
		/* Only the given key's value changes; "-" drops the key. */
		const char *keys[] = {"format", "kind", "arch", "width", "head", "num_classes",
				      "classes", "mean", "std", "kn_eval", "colors"};
		const char *vals[] = {"knseg-1", "model", "knresnet18", "0.02", "fcn", "5",
				      "a,b,c,d,e", "0.485,0.456,0.406", "0.229,0.224,0.225",
				      "expected", "-"};

		for (int i = 0; i < 11; i++) {
			const char *v = strcmp(keys[i], key) ? vals[i] : value;

			if (strcmp(v, "-"))
				safetensors_add_meta(&w, keys[i], v);
		}
	}
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);
}

/* Reads path, then its metadata and parameters into m; returns the first error. */
static int try_load(const char *path, struct model *m)
{
	struct safetensors_file f;
	struct checkpoint_meta meta;
	int err = safetensors_read(path, &f);

	if (err)
		return err;
	err = checkpoint_read_meta(&f, &meta);
	if (!err)
		err = checkpoint_load_params(&f, &m->g, m->params, "");
	safetensors_free(&f);
	return err;
}

static void expect_error(const char *path, struct model *m, const char *needle)
{
	int err = try_load(path, m);

	if (err >= 0 || !strstr(kn_errmsg(), needle))
		fail_msg("expected an error containing '%s', got %d: '%s'", needle, err,
			 kn_errmsg());
	assert_non_null(strstr(kn_errmsg(), path));
}

static void test_mismatches_are_named(void **state)
{
	struct net_config cfg = small_config(NET_KNRESNET18, NET_HEAD_FCN);
	char *dir = tmpdir_create(), path[600];
	struct model *m;
	const char *third;

	(void)state;
	assert_int_equal(model_create(&m, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	third = m->g.params[2].name;
	snprintf(path, sizeof(path), "%s/c.safetensors", dir);

	write_damaged(path, m, NONE, "kind", "model");
	assert_int_equal(try_load(path, m), 0);
	write_damaged(path, m, DROP, "kind", "model");
	expect_error(path, m, third);
	write_damaged(path, m, RESHAPE, "kind", "model");
	expect_error(path, m, "has shape");
	write_damaged(path, m, EXTRA, "kind", "model");
	expect_error(path, m, "res_block9");
	write_damaged(path, m, NONE, "format", "-");
	expect_error(path, m, "not a knseg checkpoint");
	write_damaged(path, m, NONE, "format", "knseg-9");
	expect_error(path, m, "knseg-9");
	write_damaged(path, m, NONE, "arch", "resnet101");
	expect_error(path, m, "resnet101");
	write_damaged(path, m, NONE, "num_classes", "abc");
	expect_error(path, m, "num_classes");
	write_damaged(path, m, NONE, "mean", "0.5,0.5");
	expect_error(path, m, "mean");
	write_damaged(path, m, NONE, "std", "0.2,0,0.2");
	expect_error(path, m, "std");
	/* A std of 1e-45 made every input infinite and every prediction class 0. */
	write_damaged(path, m, NONE, "std", "1e-45,0.2,0.2");
	expect_error(path, m, "metadata std '1e-45,0.2,0.2' is not three numbers in [0.001, 1000]");
	write_damaged(path, m, NONE, "mean", "0.5,1e30,0.5");
	expect_error(path, m, "metadata mean");
	write_damaged(path, m, NONE, "mean", "0.5,0.5,0.5,0.5");
	expect_error(path, m, "metadata mean");
	write_damaged(path, m, NONE, "classes", "a,b,c");
	expect_error(path, m, "metadata classes names 3 classes, num_classes is 5");
	write_damaged(path, m, NONE, "classes", "a,b,c,d,e,f");
	expect_error(path, m, "names 6 classes");
	write_damaged(path, m, NONE, "classes", "");
	expect_error(path, m, "class 0 has no name");
	write_damaged(path, m, NONE, "classes", "a,b,,d,e");
	expect_error(path, m, "class 2 has no name");
	write_damaged(path, m, NONE, "classes", "a,b,c,d,");
	expect_error(path, m, "class 4 has no name");
	write_damaged(path, m, NONE, "kn_eval", "random");
	expect_error(path, m, "random");
	write_damaged(path, m, NONE, "head", "-");
	expect_error(path, m, "head");
	write_damaged(path, m, NONE, "kind", "optimizer");
	expect_error(path, m, "optimizer");
	write_damaged(path, m, NONE, "colors", "1 2 3,4 5 6");
	expect_error(path, m, "colors");
	write_damaged(path, m, NONE, "colors", "1 2 3,4 5 6,1 1 1,2 2 2,3 3 300");
	expect_error(path, m, "colors");
	write_damaged(path, m, NONE, "colors", "1 2 3,4 5 6,1 1 1,2 2 2,3 3 3");
	assert_int_equal(try_load(path, m), 0);
	write_damaged(path, m, NONE, "kind", "optimizer");
	expect_error(path, m, "optimizer");
	model_destroy(m);
	tmpdir_remove(dir);
}

/* A checkpoint of another architecture does not load, and says what is missing. */
static void test_other_architecture(void **state)
{
	struct net_config c34 = small_config(NET_KNRESNET34, NET_HEAD_FCN);
	struct net_config c18 = small_config(NET_KNRESNET18, NET_HEAD_FCN);
	struct checkpoint_meta meta;
	char *dir = tmpdir_create(), path[600];
	struct model *a, *b;
	struct safetensors_file f;

	(void)state;
	assert_int_equal(model_create(&a, &c34, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(model_create(&b, &c18, 1, 32, 32, MODEL_EVAL), 0);
	checkpoint_meta_default(&meta, &c34);
	snprintf(path, sizeof(path), "%s/r34.safetensors", dir);
	assert_int_equal(checkpoint_save_model(path, &a->g, a->params, &meta), 0);
	assert_int_equal(safetensors_read(path, &f), 0);
	assert_int_equal(checkpoint_load_params(&f, &b->g, b->params, ""), KN_EMISMATCH);
	assert_non_null(strstr(kn_errmsg(), path));
	safetensors_free(&f);
	model_destroy(a);
	model_destroy(b);
	tmpdir_remove(dir);
}

/* Copies src to dst with element index of tensor name overwritten by v. */
static void copy_with_value(const char *src, const char *dst, const char *name, size_t index,
			    float v)
{
	struct safetensors_file f;
	const struct safetensors_tensor *t;
	unsigned char *buf;
	size_t len;

	assert_int_equal(safetensors_read(src, &f), 0);
	t = safetensors_find(&f, name);
	assert_true(t && t->dtype == SAFETENSORS_F32 && index < t->count);
	assert_int_equal(file_read_all(src, &buf, &len), 0);
	memcpy(buf + (t->data - f.owned) + 4 * index, &v, 4);
	assert_int_equal(atomic_write_file(dst, buf, len), 0);
	free(buf);
	safetensors_free(&f);
}

/* Runs knseg ARGS in dir; it must fail with status 1 and a message holding needle. */
static void expect_failure(const char *dir, const char *args, const char *needle)
{
	char *err;
	int rc = run_knseg(dir, args, NULL, &err);

	if (rc != 1 || !strstr(err, needle) || strchr(err, '\n') != err + strlen(err) - 1)
		fail_msg("knseg %s: status %d, expected 1 and one line with '%s': %s", args, rc,
			 needle, err);
	free(err);
}

/*
 * One NaN or infinite value in any checkpoint a command loads is refused, naming the file,
 * the tensor and the index: such weights would give all-garbage outputs without an error.
 */
static void test_non_finite_values_are_refused(void **state)
{
	static const char run_args[] = "--root %s/syn --width 0.0625 --crop 64x64 --batch 1 "
				       "--iters 2 --val-every 2";
	char *dir = tmpdir_create(), args[4096], common[1024], src[600], nan_model[600];
	char inf_model[600], inf_optim[600];

	(void)state;
	if (!knseg_program_or_skip())
		return;
	snprintf(args, sizeof(args), "synth --out %s/syn --train 2 --val 1 --size 64x64", dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(common, sizeof(common), run_args, dir);
	snprintf(args, sizeof(args), "train %s --out %s/run", common, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);

	snprintf(src, sizeof(src), "%s/run/best.safetensors", dir);
	snprintf(nan_model, sizeof(nan_model), "%s/nan.safetensors", dir);
	copy_with_value(src, nan_model, "backbone.block0.0.weight", 5, NAN);
	snprintf(inf_model, sizeof(inf_model), "%s/inf.safetensors", dir);
	copy_with_value(src, inf_model, "head.cls.bias", 1, INFINITY);
	snprintf(src, sizeof(src), "%s/run/last.safetensors", dir);
	snprintf(inf_optim, sizeof(inf_optim), "%s/optim.safetensors", dir);
	copy_with_value(src, inf_optim, "optim.state", 3, INFINITY);

	snprintf(args, sizeof(args), "predict --checkpoint %s --out %s/pred %s/syn/leftImg8bit",
		 nan_model, dir, dir);
	expect_failure(dir, args, "'backbone.block0.0.weight' holds a non-finite value (nan) "
		       "at index 5");
	snprintf(args, sizeof(args), "eval --checkpoint %s --root %s/syn", inf_model, dir);
	expect_failure(dir, args, "'head.cls.bias' holds a non-finite value (inf) at index 1");
	snprintf(args, sizeof(args), "train %s --out %s/run --resume %s", common, dir, inf_optim);
	expect_failure(dir, args, "'optim.state' holds a non-finite value (inf) at index 3");
	snprintf(args, sizeof(args), "train %s --out %s/init --init %s", common, dir, nan_model);
	expect_failure(dir, args, "'backbone.block0.0.weight'");
	snprintf(args, sizeof(args), "train %s --out %s/initb --init-backbone %s", common, dir,
		 nan_model);
	expect_failure(dir, args, nan_model);
	tmpdir_remove(dir);
}

/* Saves a small model as path, of the given kind (with SGD state for "train"), whose
 * metadata claims meta_width. */
static void save_small(const char *path, const char *kind, float meta_width)
{
	struct net_config cfg = small_config(NET_KNRESNET18, NET_HEAD_FCN);
	struct optim_config oc = optim_sgd_config(0.01, 0.9, 0, false);
	struct train_state ts = {2, 0, 2, 0, NAN, -1};
	struct safetensors_writer w;
	struct checkpoint_meta meta;
	struct optim o;
	struct model *m;
	float *state;

	assert_int_equal(model_create(&m, &cfg, 1, 32, 32, MODEL_EVAL), 0);
	model_init_weights(m, 3);
	checkpoint_meta_default(&meta, &cfg);
	strcpy(meta.kind, kind);
	strcpy(meta.classes, "a,b,c,d,e");
	meta.cfg.width = meta_width;
	state = calloc(m->g.param_count, sizeof(float));
	optim_init(&o, &oc, m->g.param_count, state, NULL);
	safetensors_writer_init(&w);
	checkpoint_add_model(&w, &m->g, m->params, &meta);
	if (!strcmp(kind, "train"))
		checkpoint_add_train(&w, &o, &ts);
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);
	free(state);
	model_destroy(m);
}

/* info --checkpoint on path: the status, and the message holding needle when it fails. */
static void expect_info(const char *dir, const char *path, int status, const char *needle)
{
	char args[1024], *err;
	int rc;

	snprintf(args, sizeof(args), "info --checkpoint %s --size 64x64", path);
	rc = run_knseg(dir, args, NULL, &err);
	if (rc != status || (needle && (!strstr(err, needle) || !strstr(err, path))))
		fail_msg("knseg %s: status %d, expected %d with '%s': %s", args, rc, status,
			 needle ? needle : "", err);
	free(err);
}

/*
 * info --checkpoint loads every tensor the network needs, as the commands that use the
 * file do: a file they would refuse is not described as sound.
 */
static void test_info_loads_the_tensors(void **state)
{
	char *dir = tmpdir_create(), model[600], train[600], bad[600];

	(void)state;
	if (!knseg_program_or_skip())
		return;
	snprintf(model, sizeof(model), "%s/model.safetensors", dir);
	snprintf(train, sizeof(train), "%s/train.safetensors", dir);
	snprintf(bad, sizeof(bad), "%s/bad.safetensors", dir);
	save_small(model, "model", 0.02f);
	expect_info(dir, model, 0, NULL);
	save_small(train, "train", 0.02f);
	expect_info(dir, train, 0, NULL);
	copy_with_value(model, bad, "head.cls.weight", 4, NAN);
	expect_info(dir, bad, 1, "'head.cls.weight' holds a non-finite value (nan) at index 4");
	copy_with_value(train, bad, "optim.state", 2, INFINITY);
	expect_info(dir, bad, 1, "'optim.state' holds a non-finite value (inf) at index 2");
	save_small(bad, "model", 0.25f);
	expect_info(dir, bad, 1, "has shape");
	save_small(bad, "backbone", 0.02f);
	expect_info(dir, bad, 0, NULL);
	copy_with_value(bad, model, "backbone.block0.0.weight", 0, -INFINITY);
	expect_info(dir, model, 1, "'backbone.block0.0.weight' holds a non-finite value (-inf)");
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_imported_backbone),
		cmocka_unit_test(test_mismatches_are_named),
		cmocka_unit_test(test_other_architecture),
		cmocka_unit_test(test_non_finite_values_are_refused),
		cmocka_unit_test(test_info_loads_the_tensors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
