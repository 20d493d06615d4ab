/*
 * tokenrows.h
 *	  The rows of one token in dht.token_log, resolved (tokenrows.c).
 */
#ifndef DHT_TOKENROWS_H
#define DHT_TOKENROWS_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "holders.h"

/* One (token, origin) row. */
typedef struct TokenRow
{
	char	   *origin;
	int16		bucket;
	char	   *sla;
	HolderSet  *set;			/* its holders; the epoch is in their header */
	struct varlena *raw;		/* the dht.holders value as stored */
} TokenRow;

/* Every row of a token and their resolution (holders.h). */
typedef struct TokenRows
{
	int			nrows;
	TokenRow   *rows;
	int			own;			/* index of this anchor's row, or -1 */
	Resolution	res;
	ResolvedHolder *holders;	/* res.n of them, by (shard, ref) */
} TokenRows;

/*
 * Read and resolve the token's rows under the active snapshot; needs SELECT
 * on dht.token_log (or a SECURITY DEFINER caller).  own_origin may be NULL.
 */
extern void token_rows_read(Datum token, const char *own_origin, TokenRows *tr);

/* Whether dht.token_log has any row for the token (any origin). */
extern bool token_rows_exist(Datum token);

/*
 * The same probe for many tokens (allocate_many): the table and index
 * opened once.
 */
typedef struct TokenProbe TokenProbe;
extern TokenProbe *token_probe_begin(void);
extern bool token_probe_exists(TokenProbe *probe, Datum token);
extern void token_probe_end(TokenProbe *probe);

/* token_rows_read through an open probe (many tokens in one call). */
extern void token_rows_read_with(TokenProbe *probe, Datum token, const char *own_origin,
								 TokenRows *tr);

/* How many rows the token has, counting up to max. */
extern int	token_rows_count(Datum token, int max);

/*
 * The same, through a scan kept open until the transaction ends: for the
 * digest trigger, called per row by apply workers and initial copies.
 */
extern int	token_rows_count_cached(Datum token, int max);

/* The winning metadata row, or NULL when the token has no rows. */
static inline TokenRow *
token_rows_meta(TokenRows *tr)
{
	return tr->res.meta_row >= 0 ? &tr->rows[tr->res.meta_row] : NULL;
}

/*
 * Serialise writes to one token on this anchor (a transaction-scoped
 * advisory lock on its key), then take a fresh snapshot so that the read
 * that follows sees what the previous holder of the lock committed.  Pop it
 * with PopActiveSnapshot.
 */
extern void token_lock_and_refresh(const uint8 *key);

/*
 * Write this anchor's row of the token: update old (this anchor's row as
 * read) or, if NULL, insert.  The metadata columns and its holders; the
 * digests account for both rows.  Runs inside SPI.
 */
extern void token_rows_write_own(Datum token, const char *origin, int16 bucket,
								 const char *sla, const HolderSet *set, const TokenRow *old);

/*
 * Insert this anchor's row of a token no row names yet; false if a row of
 * this origin appeared meanwhile (a concurrent allocation).  Inside SPI.
 */
extern bool token_rows_insert_fresh(Datum token, const char *origin, int16 bucket,
									const char *sla, const HolderSet *set);

/* The stamp clock (holders.h) now. */
extern uint32 token_stamp_now(uint32 latest);

#endif							/* DHT_TOKENROWS_H */
