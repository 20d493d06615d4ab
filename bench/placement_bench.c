/*
 * placement_bench.c
 *	  Benchmark of the pure-C placement engine (src/placement.c), run by
 *	  bench/placement.sh beside Ceph's crushtool.
 *
 *   placement_bench map TOKENS       mappings/s, 1000 nodes (100 operators x
 *                                    10), 6 shards: several configurations;
 *                                    "ours_flat_mappings_per_s X" (the default
 *                                    engine) and the last line
 *                                    "ours_mappings_per_s X" (two-level) are
 *                                    the headlines (operator diversity, equal
 *                                    weights, digest and positions included)
 *   placement_bench scale            ns per mapping for 100 .. 100000 nodes
 *   placement_bench stats TOKENS     uniformity and movement, 1000 nodes
 *   placement_bench moves TOKENS     movement by shard position, flat and
 *                                    two-level: a node joins an operator, joins
 *                                    as a new one, leaves
 *
 * Timings are the best of three runs (the machine may be shared).
 * Tokens are keys derived from a counter; each mapping is one
 * placement_digest (BLAKE2b keyed with the epoch seed) plus one
 * placement_choose, exactly what dht.place does per call after its cache.
 */
// sources: src/placement.c src/placement_simd.c
// libs: -lsodium -lm
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "placement.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

static uint8_t seed[32];

static PlacementNode *
make_nodes(int n, int per_op, bool mixed)
{
	PlacementNode *nodes = calloc((size_t) n, sizeof(PlacementNode));

	for (int i = 0; i < n; i++)
	{
		char		op[32];

		derive(nodes[i].id, "node", (uint64_t) i);
		nodes[i].weight = mixed ? 0.5 + (i % 8) * 0.5 : 1.0;
		snprintf(op, sizeof(op), "operator-%d", i / per_op);
		nodes[i].tag = placement_tag(op, strlen(op));
	}
	return nodes;
}

static volatile long sink;

/* Seconds for ntok mappings; digests precomputed unless with_digest. */
static double
run_once(const PlacementSet *set, long ntok, int want, bool with_digest, bool positions)
{
	uint8_t		key[32],
				digest[32];
	int			out[PLACEMENT_MAX_SHARDS];
	long		acc = 0;
	double		t0;
	uint8_t    *digests = NULL;

	if (!with_digest)
	{
		digests = malloc((size_t) ntok * 32);
		for (long t = 0; t < ntok; t++)
		{
			derive(key, "token", (uint64_t) t);
			placement_digest(seed, key, digests + 32 * t);
		}
	}
	memset(key, 0, sizeof(key));
	t0 = now();
	for (long t = 0; t < ntok; t++)
	{
		const uint8_t *d = digest;

		if (with_digest)
		{
			/* the token key: a counter in its first bytes (keys are digests) */
			memcpy(key, &t, sizeof(t));
			placement_digest(seed, key, digest);
		}
		else
			d = digests + 32 * t;
		acc += (positions ? placement_choose_shards(set, d, NULL, 0, want, out) :
				placement_choose(set, d, NULL, 0, want, out)) + out[0];
	}
	t0 = now() - t0;
	sink = acc;
	free(digests);
	return t0;
}

/* The best of three runs: the machine may be shared. */
static double
run(const PlacementSet *set, long ntok, int want, bool with_digest, bool positions)
{
	double		best = 0;

	for (int r = 0; r < 3; r++)
	{
		double		s = run_once(set, ntok, want, with_digest, positions);

		if (r == 0 || s < best)
			best = s;
	}
	return best;
}

static void
bench_map(long ntok)
{
	PlacementNode *eq = make_nodes(1000, 10, false);
	PlacementNode *mx = make_nodes(1000, 10, true);
	struct
	{
		const char *name;
		PlacementNode *nodes;
		bool		tags;
		bool		digest;
		bool		positions;	/* placement_choose_shards, as dht.place */
		bool		domains;	/* placement_prepare_domains (the default) */
	}			cfg[] = {
		{"equal weights, no diversity, choose only", eq, false, false, false, false},
		{"equal weights, operator diversity, choose only", eq, true, false, false, false},
		{"mixed weights 0.5..4, operator diversity, choose only", mx, true, false, false, false},
		{"mixed weights 0.5..4, operator diversity, digest + choose", mx, true, true, false, false},
		{"equal weights, operator diversity, digest + choose", eq, true, true, false, false},
		{"flat, mixed weights, operator diversity, digest + shard positions", mx, true, true, true, false},
		{"flat, equal weights, operator diversity, digest + shard positions", eq, true, true, true, false},
		{"two-level, mixed weights, operator diversity, digest + positions", mx, true, true, true, true},
		{"two-level, equal weights, operator diversity, digest + positions", eq, true, true, true, true},
	};
	double		last = 0;

	for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++)
	{
		PlacementSet *set = cfg[c].domains ?
			placement_prepare_domains(cfg[c].nodes, 1000, malloc, free) :
			placement_prepare(cfg[c].nodes, 1000, cfg[c].tags, malloc, free);
		double		s = run(set, ntok, 6, cfg[c].digest, cfg[c].positions);

		last = ntok / s;
		if (c == sizeof(cfg) / sizeof(cfg[0]) - 3)
			printf("ours_flat_mappings_per_s %.0f\n", last);
		printf("  %-66s %10.0f mappings/s  (%.0f ns each)\n", cfg[c].name, last, s / ntok * 1e9);
		placement_free(set);
	}
	printf("ours_mappings_per_s %.0f\n", last);
	free(eq);
	free(mx);
}

