/*
 * The RDP accountant of the subsampled Gaussian mechanism. See privacy.h; the formulas
 * are those of nets/README.md 3, whose numbering the comments below follow.
 *
 * Terms are carried as natural logarithms, since A_alpha overflows a double long before
 * the RDP does (q^alpha exp(alpha (alpha - 1) / (2 sigma^2)) at sigma = 0.1). -INFINITY
 * stands for 0. No intermediate value is ever +INFINITY: privacy_rdp() answers the
 * cases that would produce one (sigma near 0 or infinity, INV2S2_MIN and _MAX) before
 * the sums start.
 */
#include "nets/privacy.h"

#include "io/error.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>

/*
 * A series stops once a term past i = alpha falls below this fraction of the sum so
 * far (or of 1, which the sum reaches: A_alpha >= 1). Past alpha each series alternates
 * in sign with shrinking terms, so what is left out is below the last term kept.
 */
#define SERIES_LOG_TOL log(DBL_EPSILON)

/*
 * A hard stop for the series, reached only within about 1.5 / sigma of q = 1/2 with
 * sigma near 1e6 and orders below about 2, where the terms decay polynomially for long
 * (nets/README.md 3.2).
 */
#define SERIES_MAX_TERMS (INT64_C(1) << 20)

/*
 * Where 1 / (2 sigma^2) leaves [1e-250, 1e250], the RDP is taken as the plain
 * Gaussian's alpha / (2 sigma^2) (3.1). Above, that is the RDP to every digit a double
 * holds, and the series would overflow (i^2 / (2 sigma^2) over 2^20 terms). Below, the
 * RDP lies between 0 and that bound, under 1e-246, and z0 would overflow.
 */
#define INV2S2_MIN 1e-250
#define INV2S2_MAX 1e250

/* Above this erfc's argument, log(erfc) comes from its asymptotic series. */
#define ERFC_ASYMPTOTIC 26.0

/* log(exp(a) + exp(b)). */
static double log_add(double a, double b)
{
	double hi = a > b ? a : b, lo = a > b ? b : a;

	if (lo == -INFINITY)
		return hi;
	return hi + log1p(exp(lo - hi));
}

/*
 * log(exp(a) - exp(b)), for b <= a. A b that rounding has pushed to or past a gives 0
 * (-INFINITY): the true partial sums are never negative (3.2).
 */
static double log_sub(double a, double b)
{
	if (b == -INFINITY)
		return a;
	if (b >= a)
		return -INFINITY;
	return a + log(-expm1(b - a));
}

/*
 * log(erfc(x)). erfc leaves the doubles near x = 26.5, and its logarithm is wanted far
 * beyond (x grows like sigma log(1/q)): there erfc(x) = exp(-x^2) / (x sqrt(pi)) times
 * 1 - 1/(2x^2) + 3/(2x^2)^2 - 15/(2x^2)^3 ..., whose eighth term is below 1e-19 for
 * x >= 26.
 */
static double log_erfc(double x)
{
	double y, term = 1, sum = 1;

	if (x < ERFC_ASYMPTOTIC)
		return log(erfc(x));
	y = 0.5 / (x * x);
	for (int n = 1; n <= 8; n++) {
		term *= -(2 * n - 1) * y;
		sum += term;
	}
	return -x * x - log(x) - 0.5 * log(M_PI) + log(sum);
}

/* log(exp(c) - 1) for c >= 0, without overflow for large c. */
static double log_expm1(double c)
{
	return c < 1 ? log(expm1(c)) : c + log1p(-exp(-c));
}

/*
 * log A_alpha for an integer alpha >= 2 (3.1), as log1p of A_alpha - 1: the binomial
 * weights C(alpha, k) (1 - q)^(alpha - k) q^k sum to 1 and the k = 0, 1 terms have
 * exponent 0, so A_alpha - 1 is the sum over k >= 2 of the weights times
 * expm1((k^2 - k) / (2 sigma^2)). All those terms are positive; the result is never
 * below 0 and keeps its digits when sigma is large and A_alpha is 1 + tiny.
 */
static double log_a_int(double q, int64_t alpha, double inv2s2)
{
	double log_q = log(q), log_1q = log1p(-q);
	double log_coef = log((double)alpha); /* log C(alpha, k), here k = 1 */
	double lam = -INFINITY;               /* log(A_alpha - 1) */

	for (int64_t k = 2; k <= alpha; k++) {
		double kd = (double)k, c = kd * (kd - 1) * inv2s2;

		/* C(alpha, k) = C(alpha, k - 1) (alpha - k + 1) / k */
		log_coef += log((double)(alpha - k + 1) / kd);
		if (c > 0)
			lam = log_add(lam, log_coef + kd * log_q + (double)(alpha - k) * log_1q +
					   log_expm1(c));
	}
	return lam > 0 ? lam + log1p(exp(-lam)) : log1p(exp(lam));
}

