/*
 * holders_type.c
 *	  The SQL type dht.holders: text and binary I/O, header accessors, the
 *	  containment operator and its GIN operator class.
 *
 * A dht.holders value is a varlena whose payload is the packed format of
 * holders.h, validated on every way in (text input, binary receive), so a
 * table never holds a value that resolution would misread.
 *
 * Text form, for psql, pg_dump and debugging:
 *
 *	  (4+2,epoch=0,meta=183012345,life=0[,released][,raptorq,s=1[,oti=<24 hex>@183012399]])
 *		0:0123456789abcdef:active@183012345[:r7][:d<64 hex>] 1:...
 *
 * the shape and header (with RaptorQ: symbols per holder, and the OTI with
 * its stamp once recorded), then one entry per holder: shard, node
 * reference (16 hex digits), state, stamp, and the RaptorQ range and
 * fragment digest when present.  Input takes exactly what output writes.
 *
 * Node feeds: `holders @> node_id` is true when the value has a live
 * (not dropped) entry for that node; the GIN operator class indexes the
 * node references of live entries (int8 keys), so "which rows name this
 * node" is one index lookup.  The operator is exact for what it says, so
 * the index needs no recheck.
 */
#include "smartlayer_dht.h"

#include "access/gin.h"
#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "holders.h"
#include "holders_sql.h"
#include "key.h"

PG_FUNCTION_INFO_V1(holders_in);
PG_FUNCTION_INFO_V1(holders_out);
PG_FUNCTION_INFO_V1(holders_recv);
PG_FUNCTION_INFO_V1(holders_send);
PG_FUNCTION_INFO_V1(holders_meta_stamp);
PG_FUNCTION_INFO_V1(holders_released);
PG_FUNCTION_INFO_V1(holders_data_shards);
PG_FUNCTION_INFO_V1(holders_parity_shards);
PG_FUNCTION_INFO_V1(holders_epoch);
PG_FUNCTION_INFO_V1(holders_allocated_at);
PG_FUNCTION_INFO_V1(holders_coding);
PG_FUNCTION_INFO_V1(holders_symbols_per_holder);
PG_FUNCTION_INFO_V1(holders_contains_node);
PG_FUNCTION_INFO_V1(holders_gin_extract_value);
PG_FUNCTION_INFO_V1(holders_gin_extract_query);
PG_FUNCTION_INFO_V1(holders_gin_consistent);

#define HOLDERS_STRATEGY_CONTAINS_NODE 7

/* ---- decoding a datum */

HolderSet *
dht_holders_decode(struct varlena *value)
{
	const uint8 *data = (const uint8 *) VARDATA_ANY(value);
	size_t		len = VARSIZE_ANY_EXHDR(value);
	HolderSet  *set = palloc(sizeof(HolderSet));
	HolderEntry *entries = palloc(sizeof(HolderEntry) * Max(holders_count_upper(len), 1));
	HoldersError err = holders_decode(data, len, set, entries);

	if (err != HOLDERS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid dht.holders value"),
				 errdetail("%s", holders_error_message(err))));
	return set;
}

HolderSet *
dht_holders_datum(Datum d)
{
	return dht_holders_decode((struct varlena *) PG_DETOAST_DATUM_PACKED(d));
}

struct varlena *
dht_holders_encode(const HolderSet *set)
{
	size_t		len = holders_encoded_len(set);
	struct varlena *v = palloc(VARHDRSZ + len);

	SET_VARSIZE(v, VARHDRSZ + len);
	holders_encode(set, (uint8 *) VARDATA(v));
	return v;
}

/* Only the header, for the accessors the views call per row. */
static void
decode_header_only(Datum d, HolderSet *set)
{
	struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(d);
	size_t		entries_at;
	HoldersError err = holders_decode_header((const uint8 *) VARDATA_ANY(v),
											 VARSIZE_ANY_EXHDR(v), set, &entries_at);

	if (err != HOLDERS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid dht.holders value"),
				 errdetail("%s", holders_error_message(err))));
}

/* ---- text I/O */

static void
append_hex(StringInfo buf, const uint8 *bytes, int len)
{
	for (int i = 0; i < len; i++)
		appendStringInfo(buf, "%02x", bytes[i]);
}

