/*
 * raptorq_bench.c
 *	  The C side of bench/raptorq.sh: our RaptorQ coder (src/rq_*.c) called
 *	  directly.
 *
 *	  raptorq_bench codec F T Z SECONDS
 *	      encode: every block's K source packets and ceil(K / 10) repair
 *	      packets, into one buffer (what dht.rq_encode(data, oti, K / 10)
 *	      computes); decode: the object from those packets with the first
 *	      ceil(K / 10) source packets of every block lost.  Prints
 *	      "ENCODE_MBps DECODE_MBps" (of object bytes), each the best of
 *	      three runs of about SECONDS.
 *	  raptorq_bench scaling T SECONDS
 *	      for K from 100 to 56403, one block: microseconds per source
 *	      symbol to encode and to decode (as above), lines "K ENC DEC".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rq.h"

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct Bench
{
	RqOti		o;
	RqLayout	lay;
	uint8_t    *data;
	uint8_t    *packets;		/* every packet of the encoding */
	size_t		npk;
	const uint8_t **kept;		/* those the decoder gets */
	uint32_t	nkept;
	uint8_t    *out;
	uint8_t   **dest;			/* packet slots of one block */
} Bench;

static uint32_t
repair_of(uint32_t K)
{
	return (K + 9) / 10;
}

static void
encode(Bench *b)
{
	RqEnv		env = rq_env_malloc(0);
	size_t		psize = RQ_PAYLOAD_ID_SIZE + b->o.T;
	size_t		at = 0;

	for (uint32_t sbn = 0; sbn < b->o.Z; sbn++)
	{
		RqBlockEncoder e;
		uint32_t	K = rq_block_k(&b->lay, sbn);

		for (uint32_t i = 0; i < K + repair_of(K); i++)
			b->dest[i] = b->packets + (at + i) * psize;
		at += K + repair_of(K);
		rq_block_encoder_init(&env, &e, &b->o, &b->lay, b->data, sbn);
		if (rq_block_packets(&env, &e, 0, K + repair_of(K), b->dest) != RQ_OK)
			abort();
		rq_block_encoder_free(&env, &e);
	}
}

static void
decode(Bench *b)
{
	RqEnv		env = rq_env_malloc(0);
	uint32_t	have[RQ_MAX_Z],
				bad;

	if (rq_object_decode(&env, &b->o, b->nkept, b->kept, b->out, have, &bad) != RQ_OK)
		abort();
}

static double
best_mbps(void (*op) (Bench *), Bench *b, double seconds)
{
	double		best = 0;

	for (int run = 0; run < 3; run++)
	{
		int			n = 0;
		double		t0 = now(),
					t;

		do
		{
			op(b);
			n++;
			t = now() - t0;
		} while (t < seconds);
		if (b->o.F * (double) n / t / 1e6 > best)
			best = b->o.F * (double) n / t / 1e6;
	}
	return best;
}

static void
setup(Bench *b, uint64_t F, uint32_t T, uint32_t Z)
{
	size_t		psize;

	memset(b, 0, sizeof(*b));
	b->o = (RqOti) {F, T, Z, 1, 4};
	if (rq_oti_check(&b->o) != RQ_OTI_OK)
	{
		fprintf(stderr, "bad OTI\n");
		exit(2);
	}
	rq_layout(&b->o, &b->lay);
	psize = RQ_PAYLOAD_ID_SIZE + T;
	b->data = malloc(F);
	for (uint64_t i = 0; i < F; i++)
		b->data[i] = (uint8_t) (i * 2654435761u >> 13);
	for (uint32_t sbn = 0; sbn < Z; sbn++)
		b->npk += rq_block_k(&b->lay, sbn) + repair_of(rq_block_k(&b->lay, sbn));
	b->packets = malloc(b->npk * psize);
	b->kept = malloc(sizeof(uint8_t *) * b->npk);
	b->out = malloc(F);
	b->dest = malloc(sizeof(uint8_t *) * (b->lay.KL + repair_of(b->lay.KL)));
	encode(b);
	for (size_t j = 0; j < b->npk; j++)
	{
		uint32_t	sbn,
					esi;

		rq_payload_id_unpack(b->packets + j * psize, &sbn, &esi);
		if (esi >= repair_of(rq_block_k(&b->lay, sbn)))
			b->kept[b->nkept++] = b->packets + j * psize;
	}
	decode(b);
	if (memcmp(b->out, b->data, F) != 0)
	{
		fprintf(stderr, "decode check failed\n");
		exit(1);
	}
}

static void
teardown(Bench *b)
{
	free(b->data);
	free(b->packets);
	free(b->kept);
	free(b->out);
	free(b->dest);
}

int
main(int argc, char **argv)
{
	Bench		b;

	if (argc == 6 && strcmp(argv[1], "codec") == 0)
	{
		double		secs = atof(argv[5]);

		setup(&b, strtoull(argv[2], NULL, 10), (uint32_t) atoi(argv[3]), (uint32_t) atoi(argv[4]));
		printf("%.1f %.1f\n", best_mbps(encode, &b, secs), best_mbps(decode, &b, secs));
		teardown(&b);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "scaling") == 0)
	{
		static const uint32_t Ks[] = {100, 300, 1000, 3000, 10000, 30000, 56403};
		uint32_t	T = (uint32_t) atoi(argv[2]);

		for (size_t i = 0; i < sizeof(Ks) / sizeof(Ks[0]); i++)
		{
			double		enc,
						dec;

			setup(&b, (uint64_t) Ks[i] * T, T, 1);
			enc = best_mbps(encode, &b, atof(argv[3]));
			dec = best_mbps(decode, &b, atof(argv[3]));
			printf("%u %.3f %.3f\n", Ks[i], T / enc, T / dec);
			teardown(&b);
		}
		return 0;
	}
	fprintf(stderr, "usage: raptorq_bench codec F T Z SECONDS | scaling T SECONDS\n");
	return 2;
}
