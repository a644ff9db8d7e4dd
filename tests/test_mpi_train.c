/*
 * knseg train as an MPI job (knseg-mpi under mpirun, several processes on this machine,
 * one thread each):
 * - the same global batch on P = 1, 2, 3 and 4 processes gives the same weights within
 *   TOLERANCE (only the order of float sums differs), and so does a private run (DP-SGD)
 *   on 3; the same P twice gives the same checkpoint byte for byte;
 * - a run of P = 2 stopped half-way and resumed with P = 4 or P = 1 ends with the weights
 *   of the straight run, within the same tolerance;
 * - a corrupt training image ends the job with a message naming the file and the rank,
 *   within a time limit (a hang fails the test); so do a global batch the processes
 *   cannot share, ranks started with other options, and a dataset missing on one rank;
 * - a run begun with one mask per batch (an older checkpoint) resumes so, on one process;
 * - SIGTERM to mpirun, or SIGINT to its process group (Ctrl-C), stops every rank and
 *   leaves a last.safetensors that resumes.
 * Skipped when knseg-mpi or mpirun is not there.
 */
#include "tests/testutil.h"

#include "io/safetensors.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * |w_P - w_1| <= TOLERANCE * (1 + |w_1|) for every weight after ITERS iterations. The
 * processes sum the same terms in another order: each gradient element is a sum of
 * thousands of float products whose rounding changes with the order, a relative change
 * of the order of 1e-6 for sums of mixed signs, and the optimizer carries it into the
 * weights through ITERS steps of lr 0.02 with momentum; measured differences are below
 * 1e-6 (README "Training on several machines"), and 2e-5 leaves room for other CPUs'
 * kernels while still failing on any real difference (a wrong slice or denominator
 * moves weights by 1e-3 and more).
 */
#define TOLERANCE 2e-5
#define ITERS 4

static char *dir;
static char mpi_prog[4096];

/*
 * Shell words that start P processes (as run_knseg_mpi does, for the commands it cannot
 * say: several programs in one job, a job signalled while it runs).
 */
static void mpirun_words(char *buf, size_t size, int p)
{
	snprintf(buf, size,
		 "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout %d mpirun "
		 "--oversubscribe %s -np %d", KNSEG_MPI_TIMEOUT,
		 TEST_ASAN ? "-x ASAN_OPTIONS=detect_leaks=0" : "", p);
}

