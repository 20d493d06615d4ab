/*
 * placement_domains_test.c
 *	  Unit tests of two-level placement (placement_prepare_domains), in TAP.
 *
 * Checked: agreement with a slow reference of the rule written from
 * placement.h alone (domain order, then node order inside the domain, with
 * taken nodes, exclusions and a domain whose nodes are all taken), that the
 * node input order does not matter, diversity, a short class, uniformity,
 * weight shares at both levels, and movement when a node joins an existing
 * operator, joins as a new operator or leaves, beside the flat engine.
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
#include "placement_simd.h"

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

static uint64_t
op_tag(int op)
{
	char		name[32];

	snprintf(name, sizeof(name), "operator-%d", op);
	return placement_tag(name, strlen(name));
}

/*
 * n nodes, operator i / per_op; weights all 1 (mixed = 0) or 0.5 .. 4
 * (mixed = 1); uneven = 1 makes operator sizes differ (1 .. 19 nodes).
 */
static PlacementNode *
make_nodes(int n, int per_op, int mixed, int uneven)
{
	PlacementNode *nodes = calloc(n, sizeof(PlacementNode));
	int			op = 0,
				left = uneven ? 1 : per_op;

	for (int i = 0; i < n; i++)
	{
		derive(nodes[i].id, "node", (uint64_t) i);
		nodes[i].weight = mixed ? 0.5 + (i % 8) * 0.5 : 1.0;
		nodes[i].tag = op_tag(op);
		if (--left == 0)
		{
			op++;
			left = uneven ? 1 + (op * 7) % 19 : per_op;
		}
	}
	return nodes;
}

static PlacementSet *
prepare(const PlacementNode *nodes, int n)
{
	return placement_prepare_domains(nodes, n, malloc, free);
}

static void
token_digest(uint64_t t, uint8_t digest[32])
{
	uint8_t		seed[32] = {9};
	uint8_t		key[32];

	derive(key, "token", t);
	placement_digest(seed, key, digest);
}

/* ---- the slow reference, from placement.h's description */

typedef struct RefRank
{
	double		cost;
	uint64_t	m;
	uint8_t		id[32];
} RefRank;

/* Is a before b: cost lower, then u higher, then id lower. */
static bool
ref_before(const RefRank *a, const RefRank *b)
{
	if (a->cost != b->cost)
		return a->cost < b->cost;
	if (a->m != b->m)
		return a->m > b->m;
	return memcmp(a->id, b->id, 32) < 0;
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(((const PlacementNode *) a)->id, ((const PlacementNode *) b)->id, 32);
}

static bool
ref_taken_id(const PlacementTaken *taken, int ntaken, const uint8_t *id)
{
	for (int t = 0; t < ntaken; t++)
		if (memcmp(taken[t].id, id, 32) == 0)
			return true;
	return false;
}

static bool
ref_taken_tag(const PlacementTaken *taken, int ntaken, uint64_t tag)
{
	for (int t = 0; t < ntaken; t++)
		if (taken[t].tag == tag)
			return true;
	return false;
}

