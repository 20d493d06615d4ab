/*
 * placement_simd.c
 *	  Vector kernels of the placement engine: every candidate's token draw,
 *	  and the threshold pass of each shard position (placement_simd.h).
 *
 * Per token and shard position the engine derives every eligible node's
 * draw and keeps the few above a threshold: a multiply-xorshift chain per
 * node, independent across nodes, so it vectorises.  AVX-512 (with DQ's
 * 64-bit multiply) does 8 nodes an instruction; AVX2 does 4 and builds the
 * 64-bit multiply from three 32-bit ones; the scalar loop is the fallback
 * and the reference.  The chosen set is the same on every path: these are
 * the same integer operations, and the weighted bound uses the same IEEE
 * conversion and multiply as the scalar code.  The choice is made once, by
 * asking the CPU (GCC's __builtin_cpu_supports).
 */
#include "placement_simd.h"

#include <stddef.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

static PlacementIsa chosen_isa = PLACEMENT_ISA_SCALAR;
static bool isa_known = false;

static const uint64_t C1 = UINT64_C(0xbf58476d1ce4e5b9);
static const uint64_t C2 = UINT64_C(0x94d049bb133111eb);
static const uint64_t C3 = UINT64_C(0xd6e8feb86659fd93);
static const uint64_t P1 = UINT64_C(0x9e3779b97f4a7c15);

PlacementIsa
placement_isa(void)
{
	if (!isa_known)
	{
#ifdef HAVE_X86_KERNELS
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
			chosen_isa = PLACEMENT_ISA_AVX512;
		else if (__builtin_cpu_supports("avx2"))
			chosen_isa = PLACEMENT_ISA_AVX2;
#endif
		isa_known = true;
	}
	return chosen_isa;
}

void
placement_force_isa(PlacementIsa isa)
{
	PlacementIsa best;

	isa_known = false;
	best = placement_isa();
	chosen_isa = isa <= best ? isa : best;
	isa_known = true;
}

const char *
placement_isa_name(PlacementIsa isa)
{
	switch (isa)
	{
		case PLACEMENT_ISA_AVX512:
			return "avx512";
		case PLACEMENT_ISA_AVX2:
			return "avx2";
		default:
			return "scalar";
	}
}

/* ---- scalar: the reference */

static void
mix_many_scalar(const uint64_t k[4], const uint64_t *prefix, int from, int n, uint64_t *out)
{
	for (int i = from; i < n; i++)
		out[i] = placement_mix1(k, prefix[i]);
}

static int
collect_min_scalar(const uint64_t *base, int from, int n, uint64_t salt, uint64_t min_m,
				   int32_t *idx, int count, int cap)
{
	for (int i = from; i < n; i++)
		if ((placement_position_mix1(base[i], salt) >> 11) + 1 >= min_m)
		{
			if (count == cap)
				return -1;
			idx[count++] = i;
		}
	return count;
}

static int
collect_bound_scalar(const uint64_t *base, const double *scale, int from, int n, uint64_t salt,
					 double max_cost, int32_t *idx, int count, int cap)
{
	for (int i = from; i < n; i++)
	{
		uint64_t	m = (placement_position_mix1(base[i], salt) >> 11) + 1;

		if ((double) (int64_t) placement_neg_ln_lower1(m) * scale[i] > max_cost)
			continue;
		if (count == cap)
			return -1;
		idx[count++] = i;
	}
	return count;
}

/* Append the set bits of mask (lanes from base index i) to idx. */
static inline int
append_lanes(unsigned mask, int i, int32_t *idx, int count, int cap)
{
	while (mask != 0)
	{
		if (count == cap)
			return -1;
		idx[count++] = i + __builtin_ctz(mask);
		mask &= mask - 1;
	}
	return count;
}

#ifdef HAVE_X86_KERNELS

/* ---- AVX-512 */

__attribute__((target("avx512f,avx512dq")))
static inline __m512i
mix8(__m512i x, __m512i k0, __m512i k1, __m512i k2, __m512i k3)
{
	x = _mm512_add_epi64(_mm512_xor_si512(x, k0), k3);
	x = _mm512_mullo_epi64(_mm512_xor_si512(x, _mm512_srli_epi64(x, 30)), _mm512_set1_epi64((int64_t) C1));
	x = _mm512_mullo_epi64(_mm512_xor_si512(_mm512_xor_si512(x, _mm512_srli_epi64(x, 27)), k1),
						   _mm512_set1_epi64((int64_t) C2));
	x = _mm512_mullo_epi64(_mm512_xor_si512(_mm512_xor_si512(x, _mm512_srli_epi64(x, 31)), k2),
						   _mm512_set1_epi64((int64_t) C3));
	return _mm512_xor_si512(x, _mm512_srli_epi64(x, 32));
}

