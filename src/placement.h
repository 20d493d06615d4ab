/*
 * placement.h
 *	  Pure-C placement engine: seeded weighted rendezvous (straw2-style).
 *
 * No PostgreSQL headers: the engine is benchmarked and unit-tested on its
 * own (bench/placement, test/unit).  placement_sql.c feeds it the eligible
 * nodes of one SLA class and turns its answers into rows.
 *
 * Model.  For a token, one keyed PRF call (BLAKE2b keyed with the epoch seed,
 * over the token key) gives a 32-byte digest.  Each candidate node then gets
 * a pseudo-random 64-bit draw from a cheap keyed mix of that digest and the
 * first 8 bytes of its node id (placement_draw), turned into
 * u = ((draw >> 11) + 1) * 2^-53 in (0, 1]; its score is ln(u) / w as in
 * Ceph's straw2, so a node's chance of ranking first is proportional to its
 * weight.  The token's rendezvous order is the candidates sorted by score,
 * best (highest) first; equal scores by u, higher first; then by the full
 * node id, lower (memcmp) first.  Shards go, in shard order, to the first
 * nodes of that order that keep the diversity rule: no two chosen nodes (nor
 * a chosen node and a "taken" node, see below) share a diversity tag.
 *
 * Determinism.  ln is computed in fixed point with integer arithmetic and
 * constant tables (no libm), then scaled by 1/w with one IEEE-754 double
 * multiplication, so the same nodes, seed and key give the same answer on
 * every anchor, whatever its CPU, compiler or C library.  When all weights
 * are equal, the order is by u alone (no logarithm at all), which is the same
 * order as the scores' because the fixed-point ln is strictly increasing.
 */
#ifndef DHT_PLACEMENT_H
#define DHT_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACEMENT_ID_LEN 32
#define PLACEMENT_SEED_LEN 32
#define PLACEMENT_DIGEST_LEN 32
#define PLACEMENT_MAX_SHARDS 255

/* One candidate node. */
typedef struct PlacementNode
{
	uint8_t		id[PLACEMENT_ID_LEN];	/* node id (BLAKE2b of the pubkey) */
	double		weight;			/* finite, > 0: see placement_weight_ok */
	uint64_t	tag;			/* diversity tag (compared only when use_tags;
								 * 0 is a tag like any other) */
} PlacementNode;

/*
 * A prepared candidate set: built once per (SLA class, node table version)
 * and cached; placement_prepare precomputes what the per-token loop needs.
 */
typedef struct PlacementSet PlacementSet;

/* A node that already holds a shard of the token (repair): its id and tag. */
typedef struct PlacementTaken
{
	uint8_t		id[PLACEMENT_ID_LEN];
	uint64_t	tag;
} PlacementTaken;

/*
 * Build a set from n >= 0 nodes (copied).  use_tags: whether the diversity
 * rule is on (tags compared) or off (diversity "none").  Memory comes from
 * alloc/dealloc (palloc in the server, malloc elsewhere).  Returns NULL if
 * alloc fails, n < 0, or a weight fails placement_weight_ok (check weights
 * with it first to report a proper error).  Node ids should be distinct.
 */
extern PlacementSet *placement_prepare(const PlacementNode *nodes, int n, bool use_tags,
									   void *(*alloc) (size_t), void (*dealloc) (void *));
extern void placement_free(PlacementSet *set);
extern bool placement_weight_ok(double weight);
extern int	placement_set_size(const PlacementSet *set);
extern const PlacementNode *placement_set_node(const PlacementSet *set, int i);

/* The per-token digest: BLAKE2b-256 keyed with seed, over key (libsodium). */
extern void placement_digest(const uint8_t seed[PLACEMENT_SEED_LEN],
							 const uint8_t key[PLACEMENT_ID_LEN],
							 uint8_t digest[PLACEMENT_DIGEST_LEN]);

/*
 * A node's pseudo-random 64-bit draw for a token digest: a keyed mix of the
 * digest's four 64-bit words and the first 8 bytes of the node id.
 */
extern uint64_t placement_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN],
							   const uint8_t id[PLACEMENT_ID_LEN]);

/*
 * A node's straw2 score for a token digest, ln(u) / weight, in (-inf, 0]
 * (higher is better).  Exactly the score placement_choose ranks by.
 */
extern double placement_score(const uint8_t digest[PLACEMENT_DIGEST_LEN],
							  const PlacementNode *node);

/*
 * Choose up to want nodes for a token: the first nodes of its rendezvous
 * order that share no tag with each other or with taken[0..ntaken-1] and
 * are not themselves taken (same id).  Writes set indexes to out[] in
 * choice order and returns how many were chosen (fewer than want when the
 * set cannot satisfy the rule), or -1 if the set's allocator failed.
 * Thread-safe; no allocation in the common case (want <= 16 and enough
 * distinct tags), else uses the set's allocator and frees what it took.
 */
