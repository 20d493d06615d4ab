/*
 * token.c
 *	  The dht.token type: a CAIP-19 token instance or asset type.
 *
 * Parsing, canonicalisation and the stored encoding are src/caip.c's (pure C,
 * fuzzed and unit-tested alone); this file is the SQL face of it.  The stored
 * value is a varlena holding the order-preserving encoding, so:
 *
 *	- comparison is memcmp then length (caip_compare), never a re-parse;
 *	- equal tokens are identical bytes, so hashing the bytes is a valid hash
 *	  opclass and btree deduplication is safe (btequalimage);
 *	- an EVM NFT is about 28 bytes on disk (1-byte varlena header), against
 *	  about 64 for its text.
 *
 * Text I/O is the canonical text.  The binary wire format is the canonical
 * text too (its ASCII bytes, no terminator): clients need no knowledge of the
 * internal encoding, which stays free to change, and recv parses it exactly
 * like text input, so a binary client cannot store a value that text input
 * would reject (NUL bytes included).
 *
 * Sorting uses a plain comparator without abbreviated keys: tokens of one
 * collection share their first 24 bytes, so a prefix abbreviation would seldom
 * decide a comparison.
 */
#include "smartlayer_dht.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "caip.h"
#include "token.h"

PG_FUNCTION_INFO_V1(token_in);
PG_FUNCTION_INFO_V1(token_out);
PG_FUNCTION_INFO_V1(token_recv);
PG_FUNCTION_INFO_V1(token_send);
PG_FUNCTION_INFO_V1(token_eq);
PG_FUNCTION_INFO_V1(token_ne);
PG_FUNCTION_INFO_V1(token_lt);
PG_FUNCTION_INFO_V1(token_le);
PG_FUNCTION_INFO_V1(token_gt);
PG_FUNCTION_INFO_V1(token_ge);
PG_FUNCTION_INFO_V1(token_cmp);
PG_FUNCTION_INFO_V1(token_sortsupport);
PG_FUNCTION_INFO_V1(token_smaller);
PG_FUNCTION_INFO_V1(token_larger);
PG_FUNCTION_INFO_V1(token_hash);
PG_FUNCTION_INFO_V1(token_hash_extended);
PG_FUNCTION_INFO_V1(token_chain_id);
PG_FUNCTION_INFO_V1(token_asset_type);
PG_FUNCTION_INFO_V1(token_token_id);
PG_FUNCTION_INFO_V1(token_key);

static DhtToken *
token_from_encoding(const uint8 *enc, size_t len)
{
	DhtToken   *token = palloc(VARHDRSZ + len);

	SET_VARSIZE(token, VARHDRSZ + len);
	memcpy(VARDATA(token), enc, len);
	return token;
}

DhtToken *
dht_token_from_text(const char *text, size_t len)
{
	uint8		enc[CAIP_ENCODED_MAX];
	caip_error	err;
	size_t		n = caip_parse(text, len, enc, &err);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type dht.token: \"%.*s\"", (int) len, text),
				 errdetail("%s", err.detail)));
	return token_from_encoding(enc, n);
}

char *
dht_token_text(const DhtToken *token, size_t *len)
{
	char	   *out = palloc(CAIP_TEXT_MAX + 1);
	size_t		n = caip_format(DHT_TOKEN_DATA(token), DHT_TOKEN_LEN(token), out);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt dht.token value"),
				 errdetail("The stored bytes are not a token encoding.")));
	if (len)
		*len = n;
	return out;
}

DhtKey *
dht_token_to_key(const DhtToken *token)
{
	size_t		len;
	char	   *text = dht_token_text(token, &len);
	DhtKey	   *key = dht_key_blake2b((const unsigned char *) text, len);

	pfree(text);
	return key;
}

Datum
token_in(PG_FUNCTION_ARGS)
{
	const char *input = PG_GETARG_CSTRING(0);

	PG_RETURN_DHTTOKEN_P(dht_token_from_text(input, strlen(input)));
}

Datum
token_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(dht_token_text(PG_GETARG_DHTTOKEN_PP(0), NULL));
}

/* Binary input: the canonical text's bytes, parsed like text input. */
Datum
token_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *bytes = buf->data + buf->cursor;
	size_t		len = (size_t) (buf->len - buf->cursor);
	uint8		enc[CAIP_ENCODED_MAX];
	caip_error	err;
	size_t		n = caip_parse(bytes, len, enc, &err);

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid binary input for type dht.token"),
				 errdetail("%s", err.detail)));
	buf->cursor = buf->len;
	PG_RETURN_DHTTOKEN_P(token_from_encoding(enc, n));
}

