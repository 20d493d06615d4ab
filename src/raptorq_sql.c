/*
 * raptorq_sql.c
 *	  SQL functions for RaptorQ (RFC 6330): dht.rq_oti, dht.rq_oti_info,
 *	  dht.rq_encode, dht.rq_packets, dht.rq_holder_fragment, dht.rq_decode
 *	  (with and without digests) and dht.rq_plan_holders.
 *
 * The coding is src/rq_*.c (pure C); this file checks arguments, turns
 * statuses into errors and builds results.  The module allocates through
 * an RqEnv whose allocator is palloc in a memory context made for the call
 * (deleted before returning; on an error, the transaction's cleanup frees
 * it) and whose check is CHECK_FOR_INTERRUPTS, which the coder calls in
 * every long loop: a query cancel or statement_timeout stops a large encode
 * within milliseconds.  The module's working memory is bounded by
 * RQ_WORK_BUDGET (besides the argument and the result): a source block that
 * would need more is refused with 54000.
 *
 * Packets are a 4-byte FEC Payload ID (SBN, then ESI in 24 bits, big-endian)
 * and a T-byte symbol.  An element of rq_decode's packet array may hold
 * several whole packets back to back (what rq_holder_fragment returns: one
 * holder's packets), so a holder's share is one bytea with one digest.
 *
 * Integrity: RFC 6330 packets carry no checksum, and foreign or corrupted
 * packets decode silently into wrong bytes.  rq_decode(oti, packets,
 * digests) uses only the elements whose BLAKE2b digest
 * (dht.fragment_digest) is the one recorded for them.
 */
#include "smartlayer_dht.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "rq.h"
#include "rq_plan.h"

PG_FUNCTION_INFO_V1(rq_oti_make);
PG_FUNCTION_INFO_V1(rq_oti_info);
PG_FUNCTION_INFO_V1(rq_encode);
PG_FUNCTION_INFO_V1(rq_packets);
PG_FUNCTION_INFO_V1(rq_holder_fragment);
PG_FUNCTION_INFO_V1(rq_decode);
PG_FUNCTION_INFO_V1(rq_decode_digests);
PG_FUNCTION_INFO_V1(rq_plan_holders_sql);

/* Working memory of one call, besides its argument and result. */
#define RQ_WORK_BUDGET ((size_t) 512 * 1024 * 1024)

#define DIGEST_LEN 32

/* ---- the module's environment ---------------------------------------------- */

typedef struct SqlEnv
{
	RqEnv		env;
	MemoryContext cxt;
} SqlEnv;

static void *
sql_alloc(void *arg, size_t size)
{
	return MemoryContextAlloc(((SqlEnv *) arg)->cxt, size);
}

static void
sql_release(void *arg, void *ptr)
{
	pfree(ptr);
}

static void
sql_check(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

static void
env_begin(SqlEnv *e)
{
	rq_gf_init();
	memset(e, 0, sizeof(*e));
	e->cxt = AllocSetContextCreate(CurrentMemoryContext, "raptorq", ALLOCSET_DEFAULT_SIZES);
	e->env.alloc = sql_alloc;
	e->env.release = sql_release;
	e->env.check = sql_check;
	e->env.arg = e;
	e->env.budget = RQ_WORK_BUDGET;
}

static void
env_end(SqlEnv *e)
{
	MemoryContextDelete(e->cxt);
}

/* An error for a status of coding block sbn (K symbols of T bytes). */
static void
report_status(RqStatus st, uint32_t sbn, uint32_t K, uint32_t T)
{
	switch (st)
	{
		case RQ_OK:
			return;
		case RQ_ERR_LIMIT:
		case RQ_ERR_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("RaptorQ working memory limit exceeded"),
					 errdetail("Source block %u (%u symbols of %u bytes) needs more than %zu MB.",
							   sbn, K, T, RQ_WORK_BUDGET >> 20),
					 errhint("Use more source blocks or smaller symbols.")));
			break;
		case RQ_ERR_SINGULAR:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("not enough packets to decode source block %u", sbn),
					 errdetail("Its distinct symbols do not determine its %u source symbols (RFC 6330 decoding fails this way with probability below 1%% at K symbols, 0.01%% at K + 1).", K),
					 errhint("Supply one or two more packets of that block.")));
			break;
		case RQ_ERR_TOO_FEW:
		case RQ_ERR_BAD_PACKET:
			elog(ERROR, "unexpected RaptorQ status: %s", rq_status_text(st));
			break;
	}
}

