/*-------------------------------------------------------------------------
 *
 * rc_write.c
 *	  Writing one task row without a statement (see rc_write.h).
 *
 * An INSERT or UPDATE of role_cluster.task planned and started for one
 * row spends most of its work before it reaches the row: setting up its
 * plan, opening the table's seven indexes and building their
 * descriptions, preparing the predicates of the six partial ones, the
 * WHEN clauses of the triggers it may fire and the columns' defaults, all
 * again for each statement.  Here a row is found by its primary key and
 * locked, or made of the defaults, and written through the routines
 * PostgreSQL's logical replication applies rows with
 * (ExecSimpleRelationInsert() and ExecSimpleRelationUpdate(): the index
 * entries, constraints and row triggers), with the statement's triggers
 * fired around it; and the index descriptions, predicates, WHEN clauses
 * and defaults are prepared once per session, in the cache below.
 *
 * The cache is made again at the first write after a relcache
 * invalidation of the table or of one of its indexes (any index, trigger,
 * default or column change sends one), and never freed while a write uses
 * it.
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
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "rewrite/rewriteManip.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "rc_util.h"
#include "rc_write.h"

static const char *const column_names[RC_TASK_NUM_COLUMNS] = {
	"id", "state", "node_id", "attempts", "route_seq", "lease_until", "finished_at",
	"updated_at", "task_type", "kind", "payload", "shard_key", "push_shard", "run_at",
	"priority", "max_attempts", "singleton"
};

static const char *const state_labels[RC_NUM_STATES] = {
	"queued", "running", "done", "dead"
};

static const char *const index_names[RC_NUM_TASK_INDEXES] = {
	"task_queued_idx", "task_queued_singleton_idx", "task_held_idx"
};

static const char *const keyed_tables[RC_NUM_KEYED_COLUMNS] = {"node", "node_fetch"};
static const char *const keyed_columns[RC_NUM_KEYED_COLUMNS] = {"login", "fetched"};

/* The longest node id whose row's place rc_read_by_key() keeps */
#define RC_KEY_HINT_LEN 64

/* Where rc_read_by_key() finds a column */
typedef struct RcKeyedTable
{
	Oid			relid;
	AttrNumber	attnum;
	AttrNumber	key_attnum;		/* the node id's column */
	bool		hinted;			/* the row of hint_key was found at hint: */
	ItemPointerData hint;
	int			hint_len;
	char		hint_key[RC_KEY_HINT_LEN];
} RcKeyedTable;

/* What every write of role_cluster.task needs, prepared once */
typedef struct RcWriteCache
{
	bool		valid;			/* made, and no invalidation since */
	bool		current;		/* no invalidation since it began to be made */
	MemoryContext cxt;			/* holds all below */
	Oid			task;			/* the table */
	int			pkey;			/* its primary key, among the indexes below */
	AttrNumber	attnum[RC_TASK_NUM_COLUMNS];
	Datum		state[RC_NUM_STATES];
	int			nindexes;
	Oid		   *index_oids;		/* its indexes */
	IndexInfo **index_info;		/* each one's, predicate and expressions
								 * prepared */
	int			ntriggers;
	Oid		   *trigger_oids;	/* its triggers, in the relcache's order */
	ExprState **trigger_when;	/* each one's WHEN clause prepared, or NULL */
	bool		insert_transitions; /* an INSERT trigger has transition tables */
	bool		update_transitions; /* an UPDATE trigger has some */
	ExprState **defaults;		/* each column's default prepared, or NULL */
	RcKeyedTable keyed[RC_NUM_KEYED_COLUMNS];	/* the node tables' columns */
	Oid			named_index[RC_NUM_TASK_INDEXES];	/* the indexes scanned */
} RcWriteCache;

static RcWriteCache cache;

/* Writes under way in this backend (a trigger may start another) */
static int	write_depth = 0;

/* Contexts of caches made again while a write still used them */
static List *retired_cxts = NIL;

/* Frees the contexts of the caches made again, once no write is under way */
static void
rc_write_free_retired(void)
{
	ListCell   *lc;

	foreach(lc, retired_cxts)
		MemoryContextDelete((MemoryContext) lfirst(lc));
	list_free(retired_cxts);
	retired_cxts = NIL;
}

