/*-------------------------------------------------------------------------
 *
 * rc_queue.c
 *	  role_cluster.enqueue(), role_cluster.complete_task() and the entry
 *	  of role_cluster.claim_tasks() in C, and helpers the queue calls
 *	  often: enqueue_batch()'s check of its array and the rows it reads
 *	  from it, and whether a node's session still exists.
 *
 * Every task passes through enqueue() and complete_task() once, usually
 * one call per transaction, so their fixed cost is the queue's.  Written
 * in PL/pgSQL they paid for the interpreter, for argument checks run as
 * expressions and for two lookups planned and executed as subqueries.
 * Here the checks are plain C, the singleton flag and the push shard come
 * from rc_task.c, and the row is written without a statement, through
 * rc_write.c, which saves the plan and the per-statement setup of the
 * table's indexes and triggers (more than half of what a statement cost):
 * enqueue() inserts it (with a dedupe key, its INSERT ... ON CONFLICT,
 * prepared once per session with SPI and kept, finds the task that has
 * it); complete_task() reads the node's row and the task's by their
 * primary keys and updates the task.  A claim's routing is
 * hand_out_tasks()'s (src/rc_handout.c), which dispatch() shares;
 * claim_tasks() checks its arguments, lets it write its rows into the
 * caller's result, and sorts them.
 *
 * All three are declared SECURITY DEFINER with search_path pinned (see
 * the install script).  Their statements (the saved plans, and those they
 * fall back on for a table whose triggers use transition tables, which
 * rc_write.c does not fill) run under the queue's planner settings, which
 * they apply around them (rc_queue_settings_begin()), so that they are
 * always planned and revalidated alike, as a generic plan that uses the
 * queue's indexes; the common path, which runs none, does not pay for the
 * settings.  The statements name every object with its schema.
 *
 * The error paths that need to find out why nothing changed call the
 * PL/pgSQL helpers that the other node-facing functions use, so the
 * messages are the same everywhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_collation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "rc_flush.h"
#include "rc_group.h"
#include "rc_queue.h"
#include "rc_shard.h"
#include "rc_task.h"
#include "rc_util.h"
#include "rc_write.h"

PG_FUNCTION_INFO_V1(rc_enqueue);
PG_FUNCTION_INFO_V1(rc_complete_task);
PG_FUNCTION_INFO_V1(rc_claim_tasks);
PG_FUNCTION_INFO_V1(rc_check_task_batch);
PG_FUNCTION_INFO_V1(rc_task_batch_rows);
PG_FUNCTION_INFO_V1(rc_node_session_alive);
PG_FUNCTION_INFO_V1(rc_node_lease);
PG_FUNCTION_INFO_V1(rc_node_timeout);

/* role_cluster.node_lease and role_cluster.node_timeout (0: the lease), in seconds */
static int	rc_node_lease_s = 30;
static int	rc_node_timeout_s = 30;

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

static void rc_enqueue_null_arg(int argno, const char *name) pg_attribute_noreturn();
static void rc_batch_error(int pos, JsonbValue *elem, const char *problem,
						   bool unknown_type) pg_attribute_noreturn();
static void rc_batch_row_error(int pos,
							   JsonbValue *elem) pg_attribute_noreturn();

/*
 * The longest dedupe key, in bytes: its entry in task_dedupe_idx must fit
 * a btree page (2704 bytes) whatever its bytes, since an index compresses
 * a long value only when the value allows it.
 */
#define RC_MAX_DEDUPE_KEY_LEN 1024

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
"    AND state IN ('queued', 'running')"
" DO NOTHING"
" RETURNING t.id";

static const char *const dedupe_lookup_sql =
"SELECT t.id FROM role_cluster.task t"
" WHERE t.dedupe_key OPERATOR(pg_catalog.=) $1"
"   AND t.state IN ('queued', 'running')";

static const char *const complete_sql =
"UPDATE role_cluster.task AS t"
"   SET state = 'done', lease_until = NULL, finished_at = pg_catalog.now(),"
"       updated_at = pg_catalog.now()"
" WHERE t.id OPERATOR(pg_catalog.=) $1 AND t.node_id OPERATOR(pg_catalog.=) $2"
"   AND t.state OPERATOR(pg_catalog.=) 'running'"
"   AND ($3 IS NULL OR t.attempts OPERATOR(pg_catalog.=) $3)"
"   AND (t.route_seq IS NULL"
"        OR t.route_seq OPERATOR(pg_catalog.<=) (SELECT f.fetched FROM role_cluster.node_fetch f"
"                                                WHERE f.node_id OPERATOR(pg_catalog.=) $2))"
"   AND EXISTS (SELECT FROM role_cluster.node n"
"               WHERE n.node_id OPERATOR(pg_catalog.=) $2"
"                 AND (n.login OPERATOR(pg_catalog.=) SESSION_USER"
"                      OR pg_catalog.pg_has_role(SESSION_USER, 'role_cluster_admin', 'MEMBER')))";

static const char *const complete_error_sql =
"SELECT role_cluster.not_held($1, (role_cluster.node_for_caller($2, false)).node_id, 'complete', $3)";

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
		saved->plan = rc_prepare_kept_plan(sql, nargs, argtypes);
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
 * Raises 22004 for an argument that must not be NULL.  All but the first,
 * the task type, have a default.
 */
static void
rc_enqueue_null_arg(int argno, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("task %s must not be NULL", name),
			 argno == 0 ?
			 errhint("Pass the type of the task, one of role_cluster.task_type's values.") :
			 errhint("Leave the argument out to get its default.")));
}

/*
 * Raises unless run_at, a task's due time, is finite: a task due at
 * infinity would never run, and one due at -infinity has no age.
 */