/* ---- arguments -------------------------------------------------------------- */

static void
report_oti(RqOtiStatus st, const RqOti *o)
{
	const char *what = rq_oti_status_text(st);

	switch (st)
	{
		case RQ_OTI_OK:
			return;
		case RQ_OTI_BAD_F:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("transfer length must be between 1 and %llu, not %llu",
							(unsigned long long) RQ_MAX_F, (unsigned long long) o->F)));
			break;
		case RQ_OTI_BAD_T:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("symbol size must be a positive multiple of the alignment (%u) up to %d, not %u",
							o->Al, RQ_MAX_T, o->T)));
			break;
		case RQ_OTI_BAD_Z:
		case RQ_OTI_Z_OVER_KT:
		case RQ_OTI_K_TOO_LARGE:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid number of source blocks: %u", o->Z),
					 errdetail("With transfer length %llu and symbol size %u there are %llu source symbols; %s.",
							   (unsigned long long) o->F, o->T,
							   (unsigned long long) (o->T > 0 ? (o->F + o->T - 1) / o->T : 0), what),
					 errhint("Use between ceil(symbols / 56403) and min(symbols, 255) source blocks.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid RaptorQ OTI"),
					 errdetail("%c%s.", pg_toupper((unsigned char) what[0]), what + 1)));
			break;
	}
}

static void
oti_arg(bytea *b, RqOti *o)
{
	report_oti(rq_oti_unpack((const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), o), o);
}

/* Refuse up front a block whose coding cannot fit in the budget. */
static void
check_work_memory(const RqOti *o)
{
	RqLayout	lay;
	uint64_t	need;

	rq_layout(o, &lay);
	need = rq_block_work_bytes(lay.KL, o->T);
	if (need > RQ_WORK_BUDGET)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("RaptorQ source blocks too large: %u symbols of %u bytes", lay.KL, o->T),
				 errdetail("Coding such a block takes at least %llu MB of working memory; the limit is %zu MB.",
						   (unsigned long long) (need >> 20), RQ_WORK_BUDGET >> 20),
				 errhint("Use more source blocks or smaller symbols.")));
}

static void
check_data_length(bytea *data, const RqOti *o)
{
	uint64_t	len = VARSIZE_ANY_EXHDR(data);

	if (len != o->F)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("data length %llu does not match the OTI's transfer length %llu",
						(unsigned long long) len, (unsigned long long) o->F)));
}

/* first_esi .. first_esi + count - 1 must be ESIs (24 bits). */
static void
check_esi_range(int64 first, int64 count)
{
	if (count < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must not be negative, not %lld", (long long) count)));
	if (first < 0 || first + count - 1 > (int64) RQ_MAX_ESI)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ESIs %lld to %lld are out of range",
						(long long) first, (long long) (first + count - 1)),
				 errdetail("ESIs run from 0 to %u (24 bits).", RQ_MAX_ESI)));
}

/* ---- results ---------------------------------------------------------------- */

/*
 * A bytea[] of n elements of elem_len bytes, built in place; (*slots_out)[i]
 * receives where element i's bytes go.
 */
static ArrayType *
packet_array(uint64 n, uint64 elem_len, uint8_t ***slots_out)
{
	Size		elem_size = INTALIGN(VARHDRSZ + elem_len);
	uint64		total = ARR_OVERHEAD_NONULLS(1) + n * elem_size;
	ArrayType  *arr;
	char	   *p;
	uint8_t   **slots;

	if (total > MaxAllocSize || n > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("RaptorQ packets too large: %llu packets of %llu bytes",
						(unsigned long long) n, (unsigned long long) elem_len),
				 errdetail("A bytea[] value holds at most 1 GB.")));
	slots = palloc(sizeof(uint8_t *) * (n + 1));
	*slots_out = slots;
	if (n == 0)
		return construct_empty_array(BYTEAOID);
	arr = palloc(total);
	p = (char *) arr + ARR_OVERHEAD_NONULLS(1);
	memset(arr, 0, ARR_OVERHEAD_NONULLS(1));
	SET_VARSIZE(arr, total);
	arr->ndim = 1;
	arr->elemtype = BYTEAOID;
	ARR_DIMS(arr)[0] = (int) n;
	ARR_LBOUND(arr)[0] = 1;
	for (uint64 i = 0; i < n; i++, p += elem_size)
	{
		SET_VARSIZE(p, VARHDRSZ + elem_len);
		slots[i] = (uint8_t *) p + VARHDRSZ;
		memset(p + VARHDRSZ + elem_len, 0, elem_size - VARHDRSZ - elem_len);
	}
	return arr;
}

