/*
 * redundancy.c
 *	  How many shards an MDS code needs for a target availability.
 *
 * With an MDS code (any k of n shards rebuild the data) on n nodes that are
 * up independently with probability p, the data is available when at least
 * k nodes are up: S(n) = P[X >= k] for X ~ Binomial(n, p).  S grows with n,
 * so the plan is the first n in k..255 with S(n) >= target.
 *
 * Targets are often like 0.999999999, where S is within 1e-9 of 1 and
 * computing S directly and comparing would lose everything to rounding.  So
 * both tails are computed, each as a sum of binomial terms in log space
 * (ln C(n,i) + i ln p + (n-i) ln(1-p), summed with the log-sum-exp trick so
 * nothing under- or overflows for n up to 255), and the comparison uses the
 * smaller tail: F(n) = P[X < k] <= 1 - target when F is small (1 - target is
 * exact for target >= 1/2), S(n) >= target otherwise.  No PostgreSQL headers:
 * redundancy_sql.c is the SQL wrapper.
 */
#include "redundancy.h"

#include <math.h>
#include <stdbool.h>

static double log_factorial[DHT_RED_MAX_SHARDS + 1];
static bool log_factorial_ready = false;

static double
log_choose(int n, int i)
{
	if (!log_factorial_ready)
	{
		log_factorial[0] = 0.0;
		for (int j = 1; j <= DHT_RED_MAX_SHARDS; j++)
			log_factorial[j] = log_factorial[j - 1] + log((double) j);
		log_factorial_ready = true;
	}
	return log_factorial[n] - log_factorial[i] - log_factorial[n - i];
}

/* sum over i in [lo, hi] of C(n,i) p^i (1-p)^(n-i), for 0 < p < 1 */
static double
binomial_sum(int n, int lo, int hi, double p)
{
	double		lp = log(p);
	double		lq = log1p(-p);
	double		top = -INFINITY;
	double		sum = 0.0;

	if (lo > hi)
		return 0.0;
	for (int i = lo; i <= hi; i++)
	{
		double		t = log_choose(n, i) + i * lp + (n - i) * lq;

		if (t > top)
			top = t;
	}
	for (int i = lo; i <= hi; i++)
		sum += exp(log_choose(n, i) + i * lp + (n - i) * lq - top);
	return exp(top + log(sum));
}

double
dht_log_binomial_pmf(int n, int i, double p)
{
	double		lc;

	if (p >= 1.0)
		return i == n ? 0.0 : -INFINITY;
	if (n <= DHT_RED_MAX_SHARDS)
		lc = log_choose(n, i);
	else
		lc = lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0);
	return lc + i * log(p) + (n - i) * log1p(-p);
}

double
dht_unavailability(int n, int k, double p)
{
	if (k > n)
		return 1.0;
	if (p >= 1.0)
		return 0.0;
	return binomial_sum(n, 0, k - 1, p);
}

double
dht_availability(int n, int k, double p)
{
	if (k > n)
		return 0.0;
	if (p >= 1.0)
		return 1.0;
	return binomial_sum(n, k, n, p);
}

static bool
meets(int n, int k, double p, double target)
{
	double		fail = dht_unavailability(n, k, p);

	if (fail <= 0.5)
		return fail <= 1.0 - target;
	return dht_availability(n, k, p) >= target;
}

DhtRedundancyStatus
dht_plan_redundancy(int k, double p, double target, int *n_out)
{
	*n_out = 0;
	if (k < 1 || k > DHT_RED_MAX_SHARDS)
		return DHT_RED_BAD_K;
	if (!(p > 0.0 && p <= 1.0))
		return DHT_RED_BAD_AVAILABILITY;
	if (!(target > 0.0 && target < 1.0))
		return DHT_RED_BAD_TARGET;
	for (int n = k; n <= DHT_RED_MAX_SHARDS; n++)
		if (meets(n, k, p, target))
		{
			*n_out = n;
			return DHT_RED_OK;
		}
	*n_out = DHT_RED_MAX_SHARDS;
	return DHT_RED_UNREACHABLE;
}
