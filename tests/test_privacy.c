/*
 * Tests of nets/privacy.c, the RDP accountant of DP-SGD: the values a widely used
 * implementation of the same accountant gives (one phase, two phases over explicit
 * orders, the noise for a budget), the series against a direct numerical integral of
 * A_alpha, the series at integer orders against the binomial sum, the closed form at
 * alpha = 2, the edges (q = 0, q = 1, sigma huge or tiny), monotonicity, composition,
 * the conversion's clamp and its (0, delta) case, and refused arguments (KN_EINVAL from
 * privacy_sigma_for, CHECK elsewhere).
 */
#include "tests/testutil.h"

#include "io/error.h"
#include "nets/privacy.h"

#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* |got - want| <= atol + rtol * |want|, printing both when not. */
static bool close_tol(const char *what, double got, double want, double rtol, double atol)
{
	if (fabs(got - want) <= atol + rtol * fabs(want))
		return true;
	fprintf(stderr, "%s: got %.17g, want %.17g (relative difference %.3g)\n", what, got,
		want, fabs(got - want) / fabs(want));
	return false;
}

static bool close_rel(const char *what, double got, double want, double rtol)
{
	return close_tol(what, got, want, rtol, 0);
}

/*
 * What rounding leaves of an RDP computed from A_alpha itself rather than from
 * A_alpha - 1 (the series, the integral): a few units of the last place of log A_alpha,
 * which is near 0 when the RDP is small, divided by alpha - 1.
 */
static double log_a_rounding(double alpha)
{
	return 4 * DBL_EPSILON / (alpha - 1);
}

/*
 * The reference value: q 0.04, sigma 1.5, 2250 steps (90 epochs), delta 1e-5, default
 * orders, epsilon 7.32911117143 at the fractional order 3.9.
 */
static void test_known_epsilon(void **state)
{
	double order = 0, eps;

	(void)state;
	eps = privacy_epsilon_steps(0.04, 1.5, 2250, 1e-5, &order);
	assert_true(close_rel("epsilon", eps, 7.32911117143, 1e-6));
	assert_true(fabs(order - 3.9) < 1e-12);
}

/*
 * Two phases over the integer orders 2..32: (q 1e-5, sigma 1, 10 steps) then (q 1e-4,
 * sigma 3, 4 steps), delta 1e-5: epsilon 0.336 (given to 3 digits, so held to half a
 * unit of the third) at order 23.
 */
static void test_known_phases(void **state)
{
	struct privacy_orders o;
	double alpha[31], rdp[31] = {0}, order = 0, eps;

	(void)state;
	for (int i = 0; i < 31; i++)
		alpha[i] = i + 2;
	privacy_orders_init(&o, alpha, 31);
	privacy_compose(rdp, &o, 1e-5, 1.0, 10);
	privacy_compose(rdp, &o, 1e-4, 3.0, 4);
	eps = privacy_epsilon(rdp, &o, 1e-5, &order);
	assert_true(fabs(eps - 0.336) <= 5e-4);
	assert_true(order == 23);
}

/*
 * The noise for epsilon 8, q 0.04, delta 1e-5: 1.416 for 2250 steps and 1.3562 for
 * 2000, each held to half a unit of its last digit given (the bisection's own band,
 * 0.01 in epsilon, is about 0.0013 in sigma here, so this also pins down the search),
 * and the epsilon it gives within the band below the target.
 */
static void test_known_sigma(void **state)
{
	const struct {
		int64_t steps;
		double sigma, half_unit;
	} cases[] = {{2250, 1.416, 5e-4}, {2000, 1.3562, 5e-5}};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		double sigma = -1, eps;

		assert_int_equal(privacy_sigma_for(0.04, cases[k].steps, 1e-5, 8, &sigma), 0);
		if (fabs(sigma - cases[k].sigma) > cases[k].half_unit)
			fprintf(stderr, "%lld steps: sigma %.12g, want %g\n",
				(long long)cases[k].steps, sigma, cases[k].sigma);
		assert_true(fabs(sigma - cases[k].sigma) <= cases[k].half_unit);
		eps = privacy_epsilon_steps(0.04, sigma, cases[k].steps, 1e-5, NULL);
		assert_true(eps <= 8 && eps >= 8 - PRIVACY_EPSILON_TOLERANCE);
	}
}

