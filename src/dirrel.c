/*
 * dirrel.c
 *	  Open a directory table and its primary key index for a direct scan.
 *
 * The hot read paths (dht.lookup, the allocation probes) scan a table's
 * primary key directly, without the executor, the way PostgreSQL reads its
 * own catalogs.  That needs the table's and the index's oids, and looking
 * them up by name on every call would cost more than the scan.
 *
 * 0.1 kept them in static variables that a relcache callback cleared; but
 * any lock acquisition processes pending invalidations, so an ANALYZE
 * committed by another session while this one waited for the index lock
 * cleared the oids in the middle of a call, and the next table_open got
 * oid 0.  Here nothing is cleared behind the caller's back: the oids are
 * only hints, read once into locals, and validated after the lock is held,
 * when no concurrent DDL can change what they name:
 *
 *	  - the table: try_table_open by the hinted oid; if it is gone (the
 *		extension was dropped and created again) or the oid now names
 *		another relation, look the name up again;
 *	  - the primary key: taken from the locked table's relcache entry
 *		(RelationGetPrimaryKeyIndex, rebuilt by the invalidations the lock
 *		just processed), so REINDEX CONCURRENTLY, which swaps in a new
 *		index under a new oid, is followed; if that index is dropped while
 *		we wait for its lock, we ask again;
 *	  - the equality functions of the key columns: recomputed whenever the
 *		primary key's oid differs from the one they were computed for.
 */
#include "smartlayer_dht.h"

#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"

#include "dirrel.h"

/* A relation dropped and recreated under us this many times in one call is a bug. */
#define DIRREL_MAX_ATTEMPTS 8

static Oid
dht_namespace(void)
{
	return get_namespace_oid("dht", true);
}

static Oid
resolve_table(const char *name)
{
	Oid			nsp = dht_namespace();
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"dht.%s\" does not exist", name),
				 errhint("Is the extension smartlayer_dht installed in this database?")));
	return relid;
}

static bool
is_directory_table(Relation rel, const char *name)
{
	return strcmp(RelationGetRelationName(rel), name) == 0 &&
		RelationGetNamespace(rel) == dht_namespace();
}

static void
remember_key_procs(DirTable *table, Relation index)
{
	int			nkeys = IndexRelationGetNumberOfKeyAttributes(index);

	if (nkeys > DIRREL_MAX_KEYS)
		nkeys = DIRREL_MAX_KEYS;
	for (int i = 0; i < nkeys; i++)
	{
		Oid			op = get_opfamily_member(index->rd_opfamily[i], index->rd_opcintype[i],
											 index->rd_opcintype[i], BTEqualStrategyNumber);

		if (!OidIsValid(op))
			elog(ERROR, "smartlayer_dht: no equality operator for key column %d of \"%s\"",
				 i + 1, RelationGetRelationName(index));
		table->eqprocs[i] = get_opcode(op);
	}
	table->nkeys = nkeys;
	table->pkeyid = RelationGetRelid(index);
}

/* The table, locked; NULL if the hinted oid no longer names it. */
static Relation
open_hinted_table(DirTable *table, LOCKMODE mode)
{
	Oid			relid = OidIsValid(table->relid) ? table->relid : resolve_table(table->name);
	Relation	rel = try_table_open(relid, mode);

	if (rel != NULL && !is_directory_table(rel, table->name))
	{
		table_close(rel, mode);
		rel = NULL;
	}
	table->relid = rel != NULL ? relid : InvalidOid;
	return rel;
}

Relation
dir_table_open(DirTable *table, LOCKMODE mode, Relation *pkey)
{
	for (int attempt = 0; attempt < DIRREL_MAX_ATTEMPTS; attempt++)
	{
		Relation	rel = open_hinted_table(table, mode);
		Oid			pkeyid;
		Relation	index;

		if (rel == NULL)
			continue;
		pkeyid = RelationGetPrimaryKeyIndex(rel);
		if (!OidIsValid(pkeyid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("relation \"dht.%s\" has no valid primary key", table->name),
					 errhint("Reinstall the extension, or rebuild the index with REINDEX.")));
		index = try_relation_open(pkeyid, mode);
		if (index == NULL)
		{
			/* Dropped while we waited for it (REINDEX CONCURRENTLY): ask again. */
			table_close(rel, mode);
			continue;
		}
		if (pkeyid != table->pkeyid)
			remember_key_procs(table, index);
		*pkey = index;
		return rel;
	}
	elog(ERROR, "smartlayer_dht: \"dht.%s\" changed %d times while being opened",
		 table->name, DIRREL_MAX_ATTEMPTS);
	return NULL;				/* keep compiler quiet */
}

void
dir_table_close(Relation rel, Relation pkey, LOCKMODE mode)
{
	relation_close(pkey, mode);
	table_close(rel, mode);
}

void
dir_check_select(Relation rel)
{
	if (pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
}
