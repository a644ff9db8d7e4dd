/*
 * knseg train end to end (the program built beside this test):
 * - one SGD iteration from --init weights equals the same step in PyTorch
 *   (scripts/ref_train.py);
 * - a run of 2k iterations equals k iterations, stopped, and resumed for k more;
 * - a run is the same bits at 1, 2 and 3 threads;
 * - Ctrl-C saves a checkpoint that resumes; a non-finite loss stops the run with a
 *   message naming the checkpoint kept, if any, and the causes that apply;
 * - bad flags and an occupied run folder are refused with a message;
 * - an unreadable sample or an unwritable log stops the run with a message that says
 *   how to go on, and last.safetensors keeps the iterations done;
 * - --force starts over, --val-split of a list run, --resume with changed options;
 * - one run at a time in a folder, and no temporaries left by a killed run.
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "nets/checkpoint.h"
#include "nets/model.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_ARGS                                                                      \
	"train --dataset list --list tests/fixtures/train_step.txt "                  \
	"--classes tests/fixtures/train_step_classes.txt --arch knresnet18 --head fcn " \
	"--width 0.02 --iters 1 --batch 1 --augment none --kn-p 0 --optim sgd "        \
	"--momentum 0 --weight-decay 0 --lr 0.1 --val-split none "

static float *tensor(const struct safetensors_file *f, const struct safetensors_tensor *t)
{
	float *x = malloc(t->count * sizeof(float));

	assert_int_equal(safetensors_copy_f32(f, t->name, x, t->ndim, t->shape), 0);
	return x;
}

static void test_one_step_matches_pytorch(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600];
	struct safetensors_file got, want, before;

	(void)state;
	snprintf(args, sizeof(args),
		 STEP_ARGS "--init tests/fixtures/models_knresnet18_fcn_weights.safetensors "
		 "--out %s/run", dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);
	assert_int_equal(safetensors_read(path, &got), 0);
	assert_int_equal(safetensors_read("tests/fixtures/train_step_after.safetensors", &want), 0);
	assert_int_equal(safetensors_read("tests/fixtures/models_knresnet18_fcn_weights.safetensors",
					  &before), 0);
	for (size_t i = 0; i < want.n_tensors; i++) {
		const struct safetensors_tensor *t = &want.tensors[i];
		const struct safetensors_tensor *g = safetensors_find(&got, t->name);
		float *w = tensor(&want, t), *x, *b;
		double step = 0;

		assert_non_null(g);
		x = tensor(&got, g);
		b = tensor(&before, safetensors_find(&before, t->name));
		for (size_t j = 0; j < t->count; j++)
			step = fmax(step, fabs(w[j] - b[j]));
		/* The parameters moved by lr * gradient; they must agree to 1e-3 of that move
		 * (measured: 2e-5), far below what a wrong gradient or schedule gives. */
		assert_allclose(t->name, x, w, t->count, 0, 1e-3 * step + 1e-9);
		free(w), free(x), free(b);
	}
	safetensors_free(&got), safetensors_free(&want), safetensors_free(&before);
	tmpdir_remove(dir);
}

/* A tiny synthetic dataset under dir/syn. */
static void make_synth(const char *dir)
{
	char args[1024];

	snprintf(args, sizeof(args), "synth --out %s/syn --train 6 --val 2 --size 128x64 --seed 3",
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
}

static bool same_file(const char *a, const char *b)
{
	unsigned char *x, *y;
	size_t nx, ny;
	bool same;

	assert_int_equal(file_read_all(a, &x, &nx), 0);
	assert_int_equal(file_read_all(b, &y, &ny), 0);
	same = nx == ny && !memcmp(x, y, nx);
	free(x), free(y);
	return same;
}

#define SYN_ARGS "train --root %s/syn --width 0.0625 --crop 128x64 --batch 2 --iters 6 " \
		 "--val-every 100 --log-every 1 --lr 0.02 --seed 5 --threads 2 "

static void test_resume_is_exact(void **state)
{
	char *dir = tmpdir_create(), args[2048], a[600], b[600];

	(void)state;
	make_synth(dir);
	snprintf(args, sizeof(args), SYN_ARGS "--out %s/a", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), SYN_ARGS "--out %s/b --stop-after 3", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), SYN_ARGS "--out %s/b --resume %s/b/last.safetensors", dir, dir,
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(a, sizeof(a), "%s/a/last.safetensors", dir);
	snprintf(b, sizeof(b), "%s/b/last.safetensors", dir);
	assert_true(same_file(a, b));
	snprintf(a, sizeof(a), "%s/a/best.safetensors", dir);
	snprintf(b, sizeof(b), "%s/b/best.safetensors", dir);
	assert_true(same_file(a, b));
	/* The run folder has its log, curve and configuration. */
	snprintf(a, sizeof(a), "%s/a/curve.svg", dir);
	assert_true(access(a, R_OK) == 0);
	snprintf(a, sizeof(a), "%s/a/config.txt", dir);
	assert_true(access(a, R_OK) == 0);
	/* The same folder is not reused without --resume or --force. */
	snprintf(args, sizeof(args), SYN_ARGS "--out %s/a", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 1);
	tmpdir_remove(dir);
}

