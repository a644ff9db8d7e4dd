#ifndef KNSEG_NETS_FASTEXP_H
#define KNSEG_NETS_FASTEXP_H

#include <stdint.h>

/*
 * exp(x) for x <= 0 (the softmax's logit minus its pixel's maximum, nets/loss.c), in
 * plain float arithmetic that the compiler vectorizes, where the libm call runs one
 * value at a time; expf took about 2 % of a training step.
 *
 * x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, the first exact in float, so that
 * n ln2 is subtracted without rounding), exp(r) by its Taylor series to r^7 (the next
 * term is below 6e-9 relative, a tenth of a float ulp), and 2^n put in the exponent
 * bits; tests/test_loss.c measures the error against exp in double. Below -87 the result
 * is 0 (exp(-87) is 1.6e-38, about the smallest normal float), positive x gives 1 and
 * NaN stays NaN.
 */
static inline float kn_exp_nonpositive(float x)
{
	const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
	/* Adding and subtracting 1.5 * 2^23 rounds to the nearest integer. */
	const float round = 12582912.0f;
	float xc = x < -87.0f ? -87.0f : (x > 0.0f ? 0.0f : x);
	float n = (xc * log2e + round) - round;
	float r = (xc - n * ln2_hi) - n * ln2_lo;
	float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 +
			r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
	union {
		uint32_t u;
		float f;
	} scale = {.u = (uint32_t)((int32_t)n + 127) << 23};
	float e = p * scale.f;

	e = x < -87.0f ? 0.0f : e;
	return x == x ? e : x;
}

#endif
