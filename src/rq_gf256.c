/*
 * rq_gf256.c
 *	  GF(256) for RaptorQ (RFC 6330 section 5.7) and the symbol operations
 *	  the coder spends its time in.
 *
 * The field is GF(2)[x] / (x^8 + x^4 + x^3 + x^2 + 1), generator alpha = 2:
 * the polynomial ISA-L's erasure-code tables use too, so ISA-L's
 * gf_vect_mad (dst ^= c * src, AVX-512/AVX2/SSE chosen by ISA-L at run time)
 * serves as our multiply-add.  OCT_EXP and OCT_LOG (5.7.3, 5.7.4) are
 * generated from the polynomial; the unit test checks them against entries
 * printed in the RFC.
 *
 * XOR of symbols (most of the work: LT rows are sums of symbols) and the
 * in-place multiply by a constant are ours: AVX2 when the CPU has it
 * (checked once, at first use), SSE2 otherwise on x86-64, plain 64-bit words
 * elsewhere.  The constant multiply uses the split-nibble shuffle: c * x =
 * lo[x & 15] ^ hi[x >> 4], two 16-byte tables per constant.  Lengths need no
 * alignment; tails are done byte by byte.  rq_gf_force_scalar lets the unit
 * tests compare every vector path with the scalar one.
 */
#include "rq.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <isa-l/erasure_code.h>
#define RQ_X86 1
#endif

uint8_t		rq_gf_exp[510];
uint8_t		rq_gf_log[256];

static bool gf_ready = false;
static bool use_avx2 = false;
static bool force_scalar = false;

#ifdef RQ_X86
/* ISA-L's 32-byte table for each constant, for gf_vect_mad */
static unsigned char isal_tables[256][32];
#endif

/* The split-nibble tables of each constant: c * i and c * (i << 4). */
static uint8_t nib_lo[256][16];
static uint8_t nib_hi[256][16];

void
rq_gf_init(void)
{
	unsigned	v = 1;

	if (gf_ready)
		return;
	for (int i = 0; i < 255; i++)
	{
		rq_gf_exp[i] = (uint8_t) v;
		rq_gf_exp[i + 255] = (uint8_t) v;
		rq_gf_log[v] = (uint8_t) i;
		v <<= 1;
		if (v & 0x100)
			v ^= 0x11d;
	}
	for (int c = 0; c < 256; c++)
		for (int i = 0; i < 16; i++)
		{
			nib_lo[c][i] = rq_gf_mul((uint8_t) c, (uint8_t) i);
			nib_hi[c][i] = rq_gf_mul((uint8_t) c, (uint8_t) (i << 4));
		}
#ifdef RQ_X86
	for (int c = 0; c < 256; c++)
		gf_vect_mul_init((unsigned char) c, isal_tables[c]);
	__builtin_cpu_init();
	use_avx2 = __builtin_cpu_supports("avx2");
#endif
	gf_ready = true;
}

uint8_t
rq_gf_mul(uint8_t a, uint8_t b)
{
	if (a == 0 || b == 0)
		return 0;
	return rq_gf_exp[rq_gf_log[a] + rq_gf_log[b]];
}

uint8_t
rq_gf_div(uint8_t a, uint8_t b)
{
	if (a == 0)
		return 0;
	return rq_gf_exp[rq_gf_log[a] + 255 - rq_gf_log[b]];
}

uint8_t
rq_gf_inv(uint8_t a)
{
	return rq_gf_exp[255 - rq_gf_log[a]];
}

void
rq_gf_force_scalar(bool on)
{
	force_scalar = on;
}

const char *
rq_gf_impl(void)
{
	rq_gf_init();
	if (force_scalar)
		return "scalar";
#ifdef RQ_X86
	return use_avx2 ? "isa-l gf_vect_mad, avx2" : "isa-l gf_vect_mad, sse2";
#else
	return "scalar";
#endif
}

/* ---- scalar ------------------------------------------------------------ */

static void
xor_scalar(uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t		i = 0;

	for (; i + 8 <= len; i += 8)
	{
		uint64_t	a,
					b;

		memcpy(&a, dst + i, 8);
		memcpy(&b, src + i, 8);
		a ^= b;
		memcpy(dst + i, &a, 8);
	}
	for (; i < len; i++)
		dst[i] ^= src[i];
}

static void
scale_scalar(uint8_t *dst, uint8_t c, size_t i, size_t len)
{
	const uint8_t *lo = nib_lo[c];
	const uint8_t *hi = nib_hi[c];

	for (; i < len; i++)
		dst[i] = lo[dst[i] & 15] ^ hi[dst[i] >> 4];
}

static void
mad_scalar(uint8_t *dst, const uint8_t *src, uint8_t c, size_t len)
{
	const uint8_t *lo = nib_lo[c];
	const uint8_t *hi = nib_hi[c];

	for (size_t i = 0; i < len; i++)
		dst[i] ^= lo[src[i] & 15] ^ hi[src[i] >> 4];
}

/* ---- x86 vector code ------------------------------------------------- */

#ifdef RQ_X86
/*
 * dst ^= src[0] ^ ... ^ src[n-1], or with set, dst = src[0] ^ ... (dst not
 * read): returns how many leading bytes were done.
 */