/*
 * Packets ESI first .. first + count - 1 of block sbn of data, to out[i]
 * (4 + T bytes each, stride bytes apart).
 */
static void
block_packets(SqlEnv *e, const RqOti *o, const RqLayout *lay, const uint8_t *data,
			  uint32_t sbn, uint32_t first, uint32_t count, uint8_t **out, size_t stride)
{
	RqBlockEncoder enc;
	RqStatus	st = rq_block_encoder_init(&e->env, &enc, o, lay, data, sbn);
	uint8_t   **dest = out;

	if (stride != 0)
	{
		dest = MemoryContextAlloc(e->cxt, sizeof(uint8_t *) * count);
		for (uint32_t i = 0; i < count; i++)
			dest[i] = out[0] + (size_t) i * stride;
	}
	if (st == RQ_OK)
		st = rq_block_packets(&e->env, &enc, first, count, dest);
	report_status(st, sbn, rq_block_k(lay, sbn), o->T);
	rq_block_encoder_free(&e->env, &enc);
}

/* ---- dht.rq_oti, dht.rq_oti_info -------------------------------------------- */

Datum
rq_oti_make(PG_FUNCTION_ARGS)
{
	int64		F = PG_GETARG_INT64(0);
	int32		T = PG_GETARG_INT32(1);
	int32		Z = PG_GETARG_INT32(2);
	int32		N = PG_GETARG_INT32(3);
	int32		Al = PG_GETARG_INT32(4);
	RqOti		o;
	bytea	   *out;

	if (Al < 1 || Al > RQ_MAX_AL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alignment must be between 1 and %d, not %d", RQ_MAX_AL, Al)));
	if (N < 1 || N > RQ_MAX_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of sub-blocks must be between 1 and %d, not %d", RQ_MAX_N, N)));
	if (F < 1)
		F = 0;					/* reported as a bad transfer length */
	o.F = (uint64_t) F;
	o.T = T < 0 || T > RQ_MAX_T ? 0 : (uint32_t) T;
	o.Z = Z < 0 || Z > RQ_MAX_Z ? 0 : (uint32_t) Z;
	o.N = (uint32_t) N;
	o.Al = (uint32_t) Al;
	if (T < 0 || T > RQ_MAX_T)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("symbol size must be a positive multiple of the alignment (%d) up to %d, not %d",
						Al, RQ_MAX_T, T)));
	if (Z < 1 || Z > RQ_MAX_Z)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of source blocks must be between 1 and %d, not %d", RQ_MAX_Z, Z)));
	if (rq_oti_check(&o) == RQ_OTI_BAD_N)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of sub-blocks must be at most symbol size / alignment (%u), not %d",
						o.T / o.Al, N),
				 errdetail("Each sub-block gets at least one %d-byte unit of every symbol.", Al)));
	report_oti(rq_oti_check(&o), &o);
	out = palloc(VARHDRSZ + RQ_OTI_SIZE);
	SET_VARSIZE(out, VARHDRSZ + RQ_OTI_SIZE);
	rq_oti_pack(&o, (uint8_t *) VARDATA(out));
	PG_RETURN_BYTEA_P(out);
}

