/*
 * erasure.c
 *	  SQL erasure coding: dht.ec_encode, dht.ec_decode, dht.ec_reconstruct,
 *	  dht.ec_fragment_info and dht.fragment_digest.
 *
 * Fragments are liberasurecode's (header + payload, CRC32 checksums), tagged
 * with k and m (see fragment.c).  Every fragment passes fragment.c's checks
 * before liberasurecode sees it; from the fragments that pass, the largest
 * consistent group is used (same backend, k, m and sizes), the first valid
 * copy of each index, data fragments first.  When those are the k data
 * fragments, decoding is a concatenation done here, straight into the result
 * (their payload CRCs were checked; liberasurecode would concatenate without
 * checking); otherwise liberasurecode decodes exactly k fragments.
 *
 * CRC32 catches corruption, not forgery: whoever can write a fragment can
 * make its CRCs match.  The defence is the BLAKE2b digest the directory
 * keeps per fragment (dht.placements.digest, from dht.fragment_digest):
 * check fetched fragments against it, or let dht.ec_decode(fragments,
 * digests) do it.
 *
 * Copies: the input bytea / array is used in place (expanded arrays too, as
 * PL/pgSQL variables hold them); ec_encode builds its result array directly
 * (one copy of each fragment, out of liberasurecode's buffers), ec_decode
 * writes into the result bytea directly.
 */
#include "smartlayer_dht.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/memutils.h"

#include "erasure.h"

PG_FUNCTION_INFO_V1(ec_encode);
PG_FUNCTION_INFO_V1(ec_decode);
PG_FUNCTION_INFO_V1(ec_decode_digests);
PG_FUNCTION_INFO_V1(ec_reconstruct);
PG_FUNCTION_INFO_V1(ec_fragment_info);
PG_FUNCTION_INFO_V1(fragment_digest);

/* Most array entries ec_decode / ec_reconstruct look at. */
#define MAX_INPUT_FRAGMENTS 1024

#define DIGEST_LEN 32

/* The fragments of one call, as fragment.c sees them. */
typedef struct FragmentSet
{
	int			n;				/* array entries, NULLs included */
	DhtFragment *f;				/* f[i].buf == NULL for NULL entries */
	DhtFragStatus *status;
	int			chosen[64];		/* positions of the k fragments used */
	int			k;
	int			m;
	const DhtBackend *backend;
	uint32		size;			/* payload bytes per fragment */
	uint64		orig_size;
	uint32		data_crc;		/* CRC-32 of the original data */
} FragmentSet;

/* ---- parameters ------------------------------------------------------ */

static const DhtBackend *
backend_arg(text *name)
{
	char	   *s = text_to_cstring(name);
	const DhtBackend *be = dht_backend_by_name(s);
	StringInfoData names;

	if (be != NULL)
		return be;
	initStringInfo(&names);
	for (int i = 0; i < dht_n_backends; i++)
		appendStringInfo(&names, "%s%s", i > 0 ? ", " : "", dht_backends[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown erasure code backend \"%s\"", s),
			 errdetail("Valid backends are %s.", names.data)));
	return NULL;				/* not reached */
}

static void
check_generic_shape(int k, int m)
{
	if (k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be at least 1, not %d", k)));
	if (m < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("m must be at least 0, not %d", m)));
	if (k > DHT_EC_MAX_FRAGMENTS - m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k + m must be at most %d, not %lld",
						DHT_EC_MAX_FRAGMENTS, (long long) k + m)));
}

static void
check_backend_shape(const DhtBackend *be, int k, int m)
{
	switch (dht_backend_check_shape(be, k, m))
	{
		case DHT_SHAPE_OK:
		case DHT_SHAPE_K_TOO_SMALL: /* check_generic_shape's */
		case DHT_SHAPE_M_NEGATIVE:
		case DHT_SHAPE_N_TOO_LARGE:
			break;
		case DHT_SHAPE_N_OVER_BACKEND:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backend \"%s\" supports at most %d fragments, not %d",
							be->name, be->max_n, k + m),
					 errhint("Every backend supports k + m up to 32, except jerasure_rs_cauchy (16).")));
			break;
		case DHT_SHAPE_M_TOO_SMALL:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backend \"%s\" needs m of at least %d, not %d",
							be->name, be->min_m, m)));
			break;
		case DHT_SHAPE_M_TOO_LARGE:
		case DHT_SHAPE_K_TOO_LARGE_AT_MAX_M:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backend \"%s\" does not support %d+%d", be->name, k, m),
					 errdetail("It supports m up to %d, and m = %d with k up to %d: beyond that its Vandermonde matrix is not MDS and some sets of k fragments could not be decoded.",
							   be->max_m - 1, be->max_m, be->max_k_at_max_m),
					 errhint("Use isa_l_rs_cauchy.")));
			break;
	}
}

