/*
 * caip_fuzz.c
 *	  libFuzzer harness for the CAIP-19 parser and encoding (src/caip.c).
 *
 * Each input is used twice:
 *	- as text: if caip_parse accepts it, the encoding must be valid, format
 *	  to a canonical text that parses back to the identical bytes (so
 *	  canonicalisation is idempotent), and compare equal to itself;
 *	- as stored bytes: caip_format must stay in bounds on anything, and when
 *	  caip_valid_encoding accepts the bytes, their text must re-encode to
 *	  them exactly.
 * The input is copied to an exact-size heap buffer so that ASan catches any
 * read past its end.
 */
// sources: src/caip.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "caip.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void
fuzz_text(const char *text, size_t len)
{
	uint8_t		enc[CAIP_ENCODED_MAX];
	uint8_t		again[CAIP_ENCODED_MAX];
	char		canon[CAIP_TEXT_MAX + 1];
	caip_error	err;
	size_t		n = caip_parse(text, len, enc, &err);
	size_t		tlen,
				n2;

	if (n == 0)
	{
		CHECK(err.part >= CAIP_PART_CHAIN_NS && err.part <= CAIP_PART_TOKEN_ID);
		CHECK(memchr(err.detail, 0, sizeof(err.detail)) != NULL && err.detail[0] != '\0');
		return;
	}
	CHECK(n <= CAIP_ENCODED_MAX);
	CHECK(caip_valid_encoding(enc, n));
	tlen = caip_format(enc, n, canon);
	CHECK(tlen > 0 && tlen <= len && tlen <= CAIP_TEXT_MAX);	/* canonical text is never longer */
	CHECK(strlen(canon) == tlen);
	n2 = caip_parse(canon, tlen, again, &err);
	CHECK(n2 == n && memcmp(again, enc, n) == 0);
	CHECK(caip_compare(enc, n, again, n2) == 0);
}

static void
fuzz_bytes(const uint8_t *data, size_t len)
{
	char		text[CAIP_TEXT_MAX + 1];
	uint8_t		again[CAIP_ENCODED_MAX];
	caip_error	err;
	size_t		tlen = caip_format(data, len, text);

	CHECK(tlen <= CAIP_TEXT_MAX);
	if (tlen > 0)
		CHECK(strlen(text) == tlen);
	if (caip_valid_encoding(data, len))
	{
		CHECK(tlen > 0);
		CHECK(caip_parse(text, tlen, again, &err) == len && memcmp(again, data, len) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	fuzz_text((const char *) copy, size);
	fuzz_bytes(copy, size);
	free(copy);
	return 0;
}
