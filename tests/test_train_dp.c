/*
 * knseg train with differential privacy (--dp-clip):
 * - a private run logs the epsilon spent (log.csv, the progress line, the checkpoints'
 *   dp.epsilon, the summary), growing with the iterations; with --dp-epsilon the whole
 *   run ends within the budget;
 * - stopped and resumed, it ends with the same checkpoint byte for byte (the noise comes
 *   from the seed), and the accounting goes on from the iteration reached;
 * - a longer run than the budget allows is refused on resume; so are median class
 *   weights, a missing noise or budget, bad values, and a private resume of a run that
 *   was not private;
 * - the secure noise source runs and says so;
 * - a step's noise moves the weights by sigma C / B per coordinate.
 */
#include "tests/testutil.h"

#include "io/file.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

#define DP_ARGS "train --root %s/syn --width 0.0625 --crop 64x64 --batch 4 --lr 0.05 " \
		"--val-split none --threads 2 --seed 3 --dp-clip 1 "

static int setup(void **state)
{
	char args[1024];

	(void)state;
	if (!knseg_program_or_skip())
		return 0;
	dir = tmpdir_create();
	snprintf(args, sizeof(args), "synth --out %s/syn --train 12 --val 2 --size 96x64 --seed 2",
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (dir)
		tmpdir_remove(dir);
	return 0;
}

static char *text_of(const char *name)
{
	char path[1024];
	unsigned char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_read_all(path, &buf, &len), 0);
	return (char *)buf;
}

static double meta_number(const char *name, const char *key)
{
	char path[1024];
	struct safetensors_file f;
	const char *v;
	double x;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(safetensors_read(path, &f), 0);
	v = safetensors_meta_get(&f, key);
	assert_non_null(v);
	x = strtod(v, NULL);
	safetensors_free(&f);
	return x;
}

static void test_private_run_reports_epsilon(void **state)
{
	char args[2048], *out, *log, *line, *save = NULL;
	double last = 0;
	int rows = 0;

	(void)state;
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 1.2 --iters 6 --log-every 1 --out %s/a",
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
	assert_non_null(strstr(out, "differential privacy: clip 1, noise multiplier 1.2"));
	assert_non_null(strstr(out, "noise from --seed"));
	assert_non_null(strstr(out, "epsilon "));
	assert_non_null(strstr(out, "differential privacy: epsilon "));
	free(out);
	log = text_of("a/log.csv");
	assert_true(!strncmp(log, "step,epoch,loss,lr,images_per_s,val_miou,epsilon\n", 48));
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *eps = strrchr(line, ',');

		if (!strncmp(line, "step", 4))
			continue;
		assert_non_null(eps);
		assert_true(strtod(eps + 1, NULL) > last); /* spent, and more every iteration */
		last = strtod(eps + 1, NULL);
		rows++;
	}
	assert_int_equal(rows, 6);
	free(log);
	assert_true(fabs(meta_number("a/last.safetensors", "dp.epsilon") - last) <= 1e-4 * last);
	assert_true(meta_number("a/last.safetensors", "dp.iterations") == 6);
}

static void test_budget_found_and_kept(void **state)
{
	char args[2048], *out, *err;

	(void)state;
	snprintf(args, sizeof(args), DP_ARGS "--dp-epsilon 5 --iters 4 --stop-after 2 --out %s/b",
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
	assert_non_null(strstr(out, "(for the budget)"));
	free(out);
	/* The planned 4 iterations fit; 4000 do not with the noise chosen for 4. */
	snprintf(args, sizeof(args), DP_ARGS "--dp-epsilon 5 --iters 4000 --out %s/b --resume "
		 "%s/b/last.safetensors", dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "more than the budget --dp-epsilon 5"));
	free(err);
	snprintf(args, sizeof(args), DP_ARGS "--dp-epsilon 5 --iters 4 --out %s/b --resume "
		 "%s/b/last.safetensors", dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	assert_true(meta_number("b/last.safetensors", "dp.epsilon") <= 5 + 0.01);
	assert_true(meta_number("b/last.safetensors", "dp.epsilon") >= 5 - 0.02);
}

static void test_resume_is_exact(void **state)
{
	char args[2048], a[1024], b[1024], cmd[2200];

	(void)state;
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 0.8 --dp-aug-mult 2 --iters 4 --out %s/s",
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 0.8 --dp-aug-mult 2 --iters 4 "
		 "--stop-after 2 --out %s/r", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 0.8 --dp-aug-mult 2 --iters 4 --out %s/r "
		 "--resume %s/r/last.safetensors", dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(a, sizeof(a), "%s/s/last.safetensors", dir);
	snprintf(b, sizeof(b), "%s/r/last.safetensors", dir);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	assert_int_equal(system(cmd), 0);
}

static void test_secure_noise_source(void **state)
{
	char args[2048], *out;

	(void)state;
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 1 --dp-secure-noise --iters 2 --out %s/g",
		 dir, dir);
	assert_int_equal(run_knseg(dir, args, &out, NULL), 0);
	assert_non_null(strstr(out, "noise from the system's secure source"));
	free(out);
}

