/*
 * signing.c
 *	  Ed25519 helpers over libsodium: dht.ed25519_keypair() and
 *	  dht.ed25519_sign(message, secret), and dht.ed25519_verify(message,
 *	  signature, pubkey), which dht.announce uses.
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
PG_FUNCTION_INFO_V1(ed25519_keypair_from_seed);
PG_FUNCTION_INFO_V1(ed25519_sign);
PG_FUNCTION_INFO_V1(ed25519_verify);

static bytea *
bytea_from(const unsigned char *data, size_t len)
{
	bytea	   *out = palloc(VARHDRSZ + len);

	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), data, len);
	return out;
}

static Datum
keypair_tuple(FunctionCallInfo fcinfo, const unsigned char *pk, unsigned char *sk)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = PointerGetDatum(bytea_from(pk, crypto_sign_PUBLICKEYBYTES));
	values[1] = PointerGetDatum(bytea_from(sk, crypto_sign_SECRETKEYBYTES));
	sodium_memzero(sk, crypto_sign_SECRETKEYBYTES);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls));
}

Datum
ed25519_keypair(PG_FUNCTION_ARGS)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];

	crypto_sign_keypair(pk, sk);
	PG_RETURN_DATUM(keypair_tuple(fcinfo, pk, sk));
}

/* dht.ed25519_keypair(seed): the key pair of a 32-byte seed (reproducible). */
Datum
ed25519_keypair_from_seed(PG_FUNCTION_ARGS)
{
	bytea	   *seed = PG_GETARG_BYTEA_PP(0);
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];

	if (VARSIZE_ANY_EXHDR(seed) != crypto_sign_SEEDBYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid Ed25519 seed"),
				 errdetail("A seed is %d bytes, not %zu.",
						   crypto_sign_SEEDBYTES, VARSIZE_ANY_EXHDR(seed))));
	crypto_sign_seed_keypair(pk, sk, (unsigned char *) VARDATA_ANY(seed));
	PG_RETURN_DATUM(keypair_tuple(fcinfo, pk, sk));
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

/*
 * dht.ed25519_verify(message, signature, pubkey): false for a signature or
 * key of the wrong length, as for any other signature that does not verify.
 */
Datum
ed25519_verify(PG_FUNCTION_ARGS)
{
	bytea	   *message = PG_GETARG_BYTEA_PP(0);
	bytea	   *sig = PG_GETARG_BYTEA_PP(1);
	bytea	   *pubkey = PG_GETARG_BYTEA_PP(2);

	if (VARSIZE_ANY_EXHDR(sig) != crypto_sign_BYTES ||
		VARSIZE_ANY_EXHDR(pubkey) != crypto_sign_PUBLICKEYBYTES)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(crypto_sign_verify_detached((unsigned char *) VARDATA_ANY(sig),
											   (unsigned char *) VARDATA_ANY(message),
											   VARSIZE_ANY_EXHDR(message),
											   (unsigned char *) VARDATA_ANY(pubkey)) == 0);
}
