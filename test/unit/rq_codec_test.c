/*
 * rq_codec_test.c
 *	  Encoding and decoding one source block: round trips for many K
 *	  (up to the largest, 56403), decoding from repair symbols only, the
 *	  decoder's failure rate with K, K + 1 and K + 2 random symbols against
 *	  RFC 6330's bounds, memory (peak far below K'^2, every byte given
 *	  back, the budget enforced) and the object layer with the payload IDs.
 */
// sources: src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c src/rq_decode.c src/rq_dense.c src/rq_oti.c src/rq_object.c
// libs: -lisal
#include "rq_test.h"

typedef struct Block
{
	RqParams	p;
	size_t		T;
	uint8_t    *data;			/* K * T */
	uint8_t    *C;
	const uint8_t **src;
} Block;

static void
block_make(Block *b, uint32_t K, size_t T)
{
	RqEnv		env = test_env();

	rq_params(K, &b->p);
	b->T = T;
	b->data = malloc(K * T);
	b->C = malloc(b->p.L * T);
	b->src = malloc(sizeof(uint8_t *) * K);
	fill_random(b->data, K * T);
	for (uint32_t i = 0; i < K; i++)
		b->src[i] = b->data + i * T;
	if (rq_encode_intermediate(&env, &b->p, T, b->src, b->C) != RQ_OK)
		abort();
}

static void
block_free(Block *b)
{
	free(b->data);
	free(b->C);
	free(b->src);
}

/*
 * Decode block b from the n symbols of ESIs esi[]; returns the status and
 * whether the result is the source.
 */
static RqStatus
decode_esis(const Block *b, uint32_t n, const uint32_t *esi, bool *same, RqEnv *env)
{
	uint8_t    *syms = malloc(n * b->T + 1);
	const uint8_t **sym = malloc(sizeof(uint8_t *) * (n + 1));
	uint8_t    *out = malloc(b->p.K * b->T);
	uint8_t   **outp = malloc(sizeof(uint8_t *) * b->p.K);
	RqStatus	st;

	for (uint32_t j = 0; j < n; j++)
	{
		rq_encoding_symbol(&b->p, b->T, b->C, rq_isi(&b->p, esi[j]), syms + j * b->T);
		sym[j] = syms + j * b->T;
	}
	for (uint32_t i = 0; i < b->p.K; i++)
		outp[i] = out + i * b->T;
	st = rq_decode_block(env, &b->p, b->T, n, esi, sym, outp);
	*same = st == RQ_OK && memcmp(out, b->data, b->p.K * b->T) == 0;
	free(syms);
	free(sym);
	free(out);
	free(outp);
	return st;
}

/* n distinct random ESIs: keep each source symbol with probability keep/100, then repair. */
static uint32_t
random_esis(const Block *b, uint32_t n, int keep, uint32_t *esi)
{
	uint32_t	m = 0,
				next = b->p.K + rng() % 1000;

	for (uint32_t i = 0; i < b->p.K && m < n; i++)
		if ((int) (rng() % 100) < keep)
			esi[m++] = i;
	while (m < n)
	{
		esi[m++] = next;
		next += 1 + rng() % 50;
	}
	return m;
}

static void
test_round_trips(void)
{
	static const uint32_t Ks[] = {1, 2, 9, 10, 11, 26, 100, 101, 512, 1000, 1032, 2005, 4000, 10000};
	int			good = 0,
				n = 0;

	for (size_t k = 0; k < sizeof(Ks) / sizeof(Ks[0]); k++)
		for (int keep = 0; keep <= 90; keep += 45)
		{
			Block		b;
			RqEnv		env = test_env();
			uint32_t   *esi;
			bool		same;

			block_make(&b, Ks[k], 1 + k * 3);
			esi = malloc(sizeof(uint32_t) * (Ks[k] + 2));
			random_esis(&b, Ks[k] + 2, keep, esi);
			n++;
			good += decode_esis(&b, Ks[k] + 2, esi, &same, &env) == RQ_OK && same && env.used == 0;
			free(esi);
			block_free(&b);
		}
	ok(good == n, "%d of %d round trips (14 K from 1 to 10000, 0/45/90%% source kept, K + 2 symbols)", good, n);
}

