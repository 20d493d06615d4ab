/*
 * rq_tool.c
 *	  Our RaptorQ coder as a command, for test/interop/npm_interop.js.
 *
 *	  rq_tool encode OTI REPAIR DATA OUT    packets of DATA (rq_encode's order,
 *	                                         REPAIR repair packets per block),
 *	                                         concatenated, into OUT
 *	  rq_tool decode OTI PACKETS OUT        the object from concatenated packets
 *
 * OTI is 24 hex digits.  Exit status 0 on success, 1 on a decoding failure,
 * 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rq.h"

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE	   *fp = fopen(path, "rb");
	uint8_t    *buf;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	*len = (size_t) ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(*len + 1);
	if (fread(buf, 1, *len, fp) != *len)
		*len = 0;
	fclose(fp);
	return buf;
}

static int
parse_oti(const char *hex, RqOti *o)
{
	uint8_t		b[RQ_OTI_SIZE];

	if (strlen(hex) != 2 * RQ_OTI_SIZE)
		return -1;
	for (int i = 0; i < RQ_OTI_SIZE; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &b[i]) != 1)
			return -1;
	return rq_oti_unpack(b, RQ_OTI_SIZE, o) == RQ_OTI_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
	RqEnv		env = rq_env_malloc(0);
	RqOti		o;
	RqLayout	lay;
	size_t		len;
	uint8_t    *in;
	FILE	   *out;

	if (argc < 5 || parse_oti(argv[2], &o) != 0)
		return 2;
	rq_layout(&o, &lay);
	if (strcmp(argv[1], "encode") == 0 && argc == 6)
	{
		uint32_t	repair = (uint32_t) atoi(argv[3]);
		size_t		psize = RQ_PAYLOAD_ID_SIZE + o.T;

		in = slurp(argv[4], &len);
		if (in == NULL || len != o.F || (out = fopen(argv[5], "wb")) == NULL)
			return 2;
		for (uint32_t b = 0; b < o.Z; b++)
		{
			RqBlockEncoder e;
			uint32_t	count = rq_block_k(&lay, b) + repair;
			uint8_t    *pk = malloc(count * psize);
			uint8_t   **dest = malloc(sizeof(uint8_t *) * count);

			for (uint32_t i = 0; i < count; i++)
				dest[i] = pk + i * psize;
			rq_block_encoder_init(&env, &e, &o, &lay, in, b);
			if (rq_block_packets(&env, &e, 0, count, dest) != RQ_OK)
				return 1;
			fwrite(pk, 1, count * psize, out);
			rq_block_encoder_free(&env, &e);
			free(dest);
			free(pk);
		}
		fclose(out);
		return 0;
	}
	if (strcmp(argv[1], "decode") == 0 && argc == 5)
	{
		size_t		n;
		const uint8_t **pk;
		uint8_t    *obj = malloc(o.F);
		uint32_t	have[RQ_MAX_Z],
					bad;

		in = slurp(argv[3], &len);
		n = in == NULL ? 0 : rq_packet_count(len, o.T);
		if (n == 0 || (out = fopen(argv[4], "wb")) == NULL)
			return 2;
		pk = malloc(sizeof(uint8_t *) * n);
		for (size_t j = 0; j < n; j++)
			pk[j] = in + j * (RQ_PAYLOAD_ID_SIZE + o.T);
		if (rq_object_decode(&env, &o, (uint32_t) n, pk, obj, have, &bad) != RQ_OK)
			return 1;
		fwrite(obj, 1, o.F, out);
		fclose(out);
		return 0;
	}
	return 2;
}
