/*
 * registry_cache.c
 *	  Backend-local cache of what placement reads: SLA classes with their
 *	  eligible node sets, node states, epochs and this anchor's origin.
 *
 * Reading dht.nodes for every placement would cost far more than placing.
 * So each backend keeps, per SLA class, the prepared PlacementSet of the
 * nodes that meet it, built on first use.  Every write to a registry table
 * (sla_log, node_log, node_state_log, epoch_log, anchor_self), local or
 * applied by logical replication, fires the ENABLE ALWAYS trigger
 * dht._registry_changed(), which queues a relcache invalidation of that
 * table; PostgreSQL delivers it to every backend (and replays it locally at
 * the next command or on rollback), and our relcache callback drops the
 * whole cache.  This is how Citus invalidates its metadata caches.
 *
 * Everything lives in one memory context under CacheMemoryContext that is
 * reset on invalidation; nothing here outlives it.  An entry point that
 * holds pointers into the cache across its own queries pins it
 * (dht_registry_pin/unpin, released in PG_FINALLY), which defers the reset.
 */
#include "smartlayer_dht.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "holders.h"
#include "key.h"
#include "registry_cache.h"
#include "token.h"

PG_FUNCTION_INFO_V1(registry_changed);


typedef struct SetIndexEntry
{
	DhtKey		id;
	int			index;
} SetIndexEntry;

static MemoryContext cache_cxt = NULL;
static bool cache_valid = false;
static int	pin_depth = 0;
static HTAB *sla_cache = NULL;
static HTAB *node_states = NULL;
static char *origin_name = NULL;
static bool write_state_loaded = false;
static char *write_fence = NULL;	/* anchor_self.write_fence */
static bool write_verified = false;	/* verified since the server started */
/* Every epoch and its seed, ascending (epochs are few); NULL until loaded. */
typedef struct EpochSeed
{
	int64		epoch;
	uint8		seed[PLACEMENT_SEED_LEN];
} EpochSeed;

static EpochSeed *epochs = NULL;
static int	nepochs = 0;
static Oid	key_typid = InvalidOid;
static Oid	token_typid = InvalidOid;
static Oid	holders_typid = InvalidOid;

/* The registry tables whose invalidation drops the cache. */
static const char *const registry_tables[] = {
	"sla_log", "node_log", "node_state_log", "epoch_log", "anchor_self"
};
#define NUM_REGISTRY_TABLES lengthof(registry_tables)
static Oid	registry_relids[NUM_REGISTRY_TABLES];

static void
remember_registry_relids(void)
{
	Oid			nsp = get_namespace_oid("dht", true);

	for (int i = 0; i < (int) NUM_REGISTRY_TABLES; i++)
		registry_relids[i] = OidIsValid(nsp) ? get_relname_relid(registry_tables[i], nsp) : InvalidOid;
}

static void
cache_reset(void)
{
	if (cache_cxt != NULL)
		MemoryContextReset(cache_cxt);
	else
		cache_cxt = AllocSetContextCreate(CacheMemoryContext, "smartlayer_dht registry",
										  ALLOCSET_DEFAULT_SIZES);
	sla_cache = NULL;
	node_states = NULL;
	origin_name = NULL;
	write_state_loaded = false;
	write_fence = NULL;
	epochs = NULL;
	nepochs = 0;
	key_typid = InvalidOid;
	token_typid = InvalidOid;
	holders_typid = InvalidOid;
	remember_registry_relids();
	cache_valid = true;
}

/*
 * A relcache invalidation of a registry table (sent by the trigger, or by
 * DDL such as DROP EXTENSION) or a full reset drops the cache.  Catalog
 * lookups are not allowed here, so the table oids were noted when the cache
 * was built.
 */
static void
registry_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid))
	{
		cache_valid = false;
		return;
	}
	for (int i = 0; i < (int) NUM_REGISTRY_TABLES; i++)
		if (registry_relids[i] == relid)
			cache_valid = false;
}

