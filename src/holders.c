/*
 * holders.c
 *	  Codec and resolution of a token's packed holders (see holders.h).
 *
 * 0.1 kept a row per holder: with a 32-byte node id, a text state and a
 * wide primary key, a 4+2 token cost 7 rows and about 1,700 bytes.  Here a
 * token costs one row per anchor that wrote about it, and a holder 14
 * bytes: an 8-byte node reference that every anchor derives alike (the node
 * id's prefix, as placement already ranks nodes by it), a 4-byte hybrid
 * stamp, the shard and the state.  Digests (32 bytes) are stored only once
 * a holder confirms with one.
 *
 * Decoding validates everything (lengths, version, flags, shape, states,
 * order), so a value that reached a table through binary input or a
 * corrupted page is refused with a reason rather than misread; the encoder
 * only writes what the decoder accepts.  No PostgreSQL headers: the unit
 * tests and the fuzz harness link this file alone.
 */
#include "holders.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY_BASE_LEN	14
#define RANGE_LEN		2

static const char *const state_names[] = {"active", "pending", "retiring", "dropped"};

const char *
holders_error_message(HoldersError err)
{
	switch (err)
	{
		case HOLDERS_OK:
			return "The value is valid.";
		case HOLDERS_TRUNCATED:
			return "The value is shorter than its header and entries say.";
		case HOLDERS_BAD_VERSION:
			return "The format version is not 1.";
		case HOLDERS_BAD_FLAGS:
			return "The header has unknown flags.";
		case HOLDERS_BAD_SHAPE:
			return "The shape needs 1 to 255 data shards and at most 255 shards in all.";
		case HOLDERS_BAD_STATE:
			return "An entry has an unknown state.";
		case HOLDERS_BAD_SHARD:
			return "An entry has shard 255; shards are numbered 0 to 254.";
		case HOLDERS_UNSORTED:
			return "Entries are not in strictly ascending (shard, node) order.";
		case HOLDERS_TOO_MANY:
			return "A value holds at most 1024 entries.";
		case HOLDERS_BAD_RAPTORQ:
			return "The RaptorQ block needs 1 or more symbols per holder, zero reserved bytes, and no OTI without a stamp.";
	}
	return "Unknown error.";
}

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static inline uint64_t
get64(const uint8_t *p)
{
	return (uint64_t) get32(p) << 32 | get32(p + 4);
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

static inline void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t) (v >> 32));
	put32(p + 4, (uint32_t) v);
}

uint64_t
holders_ref_of(const uint8_t *node_id)
{
	return get64(node_id);
}

int
holders_count_upper(size_t len)
{
	size_t		n = len < HOLDERS_HEADER_LEN ? 0 : (len - HOLDERS_HEADER_LEN) / ENTRY_BASE_LEN;

	/* (the RaptorQ block only makes the bound looser) */

	return n > HOLDERS_MAX_ENTRIES ? HOLDERS_MAX_ENTRIES + 1 : (int) n;
}

static inline int
entry_cmp(const HolderEntry *a, const HolderEntry *b)
{
	if (a->shard != b->shard)
		return a->shard < b->shard ? -1 : 1;
	if (a->ref != b->ref)
		return a->ref < b->ref ? -1 : 1;
	return 0;
}

static HoldersError
decode_header(const uint8_t *data, size_t len, HolderSet *set)
{
	if (len < HOLDERS_HEADER_LEN)
		return HOLDERS_TRUNCATED;
	if (data[0] != HOLDERS_VERSION)
		return HOLDERS_BAD_VERSION;
	if (data[1] & ~HOLDERS_KNOWN_FLAGS)
		return HOLDERS_BAD_FLAGS;
	if (data[2] == 0 || (int) data[2] + data[3] > HOLDERS_MAX_SHARDS)
		return HOLDERS_BAD_SHAPE;
	set->flags = data[1];
	set->data_shards = data[2];
	set->parity_shards = data[3];
	set->meta_stamp = get32(data + 4);
	set->life_start = get32(data + 8);
	set->epoch = get32(data + 12);
	set->symbols_per_holder = 0;
	set->oti_stamp = 0;
	memset(set->oti, 0, HOLDERS_OTI_LEN);
	return HOLDERS_OK;
}

