/* Statistics dropout masks and inference modes. See dropout.h. */
#include "nets/dropout.h"
#include "io/error.h"

#include <string.h>

/*
 * Loops touching fewer elements than this run on one thread: waking threads and the
 * closing barrier cost more than such loops. Results are the same either way.
 */
#define KNORM_PARALLEL_MIN 16384
#define KN_PARALLEL(work) ((size_t)(work) >= KNORM_PARALLEL_MIN)

/* Pairs of flags per parallel work item. */
#define DROPOUT_BLOCK 8192

/* The golden-ratio increment of splitmix64. */
#define DROPOUT_GAMMA 0x9e3779b97f4a7c15ULL

/*
 * splitmix64's output function. Applied to key + k * DROPOUT_GAMMA for k = 1, 2, ... it
 * is the splitmix64 generator seeded with key; indexing the stream by k makes every
 * flag a function of (key, index) alone, so any split among threads gives the same mask
 * and the loop vectorizes.
 */
static inline uint64_t dropout_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void dropout_mask(uint8_t *keep, size_t n, float p, struct rng *r)
{
	uint64_t key;
	uint32_t drop_below;
	size_t pairs = n / 2;
	long nblocks;

	CHECK(p >= 0 && p < 1);
	key = rng_u64(r);
	if (p == 0) {
		memset(keep, 1, n);
		return;
	}
	/* Each 32-bit half of a draw decides one flag: dropped when below p * 2^32. */
	drop_below = (uint32_t)((double)p * 4294967296.0 + 0.5);
	nblocks = (long)((pairs + DROPOUT_BLOCK - 1) / DROPOUT_BLOCK);
#pragma omp parallel for schedule(static) if (KN_PARALLEL(n))
	for (long b = 0; b < nblocks; b++) {
		size_t lo = (size_t)b * DROPOUT_BLOCK;
		size_t hi = lo + DROPOUT_BLOCK < pairs ? lo + DROPOUT_BLOCK : pairs;

		for (size_t k = lo; k < hi; k++) {
			uint64_t z = dropout_mix(key + (k + 1) * DROPOUT_GAMMA);

			keep[2 * k] = (uint32_t)z >= drop_below;
			keep[2 * k + 1] = (uint32_t)(z >> 32) >= drop_below;
		}
	}
	if (n % 2) {
		uint64_t z = dropout_mix(key + (pairs + 1) * DROPOUT_GAMMA);

		keep[n - 1] = (uint32_t)z >= drop_below;
	}
}

/* Bits of the stream index b below the image index: room for 2^24 layers. */
#define DROPOUT_LAYER_BITS 24
/* The bit of the stream index a that marks a per-image stream (never set in a step). */
#define DROPOUT_IMAGE_DOMAIN (1ULL << 63)

void dropout_image_stream(struct rng *r, uint64_t seed, int64_t step, int layer,
			  int64_t image)
{
	CHECK(step >= 0 && layer >= 0 && layer < (1 << DROPOUT_LAYER_BITS));
	CHECK(image >= 0 && image < ((int64_t)1 << (64 - DROPOUT_LAYER_BITS)));
	rng_init_stream(r, seed, (uint64_t)step | DROPOUT_IMAGE_DOMAIN,
			(uint64_t)image << DROPOUT_LAYER_BITS | (uint64_t)layer);
}

bool dropout_uses_mask(enum knorm_mode mode, float p)
{
	return p > 0 && (mode == KNORM_TRAIN || mode == KNORM_EVAL_SAMPLE);
}

double dropout_expected_factor(enum knorm_mode mode, float p, size_t m)
{
	if (mode != KNORM_EVAL_EXPECTED || p <= 0)
		return 0;
	return (double)p / (1.0 - (double)p) * (1.0 - 1.0 / (double)m);
}

const char *knorm_mode_name(enum knorm_mode mode)
{
	switch (mode) {
	case KNORM_TRAIN:
		return "train";
	case KNORM_EVAL_EXPECTED:
		return "expected";
	case KNORM_EVAL_NONE:
		return "none";
	case KNORM_EVAL_SAMPLE:
		return "sample";
	}
	return "?";
}

int knorm_mode_parse(const char *name, enum knorm_mode *out)
{
	static const enum knorm_mode modes[] = {KNORM_EVAL_EXPECTED, KNORM_EVAL_NONE, KNORM_EVAL_SAMPLE};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(name, knorm_mode_name(modes[i])) == 0) {
			*out = modes[i];
			return KN_OK;
		}
	}
	return kn_error(KN_EINVAL, "unknown kernel-norm eval mode '%s' (expected, none, sample)",
			name);
}
