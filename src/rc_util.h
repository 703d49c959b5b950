/*-------------------------------------------------------------------------
 *
 * rc_util.h
 *	  Small helpers that several modules share: statements prepared once
 *	  and kept for the session, relations and column numbers looked up by
 *	  name, the
 *	  checks that a C trigger function was fired as it expects, and the
 *	  start of a long value that an error message shows.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_UTIL_H
#define RC_UTIL_H

#include "commands/trigger.h"
#include "fmgr.h"
#include "executor/spi.h"
#include "utils/relcache.h"

/*
 * Prepares sql with SPI (inside SPI_connect) and keeps the plan for the
 * session; raises if it cannot.
 */
extern SPIPlanPtr rc_prepare_kept_plan(const char *sql, int nargs, Oid *argtypes);

/* Column number of a relation's column, by name; raises if it has none */
extern AttrNumber rc_column_attnum(Relation rel, const char *name);

/* The OID of relation role_cluster.name, looked up without a lock */
extern Oid	rc_relation_oid(const char *name);

/*
 * InitMaterializedSRF() for a function returning a table's row type: the
 * result's descriptor copied from the one the caller expects, when it
 * gives one, rather than looked up with the table's constraints.
 */
extern void rc_init_row_srf(FunctionCallInfo fcinfo);

/*
 * The planner settings the queue's statements run under (enable_seqscan,
 * enable_bitmapscan and jit off, generic plans: see the install script),
 * applied until rc_queue_settings_end(level) with the level begin
 * returned, or until an error unwinds them.  For the C entry points,
 * around the statements of their slow paths: as SET clauses, every call
 * paid for them.
 */
extern int	rc_queue_settings_begin(void);
extern void rc_queue_settings_end(int level);

/*
 * fn(fcinfo) with the search path pinned to pg_catalog alone for its
 * duration: what SECURITY DEFINER functions in C use for SET search_path
 */
extern Datum rc_call_pinned(PGFunction fn, FunctionCallInfo fcinfo);

/*
 * The trigger checks, each raising the trigger-protocol error (39P01) that
 * names the function (fname, e.g. "task_derive"): the call came from the
 * trigger manager (returns its TriggerData); it was fired as "how" says
 * (fired_as_expected, the caller's TRIGGER_FIRED_* test); on one of the
 * role_cluster tables named in the NULL-terminated list "tables" (served:
 * the detail that names them).
 */
extern TriggerData *rc_trigger_data(FunctionCallInfo fcinfo, const char *fname);
extern void rc_trigger_require_fired(bool fired_as_expected, const char *fname,
									 const char *how);
extern void rc_trigger_require_table(TriggerData *trigdata, const char *fname,
									 const char *const *tables, const char *served);

/*
 * s, or when it is longer than max bytes its start, cut at a character
 * boundary, and "..." (palloc'd then)
 */
extern const char *rc_shown(const char *s, int max);

#endif							/* RC_UTIL_H */
