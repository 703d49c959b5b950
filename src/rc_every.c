/*-------------------------------------------------------------------------
 *
 * rc_every.c
 *	  The due times of a fixed-interval schedule (role_cluster.schedule's
 *	  "every"), read in the schedule's time zone.
 *
 * An interval's months and days are calendar units: one day later is the
 * same local time of day on the next day, whatever a daylight-saving change
 * makes of that day's length, and one month after the 31st of January is
 * the last day of February.  Its time part (hours, minutes, seconds) is
 * elapsed time: "5 minutes" is five minutes apart on each side of a change,
 * so none is skipped when the clocks go back and none is doubled when they
 * go forward.  This is what timestamptz + interval does in a session whose
 * TimeZone is the schedule's (the months first, then the days, then the
 * time; worker_sql checks a year of it); here the zone comes from the
 * schedule, looked up as the cron expressions' is, whatever the session's
 * TimeZone and timezone_abbreviations, so that every scheduler computes the
 * same due times.
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

static void rc_every_out_of_range(TimestampTz after, const Interval *every,
								  int64 n) pg_attribute_noreturn();

/* The interval as text, for messages */
static char *
rc_every_text(const Interval *every)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(every)));
}

/*
 * Raises 22008: the due time n intervals after "after" is out of range, or
 * "after" is not finite
 */
static void
rc_every_out_of_range(TimestampTz after, const Interval *every, int64 n)
{
	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The due times of a schedule interval follow a finite time, not %s.",
						   timestamptz_to_str(after))));
	if (n == 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The due time an interval of %s after %s is past the end of the range.",
						   rc_every_text(every), timestamptz_to_str(after))));
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range"),
			 errdetail("The due time " INT64_FORMAT " intervals of %s after %s is past the end of the range.",
					   n, rc_every_text(every), timestamptz_to_str(after))));
}

/*
 * Raises 22023 unless every part of the interval is >= 0 and it is a
 * second or more.
 */
static void
rc_every_check(const Interval *every)
{
	if (every->month < 0 || every->day < 0 || every->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule interval \"%s\" has a negative part", rc_every_text(every)),
				 errdetail("Its months, days and time must each be zero or more."),
				 errhint("Write the interval with parts of zero or more, such as '1 day' or '1 day 12 hours'.")));
	if (every->month == 0 && every->day == 0 && every->time == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule interval \"%s\" is zero", rc_every_text(every)),
				 errhint("Give an interval such as '5 minutes' or '1 day'.")));
	if (every->month == 0 && every->day == 0 && every->time < USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule interval \"%s\" is shorter than a second", rc_every_text(every)),
				 errdetail("The worker fires due schedules once a loop: due times closer together would be skipped, or with catch_up = 'all' pile up."),
				 errhint("Give an interval of a second or more, such as '5 minutes' or '1 day'.")));
}

/*
 * The local time of an instant in tz; false out of range.  (Local dates
 * start at Julian day 0.)
 */
static bool
rc_every_local(TimestampTz t, pg_tz *tz, struct pg_tm *tm, fsec_t *fsec)
{
	int			tzoff;

	return timestamp2tm(t, &tzoff, tm, fsec, NULL, tz) == 0 &&
		IS_VALID_JULIAN(tm->tm_year, tm->tm_mon, tm->tm_mday);
}

/* The instant of a local time in tz; false out of range */
static bool
rc_every_instant(struct pg_tm *tm, fsec_t fsec, pg_tz *tz, TimestampTz *t)
{
	int			tzoff;

	if (!IS_VALID_JULIAN(tm->tm_year, tm->tm_mon, tm->tm_mday))
		return false;
	tzoff = DetermineTimeZoneOffset(tm, tz);
	return tm2timestamp(tm, fsec, &tzoff, t) == 0 && IS_VALID_TIMESTAMP(*t);
}

/*
 * rc_every_next's work; false instead of an error when the result is out
 * of range.  In PostgreSQL's order (timestamptz_pl_interval): the months
 * added to the local date and the result made an instant, then the days
 * added to the local date of that, then the time part.
 */
