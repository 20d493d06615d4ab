/*
 * rq_object.c
 *	  Encoding and decoding whole objects: source blocks, packets and the
 *	  zero padding of RFC 6330 section 4.4.1.
 *
 * An encoder of one block finds the source symbols in the object in place
 * where they are contiguous (one sub-block, inside F) and assembles the
 * others (the padded last symbol; every symbol with sub-blocks); it solves
 * for the intermediate symbols only when a repair packet is asked for.
 *
 * The decoder groups packets by SBN (a counting sort: nothing is copied),
 * decodes each block, writing source symbols straight into the output where
 * they are contiguous there and through a scratch symbol elsewhere.  A
 * packet whose SBN is not a block of the OTI is an error, not ignored:
 * it means the packets and the OTI do not belong together.
 */
#include "rq.h"

#include <stdlib.h>
#include <string.h>

RqStatus
rq_block_encoder_init(RqEnv *env, RqBlockEncoder *e, const RqOti *o,
					  const RqLayout *lay, const uint8_t *data, uint32_t sbn)
{
	uint32_t	K = rq_block_k(lay, sbn);
	uint32_t	scattered = 0;

	rq_gf_init();
	memset(e, 0, sizeof(*e));
	e->oti = o;
	e->lay = lay;
	e->data = data;
	e->sbn = sbn;
	rq_params(K, &e->p);
	for (uint32_t i = 0; i < K; i++)
		scattered += rq_source_slot(o, lay, (uint8_t *) data, sbn, i) == NULL;
	e->src = rq_mem_alloc(env, sizeof(uint8_t *) * K);
	e->scratch = rq_mem_alloc(env, (size_t) scattered * o->T + 1);
	if (e->src == NULL || e->scratch == NULL)
		return RQ_ALLOC_FAILURE(env);
	for (uint32_t i = 0, s = 0; i < K; i++)
	{
		uint8_t    *scratch = e->scratch + (size_t) s * o->T;

		e->src[i] = rq_source_symbol(o, lay, data, sbn, i, scratch);
		s += e->src[i] == scratch;
	}
	return RQ_OK;
}

RqStatus
rq_block_packet(RqEnv *env, RqBlockEncoder *e, uint32_t esi, uint8_t *out)
{
	size_t		T = e->oti->T;

	rq_payload_id_pack(e->sbn, esi, out);
	if (esi < e->p.K)
	{
		memcpy(out + RQ_PAYLOAD_ID_SIZE, e->src[esi], T);
		return RQ_OK;
	}
	if (e->C == NULL)
	{
		RqStatus	st;

		e->C = rq_mem_alloc(env, (size_t) e->p.L * T);
		if (e->C == NULL)
			return RQ_ALLOC_FAILURE(env);
		st = rq_encode_intermediate(env, &e->p, T, e->src, e->C);
		if (st != RQ_OK)
			return st;
	}
	rq_encoding_symbol(&e->p, T, e->C, rq_isi(&e->p, esi), out + RQ_PAYLOAD_ID_SIZE);
	return RQ_OK;
}

/* Repair symbols ESI first .. first + count - 1 of a small block, densely. */
static RqStatus
dense_repair(RqEnv *env, RqBlockEncoder *e, uint32_t first, uint32_t count, uint8_t *const *out)
{
	const RqParams *p = &e->p;
	size_t		rows_size = (sizeof(uint32_t) + sizeof(uint8_t *)) * p->Kp;
	size_t		tgt_size = (sizeof(uint32_t) + sizeof(uint8_t *)) * count;
	void	   *rows_buf = rq_mem_alloc(env, rows_size);
	void	   *tgt_buf = rq_mem_alloc(env, tgt_size);
	RqStatus	st;

	if (rows_buf == NULL || tgt_buf == NULL)
		st = RQ_ALLOC_FAILURE(env);
	else
	{
		const uint8_t **sym = rows_buf;
		uint32_t   *isi = (uint32_t *) (sym + p->Kp);
		uint8_t   **dest = tgt_buf;
		uint32_t   *target = (uint32_t *) (dest + count);

		for (uint32_t i = 0; i < p->Kp; i++)
		{
			isi[i] = i;
			sym[i] = i < p->K ? e->src[i] : NULL;
		}
		for (uint32_t t = 0; t < count; t++)
		{
			rq_payload_id_pack(e->sbn, first + t, out[t]);
			target[t] = rq_isi(p, first + t);
			dest[t] = out[t] + RQ_PAYLOAD_ID_SIZE;
		}
		st = rq_dense_symbols(env, p, e->oti->T, p->Kp, isi, sym, count, target, dest);
	}
	rq_mem_free(env, tgt_buf, tgt_size);
	rq_mem_free(env, rows_buf, rows_size);
	return st;
}

