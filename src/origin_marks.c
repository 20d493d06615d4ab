/*
 * origin_marks.c
 *	  Write marks: how many rows each anchor has written under its name, in
 *	  dht.origin_marks (src/sql/73_membership.sql).
 *
 * The digest flush (digest.c) adds, once per transaction, the rows this
 * anchor wrote under its own name to the row (origin, slot) of the backend
 * that wrote them, so concurrent writers never update one row.  The rows are
 * replicated like the logs, so an anchor's sum for an origin is how much of
 * that origin's history it holds; the membership checks (anchor_recover.c)
 * compare those sums to tell a rebuilt or restored anchor from a healthy one.
 * Rows written before dht.anchor_init ('local') count for nobody.
 */
#include "smartlayer_dht.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/backendid.h"
#include "utils/builtins.h"

#include "origin_marks.h"

static SPIPlanPtr add_plan = NULL;

void
origin_marks_add(const char *origin, int64 n)
{
	Datum		args[3];
	int			rc;

	if (n <= 0 || strcmp(origin, "local") == 0)
		return;
	if (add_plan == NULL)
	{
		Oid			types[3] = {TEXTOID, INT4OID, INT8OID};
		SPIPlanPtr	plan = SPI_prepare("INSERT INTO dht.origin_marks AS m (origin, slot, writes) "
									   "VALUES ($1, $2, $3) ON CONFLICT (origin, slot) "
									   "DO UPDATE SET writes = m.writes + excluded.writes", 3, types);

		if (plan == NULL)
			elog(ERROR, "smartlayer_dht: could not prepare the write mark: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		add_plan = plan;
	}
	args[0] = CStringGetTextDatum(origin);
	args[1] = Int32GetDatum((int32) MyBackendId);
	args[2] = Int64GetDatum(n);
	rc = SPI_execute_plan(add_plan, args, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "smartlayer_dht: write mark failed: %s", SPI_result_code_string(rc));
}
