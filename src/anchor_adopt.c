/*
 * anchor_adopt.c
 *	  dht.anchor_adopt(retired): a live anchor serves the rows of an anchor
 *	  that retired, so that anchors joining later receive them.
 *
 * A retired anchor's rows stay on the anchors that were its peers (they are
 * directory history: tokens it allocated, holders it chose), but nobody
 * publishes them, so an anchor that joins later would never hold them and
 * its digest would never match.  Adoption changes no row: the adopter
 * records (retired, adopter) in dht.anchor_adoptions, a replicated log, and
 * publishes the retired origin's rows in a feed publication of their own
 * (anchor_feed.c).  An anchor that adds the adopter as a peer reads the
 * adopter's adoptions and, for each retired origin it holds less of than the
 * adopter does, fetches it through a feed (anchor_fetch_adopted).  The
 * directory resolves the same rows as before, so it is the same before and
 * after adoption; two adopters of one anchor do not conflict, as a joining
 * anchor takes each origin from one server only.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "libpq-fe.h"
#include "utils/builtins.h"

#include "anchor.h"
#include "registry_cache.h"

PG_FUNCTION_INFO_V1(anchor_adopt);

/* Rows of an origin in every log table (inside SPI). */
static int64
origin_rows(const char *origin)
{
	int64		n = 0;

	for (int i = 0; i < anchor_log_table_count; i++)
	{
		char	   *v = anchor_text1(psprintf("SELECT count(*) FROM %s WHERE origin = $1",
											  anchor_log_tables[i]), origin);

		n += v ? strtoll(v, NULL, 10) : 0;
	}
	return n;
}

Datum
anchor_adopt(PG_FUNCTION_ARGS)
{
	char	   *retired = anchor_text_arg(fcinfo, 0, "anchor name");
	char	   *me;
	int64		rows;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	check_anchor_name(retired);
	SPI_connect();
	lock_anchor_config();
	me = anchor_require_self();
	if (strcmp(retired, me) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anchor \"%s\" cannot adopt itself", me)));
	anchor_feeds_settle(me);
	if (anchor_has_subscription(anchor_subscription(retired)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor \"%s\" is still a peer of this anchor", retired),
				 errhint("Retire it first: on every anchor, SELECT dht.anchor_remove_peer('%s');", retired)));
	rows = origin_rows(retired);
	if (rows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("this anchor holds no rows of anchor \"%s\"", retired)));
	(void) dht_write_origin();
	values[0] = CStringGetTextDatum(retired);
	values[1] = CStringGetTextDatum(me);
	if (SPI_execute_with_args("INSERT INTO dht.anchor_adoptions (retired, origin) VALUES ($1, $2) "
							  "ON CONFLICT DO NOTHING", 2, types, values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "smartlayer_dht: could not record the adoption");
	anchor_serve_origin_local(me, retired);
	SPI_finish();
	PG_RETURN_INT64(rows);
}

void
anchor_fetch_adopted(PGconn *conn, const char *peer, const char *conninfo, const char *me)
{
	const char *params[1] = {peer};
	PGresult   *res = anchor_query(conn, peer,
								   "SELECT a.retired, dht.origin_writes(a.retired) "
								   "FROM dht.anchor_adoptions a WHERE a.origin = $1 ORDER BY 1",
								   1, params);
	int			n = PQntuples(res);
	char	  **retired = palloc(sizeof(char *) * Max(n, 1));
	int64	   *writes = palloc(sizeof(int64) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		retired[i] = pstrdup(PQgetvalue(res, i, 0));
		writes[i] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	PQclear(res);
	for (int i = 0; i < n; i++)
	{
		char	   *have = anchor_text1("SELECT dht.origin_writes($1)", retired[i]);

		if (strcmp(retired[i], me) == 0 ||
			anchor_has_subscription(anchor_subscription(retired[i])) ||
			anchor_feed_tables_left(retired[i]) >= 0 ||
			(have != NULL && strtoll(have, NULL, 10) >= writes[i]))
			continue;
		anchor_feed_create(conn, peer, conninfo, retired[i], me);
		ereport(NOTICE,
				(errmsg("fetching the rows of retired anchor \"%s\" from anchor \"%s\", which adopted them",
						retired[i], peer)));
	}
}