static void
rc_check_run_at(TimestampTz run_at)
{
	if (TIMESTAMP_NOT_FINITE(run_at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run_at %s is not a time a task can be due",
						TIMESTAMP_IS_NOBEGIN(run_at) ? "-infinity" : "infinity"),
				 errhint("Pass the time the task is due, or leave run_at out for now.")));
}

/*
 * enqueue_sql without a statement (rc_write.h), for values and nulls in
 * its parameters' order: the row of the columns' defaults, the values
 * given set, inserted under a fresh snapshot taken as SPI takes one for a
 * statement that writes.  False, having done nothing, when the table's
 * INSERT triggers use transition tables (the caller runs the statement).
 */
static bool
rc_enqueue_direct(const Datum *values, const char *nulls, int64 *id)
{
	static const RcTaskColumn columns[RC_ENQUEUE_NARGS - 1] = {
		RC_TASK_TASK_TYPE, RC_TASK_KIND, RC_TASK_PAYLOAD, RC_TASK_SHARD_KEY,
		RC_TASK_PUSH_SHARD, RC_TASK_RUN_AT, RC_TASK_PRIORITY, RC_TASK_MAX_ATTEMPTS,
		RC_TASK_SINGLETON
	};
	RcTaskWrite w;
	bool		written = false;

	PreventCommandIfReadOnly("INSERT");
	PreventCommandIfParallelMode("INSERT");
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	if (rc_write_begin(&w, CMD_INSERT))
	{
		rc_write_new_row(&w);
		for (int i = 0; i < RC_ENQUEUE_NARGS - 1; i++)
			rc_write_set(&w, columns[i], values[i], nulls[i] == 'n');
		*id = rc_write_insert(&w);
		rc_write_end(&w);
		written = true;
	}
	PopActiveSnapshot();
	return written;
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
static Datum
enqueue_unpinned(PG_FUNCTION_ARGS)
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
	Jsonb	   *payload;
	JsonbValue	scalar;
	int32		max_attempts;
	int64		id = 0;
	int			settings;

	for (int i = 0; i < (int) lengthof(required); i++)
		if (required[i] != NULL && PG_ARGISNULL(i))
			rc_enqueue_null_arg(i, required[i]);

	/* a JSON null payload is one left out, as in enqueue_batch() */
	payload = PG_GETARG_JSONB_P(2);
	if (JB_ROOT_IS_SCALAR(payload) &&
		JsonbExtractScalar(&payload->root, &scalar) && scalar.type == jbvNull)
		payload = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

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
	is_push = (rc_task_type_ordinal(task_type) == RC_PUSH_NOTIFICATIONS);
	if (is_push && (shard_key == NULL || VARSIZE_ANY_EXHDR(shard_key) == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a pushNotifications task needs a shard_key"),
				 errhint("Set shard_key to the subscriber the notification is for.")));
	if (dedupe_key != NULL && VARSIZE_ANY_EXHDR(dedupe_key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedupe_key must not be empty"),
				 errhint("Pass NULL for a task without a dedupe key.")));
	if (dedupe_key != NULL && VARSIZE_ANY_EXHDR(dedupe_key) > RC_MAX_DEDUPE_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedupe_key \"%s\" is too long",
						rc_shown(text_to_cstring(dedupe_key), 32)),
				 errdetail("It has %d bytes; a dedupe key may have at most %d.",
						   (int) VARSIZE_ANY_EXHDR(dedupe_key), RC_MAX_DEDUPE_KEY_LEN)));
	rc_check_run_at(PG_GETARG_TIMESTAMPTZ(4));

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
	values[2] = JsonbPGetDatum(payload);
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
														  rc_push_shards_total(true)));
	else
		nulls[4] = 'n';

	if (dedupe_key == NULL && rc_enqueue_direct(values, nulls, &id))
		PG_RETURN_INT64(id);

	settings = rc_queue_settings_begin();
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
	rc_queue_settings_end(settings);
	PG_RETURN_INT64(id);
}

/* ---------------------------------------------------------------------
 * claim_tasks()
 * ---------------------------------------------------------------------
 */

/* The arguments of role_cluster.hand_out_tasks() */
#define RC_HAND_OUT_NARGS 7

/*
 * role_cluster.hand_out_tasks(), in claim_tasks()'s schema: looked up once
 * per session (again if claim_tasks() itself is another function, the
 * extension created anew), set up once for the calling expression and
 * kept in its FmgrInfo.  Each execution of a statement sets up its
 * expressions afresh, so the lookup by name would otherwise come with
 * every claim.
 */
static FmgrInfo *
rc_hand_out_tasks_fn(FunctionCallInfo fcinfo)
{
	static Oid	looked_up_for = InvalidOid; /* the claim_tasks() it was for */
	static Oid	hand_out_oid = InvalidOid;
	FmgrInfo   *fn = (FmgrInfo *) fcinfo->flinfo->fn_extra;

	if (fn != NULL)
		return fn;
	if (looked_up_for != fcinfo->flinfo->fn_oid)
	{
		Oid			argtypes[RC_HAND_OUT_NARGS] = {
			TEXTOID, INT4OID, BOOLOID, INT4OID, INT4OID, TIMESTAMPTZOID, INT8OID
		};
		char	   *schema = get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid));

		if (schema == NULL)
			elog(ERROR, "schema of function %u not found", fcinfo->flinfo->fn_oid);
		hand_out_oid = LookupFuncName(list_make2(makeString(schema), makeString("hand_out_tasks")),
									  RC_HAND_OUT_NARGS, argtypes, false);
		looked_up_for = fcinfo->flinfo->fn_oid;
	}
	fn = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
	fmgr_info_cxt(hand_out_oid, fn, fcinfo->flinfo->fn_mcxt);
	fcinfo->flinfo->fn_extra = fn;
	return fn;
}

