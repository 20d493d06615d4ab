/*
 * placement_sql.c
 *	  SQL entry points of placement: dht.place, dht.allocate and
 *	  dht.repair_plan.
 *
 * The pure-C engine (placement.c) ranks nodes; registry_cache.c keeps the
 * eligible node set of every SLA class prepared per backend, so placing a
 * token reads no table.  dht.allocate then writes one dht.token_log row and
 * one multi-row dht.placement_log insert, through plans prepared once per
 * backend, in the caller's transaction.  A transaction-scoped advisory lock
 * on the token makes concurrent allocations of one token on one anchor
 * produce one placement: the second waits, then finds the first's rows.
 *
 * Shard r of a token goes to the best node of position r's own rendezvous
 * order (placement_choose_shards), so a node joining or leaving moves only
 * the shards it wins or held, never renumbers the others.
 *
 * dht.repair_plan walks every live placement once (a cursor over
 * dht.placements), checks each holder against its token's SLA class now,
 * and picks replacements with the same engine: the next node of that shard
 * position's rendezvous order (under the seed of the epoch the token was
 * allocated in) that holds nothing of the token and keeps the diversity
 * rule with the holders that stay.  So a replacement is deterministic and
 * moves only what must move.
 *
 * Each entry point pins the registry cache while it runs: its own queries
 * may deliver an invalidation, which must not free the DhtSla it holds.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "key.h"
#include "lookup.h"
#include "redundancy.h"
#include "registry_cache.h"

PG_FUNCTION_INFO_V1(dht_place);
PG_FUNCTION_INFO_V1(dht_allocate);
PG_FUNCTION_INFO_V1(dht_repair_plan);
PG_FUNCTION_INFO_V1(dht_lock_token);

/* Advisory lock space of dht._lock_token (field 4 of the lock tag). */
#define TOKEN_LOCK_SPACE 0x5344

static const char *const diversity_names[] = {"none", "operator", "subnet", "region"};

/* ---- the registry cache stays valid while an entry point runs */

