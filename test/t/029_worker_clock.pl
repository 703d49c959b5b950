
# The system clock set back an hour under a running worker, then forward two hours
# (test/clock_shift.c, preloaded into the server alone, shifts the wall
# clock and leaves the monotonic one).  The worker plans its steps in
# wall-clock time; a step it had planned before the change would
# otherwise wait for the clock to catch up.  After the change it goes on
# as before: a dispatch paused after a failure is tried again, the tasks
# of a node whose lease lapsed go back to the queue at the next poll,
# finished tasks are pruned at the next prune_interval, and dead rows are
# vacuumed at the next vacuum look, each within seconds, not an hour
# later.  Set forward past the node lease, the clock ends the leases:
# the tasks a node runs go back to the queue.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $tmp = PostgreSQL::Test::Utils::tempdir;
my $shift_lib = "$tmp/clock_shift.so";
command_ok(
	[
		'cc', '-O2', '-Wall', '-Werror', '-shared', '-fPIC', '-o', $shift_lib,
		"$FindBin::RealBin/../clock_shift.c", '-ldl'
	],
	'the clock shift library compiles');

# The server's clock less the real one, in seconds, which it reads again
# from this file at most every 100 ms
my $shift_file = "$tmp/clock_shift";
sub set_shift
{
	my ($seconds) = @_;
	open(my $fh, '>', "$shift_file.new") or die "could not write $shift_file.new: $!";
	print $fh "$seconds\n";
	close($fh);
	# a reader sees the old file or the new one, never half of it
	rename("$shift_file.new", $shift_file) or die "could not rename to $shift_file: $!";
	return;
}
set_shift(0);

# A poll, a prune and a vacuum look each second, finished tasks kept no
# time: every step is due again a second after it ran.  No autovacuum:
# its vacuum of the task table would leave the worker's nothing to do.
my $node = rc_new_node(
	'clock',
	conf => "autovacuum = off\n"
	  . "role_cluster.poll_interval = '1s'\n"
	  . "role_cluster.prune_interval = '1s'\n"
	  . "role_cluster.retention = 0\n"
	  . "role_cluster.vacuum_interval = '1s'\n",
	env => { LD_PRELOAD => $shift_lib, CLOCK_SHIFT_FILE => $shift_file });
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');

# The server's clock less the test's, in whole minutes
sub server_skew_minutes
{
	my $real = time;
	return $node->safe_psql('postgres',
		"SELECT round((extract(epoch FROM clock_timestamp()) - $real) / 60)");
}
is(server_skew_minutes(), '0', 'the server starts on the real time');

# n1 runs task A.  Both tasks of the test have been due for two hours, so
# that they are still due once the clock is an hour behind: run_at is a
# point in time, and a task due now would be due again only an hour after
# the change (reclaim() keeps a task's run_at).
my ($n1, $c1) = rc_node_session($node, 'n1', undef, capacity => 2);
my $a = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'a', run_at => now() - interval '2 hours')");
ok(rc_wait_notification($n1, $c1), 'n1 is notified');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"),
	$a, 'n1 runs task A');

# An operator's lock on node_fetch fails every dispatch() (the worker's
# lock_timeout): task B waits, the worker paused a second after each
# failure.
my $errors = $node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK role_cluster.node_fetch IN SHARE MODE');
my $b = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'b', run_at => now() - interval '2 hours')");
ok( $node->poll_query_until(
		'postgres', "SELECT errors > $errors FROM role_cluster.worker_stats"),
	'dispatch fails while node_fetch is locked');

# --- the clock goes back an hour ----------------------------------------------
set_shift(-3600);
my $real = time;
ok( $node->poll_query_until(
		'postgres',
		"SELECT round((extract(epoch FROM clock_timestamp()) - $real) / 60) = -60"),
	'the server\'s clock is set back an hour');
# its last loop before the change ended an hour ahead of the new time
ok( $node->poll_query_until(
		'postgres', 'SELECT last_loop_at <= clock_timestamp() FROM role_cluster.worker_stats'),
	'the worker loops on the new time');

# The lock goes: the dispatch paused before the change is tried again
$locker->query_safe('COMMIT');
$locker->quit;
ok(rc_wait_notification($n1, $c1),
	'the dispatch paused after a failure is tried again: n1 is notified');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"),
	$b, 'n1 runs task B');

# n1's lease lapses, its session still there: reclaim() at the next poll
$node->safe_psql('postgres',
	"UPDATE role_cluster.node SET lease_until = now() WHERE node_id = 'n1'");
ok( $node->poll_query_until(
		'postgres', qq{SELECT bool_and(state = 'queued' AND node_id IS NULL AND attempts = 1)
		 FROM role_cluster.task WHERE id IN ($a, $b)}),
	'the poll goes on: n1\'s lease lapsed, its tasks went back to the queue');

# n2 finishes both; prune() deletes them at the next prune_interval
my ($n2, $c2) = rc_node_session($node, 'n2', undef, capacity => 2);
ok(rc_wait_notification($n2, $c2), 'n2 is notified');
is( rc_query($n2,
		"SELECT string_agg(id || ':' || attempts, ' ' ORDER BY id) FROM role_cluster.fetch_tasks('n2', 10)"),
	"$a:2 $b:2",
	'n2 runs both, each on its second attempt');
rc_query($n2,
	"SELECT count(role_cluster.complete_task(id, 'n2')) FROM role_cluster.task WHERE id IN ($a, $b)");
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) = 0 FROM role_cluster.task WHERE id IN ($a, $b)"),
	'the prune goes on: the finished tasks are deleted');

# 600 dead rows in the task table, more than its autovacuum threshold
# (500, and 1 % of its rows): the vacuum look has it vacuumed
my $vacuumed = $node->safe_psql('postgres', 'SELECT vacuumed FROM role_cluster.worker_stats');
$node->safe_psql(
	'postgres', q{
	SELECT count(role_cluster.enqueue('storeMaintenance', 'filler', run_at => now() + interval '1 day'))
	  FROM generate_series(1, 600);
	DELETE FROM role_cluster.task WHERE kind = 'filler'});
ok( $node->poll_query_until(
		'postgres', "SELECT vacuumed > $vacuumed FROM role_cluster.worker_stats"),
	'the vacuum looks go on: the task table is vacuumed');

# all the while, the real clock moved on by seconds, the server's stayed
# an hour behind
is(server_skew_minutes(), '-60', 'the server is still an hour behind');

# --- the clock goes forward two hours -----------------------------------------
# past the node lease: n2's lease ends at once, and reclaim() takes back
# the task it runs, as if n2 had died
my $c = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'c')");
ok(rc_wait_notification($n2, $c2), 'n2 is notified of task C');
is(rc_query($n2, "SELECT id FROM role_cluster.fetch_tasks('n2', 10)"),
	$c, 'n2 runs task C');
set_shift(3600);
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'queued' AND node_id IS NULL AND attempts = 1 FROM role_cluster.task WHERE id = $c"),
	'the clock set forward past the lease: n2\'s task went back to the queue');
is(server_skew_minutes(), '60', 'the server is an hour ahead');

$n1->quit;
$n2->quit;
$node->stop;
done_testing();