/* Relcache callback: the table or one of its indexes may have changed */
static void
rc_write_cache_forget(Datum arg, Oid relid)
{
	bool		hit = !OidIsValid(relid) || relid == cache.task;

	for (int i = 0; !hit && i < cache.nindexes; i++)
		hit = relid == cache.index_oids[i];
	for (int k = 0; !hit && k < RC_NUM_KEYED_COLUMNS; k++)
		hit = relid == cache.keyed[k].relid;
	if (hit)
		cache.valid = cache.current = false;
}

/*
 * Transaction callback: at the end of a transaction no write is under way
 * (an error may have cut one short)
 */
static void
rc_write_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
	{
		write_depth = 0;
		rc_write_free_retired();
	}
}

/*
 * Registers the callbacks.  Called once per process from _PG_init (the
 * callback slots are a fixed-size array).
 */
void
rc_write_init(void)
{
	CacheRegisterRelcacheCallback(rc_write_cache_forget, (Datum) 0);
	RegisterXactCallback(rc_write_xact_callback, NULL);
}

/*
 * Prepares, for rel, what ExecOpenIndices(), ExecInsertIndexTuples(),
 * TriggerEnabled() and an INSERT's plan would prepare for each statement:
 * each index's IndexInfo with its predicate and expressions, each
 * trigger's WHEN clause, each column's default; and where the node
 * tables' columns are.  Left invalid, to be made again, if an
 * invalidation came while it was being made, or if an error cut it short.
 */
static void
rc_write_cache_build(Relation rel)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	TriggerDesc *trigdesc;
	EState	   *estate;
	List	   *indexes;
	ListCell   *lc;

	if (cache.cxt != NULL && write_depth > 0)
		retired_cxts = lappend(retired_cxts, cache.cxt);
	else if (cache.cxt != NULL)
		MemoryContextDelete(cache.cxt);
	memset(&cache, 0, sizeof(cache));
	cache.task = RelationGetRelid(rel);
	cache.current = true;
	cache.cxt = AllocSetContextCreate(CacheMemoryContext, "role_cluster task writes",
									  ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(cache.cxt);
	estate = CreateExecutorState();

	/*
	 * A copy: each lock taken below (an index opened, a catalog read for a
	 * syscache miss) takes in the invalidations sent meanwhile, and a
	 * relcache invalidation of the table (as a vacuum's or an analyze's
	 * new statistics send) builds its entry again and frees the trigger
	 * descriptor it had, whatever changed.  The copy stays as it was read;
	 * the invalidation leaves the cache to be made again.
	 */
	trigdesc = rel->trigdesc ? CopyTriggerDesc(rel->trigdesc) : NULL;

	for (int c = 0; c < RC_TASK_NUM_COLUMNS; c++)
		cache.attnum[c] = rc_column_attnum(rel, column_names[c]);
	for (int s = 0; s < RC_NUM_STATES; s++)
	{
		Oid			type = TupleDescAttr(RelationGetDescr(rel),
										 cache.attnum[RC_TASK_STATE] - 1)->atttypid;

		cache.state[s] = DirectFunctionCall2(enum_in, CStringGetDatum(state_labels[s]),
											 ObjectIdGetDatum(type));
	}
	cache.pkey = -1;
	indexes = RelationGetIndexList(rel);
	cache.index_oids = palloc(Max(list_length(indexes), 1) * sizeof(Oid));
	cache.index_info = palloc(Max(list_length(indexes), 1) * sizeof(IndexInfo *));
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		IndexInfo  *info = BuildIndexInfo(index);

		if (info->ii_Predicate != NIL)
			info->ii_PredicateState = ExecPrepareQual(info->ii_Predicate, estate);
		if (info->ii_Expressions != NIL)
			info->ii_ExpressionsState = ExecPrepareExprList(info->ii_Expressions, estate);
		if (lfirst_oid(lc) == RelationGetPrimaryKeyIndex(rel))
			cache.pkey = cache.nindexes;
		for (int n = 0; n < RC_NUM_TASK_INDEXES; n++)
			if (strcmp(RelationGetRelationName(index), index_names[n]) == 0)
				cache.named_index[n] = lfirst_oid(lc);
		cache.index_oids[cache.nindexes] = lfirst_oid(lc);
		cache.index_info[cache.nindexes++] = info;
		index_close(index, AccessShareLock);
	}
	if (cache.pkey < 0)
		elog(ERROR, "role_cluster.task has no primary key");

	cache.ntriggers = trigdesc ? trigdesc->numtriggers : 0;
	cache.trigger_oids = palloc(Max(cache.ntriggers, 1) * sizeof(Oid));
	cache.trigger_when = palloc0(Max(cache.ntriggers, 1) * sizeof(ExprState *));
	cache.insert_transitions = trigdesc != NULL && trigdesc->trig_insert_new_table;
	cache.update_transitions = trigdesc != NULL &&
		(trigdesc->trig_update_old_table || trigdesc->trig_update_new_table);
	for (int i = 0; i < cache.ntriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];

		cache.trigger_oids[i] = trigger->tgoid;
		if (trigger->tgqual != NULL)
		{
			/* as TriggerEnabled() does: OLD is the inner tuple, NEW the outer */
			Node	   *qual = stringToNode(trigger->tgqual);

			ChangeVarNodes(qual, PRS2_OLD_VARNO, INNER_VAR, 0);
			ChangeVarNodes(qual, PRS2_NEW_VARNO, OUTER_VAR, 0);
			cache.trigger_when[i] = ExecPrepareQual(make_ands_implicit((Expr *) qual), estate);
		}
	}

	/* as an INSERT plans them, for the columns it does not name */
	cache.defaults = palloc0(RelationGetDescr(rel)->natts * sizeof(ExprState *));
	for (int a = 0; a < RelationGetDescr(rel)->natts; a++)
	{
		Node	   *dflt;

		if (TupleDescAttr(RelationGetDescr(rel), a)->attisdropped)
			continue;
		dflt = build_column_default(rel, a + 1);
		if (dflt != NULL)
			cache.defaults[a] = ExecInitExpr(expression_planner((Expr *) dflt), NULL);
	}

	for (int k = 0; k < RC_NUM_KEYED_COLUMNS; k++)
	{
		Relation	keyed = table_open(rc_relation_oid(keyed_tables[k]), AccessShareLock);

		cache.keyed[k].relid = RelationGetRelid(keyed);
		cache.keyed[k].attnum = rc_column_attnum(keyed, keyed_columns[k]);
		cache.keyed[k].key_attnum = rc_column_attnum(keyed, "node_id");
		table_close(keyed, NoLock);
	}
	MemoryContextSwitchTo(oldcxt);
	cache.valid = cache.current;
}