RqStatus
rq_block_packets(RqEnv *env, RqBlockEncoder *e, uint32_t first, uint32_t count, uint8_t *const *out)
{
	uint32_t	nsource = first >= e->p.K ? 0 : (count < e->p.K - first ? count : e->p.K - first);
	uint32_t	nrepair = count - nsource;
	RqStatus	st = RQ_OK;

	for (uint32_t i = 0; i < nsource && st == RQ_OK; i++)
		st = rq_block_packet(env, e, first + i, out[i]);
	if (st != RQ_OK || nrepair == 0)
		return st;
	if (e->C == NULL && rq_dense_cheaper(&e->p, e->oti->T, e->p.K, nrepair))
		return dense_repair(env, e, first + nsource, nrepair, out + nsource);
	for (uint32_t i = nsource; i < count && st == RQ_OK; i++)
	{
		st = rq_block_packet(env, e, first + i, out[i]);
		if (env->check != NULL && i % 256 == 0)
			env->check(env->arg);
	}
	return st;
}

void
rq_block_encoder_free(RqEnv *env, RqBlockEncoder *e)
{
	uint32_t	scattered = 0;

	for (uint32_t i = 0; e->src != NULL && i < e->p.K; i++)
		scattered += rq_source_slot(e->oti, e->lay, (uint8_t *) e->data, e->sbn, i) == NULL;
	rq_mem_free(env, e->C, (size_t) e->p.L * e->oti->T);
	rq_mem_free(env, e->scratch, (size_t) scattered * e->oti->T + 1);
	rq_mem_free(env, e->src, sizeof(uint8_t *) * e->p.K);
	memset(e, 0, sizeof(*e));
}

uint64_t
rq_block_work_bytes(uint32_t K, uint32_t T)
{
	RqParams	p;

	if (!rq_params(K, &p))
		return UINT64_MAX;
	return ((uint64_t) p.L + p.P + K) * T;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct ObjectDecode
{
	RqEnv	   *env;
	const RqOti *o;
	RqLayout	lay;
	uint32_t   *start;			/* Z + 1: packets of block b at order[start[b]..] */
	uint32_t   *order;			/* packet positions grouped by block */
	uint32_t   *esi;			/* the ESIs of the group being decoded */
	const uint8_t **sym;
	uint8_t   **out;			/* where each source symbol of the block goes */
	uint8_t    *scratch;		/* KL * T: symbols not contiguous in out */
} ObjectDecode;

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *) a;
	uint32_t	y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Distinct ESIs among the packets of block b. */
static uint32_t
distinct_esis(ObjectDecode *d, const uint8_t *const *pk, uint32_t b)
{
	uint32_t	K = rq_block_k(&d->lay, b);
	uint32_t	n = 0,
				nrep = 0;
	uint8_t    *seen = d->scratch;	/* K <= KL * T bytes, free until decoding */

	memset(seen, 0, K);
	for (uint32_t j = d->start[b]; j < d->start[b + 1]; j++)
	{
		uint32_t	sbn,
					esi;

		rq_payload_id_unpack(pk[d->order[j]], &sbn, &esi);
		if (esi < K)
		{
			n += seen[esi] == 0;
			seen[esi] = 1;
		}
		else
			d->esi[nrep++] = esi;
	}
	qsort(d->esi, nrep, sizeof(uint32_t), cmp_u32);
	for (uint32_t j = 0; j < nrep; j++)
		n += j == 0 || d->esi[j] != d->esi[j - 1];
	return n;
}

