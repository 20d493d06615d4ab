/*
 * allocate.c
 *	  dht.allocate(token, sla) and dht.allocate_many(tokens, sla): record
 *	  tokens and their placement in the caller's transaction.
 *
 * Fresh tokens (no row names them yet, the common case) take the fast
 * path: the placement is computed from the registry cache (no table read),
 * the row is packed in C and inserted with ON CONFLICT DO NOTHING, which is
 * what serialises two sessions of one anchor allocating one token: the
 * second waits for the first and, if it committed, finds its row.
 * allocate_many inserts a batch per statement (unnest of three arrays).
 *
 * Every other case takes the slow path under the token's advisory lock: a
 * token some anchor allocated is returned as it is (allocation is
 * idempotent), a released one is allocated again with a fresh life (its
 * old holders' entries are stamped before it, so they are dead), and a
 * concurrent fresh insert that won is read back.  Under REPEATABLE READ a
 * row committed after the transaction's snapshot makes the insert fail with
 * a serialization failure (40001), to retry.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "access/xact.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "digest.h"
#include "holders_sql.h"
#include "key.h"
#include "placement_sql.h"
#include "token.h"
#include "tokenrows.h"

PG_FUNCTION_INFO_V1(dht_allocate);
PG_FUNCTION_INFO_V1(dht_allocate_many);

/* allocate_many: most tokens one call takes, and tokens per insert statement. */
#define ALLOCATE_MANY_MAX	1000000
#define ALLOCATE_BATCH		2000

/* One token being allocated. */
typedef struct Alloc
{
	Datum		token;
	uint8		key[DHT_KEY_LEN];
	int16		bucket;
	int			chosen;			/* shards placed (nshards unless short of nodes) */
	int			out[PLACEMENT_MAX_SHARDS];
} Alloc;

/* What the call allocates into: the class, its shape and epoch, the output. */
typedef struct AllocCall
{
	DhtSla	   *sla;
	int			nshards;
	int64		epoch;
	uint8		seed[PLACEMENT_SEED_LEN];
	const char *origin;
	ReturnSetInfo *rsinfo;
	bool		with_token;		/* allocate_many: a token column first */
} AllocCall;

static void
prepare_alloc(AllocCall *call, Datum token, Alloc *a)
{
	DhtKey	   *key = dht_token_to_key(DatumGetDhtTokenPP(token));

	a->token = token;
	memcpy(a->key, key->bytes, DHT_KEY_LEN);
	a->bucket = (int16) dht_bucket_of_key(a->key);
	a->chosen = choose_nodes(call->sla, call->seed, a->key, call->nshards, a->out);
}

/* The holders of a new placement: every shard active, stamped now. */
static HolderSet *
new_holders(AllocCall *call, const Alloc *a, uint32 stamp, uint32 life)
{
	HolderSet  *set = palloc0(sizeof(HolderSet));

	set->data_shards = (uint8) call->sla->data_shards;
	set->parity_shards = (uint8) (call->nshards - call->sla->data_shards);
	set->meta_stamp = stamp;
	set->life_start = life;
	set->epoch = (uint32) call->epoch;
	if (call->sla->raptorq)
	{
		set->flags |= HOLDERS_RAPTORQ;
		set->symbols_per_holder = (uint16) call->sla->symbols_per_holder;
	}
	set->n = call->nshards;
	set->entries = palloc0(sizeof(HolderEntry) * call->nshards);
	for (int i = 0; i < call->nshards; i++)
	{
		HolderEntry *e = &set->entries[i];

		e->ref = holders_ref_of(placement_set_node(call->sla->set, a->out[i])->id);
		e->stamp = stamp;
		e->shard = (uint8) i;
		e->range = (uint16) i;
		e->state = HOLDER_ACTIVE;
	}
	return set;
}

/* ---- output */

/* A row; a node or endpoint of (Datum) 0 is NULL.  The class's cached
 * datums go in as they are: no copies. */
