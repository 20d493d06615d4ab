/*
 * rq_encode.c
 *	  Encoding one source block (RFC 6330 section 5.3).
 *
 * The intermediate symbols C are the solution of the K' source rows (ISIs
 * 0..K'-1, the K source symbols then K' - K zero padding symbols) with the
 * LDPC and HDPC constraints: rq_solve does it, reading the source symbols
 * in place.  An encoding symbol of ISI X is then the XOR of the d + d1
 * intermediate symbols Tuple[K', X] names; source symbols are their own
 * encoding symbols (the code is systematic), repair symbols have ESIs from
 * K on and ISIs ESI + K' - K.
 */
#include "rq.h"

#include <string.h>

RqStatus
rq_encode_intermediate(RqEnv *env, const RqParams *p, size_t T,
					   const uint8_t *const *src, uint8_t *C)
{
	size_t		isi_size = sizeof(uint32_t) * p->Kp;
	size_t		sym_size = sizeof(uint8_t *) * p->Kp;
	uint32_t   *isi = rq_mem_alloc(env, isi_size);
	const uint8_t **sym = rq_mem_alloc(env, sym_size);
	RqStatus	st;

	if (isi == NULL || sym == NULL)
	{
		st = RQ_ALLOC_FAILURE(env);
		rq_mem_free(env, sym, sym_size);
		rq_mem_free(env, isi, isi_size);
		return st;
	}
	for (uint32_t i = 0; i < p->Kp; i++)
	{
		isi[i] = i;
		sym[i] = i < p->K ? src[i] : NULL;
	}
	st = rq_solve(env, p, T, p->Kp, isi, sym, C, NULL);
	rq_mem_free(env, sym, sym_size);
	rq_mem_free(env, isi, isi_size);
	return st;
}

void
rq_encoding_symbol(const RqParams *p, size_t T, const uint8_t *C, uint32_t isi, uint8_t *out)
{
	uint32_t	cols[RQ_MAX_ROW_COLS];
	const uint8_t *srcs[RQ_MAX_ROW_COLS];
	int			n = rq_lt_cols(p, isi, cols);

	for (int j = 0; j < n; j++)
		srcs[j] = C + (size_t) cols[j] * T;
	rq_xor_set(out, srcs, n, T);
}
