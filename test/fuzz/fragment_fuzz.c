// sources: src/fragment.c
/*
 * fragment_fuzz.c
 *	  libFuzzer harness for the fragment guard (src/fragment.c).
 *
 * Input: a control byte, then fragments, each a 2-byte little-endian length
 * and that many bytes (the last one takes what is left).  Each fragment is
 * copied into a buffer of exactly its length, so ASan sees any read past it.
 * Control bit 0: re-seal every fragment's header and payload CRCs first, as
 * a forger would, so the fuzzer gets past the checksums to the size, index
 * and grouping rules.  Bit 1: also choose once trusting payload CRCs.  Every fragment is parsed, the set goes through
 * dht_fragments_choose, and whatever is chosen must be a consistent set of
 * k distinct, fully valid fragments.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fragment.h"

#define MAX_FRAGS 40

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

static void
reseal(uint8_t *buf, size_t len)
{
	if (len < DHT_FRAG_HEADER_SIZE)
		return;
	put32(buf + DHT_FRAG_OFF_CKSUM,
		  dht_crc32(0, buf + DHT_FRAG_HEADER_SIZE, len - DHT_FRAG_HEADER_SIZE));
	put32(buf + DHT_FRAG_OFF_METACRC, dht_crc32(0, buf, DHT_FRAG_META_SIZE));
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *bufs[MAX_FRAGS];
	DhtFragment frags[MAX_FRAGS];
	DhtFragStatus status[MAX_FRAGS];
	int			chosen[64];
	int			n = 0;
	int			valid,
				need,
				got;
	uint8_t		control;

	if (size < 1)
		return 0;
	control = data[0];
	data++;
	size--;
	while (size > 0 && n < MAX_FRAGS)
	{
		size_t		len = size;

		if (size >= 2 && n + 1 < MAX_FRAGS)
		{
			len = (size_t) data[0] | (size_t) data[1] << 8;
			data += 2;
			size -= 2;
			if (len > size)
				len = size;
		}
		bufs[n] = malloc(len > 0 ? len : 1);
		memcpy(bufs[n], data, len);
		if (control & 1)
			reseal(bufs[n], len);
		/* a zero-length entry stands for a NULL array entry */
		if (len == 0)
		{
			memset(&frags[n], 0, sizeof(frags[n]));
			status[n] = DHT_FRAG_OK;
		}
		else
		{
			status[n] = dht_fragment_check_header(bufs[n], len, &frags[n]);
			(void) dht_fragment_status_text(status[n]);
			(void) dht_fragment_parse(bufs[n], len, &(DhtFragment) {0});
		}
		data += len;
		size -= len;
		n++;
	}

	if (control & 2)
	{
		/* trusting payloads: must not misbehave either */
		DhtFragStatus trusted[MAX_FRAGS];

		memcpy(trusted, status, sizeof(DhtFragStatus) * n);
		(void) dht_fragments_choose(frags, n, trusted, chosen, &valid, &need, false);
	}
	got = dht_fragments_choose(frags, n, status, chosen, &valid, &need, true);
	if (got >= 0)
	{
		const DhtFragment *lead = &frags[chosen[0]];
		uint64_t	seen = 0;

		if (got != lead->k || valid != got || need != got)
			abort();
		for (int j = 0; j < got; j++)
		{
			const DhtFragment *f = &frags[chosen[j]];
			DhtFragment again;

			if (status[chosen[j]] != DHT_FRAG_OK ||
				dht_fragment_parse(f->buf, f->len, &again) != DHT_FRAG_OK ||
				f->k != lead->k || f->m != lead->m || f->size != lead->size ||
				f->orig_size != lead->orig_size || f->backend_id != lead->backend_id ||
				f->data_crc != lead->data_crc || f->index >= (uint32_t) (f->k + f->m) ||
				(seen & (UINT64_C(1) << f->index)) != 0 ||
				(j > 0 && frags[chosen[j - 1]].index >= f->index))
				abort();
			seen |= UINT64_C(1) << f->index;
		}
	}
	else if (need > 0 && valid >= need)
		abort();

	/* tagging a fragment-sized buffer and parsing it again never misbehaves */
	if (n > 0 && frags[0].len >= DHT_FRAG_HEADER_SIZE)
	{
		dht_fragment_tag(bufs[0], 4, 2, 0);
		(void) dht_fragment_parse(bufs[0], frags[0].len, &frags[0]);
	}

	for (int i = 0; i < n; i++)
		free(bufs[i]);
	return 0;
}
