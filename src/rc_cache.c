/*-------------------------------------------------------------------------
 *
 * rc_cache.c
 *	  Role evaluation (role_enables_task and friends) from a per-backend
 *	  cache of role_cluster.cluster_role and role_cluster.network_listener.
 *
 * The cache holds every role (name, task group, listener group) in a hash
 * table and every listener id in a sorted array, in a memory context of its
 * own.  A lookup reads only the cache.
 *
 * Keeping it right takes four pieces:
 *
 * 1. Invalidation.  A statement-level AFTER INSERT/UPDATE/DELETE/TRUNCATE
 *	  trigger on both tables (role_cache_invalidate; a row-level one too,
 *	  for the logical replication apply worker, which fires no statement
 *	  triggers) registers a relcache invalidation of the table.  PostgreSQL
 *	  delivers it to the changing session at the end of the command (and
 *	  again if the change is rolled back) and to every other session once
 *	  the transaction commits; the relcache callback registered by
 *	  rc_cache_init only flips flags.  On the first lookup with a new
 *	  snapshot we call AcceptInvalidationMessages, so a session sees a
 *	  committed change at its next statement even inside a transaction
 *	  block, where nothing else would read the queue.
 *
 * 2. Snapshots.  The cache is built with the caller's snapshot (the active
 *	  snapshot, as any query of the tables would use) and describes the
 *	  tables exactly as that snapshot sees them.  It may be reused by a
 *	  later lookup with another snapshot only if that snapshot sees the same
 *	  thing: a REPEATABLE READ transaction that started before a change must
 *	  keep the old answer, and the next transaction must not inherit a cache
 *	  that such an old snapshot built after the invalidation was consumed.
 *	  The build therefore reads every row version (SnapshotAny), keeps the
 *	  visible ones, and records each inserting and updating/deleting
 *	  transaction together with whether the build snapshot considered it
 *	  running (XidInMVCCSnapshot).  Another snapshot sees the same rows iff
 *	  it agrees on every recorded transaction -- the only way it could see
 *	  a row version differently -- and, for row versions of our own
 *	  transaction, sees the same commands (curcid).  Changes made after the
 *	  build write row versions the build never saw, and those always come
 *	  with an invalidation.  The check costs one XidInMVCCSnapshot per
 *	  recorded transaction (mostly a comparison with xmin) and runs once per
 *	  snapshot: the last snapshot that fitted is remembered.
 *
 * 3. Commit order.  PostgreSQL sends a transaction's invalidations after
 *	  the transaction has left the proc array, so a snapshot taken in between
 *	  would see the commit while our cache does not know of it yet.  The
 *	  trigger therefore also remembers the table, and a pre-commit callback
 *	  sends the invalidation once more, immediately (and logs it for hot
 *	  standbys), before any snapshot can see the commit.
 *
 * 4. Errors.  The build resets the context first and marks the cache valid
 *	  only at the end, so an error half-way leaves an invalid cache that the
 *	  next lookup rebuilds.  A subtransaction that aborts drops a cache that
 *	  holds this transaction's own row versions.
 *
 * 5. SERIALIZABLE.  A lookup reads no table, so the first one of a
 *	  serializable transaction scans both tables with its snapshot, as a
 *	  query would (predicate lock, conflicts out): SSI then sees decisions
 *	  taken on roles.
 *
 * With these, a lookup answers exactly as a query of the tables with the
 * same snapshot would.  The exception is a lookup made by a row trigger of
 * the very statement that changes a table: the invalidation comes from the
 * statement's AFTER trigger, so it may not reflect that statement's rows;
 * the next statement does.  Disabling the triggers (ALTER TABLE ... DISABLE
 * TRIGGER ALL) disables invalidation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "storage/sinval.h"
#include "storage/standby.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "rc_cache.h"
#include "rc_group.h"
#include "rc_util.h"
#include "role_cluster.h"

PG_FUNCTION_INFO_V1(role_enables_task);
PG_FUNCTION_INFO_V1(role_enables_listener);
PG_FUNCTION_INFO_V1(role_tasks);
PG_FUNCTION_INFO_V1(role_listeners);
PG_FUNCTION_INFO_V1(role_exists);
PG_FUNCTION_INFO_V1(node_task_types);
PG_FUNCTION_INFO_V1(role_cache_invalidate);

/* A role name or listener id: bytes in the server encoding */
typedef struct RcName
{
	const char *data;			/* NUL-terminated when owned by the cache */
	int			len;			/* length in bytes, without the NUL */
} RcName;

