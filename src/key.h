/*
 * key.h
 *	  dht.key: a 256-bit identifier (token keys, node ids).
 *
 * A fixed-length, pass-by-reference type of 32 bytes with char alignment,
 * ordered as an unsigned big-endian integer (memcmp order).
 */
#ifndef DHT_KEY_H
#define DHT_KEY_H

#include "postgres.h"
#include "fmgr.h"

#define DHT_KEY_LEN 32

typedef struct DhtKey
{
	unsigned char bytes[DHT_KEY_LEN];
} DhtKey;

#define DatumGetDhtKeyP(X)		((DhtKey *) DatumGetPointer(X))
#define DhtKeyPGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_DHTKEY_P(n)	DatumGetDhtKeyP(PG_GETARG_DATUM(n))
#define PG_RETURN_DHTKEY_P(x)	return DhtKeyPGetDatum(x)

/* The text output function (64 lower-case hex digits). */
extern Datum key_out(PG_FUNCTION_ARGS);

/* BLAKE2b-256 (unkeyed) of len bytes, as a palloc'd key. */
extern DhtKey *dht_key_blake2b(const unsigned char *data, size_t len);

#endif							/* DHT_KEY_H */
