/*-------------------------------------------------------------------------
 *
 * rc_every.h
 *	  The due times of a fixed-interval schedule (role_cluster.schedule's
 *	  "every"), read in the schedule's time zone.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_EVERY_H
#define RC_EVERY_H

#include "datatype/timestamp.h"
#include "pgtime.h"

/*
 * The time n intervals of "every" after "after": the months and days of
 * the interval counted on the calendar of time zone tz, the local time of
 * day kept (a day of the month past the month's end becomes its last day),
 * and its time part in absolute time, as timestamptz + n * interval does
 * in a session of that zone.  n intervals at once is not always where n
 * single steps land (31 January plus 2 months is 31 March; two steps of a
 * month, 29 March).  Raises 22023 for an interval with a negative part or
 * a zero one, and 22008 out of the timestamp range.
 */
extern TimestampTz rc_every_next(TimestampTz after, const Interval *every,
								 int64 n, pg_tz *tz);

/*
 * The latest time of the series after, after + every, after + 2 every,
 * ... (each step from the one before) that is at or before "at_or_before";
 * "after" itself when the first step is already past it (or past the end
 * of the timestamp range).  Both times must be finite (22008).
 */
extern TimestampTz rc_every_latest(TimestampTz after, const Interval *every,
								   TimestampTz at_or_before, pg_tz *tz);

#endif							/* RC_EVERY_H */
