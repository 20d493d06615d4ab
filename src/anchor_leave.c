/*
 * anchor_leave.c
 *	  Leaving the network, and the guard that makes DROP EXTENSION wait for
 *	  it.
 *
 * Publications, subscriptions and replication slots are not extension
 * members (PostgreSQL cannot make them so), so DROP EXTENSION would leave
 * them behind: this anchor's subscriptions would keep their slots on the
 * peers (which then hold back WAL for ever), the peers' subscriptions would
 * keep failing against this server.  CALL dht.anchor_leave() (a procedure,
 * 73_membership.sql) takes the anchor out cleanly:
 *	  1. its write fence says "leaving" (committed, so that a peer can see it);
 *	  2. each reachable peer is told (dht._peer_leaving on the peer), checks
 *		 with this anchor that it is indeed leaving, and drops its
 *		 subscription to it, and with it its slot here;
 *	  3. this anchor drops its subscriptions (their slots on the peers go at
 *		 commit), its publications, and the slots left on this server.
 * The event trigger dht_guard_drop refuses DROP EXTENSION smartlayer_dht
 * (and DROP SCHEMA dht) while any of these remain, and says to run it.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "anchor.h"

PG_FUNCTION_INFO_V1(anchor_leave_begin);
PG_FUNCTION_INFO_V1(anchor_leave_tell_peer);
PG_FUNCTION_INFO_V1(anchor_peer_leaving);
PG_FUNCTION_INFO_V1(anchor_leave_end);
PG_FUNCTION_INFO_V1(anchor_guard_drop);

#define FENCE_LEAVING	"leaving"
#define FENCE_LEFT		"left"

#define THIS_DATABASE	"(SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())"

Datum
anchor_leave_begin(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	lock_anchor_config();
	(void) anchor_require_self();
	anchor_set_fence(FENCE_LEAVING);
	if (SPI_execute("SELECT substr(subname, 10), subconninfo FROM pg_catalog.pg_subscription "
					"WHERE subdbid = " THIS_DATABASE " AND subname LIKE 'dht\\_from\\_%' ORDER BY 1",
					true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the peers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		values[1] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

Datum
anchor_leave_tell_peer(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo_in = anchor_text_arg(fcinfo, 1, "conninfo");
	char	   *me;
	char	   *conninfo;
	int			timeout_ms;
	PGconn	   *conn;
	const char *params[1];

	check_anchor_name(peer);
	SPI_connect();
	me = anchor_require_self();
	SPI_finish();
	params[0] = me;
	conninfo = anchor_normalise_conninfo(peer, conninfo_in, &timeout_ms);
	conn = anchor_connect(peer, conninfo, Min(timeout_ms, STATUS_TIMEOUT_MS));
	PG_TRY();
	{
		PQclear(anchor_query(conn, peer, "SELECT dht._peer_leaving($1)", 1, params));
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

/* On a peer: the anchor named says it leaves; check with it, then forget it. */
Datum
anchor_peer_leaving(PG_FUNCTION_ARGS)
{
	char	   *leaver = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *me;
	char	   *conninfo;
	PeerMembership pm;

	check_anchor_name(leaver);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	conninfo = anchor_text1("SELECT subconninfo FROM pg_catalog.pg_subscription "
							"WHERE subdbid = " THIS_DATABASE " AND subname = $1",
							anchor_subscription(leaver));
	if (conninfo != NULL)
	{
		anchor_membership_of(leaver, conninfo, me, STATUS_TIMEOUT_MS, &pm);
		if (pm.fence == NULL || strcmp(pm.fence, FENCE_LEAVING) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("anchor \"%s\" is not leaving", leaver)));
		anchor_drop_subscription(anchor_subscription(leaver), leaver);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* Drop every subscription of this database whose name matches (inside SPI). */
static int
drop_subscriptions(const char *pattern, int prefix_len)
{
	List	   *subs = NIL;
	ListCell   *lc;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(pattern)};

	if (SPI_execute_with_args("SELECT subname::text FROM pg_catalog.pg_subscription "
							  "WHERE subdbid = " THIS_DATABASE " AND subname LIKE $1",
							  1, types, values, NULL, true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the subscriptions");
	for (uint64 i = 0; i < SPI_processed; i++)
		subs = lappend(subs, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, subs)
	{
		char	   *sub = lfirst(lc);
		char	   *server = strncmp(sub, "dht_feed_", 9) == 0 ? anchor_feed_server(sub + prefix_len)
			: pstrdup(sub + prefix_len);

		anchor_drop_subscription(sub, server);
	}
	return list_length(subs);
}

static int
drop_publications(const char *me)
{
	List	   *pubs = NIL;
	ListCell   *lc;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(anchor_publication(me)),
	CStringGetTextDatum(psprintf("dhr\\_%s\\_%%", me))};

	if (SPI_execute_with_args("SELECT pubname::text FROM pg_catalog.pg_publication "
							  "WHERE pubname = $1 OR pubname LIKE $2", 2, types, values, NULL, true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the publications");
	for (uint64 i = 0; i < SPI_processed; i++)
		pubs = lappend(pubs, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, pubs)
		anchor_exec(psprintf("DROP PUBLICATION %s", quote_identifier(lfirst(lc))));
	return list_length(pubs);
}

Datum
anchor_leave_end(PG_FUNCTION_ARGS)
{
	char	   *me;
	int64		n = 0;

	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	n += drop_subscriptions("dht\\_from\\_%", 9);
	n += drop_subscriptions("dht\\_feed\\_%", 9);
	n += drop_publications(me);
	n += anchor_drop_local_slots(psprintf("dht\\_%s\\_%%", me));
	n += anchor_drop_local_slots("dhr\\_%");
	anchor_set_fence(FENCE_LEFT);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* ---- the event trigger */

static bool
names_include(List *objects, const char *name)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		Node	   *o = lfirst(lc);

		if (IsA(o, String) && strcmp(strVal(o), name) == 0)
			return true;
	}
	return false;
}

/* Whether the statement drops this extension (or its schema). */
static bool
drops_extension(Node *parsetree)
{
	DropStmt   *stmt;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType == OBJECT_EXTENSION)
		return names_include(stmt->objects, "smartlayer_dht");
	if (stmt->removeType == OBJECT_SCHEMA)
		return names_include(stmt->objects, "dht");
	return false;
}

static int
count_of(const char *sql)
{
	char	   *v = anchor_text1(sql, NULL);

	return v ? atoi(v) : 0;
}

Datum
anchor_guard_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trig;
	int			pubs,
				subs,
				slots;
	char	   *me;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "smartlayer_dht: _guard_drop must be called as an event trigger");
	trig = (EventTriggerData *) fcinfo->context;
	if (!drops_extension(trig->parsetree))
		PG_RETURN_VOID();
	SPI_connect();
	me = anchor_self_name();
	if (me == NULL)
	{
		SPI_finish();
		PG_RETURN_VOID();
	}
	pubs = count_of(psprintf("SELECT count(*) FROM pg_catalog.pg_publication "
							 "WHERE pubname = %s OR pubname LIKE %s",
							 quote_literal_cstr(anchor_publication(me)),
							 quote_literal_cstr(psprintf("dhr\\_%s\\_%%", me))));
	subs = count_of("SELECT count(*) FROM pg_catalog.pg_subscription WHERE subdbid = " THIS_DATABASE
					" AND (subname LIKE 'dht\\_from\\_%' OR subname LIKE 'dht\\_feed\\_%')");
	slots = count_of(psprintf("SELECT count(*) FROM pg_catalog.pg_replication_slots "
							  "WHERE database = pg_catalog.current_database() "
							  "  AND (slot_name LIKE %s OR slot_name LIKE 'dhr\\_%%')",
							  quote_literal_cstr(psprintf("dht\\_%s\\_%%", me))));
	SPI_finish();
	if (pubs + subs + slots > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop smartlayer_dht while anchor \"%s\" replicates", me),
				 errdetail("%d publications, %d subscriptions and %d replication slots of this anchor remain; they are not part of the extension and would be left behind.",
						   pubs, subs, slots),
				 errhint("Run CALL dht.anchor_leave(); first: it tells the peers, then removes them.")));
	PG_RETURN_VOID();
}
