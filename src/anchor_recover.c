/*
 * anchor_recover.c
 *	  An anchor that lost its latest rows (rebuilt from scratch under its old
 *	  name, or restored from a backup) gets them back from its peers before
 *	  it writes under its name again; the peers never copy an older set of
 *	  its rows over a newer one.
 *
 * The danger.  An anchor writes only rows of its own origin, and its peers
 * hold copies of them.  If it lost some (a rebuild, a restore), its next
 * write could create a row its peers already have (their apply workers stop
 * on the duplicate key), or overwrite a newer version of one; and a peer
 * that re-adds it would drop its newer copy for the older set.
 *
 * What tells.  Write marks (origin_marks.c): an anchor's total for an origin
 * is how much of that origin's history it holds, and of two anchors the one
 * with the greater total holds everything the other does (each applies the
 * origin's transactions in commit order).  So:
 *	  * adding a peer (anchor_check_membership), an anchor refuses a peer
 *		that holds less of its own history than the anchor holds of it, or
 *		that is recovering; and if the peer holds more of the anchor's own
 *		rows than it does, the anchor fetches them back from it when it has
 *		none (a rebuilt anchor: a feed, anchor_feed.c) or refuses (it was
 *		restored: dht.anchor_rejoin);
 *	  * after every server start, the first write of each backend checks
 *		the anchor's own total against each peer's (dht_write_origin), once:
 *		a restored anchor is stopped before it writes;
 *	  * while it recovers, a write fence (anchor_self.write_fence) refuses
 *		every write under its name.
 *
 * dht.anchor_rejoin (a procedure, 73_membership.sql) does the rest: it
 * drops the slots peers read this anchor through (their positions belong to
 * the history it lost), copies every peer's rows again (its copy of theirs
 * may have holes too), copies its own rows back from the peer that holds the
 * most of them, waits for that copy, lifts the fence, and asks each peer to
 * copy its rows again (dht._refresh_peer on the peer, which checks it first).
 */
#include "smartlayer_dht.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "anchor.h"
#include "registry_cache.h"

PG_FUNCTION_INFO_V1(anchor_state);
PG_FUNCTION_INFO_V1(dht_write_origin_sql);
PG_FUNCTION_INFO_V1(anchor_rejoin_begin);
PG_FUNCTION_INFO_V1(anchor_rejoin_drop);
PG_FUNCTION_INFO_V1(anchor_rejoin_add);
PG_FUNCTION_INFO_V1(anchor_rejoin_recover);
PG_FUNCTION_INFO_V1(anchor_rejoin_progress);
PG_FUNCTION_INFO_V1(anchor_rejoin_end);
PG_FUNCTION_INFO_V1(anchor_ask_peer_refresh);
PG_FUNCTION_INFO_V1(anchor_refresh_peer_remove);
PG_FUNCTION_INFO_V1(anchor_refresh_peer_add);

#define FENCE_RECOVERING	"recovering"
#define FENCE_REJOINING		"rejoining"

/* Verified in this backend since the server started (see dht_write_origin). */
static bool backend_verified = false;

/* ---- local state (inside SPI) */

static int64
local_writes(const char *origin)
{
	char	   *v = anchor_text1("SELECT dht.origin_writes($1)", origin);

	return v ? strtoll(v, NULL, 10) : 0;
}

void
anchor_set_fence(const char *fence)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {fence ? CStringGetTextDatum(fence) : (Datum) 0};
	char		nulls[1] = {fence ? ' ' : 'n'};

	if (SPI_execute_with_args("UPDATE dht.anchor_self SET write_fence = $1, "
							  "verified_at = CASE WHEN $1 IS NULL THEN pg_catalog.now() ELSE verified_at END",
							  1, types, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "smartlayer_dht: could not set the write fence");
}

