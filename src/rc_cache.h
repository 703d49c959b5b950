/*-------------------------------------------------------------------------
 *
 * rc_cache.h
 *	  Role evaluation from a per-backend cache of role_cluster.cluster_role
 *	  and of the ids of role_cluster.network_listener.
 *
 * The cache is rebuilt lazily after a change to either table (statement
 * triggers send a relcache invalidation of the table), and is only used
 * for a snapshot that sees the tables exactly as the snapshot the cache
 * was built with; see rc_cache.c.
 *
 * Role names and listener ids are passed as (bytes, length), not
 * NUL-terminated, in the server encoding.  A NULL name means "no role
 * assigned", which enables everything.  An unknown name raises 42704
 * unless role_cluster.unknown_role = 'enable_all'.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_CACHE_H
#define RC_CACHE_H

/* Register the invalidation callback; called once per process by _PG_init */
extern void rc_cache_init(void);

/* Is there a cluster_role row with this name?  (Never raises for unknown.) */
extern bool rc_role_exists(const char *name, int namelen);

/* Does the role enable the task type of this ordinal (0..9)? */
extern bool rc_role_enables_task(const char *name, int namelen, int ordinal);

/*
 * Does the role enable the listener with this id?  An id that is not in
 * network_listener raises 42704.
 */
extern bool rc_role_enables_listener(const char *name, int namelen,
									 const char *listener, int listenerlen);

/*
 * role_cluster.node_task_types(role text, strict boolean): the task types
 * a role enables, as an array (the hand-out calls it directly)
 */
extern Datum node_task_types(PG_FUNCTION_ARGS);

#endif							/* RC_CACHE_H */