static Datum
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
static int
sla_total_shards(DhtSla *sla)
{
	int			n = 0;

	if (sla->parity_shards >= 0)
		return sla->data_shards + sla->parity_shards;
	if (sla->set == NULL ||
		dht_plan_redundancy(sla->data_shards, sla->mean_availability,
							sla->target_availability, &n) != DHT_RED_OK)
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

static void
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
static int
choose_nodes(DhtSla *sla, const uint8 *seed, const uint8 *key, int nshards, int *out)
{
	uint8		digest[PLACEMENT_DIGEST_LEN];

	if (sla->set == NULL)
		return 0;
	placement_digest(seed, key, digest);
	return placement_choose_shards(sla->set, digest, NULL, 0, nshards, out);
}

static char *
sla_name_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLA class must not be NULL")));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static Datum
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

/* ---- dht.allocate(token, sla) */

/*
 * A token this anchor has never seen is written by one statement (its
 * token_log row with ON CONFLICT DO NOTHING, which is what serialises
 * concurrent allocations of it, and its placement rows); a token with
 * events already (released, or allocated elsewhere) takes the slow path:
 * look at its latest event, then upsert.
 */
typedef struct AllocatePlans
{
	SPIPlanPtr	fresh;			/* a token never seen: both inserts in one go */
	SPIPlanPtr	latest;			/* the token's latest event */
	SPIPlanPtr	existing;		/* its current holders */
	SPIPlanPtr	upsert_token;
	SPIPlanPtr	upsert_placements;
	Oid			token_typid;
} AllocatePlans;

static AllocatePlans plans;

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "smartlayer_dht: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

#define TOKEN_INSERT \
	"INSERT INTO dht.token_log AS t (token, origin, key, sla, data_shards, parity_shards, " \
	"  epoch, allocated_at, released, event_at) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $8) "
#define PLACEMENTS_INSERT \
	"INSERT INTO dht.placement_log (token, shard, node_id, origin, state, epoch, digest, event_at) " \
	"SELECT $1, u.shard, u.node_id, $2, 'active', $3, NULL, $4 " \
	"FROM unnest($5, $6) AS u(shard, node_id) "

/* Plans are prepared once per backend (and again if the types changed). */
static void
prepare_allocate_plans(void)
{
	Oid			token_typid = dht_token_typid();
	Oid			key_typid = dht_key_typid();
	Oid			t1[1] = {token_typid};
	Oid			tput[8] = {token_typid, TEXTOID, key_typid, TEXTOID, INT4OID, INT4OID,
	INT8OID, TIMESTAMPTZOID};
	Oid			pput[6] = {token_typid, TEXTOID, INT8OID, TIMESTAMPTZOID, INT4ARRAYOID,
	get_array_type(key_typid)};

	Oid			fresh[10] = {token_typid, TEXTOID, key_typid, TEXTOID, INT4OID, INT4OID,
	INT8OID, TIMESTAMPTZOID, INT4ARRAYOID, get_array_type(key_typid)};

	if (plans.latest != NULL && plans.token_typid == token_typid)
		return;
	plans.fresh = prepare_kept(
		"WITH t AS (INSERT INTO dht.token_log (token, origin, key, sla, data_shards, parity_shards, "
		"        epoch, allocated_at, released, event_at) "
		"      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $8) "
		"      ON CONFLICT DO NOTHING RETURNING 1) "
		"INSERT INTO dht.placement_log (token, shard, node_id, origin, state, epoch, digest, event_at) "
		"SELECT $1, u.shard, u.node_id, $2, 'active', $7, NULL, $8 "
		"FROM unnest($9, $10) AS u(shard, node_id) WHERE EXISTS (SELECT FROM t)", 10, fresh);
	plans.latest = prepare_kept(
		"SELECT released, event_at FROM dht.token_log WHERE token OPERATOR(dht.=) $1 "
		"ORDER BY event_at DESC, origin DESC LIMIT 1", 1, t1);
	plans.existing = prepare_kept(
		"SELECT shard, node_id, endpoint FROM dht.lookup($1)", 1, t1);
	plans.upsert_token = prepare_kept(
		TOKEN_INSERT
		"ON CONFLICT (token, origin) DO UPDATE SET key = excluded.key, sla = excluded.sla, "
		"  data_shards = excluded.data_shards, parity_shards = excluded.parity_shards, "
		"  epoch = excluded.epoch, allocated_at = excluded.allocated_at, released = false, "
		"  event_at = excluded.event_at "
		"WHERE t.released RETURNING 1", 8, tput);
	plans.upsert_placements = prepare_kept(
		PLACEMENTS_INSERT
		"ON CONFLICT (token, shard, node_id, origin) DO UPDATE SET state = 'active', "
		"  epoch = excluded.epoch, digest = NULL, event_at = excluded.event_at", 6, pput);
	plans.token_typid = token_typid;
}

static void
lock_token(const uint8 *key)
{
	LOCKTAG		tag;
	uint32		k1,
				k2;

	memcpy(&k1, key, 4);
	memcpy(&k2, key + 4, 4);
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, k1, k2, TOKEN_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* dht._lock_token(token): serialises release, repair and confirm of a token. */
Datum
dht_lock_token(PG_FUNCTION_ARGS)
{
	uint8		key[DHT_KEY_LEN];

	dht_token_key(PG_GETARG_DATUM(0), key);
	lock_token(key);
	return key_datum(key);
}

static void
spi_exec_plan(SPIPlanPtr plan, Datum *values, int expected)
{
	int			rc = SPI_execute_plan(plan, values, NULL, false, 0);

	if (rc != expected)
		elog(ERROR, "smartlayer_dht: allocation query failed: %s", SPI_result_code_string(rc));
}

/*
 * The token's latest event time if it is allocated now (*live), or the
 * latest event time it had (0 if none), so that new events sort after it.
 */
static TimestampTz
token_latest_event(Datum token, bool *live)
{
	Datum		values[1] = {token};
	bool		isnull;

	spi_exec_plan(plans.latest, values, SPI_OK_SELECT);
	*live = false;
	if (SPI_processed == 0)
		return 0;
	*live = !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

static void
emit_existing(Datum token, ReturnSetInfo *rsinfo)
{
	Datum		values[1] = {token};

	spi_exec_plan(plans.existing, values, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		row[3];
		bool		nulls[3];

		for (int c = 0; c < 3; c++)
			row[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 1, &nulls[c]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
}

/*
 * The common case in one statement: a token no anchor has allocated (as
 * far as this snapshot shows).  False if this anchor has a row for it after
 * all: a concurrent allocation committed first, or the statement's snapshot
 * is older than the row.
 */
static bool
record_fresh_allocation(Datum token, const uint8 *key, DhtSla *sla, int nshards,
						int64 epoch, const int *out)
{
	Datum		v[10];
	Datum	   *shards = palloc(sizeof(Datum) * nshards);
	Datum	   *nodes = palloc(sizeof(Datum) * nshards);

	for (int i = 0; i < nshards; i++)
	{
		shards[i] = Int32GetDatum(i);
		nodes[i] = key_datum(placement_set_node(sla->set, out[i])->id);
	}
	v[0] = token;
	v[1] = CStringGetTextDatum(dht_origin());
	v[2] = key_datum(key);
	v[3] = CStringGetTextDatum(sla->name);
	v[4] = Int32GetDatum(sla->data_shards);
	v[5] = Int32GetDatum(nshards - sla->data_shards);
	v[6] = Int64GetDatum(epoch);
	v[7] = TimestampTzGetDatum(GetCurrentTimestamp());
	v[8] = PointerGetDatum(construct_array(shards, nshards, INT4OID, 4, true, TYPALIGN_INT));
	v[9] = PointerGetDatum(construct_array(nodes, nshards, dht_key_typid(), DHT_KEY_LEN,
										   false, TYPALIGN_CHAR));
	spi_exec_plan(plans.fresh, v, SPI_OK_INSERT);
	return SPI_processed > 0;
}

/*
 * Re-allocate a released token; false if a concurrent allocation of it on
 * this anchor committed first (we waited for it on the token_log key).
 */
static bool
record_reallocation(Datum token, const uint8 *key, DhtSla *sla, int nshards, int64 epoch,
					TimestampTz at, const int *out)
{
	Datum		tvals[8];
	Datum		pvals[6];
	Datum	   *shards = palloc(sizeof(Datum) * nshards);
	Datum	   *nodes = palloc(sizeof(Datum) * nshards);
	Datum		origin = CStringGetTextDatum(dht_origin());

	tvals[0] = token;
	tvals[1] = origin;
	tvals[2] = key_datum(key);
	tvals[3] = CStringGetTextDatum(sla->name);
	tvals[4] = Int32GetDatum(sla->data_shards);
	tvals[5] = Int32GetDatum(nshards - sla->data_shards);
	tvals[6] = Int64GetDatum(epoch);
	tvals[7] = TimestampTzGetDatum(at);
	spi_exec_plan(plans.upsert_token, tvals, SPI_OK_INSERT_RETURNING);
	if (SPI_processed == 0)
		return false;

	for (int i = 0; i < nshards; i++)
	{
		shards[i] = Int32GetDatum(i);
		nodes[i] = key_datum(placement_set_node(sla->set, out[i])->id);
	}
	pvals[0] = token;
	pvals[1] = origin;
	pvals[2] = Int64GetDatum(epoch);
	pvals[3] = TimestampTzGetDatum(at);
	pvals[4] = PointerGetDatum(construct_array(shards, nshards, INT4OID, 4, true, TYPALIGN_INT));
	pvals[5] = PointerGetDatum(construct_array(nodes, nshards, dht_key_typid(), DHT_KEY_LEN,
											   false, TYPALIGN_CHAR));
	spi_exec_plan(plans.upsert_placements, pvals, SPI_OK_INSERT);
	return true;
}

static void
emit_new(DhtSla *sla, int nshards, const int *out, ReturnSetInfo *rsinfo)
{
	for (int i = 0; i < nshards; i++)
	{
		Datum		row[3];
		bool		nulls[3] = {false, false, false};

		row[0] = Int32GetDatum(i);
		row[1] = key_datum(placement_set_node(sla->set, out[i])->id);
		row[2] = CStringGetTextDatum(sla->endpoints[out[i]]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
}

static Datum
dht_allocate_pinned(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		token;
	DhtSla	   *sla;
	uint8		key[DHT_KEY_LEN];
	uint8		seed[PLACEMENT_SEED_LEN];
	int			out[PLACEMENT_MAX_SHARDS];
	int			nshards;
	int			chosen;
	int64		epoch;
	bool		live;
	bool		written;
	TimestampTz latest;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be NULL")));
	token = PG_GETARG_DATUM(0);
	sla = dht_sla_get(sla_name_arg(fcinfo, 1));
	dht_token_key(token, key);
	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	prepare_allocate_plans();
	nshards = sla_total_shards(sla);
	epoch = dht_current_epoch(seed);
	chosen = choose_nodes(sla, seed, key, nshards, out);
	written = chosen == nshards && !dht_token_seen(token) &&
		record_fresh_allocation(token, key, sla, nshards, epoch, out);
	live = false;
	if (!written)
	{
		/* The slow path: allocated already, released before, or short of nodes. */
		latest = token_latest_event(token, &live);
		if (!live && chosen < nshards)
			report_insufficient_nodes(sla, nshards, chosen);
		if (!live)
			live = !record_reallocation(token, key, sla, nshards, epoch,
										Max(GetCurrentTimestamp(), latest + 1), out);
	}
	if (live)
		emit_existing(token, rsinfo);
	SPI_finish();
	if (!live)
		emit_new(sla, nshards, out, rsinfo);
	return (Datum) 0;
}

/* ---- dht.repair_plan() */

typedef struct Holder
{
	int			shard;
	uint8		node[DHT_KEY_LEN];
} Holder;

/* One token's live holders, collected from consecutive cursor rows. */
typedef struct TokenGroup
{
	Datum		token;
	uint8		key[DHT_KEY_LEN];
	char		sla[DHT_SLA_NAME_LEN];
	int64		epoch;
	int			n;
	Holder		holders[2 * PLACEMENT_MAX_SHARDS];
} TokenGroup;

/* Why a holder must move, or NULL if it may stay. */
static const char *
holder_problem(DhtSla *sla, const Holder *h, uint64 *tag)
{
	int			idx = dht_sla_index_of(sla, h->node);
	const char *state;

	if (idx >= 0)
	{
		*tag = placement_set_node(sla->set, idx)->tag;
		return NULL;
	}
	state = dht_node_state(h->node);
	if (state == NULL)
		return "node unknown";
	if (strcmp(state, "active") != 0)
		return psprintf("node %s", state);
	return "SLA no longer met";
}

static void
emit_repair_row(ReturnSetInfo *rsinfo, TokenGroup *g, const Holder *h,
				const PlacementNode *to, const char *reason)
{
	Datum		row[5];
	bool		nulls[5] = {false, false, false, to == NULL, false};

	row[0] = g->token;
	row[1] = Int32GetDatum(h->shard);
	row[2] = key_datum(h->node);
	row[3] = to ? key_datum(to->id) : (Datum) 0;
	row[4] = CStringGetTextDatum(to ? reason : psprintf("%s; no eligible replacement", reason));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
}

static void
plan_token(TokenGroup *g, ReturnSetInfo *rsinfo)
{
	DhtSla	   *sla = dht_sla_get(g->sla);
	PlacementTaken taken[3 * 2 * PLACEMENT_MAX_SHARDS];
	const Holder *moving[2 * PLACEMENT_MAX_SHARDS];
	const char *reasons[2 * PLACEMENT_MAX_SHARDS];
	int			nkept = 0,
				nmoving = 0,
				ntaken;
	bool		have_order;
	uint8		seed[PLACEMENT_SEED_LEN];
	uint8		digest[PLACEMENT_DIGEST_LEN];

	for (int i = 0; i < g->n; i++)
	{
		uint64		tag = 0;
		const char *problem = holder_problem(sla, &g->holders[i], &tag);

		for (int j = 0; problem == NULL && tag != 0 && j < nkept; j++)
			if (taken[j].tag == tag)
				problem = "diversity broken";
		if (problem == NULL)
		{
			memcpy(taken[nkept].id, g->holders[i].node, DHT_KEY_LEN);
			taken[nkept++].tag = tag;
			continue;
		}
		reasons[nmoving] = problem;
		moving[nmoving++] = &g->holders[i];
	}
	if (nmoving == 0)
		return;
	/* Moving holders are excluded by id but do not constrain diversity. */
	for (int i = 0; i < nmoving; i++)
	{
		memcpy(taken[nkept + i].id, moving[i]->node, DHT_KEY_LEN);
		taken[nkept + i].tag = 0;
	}
	ntaken = nkept + nmoving;
	have_order = sla->set != NULL && dht_epoch_seed(g->epoch, seed);
	if (have_order)
		placement_digest(seed, g->key, digest);
	for (int i = 0; i < nmoving; i++)
	{
		const PlacementNode *to = NULL;

		/* The next node of this shard position's own rendezvous order. */
		if (have_order)
		{
			int			out;

			if (placement_choose_position(sla->set, digest, moving[i]->shard,
										  taken, ntaken, &out) == 1)
			{
				to = placement_set_node(sla->set, out);
				memcpy(taken[ntaken].id, to->id, DHT_KEY_LEN);
				taken[ntaken++].tag = to->tag;
			}
		}
		emit_repair_row(rsinfo, g, moving[i], to, reasons[i]);
	}
}

#define REPAIR_BATCH 1000

static Datum
dht_repair_plan_pinned(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext rowcxt;
	TokenGroup *g = palloc0(sizeof(TokenGroup));
	Portal		cursor;

	InitMaterializedSRF(fcinfo, 0);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "repair_plan token",
								   ALLOCSET_DEFAULT_SIZES);
	SPI_connect();
	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT p.token, p.shard, p.node_id, t.sla, t.epoch, t.key "
									   "FROM dht.placements p JOIN dht.tokens t ON t.token OPERATOR(dht.=) p.token "
									   "WHERE p.state IN ('active', 'pending') "
									   "ORDER BY p.token, p.shard, p.node_id",
									   0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPI_cursor_fetch(cursor, true, REPAIR_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			HeapTuple	tup = SPI_tuptable->vals[r];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			DhtKey	   *key = DatumGetDhtKeyP(SPI_getbinval(tup, desc, 6, &isnull));
			MemoryContext old;

			if (g->n > 0 && memcmp(g->key, key->bytes, DHT_KEY_LEN) != 0)
			{
				plan_token(g, rsinfo);
				g->n = 0;
				MemoryContextReset(rowcxt);
			}
			if (g->n == 0)
			{
				old = MemoryContextSwitchTo(rowcxt);
				g->token = datumCopy(SPI_getbinval(tup, desc, 1, &isnull), false, -1);
				MemoryContextSwitchTo(old);
				memcpy(g->key, key->bytes, DHT_KEY_LEN);
				strlcpy(g->sla, TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull)),
						DHT_SLA_NAME_LEN);
				g->epoch = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
			}
			if (g->n < (int) lengthof(g->holders))
			{
				g->holders[g->n].shard = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
				memcpy(g->holders[g->n].node,
					   DatumGetDhtKeyP(SPI_getbinval(tup, desc, 3, &isnull))->bytes, DHT_KEY_LEN);
				g->n++;
			}
		}
		SPI_freetuptable(SPI_tuptable);
	}
	if (g->n > 0)
		plan_token(g, rsinfo);
	SPI_cursor_close(cursor);
	SPI_finish();
	return (Datum) 0;
}

/* ---- entry points */

Datum
dht_place(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_place_pinned, fcinfo);
}

Datum
dht_allocate(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_allocate_pinned, fcinfo);
}

Datum
dht_repair_plan(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_repair_plan_pinned, fcinfo);
}