/* Whether the cache was made for rel as it is now */
static bool
rc_write_cache_fits(Relation rel)
{
	TriggerDesc *trigdesc = rel->trigdesc;

	if (!cache.valid || cache.task != RelationGetRelid(rel) ||
		cache.ntriggers != (trigdesc ? trigdesc->numtriggers : 0))
		return false;
	for (int i = 0; i < cache.ntriggers; i++)
		if (trigdesc->triggers[i].tgoid != cache.trigger_oids[i])
			return false;
	return true;
}

/*
 * Opens role_cluster.task (rc_write.h): the privileges checked as the
 * executor checks a statement's, the cache made again if the table
 * changed.
 */
Relation
rc_task_open(LOCKMODE lockmode, AclMode mode)
{
	Relation	rel = table_open(cache.valid ? cache.task : rc_relation_oid("task"), lockmode);
	AclResult	aclresult = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(), mode);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	while (!rc_write_cache_fits(rel))
		rc_write_cache_build(rel);
	return rel;
}

/* The OID of role_cluster.node (rc_write.h) */
Oid
rc_node_relid(void)
{
	return cache.valid ? cache.keyed[RC_NODE_LOGIN].relid : rc_relation_oid("node");
}

/*
 * Where a column is in the table rc_task_open() opened last.  Still right
 * after an invalidation that came since: the table's columns cannot change
 * while the caller holds it open.
 */
AttrNumber
rc_task_attnum(RcTaskColumn col)
{
	Assert(OidIsValid(cache.task));
	return cache.attnum[col];
}

/*
 * Opens role_cluster.task for a write (rc_write.h); false, having opened
 * nothing, when a trigger of the table for the command uses transition
 * tables, which ExecSimpleRelationInsert() and ExecSimpleRelationUpdate()
 * do not fill (the caller runs its statement instead).
 */
