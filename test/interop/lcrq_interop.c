/*
 * lcrq_interop.c
 *	  Interoperability with Debian's liblcrq 0.0.1 (librecast's RaptorQ),
 *	  one source block and one sub-block, both directions, printed as TAP.
 *
 * liblcrq is GPL: this test program links it, the extension never does.
 * For each shape, lcrq encodes; our symbols must be byte-identical, and we
 * decode lcrq's symbols with the first source symbols lost (repair symbols
 * in their place).  Then we encode and lcrq decodes ours.  Built and run
 * by test/interop/run.sh.
 */
#include <lcrq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rq.h"

static int	tests_run,
			tests_failed;

static void
ok(int cond, const char *what, unsigned long long F, unsigned T)
{
	tests_run++;
	tests_failed += !cond;
	printf("%sok %d - F = %llu, T = %u: %s\n", cond ? "" : "not ", tests_run, F, T, what);
}

static void
shape(uint64_t F, uint16_t T, uint32_t lost)
{
	RqEnv		env = rq_env_malloc(0);
	RqOti		o = {F, T, 1, 1, 4};
	RqLayout	lay;
	RqBlockEncoder e;
	uint8_t    *data = malloc(F);
	rq_t	   *rq = rq_init(F, T);
	uint32_t	K = rq_K(rq),
				n = 0,
				same = 0;
	size_t		psize = RQ_PAYLOAD_ID_SIZE + T;
	uint8_t    *theirs = malloc((size_t) (K + lost) * T);
	uint8_t    *ours = malloc((size_t) (K + lost) * psize);
	uint32_t   *esi = malloc(sizeof(uint32_t) * (K + lost));
	const uint8_t **pk = malloc(sizeof(uint8_t *) * (K + lost));
	uint8_t    *out = malloc(F);
	uint8_t    *dec = calloc(1, (size_t) rq_KP(rq) * T);
	uint32_t	have[1],
				bad;
	rq_t	   *rq2;

	for (uint64_t i = 0; i < F; i++)
		data[i] = (uint8_t) (i * 7 + (i >> 8) * 13 + 1);
	if (rq_Z(rq) != 1 || rq_N(rq) != 1 || rq_Al(rq) != 4 || rq_oti_check(&o) != RQ_OTI_OK)
	{
		printf("# lcrq chose Z = %u, N = %u, Al = %u for F = %llu: shape skipped\n",
			   rq_Z(rq), rq_N(rq), rq_Al(rq), (unsigned long long) F);
		abort();
	}
	rq_layout(&o, &lay);
	rq_encode(rq, data, F);
	rq_block_encoder_init(&env, &e, &o, &lay, data, 0);
	for (uint32_t x = lost; x < K + lost; x++, n++)
	{
		rq_pid_t	pid = 0;

		pid = rq_pidsetesi(pid, x);
		rq_symbol(rq, &pid, theirs + (size_t) n * T, x < K ? 0 : RQ_REPAIR);
		rq_block_packet(&env, &e, x, ours + (size_t) n * psize);
		same += memcmp(theirs + (size_t) n * T, ours + (size_t) n * psize + 4, T) == 0;
		esi[n] = x;
		pk[n] = ours + (size_t) n * psize;
	}
	rq_block_encoder_free(&env, &e);
	ok(same == n, "our symbols are byte-identical to lcrq's (source and repair)", F, T);

	/* lcrq -> us: decode lcrq's symbols (as packets) with `lost` source symbols lost */
	for (uint32_t j = 0; j < n; j++)
		memcpy(ours + (size_t) j * psize + 4, theirs + (size_t) j * T, T);
	ok(rq_object_decode(&env, &o, n, pk, out, have, &bad) == RQ_OK && memcmp(out, data, F) == 0,
	   "we decode lcrq's symbols, first source symbols lost", F, T);

	/* us -> lcrq: lcrq decodes the symbols we made */
	rq_block_encoder_init(&env, &e, &o, &lay, data, 0);
	for (uint32_t j = 0; j < n; j++)
	{
		rq_block_packet(&env, &e, esi[j], ours + (size_t) j * psize);
		memcpy(theirs + (size_t) j * T, ours + (size_t) j * psize + 4, T);
	}
	rq_block_encoder_free(&env, &e);
	rq2 = rq_init(F, T);
	ok(rq_decode(rq2, dec, theirs, esi, n) == 0 && memcmp(dec, data, F) == 0,
	   "lcrq decodes our symbols, first source symbols lost", F, T);
	ok(env.used == 0, "every byte given back", F, T);
	rq_free(rq2);
	rq_free(rq);
	free(data);
	free(theirs);
	free(ours);
	free(esi);
	free(pk);
	free(out);
	free(dec);
}

int
main(void)
{
	printf("1..16\n");
	shape(1000, 16, 10);
	shape(29 * 64, 64, 20);
	shape(12345, 32, 40);
	shape(100000, 1024, 9);
	return tests_failed > 0;
}