/* One visible cluster_role row */
typedef struct RcRole
{
	RcName		name;			/* hash key (must be first) */
	TaskGroup	tasks;
	ListenerGroup *listeners;	/* detoasted copy in the cache context */
} RcRole;

/* The two tables as one snapshot sees them, and what that view rests on */
typedef struct RcCache
{
	HTAB	   *roles;			/* RcRole by name */
	int			nlisteners;
	RcName	   *listeners;		/* network_listener ids, sorted bytewise */
	Oid			task_type_oids[RC_NUM_TASK_TYPES];	/* enum value by ordinal */

	/* Transactions that wrote a row version of either table */
	int			nxids;
	TransactionId *xids;		/* sorted, distinct; none of ours */
	bool	   *xid_running;	/* XidInMVCCSnapshot(xid, build snapshot) */

	/* Row versions written by our own transaction, if any */
	bool		has_own;
	LocalTransactionId own_lxid;	/* the transaction that built the cache */
	CommandId	own_max_cid;	/* latest command id of those versions */
	CommandId	built_curcid;	/* curcid of the build snapshot */
} RcCache;

/* The identity of the last snapshot the cache was found to fit */
typedef struct RcSnapshotMemo
{
	bool		valid;
	Snapshot	snap;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	CommandId	curcid;
	LocalTransactionId lxid;
} RcSnapshotMemo;

/* Row versions of a build, before they are copied into the cache */
typedef struct RcXidList
{
	TransactionId *xids;
	int			n;
	int			max;
} RcXidList;

/* What a build does with each visible row of a table */
typedef void (*RcRowFn) (HeapTuple tuple, TupleDesc desc);

static MemoryContext rc_cache_cxt = NULL;
static RcCache rc_cache;
static bool rc_cache_valid = false;
static uint64 rc_cache_inval_count = 0;
static Oid	rc_role_relid = InvalidOid;
static Oid	rc_listener_relid = InvalidOid;

/* the serializable transaction whose reads of our tables are recorded */
static LocalTransactionId rc_ssi_lxid = InvalidLocalTransactionId;
static RcSnapshotMemo rc_memo;

/* State of the build in progress: schema, column numbers, array size */
static Oid	rc_build_nsp;
static int	rc_build_maxlisteners;
static AttrNumber rc_attno_role_name;
static AttrNumber rc_attno_role_tasks;
static AttrNumber rc_attno_role_listeners;
static AttrNumber rc_attno_listener_id;

/*
 * The tables this transaction changed, announced again just before it
 * commits (see rc_xact_callback).
 */
#define RC_MAX_CHANGED 2
static Oid	rc_changed_relids[RC_MAX_CHANGED];
static int	rc_nchanged = 0;

static void rc_relcache_callback(Datum arg, Oid relid);
static void rc_xact_callback(XactEvent event, void *arg);
static void rc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);
static void rc_unknown_role_error(const char *name,
								  int len) pg_attribute_noreturn();

/*
 * Register the relcache and transaction callbacks.  Called once per process
 * from _PG_init: the relcache callback slots are a fixed-size array, so
 * never register lazily.
 */
void
rc_cache_init(void)
{
	CacheRegisterRelcacheCallback(rc_relcache_callback, (Datum) 0);
	RegisterXactCallback(rc_xact_callback, NULL);
	RegisterSubXactCallback(rc_subxact_callback, NULL);
}

/*
 * A subtransaction aborted: a cache that holds row versions of this
 * transaction may hold some that it wrote, now rolled back.  The
 * invalidation that usually undoes them is sent at the end of a statement
 * that wrote our tables; one that failed first sent none, and a cache built
 * in the middle of it would outlive the ROLLBACK TO.  So forget the cache.
 */
static void
rc_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && rc_cache.has_own)
		rc_cache_valid = false;
}

/*
 * A relcache entry was invalidated: if it is one of our tables (or all of
 * them), forget the cache.  Runs while invalidations are processed, so it
 * only flips flags and never touches the catalogs.
 */
static void
rc_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid ||
		relid == rc_role_relid ||
		relid == rc_listener_relid ||
		rc_role_relid == InvalidOid)
	{
		rc_cache_valid = false;
		rc_cache_inval_count++;
	}
}

/*
 * Just before a transaction that changed our tables commits (or prepares),
 * send the invalidation once more, immediately rather than at the end of
 * the commit, and log it for hot standbys.
 *
 * PostgreSQL sends a transaction's invalidations after the transaction has
 * left the proc array, so a snapshot taken in between sees the commit while
 * the invalidation is still on its way.  This early copy is in the queue
 * before any snapshot can see the commit, so the first lookup with such a
 * snapshot (which reads the queue) drops its cache.  Arriving early is
 * harmless: a cache rebuilt before the commit records the committing
 * transaction as running and is rebuilt again for snapshots that see it
 * committed.  The transactional copy still follows, and is what undoes a
 * change locally on rollback.
 */