int
anchor_drop_local_slots(const char *pattern)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(pattern)};
	int			dropped = 0;

	for (int attempt = 0; attempt < 20; attempt++)
	{
		if (SPI_execute_with_args("SELECT pg_catalog.pg_terminate_backend(active_pid) "
								  "FROM pg_catalog.pg_replication_slots "
								  "WHERE database = pg_catalog.current_database() AND slot_name LIKE $1 "
								  "  AND active_pid IS NOT NULL", 1, types, values, NULL, false, 0) < 0 ||
			SPI_execute_with_args("SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
								  "FROM pg_catalog.pg_replication_slots "
								  "WHERE database = pg_catalog.current_database() AND slot_name LIKE $1 "
								  "  AND NOT active", 1, types, values, NULL, false, 0) < 0)
			elog(ERROR, "smartlayer_dht: could not drop replication slots");
		dropped += (int) SPI_processed;
		if (anchor_text1("SELECT slot_name::text FROM pg_catalog.pg_replication_slots "
						 "WHERE database = pg_catalog.current_database() AND slot_name LIKE $1",
						 pattern) == NULL)
			return dropped;
		pg_usleep(250 * 1000L);
		CHECK_FOR_INTERRUPTS();
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("replication slots matching \"%s\" stay in use", pattern),
			 errhint("Remove this anchor as a peer on the anchors that read it, then try again.")));
	return dropped;
}

/* dht._anchor_state(): name, write fence, own writes held. */
Datum
anchor_state(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	char	   *me;
	char	   *fence;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "smartlayer_dht: _anchor_state must return a row");
	SPI_connect();
	me = anchor_self_name();
	fence = anchor_text1("SELECT write_fence FROM dht.anchor_self", NULL);
	values[0] = me ? CStringGetTextDatum(me) : (Datum) 0;
	nulls[0] = me == NULL;
	values[1] = fence ? CStringGetTextDatum(fence) : (Datum) 0;
	nulls[1] = fence == NULL;
	values[2] = Int64GetDatum(me ? local_writes(me) : 0);
	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* ---- checks against a peer */

void
anchor_read_membership(PGconn *conn, const char *peer, const char *me, PeerMembership *pm)
{
	const char *params[1] = {me};
	PGresult   *res = anchor_query(conn, peer,
								   "SELECT s.write_fence, s.own_writes, dht.origin_writes($1) "
								   "FROM dht._anchor_state() s", 1, params);

	pm->fence = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	pm->own_writes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	pm->writes_of_me = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	PQclear(res);
}

void
anchor_membership_of(const char *peer, const char *conninfo_in, const char *me, int max_timeout_ms,
					 PeerMembership *pm)
{
	int			timeout_ms;
	char	   *conninfo = anchor_normalise_conninfo(peer, conninfo_in, &timeout_ms);
	PGconn	   *conn = anchor_connect(peer, conninfo, Min(timeout_ms, max_timeout_ms));

	PG_TRY();
	{
		anchor_read_membership(conn, peer, me, pm);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
}

static void
refuse_fenced_peer(const char *peer, const char *fence)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("anchor \"%s\" is %s", peer,
					strcmp(fence, "leaving") == 0 || strcmp(fence, "left") == 0 ?
					"leaving the network" : "recovering its own rows"),
			 errhint("Add it once it is done: its dht.anchor_status() then shows no write fence.")));
}

static void
refuse_peer_behind(const char *peer, int64 theirs, int64 ours)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("anchor \"%s\" holds fewer of its own rows than this anchor does", peer),
			 errdetail("It holds %lld of its writes, this anchor %lld: it was rebuilt or restored from a backup.",
					   (long long) theirs, (long long) ours),
			 errhint("On \"%s\", run CALL dht.anchor_rejoin(); it copies them back, then asks this anchor to copy them again.",
					 peer)));
}

bool
anchor_check_membership(PGconn *conn, const char *peer, const char *conninfo,
						const char *me, bool rejoining)
{
	PeerMembership pm;
	int64		mine;

	anchor_read_membership(conn, peer, me, &pm);
	if (pm.fence != NULL)
		refuse_fenced_peer(peer, pm.fence);
	if (local_writes(peer) > pm.own_writes)
		refuse_peer_behind(peer, pm.own_writes, local_writes(peer));
	mine = local_writes(me);
	if (anchor_feed_tables_left(me) >= 0)
	{
		if (pm.writes_of_me > mine)
			ereport(NOTICE,
					(errmsg("this anchor is already copying its own rows back from anchor \"%s\"",
							anchor_feed_server(me))));
		return true;
	}
	if (pm.writes_of_me <= mine || rejoining)
		return false;
	if (mine > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" holds more of this anchor's own rows than it does", peer),
				 errdetail("It holds %lld of this anchor's writes, this anchor %lld: this anchor was restored from a backup or lost its last writes.",
						   (long long) pm.writes_of_me, (long long) mine),
				 errhint("Run CALL dht.anchor_rejoin(); it copies them back before this anchor writes again.")));
	anchor_set_fence(FENCE_RECOVERING);
	anchor_feed_create(conn, peer, conninfo, me, me);
	ereport(NOTICE,
			(errmsg("anchor \"%s\" holds %lld writes of this anchor's own rows: copying them back",
					peer, (long long) pm.writes_of_me),
			 errdetail("This anchor writes nothing under its name until the copy is done."),
			 errhint("CALL dht.anchor_rejoin(); waits for it and has the peers copy this anchor again.")));
	return true;
}

