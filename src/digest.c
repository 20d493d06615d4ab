/*
 * digest.c
 *	  Per-bucket digests of the directory, maintained as rows change:
 *	  dht.bucket_digests(), dht.state_digest(), the triggers that feed them.
 *
 * 0.1's dht.state_digest() hashed every resolved view in order: 17.9 s at
 * 1M tokens, an hour at 100M.  Here every row of a replicated table has a
 * 256-bit hash (BLAKE2b of its column values), read as four 64-bit lanes,
 * and a bucket's digest is the lane-wise sum of its rows' hashes modulo
 * 2^64, as LtHash does: order-independent, so a row change is a
 * subtraction and an addition, and two anchors that hold the same rows have
 * the same sums whatever order replication delivered them in.  Token rows
 * go to their bucket (dht.bucket_of), registry rows (SLA classes, nodes,
 * node states, epochs) to bucket -1.  dht.state_digest() is one BLAKE2b of
 * the 1,025 sums: O(buckets), not O(rows).  (With 256 bits the sum resists
 * accidental collisions, not an adversary who can choose rows: it is a
 * convergence check between honest anchors.)
 *
 * Maintenance.  A row trigger (ENABLE ALWAYS, so rows applied by logical
 * replication, initial copies and restores count too) adds each change to
 * per-transaction sums in memory, one array per subtransaction level (an
 * aborted savepoint drops its own).  On dht.token_log it runs BEFORE, as it
 * then needs no event queue (apply and COPY write it without ON CONFLICT;
 * a statement that fails after it aborts its (sub)transaction); on the
 * registry tables, which the registry functions write with INSERT ... ON
 * CONFLICT DO UPDATE (a BEFORE INSERT trigger would also fire for the
 * insert that turns into the update), it runs AFTER.  The directory's own
 * writes, which skip rows with ON CONFLICT DO NOTHING, account for exactly
 * the rows they wrote instead, with the same hash, and the trigger stands
 * aside for them.  The sums reach dht.bucket_sums once per transaction: a
 * deferred constraint trigger, queued by its WHEN condition only for the
 * first change, flushes them at commit with one statement.  Each backend
 * adds to its own rows (slot = its backend id), so concurrent writers never
 * wait on each other's rows.  dht.bucket_digests() sums the slots and adds
 * the current transaction's unflushed changes.  The same flush adds the
 * number of rows this anchor wrote under its own name to its write marks
 * (origin_marks.c): the directory's own writes count the rows they add, the
 * trigger the local rows of this anchor's origin (rows applied by
 * replication are other anchors' writes, and deletions are not writes of
 * history).
 */
#include "smartlayer_dht.h"

#include <sodium.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "replication/worker_internal.h"
#include "utils/guc.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "digest.h"
#include "origin_marks.h"
#include "registry_cache.h"
#include "token.h"
#include "tokenrows.h"

PG_FUNCTION_INFO_V1(digest_row);
PG_FUNCTION_INFO_V1(digest_flush_needed);
PG_FUNCTION_INFO_V1(digest_flush);
PG_FUNCTION_INFO_V1(digest_lanes_add);
PG_FUNCTION_INFO_V1(bucket_digests);
PG_FUNCTION_INFO_V1(state_digest);
PG_FUNCTION_INFO_V1(digest_rebuild);
PG_FUNCTION_INFO_V1(digest_verify);

#define NSLOTS		(DHT_BUCKETS + 1)	/* index 0 is bucket -1, the registry */

typedef DigestLanes Lanes;

/* The changes of one (sub)transaction level. */
typedef struct LevelSums
{
	struct LevelSums *parent;
	int			nest_level;
	bool		queued;			/* a flush event is queued at this level */
	bool		dirty[NSLOTS];
	Lanes		sums[NSLOTS];
	int64		own_rows;		/* rows this anchor wrote under its name (origin_marks.c) */
} LevelSums;

static LevelSums *top_level = NULL;	/* innermost level with changes */
static char *copied_origin = NULL;	/* an initial copy of this origin's tokens ran */
static int	own_writes = 0;		/* > 0: the directory accounts for itself */
static bool callbacks_registered = false;
static SPIPlanPtr flush_plan = NULL;