static void
rc_xact_callback(XactEvent event, void *arg)
{
	SharedInvalidationMessage msgs[RC_MAX_CHANGED];

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (rc_nchanged == 0)
				break;
			memset(msgs, 0, sizeof(msgs));
			for (int i = 0; i < rc_nchanged; i++)
			{
				msgs[i].rc.id = SHAREDINVALRELCACHE_ID;
				msgs[i].rc.dbId = MyDatabaseId;
				msgs[i].rc.relId = rc_changed_relids[i];
			}
			if (XLogStandbyInfoActive())
				LogStandbyInvalidations(rc_nchanged, msgs, false);
			SendSharedInvalidMessages(msgs, rc_nchanged);
			rc_nchanged = 0;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			rc_nchanged = 0;
			break;
		default:
			break;
	}
}

/* ---------------------------------------------------------------------
 * Hash table of roles, keyed by (bytes, length)
 * ---------------------------------------------------------------------
 */

/*
 * Hash of a name key.
 */
static uint32
rc_name_hash(const void *key, Size keysize)
{
	const RcName *name = (const RcName *) key;

	return hash_bytes((const unsigned char *) name->data, name->len);
}

/*
 * Compare two name keys: 0 when equal, as dynahash wants.
 */
static int
rc_name_match(const void *key1, const void *key2, Size keysize)
{
	const RcName *a = (const RcName *) key1;
	const RcName *b = (const RcName *) key2;

	if (a->len != b->len)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

/*
 * Order two names bytewise (the order of strcmp, which listener groups
 * use), for qsort and bsearch.
 */
static int
rc_name_cmp(const void *p1, const void *p2)
{
	const RcName *a = (const RcName *) p1;
	const RcName *b = (const RcName *) p2;
	int			c = memcmp(a->data, b->data, Min(a->len, b->len));

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/*
 * Order transaction ids numerically (only to find duplicates).
 */
static int
rc_xid_cmp(const void *p1, const void *p2)
{
	TransactionId a = *(const TransactionId *) p1;
	TransactionId b = *(const TransactionId *) p2;

	return (a > b) - (a < b);
}

/*
 * Copy bytes into the cache context as a NUL-terminated name.
 */
static RcName
rc_name_copy(const char *data, int len)
{
	RcName		name;
	char	   *copy = MemoryContextAlloc(rc_cache_cxt, len + 1);

	memcpy(copy, data, len);
	copy[len] = '\0';
	name.data = copy;
	name.len = len;
	return name;
}

/* ---------------------------------------------------------------------
 * Building the cache
 * ---------------------------------------------------------------------
 */

/*
 * Remember that transaction xid wrote a row version the build read.  Our
 * own transaction's versions are told apart by command id instead.
 */
static void
rc_note_xid(RcXidList *list, TransactionId xid, HeapTupleHeader htup,
			bool inserted)
{
	if (!TransactionIdIsNormal(xid))
		return;

	if (TransactionIdIsCurrentTransactionId(xid))
	{
		CommandId	cid = inserted ? HeapTupleHeaderGetCmin(htup) :
			HeapTupleHeaderGetCmax(htup);

		if (!rc_cache.has_own || cid > rc_cache.own_max_cid)
			rc_cache.own_max_cid = cid;
		rc_cache.has_own = true;
		return;
	}

	if (list->n > 0 && list->xids[list->n - 1] == xid)
		return;
	if (list->n == list->max)
	{
		list->max *= 2;
		list->xids = repalloc(list->xids, list->max * sizeof(TransactionId));
	}
	list->xids[list->n++] = xid;
}

/*
 * Remember the transactions that decide whether a row version is visible:
 * the inserter and, unless the row is only locked, the updater or deleter.
 * The caller holds a share lock on the buffer.
 */
static void
rc_note_row_version(RcXidList *list, HeapTupleHeader htup)
{
	if (!HeapTupleHeaderXminInvalid(htup))
		rc_note_xid(list, HeapTupleHeaderGetXmin(htup), htup, true);

	if (!(htup->t_infomask & HEAP_XMAX_INVALID) &&
		!HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask))
		rc_note_xid(list, HeapTupleHeaderGetUpdateXid(htup), htup, false);
}

/*
 * Read every row version of a table, pass those that snap sees to fn, and
 * note the transactions of all of them.
 */
static void
rc_scan_table(Oid relid, Snapshot snap, RcXidList *xids,
			  void (*setup) (Relation rel), RcRowFn fn)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;

	rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		elog(ERROR, "relation \"%s\" is not a heap table", RelationGetRelationName(rel));
	setup(rel);

	scan = table_beginscan(rel, SnapshotAny, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Buffer		buffer = ((HeapScanDesc) scan)->rs_cbuf;
		bool		visible;

		LockBuffer(buffer, BUFFER_LOCK_SHARE);
		visible = HeapTupleSatisfiesVisibility(tuple, snap, buffer);
		rc_note_row_version(xids, tuple->t_data);
		LockBuffer(buffer, BUFFER_LOCK_UNLOCK);

		if (visible)
			fn(tuple, RelationGetDescr(rel));
	}
	table_endscan(scan);

	/* the copy is in memory; invalidation, not the lock, keeps it right */
	table_close(rel, AccessShareLock);
}