/* The number of the column called name in desc; can't-happen if none */
static AttrNumber
rc_column(TupleDesc desc, const char *name)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		elog(ERROR, "claimed tasks have no column \"%s\"", name);
	return (AttrNumber) attnum;
}

/*
 * Puts the rows of a materialized result in hand-out order (priority
 * descending, run_at, id): hand_out_tasks() returns them in no particular
 * order.  A tuplesort, so that a large claim spills to disk past work_mem
 * as a planned ORDER BY would.
 */
static void
rc_sort_claimed(ReturnSetInfo *rsinfo)
{
	Tuplestorestate *rows = rsinfo->setResult;
	TupleDesc	desc = rsinfo->setDesc;
	AttrNumber	keys[3];
	Oid			operators[3];
	Oid			collations[3] = {InvalidOid, InvalidOid, InvalidOid};
	bool		nulls_first[3] = {false, false, false};
	Tuplesortstate *sort;
	TupleTableSlot *slot;
	Tuplestorestate *sorted;
	MemoryContext oldcxt;

	if (rows == NULL || tuplestore_tuple_count(rows) < 2)
		return;
	keys[0] = rc_column(desc, "priority");
	operators[0] = lookup_type_cache(INT4OID, TYPECACHE_GT_OPR)->gt_opr;
	keys[1] = rc_column(desc, "run_at");
	operators[1] = lookup_type_cache(TIMESTAMPTZOID, TYPECACHE_LT_OPR)->lt_opr;
	keys[2] = rc_column(desc, "id");
	operators[2] = lookup_type_cache(INT8OID, TYPECACHE_LT_OPR)->lt_opr;

	sort = tuplesort_begin_heap(desc, 3, keys, operators, collations, nulls_first,
								work_mem, NULL, TUPLESORT_NONE);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(rows, true, false, slot))
		tuplesort_puttupleslot(sort, slot);
	tuplestore_end(rows);
	tuplesort_performsort(sort);

	/* the sorted rows go where the unsorted ones were kept */
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	sorted = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
								   false, work_mem);
	MemoryContextSwitchTo(oldcxt);
	while (tuplesort_gettupleslot(sort, true, false, slot, NULL))
		tuplestore_puttupleslot(sorted, slot);
	tuplesort_end(sort);
	ExecDropSingleTupleTableSlot(slot);
	rsinfo->setResult = sorted;
}

/*
 * role_cluster.claim_tasks(node_id text, n int) → SETOF role_cluster.task
 *
 * A node claims up to n routable due tasks for itself, returned in
 * hand-out order.  The routing rule is hand_out_tasks()'s, which dispatch()
 * calls too; this checks the arguments and calls it with the caller's own
 * result set, so that its rows reach the caller as it wrote them.  (A
 * PL/pgSQL wrapper ran a statement to call it and copied every row: 4 % of
 * a task's instructions at batch 1, bench_queue.sh's COUNT=instructions.)
 */
static Datum
claim_tasks_unpinned(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		n;
	Datum		result;
	PgStat_FunctionCallUsage usage;

	LOCAL_FCINFO(call, RC_HAND_OUT_NARGS);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("number of tasks to claim must be zero or more, not NULL")));
	n = PG_GETARG_INT32(1);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of tasks to claim must be zero or more, not %d", n)));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("node id must not be NULL")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0 || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	InitFunctionCallInfoData(*call, rc_hand_out_tasks_fn(fcinfo), RC_HAND_OUT_NARGS,
							 PG_GET_COLLATION(), NULL, (Node *) rsinfo);
	call->args[0].value = PG_GETARG_DATUM(0);
	call->args[0].isnull = false;
	call->args[1].value = Int32GetDatum(n);
	call->args[1].isnull = false;
	call->args[2].value = BoolGetDatum(true);	/* claiming */
	call->args[2].isnull = false;
	for (int i = 3; i < RC_HAND_OUT_NARGS; i++)
	{
		/* held, after_priority, after_run_at, after_id: not given */
		call->args[i].value = (Datum) 0;
		call->args[i].isnull = true;
	}
	/* counted in pg_stat_user_functions as the executor counts a call */
	pgstat_init_function_usage(call, &usage);
	rc_claim_wal_begin();
	result = FunctionCallInvoke(call);
	rc_claim_wal_end();
	pgstat_end_function_usage(&usage, true);
	if (rsinfo->returnMode != SFRM_Materialize)
		elog(ERROR, "hand_out_tasks did not materialize its result");
	rc_sort_claimed(rsinfo);
	fcinfo->isnull = call->isnull;
	return result;
}

/*
 * Whether the session user may act for node node_id: the node exists, and
 * the session user registered it or is a member of role_cluster_admin.
 */
static bool
rc_may_act_for(Datum node_id)
{
	Datum		login;
	bool		isnull;

	if (!rc_read_by_key(RC_NODE_LOGIN, node_id, &login, &isnull))
		return false;
	return rc_session_user_may_act(isnull ? (Datum) 0 : login);
}

/*
 * Whether the session user may act for a node registered by login (a
 * name; 0: none): it is that login, or a member of role_cluster_admin
 */
bool
rc_session_user_may_act(Datum login)
{
	if (login != (Datum) 0 &&
		strcmp(NameStr(*DatumGetName(login)), GetUserNameFromId(GetSessionUserId(), false)) == 0)
		return true;
	return is_member_of_role(GetSessionUserId(), get_role_oid("role_cluster_admin", false));
}

/*
 * Whether the task row found holds what complete_task()'s check asks:
 * running on node node_id, for the attempt given (attempt NULL: any), and
 * started (claimed, or routed and fetched: its route_seq within the
 * node's fetch mark, read once into *fetched, *fetched_read set).
 */
