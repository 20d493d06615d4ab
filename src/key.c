/*
 * key.c
 *	  The dht.key type: a 256-bit identifier.
 *
 * Keys are BLAKE2b-256 digests (token keys, node ids), so the type is a
 * fixed 32-byte, pass-by-reference value compared with memcmp, which is also
 * the order of the keys read as unsigned big-endian integers.
 *
 * Text form: 64 lowercase hex digits; input also takes a "0x" or "\x" prefix
 * and upper case.  Binary form: the 32 raw bytes.
 *
 * Sorting follows core's uuid.c: abbreviated keys are the first 8 bytes read
 * big-endian, compared as unsigned integers.  Keys are digests, so their
 * prefixes are already as distinct as 64 bits allow and the abbreviation is
 * never aborted.  memcmp equality is image equality, so btree deduplication
 * is safe (btequalimage).
 */
#include "smartlayer_dht.h"

#include <sodium.h>

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "key.h"

PG_FUNCTION_INFO_V1(key_in);
PG_FUNCTION_INFO_V1(key_out);
PG_FUNCTION_INFO_V1(key_recv);
PG_FUNCTION_INFO_V1(key_send);
PG_FUNCTION_INFO_V1(key_eq);
PG_FUNCTION_INFO_V1(key_ne);
PG_FUNCTION_INFO_V1(key_lt);
PG_FUNCTION_INFO_V1(key_le);
PG_FUNCTION_INFO_V1(key_gt);
PG_FUNCTION_INFO_V1(key_ge);
PG_FUNCTION_INFO_V1(key_cmp);
PG_FUNCTION_INFO_V1(key_sortsupport);
PG_FUNCTION_INFO_V1(key_smaller);
PG_FUNCTION_INFO_V1(key_larger);
PG_FUNCTION_INFO_V1(key_hash);
PG_FUNCTION_INFO_V1(key_hash_extended);
PG_FUNCTION_INFO_V1(key_to_bytea);
PG_FUNCTION_INFO_V1(key_from_bytea);
PG_FUNCTION_INFO_V1(key_node_id);

DhtKey *
dht_key_blake2b(const unsigned char *data, size_t len)
{
	DhtKey	   *key = palloc(sizeof(DhtKey));

	crypto_generichash(key->bytes, DHT_KEY_LEN, data, len, NULL, 0);
	return key;
}

static inline int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
report_bad_key_text(const char *input, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type dht.key: \"%s\"", input),
			 errdetail("%s", detail)));
}

Datum
key_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);
	const char *hex = input;
	DhtKey	   *key = palloc(sizeof(DhtKey));
	size_t		len;

	if ((hex[0] == '0' && hex[1] == 'x') || (hex[0] == '\\' && hex[1] == 'x'))
		hex += 2;
	len = strlen(hex);
	if (len != 2 * DHT_KEY_LEN)
		report_bad_key_text(input, psprintf("A key has 64 hex digits, not %zu.", len));
	for (int i = 0; i < DHT_KEY_LEN; i++)
	{
		int			hi = hex_value(hex[2 * i]);
		int			lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			report_bad_key_text(input, psprintf("Character %d is not a hex digit.",
												(int) (hex - input) + 2 * i + (hi < 0 ? 1 : 2)));
		key->bytes[i] = (unsigned char) (hi << 4 | lo);
	}
	PG_RETURN_DHTKEY_P(key);
}

Datum
key_out(PG_FUNCTION_ARGS)
{
	static const char digits[] = "0123456789abcdef";
	DhtKey	   *key = PG_GETARG_DHTKEY_P(0);
	char	   *out = palloc(2 * DHT_KEY_LEN + 1);

	for (int i = 0; i < DHT_KEY_LEN; i++)
	{
		out[2 * i] = digits[key->bytes[i] >> 4];
		out[2 * i + 1] = digits[key->bytes[i] & 0x0f];
	}
	out[2 * DHT_KEY_LEN] = '\0';
	PG_RETURN_CSTRING(out);
}

Datum
key_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	DhtKey	   *key = palloc(sizeof(DhtKey));
	int			remaining = buf->len - buf->cursor;

	if (remaining != DHT_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid binary input for type dht.key"),
				 errdetail("A key is 32 bytes, not %d.", remaining)));
	pq_copymsgbytes(buf, (char *) key->bytes, DHT_KEY_LEN);
	PG_RETURN_DHTKEY_P(key);
}

