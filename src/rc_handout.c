/*-------------------------------------------------------------------------
 *
 * rc_handout.c
 *	  The routing rule: role_cluster.hand_out_tasks(), through which
 *	  claim_tasks() and dispatch() hand out all work, and the node's
 *	  liveness it rests on (node_is_live(), node_is_lost(),
 *	  effective_push_shard(), which SQL reads too).
 *
 * A hand-out runs no statement in its common case.  It locks the node's
 * row by primary key as FOR NO KEY UPDATE would, checks the caller and
 * the node, walks task_queued_idx in hand-out order locking the due
 * tasks the node may run as FOR UPDATE SKIP LOCKED does, and writes them
 * through rc_write.c in one write.  Each step had been a PL/pgSQL
 * statement, planned and started at every hand-out: at one task per
 * claim, those starts were most of what a claim cost.
 *
 * What is rare stays in SQL: the singleton types (hand_out_singletons(),
 * PL/pgSQL: the type's gate, its recheck, the unique index as the
 * backstop), the errors that say why a claim was refused, and the
 * statement a table whose UPDATE triggers use transition tables needs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "rc_cache.h"
#include "rc_group.h"
#include "rc_handout.h"
#include "rc_queue.h"
#include "rc_task.h"
#include "rc_util.h"
#include "rc_write.h"

PG_FUNCTION_INFO_V1(rc_hand_out_tasks);
PG_FUNCTION_INFO_V1(rc_write_hand_out);
PG_FUNCTION_INFO_V1(rc_node_is_live);
PG_FUNCTION_INFO_V1(rc_node_is_lost);
PG_FUNCTION_INFO_V1(rc_effective_push_shard);

/*
 * write_hand_out()'s statement, for a table whose UPDATE triggers use
 * transition tables: $4 numbers the ids of $1 in their order.  The whole
 * row comes back, dropped columns included, as the result wants it.
 */
static const char *const hand_out_sql =
"UPDATE role_cluster.task AS t"
"   SET state = 'running', node_id = $2, lease_until = $3,"
"       route_seq = $4[pg_catalog.array_position($1, t.id)],"
"       attempts = t.attempts OPERATOR(pg_catalog.+) 1, updated_at = pg_catalog.now()"
" WHERE t.id OPERATOR(pg_catalog.=) ANY ($1) AND t.state OPERATOR(pg_catalog.=) 'queued'"
" RETURNING t";

/* hand_out_sql, prepared once per session */
static SPIPlanPtr hand_out_plan;

/* role_cluster.route_seq, which numbers what dispatch() routes */
static Oid
rc_route_seq(void)
{
	return rc_relation_oid("route_seq");
}

/*
 * Puts the rows the last SPI query returned, each a whole task row in its
 * first column (dropped columns included, as the result wants them), in
 * rows
 */
static void
rc_put_spi_rows(Tuplestorestate *rows)
{
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTupleHeader row = DatumGetHeapTupleHeader(SPI_getbinval(SPI_tuptable->vals[i],
																	 SPI_tuptable->tupdesc,
																	 1, &isnull));
		HeapTupleData tuple;

		tuple.t_len = HeapTupleHeaderGetDatumLength(row);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = row;
		tuplestore_puttuple(rows, &tuple);
	}
}

/*
 * The hand-out through write_hand_out()'s statement, its rows put in rows
 * (a table whose UPDATE triggers use transition tables).
 */
