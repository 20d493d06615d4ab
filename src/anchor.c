/*
 * anchor.c
 *	  Anchor-to-anchor sync by PostgreSQL 15 logical replication.
 *
 * Every replicated table is a per-origin event log (src/sql/50_directory.sql):
 * an anchor writes only rows whose origin is its own name, publishes exactly
 * those rows (a PG15 row filter, WHERE (origin = '<me>')) and subscribes to
 * every peer's publication.  No two anchors ever write the same row, so the
 * apply workers never meet a conflict, and since the read API is a set of
 * views that resolve the logs deterministically, anchors that hold the same
 * rows show the same directory: convergence holds by construction.
 *
 * Names (an anchor name is ^[a-z][a-z0-9_]{0,28}$):
 *	  publication  dht_<me>                  on each anchor
 *	  subscription dht_from_<peer>           on each anchor, one per peer
 *	  slot         dht_<peer>_<me>           on the peer (slots are cluster-wide,
 *	                                         so both names are in it; 63 bytes max)
 *
 * CREATE SUBSCRIPTION cannot create its slot inside a transaction block (nor
 * from a function), so anchor_add_peer creates the slot on the peer itself,
 * through libpq, and subscribes with create_slot = false.  The slot is then a
 * remote side effect that a rollback would not undo, so it is registered with
 * a (sub)transaction callback that drops it again if the transaction (or the
 * savepoint) that created it aborts.  anchor_remove_peer detaches the slot
 * from the subscription (slot_name = NONE, which DROP SUBSCRIPTION accepts
 * inside a transaction) and drops the remote slot once the transaction has
 * committed.  Remote work in those callbacks never raises an error: it only
 * warns, naming the slot to drop by hand.
 *
 * Remote calls made while the backend runs normally are interruptible: they
 * use libpq's asynchronous API and wait on the process latch, like core's
 * libpqwalreceiver, and a cancelled query is cancelled on the peer too.
 */
#include "smartlayer_dht.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_subscription.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "replication/origin.h"
#include "replication/worker_internal.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "registry_cache.h"

PG_FUNCTION_INFO_V1(anchor_init);
PG_FUNCTION_INFO_V1(anchor_add_peer);
PG_FUNCTION_INFO_V1(anchor_remove_peer);
PG_FUNCTION_INFO_V1(anchor_status);
PG_FUNCTION_INFO_V1(anchor_unpause);
PG_FUNCTION_INFO_V1(anchor_check_ready);

#define ANCHOR_NAME_MAX		29	/* "dht_" + 29 + "_" + 29 = 63 = NAMEDATALEN - 1 */
#define CONNECT_TIMEOUT_MS	15000	/* add_peer, unless conninfo says otherwise */
#define STATUS_TIMEOUT_MS	3000	/* anchor_status: a peer that slow is down */
#define CALLBACK_TIMEOUT_S	"5"		/* slot drops from transaction callbacks */

/* The replicated log tables, in publication order. */
static const char *const log_tables[] = {
	"dht.sla_log", "dht.node_log", "dht.node_state_log",
	"dht.epoch_log", "dht.token_log"
};

/* The table whose rows change format in upgrades (see dht.anchor_resume). */
#define TOKEN_TABLE "dht.token_log"

/* ----------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

static void
check_anchor_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > ANCHOR_NAME_MAX || name[0] < 'a' || name[0] > 'z' ||
		strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid anchor name \"%s\"", name),
				 errdetail("An anchor name is a lower-case letter followed by at most %d lower-case letters, digits or underscores.",
						   ANCHOR_NAME_MAX - 1)));
	if (strcmp(name, "local") == 0 || strcmp(name, "genesis") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anchor name \"%s\" is reserved", name),
				 errdetail("\"local\" names rows written before dht.anchor_init and \"genesis\" the built-in epoch 0.")));
}

static char *
text_arg_cstring(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static inline char *
publication_name(const char *anchor)
{
	return psprintf("dht_%s", anchor);
}

static inline char *
subscription_name(const char *peer)
{
	return psprintf("dht_from_%s", peer);
}

static inline char *
slot_name_for(const char *peer, const char *me)
{
	return psprintf("dht_%s_%s", peer, me);
}

/* ----------------------------------------------------------------------
 * SPI helpers (callers have done SPI_connect)
 * ---------------------------------------------------------------------- */