static bool
rc_task_completable(RcTaskWrite *w, Datum node_id, const int32 *attempt,
					bool *fetched_read, Datum *fetched, bool *fetched_null)
{
	bool		isnull;
	Datum		d;

	d = rc_write_get(w, RC_TASK_STATE, &isnull);
	if (isnull || DatumGetObjectId(d) != DatumGetObjectId(rc_task_state_value(RC_STATE_RUNNING)))
		return false;
	d = rc_write_get(w, RC_TASK_NODE_ID, &isnull);
	if (isnull || !DatumGetBool(DirectFunctionCall2Coll(texteq, DEFAULT_COLLATION_OID,
														 d, node_id)))
		return false;
	if (attempt != NULL)
	{
		d = rc_write_get(w, RC_TASK_ATTEMPTS, &isnull);
		if (isnull || DatumGetInt32(d) != *attempt)
			return false;
	}
	d = rc_write_get(w, RC_TASK_ROUTE_SEQ, &isnull);
	if (isnull)
		return true;
	if (!*fetched_read)
	{
		if (!rc_read_by_key(RC_NODE_FETCH_FETCHED, node_id, fetched, fetched_null))
			*fetched_null = true;
		*fetched_read = true;
	}
	return !*fetched_null && DatumGetInt64(d) <= DatumGetInt64(*fetched);
}

/* Sets the task's new version done, as complete_task()'s statement does */
static void
rc_task_set_done(RcTaskWrite *w)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	rc_write_set(w, RC_TASK_STATE, rc_task_state_value(RC_STATE_DONE), false);
	rc_write_set(w, RC_TASK_LEASE_UNTIL, (Datum) 0, true);
	rc_write_set(w, RC_TASK_FINISHED_AT, TimestampTzGetDatum(now), false);
	rc_write_set(w, RC_TASK_UPDATED_AT, TimestampTzGetDatum(now), false);
}

/* What rc_complete_direct() did */
typedef enum RcCompleted
{
	RC_COMPLETED,				/* the task is done */
	RC_NOT_COMPLETED,			/* nothing changed: not the caller's to complete */
	RC_COMPLETE_BY_STATEMENT	/* nothing changed: the table needs the statement */
} RcCompleted;

/*
 * complete_task()'s statement, without one (rc_write.h): the check of the
 * caller's right and of the task, then the row written, under a fresh
 * snapshot taken as SPI takes one for a statement that writes.  As the
 * statement, it writes the row without locking it first (no lock record
 * in the WAL).  Under READ COMMITTED, a row another transaction changed
 * meanwhile is locked in its last version and checked again, as the
 * statement's recheck would.
 */
static RcCompleted
rc_complete_direct(int64 task_id, Datum node_id, const int32 *attempt)
{
	RcTaskWrite w;
	RcCompleted result = RC_NOT_COMPLETED;
	bool		fetched_read = false;
	Datum		fetched = (Datum) 0;
	bool		fetched_null = true;
	bool		newer;
	bool		changed;

	PreventCommandIfReadOnly("UPDATE");
	PreventCommandIfParallelMode("UPDATE");
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
	if (!rc_write_begin(&w, CMD_UPDATE))
		result = RC_COMPLETE_BY_STATEMENT;
	else
	{
		if (rc_may_act_for(node_id) && rc_write_find(&w, task_id) &&
			rc_task_completable(&w, node_id, attempt, &fetched_read, &fetched, &fetched_null))
		{
			/* written as found, or checked again in its last version and written */
			rc_task_set_done(&w);
			if (rc_write_update_unlocked(&w, &changed))
				result = RC_COMPLETED;
			else if (changed && rc_write_lock(&w, &newer) &&
					 (!newer ||
					  rc_task_completable(&w, node_id, attempt, &fetched_read, &fetched,
										  &fetched_null)))
			{
				rc_task_set_done(&w);
				if (rc_write_update(&w))
					result = RC_COMPLETED;
			}
		}
		rc_write_end(&w);
	}
	PopActiveSnapshot();
	return result;
}

/*
 * role_cluster.complete_task(task_id bigint, node_id text, attempt int) → void
 *
 * The node that holds a task running (for the attempt given, if one is)
 * reports it done.  The common case writes the row without a statement
 * (rc_complete_direct()); a table whose UPDATE triggers use transition
 * tables gets the statement, the caller's right to act for the node
 * checked in it.  The errors are worked out only when nothing changed.
 */
static Datum
complete_task_unpinned(PG_FUNCTION_ARGS)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	RcCompleted completed = RC_COMPLETE_BY_STATEMENT;
	int			rc;
	int			settings;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("task id must not be NULL")));
	values[0] = PG_GETARG_DATUM(0);
	for (int i = 1; i < 3; i++)
	{
		values[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		if (PG_ARGISNULL(i))
			nulls[i] = 'n';
	}

	/* a NULL node id: the statement, which changes nothing, then the error */
	if (!PG_ARGISNULL(1))
	{
		int32		attempt = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);

		completed = rc_complete_direct(PG_GETARG_INT64(0), values[1],
									   PG_ARGISNULL(2) ? NULL : &attempt);
		if (completed == RC_COMPLETED)
			PG_RETURN_VOID();
	}

	settings = rc_queue_settings_begin();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (completed == RC_COMPLETE_BY_STATEMENT)
	{
		rc = SPI_execute_plan(rc_saved_plan(&complete_plan, complete_sql, 3, argtypes,
											InvalidOid),
							  values, nulls, false, 0);
		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "complete_task statement failed: %s", SPI_result_code_string(rc));
		if (SPI_processed > 0)
		{
			SPI_finish();
			rc_queue_settings_end(settings);
			PG_RETURN_VOID();
		}
	}

	/* raises: the node does not exist, is not the caller's, or does not hold it */
	(void) SPI_execute_plan(rc_saved_plan(&complete_error_plan, complete_error_sql, 3,
										  argtypes, InvalidOid),
							values, nulls, false, 0);
	elog(ERROR, "task " INT64_FORMAT " was not completed", DatumGetInt64(values[0]));
	PG_RETURN_VOID();			/* keep the compiler quiet */
}

