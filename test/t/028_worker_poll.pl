
# The worker with a fallback poll of an hour: a schedule enabled again
# wakes it, and fires at its next due time, not at the poll; a schedule
# whose firing failed is not tried again every second, but at the next
# call; and metrics() gives the duration of the worker's last loop in
# seconds, as worker_stats gives it in milliseconds.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

# No timer of the worker's own comes round within the test: whatever it
# does, something woke it for (a commit), or a schedule fell due.
my $node = rc_new_node('poll',
	conf =>
	  "role_cluster.poll_interval = '1h'\nrole_cluster.prune_interval = '1h'\nrole_cluster.vacuum_interval = 0\n");
$node->safe_psql('postgres',
	'CREATE EXTENSION role_cluster; SELECT role_cluster.wake_worker();');
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'the worker runs');

# --- a schedule enabled again ------------------------------------------------
# 'tick' is created disabled, its next due time a minute ago.  Enabled
# again, it skips the due times missed and goes on with the first after
# now, two seconds away at most; the commit wakes the worker to look at
# the schedules, which notes that due time and fires it then, not at the
# poll.  (From there it catches up every due time, so that its first
# firing is for that one however late it comes.)  'marker', created with
# it, fires at once: then the worker has looked at the schedules since
# they were added, and seen 'tick' disabled (the marker's next firing, an
# hour away, is no sooner than the poll).
my ($tick, $marker) = split /\n/, $node->safe_psql(
	'postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up, enabled, next_due)
	VALUES ('tick', 'metricsCalculate', 'tick', '2 seconds', 'all', false, now() - interval '1 minute'),
		   ('marker', 'metricsCalculate', 'marker', '1 hour', 'latest', true, now() - interval '1 second')
	RETURNING id});
ok( $node->poll_query_until(
		'postgres', "SELECT last_fired_at IS NOT NULL FROM role_cluster.schedule WHERE id = $marker"),
	'the worker fires the schedules at once when they are added');
is($node->safe_psql('postgres', "SELECT count(*) FROM role_cluster.schedule_firing WHERE schedule_id = $tick"),
	'0', 'but not the disabled one');
my ($next, $ahead) = split /\|/, $node->safe_psql(
	'postgres', qq{
	UPDATE role_cluster.schedule SET enabled = true WHERE id = $tick
	RETURNING next_due, next_due > now() AND next_due <= now() + interval '2 seconds'});
is($ahead, 't', 'enabled again, it goes on with its first due time after now');
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) > 0 FROM role_cluster.schedule_firing WHERE schedule_id = $tick"),
	'the worker fires it then, not at the poll an hour later');
is( $node->safe_psql(
		'postgres',
		"SELECT min(due_at) = '$next' FROM role_cluster.schedule_firing WHERE schedule_id = $tick"),
	't',
	'its first firing is for that due time: those missed are skipped');
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET enabled = false WHERE id = $tick");

# --- a schedule whose firing fails -------------------------------------------
# A trigger refuses the tasks of kind 'doomed', so the firing of the
# schedule 'doomed' fails: it records the error and warns once.  It is not
# tried again a second later, as a schedule left due without an error would
# be, but at the next call of fire_schedules(): the poll, or, here, a write
# to a schedule's timing.
$node->safe_psql(
	'postgres', q{
	CREATE FUNCTION public.refuse_doomed() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.kind = 'doomed' THEN
			RAISE EXCEPTION 'tasks of kind doomed are refused';
		END IF;
		RETURN NEW;
	END
	$$;
	CREATE TRIGGER refuse_doomed BEFORE INSERT ON role_cluster.task
		FOR EACH ROW EXECUTE FUNCTION public.refuse_doomed();
});
my $log_offset = -s $node->logfile;
my $doomed = $node->safe_psql(
	'postgres', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
	VALUES ('doomed', 'metricsCalculate', 'doomed', '1 hour', now() - interval '1 second')
	RETURNING id});
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_error = 'tasks of kind doomed are refused' FROM role_cluster.schedule WHERE id = $doomed"
	),
	'its firing fails, and the schedule says why');
my $failed_at = $node->safe_psql('postgres',
	"SELECT updated_at FROM role_cluster.schedule WHERE id = $doomed");
# five seconds: five tries, were it tried again every second
sleep 5;
my @warnings = slurp_file($node->logfile, $log_offset) =~ /schedule "doomed" did not fire/g;
is(scalar @warnings, 1, 'it warned once: not tried again in five seconds');
is( $node->safe_psql(
		'postgres',
		"SELECT updated_at = '$failed_at' AND last_fired_at IS NULL FROM role_cluster.schedule WHERE id = $doomed"
	),
	't',
	'its row unchanged since, and it has not fired');
$node->safe_psql('postgres',
	'DROP TRIGGER refuse_doomed ON role_cluster.task; DROP FUNCTION public.refuse_doomed()');
# its timing written (to what it was) wakes the worker to fire the schedules
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET every = every WHERE id = $doomed");
ok( $node->poll_query_until(
		'postgres',
		"SELECT last_fired_at IS NOT NULL AND last_error IS NULL FROM role_cluster.schedule WHERE id = $doomed"
	),
	'the next call fires it');

# --- the loop's duration in metrics() ------------------------------------------
# role_cluster_worker_last_loop_seconds (and _max_loop_seconds) are
# worker_stats' last_loop_ms (max_loop_ms) in seconds.  The worker is idle
# (nothing wakes it), so metrics() and worker_stats see the same loop; read
# again should one end between the two all the same.
my $same;
for my $try (1 .. 5)
{
	$same = $node->safe_psql(
		'postgres', q{
	SELECT w.last_loop_ms > 0
	   AND abs(m.last_s * 1000 - w.last_loop_ms) <= w.last_loop_ms * 1e-9
	   AND abs(m.max_s * 1000 - w.max_loop_ms) <= w.max_loop_ms * 1e-9
	  FROM role_cluster.worker_stats w,
		   LATERAL (SELECT substring(x.t FROM E'\nrole_cluster_worker_last_loop_seconds ([^\n]+)')::float8 AS last_s,
						   substring(x.t FROM E'\nrole_cluster_worker_max_loop_seconds ([^\n]+)')::float8 AS max_s
					  FROM (SELECT role_cluster.metrics() AS t) x) m});
	last if $same eq 't';
}
is($same, 't', 'metrics() gives the last and the longest loop in seconds, as worker_stats gives them in ms');

$node->stop;
done_testing();
