/*
 * smartlayer_dht.c
 *	  Module entry point: PG_MODULE_MAGIC, _PG_init and the GUCs.
 *
 * The module initialises libsodium once per backend (sodium_init() is
 * idempotent and thread-safe) and defines the configuration parameters under
 * the reserved prefix "smartlayer_dht".  Everything else lives in a file of
 * its own concern.
 */
#include "postgres.h"

#include <sodium.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "smartlayer_dht.h"
#include "registry_cache.h"
#include "worker.h"

PG_MODULE_MAGIC;

char	   *dht_network = NULL;

void		_PG_init(void);

static void
define_gucs(void)
{
	DefineCustomStringVariable("smartlayer_dht.network",
							   "Name of the Smart Layer network this anchor serves.",
							   "Signed node announcements must name this network.",
							   &dht_network,
							   "smartlayer",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	dht_worker_init();
	MarkGUCPrefixReserved("smartlayer_dht");
}

void
_PG_init(void)
{
	if (sodium_init() < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libsodium")));
	define_gucs();
	dht_registry_cache_init();
}
