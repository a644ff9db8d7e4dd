/* Batches, clipping and noise of DP-SGD. See dp.h. */
#include "nets/dp.h"
#include "io/error.h"
#include "io/rng.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

/*
 * Blocks of the norm's partial sums and of the noise streams: fixed sizes, so results
 * depend on n alone, and large enough that a thread's share is worth starting.
 */
#define DP_BLOCK 65536

/* Tags in the stream's first index keep these streams apart from every other use of
 * the seed: the loader's and the dropout masks' first index is an epoch or a step
 * (below 2^62), with the top bit alone set for per-image masks (nets/dropout.h). */
#define DP_BATCH_TAG (UINT64_C(3) << 62)
#define DP_NOISE_TAG (UINT64_C(1) << 62)

int dp_poisson_batch(uint64_t seed, int64_t step, int n, double q, int *out)
{
	struct rng r;
	int count = 0;

	CHECK(q >= 0 && q <= 1 && step >= 0 && n >= 0);
	rng_init_stream(&r, seed, DP_BATCH_TAG | (uint64_t)step, 0);
	for (int i = 0; i < n; i++)
		if (rng_uniform_double(&r) < q)
			out[count++] = i;
	return count;
}

double dp_l2_norm(const float *g, size_t n)
{
	long nblocks = (long)((n + DP_BLOCK - 1) / DP_BLOCK);
	double part[64], total = 0;

	/* At most 64 partial sums in flight; longer vectors take several rounds. */
	for (long b0 = 0; b0 < nblocks; b0 += 64) {
		long nb = nblocks - b0 < 64 ? nblocks - b0 : 64;

#pragma omp parallel for schedule(static) if (nb > 1)
		for (long b = 0; b < nb; b++) {
			size_t lo = (size_t)(b0 + b) * DP_BLOCK;
			size_t hi = lo + DP_BLOCK < n ? lo + DP_BLOCK : n;
			double s = 0;

			for (size_t i = lo; i < hi; i++)
				s += (double)g[i] * g[i];
			part[b] = s;
		}
		for (long b = 0; b < nb; b++)
			total += part[b];
	}
	return sqrt(total);
}

double dp_add_clipped(float *sum, const float *g, size_t n, double clip)
{
	double norm = dp_l2_norm(g, n);
	double f = clip / (norm + DP_NORM_EPS);
	float ff;

	CHECK(clip > 0);
	ff = (float)(f < 1 ? f : 1);
#pragma omp parallel for schedule(static) if (n >= DP_BLOCK)
	for (size_t i = 0; i < n; i++)
		sum[i] += ff * g[i];
	return norm;
}

/* Standard normal values from uniform 64-bit words, two words per value (Box-Muller). */
static double normal_from(uint64_t a, uint64_t b)
{
	double u1 = ((double)(a >> 11) + 1.0) * 0x1.0p-53; /* (0, 1]: log is finite */
	double u2 = (double)(b >> 11) * 0x1.0p-53;

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Fills buf with bytes from the kernel's secure source. */
static int secure_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t got = getrandom(p, len, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return kn_error(KN_EIO, "cannot read the system's secure random source: %s",
					got < 0 ? strerror(errno) : "no bytes");
		p += got;
		len -= (size_t)got;
	}
	return 0;
}

int dp_add_noise(float *v, size_t n, double std, uint64_t seed, int64_t step, bool secure)
{
	long nblocks = (long)((n + DP_BLOCK - 1) / DP_BLOCK);
	int err = 0;

	CHECK(std >= 0 && step >= 0);
	if (secure) {
		/* One block of words at a time, read from this thread (the training loop's;
		 * never two at once). */
		static uint64_t words[2 * DP_BLOCK];

		for (size_t lo = 0; lo < n && !err; lo += DP_BLOCK) {
			size_t hi = lo + DP_BLOCK < n ? lo + DP_BLOCK : n;

			err = secure_bytes(words, 2 * (hi - lo) * sizeof(uint64_t));
			for (size_t i = lo; i < hi && !err; i++)
				v[i] += (float)(std * normal_from(words[2 * (i - lo)],
								  words[2 * (i - lo) + 1]));
		}
		return err;
	}
#pragma omp parallel for schedule(static) if (nblocks > 1)
	for (long b = 0; b < nblocks; b++) {
		size_t lo = (size_t)b * DP_BLOCK;
		size_t hi = lo + DP_BLOCK < n ? lo + DP_BLOCK : n;
		struct rng r;

		rng_init_stream(&r, seed, DP_NOISE_TAG | (uint64_t)step, (uint64_t)b);
		for (size_t i = lo; i < hi; i++)
			v[i] += (float)(std * rng_normal(&r));
	}
	return 0;
}
