/*
 * A job of one process: the collectives of dist.h as copies. The program knseg links
 * this file; knseg-mpi links dist_mpi.c instead.
 */
#include "app/dist.h"

#include <stdio.h>
#include <unistd.h>

static char host[256];

int dist_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (gethostname(host, sizeof(host) - 1))
		snprintf(host, sizeof(host), "localhost");
	return 0;
}

void dist_finalize(void)
{
}

int dist_rank(void)
{
	return 0;
}

int dist_size(void)
{
	return 1;
}

int dist_local_size(void)
{
	return 1;
}

const char *dist_host(void)
{
	return host;
}

bool dist_available(void)
{
	return false;
}

void dist_sum_floats(float *v, size_t n)
{
	(void)v;
	(void)n;
}

void dist_sum_doubles(double *v, size_t n)
{
	(void)v;
	(void)n;
}

void dist_sum_u64(uint64_t *v, size_t n)
{
	(void)v;
	(void)n;
}

int dist_max_int(int v)
{
	return v;
}

bool dist_any(bool failed)
{
	return failed;
}

void dist_broadcast(void *buf, size_t bytes)
{
	(void)buf;
	(void)bytes;
}

const char *dist_where(void)
{
	return "";
}

void dist_sum_floats_start(float *v, size_t n, struct dist_request *req)
{
	(void)v;
	(void)n;
	req->impl = NULL;
}

void dist_wait(struct dist_request *req)
{
	req->impl = NULL;
}

void dist_progress(struct dist_request *req)
{
	(void)req;
}
