/*
 * placement_test.c
 *	  Unit tests of the pure-C placement engine (src/placement.c), in TAP.
 *
 * Black-box: everything goes through placement.h.  The reference used to
 * check placement_choose is a brute-force full sort of the candidates by the
 * rendezvous order (placement_score, then u, then id) followed by the greedy,
 * so the heap, the cheap bounds and the doubling fallback are all checked
 * against the definition.  Statistics (uniformity, weights, movement) use
 * fixed seeds, so the run is deterministic.
 */
// sources: src/placement.c src/placement_simd.c
// libs: -lsodium -lm
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "placement.h"

static int	tests_run;
static int	tests_failed;

static void
ok(int cond, const char *desc)
{
	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests_run, desc);
	fflush(stdout);
}

/* Deterministic test data: BLAKE2b of a label and a counter. */
static void
derive(uint8_t out[32], const char *label, uint64_t i)
{
	crypto_generichash_state st;
	uint8_t		le[8];

	for (int b = 0; b < 8; b++)
		le[b] = (uint8_t) (i >> (8 * b));
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *) label, strlen(label));
	crypto_generichash_update(&st, le, 8);
	crypto_generichash_final(&st, out, 32);
}

/* A small deterministic PRNG for test shapes (splitmix64). */
static uint64_t rng_state = 42;
static uint64_t
rng(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* n nodes, node i of operator i / per_op (tag), weights from wfun. */
static PlacementNode *
make_nodes(int n, int per_op, double (*wfun) (int))
{
	PlacementNode *nodes = calloc((size_t) (n > 0 ? n : 1), sizeof(PlacementNode));

	for (int i = 0; i < n; i++)
	{
		char		op[32];

		derive(nodes[i].id, "node", (uint64_t) i);
		nodes[i].weight = wfun ? wfun(i) : 1.0;
		snprintf(op, sizeof(op), "operator-%d", i / per_op);
		nodes[i].tag = placement_tag(op, strlen(op));
	}
	return nodes;
}

static PlacementSet *
prepare(const PlacementNode *nodes, int n, bool use_tags)
{
	return placement_prepare(nodes, n, use_tags, malloc, free);
}

static void
token_digest(uint8_t digest[32], uint64_t t)
{
	uint8_t		seed[32],
				key[32];

	derive(seed, "epoch seed", 1);
	derive(key, "token", t);
	placement_digest(seed, key, digest);
}

/* ---- the brute-force reference */

typedef struct RefEntry
{
	double		score;
	uint64_t	m;
	const uint8_t *id;
	int			idx;
} RefEntry;

static int
ref_cmp(const void *a, const void *b)
{
	const RefEntry *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	if (x->m != y->m)
		return x->m > y->m ? -1 : 1;
	return memcmp(x->id, y->id, 32);
}

static int
ref_choose(const PlacementNode *nodes, int n, bool use_tags,
		   const uint8_t digest[32], const PlacementTaken *taken, int ntaken,
		   int want, int *out)
{
	RefEntry   *e = malloc((size_t) (n > 0 ? n : 1) * sizeof(RefEntry));
	int			nout = 0;

	for (int i = 0; i < n; i++)
	{
		e[i].score = placement_score(digest, &nodes[i]);
		e[i].m = (placement_draw(digest, nodes[i].id) >> 11) + 1;
		e[i].id = nodes[i].id;
		e[i].idx = i;
	}
	qsort(e, (size_t) n, sizeof(RefEntry), ref_cmp);
	for (int j = 0; j < n && nout < want; j++)
	{
		const PlacementNode *c = &nodes[e[j].idx];
		bool		skip = false;

		for (int t = 0; t < ntaken && !skip; t++)
			skip = memcmp(taken[t].id, c->id, 32) == 0 ||
				(use_tags && taken[t].tag == c->tag);
		for (int k = 0; k < nout && !skip; k++)
			skip = use_tags && nodes[out[k]].tag == c->tag;
		if (!skip)
			out[nout++] = e[j].idx;
	}
	free(e);
	return nout;
}

/* ---- weight functions */

static double
w_mixed(int i)
{
	return 0.5 + (i % 8) * 0.5;	/* 0.5 .. 4.0 */
}

static double
w_random(int i)
{
	return 0.1 + (double) (rng() % 1000) / 100.0;
}

static double
w_two(int i)
{
	return 2.0;
}

/* ---- tests */

static void
test_basics(void)
{
	uint8_t		seed[32],
				key[32],
				d1[32],
				d2[32],
				ref[32];
	uint64_t	t1 = placement_tag("acme", 4);
	PlacementNode bad = {{0}, 0.0, 0};
	static int	zero_tag_found = 0;

	derive(seed, "seed", 0);
	derive(key, "key", 0);
	placement_digest(seed, key, d1);
	crypto_generichash(ref, 32, key, 32, seed, 32);
	ok(memcmp(d1, ref, 32) == 0, "digest is BLAKE2b-256 keyed with the seed over the key");
	seed[0] ^= 1;
	placement_digest(seed, key, d2);
	ok(memcmp(d1, d2, 32) != 0, "a different epoch seed gives a different digest");

	ok(t1 == placement_tag("acme", 4) && t1 != placement_tag("acmf", 4) && t1 != 0,
	   "tags are deterministic, distinct for distinct values, non-zero");
	{
		uint8_t		h[8];
		uint64_t	want = 0;

		crypto_generichash(h, 8, (const uint8_t *) "acme", 4, NULL, 0);
		for (int b = 7; b >= 0; b--)
			want = want << 8 | h[b];
		ok(t1 == (want ? want : 1), "tag is BLAKE2b-64 of the bytes, little-endian");
	}
	for (uint64_t i = 0; i < 100000; i++)
		if (placement_tag(&i, sizeof(i)) == 0)
			zero_tag_found = 1;
	ok(!zero_tag_found && placement_tag("", 0) != 0, "tag is never 0 (100000 values, empty input)");

	ok(!placement_weight_ok(0) && !placement_weight_ok(-1) && !placement_weight_ok(NAN) &&
	   !placement_weight_ok(INFINITY) && !placement_weight_ok(1e-320) &&
	   placement_weight_ok(1e-300) && placement_weight_ok(1e300) && placement_weight_ok(1),
	   "placement_weight_ok accepts finite positive weights with a finite inverse only");
	ok(prepare(&bad, 1, false) == NULL, "prepare rejects a zero weight");
	bad.weight = NAN;
	ok(prepare(&bad, 1, true) == NULL, "prepare rejects a NaN weight");
	ok(prepare(&bad, -1, true) == NULL, "prepare rejects n < 0");
}

/*
 * Fixed expectations: a change of the digest, the mix, the fixed-point ln,
 * the tie rules or the greedy changes these choices, and so changes where
 * every anchor places tokens.  That is a protocol change: it must come with
 * a new placement version, not silently.  Update the numbers only then.
 */
static void
test_fixed_answers(void)
{
	static const int expect_uniform[6] = {27, 24, 11, 20, 22, 1};
	static const int expect_weighted[6] = {27, 22, 20, 11, 6, 5};
	static const int expect_tags[6] = {27, 11, 20, 1, 6, 17};
	PlacementNode *nodes = make_nodes(40, 4, NULL);
	PlacementNode *wnodes = make_nodes(40, 4, w_mixed);
	PlacementSet *u = prepare(nodes, 40, false);
	PlacementSet *w = prepare(wnodes, 40, false);
	PlacementSet *t = prepare(nodes, 40, true);
	uint8_t		digest[32];
	int			out[6],
				out2[6],
				k;
	bool		same = true;

	token_digest(digest, 7);
	if (getenv("PRINT_EXPECTED"))
	{
		k = placement_choose(u, digest, NULL, 0, 6, out);
		printf("# uniform:");
		for (int i = 0; i < k; i++)
			printf(" %d,", out[i]);
		k = placement_choose(w, digest, NULL, 0, 6, out);
		printf("\n# weighted:");
		for (int i = 0; i < k; i++)
			printf(" %d,", out[i]);
		k = placement_choose(t, digest, NULL, 0, 6, out);
		printf("\n# tags:");
		for (int i = 0; i < k; i++)
			printf(" %d,", out[i]);
		printf("\n");
	}
	k = placement_choose(u, digest, NULL, 0, 6, out);
	ok(k == 6 && memcmp(out, expect_uniform, sizeof(out)) == 0,
	   "fixed answer, equal weights (algorithm unchanged)");
	k = placement_choose(w, digest, NULL, 0, 6, out);
	ok(k == 6 && memcmp(out, expect_weighted, sizeof(out)) == 0,
	   "fixed answer, mixed weights (algorithm unchanged)");
	k = placement_choose(t, digest, NULL, 0, 6, out);
	ok(k == 6 && memcmp(out, expect_tags, sizeof(out)) == 0,
	   "fixed answer, operator diversity (algorithm unchanged)");

	for (uint64_t tok = 0; tok < 1000 && same; tok++)
	{
		PlacementSet *again = prepare(wnodes, 40, true);
		PlacementSet *w2 = prepare(wnodes, 40, true);

		token_digest(digest, tok);
		same = placement_choose(again, digest, NULL, 0, 6, out) ==
			placement_choose(w2, digest, NULL, 0, 6, out2) &&
			memcmp(out, out2, sizeof(out)) == 0;
		placement_free(again);
		placement_free(w2);
	}
	ok(same, "same inputs, same answer (1000 tokens, fresh sets)");
	{
		double		worst = 0;

		for (uint64_t tok = 0; tok < 200; tok++)
		{
			token_digest(digest, tok);
			for (int i = 0; i < 40; i++)
			{
				uint64_t	m = (placement_draw(digest, wnodes[i].id) >> 11) + 1;
				double		want = log((double) m * 0x1p-53) / wnodes[i].weight;
				double		got = placement_score(digest, &wnodes[i]);
				double		err = fabs(got - want) / fmax(fabs(want), 1e-300);

				if (got > 0 || (want != 0 && err > worst))
					worst = got > 0 ? INFINITY : err;
			}
		}
		printf("# score vs libm log(u)/w: max relative difference %.3g\n", worst);
		ok(worst < 1e-12, "score is ln(u)/w (matches libm within 1e-12, never > 0)");
	}
	placement_free(u);
	placement_free(w);
	placement_free(t);
	free(nodes);
	free(wnodes);
}

/* Does choose agree with the reference on one case?  Also checks the rules. */
static bool
check_case(const PlacementNode *nodes, int n, bool use_tags, uint64_t tok,
		   const PlacementTaken *taken, int ntaken, int want, bool *rules_ok)
{
	PlacementSet *set = prepare(nodes, n, use_tags);
	uint8_t		digest[32];
	int			out[300],
				ref[300];
	int			k,
				kr;

	token_digest(digest, tok);
	k = placement_choose(set, digest, taken, ntaken, want, out);
	kr = ref_choose(nodes, n, use_tags, digest, taken, ntaken, want, ref);
	for (int i = 0; i < k; i++)
	{
		for (int t = 0; t < ntaken; t++)
			if (memcmp(taken[t].id, nodes[out[i]].id, 32) == 0 ||
				(use_tags && taken[t].tag == nodes[out[i]].tag))
				*rules_ok = false;
		for (int j = 0; j < i; j++)
			if (out[i] == out[j] || (use_tags && nodes[out[i]].tag == nodes[out[j]].tag))
				*rules_ok = false;
	}
	placement_free(set);
	return k == kr && memcmp(out, ref, (size_t) k * sizeof(int)) == 0;
}

static void
test_against_reference(void)
{
	int			cases = 0,
				same = 0,
				short_cases = 0;
	bool		rules_ok = true;

	rng_state = 1;
	for (int c = 0; c < 3000; c++)
	{
		int			n = 1 + (int) (rng() % (c % 10 == 0 ? 700 : c % 3 == 0 ? 1500 : 120));
		int			kind = (int) (rng() % 4);
		/* heavy tag collisions: 1..6 operators, or many */
		int			nops = (rng() % 2) ? 1 + (int) (rng() % 6) : 1 + (int) (rng() % (unsigned) n);
		int			per_op = (n + nops - 1) / nops;
		PlacementNode *nodes = make_nodes(n, per_op,
										  kind == 0 ? NULL : kind == 1 ? w_mixed :
										  kind == 2 ? w_random : w_two);
		bool		use_tags = (rng() % 4) != 0;
		int			want = 1 + (int) (rng() % (c % 50 == 0 ? 290 : 12));
		int			ntaken = (int) (rng() % 4);
		PlacementTaken taken[4];

		for (int t = 0; t < ntaken; t++)
		{
			/* a taken node of the set, or a stranger with a colliding tag */
			int			i = (int) (rng() % (unsigned) n);

			if (rng() % 3)
				memcpy(taken[t].id, nodes[i].id, 32);
			else
				derive(taken[t].id, "stranger", (uint64_t) c);
			taken[t].tag = nodes[i].tag;
		}
		if (check_case(nodes, n, use_tags, (uint64_t) c, taken, ntaken, want, &rules_ok))
			same++;
		if (use_tags && nops < want + ntaken)
			short_cases++;
		cases++;
		free(nodes);
	}
	printf("# %d random cases (%d with fewer tags than wanted), %d agree\n",
		   cases, short_cases, same);
	ok(same == cases, "choose equals the brute-force full-sort greedy (3000 random cases, heavy tag collisions, taken)");
	ok(rules_ok, "diversity: no two chosen nodes share a tag; taken ids and tags never chosen");
}

/* Cases that force the doubling fallback: the best L are all one operator. */
static void
test_fallback(void)
{
	int			n = 600,
				agree = 0,
				total = 0;
	bool		rules_ok = true;
	PlacementNode *nodes = make_nodes(n, 1, NULL);

	/* 590 nodes of one operator, 10 of ten others: top lists fill with op 0 */
	for (int i = 0; i < n; i++)
		nodes[i].tag = i < 590 ? 1 : (uint64_t) (100 + i);
	for (uint64_t tok = 0; tok < 300; tok++)
	{
		total++;
		agree += check_case(nodes, n, true, tok, NULL, 0, 6, &rules_ok);
	}
	ok(agree == total && rules_ok, "fallback (best list exhausted, L doubles) equals the full sort");
	free(nodes);

	/*
	 * Equal draws: 1200 nodes whose ids share one of 8 prefixes, so groups of
	 * 150 tie on u; the threshold pass overflows and ties go by full id.
	 */
	n = 1200;
	agree = total = 0;
	for (int weighted = 0; weighted < 2; weighted++)
	{
		nodes = make_nodes(n, 30, weighted ? w_mixed : NULL);
		for (int i = 0; i < n; i++)
			memset(nodes[i].id, i % 8, 8);
		for (uint64_t tok = 0; tok < 100; tok++)
		{
			total += 2;
			agree += check_case(nodes, n, false, tok, NULL, 0, 6, &rules_ok);
			agree += check_case(nodes, n, true, tok, NULL, 0, 6, &rules_ok);
		}
		free(nodes);
	}
	ok(agree == total && rules_ok, "ties in u (shared id prefixes) are broken by the full id, as in the full sort");
}

static void
test_fewer(void)
{
	PlacementNode *nodes = make_nodes(30, 10, NULL);	/* 3 operators */
	PlacementSet *tags = prepare(nodes, 30, true);
	PlacementSet *two = prepare(nodes, 2, false);
	PlacementSet *none = prepare(nodes, 0, true);
	PlacementTaken taken;
	uint8_t		digest[32];
	int			out[8];

	token_digest(digest, 3);
	ok(placement_choose(tags, digest, NULL, 0, 6, out) == 3,
	   "3 operators, want 6 with diversity: 3 chosen");
	memcpy(taken.id, nodes[25].id, 32);
	taken.tag = nodes[25].tag;
	ok(placement_choose(tags, digest, &taken, 1, 6, out) == 2,
	   "3 operators, one taken: 2 chosen");
	ok(placement_choose(two, digest, NULL, 0, 6, out) == 2, "2 nodes, want 6: 2 chosen");
	ok(placement_choose(none, digest, NULL, 0, 6, out) == 0 && placement_set_size(none) == 0,
	   "empty set: 0 chosen");
	ok(placement_choose(two, digest, NULL, 0, 0, out) == 0, "want 0: 0 chosen");
	ok(placement_set_size(tags) == 30 &&
	   memcmp(placement_set_node(tags, 7)->id, nodes[7].id, 32) == 0,
	   "the set keeps a copy of its nodes");
	placement_free(tags);
	placement_free(two);
	placement_free(none);
	free(nodes);
}

static int	alloc_budget;
static void *
failing_alloc(size_t size)
{
	if (alloc_budget-- <= 0)
		return NULL;
	return malloc(size);
}

static void
test_alloc_failure(void)
{
	PlacementNode *nodes = make_nodes(1000, 10, NULL);
	PlacementSet *set;
	uint8_t		digest[32];
	int		   *out = malloc(400 * sizeof(int));

	token_digest(digest, 1);
	alloc_budget = 0;
	ok(placement_prepare(nodes, 1000, false, failing_alloc, free) == NULL,
	   "prepare returns NULL when the allocator fails");
	alloc_budget = 1;
	ok(placement_prepare(nodes, 1000, true, failing_alloc, free) == NULL,
	   "prepare returns NULL when the tag count's allocation fails");
	alloc_budget = 1;
	set = placement_prepare(nodes, 1000, false, failing_alloc, free);
	ok(set != NULL && placement_choose(set, digest, NULL, 0, 300, out) == -1,
	   "choose returns -1 when a large best list cannot be allocated");
	alloc_budget = 1;
	ok(placement_choose(set, digest, NULL, 0, 300, out) == 300,
	   "choose allocates and frees a large best list");
	placement_free(set);
	free(out);
	free(nodes);
}

/* Load per node over ntok tokens x want shards. */
static void
load(const PlacementSet *set, int ntok, int want, long *count, int shard_only)
{
	uint8_t		digest[32];
	int			out[PLACEMENT_MAX_SHARDS];

	for (int t = 0; t < ntok; t++)
	{
		int			k;

		token_digest(digest, (uint64_t) t);
		k = placement_choose(set, digest, NULL, 0, want, out);
		for (int i = 0; i < k; i++)
			if (shard_only < 0 || i == shard_only)
				count[out[i]]++;
	}
}

#define STAT_TOKENS 200000
#define STAT_NODES 1000

static void
test_uniformity(void)
{
	PlacementNode *nodes = make_nodes(STAT_NODES, 10, NULL);
	long	   *count = calloc(STAT_NODES, sizeof(long));

	for (int tags = 0; tags < 2; tags++)
	{
		PlacementSet *set = prepare(nodes, STAT_NODES, tags);
		double		mean = (double) STAT_TOKENS * 6 / STAT_NODES;
		double		p = 6.0 / STAT_NODES;
		double		sd_binom = sqrt(STAT_TOKENS * p * (1 - p));
		double		sum2 = 0;
		long		max = 0,
					min = -1;
		char		desc[200];

		memset(count, 0, STAT_NODES * sizeof(long));
		load(set, STAT_TOKENS, 6, count, -1);
		for (int i = 0; i < STAT_NODES; i++)
		{
			sum2 += (count[i] - mean) * (count[i] - mean);
			if (count[i] > max)
				max = count[i];
			if (min < 0 || count[i] < min)
				min = count[i];
		}
		printf("# uniformity, %s: %d tokens x 6 over %d nodes: mean %.1f, max/mean %.4f, "
			   "min/mean %.4f, sd %.2f (binomial %.2f, ratio %.3f)\n",
			   tags ? "operator diversity (100 x 10)" : "no diversity",
			   STAT_TOKENS, STAT_NODES, mean, max / mean, min / mean,
			   sqrt(sum2 / STAT_NODES), sd_binom, sqrt(sum2 / STAT_NODES) / sd_binom);
		snprintf(desc, sizeof(desc), "uniformity (%s): max/mean < 1.2, min/mean > 0.8, "
				 "sd within 15%% of binomial", tags ? "operator diversity" : "no diversity");
		ok(max / mean < 1.2 && min / mean > 0.8 &&
		   fabs(sqrt(sum2 / STAT_NODES) / sd_binom - 1) < 0.15, desc);
		placement_free(set);
	}
	free(count);
	free(nodes);
}

static double
w_cycle4(int i)
{
	return 1.0 + (i % 4);			/* 1, 2, 3, 4 */
}

static void
test_weights(void)
{
	int			n = 20,
				ntok = STAT_TOKENS;
	PlacementNode *nodes = make_nodes(n, 2, w_cycle4);
	long		count[20];
	double		wsum = 0;

	for (int i = 0; i < n; i++)
		wsum += nodes[i].weight;
	for (int mode = 0; mode < 3; mode++)
	{
		/* mode 0: first shard, no diversity; 1: all 6, none; 2: all 6, operator */
		PlacementSet *set = prepare(nodes, n, mode == 2);
		int			want = mode == 0 ? 1 : 6;
		double		worst = 0;
		double		by_w[4] = {0};

		memset(count, 0, sizeof(count));
		load(set, ntok, want, count, -1);
		for (int i = 0; i < n; i++)
		{
			double		share = (double) count[i] / ((double) ntok * want);
			double		ideal = nodes[i].weight / wsum;

			by_w[i % 4] += share / 5;
			if (fabs(share / ideal - 1) > worst)
				worst = fabs(share / ideal - 1);
		}
		printf("# weights 1,2,3,4 over 20 nodes, %s: worst share/ideal deviation %.2f%%; "
			   "mean share per weight 1..4: %.4f %.4f %.4f %.4f (ideal %.4f %.4f %.4f %.4f)\n",
			   mode == 0 ? "first choice, no diversity" :
			   mode == 1 ? "6 shards, no diversity" : "6 shards, operator diversity (10 x 2)",
			   worst * 100, by_w[0], by_w[1], by_w[2], by_w[3],
			   1 / wsum, 2 / wsum, 3 / wsum, 4 / wsum);
		if (mode == 0)
			ok(worst < 0.05, "weights: first-choice share within 5% of weight share for every node");
		placement_free(set);
	}
	free(nodes);
}

/*
 * Movement: tokens' holder sets before and after a change of the node set;
 * a holder set is compared as a set (a node that stays keeps its shard).
 */
static void
movement(const PlacementNode *before, int nb, const PlacementNode *after, int na,
		 bool use_tags, int ntok, const uint8_t *only_new, const uint8_t *removed,
		 long *moved, long *bad, long *removed_held)
{
	PlacementSet *sb = prepare(before, nb, use_tags);
	PlacementSet *sa = prepare(after, na, use_tags);
	uint8_t		digest[32];

	*moved = *bad = *removed_held = 0;
	for (int t = 0; t < ntok; t++)
	{
		int			ob[6],
					oa[6],
					kb,
					ka;

		token_digest(digest, (uint64_t) t);
		kb = placement_choose(sb, digest, NULL, 0, 6, ob);
		ka = placement_choose(sa, digest, NULL, 0, 6, oa);
		if (kb != ka)
			(*bad)++;
		for (int i = 0; i < kb; i++)
			if (removed && memcmp(before[ob[i]].id, removed, 32) == 0)
				(*removed_held)++;
		for (int i = 0; i < ka; i++)
		{
			const uint8_t *id = after[oa[i]].id;
			bool		held = false;

			for (int j = 0; j < kb && !held; j++)
				held = memcmp(before[ob[j]].id, id, 32) == 0;
			if (!held)
			{
				(*moved)++;
				if (only_new && memcmp(id, only_new, 32) != 0)
					(*bad)++;
			}
		}
	}
	placement_free(sb);
	placement_free(sa);
}

static void
test_movement(void)
{
	int			n = STAT_NODES,
				ntok = STAT_TOKENS / 2;
	PlacementNode *nodes = make_nodes(n + 1, 10, NULL);	/* node n: operator 100 */
	PlacementNode *without = malloc((size_t) n * sizeof(PlacementNode));
	double		ideal_add = 6.0 * ntok / (n + 1);
	long		moved,
				bad,
				held;

	for (int tags = 0; tags < 2; tags++)
	{
		char		desc[200];

		movement(nodes, n, nodes, n + 1, tags, ntok, nodes[n].id, NULL, &moved, &bad, &held);
		printf("# add 1 node to %d (%s): %ld of %d shards move (ideal %.0f, ratio %.3f)\n",
			   n, tags ? "operator diversity, new operator" : "no diversity",
			   moved, 6 * ntok, ideal_add, moved / ideal_add);
		snprintf(desc, sizeof(desc), "add a node (%s): moves <= 1.1 x ideal, all to the new node",
				 tags ? "operator diversity" : "no diversity");
		ok(moved <= 1.1 * ideal_add && bad == 0, desc);
	}
	/* the new node joins an existing operator */
	nodes[n].tag = nodes[0].tag;
	movement(nodes, n, nodes, n + 1, true, ntok, nodes[n].id, NULL, &moved, &bad, &held);
	printf("# add 1 node to %d (operator diversity, joins an operator of 10): "
		   "%ld shards move (ideal %.0f, ratio %.3f)\n", n, moved, ideal_add, moved / ideal_add);
	ok(moved <= 1.1 * ideal_add && bad == 0,
	   "add a node to an existing operator: moves <= 1.1 x ideal, all to the new node");

	/* remove node 123: only the shards it held move */
	for (int tags = 0; tags < 2; tags++)
	{
		char		desc[200];

		memcpy(without, nodes, 123 * sizeof(PlacementNode));
		memcpy(without + 123, nodes + 124, (size_t) (n - 124) * sizeof(PlacementNode));
		movement(nodes, n, without, n - 1, tags, ntok, NULL, nodes[123].id, &moved, &bad, &held);
		printf("# remove 1 node of %d (%s): %ld shards move, it held %ld (ideal %.0f)\n",
			   n, tags ? "operator diversity" : "no diversity", moved, held, 6.0 * ntok / n);
		snprintf(desc, sizeof(desc), "remove a node (%s): exactly its shards move",
				 tags ? "operator diversity" : "no diversity");
		ok(moved == held && bad == 0, desc);
	}
	free(without);
	free(nodes);
}

int
main(void)
{
	if (sodium_init() < 0)
	{
		printf("Bail out! sodium_init failed\n");
		return 1;
	}
	printf("1..36\n");
	test_basics();
	test_fixed_answers();
	test_against_reference();
	test_fallback();
	test_fewer();
	test_alloc_failure();
	test_uniformity();
	test_weights();
	test_movement();
	if (tests_run != 36)
		printf("# planned 36 tests, ran %d\n", tests_run);
	return tests_failed == 0 && tests_run == 36 ? 0 : 1;
}