/* ---- lanes */

static inline void
lanes_add(Lanes *acc, const Lanes *x)
{
	for (int i = 0; i < DIGEST_LANES; i++)
		acc->v[i] += x->v[i];
}

static inline void
lanes_sub(Lanes *acc, const Lanes *x)
{
	for (int i = 0; i < DIGEST_LANES; i++)
		acc->v[i] -= x->v[i];
}

static void
lanes_from_bytes(Lanes *l, const uint8 *b)
{
	for (int i = 0; i < DIGEST_LANES; i++)
	{
		uint64		v = 0;

		for (int j = 7; j >= 0; j--)
			v = v << 8 | b[8 * i + j];
		l->v[i] = v;
	}
}

static void
lanes_to_bytes(const Lanes *l, uint8 *b)
{
	for (int i = 0; i < DIGEST_LANES; i++)
		for (int j = 0; j < 8; j++)
			b[8 * i + j] = (uint8) (l->v[i] >> (8 * j));
}

static bytea *
lanes_bytea(const Lanes *l)
{
	bytea	   *b = palloc(VARHDRSZ + DIGEST_LEN);

	SET_VARSIZE(b, VARHDRSZ + DIGEST_LEN);
	lanes_to_bytes(l, (uint8 *) VARDATA(b));
	return b;
}

static void
lanes_of_bytea(Lanes *l, bytea *b)
{
	if (VARSIZE_ANY_EXHDR(b) != DIGEST_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid bucket sum"),
				 errdetail("A bucket sum is %d bytes, not %d.", DIGEST_LEN,
						   (int) VARSIZE_ANY_EXHDR(b))));
	lanes_from_bytes(l, (const uint8 *) VARDATA_ANY(b));
}

/* ---- row hashes */

static void
hash_bytes(crypto_generichash_state *st, const void *data, uint32 len)
{
	uint8		n[4] = {(uint8) (len >> 24), (uint8) (len >> 16), (uint8) (len >> 8), (uint8) len};

	crypto_generichash_update(st, n, 4);
	crypto_generichash_update(st, data, len);
}

/* A column's value as bytes that are the same on every anchor. */
static void
hash_column(crypto_generichash_state *st, Form_pg_attribute att, Datum d, bool isnull)
{
	static const uint8 null_marker[4] = {0xff, 0xff, 0xff, 0xff};

	if (isnull)
	{
		crypto_generichash_update(st, null_marker, sizeof(null_marker));
		return;
	}
	if (att->attbyval)
	{
		uint8		b[8];
		int64		v = att->attlen == 8 ? DatumGetInt64(d) :
			att->attlen == 4 ? DatumGetInt32(d) :
			att->attlen == 2 ? DatumGetInt16(d) : (int64) DatumGetChar(d);

		for (int i = 0; i < 8; i++)
			b[i] = (uint8) (v >> (56 - 8 * i));
		hash_bytes(st, b, 8);
	}
	else if (att->attlen == -1)
	{
		struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

		hash_bytes(st, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	}
	else
		hash_bytes(st, DatumGetPointer(d), att->attlen);
}

/*
 * The hash of a row: its table's name, then every column's value (ints
 * big-endian, varlenas' payload, fixed-length values' bytes).  Every
 * column type of the replicated tables stores equal values as equal bytes
 * (dht.token is its canonical encoding), so equal rows hash alike.
 */
static void
row_hash(Relation rel, HeapTuple tuple, Lanes *out)
{
	TupleDesc	desc = RelationGetDescr(rel);
	crypto_generichash_state st;
	uint8		h[DIGEST_LEN];
	const char *name = RelationGetRelationName(rel);

	crypto_generichash_init(&st, NULL, 0, DIGEST_LEN);
	hash_bytes(&st, name, (uint32) strlen(name));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		isnull;
		Datum		d;

		if (att->attisdropped)
			continue;
		d = heap_getattr(tuple, i + 1, desc, &isnull);
		hash_column(&st, att, d, isnull);
	}
	crypto_generichash_final(&st, h, DIGEST_LEN);
	lanes_from_bytes(out, h);
}

