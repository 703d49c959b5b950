/*-------------------------------------------------------------------------
 *
 * bench_floor.c
 *	  A server module for test/bench_queue.sh (which compiles and loads
 *	  it into its throwaway server): the "C floor" queue.  It does what
 *	  the hand-written queue's three statements do, on role_cluster.task
 *	  itself, in C through the routines PostgreSQL's logical replication
 *	  applies rows with: no statement planned or started, no routing rule,
 *	  no check of the caller, no node.  The index entries and the
 *	  triggers are left to PostgreSQL, but what PostgreSQL prepares again
 *	  for each statement that writes the table (each index's description
 *	  and partial-index predicate, each trigger's WHEN clause) is prepared
 *	  once per session.  What it spends per task is the least any
 *	  implementation of enqueue, claim and complete in C pays on that
 *	  table.
 *
 *	  bench_floor_enqueue() → bigint
 *		Inserts a queued searchIndexing task with the table's defaults;
 *		returns its id.
 *	  bench_floor_claim(node_id text) → bigint
 *		Takes the first due queued non-singleton task in hand-out order
 *		(task_queued_idx) that no other transaction has locked, as FOR
 *		UPDATE SKIP LOCKED does, and makes it running on node_id, leased
 *		for a day; returns its id, or 0 when none is left.
 *	  bench_floor_complete(task_id bigint) → void
 *		Makes the task done, waiting for a transaction that holds it.
 *
 *	  Not for use outside the benchmark: the row is written as given, with
 *	  none of role_cluster's checks.  The table's layout (column numbers,
 *	  its types' values, its indexes and triggers) is looked up once per
 *	  session and never again: the benchmark changes no table definition.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(bench_floor_enqueue);
PG_FUNCTION_INFO_V1(bench_floor_claim);
PG_FUNCTION_INFO_V1(bench_floor_complete);

/* The columns the queue writes */
typedef enum FloorColumn
{
	COL_ID,
	COL_RUN_AT,
	COL_CREATED_AT,
	COL_UPDATED_AT,
	COL_TASK_TYPE,
	COL_STATE,
	COL_PRIORITY,
	COL_ATTEMPTS,
	COL_MAX_ATTEMPTS,
	COL_SINGLETON,
	COL_FINISHED_AT,
	COL_LEASE_UNTIL,
	COL_NODE_ID,
	COL_KIND,
	COL_PAYLOAD,
	NUM_COLS
} FloorColumn;

static const char *const column_names[NUM_COLS] = {
	"id", "run_at", "created_at", "updated_at", "task_type", "state", "priority",
	"attempts", "max_attempts", "singleton", "finished_at", "lease_until", "node_id",
	"kind", "payload"
};

/* role_cluster.task's layout, looked up on the first call */
typedef struct FloorLayout
{
	bool		ready;
	Oid			task;
	Oid			task_id_seq;
	Oid			queued_idx;
	AttrNumber	attnum[NUM_COLS];
	Datum		search_indexing;	/* task_type values */
	Datum		queued;			/* task_state values */
	Datum		running;
	Datum		done;
	Datum		empty_text;
	Datum		empty_payload;
	Bitmapset  *claim_cols;		/* what a claim updates, for UPDATE OF triggers */
	Bitmapset  *done_cols;		/* and what a completion does */
	/* what PostgreSQL prepares for each statement, prepared once: */
	int			nindexes;
	Oid		   *index_oids;		/* the table's indexes */
	IndexInfo **index_info;		/* each one's, its predicate prepared */
	int			ntriggers;
	Oid		   *trigger_oids;	/* the table's triggers, in trigdesc order */
	ExprState **trigger_when;	/* each one's WHEN clause prepared, or NULL */
} FloorLayout;

static FloorLayout layout;

/*
 * One write to role_cluster.task, set up as the logical replication apply
 * worker sets up its own
 */
typedef struct FloorWrite
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epq;
} FloorWrite;

/* The OID of role_cluster.name, locked as a write to the table locks it */
static Oid
floor_relid(const char *name)
{
	return RangeVarGetRelid(makeRangeVar("role_cluster", (char *) name, -1),
							RowExclusiveLock, false);
}

/* A value of the enum type of column col */
static Datum
floor_enum(Relation rel, FloorColumn col, const char *label)
{
	Oid			type = TupleDescAttr(RelationGetDescr(rel), layout.attnum[col] - 1)->atttypid;

	return DirectFunctionCall2(enum_in, CStringGetDatum(label), ObjectIdGetDatum(type));
}

