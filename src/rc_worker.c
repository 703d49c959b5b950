/*-------------------------------------------------------------------------
 *
 * rc_worker.c
 *	  The role_cluster background worker.
 *
 * One worker per server, connected to role_cluster.database.  Each loop
 * it calls, each in its own transaction:
 *
 *	- role_cluster.dispatch(batch)	first, every loop, again while it routes a
 *								full batch (for up to RC_DISPATCH_SLICE_MS);
 *	- role_cluster.reclaim()		at least every poll_interval, and at once
 *								when a session that called watch_session()
 *								ended;
 *	- role_cluster.fire_schedules() at least every poll_interval, at the next
 *								due time of a schedule (it notes that), and
 *								at once when a schedule was written;
 *								dispatch() again if these two handed back or
 *								added work;
 *	- role_cluster.prune()		every prune_interval, and again next loop
 *								while it deletes a full batch;
 *	- a look at the queue tables	every vacuum_interval; a process of its
 *								own vacuums those with more dead rows than
 *								their autovacuum threshold (rc_vacuum.c).
 *
 * Between loops it sleeps on its latch.  A transaction that enqueued
 * tasks, queued a task again (a retry, a release, a hand-back), registered
 * a node or changed what the nodes may run (roles, type policies, the
 * number of push shards) sets the latch when it commits, and one in which a
 * node fetched or finished work sets it while due work waits for a node's
 * room (the wake_worker_trigger() triggers of 50_worker.sql); a node's
 * session sets it when it ends (watch_session()).  So dispatch and reclaim
 * follow at once.  A deferred task wakes it when it falls due (dispatch()
 * notes the next one), and so does a schedule (fire_schedules() notes the
 * next due time; a transaction that writes a schedule sets the latch, for
 * the worker to look again); only lease expiry waits for the poll.
 *
 * Start time: BgWorkerStart_ConsistentState, not RecoveryFinished.  With
 * RecoveryFinished the postmaster would not start the worker on a hot
 * standby at all; with ConsistentState it starts as soon as the standby
 * accepts connections, shows in pg_stat_activity in state "standby",
 * checks RecoveryInProgress() every poll, and starts dispatching at the
 * first poll after promotion, without a restart.
 *
 * Errors: a step that fails is logged (the full error report), counted,
 * its transaction aborted, and the loop goes on; the step is retried at
 * the next poll.  One bad row must not stop the cluster's dispatching.
 * SIGTERM ends the worker at the next interrupt check (aborting any open
 * transaction); the postmaster restarts it after bgw_restart_time, or not
 * at all during a shutdown.  A crash of the worker makes the postmaster
 * reinitialize, as for any backend, and start it again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "rc_shmem.h"
#include "rc_util.h"
#include "rc_vacuum.h"
#include "rc_worker.h"

/* Settings (role_cluster.*); see rc_worker_init() for their meaning */
static char *rc_database = NULL;
static bool rc_worker_enabled = true;
static int	rc_poll_interval_ms = 1000;
static int	rc_dispatch_batch = 1000;
static int	rc_prune_interval_s = 60;
static int	rc_retention_s = 3600;
static int	rc_dead_retention_s = 7 * 24 * 3600;
static int	rc_prune_batch = 10000;
static int	rc_node_retention_s = 7 * 24 * 3600;

/* How long a step of the worker waits for a lock before it gives up */
#define RC_WORKER_LOCK_TIMEOUT "100ms"

/* how long, per loop, dispatch() is called again before the other steps */
#define RC_DISPATCH_SLICE_MS 500

/*
 * How long after a failed dispatch() the worker calls it again, at most
 * (the poll interval, when shorter): enqueues and completions wake it, and
 * without a pause a dispatch that keeps failing (a queue table an operator
 * locked, a trigger of theirs that raises) would fail, and log its error,
 * at each commit.
 */
#define RC_DISPATCH_RETRY_MS 1000

/* What a step returns besides its count */
#define RC_STEP_FAILED			RC_GUARDED_FAILED
#define RC_STEP_NO_EXTENSION	(-2)

