/*
 * rq_vectors_test.c
 *	  Our packets against test vectors made by cberner/raptorq 2.0.1
 *	  (test/interop/vectors/, see the README there), byte for byte, and
 *	  decoding them back.
 *
 * Each vector file: "oti HEX", "repair R", then every packet cberner's
 * Encoder::get_encoded_packets(R) returns, "packet HEX", in its order: for
 * each block in SBN order its K source packets, then R repair packets.
 * The object's bytes are data[i] = i * 7 + (i >> 8) * 13 + 1 (mod 256).
 */
// sources: src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c src/rq_decode.c src/rq_dense.c src/rq_oti.c src/rq_object.c
// libs: -lisal
#include "rq_test.h"

#include <dirent.h>

#define VECTOR_DIR "test/interop/vectors"

typedef struct Vector
{
	uint8_t		oti[RQ_OTI_SIZE];
	uint32_t	repair;
	uint32_t	npk;
	uint8_t   **pk;
	size_t		pklen;
} Vector;

static int
hex_value(int c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

static size_t
unhex(const char *s, uint8_t *out)
{
	size_t		n = 0;

	while (s[0] && s[1] && s[0] != '\n')
	{
		out[n++] = (uint8_t) (hex_value(s[0]) << 4 | hex_value(s[1]));
		s += 2;
	}
	return n;
}

static int
read_vector(const char *path, Vector *v)
{
	FILE	   *f = fopen(path, "r");
	static char line[1 << 18];
	uint8_t    *buf = malloc(sizeof(line));

	memset(v, 0, sizeof(*v));
	if (f == NULL)
		return -1;
	v->pk = malloc(sizeof(uint8_t *) * 100000);
	while (fgets(line, sizeof(line), f) != NULL)
	{
		if (strncmp(line, "oti ", 4) == 0)
			unhex(line + 4, v->oti);
		else if (strncmp(line, "repair ", 7) == 0)
			v->repair = (uint32_t) atoi(line + 7);
		else if (strncmp(line, "packet ", 7) == 0)
		{
			v->pklen = unhex(line + 7, buf);
			v->pk[v->npk] = malloc(v->pklen);
			memcpy(v->pk[v->npk++], buf, v->pklen);
		}
	}
	fclose(f);
	free(buf);
	return 0;
}

static uint8_t *
vector_data(uint64_t F)
{
	uint8_t    *d = malloc(F);

	for (uint64_t i = 0; i < F; i++)
		d[i] = (uint8_t) (i * 7 + (i >> 8) * 13 + 1);
	return d;
}

static void
check_vector(const char *name, const Vector *v)
{
	RqEnv		env = test_env();
	RqOti		o;
	RqLayout	lay;
	uint8_t    *data;
	uint8_t    *mine;
	uint8_t    *out;
	uint32_t	j = 0,
				mismatches = 0,
				have[RQ_MAX_Z],
				bad = 0;
	const uint8_t **subset;
	uint32_t	nsub = 0;
	RqStatus	st;

	ok(rq_oti_unpack(v->oti, RQ_OTI_SIZE, &o) == RQ_OTI_OK, "%s: OTI is valid", name);
	rq_layout(&o, &lay);
	data = vector_data(o.F);
	mine = malloc(RQ_PAYLOAD_ID_SIZE + o.T);
	for (uint32_t b = 0; b < o.Z; b++)
	{
		RqBlockEncoder e;
		uint32_t	K = rq_block_k(&lay, b);
		size_t		psize = RQ_PAYLOAD_ID_SIZE + o.T;
		uint8_t    *all = malloc((K + v->repair) * psize);
		uint8_t   **dest = malloc(sizeof(uint8_t *) * (K + v->repair));

		/* one at a time (solving over the symbols), then all at once (dense when cheaper) */
		rq_block_encoder_init(&env, &e, &o, &lay, data, b);
		for (uint32_t esi = 0; esi < K + v->repair; esi++)
		{
			rq_block_packet(&env, &e, esi, mine);
			if (j + esi >= v->npk || v->pklen != psize || memcmp(mine, v->pk[j + esi], psize) != 0)
				mismatches++;
		}
		rq_block_encoder_free(&env, &e);
		for (uint32_t i = 0; i < K + v->repair; i++)
			dest[i] = all + i * psize;
		rq_block_encoder_init(&env, &e, &o, &lay, data, b);
		rq_block_packets(&env, &e, 0, K + v->repair, dest);
		for (uint32_t esi = 0; esi < K + v->repair; esi++, j++)
			if (j >= v->npk || memcmp(dest[esi], v->pk[j], psize) != 0)
				mismatches++;
		rq_block_encoder_free(&env, &e);
		free(all);
		free(dest);
	}
	ok(j == v->npk && mismatches == 0, "%s: %u packets byte-identical to cberner/raptorq, one by one and all at once (%u differ)",
	   name, v->npk, mismatches);

	/* decode from cberner's packets with the first min(repair, K) of each block lost */
	subset = malloc(sizeof(uint8_t *) * v->npk);
	for (uint32_t k = 0; k < v->npk; k++)
	{
		uint32_t	sbn,
					esi;

		rq_payload_id_unpack(v->pk[k], &sbn, &esi);
		if (esi >= v->repair)
			subset[nsub++] = v->pk[k];
	}
	out = malloc(o.F);
	st = rq_object_decode(&env, &o, nsub, subset, out, have, &bad);
	ok(st == RQ_OK && memcmp(out, data, o.F) == 0,
	   "%s: decodes cberner's packets with %u source symbols per block lost (%s)",
	   name, v->repair, rq_status_text(st));
	ok(env.used == 0, "%s: every byte given back", name);
	free(subset);
	free(out);
	free(mine);
	free(data);
}

int
main(void)
{
	DIR		   *dir = opendir(VECTOR_DIR);
	struct dirent *de;
	char		names[64][256];
	int			n = 0;

	if (dir == NULL)
	{
		printf("1..1\nnot ok 1 - cannot open %s\n", VECTOR_DIR);
		return 1;
	}
	while ((de = readdir(dir)) != NULL && n < 64)
		if (strstr(de->d_name, ".txt") != NULL)
			{
			size_t		len = strlen(de->d_name);

			if (len < sizeof(names[0]))
				memcpy(names[n++], de->d_name, len + 1);
		}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), (int (*) (const void *, const void *)) strcmp);
	printf("1..%d\n", n * 4);
	for (int i = 0; i < n; i++)
	{
		char		path[sizeof(VECTOR_DIR) + 256];
		Vector		v;

		memcpy(path, VECTOR_DIR "/", sizeof(VECTOR_DIR));
		memcpy(path + sizeof(VECTOR_DIR), names[i], strlen(names[i]) + 1);
		read_vector(path, &v);
		check_vector(names[i], &v);
		for (uint32_t k = 0; k < v.npk; k++)
			free(v.pk[k]);
		free(v.pk);
	}
	return tests_failed > 0;
}
