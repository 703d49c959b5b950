
# Reclaim: the tasks of a node whose session ends (pg_terminate_backend)
# go back to the queue at once and finish on another node, counting the
# extra attempt; a node that comes back gets new work, not its old; the
# tasks of a node whose lease lapses (session alive, no heartbeat) go back
# when the lease ends; a node whose session began after the caller's view
# of the sessions was taken is alive all the same.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

# An hour's poll and prune interval, and no vacuum looks: the worker
# reclaims, and routes what it took back, because the session's end woke
# it, not at a timer of its own.
my $node = rc_new_node('reclaim',
	conf =>
	  "role_cluster.poll_interval = '1h'\nrole_cluster.prune_interval = '1h'\nrole_cluster.vacuum_interval = 0\n");
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');

# n1 alone takes three tasks and starts them
my ($n1, $c1) = rc_node_session($node, 'n1', undef, capacity => 3);
my $ids = $node->safe_psql('postgres',
	"SELECT string_agg(role_cluster.enqueue('storeMaintenance', 'job' || i)::text, ',' ORDER BY i) FROM generate_series(1, 3) i"
);
ok(rc_wait_notification($n1, $c1), 'n1 is notified');
is( rc_query($n1, 
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM role_cluster.fetch_tasks('n1', 10)"),
	$ids,
	'n1 runs the three tasks');
my $n1_pid = rc_query($n1, 'SELECT pg_backend_pid()');

# n2 registers, full of capacity for them
my ($n2, $c2) = rc_node_session($node, 'n2', undef, capacity => 3);

# n1's session is terminated while it holds them
$node->safe_psql('postgres', "SELECT pg_terminate_backend($n1_pid)");
eval { $n1->quit };

ok(rc_wait_notification($n2, $c2), 'n2 is notified of the reclaimed tasks');
is( rc_query($n2, 
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM role_cluster.fetch_tasks('n2', 10)"),
	$ids,
	'n2 runs the tasks n1 held');
rc_query($n2, 
	"SELECT role_cluster.complete_task(id, 'n2') FROM role_cluster.task WHERE id IN ($ids)");
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(format('%s:%s:%s:%s', id, state, node_id, attempts), ' ' ORDER BY id) FROM role_cluster.task WHERE id IN ($ids)"
	),
	join(' ', map { "$_:done:n2:2" } split(/,/, $ids)),
	'all three done by n2, each with the extra attempt counted');
ok( $node->safe_psql(
		'postgres', 'SELECT reclaimed >= 3 FROM role_cluster.worker_stats') eq 't',
	'worker_stats counts the reclaimed tasks');

# n1 holds two more tasks, claimed while the worker is stopped, and its
# session ends again; it comes back before anything took them back: its
# new registration hands them back, the attempt counted, and it holds
# none of its old work.
rc_set_and_reload($node, enabled => 'off');
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'disabled' FROM role_cluster.worker_stats"),
	'the worker is stopped');
my $old = $node->safe_psql('postgres',
	"SELECT string_agg(role_cluster.enqueue('storeMaintenance', 'old' || i)::text, ',' ORDER BY i) FROM generate_series(1, 2) i"
);
($n1, $c1) = rc_node_session($node, 'n1', undef, capacity => 3);
is( rc_query($n1,
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM role_cluster.claim_tasks('n1', 2)"),
	$old,
	'n1 claims two tasks');
$n1_pid = rc_query($n1, 'SELECT pg_backend_pid()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($n1_pid)");
eval { $n1->quit };
($n1, $c1) = rc_node_session($node, 'n1', undef, capacity => 3);
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(format('%s:%s:%s', state, coalesce(node_id, '-'), attempts), ' ' ORDER BY id) FROM role_cluster.task WHERE id IN ($old)"
	),
	'queued:-:1 queued:-:1',
	'n1 back: its old tasks went back to the queue, the attempt counted');
is( rc_query($n1,
		"SELECT count(*) FROM role_cluster.task WHERE node_id = 'n1' AND state = 'running'"),
	'0',
	'n1 back: it holds none of its old work');
