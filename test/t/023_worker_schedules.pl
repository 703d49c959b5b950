
# Schedules: the worker fires a recurring schedule once per due time; two
# concurrent fire_schedules() callers fire each due time once; due times
# missed while the server was down fire as the schedule's catch_up says; a
# firing held up by a lock gives up after the worker's lock_timeout, and
# dispatch goes on meanwhile; a prune held up by a lock on the firings is
# tried again at the next poll.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $node = rc_new_node('schedules', conf => "role_cluster.poll_interval = '100ms'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');

# --- the worker fires an interval schedule once per due time ---------------

my $tick = $node->safe_psql(
	'postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up)
	VALUES ('tick', 'metricsPush', 'tick', '1 second', 'all') RETURNING id});
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) >= 3 FROM role_cluster.schedule_firing WHERE schedule_id = $tick"
	),
	'the worker fires the schedule');
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET enabled = false WHERE id = $tick");
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) = count(t.id)
	   AND count(*) = count(DISTINCT t.id)
	   AND bool_and(t.run_at = f.due_at AND t.task_type = 'metricsPush' AND t.kind = 'tick')
	  FROM role_cluster.schedule_firing f
	  LEFT JOIN role_cluster.task t ON t.id = f.task_id
	 WHERE f.schedule_id = $tick}),
	't',
	'one task per due time');
is( $node->safe_psql(
		'postgres', qq{
	SELECT bool_and(d = interval '1 second')
	  FROM (SELECT due_at - lag(due_at) OVER (ORDER BY due_at) AS d
			  FROM role_cluster.schedule_firing WHERE schedule_id = $tick) s
	 WHERE d IS NOT NULL}),
	't',
	'every due time in turn, none skipped');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) FROM role_cluster.task t
	 WHERE t.kind = 'tick'
		AND NOT EXISTS (SELECT FROM role_cluster.schedule_firing f WHERE f.task_id = t.id)}),
	'0',
	'no task without its firing');
ok( $node->safe_psql(
		'postgres', "SELECT fired >= 3 FROM role_cluster.worker_stats") eq 't',
	'worker_stats counts the firings');

# a cron schedule that fell behind fires for its latest due time
my $cron = $node->safe_psql(
	'postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, cron, next_due)
	VALUES ('cron', 'metricsCalculate', '*/5 * * * *',
			role_cluster.cron_prev('*/5 * * * *', now() - interval '1 hour'))
	RETURNING id});
ok( $node->poll_query_until(
		'postgres', "SELECT last_due IS NOT NULL FROM role_cluster.schedule WHERE id = $cron"
	),
	'the worker fires the cron schedule');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) = 1
	   AND min(f.due_at) = role_cluster.cron_prev('*/5 * * * *', min(f.fired_at))
	   AND min(s.next_due) = role_cluster.cron_next('*/5 * * * *', min(f.fired_at))
	  FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id
	 WHERE f.schedule_id = $cron}),
	't',
	'once, for the latest due time, then the next one ahead');
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET enabled = false WHERE id = $cron");

# --- two concurrent callers ---------------------------------------------------

rc_set_and_reload($node, enabled => 'off');
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'disabled' FROM role_cluster.worker_stats"),
	'the worker is disabled');

my $race = $node->safe_psql(
	'postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up, next_due)
	VALUES ('race', 'storeMaintenance', 'race', '1 minute', 'all', now() - interval '4 minutes 30 seconds')
	RETURNING id});
my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
is($a->query_safe('SELECT role_cluster.fire_schedules()'),
	'5', 'the first caller fires the five due times');
is($node->safe_psql('postgres', 'SELECT role_cluster.fire_schedules()'),
	'0', 'a concurrent caller fires none of them');
$a->query_safe('COMMIT');
is($node->safe_psql('postgres', 'SELECT role_cluster.fire_schedules()'),
	'0', 'nor does it once the first committed');
$a->quit;

# Even when next_due is set back, a due time that fired does not fire again:
# its schedule_firing row is there.
$node->safe_psql('postgres', qq{
	UPDATE role_cluster.schedule
	   SET next_due = (SELECT min(due_at) FROM role_cluster.schedule_firing WHERE schedule_id = $race)
	 WHERE id = $race});
is($node->safe_psql('postgres', 'SELECT role_cluster.fire_schedules()'),
	'0', 'due times that fired never fire twice');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*), count(DISTINCT task_id),
		   (SELECT count(*) FROM role_cluster.task t
			 WHERE t.task_type = 'storeMaintenance' AND t.kind = 'race')
	  FROM role_cluster.schedule_firing WHERE schedule_id = $race}),
	'5|5|5',
	'five due times, five tasks, and no task beside them');
is( $node->safe_psql(
		'postgres', "SELECT next_due > now() FROM role_cluster.schedule WHERE id = $race"),
	't',
	'next_due is ahead again');

# --- due times missed while the server was down --------------------------------

# Both schedules fell due six times (55, 45, ..., 5 minutes ago).
my ($latest, $all) = split /\|/, $node->safe_psql(
	'postgres', q{
	WITH s AS (
		INSERT INTO role_cluster.schedule (name, task_type, every, catch_up, next_due)
		VALUES ('missed latest', 'accountMaintenance', '10 minutes', 'latest', now() - interval '55 minutes'),
			   ('missed all', 'accountMaintenance', '10 minutes', 'all', now() - interval '55 minutes')
		RETURNING id, catch_up)
	SELECT (SELECT id FROM s WHERE catch_up = 'latest') || '|' || (SELECT id FROM s WHERE catch_up = 'all')});
