/*
 * placement_ln_test.c
 *	  White-box tests of placement.c's fixed-point logarithm, in TAP.
 *
 * The placement order depends on neg_ln_q57 (-ln(m / 2^53) in Q57) being
 * accurate, strictly decreasing in m, and above its cheap table lower bound
 * neg_ln_q57_lower (1 - u); its tables are constants in the source.  This test
 * includes placement.c to reach those static functions and tables, and
 * checks them against integer arithmetic and long-double logl.
 */
// sources: src/placement_simd.c
// libs: -lsodium -lm
#include "placement.c"

#include <stdio.h>

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

static uint64_t rng_state = 7;
static uint64_t
rng(void)
{
	uint64_t	z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

#define MMAX (UINT64_C(1) << 53)

/* m in [1, 2^53]: random of every bit length, both sides of table edges. */
static int
sample_m(uint64_t *ms, int cap)
{
	int			n = 0;

	for (int k = 0; k <= 52 && n < cap; k++)
	{
		uint64_t	base = UINT64_C(1) << k;

		for (int j = 0; j < 2000 && n < cap; j++)
		{
			uint64_t	m = base + (k ? rng() % base : 0);

			ms[n++] = m;
		}
		/* table interval boundaries at this bit length */
		for (int i = 0; i < 256 && k >= 8 && n + 3 < cap; i++)
		{
			uint64_t	b = base + (base >> 8) * (uint64_t) i;

			ms[n++] = b;
			if (b > 1)
				ms[n++] = b - 1;
			if (b < MMAX)
				ms[n++] = b + 1;
		}
	}
	ms[n++] = 1;
	ms[n++] = MMAX;
	ms[n++] = MMAX - 1;
	return n;
}

int
main(void)
{
	static uint64_t ms[300000];
	int			n = sample_m(ms, 299990);
	bool		recip_ok = true,
				tables_ok = true,
				mono = true,
				lower = true;
	long double worst = 0;

	printf("1..6\n");
	for (int i = 0; i < 256; i++)
	{
		u128		num = (u128) 1 << 72;
		uint64_t	den = 513 + 2 * (uint64_t) i;

		if (ln_recip[i] != (uint64_t) ((2 * num + den) / (2 * den)))
			recip_ok = false;
	}
	ok(recip_ok, "ln_recip[i] = round(2^63 / (1 + (2i + 1) / 512))");

	for (int i = 0; i < 256; i++)
	{
		long double r = (long double) ln_recip[i] / 0x1p63L;
		long double lr = -logl(r) * 0x1p63L;

		if (fabsl((long double) ln_of_recip[i] - lr) > 16)
			tables_ok = false;
	}
	ok(tables_ok && LN2_Q63 == UINT64_C(0x58b90bfbe8e7bcd6) &&
	   fabsl((long double) LN2_Q63 - logl(2.0L) * 0x1p63L) < 16,
	   "ln tables agree with logl (to 2^-59)");

	for (int j = 0; j < n; j++)
	{
		uint64_t	m = ms[j];
		long double exact = -logl((long double) m / (long double) MMAX);
		long double got = (long double) neg_ln_q57(m) / 0x1p57L;
		long double err = fabsl(got - exact);

		if (err > worst)
			worst = err;
		if (m > 1 && !(neg_ln_q57(m - 1) > neg_ln_q57(m)))
			mono = false;
		if (neg_ln_q57_lower(m) > neg_ln_q57(m))
			lower = false;
	}
	printf("# %d values of m: max |error| of -ln(m/2^53) = %.3Lg (2^%.1f)\n",
		   n, worst, worst > 0 ? (double) log2l(worst) : -999.0);
	ok(worst < 0x1p-54L, "fixed-point ln is accurate to 2^-54 over all bit lengths and table edges");
	ok(mono, "fixed-point -ln is strictly decreasing in m (neighbours of every sample)");
	ok(lower, "the table lower bound never exceeds the exact fixed-point value");
	ok(neg_ln_q57(MMAX) == 0 && neg_ln_q57(1) > 0 &&
	   fabsl((long double) neg_ln_q57(1) / 0x1p57L - 53 * logl(2.0L)) < 0x1p-50L,
	   "end points: -ln(1) = 0, -ln(2^-53) = 53 ln 2");
	return tests_failed == 0 && tests_run == 6 ? 0 : 1;
}
