/*-------------------------------------------------------------------------
 *
 * rc_util.c
 *	  Helpers shared by the modules: kept SPI plans, column numbers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/rel.h"

#include "rc_util.h"

/*
 * Prepares sql with SPI and keeps the plan for the session.
 */
SPIPlanPtr
rc_prepare_kept_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep the plan of \"%s\"", sql);
	return plan;
}

/*
 * Column number of a relation's column, by name.
 */
AttrNumber
rc_column_attnum(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "column \"%s\" of relation \"%s\" does not exist",
		 name, RelationGetRelationName(rel));
	return InvalidAttrNumber;	/* keep the compiler quiet */
}
