/*
 * events.c
 *	  Events on an allocated token: dht.release, dht.confirm,
 *	  dht.record_oti, and the moves dht.repair applies (events.h).
 *
 * Every event follows one pattern: take the token's lock and a fresh
 * snapshot, read and resolve its rows, check that the event still applies
 * to what they say, and rewrite this anchor's own row: the token's current
 * metadata (copied from the winning row, so that this row, should it win
 * the tie, says the same), this row's entries of the current life, and the
 * changed entries stamped after everything the token has seen.  Rows of
 * other anchors are never written; their entries are superseded by the
 * newer stamps.
 */
#include "smartlayer_dht.h"

#include "commands/async.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"

#include "events.h"
#include "holders_sql.h"
#include "key.h"
#include "registry_cache.h"
#include "rq.h"
#include "token.h"
#include "tokenrows.h"

PG_FUNCTION_INFO_V1(dht_release);
PG_FUNCTION_INFO_V1(dht_confirm);
PG_FUNCTION_INFO_V1(dht_record_oti);

/* This anchor's row as it will be written: metadata of the winning row. */
static HolderSet *
own_row_draft(const TokenRows *tr)
{
	const HolderSet *meta = tr->rows[tr->res.meta_row].set;
	const HolderSet *own = tr->own >= 0 ? tr->rows[tr->own].set : NULL;
	HolderSet  *set = palloc0(sizeof(HolderSet));
	int			cap = (own ? own->n : 0) + 8;

	set->flags = meta->flags;
	set->data_shards = meta->data_shards;
	set->parity_shards = meta->parity_shards;
	set->meta_stamp = meta->meta_stamp;
	set->life_start = meta->life_start;
	set->epoch = meta->epoch;
	set->symbols_per_holder = meta->symbols_per_holder;
	if (own != NULL && own->oti_stamp != 0 && own->oti_stamp >= meta->life_start &&
		(meta->flags & HOLDERS_RAPTORQ))
	{
		set->oti_stamp = own->oti_stamp;
		memcpy(set->oti, own->oti, HOLDERS_OTI_LEN);
	}
	set->entries = palloc(sizeof(HolderEntry) * cap);
	for (int i = 0; own != NULL && i < own->n; i++)
		if (own->entries[i].stamp >= meta->life_start)
			set->entries[set->n++] = own->entries[i];
	return set;
}

/* Set (shard, ref) to a state in the draft, adding the entry if needed. */
static HolderEntry *
set_entry(HolderSet *set, const HolderEntry *from, int state, uint32 stamp)
{
	HolderEntry *e = holders_find(set, from->shard, from->ref);

	if (e == NULL)
	{
		set->entries = repalloc(set->entries, sizeof(HolderEntry) * (set->n + 1));
		e = &set->entries[set->n++];
		*e = *from;
	}
	e->state = (uint8) state;
	e->stamp = stamp;
	if (state != HOLDER_ACTIVE)
		e->has_digest = from->has_digest;
	holders_sort(set->entries, set->n);
	return holders_find(set, from->shard, from->ref);
}

static void
write_draft(Datum token, const TokenRows *tr, const HolderSet *draft)
{
	const TokenRow *meta = &tr->rows[tr->res.meta_row];

	token_rows_write_own(token, dht_write_origin(), meta->bucket, meta->sla, draft,
						 tr->own >= 0 ? &tr->rows[tr->own] : NULL);
}

static char *
token_text(Datum token)
{
	size_t		len;

	return dht_token_text(DatumGetDhtTokenPP(token), &len);
}

static void
token_key_of(Datum token, uint8 *key)
{
	DhtKey	   *k = dht_token_to_key(DatumGetDhtTokenPP(token));

	memcpy(key, k->bytes, DHT_KEY_LEN);
	pfree(k);
}

/* The resolved holder of (shard, ref), or NULL. */
static const HolderEntry *
find_holder(const TokenRows *tr, int shard, uint64 ref)
{
	for (int i = 0; i < tr->res.n; i++)
		if (tr->holders[i].entry->shard == shard && tr->holders[i].entry->ref == ref)
			return tr->holders[i].entry;
	return NULL;
}

static bool
holds_any_shard(const TokenRows *tr, uint64 ref)
{
	for (int i = 0; i < tr->res.n; i++)
		if (tr->holders[i].entry->ref == ref)
			return true;
	return false;
}

/* ---- dht.release(token) */

Datum
dht_release(PG_FUNCTION_ARGS)
{
	Datum		token;
	uint8		key[DHT_KEY_LEN];
	TokenRows	tr;
	bool		released = false;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token must not be NULL")));
	token = PG_GETARG_DATUM(0);
	token_key_of(token, key);
	SPI_connect();
	token_lock_and_refresh(key);
	token_rows_read(token, dht_origin(), &tr);
	if (tr.res.live)
	{
		HolderSet  *draft = own_row_draft(&tr);

		/* Released: no entry matters any more; a new allocation starts a new life. */
		draft->flags |= HOLDERS_RELEASED;
		draft->meta_stamp = token_stamp_now(tr.res.max_stamp);
		draft->n = 0;
		write_draft(token, &tr, draft);
		released = true;
	}
	PopActiveSnapshot();
	SPI_finish();
	PG_RETURN_BOOL(released);
}

