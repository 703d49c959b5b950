/*-------------------------------------------------------------------------
 *
 * rc_task.h
 *	  The columns of a task that are derived from the configuration: its
 *	  singleton flag (task_policy) and its push shard (shard_for of its
 *	  shard_key over cluster_settings.push_shards_total).
 *
 * The lookups read the two small tables directly, without planning or
 * executing a query; enqueue() and the task_derive() insert trigger use
 * them.  For a new task they pass the configuration gate first (see
 * rc_task.c), which the triggers that carry a change to the tasks take
 * exclusively: the advisory lock (RC_CONFIG_GATE, the type's ordinal) for
 * its policy, (RC_CONFIG_GATE, RC_GATE_PUSH_SHARDS) for the shard total.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_TASK_H
#define RC_TASK_H

#define RC_SINGLETON_GATE	1919120231
#define RC_CONFIG_GATE		1919120232
#define RC_GATE_PUSH_SHARDS 10

/*
 * The last field of the gates' advisory lock tags.  pg_advisory_lock() and
 * its kin set it to 1 or 2, so no SQL call can take or hold a gate.
 */
#define RC_GATE_TAG_FIELD4	0x5243

/* Registers rc_task.c's cache callback: once per process, from _PG_init */
extern void rc_task_init(void);

/*
 * Takes the configuration gate (RC_CONFIG_GATE, key) shared until the
 * transaction ends: key is a task type's ordinal or RC_GATE_PUSH_SHARDS
 */
extern void rc_config_gate_shared(int32 key);

/*
 * task_policy.singleton of a task type for a new task (false when the type
 * has no row): behind the type's gate, as last committed
 */
extern bool rc_task_type_singleton(Oid task_type);

/*
 * cluster_settings.push_shards_total: as the statement sees it, or for a
 * new task, behind its gate, as last committed
 */
extern int32 rc_push_shards_total(bool for_new_task);

#endif							/* RC_TASK_H */
