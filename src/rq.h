/*
 * rq.h
 *	  Native RaptorQ (RFC 6330) in pure C: the interface of src/rq_*.c.
 *
 * No PostgreSQL headers here or in src/rq_*.c: raptorq_sql.c is the SQL face,
 * test/unit/rq_*_test.c and test/fuzz/rq_decode_fuzz.c use the module on
 * its own.  The files, bottom up:
 *
 *	 rq_tables.c	the RFC's constants: V0..V3 (5.5), the degree table
 *					(5.3.5.2) and Table 2 of systematic indices (5.6)
 *	 rq_gf256.c		GF(256) arithmetic (5.7) and the symbol operations
 *					(XOR, multiply, multiply-add), ISA-L or our SIMD, scalar
 *					fallback, chosen at run time
 *	 rq_tuple.c		K' parameters, Rand, Deg, Tuple and the columns of a row
 *	 rq_solve.c		the intermediate symbols from any sufficient set of
 *					rows: inactivation decoding (5.4.2) over sparse rows
 *	 rq_encode.c	encoding a source block: intermediate symbols of the
 *					K' source + padding rows, then any encoding symbol
 *	 rq_decode.c	decoding a source block from received (ESI, symbol)s
 *	 rq_oti.c		the OTI (3.3.2, 3.3.3), source blocks and sub-blocks
 *					(4.4.1), symbol (de)interleaving, FEC Payload IDs
 *
 * Memory and interrupts: every allocation goes through an RqEnv, so the SQL
 * layer allocates with palloc in a memory context of the call and can
 * longjmp out of env->check (CHECK_FOR_INTERRUPTS) at any time: nothing here
 * holds memory that the caller's context does not own.  env->budget bounds
 * the bytes a call may allocate; beyond it, RQ_ERR_LIMIT.
 */
#ifndef DHT_RQ_H
#define DHT_RQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits of RFC 6330 -------------------------------------------- */

#define RQ_MAX_K			56403	/* K'max: source symbols in a block */
#define RQ_MAX_F			UINT64_C(946270874880)	/* transfer length */
#define RQ_MAX_T			65535	/* symbol size: 16 bits in the OTI */
#define RQ_MAX_Z			255		/* source blocks: 8 bits */
#define RQ_MAX_N			65535	/* sub-blocks: 16 bits */
#define RQ_MAX_AL			255		/* alignment: 8 bits */
#define RQ_MAX_ESI			((UINT32_C(1) << 24) - 1)
#define RQ_OTI_SIZE			12
#define RQ_PAYLOAD_ID_SIZE	4

/* Largest (d + d1) of an LT row: Deg is at most 30, d1 at most 3. */
#define RQ_MAX_ROW_COLS		33

typedef enum RqStatus
{
	RQ_OK = 0,
	RQ_ERR_NOMEM,				/* env->alloc returned NULL */
	RQ_ERR_LIMIT,				/* env->budget would be exceeded */
	RQ_ERR_SINGULAR,			/* these symbols do not determine the block */
	RQ_ERR_TOO_FEW,				/* fewer distinct symbols than K */
	RQ_ERR_BAD_PACKET			/* a packet of a block that does not exist */
} RqStatus;

typedef struct RqEnv
{
	void	   *(*alloc) (void *arg, size_t size);	/* NULL on failure */
	void		(*release) (void *arg, void *ptr);	/* may do nothing */
	void		(*check) (void *arg);	/* may longjmp; may be NULL */
	void	   *arg;
	size_t		budget;			/* most bytes live at once; 0 = no limit */
	size_t		used;			/* bytes live now (maintained here) */
	size_t		peak;			/* most bytes live at once so far */
	bool		limit_hit;		/* an allocation was refused by the budget */
} RqEnv;

/* RQ_ERR_LIMIT or RQ_ERR_NOMEM, after rq_alloc returned NULL */
#define RQ_ALLOC_FAILURE(env) ((env)->limit_hit ? RQ_ERR_LIMIT : RQ_ERR_NOMEM)

void	   *rq_mem_alloc(RqEnv *env, size_t size);	/* counts against budget */
void	   *rq_mem_alloc0(RqEnv *env, size_t size);
void		rq_mem_free(RqEnv *env, void *ptr, size_t size);
const char *rq_status_text(RqStatus s);
/* An environment on malloc and free, for tests and tools (not the server). */
RqEnv		rq_env_malloc(size_t budget);

/* ---- rq_tables.c ------------------------------------------------------ */

