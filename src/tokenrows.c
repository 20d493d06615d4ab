/*
 * tokenrows.c
 *	  Read every row of one token, resolve them, and write this anchor's.
 *
 * A token has one dht.token_log row per anchor that recorded something
 * about it, nearly always just one.  Reads are a direct scan of the primary
 * key on the token (dirrel.c opens it safely), decoded and resolved in C by
 * the rule of holders.h, so every path that needs a token's state
 * (allocate's slow path, lookup, route, release, repair, confirm, the
 * placements view) does one index descent and no query.
 *
 * Writes go through SPI plans prepared once per backend (the plan cache
 * keeps them valid across DDL).  A write first takes the token's advisory
 * lock and a fresh snapshot (token_lock_and_refresh), so two sessions of
 * one anchor that change one token take turns and the second sees the
 * first's row: no lost update.  Each anchor writes only its own row, so
 * rows of other origins are never written here.
 */
#include "smartlayer_dht.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/xact.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "digest.h"
#include "dirrel.h"
#include "holders_sql.h"
#include "registry_cache.h"
#include "tokenrows.h"

/* Columns of dht.token_log, in table order (src/sql/50_directory.sql). */
enum
{
	COL_TOKEN = 1, COL_ORIGIN, COL_BUCKET, COL_SLA, COL_HOLDERS
};

/* Advisory lock space of token writes (field 4 of the lock tag). */
#define TOKEN_LOCK_SPACE 0x5344

static DirTable token_log = DIR_TABLE("token_log");

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr update_plan = NULL;
static Oid	plans_token_typid = InvalidOid;

/* ---- reading */

static void
read_row(TupleTableSlot *slot, TokenRow *row)
{
	bool		isnull;

	row->origin = TextDatumGetCString(slot_getattr(slot, COL_ORIGIN, &isnull));
	row->bucket = DatumGetInt16(slot_getattr(slot, COL_BUCKET, &isnull));
	row->sla = TextDatumGetCString(slot_getattr(slot, COL_SLA, &isnull));
	row->raw = (struct varlena *) PG_DETOAST_DATUM_COPY(slot_getattr(slot, COL_HOLDERS, &isnull));
	row->set = dht_holders_decode(row->raw);
}

/* An open scan of the primary key, rescanned per token. */
struct TokenProbe
{
	MemoryContext cxt;			/* where the scan allocates (btree's killed items) */
	Relation	rel;
	Relation	index;
	TupleTableSlot *slot;
	IndexScanDesc scan;
};

TokenProbe *
token_probe_begin(void)
{
	TokenProbe *p = palloc(sizeof(TokenProbe));

	p->cxt = CurrentMemoryContext;
	p->rel = dir_table_open(&token_log, AccessShareLock, &p->index);
	dir_check_select(p->rel);
	p->slot = table_slot_create(p->rel, NULL);
	p->scan = index_beginscan(p->rel, p->index, GetActiveSnapshot(), 1, 0);
	return p;
}

/*
 * The token's rows (at most max; rows NULL to count only), copied into the
 * caller's memory context.  The scan itself runs in the probe's context:
 * btree allocates lazily during a scan (the array of killed items, once it
 * meets a dead tuple) and frees it at index_endscan, so a caller that resets
 * its own context between tokens must not own that memory.
 */
static int
probe_rows(TokenProbe *p, Datum token, TokenRow *rows, int max)
{
	MemoryContext caller = MemoryContextSwitchTo(p->cxt);
	ScanKeyData key;
	int			n = 0;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, token_log.eqprocs[0], token);
	index_rescan(p->scan, &key, 1, NULL, 0);
	while (n < max && index_getnext_slot(p->scan, ForwardScanDirection, p->slot))
	{
		if (rows != NULL)
		{
			MemoryContextSwitchTo(caller);
			read_row(p->slot, &rows[n]);
			MemoryContextSwitchTo(p->cxt);
		}
		n++;
	}
	MemoryContextSwitchTo(caller);
	return n;
}

