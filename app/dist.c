/* Helpers on the collectives of dist.h, the same for one process and for MPI ranks. */
#define _GNU_SOURCE /* sched_getaffinity */
#include "app/dist.h"

#include <sched.h>
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
