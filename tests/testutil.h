/*
 * Helpers shared by the cmocka test programs.
 *
 * Include this after cmocka's required headers (testutil.h includes them itself, in the
 * order cmocka wants). Paths are relative to the repository root, where `make test`
 * runs every program.
 */
#ifndef KNSEG_TESTS_TESTUTIL_H
#define KNSEG_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/npy.h"

/*
 * True when |got - want| <= atol + rtol * |want| for all n elements. Otherwise prints
 * what, the first few mismatches with their indices and the largest absolute and
 * relative differences, and returns false. NaN in either array is a mismatch.
 */
bool allclose(const char *what, const float *got, const float *want, size_t n, double rtol,
	      double atol);

/* The same with a double reference (naive double implementations, numerical gradients). */
bool allclose_d(const char *what, const float *got, const double *want, size_t n,
		double rtol, double atol);

#define assert_allclose(what, got, want, n, rtol, atol) \
	assert_true(allclose((what), (got), (want), (n), (rtol), (atol)))
#define assert_allclose_d(what, got, want, n, rtol, atol) \
	assert_true(allclose_d((what), (got), (want), (n), (rtol), (atol)))

/*
 * Loads tests/fixtures/<name>.npy, failing the test with a message when it is missing
 * or malformed. Free with npy_free().
 */
void fixture_load(const char *name, struct npy_array *a);

/* Like fixture_load, and fails unless the shape equals the ndim sizes given. */
void fixture_load_shape(const char *name, struct npy_array *a, int ndim, ...);

/*
 * The folder of the shared real data (env KNSEG_SHARED_DATA, else ../shared/data), or
 * NULL when it is absent. Tests that need it call skip() with a message when NULL.
 */
const char *shared_data_dir(void);

/* A fresh empty temporary folder for a test (removed by tmpdir_remove). */
char *tmpdir_create(void);
void tmpdir_remove(char *dir);

/*
 * The knseg program built beside the running test program (build/<cfg>/knseg, as
 * `make test` builds it), or NULL after skip() when it is not there.
 */
const char *knseg_program_or_skip(void);

/*
 * Runs "knseg ARGS" (ARGS as shell words) with stdout and stderr into dir/out and
 * dir/err; returns the exit status. out and err (may be NULL) receive the outputs,
 * freed by the caller.
 */
int run_knseg(const char *dir, const char *args, char **out, char **err);

/*
 * The same with shell words run before it, e.g. "ulimit -v 1000000;" or
 * "OPENBLAS_NUM_THREADS=1" (as a prefix of the command).
 */
int run_knseg_with(const char *dir, const char *before, const char *args, char **out,
		   char **err);

/*
 * knseg-mpi beside the running test program (built when Open MPI is found), or NULL
 * when it is absent or mpirun is not on the PATH.
 */
const char *knseg_mpi_program(void);

/* Seconds before run_knseg_mpi takes a job for hung, and the status it then returns. */
#define KNSEG_MPI_TIMEOUT 120
#define KNSEG_MPI_TIMED_OUT 124

/*
 * Runs "mpirun -np RANKS knseg-mpi ARGS" as run_knseg runs knseg, under `timeout`: a
 * job that hangs ends after KNSEG_MPI_TIMEOUT seconds with status KNSEG_MPI_TIMED_OUT,
 * failing the test instead of stopping the suite. Needs knseg_mpi_program().
 */
int run_knseg_mpi(const char *dir, int ranks, const char *args, char **out, char **err);

/* Whether this build runs under AddressSanitizer (which cannot run under RLIMIT_AS). */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifndef TEST_ASAN
#define TEST_ASAN 0
#endif

/*
 * The thread counts that results must not depend on: 1, the machine's 2, and counts
 * above the cores, whose uneven shares of work cut the loops elsewhere.
 */
#define TEST_THREAD_COUNTS {1, 2, 3, 4}
#define TEST_THREAD_COUNT_N 4

/* Fills x[0..n) with uniform values in [lo, hi) from a fixed seed. */
void fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed);

#endif
