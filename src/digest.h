/*
 * digest.h
 *	  Buckets and per-bucket digests of the directory (digest.c, bucket.c).
 */
#ifndef DHT_DIGEST_H
#define DHT_DIGEST_H

#include "postgres.h"

/* dht.bucket_of: the top 10 bits of the token key; frozen (test vectors). */
#define DHT_BUCKET_BITS 10
#define DHT_BUCKETS		(1 << DHT_BUCKET_BITS)

static inline int
dht_bucket_of_key(const unsigned char *key)
{
	return (key[0] << 2) | (key[1] >> 6);
}

/* A digest: four 64-bit lanes added modulo 2^64, 32 bytes little-endian. */
#define DIGEST_LANES	4
#define DIGEST_LEN		32

/* The bucket of a token (bucket.c). */
struct varlena;
extern int	dht_token_bucket(const struct varlena *token);

#endif							/* DHT_DIGEST_H */
