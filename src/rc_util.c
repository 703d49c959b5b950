/*-------------------------------------------------------------------------
 *
 * rc_util.c
 *	  Helpers shared by the modules: kept SPI plans, column numbers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "parser/parse_relation.h"
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
 * Column number of a relation's column, by name (attnameAttNum); a column
 * the extension's own table lacks can't happen.
 */
AttrNumber
rc_column_attnum(Relation rel, const char *name)
{
	AttrNumber	attnum = attnameAttNum(rel, name, false);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of relation \"%s\" does not exist",
			 name, RelationGetRelationName(rel));
	return attnum;
}