/* ---------------------------------------------------------------------
 * enqueue_batch()'s check of its argument
 * ---------------------------------------------------------------------
 */

/* The keys an element of enqueue_batch()'s array may have */
static const char *const batch_keys[] = {
	"task_type", "kind", "payload", "shard_key", "run_at", "priority",
	"max_attempts", "dedupe_key"
};

/*
 * The value of key in an object, or NULL when the key is missing or its
 * value is JSON null (the two mean the same to enqueue_batch).
 */
static JsonbValue *
rc_batch_field(JsonbContainer *obj, const char *key, JsonbValue *buf)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), buf);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

/* Is the value present and something else than a string? */
static bool
rc_batch_not_string(JsonbValue *v)
{
	return v != NULL && v->type != jbvString;
}

/* What rc_batch_integer() made of a JSON number */
typedef enum RcBatchInt
{
	RC_INT_OK,					/* an integer that fits an int4 */
	RC_INT_NOT_INTEGER,			/* a fraction (1.5; 2.0 and 1e3 are whole) */
	RC_INT_TOO_LOW,				/* below the range of an int4 */
	RC_INT_TOO_HIGH				/* above it */
} RcBatchInt;

/*
 * Reads a JSON number that is a whole number into *value: JSON has one
 * kind of number, and an encoder may well write 2 as 2.0 (Python's does
 * for a float).  Its text form (numeric_out) is then digits, with an
 * optional minus sign and a fractional part of zeros only; 1e3 comes out
 * as 1000.
 */
static RcBatchInt
rc_batch_integer(JsonbValue *v, int32 *value)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(v->val.numeric)));
	char	   *p = text;
	bool		negative = (*p == '-');
	bool		out_of_range = false;

	if (negative)
		p++;
	if (*p < '0' || *p > '9')
		return RC_INT_NOT_INTEGER;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.')
		while (*++p == '0')
			;
	if (*p != '\0')
		return RC_INT_NOT_INTEGER;
	*value = numeric_int4_opt_error(v->val.numeric, &out_of_range);
	if (out_of_range)
		return negative ? RC_INT_TOO_LOW : RC_INT_TOO_HIGH;
	return RC_INT_OK;
}

/*
 * The JSON type of a batch that is not an array, as jsonb_typeof() names it.
 */
static const char *
rc_jsonb_type(Jsonb *jb)
{
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v))
		return JsonbTypeName(&v);
	return JB_ROOT_IS_OBJECT(jb) ? "object" : "array";
}

/*
 * Raises the error for the element at position pos (1-based) of the batch.
 */
static void
rc_batch_error(int pos, JsonbValue *elem, const char *problem, bool unknown_type)
{
	Jsonb	   *jb = JsonbValueToJsonb(elem);
	char	   *text = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	int			cut = pg_mbcharcliplen(text, strlen(text), 200);

	ereport(ERROR,
			(errcode(unknown_type ? ERRCODE_INVALID_TEXT_REPRESENTATION :
					 ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("task at position %d %s", pos, problem),
			 errdetail("The task is %.*s.", cut, text),
			 unknown_type ? errhint("%s", rc_task_types_hint()) :
			 errhint("Each task is an object with \"task_type\" and optionally \"kind\", \"payload\", \"shard_key\", \"run_at\", \"priority\", \"max_attempts\" and \"dedupe_key\".")));
}

/*
 * What is wrong with one element of the batch, or NULL; *unknown_type is
 * set when it is an unknown task type.  *keyed is set when the element
 * carries a dedupe key, and the bit of its type's ordinal in *types.
 */
static char *
rc_batch_problem(JsonbValue *elem, bool *unknown_type, bool *keyed, uint32 *types)
{
	JsonbContainer *obj;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *unknown = NULL;
	JsonbValue	buf;
	JsonbValue *f;
	char	   *type_name;
	int			ordinal;
	bool		has_shard_key;
	RcBatchInt	r = RC_INT_OK;
	int32		n = 0;

	*unknown_type = false;
	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		return "is not an object";
	obj = elem->val.binary.data;

	/* the first unknown key, in the order ORDER BY would give */
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		known = false;

		if (tok != WJB_KEY)
			continue;
		for (int i = 0; i < (int) lengthof(batch_keys) && !known; i++)
			known = strlen(batch_keys[i]) == (size_t) v.val.string.len &&
				memcmp(v.val.string.val, batch_keys[i], v.val.string.len) == 0;
		if (!known && (unknown == NULL ||
					   varstr_cmp(v.val.string.val, v.val.string.len,
								  unknown, strlen(unknown),
								  DEFAULT_COLLATION_OID) < 0))
			unknown = pnstrdup(v.val.string.val, v.val.string.len);
	}
	if (unknown != NULL)
	{
		StringInfoData msg;

		initStringInfo(&msg);
		appendStringInfoString(&msg, "has unknown key ");
		escape_json(&msg, unknown);
		return msg.data;
	}

	f = rc_batch_field(obj, "task_type", &buf);
	if (f == NULL)
		return "has no task_type";
	if (f->type != jbvString)
		return "has a task_type that is not a string";
	type_name = pnstrdup(f->val.string.val, f->val.string.len);
	ordinal = rc_task_type_by_name(type_name);
	if (ordinal < 0)
	{
		StringInfoData msg;

		initStringInfo(&msg);
		appendStringInfoString(&msg, "has unknown task_type ");
		escape_json(&msg, type_name);
		*unknown_type = true;
		return msg.data;
	}

	if (rc_batch_not_string(rc_batch_field(obj, "kind", &buf)))
		return "has a kind that is not a string";
	f = rc_batch_field(obj, "shard_key", &buf);
	if (rc_batch_not_string(f))
		return "has a shard_key that is not a string";
	has_shard_key = (f != NULL && f->val.string.len > 0);
	f = rc_batch_field(obj, "dedupe_key", &buf);
	if (rc_batch_not_string(f))
		return "has a dedupe_key that is not a string";
	if (f != NULL && f->val.string.len == 0)
		return "has an empty dedupe_key";
	if (f != NULL && f->val.string.len > RC_MAX_DEDUPE_KEY_LEN)
		return psprintf("has a dedupe_key of %d bytes, over the %d a dedupe key may have",
						f->val.string.len, RC_MAX_DEDUPE_KEY_LEN);
	*keyed |= (f != NULL);
	if (rc_batch_not_string(rc_batch_field(obj, "run_at", &buf)))
		return "has a run_at that is not a string";
	f = rc_batch_field(obj, "priority", &buf);
	if (f != NULL && f->type != jbvNumeric)
		return "has a priority that is not a number";
	if (f != NULL && (r = rc_batch_integer(f, &n)) != RC_INT_OK)
		return r == RC_INT_NOT_INTEGER ? "has a priority that is not an integer" :
			"has a priority out of the range of an integer";
	f = rc_batch_field(obj, "max_attempts", &buf);
	if (f != NULL && f->type != jbvNumeric)
		return "has a max_attempts that is not a number";
	if (f != NULL && (r = rc_batch_integer(f, &n)) == RC_INT_TOO_HIGH)
		return "has a max_attempts out of the range of an integer";
	if (f != NULL && (r != RC_INT_OK || n < 1))
		return "has a max_attempts that is not a positive integer";
	if (ordinal == RC_PUSH_NOTIFICATIONS && !has_shard_key)
		return "is a pushNotifications task without a shard_key";
	*types |= (uint32) 1 << ordinal;
	return NULL;
}