static void
spi_exec(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* First column of the first row as a palloc'd string, NULL if none. */
static char *
spi_text1(const char *sql, const char *arg)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			rc;

	values[0] = arg ? CStringGetTextDatum(arg) : (Datum) 0;
	rc = SPI_execute_with_args(sql, arg ? 1 : 0, argtypes, values, NULL, false, 1);
	if (rc < 0)
		elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* This anchor's name, or NULL before dht.anchor_init. */
static char *
self_name(void)
{
	return spi_text1("SELECT name FROM dht.anchor_self", NULL);
}

static char *
require_self_name(void)
{
	char	   *me = self_name();

	if (me == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor is not initialised"),
				 errhint("Name this anchor first: SELECT dht.anchor_init('name');")));
	return me;
}

/* Serialise init, add_peer and remove_peer on this anchor. */
static void
lock_anchor_config(void)
{
	spi_exec("LOCK TABLE dht.anchor_self IN SHARE ROW EXCLUSIVE MODE");
}

/* ----------------------------------------------------------------------
 * Connection strings
 * ---------------------------------------------------------------------- */

/* Append value quoted for a keyword=value connection string. */
static void
append_conninfo_value(StringInfo buf, const char *value)
{
	appendStringInfoChar(buf, '\'');
	for (const char *p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/*
 * Parse conninfo (keyword=value or URI) and return it as a keyword=value
 * string with a connect_timeout (so that a subscription's worker and DROP
 * SUBSCRIPTION never wait forever on a black-holed peer).  *timeout_ms gets
 * the timeout to use for our own connection.
 */
static char *
normalise_conninfo(const char *peer, const char *conninfo, int *timeout_ms)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	StringInfoData buf;
	bool		have_timeout = false;

	if (opts == NULL)
	{
		char	   *msg = err ? pstrdup(err) : pstrdup("out of memory");
		size_t		len = strlen(msg);

		if (err)
			PQfreemem(err);
		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("invalid connection string for anchor \"%s\"", peer),
				 errdetail("%s", msg)));
	}
	*timeout_ms = CONNECT_TIMEOUT_MS;
	initStringInfo(&buf);
	for (PQconninfoOption *o = opts; o->keyword; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0)
		{
			int			s = atoi(o->val);

			have_timeout = true;
			if (s > 0)
				*timeout_ms = (s < 2 ? 2 : s) * 1000;
		}
		if (buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		appendStringInfo(&buf, "%s=", o->keyword);
		append_conninfo_value(&buf, o->val);
	}
	PQconninfoFree(opts);
	if (!have_timeout)
		appendStringInfo(&buf, "%sconnect_timeout=%d", buf.len ? " " : "",
						 CONNECT_TIMEOUT_MS / 1000);
	return buf.data;
}

/* ----------------------------------------------------------------------
 * Interruptible libpq (used outside transaction callbacks)
 * ---------------------------------------------------------------------- */

static char *
conn_error(PGconn *conn)
{
	char	   *msg = pstrdup(PQerrorMessage(conn));
	size_t		len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	return msg;
}

/*
 * Wait until the socket is ready or the deadline passes; false on timeout.
 * Interrupts are serviced (a cancel raises an error here).
 */
static bool
wait_socket(PGconn *conn, int io_flag, TimestampTz deadline)
{
	long		ms = -1;
	int			events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | io_flag;
	int			rc;

	if (deadline != 0)
	{
		ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (ms <= 0)
			return false;
		events |= WL_TIMEOUT;
	}
	rc = WaitLatchOrSocket(MyLatch, events, PQsocket(conn), ms, PG_WAIT_EXTENSION);
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return true;
}

/*
 * Connect to a peer; on failure (or timeout) raise 08001 naming the peer,
 * with libpq's message.  The caller owns the connection and must PQfinish it
 * on every path (PG_FINALLY).
 */