static bool
all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/* The RaptorQ block after the header; advances *pos. */
static HoldersError
decode_raptorq(const uint8_t *data, size_t len, size_t *pos, HolderSet *set)
{
	const uint8_t *p = data + *pos;

	if (len - *pos < HOLDERS_RQ_LEN)
		return HOLDERS_TRUNCATED;
	set->symbols_per_holder = (uint16_t) (p[0] << 8 | p[1]);
	set->oti_stamp = get32(p + 4);
	memcpy(set->oti, p + 8, HOLDERS_OTI_LEN);
	if (set->symbols_per_holder == 0 || p[2] != 0 || p[3] != 0 ||
		(set->oti_stamp == 0 && !all_zero(set->oti, HOLDERS_OTI_LEN)))
		return HOLDERS_BAD_RAPTORQ;
	*pos += HOLDERS_RQ_LEN;
	return HOLDERS_OK;
}

/* One entry at *pos; advances it. */
static HoldersError
decode_entry(const uint8_t *data, size_t len, size_t *pos, bool raptorq, HolderEntry *e)
{
	const uint8_t *p = data + *pos;
	size_t		need = ENTRY_BASE_LEN + (raptorq ? RANGE_LEN : 0);

	if (len - *pos < need)
		return HOLDERS_TRUNCATED;
	e->ref = get64(p);
	e->stamp = get32(p + 8);
	e->shard = p[12];
	if (e->shard == HOLDERS_MAX_SHARDS)
		return HOLDERS_BAD_SHARD;
	if (p[13] & ~(HOLDER_STATE_MASK | HOLDER_HAS_DIGEST))
		return HOLDERS_BAD_STATE;
	e->state = p[13] & HOLDER_STATE_MASK;
	e->has_digest = (p[13] & HOLDER_HAS_DIGEST) != 0;
	e->range = raptorq ? (uint16_t) (p[14] << 8 | p[15]) : e->shard;
	*pos += need;
	if (e->has_digest)
	{
		if (len - *pos < HOLDERS_DIGEST_LEN)
			return HOLDERS_TRUNCATED;
		memcpy(e->digest, data + *pos, HOLDERS_DIGEST_LEN);
		*pos += HOLDERS_DIGEST_LEN;
	}
	else
		memset(e->digest, 0, HOLDERS_DIGEST_LEN);
	return HOLDERS_OK;
}

HoldersError
holders_decode_header(const uint8_t *data, size_t len, HolderSet *set, size_t *entries_at)
{
	HoldersError err = decode_header(data, len, set);

	*entries_at = HOLDERS_HEADER_LEN;
	set->n = 0;
	set->entries = NULL;
	if (err == HOLDERS_OK && (set->flags & HOLDERS_RAPTORQ))
		err = decode_raptorq(data, len, entries_at, set);
	return err;
}

HoldersError
holders_decode(const uint8_t *data, size_t len, HolderSet *set, HolderEntry *entries)
{
	HoldersError err = decode_header(data, len, set);
	size_t		pos = HOLDERS_HEADER_LEN;
	bool		raptorq;

	set->n = 0;
	set->entries = entries;
	if (err != HOLDERS_OK)
		return err;
	raptorq = (set->flags & HOLDERS_RAPTORQ) != 0;
	if (raptorq && (err = decode_raptorq(data, len, &pos, set)) != HOLDERS_OK)
		return err;
	while (pos < len)
	{
		HolderEntry *e;

		if (set->n == HOLDERS_MAX_ENTRIES)
			return HOLDERS_TOO_MANY;
		e = &entries[set->n];
		err = decode_entry(data, len, &pos, raptorq, e);
		if (err != HOLDERS_OK)
			return err;
		if (set->n > 0 && entry_cmp(&entries[set->n - 1], e) >= 0)
			return HOLDERS_UNSORTED;
		set->n++;
	}
	return HOLDERS_OK;
}