static void test_default_orders(void **state)
{
	struct privacy_orders o = privacy_default_orders();

	(void)state;
	assert_int_equal(o.n, PRIVACY_DEFAULT_ORDERS);
	assert_int_equal(o.n, 99 + 52);
	for (int k = 1; k <= 99; k++)
		assert_true(fabs(o.alpha[k - 1] - (1 + 0.1 * k)) < 1e-12);
	for (int a = 12; a <= 63; a++)
		assert_true(o.alpha[99 + a - 12] == a);
	for (int i = 1; i < o.n; i++)
		assert_true(o.alpha[i] > o.alpha[i - 1]);
}

/*
 * A_alpha straight from its definition, E over z ~ N(0, sigma^2) of
 * ((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha, by the trapezoid rule (exact to
 * rounding for such smooth, fast-decaying integrands) over [-16 sigma, alpha + 16 sigma],
 * which holds both bumps of the integrand (at 0 and near alpha). Summed in log space.
 */
static double rdp_by_integral(double q, double sigma, double alpha)
{
	double h = sigma / 64, lo = -16 * sigma, hi = alpha + 16 * sigma, peak = -INFINITY;
	double sum = 0, s2 = sigma * sigma;
	int n = (int)ceil((hi - lo) / h);

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i <= n; i++) {
			double z = lo + i * h, u = log(q) + (2 * z - 1) / (2 * s2);
			/* log((1 - q) + q exp(...)), which overflows as it stands at small sigma */
			double mix = fmax(log1p(-q), u) + log1p(exp(-fabs(log1p(-q) - u)));
			double g = alpha * mix - z * z / (2 * s2);

			if (pass == 0)
				peak = fmax(peak, g);
			else
				sum += (i == 0 || i == n ? 0.5 : 1.0) * exp(g - peak);
		}
	}
	return (peak + log(h * sum) - log(sigma * sqrt(2 * M_PI))) / (alpha - 1);
}

/*
 * The series (and the binomial sum at integer orders) against the integral, to 1e-9
 * relative; the integral's own rounding, a sum of some ten thousand terms, allows
 * 1e-13 in log A_alpha besides.
 */
static void test_series_against_integral(void **state)
{
	const double qs[] = {0.01, 0.04, 0.2, 0.5, 0.8};
	const double sigmas[] = {0.3, 0.6, 1, 1.5, 3};
	const double alphas[] = {1.1, 1.5, 2, 2.5, 3.9, 7.3, 8, 10.9, 20};
	int bad = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(qs) / sizeof(qs[0]); a++)
		for (size_t b = 0; b < sizeof(sigmas) / sizeof(sigmas[0]); b++)
			for (size_t c = 0; c < sizeof(alphas) / sizeof(alphas[0]); c++) {
				double q = qs[a], s = sigmas[b], al = alphas[c];
				double want = rdp_by_integral(q, s, al);
				char what[96];

				snprintf(what, sizeof(what), "q %g sigma %g alpha %g", q, s, al);
				double atol = 1e-13 / (al - 1);

				bad += !close_tol(what, privacy_rdp(q, s, al), want, 1e-9, atol);
				bad += !close_tol(what, privacy_rdp_series(q, s, al), want, 1e-9,
						  atol);
			}
	assert_int_equal(bad, 0);
}

/*
 * At integer orders the two series sum to the binomial sum: to 1e-10 relative, or, for
 * RDP so small that the series' sum of A_alpha (about 1) cannot resolve it, to the
 * rounding of log A_alpha.
 */
static void test_series_equals_binomial(void **state)
{
	const double qs[] = {1e-5, 0.001, 0.04, 0.3, 0.5, 0.7, 0.99};
	const double sigmas[] = {0.3, 0.7, 1, 2, 8, 50};
	const double alphas[] = {2, 3, 8, 32, 63};
	int bad = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(qs) / sizeof(qs[0]); a++)
		for (size_t b = 0; b < sizeof(sigmas) / sizeof(sigmas[0]); b++)
			for (size_t c = 0; c < sizeof(alphas) / sizeof(alphas[0]); c++) {
				double q = qs[a], s = sigmas[b], al = alphas[c];
				double exact = privacy_rdp(q, s, al);
				char what[96];

				snprintf(what, sizeof(what), "q %g sigma %g alpha %g", q, s, al);
				bad += !close_tol(what, privacy_rdp_series(q, s, al), exact, 1e-10,
						  log_a_rounding(al));
			}
	assert_int_equal(bad, 0);
}