/* Position r by the rule; returns the chosen node's id in out, or false. */
static bool
ref_position(const PlacementNode *nodes, int n, const uint8_t digest[32], int r,
			 const PlacementTaken *taken, int ntaken, uint8_t out[32])
{
	PlacementNode *byid = malloc(sizeof(PlacementNode) * n);
	uint64_t   *skip = calloc(n, sizeof(uint64_t));
	int			nskip = 0;
	bool		found = false;

	memcpy(byid, nodes, sizeof(PlacementNode) * n);
	qsort(byid, n, sizeof(PlacementNode), cmp_id);
	for (;;)
	{
		RefRank		best = {0};
		uint64_t	best_tag = 0;
		bool		have = false;

		/* domains: every distinct tag not excluded */
		for (int i = 0; i < n; i++)
		{
			uint64_t	tag = byid[i].tag;
			bool		first = true,
						skipped = ref_taken_tag(taken, ntaken, tag);
			double		w = 0;
			RefRank		e;
			uint64_t	draw;

			for (int j = 0; j < i && first; j++)
				first = byid[j].tag != tag;
			for (int s = 0; s < nskip && !skipped; s++)
				skipped = skip[s] == tag;
			if (!first || skipped)
				continue;
			for (int j = 0; j < n; j++)	/* in id order */
				if (byid[j].tag == tag)
					w += byid[j].weight;
			draw = placement_domain_draw(digest, r, tag);
			e.m = (draw >> 11) + 1;
			e.cost = placement_draw_cost(draw, w);
			memset(e.id, 0, 32);
			for (int b = 0; b < 8; b++)
				e.id[b] = (uint8_t) (tag >> (8 * b));
			if (!have || ref_before(&e, &best))
			{
				best = e;
				best_tag = tag;
				have = true;
			}
		}
		if (!have)
			break;
		/* the best free node inside it */
		have = false;
		for (int j = 0; j < n; j++)
		{
			RefRank		e;
			uint64_t	draw;

			if (byid[j].tag != best_tag || ref_taken_id(taken, ntaken, byid[j].id))
				continue;
			draw = placement_position_draw(digest, r, byid[j].id);
			e.m = (draw >> 11) + 1;
			e.cost = placement_draw_cost(draw, byid[j].weight);
			memcpy(e.id, byid[j].id, 32);
			if (!have || ref_before(&e, &best))
			{
				best = e;
				have = true;
			}
		}
		if (have)
		{
			memcpy(out, best.id, 32);
			found = true;
			break;
		}
		skip[nskip++] = best_tag;
	}
	free(byid);
	free(skip);
	return found;
}

static void
test_reference(const char *what, PlacementNode *nodes, int n, int ntokens)
{
	PlacementSet *set = prepare(nodes, n);
	int			mismatches = 0;
	char		msg[200];

	for (uint64_t t = 0; t < (uint64_t) ntokens; t++)
	{
		uint8_t		digest[32];
		int			out[SHARDS];
		PlacementTaken taken[2 * SHARDS + 1];
		int			got;

		token_digest(t, digest);
		got = placement_choose_shards(set, digest, NULL, 0, SHARDS, out);
		for (int r = 0; r < SHARDS; r++)
		{
			uint8_t		id[32];
			bool		have = ref_position(nodes, n, digest, r, taken, r, id);

			if (have != (r < got) || (have && memcmp(id, placement_set_node(set, out[r])->id, 32) != 0))
			{
				mismatches++;
				break;
			}
			memcpy(taken[r].id, id, 32);
			taken[r].tag = placement_set_node(set, out[r])->tag;
		}
		if (got < SHARDS)
			continue;

		/*
		 * Repair as repair.c asks: shard 2's holder leaves (taken by id, tag
		 * 0), the others stay (taken with their tags).
		 */
		{
			PlacementTaken rt[SHARDS];
			int			k = 0,
						one;
			uint8_t		id[32];
			bool		have;

			for (int r = 0; r < SHARDS; r++)
				if (r != 2)
					rt[k++] = taken[r];
			memcpy(rt[k].id, taken[2].id, 32);
			rt[k++].tag = 0;
			have = ref_position(nodes, n, digest, 2, rt, k, id);
			if (placement_choose_position(set, digest, 2, rt, k, &one) != (have ? 1 : 0) ||
				(have && memcmp(id, placement_set_node(set, one)->id, 32) != 0))
				mismatches++;
		}
	}
	snprintf(msg, sizeof(msg), "%s: shards and a repair agree with the slow reference (%d tokens)",
			 what, ntokens);
	ok(mismatches == 0, msg);
	placement_free(set);
}