/*
 * Column number of a column of our tables, checking its type.
 */
static AttrNumber
rc_column(Relation rel, const char *name, Oid typid)
{
	AttrNumber	attnum = rc_column_attnum(rel, name);
	Oid			atttypid = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid;

	if (atttypid != typid)
		elog(ERROR, "column \"%s\" of relation \"%s\" has type %s, not %s",
			 name, RelationGetRelationName(rel),
			 format_type_be(atttypid), format_type_be(typid));
	return attnum;
}

/*
 * OID of a type of the role_cluster schema.
 */
static Oid
rc_type_oid(Oid nsp, const char *name)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(name),
										ObjectIdGetDatum(nsp));

	if (!OidIsValid(typid))
		elog(ERROR, "type role_cluster.%s does not exist", name);
	return typid;
}

/*
 * Find the columns of network_listener.
 */
static void
rc_listener_setup(Relation rel)
{
	rc_attno_listener_id = rc_column(rel, "id", TEXTOID);
}

/*
 * Find the columns of cluster_role.
 */
static void
rc_role_setup(Relation rel)
{
	rc_attno_role_name = rc_column(rel, "name", TEXTOID);
	rc_attno_role_tasks = rc_column(rel, "tasks",
									rc_type_oid(rc_build_nsp, "task_group"));
	rc_attno_role_listeners = rc_column(rel, "listeners",
										rc_type_oid(rc_build_nsp, "listener_group"));
}

/*
 * Add one visible network_listener row to the cache.
 */
static void
rc_add_listener(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, rc_attno_listener_id, desc, &isnull);
	text	   *id;

	if (isnull)
		elog(ERROR, "network_listener row with a NULL id");
	id = DatumGetTextPP(d);

	if (rc_cache.nlisteners == rc_build_maxlisteners)
	{
		rc_build_maxlisteners *= 2;
		rc_cache.listeners = repalloc(rc_cache.listeners,
									  rc_build_maxlisteners * sizeof(RcName));
	}
	rc_cache.listeners[rc_cache.nlisteners++] =
		rc_name_copy(VARDATA_ANY(id), VARSIZE_ANY_EXHDR(id));
	if ((Pointer) id != DatumGetPointer(d))
		pfree(id);
}

/*
 * Add one visible cluster_role row to the cache.
 */