static void
rc_hand_out_by_statement(Datum *ids, bool *id_nulls, int nids, Datum node_id, bool node_null,
						 Datum lease_until, bool lease_null, bool numbered,
						 Tuplestorestate *rows)
{
	Oid			argtypes[4] = {INT8ARRAYOID, TEXTOID, TIMESTAMPTZOID, INT8ARRAYOID};
	Datum		values[4];
	char		nulls[4] = {' ', node_null ? 'n' : ' ', lease_null ? 'n' : ' ', 'n'};
	int			rc;
	int			lbound = 1;
	int			settings;

	values[0] = PointerGetDatum(construct_md_array(ids, id_nulls, 1, &nids, &lbound, INT8OID,
												   sizeof(int64), FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
	values[1] = node_id;
	values[2] = lease_until;
	values[3] = (Datum) 0;
	if (numbered)
	{
		Oid			seq = rc_route_seq();
		Datum	   *numbers = palloc(nids * sizeof(Datum));

		/* one for each id, in their order, whether handed out or not */
		for (int i = 0; i < nids; i++)
			numbers[i] = Int64GetDatum(nextval_internal(seq, true));
		values[3] = PointerGetDatum(construct_array(numbers, nids, INT8OID, sizeof(int64),
													FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		nulls[3] = ' ';
	}
	settings = rc_queue_settings_begin();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (hand_out_plan == NULL)
		hand_out_plan = rc_prepare_kept_plan(hand_out_sql, 4, argtypes);
	rc = SPI_execute_plan(hand_out_plan, values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "hand-out statement failed: %s", SPI_result_code_string(rc));
	rc_put_spi_rows(rows);
	SPI_finish();
	rc_queue_settings_end(settings);
}

/*
 * Hands out the tasks of ids (n of them, each NULL or not as nulls says),
 * which the caller has locked, in the versions at tids if it gives them
 * (else each is found by its id): each one found queued made running on
 * node_id until lease_until, its attempt counted, numbered from route_seq
 * when numbered, and put in rows as written.  One write without a
 * statement (rc_write.h), or the statement for a table whose UPDATE
 * triggers use transition tables.  Under the snapshot the caller pushed.
 */
static void
rc_hand_out_rows(Datum *ids, bool *nulls, ItemPointer tids, int n, Datum node_id,
				 bool node_null, Datum lease_until, bool lease_null, bool numbered,
				 Tuplestorestate *rows)
{
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		running;
	Oid			seq = InvalidOid;
	RcTaskWrite w;

	if (n == 0)
		return;
	PreventCommandIfReadOnly("UPDATE");
	PreventCommandIfParallelMode("UPDATE");
	if (!rc_write_begin(&w, CMD_UPDATE))
	{
		rc_hand_out_by_statement(ids, nulls, n, node_id, node_null, lease_until, lease_null,
								 numbered, rows);
		return;
	}
	running = rc_task_state_value(RC_STATE_RUNNING);
	if (numbered)
		seq = rc_route_seq();
	for (int i = 0; i < n; i++)
	{
		bool		newer;
		bool		isnull;
		Datum		d;

		if ((nulls != NULL && nulls[i]) ||
			!(tids != NULL ? rc_write_fetch(&w, &tids[i]) :
			  rc_write_find(&w, DatumGetInt64(ids[i]))) ||
			!rc_write_lock(&w, &newer))
			continue;
		d = rc_write_get(&w, RC_TASK_STATE, &isnull);
		if (isnull ||
			DatumGetObjectId(d) != DatumGetObjectId(rc_task_state_value(RC_STATE_QUEUED)))
			continue;
		d = rc_write_get(&w, RC_TASK_ATTEMPTS, &isnull);
		rc_write_set(&w, RC_TASK_STATE, running, false);
		rc_write_set(&w, RC_TASK_NODE_ID, node_id, node_null);
		rc_write_set(&w, RC_TASK_LEASE_UNTIL, lease_until, lease_null);
		/* numbered as handed out, so in the order of ids */
		rc_write_set(&w, RC_TASK_ROUTE_SEQ,
					 numbered ? Int64GetDatum(nextval_internal(seq, true)) : (Datum) 0,
					 !numbered);
		rc_write_set(&w, RC_TASK_ATTEMPTS,
					 isnull ? (Datum) 0 : DirectFunctionCall2(int4pl, d, Int32GetDatum(1)),
					 isnull);
		rc_write_set(&w, RC_TASK_UPDATED_AT, now, false);
		if (rc_write_update(&w))
			tuplestore_puttupleslot(rows, w.change);
	}
	rc_write_end(&w);
}

/* Pushes the snapshot a statement that writes would take, as SPI takes it */
static void
rc_push_write_snapshot(void)
{
	PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
}

/*
 * role_cluster.write_hand_out(ids bigint[], node_id text, lease_until
 * timestamptz, numbered boolean) → SETOF role_cluster.task
 *
 * hand_out_singletons()'s write of the singleton task it locked: the queued
 * tasks of ids made running on node node_id until lease_until, each
 * attempt counted; numbered (a dispatch), each gets the next route_seq in
 * the order of ids, else none (a claim).  Returns the rows as written
 * (rc_hand_out_rows()).  An id not found, or not queued, is skipped.
 */
Datum
rc_write_hand_out(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *ids;
	bool	   *id_nulls;
	int			nids;

	rc_init_row_srf(fcinfo);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &ids, &id_nulls, &nids);
	rc_push_write_snapshot();
	rc_hand_out_rows(ids, id_nulls, NULL, nids,
					 PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1),
					 PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2), PG_ARGISNULL(2),
					 !PG_ARGISNULL(3) && PG_GETARG_BOOL(3), rsinfo->setResult);
	PopActiveSnapshot();
	return (Datum) 0;
}

/*
 * How many tasks node node_id holds running (task_held_idx), as the
 * snapshot sees them
 */
static int64
rc_count_held(Relation rel, Snapshot snapshot, Datum node_id)
{
	Relation	index = rc_task_index_open(RC_INDEX_HELD);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	AttrNumber	state = rc_task_attnum(RC_TASK_STATE);
	Datum		running = rc_task_state_value(RC_STATE_RUNNING);
	ScanKeyData key;
	IndexScanDesc scan;
	int64		held = 0;

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], F_TEXTEQ, node_id);
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, state, &isnull);

		if (!isnull && DatumGetObjectId(d) == DatumGetObjectId(running))
			held++;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	return held;
}

