// sources: src/holders.c
/*
 * holders_fuzz.c
 *	  libFuzzer harness for the packed holders codec and its resolution
 *	  (src/holders.c): what binary input (COPY BINARY, a binary
 *	  subscription) can hand the server.
 *
 * Input: a control byte (how many rows, 1-4), then rows, each a 2-byte
 * little-endian length and that many bytes (the last takes what is left),
 * each copied into a buffer of exactly its length so ASan sees any read
 * past it.  Every row that decodes must re-encode to the same bytes; the
 * decoded rows are resolved, and the resolution must be sorted, unique,
 * without dropped holders, and equal whatever the rows' order (the OTI's
 * row included); header-only decoding must agree with the full decode.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "holders.h"

#define MAX_ROWS 4

static const char *const origins[MAX_ROWS] = {"a", "b", "c", "d"};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HolderSet	sets[MAX_ROWS];
	HolderEntry *entries[MAX_ROWS] = {0};
	HolderRow	rows[MAX_ROWS],
				rev[MAX_ROWS];
	uint8_t    *bufs[MAX_ROWS] = {0};
	int			nrows = 0,
				total = 0,
				want;
	size_t		pos = 1;

	if (size < 1)
		return 0;
	want = 1 + data[0] % MAX_ROWS;
	for (int r = 0; r < want && pos <= size; r++)
	{
		size_t		len = size - pos;
		uint8_t    *re;

		if (r < want - 1 && len >= 2)
		{
			len = (size_t) (data[pos] | data[pos + 1] << 8);
			pos += 2;
			if (len > size - pos)
				len = size - pos;
		}
		bufs[r] = malloc(len ? len : 1);
		memcpy(bufs[r], data + pos, len);
		pos += len;
		entries[r] = malloc(sizeof(HolderEntry) * (size_t) (holders_count_upper(len) + 1));
		if (holders_decode(bufs[r], len, &sets[nrows], entries[r]) != HOLDERS_OK)
			continue;
		{
			HolderSet	h;
			size_t		at;

			if (holders_decode_header(bufs[r], len, &h, &at) != HOLDERS_OK || at > len ||
				h.symbols_per_holder != sets[nrows].symbols_per_holder ||
				h.oti_stamp != sets[nrows].oti_stamp)
				abort();
		}
		re = malloc(holders_encoded_len(&sets[nrows]));
		if (holders_encode(&sets[nrows], re) != len || memcmp(re, bufs[r], len) != 0)
			abort();			/* decoding accepted what encoding does not write */
		free(re);
		rows[nrows].origin = origins[nrows];
		rows[nrows].set = &sets[nrows];
		total += sets[nrows].n;
		nrows++;
	}
	if (nrows > 0)
	{
		ResolvedHolder *out = malloc(sizeof(ResolvedHolder) * (size_t) (total + 1));
		ResolvedHolder *out2 = malloc(sizeof(ResolvedHolder) * (size_t) (total + 1));
		Resolution	res,
					res2;

		holders_resolve(rows, nrows, &res, out);
		for (int i = 0; i < res.n; i++)
		{
			if (out[i].entry->state == HOLDER_DROPPED)
				abort();
			if (i > 0 && (out[i - 1].entry->shard > out[i].entry->shard ||
						  (out[i - 1].entry->shard == out[i].entry->shard &&
						   out[i - 1].entry->ref >= out[i].entry->ref)))
				abort();
		}
		for (int i = 0; i < nrows; i++)
			rev[i] = rows[nrows - 1 - i];
		holders_resolve(rev, nrows, &res2, out2);
		if (res2.n != res.n || res2.live != res.live || res2.max_stamp != res.max_stamp)
			abort();
		if ((res.oti_row < 0) != (res2.oti_row < 0) ||
			(res.oti_row >= 0 && rows[res.oti_row].set != rev[res2.oti_row].set))
			abort();
		for (int i = 0; i < res.n; i++)
			if (out2[i].entry != out[i].entry)
				abort();
		free(out);
		free(out2);
	}
	for (int r = 0; r < MAX_ROWS; r++)
	{
		free(bufs[r]);
		free(entries[r]);
	}
	return 0;
}
