/*-------------------------------------------------------------------------
 *
 * rc_task.c
 *	  Derived columns of role_cluster.task: the singleton flag that
 *	  task_policy gives its type, and the push shard of a pushNotifications
 *	  task.
 *
 * Every enqueue needs both, so they are read here straight from the two
 * small tables (a handful of rows, one page each), at a fraction of the
 * cost of planning and starting a query.  The BEFORE INSERT trigger
 * task_derive() fills them in when an INSERT leaves them out; when it
 * gives them, as enqueue() does, the trigger returns the row untouched
 * after looking at three columns.
 *
 * A change of a type's policy or of push_shards_total carries itself to
 * the unfinished tasks (the triggers of task_policy and cluster_settings),
 * but only to those it can see.  So the two meet at a gate, an advisory
 * lock (RC_CONFIG_GATE, key; its tag out of reach of SQL's advisory lock
 * functions, see rc_task.h): the change takes it exclusively before it
 * updates the tasks, a derivation for a new task takes it shared and then
 * reads the latest committed value, not the statement's snapshot.  A task
 * derived before the change makes the change wait until it is committed,
 * and is then updated by it; one derived during the change waits for its
 * commit and takes the new value.  The key is the type's ordinal for its
 * policy, RC_GATE_PUSH_SHARDS for push_shards_total.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "rc_group.h"
#include "rc_shard.h"
#include "rc_shmem.h"
#include "rc_task.h"
#include "rc_util.h"

PG_FUNCTION_INFO_V1(rc_task_singleton);
PG_FUNCTION_INFO_V1(rc_task_push_shard);
PG_FUNCTION_INFO_V1(rc_push_shards_total_sql);
PG_FUNCTION_INFO_V1(rc_task_derive);
PG_FUNCTION_INFO_V1(rc_count_as_last_committed);
PG_FUNCTION_INFO_V1(rc_gate_lock);

StaticAssertDecl(RC_GATE_PUSH_SHARDS >= RC_NUM_TASK_TYPES,
				 "the gate of push_shards_total is no task type's");
StaticAssertDecl(RC_NUM_GATE_KEYS == RC_GATE_PUSH_SHARDS + 1,
				 "rc_shmem.h counts the changes of every gate");

/*
 * What this backend last read behind each configuration gate, by key, plus
 * one: a type's singleton flag (0 or 1), the shard total; 0 when unknown.
 * While the transaction holds a gate shared, no other transaction can
 * change what it guards (a change takes it exclusively), so the value read
 * after taking it holds until the gate is let go: at the end of the
 * transaction, or of the subtransaction that took it, if that aborts.
 * When the gate is taken anew, an entry still holds if no transaction took
 * the gate exclusively meanwhile: each one that does counts itself in
 * shared memory (rc_shared->gate_changes) while it holds it, so before the
 * change it makes can commit, and the count read after taking the gate
 * shared is the one noted with the entry (rc_gated_change).  Without the
 * shared count (role_cluster not preloaded) an entry is dropped whenever
 * the gate is taken anew.  An entry is not used while this transaction
 * holds the gate exclusively: it is making that change itself.  Every task
 * inserted reads its type's entry, and a push task the total's.  Any
 * relcache invalidation drops them all too: the tables they come from may
 * have been dropped and made again (DROP and CREATE EXTENSION in one
 * transaction, whose gates stay held).
 */
static int32 rc_gated_value[RC_GATE_PUSH_SHARDS + 1];

/* The count of exclusive takings of each gate its entry above was read at */
static uint64 rc_gated_change[RC_GATE_PUSH_SHARDS + 1];

/* Relcache invalidation callback: forget every value read behind a gate */
static void
rc_gated_values_forget(Datum arg, Oid relid)
{
	memset(rc_gated_value, 0, sizeof(rc_gated_value));
}

/*
 * Registers the callback that keeps rc_gated_value honest.  Called once
 * per process from _PG_init (the callback slots are a fixed-size array).
 */
void
rc_task_init(void)
{
	CacheRegisterRelcacheCallback(rc_gated_values_forget, (Datum) 0);
}

/* The advisory lock tag of a gate (RC_SINGLETON_GATE, RC_CONFIG_GATE) */
static void
rc_gate_tag(LOCKTAG *tag, uint32 gate, int32 key)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, gate, (uint32) key, RC_GATE_TAG_FIELD4);
}