bool
rc_write_begin(RcTaskWrite *w, CmdType cmd)
{
	RangeTblEntry *rte;
	EState	   *estate;
	AclMode		mode = cmd == CMD_INSERT ? ACL_INSERT : ACL_UPDATE;

	Assert(cmd == CMD_INSERT || cmd == CMD_UPDATE);
	w->rel = rc_task_open(RowExclusiveLock, mode);
	if (cmd == CMD_INSERT ? cache.insert_transitions : cache.update_transitions)
	{
		table_close(w->rel, NoLock);
		return false;
	}
	write_depth++;

	/* set up as the logical replication apply worker sets up its writes */
	estate = w->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	estate->es_opened_result_relations = list_make1(w->rri);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = GetActiveSnapshot();

	/*
	 * ExecOpenIndices(), with the cached descriptions; but only the primary
	 * key is opened now, the others as a row to be written needs them
	 * (rc_write_open_indexes()).  All of them, as a statement would, when
	 * the rows can change after that test: a before row trigger of an
	 * UPDATE (an INSERT's are fired first, by rc_write_insert()), or a
	 * stored generated column.
	 */
	w->rri->ri_NumIndices = cache.nindexes;
	w->rri->ri_IndexRelationDescs = palloc0(Max(cache.nindexes, 1) * sizeof(Relation));
	w->rri->ri_IndexRelationInfo = palloc(Max(cache.nindexes, 1) * sizeof(IndexInfo *));
	for (int i = 0; i < cache.nindexes; i++)
		w->rri->ri_IndexRelationInfo[i] = cache.index_info[i];
	w->rri->ri_IndexRelationDescs[cache.pkey] = index_open(cache.index_oids[cache.pkey],
														   RowExclusiveLock);
	w->all_indexes = (cmd == CMD_UPDATE && w->rri->ri_TrigDesc != NULL &&
					  w->rri->ri_TrigDesc->trig_update_before_row) ||
		(RelationGetDescr(w->rel)->constr != NULL &&
		 RelationGetDescr(w->rel)->constr->has_generated_stored);
	/* TriggerEnabled() prepares only a WHEN clause it does not find here */
	for (int i = 0; i < cache.ntriggers; i++)
		w->rri->ri_TrigWhenExprs[i] = cache.trigger_when[i];

	AfterTriggerBeginQuery();
	EvalPlanQualInit(&w->epq, estate, NULL, NIL, -1);
	w->row = table_slot_create(w->rel, &estate->es_tupleTable);
	w->change = NULL;
	w->change_set = false;
	w->changed = NULL;
	w->updating = false;
	return true;
}

/*
 * Opens, as ExecOpenIndices() would have, each index the row in slot is to
 * have an entry in and that no earlier row of the write opened: those
 * whose predicate it satisfies (ExecInsertIndexTuples() passes over the
 * others, and over those left closed), or all of them (all_indexes).  An
 * index left closed is not locked either: as in a plan that does not use
 * it, the lock on the table keeps it as it is.
 */
static void
rc_write_open_indexes(RcTaskWrite *w, TupleTableSlot *slot)
{
	ExprContext *econtext = GetPerTupleExprContext(w->estate);

	econtext->ecxt_scantuple = slot;
	for (int i = 0; i < cache.nindexes; i++)
	{
		IndexInfo  *info = cache.index_info[i];

		if (w->rri->ri_IndexRelationDescs[i] != NULL)
			continue;
		if (w->all_indexes || info->ii_PredicateState == NULL ||
			ExecQual(info->ii_PredicateState, econtext))
			w->rri->ri_IndexRelationDescs[i] = index_open(cache.index_oids[i],
														   RowExclusiveLock);
	}
}

/* Finds a task by id through the primary key (rc_write.h) */
bool
rc_write_find(RcTaskWrite *w, int64 id)
{
	Relation	index = w->rri->ri_IndexRelationDescs[cache.pkey];
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;

	/* what the previous row's index entries and checks left */
	ResetPerTupleExprContext(w->estate);
	w->change_set = false;
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	scan = index_beginscan(w->rel, index, w->estate->es_snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, w->row);
	index_endscan(scan);
	return found;
}

