/*-------------------------------------------------------------------------
 *
 * rc_cron.c
 *	  Five-field cron expressions and the next due time of one, for
 *	  role_cluster.schedule.
 *
 * Syntax (Vixie cron's): "minute hour day-of-month month day-of-week",
 * fields separated by spaces or tabs.  Each field is a comma-separated
 * list of items; an item is "*", a value, a range "a-b", and either of
 * "*" or a range may carry a step "/n".  "a/n" means "a-max/n".  Months
 * accept jan..dec and days of week sun..sat (case-insensitive), also as
 * range ends; day of week 0 and 7 are both Sunday.  The nicknames @yearly
 * (@annually), @monthly, @weekly, @daily (@midnight) and @hourly stand for
 * their usual five fields.
 *
 * Vixie's day rule: when both the day-of-month and day-of-week fields are
 * restricted (neither begins with '*'), a day matches if EITHER matches
 * ("0 0 1,15 * mon": the 1st, the 15th and every Monday); otherwise both
 * must match.  As in Vixie cron, a field such as "*\/2" begins with '*'
 * and so counts as unrestricted for this rule.
 *
 * Times are wall-clock times in the time zone given (the schedule's, UTC
 * by default), whatever the session's TimeZone, so that every scheduler
 * computes the same due times.  Across a daylight-saving change, Vixie's
 * rule for an expression whose minute or hour field begins with '*'
 * ("*\/5 * * * *", @hourly): it is due whenever the clock shows a minute
 * that matches, so twice in an hour the clock repeats and never in one it
 * skips.  Any other ("30 2 * * *") is due once a matching wall-clock time,
 * at the instant PostgreSQL maps it to: the second time of a repeated
 * hour, and for a time that does not exist, the instant an hour later in
 * the usual zones.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "rc_cron.h"
#include "rc_util.h"

PG_FUNCTION_INFO_V1(rc_cron_next_sql);
PG_FUNCTION_INFO_V1(rc_cron_prev_sql);

/* How far ahead rc_cron_next looks before giving up (can't happen) */
#define RC_CRON_MAX_YEARS	100

/* One field's range and, for month and day of week, its names */
typedef struct CronFieldDef
{
	const char *label;
	int			min;
	int			max;
	/* NULL-terminated, value of names[i] is i + name_base */
	const char *const *names;
	int			name_base;
} CronFieldDef;

static void cron_error(const char *expr,
					   const char *detail) pg_attribute_noreturn();
static void cron_field_error(const char *expr, int fieldno,
							 const char *detail) pg_attribute_noreturn();

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const weekday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronFieldDef cron_fields[5] = {
	{"minute", 0, 59, NULL, 0},
	{"hour", 0, 23, NULL, 0},
	{"day of month", 1, 31, NULL, 0},
	{"month", 1, 12, month_names, 1},
	{"day of week", 0, 7, weekday_names, 0},
};

/* The nicknames and what they stand for */
static const struct
{
	const char *name;
	const char *fields;
}			cron_nicknames[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

#define CRON_HINT \
	"A cron expression has five fields separated by spaces: minute (0-59), " \
	"hour (0-23), day of month (1-31), month (1-12 or jan-dec) and day of " \
	"week (0-7 or sun-sat, 0 and 7 both Sunday).  Each field is *, a value, " \
	"a range a-b or a comma-separated list of these, optionally with a step " \
	"such as */15 or 1-30/5.  @hourly, @daily, @weekly, @monthly and " \
	"@yearly are accepted too."

/* Raises the error for a bad expression; detail says what is wrong */
static void
cron_error(const char *expr, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid cron expression \"%s\"", rc_shown(expr, 100)),
			 errdetail("%s", detail),
			 errhint(CRON_HINT)));
}

/* Raises the error for a bad field; detail is the part after the field name */
static void
cron_field_error(const char *expr, int fieldno, const char *detail)
{
	cron_error(expr, psprintf("Field %d (%s): %s", fieldno + 1,
							  cron_fields[fieldno].label, detail));
}

/*
 * Parses one value (a number or, where the field has them, a name) at *p,
 * advancing *p past it.
 */