/*
 * Takes the configuration gate with the given key shared, until the
 * transaction ends (see the top of this file).
 */
void
rc_config_gate_shared(int32 key)
{
	LOCKTAG		tag;

	rc_gate_tag(&tag, RC_CONFIG_GATE, key);
	if (LockAcquire(&tag, ShareLock, false, false) == LOCKACQUIRE_OK)
	{
		/* not held until now: read it again, unless no change came since */
		uint64		changes = rc_shared ? pg_atomic_read_u64(&rc_shared->gate_changes[key]) : 0;

		if (rc_shared == NULL || changes != rc_gated_change[key])
			rc_gated_value[key] = 0;
		rc_gated_change[key] = changes;
	}
}

/*
 * The value read behind the gate with the given key, after taking it
 * shared, or -1 when it must be read (again).
 */
static int32
rc_gated_value_known(int32 key)
{
	LOCKTAG		tag;

	rc_config_gate_shared(key);
	rc_gate_tag(&tag, RC_CONFIG_GATE, key);
	if (LockHeldByMe(&tag, ExclusiveLock))
		return -1;
	return rc_gated_value[key] - 1;
}

/* Remembers the value read behind the gate with the given key */
static void
rc_gated_value_note(int32 key, int32 value)
{
	LOCKTAG		tag;

	rc_gate_tag(&tag, RC_CONFIG_GATE, key);
	if (!LockHeldByMe(&tag, ExclusiveLock))
		rc_gated_value[key] = value + 1;
}

/*
 * role_cluster.gate_lock(gate text, key integer, wait boolean) → boolean
 *
 * Takes one of the queue's gates exclusively until the transaction ends:
 * 'singleton' (the hand-out of a singleton type; key its ordinal) or
 * 'config' (a change of a type's policy, key its ordinal, or of
 * push_shards_total, key RC_GATE_PUSH_SHARDS).  Waits for it; or, with
 * wait false, returns false at once when another transaction holds it.
 * Not for PUBLIC: whoever can take a gate can stall the queue.
 */
Datum
rc_gate_lock(PG_FUNCTION_ARGS)
{
	char	   *gate = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32		key = PG_GETARG_INT32(1);
	bool		wait = PG_GETARG_BOOL(2);
	uint32		gate_id;
	LOCKTAG		tag;

	if (strcmp(gate, "singleton") == 0)
		gate_id = RC_SINGLETON_GATE;
	else if (strcmp(gate, "config") == 0)
		gate_id = RC_CONFIG_GATE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown gate \"%s\"", gate),
				 errhint("The gates are \"singleton\" and \"config\".")));
	if (key < 0 || key > RC_GATE_PUSH_SHARDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("gate key %d is out of range", key),
				 errdetail("A key is a task type's ordinal, 0 to %d, or %d for push_shards_total.",
						   RC_NUM_TASK_TYPES - 1, RC_GATE_PUSH_SHARDS)));
	rc_gate_tag(&tag, gate_id, key);
	if (LockAcquire(&tag, ExclusiveLock, false, !wait) == LOCKACQUIRE_NOT_AVAIL)
		PG_RETURN_BOOL(false);
	/* what other backends read behind the gate is to be read again */
	if (gate_id == RC_CONFIG_GATE && rc_shared != NULL)
		pg_atomic_fetch_add_u64(&rc_shared->gate_changes[key], 1);
	PG_RETURN_BOOL(true);
}

/*
 * Opens a table of the role_cluster schema for reading.
 */
static Relation
rc_open_config_table(const char *name)
{
	Oid			nsp = get_namespace_oid("role_cluster", false);
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "relation role_cluster.%s does not exist", name);
	return table_open(relid, AccessShareLock);
}

/*
 * The snapshot a subquery of the current statement would read with.
 */
static Snapshot
rc_statement_snapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
}

/*
 * task_policy.singleton of a task type, for a task being derived: behind
 * the type's gate, as last committed; false when the type has no row.
 */
