/*
 * placement_shards_test.c
 *	  Unit tests of shard positions (placement_choose_shards), in TAP.
 *
 * Shards are not interchangeable, so what must be minimal is the movement of
 * (token, shard) pairs, not of node sets.  Checked here: the definition
 * (position r takes the best node of its own order that is free and keeps
 * diversity), determinism, diversity, a short class, and movement when one
 * node joins or leaves (per shard position, against the ideal n/(N+1)).
 */
// sources: src/placement.c src/placement_simd.c
// libs: -lsodium -lm
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "placement.h"

#define NODES 1000
#define OPERATORS 100
#define SHARDS 6
#define TOKENS 100000

static int	tests_run;
static int	tests_failed;

static void
ok(int cond, const char *desc)
{
	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests_run, desc);
}

static void
derive(uint8_t out[32], const char *label, uint64_t i)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *) label, strlen(label));
	crypto_generichash_update(&st, (const uint8_t *) &i, sizeof(i));
	crypto_generichash_final(&st, out, 32);
}

/* n nodes, operator = i % operators (tag), equal weights. */
static PlacementNode *
make_nodes(int n, int operators)
{
	PlacementNode *nodes = calloc(n, sizeof(PlacementNode));

	for (int i = 0; i < n; i++)
	{
		char		op[32];

		derive(nodes[i].id, "node", (uint64_t) i);
		nodes[i].weight = 1.0;
		snprintf(op, sizeof(op), "operator-%d", operators ? i % operators : i);
		nodes[i].tag = placement_tag(op, strlen(op));
	}
	return nodes;
}

static PlacementSet *
prepare(PlacementNode *nodes, int n)
{
	return placement_prepare(nodes, n, true, malloc, free);
}

static void
token_digest(uint64_t t, uint8_t digest[32])
{
	uint8_t		seed[32] = {7};
	uint8_t		key[32];

	derive(key, "token", t);
	placement_digest(seed, key, digest);
}

/*
 * Position r by the definition, by brute force: the node with the greatest
 * placement_position_draw (equal weights), ties by id, that is not an
 * earlier shard's node and shares no operator with one.  Also checks that
 * placement_choose_position agrees.
 */
static void
test_definition(PlacementSet *set)
{
	int			mismatches = 0;
	int			n = placement_set_size(set);

	for (uint64_t t = 0; t < 300; t++)
	{
		uint8_t		digest[32];
		int			out[SHARDS];
		PlacementTaken taken[SHARDS];

		token_digest(t, digest);
		if (placement_choose_shards(set, digest, NULL, 0, SHARDS, out) != SHARDS)
		{
			mismatches++;
			continue;
		}
		for (int r = 0; r < SHARDS; r++)
		{
			int			best = -1,
						one;
			uint64_t	best_draw = 0;

			for (int i = 0; i < n; i++)
			{
				const PlacementNode *node = placement_set_node(set, i);
				uint64_t	d = placement_position_draw(digest, r, node->id) >> 11;
				bool		blocked = false;

				for (int j = 0; j < r; j++)
					blocked |= memcmp(taken[j].id, node->id, 32) == 0 || taken[j].tag == node->tag;
				if (blocked)
					continue;
				if (best < 0 || d > best_draw ||
					(d == best_draw && memcmp(node->id, placement_set_node(set, best)->id, 32) < 0))
				{
					best = i;
					best_draw = d;
				}
			}
			if (best != out[r])
				mismatches++;
			if (placement_choose_position(set, digest, r, taken, r, &one) != 1 || one != out[r])
				mismatches++;
			memcpy(taken[r].id, placement_set_node(set, out[r])->id, 32);
			taken[r].tag = placement_set_node(set, out[r])->tag;
		}
	}
	ok(mismatches == 0, "shard r is the best free, diverse node of position r's order (brute force)");
}

static void
test_diversity_and_determinism(PlacementSet *set)
{
	int			clashes = 0,
				differ = 0;

	for (uint64_t t = 0; t < 5000; t++)
	{
		uint8_t		digest[32];
		int			a[SHARDS],
					b[SHARDS];

		token_digest(t, digest);
		placement_choose_shards(set, digest, NULL, 0, SHARDS, a);
		placement_choose_shards(set, digest, NULL, 0, SHARDS, b);
		differ += memcmp(a, b, sizeof(a)) != 0;
		for (int i = 0; i < SHARDS; i++)
			for (int j = i + 1; j < SHARDS; j++)
				clashes += placement_set_node(set, a[i])->tag == placement_set_node(set, a[j])->tag;
	}
	ok(differ == 0, "the same token gets the same shards");
	ok(clashes == 0, "no two shards of a token share an operator");
}

