/*
 * rq_tuple.c
 *	  The parameters of a source block and the rows of RFC 6330's
 *	  constraint matrix that the LT code contributes (sections 5.3.3.3,
 *	  5.3.5).
 *
 * rq_params: K' is the smallest entry of Table 2 with K' >= K; then
 * L = K' + S + H, P = L - W, P1 the smallest prime >= P, U = P - H,
 * B = W - S.  An encoding symbol with internal symbol index X is the sum of
 * intermediate symbols that Tuple[K', X] names: d of the first W ("LT"
 * symbols, a walk b, b + a, ... mod W) and d1 of the last P ("PI" symbols,
 * a walk mod P1 skipping values >= P).  W and P1 are prime and the steps
 * non-zero, so the columns of one row are distinct.
 */
#include "rq.h"

bool
rq_is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	for (uint32_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

bool
rq_params(uint32_t K, RqParams *p)
{
	int			lo = 0,
				hi = RQ_N_SYSTEMATIC - 1;
	const RqSystematicRow *row;

	if (K == 0 || K > RQ_MAX_K)
		return false;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (rq_systematic[mid].Kp >= K)
			hi = mid;
		else
			lo = mid + 1;
	}
	row = &rq_systematic[lo];
	p->K = K;
	p->Kp = row->Kp;
	p->J = row->J;
	p->S = row->S;
	p->H = row->H;
	p->W = row->W;
	p->L = row->Kp + row->S + row->H;
	p->P = p->L - p->W;
	p->P1 = p->P;
	while (!rq_is_prime(p->P1))
		p->P1++;
	p->U = p->P - p->H;
	p->B = p->W - p->S;
	return true;
}

/* Rand[y, i, m] of 5.3.5.1 */
uint32_t
rq_random(uint32_t y, uint32_t i, uint32_t m)
{
	uint32_t	x0 = (y + i) & 0xff;
	uint32_t	x1 = ((y >> 8) + i) & 0xff;
	uint32_t	x2 = ((y >> 16) + i) & 0xff;
	uint32_t	x3 = ((y >> 24) + i) & 0xff;

	return (rq_v0[x0] ^ rq_v1[x1] ^ rq_v2[x2] ^ rq_v3[x3]) % m;
}

/* Deg[v] of 5.3.5.2, for 0 <= v < 2^20 */
uint32_t
rq_degree(uint32_t v, uint32_t W)
{
	uint32_t	d = 1;

	while (d < 30 && v >= rq_degree_f[d])
		d++;
	return d < W - 2 ? d : W - 2;
}

/* Tuple[K', X] of 5.3.5.4 (arithmetic mod 2^32, as the RFC's) */
void
rq_tuple_of(const RqParams *p, uint32_t X, RqTuple *t)
{
	uint32_t	A = 53591 + p->J * 997;
	uint32_t	B = 10267 * (p->J + 1);
	uint32_t	y;

	if (A % 2 == 0)
		A++;
	y = B + X * A;
	t->d = rq_degree(rq_random(y, 0, UINT32_C(1) << 20), p->W);
	t->a = 1 + rq_random(y, 1, p->W - 1);
	t->b = rq_random(y, 2, p->W);
	t->d1 = t->d < 4 ? 2 + rq_random(X, 3, 2) : 2;
	t->a1 = 1 + rq_random(X, 4, p->P1 - 1);
	t->b1 = rq_random(X, 5, p->P1);
}

/* The columns Enc[K', C, Tuple[K', X]] of 5.3.5.3 adds up. */
int
rq_lt_cols(const RqParams *p, uint32_t X, uint32_t *cols)
{
	RqTuple		t;
	uint32_t	b;
	uint32_t	b1;
	int			n = 0;

	rq_tuple_of(p, X, &t);
	b = t.b;
	cols[n++] = b;
	for (uint32_t j = 1; j < t.d; j++)
	{
		b = (b + t.a) % p->W;
		cols[n++] = b;
	}
	b1 = t.b1;
	while (b1 >= p->P)
		b1 = (b1 + t.a1) % p->P1;
	cols[n++] = p->W + b1;
	for (uint32_t j = 1; j < t.d1; j++)
	{
		b1 = (b1 + t.a1) % p->P1;
		while (b1 >= p->P)
			b1 = (b1 + t.a1) % p->P1;
		cols[n++] = p->W + b1;
	}
	return n;
}
