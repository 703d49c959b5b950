/*-------------------------------------------------------------------------
 *
 * rc_shmem.c
 *	  The background worker's shared state, and the SQL functions that
 *	  other sessions use to reach the worker: wake_worker() (wake it when
 *	  the calling transaction commits, or a prepared transaction is
 *	  committed), watch_session() (wake it when the calling session ends)
 *	  and worker_stats() (its counters).
 *
 * The state is allocated through shmem_request_hook/shmem_startup_hook,
 * so it exists only when the library is in shared_preload_libraries.
 * Counters are atomics, so that the worker and the committing backends
 * never wait on each other; the few non-counter fields sit behind a
 * spinlock and are only ever copied in or out under it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/wait_event.h"

#include "rc_shmem.h"
#include "rc_util.h"

PG_FUNCTION_INFO_V1(rc_wake_worker);
PG_FUNCTION_INFO_V1(rc_wake_worker_trigger);
PG_FUNCTION_INFO_V1(rc_note_dispatch);
PG_FUNCTION_INFO_V1(rc_note_schedules);
PG_FUNCTION_INFO_V1(rc_watch_session);
PG_FUNCTION_INFO_V1(rc_worker_stats);
PG_FUNCTION_INFO_V1(rc_worker_stats_reset);
PG_FUNCTION_INFO_V1(rc_worker_preloaded);

RcShared   *rc_shared = NULL;
bool		rc_in_worker = false;
int32		rc_dispatch_notified = 0;
TimestampTz rc_dispatch_next_due = DT_NOEND;
TimestampTz rc_schedules_next_due = DT_NOEND;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;

static void rc_process_utility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree, ProcessUtilityContext context,
							   ParamListInfo params, QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static bool rc_may_use_schema(void);

/* Per-backend: has this transaction asked to wake the worker at commit? */
static uint32 wake_at_commit = 0;	/* RC_WAKE_* bits */
static bool xact_callback_registered = false;
static bool session_watched = false;

static const char *const rc_state_names[] = {
	[RC_WORKER_NOT_RUNNING] = "not running",
	[RC_WORKER_STARTING] = "starting",
	[RC_WORKER_DISABLED] = "disabled",
	[RC_WORKER_STANDBY] = "standby",
	[RC_WORKER_NO_EXTENSION] = "no extension",
	[RC_WORKER_RUNNING] = "running",
};

/* Asks for the shared state's space (PG15: only allowed in this hook) */
static void
rc_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RcShared)));
}

/* Creates (postmaster, also after a crash restart) or attaches the state */
static void
rc_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rc_shared = ShmemInitStruct("role_cluster worker", sizeof(RcShared), &found);
	if (!found)
	{
		memset(rc_shared, 0, sizeof(RcShared));
		SpinLockInit(&rc_shared->mutex);
		rc_shared->state = RC_WORKER_NOT_RUNNING;
		rc_shared->reset_at = GetCurrentTimestamp();
		pg_atomic_init_u32(&rc_shared->reclaim_requested, 0);
		pg_atomic_init_u32(&rc_shared->wake_pending, 0);
		pg_atomic_init_u32(&rc_shared->fire_requested, 0);
		pg_atomic_init_u32(&rc_shared->work_waiting, 1);
		pg_atomic_init_u32(&rc_shared->rebuild_wanted, 0);
		pg_atomic_init_u32(&rc_shared->vacuum_pid, 0);
		pg_atomic_init_u64(&rc_shared->rebuild_looked, 0);
		for (int i = 0; i < RC_NUM_COUNTERS; i++)
			pg_atomic_init_u64(&rc_shared->counters[i], 0);
		for (int i = 0; i < RC_NUM_GATE_KEYS; i++)
			pg_atomic_init_u64(&rc_shared->gate_changes[i], 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Installs the hooks.  Called from rc_worker_init() during preloading
 * only: without preloading there is no shared state.
 */
void
rc_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rc_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rc_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = rc_process_utility;
}

/*
 * Runs utility statements as usual, and wakes the worker after a COMMIT
 * PREPARED.  The prepared transaction's own session ran no commit callback
 * (its request to wake the worker was dropped at PREPARE, and the session
 * may be long gone), and nothing tells which prepared transactions wrote
 * the queue: so every one committed wakes the worker, in the database it
 * belongs to (COMMIT PREPARED runs only there), for its work and its
 * schedules, if the login committing it may use the extension's schema
 * (the one that prepared it, or a superuser: one that could not have
 * written the queue wakes nothing, as wake_worker() refuses it).  Its rows
 * are visible to all once the statement returns.
 */
static void
rc_process_utility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		commit_prepared;

	commit_prepared = IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED;
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
	if (commit_prepared && !rc_in_worker && rc_shared != NULL && rc_may_use_schema() &&
		rc_wake_worker_now(&rc_shared->fire_requested))
		rc_count(RC_COUNT_WAKEUPS, 1);
}

