/*
 * placement_simd.h
 *	  Vector kernels of the placement engine's two hot loops
 *	  (placement_simd.c), chosen at run time; placement.c uses them.
 *
 * They compute exactly what placement.c's scalar code computes, integer
 * for integer, so answers do not depend on the CPU (the unit tests compare
 * both paths on every kernel).
 */
#ifndef DHT_PLACEMENT_SIMD_H
#define DHT_PLACEMENT_SIMD_H

#include <stdbool.h>
#include <stdint.h>

typedef enum PlacementIsa
{
	PLACEMENT_ISA_SCALAR,
	PLACEMENT_ISA_AVX2,
	PLACEMENT_ISA_AVX512
} PlacementIsa;

/* The best kernels this CPU runs, or the one forced (tests, benchmarks). */
extern PlacementIsa placement_isa(void);
extern void placement_force_isa(PlacementIsa isa);
extern const char *placement_isa_name(PlacementIsa isa);

/* out[i] = the keyed mix of prefix[i] under key k (placement.c's mix). */
extern void placement_mix_many(const uint64_t k[4], const uint64_t *prefix, int n,
							   uint64_t *out);

/*
 * Indexes i of base[] whose position draw m = (position_mix(base[i], salt)
 * >> 11) + 1 is at least min_m, ascending, into idx[]; their count, or -1 if
 * more than cap.
 */
extern int	placement_collect_min(const uint64_t *base, int n, uint64_t salt,
								  uint64_t min_m, int32_t *idx, int cap);

/*
 * Indexes whose cheap cost bound (1 - u) / w (placement.c's
 * neg_ln_q57_lower times scale[i]) is at most max_cost: a superset of those
 * whose exact cost is; count, or -1 if more than cap.
 */
extern int	placement_collect_bound(const uint64_t *base, const double *scale, int n,
									uint64_t salt, double max_cost, int32_t *idx, int cap);

/* The scalar draws the kernels reproduce (shared with placement.c). */
static inline uint64_t
placement_mix1(const uint64_t k[4], uint64_t p)
{
	uint64_t	x = (p ^ k[0]) + k[3];

	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27) ^ k[1]) * UINT64_C(0x94d049bb133111eb);
	x = (x ^ (x >> 31) ^ k[2]) * UINT64_C(0xd6e8feb86659fd93);
	return x ^ (x >> 32);
}

static inline uint64_t
placement_position_mix1(uint64_t base, uint64_t salt)
{
	uint64_t	x = (base ^ salt) * UINT64_C(0x9e3779b97f4a7c15);

	x ^= x >> 32;
	return x * UINT64_C(0xd6e8feb86659fd93);
}

/* -ln(u) >= 1 - u, in Q57, less 4 units for rounding (placement.c). */
static inline uint64_t
placement_neg_ln_lower1(uint64_t m)
{
	uint64_t	one_minus_u = ((UINT64_C(1) << 53) - m) << 4;

	return one_minus_u > 4 ? one_minus_u - 4 : 0;
}

#endif							/* DHT_PLACEMENT_SIMD_H */
