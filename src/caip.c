/*
 * caip.c
 *	  CAIP-19 token identifiers: parse, canonicalise, encode, decode.
 *
 * Grammar (CAIP-2 chain id, CAIP-19 asset type and asset id):
 *
 *	  chain_ns ":" chain_ref "/" asset_ns ":" asset_ref [ "/" token_id ]
 *
 *	  chain_ns, asset_ns	[-a-z0-9]{3,8}
 *	  chain_ref				[-_a-zA-Z0-9]{1,32}
 *	  asset_ref				[-.%a-zA-Z0-9]{1,128}
 *	  token_id				[-.%a-zA-Z0-9]{1,78}
 *
 * EVM profile, when chain_ns is "eip155":
 *	  - chain_ref is a decimal chain id; leading zeros are rejected ("01" is
 *		not a spelling of chain 1: chain ids are identifiers, and accepting
 *		"01" would let two spellings of one CAIP-2 id circulate);
 *	  - for asset_ns erc20, erc721 and erc1155, asset_ref is "0x" and 40 hex
 *		digits, accepted in any case (EIP-55 mixed case and a "0X" prefix
 *		included; the checksum is not verified), printed in lower case;
 *	  - token_id is a decimal integer below 2^256; leading zeros are accepted
 *		and dropped ("007" is token 7).
 * Everything else is kept exactly as written (references are case-sensitive,
 * percent-escapes are not decoded).  So every accepted spelling has one
 * canonical text, and two tokens are equal iff their canonical texts are.
 *
 * Encoding (the payload of a dht.token datum).  It is designed so that the
 * order of dht.token is plain memcmp, then shorter first (caip_compare), and
 * equality is byte identity:
 *
 *	  chain:  tag byte, then
 *			  0x02 (eip155):  chain id as a length byte and that many bytes
 *							  of minimal big-endian unsigned integer
 *			  0x01 / 0x03:	  namespace NUL reference NUL; 0x01 if the
 *							  namespace sorts before "eip155", 0x03 after
 *	  asset:  under eip155, a tag byte, then
 *			  0x02 erc1155, 0x04 erc20, 0x06 erc721: the 20 address bytes
 *			  0x01 / 0x03 / 0x05 / 0x07: namespace NUL reference NUL, the odd
 *				  tag being the namespace's slot among the three above
 *			  under other chains: namespace NUL reference NUL
 *	  token:  absent (the encoding ends), or
 *			  under eip155: a length byte (0-32) and the minimal big-endian
 *				  token id (zero is the empty string)
 *			  otherwise: the token id bytes, unterminated (it is last)
 *
 * The grammar has no NUL, so a NUL-terminated string compares like the string
 * and ends before any longer string it prefixes; a minimal big-endian integer
 * behind its length compares numerically.  Hence dht.token sorts by chain
 * namespace (string order, eip155 in its place), then chain (eip155 chain ids
 * numerically, others by reference string), then asset namespace (string
 * order), then asset reference (addresses as numbers, which is their
 * lower-case string order), then the asset type itself before its tokens,
 * then token id (eip155: numerically, so 2 < 10; others: byte order).
 *
 * An EVM NFT costs 1 + 1 + len(chain id) + 1 + 20 + 1 + len(token id) bytes:
 * 27 for chain 1 and a 16-bit token id, against 63 for its text.  Chain
 * references are at most 32 decimal digits (below 2^107, 14 bytes).
 *
 * caip_format decodes with bounds checks on every read and write, so it is
 * safe on any bytes; caip_valid_encoding (decode, re-parse, compare) accepts
 * exactly the encodings caip_parse produces.
 */
#include "caip.h"

#include <stdarg.h>
#include <stdio.h>

#define TAG_LOW		0x01
#define TAG_EIP155	0x02
#define TAG_HIGH	0x03

#define EVM_ADDRESS_LEN 20
#define EVM_CHAIN_ID_BYTES 14	/* 10^32 - 1 < 2^107 */
#define EVM_TOKEN_ID_BYTES 32