Datum
rq_oti_info(PG_FUNCTION_ARGS)
{
	RqOti		o;
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	oti_arg(PG_GETARG_BYTEA_PP(0), &o);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum((int64) o.F);
	values[1] = Int32GetDatum((int32) o.T);
	values[2] = Int32GetDatum((int32) o.Z);
	values[3] = Int32GetDatum((int32) o.N);
	values[4] = Int32GetDatum((int32) o.Al);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

/* ---- encoding ------------------------------------------------------------------ */

Datum
rq_encode(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		repair = PG_GETARG_INT32(2);
	RqOti		o;
	RqLayout	lay;
	SqlEnv		e;
	uint64		n = 0;
	uint8_t   **slots;
	ArrayType  *result;

	oti_arg(PG_GETARG_BYTEA_PP(1), &o);
	check_data_length(data, &o);
	check_work_memory(&o);
	rq_layout(&o, &lay);
	if (repair < 0 || (int64) lay.KL + repair - 1 > (int64) RQ_MAX_ESI)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("repair_symbols must be between 0 and %u, not %d",
						RQ_MAX_ESI + 1 - lay.KL, repair),
				 errdetail("Repair ESIs run from K (%u here) to 2^24 - 1.", lay.KL)));
	for (uint32_t b = 0; b < o.Z; b++)
		n += rq_block_k(&lay, b) + (uint64) repair;
	result = packet_array(n, RQ_PAYLOAD_ID_SIZE + o.T, &slots);
	env_begin(&e);
	for (uint32_t b = 0, at = 0; b < o.Z; b++)
	{
		uint32_t	count = rq_block_k(&lay, b) + (uint32_t) repair;

		block_packets(&e, &o, &lay, (const uint8_t *) VARDATA_ANY(data), b, 0, count,
					  slots + at, 0);
		at += count;
	}
	env_end(&e);
	PG_RETURN_ARRAYTYPE_P(result);
}

Datum
rq_packets(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		sbn = PG_GETARG_INT32(2);
	int32		first = PG_GETARG_INT32(3);
	int32		count = PG_GETARG_INT32(4);
	RqOti		o;
	RqLayout	lay;
	SqlEnv		e;
	uint8_t   **slots;
	ArrayType  *result;

	oti_arg(PG_GETARG_BYTEA_PP(1), &o);
	check_data_length(data, &o);
	check_work_memory(&o);
	if (sbn < 0 || (uint32_t) sbn >= o.Z)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source block %d does not exist", sbn),
				 errdetail("The OTI has %u source blocks, numbered from 0.", o.Z)));
	check_esi_range(first, count);
	rq_layout(&o, &lay);
	result = packet_array((uint64) count, RQ_PAYLOAD_ID_SIZE + o.T, &slots);
	env_begin(&e);
	if (count > 0)
		block_packets(&e, &o, &lay, (const uint8_t *) VARDATA_ANY(data), (uint32_t) sbn,
					  (uint32_t) first, (uint32_t) count, slots, 0);
	env_end(&e);
	PG_RETURN_ARRAYTYPE_P(result);
}

Datum
rq_holder_fragment(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		first = PG_GETARG_INT32(2);
	int32		count = PG_GETARG_INT32(3);
	RqOti		o;
	RqLayout	lay;
	SqlEnv		e;
	uint64		size;
	size_t		packet;
	bytea	   *result;

	oti_arg(PG_GETARG_BYTEA_PP(1), &o);
	check_data_length(data, &o);
	check_work_memory(&o);
	check_esi_range(first, count);
	if (count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("count must be at least 1, not %d", count)));
	rq_layout(&o, &lay);
	packet = RQ_PAYLOAD_ID_SIZE + o.T;
	size = (uint64) o.Z * count * packet;
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("holder fragment too large: %llu bytes", (unsigned long long) size),
				 errdetail("A bytea value holds at most 1 GB.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	env_begin(&e);
	for (uint32_t b = 0; b < o.Z; b++)
	{
		uint8_t    *at = (uint8_t *) VARDATA(result) + (size_t) b * count * packet;

		block_packets(&e, &o, &lay, (const uint8_t *) VARDATA_ANY(data), b,
					  (uint32_t) first, (uint32_t) count, &at, packet);
	}
	env_end(&e);
	PG_RETURN_BYTEA_P(result);
}

/* ---- decoding ------------------------------------------------------------------ */

typedef struct PacketSet
{
	int			nelem;			/* array entries */
	bytea	  **elem;			/* NULL: a NULL entry or one left out */
	uint32_t	npk;
	const uint8_t **pk;			/* each 4 + T bytes */
	int		   *pk_elem;		/* the array entry each packet came from */
	int			left_out;		/* entries left out by their digest */
} PacketSet;

