SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;

-- The worker-facing SQL: cron expressions, schedules, fire_schedules(),
-- prune(), wake_worker() and the counters.  The worker itself runs in the
-- database "postgres" (role_cluster.database), where no test installs the
-- extension, so it never touches this database: everything here is called
-- by hand.  Its behaviour is tested in test/t/02*.pl.

SET TimeZone = 'UTC';

--
-- cron_next: the first whole minute strictly after "after"
--
SELECT role_cluster.cron_next('*/15 * * * *', '2024-01-01 10:07:30+00');
-- any white space separates fields: a line break from a file is no field
SELECT role_cluster.cron_next(E'*/15\t*\n* * *\r\n', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next(E' @hourly\r\n', '2024-01-01 10:07:30+00');
-- a POSIX rule is read as SET TimeZone reads it: UTC+2 is two hours west
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01 00:00:00+00', 'UTC+2'),
	   role_cluster.cron_next('0 12 * * *', '2024-01-01 00:00:00+00', 'Etc/GMT-2');
SELECT role_cluster.cron_next('*/15 * * * *', '2024-01-01 10:15:00+00');	-- strictly after
SELECT role_cluster.cron_next('* * * * *', '2024-12-31 23:59:59.5+00');	-- year carry
SELECT role_cluster.cron_next('0 0 1 1 *', '2024-01-01 00:00:00+00');
SELECT role_cluster.cron_next('5,10,50-52 3 * * *', '2024-01-01 03:50:00+00');
SELECT role_cluster.cron_next('0 9-17/4 * * *', '2024-01-01 10:00:00+00');
SELECT role_cluster.cron_next('30/10 * * * *', '2024-01-01 10:00:00+00');	-- a/n = a-max/n
SELECT role_cluster.cron_next('30/10 * * * *', '2024-01-01 10:30:00+00');	-- then 40, not 30 an hour later
SELECT role_cluster.cron_next('0 12 * jan,JUL *', '2024-02-01 00:00:00+00');
SELECT role_cluster.cron_next('0 12 * mar-may *', '2024-06-01 00:00:00+00');
SELECT role_cluster.cron_next('0 0 31 * *', '2024-04-01 00:00:00+00');	-- April has no 31st
SELECT role_cluster.cron_next('0 0 29 2 *', '2024-03-01 00:00:00+00');	-- the next leap year
SELECT role_cluster.cron_next('0 0 29 2 *', '2096-03-01 00:00:00+00');	-- 2100 is no leap year
-- day of week: 0 and 7 are Sunday, names work, also in ranges
SELECT role_cluster.cron_next('0 0 * * 0', '2024-01-01 00:00:00+00');	-- 2024-01-01 is a Monday
SELECT role_cluster.cron_next('0 0 * * 7', '2024-01-01 00:00:00+00');
SELECT role_cluster.cron_next('0 0 * * Sun', '2024-01-01 00:00:00+00');
SELECT role_cluster.cron_next('0 0 * * sat-sat', '2024-01-01 00:00:00+00');
SELECT role_cluster.cron_next('0 0 * * 5-7', '2024-01-01 00:00:00+00');
-- Vixie's rule: both day fields restricted means either; a '*' field means both
SELECT role_cluster.cron_next('0 0 13 * fri', '2024-01-01 00:00:00+00');	-- Friday the 5th
SELECT role_cluster.cron_next('0 0 13 * fri', '2024-01-06 00:00:00+00');	-- the 12th (Fri), not the 13th
SELECT role_cluster.cron_next('0 0 */2 * fri', '2024-01-06 00:00:00+00');	-- odd day AND Friday
SELECT role_cluster.cron_next('0 0 * * fri', '2024-01-06 00:00:00+00');
SELECT role_cluster.cron_next('0 0 29 2 mon', '2024-03-01 00:00:00+00');	-- Feb 29 or a Monday in Feb
-- nicknames
SELECT role_cluster.cron_next('@hourly', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('@daily', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('@midnight', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('@weekly', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('@monthly', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('  @YEARLY  ', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_next('@annually', '2024-01-01 10:07:30+00');
-- tabs and extra spaces separate fields too
SELECT role_cluster.cron_next(E' 0\t12  *  * * ', '2024-01-01 10:07:30+00');

-- time zones: the fields are read in the zone given, never the session's
SELECT role_cluster.cron_next('0 9 * * *', '2024-01-01 00:00:00+00', 'Europe/Berlin');
SET TimeZone = 'Asia/Tokyo';
SELECT role_cluster.cron_next('0 9 * * *', '2024-01-01 00:00:00+00') AT TIME ZONE 'UTC';
RESET TimeZone;
SET TimeZone = 'UTC';
-- spring forward: 02:30 does not exist on 2024-03-10 in New York
SELECT role_cluster.cron_next('30 2 * * *', '2024-03-10 00:00:00-05', 'America/New_York');
SELECT role_cluster.cron_next('30 2 * * *', '2024-03-10 12:00:00-04', 'America/New_York');
-- fall back: 01:30 happens twice on 2024-11-03, and is due once
SELECT role_cluster.cron_next('30 1 * * *', '2024-11-03 00:00:00-04', 'America/New_York');
SELECT role_cluster.cron_next('30 1 * * *', '2024-11-03 06:30:00+00', 'America/New_York');
-- started inside the change, that day's due time is not skipped: the
-- repeated 01:30 (due at its second occurrence, 06:30+00) seen from the
-- first 01:45, the missing 02:30 (due at 03:30 EDT, 07:30+00) from 03:10
SELECT role_cluster.cron_next('30 1 * * *', '2024-11-03 05:45:00+00', 'America/New_York');
SELECT role_cluster.cron_next('30 2 * * *', '2024-03-10 07:10:00+00', 'America/New_York');
-- An expression whose minute or hour begins with '*' is due as the clock
-- shows each matching minute (Vixie cron's rule): every five minutes of
-- the three hours around the fall-back, both passes of 01:xx included ...
WITH RECURSIVE w(t) AS (
	SELECT role_cluster.cron_next('*/5 * * * *', '2024-11-03 04:00:00+00', 'America/New_York')
	UNION ALL
	SELECT role_cluster.cron_next('*/5 * * * *', t, 'America/New_York') FROM w
	 WHERE t < '2024-11-03 07:00:00+00')
SELECT count(*) FILTER (WHERE t <= '2024-11-03 07:00:00+00') AS runs, max(gap) AS longest_gap
  FROM (SELECT t, lead(t) OVER (ORDER BY t) - t AS gap FROM w) x;
-- ... @hourly at both 01:00s (05:00 and 06:00 UTC) ...
WITH RECURSIVE w(n, t) AS (
	SELECT 1, role_cluster.cron_next('@hourly', '2024-11-03 03:30:00+00', 'America/New_York')
	UNION ALL
	SELECT n + 1, role_cluster.cron_next('@hourly', t, 'America/New_York') FROM w WHERE n < 4)
SELECT t FROM w;
-- ... and no minute of the hour the spring-forward skips: 01:30 EST, then 03:00 EDT;
-- every minute of 02:xx, not that day at all
SELECT role_cluster.cron_next('*/30 * * * *', '2024-03-10 06:00:00+00', 'America/New_York'),
	   role_cluster.cron_next('*/30 * * * *', '2024-03-10 06:30:00+00', 'America/New_York'),
	   role_cluster.cron_next('* 2 * * *', '2024-03-10 05:00:00+00', 'America/New_York');
-- cron_prev alike: the first pass's 01:55, the second pass's 01:00
SELECT role_cluster.cron_prev('*/5 * * * *', '2024-11-03 05:57:00+00', 'America/New_York'),
	   role_cluster.cron_prev('*/5 * * * *', '2024-11-03 06:02:00+00', 'America/New_York'),
	   role_cluster.cron_prev('* 2 * * *', '2024-03-11 05:00:00+00', 'America/New_York');
-- a day a zone skipped (Samoa, 2011-12-30): no minute of it is due, the
-- next runs are the first of the day after (10:00 UTC), and a schedule of
-- that date waits a year
SELECT role_cluster.cron_next('0 */3 * * *', '2011-12-30 07:00:00+00', 'Pacific/Apia'),
	   role_cluster.cron_next('*/5 * * * *', '2011-12-30 09:55:00+00', 'Pacific/Apia'),
	   role_cluster.cron_next('0 * 30 12 *', '2011-12-29 00:00:00+00', 'Pacific/Apia'),
	   role_cluster.cron_prev('0 * 30 12 *', '2012-01-05 00:00:00+00', 'Pacific/Apia');
-- at the ends of the timestamp range
SELECT role_cluster.cron_next('* * * * *', '294276-12-31 23:57:00+00', 'UTC'),
	   role_cluster.cron_prev('* * * * *', '4714-11-24 00:03:00+00 BC', 'UTC');
-- and the two agree across both changes, for either kind of expression
SELECT e, count(*) FILTER (
		WHERE role_cluster.cron_prev(e, role_cluster.cron_next(e, g.t, 'America/New_York'), 'America/New_York')
			  <> role_cluster.cron_next(e, g.t, 'America/New_York')
		   OR role_cluster.cron_next(e, role_cluster.cron_prev(e, g.t, 'America/New_York'), 'America/New_York')
			  <= g.t) AS mismatches
  FROM (VALUES ('*/7 * * * *'), ('15 */2 * * *'), ('45 1,2 * * *')) AS x(e),
	   (SELECT generate_series(timestamptz '2024-03-09 12:00+00', '2024-03-11 12:00+00', '11 minutes')
		UNION ALL
		SELECT generate_series(timestamptz '2024-11-02 12:00+00', '2024-11-04 12:00+00', '11 minutes')) AS g(t)
 GROUP BY e ORDER BY e;

-- cron_prev: the latest at or before
SELECT role_cluster.cron_prev('*/15 * * * *', '2024-01-01 10:07:30+00');
SELECT role_cluster.cron_prev('*/15 * * * *', '2024-01-01 10:15:00+00');	-- inclusive
SELECT role_cluster.cron_prev('0 0 29 2 *', '2024-03-01 00:00:00+00');
SELECT role_cluster.cron_prev('0 0 29 2 *', '2024-02-28 00:00:00+00');
SELECT role_cluster.cron_prev('0 0 31 * *', '2024-05-01 00:00:00+00');	-- April has no 31st
SELECT role_cluster.cron_prev('0 0 1 1 *', '2024-01-01 00:00:00+00');
SELECT role_cluster.cron_prev('30 2 * * *', '2024-03-10 12:00:00-04', 'America/New_York');
SELECT role_cluster.cron_prev('30 2 * * *', '2024-03-10 07:40:00+00', 'America/New_York');
SELECT role_cluster.cron_prev('30 1 * * *', '2024-11-03 05:45:00+00', 'America/New_York');
-- next and prev agree over a year of an irregular expression
SELECT count(*) AS mismatches
  FROM generate_series(timestamptz '2024-01-01', '2024-12-31', '7 hours 13 minutes') AS g(t)
 WHERE role_cluster.cron_prev('7,37 */5 1-10,20 * mon,fri',
							  role_cluster.cron_next('7,37 */5 1-10,20 * mon,fri', g.t))
	   <> role_cluster.cron_next('7,37 */5 1-10,20 * mon,fri', g.t);
-- STRICT: NULL in, NULL out
SELECT role_cluster.cron_next(NULL, now()) IS NULL AS null_expr,
	   role_cluster.cron_next('* * * * *', NULL) IS NULL AS null_after;
-- defaults: after now(), in UTC
SELECT role_cluster.cron_next('* * * * *') > now() AS after_now,
	   role_cluster.cron_prev('* * * * *') <= now() AS before_now;

--
-- Bad expressions: 22023, naming the expression and the field, with a hint
--
\set VERBOSITY default
SELECT role_cluster.cron_next('', now());
SELECT role_cluster.cron_next('* * * *', now());
SELECT role_cluster.cron_next('0 0 * * * *', now());
SELECT role_cluster.cron_next('60 * * * *', now());
SELECT role_cluster.cron_next('* 24 * * *', now());
SELECT role_cluster.cron_next('* * 0 * *', now());
SELECT role_cluster.cron_next('* * 32 * *', now());
SELECT role_cluster.cron_next('* * * 13 *', now());
SELECT role_cluster.cron_next('* * * * 8', now());
SELECT role_cluster.cron_next('* * * foo *', now());
SELECT role_cluster.cron_next('* * * * funday', now());
SELECT role_cluster.cron_next('jan * * * *', now());
SELECT role_cluster.cron_next('5-1 * * * *', now());
SELECT role_cluster.cron_next('* * * * fri-mon', now());
SELECT role_cluster.cron_next('*/0 * * * *', now());
SELECT role_cluster.cron_next('*/60 * * * *', now());
SELECT role_cluster.cron_next('*/x * * * *', now());
SELECT role_cluster.cron_next('1-/5 * * * *', now());
SELECT role_cluster.cron_next('1- * * * *', now());
SELECT role_cluster.cron_next('1,,2 * * * *', now());
SELECT role_cluster.cron_next('1, * * * *', now());
SELECT role_cluster.cron_next('*5 * * * *', now());
SELECT role_cluster.cron_next('1-5-7 * * * *', now());
SELECT role_cluster.cron_next('? * * * *', now());
SELECT role_cluster.cron_next('½ * * * *', now());		-- the whole character is named
SELECT role_cluster.cron_next('99999999999 * * * *', now());
SELECT role_cluster.cron_next('0 0 30 2 *', now());		-- never matches
SELECT role_cluster.cron_next('0 0 31 4,6,9,11 *', now());
SELECT role_cluster.cron_next('@reboot', now());
SELECT role_cluster.cron_next('@daily 0', now());
SELECT role_cluster.cron_next('* * * * *', now(), 'Mars/Olympus_Mons');
SELECT role_cluster.cron_next('* * * * *', 'infinity');
SELECT role_cluster.cron_prev('* * * * *', '-infinity');
-- the first instant there is, west of Greenwich: a local date before the range
SELECT role_cluster.cron_next('* * * * *', '4714-11-24 00:00:00+00 BC', 'America/New_York');
-- the last whole minute there is: the next one is past the range
SELECT role_cluster.cron_next('* * * * *', '294276-12-31 23:59:00+00', 'UTC');
-- the first day there is: no noon on or before its midnight
SELECT role_cluster.cron_prev('0 12 * * *', '4714-11-24 00:00:00+00 BC', 'UTC');
-- Feb 31 with a restricted day of week is fine (Vixie's OR: any Monday in Feb)
SELECT role_cluster.cron_next('0 0 31 2 mon', '2024-01-01 00:00:00+00');
\set VERBOSITY terse

--
-- Fixed intervals: months and days on the calendar of the zone given,
-- hours, minutes and seconds as elapsed time
--
SET TimeZone = 'UTC';
-- fall back in New York, 2024-11-03: none of the repeated hour's 5 minutes
-- is skipped (wall-clock arithmetic went from 04:55+00 to 06:00+00)
SELECT role_cluster.every_next('2024-11-03 04:55:00+00', '5 minutes', 'America/New_York');
SELECT role_cluster.every_next('2024-11-03 05:00:00+00', '1 hour', 'America/New_York');
SELECT role_cluster.every_next('2024-11-03 04:00:00+00', '1 hour', 'America/New_York', 3);
-- spring forward, 2024-03-10: an hour is an hour
SELECT role_cluster.every_next('2024-03-10 06:30:00+00', '1 hour', 'America/New_York');
-- a day is the same local time the next day: 09:00 EDT, then 09:00 EST
SELECT role_cluster.every_next('2024-11-02 13:00:00+00', '1 day', 'America/New_York');
-- ... unless that day lacks it: 02:30 EST, then 03:30 EDT, then 03:30 (each
-- due time counts from the one before)
SELECT role_cluster.every_next('2024-03-09 07:30:00+00', '1 day', 'America/New_York');
SELECT role_cluster.every_next('2024-03-10 07:30:00+00', '1 day', 'America/New_York');
-- a month from the 31st is the month's last day; two at once, the 31st
SELECT role_cluster.every_next('2024-01-31 00:00:00+00', '1 month');
SELECT role_cluster.every_next('2024-01-31 00:00:00+00', '1 month', 'UTC', 2);
SELECT role_cluster.every_next('2024-02-29 12:00:00+00', '1 year');
SELECT role_cluster.every_next('2024-01-01 00:00:00+00', '1 mon 1 day 1 hour');
-- a zone named like an abbreviation is the zone: CET has summer time, so
-- noon on 30 March is noon on 31 March, 10:00+00 (AT TIME ZONE 'CET' read
-- the fixed +01:00 abbreviation: 11:00+00)
SELECT role_cluster.every_next('2024-03-30 11:00:00+00', '1 day', 'CET');
-- the same as timestamptz + interval in a session of the zone, months
-- first: a year of times, through both changes
SET TimeZone = 'America/New_York';
SELECT count(*) AS mismatches
  FROM generate_series(timestamptz '2024-01-01', '2025-01-01', '3 hours 7 minutes') AS g(t),
	   unnest('{5 minutes, 1 hour, 1 day, 1 day 2 hours, 7 days, 1 mon, 1 mon 1 day, 1 year}'::interval[]) AS i
 WHERE role_cluster.every_next(g.t, i, 'America/New_York') <> g.t + i;
-- and from the first instant, whose local date here (4:56 behind UTC then)
-- is the day before the first Julian day
SELECT i, role_cluster.every_next('4714-11-24 00:00:00+00 BC', i, 'America/New_York')
		  = timestamptz '4714-11-24 00:00:00+00 BC' + i AS same_as_postgres
  FROM (VALUES (interval '1 day'), ('1 mon'), ('1 mon 1 day 1 hour')) AS v(i);
SET TimeZone = 'UTC';
-- e.g. a month and a day from 02:30 on 10 February: 10 March lacks 02:30
-- (03:30 EDT), and a day later is 03:30 again
SELECT role_cluster.every_next('2024-02-10 07:30:00+00', '1 mon 1 day', 'America/New_York');
-- whatever the session's TimeZone
SET TimeZone = 'Asia/Tokyo';
SELECT role_cluster.every_next('2024-11-02 13:00:00+00', '1 day', 'America/New_York') AT TIME ZONE 'UTC';
SET TimeZone = 'UTC';
-- months counted across the years before 1 AD as PostgreSQL counts them
SELECT t, i, role_cluster.every_next(t, i) = t + i AS same_as_postgres
  FROM (VALUES (timestamptz '0044-03-15 12:00+00 BC', interval '1 mon'),
			   ('0044-01-31 12:00+00 BC', '1 mon'),
			   ('0001-11-15 12:00+00 BC', '3 mons'),
			   ('0002-12-31 00:00+00 BC', '14 mons 1 day')) AS v(t, i);
-- n = 0: the time itself, even the first 01:30 of a repeated hour
SELECT role_cluster.every_next('2024-01-01 00:00:00+00', '1 day', 'UTC', 0);
SELECT role_cluster.every_next('2024-11-03 05:30:00+00', '1 day', 'America/New_York', 0);
-- every_latest: the latest due time at or before, stepping as fire_schedules does
SELECT role_cluster.every_latest('2024-01-01 00:00:00+00', '5 minutes', '2024-01-01 01:02:00+00');
SELECT role_cluster.every_latest('2024-01-01 00:00:00+00', '5 minutes', '2024-01-01 01:00:00+00');
SELECT role_cluster.every_latest('2024-01-31 00:00:00+00', '1 month', '2024-06-30 12:00:00+00');
-- a bound that is a due time itself, on the calendar: that due time
SELECT role_cluster.every_latest('2024-01-01 00:00:00+00', '1 day', '2024-01-03 00:00:00+00');
SELECT role_cluster.every_latest('2024-01-31 00:00:00+00', '1 month', '2024-02-29 00:00:00+00');
SELECT role_cluster.every_latest('2024-03-09 07:30:00+00', '1 day', '2024-03-12 08:00:00+00',
								 'America/New_York');
SELECT role_cluster.every_latest('2024-01-01 00:00:00+00', '1 day', '2023-06-01 00:00:00+00');
-- from the first instant there is to near the last: the span overflows a
-- signed 64-bit difference, not the answer
SELECT role_cluster.every_latest('4714-11-24 00:00:00+00 BC', '1 hour', '294276-12-31 00:30:00+00');
-- a next step past the end of the range is past the bound too
SELECT role_cluster.every_latest('294276-11-01 00:00:00+00', '1 month', '294276-12-15 00:00:00+00');
-- STRICT
SELECT role_cluster.every_next(NULL, '1 day') IS NULL AS null_after,
	   role_cluster.every_latest(now(), NULL, now()) IS NULL AS null_every;
-- bad intervals, zones and ranges
\set VERBOSITY default
SELECT role_cluster.every_next('2024-01-01', '0 seconds');
SELECT role_cluster.every_next('2024-01-01', '-1 hour');
SELECT role_cluster.every_next('2024-01-01', '1 mon -29 days');
SELECT role_cluster.every_latest('2024-01-01', '-1 year 365 days 6 hours', '2025-01-01');
SELECT role_cluster.every_next('2024-01-01', '1 day', 'Nowhere/Special');
-- shorter than a second: due at every loop of the worker
SELECT role_cluster.every_next('2024-01-01', '999 milliseconds');
-- a bare offset: SET TimeZone and POSIX read its sign each their own way
SELECT role_cluster.every_next('2024-01-01', '1 day', '+02');
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01', '2');
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01', '-3');
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01', E' \t+02');
-- an expression of any length: only its start is shown
SELECT role_cluster.cron_next(repeat('1', 5000) || ' * * * *', '2024-01-01');
-- a name longer than any zone's: only its start is shown
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01', repeat('x', 300));
-- (cut at a character boundary: 32 bytes would end inside the eleventh euro sign)
SELECT role_cluster.cron_next('0 12 * * *', '2024-01-01', repeat(U&'\20AC', 100));
SELECT role_cluster.every_next('2024-01-01', '1 day', 'UTC', -1);
SELECT role_cluster.every_next('294276-12-01', '1 month');
SELECT role_cluster.every_next('infinity', '1 day');
SELECT role_cluster.every_next('2024-01-01', '1000000000 days');
SELECT role_cluster.every_next('2024-01-01', '1 hour', 'UTC', 9223372036854775807);
-- each step's own range check, and PostgreSQL's arithmetic on the same:
-- a year past the Julian calendar's last
SELECT role_cluster.every_next('2024-01-01', '5874000 years');
SELECT timestamptz '2024-01-01' + interval '5874000 years';
-- a day past the last Julian day number
SELECT role_cluster.every_next('290000-01-01', '2144000000 days');
SELECT timestamptz '290000-01-01' + interval '2144000000 days';
-- to 15 June of the last Julian year, whose range ends on 3 June: IS_VALID_JULIAN
-- refuses all of that June
SELECT role_cluster.every_next('2026-06-15', '5872872 years');
SELECT timestamptz '2026-06-15' + interval '5872872 years';
SELECT role_cluster.every_latest('2024-01-01', '1 hour', 'infinity');
SELECT role_cluster.every_latest('-infinity', '1 hour', '2024-01-01');
\set VERBOSITY terse

--
-- schedule_before_write() is the BEFORE INSERT OR UPDATE row trigger of
-- role_cluster.schedule and nothing else
SELECT role_cluster.schedule_before_write();
CREATE TABLE schedule_misused (id int);
CREATE TRIGGER misused AFTER INSERT ON schedule_misused
	FOR EACH ROW EXECUTE FUNCTION role_cluster.schedule_before_write();
INSERT INTO schedule_misused VALUES (1);
DROP TRIGGER misused ON schedule_misused;
CREATE TRIGGER misused BEFORE INSERT ON schedule_misused
	FOR EACH ROW EXECUTE FUNCTION role_cluster.schedule_before_write();
INSERT INTO schedule_misused VALUES (1);
DROP TABLE schedule_misused;

-- Schedules: constraints and next_due
--
BEGIN;
INSERT INTO role_cluster.schedule (name, task_type, cron)
	VALUES ('five', 'metricsPush', '*/5 * * * *');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('hourly', 'storeMaintenance', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type, cron, timezone)
	VALUES ('berlin', 'metricsCalculate', '0 9 * * mon-fri', 'Europe/Berlin');
-- next_due: the first due time after now, in the schedule's zone
SELECT name, next_due = CASE name
		WHEN 'five' THEN role_cluster.cron_next('*/5 * * * *', now())
		WHEN 'hourly' THEN now() + interval '1 hour'
		WHEN 'berlin' THEN role_cluster.cron_next('0 9 * * mon-fri', now(), 'Europe/Berlin')
	END AS next_due_ok,
	enabled, catch_up, timezone, last_due IS NULL AS never_fired
  FROM role_cluster.schedule ORDER BY id;
COMMIT;

-- created_at and updated_at as an insert gives them (a restore's); an
-- update moves updated_at only
INSERT INTO role_cluster.schedule (name, task_type, every, created_at, updated_at)
	VALUES ('restored', 'storeMaintenance', '1 hour', '2020-01-01 00:00:00+00', '2021-01-01 00:00:00+00')
	RETURNING created_at, updated_at;
UPDATE role_cluster.schedule SET kind = 'again' WHERE name = 'restored'
	RETURNING created_at, updated_at = now() AS updated_now;
DELETE FROM role_cluster.schedule WHERE name = 'restored';

-- an explicit next_due anchors the schedule
INSERT INTO role_cluster.schedule (name, task_type, every, next_due)
	VALUES ('anchored', 'accountMaintenance', '1 day', '2030-01-01 03:00:00+00');
SELECT next_due FROM role_cluster.schedule WHERE name = 'anchored';

-- changing the timing recomputes next_due from now, unless it is set too
UPDATE role_cluster.schedule SET every = '2 days' WHERE name = 'anchored';
SELECT next_due > now() AND next_due <= now() + interval '2 days' AS recomputed
  FROM role_cluster.schedule WHERE name = 'anchored';
-- so does a change between intervals that = holds equal: calendar days
-- and elapsed hours step differently across a change of summer time
UPDATE role_cluster.schedule SET next_due = '2030-01-01 03:00:00+00' WHERE name = 'anchored';
UPDATE role_cluster.schedule SET every = '48 hours' WHERE name = 'anchored';
SELECT next_due > now() AND next_due <= now() + interval '2 days' AS recomputed
  FROM role_cluster.schedule WHERE name = 'anchored';
UPDATE role_cluster.schedule SET every = '3 days', next_due = '2031-01-01 03:00:00+00'
 WHERE name = 'anchored';
SELECT next_due FROM role_cluster.schedule WHERE name = 'anchored';
-- set to the value it has, next to a change of the timing, it stays too (a
-- script that writes every column), even when the statement is an
-- expression of it; only a statement that leaves it out starts from now
UPDATE role_cluster.schedule SET every = '4 days', next_due = '2031-01-01 03:00:00+00'
 WHERE name = 'anchored';
SELECT every, next_due FROM role_cluster.schedule WHERE name = 'anchored';
UPDATE role_cluster.schedule SET timezone = 'Europe/Berlin', next_due = next_due
 WHERE name = 'anchored';
SELECT timezone, next_due FROM role_cluster.schedule WHERE name = 'anchored';
UPDATE role_cluster.schedule SET every = '3 days', timezone = 'UTC', next_due = '2031-01-01 03:00:00+00'
 WHERE name = 'anchored';
-- re-enabling before next_due leaves it where it was
UPDATE role_cluster.schedule SET enabled = false WHERE name = 'anchored';
UPDATE role_cluster.schedule SET enabled = true WHERE name = 'anchored';
SELECT next_due FROM role_cluster.schedule WHERE name = 'anchored';
-- re-enabling after it skips what fell due while disabled, and the
-- interval schedule goes on with its own series (03:00 every 3 days)
UPDATE role_cluster.schedule SET enabled = false, next_due = '2020-01-01 03:00:00+00' WHERE name = 'anchored';
SELECT next_due FROM role_cluster.schedule WHERE name = 'anchored';
UPDATE role_cluster.schedule SET enabled = true WHERE name = 'anchored';
SELECT next_due > now() AS in_future, next_due - interval '3 days' <= now() AS first_after_now,
	   extract(epoch FROM next_due - '2020-01-01 03:00:00+00')::bigint % (3 * 86400) AS off_series
  FROM role_cluster.schedule WHERE name = 'anchored';
-- re-enabled by a statement that moves next_due, it goes from there (the
-- missed due times fire as catch_up says); one that sets it to the past
-- value it has skips them all the same
UPDATE role_cluster.schedule SET enabled = false WHERE name = 'anchored';
UPDATE role_cluster.schedule SET enabled = true, next_due = '2020-01-01 03:00:00+00' WHERE name = 'anchored';
SELECT next_due FROM role_cluster.schedule WHERE name = 'anchored';
UPDATE role_cluster.schedule SET enabled = false WHERE name = 'anchored';
UPDATE role_cluster.schedule SET enabled = true, next_due = next_due WHERE name = 'anchored';
SELECT next_due > now() AS skipped_to_future FROM role_cluster.schedule WHERE name = 'anchored';
-- a cron schedule: its next due time after now
INSERT INTO role_cluster.schedule (name, task_type, cron, enabled, next_due)
	VALUES ('cron off', 'storeMaintenance', '17 3 * * *', false, '2020-01-01 03:17:00+00');
UPDATE role_cluster.schedule SET enabled = true WHERE name = 'cron off';
SELECT next_due = role_cluster.cron_next('17 3 * * *', now()) AS next_cron_due
  FROM role_cluster.schedule WHERE name = 'cron off';
DELETE FROM role_cluster.schedule WHERE name = 'cron off';
-- setting next_due to NULL recomputes it
UPDATE role_cluster.schedule SET next_due = NULL WHERE name = 'anchored';
SELECT next_due > now() AS in_future FROM role_cluster.schedule WHERE name = 'anchored';

-- errors change nothing
\set VERBOSITY default
INSERT INTO role_cluster.schedule (name, task_type, cron)
	VALUES ('bad cron', 'metricsPush', '*/5 * * *');
UPDATE role_cluster.schedule SET cron = '0 25 * * *' WHERE name = 'five';
INSERT INTO role_cluster.schedule (name, task_type, cron, timezone)
	VALUES ('bad zone', 'metricsPush', '* * * * *', 'Nowhere/Special');
INSERT INTO role_cluster.schedule (name, task_type, every, timezone)
	VALUES ('bad zone', 'metricsPush', '1 hour', 'Nowhere/Special');
UPDATE role_cluster.schedule SET timezone = 'Nowhere/Special' WHERE name = 'hourly';
UPDATE role_cluster.schedule SET every = '1 mon -29 days' WHERE name = 'hourly';
-- even when = holds the two intervals equal: '1 mon -29 days' = '1 day'
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('daily', 'storeMaintenance', '1 day');
UPDATE role_cluster.schedule SET every = '1 mon -29 days' WHERE name = 'daily';
SELECT every FROM role_cluster.schedule WHERE name = 'daily';
DELETE FROM role_cluster.schedule WHERE name = 'daily';
\set VERBOSITY terse
INSERT INTO role_cluster.schedule (name, task_type, cron, every)
	VALUES ('both', 'metricsPush', '* * * * *', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type)
	VALUES ('neither', 'metricsPush');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('zero', 'metricsPush', '0 seconds');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('negative', 'metricsPush', '-1 hour');
INSERT INTO role_cluster.schedule (name, task_type, every, next_due)
	VALUES ('mixed', 'metricsPush', '1 mon -29 days', '2030-01-01');
INSERT INTO role_cluster.schedule (name, task_type, every, next_due)
	VALUES ('endless', 'metricsPush', '1 hour', '-infinity');
UPDATE role_cluster.schedule SET next_due = 'infinity' WHERE name = 'hourly';
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('', 'metricsPush', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type)
	VALUES (NULL, 'metricsPush');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('five', 'metricsPush', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type, every, catch_up)
	VALUES ('policy', 'metricsPush', '1 hour', 'some');
INSERT INTO role_cluster.schedule (name, task_type, every, max_attempts)
	VALUES ('attempts', 'metricsPush', '1 hour', 0);
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('push', 'pushNotifications', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type, every, shard_key)
	VALUES ('push', 'pushNotifications', '1 hour', '');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('type', 'noSuchType', '1 hour');
SELECT name FROM role_cluster.schedule ORDER BY id;

-- an hourly schedule across New York's autumn change fires every hour of
-- it, the repeated one included (wall-clock arithmetic skipped 05:00+00)
BEGIN;
INSERT INTO role_cluster.schedule (name, task_type, every, timezone, catch_up, next_due)
	VALUES ('dst', 'storeMaintenance', '1 hour', 'America/New_York', 'all', '2024-11-03 03:00:00+00');
SELECT role_cluster.fire_schedules() >= 6 AS fired;
SELECT f.due_at FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
 WHERE s.name = 'dst' AND f.due_at < '2024-11-03 09:00:00+00' ORDER BY f.due_at;
ROLLBACK;

--
-- fire_schedules() by hand.  One transaction, so that now() stays put and
-- every time below can be shown relative to it.
--
DELETE FROM role_cluster.schedule;
BEGIN;
INSERT INTO role_cluster.schedule (name, task_type, kind, payload, every, next_due, priority, max_attempts)
	VALUES ('behind', 'metricsPush', 'push', '{"x": 1}', '10 minutes', now() - interval '45 minutes', 3, 2);
INSERT INTO role_cluster.schedule (name, task_type, every, catch_up, next_due)
	VALUES ('behind all', 'metricsCalculate', '10 minutes', 'all', now() - interval '45 minutes');
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('not yet', 'storeMaintenance', '1 hour');
INSERT INTO role_cluster.schedule (name, task_type, every, enabled)
	VALUES ('off', 'storeMaintenance', '1 hour', false);
UPDATE role_cluster.schedule SET next_due = now() - interval '1 hour' WHERE name = 'off';
INSERT INTO role_cluster.schedule (name, task_type, cron, next_due)
	VALUES ('cron behind', 'accountMaintenance', '*/10 * * * *',
			role_cluster.cron_prev('*/10 * * * *', now() - interval '1 hour'));
INSERT INTO role_cluster.schedule (name, task_type, shard_key, every, next_due)
	VALUES ('push', 'pushNotifications', 'alice@example.org', '1 day', now());
-- a task that anyone could enqueue first, with a key made like the ones
-- firings once had: it changes nothing
SELECT role_cluster.enqueue('storeMaintenance', 'squatter', dedupe_key =>
		'schedule:' || (SELECT id FROM role_cluster.schedule WHERE name = 'push') || ':' ||
		extract(epoch FROM now())) IS NOT NULL AS squatted;
SELECT role_cluster.fire_schedules() AS fired;
-- 'latest' fired the latest missed due time once, 'all' each of them
SELECT s.name, f.due_at - now() AS due, f.fired_at = now() AS fired_now
  FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
 WHERE s.name <> 'cron behind'
 ORDER BY s.name, f.due_at;
SELECT f.due_at = role_cluster.cron_prev('*/10 * * * *', now()) AS latest_cron_due,
	   s.next_due = role_cluster.cron_next('*/10 * * * *', now()) AS next_cron_due
  FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
 WHERE s.name = 'cron behind';
SELECT name, next_due - now() AS next_due, last_due - now() AS last_due,
	   last_fired_at = now() AS fired_now, last_task_id IS NOT NULL AS has_task, last_error
  FROM role_cluster.schedule WHERE name <> 'cron behind' ORDER BY name;
-- the tasks: the schedule's fields, run_at = the due time, no dedupe key
-- (the squatter's key did not stand in for the push schedule's task)
SELECT s.name, t.task_type, t.kind, t.payload, t.shard_key, t.priority, t.max_attempts,
	   t.state, t.run_at = f.due_at AS run_at_due, t.dedupe_key
  FROM role_cluster.schedule_firing f
  JOIN role_cluster.schedule s ON s.id = f.schedule_id
  JOIN role_cluster.task t ON t.id = f.task_id
 ORDER BY s.name, f.due_at;
-- nothing is due any more
SELECT role_cluster.fire_schedules() AS fired_again;
COMMIT;

-- a due time that fired never fires again, even when next_due is set back
-- (and what the schedule last did stays as it was)
SELECT last_fired_at AS fired_at_before, last_task_id AS task_before
  FROM role_cluster.schedule WHERE name = 'behind all' \gset
UPDATE role_cluster.schedule
   SET next_due = (SELECT min(due_at) FROM role_cluster.schedule_firing f
					WHERE f.schedule_id = schedule.id)
 WHERE name = 'behind all';
SELECT role_cluster.fire_schedules() AS refired;
SELECT count(*) AS firings, count(DISTINCT task_id) AS tasks
  FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
 WHERE s.name = 'behind all';
SELECT next_due > now() AS ahead FROM role_cluster.schedule WHERE name = 'behind all';
SELECT last_fired_at = :'fired_at_before' AS fired_at_kept, last_task_id = :task_before AS task_kept
  FROM role_cluster.schedule WHERE name = 'behind all';

-- a schedule whose enqueue fails keeps its due time and says why; the
-- others fire regardless
CREATE FUNCTION regress_no_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.kind = 'boom' THEN
		RAISE EXCEPTION 'no boom today' USING DETAIL = 'The regress_no_boom trigger refuses kind boom.';
	END IF;
	IF NEW.kind = 'bare' THEN
		RAISE EXCEPTION 'no bare today';	-- no detail: none is shown
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER regress_no_boom BEFORE INSERT ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION regress_no_boom();
INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('boom', 'storeMaintenance', 'boom', '1 hour', now() - interval '1 minute'),
		   ('bare', 'storeMaintenance', 'bare', '1 hour', now() - interval '1 minute'),
		   ('fine', 'storeMaintenance', 'fine', '1 hour', now() - interval '1 minute');
\set VERBOSITY default
SELECT role_cluster.fire_schedules() AS fired;
\set VERBOSITY terse
SELECT name, next_due < now() AS still_due, last_error, last_due IS NOT NULL AS fired
  FROM role_cluster.schedule WHERE name IN ('bare', 'boom', 'fine') ORDER BY name;
DROP TRIGGER regress_no_boom ON role_cluster.task;
DROP FUNCTION regress_no_boom();
SELECT role_cluster.fire_schedules() AS fired;
SELECT name, next_due > now() AS ahead, last_error
  FROM role_cluster.schedule WHERE name IN ('bare', 'boom', 'fine') ORDER BY name;
-- an interval whose next due time is past the range is refused, with
-- next_due given as without
INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('huge', 'storeMaintenance', 'huge', '100000000 years', '2020-01-01 00:00:00+00');
INSERT INTO role_cluster.schedule (name, task_type, kind, every)
	VALUES ('huge', 'storeMaintenance', 'huge', '100000000 years');
INSERT INTO role_cluster.schedule (name, task_type, kind, every)
	VALUES ('huge', 'storeMaintenance', 'huge', '1 hour');
UPDATE role_cluster.schedule SET next_due = 'infinity' WHERE name = 'huge';
UPDATE role_cluster.schedule SET next_due = '294276-12-31 23:00:00+00' WHERE name = 'huge';
DELETE FROM role_cluster.schedule WHERE name = 'huge';
-- one written past the checks fails at its firing: last_error says why,
-- and the task its firing enqueued is rolled back, and not counted; no
-- later call could fire it either, so it is disabled
ALTER TABLE role_cluster.schedule DISABLE TRIGGER schedule_before_write;
INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('huge', 'storeMaintenance', 'huge', '100000000 years', '2020-01-01 00:00:00+00');
ALTER TABLE role_cluster.schedule ENABLE TRIGGER schedule_before_write;
SELECT role_cluster.fire_schedules() AS fired;
SELECT enabled, last_due IS NULL AS not_fired, last_error FROM role_cluster.schedule WHERE name = 'huge';
SELECT count(*) AS tasks FROM role_cluster.task WHERE kind = 'huge';
DELETE FROM role_cluster.schedule WHERE name = 'huge';
-- so is one whose next_due passes the write check (a due time follows
-- it) when the due time after that one is past the range: the firing's
-- own update of next_due fails; not tried again (and warned about) at
-- every call
INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('vast', 'storeMaintenance', 'vast', '150000 years', '2020-01-01 00:00:00+00');
SELECT role_cluster.fire_schedules() AS fired;
SELECT enabled, last_due IS NULL AS not_fired, last_error FROM role_cluster.schedule WHERE name = 'vast';
SELECT role_cluster.fire_schedules() AS fired_again;
SELECT count(*) AS tasks FROM role_cluster.task WHERE kind = 'vast';
DELETE FROM role_cluster.schedule WHERE name = 'vast';

-- at most 1000 due times a call, all schedules together: the rest of a
-- backlog waits for the next call.  Shared: the schedule that fires once
-- fires at once, and the backlogs take their shares of the rest, the one
-- furthest behind the remainder.
BEGIN;
INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up, next_due)
	VALUES ('backlog a', 'storeMaintenance', 'backlog', '1 minute', 'all', now() - interval '599 minutes'),
		   ('backlog b', 'storeMaintenance', 'backlog', '1 minute', 'all', now() - interval '598 minutes'),
		   ('backlog c', 'storeMaintenance', 'backlog', '1 minute', 'all', now() - interval '1 minute'),
		   ('latest', 'storeMaintenance', 'backlog', '1 minute', 'latest', now() - interval '600 minutes');
SELECT role_cluster.fire_schedules() AS fired;
SELECT name, next_due - now() AS next_due FROM role_cluster.schedule WHERE kind = 'backlog' ORDER BY name;
SELECT role_cluster.fire_schedules() AS fired;
SELECT role_cluster.fire_schedules() AS fired;
SELECT name, count(*) AS firings, min(due_at) - now() AS first, max(due_at) - now() AS last
  FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
 WHERE s.kind = 'backlog' GROUP BY name ORDER BY name;
ROLLBACK;
-- the cap holds however the due times are spread: 1001 schedules one
-- due time behind each fire 1000 in a call, the last one in the next
BEGIN;
INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up, next_due)
	SELECT 'many ' || i, 'storeMaintenance', 'many', '1 hour', 'all', now() - interval '1 minute'
	FROM generate_series(1, 1001) AS i;
SELECT role_cluster.fire_schedules() AS fired;
SELECT role_cluster.fire_schedules() AS fired;
ROLLBACK;

-- deleting a schedule deletes its firings
DELETE FROM role_cluster.schedule WHERE name IN ('bare', 'boom');
SELECT count(*) FROM role_cluster.schedule_firing f
 WHERE NOT EXISTS (SELECT FROM role_cluster.schedule s WHERE s.id = f.schedule_id);

--
-- prune() by hand
--
DELETE FROM role_cluster.schedule;
TRUNCATE role_cluster.task;
SELECT node_id FROM role_cluster.register_node('regress-pruner', NULL, NULL, 100);
SELECT count(role_cluster.enqueue('storeMaintenance', 'prune me')) FROM generate_series(1, 5);
SELECT count(role_cluster.enqueue('storeMaintenance', 'dies', max_attempts => 1)) FROM generate_series(1, 3);
SELECT count(role_cluster.complete_task(id, 'regress-pruner'))
  FROM role_cluster.claim_tasks('regress-pruner', 100) WHERE kind = 'prune me';
SELECT count(role_cluster.fail_task(id, 'regress-pruner', 'broken'))
  FROM role_cluster.task WHERE kind = 'dies' AND state = 'running';
SELECT kind, state, count(*) FROM role_cluster.task GROUP BY kind, state ORDER BY kind;
-- nothing is old enough yet (default retention: an hour; dead: a week)
SELECT role_cluster.prune() AS pruned;
-- age them: four done tasks two hours ago, the dead ones two days ago
UPDATE role_cluster.task SET finished_at = now() - interval '2 hours'
 WHERE id IN (SELECT id FROM role_cluster.task WHERE state = 'done' ORDER BY id LIMIT 4);
UPDATE role_cluster.task SET finished_at = now() - interval '2 days' WHERE state = 'dead';
SELECT role_cluster.prune(max_rows => 3) AS pruned;	-- three of the four done ones
SELECT role_cluster.prune() AS pruned;				-- the fourth
SELECT role_cluster.prune(dead_retention => '1 day', max_rows => 2) AS pruned;	-- two dead
SELECT role_cluster.prune(dead_retention => '1 day', max_rows => 2) AS pruned;	-- the last dead
SELECT role_cluster.prune(dead_retention => '1 day', max_rows => 2) AS pruned;
SELECT kind, state, count(*) FROM role_cluster.task GROUP BY kind, state ORDER BY kind;
-- a retention reaching back before the earliest timestamp keeps everything
SELECT role_cluster.prune(retention => '1000000 years', dead_retention => '1000000 years',
						  node_retention => '1000000 years') AS pruned;
SELECT role_cluster.prune(retention => '0') AS pruned;	-- the done one left
-- old schedule firings go after dead_retention
INSERT INTO role_cluster.schedule (name, task_type, every, catch_up, next_due)
	VALUES ('old', 'storeMaintenance', '1 hour', 'all', now() - interval '150 minutes');
SELECT role_cluster.fire_schedules() AS fired;
UPDATE role_cluster.schedule_firing SET fired_at = now() - interval '8 days'
 WHERE due_at < now() - interval '1 hour';
SELECT role_cluster.prune(retention => '1 year') AS pruned;
SELECT count(*) AS firings_left FROM role_cluster.schedule_firing;
-- nodes gone and silent for longer than node_retention (a week) go, with
-- their fetch marks, unless they still hold a task
TRUNCATE role_cluster.task;
SELECT node_id FROM role_cluster.register_node('regress-gone', NULL, NULL, 10);
SELECT role_cluster.deregister_node('regress-gone');
SELECT node_id FROM role_cluster.register_node('regress-quit', NULL, NULL, 10);
SELECT role_cluster.deregister_node('regress-quit');
SELECT node_id FROM role_cluster.register_node('regress-holder', NULL, NULL, 10);
SELECT count(*) FROM (SELECT role_cluster.enqueue('storeMaintenance', 'held')) e;
SELECT kind FROM role_cluster.claim_tasks('regress-holder', 1);
-- regress-gone deregistered eight days ago; regress-holder's lease lapsed
-- eight days ago, its task not taken back yet; regress-quit just now,
-- after eight days of silence (the later of the two counts)
UPDATE role_cluster.node SET last_heartbeat = now() - interval '8 days' WHERE node_id = 'regress-quit';
UPDATE role_cluster.node
   SET last_heartbeat = now() - interval '8 days 1 hour',
	   deregistered_at = now() - interval '8 days'
 WHERE node_id = 'regress-gone';
UPDATE role_cluster.node
   SET last_heartbeat = now() - interval '8 days',
	   live_until = now() - interval '8 days',
	   lease_until = now() - interval '7 days 23 hours'
 WHERE node_id = 'regress-holder';
-- and a row written by hand, without a fetch mark, gone nine days ago
INSERT INTO role_cluster.node (node_id, capacity, login, backend_pid, backend_start,
							   last_heartbeat, lease_until, deregistered_at)
	VALUES ('regress-unmarked', 1, current_user, 0, now() - interval '9 days',
			now() - interval '9 days', now() - interval '9 days', now() - interval '9 days');
SELECT role_cluster.prune() AS pruned;				-- regress-gone and regress-unmarked
SELECT node_id, live FROM role_cluster.nodes WHERE node_id LIKE 'regress-%' ORDER BY node_id;
SELECT node_id, fetched FROM role_cluster.node_fetch WHERE node_id LIKE 'regress-%' ORDER BY node_id;
-- once reclaim() has taken its task back, regress-holder goes too
SELECT role_cluster.reclaim() AS reclaimed;
SELECT role_cluster.prune() AS pruned;
-- a live node stays whatever the retention; one gone just now goes at 0
SELECT role_cluster.prune(node_retention => '0') AS pruned;	-- regress-quit
SELECT node_id FROM role_cluster.node WHERE node_id LIKE 'regress-%' ORDER BY node_id;
SELECT node_id FROM role_cluster.node_fetch WHERE node_id LIKE 'regress-%' ORDER BY node_id;
-- the id registers again as a new node, with a mark of its own
SELECT node_id FROM role_cluster.register_node('regress-gone', NULL, NULL, 10);
SELECT node_id, fetched FROM role_cluster.node_fetch WHERE node_id = 'regress-gone';
SELECT role_cluster.deregister_node('regress-gone');
-- bad arguments
\set VERBOSITY default
SELECT role_cluster.prune(retention => '-1 hour');
SELECT role_cluster.prune(dead_retention => '-1 hour');
SELECT role_cluster.prune(max_rows => 0);
SELECT role_cluster.prune(node_retention => '-1 day');
-- its check that a node holds nothing needs a snapshot taken after the node's lock
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.prune();
ROLLBACK;
\set VERBOSITY terse
-- autovacuum settings of the worker's tables
SELECT relname, reloptions FROM pg_class
 WHERE oid IN ('role_cluster.schedule_firing'::regclass) ORDER BY relname;

--
-- wake_worker(): the worker watches another database ("postgres"), so no
-- commit here wakes it, not even one that writes the queue (020_worker.pl
-- covers the wake-ups in the worker's own database)
--
SELECT role_cluster.worker_stats_reset();
SELECT wakeups, routed, errors, last_error FROM role_cluster.worker_stats;
SELECT role_cluster.wake_worker();
SELECT count(*) FROM (SELECT role_cluster.enqueue('storeMaintenance', 'wake')) e;
SELECT count(*) FROM role_cluster.claim_tasks('regress-pruner', 1);
SELECT count(*) FROM (SELECT role_cluster.register_node('regress-pruner', NULL, NULL, 10)) r;
SELECT wakeups FROM role_cluster.worker_stats;
SELECT role_cluster.wake_worker_trigger();
-- a reason it does not know
CREATE TEMP TABLE wake_bad (x integer);
CREATE TRIGGER wake_bad AFTER INSERT ON wake_bad
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger('soon');
INSERT INTO wake_bad VALUES (1);
SELECT count(*) AS not_inserted FROM wake_bad;
DROP TABLE wake_bad;
-- watch_session() is idempotent
SELECT role_cluster.watch_session(), role_cluster.watch_session();

-- the view's shape
SELECT pid IS NOT NULL AS running,
	   state IN ('starting', 'no extension') AS idle_here,
	   started_at <= now() AS started,
	   stats_reset <= now() AS reset
  FROM role_cluster.worker_stats;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'role_cluster.worker_stats'::regclass AND attnum > 0
 ORDER BY attnum;

-- the settings, with their defaults (test/role_cluster.conf sets none)
SELECT name, setting, unit, context, vartype
  FROM pg_settings
 WHERE name IN ('role_cluster.database', 'role_cluster.enabled', 'role_cluster.poll_interval',
				'role_cluster.dispatch_batch', 'role_cluster.prune_interval',
				'role_cluster.prune_batch', 'role_cluster.retention', 'role_cluster.vacuum_interval',
				'role_cluster.dead_retention', 'role_cluster.node_retention')
 ORDER BY name;
-- the prefix is reserved
SET role_cluster.no_such_setting = 1;

--
-- Privileges: PUBLIC gets nothing; a node may wake the worker and read
-- cron times; the admin manages schedules and reads the counters
--
CREATE ROLE regress_worker_nobody;
CREATE ROLE regress_worker_node IN ROLE role_cluster_node;
CREATE ROLE regress_worker_admin IN ROLE role_cluster_admin;
SET ROLE regress_worker_nobody;
SELECT role_cluster.wake_worker();
RESET ROLE;
SET ROLE regress_worker_node;
SELECT role_cluster.wake_worker();
SELECT role_cluster.watch_session();
SELECT role_cluster.cron_next('@hourly', '2024-01-01') AS node_cron;
SELECT * FROM role_cluster.worker_stats;
SELECT * FROM role_cluster.worker_stats();
SELECT role_cluster.worker_stats_reset();
SELECT role_cluster.fire_schedules();
SELECT role_cluster.prune();
SELECT * FROM role_cluster.schedule;
SELECT * FROM role_cluster.schedule_firing;
INSERT INTO role_cluster.schedule (name, task_type, cron)
	VALUES ('by node', 'metricsPush', '@hourly');
RESET ROLE;
SET ROLE regress_worker_admin;
SELECT count(*) = 1 AS can_read FROM role_cluster.worker_stats;
INSERT INTO role_cluster.schedule (name, task_type, cron)
	VALUES ('by admin', 'metricsPush', '@hourly');
UPDATE role_cluster.schedule SET enabled = false WHERE name = 'by admin';
SELECT count(*) >= 0 AS can_read FROM role_cluster.schedule_firing;
SELECT role_cluster.fire_schedules() >= 0 AS can_fire;
SELECT role_cluster.prune() >= 0 AS can_prune;
DELETE FROM role_cluster.schedule WHERE name = 'by admin';
SELECT role_cluster.worker_stats_reset();
RESET ROLE;
DROP ROLE regress_worker_nobody;
DROP ROLE regress_worker_node;
DROP ROLE regress_worker_admin;