void
dht_registry_cache_init(void)
{
	CacheRegisterRelcacheCallback(registry_relcache_callback, (Datum) 0);
}

/*
 * Drop a stale cache before use, unless it is pinned: while a SQL entry
 * point holds pointers into it, an invalidation that arrives during one of
 * its own queries must not free what it is using.  The reset then happens
 * at the next use after the pin is released.
 */
static void
ensure_cache(void)
{
	if (cache_cxt == NULL || (!cache_valid && pin_depth == 0))
		cache_reset();
}

void
dht_registry_pin(void)
{
	ensure_cache();
	pin_depth++;
}

void
dht_registry_unpin(void)
{
	if (pin_depth > 0)
		pin_depth--;
}

static void *
cache_alloc(size_t size)
{
	return MemoryContextAlloc(cache_cxt, size);
}

static void
cache_free(void *p)
{
	pfree(p);
}

Datum
registry_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("dht._registry_changed() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/* ---- SPI helpers: callers are inside SPI_connect */

static Datum
spi_value(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

static char *
spi_text(int row, int col)
{
	bool		isnull;
	Datum		d = spi_value(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
spi_run(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: registry query failed: %s", SPI_result_code_string(rc));
}

/* ---- SLA classes */

static DhtDiversity
parse_diversity(const char *s)
{
	if (strcmp(s, "operator") == 0)
		return DHT_DIVERSITY_OPERATOR;
	if (strcmp(s, "subnet") == 0)
		return DHT_DIVERSITY_SUBNET;
	if (strcmp(s, "region") == 0)
		return DHT_DIVERSITY_REGION;
	return DHT_DIVERSITY_NONE;
}

static bool
load_sla_row(DhtSla *sla)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(sla->name)};
	bool		isnull;

	spi_run("SELECT data_shards, parity_shards, target_availability, diversity, "
			"       coding = 'raptorq', symbols_per_holder "
			"FROM dht.sla_classes WHERE name = $1", 1, argtypes, values);
	if (SPI_processed == 0)
		return false;
	sla->data_shards = DatumGetInt32(spi_value(0, 1, &isnull));
	sla->parity_shards = DatumGetInt32(spi_value(0, 2, &isnull));
	if (isnull)
		sla->parity_shards = -1;
	sla->target_availability = DatumGetFloat8(spi_value(0, 3, &isnull));
	if (isnull)
		sla->target_availability = 0;
	sla->diversity = parse_diversity(spi_text(0, 4));
	sla->raptorq = DatumGetBool(spi_value(0, 5, &isnull));
	sla->symbols_per_holder = DatumGetInt32(spi_value(0, 6, &isnull));
	return true;
}

/*
 * The prepared set of a class.  Flat rendezvous (one order over all nodes
 * per shard position) unless built with -DDHT_TWO_LEVEL_PLACEMENT, which
 * makes a diversity rule's values failure domains (placement.h, "Failure
 * domains"): 1.5x faster in C (1.3-1.7x through dht.place), but a node
 * joining or leaving an existing operator moves about twice the ideal number
 * of shards instead of about 1.05x, and the known-answer placements change
 * (README, Design notes).  Every anchor of a network must be built alike.
 */
static PlacementSet *
prepare_set(const PlacementNode *nodes, int n, bool diverse)
{
#ifdef DHT_TWO_LEVEL_PLACEMENT
	if (diverse)
		return placement_prepare_domains(nodes, n, cache_alloc, cache_free);
#endif
	return placement_prepare(nodes, n, diverse, cache_alloc, cache_free);
}

/*
 * The eligible nodes of a class, in node id order, with the attribute its
 * diversity rule compares (IPv4 /24 or IPv6 /64 for "subnet").
 */
static void
load_sla_nodes(DhtSla *sla)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(sla->name)};
	PlacementNode *nodes;
	double		availability = 0;
	int			measured = 0;
	int			n;

	spi_run("SELECT n.node_id, n.weight, n.endpoint, n.availability, "
			"       CASE s.diversity WHEN 'operator' THEN n.operator "
			"                        WHEN 'region' THEN n.region "
			"                        WHEN 'subnet' THEN pg_catalog.host(pg_catalog.network("
			"                             pg_catalog.set_masklen(n.addr, CASE pg_catalog.family(n.addr) "
			"                             WHEN 4 THEN 24 ELSE 64 END))) END "
			"FROM dht.nodes n, dht.sla_classes s "
			"WHERE s.name = $1 AND n.state = 'active' "
			"  AND NOT EXISTS (SELECT FROM dht.node_ref r "
			"                  WHERE r.ref = dht.node_ref_of(n.node_id) AND r.ambiguous) "
			"  AND n.bandwidth_mbps >= s.min_bandwidth_mbps "
			"  AND n.storage_gb >= s.min_storage_gb "
			"  AND coalesce(n.availability, 0) >= s.min_availability "
			"  AND (s.regions IS NULL OR n.region = ANY (s.regions)) "
			"ORDER BY n.node_id", 1, argtypes, values);
	n = (int) SPI_processed;
	sla->set = NULL;
	sla->endpoints = MemoryContextAllocZero(cache_cxt, sizeof(char *) * Max(n, 1));
	sla->mean_availability = 0;
	if (n == 0)
		return;
	nodes = palloc(sizeof(PlacementNode) * n);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		DhtKey	   *id = DatumGetDhtKeyP(spi_value(i, 1, &isnull));
		char	   *attr = spi_text(i, 5);

		memcpy(nodes[i].id, id->bytes, DHT_KEY_LEN);
		nodes[i].weight = DatumGetFloat8(spi_value(i, 2, &isnull));
		nodes[i].tag = (sla->diversity == DHT_DIVERSITY_NONE || attr == NULL) ? 0 :
			placement_tag(attr, strlen(attr));
		sla->endpoints[i] = MemoryContextStrdup(cache_cxt, spi_text(i, 3));
		availability += DatumGetFloat8(spi_value(i, 4, &isnull));
		measured += isnull ? 0 : 1;
	}
	sla->mean_availability = measured ? availability / measured : 0;
	sla->set = prepare_set(nodes, n, sla->diversity != DHT_DIVERSITY_NONE);
	pfree(nodes);
}