/* The same run, weights and optimizer state, at 1, 2 and 3 threads (the last wins). */
static void test_threads_give_the_same_run(void **state)
{
	char *dir = tmpdir_create(), args[2048], a[600], b[600];

	(void)state;
	make_synth(dir);
	for (int t = 1; t <= 3; t++) {
		snprintf(args, sizeof(args), SYN_ARGS "--out %s/t%d --threads %d", dir, dir, t, t);
		assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	}
	snprintf(a, sizeof(a), "%s/t1/last.safetensors", dir);
	for (int t = 2; t <= 3; t++) {
		snprintf(b, sizeof(b), "%s/t%d/last.safetensors", dir, t);
		assert_true(same_file(a, b));
	}
	tmpdir_remove(dir);
}

static void test_interrupt_saves_a_checkpoint(void **state)
{
	char *dir = tmpdir_create(), cmd[4096], path[600];
	const char *prog = knseg_program_or_skip();
	struct safetensors_file f;
	struct checkpoint_meta meta;
	int status;

	(void)state;
	make_synth(dir);
	snprintf(cmd, sizeof(cmd),
		 "timeout --preserve-status -s INT 4 '%s' train --root %s/syn --width 0.0625 --crop 128x64 "
		 "--batch 2 --iters 100000 --val-every 100000 --out %s/run >%s/out 2>%s/err",
		 prog, dir, dir, dir, dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 130);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);
	assert_int_equal(safetensors_read(path, &f), 0);
	assert_int_equal(checkpoint_read_meta(&f, &meta), 0);
	assert_string_equal(meta.kind, "train");
	safetensors_free(&f);
	tmpdir_remove(dir);
}

/* The reference weights with the first n values of param (all when 0) set to v. */
static void save_weights_with(const char *path, const char *param, size_t n, float v)
{
	struct safetensors_file f;
	struct checkpoint_meta meta;
	struct model *m;
	const struct graph_param *p;

	assert_int_equal(safetensors_read("tests/fixtures/models_knresnet18_fcn_weights.safetensors", &f), 0);
	assert_int_equal(checkpoint_read_meta(&f, &meta), 0);
	assert_int_equal(model_create(&m, &meta.cfg, 1, 32, 32, MODEL_EVAL), 0);
	assert_int_equal(checkpoint_load_params(&f, &m->g, m->params, ""), 0);
	p = &m->g.params[graph_find_param(&m->g, param)];
	for (size_t i = 0; i < (n ? n : p->count); i++)
		m->params[p->offset + i] = v;
	assert_int_equal(checkpoint_save_model(path, &m->g, m->params, &meta), 0);
	model_destroy(m);
	safetensors_free(&f);
}

static char *expect_stop(const char *dir, const char *args)
{
	char *err;

	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	if (!strstr(err, "the loss is ") || strchr(err, '\n') != err + strlen(err) - 1)
		fail_msg("not one line on the loss: %s", err);
	return err;
}

/*
 * A non-finite loss stops the run with a message that names the checkpoint kept only
 * when there is one, and only the causes that can apply: at the first iteration the
 * initial weights (huge classifier weights overflow the logits); later the learning
 * rate (a decay factor 1 - lr * wd of -9 makes a large bias overflow after two
 * updates) or those weights.
 */
