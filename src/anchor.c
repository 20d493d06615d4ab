/*
 * anchor.c
 *	  Anchor-to-anchor sync by PostgreSQL 15 logical replication:
 *	  dht.anchor_init, dht.anchor_add_peer, dht.anchor_remove_peer, and the
 *	  steps of dht.anchor_resume after an upgrade.
 *
 * Every replicated table is a per-origin event log (src/sql/50_directory.sql):
 * an anchor writes only rows whose origin is its own name, publishes exactly
 * those rows (a PG15 row filter, WHERE (origin = '<me>')) and subscribes to
 * every peer's publication.  No two anchors ever write the same row, so the
 * apply workers never meet a conflict, and since the read API resolves the
 * logs deterministically, anchors that hold the same rows show the same
 * directory: convergence holds by construction.  anchor.h lists the names;
 * anchor_remote.c holds the libpq and remote-slot machinery; the other
 * anchor_*.c files add membership over time (feeds of other origins,
 * adoption, recovery of a rebuilt or restored anchor, leaving).
 */
#include "smartlayer_dht.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "anchor.h"
#include "registry_cache.h"

PG_FUNCTION_INFO_V1(anchor_init);
PG_FUNCTION_INFO_V1(anchor_add_peer);
PG_FUNCTION_INFO_V1(anchor_remove_peer);
PG_FUNCTION_INFO_V1(anchor_unpause);
PG_FUNCTION_INFO_V1(anchor_check_ready);

/* ----------------------------------------------------------------------
 * dht.anchor_init(name text)
 * ---------------------------------------------------------------------- */

/* Whether this anchor's token sync is paused for an upgrade (inside SPI). */
static bool
sync_paused(void)
{
	char	   *v = anchor_text1("SELECT sync_paused::text FROM dht.anchor_self", NULL);

	return v != NULL && strcmp(v, "true") == 0;
}

static void
create_publication(const char *me)
{
	StringInfoData sql;
	const char *origin = quote_literal_cstr(me);

	bool		paused = sync_paused();
	int			n = 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE PUBLICATION %s FOR TABLE ",
					 quote_identifier(anchor_publication(me)));
	for (int i = 0; i < anchor_log_table_count; i++)
	{
		if (paused && anchor_table_paused(anchor_log_tables[i]))
			continue;
		appendStringInfo(&sql, "%s%s WHERE (origin = %s)",
						 n++ ? ", " : "", anchor_log_tables[i], origin);
	}
	appendStringInfoString(&sql, " WITH (publish = 'insert, update, delete')");
	anchor_exec(sql.data);
}

Datum
anchor_init(PG_FUNCTION_ARGS)
{
	char	   *name = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *current;

	check_anchor_name(name);
	if (wal_level < WAL_LEVEL_LOGICAL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchors need wal_level = logical"),
				 errdetail("The server runs with wal_level = %s.",
						   GetConfigOption("wal_level", false, false)),
				 errhint("Set wal_level = logical in postgresql.conf and restart the server.")));

	SPI_connect();
	lock_anchor_config();
	current = anchor_self_name();
	if (current != NULL && strcmp(current, name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor is already initialised as \"%s\"", current),
				 errdetail("An anchor's name is in the primary key of every row it wrote and cannot change.")));
	if (current == NULL)
	{
		/*
		 * Rows written before init become this anchor's, before anything is
		 * published (named first, so that they count as its own writes).
		 */
		(void) anchor_text1("INSERT INTO dht.anchor_self (name) VALUES ($1) RETURNING name", name);
		for (int i = 0; i < (int) anchor_log_table_count; i++)
		{
			char	   *sql = psprintf("UPDATE %s SET origin = $1 WHERE origin = 'local'",
									   anchor_log_tables[i]);
			Oid			types[1] = {TEXTOID};
			Datum		values[1] = {CStringGetTextDatum(name)};

			if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 0) < 0)
				elog(ERROR, "could not adopt the rows written before dht.anchor_init");
		}
	}
	/* Re-running init under the same name recreates a missing publication. */
	if (anchor_text1("SELECT pubname FROM pg_catalog.pg_publication WHERE pubname = $1",
				  anchor_publication(name)) == NULL)
		create_publication(name);
	else if (current != NULL)
		ereport(NOTICE,
				(errmsg("anchor is already initialised as \"%s\"", name)));
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * dht.anchor_add_peer(name text, conninfo text)
 * ---------------------------------------------------------------------- */

/* Refuse connections that a non-superuser caller could abuse (as dblink does). */
static void
check_password_used(PGconn *conn, const char *peer)
{
	if (superuser_arg(GetOuterUserId()) || PQconnectionUsedPassword(conn))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("password is required to connect to anchor \"%s\"", peer),
			 errdetail("Only a superuser may add a peer whose server does not ask for a password.")));
}

/*
 * Anchors must run the same version (binary replication of the same
 * types, the same row formats), and a peer whose token sync is paused for
 * an upgrade publishes no token rows yet: subscribing now would miss them.
 */