extern int	placement_choose(const PlacementSet *set,
							 const uint8_t digest[PLACEMENT_DIGEST_LEN],
							 const PlacementTaken *taken, int ntaken,
							 int want, int *out);

/*
 * 64-bit diversity tag of an attribute value (operator, region, subnet): the
 * first 8 bytes (little-endian) of its unkeyed BLAKE2b-64; never 0, so a
 * caller may use 0 for "no value" (all such nodes then share one tag).
 */
extern uint64_t placement_tag(const void *data, size_t len);

/*
 * Shard positions.  Erasure-coded shards are not interchangeable (fragment
 * r is specific data), so a token's shard r must stay on its node when
 * nodes come and go elsewhere.  Ranking the nodes once and numbering the
 * first n would renumber shards whenever a new node entered the top n.  So
 * each position r has its own rendezvous order, as CRUSH's "indep" mode
 * does: a node's draw for position r is a keyed bijection of its token draw
 * (placement_draw), keyed by r and the digest (placement_position_draw), so
 * the costly mix runs once per node and token.  Shard r goes to the best
 * node of order r that is not taken and keeps the diversity rule with the
 * taken nodes and the shards before it.  A new node then takes exactly the
 * positions it wins (and, rarely, a later position of the same token that
 * competed for a node an earlier one released).
 */
extern uint64_t placement_position_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN],
										int position,
										const uint8_t id[PLACEMENT_ID_LEN]);

/*
 * Place shards 0..nshards-1 of a token (out[r] = set index of shard r's
 * node).  Returns how many positions were filled, in order: fewer than
 * nshards when the set cannot satisfy the rule, -1 if allocation failed.
 */
extern int	placement_choose_shards(const PlacementSet *set,
									const uint8_t digest[PLACEMENT_DIGEST_LEN],
									const PlacementTaken *taken, int ntaken,
									int nshards, int *out);

/*
 * The node for one shard position (repair): the best of order `position`
 * that is not taken and shares no tag with taken.  Returns 1, 0 if none, or
 * -1 if allocation failed.
 */
extern int	placement_choose_position(const PlacementSet *set,
									  const uint8_t digest[PLACEMENT_DIGEST_LEN],
									  int position,
									  const PlacementTaken *taken, int ntaken,
									  int *out);

/*
 * Failure domains (two-level placement, as CRUSH's chooseleaf).  A set made
 * by placement_prepare_domains groups its nodes by tag: each distinct tag is
 * a domain whose weight is the sum of its nodes' weights (added in node id
 * order, so every anchor gets the same double).  placement_choose_shards and
 * placement_choose_position then place position r in two draws:
 *
 *   1. over the domains: the domain order of position r ranks the domains by
 *      ln(u_d) / W_d, u_d from placement_domain_draw (a keyed mix of the
 *      domain's tag under the digest with fixed constants xored in, then
 *      position_mix with the salt of position r + 256); ties by u_d, then by
 *      the tag (little-endian bytes, lower first).  The best domain that is
 *      not excluded wins.  Excluded: the domains of taken nodes and of the
 *      token's earlier positions.
 *   2. inside it: position r's node order of the flat engine, restricted to
 *      the domain's nodes (same draw, placement_position_draw, same score
 *      and ties).  The best node that is not taken wins.  If every node of
 *      the domain is taken, the domain is excluded and step 1 goes on.
 *
 * A placement then costs one draw per domain and one per node of the chosen
 * domains, instead of one per node.  The chance that a domain wins is its
 * weight share, and inside it a node's is its weight share of the domain, so
 * the shares are the flat engine's (when diversity allows them).  Movement
 * differs: a node joining domain X makes X heavier at the domain level, so X
 * wins some positions other domains had, and those go to X's best node for
 * the position, often an old one; see the README.  A node leaving X makes X
 * lighter, so X loses some positions that other nodes of X held.  Repair
 * (placement_choose_position with the holders that stay as taken, with
 * their tags, and the leaving one taken by id with tag 0) keeps every
 * holder that stays and takes the next node of the same two-level order.
 *
 * placement_choose keeps the flat order for every set.
 */
extern PlacementSet *placement_prepare_domains(const PlacementNode *nodes, int n,
											   void *(*alloc) (size_t),
											   void (*dealloc) (void *));

/* How many failure domains a set has; 0 for a flat set. */
extern int	placement_set_domains(const PlacementSet *set);

/* A domain's 64-bit draw for a token digest and position (step 1 above). */
extern uint64_t placement_domain_draw(const uint8_t digest[PLACEMENT_DIGEST_LEN],
									  int position, uint64_t tag);

/* The engine's cost -ln(u) / weight of a draw (lower is better). */
extern double placement_draw_cost(uint64_t draw, double weight);

#endif							/* DHT_PLACEMENT_H */