/* ---- the write fence */

/* A recovery whose copy is done ends at the next write (inside SPI). */
static bool
finish_recovery_if_done(const char *me)
{
	if (anchor_feed_tables_left(me) != 0)
		return false;
	anchor_feed_drop(me);
	anchor_set_fence(NULL);
	return true;
}

static void
refuse_write(const char *fence)
{
	if (strcmp(fence, FENCE_RECOVERING) == 0 || strcmp(fence, FENCE_REJOINING) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this anchor writes nothing under its name while it copies its own rows back"),
				 errdetail("A peer holds rows this anchor wrote before it was rebuilt or restored."),
				 errhint("Wait for the copy (dht.anchor_status() shows it), or run CALL dht.anchor_rejoin(); to finish it.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("this anchor has left the network and writes nothing"),
			 errhint("Drop the extension, or start again in a new database.")));
}

/* Compare this anchor's own writes with one peer's copy of them. */
static void
verify_against(const char *peer, const char *conninfo, const char *me, int64 mine)
{
	PeerMembership pm;

	anchor_membership_of(peer, conninfo, me, STATUS_TIMEOUT_MS, &pm);
	if (pm.writes_of_me > mine)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("this anchor is behind anchor \"%s\" on its own rows", peer),
				 errdetail("\"%s\" holds %lld of this anchor's writes, this anchor %lld: it was restored from a backup or rolled back.",
						   peer, (long long) pm.writes_of_me, (long long) mine),
				 errhint("Run CALL dht.anchor_rejoin(); it copies them back before this anchor writes again.")));
}

/* verify_against, an unreachable peer skipped (false); other errors raised. */
typedef struct VerifyArgs
{
	const char *peer;
	const char *conninfo;
	const char *me;
	int64		mine;
} VerifyArgs;

static void
verify_against_args(void *arg)
{
	VerifyArgs *v = arg;

	verify_against(v->peer, v->conninfo, v->me, v->mine);
}

