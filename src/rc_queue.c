/*-------------------------------------------------------------------------
 *
 * rc_queue.c
 *	  role_cluster.enqueue() and role_cluster.complete_task() in C.
 *
 * Every task passes through both once, usually one call per transaction,
 * so their fixed cost is the queue's.  Written in PL/pgSQL they paid for
 * the interpreter, for argument checks run as expressions and for two
 * lookups planned and executed as subqueries.  Here the checks are plain
 * C, the singleton flag and the push shard come from rc_task.c, and the one
 * statement each runs is prepared once per session with SPI and kept.
 *
 * Both are declared SECURITY DEFINER with search_path, enable_seqscan, jit
 * and plan_cache_mode pinned (see the install script), so the saved plans
 * are always planned and revalidated under the same settings, as a generic
 * plan that uses the queue's indexes.  The statements name every object
 * with its schema.
 *
 * The error paths that need to find out why nothing changed call the
 * PL/pgSQL helpers that the other node-facing functions use, so the
 * messages are the same everywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "rc_group.h"
#include "rc_queue.h"
#include "rc_shard.h"
#include "rc_task.h"

PG_FUNCTION_INFO_V1(rc_enqueue);
PG_FUNCTION_INFO_V1(rc_complete_task);

/* Ordinal of pushNotifications in the task type list */
#define RC_PUSH_ORDINAL 4

/* A statement prepared once per session (and again if its types change) */
typedef struct RcSavedPlan
{
	SPIPlanPtr	plan;
	Oid			task_type;		/* the task_type OID it was prepared with */
} RcSavedPlan;

static RcSavedPlan enqueue_plan;
static RcSavedPlan enqueue_dedupe_plan;
static RcSavedPlan dedupe_lookup_plan;
static RcSavedPlan complete_plan;
static RcSavedPlan complete_error_plan;

/* The columns enqueue() writes, and their parameter types but the first */
#define RC_ENQUEUE_NARGS 10

static const char *const enqueue_sql =
"INSERT INTO role_cluster.task (task_type, kind, payload, shard_key, push_shard, run_at,"
"    priority, max_attempts, singleton)"
" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
" RETURNING id";

static const char *const enqueue_dedupe_sql =
"INSERT INTO role_cluster.task AS t (task_type, kind, payload, shard_key, push_shard, run_at,"
"    priority, max_attempts, singleton, dedupe_key)"
" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
" ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL"
"    AND state IN ('queued', 'routed', 'running')"
" DO NOTHING"
" RETURNING t.id";

static const char *const dedupe_lookup_sql =
"SELECT t.id FROM role_cluster.task t"
" WHERE t.dedupe_key OPERATOR(pg_catalog.=) $1"
"   AND t.state IN ('queued', 'routed', 'running')";

static const char *const complete_sql =
"UPDATE role_cluster.task AS t"
"   SET state = 'done', lease_until = NULL, finished_at = pg_catalog.now(),"
"       updated_at = pg_catalog.now()"
" WHERE t.id OPERATOR(pg_catalog.=) $1 AND t.node_id OPERATOR(pg_catalog.=) $2"
"   AND t.state OPERATOR(pg_catalog.=) 'running'"
"   AND EXISTS (SELECT FROM role_cluster.node n"
"               WHERE n.node_id OPERATOR(pg_catalog.=) $2"
"                 AND (n.login OPERATOR(pg_catalog.=) SESSION_USER"
"                      OR pg_catalog.pg_has_role(SESSION_USER, 'role_cluster_admin', 'MEMBER')))";

static const char *const complete_error_sql =
"SELECT role_cluster.not_held($1, (role_cluster.node_for_caller($2, false)).node_id, 'complete')";

/*
 * The saved plan of sql, prepared (and kept for the session) on first use,
 * or again when the task_type type was recreated since.
 */
static SPIPlanPtr
rc_saved_plan(RcSavedPlan *saved, const char *sql, int nargs, Oid *argtypes,
			  Oid task_type)
{
	if (saved->plan != NULL && saved->task_type != task_type)
	{
		SPI_freeplan(saved->plan);
		saved->plan = NULL;
	}
	if (saved->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		saved->plan = plan;
		saved->task_type = task_type;
	}
	return saved->plan;
}

/*
 * Runs a saved plan that returns at most one bigint: its value, or false
 * when it returned no row.
 */
static bool
rc_run_returning_id(SPIPlanPtr plan, Datum *values, const char *nulls, int64 *id)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);
	bool		isnull;

	if (rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_SELECT)
		elog(ERROR, "queue statement failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  1, &isnull));
	return !isnull;
}

/*
 * The type of a function's first argument, role_cluster.task_type (looked
 * up rather than assumed: the extension may have been recreated).
 */
static Oid
rc_task_type_argtype(FunctionCallInfo fcinfo)
{
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);

	if (!OidIsValid(typid))
	{
		Oid		   *argtypes;
		int			nargs;

		(void) get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
		typid = argtypes[0];
	}
	return typid;
}

/*
 * Raises 22004 for an argument that must not be NULL.
 */
static void
rc_enqueue_null_arg(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("task %s must not be NULL", name),
			 errhint("Leave the argument out to get its default.")));
}