/* ---- dht.confirm(token, shard, node_id [, digest]) */

Datum
dht_confirm(PG_FUNCTION_ARGS)
{
	Datum		token;
	int			shard;
	DhtKey	   *node;
	uint8		key[DHT_KEY_LEN];
	TokenRows	tr;
	const HolderEntry *h;
	HolderSet  *draft;
	HolderEntry *e;
	uint32		stamp;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token, shard and node_id must not be NULL")));
	token = PG_GETARG_DATUM(0);
	shard = PG_GETARG_INT32(1);
	node = PG_GETARG_DHTKEY_P(2);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3) &&
		VARSIZE_ANY_EXHDR(PG_GETARG_BYTEA_PP(3)) != HOLDERS_DIGEST_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid fragment digest"),
				 errdetail("A digest is 32 bytes (dht.fragment_digest), not %d.",
						   (int) VARSIZE_ANY_EXHDR(PG_GETARG_BYTEA_PP(3)))));
	token_key_of(token, key);
	SPI_connect();
	token_lock_and_refresh(key);
	token_rows_read(token, dht_origin(), &tr);
	h = (shard >= 0 && shard < HOLDERS_MAX_SHARDS) ?
		find_holder(&tr, shard, holders_ref_of(node->bytes)) : NULL;
	if (h == NULL || h->state == HOLDER_RETIRING)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token \"%s\" has no pending or active shard %d on node %s",
						token_text(token), shard,
						DatumGetCString(DirectFunctionCall1(key_out, PointerGetDatum(node))))));
	stamp = token_stamp_now(tr.res.max_stamp);
	draft = own_row_draft(&tr);
	e = set_entry(draft, h, HOLDER_ACTIVE, stamp);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		e->has_digest = true;
		memcpy(e->digest, VARDATA_ANY(PG_GETARG_BYTEA_PP(3)), HOLDERS_DIGEST_LEN);
	}
	for (int i = 0; i < tr.res.n; i++)
		if (tr.holders[i].entry->shard == shard && tr.holders[i].entry->state == HOLDER_RETIRING)
			set_entry(draft, tr.holders[i].entry, HOLDER_DROPPED, stamp);
	write_draft(token, &tr, draft);
	PopActiveSnapshot();
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- dht.record_oti(token, oti) */

static void
check_oti(const bytea *oti, RqOti *o)
{
	RqOtiStatus st = rq_oti_unpack((const uint8 *) VARDATA_ANY(oti), VARSIZE_ANY_EXHDR(oti), o);

	if (st == RQ_OTI_OK)
		st = rq_oti_check(o);
	if (st != RQ_OTI_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid RaptorQ OTI"),
				 errdetail("%s", rq_oti_status_text(st))));
}

/* The token's class codes with RaptorQ, and its blocks fit the holders. */
static void
check_token_takes_oti(Datum token, const TokenRows *tr, const RqOti *o)
{
	const HolderSet *meta;
	RqLayout	lay;
	int			k;

	if (!tr->res.live)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token \"%s\" is not allocated", token_text(token))));
	meta = tr->rows[tr->res.meta_row].set;
	if (!(meta->flags & HOLDERS_RAPTORQ))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token \"%s\" is not coded with RaptorQ", token_text(token)),
				 errdetail("Its SLA class \"%s\" codes with Reed-Solomon, whose fragments describe themselves.",
						   tr->rows[tr->res.meta_row].sla)));
	rq_layout(o, &lay);
	k = meta->data_shards * meta->symbols_per_holder;
	if (lay.KL > (uint32) k)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the OTI's source blocks are larger than token \"%s\" is coded for", token_text(token)),
				 errdetail("Its largest source block has %u source symbols; %d holders of %d symbols hold %d.",
						   lay.KL, meta->data_shards, meta->symbols_per_holder, k),
				 errhint("Use a larger symbol size or more source blocks.")));
}

