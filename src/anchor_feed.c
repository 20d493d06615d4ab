/*
 * anchor_feed.c
 *	  Feeds: fetching the rows of one origin from an anchor that holds them,
 *	  when that origin cannot publish them itself.
 *
 * An anchor publishes only its own rows (dht_<me>), which is what keeps
 * replication between anchors free of loops and conflicts.  Two cases need
 * another origin's rows from someone else: an anchor that joins after
 * another retired needs the retired anchor's rows from the anchor that
 * adopted them (anchor_adopt.c), and an anchor rebuilt or restored under its
 * old name needs its own former rows back from a peer (anchor_recover.c).
 * The server then publishes that origin's rows in a publication of their
 * own, dhr_<server>_<origin> (dht._serve_origin, which the fetching anchor
 * calls over its replication connection), and the fetching anchor
 * subscribes to it as dht_feed_<origin>, slot dhr_<origin>_<me> on the
 * server, with an initial copy.  One feed per origin: the fetching anchor
 * takes an origin from one server only, so two adopters of one anchor never
 * send it the same rows twice.  A retired anchor's rows no longer change and
 * a recovering anchor's own rows change only once it writes again, so a
 * feed is dropped once its copy is done: a recovery's when it ends, a
 * retired origin's at the next anchor configuration call (anchor_feeds_settle).
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "utils/builtins.h"

#include "anchor.h"

PG_FUNCTION_INFO_V1(anchor_serve_origin);

char *
anchor_feed_publication(const char *server, const char *origin)
{
	return psprintf("dhr_%s_%s", server, origin);
}

char *
anchor_feed_subscription(const char *origin)
{
	return psprintf("dht_feed_%s", origin);
}

/* Publish an origin's rows from this anchor, if not yet (inside SPI). */
void
anchor_serve_origin_local(const char *me, const char *origin)
{
	StringInfoData sql;
	char	   *pub = anchor_feed_publication(me, origin);

	if (anchor_text1("SELECT pubname::text FROM pg_catalog.pg_publication WHERE pubname = $1", pub) != NULL)
		return;
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE PUBLICATION %s FOR TABLE ", quote_identifier(pub));
	for (int i = 0; i < anchor_log_table_count; i++)
		appendStringInfo(&sql, "%s%s WHERE (origin = %s)", i ? ", " : "",
						 anchor_log_tables[i], quote_literal_cstr(origin));
	appendStringInfoString(&sql, " WITH (publish = 'insert, update, delete')");
	anchor_exec(sql.data);
}

/* dht._serve_origin(origin): what a fetching anchor calls on its server. */
Datum
anchor_serve_origin(PG_FUNCTION_ARGS)
{
	char	   *origin = anchor_text_arg(fcinfo, 0, "origin");
	char	   *me;

	check_anchor_name(origin);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	if (strcmp(origin, me) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anchor \"%s\" publishes its own rows as %s", me, anchor_publication(me))));
	anchor_serve_origin_local(me, origin);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(anchor_feed_publication(me, origin)));
}

/*
 * Fetch origin's rows from server (conn is connected to it): this anchor's
 * copy of them is dropped first, as the initial copy brings them all.
 */
void
anchor_feed_create(PGconn *conn, const char *server, const char *conninfo,
				   const char *origin, const char *me)
{
	const char *params[1] = {origin};
	char	   *pub = anchor_query_text(conn, server, "SELECT dht._serve_origin($1)", 1, params);
	char	   *slot = psprintf("dhr_%s_%s", origin, me);

	anchor_create_remote_slot(conn, server, conninfo, slot);
	anchor_forget_origin_rows(origin);
	anchor_exec(psprintf("CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s "
						 "WITH (create_slot = false, slot_name = %s, copy_data = true, "
						 "enabled = true, binary = true)",
						 quote_identifier(anchor_feed_subscription(origin)),
						 quote_literal_cstr(conninfo), quote_identifier(pub),
						 quote_literal_cstr(slot)));
}

/* The server of origin's feed, or NULL if there is none. */
char *
anchor_feed_server(const char *origin)
{
	char	   *slot = anchor_text1("SELECT subslotname::text FROM pg_catalog.pg_subscription "
									"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
									"WHERE datname = pg_catalog.current_database()) AND subname = $1",
									anchor_feed_subscription(origin));
	char	   *pub;

	if (slot == NULL)
		return NULL;
	pub = anchor_text1("SELECT subpublications[1] FROM pg_catalog.pg_subscription "
					   "WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
					   "WHERE datname = pg_catalog.current_database()) AND subname = $1",
					   anchor_feed_subscription(origin));
	/* dhr_<server>_<origin> */
	return pnstrdup(pub + 4, strlen(pub) - 4 - strlen(origin) - 1);
}

/*
 * Tables of origin's feed still being copied: 0 once the copy is done,
 * -1 if there is no such feed.
 */
int
anchor_feed_tables_left(const char *origin)
{
	char	   *n = anchor_text1("SELECT (SELECT count(*) FROM pg_catalog.pg_subscription_rel r "
								 "        WHERE r.srsubid = s.oid AND r.srsubstate <> 'r') "
								 "FROM pg_catalog.pg_subscription s "
								 "WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database "
								 "WHERE datname = pg_catalog.current_database()) AND s.subname = $1",
								 anchor_feed_subscription(origin));

	return n == NULL ? -1 : atoi(n);
}

/* Drop origin's feed (its slot on the server goes once this commits). */
void
anchor_feed_drop(const char *origin)
{
	char	   *server = anchor_feed_server(origin);

	if (server != NULL)
		anchor_drop_subscription(anchor_feed_subscription(origin), server);
}

/* Drop the feeds of other origins whose copy is done (inside SPI). */
void
anchor_feeds_settle(const char *me)
{
	List	   *origins = NIL;
	ListCell   *lc;

	if (SPI_execute("SELECT substr(subname, 10) FROM pg_catalog.pg_subscription "
					"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
					"                 WHERE datname = pg_catalog.current_database()) "
					"  AND subname LIKE 'dht\\_feed\\_%'", true, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not read the feeds");
	for (uint64 i = 0; i < SPI_processed; i++)
		origins = lappend(origins, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	foreach(lc, origins)
		if (strcmp(lfirst(lc), me) != 0 && anchor_feed_tables_left(lfirst(lc)) == 0)
			anchor_feed_drop(lfirst(lc));
}