Datum
key_send(PG_FUNCTION_ARGS)
{
	DhtKey	   *key = PG_GETARG_DHTKEY_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (char *) key->bytes, DHT_KEY_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static inline int
key_compare(const DhtKey *a, const DhtKey *b)
{
	return memcmp(a->bytes, b->bytes, DHT_KEY_LEN);
}

#define KEY_CMP_ARGS key_compare(PG_GETARG_DHTKEY_P(0), PG_GETARG_DHTKEY_P(1))

Datum key_eq(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS == 0); }
Datum key_ne(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS != 0); }
Datum key_lt(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS < 0); }
Datum key_le(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS <= 0); }
Datum key_gt(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS > 0); }
Datum key_ge(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(KEY_CMP_ARGS >= 0); }
Datum key_cmp(PG_FUNCTION_ARGS) { PG_RETURN_INT32(KEY_CMP_ARGS); }

/* min() and max() support: return the smaller or larger argument itself. */
Datum
key_smaller(PG_FUNCTION_ARGS)
{
	return KEY_CMP_ARGS <= 0 ? PG_GETARG_DATUM(0) : PG_GETARG_DATUM(1);
}

Datum
key_larger(PG_FUNCTION_ARGS)
{
	return KEY_CMP_ARGS >= 0 ? PG_GETARG_DATUM(0) : PG_GETARG_DATUM(1);
}

static int
key_fastcmp(Datum a, Datum b, SortSupport ssup)
{
	return key_compare(DatumGetDhtKeyP(a), DatumGetDhtKeyP(b));
}

/* The first 8 bytes, big-endian, so unsigned Datum order is memcmp order. */
static Datum
key_abbrev_convert(Datum original, SortSupport ssup)
{
	DhtKey	   *key = DatumGetDhtKeyP(original);
	Datum		res;

	memcpy(&res, key->bytes, sizeof(Datum));
#ifndef WORDS_BIGENDIAN
	res = DatumBigEndianToNative(res);
#endif
	return res;
}

static bool
key_abbrev_abort(int memtupcount, SortSupport ssup)
{
	return false;
}

Datum
key_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = key_fastcmp;
	if (ssup->abbreviate && sizeof(Datum) == 8)
	{
		ssup->comparator = ssup_datum_unsigned_cmp;
		ssup->abbrev_converter = key_abbrev_convert;
		ssup->abbrev_abort = key_abbrev_abort;
		ssup->abbrev_full_comparator = key_fastcmp;
	}
	PG_RETURN_VOID();
}

Datum
key_hash(PG_FUNCTION_ARGS)
{
	DhtKey	   *key = PG_GETARG_DHTKEY_P(0);

	return hash_any(key->bytes, DHT_KEY_LEN);
}

Datum
key_hash_extended(PG_FUNCTION_ARGS)
{
	DhtKey	   *key = PG_GETARG_DHTKEY_P(0);

	return hash_any_extended(key->bytes, DHT_KEY_LEN, PG_GETARG_INT64(1));
}

Datum
key_to_bytea(PG_FUNCTION_ARGS)
{
	DhtKey	   *key = PG_GETARG_DHTKEY_P(0);
	bytea	   *out = palloc(VARHDRSZ + DHT_KEY_LEN);

	SET_VARSIZE(out, VARHDRSZ + DHT_KEY_LEN);
	memcpy(VARDATA(out), key->bytes, DHT_KEY_LEN);
	PG_RETURN_BYTEA_P(out);
}

Datum
key_from_bytea(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	DhtKey	   *key;

	if (VARSIZE_ANY_EXHDR(in) != DHT_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid bytea for type dht.key"),
				 errdetail("A key is 32 bytes, not %zu.", VARSIZE_ANY_EXHDR(in))));
	key = palloc(sizeof(DhtKey));
	memcpy(key->bytes, VARDATA_ANY(in), DHT_KEY_LEN);
	PG_RETURN_DHTKEY_P(key);
}

/* dht.node_id(pubkey bytea): BLAKE2b-256 of a 32-byte Ed25519 public key. */
Datum
key_node_id(PG_FUNCTION_ARGS)
{
	bytea	   *pubkey = PG_GETARG_BYTEA_PP(0);

	if (VARSIZE_ANY_EXHDR(pubkey) != crypto_sign_PUBLICKEYBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Ed25519 public key"),
				 errdetail("A public key is %d bytes, not %zu.",
						   crypto_sign_PUBLICKEYBYTES, VARSIZE_ANY_EXHDR(pubkey))));
	PG_RETURN_DHTKEY_P(dht_key_blake2b((unsigned char *) VARDATA_ANY(pubkey),
									   crypto_sign_PUBLICKEYBYTES));
}