/*
 * The set of columns cols (ending with NUM_COLS), as an RTE's updatedCols
 * holds them
 */
static Bitmapset *
floor_column_set(const FloorColumn *cols)
{
	Bitmapset  *set = NULL;

	for (; *cols != NUM_COLS; cols++)
		set = bms_add_member(set, layout.attnum[*cols] - FirstLowInvalidHeapAttributeNumber);
	return set;
}

/*
 * Prepares once, for the session, what PostgreSQL prepares again for each
 * statement that writes rel: each index's IndexInfo with its predicate,
 * and each trigger's WHEN clause, as ExecInsertIndexTuples() and
 * TriggerEnabled() would.  Kept in an executor state that lives as long
 * as the session (nothing here changes the table's definition).
 */
static void
floor_prepare(Relation rel)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	EState	   *estate = CreateExecutorState();
	List	   *indexes = RelationGetIndexList(rel);
	TriggerDesc *trigdesc = rel->trigdesc;
	ListCell   *lc;
	int			i = 0;

	layout.nindexes = list_length(indexes);
	layout.index_oids = palloc(layout.nindexes * sizeof(Oid));
	layout.index_info = palloc(layout.nindexes * sizeof(IndexInfo *));
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *info;

		MemoryContextSwitchTo(estate->es_query_cxt);
		info = BuildIndexInfo(index);
		if (info->ii_Predicate != NIL)
			info->ii_PredicateState = ExecPrepareQual(info->ii_Predicate, estate);
		MemoryContextSwitchTo(TopMemoryContext);
		layout.index_oids[i] = lfirst_oid(lc);
		layout.index_info[i++] = info;
		index_close(index, NoLock);
	}

	layout.ntriggers = trigdesc ? trigdesc->numtriggers : 0;
	layout.trigger_oids = palloc(Max(layout.ntriggers, 1) * sizeof(Oid));
	layout.trigger_when = palloc0(Max(layout.ntriggers, 1) * sizeof(ExprState *));
	for (i = 0; i < layout.ntriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];

		layout.trigger_oids[i] = trigger->tgoid;
		if (trigger->tgqual)
		{
			Node	   *qual;

			MemoryContextSwitchTo(estate->es_query_cxt);
			qual = stringToNode(trigger->tgqual);
			ChangeVarNodes(qual, PRS2_OLD_VARNO, INNER_VAR, 0);
			ChangeVarNodes(qual, PRS2_NEW_VARNO, OUTER_VAR, 0);
			layout.trigger_when[i] = ExecPrepareQual(make_ands_implicit((Expr *) qual), estate);
			MemoryContextSwitchTo(TopMemoryContext);
		}
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Opens the table's indexes for a write, as ExecOpenIndices() does, but
 * with the IndexInfos floor_prepare() made, and gives its triggers their
 * prepared WHEN clauses
 */
static void
floor_open_prepared(ResultRelInfo *rri)
{
	rri->ri_NumIndices = layout.nindexes;
	rri->ri_IndexRelationDescs = palloc(layout.nindexes * sizeof(Relation));
	rri->ri_IndexRelationInfo = palloc(layout.nindexes * sizeof(IndexInfo *));
	for (int i = 0; i < layout.nindexes; i++)
	{
		rri->ri_IndexRelationDescs[i] = index_open(layout.index_oids[i], RowExclusiveLock);
		rri->ri_IndexRelationInfo[i] = layout.index_info[i];
	}
	for (int i = 0; i < layout.ntriggers; i++)
	{
		if (rri->ri_TrigDesc->triggers[i].tgoid != layout.trigger_oids[i])
			elog(ERROR, "role_cluster.task's triggers changed in this session");
		rri->ri_TrigWhenExprs[i] = layout.trigger_when[i];
	}
}