static void
emit_datums(AllocCall *call, Datum token, int shard, Datum node, Datum endpoint)
{
	Datum		row[4];
	bool		nulls[4] = {false, false, false, false};
	int			c = 0;

	if (call->with_token)
		row[c++] = token;
	row[c++] = Int32GetDatum(shard);
	row[c] = node;
	nulls[c++] = node == (Datum) 0;
	row[c] = endpoint;
	nulls[c] = endpoint == (Datum) 0;
	tuplestore_putvalues(call->rsinfo->setResult, call->rsinfo->setDesc, row, nulls);
}

static void
emit_row(AllocCall *call, Datum token, int shard, Datum node, const char *endpoint)
{
	emit_datums(call, token, shard, node, endpoint ? CStringGetTextDatum(endpoint) : (Datum) 0);
}

static void
emit_new(AllocCall *call, const Alloc *a)
{
	for (int i = 0; i < call->nshards; i++)
		emit_datums(call, a->token, i, dht_sla_node_datum(call->sla, a->out[i]),
					dht_sla_endpoint_datum(call->sla, a->out[i]));
}

/* The token's holders as its rows resolve (node and endpoint NULL if unknown). */
static void
emit_existing(AllocCall *call, Datum token, const TokenRows *tr)
{
	for (int i = 0; i < tr->res.n; i++)
	{
		const HolderEntry *e = tr->holders[i].entry;
		const DhtNodeInfo *node = dht_node_by_ref(e->ref);

		emit_row(call, token, e->shard, node ? key_datum(node->id) : (Datum) 0,
				 node ? node->endpoint : NULL);
	}
}

/* ---- the slow path */

/*
 * This anchor's row for a new life of the token: its entries of the current
 * life (none, normally) under the new ones.
 */
static HolderSet *
reallocation_holders(AllocCall *call, const Alloc *a, const TokenRows *tr,
					 uint32 stamp, uint32 life)
{
	HolderSet  *set = new_holders(call, a, stamp, life);
	const HolderSet *own = tr->own >= 0 ? tr->rows[tr->own].set : NULL;
	int			n = set->n;

	if (own == NULL)
		return set;
	set->entries = repalloc(set->entries, sizeof(HolderEntry) * (n + own->n));
	for (int i = 0; i < own->n; i++)
		if (own->entries[i].stamp >= life &&
			holders_find(set, own->entries[i].shard, own->entries[i].ref) == NULL)
			set->entries[n++] = own->entries[i];
	set->n = n;
	holders_sort(set->entries, set->n);
	return set;
}

static void
allocate_slow(AllocCall *call, const Alloc *a)
{
	TokenRows	tr;

	/*
	 * A live token is returned as it is: a read, under the statement's
	 * snapshot, that needs no lock (allocate_many of 100,000 allocated
	 * tokens would otherwise hold 100,000 locks and run out of shared
	 * memory).  Only a new life of the token is written under its lock.
	 */
	token_rows_read(a->token, call->origin, &tr);
	if (tr.res.live)
	{
		emit_existing(call, a->token, &tr);
		return;
	}
	token_lock_and_refresh(a->key);
	token_rows_read(a->token, call->origin, &tr);
	if (tr.res.live)
		emit_existing(call, a->token, &tr);
	else
	{
		uint32		life = tr.nrows > 0 ? tr.res.max_stamp + 1 : 0;
		uint32		stamp = token_stamp_now(tr.res.max_stamp);

		if (a->chosen < call->nshards)
			report_insufficient_nodes(call->sla, call->nshards, a->chosen);
		token_rows_write_own(a->token, call->origin, a->bucket, call->sla->name,
							 reallocation_holders(call, a, &tr, stamp, life),
							 tr.own >= 0 ? &tr.rows[tr.own] : NULL);
		emit_new(call, a);
	}
	PopActiveSnapshot();
}