bool
rc_task_type_singleton(Oid task_type)
{
	int			ordinal = rc_task_type_ordinal(task_type);
	int32		known = rc_gated_value_known(ordinal);
	Relation	rel;
	AttrNumber	type_att;
	AttrNumber	single_att;
	TableScanDesc scan;
	HeapTuple	tuple;
	bool		singleton = false;
	Snapshot	snapshot;

	if (known >= 0)
		return known == 1;
	rel = rc_open_config_table("task_policy");
	type_att = rc_column_attnum(rel, "task_type");
	single_att = rc_column_attnum(rel, "singleton");
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, type_att, RelationGetDescr(rel), &isnull);

		/* enum values are OIDs: equal values are equal OIDs */
		if (isnull || DatumGetObjectId(d) != task_type)
			continue;
		d = heap_getattr(tuple, single_att, RelationGetDescr(rel), &isnull);
		singleton = !isnull && DatumGetBool(d);
		break;
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	rc_gated_value_note(ordinal, singleton ? 1 : 0);
	return singleton;
}

/*
 * cluster_settings.push_shards_total: as the statement's snapshot sees it,
 * or, for_new_task, behind its gate, as last committed.
 */
int32
rc_push_shards_total(bool for_new_task)
{
	Relation	rel;
	AttrNumber	total_att;
	TableScanDesc scan;
	HeapTuple	tuple;
	int32		total = 0;
	Snapshot	snapshot;

	if (for_new_task)
	{
		int32		known = rc_gated_value_known(RC_GATE_PUSH_SHARDS);

		if (known > 0)
			return known;
	}
	rel = rc_open_config_table("cluster_settings");
	total_att = rc_column_attnum(rel, "push_shards_total");
	snapshot = RegisterSnapshot(for_new_task ? GetLatestSnapshot() : rc_statement_snapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	tuple = heap_getnext(scan, ForwardScanDirection);
	if (tuple != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, total_att, RelationGetDescr(rel), &isnull);

		if (!isnull)
			total = DatumGetInt32(d);
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	/* the table keeps one row with a positive count; a hand edit may not */
	if (total < 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("role_cluster.cluster_settings has no push_shards_total"),
				 errhint("Insert its row again: INSERT INTO role_cluster.cluster_settings DEFAULT VALUES.")));
	if (for_new_task)
		rc_gated_value_note(RC_GATE_PUSH_SHARDS, total);
	return total;
}

/*
 * Raises 23514 unless a pushNotifications task's shard key is given and
 * not empty: the shard is derived from it, now and at every change of
 * push_shards_total.
 */
static void
rc_require_shard_key(text *shard_key)
{
	if (shard_key == NULL || VARSIZE_ANY_EXHDR(shard_key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a pushNotifications task needs a shard_key"),
				 errhint("Set shard_key to the subscriber the notification is for.")));
}

/*
 * The push shard of a task: shard_for(shard_key, push_shards_total) for a
 * pushNotifications task, which must have a non-empty shard_key; NULL
 * (returns false) for any other type.
 */
static bool
rc_push_shard_of(Oid task_type, text *shard_key, int32 *shard)
{
	if (rc_task_type_ordinal(task_type) != RC_PUSH_NOTIFICATIONS)
		return false;
	rc_require_shard_key(shard_key);
	*shard = rc_shard_of_server_text(VARDATA_ANY(shard_key),
									 VARSIZE_ANY_EXHDR(shard_key),
									 rc_push_shards_total(true));
	return true;
}

/*
 * role_cluster.task_singleton(task_type) → boolean
 *
 * Whether task_policy makes the type a singleton.
 */
Datum
rc_task_singleton(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rc_task_type_singleton(PG_GETARG_OID(0)));
}

/*
 * role_cluster.task_push_shard(task_type, shard_key text) → integer
 *
 * The push shard a task of this type and shard key gets: NULL unless it is
 * a pushNotifications task, which must have a shard key.
 */
Datum
rc_task_push_shard(PG_FUNCTION_ARGS)
{
	int32		shard;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!rc_push_shard_of(PG_GETARG_OID(0),
						  PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1), &shard))
		PG_RETURN_NULL();
	PG_RETURN_INT32(shard);
}

/*
 * role_cluster.push_shards_total() → integer
 *
 * cluster_settings.push_shards_total, as the statement's snapshot sees it.
 */
Datum
rc_push_shards_total_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(rc_push_shards_total(false));
}