/*
 * log A_alpha by the two series (3.2), for any alpha > 1. Term i of the first series is
 * C(alpha, i) q^i (1 - q)^(alpha - i) exp((i^2 - i) / (2 sigma^2)) erfc((i - z0) /
 * (sqrt(2) sigma)) / 2, of the second the same with j = alpha - i in place of i in the
 * powers and the exponent and erfc((z0 - j) / (sqrt(2) sigma)) / 2.
 *
 * The coefficients are positive up to i = alpha and alternate in sign beyond, where
 * both series' terms shrink in magnitude as i grows (|C| falls, and the rest of a term
 * never rises: see nets/README.md 3.2). Each sum then lies within its last term of the
 * limit, which is what the stopping rule uses. At an integer alpha the coefficient past
 * alpha is exactly 0, and the sum is the binomial one term for term.
 */
static double log_a_series(double q, double alpha, double inv2s2, double sigma)
{
	double log_q = log(q), log_1q = log1p(-q);
	/* z0 = sigma^2 log(1/q - 1) + 1/2, where the two Gaussians' densities cross */
	double z0 = (log_1q - log_q) / (2 * inv2s2) + 0.5;
	double scale = 1 / (sqrt(2.0) * sigma);
	double log_coef = 0; /* log |C(alpha, i)| */
	double a0 = -INFINITY, a1 = -INFINITY;
	double s0 = -INFINITY, s1 = -INFINITY;
	int negative = 0; /* sign of C(alpha, i) */

	for (int64_t i = 0; i < SERIES_MAX_TERMS; i++) {
		double id = (double)i, j = alpha - id;

		s0 = log_coef + id * log_q + j * log_1q + (id * id - id) * inv2s2 +
		     log_erfc((id - z0) * scale) - M_LN2;
		s1 = log_coef + j * log_q + id * log_1q + (j * j - j) * inv2s2 +
		     log_erfc((z0 - j) * scale) - M_LN2;
		if (negative) {
			a0 = log_sub(a0, s0);
			a1 = log_sub(a1, s1);
		} else {
			a0 = log_add(a0, s0);
			a1 = log_add(a1, s1);
		}
		if (id > alpha && fmax(s0, s1) < fmax(log_add(a0, a1), 0) + SERIES_LOG_TOL)
			return log_add(a0, a1);
		/* C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1) */
		log_coef += log(fabs(j)) - log(id + 1);
		if (j < 0)
			negative = !negative;
	}
	/*
	 * Cut short: the part left out is smaller than the last terms, so adding them back
	 * keeps an upper bound on A_alpha (an RDP never reported too small).
	 */
	return log_add(log_add(a0, s0), log_add(a1, s1));
}

/* Checks the arguments and answers the cases that need no series; 1 when it did. */
static int rdp_closed_form(double q, double sigma, double alpha, double *rdp)
{
	double inv2s2;

	CHECK(q >= 0 && q <= 1);
	CHECK(sigma >= 0);
	CHECK(alpha > 1 && alpha <= PRIVACY_MAX_ALPHA);
	if (q == 0) {
		*rdp = 0;
		return 1;
	}
	if (sigma == 0) {
		*rdp = INFINITY;
		return 1;
	}
	inv2s2 = 0.5 / (sigma * sigma);
	/* q = 1 is the plain Gaussian; sigma near 0 or infinity are its limits */
	if (q == 1 || inv2s2 < INV2S2_MIN || inv2s2 > INV2S2_MAX) {
		*rdp = alpha * inv2s2;
		return 1;
	}
	return 0;
}

/*
 * log A_alpha / (alpha - 1) within [0, alpha / (2 sigma^2)], where it lies
 * mathematically (3.1): rounding in the series can stray past either end when the RDP
 * is near 0.
 */
static double rdp_from_log_a(double log_a, double alpha, double inv2s2)
{
	double rdp = log_a / (alpha - 1), gauss = alpha * inv2s2;

	CHECK(!isnan(rdp));
	if (rdp < 0)
		return 0;
	return rdp < gauss ? rdp : gauss;
}

double privacy_rdp(double q, double sigma, double alpha)
{
	double rdp, inv2s2;

	if (rdp_closed_form(q, sigma, alpha, &rdp))
		return rdp;
	inv2s2 = 0.5 / (sigma * sigma);
	if (alpha == floor(alpha))
		return rdp_from_log_a(log_a_int(q, (int64_t)alpha, inv2s2), alpha, inv2s2);
	return rdp_from_log_a(log_a_series(q, alpha, inv2s2, sigma), alpha, inv2s2);
}

double privacy_rdp_series(double q, double sigma, double alpha)
{
	double rdp, inv2s2;

	if (rdp_closed_form(q, sigma, alpha, &rdp))
		return rdp;
	inv2s2 = 0.5 / (sigma * sigma);
	return rdp_from_log_a(log_a_series(q, alpha, inv2s2, sigma), alpha, inv2s2);
}

struct privacy_orders privacy_default_orders(void)
{
	struct privacy_orders o = {0};