static void
bench_scale(void)
{
	static const int sizes[] = {100, 1000, 10000, 100000};

	printf("  %8s %14s %14s %14s %14s\n", "nodes", "equal ns/map", "ns/candidate",
		   "mixed ns/map", "ns/candidate");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
	{
		int			n = sizes[i];
		long		ntok = 100000000L / n;
		double		r[2];

		if (ntok > 1000000)
			ntok = 1000000;
		for (int mixed = 0; mixed < 2; mixed++)
		{
			PlacementNode *nodes = make_nodes(n, 10, mixed);
			PlacementSet *set = placement_prepare(nodes, n, true, malloc, free);

			r[mixed] = run(set, ntok, 6, false, true) / ntok * 1e9;
			placement_free(set);
			free(nodes);
		}
		printf("  %8d %14.0f %14.2f %14.0f %14.2f\n", n, r[0], r[0] / n, r[1], r[1] / n);
	}
}

/* 6 nodes of every token (positions: by shard position), -1 where unfilled. */
static void
place_tokens(const PlacementSet *set, long ntok, bool positions, int *out)
{
	uint8_t		key[32];

	memset(key, 0, sizeof(key));
	for (long t = 0; t < ntok; t++)
	{
		uint8_t		digest[32];
		int			k;

		memcpy(key, &t, sizeof(t));
		placement_digest(seed, key, digest);
		k = positions ? placement_choose_shards(set, digest, NULL, 0, 6, out + 6 * t)
			: placement_choose(set, digest, NULL, 0, 6, out + 6 * t);
		for (int j = k; j < 6; j++)
			out[6 * t + j] = -1;
	}
}

/* Shards whose node changed, comparing holder sets (a kept node keeps its shard). */
static long
moved_shards(const PlacementNode *a, const int *oa, const PlacementNode *b, const int *ob,
			 long ntok, const uint8_t *only, long *elsewhere)
{
	long		moved = 0;

	*elsewhere = 0;
	for (long t = 0; t < ntok; t++)
		for (int i = 0; i < 6 && ob[6 * t + i] >= 0; i++)
		{
			bool		held = false;

			for (int j = 0; j < 6 && oa[6 * t + j] >= 0 && !held; j++)
				held = memcmp(a[oa[6 * t + j]].id, b[ob[6 * t + i]].id, 32) == 0;
			if (!held)
			{
				moved++;
				if (only && memcmp(b[ob[6 * t + i]].id, only, 32) != 0)
					(*elsewhere)++;
			}
		}
	return moved;
}

static void
bench_stats(long ntok)
{
	int			n = 1000;
	PlacementNode *nodes = make_nodes(n + 1, 10, false);
	PlacementNode *less = malloc((size_t) n * sizeof(PlacementNode));
	int		   *base = malloc((size_t) ntok * 6 * sizeof(int));
	int		   *other = malloc((size_t) ntok * 6 * sizeof(int));
	long	   *count = calloc((size_t) n, sizeof(long));
	PlacementSet *set = placement_prepare(nodes, n, true, malloc, free);
	double		mean = 6.0 * ntok / n,
				p = 6.0 / n,
				sum2 = 0;
	long		max = 0,
				min = -1,
				moved,
				elsewhere,
				held = 0;

	place_tokens(set, ntok, false, base);
	for (long t = 0; t < 6 * ntok; t++)
		if (base[t] >= 0)
			count[base[t]]++;
	for (int i = 0; i < n; i++)
	{
		sum2 += (count[i] - mean) * (count[i] - mean);
		max = count[i] > max ? count[i] : max;
		min = (min < 0 || count[i] < min) ? count[i] : min;
	}
	printf("  uniformity: %ld tokens x 6 shards over %d nodes (100 operators x 10, operator diversity)\n",
		   ntok, n);
	printf("    mean %.1f  max/mean %.4f  min/mean %.4f  sd %.1f  (binomial sd %.1f: ratio %.3f)\n",
		   mean, max / mean, min / mean, sqrt(sum2 / n), sqrt(ntok * p * (1 - p)),
		   sqrt(sum2 / n) / sqrt(ntok * p * (1 - p)));
	printf("ours_max_over_mean %.4f\n", max / mean);
	placement_free(set);

	/* add node n, a new operator */
	set = placement_prepare(nodes, n + 1, true, malloc, free);
	place_tokens(set, ntok, false, other);
	moved = moved_shards(nodes, base, nodes, other, ntok, nodes[n].id, &elsewhere);
	printf("  add 1 node (new operator) to %d: %ld of %ld shards move, ideal %.0f (1/%d): ratio %.3f; "
		   "moves to other nodes: %ld\n", n, moved, 6 * ntok, 6.0 * ntok / (n + 1), n + 1,
		   moved / (6.0 * ntok / (n + 1)), elsewhere);
	printf("ours_add_moved_fraction %.6f\n", moved / (6.0 * ntok));
	placement_free(set);

	/* remove node 0 */
	memcpy(less, nodes + 1, (size_t) (n - 1) * sizeof(PlacementNode));
	set = placement_prepare(less, n - 1, true, malloc, free);
	place_tokens(set, ntok, false, other);
	moved = moved_shards(nodes, base, less, other, ntok, NULL, &elsewhere);
	held = count[0];
	printf("  remove 1 node of %d: %ld shards move; it held %ld (ideal %.0f): %s\n",
		   n, moved, held, mean, moved == held ? "only its shards moved" : "OTHER SHARDS MOVED");
	printf("ours_remove_moved_fraction %.6f\n", moved / (6.0 * ntok));
	placement_free(set);
	free(less);
	free(nodes);
	free(base);
	free(other);
	free(count);
}

