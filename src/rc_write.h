/*-------------------------------------------------------------------------
 *
 * rc_write.h
 *	  Changing one row of role_cluster.task from C without a statement:
 *	  found by its id, locked and checked again as an UPDATE under READ
 *	  COMMITTED would, and written with the table's indexes, constraints
 *	  and triggers kept by PostgreSQL's own routines.  What PostgreSQL
 *	  prepares again for each statement (each index's description and
 *	  partial-index predicate, each trigger's WHEN clause) is prepared once
 *	  per session and made again when the table's definition changes.
 *	  Also, for a write's checks: a column of the node tables read by node
 *	  id.
 *
 * A caller pushes the snapshot to read with, then begin, find, lock,
 * set and update (or begin, new row, set and insert), then end, which
 * fires the after triggers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_WRITE_H
#define RC_WRITE_H

#include "executor/execdesc.h"
#include "nodes/execnodes.h"
#include "storage/lockdefs.h"
#include "utils/acl.h"

/* The task columns a write reads or changes */
typedef enum RcTaskColumn
{
	RC_TASK_ID,
	RC_TASK_STATE,
	RC_TASK_NODE_ID,
	RC_TASK_ATTEMPTS,
	RC_TASK_ROUTE_SEQ,
	RC_TASK_LEASE_UNTIL,
	RC_TASK_FINISHED_AT,
	RC_TASK_UPDATED_AT,
	RC_TASK_TASK_TYPE,
	RC_TASK_KIND,
	RC_TASK_PAYLOAD,
	RC_TASK_SHARD_KEY,
	RC_TASK_PUSH_SHARD,
	RC_TASK_RUN_AT,
	RC_TASK_PRIORITY,
	RC_TASK_MAX_ATTEMPTS,
	RC_TASK_SINGLETON,
	RC_TASK_NUM_COLUMNS
} RcTaskColumn;

/* The task states, as the values of role_cluster.task_state */
typedef enum RcTaskState
{
	RC_STATE_QUEUED,
	RC_STATE_RUNNING,
	RC_STATE_DONE,
	RC_STATE_DEAD,
	RC_NUM_STATES
} RcTaskState;

/* One write in progress */
typedef struct RcTaskWrite
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epq;
	TupleTableSlot *row;		/* the row found, then locked */
	TupleTableSlot *change;		/* its new version, once set */
	bool		change_set;		/* change holds the version being set */
	Bitmapset  *changed;		/* the columns set, for UPDATE OF triggers */
	bool		updating;		/* an UPDATE's before statement triggers fired */
	bool		all_indexes;	/* every row opens all the indexes */
} RcTaskWrite;

/* Registers the cache's callbacks; called once per process by _PG_init */
extern void rc_write_init(void);

/*
 * Opens role_cluster.task with lockmode once the current user is found to
 * have the privileges of mode on it (as the executor checks a statement's
 * relations), the session's cache made for the table as it is now; for a
 * scan of the table that goes with a write.  Close it with table_close().
 */
extern Relation rc_task_open(LOCKMODE lockmode, AclMode mode);

/*
 * The OID of role_cluster.node: the session cache's while it is valid (an
 * invalidation of the table makes it invalid), else looked up by name
 */
extern Oid	rc_node_relid(void);

/* The number of a task column, in the table rc_task_open() opened last */
extern AttrNumber rc_task_attnum(RcTaskColumn col);

/* The task table's indexes the hand-out scans */
typedef enum RcTaskIndex
{
	RC_INDEX_QUEUED,			/* task_queued_idx */
	RC_INDEX_QUEUED_SINGLETON,	/* task_queued_singleton_idx */
	RC_INDEX_HELD,				/* task_held_idx */
	RC_NUM_TASK_INDEXES
} RcTaskIndex;

/* Opens one of them (AccessShareLock), of the table rc_task_open() opened */
extern Relation rc_task_index_open(RcTaskIndex which);

/*
 * Opens role_cluster.task for a write (cmd: CMD_INSERT or CMD_UPDATE)
 * under the active snapshot, once the current user is found to have the
 * privilege for the command on it; false, having opened nothing, while a
 * trigger of the table for that command uses transition tables, which
 * these writes do not fill
 */
