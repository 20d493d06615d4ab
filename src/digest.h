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

/* One row's hash as four lanes (digest.c). */
typedef struct DigestLanes
{
	uint64		v[DIGEST_LANES];
} DigestLanes;

/*
 * The directory's own writes (tokenrows.c, allocate.c) account for the
 * rows they write themselves, with the hash the trigger would compute, and
 * tell the trigger to stand aside meanwhile: dht_digest_own_writes(true)
 * before the statement, (false) after it, also on error (PG_FINALLY).
 */
extern void dht_digest_own_writes(bool on);
extern void dht_digest_token_row(Datum token, const char *origin, int16 bucket,
								 const char *sla, struct varlena *holders, DigestLanes *out);
extern void dht_digest_account(int bucket, const DigestLanes *row, bool add);

/* The bucket of a token (bucket.c). */
struct varlena;
extern int	dht_token_bucket(const struct varlena *token);

#endif							/* DHT_DIGEST_H */
