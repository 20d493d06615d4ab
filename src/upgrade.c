/*
 * upgrade.c
 *	  Conversion of a 0.1.0 directory to 0.2.0's rows, run once by
 *	  ALTER EXTENSION smartlayer_dht UPDATE (dht._upgrade_convert_v01).
 *
 * 0.1.0 kept a token row per (token, origin) and a placement row per
 * (token, shard, node, origin), each with a microsecond event time; its
 * views resolved them by (event time, origin).  0.2.0 keeps one row per
 * (token, origin) with packed holders stamped in seconds (holders.h).  The
 * conversion keeps the resolution: for each token, its distinct event times
 * over all rows, in order, get strictly increasing stamps (the event's
 * second, or one more than the previous stamp), events at the same instant
 * share one, so (stamp, origin) orders the events exactly as (event time,
 * origin) did.  0.1.0 released a token by dropping its holders, so every
 * dropped holder is kept as a dropped entry and no row needs a new life.
 *
 * An origin with placement rows but no token row of its own (0.1.0 repairs
 * and confirms by another anchor wrote only placements) gets a row whose
 * metadata is the token's winning metadata, as 0.2.0's events write it.
 *
 * Every anchor converts its whole directory, its peers' rows included;
 * dht.anchor_resume then replaces the peers' rows by their own conversion
 * (an initial copy), so each origin's rows come from one conversion.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "digest.h"
#include "holders_sql.h"
#include "key.h"
#include "registry_cache.h"
#include "token.h"
#include "tokenrows.h"

PG_FUNCTION_INFO_V1(upgrade_convert_v01);

#define FETCH_ROWS 10000

/* One 0.1.0 event: a token row (kind 'T') or a placement row ('P'). */
typedef struct OldEvent
{
	char		kind;
	char	   *origin;
	TimestampTz event_at;
	/* token rows */
	char	   *sla;
	int			data_shards;
	int			parity_shards;
	int64		epoch;
	bool		released;
	/* placement rows */
	int			shard;
	uint8		node[DHT_KEY_LEN];
	int			state;
	bool		has_digest;
	uint8		digest[HOLDERS_DIGEST_LEN];
	/* assigned */
	uint32		stamp;
} OldEvent;

typedef struct TokenEvents
{
	Datum		token;
	int			n;
	int			cap;
	OldEvent   *events;
} TokenEvents;

static uint32
second_stamp(TimestampTz t)
{
	int64		unix_s = t / USECS_PER_SEC + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

	return holders_next_stamp(unix_s, 0);
}

/* Events come sorted by (event time, origin): distinct times, rising stamps. */
static void
assign_stamps(TokenEvents *te)
{
	uint32		prev = 0;

	for (int i = 0; i < te->n; i++)
	{
		OldEvent   *e = &te->events[i];

		if (i > 0 && e->event_at == te->events[i - 1].event_at)
			e->stamp = prev;
		else
			e->stamp = prev = Max(second_stamp(e->event_at), i == 0 ? 0 : prev + 1);
	}
}

/* The token row with the greatest (event time, origin), or NULL. */
static OldEvent *
winning_token_row(TokenEvents *te)
{
	OldEvent   *best = NULL;

	for (int i = 0; i < te->n; i++)
	{
		OldEvent   *e = &te->events[i];

		if (e->kind == 'T' &&
			(best == NULL || e->event_at > best->event_at ||
			 (e->event_at == best->event_at && strcmp(e->origin, best->origin) > 0)))
			best = e;
	}
	return best;
}

static HolderEntry *
add_entry(HolderSet *set, const OldEvent *e)
{
	uint64		ref = holders_ref_of(e->node);
	HolderEntry *x = NULL;

	for (int i = 0; i < set->n; i++)
		if (set->entries[i].shard == e->shard && set->entries[i].ref == ref)
			x = &set->entries[i];	/* two node ids of one prefix: the later wins */
	if (x == NULL)
		x = &set->entries[set->n++];
	memset(x, 0, sizeof(*x));
	x->ref = ref;
	x->shard = (uint8) e->shard;
	x->range = (uint16) e->shard;
	x->state = (uint8) e->state;
	x->stamp = e->stamp;
	x->has_digest = e->has_digest;
	memcpy(x->digest, e->digest, HOLDERS_DIGEST_LEN);
	return x;
}

/* Write one origin's 0.2.0 row of the token. */
static void
write_origin(TokenEvents *te, const char *origin, const OldEvent *meta)
{
	HolderSet	set;
	const OldEvent *own = NULL;

	memset(&set, 0, sizeof(set));
	set.entries = palloc(sizeof(HolderEntry) * te->n);
	for (int i = 0; i < te->n; i++)
	{
		OldEvent   *e = &te->events[i];

		if (strcmp(e->origin, origin) != 0)
			continue;
		if (e->kind == 'T')
			own = e;
		else if (e->shard >= 0 && e->shard < HOLDERS_MAX_SHARDS)
			add_entry(&set, e);
	}
	if (own == NULL)
		own = meta;
	set.flags = own->released ? HOLDERS_RELEASED : 0;
	set.data_shards = (uint8) own->data_shards;
	set.parity_shards = (uint8) own->parity_shards;
	set.meta_stamp = own->stamp;
	set.life_start = 0;
	set.epoch = (uint32) own->epoch;
	holders_sort(set.entries, set.n);
	token_rows_write_own(te->token, origin, (int16) dht_token_bucket(DatumGetDhtTokenPP(te->token)),
						 own->sla, &set, NULL);
}

