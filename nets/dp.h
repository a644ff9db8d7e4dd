/*
 * The parts of differentially private SGD (DP-SGD, Abadi et al. 2016) that act on
 * batches and gradients, with one training image as the unit of privacy:
 *
 *     n = dp_poisson_batch(seed, step, N, q, idx);    which images this step holds
 *     zero sum; for each image idx[i]:
 *         its own gradient g (a forward and backward of that image alone: kernel
 *         normalization mixes no images, so this is exactly its share)
 *         dp_add_clipped(sum, g, P, clip);             sum += g scaled to norm <= clip
 *     dp_add_noise(sum, P, sigma * clip, ...);         Gaussian noise on every coordinate
 *     divide by the expected batch q N; optimizer step
 *
 * The privacy accountant that turns (q, sigma, steps) into (epsilon, delta) is
 * nets/privacy.h; knseg train puts the pieces together in app/train_dp.c.
 *
 * Randomness is reproducible by default: the batch of a step comes from the stream
 * (seed, step) and the noise from streams (seed, step, block), each a function of the
 * indices alone, so any thread count gives the same bits. For deployments the noise can
 * come from the operating system's secure source instead (getrandom).
 */
#ifndef KNSEG_NETS_DP_H
#define KNSEG_NETS_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Added to the norm before dividing, as DP-SGD implementations do, so that a zero
 * gradient needs no special case. */
#define DP_NORM_EPS 1e-6

/*
 * Poisson sampling: each of images 0..n-1 is in step's batch independently with
 * probability q (0 <= q <= 1), decided from the stream (seed, step) in index order.
 * Writes the chosen indices, ascending, to out (room for n) and returns how many
 * (0 to n: the batch size varies, as the accounting assumes).
 */
int dp_poisson_batch(uint64_t seed, int64_t step, int n, double q, int *out);

/* The L2 norm of g (n floats), summed in double in an order fixed by n alone. */
double dp_l2_norm(const float *g, size_t n);

/*
 * sum += f * g with f = min(1, clip / (norm + DP_NORM_EPS)), norm = dp_l2_norm(g), so
 * the added vector's norm is at most clip. Returns norm (before clipping). clip > 0.
 */
double dp_add_clipped(float *sum, const float *g, size_t n, double clip);

/*
 * v[i] += std * z_i with z_i standard normal, independent across i: from the streams
 * (seed, step, block) of fixed blocks of v (reproducible, any thread count), or with
 * secure, from getrandom(2) (then seed and step are unused). Returns 0, or KN_EIO with a
 * message when the secure source fails.
 */
int dp_add_noise(float *v, size_t n, double std, uint64_t seed, int64_t step, bool secure);

#endif
