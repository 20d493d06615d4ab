/*
 * rq_tables_test.c
 *	  The constants of RFC 6330 against what the RFC says of them, GF(256)
 *	  against entries printed in the RFC, the vector symbol operations
 *	  against the scalar ones, and tuple generation against its definition.
 *
 * The strongest check of Table 2: the RFC chose each J(K') so that the
 * constraint matrix of the K' source symbols is non-singular; solving it
 * succeeds for every K' (RQ_CHECK_LONG=1, make check-long) or for a sample
 * (the first 40 rows, every 10th, the last 5).
 */
// sources: src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c
// libs: -lisal
#include "rq_test.h"

static void
test_table2(void)
{
	bool		increasing = true,
				primes = true,
				p_ge_h = true,
				ldpc_steps = true;

	ok(rq_systematic[0].Kp == 10 && rq_systematic[RQ_N_SYSTEMATIC - 1].Kp == RQ_MAX_K,
	   "Table 2 runs from K' = 10 to 56403 in %d rows", RQ_N_SYSTEMATIC);
	for (int i = 0; i < RQ_N_SYSTEMATIC; i++)
	{
		const RqSystematicRow *r = &rq_systematic[i];
		RqParams	p;

		if (i > 0 && r->Kp <= rq_systematic[i - 1].Kp)
			increasing = false;
		if (!rq_is_prime(r->S) || !rq_is_prime(r->W))
			primes = false;
		if (r->Kp + r->S < r->W)
			p_ge_h = false;
		rq_params(r->Kp, &p);
		/* LDPC steps a = 1 + floor(i / S) never wrap to 0 mod S */
		if (1 + (p.B - 1) / p.S >= p.S)
			ldpc_steps = false;
	}
	ok(increasing, "K' strictly increasing");
	ok(primes, "S(K') and W(K') are prime (RFC 6330 5.6)");
	ok(p_ge_h, "K' + S >= W for every row, so P >= H and HDPC rows are never pivots in phase 1");
	ok(ldpc_steps, "LDPC steps never a multiple of S");
}

static void
test_params(void)
{
	RqParams	p;

	ok(!rq_params(0, &p) && !rq_params(RQ_MAX_K + 1, &p), "K = 0 and K = 56404 are refused");
	ok(rq_params(1, &p) && p.Kp == 10 && p.J == 254 && p.S == 7 && p.H == 10 && p.W == 17 &&
	   p.L == 27 && p.P == 10 && p.P1 == 11 && p.U == 0 && p.B == 10,
	   "K = 1: K' = 10, J 254, S 7, H 10, W 17, L 27, P 10, P1 11");
	ok(rq_params(1024, &p) && p.Kp == 1032 && p.L == 1101 && p.P == 50 && p.P1 == 53,
	   "K = 1024: K' = 1032, L = 1101, P = 50, P1 = 53");
	ok(rq_params(56403, &p) && p.Kp == 56403 && p.J == 471 && p.L == 57326 && p.P == 375,
	   "K = 56403: K' = 56403, J 471, L 57326, P 375");
}

static void
test_rand_deg_tuple(void)
{
	bool		range = true,
				distinct = true;
	RqParams	p;
	uint32_t	cols[RQ_MAX_ROW_COLS];

	ok(rq_random(0, 0, UINT32_MAX) == (rq_v0[0] ^ rq_v1[0] ^ rq_v2[0] ^ rq_v3[0]) % UINT32_MAX,
	   "Rand[0, 0, m] is V0[0] ^ V1[0] ^ V2[0] ^ V3[0] mod m");
	ok(rq_random(0x01020304, 5, 1000) == (rq_v0[9] ^ rq_v1[8] ^ rq_v2[7] ^ rq_v3[6]) % 1000,
	   "Rand[y, i, m] indexes each table with its byte of y plus i");
	ok(rq_degree(0, 100) == 1 && rq_degree(5242, 100) == 1 && rq_degree(5243, 100) == 2 &&
	   rq_degree(1048575, 100) == 30 && rq_degree(1048575, 17) == 15,
	   "Deg: f[0] <= v < f[1] is 1, the top is 30, at most W - 2");
	for (int i = 0; i < RQ_N_SYSTEMATIC; i += 7)
	{
		rq_params(rq_systematic[i].Kp, &p);
		for (uint32_t x = 0; x < 2000; x += 13)
		{
			RqTuple		t;
			int			n = rq_lt_cols(&p, x, cols);

			rq_tuple_of(&p, x, &t);
			if (t.d < 1 || t.d > 30 || t.a < 1 || t.a >= p.W || t.b >= p.W ||
				t.d1 < 2 || t.d1 > 3 || t.a1 < 1 || t.a1 >= p.P1 || t.b1 >= p.P1 ||
				n != (int) (t.d + t.d1))
				range = false;
			for (int a = 0; a < n; a++)
				for (int b = a + 1; b < n; b++)
					if (cols[a] == cols[b] || cols[a] >= p.L)
						distinct = false;
		}
	}
	ok(range, "tuples within the ranges of 5.3.5.4");
	ok(distinct, "the columns of an LT row are distinct and below L");
}