/*
 * role_cluster.check_task_batch(tasks jsonb) → boolean
 *
 * Checks every element of enqueue_batch()'s array, raising for the first
 * bad one what is wrong with it (22023, or 22P02 for an unknown task
 * type), and returns whether any element carries a dedupe key.  The caller
 * has checked that tasks is an array.  Then takes the configuration gates
 * of the batch's types shared, in key order (and that of push_shards_total
 * for push tasks, see rc_task.c), so that the rows task_batch_rows()
 * then derives, reading the policy and total as last committed, take
 * values that no change under way is about to replace unseen.
 */
Datum
rc_check_task_batch(PG_FUNCTION_ARGS)
{
	Jsonb	   *tasks = PG_GETARG_JSONB_P(0);
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		keyed = false;
	int			pos = 0;
	uint32		types = 0;

	if (!JB_ROOT_IS_ARRAY(tasks) || JB_ROOT_IS_SCALAR(tasks))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks must be a JSON array, not %s", rc_jsonb_type(tasks))));

	it = JsonbIteratorInit(&tasks->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *problem;
		bool		unknown_type;

		if (tok != WJB_ELEM)
			continue;
		pos++;
		problem = rc_batch_problem(&v, &unknown_type, &keyed, &types);
		if (problem != NULL)
			rc_batch_error(pos, &v, problem, unknown_type);
	}
	for (int ordinal = 0; ordinal < RC_NUM_TASK_TYPES; ordinal++)
		if (types & ((uint32) 1 << ordinal))
			rc_config_gate_shared(ordinal);
	if (types & ((uint32) 1 << RC_PUSH_NOTIFICATIONS))
		rc_config_gate_shared(RC_GATE_PUSH_SHARDS);
	PG_RETURN_BOOL(keyed);
}

/* The columns of task_batch_rows(), in order */
enum
{
	RC_ROW_POS,
	RC_ROW_TASK_TYPE,
	RC_ROW_KIND,
	RC_ROW_PAYLOAD,
	RC_ROW_SHARD_KEY,
	RC_ROW_PUSH_SHARD,
	RC_ROW_RUN_AT,
	RC_ROW_PRIORITY,
	RC_ROW_MAX_ATTEMPTS,
	RC_ROW_SINGLETON,
	RC_ROW_DEDUPE_KEY,
	RC_ROW_NCOLUMNS
};

/* Error context of a run_at that timestamptz_in refuses: which task it is */
static void
rc_batch_run_at_context(void *arg)
{
	errcontext("run_at of the task at position %d of the batch", *(int *) arg);
}

/*
 * Raises the error for the element at position pos that task_batch_rows()
 * cannot turn into a row: the one check_task_batch() gives.
 */
static void
rc_batch_row_error(int pos, JsonbValue *elem)
{
	bool		unknown_type;
	bool		keyed = false;
	uint32		types = 0;
	char	   *problem = rc_batch_problem(elem, &unknown_type, &keyed, &types);

	if (problem == NULL)
		elog(ERROR, "task at position %d passed the batch check but could not be read", pos);
	rc_batch_error(pos, elem, problem, unknown_type);
}

/*
 * A string field of an element as a text Datum; sets *isnull when it is
 * missing or JSON null.  Returns false when it is something else.
 */
static bool
rc_batch_text(JsonbContainer *obj, const char *key, Datum *value, bool *isnull)
{
	JsonbValue	buf;
	JsonbValue *f = rc_batch_field(obj, key, &buf);

	*isnull = (f == NULL);
	if (f == NULL)
		return true;
	if (f->type != jbvString)
		return false;
	*value = PointerGetDatum(cstring_to_text_with_len(f->val.string.val, f->val.string.len));
	return true;
}