typedef struct RqSystematicRow
{
	uint32_t	Kp;				/* K' */
	uint32_t	J;				/* J(K'): systematic index */
	uint32_t	S;				/* LDPC symbols */
	uint32_t	H;				/* HDPC symbols */
	uint32_t	W;				/* LT symbols */
} RqSystematicRow;

#define RQ_N_SYSTEMATIC 477
extern const RqSystematicRow rq_systematic[RQ_N_SYSTEMATIC];
extern const uint32_t rq_v0[256];
extern const uint32_t rq_v1[256];
extern const uint32_t rq_v2[256];
extern const uint32_t rq_v3[256];
extern const uint32_t rq_degree_f[31];	/* f[0..30] of 5.3.5.2 */

/* ---- rq_gf256.c ------------------------------------------------------- */

extern uint8_t rq_gf_exp[510];	/* OCT_EXP, doubled so exp[log a + log b] works */
extern uint8_t rq_gf_log[256];	/* OCT_LOG; log[0] unused */

void		rq_gf_init(void);	/* idempotent; every entry point calls it */
uint8_t		rq_gf_mul(uint8_t a, uint8_t b);
uint8_t		rq_gf_div(uint8_t a, uint8_t b);	/* b != 0 */
uint8_t		rq_gf_inv(uint8_t a);	/* a != 0 */

/* dst ^= src */
void		rq_xor(uint8_t *dst, const uint8_t *src, size_t len);
/* dst ^= src[0] ^ ... ^ src[n-1] */
void		rq_xor_many(uint8_t *dst, const uint8_t *const *src, int n, size_t len);
/* dst = src[0] ^ ... ^ src[n-1] (zeros for n = 0; dst is not read) */
void		rq_xor_set(uint8_t *dst, const uint8_t *const *src, int n, size_t len);
/* dst *= c */
void		rq_scale(uint8_t *dst, uint8_t c, size_t len);
/* dst ^= c * src */
void		rq_mad(uint8_t *dst, const uint8_t *src, uint8_t c, size_t len);
/* out[r] = sum_j coef[r k + j] in[j] for r < rows; tables: 32 k rows bytes */
void		rq_dot_products(size_t len, int k, int rows, const uint8_t *coef,
							const uint8_t *const *in, uint8_t *const *out, uint8_t *tables);
/* Which implementation runs: "isa-l+avx2", "avx2", "scalar", ... */
const char *rq_gf_impl(void);
/* Force the scalar code (tests compare it with the vector code). */
void		rq_gf_force_scalar(bool on);

/* ---- rq_tuple.c -------------------------------------------------------- */

typedef struct RqParams
{
	uint32_t	K;				/* source symbols of the block */
	uint32_t	Kp;				/* K' >= K from Table 2 */
	uint32_t	J,
				S,
				H,
				W;
	uint32_t	L;				/* K' + S + H intermediate symbols */
	uint32_t	P;				/* L - W permanently inactivated */
	uint32_t	P1;				/* smallest prime >= P */
	uint32_t	U;				/* P - H */
	uint32_t	B;				/* W - S */
} RqParams;

typedef struct RqTuple
{
	uint32_t	d,
				a,
				b,
				d1,
				a1,
				b1;
} RqTuple;

bool		rq_is_prime(uint32_t n);
/* false if K is 0 or above RQ_MAX_K */
bool		rq_params(uint32_t K, RqParams *p);
uint32_t	rq_random(uint32_t y, uint32_t i, uint32_t m);
uint32_t	rq_degree(uint32_t v, uint32_t W);
void		rq_tuple_of(const RqParams *p, uint32_t X, RqTuple *t);
/* The intermediate symbols an ISI X adds up (5.3.5.3): count, cols[] */
int			rq_lt_cols(const RqParams *p, uint32_t X, uint32_t *cols);
/* ISI of an ESI: source ESIs are ISIs; repair ESIs skip the padding */
static inline uint32_t
rq_isi(const RqParams *p, uint32_t esi)
{
	return esi < p->K ? esi : esi + (p->Kp - p->K);
}

/* ---- rq_solve.c --------------------------------------------------------- */

/*
 * The L intermediate symbols C (L * T bytes) from the S LDPC and H HDPC
 * constraints and n LT rows: ISIs isi[0..n-1] whose encoding symbols are
 * sym[0..n-1] (T bytes each; NULL: all zeros).  RQ_ERR_SINGULAR when the
 * rows do not determine C.  u_out (may be NULL) receives the number of
 * inactivated columns.
 */
RqStatus	rq_solve(RqEnv *env, const RqParams *p, size_t T, uint32_t n,
					 const uint32_t *isi, const uint8_t *const *sym, uint8_t *C,
					 uint32_t *u_out);