/* The EVM asset namespaces with a 20-byte address, in string order. */
static const char *const evm_asset_ns[] = {"erc1155", "erc20", "erc721"};
#define N_EVM_ASSET_NS 3

const char *
caip_part_name(caip_part part)
{
	switch (part)
	{
		case CAIP_PART_CHAIN_NS:
			return "chain namespace";
		case CAIP_PART_CHAIN_REF:
			return "chain reference";
		case CAIP_PART_ASSET_NS:
			return "asset namespace";
		case CAIP_PART_ASSET_REF:
			return "asset reference";
		case CAIP_PART_TOKEN_ID:
			return "token id";
		case CAIP_PART_NONE:
			break;
	}
	return "token";
}

static size_t
fail(caip_error *err, caip_part part, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static size_t
fail(caip_error *err, caip_part part, const char *fmt, ...)
{
	va_list		ap;

	err->part = part;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return 0;
}

/* Character classes of the grammar. */
static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_alnum(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
ns_char(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-';
}

static bool
chain_ref_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static bool
ref_char(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '%';
}

static inline int
hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One part of the input: a run of bytes between separators. */
typedef struct span
{
	const char *p;
	size_t		n;
	size_t		pos;			/* 1-based position of p in the input */
} span;

static bool
span_is(span s, const char *word)
{
	return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

typedef struct part_rule
{
	caip_part	part;
	bool		(*allowed) (unsigned char c);
	const char *charset;
	size_t		min;
	size_t		max;
} part_rule;

static const part_rule rule_chain_ns =
{CAIP_PART_CHAIN_NS, ns_char, "[-a-z0-9]", CAIP_NS_MIN, CAIP_NS_MAX};
static const part_rule rule_chain_ref =
{CAIP_PART_CHAIN_REF, chain_ref_char, "[-_a-zA-Z0-9]", 1, CAIP_CHAIN_REF_MAX};
static const part_rule rule_asset_ns =
{CAIP_PART_ASSET_NS, ns_char, "[-a-z0-9]", CAIP_NS_MIN, CAIP_NS_MAX};
static const part_rule rule_asset_ref =
{CAIP_PART_ASSET_REF, ref_char, "[-.%a-zA-Z0-9]", 1, CAIP_ASSET_REF_MAX};
static const part_rule rule_token_id =
{CAIP_PART_TOKEN_ID, ref_char, "[-.%a-zA-Z0-9]", 1, CAIP_TOKEN_ID_MAX};

/* Check a span against its rule: characters first, then length. */
static bool
check_span(span s, const part_rule *rule, caip_error *err)
{
	const char *name = caip_part_name(rule->part);

	if (s.n == 0)
		return fail(err, rule->part, "The %s is empty.", name);
	for (size_t i = 0; i < s.n; i++)
	{
		unsigned char c = (unsigned char) s.p[i];

		if (rule->allowed(c))
			continue;
		if (c > 0x20 && c < 0x7f)
			return fail(err, rule->part,
						"The %s has the character \"%c\" at position %zu; it may only contain %s.",
						name, c, s.pos + i, rule->charset);
		return fail(err, rule->part,
					"The %s has the byte 0x%02x at position %zu; it may only contain %s.",
					name, c, s.pos + i, rule->charset);
	}
	if (s.n < rule->min || s.n > rule->max)
	{
		if (rule->min > 1)
			return fail(err, rule->part, "The %s has %zu characters; it must have %zu to %zu.",
						name, s.n, rule->min, rule->max);
		return fail(err, rule->part, "The %s has %zu characters; at most %zu are allowed.",
					name, s.n, rule->max);
	}
	return true;
}

/* The run of bytes from p up to the next ':' or '/' (or the end). */
static span
next_run(const char *text, const char *p, const char *end)
{
	span		s = {p, 0, (size_t) (p - text) + 1};

	while (p + s.n < end && p[s.n] != ':' && p[s.n] != '/')
		s.n++;
	return s;
}

/*
 * Decimal digits to a minimal big-endian unsigned integer of at most
 * max_bytes bytes.  Returns the byte count, or -1 if the value needs more.
 * Limbs are 32-bit, little-endian; 32 bytes is the largest size used.
 */
static int
decimal_to_be(const char *d, size_t n, uint8_t *out, size_t max_bytes)
{
	uint32_t	limb[EVM_TOKEN_ID_BYTES / 4] = {0};
	size_t		nlimbs = (max_bytes + 3) / 4;
	size_t		len;

	for (size_t i = 0; i < n; i++)
	{
		uint64_t	carry = (uint64_t) (d[i] - '0');

		for (size_t j = 0; j < nlimbs; j++)
		{
			uint64_t	v = (uint64_t) limb[j] * 10 + carry;

			limb[j] = (uint32_t) v;
			carry = v >> 32;
		}
		if (carry != 0)
			return -1;
	}
	/* Big-endian bytes of the limbs, then drop leading zero bytes. */
	{
		uint8_t		be[EVM_TOKEN_ID_BYTES];
		size_t		total = nlimbs * 4;
		size_t		skip = 0;

		for (size_t j = 0; j < nlimbs; j++)
			for (int b = 0; b < 4; b++)
				be[total - 1 - (4 * j + b)] = (uint8_t) (limb[j] >> (8 * b));
		while (skip < total && be[skip] == 0)
			skip++;
		len = total - skip;
		if (len > max_bytes)
			return -1;
		memcpy(out, be + skip, len);
	}
	return (int) len;
}

/*
 * A big-endian unsigned integer of n <= 32 bytes to decimal digits in out
 * (cap bytes, NUL-terminated).  Returns the digit count, 0 if out is too
 * small.
 */
static size_t
be_to_decimal(const uint8_t *b, size_t n, char *out, size_t cap)
{
	uint32_t	limb[EVM_TOKEN_ID_BYTES / 4] = {0};
	size_t		nlimbs = (n + 3) / 4;
	char		rev[96];		/* 9 digits per round, 9 rounds at most */
	size_t		ndig = 0;

	for (size_t i = 0; i < n; i++)
	{
		size_t		bit = 8 * (n - 1 - i);

		limb[bit / 32] |= (uint32_t) b[i] << (bit % 32);
	}
	/* Divide by 10^9 repeatedly, emitting 9 digits (reversed) each time. */
	for (;;)
	{
		uint64_t	rem = 0;
		bool		zero = true;

		for (size_t j = nlimbs; j-- > 0;)
		{
			uint64_t	cur = (rem << 32) | limb[j];

			limb[j] = (uint32_t) (cur / 1000000000u);
			rem = cur % 1000000000u;
			if (limb[j] != 0)
				zero = false;
		}
		for (int k = 0; k < 9; k++)
		{
			rev[ndig++] = (char) ('0' + rem % 10);
			rem /= 10;
		}
		if (zero)
			break;
	}
	while (ndig > 1 && rev[ndig - 1] == '0')
		ndig--;
	if (ndig + 1 > cap)
		return 0;
	for (size_t i = 0; i < ndig; i++)
		out[i] = rev[ndig - 1 - i];
	out[ndig] = '\0';
	return ndig;
}

/* A bounded output buffer. */
typedef struct writer
{
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
	bool		overflow;
} writer;

static void
put(writer *w, const void *p, size_t n)
{
	if (w->overflow || n > w->cap - w->len)
	{
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
put_byte(writer *w, uint8_t b)
{
	put(w, &b, 1);
}

static void
put_cstring(writer *w, span s)
{
	put(w, s.p, s.n);
	put_byte(w, 0);
}

/* Slot tag of a namespace among sorted special names (see the header). */
static uint8_t
ns_tag(span ns, const char *const *names, int count, int *special)
{
	int			below = 0;

	*special = -1;
	for (int i = 0; i < count; i++)
	{
		size_t		nlen = strlen(names[i]);
		int			c = memcmp(ns.p, names[i], ns.n < nlen ? ns.n : nlen);

		if (c == 0)
			c = (ns.n > nlen) - (ns.n < nlen);
		if (c == 0)
		{
			*special = i;
			return (uint8_t) (2 * i + 2);
		}
		if (c > 0)
			below = i + 1;
	}
	return (uint8_t) (2 * below + 1);
}

static bool
all_digits(span s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!is_digit((unsigned char) s.p[i]))
			return false;
	return true;
}

static size_t
encode_evm_chain(writer *w, span ref, caip_error *err)
{
	uint8_t		be[EVM_TOKEN_ID_BYTES];
	int			n;

	if (!all_digits(ref))
		return fail(err, CAIP_PART_CHAIN_REF,
					"The chain reference of an eip155 chain must be a decimal chain id, not \"%.*s\".",
					(int) ref.n, ref.p);
	if (ref.n > 1 && ref.p[0] == '0')
		return fail(err, CAIP_PART_CHAIN_REF,
					"The chain reference of an eip155 chain must not have leading zeros: \"%.*s\".",
					(int) ref.n, ref.p);
	n = decimal_to_be(ref.p, ref.n, be, EVM_CHAIN_ID_BYTES);
	if (n < 0)					/* cannot happen for 32 digits; kept as a guard */
		return fail(err, CAIP_PART_CHAIN_REF, "The chain reference is too large.");
	put_byte(w, TAG_EIP155);
	put_byte(w, (uint8_t) n);
	put(w, be, (size_t) n);
	return 1;
}

static size_t
encode_evm_address(writer *w, span ns, span ref, caip_error *err)
{
	uint8_t		addr[EVM_ADDRESS_LEN];
	size_t		ndigits;

	if (ref.n < 2 || ref.p[0] != '0' || (ref.p[1] != 'x' && ref.p[1] != 'X'))
		return fail(err, CAIP_PART_ASSET_REF,
					"The asset reference of an %.*s asset must be \"0x\" followed by 40 hex digits.",
					(int) ns.n, ns.p);
	ndigits = ref.n - 2;
	for (size_t i = 0; i < ndigits; i++)
		if (hex_value((unsigned char) ref.p[2 + i]) < 0)
			return fail(err, CAIP_PART_ASSET_REF,
						"The asset reference of an %.*s asset has the non-hex character \"%c\" at position %zu.",
						(int) ns.n, ns.p, ref.p[2 + i], ref.pos + 2 + i);
	if (ndigits != 2 * EVM_ADDRESS_LEN)
		return fail(err, CAIP_PART_ASSET_REF,
					"The asset reference of an %.*s asset must be \"0x\" followed by 40 hex digits, not %zu.",
					(int) ns.n, ns.p, ndigits);
	for (int i = 0; i < EVM_ADDRESS_LEN; i++)
		addr[i] = (uint8_t) (hex_value((unsigned char) ref.p[2 + 2 * i]) << 4 |
							 hex_value((unsigned char) ref.p[3 + 2 * i]));
	put(w, addr, EVM_ADDRESS_LEN);
	return 1;
}

static size_t
encode_evm_token_id(writer *w, span id, caip_error *err)
{
	uint8_t		be[EVM_TOKEN_ID_BYTES];
	int			n;

	if (!all_digits(id))
		return fail(err, CAIP_PART_TOKEN_ID,
					"The token id of an eip155 token must be a decimal integer, not \"%.*s\".",
					(int) id.n, id.p);
	n = decimal_to_be(id.p, id.n, be, EVM_TOKEN_ID_BYTES);
	if (n < 0)
		return fail(err, CAIP_PART_TOKEN_ID,
					"The token id of an eip155 token must be below 2^256.");
	put_byte(w, (uint8_t) n);
	put(w, be, (size_t) n);
	return 1;
}

size_t
caip_parse(const char *text, size_t len, uint8_t out[CAIP_ENCODED_MAX],
		   caip_error *err)
{
	const char *end = text + len;
	writer		w = {out, 0, CAIP_ENCODED_MAX, false};
	span		chain_ns,
				chain_ref,
				asset_ns,
				asset_ref,
				token_id = {NULL, 0, 0};
	bool		has_token = false;
	bool		evm;
	const char *p;

	/* Split into parts and check each against the grammar. */
	chain_ns = next_run(text, text, end);
	if (!check_span(chain_ns, &rule_chain_ns, err))
		return 0;
	p = chain_ns.p + chain_ns.n;
	if (p == end || *p != ':')
		return fail(err, CAIP_PART_CHAIN_NS,
					"The chain namespace must be followed by \":\" and a chain reference.");
	chain_ref = next_run(text, p + 1, end);
	if (!check_span(chain_ref, &rule_chain_ref, err))
		return 0;
	p = chain_ref.p + chain_ref.n;
	if (p == end || *p != '/')
		return fail(err, CAIP_PART_CHAIN_REF,
					"The chain reference must be followed by \"/\" and an asset type (asset namespace \":\" asset reference).");
	asset_ns = next_run(text, p + 1, end);
	if (!check_span(asset_ns, &rule_asset_ns, err))
		return 0;
	p = asset_ns.p + asset_ns.n;
	if (p == end || *p != ':')
		return fail(err, CAIP_PART_ASSET_NS,
					"The asset namespace must be followed by \":\" and an asset reference.");
	asset_ref = next_run(text, p + 1, end);
	if (!check_span(asset_ref, &rule_asset_ref, err))
		return 0;
	p = asset_ref.p + asset_ref.n;
	if (p != end)
	{
		if (*p != '/')
			return fail(err, CAIP_PART_ASSET_REF,
						"The asset reference has the character \":\" at position %zu; it may only be followed by \"/\" and a token id.",
						(size_t) (p - text) + 1);
		has_token = true;
		token_id.p = p + 1;
		token_id.n = (size_t) (end - token_id.p);
		token_id.pos = (size_t) (token_id.p - text) + 1;
		if (!check_span(token_id, &rule_token_id, err))
			return 0;
	}

	/* Encode, applying the EVM profile under eip155. */
	evm = span_is(chain_ns, "eip155");
	if (evm)
	{
		int			special;
		uint8_t		tag;

		if (!encode_evm_chain(&w, chain_ref, err))
			return 0;
		tag = ns_tag(asset_ns, evm_asset_ns, N_EVM_ASSET_NS, &special);
		put_byte(&w, tag);
		if (special >= 0)
		{
			if (!encode_evm_address(&w, asset_ns, asset_ref, err))
				return 0;
		}
		else
		{
			put_cstring(&w, asset_ns);
			put_cstring(&w, asset_ref);
		}
		if (has_token && !encode_evm_token_id(&w, token_id, err))
			return 0;
	}
	else
	{
		static const char *const eip155[] = {"eip155"};
		int			special;

		put_byte(&w, ns_tag(chain_ns, eip155, 1, &special));
		put_cstring(&w, chain_ns);
		put_cstring(&w, chain_ref);
		put_cstring(&w, asset_ns);
		put_cstring(&w, asset_ref);
		if (has_token)
			put(&w, token_id.p, token_id.n);
	}
	if (w.overflow)				/* cannot happen: the parts are bounded */
		return fail(err, CAIP_PART_NONE, "The token is too long.");
	return w.len;
}

/* A bounded reader over an encoding. */
typedef struct reader
{
	const uint8_t *p;
	size_t		len;
	size_t		pos;
} reader;

static bool
get_byte(reader *r, uint8_t *b)
{
	if (r->pos >= r->len)
		return false;
	*b = r->p[r->pos++];
	return true;
}

/* A NUL-terminated string of 1..max bytes; copies it out as text. */
static bool
get_cstring(reader *r, writer *w, size_t max)
{
	const uint8_t *s = r->p + r->pos;
	size_t		avail = r->len - r->pos;
	const uint8_t *nul = memchr(s, 0, avail < max + 1 ? avail : max + 1);

	if (nul == NULL || nul == s)
		return false;
	put(w, s, (size_t) (nul - s));
	r->pos += (size_t) (nul - s) + 1;
	return true;
}

static bool
get_number(reader *r, writer *w, size_t max_bytes)
{
	uint8_t		n;
	char		digits[80];
	size_t		ndig;

	if (!get_byte(r, &n) || n > max_bytes || n > r->len - r->pos)
		return false;
	ndig = be_to_decimal(r->p + r->pos, n, digits, sizeof(digits));
	if (ndig == 0)
		return false;
	put(w, digits, ndig);
	r->pos += n;
	return true;
}

size_t
caip_format(const uint8_t *enc, size_t len, char out[CAIP_TEXT_MAX + 1])
{
	static const char hexdig[] = "0123456789abcdef";
	reader		r = {enc, len, 0};
	writer		w = {(uint8_t *) out, 0, CAIP_TEXT_MAX, false};
	uint8_t		tag;
	bool		evm;

	if (!get_byte(&r, &tag))
		return 0;
	evm = (tag == TAG_EIP155);
	if (evm)
	{
		put(&w, "eip155:", 7);
		if (!get_number(&r, &w, EVM_CHAIN_ID_BYTES))
			return 0;
	}
	else if (tag == TAG_LOW || tag == TAG_HIGH)
	{
		if (!get_cstring(&r, &w, CAIP_NS_MAX))
			return 0;
		put_byte(&w, ':');
		if (!get_cstring(&r, &w, CAIP_CHAIN_REF_MAX))
			return 0;
	}
	else
		return 0;
	put_byte(&w, '/');

	if (evm && !get_byte(&r, &tag))
		return 0;
	if (evm && tag >= 2 && tag <= 2 * N_EVM_ASSET_NS && tag % 2 == 0)
	{
		const char *ns = evm_asset_ns[tag / 2 - 1];

		if (r.len - r.pos < EVM_ADDRESS_LEN)
			return 0;
		put(&w, ns, strlen(ns));
		put(&w, ":0x", 3);
		for (int i = 0; i < EVM_ADDRESS_LEN; i++)
		{
			put_byte(&w, (uint8_t) hexdig[r.p[r.pos + i] >> 4]);
			put_byte(&w, (uint8_t) hexdig[r.p[r.pos + i] & 0x0f]);
		}
		r.pos += EVM_ADDRESS_LEN;
	}
	else if (!evm || (tag >= 1 && tag <= 2 * N_EVM_ASSET_NS + 1))
	{
		if (!get_cstring(&r, &w, CAIP_NS_MAX))
			return 0;
		put_byte(&w, ':');
		if (!get_cstring(&r, &w, CAIP_ASSET_REF_MAX))
			return 0;
	}
	else
		return 0;

	if (r.pos < r.len)
	{
		put_byte(&w, '/');
		if (evm)
		{
			if (!get_number(&r, &w, EVM_TOKEN_ID_BYTES) || r.pos != r.len)
				return 0;
		}
		else
		{
			size_t		n = r.len - r.pos;

			if (n > CAIP_TOKEN_ID_MAX || memchr(r.p + r.pos, 0, n) != NULL)
				return 0;
			put(&w, r.p + r.pos, n);
		}
	}
	if (w.overflow)
		return 0;
	out[w.len] = '\0';
	return w.len;
}

bool
caip_valid_encoding(const uint8_t *enc, size_t len)
{
	char		text[CAIP_TEXT_MAX + 1];
	uint8_t		again[CAIP_ENCODED_MAX];
	caip_error	err;
	size_t		tlen,
				elen;

	if (len == 0 || len > CAIP_ENCODED_MAX)
		return false;
	tlen = caip_format(enc, len, text);
	if (tlen == 0)
		return false;
	elen = caip_parse(text, tlen, again, &err);
	return elen == len && memcmp(again, enc, len) == 0;
}