/* Where the worker is in its schedule of steps */
typedef struct RcLoopState
{
	TimestampTz next_full;		/* next reclaim + fire_schedules */
	/* next fire_schedules, as the last one noted */
	TimestampTz next_fire;
	TimestampTz next_prune;		/* next prune */
	TimestampTz next_vacuum;	/* next look at the tables' dead rows */
	/* after a failed dispatch(): not called again before then */
	TimestampTz dispatch_retry_at;
} RcLoopState;

/*
 * A step: its statement (one integer result, with an optional int4
 * parameter) and its plan, prepared once and kept for the life of the
 * worker (the plan cache revalidates it when the functions change).
 */
typedef struct RcStep
{
	const char *name;
	const char *sql;
	bool		has_arg;
	SPIPlanPtr	plan;
} RcStep;

static RcStep step_dispatch = {"dispatch", "SELECT role_cluster.dispatch($1)", true};
static RcStep step_reclaim = {"reclaim", "SELECT role_cluster.reclaim()", false};
static RcStep step_fire = {"fire_schedules", "SELECT role_cluster.fire_schedules()", false};
static RcStep step_prune = {"prune", "SELECT role_cluster.prune()", false};

static MemoryContext loop_cxt = NULL;

/*
 * Defines the settings and, when the library is being preloaded, the
 * shared memory and the worker.  Reloadable settings are defined in every
 * process that loads the library, so SHOW works everywhere; the database
 * (a postmaster setting) only when preloading, as worker_spi does.
 */
void
rc_worker_init(void)
{
	BackgroundWorker worker = {0};

	DefineCustomBoolVariable("role_cluster.enabled",
							 "Whether the background worker dispatches, reclaims, fires schedules and prunes.",
							 "When off, the worker keeps running but does nothing.",
							 &rc_worker_enabled, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.poll_interval",
							"Fallback poll interval of the background worker.",
							"The worker runs reclaim() and fire_schedules() and dispatches "
							"at least this often; committed enqueues wake it at once, and "
							"a deferred task or a schedule when it falls due.  It also "
							"bounds how long a standby waits to take over after promotion.",
							&rc_poll_interval_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.dispatch_batch",
							"Tasks that one dispatch() call routes at most.",
							"The worker calls dispatch() again, in a new transaction, while "
							"it routes a full batch, for up to half a second before its "
							"other steps.",
							&rc_dispatch_batch, 1000, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.prune_interval",
							"How often the background worker calls prune().",
							NULL,
							&rc_prune_interval_s, 60, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.retention",
							"How long prune() keeps done tasks after they finished.",
							NULL,
							&rc_retention_s, 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.dead_retention",
							"How long prune() keeps dead tasks (and schedule firings) after they finished.",
							NULL,
							&rc_dead_retention_s, 7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.prune_batch",
							"Rows of each kind that one prune() call deletes at most.",
							"The worker calls prune() again at its next loop while it deletes "
							"a full batch, so a backlog is worked off in short transactions.",
							&rc_prune_batch, 10000, 1, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.node_retention",
							"How long prune() keeps a node that is gone and holds no task.",
							"Counted from its last heartbeat (or registration) or its "
							"deregistration, whichever came last.",
							&rc_node_retention_s, 7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("role_cluster.vacuum_interval",
							"How often the background worker looks whether the queue tables need a vacuum.",
							"Each time, a process of its own vacuums those with more dead "
							"rows than their autovacuum threshold; autovacuum visits a "
							"database only once per autovacuum_naptime.  0 turns it off.",
							&rc_vacuum_interval_s, 1, 0, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomStringVariable("role_cluster.database",
							   "Database the background worker connects to.",
							   "The worker waits while the extension is not installed there.",
							   &rc_database, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);

	rc_shmem_init();

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* see the file header: starts on a hot standby too, and waits there */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "role_cluster");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "rc_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "role_cluster worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "role_cluster worker");
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

/* Publishes the worker's state */
static void
rc_set_state(RcWorkerState state)
{
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->state = state;
	SpinLockRelease(&rc_shared->mutex);
}

/*
 * Running again after role_cluster.enabled = off: commits wake the worker
 * from now on
 */
static void
rc_leave_disabled(void)
{
	SpinLockAcquire(&rc_shared->mutex);
	if (rc_shared->state == RC_WORKER_DISABLED)
		rc_shared->state = RC_WORKER_RUNNING;
	SpinLockRelease(&rc_shared->mutex);
}

/* Exit callback: nobody may set our latch any more */
static void
rc_worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->worker_pid = 0;
	rc_shared->worker_latch = NULL;
	rc_shared->worker_dboid = InvalidOid;
	rc_shared->state = RC_WORKER_NOT_RUNNING;
	SpinLockRelease(&rc_shared->mutex);
}