/*
 * An integer field of an element (priority, max_attempts), or dflt when it
 * is missing or JSON null.  Returns false when it is not an integer that
 * fits an int4 (rc_batch_problem() says which).
 */
static bool
rc_batch_int(JsonbContainer *obj, const char *key, int32 dflt, Datum *value)
{
	JsonbValue	buf;
	JsonbValue *f = rc_batch_field(obj, key, &buf);
	int32		n;

	if (f == NULL)
	{
		*value = Int32GetDatum(dflt);
		return true;
	}
	if (f->type != jbvNumeric || rc_batch_integer(f, &n) != RC_INT_OK)
		return false;
	*value = Int32GetDatum(n);
	return true;
}

/*
 * role_cluster.task_batch_rows(tasks jsonb) → SETOF record
 *
 * The rows enqueue_batch() inserts, one per element of its array, in array
 * order: (pos, task_type, kind, payload, shard_key, push_shard, run_at,
 * priority, max_attempts, singleton, dedupe_key), a missing key (or JSON
 * null) taking enqueue()'s default, and the derived columns as enqueue()
 * derives them (rc_task.c): each type's singleton flag, and the shard
 * total for push tasks, looked up once per call.  Read in C, the array
 * costs a fraction of what a JSON operator per column and a join with
 * task_policy per element did in SQL.
 *
 * The caller has had the array checked by check_task_batch(), which also
 * took the configuration gates; an element that cannot be read raises the
 * same error that check would, and keys that are not columns are not
 * looked at.
 */
Datum
rc_task_batch_rows(PG_FUNCTION_ARGS)
{
	Jsonb	   *tasks = PG_GETARG_JSONB_P(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			pos = 0;
	int8		singleton[RC_NUM_TASK_TYPES];	/* -1: not looked up yet */
	int32		total = 0;		/* 0: not looked up yet */
	Datum		empty_payload = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	Datum		empty_kind = PointerGetDatum(cstring_to_text(""));
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!JB_ROOT_IS_ARRAY(tasks) || JB_ROOT_IS_SCALAR(tasks))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks must be a JSON array, not %s", rc_jsonb_type(tasks))));
	rc_init_row_srf(fcinfo);
	memset(singleton, -1, sizeof(singleton));

	it = JsonbIteratorInit(&tasks->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		Datum		values[RC_ROW_NCOLUMNS];
		bool		nulls[RC_ROW_NCOLUMNS] = {0};
		JsonbContainer *obj;
		JsonbValue	buf;
		JsonbValue *f;
		char	   *type_name;
		int			ordinal;

		if (tok != WJB_ELEM)
			continue;
		pos++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			rc_batch_row_error(pos, &v);
		obj = v.val.binary.data;
		values[RC_ROW_POS] = Int32GetDatum(pos);

		f = rc_batch_field(obj, "task_type", &buf);
		if (f == NULL || f->type != jbvString)
			rc_batch_row_error(pos, &v);
		type_name = pnstrdup(f->val.string.val, f->val.string.len);
		ordinal = rc_task_type_by_name(type_name);
		pfree(type_name);
		if (ordinal < 0)
			rc_batch_row_error(pos, &v);
		values[RC_ROW_TASK_TYPE] = ObjectIdGetDatum(rc_task_type_oid(ordinal));

		if (!rc_batch_text(obj, "kind", &values[RC_ROW_KIND], &nulls[RC_ROW_KIND]) ||
			!rc_batch_text(obj, "shard_key", &values[RC_ROW_SHARD_KEY], &nulls[RC_ROW_SHARD_KEY]) ||
			!rc_batch_text(obj, "dedupe_key", &values[RC_ROW_DEDUPE_KEY], &nulls[RC_ROW_DEDUPE_KEY]) ||
			!rc_batch_text(obj, "run_at", &values[RC_ROW_RUN_AT], &nulls[RC_ROW_RUN_AT]) ||
			!rc_batch_int(obj, "priority", 0, &values[RC_ROW_PRIORITY]) ||
			!rc_batch_int(obj, "max_attempts", 5, &values[RC_ROW_MAX_ATTEMPTS]) ||
			DatumGetInt32(values[RC_ROW_MAX_ATTEMPTS]) < 1)
			rc_batch_row_error(pos, &v);
		if (nulls[RC_ROW_KIND])
		{
			values[RC_ROW_KIND] = empty_kind;
			nulls[RC_ROW_KIND] = false;
		}
		/* run_at: the text given, read as timestamptz_in reads it, or now() */
		if (nulls[RC_ROW_RUN_AT])
			values[RC_ROW_RUN_AT] = TimestampTzGetDatum(now);
		else
		{
			ErrorContextCallback where;

			/* an error names the task, as the checks above do */
			where.callback = rc_batch_run_at_context;
			where.arg = &pos;
			where.previous = error_context_stack;
			error_context_stack = &where;
			values[RC_ROW_RUN_AT] =
				DirectFunctionCall3(timestamptz_in,
									CStringGetDatum(TextDatumGetCString(values[RC_ROW_RUN_AT])),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
			rc_check_run_at(DatumGetTimestampTz(values[RC_ROW_RUN_AT]));
			error_context_stack = where.previous;
		}
		nulls[RC_ROW_RUN_AT] = false;

		f = rc_batch_field(obj, "payload", &buf);
		values[RC_ROW_PAYLOAD] = f == NULL ? empty_payload :
			JsonbPGetDatum(JsonbValueToJsonb(f));

		/* the derived columns */
		nulls[RC_ROW_PUSH_SHARD] = (ordinal != RC_PUSH_NOTIFICATIONS);
		if (ordinal == RC_PUSH_NOTIFICATIONS)
		{
			text	   *key;

			if (nulls[RC_ROW_SHARD_KEY] ||
				VARSIZE_ANY_EXHDR(DatumGetTextPP(values[RC_ROW_SHARD_KEY])) == 0)
				rc_batch_row_error(pos, &v);
			key = DatumGetTextPP(values[RC_ROW_SHARD_KEY]);
			if (total == 0)
				total = rc_push_shards_total(true);
			values[RC_ROW_PUSH_SHARD] =
				Int32GetDatum(rc_shard_of_server_text(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
													  total));
		}
		if (singleton[ordinal] < 0)
			singleton[ordinal] = rc_task_type_singleton(rc_task_type_oid(ordinal)) ? 1 : 0;
		values[RC_ROW_SINGLETON] = BoolGetDatum(singleton[ordinal] == 1);

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Whether the backends' status, as this transaction's copy of it has it,
 * shows the session with this pid and start time.
 */
static bool
rc_session_in_status_copy(int32 pid, TimestampTz started)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
			return local->backendStatus.st_proc_start_timestamp == started;
	}
	return false;
}

/*
 * role_cluster.node_session_alive(pid int, started timestamptz) → boolean
 *
 * Does the session with this pid and start time still exist?  Reads the
 * backends' status that pg_stat_activity shows, without building its
 * rows, and sees every session's start time whatever the caller's
 * privileges (and the caller's own session without a look).  PostgreSQL
 * copies that status once per transaction, when it is first read, so a
 * session that began since is missing from the copy: a "no" is confirmed
 * with a fresh copy before it is given (it takes a node's tasks away; a
 * "yes" at worst waits for the next look).
 *
 * On a hot standby the nodes' sessions are the primary's, which it cannot
 * see: the answer is yes, and what the views say of a node there rests on
 * its lease and node timeout, as the primary last wrote them (reclaim()
 * on the primary ends the lease of a node whose session ended when it
 * takes back the node's tasks).
 */
Datum
rc_node_session_alive(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rc_session_alive(PG_GETARG_INT32(0), PG_GETARG_TIMESTAMPTZ(1)));
}