static int
cron_parse_value(const char *expr, int fieldno, const char **p)
{
	const CronFieldDef *f = &cron_fields[fieldno];
	const char *s = *p;
	int			value;

	if (isdigit((unsigned char) *s))
	{
		long		v = 0;

		while (isdigit((unsigned char) *s))
		{
			if (v < 1000000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < f->min || v > f->max)
			cron_field_error(expr, fieldno,
							 psprintf("value %s is out of range %d-%d.",
									  rc_shown(pnstrdup(*p, s - *p), 32), f->min, f->max));
		value = (int) v;
	}
	else if (isalpha((unsigned char) *s))
	{
		const char *start = s;
		int			len;

		while (isalpha((unsigned char) *s))
			s++;
		len = s - start;
		value = -1;
		if (f->names != NULL && len == 3)
		{
			for (int i = 0; f->names[i] != NULL; i++)
				if (pg_strncasecmp(start, f->names[i], 3) == 0)
					value = i + f->name_base;
		}
		if (value < 0)
		{
			if (f->names == NULL)
				cron_field_error(expr, fieldno,
								 psprintf("\"%s\" is not a number.",
										  rc_shown(pnstrdup(start, len), 32)));
			else
				cron_field_error(expr, fieldno,
								 psprintf("\"%s\" is not a %s name (use %s).",
										  rc_shown(pnstrdup(start, len), 32),
										  f->label,
										  fieldno == 3 ? "jan, feb, ..., dec" : "sun, mon, ..., sat"));
		}
	}
	else
	{
		if (*s == '\0')
			cron_field_error(expr, fieldno, "a value is missing.");
		cron_field_error(expr, fieldno,
						 psprintf("unexpected character \"%.*s\".", pg_mblen(s), s));
		value = 0;				/* not reached */
	}
	*p = s;
	return value;
}

/* Parses one field (the text "text") into a bit mask */
static uint64
cron_parse_field(const char *expr, int fieldno, const char *text)
{
	const CronFieldDef *f = &cron_fields[fieldno];
	uint64		mask = 0;
	char	   *copy = pstrdup(text);
	char	   *item = copy;

	for (;;)
	{
		char	   *comma = strchr(item, ',');
		const char *p = item;
		int			lo,
					hi,
					step = 1;
		bool		ranged = false;

		if (comma)
			*comma = '\0';
		if (*item == '\0')
			cron_field_error(expr, fieldno, "a list element is empty.");

		if (*p == '*')
		{
			lo = f->min;
			hi = f->max;
			ranged = true;
			p++;
		}
		else
		{
			lo = hi = cron_parse_value(expr, fieldno, &p);
			if (*p == '-')
			{
				p++;
				hi = cron_parse_value(expr, fieldno, &p);
				ranged = true;
				if (lo > hi)
					cron_field_error(expr, fieldno,
									 psprintf("range \"%s\" runs backwards.", rc_shown(item, 32)));
			}
		}
		if (*p == '/')
		{
			long		s = 0;

			p++;
			if (!isdigit((unsigned char) *p))
				cron_field_error(expr, fieldno,
								 psprintf("step in \"%s\" is not a number.", rc_shown(item, 32)));
			while (isdigit((unsigned char) *p))
			{
				if (s < 1000000)
					s = s * 10 + (*p - '0');
				p++;
			}
			if (s < 1 || s > f->max)
				cron_field_error(expr, fieldno,
								 psprintf("step in \"%s\" is out of range 1-%d.",
										  rc_shown(item, 32), f->max));
			step = (int) s;
			/* "a/n" means "a-max/n" */
			if (!ranged)
				hi = f->max;
		}
		if (*p != '\0')
			cron_field_error(expr, fieldno,
							 psprintf("unexpected \"%s\" in \"%s\".",
									  rc_shown(p, 32), rc_shown(item, 32)));

		for (int v = lo; v <= hi; v += step)
			mask |= UINT64CONST(1) << v;

		if (!comma)
			break;
		item = comma + 1;
	}
	pfree(copy);
	return mask;
}

/*
 * Parses expr into *cron, or raises 22023.
 */
void
rc_cron_parse(const char *expr, RcCron *cron)
{
	char	   *copy;
	char	   *fields[5];
	int			nfields = 0;
	char	   *p;
	uint64		masks[5];

	/* nicknames */
	p = (char *) expr;
	while (scanner_isspace(*p))
		p++;
	if (*p == '@')
	{
		char	   *end;
		int			len;

		for (end = p; *end != '\0' && !scanner_isspace(*end); end++)
			;
		len = end - p;
		for (int i = 0; i < (int) lengthof(cron_nicknames); i++)
		{
			if ((int) strlen(cron_nicknames[i].name) == len &&
				pg_strncasecmp(p, cron_nicknames[i].name, len) == 0)
			{
				while (scanner_isspace(*end))
					end++;
				if (*end != '\0')
					cron_error(expr, "A nickname such as @daily stands alone.");
				rc_cron_parse(cron_nicknames[i].fields, cron);
				return;
			}
		}
		cron_error(expr, psprintf("\"%s\" is not a known nickname (@yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly).",
								  rc_shown(pnstrdup(p, len), 32)));
	}

	copy = pstrdup(expr);
	p = copy;
	for (;;)
	{
		while (scanner_isspace(*p))
			*p++ = '\0';
		if (*p == '\0')
			break;
		if (nfields < 5)
			fields[nfields] = p;
		nfields++;
		while (*p != '\0' && !scanner_isspace(*p))
			p++;
	}
	if (nfields != 5)
		cron_error(expr, psprintf("It has %d field%s, not 5.", nfields,
								  nfields == 1 ? "" : "s"));

	for (int i = 0; i < 5; i++)
		masks[i] = cron_parse_field(expr, i, fields[i]);

	memset(cron, 0, sizeof(RcCron));
	cron->minutes = masks[0];
	cron->hours = (uint32) masks[1];
	cron->days = (uint32) masks[2];
	cron->months = (uint32) masks[3];
	/* Sunday is 0 and 7 */
	cron->weekdays = (uint32) (masks[4] & 0x7F);
	if (masks[4] & (UINT64CONST(1) << 7))
		cron->weekdays |= 1;
	cron->days_star = (fields[2][0] == '*');
	cron->weekdays_star = (fields[4][0] == '*');
	cron->clock = (fields[0][0] == '*' || fields[1][0] == '*');

	/*
	 * When both day fields must match, the days of month must occur in some
	 * selected month (Feb 30 never does), or the expression never fires.
	 * Every date falls on every weekday eventually, so that is the only way
	 * an expression can never match.
	 */
	if (cron->days_star || cron->weekdays_star)
	{
		bool		possible = false;

		for (int m = 1; m <= 12 && !possible; m++)
		{
			if (!(cron->months & (1U << m)))
				continue;
			for (int d = 1; d <= day_tab[1][m - 1]; d++)
				if (cron->days & (1U << d))
					possible = true;
		}
		if (!possible)
			cron_field_error(expr, 2,
							 psprintf("no day \"%s\" exists in the months \"%s\", so the expression never matches.",
									  rc_shown(fields[2], 32), rc_shown(fields[3], 32)));
	}
	pfree(copy);
}

/* Whether day y-m-d matches the day fields, under Vixie's rule */
static bool
cron_day_matches(const RcCron *cron, int y, int m, int d)
{
	bool		dom = (cron->days & (1U << d)) != 0;
	bool		dow = (cron->weekdays & (1U << j2day(date2j(y, m, d)))) != 0;

	if (cron->days_star || cron->weekdays_star)
		return dom && dow;
	return dom || dow;
}

/* The instant of wall-clock time y-m-d h:mi in tz, or false if out of range */
static bool
cron_local_to_instant(int y, int m, int d, int h, int mi, pg_tz *tz,
					  TimestampTz *result)
{
	struct pg_tm tm = {0};
	int			tzoff;

	tm.tm_year = y;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	tzoff = DetermineTimeZoneOffset(&tm, tz);
	return tm2timestamp(&tm, 0, &tzoff, result) == 0 && IS_VALID_TIMESTAMP(*result);
}

/*
 * A daylight-saving change moves wall-clock time by less than this many
 * minutes (an hour in the usual zones, two at most in history).  Around a
 * change, the instants of wall-clock minutes are out of order by at most
 * that much: a skipped 02:30 is due at 03:30, after 03:00.
 */
#define RC_CRON_DST_WINDOW	180

/* A wall-clock minute as one number: minutes since the Julian day 0 */
static int64
cron_wall_key(int y, int m, int d, int h, int mi)
{
	return (int64) date2j(y, m, d) * 1440 + h * 60 + mi;
}

/* The wall-clock minute of a key */
static void
cron_wall_of_key(int64 key, int *y, int *m, int *d, int *h, int *mi)
{
	j2date((int) (key / 1440), y, m, d);
	*h = (int) (key % 1440) / 60;
	*mi = (int) (key % 60);
}

/* The wall-clock minute in tz of an instant (seconds dropped) */
static int64
cron_wall_key_of(TimestampTz t, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	/* (before Julian day 0, locally, the key would be negative) */
	if (timestamp2tm(t, &tzoff, &tm, &fsec, NULL, tz) != 0 ||
		date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return cron_wall_key(tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/*
 * The clock's offset from UTC in tz at instant t (seconds west, as
 * PostgreSQL counts it), or false near the ends of the timestamp range.
 */
static bool
cron_offset_at(TimestampTz t, pg_tz *tz, int *tzoff)
{
	struct pg_tm tm;
	fsec_t		fsec;

	return IS_VALID_TIMESTAMP(t) && timestamp2tm(t, tzoff, &tm, &fsec, NULL, tz) == 0;
}

/*
 * Whether tz's clock may change within RC_CRON_DST_WINDOW minutes of t:
 * its offset then differs from its offset at t.  A side past the end of
 * the timestamp range does not count: no clock changes there.
 */
static bool
cron_change_near(TimestampTz t, pg_tz *tz)
{
	int			at,
				then;

	if (!cron_offset_at(t, tz, &at))
		return true;			/* cannot tell */
	for (int side = -1; side <= 1; side += 2)
		if (cron_offset_at(t + side * RC_CRON_DST_WINDOW * USECS_PER_MINUTE, tz, &then) &&
			then != at)
			return true;
	return false;
}

/*
 * The instants at which the matching wall-clock minute y-m-d h:mi in tz
 * is due, in order: stores them in t[] and returns how many (0 to 2).
 * Most minutes occur once.  Of one that a daylight-saving change repeats
 * or skips, an expression due as the clock shows it (cron->clock) is due
 * at each time the clock shows it, twice or never; any other at the
 * instant PostgreSQL maps the wall-clock time to.  The clock's offsets
 * from UTC that can give the minute are those in force RC_CRON_DST_WINDOW
 * minutes either side of that instant.
 */
static int
cron_due_instants(const RcCron *cron, int y, int m, int d, int h, int mi, pg_tz *tz,
				  TimestampTz t[2])
{
	TimestampTz mapped;
	int64		key;
	int			n = 0;

	if (!cron_local_to_instant(y, m, d, h, mi, tz, &mapped))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	t[0] = mapped;
	if (!cron->clock)
		return 1;

	/*
	 * Far from a change, the minute occurs once, at the instant it maps
	 * to, or not at all: a time a change of more than RC_CRON_DST_WINDOW
	 * skips (a zone that skipped a day) maps to an instant that far on.
	 */
	key = cron_wall_key(y, m, d, h, mi);
	if (!cron_change_near(mapped, tz))
		return cron_wall_key_of(mapped, tz) == key ? 1 : 0;
	for (int side = -1; side <= 1; side += 2)
	{
		struct pg_tm tm = {0};
		int			tzoff;
		TimestampTz at;

		/* the minute read with the offset in force then, if the clock shows it */
		if (!cron_offset_at(mapped + side * RC_CRON_DST_WINDOW * USECS_PER_MINUTE, tz, &tzoff))
			continue;
		tm.tm_year = y;
		tm.tm_mon = m;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		if (tm2timestamp(&tm, 0, &tzoff, &at) != 0 || !IS_VALID_TIMESTAMP(at) ||
			cron_wall_key_of(at, tz) != key)
			continue;
		if (n == 1 && t[0] == at)
			continue;
		t[n++] = at;
	}
	if (n == 2 && t[0] > t[1])
	{
		TimestampTz first = t[1];

		t[1] = t[0];
		t[0] = first;
	}
	return n;
}

/*
 * Walks the matching wall-clock minutes in tz forward from key "from"
 * (itself included) up to key "limit", and returns the first whose instant
 * is strictly after "after": sets *t and *key.  False if none by limit,
 * or within RC_CRON_MAX_YEARS.
 */
static bool
cron_walk_forward(const RcCron *cron, int64 from, int64 limit, TimestampTz after,
				  pg_tz *tz, TimestampTz *t, int64 *key)
{
	int			y,
				m,
				d,
				h,
				mi,
				ylimit,
				n;
	TimestampTz due[2];

	cron_wall_of_key(from, &y, &m, &d, &h, &mi);
	ylimit = y + RC_CRON_MAX_YEARS;
	for (; y <= ylimit; y++, m = 1, d = 1, h = 0, mi = 0)
	{
		for (; m <= 12; m++, d = 1, h = 0, mi = 0)
		{
			if (!(cron->months & (1U << m)))
				continue;
			for (; d <= day_tab[isleap(y)][m - 1]; d++, h = 0, mi = 0)
			{
				if (cron_wall_key(y, m, d, 0, 0) > limit)
					return false;
				if (!cron_day_matches(cron, y, m, d))
					continue;
				for (; h <= 23; h++, mi = 0)
				{
					if (!(cron->hours & (1U << h)))
						continue;
					for (; mi <= 59; mi++)
					{
						if (!(cron->minutes & (UINT64CONST(1) << mi)))
							continue;
						if (cron_wall_key(y, m, d, h, mi) > limit)
							return false;
						n = cron_due_instants(cron, y, m, d, h, mi, tz, due);
						for (int i = 0; i < n; i++)
						{
							if (due[i] > after)
							{
								*t = due[i];
								*key = cron_wall_key(y, m, d, h, mi);
								return true;
							}
						}
					}
				}
			}
		}
	}
	return false;
}

/*
 * The same backward: from key "from" (included) down to key "limit", the
 * first matching minute whose instant is at or before "at_or_before".
 */
static bool
cron_walk_backward(const RcCron *cron, int64 from, int64 limit, TimestampTz at_or_before,
				   pg_tz *tz, TimestampTz *t, int64 *key)
{
	int			y,
				m,
				d,
				h,
				mi,
				ylimit,
				n;
	TimestampTz due[2];

	cron_wall_of_key(from, &y, &m, &d, &h, &mi);
	ylimit = y - RC_CRON_MAX_YEARS;
	/* d = 32 stands for "the last day of the month" */
	for (; y >= ylimit; y--, m = 12, d = 32, h = 23, mi = 59)
	{
		for (; m >= 1; m--, d = 32, h = 23, mi = 59)
		{
			if (!(cron->months & (1U << m)))
				continue;
			if (d > day_tab[isleap(y)][m - 1])
				d = day_tab[isleap(y)][m - 1];
			for (; d >= 1; d--, h = 23, mi = 59)
			{
				if (cron_wall_key(y, m, d, 23, 59) < limit)
					return false;
				if (!cron_day_matches(cron, y, m, d))
					continue;
				for (; h >= 0; h--, mi = 59)
				{
					if (!(cron->hours & (1U << h)))
						continue;
					for (; mi >= 0; mi--)
					{
						if (!(cron->minutes & (UINT64CONST(1) << mi)))
							continue;
						if (cron_wall_key(y, m, d, h, mi) < limit)
							return false;
						n = cron_due_instants(cron, y, m, d, h, mi, tz, due);
						for (int i = n - 1; i >= 0; i--)
						{
							if (due[i] <= at_or_before)
							{
								*t = due[i];
								*key = cron_wall_key(y, m, d, h, mi);
								return true;
							}
						}
					}
				}
			}
		}
	}
	return false;
}

/*
 * The earliest instant strictly after "after" of a whole minute that
 * matches, read as wall-clock time in tz.  Walking the wall clock from
 * after's own minute would miss the due time of a minute that comes
 * earlier on the clock but later in time, across a daylight-saving change
 * (a repeated 01:30, due at its second occurrence, seen from the first
 * 01:45; a skipped 02:30, due at 03:30, seen from 03:10): so the walk
 * starts RC_CRON_DST_WINDOW minutes earlier on the clock, and after the
 * first match goes on as far again for one that is earlier in time.
 */
TimestampTz
rc_cron_next(const RcCron *cron, TimestampTz after, pg_tz *tz)
{
	TimestampTz back = after - RC_CRON_DST_WINDOW * USECS_PER_MINUTE;
	TimestampTz best;
	TimestampTz t;
	int64		first;
	int64		key;

	if (TIMESTAMP_NOT_FINITE(after))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("A cron expression's next time must follow a finite time.")));
	/* (no change of the clock near: nothing earlier on it comes later) */
	if (!IS_VALID_TIMESTAMP(back) || !cron_change_near(after, tz))
		back = after;
	if (!cron_walk_forward(cron, cron_wall_key_of(back, tz), PG_INT64_MAX, after, tz,
						   &best, &first))
		elog(ERROR, "no time matches the cron expression within %d years", RC_CRON_MAX_YEARS);
	/* with no change of the clock near, nothing later on it comes sooner */
	if (!cron_change_near(best, tz))
		return best;
	key = first;
	while (cron_walk_forward(cron, key + 1, first + RC_CRON_DST_WINDOW, after, tz, &t, &key))
		if (t < best)
			best = t;
	return best;
}

/*
 * The latest instant at or before "at_or_before" of a whole minute that
 * matches, read as wall-clock time in tz: rc_cron_next's mirror.  Used to
 * find the latest missed due time.
 */
TimestampTz
rc_cron_prev(const RcCron *cron, TimestampTz at_or_before, pg_tz *tz)
{
	TimestampTz ahead = at_or_before + RC_CRON_DST_WINDOW * USECS_PER_MINUTE;
	TimestampTz best;
	TimestampTz t;
	int64		first;
	int64		key;

	if (TIMESTAMP_NOT_FINITE(at_or_before))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range"),
				 errdetail("A cron expression's previous time must precede a finite time.")));
	if (!IS_VALID_TIMESTAMP(ahead) || !cron_change_near(at_or_before, tz))
		ahead = at_or_before;
	if (!cron_walk_backward(cron, cron_wall_key_of(ahead, tz), PG_INT64_MIN, at_or_before, tz,
							&best, &first))
		elog(ERROR, "no time matches the cron expression within %d years", RC_CRON_MAX_YEARS);
	if (!cron_change_near(best, tz))
		return best;
	key = first;
	while (cron_walk_backward(cron, key - 1, first - RC_CRON_DST_WINDOW, at_or_before, tz, &t, &key))
		if (t > best)
			best = t;
	return best;
}