/* The whole of dir/name, as a string. */
static char *slurp(const char *name)
{
	char path[4200], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc((size_t)n + 1, 1);
	assert_non_null(buf);
	assert_true(fread(buf, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	return buf;
}

/* Runs the shell command cmd with outputs into dir/out and dir/err; the exit status. */
static int run_shell(const char *cmd, char **out, char **err)
{
	char full[48000];
	int status;

	snprintf(full, sizeof(full), "%s >'%s/out' 2>'%s/err'", cmd, dir, dir);
	status = system(full);
	assert_true(status != -1 && WIFEXITED(status));
	if (out)
		*out = slurp("out");
	if (err)
		*err = slurp("err");
	return WEXITSTATUS(status);
}

static int run_mpi(int p, const char *args, char **out, char **err)
{
	return run_knseg_mpi(dir, p, args, out, err);
}

static const char *train_words = "train --width 0.0625 --crop 64x64 --batch 12 --lr 0.02 "
				 "--val-split none --log-every 1 --threads 1 --seed 5";

static int setup(void **state)
{
	const char *prog;
	char args[2048];

	(void)state;
	if (!knseg_program_or_skip())
		return 0;
	dir = tmpdir_create();
	prog = knseg_mpi_program();
	if (!prog) {
		printf("skipped: no knseg-mpi or no mpirun\n");
		return 0;
	}
	snprintf(mpi_prog, sizeof(mpi_prog), "%s", prog);
	snprintf(args, sizeof(args), "synth --out %s/syn --train 12 --val 2 --size 96x64 --seed 3",
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

static bool have_mpi(void)
{
	if (!mpi_prog[0])
		skip();
	return mpi_prog[0] != '\0';
}

/* The largest |a - b| / (1 + |b|) over the parameters of two checkpoints. */
static double weights_difference(const char *a_path, const char *b_path)
{
	struct safetensors_file a, b;
	double worst = 0;

	assert_int_equal(safetensors_read(a_path, &a), 0);
	assert_int_equal(safetensors_read(b_path, &b), 0);
	for (size_t i = 0; i < b.n_tensors; i++) {
		const struct safetensors_tensor *t = &b.tensors[i];
		const struct safetensors_tensor *u = safetensors_find(&a, t->name);

		if (strncmp(t->name, "backbone.", 9) && strncmp(t->name, "head.", 5))
			continue; /* the optimizer state and run state */
		assert_non_null(u);
		assert_int_equal(u->count, t->count);
		assert_int_equal(t->dtype, SAFETENSORS_F32);
		for (size_t k = 0; k < t->count; k++) {
			float x, y; /* the data are not aligned */
			double d;

			memcpy(&x, u->data + 4 * k, 4);
			memcpy(&y, t->data + 4 * k, 4);
			d = fabs((double)x - y) / (1 + fabs((double)y));
			if (d > worst)
				worst = d;
		}
	}
	safetensors_free(&a);
	safetensors_free(&b);
	return worst;
}

/* Trains ITERS iterations into dir/<name> with p processes (p = 1: plain knseg). */
static void train_into(const char *name, int p, const char *extra)
{
	char args[4096], *err;
	int rc;

	snprintf(args, sizeof(args), "%s --root %s/syn --out %s/%s --iters %d %s", train_words, dir,
		 dir, name, ITERS, extra);
	rc = p == 1 ? run_knseg(dir, args, NULL, &err) : run_mpi(p, args, NULL, &err);
	if (rc != 0)
		fail_msg("train with %d processes: status %d: %s", p, rc, err);
	free(err);
}

static double difference(const char *a, const char *b)
{
	char pa[4200], pb[4200];

	snprintf(pa, sizeof(pa), "%s/%s/last.safetensors", dir, a);
	snprintf(pb, sizeof(pb), "%s/%s/last.safetensors", dir, b);
	return weights_difference(pa, pb);
}

static void test_same_weights_on_any_count(void **state)
{
	char a[4200], b[4200], cmd[9000];

	(void)state;
	if (!have_mpi())
		return;
	train_into("p1", 1, "");
	for (int p = 2; p <= 4; p++) {
		char name[16];
		double d;

		snprintf(name, sizeof(name), "p%d", p);
		train_into(name, p, "");
		d = difference(name, "p1");
		printf("P = %d: largest weight difference from P = 1: %.3g\n", p, d);
		assert_true(d <= TOLERANCE);
	}
	/* A private run: the ranks share the Poisson batch, rank 0 adds the noise. */
	train_into("dp1", 1, "--batch 6 --dp-clip 1 --dp-noise 0.5");
	train_into("dp3", 3, "--batch 6 --dp-clip 1 --dp-noise 0.5");
	printf("private, P = 3: largest weight difference from P = 1: %.3g\n",
	       difference("dp3", "dp1"));
	assert_true(difference("dp3", "dp1") <= TOLERANCE);
	/* The same count twice: the same bytes. */
	train_into("p2again", 2, "");
	snprintf(a, sizeof(a), "%s/p2/last.safetensors", dir);
	snprintf(b, sizeof(b), "%s/p2again/last.safetensors", dir);
	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	assert_int_equal(system(cmd), 0);
}

static void test_resume_on_other_counts(void **state)
{
	char args[4096], *err;

	(void)state;
	if (!have_mpi())
		return;
	train_into("straight", 2, "");
	for (int p = 1; p <= 4; p += 3) {
		char name[32];
		double d;

		snprintf(name, sizeof(name), "half_then_%d", p);
		train_into(name, 2, "--stop-after 2");
		snprintf(args, sizeof(args), "%s --root %s/syn --out %s/%s --iters %d --resume "
			 "%s/%s/last.safetensors", train_words, dir, dir, name, ITERS, dir, name);
		if ((p == 1 ? run_knseg(dir, args, NULL, &err) : run_mpi(p, args, NULL, &err)) != 0)
			fail_msg("resume with %d processes: %s", p, err);
		free(err);
		d = difference(name, "straight");
		printf("stopped with P = 2, resumed with P = %d: largest difference %.3g\n", p, d);
		assert_true(d <= TOLERANCE);
	}
}

static void rewrite(const char *path, const char *key, const char *huge);

static void test_errors(void **state)
{
	char args[4096], words[512], cmd[32768], *err;

	(void)state;
	if (!have_mpi())
		return;
	/* A global batch of 12 cannot be split among 5 processes. */
	snprintf(args, sizeof(args), "%s --root %s/syn --out %s/e1 --iters 2", train_words, dir,
		 dir);
	assert_int_equal(run_mpi(5, args, NULL, &err), 2);
	assert_non_null(strstr(err, "cannot be split among 5 processes"));
	free(err);

	/* Ranks started with other options. */
	mpirun_words(words, sizeof(words), 1);
	snprintf(cmd, sizeof(cmd), "%s '%s' %s : -np 1 '%s' %s --lr 0.03", words, mpi_prog, args,
		 mpi_prog, args);
	assert_int_equal(run_shell(cmd, NULL, &err), 2);
	assert_non_null(strstr(err, "rank 1"));
	assert_non_null(strstr(err, "other options than rank 0"));
	free(err);

	/* The dataset is missing where rank 1 runs (the same relative path elsewhere). */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/elsewhere && %s --wdir %s '%s' %s --root syn "
		 "--out %s/e3 --iters 2 : -np 1 --wdir %s/elsewhere '%s' %s --root syn --out %s/e3 "
		 "--iters 2", dir, words, dir, mpi_prog, train_words, dir, dir, mpi_prog,
		 train_words, dir);
	assert_int_not_equal(run_shell(cmd, NULL, &err), 0);
	assert_non_null(strstr(err, "rank 1"));
	assert_non_null(strstr(err, "syn"));
	free(err);

	/* A corrupt training image: the rank that reads it says which, the job ends. */
	snprintf(cmd, sizeof(cmd), "cp -r %s/syn %s/bad && f=$(ls %s/bad/leftImg8bit/train/synth/*.png "
		 "| sed -n 7p) && head -c 300 \"$f\" > \"$f.part\" && mv \"$f.part\" \"$f\"", dir,
		 dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args), "%s --root %s/bad --out %s/e4 --iters 3", train_words, dir,
		 dir);
	assert_int_equal(run_mpi(2, args, NULL, &err), 1);
	assert_non_null(strstr(err, "rank "));
	assert_non_null(strstr(err, "leftImg8bit.png"));
	assert_non_null(strstr(err, "saved"));
	free(err);

	/* A non-finite loss is every rank's: one message, every rank stops. */
	train_into("e5", 1, "--stop-after 1");
	snprintf(cmd, sizeof(cmd), "%s/e5/last.safetensors", dir);
	rewrite(cmd, "", "head.cls.weight");
	snprintf(cmd, sizeof(cmd), "%s --root %s/syn --out %s/e6 --iters 2 --init "
		 "%s/e5/last.safetensors", train_words, dir, dir, dir);
	assert_int_equal(run_mpi(2, cmd, NULL, &err), 1);
	assert_non_null(strstr(err, "at iteration 1: stopping"));
	assert_null(strstr(strstr(err, "at iteration 1: stopping") + 1, "at iteration 1: stopping"));
	free(err);
}

/*
 * Rewrites the checkpoint at path without its metadata key (a file of an older run),
 * and with the first value of tensor huge (when not NULL) set to 3e38.
 */
static void rewrite(const char *path, const char *key, const char *huge)
{
	struct safetensors_file f;
	struct safetensors_writer w;
	float **copies;

	assert_int_equal(safetensors_read(path, &f), 0);
	safetensors_writer_init(&w);
	copies = calloc(f.n_tensors, sizeof(*copies));
	for (size_t i = 0; i < f.n_tensors; i++) {
		const struct safetensors_tensor *t = &f.tensors[i];

		assert_int_equal(t->dtype, SAFETENSORS_F32);
		copies[i] = malloc(t->nbytes + 1); /* the file's data are not aligned */
		memcpy(copies[i], t->data, t->nbytes);
		if (huge && !strcmp(t->name, huge))
			copies[i][0] = 3e38f;
		safetensors_add_f32(&w, t->name, copies[i], t->ndim, t->shape);
	}
	for (size_t i = 0; i < f.n_meta; i++)
		if (strcmp(f.meta[i].key, key))
			safetensors_add_meta(&w, f.meta[i].key, f.meta[i].value);
	assert_int_equal(safetensors_write(&w, path), 0);
	safetensors_writer_free(&w);
	for (size_t i = 0; i < f.n_tensors; i++)
		free(copies[i]);
	free(copies);
	safetensors_free(&f);
}

/*
 * A run begun before the masks were drawn per image (its checkpoints have no
 * run.mask_streams) resumes with one mask per batch, as it began: on one process, not
 * on several, whose split of the batch would change its masks.
 */
static void test_older_runs_resume_as_they_began(void **state)
{
	char args[16384], path[4200], *err;
	struct safetensors_file f;

	(void)state;
	if (!have_mpi())
		return;
	train_into("older", 1, "--stop-after 2");
	snprintf(path, sizeof(path), "%s/older/last.safetensors", dir);
	rewrite(path, "run.mask_streams", NULL);
	snprintf(args, sizeof(args), "%s --root %s/syn --out %s/older --iters %d --resume %s",
		 train_words, dir, dir, ITERS, path);
	assert_int_equal(run_mpi(2, args, NULL, &err), 1);
	assert_non_null(strstr(err, "drew its dropout masks per batch"));
	assert_non_null(strstr(err, "resume it as one process"));
	free(err);
	if (run_knseg(dir, args, NULL, &err) != 0)
		fail_msg("resume of an older run: %s", err);
	free(err);
	assert_int_equal(safetensors_read(path, &f), 0);
	assert_string_equal(safetensors_meta_get(&f, "run.mask_streams"), "batch");
	safetensors_free(&f);
	/* Its last two iterations drew other masks than a run of per-image masks. */
	train_into("newer", 1, "");
	assert_true(difference("older", "newer") > 1e-4);
}

/* Waits up to seconds for pid; false (after killing its process group) when it hangs. */
static bool wait_for(pid_t pid, int seconds, int *status)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(100000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/*
 * A job stopped by a signal: SIGTERM to mpirun alone (a batch system's stop), or SIGINT
 * to mpirun's whole process group (Ctrl-C on its terminal). Every rank stops at one
 * iteration, rank 0 saves last.safetensors and says so, and the run resumes.
 */
static void stop_with(const char *name, int sig, bool group)
{
	char cmd[32768], path[4200], *err;
	pid_t pid;
	int status;

	/* No checkpoint but the one the signal makes (--val-every beyond the run); no
	 * timeout wrapper, which would stand between the signal and mpirun. */
	snprintf(cmd, sizeof(cmd), "exec mpirun --oversubscribe -np 2 '%s' %s --root %s/syn "
		 "--out %s/%s --iters 100000 --val-every 100000 >'%s/%s.out' 2>'%s/%s.err'",
		 mpi_prog, train_words, dir, dir, name, dir, name, dir, name);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setsid(); /* its own process group, as a job started from a shell */
		setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
		setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
		if (TEST_ASAN)
			setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Until the run has logged a few iterations. */
	snprintf(path, sizeof(path), "%s/%s/log.csv", dir, name);
	for (int i = 0; i < 600; i++) {
		FILE *f = fopen(path, "r");
		int lines = 0, c;

		if (f) {
			while ((c = fgetc(f)) != EOF)
				lines += c == '\n';
			fclose(f);
		}
		if (lines >= 4)
			break;
		usleep(100000);
	}
	kill(group ? -pid : pid, sig);
	assert_true(wait_for(pid, 60, &status));
	assert_true(!WIFEXITED(status) || WEXITSTATUS(status) != 0);
	snprintf(path, sizeof(path), "%s.err", name);
	err = slurp(path);
	if (!strstr(err, "interrupted"))
		fail_msg("%s: no word of the stop: %s", name, err);
	free(err);
	snprintf(path, sizeof(path), "%s/%s/last.safetensors", dir, name);
	assert_true(access(path, R_OK) == 0);
	snprintf(cmd, sizeof(cmd), "%s --root %s/syn --out %s/%s --iters 100000 --stop-after 1 "
		 "--resume %s", train_words, dir, dir, name, path);
	if (run_mpi(2, cmd, NULL, &err) != 0)
		fail_msg("resume after the signal: %s", err);
	free(err);
}

static void test_signals_stop_together(void **state)
{
	(void)state;
	if (!have_mpi())
		return;
	stop_with("sigterm", SIGTERM, false);
	stop_with("ctrl_c", SIGINT, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_weights_on_any_count),
		cmocka_unit_test(test_resume_on_other_counts),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_older_runs_resume_as_they_began),
		cmocka_unit_test(test_signals_stop_together),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
