/*
 * fragment.h
 *	  Pure-C validation of liberasurecode fragments (no PostgreSQL headers).
 *
 * See fragment.c for the fragment layout and the rules.  erasure.c uses this
 * to check every fragment before liberasurecode sees it, and
 * test/fuzz/fragment_fuzz.c feeds it arbitrary bytes.
 */
#ifndef DHT_FRAGMENT_H
#define DHT_FRAGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* liberasurecode 1.6.2's fragment_header_t: 59 bytes of metadata + 21. */
#define DHT_FRAG_HEADER_SIZE	80
#define DHT_FRAG_META_SIZE		59
#define DHT_FRAG_MAGIC			0x0b0c5eccU

/* Byte offsets inside the header (packed, little-endian). */
#define DHT_FRAG_OFF_IDX		0
#define DHT_FRAG_OFF_SIZE		4
#define DHT_FRAG_OFF_BMSIZE		8
#define DHT_FRAG_OFF_ORIG		12
#define DHT_FRAG_OFF_CKTYPE		20
#define DHT_FRAG_OFF_CKSUM		21	/* uint32_t chksum[8] */
#define DHT_FRAG_OFF_MISMATCH	53
#define DHT_FRAG_OFF_BACKEND	54
#define DHT_FRAG_OFF_BVERSION	55
#define DHT_FRAG_OFF_MAGIC		59
#define DHT_FRAG_OFF_LIBEC		63
#define DHT_FRAG_OFF_METACRC	67

/* chksum_type CHKSUM_CRC32 in liberasurecode's ec_checksum_type_t. */
#define DHT_FRAG_CKSUM_CRC32	2

/*
 * Our tag in the checksum words liberasurecode leaves unused with CRC32:
 * chksum[1] = "DHT1", chksum[2] = k, chksum[3] = m, chksum[4] = CRC-32 of
 * the original data (tells objects of one size apart; checked after decode).
 */
#define DHT_FRAG_TAG			0x31544844U

/* Largest input ec_encode accepts (and orig_size a fragment may claim). */
#define DHT_EC_MAX_DATA			((uint64_t) 256 * 1024 * 1024)

/* Largest k + m we ever accept, whatever the backend. */
#define DHT_EC_MAX_FRAGMENTS	255

typedef struct DhtBackend
{
	const char *name;
	int			id;				/* liberasurecode's ec_backend_id_t */
	uint32_t	version;		/* backend_version written in fragments */
	int			unit;			/* block size is a multiple of this */
	int			max_n;			/* largest k + m */
	int			min_m;			/* smallest m */
	int			max_m;			/* largest m (see max_k_at_max_m) */
	int			max_k_at_max_m; /* largest k when m == max_m, 0 = any */
} DhtBackend;

extern const DhtBackend dht_backends[];
extern const int dht_n_backends;

const DhtBackend *dht_backend_by_name(const char *name);
const DhtBackend *dht_backend_by_id(int id);

/* Why k, m does not suit a backend: NULL if it does. */
typedef enum DhtShapeError
{
	DHT_SHAPE_OK = 0,
	DHT_SHAPE_K_TOO_SMALL,
	DHT_SHAPE_M_NEGATIVE,
	DHT_SHAPE_N_TOO_LARGE,		/* above DHT_EC_MAX_FRAGMENTS */
	DHT_SHAPE_N_OVER_BACKEND,	/* above the backend's max_n */
	DHT_SHAPE_M_TOO_SMALL,
	DHT_SHAPE_M_TOO_LARGE,
	DHT_SHAPE_K_TOO_LARGE_AT_MAX_M
} DhtShapeError;

DhtShapeError dht_backend_check_shape(const DhtBackend *be, int k, int m);

/* Payload bytes per fragment for orig_size bytes of data. */
uint64_t	dht_fragment_block_size(const DhtBackend *be, int k, uint64_t orig_size);

