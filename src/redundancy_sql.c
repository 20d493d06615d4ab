/*
 * redundancy_sql.c
 *	  dht.plan_redundancy(data_shards, node_availability, target): the SQL
 *	  face of redundancy.c.
 *
 * The model: nodes fail independently, each up with the given availability,
 * and the code is MDS (any data_shards of the n shards rebuild the data).
 * Correlated failures (one operator, one region) are what the SLA's
 * diversity rule is for; this function does not model them.
 */
#include "smartlayer_dht.h"

#include "fmgr.h"

#include "redundancy.h"

PG_FUNCTION_INFO_V1(plan_redundancy);

Datum
plan_redundancy(PG_FUNCTION_ARGS)
{
	int32		k = PG_GETARG_INT32(0);
	float8		p = PG_GETARG_FLOAT8(1);
	float8		target = PG_GETARG_FLOAT8(2);
	int			n;

	switch (dht_plan_redundancy(k, p, target, &n))
	{
		case DHT_RED_OK:
			break;
		case DHT_RED_BAD_K:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("data_shards must be between 1 and %d, not %d",
							DHT_RED_MAX_SHARDS, k)));
			break;
		case DHT_RED_BAD_AVAILABILITY:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("node_availability must be above 0 and at most 1, not %g", p)));
			break;
		case DHT_RED_BAD_TARGET:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target must be above 0 and below 1, not %g", target)));
			break;
		case DHT_RED_UNREACHABLE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("target %g cannot be reached with at most %d shards",
							target, DHT_RED_MAX_SHARDS),
					 errdetail("With %d data shards on %d nodes of availability %g, the data is available with probability %.9g.",
							   k, DHT_RED_MAX_SHARDS, p,
							   dht_availability(DHT_RED_MAX_SHARDS, k, p)),
					 errhint("Use fewer data shards or more available nodes.")));
			break;
	}
	PG_RETURN_INT32(n);
}
