/*-------------------------------------------------------------------------
 *
 * rc_util.c
 *	  Helpers shared by the modules: kept SPI plans, column numbers,
 *	  trigger checks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/guc.h"
#include "parser/parse_relation.h"
#include "utils/lsyscache.h"
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

/* The OID of relation role_cluster.name, without taking a lock */
Oid
rc_relation_oid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("role_cluster", false));

	if (!OidIsValid(relid))
		elog(ERROR, "relation role_cluster.%s does not exist", name);
	return relid;
}

/* The settings the queue's statements are planned and run under */
static const char *const queue_settings[][2] = {
	{"enable_seqscan", "off"},
	{"enable_bitmapscan", "off"},
	{"jit", "off"},
	{"plan_cache_mode", "force_generic_plan"}
};

/*
 * Applies the queue's planner settings (rc_util.h) at a new GUC nest
 * level, as a function's SET clauses are applied; returns the level
 */
int
rc_queue_settings_begin(void)
{
	int			level = NewGUCNestLevel();

	for (int i = 0; i < (int) lengthof(queue_settings); i++)
		(void) set_config_option(queue_settings[i][0], queue_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

/* Restores the settings rc_queue_settings_begin() changed */
void
rc_queue_settings_end(int level)
{
	AtEOXact_GUC(true, level);
}

/*
 * Calls fn(fcinfo) with the search path pinned to pg_catalog alone, and
 * returns what it returns.  The SECURITY DEFINER entry points in C run
 * their bodies through this instead of a SET search_path clause: a SET
 * clause changes the GUC at every call and back (a new nest level, the
 * setting parsed, the path looked up again inside and again in the
 * caller's next statement), 7 % of a task's instructions at batch 1
 * (bench_queue.sh's COUNT=instructions PARTS=1).  An override search path
 * is a list pushed and popped.  Everything that looks a name up under it
 * sees pg_catalog and nothing else, the caller's temporary schema
 * included: the statements of the slow paths and the functions that
 * triggers, defaults and checks run, even those with search_path SET
 * clauses of their own, whose settings do not apply while it is pushed.
 * An error pops it as its (sub)transaction aborts.
 */
Datum
rc_call_pinned(PGFunction fn, FunctionCallInfo fcinfo)
{
	OverrideSearchPath pinned = {NIL, true, false, 0};
	Datum		result;

	PushOverrideSearchPath(&pinned);
	result = fn(fcinfo);
	PopOverrideSearchPath();
	return result;
}

/*
 * The TriggerData of a call by the trigger manager; anything else is a
 * protocol violation.
 */
TriggerData *
rc_trigger_data(FunctionCallInfo fcinfo, const char *fname)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function role_cluster.%s() was not called by trigger manager", fname)));
	return (TriggerData *) fcinfo->context;
}

/*
 * Raises unless the trigger was fired as the function expects ("how", such
 * as "BEFORE INSERT FOR EACH ROW", for the message).
 */
void
rc_trigger_require_fired(bool fired_as_expected, const char *fname, const char *how)
{
	if (!fired_as_expected)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function role_cluster.%s() must be fired %s", fname, how)));
}

/*
 * Raises unless the trigger's table is one of the role_cluster tables
 * named in the NULL-terminated list "tables".
 */
void
rc_trigger_require_table(TriggerData *trigdata, const char *fname,
						 const char *const *tables, const char *served)
{
	Relation	rel = trigdata->tg_relation;
	char	   *nspname = get_namespace_name(RelationGetNamespace(rel));

	if (nspname != NULL && strcmp(nspname, "role_cluster") == 0)
	{
		for (; *tables != NULL; tables++)
			if (strcmp(RelationGetRelationName(rel), *tables) == 0)
				return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("function role_cluster.%s() fired on table \"%s\"",
					fname, RelationGetRelationName(rel)),
			 errdetail("It only serves %s.", served)));
}

/*
 * s, or when it is longer than max bytes its start (cut at a character
 * boundary) and "...": what an error message shows of a value of any
 * length.
 */
const char *
rc_shown(const char *s, int max)
{
	int			len = strlen(s);

	if (len <= max)
		return s;
	return psprintf("%.*s...", pg_mbcliplen(s, len, max), s);
}

/*
 * Starts a materialized result set (rc_util.h).  A copy of the descriptor
 * the caller expects has the row type's columns without the defaults and
 * checks that the type's own descriptor, its table's, carries and that a
 * lookup copies for each call.
 */
void
rc_init_row_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, rsinfo != NULL && IsA(rsinfo, ReturnSetInfo) &&
						rsinfo->expectedDesc != NULL ? MAT_SRF_USE_EXPECTED_DESC : 0);
}