/* The slot of a row: its bucket + 1 for tokens, 0 for the registry. */
static int
row_slot(Relation rel, HeapTuple tuple)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attno;
	bool		isnull;
	Datum		d;

	if (strcmp(RelationGetRelationName(rel), "token_log") != 0)
		return 0;
	attno = SPI_fnumber(desc, "bucket");
	if (attno <= 0)
		elog(ERROR, "smartlayer_dht: dht.token_log has no bucket column");
	d = heap_getattr(tuple, attno, desc, &isnull);
	if (isnull || DatumGetInt16(d) < 0 || DatumGetInt16(d) >= DHT_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("invalid bucket in dht.token_log"),
				 errdetail("A bucket is dht.bucket_of(token), 0 to %d.", DHT_BUCKETS - 1)));
	return DatumGetInt16(d) + 1;
}

/* ---- per-transaction sums */

static void
digest_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		top_level = NULL;		/* its memory went with TopTransactionContext */
		copied_origin = NULL;
	}
}

static void
digest_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	LevelSums  *level = top_level;
	int			nest = GetCurrentTransactionNestLevel();

	if (level == NULL || level->nest_level != nest)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		top_level = level->parent;
		pfree(level);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		LevelSums  *parent = level->parent;

		if (parent == NULL || parent->nest_level != nest - 1)
		{
			level->nest_level = nest - 1;	/* becomes the parent's own */
			return;
		}
		for (int s = 0; s < NSLOTS; s++)
			if (level->dirty[s])
			{
				lanes_add(&parent->sums[s], &level->sums[s]);
				parent->dirty[s] = true;
			}
		parent->queued |= level->queued;
		parent->own_rows += level->own_rows;
		top_level = parent;
		pfree(level);
	}
}

static LevelSums *
current_level(void)
{
	int			nest = GetCurrentTransactionNestLevel();

	if (!callbacks_registered)
	{
		RegisterXactCallback(digest_xact_callback, NULL);
		RegisterSubXactCallback(digest_subxact_callback, NULL);
		callbacks_registered = true;
	}
	if (top_level == NULL || top_level->nest_level < nest)
	{
		LevelSums  *level = MemoryContextAllocZero(TopTransactionContext, sizeof(LevelSums));

		level->parent = top_level;
		level->nest_level = nest;
		top_level = level;
	}
	return top_level;
}

/* ---- the directory's own writes */

void
dht_digest_own_writes(bool on)
{
	own_writes += on ? 1 : -1;
	if (own_writes < 0)
		own_writes = 0;
}

static void
hash_varlena(crypto_generichash_state *st, struct varlena *v)
{
	struct varlena *p = PG_DETOAST_DATUM_PACKED(v);

	hash_bytes(st, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
}

/* What row_hash computes for a dht.token_log row (its column order). */
void
dht_digest_token_row(Datum token, const char *origin, int16 bucket, const char *sla,
					 struct varlena *holders, DigestLanes *out)
{
	static const char name[] = "token_log";
	crypto_generichash_state st;
	uint8		h[DIGEST_LEN];
	uint8		b[8];
	int64		v = bucket;

	crypto_generichash_init(&st, NULL, 0, DIGEST_LEN);
	hash_bytes(&st, name, sizeof(name) - 1);
	hash_varlena(&st, (struct varlena *) DatumGetPointer(token));
	hash_bytes(&st, origin, (uint32) strlen(origin));
	for (int i = 0; i < 8; i++)
		b[i] = (uint8) (v >> (56 - 8 * i));
	hash_bytes(&st, b, 8);
	hash_bytes(&st, sla, (uint32) strlen(sla));
	hash_varlena(&st, holders);
	crypto_generichash_final(&st, h, DIGEST_LEN);
	lanes_from_bytes(out, h);
}

static void
account(LevelSums *level, int bucket, const DigestLanes *row, bool add)
{
	int			slot = bucket + 1;

	if (add)
		lanes_add(&level->sums[slot], row);
	else
		lanes_sub(&level->sums[slot], row);
	level->dirty[slot] = true;
}

/* The directory's own writes: every row it adds is one of this anchor's. */
void
dht_digest_account(int bucket, const DigestLanes *row, bool add)
{
	LevelSums  *level = current_level();

	account(level, bucket, row, add);
	if (add)
		level->own_rows++;
}

/* Whether a row a local statement wrote is one of this anchor's own. */
static bool
own_row(Relation rel, HeapTuple tuple)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			attno = SPI_fnumber(desc, "origin");
	bool		isnull;
	Datum		d;

	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA || attno <= 0)
		return false;
	d = heap_getattr(tuple, attno, desc, &isnull);
	return !isnull && strcmp(TextDatumGetCString(d), dht_origin()) == 0;
}

