/*
 * placement_sql.h
 *	  What the SQL entry points of placement share (placement_sql.c):
 *	  the registry pin, shard counts, node choice and their errors.
 */
#ifndef DHT_PLACEMENT_SQL_H
#define DHT_PLACEMENT_SQL_H

#include "postgres.h"

#include "fmgr.h"

#include "registry_cache.h"

/* Run fn with the registry cache pinned (see registry_cache.h). */
extern Datum with_registry_pinned(PGFunction fn, FunctionCallInfo fcinfo);

/* data + parity shards of new allocations in the class; ERROR 53000 if none. */
extern int	sla_total_shards(DhtSla *sla);

/* ERROR 53000: the class has too few usable nodes. */
extern void report_insufficient_nodes(DhtSla *sla, int needed, int chosen) pg_attribute_noreturn();

/*
 * Shards 0..nshards-1 of a key under a seed (out[] = set indexes); returns
 * how many could be placed.
 */
extern int	choose_nodes(DhtSla *sla, const uint8 *seed, const uint8 *key, int nshards, int *out);

/* The SLA class name argument; ERROR 22023 if NULL. */
extern char *sla_name_arg(FunctionCallInfo fcinfo, int argno);

/* A palloc'd dht.key datum of 32 bytes. */
extern Datum key_datum(const uint8 *bytes);

#endif							/* DHT_PLACEMENT_SQL_H */
