/*
 * lookup.c
 *	  The read paths: dht.lookup(token), dht.route(token), and the
 *	  per-row resolution behind the dht.placements view.
 *
 * Every one reads the token's rows by one scan of dht.token_log's primary
 * key (tokenrows.c: no executor, no plan), resolves them in C by the rule
 * of holders.h, and names nodes from the backend's registry cache (one hash
 * probe by node reference) instead of a join.  The scans bypass the
 * executor, so these functions check the caller's SELECT privilege on
 * dht.token_log themselves (dirrel.c).
 *
 * dht.route picks the holder a read should go to: uniformly at random among
 * the token's active holders on active nodes (Smart Layer spreads reads
 * over holders), falling back to active holders on draining nodes, and
 * never to a node that is down or banned or a holder not yet confirmed.
 *
 * dht._placements_of(token, origin, holders) is called by the view for each
 * row: it returns that row's entries that win the resolution, so each
 * holder appears once, from the row whose entry won; for RaptorQ tokens
 * with the ESIs its range stands for.  dht.token_oti(token) returns the
 * RaptorQ OTI that resolution picks (holders.h).
 */
#include "smartlayer_dht.h"

#include "common/pg_prng.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "holders_sql.h"
#include "key.h"
#include "placement_sql.h"
#include "registry_cache.h"
#include "tokenrows.h"

PG_FUNCTION_INFO_V1(dht_lookup);
PG_FUNCTION_INFO_V1(dht_route);
PG_FUNCTION_INFO_V1(dht_placements_of);
PG_FUNCTION_INFO_V1(dht_token_oti);

static Datum
node_or_null(const DhtNodeInfo *node, bool *isnull)
{
	*isnull = node == NULL;
	return node ? key_datum(node->id) : (Datum) 0;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* ---- dht.lookup(token) */

Datum
dht_lookup(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TokenRows	tr;

	InitMaterializedSRF(fcinfo, 0);
	token_rows_read(PG_GETARG_DATUM(0), NULL, &tr);
	for (int i = 0; i < tr.res.n; i++)
	{
		const HolderEntry *e = tr.holders[i].entry;
		const DhtNodeInfo *node = dht_node_by_ref(e->ref);
		Datum		row[4];
		bool		nulls[4] = {false, false, false, false};

		row[0] = Int32GetDatum(e->shard);
		row[1] = node_or_null(node, &nulls[1]);
		row[2] = text_or_null(node ? node->endpoint : NULL, &nulls[2]);
		row[3] = CStringGetTextDatum(holders_state_name(e->state));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}

/* ---- dht.route(token) */

/* The holders a read may go to: active on active nodes, else on draining ones. */
static int
route_candidates(const TokenRows *tr, const DhtNodeInfo **nodes, const HolderEntry **entries)
{
	static const char *const preference[] = {"active", "draining"};

	for (int p = 0; p < (int) lengthof(preference); p++)
	{
		int			n = 0;

		for (int i = 0; i < tr->res.n; i++)
		{
			const HolderEntry *e = tr->holders[i].entry;
			const DhtNodeInfo *node = e->state == HOLDER_ACTIVE ? dht_node_by_ref(e->ref) : NULL;

			if (node != NULL && !node->ambiguous && strcmp(node->state, preference[p]) == 0)
			{
				nodes[n] = node;
				entries[n++] = e;
			}
		}
		if (n > 0)
			return n;
	}
	return 0;
}

Datum
dht_route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TokenRows	tr;
	const DhtNodeInfo **nodes;
	const HolderEntry **entries;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	token_rows_read(PG_GETARG_DATUM(0), NULL, &tr);
	nodes = palloc(sizeof(DhtNodeInfo *) * Max(tr.res.n, 1));
	entries = palloc(sizeof(HolderEntry *) * Max(tr.res.n, 1));
	n = route_candidates(&tr, nodes, entries);
	if (n > 0)
	{
		int			pick = (int) pg_prng_uint64_range(&pg_global_prng_state, 0, n - 1);
		Datum		row[3];
		bool		nulls[3] = {false, false, false};

		row[0] = Int32GetDatum(entries[pick]->shard);
		row[1] = key_datum(nodes[pick]->id);
		row[2] = CStringGetTextDatum(nodes[pick]->endpoint);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}

/* ---- dht._placements_of(token, origin, holders): the view's rows */

static void
emit_placement(ReturnSetInfo *rsinfo, const HolderEntry *e, const HolderSet *meta)
{
	Datum		row[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};
	int64		epoch = meta->epoch;

	row[0] = Int32GetDatum(e->shard);
	row[1] = Int64GetDatum((int64) e->ref);
	row[2] = CStringGetTextDatum(holders_state_name(e->state));
	row[3] = Int64GetDatum(epoch);
	if (e->has_digest)
	{
		bytea	   *d = palloc(VARHDRSZ + HOLDERS_DIGEST_LEN);

		SET_VARSIZE(d, VARHDRSZ + HOLDERS_DIGEST_LEN);
		memcpy(VARDATA(d), e->digest, HOLDERS_DIGEST_LEN);
		row[4] = PointerGetDatum(d);
	}
	else
		nulls[4] = true;
	row[5] = TimestampTzGetDatum(dht_stamp_time(e->stamp));
	/* RaptorQ: the ESIs this holder stores (of every source block) */
	nulls[6] = nulls[7] = !(meta->flags & HOLDERS_RAPTORQ);
	row[6] = Int32GetDatum((int32) e->range * meta->symbols_per_holder);
	row[7] = Int32GetDatum(meta->symbols_per_holder);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
}

Datum
dht_placements_of(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *origin = text_to_cstring(PG_GETARG_TEXT_PP(1));
	TokenRows	tr;
	int			row = -1;

	InitMaterializedSRF(fcinfo, 0);
	token_rows_read(PG_GETARG_DATUM(0), origin, &tr);
	row = tr.own;
	if (row < 0 || !tr.res.live)
		return (Datum) 0;
	for (int i = 0; i < tr.res.n; i++)
		if (tr.holders[i].row == row)
			emit_placement(rsinfo, tr.holders[i].entry, token_rows_meta(&tr)->set);
	return (Datum) 0;
}

/* ---- dht.token_oti(token): the RaptorQ OTI recorded for it, or NULL */

Datum
dht_token_oti(PG_FUNCTION_ARGS)
{
	TokenRows	tr;
	bytea	   *oti;

	token_rows_read(PG_GETARG_DATUM(0), NULL, &tr);
	if (tr.res.oti_row < 0)
		PG_RETURN_NULL();
	oti = palloc(VARHDRSZ + HOLDERS_OTI_LEN);
	SET_VARSIZE(oti, VARHDRSZ + HOLDERS_OTI_LEN);
	memcpy(VARDATA(oti), tr.rows[tr.res.oti_row].set->oti, HOLDERS_OTI_LEN);
	PG_RETURN_BYTEA_P(oti);
}
