/*-------------------------------------------------------------------------
 *
 * rc_vacuum.h
 *	  The background worker has the queue tables vacuumed between
 *	  autovacuum's visits, by a short-lived process of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_VACUUM_H
#define RC_VACUUM_H

/* role_cluster.vacuum_interval, in seconds; 0 turns it off */
extern int	rc_vacuum_interval_s;

/*
 * In the worker: starts the vacuum process when a queue table has more
 * dead rows than its autovacuum threshold, none is running, and a pass
 * could remove something (the table was not vacuumed already at the
 * current removal horizon, and is not waiting out a backoff after the last
 * process skipped it).  Returns whether it started one.  Must be called
 * outside a transaction; runs its own.
 */
extern bool rc_vacuum_launch_if_needed(void);

/* The vacuum process's entry point (bgw_function_name) */
extern PGDLLEXPORT void rc_vacuum_main(Datum main_arg) pg_attribute_noreturn();

#endif							/* RC_VACUUM_H */