/* Fills layout in from rel, once per session */
static void
floor_layout(Relation rel)
{
	static const FloorColumn claim_cols[] = {
		COL_STATE, COL_NODE_ID, COL_LEASE_UNTIL, COL_ATTEMPTS, COL_UPDATED_AT, NUM_COLS
	};
	static const FloorColumn done_cols[] = {
		COL_STATE, COL_FINISHED_AT, COL_LEASE_UNTIL, COL_UPDATED_AT, NUM_COLS
	};
	MemoryContext oldcxt;

	if (layout.ready)
		return;
	for (int i = 0; i < NUM_COLS; i++)
	{
		layout.attnum[i] = attnameAttNum(rel, column_names[i], false);
		if (layout.attnum[i] <= 0)
			elog(ERROR, "role_cluster.task has no column \"%s\"", column_names[i]);
	}
	layout.task_id_seq = floor_relid("task_id_seq");
	layout.queued_idx = floor_relid("task_queued_idx");

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	layout.search_indexing = floor_enum(rel, COL_TASK_TYPE, "searchIndexing");
	layout.queued = floor_enum(rel, COL_STATE, "queued");
	layout.running = floor_enum(rel, COL_STATE, "running");
	layout.done = floor_enum(rel, COL_STATE, "done");
	layout.empty_text = CStringGetTextDatum("");
	layout.empty_payload = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	layout.claim_cols = floor_column_set(claim_cols);
	layout.done_cols = floor_column_set(done_cols);
	MemoryContextSwitchTo(oldcxt);
	floor_prepare(rel);
	layout.task = RelationGetRelid(rel);
	layout.ready = true;
}

/*
 * Opens role_cluster.task for one write: its indexes opened, after-trigger
 * events collected until floor_end().
 */
static void
floor_begin(FloorWrite *w)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	w->rel = table_open(layout.ready ? layout.task : floor_relid("task"), RowExclusiveLock);
	floor_layout(w->rel);
	w->estate = CreateExecutorState();
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(w->estate, list_make1(rte));
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	w->estate->es_opened_result_relations = list_make1(w->rri);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = GetActiveSnapshot();
	floor_open_prepared(w->rri);
	AfterTriggerBeginQuery();
	EvalPlanQualInit(&w->epq, w->estate, NULL, NIL, -1);
}

/* Fires the write's after triggers and closes what floor_begin() opened */
static void
floor_end(FloorWrite *w)
{
	EvalPlanQualEnd(&w->epq);
	AfterTriggerEndQuery(w->estate);
	ExecCloseResultRelations(w->estate);
	ExecCloseRangeTableRelations(w->estate);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
}

/* An empty slot of the table's row type, all NULL, dropped by floor_end() */
static TupleTableSlot *
floor_slot(FloorWrite *w)
{
	TupleTableSlot *slot = table_slot_create(w->rel, &w->estate->es_tupleTable);

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, slot->tts_tupleDescriptor->natts * sizeof(bool));
	return slot;
}

/* Sets column col of a slot being filled */
static void
floor_set(TupleTableSlot *slot, FloorColumn col, Datum value, bool isnull)
{
	slot->tts_values[layout.attnum[col] - 1] = value;
	slot->tts_isnull[layout.attnum[col] - 1] = isnull;
}

/* Column col of a stored row */
static Datum
floor_get(TupleTableSlot *slot, FloorColumn col)
{
	bool		isnull;

	return slot_getattr(slot, layout.attnum[col], &isnull);
}

/*
 * Writes the row old (found and locked) as the values filled in new, cols
 * being the columns changed (for UPDATE OF triggers), with the statement's
 * triggers around it, as an UPDATE of one row does.
 */
static void
floor_update(FloorWrite *w, Bitmapset *cols, TupleTableSlot *old, TupleTableSlot *new)
{
	exec_rt_fetch(1, w->estate)->updatedCols = cols;
	ExecStoreVirtualTuple(new);
	ExecBSUpdateTriggers(w->estate, w->rri);
	ExecSimpleRelationUpdate(w->rri, w->estate, &w->epq, old, new);
	ExecASUpdateTriggers(w->estate, w->rri, NULL);
}

/* A copy of the row old's values, to change before floor_update() */
static TupleTableSlot *
floor_copy(FloorWrite *w, TupleTableSlot *old)
{
	TupleTableSlot *new = floor_slot(w);
	int			natts = old->tts_tupleDescriptor->natts;

	slot_getallattrs(old);
	memcpy(new->tts_values, old->tts_values, natts * sizeof(Datum));
	memcpy(new->tts_isnull, old->tts_isnull, natts * sizeof(bool));
	return new;
}

/*
 * bench_floor_enqueue() → bigint: INSERT INTO role_cluster.task
 * (task_type) VALUES ('searchIndexing') RETURNING id, the defaults
 * written out.
 */
