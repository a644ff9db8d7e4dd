/* Shared test helpers. See testutil.h. */
#include "tests/testutil.h"

#include "io/error.h"
#include "io/file.h"
#include "io/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REPORTED 5

static bool close_enough(double got, double want, double rtol, double atol)
{
	if (isnan(got) || isnan(want))
		return false;
	return fabs(got - want) <= atol + rtol * fabs(want);
}

static bool report(const char *what, size_t n, size_t bad, double max_abs, double max_rel)
{
	if (bad)
		fprintf(stderr, "%s: %zu of %zu differ; max abs diff %.3g, max rel diff %.3g\n",
			what, bad, n, max_abs, max_rel);
	return bad == 0;
}

#define ALLCLOSE_BODY(WANT_AT)                                                        \
	size_t bad = 0;                                                               \
	double max_abs = 0, max_rel = 0;                                              \
	for (size_t i = 0; i < n; i++) {                                              \
		double g = got[i], w = WANT_AT;                                       \
		double d = fabs(g - w);                                               \
		if (d > max_abs || isnan(d))                                          \
			max_abs = isnan(d) ? INFINITY : d;                            \
		if (fabs(w) > 0 && d / fabs(w) > max_rel)                             \
			max_rel = d / fabs(w);                                        \
		if (!close_enough(g, w, rtol, atol)) {                                \
			if (bad < MAX_REPORTED)                                       \
				fprintf(stderr, "%s[%zu]: got %.9g, want %.9g\n", what, i, \
					g, w);                                        \
			bad++;                                                        \
		}                                                                     \
	}                                                                             \
	return report(what, n, bad, max_abs, max_rel);

bool allclose(const char *what, const float *got, const float *want, size_t n, double rtol,
	      double atol)
{
	ALLCLOSE_BODY(want[i])
}

bool allclose_d(const char *what, const float *got, const double *want, size_t n,
		double rtol, double atol)
{
	ALLCLOSE_BODY(want[i])
}

void fixture_load(const char *name, struct npy_array *a)
{
	char path[512];

	snprintf(path, sizeof(path), "tests/fixtures/%s.npy", name);
	if (npy_read(path, a) < 0)
		fail_msg("fixture %s: %s (regenerate with `make fixtures`)", name, kn_errmsg());
}

void fixture_load_shape(const char *name, struct npy_array *a, int ndim, ...)
{
	va_list ap;

	fixture_load(name, a);
	if (a->ndim != ndim)
		fail_msg("fixture %s: %d dimensions, expected %d", name, a->ndim, ndim);
	va_start(ap, ndim);
	for (int i = 0; i < ndim; i++) {
		size_t want = (size_t)va_arg(ap, int);

		if (a->shape[i] != want) {
			va_end(ap);
			fail_msg("fixture %s: dimension %d is %zu, expected %zu", name, i,
				 a->shape[i], want);
		}
	}
	va_end(ap);
}

const char *shared_data_dir(void)
{
	const char *dir = getenv("KNSEG_SHARED_DATA");
	struct stat st;

	if (!dir || !*dir)
		dir = "../shared/data";
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return dir;
}

char *tmpdir_create(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = malloc(512);

	assert_non_null(dir);
	snprintf(dir, 512, "%s/knseg-test-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(dir));
	return dir;
}

void tmpdir_remove(char *dir)
{
	char cmd[600];

	if (!dir)
		return;
	/* Only ever removes a folder made by tmpdir_create. */
	if (strstr(dir, "/knseg-test-")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", dir);
	}
	free(dir);
}

void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
	struct rng r;

	rng_init(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = lo + (hi - lo) * rng_uniform(&r);
}

/* prog: the program name beside the running test program; whether it is there. */
static bool program_beside_tests(const char *name, char *prog, size_t size)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(prog, size, "%s/../%s", self, name);
	return access(prog, X_OK) == 0;
}

const char *knseg_program_or_skip(void)
{
	static char prog[PATH_MAX];

	if (program_beside_tests("knseg", prog, sizeof(prog)))
		return prog;
	printf("skipped: no knseg program beside the test program\n");
	skip();
	return NULL;
}

const char *knseg_mpi_program(void)
{
	static char prog[PATH_MAX];

	if (!program_beside_tests("knseg-mpi", prog, sizeof(prog)) ||
	    system("command -v mpirun >/dev/null 2>&1") != 0)
		return NULL;
	return prog;
}

static char *read_output(const char *dir, const char *name)
{
	char path[1024];
	unsigned char *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(file_read_all(path, &buf, &len), 0);
	return (char *)buf;
}

int run_knseg(const char *dir, const char *args, char **out, char **err)
{
	return run_knseg_with(dir, "", args, out, err);
}

int run_knseg_with(const char *dir, const char *before, const char *args, char **out,
		   char **err)
{
	char cmd[8192];
	int status;

	snprintf(cmd, sizeof(cmd), "%s '%s' %s >'%s/out' 2>'%s/err'", before,
		 knseg_program_or_skip(), args, dir, dir);
	status = system(cmd);
	assert_true(status != -1 && WIFEXITED(status));
	if (out)
		*out = read_output(dir, "out");
	if (err)
		*err = read_output(dir, "err");
	return WEXITSTATUS(status);
}

/*
 * OMPI_ALLOW_RUN_AS_ROOT and its confirmation let mpirun start as root (containers, CI)
 * and change nothing for other users; --oversubscribe allows more ranks than cores.
 * Under AddressSanitizer, LeakSanitizer is off in the ranks alone: Open MPI keeps
 * allocations of its own until the process ends, which LeakSanitizer would report as
 * leaks of knseg-mpi (knseg's own memory is held to it by the tests of plain knseg).
 */
int run_knseg_mpi(const char *dir, int ranks, const char *args, char **out, char **err)
{
	const char *prog = knseg_mpi_program();
	char cmd[16384];
	int status;

	assert_non_null(prog);
	snprintf(cmd, sizeof(cmd),
		 "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout %d "
		 "mpirun --oversubscribe -np %d %s '%s' %s >'%s/out' 2>'%s/err' </dev/null",
		 KNSEG_MPI_TIMEOUT, ranks, TEST_ASAN ? "-x ASAN_OPTIONS=detect_leaks=0" : "",
		 prog, args, dir, dir);
	status = system(cmd);
	assert_true(status != -1 && WIFEXITED(status));
	if (out)
		*out = read_output(dir, "out");
	if (err)
		*err = read_output(dir, "err");
	return WEXITSTATUS(status);
}
