/*-------------------------------------------------------------------------
 *
 * rc_vacuum.c
 *	  The background worker has the queue tables vacuumed between
 *	  autovacuum's visits.
 *
 * Every task is written three times (enqueued, handed out, done) and
 * then deleted by prune(): at thousands of tasks a second, tens of
 * thousands of dead row versions a second.  Autovacuum visits a database
 * at most once per autovacuum_naptime, a minute by default, whatever the
 * tables' own settings say; and a btree index never gives back the pages
 * it grew to hold the dead versions of its worst minute.  With the default
 * naptime, a million tasks at full rate left the task table's indexes at
 * 24 MB (against 1.1 MB after ten thousand) and ran at a third of the rate
 * they reached with a naptime of one second (test/bench_worker.sh).
 *
 * So every role_cluster.vacuum_interval the worker looks at the queue
 * tables' cumulative statistics, and when one has more dead rows than its
 * own autovacuum threshold allows (autovacuum_vacuum_threshold +
 * autovacuum_vacuum_scale_factor * reltuples, the table's settings first,
 * as autovacuum computes it) and autovacuum_enabled is not turned off for
 * it (an operator who does so keeps its vacuums in hand), it starts a
 * short-lived background process, "role_cluster vacuum", that runs a plain
 * VACUUM with SKIP_LOCKED (a table another vacuum is busy with is left to
 * it) and without parallel workers on each table that needs it, and
 * exits.  A separate process, so that dispatch never waits for a vacuum:
 * on a large table (a long retention) one pass reads every index.  At most
 * one runs at a time, also across a restart of the worker (its pid is in
 * shared memory); a vacuum by anyone else resets the dead-row count, so
 * nothing is done twice.
 *
 * Two cases where another pass would be wasted, so the worker waits:
 *	- the table was vacuumed since its last launch and the horizon of what
 *	  may be removed (GetOldestNonRemovableTransactionId) has not moved: a
 *	  session holding an old snapshot, a prepared transaction or a slot
 *	  keeps the dead rows, and a pass a second would only read the table
 *	  again and again.  It is vacuumed again once the horizon moves.
 *	- the vacuum process ran but the table was not vacuumed (another
 *	  session held a lock VACUUM needs, and SKIP_LOCKED skipped it, or the
 *	  process failed): the next try waits twice as long each time, up to
 *	  RC_VACUUM_MAX_BACKOFF intervals.
 *
 * After a vacuum of the task table, the process also rebuilds an index of
 * it that a drained backlog left far bigger than its rows need (see
 * RC_REBUILD_MIN_PAGES).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/reloptions.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "postmaster/autovacuum.h"
#include "postmaster/bgworker.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "rc_shmem.h"
#include "rc_vacuum.h"

PG_FUNCTION_INFO_V1(rc_session_in_vacuum);

/* Settings */
int			rc_vacuum_interval_s = 1;

/* The queue tables: what every task passes through or leaves behind */
static const char *const rc_queue_tables[] = {"task", "node", "node_fetch", "schedule_firing"};

/* Its index in rc_queue_tables: the table whose indexes get rebuilt */
#define RC_TASK_TABLE 0

/* The vacuum process last started, in the worker (TopMemoryContext) */
static BackgroundWorkerHandle *rc_vacuum_handle = NULL;

/* At most this many vacuum intervals between tries at a skipped table */
#define RC_VACUUM_MAX_BACKOFF 64

/* The byte of bgw_extra, after the tables', that asks for a rebuild alone */
#define RC_REBUILD_BYTE lengthof(rc_queue_tables)

/*
 * In the worker: a try that came to nothing, waited out for 1, 2, 4, ... up
 * to RC_VACUUM_MAX_BACKOFF vacuum intervals while tries keep failing
 */
typedef struct RcBackoff
{
	int			intervals;		/* the current wait (0: none) */
	TimestampTz retry_at;		/* no new try before then */
} RcBackoff;

/* In the worker: what it knows of each queue table's vacuums */
typedef struct RcVacuumState
{
	/* in the last vacuum process's list, outcome unseen */
	bool		launched;
	TransactionId horizon;		/* the removal horizon at that launch */
	TimestampTz launched_at;	/* when that was */
	bool		vacuumed;		/* it was vacuumed at vacuumed_horizon */
	TransactionId vacuumed_horizon;
	RcBackoff	backoff;		/* after the process skipped it */
} RcVacuumState;

static RcVacuumState rc_vacuum_state[lengthof(rc_queue_tables)];

