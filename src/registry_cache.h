/*
 * registry_cache.h
 *	  Backend-local cache of the registry: SLA classes with their eligible
 *	  node sets, the current epoch and this anchor's origin name.
 */
#ifndef DHT_REGISTRY_CACHE_H
#define DHT_REGISTRY_CACHE_H

#include "postgres.h"

#include "key.h"
#include "placement.h"
#include "utils/hsearch.h"

#define DHT_SLA_NAME_LEN 64

typedef enum DhtDiversity
{
	DHT_DIVERSITY_NONE,
	DHT_DIVERSITY_OPERATOR,
	DHT_DIVERSITY_SUBNET,
	DHT_DIVERSITY_REGION
} DhtDiversity;

/* One SLA class and the nodes that meet it now. */
typedef struct DhtSla
{
	char		name[DHT_SLA_NAME_LEN]; /* hash key */
	int			data_shards;
	int			parity_shards;	/* sized from target_availability if that is set */
	double		target_availability;	/* 0 when parity is fixed */
	DhtDiversity diversity;
	bool		raptorq;		/* coded with RaptorQ (else Reed-Solomon) */
	int			symbols_per_holder; /* RaptorQ: ESIs a holder stores (else 1) */
	PlacementSet *set;			/* eligible nodes, NULL when none */
	char	  **endpoints;		/* endpoint of set node i */
	Datum	   *node_datums;	/* dht.key datum of set node i, built on demand */
	Datum	   *endpoint_datums;	/* text datum of its endpoint, built on demand */
	double		mean_availability;	/* over eligible nodes measured; 0 if none */
	HTAB	   *index;			/* node id -> set index, built on demand */
} DhtSla;

/* The SLA class, its eligible set built if needed; ERROR 22023 if unknown. */
extern DhtSla *dht_sla_get(const char *name);

/* Datums of set node i's id and endpoint, kept with the class (do not pfree). */
extern Datum dht_sla_node_datum(DhtSla *sla, int i);
extern Datum dht_sla_endpoint_datum(DhtSla *sla, int i);

/* The set index of a node in the class's eligible set, or -1. */
extern int	dht_sla_index_of(DhtSla *sla, const uint8 *node_id);

/* The current (greatest) epoch and its seed. */
extern int64 dht_current_epoch(uint8 *seed);

/* The seed of a given epoch; false if there is no such epoch. */
extern bool dht_epoch_seed(int64 epoch, uint8 *seed);

/* The name this anchor writes its rows under. */
extern const char *dht_origin(void);

/*
 * The origin to write a row under: dht_origin(), once this anchor may write
 * (anchor_recover.c: ERROR 55000 while it is fenced, or behind its peers on
 * its own rows after a restart).
 */
extern const char *dht_write_origin(void);

/* anchor_self's write fence (NULL: none) and whether its own rows were
 * checked against its peers since the server started (no anchor: true). */
extern void dht_anchor_write_state(const char **fence, bool *verified);

/* A registered node, found by the reference holders name it by. */
typedef struct DhtNodeInfo
{
	uint64		ref;			/* hash key: the node id's first 8 bytes */
	uint8		id[DHT_KEY_LEN];
	char		state[12];		/* active, draining, down, banned */
	char	   *endpoint;
	bool		ambiguous;		/* another registered node has this reference */
} DhtNodeInfo;

/* The node of a reference, or NULL if none is registered. */
extern const DhtNodeInfo *dht_node_by_ref(uint64 ref);

/* The state ("active", ...) and endpoint of any registered node, or NULL. */
extern const char *dht_node_state(const uint8 *node_id);
extern const char *dht_node_endpoint(const uint8 *node_id);

/* Type oids of dht.key and dht.token, and the key of a token (dht.token_key). */
extern Oid	dht_key_typid(void);
extern Oid	dht_token_typid(void);
extern Oid	dht_holders_typid(void);
extern void dht_token_key(Datum token, uint8 *key);

/*
 * Keep the cache's memory valid (possibly stale) until unpinned: for callers
 * that use DhtSla pointers across queries.  Unpin in PG_FINALLY.
 */
extern void dht_registry_pin(void);
extern void dht_registry_unpin(void);

/* Register the invalidation callback (from _PG_init). */
extern void dht_registry_cache_init(void);

#endif							/* DHT_REGISTRY_CACHE_H */