/* May the current user use the role_cluster schema (which PUBLIC may not)? */
static bool
rc_may_use_schema(void)
{
	Oid			nsp = get_namespace_oid("role_cluster", true);

	return OidIsValid(nsp) &&
		pg_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE) == ACLCHECK_OK;
}

/* Errors out, with a hint, when the library was not preloaded */
void
rc_require_preload(void)
{
	if (rc_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("role_cluster must be loaded via shared_preload_libraries"),
				 errdetail("The background worker and its counters live in shared memory, which only a preloaded library can allocate."),
				 errhint("Add role_cluster to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * Sets the worker's latch, if there is a worker and it watches our database
 * (a worker that has not connected yet is woken too); never blocks for
 * long.  Commits in the server's other databases leave it asleep: it could
 * do nothing about their queues.  So do commits while it is disabled
 * (role_cluster.enabled = off): it would only go back to sleep, and the
 * reload that enables it again runs every step at once (rc_worker_main()).
 * request, when not NULL, is a flag of rc_shared for the worker (a step it
 * should run): set before the latch, and only when the worker is woken.
 */
bool
rc_wake_worker_now(pg_atomic_uint32 *request)
{
	Latch	   *latch;
	Oid			dboid;
	RcWorkerState state;

	if (rc_shared == NULL)
		return false;
	SpinLockAcquire(&rc_shared->mutex);
	latch = rc_shared->worker_latch;
	dboid = rc_shared->worker_dboid;
	state = rc_shared->state;
	SpinLockRelease(&rc_shared->mutex);
	if (latch == NULL || state == RC_WORKER_DISABLED ||
		(OidIsValid(dboid) && OidIsValid(MyDatabaseId) && dboid != MyDatabaseId))
		return false;
	if (request != NULL)
		pg_atomic_write_u32(request, 1);
	pg_atomic_write_u32(&rc_shared->wake_pending, 1);
	SetLatch(latch);
	return true;
}

/* Adds n to a counter */
void
rc_count(RcCounter counter, int64 n)
{
	if (rc_shared != NULL && n > 0)
		pg_atomic_fetch_add_u64(&rc_shared->counters[counter], (uint64) n);
}

/*
 * Records a failed step of the worker (or its vacuum process) for
 * worker_stats
 */
void
rc_note_error(const char *step, ErrorData *edata)
{
	char		msg[RC_LAST_ERROR_LEN];
	TimestampTz now;
	int			len;

	if (rc_shared == NULL)
		return;
	rc_count(RC_COUNT_ERRORS, 1);

	/* cut at a character boundary: worker_stats must stay valid text */
	len = snprintf(msg, sizeof(msg), "%s: %s",
				   step, edata->message ? edata->message : "(no message)");
	if (len >= (int) sizeof(msg))
		msg[pg_mbcliplen(msg, sizeof(msg) - 1, sizeof(msg) - 1)] = '\0';

	now = GetCurrentTimestamp();	/* not under the spinlock: a system call */
	SpinLockAcquire(&rc_shared->mutex);
	strlcpy(rc_shared->last_error, msg, RC_LAST_ERROR_LEN);
	rc_shared->last_error_at = now;
	SpinLockRelease(&rc_shared->mutex);
}

/*
 * CHECK_FOR_INTERRUPTS() for the worker between the steps that
 * rc_guarded() runs.  A cancel request (pg_cancel_backend)
 * that arrives there finds no step to cancel, and would otherwise end the
 * process: an ERROR outside rc_guarded() has no handler, and becomes
 * FATAL.  So it is dropped; a termination request is obeyed as ever.
 */
void
rc_check_interrupts_between_steps(void)
{
	QueryCancelPending = false;
	CHECK_FOR_INTERRUPTS();
}

/*
 * Runs body(arg) under the error handling of the worker and its vacuum
 * process (see rc_shmem.h).  Interrupts are held while the error is
 * cleaned up, so that a cancel cannot cut into it; pg_cancel_backend() on
 * the worker cancels one step, which then counts as failed.
 */
int64
rc_guarded(const char *name, RcGuardedBody body, void *arg, int quiet_code)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile int64 result = RC_GUARDED_FAILED;

	PG_TRY();
	{
		result = body(arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		if (quiet_code != 0 && edata->sqlerrcode == quiet_code)
			result = RC_GUARDED_QUIET;
		else
		{
			EmitErrorReport();
			result = RC_GUARDED_FAILED;
		}
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		if (result == RC_GUARDED_FAILED)
			rc_note_error(name, edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return result;
}

/*
 * Transaction callback of wake_worker(): on commit, wake the worker (for
 * freed capacity only while work waits for it; for schedules written,
 * asking it to fire them again); on abort (or PREPARE, whose rows appear
 * only at COMMIT PREPARED, which wakes the worker itself: see
 * rc_process_utility), forget the request.
 */
static void
rc_wake_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if ((wake_at_commit & (RC_WAKE_WORK | RC_WAKE_SCHEDULES)) != 0 ||
				((wake_at_commit & RC_WAKE_CAPACITY) != 0 &&
				 pg_atomic_read_u32(&rc_shared->work_waiting) != 0))
			{
				if (rc_wake_worker_now((wake_at_commit & RC_WAKE_SCHEDULES) != 0 ?
									   &rc_shared->fire_requested : NULL))
					rc_count(RC_COUNT_WAKEUPS, 1);
			}
			wake_at_commit = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = 0;
			break;
		default:
			break;
	}
}

/*
 * role_cluster.wake_worker() → void
 *
 * Wakes the background worker when the calling transaction commits (the
 * COMMIT callback runs after the transaction became visible, so the worker
 * sees its rows).  A rollback does not wake it, nor does a commit while
 * the worker is disabled (rc_wake_worker_now()).  Without a preloaded
 * library or a running worker it does nothing.  Cheap enough to call per
 * row: it only sets a flag.
 */
Datum
rc_wake_worker(PG_FUNCTION_ARGS)
{
	rc_wake_worker_at_commit(RC_WAKE_WORK);
	PG_RETURN_VOID();
}

/*
 * Asks for the worker to be woken when this transaction commits, for
 * reason (RC_WAKE_*); nothing without a preloaded library, or in the worker
 * itself (it loops again on its own when it made work).
 */
void
rc_wake_worker_at_commit(uint32 reason)
{
	if (rc_shared == NULL || rc_in_worker)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(rc_wake_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit |= reason;
}

/*
 * role_cluster.wake_worker_trigger([reason]) → trigger
 *
 * wake_worker() as an AFTER trigger, for the queue's tables: tasks
 * enqueued or queued again, nodes registering, roles, type policies and the
 * number of push shards written (no argument: always),
 * held tasks finishing (argument 'capacity': only while due work waits,
 * which the worker notes after each dispatch), schedules written (argument
 * 'schedules': the worker looks at them again, for one due sooner than it
 * knew).  C, so that it costs the hot paths next to nothing.
 */
Datum
rc_wake_worker_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rc_trigger_data(fcinfo, "wake_worker_trigger");
	uint32		reason = RC_WAKE_WORK;

	if (trigdata->tg_trigger->tgnargs > 0)
	{
		const char *arg = trigdata->tg_trigger->tgargs[0];

		if (strcmp(arg, "capacity") == 0)
			reason = RC_WAKE_CAPACITY;
		else if (strcmp(arg, "schedules") == 0)
			reason = RC_WAKE_SCHEDULES;
		else if (strcmp(arg, "work") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown wake-up reason \"%s\"", arg),
					 errhint("Pass \"work\", \"capacity\" or \"schedules\", or nothing for \"work\".")));
	}
	rc_wake_worker_at_commit(reason);
	PG_RETURN_POINTER(NULL);
}

/*
 * Exit callback of watch_session(): ask the worker to run reclaim() now.
 *
 * Exit callbacks registered this late run before the ones that take the
 * session out of pg_stat_activity and the proc array, so the worker could
 * still see the session alive.  The callback therefore leaves its pid for
 * the worker, which waits until the process is gone before reclaiming
 * (rc_wait_for_ended_sessions).
 */
static void
rc_session_exit_callback(int code, Datum arg)
{
	if (rc_shared == NULL)
		return;
	SpinLockAcquire(&rc_shared->mutex);
	/* beyond that many the worker does not wait: the next poll catches them */
	if (rc_shared->nexiting < RC_MAX_EXITING)
		rc_shared->exiting[rc_shared->nexiting++] = MyProcPid;
	SpinLockRelease(&rc_shared->mutex);
	pg_atomic_write_u32(&rc_shared->reclaim_requested, 1);
	rc_wake_worker_now(NULL);
}

/*
 * In the worker, before a reclaim that ended sessions asked for: wait until
 * each of them has left the proc array (and so pg_stat_activity), at most
 * a second in all, so that reclaim() sees them gone.  A session that takes
 * longer is caught by the next poll.
 */
void
rc_wait_for_ended_sessions(void)
{
	pid_t		pids[RC_MAX_EXITING];
	int			n;
	int			waited_ms = 0;

	SpinLockAcquire(&rc_shared->mutex);
	n = rc_shared->nexiting;
	memcpy(pids, rc_shared->exiting, n * sizeof(pid_t));
	rc_shared->nexiting = 0;
	SpinLockRelease(&rc_shared->mutex);

	for (int i = 0; i < n; i++)
	{
		while (BackendPidGetProc(pids[i]) != NULL && waited_ms < 1000)
		{
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1,
							 PG_WAIT_EXTENSION);
			rc_check_interrupts_between_steps();
			waited_ms++;
		}
	}
}