/* Whether the worker already said that no process slot was free */
static bool rc_vacuum_no_slot_logged = false;

/* In the worker: when to start the process for a rebuild given up, alone */
static RcBackoff rc_rebuild_backoff;

static bool rc_any_index_bloated(Relation rel);

/* A table's autovacuum reloptions, NULL when it sets none */
static AutoVacOpts *
rc_autovac_opts(Relation rel)
{
	return rel->rd_options ? &((StdRdOptions *) rel->rd_options)->autovacuum : NULL;
}

/*
 * Opens relid with AccessShareLock if that lock is free at once, else (or
 * if the table is gone) returns NULL: the worker's look at the queue
 * tables passes over a table an operator holds locked, rather than wait in
 * the middle of it (and time out, its lock_timeout being short).  In a
 * transaction.
 */
static Relation
rc_open_if_free(Oid relid)
{
	Relation	rel;

	if (!ConditionalLockRelationOid(relid, AccessShareLock))
		return NULL;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		UnlockRelationOid(relid, AccessShareLock);
	return rel;
}

/*
 * Whether relid has more dead rows than its autovacuum threshold allows,
 * by the cumulative statistics, and its autovacuum_enabled is not false;
 * if so, also sets *horizon to the oldest transaction whose deletions a
 * vacuum could not remove yet, and *last_vacuum to when the table was last
 * vacuumed, by anyone.  In a transaction.
 */
static bool
rc_needs_vacuum(Oid relid, TransactionId *horizon, TimestampTz *last_vacuum)
{
	PgStat_StatTabEntry *e = pgstat_fetch_stat_tabentry(relid);
	Relation	rel;
	AutoVacOpts *av;
	float4		reltuples;
	int			base;
	double		scale;
	bool		needed;

	if (e == NULL || e->n_dead_tuples == 0)
		return false;
	rel = rc_open_if_free(relid);
	if (rel == NULL)
		return false;
	av = rc_autovac_opts(rel);
	if (av && !av->enabled)
	{
		/* the operator keeps this table's vacuums in hand */
		relation_close(rel, AccessShareLock);
		return false;
	}
	base = (av && av->vacuum_threshold >= 0) ? av->vacuum_threshold : autovacuum_vac_thresh;
	scale = (av && av->vacuum_scale_factor >= 0) ? av->vacuum_scale_factor : autovacuum_vac_scale;
	reltuples = Max(rel->rd_rel->reltuples, 0);
	needed = e->n_dead_tuples > base + scale * reltuples;
	if (needed)
	{
		*horizon = GetOldestNonRemovableTransactionId(rel);
		*last_vacuum = Max(e->vacuum_timestamp, e->autovac_vacuum_timestamp);
	}
	relation_close(rel, AccessShareLock);
	return needed;
}

/*
 * In the worker: whether the task table (relid) was vacuumed, by someone
 * else, after the last look for bloated indexes of it (rebuild_looked),
 * and one of its indexes now has the size of a bloated one (see
 * rc_index_bloated), so that the vacuum process should look.  A vacuum
 * newer than the last look moves rebuild_looked to it: looked at once,
 * whether or not the process is started, or its look fails.  Not while
 * its autovacuum_enabled is false.  Called only while no vacuum process
 * runs.  In a transaction.
 */
static bool
rc_vacuumed_elsewhere(Oid relid)
{
	PgStat_StatTabEntry *e = pgstat_fetch_stat_tabentry(relid);
	TimestampTz last;
	Relation	rel;
	AutoVacOpts *av;
	bool		bloated;

	if (e == NULL)
		return false;
	last = Max(e->vacuum_timestamp, e->autovac_vacuum_timestamp);
	if (last <= (TimestampTz) pg_atomic_read_u64(&rc_shared->rebuild_looked))
		return false;
	rel = rc_open_if_free(relid);
	if (rel == NULL)
		return false;
	av = rc_autovac_opts(rel);
	if (av && !av->enabled)
	{
		/* not looked at: once it is back on, that vacuum still counts */
		relation_close(rel, AccessShareLock);
		return false;
	}
	bloated = rc_any_index_bloated(rel);
	relation_close(rel, AccessShareLock);
	pg_atomic_write_u64(&rc_shared->rebuild_looked, (uint64) last);
	return bloated;
}

/* Another try came to nothing at now: doubles the wait before the next */
static void
rc_backoff_extend(RcBackoff *b, TimestampTz now)
{
	b->intervals = Min(Max(b->intervals * 2, 1), RC_VACUUM_MAX_BACKOFF);
	b->retry_at = TimestampTzPlusMilliseconds(now,
											  (int64) b->intervals * rc_vacuum_interval_s * 1000);
}