/*
 * Looks up a time zone by name, or raises 22023.  A name is read as SET
 * TimeZone reads one, POSIX rules included ("UTC+2" is two hours west);
 * a bare offset such as "+02" or "2", which SET TimeZone reads as hours
 * east and POSIX as hours west, is refused rather than read either way.
 */
pg_tz *
rc_lookup_timezone(const char *name)
{
	pg_tz	   *tz;
	const char *first = name;

	/* (after any white space, which strtod() in SET TimeZone skips too) */
	while (scanner_isspace(*first))
		first++;
	if (*first == '+' || *first == '-' || isdigit((unsigned char) *first))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" is an offset, not a zone name", rc_shown(name, 64)),
				 errdetail("SET TimeZone reads a bare offset as hours east of UTC, POSIX time zone rules as hours west."),
				 errhint("Use a zone name such as \"Europe/Berlin\", or for a fixed offset an Etc name, whose sign is that of POSIX: \"Etc/GMT-2\" is two hours east of UTC.")));
	tz = pg_tzset(name);
	if (tz == NULL || !pg_tz_acceptable(tz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 /* no zone name is that long: its start is enough */
				 errmsg("time zone \"%s\" not recognized",
						strlen(name) > TZ_STRLEN_MAX ? rc_shown(name, 32) : name),
				 errhint("Use a name from pg_timezone_names, such as \"UTC\" or \"Europe/Berlin\".")));
	return tz;
}