static void
check_peer_version(PGconn *conn, const char *peer)
{
	PGresult   *res = anchor_query(conn, peer,
								   "SELECT (SELECT extversion FROM pg_catalog.pg_extension "
								   "        WHERE extname = 'smartlayer_dht'), "
								   "       coalesce(pg_catalog.to_jsonb(s) ->> 'sync_paused', 'false') "
								   "FROM dht.anchor_self s", 0, NULL);
	char	   *theirs = PQntuples(res) > 0 ? pstrdup(PQgetvalue(res, 0, 0)) : pstrdup("?");
	bool		paused = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 1), "true") == 0;
	char	   *ours = anchor_text1("SELECT extversion FROM pg_catalog.pg_extension "
								 "WHERE extname = 'smartlayer_dht'", NULL);

	PQclear(res);
	if (ours == NULL || strcmp(theirs, ours) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" runs smartlayer_dht %s, this anchor %s", peer, theirs,
						ours ? ours : "?"),
				 errhint("Run ALTER EXTENSION smartlayer_dht UPDATE on the older anchor first.")));
	if (paused)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" has paused its token sync for an upgrade", peer),
				 errhint("Run CALL dht.anchor_resume(); on that anchor first.")));
}

/*
 * Check that the server behind conn is the anchor named peer and publishes;
 * returns whether our slot's name is taken there already.
 */
static bool
check_peer(PGconn *conn, const char *peer, const char *slot)
{
	const char *params[2] = {anchor_publication(peer), slot};
	PGresult   *res;
	char	   *remote_name;
	bool		has_pub;
	bool		has_slot;

	res = anchor_query(conn, peer,
					   "SELECT pg_catalog.to_regclass('dht.anchor_self') IS NOT NULL", 0, NULL);
	if (PQgetvalue(res, 0, 0)[0] != 't')
	{
		PQclear(res);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the database at that address has no smartlayer_dht anchor"),
				 errhint("Check the dbname in the connection string, and run CREATE EXTENSION smartlayer_dht and dht.anchor_init there.")));
	}
	PQclear(res);
	res = anchor_query(conn, peer,
					   "SELECT (SELECT name FROM dht.anchor_self), "
					   "EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = $1), "
					   "EXISTS (SELECT FROM pg_catalog.pg_replication_slots WHERE slot_name = $2)",
					   2, params);
	remote_name = PQgetisnull(res, 0, 0) ? NULL : pstrdup(PQgetvalue(res, 0, 0));
	has_pub = PQgetvalue(res, 0, 1)[0] == 't';
	has_slot = PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);

	if (remote_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" is not initialised", peer),
				 errhint("Run SELECT dht.anchor_init('%s'); on that anchor first.", peer)));
	if (strcmp(remote_name, peer) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the anchor at that address is \"%s\", not \"%s\"", remote_name, peer)));
	if (!has_pub)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" has no publication \"%s\"", peer, anchor_publication(peer)),
				 errhint("Run SELECT dht.anchor_init('%s'); on that anchor again to recreate it.", peer)));
	check_peer_version(conn, peer);
	return has_slot;
}

/*
 * binary = true: changes travel in the types' binary formats (dht.key as its
 * 32 bytes, timestamps as integers), which makes apply about a quarter
 * faster than parsing text.  It needs the same types on both sides, which
 * anchors have (the same extension); no log table has an array of an
 * extension type, whose binary form would carry a server-local type oid.
 */
static void
create_subscription(const char *peer, const char *conninfo, const char *slot)
{
	char	   *sql;

	sql = psprintf("CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s "
				   "WITH (create_slot = false, slot_name = %s, copy_data = true, enabled = true, "
				   "binary = true)",
				   quote_identifier(anchor_subscription(peer)),
				   quote_literal_cstr(conninfo),
				   quote_identifier(anchor_publication(peer)),
				   quote_literal_cstr(slot));
	anchor_exec(sql);
}

/*
 * Our slot's name is taken on the peer.  An anchor that is recovering or
 * rejoining knows it is the slot of its former self, and drops it unless a
 * server uses it; otherwise it is someone's, and the caller is told.
 */
static void
settle_taken_slot(PGconn *conn, const char *peer, const char *slot, bool former_self)
{
	const char *params[1] = {slot};

	if (former_self)
	{
		PQclear(anchor_query(conn, peer,
							 "SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
							 "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1 AND NOT active",
							 1, params));
		if (anchor_query_text(conn, peer, "SELECT slot_name::text FROM pg_catalog.pg_replication_slots "
							  "WHERE slot_name = $1", 1, params) == NULL)
			return;
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("replication slot \"%s\" on anchor \"%s\" is in use", slot, peer),
				 errdetail("Another server may still run as this anchor.")));
	}
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("replication slot \"%s\" already exists on anchor \"%s\"", slot, peer),
			 errdetail("It is left over from an earlier subscription of this anchor, or another database on this server uses the same anchor name."),
			 errhint("If it is unused, drop it on that anchor: SELECT pg_drop_replication_slot('%s');", slot)));
}