/* Reads the row version the caller locked at tid (rc_write.h) */
bool
rc_write_fetch(RcTaskWrite *w, ItemPointer tid)
{
	/* what the previous row's index entries and checks left */
	ResetPerTupleExprContext(w->estate);
	w->change_set = false;
	return table_tuple_fetch_row_version(w->rel, tid, SnapshotAny, w->row);
}

/*
 * What a lock or a write of the row found that did not succeed means, as
 * an UPDATE takes it: a row written by a command this write triggered
 * raises (one this write wrote is left as it is); under REPEATABLE READ or
 * SERIALIZABLE, a row changed or deleted since the snapshot raises a
 * serialization failure; under READ COMMITTED, a row changed meanwhile
 * sets *changed (its last version is to be locked and checked again).
 */
static void
rc_write_failed(RcTaskWrite *w, TM_Result result, const TM_FailureData *tmfd,
				const char *what, bool *changed)
{
	*changed = false;
	switch (result)
	{
		case TM_SelfModified:
			if (tmfd->cmax != w->estate->es_output_cid)
				ereport(ERROR,
						(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
						 errmsg("task row to be updated was already modified by an operation triggered by the current command")));
			break;
		case TM_Updated:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			*changed = true;
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			break;
		default:
			elog(ERROR, "unexpected result %d %s a task row", (int) result, what);
	}
}

/* Locks the row found, as an UPDATE would (rc_write.h) */
bool
rc_write_lock(RcTaskWrite *w, bool *newer)
{
	TM_FailureData tmfd;
	TM_Result	result;
	bool		changed;

	/* under READ COMMITTED, a row changed since is followed, so never TM_Updated */
	result = table_tuple_lock(w->rel, &w->row->tts_tid, w->estate->es_snapshot, w->row,
							  w->estate->es_output_cid, LockTupleNoKeyExclusive,
							  LockWaitBlock,
							  IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd);
	*newer = false;
	if (result == TM_Ok)
	{
		*newer = tmfd.traversed;
		return true;
	}
	rc_write_failed(w, result, &tmfd, "locking", &changed);
	if (changed)
		elog(ERROR, "a task row changed since it was locked under READ COMMITTED");
	return false;
}

/* A column of the row found */
Datum
rc_write_get(RcTaskWrite *w, RcTaskColumn col, bool *isnull)
{
	return slot_getattr(w->row, cache.attnum[col], isnull);
}

/* Sets a column of the new version, a copy of the row until then */
void
rc_write_set(RcTaskWrite *w, RcTaskColumn col, Datum value, bool isnull)
{
	AttrNumber	attnum = cache.attnum[col];

	if (!w->change_set)
	{
		int			natts = RelationGetDescr(w->rel)->natts;

		if (w->change == NULL)
			w->change = table_slot_create(w->rel, &w->estate->es_tupleTable);
		ExecClearTuple(w->change);
		w->change_set = true;
		slot_getallattrs(w->row);
		memcpy(w->change->tts_values, w->row->tts_values, natts * sizeof(Datum));
		memcpy(w->change->tts_isnull, w->row->tts_isnull, natts * sizeof(bool));
	}
	w->change->tts_values[attnum - 1] = value;
	w->change->tts_isnull[attnum - 1] = isnull;
	w->changed = bms_add_member(w->changed, attnum - FirstLowInvalidHeapAttributeNumber);
}

/*
 * What comes before the new version of a row is written: the columns that
 * UPDATE OF triggers test, the before statement triggers at the first row,
 * and the indexes the version goes into
 */
static void
rc_write_update_start(RcTaskWrite *w)
{
	Assert(w->change_set);
	exec_rt_fetch(1, w->estate)->updatedCols = w->changed;
	ExecStoreVirtualTuple(w->change);
	if (!w->updating)
	{
		ExecBSUpdateTriggers(w->estate, w->rri);
		w->updating = true;
	}
	rc_write_open_indexes(w, w->change);
}

/*
 * Writes the new version, firing the row's triggers, and the statement's
 * before triggers at the first row (rc_write.h).  The slot's TID, cleared
 * when it was set, is the new version's once the row is written: a before
 * row trigger that skipped the row leaves it unset.
 */
bool
rc_write_update(RcTaskWrite *w)
{
	rc_write_update_start(w);
	ExecSimpleRelationUpdate(w->rri, w->estate, &w->epq, w->row, w->change);
	w->change_set = false;
	return ItemPointerIsValid(&w->change->tts_tid);
}