/* ---- the trigger */

/* A token row applied by replication that joins another anchor's row of it. */
static void
queue_if_merged(Relation rel, HeapTuple tuple, bool update)
{
	bool		isnull;
	Datum		token = heap_getattr(tuple, 1, RelationGetDescr(rel), &isnull);
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	size_t		len;

	if (isnull || token_rows_count_cached(token, 2) < (update ? 2 : 1))
		return;
	args[0] = CStringGetTextDatum(dht_token_text(DatumGetDhtTokenPP(token), &len));
	SPI_connect();
	if (SPI_execute_with_args("SELECT dht._enqueue('t', $1)", 1, types, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: could not queue a merged token");
	SPI_finish();
}

/*
 * An initial copy brings a whole origin's rows: instead of a probe per row,
 * the origin is queued once at commit, and dht.repair_plan looks for its
 * merged tokens in one ordered pass.
 */
static void
note_copied_origin(Relation rel, HeapTuple tuple)
{
	bool		isnull;
	Datum		origin;

	if (copied_origin != NULL)
		return;
	origin = heap_getattr(tuple, 2, RelationGetDescr(rel), &isnull);
	if (!isnull)
		copied_origin = MemoryContextStrdup(TopTransactionContext, TextDatumGetCString(origin));
}

Datum
digest_row(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;
	Relation	rel;
	bool		update;
	HeapTuple	result;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trig->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dht._digest_row() must be called as a row trigger")));
	rel = trig->tg_relation;
	update = TRIGGER_FIRED_BY_UPDATE(trig->tg_event);
	result = update ? trig->tg_newtuple : trig->tg_trigtuple;
	if (own_writes > 0)
		return PointerGetDatum(result);
	if (TRIGGER_FIRED_BY_DELETE(trig->tg_event) || update)
	{
		Lanes		h;
		int			slot = row_slot(rel, trig->tg_trigtuple);

		row_hash(rel, trig->tg_trigtuple, &h);
		account(current_level(), slot - 1, &h, false);
	}
	if (!TRIGGER_FIRED_BY_DELETE(trig->tg_event))
	{
		Lanes		h;
		int			slot = row_slot(rel, result);

		row_hash(rel, result, &h);
		account(current_level(), slot - 1, &h, true);
		if (own_row(rel, result))
			current_level()->own_rows++;
		if (slot > 0 && SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		{
			if (MyLogicalRepWorker != NULL && am_tablesync_worker())
				note_copied_origin(rel, result);
			else
				queue_if_merged(rel, result, update);
		}
	}
	return PointerGetDatum(result);
}

/* WHEN of the deferred flush trigger: queue one flush per level. */
Datum
digest_flush_needed(PG_FUNCTION_ARGS)
{
	LevelSums  *level = current_level();

	if (level->queued)
		PG_RETURN_BOOL(false);
	level->queued = true;
	PG_RETURN_BOOL(true);
}

static void
prepare_flush_plan(void)
{
	Oid			types[3] = {INT2ARRAYOID, INT4OID, BYTEAARRAYOID};

	if (flush_plan != NULL)
		return;
	flush_plan = SPI_prepare("INSERT INTO dht.bucket_sums AS s (bucket, slot, sums) "
							 "SELECT u.b, $2, u.l FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS u(b, l) "
							 "ON CONFLICT (bucket, slot) DO UPDATE "
							 "SET sums = dht._lanes_add(s.sums, excluded.sums)", 3, types);
	if (flush_plan == NULL)
		elog(ERROR, "smartlayer_dht: could not prepare the digest flush: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(flush_plan);
}

/* Write one level's sums to dht.bucket_sums (inside SPI). */
static void
flush_level(LevelSums *level)
{
	Datum	   *buckets = palloc(sizeof(Datum) * NSLOTS);
	Datum	   *sums = palloc(sizeof(Datum) * NSLOTS);
	Datum		args[3];
	int			n = 0;
	int			rc;

	for (int s = 0; s < NSLOTS; s++)
		if (level->dirty[s])
		{
			buckets[n] = Int16GetDatum((int16) (s - 1));
			sums[n++] = PointerGetDatum(lanes_bytea(&level->sums[s]));
		}
	if (n == 0)
		return;
	prepare_flush_plan();
	args[0] = PointerGetDatum(construct_array(buckets, n, INT2OID, 2, true, TYPALIGN_SHORT));
	args[1] = Int32GetDatum((int32) MyBackendId);
	args[2] = PointerGetDatum(construct_array(sums, n, BYTEAOID, -1, false, TYPALIGN_INT));
	rc = SPI_execute_plan(flush_plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "smartlayer_dht: digest flush failed: %s", SPI_result_code_string(rc));
	memset(level->dirty, 0, sizeof(level->dirty));
	memset(level->sums, 0, sizeof(level->sums));
}

/*
 * The deferred trigger: at commit (or PREPARE), with only the top level
 * left.  A flush forced earlier inside a savepoint (SET CONSTRAINTS ...
 * IMMEDIATE) could not be undone with it if the savepoint rolled back, so
 * it is refused.
 */
Datum
digest_flush(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dht._digest_flush() must be called as a trigger")));
	if (top_level == NULL)
		return PointerGetDatum(NULL);
	if (top_level->nest_level > 1 || top_level->parent != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the directory's digest triggers cannot fire inside a savepoint"),
				 errhint("Do not SET CONSTRAINTS ... IMMEDIATE for them inside a savepoint; they run at commit.")));
	SPI_connect();
	flush_level(top_level);
	if (top_level->own_rows > 0)
	{
		origin_marks_add(dht_origin(), top_level->own_rows);
		top_level->own_rows = 0;
	}
	if (copied_origin != NULL)
	{
		Oid			types[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(copied_origin)};

		if (SPI_execute_with_args("SELECT dht._enqueue('o', $1)", 1, types, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "smartlayer_dht: could not queue a copied origin");
		copied_origin = NULL;
	}
	SPI_finish();
	top_level->queued = false;
	return PointerGetDatum(NULL);
}

Datum
digest_lanes_add(PG_FUNCTION_ARGS)
{
	Lanes		a,
				b;

	lanes_of_bytea(&a, PG_GETARG_BYTEA_PP(0));
	lanes_of_bytea(&b, PG_GETARG_BYTEA_PP(1));
	lanes_add(&a, &b);
	PG_RETURN_BYTEA_P(lanes_bytea(&a));
}

/* ---- reading the sums */

/* All 1,025 sums as this transaction sees them (inside SPI). */
static void
read_sums(Lanes *sums)
{
	int			rc;

	memset(sums, 0, sizeof(Lanes) * NSLOTS);
	rc = SPI_execute("SELECT bucket, sums FROM dht.bucket_sums", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: could not read dht.bucket_sums: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int			bucket = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		Lanes		l;

		if (bucket < -1 || bucket >= DHT_BUCKETS)
			continue;
		lanes_of_bytea(&l, DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)));
		lanes_add(&sums[bucket + 1], &l);
	}
	for (LevelSums *level = top_level; level != NULL; level = level->parent)
		for (int s = 0; s < NSLOTS; s++)
			if (level->dirty[s])
				lanes_add(&sums[s], &level->sums[s]);
}

Datum
bucket_digests(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Lanes	   *sums = palloc(sizeof(Lanes) * NSLOTS);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	read_sums(sums);
	SPI_finish();
	for (int b = 0; b < DHT_BUCKETS; b++)
	{
		Datum		row[2] = {Int32GetDatum(b), PointerGetDatum(lanes_bytea(&sums[b + 1]))};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}

Datum
state_digest(PG_FUNCTION_ARGS)
{
	static const char label[] = "smartlayer_dht/state/v2";
	Lanes	   *sums = palloc(sizeof(Lanes) * NSLOTS);
	crypto_generichash_state st;
	uint8		b[DIGEST_LEN];
	bytea	   *out = palloc(VARHDRSZ + DIGEST_LEN);

	SPI_connect();
	read_sums(sums);
	SPI_finish();
	crypto_generichash_init(&st, NULL, 0, DIGEST_LEN);
	crypto_generichash_update(&st, (const uint8 *) label, sizeof(label));
	for (int s = 0; s < NSLOTS; s++)
	{
		lanes_to_bytes(&sums[s], b);
		crypto_generichash_update(&st, b, DIGEST_LEN);
	}
	SET_VARSIZE(out, VARHDRSZ + DIGEST_LEN);
	crypto_generichash_final(&st, (uint8 *) VARDATA(out), DIGEST_LEN);
	PG_RETURN_BYTEA_P(out);
}

/* ---- recomputing from the rows */

static const char *const digested_tables[] = {
	"sla_log", "node_log", "node_state_log", "epoch_log", "token_log"
};

/* Sum every row's hash, by scanning each table (inside SPI). */
static void
recompute_sums(Lanes *sums)
{
	memset(sums, 0, sizeof(Lanes) * NSLOTS);
	for (int t = 0; t < (int) lengthof(digested_tables); t++)
	{
		Relation	rel = table_open(get_relname_relid(digested_tables[t],
													   get_namespace_oid("dht", false)),
									 AccessShareLock);
		TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
		HeapTuple	tuple;

		while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Lanes		h;

			CHECK_FOR_INTERRUPTS();
			row_hash(rel, tuple, &h);
			lanes_add(&sums[row_slot(rel, tuple)], &h);
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
}

/*
 * dht._rebuild_digests(): replace the maintained sums by a recomputation.
 * Writers are held off meanwhile (SHARE locks on the tables).
 */
Datum
digest_rebuild(PG_FUNCTION_ARGS)
{
	Lanes	   *sums = palloc(sizeof(Lanes) * NSLOTS);
	LevelSums  *level;

	SPI_connect();
	if (SPI_execute("LOCK TABLE dht.sla_log, dht.node_log, dht.node_state_log, dht.epoch_log, "
					"dht.token_log IN SHARE MODE", false, 0) < 0 ||
		SPI_execute("LOCK TABLE dht.bucket_sums IN EXCLUSIVE MODE", false, 0) < 0 ||
		SPI_execute("DELETE FROM dht.bucket_sums", false, 0) < 0)
		elog(ERROR, "smartlayer_dht: could not reset dht.bucket_sums");
	recompute_sums(sums);
	/* This transaction's own unflushed changes are in the recomputation. */
	for (level = top_level; level != NULL; level = level->parent)
	{
		memset(level->dirty, 0, sizeof(level->dirty));
		memset(level->sums, 0, sizeof(level->sums));
	}
	level = current_level();
	for (int s = 0; s < NSLOTS; s++)
	{
		static const Lanes zero;

		level->sums[s] = sums[s];
		level->dirty[s] = memcmp(&sums[s], &zero, sizeof(Lanes)) != 0;
	}
	flush_level(level);
	SPI_finish();
	PG_RETURN_VOID();
}

/* dht.verify_digests(): buckets whose maintained sum differs from the rows'. */
Datum
digest_verify(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Lanes	   *kept = palloc(sizeof(Lanes) * NSLOTS);
	Lanes	   *rows = palloc(sizeof(Lanes) * NSLOTS);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	read_sums(kept);
	recompute_sums(rows);
	SPI_finish();
	for (int s = 0; s < NSLOTS; s++)
	{
		Datum		row[3];
		bool		nulls[3] = {false, false, false};

		if (memcmp(&kept[s], &rows[s], sizeof(Lanes)) == 0)
			continue;
		row[0] = Int32GetDatum(s - 1);
		row[1] = PointerGetDatum(lanes_bytea(&kept[s]));
		row[2] = PointerGetDatum(lanes_bytea(&rows[s]));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	return (Datum) 0;
}