/*
 * role_cluster.watch_session() → void
 *
 * Makes the calling session wake the worker when it ends (disconnect,
 * pg_terminate_backend, FATAL), so that reclaim() hands its tasks back at
 * once instead of at the next poll.  register_node calls it.  Idempotent;
 * a no-op without a preloaded library.
 */
Datum
rc_watch_session(PG_FUNCTION_ARGS)
{
	if (rc_shared != NULL && !session_watched)
	{
		on_shmem_exit(rc_session_exit_callback, (Datum) 0);
		session_watched = true;
	}
	PG_RETURN_VOID();
}

/* Microseconds as milliseconds, for display */
static Datum
us_to_ms_datum(int64 us)
{
	return Float8GetDatum((double) us / 1000.0);
}

/*
 * role_cluster.worker_stats() → one row
 *
 * The worker's state and counters since the last reset (or server start;
 * a crash restart re-creates shared memory and so resets them too).
 */
Datum
rc_worker_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[19];
	bool		nulls[19] = {0};
	RcShared	snap;
	uint64		c[RC_NUM_COUNTERS];
	int			i = 0;

	rc_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (tupdesc->natts != lengthof(values))
		elog(ERROR, "worker_stats: expected %d columns, got %d",
			 (int) lengthof(values), tupdesc->natts);

	SpinLockAcquire(&rc_shared->mutex);
	memcpy(&snap, rc_shared, offsetof(RcShared, reclaim_requested));
	SpinLockRelease(&rc_shared->mutex);
	for (int k = 0; k < RC_NUM_COUNTERS; k++)
		c[k] = pg_atomic_read_u64(&rc_shared->counters[k]);

	/* pid, state, started_at */
	values[i] = Int32GetDatum(snap.worker_pid);
	nulls[i++] = (snap.worker_pid == 0);
	values[i++] = CStringGetTextDatum(rc_state_names[snap.state]);
	values[i] = TimestampTzGetDatum(snap.started_at);
	nulls[i++] = (snap.started_at == 0);
	/* the counters */
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_LOOPS]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_WAKEUPS]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_ROUTED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_NOTIFIED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_RECLAIMED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_FIRED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_PRUNED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_VACUUMED]);
	values[i++] = Int64GetDatum((int64) c[RC_COUNT_ERRORS]);
	/* loop timing */
	values[i] = TimestampTzGetDatum(snap.last_loop_at);
	nulls[i++] = (snap.last_loop_at == 0);
	values[i] = us_to_ms_datum(snap.last_loop_us);
	nulls[i++] = (snap.last_loop_at == 0);
	values[i] = c[RC_COUNT_LOOPS] > 0 ?
		us_to_ms_datum((int64) (c[RC_COUNT_LOOP_US] / c[RC_COUNT_LOOPS])) : (Datum) 0;
	nulls[i++] = (c[RC_COUNT_LOOPS] == 0);
	values[i] = us_to_ms_datum(snap.max_loop_us);
	nulls[i++] = (snap.last_loop_at == 0);
	/* last error */
	values[i] = CStringGetTextDatum(snap.last_error);
	nulls[i++] = (snap.last_error_at == 0);
	values[i] = TimestampTzGetDatum(snap.last_error_at);
	nulls[i++] = (snap.last_error_at == 0);
	values[i++] = TimestampTzGetDatum(snap.reset_at);
	Assert(i == lengthof(values));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * role_cluster.worker_stats_reset() → void
 *
 * Zeroes the counters, the loop timings and the last error.
 */