Datum
token_send(PG_FUNCTION_ARGS)
{
	size_t		len;
	char	   *text = dht_token_text(PG_GETARG_DHTTOKEN_PP(0), &len);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, text, (int) len);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static inline int
token_compare(const DhtToken *a, const DhtToken *b)
{
	return caip_compare(DHT_TOKEN_DATA(a), DHT_TOKEN_LEN(a),
						DHT_TOKEN_DATA(b), DHT_TOKEN_LEN(b));
}

/* Compare two argument datums, freeing detoasted copies. */
static int
token_compare_datums(Datum x, Datum y)
{
	DhtToken   *a = DatumGetDhtTokenPP(x);
	DhtToken   *b = DatumGetDhtTokenPP(y);
	int			c = token_compare(a, b);

	if ((Pointer) a != DatumGetPointer(x))
		pfree(a);
	if ((Pointer) b != DatumGetPointer(y))
		pfree(b);
	return c;
}

#define TOKEN_CMP_ARGS token_compare_datums(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1))

Datum token_eq(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS == 0); }
Datum token_ne(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS != 0); }
Datum token_lt(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS < 0); }
Datum token_le(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS <= 0); }
Datum token_gt(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS > 0); }
Datum token_ge(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(TOKEN_CMP_ARGS >= 0); }
Datum token_cmp(PG_FUNCTION_ARGS) { PG_RETURN_INT32(TOKEN_CMP_ARGS); }

/* min() and max() support: return the smaller or larger argument itself. */
Datum
token_smaller(PG_FUNCTION_ARGS)
{
	return TOKEN_CMP_ARGS <= 0 ? PG_GETARG_DATUM(0) : PG_GETARG_DATUM(1);
}

Datum
token_larger(PG_FUNCTION_ARGS)
{
	return TOKEN_CMP_ARGS >= 0 ? PG_GETARG_DATUM(0) : PG_GETARG_DATUM(1);
}

static int
token_fastcmp(Datum x, Datum y, SortSupport ssup)
{
	return token_compare_datums(x, y);
}

Datum
token_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = token_fastcmp;
	PG_RETURN_VOID();
}

Datum
token_hash(PG_FUNCTION_ARGS)
{
	DhtToken   *token = PG_GETARG_DHTTOKEN_PP(0);

	return hash_any(DHT_TOKEN_DATA(token), (int) DHT_TOKEN_LEN(token));
}

Datum
token_hash_extended(PG_FUNCTION_ARGS)
{
	DhtToken   *token = PG_GETARG_DHTTOKEN_PP(0);

	return hash_any_extended(DHT_TOKEN_DATA(token), (int) DHT_TOKEN_LEN(token),
							 PG_GETARG_INT64(1));
}

/*
 * Accessors.  The canonical text has one '/' (an asset type) or two (a token
 * instance), as no part may contain one.
 */
static text *
canonical_prefix(const DhtToken *token, int slashes)
{
	size_t		len;
	char	   *s = dht_token_text(token, &len);
	size_t		end = 0;

	for (int seen = 0; end < len; end++)
		if (s[end] == '/' && ++seen == slashes)
			break;
	return cstring_to_text_with_len(s, (int) end);
}

/* dht.chain_id(token): the CAIP-2 chain id, "eip155:1". */
Datum
token_chain_id(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(canonical_prefix(PG_GETARG_DHTTOKEN_PP(0), 1));
}

/* dht.asset_type(token): the CAIP-19 asset type, "eip155:1/erc721:0x...". */
Datum
token_asset_type(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(canonical_prefix(PG_GETARG_DHTTOKEN_PP(0), 2));
}

/* dht.token_id(token): the token id, NULL for an asset type. */
Datum
token_token_id(PG_FUNCTION_ARGS)
{
	size_t		len;
	char	   *s = dht_token_text(PG_GETARG_DHTTOKEN_PP(0), &len);
	char	   *slash = strchr(s, '/');

	slash = slash ? strchr(slash + 1, '/') : NULL;
	if (slash == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(slash + 1));
}

/* dht.token_key(token): BLAKE2b-256 of the canonical text. */
Datum
token_key(PG_FUNCTION_ARGS)
{
	PG_RETURN_DHTKEY_P(dht_token_to_key(PG_GETARG_DHTTOKEN_PP(0)));
}