/*
 * role_cluster.task_derive() → trigger, BEFORE INSERT FOR EACH ROW
 *
 * Derives the columns of a new task that the configuration decides, as the
 * update trigger task_rederive() does for a changed one: singleton from
 * task_policy, a push task's push_shard from its shard_key (refused
 * without one), NULL for any other.  What the INSERT gave is replaced when
 * it differs: a hand-written row cannot make a singleton type's task
 * escape the unique index, or send a push task to a shard that is not its
 * own.  enqueue() gives the same values, read behind the same gates, so
 * its row is returned as it is, the values cached (rc_gated_value).  While
 * check_function_bodies is off (a restore), a singleton flag that a
 * superuser gives stays: any login may turn the setting off.
 */
Datum
rc_task_derive(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata;
	Relation	rel;
	TupleDesc	desc;
	HeapTuple	tuple;
	int			atts[2];
	Datum		values[2];
	bool		nulls[2];
	int			nchanged = 0;
	bool		isnull;
	bool		key_null;
	bool		singleton;
	Datum		d;
	Oid			task_type;
	int32		shard;
	AttrNumber	att;

	trigdata = rc_trigger_data(fcinfo, "task_derive");
	rc_trigger_require_fired(TRIGGER_FIRED_BEFORE(trigdata->tg_event) &&
							 TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) &&
							 TRIGGER_FIRED_BY_INSERT(trigdata->tg_event),
							 "task_derive", "BEFORE INSERT FOR EACH ROW");

	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	tuple = trigdata->tg_trigtuple;

	d = heap_getattr(tuple, rc_column_attnum(rel, "task_type"), desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);	/* the NOT NULL constraint says no */
	task_type = DatumGetObjectId(d);

	/*
	 * singleton: the type's policy, whatever the INSERT gave.  But while
	 * check_function_bodies is off, as pg_dump's scripts restore, a value
	 * a superuser gives stays: the dump loads task before task_policy,
	 * whose restore then carries the policy to the unfinished tasks, and
	 * deriving from the default policy here could make two running tasks
	 * of a type dumped as no singleton collide in the unique index, and
	 * the table's whole COPY fail.  (push_shard needs no such care:
	 * cluster_settings is loaded first.)  Any login may turn the setting
	 * off, hence the superuser.
	 */
	att = rc_column_attnum(rel, "singleton");
	d = heap_getattr(tuple, att, desc, &isnull);
	singleton = (!isnull && !check_function_bodies && superuser()) ? DatumGetBool(d) :
		rc_task_type_singleton(task_type);
	if (isnull || DatumGetBool(d) != singleton)
	{
		atts[nchanged] = att;
		values[nchanged] = BoolGetDatum(singleton);
		nulls[nchanged++] = false;
	}

	/* push_shard: a push task's from its shard_key, NULL for any other */
	att = rc_column_attnum(rel, "push_shard");
	d = heap_getattr(tuple, att, desc, &isnull);
	if (rc_task_type_ordinal(task_type) == RC_PUSH_NOTIFICATIONS)
	{
		Datum		key = heap_getattr(tuple, rc_column_attnum(rel, "shard_key"), desc, &key_null);

		(void) rc_push_shard_of(task_type, key_null ? NULL : DatumGetTextPP(key), &shard);
		if (isnull || DatumGetInt32(d) != shard)
		{
			atts[nchanged] = att;
			values[nchanged] = Int32GetDatum(shard);
			nulls[nchanged++] = false;
		}
	}
	else if (!isnull)
	{
		atts[nchanged] = att;
		values[nchanged] = (Datum) 0;
		nulls[nchanged++] = true;
	}

	if (nchanged == 0)
		return PointerGetDatum(tuple);
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, nchanged,
													 atts, values, nulls));
}

/*
 * role_cluster.count_as_last_committed(query text) → bigint
 *
 * Runs query, a SELECT of one count, with a fresh snapshot of what is
 * committed now (and of what this transaction wrote), whatever snapshot the
 * transaction itself reads with: as PostgreSQL's foreign key checks look
 * for rows that a REPEATABLE READ snapshot cannot see.  A change of
 * configuration that waited at its gate looks there for the tasks enqueued
 * meanwhile.  Internal: only the extension's own triggers call it, with
 * queries of their own.
 */
Datum
rc_count_as_last_committed(PG_FUNCTION_ARGS)
{
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	SPIPlanPtr	plan;
	int			rc;
	bool		isnull;
	int64		n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(sql, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,
							  true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1 || SPI_tuptable->tupdesc->natts != 1)
		elog(ERROR, "\"%s\" did not return one count", sql);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	PG_RETURN_INT64(isnull ? 0 : n);
}
