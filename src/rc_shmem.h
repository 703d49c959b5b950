/*-------------------------------------------------------------------------
 *
 * rc_shmem.h
 *	  The background worker's shared state: its latch (so that committing
 *	  backends can wake it), its state, and its counters.
 *
 * The state exists only when role_cluster is in shared_preload_libraries;
 * rc_shared is NULL otherwise, and everything here degrades to a no-op
 * (wake_worker, watch_session) or a clear error (worker_stats).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_SHMEM_H
#define RC_SHMEM_H

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

/* What the worker is doing, as worker_stats shows it */
typedef enum RcWorkerState
{
	/* no worker process (yet, or between restarts) */
	RC_WORKER_NOT_RUNNING = 0,
	RC_WORKER_STARTING,			/* started, connecting to its database */
	RC_WORKER_DISABLED,			/* role_cluster.enabled = off */
	RC_WORKER_STANDBY,			/* the server is a hot standby: waits */
	RC_WORKER_NO_EXTENSION,		/* the extension is not installed: waits */
	RC_WORKER_RUNNING			/* dispatching */
} RcWorkerState;

/* The counters, indexes into RcShared.counters */
typedef enum RcCounter
{
	/* loops that did work (reclaim/fire/dispatch) */
	RC_COUNT_LOOPS = 0,
	RC_COUNT_WAKEUPS,			/* commits that woke the worker */
	RC_COUNT_ROUTED,			/* tasks routed by dispatch() */
	RC_COUNT_NOTIFIED,			/* node notifications sent by dispatch() */
	RC_COUNT_RECLAIMED,			/* tasks taken back by reclaim() */
	RC_COUNT_FIRED,				/* tasks enqueued by fire_schedules() */
	RC_COUNT_PRUNED,			/* rows deleted by prune() */
	RC_COUNT_VACUUMED,			/* queue tables the worker vacuumed */
	RC_COUNT_ERRORS,			/* steps that failed (logged, then retried) */
	RC_COUNT_LOOP_US,			/* total time in working loops, microseconds */
	RC_NUM_COUNTERS
} RcCounter;

#define RC_LAST_ERROR_LEN 256

/* The keys of the configuration gates: the task types, and the shard total */
#define RC_NUM_GATE_KEYS 11

/* How many ended sessions the worker waits out before a reclaim */
#define RC_MAX_EXITING 64

/* How many indexes the vacuum process remembers failed rebuilds of */
#define RC_MAX_REBUILD_BACKOFF 8

/*
 * An index whose last rebuild failed: the vacuum process lets a number of
 * its table's vacuums pass before it tries again (rc_vacuum.c).
 */
typedef struct RcRebuildBackoff
{
	Oid			index;			/* InvalidOid: a free entry */
	int			failures;		/* rebuilds in a row that failed */
	int			skips;			/* chances still to let pass */
} RcRebuildBackoff;

/* The shared state; one per server */
typedef struct RcShared
{
	slock_t		mutex;			/* protects the fields up to counters */
	pid_t		worker_pid;		/* 0 when no worker runs */
	Latch	   *worker_latch;	/* its process latch, NULL when none */
	Oid			worker_dboid;	/* the database it watches, once connected */
	RcWorkerState state;
	TimestampTz started_at;		/* when the current worker process started */
	TimestampTz last_loop_at;	/* end of the last working loop */
	int64		last_loop_us;	/* duration of the last working loop */
	int64		max_loop_us;	/* longest working loop since the reset */
	TimestampTz last_error_at;
	char		last_error[RC_LAST_ERROR_LEN];
	TimestampTz reset_at;		/* when the counters were last reset */

	int			nexiting;		/* watched sessions ending (at most
								 * RC_MAX_EXITING) ... */
	pid_t		exiting[RC_MAX_EXITING];	/* ... and their pids (the first
											 * RC_MAX_EXITING of them) */
	RcRebuildBackoff rebuild_backoff[RC_MAX_REBUILD_BACKOFF];
	pg_atomic_uint32 reclaim_requested; /* a watched session exited */
	pg_atomic_uint32 wake_pending;	/* woken since its loop began: the
									 * worker loops again before it sleeps
									 * (a lock wait in a step takes the
									 * latch's wake-up for its own) */
	pg_atomic_uint32 fire_requested;	/* a schedule was written: look at
										 * the schedules again */
	pg_atomic_uint32 work_waiting;	/* after the worker's last dispatch, due
									 * tasks were left queued (1 until it
									 * knows): only then does freed capacity
									 * wake it */
	pg_atomic_uint32 rebuild_wanted;	/* the vacuum process gave up a rebuild
										 * for its locks: the worker has it
										 * tried again without a vacuum */
	pg_atomic_uint32 vacuum_pid;	/* the vacuum process at work, 0: none;
									 * it outlives a worker that is
									 * restarted meanwhile */
	pg_atomic_uint64 rebuild_looked;	/* vacuums of the task table that
										 * ended by then (a TimestampTz) had a
										 * look for bloated indexes after them,
										 * or one asked for */
	pg_atomic_uint64 counters[RC_NUM_COUNTERS];
	pg_atomic_uint64 gate_changes[RC_NUM_GATE_KEYS];	/* times each
														 * configuration gate
														 * was taken
														 * exclusively
														 * (rc_task.c) */
} RcShared;