/*
 * effective_push_shard(): the push shard a node serves, its own, or 1
 * when it has none and there is one shard; false when it serves none
 */
static bool
rc_node_shard(bool shard_null, int32 shard, int32 total, int32 *serves)
{
	*serves = shard_null ? 1 : shard;
	return !shard_null || total == 1;
}

/* What the walk of the queue looks for (rc_lock_due_tasks()) */
typedef struct RcDueWalk
{
	Datum	   *types;			/* the task types the node's role enables */
	int			ntypes;
	bool		shard_unread;	/* the shard below waits for the shard total */
	bool		shard_null;		/* the node serves no push shard */
	int32		shard;			/* else this one */
	TimestampTz now;			/* due: run_at at or before it */
	bool		after;			/* start after the task below: */
	int32		after_priority;
	TimestampTz after_run_at;
	int64		after_id;
} RcDueWalk;

/*
 * Settles the push shard the walk's node serves, when it waits for the
 * shard total (a read of cluster_settings, under the active snapshot): a
 * node with no shard of its own serves shard 1 while there is one shard,
 * else none.
 */
static void
rc_walk_read_shard(RcDueWalk *walk)
{
	if (!walk->shard_unread)
		return;
	walk->shard_null = !rc_node_shard(true, 0, rc_push_shards_total(false), &walk->shard);
	walk->shard_unread = false;
}

/*
 * Whether the task row in slot is one the walk hands out, at priority
 * priority: queued, not a singleton, due, past the start given, and one
 * the node may run (the test of routes_to(): its type enabled, and a push
 * task in the node's shard).  Its id in *id.
 */
static bool
rc_task_due_here(TupleTableSlot *slot, RcDueWalk *walk, int32 priority, int64 *id)
{
	bool		isnull;
	Datum		d;
	Oid			type;
	TimestampTz run_at;
	bool		enabled = false;

	d = slot_getattr(slot, rc_task_attnum(RC_TASK_STATE), &isnull);
	if (isnull || DatumGetObjectId(d) != DatumGetObjectId(rc_task_state_value(RC_STATE_QUEUED)))
		return false;
	d = slot_getattr(slot, rc_task_attnum(RC_TASK_SINGLETON), &isnull);
	if (isnull || DatumGetBool(d))
		return false;
	d = slot_getattr(slot, rc_task_attnum(RC_TASK_PRIORITY), &isnull);
	if (isnull || DatumGetInt32(d) != priority)
		return false;
	d = slot_getattr(slot, rc_task_attnum(RC_TASK_RUN_AT), &isnull);
	run_at = isnull ? DT_NOEND : DatumGetTimestampTz(d);
	if (isnull || run_at > walk->now)
		return false;
	*id = DatumGetInt64(slot_getattr(slot, rc_task_attnum(RC_TASK_ID), &isnull));
	if (walk->after && priority == walk->after_priority &&
		(run_at < walk->after_run_at || (run_at == walk->after_run_at && *id < walk->after_id)))
		return false;
	d = slot_getattr(slot, rc_task_attnum(RC_TASK_TASK_TYPE), &isnull);
	if (isnull)
		return false;
	type = DatumGetObjectId(d);
	for (int i = 0; i < walk->ntypes && !enabled; i++)
		enabled = DatumGetObjectId(walk->types[i]) == type;
	if (!enabled)
		return false;
	if (rc_task_type_ordinal(type) != RC_PUSH_NOTIFICATIONS)
		return true;
	d = slot_getattr(slot, rc_task_attnum(RC_TASK_PUSH_SHARD), &isnull);
	rc_walk_read_shard(walk);
	return !isnull && !walk->shard_null && DatumGetInt32(d) == walk->shard;
}