/* Whether the session with this pid and start time exists (see above) */
bool
rc_session_alive(int32 pid, TimestampTz started)
{
	if (RecoveryInProgress())
		return true;
	/* the caller's own pid: its session, or one that had the pid before */
	if (pid == MyProcPid)
		return started == MyStartTimestamp;
	if (rc_session_in_status_copy(pid, started))
		return true;
	pgstat_clear_backend_activity_snapshot();
	return rc_session_in_status_copy(pid, started);
}

/*
 * Defines role_cluster.node_lease and role_cluster.node_timeout, in every
 * process that loads the library: heartbeat() and register_node() read
 * them in the node's own session.
 */
void
rc_queue_init(void)
{
	DefineCustomIntVariable("role_cluster.node_lease",
							"How long a node keeps its tasks after it heartbeats or registers.",
							"A node that does not heartbeat again within it is gone: reclaim() "
							"puts back what it held.  The leases of the tasks it holds follow "
							"its own.",
							&rc_node_lease_s, 30, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.node_timeout",
							"How long a node is given new work after it heartbeats or registers.",
							"A node that does not heartbeat again within it is routed nothing "
							"more, and gives back what was routed to it and not fetched, but keeps "
							"the tasks it started until its lease (role_cluster.node_lease) ends.  "
							"0, or a value above node_lease, means node_lease.",
							&rc_node_timeout_s, 0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/*
 * role_cluster.node_lease() → interval
 *
 * The session's role_cluster.node_lease, as an interval: what a heartbeat
 * or a registration adds to the moment it holds the node's row for the
 * node's lease.  (Calling it loads the library, so the setting is defined
 * even where the library is not preloaded.)
 */
Datum
rc_node_lease(PG_FUNCTION_ARGS)
{
	Interval   *lease = palloc0(sizeof(Interval));

	lease->time = (int64) rc_node_lease_s * USECS_PER_SEC;
	PG_RETURN_INTERVAL_P(lease);
}

/*
 * role_cluster.node_timeout() → interval
 *
 * The session's role_cluster.node_timeout as an interval, the lease when
 * it is 0 or longer: what a heartbeat or a registration adds to now() for
 * the time the node stays live.  A node is never live without its lease.
 */
Datum
rc_node_timeout(PG_FUNCTION_ARGS)
{
	Interval   *timeout = palloc0(sizeof(Interval));
	int			seconds = rc_node_lease_s;

	if (rc_node_timeout_s > 0 && rc_node_timeout_s < rc_node_lease_s)
		seconds = rc_node_timeout_s;
	timeout->time = (int64) seconds * USECS_PER_SEC;
	PG_RETURN_INTERVAL_P(timeout);
}

/* ---------------------------------------------------------------------
 * The SECURITY DEFINER entry points: each body with the search path
 * pinned (rc_call_pinned(), in place of a SET clause)
 * ---------------------------------------------------------------------
 */

/* role_cluster.enqueue(): enqueue_unpinned() under the pinned path */
Datum
rc_enqueue(PG_FUNCTION_ARGS)
{
	return rc_call_pinned(enqueue_unpinned, fcinfo);
}

/* role_cluster.claim_tasks(): claim_tasks_unpinned() under the pinned path */
Datum
rc_claim_tasks(PG_FUNCTION_ARGS)
{
	return rc_call_pinned(claim_tasks_unpinned, fcinfo);
}

/* role_cluster.complete_task(): complete_task_unpinned() under the pinned path */
Datum
rc_complete_task(PG_FUNCTION_ARGS)
{
	return rc_call_pinned(complete_task_unpinned, fcinfo);
}
