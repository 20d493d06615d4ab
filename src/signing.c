/*
 * signing.c
 *	  Ed25519 helpers over libsodium: dht.ed25519_keypair() and
 *	  dht.ed25519_sign(message, secret).
 *
 * They exist for demos and tests, so that a node announcement can be signed
 * without leaving SQL.  Real service nodes keep their secret keys to
 * themselves.  Secret material in our own buffers is wiped with
 * sodium_memzero as soon as it has been copied into the result.
 */
#include "smartlayer_dht.h"

#include <sodium.h>

#include "access/htup_details.h"
#include "funcapi.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(ed25519_keypair);
PG_FUNCTION_INFO_V1(ed25519_sign);

static bytea *
bytea_from(const unsigned char *data, size_t len)
{
	bytea	   *out = palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), data, len);
	return out;
}

Datum
ed25519_keypair(PG_FUNCTION_ARGS)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	crypto_sign_keypair(pk, sk);
	values[0] = PointerGetDatum(bytea_from(pk, sizeof(pk)));
	values[1] = PointerGetDatum(bytea_from(sk, sizeof(sk)));
	sodium_memzero(sk, sizeof(sk));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

Datum
ed25519_sign(PG_FUNCTION_ARGS)
{
	bytea	   *message = PG_GETARG_BYTEA_PP(0);
	bytea	   *secret = PG_GETARG_BYTEA_PP(1);
	unsigned char sig[crypto_sign_BYTES];

	if (VARSIZE_ANY_EXHDR(secret) != crypto_sign_SECRETKEYBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Ed25519 secret key"),
				 errdetail("A secret key is %d bytes, not %zu.",
						   crypto_sign_SECRETKEYBYTES, VARSIZE_ANY_EXHDR(secret))));
	crypto_sign_detached(sig, NULL, (unsigned char *) VARDATA_ANY(message),
						 VARSIZE_ANY_EXHDR(message),
						 (unsigned char *) VARDATA_ANY(secret));
	PG_RETURN_BYTEA_P(bytea_from(sig, sizeof(sig)));
}
