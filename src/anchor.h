/*
 * anchor.h
 *	  What the anchor files share (src/anchor*.c): names, SPI and libpq
 *	  helpers, and remote slots whose fate depends on the transaction.
 *
 * Names (an anchor name is ^[a-z][a-z0-9_]{0,28}$; 63 bytes at most):
 *	  publication  dht_<me>                  this anchor's own rows
 *	               dhr_<me>_<origin>         rows of another origin it serves
 *	                                         (anchor_feed.c)
 *	  subscription dht_from_<peer>           one per peer
 *	               dht_feed_<origin>         rows of an origin fetched from an
 *	                                         anchor that serves them
 *	  slot         dht_<peer>_<me>           on the peer, for dht_from_<peer>
 *	               dhr_<origin>_<me>         on the server, for dht_feed_<origin>
 */
#ifndef DHT_ANCHOR_H
#define DHT_ANCHOR_H

#include "postgres.h"

#include "fmgr.h"
#include "libpq-fe.h"
#include "replication/origin.h"

#define ANCHOR_NAME_MAX		29	/* "dht_" + 29 + "_" + 29 = 63 = NAMEDATALEN - 1 */
#define CONNECT_TIMEOUT_MS	15000	/* add_peer, unless conninfo says otherwise */
#define STATUS_TIMEOUT_MS	3000	/* anchor_status: a peer that slow is down */
#define CALLBACK_TIMEOUT_S	"5"		/* slot drops from transaction callbacks */

/* The replicated log tables, in publication order (anchor_util.c). */
extern const char *const anchor_log_tables[];
extern const int anchor_log_table_count;

/* The table whose rows change format in upgrades (see dht.anchor_resume). */
#define TOKEN_TABLE "dht.token_log"

/* ---- names (anchor_util.c) */
extern void check_anchor_name(const char *name);
extern char *anchor_text_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern char *anchor_publication(const char *anchor);
extern char *anchor_subscription(const char *peer);
extern char *anchor_slot_name(const char *peer, const char *me);

/* ---- SPI (callers have done SPI_connect) */
extern void anchor_exec(const char *sql);
/* First column of the first row as a palloc'd string, NULL if none. */
extern char *anchor_text1(const char *sql, const char *arg);
/* This anchor's name, or NULL before dht.anchor_init. */
extern char *anchor_self_name(void);
extern char *anchor_require_self(void);
/* Serialise the anchor configuration functions on this anchor. */
extern void lock_anchor_config(void);
/* Whether this database has a subscription of that name. */
extern bool anchor_has_subscription(const char *name);
/* Delete this anchor's copy of an origin's rows, every log table. */
extern void anchor_forget_origin_rows(const char *origin);

/* ---- libpq (anchor_remote.c): interruptible, errors raised with the peer's SQLSTATE */
extern char *anchor_normalise_conninfo(const char *peer, const char *conninfo, int *timeout_ms);
extern char *anchor_conn_error(PGconn *conn);
/* The caller owns the connection and must PQfinish it on every path. */
extern PGconn *anchor_connect(const char *peer, const char *conninfo, int timeout_ms);
extern PGresult *anchor_query(PGconn *conn, const char *peer, const char *sql,
							  int nparams, const char *const *params);
/* One text value of a query that returns one row. */
extern char *anchor_query_text(PGconn *conn, const char *peer, const char *sql,
							   int nparams, const char *const *params);

/* ---- remote slots settled as the (sub)transaction ends (anchor_remote.c) */
typedef enum SlotAction
{
	DROP_ON_ABORT,				/* created by anchor_add_peer */
	DROP_ON_COMMIT,				/* released by anchor_remove_peer */
	RESTORE_ORIGIN_ON_ABORT		/* progress of a subscription dropped by it */
} SlotAction;

typedef struct PendingSlot
{
	struct PendingSlot *next;
	SlotAction	action;
	SubTransactionId subid;		/* the (sub)transaction it belongs to */
	char	   *peer;
	char	   *conninfo;
	char	   *slot;
	RepOriginId origin;			/* RESTORE_ORIGIN_ON_ABORT: the origin ... */
	XLogRecPtr	origin_lsn;		/* ... and how far it had applied */
} PendingSlot;

extern PendingSlot *anchor_add_pending(SlotAction action, const char *peer, const char *conninfo,
									   const char *slot);
extern void anchor_forget_pending(PendingSlot *target);
/* Create a logical slot on a peer, dropped again if this (sub)transaction aborts. */
extern void anchor_create_remote_slot(PGconn *conn, const char *peer, const char *conninfo,
									  const char *slot);
/*
 * Drop a subscription inside a transaction: stop its worker, detach its
 * slot (dropped on the peer once this transaction commits) and remember its
 * progress in case it rolls back.
 */
extern void anchor_drop_subscription(const char *sub, const char *peer);

#endif							/* DHT_ANCHOR_H */