static void test_nonfinite_loss_message(void **state)
{
	char *dir = tmpdir_create(), args[2048], init[600], path[600], *err;
	struct safetensors_file f;

	(void)state;
	snprintf(init, sizeof(init), "%s/huge.safetensors", dir);
	save_weights_with(init, "head.cls.weight", 0, 3e38f);
	snprintf(args, sizeof(args), STEP_ARGS "--out %s/a --init %s", dir, init);
	err = expect_stop(dir, args);
	assert_non_null(strstr(err, "at iteration 1: stopping; no checkpoint was written; "));
	assert_non_null(strstr(err, "cause: the weights of --init '"));
	assert_non_null(strstr(err, init));
	assert_null(strstr(err, "last.safetensors"));
	assert_null(strstr(err, "--lr"));
	free(err);
	snprintf(path, sizeof(path), "%s/a/last.safetensors", dir);
	assert_int_equal(access(path, F_OK), -1);

	snprintf(init, sizeof(init), "%s/large.safetensors", dir);
	save_weights_with(init, "head.cls.bias", 1, 3e37f);
	snprintf(args, sizeof(args), STEP_ARGS "--out %s/b --init %s --iters 50 --lr 10 "
		 "--weight-decay 1 --val-every 1", dir, init);
	err = expect_stop(dir, args);
	snprintf(path, sizeof(path), "%s/b/last.safetensors", dir);
	assert_non_null(strstr(err, "at iteration 3: stopping; '"));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "' holds iteration 2; cause: a learning rate too high "
				    "(--lr 10) or the weights of --init '"));
	free(err);
	assert_int_equal(safetensors_read(path, &f), 0);
	assert_string_equal(safetensors_meta_get(&f, "state.step"), "2");
	safetensors_free(&f);
	tmpdir_remove(dir);
}

/* A backbone file given for a whole model says so, not that its head (it has none)
 * differs. */
static void test_backbone_file_for_a_model(void **state)
{
	static const char *const opts[] = {"--init", "--resume"};
	char *dir = tmpdir_create(), args[2048], *err;

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(args, sizeof(args), STEP_ARGS "--out %s/run%d %s "
			 "tests/fixtures/models_knresnet18_backbone.safetensors", dir, i, opts[i]);
		assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
		if (!strstr(err, "'tests/fixtures/models_knresnet18_backbone.safetensors' holds a "
			    "backbone alone, no head (use --init-backbone)"))
			fail_msg("%s: %s", opts[i], err);
		free(err);
	}
	tmpdir_remove(dir);
}

/*
 * The largest class table a file can give, 255 classes with 47-character names, goes
 * whole into the checkpoint's classes list (it overflowed a 4096-byte buffer).
 */
static void test_longest_class_names(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], name[64];
	struct safetensors_file f;
	struct checkpoint_meta meta;
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/classes.txt", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int k = 0; k < 255; k++)
		fprintf(fp, "class_%03d_%037d %d %d %d %d\n", k, 0, k, k, k, k);
	fprintf(fp, "ignore 255\n");
	fclose(fp);
	snprintf(args, sizeof(args),
		 "train --dataset list --list tests/fixtures/train_step.txt --classes %s "
		 "--width 0.02 --iters 1 --batch 1 --augment none --val-split none --out %s/run",
		 path, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);
	assert_int_equal(safetensors_read(path, &f), 0);
	if (checkpoint_read_meta(&f, &meta) != 0)
		fail_msg("%s", kn_errmsg());
	assert_int_equal(meta.cfg.num_classes, 255);
	snprintf(name, sizeof(name), ",class_254_%037d", 0);
	assert_int_equal(strlen(name), 48);
	assert_string_equal(meta.classes + strlen(meta.classes) - 48, name);
	safetensors_free(&f);
	tmpdir_remove(dir);
}

/* The iteration a training checkpoint was saved at. */
static long long saved_step(const char *path)
{
	struct safetensors_file f;
	const char *v;
	long long step;

	assert_int_equal(safetensors_read(path, &f), 0);
	v = safetensors_meta_get(&f, "state.step");
	assert_non_null(v);
	step = atoll(v);
	safetensors_free(&f);
	return step;
}

#define SMALL_ARGS "train --root %s/syn --width 0.02 --crop 32x32 --batch 1 --val-every 100 " \
		   "--seed 5 --out %s/run "

/* Sample 2 comes fifth in the first epoch of seed 5: a bad file there stops the run
 * after 5 iterations, which last.safetensors keeps; --skip-bad goes on from there. */
static void test_bad_sample_saves_last(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], *err;
	FILE *f;

	(void)state;
	make_synth(dir);
	snprintf(path, sizeof(path), "%s/syn/leftImg8bit/train/synth/"
		 "synth_000000_000002_leftImg8bit.png", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("not an image", f);
	fclose(f);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 12", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "synth_000000_000002_leftImg8bit.png"));
	assert_non_null(strstr(err, "at iteration 5"));
	assert_non_null(strstr(err, "--resume"));
	assert_non_null(strstr(err, "--skip-bad"));
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1); /* one line */
	free(err);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);
	assert_int_equal(saved_step(path), 5);

	snprintf(args, sizeof(args), SMALL_ARGS "--iters 12 --resume %s --skip-bad", dir, dir,
		 path);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	assert_int_equal(saved_step(path), 12);
	tmpdir_remove(dir);
}

