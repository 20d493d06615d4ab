/*
 * rq_solve.c
 *	  Inactivation decoding (RFC 6330 section 5.4.2): the L intermediate
 *	  symbols from the LDPC and HDPC constraints and any sufficient set of
 *	  LT rows.  The encoder (K' source rows) and the decoder both use it.
 *
 * The constraint matrix A has S binary LDPC rows, H dense GF(256) HDPC rows
 * and n binary LT rows over L columns.  We never store it densely.
 *
 * Phase 1 (the RFC's first phase, on the sparse binary rows only: HDPC rows
 * are never chosen, see the errata of cberner/raptorq's RFC6330_ERRATA.md,
 * points 2 and 4): repeatedly choose a row with the fewest nonzeros r among
 * the columns still undecided ("V"), preferring for r = 2 a row in the
 * largest component of the graph whose edges are the r = 2 rows, and for
 * r >= 3 a row of small original degree; one of its V columns becomes that
 * row's pivot, the other r - 1 are inactivated.  The last P columns start
 * inactive.  Eliminating a pivot from the other rows never changes which V
 * columns a row has (the pivot row has no other V column by then), so a
 * row's V-degree is just a count, kept in buckets, decremented through a
 * column-to-rows index as columns leave V.  Phase 1 therefore yields, for
 * the pivot rows r_1..r_i and columns c_1..c_i, an original submatrix T
 * that is lower triangular with unit diagonal, and u inactive columns.
 *
 * With Y = T^-1 D_p (pass 1, sparse), what remains is a dense u x u system
 * for the inactive symbols C_u, one row per non-pivot binary row q,
 * (U_q + R_q T^-1 U_p) C_u = D_q + R_q Y, and one per HDPC row h,
 * (G_u + G_p T^-1 U_p + I_h) C_u = G_p Y.  The binary left-hand sides are
 * bit vectors: each pivot row's "U-state" T^-1 U_p is computed once, in
 * pivot order.  The HDPC rows use the RFC's factorisation G_HDPC = MT GAMMA:
 * G_p x = MT z with z_m = alpha z_(m-1) + x_m, a Horner pass over the K' + S
 * columns that costs one multiply and three XORs per column instead of H
 * multiply-adds, for the U-states and the symbols alike.  Gauss-Jordan
 * elimination over GF(256) solves the dense system (binary rows are chosen
 * as pivots first, so most row operations are XORs).  Then pass 2 rebuilds
 * the pivot symbols from the original rows: C[c_k] = D[r_k] + (the other
 * columns of r_k), in pivot order, every term already final.  Phases 3-5 of
 * the RFC come to the same two sparse passes.
 *
 * Symbol cost: about 2 nnz(T) + nnz(U_p) XORs, 4 (K' + S) for the HDPC rows
 * and u^2/2 for the dense system; received symbols are read in place and
 * never copied.  Memory besides C (L * T): the dense right-hand sides
 * ((u + extra rows) * T), a sparse copy of the binary rows (about 8 bytes
 * per nonzero, twice), the U-states (i * u / 8 bytes) and the dense matrix
 * ((u + extra) * u bytes).  All through env, so bounded by env->budget.
 */
#include "rq.h"

#include <string.h>

#define NIL UINT32_MAX
#define CHECK_EVERY 1024



enum
{
	COL_V = 0,
	COL_PIVOT = 1,
	COL_INACTIVE = 2
};

