/*-------------------------------------------------------------------------
 *
 * rc_every.c
 *	  The due times of a fixed-interval schedule (role_cluster.schedule's
 *	  "every"), read in the schedule's time zone.
 *
 * An interval's months and days are calendar units: one day later is the
 * same local time of day on the next day, whatever a daylight-saving
 * change makes of that day's length, and one month after the 31st of
 * January is the last day of February.  Its time part (hours, minutes,
 * seconds) is elapsed time: "5 minutes" is five minutes apart on each side
 * of a change, so none is skipped when the clocks go back and none is
 * doubled when they go forward.  This is what timestamptz + interval does
 * in a session whose TimeZone is the schedule's; here the zone comes from
 * the schedule, looked up as the cron expressions' is, whatever the
 * session's TimeZone and timezone_abbreviations, so that every scheduler
 * computes the same due times.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "rc_cron.h"
#include "rc_every.h"

PG_FUNCTION_INFO_V1(rc_every_next_sql);
PG_FUNCTION_INFO_V1(rc_every_latest_sql);

/* Raises 22008 for a time past the end of the timestamp range */
static void
rc_every_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("the next due time of the schedule is out of range")));
}

/* Raises 22023 unless every part of the interval is >= 0 and one is > 0 */
static void
rc_every_check(const Interval *every)
{
	if (every->month < 0 || every->day < 0 || every->time < 0 ||
		(every->month == 0 && every->day == 0 && every->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule interval \"%s\" does not advance",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(every)))),
				 errdetail("Its months, days and time must each be zero or more, and one of them more than zero."),
				 errhint("Write the interval with positive parts only, such as '1 day' or '90 minutes'.")));
}

TimestampTz
rc_every_next(TimestampTz after, const Interval *every, int64 n, pg_tz *tz)
{
	TimestampTz result = after;
	int64		add;

	rc_every_check(every);
	if (n < 0)
		elog(ERROR, "rc_every_next: n = " INT64_FORMAT, n);
	if (TIMESTAMP_NOT_FINITE(after))
		rc_every_out_of_range();

	if (every->month != 0 || every->day != 0)
	{
		struct pg_tm tm;
		fsec_t		fsec;
		int			tzoff;
		int64		months;
		int64		days;

		if (timestamp2tm(after, &tzoff, &tm, &fsec, NULL, tz) != 0)
			rc_every_out_of_range();
		if (pg_mul_s64_overflow(every->month, n, &months) ||
			pg_mul_s64_overflow(every->day, n, &days) ||
			months > (int64) MONTHS_PER_YEAR * (JULIAN_MAXYEAR + 1) ||
			days > (int64) DAYS_PER_YEAR * (JULIAN_MAXYEAR + 1))
			rc_every_out_of_range();
		if (months != 0)
		{
			int64		m = (int64) tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) + months;

			int64		y = m / MONTHS_PER_YEAR;
			int64		mon = m % MONTHS_PER_YEAR;

			if (mon < 0)		/* before year 0: round down */
			{
				mon += MONTHS_PER_YEAR;
				y--;
			}
			tm.tm_year = (int) y;
			tm.tm_mon = (int) mon + 1;
			if (tm.tm_year > JULIAN_MAXYEAR)
				rc_every_out_of_range();
			if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
				tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		}
		if (days != 0)
		{
			int64		julian = (int64) date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) + days;

			if (julian > PG_INT32_MAX)
				rc_every_out_of_range();
			j2date((int) julian, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		}
		if (!IS_VALID_JULIAN(tm.tm_year, tm.tm_mon, tm.tm_mday))
			rc_every_out_of_range();
		tzoff = DetermineTimeZoneOffset(&tm, tz);
		if (tm2timestamp(&tm, fsec, &tzoff, &result) != 0)
			rc_every_out_of_range();
	}
	if (pg_mul_s64_overflow(every->time, n, &add) ||
		pg_add_s64_overflow(result, add, &result) ||
		!IS_VALID_TIMESTAMP(result))
		rc_every_out_of_range();
	return result;
}

TimestampTz
rc_every_latest(TimestampTz after, const Interval *every,
				TimestampTz at_or_before, pg_tz *tz)
{
	TimestampTz due = after;

	rc_every_check(every);
	if (at_or_before <= after)
		return after;

	/*
	 * A time-only interval is elapsed time: the k-th step is after + k
	 * times it, k found by division.  Calendar steps depend on the days
	 * they cross (a month from the 31st; a local time that one day does
	 * not have), so those are taken one by one, as fire_schedules() would
	 * have taken them had it been called at each.
	 */
	if (every->month == 0 && every->day == 0)
		return after + ((at_or_before - after) / every->time) * every->time;
	for (;;)
	{
		TimestampTz next;

		CHECK_FOR_INTERRUPTS();
		next = rc_every_next(due, every, 1, tz);
		if (next > at_or_before)
			return due;
		due = next;
	}
}

/*
 * role_cluster.every_next(after timestamptz, every interval,
 *						   timezone text DEFAULT 'UTC', n bigint DEFAULT 1)
 *		→ timestamptz
 *
 * The due time n intervals after "after" (see rc_every_next).
 */
Datum
rc_every_next_sql(PG_FUNCTION_ARGS)
{
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(0);
	Interval   *every = PG_GETARG_INTERVAL_P(1);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(2));
	int64		n = PG_GETARG_INT64(3);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of intervals must be zero or more, not " INT64_FORMAT, n)));
	PG_RETURN_TIMESTAMPTZ(rc_every_next(after, every, n, rc_lookup_timezone(zone)));
}

/*
 * role_cluster.every_latest(after timestamptz, every interval,
 *							 at_or_before timestamptz,
 *							 timezone text DEFAULT 'UTC') → timestamptz
 *
 * The latest due time of the series that starts at "after" at or before
 * "at_or_before" (see rc_every_latest).
 */
Datum
rc_every_latest_sql(PG_FUNCTION_ARGS)
{
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(0);
	Interval   *every = PG_GETARG_INTERVAL_P(1);
	TimestampTz at_or_before = PG_GETARG_TIMESTAMPTZ(2);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(3));

	PG_RETURN_TIMESTAMPTZ(rc_every_latest(after, every, at_or_before,
										  rc_lookup_timezone(zone)));
}