/* Whether a try may be made at now */
static bool
rc_backoff_over(const RcBackoff *b, TimestampTz now)
{
	return b->intervals == 0 || now >= b->retry_at;
}

/*
 * In the worker: whether to have queue table i (relid) vacuumed now.  It
 * must need it by its threshold, and not be one of the cases where a pass
 * would be wasted (see the top of this file).  Called only while no vacuum
 * process runs, so the outcome of the last one is known.  In a
 * transaction.
 */
static bool
rc_worth_vacuuming(size_t i, Oid relid, TimestampTz now)
{
	RcVacuumState *st = &rc_vacuum_state[i];
	TransactionId horizon;
	TimestampTz last_vacuum;

	if (!rc_needs_vacuum(relid, &horizon, &last_vacuum))
	{
		st->launched = false;
		st->backoff.intervals = 0;
		return false;
	}

	/* what became of the last launch */
	if (st->launched)
	{
		st->launched = false;
		if (last_vacuum >= st->launched_at)
		{
			st->vacuumed = true;
			st->vacuumed_horizon = st->horizon;
			st->backoff.intervals = 0;
		}
		else
			rc_backoff_extend(&st->backoff, now);
	}

	if (st->vacuumed && TransactionIdEquals(horizon, st->vacuumed_horizon))
		return false;			/* nothing more can be removed yet */
	if (!rc_backoff_over(&st->backoff, now))
		return false;
	st->launched = true;
	st->horizon = horizon;
	st->launched_at = now;
	return true;
}

/*
 * In the worker: starts the vacuum process when a queue table needs it and
 * none is running.  Returns whether it started one.  Must be called
 * outside a transaction; runs its own.
 */
bool
rc_vacuum_launch_if_needed(void)
{
	BackgroundWorker w = {0};
	pid_t		pid;
	bool		needed = false;
	bool		task_exists = false;
	bool		task_vacuumed_elsewhere = false;
	Oid			nspid;
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext oldcxt;

	StaticAssertStmt(RC_REBUILD_BYTE < BGW_EXTRALEN,
					 "bgw_extra holds a byte per queue table and one for a rebuild");

	if (rc_vacuum_handle != NULL &&
		GetBackgroundWorkerPid(rc_vacuum_handle, &pid) != BGWH_STOPPED)
		return false;
	/* one that an earlier worker process started may be at work still */
	if (pg_atomic_read_u32(&rc_shared->vacuum_pid) != 0)
		return false;

	/* which tables: one byte each in bgw_extra */
	StartTransactionCommand();
	nspid = get_namespace_oid("role_cluster", true);
	for (size_t i = 0; OidIsValid(nspid) && i < lengthof(rc_queue_tables); i++)
	{
		Oid			relid = get_relname_relid(rc_queue_tables[i], nspid);

		if (i == RC_TASK_TABLE)
			task_exists = OidIsValid(relid);
		if (OidIsValid(relid) && rc_worth_vacuuming(i, relid, now))
		{
			w.bgw_extra[i] = 1;
			needed = true;
		}
		else if (i == RC_TASK_TABLE && OidIsValid(relid))
			task_vacuumed_elsewhere = rc_vacuumed_elsewhere(relid);
	}
	CommitTransactionCommand();

	/* a rebuild given up for its locks, and no vacuum since to try it again */
	if (pg_atomic_read_u32(&rc_shared->rebuild_wanted) == 0 || !task_exists)
		rc_rebuild_backoff.intervals = 0;
	else if (!w.bgw_extra[RC_TASK_TABLE] && rc_backoff_over(&rc_rebuild_backoff, now))
	{
		w.bgw_extra[RC_REBUILD_BYTE] = 1;
		needed = true;
		rc_backoff_extend(&rc_rebuild_backoff, now);
	}
	/* a vacuum by someone else ends a backlog as well as one of ours */
	if (task_vacuumed_elsewhere)
	{
		w.bgw_extra[RC_REBUILD_BYTE] = 1;
		needed = true;
	}
	if (!needed)
		return false;

	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "role_cluster");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "rc_vacuum_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "role_cluster vacuum");
	snprintf(w.bgw_type, BGW_MAXLEN, "role_cluster vacuum");
	w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	w.bgw_notify_pid = 0;

	if (rc_vacuum_handle != NULL)
		pfree(rc_vacuum_handle);
	rc_vacuum_handle = NULL;
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&w, &rc_vacuum_handle))
	{
		rc_vacuum_handle = NULL;
		/* nothing was tried */
		for (size_t i = 0; i < lengthof(rc_queue_tables); i++)
			rc_vacuum_state[i].launched = false;
		if (!rc_vacuum_no_slot_logged)
			ereport(LOG,
					(errmsg("role_cluster worker could not start its vacuum process"),
					 errdetail("No background worker slot is free; the queue tables wait for autovacuum."),
					 errhint("Raise max_worker_processes.")));
		rc_vacuum_no_slot_logged = true;
		MemoryContextSwitchTo(oldcxt);
		return false;
	}
	MemoryContextSwitchTo(oldcxt);
	rc_vacuum_no_slot_logged = false;
	return true;
}