bool
token_probe_exists(TokenProbe *p, Datum token)
{
	return probe_rows(p, token, NULL, 1) > 0;
}

void
token_probe_end(TokenProbe *p)
{
	index_endscan(p->scan);
	ExecDropSingleTupleTableSlot(p->slot);
	dir_table_close(p->rel, p->index, AccessShareLock);
	pfree(p);
}

static int
scan_token(Datum token, TokenRow *rows, int max)
{
	TokenProbe *p = token_probe_begin();
	int			n = probe_rows(p, token, rows, max);

	token_probe_end(p);
	return n;
}

bool
token_rows_exist(Datum token)
{
	return scan_token(token, NULL, 1) > 0;
}

int
token_rows_count(Datum token, int max)
{
	return scan_token(token, NULL, max);
}

/*
 * One probe per transaction, owned by the top transaction (so that a
 * savepoint's end does not release it), closed before commit; an abort's
 * resource owner cleanup releases it, and then only the pointer is dropped.
 */
static TokenProbe *cached_probe = NULL;
static bool cached_callback = false;

static void
cached_probe_xact_callback(XactEvent event, void *arg)
{
	if (cached_probe == NULL)
		return;
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		event == XACT_EVENT_PRE_PREPARE)
		token_probe_end(cached_probe);
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT &&
		event != XACT_EVENT_PRE_PREPARE && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_ABORT)
		return;
	cached_probe = NULL;
}

int
token_rows_count_cached(Datum token, int max)
{
	if (cached_probe == NULL)
	{
		ResourceOwner owner = CurrentResourceOwner;
		MemoryContext cxt = MemoryContextSwitchTo(TopTransactionContext);

		if (!cached_callback)
		{
			RegisterXactCallback(cached_probe_xact_callback, NULL);
			cached_callback = true;
		}
		CurrentResourceOwner = TopTransactionResourceOwner;
		PG_TRY();
		{
			cached_probe = token_probe_begin();
		}
		PG_FINALLY();
		{
			CurrentResourceOwner = owner;
			MemoryContextSwitchTo(cxt);
		}
		PG_END_TRY();
	}
	/*
	 * Each call sees what its own snapshot sees.  The scan keeps a buffer
	 * pinned between calls, so its pins belong to the top transaction too:
	 * under the statement's resource owner the end of the statement would
	 * find a pin it did not take back ("buffer refcount leak").
	 */
	cached_probe->scan->xs_snapshot = GetActiveSnapshot();
	{
		ResourceOwner owner = CurrentResourceOwner;
		int			n;

		CurrentResourceOwner = TopTransactionResourceOwner;
		PG_TRY();
		{
			n = probe_rows(cached_probe, token, NULL, max);
		}
		PG_FINALLY();
		{
			CurrentResourceOwner = owner;
		}
		PG_END_TRY();
		return n;
	}
}

/* Origins are few; a token with more rows than this is refused as corrupt. */
#define MAX_TOKEN_ROWS 256

void
token_rows_read(Datum token, const char *own_origin, TokenRows *tr)
{
	TokenProbe *p = token_probe_begin();

	token_rows_read_with(p, token, own_origin, tr);
	token_probe_end(p);
}

void
token_rows_read_with(TokenProbe *probe, Datum token, const char *own_origin, TokenRows *tr)
{
	HolderRow  *hrows;
	int			total = 0;

	tr->rows = palloc(sizeof(TokenRow) * MAX_TOKEN_ROWS);
	tr->nrows = probe_rows(probe, token, tr->rows, MAX_TOKEN_ROWS);
	tr->own = -1;
	hrows = palloc(sizeof(HolderRow) * Max(tr->nrows, 1));
	for (int r = 0; r < tr->nrows; r++)
	{
		hrows[r].origin = tr->rows[r].origin;
		hrows[r].set = tr->rows[r].set;
		total += tr->rows[r].set->n;
		if (own_origin != NULL && strcmp(tr->rows[r].origin, own_origin) == 0)
			tr->own = r;
	}
	tr->holders = palloc(sizeof(ResolvedHolder) * Max(total, 1));
	holders_resolve(hrows, tr->nrows, &tr->res, tr->holders);
}