size_t
holders_encoded_len(const HolderSet *set)
{
	bool		raptorq = (set->flags & HOLDERS_RAPTORQ) != 0;
	size_t		len = HOLDERS_HEADER_LEN + (raptorq ? HOLDERS_RQ_LEN : 0);
	size_t		entry = ENTRY_BASE_LEN + (raptorq ? RANGE_LEN : 0);

	for (int i = 0; i < set->n; i++)
		len += entry + (set->entries[i].has_digest ? HOLDERS_DIGEST_LEN : 0);
	return len;
}

size_t
holders_encode(const HolderSet *set, uint8_t *out)
{
	bool		raptorq = (set->flags & HOLDERS_RAPTORQ) != 0;
	size_t		pos = HOLDERS_HEADER_LEN;

	out[0] = HOLDERS_VERSION;
	out[1] = set->flags;
	out[2] = set->data_shards;
	out[3] = set->parity_shards;
	put32(out + 4, set->meta_stamp);
	put32(out + 8, set->life_start);
	put32(out + 12, set->epoch);
	if (raptorq)
	{
		uint8_t    *p = out + pos;

		p[0] = (uint8_t) (set->symbols_per_holder >> 8);
		p[1] = (uint8_t) set->symbols_per_holder;
		p[2] = p[3] = 0;
		put32(p + 4, set->oti_stamp);
		memcpy(p + 8, set->oti, HOLDERS_OTI_LEN);
		pos += HOLDERS_RQ_LEN;
	}
	for (int i = 0; i < set->n; i++)
	{
		const HolderEntry *e = &set->entries[i];
		uint8_t    *p = out + pos;

		put64(p, e->ref);
		put32(p + 8, e->stamp);
		p[12] = e->shard;
		p[13] = (uint8_t) ((e->state & HOLDER_STATE_MASK) | (e->has_digest ? HOLDER_HAS_DIGEST : 0));
		pos += ENTRY_BASE_LEN;
		if (raptorq)
		{
			out[pos] = (uint8_t) (e->range >> 8);
			out[pos + 1] = (uint8_t) e->range;
			pos += RANGE_LEN;
		}
		if (e->has_digest)
		{
			memcpy(out + pos, e->digest, HOLDERS_DIGEST_LEN);
			pos += HOLDERS_DIGEST_LEN;
		}
	}
	return pos;
}

static int
entry_qsort_cmp(const void *a, const void *b)
{
	return entry_cmp(a, b);
}

bool
holders_sort(HolderEntry *entries, int n)
{
	/* an empty set may have entries == NULL; qsort(NULL, 0) is undefined */
	if (n < 2)
		return true;
	qsort(entries, (size_t) n, sizeof(HolderEntry), entry_qsort_cmp);
	for (int i = 1; i < n; i++)
		if (entry_cmp(&entries[i - 1], &entries[i]) == 0)
			return false;
	return true;
}