static PGconn *
remote_connect(const char *peer, const char *conninfo, int timeout_ms)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {conninfo, "smartlayer_dht", NULL};
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	PGconn	   *conn = PQconnectStartParams(keys, vals, true);
	PostgresPollingStatusType status = PGRES_POLLING_WRITING;
	char	   *msg = NULL;

	if (conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory connecting to anchor \"%s\"", peer)));
	PG_TRY();
	{
		if (PQstatus(conn) == CONNECTION_BAD)
			status = PGRES_POLLING_FAILED;
		while (status != PGRES_POLLING_OK && status != PGRES_POLLING_FAILED)
		{
			int			io = status == PGRES_POLLING_READING ?
				WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE;

			if (!wait_socket(conn, io, deadline))
			{
				msg = psprintf("timeout expired after %d ms", timeout_ms);
				break;
			}
			status = PQconnectPoll(conn);
		}
		if (msg == NULL && status != PGRES_POLLING_OK)
			msg = conn_error(conn);
	}
	PG_CATCH();
	{
		PQfinish(conn);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (msg != NULL)
	{
		PQfinish(conn);
		ereport(ERROR,
				(errcode(ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION),
				 errmsg("could not connect to anchor \"%s\"", peer),
				 errdetail("%s", msg)));
	}
	return conn;
}

/* Tell the peer to cancel what this connection is running; best effort. */
static void
remote_cancel(PGconn *conn)
{
	PGcancel   *cancel = PQgetCancel(conn);
	char		errbuf[256];

	if (cancel)
	{
		(void) PQcancel(cancel, errbuf, sizeof(errbuf));
		PQfreeCancel(cancel);
	}
}

/*
 * Run a query with text parameters and wait for its result, servicing
 * interrupts (a cancel here cancels the query on the peer too).  On a
 * remote error, raise it with the peer's SQLSTATE and message.
 */
static PGresult *
remote_query(PGconn *conn, const char *peer, const char *sql,
			 int nparams, const char *const *params)
{
	PGresult   *volatile last = NULL;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
	{
		char	   *msg = conn_error(conn);

		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not send a query to anchor \"%s\"", peer),
				 errdetail("%s", msg)));
	}
	PG_TRY();
	{
		for (;;)
		{
			PGresult   *res;

			while (PQisBusy(conn))
			{
				(void) wait_socket(conn, WL_SOCKET_READABLE, 0);
				if (!PQconsumeInput(conn))
					break;
			}
			res = PQgetResult(conn);
			if (res == NULL)
				break;
			PQclear(last);
			last = res;
			if (PQstatus(conn) == CONNECTION_BAD)
				break;
		}
	}
	PG_CATCH();
	{
		remote_cancel(conn);
		PQclear(last);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (last == NULL || (PQresultStatus(last) != PGRES_TUPLES_OK &&
						 PQresultStatus(last) != PGRES_COMMAND_OK))
	{
		const char *state = last ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
		char	   *msg = last ? pstrdup(PQresultErrorMessage(last)) : conn_error(conn);
		int			code = ERRCODE_CONNECTION_FAILURE;
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		if (state && strlen(state) == 5)
			code = MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4]);
		PQclear(last);
		ereport(ERROR,
				(errcode(code),
				 errmsg("query on anchor \"%s\" failed", peer),
				 errdetail("%s", msg)));
	}
	return last;
}

/* ----------------------------------------------------------------------
 * Remote slots whose fate depends on how this transaction ends
 * ---------------------------------------------------------------------- */

typedef enum SlotAction
{
	DROP_ON_ABORT,				/* created by anchor_add_peer */
	DROP_ON_COMMIT,				/* released by anchor_remove_peer */
	RESTORE_ORIGIN_ON_ABORT		/* progress of a subscription dropped by it */
} SlotAction;

typedef struct PendingSlot
{
	struct PendingSlot *next;
	SlotAction	action;
	SubTransactionId subid;		/* the (sub)transaction it belongs to */
	char	   *peer;
	char	   *conninfo;
	char	   *slot;
	RepOriginId origin;			/* RESTORE_ORIGIN_ON_ABORT: the origin ... */
	XLogRecPtr	origin_lsn;		/* ... and how far it had applied */
} PendingSlot;

static PendingSlot *pending_slots = NULL;
static bool callbacks_registered = false;

/*
 * Drop a slot on a peer from a transaction callback: blocking libpq with a
 * connect timeout, never an ERROR (we may be committing or aborting), and a
 * WARNING naming the slot when it cannot be done.  A walsender still
 * attached to the slot (the subscription's worker was just stopped) is
 * terminated, then the drop retried.
 */
