/*
 * dirrel.h
 *	  Opening the directory's tables and their primary keys for direct scans
 *	  (dirrel.c), safely against concurrent invalidations.
 */
#ifndef DHT_DIRREL_H
#define DHT_DIRREL_H

#include "postgres.h"

#include "storage/lockdefs.h"
#include "utils/rel.h"

#define DIRREL_MAX_KEYS 4

/*
 * A table of schema dht read by direct index scans.  The oids are hints
 * remembered from the last successful open, never trusted before the
 * table is locked: dir_table_open validates them under the lock and looks
 * them up again when they are stale.
 */
typedef struct DirTable
{
	const char *name;			/* table name in schema dht */
	Oid			relid;			/* hint: the table's oid last time */
	Oid			pkeyid;			/* the primary key index eqprocs belong to */
	int			nkeys;			/* key columns of pkeyid */
	RegProcedure eqprocs[DIRREL_MAX_KEYS];	/* their btree equality functions */
} DirTable;

#define DIR_TABLE(name) {(name), InvalidOid, InvalidOid, 0, {0}}

/*
 * Lock and open the table and its primary key index with the given lock
 * mode; *pkey gets the index.  The caller closes both with dir_table_close.
 */
extern Relation dir_table_open(DirTable *table, LOCKMODE mode, Relation *pkey);
extern void dir_table_close(Relation rel, Relation pkey, LOCKMODE mode);

/* ERROR 42501 unless the current user may SELECT the table. */
extern void dir_check_select(Relation rel);

#endif							/* DHT_DIRREL_H */