/* Load per node over TOKENS tokens: spread against a binomial. */
static void
test_uniformity(PlacementSet *set)
{
	long	   *load = calloc(NODES, sizeof(long));
	double		mean = (double) TOKENS * SHARDS / NODES,
				var = 0,
				binomial_sd = sqrt(mean * (1.0 - 1.0 / NODES));
	long		max = 0;
	char		msg[200];

	for (uint64_t t = 0; t < TOKENS; t++)
	{
		uint8_t		digest[32];
		int			out[SHARDS];

		token_digest(t, digest);
		placement_choose_shards(set, digest, NULL, 0, SHARDS, out);
		for (int r = 0; r < SHARDS; r++)
			load[out[r]]++;
	}
	for (int i = 0; i < NODES; i++)
	{
		var += (load[i] - mean) * (load[i] - mean) / NODES;
		max = load[i] > max ? load[i] : max;
	}
	printf("# uniformity by shard position: mean %.0f, max/mean %.3f, sd %.1f (binomial %.1f)\n",
		   mean, max / mean, sqrt(var), binomial_sd);
	snprintf(msg, sizeof(msg), "load spread is binomial (sd %.1f within 10%% of %.1f)", sqrt(var), binomial_sd);
	ok(sqrt(var) < 1.1 * binomial_sd, msg);
	free(load);
}

static void
test_short_class(void)
{
	PlacementNode *nodes = make_nodes(20, 4);
	PlacementSet *set = prepare(nodes, 20);
	uint8_t		digest[32];
	int			out[SHARDS];

	token_digest(1, digest);
	ok(placement_choose_shards(set, digest, NULL, 0, SHARDS, out) == 4,
	   "4 operators fill only 4 of 6 positions");
	placement_free(set);
	free(nodes);
}

/* Count (token, shard) pairs whose node differs between two sets' placements. */
static void
count_moves(PlacementSet *before, PlacementSet *after, const uint8_t *special,
			long *moved, long *to_special, long *from_special)
{
	*moved = *to_special = *from_special = 0;
	for (uint64_t t = 0; t < TOKENS; t++)
	{
		uint8_t		digest[32];
		int			a[SHARDS],
					b[SHARDS];

		token_digest(t, digest);
		placement_choose_shards(before, digest, NULL, 0, SHARDS, a);
		placement_choose_shards(after, digest, NULL, 0, SHARDS, b);
		for (int r = 0; r < SHARDS; r++)
		{
			const uint8_t *x = placement_set_node(before, a[r])->id;
			const uint8_t *y = placement_set_node(after, b[r])->id;

			if (memcmp(x, y, 32) == 0)
				continue;
			(*moved)++;
			*to_special += memcmp(y, special, 32) == 0;
			*from_special += memcmp(x, special, 32) == 0;
		}
	}
}

static void
test_movement(PlacementNode *nodes)
{
	PlacementNode *more = calloc(NODES + 1, sizeof(PlacementNode));
	PlacementSet *base = prepare(nodes, NODES);
	PlacementSet *grown,
			   *shrunk;
	long		moved,
				to_new,
				from_old;
	double		ideal = (double) TOKENS * SHARDS / (NODES + 1);
	char		msg[200];

	memcpy(more, nodes, sizeof(PlacementNode) * NODES);
	derive(more[NODES].id, "new node", 0);
	more[NODES].weight = 1.0;
	more[NODES].tag = placement_tag("operator-new", 12);
	grown = prepare(more, NODES + 1);
	count_moves(base, grown, more[NODES].id, &moved, &to_new, &from_old);
	printf("# join: %ld (token, shard) pairs move, %ld to the new node, ideal %.0f\n",
		   moved, to_new, ideal);
	snprintf(msg, sizeof(msg), "a joining node moves at most 1.1x the ideal (%ld vs %.0f)", moved, ideal);
	ok(moved <= 1.1 * ideal, msg);
	ok(to_new >= 0.97 * moved, "at least 97% of the moves go to the joining node");

	/* Node 0 leaves: every shard it held moves; few others do. */
	shrunk = prepare(nodes + 1, NODES - 1);
	count_moves(base, shrunk, nodes[0].id, &moved, &to_new, &from_old);
	printf("# leave: %ld pairs move, %ld of them held by the leaving node\n", moved, from_old);
	ok(from_old > 0 && moved <= 1.10 * from_old, "a leaving node moves its shards and at most 10% more");
	placement_free(base);
	placement_free(grown);
	placement_free(shrunk);
	free(more);
}

int
main(void)
{
	PlacementNode *nodes;
	PlacementSet *set;

	if (sodium_init() < 0)
		return 1;
	nodes = make_nodes(NODES, OPERATORS);
	set = prepare(nodes, NODES);
	printf("1..8\n");
	test_definition(set);
	test_diversity_and_determinism(set);
	test_short_class();
	test_uniformity(set);
	test_movement(nodes);
	placement_free(set);
	free(nodes);
	return tests_failed ? 1 : 0;
}