/* alpha = 2 by hand: A_2 = 1 + q^2 (exp(1 / sigma^2) - 1). */
static void test_order_two_closed_form(void **state)
{
	const double qs[] = {1e-6, 0.01, 0.25, 0.9};
	const double sigmas[] = {0.4, 1, 3, 1e3, 1e6};

	(void)state;
	for (size_t a = 0; a < sizeof(qs) / sizeof(qs[0]); a++)
		for (size_t b = 0; b < sizeof(sigmas) / sizeof(sigmas[0]); b++) {
			double q = qs[a], s = sigmas[b];
			double want = log1p(q * q * expm1(1 / (s * s)));

			assert_true(close_rel("alpha 2", privacy_rdp(q, s, 2), want, 1e-13));
		}
}

/* Near the integers, the series is continuous with the binomial sum. */
static void test_continuous_across_integers(void **state)
{
	const double alphas[] = {2, 3, 8, 21};

	(void)state;
	for (size_t c = 0; c < sizeof(alphas) / sizeof(alphas[0]); c++) {
		double at = privacy_rdp(0.04, 1.2, alphas[c]);

		assert_true(close_rel("below", privacy_rdp(0.04, 1.2, alphas[c] - 1e-9), at, 1e-7));
		assert_true(close_rel("above", privacy_rdp(0.04, 1.2, alphas[c] + 1e-9), at, 1e-7));
	}
}

/* q = 0 releases nothing: RDP 0 at any sigma (0 included), epsilon 0 at any steps. */
static void test_q_zero(void **state)
{
	const int64_t steps[] = {1, 1000, INT64_C(1) << 40};
	const double deltas[] = {1e-10, 1e-5, 0.5};
	double order = 0;

	(void)state;
	assert_true(privacy_rdp(0, 0, 2.5) == 0);
	assert_true(privacy_rdp(0, 1, 63) == 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (size_t j = 0; j < sizeof(deltas) / sizeof(deltas[0]); j++) {
			assert_true(privacy_epsilon_steps(0, 1.0, steps[i], deltas[j], &order) == 0);
			assert_true(privacy_epsilon_steps(0, 0.0, steps[i], deltas[j], NULL) == 0);
		}
}

/*
 * q = 1 is the plain Gaussian, alpha / (2 sigma^2), at integer and fractional orders;
 * a q just below 1 goes through the sums and lands there too.
 */
static void test_q_one(void **state)
{
	const double sigmas[] = {0.7, 1, 2, 5};
	const double alphas[] = {1.1, 2, 3.7, 8, 20.5, 63};

	(void)state;
	for (size_t b = 0; b < sizeof(sigmas) / sizeof(sigmas[0]); b++)
		for (size_t c = 0; c < sizeof(alphas) / sizeof(alphas[0]); c++) {
			double s = sigmas[b], al = alphas[c], gauss = al / (2 * s * s);

			assert_true(close_rel("q 1", privacy_rdp(1, s, al), gauss, 1e-15));
			assert_true(close_rel("q near 1", privacy_rdp(1 - 1e-9, s, al), gauss, 1e-6));
			assert_true(privacy_rdp(1 - 1e-9, s, al) <= gauss);
		}
}

/*
 * Huge noise (sigma 1e6): RDP tiny, finite, in [0, alpha / (2 sigma^2)] at every order,
 * whatever q. The epsilon is then 0 as long as the composed RDP stays below
 * -log(1 - delta^2) at some order (100 steps here); with more steps (10^4) it is, up to
 * that tiny RDP, the conversion's value for RDP 0 (about 0.1 at delta 1e-5, order 63),
 * below which the conversion states nothing but 0.
 */
static void test_huge_sigma(void **state)
{
	struct privacy_orders o = privacy_default_orders();
	const double qs[] = {1e-4, 0.04, 0.5, 0.9};
	double floor_eps = INFINITY;

	(void)state;
	for (int i = 0; i < o.n; i++) {
		double a = o.alpha[i];

		floor_eps = fmin(floor_eps, log1p(-1 / a) - (log(1e-5) + log(a)) / (a - 1));
	}
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		double rdp[PRIVACY_DEFAULT_ORDERS] = {0}, order = 0, eps;

		privacy_compose(rdp, &o, qs[k], 1e6, 100);
		for (int i = 0; i < o.n; i++)
			assert_true(rdp[i] >= 0 && rdp[i] <= 100 * o.alpha[i] / 2e12);
		assert_true(privacy_epsilon(rdp, &o, 1e-5, &order) == 0);
		/* 10^4 steps: the same RDP times 100 (composition is tested below) */
		for (int i = 0; i < o.n; i++)
			rdp[i] *= 100;
		eps = privacy_epsilon(rdp, &o, 1e-5, &order);
		assert_true(isfinite(eps) && eps >= 0 && eps <= floor_eps + 1e-6);
		assert_true(order > 1);
	}
	/* beyond 1e125 the Gaussian's bound stands in; past sqrt(DBL_MAX), 0 */
	for (int k = 0; k < 2; k++) {
		double r = privacy_rdp(0.3, 1e130, k ? 8 : 2.5);

		assert_true(r >= 0 && r <= (k ? 8 : 2.5) * 0.5e-260 * (1 + 1e-12));
	}
	assert_true(privacy_rdp(0.3, 1e200, 2.5) == 0);
	assert_true(privacy_rdp(0.3, INFINITY, 8) == 0);
}