extern bool rc_write_begin(RcTaskWrite *w, CmdType cmd);

/*
 * Finds the task with this id, as the active snapshot sees it, into w->row.
 * One write may find, lock, set and update one row after another.
 */
extern bool rc_write_find(RcTaskWrite *w, int64 id);

/*
 * Reads the row version at tid into w->row, whatever the snapshot: for a
 * version the caller has locked, so that no other can follow it; false
 * when there is no row version at tid.
 */
extern bool rc_write_fetch(RcTaskWrite *w, ItemPointer tid);

/*
 * Locks the row found, as an UPDATE would before changing it; waits for a
 * transaction that holds it.  Under READ COMMITTED, a row changed since
 * the snapshot is followed to its last version, which w->row then holds
 * (*newer set: check it again); false when it was deleted, or when this
 * write has already written it (a command triggered by the write that
 * changed it raises, as for an UPDATE).  Under
 * REPEATABLE READ or SERIALIZABLE, such a row raises a serialization
 * failure, as an UPDATE does.
 */
extern bool rc_write_lock(RcTaskWrite *w, bool *newer);

/* A column of w->row */
extern Datum rc_write_get(RcTaskWrite *w, RcTaskColumn col, bool *isnull);

/* Sets a column of the row's new version (a copy of w->row until then) */
extern void rc_write_set(RcTaskWrite *w, RcTaskColumn col, Datum value, bool isnull);

/*
 * Writes the new version over the locked row, with its row triggers, the
 * before statement triggers first if none fired yet in this write (their
 * after statement triggers fire at its end, once); false when a before row
 * trigger skipped the row.  The new version, as written, is in w->change.
 */
extern bool rc_write_update(RcTaskWrite *w);

/*
 * Writes the new version over the row found without locking it first, as
 * an UPDATE statement does: true when written.  False and *changed when a
 * transaction changed the row after it was found and committed (under
 * READ COMMITTED: lock it, rc_write_lock() following it to its last
 * version, check that again, and write it with rc_write_update()), or
 * when the table has before row update triggers (lock it first for them);
 * false alone when the row was deleted meanwhile, or when this write has
 * already written it.  Waits for a transaction that holds the row; under
 * REPEATABLE READ or SERIALIZABLE, a row changed or deleted since the
 * snapshot raises a serialization failure, as an UPDATE does.  The new
 * version is to be set again after a false.
 */
extern bool rc_write_update_unlocked(RcTaskWrite *w, bool *changed);

/*
 * Starts a new row: every column its default, as an INSERT that names
 * none of them would give it (the sequence's next id among them); then
 * rc_write_set() the columns given
 */
extern void rc_write_new_row(RcTaskWrite *w);

/* Inserts the new row, with its triggers; returns its id */
extern int64 rc_write_insert(RcTaskWrite *w);

/* Fires the write's after triggers and closes the table */
extern void rc_write_end(RcTaskWrite *w);

/* The value of a task state */
extern Datum rc_task_state_value(RcTaskState state);

/* The columns a write's checks read from the node tables, by node id */
typedef enum RcKeyedColumn
{
	RC_NODE_LOGIN,				/* node.login */
	RC_NODE_FETCH_FETCHED,		/* node_fetch.fetched */
	RC_NUM_KEYED_COLUMNS
} RcKeyedColumn;

/*
 * During a write, reads a column of the row of its table whose primary
 * key, the node id, equals key, under the active snapshot: false when
 * there is none.  The value is copied into the current memory context.
 */
extern bool rc_read_by_key(RcKeyedColumn col, Datum key, Datum *value, bool *isnull);

/*
 * Finds the row of rel, the node table that col is a column of, whose
 * node id equals key, as the active snapshot sees it, into slot: false
 * when there is none.  Where the row was found last is kept for the
 * session and tried first (the version there, if the snapshot sees it and
 * it still has key, is the row); then the primary key.
 */
extern bool rc_find_by_key(RcKeyedColumn col, Relation rel, Datum key,
						   TupleTableSlot *slot);

#endif							/* RC_WRITE_H */