	for (int k = 1; k <= 99; k++)
		o.alpha[o.n++] = 1 + k / 10.0;
	for (int a = 12; a <= 63; a++)
		o.alpha[o.n++] = a;
	CHECK(o.n == PRIVACY_DEFAULT_ORDERS);
	return o;
}

void privacy_orders_init(struct privacy_orders *o, const double *alpha, int n)
{
	CHECK(n >= 1 && n <= PRIVACY_MAX_ORDERS);
	for (int i = 0; i < n; i++) {
		CHECK(alpha[i] > 1 && alpha[i] <= PRIVACY_MAX_ALPHA);
		o->alpha[i] = alpha[i];
	}
	o->n = n;
}

void privacy_compose(double *rdp, const struct privacy_orders *o, double q, double sigma,
		     int64_t steps)
{
	CHECK(q >= 0 && q <= 1 && sigma >= 0 && steps >= 0);
	if (steps == 0)
		return;
	for (int i = 0; i < o->n; i++)
		rdp[i] += (double)steps * privacy_rdp(q, sigma, o->alpha[i]);
}

double privacy_epsilon(const double *rdp, const struct privacy_orders *o, double delta,
		       double *best_order)
{
	double free_rdp, best = INFINITY, order;

	CHECK(delta > 0 && delta < 1);
	CHECK(o->n >= 1);
	/* RDP up to this gives (0, delta)-DP outright (3.3) */
	free_rdp = -log1p(-delta * delta);
	order = o->alpha[0];
	for (int i = 0; i < o->n; i++) {
		double a = o->alpha[i], r = rdp[i], eps;

		CHECK(r >= 0);
		if (r <= free_rdp)
			eps = 0;
		else
			eps = r + log1p(-1 / a) - (log(delta) + log(a)) / (a - 1);
		if (eps < best) {
			best = eps;
			order = a;
		}
	}
	if (best_order)
		*best_order = order;
	return best < 0 ? 0 : best;
}

double privacy_epsilon_steps(double q, double sigma, int64_t steps, double delta,
			     double *best_order)
{
	struct privacy_orders o = privacy_default_orders();
	double rdp[PRIVACY_DEFAULT_ORDERS] = {0};

	privacy_compose(rdp, &o, q, sigma, steps);
	return privacy_epsilon(rdp, &o, delta, best_order);
}

/*
 * Bisection on sigma (3.4). The epsilon falls as sigma grows, from infinity at 0; the
 * bracket [lo, hi] keeps epsilon(lo) above the target and epsilon(hi) at or below it.
 */
int privacy_sigma_for(double q, int64_t steps, double delta, double epsilon, double *sigma)
{
	double lo = 0, hi = 20, eps_lo = INFINITY, eps_hi;

	if (!(q >= 0 && q <= 1))
		return kn_error(KN_EINVAL, "sampling rate %g is outside [0, 1]", q);
	if (steps < 0)
		return kn_error(KN_EINVAL, "step count %" PRId64 " is negative", steps);
	if (!(delta > 0 && delta < 1))
		return kn_error(KN_EINVAL, "delta %g is outside (0, 1)", delta);
	if (!(epsilon > 0 && epsilon < INFINITY))
		return kn_error(KN_EINVAL, "target epsilon %g is not a positive number",
				epsilon);
	if (q == 0 || steps == 0) {
		*sigma = 0;
		return 0;
	}
	eps_hi = privacy_epsilon_steps(q, hi, steps, delta, NULL);
	while (eps_hi > epsilon) {
		if (hi >= PRIVACY_SIGMA_MAX)
			return kn_error(KN_EINVAL,
					"target epsilon %g needs a noise multiplier above %g "
					"(q %g, %" PRId64 " steps, delta %g)",
					epsilon, PRIVACY_SIGMA_MAX, q, steps, delta);
		lo = hi;
		eps_lo = eps_hi;
		hi *= 2;
		eps_hi = privacy_epsilon_steps(q, hi, steps, delta, NULL);
	}
	while (epsilon - eps_hi > PRIVACY_EPSILON_TOLERANCE) {
		double mid = 0.5 * (lo + hi), eps;

		/*
		 * A bracket that no longer narrows holds a jump of epsilon across the band:
		 * the conversion's 0 below its smallest positive value (3.3).
		 */
		if (!(mid > lo && mid < hi))
			return kn_error(KN_EINVAL,
					"target epsilon %g cannot be met within %g: epsilon "
					"falls from %g to %g at noise multiplier %g "
					"(q %g, %" PRId64 " steps, delta %g)",
					epsilon, PRIVACY_EPSILON_TOLERANCE, eps_lo, eps_hi, hi,
					q, steps, delta);
		eps = privacy_epsilon_steps(q, mid, steps, delta, NULL);
		if (eps <= epsilon) {
			hi = mid;
			eps_hi = eps;
		} else {
			lo = mid;
			eps_lo = eps;
		}
	}
	*sigma = hi;
	return 0;
}
