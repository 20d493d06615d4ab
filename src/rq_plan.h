/*
 * rq_plan.h
 *	  Holders for a RaptorQ block at a target availability (pure C, no
 *	  PostgreSQL; see rq_plan.c for the model).
 */
#ifndef DHT_RQ_PLAN_H
#define DHT_RQ_PLAN_H

#include <stdint.h>

#define RQ_PLAN_MAX_HOLDERS 65535
#define RQ_PLAN_MAX_SYMBOLS (UINT32_C(1) << 24)	/* the ESI space */

typedef enum RqPlanStatus
{
	RQ_PLAN_OK = 0,
	RQ_PLAN_BAD_K,				/* source_symbols not in 1..56403 */
	RQ_PLAN_BAD_S,				/* symbols_per_holder not in 1..2^24 */
	RQ_PLAN_BAD_AVAILABILITY,	/* not in (0, 1] */
	RQ_PLAN_BAD_TARGET,			/* not in (0, 1) */
	RQ_PLAN_UNREACHABLE			/* not within 65535 holders or 2^24 symbols */
} RqPlanStatus;

/* ln P[decoding fails] for n holders of s symbols each, K source symbols */
double		rq_plan_log_failure(uint32_t K, uint32_t s, uint32_t n, double p);

/* The smallest n with P[decode] >= target, in *n_out. */
RqPlanStatus rq_plan_holders(uint32_t K, uint32_t s, double p, double target, uint32_t *n_out);

#endif							/* DHT_RQ_PLAN_H */