/* Almost no noise: a large finite epsilon, or infinity, never NaN. */
static void test_tiny_sigma(void **state)
{
	const double sigmas[] = {0.2, 0.05, 1e-3, 1e-10, 1e-100, 1e-200, 0};
	const double qs[] = {1e-6, 0.04, 0.5, 0.99};
	struct privacy_orders o = privacy_default_orders();

	(void)state;
	for (size_t b = 0; b < sizeof(sigmas) / sizeof(sigmas[0]); b++)
		for (size_t a = 0; a < sizeof(qs) / sizeof(qs[0]); a++) {
			double rdp[PRIVACY_DEFAULT_ORDERS] = {0}, order = 0, eps;

			privacy_compose(rdp, &o, qs[a], sigmas[b], 100);
			for (int i = 0; i < o.n; i++)
				assert_false(isnan(rdp[i]));
			eps = privacy_epsilon(rdp, &o, 1e-5, &order);
			assert_false(isnan(eps));
			assert_true(eps > 10);
			assert_false(isnan(order));
		}
	assert_true(privacy_rdp(0.04, 0, 2.5) == INFINITY);
	assert_true(privacy_epsilon_steps(0.04, 0, 1, 1e-5, NULL) == INFINITY);
}

/* a <= b up to 1e-12 relative, counting and showing the first failure. */
static void check_le(int *bad, double a, double b, const char *what, double q,
		     double sigma, double alpha)
{
	if (a <= b * (1 + 1e-12))
		return;
	if (!(*bad)++)
		fprintf(stderr, "%s at q %g sigma %g alpha %g: %.17g > %.17g\n", what, q, sigma,
			alpha, a, b);
}

/* RDP grows with the order and falls with the noise. */
static void test_monotone(void **state)
{
	const double qs[] = {0.001, 0.01, 0.04, 0.2, 0.5, 0.9};
	const double sigmas[] = {0.3, 0.5, 0.8, 1, 1.5, 2, 4, 10, 50};
	enum { NS = sizeof(sigmas) / sizeof(sigmas[0]) };
	struct privacy_orders o = privacy_default_orders();
	int bad = 0;

	(void)state;
	for (size_t a = 0; a < sizeof(qs) / sizeof(qs[0]); a++) {
		double r[NS][PRIVACY_DEFAULT_ORDERS];

		for (int b = 0; b < NS; b++)
			for (int i = 0; i < o.n; i++)
				r[b][i] = privacy_rdp(qs[a], sigmas[b], o.alpha[i]);
		for (int b = 0; b < NS; b++)
			for (int i = 0; i < o.n; i++) {
				if (i > 0)
					check_le(&bad, r[b][i - 1], r[b][i], "falls with the order",
						 qs[a], sigmas[b], o.alpha[i]);
				if (b > 0)
					check_le(&bad, r[b][i], r[b - 1][i], "grows with sigma",
						 qs[a], sigmas[b], o.alpha[i]);
			}
	}
	assert_int_equal(bad, 0);
}