static bool
try_verify_against(const char *peer, const char *conninfo, const char *me, int64 mine)
{
	VerifyArgs	v = {peer, conninfo, me, mine};
	ErrorData  *edata = anchor_try(verify_against_args, &v);

	if (edata == NULL)
		return true;
	if (edata->sqlerrcode != ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION &&
		edata->sqlerrcode != ERRCODE_CONNECTION_FAILURE)
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

/*
 * The first write after a server start: this anchor's own writes against
 * every enabled peer's copy of them.  All peers reached and none ahead: the
 * check is recorded; a peer that cannot be reached is checked again by the
 * next backend.
 */
static void
verify_own_rows(const char *me)
{
	int64		mine;
	bool		all = true;
	List	   *peers = NIL;
	List	   *conninfos = NIL;
	ListCell   *p,
			   *c;
	MemoryContext cxt = CurrentMemoryContext;

	SPI_connect();
	mine = local_writes(me);
	if (SPI_execute("SELECT substr(subname, 10), subconninfo FROM pg_catalog.pg_subscription "
					"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
					"                 WHERE datname = pg_catalog.current_database()) "
					"  AND subname LIKE 'dht\\_from\\_%' AND subenabled", true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the peers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		peers = lappend(peers, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		conninfos = lappend(conninfos, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		MemoryContextSwitchTo(old);
	}
	forboth(p, peers, c, conninfos)
		all &= try_verify_against(lfirst(p), lfirst(c), me, mine);
	if (all && SPI_execute("UPDATE dht.anchor_self SET verified_at = pg_catalog.now()", false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "smartlayer_dht: could not record the check of this anchor's rows");
	SPI_finish();
}

const char *
dht_write_origin(void)
{
	const char *origin = dht_origin();
	const char *fence;
	bool		verified;

	if (strcmp(origin, "local") == 0)
		return origin;
	dht_anchor_write_state(&fence, &verified);
	if (fence != NULL)
	{
		bool		done = false;

		if (strcmp(fence, FENCE_RECOVERING) == 0)
		{
			SPI_connect();
			done = finish_recovery_if_done(origin);
			SPI_finish();
		}
		if (!done)
			refuse_write(fence);
	}
	else if (!verified && !backend_verified)
	{
		verify_own_rows(origin);
		backend_verified = true;
	}
	return origin;
}

Datum
dht_write_origin_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(dht_write_origin()));
}

/* ---- dht.anchor_rejoin's steps */

/* The peers to rejoin: given, or this anchor's subscriptions. */
static void
rejoin_peers(ArrayType *names, ArrayType *conninfos, List **peers, List **cis)
{
	Datum	   *n,
			   *c;
	bool	   *nn,
			   *cn;
	int			nlen,
				clen;

	if (names == NULL)
	{
		if (SPI_execute("SELECT substr(subname, 10), subconninfo FROM pg_catalog.pg_subscription "
						"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
						"                 WHERE datname = pg_catalog.current_database()) "
						"  AND subname LIKE 'dht\\_from\\_%' ORDER BY 1", true, 0) < 0)
			elog(ERROR, "smartlayer_dht: could not read the peers");
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			*peers = lappend(*peers, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
			*cis = lappend(*cis, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		}
		return;
	}
	deconstruct_array(names, TEXTOID, -1, false, TYPALIGN_INT, &n, &nn, &nlen);
	if (conninfos == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("conninfos must be given with peers")));
	deconstruct_array(conninfos, TEXTOID, -1, false, TYPALIGN_INT, &c, &cn, &clen);
	if (nlen != clen || ARR_NDIM(names) > 1 || ARR_NDIM(conninfos) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("peers and conninfos must be one-dimensional arrays of the same length")));
	for (int i = 0; i < nlen; i++)
	{
		if (nn[i] || cn[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("peers and conninfos must not contain NULLs")));
		check_anchor_name(TextDatumGetCString(n[i]));
		*peers = lappend(*peers, TextDatumGetCString(n[i]));
		*cis = lappend(*cis, TextDatumGetCString(c[i]));
	}
}

/* Ask one peer how many of this anchor's own writes it holds; -1 if unreachable. */
typedef struct WritesArgs
{
	const char *peer;
	const char *conninfo;
	const char *me;
	int64		writes;
} WritesArgs;

static void
peer_writes_of_me_args(void *arg)
{
	WritesArgs *w = arg;
	PeerMembership pm;

	anchor_membership_of(w->peer, w->conninfo, w->me, STATUS_TIMEOUT_MS, &pm);
	w->writes = pm.writes_of_me;
}

static int64
peer_writes_of_me(const char *peer, const char *conninfo_in, const char *me)
{
	WritesArgs	w = {peer, conninfo_in, me, -1};
	ErrorData  *edata = anchor_try(peer_writes_of_me_args, &w);

	if (edata == NULL)
		return w.writes;
	ereport(WARNING,
			(errmsg("anchor \"%s\" cannot be reached: %s", peer, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0));
	FreeErrorData(edata);
	return -1;
}

Datum
anchor_rejoin_begin(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt = CurrentMemoryContext;
	List	   *peers = NIL;
	List	   *cis = NIL;
	ListCell   *p,
			   *c;
	char	   *me;
	char	   *fence;
	int			reached = 0;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	fence = anchor_text1("SELECT write_fence FROM dht.anchor_self", NULL);
	if (fence != NULL && (strcmp(fence, "leaving") == 0 || strcmp(fence, "left") == 0))
		refuse_write(fence);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		rejoin_peers(PG_ARGISNULL(0) ? NULL : PG_GETARG_ARRAYTYPE_P(0),
					 PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1), &peers, &cis);
		MemoryContextSwitchTo(old);
	}
	foreach(p, peers)
		if (strcmp(lfirst(p), me) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("anchor \"%s\" cannot be its own peer", me)));
	forboth(p, peers, c, cis)
	{
		int64		writes = peer_writes_of_me(lfirst(p), lfirst(c), me);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(lfirst(p));
		values[1] = CStringGetTextDatum(lfirst(c));
		values[2] = Int64GetDatum(Max(writes, 0));
		values[3] = BoolGetDatum(writes >= 0);
		reached += writes >= 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (reached == 0)
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("no peer of this anchor could be reached"),
				 errhint("Give the peers and their connection strings: CALL dht.anchor_rejoin(ARRAY['name'], ARRAY['host=...']);")));
	anchor_set_fence(FENCE_REJOINING);
	/* Peers' positions in this anchor's slots belong to the history it lost. */
	anchor_drop_local_slots(psprintf("dht\\_%s\\_%%", me));
	SPI_finish();
	return (Datum) 0;
}

