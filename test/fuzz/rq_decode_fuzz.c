// sources: src/rq_tables.c src/rq_gf256.c src/rq_tuple.c src/rq_env.c src/rq_solve.c src/rq_encode.c src/rq_decode.c src/rq_dense.c src/rq_oti.c src/rq_object.c
// libs: -lisal
/*
 * rq_decode_fuzz.c
 *	  libFuzzer harness for RaptorQ OTI and packet parsing and the decoder
 *	  (src/rq_oti.c, src/rq_object.c, src/rq_decode.c, src/rq_solve.c).
 *
 * Input: 12 bytes of OTI, a control byte, then packet data.  The OTI is
 * parsed as given (most are refused); when valid and small (F <= 64 KiB,
 * T <= 256), the packet data is cut into packets of 4 + T bytes, each
 * copied into a buffer of exactly that size so ASan sees any read past it,
 * and decoded under a 16 MB budget.  Control bit 0: instead of raw bytes,
 * encode an object made from the input and take the packets the input
 * selects (ESI and SBN from the input, so repeats, gaps, foreign blocks and
 * repair symbols all occur); a successful decode must then give back the
 * object exactly.  Bit 1: flip one byte of one selected packet's symbol
 * (corruption: success with other bytes is then allowed, a crash is not).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rq.h"

#define MAX_PACKETS 600

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
run_decode(const RqOti *o, uint32_t npk, const uint8_t *const *pk, const uint8_t *expect)
{
	RqEnv		env = rq_env_malloc(16 << 20);
	uint8_t    *out = malloc(o->F);
	uint32_t	have[RQ_MAX_Z],
				bad = 0;
	RqStatus	st = rq_object_decode(&env, o, npk, pk, out, have, &bad);

	if (env.used != 0)
		abort();				/* every byte given back */
	if (st == RQ_OK && expect != NULL && memcmp(out, expect, o->F) != 0)
		abort();				/* genuine packets never decode into other bytes */
	if (st == RQ_ERR_TOO_FEW && bad >= o->Z)
		abort();
	free(out);
}

/* Packets of a generated object, chosen by the input. */
static void
genuine(const RqOti *o, const uint8_t *data, size_t size, bool corrupt)
{
	RqEnv		env = rq_env_malloc(16 << 20);
	RqLayout	lay;
	uint8_t    *obj = malloc(o->F);
	uint8_t    *pk[MAX_PACKETS];
	uint32_t	npk = 0;
	size_t		psize = RQ_PAYLOAD_ID_SIZE + o->T;
	RqBlockEncoder *enc = calloc(o->Z, sizeof(RqBlockEncoder));

	rq_layout(o, &lay);
	for (uint64_t i = 0; i < o->F; i++)
		obj[i] = size > 0 ? (uint8_t) (data[i % size] + i / size) : (uint8_t) i;
	for (uint32_t b = 0; b < o->Z; b++)
		rq_block_encoder_init(&env, &enc[b], o, &lay, obj, b);
	for (size_t j = 0; j + 2 < size && npk < MAX_PACKETS; j += 3)
	{
		uint32_t	sbn = data[j] % (o->Z + 1);	/* sometimes a block that does not exist */
		uint32_t	esi = (uint32_t) data[j + 1] << 8 | data[j + 2];

		pk[npk] = malloc(psize);
		if (sbn < o->Z)
		{
			if (rq_block_packet(&env, &enc[sbn], esi % (rq_block_k(&lay, sbn) + 64), pk[npk]) != RQ_OK)
				abort();
		}
		else
		{
			memset(pk[npk], 0x5a, psize);
			pk[npk][0] = (uint8_t) sbn;
		}
		npk++;
	}
	for (uint32_t b = 0; b < o->Z; b++)
		rq_block_encoder_free(&env, &enc[b]);
	free(enc);
	if (env.used != 0)
		abort();
	if (corrupt && npk > 0)
		pk[data[0] % npk][RQ_PAYLOAD_ID_SIZE + data[size - 1] % o->T] ^= 1;
	run_decode(o, npk, (const uint8_t *const *) pk, corrupt ? NULL : obj);
	for (uint32_t j = 0; j < npk; j++)
		free(pk[j]);
	free(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RqOti		o;
	uint8_t		control;
	size_t		psize;
	size_t		count;
	uint8_t    *pk[MAX_PACKETS];

	if (size < RQ_OTI_SIZE + 1)
		return 0;
	if (rq_oti_unpack(data, RQ_OTI_SIZE, &o) != RQ_OTI_OK)
	{
		(void) rq_oti_status_text(rq_oti_unpack(data, RQ_OTI_SIZE, &o));
		return 0;
	}
	if (o.F > 65536 || o.T > 256)
		return 0;
	control = data[RQ_OTI_SIZE];
	data += RQ_OTI_SIZE + 1;
	size -= RQ_OTI_SIZE + 1;
	if (control & 1)
	{
		genuine(&o, data, size, (control & 2) != 0);
		return 0;
	}
	psize = RQ_PAYLOAD_ID_SIZE + o.T;
	count = rq_packet_count(size - size % psize, o.T);
	if (count > MAX_PACKETS)
		count = MAX_PACKETS;
	for (size_t j = 0; j < count; j++)
	{
		pk[j] = malloc(psize);
		memcpy(pk[j], data + j * psize, psize);
	}
	run_decode(&o, (uint32_t) count, (const uint8_t *const *) pk, NULL);
	for (size_t j = 0; j < count; j++)
		free(pk[j]);
	return 0;
}