Datum
rc_worker_stats_reset(PG_FUNCTION_ARGS)
{
	TimestampTz now;

	rc_require_preload();
	for (int k = 0; k < RC_NUM_COUNTERS; k++)
		pg_atomic_write_u64(&rc_shared->counters[k], 0);
	now = GetCurrentTimestamp();	/* not under the spinlock: a system call */
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->last_loop_at = 0;
	rc_shared->last_loop_us = 0;
	rc_shared->max_loop_us = 0;
	rc_shared->last_error_at = 0;
	rc_shared->last_error[0] = '\0';
	rc_shared->reset_at = now;
	SpinLockRelease(&rc_shared->mutex);
	PG_RETURN_VOID();
}

/*
 * role_cluster.note_dispatch(waiting boolean, notified integer,
 *							  next_due timestamptz) → void
 *
 * Called by dispatch() at its end.  waiting: whether due tasks were left
 * queued because a node that may run them had no room; in the worker it is
 * noted in shared memory, and until the next dispatch, commits that only
 * finish held tasks (freeing capacity) wake the worker only when it was
 * true.  notified: how many nodes it notified, which the worker counts in
 * worker_stats once the call has committed.  next_due: when the next
 * deferred task falls due (NULL: none), which the worker sleeps no longer
 * than.  Elsewhere (dispatch() called by hand) it does nothing.
 */