/* ---- reading fragment arrays ----------------------------------------- */

static void
load_fragments(AnyArrayType *arr, FragmentSet *set)
{
	Datum	   *values;
	bool	   *nulls;
	int			n;

	if (AARR_ELEMTYPE(arr) != BYTEAOID)
		elog(ERROR, "fragment array must be bytea[]");
	if (VARATT_IS_EXPANDED_HEADER(arr))
	{
		ExpandedArrayHeader *eah = &arr->xpn;

		deconstruct_expanded_array(eah);
		values = eah->dvalues;
		nulls = eah->dnulls;
		n = eah->nelems;
	}
	else
		deconstruct_array(&arr->flt, BYTEAOID, -1, false, TYPALIGN_INT,
						  &values, &nulls, &n);
	if (n > MAX_INPUT_FRAGMENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many fragments: %d", n),
				 errdetail("At most %d array entries are accepted.", MAX_INPUT_FRAGMENTS)));

	memset(set, 0, sizeof(*set));
	set->n = n;
	set->f = palloc0(sizeof(DhtFragment) * Max(n, 1));
	set->status = palloc0(sizeof(DhtFragStatus) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bytea	   *b;

		if (nulls != NULL && nulls[i])
			continue;
		b = (bytea *) PG_DETOAST_DATUM_PACKED(values[i]);
		set->status[i] = dht_fragment_check_header((const uint8 *) VARDATA_ANY(b),
												   VARSIZE_ANY_EXHDR(b), &set->f[i]);
	}
}

/* Leave out every fragment whose BLAKE2b digest is not the expected one. */
static void
apply_digests(FragmentSet *set, AnyArrayType *arr)
{
	Datum	   *values;
	bool	   *nulls;
	int			n;

	if (VARATT_IS_EXPANDED_HEADER(arr))
	{
		deconstruct_expanded_array(&arr->xpn);
		values = arr->xpn.dvalues;
		nulls = arr->xpn.dnulls;
		n = arr->xpn.nelems;
	}
	else
		deconstruct_array(&arr->flt, BYTEAOID, -1, false, TYPALIGN_INT,
						  &values, &nulls, &n);
	if (n != set->n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("digests must have as many entries as fragments"),
				 errdetail("The fragments array has %d entries, the digests array %d.", set->n, n)));

	for (int i = 0; i < n; i++)
	{
		unsigned char actual[DIGEST_LEN];
		bytea	   *expected;

		if (set->f[i].buf == NULL)
			continue;
		if (nulls != NULL && nulls[i])
		{
			set->status[i] = DHT_FRAG_BAD_DIGEST;
			continue;
		}
		expected = (bytea *) PG_DETOAST_DATUM_PACKED(values[i]);
		crypto_generichash(actual, DIGEST_LEN, set->f[i].buf, set->f[i].len, NULL, 0);
		if (VARSIZE_ANY_EXHDR(expected) != DIGEST_LEN ||
			sodium_memcmp(actual, VARDATA_ANY(expected), DIGEST_LEN) != 0)
			set->status[i] = DHT_FRAG_BAD_DIGEST;
	}
}

/* "Fragment 3: payload checksum mismatch; ..." for the detail of a message. */
static char *
describe_problems(const FragmentSet *set, int *count)
{
	StringInfoData buf;
	int			shown = 0;

	initStringInfo(&buf);
	*count = 0;
	for (int i = 0; i < set->n; i++)
	{
		DhtFragStatus s = set->status[i];

		if (set->f[i].buf == NULL || s == DHT_FRAG_OK || s == DHT_FRAG_UNUSED)
			continue;
		if (++(*count) > 32)
			continue;
		appendStringInfo(&buf, "%s%d: %s", shown++ > 0 ? "; " : "",
						 i + 1, dht_fragment_status_text(s));
	}
	if (*count > 32)
		appendStringInfo(&buf, "; and %d more", *count - 32);
	return buf.data;
}

/*
 * Choose k fragments to work from, or raise "not enough valid fragments".
 * optimistic: take payload CRCs as good and return false instead of raising
 * (the caller checks the result end to end, and retries carefully).
 */