/* The integer in the first column of the first row of an SPI result */
static int64
rc_spi_int_result(const char *sql)
{
	bool		isnull;
	Datum		d;
	Oid			typid;

	if (SPI_processed != 1 || SPI_tuptable == NULL)
		elog(ERROR, "\"%s\" returned " UINT64_FORMAT " rows, expected 1",
			 sql, SPI_processed);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return 0;
	typid = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
		default:
			elog(ERROR, "\"%s\" returned type %u, expected an integer", sql, typid);
	}
	return 0;					/* keep the compiler quiet */
}

/* The plan of sql, prepared and kept on first use */
static SPIPlanPtr
rc_plan(SPIPlanPtr *planp, const char *sql, int nargs)
{
	Oid			argtypes[1] = {INT4OID};

	if (*planp == NULL)
		*planp = rc_prepare_kept_plan(sql, nargs, argtypes);
	return *planp;
}

/* A call of an SQL step: the step and its argument */
typedef struct RcStepCall
{
	RcStep	   *step;
	int32		arg;
} RcStepCall;

/*
 * Whether the extension is installed in this database and no DDL holds it,
 * in the current transaction.  A DROP EXTENSION locks the extension before
 * it drops its objects: the share lock taken here, without waiting, keeps
 * one from starting until the transaction ends, and one that runs (or has
 * just committed) counts as no extension rather than failing the step on a
 * missing or locked table.
 */
static bool
rc_extension_usable(void)
{
	Oid			ext = get_extension_oid("role_cluster", true);

	if (!OidIsValid(ext) ||
		!ConditionalLockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock))
		return false;
	/* the lock processed the invalidations of a DROP committed meanwhile */
	return get_extension_oid("role_cluster", true) == ext;
}

/*
 * The work of an SQL step: its statement, in a transaction of its own.
 * Returns its result, or RC_STEP_NO_EXTENSION when the extension is not
 * installed in this database or is being dropped.
 */
static int64
rc_step_body(void *arg)
{
	RcStepCall *call = (RcStepCall *) arg;
	RcStep	   *step = call->step;
	Datum		args[1];
	int64		r = RC_STEP_NO_EXTENSION;

	args[0] = Int32GetDatum(call->arg);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (rc_extension_usable())
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, step->sql);
		if (SPI_execute_plan(rc_plan(&step->plan, step->sql, step->has_arg ? 1 : 0),
							 args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "\"%s\" failed", step->sql);
		r = rc_spi_int_result(step->sql);
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();
	return r;
}

/*
 * Runs one SQL step (rc_step_body) under the worker's error handling:
 * returns its result, RC_STEP_NO_EXTENSION, or RC_STEP_FAILED.
 */
static int64
rc_step(RcStep *step, int32 arg)
{
	RcStepCall	call = {step, arg};

	return rc_guarded(step->name, rc_step_body, &call, 0);
}

/*
 * Runs a step of the loop that takes no argument (rc_step), counts what it
 * did under counter, and sets *failed if it failed.  Returns its result.
 */
static int64
rc_step_counted(RcStep *step, RcCounter counter, bool *failed)
{
	int64		n = rc_step(step, 0);

	if (n >= 0)
		rc_count(counter, n);
	else if (n == RC_STEP_FAILED)
		*failed = true;
	return n;
}

/*
 * The vacuum step's work: returns 1 when it started the vacuum process, 0
 * when no table needed it (rc_vacuum_launch_if_needed).
 */
static int64
rc_vacuum_look_body(void *arg)
{
	pgstat_report_activity(STATE_RUNNING, "looking at the queue tables' dead rows");
	return rc_vacuum_launch_if_needed() ? 1 : 0;
}

/* Milliseconds from now until t, at least 1 */
static long
rc_ms_until(TimestampTz now, TimestampTz t)
{
	long		ms;

	if (t <= now)
		return 1;
	ms = (long) ((t - now + 999) / 1000);
	return ms < 1 ? 1 : ms;
}