/*
 * The steps after the argument checks, also run by dht.anchor_rejoin and by
 * a peer that rejoined (anchor_recover.c).  The membership checks run
 * before anything is created on the peer; the feeds of a recovery or of
 * adopted origins after the subscription, in the same transaction.
 */
void
anchor_subscribe_peer(const char *peer, const char *conninfo_in, const char *me, SubscribeMode mode)
{
	char	   *conninfo;
	char	   *slot;
	int			timeout_ms;
	PGconn	   *conn;

	if (anchor_has_subscription(anchor_subscription(peer)))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("anchor \"%s\" is already a peer", peer),
				 errhint("To change its connection, remove it with dht.anchor_remove_peer and add it again.")));
	conninfo = anchor_normalise_conninfo(peer, conninfo_in, &timeout_ms);
	slot = anchor_slot_name(peer, me);
	conn = anchor_connect(peer, conninfo, timeout_ms);
	PG_TRY();
	{
		bool		slot_taken;
		bool		recovering;

		if (mode != SUBSCRIBE_REFRESH)
			check_password_used(conn, peer);
		slot_taken = check_peer(conn, peer, slot);
		recovering = anchor_check_membership(conn, peer, conninfo, me, mode != SUBSCRIBE_ADD);
		if (slot_taken)
			settle_taken_slot(conn, peer, slot, recovering || mode != SUBSCRIBE_ADD);
		anchor_create_remote_slot(conn, peer, conninfo, slot);
		anchor_forget_origin_rows(peer);
		create_subscription(peer, conninfo, slot);
		anchor_fetch_adopted(conn, peer, conninfo, me);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
}

Datum
anchor_add_peer(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo_in = anchor_text_arg(fcinfo, 1, "conninfo");
	char	   *me;

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	if (strcmp(peer, me) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anchor \"%s\" cannot be its own peer", peer)));
	anchor_feeds_settle(me);
	anchor_subscribe_peer(peer, conninfo_in, me, SUBSCRIBE_ADD);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * dht.anchor_remove_peer(name text)
 * ---------------------------------------------------------------------- */

Datum
anchor_remove_peer(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	anchor_feeds_settle(anchor_require_self());
	if (!anchor_has_subscription(anchor_subscription(peer)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("anchor \"%s\" is not a peer", peer)));
	anchor_drop_subscription(anchor_subscription(peer), peer);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * After an upgrade: dht._anchor_unpause(), dht._anchor_check_ready()
 * (called by the procedure dht.anchor_resume in 70_anchor.sql)
 * ---------------------------------------------------------------------- */

/* Publish the token rows, the 0.2.0 tables and every SLA class column again; clear the pause. */
Datum
anchor_unpause(PG_FUNCTION_ARGS)
{
	char	   *me;

	SPI_connect();
	lock_anchor_config();
	me = anchor_self_name();
	if (me != NULL && sync_paused())
	{
		if (anchor_text1("SELECT pubname FROM pg_catalog.pg_publication WHERE pubname = $1",
					  anchor_publication(me)) != NULL &&
			anchor_text1("SELECT tablename::text FROM pg_catalog.pg_publication_tables "
					  "WHERE schemaname = 'dht' AND tablename = 'token_log' AND pubname = $1",
					  anchor_publication(me)) == NULL)
		{
			for (int i = 0; i < anchor_log_table_count; i++)
				if (anchor_table_paused(anchor_log_tables[i]))
					anchor_exec(psprintf("ALTER PUBLICATION %s ADD TABLE %s WHERE (origin = %s)",
										 quote_identifier(anchor_publication(me)), anchor_log_tables[i],
										 quote_literal_cstr(me)));
			/* every column of dht.sla_log again (the upgrade published 0.1.0's) */
			anchor_exec(psprintf("ALTER PUBLICATION %s DROP TABLE dht.sla_log",
							  quote_identifier(anchor_publication(me))));
			anchor_exec(psprintf("ALTER PUBLICATION %s ADD TABLE dht.sla_log WHERE (origin = %s)",
							  quote_identifier(anchor_publication(me)), quote_literal_cstr(me)));
		}
		anchor_exec("UPDATE dht.anchor_self SET sync_paused = false");
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* ERROR unless the peer answers, is that anchor, runs our version and is not paused. */
Datum
anchor_check_ready(PG_FUNCTION_ARGS)
{
	char	   *peer = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *conninfo_in = anchor_text_arg(fcinfo, 1, "conninfo");
	int			timeout_ms;
	char	   *conninfo;
	PGconn	   *conn;

	check_anchor_name(peer);
	conninfo = anchor_normalise_conninfo(peer, conninfo_in, &timeout_ms);
	SPI_connect();
	conn = anchor_connect(peer, conninfo, timeout_ms);
	PG_TRY();
	{
		PGresult   *res = anchor_query(conn, peer, "SELECT name FROM dht.anchor_self", 0, NULL);
		bool		same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), peer) == 0;

		PQclear(res);
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the server at that address is not anchor \"%s\"", peer)));
		check_peer_version(conn, peer);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_VOID();
}