/* m = (position_mix(base, salt) >> 11) + 1, 8 lanes. */
__attribute__((target("avx512f,avx512dq")))
static inline __m512i
position_m8(__m512i base, __m512i salt)
{
	__m512i		x = _mm512_mullo_epi64(_mm512_xor_si512(base, salt), _mm512_set1_epi64((int64_t) P1));

	x = _mm512_xor_si512(x, _mm512_srli_epi64(x, 32));
	x = _mm512_mullo_epi64(x, _mm512_set1_epi64((int64_t) C3));
	return _mm512_add_epi64(_mm512_srli_epi64(x, 11), _mm512_set1_epi64(1));
}

__attribute__((target("avx512f,avx512dq")))
static void
mix_many_avx512(const uint64_t k[4], const uint64_t *prefix, int n, uint64_t *out)
{
	__m512i		k0 = _mm512_set1_epi64((int64_t) k[0]),
				k1 = _mm512_set1_epi64((int64_t) k[1]),
				k2 = _mm512_set1_epi64((int64_t) k[2]),
				k3 = _mm512_set1_epi64((int64_t) k[3]);
	int			i = 0;

	for (; i + 8 <= n; i += 8)
		_mm512_storeu_si512((void *) (out + i),
							mix8(_mm512_loadu_si512((const void *) (prefix + i)), k0, k1, k2, k3));
	mix_many_scalar(k, prefix, i, n, out);
}

__attribute__((target("avx512f,avx512dq")))
static int
collect_min_avx512(const uint64_t *base, int n, uint64_t salt, uint64_t min_m,
				   int32_t *idx, int cap)
{
	__m512i		vsalt = _mm512_set1_epi64((int64_t) salt),
				vmin = _mm512_set1_epi64((int64_t) min_m);
	int			count = 0,
				i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m512i		m = position_m8(_mm512_loadu_si512((const void *) (base + i)), vsalt);
		unsigned	mask = _mm512_cmpge_epu64_mask(m, vmin);

		if (mask != 0 && (count = append_lanes(mask, i, idx, count, cap)) < 0)
			return -1;
	}
	return collect_min_scalar(base, i, n, salt, min_m, idx, count, cap);
}

__attribute__((target("avx512f,avx512dq")))
static int
collect_bound_avx512(const uint64_t *base, const double *scale, int n, uint64_t salt,
					 double max_cost, int32_t *idx, int cap)
{
	__m512i		vsalt = _mm512_set1_epi64((int64_t) salt),
				top = _mm512_set1_epi64((int64_t) (UINT64_C(1) << 53)),
				four = _mm512_set1_epi64(4);
	__m512d		vmax = _mm512_set1_pd(max_cost);
	int			count = 0,
				i = 0;

	for (; i + 8 <= n; i += 8)
	{
		__m512i		m = position_m8(_mm512_loadu_si512((const void *) (base + i)), vsalt);
		__m512i		omu = _mm512_slli_epi64(_mm512_sub_epi64(top, m), 4);
		__mmask8	big = _mm512_cmpgt_epu64_mask(omu, four);
		__m512i		lower = _mm512_maskz_sub_epi64(big, omu, four);
		__m512d		cost = _mm512_mul_pd(_mm512_cvtepi64_pd(lower), _mm512_loadu_pd(scale + i));
		unsigned	mask = _mm512_cmp_pd_mask(cost, vmax, _CMP_LE_OQ);

		if (mask != 0 && (count = append_lanes(mask, i, idx, count, cap)) < 0)
			return -1;
	}
	return collect_bound_scalar(base, scale, i, n, salt, max_cost, idx, count, cap);
}

/* ---- AVX2: 4 lanes, the 64-bit multiply from three 32-bit ones */

__attribute__((target("avx2")))
static inline __m256i
mul64c(__m256i x, uint64_t c)
{
	__m256i		clo = _mm256_set1_epi64x((int64_t) (c & 0xffffffffu));
	__m256i		chi = _mm256_set1_epi64x((int64_t) (c >> 32));
	__m256i		lo = _mm256_mul_epu32(x, clo);
	__m256i		cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(x, 32), clo),
										 _mm256_mul_epu32(x, chi));

	return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2")))