typedef struct Solver
{
	RqEnv	   *env;
	const RqParams *p;
	size_t		T;
	uint32_t	n;				/* LT rows */
	const uint8_t *const *sym;
	uint32_t	M;				/* binary rows: S LDPC, then n LT */
	uint32_t   *rstart;			/* CSR of the binary rows, M + 1 */
	uint32_t   *rcols;
	uint32_t   *cstart;			/* rows of each column < W, W + 1 */
	uint32_t   *crows;
	uint8_t    *cstate;			/* L: COL_* */
	uint32_t   *cidx;			/* L: pivot position or dense column */
	uint32_t   *deg;			/* M: V-degree */
	uint8_t    *rdone;			/* M: chosen as a pivot row */
	uint32_t   *bnext,
			   *bprev,
			   *bhead;			/* degree buckets */
	uint32_t	maxdeg;
	uint32_t	mindeg;			/* no non-empty bucket in 1..mindeg-1 */
	uint32_t   *piv_row;		/* pivot order */
	uint32_t   *piv_col;
	uint32_t	npiv;
	uint32_t	nv;				/* columns < W still in V */
	uint32_t	u;				/* inactive columns */
	uint32_t   *uf_parent;		/* W: union-find scratch for r = 2 */
	uint32_t   *uf_size;
	uint32_t   *pair;			/* 2 * M: the V columns of each r = 2 row */
	uint8_t    *pair_ok;		/* M: pair[] is current (reset as degrees change) */
	size_t		words;			/* 64-bit words of a U-state */
	uint64_t   *ustate;			/* npiv * words */
	uint32_t	ticks;
} Solver;

/* bytes allocated through env, remembered so everything is freed */
typedef struct Allocs
{
	void	   *ptr[40];
	size_t		size[40];
	int			n;
} Allocs;

static void *
take(Solver *s, Allocs *a, size_t size)
{
	void	   *p = rq_mem_alloc0(s->env, size);

	if (p != NULL && a->n < 40)
	{
		a->ptr[a->n] = p;
		a->size[a->n++] = size;
	}
	return p;
}

static void
give_back(Solver *s, Allocs *a)
{
	while (a->n > 0)
	{
		a->n--;
		rq_mem_free(s->env, a->ptr[a->n], a->size[a->n]);
	}
}

static inline void
tick(Solver *s)
{
	if (++s->ticks % CHECK_EVERY == 0 && s->env->check != NULL)
		s->env->check(s->env->arg);
}

static inline const uint8_t *
row_symbol(const Solver *s, uint32_t r)
{
	return r < s->p->S ? NULL : s->sym[r - s->p->S];
}

/* ---- the sparse binary rows ------------------------------------------- */

/*
 * LDPC rows (5.3.3.3): source column i < B is in rows b, b + a, b + 2a
 * (mod S) with a = 1 + floor(i / S), b = i mod S; row i also has column
 * B + i (I_S) and the PI columns W + (i mod P), W + ((i + 1) mod P).
 */
static void
ldpc_rows(const RqParams *p, uint32_t *count, uint32_t *start, uint32_t *cols)
{
	uint32_t   *fill = count;	/* reused as the fill position */

	for (uint32_t i = 0; i < p->B; i++)
	{
		uint32_t	a = 1 + i / p->S;
		uint32_t	b = i % p->S;
		int			hits = a % p->S == 0 ? 1 : 3;

		for (int h = 0; h < hits; h++)
		{
			if (cols != NULL)
				cols[start[b] + fill[b]] = i;
			fill[b]++;
			b = (b + a) % p->S;
		}
	}
	for (uint32_t i = 0; i < p->S; i++)
	{
		if (cols != NULL)
		{
			cols[start[i] + fill[i]] = p->B + i;
			cols[start[i] + fill[i] + 1] = p->W + i % p->P;
			cols[start[i] + fill[i] + 2] = p->W + (i + 1) % p->P;
		}
		fill[i] += 3;
	}
}