/* The parameters of checkpoint name, in file order (backbone and head tensors). */
static float *weights_of(const char *name, size_t *n)
{
	char path[1024];
	struct safetensors_file f;
	float *w = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(safetensors_read(path, &f), 0);
	*n = 0;
	for (size_t i = 0; i < f.n_tensors; i++) {
		const struct safetensors_tensor *t = &f.tensors[i];

		if (strncmp(t->name, "backbone.", 9) && strncmp(t->name, "head.", 5))
			continue;
		w = realloc(w, (*n + t->count) * sizeof(float));
		memcpy(w + *n, t->data, t->count * sizeof(float));
		*n += t->count;
	}
	safetensors_free(&f);
	return w;
}

/*
 * The noise of a step: with gradients clipped to almost nothing, one SGD step of lr 1
 * (no momentum, no decay) with noise sigma moves every weight by -noise / B more than the
 * same step without noise: mean 0 and standard deviation sigma C / B, within 6 standard
 * errors.
 */
static void test_noise_of_a_step(void **state)
{
	const char *step = "--lr 1 --momentum 0 --weight-decay 0 --kn-p 0 --iters 1 --dp-clip 1e-3";
	char args[2048];
	float *a, *b;
	size_t n, m;
	double mean = 0, var = 0, want = 2 * 1e-3 / 4, d;

	(void)state;
	snprintf(args, sizeof(args), DP_ARGS "%s --dp-noise 0 --out %s/n0", dir, step, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), DP_ARGS "%s --dp-noise 2 --out %s/n2", dir, step, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	a = weights_of("n0/last.safetensors", &n);
	b = weights_of("n2/last.safetensors", &m);
	assert_true(n == m && n > 10000);
	for (size_t i = 0; i < n; i++)
		mean += (double)b[i] - a[i];
	mean /= (double)n;
	for (size_t i = 0; i < n; i++) {
		d = (double)b[i] - a[i] - mean;
		var += d * d;
	}
	var /= (double)(n - 1);
	if (fabs(mean) > 6 * want / sqrt((double)n) ||
	    fabs(sqrt(var) - want) > 6 * want * sqrt(0.5 / (double)n) + 1e-3 * want)
		fail_msg("weights moved by mean %g, sd %g; want 0 and %g", mean, sqrt(var), want);
	free(a), free(b);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *extra, *message;
		int status;
	} cases[] = {
		{"--dp-noise 1 --class-weights median", "outside the private mechanism", 1},
		{"", "needs one of --dp-epsilon E (a budget) and --dp-noise S", 2},
		{"--dp-noise 1 --dp-epsilon 3", "needs one of --dp-epsilon E", 2},
		{"--dp-noise -1", "--dp-noise '-1' is not a number", 2},
		{"--dp-noise 1 --dp-delta 1", "--dp-delta '1' is not a number", 2},
		{"--dp-epsilon 0", "--dp-epsilon '0' is not a number", 2},
		{"--dp-noise 1 --dp-clip 0", "--dp-clip '0' is not a number", 2},
		{"--dp-noise 1 --skip-bad", "--skip-bad and --dp-clip exclude each other", 2},
		{"--dp-noise 1 --batch 40", "the training split has 12 images, fewer than --batch 40", 1},
	};
	char args[2048], *err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		snprintf(args, sizeof(args), DP_ARGS "--iters 2 --out %s/x %s", dir, dir,
			 cases[i].extra);
		rc = run_knseg(dir, args, NULL, &err);
		if (rc != cases[i].status || !strstr(err, cases[i].message))
			fail_msg("'%s': status %d, '%s'", cases[i].extra, rc, err);
		free(err);
	}
	/* --dp-* without --dp-clip. */
	snprintf(args, sizeof(args), "train --root %s/syn --out %s/x --dp-noise 1", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 2);
	assert_non_null(strstr(err, "need --dp-clip C"));
	free(err);
	/* A run that was not private cannot go on as a private one. */
	snprintf(args, sizeof(args), "train --root %s/syn --width 0.0625 --crop 64x64 --batch 4 "
		 "--val-split none --seed 3 --iters 2 --out %s/plain", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	snprintf(args, sizeof(args), DP_ARGS "--dp-noise 1 --iters 4 --out %s/plain --resume "
		 "%s/plain/last.safetensors", dir, dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, &err), 1);
	assert_non_null(strstr(err, "without differential privacy"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private_run_reports_epsilon),
		cmocka_unit_test(test_budget_found_and_kept),
		cmocka_unit_test(test_resume_is_exact),
		cmocka_unit_test(test_secure_noise_source),
		cmocka_unit_test(test_noise_of_a_step),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
