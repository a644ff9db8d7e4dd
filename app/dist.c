/* Helpers on the collectives of dist.h, the same for one process and for MPI ranks. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "app/dist.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

uint64_t dist_hash(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	size_t i = 0;

	/* Eight bytes at a time (FNV-1a's step on words), then the rest byte by byte. */
	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

bool dist_differs(uint64_t v, bool *mine)
{
	uint64_t first = v;

	dist_broadcast(&first, sizeof(first));
	*mine = first != v;
	return dist_any(*mine);
}

int dist_same_command(const char *cmd, int argc, char **argv)
{
	uint64_t h = DIST_HASH_START;
	bool mine;

	for (int i = 0; i < argc; i++)
		h = dist_hash(argv[i], strlen(argv[i]) + 1, h);
	if (!dist_differs(h, &mine))
		return 0;
	if (mine)
		fprintf(stderr, "knseg %s: %swas started with other options than rank 0: every "
			"rank runs the same command\n", cmd, dist_where());
	return 2;
}

int dist_default_threads(void)
{
	cpu_set_t set;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int mine;

	if (dist_size() == 1)
		return 0;
	if (sched_getaffinity(0, sizeof(set), &set))
		return 1;
	mine = CPU_COUNT(&set);
	if (mine >= online && dist_local_size() > 1)
		mine /= dist_local_size();
	return mine > 0 ? mine : 1;
}

void dist_grads_begin(struct dist_grads *s, float *grads, size_t n, size_t bucket_floats)
{
	s->grads = grads;
	s->n = s->end = n;
	/* Never more buckets than requests to hold them. */
	s->bucket = bucket_floats && bucket_floats < n / (DIST_MAX_BUCKETS - 1) + 1
			    ? n / (DIST_MAX_BUCKETS - 1) + 1
			    : bucket_floats;
	s->nreq = 0;
}

void dist_grads_ready(void *ctx, size_t first)
{
	struct dist_grads *s = ctx;

	if (dist_size() == 1)
		return;
	if (s->bucket && s->end - first >= s->bucket) {
		dist_sum_floats_start(s->grads + first, s->end - first, &s->req[s->nreq++]);
		s->end = first;
	}
	for (int i = 0; i < s->nreq; i++)
		dist_progress(&s->req[i]);
}

void dist_grads_end(struct dist_grads *s)
{
	if (dist_size() > 1 && s->end > 0)
		dist_sum_floats(s->grads, s->end);
	for (int i = 0; i < s->nreq; i++)
		dist_wait(&s->req[i]);
	s->end = 0;
	s->nreq = 0;
}
