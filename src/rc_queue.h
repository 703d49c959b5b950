/*-------------------------------------------------------------------------
 *
 * rc_queue.h
 *	  The queue's busiest entry points in C, enqueue(), complete_task()
 *	  and claim_tasks() (its checks and sort around the routing rule),
 *	  the routing rule's walk of the queue and its write (hand_out_queued(),
 *	  write_hand_out()), with enqueue_batch()'s check of its array, the
 *	  test whether a node's session still exists, and the node settings
 *	  (role_cluster.node_lease, role_cluster.node_timeout).  Everything
 *	  else about the queue (the rest of the routing rule, dispatch,
 *	  reclaim) is SQL and PL/pgSQL in sql/install/40_queue.sql.
 *
 * The SQL declarations (SECURITY DEFINER, the pinned search_path and the
 * planner settings) are in that file too; these functions run statements
 * prepared once per session, or for their common case, none (rc_write.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_QUEUE_H
#define RC_QUEUE_H

/* Defines role_cluster.node_lease and node_timeout; called by _PG_init */
extern void rc_queue_init(void);

#endif							/* RC_QUEUE_H */
