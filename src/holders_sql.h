/*
 * holders_sql.h
 *	  dht.holders datums to and from the pure-C HolderSet (holders_type.c).
 */
#ifndef DHT_HOLDERS_SQL_H
#define DHT_HOLDERS_SQL_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "holders.h"

/* Decode a (detoasted) value, palloc'd; ERROR XX001 if it is invalid. */
extern HolderSet *dht_holders_decode(struct varlena *value);
extern HolderSet *dht_holders_datum(Datum d);

/* The time of a stamp (seconds since 2020-01-01 UTC). */
extern TimestampTz dht_stamp_time(uint32 stamp);

/* A palloc'd dht.holders value of set (entries sorted). */
extern struct varlena *dht_holders_encode(const HolderSet *set);

#endif							/* DHT_HOLDERS_SQL_H */