/* A domain whose nodes are all taken gives way to the next domain. */
static void
test_domain_exhausted(void)
{
	PlacementNode *nodes = make_nodes(40, 2, 0, 0);
	PlacementSet *set = prepare(nodes, 40);
	int			bad = 0;

	for (uint64_t t = 0; t < 200; t++)
	{
		uint8_t		digest[32],
					id[32];
		int			out[1],
					one;
		PlacementTaken taken[2];

		token_digest(t, digest);
		placement_choose_shards(set, digest, NULL, 0, 1, out);
		/* take both nodes of the winning operator by id, not by tag */
		for (int i = 0, k = 0; i < 40; i++)
			if (nodes[i].tag == placement_set_node(set, out[0])->tag)
			{
				memcpy(taken[k].id, nodes[i].id, 32);
				taken[k++].tag = 0;
			}
		if (placement_choose_position(set, digest, 0, taken, 2, &one) != 1 ||
			placement_set_node(set, one)->tag == placement_set_node(set, out[0])->tag ||
			!ref_position(nodes, 40, digest, 0, taken, 2, id) ||
			memcmp(id, placement_set_node(set, one)->id, 32) != 0)
			bad++;
	}
	ok(bad == 0, "a domain with every node taken gives way to the next of the order");
	placement_free(set);
	free(nodes);
}

static void
test_order_and_diversity(PlacementNode *nodes)
{
	PlacementNode *rev = malloc(sizeof(PlacementNode) * NODES);
	PlacementSet *a,
			   *b;
	int			differ = 0,
				clashes = 0;

	for (int i = 0; i < NODES; i++)
		rev[i] = nodes[NODES - 1 - i];
	a = prepare(nodes, NODES);
	b = prepare(rev, NODES);
	ok(placement_set_domains(a) == OPERATORS && placement_set_domains(b) == OPERATORS,
	   "one domain per operator");
	for (uint64_t t = 0; t < 5000; t++)
	{
		uint8_t		digest[32];
		int			x[SHARDS],
					y[SHARDS];

		token_digest(t, digest);
		placement_choose_shards(a, digest, NULL, 0, SHARDS, x);
		placement_choose_shards(b, digest, NULL, 0, SHARDS, y);
		for (int r = 0; r < SHARDS; r++)
			differ += memcmp(placement_set_node(a, x[r])->id, placement_set_node(b, y[r])->id, 32) != 0;
		for (int i = 0; i < SHARDS; i++)
			for (int j = i + 1; j < SHARDS; j++)
				clashes += placement_set_node(a, x[i])->tag == placement_set_node(a, x[j])->tag;
	}
	ok(differ == 0, "the same nodes in another order give the same shards (mixed weights)");
	ok(clashes == 0, "no two shards of a token share an operator");
	placement_free(a);
	placement_free(b);
	free(rev);
}

/* The vector kernels give the scalar answers (mixed weights: every kernel). */
static void
test_kernels(PlacementNode *nodes)
{
	PlacementSet *set = prepare(nodes, NODES);
	PlacementIsa best = placement_isa();
	int			differ = 0;

	for (uint64_t t = 0; t < 3000; t++)
	{
		uint8_t		digest[32];
		int			ref[SHARDS],
					out[SHARDS];

		token_digest(t, digest);
		placement_force_isa(PLACEMENT_ISA_SCALAR);
		placement_choose_shards(set, digest, NULL, 0, SHARDS, ref);
		for (int isa = PLACEMENT_ISA_AVX2; isa <= (int) best; isa++)
		{
			placement_force_isa((PlacementIsa) isa);
			placement_choose_shards(set, digest, NULL, 0, SHARDS, out);
			differ += memcmp(ref, out, sizeof(ref)) != 0;
		}
	}
	placement_force_isa(best);
	printf("# kernels compared with scalar: up to %s\n", placement_isa_name(best));
	ok(differ == 0, "every vector kernel gives the scalar answers");
	placement_free(set);
}