static void
rc_add_role(HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d;
	text	   *name;
	RcName		key;
	RcRole	   *role;
	bool		found;
	MemoryContext oldcxt;

	d = heap_getattr(tuple, rc_attno_role_name, desc, &isnull);
	if (isnull)
		elog(ERROR, "cluster_role row with a NULL name");
	name = DatumGetTextPP(d);
	key = rc_name_copy(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
	if ((Pointer) name != DatumGetPointer(d))
		pfree(name);

	role = (RcRole *) hash_search(rc_cache.roles, &key, HASH_ENTER, &found);
	if (found)
		elog(ERROR, "cluster_role has two visible rows named \"%s\"", key.data);

	d = heap_getattr(tuple, rc_attno_role_tasks, desc, &isnull);
	if (isnull)
		elog(ERROR, "cluster_role row \"%s\" has NULL tasks", key.data);
	role->tasks = DatumGetTaskGroup(d);

	d = heap_getattr(tuple, rc_attno_role_listeners, desc, &isnull);
	if (isnull)
		elog(ERROR, "cluster_role row \"%s\" has NULL listeners", key.data);
	oldcxt = MemoryContextSwitchTo(rc_cache_cxt);
	role->listeners = (ListenerGroup *) PG_DETOAST_DATUM_COPY(d);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Rebuild the cache from the tables as snap sees them.
 */
static void
rc_cache_build(Snapshot snap)
{
	Oid			nsp;
	uint64		inval_before;
	RcXidList	xids;
	HASHCTL		ctl;
	int			n;

	if (snap->snapshot_type != SNAPSHOT_MVCC)
		elog(ERROR, "role cache needs an MVCC snapshot");

	if (rc_cache_cxt == NULL)
	{
		if (CacheMemoryContext == NULL)
			CreateCacheMemoryContext();
		rc_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
											 "role_cluster role cache",
											 ALLOCSET_SMALL_SIZES);
	}
	rc_cache_valid = false;
	rc_memo.valid = false;
	MemoryContextReset(rc_cache_cxt);
	memset(&rc_cache, 0, sizeof(rc_cache));

	/* the tables, looked up afresh: the extension may have been recreated */
	nsp = get_namespace_oid("role_cluster", true);
	rc_role_relid = InvalidOid;
	rc_listener_relid = InvalidOid;
	if (OidIsValid(nsp))
	{
		rc_role_relid = get_relname_relid("cluster_role", nsp);
		rc_listener_relid = get_relname_relid("network_listener", nsp);
	}
	if ((!OidIsValid(rc_role_relid) || !OidIsValid(rc_listener_relid)) &&
		OidIsValid(get_extension_oid("role_cluster", true)))
	{
		/* installed, but renamed behind its back: say what is missing */
		if (!OidIsValid(nsp))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema \"role_cluster\" of extension \"role_cluster\" does not exist"),
					 errhint("Rename the extension's schema back to role_cluster.")));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"role_cluster.%s\" of extension \"role_cluster\" does not exist",
						OidIsValid(rc_role_relid) ? "network_listener" : "cluster_role"),
				 errhint("Rename the table back.")));
	}
	if (!OidIsValid(rc_role_relid) || !OidIsValid(rc_listener_relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"role_cluster\" is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION role_cluster in this database.")));
	rc_build_nsp = nsp;

	/*
	 * From here on the callback counts invalidations of these two tables.
	 * One consumed before this point concerns a change whose row versions
	 * the scan below reads (and records); one consumed during the build may
	 * concern a version written after the scan passed, so the cache is then
	 * used for this lookup only.
	 */
	inval_before = rc_cache_inval_count;

	/* rc_type.c's map, which says what to do when the enum does not match */
	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		rc_cache.task_type_oids[i] = rc_task_type_oid(i);

	xids.max = 64;
	xids.n = 0;
	xids.xids = palloc(xids.max * sizeof(TransactionId));

	rc_build_maxlisteners = 16;
	rc_cache.listeners = MemoryContextAlloc(rc_cache_cxt,
											rc_build_maxlisteners * sizeof(RcName));
	rc_scan_table(rc_listener_relid, snap, &xids, rc_listener_setup, rc_add_listener);
	qsort(rc_cache.listeners, rc_cache.nlisteners, sizeof(RcName), rc_name_cmp);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RcName);
	ctl.entrysize = sizeof(RcRole);
	ctl.hash = rc_name_hash;
	ctl.match = rc_name_match;
	ctl.hcxt = rc_cache_cxt;
	rc_cache.roles = hash_create("role_cluster roles", 64, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	rc_scan_table(rc_role_relid, snap, &xids, rc_role_setup, rc_add_role);

	/* the transactions the view rests on, and how the snapshot sees them */
	qsort(xids.xids, xids.n, sizeof(TransactionId), rc_xid_cmp);
	n = 0;
	for (int i = 0; i < xids.n; i++)
		if (n == 0 || xids.xids[n - 1] != xids.xids[i])
			xids.xids[n++] = xids.xids[i];
	rc_cache.nxids = n;
	rc_cache.xids = MemoryContextAlloc(rc_cache_cxt, Max(n, 1) * sizeof(TransactionId));
	rc_cache.xid_running = MemoryContextAlloc(rc_cache_cxt, Max(n, 1) * sizeof(bool));
	for (int i = 0; i < n; i++)
	{
		rc_cache.xids[i] = xids.xids[i];
		rc_cache.xid_running[i] = XidInMVCCSnapshot(xids.xids[i], snap);
	}
	pfree(xids.xids);

	rc_cache.own_lxid = MyProc->lxid;
	rc_cache.built_curcid = snap->curcid;

	rc_cache_valid = (inval_before == rc_cache_inval_count);
}

/*
 * Does snap see both tables exactly as the snapshot the cache was built
 * with?  See the file header.
 */
