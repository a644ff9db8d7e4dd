/* Greedy slot-based planning of buffer offsets by lifetime. See plan.h. */
#include "nets/plan.h"
#include "io/alloc.h"
#include "io/arena.h"
#include "io/error.h"

#include <stdbool.h>
#include <stdlib.h>

struct slot {
	size_t cap;
	bool busy;
};

/* The slot an item of size floats goes into; may grow a slot or open a new one. */
static int take_slot(struct slot *slots, int *nslots, size_t size)
{
	int best = -1, largest = -1;

	for (int s = 0; s < *nslots; s++) {
		if (slots[s].busy)
			continue;
		if (slots[s].cap >= size && (best < 0 || slots[s].cap < slots[best].cap))
			best = s;
		if (largest < 0 || slots[s].cap > slots[largest].cap)
			largest = s;
	}
	if (best < 0 && largest >= 0) {
		best = largest;
		slots[best].cap = size;
	}
	if (best < 0) {
		best = (*nslots)++;
		slots[best].cap = size;
	}
	slots[best].busy = true;
	return best;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

size_t plan_buffers(struct plan_item *items, int n)
{
	struct slot *slots = xcalloc((size_t)n + 1, sizeof(*slots));
	int *slot_of = xmalloc(((size_t)n + 1) * sizeof(int));
	int *times = xmalloc(((size_t)2 * n + 1) * sizeof(int));
	size_t *slot_offset, total = 0;
	int nslots = 0, ntimes = 0;

	/* Only the times at which something starts or ends matter, in increasing order. */
	for (int i = 0; i < n; i++) {
		CHECK(items[i].start <= items[i].end);
		times[ntimes++] = items[i].start;
		times[ntimes++] = items[i].end;
		slot_of[i] = -1;
	}
	qsort(times, (size_t)ntimes, sizeof(int), cmp_int);
	for (int k = 0; k < ntimes; k++) {
		int t = times[k];

		if (k > 0 && t == times[k - 1])
			continue;
		for (int i = 0; i < n; i++)
			if (items[i].start == t && items[i].size > 0)
				slot_of[i] = take_slot(slots, &nslots, items[i].size);
		for (int i = 0; i < n; i++)
			if (items[i].end == t && slot_of[i] >= 0)
				slots[slot_of[i]].busy = false;
	}
	slot_offset = xmalloc(((size_t)nslots + 1) * sizeof(size_t));
	for (int s = 0; s < nslots; s++) {
		slot_offset[s] = total;
		total += arena_round(slots[s].cap);
	}
	for (int i = 0; i < n; i++)
		items[i].offset = slot_of[i] >= 0 ? slot_offset[slot_of[i]] : 0;
	free(slot_offset);
	free(times);
	free(slot_of);
	free(slots);
	return total;
}