static void
test_largest(void)
{
	Block		b;
	RqEnv		env = test_env();
	uint32_t   *esi;
	bool		same;
	RqStatus	st;
	uint64_t	square = (uint64_t) RQ_MAX_K * RQ_MAX_K;

	block_make(&b, RQ_MAX_K, 4);
	esi = malloc(sizeof(uint32_t) * (RQ_MAX_K + 2));
	random_esis(&b, RQ_MAX_K + 2, 90, esi);
	st = decode_esis(&b, RQ_MAX_K + 2, esi, &same, &env);
	ok(st == RQ_OK && same, "K = 56403: decodes with 10%% of source symbols lost (%s)", rq_status_text(st));
	ok(env.peak < square / 100, "K = 56403: peak working memory %zu bytes, under 1%% of K'^2 (%llu)",
	   env.peak, (unsigned long long) square);
	random_esis(&b, RQ_MAX_K + 2, 0, esi);
	env = test_env();
	st = decode_esis(&b, RQ_MAX_K + 2, esi, &same, &env);
	ok(st == RQ_OK && same && env.used == 0, "K = 56403: decodes from repair symbols only (%s)", rq_status_text(st));
	env = test_env();
	env.budget = 4 << 20;
	st = decode_esis(&b, RQ_MAX_K + 2, esi, &same, &env);
	ok(st == RQ_ERR_LIMIT && env.used == 0 && env.peak <= env.budget,
	   "a 4 MB budget is enforced (%s), and what was allocated is given back", rq_status_text(st));
	free(esi);
	block_free(&b);
}

/*
 * RFC 6330 section 5 states decoding failure below 1e-2 with K received
 * symbols, 1e-4 with K + 1, 1e-6 with K + 2 (over random ESIs).  Failures
 * counted over many trials for a few K, with slack for chance.
 */
static void
test_failure_rates(void)
{
	static const uint32_t Ks[] = {10, 40, 160};
	int			trials = 700;
	int			fails[3] = {0, 0, 0};
	int			total = 0;

	for (size_t k = 0; k < 3; k++)
	{
		Block		b;
		uint32_t	esi[200];

		block_make(&b, Ks[k], 1);
		for (int t = 0; t < trials; t++)
			for (uint32_t extra = 0; extra < 3; extra++)
			{
				RqEnv		env = test_env();
				bool		same;
				RqStatus	st;

				random_esis(&b, Ks[k] + extra, 50, esi);
				st = decode_esis(&b, Ks[k] + extra, esi, &same, &env);
				if (st != RQ_OK)
					fails[extra]++;
				else if (!same)
					fails[extra] += 1000000;	/* wrong bytes: never */
			}
		total += trials;
		block_free(&b);
	}
	ok(fails[0] <= total * 3 / 100, "K symbols: %d failures in %d decodes (RFC: below 1%%)", fails[0], total);
	ok(fails[1] <= 2, "K + 1 symbols: %d failures in %d decodes (RFC: below 0.01%%)", fails[1], total);
	ok(fails[2] == 0, "K + 2 symbols: %d failures in %d decodes (RFC: below 1e-6)", fails[2], total);
}

static void
test_too_few_and_repeats(void)
{
	Block		b;
	RqEnv		env = test_env();
	uint32_t	esi[40];
	bool		same;

	block_make(&b, 20, 8);
	for (int i = 0; i < 40; i++)
		esi[i] = (uint32_t) (i % 19);	/* 19 distinct, repeated */
	ok(decode_esis(&b, 40, esi, &same, &env) == RQ_ERR_TOO_FEW, "19 distinct ESIs of K = 20, repeated: too few");
	for (int i = 0; i < 40; i++)
		esi[i] = (uint32_t) (i % 2 == 0 ? 25 + i / 2 : 25 + i / 4);
	ok(decode_esis(&b, 40, esi, &same, &env) == RQ_OK && same && env.used == 0,
	   "repair symbols with repeats decode");
	block_free(&b);
}

/* Small blocks of large symbols decode densely (rq_dense.c): same bytes. */
static void
test_dense_paths(void)
{
	static const struct
	{
		uint32_t	K;
		size_t		T;
		int			keep;
	}			cases[] = {{20, 40000, 90}, {29, 1024, 80}, {100, 4096, 95}, {10, 65535, 0}};
	int			good = 0,
				dense = 0;

	for (size_t c = 0; c < 4; c++)
	{
		Block		b;
		RqEnv		env = test_env();
		uint32_t	esi[200];
		uint32_t	n,
					nsrc = 0;
		bool		same;

		block_make(&b, cases[c].K, cases[c].T);
		n = random_esis(&b, cases[c].K + 2, cases[c].keep, esi);
		for (uint32_t j = 0; j < n; j++)
			nsrc += esi[j] < cases[c].K;
		dense += rq_dense_cheaper(&b.p, b.T, n, cases[c].K - nsrc);
		good += decode_esis(&b, n, esi, &same, &env) == RQ_OK && same && env.used == 0;
		block_free(&b);
	}
	ok(good == 4 && dense == 4, "small blocks of large symbols decode densely (%d of 4 dense, %d right)", dense, good);
}

int
main(void)
{
	printf("1..11\n");
	test_dense_paths();
	test_round_trips();
	test_largest();
	test_failure_rates();
	test_too_few_and_repeats();
	return tests_failed > 0;
}