static bool
rc_cache_fits(Snapshot snap)
{
	if (rc_cache.has_own)
	{
		if (rc_cache.own_lxid != MyProc->lxid)
			return false;
		/* both see all our versions, or both stop at the same command */
		if (snap->curcid != rc_cache.built_curcid &&
			(snap->curcid <= rc_cache.own_max_cid ||
			 rc_cache.built_curcid <= rc_cache.own_max_cid))
			return false;
	}

	for (int i = 0; i < rc_cache.nxids; i++)
		if (XidInMVCCSnapshot(rc_cache.xids[i], snap) != rc_cache.xid_running[i])
			return false;
	return true;
}

/*
 * Is snap the snapshot the cache last fitted?  Snapshots of one server
 * with the same xmax and the same number of running transactions below it
 * have the same set of them (none can start below xmax), so these fields
 * identify the view even when the address is reused.
 */
static inline bool
rc_memo_matches(Snapshot snap)
{
	return rc_memo.valid &&
		rc_memo.snap == snap &&
		rc_memo.xmin == snap->xmin &&
		rc_memo.xmax == snap->xmax &&
		rc_memo.xcnt == snap->xcnt &&
		rc_memo.subxcnt == snap->subxcnt &&
		rc_memo.suboverflowed == snap->suboverflowed &&
		rc_memo.curcid == snap->curcid &&
		rc_memo.lxid == MyProc->lxid;
}

/*
 * Remember snap as fitting the cache.
 */
static void
rc_memo_remember(Snapshot snap)
{
	rc_memo.snap = snap;
	rc_memo.xmin = snap->xmin;
	rc_memo.xmax = snap->xmax;
	rc_memo.xcnt = snap->xcnt;
	rc_memo.subxcnt = snap->subxcnt;
	rc_memo.suboverflowed = snap->suboverflowed;
	rc_memo.curcid = snap->curcid;
	rc_memo.lxid = MyProc->lxid;
	rc_memo.valid = true;
}

/*
 * In a SERIALIZABLE transaction, read both tables once with the snapshot, as
 * a query would: a lookup answers from the cache and reads no table, so
 * without this SSI would not see a decision taken on a role (write skew
 * with a transaction that changes it).  The scan takes the relation's
 * predicate lock, for writes to come, and reports a conflict out for each
 * row version whose writer the snapshot does not see, for writes made
 * before (whether or not the cache was built after them).  The tables are
 * small; once per transaction, as its snapshot does not change.
 */
static void
rc_cache_note_serializable_read(Snapshot snap)
{
	Oid			relids[2];

	if (!IsolationIsSerializable() || rc_ssi_lxid == MyProc->lxid)
		return;
	relids[0] = rc_role_relid;
	relids[1] = rc_listener_relid;
	for (int i = 0; i < (int) lengthof(relids); i++)
	{
		Relation	rel;
		TableScanDesc scan;

		if (!OidIsValid(relids[i]))
			continue;
		rel = table_open(relids[i], AccessShareLock);
		scan = table_beginscan(rel, snap, 0, NULL);
		while (heap_getnext(scan, ForwardScanDirection) != NULL)
			;
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	rc_ssi_lxid = MyProc->lxid;
}

/*
 * The cache, right for the active snapshot (or, in C callers that have
 * none, the transaction snapshot).
 */
static RcCache *
rc_cache_get(void)
{
	Snapshot	snap;
	bool		pushed = false;

	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	snap = GetActiveSnapshot();

	if (unlikely(!rc_cache_valid || !rc_memo_matches(snap)))
	{
		/* a new snapshot: read the invalidations that arrived meanwhile */
		AcceptInvalidationMessages();
		if (!rc_cache_valid || !rc_cache_fits(snap))
			rc_cache_build(snap);
		rc_memo_remember(snap);
	}
	rc_cache_note_serializable_read(snap);

	if (pushed)
		PopActiveSnapshot();
	return &rc_cache;
}

/* ---------------------------------------------------------------------
 * Lookups
 * ---------------------------------------------------------------------
 */

/*
 * Report a role name that no cluster_role row carries.
 */
static void
rc_unknown_role_error(const char *name, int len)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("cluster role \"%s\" does not exist", pnstrdup(name, len)),
			 errhint("Roles are the rows of role_cluster.cluster_role; "
					 "set role_cluster.unknown_role to 'enable_all' to let an unknown role enable everything.")));
}

/*
 * The groups that apply to a role name: its row's, or EnableAll for no
 * role (NULL name) and, when so configured, for an unknown one.  A NULL
 * *listeners means EnableAll.
 */
