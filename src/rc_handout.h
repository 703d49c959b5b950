/*-------------------------------------------------------------------------
 *
 * rc_handout.h
 *	  The routing rule (src/rc_handout.c): the SQL functions through which
 *	  all work is handed out, and the node liveness they rest on.
 *
 *	  role_cluster.hand_out_tasks(node_id, max_tasks, claiming, held,
 *		  after_priority, after_run_at, after_id) → SETOF task
 *		Hands out up to max_tasks due queued tasks to one node; what
 *		claim_tasks() and dispatch() call.
 *	  role_cluster.write_hand_out(ids, node_id, lease_until, numbered)
 *		  → SETOF task
 *		The write of the tasks of ids the caller locked (the singletons'
 *		path, hand_out_singletons(), in PL/pgSQL).
 *	  role_cluster.node_is_lost(node), node_is_live(node) → boolean
 *		Whether a node no longer holds its tasks; whether it is given work.
 *	  role_cluster.effective_push_shard(push_shard, push_shards_total)
 *		  → integer
 *		The push shard a node serves.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_HANDOUT_H
#define RC_HANDOUT_H

#include "fmgr.h"

extern Datum rc_hand_out_tasks(PG_FUNCTION_ARGS);
extern Datum rc_write_hand_out(PG_FUNCTION_ARGS);
extern Datum rc_node_is_lost(PG_FUNCTION_ARGS);
extern Datum rc_node_is_live(PG_FUNCTION_ARGS);
extern Datum rc_effective_push_shard(PG_FUNCTION_ARGS);

#endif							/* RC_HANDOUT_H */