static void
deconstruct_bytea_array(AnyArrayType *arr, Datum **values, bool **nulls, int *n)
{
	if (AARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("packets must be a one-dimensional array")));
	if (VARATT_IS_EXPANDED_HEADER(arr))
	{
		deconstruct_expanded_array(&arr->xpn);
		*values = arr->xpn.dvalues;
		*nulls = arr->xpn.dnulls;
		*n = arr->xpn.nelems;
	}
	else
		deconstruct_array(&arr->flt, BYTEAOID, -1, false, TYPALIGN_INT, values, nulls, n);
}

static void
load_elements(AnyArrayType *arr, PacketSet *set)
{
	Datum	   *values;
	bool	   *nulls;

	deconstruct_bytea_array(arr, &values, &nulls, &set->nelem);
	set->elem = palloc0(sizeof(bytea *) * Max(set->nelem, 1));
	for (int i = 0; i < set->nelem; i++)
		if (nulls == NULL || !nulls[i])
			set->elem[i] = (bytea *) PG_DETOAST_DATUM_PACKED(values[i]);
}

/* Leave out every element whose BLAKE2b digest is not the expected one. */
static void
apply_digests(PacketSet *set, AnyArrayType *arr)
{
	Datum	   *values;
	bool	   *nulls;
	int			n;

	deconstruct_bytea_array(arr, &values, &nulls, &n);
	if (n != set->nelem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("digests must have as many entries as packets"),
				 errdetail("The packets array has %d entries, the digests array %d.", set->nelem, n)));
	for (int i = 0; i < n; i++)
	{
		unsigned char actual[DIGEST_LEN];
		bytea	   *expected;

		if (set->elem[i] == NULL)
			continue;
		if (nulls != NULL && nulls[i])
		{
			set->elem[i] = NULL;
			set->left_out++;
			continue;
		}
		expected = (bytea *) PG_DETOAST_DATUM_PACKED(values[i]);
		crypto_generichash(actual, DIGEST_LEN, (const unsigned char *) VARDATA_ANY(set->elem[i]),
						   VARSIZE_ANY_EXHDR(set->elem[i]), NULL, 0);
		if (VARSIZE_ANY_EXHDR(expected) != DIGEST_LEN ||
			sodium_memcmp(actual, VARDATA_ANY(expected), DIGEST_LEN) != 0)
		{
			set->elem[i] = NULL;
			set->left_out++;
		}
	}
}

/* Split the elements into packets; a length that is not whole packets is an error. */
static void
split_packets(PacketSet *set, const RqOti *o)
{
	size_t		packet = RQ_PAYLOAD_ID_SIZE + o->T;
	uint64		total = 0;

	for (int i = 0; i < set->nelem; i++)
	{
		size_t		len;

		if (set->elem[i] == NULL)
			continue;
		len = VARSIZE_ANY_EXHDR(set->elem[i]);
		if (rq_packet_count(len, o->T) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("packet array entry %d is not whole packets: %zu bytes", i + 1, len),
					 errdetail("With symbol size %u a packet is %zu bytes (4-byte payload ID and symbol); an entry holds one or more whole packets.",
							   o->T, packet)));
		total += len / packet;
	}
	set->pk = palloc(sizeof(uint8_t *) * (total + 1));
	set->pk_elem = palloc(sizeof(int) * (total + 1));
	set->npk = 0;
	for (int i = 0; i < set->nelem; i++)
	{
		const uint8_t *b;
		size_t		count;

		if (set->elem[i] == NULL)
			continue;
		b = (const uint8_t *) VARDATA_ANY(set->elem[i]);
		count = VARSIZE_ANY_EXHDR(set->elem[i]) / packet;
		for (size_t j = 0; j < count; j++)
		{
			set->pk_elem[set->npk] = i;
			set->pk[set->npk++] = b + j * packet;
		}
	}
}

/* "block 0 has 25 of 29 (4 short); block 2 has 0 of 29 (29 short)" */
static void
report_short_blocks(const RqOti *o, const RqLayout *lay, const uint32_t *have, int left_out)
{
	StringInfoData buf;
	int			shown = 0,
				count = 0;

	initStringInfo(&buf);
	for (uint32_t b = 0; b < o->Z; b++)
	{
		uint32_t	K = rq_block_k(lay, b);

		if (have[b] >= K)
			continue;
		if (count++ < 16)
			appendStringInfo(&buf, "%sblock %u has %u of %u (%u short)", shown++ > 0 ? "; " : "",
							 b, have[b], K, K - have[b]);
	}
	if (count > 16)
		appendStringInfo(&buf, "; and %d more", count - 16);
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("not enough packets to decode: %d of %u source blocks short", count, o->Z),
			 errdetail("Distinct symbols received per block: %s.", buf.data),
			 left_out > 0 ? errhint("%d packet array entries were left out because their digests do not match.", left_out) : 0));
}