static bool
choose_fragments(FragmentSet *set, bool optimistic)
{
	int			valid;
	int			need;
	int			problems;
	char	   *detail;
	const DhtFragment *lead;

	if (dht_fragments_choose(set->f, set->n, set->status, set->chosen,
							 &valid, &need, !optimistic) < 0)
	{
		int			given = 0;

		if (optimistic)
			return false;

		for (int i = 0; i < set->n; i++)
			given += set->f[i].buf != NULL;
		detail = describe_problems(set, &problems);
		if (given == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("not enough valid fragments: no fragment given")));
		if (need == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("not enough valid fragments: none of the %d is valid", given),
					 problems > 0 ? errdetail("Fragments (by array position) %s.", detail) : 0));
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("not enough valid fragments: %d valid, %d needed", valid, need),
				 problems > 0 ? errdetail("Fragments (by array position) %s.", detail) : 0));
	}
	lead = &set->f[set->chosen[0]];
	set->k = lead->k;
	set->m = lead->m;
	set->backend = lead->backend;
	set->size = lead->size;
	set->orig_size = lead->orig_size;
	set->data_crc = lead->data_crc;

	if (!optimistic)
	{
		detail = describe_problems(set, &problems);
		if (problems > 0)
			ereport(DEBUG1,
					(errmsg("%d fragments left out", problems),
					 errdetail("Fragments (by array position) %s.", detail)));
	}
	return true;
}

static void
chosen_pointers(const FragmentSet *set, char **ptrs)
{
	/* liberasurecode takes char ** but does not write into its inputs */
	for (int j = 0; j < set->k; j++)
		ptrs[j] = (char *) unconstify(uint8 *, set->f[set->chosen[j]].buf);
}

/* ---- ec_encode ------------------------------------------------------- */

/*
 * A bytea[] of n elements of elem_len bytes each, built in place; slots[i]
 * receives where element i's bytes go.
 */
static ArrayType *
fragment_array(int n, uint64 elem_len, char **slots)
{
	Size		elem_size = INTALIGN(VARHDRSZ + elem_len);
	Size		header = ARR_OVERHEAD_NONULLS(1);
	Size		total = header + n * elem_size;
	ArrayType  *arr = palloc(total);
	char	   *p = (char *) arr + header;

	memset(arr, 0, header);
	SET_VARSIZE(arr, total);
	arr->ndim = 1;
	arr->dataoffset = 0;
	arr->elemtype = BYTEAOID;
	ARR_DIMS(arr)[0] = n;
	ARR_LBOUND(arr)[0] = 1;
	for (int i = 0; i < n; i++, p += elem_size)
	{
		SET_VARSIZE(p, VARHDRSZ + elem_len);
		slots[i] = p + VARHDRSZ;
		memset(p + VARHDRSZ + elem_len, 0, elem_size - VARHDRSZ - elem_len);
	}
	return arr;
}

Datum
ec_encode(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	int32		k = PG_GETARG_INT32(1);
	int32		m = PG_GETARG_INT32(2);
	const DhtBackend *be;
	uint64		len = VARSIZE_ANY_EXHDR(data);
	uint64		fraglen;
	uint64		total;
	char	   *slots[DHT_EC_MAX_FRAGMENTS];
	ArrayType  *result;
	uint32		data_crc;
	int			desc;
	int			rc;

	check_generic_shape(k, m);
	be = backend_arg(PG_GETARG_TEXT_PP(3));
	check_backend_shape(be, k, m);
	if (len > DHT_EC_MAX_DATA)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("data too large to encode: %llu bytes", (unsigned long long) len),
				 errdetail("The limit is %llu bytes (256 MiB).",
						   (unsigned long long) DHT_EC_MAX_DATA)));
	fraglen = DHT_FRAG_HEADER_SIZE + dht_fragment_block_size(be, k, len);
	total = ARR_OVERHEAD_NONULLS(1) + (uint64) (k + m) * INTALIGN(VARHDRSZ + fraglen);
	if (!AllocSizeIsValid(total))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("encoded fragments too large: %llu bytes", (unsigned long long) total),
				 errdetail("A bytea[] value holds at most 1 GB: use fewer parity fragments or smaller data.")));

	dht_ec_setup();
	desc = dht_ec_instance(be, k, m);
	result = fragment_array(k + m, fraglen, slots);
	rc = dht_ec_encode_into(desc, k, m, VARDATA_ANY(data), len, slots, fraglen);
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("liberasurecode could not encode %llu bytes with %s %d+%d: %s",
						(unsigned long long) len, be->name, k, m, dht_ec_strerror(rc))));
	data_crc = dht_crc32(0, (const uint8 *) VARDATA_ANY(data), len);
	for (int i = 0; i < k + m; i++)
		dht_fragment_tag((uint8 *) slots[i], k, m, data_crc);
	PG_RETURN_ARRAYTYPE_P(result);
}