HolderEntry *
holders_find(const HolderSet *set, int shard, uint64_t ref)
{
	int			lo = 0,
				hi = set->n - 1;
	HolderEntry key;

	key.shard = (uint8_t) shard;
	key.ref = ref;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = entry_cmp(&set->entries[mid], &key);

		if (c == 0)
			return &set->entries[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* ---- resolution */

/* Is (stamp a, origin a) after (stamp b, origin b)? */
static inline bool
later(uint32_t stamp_a, const char *origin_a, uint32_t stamp_b, const char *origin_b)
{
	if (stamp_a != stamp_b)
		return stamp_a > stamp_b;
	return strcmp(origin_a, origin_b) > 0;
}

static int
winning_meta_row(const HolderRow *rows, int nrows, uint32_t *max_stamp)
{
	int			best = -1;

	*max_stamp = 0;
	for (int r = 0; r < nrows; r++)
	{
		const HolderSet *s = rows[r].set;

		if (s->meta_stamp > *max_stamp)
			*max_stamp = s->meta_stamp;
		if (s->oti_stamp > *max_stamp)
			*max_stamp = s->oti_stamp;
		for (int i = 0; i < s->n; i++)
			if (s->entries[i].stamp > *max_stamp)
				*max_stamp = s->entries[i].stamp;
		if (best < 0 || later(s->meta_stamp, rows[r].origin,
							  rows[best].set->meta_stamp, rows[best].origin))
			best = r;
	}
	return best;
}

/* The row with the greatest (OTI stamp, origin) of this life, or -1. */
static int
winning_oti_row(const HolderRow *rows, int nrows, uint32_t life)
{
	int			best = -1;

	for (int r = 0; r < nrows; r++)
	{
		const HolderSet *s = rows[r].set;

		if (!(s->flags & HOLDERS_RAPTORQ) || s->oti_stamp == 0 || s->oti_stamp < life)
			continue;
		if (best < 0 || later(s->oti_stamp, rows[r].origin,
							  rows[best].set->oti_stamp, rows[best].origin))
			best = r;
	}
	return best;
}

static int
resolved_cmp(const void *a, const void *b)
{
	return entry_cmp(((const ResolvedHolder *) a)->entry, ((const ResolvedHolder *) b)->entry);
}

/*
 * Single row (the common case): its live entries are already sorted and
 * unique.  Several rows: gather the live entries of all, sort by (shard,
 * ref), and keep the latest of each run.
 */
void
holders_resolve(const HolderRow *rows, int nrows, Resolution *res, ResolvedHolder *out)
{
	uint32_t	life;
	int			n = 0;
	int			kept = 0;

	res->meta_row = winning_meta_row(rows, nrows, &res->max_stamp);
	res->n = 0;
	res->oti_row = -1;
	res->live = res->meta_row >= 0 &&
		!(rows[res->meta_row].set->flags & HOLDERS_RELEASED);
	if (!res->live)
		return;
	life = rows[res->meta_row].set->life_start;
	res->oti_row = winning_oti_row(rows, nrows, life);
	for (int r = 0; r < nrows; r++)
		for (int i = 0; i < rows[r].set->n; i++)
			if (rows[r].set->entries[i].stamp >= life)
			{
				out[n].entry = &rows[r].set->entries[i];
				out[n++].row = r;
			}
	if (nrows > 1)
		qsort(out, (size_t) n, sizeof(ResolvedHolder), resolved_cmp);
	for (int i = 0; i < n;)
	{
		int			best = i;
		int			j = i + 1;

		for (; j < n && entry_cmp(out[j].entry, out[i].entry) == 0; j++)
			if (later(out[j].entry->stamp, rows[out[j].row].origin,
					  out[best].entry->stamp, rows[out[best].row].origin))
				best = j;
		if (out[best].entry->state != HOLDER_DROPPED)
			out[kept++] = out[best];
		i = j;
	}
	res->n = kept;
}

bool
holders_row_wins(const ResolvedHolder *holders, int n, int row, const HolderEntry *entry)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = entry_cmp(holders[mid].entry, entry);

		if (c == 0)
			return holders[mid].row == row;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

uint32_t
holders_next_stamp(int64_t now_unix, uint32_t latest)
{
	int64_t		now = now_unix - HOLDERS_STAMP_EPOCH;
	uint32_t	next = latest == UINT32_MAX ? UINT32_MAX : latest + 1;

	if (now < 0)
		now = 0;
	if (now > (int64_t) UINT32_MAX)
		now = UINT32_MAX;
	return (uint32_t) now > next ? (uint32_t) now : next;
}

const char *
holders_state_name(int state)
{
	return state >= 0 && state <= HOLDER_DROPPED ? state_names[state] : "unknown";
}

int
holders_state_of(const char *name)
{
	for (int i = 0; i <= HOLDER_DROPPED; i++)
		if (strcmp(name, state_names[i]) == 0)
			return i;
	return -1;
}