/*
 * Runs a VACUUM statement with portal_cxt as its PortalContext (VACUUM's
 * working memory is a child of it).  Commits the caller's transaction, and
 * starts one again at the end, as it does for a session.
 */
static void
rc_exec_vacuum(VacuumStmt *stmt, MemoryContext portal_cxt)
{
	MemoryContext old_portal = PortalContext;

	PortalContext = portal_cxt;
	PG_TRY();
	{
		ExecVacuum(make_parsestate(NULL), stmt, true);
	}
	PG_FINALLY();
	{
		PortalContext = old_portal;
	}
	PG_END_TRY();
}

/*
 * After a vacuum of the task table, the vacuum process rebuilds an index of
 * it that has at least RC_REBUILD_MIN_PAGES pages and more than
 * RC_REBUILD_FACTOR times the pages its rows need (counted generously at
 * 100 a page), while the table holds fewer than RC_REBUILD_MAX_ROWS rows:
 * the state a backlog leaves when it drains, since a btree never gives
 * back the pages it grew to.  Not while the table's autovacuum_enabled is
 * false, nor while its heap has more than RC_REBUILD_MAX_HEAP_PAGES pages
 * (rows kept here and there by a drained backlog keep the vacuum from
 * truncating it): the rebuild reads the whole heap, and writes to the
 * table wait for it.  When the queue has drained almost
 * completely (fewer than RC_REBUILD_DRAINED_ROWS rows), the floor is
 * RC_REBUILD_DRAINED_MIN_PAGES instead: rebuilding so few rows costs next
 * to nothing, and the indexes of an idle queue go back to the size of a
 * new one, whatever went through it before (under 128 pages, an index
 * would otherwise keep up to a megabyte for good).  A plain REINDEX, which
 * blocks writes to the table and queries that use the index while it runs
 * (a few milliseconds for so few rows), so it waits at most
 * RC_REBUILD_LOCK_TIMEOUT for its locks, tries RC_REBUILD_TRIES times, and
 * otherwise leaves the index for a later vacuum.
 *
 * An index whose rebuild failed is not tried at every vacuum: it would
 * most likely fail again, and be logged, every second or two under load.
 * After k failed rebuilds in a row it lets the next 2^k - 1 vacuums of the
 * table pass (at most RC_REBUILD_MAX_SKIPS); one that succeeds clears that.
 * A rebuild that leaves the index as oversized as before counts as failed
 * here (not in worker_stats): rows that a snapshot older than the vacuum
 * may still see keep their entries in the new index too, and while that
 * snapshot stays, every vacuum (autovacuum's about once a minute) would
 * rebuild it for nothing.
 * A rebuild given up for its locks is not held back: when the table goes
 * quiet, the vacuum that follows the last writes is the one that can
 * rebuild.  And as no vacuum may follow for a long time on a quiet table,
 * the worker then starts the process for the rebuild alone (the
 * RC_REBUILD_BYTE of bgw_extra), after 1, 2, 4, ... up to
 * RC_VACUUM_MAX_BACKOFF vacuum intervals while it is still given up.
 *
 * The vacuum that follows a drained backlog may also be autovacuum's or an
 * operator's, after which the worker sees no dead rows to have vacuumed:
 * so after each vacuum of the task table by someone else, the worker
 * measures the table's indexes once, and when one has the size of a
 * bloated one it starts the process to rebuild, alone.
 */
