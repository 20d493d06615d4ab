/*
 * holders.h
 *	  Pure-C codec and resolution of dht.holders: one token's holders as one
 *	  anchor recorded them, packed into one value (holders.c).
 *
 * No PostgreSQL headers: the codec is unit-tested and fuzzed on its own.
 *
 * A directory row is one (token, origin) pair; its holders value carries the
 * token's shape (data and parity shards), this origin's latest allocation or
 * release of it, and one entry per holder this origin has an event for:
 *
 *	  header (16 bytes)
 *		0		format version (1)
 *		1		flags: HOLDERS_RELEASED, HOLDERS_RAPTORQ
 *		2		data shards (1..255)
 *		3		parity shards (0..254, data + parity <= 255)
 *		4..7	meta stamp: of the allocation or release this row records
 *				(the allocation's stamp is dht.tokens.allocated_at)
 *		8..11	life start: entries stamped earlier belong to an allocation
 *				that was released since, and are dead
 *		12..15	placement epoch of the allocation
 *	  with HOLDERS_RAPTORQ, a RaptorQ block (20 bytes):
 *		0..1	symbols per holder s (1..65535): the entry of range r holds
 *				ESIs r*s .. r*s + s - 1 of every source block
 *		2..3	reserved, 0
 *		4..7	OTI stamp: of the dht.record_oti event, 0 if none
 *		8..19	the token's RaptorQ OTI (RFC 6330 3.3.2 and 3.3.3), zeros if none
 *	  entries, strictly ascending by (shard, ref):
 *		0..7	node ref: the node id's first 8 bytes (big-endian)
 *		8..11	stamp of this entry's latest event
 *		12		shard (0..254)
 *		13		state: HOLDER_ACTIVE .. HOLDER_DROPPED, | HOLDER_HAS_DIGEST
 *		[14..15 RaptorQ range index, with HOLDERS_RAPTORQ]
 *		[then 32 bytes: BLAKE2b-256 of the fragment, with HOLDER_HAS_DIGEST]
 *
 * All integers big-endian.  A stamp is a hybrid clock in seconds since
 * 2020-01-01 UTC: an event about a token is stamped after every event of
 * that token it supersedes, even when the local clock lags.
 *
 * Resolution (holders_resolve), the rule every anchor applies alike to the
 * rows of one token: the token's metadata is the row with the greatest
 * (meta stamp, origin); the token is allocated unless that row says
 * released; each (shard, ref) is held by the entry with the greatest
 * (stamp, origin) among the rows' entries stamped at or after the winning
 * row's life start, unless that entry is dropped; the token's OTI is the one
 * with the greatest (OTI stamp, origin) stamped at or after that life start.
 * So holders form a set
 * that grows by allocation and shrinks by explicit, replicated events, and
 * two anchors that allocate one token at once end with the union.
 */
#ifndef DHT_HOLDERS_H
#define DHT_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOLDERS_VERSION			1
#define HOLDERS_HEADER_LEN		16
#define HOLDERS_MAX_ENTRIES		1024	/* per row: 255 shards, a few holders each */
#define HOLDERS_DIGEST_LEN		32
#define HOLDERS_MAX_SHARDS		255
#define HOLDERS_RQ_LEN			20		/* the RaptorQ block */
#define HOLDERS_OTI_LEN			12

/* Header flags */
#define HOLDERS_RELEASED		0x01
#define HOLDERS_RAPTORQ			0x02
#define HOLDERS_KNOWN_FLAGS		(HOLDERS_RELEASED | HOLDERS_RAPTORQ)

/* Entry states (low bits of the state byte) */
typedef enum HolderState
{
	HOLDER_ACTIVE = 0,			/* holds its fragment */
	HOLDER_PENDING = 1,			/* chosen by a repair, not yet confirmed */
	HOLDER_RETIRING = 2,		/* to be dropped once its replacement confirms */
	HOLDER_DROPPED = 3			/* gone: hides the holder's older events */
} HolderState;

#define HOLDER_STATE_MASK		0x03
#define HOLDER_HAS_DIGEST		0x80

/* Seconds from the Unix epoch to the stamp epoch, 2020-01-01 00:00:00 UTC. */
#define HOLDERS_STAMP_EPOCH		INT64_C(1577836800)

typedef struct HolderEntry
{
	uint64_t	ref;
	uint32_t	stamp;
	uint8_t		shard;
	uint8_t		state;			/* HolderState */
	bool		has_digest;
	uint16_t	range;			/* RaptorQ symbol range index (HOLDERS_RAPTORQ) */
	uint8_t		digest[HOLDERS_DIGEST_LEN];
} HolderEntry;