static PlacementSet *
prepare_as(const PlacementNode *nodes, int n, bool two_level)
{
	return two_level ? placement_prepare_domains(nodes, n, malloc, free)
		: placement_prepare(nodes, n, true, malloc, free);
}

static void
bench_moves(long ntok)
{
	int			n = 1000;
	PlacementNode *nodes = make_nodes(n + 1, 10, false);
	int		   *a = malloc((size_t) ntok * 6 * sizeof(int));
	int		   *b = malloc((size_t) ntok * 6 * sizeof(int));
	double		ideal = 6.0 * ntok / (n + 1);

	printf("  %-30s %-9s %9s %9s %9s %10s %8s\n", "change", "engine", "moved", "to it",
		   "from it", "elsewhere", "x ideal");
	for (int change = 0; change < 3; change++)
	{
		for (int two = 0; two < 2; two++)
		{
			const PlacementNode *after = nodes;
			int			na = n + 1;
			const uint8_t *special = nodes[n].id;
			PlacementSet *s0 = prepare_as(nodes, n, two),
					   *s1;
			long		moved = 0,
						to = 0,
						from = 0;
			const char *what;

			if (change == 0)
			{
				nodes[n].tag = nodes[0].tag;	/* operator-0, 10 nodes */
				what = "join operator-0 (10 nodes)";
			}
			else if (change == 1)
			{
				nodes[n].tag = placement_tag("operator-new", 12);
				what = "join as a new operator";
			}
			else
			{
				after = nodes + 1;
				na = n - 1;
				special = nodes[0].id;
				what = "node 0 leaves";
			}
			s1 = prepare_as(after, na, two);
			place_tokens(s0, ntok, true, a);
			place_tokens(s1, ntok, true, b);
			for (long i = 0; i < 6 * ntok; i++)
			{
				const uint8_t *x,
						   *y;

				if (a[i] < 0 || b[i] < 0)
					continue;
				x = placement_set_node(s0, a[i])->id;
				y = placement_set_node(s1, b[i])->id;
				if (memcmp(x, y, 32) == 0)
					continue;
				moved++;
				to += memcmp(y, special, 32) == 0;
				from += memcmp(x, special, 32) == 0;
			}
			printf("  %-30s %-9s %9ld %9ld %9ld %9.1f%% %8.2f\n", what, two ? "two-level" : "flat",
				   moved, to, from, moved ? 100.0 * (moved - to - from) / moved : 0.0,
				   moved / ideal);
			printf("ours_moves_%s_%d_elsewhere %.4f\n", two ? "two" : "flat", change,
				   moved ? (double) (moved - to - from) / moved : 0.0);
			placement_free(s0);
			placement_free(s1);
		}
	}
	free(nodes);
	free(a);
	free(b);
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0 || argc < 2)
	{
		fprintf(stderr, "usage: placement_bench map|scale|stats|moves [TOKENS]\n");
		return 2;
	}
	derive(seed, "epoch seed", 1);
	if (strcmp(argv[1], "map") == 0)
		bench_map(argc > 2 ? atol(argv[2]) : 1000000);
	else if (strcmp(argv[1], "scale") == 0)
		bench_scale();
	else if (strcmp(argv[1], "moves") == 0)
		bench_moves(argc > 2 ? atol(argv[2]) : 200000);
	else if (strcmp(argv[1], "stats") == 0)
		bench_stats(argc > 2 ? atol(argv[2]) : 1000000);
	else
		return 2;
	return 0;
}
