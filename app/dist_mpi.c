/*
 * A job of MPI ranks (Open MPI): the collectives of dist.h on MPI_COMM_WORLD. Linked
 * into knseg-mpi in place of dist_single.c.
 *
 * Sums go through MPI_Allreduce, whose result Open MPI's algorithms give identically on
 * every rank (each part is reduced once and then copied); the training run still checks
 * that the replicas agree (a checksum of the parameters). Counts above INT_MAX are sent
 * in pieces. Errors in MPI itself end the job (MPI_ERRORS_ARE_FATAL, the default).
 */
#include "app/dist.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size = 1, local_size = 1;
static char host[MPI_MAX_PROCESSOR_NAME + 1];
static char where[MPI_MAX_PROCESSOR_NAME + 32];

/* The largest piece of one collective call, in elements. */
#define PIECE ((size_t)1 << 30)

int dist_init(int *argc, char ***argv)
{
	MPI_Comm local;
	int provided, len = 0;

	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "knseg: cannot start MPI\n");
		return 1;
	}
	if (provided < MPI_THREAD_FUNNELED) {
		fprintf(stderr, "knseg: this MPI library does not allow threads (FUNNELED)\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Get_processor_name(host, &len);
	host[len] = '\0';
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local);
	MPI_Comm_size(local, &local_size);
	MPI_Comm_free(&local);
	if (size > 1)
		snprintf(where, sizeof(where), "rank %d (%s) ", rank, host);
	return 0;
}

void dist_finalize(void)
{
	MPI_Finalize();
}

int dist_rank(void)
{
	return rank;
}

int dist_size(void)
{
	return size;
}

int dist_local_size(void)
{
	return local_size;
}

const char *dist_host(void)
{
	return host;
}

bool dist_available(void)
{
	return true;
}

static void sum(void *v, size_t n, size_t elem, MPI_Datatype type)
{
	for (size_t off = 0; off < n && size > 1; off += PIECE) {
		size_t k = n - off < PIECE ? n - off : PIECE;

		MPI_Allreduce(MPI_IN_PLACE, (char *)v + off * elem, (int)k, type, MPI_SUM,
			      MPI_COMM_WORLD);
	}
}

void dist_sum_floats(float *v, size_t n)
{
	sum(v, n, sizeof(float), MPI_FLOAT);
}

void dist_sum_doubles(double *v, size_t n)
{
	sum(v, n, sizeof(double), MPI_DOUBLE);
}

void dist_sum_u64(uint64_t *v, size_t n)
{
	sum(v, n, sizeof(uint64_t), MPI_UINT64_T);
}

int dist_max_int(int v)
{
	if (size > 1)
		MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return v;
}

bool dist_any(bool failed)
{
	return dist_max_int(failed ? 1 : 0) != 0;
}

void dist_broadcast(void *buf, size_t bytes)
{
	for (size_t off = 0; off < bytes && size > 1; off += PIECE) {
		size_t k = bytes - off < PIECE ? bytes - off : PIECE;

		MPI_Bcast((char *)buf + off, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
	}
}

const char *dist_where(void)
{
	return where;
}

void dist_sum_floats_start(float *v, size_t n, struct dist_request *req)
{
	MPI_Request *r;

	req->impl = NULL;
	if (size == 1 || n == 0)
		return;
	if (n > INT_MAX) { /* never for one bucket of gradients; done at once */
		dist_sum_floats(v, n);
		return;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		dist_sum_floats(v, n);
		return;
	}
	MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, r);
	req->impl = r;
}

void dist_wait(struct dist_request *req)
{
	if (!req->impl)
		return;
	MPI_Wait(req->impl, MPI_STATUS_IGNORE);
	free(req->impl);
	req->impl = NULL;
}

void dist_progress(struct dist_request *req)
{
	int done;

	if (req->impl)
		MPI_Test(req->impl, &done, MPI_STATUS_IGNORE);
}