my $first = $node->safe_psql('postgres',
	"SELECT next_due FROM role_cluster.schedule WHERE id = $latest");
$node->safe_psql('postgres', 'ALTER SYSTEM RESET role_cluster.enabled');
$node->stop;
$node->start;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 2 FROM role_cluster.schedule WHERE id IN ($latest, $all) AND last_due IS NOT NULL"
	),
	'after the restart the worker fires the missed schedules');
is( $node->safe_psql(
		'postgres', qq{
	SELECT string_agg(to_char(due_at - '$first', 'HH24:MI'), ',' ORDER BY due_at)
	  FROM role_cluster.schedule_firing WHERE schedule_id = $latest}),
	'00:50',
	"catch_up 'latest': one task, for the latest missed due time");
is( $node->safe_psql(
		'postgres', qq{
	SELECT string_agg(to_char(due_at - '$first', 'HH24:MI'), ',' ORDER BY due_at)
	  FROM role_cluster.schedule_firing WHERE schedule_id = $all}),
	'00:00,00:10,00:20,00:30,00:40,00:50',
	"catch_up 'all': one task for each missed due time");
is( $node->safe_psql(
		'postgres', qq{
	SELECT string_agg(to_char(next_due - '$first', 'HH24:MI'), ',')
	  FROM role_cluster.schedule WHERE id IN ($latest, $all)}),
	'01:00,01:00',
	'both go on with the first due time ahead');

# --- a firing held up by a lock does not hold up the rest -------------------
# A change of searchIndexing's policy waits for a transaction that enqueued
# a task of the type and stays open; a searchIndexing schedule falls due
# meanwhile.  Its firing waits for the same gate at most 100 ms
# (lock_timeout), fails for that loop and says why; dispatch goes on.  Once
# the change is through, the schedule fires.

# (room for the tasks the sections above left queued too)
my ($n1, $c1) = rc_node_session($node, 'n1', undef, capacity => 1000);
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe("SELECT role_cluster.enqueue('searchIndexing', 'open')");
my $admin = $node->background_psql('postgres');
$admin->query_until(qr/started/, q{\echo started
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
});
ok( $node->poll_query_until(
		'postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE role_cluster.task_policy%'}),
	'a policy change waits for an open enqueue of its type');
my ($held, $behind) = split /\n/, $node->safe_psql('postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('held up', 'searchIndexing', 'held', '1 hour', now() - interval '1 second'),
		   ('behind it', 'searchIndexing', 'behind', '1 hour', now())
	RETURNING id});
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error LIKE '%lock timeout%' FROM role_cluster.schedule WHERE id = $held"),
	'the schedule falls due: its firing gives up on the gate, and says why');
# the second of the type does not wait out the same lock in that call
is( $node->safe_psql(
		'postgres', "SELECT last_error FROM role_cluster.schedule WHERE id = $behind"),
	'not tried: the firing of schedule "held up", of the same task type, gave up waiting for a lock in this call',
	'a second due schedule of the type is not tried after the first gave up on the lock');
my $meanwhile = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('metricsCalculate', 'meanwhile')");
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'running' AND node_id = 'n1' FROM role_cluster.task WHERE id = $meanwhile"),
	'dispatch goes on meanwhile: a task of another type is routed to the node');
is( $node->safe_psql(
		'postgres', "SELECT last_due IS NULL AND last_error LIKE '%lock timeout%' FROM role_cluster.schedule WHERE id = $held"),
	't', 'while the schedule still waits for the change');
$open->query_safe('COMMIT');
$open->quit;
$admin->quit;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 2 FROM role_cluster.schedule WHERE id IN ($held, $behind) AND last_due IS NOT NULL AND last_error IS NULL"),
	'the change through, both schedules fire');
is( $node->safe_psql(
		'postgres', "SELECT string_agg(kind || ':' || singleton, ',' ORDER BY kind) FROM role_cluster.task WHERE kind IN ('held', 'behind')"),
	'behind:true,held:true', 'their tasks under the new policy');

# --- a prune held up by a lock is tried again at the next poll --------------
# prune() deletes old firings in the transaction that deletes old tasks, so
# an operator's lock on schedule_firing holds up both.  With a prune
# interval of an hour, the retry must come from the poll (100 ms here).
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK TABLE role_cluster.schedule_firing IN SHARE MODE');
$node->safe_psql(
	'postgres', q{
	UPDATE role_cluster.task SET state = 'done', node_id = NULL, finished_at = now() - interval '1 day'
	 WHERE kind = 'held'});
$node->append_conf('postgresql.conf', "role_cluster.prune_interval = '1h'\n");
$node->reload;	# the worker prunes at once after a reload
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error LIKE 'prune: %lock timeout%' FROM role_cluster.worker_stats"),
	'a prune meets the lock and gives up');
is($node->safe_psql('postgres', "SELECT count(*) FROM role_cluster.task WHERE kind = 'held'"),
	'1', 'the old done task is still there');
$locker->query_safe('COMMIT');
$locker->quit;
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM role_cluster.task WHERE kind = 'held'"),
	'the lock gone, the next poll prunes it, not the next prune interval');

$node->stop;
done_testing();
