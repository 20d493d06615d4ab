/*
 * anchor_status.c
 *	  dht.anchor_status(): one row per peer (what its subscription's worker
 *	  and the peer's slot say), then one per other origin this anchor holds
 *	  rows of (being copied, served by an adopter, or by nobody), and one
 *	  for this anchor itself while a write fence stops it.
 */
#include "smartlayer_dht.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "anchor.h"

PG_FUNCTION_INFO_V1(anchor_status);

#define STATUS_COLUMNS 11

/* ----------------------------------------------------------------------
 * dht.anchor_status()
 * ---------------------------------------------------------------------- */

typedef struct PeerStatus
{
	char	   *peer;
	bool		enabled;
	char	   *conninfo;
	char	   *slot;
	bool		has_worker;
	int32		worker_pid;
	bool		has_last_msg;
	TimestampTz last_msg;
	int64		apply_errors;
	int64		sync_errors;
	int32		tables_syncing;
	bool		resync;			/* paused by an upgrade until dht.anchor_resume */
	/* from the peer */
	bool		reachable;
	bool		has_lag;
	int64		lag_bytes;
	char	   *slot_status;
	char	   *error;			/* why the peer could not be asked */
} PeerStatus;

/* The subscriptions to peers, allocated in cxt (outside SPI's memory). */
static List *
read_subscriptions(MemoryContext cxt)
{
	List	   *out = NIL;
	int			rc;
	MemoryContext old;

	rc = SPI_execute(
					 "SELECT substr(s.subname, 10), s.subenabled, s.subconninfo, s.subslotname::text, "
					 "       w.pid, w.last_msg_receipt_time, "
					 "       coalesce(st.apply_error_count, 0), coalesce(st.sync_error_count, 0), "
					 "       (SELECT count(*) FROM pg_catalog.pg_subscription_rel r "
					 "        WHERE r.srsubid = s.oid AND r.srsubstate <> 'r')::int, "
					 "       EXISTS (SELECT FROM dht.anchor_resync x WHERE x.peer = substr(s.subname, 10)) "
					 "FROM pg_catalog.pg_subscription s "
					 "LEFT JOIN pg_catalog.pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL "
					 "LEFT JOIN pg_catalog.pg_stat_subscription_stats st ON st.subid = s.oid "
					 "WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database "
					 "                   WHERE datname = pg_catalog.current_database()) "
					 "  AND s.subname LIKE 'dht\\_from\\_%' "
					 "ORDER BY 1",
					 true, 0);
	if (rc < 0)
		elog(ERROR, "could not read pg_subscription");
	old = MemoryContextSwitchTo(cxt);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		PeerStatus *ps = palloc0(sizeof(PeerStatus));
		bool		isnull;
		Datum		d;

		ps->peer = SPI_getvalue(tup, desc, 1);
		ps->enabled = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		ps->conninfo = SPI_getvalue(tup, desc, 3);
		ps->slot = SPI_getvalue(tup, desc, 4);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		ps->has_worker = !isnull;
		ps->worker_pid = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		ps->has_last_msg = !isnull;
		ps->last_msg = isnull ? 0 : DatumGetTimestampTz(d);
		ps->apply_errors = DatumGetInt64(SPI_getbinval(tup, desc, 7, &isnull));
		ps->sync_errors = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		ps->tables_syncing = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
		ps->resync = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		out = lappend(out, ps);
	}
	MemoryContextSwitchTo(old);
	return out;
}