Datum
rc_note_dispatch(PG_FUNCTION_ARGS)
{
	if (rc_shared == NULL || !rc_in_worker)
		PG_RETURN_VOID();
	if (!PG_ARGISNULL(0))
		pg_atomic_write_u32(&rc_shared->work_waiting, PG_GETARG_BOOL(0) ? 1 : 0);
	if (!PG_ARGISNULL(1))
		rc_dispatch_notified = PG_GETARG_INT32(1);
	/* (a note_dispatch() of two arguments, from before this one, has none) */
	rc_dispatch_next_due = (PG_NARGS() < 3 || PG_ARGISNULL(2)) ?
		DT_NOEND : PG_GETARG_TIMESTAMPTZ(2);
	PG_RETURN_VOID();
}

/*
 * role_cluster.note_schedules(next_due timestamptz) → void
 *
 * Called by fire_schedules() at its end: when to fire the schedules again,
 * the earliest due time of an enabled schedule still ahead or a second
 * later while one is left due (NULL: none).  In the worker it is noted,
 * and the worker fires the schedules again then, not only at the poll.
 * Elsewhere (fire_schedules() called by hand) it does nothing.
 */
Datum
rc_note_schedules(PG_FUNCTION_ARGS)
{
	if (rc_shared == NULL || !rc_in_worker)
		PG_RETURN_VOID();
	rc_schedules_next_due = PG_ARGISNULL(0) ?
		DT_NOEND : PG_GETARG_TIMESTAMPTZ(0);
	PG_RETURN_VOID();
}

/*
 * role_cluster.worker_preloaded() → boolean
 *
 * Whether the library was preloaded, so that the background worker can run
 * (in role_cluster.database).
 */
Datum
rc_worker_preloaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rc_shared != NULL);
}