static void
drop_remote_slot_quietly(const PendingSlot *p)
{
	const char *keys[] = {"dbname", "connect_timeout", "fallback_application_name", NULL};
	const char *vals[] = {p->conninfo, CALLBACK_TIMEOUT_S, "smartlayer_dht", NULL};
	const char *params[1] = {p->slot};
	PGconn	   *conn = PQconnectdbParams(keys, vals, true);
	char		why[512] = "";

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		snprintf(why, sizeof(why), "%s", conn ? PQerrorMessage(conn) : "out of memory");
	else
	{
		for (int attempt = 0; attempt < 20; attempt++)
		{
			PGresult   *res;

			res = PQexecParams(conn,
							   "SELECT pg_catalog.pg_terminate_backend(active_pid) "
							   "FROM pg_catalog.pg_replication_slots "
							   "WHERE slot_name = $1 AND active_pid IS NOT NULL",
							   1, NULL, params, NULL, NULL, 0);
			PQclear(res);
			res = PQexecParams(conn,
							   "SELECT pg_catalog.pg_drop_replication_slot(slot_name) "
							   "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
							   1, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
			{
				PQclear(res);
				why[0] = '\0';
				break;
			}
			snprintf(why, sizeof(why), "%s", PQresultErrorMessage(res));
			PQclear(res);
			pg_usleep(250 * 1000L);
		}
	}
	if (conn)
		PQfinish(conn);
	if (why[0] != '\0')
	{
		size_t		len = strlen(why);

		while (len > 0 && why[len - 1] == '\n')
			why[--len] = '\0';
		ereport(WARNING,
				(errmsg("could not drop replication slot \"%s\" on anchor \"%s\"",
						p->slot, p->peer),
				 errdetail("%s", why),
				 errhint("Drop it by hand on that anchor: SELECT pg_drop_replication_slot('%s');",
						 p->slot)));
	}
}

/*
 * DROP SUBSCRIPTION forgets the subscription's replication progress at
 * once, in shared memory, while the catalog rows come back if the
 * transaction rolls back.  The worker that then restarts would ask the
 * peer for everything after the slot's confirmed position, which lags
 * what was applied, and stop on the first row it applies twice.  So a
 * rolled-back anchor_remove_peer puts the progress back (WAL-logged, like
 * pg_replication_origin_advance) before the launcher restarts the worker.
 */
static void
restore_origin_progress(const PendingSlot *p)
{
	replorigin_advance(p->origin, p->origin_lsn, InvalidXLogRecPtr, false, true);
}

/* Undo or complete one pending action as its (sub)transaction ends. */
static void
settle_pending(const PendingSlot *p, bool commit)
{
	if (commit && p->action == DROP_ON_COMMIT)
		drop_remote_slot_quietly(p);
	else if (!commit && p->action == DROP_ON_ABORT)
		drop_remote_slot_quietly(p);
	else if (!commit && p->action == RESTORE_ORIGIN_ON_ABORT)
		restore_origin_progress(p);
}

static void
free_pending(PendingSlot *p)
{
	pfree(p->peer);
	pfree(p->conninfo);
	pfree(p->slot);
	pfree(p);
}

/* Settle every pending slot of the top transaction. */
static void
anchor_xact_callback(XactEvent event, void *arg)
{
	PendingSlot *p;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (pending_slots != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that has added or removed an anchor peer")));
			return;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			break;
		default:
			return;
	}
	while ((p = pending_slots) != NULL)
	{
		bool		commit = (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT);

		pending_slots = p->next;
		settle_pending(p, commit);
		free_pending(p);
	}
}

/* A savepoint that aborts takes its slots with it; one that commits hands them up. */
static void
anchor_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	PendingSlot **link = &pending_slots;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	while (*link != NULL)
	{
		PendingSlot *p = *link;

		if (p->subid != mySubid)
		{
			link = &p->next;
			continue;
		}
		if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			p->subid = parentSubid;
			link = &p->next;
			continue;
		}
		*link = p->next;
		settle_pending(p, false);
		free_pending(p);
	}
}