static void
append_entry(StringInfo buf, const HolderSet *set, const HolderEntry *e)
{
	appendStringInfo(buf, " %d:%016llx:%s@%u", e->shard, (unsigned long long) e->ref,
					 holders_state_name(e->state), e->stamp);
	if (set->flags & HOLDERS_RAPTORQ)
		appendStringInfo(buf, ":r%u", e->range);
	if (e->has_digest)
	{
		appendStringInfoString(buf, ":d");
		append_hex(buf, e->digest, HOLDERS_DIGEST_LEN);
	}
}

Datum
holders_out(PG_FUNCTION_ARGS)
{
	HolderSet  *set = dht_holders_datum(PG_GETARG_DATUM(0));
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "(%d+%d,epoch=%u,meta=%u,life=%u%s", set->data_shards,
					 set->parity_shards, set->epoch, set->meta_stamp, set->life_start,
					 (set->flags & HOLDERS_RELEASED) ? ",released" : "");
	if (set->flags & HOLDERS_RAPTORQ)
	{
		appendStringInfo(&buf, ",raptorq,s=%u", set->symbols_per_holder);
		if (set->oti_stamp != 0)
		{
			appendStringInfoString(&buf, ",oti=");
			append_hex(&buf, set->oti, HOLDERS_OTI_LEN);
			appendStringInfo(&buf, "@%u", set->oti_stamp);
		}
	}
	appendStringInfoChar(&buf, ')');
	for (int i = 0; i < set->n; i++)
		append_entry(&buf, set, &set->entries[i]);
	PG_RETURN_CSTRING(buf.data);
}

static void
bad_holders_text(const char *input, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type dht.holders: \"%s\"", input),
			 errdetail("%s", why)));
}

/* An unsigned decimal that fits max; advances *p. */
static uint64
parse_uint(const char **p, uint64 max, const char *input, const char *what)
{
	uint64		v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		bad_holders_text(input, psprintf("Expected a number for the %s.", what));
	for (; *s >= '0' && *s <= '9'; s++)
	{
		v = v * 10 + (uint64) (*s - '0');
		if (v > max)
			bad_holders_text(input, psprintf("The %s is out of range.", what));
	}
	*p = s;
	return v;
}