/* ---- rq_dense.c ------------------------------------------------------------ */

/*
 * Whether making `outputs` symbols as dense combinations of `width` input
 * symbols (coefficients from a solve over width-byte unit vectors) is
 * cheaper than solving over the T-byte symbols themselves.
 */
bool		rq_dense_cheaper(const RqParams *p, size_t T, uint32_t width, uint32_t outputs);

/*
 * The coefficients of the encoding symbols of ISIs target[0..m-1] over the
 * rows of rq_solve that have a symbol (sym[j] != NULL, w of them, in
 * order): coef[t * w + i].  *w_out receives w.  RQ_ERR_SINGULAR as rq_solve.
 */
RqStatus	rq_dense_coefficients(RqEnv *env, const RqParams *p, uint32_t n,
								  const uint32_t *isi, const uint8_t *const *sym,
								  uint32_t m, const uint32_t *target, uint8_t *coef,
								  uint32_t *w_out);

/*
 * out[t] (T bytes each) = the encoding symbol of ISI target[t], from the
 * rows of rq_solve (isi, sym) by way of the coefficients above.
 */
RqStatus	rq_dense_symbols(RqEnv *env, const RqParams *p, size_t T, uint32_t n,
							 const uint32_t *isi, const uint8_t *const *sym,
							 uint32_t m, const uint32_t *target, uint8_t *const *out);

/* ---- rq_encode.c ------------------------------------------------------- */

/* C from the K source symbols src[0..K-1] (the padding is zeros). */
RqStatus	rq_encode_intermediate(RqEnv *env, const RqParams *p, size_t T,
								   const uint8_t *const *src, uint8_t *C);
/* The encoding symbol of ISI isi from C (5.3.5.3), into out (T bytes). */
void		rq_encoding_symbol(const RqParams *p, size_t T, const uint8_t *C,
							 uint32_t isi, uint8_t *out);

/* ---- rq_decode.c --------------------------------------------------------- */

/*
 * Decode one source block: n received symbols, ESIs esi[] (each below
 * 2^24, repeats allowed and ignored), symbols sym[] of T bytes.  Writes
 * source symbol i to out[i] (T bytes each, i < K).  RQ_ERR_TOO_FEW when
 * fewer than K distinct ESIs, RQ_ERR_SINGULAR when they do not suffice.
 */
RqStatus	rq_decode_block(RqEnv *env, const RqParams *p, size_t T, uint32_t n,
							const uint32_t *esi, const uint8_t *const *sym,
							uint8_t *const *out);

/* ---- rq_oti.c ---------------------------------------------------------------- */

typedef struct RqOti
{
	uint64_t	F;				/* transfer length, bytes */
	uint32_t	T;				/* symbol size */
	uint32_t	Z;				/* source blocks */
	uint32_t	N;				/* sub-blocks per source block */
	uint32_t	Al;				/* symbol alignment */
} RqOti;

typedef enum RqOtiStatus
{
	RQ_OTI_OK = 0,
	RQ_OTI_BAD_SIZE,			/* not 12 bytes */
	RQ_OTI_RESERVED,			/* reserved byte not zero */
	RQ_OTI_BAD_F,				/* 0 or above RQ_MAX_F */
	RQ_OTI_BAD_AL,				/* alignment 0 */
	RQ_OTI_BAD_T,				/* 0, above 65535 or not a multiple of Al */
	RQ_OTI_BAD_Z,				/* 0 or above 255 */
	RQ_OTI_Z_OVER_KT,			/* more blocks than source symbols */
	RQ_OTI_K_TOO_LARGE,			/* a block of more than 56403 symbols */
	RQ_OTI_BAD_N,				/* 0, above 65535, or above T / Al */
} RqOtiStatus;

/* The source block and sub-block partition of 4.4.1.2. */
typedef struct RqLayout
{
	uint64_t	Kt;				/* ceil(F / T) */
	uint32_t	KL,
				KS,
				ZL,
				ZS;				/* ZL blocks of KL symbols, then ZS of KS */
	uint32_t	TL,
				TS,
				NL,
				NS;				/* NL sub-blocks of TL*Al, then NS of TS*Al */
} RqLayout;

RqOtiStatus rq_oti_check(const RqOti *o);
const char *rq_oti_status_text(RqOtiStatus s);
void		rq_oti_pack(const RqOti *o, uint8_t out[RQ_OTI_SIZE]);
RqOtiStatus rq_oti_unpack(const uint8_t *buf, size_t len, RqOti *o);
void		rq_layout(const RqOti *o, RqLayout *lay);
/* K of block sbn, and where its bytes start in the transfer */
uint32_t	rq_block_k(const RqLayout *lay, uint32_t sbn);
uint64_t	rq_block_offset(const RqOti *o, const RqLayout *lay, uint32_t sbn);

