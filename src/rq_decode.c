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

/*
 * The rows of the system: every source symbol at hand, the padding, nuse
 * repair symbols.  Returns the count.
 */
static uint32_t
rows_with(const RqParams *p, const uint32_t *src_pos, const Received *rep, uint32_t nuse,
		  const uint8_t *const *sym, uint32_t *isi, const uint8_t **rows)
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
	return n;
}

/*
 * The missing source symbols (ISIs miss[0..nmiss-1]) into out[], from the
 * source symbols at hand and nuse repair symbols: by solving over the
 * symbols (C, L * T bytes) or, when cheaper, densely (rq_dense.c).
 */
static RqStatus
solve_with(RqEnv *env, const RqParams *p, size_t T, const uint32_t *src_pos,
		   const Received *rep, uint32_t nuse, const uint8_t *const *sym,
		   uint32_t *isi, const uint8_t **rows, uint8_t *C,
		   uint32_t nmiss, const uint32_t *miss, uint8_t *const *out)
{
	uint32_t	n = rows_with(p, src_pos, rep, nuse, sym, isi, rows);
	RqStatus	st;

	if (C == NULL)
		return rq_dense_symbols(env, p, T, n, isi, rows, nmiss, miss, out);
	st = rq_solve(env, p, T, n, isi, rows, C, NULL);
	for (uint32_t t = 0; st == RQ_OK && t < nmiss; t++)
		rq_encoding_symbol(p, T, C, miss[t], out[t]);
	return st;
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
	size_t		miss_size = (sizeof(uint32_t) + sizeof(uint8_t *)) * p->K;
	size_t		c_size = (size_t) p->L * T;
	uint32_t   *src_pos = rq_mem_alloc(env, pos_size);
	Received   *rep = rq_mem_alloc(env, rep_size);
	uint32_t   *isi = NULL;
	const uint8_t **rows = NULL;
	uint8_t    *C = NULL;
	void	   *miss_buf = NULL;
	uint32_t   *miss = NULL;
	uint8_t   **miss_out = NULL;
	uint32_t	nsrc,
				nrep,
				need,
				first;
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
	for (uint32_t i = 0; i < p->K; i++)
		if (src_pos[i] != UINT32_MAX)
			memcpy(out[i], sym[src_pos[i]], T);
	if (nsrc == p->K)
		goto done;

	need = p->K - nsrc;
	first = need + (nrep - need < RQ_EXTRA_FIRST ? nrep - need : RQ_EXTRA_FIRST);
	isi = rq_mem_alloc(env, isi_size);
	rows = rq_mem_alloc(env, row_size);
	miss_buf = rq_mem_alloc(env, miss_size);
	if (!rq_dense_cheaper(p, T, nsrc + first, need))
		C = rq_mem_alloc(env, c_size);
	if (isi == NULL || rows == NULL || miss_buf == NULL ||
		(C == NULL && !rq_dense_cheaper(p, T, nsrc + first, need)))
	{
		st = RQ_ALLOC_FAILURE(env);
		goto done;
	}
	miss_out = miss_buf;
	miss = (uint32_t *) (miss_out + p->K);
	for (uint32_t i = 0, m = 0; i < p->K; i++)
		if (src_pos[i] == UINT32_MAX)
		{
			miss[m] = i;
			miss_out[m++] = out[i];
		}
	st = solve_with(env, p, T, src_pos, rep, first, sym, isi, rows, C, need, miss, miss_out);
	if (st == RQ_ERR_SINGULAR && nrep > first)
	{
		if (C == NULL && !rq_dense_cheaper(p, T, nsrc + nrep, need))
		{
			C = rq_mem_alloc(env, c_size);
			if (C == NULL)
			{
				st = RQ_ALLOC_FAILURE(env);
				goto done;
			}
		}
		st = solve_with(env, p, T, src_pos, rep, nrep, sym, isi, rows, C, need, miss, miss_out);
	}
done:
	rq_mem_free(env, C, c_size);
	rq_mem_free(env, miss_buf, miss_size);
	rq_mem_free(env, rows, row_size);
	rq_mem_free(env, isi, isi_size);
	rq_mem_free(env, rep, rep_size);
	rq_mem_free(env, src_pos, pos_size);
	return st;
}
