/*
 * repair.c
 *	  dht.repair_plan(): every holder that breaks the rules now, with its
 *	  minimal-movement replacement; dht.repair(max_moves) applies it.
 *
 * A holder must move when its node is down, draining, banned or ambiguous,
 * when the node no longer meets its token's SLA class, or when two holders
 * of a token share the class's diversity attribute.  0.1 checked every
 * placement on every call; at 100M tokens that is an hour.  Here the plan
 * is driven by what can break a rule:
 *
 *	  - every node that is not active (or whose reference is ambiguous): its
 *		tokens, found by the GIN index on holders (dht.@>);
 *	  - dht.repair_queue: nodes that hold something and whose record, state
 *		or availability changed, and SLA classes that were redefined
 *		(triggers enqueue them, also for rows applied by logical
 *		replication), and tokens whose rows from several anchors were merged
 *		by replication (the digest trigger queues them: their union may
 *		break diversity; after an initial copy, the copied origin, whose
 *		merged tokens one ordered pass over the primary key finds).
 *
 * One node down at 10M tokens is then one index lookup and its holders'
 * tokens, not a scan.  dht.repair() applies the moves and clears the queue
 * entries it has settled.
 *
 * For each candidate token (in token order): its rows are resolved, each
 * active or pending holder is checked against its class now, and each one
 * that must move gets the next node of its shard position's own rendezvous
 * order (under the seed of the token's epoch) that holds nothing of the
 * token and keeps the diversity rule with the holders that stay: the same
 * engine as allocation, so a replacement is deterministic and nothing else
 * moves.
 *
 * Self-healing (0.2, src/worker.c) adds two things here: a pending holder
 * stamped more than smartlayer_dht.confirm_timeout ago must move too (its
 * node never fetched its fragment; the next node of the order replaces it),
 * and dht._repair_owned(max_moves) applies only the moves of tokens this
 * anchor owns (dht.repair_owner: the first live anchor in a rendezvous order
 * of anchor names by token key), so that two anchors never both pick a
 * replacement for one shard.  And a shard with two active holders (two
 * anchors allocated the token at once: the union) keeps the one with the
 * smaller node id on an eligible node; the other is listed with reason
 * "surplus holder" and no replacement, and dropped.
 */
#include "smartlayer_dht.h"

#include <time.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "events.h"
#include "holders.h"
#include "key.h"
#include "placement_sql.h"
#include "registry_cache.h"
#include "token.h"
#include "tokenrows.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(dht_repair_plan);
PG_FUNCTION_INFO_V1(dht_repair);
PG_FUNCTION_INFO_V1(dht_repair_owned);

/* One planned move. */
typedef struct Move
{
	Datum		token;
	int			shard;
	uint8		from[DHT_KEY_LEN];
	bool		has_to;
	uint8		to[DHT_KEY_LEN];
	bool		drop;			/* a surplus holder: dropped, not replaced */
	const char *reason;
} Move;

/* A dht.repair_queue entry the plan read (kind 'n' node ref, 'c' class, 't' token). */
typedef struct QueueItem
{
	char		kind;
	char	   *item;
	char	   *version;		/* cleared only if nobody queued it again since */
} QueueItem;

typedef struct RepairPlan
{
	List	   *moves;			/* of Move */
	List	   *queue_items;	/* of QueueItem: the queue entries read */
	bool		complete;		/* every move has a replacement */
	int64		limit;			/* stop after this many moves with a replacement (-1: all) */
	int64		placed;			/* moves with a replacement so far */
	bool		truncated;		/* the limit stopped the plan before the last candidate */
	MemoryContext cxt;			/* where the moves live */
} RepairPlan;

/* ---- candidates */

typedef struct TokenKey
{
	uint8		bytes[64];		/* the encoding, or its BLAKE2b when longer */
} TokenKey;

typedef struct Candidates
{
	HTAB	   *seen;
	List	   *tokens;			/* of Datum (dht.token), copied */
} Candidates;