typedef enum DhtFragStatus
{
	DHT_FRAG_OK = 0,
	DHT_FRAG_SHORT,				/* shorter than a header */
	DHT_FRAG_BAD_MAGIC,
	DHT_FRAG_BAD_HEADER_CRC,
	DHT_FRAG_BAD_VERSION,		/* libec_version not 1.x with header CRC */
	DHT_FRAG_BAD_BACKEND,		/* unknown backend id or backend version */
	DHT_FRAG_UNTAGGED,			/* no k, m tag: not made by dht.ec_encode */
	DHT_FRAG_BAD_SHAPE,			/* k, m the backend does not support */
	DHT_FRAG_BAD_INDEX,			/* index >= k + m */
	DHT_FRAG_BAD_CHECKSUM_TYPE, /* not CRC32 */
	DHT_FRAG_BAD_SIZE,			/* sizes inconsistent with orig_size, k */
	DHT_FRAG_BAD_LENGTH,		/* byte length is not header + payload */
	DHT_FRAG_BAD_PAYLOAD_CRC,
	/* set by dht_fragments_choose, never by dht_fragment_parse */
	DHT_FRAG_FOREIGN,			/* belongs to another object or shape */
	DHT_FRAG_DUPLICATE,			/* another copy of this index was used */
	DHT_FRAG_UNUSED,			/* valid, but k others sufficed */
	/* set by erasure.c */
	DHT_FRAG_BAD_DIGEST			/* not the expected BLAKE2b digest */
} DhtFragStatus;

const char *dht_fragment_status_text(DhtFragStatus status);

/* What a fragment header says; fields are valid as far as parsing got. */
typedef struct DhtFragment
{
	const uint8_t *buf;
	size_t		len;
	bool		header_ok;		/* magic and header CRC good: fields below */
	bool		tagged;			/* k and m below are known */
	uint32_t	index;
	uint32_t	size;			/* payload bytes */
	uint64_t	orig_size;
	int			backend_id;
	const DhtBackend *backend;	/* NULL if unknown */
	int			k;
	int			m;
	uint32_t	data_crc;		/* CRC-32 of the original data */
	/* scratch for dht_fragments_choose */
	int			group;			/* position of its group's first member */
	int			payload;		/* payload CRC: unchecked, good or bad */
} DhtFragment;

/*
 * Check everything but the payload CRC (cheap: header only).  Fills *f.
 * dht_fragment_parse also checks the payload CRC.
 */
DhtFragStatus dht_fragment_check_header(const uint8_t *buf, size_t len, DhtFragment *f);
DhtFragStatus dht_fragment_check_payload(const DhtFragment *f);
DhtFragStatus dht_fragment_parse(const uint8_t *buf, size_t len, DhtFragment *f);

/* Same object and shape: backend, k, m, sizes and data CRC agree. */
bool		dht_fragment_same_object(const DhtFragment *a, const DhtFragment *b);

/* Write our k, m tag into a fragment made by liberasurecode; fix its header CRC. */
void		dht_fragment_tag(uint8_t *buf, int k, int m, uint32_t data_crc);

/*
 * Choose k fragments to decode from: among the fragments whose headers are
 * good, the largest consistent group (same backend, k, m, orig_size, size
 * and data CRC; ties go to the group seen first) wins; within it, the first copy of
 * each index whose payload CRC is good is used, data indexes first.  Payload
 * CRCs are checked lazily, only until k good ones are found.
 *
 * in[i] are the parsed fragments (buf == NULL for absent entries), status[i]
 * receives each one's fate.  On success returns the number chosen (k) and
 * chosen[0..k-1] (room for 64) holds their positions in index order, data
 * fragments first; on failure returns
 * -1 and *valid_out / *need_out say how many valid fragments the best group
 * has and how many it needs (need 0: no fragment is valid).
 *
 * With check_payloads false, payload CRCs are taken as good: for a caller
 * that checks the decoded result end to end and, on a mismatch, chooses
 * again with check_payloads true.
 */
int			dht_fragments_choose(DhtFragment *in, int n, DhtFragStatus *status,
								 int *chosen, int *valid_out, int *need_out,
								 bool check_payloads);

/* zlib-compatible CRC-32 (reflected 0xEDB88320), as liberasurecode uses. */
typedef uint32_t (*dht_crc32_fn) (uint32_t crc, const uint8_t *buf, size_t len);
uint32_t	dht_crc32(uint32_t crc, const uint8_t *buf, size_t len);
uint32_t	dht_crc32_portable(uint32_t crc, const uint8_t *buf, size_t len);
/* Use a faster implementation (e.g. ISA-L's) if it agrees with ours. */
bool		dht_crc32_use(dht_crc32_fn fn);

#endif							/* DHT_FRAGMENT_H */
