/*
 * Memory planning for buffers with known lifetimes.
 *
 * Each item needs size floats from time start to time end (inclusive). plan_buffers
 * gives every item an offset into one arena so that items whose lifetimes overlap never
 * share memory, and returns the arena size in floats. At a time t, items starting at t
 * are placed before items ending at t are released, so an op's output never shares
 * memory with its inputs. Offsets are multiples of 16 floats (64 bytes).
 *
 * Placement is greedy over "slots": a new item takes the free slot that fits it most
 * tightly, else grows the largest free slot, else opens a new slot.
 */
#ifndef KNSEG_NETS_PLAN_H
#define KNSEG_NETS_PLAN_H

#include <stddef.h>

struct plan_item {
	int start, end; /* lifetime, start <= end */
	size_t size;    /* floats; 0 means the item needs no memory */
	size_t offset;  /* set by plan_buffers */
};

size_t plan_buffers(struct plan_item *items, int n);

#endif
