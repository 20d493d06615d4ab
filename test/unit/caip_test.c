/*
 * caip_test.c
 *	  Unit tests of the pure-C CAIP-19 parser and encoding (src/caip.c), in TAP.
 *
 * Black-box through caip.h: canonical text of accepted spellings, the error
 * part and message for every class of bad input (including the NUL bytes and
 * non-ASCII only binary input can carry), the documented order (checked
 * against a reference comparison on random EVM tokens), and the encoding
 * validator on truncated, padded and non-canonical bytes.
 */
// sources: src/caip.c
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caip.h"

static int	tests_run;
static int	tests_failed;

static void
ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static void
ok(int cond, const char *fmt, ...)
{
	va_list		ap;

	tests_run++;
	if (!cond)
		tests_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tests_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define ADDR "0x06012c8cf97bead5deae237070f9587f8e7a266d"
#define ADDR_UC "0x06012C8CF97BEAD5DEAE237070F9587F8E7A266D"
#define TWO256 "115792089237316195423570985008687907853269984665640564039457584007913129639936"
#define TWO256_1 "115792089237316195423570985008687907853269984665640564039457584007913129639935"

/* Parse and format; returns the canonical text in a static buffer or NULL. */
static const char *
canon(const char *in, size_t len)
{
	static char text[CAIP_TEXT_MAX + 1];
	uint8_t		enc[CAIP_ENCODED_MAX];
	caip_error	err;
	size_t		n = caip_parse(in, len, enc, &err);

	if (n == 0 || caip_format(enc, n, text) == 0 || !caip_valid_encoding(enc, n))
		return NULL;
	return text;
}

static void
accepts(const char *in, const char *want)
{
	const char *got = canon(in, strlen(in));

	ok(got != NULL && strcmp(got, want) == 0, "\"%s\" -> \"%s\" (got \"%s\")",
	   in, want, got ? got : "(rejected)");
}

static void
rejects_len(const char *in, size_t len, caip_part part, const char *fragment, const char *label)
{
	uint8_t		enc[CAIP_ENCODED_MAX];
	caip_error	err = {CAIP_PART_NONE, ""};
	size_t		n = caip_parse(in, len, enc, &err);

	ok(n == 0 && err.part == part && strstr(err.detail, fragment) != NULL,
	   "%s rejected: %s (detail: %s)", label, caip_part_name(part),
	   n ? "(accepted)" : err.detail);
}

static void
rejects(const char *in, caip_part part, const char *fragment)
{
	char		label[400];

	snprintf(label, sizeof(label), "\"%s\"", in);
	rejects_len(in, strlen(in), part, fragment, label);
}

static size_t
encode(const char *in, uint8_t *enc)
{
	caip_error	err;

	return caip_parse(in, strlen(in), enc, &err);
}

static int
cmp_text(const char *a, const char *b)
{
	uint8_t		ea[CAIP_ENCODED_MAX],
				eb[CAIP_ENCODED_MAX];
	size_t		na = encode(a, ea),
				nb = encode(b, eb);

	int			c;

	if (na == 0 || nb == 0)
		return 99;
	c = caip_compare(ea, na, eb, nb);
	return (c > 0) - (c < 0);
}

static void
test_accepts(void)
{
	char		buf[512];

	accepts("eip155:1/erc721:" ADDR "/771769", "eip155:1/erc721:" ADDR "/771769");
	accepts("eip155:1/erc721:" ADDR_UC "/771769", "eip155:1/erc721:" ADDR "/771769");
	accepts("eip155:1/erc721:0X06012c8cf97BEAD5deae237070f9587f8e7a266d/1",
			"eip155:1/erc721:" ADDR "/1");
	accepts("eip155:1/erc721:" ADDR "/000771769", "eip155:1/erc721:" ADDR "/771769");
	accepts("eip155:1/erc721:" ADDR "/0", "eip155:1/erc721:" ADDR "/0");
	accepts("eip155:1/erc721:" ADDR "/0000", "eip155:1/erc721:" ADDR "/0");
	accepts("eip155:1/erc1155:" ADDR "/" TWO256_1, "eip155:1/erc1155:" ADDR "/" TWO256_1);
	snprintf(buf, sizeof(buf), "eip155:1/erc721:" ADDR "/%078d", 5);
	accepts(buf, "eip155:1/erc721:" ADDR "/5");
	accepts("eip155:1/erc20:" ADDR_UC, "eip155:1/erc20:" ADDR);
	accepts("eip155:0/erc20:" ADDR, "eip155:0/erc20:" ADDR);
	accepts("eip155:99999999999999999999999999999999/erc20:" ADDR,
			"eip155:99999999999999999999999999999999/erc20:" ADDR);
	accepts("eip155:1/slip44:60", "eip155:1/slip44:60");
	accepts("eip155:1/abc:Some.Ref%20-x/12", "eip155:1/abc:Some.Ref%20-x/12");
	accepts("eip155:1/erc20x:0xABC/0012", "eip155:1/erc20x:0xABC/12");
	accepts("cosmos:cosmoshub-3/slip44:118", "cosmos:cosmoshub-3/slip44:118");
	accepts("bip122:000000000019d6689c085ae165831e93/slip44:0",
			"bip122:000000000019d6689c085ae165831e93/slip44:0");
	accepts("hedera:mainnet/nft:0.0.55492/12", "hedera:mainnet/nft:0.0.55492/12");
	accepts("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:ABC/0001",
			"solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:ABC/0001");
	accepts("abc:A_b-C/xyz:-.%/-.%", "abc:A_b-C/xyz:-.%/-.%");
	accepts("abcdefgh:x/a-9:y", "abcdefgh:x/a-9:y");
	/* the longest generic token: every part at its maximum */
	snprintf(buf, sizeof(buf), "abcdefgh:%.32s/abcdefgh:%.128s/%.78s",
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			 "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
	ok(strlen(buf) == CAIP_TEXT_MAX, "the longest token has %d characters", CAIP_TEXT_MAX);
	accepts(buf, buf);
	{
		uint8_t		enc[CAIP_ENCODED_MAX];
		size_t		n = encode(buf, enc);

		ok(n > 0 && n <= CAIP_ENCODED_MAX, "the longest token encodes in %zu <= %d bytes",
		   n, CAIP_ENCODED_MAX);
	}
	{
		uint8_t		enc[CAIP_ENCODED_MAX];
		size_t		n = encode("eip155:1/erc721:" ADDR "/1234", enc);

		ok(n == 27, "an EVM NFT (chain 1, 16-bit token id) encodes in 27 bytes (%zu)", n);
	}
}

static void
test_rejects(void)
{
	char		buf[512];

	/* structure */
	rejects("", CAIP_PART_CHAIN_NS, "is empty");
	rejects("eip155", CAIP_PART_CHAIN_NS, "followed by \":\"");
	rejects("eip155/1", CAIP_PART_CHAIN_NS, "followed by \":\"");
	rejects(":1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "is empty");
	rejects("eip155:", CAIP_PART_CHAIN_REF, "is empty");
	rejects("eip155:/erc20:" ADDR, CAIP_PART_CHAIN_REF, "is empty");
	rejects("eip155:1", CAIP_PART_CHAIN_REF, "followed by \"/\"");
	rejects("eip155:1:2/erc20:" ADDR, CAIP_PART_CHAIN_REF, "followed by \"/\"");
	rejects("eip155:1/", CAIP_PART_ASSET_NS, "is empty");
	rejects("eip155:1/erc20", CAIP_PART_ASSET_NS, "followed by \":\"");
	rejects("eip155:1/erc20/" ADDR, CAIP_PART_ASSET_NS, "followed by \":\"");
	rejects("eip155:1/erc20:", CAIP_PART_ASSET_REF, "is empty");
	rejects("eip155:1/erc20:/1", CAIP_PART_ASSET_REF, "is empty");
	rejects("eip155:1/erc20:" ADDR ":1", CAIP_PART_ASSET_REF, "\":\" at position 58");
	rejects("eip155:1/erc721:" ADDR "/", CAIP_PART_TOKEN_ID, "is empty");
	rejects("cosmos:hub/slip44:118/", CAIP_PART_TOKEN_ID, "is empty");
	rejects("eip155:1/erc721:" ADDR "/1/2", CAIP_PART_TOKEN_ID, "\"/\"");
	rejects("cosmos:hub/nft:a/b/c", CAIP_PART_TOKEN_ID, "\"/\" at position 19");
	rejects("cosmos:hub/nft:a/b:c", CAIP_PART_TOKEN_ID, "\":\"");
	/* characters */
	rejects(" eip155:1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "byte 0x20 at position 1");
	rejects("eip155 :1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "byte 0x20 at position 7");
	rejects("eip155:1 /erc20:" ADDR, CAIP_PART_CHAIN_REF, "byte 0x20");
	rejects("eip155:1/erc20:" ADDR " ", CAIP_PART_ASSET_REF, "byte 0x20");
	rejects("eip155:1/erc721:" ADDR "/1 ", CAIP_PART_TOKEN_ID, "byte 0x20");
	rejects("EIP155:1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "\"E\"");
	rejects("eip_155:1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "\"_\"");
	rejects("eip155:1/ERC20:" ADDR, CAIP_PART_ASSET_NS, "\"E\"");
	rejects("cosmos:hub.3/slip44:118", CAIP_PART_CHAIN_REF, "\".\"");
	rejects("cosmos:hub/slip44:1_18", CAIP_PART_ASSET_REF, "\"_\"");
	rejects("cosmos:hub/nft:x/a_b", CAIP_PART_TOKEN_ID, "\"_\"");
	rejects("eip155:1/erc20:\\x06012c8cf97bead5deae237070f9587f8e7a266d", CAIP_PART_ASSET_REF, "\"\\\"");
	rejects("cosmos:hub/nft:caf\xc3\xa9", CAIP_PART_ASSET_REF, "byte 0xc3");
	rejects_len("eip155:1/erc20:" ADDR "\0", strlen("eip155:1/erc20:" ADDR) + 1,
				CAIP_PART_ASSET_REF, "byte 0x00 at position 58", "trailing NUL");
	rejects_len("eip155:1/erc721:" ADDR "/1\0002", strlen("eip155:1/erc721:" ADDR) + 4,
				CAIP_PART_TOKEN_ID, "byte 0x00", "NUL inside the token id");
	rejects_len("eip\000155:1/erc20:x", 18, CAIP_PART_CHAIN_NS, "byte 0x00", "NUL in the namespace");
	/* lengths */
	rejects("ab:1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "has 2 characters; it must have 3 to 8");
	rejects("abcdefghi:1/erc20:" ADDR, CAIP_PART_CHAIN_NS, "has 9 characters");
	rejects("cosmos:hub/ab:1", CAIP_PART_ASSET_NS, "has 2 characters");
	rejects("cosmos:hub/abcdefghi:1", CAIP_PART_ASSET_NS, "has 9 characters");
	rejects("cosmos:123456789012345678901234567890123/ab:1", CAIP_PART_CHAIN_REF,
			"has 33 characters; at most 32");
	snprintf(buf, sizeof(buf), "cosmos:hub/nft:%0129d", 7);
	rejects(buf, CAIP_PART_ASSET_REF, "has 129 characters; at most 128");
	snprintf(buf, sizeof(buf), "cosmos:hub/nft:%0128d", 7);
	accepts(buf, buf);
	snprintf(buf, sizeof(buf), "cosmos:hub/nft:x/%079d", 7);
	rejects(buf, CAIP_PART_TOKEN_ID, "has 79 characters; at most 78");
	snprintf(buf, sizeof(buf), "eip155:1/erc721:" ADDR "/%079d", 7);
	rejects(buf, CAIP_PART_TOKEN_ID, "has 79 characters");
	/* EVM profile */
	rejects("eip155:01/erc20:" ADDR, CAIP_PART_CHAIN_REF, "leading zeros: \"01\"");
	rejects("eip155:00/erc20:" ADDR, CAIP_PART_CHAIN_REF, "leading zeros");
	rejects("eip155:0x1/erc20:" ADDR, CAIP_PART_CHAIN_REF, "decimal chain id");
	rejects("eip155:-1/erc20:" ADDR, CAIP_PART_CHAIN_REF, "decimal chain id");
	rejects("eip155:mainnet/erc20:" ADDR, CAIP_PART_CHAIN_REF, "decimal chain id");
	rejects("eip155:1/erc20:0x06012c8cf97bead5deae237070f9587f8e7a266", CAIP_PART_ASSET_REF,
			"40 hex digits, not 39");
	rejects("eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266d0", CAIP_PART_ASSET_REF,
			"40 hex digits, not 41");
	rejects("eip155:1/erc1155:0x", CAIP_PART_ASSET_REF, "not 0");
	rejects("eip155:1/erc20:06012c8cf97bead5deae237070f9587f8e7a266d11", CAIP_PART_ASSET_REF,
			"an erc20 asset must be \"0x\"");
	rejects("eip155:1/erc20:0", CAIP_PART_ASSET_REF, "must be \"0x\"");
	rejects("eip155:1/erc721:0x06012c8cf97bead5deae237070f9587f8e7a266g", CAIP_PART_ASSET_REF,
			"non-hex character \"g\" at position 58");
	rejects("eip155:1/erc721:" ADDR "/" TWO256, CAIP_PART_TOKEN_ID, "below 2^256");
	rejects("eip155:1/erc721:" ADDR "/999999999999999999999999999999999999999999999999999999999999999999999999999999",
			CAIP_PART_TOKEN_ID, "below 2^256");
	rejects("eip155:1/erc721:" ADDR "/0x10", CAIP_PART_TOKEN_ID, "decimal integer");
	rejects("eip155:1/erc721:" ADDR "/-1", CAIP_PART_TOKEN_ID, "decimal integer");
	rejects("eip155:1/erc721:" ADDR "/1.5", CAIP_PART_TOKEN_ID, "decimal integer");
	rejects("eip155:1/slip44:60/abc", CAIP_PART_TOKEN_ID, "decimal integer");
}

/* Equal tokens in any spelling: same bytes. */
static void
test_equality(void)
{
	ok(cmp_text("eip155:1/erc721:" ADDR "/7", "eip155:1/erc721:" ADDR_UC "/0007") == 0,
	   "upper-case address and leading zeros encode identically");
	ok(cmp_text("cosmos:hub/nft:A", "cosmos:hub/nft:a") != 0,
	   "generic references are case-sensitive");
	ok(cmp_text("cosmos:hub/nft:x/01", "cosmos:hub/nft:x/1") != 0,
	   "generic token ids keep their leading zeros");
}

/* The documented order, as a list sorted ascending. */
static void
test_order(void)
{
	static const char *const sorted[] = {
		"abc:z/nft:x",
		"bip122:000000000019d6689c085ae165831e93/slip44:0",
		"cosmos:a/slip44:118",
		"cosmos:a/slip44:118/0",
		"cosmos:a/slip44:118/00",
		"cosmos:a/slip44:118/1",
		"cosmos:a/slip44:118/10",
		"cosmos:a/slip44:118/2",
		"cosmos:a/slip44:119",
		"cosmos:a/slip44:119a",
		"cosmos:ab/slip44:1",
		"eip155:0/erc20:" ADDR,
		"eip155:1/abc:z",
		"eip155:1/erc1155:0x0000000000000000000000000000000000000001",
		"eip155:1/erc1155:0x0000000000000000000000000000000000000001/5",
		"eip155:1/erc1155:0xff00000000000000000000000000000000000000",
		"eip155:1/erc1155x:a",
		"eip155:1/erc20:0x0000000000000000000000000000000000000000",
		"eip155:1/erc200:a",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/0",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/2",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/10",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/255",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/256",
		"eip155:1/erc721:0x0000000000000000000000000000000000000001/" TWO256_1,
		"eip155:1/erc721:0x0000000000000000000000000000000000000002",
		"eip155:1/erc721x:a",
		"eip155:1/slip44:60",
		"eip155:2/erc20:" ADDR,
		"eip155:10/erc20:" ADDR,
		"eip155:137/erc20:" ADDR,
		"eip155:99999999999999999999999999999999/erc20:" ADDR,
		"eip1550:1/x-y:1",
		"polkadot:b0a8d493285c2df73290dfb7e61f870f/slip44:354",
		"solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp/token:x",
	};
	int			n = (int) (sizeof(sorted) / sizeof(sorted[0]));
	int			bad = -1;

	for (int i = 0; i < n && bad < 0; i++)
		for (int j = 0; j < n && bad < 0; j++)
		{
			int			c = cmp_text(sorted[i], sorted[j]);
			int			want = (i > j) - (i < j);

			if (c == 99 || (c > 0) - (c < 0) != want)
				bad = i * n + j;
		}
	ok(bad < 0, "the %d sample tokens sort in the documented order%s%s%s%s", n,
	   bad < 0 ? "" : ": ", bad < 0 ? "" : sorted[bad / n],
	   bad < 0 ? "" : " vs ", bad < 0 ? "" : sorted[bad % n]);
}

/* Random EVM tokens: order = (chain id, namespace, address, token id). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

typedef struct evm
{
	uint64_t	chain;
	int			ns;				/* 0 erc1155, 1 erc20, 2 erc721 */
	uint8_t		addr[20];
	int			has_id;
	uint64_t	id;
} evm;

static void
evm_text(const evm *t, char *out, size_t cap)
{
	static const char *const names[] = {"erc1155", "erc20", "erc721"};
	int			n = snprintf(out, cap, "eip155:%llu/%s:0x", (unsigned long long) t->chain,
							 names[t->ns]);

	for (int i = 0; i < 20; i++)
		n += snprintf(out + n, cap - n, "%02X", t->addr[i]);
	if (t->has_id)
		snprintf(out + n, cap - n, "/%0*llu", (int) (rng() % 4) + 1, (unsigned long long) t->id);
}

static int
evm_cmp(const evm *a, const evm *b)
{
	int			c;

	if (a->chain != b->chain)
		return a->chain < b->chain ? -1 : 1;
	if (a->ns != b->ns)
		return a->ns < b->ns ? -1 : 1;
	if ((c = memcmp(a->addr, b->addr, 20)) != 0)
		return c < 0 ? -1 : 1;
	if (a->has_id != b->has_id)
		return a->has_id ? 1 : -1;
	if (a->has_id && a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return 0;
}

static uint64_t
small_or_big(void)
{
	uint64_t	r = rng();

	switch (r % 4)
	{
		case 0:
			return r >> 60;
		case 1:
			return (r >> 40) & 0xffff;
		case 2:
			return r >> 1;
		default:
			return r;
	}
}

static void
random_evm(evm *t)
{
	t->chain = small_or_big();
	t->ns = (int) (rng() % 3);
	for (int i = 0; i < 20; i++)
		t->addr[i] = (uint8_t) (rng() % 3 == 0 ? rng() : 0);
	t->has_id = (int) (rng() % 5 != 0);
	t->id = small_or_big();
}

static void
test_random_order(void)
{
	int			wrong = 0,
				bad_text = 0;

	for (int i = 0; i < 20000; i++)
	{
		evm			a,
					b;
		char		ta[200],
					tb[200];
		int			c;

		random_evm(&a);
		if (rng() % 4 == 0)
		{
			b = a;
			if (rng() % 2)
				b.id = small_or_big();
		}
		else
			random_evm(&b);
		evm_text(&a, ta, sizeof(ta));
		evm_text(&b, tb, sizeof(tb));
		c = cmp_text(ta, tb);
		if (c == 99)
			bad_text++;
		else if ((c > 0) - (c < 0) != evm_cmp(&a, &b))
			wrong++;
	}
	ok(bad_text == 0 && wrong == 0,
	   "20000 random EVM pairs: memcmp order is (chain id, namespace, address, token id) numerically (%d wrong, %d rejected)",
	   wrong, bad_text);
}

/* The validator accepts exactly the parser's output. */
static void
test_validator(void)
{
	static const char *const samples[] = {
		"eip155:1/erc721:" ADDR "/771769",
		("eip155:137/erc20:" ADDR),
		"eip155:1/slip44:60/0",
		"cosmos:cosmoshub-3/slip44:118",
		"hedera:mainnet/nft:0.0.55492/12",
	};
	uint8_t		enc[CAIP_ENCODED_MAX + 8];
	char		text[CAIP_TEXT_MAX + 1];
	int			all_valid = 1,
				truncated_ok = 1,
				padded_ok = 1;

	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++)
	{
		size_t		n = encode(samples[s], enc);

		if (!caip_valid_encoding(enc, n))
			all_valid = 0;
		for (size_t k = 0; k < n; k++)
			if (caip_valid_encoding(enc, k) && k != 0)
			{
				/* a prefix may be a valid asset type: check it formats to a prefix */
				if (caip_format(enc, k, text) == 0 || strncmp(text, samples[s], strlen(text)) != 0)
					truncated_ok = 0;
			}
		enc[n] = 0xff;
		if (caip_valid_encoding(enc, n + 1))
			padded_ok = 0;
	}
	ok(all_valid, "the validator accepts parser output");
	ok(truncated_ok, "every accepted prefix of an encoding is that token's asset type");
	ok(padded_ok, "a trailing byte is rejected");
	ok(!caip_valid_encoding(enc, 0), "the empty encoding is rejected");

	/* hand-made non-canonical encodings */
	{
		/* chain 1 with a leading zero byte: 02 02 00 01 */
		uint8_t		e1[] = {0x02, 0x02, 0x00, 0x01, 0x01, 'a', 'b', 'c', 0, 'x', 0};
		/* generic namespace "eip155" under tag 1 */
		uint8_t		e2[] = {0x01, 'e', 'i', 'p', '1', '5', '5', 0, '1', 0, 'a', 'b', 'c', 0, 'x', 0};
		/* namespace "abc" under tag 3 (it sorts before eip155) */
		uint8_t		e3[] = {0x03, 'a', 'b', 'c', 0, '1', 0, 'a', 'b', 'c', 0, 'x', 0};
		/* chain "abc" with a bad character in its reference */
		uint8_t		e4[] = {0x01, 'a', 'b', 'c', 0, '1', '.', 0, 'a', 'b', 'c', 0, 'x', 0};
		/* eip155 asset tag 4 (erc20) with a 19-byte address */
		uint8_t		e5[2 + 1 + 1 + 19] = {0x02, 0x01, 0x01, 0x04};
		/* generic eip155 asset namespace "erc20" under odd tag 3 */
		uint8_t		e6[] = {0x02, 0x01, 0x01, 0x03, 'e', 'r', 'c', '2', '0', 0, 'x', 0};
		/* unknown tag */
		uint8_t		e7[] = {0x04, 'a', 'b', 'c', 0, '1', 0, 'a', 'b', 'c', 0, 'x', 0};
		/* token id with a leading zero byte */
		uint8_t		e8[] = {0x02, 0x01, 0x01, 0x01, 'a', 'b', 'c', 0, 'x', 0, 0x02, 0x00, 0x05};
		/* token id longer than 32 bytes */
		uint8_t		e9[4 + 5 + 1 + 33] = {0x02, 0x01, 0x01, 0x01, 'a', 'b', 'c', 0, 'x', 0, 33, 0xff};
		/* a chain id of 14 bytes (more than 32 digits) */
		uint8_t		e10[] = {0x02, 14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0x01, 'a', 'b', 'c', 0, 'x', 0};
		/* generic token id with a NUL */
		uint8_t		e11[] = {0x01, 'a', 'b', 'c', 0, '1', 0, 'a', 'b', 'c', 0, 'x', 0, 'a', 0, 'b'};
		/* an unterminated namespace */
		uint8_t		e12[] = {0x01, 'a', 'b', 'c'};

		ok(!caip_valid_encoding(e1, sizeof(e1)), "non-minimal chain id rejected");
		ok(!caip_valid_encoding(e2, sizeof(e2)), "eip155 spelled as a generic chain rejected");
		ok(!caip_valid_encoding(e3, sizeof(e3)), "namespace under the wrong slot tag rejected");
		ok(!caip_valid_encoding(e4, sizeof(e4)), "bad character in a stored reference rejected");
		ok(!caip_valid_encoding(e5, sizeof(e5)) && caip_format(e5, sizeof(e5), text) == 0,
		   "short address rejected by the validator and the formatter");
		ok(!caip_valid_encoding(e6, sizeof(e6)), "erc20 as a generic asset namespace rejected");
		ok(!caip_valid_encoding(e7, sizeof(e7)) && caip_format(e7, sizeof(e7), text) == 0,
		   "unknown tag rejected");
		ok(!caip_valid_encoding(e8, sizeof(e8)), "non-minimal token id rejected");
		ok(!caip_valid_encoding(e9, sizeof(e9)) && caip_format(e9, sizeof(e9), text) == 0,
		   "33-byte token id rejected");
		ok(!caip_valid_encoding(e10, sizeof(e10)), "chain id above 32 digits rejected");
		ok(!caip_valid_encoding(e11, sizeof(e11)) && caip_format(e11, sizeof(e11), text) == 0,
		   "NUL in a generic token id rejected");
		ok(!caip_valid_encoding(e12, sizeof(e12)) && caip_format(e12, sizeof(e12), text) == 0,
		   "unterminated namespace rejected");
	}
}

/* The formatter never fails to terminate or overruns on random bytes. */
static void
test_random_bytes(void)
{
	static const uint8_t alphabet[] = {1, 2, 3, 4, 5, 6, 20, 0, 0, 'a', 'b', 'c', '1', 'x'};
	uint8_t		buf[CAIP_ENCODED_MAX];
	char		text[CAIP_TEXT_MAX + 1];
	int			lengths_ok = 1;
	int			reparse_ok = 1;

	for (int i = 0; i < 200000; i++)
	{
		size_t		len = (size_t) (rng() % sizeof(buf));
		size_t		n;

		for (size_t k = 0; k < len; k++)
			buf[k] = rng() % 4 == 0 ? (uint8_t) rng() : alphabet[rng() % sizeof(alphabet)];
		n = caip_format(buf, len, text);
		if (n > CAIP_TEXT_MAX || (n > 0 && strlen(text) != n))
			lengths_ok = 0;
		if (caip_valid_encoding(buf, len))
		{
			uint8_t		again[CAIP_ENCODED_MAX];

			if (encode(text, again) != len || memcmp(again, buf, len) != 0)
				reparse_ok = 0;
		}
	}
	ok(lengths_ok, "formatting 200000 random byte strings stays within bounds");
	ok(reparse_ok, "every random byte string the validator accepts re-encodes identically");
}

static void
test_part_names(void)
{
	ok(strcmp(caip_part_name(CAIP_PART_CHAIN_NS), "chain namespace") == 0 &&
	   strcmp(caip_part_name(CAIP_PART_CHAIN_REF), "chain reference") == 0 &&
	   strcmp(caip_part_name(CAIP_PART_ASSET_NS), "asset namespace") == 0 &&
	   strcmp(caip_part_name(CAIP_PART_ASSET_REF), "asset reference") == 0 &&
	   strcmp(caip_part_name(CAIP_PART_TOKEN_ID), "token id") == 0 &&
	   strcmp(caip_part_name(CAIP_PART_NONE), "token") == 0,
	   "part names");
}

int
main(void)
{
	test_accepts();
	test_rejects();
	test_equality();
	test_order();
	test_random_order();
	test_validator();
	test_random_bytes();
	test_part_names();
	printf("1..%d\n", tests_run);
	return tests_failed != 0;
}
