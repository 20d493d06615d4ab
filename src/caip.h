/*
 * caip.h
 *	  CAIP-19 token identifiers: parser, canonicaliser and compact,
 *	  order-preserving binary encoding.  Pure C (libc only), so it can be
 *	  unit-tested and fuzzed without a server; src/token.c wraps it as the
 *	  SQL type dht.token.  The grammar, the EVM profile and the encoding are
 *	  described at the top of caip.c.
 */
#ifndef DHT_CAIP_H
#define DHT_CAIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define CAIP_NS_MIN			3
#define CAIP_NS_MAX			8
#define CAIP_CHAIN_REF_MAX	32
#define CAIP_ASSET_REF_MAX	128
#define CAIP_TOKEN_ID_MAX	78

/* Longest text: ns:chain_ref/ns:asset_ref/token_id at their maxima. */
#define CAIP_TEXT_MAX \
	(CAIP_NS_MAX + 1 + CAIP_CHAIN_REF_MAX + 1 + CAIP_NS_MAX + 1 + \
	 CAIP_ASSET_REF_MAX + 1 + CAIP_TOKEN_ID_MAX)
/* Longest encoding (a generic chain, asset and token id: 259 bytes). */
#define CAIP_ENCODED_MAX	260

/* The part of a token an error is about. */
typedef enum caip_part
{
	CAIP_PART_NONE = 0,
	CAIP_PART_CHAIN_NS,
	CAIP_PART_CHAIN_REF,
	CAIP_PART_ASSET_NS,
	CAIP_PART_ASSET_REF,
	CAIP_PART_TOKEN_ID
} caip_part;

typedef struct caip_error
{
	caip_part	part;
	char		detail[200];	/* a full sentence naming the part */
} caip_error;

/* "chain namespace", "chain reference", ... ("token" for CAIP_PART_NONE). */
extern const char *caip_part_name(caip_part part);

/*
 * Parse len bytes of text (any bytes: NULs and non-ASCII are rejected like
 * any other bad character) into out.  Returns the encoded length (> 0), or 0
 * with *err filled in.
 */
extern size_t caip_parse(const char *text, size_t len,
						 uint8_t out[CAIP_ENCODED_MAX], caip_error *err);

/*
 * Write the canonical text of an encoding to out, NUL-terminated, and return
 * its length; 0 if the bytes are not shaped like an encoding.  Reads only
 * enc[0 .. len-1] and writes at most CAIP_TEXT_MAX + 1 bytes whatever the
 * input, but does not prove the bytes canonical: see caip_valid_encoding.
 */
extern size_t caip_format(const uint8_t *enc, size_t len,
						  char out[CAIP_TEXT_MAX + 1]);

/* True iff enc is exactly what caip_parse produces for some text. */
extern bool caip_valid_encoding(const uint8_t *enc, size_t len);

/* The order of dht.token: bytewise, then shorter first; -1, 0 or 1. */
static inline int
caip_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int			c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return (alen > blen) - (alen < blen);
}

#endif							/* DHT_CAIP_H */