static void
add_candidate(Candidates *c, Datum token)
{
	DhtToken   *t = DatumGetDhtTokenPP(token);
	TokenKey	key;
	bool		found;

	memset(&key, 0, sizeof(key));
	if (DHT_TOKEN_LEN(t) <= sizeof(key.bytes))
		memcpy(key.bytes, DHT_TOKEN_DATA(t), DHT_TOKEN_LEN(t));
	else
	{
		DhtKey	   *h = dht_key_blake2b(DHT_TOKEN_DATA(t), DHT_TOKEN_LEN(t));

		memcpy(key.bytes, h->bytes, DHT_KEY_LEN);
		key.bytes[sizeof(key.bytes) - 1] = 1;
	}
	hash_search(c->seen, &key, HASH_ENTER, &found);
	if (!found)
		c->tokens = lappend(c->tokens, DatumGetPointer(datumCopy(token, false, -1)));
}

static void
add_query_tokens(Candidates *c, const char *sql, Oid argtype, Datum arg)
{
	int			rc = SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 0);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: repair candidates query failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		add_candidate(c, SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
}

static void
add_node_tokens(Candidates *c, const uint8 *node_id)
{
	add_query_tokens(c, "SELECT token FROM dht.token_log WHERE holders OPERATOR(dht.@>) $1",
					 dht_key_typid(), key_datum(node_id));
}

/* Nodes that are not active, or whose reference is ambiguous. */
static void
add_unhealthy_nodes(Candidates *c)
{
	int			rc = SPI_execute("SELECT n.node_id FROM dht.nodes n "
								 "LEFT JOIN dht.node_ref r ON r.ref = dht.node_ref_of(n.node_id) "
								 "WHERE n.state <> 'active' OR r.ambiguous", true, 0);
	SPITupleTable *nodes = SPI_tuptable;
	uint64		n = SPI_processed;

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: could not list unhealthy nodes");
	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;
		DhtKey	   *id = DatumGetDhtKeyP(SPI_getbinval(nodes->vals[i], nodes->tupdesc, 1, &isnull));

		add_node_tokens(c, id->bytes);
	}
	SPI_freetuptable(nodes);
}

/* The queue: changed nodes, redefined classes, merged tokens. */
static void
add_queued(Candidates *c, RepairPlan *plan)
{
	int			rc = SPI_execute("SELECT kind::text, item, version FROM dht.repair_queue ORDER BY kind, item", true, 0);
	SPITupleTable *queue = SPI_tuptable;
	uint64		n = SPI_processed;

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "smartlayer_dht: could not read dht.repair_queue");
	for (uint64 i = 0; i < n; i++)
	{
		char	   *kind = SPI_getvalue(queue->vals[i], queue->tupdesc, 1);
		char	   *item = SPI_getvalue(queue->vals[i], queue->tupdesc, 2);
		QueueItem  *q = palloc(sizeof(QueueItem));

		q->kind = kind[0];
		q->item = item;
		q->version = SPI_getvalue(queue->vals[i], queue->tupdesc, 3);
		plan->queue_items = lappend(plan->queue_items, q);
		if (kind[0] == 'n')
			add_query_tokens(c, "SELECT l.token FROM dht.node_ref r, dht.token_log l "
							 "WHERE r.ref = $1::bigint AND l.holders OPERATOR(dht.@>) r.node_id",
							 TEXTOID, CStringGetTextDatum(item));
		else if (kind[0] == 'c')
			add_query_tokens(c, "SELECT token FROM dht.token_log WHERE sla = $1",
							 TEXTOID, CStringGetTextDatum(item));
		else if (kind[0] == 'o')
			add_query_tokens(c, "SELECT token FROM dht.token_log GROUP BY token "
							 "HAVING count(*) > 1 AND bool_or(origin = $1)",
							 TEXTOID, CStringGetTextDatum(item));
		else if (kind[0] == 't')
			add_candidate(c, PointerGetDatum(dht_token_from_text(item, strlen(item))));
	}
	SPI_freetuptable(queue);
}