/*
 * role_cluster.cron_next(expr text, after timestamptz DEFAULT now(),
 *						  timezone text DEFAULT 'UTC') → timestamptz
 *
 * The first time strictly after "after" that expr matches, its fields read
 * in the given time zone.  Raises 22023 for a bad expression or zone.
 */
Datum
rc_cron_next_sql(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz after = PG_GETARG_TIMESTAMPTZ(1);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(2));
	RcCron		cron;
	pg_tz	   *tz;

	rc_cron_parse(expr, &cron);
	tz = rc_lookup_timezone(zone);
	PG_RETURN_TIMESTAMPTZ(rc_cron_next(&cron, after, tz));
}

/*
 * role_cluster.cron_prev(expr text, at_or_before timestamptz DEFAULT now(),
 *						  timezone text DEFAULT 'UTC') → timestamptz
 *
 * The latest time at or before "at_or_before" that expr matches.
 */
Datum
rc_cron_prev_sql(PG_FUNCTION_ARGS)
{
	char	   *expr = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz at_or_before = PG_GETARG_TIMESTAMPTZ(1);
	char	   *zone = text_to_cstring(PG_GETARG_TEXT_PP(2));
	RcCron		cron;
	pg_tz	   *tz;

	rc_cron_parse(expr, &cron);
	tz = rc_lookup_timezone(zone);
	PG_RETURN_TIMESTAMPTZ(rc_cron_prev(&cron, at_or_before, tz));
}