is(rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 10)"),
	'0', 'n1 back: nothing to fetch either');

# the worker again, for the two tasks and four new ones: one dispatch,
# three per node
$node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'busy' || i) FROM generate_series(1, 4) i");
rc_query($n2, "SELECT role_cluster.heartbeat('n2')");
rc_set_and_reload($node, enabled => 'on');
ok(rc_wait_notification($n1, $c1), 'n1 back: notified of new work');
is(rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 10)"),
	'3', 'n1 back: runs new tasks');
rc_query($n1, 
	"SELECT role_cluster.complete_task(id, 'n1') FROM role_cluster.task WHERE node_id = 'n1' AND state = 'running'"
);
rc_query($n2, 
	"SELECT role_cluster.complete_task(id, 'n2') FROM role_cluster.fetch_tasks('n2', 10)");

# --- a lapsed lease: the session lives on, the heartbeats stop ------------

rc_set_and_reload($node, poll_interval => '100ms');
rc_query($n1, "SELECT role_cluster.deregister_node('n1')");
rc_query($n2, "SELECT role_cluster.deregister_node('n2')");
my ($n3, $c3) = rc_node_session($node, 'n3', undef, capacity => 1);
my $t = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'leased')");
ok(rc_wait_notification($n3, $c3), 'n3, the only live node, is notified');
is(rc_query($n3, "SELECT id FROM role_cluster.fetch_tasks('n3', 1)"),
	$t, 'n3 runs the task');
# n3 stops heartbeating: let its lease end now rather than in 30 seconds
$node->safe_psql('postgres',
	"UPDATE role_cluster.node SET lease_until = now() WHERE node_id = 'n3'");
ok( $node->poll_query_until(
		'postgres',
		"SELECT state = 'queued' AND node_id IS NULL FROM role_cluster.task WHERE id = $t"
	),
	'when its lease lapsed, n3\'s task went back to the queue');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE pid = (SELECT backend_pid FROM role_cluster.node WHERE node_id = 'n3')"
	),
	'1',
	'though n3\'s session still exists');
($n2, $c2) = rc_node_session($node, 'n2', undef, capacity => 3);
ok(rc_wait_notification($n2, $c2), 'a live node is notified');
is(rc_query($n2, "SELECT id || ':' || attempts FROM role_cluster.fetch_tasks('n2', 10)"),
	"$t:2", 'and runs it: second attempt');

# --- a session that began after the caller's view of the sessions --------
# PostgreSQL copies the sessions' status once per transaction, when it is
# first read (pg_stat_activity too).  A reclaim() later in that transaction
# must still see a node whose session began since as alive, and leave it
# its task.

rc_query($n2, "SELECT role_cluster.complete_task($t, 'n2')");
rc_query($n2, "SELECT role_cluster.deregister_node('n2')");
rc_query($n3, "SELECT role_cluster.deregister_node('n3')");
is($node->safe_psql('postgres', "SELECT count(*) FROM role_cluster.task WHERE state <> 'done'"),
	'0', 'nothing else is left to run');
my $admin = $node->background_psql('postgres');
$admin->query_safe('BEGIN');
$admin->query_safe('SELECT count(*) FROM pg_stat_activity');
my ($n4, $c4) = rc_node_session($node, 'n4', undef, capacity => 1);
my $t4 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('storeMaintenance', 'late')");
ok(rc_wait_notification($n4, $c4), 'n4, whose session began after the copy, is notified');
is(rc_query($n4, "SELECT id FROM role_cluster.fetch_tasks('n4', 1)"), $t4, 'n4 runs the task');
is($admin->query_safe('SELECT role_cluster.reclaim()'),
	'0', 'a reclaim in the transaction that took the copy takes nothing back');
$admin->query_safe('COMMIT');
is( $node->safe_psql(
		'postgres', "SELECT state || ' ' || node_id FROM role_cluster.task WHERE id = $t4"),
	'running n4',
	'n4 still runs its task');
$admin->quit;

$n1->quit;
$n2->quit;
$n3->quit;
$n4->quit;
$node->stop;
done_testing();