static void
expect(const char **p, const char *token, const char *input)
{
	size_t		len = strlen(token);

	if (strncmp(*p, token, len) != 0)
		bad_holders_text(input, psprintf("Expected \"%s\" at \"%.20s\".", token, *p));
	*p += len;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* len bytes as 2 * len lower-case hex digits; advances *p. */
static void
parse_hex(const char **p, uint8 *out, int len, const char *input, const char *why)
{
	for (int i = 0; i < len; i++, *p += 2)
	{
		int			hi = hexval((*p)[0]);
		int			lo = hi < 0 ? -1 : hexval((*p)[1]);

		if (lo < 0)
			bad_holders_text(input, why);
		out[i] = (uint8) (hi << 4 | lo);
	}
}

/* ",s=N[,oti=HEX@STAMP]" after ",raptorq". */
static void
parse_raptorq(const char **p, HolderSet *set, const char *input)
{
	expect(p, ",s=", input);
	set->symbols_per_holder = (uint16) parse_uint(p, PG_UINT16_MAX, input, "symbols per holder");
	if (set->symbols_per_holder == 0)
		bad_holders_text(input, holders_error_message(HOLDERS_BAD_RAPTORQ));
	if (strncmp(*p, ",oti=", 5) == 0)
	{
		*p += 5;
		parse_hex(p, set->oti, HOLDERS_OTI_LEN, input, "An OTI is 24 lower-case hex digits.");
		expect(p, "@", input);
		set->oti_stamp = (uint32) parse_uint(p, PG_UINT32_MAX, input, "OTI stamp");
		if (set->oti_stamp == 0)
			bad_holders_text(input, holders_error_message(HOLDERS_BAD_RAPTORQ));
	}
}

static void
parse_header(const char **p, HolderSet *set, const char *input)
{
	expect(p, "(", input);
	set->data_shards = (uint8) parse_uint(p, 255, input, "data shard count");
	expect(p, "+", input);
	set->parity_shards = (uint8) parse_uint(p, 254, input, "parity shard count");
	expect(p, ",epoch=", input);
	set->epoch = (uint32) parse_uint(p, PG_UINT32_MAX, input, "epoch");
	expect(p, ",meta=", input);
	set->meta_stamp = (uint32) parse_uint(p, PG_UINT32_MAX, input, "meta stamp");
	expect(p, ",life=", input);
	set->life_start = (uint32) parse_uint(p, PG_UINT32_MAX, input, "life start");
	set->flags = 0;
	set->symbols_per_holder = 0;
	set->oti_stamp = 0;
	memset(set->oti, 0, HOLDERS_OTI_LEN);
	if (strncmp(*p, ",released", 9) == 0)
	{
		set->flags |= HOLDERS_RELEASED;
		*p += 9;
	}
	if (strncmp(*p, ",raptorq", 8) == 0)
	{
		set->flags |= HOLDERS_RAPTORQ;
		*p += 8;
		parse_raptorq(p, set, input);
	}
	expect(p, ")", input);
}

static void
parse_entry(const char **p, const HolderSet *set, HolderEntry *e, const char *input)
{
	char		state[16];
	int			len = 0;

	e->shard = (uint8) parse_uint(p, 254, input, "shard");
	expect(p, ":", input);
	e->ref = 0;
	for (int i = 0; i < 16; i++, (*p)++)
	{
		int			h = hexval(**p);

		if (h < 0)
			bad_holders_text(input, "A node reference is 16 lower-case hex digits.");
		e->ref = e->ref << 4 | (uint64) h;
	}
	expect(p, ":", input);
	while (**p >= 'a' && **p <= 'z' && len < (int) sizeof(state) - 1)
		state[len++] = *(*p)++;
	state[len] = '\0';
	if (holders_state_of(state) < 0)
		bad_holders_text(input, psprintf("Unknown holder state \"%s\".", state));
	e->state = (uint8) holders_state_of(state);
	expect(p, "@", input);
	e->stamp = (uint32) parse_uint(p, PG_UINT32_MAX, input, "stamp");
	e->range = e->shard;
	if (set->flags & HOLDERS_RAPTORQ)
	{
		expect(p, ":r", input);
		e->range = (uint16) parse_uint(p, PG_UINT16_MAX, input, "range");
	}
	e->has_digest = strncmp(*p, ":d", 2) == 0;
	memset(e->digest, 0, HOLDERS_DIGEST_LEN);
	if (e->has_digest)
	{
		*p += 2;
		parse_hex(p, e->digest, HOLDERS_DIGEST_LEN, input, "A digest is 64 lower-case hex digits.");
	}
}

Datum
holders_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *p = input;
	HolderSet	set;
	int			cap = 16;

	parse_header(&p, &set, input);
	if (set.data_shards == 0 || (int) set.data_shards + set.parity_shards > HOLDERS_MAX_SHARDS)
		bad_holders_text(input, holders_error_message(HOLDERS_BAD_SHAPE));
	set.n = 0;
	set.entries = palloc(sizeof(HolderEntry) * cap);
	while (*p == ' ')
	{
		p++;
		if (set.n == HOLDERS_MAX_ENTRIES)
			bad_holders_text(input, holders_error_message(HOLDERS_TOO_MANY));
		if (set.n == cap)
			set.entries = repalloc(set.entries, sizeof(HolderEntry) * (cap *= 2));
		parse_entry(&p, &set, &set.entries[set.n++], input);
	}
	if (*p != '\0')
		bad_holders_text(input, psprintf("Unexpected \"%.20s\".", p));
	for (int i = 1; i < set.n; i++)
		if (set.entries[i - 1].shard > set.entries[i].shard ||
			(set.entries[i - 1].shard == set.entries[i].shard &&
			 set.entries[i - 1].ref >= set.entries[i].ref))
			bad_holders_text(input, holders_error_message(HOLDERS_UNSORTED));
	PG_RETURN_POINTER(dht_holders_encode(&set));
}

/* ---- binary I/O: the packed bytes, validated */