Datum
anchor_rejoin_drop(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	if (anchor_has_subscription(anchor_subscription(peer)))
		anchor_drop_subscription(anchor_subscription(peer), peer);
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
anchor_rejoin_add(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo = anchor_text_arg(fcinfo, 1, "conninfo");

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	anchor_subscribe_peer(peer, conninfo, anchor_require_self(), SUBSCRIBE_REJOIN);
	SPI_finish();
	PG_RETURN_VOID();
}

/* Copy this anchor's own rows back from source, instead of what it has. */
Datum
anchor_rejoin_recover(PG_FUNCTION_ARGS)
{
	char	   *source = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo_in = anchor_text_arg(fcinfo, 1, "conninfo");
	char	   *me;
	char	   *conninfo;
	int			timeout_ms;
	PGconn	   *conn;

	check_anchor_name(source);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	if (anchor_feed_server(me) != NULL && strcmp(anchor_feed_server(me), source) == 0)
	{
		SPI_finish();			/* already copying them from there */
		PG_RETURN_VOID();
	}
	anchor_feed_drop(me);
	anchor_forget_origin_rows(me);
	conninfo = anchor_normalise_conninfo(source, conninfo_in, &timeout_ms);
	conn = anchor_connect(source, conninfo, timeout_ms);
	PG_TRY();
	{
		anchor_feed_create(conn, source, conninfo, me, me);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

Datum
anchor_rejoin_progress(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			left;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "smartlayer_dht: _rejoin_progress must return a row");
	SPI_connect();
	left = anchor_feed_tables_left(anchor_require_self());
	SPI_finish();
	values[0] = BoolGetDatum(left <= 0);
	values[1] = Int32GetDatum(Max(left, 0));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

Datum
anchor_rejoin_end(PG_FUNCTION_ARGS)
{
	char	   *me;

	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	if (anchor_feed_tables_left(me) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the copy of this anchor's own rows is not done")));
	anchor_feed_drop(me);
	anchor_set_fence(NULL);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Ask a peer to copy this anchor's rows again.  CALL through the simple
 * query protocol, at the peer's top level, as the procedure commits.  This
 * transaction has written nothing (no xid), so the slot the peer creates on
 * this anchor does not wait for it.
 */
Datum
anchor_ask_peer_refresh(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo_in = anchor_text_arg(fcinfo, 1, "conninfo");
	char	   *me;
	char	   *conninfo;
	int			timeout_ms;
	PGconn	   *conn;

	check_anchor_name(peer);
	SPI_connect();
	me = anchor_require_self();
	SPI_finish();
	conninfo = anchor_normalise_conninfo(peer, conninfo_in, &timeout_ms);
	conn = anchor_connect(peer, conninfo, timeout_ms);
	PG_TRY();
	{
		PQclear(anchor_simple_query(conn, peer,
									psprintf("CALL dht._refresh_peer(%s)", quote_literal_cstr(me))));
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	PG_RETURN_VOID();
}

/* ---- on a peer: copying a rejoined anchor's rows again */

Datum
anchor_refresh_peer_remove(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo;
	char	   *me;
	PeerMembership pm;

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	conninfo = anchor_text1("SELECT subconninfo FROM pg_catalog.pg_subscription "
							"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
							"WHERE datname = pg_catalog.current_database()) AND subname = $1",
							anchor_subscription(peer));
	if (conninfo == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("anchor \"%s\" is not a peer of anchor \"%s\"", peer, me)));
	anchor_membership_of(peer, conninfo, me, CONNECT_TIMEOUT_MS, &pm);
	if (pm.fence != NULL)
		refuse_fenced_peer(peer, pm.fence);
	if (local_writes(peer) > pm.own_writes)
		refuse_peer_behind(peer, pm.own_writes, local_writes(peer));
	anchor_drop_subscription(anchor_subscription(peer), peer);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(conninfo));
}

Datum
anchor_refresh_peer_add(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo = anchor_text_arg(fcinfo, 1, "conninfo");

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	anchor_subscribe_peer(peer, conninfo, anchor_require_self(), SUBSCRIBE_REFRESH);
	SPI_finish();
	PG_RETURN_VOID();
}