static RqStatus
decode_one_block(ObjectDecode *d, const uint8_t *const *pk, uint8_t *outbuf, uint32_t b)
{
	uint32_t	K = rq_block_k(&d->lay, b);
	uint32_t	n = d->start[b + 1] - d->start[b];
	size_t		T = d->o->T;
	RqParams	p;
	RqStatus	st;

	rq_params(K, &p);
	for (uint32_t j = 0; j < n; j++)
	{
		const uint8_t *packet = pk[d->order[d->start[b] + j]];
		uint32_t	sbn;

		rq_payload_id_unpack(packet, &sbn, &d->esi[j]);
		d->sym[j] = packet + RQ_PAYLOAD_ID_SIZE;
	}
	for (uint32_t i = 0; i < K; i++)
	{
		d->out[i] = rq_source_slot(d->o, &d->lay, outbuf, b, i);
		if (d->out[i] == NULL)
			d->out[i] = d->scratch + (size_t) i * T;
	}
	st = rq_decode_block(d->env, &p, T, n, d->esi, d->sym, d->out);
	if (st != RQ_OK)
		return st;
	for (uint32_t i = 0; i < K; i++)
		if (d->out[i] == d->scratch + (size_t) i * T)
			rq_put_source_symbol(d->o, &d->lay, outbuf, b, i, d->out[i]);
	return RQ_OK;
}

static RqStatus
group_packets(ObjectDecode *d, uint32_t npk, const uint8_t *const *pk, uint32_t *bad)
{
	uint32_t	Z = d->o->Z;

	for (uint32_t j = 0; j < npk; j++)
	{
		if (pk[j][0] >= Z)
		{
			*bad = j;
			return RQ_ERR_BAD_PACKET;
		}
		d->start[pk[j][0] + 1]++;
	}
	for (uint32_t b = 0; b < Z; b++)
		d->start[b + 1] += d->start[b];
	for (uint32_t j = 0; j < npk; j++)
		d->order[d->start[pk[j][0]]++] = j;
	for (uint32_t b = Z; b > 0; b--)
		d->start[b] = d->start[b - 1];
	d->start[0] = 0;
	return RQ_OK;
}

RqStatus
rq_object_decode(RqEnv *env, const RqOti *o, uint32_t npk, const uint8_t *const *pk,
				 uint8_t *out, uint32_t *have, uint32_t *bad_sbn)
{
	ObjectDecode d;
	RqStatus	st;
	uint32_t	most = 0;

	rq_gf_init();
	memset(&d, 0, sizeof(d));
	d.env = env;
	d.o = o;
	rq_layout(o, &d.lay);
	d.start = rq_mem_alloc0(env, sizeof(uint32_t) * (o->Z + 1));
	d.order = rq_mem_alloc(env, sizeof(uint32_t) * (npk + 1));
	if (d.start == NULL || d.order == NULL)
	{
		st = RQ_ALLOC_FAILURE(env);
		goto done;
	}
	st = group_packets(&d, npk, pk, bad_sbn);
	if (st != RQ_OK)
		goto done;
	for (uint32_t b = 0; b < o->Z; b++)
		if (d.start[b + 1] - d.start[b] > most)
			most = d.start[b + 1] - d.start[b];
	d.esi = rq_mem_alloc(env, sizeof(uint32_t) * (most + 1));
	d.sym = rq_mem_alloc(env, sizeof(uint8_t *) * (most + 1));
	d.out = rq_mem_alloc(env, sizeof(uint8_t *) * d.lay.KL);
	d.scratch = rq_mem_alloc(env, (size_t) d.lay.KL * o->T);
	if (d.esi == NULL || d.sym == NULL || d.out == NULL || d.scratch == NULL)
	{
		st = RQ_ALLOC_FAILURE(env);
		goto done;
	}

	/* every block's count first, so that errors can name all short blocks */
	for (uint32_t b = 0; b < o->Z; b++)
	{
		have[b] = distinct_esis(&d, pk, b);
		if (have[b] < rq_block_k(&d.lay, b) && st == RQ_OK)
		{
			st = RQ_ERR_TOO_FEW;
			*bad_sbn = b;
		}
	}
	for (uint32_t b = 0; b < o->Z && st == RQ_OK; b++)
	{
		st = decode_one_block(&d, pk, out, b);
		if (st != RQ_OK)
			*bad_sbn = b;
	}
done:
	rq_mem_free(env, d.scratch, (size_t) d.lay.KL * o->T);
	rq_mem_free(env, d.out, sizeof(uint8_t *) * d.lay.KL);
	rq_mem_free(env, d.sym, sizeof(uint8_t *) * (most + 1));
	rq_mem_free(env, d.esi, sizeof(uint32_t) * (most + 1));
	rq_mem_free(env, d.order, sizeof(uint32_t) * (npk + 1));
	rq_mem_free(env, d.start, sizeof(uint32_t) * (o->Z + 1));
	return st;
}
