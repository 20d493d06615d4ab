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
extern bool anchor_table_paused(const char *table);

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

/* fn(arg) in a subtransaction: NULL, or its error (cancels rethrown). */
extern ErrorData *anchor_try(void (*fn) (void *arg), void *arg);
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
/* A statement through the simple query protocol (a CALL that commits). */
extern PGresult *anchor_simple_query(PGconn *conn, const char *peer, const char *sql);
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

/* ---- feeds of another origin's rows (anchor_feed.c) */
extern char *anchor_feed_publication(const char *server, const char *origin);
extern char *anchor_feed_subscription(const char *origin);
extern void anchor_serve_origin_local(const char *me, const char *origin);
extern void anchor_feed_create(PGconn *conn, const char *server, const char *conninfo,
							   const char *origin, const char *me);
extern char *anchor_feed_server(const char *origin);
extern int	anchor_feed_tables_left(const char *origin);
extern void anchor_feed_drop(const char *origin);
extern void anchor_feeds_settle(const char *me);

/* ---- membership checks when adding a peer (anchor_recover.c, anchor_adopt.c) */

/* What a peer says about itself and about this anchor's rows. */
typedef struct PeerMembership
{
	char	   *fence;			/* its write fence, NULL if none */
	int64		own_writes;		/* its own writes it holds */
	int64		writes_of_me;	/* this anchor's writes it holds */
} PeerMembership;

extern void anchor_read_membership(PGconn *conn, const char *peer, const char *me,
								   PeerMembership *pm);
/* The same through a connection of its own (the connect timeout capped). */
extern void anchor_membership_of(const char *peer, const char *conninfo_in, const char *me,
								 int max_timeout_ms, PeerMembership *pm);
/*
 * Before subscribing to a peer: refuse a peer that is recovering or holds
 * less of its own history than this anchor does; if the peer holds more of
 * this anchor's own rows than it does, start recovering them from it (a
 * rebuilt anchor) or refuse (a restored one: dht.anchor_rejoin), unless
 * rejoining says the caller handles that.  Returns true if this anchor is
 * recovering its own rows (a feed started now or before).
 */
extern bool anchor_check_membership(PGconn *conn, const char *peer, const char *conninfo,
									const char *me, bool rejoining);

/* How a peer is being subscribed to (anchor_subscribe_peer). */
typedef enum SubscribeMode
{
	SUBSCRIBE_ADD,				/* dht.anchor_add_peer */
	SUBSCRIBE_REJOIN,			/* dht.anchor_rejoin: it recovers this anchor's rows itself */
	SUBSCRIBE_REFRESH			/* a peer that rejoined asked: the conninfo is our own */
} SubscribeMode;
/* After subscribing: fetch the retired origins the peer adopted that this anchor lacks. */
extern void anchor_fetch_adopted(PGconn *conn, const char *peer, const char *conninfo,
								 const char *me);
/* Set or clear this anchor's write fence (inside SPI). */
extern void anchor_set_fence(const char *fence);
/* Drop the local slots peers read this anchor through (inside SPI). */
extern int	anchor_drop_local_slots(const char *pattern);
/* Subscribe to a peer: the steps of dht.anchor_add_peer after its checks (anchor.c). */
extern void anchor_subscribe_peer(const char *peer, const char *conninfo_in, const char *me,
								  SubscribeMode mode);

#endif							/* DHT_ANCHOR_H */