static int
token_datum_cmp(const ListCell *a, const ListCell *b)
{
	DhtToken   *x = DatumGetDhtTokenPP(PointerGetDatum(lfirst(a)));
	DhtToken   *y = DatumGetDhtTokenPP(PointerGetDatum(lfirst(b)));
	size_t		lx = DHT_TOKEN_LEN(x),
				ly = DHT_TOKEN_LEN(y);
	int			c = memcmp(DHT_TOKEN_DATA(x), DHT_TOKEN_DATA(y), Min(lx, ly));

	return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* ---- planning one token */

/* Why a holder must move, or NULL if it may stay (tag: its diversity tag). */
static const char *
holder_problem(DhtSla *sla, const DhtNodeInfo *node, uint64 *tag)
{
	int			idx;

	if (node == NULL)
		return NULL;			/* not registered here (yet): leave it alone */
	if (node->ambiguous)
		return "node id collision";
	idx = dht_sla_index_of(sla, node->id);
	if (idx >= 0)
	{
		*tag = placement_set_node(sla->set, idx)->tag;
		return NULL;
	}
	if (strcmp(node->state, "active") != 0)
		return psprintf("node %s", node->state);
	return "SLA no longer met";
}

/* Whether a pending holder has waited past smartlayer_dht.confirm_timeout. */
static bool
pending_expired(const HolderEntry *e)
{
	int64		now = (int64) time(NULL) - HOLDERS_STAMP_EPOCH;

	return now - (int64) e->stamp > (int64) dht_confirm_timeout;
}

/*
 * Whether holder i is a surplus one: active, and another active holder of
 * its shard is on a node that meets the class and either this one's node
 * does not, or has the smaller node id (so every anchor keeps the same one).  Two anchors that allocated one token at once
 * leave such pairs (the union of their holders); once the kept one is
 * confirmed the other is dropped.
 */
static bool
surplus_holder(DhtSla *sla, const TokenRows *tr, int i)
{
	const HolderEntry *e = tr->holders[i].entry;
	const DhtNodeInfo *node = dht_node_by_ref(e->ref);
	uint64		tag = 0;
	bool		eligible;

	if (e->state != HOLDER_ACTIVE || node == NULL)
		return false;
	eligible = holder_problem(sla, node, &tag) == NULL;
	for (int j = 0; j < tr->res.n; j++)
	{
		const HolderEntry *o = tr->holders[j].entry;
		const DhtNodeInfo *other;

		if (j == i || o->shard != e->shard || o->state != HOLDER_ACTIVE)
			continue;
		other = dht_node_by_ref(o->ref);
		if (other != NULL && holder_problem(sla, other, &tag) == NULL &&
			(!eligible || memcmp(other->id, node->id, DHT_KEY_LEN) < 0))
			return true;
	}
	return false;
}

/* A move of the token's holder of shard on node from, appended to the plan (in its context). */
static Move *
plan_move(RepairPlan *plan, Datum token, int shard, const uint8 *from)
{
	MemoryContext outer = MemoryContextSwitchTo(plan->cxt);
	Move	   *m = palloc0(sizeof(Move));

	m->token = token;
	m->shard = shard;
	memcpy(m->from, from, DHT_KEY_LEN);
	plan->moves = lappend(plan->moves, m);
	MemoryContextSwitchTo(outer);
	return m;
}

static void
plan_token(TokenProbe *probe, Datum token, RepairPlan *plan)
{
	TokenRows	tr;
	TokenRow   *meta;
	DhtSla	   *sla;
	PlacementTaken *taken;
	const HolderEntry **moving;
	const DhtNodeInfo **moving_nodes;
	const char **reasons;
	int			nkept = 0,
				nmoving = 0,
				ntaken;
	uint8		seed[PLACEMENT_SEED_LEN];
	uint8		digest[PLACEMENT_DIGEST_LEN];
	bool		have_order;

	token_rows_read_with(probe, token, NULL, &tr);
	meta = token_rows_meta(&tr);
	if (!tr.res.live)
		return;
	sla = dht_sla_get(meta->sla);
	taken = palloc(sizeof(PlacementTaken) * (2 * tr.res.n + 1));
	moving = palloc(sizeof(HolderEntry *) * (tr.res.n + 1));
	moving_nodes = palloc(sizeof(DhtNodeInfo *) * (tr.res.n + 1));
	reasons = palloc(sizeof(char *) * (tr.res.n + 1));
	for (int i = 0; i < tr.res.n; i++)
	{
		const HolderEntry *e = tr.holders[i].entry;
		const DhtNodeInfo *node = dht_node_by_ref(e->ref);
		uint64		tag = 0;
		const char *problem;

		if (e->state == HOLDER_RETIRING)
			continue;
		if (surplus_holder(sla, &tr, i))
		{
			Move	   *m = plan_move(plan, token, e->shard, node->id);

			m->drop = true;
			m->reason = "surplus holder";
			continue;
		}
		problem = holder_problem(sla, node, &tag);
		if (problem == NULL && e->state == HOLDER_PENDING && pending_expired(e))
			problem = "not confirmed within confirm_timeout";
		for (int j = 0; problem == NULL && tag != 0 && j < nkept; j++)
			if (taken[j].tag == tag)
				problem = "diversity broken";
		if (problem == NULL)
		{
			if (node != NULL)
			{
				memcpy(taken[nkept].id, node->id, DHT_KEY_LEN);
				taken[nkept++].tag = tag;
			}
			continue;
		}
		reasons[nmoving] = problem;
		moving_nodes[nmoving] = node;
		moving[nmoving++] = e;
	}
	if (nmoving == 0)
		return;
	/* Moving holders are excluded by id but do not constrain diversity. */
	for (int i = 0; i < nmoving; i++)
	{
		memcpy(taken[nkept + i].id, moving_nodes[i]->id, DHT_KEY_LEN);
		taken[nkept + i].tag = 0;
	}
	ntaken = nkept + nmoving;
	/* Retiring holders still hold data: never their node again. */
	have_order = sla->set != NULL && dht_epoch_seed(meta->set->epoch, seed);
	if (have_order)
		placement_digest(seed, dht_token_to_key(DatumGetDhtTokenPP(token))->bytes, digest);
	for (int i = 0; i < nmoving; i++)
	{
		Move	   *m = plan_move(plan, token, moving[i]->shard, moving_nodes[i]->id);
		int			out;

		if (have_order &&
			placement_choose_position(sla->set, digest, m->shard, taken, ntaken, &out) == 1)
		{
			const PlacementNode *to = placement_set_node(sla->set, out);

			m->has_to = true;
			m->reason = MemoryContextStrdup(plan->cxt, reasons[i]);
			plan->placed++;
			memcpy(m->to, to->id, DHT_KEY_LEN);
			memcpy(taken[ntaken].id, to->id, DHT_KEY_LEN);
			taken[ntaken++].tag = to->tag;
		}
		else
		{
			MemoryContext outer = MemoryContextSwitchTo(plan->cxt);

			m->reason = psprintf("%s; no eligible replacement", reasons[i]);
			MemoryContextSwitchTo(outer);
			plan->complete = false;
		}
	}
}

/*
 * The plan (inside SPI, in the caller's memory context), up to limit moves
 * with a replacement (-1: all).  Each token is read and planned in a
 * context reset after it, through one probe of the table, so planning a
 * node's 100,000 holders costs the memory of the moves only.
 */
static void
make_plan(RepairPlan *plan, int64 limit)
{
	HASHCTL		ctl = {.keysize = sizeof(TokenKey), .entrysize = sizeof(TokenKey),
	.hcxt = CurrentMemoryContext};
	Candidates	c = {hash_create("smartlayer_dht repair candidates", 1024, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT), NIL};
	MemoryContext token_cxt;
	TokenProbe *probe;
	ListCell   *lc;

	plan->moves = NIL;
	plan->queue_items = NIL;
	plan->complete = true;
	plan->limit = limit;
	plan->placed = 0;
	plan->truncated = false;
	plan->cxt = CurrentMemoryContext;
	add_unhealthy_nodes(&c);
	add_queued(&c, plan);
	list_sort(c.tokens, token_datum_cmp);
	token_cxt = AllocSetContextCreate(CurrentMemoryContext, "smartlayer_dht repair token",
									  ALLOCSET_DEFAULT_SIZES);
	probe = token_probe_begin();
	foreach(lc, c.tokens)
	{
		MemoryContext outer;

		CHECK_FOR_INTERRUPTS();
		if (limit >= 0 && plan->placed >= limit)
		{
			plan->truncated = true;
			break;
		}
		outer = MemoryContextSwitchTo(token_cxt);
		plan_token(probe, PointerGetDatum(lfirst(lc)), plan);
		MemoryContextSwitchTo(outer);
		MemoryContextReset(token_cxt);
	}
	token_probe_end(probe);
	MemoryContextDelete(token_cxt);
}

/* ---- dht.repair_plan() */

static Datum
dht_repair_plan_pinned(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RepairPlan	plan;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	make_plan(&plan, -1);
	foreach(lc, plan.moves)
	{
		Move	   *m = lfirst(lc);
		Datum		row[5];
		bool		nulls[5] = {false, false, false, !m->has_to, false};

		row[0] = m->token;
		row[1] = Int32GetDatum(m->shard);
		row[2] = key_datum(m->from);
		row[3] = m->has_to ? key_datum(m->to) : (Datum) 0;
		row[4] = CStringGetTextDatum(m->reason);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

Datum
dht_repair_plan(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_repair_plan_pinned, fcinfo);
}

/* ---- dht.repair(max_moves) */

static void
clear_queue(const RepairPlan *plan)
{
	ListCell   *lc;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};

	foreach(lc, plan->queue_items)
	{
		const QueueItem *q = lfirst(lc);
		Datum		args[3] = {CStringGetTextDatum(psprintf("%c", q->kind)),
		CStringGetTextDatum(q->item), CStringGetTextDatum(q->version)};

		if (SPI_execute_with_args("DELETE FROM dht.repair_queue "
								  "WHERE kind = $1::\"char\" AND item = $2 AND version = $3::bigint",
								  3, types, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "smartlayer_dht: could not clear dht.repair_queue");
	}
}

/* Whether this anchor owns the repair of token now (dht.repair_owner). */
static bool
owns_token(Datum token)
{
	Oid			types[1] = {dht_token_typid()};
	Datum		args[1] = {token};
	bool		isnull;
	bool		owned;

	if (SPI_execute_with_args("SELECT dht.repair_owner($1) = dht.local_origin()",
							  1, types, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "smartlayer_dht: could not read the repair owner of a token");
	owned = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return !isnull && owned;
}

static Datum
repair_apply(FunctionCallInfo fcinfo, bool owned_only)
{
	bool		unlimited = PG_ARGISNULL(0);
	int64		limit = unlimited ? 0 : PG_GETARG_INT32(0);
	int64		moves = 0;
	bool		all_done = true;
	Datum		last_token = (Datum) 0;
	bool		last_owned = false;
	RepairPlan	plan;
	ListCell   *lc;

	if (limit < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_moves must be 0 or more, or NULL for no limit")));
	SPI_connect();
	/* Owned only: plan everything, or moves of other anchors' tokens at the
	 * head of the plan would use up the limit. */
	make_plan(&plan, unlimited || owned_only ? -1 : limit);
	all_done = !plan.truncated;
	foreach(lc, plan.moves)
	{
		Move	   *m = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (!m->has_to && !m->drop)
			continue;
		if (!unlimited && moves >= limit)
		{
			all_done = false;
			break;
		}
		if (owned_only)
		{
			if (m->token != last_token)
			{
				last_token = m->token;
				last_owned = owns_token(m->token);
			}
			if (!last_owned)
			{
				all_done = false;	/* keep the queue: we may have to take over */
				continue;
			}
		}
		if (m->drop ? event_drop(m->token, m->shard, m->from)
			: event_move(m->token, m->shard, m->from, m->to))
			moves++;
	}
	if (all_done && plan.complete)
		clear_queue(&plan);
	SPI_finish();
	PG_RETURN_INT64(moves);
}

static Datum
dht_repair_pinned(PG_FUNCTION_ARGS)
{
	return repair_apply(fcinfo, false);
}

static Datum
dht_repair_owned_pinned(PG_FUNCTION_ARGS)
{
	return repair_apply(fcinfo, true);
}

Datum
dht_repair(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_repair_pinned, fcinfo);
}

/* dht._repair_owned(max_moves): dht.repair for the tokens this anchor owns. */
Datum
dht_repair_owned(PG_FUNCTION_ARGS)
{
	return with_registry_pinned(dht_repair_owned_pinned, fcinfo);
}

