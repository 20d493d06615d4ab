/*
 * rq_oti.c
 *	  The RaptorQ Object Transmission Information (RFC 6330 sections 3.3.2
 *	  and 3.3.3) and how an object is cut into source blocks, sub-blocks
 *	  and symbols (section 4.4.1).
 *
 * OTI, 12 bytes big-endian: transfer length F (40 bits), a reserved byte
 * (zero), symbol size T (16 bits); then the number of source blocks Z
 * (8 bits), sub-blocks N (16 bits) and the symbol alignment Al (8 bits).
 *
 * With Kt = ceil(F / T): Partition[Kt, Z] gives ZL blocks of KL symbols then
 * ZS blocks of KS, in that order, back to back in the object (zero padded
 * after F to the end of the last block).  Partition[T / Al, N] cuts each
 * block into NL sub-blocks whose sub-symbols are TL * Al bytes, then NS of
 * TS * Al; sub-block j is K sub-symbols back to back.  Encoding symbol i of
 * the block is the concatenation of sub-symbol i of each sub-block, in
 * order.  Encoding the block's sub-blocks separately (as the RFC describes)
 * and concatenating their symbols is the same as encoding these
 * concatenated symbols once: the code is linear byte by byte.  So the coder
 * works on T-byte symbols and only this file knows about sub-blocks.
 *
 * Limits (RFC 6330 4.4.1.2 and the OTI's field widths): 1 <= F <= 946270874880,
 * Al >= 1, T a multiple of Al up to 65535, 1 <= Z <= 255 and Z <= Kt (no
 * empty block), KL <= 56403, 1 <= N <= T / Al (no empty sub-symbol).
 */
#include "rq.h"

#include <string.h>

static void
partition(uint64_t I, uint32_t J, uint64_t *il, uint64_t *is, uint32_t *jl, uint32_t *js)
{
	*il = (I + J - 1) / J;
	*is = I / J;
	*jl = (uint32_t) (I - *is * J);
	*js = J - *jl;
}

RqOtiStatus
rq_oti_check(const RqOti *o)
{
	uint64_t	Kt;

	if (o->F == 0 || o->F > RQ_MAX_F)
		return RQ_OTI_BAD_F;
	if (o->Al == 0 || o->Al > RQ_MAX_AL)
		return RQ_OTI_BAD_AL;
	if (o->T == 0 || o->T > RQ_MAX_T || o->T % o->Al != 0)
		return RQ_OTI_BAD_T;
	if (o->Z == 0 || o->Z > RQ_MAX_Z)
		return RQ_OTI_BAD_Z;
	Kt = (o->F + o->T - 1) / o->T;
	if (o->Z > Kt)
		return RQ_OTI_Z_OVER_KT;
	if ((Kt + o->Z - 1) / o->Z > RQ_MAX_K)
		return RQ_OTI_K_TOO_LARGE;
	if (o->N == 0 || o->N > RQ_MAX_N || o->N > o->T / o->Al)
		return RQ_OTI_BAD_N;
	return RQ_OTI_OK;
}

const char *
rq_oti_status_text(RqOtiStatus s)
{
	switch (s)
	{
		case RQ_OTI_OK:
			return "valid";
		case RQ_OTI_BAD_SIZE:
			return "an OTI is 12 bytes";
		case RQ_OTI_RESERVED:
			return "the reserved byte of an OTI must be zero";
		case RQ_OTI_BAD_F:
			return "the transfer length must be between 1 and 946270874880";
		case RQ_OTI_BAD_AL:
			return "the symbol alignment must be between 1 and 255";
		case RQ_OTI_BAD_T:
			return "the symbol size must be a multiple of the alignment, at most 65535";
		case RQ_OTI_BAD_Z:
			return "the number of source blocks must be between 1 and 255";
		case RQ_OTI_Z_OVER_KT:
			return "more source blocks than source symbols";
		case RQ_OTI_K_TOO_LARGE:
			return "a source block would have more than 56403 source symbols";
		case RQ_OTI_BAD_N:
			return "the number of sub-blocks must be between 1 and the symbol size divided by the alignment";
	}
	return "unknown";
}

void
rq_oti_pack(const RqOti *o, uint8_t out[RQ_OTI_SIZE])
{
	for (int i = 0; i < 5; i++)
		out[i] = (uint8_t) (o->F >> (8 * (4 - i)));
	out[5] = 0;
	out[6] = (uint8_t) (o->T >> 8);
	out[7] = (uint8_t) o->T;
	out[8] = (uint8_t) o->Z;
	out[9] = (uint8_t) (o->N >> 8);
	out[10] = (uint8_t) o->N;
	out[11] = (uint8_t) o->Al;
}