typedef struct HolderSet
{
	uint8_t		flags;
	uint8_t		data_shards;
	uint8_t		parity_shards;
	uint32_t	meta_stamp;
	uint32_t	life_start;
	uint32_t	epoch;
	uint16_t	symbols_per_holder; /* RaptorQ only (else 0) */
	uint32_t	oti_stamp;		/* RaptorQ: of the recorded OTI, 0 if none */
	uint8_t		oti[HOLDERS_OTI_LEN];	/* zeros if none */
	int			n;
	HolderEntry *entries;		/* n entries, ascending by (shard, ref) */
} HolderSet;

typedef enum HoldersError
{
	HOLDERS_OK = 0,
	HOLDERS_TRUNCATED,			/* shorter than its header or an entry says */
	HOLDERS_BAD_VERSION,
	HOLDERS_BAD_FLAGS,
	HOLDERS_BAD_SHAPE,			/* data shards 0, or data + parity > 255 */
	HOLDERS_BAD_STATE,			/* unknown state bits */
	HOLDERS_BAD_SHARD,			/* shard 255 */
	HOLDERS_UNSORTED,			/* entries not strictly ascending by (shard, ref) */
	HOLDERS_TOO_MANY,			/* more than HOLDERS_MAX_ENTRIES */
	HOLDERS_BAD_RAPTORQ			/* s = 0, reserved bits, or an OTI without stamp */
} HoldersError;

/* A sentence for an error (for errdetail). */
extern const char *holders_error_message(HoldersError err);

/* Node ref of a 32-byte node id: its first 8 bytes, big-endian. */
extern uint64_t holders_ref_of(const uint8_t *node_id);

/*
 * Decode and validate len bytes.  entries must have room for
 * holders_count_upper(len) entries; set->entries is set to it.
 */
extern HoldersError holders_decode(const uint8_t *data, size_t len,
								   HolderSet *set, HolderEntry *entries);

/*
 * Decode and validate only the header (and the RaptorQ block) of a value of
 * len bytes: set->n is 0; *entries_at gets where the entries start.
 */
extern HoldersError holders_decode_header(const uint8_t *data, size_t len,
										  HolderSet *set, size_t *entries_at);

/* An upper bound of the entries len bytes can hold (for sizing buffers). */
extern int	holders_count_upper(size_t len);

/* Bytes holders_encode writes for set. */
extern size_t holders_encoded_len(const HolderSet *set);

/*
 * Encode set (entries must be sorted: see holders_sort) into out, which has
 * room for holders_encoded_len(set) bytes; returns the length.
 */
extern size_t holders_encode(const HolderSet *set, uint8_t *out);

/* Sort entries by (shard, ref); returns false if two share (shard, ref). */
extern bool holders_sort(HolderEntry *entries, int n);

/* The entry of (shard, ref) in a sorted set, or NULL. */
extern HolderEntry *holders_find(const HolderSet *set, int shard, uint64_t ref);

/* One row of a token for resolution. */
typedef struct HolderRow
{
	const char *origin;			/* the anchor that wrote it */
	const HolderSet *set;
} HolderRow;

/* A resolved holder: the winning entry and the row it comes from. */
typedef struct ResolvedHolder
{
	const HolderEntry *entry;
	int			row;
} ResolvedHolder;

typedef struct Resolution
{
	int			meta_row;		/* row whose metadata wins, -1 if no rows */
	bool		live;			/* allocated (the winning row is not released) */
	uint32_t	max_stamp;		/* greatest stamp anywhere in the rows */
	int			n;				/* holders (live tokens only), by (shard, ref) */
	int			oti_row;		/* row whose OTI wins (live RaptorQ tokens), -1 if none */
} Resolution;

/*
 * Resolve nrows rows of one token.  out must have room for the sum of the
 * rows' entry counts; it gets the holders (none if the token is not live),
 * ascending by (shard, ref), dropped ones excluded.
 */
extern void holders_resolve(const HolderRow *rows, int nrows, Resolution *res,
							ResolvedHolder *out);

/* Whether row `row`'s entry won (shard, ref) in a resolution's output. */
extern bool holders_row_wins(const ResolvedHolder *holders, int n, int row,
							 const HolderEntry *entry);

/* The stamp for a new event: after now (Unix seconds) and after latest. */
extern uint32_t holders_next_stamp(int64_t now_unix, uint32_t latest);

/* Name of a state ("active", ...), and the state of a name (-1 if none). */
extern const char *holders_state_name(int state);
extern int	holders_state_of(const char *name);

#endif							/* DHT_HOLDERS_H */