/*
 * Locks up to room queued non-singleton tasks that the walk looks for, in
 * hand-out order (task_queued_idx: priority descending, run_at, id),
 * passing over those another transaction has locked, as FOR UPDATE SKIP
 * LOCKED does; their ids in *ids and the versions locked in *tids
 * (palloc'd, as large as they need: room may be a capacity far above what
 * is queued), their number returned.  Each priority is
 * read only up to its first task not yet due: the scan then goes on from
 * the next priority down, so that tasks not yet due are never read.  A
 * row changed since the snapshot is locked in its last version, and taken
 * if that still qualifies (else left locked, as FOR UPDATE leaves it).
 */
static int
rc_lock_due_tasks(Relation rel, RcDueWalk *walk, int room, Datum **ids, ItemPointer *tids)
{
	Relation	index = rc_task_index_open(RC_INDEX_QUEUED);
	Snapshot	snapshot = GetActiveSnapshot();
	CommandId	cid = GetCurrentCommandId(true);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TupleTableSlot *locked = table_slot_create(rel, NULL);
	IndexScanDesc scan = index_beginscan(rel, index, snapshot, 2, 0);
	ScanKeyData keys[2];
	bool		in_after = walk->after;
	int			n = 0;
	int			allocated = Min(room, 64);

	*ids = palloc(allocated * sizeof(Datum));
	*tids = palloc(allocated * sizeof(ItemPointerData));

	/*
	 * Two keys always (a rescan takes as many as the scan began with): the
	 * priorities to read, and where in the first the scan starts.  From the
	 * task given on (its priority, from its run_at), or from the top.
	 */
	if (in_after)
	{
		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
					Int32GetDatum(walk->after_priority));
		ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
					TimestampTzGetDatum(walk->after_run_at));
	}
	else
	{
		ScanKeyInit(&keys[0], 1, BTLessEqualStrategyNumber, F_INT4LE,
					Int32GetDatum(PG_INT32_MAX));
		ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
					TimestampTzGetDatum(DT_NOBEGIN));
	}
	index_rescan(scan, keys, 2, NULL, 0);
	while (n < room)
	{
		int32		priority;
		Datum		run_at;
		bool		isnull;
		int64		id;
		TM_FailureData tmfd;

		CHECK_FOR_INTERRUPTS();
		if (!index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			if (!in_after)
				break;			/* the whole queue read */
			/* the task given's priority read: the priorities below it */
			priority = walk->after_priority;
		}
		else
		{
			priority = DatumGetInt32(slot_getattr(slot, rc_task_attnum(RC_TASK_PRIORITY),
												  &isnull));
			if (isnull)
				continue;
			run_at = slot_getattr(slot, rc_task_attnum(RC_TASK_RUN_AT), &isnull);
			if (isnull || DatumGetTimestampTz(run_at) <= walk->now)
			{
				if (!rc_task_due_here(slot, walk, priority, &id))
					continue;
				switch (table_tuple_lock(rel, &slot->tts_tid, snapshot, locked, cid,
										 LockTupleExclusive, LockWaitSkip,
										 TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd))
				{
					case TM_Ok:
						if (tmfd.traversed && !rc_task_due_here(locked, walk, priority, &id))
							break;
						if (n == allocated)
						{
							allocated = Min(room, allocated * 2);
							*ids = repalloc(*ids, allocated * sizeof(Datum));
							*tids = repalloc(*tids, allocated * sizeof(ItemPointerData));
						}
						(*tids)[n] = locked->tts_tid;
						(*ids)[n++] = Int64GetDatum(id);
						break;
					case TM_WouldBlock:	/* locked elsewhere */
					case TM_Deleted:
					case TM_SelfModified:
						break;
					default:
						elog(ERROR, "unexpected result locking queued task " INT64_FORMAT, id);
				}
				continue;
			}
			/* the rest of this priority is not due yet: the priorities below */
		}
		ScanKeyInit(&keys[0], 1, BTLessStrategyNumber, F_INT4LT, Int32GetDatum(priority));
		ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
					TimestampTzGetDatum(DT_NOBEGIN));
		in_after = false;
		index_rescan(scan, keys, 2, NULL, 0);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(locked);
	index_close(index, NoLock);
	return n;
}