/* A log that cannot be written stops the run with the file and the error named: when
 * the log is opened (the header of a fresh log.csv), and on a row in the middle of a
 * run (past a file size limit, which only the log reaches). */
static void test_log_write_error_stops(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], cmd[4096], *err;
	const char *prog = knseg_program_or_skip();
	size_t len;
	int status;

	(void)state;
	make_synth(dir);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --stop-after 2", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/log.csv", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/dev/full", path), 0);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --resume %s/run/last.safetensors",
		 dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "cannot write '"));
	assert_non_null(strstr(err, "/run/log.csv': No space left on device"));
	free(err);

	snprintf(cmd, sizeof(cmd), "ulimit -f 2; exec '%s' train --root %s/syn --width 0.02 "
		 "--crop 32x32 --batch 1 --val-every 100000 --log-every 1 --iters 1000 --out "
		 "%s/big >/dev/null 2>%s/err", prog, dir, dir, dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	snprintf(path, sizeof(path), "%s/err", dir);
	assert_int_equal(file_read_all(path, (unsigned char **)&err, &len), 0);
	assert_non_null(strstr(err, "/big/log.csv': File too large"));
	free(err);
	/* The log ends with a whole row. */
	snprintf(path, sizeof(path), "%s/big/log.csv", dir);
	assert_int_equal(file_read_all(path, (unsigned char **)&err, &len), 0);
	assert_true(len > 100 && err[len - 1] == '\n');
	free(err);
	tmpdir_remove(dir);
}

/* --force starts a new run in the folder: none of the old run's outputs stays beside
 * it, and files knseg did not write stay. */
static void test_force_removes_the_old_run(void **state)
{
	static const char *const old[] = {"best.safetensors", "val.json"};
	char *dir = tmpdir_create(), args[2048], path[600];
	unsigned char *log;
	size_t len;
	FILE *f;

	(void)state;
	make_synth(dir);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 3 --val-every 3", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/notes.txt", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 2 --val-split none --force --stop-after 1",
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		snprintf(path, sizeof(path), "%s/run/%s", dir, old[i]);
		if (access(path, F_OK) == 0)
			fail_msg("'%s' of the previous run is still there", path);
	}
	snprintf(path, sizeof(path), "%s/run/notes.txt", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);
	assert_int_equal(saved_step(path), 1);
	snprintf(path, sizeof(path), "%s/run/log.csv", dir);
	assert_int_equal(file_read_all(path, &log, &len), 0);
	assert_null(strstr((char *)log, "\n3,"));
	free(log);
	tmpdir_remove(dir);
}

#define LIST_ARGS "train --dataset list --classes tests/fixtures/train_step_classes.txt " \
		  "--width 0.02 --crop 32x32 --batch 1 --iters 2 "

/* A list run validates on ROOT/S.txt for --val-split S; without --root, --val-split is
 * refused with a pointer to --val-list. */
static void test_val_split_of_a_list(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], *err;

	(void)state;
	snprintf(args, sizeof(args), LIST_ARGS "--root tests/fixtures --split train_step "
		 "--val-split train_step --out %s/run", dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/best.safetensors", dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(args, sizeof(args), LIST_ARGS "--list tests/fixtures/train_step.txt "
		 "--val-split val --out %s/run2", dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 2);
	assert_non_null(strstr(err, "--val-list FILE"));
	free(err);
	snprintf(args, sizeof(args), LIST_ARGS "--list tests/fixtures/train_step.txt "
		 "--val-list tests/fixtures/train_step.txt --val-split val --out %s/run2", dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 2);
	tmpdir_remove(dir);
}

static int count(const char *text, const char *word)
{
	int n = 0;

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		n++;
	return n;
}

/* --resume refuses options that would not continue the run exactly (each named), shows
 * those that may change, and config.txt keeps the first command and the resumed one. */
static void test_resume_options(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], *out, *err;
	size_t len;

	(void)state;
	make_synth(dir);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --stop-after 2", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/run/last.safetensors", dir);

	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --resume %s --batch 2 --lr 0.1 --seed 6",
		 dir, dir, path);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "--batch 1 -> 2: cannot change"));
	assert_non_null(strstr(err, "--lr 0.01 -> 0.1: cannot change"));
	assert_non_null(strstr(err, "--seed 5 -> 6: cannot change"));
	assert_non_null(strstr(err, "last.safetensors' was trained with other options"));
	free(err);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 2 --resume %s", dir, dir, path);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "iterations 4 -> 2: the run is at iteration 2"));
	free(err);
	assert_int_equal(saved_step(path), 2);

	snprintf(args, sizeof(args), SMALL_ARGS "--iters 5 --log-every 2 --resume %s", dir, dir,
		 path);
	assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
	assert_non_null(strstr(out, "resume: iterations 4 -> 5"));
	assert_non_null(strstr(out, "resume: --log-every 10 -> 2"));
	free(out);
	assert_int_equal(saved_step(path), 5);

	snprintf(path, sizeof(path), "%s/run/config.txt", dir);
	assert_int_equal(file_read_all(path, (unsigned char **)&out, &len), 0);
	assert_int_equal(count(out, "command:"), 2);
	assert_non_null(strstr(out, "--stop-after 2\n"));
	assert_non_null(strstr(out, "resumed at iteration 2\n"));
	free(out);
	tmpdir_remove(dir);
}