/*
 * Source symbol i of block sbn of data (F bytes; zeros beyond), with the
 * sub-block interleaving of 4.4.1.2: returns a pointer into data when the
 * symbol is contiguous there (N = 1, inside F), else assembles it in
 * scratch (T bytes) and returns scratch.
 */
const uint8_t *rq_source_symbol(const RqOti *o, const RqLayout *lay, const uint8_t *data,
								uint32_t sbn, uint32_t i, uint8_t *scratch);
/* The inverse: write source symbol i of block sbn into data (clipped at F). */
void		rq_put_source_symbol(const RqOti *o, const RqLayout *lay, uint8_t *data,
								 uint32_t sbn, uint32_t i, const uint8_t *sym);
/* Where source symbol i of block sbn would go when contiguous in data, else NULL */
uint8_t    *rq_source_slot(const RqOti *o, const RqLayout *lay, uint8_t *data,
						   uint32_t sbn, uint32_t i);

static inline void
rq_payload_id_pack(uint32_t sbn, uint32_t esi, uint8_t *out)
{
	out[0] = (uint8_t) sbn;
	out[1] = (uint8_t) (esi >> 16);
	out[2] = (uint8_t) (esi >> 8);
	out[3] = (uint8_t) esi;
}

static inline void
rq_payload_id_unpack(const uint8_t *in, uint32_t *sbn, uint32_t *esi)
{
	*sbn = in[0];
	*esi = (uint32_t) in[1] << 16 | (uint32_t) in[2] << 8 | in[3];
}

/* ---- rq_object.c ---------------------------------------------------------- */

/* Encoding symbols of one source block of an object. */
typedef struct RqBlockEncoder
{
	const RqOti *oti;
	const RqLayout *lay;
	const uint8_t *data;		/* the object, F bytes */
	uint32_t	sbn;
	RqParams	p;
	uint8_t    *C;				/* intermediate symbols, once needed */
	const uint8_t **src;		/* the K source symbols */
	uint8_t    *scratch;		/* source symbols not contiguous in data */
} RqBlockEncoder;

RqStatus	rq_block_encoder_init(RqEnv *env, RqBlockEncoder *e, const RqOti *o,
								  const RqLayout *lay, const uint8_t *data, uint32_t sbn);
/* The packet (payload ID + symbol, 4 + T bytes) of ESI esi into out. */
RqStatus	rq_block_packet(RqEnv *env, RqBlockEncoder *e, uint32_t esi, uint8_t *out);
/*
 * The packets of ESIs first .. first + count - 1 into out[i] (4 + T bytes
 * each): as rq_block_packet, but the repair symbols of a small block are
 * made densely when that is cheaper (rq_dense.c).
 */
RqStatus	rq_block_packets(RqEnv *env, RqBlockEncoder *e, uint32_t first, uint32_t count,
							 uint8_t *const *out);
void		rq_block_encoder_free(RqEnv *env, RqBlockEncoder *e);

/*
 * A lower bound of the working memory coding a block of K symbols of T bytes
 * takes: the intermediate symbols (L T), the dense system's right-hand
 * sides (at least P T) and a block of source symbols (K T).  Callers
 * compare it with their budget before they allocate anything.
 */
uint64_t	rq_block_work_bytes(uint32_t K, uint32_t T);

/*
 * Decode the object (F bytes into out) from npk packets of 4 + T bytes.
 * have[sbn] (Z entries) receives the distinct ESIs each block got; on
 * RQ_ERR_TOO_FEW / RQ_ERR_SINGULAR *bad_sbn is the first block that failed;
 * RQ_ERR_BAD_PACKET: packet *bad_sbn has an SBN >= Z.
 */
RqStatus	rq_object_decode(RqEnv *env, const RqOti *o, uint32_t npk,
							 const uint8_t *const *pk, uint8_t *out,
							 uint32_t *have, uint32_t *bad_sbn);

/*
 * The packets of a buffer of concatenated packets: len must be a positive
 * multiple of 4 + T.  Returns the count, or 0 if len is not.
 */
static inline size_t
rq_packet_count(size_t len, uint32_t T)
{
	size_t		size = (size_t) RQ_PAYLOAD_ID_SIZE + T;

	return len > 0 && len % size == 0 ? len / size : 0;
}

#endif							/* DHT_RQ_H */