static PendingSlot *
add_pending(SlotAction action, const char *peer, const char *conninfo, const char *slot)
{
	PendingSlot *p = MemoryContextAlloc(TopMemoryContext, sizeof(PendingSlot));

	if (!callbacks_registered)
	{
		RegisterXactCallback(anchor_xact_callback, NULL);
		RegisterSubXactCallback(anchor_subxact_callback, NULL);
		callbacks_registered = true;
	}
	p->action = action;
	p->subid = GetCurrentSubTransactionId();
	p->peer = MemoryContextStrdup(TopMemoryContext, peer);
	p->conninfo = MemoryContextStrdup(TopMemoryContext, conninfo);
	p->slot = MemoryContextStrdup(TopMemoryContext, slot);
	p->origin = InvalidRepOriginId;
	p->origin_lsn = InvalidXLogRecPtr;
	p->next = pending_slots;
	pending_slots = p;
	return p;
}

static void
forget_pending(PendingSlot *target)
{
	for (PendingSlot **link = &pending_slots; *link; link = &(*link)->next)
	{
		if (*link == target)
		{
			*link = target->next;
			free_pending(target);
			return;
		}
	}
}

/* ----------------------------------------------------------------------
 * dht.anchor_init(name text)
 * ---------------------------------------------------------------------- */

/* Whether this anchor's token sync is paused for an upgrade (inside SPI). */
static bool
sync_paused(void)
{
	char	   *v = spi_text1("SELECT sync_paused::text FROM dht.anchor_self", NULL);

	return v != NULL && strcmp(v, "true") == 0;
}

static void
create_publication(const char *me)
{
	StringInfoData sql;
	const char *origin = quote_literal_cstr(me);

	bool		paused = sync_paused();

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE PUBLICATION %s FOR TABLE ",
					 quote_identifier(publication_name(me)));
	for (int i = 0; i < (int) lengthof(log_tables); i++)
	{
		if (paused && strcmp(log_tables[i], TOKEN_TABLE) == 0)
			continue;
		appendStringInfo(&sql, "%s%s WHERE (origin = %s)",
						 i ? ", " : "", log_tables[i], origin);
	}
	appendStringInfoString(&sql, " WITH (publish = 'insert, update, delete')");
	spi_exec(sql.data);
}

Datum
anchor_init(PG_FUNCTION_ARGS)
{
	char	   *name = text_arg_cstring(fcinfo, 0, "anchor name");
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
	current = self_name();
	if (current != NULL && strcmp(current, name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor is already initialised as \"%s\"", current),
				 errdetail("An anchor's name is in the primary key of every row it wrote and cannot change.")));
	if (current == NULL)
	{
		/* Rows written before init become this anchor's, before anything is published. */
		for (int i = 0; i < (int) lengthof(log_tables); i++)
		{
			char	   *sql = psprintf("UPDATE %s SET origin = $1 WHERE origin = 'local'",
									   log_tables[i]);
			Oid			types[1] = {TEXTOID};
			Datum		values[1] = {CStringGetTextDatum(name)};

			if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 0) < 0)
				elog(ERROR, "could not adopt the rows written before dht.anchor_init");
		}
		(void) spi_text1("INSERT INTO dht.anchor_self (name) VALUES ($1) RETURNING name", name);
	}
	/* Re-running init under the same name recreates a missing publication. */
	if (spi_text1("SELECT pubname FROM pg_catalog.pg_publication WHERE pubname = $1",
				  publication_name(name)) == NULL)
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
	PGresult   *res = remote_query(conn, peer,
								   "SELECT (SELECT extversion FROM pg_catalog.pg_extension "
								   "        WHERE extname = 'smartlayer_dht'), "
								   "       coalesce(pg_catalog.to_jsonb(s) ->> 'sync_paused', 'false') "
								   "FROM dht.anchor_self s", 0, NULL);
	char	   *theirs = PQntuples(res) > 0 ? pstrdup(PQgetvalue(res, 0, 0)) : pstrdup("?");
	bool		paused = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 1), "true") == 0;
	char	   *ours = spi_text1("SELECT extversion FROM pg_catalog.pg_extension "
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

/* Check that the server behind conn is the anchor named peer and publishes. */
static void
check_peer(PGconn *conn, const char *peer, const char *slot)
{
	const char *params[2] = {publication_name(peer), slot};
	PGresult   *res;
	char	   *remote_name;
	bool		has_pub;
	bool		has_slot;

	res = remote_query(conn, peer,
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
	res = remote_query(conn, peer,
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
				 errmsg("anchor \"%s\" has no publication \"%s\"", peer, publication_name(peer)),
				 errhint("Run SELECT dht.anchor_init('%s'); on that anchor again to recreate it.", peer)));
	check_peer_version(conn, peer);
	if (has_slot)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("replication slot \"%s\" already exists on anchor \"%s\"", slot, peer),
				 errdetail("It is left over from an earlier subscription of this anchor, or another database on this server uses the same anchor name."),
				 errhint("If it is unused, drop it on that anchor: SELECT pg_drop_replication_slot('%s');", slot)));
}

