/*
 * token.h
 *	  dht.token: a CAIP-19 token instance (or asset type), for the C files
 *	  that take or return one (the directory calls dht_token_to_key).
 *
 * A dht.token datum is a varlena whose payload is the order-preserving
 * encoding of src/caip.c; short values are stored with a 1-byte header, so
 * always read it through the _PP macros and DHT_TOKEN_DATA/_LEN.
 */
#ifndef DHT_TOKEN_H
#define DHT_TOKEN_H

#include "postgres.h"
#include "fmgr.h"

#include "key.h"

typedef struct varlena DhtToken;

#define DatumGetDhtTokenPP(X)		((DhtToken *) PG_DETOAST_DATUM_PACKED(X))
#define PG_GETARG_DHTTOKEN_PP(n)	DatumGetDhtTokenPP(PG_GETARG_DATUM(n))
#define DhtTokenPGetDatum(X)		PointerGetDatum(X)
#define PG_RETURN_DHTTOKEN_P(x)		return DhtTokenPGetDatum(x)
#define DHT_TOKEN_DATA(t)			((const uint8 *) VARDATA_ANY(t))
#define DHT_TOKEN_LEN(t)			VARSIZE_ANY_EXHDR(t)

/* Parse text (len bytes); bad input raises 22P02 naming the offending part. */
extern DhtToken *dht_token_from_text(const char *text, size_t len);

/* The canonical text, palloc'd and NUL-terminated; its length in *len. */
extern char *dht_token_text(const DhtToken *token, size_t *len);

/* BLAKE2b-256 (unkeyed) of the canonical text: the token's place in the key space. */
extern DhtKey *dht_token_to_key(const DhtToken *token);

#endif							/* DHT_TOKEN_H */