/* Composition adds: phases accumulate, and steps split into phases sum to the whole. */
static void test_compose(void **state)
{
	struct privacy_orders o = privacy_default_orders();
	double whole[PRIVACY_DEFAULT_ORDERS] = {0}, parts[PRIVACY_DEFAULT_ORDERS] = {0};
	double mixed[PRIVACY_DEFAULT_ORDERS] = {0};

	(void)state;
	privacy_compose(whole, &o, 0.02, 1.1, 14);
	privacy_compose(parts, &o, 0.02, 1.1, 10);
	privacy_compose(parts, &o, 0.02, 1.1, 4);
	privacy_compose(parts, &o, 0.02, 0, 0); /* no steps: not even 0 * infinity */
	privacy_compose(mixed, &o, 0.02, 1.1, 10);
	privacy_compose(mixed, &o, 0.1, 2.0, 4);
	for (int i = 0; i < o.n; i++) {
		double a = o.alpha[i];

		assert_true(close_rel("split", parts[i], whole[i], 1e-15));
		assert_true(close_rel("phases", mixed[i],
				      10 * privacy_rdp(0.02, 1.1, a) + 4 * privacy_rdp(0.1, 2.0, a),
				      1e-15));
	}
	/* more steps never give a smaller epsilon */
	assert_true(privacy_epsilon_steps(0.02, 1.1, 1000, 1e-5, NULL) <
		    privacy_epsilon_steps(0.02, 1.1, 2000, 1e-5, NULL));
}

/*
 * The conversion by hand at one order; its clamp at 0; the (0, delta) case that gives
 * epsilon 0 outright; the best order, first on ties.
 */
static void test_epsilon_conversion(void **state)
{
	struct privacy_orders o;
	const double two[] = {2}, pair[] = {2, 1000}, three[] = {3, 1.5, 4};
	double rdp[3], order = 0, eps;

	(void)state;
	privacy_orders_init(&o, two, 1);
	rdp[0] = 1;
	eps = privacy_epsilon(rdp, &o, 1e-5, &order);
	assert_true(close_rel("by hand", eps, 1 + log(0.5) - (log(1e-5) + log(2)), 1e-15));
	assert_true(order == 2);

	/* 2e-4 at order 1000 with delta 0.01 gives a negative value, clamped */
	privacy_orders_init(&o, pair, 2);
	rdp[0] = 1;
	rdp[1] = 2e-4;
	assert_true(2e-4 + log1p(-1e-3) - (log(0.01) + log(1000)) / 999 < 0);
	assert_true(privacy_epsilon(rdp, &o, 0.01, &order) == 0);
	assert_true(order == 1000);

	/* RDP up to -log(1 - delta^2) bounds the total variation by delta: epsilon 0 */
	rdp[0] = rdp[1] = -log1p(-1e-10) * 0.999;
	assert_true(privacy_epsilon(rdp, &o, 1e-5, &order) == 0);
	assert_true(order == 2);
	rdp[0] = rdp[1] = -log1p(-1e-10) * 1.001;
	eps = privacy_epsilon(rdp, &o, 1e-5, &order);
	assert_true(close_rel("past the (0, delta) case", eps,
			      rdp[1] + log1p(-1e-3) - (log(1e-5) + log(1000)) / 999, 1e-12));
	assert_true(eps > 0 && order == 1000);

	/* every order infinite: infinity at the first order */
	privacy_orders_init(&o, three, 3);
	rdp[0] = rdp[1] = rdp[2] = INFINITY;
	assert_true(privacy_epsilon(rdp, &o, 1e-5, &order) == INFINITY);
	assert_true(order == 3);
	rdp[1] = 0.5;
	eps = privacy_epsilon(rdp, &o, 1e-5, &order);
	assert_true(order == 1.5 && isfinite(eps));
}

/* The bisection's contract over several budgets. */
static void test_sigma_for_contract(void **state)
{
	const struct {
		double q;
		int64_t steps;
		double delta, epsilon;
	} cases[] = {
		{0.04, 2250, 1e-5, 8}, {0.01, 10000, 1e-5, 1}, {0.001, 100000, 1e-6, 0.5},
		{0.1, 50, 1e-5, 3}, {1, 10, 1e-5, 2}, {0.5, 1, 1e-3, 0.3}, {0.04, 1, 1e-5, 20},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		double sigma = -1, eps;

		assert_int_equal(privacy_sigma_for(cases[k].q, cases[k].steps, cases[k].delta,
						   cases[k].epsilon, &sigma), 0);
		eps = privacy_epsilon_steps(cases[k].q, sigma, cases[k].steps, cases[k].delta,
					    NULL);
		if (!(eps <= cases[k].epsilon && eps >= cases[k].epsilon - 0.01))
			fprintf(stderr, "case %zu: sigma %g epsilon %.9g\n", k, sigma, eps);
		assert_true(eps <= cases[k].epsilon);
		assert_true(eps >= cases[k].epsilon - PRIVACY_EPSILON_TOLERANCE);
	}
	/* nothing released: no noise needed */
	{
		double sigma = -1;

		assert_int_equal(privacy_sigma_for(0, 1000, 1e-5, 1, &sigma), 0);
		assert_true(sigma == 0);
		sigma = -1;
		assert_int_equal(privacy_sigma_for(0.04, 0, 1e-5, 1, &sigma), 0);
		assert_true(sigma == 0);
	}
}

