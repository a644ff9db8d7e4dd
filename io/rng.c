/*
 * xoshiro256** (Blackman and Vigna, 2018) with splitmix64 seeding. See rng.h.
 */
#include "io/rng.h"
#include "io/error.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void rng_init(struct rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

void rng_init_stream(struct rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
	/* Hash each index in turn so (seed, a, b) and (seed, b, a) differ. */
	uint64_t x = seed;
	uint64_t h = splitmix64(&x);

	x = h ^ a;
	h = splitmix64(&x);
	x = h ^ b;
	h = splitmix64(&x);
	rng_init(r, h);
}

uint64_t rng_u64(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

float rng_uniform(struct rng *r)
{
	return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

double rng_uniform_double(struct rng *r)
{
	return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	uint64_t limit, x;

	CHECK(n > 0);
	/* Reject the top partial range so every residue is equally likely. */
	limit = UINT64_MAX - UINT64_MAX % n;
	do
		x = rng_u64(r);
	while (x >= limit);
	return x % n;
}

double rng_normal(struct rng *r)
{
	double u1 = 1.0 - rng_uniform_double(r); /* in (0, 1]: log is finite */
	double u2 = rng_uniform_double(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