static void
rc_resolve_role(RcCache *cache, const char *name, int len,
				TaskGroup *tasks, const ListenerGroup **listeners)
{
	RcName		key;
	RcRole	   *role;

	*tasks = TASK_GROUP_MAKE(RC_ENABLE_ALL, 0);
	*listeners = NULL;
	if (name == NULL)
		return;

	key.data = name;
	key.len = len;
	role = (RcRole *) hash_search(cache->roles, &key, HASH_FIND, NULL);
	if (role != NULL)
	{
		*tasks = role->tasks;
		*listeners = role->listeners;
	}
	else if (rc_unknown_role != RC_UNKNOWN_ROLE_ENABLE_ALL)
		rc_unknown_role_error(name, len);
}

/*
 * The cache's copy of a listener id, or raise 42704 if network_listener
 * has no such row.
 */
static const char *
rc_find_listener(RcCache *cache, const char *id, int len)
{
	RcName		key;
	RcName	   *found;

	key.data = id;
	key.len = len;
	found = bsearch(&key, cache->listeners, cache->nlisteners, sizeof(RcName),
					rc_name_cmp);
	if (found == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("network listener \"%s\" does not exist", pnstrdup(id, len)),
				 errhint("Listeners are the rows of role_cluster.network_listener.")));
	return found->data;
}

/*
 * C interface: is there a role with this name?
 */
bool
rc_role_exists(const char *name, int namelen)
{
	RcCache    *cache = rc_cache_get();
	RcName		key;

	key.data = name;
	key.len = namelen;
	return hash_search(cache->roles, &key, HASH_FIND, NULL) != NULL;
}

/*
 * C interface: does the role (NULL: none) enable the task type of this
 * ordinal?
 */
bool
rc_role_enables_task(const char *name, int namelen, int ordinal)
{
	TaskGroup	tasks;
	const ListenerGroup *listeners;

	if (name == NULL)
		return true;
	rc_resolve_role(rc_cache_get(), name, namelen, &tasks, &listeners);
	return task_group_enables(tasks, ordinal);
}

/*
 * C interface: does the role (NULL: none) enable the listener?
 */
