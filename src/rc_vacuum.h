/*-------------------------------------------------------------------------
 *
 * rc_vacuum.h
 *	  The background worker vacuums the queue tables itself, between
 *	  autovacuum's visits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_VACUUM_H
#define RC_VACUUM_H

#include "utils/timestamp.h"

/* role_cluster.vacuum_interval, in seconds; 0 turns it off */
extern int	rc_vacuum_interval_s;

/* A table needs a vacuum once it has this many dead rows */
#define RC_VACUUM_MIN_DEAD 1000

/*
 * Vacuums the queue tables that have at least RC_VACUUM_MIN_DEAD dead rows
 * and were not vacuumed (by autovacuum or anyone) since not_since.  Must be
 * called outside a transaction; runs its own.  Returns how many tables it
 * vacuumed.  Errors propagate, with the transaction state left for the
 * caller to abort.
 */
extern int	rc_vacuum_queue_tables(TimestampTz not_since);

#endif							/* RC_VACUUM_H */