static bytea *
decode_set(PacketSet *set, const RqOti *o)
{
	RqLayout	lay;
	SqlEnv		e;
	bytea	   *result;
	uint32_t   *have = palloc0(sizeof(uint32_t) * o->Z);
	uint32_t	bad = 0;
	RqStatus	st;

	if (o->F > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("transfer length %llu is too large for a bytea", (unsigned long long) o->F),
				 errdetail("A bytea value holds at most 1 GB.")));
	check_work_memory(o);
	split_packets(set, o);
	rq_layout(o, &lay);
	result = palloc(VARHDRSZ + o->F);
	SET_VARSIZE(result, VARHDRSZ + o->F);
	env_begin(&e);
	st = rq_object_decode(&e.env, o, set->npk, set->pk, (uint8_t *) VARDATA(result), have, &bad);
	if (st == RQ_ERR_BAD_PACKET)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("packet array entry %d has a packet of source block %u, which does not exist",
						set->pk_elem[bad] + 1, set->pk[bad][0]),
				 errdetail("The OTI has %u source blocks, numbered from 0: the packets belong to another object or OTI.",
						   o->Z)));
	if (st == RQ_ERR_TOO_FEW)
		report_short_blocks(o, &lay, have, set->left_out);
	report_status(st, bad, rq_block_k(&lay, bad), o->T);
	env_end(&e);
	return result;
}

Datum
rq_decode(PG_FUNCTION_ARGS)
{
	RqOti		o;
	PacketSet	set;

	memset(&set, 0, sizeof(set));
	oti_arg(PG_GETARG_BYTEA_PP(0), &o);
	load_elements(PG_GETARG_ANY_ARRAY_P(1), &set);
	PG_RETURN_BYTEA_P(decode_set(&set, &o));
}

Datum
rq_decode_digests(PG_FUNCTION_ARGS)
{
	RqOti		o;
	PacketSet	set;

	memset(&set, 0, sizeof(set));
	oti_arg(PG_GETARG_BYTEA_PP(0), &o);
	load_elements(PG_GETARG_ANY_ARRAY_P(1), &set);
	apply_digests(&set, PG_GETARG_ANY_ARRAY_P(2));
	PG_RETURN_BYTEA_P(decode_set(&set, &o));
}

/* ---- planning ---------------------------------------------------------------------- */

Datum
rq_plan_holders_sql(PG_FUNCTION_ARGS)
{
	int32		K = PG_GETARG_INT32(0);
	int32		s = PG_GETARG_INT32(1);
	float8		p = PG_GETARG_FLOAT8(2);
	float8		target = PG_GETARG_FLOAT8(3);
	uint32_t	n = 0;
	RqPlanStatus st;

	if (K < 1 || K > RQ_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source_symbols must be between 1 and %d, not %d", RQ_MAX_K, K)));
	if (s < 1 || (uint32_t) s > RQ_PLAN_MAX_SYMBOLS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("symbols_per_holder must be between 1 and %u, not %d", RQ_PLAN_MAX_SYMBOLS, s)));
	st = rq_plan_holders((uint32_t) K, (uint32_t) s, p, target, &n);
	if (st == RQ_PLAN_BAD_AVAILABILITY)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("node_availability must be above 0 and at most 1, not %g", p)));
	if (st == RQ_PLAN_BAD_TARGET)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target must be above 0 and below 1, not %g", target)));
	if (st == RQ_PLAN_UNREACHABLE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("target %g cannot be reached", target),
				 errdetail("Not with at most %d holders of %d symbols each (and at most 2^24 symbols in all) at availability %g.",
						   RQ_PLAN_MAX_HOLDERS, s, p),
				 errhint("Give each holder more symbols, or use more available nodes.")));
	PG_RETURN_INT32((int32) n);
}