static void
test_short_and_errors(void)
{
	PlacementNode *nodes = make_nodes(20, 5, 0, 0);
	PlacementSet *set = prepare(nodes, 20);
	PlacementSet *empty = prepare(NULL, 0);
	uint8_t		digest[32];
	int			out[SHARDS];

	token_digest(1, digest);
	ok(placement_choose_shards(set, digest, NULL, 0, SHARDS, out) == 4,
	   "4 operators fill only 4 of 6 positions");
	ok(empty != NULL && placement_choose_shards(empty, digest, NULL, 0, SHARDS, out) == 0 &&
	   placement_choose_position(empty, digest, 0, NULL, 0, out) == 0,
	   "an empty set places nothing");
	nodes[3].weight = NAN;
	ok(prepare(nodes, 20) == NULL, "a bad weight is refused");
	nodes[3].weight = 1e308;
	nodes[4].weight = 1e308;
	ok(prepare(nodes, 20) == NULL, "a domain whose weight sum overflows is refused");
	placement_free(set);
	placement_free(empty);
	free(nodes);
}

/* Load per node: spread against a binomial. */
static void
test_uniformity(PlacementNode *nodes)
{
	PlacementSet *set = prepare(nodes, NODES);
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
	printf("# uniformity: mean %.0f, max/mean %.3f, sd %.1f (binomial %.1f)\n",
		   mean, max / mean, sqrt(var), binomial_sd);
	snprintf(msg, sizeof(msg), "load spread is binomial (sd %.1f within 10%% of %.1f)", sqrt(var), binomial_sd);
	ok(sqrt(var) < 1.1 * binomial_sd, msg);
	placement_free(set);
	free(load);
}

/*
 * Weights: at position 0 (nothing excluded) a node's chance is its weight
 * share; uneven operators (1 .. 19 nodes) and weights 0.5 .. 4.  Checked
 * per weight class (sum over nodes) and per operator, within 4 sd.
 */
static void
test_weights(void)
{
	int			n = 400;
	PlacementNode *nodes = make_nodes(n, 0, 1, 1);
	PlacementSet *set = prepare(nodes, n);
	long	   *load = calloc(n, sizeof(long));
	double		wsum = 0,
				worst = 0;
	int			ntok = 200000;

	for (int i = 0; i < n; i++)
		wsum += nodes[i].weight;
	for (uint64_t t = 0; t < (uint64_t) ntok; t++)
	{
		uint8_t		digest[32];
		int			out[1];

		token_digest(t, digest);
		placement_choose_shards(set, digest, NULL, 0, 1, out);
		load[out[0]]++;
	}
	for (int c = 0; c < 8; c++)
	{
		double		w = 0,
					got = 0,
					p,
					z;

		for (int i = 0; i < n; i++)
			if (i % 8 == c)
			{
				w += nodes[i].weight;
				got += load[i];
			}
		p = w / wsum;
		z = fabs(got - ntok * p) / sqrt(ntok * p * (1 - p));
		worst = z > worst ? z : worst;
	}
	printf("# weights 0.5 .. 4: worst class |z| %.2f\n", worst);
	ok(worst < 4, "each weight class gets its weight share (|z| < 4)");
	worst = 0;
	for (int i = 0; i < n;)
	{
		double		w = 0,
					got = 0,
					p,
					z;
		int			j = i;

		for (; j < n && nodes[j].tag == nodes[i].tag; j++)
		{
			w += nodes[j].weight;
			got += load[j];
		}
		p = w / wsum;
		z = fabs(got - ntok * p) / sqrt(ntok * p * (1 - p));
		worst = z > worst ? z : worst;
		i = j;
	}
	printf("# uneven operators: worst operator |z| %.2f\n", worst);
	ok(worst < 4.5, "each operator gets its weight share (|z| < 4.5)");
	placement_free(set);
	free(load);
	free(nodes);
}

/* (token, shard) pairs whose node differs; to/from a special node. */
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
movement(const char *what, PlacementNode *before, int nb, PlacementNode *after, int na,
		 const uint8_t *special, bool flat, long *moved, long *to, long *from)
{
	PlacementSet *a = flat ? placement_prepare(before, nb, true, malloc, free) : prepare(before, nb);
	PlacementSet *b = flat ? placement_prepare(after, na, true, malloc, free) : prepare(after, na);

	count_moves(a, b, special, moved, to, from);
	printf("# %-34s %s: %6ld pairs move, %6ld to it, %6ld from it, %5.1f%% elsewhere\n",
		   what, flat ? "flat     " : "two-level", *moved, *to, *from,
		   *moved ? 100.0 * (*moved - *to - *from) / *moved : 0.0);
	placement_free(a);
	placement_free(b);
}