Datum
dht_record_oti(PG_FUNCTION_ARGS)
{
	Datum		token;
	bytea	   *oti;
	RqOti		o;
	uint8		key[DHT_KEY_LEN];
	TokenRows	tr;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token and oti must not be NULL")));
	token = PG_GETARG_DATUM(0);
	oti = PG_GETARG_BYTEA_PP(1);
	check_oti(oti, &o);
	token_key_of(token, key);
	SPI_connect();
	token_lock_and_refresh(key);
	token_rows_read(token, dht_origin(), &tr);
	check_token_takes_oti(token, &tr, &o);
	if (tr.res.oti_row >= 0 &&
		memcmp(tr.rows[tr.res.oti_row].set->oti, VARDATA_ANY(oti), HOLDERS_OTI_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token \"%s\" already has a different OTI", token_text(token)),
				 errdetail("Its holders store symbols coded under the OTI recorded first."),
				 errhint("To store other data, release the token and allocate it again.")));
	if (tr.res.oti_row < 0)
	{
		HolderSet  *draft = own_row_draft(&tr);

		draft->oti_stamp = token_stamp_now(tr.res.max_stamp);
		memcpy(draft->oti, VARDATA_ANY(oti), HOLDERS_OTI_LEN);
		write_draft(token, &tr, draft);
	}
	PopActiveSnapshot();
	SPI_finish();
	PG_RETURN_VOID();
}

/* ---- moves (dht.repair) */

/*
 * The range of a new holder of shard: the shard itself (Reed-Solomon: the
 * fragment index), or with RaptorQ one above every range any row of the
 * token ever gave out, so the replacement's symbols are ones nobody held.
 */
static uint16
replacement_range(Datum token, const TokenRows *tr, int shard)
{
	const HolderSet *meta = tr->rows[tr->res.meta_row].set;
	int64		next = 0;

	if (!(meta->flags & HOLDERS_RAPTORQ))
		return (uint16) shard;
	for (int r = 0; r < tr->nrows; r++)
		for (int i = 0; i < tr->rows[r].set->n; i++)
			next = Max(next, (int64) tr->rows[r].set->entries[i].range + 1);
	if (next > PG_UINT16_MAX || (next + 1) * meta->symbols_per_holder - 1 > RQ_MAX_ESI)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("token \"%s\" has no fresh RaptorQ symbols left", token_text(token)),
				 errdetail("Its holders were given %lld ranges of %d symbols; ESIs are 24-bit and ranges 16-bit.",
						   (long long) next, meta->symbols_per_holder),
				 errhint("Release the token and allocate it again (its data is then coded afresh).")));
	return (uint16) next;
}

bool
event_move(Datum token, int shard, const uint8 *from_id, const uint8 *to_id)
{
	uint8		key[DHT_KEY_LEN];
	TokenRows	tr;
	const HolderEntry *from;
	HolderEntry to;
	HolderSet  *draft;
	uint32		stamp;
	bool		applied = false;

	token_key_of(token, key);
	token_lock_and_refresh(key);
	token_rows_read(token, dht_origin(), &tr);
	from = find_holder(&tr, shard, holders_ref_of(from_id));
	if (from != NULL && from->state != HOLDER_RETIRING &&
		!holds_any_shard(&tr, holders_ref_of(to_id)))
	{
		stamp = token_stamp_now(tr.res.max_stamp);
		draft = own_row_draft(&tr);
		set_entry(draft, from, HOLDER_RETIRING, stamp);
		memset(&to, 0, sizeof(to));
		to.ref = holders_ref_of(to_id);
		to.shard = (uint8) shard;
		to.range = replacement_range(token, &tr, shard);
		set_entry(draft, &to, HOLDER_PENDING, stamp);
		write_draft(token, &tr, draft);
		applied = true;
		/* A node agent LISTENing on the channel learns it has work (at commit;
		 * PostgreSQL folds equal notifications of one transaction). */
		Async_Notify(DHT_ASSIGNMENT_CHANNEL,
					 DatumGetCString(DirectFunctionCall1(key_out, PointerGetDatum(to_id))));
	}
	PopActiveSnapshot();
	return applied;
}

/*
 * event_drop: a surplus holder of shard (another active holder of the shard
 * is kept) is dropped outright: it has no replacement that would confirm.
 * Only if some other holder of the shard is active in the rows read now.
 */
bool
event_drop(Datum token, int shard, const uint8 *node_id)
{
	uint8		key[DHT_KEY_LEN];
	TokenRows	tr;
	const HolderEntry *h;
	uint64		ref = holders_ref_of(node_id);
	bool		applied = false;

	token_key_of(token, key);
	token_lock_and_refresh(key);
	token_rows_read(token, dht_origin(), &tr);
	h = find_holder(&tr, shard, ref);
	if (h != NULL && h->state == HOLDER_ACTIVE)
	{
		bool		other_active = false;

		for (int i = 0; i < tr.res.n; i++)
		{
			const HolderEntry *e = tr.holders[i].entry;

			if (e->shard == shard && e->ref != ref && e->state == HOLDER_ACTIVE)
				other_active = true;
		}
		if (other_active)
		{
			uint32		stamp = token_stamp_now(tr.res.max_stamp);
			HolderSet  *draft = own_row_draft(&tr);

			set_entry(draft, h, HOLDER_DROPPED, stamp);
			write_draft(token, &tr, draft);
			applied = true;
		}
	}
	PopActiveSnapshot();
	return applied;
}