/* Budgets that cannot be met are refused with a message; *sigma is left alone. */
static void test_sigma_for_refuses(void **state)
{
	const struct {
		double q;
		int64_t steps;
		double delta, epsilon;
		const char *says;
	} cases[] = {
		{0.04, 100, 1e-5, 0, "target epsilon"},
		{0.04, 100, 1e-5, -1, "target epsilon"},
		{0.04, 100, 1e-5, NAN, "target epsilon"},
		{0.04, 100, 1e-5, INFINITY, "target epsilon"},
		{0.04, 100, 0, 1, "delta"},
		{0.04, 100, 1, 1, "delta"},
		{0.04, 100, NAN, 1, "delta"},
		{-0.1, 100, 1e-5, 1, "sampling rate"},
		{1.5, 100, 1e-5, 1, "sampling rate"},
		{0.04, -1, 1e-5, 1, "step count"},
		/* below the conversion's smallest positive value (about 0.1 here) */
		{0.04, 2000, 1e-5, 0.05, "cannot be met"},
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		double sigma = 123;

		assert_int_equal(privacy_sigma_for(cases[k].q, cases[k].steps, cases[k].delta,
						   cases[k].epsilon, &sigma), KN_EINVAL);
		assert_true(sigma == 123);
		assert_non_null(strstr(kn_errmsg(), cases[k].says));
	}
}

static void bad_rate(void) { privacy_rdp(1.01, 1, 2); }
static void bad_rate_nan(void) { privacy_rdp(NAN, 1, 2); }
static void bad_sigma(void) { privacy_rdp(0.1, -1, 2); }
static void bad_order_one(void) { privacy_rdp(0.1, 1, 1); }
static void bad_order_huge(void) { privacy_rdp(0.1, 1, 2e4); }
static void bad_order_list(void)
{
	struct privacy_orders o;
	const double a[] = {2, 0.5};

	privacy_orders_init(&o, a, 2);
}
static void bad_steps(void)
{
	struct privacy_orders o = privacy_default_orders();
	double rdp[PRIVACY_DEFAULT_ORDERS] = {0};

	privacy_compose(rdp, &o, 0.1, 1, -1);
}
static void bad_delta(void)
{
	struct privacy_orders o = privacy_default_orders();
	double rdp[PRIVACY_DEFAULT_ORDERS] = {0};

	privacy_epsilon(rdp, &o, 0, NULL);
}
static void bad_rdp(void)
{
	struct privacy_orders o = privacy_default_orders();
	double rdp[PRIVACY_DEFAULT_ORDERS] = {0};

	rdp[5] = NAN;
	privacy_epsilon(rdp, &o, 1e-5, NULL);
}

/* Out-of-range arguments of the plain functions abort with a CHECK. */
static void test_bad_arguments_check(void **state)
{
	void (*const calls[])(void) = {
		bad_rate, bad_rate_nan, bad_sigma, bad_order_one, bad_order_huge,
		bad_order_list, bad_steps, bad_delta, bad_rdp,
	};

	(void)state;
	for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
		pid_t pid;
		int status;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			alarm(20);
			/* The expected CHECK message would only clutter the log. */
			if (!freopen("/dev/null", "w", stderr))
				_exit(2);
			calls[k]();
			_exit(0);
		}
		assert_true(waitpid(pid, &status, 0) == pid);
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
			fprintf(stderr, "call %zu was not refused\n", k);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_epsilon),
		cmocka_unit_test(test_known_phases),
		cmocka_unit_test(test_known_sigma),
		cmocka_unit_test(test_default_orders),
		cmocka_unit_test(test_series_against_integral),
		cmocka_unit_test(test_series_equals_binomial),
		cmocka_unit_test(test_order_two_closed_form),
		cmocka_unit_test(test_continuous_across_integers),
		cmocka_unit_test(test_q_zero),
		cmocka_unit_test(test_q_one),
		cmocka_unit_test(test_huge_sigma),
		cmocka_unit_test(test_tiny_sigma),
		cmocka_unit_test(test_monotone),
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_epsilon_conversion),
		cmocka_unit_test(test_sigma_for_contract),
		cmocka_unit_test(test_sigma_for_refuses),
		cmocka_unit_test(test_bad_arguments_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
