/*
 * heartbeat.c
 *	  dht._heartbeat_apply(): check and record one signed heartbeat, the
 *	  hot path under dht.heartbeat and dht.heartbeat_many (56_heartbeat.sql).
 *
 * A million nodes beating every minute is 16,700 beats per second, so the
 * per-beat work is kept to the Ed25519 verification (libsodium, over the
 * bytes of DESIGN.md section 2 built in place) and two statements planned
 * once per backend: one read of what the node already has (registered?
 * greatest stored seq on any anchor, this anchor's last arrival) and one
 * upsert of the node's row (last beat, and the 64-slot bitmap shifted to the
 * current slot).  It returns the refusal (message, detail) instead of
 * raising it, so that the batch form needs no subtransaction per beat;
 * dht.heartbeat raises it (22023).
 */
#include "smartlayer_dht.h"

#include <math.h>
#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "key.h"
#include "registry_cache.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(dht_heartbeat_apply);
PG_FUNCTION_INFO_V1(dht_heartbeat);

#define HB_PREFIX "smartlayer_dht/heartbeat/v1"
#define HB_CLOCK_WINDOW 300

static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr upsert_plan = NULL;

static void
prepare_plans(void)
{
	if (read_plan == NULL)
	{
		Oid			types[2] = {BYTEAOID, TEXTOID};

		read_plan = SPI_prepare("SELECT EXISTS (SELECT FROM dht.node_log n WHERE n.node_id OPERATOR(dht.=) $1::dht.key), "
								"       max(h.seq), max(h.received_at) FILTER (WHERE h.origin = $2) "
								"FROM dht.heartbeat_log h WHERE h.node_id OPERATOR(dht.=) $1::dht.key", 2, types);
		if (read_plan == NULL || SPI_keepplan(read_plan) != 0)
			elog(ERROR, "smartlayer_dht: could not prepare the heartbeat read");
	}
	if (upsert_plan == NULL)
	{
		Oid			types[7] = {BYTEAOID, TEXTOID, INT8OID, INT8OID, BYTEAOID, INT4OID, INT8OID};

		upsert_plan = SPI_prepare(
			"INSERT INTO dht.heartbeat_log AS h (node_id, origin, seq, issued_at, signature, received_at, "
			"    slot_seconds, first_slot, last_slot, seen) "
			"VALUES ($1::dht.key, $2, $3, $4, $5, pg_catalog.clock_timestamp(), $6, $7, $7, 1) "
			"ON CONFLICT (node_id, origin) DO UPDATE SET "
			"    seq = excluded.seq, issued_at = excluded.issued_at, signature = excluded.signature, "
			"    received_at = excluded.received_at, slot_seconds = excluded.slot_seconds, "
			"    first_slot = CASE WHEN h.slot_seconds = excluded.slot_seconds THEN h.first_slot ELSE excluded.first_slot END, "
			"    last_slot = excluded.last_slot, "
			"    seen = CASE WHEN h.slot_seconds <> excluded.slot_seconds OR excluded.last_slot - h.last_slot >= 64 "
			"                     OR excluded.last_slot < h.last_slot THEN 1 "
			"                ELSE (h.seen << (excluded.last_slot - h.last_slot)::integer) | 1 END "
			"WHERE h.seq < excluded.seq", 7, types);
		if (upsert_plan == NULL || SPI_keepplan(upsert_plan) != 0)
			elog(ERROR, "smartlayer_dht: could not prepare the heartbeat upsert");
	}
}

/* The slot size now: heartbeat_interval, or window / 64 if longer. */
static int
slot_seconds(void)
{
	int			s = (dht_availability_window + 63) / 64;

	return Max(Max(dht_heartbeat_interval, s), 1);
}

static bytea *
message_bytes(const uint8 *pk, int64 seq, int64 issued, size_t *len)
{
	size_t		plen = strlen(HB_PREFIX),
				nlen = strlen(dht_network);
	bytea	   *m;
	uint8	   *p;

	*len = plen + 1 + nlen + 1 + 32 + 16;
	m = palloc(VARHDRSZ + *len);
	SET_VARSIZE(m, VARHDRSZ + *len);
	p = (uint8 *) VARDATA(m);
	memcpy(p, HB_PREFIX, plen);
	p += plen;
	*p++ = 0;
	memcpy(p, dht_network, nlen);
	p += nlen;
	*p++ = 0;
	memcpy(p, pk, 32);
	p += 32;
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8) ((uint64) seq >> (8 * i));
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8) ((uint64) issued >> (8 * i));
	return m;
}

/* The outcome of one beat: NULL message when recorded. */
typedef struct BeatOutcome
{
	const char *message;
	const char *detail;
} BeatOutcome;

static BeatOutcome
outcome(const char *message, const char *detail)
{
	BeatOutcome o = {message, detail};

	return o;
}

static Datum
result(FunctionCallInfo fcinfo, const char *message, const char *detail)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {message == NULL, detail == NULL};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "smartlayer_dht: _heartbeat_apply must return a record");
	values[0] = message ? CStringGetTextDatum(message) : (Datum) 0;
	values[1] = detail ? CStringGetTextDatum(detail) : (Datum) 0;
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