/* ---- dht.allocate(token, sla) */

static void
begin_call(AllocCall *call, FunctionCallInfo fcinfo, int sla_arg, bool with_token)
{
	call->origin = dht_write_origin();	/* first: an anchor that may not write says so */
	call->sla = dht_sla_get(sla_name_arg(fcinfo, sla_arg));
	call->nshards = sla_total_shards(call->sla);
	call->epoch = dht_current_epoch(call->seed);
	if (call->epoch > (int64) PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("epoch %lld is beyond the directory's limit of %u",
						(long long) call->epoch, PG_UINT32_MAX)));
	call->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	call->with_token = with_token;
	InitMaterializedSRF(fcinfo, 0);
}

static void
allocate_one(AllocCall *call, Alloc *a)
{
	if (a->chosen == call->nshards && !token_rows_exist(a->token))
	{
		uint32		stamp = token_stamp_now(0);

		if (token_rows_insert_fresh(a->token, call->origin, a->bucket, call->sla->name,
									new_holders(call, a, stamp, 0)))
		{
			emit_new(call, a);
			return;
		}
	}
	allocate_slow(call, a);
}

static Datum
dht_allocate_pinned(PG_FUNCTION_ARGS)
{
	AllocCall	call;
	Alloc	   *a = palloc(sizeof(Alloc));

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be NULL")));
	begin_call(&call, fcinfo, 1, false);
	prepare_alloc(&call, PG_GETARG_DATUM(0), a);
	SPI_connect();
	allocate_one(&call, a);
	SPI_finish();
	return (Datum) 0;
}

Datum
dht_allocate(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_allocate_pinned, fcinfo);
}

/* ---- dht.allocate_many(tokens, sla) */

static SPIPlanPtr batch_plan = NULL;
static Oid	batch_plan_typid = InvalidOid;

static void
prepare_batch_plan(void)
{
	Oid			token_typid = dht_token_typid();
	Oid			types[5] = {get_array_type(token_typid), TEXTOID, INT2ARRAYOID, TEXTOID,
	get_array_type(dht_holders_typid())};

	if (batch_plan != NULL && batch_plan_typid == token_typid)
		return;
	batch_plan = SPI_prepare(
		"INSERT INTO dht.token_log (token, origin, bucket, sla, holders) "
		"SELECT u.t, $2, u.b, $4, u.h "
		"FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3), pg_catalog.unnest($5)) AS u(t, b, h)",
		5, types);
	if (batch_plan == NULL)
		elog(ERROR, "smartlayer_dht: could not prepare the batch insert: %s",
			 SPI_result_code_string(SPI_result));
	SPI_keepplan(batch_plan);
	batch_plan_typid = token_typid;
}

static Datum
array_of(Datum *values, int n, Oid typid)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(typid, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_array(values, n, typid, typlen, typbyval, typalign));
}

/*
 * Insert the batch in one statement, inside a subtransaction: every token
 * was probed absent, so a unique violation means another session of this
 * anchor allocated one of them meanwhile; then the batch is undone and
 * false returned, for the caller to go token by token.
 */
static bool
try_insert_batch(Datum *args)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool done = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	dht_digest_own_writes(true);
	PG_TRY();
	{
		if (SPI_execute_plan(batch_plan, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "smartlayer_dht: batch allocation failed");
		dht_digest_own_writes(false);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		dht_digest_own_writes(false);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			ReThrowError(edata);
		FreeErrorData(edata);
		done = false;
	}
	PG_END_TRY();
	return done;
}

/*
 * The fresh tokens of a batch: one insert statement, then their output and
 * digests; token by token if a concurrent allocation got in the way.
 */
