/*
 * knseg eval as an Open MPI job (knseg-mpi under mpirun), end to end on a tiny synthetic
 * dataset and checkpoint:
 * - the ranks share the images, and the JSON report of 1, 2 and 3 ranks is the same
 *   bytes as plain knseg's, under the official Cityscapes rules (with instance-weighted
 *   iIoU, whose sums depend on their order) and under the plain rules;
 * - rank 0 alone prints the table, and says how many ranks evaluate;
 * - a corrupt label file on one rank's share ends the whole job with a non-zero status,
 *   within the time limit, and a message naming the file and the rank.
 * Every mpirun runs under `timeout`, so that a job that hangs fails the test instead of
 * stopping the suite. Skipped when knseg-mpi was not built (no Open MPI) or mpirun is
 * not on the PATH.
 */
#include "tests/testutil.h"

#include "io/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;

static void skip_without_mpi(void)
{
	if (!dir) {
		printf("skipped: no knseg-mpi beside the test program, or no mpirun\n");
		skip();
	}
}

static char *read_text(const char *name)
{
	char path[1024];
	unsigned char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_read_all(path, &buf, &len), 0);
	return (char *)buf;
}

static int setup(void **state)
{
	char args[2048];

	(void)state;
	if (!knseg_program_or_skip() || !knseg_mpi_program())
		return 0;
	dir = tmpdir_create();
	/* 5 labelled images: 3 ranks get shares of 2, 2 and 1. */
	snprintf(args, sizeof(args), "synth --out %s/syn --train 4 --val 5 --size 128x64 --seed 9",
		 dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	/* Median-frequency class weights make even 4 iterations predict people, so the
	 * instance-weighted iIoU is not 0 and its sums are put to the test. */
	snprintf(args, sizeof(args),
		 "train --root %s/syn --out %s/run --width 0.0625 --crop 128x64 --batch 2 "
		 "--iters 4 --val-every 2 --lr 0.02 --class-weights median", dir, dir);
	assert_int_equal(run_knseg(dir, args, NULL, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

/* Occurrences of what in s. */
static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* The JSON report of "eval OPTS" on `ranks` ranks (0: plain knseg), into dir/NAME. */
static char *eval_json(int ranks, const char *opts, const char *name)
{
	char args[4096], file[600], *out, *err;

	snprintf(file, sizeof(file), "%s/%s", dir, name);
	snprintf(args, sizeof(args),
		 "eval --checkpoint %s/run/best.safetensors --root %s/syn --threads 1 --json %s %s",
		 dir, dir, file, opts);
	if (ranks == 0) {
		assert_int_equal(run_knseg(dir, args, &out, &err), 0);
	} else {
		int rc = run_knseg_mpi(dir, ranks, args, &out, &err);

		if (rc)
			fail_msg("%d ranks: status %d%s: %s", ranks, rc,
				 rc == KNSEG_MPI_TIMED_OUT ? " (timed out)" : "", err);
		/* One table, rank 0's; rank 0 says how many ranks share the images. */
		assert_int_equal(count(out, "\nmIoU "), 1);
		snprintf(file, sizeof(file), "eval: %d ranks share the 5 labelled images\n",
			 ranks);
		assert_int_equal(count(err, file), ranks > 1);
	}
	free(out), free(err);
	return read_text(name);
}

/* The reports of 1 (plain knseg), 2 and 3 ranks are the same bytes. */
static void check_same_reports(const char *opts)
{
	char *one = eval_json(0, opts, "one.json");

	for (int ranks = 1; ranks <= 3; ranks++) {
		char name[32], *many;

		snprintf(name, sizeof(name), "ranks%d.json", ranks);
		many = eval_json(ranks, opts, name);
		if (strcmp(one, many))
			fail_msg("%d ranks (%s): the report differs from one process's:\n%s\n%s",
				 ranks, opts, many, one);
		free(many);
	}
	free(one);
}

static void test_official_rules_same_bytes(void **state)
{
	char *one, *iiou;

	(void)state;
	skip_without_mpi();
	check_same_reports("");
	one = read_text("one.json");
	iiou = strstr(one, "\"iIoU\":");
	assert_non_null(iiou);
	assert_true(strtod(iiou + 7, NULL) > 0);
	free(one);
}

static void test_plain_rules_same_bytes(void **state)
{
	char *one;

	(void)state;
	skip_without_mpi();
	check_same_reports("--plain");
	one = read_text("one.json");
	assert_null(strstr(one, "\"iIoU\""));
	free(one);
}

/*
 * The second labelled image (rank 1's first of 2) has a truncated labelIds file: the
 * job ends, every rank with an error, and rank 1 names the file.
 */
static void test_corrupt_label_ends_the_job(void **state)
{
	static const char label[] = "gtFine/val/synth/synth_000000_000001_gtFine_labelIds.png";
	char cmd[2048], args[2048], *out, *err, *line;
	int rc;

	(void)state;
	skip_without_mpi();
	snprintf(cmd, sizeof(cmd), "cp -r %s/syn %s/bad && head -c 100 %s/syn/%s > %s/bad/%s", dir,
		 dir, dir, label, dir, label);
	assert_int_equal(system(cmd), 0);
	snprintf(args, sizeof(args),
		 "eval --checkpoint %s/run/best.safetensors --root %s/bad --threads 1 --quiet", dir,
		 dir);
	rc = run_knseg_mpi(dir, 2, args, &out, &err);
	if (rc == 0 || rc == KNSEG_MPI_TIMED_OUT)
		fail_msg("status %d%s, want an error: %s", rc,
			 rc == KNSEG_MPI_TIMED_OUT ? " (timed out)" : "", err);
	/* Rank 0 says which rank failed; rank 1's line names the file. */
	assert_non_null(strstr(err, "knseg: rank 0 ("));
	assert_non_null(strstr(err, "stopped: rank 1 failed"));
	line = strstr(err, "knseg: rank 1 (");
	if (!line)
		fail_msg("no message of rank 1: %s", err);
	if (strchr(line, '\n'))
		*strchr(line, '\n') = '\0';
	if (!strstr(line, label))
		fail_msg("rank 1's message does not name '%s': %s", label, line);
	free(out), free(err);
}

/* Ranks started with other options (another split on rank 1) are refused at once. */
static void test_other_options_refused(void **state)
{
	char cmd[8192], *err;
	int status;

	(void)state;
	skip_without_mpi();
	snprintf(cmd, sizeof(cmd),
		 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout %d mpirun "
		 "--oversubscribe %s -np 1 '%s' eval --checkpoint %s/run/best.safetensors --root "
		 "%s/syn --quiet : -np 1 '%s' eval --checkpoint %s/run/best.safetensors --root %s/syn "
		 "--quiet --split train >/dev/null 2>'%s/err' </dev/null",
		 KNSEG_MPI_TIMEOUT, TEST_ASAN ? "-x ASAN_OPTIONS=detect_leaks=0" : "",
		 knseg_mpi_program(), dir, dir, knseg_mpi_program(), dir, dir, dir);
	status = system(cmd);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	err = read_text("err");
	assert_non_null(strstr(err, "knseg eval: rank 1 ("));
	assert_non_null(strstr(err, "other options than rank 0"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_official_rules_same_bytes),
		cmocka_unit_test(test_plain_rules_same_bytes),
		cmocka_unit_test(test_corrupt_label_ends_the_job),
		cmocka_unit_test(test_other_options_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