/* How a series of dispatch() calls ended */
typedef enum RcDispatchResult
{
	RC_DISPATCH_DONE,			/* a call routed less than a full batch */
	/* every call routed a full batch: go on soon */
	RC_DISPATCH_MORE,
	RC_DISPATCH_FAILED,			/* a call failed (logged and counted) */
	RC_DISPATCH_NO_EXTENSION	/* the extension is not installed */
} RcDispatchResult;

/*
 * Calls dispatch(batch), each call its own transaction, while it routes a
 * full batch, for up to RC_DISPATCH_SLICE_MS (at least once).
 */
static RcDispatchResult
rc_dispatch_all(void)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													RC_DISPATCH_SLICE_MS);

	do
	{
		int32		batch = rc_dispatch_batch;
		int64		n;

		rc_check_interrupts_between_steps();

		/*
		 * Until dispatch() notes otherwise at its end, every commit wakes
		 * us: one that frees room while the call runs may come after the
		 * call counted that room, and must not read the last call's "no
		 * work waits".
		 */
		pg_atomic_exchange_u32(&rc_shared->work_waiting, 1);
		rc_dispatch_notified = 0;	/* dispatch() notes them */
		rc_dispatch_next_due = DT_NOEND;
		n = rc_step(&step_dispatch, batch);
		if (n == RC_STEP_NO_EXTENSION)
			return RC_DISPATCH_NO_EXTENSION;
		if (n < 0)
		{
			/*
			 * dispatch() may have noted "no work waits" before its
			 * transaction failed: work may wait all the same
			 */
			pg_atomic_exchange_u32(&rc_shared->work_waiting, 1);
			return RC_DISPATCH_FAILED;
		}
		rc_count(RC_COUNT_ROUTED, n);
		rc_count(RC_COUNT_NOTIFIED, rc_dispatch_notified);
		if (n < batch)
			return RC_DISPATCH_DONE;
	} while (GetCurrentTimestamp() < until);
	return RC_DISPATCH_MORE;
}

/* The end of the pause after a failed dispatch() at start */
static TimestampTz
rc_dispatch_retry_time(TimestampTz start)
{
	return TimestampTzPlusMilliseconds(start, Min(rc_poll_interval_ms, RC_DISPATCH_RETRY_MS));
}

/* After a failed dispatch() at start, the time of the next call */
static void
rc_dispatch_pace(RcLoopState *ls, TimestampTz start, RcDispatchResult dr)
{
	if (dr == RC_DISPATCH_FAILED)
		ls->dispatch_retry_at = rc_dispatch_retry_time(start);
}

/*
 * One loop: returns how long to sleep (ms), 0 to loop again at once.
 *
 * dispatch() runs first, so that a commit's wake-up is not kept waiting
 * by reclaim or the schedules; when those then hand back or create work,
 * dispatch() runs again in the same loop.
 */