static void
insert_batch(AllocCall *call, Alloc **fresh, int n)
{
	Datum	   *tokens = palloc(sizeof(Datum) * n);
	Datum	   *buckets = palloc(sizeof(Datum) * n);
	Datum	   *holders = palloc(sizeof(Datum) * n);
	Datum		args[5];
	uint32		stamp = token_stamp_now(0);

	if (n == 0)
		return;
	for (int i = 0; i < n; i++)
	{
		tokens[i] = fresh[i]->token;
		buckets[i] = Int16GetDatum(fresh[i]->bucket);
		holders[i] = PointerGetDatum(dht_holders_encode(new_holders(call, fresh[i], stamp, 0)));
	}
	prepare_batch_plan();
	args[0] = array_of(tokens, n, dht_token_typid());
	args[1] = CStringGetTextDatum(call->origin);
	args[2] = array_of(buckets, n, INT2OID);
	args[3] = CStringGetTextDatum(call->sla->name);
	args[4] = array_of(holders, n, dht_holders_typid());
	if (!try_insert_batch(args))
	{
		for (int i = 0; i < n; i++)
			allocate_one(call, fresh[i]);
		return;
	}
	for (int i = 0; i < n; i++)
	{
		DigestLanes h;

		dht_digest_token_row(fresh[i]->token, call->origin, fresh[i]->bucket, call->sla->name,
							 (struct varlena *) DatumGetPointer(holders[i]), &h);
		dht_digest_account(fresh[i]->bucket, &h, true);
		emit_new(call, fresh[i]);
	}
}

static ArrayType *
token_array_arg(FunctionCallInfo fcinfo, int *n)
{
	ArrayType  *arr;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tokens must not be NULL")));
	arr = PG_GETARG_ARRAYTYPE_P(0);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tokens must be a one-dimensional array")));
	*n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (*n > ALLOCATE_MANY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("dht.allocate_many takes at most %d tokens, not %d", ALLOCATE_MANY_MAX, *n),
				 errhint("Allocate in several calls.")));
	return arr;
}

static Datum
dht_allocate_many_pinned(PG_FUNCTION_ARGS)
{
	AllocCall	call;
	int			n;
	ArrayType  *arr = token_array_arg(fcinfo, &n);
	Datum	   *tokens;
	bool	   *nulls;
	Alloc	   *allocs = palloc(sizeof(Alloc) * ALLOCATE_BATCH);
	Alloc	  **fresh = palloc(sizeof(Alloc *) * ALLOCATE_BATCH);
	Alloc	  **slow = palloc(sizeof(Alloc *) * ALLOCATE_BATCH);
	MemoryContext batch_cxt;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	begin_call(&call, fcinfo, 1, true);
	get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
	deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign, &tokens, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tokens must not contain NULL"),
					 errdetail("Element %d is NULL.", i + 1)));
	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "smartlayer_dht allocate_many batch",
									  ALLOCSET_DEFAULT_SIZES);
	SPI_connect();
	for (int start = 0; start < n; start += ALLOCATE_BATCH)
	{
		int			end = Min(n, start + ALLOCATE_BATCH);
		int			nfresh = 0;
		int			nslow = 0;
		MemoryContext outer = MemoryContextSwitchTo(batch_cxt);
		TokenProbe *probe = token_probe_begin();

		for (int i = start; i < end; i++)
		{
			Alloc	   *a = &allocs[i - start];

			CHECK_FOR_INTERRUPTS();
			prepare_alloc(&call, tokens[i], a);
			if (a->chosen == call.nshards && !token_probe_exists(probe, a->token))
				fresh[nfresh++] = a;
			else
				slow[nslow++] = a;
		}
		token_probe_end(probe);
		for (int i = 0; i < nslow; i++)
			allocate_slow(&call, slow[i]);
		insert_batch(&call, fresh, nfresh);
		MemoryContextSwitchTo(outer);
		MemoryContextReset(batch_cxt);
	}
	SPI_finish();
	return (Datum) 0;
}

Datum
dht_allocate_many(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_allocate_many_pinned, fcinfo);
}
