/*-------------------------------------------------------------------------
 *
 * bench_floor.c
 *	  A server module for test/bench_queue.sh (which compiles and loads
 *	  it into its throwaway server): the "C floor" queue.  It does what
 *	  the hand-written queue's three statements do, on role_cluster.task
 *	  itself, in C: no statement planned or started, no routing rule, no
 *	  check of the caller, no node.  Its rows are written through
 *	  role_cluster's own src/rc_write.c (the routines PostgreSQL's logical
 *	  replication applies rows with; the index entries and triggers left
 *	  to PostgreSQL, what it prepares again for each statement prepared
 *	  once per session), whose functions it calls in role_cluster's
 *	  library, preloaded by the server.  What it spends per task is the
 *	  least any implementation of enqueue, claim and complete in C pays on
 *	  that table.
 *
 *	  bench_floor_enqueue() → bigint
 *		Inserts a searchIndexing task, the table's defaults for the rest
 *		(queued, due now); returns its id.
 *	  bench_floor_claim(node_id text) → bigint
 *		Takes the first due queued non-singleton task in hand-out order
 *		(task_queued_idx) that no other transaction has locked, as FOR
 *		UPDATE SKIP LOCKED does, and makes it running on node_id, leased
 *		for a day; returns its id, or 0 when none is left.
 *	  bench_floor_complete(task_id bigint) → void
 *		Makes the task done, waiting for a transaction that holds it.
 *
 *	  Not for use outside the benchmark: the row is written as given, with
 *	  none of role_cluster's checks.  The type's value and the queued
 *	  index are looked up once per session and never again: the benchmark
 *	  changes no table definition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "rc_write.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_floor_enqueue);
PG_FUNCTION_INFO_V1(bench_floor_claim);
PG_FUNCTION_INFO_V1(bench_floor_complete);

/* What the floor needs besides rc_write.c, looked up on the first call */
typedef struct FloorLayout
{
	bool		ready;
	Oid			queued_idx;
	Datum		search_indexing;	/* a task_type value */
} FloorLayout;

static FloorLayout layout;

/* Opens role_cluster.task for a write (cmd), and fills layout in once */
static void
floor_begin(RcTaskWrite *w, CmdType cmd)
{
	Oid			type;

	if (!rc_write_begin(w, cmd))
		elog(ERROR, "role_cluster.task has triggers with transition tables");
	if (layout.ready)
		return;
	layout.queued_idx = RangeVarGetRelid(makeRangeVar("role_cluster", "task_queued_idx", -1),
										 AccessShareLock, false);
	type = TupleDescAttr(RelationGetDescr(w->rel),
						 attnameAttNum(w->rel, "task_type", false) - 1)->atttypid;
	layout.search_indexing = DirectFunctionCall2(enum_in, CStringGetDatum("searchIndexing"),
												 ObjectIdGetDatum(type));
	layout.ready = true;
}

/*
 * bench_floor_enqueue() → bigint: INSERT INTO role_cluster.task
 * (task_type, singleton) VALUES ('searchIndexing', false) RETURNING id
 */
Datum
bench_floor_enqueue(PG_FUNCTION_ARGS)
{
	RcTaskWrite w;
	int64		id;

	floor_begin(&w, CMD_INSERT);
	rc_write_new_row(&w);
	rc_write_set(&w, RC_TASK_TASK_TYPE, layout.search_indexing, false);
	rc_write_set(&w, RC_TASK_SINGLETON, BoolGetDatum(false), false);
	id = rc_write_insert(&w);
	rc_write_end(&w);
	PG_RETURN_INT64(id);
}

/*
 * bench_floor_claim(node_id text) → bigint: the hand-written claim of one
 * task, without its plan.  A row that another transaction changed since
 * this statement's snapshot is skipped, as one it has locked.
 */
Datum
bench_floor_claim(PG_FUNCTION_ARGS)
{
	RcTaskWrite w;
	Relation	index;
	IndexScanDesc scan;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		found = false;
	int64		id = 0;

	floor_begin(&w, CMD_UPDATE);
	index = index_open(layout.queued_idx, AccessShareLock);
	scan = index_beginscan(w.rel, index, w.estate->es_snapshot, 0, 0);
	index_rescan(scan, NULL, 0, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, w.row))
	{
		TM_FailureData tmfd;
		bool		isnull;

		if (DatumGetTimestampTz(rc_write_get(&w, RC_TASK_RUN_AT, &isnull)) > now)
			continue;
		if (table_tuple_lock(w.rel, &w.row->tts_tid, w.estate->es_snapshot, w.row,
							 w.estate->es_output_cid, LockTupleExclusive, LockWaitSkip, 0,
							 &tmfd) == TM_Ok)
		{
			found = true;
			break;
		}
	}
	index_endscan(scan);
	index_close(index, NoLock);

	if (found)
	{
		bool		isnull;

		id = DatumGetInt64(rc_write_get(&w, RC_TASK_ID, &isnull));
		rc_write_set(&w, RC_TASK_STATE, rc_task_state_value(RC_STATE_RUNNING), false);
		rc_write_set(&w, RC_TASK_NODE_ID, PG_GETARG_DATUM(0), false);
		rc_write_set(&w, RC_TASK_LEASE_UNTIL, TimestampTzGetDatum(now + USECS_PER_DAY), false);
		rc_write_set(&w, RC_TASK_ATTEMPTS,
					 Int32GetDatum(DatumGetInt32(rc_write_get(&w, RC_TASK_ATTEMPTS, &isnull)) + 1),
					 false);
		rc_write_set(&w, RC_TASK_UPDATED_AT, TimestampTzGetDatum(now), false);
		rc_write_update(&w);
	}
	rc_write_end(&w);
	PG_RETURN_INT64(id);
}

/* bench_floor_complete(task_id bigint) → void: the hand-written acknowledgement */
Datum
bench_floor_complete(PG_FUNCTION_ARGS)
{
	RcTaskWrite w;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		newer;

	floor_begin(&w, CMD_UPDATE);
	if (rc_write_find(&w, PG_GETARG_INT64(0)) && rc_write_lock(&w, &newer))
	{
		rc_write_set(&w, RC_TASK_STATE, rc_task_state_value(RC_STATE_DONE), false);
		rc_write_set(&w, RC_TASK_FINISHED_AT, TimestampTzGetDatum(now), false);
		rc_write_set(&w, RC_TASK_LEASE_UNTIL, (Datum) 0, true);
		rc_write_set(&w, RC_TASK_UPDATED_AT, TimestampTzGetDatum(now), false);
		rc_write_update(&w);
	}
	rc_write_end(&w);
	PG_RETURN_VOID();
}