static void
report_unknown_sla(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("SLA class \"%s\" does not exist", name),
			 errhint("Define it with dht.define_sla().")));
}

DhtSla *
dht_sla_get(const char *name)
{
	DhtSla	   *sla;
	bool		found;

	if (name == NULL || strlen(name) >= DHT_SLA_NAME_LEN)
		report_unknown_sla(name ? name : "(null)");
	ensure_cache();
	if (sla_cache == NULL)
	{
		HASHCTL		ctl = {.keysize = DHT_SLA_NAME_LEN, .entrysize = sizeof(DhtSla),
		.hcxt = cache_cxt};

		sla_cache = hash_create("smartlayer_dht SLA classes", 16, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	sla = hash_search(sla_cache, name, HASH_FIND, NULL);
	if (sla != NULL)
		return sla;

	SPI_connect();
	{
		DhtSla		tmp;

		memset(&tmp, 0, sizeof(tmp));
		strlcpy(tmp.name, name, DHT_SLA_NAME_LEN);
		if (!load_sla_row(&tmp))
		{
			SPI_finish();
			report_unknown_sla(name);
		}
		load_sla_nodes(&tmp);
		SPI_finish();
		ensure_cache();			/* invalidated while loading (and not pinned)? */
		if (sla_cache == NULL)
			return dht_sla_get(name);
		sla = hash_search(sla_cache, name, HASH_ENTER, &found);
		memcpy(sla, &tmp, sizeof(DhtSla));
	}
	return sla;
}

static void
build_sla_datums(DhtSla *sla)
{
	int			n = placement_set_size(sla->set);
	MemoryContext old = MemoryContextSwitchTo(cache_cxt);

	sla->node_datums = palloc(sizeof(Datum) * n);
	sla->endpoint_datums = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		DhtKey	   *k = palloc(sizeof(DhtKey));

		memcpy(k->bytes, placement_set_node(sla->set, i)->id, DHT_KEY_LEN);
		sla->node_datums[i] = PointerGetDatum(k);
		sla->endpoint_datums[i] = CStringGetTextDatum(sla->endpoints[i]);
	}
	MemoryContextSwitchTo(old);
}

Datum
dht_sla_node_datum(DhtSla *sla, int i)
{
	if (sla->node_datums == NULL)
		build_sla_datums(sla);
	return sla->node_datums[i];
}

Datum
dht_sla_endpoint_datum(DhtSla *sla, int i)
{
	if (sla->endpoint_datums == NULL)
		build_sla_datums(sla);
	return sla->endpoint_datums[i];
}

int
dht_sla_index_of(DhtSla *sla, const uint8 *node_id)
{
	SetIndexEntry *e;

	if (sla->set == NULL)
		return -1;
	if (sla->index == NULL)
	{
		HASHCTL		ctl = {.keysize = DHT_KEY_LEN, .entrysize = sizeof(SetIndexEntry),
		.hcxt = cache_cxt};
		int			n = placement_set_size(sla->set);

		sla->index = hash_create("smartlayer_dht SLA index", n, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (int i = 0; i < n; i++)
		{
			e = hash_search(sla->index, placement_set_node(sla->set, i)->id, HASH_ENTER, NULL);
			e->index = i;
		}
	}
	e = hash_search(sla->index, node_id, HASH_FIND, NULL);
	return e ? e->index : -1;
}

/* ---- nodes by reference, epochs, origin */

/*
 * Every registered node by its reference (holders name nodes by it).  Two
 * node ids with one reference keep the lower one, marked ambiguous, as
 * dht.node_ref does.
 */
static void
load_nodes(void)
{
	HASHCTL		ctl = {.keysize = sizeof(uint64), .entrysize = sizeof(DhtNodeInfo),
	.hcxt = cache_cxt};
	HTAB	   *h;

	SPI_connect();
	spi_run("SELECT node_id, state, endpoint FROM dht.nodes ORDER BY node_id", 0, NULL, NULL);
	h = hash_create("smartlayer_dht nodes", Max(SPI_processed, 16), &ctl,
					HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		bool		found;
		DhtKey	   *id = DatumGetDhtKeyP(spi_value(i, 1, &isnull));
		uint64		ref = holders_ref_of(id->bytes);
		DhtNodeInfo *e = hash_search(h, &ref, HASH_ENTER, &found);

		if (found)
		{
			e->ambiguous = true;	/* rows come by node id: the first is the lower */
			continue;
		}
		e->ref = ref;
		memcpy(e->id, id->bytes, DHT_KEY_LEN);
		strlcpy(e->state, spi_text(i, 2), sizeof(e->state));
		e->endpoint = MemoryContextStrdup(cache_cxt, spi_text(i, 3));
		e->ambiguous = false;
	}
	SPI_finish();
	node_states = h;
}

const DhtNodeInfo *
dht_node_by_ref(uint64 ref)
{
	ensure_cache();
	if (node_states == NULL)
		load_nodes();
	return hash_search(node_states, &ref, HASH_FIND, NULL);
}

static const DhtNodeInfo *
find_node(const uint8 *node_id)
{
	const DhtNodeInfo *e = dht_node_by_ref(holders_ref_of(node_id));

	return e != NULL && memcmp(e->id, node_id, DHT_KEY_LEN) == 0 ? e : NULL;
}

const char *
dht_node_state(const uint8 *node_id)
{
	const DhtNodeInfo *e = find_node(node_id);

	return e ? e->state : NULL;
}

const char *
dht_node_endpoint(const uint8 *node_id)
{
	const DhtNodeInfo *e = find_node(node_id);

	return e ? e->endpoint : NULL;
}

static void
load_epochs(void)
{
	EpochSeed  *loaded;
	int			n;

	SPI_connect();
	spi_run("SELECT epoch, seed FROM dht.epochs ORDER BY epoch", 0, NULL, NULL);
	n = (int) SPI_processed;
	if (n == 0)
		elog(ERROR, "smartlayer_dht: no placement epoch (epoch 0 is missing)");
	loaded = MemoryContextAlloc(cache_cxt, sizeof(EpochSeed) * n);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		loaded[i].epoch = DatumGetInt64(spi_value(i, 1, &isnull));
		memcpy(loaded[i].seed, VARDATA_ANY(DatumGetByteaPP(spi_value(i, 2, &isnull))),
			   PLACEMENT_SEED_LEN);
	}
	SPI_finish();
	epochs = loaded;
	nepochs = n;
}

int64
dht_current_epoch(uint8 *seed)
{
	ensure_cache();
	if (epochs == NULL)
		load_epochs();
	memcpy(seed, epochs[nepochs - 1].seed, PLACEMENT_SEED_LEN);
	return epochs[nepochs - 1].epoch;
}

/* Repair asks for the seed of each token's epoch: no query per token. */
bool
dht_epoch_seed(int64 epoch, uint8 *seed)
{
	int			lo = 0,
				hi;

	ensure_cache();
	if (epochs == NULL)
		load_epochs();
	hi = nepochs - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (epochs[mid].epoch == epoch)
		{
			memcpy(seed, epochs[mid].seed, PLACEMENT_SEED_LEN);
			return true;
		}
		if (epochs[mid].epoch < epoch)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

const char *
dht_origin(void)
{
	ensure_cache();
	if (origin_name == NULL)
	{
		char	   *name;

		SPI_connect();
		spi_run("SELECT dht.local_origin()", 0, NULL, NULL);
		name = MemoryContextStrdup(cache_cxt, spi_text(0, 1));
		SPI_finish();
		origin_name = name;
	}
	return origin_name;
}

void
dht_anchor_write_state(const char **fence, bool *verified)
{
	ensure_cache();
	if (!write_state_loaded)
	{
		char	   *f = NULL;
		bool		v = true;

		SPI_connect();
		spi_run("SELECT write_fence, coalesce(verified_at >= pg_catalog.pg_postmaster_start_time(), false) "
				"FROM dht.anchor_self", 0, NULL, NULL);
		if (SPI_processed > 0)
		{
			bool		isnull;
			char	   *t = spi_text(0, 1);

			f = t ? MemoryContextStrdup(cache_cxt, t) : NULL;
			v = DatumGetBool(spi_value(0, 2, &isnull));
		}
		SPI_finish();
		write_fence = f;
		write_verified = v;
		write_state_loaded = true;
	}
	*fence = write_fence;
	*verified = write_verified;
}

/* ---- types */

static Oid
lookup_dht_type(const char *name)
{
	TypeName   *tn = makeTypeNameFromNameList(list_make2(makeString("dht"),
														  makeString(pstrdup(name))));

	return LookupTypeNameOid(NULL, tn, false);
}

Oid
dht_key_typid(void)
{
	ensure_cache();
	if (!OidIsValid(key_typid))
		key_typid = lookup_dht_type("key");
	return key_typid;
}

Oid
dht_token_typid(void)
{
	ensure_cache();
	if (!OidIsValid(token_typid))
		token_typid = lookup_dht_type("token");
	return token_typid;
}

Oid
dht_holders_typid(void)
{
	ensure_cache();
	if (!OidIsValid(holders_typid))
		holders_typid = lookup_dht_type("holders");
	return holders_typid;
}

void
dht_token_key(Datum token, uint8 *key)
{
	DhtKey	   *k = dht_token_to_key(DatumGetDhtTokenPP(token));

	memcpy(key, k->bytes, DHT_KEY_LEN);
	pfree(k);
}
