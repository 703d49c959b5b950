/*-------------------------------------------------------------------------
 *
 * rc_queue.h
 *	  The queue's busiest entry points in C, enqueue(), complete_task()
 *	  and claim_tasks() (its checks and sort around the routing rule,
 *	  which is src/rc_handout.c's), with enqueue_batch()'s check of its
 *	  array, the test whether a node's session still exists, who may act
 *	  for a node, and the node settings (role_cluster.node_lease,
 *	  role_cluster.node_timeout).  Everything else about the queue
 *	  (dispatch, reclaim) is SQL and PL/pgSQL in sql/install/40_queue.sql.
 *
 * The SQL declarations (SECURITY DEFINER, the pinned search_path and the
 * planner settings) are in that file too; these functions run statements
 * prepared once per session, or for their common case, none (rc_write.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_QUEUE_H
#define RC_QUEUE_H

#include "datatype/timestamp.h"

/* Defines role_cluster.node_lease and node_timeout; called by _PG_init */
extern void rc_queue_init(void);

/*
 * Whether the session with this pid and start time still exists (on a hot
 * standby, which cannot see it: always)
 */
extern bool rc_session_alive(int32 pid, TimestampTz started);

/*
 * Whether the session user may act for a node registered by login (a
 * name datum; 0 for none): it is that login, or a member of
 * role_cluster_admin
 */
extern bool rc_session_user_may_act(Datum login);

#endif							/* RC_QUEUE_H */
