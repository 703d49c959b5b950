/*-------------------------------------------------------------------------
 *
 * rc_task.h
 *	  The columns of a task that are derived from the configuration: its
 *	  singleton flag (task_policy) and its push shard (shard_for of its
 *	  shard_key over cluster_settings.push_shards_total).
 *
 * The lookups read the two small tables directly with the active snapshot,
 * as a subquery in the calling statement would, without planning or
 * executing one; enqueue() and the task_derive() insert trigger use them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_TASK_H
#define RC_TASK_H

/* task_policy.singleton of a task type (false when the type has no row) */
extern bool rc_task_type_singleton(Oid task_type);

/* cluster_settings.push_shards_total */
extern int32 rc_push_shards_total(void);

#endif							/* RC_TASK_H */