#define RC_REBUILD_MIN_PAGES	128
#define RC_REBUILD_FACTOR		8
#define RC_REBUILD_MAX_ROWS		10000
#define RC_REBUILD_MAX_HEAP_PAGES 4096
#define RC_REBUILD_DRAINED_ROWS	100
#define RC_REBUILD_DRAINED_MIN_PAGES 32
#define RC_REBUILD_LOCK_TIMEOUT "50ms"
#define RC_REBUILD_TRIES		3
#define RC_REBUILD_PAUSE_MS		100
#define RC_REBUILD_MAX_SKIPS	63

/* An index to rebuild, and what made it due */
typedef struct RcRebuild
{
	Oid			index;
	const char *name;
	BlockNumber pages;
	double		rows;
} RcRebuild;

/*
 * How many rows the task table (rel, open) holds, by its reltuples, but at
 * most what its pages can hold: a vacuum that truncates the heap sets
 * reltuples before the truncation, extrapolating over the empty pages it
 * skipped, so a drained table can have no pages left and still a count.
 * -1 when no vacuum or analyze has counted them since the table was
 * created or truncated: then nothing says its indexes are oversized.
 */
static double
rc_table_rows(Relation rel)
{
	double		rows = rel->rd_rel->reltuples;
	double		room = (double) RelationGetNumberOfBlocks(rel) * MaxHeapTuplesPerPage;

	if (rows < 0)
		return -1;
	return Min(rows, room);
}

/*
 * Whether index ind, of a table that holds the given number of rows, has
 * the size of one that a drained backlog left behind (see above); sets
 * *pages to its size.
 */
static bool
rc_index_bloated(Relation ind, double rows, BlockNumber *pages)
{
	BlockNumber min_pages = RC_REBUILD_MIN_PAGES;

	if (rows < RC_REBUILD_DRAINED_ROWS)
		min_pages = RC_REBUILD_DRAINED_MIN_PAGES;
	*pages = RelationGetNumberOfBlocks(ind);
	return rows < RC_REBUILD_MAX_ROWS &&
		*pages >= min_pages &&
		*pages > RC_REBUILD_FACTOR * (1 + rows / 100);
}

/*
 * Whether the indexes of the task table (rel, open) may be rebuilt at all:
 * its autovacuum_enabled is not false, its rows are counted and fewer than
 * RC_REBUILD_MAX_ROWS, and its heap, which a rebuild reads whole while
 * writes to the table wait, has at most RC_REBUILD_MAX_HEAP_PAGES pages.
 * Sets *rows to rc_table_rows().
 */
static bool
rc_rebuild_allowed(Relation rel, double *rows)
{
	AutoVacOpts *av = rc_autovac_opts(rel);

	*rows = rc_table_rows(rel);
	if (av && !av->enabled)
		return false;			/* the operator keeps its vacuums in hand */
	return *rows >= 0 && *rows < RC_REBUILD_MAX_ROWS &&
		RelationGetNumberOfBlocks(rel) <= RC_REBUILD_MAX_HEAP_PAGES;
}

/*
 * Whether some index of the task table (rel, open) is bloated by that
 * measure, and may be rebuilt.  In a transaction.
 */
static bool
rc_any_index_bloated(Relation rel)
{
	double		rows;
	List	   *indexes;
	ListCell   *lc;
	bool		bloated = false;

	if (!rc_rebuild_allowed(rel, &rows))
		return false;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		Relation	ind = index_open(lfirst_oid(lc), AccessShareLock);
		BlockNumber pages;

		bloated = rc_index_bloated(ind, rows, &pages);
		index_close(ind, AccessShareLock);
		if (bloated)
			break;
	}
	list_free(indexes);
	return bloated;
}

/*
 * rc_try_rebuild_index()'s work: REINDEX, in a transaction of its own,
 * waiting at most RC_REBUILD_LOCK_TIMEOUT for its locks.
 */
static int64
rc_rebuild_body(void *arg)
{
	RcRebuild  *r = (RcRebuild *) arg;
	ReindexStmt *stmt;

	StartTransactionCommand();
	stmt = makeNode(ReindexStmt);
	stmt->kind = REINDEX_OBJECT_INDEX;
	stmt->relation = makeRangeVar("role_cluster", pstrdup(r->name), -1);
	stmt->params = NIL;
	(void) set_config_option("lock_timeout", RC_REBUILD_LOCK_TIMEOUT, PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0, false);
	PushActiveSnapshot(GetTransactionSnapshot());
	ExecReindex(make_parsestate(NULL), stmt, false);
	PopActiveSnapshot();
	CommitTransactionCommand();
	ereport(LOG,
			(errmsg("role_cluster vacuum rebuilt index \"%s\"", r->name),
			 errdetail("It had %u pages for %.0f rows in its table.", r->pages, r->rows)));
	return 1;
}

