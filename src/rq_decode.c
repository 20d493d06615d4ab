/*
 * rq_decode.c
 *	  Decoding one source block from received encoding symbols (RFC 6330
 *	  section 5.4).
 *
 * Repeated ESIs are ignored (the first copy counts).  When every source
 * symbol arrived, decoding is a copy.  Otherwise the decoder solves for the
 * intermediate symbols from the padding rows (ISIs K..K'-1, known zeros),
 * the source symbols at hand and enough repair symbols, then computes each
 * missing source symbol as an encoding symbol.
 *
 * How many repair symbols: first the fewest that can work plus a few
 * (RQ_EXTRA_FIRST; with K received symbols the RFC's failure probability is
 * below 1e-2, with K + 2 below 1e-6 for the systematic code, and every
 * extra symbol is cheap next to the dense system a redundant row enlarges);
 * only if that is singular, all of them.  So giving the decoder many more
 * symbols than needed costs little.
 */
#include "rq.h"

#include <stdlib.h>
#include <string.h>

#define RQ_EXTRA_FIRST 3

typedef struct Received
{
	uint32_t	esi;
	uint32_t	pos;			/* index into the caller's arrays */
} Received;

static int
cmp_received(const void *a, const void *b)
{
	const Received *x = a;
	const Received *y = b;

	if (x->esi != y->esi)
		return x->esi < y->esi ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Distinct repair symbols, sorted by ESI (first copy of each), into rep;
 * source symbols into src_pos (UINT32_MAX: missing).  Returns the count of
 * distinct repair symbols.
 */
static uint32_t
sort_received(const RqParams *p, uint32_t n, const uint32_t *esi, uint32_t *src_pos,
			  Received *rep, uint32_t *nsrc)
{
	uint32_t	nrep = 0,
				out = 0;

	*nsrc = 0;
	for (uint32_t i = 0; i < p->K; i++)
		src_pos[i] = UINT32_MAX;
	for (uint32_t j = 0; j < n; j++)
	{
		if (esi[j] < p->K)
		{
			if (src_pos[esi[j]] == UINT32_MAX)
			{
				src_pos[esi[j]] = j;
				(*nsrc)++;
			}
		}
		else
		{
			rep[nrep].esi = esi[j];
			rep[nrep++].pos = j;
		}
	}
	qsort(rep, nrep, sizeof(Received), cmp_received);
	for (uint32_t j = 0; j < nrep; j++)
		if (out == 0 || rep[j].esi != rep[out - 1].esi)
			rep[out++] = rep[j];
	return out;
}

/* Solve with the padding, every source symbol at hand and nuse repair symbols. */
static RqStatus
solve_with(RqEnv *env, const RqParams *p, size_t T, const uint32_t *src_pos,
		   const Received *rep, uint32_t nuse, const uint8_t *const *sym,
		   uint32_t *isi, const uint8_t **rows, uint8_t *C)
{
	uint32_t	n = 0;

	for (uint32_t i = 0; i < p->K; i++)
		if (src_pos[i] != UINT32_MAX)
		{
			isi[n] = i;
			rows[n++] = sym[src_pos[i]];
		}
	for (uint32_t i = p->K; i < p->Kp; i++)
	{
		isi[n] = i;
		rows[n++] = NULL;
	}
	for (uint32_t j = 0; j < nuse; j++)
	{
		isi[n] = rq_isi(p, rep[j].esi);
		rows[n++] = sym[rep[j].pos];
	}
	return rq_solve(env, p, T, n, isi, rows, C, NULL);
}

RqStatus
rq_decode_block(RqEnv *env, const RqParams *p, size_t T, uint32_t n,
				const uint32_t *esi, const uint8_t *const *sym, uint8_t *const *out)
{
	size_t		pos_size = sizeof(uint32_t) * p->K;
	size_t		rep_size = sizeof(Received) * (n + 1);
	size_t		rows_n = (size_t) p->Kp + n;
	size_t		isi_size = sizeof(uint32_t) * rows_n;
	size_t		row_size = sizeof(uint8_t *) * rows_n;
	size_t		c_size = (size_t) p->L * T;
	uint32_t   *src_pos = rq_mem_alloc(env, pos_size);
	Received   *rep = rq_mem_alloc(env, rep_size);
	uint32_t   *isi = NULL;
	const uint8_t **rows = NULL;
	uint8_t    *C = NULL;
	uint32_t	nsrc,
				nrep,
				need;
	RqStatus	st = RQ_OK;

	rq_gf_init();
	if (src_pos == NULL || rep == NULL)
	{
		st = RQ_ALLOC_FAILURE(env);
		goto done;
	}
	nrep = sort_received(p, n, esi, src_pos, rep, &nsrc);
	if (nsrc + nrep < p->K)
	{
		st = RQ_ERR_TOO_FEW;
		goto done;
	}
	if (nsrc < p->K)
	{
		need = p->K - nsrc;
		isi = rq_mem_alloc(env, isi_size);
		rows = rq_mem_alloc(env, row_size);
		C = rq_mem_alloc(env, c_size);
		if (isi == NULL || rows == NULL || C == NULL)
		{
			st = RQ_ALLOC_FAILURE(env);
			goto done;
		}
		st = solve_with(env, p, T, src_pos, rep,
						need + (nrep - need < RQ_EXTRA_FIRST ? nrep - need : RQ_EXTRA_FIRST),
						sym, isi, rows, C);
		if (st == RQ_ERR_SINGULAR && nrep > need + RQ_EXTRA_FIRST)
			st = solve_with(env, p, T, src_pos, rep, nrep, sym, isi, rows, C);
		if (st != RQ_OK)
			goto done;
	}
	for (uint32_t i = 0; i < p->K; i++)
	{
		if (src_pos[i] != UINT32_MAX)
			memcpy(out[i], sym[src_pos[i]], T);
		else
			rq_encoding_symbol(p, T, C, i, out[i]);
	}
done:
	rq_mem_free(env, C, c_size);
	rq_mem_free(env, rows, row_size);
	rq_mem_free(env, isi, isi_size);
	rq_mem_free(env, rep, rep_size);
	rq_mem_free(env, src_pos, pos_size);
	return st;
}
