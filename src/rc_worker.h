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

/*
 * Defines the settings; when preloading, also installs the shared-memory
 * hooks and registers the worker.  Called from _PG_init.
 */
extern void rc_worker_init(void);

/* The worker's entry point (bgw_function_name) */
extern PGDLLEXPORT void rc_worker_main(Datum main_arg) pg_attribute_noreturn();

#endif							/* RC_WORKER_H */
