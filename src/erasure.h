/*
 * erasure.h
 *	  liberasurecode behind a small interface (erasure_lib.c) for the SQL
 *	  functions in erasure.c.
 */
#ifndef DHT_ERASURE_H
#define DHT_ERASURE_H

#include "postgres.h"

#include "fragment.h"

/* Once per call: use ISA-L's CRC-32 if it is there (see erasure_lib.c). */
extern void dht_ec_setup(void);

/* liberasurecode's negative error codes, in words. */
extern const char *dht_ec_strerror(int rc);

/* A cached liberasurecode instance for (backend, k, m); ereports on failure. */
extern int	dht_ec_instance(const DhtBackend *be, int k, int m);

/*
 * The calls below allocate nothing the caller must free and never ereport:
 * every buffer liberasurecode hands out is freed before they return.  They
 * return 0 or liberasurecode's negative error code.
 */

/* Encode; fragment i (header included, fraglen bytes) is copied to dest[i]. */
extern int	dht_ec_encode_into(int desc, int k, int m, const char *data,
							   uint64 len, char **dest, uint64 fraglen);

/* Decode from k fragments of fraglen bytes into dest (orig_size bytes). */
extern int	dht_ec_decode_into(int desc, char **frags, int nfrags, uint64 fraglen,
							   char *dest, uint64 orig_size);

/* Rebuild fragment idx (fraglen bytes) into dest. */
extern int	dht_ec_reconstruct_into(int desc, char **frags, int nfrags,
									uint64 fraglen, int idx, char *dest);

#endif							/* DHT_ERASURE_H */
