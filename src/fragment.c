/*
 * fragment.c
 *	  Our guard in front of liberasurecode: pure-C fragment validation.
 *
 * liberasurecode 1.6.2 trusts fragments more than we can: it checks only the
 * CRC32 of a fragment's header, concatenates data fragments without checking
 * their payload CRC, and writes out of bounds when a header says
 * idx == k + m.  So erasure.c runs every fragment through this file first;
 * liberasurecode only ever sees fragments that passed.  No PostgreSQL headers
 * here, so test/fuzz/fragment_fuzz.c can feed it arbitrary bytes.
 *
 * A fragment is an 80-byte header followed by the payload (liberasurecode's
 * fragment_header_t, packed, little-endian; erasure.c asserts the offsets
 * against the installed erasurecode.h):
 *
 *	  0  idx u32            4  size u32 (payload)   8  backend metadata size u32
 *	 12  orig_data_size u64 20  chksum_type u8     21  chksum u32[8]
 *	 53  chksum_mismatch u8 54  backend_id u8      55  backend_version u32
 *	 59  magic u32          63  libec_version u32  67  metadata_chksum u32
 *	 71  padding[9]         80  payload
 *
 * metadata_chksum is the CRC-32 of bytes 0..58; chksum[0] is the CRC-32 of
 * the payload (zlib's CRC-32, polynomial 0xEDB88320 reflected, which is what
 * liberasurecode 1.6.2 writes unless LIBERASURECODE_WRITE_LEGACY_CRC is set;
 * its "alternative" legacy CRC is not accepted here).
 *
 * The header has no k or m, yet a decoder needs both, and nothing tells two
 * objects of the same size apart.  dht.ec_encode records k, m and the CRC-32
 * of the whole original data in checksum words liberasurecode leaves unused
 * with CRC32 (chksum[1] = "DHT1", chksum[2] = k, chksum[3] = m, chksum[4] =
 * data CRC) and recomputes the header CRC; the fragment stays readable by
 * liberasurecode itself.  A fragment without the tag is not ours and is
 * rejected.  The data CRC keeps fragments of different objects out of one
 * group, and erasure.c checks decoded data against it.
 *
 * Rules, in order: long enough for a header; magic; header CRC; libec version
 * 1.x at least 1.2 (older ones had no header CRC); a backend we know, with
 * the backend version liberasurecode 1.6.2 writes; our tag; k and m within
 * the backend's limits; index below k + m; CRC32 checksums; sizes: orig_size
 * at most DHT_EC_MAX_DATA, no backend metadata, payload size exactly what
 * the backend makes for orig_size and k, byte length exactly header +
 * payload; payload CRC.  CRC32 catches corruption, not forgery: the digest
 * the directory keeps (dht.placements.digest) is the defence against that.
 */
#include "fragment.h"

#include <string.h>

/*
 * Backends.  version: backend_version as liberasurecode 1.6.2 writes it.
 * unit: the backend's word (isa-l w = 8, jerasure/liberasurecode vand
 * w = 16) or, for jerasure Cauchy, w * packet size (4 * 8 * 128).  Limits
 * were found by experiment on liberasurecode 1.6.2: k + m <= 32
 * (EC_MAX_FRAGMENTS) for all, 16 for jerasure_rs_cauchy (w = 4); m = 0
 * works only with the isa_l backends (jerasure_rs_vand fails to initialise,
 * jerasure_rs_cauchy hangs, liberasurecode_rs_vand reads uninitialised
 * memory and crashes for some k);
 * isa_l_rs_vand's matrix is not MDS beyond m = 4, and with m = 4 some
 * erasure patterns cannot be decoded once k >= 22 (every pattern was tried
 * for m <= 4).
 */