/*
 * Writes the new version over the row found, not locked first: what an
 * UPDATE statement does when no other transaction changes the row
 * meanwhile, and what ExecSimpleRelationUpdate() does, but for what
 * happens when one does (rc_write.h).  It saves the lock's WAL record.
 */
bool
rc_write_update_unlocked(RcTaskWrite *w, bool *changed)
{
	Relation	rel = w->rel;
	ItemPointer tid = &w->row->tts_tid;
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	bool		update_indexes;
	TM_Result	result;
	List	   *recheck = NIL;

	*changed = false;
	if (w->rri->ri_TrigDesc != NULL && w->rri->ri_TrigDesc->trig_update_before_row)
	{
		/* its triggers are given the row locked: the caller locks it */
		*changed = true;
		return false;
	}
	rc_write_update_start(w);
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	if (constr != NULL && constr->has_generated_stored)
		ExecComputeStoredGenerated(w->rri, w->estate, w->change, CMD_UPDATE);
	if (constr != NULL)
		ExecConstraints(w->rri, w->change, w->estate);
	result = table_tuple_update(rel, tid, w->change, w->estate->es_output_cid,
								w->estate->es_snapshot, InvalidSnapshot,
								true, &tmfd, &lockmode, &update_indexes);
	w->change_set = false;
	if (result != TM_Ok)
	{
		rc_write_failed(w, result, &tmfd, "updating", changed);
		return false;
	}
	if (w->rri->ri_NumIndices > 0 && update_indexes)
		recheck = ExecInsertIndexTuples(w->rri, w->change, w->estate, true, false,
										NULL, NIL);
	ExecARUpdateTriggers(w->estate, w->rri, NULL, NULL, tid, NULL, w->change,
						 recheck, NULL, false);
	list_free(recheck);
	return true;
}

/* Starts a new row of the columns' defaults (rc_write.h) */
void
rc_write_new_row(RcTaskWrite *w)
{
	ExprContext *econtext = GetPerTupleExprContext(w->estate);
	int			natts = RelationGetDescr(w->rel)->natts;

	w->change = table_slot_create(w->rel, &w->estate->es_tupleTable);
	ExecClearTuple(w->change);
	w->change_set = true;
	for (int a = 0; a < natts; a++)
	{
		w->change->tts_isnull[a] = true;
		if (cache.defaults[a] != NULL)
			w->change->tts_values[a] = ExecEvalExprSwitchContext(cache.defaults[a], econtext,
																 &w->change->tts_isnull[a]);
	}
}

/* Inserts the new row, firing the statement's and the row's triggers */
int64
rc_write_insert(RcTaskWrite *w)
{
	TriggerDesc *trigdesc = w->rri->ri_TrigDesc;
	bool		isnull;
	Datum		id;

	ExecStoreVirtualTuple(w->change);
	ExecBSInsertTriggers(w->estate, w->rri);

	/*
	 * The before row triggers first, here, so that the indexes opened are
	 * those of the row they leave; ExecSimpleRelationInsert() is not to
	 * fire them again (the flag is on the write's own copy of the
	 * descriptor, which an error throws away with the write).
	 */
	if (trigdesc == NULL || !trigdesc->trig_insert_before_row)
	{
		rc_write_open_indexes(w, w->change);
		ExecSimpleRelationInsert(w->rri, w->estate, w->change);
	}
	else if (ExecBRInsertTriggers(w->estate, w->rri, w->change))
	{
		rc_write_open_indexes(w, w->change);
		trigdesc->trig_insert_before_row = false;
		ExecSimpleRelationInsert(w->rri, w->estate, w->change);
		trigdesc->trig_insert_before_row = true;
	}
	ExecASInsertTriggers(w->estate, w->rri, NULL);
	id = slot_getattr(w->change, cache.attnum[RC_TASK_ID], &isnull);
	if (isnull)
		elog(ERROR, "task inserted without an id");
	return DatumGetInt64(id);
}

/*
 * Fires the after statement triggers of an UPDATE that wrote, and the
 * after triggers queued; closes what rc_write_begin() opened
 */
