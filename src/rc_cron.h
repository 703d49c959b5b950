/*-------------------------------------------------------------------------
 *
 * rc_cron.h
 *	  Five-field cron expressions (minute hour day-of-month month
 *	  day-of-week, as in Vixie cron) and the next time one is due.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_CRON_H
#define RC_CRON_H

#include "datatype/timestamp.h"
#include "pgtime.h"

/* A parsed expression: a bit per allowed value of each field */
typedef struct RcCron
{
	uint64		minutes;		/* bits 0..59 */
	uint32		hours;			/* bits 0..23 */
	uint32		days;			/* bits 1..31 (day of month) */
	uint32		months;			/* bits 1..12 */
	/* bits 0..6, Sunday = 0 (7 is folded into 0) */
	uint32		weekdays;
	bool		days_star;		/* day-of-month field begins with '*' */
	bool		weekdays_star;	/* day-of-week field begins with '*' */
	/* the minute or the hour field begins with '*': due as the clock shows it */
	bool		clock;
} RcCron;

/*
 * Parses expr into *cron, or raises an error (22023) that quotes expr,
 * names the bad field and hints at the syntax.
 */
extern void rc_cron_parse(const char *expr, RcCron *cron);

/*
 * The first whole minute strictly after "after" that matches, the fields
 * read as wall-clock time in time zone tz.
 */
extern TimestampTz rc_cron_next(const RcCron *cron, TimestampTz after, pg_tz *tz);

/*
 * The latest whole minute at or before "at_or_before" that matches, read
 * as wall-clock time in time zone tz.
 */
extern TimestampTz rc_cron_prev(const RcCron *cron, TimestampTz at_or_before, pg_tz *tz);

/* Looks up a time zone name, or raises 22023 */
extern pg_tz *rc_lookup_timezone(const char *name);

#endif							/* RC_CRON_H */