const DhtBackend dht_backends[] = {
	{"isa_l_rs_vand", 4, 0x020d00, 1, 32, 0, 4, 21},
	{"isa_l_rs_cauchy", 7, 0x020e01, 1, 32, 0, 31, 0},
	{"jerasure_rs_vand", 1, 0x020000, 2, 32, 1, 31, 0},
	{"jerasure_rs_cauchy", 2, 0x020000, 4096, 16, 1, 15, 0},
	{"liberasurecode_rs_vand", 6, 0x010000, 2, 32, 1, 31, 0},
};
const int	dht_n_backends = sizeof(dht_backends) / sizeof(dht_backends[0]);

const DhtBackend *
dht_backend_by_name(const char *name)
{
	for (int i = 0; i < dht_n_backends; i++)
		if (strcmp(dht_backends[i].name, name) == 0)
			return &dht_backends[i];
	return NULL;
}

const DhtBackend *
dht_backend_by_id(int id)
{
	for (int i = 0; i < dht_n_backends; i++)
		if (dht_backends[i].id == id)
			return &dht_backends[i];
	return NULL;
}

DhtShapeError
dht_backend_check_shape(const DhtBackend *be, int k, int m)
{
	if (k < 1)
		return DHT_SHAPE_K_TOO_SMALL;
	if (m < 0)
		return DHT_SHAPE_M_NEGATIVE;
	if (k > DHT_EC_MAX_FRAGMENTS - m)
		return DHT_SHAPE_N_TOO_LARGE;
	if (k + m > be->max_n)
		return DHT_SHAPE_N_OVER_BACKEND;
	if (m < be->min_m)
		return DHT_SHAPE_M_TOO_SMALL;
	if (m > be->max_m)
		return DHT_SHAPE_M_TOO_LARGE;
	if (m == be->max_m && be->max_k_at_max_m > 0 && k > be->max_k_at_max_m)
		return DHT_SHAPE_K_TOO_LARGE_AT_MAX_M;
	return DHT_SHAPE_OK;
}

uint64_t
dht_fragment_block_size(const DhtBackend *be, int k, uint64_t orig_size)
{
	uint64_t	stripe = (uint64_t) k * be->unit;

	return (orig_size + stripe - 1) / stripe * be->unit;
}

/* ---- CRC-32 ---------------------------------------------------------- */

/*
 * Slicing-by-8: table[0] is the classic byte-at-a-time table, table[j][b]
 * the CRC of byte b followed by j zero bytes, so eight bytes are folded per
 * step.  Built on first use.
 */
static uint32_t crc_table[8][256];
static bool crc_table_ready = false;
static dht_crc32_fn crc_impl = dht_crc32_portable;

