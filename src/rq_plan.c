/*
 * rq_plan.c
 *	  How many RaptorQ holders a target availability needs (pure C; the SQL
 *	  face is dht.rq_plan_holders in raptorq_sql.c).
 *
 * The model: a block of K source symbols; each of n holders keeps its own
 * range of s encoding symbols (no two holders share a symbol); holders are
 * up independently, each with probability p.  With X ~ Binomial(n, p)
 * holders up, the reader gets m = s X distinct symbols, and decoding fails
 * with probability f(m): 1 when m < K, and 10^(-2(o + 1)) with o = m - K
 * symbols of overhead.  RFC 6330 (section 5, "the decoding failure
 * probability") states that RaptorQ fails with probability below 1e-2 with
 * K symbols, 1e-4 with K + 1 and 1e-6 with K + 2; f extends that
 * hundredfold-per-symbol decline beyond K + 2 (an extrapolation: the RFC
 * states the three points only).  So
 *
 *	 P[fail](n) = sum over x of P[X = x] f(s x)
 *
 * summed in log space (log-binomial terms from redundancy.c, log-sum-exp),
 * and the plan is the smallest n with P[fail](n) <= 1 - target.  P[fail]
 * falls as n grows (more holders up, more symbols, f decreasing), so an
 * exponential then binary search from ceil(K / s) finds it.
 */
#include "rq_plan.h"

#include <math.h>

#include "redundancy.h"

/* ln f(m) */
static double
log_fail_given(uint64_t m, uint32_t K)
{
	if (m < K)
		return 0.0;
	return (double) (m - K + 1) * log(1e-2);
}

double
rq_plan_log_failure(uint32_t K, uint32_t s, uint32_t n, double p)
{
	double		top = -INFINITY;
	double		sum = 0.0;

	for (uint32_t x = 0; x <= n; x++)
	{
		double		t = dht_log_binomial_pmf((int) n, (int) x, p) + log_fail_given((uint64_t) s * x, K);

		if (t > top)
			top = t;
	}
	if (top == -INFINITY)
		return -INFINITY;
	for (uint32_t x = 0; x <= n; x++)
		sum += exp(dht_log_binomial_pmf((int) n, (int) x, p) +
				   log_fail_given((uint64_t) s * x, K) - top);
	return top + log(sum);
}

static int
meets(uint32_t K, uint32_t s, uint32_t n, double p, double allowed)
{
	return rq_plan_log_failure(K, s, n, p) <= allowed;
}

/* Exponential then binary search for the first n that meets the target. */
static RqPlanStatus
search(uint32_t K, uint32_t s, double p, double allowed, uint32_t *n_out)
{
	uint32_t	max = RQ_PLAN_MAX_SYMBOLS / s;
	uint32_t	lo = (K + s - 1) / s;
	uint32_t	hi = lo;

	if (max > RQ_PLAN_MAX_HOLDERS)
		max = RQ_PLAN_MAX_HOLDERS;
	if (lo > max)
		return RQ_PLAN_UNREACHABLE;
	while (!meets(K, s, hi, p, allowed))
	{
		if (hi == max)
			return RQ_PLAN_UNREACHABLE;
		lo = hi + 1;
		hi = hi * 2 > max ? max : hi * 2;
	}
	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;

		if (meets(K, s, mid, p, allowed))
			hi = mid;
		else
			lo = mid + 1;
	}
	*n_out = hi;
	return RQ_PLAN_OK;
}

RqPlanStatus
rq_plan_holders(uint32_t K, uint32_t s, double p, double target, uint32_t *n_out)
{
	double		allowed;

	*n_out = 0;
	if (K < 1 || K > 56403)
		return RQ_PLAN_BAD_K;
	if (s < 1 || s > RQ_PLAN_MAX_SYMBOLS)
		return RQ_PLAN_BAD_S;
	if (!(p > 0.0 && p <= 1.0))
		return RQ_PLAN_BAD_AVAILABILITY;
	if (!(target > 0.0 && target < 1.0))
		return RQ_PLAN_BAD_TARGET;
	allowed = log(1.0 - target);
	return search(K, s, p, allowed, n_out);
}