/*
 * One try at rebuilding an index of role_cluster (see above), under the
 * worker's error handling: a failure is logged and counted in
 * worker_stats, locks not free in time are not.  Returns 1 when it rebuilt
 * the index, RC_GUARDED_FAILED or RC_GUARDED_QUIET (the locks).  Outside a
 * transaction.
 */
static int64
rc_try_rebuild_index(RcRebuild *r)
{
	char		step[NAMEDATALEN + 16];

	snprintf(step, sizeof(step), "rebuild of %s", r->name);
	return rc_guarded(step, rc_rebuild_body, r, ERRCODE_LOCK_NOT_AVAILABLE);
}

/*
 * Whether to try rebuilding index now: not while it lets chances pass
 * after failed rebuilds (see above); this call is one of them.
 */
static bool
rc_rebuild_due(Oid index)
{
	bool		due = true;

	SpinLockAcquire(&rc_shared->mutex);
	for (int i = 0; i < RC_MAX_REBUILD_BACKOFF; i++)
	{
		RcRebuildBackoff *b = &rc_shared->rebuild_backoff[i];

		if (b->index == index && b->skips > 0)
		{
			b->skips--;
			due = false;
		}
	}
	SpinLockRelease(&rc_shared->mutex);
	return due;
}

/*
 * Notes that a rebuild of index succeeded or failed; returns how many
 * vacuums it now lets pass before the next try (0 after a success).
 * Without a free entry, a failing index is simply tried at every vacuum.
 */
static int
rc_rebuild_outcome(Oid index, bool rebuilt)
{
	RcRebuildBackoff *entry = NULL;
	int			skips = 0;

	SpinLockAcquire(&rc_shared->mutex);
	for (int i = 0; i < RC_MAX_REBUILD_BACKOFF; i++)
	{
		RcRebuildBackoff *b = &rc_shared->rebuild_backoff[i];

		if (b->index == index)
		{
			entry = b;
			break;
		}
		if (entry == NULL && !OidIsValid(b->index))
			entry = b;
	}
	if (entry != NULL && rebuilt)
		entry->index = InvalidOid;
	else if (entry != NULL)
	{
		if (entry->index != index)
		{
			entry->index = index;
			entry->failures = 0;
		}
		entry->failures++;
		entry->skips = skips =
			Min((1 << Min(entry->failures, 30)) - 1, RC_REBUILD_MAX_SKIPS);
	}
	SpinLockRelease(&rc_shared->mutex);
	return skips;
}

/*
 * Whether an index just rebuilt still has the size of a bloated one, for
 * the rows its table had when the rebuild was chosen (REINDEX sets the
 * table's reltuples to what it indexed, dead rows that a snapshot may still
 * see included); sets *pages to its size.  Such a rebuild gained nothing,
 * and another gains nothing either until those rows can go, so it lets
 * vacuums pass as after a failure.  Outside a transaction.
 */
static bool
rc_still_bloated(RcRebuild *index, BlockNumber *pages)
{
	Relation	ind;
	bool		bloated = false;

	StartTransactionCommand();
	ind = try_index_open(index->index, AccessShareLock);
	if (ind != NULL)
	{
		bloated = rc_index_bloated(ind, index->rows, pages);
		index_close(ind, AccessShareLock);
	}
	CommitTransactionCommand();
	return bloated;
}

/*
 * Rebuilds one index of role_cluster (see above): up to RC_REBUILD_TRIES
 * tries, RC_REBUILD_PAUSE_MS apart, for a moment when no transaction
 * writes to the table (the worker's own steps do, briefly).  Logs when it
 * gives up, and after a failure how many vacuums pass before the next try.
 * Returns false when it gave up.  Outside a transaction.
 */
