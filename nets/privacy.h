/*
 * The privacy accountant of differentially private training (DP-SGD): the Renyi
 * differential privacy (RDP) of the Poisson-subsampled Gaussian mechanism, its
 * composition over steps and phases, its conversion to (epsilon, delta), and the noise
 * a budget needs. The formulas, and where they come from: nets/README.md 3.
 *
 * One step of DP-SGD takes every example independently with probability q (the
 * sampling rate), clips each example's gradient to L2 norm C and adds Gaussian noise of
 * standard deviation sigma * C to their sum: sigma is the noise multiplier. Each step is
 * one subsampled Gaussian mechanism; a run is their composition.
 *
 *     struct privacy_orders o = privacy_default_orders();
 *     double rdp[PRIVACY_MAX_ORDERS] = {0}, order;
 *
 *     privacy_compose(rdp, &o, q1, sigma1, steps1);    (one call per phase)
 *     privacy_compose(rdp, &o, q2, sigma2, steps2);
 *     eps = privacy_epsilon(rdp, &o, delta, &order);
 *
 * Everything is double precision and kept in log space where a value could overflow;
 * nothing is allocated and nothing printed. An RDP vector is the caller's: one double
 * per order, in the order of struct privacy_orders.
 *
 * Arguments outside the ranges stated below are programming errors and hit CHECK, as
 * the optimizer's settings do; privacy_sigma_for(), whose arguments are a user's budget,
 * returns KN_EINVAL with a message (io/error.h) instead.
 */
#ifndef KNSEG_NETS_PRIVACY_H
#define KNSEG_NETS_PRIVACY_H

#include <stdint.h>

/* Room in struct privacy_orders, and the size of the default list. */
#define PRIVACY_MAX_ORDERS 256
#define PRIVACY_DEFAULT_ORDERS 151

/* The largest order accepted: an integer order costs one term per unit. */
#define PRIVACY_MAX_ALPHA 1e4

/* How far below the target privacy_sigma_for() may land. */
#define PRIVACY_EPSILON_TOLERANCE 0.01

/*
 * The largest noise multiplier privacy_sigma_for() tries: its search starts with 20 and
 * doubles, at most 16 times.
 */
#define PRIVACY_SIGMA_MAX (20.0 * 65536.0)

/* The Renyi orders alpha at which RDP is tracked: n of them, each in (1, 1e4]. */
struct privacy_orders {
	int n;
	double alpha[PRIVACY_MAX_ORDERS];
};

/*
 * The default orders: 1.1, 1.2, ..., 10.9 (each 1 + k / 10 for k = 1..99) and the
 * integers 12, 13, ..., 63; 151 in all, ascending.
 */
struct privacy_orders privacy_default_orders(void);

/*
 * Orders given explicitly: n in [1, PRIVACY_MAX_ORDERS], each finite, > 1 and at most
 * PRIVACY_MAX_ALPHA (CHECKed), in any order.
 */
void privacy_orders_init(struct privacy_orders *o, const double *alpha, int n);

/*
 * RDP at order alpha of one subsampled Gaussian step, sampling rate q in [0, 1], noise
 * multiplier sigma >= 0 (infinity allowed), alpha as in struct privacy_orders. Integer
 * orders take the finite binomial sum, others the two series. The result lies in
 * [0, alpha / (2 sigma^2)], the plain Gaussian's value (exactly that when q = 1); it is
 * 0 when q = 0 and +infinity when sigma = 0 < q. Never NaN.
 */
double privacy_rdp(double q, double sigma, double alpha);

/*
 * The two-series formula for any order, integers included (where privacy_rdp() takes
 * the binomial sum): the same value up to rounding, so the tests can hold one form to
 * the other. Same arguments and bounds as privacy_rdp().
 */
double privacy_rdp_series(double q, double sigma, double alpha);

/*
 * Adds steps steps (>= 0) of the subsampled Gaussian mechanism (q, sigma) to rdp[o->n]:
 * rdp[i] += steps * privacy_rdp(q, sigma, o->alpha[i]). Start from zeros; a run of
 * several phases is one call per phase. steps = 0 adds nothing (not even 0 * infinity).
 */
void privacy_compose(double *rdp, const struct privacy_orders *o, double q, double sigma,
		     int64_t steps);

/*
 * The smallest epsilon such that the RDP curve rdp[o->n] (each >= 0, infinity allowed)
 * gives (epsilon, delta)-DP, for 0 < delta < 1: at each order the conversion of
 * nets/README.md 3.3, then the minimum over the orders, clamped at 0 from below.
 * *best_order (may be NULL) receives the order of that minimum: the first such order on
 * a tie, the first order when all give infinity. Returns +infinity when every order
 * does.
 */
double privacy_epsilon(const double *rdp, const struct privacy_orders *o, double delta,
		       double *best_order);

/* One phase over the default orders: privacy_compose() then privacy_epsilon(). */
double privacy_epsilon_steps(double q, double sigma, int64_t steps, double delta,
			     double *best_order);

/*
 * The noise multiplier for a budget: a sigma whose privacy_epsilon_steps(q, sigma,
 * steps, delta) is at most epsilon and at least epsilon - PRIVACY_EPSILON_TOLERANCE,
 * found by bisection (nets/README.md 3.4). With q = 0 or steps = 0 nothing is released,
 * so *sigma = 0 (epsilon 0). Returns 0, or KN_EINVAL with a message when an argument is
 * out of range (q in [0, 1], steps >= 0, 0 < delta < 1, epsilon finite and > 0), when
 * no sigma up to PRIVACY_SIGMA_MAX reaches epsilon, or when the epsilon jumps over the
 * tolerance band (targets below what the conversion states short of 0); *sigma is then
 * left alone.
 */
int privacy_sigma_for(double q, int64_t steps, double delta, double epsilon, double *sigma);

#endif
