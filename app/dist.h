/*
 * The processes of one job. Built as knseg, a job is this one process; built as
 * knseg-mpi and started by mpirun, it is the job's MPI ranks (Open MPI), which train or
 * evaluate together (README "Training on several machines"). The commands are written
 * once for both: in a single process every collective below is a copy or nothing.
 *
 * Rules that keep a job from hanging: every rank makes the same collective calls in the
 * same order; a rank that fails on its own (an unreadable file, no memory) does not
 * return early past a collective, but carries its failure to the next agreement point
 * (dist_any) so that all ranks stop together; only the main thread calls these
 * functions (MPI_THREAD_FUNNELED), never from inside an OpenMP region or a loader
 * thread. A rank that dies (a signal, the out-of-memory killer) makes mpirun end the
 * others.
 */
#ifndef KNSEG_APP_DIST_H
#define KNSEG_APP_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Joins the job (MPI_Init_thread under mpirun); a knseg-mpi started without mpirun is a
 * job of one process. Returns 0, or an exit status after a message.
 */
int dist_init(int *argc, char ***argv);

/* Leaves the job (MPI_Finalize); after the last collective. */
void dist_finalize(void);

/* This process's rank (0 .. dist_size() - 1) and the job's number of processes. */
int dist_rank(void);
int dist_size(void);

/* The ranks on this machine (sharing its memory), this machine's name. */
int dist_local_size(void);
const char *dist_host(void);

/* Whether this build can join a job of several processes (knseg-mpi). */
bool dist_available(void);

/* Sums n values over the ranks, in place, identically on every rank. */
void dist_sum_floats(float *v, size_t n);
void dist_sum_doubles(double *v, size_t n);
void dist_sum_u64(uint64_t *v, size_t n);

/* The largest of the ranks' values, on every rank. */
int dist_max_int(int v);

/*
 * An agreement point: true on every rank when failed is true on any. A failing rank
 * has printed its own message (starting with dist_where) before.
 */
bool dist_any(bool failed);

/* Copies rank 0's bytes to every rank. */
void dist_broadcast(void *buf, size_t bytes);

/*
 * "rank R (host) " in a job of several processes, "" alone: the start of a message
 * that says where it happened.
 */
const char *dist_where(void);

/* ---- built on the collectives above (app/dist.c) ---- */

/* A 64-bit hash of n bytes, continuing from h (start with DIST_HASH_START). */
#define DIST_HASH_START 0xcbf29ce484222325ULL
uint64_t dist_hash(const void *p, size_t n, uint64_t h);

/*
 * Compares v with rank 0's: true on every rank when some rank's differs; *mine says
 * whether this rank's does.
 */
bool dist_differs(uint64_t v, bool *mine);

/*
 * Every rank must run the same command: compares the words after the command's name
 * (argv[0 .. argc)) with rank 0's. 0, or 2 (the usage status) on every rank when some
 * rank's differ, after each such rank has said so.
 */
int dist_same_command(const char *cmd, int argc, char **argv);

/*
 * The threads a rank uses by default: the cores it may run on, shared among the ranks
 * of its machine when they all may use every core (not bound by mpirun); 0 for a job of
 * one process (the runtime's own default, every core).
 */
int dist_default_threads(void);

/*
 * A started non-blocking sum of floats over the ranks (MPI_Iallreduce), to overlap
 * with computation; dist_wait completes it. One process: done at once.
 */
struct dist_request {
	void *impl; /* the MPI request, or NULL */
};
void dist_sum_floats_start(float *v, size_t n, struct dist_request *req);
void dist_wait(struct dist_request *req);

/* Lets a started sum progress (MPI_Test) while the caller computes. */
void dist_progress(struct dist_request *req);

/*
 * The gradients of a data-parallel step, summed over the ranks in buckets: a bucket is
 * started (dist_sum_floats_start) as soon as the backward pass has finished it, so that
 * the transfers overlap the rest of the pass and only the last bucket's waits after it.
 * For a struct model m:
 *
 *     struct dist_grads s;
 *     dist_grads_begin(&s, m->grads, m->g.param_count, bucket_floats);
 *     m->grads_ready = dist_grads_ready;
 *     m->grads_ctx = &s;
 *     model_backward_over(m, ...);
 *     dist_grads_end(&s);             (every gradient summed over the ranks)
 *
 * Buckets are contiguous ranges of the flat array, from its end down, of at least
 * bucket_floats (the last, at the array's start, may be smaller); bucket_floats = 0
 * sums everything in one call at dist_grads_end (no overlap). The bucket boundaries
 * depend only on the network and bucket_floats, so a run gives the same sums every time.
 * One process: nothing is sent.
 */
#define DIST_MAX_BUCKETS 512
struct dist_grads {
	float *grads;
	size_t n, bucket, end; /* grads[end, n) are started */
	struct dist_request req[DIST_MAX_BUCKETS];
	int nreq;
};
void dist_grads_begin(struct dist_grads *s, float *grads, size_t n, size_t bucket_floats);
void dist_grads_ready(void *ctx, size_t first);
void dist_grads_end(struct dist_grads *s);

#endif
