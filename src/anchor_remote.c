/*
 * anchor_remote.c
 *	  Talking to other anchors: connection strings, interruptible libpq, and
 *	  remote replication slots whose fate depends on how this transaction
 *	  ends (anchor.h).
 *
 * CREATE SUBSCRIPTION cannot create its slot inside a transaction block (nor
 * from a function), so the anchor functions create slots on the peer
 * themselves, through libpq, and subscribe with create_slot = false.  The
 * slot is then a remote side effect that a rollback would not undo, so it is
 * registered with a (sub)transaction callback that drops it again if the
 * transaction (or the savepoint) that created it aborts.  Dropping a
 * subscription detaches its slot (slot_name = NONE, which DROP SUBSCRIPTION
 * accepts inside a transaction) and drops the remote slot once the
 * transaction has committed.  Remote work in those callbacks never raises an
 * error: it only warns, naming the slot to drop by hand.
 *
 * Remote calls made while the backend runs normally are interruptible: they
 * use libpq's asynchronous API and wait on the process latch, like core's
 * libpqwalreceiver, and a cancelled query is cancelled on the peer too.
 */
#include "smartlayer_dht.h"

#include "access/xact.h"
#include "catalog/pg_subscription.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "replication/origin.h"
#include "replication/worker_internal.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "anchor.h"

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
char *
anchor_normalise_conninfo(const char *peer, const char *conninfo, int *timeout_ms)
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

char *
anchor_conn_error(PGconn *conn)
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
PGconn *
anchor_connect(const char *peer, const char *conninfo, int timeout_ms)
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
			msg = anchor_conn_error(conn);
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

/* Wait for the last result of what was sent, servicing interrupts. */
static PGresult *
wait_result(PGconn *conn)
{
	PGresult   *volatile last = NULL;

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
	return last;
}

/* Raise a remote error with the peer's SQLSTATE and message; else return res. */
static PGresult *
check_result(PGconn *conn, const char *peer, PGresult *last)
{
	if (last == NULL || (PQresultStatus(last) != PGRES_TUPLES_OK &&
						 PQresultStatus(last) != PGRES_COMMAND_OK))
	{
		const char *state = last ? PQresultErrorField(last, PG_DIAG_SQLSTATE) : NULL;
		char	   *msg = last ? pstrdup(PQresultErrorMessage(last)) : anchor_conn_error(conn);
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

static void
report_send_failure(PGconn *conn, const char *peer)
{
	char	   *msg = anchor_conn_error(conn);

	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("could not send a query to anchor \"%s\"", peer),
			 errdetail("%s", msg)));
}

/*
 * Run a query with text parameters and wait for its result, servicing
 * interrupts (a cancel here cancels the query on the peer too).  On a
 * remote error, raise it with the peer's SQLSTATE and message.
 */
PGresult *
anchor_query(PGconn *conn, const char *peer, const char *sql,
			 int nparams, const char *const *params)
{
	if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		report_send_failure(conn, peer);
	return check_result(conn, peer, wait_result(conn));
}

PGresult *
anchor_simple_query(PGconn *conn, const char *peer, const char *sql)
{
	if (!PQsendQuery(conn, sql))
		report_send_failure(conn, peer);
	return check_result(conn, peer, wait_result(conn));
}

/* ----------------------------------------------------------------------
 * Remote slots whose fate depends on how this transaction ends
 * ---------------------------------------------------------------------- */


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

PendingSlot *
anchor_add_pending(SlotAction action, const char *peer, const char *conninfo, const char *slot)
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

void
anchor_forget_pending(PendingSlot *target)
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

char *
anchor_query_text(PGconn *conn, const char *peer, const char *sql,
				  int nparams, const char *const *params)
{
	PGresult   *res = anchor_query(conn, peer, sql, nparams, params);
	char	   *v = (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) ? pstrdup(PQgetvalue(res, 0, 0)) : NULL;

	PQclear(res);
	return v;
}

/*
 * Create our slot on the peer.  From the moment we ask, the slot is dropped
 * again if this (sub)transaction aborts; only if the peer says a slot of
 * that name already exists is it not ours to drop.
 */
void
anchor_create_remote_slot(PGconn *conn, const char *peer, const char *conninfo, const char *slot)
{
	const char *params[1] = {slot};
	PendingSlot *pending = anchor_add_pending(DROP_ON_ABORT, peer, conninfo, slot);

	PG_TRY();
	{
		PQclear(anchor_query(conn, peer,
							 "SELECT pg_catalog.pg_create_logical_replication_slot($1, 'pgoutput')",
							 1, params));
	}
	PG_CATCH();
	{
		if (geterrcode() == ERRCODE_DUPLICATE_OBJECT)
			anchor_forget_pending(pending);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

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
	p = anchor_add_pending(RESTORE_ORIGIN_ON_ABORT, peer, "", "");
	p->origin = origin;
	p->origin_lsn = replorigin_get_progress(origin, false);
}


void
anchor_drop_subscription(const char *sub, const char *peer)
{
	const char *qsub = quote_identifier(sub);
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(sub)};
	char	   *conninfo;
	char	   *slot;

	if (SPI_execute_with_args("SELECT subconninfo, subslotname::text FROM pg_catalog.pg_subscription "
							  "WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
							  "WHERE datname = pg_catalog.current_database()) AND subname = $1",
							  1, types, values, NULL, false, 1) < 0 || SPI_processed != 1)
		elog(ERROR, "subscription \"%s\" not found", sub);
	conninfo = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	slot = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	anchor_exec(psprintf("ALTER SUBSCRIPTION %s DISABLE", qsub));
	remember_progress(peer, sub);
	anchor_exec(psprintf("ALTER SUBSCRIPTION %s SET (slot_name = NONE)", qsub));
	anchor_exec(psprintf("DROP SUBSCRIPTION %s", qsub));
	if (slot != NULL)
		anchor_add_pending(DROP_ON_COMMIT, peer, conninfo, slot);
}
