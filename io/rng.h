/*
 * An explicit, seedable random generator: xoshiro256** seeded through splitmix64.
 *
 * There is no global generator and rand() is never used. A run derives independent
 * streams from one user seed and a few indices, for example per (epoch, sample) in the
 * data loader or per (step, layer) for dropout masks:
 *
 *     struct rng r;
 *     rng_init_stream(&r, seed, epoch, sample_index);
 *
 * so the numbers a sample sees do not depend on which thread handles it or in what
 * order. The state is four 64-bit words (struct rng), saved in training checkpoints to
 * resume exactly.
 */
#ifndef KNSEG_IO_RNG_H
#define KNSEG_IO_RNG_H

#include <stdint.h>

struct rng {
	uint64_t s[4];
};

/* Seeds from one 64-bit value (any value, 0 included, gives a valid state). */
void rng_init(struct rng *r, uint64_t seed);

/* Seeds the stream identified by (seed, a, b); distinct triples give unrelated streams. */
void rng_init_stream(struct rng *r, uint64_t seed, uint64_t a, uint64_t b);

uint64_t rng_u64(struct rng *r);

/* Uniform in [0, 1) with 24 random bits (exactly representable as float). */
float rng_uniform(struct rng *r);

/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform_double(struct rng *r);

/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t n);

/* Standard normal (Box-Muller on two doubles; one value per call). */
double rng_normal(struct rng *r);

#endif