static bool
rc_every_try(TimestampTz after, const Interval *every, int64 n, pg_tz *tz,
			 TimestampTz *result)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		nmonths;
	int64		ndays;
	int64		add;

	*result = after;
	if (TIMESTAMP_NOT_FINITE(after))
		return false;
	if (n == 0)
		return true;
	if (pg_mul_s64_overflow(every->month, n, &nmonths) ||
		pg_mul_s64_overflow(every->day, n, &ndays) ||
		pg_mul_s64_overflow(every->time, n, &add) ||
		nmonths > (int64) MONTHS_PER_YEAR * (JULIAN_MAXYEAR + 1) ||
		ndays > (int64) DAYS_PER_YEAR * (JULIAN_MAXYEAR + 1))
		return false;

	if (nmonths != 0)
	{
		int64		m,
					y,
					mon;

		if (!rc_every_local(*result, tz, &tm, &fsec))
			return false;
		m = (int64) tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) + nmonths;
		y = m / MONTHS_PER_YEAR;
		mon = m % MONTHS_PER_YEAR;
		if (mon < 0)			/* before year 0: round down */
		{
			mon += MONTHS_PER_YEAR;
			y--;
		}
		if (y > JULIAN_MAXYEAR)
			return false;
		tm.tm_year = (int) y;
		tm.tm_mon = (int) mon + 1;
		if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
			tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		if (!rc_every_instant(&tm, fsec, tz, result))
			return false;
	}
	if (ndays != 0)
	{
		int64		julian;

		if (!rc_every_local(*result, tz, &tm, &fsec))
			return false;
		julian = (int64) date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) + ndays;
		if (julian > PG_INT32_MAX)
			return false;
		j2date((int) julian, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		if (!rc_every_instant(&tm, fsec, tz, result))
			return false;
	}
	return !pg_add_s64_overflow(*result, add, result) && IS_VALID_TIMESTAMP(*result);
}

/*
 * The due time n intervals of "every" after "after", counted on tz's
 * calendar; raises an error for a bad interval or a result out of range.
 */
TimestampTz
rc_every_next(TimestampTz after, const Interval *every, int64 n, pg_tz *tz)
{
	TimestampTz result;

	rc_every_check(every);
	if (n < 0)
		elog(ERROR, "rc_every_next: n = " INT64_FORMAT, n);
	if (!rc_every_try(after, every, n, tz, &result))
		rc_every_out_of_range(after, every, n);
	return result;
}

/*
 * The latest time of the series after, after + every, ... that is at or
 * before at_or_before; "after" itself when the first step is past it.
 */
TimestampTz
rc_every_latest(TimestampTz after, const Interval *every,
				TimestampTz at_or_before, pg_tz *tz)
{
	TimestampTz due = after;
	uint64		span;

	rc_every_check(every);
	if (TIMESTAMP_NOT_FINITE(after) || TIMESTAMP_NOT_FINITE(at_or_before))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("The due times of a schedule interval are looked for between finite times, not %s and %s.",
						   pstrdup(timestamptz_to_str(after)),
						   pstrdup(timestamptz_to_str(at_or_before)))));
	if (at_or_before <= after)
		return after;

	/*
	 * A time-only interval is elapsed time: the k-th step is after + k
	 * times it, k found by division.  Calendar steps depend on the days
	 * they cross (a month from the 31st; a local time that one day does
	 * not have), so those are taken one by one, as fire_schedules() would
	 * have taken them had it been called at each.  A step past the end of
	 * the timestamp range is past the bound too.
	 */
	if (every->month == 0 && every->day == 0)
	{
		/* the span, positive here, fits in 64 bits unsigned */
		span = (uint64) at_or_before - (uint64) after;
		return after + (TimestampTz) ((span / (uint64) every->time) * (uint64) every->time);
	}
	for (;;)
	{
		TimestampTz next;

		CHECK_FOR_INTERRUPTS();
		if (!rc_every_try(due, every, 1, tz, &next) || next > at_or_before)
			return due;
		if (next <= due)
			elog(ERROR, "schedule interval step from %s does not advance",
				 timestamptz_to_str(due));
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
