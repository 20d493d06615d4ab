/*
 * lookup.c
 *	  dht.lookup(token): the token's holders, ordered by shard.
 *
 * The read path of every application, so it does as little as possible:
 * a direct scan of dht.placement_log's primary key on the token (no
 * executor, no plan: the way PostgreSQL reads its own catalogs), resolution
 * of the few rows in C by the rule of the dht.placements view (per (shard,
 * node), the event with the greatest (event_at, origin) wins; 'dropped'
 * hides the holder), and endpoints from the backend's registry cache
 * (registry_cache.c) instead of a join.  Since the scan bypasses the
 * executor, it checks the caller's SELECT privilege itself.
 *
 * dht_token_seen, the same kind of probe on dht.token_log's primary key,
 * lets dht.allocate skip a query for the common case of a new token.
 */
#include "smartlayer_dht.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "dirrel.h"
#include "key.h"
#include "lookup.h"
#include "registry_cache.h"

PG_FUNCTION_INFO_V1(dht_lookup);

/* Columns of dht.placement_log, in table order (src/sql/50_directory.sql). */
enum
{
	COL_TOKEN = 1, COL_SHARD, COL_NODE, COL_ORIGIN, COL_STATE, COL_EPOCH, COL_DIGEST, COL_EVENT_AT
};

typedef struct PlacementEvent
{
	int			shard;
	DhtKey		node;
	TimestampTz event_at;
	char	   *origin;
	char	   *state;
} PlacementEvent;

/* Shard, node, then the winning event first. */
static int
event_cmp(const void *a, const void *b)
{
	const PlacementEvent *x = a;
	const PlacementEvent *y = b;
	int			c;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	c = memcmp(x->node.bytes, y->node.bytes, DHT_KEY_LEN);
	if (c != 0)
		return c;
	if (x->event_at != y->event_at)
		return x->event_at > y->event_at ? -1 : 1;
	return -strcmp(x->origin, y->origin);
}

/* The log tables this file reads (dirrel.c opens them safely). */
static DirTable token_log = DIR_TABLE("token_log");
static DirTable placement_log = DIR_TABLE("placement_log");

/* Open a log table and its primary key, checking the caller's SELECT right. */
static Relation
open_log_rel(DirTable *table, Relation *index)
{
	Relation	rel = dir_table_open(table, AccessShareLock, index);

	dir_check_select(rel);
	return rel;
}

/* Start a scan of rows whose first key column equals value. */
static IndexScanDesc
begin_key_scan(DirTable *table, Relation rel, Relation index, Datum value, ScanKey key)
{
	IndexScanDesc scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);

	ScanKeyInit(key, 1, BTEqualStrategyNumber, table->eqprocs[0], value);
	index_rescan(scan, key, 1, NULL, 0);
	return scan;
}

/* Whether dht.token_log has any row (any origin, released or not) for the token. */
bool
dht_token_seen(Datum token)
{
	Relation	index;
	Relation	rel = open_log_rel(&token_log, &index);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData key;
	IndexScanDesc scan = begin_key_scan(&token_log, rel, index, token, &key);
	bool		seen = index_getnext_slot(scan, ForwardScanDirection, slot);

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	dir_table_close(rel, index, AccessShareLock);
	return seen;
}

static void
read_event(TupleTableSlot *slot, PlacementEvent *e)
{
	bool		isnull;

	e->shard = DatumGetInt32(slot_getattr(slot, COL_SHARD, &isnull));
	memcpy(&e->node, DatumGetPointer(slot_getattr(slot, COL_NODE, &isnull)), sizeof(DhtKey));
	e->event_at = DatumGetTimestampTz(slot_getattr(slot, COL_EVENT_AT, &isnull));
	e->origin = TextDatumGetCString(slot_getattr(slot, COL_ORIGIN, &isnull));
	e->state = TextDatumGetCString(slot_getattr(slot, COL_STATE, &isnull));
}

/* The token's placement events, by an index scan; count in *n. */
static PlacementEvent *
fetch_events(Datum token, int *n)
{
	Relation	index;
	Relation	rel = open_log_rel(&placement_log, &index);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	ScanKeyData key;
	IndexScanDesc scan = begin_key_scan(&placement_log, rel, index, token, &key);
	int			cap = 16;
	PlacementEvent *events = palloc(sizeof(PlacementEvent) * cap);

	*n = 0;
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		if (*n == cap)
			events = repalloc(events, sizeof(PlacementEvent) * (cap *= 2));
		read_event(slot, &events[(*n)++]);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	dir_table_close(rel, index, AccessShareLock);
	return events;
}

static void
emit_holder(ReturnSetInfo *rsinfo, const PlacementEvent *e)
{
	Datum		row[4];
	bool		nulls[4] = {false, false, false, false};
	DhtKey	   *node = palloc(sizeof(DhtKey));
	const char *endpoint = dht_node_endpoint(e->node.bytes);

	memcpy(node, &e->node, sizeof(DhtKey));
	row[0] = Int32GetDatum(e->shard);
	row[1] = DhtKeyPGetDatum(node);
	row[2] = endpoint ? CStringGetTextDatum(endpoint) : (Datum) 0;
	nulls[2] = endpoint == NULL;
	row[3] = CStringGetTextDatum(e->state);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
}

Datum
dht_lookup(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PlacementEvent *events;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	events = fetch_events(PG_GETARG_DATUM(0), &n);
	qsort(events, n, sizeof(PlacementEvent), event_cmp);
	for (int i = 0; i < n; i++)
	{
		bool		winner = i == 0 || events[i].shard != events[i - 1].shard ||
			memcmp(events[i].node.bytes, events[i - 1].node.bytes, DHT_KEY_LEN) != 0;

		if (winner && strcmp(events[i].state, "dropped") != 0)
			emit_holder(rsinfo, &events[i]);
	}
	return (Datum) 0;
}