/* ---------------------------------------------------------------------
 * Nodes
 * ---------------------------------------------------------------------
 */

/* The columns of role_cluster.node the routing rule reads */
typedef enum RcNodeColumn
{
	RC_NODE_ID,
	RC_NODE_ROLE,
	RC_NODE_SHARD,
	RC_NODE_CAPACITY,
	RC_NODE_LOGIN_COL,
	RC_NODE_PID,
	RC_NODE_START,
	RC_NODE_LIVE_UNTIL,
	RC_NODE_LEASE_UNTIL,
	RC_NODE_DEREGISTERED_AT,
	RC_NODE_NUM_COLUMNS
} RcNodeColumn;

static const char *const node_columns[RC_NODE_NUM_COLUMNS] = {
	"node_id", "role_name", "push_shard", "capacity", "login", "backend_pid",
	"backend_start", "live_until", "lease_until", "deregistered_at"
};

/* A node's row, as the routing rule reads it */
typedef struct RcNode
{
	Datum		values[RC_NODE_NUM_COLUMNS];
	bool		nulls[RC_NODE_NUM_COLUMNS];
} RcNode;

/* The number of the column called name in desc; can't-happen if none */
static AttrNumber
rc_desc_attnum(TupleDesc desc, const char *name)
{
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return (AttrNumber) (a + 1);
	}
	elog(ERROR, "role_cluster.node has no column \"%s\"", name);
	return InvalidAttrNumber;	/* keep the compiler quiet */
}

/*
 * Reads a node's row (tuple, of desc) into *node; false when a column
 * the liveness test reads is NULL, as in a row made by hand (the table's
 * own rows have none: those columns are NOT NULL).
 */
static bool
rc_node_read(HeapTuple tuple, TupleDesc desc, RcNode *node)
{
	/* where each column was last found, checked by its name at each read */
	static AttrNumber attnums[RC_NODE_NUM_COLUMNS];
	Datum	   *values = palloc(desc->natts * sizeof(Datum));
	bool	   *nulls = palloc(desc->natts * sizeof(bool));

	heap_deform_tuple(tuple, desc, values, nulls);
	for (int c = 0; c < RC_NODE_NUM_COLUMNS; c++)
	{
		AttrNumber	a = attnums[c];

		if (a < 1 || a > desc->natts || TupleDescAttr(desc, a - 1)->attisdropped ||
			strcmp(NameStr(TupleDescAttr(desc, a - 1)->attname), node_columns[c]) != 0)
			a = attnums[c] = rc_desc_attnum(desc, node_columns[c]);
		node->values[c] = values[a - 1];
		node->nulls[c] = nulls[a - 1];
	}
	pfree(values);
	pfree(nulls);
	return !node->nulls[RC_NODE_PID] && !node->nulls[RC_NODE_START] &&
		!node->nulls[RC_NODE_LIVE_UNTIL] && !node->nulls[RC_NODE_LEASE_UNTIL];
}

/*
 * node_is_lost(): the node no longer holds its tasks: deregistered, its
 * lease lapsed (at now()), or the session that registered it ended
 */
static bool
rc_node_lost(const RcNode *node)
{
	return !node->nulls[RC_NODE_DEREGISTERED_AT] ||
		DatumGetTimestampTz(node->values[RC_NODE_LEASE_UNTIL]) <= GetCurrentTransactionStartTimestamp() ||
		!rc_session_alive(DatumGetInt32(node->values[RC_NODE_PID]),
						  DatumGetTimestampTz(node->values[RC_NODE_START]));
}

/* node_is_live(): not lost, and within its node timeout (at now()) */
static bool
rc_node_live(const RcNode *node)
{
	return DatumGetTimestampTz(node->values[RC_NODE_LIVE_UNTIL]) > GetCurrentTransactionStartTimestamp() &&
		!rc_node_lost(node);
}

/*
 * A SQL function's answer of test (rc_node_lost(), rc_node_live()) for
 * its node composite argument: NULL for a row without the columns the
 * test reads (the table's own rows have all of them)
 */