void
rc_write_end(RcTaskWrite *w)
{
	if (w->updating)
		ExecASUpdateTriggers(w->estate, w->rri, NULL);
	EvalPlanQualEnd(&w->epq);
	AfterTriggerEndQuery(w->estate);
	ExecCloseResultRelations(w->estate);
	ExecCloseRangeTableRelations(w->estate);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	if (--write_depth == 0)
		rc_write_free_retired();
}

/* Opens an index the hand-out scans, found by name when the cache was made */
Relation
rc_task_index_open(RcTaskIndex which)
{
	Assert(OidIsValid(cache.task));
	if (!OidIsValid(cache.named_index[which]))
		elog(ERROR, "index role_cluster.%s does not exist", index_names[which]);
	return index_open(cache.named_index[which], AccessShareLock);
}

/*
 * A task state's value, for the table the cache was made for (still right
 * after an invalidation, as rc_task_attnum())
 */
Datum
rc_task_state_value(RcTaskState state)
{
	Assert(OidIsValid(cache.task));
	return cache.state[state];
}

/*
 * The row of key where rc_read_by_key() found it last, into slot: when the
 * version there is the one the active snapshot sees and still has key, it
 * is the row (the primary key lets a snapshot see one row of a key at
 * most).  A row changed since (a heartbeat writes a new version), deleted
 * or moved is not there, and false sends the caller to the index.
 */
static bool
rc_read_hinted(Relation rel, RcKeyedTable *keyed, text *key, TupleTableSlot *slot)
{
	int			len = VARSIZE_ANY_EXHDR(key);
	bool		isnull;
	Datum		d;
	text	   *found;

	if (!keyed->hinted || keyed->hint_len != len ||
		memcmp(keyed->hint_key, VARDATA_ANY(key), len) != 0)
		return false;
	/* a block a vacuum cut off the table cannot be read */
	if (ItemPointerGetBlockNumber(&keyed->hint) >= RelationGetNumberOfBlocks(rel))
		return false;
	if (!table_tuple_fetch_row_version(rel, &keyed->hint, GetActiveSnapshot(), slot))
		return false;
	d = slot_getattr(slot, keyed->key_attnum, &isnull);
	if (isnull)
		return false;
	found = DatumGetTextPP(d);
	return (int) VARSIZE_ANY_EXHDR(found) == len &&
		memcmp(VARDATA_ANY(found), VARDATA_ANY(key), len) == 0;
}

/*
 * Finds the row of a node table by its node id (rc_write.h): where it was
 * found last if it is still there (rc_read_hinted()), else by the primary
 * key, keeping where it was found for the next call.  A node's calls read
 * its own row over and over: the index scan cost 5,000 instructions or
 * more each time.
 */
bool
rc_find_by_key(RcKeyedColumn col, Relation rel, Datum key, TupleTableSlot *slot)
{
	RcKeyedTable *keyed = NULL;
	text	   *k = DatumGetTextPP(key);
	int			len = VARSIZE_ANY_EXHDR(k);
	Relation	index;
	ScanKeyData skey;
	IndexScanDesc scan;
	bool		found;

	/* the hint only where the cache is made for this table */
	if (cache.valid && cache.keyed[col].relid == RelationGetRelid(rel))
	{
		keyed = &cache.keyed[col];
		if (rc_read_hinted(rel, keyed, k, slot))
			return true;
	}
	index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], F_TEXTEQ, key);
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, NoLock);
	if (keyed != NULL)
	{
		keyed->hinted = found && len <= RC_KEY_HINT_LEN;
		if (keyed->hinted)
		{
			keyed->hint = slot->tts_tid;
			keyed->hint_len = len;
			memcpy(keyed->hint_key, VARDATA_ANY(k), len);
		}
	}
	return found;
}

/* Reads one column of a node table's row, during a write (rc_write.h) */
bool
rc_read_by_key(RcKeyedColumn col, Datum key, Datum *value, bool *isnull)
{
	RcKeyedTable *keyed = &cache.keyed[col];
	Relation	rel;
	TupleTableSlot *slot;
	bool		found;

	Assert(write_depth > 0);	/* so the cache holds the tables' OIDs */
	rel = table_open(keyed->relid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	found = rc_find_by_key(col, rel, key, slot);
	if (found)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), keyed->attnum - 1);
		Datum		d = slot_getattr(slot, keyed->attnum, isnull);

		*value = *isnull ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);	/* held, as a statement holds it, to the end */
	return found;
}