static bool
rc_rebuild_index(RcRebuild *index)
{
	int64		r = RC_GUARDED_QUIET;
	int			skips;
	bool		shrunk = true;
	BlockNumber pages = 0;

	for (int try = 1; try <= RC_REBUILD_TRIES && r == RC_GUARDED_QUIET; try++)
	{
		if (try > 1)
			pg_usleep(RC_REBUILD_PAUSE_MS * 1000L);
		r = rc_try_rebuild_index(index);
	}
	if (r == RC_GUARDED_QUIET)
	{
		ereport(LOG,
				(errmsg("role_cluster vacuum did not rebuild index \"%s\"", index->name),
				 errdetail("Its locks were not free within %s, %d times; it is tried again soon.",
						   RC_REBUILD_LOCK_TIMEOUT, RC_REBUILD_TRIES)));
		return false;
	}
	if (r >= 0)
		shrunk = !rc_still_bloated(index, &pages);
	skips = rc_rebuild_outcome(index->index, r >= 0 && shrunk);
	if (r < 0)
		ereport(LOG,
				(errmsg_plural("role_cluster vacuum will try to rebuild index \"%s\" again after %d more vacuum of its table",
							   "role_cluster vacuum will try to rebuild index \"%s\" again after %d more vacuums of its table",
							   skips, index->name, skips)));
	else if (!shrunk)
		ereport(LOG,
				(errmsg("role_cluster vacuum rebuilt index \"%s\", but it still has %u pages",
						index->name, pages),
				 errdetail_plural("Rows that an older snapshot may still see kept their entries; the next %d vacuum of its table lets it pass.",
								  "Rows that an older snapshot may still see kept their entries; the next %d vacuums of its table let it pass.",
								  skips, skips)));
	return true;
}

/*
 * After a vacuum of the task table (relid), or alone when the worker asks
 * for it: rebuilds each of its indexes that has grown far beyond what its
 * rows need (see above), and tells the worker whether it gave one up for
 * its locks.  Outside a transaction.
 */