/* ---- ec_decode ------------------------------------------------------- */

/*
 * 16-byte aligned copies of the chosen fragments, for liberasurecode, which
 * otherwise copies every unaligned input into a fresh malloc'd buffer (and
 * the page faults of those dominate).  Up to 8 MB of scratch is kept for the
 * life of the backend.
 */
static void
aligned_copies(const FragmentSet *set, char **ptrs)
{
	static char *scratch = NULL;
	static Size scratch_size = 0;
	Size		fraglen = DHT_FRAG_HEADER_SIZE + set->size;
	Size		stride = TYPEALIGN(16, fraglen);
	Size		need = stride * set->k + 16;
	char	   *base;

	if (need <= 8 * 1024 * 1024)
	{
		if (scratch_size < need)
		{
			if (scratch != NULL)
				pfree(scratch);
			scratch = MemoryContextAlloc(TopMemoryContext, need);
			scratch_size = need;
		}
		base = scratch;
	}
	else
		base = palloc(need);
	base = (char *) TYPEALIGN(16, base);
	for (int j = 0; j < set->k; j++)
	{
		ptrs[j] = base + j * stride;
		memcpy(ptrs[j], set->f[set->chosen[j]].buf, fraglen);
	}
}

/*
 * Decode from the chosen fragments.  Optimistic: payload CRCs were not
 * checked, and any failure returns NULL rather than raising.
 */
static bytea *
decode_chosen(FragmentSet *set, bool optimistic)
{
	bytea	   *result = palloc(VARHDRSZ + set->orig_size);
	bool		all_data = true;

	SET_VARSIZE(result, VARHDRSZ + set->orig_size);
	for (int j = 0; j < set->k; j++)
		all_data &= set->f[set->chosen[j]].index == (uint32) j;
	if (all_data)
	{
		char	   *dest = VARDATA(result);
		uint64		left = set->orig_size;

		for (int j = 0; j < set->k && left > 0; j++)
		{
			uint64		part = Min(left, (uint64) set->size);

			memcpy(dest, set->f[set->chosen[j]].buf + DHT_FRAG_HEADER_SIZE, part);
			dest += part;
			left -= part;
		}
	}
	else
	{
		char	   *ptrs[64];
		int			desc = dht_ec_instance(set->backend, set->k, set->m);
		int			rc;

		aligned_copies(set, ptrs);
		rc = dht_ec_decode_into(desc, ptrs, set->k, DHT_FRAG_HEADER_SIZE + set->size,
								VARDATA(result), set->orig_size);
		if (rc != 0 && optimistic)
			return NULL;
		if (rc != 0)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("liberasurecode could not decode %s %d+%d fragments: %s",
							set->backend->name, set->k, set->m, dht_ec_strerror(rc))));
	}

	/* End to end: the data must be what was encoded. */
	if (dht_crc32(0, (const uint8 *) VARDATA(result), set->orig_size) == set->data_crc)
		return result;
	if (optimistic)
		return NULL;
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("decoded data does not match the checksum its fragments carry"),
			 errdetail("Some fragment has a consistent header and payload checksum but wrong contents: it may be forged."),
			 errhint("Check fragments against their digests, for example with dht.ec_decode(fragments, digests).")));
	return NULL;				/* not reached */
}

/*
 * First optimistically: choose by headers alone and let one CRC of the
 * decoded data, against the data CRC in the (checksummed) headers, prove
 * the result; with intact fragments that is the only payload pass.  On any
 * failure, again carefully: every chosen payload's CRC is checked first, bad
 * fragments are left out, and errors say why.
 */
static bytea *
decode_set(FragmentSet *set)
{
	DhtFragStatus *headers = palloc(sizeof(DhtFragStatus) * Max(set->n, 1));
	bytea	   *result;

	memcpy(headers, set->status, sizeof(DhtFragStatus) * set->n);
	if (choose_fragments(set, true))
	{
		result = decode_chosen(set, true);
		if (result != NULL)
			return result;
	}
	memcpy(set->status, headers, sizeof(DhtFragStatus) * set->n);
	choose_fragments(set, false);
	return decode_chosen(set, false);
}

Datum
ec_decode(PG_FUNCTION_ARGS)
{
	FragmentSet set;

	dht_ec_setup();
	load_fragments(PG_GETARG_ANY_ARRAY_P(0), &set);
	PG_RETURN_BYTEA_P(decode_set(&set));
}