static long
rc_worker_loop_once(RcLoopState *ls)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		full;
	bool		fire;
	bool		more = false;
	bool		failed = false;
	RcDispatchResult dr;
	int64		n;
	int64		us;
	TimestampTz next;

	/* while idle, plan a full loop for the moment it may work again */
	if (!rc_worker_enabled)
	{
		rc_set_state(RC_WORKER_DISABLED);
		ls->next_full = 0;
		return rc_poll_interval_ms;
	}
	if (RecoveryInProgress())
	{
		rc_set_state(RC_WORKER_STANDBY);
		ls->next_full = 0;
		return rc_poll_interval_ms;
	}

	/*
	 * Enabled: out of the disabled state before the dispatch below takes its
	 * snapshot.  A commit that found the worker disabled did not wake it
	 * (rc_wake_worker_now()); this dispatch sees what that commit wrote.
	 */
	rc_leave_disabled();

	/* a pause longer than it can be: the clock was set back (see below) */
	if (ls->dispatch_retry_at > rc_dispatch_retry_time(start))
		ls->dispatch_retry_at = start;
	if (start < ls->dispatch_retry_at)
		dr = RC_DISPATCH_FAILED;	/* the last call failed: not yet again */
	else
	{
		dr = rc_dispatch_all();
		if (dr == RC_DISPATCH_NO_EXTENSION)
		{
			rc_set_state(RC_WORKER_NO_EXTENSION);
			ls->next_full = 0;
			return rc_poll_interval_ms;
		}
		rc_dispatch_pace(ls, start, dr);
	}
	rc_set_state(RC_WORKER_RUNNING);
	failed |= (dr == RC_DISPATCH_FAILED);
	more |= (dr == RC_DISPATCH_MORE);

	/*
	 * A step planned further ahead than its interval: the clock was set
	 * back.  Due now, rather than once the clock has caught up (lapsed
	 * leases would wait that long to be reclaimed).
	 */
	if (ls->next_full > TimestampTzPlusMilliseconds(start, rc_poll_interval_ms))
		ls->next_full = start;
	if (ls->next_prune > TimestampTzPlusMilliseconds(start, (int64) rc_prune_interval_s * 1000))
		ls->next_prune = start;
	if (ls->next_vacuum > TimestampTzPlusMilliseconds(start, (int64) rc_vacuum_interval_s * 1000))
		ls->next_vacuum = start;

	full = (start >= ls->next_full);
	if (pg_atomic_exchange_u32(&rc_shared->reclaim_requested, 0) != 0)
	{
		rc_wait_for_ended_sessions();
		full = true;
	}
	/* the schedules: every full loop, at their next due time, when written */
	fire = full || start >= ls->next_fire;
	if (pg_atomic_exchange_u32(&rc_shared->fire_requested, 0) != 0)
		fire = true;
	if (fire)
	{
		int64		handed = 0;

		if (full)
		{
			ls->next_full = TimestampTzPlusMilliseconds(start, rc_poll_interval_ms);

			n = rc_step_counted(&step_reclaim, RC_COUNT_RECLAIMED, &failed);
			handed += Max(n, 0);
		}

		rc_schedules_next_due = DT_NOEND;	/* fire_schedules() notes it */
		n = rc_step_counted(&step_fire, RC_COUNT_FIRED, &failed);
		handed += Max(n, 0);
		/* after a failure, the poll tries again */
		ls->next_fire = (n >= 0) ? rc_schedules_next_due : DT_NOEND;

		/* route what reclaim handed back and what the schedules enqueued */
		if (handed > 0 && dr == RC_DISPATCH_DONE)
		{
			dr = rc_dispatch_all();
			failed |= (dr == RC_DISPATCH_FAILED);
			more |= (dr == RC_DISPATCH_MORE);
			rc_dispatch_pace(ls, start, dr);
		}
	}

	if (start >= ls->next_prune)
	{
		n = rc_step_counted(&step_prune, RC_COUNT_PRUNED, &failed);
		/* a full batch: there is a backlog, go on at the next loop */
		if (n >= rc_prune_batch)
		{
			more = true;
			ls->next_prune = start;
		}

		/*
		 * Failed (a queue table an operator locked, say): again at the
		 * next poll, as the other steps, not a whole prune_interval later
		 */
		else if (n < 0)
			ls->next_prune = TimestampTzPlusMilliseconds(start,
														 Min((int64) rc_poll_interval_ms,
															 (int64) rc_prune_interval_s * 1000));
		else
			ls->next_prune = TimestampTzPlusMilliseconds(start,
														 (int64) rc_prune_interval_s * 1000);
	}

	if (rc_vacuum_interval_s > 0 && start >= ls->next_vacuum)
	{
		/* the vacuum process counts what it vacuumed */
		if (rc_guarded("vacuum", rc_vacuum_look_body, NULL, 0) < 0)
			failed = true;
		ls->next_vacuum = TimestampTzPlusMilliseconds(start,
													  (int64) rc_vacuum_interval_s * 1000);
	}

	/* the loop's statistics */
	us = GetCurrentTimestamp() - start;
	rc_count(RC_COUNT_LOOPS, 1);
	pg_atomic_fetch_add_u64(&rc_shared->counters[RC_COUNT_LOOP_US], (uint64) Max(us, 0));
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->last_loop_at = start + us;
	rc_shared->last_loop_us = us;
	if (us > rc_shared->max_loop_us)
		rc_shared->max_loop_us = us;
	SpinLockRelease(&rc_shared->mutex);

	if (more && !failed)
		return 0;
	/*
	 * until the next step due: the full loop, the prune or the vacuum look,
	 * or the next deferred task or schedule falling due
	 */
	next = Min(ls->next_full, ls->next_prune);
	if (rc_vacuum_interval_s > 0)
		next = Min(next, ls->next_vacuum);
	next = Min(next, rc_dispatch_next_due);
	next = Min(next, ls->next_fire);
	if (ls->dispatch_retry_at > start)
		next = Min(next, ls->dispatch_retry_at);
	return rc_ms_until(GetCurrentTimestamp(), next);
}

