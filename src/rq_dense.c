/*
 * rq_dense.c
 *	  Small blocks as dense codes: every encoding symbol is a fixed GF(256)
 *	  combination of the symbols the solver is given.
 *
 * Solving the constraint system over "symbols" that are the w-byte unit
 * vectors e_0 .. e_(w-1) (one per row with a symbol) yields, as the
 * intermediate symbols, the coefficients of each intermediate symbol over
 * the inputs; an encoding symbol of those is then the coefficient row of
 * that encoding symbol.  Applying m such rows to the real T-byte symbols is
 * ISA-L's ec_encode_data (rq_dot_products), the same kernel Reed-Solomon
 * uses, at m multiply-adds per input byte.  That beats solving over the
 * T-byte symbols (about 16 symbol operations per intermediate symbol) when
 * the block is small next to T or few symbols are wanted: 2 repair symbols
 * of a 20-symbol block, or 2 lost source symbols out of 20.  The solve is
 * the same code (rq_solve), so the results are the same bytes.
 */
#include "rq.h"

#include <string.h>

bool
rq_dense_cheaper(const RqParams *p, size_t T, uint32_t width, uint32_t outputs)
{
	double		sparse = 16.0 * p->L * T + 7.0 * outputs * T;
	double		dense = 16.0 * p->L * width + 0.5 * outputs * (double) width * T;

	return outputs > 0 && width <= 4096 && dense < sparse;
}

RqStatus
rq_dense_coefficients(RqEnv *env, const RqParams *p, uint32_t n, const uint32_t *isi,
					  const uint8_t *const *sym, uint32_t m, const uint32_t *target,
					  uint8_t *coef, uint32_t *w_out)
{
	uint32_t	w = 0;
	size_t		unit_size,
				rows_size = sizeof(uint8_t *) * (n + 1),
				c_size;
	uint8_t    *unit;
	const uint8_t **rows;
	uint8_t    *C;
	RqStatus	st;

	for (uint32_t j = 0; j < n; j++)
		w += sym[j] != NULL;
	*w_out = w;
	unit_size = (size_t) w * w + 1;
	c_size = (size_t) p->L * w + 1;
	unit = rq_mem_alloc0(env, unit_size);
	rows = rq_mem_alloc(env, rows_size);
	C = rq_mem_alloc(env, c_size);
	if (unit == NULL || rows == NULL || C == NULL)
		st = RQ_ALLOC_FAILURE(env);
	else
	{
		for (uint32_t j = 0, i = 0; j < n; j++)
		{
			rows[j] = NULL;
			if (sym[j] != NULL)
			{
				unit[(size_t) i * w + i] = 1;
				rows[j] = unit + (size_t) i++ * w;
			}
		}
		st = rq_solve(env, p, w, n, isi, rows, C, NULL);
		for (uint32_t t = 0; st == RQ_OK && t < m; t++)
			rq_encoding_symbol(p, w, C, target[t], coef + (size_t) t * w);
	}
	rq_mem_free(env, C, c_size);
	rq_mem_free(env, rows, rows_size);
	rq_mem_free(env, unit, unit_size);
	return st;
}

/* Outputs per ec_encode_data call: bounds its tables and the time between interrupt checks. */
#define DENSE_BATCH 32

RqStatus
rq_dense_symbols(RqEnv *env, const RqParams *p, size_t T, uint32_t n, const uint32_t *isi,
				 const uint8_t *const *sym, uint32_t m, const uint32_t *target,
				 uint8_t *const *out)
{
	uint32_t	w = 0;
	size_t		coef_size,
				in_size = sizeof(uint8_t *) * (n + 1),
				tables_size;
	uint8_t    *coef;
	const uint8_t **in;
	uint8_t    *tables;
	RqStatus	st;

	for (uint32_t j = 0; j < n; j++)
		w += sym[j] != NULL;
	coef_size = (size_t) m * w + 1;
	tables_size = (size_t) 32 * w * DENSE_BATCH + 1;
	coef = rq_mem_alloc(env, coef_size);
	in = rq_mem_alloc(env, in_size);
	tables = rq_mem_alloc(env, tables_size);
	if (coef == NULL || in == NULL || tables == NULL)
		st = RQ_ALLOC_FAILURE(env);
	else
		st = rq_dense_coefficients(env, p, n, isi, sym, m, target, coef, &w);
	if (st == RQ_OK)
	{
		for (uint32_t j = 0, i = 0; j < n; j++)
			if (sym[j] != NULL)
				in[i++] = sym[j];
		for (uint32_t t = 0; t < m; t += DENSE_BATCH)
		{
			uint32_t	rows = m - t < DENSE_BATCH ? m - t : DENSE_BATCH;

			rq_dot_products(T, (int) w, (int) rows, coef + (size_t) t * w, in, out + t, tables);
			if (env->check != NULL)
				env->check(env->arg);
		}
	}
	rq_mem_free(env, tables, tables_size);
	rq_mem_free(env, in, in_size);
	rq_mem_free(env, coef, coef_size);
	return st;
}