/* Ask the peer how far behind our slot is (errors propagate). */
static void
query_peer_slot(PeerStatus *ps)
{
	const char *params[1] = {ps->slot};
	PGconn	   *conn = anchor_connect(ps->peer, ps->conninfo, STATUS_TIMEOUT_MS);

	PG_TRY();
	{
		PGresult   *res = anchor_query(conn, ps->peer,
									   "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), "
									   "       confirmed_flush_lsn)::bigint, wal_status "
									   "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
									   1, params);

		ps->reachable = true;
		if (PQntuples(res) == 0)
			ps->slot_status = pstrdup("missing");
		else
		{
			ps->has_lag = !PQgetisnull(res, 0, 0);
			if (ps->has_lag)
				ps->lag_bytes = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			ps->slot_status = PQgetisnull(res, 0, 1) ? NULL : pstrdup(PQgetvalue(res, 0, 1));
		}
		PQclear(res);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
}

/* query_peer_slot, but an unreachable peer is a status, not an error. */
static void
query_peer_slot_arg(void *arg)
{
	query_peer_slot((PeerStatus *) arg);
}

static void
read_peer_slot(PeerStatus *ps)
{
	ErrorData  *edata;

	if (!ps->enabled || ps->slot == NULL)
		return;
	edata = anchor_try(query_peer_slot_arg, ps);
	if (edata == NULL)
		return;
	ps->error = edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
		: pstrdup(edata->message);
	FreeErrorData(edata);
}

/*
 * The origins this anchor holds rows of that no peer serves it: this
 * anchor itself while it recovers its rows, origins a feed is copying,
 * retired anchors an adopter serves, and those nobody serves (a later
 * anchor would never receive their rows: adopt them).  Their rows come from
 * the write marks (a small table), not from the logs.
 */
static void
emit_other_origins(ReturnSetInfo *rsinfo)
{
	if (SPI_execute("WITH me AS (SELECT name, write_fence FROM dht.anchor_self), "
					"feeds AS (SELECT substr(s.subname, 10) AS origin, "
					"                 substr(s.subpublications[1], 5, length(s.subpublications[1]) - 5 "
					"                        - length(substr(s.subname, 10))) AS server, "
					"                 (SELECT count(*) FROM pg_catalog.pg_subscription_rel r "
					"                  WHERE r.srsubid = s.oid AND r.srsubstate <> 'r')::int AS left_ "
					"          FROM pg_catalog.pg_subscription s "
					"          WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database "
					"                             WHERE datname = pg_catalog.current_database()) "
					"            AND s.subname LIKE 'dht\\_feed\\_%'), "
					"origins AS (SELECT origin FROM dht.origin_marks UNION SELECT retired FROM dht.anchor_adoptions "
					"            UNION SELECT origin FROM feeds UNION SELECT name FROM me WHERE write_fence IS NOT NULL) "
					"SELECT o.origin, "
					"       CASE WHEN o.origin = me.name THEN me.write_fence "
					"            WHEN f.origin IS NOT NULL THEN CASE WHEN f.left_ > 0 THEN 'copying' ELSE 'copied' END "
					"            WHEN EXISTS (SELECT FROM dht.anchor_adoptions a WHERE a.retired = o.origin) THEN 'adopted' "
					"            ELSE 'unserved' END, "
					"       f.left_, "
					"       coalesce(f.server, (SELECT string_agg(a.origin, ',' ORDER BY a.origin) "
					"                           FROM dht.anchor_adoptions a WHERE a.retired = o.origin)) "
					"FROM origins o CROSS JOIN me LEFT JOIN feeds f ON f.origin = o.origin "
					"WHERE o.origin NOT IN ('genesis', 'local') "
					"  AND (o.origin <> me.name OR me.write_fence IS NOT NULL) "
					"  AND NOT EXISTS (SELECT FROM pg_catalog.pg_subscription s "
					"                  WHERE s.subname = 'dht_from_' || o.origin "
					"                    AND s.subdbid = (SELECT oid FROM pg_catalog.pg_database "
					"                                     WHERE datname = pg_catalog.current_database())) "
					"ORDER BY 1", true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the origins");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		values[STATUS_COLUMNS];
		bool		nulls[STATUS_COLUMNS];
		bool		isnull;

		memset(nulls, true, sizeof(nulls));
		values[0] = SPI_getbinval(tup, desc, 1, &nulls[0]);
		values[1] = SPI_getbinval(tup, desc, 2, &nulls[1]);
		values[4] = values[5] = Int64GetDatum(0);
		nulls[4] = nulls[5] = false;
		values[6] = SPI_getbinval(tup, desc, 3, &isnull);
		values[6] = isnull ? Int32GetDatum(0) : values[6];
		nulls[6] = false;
		values[10] = SPI_getbinval(tup, desc, 4, &nulls[10]);
		/* the datums live in SPI memory: tuplestore_putvalues copies them */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static const char *
peer_state(const PeerStatus *ps)
{
	if (ps->resync)
		return "paused";
	if (!ps->enabled)
		return "disabled";
	if (!ps->reachable)
		return "down";
	if (ps->slot_status == NULL || strcmp(ps->slot_status, "missing") == 0 ||
		strcmp(ps->slot_status, "lost") == 0)
		return "failing";
	/* No worker: restarting after an error, or not launched yet. */
	if (!ps->has_worker && (ps->apply_errors > 0 || ps->sync_errors > 0))
		return "failing";
	if (!ps->has_worker || ps->tables_syncing > 0)
		return "catching up";
	return "streaming";
}

Datum
anchor_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *peers;
	ListCell   *lc;
	MemoryContext cxt = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	peers = read_subscriptions(cxt);
	SPI_finish();

	foreach(lc, peers)
	{
		PeerStatus *ps = lfirst(lc);
		Datum		values[STATUS_COLUMNS];
		bool		nulls[STATUS_COLUMNS] = {0};

		read_peer_slot(ps);
		values[0] = CStringGetTextDatum(ps->peer);
		values[1] = CStringGetTextDatum(peer_state(ps));
		values[2] = Int64GetDatum(ps->lag_bytes);
		nulls[2] = !ps->has_lag;
		values[3] = TimestampTzGetDatum(ps->last_msg);
		nulls[3] = !ps->has_last_msg;
		values[4] = Int64GetDatum(ps->apply_errors);
		values[5] = Int64GetDatum(ps->sync_errors);
		values[6] = Int32GetDatum(ps->tables_syncing);
		values[7] = ps->slot_status ? CStringGetTextDatum(ps->slot_status) : (Datum) 0;
		nulls[7] = ps->slot_status == NULL;
		values[8] = Int32GetDatum(ps->worker_pid);
		nulls[8] = !ps->has_worker;
		values[9] = ps->error ? CStringGetTextDatum(ps->error) : (Datum) 0;
		nulls[9] = ps->error == NULL;
		values[10] = CStringGetTextDatum(ps->peer);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_connect();
	emit_other_origins(rsinfo);
	SPI_finish();
	return (Datum) 0;
}