/* A run folder serves one run at a time: a second knseg train there is refused while the
 * first lasts, even with --force. */
static void test_one_run_per_folder(void **state)
{
	char *dir = tmpdir_create(), args[2048], path[600], cmd[4096], *err;
	const char *prog = knseg_program_or_skip();
	unsigned char *text;
	size_t len;
	pid_t pid;
	int rc;

	(void)state;
	make_synth(dir);
	snprintf(cmd, sizeof(cmd), "'%s' train --root %s/syn --width 0.02 --crop 32x32 --batch 1 "
		 "--iters 100000 --val-every 100000 --out %s/run >/dev/null 2>&1 & echo $! >%s/pid",
		 prog, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/pid", dir);
	assert_int_equal(file_read_all(path, &text, &len), 0);
	pid = (pid_t)atol((char *)text);
	free(text);
	snprintf(path, sizeof(path), "%s/run/log.csv", dir);
	for (int i = 0; i < 300 && access(path, F_OK) != 0; i++)
		usleep(100000);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 2 --force", dir, dir);
	rc = run_knseg(dir, args, NULL, &err);
	/* The first run is stopped before any check, so that none outlives the test. */
	assert_int_equal(kill(pid, SIGTERM), 0);
	for (int i = 0; i < 300 && kill(pid, 0) == 0; i++)
		usleep(100000);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err, "/run' is in use by another knseg train"));
	free(err);
	/* Once it has ended, the folder is free. */
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	tmpdir_remove(dir);
}

/* Temporaries of the run's files that a killed run left are removed; others stay. */
static void test_killed_run_leftovers(void **state)
{
	static const char *const names[] = {"last.safetensors.tmp.a1b2c3", "config.txt.tmp.zzzzzz",
					    "notes.txt.tmp.a1b2c3", "last.safetensors.tmp.mine"};
	char *dir = tmpdir_create(), args[2048], path[600];
	FILE *f;

	(void)state;
	make_synth(dir);
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --stop-after 2", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/run/%s", dir, names[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		fclose(f);
	}
	snprintf(args, sizeof(args), SMALL_ARGS "--iters 4 --resume %s/run/last.safetensors", dir,
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/run/%s", dir, names[i]);
		assert_int_equal(access(path, F_OK) == 0, i >= 2);
	}
	tmpdir_remove(dir);
}

static void test_bad_flags(void **state)
{
	static const char *const bad[] = {
		"--batch 0", "--crop 10x10", "--lr -1", "--iters 5 --epochs 2", "--optim adam",
		"--kn-eval maybe", "--arch resnet50", "--scale-range 2,1", "--class-weights 1,2",
	};
	char *dir = tmpdir_create(), args[2048], *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		snprintf(args, sizeof(args), STEP_ARGS "--out %s/run%zu %s", dir, i, bad[i]);
		rc = run_knseg(dir, args, NULL, &err);
		if (rc == 0 || !strstr(err, "knseg"))
			fail_msg("'%s' was accepted (status %d): %s", bad[i], rc, err);
		free(err);
	}
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_step_matches_pytorch),
		cmocka_unit_test(test_resume_is_exact),
		cmocka_unit_test(test_threads_give_the_same_run),
		cmocka_unit_test(test_interrupt_saves_a_checkpoint),
		cmocka_unit_test(test_nonfinite_loss_message),
		cmocka_unit_test(test_backbone_file_for_a_model),
		cmocka_unit_test(test_longest_class_names),
		cmocka_unit_test(test_bad_flags),
		cmocka_unit_test(test_bad_sample_saves_last),
		cmocka_unit_test(test_log_write_error_stops),
		cmocka_unit_test(test_force_removes_the_old_run),
		cmocka_unit_test(test_val_split_of_a_list),
		cmocka_unit_test(test_resume_options),
		cmocka_unit_test(test_one_run_per_folder),
		cmocka_unit_test(test_killed_run_leftovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