static Datum
rc_node_test(FunctionCallInfo fcinfo, bool (*test) (const RcNode *node))
{
	HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(0);
	TupleDesc	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(row),
											  HeapTupleHeaderGetTypMod(row));
	HeapTupleData tuple;
	RcNode		node;
	bool		readable;

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	readable = rc_node_read(&tuple, desc, &node);
	ReleaseTupleDesc(desc);
	if (!readable)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(test(&node));
}

/* role_cluster.node_is_lost(n role_cluster.node) → boolean (rc_node_lost()) */
Datum
rc_node_is_lost(PG_FUNCTION_ARGS)
{
	return rc_node_test(fcinfo, rc_node_lost);
}

/* role_cluster.node_is_live(n role_cluster.node) → boolean (rc_node_live()) */
Datum
rc_node_is_live(PG_FUNCTION_ARGS)
{
	return rc_node_test(fcinfo, rc_node_live);
}

/*
 * role_cluster.effective_push_shard(push_shard integer, push_shards_total
 * integer) → integer
 *
 * The push shard a node serves (rc_node_shard()); NULL for none.
 */
Datum
rc_effective_push_shard(PG_FUNCTION_ARGS)
{
	int32		serves;

	if (!rc_node_shard(PG_ARGISNULL(0), PG_ARGISNULL(0) ? 0 : PG_GETARG_INT32(0),
					   PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1), &serves))
		PG_RETURN_NULL();
	PG_RETURN_INT32(serves);
}

/*
 * Locks node node_id's row as SELECT ... FOR NO KEY UPDATE would, waiting
 * for a transaction that holds it, under the active snapshot (the row
 * found where it was last, or by primary key: rc_find_by_key()), and reads
 * it into *node (a copy, also in *row as a role_cluster.node composite);
 * false when there is none.  Under READ COMMITTED (which hand_out_tasks()
 * requires), a row changed meanwhile is locked and read in its last
 * version.
 */
