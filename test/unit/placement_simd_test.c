/*
 * placement_simd_test.c
 *	  The vector kernels (src/placement_simd.c) against the scalar code,
 *	  in TAP: every kernel on every ISA this CPU has, on random inputs and
 *	  edge lengths, and whole placements (equal and mixed weights, with and
 *	  without diversity) chosen identically on every ISA.
 */
// sources: src/placement.c src/placement_simd.c
// libs: -lsodium -lm
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "placement.h"
#include "placement_simd.h"

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

static uint64_t rng = 88172645463325252ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static bool
kernels_agree(PlacementIsa isa)
{
	enum {N = 1003};
	static uint64_t prefix[N], a[N], b[N];
	static double scale[N];
	int32_t		ia[N],
				ib[N];

	for (int round = 0; round < 200; round++)
	{
		uint64_t	k[4] = {next(), next(), next(), next()};
		uint64_t	salt = next();
		int			n = round % 50 == 0 ? (int) (next() % 17) : N - (int) (next() % 9);
		uint64_t	min_m = (UINT64_C(1) << 53) - (next() % (UINT64_C(1) << 46));
		double		max_cost = (double) (next() % 1000) / 100000.0;
		int			na,
					nb;

		for (int i = 0; i < n; i++)
		{
			prefix[i] = next();
			scale[i] = (1.0 / (0.25 + (double) (next() % 400) / 100.0)) * 0x1p-57;
		}
		placement_force_isa(PLACEMENT_ISA_SCALAR);
		placement_mix_many(k, prefix, n, a);
		na = placement_collect_min(a, n, salt, min_m, ia, N);
		placement_force_isa(isa);
		placement_mix_many(k, prefix, n, b);
		if (memcmp(a, b, sizeof(uint64_t) * n) != 0)
			return false;
		nb = placement_collect_min(b, n, salt, min_m, ib, N);
		if (na != nb || memcmp(ia, ib, sizeof(int32_t) * (na > 0 ? na : 0)) != 0)
			return false;
		/* A small cap: both report overflow alike. */
		placement_force_isa(PLACEMENT_ISA_SCALAR);
		na = placement_collect_min(a, n, salt, 1, ia, 3);
		placement_force_isa(isa);
		nb = placement_collect_min(a, n, salt, 1, ib, 3);
		if (na != nb)
			return false;
		placement_force_isa(PLACEMENT_ISA_SCALAR);
		na = placement_collect_bound(a, scale, n, salt, max_cost, ia, N);
		placement_force_isa(isa);
		nb = placement_collect_bound(a, scale, n, salt, max_cost, ib, N);
		if (na != nb || memcmp(ia, ib, sizeof(int32_t) * (na > 0 ? na : 0)) != 0)
			return false;
	}
	return true;
}

static void *
my_alloc(size_t n)
{
	return malloc(n);
}

static bool
placements_agree(PlacementIsa isa, bool weighted, bool tags)
{
	enum {NODES = 700, TOKENS = 3000, SHARDS = 6};
	PlacementNode *nodes = calloc(NODES, sizeof(PlacementNode));
	PlacementSet *set;
	bool		same = true;

	for (int i = 0; i < NODES; i++)
	{
		for (int j = 0; j < PLACEMENT_ID_LEN; j++)
			nodes[i].id[j] = (uint8_t) next();
		nodes[i].weight = weighted ? 0.5 + (double) (i % 8) / 2.0 : 1.0;
		nodes[i].tag = (uint64_t) (i % 70) + 1;
	}
	set = placement_prepare(nodes, NODES, tags, my_alloc, free);
	for (int t = 0; t < TOKENS && same; t++)
	{
		uint8_t		digest[PLACEMENT_DIGEST_LEN];
		int			a[SHARDS],
					b[SHARDS],
					na,
					nb;

		for (int j = 0; j < PLACEMENT_DIGEST_LEN; j++)
			digest[j] = (uint8_t) next();
		placement_force_isa(PLACEMENT_ISA_SCALAR);
		na = placement_choose_shards(set, digest, NULL, 0, SHARDS, a);
		placement_force_isa(isa);
		nb = placement_choose_shards(set, digest, NULL, 0, SHARDS, b);
		same = na == nb && memcmp(a, b, sizeof(int) * SHARDS) == 0;
	}
	placement_free(set);
	free(nodes);
	return same;
}

int
main(void)
{
	PlacementIsa best;
	char		desc[128];

	if (sodium_init() < 0)
		return 1;
	best = placement_isa();
	printf("1..8\n");
	printf("# this CPU: %s\n", placement_isa_name(best));
	for (PlacementIsa isa = PLACEMENT_ISA_AVX2; isa <= PLACEMENT_ISA_AVX512; isa++)
	{
		if (isa > best)
		{
			snprintf(desc, sizeof(desc), "# skip %s: not on this CPU", placement_isa_name(isa));
			for (int i = 0; i < 4; i++)
				ok(1, desc);
			continue;
		}
		snprintf(desc, sizeof(desc), "%s kernels equal the scalar ones", placement_isa_name(isa));
		ok(kernels_agree(isa), desc);
		snprintf(desc, sizeof(desc), "%s: same placements, equal weights, no diversity", placement_isa_name(isa));
		ok(placements_agree(isa, false, false), desc);
		snprintf(desc, sizeof(desc), "%s: same placements, equal weights, diversity", placement_isa_name(isa));
		ok(placements_agree(isa, false, true), desc);
		snprintf(desc, sizeof(desc), "%s: same placements, mixed weights, diversity", placement_isa_name(isa));
		ok(placements_agree(isa, true, true), desc);
	}
	return tests_failed ? 1 : 0;
}