Datum
holders_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	struct varlena *v = palloc(VARHDRSZ + len);
	HolderSet	set;
	HolderEntry *entries = palloc(sizeof(HolderEntry) * Max(holders_count_upper(len), 1));
	HoldersError err;

	SET_VARSIZE(v, VARHDRSZ + len);
	pq_copymsgbytes(buf, VARDATA(v), len);
	err = holders_decode((const uint8 *) VARDATA(v), len, &set, entries);
	if (err != HOLDERS_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary input for type dht.holders"),
				 errdetail("%s", holders_error_message(err))));
	pfree(entries);
	PG_RETURN_POINTER(v);
}

Datum
holders_send(PG_FUNCTION_ARGS)
{
	struct varlena *v = (struct varlena *) PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---- header accessors (the views call them per row: header only) */

Datum
holders_meta_stamp(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_INT64((int64) set.meta_stamp);
}

Datum
holders_released(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_BOOL((set.flags & HOLDERS_RELEASED) != 0);
}

Datum
holders_data_shards(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_INT32(set.data_shards);
}

Datum
holders_parity_shards(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_INT32(set.parity_shards);
}

Datum
holders_epoch(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_INT64((int64) set.epoch);
}

/* The allocation's stamp, as a timestamp (second resolution). */
Datum
holders_allocated_at(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_TIMESTAMPTZ(dht_stamp_time(set.meta_stamp));
}

Datum
holders_coding(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	PG_RETURN_TEXT_P(cstring_to_text((set.flags & HOLDERS_RAPTORQ) ? "raptorq" : "reed-solomon"));
}

/* NULL for Reed-Solomon: its fragments are not symbol ranges. */
Datum
holders_symbols_per_holder(PG_FUNCTION_ARGS)
{
	HolderSet	set;

	decode_header_only(PG_GETARG_DATUM(0), &set);
	if (!(set.flags & HOLDERS_RAPTORQ))
		PG_RETURN_NULL();
	PG_RETURN_INT32(set.symbols_per_holder);
}

TimestampTz
dht_stamp_time(uint32 stamp)
{
	return ((TimestampTz) stamp + HOLDERS_STAMP_EPOCH -
			(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) * USECS_PER_SEC;
}

/* ---- node containment and its GIN operator class */

static bool
has_live_entry(const HolderSet *set, uint64 ref)
{
	for (int i = 0; i < set->n; i++)
		if (set->entries[i].ref == ref && set->entries[i].state != HOLDER_DROPPED)
			return true;
	return false;
}

Datum
holders_contains_node(PG_FUNCTION_ARGS)
{
	HolderSet  *set = dht_holders_datum(PG_GETARG_DATUM(0));
	DhtKey	   *node = PG_GETARG_DHTKEY_P(1);

	PG_RETURN_BOOL(has_live_entry(set, holders_ref_of(node->bytes)));
}

/* The distinct node refs of live entries, as int8 keys. */
Datum
holders_gin_extract_value(PG_FUNCTION_ARGS)
{
	HolderSet  *set = dht_holders_datum(PG_GETARG_DATUM(0));
	int32	   *nkeys = (int32 *) PG_GETARG_POINTER(1);
	Datum	   *keys = palloc(sizeof(Datum) * Max(set->n, 1));
	int			n = 0;

	for (int i = 0; i < set->n; i++)
	{
		bool		seen = false;

		if (set->entries[i].state == HOLDER_DROPPED)
			continue;
		for (int j = 0; j < n && !seen; j++)
			seen = DatumGetInt64(keys[j]) == (int64) set->entries[i].ref;
		if (!seen)
			keys[n++] = Int64GetDatum((int64) set->entries[i].ref);
	}
	*nkeys = n;
	PG_RETURN_POINTER(keys);
}

Datum
holders_gin_extract_query(PG_FUNCTION_ARGS)
{
	DhtKey	   *node = PG_GETARG_DHTKEY_P(0);
	int32	   *nkeys = (int32 *) PG_GETARG_POINTER(1);
	Datum	   *keys = palloc(sizeof(Datum));

	keys[0] = Int64GetDatum((int64) holders_ref_of(node->bytes));
	*nkeys = 1;
	PG_RETURN_POINTER(keys);
}

Datum
holders_gin_consistent(PG_FUNCTION_ARGS)
{
	bool	   *check = (bool *) PG_GETARG_POINTER(0);
	bool	   *recheck = (bool *) PG_GETARG_POINTER(5);

	*recheck = false;
	PG_RETURN_BOOL(check[0]);
}