/* Convert one token's events; returns false if it has no token row at all. */
static bool
convert_token(TokenEvents *te)
{
	OldEvent   *meta;

	assign_stamps(te);
	meta = winning_token_row(te);
	if (meta == NULL)
		return false;
	for (int i = 0; i < te->n; i++)
	{
		bool		first = true;

		for (int j = 0; j < i && first; j++)
			first = strcmp(te->events[j].origin, te->events[i].origin) != 0;
		if (first)
			write_origin(te, te->events[i].origin, meta);
	}
	return true;
}

static void
read_event(HeapTuple tup, TupleDesc desc, OldEvent *e)
{
	bool		isnull;
	Datum		d;

	e->kind = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull))[0];
	e->origin = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
	e->event_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
	d = SPI_getbinval(tup, desc, 5, &isnull);
	e->sla = isnull ? NULL : TextDatumGetCString(d);
	d = SPI_getbinval(tup, desc, 6, &isnull);
	e->data_shards = isnull ? 0 : DatumGetInt32(d);
	d = SPI_getbinval(tup, desc, 7, &isnull);
	e->parity_shards = isnull ? 0 : DatumGetInt32(d);
	e->epoch = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
	d = SPI_getbinval(tup, desc, 9, &isnull);
	e->released = !isnull && DatumGetBool(d);
	d = SPI_getbinval(tup, desc, 10, &isnull);
	e->shard = isnull ? -1 : DatumGetInt32(d);
	d = SPI_getbinval(tup, desc, 11, &isnull);
	if (!isnull)
		memcpy(e->node, DatumGetDhtKeyP(d)->bytes, DHT_KEY_LEN);
	d = SPI_getbinval(tup, desc, 12, &isnull);
	e->state = isnull ? 0 : holders_state_of(TextDatumGetCString(d));
	if (e->state < 0)
		e->state = HOLDER_DROPPED;
	d = SPI_getbinval(tup, desc, 13, &isnull);
	e->has_digest = !isnull && VARSIZE_ANY_EXHDR(DatumGetByteaPP(d)) == HOLDERS_DIGEST_LEN;
	if (e->has_digest)
		memcpy(e->digest, VARDATA_ANY(DatumGetByteaPP(d)), HOLDERS_DIGEST_LEN);
}

static bool
same_token_datum(Datum a, Datum b)
{
	DhtToken   *x = DatumGetDhtTokenPP(a);
	DhtToken   *y = DatumGetDhtTokenPP(b);

	return DHT_TOKEN_LEN(x) == DHT_TOKEN_LEN(y) &&
		memcmp(DHT_TOKEN_DATA(x), DHT_TOKEN_DATA(y), DHT_TOKEN_LEN(x)) == 0;
}

/*
 * dht._upgrade_convert_v01() returns the number of tokens converted; tokens
 * that had placements but no token row anywhere (none in a consistent
 * 0.1.0 directory) are counted in a NOTICE and left out.
 */
Datum
upgrade_convert_v01(PG_FUNCTION_ARGS)
{
	MemoryContext tokcxt = AllocSetContextCreate(CurrentMemoryContext, "upgrade token",
												 ALLOCSET_DEFAULT_SIZES);
	TokenEvents te = {0};
	int64		converted = 0,
				orphans = 0;
	Portal		cursor;

	SPI_connect();
	cursor = SPI_cursor_open_with_args(NULL,
									   "SELECT token, 'T'::text, origin, event_at, sla, data_shards, parity_shards, "
									   "       epoch, released, NULL::int, NULL::dht.key, NULL::text, NULL::bytea "
									   "FROM dht.token_log_v01 "
									   "UNION ALL "
									   "SELECT token, 'P', origin, event_at, NULL, NULL, NULL, epoch, NULL, shard, node_id, "
									   "       state, digest FROM dht.placement_log_v01 "
									   "ORDER BY 1, 4, 3, 2", 0, NULL, NULL, NULL, true, 0);
	for (;;)
	{
		SPITupleTable *batch;
		uint64		nbatch;

		SPI_cursor_fetch(cursor, true, FETCH_ROWS);
		/* Converting runs inserts, which replace SPI_tuptable: keep ours. */
		batch = SPI_tuptable;
		nbatch = SPI_processed;
		if (nbatch == 0)
			break;
		for (uint64 r = 0; r < nbatch; r++)
		{
			HeapTuple	tup = batch->vals[r];
			bool		isnull;
			Datum		token = SPI_getbinval(tup, batch->tupdesc, 1, &isnull);
			MemoryContext old;

			CHECK_FOR_INTERRUPTS();
			if (te.n > 0 && !same_token_datum(te.token, token))
			{
				if (convert_token(&te))
					converted++;
				else
					orphans++;
				te.n = 0;
				MemoryContextReset(tokcxt);
			}
			old = MemoryContextSwitchTo(tokcxt);
			if (te.n == 0)
			{
				te.token = datumCopy(token, false, -1);
				te.cap = 16;
				te.events = palloc(sizeof(OldEvent) * te.cap);
			}
			else if (te.n == te.cap)
				te.events = repalloc(te.events, sizeof(OldEvent) * (te.cap *= 2));
			read_event(tup, batch->tupdesc, &te.events[te.n++]);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(batch);
	}
	if (te.n > 0)
	{
		if (convert_token(&te))
			converted++;
		else
			orphans++;
	}
	SPI_cursor_close(cursor);
	SPI_finish();
	if (orphans > 0)
		ereport(NOTICE,
				(errmsg("%lld tokens had placements but no token row and were left out", (long long) orphans)));
	PG_RETURN_INT64(converted);
}