/*
 * role_cluster.enqueue(task_type, kind text, payload jsonb, shard_key text,
 *						run_at timestamptz, priority int, max_attempts int,
 *						dedupe_key text) → bigint
 *
 * Adds a task and returns its id.  With a dedupe_key that an unfinished
 * task carries, adds nothing and returns that task's id.  Not strict: the
 * arguments that need a value are checked here, in order.
 */
Datum
rc_enqueue(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {"task_type", "kind", "payload", NULL,
	"run_at", "priority", "max_attempts"};
	Oid			task_type;
	Oid			argtypes[RC_ENQUEUE_NARGS];
	Datum		values[RC_ENQUEUE_NARGS];
	char		nulls[RC_ENQUEUE_NARGS];
	bool		is_push;
	text	   *shard_key = NULL;
	text	   *dedupe_key = NULL;
	int32		max_attempts;
	int64		id = 0;

	for (int i = 0; i < (int) lengthof(required); i++)
		if (required[i] != NULL && PG_ARGISNULL(i))
			rc_enqueue_null_arg(required[i]);

	task_type = PG_GETARG_OID(0);
	max_attempts = PG_GETARG_INT32(6);
	if (!PG_ARGISNULL(3))
		shard_key = PG_GETARG_TEXT_PP(3);
	if (!PG_ARGISNULL(7))
		dedupe_key = PG_GETARG_TEXT_PP(7);

	if (max_attempts < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_attempts %d is not positive", max_attempts),
				 errhint("A task is started at least once: pass 1 or more.")));
	is_push = (rc_task_type_ordinal(task_type) == RC_PUSH_ORDINAL);
	if (is_push && (shard_key == NULL || VARSIZE_ANY_EXHDR(shard_key) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a pushNotifications task needs a shard_key"),
				 errhint("Pass the subscriber the notification is for as shard_key.")));
	if (dedupe_key != NULL && VARSIZE_ANY_EXHDR(dedupe_key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedupe_key must not be empty"),
				 errhint("Pass NULL for a task without a dedupe key.")));

	/* the row: the arguments in the table's order, then the derived columns */
	argtypes[0] = rc_task_type_argtype(fcinfo);
	argtypes[1] = TEXTOID;
	argtypes[2] = JSONBOID;
	argtypes[3] = TEXTOID;
	argtypes[4] = INT4OID;
	argtypes[5] = TIMESTAMPTZOID;
	argtypes[6] = INT4OID;
	argtypes[7] = INT4OID;
	argtypes[8] = BOOLOID;
	argtypes[9] = TEXTOID;

	values[0] = ObjectIdGetDatum(task_type);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = PG_GETARG_DATUM(2);
	values[3] = shard_key ? PointerGetDatum(shard_key) : (Datum) 0;
	values[4] = (Datum) 0;
	values[5] = PG_GETARG_DATUM(4);
	values[6] = PG_GETARG_DATUM(5);
	values[7] = Int32GetDatum(max_attempts);
	values[8] = BoolGetDatum(rc_task_type_singleton(task_type));
	values[9] = dedupe_key ? PointerGetDatum(dedupe_key) : (Datum) 0;
	memset(nulls, ' ', sizeof(nulls));
	if (shard_key == NULL)
		nulls[3] = 'n';
	if (is_push)
		values[4] = Int32GetDatum(rc_shard_of_server_text(VARDATA_ANY(shard_key),
														  VARSIZE_ANY_EXHDR(shard_key),
														  rc_push_shards_total()));
	else
		nulls[4] = 'n';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (dedupe_key == NULL)
	{
		if (!rc_run_returning_id(rc_saved_plan(&enqueue_plan, enqueue_sql,
											   RC_ENQUEUE_NARGS - 1, argtypes,
											   argtypes[0]),
								 values, nulls, &id))
			elog(ERROR, "enqueue inserted no row");
	}
	else
	{
		/*
		 * A concurrent enqueue of the same key makes ours wait for it and
		 * then do nothing; the task it finds may finish before we look, so
		 * loop.
		 */
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (rc_run_returning_id(rc_saved_plan(&enqueue_dedupe_plan, enqueue_dedupe_sql,
												  RC_ENQUEUE_NARGS, argtypes,
												  argtypes[0]),
									values, nulls, &id))
				break;
			if (rc_run_returning_id(rc_saved_plan(&dedupe_lookup_plan, dedupe_lookup_sql,
												  1, &argtypes[9], argtypes[0]),
									&values[9], &nulls[9], &id))
				break;
		}
	}

	SPI_finish();
	PG_RETURN_INT64(id);
}

/*
 * role_cluster.complete_task(task_id bigint, node_id text) → void
 *
 * The node that holds a task running reports it done.  The common case is
 * one statement, the caller's right to act for the node checked in it; the
 * errors are worked out only when it changes nothing.
 */
Datum
rc_complete_task(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	int			rc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task id must not be NULL")));
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_plan(rc_saved_plan(&complete_plan, complete_sql, 2, argtypes,
										InvalidOid),
						  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "complete_task statement failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
	{
		/* raises: the node does not exist, is not the caller's, or does not hold it */
		(void) SPI_execute_plan(rc_saved_plan(&complete_error_plan, complete_error_sql, 2,
											  argtypes, InvalidOid),
								values, nulls, false, 0);
		elog(ERROR, "task " INT64_FORMAT " was not completed", DatumGetInt64(values[0]));
	}
	SPI_finish();
	PG_RETURN_VOID();
}
