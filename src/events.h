/*
 * events.h
 *	  Events on an allocated token (events.c).
 */
#ifndef DHT_EVENTS_H
#define DHT_EVENTS_H

#include "postgres.h"

/*
 * Move shard `shard` of the token from one node to another: the old holder
 * becomes retiring, the new one pending, in this anchor's row.  False (and
 * nothing written) if the move no longer applies: the old holder is gone or
 * retiring already, or the new node holds a shard of the token.  Inside SPI.
 */
/* The NOTIFY channel a node's new pending holder is announced on (payload:
 * the node id in hex), so that node agents can LISTEN instead of polling
 * dht.node_assignments. */
#define DHT_ASSIGNMENT_CHANNEL "smartlayer_dht_assignment"

extern bool event_move(Datum token, int shard, const uint8 *from_id, const uint8 *to_id);

/* Drop a surplus active holder of shard (another one stays active). */
extern bool event_drop(Datum token, int shard, const uint8 *node_id);

#endif							/* DHT_EVENTS_H */