static void
test_gf256(void)
{
	uint8_t		a[1000],
				b[1000],
				c[1000],
				d[1000];
	bool		inverse = true,
				same = true;

	rq_gf_init();
	/* OCT_EXP and OCT_LOG of RFC 6330 5.7.3 and 5.7.4 */
	ok(rq_gf_exp[0] == 1 && rq_gf_exp[1] == 2 && rq_gf_exp[7] == 128 && rq_gf_exp[8] == 29 &&
	   rq_gf_exp[9] == 58 && rq_gf_exp[254] == 142 && rq_gf_exp[255] == 1,
	   "OCT_EXP: 1, 2, ..., 128, 29, 58, ..., 142 (5.7.3)");
	ok(rq_gf_log[1] == 0 && rq_gf_log[2] == 1 && rq_gf_log[3] == 25 && rq_gf_log[4] == 2 &&
	   rq_gf_log[255] == 175, "OCT_LOG: 0, 1, 25, 2, ..., 175 (5.7.4)");
	for (int x = 1; x < 256; x++)
		if (rq_gf_mul((uint8_t) x, rq_gf_inv((uint8_t) x)) != 1 ||
			rq_gf_div(rq_gf_mul((uint8_t) x, 77), 77) != x)
			inverse = false;
	ok(inverse, "inverse and division");
	ok(rq_gf_mul(0x53, 0xca) == 0x8f && rq_gf_mul(2, 0x80) == 0x1d, "products in GF(2)[x]/(x^8+x^4+x^3+x^2+1)");

	/* vector code against scalar code, odd lengths and offsets */
	for (int len = 0; len < 300 && same; len += 7)
		for (int c8 = 0; c8 < 256 && same; c8 += 37)
		{
			const uint8_t *srcs[3] = {b + 1, c + 2, a + 3};

			fill_random(a, sizeof(a));
			fill_random(b, sizeof(b));
			fill_random(c, sizeof(c));
			memcpy(d, a, sizeof(a));
			rq_gf_force_scalar(false);
			rq_mad(a + 5, b + 3, (uint8_t) c8, (size_t) len);
			rq_scale(a + 400, (uint8_t) c8, (size_t) len);
			rq_xor_many(a + 700, srcs, 3, (size_t) len < 250 ? (size_t) len : 250);
			rq_gf_force_scalar(true);
			rq_mad(d + 5, b + 3, (uint8_t) c8, (size_t) len);
			rq_scale(d + 400, (uint8_t) c8, (size_t) len);
			srcs[2] = d + 3;
			rq_xor_many(d + 700, srcs, 3, (size_t) len < 250 ? (size_t) len : 250);
			same = memcmp(a, d, sizeof(a)) == 0;
			for (int i = 0; i < len && same; i++)
				same = d[5 + i] == (a[5 + i]);
		}
	rq_gf_force_scalar(false);
	ok(same, "vector multiply-add, scale and XOR equal the scalar code (%s)", rq_gf_impl());
}

/* The K' x K' systematic system solves, and reproduces its source symbols. */
static bool
nonsingular(uint32_t Kp)
{
	RqEnv		env = test_env();
	RqParams	p;
	size_t		T = 4;
	uint8_t    *data,
			   *C,
				out[4];
	const uint8_t **src;
	bool		good;

	rq_params(Kp, &p);
	data = malloc(Kp * T);
	C = malloc(p.L * T);
	src = malloc(sizeof(uint8_t *) * Kp);
	fill_random(data, Kp * T);
	for (uint32_t i = 0; i < Kp; i++)
		src[i] = data + i * T;
	good = rq_encode_intermediate(&env, &p, T, src, C) == RQ_OK;
	for (uint32_t i = 0; good && i < Kp; i += 1 + Kp / 50)
	{
		rq_encoding_symbol(&p, T, C, i, out);
		good = memcmp(out, src[i], T) == 0;
	}
	free(src);
	free(C);
	free(data);
	return good && env.used == 0;
}

static void
test_nonsingular(void)
{
	bool		all = getenv("RQ_CHECK_LONG") != NULL;
	int			checked = 0,
				bad = 0;
	uint32_t	first_bad = 0;

	for (int i = 0; i < RQ_N_SYSTEMATIC; i++)
	{
		if (!all && !(i < 40 || i % 10 == 0 || i >= RQ_N_SYSTEMATIC - 5))
			continue;
		checked++;
		if (!nonsingular(rq_systematic[i].Kp))
		{
			if (bad++ == 0)
				first_bad = rq_systematic[i].Kp;
		}
	}
	ok(bad == 0, "the constraint matrix of K' source symbols is non-singular for %d %s of Table 2 (first failure: %u)",
	   checked, all ? "rows (all)" : "sampled rows", first_bad);
}

int
main(void)
{
	printf("1..20\n");
	test_table2();
	test_params();
	test_rand_deg_tuple();
	test_gf256();
	test_nonsingular();
	return tests_failed > 0;
}
