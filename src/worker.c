/*
 * worker.c
 *	  The self-healing settings and the background worker that applies them.
 *
 * With the library in shared_preload_libraries and smartlayer_dht.database
 * naming the anchor's database, _PG_init registers one background worker
 * (restarted by the postmaster if it ever exits with an error, started
 * again after a server restart).  Every smartlayer_dht.repair_interval it
 * runs, in one transaction, dht.maintenance_run(smartlayer_dht.repair_batch)
 * (src/sql/66_maintenance.sql): mark silent nodes down, refresh the measured
 * availabilities placement sees, expire unconfirmed holders, apply at most
 * one batch of repairs of the tokens this anchor owns, and record the run in
 * dht.maintenance_log.  The decisions are SQL so that an operator can run
 * the very same step by hand (and a test can see it); the worker only
 * schedules it.  An error in a run is logged and the worker goes on with
 * the next one; SIGTERM ends it between runs or in one (die); SIGHUP
 * re-reads the settings.
 *
 * The settings are defined here (not in smartlayer_dht.c) because they all
 * belong to this concern; dht_worker_init() is called from _PG_init.
 */
#include "smartlayer_dht.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "worker.h"

PGDLLEXPORT void dht_worker_main(Datum arg);

PG_FUNCTION_INFO_V1(dht_registry_touch);
PG_FUNCTION_INFO_V1(dht_setting);

char	   *dht_worker_database = NULL;
int			dht_heartbeat_timeout = 300;
int			dht_heartbeat_interval = 60;
int			dht_availability_window = 3600;
int			dht_confirm_timeout = 3600;
int			dht_repair_batch = 1000;
int			dht_repair_interval = 60;

void
dht_worker_init(void)
{
	BackgroundWorker worker;

	DefineCustomStringVariable("smartlayer_dht.database",
							   "Database whose anchor the self-healing worker maintains.",
							   "Empty (the default): no worker.  Read at server start; needs shared_preload_libraries.",
							   &dht_worker_database, "", PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.heartbeat_timeout",
							"A node silent for this long is marked down.",
							NULL, &dht_heartbeat_timeout, 300, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.heartbeat_interval",
							"How often nodes are expected to send a heartbeat (the slot of the availability bitmap).",
							NULL, &dht_heartbeat_interval, 60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.availability_window",
							"Availability is the fraction of this window in which a node sent heartbeats.",
							NULL, &dht_availability_window, 3600, 1, 64 * 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.confirm_timeout",
							"A pending holder not confirmed for this long is replaced by the next candidate.",
							NULL, &dht_confirm_timeout, 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.repair_batch",
							"At most this many holder moves per maintenance run.",
							NULL, &dht_repair_batch, 1000, 1, 10000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("smartlayer_dht.repair_interval",
							"Time between two maintenance runs of the worker.",
							NULL, &dht_repair_interval, 60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress || dht_worker_database == NULL ||
		dht_worker_database[0] == '\0')
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "smartlayer_dht");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "dht_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "smartlayer_dht maintenance");
	snprintf(worker.bgw_type, BGW_MAXLEN, "smartlayer_dht maintenance");
	RegisterBackgroundWorker(&worker);
}

/* dht._registry_touch(): every backend drops its registry cache. */
Datum
dht_registry_touch(PG_FUNCTION_ARGS)
{
	Oid			nsp = get_namespace_oid("dht", false);
	Oid			rel = get_relname_relid("node_state_log", nsp);

	if (OidIsValid(rel))
		CacheInvalidateRelcacheByRelid(rel);
	PG_RETURN_VOID();
}

/*
 * dht._setting(name): a smartlayer_dht setting as text, integers in their
 * base unit (seconds).  Unlike current_setting() from SQL, calling it loads
 * the library first, so the setting exists even in a session that has not
 * used the extension's C functions yet.
 */
Datum
dht_setting(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *v;

	if (strncmp(name, "smartlayer_dht.", 15) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a smartlayer_dht setting", name)));
	v = GetConfigOption(name, false, false);
	PG_RETURN_TEXT_P(cstring_to_text(v ? v : ""));
}

/* One run: dht.maintenance_run() in its own transaction; false if the
 * extension is not installed (yet) in the database. */
static bool
run_once(void)
{
	bool		installed = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "smartlayer_dht maintenance run");
	if (SPI_execute("SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
					"WHERE n.nspname = 'dht' AND p.proname = 'maintenance_run'", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		installed = true;
		if (SPI_execute(psprintf("SELECT dht.maintenance_run(%d)", dht_repair_batch), false, 0) != SPI_OK_SELECT)
			elog(ERROR, "smartlayer_dht: maintenance run failed");
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return installed;
}

void
dht_worker_main(Datum arg)
{
	sigjmp_buf	local_sigjmp_buf;
	static bool warned = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dht_worker_database, NULL, 0);
	ereport(LOG,
			(errmsg("smartlayer_dht maintenance worker started on database \"%s\"", dht_worker_database),
			 errdetail("Runs every %d s, at most %d moves each.", dht_repair_interval, dht_repair_batch)));

	/*
	 * An error in a run: log it, clean up, and go on with the next run (the
	 * pattern of PostgreSQL's own autovacuum launcher).
	 */
	if (sigsetjmp(local_sigjmp_buf, 1) != 0)
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		AbortCurrentTransaction();
		FlushErrorState();
		MemoryContextSwitchTo(TopMemoryContext);
		RESUME_INTERRUPTS();
		pg_usleep(1000000L);
	}
	PG_exception_stack = &local_sigjmp_buf;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!run_once() && !warned)
		{
			ereport(LOG,
					(errmsg("smartlayer_dht maintenance worker: extension not installed in database \"%s\"; waiting",
							dht_worker_database)));
			warned = true;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) dht_repair_interval * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