static RqStatus
build_rows(Solver *s, Allocs *a, const uint32_t *isi)
{
	const RqParams *p = s->p;
	uint32_t   *count;
	uint32_t	nnz = 0;
	uint32_t	cols[RQ_MAX_ROW_COLS];

	s->rstart = take(s, a, sizeof(uint32_t) * (s->M + 1));
	count = take(s, a, sizeof(uint32_t) * p->S);
	if (s->rstart == NULL || count == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	ldpc_rows(p, count, NULL, NULL);
	for (uint32_t r = 0; r < p->S; r++)
	{
		s->rstart[r] = nnz;
		nnz += count[r];
	}
	for (uint32_t t = 0; t < s->n; t++)
	{
		s->rstart[p->S + t] = nnz;
		nnz += rq_lt_cols(p, isi[t], cols);
		tick(s);
	}
	s->rstart[s->M] = nnz;
	s->rcols = take(s, a, sizeof(uint32_t) * nnz);
	if (s->rcols == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	memset(count, 0, sizeof(uint32_t) * p->S);
	ldpc_rows(p, count, s->rstart, s->rcols);
	for (uint32_t t = 0; t < s->n; t++)
	{
		rq_lt_cols(p, isi[t], s->rcols + s->rstart[p->S + t]);
		tick(s);
	}
	return RQ_OK;
}

static RqStatus
build_columns(Solver *s, Allocs *a)
{
	const RqParams *p = s->p;
	uint32_t	nnz = 0;

	s->cstart = take(s, a, sizeof(uint32_t) * (p->W + 1));
	if (s->cstart == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	for (uint32_t j = 0; j < s->rstart[s->M]; j++)
		if (s->rcols[j] < p->W)
		{
			s->cstart[s->rcols[j] + 1]++;
			nnz++;
		}
	for (uint32_t c = 0; c < p->W; c++)
		s->cstart[c + 1] += s->cstart[c];
	s->crows = take(s, a, sizeof(uint32_t) * (nnz + 1));
	s->deg = take(s, a, sizeof(uint32_t) * s->M);
	if (s->crows == NULL || s->deg == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	for (uint32_t r = 0; r < s->M; r++)
		for (uint32_t j = s->rstart[r]; j < s->rstart[r + 1]; j++)
		{
			uint32_t	c = s->rcols[j];

			if (c < p->W)
			{
				/* cstart[c] runs ahead while filling; fixed below */
				s->crows[s->cstart[c]++] = r;
				s->deg[r]++;
			}
		}
	for (uint32_t c = p->W; c > 0; c--)
		s->cstart[c] = s->cstart[c - 1];
	s->cstart[0] = 0;
	return RQ_OK;
}

/* ---- phase 1: degree buckets ---------------------------------------------- */

static void
bucket_insert(Solver *s, uint32_t r)
{
	uint32_t	d = s->deg[r];

	s->bprev[r] = NIL;
	s->bnext[r] = s->bhead[d];
	if (s->bhead[d] != NIL)
		s->bprev[s->bhead[d]] = r;
	s->bhead[d] = r;
}

static void
bucket_remove(Solver *s, uint32_t r)
{
	uint32_t	d = s->deg[r];

	if (s->bprev[r] != NIL)
		s->bnext[s->bprev[r]] = s->bnext[r];
	else
		s->bhead[d] = s->bnext[r];
	if (s->bnext[r] != NIL)
		s->bprev[s->bnext[r]] = s->bprev[r];
}

/* Column c leaves V: every undecided row that has it loses a degree. */
static void
column_leaves_v(Solver *s, uint32_t c, uint8_t state)
{
	s->cstate[c] = state;
	s->nv--;
	if (state == COL_INACTIVE)
		s->u++;
	for (uint32_t j = s->cstart[c]; j < s->cstart[c + 1]; j++)
	{
		uint32_t	r = s->crows[j];

		if (s->rdone[r])
			continue;
		bucket_remove(s, r);
		s->deg[r]--;
		s->pair_ok[r] = 0;
		bucket_insert(s, r);
		if (s->deg[r] >= 1 && s->deg[r] < s->mindeg)
			s->mindeg = s->deg[r];
	}
}

static uint32_t
uf_find(uint32_t *parent, uint32_t x)
{
	while (parent[x] != x)
	{
		parent[x] = parent[parent[x]];
		x = parent[x];
	}
	return x;
}

/* The two V columns of an r = 2 row. */
static void
v_pair(const Solver *s, uint32_t r, uint32_t *c1, uint32_t *c2)
{
	int			k = 0;

	for (uint32_t j = s->rstart[r]; j < s->rstart[r + 1] && k < 2; j++)
	{
		uint32_t	c = s->rcols[j];

		if (c < s->p->W && s->cstate[c] == COL_V)
			*(k++ == 0 ? c1 : c2) = c;
	}
}

/*
 * An r = 2 row in the largest connected component of the graph whose
 * vertices are V columns and whose edges are the r = 2 rows (union-find
 * over the bucket; each row's two V columns are found once per degree).
 */
static uint32_t
choose_in_largest_component(Solver *s)
{
	uint32_t	best_root = NIL;
	uint32_t	best_size = 0;

	for (uint32_t r = s->bhead[2]; r != NIL; r = s->bnext[r])
	{
		if (!s->pair_ok[r])
		{
			v_pair(s, r, &s->pair[2 * r], &s->pair[2 * r + 1]);
			s->pair_ok[r] = 1;
		}
		s->uf_parent[s->pair[2 * r]] = s->pair[2 * r];
		s->uf_parent[s->pair[2 * r + 1]] = s->pair[2 * r + 1];
		s->uf_size[s->pair[2 * r]] = s->uf_size[s->pair[2 * r + 1]] = 1;
	}
	for (uint32_t r = s->bhead[2]; r != NIL; r = s->bnext[r])
	{
		uint32_t	x = uf_find(s->uf_parent, s->pair[2 * r]);
		uint32_t	y = uf_find(s->uf_parent, s->pair[2 * r + 1]);

		if (x != y)
		{
			if (s->uf_size[x] < s->uf_size[y])
			{
				uint32_t	t = x;

				x = y;
				y = t;
			}
			s->uf_parent[y] = x;
			s->uf_size[x] += s->uf_size[y];
		}
		if (s->uf_size[x] > best_size)
		{
			best_size = s->uf_size[x];
			best_root = x;
		}
		tick(s);
	}
	for (uint32_t r = s->bhead[2]; r != NIL; r = s->bnext[r])
		if (uf_find(s->uf_parent, s->pair[2 * r]) == best_root)
			return r;
	return s->bhead[2];
}

/* Of the first few rows of bucket r, the one of least original degree. */
static uint32_t
choose_low_original_degree(Solver *s, uint32_t d)
{
	uint32_t	best = s->bhead[d];
	uint32_t	best_len = UINT32_MAX;
	int			looked = 0;

	for (uint32_t r = s->bhead[d]; r != NIL && looked < 64; r = s->bnext[r], looked++)
	{
		uint32_t	len = s->rstart[r + 1] - s->rstart[r];

		if (len < best_len)
		{
			best_len = len;
			best = r;
		}
	}
	return best;
}

static uint32_t
choose_row(Solver *s)
{
	uint32_t	d = s->mindeg;

	while (d <= s->maxdeg && s->bhead[d] == NIL)
		d++;
	if (d > s->maxdeg)
		return NIL;
	s->mindeg = d;
	if (d == 1)
		return s->bhead[1];
	if (d == 2)
		return choose_in_largest_component(s);
	return choose_low_original_degree(s, d);
}

static void
pivot_on(Solver *s, uint32_t r)
{
	uint32_t	pivot = NIL;

	bucket_remove(s, r);
	s->rdone[r] = 1;
	for (uint32_t j = s->rstart[r]; j < s->rstart[r + 1]; j++)
	{
		uint32_t	c = s->rcols[j];

		if (c >= s->p->W || s->cstate[c] != COL_V)
			continue;
		if (pivot == NIL)
			pivot = c;
		else
			column_leaves_v(s, c, COL_INACTIVE);
	}
	column_leaves_v(s, pivot, COL_PIVOT);
	s->piv_row[s->npiv] = r;
	s->piv_col[s->npiv] = pivot;
	s->npiv++;
}

static RqStatus
phase1(Solver *s, Allocs *a)
{
	const RqParams *p = s->p;

	s->cstate = take(s, a, p->L);
	s->cidx = take(s, a, sizeof(uint32_t) * p->L);
	s->rdone = take(s, a, s->M);
	s->bnext = take(s, a, sizeof(uint32_t) * s->M);
	s->bprev = take(s, a, sizeof(uint32_t) * s->M);
	s->piv_row = take(s, a, sizeof(uint32_t) * p->L);
	s->piv_col = take(s, a, sizeof(uint32_t) * p->L);
	s->uf_parent = take(s, a, sizeof(uint32_t) * p->W);
	s->uf_size = take(s, a, sizeof(uint32_t) * p->W);
	s->pair = take(s, a, sizeof(uint32_t) * 2 * s->M);
	s->pair_ok = take(s, a, s->M);
	s->maxdeg = 0;
	for (uint32_t r = 0; r < s->M; r++)
		if (s->deg[r] > s->maxdeg)
			s->maxdeg = s->deg[r];
	s->bhead = take(s, a, sizeof(uint32_t) * (s->maxdeg + 1));
	if (s->cstate == NULL || s->cidx == NULL || s->rdone == NULL || s->bnext == NULL ||
		s->bprev == NULL || s->piv_row == NULL || s->piv_col == NULL ||
		s->uf_parent == NULL || s->uf_size == NULL || s->pair == NULL || s->pair_ok == NULL ||
		s->bhead == NULL)
		return RQ_ALLOC_FAILURE(s->env);

	for (uint32_t d = 0; d <= s->maxdeg; d++)
		s->bhead[d] = NIL;
	for (uint32_t r = 0; r < s->M; r++)
		bucket_insert(s, r);
	for (uint32_t c = p->W; c < p->L; c++)
		s->cstate[c] = COL_INACTIVE;
	s->u = p->P;
	s->nv = p->W;
	s->mindeg = 1;
	while (s->nv > 0)
	{
		uint32_t	r = choose_row(s);

		if (r == NIL)
		{
			/* no row reaches the V columns left: inactivate them all */
			for (uint32_t c = 0; c < p->W; c++)
				if (s->cstate[c] == COL_V)
				{
					s->cstate[c] = COL_INACTIVE;
					s->u++;
				}
			s->nv = 0;
			break;
		}
		pivot_on(s, r);
		tick(s);
	}
	for (uint32_t k = 0; k < s->npiv; k++)
		s->cidx[s->piv_col[k]] = k;
	for (uint32_t c = 0, j = 0; c < p->L; c++)
		if (s->cstate[c] == COL_INACTIVE)
			s->cidx[c] = j++;
	return RQ_OK;
}

/* ---- the dense system -------------------------------------------------------- */

/* T^-1 U_p for every pivot row, in pivot order. */
static RqStatus
pivot_ustates(Solver *s, Allocs *a)
{
	s->words = (s->u + 63) / 64;
	s->ustate = take(s, a, sizeof(uint64_t) * s->words * (s->npiv + 1));
	if (s->ustate == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	for (uint32_t k = 0; k < s->npiv; k++)
	{
		uint32_t	r = s->piv_row[k];
		uint64_t   *dst = s->ustate + (size_t) k * s->words;

		for (uint32_t j = s->rstart[r]; j < s->rstart[r + 1]; j++)
		{
			uint32_t	c = s->rcols[j];

			if (s->cstate[c] == COL_INACTIVE)
				dst[s->cidx[c] / 64] ^= UINT64_C(1) << (s->cidx[c] % 64);
			else if (c != s->piv_col[k])
			{
				const uint64_t *src = s->ustate + (size_t) s->cidx[c] * s->words;

				for (size_t w = 0; w < s->words; w++)
					dst[w] ^= src[w];
			}
		}
		tick(s);
	}
	return RQ_OK;
}

/* byte b spread over 8 bytes of 0 or 1, bit i to byte i */
static uint64_t spread[256];

static void
spread_init(void)
{
	if (spread[255] != 0)
		return;
	for (int b = 0; b < 256; b++)
	{
		uint64_t	v = 0;

		for (int i = 0; i < 8; i++)
			if (b & (1 << i))
				v |= UINT64_C(1) << (8 * i);
		spread[b] = v;
	}
}

/* bytes[i] ^= bit i of bits, for i < u (bytes has room for u rounded up to 8) */
static void
xor_bits_as_bytes(uint8_t *bytes, const uint64_t *bits, uint32_t u)
{
	for (uint32_t w = 0; w * 64 < u; w++)
	{
		uint64_t	x = bits[w];

		for (uint32_t k = 0; x != 0 && k < 8; k++, x >>= 8)
		{
			uint64_t	v;
			uint8_t    *at = bytes + w * 64 + k * 8;

			if ((x & 0xff) == 0)
				continue;
			memcpy(&v, at, 8);
			v ^= spread[x & 0xff];
			memcpy(at, &v, 8);
		}
	}
}

/*
 * Dense row and right-hand side of non-pivot binary row q:
 * (U_q + R_q T^-1 U_p) and D_q + R_q Y (C holds Y for pivot columns).
 */
static void
binary_dense_row(Solver *s, uint32_t q, uint64_t *bits, uint8_t *row, uint8_t *rhs,
				 const uint8_t *C)
{
	const uint8_t *srcs[RQ_MAX_ROW_COLS + 1];
	int			nsrc = 0;
	uint32_t	len = s->rstart[q + 1] - s->rstart[q];
	const uint8_t *d = row_symbol(s, q);

	memset(bits, 0, sizeof(uint64_t) * s->words);
	memset(rhs, 0, s->T);
	if (d != NULL)
		memcpy(rhs, d, s->T);
	for (uint32_t j = s->rstart[q]; j < s->rstart[q + 1]; j++)
	{
		uint32_t	c = s->rcols[j];

		if (s->cstate[c] == COL_INACTIVE)
			bits[s->cidx[c] / 64] ^= UINT64_C(1) << (s->cidx[c] % 64);
		else
		{
			const uint64_t *src = s->ustate + (size_t) s->cidx[c] * s->words;

			for (size_t w = 0; w < s->words; w++)
				bits[w] ^= src[w];
			srcs[nsrc++] = C + (size_t) c * s->T;
			/* LDPC rows are long: flush in batches */
			if (nsrc == RQ_MAX_ROW_COLS || (len > RQ_MAX_ROW_COLS && nsrc == 8))
			{
				rq_xor_many(rhs, srcs, nsrc, s->T);
				nsrc = 0;
			}
		}
	}
	rq_xor_many(rhs, srcs, nsrc, s->T);
	xor_bits_as_bytes(row, bits, s->u);
}

/* The two rows of MT with a 1 in column m < K' + S - 1 (5.3.3.3). */
static void
mt_rows(const RqParams *p, uint32_t m, uint32_t *h1, uint32_t *h2)
{
	*h1 = rq_random(m + 1, 6, p->H);
	*h2 = (*h1 + rq_random(m + 1, 7, p->H - 1) + 1) % p->H;
}

/*
 * The H HDPC dense rows and right-hand sides, by one Horner pass over the
 * columns m = 0 .. K'+S-1: z = alpha z + x_m, then MT's column m adds z to
 * its rows (the last column of MT is alpha^h in row h).
 */
static RqStatus
hdpc_dense_rows(Solver *s, Allocs *a, uint8_t *rows, uint8_t *rhs, const uint8_t *C)
{
	const RqParams *p = s->p;
	uint32_t	last = p->Kp + p->S - 1;
	uint8_t    *z = take(s, a, s->u + 8);
	uint8_t    *zs = take(s, a, s->T);

	if (z == NULL || zs == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	for (uint32_t m = 0; m <= last; m++)
	{
		rq_scale(z, 2, s->u);
		rq_scale(zs, 2, s->T);
		if (s->cstate[m] == COL_INACTIVE)
			z[s->cidx[m]] ^= 1;
		else
		{
			xor_bits_as_bytes(z, s->ustate + (size_t) s->cidx[m] * s->words, s->u);
			rq_xor(zs, C + (size_t) m * s->T, s->T);
		}
		if (m < last)
		{
			uint32_t	h1,
						h2;

			mt_rows(p, m, &h1, &h2);
			rq_xor(rows + (size_t) h1 * s->u, z, s->u);
			rq_xor(rows + (size_t) h2 * s->u, z, s->u);
			rq_xor(rhs + (size_t) h1 * s->T, zs, s->T);
			rq_xor(rhs + (size_t) h2 * s->T, zs, s->T);
		}
		else
			for (uint32_t h = 0; h < p->H; h++)
			{
				rq_mad(rows + (size_t) h * s->u, z, rq_gf_exp[h], s->u);
				rq_mad(rhs + (size_t) h * s->T, zs, rq_gf_exp[h], s->T);
			}
		tick(s);
	}
	for (uint32_t h = 0; h < p->H; h++)
		rows[(size_t) h * s->u + s->cidx[p->Kp + p->S + h]] ^= 1;
	return RQ_OK;
}

/*
 * Gauss-Jordan elimination of the nd x u system rows / rhs; binary rows
 * (not yet touched by a non-binary one) are preferred as pivots.  Writes
 * the solution into the inactive columns of C.
 */
static RqStatus
dense_solve(Solver *s, Allocs *a, uint32_t nd, uint8_t *rows, uint8_t *rhs,
			uint8_t *binary, uint8_t *C)
{
	uint32_t	u = s->u;
	uint8_t    *used = take(s, a, nd);
	uint32_t   *pivot_of = take(s, a, sizeof(uint32_t) * (u + 1));

	if (used == NULL || pivot_of == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	for (uint32_t j = 0; j < u; j++)
	{
		uint32_t	pr = NIL;
		uint8_t    *prow;

		for (uint32_t r = 0; r < nd; r++)
			if (!used[r] && rows[(size_t) r * u + j] != 0 && (pr == NIL || (binary[r] && !binary[pr])))
			{
				pr = r;
				if (binary[r])
					break;
			}
		if (pr == NIL)
			return RQ_ERR_SINGULAR;
		used[pr] = 1;
		pivot_of[j] = pr;
		prow = rows + (size_t) pr * u;
		if (prow[j] != 1)
		{
			uint8_t		inv = rq_gf_inv(prow[j]);

			rq_scale(prow + j, inv, u - j);
			rq_scale(rhs + (size_t) pr * s->T, inv, s->T);
		}
		for (uint32_t r = 0; r < nd; r++)
		{
			uint8_t		c = rows[(size_t) r * u + j];

			if (r == pr || c == 0)
				continue;
			rq_mad(rows + (size_t) r * u + j, prow + j, c, u - j);
			rq_mad(rhs + (size_t) r * s->T, rhs + (size_t) pr * s->T, c, s->T);
			if (c != 1 || !binary[pr])
				binary[r] = 0;
		}
		if (s->env->check != NULL)
			s->env->check(s->env->arg);
	}
	for (uint32_t c = 0; c < s->p->L; c++)
		if (s->cstate[c] == COL_INACTIVE)
			memcpy(C + (size_t) c * s->T, rhs + (size_t) pivot_of[s->cidx[c]] * s->T, s->T);
	return RQ_OK;
}

static RqStatus
solve_dense(Solver *s, Allocs *a, uint8_t *C)
{
	uint32_t	nb = s->M - s->npiv;
	uint32_t	nd = nb + s->p->H;
	uint8_t    *rows = take(s, a, (size_t) nd * s->u + 8);
	uint8_t    *rhs = take(s, a, (size_t) nd * s->T);
	uint8_t    *binary = take(s, a, nd);
	uint64_t   *bits = take(s, a, sizeof(uint64_t) * (s->words + 1));
	uint32_t	q = 0;
	RqStatus	st;

	if (rows == NULL || rhs == NULL || binary == NULL || bits == NULL)
		return RQ_ALLOC_FAILURE(s->env);
	if (nd < s->u)
		return RQ_ERR_SINGULAR;
	for (uint32_t r = 0; r < s->M; r++)
	{
		if (s->rdone[r])
			continue;
		binary_dense_row(s, r, bits, rows + (size_t) q * s->u, rhs + (size_t) q * s->T, C);
		binary[q++] = 1;
		tick(s);
	}
	st = hdpc_dense_rows(s, a, rows + (size_t) nb * s->u, rhs + (size_t) nb * s->T, C);
	if (st != RQ_OK)
		return st;
	return dense_solve(s, a, nd, rows, rhs, binary, C);
}

/* ---- the sparse passes ---------------------------------------------------- */

/*
 * C[c_k] = D[r_k] + the sum of C over the other columns of r_k, in pivot
 * order.  Pass 1 (with_inactive false) leaves out the inactive columns,
 * which gives Y = T^-1 D_p; pass 2 includes them, which gives the solution.
 */
static void
sparse_pass(Solver *s, uint8_t *C, bool with_inactive)
{
	const uint8_t *srcs[RQ_MAX_ROW_COLS + 1];

	for (uint32_t k = 0; k < s->npiv; k++)
	{
		uint32_t	r = s->piv_row[k];
		uint8_t    *dst = C + (size_t) s->piv_col[k] * s->T;
		const uint8_t *d = row_symbol(s, r);
		int			nsrc = 0;
		bool		first = true;

		if (d != NULL)
			srcs[nsrc++] = d;
		for (uint32_t j = s->rstart[r]; j < s->rstart[r + 1]; j++)
		{
			uint32_t	c = s->rcols[j];

			if (c == s->piv_col[k] || (!with_inactive && s->cstate[c] == COL_INACTIVE))
				continue;
			srcs[nsrc++] = C + (size_t) c * s->T;
			if (nsrc == RQ_MAX_ROW_COLS)
			{
				/* only LDPC rows are this long */
				if (first)
					rq_xor_set(dst, srcs, nsrc, s->T);
				else
					rq_xor_many(dst, srcs, nsrc, s->T);
				first = false;
				nsrc = 0;
			}
		}
		if (first)
			rq_xor_set(dst, srcs, nsrc, s->T);
		else
			rq_xor_many(dst, srcs, nsrc, s->T);
		tick(s);
	}
}

RqStatus
rq_solve(RqEnv *env, const RqParams *p, size_t T, uint32_t n, const uint32_t *isi,
		 const uint8_t *const *sym, uint8_t *C, uint32_t *u_out)
{
	Solver		s;
	Allocs		a;
	RqStatus	st;

	rq_gf_init();
	spread_init();
	memset(&s, 0, sizeof(s));
	a.n = 0;
	s.env = env;
	s.p = p;
	s.T = T;
	s.n = n;
	s.sym = sym;
	s.M = p->S + n;
	if (n < p->Kp)
		return RQ_ERR_SINGULAR;
	if ((st = build_rows(&s, &a, isi)) == RQ_OK &&
		(st = build_columns(&s, &a)) == RQ_OK &&
		(st = phase1(&s, &a)) == RQ_OK &&
		(st = pivot_ustates(&s, &a)) == RQ_OK)
	{
		if (u_out != NULL)
			*u_out = s.u;
		sparse_pass(&s, C, false);
		st = solve_dense(&s, &a, C);
		if (st == RQ_OK)
			sparse_pass(&s, C, true);
	}
	give_back(&s, &a);
	return st;
}