RqOtiStatus
rq_oti_unpack(const uint8_t *buf, size_t len, RqOti *o)
{
	memset(o, 0, sizeof(*o));
	if (len != RQ_OTI_SIZE)
		return RQ_OTI_BAD_SIZE;
	for (int i = 0; i < 5; i++)
		o->F = o->F << 8 | buf[i];
	o->T = (uint32_t) buf[6] << 8 | buf[7];
	o->Z = buf[8];
	o->N = (uint32_t) buf[9] << 8 | buf[10];
	o->Al = buf[11];
	if (buf[5] != 0)
		return RQ_OTI_RESERVED;
	return rq_oti_check(o);
}

/* For a valid OTI (rq_oti_check). */
void
rq_layout(const RqOti *o, RqLayout *lay)
{
	uint64_t	kl,
				ks,
				tl,
				ts;

	lay->Kt = (o->F + o->T - 1) / o->T;
	partition(lay->Kt, o->Z, &kl, &ks, &lay->ZL, &lay->ZS);
	partition(o->T / o->Al, o->N, &tl, &ts, &lay->NL, &lay->NS);
	lay->KL = (uint32_t) kl;
	lay->KS = (uint32_t) ks;
	lay->TL = (uint32_t) tl;
	lay->TS = (uint32_t) ts;
}

uint32_t
rq_block_k(const RqLayout *lay, uint32_t sbn)
{
	return sbn < lay->ZL ? lay->KL : lay->KS;
}

uint64_t
rq_block_offset(const RqOti *o, const RqLayout *lay, uint32_t sbn)
{
	uint64_t	symbols;

	if (sbn < lay->ZL)
		symbols = (uint64_t) sbn * lay->KL;
	else
		symbols = (uint64_t) lay->ZL * lay->KL + (uint64_t) (sbn - lay->ZL) * lay->KS;
	return symbols * o->T;
}

/* Sub-symbol units (of Al bytes) before sub-block j, and in it. */
static uint64_t
units_before(const RqLayout *lay, uint32_t j)
{
	if (j < lay->NL)
		return (uint64_t) j * lay->TL;
	return (uint64_t) lay->NL * lay->TL + (uint64_t) (j - lay->NL) * lay->TS;
}

static uint32_t
units_of(const RqLayout *lay, uint32_t j)
{
	return j < lay->NL ? lay->TL : lay->TS;
}

/* Copy len bytes of the object from offset off into out, zeros beyond F. */
static void
read_object(const RqOti *o, const uint8_t *data, uint64_t off, size_t len, uint8_t *out)
{
	size_t		have = off >= o->F ? 0 : (size_t) (o->F - off < len ? o->F - off : len);

	if (have > 0)
		memcpy(out, data + off, have);
	memset(out + have, 0, len - have);
}

static void
write_object(const RqOti *o, uint8_t *data, uint64_t off, size_t len, const uint8_t *in)
{
	size_t		have = off >= o->F ? 0 : (size_t) (o->F - off < len ? o->F - off : len);

	if (have > 0)
		memcpy(data + off, in, have);
}

uint8_t *
rq_source_slot(const RqOti *o, const RqLayout *lay, uint8_t *data, uint32_t sbn, uint32_t i)
{
	uint64_t	off = rq_block_offset(o, lay, sbn) + (uint64_t) i * o->T;

	if (o->N == 1 && off + o->T <= o->F)
		return data + off;
	return NULL;
}

const uint8_t *
rq_source_symbol(const RqOti *o, const RqLayout *lay, const uint8_t *data,
				 uint32_t sbn, uint32_t i, uint8_t *scratch)
{
	uint64_t	base = rq_block_offset(o, lay, sbn);
	uint32_t	K = rq_block_k(lay, sbn);
	const uint8_t *slot = rq_source_slot(o, lay, (uint8_t *) data, sbn, i);

	if (slot != NULL)
		return slot;
	for (uint32_t j = 0; j < o->N; j++)
	{
		size_t		len = (size_t) units_of(lay, j) * o->Al;
		uint64_t	off = base + units_before(lay, j) * o->Al * K + (uint64_t) i * len;

		read_object(o, data, off, len, scratch + units_before(lay, j) * o->Al);
	}
	return scratch;
}

void
rq_put_source_symbol(const RqOti *o, const RqLayout *lay, uint8_t *data,
					 uint32_t sbn, uint32_t i, const uint8_t *sym)
{
	uint64_t	base = rq_block_offset(o, lay, sbn);
	uint32_t	K = rq_block_k(lay, sbn);

	for (uint32_t j = 0; j < o->N; j++)
	{
		size_t		len = (size_t) units_of(lay, j) * o->Al;
		uint64_t	off = base + units_before(lay, j) * o->Al * K + (uint64_t) i * len;

		write_object(o, data, off, len, sym + units_before(lay, j) * o->Al);
	}
}