Datum
bench_floor_enqueue(PG_FUNCTION_ARGS)
{
	FloorWrite	w;
	TupleTableSlot *slot;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	int64		id;

	floor_begin(&w);
	slot = floor_slot(&w);
	id = nextval_internal(layout.task_id_seq, false);
	floor_set(slot, COL_ID, Int64GetDatum(id), false);
	floor_set(slot, COL_RUN_AT, TimestampTzGetDatum(now), false);
	floor_set(slot, COL_CREATED_AT, TimestampTzGetDatum(now), false);
	floor_set(slot, COL_UPDATED_AT, TimestampTzGetDatum(now), false);
	floor_set(slot, COL_TASK_TYPE, layout.search_indexing, false);
	floor_set(slot, COL_STATE, layout.queued, false);
	floor_set(slot, COL_PRIORITY, Int32GetDatum(0), false);
	floor_set(slot, COL_ATTEMPTS, Int32GetDatum(0), false);
	floor_set(slot, COL_MAX_ATTEMPTS, Int32GetDatum(5), false);
	floor_set(slot, COL_SINGLETON, BoolGetDatum(false), false);
	floor_set(slot, COL_KIND, layout.empty_text, false);
	floor_set(slot, COL_PAYLOAD, layout.empty_payload, false);
	ExecStoreVirtualTuple(slot);

	ExecBSInsertTriggers(w.estate, w.rri);
	ExecSimpleRelationInsert(w.rri, w.estate, slot);
	ExecASInsertTriggers(w.estate, w.rri, NULL);
	floor_end(&w);
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
	FloorWrite	w;
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snapshot = GetActiveSnapshot();
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		found = false;
	int64		id = 0;

	floor_begin(&w);
	index = index_open(layout.queued_idx, AccessShareLock);
	slot = table_slot_create(w.rel, &w.estate->es_tupleTable);
	scan = index_beginscan(w.rel, index, snapshot, 0, 0);
	index_rescan(scan, NULL, 0, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		TM_FailureData tmfd;

		if (DatumGetTimestampTz(floor_get(slot, COL_RUN_AT)) > now)
			continue;
		if (table_tuple_lock(w.rel, &slot->tts_tid, snapshot, slot, GetCurrentCommandId(false),
							 LockTupleExclusive, LockWaitSkip, 0, &tmfd) == TM_Ok)
		{
			found = true;
			break;
		}
	}
	index_endscan(scan);
	index_close(index, NoLock);

	if (found)
	{
		TupleTableSlot *new = floor_copy(&w, slot);

		id = DatumGetInt64(floor_get(slot, COL_ID));
		floor_set(new, COL_STATE, layout.running, false);
		floor_set(new, COL_NODE_ID, PG_GETARG_DATUM(0), false);
		floor_set(new, COL_LEASE_UNTIL, TimestampTzGetDatum(now + USECS_PER_DAY), false);
		floor_set(new, COL_ATTEMPTS,
				  Int32GetDatum(DatumGetInt32(floor_get(slot, COL_ATTEMPTS)) + 1), false);
		floor_set(new, COL_UPDATED_AT, TimestampTzGetDatum(now), false);
		floor_update(&w, layout.claim_cols, slot, new);
	}
	floor_end(&w);
	PG_RETURN_INT64(id);
}

/* bench_floor_complete(task_id bigint) → void: the hand-written acknowledgement */
Datum
bench_floor_complete(PG_FUNCTION_ARGS)
{
	FloorWrite	w;
	TupleTableSlot *key;
	TupleTableSlot *slot;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	floor_begin(&w);
	key = floor_slot(&w);
	floor_set(key, COL_ID, PG_GETARG_DATUM(0), false);
	ExecStoreVirtualTuple(key);
	slot = table_slot_create(w.rel, &w.estate->es_tupleTable);
	if (RelationFindReplTupleByIndex(w.rel, RelationGetPrimaryKeyIndex(w.rel),
									 LockTupleNoKeyExclusive, key, slot))
	{
		TupleTableSlot *new = floor_copy(&w, slot);

		floor_set(new, COL_STATE, layout.done, false);
		floor_set(new, COL_FINISHED_AT, TimestampTzGetDatum(now), false);
		floor_set(new, COL_LEASE_UNTIL, (Datum) 0, true);
		floor_set(new, COL_UPDATED_AT, TimestampTzGetDatum(now), false);
		floor_update(&w, layout.done_cols, slot, new);
	}
	floor_end(&w);
	PG_RETURN_VOID();
}