/*
 * Rows of the peer's origin that this anchor still holds (the peer was a
 * peer before) would clash with the initial copy, which brings them all
 * again in their latest version: drop them first.  Only the peer writes
 * them, and this anchor's publication does not carry them.
 */
static void
forget_peer_rows(const char *peer)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(peer)};

	for (int i = 0; i < (int) lengthof(log_tables); i++)
	{
		char	   *sql = psprintf("DELETE FROM %s WHERE origin = $1", log_tables[i]);

		if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 0) < 0)
			elog(ERROR, "could not clear the rows of anchor \"%s\"", peer);
	}
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
				   quote_identifier(subscription_name(peer)),
				   quote_literal_cstr(conninfo),
				   quote_identifier(publication_name(peer)),
				   quote_literal_cstr(slot));
	spi_exec(sql);
}

/*
 * Create our slot on the peer.  From the moment we ask, the slot is dropped
 * again if this (sub)transaction aborts; only if the peer says a slot of
 * that name already exists is it not ours to drop.
 */
static void
create_remote_slot(PGconn *conn, const char *peer, const char *conninfo, const char *slot)
{
	const char *params[1] = {slot};
	PendingSlot *pending = add_pending(DROP_ON_ABORT, peer, conninfo, slot);

	PG_TRY();
	{
		PQclear(remote_query(conn, peer,
							 "SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
							 1, params));
	}
	PG_CATCH();
	{
		if (geterrcode() == ERRCODE_DUPLICATE_OBJECT)
			forget_pending(pending);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

Datum
anchor_add_peer(PG_FUNCTION_ARGS)
{
	char	   *peer = text_arg_cstring(fcinfo, 0, "anchor name");
	char	   *conninfo_in = text_arg_cstring(fcinfo, 1, "conninfo");
	char	   *me;
	char	   *conninfo;
	char	   *slot;
	int			timeout_ms;
	PGconn	   *conn;

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	me = require_self_name();
	if (strcmp(peer, me) != 0 &&
		spi_text1("SELECT subname::text FROM pg_catalog.pg_subscription "
				  "WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
				  "WHERE datname = pg_catalog.current_database()) AND subname = $1",
				  subscription_name(peer)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("anchor \"%s\" is already a peer", peer),
				 errhint("To change its connection, remove it with dht.anchor_remove_peer and add it again.")));
	if (strcmp(peer, me) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anchor \"%s\" cannot be its own peer", peer)));

	conninfo = normalise_conninfo(peer, conninfo_in, &timeout_ms);
	slot = slot_name_for(peer, me);
	conn = remote_connect(peer, conninfo, timeout_ms);
	PG_TRY();
	{
		check_password_used(conn, peer);
		check_peer(conn, peer, slot);
		create_remote_slot(conn, peer, conninfo, slot);
	}
	PG_FINALLY();
	{
		PQfinish(conn);
	}
	PG_END_TRY();

	forget_peer_rows(peer);
	create_subscription(peer, conninfo, slot);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * dht.anchor_remove_peer(name text)
 * ---------------------------------------------------------------------- */

/*
 * Stop the subscription's apply worker (ALTER SUBSCRIPTION ... DISABLE
 * holds the subscription's lock, so it cannot restart before we are done)
 * and note how far it had applied, to be put back if we roll back.
 */
static void
remember_progress(const char *peer, const char *sub)
{
	Oid			subid = get_subscription_oid(sub, false);
	char		origin_name[NAMEDATALEN];
	RepOriginId origin;
	PendingSlot *p;

	logicalrep_worker_stop(subid, InvalidOid);
	snprintf(origin_name, sizeof(origin_name), "pg_%u", subid);
	origin = replorigin_by_name(origin_name, true);
	if (origin == InvalidRepOriginId)
		return;
	p = add_pending(RESTORE_ORIGIN_ON_ABORT, peer, "", "");
	p->origin = origin;
	p->origin_lsn = replorigin_get_progress(origin, false);
}

Datum
anchor_remove_peer(PG_FUNCTION_ARGS)
{
	char	   *peer = text_arg_cstring(fcinfo, 0, "anchor name");
	char	   *sub;
	const char *qsub;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *conninfo = NULL;
	char	   *slot = NULL;

	check_anchor_name(peer);
	SPI_connect();
	lock_anchor_config();
	(void) require_self_name();
	sub = subscription_name(peer);
	qsub = quote_identifier(sub);
	values[0] = CStringGetTextDatum(sub);
	if (SPI_execute_with_args("SELECT subconninfo, subslotname::text FROM pg_catalog.pg_subscription "
							  "WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
							  "WHERE datname = pg_catalog.current_database()) AND subname = $1",
							  1, types, values, NULL, false, 1) < 0)
		elog(ERROR, "could not read pg_subscription");
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("anchor \"%s\" is not a peer", peer)));
	conninfo = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	slot = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	spi_exec(psprintf("ALTER SUBSCRIPTION %s DISABLE", qsub));
	remember_progress(peer, sub);
	spi_exec(psprintf("ALTER SUBSCRIPTION %s SET (slot_name = NONE)", qsub));
	spi_exec(psprintf("DROP SUBSCRIPTION %s", qsub));
	if (slot != NULL)
		add_pending(DROP_ON_COMMIT, peer, conninfo, slot);
	SPI_finish();
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------------
 * After an upgrade: dht._anchor_unpause(), dht._anchor_check_ready()
 * (called by the procedure dht.anchor_resume in 70_anchor.sql)
 * ---------------------------------------------------------------------- */

