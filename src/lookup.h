/*
 * lookup.h
 *	  Direct reads of the directory's logs (lookup.c).
 */
#ifndef DHT_LOOKUP_H
#define DHT_LOOKUP_H

#include "postgres.h"

/*
 * Whether dht.token_log has any row for the token (any origin, released or
 * not), under the current snapshot; needs SELECT on it (or a SECURITY
 * DEFINER caller).
 */
extern bool dht_token_seen(Datum token);

#endif							/* DHT_LOOKUP_H */