/* ---- locking */

void
token_lock_and_refresh(const uint8 *key)
{
	LOCKTAG		tag;
	uint32		k1,
				k2;

	memcpy(&k1, key, 4);
	memcpy(&k2, key + 4, 4);
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, k1, k2, TOKEN_LOCK_SPACE);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
}

uint32
token_stamp_now(uint32 latest)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		unix_s = (int64) (now / USECS_PER_SEC) +
		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

	return holders_next_stamp(unix_s, latest);
}

/* ---- writing (inside SPI) */

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);

	if (plan == NULL)
		elog(ERROR, "smartlayer_dht: could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

static void
prepare_write_plans(void)
{
	Oid			token_typid = dht_token_typid();
	Oid			types[5] = {token_typid, TEXTOID, INT2OID, TEXTOID, dht_holders_typid()};

	if (insert_plan != NULL && plans_token_typid == token_typid)
		return;
	insert_plan = prepare_kept(
		"INSERT INTO dht.token_log (token, origin, bucket, sla, holders) "
		"VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", 5, types);
	update_plan = prepare_kept(
		"UPDATE dht.token_log SET bucket = $3, sla = $4, holders = $5 "
		"WHERE token OPERATOR(dht.=) $1 AND origin = $2", 5, types);
	plans_token_typid = token_typid;
}

static void
write_args(Datum *args, Datum token, const char *origin, int16 bucket, const char *sla,
		   const HolderSet *set)
{
	args[0] = token;
	args[1] = CStringGetTextDatum(origin);
	args[2] = Int16GetDatum(bucket);
	args[3] = CStringGetTextDatum(sla);
	args[4] = PointerGetDatum(dht_holders_encode(set));
}

/* Run a write with the digest trigger aside; the rows it wrote. */
static uint64
execute_own_write(SPIPlanPtr plan, Datum *args, int expected)
{
	volatile int rc = 0;

	dht_digest_own_writes(true);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
	}
	PG_FINALLY();
	{
		dht_digest_own_writes(false);
	}
	PG_END_TRY();
	if (rc != expected)
		elog(ERROR, "smartlayer_dht: could not write a token row: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

static void
account_row(Datum *args, bool add)
{
	DigestLanes h;
	char	   *origin = TextDatumGetCString(args[1]);
	char	   *sla = TextDatumGetCString(args[3]);

	dht_digest_token_row(args[0], origin, DatumGetInt16(args[2]), sla,
						 (struct varlena *) DatumGetPointer(args[4]), &h);
	dht_digest_account(DatumGetInt16(args[2]), &h, add);
}

bool
token_rows_insert_fresh(Datum token, const char *origin, int16 bucket, const char *sla,
						const HolderSet *set)
{
	Datum		args[5];

	prepare_write_plans();
	write_args(args, token, origin, bucket, sla, set);
	if (execute_own_write(insert_plan, args, SPI_OK_INSERT) == 0)
		return false;
	account_row(args, true);
	return true;
}

void
token_rows_write_own(Datum token, const char *origin, int16 bucket, const char *sla,
					 const HolderSet *set, const TokenRow *old)
{
	Datum		args[5];

	prepare_write_plans();
	write_args(args, token, origin, bucket, sla, set);
	if (execute_own_write(old ? update_plan : insert_plan, args,
						  old ? SPI_OK_UPDATE : SPI_OK_INSERT) != 1)
		elog(ERROR, "smartlayer_dht: could not write this anchor's row of a token");
	if (old != NULL)
	{
		Datum		before[5] = {token, CStringGetTextDatum(old->origin), Int16GetDatum(old->bucket),
		CStringGetTextDatum(old->sla), PointerGetDatum(old->raw)};

		account_row(before, false);
	}
	account_row(args, true);
}
