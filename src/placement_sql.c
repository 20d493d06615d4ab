/*
 * placement_sql.c
 *	  dht.place, and what the placement entry points share: the registry
 *	  pin, shard counts, node choice and their errors.
 *
 * The pure-C engine (placement.c) ranks nodes; registry_cache.c keeps the
 * eligible node set of every SLA class prepared per backend, so placing a
 * token reads no table.  Shard r of a token goes to the best node of
 * position r's own rendezvous order (placement_choose_shards), so a node
 * joining or leaving moves only the shards it wins or held, never
 * renumbers the others.  dht.allocate (allocate.c) records what dht.place
 * computes; repair.c picks replacements from the same orders.
 *
 * Each entry point pins the registry cache while it runs: its own queries
 * may deliver an invalidation, which must not free the DhtSla it holds.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "holders.h"
#include "key.h"
#include "placement_sql.h"
#include "redundancy.h"
#include "registry_cache.h"
#include "rq_plan.h"

PG_FUNCTION_INFO_V1(dht_place);

static const char *const diversity_names[] = {"none", "operator", "subnet", "region"};

/* ---- the registry cache stays valid while an entry point runs */

Datum
with_registry_pinned(PGFunction fn, FunctionCallInfo fcinfo)
{
	volatile Datum result;

	dht_registry_pin();
	PG_TRY();
	{
		result = fn(fcinfo);
	}
	PG_FINALLY();
	{
		dht_registry_unpin();
	}
	PG_END_TRY();
	return result;
}

/* ---- shard counts and selection */

/*
 * data + parity shards of new allocations in the class: fixed, or the
 * smallest count whose availability reaches the class's target, given the
 * mean measured availability of its eligible nodes now.
 */
/* The smallest holder count that reaches the class's target, or -1. */
static int
planned_total(DhtSla *sla)
{
	int			n = 0;

	if (sla->raptorq)
	{
		uint32		holders = 0;

		if (rq_plan_holders((uint32) (sla->data_shards * sla->symbols_per_holder),
							(uint32) sla->symbols_per_holder, sla->mean_availability,
							sla->target_availability, &holders) != RQ_PLAN_OK ||
			holders > HOLDERS_MAX_SHARDS)
			return -1;
		return (int) holders;
	}
	if (dht_plan_redundancy(sla->data_shards, sla->mean_availability,
							sla->target_availability, &n) != DHT_RED_OK)
		return -1;
	return n;
}

int
sla_total_shards(DhtSla *sla)
{
	int			n;

	if (sla->parity_shards >= 0)
		return sla->data_shards + sla->parity_shards;
	n = sla->set == NULL ? -1 : planned_total(sla);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("SLA class \"%s\" cannot reach its target availability %g",
						sla->name, sla->target_availability),
				 sla->mean_availability > 0 ?
				 errdetail("Its %d eligible nodes have a mean measured availability of %g; 255 shards are the most a token can have.",
						   sla->set ? placement_set_size(sla->set) : 0, sla->mean_availability) :
				 errdetail("None of its %d eligible nodes has a measured availability.",
						   sla->set ? placement_set_size(sla->set) : 0),
				 errhint("Record measurements with dht.set_node_availability().")));
	return n;
}

void
report_insufficient_nodes(DhtSla *sla, int needed, int chosen)
{
	int			eligible = sla->set ? placement_set_size(sla->set) : 0;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("not enough eligible nodes for SLA class \"%s\"", sla->name),
			 errdetail("The class needs %d nodes (diversity \"%s\"); %d nodes are eligible and %d of them can be used together.",
					   needed, diversity_names[sla->diversity], eligible, chosen),
			 errhint("Register more nodes that meet the class, or redefine it.")));
}

/*
 * Choose nshards nodes for a key under a seed; out[] gets set indexes.
 * Returns how many could be chosen (nshards unless the class is short).
 */
int
choose_nodes(DhtSla *sla, const uint8 *seed, const uint8 *key, int nshards, int *out)
{
	uint8		digest[PLACEMENT_DIGEST_LEN];

	if (sla->set == NULL)
		return 0;
	placement_digest(seed, key, digest);
	return placement_choose_shards(sla->set, digest, NULL, 0, nshards, out);
}

char *
sla_name_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLA class must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

Datum
key_datum(const uint8 *bytes)
{
	DhtKey	   *k = palloc(sizeof(DhtKey));

	memcpy(k->bytes, bytes, DHT_KEY_LEN);
	return DhtKeyPGetDatum(k);
}

/* ---- dht.place(key, sla) */

static Datum
dht_place_pinned(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DhtSla	   *sla;
	uint8		seed[PLACEMENT_SEED_LEN];
	int			out[PLACEMENT_MAX_SHARDS];
	int			nshards;
	int			chosen;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key must not be NULL")));
	sla = dht_sla_get(sla_name_arg(fcinfo, 1));
	nshards = sla_total_shards(sla);
	dht_current_epoch(seed);
	chosen = choose_nodes(sla, seed, PG_GETARG_DHTKEY_P(0)->bytes, nshards, out);
	if (chosen < nshards)
		report_insufficient_nodes(sla, nshards, chosen);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < nshards; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int32GetDatum(i);
		values[1] = key_datum(placement_set_node(sla->set, out[i])->id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* ---- entry points */

Datum
dht_place(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_place_pinned, fcinfo);
}