/* NULL unless the library was preloaded */
extern RcShared *rc_shared;

/* True in the worker process: its own writes never wake it */
extern bool rc_in_worker;

/* In the worker: the nodes its last dispatch() notified, as it noted them */
extern int32 rc_dispatch_notified;

/*
 * In the worker: when the next deferred task falls due, as its last
 * dispatch() noted it (DT_NOEND: none, or not noted)
 */
extern TimestampTz rc_dispatch_next_due;

/*
 * In the worker: when to fire the schedules again (a schedule's next due
 * time, or a second on while one is left due), as its last
 * fire_schedules() noted it (DT_NOEND: none, or not noted)
 */
extern TimestampTz rc_schedules_next_due;

/*
 * Installs the shared-memory hooks and the utility hook that wakes the
 * worker after a COMMIT PREPARED; from _PG_init, when preloading
 */
extern void rc_shmem_init(void);

/* Raises 55000 with a hint unless the library was preloaded */
extern void rc_require_preload(void);

/* Why a commit wakes the worker */
#define RC_WAKE_WORK		0x01	/* tasks queued, nodes changed: always */
#define RC_WAKE_CAPACITY	0x02	/* held tasks finished: when work waits */
#define RC_WAKE_SCHEDULES	0x04	/* schedules written: fire them again */

/* What rc_guarded() returns when its work failed */
#define RC_GUARDED_FAILED	(-1)	/* logged and counted */
#define RC_GUARDED_QUIET	(-3)	/* with the SQLSTATE asked to be quiet */

/* Work run by rc_guarded() */
typedef int64 (*RcGuardedBody) (void *arg);

/*
 * Runs body(arg) under the error handling of the worker and its vacuum
 * process: an error is caught, its transaction aborted, and, unless its
 * SQLSTATE is quiet_code (0: none), logged in full and counted in
 * worker_stats under name.  Returns what body returned, RC_GUARDED_FAILED
 * or RC_GUARDED_QUIET.
 */
extern int64 rc_guarded(const char *name, RcGuardedBody body, void *arg, int quiet_code);

/*
 * CHECK_FOR_INTERRUPTS() between rc_guarded() steps: a cancel request
 * there has no step to cancel and is dropped, instead of ending the process
 */
extern void rc_check_interrupts_between_steps(void);

/*
 * Wakes the worker when the current transaction commits, for reason (not
 * in the worker)
 */
extern void rc_wake_worker_at_commit(uint32 reason);

/*
 * Sets the worker's latch if a worker runs and watches this session's
 * database (or has not connected yet); safe anywhere.  Returns whether it
 * did.  request, when not NULL, is a flag of rc_shared set (to 1) before
 * the latch when it does.
 */
extern bool rc_wake_worker_now(pg_atomic_uint32 *request);

/* In the worker: waits until the sessions that asked for a reclaim are gone */
extern void rc_wait_for_ended_sessions(void);

/* Adds n to a counter; a no-op without shared memory */
extern void rc_count(RcCounter counter, int64 n);

/* Records a failed step (its error message) for worker_stats */
extern void rc_note_error(const char *step, ErrorData *edata);

#endif							/* RC_SHMEM_H */
