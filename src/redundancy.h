/*
 * redundancy.h
 *	  Redundancy planning over an MDS erasure code (pure C, no PostgreSQL).
 */
#ifndef DHT_REDUNDANCY_H
#define DHT_REDUNDANCY_H

#define DHT_RED_MAX_SHARDS 255

typedef enum DhtRedundancyStatus
{
	DHT_RED_OK = 0,
	DHT_RED_BAD_K,				/* data_shards not in 1..255 */
	DHT_RED_BAD_AVAILABILITY,	/* not in (0, 1] */
	DHT_RED_BAD_TARGET,			/* not in (0, 1) */
	DHT_RED_UNREACHABLE			/* even 255 shards fall short */
} DhtRedundancyStatus;

/* P[at least k of n independent nodes are up], each up with probability p. */
double		dht_availability(int n, int k, double p);

/* P[fewer than k of n are up] = 1 - dht_availability, accurate when tiny. */
double		dht_unavailability(int n, int k, double p);

/*
 * ln(C(n,i) p^i (1-p)^(n-i)), for 0 <= i <= n and 0 < p <= 1 (any n: the
 * log-gamma function beyond 255).  rq_plan.c builds on it.
 */
double		dht_log_binomial_pmf(int n, int i, double p);

/*
 * The smallest n in k..255 with dht_availability(n, k, p) >= target, in
 * *n_out.  On DHT_RED_UNREACHABLE, *n_out is 255.
 */
DhtRedundancyStatus dht_plan_redundancy(int k, double p, double target, int *n_out);

#endif							/* DHT_REDUNDANCY_H */