/* Publish the token rows and every SLA class column again; clear the pause. */
Datum
anchor_unpause(PG_FUNCTION_ARGS)
{
	char	   *me;

	SPI_connect();
	lock_anchor_config();
	me = self_name();
	if (me != NULL && sync_paused())
	{
		if (spi_text1("SELECT pubname FROM pg_catalog.pg_publication WHERE pubname = $1",
					  publication_name(me)) != NULL &&
			spi_text1("SELECT tablename::text FROM pg_catalog.pg_publication_tables "
					  "WHERE schemaname = 'dht' AND tablename = 'token_log' AND pubname = $1",
					  publication_name(me)) == NULL)
		{
			spi_exec(psprintf("ALTER PUBLICATION %s ADD TABLE %s WHERE (origin = %s)",
							  quote_identifier(publication_name(me)), TOKEN_TABLE,
							  quote_literal_cstr(me)));
			/* every column of dht.sla_log again (the upgrade published 0.1.0's) */
			spi_exec(psprintf("ALTER PUBLICATION %s DROP TABLE dht.sla_log",
							  quote_identifier(publication_name(me))));
			spi_exec(psprintf("ALTER PUBLICATION %s ADD TABLE dht.sla_log WHERE (origin = %s)",
							  quote_identifier(publication_name(me)), quote_literal_cstr(me)));
		}
		spi_exec("UPDATE dht.anchor_self SET sync_paused = false");
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/* ERROR unless the peer answers, is that anchor, runs our version and is not paused. */
Datum
anchor_check_ready(PG_FUNCTION_ARGS)
{
	char	   *peer = text_arg_cstring(fcinfo, 0, "anchor name");
	char	   *conninfo_in = text_arg_cstring(fcinfo, 1, "conninfo");
	int			timeout_ms;
	char	   *conninfo;
	PGconn	   *conn;

	check_anchor_name(peer);
	conninfo = normalise_conninfo(peer, conninfo_in, &timeout_ms);
	SPI_connect();
	conn = remote_connect(peer, conninfo, timeout_ms);
	PG_TRY();
	{
		PGresult   *res = remote_query(conn, peer, "SELECT name FROM dht.anchor_self", 0, NULL);
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
	PGconn	   *conn = remote_connect(ps->peer, ps->conninfo, STATUS_TIMEOUT_MS);

	PG_TRY();
	{
		PGresult   *res = remote_query(conn, ps->peer,
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
read_peer_slot(PeerStatus *ps)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	if (!ps->enabled || ps->slot == NULL)
		return;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		query_peer_slot(ps);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* a cancel must still cancel */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
		ps->error = edata->detail ? psprintf("%s: %s", edata->message, edata->detail)
			: pstrdup(edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
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
		Datum		values[10];
		bool		nulls[10] = {0};

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
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
