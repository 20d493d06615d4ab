/*
 * anchor_util.c
 *	  Anchor names, the SPI helpers the anchor files share, and the list of
 *	  replicated log tables (anchor.h).
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "anchor.h"

const char *const anchor_log_tables[] = {
	"dht.sla_log", "dht.node_log", "dht.node_state_log",
	"dht.epoch_log", "dht.token_log", "dht.origin_marks", "dht.anchor_adoptions",
	"dht.heartbeat_log"
};

/* Tables an anchor paused for its upgrade does not publish (peers on 0.1.0
 * could not apply their rows, or have no such table). */
bool
anchor_table_paused(const char *table)
{
	return strcmp(table, "dht.token_log") == 0 || strcmp(table, "dht.origin_marks") == 0 ||
		strcmp(table, "dht.anchor_adoptions") == 0 || strcmp(table, "dht.heartbeat_log") == 0;
}
const int	anchor_log_table_count = lengthof(anchor_log_tables);

/* ----------------------------------------------------------------------
 * Names
 * ---------------------------------------------------------------------- */

void
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

char *
anchor_text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

char *
anchor_publication(const char *anchor)
{
	return psprintf("dht_%s", anchor);
}

char *
anchor_subscription(const char *peer)
{
	return psprintf("dht_from_%s", peer);
}

char *
anchor_slot_name(const char *peer, const char *me)
{
	return psprintf("dht_%s_%s", peer, me);
}

/* ----------------------------------------------------------------------
 * SPI helpers (callers have done SPI_connect)
 * ---------------------------------------------------------------------- */

void
anchor_exec(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* First column of the first row as a palloc'd string, NULL if none. */
char *
anchor_text1(const char *sql, const char *arg)
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
char *
anchor_self_name(void)
{
	return anchor_text1("SELECT name FROM dht.anchor_self", NULL);
}

char *
anchor_require_self(void)
{
	char	   *me = anchor_self_name();

	if (me == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("anchor is not initialised"),
				 errhint("Name this anchor first: SELECT dht.anchor_init('name');")));
	return me;
}

/* Serialise init, add_peer and remove_peer on this anchor. */
void
lock_anchor_config(void)
{
	anchor_exec("LOCK TABLE dht.anchor_self IN SHARE ROW EXCLUSIVE MODE");
}


bool
anchor_has_subscription(const char *name)
{
	return anchor_text1("SELECT subname::text FROM pg_catalog.pg_subscription "
						"WHERE subdbid = (SELECT oid FROM pg_catalog.pg_database "
						"WHERE datname = pg_catalog.current_database()) AND subname = $1",
						name) != NULL;
}

void
anchor_forget_origin_rows(const char *origin)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(origin)};

	for (int i = 0; i < anchor_log_table_count; i++)
	{
		char	   *sql = psprintf("DELETE FROM %s WHERE origin = $1", anchor_log_tables[i]);

		if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 0) < 0)
			elog(ERROR, "could not clear the rows of origin \"%s\"", origin);
	}
}

/*
 * Run fn(arg) in an internal subtransaction, so that a peer that cannot be
 * reached (or answers with an error) costs only that subtransaction.
 * Returns NULL when fn succeeded, else its error, copied into the caller's
 * memory context after the rollback, for the caller to report or rethrow.
 * A cancel or a shutdown is rethrown here: it must still stop the call.
 */
ErrorData *
anchor_try(void (*fn) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
			ReThrowError(edata);
	}
	PG_END_TRY();
	return edata;
}