static bool
rc_lock_node(Datum node_id, RcNode *node, Datum *row)
{
	Relation	rel;
	TupleTableSlot *slot;
	TupleTableSlot *locked;
	Snapshot	snapshot = GetActiveSnapshot();
	bool		found = false;
	AclResult	aclresult;

	/* as the statement did, so the error is the same */
	PreventCommandIfReadOnly("SELECT FOR NO KEY UPDATE");
	PreventCommandIfParallelMode("SELECT FOR NO KEY UPDATE");
	rel = table_open(rc_node_relid(), RowShareLock);
	aclresult = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), ACL_UPDATE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	slot = table_slot_create(rel, NULL);
	locked = table_slot_create(rel, NULL);
	/* the node table, named by its column that rc_read_by_key() reads */
	if (rc_find_by_key(RC_NODE_LOGIN, rel, node_id, slot))
	{
		TM_FailureData tmfd;
		TM_Result	result;

		result = table_tuple_lock(rel, &slot->tts_tid, snapshot, locked,
								  GetCurrentCommandId(true), LockTupleNoKeyExclusive,
								  LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		/* deleted meanwhile (TM_Deleted), or by this command: none */
		if (result != TM_Ok && result != TM_Deleted && result != TM_SelfModified)
			elog(ERROR, "unexpected result %d locking a node row", (int) result);
		found = result == TM_Ok;
		if (found)
		{
			HeapTuple	tuple = ExecCopySlotHeapTuple(locked);

			(void) rc_node_read(tuple, RelationGetDescr(rel), node);
			/* the statement's recheck of its condition, on the last version */
			found = !tmfd.traversed ||
				DatumGetBool(DirectFunctionCall2Coll(texteq, DEFAULT_COLLATION_OID,
													 node->values[RC_NODE_ID], node_id));
			*row = heap_copy_tuple_as_datum(tuple, RelationGetDescr(rel));
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(locked);
	table_close(rel, NoLock);	/* held to the end, as a statement holds it */
	return found;
}

/* Whether any singleton task is queued (task_queued_singleton_idx) */
static bool
rc_singletons_queued(void)
{
	Relation	rel = rc_task_open(AccessShareLock, ACL_SELECT);
	Relation	index = rc_task_index_open(RC_INDEX_QUEUED_SINGLETON);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan = index_beginscan(rel, index, GetActiveSnapshot(), 0, 0);
	bool		found;

	index_rescan(scan, NULL, 0, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	return found;
}

/*
 * Runs sql, a call of the queue's SQL helpers that raises the error that
 * says what is wrong; nargs (0 or 1) text arguments, arg
 */
static void
rc_run_check(const char *sql, int nargs, Datum arg)
{
	Oid			argtype = TEXTOID;
	int			settings = rc_queue_settings_begin();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, nargs, &argtype, &arg, NULL, false, 0) < 0)
		elog(ERROR, "check failed: %s", sql);
	SPI_finish();
	rc_queue_settings_end(settings);
}

/*
 * hand_out_singletons(me, types, shard, want, claiming): its rows put in
 * rows; how many
 */
static int64
rc_hand_out_singletons(Datum me, Datum types, bool shard_null, int32 shard, int64 want,
					   bool claiming, Tuplestorestate *rows)
{
	Oid			argtypes[5] = {InvalidOid, InvalidOid, INT4OID, INT4OID, BOOLOID};
	Datum		values[5] = {me, types, Int32GetDatum(shard), Int32GetDatum((int32) want),
	BoolGetDatum(claiming)};
	char		nulls[5] = {' ', ' ', shard_null ? 'n' : ' ', ' ', ' '};
	int64		taken;
	int			settings = rc_queue_settings_begin();

	argtypes[0] = HeapTupleHeaderGetTypeId(DatumGetHeapTupleHeader(me));
	argtypes[1] = get_array_type(ARR_ELEMTYPE(DatumGetArrayTypeP(types)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT h FROM role_cluster.hand_out_singletons($1, $2, $3, $4, $5) h",
							  5, argtypes, values, nulls, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "hand_out_singletons failed");
	rc_put_spi_rows(rows);
	taken = (int64) SPI_processed;
	SPI_finish();
	rc_queue_settings_end(settings);
	return taken;
}

/*
 * role_cluster.hand_out_tasks(node_id text, max_tasks integer, claiming
 *     boolean, held integer, after_priority integer, after_run_at
 *     timestamptz, after_id bigint) → SETOF role_cluster.task
 *
 * The routing rule (see the install script for all of it): hands out up
 * to max_tasks due queued tasks to node node_id and returns them, in no
 * particular order.  Requires READ COMMITTED.  The node's row is locked
 * first, so that two hand-outs to one node take turns; whether any
 * singleton is queued is read just before, under the same snapshot, and
 * only tells whether to look for them (one queued meanwhile waits for the
 * next hand-out).  Claiming, a caller who may not act for the node, or a
 * node not live, raises (the SQL helpers say why); dispatching, such a
 * node gets nothing.  What the node may run: its role's task types
 * (node_task_types(), strict when claiming) and its push shard.  Its room,
 * least(max_tasks, capacity less what it holds), uses held when given,
 * else is counted under its lock with a fresh snapshot.  Singletons first,
 * in PL/pgSQL (hand_out_singletons()), then the rest, each step under a
 * snapshot taken after the one before, as the statements took them.
 */
Datum
rc_hand_out_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		claiming = !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	bool		singles;
	bool		found;
	RcNode		node;
	Datum		row = (Datum) 0;
	Datum		types;
	RcDueWalk	walk;
	bool	   *type_nulls;
	bool		enables_push;
	bool		room_known;
	int64		room = 0;
	Relation	rel;

	LOCAL_FCINFO(call, 2);

	rc_init_row_srf(fcinfo);
	if (XactIsoLevel != XACT_READ_COMMITTED)
		rc_run_check("SELECT role_cluster.require_read_committed()", 0, (Datum) 0);

	/* the singletons' look, then the node's lock */
	rc_push_write_snapshot();
	singles = rc_singletons_queued();
	found = !PG_ARGISNULL(0) && rc_lock_node(PG_GETARG_DATUM(0), &node, &row);
	PopActiveSnapshot();
	if (!found ||
		(claiming && !rc_session_user_may_act(node.values[RC_NODE_LOGIN_COL])) ||
		!rc_node_live(&node) ||
	/* a lease that ended while this transaction waited: see heartbeat() */
		DatumGetTimestampTz(node.values[RC_NODE_LEASE_UNTIL]) <= GetCurrentTimestamp())
	{
		/* raise the error that says why */
		if (claiming)
			rc_run_check("SELECT role_cluster.require_live(role_cluster.node_for_caller($1, false))",
						 1, PG_GETARG_DATUM(0));
		return (Datum) 0;
	}
	if (PG_ARGISNULL(1) || PG_GETARG_INT32(1) <= 0)
		return (Datum) 0;

	/* a role deleted under a dispatched node enables nothing; a claiming one raises */
	InitFunctionCallInfoData(*call, NULL, 2, InvalidOid, NULL, NULL);
	call->args[0].value = node.values[RC_NODE_ROLE];
	call->args[0].isnull = node.nulls[RC_NODE_ROLE];
	call->args[1].value = BoolGetDatum(claiming);
	call->args[1].isnull = false;
	types = node_task_types(call);
	deconstruct_array(DatumGetArrayTypeP(types), ARR_ELEMTYPE(DatumGetArrayTypeP(types)),
					  sizeof(Oid), true, TYPALIGN_INT, &walk.types, &type_nulls, &walk.ntypes);
	if (walk.ntypes == 0)
		return (Datum) 0;

	/*
	 * Its push shard matters only if it may run push tasks, and the shard
	 * total only if it has no shard of its own: then it is read at the
	 * first push task the walk meets (rc_walk_read_shard()), or for the
	 * singletons.
	 */
	enables_push = false;
	for (int i = 0; i < walk.ntypes; i++)
		enables_push |= rc_task_type_ordinal(DatumGetObjectId(walk.types[i])) == RC_PUSH_NOTIFICATIONS;
	walk.shard_unread = enables_push && node.nulls[RC_NODE_SHARD];
	walk.shard_null = !enables_push;
	walk.shard = enables_push && !walk.shard_unread ? DatumGetInt32(node.values[RC_NODE_SHARD]) : 0;

	/*
	 * The room the node has left, counted under its lock unless the caller
	 * gave the count; without singletons, left to the walk below.
	 */
	room_known = !PG_ARGISNULL(3) || singles;
	if (!PG_ARGISNULL(3))
		room = Min((int64) PG_GETARG_INT32(1),
				   DatumGetInt32(node.values[RC_NODE_CAPACITY]) - (int64) PG_GETARG_INT32(3));
	if (singles)
	{
		rc_push_write_snapshot();
		rel = rc_task_open(AccessShareLock, ACL_SELECT);
		if (PG_ARGISNULL(3))
			room = Min((int64) PG_GETARG_INT32(1),
					   DatumGetInt32(node.values[RC_NODE_CAPACITY]) -
					   rc_count_held(rel, GetActiveSnapshot(), node.values[RC_NODE_ID]));
		table_close(rel, NoLock);
		if (room > 0)
			rc_walk_read_shard(&walk);
		PopActiveSnapshot();
		if (room > 0)
			room -= rc_hand_out_singletons(row, types, walk.shard_null, walk.shard, room,
										   claiming, rsinfo->setResult);
	}
	if (room_known && room <= 0)
		return (Datum) 0;

	/* the rest, from the task given (after_*), if any, else from the top */
	walk.now = GetCurrentTransactionStartTimestamp();
	walk.after = !PG_ARGISNULL(4) && !PG_ARGISNULL(5) && !PG_ARGISNULL(6);
	walk.after_priority = walk.after ? PG_GETARG_INT32(4) : 0;
	walk.after_run_at = walk.after ? PG_GETARG_TIMESTAMPTZ(5) : 0;
	walk.after_id = walk.after ? PG_GETARG_INT64(6) : 0;
	rc_push_write_snapshot();
	rel = rc_task_open(RowShareLock, ACL_SELECT | ACL_UPDATE);
	if (!room_known)
		room = Min((int64) PG_GETARG_INT32(1),
				   DatumGetInt32(node.values[RC_NODE_CAPACITY]) -
				   rc_count_held(rel, GetActiveSnapshot(), node.values[RC_NODE_ID]));
	if (room > 0)
	{
		Datum	   *ids;
		ItemPointer tids;
		int			n = rc_lock_due_tasks(rel, &walk, (int) room, &ids, &tids);

		rc_hand_out_rows(ids, NULL, tids, n, node.values[RC_NODE_ID], false,
						 node.values[RC_NODE_LEASE_UNTIL], false, !claiming,
						 rsinfo->setResult);
	}
	table_close(rel, NoLock);
	PopActiveSnapshot();
	return (Datum) 0;
}