static void
mix_many_avx2(const uint64_t k[4], const uint64_t *prefix, int n, uint64_t *out)
{
	__m256i		k0 = _mm256_set1_epi64x((int64_t) k[0]),
				k1 = _mm256_set1_epi64x((int64_t) k[1]),
				k2 = _mm256_set1_epi64x((int64_t) k[2]),
				k3 = _mm256_set1_epi64x((int64_t) k[3]);
	int			i = 0;

	for (; i + 4 <= n; i += 4)
	{
		__m256i		x = _mm256_loadu_si256((const __m256i *) (prefix + i));

		x = _mm256_add_epi64(_mm256_xor_si256(x, k0), k3);
		x = mul64c(_mm256_xor_si256(x, _mm256_srli_epi64(x, 30)), C1);
		x = mul64c(_mm256_xor_si256(_mm256_xor_si256(x, _mm256_srli_epi64(x, 27)), k1), C2);
		x = mul64c(_mm256_xor_si256(_mm256_xor_si256(x, _mm256_srli_epi64(x, 31)), k2), C3);
		_mm256_storeu_si256((__m256i *) (out + i), _mm256_xor_si256(x, _mm256_srli_epi64(x, 32)));
	}
	mix_many_scalar(k, prefix, i, n, out);
}

__attribute__((target("avx2")))
static int
collect_min_avx2(const uint64_t *base, int n, uint64_t salt, uint64_t min_m,
				 int32_t *idx, int cap)
{
	__m256i		vsalt = _mm256_set1_epi64x((int64_t) salt),
				below = _mm256_set1_epi64x((int64_t) min_m - 1),
				one = _mm256_set1_epi64x(1);
	int			count = 0,
				i = 0;

	for (; i + 4 <= n; i += 4)
	{
		__m256i		x = mul64c(_mm256_xor_si256(_mm256_loadu_si256((const __m256i *) (base + i)), vsalt), P1);
		__m256i		m;
		unsigned	mask;

		x = mul64c(_mm256_xor_si256(x, _mm256_srli_epi64(x, 32)), C3);
		m = _mm256_add_epi64(_mm256_srli_epi64(x, 11), one);
		/* m and min_m are at most 2^53: a signed compare is exact. */
		mask = (unsigned) _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(m, below)));
		if (mask != 0 && (count = append_lanes(mask, i, idx, count, cap)) < 0)
			return -1;
	}
	return collect_min_scalar(base, i, n, salt, min_m, idx, count, cap);
}

#endif							/* HAVE_X86_KERNELS */

/* ---- dispatch */

void
placement_mix_many(const uint64_t k[4], const uint64_t *prefix, int n, uint64_t *out)
{
#ifdef HAVE_X86_KERNELS
	switch (placement_isa())
	{
		case PLACEMENT_ISA_AVX512:
			mix_many_avx512(k, prefix, n, out);
			return;
		case PLACEMENT_ISA_AVX2:
			mix_many_avx2(k, prefix, n, out);
			return;
		default:
			break;
	}
#endif
	mix_many_scalar(k, prefix, 0, n, out);
}

int
placement_collect_min(const uint64_t *base, int n, uint64_t salt, uint64_t min_m,
					  int32_t *idx, int cap)
{
#ifdef HAVE_X86_KERNELS
	switch (placement_isa())
	{
		case PLACEMENT_ISA_AVX512:
			return collect_min_avx512(base, n, salt, min_m, idx, cap);
		case PLACEMENT_ISA_AVX2:
			return collect_min_avx2(base, n, salt, min_m, idx, cap);
		default:
			break;
	}
#endif
	return collect_min_scalar(base, 0, n, salt, min_m, idx, 0, cap);
}

int
placement_collect_bound(const uint64_t *base, const double *scale, int n, uint64_t salt,
						double max_cost, int32_t *idx, int cap)
{
#ifdef HAVE_X86_KERNELS
	if (placement_isa() == PLACEMENT_ISA_AVX512)
		return collect_bound_avx512(base, scale, n, salt, max_cost, idx, cap);
#endif
	return collect_bound_scalar(base, scale, 0, n, salt, max_cost, idx, 0, cap);
}
