/*
 * bucket.c
 *	  dht.bucket_of(token): the unit of sharding and anti-entropy.
 *
 * A token's bucket is the top 10 bits of dht.token_key (BLAKE2b-256 of its
 * canonical text), 0..1023.  It is frozen: routers map buckets to shards
 * and anchors compare per-bucket digests, so changing it would move every
 * token.  The test vectors in test/pgtap/bucket.sql were computed with
 * Python's hashlib outside SQL.
 */
#include "smartlayer_dht.h"

#include "fmgr.h"

#include "digest.h"
#include "holders.h"
#include "key.h"
#include "token.h"

PG_FUNCTION_INFO_V1(dht_bucket_of);
PG_FUNCTION_INFO_V1(dht_node_ref_of);

int
dht_token_bucket(const DhtToken *token)
{
	DhtKey	   *key = dht_token_to_key(token);
	int			bucket = dht_bucket_of_key(key->bytes);

	pfree(key);
	return bucket;
}

Datum
dht_bucket_of(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(dht_token_bucket(PG_GETARG_DHTTOKEN_PP(0)));
}

/* dht.node_ref_of(node_id): the 8-byte reference dht.holders uses. */
Datum
dht_node_ref_of(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) holders_ref_of(PG_GETARG_DHTKEY_P(0)->bytes));
}