static void
rc_rebuild_bloated_indexes(Oid relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *due = NIL;
	ListCell   *lc;
	bool		gave_up = false;
	TimestampTz looked_at = GetCurrentTimestamp();

	StartTransactionCommand();
	{
		Relation	rel = try_relation_open(relid, AccessShareLock);

		if (rel != NULL)
		{
			double		rows;

			if (rc_rebuild_allowed(rel, &rows))
			{
				List	   *indexes = RelationGetIndexList(rel);

				foreach(lc, indexes)
				{
					Relation	ind = index_open(lfirst_oid(lc), AccessShareLock);
					BlockNumber pages;

					if (rc_index_bloated(ind, rows, &pages) &&
						rc_rebuild_due(RelationGetRelid(ind)))
					{
						MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
						RcRebuild  *r = palloc(sizeof(RcRebuild));

						r->index = RelationGetRelid(ind);
						r->name = pstrdup(RelationGetRelationName(ind));
						r->pages = pages;
						r->rows = rows;
						due = lappend(due, r);
						MemoryContextSwitchTo(oldcxt);
					}
					index_close(ind, AccessShareLock);
				}
			}
			relation_close(rel, AccessShareLock);
		}
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	foreach(lc, due)
		gave_up |= !rc_rebuild_index((RcRebuild *) lfirst(lc));
	pg_atomic_write_u32(&rc_shared->rebuild_wanted, gave_up ? 1 : 0);
	/* vacuums that ended before the look need no other */
	pg_atomic_write_u64(&rc_shared->rebuild_looked, (uint64) looked_at);
}

/*
 * The queue tables whose byte in the worker's bgw_extra is set, as
 * VacuumRelation nodes allocated in cxt (VACUUM keeps them across its own
 * transactions).  In a transaction.
 */
static List *
rc_tables_chosen(const char *chosen, MemoryContext cxt)
{
	Oid			nspid = get_namespace_oid("role_cluster", true);
	List	   *rels = NIL;

	for (size_t i = 0; OidIsValid(nspid) && i < lengthof(rc_queue_tables); i++)
	{
		Oid			relid = get_relname_relid(rc_queue_tables[i], nspid);
		MemoryContext oldcxt;

		if (!chosen[i] || !OidIsValid(relid))
			continue;
		oldcxt = MemoryContextSwitchTo(cxt);
		rels = lappend(rels,
					   makeVacuumRelation(makeRangeVar("role_cluster",
													   pstrdup(rc_queue_tables[i]), -1),
										  relid, NIL));
		MemoryContextSwitchTo(oldcxt);
	}
	return rels;
}

/*
 * Vacuums the queue tables the worker chose, then rebuilds the task
 * table's bloated indexes if it vacuumed that table or the worker asked for
 * a rebuild alone; returns how many tables it vacuumed, going by their
 * statistics afterwards (a table skipped because another vacuum held it
 * does not count).
 */
static int
rc_vacuum_queue_tables(const char *chosen)
{
	MemoryContext vac_cxt = AllocSetContextCreate(TopMemoryContext, "role_cluster vacuum",
												  ALLOCSET_DEFAULT_SIZES);
	List	   *rels;
	int			vacuumed = 0;
	Oid			rebuild_relid = InvalidOid;

	StartTransactionCommand();
	rels = rc_tables_chosen(chosen, vac_cxt);
	if (rels != NIL)
	{
		TimestampTz began = GetCurrentTimestamp();
		VacuumStmt *stmt;
		ListCell   *lc;

		MemoryContextSwitchTo(vac_cxt);
		stmt = makeNode(VacuumStmt);
		stmt->options = list_make2(makeDefElem("skip_locked", NULL, -1),
								   makeDefElem("parallel", (Node *) makeInteger(0), -1));
		stmt->rels = rels;
		stmt->is_vacuumcmd = true;
		rc_exec_vacuum(stmt, vac_cxt);

		/* a new transaction: fresh statistics */
		foreach(lc, rels)
		{
			VacuumRelation *vr = lfirst_node(VacuumRelation, lc);
			PgStat_StatTabEntry *e = pgstat_fetch_stat_tabentry(vr->oid);

			if (e != NULL && e->vacuum_timestamp >= began)
			{
				vacuumed++;
				if (strcmp(vr->relation->relname, rc_queue_tables[RC_TASK_TABLE]) == 0)
					rebuild_relid = vr->oid;
			}
		}
	}
	/* or, without a vacuum of it, when the worker asks for a rebuild alone */
	if (!OidIsValid(rebuild_relid) && chosen[RC_REBUILD_BYTE])
		rebuild_relid = get_relname_relid(rc_queue_tables[RC_TASK_TABLE],
										  get_namespace_oid("role_cluster", false));
	CommitTransactionCommand();
	if (OidIsValid(rebuild_relid))
	{
		MemoryContextSwitchTo(vac_cxt);
		rc_rebuild_bloated_indexes(rebuild_relid);
	}
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextDelete(vac_cxt);
	return vacuumed;
}

/* The vacuum process's work: vacuums the chosen tables, counts them */
static int64
rc_vacuum_body(void *arg)
{
	int			vacuumed = rc_vacuum_queue_tables(MyBgworkerEntry->bgw_extra);

	rc_count(RC_COUNT_VACUUMED, vacuumed);
	return vacuumed;
}

/* At the vacuum process's exit: the next one may start */
static void
rc_vacuum_release(int code, Datum arg)
{
	pg_atomic_write_u32(&rc_shared->vacuum_pid, 0);
}

/*
 * The vacuum process: connects to the worker's database (the main
 * argument), vacuums the queue tables the worker chose, counts them in
 * worker_stats.vacuumed, and exits.  An error is logged and counted.  It
 * claims rc_shared->vacuum_pid first, and exits at once if another holds
 * it: the worker looks there before it starts one, but a worker restarted
 * just as it started one could miss it.
 */
void
rc_vacuum_main(Datum main_arg)
{
	uint32		other = 0;

	pqsignal(SIGTERM, die);
	if (!pg_atomic_compare_exchange_u32(&rc_shared->vacuum_pid, &other,
										(uint32) MyProcPid))
	{
		ereport(LOG,
				(errmsg("role_cluster vacuum process exits: process %d is vacuuming the queue tables",
						(int) other)));
		proc_exit(0);
	}
	before_shmem_exit(rc_vacuum_release, (Datum) 0);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	pgstat_report_appname("role_cluster vacuum");
	pgstat_report_activity(STATE_RUNNING, "VACUUM (role_cluster queue tables)");

	proc_exit(rc_guarded("vacuum", rc_vacuum_body, NULL, 0) < 0 ? 1 : 0);
}

/*
 * role_cluster.session_in_vacuum(pid int) → boolean
 *
 * Is the session with this pid in a plain (lazy) VACUUM, from the moment it
 * starts on a table, waiting for its lock included?  Such a session shows a
 * backend_xmin, but the horizon of what vacuum may remove ignores it
 * (PROC_IN_VACUUM), so it holds nothing back.  False for no such session.
 */
Datum
rc_session_in_vacuum(PG_FUNCTION_ARGS)
{
	int32		pid = PG_GETARG_INT32(0);
	PGPROC	   *proc;
	bool		in_vacuum = false;

	LWLockAcquire(ProcArrayLock, LW_SHARED);
	proc = BackendPidGetProcWithLock(pid);
	if (proc != NULL)
		in_vacuum = (proc->statusFlags & PROC_IN_VACUUM) != 0;
	LWLockRelease(ProcArrayLock);
	PG_RETURN_BOOL(in_vacuum);
}