Datum
ec_decode_digests(PG_FUNCTION_ARGS)
{
	FragmentSet set;

	dht_ec_setup();
	load_fragments(PG_GETARG_ANY_ARRAY_P(0), &set);
	apply_digests(&set, PG_GETARG_ANY_ARRAY_P(1));
	PG_RETURN_BYTEA_P(decode_set(&set));
}

/* ---- ec_reconstruct -------------------------------------------------- */

static bytea *
bytea_copy(const uint8 *data, size_t len)
{
	bytea	   *out = palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), data, len);
	return out;
}

Datum
ec_reconstruct(PG_FUNCTION_ARGS)
{
	int32		idx = PG_GETARG_INT32(1);
	FragmentSet set;
	const DhtFragment *lead;
	uint64		fraglen;
	bytea	   *result;
	char	   *ptrs[64];
	DhtFragment check;
	int			desc;
	int			rc;

	dht_ec_setup();
	load_fragments(PG_GETARG_ANY_ARRAY_P(0), &set);
	choose_fragments(&set, false);
	if (idx < 0 || idx >= set.k + set.m)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fragment index %d is out of range", idx),
				 errdetail("The fragments are from a %d+%d code: indexes run from 0 to %d.",
						   set.k, set.m, set.k + set.m - 1)));

	/* A valid copy at hand is the answer. */
	lead = &set.f[set.chosen[0]];
	for (int i = 0; i < set.n; i++)
	{
		const DhtFragment *f = &set.f[i];

		if (f->buf != NULL && f->group == lead->group && f->index == (uint32) idx &&
			(set.status[i] == DHT_FRAG_OK || set.status[i] == DHT_FRAG_UNUSED) &&
			dht_fragment_check_payload(f) == DHT_FRAG_OK)
			PG_RETURN_BYTEA_P(bytea_copy(f->buf, f->len));
	}

	fraglen = DHT_FRAG_HEADER_SIZE + set.size;
	result = palloc(VARHDRSZ + fraglen);
	SET_VARSIZE(result, VARHDRSZ + fraglen);
	desc = dht_ec_instance(set.backend, set.k, set.m);
	chosen_pointers(&set, ptrs);
	rc = dht_ec_reconstruct_into(desc, ptrs, set.k, fraglen, idx, VARDATA(result));
	if (rc != 0)
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("liberasurecode could not rebuild fragment %d of %s %d+%d: %s",
						idx, set.backend->name, set.k, set.m, dht_ec_strerror(rc))));
	dht_fragment_tag((uint8 *) VARDATA(result), set.k, set.m, set.data_crc);

	/* What we hand out must pass our own checks. */
	if (dht_fragment_parse((const uint8 *) VARDATA(result), fraglen, &check) != DHT_FRAG_OK ||
		check.index != (uint32) idx || check.orig_size != set.orig_size)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("rebuilt fragment %d does not pass validation", idx)));
	PG_RETURN_BYTEA_P(result);
}

/* ---- ec_fragment_info, fragment_digest ------------------------------- */

Datum
ec_fragment_info(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {true, true, true, true, true, false};
	DhtFragment f;
	DhtFragStatus status;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	dht_ec_setup();
	status = dht_fragment_parse((const uint8 *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), &f);
	if (f.header_ok && f.index <= PG_INT32_MAX)
	{
		values[0] = Int32GetDatum((int32) f.index);
		nulls[0] = false;
	}
	if (f.tagged)
	{
		values[1] = Int32GetDatum(f.k);
		values[2] = Int32GetDatum(f.m);
		nulls[1] = nulls[2] = false;
	}
	if (f.header_ok && f.backend != NULL)
	{
		values[3] = CStringGetTextDatum(f.backend->name);
		nulls[3] = false;
	}
	if (f.header_ok && f.orig_size <= (uint64) PG_INT64_MAX)
	{
		values[4] = Int64GetDatum((int64) f.orig_size);
		nulls[4] = false;
	}
	values[5] = BoolGetDatum(status == DHT_FRAG_OK);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}

Datum
fragment_digest(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	bytea	   *out = palloc(VARHDRSZ + DIGEST_LEN);

	SET_VARSIZE(out, VARHDRSZ + DIGEST_LEN);
	crypto_generichash((unsigned char *) VARDATA(out), DIGEST_LEN,
					   (const unsigned char *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
					   NULL, 0);
	PG_RETURN_BYTEA_P(out);
}