static void
test_movement(PlacementNode *nodes)
{
	PlacementNode *more = calloc(NODES + 1, sizeof(PlacementNode));
	double		ideal = (double) TOKENS * SHARDS / (NODES + 1);
	long		moved,
				to,
				from,
				fmoved,
				fto,
				ffrom;
	char		msg[240];

	memcpy(more, nodes, sizeof(PlacementNode) * NODES);
	derive(more[NODES].id, "new node", 0);
	more[NODES].weight = 1.0;

	/* joining operator-0, which had 10 nodes */
	more[NODES].tag = op_tag(0);
	movement("join an existing operator", nodes, NODES, more, NODES + 1, more[NODES].id, true,
			 &fmoved, &fto, &ffrom);
	movement("join an existing operator", nodes, NODES, more, NODES + 1, more[NODES].id, false,
			 &moved, &to, &from);
	snprintf(msg, sizeof(msg), "join an operator: the new node wins its share (%ld, ideal %.0f, within 10%%)",
			 to, ideal);
	ok(fabs(to - ideal) < 0.1 * ideal, msg);

	/*
	 * Operator-0 is heavier, so it wins about ideal more positions at the
	 * domain level, and most of those go to its old nodes: about as many
	 * moves as the newcomer's own (CRUSH's chooseleaf does the same).
	 */
	snprintf(msg, sizeof(msg), "join an operator: moves stay within 2.3x the ideal (%ld vs %.0f)",
			 moved, ideal);
	ok(moved <= 2.3 * ideal, msg);

	/* a new operator */
	more[NODES].tag = op_tag(12345);
	movement("join as a new operator", nodes, NODES, more, NODES + 1, more[NODES].id, true,
			 &fmoved, &fto, &ffrom);
	movement("join as a new operator", nodes, NODES, more, NODES + 1, more[NODES].id, false,
			 &moved, &to, &from);
	snprintf(msg, sizeof(msg), "a new operator: the new node wins its share and moves stay within 1.1x (%ld, %ld, ideal %.0f)",
			 to, moved, ideal);
	ok(fabs(to - ideal) < 0.1 * ideal && moved <= 1.1 * ideal, msg);

	/* node 0 (operator-0) leaves */
	movement("leave", nodes, NODES, nodes + 1, NODES - 1, nodes[0].id, true,
			 &fmoved, &fto, &ffrom);
	movement("leave", nodes, NODES, nodes + 1, NODES - 1, nodes[0].id, false,
			 &moved, &to, &from);
	snprintf(msg, sizeof(msg), "a leaving node's shards all move, at most 2.3x as many in all (%ld of %ld)",
			 from, moved);
	ok(from > 0.9 * ideal && moved <= 2.3 * from, msg);
	free(more);
}

int
main(void)
{
	PlacementNode *nodes;

	if (sodium_init() < 0)
		return 1;
	printf("1..20\n");
	nodes = make_nodes(NODES, NODES / OPERATORS, 0, 0);
	test_reference("equal weights", nodes, NODES, 300);
	free(nodes);
	nodes = make_nodes(NODES, NODES / OPERATORS, 1, 0);
	test_reference("mixed weights", nodes, NODES, 300);
	test_order_and_diversity(nodes);
	test_kernels(nodes);
	free(nodes);
	nodes = make_nodes(300, 0, 1, 1);
	test_reference("uneven operators, mixed weights", nodes, 300, 300);
	free(nodes);
	nodes = make_nodes(60, 10, 0, 0);
	test_reference("6 operators for 6 shards", nodes, 60, 300);
	free(nodes);
	test_domain_exhausted();
	test_short_and_errors();
	test_weights();
	nodes = make_nodes(NODES, NODES / OPERATORS, 0, 0);
	test_uniformity(nodes);
	test_movement(nodes);
	free(nodes);
	return tests_failed ? 1 : 0;
}