bool
rc_role_enables_listener(const char *name, int namelen,
						 const char *listener, int listenerlen)
{
	RcCache    *cache = rc_cache_get();
	const char *id = rc_find_listener(cache, listener, listenerlen);
	TaskGroup	tasks;
	const ListenerGroup *listeners;

	rc_resolve_role(cache, name, namelen, &tasks, &listeners);
	return listeners == NULL || listener_group_enables(listeners, id);
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

/*
 * role_cluster.role_enables_task(role text, task task_type) returns bool
 *
 * Not strict: a NULL role enables everything; a NULL task gives NULL.
 */
Datum
role_enables_task(PG_FUNCTION_ARGS)
{
	int			ordinal;
	text	   *role;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ordinal = rc_task_type_ordinal(PG_GETARG_OID(1));
	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(true);

	role = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BOOL(rc_role_enables_task(VARDATA_ANY(role),
										VARSIZE_ANY_EXHDR(role), ordinal));
}

/*
 * role_cluster.role_enables_listener(role text, listener text) returns bool
 */
Datum
role_enables_listener(PG_FUNCTION_ARGS)
{
	text	   *role;
	text	   *listener;

	if (PG_ARGISNULL(1))
		PG_RETURN_NULL();
	listener = PG_GETARG_TEXT_PP(1);
	role = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(rc_role_enables_listener(role ? VARDATA_ANY(role) : NULL,
											role ? VARSIZE_ANY_EXHDR(role) : 0,
											VARDATA_ANY(listener),
											VARSIZE_ANY_EXHDR(listener)));
}

/*
 * role_cluster.role_exists(role text) returns bool
 */
Datum
role_exists(PG_FUNCTION_ARGS)
{
	text	   *role;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	role = PG_GETARG_TEXT_PP(0);
	PG_RETURN_BOOL(rc_role_exists(VARDATA_ANY(role), VARSIZE_ANY_EXHDR(role)));
}

/*
 * role_cluster.role_tasks(role text) returns setof task_type, in the
 * enum's order.
 */
Datum
role_tasks(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RcCache    *cache = rc_cache_get();
	TaskGroup	tasks;
	const ListenerGroup *listeners;
	text	   *role = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Oid			oids[RC_NUM_TASK_TYPES];

	rc_resolve_role(cache, role ? VARDATA_ANY(role) : NULL,
					role ? VARSIZE_ANY_EXHDR(role) : 0, &tasks, &listeners);
	/* copy out: the cache may be rebuilt before the rows are stored */
	memcpy(oids, cache->task_type_oids, sizeof(oids));

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
	{
		Datum		value = ObjectIdGetDatum(oids[i]);
		bool		isnull = false;

		if (task_group_enables(tasks, i))
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

/*
 * role_cluster.node_task_types(role text, strict boolean) returns
 * task_type[]: the types a node's role enables, in the enum's order, as
 * role_tasks() gives them.  With strict, an unknown role raises as the
 * evaluation does; without, it enables nothing (unless unknown_role is
 * enable_all), so that one node whose role was deleted cannot stop
 * dispatch for the others.  An array, so that the queue's functions get it
 * in one expression rather than a query.
 */
Datum
node_task_types(PG_FUNCTION_ARGS)
{
	RcCache    *cache = rc_cache_get();
	TaskGroup	tasks;
	const ListenerGroup *listeners;
	text	   *role = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	bool		strict = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	Datum		elems[RC_NUM_TASK_TYPES];
	int			n = 0;
	Oid			elemtype;
	RcName		key;

	if (role != NULL)
	{
		key.data = VARDATA_ANY(role);
		key.len = VARSIZE_ANY_EXHDR(role);
	}
	if (role != NULL && !strict &&
		rc_unknown_role != RC_UNKNOWN_ROLE_ENABLE_ALL &&
		hash_search(cache->roles, &key, HASH_FIND, NULL) == NULL)
		tasks = TASK_GROUP_MAKE(RC_DISABLE_ALL, 0);
	else
		rc_resolve_role(cache, role ? VARDATA_ANY(role) : NULL,
						role ? VARSIZE_ANY_EXHDR(role) : 0, &tasks, &listeners);

	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		if (task_group_enables(tasks, i))
			elems[n++] = ObjectIdGetDatum(cache->task_type_oids[i]);

	elemtype = get_element_type(get_fn_expr_rettype(fcinfo->flinfo));
	if (!OidIsValid(elemtype))
		elemtype = rc_type_oid(get_namespace_oid("role_cluster", false), "task_type");
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, elemtype, sizeof(Oid),
										  true, TYPALIGN_INT));
}

/*
 * role_cluster.role_listeners(role text) returns setof text: the ids of
 * network_listener that the role enables, in byte order.
 */
Datum
role_listeners(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RcCache    *cache = rc_cache_get();
	TaskGroup	tasks;
	const ListenerGroup *listeners;
	text	   *role = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	List	   *ids = NIL;
	ListCell   *lc;

	rc_resolve_role(cache, role ? VARDATA_ANY(role) : NULL,
					role ? VARSIZE_ANY_EXHDR(role) : 0, &tasks, &listeners);
	for (int i = 0; i < cache->nlisteners; i++)
	{
		RcName	   *id = &cache->listeners[i];

		if (listeners == NULL || listener_group_enables(listeners, id->data))
			ids = lappend(ids, cstring_to_text_with_len(id->data, id->len));
	}

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	foreach(lc, ids)
	{
		Datum		value = PointerGetDatum(lfirst(lc));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

/*
 * Trigger role_cluster.role_cache_invalidate(): AFTER INSERT/UPDATE/DELETE/
 * TRUNCATE on cluster_role and network_listener, statement-level, and
 * row-level for the logical replication apply worker, which fires no
 * statement triggers.  Registers a relcache invalidation of the table,
 * which every session's callback turns into "rebuild the role cache" once
 * it is delivered (here at the end of the command, elsewhere at commit).
 */
Datum
role_cache_invalidate(PG_FUNCTION_ARGS)
{
	static const char *const tables[] = {"cluster_role", "network_listener", NULL};
	TriggerData *trigdata = rc_trigger_data(fcinfo, "role_cache_invalidate");
	Oid			relid;
	int			i;

	rc_trigger_require_fired(TRIGGER_FIRED_AFTER(trigdata->tg_event),
							 "role_cache_invalidate", "AFTER");
	rc_trigger_require_table(trigdata, "role_cache_invalidate", tables,
							 "role_cluster.cluster_role and role_cluster.network_listener");

	relid = RelationGetRelid(trigdata->tg_relation);
	CacheInvalidateRelcacheByRelid(relid);

	/* to be announced again just before commit: see rc_xact_callback */
	for (i = 0; i < rc_nchanged; i++)
		if (rc_changed_relids[i] == relid)
			break;
	if (i == rc_nchanged && rc_nchanged < RC_MAX_CHANGED)
		rc_changed_relids[rc_nchanged++] = relid;

	/*
	 * The invalidation reaches this session at the end of the command; a
	 * lookup from a later trigger of the same statement should not wait.
	 */
	rc_cache_valid = false;
	rc_cache_inval_count++;

	return PointerGetDatum(NULL);
}
