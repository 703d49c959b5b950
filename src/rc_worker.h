/*-------------------------------------------------------------------------
 *
 * rc_worker.h
 *	  The role_cluster background worker: its settings, its registration
 *	  and its main loop.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_WORKER_H
#define RC_WORKER_H

/* Settings (role_cluster.*); see rc_worker_init() for their meaning */
extern char *rc_database;
extern bool rc_worker_enabled;
extern int	rc_poll_interval_ms;
extern int	rc_dispatch_batch;
extern int	rc_prune_interval_s;
extern int	rc_retention_s;
extern int	rc_dead_retention_s;
extern int	rc_prune_batch;

/*
 * Defines the settings; when preloading, also installs the shared-memory
 * hooks and registers the worker.  Called from _PG_init.
 */
extern void rc_worker_init(void);

/* The worker's entry point (bgw_function_name) */
extern PGDLLEXPORT void rc_worker_main(Datum main_arg) pg_attribute_noreturn();

#endif							/* RC_WORKER_H */