static BeatOutcome
apply_beat(FunctionCallInfo fcinfo)
{
	bytea	   *pk;
	bytea	   *sig;
	int64		seq,
				issued;
	size_t		mlen;
	bytea	   *msg;
	double		now_s,
				skew;
	DhtKey	   *id;
	bytea	   *idb;
	const char *origin;
	int			slot_s;
	int64		slot;
	bool		isnull;
	bool		registered;
	bool		touch;
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		return outcome("heartbeat pubkey, seq, issued_at and signature must not be NULL", NULL);
	pk = PG_GETARG_BYTEA_PP(0);
	seq = PG_GETARG_INT64(1);
	issued = PG_GETARG_INT64(2);
	sig = PG_GETARG_BYTEA_PP(3);
	if (VARSIZE_ANY_EXHDR(pk) != 32)
		return outcome("invalid heartbeat pubkey",
					  psprintf("An Ed25519 public key is 32 bytes, not %d.", (int) VARSIZE_ANY_EXHDR(pk)));
	if (VARSIZE_ANY_EXHDR(sig) != 64)
		return outcome("invalid heartbeat signature",
					  psprintf("An Ed25519 signature is 64 bytes, not %d.", (int) VARSIZE_ANY_EXHDR(sig)));
	if (seq < 0)
		return outcome("heartbeat seq must be 0 or more", NULL);
	msg = message_bytes((const uint8 *) VARDATA_ANY(pk), seq, issued, &mlen);
	if (crypto_sign_verify_detached((const uint8 *) VARDATA_ANY(sig), (const uint8 *) VARDATA(msg), mlen,
									(const uint8 *) VARDATA_ANY(pk)) != 0)
		return outcome("invalid heartbeat signature",
					  psprintf("The signature does not verify against the pubkey for network '%s'.", dht_network));
	now_s = (double) (GetCurrentTimestamp() / 1000) / 1000.0 +
		(double) ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	skew = now_s - (double) issued;
	if (fabs(skew) > HB_CLOCK_WINDOW)
		return outcome("heartbeat issued_at is outside the accepted window",
					  psprintf("It was issued %.0f s %s this anchor's clock; at most %d s are accepted.",
							   fabs(skew), skew < 0 ? "ahead of" : "behind", HB_CLOCK_WINDOW));
	id = dht_key_blake2b((const unsigned char *) VARDATA_ANY(pk), 32);
	idb = palloc(VARHDRSZ + DHT_KEY_LEN);
	SET_VARSIZE(idb, VARHDRSZ + DHT_KEY_LEN);
	memcpy(VARDATA(idb), id->bytes, DHT_KEY_LEN);
	origin = dht_write_origin();

	SPI_connect();
	prepare_plans();
	args[0] = PointerGetDatum(idb);
	args[1] = CStringGetTextDatum(origin);
	if (SPI_execute_plan(read_plan, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "smartlayer_dht: could not read the node's heartbeats");
	registered = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (!registered)
	{
		SPI_finish();
		return outcome(
					  psprintf("node %s is not registered",
							   DatumGetCString(DirectFunctionCall1(key_out, PointerGetDatum(id)))),
					  "A node announces itself (dht.announce) before it sends heartbeats.");
	}
	{
		Datum		maxseq = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull && seq <= DatumGetInt64(maxseq))
		{
			int64		stored = DatumGetInt64(maxseq);

			SPI_finish();
			return outcome("stale heartbeat",
						  psprintf("Its seq " INT64_FORMAT " is not above the stored seq " INT64_FORMAT ".",
								   seq, stored));
		}
	}
	{
		Datum		prev = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);

		/* A first beat, or one after a silence long enough to be marked down,
		 * changes what placement sees. */
		touch = isnull ||
			DatumGetTimestampTz(prev) < GetCurrentTimestamp() - (int64) dht_heartbeat_timeout * USECS_PER_SEC;
	}
	slot_s = slot_seconds();
	slot = (int64) floor(now_s / slot_s);
	args[2] = Int64GetDatum(seq);
	args[3] = Int64GetDatum(issued);
	args[4] = PointerGetDatum(sig);
	args[5] = Int32GetDatum(slot_s);
	args[6] = Int64GetDatum(slot);
	if (SPI_execute_plan(upsert_plan, args, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "smartlayer_dht: could not record a heartbeat");
	if (SPI_processed == 0)
	{
		/* a concurrent beat of the node with a greater seq won the row */
		SPI_finish();
		return outcome("stale heartbeat",
					  psprintf("Its seq " INT64_FORMAT " is not above the stored seq.", seq));
	}
	if (touch && SPI_execute("SELECT dht._registry_touch()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: could not invalidate the registry cache");
	SPI_finish();
	return outcome(NULL, NULL);
}

/* dht._heartbeat_apply(...): the outcome as (message, detail), for the batch form. */
Datum
dht_heartbeat_apply(PG_FUNCTION_ARGS)
{
	BeatOutcome o = apply_beat(fcinfo);

	return result(fcinfo, o.message, o.detail);
}

/* dht.heartbeat(...): record the beat or raise its refusal (22023). */
Datum
dht_heartbeat(PG_FUNCTION_ARGS)
{
	BeatOutcome o = apply_beat(fcinfo);

	if (o.message != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", o.message),
				 o.detail ? errdetail("%s", o.detail) : 0));
	PG_RETURN_VOID();
}