static void
crc_build_table(void)
{
	for (uint32_t b = 0; b < 256; b++)
	{
		uint32_t	c = b;

		for (int bit = 0; bit < 8; bit++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320U : c >> 1;
		crc_table[0][b] = c;
	}
	for (uint32_t b = 0; b < 256; b++)
		for (int j = 1; j < 8; j++)
			crc_table[j][b] = (crc_table[j - 1][b] >> 8) ^
				crc_table[0][crc_table[j - 1][b] & 0xff];
	crc_table_ready = true;
}

uint32_t
dht_crc32_portable(uint32_t crc, const uint8_t *p, size_t len)
{
	if (!crc_table_ready)
		crc_build_table();
	crc = ~crc;
	while (len >= 8)
	{
		uint32_t	lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 |
								(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
		uint32_t	hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 |
			(uint32_t) p[6] << 16 | (uint32_t) p[7] << 24;

		crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
			crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
			crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
			crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

uint32_t
dht_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
	return crc_impl(crc, buf, len);
}

bool
dht_crc32_use(dht_crc32_fn fn)
{
	uint8_t		sample[1031];
	uint32_t	x = 12345;

	for (size_t i = 0; i < sizeof(sample); i++)
	{
		x = x * 1103515245U + 12345U;
		sample[i] = (uint8_t) (x >> 16);
	}
	if (fn(0, (const uint8_t *) "123456789", 9) != 0xCBF43926U)
		return false;
	for (size_t len = 0; len <= sizeof(sample); len += 97)
		if (fn(0, sample, len) != dht_crc32_portable(0, sample, len))
			return false;
	crc_impl = fn;
	return true;
}

/* ---- header ---------------------------------------------------------- */

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 |
		(uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t
rd64(const uint8_t *p)
{
	return (uint64_t) rd32(p) | (uint64_t) rd32(p + 4) << 32;
}

static inline void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) v;
	p[1] = (uint8_t) (v >> 8);
	p[2] = (uint8_t) (v >> 16);
	p[3] = (uint8_t) (v >> 24);
}

#define CKSUM_WORD(buf, i)	((buf) + DHT_FRAG_OFF_CKSUM + 4 * (i))

const char *
dht_fragment_status_text(DhtFragStatus status)
{
	switch (status)
	{
		case DHT_FRAG_OK:
			return "valid";
		case DHT_FRAG_SHORT:
			return "shorter than a fragment header";
		case DHT_FRAG_BAD_MAGIC:
			return "bad magic number";
		case DHT_FRAG_BAD_HEADER_CRC:
			return "header checksum mismatch";
		case DHT_FRAG_BAD_VERSION:
			return "unsupported liberasurecode version";
		case DHT_FRAG_BAD_BACKEND:
			return "unknown backend or backend version";
		case DHT_FRAG_UNTAGGED:
			return "no k and m tag (not made by dht.ec_encode)";
		case DHT_FRAG_BAD_SHAPE:
			return "k and m not supported by its backend";
		case DHT_FRAG_BAD_INDEX:
			return "index out of range";
		case DHT_FRAG_BAD_CHECKSUM_TYPE:
			return "no CRC32 payload checksum";
		case DHT_FRAG_BAD_SIZE:
			return "sizes inconsistent with the original size";
		case DHT_FRAG_BAD_LENGTH:
			return "length does not match its header";
		case DHT_FRAG_BAD_PAYLOAD_CRC:
			return "payload checksum mismatch";
		case DHT_FRAG_FOREIGN:
			return "belongs to another object or shape";
		case DHT_FRAG_DUPLICATE:
			return "duplicate index";
		case DHT_FRAG_UNUSED:
			return "valid, not needed";
		case DHT_FRAG_BAD_DIGEST:
			return "digest mismatch";
	}
	return "unknown";
}

DhtFragStatus
dht_fragment_check_header(const uint8_t *buf, size_t len, DhtFragment *f)
{
	uint32_t	libec,
				k,
				m;

	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->len = len;
	if (len < DHT_FRAG_HEADER_SIZE)
		return DHT_FRAG_SHORT;
	if (rd32(buf + DHT_FRAG_OFF_MAGIC) != DHT_FRAG_MAGIC)
		return DHT_FRAG_BAD_MAGIC;
	if (dht_crc32(0, buf, DHT_FRAG_META_SIZE) != rd32(buf + DHT_FRAG_OFF_METACRC))
		return DHT_FRAG_BAD_HEADER_CRC;

	f->header_ok = true;
	f->index = rd32(buf + DHT_FRAG_OFF_IDX);
	f->size = rd32(buf + DHT_FRAG_OFF_SIZE);
	f->orig_size = rd64(buf + DHT_FRAG_OFF_ORIG);
	f->backend_id = buf[DHT_FRAG_OFF_BACKEND];
	f->backend = dht_backend_by_id(f->backend_id);

	libec = rd32(buf + DHT_FRAG_OFF_LIBEC);
	if (libec < 0x010200 || libec >= 0x020000)
		return DHT_FRAG_BAD_VERSION;
	if (f->backend == NULL ||
		rd32(buf + DHT_FRAG_OFF_BVERSION) != f->backend->version)
		return DHT_FRAG_BAD_BACKEND;
	if (rd32(CKSUM_WORD(buf, 1)) != DHT_FRAG_TAG)
		return DHT_FRAG_UNTAGGED;
	k = rd32(CKSUM_WORD(buf, 2));
	m = rd32(CKSUM_WORD(buf, 3));
	if (k > DHT_EC_MAX_FRAGMENTS || m > DHT_EC_MAX_FRAGMENTS ||
		dht_backend_check_shape(f->backend, (int) k, (int) m) != DHT_SHAPE_OK)
		return DHT_FRAG_BAD_SHAPE;
	f->tagged = true;
	f->k = (int) k;
	f->m = (int) m;
	f->data_crc = rd32(CKSUM_WORD(buf, 4));
	if (f->index >= k + m)
		return DHT_FRAG_BAD_INDEX;
	if (buf[DHT_FRAG_OFF_CKTYPE] != DHT_FRAG_CKSUM_CRC32)
		return DHT_FRAG_BAD_CHECKSUM_TYPE;
	if (f->orig_size > DHT_EC_MAX_DATA ||
		rd32(buf + DHT_FRAG_OFF_BMSIZE) != 0 ||
		f->size != dht_fragment_block_size(f->backend, f->k, f->orig_size))
		return DHT_FRAG_BAD_SIZE;
	if (len - DHT_FRAG_HEADER_SIZE != f->size)
		return DHT_FRAG_BAD_LENGTH;
	return DHT_FRAG_OK;
}

DhtFragStatus
dht_fragment_check_payload(const DhtFragment *f)
{
	uint32_t	crc = dht_crc32(0, f->buf + DHT_FRAG_HEADER_SIZE, f->size);

	return crc == rd32(CKSUM_WORD(f->buf, 0)) ? DHT_FRAG_OK : DHT_FRAG_BAD_PAYLOAD_CRC;
}

DhtFragStatus
dht_fragment_parse(const uint8_t *buf, size_t len, DhtFragment *f)
{
	DhtFragStatus status = dht_fragment_check_header(buf, len, f);

	return status != DHT_FRAG_OK ? status : dht_fragment_check_payload(f);
}

void
dht_fragment_tag(uint8_t *buf, int k, int m, uint32_t data_crc)
{
	wr32(CKSUM_WORD(buf, 1), DHT_FRAG_TAG);
	wr32(CKSUM_WORD(buf, 2), (uint32_t) k);
	wr32(CKSUM_WORD(buf, 3), (uint32_t) m);
	wr32(CKSUM_WORD(buf, 4), data_crc);
	wr32(buf + DHT_FRAG_OFF_METACRC, dht_crc32(0, buf, DHT_FRAG_META_SIZE));
}

/* ---- choosing k fragments -------------------------------------------- */

/* DhtFragment.payload */
enum
{
	PAYLOAD_UNCHECKED = 0,
	PAYLOAD_GOOD,
	PAYLOAD_BAD
};

bool
dht_fragment_same_object(const DhtFragment *a, const DhtFragment *b)
{
	return a->backend_id == b->backend_id && a->k == b->k && a->m == b->m &&
		a->orig_size == b->orig_size && a->size == b->size &&
		a->data_crc == b->data_crc;
}

static bool
payload_good(DhtFragment *f)
{
	if (f->payload == PAYLOAD_UNCHECKED)
		f->payload = dht_fragment_check_payload(f) == DHT_FRAG_OK ?
			PAYLOAD_GOOD : PAYLOAD_BAD;
	return f->payload == PAYLOAD_GOOD;
}

/* Indexes the group led by 'lead' can supply (good, or also unchecked). */
static uint64_t
group_indexes(const DhtFragment *in, int n, int lead, bool good_only)
{
	uint64_t	mask = 0;

	for (int i = lead; i < n; i++)
		if (in[i].group == lead && in[i].payload != PAYLOAD_BAD &&
			(!good_only || in[i].payload == PAYLOAD_GOOD))
			mask |= UINT64_C(1) << in[i].index;
	return mask;
}

/* The group with the most distinct indexes; ties go to the earliest. */
static int
best_group(const DhtFragment *in, int n, bool good_only, int *count)
{
	int			best = -1;

	*count = 0;
	for (int i = 0; i < n; i++)
	{
		int			c;

		if (in[i].group != i)
			continue;
		c = __builtin_popcountll(group_indexes(in, n, i, good_only));
		if (c > *count)
		{
			*count = c;
			best = i;
		}
	}
	return best;
}

/*
 * Pick, in index order (data first), the first good copy of each index of
 * group 'lead', checking payloads as needed, until 'want' are found.
 */
static int
pick_from_group(DhtFragment *in, int n, int lead, int want, int *chosen)
{
	int			found = 0;
	int			nidx = in[lead].k + in[lead].m;

	for (int idx = 0; idx < nidx && found < want; idx++)
		for (int i = lead; i < n; i++)
			if (in[i].group == lead && in[i].index == (uint32_t) idx &&
				payload_good(&in[i]))
			{
				chosen[found++] = i;
				break;
			}
	return found;
}

/* Final statuses, given the winning group and the fragments used from it. */
static void
set_statuses(const DhtFragment *in, int n, int lead,
			 const int *chosen, int nchosen, DhtFragStatus *status)
{
	uint64_t	used = 0;
	int			c = 0;

	for (int j = 0; j < nchosen; j++)
		used |= UINT64_C(1) << in[chosen[j]].index;
	for (int i = 0; i < n; i++)
	{
		if (in[i].group < 0)
			continue;			/* absent or bad header: status already set */
		if (c < nchosen && chosen[c] == i)
		{
			status[i] = DHT_FRAG_OK;
			c++;
		}
		else if (in[i].payload == PAYLOAD_BAD)
			status[i] = DHT_FRAG_BAD_PAYLOAD_CRC;
		else if (in[i].group != lead)
			status[i] = DHT_FRAG_FOREIGN;
		else if (used & (UINT64_C(1) << in[i].index))
			status[i] = DHT_FRAG_DUPLICATE;
		else
			status[i] = DHT_FRAG_UNUSED;
	}
}

static void
sort_positions(int *pos, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && pos[j - 1] > pos[j]; j--)
		{
			int			t = pos[j];

			pos[j] = pos[j - 1];
			pos[j - 1] = t;
		}
}

int
dht_fragments_choose(DhtFragment *in, int n, DhtFragStatus *status,
					 int *chosen, int *valid_out, int *need_out,
					 bool check_payloads)
{
	int			count;
	int			lead;
	int			nchosen;
	int			sorted[64] = {0};

	*valid_out = 0;
	*need_out = 0;

	/* Group every fragment with a good header; -1 for the others. */
	for (int i = 0; i < n; i++)
	{
		in[i].payload = check_payloads ? PAYLOAD_UNCHECKED : PAYLOAD_GOOD;
		in[i].group = -1;
		if (in[i].buf == NULL || status[i] != DHT_FRAG_OK)
			continue;
		in[i].group = i;
		for (int j = 0; j < i; j++)
			if (in[j].group == j && dht_fragment_same_object(&in[j], &in[i]))
			{
				in[i].group = j;
				break;
			}
	}

	for (;;)
	{
		lead = best_group(in, n, false, &count);
		if (lead < 0 || count < in[lead].k)
			break;
		nchosen = pick_from_group(in, n, lead, in[lead].k, chosen);
		if (nchosen == in[lead].k)
		{
			memcpy(sorted, chosen, sizeof(int) * nchosen);
			sort_positions(sorted, nchosen);
			set_statuses(in, n, lead, sorted, nchosen, status);
			*valid_out = *need_out = nchosen;
			return nchosen;
		}
		/* some copies were bad: they no longer count; choose again */
	}

	/* Not enough: check every payload so that the counts are exact. */
	for (int i = 0; i < n; i++)
		if (in[i].group >= 0)
			(void) payload_good(&in[i]);
	lead = best_group(in, n, true, &count);
	nchosen = lead < 0 ? 0 : pick_from_group(in, n, lead, count, chosen);
	memcpy(sorted, chosen, sizeof(int) * nchosen);
	sort_positions(sorted, nchosen);
	set_statuses(in, n, lead, sorted, nchosen, status);
	*valid_out = count;
	*need_out = lead < 0 ? 0 : in[lead].k;
	return -1;
}