/*
 * The worker's main function.
 */
void
rc_worker_main(Datum main_arg)
{
	RcLoopState ls = {0};
	TimestampTz started;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* publish our latch before anything can fail, so commits can wake us */
	rc_in_worker = true;
	started = GetCurrentTimestamp();	/* not under the spinlock */
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->worker_pid = MyProcPid;
	rc_shared->worker_latch = MyLatch;
	rc_shared->worker_dboid = InvalidOid;
	rc_shared->state = RC_WORKER_STARTING;
	rc_shared->started_at = started;
	SpinLockRelease(&rc_shared->mutex);
	before_shmem_exit(rc_worker_detach, (Datum) 0);

	BackgroundWorkerInitializeConnection(rc_database, NULL, 0);
	pgstat_report_appname("role_cluster worker");
	/* from now on only commits in our database wake us */
	SpinLockAcquire(&rc_shared->mutex);
	rc_shared->worker_dboid = MyDatabaseId;
	SpinLockRelease(&rc_shared->mutex);

	/*
	 * The worker's transactions commit without waiting for the WAL flush:
	 * a crash can only lose state that it recomputes (a routing, a reclaim,
	 * a prune, a schedule firing together with its task and next_due), and
	 * the durable facts come from other sessions' synchronous commits
	 * (enqueue, fetch, complete).  NOTIFY is sent at commit either way, so
	 * this takes a WAL flush off the enqueue-to-notified path.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Its steps write, and dispatch() and reclaim() need a fresh snapshot
	 * per statement: whatever default an operator gives sessions
	 * (postgresql.conf, ALTER DATABASE or ALTER ROLE ... SET), the worker's
	 * transactions are read-write and READ COMMITTED.
	 */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Its steps run one after another, so a step that waits for a lock
	 * held it up for every node: a schedule firing behind a policy change
	 * that waits for a node's open transaction, a queue table locked by an
	 * operator.  Such a wait ends after RC_WORKER_LOCK_TIMEOUT with an
	 * error of that step (a schedule's own, for a firing), which the next
	 * loop tries again; the steps take no lock they could skip.
	 */
	SetConfigOption("lock_timeout", RC_WORKER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	ereport(LOG,
			(errmsg("role_cluster worker started in database \"%s\"", rc_database)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "role_cluster worker loop",
									 ALLOCSET_DEFAULT_SIZES);
	/* a first full loop at once: reclaim what died while we were away */
	ls.next_full = 0;
	ls.next_prune = 0;
	ls.next_vacuum = 0;

	for (;;)
	{
		long		sleep_ms;
		MemoryContext oldcxt;

		/*
		 * A wake-up from here on makes the loop run again.  The latch is
		 * reset here, before the checks for signals below, rather than
		 * after a sleep: left set by a wake-up that a loop without a sleep
		 * answered, it would end the next sleep at once for nothing, and a
		 * signal that comes after this reset is seen below or ends the
		 * sleep.
		 */
		ResetLatch(MyLatch);
		(void) pg_atomic_exchange_u32(&rc_shared->wake_pending, 0);

		rc_check_interrupts_between_steps();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* intervals may have changed: run every step now, then re-plan */
			ls.next_full = 0;
			ls.next_prune = 0;
			ls.next_vacuum = 0;
			ls.dispatch_retry_at = 0;
		}

		oldcxt = MemoryContextSwitchTo(loop_cxt);
		sleep_ms = rc_worker_loop_once(&ls);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(loop_cxt);
		pgstat_report_stat(false);

		/*
		 * Not when woken (or sent SIGHUP or SIGTERM) during the loop: a
		 * step that waited for a lock reset the latch, and the wake-up
		 * would wait for the next timer.
		 */
		if (sleep_ms > 0 && !ConfigReloadPending && !ProcDiePending &&
			pg_atomic_read_u32(&rc_shared->wake_pending) == 0)
		{
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
		}
	}
}