__attribute__((target("avx2")))
static size_t
xor_many_avx2(uint8_t *dst, const uint8_t *const *src, int n, size_t len, bool set)
{
	size_t		i = 0;
	const uint8_t *first = set ? src[0] : dst;
	int			from = set ? 1 : 0;

	for (; i + 64 <= len; i += 64)
	{
		__m256i		a = _mm256_loadu_si256((const __m256i *) (first + i));
		__m256i		b = _mm256_loadu_si256((const __m256i *) (first + i + 32));

		for (int j = from; j < n; j++)
		{
			a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *) (src[j] + i)));
			b = _mm256_xor_si256(b, _mm256_loadu_si256((const __m256i *) (src[j] + i + 32)));
		}
		_mm256_storeu_si256((__m256i *) (dst + i), a);
		_mm256_storeu_si256((__m256i *) (dst + i + 32), b);
	}
	for (; i + 32 <= len; i += 32)
	{
		__m256i		a = _mm256_loadu_si256((const __m256i *) (first + i));

		for (int j = from; j < n; j++)
			a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *) (src[j] + i)));
		_mm256_storeu_si256((__m256i *) (dst + i), a);
	}
	return i;
}

static size_t
xor_many_sse2(uint8_t *dst, const uint8_t *const *src, int n, size_t len, bool set)
{
	size_t		i = 0;
	const uint8_t *first = set ? src[0] : dst;
	int			from = set ? 1 : 0;

	for (; i + 16 <= len; i += 16)
	{
		__m128i		a = _mm_loadu_si128((const __m128i *) (first + i));

		for (int j = from; j < n; j++)
			a = _mm_xor_si128(a, _mm_loadu_si128((const __m128i *) (src[j] + i)));
		_mm_storeu_si128((__m128i *) (dst + i), a);
	}
	return i;
}

__attribute__((target("avx2")))
static size_t
scale_avx2(uint8_t *dst, uint8_t c, size_t len)
{
	__m256i		lo = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *) nib_lo[c]));
	__m256i		hi = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *) nib_hi[c]));
	__m256i		mask = _mm256_set1_epi8(0x0f);
	size_t		i = 0;

	for (; i + 32 <= len; i += 32)
	{
		__m256i		x = _mm256_loadu_si256((const __m256i *) (dst + i));
		__m256i		l = _mm256_shuffle_epi8(lo, _mm256_and_si256(x, mask));
		__m256i		h = _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi64(x, 4), mask));

		_mm256_storeu_si256((__m256i *) (dst + i), _mm256_xor_si256(l, h));
	}
	return i;
}
#endif

/* ---- the symbol operations --------------------------------------------- */

static void
xor_many(uint8_t *dst, const uint8_t *const *src, int n, size_t len, bool set)
{
	size_t		done = 0;

#ifdef RQ_X86
	if (!force_scalar)
		done = use_avx2 ? xor_many_avx2(dst, src, n, len, set) : xor_many_sse2(dst, src, n, len, set);
#endif
	if (set && done < len)
		memcpy(dst + done, src[0] + done, len - done);
	for (int j = set ? 1 : 0; j < n; j++)
		xor_scalar(dst + done, src[j] + done, len - done);
}

void
rq_xor_many(uint8_t *dst, const uint8_t *const *src, int n, size_t len)
{
	if (n > 0)
		xor_many(dst, src, n, len, false);
}

void
rq_xor_set(uint8_t *dst, const uint8_t *const *src, int n, size_t len)
{
	if (n <= 0)
		memset(dst, 0, len);
	else
		xor_many(dst, src, n, len, true);
}

void
rq_xor(uint8_t *dst, const uint8_t *src, size_t len)
{
	rq_xor_many(dst, &src, 1, len);
}

void
rq_scale(uint8_t *dst, uint8_t c, size_t len)
{
	size_t		done = 0;

	if (c == 1)
		return;
	if (c == 0)
	{
		memset(dst, 0, len);
		return;
	}
#ifdef RQ_X86
	if (!force_scalar && use_avx2)
		done = scale_avx2(dst, c, len);
#endif
	scale_scalar(dst, c, done, len);
}

void
rq_mad(uint8_t *dst, const uint8_t *src, uint8_t c, size_t len)
{
	if (c == 0)
		return;
	if (c == 1)
	{
		rq_xor(dst, src, len);
		return;
	}
#ifdef RQ_X86
	/* ISA-L's vector versions need at least 64 bytes */
	if (!force_scalar && len >= 64 && len <= INT32_MAX)
	{
		gf_vect_mad((int) len, 1, 0, isal_tables[c],
					(unsigned char *) src, dst);
		return;
	}
#endif
	mad_scalar(dst, src, c, len);
}

/*
 * out[r] = sum over j < k of coef[r * k + j] * in[j], for r < rows (every
 * out[r] overwritten), len bytes each: ISA-L's ec_encode_data, which makes
 * several outputs in one pass over the inputs.  tables: 32 * k * rows bytes
 * of scratch.
 */
void
rq_dot_products(size_t len, int k, int rows, const uint8_t *coef,
				const uint8_t *const *in, uint8_t *const *out, uint8_t *tables)
{
#ifdef RQ_X86
	if (!force_scalar && len >= 64 && len <= INT32_MAX)
	{
		ec_init_tables(k, rows, (unsigned char *) coef, tables);
		ec_encode_data((int) len, k, rows, tables, (unsigned char **) in, (unsigned char **) out);
		return;
	}
#endif
	(void) tables;
	for (int r = 0; r < rows; r++)
	{
		memset(out[r], 0, len);
		for (int j = 0; j < k; j++)
			rq_mad(out[r], in[j], coef[(size_t) r * k + j], len);
	}
}
