
# The background worker: shows itself, waits for the extension, dispatches
# on commit to the right node and wakes it, reloads its settings on SIGHUP,
# goes on after a cancel that finds it between steps, is restarted after
# SIGTERM and after a crash (SIGKILL), and without
# shared_preload_libraries the functions that need it say so.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

# A fallback poll and a prune interval of an hour, and no vacuum looks
# (their timers would wake the worker every second or minute): whatever the
# worker does within this test happens because something woke it (a commit,
# a reload), or because a deferred task or a schedule fell due, not a timer
# of its own.
# (UTF8, so that a message cut mid-character would show.)
my $node = rc_new_node('worker',
	initdb => [ '--encoding=UTF8', '--locale=C' ],
	conf =>
	  "role_cluster.poll_interval = '1h'\nrole_cluster.prune_interval = '1h'\nrole_cluster.vacuum_interval = 0\n"
	  . "max_prepared_transactions = 2\n");

ok( $node->poll_query_until(
		'postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'role_cluster worker'
	   AND application_name = 'role_cluster worker'
	   AND datname = 'postgres'}),
	'the worker shows in pg_stat_activity with its backend_type');

# It waits while the extension is not installed in its database; another
# database with the extension sees its state.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other',    'CREATE EXTENSION role_cluster');
ok( $node->poll_query_until(
		'other', "SELECT state = 'no extension' FROM role_cluster.worker_stats"),
	'worker waits while its database lacks the extension');
# commits in another database do not wake it
$node->safe_psql('other', "SELECT role_cluster.enqueue('searchIndexing')");
is($node->safe_psql('other', 'SELECT wakeups FROM role_cluster.worker_stats'),
	'0', 'an enqueue in another database does not wake the worker');

$node->safe_psql(
	'postgres', q{
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('indexer', '{"@type": "EnableSome", "taskTypes": ["searchIndexing"]}'),
	('mta', '{"@type": "EnableSome", "taskTypes": ["outboundMta"]}');
});

# The audit says where the worker works: quiet in its database, a warning
# in the other.
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM role_cluster.audit() WHERE "check" = 'worker_elsewhere'}),
	'0', 'audit() in the worker\'s database: no worker_elsewhere');
is( $node->safe_psql(
		'other', q{SELECT subject FROM role_cluster.audit() WHERE "check" = 'worker_elsewhere'}),
	'other', 'audit() in another database: worker_elsewhere');

# The node's session fetches what was routed to it, which must be exactly
# the task $id, and finishes it.
sub takes_and_finishes
{
	my ($s, $node_id, $id, $name) = @_;
	is(rc_query($s, "SELECT id FROM role_cluster.fetch_tasks('$node_id', 10)"), $id, $name);
	rc_query($s, "SELECT role_cluster.complete_task($id, '$node_id')");
}

my ($n1, $c1) = rc_node_session($node, 'n1', 'indexer');
my ($n2, $c2) = rc_node_session($node, 'n2', 'mta');

# Dispatch on commit: routed to the node whose role enables the type, which
# is notified on its own channel.
my $t1 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing', 'reindex', '{\"account\": 1}')");
ok(rc_wait_notification($n1, $c1), 'the indexer node is notified');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"),
	$t1, 'the indexer node fetches its searchIndexing task');
is(rc_query($n2, "SELECT count(*) FROM role_cluster.fetch_tasks('n2', 10)"),
	'0', 'the mta node was given nothing');
rc_query($n1, "SELECT role_cluster.complete_task($t1, 'n1')");

my $t2 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('outboundMta', 'deliver')");
ok(rc_wait_notification($n2, $c2), 'the mta node is notified');
takes_and_finishes($n2, 'n2', $t2, 'the mta node fetches its outboundMta task');

# Capacity freed wakes the worker too: n2 takes one task at a time; when it
# finishes the first, the second is routed at once (the poll is an hour).
rc_query($n2, "SELECT node_id FROM role_cluster.register_node('n2', 'mta', NULL, 1)");
my ($m1, $m2) = split /\n/, $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('outboundMta', 'deliver', jsonb_build_object('n', i)) FROM generate_series(1, 2) i"
);
ok(rc_wait_notification($n2, $c2), 'the mta node is notified of the first of two');
takes_and_finishes($n2, 'n2', $m1, 'it takes only the first: its capacity is 1');
ok(rc_wait_notification($n2, $c2), 'finishing it woke the worker, which routed the second');
takes_and_finishes($n2, 'n2', $m2, 'and the node takes it');

# A backlog beyond one dispatch() call is routed at the same wake-up: the
# loop calls dispatch() again while each call routes a full batch, and once
# its slice (500 ms) is spent it loops again at once, rather than leave the
# rest to the poll (an hour).  2000 tasks, one a call.  (The loop that
# follows a reload reads the new batch first.)
rc_query($n1, "SELECT node_id FROM role_cluster.register_node('n1', 'indexer', NULL, 2000)");
my $loops_before = $node->safe_psql('postgres', 'SELECT loops FROM role_cluster.worker_stats');
rc_set_and_reload($node, dispatch_batch => '1');
ok( $node->poll_query_until(
		'postgres', "SELECT loops > $loops_before FROM role_cluster.worker_stats"),
	'the worker ran a loop after the reload');
$node->safe_psql('postgres',
	"SELECT count(role_cluster.enqueue('searchIndexing', 'backlog1')) FROM generate_series(1, 2000)");
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 2000 FROM role_cluster.task WHERE kind = 'backlog1' AND node_id = 'n1' AND state = 'running'"
	),
	'2000 tasks, one a dispatch() call, all routed to n1 at one wake-up');
ok(rc_wait_notification($n1, $c1), 'n1 is notified');
is(rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 2000)"),
	'2000', 'and fetches them all');
rc_query($n1,
	"SELECT count(role_cluster.complete_task(id, 'n1')) FROM role_cluster.task WHERE kind = 'backlog1'");
rc_set_and_reload($node, dispatch_batch => '1000');
rc_query($n1, "SELECT node_id FROM role_cluster.register_node('n1', 'indexer')");

# So is a prune that deletes a full batch: the next one runs at the next
# loop, not a prune_interval (an hour) later.  25 tasks done two hours ago
# (the retention is an hour), 10 a call; the reload has the worker prune
# at once.
$node->safe_psql('postgres',
	"INSERT INTO role_cluster.task (task_type, kind, state, attempts, finished_at) SELECT 'searchIndexing', 'old', 'done', 1, now() - interval '2 hours' FROM generate_series(1, 25)"
);
rc_set_and_reload($node, prune_batch => '10');
ok( $node->poll_query_until(
		'postgres', "SELECT NOT EXISTS (SELECT FROM role_cluster.task WHERE kind = 'old')"),
	'25 old done tasks pruned, 10 a call, at one wake-up');
rc_set_and_reload($node, prune_batch => '10000');

# What wakes it, as worker_stats.wakeups counts: a commit that enqueued or
# queued again, registered a node, changed what the nodes may run (below),
# heartbeated a node whose lease had lapsed (below), wrote a schedule's
# timing (further below), or called wake_worker(), once per transaction;
# not a rollback, not a heartbeat within the lease, and not a fetch or a
# completion while no work waits for a node's room.
sub wakeups
{
	return $node->safe_psql('postgres', 'SELECT wakeups FROM role_cluster.worker_stats');
}
my $wakeups = wakeups();
$node->safe_psql('postgres',
	"BEGIN; SELECT role_cluster.enqueue('outboundMta'); ROLLBACK;");
is(wakeups(), $wakeups, 'a rollback does not wake the worker');
$node->safe_psql('postgres',
	'BEGIN; SELECT role_cluster.wake_worker(); SELECT role_cluster.wake_worker(); COMMIT;');
is(wakeups(), $wakeups + 1, 'wake_worker() twice in a transaction wakes it once, at commit');
$node->safe_psql('postgres',
	'BEGIN; SAVEPOINT s; SELECT role_cluster.wake_worker(); ROLLBACK TO SAVEPOINT s; COMMIT;');
is(wakeups(), $wakeups + 2, 'a subtransaction rolled back leaves the wake-up of its parent');
rc_query($n1, "SELECT role_cluster.heartbeat('n1')");
is(wakeups(), $wakeups + 2, 'a heartbeat within the lease does not wake it');
my $tw = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing')");
is(wakeups(), $wakeups + 3, 'an enqueue wakes it');
ok(rc_wait_notification($n1, $c1), 'which routes the task');
rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 10)");
is(wakeups(), $wakeups + 3,
	'a fetch does not wake it: the last dispatch left no work waiting for a node\'s room');
rc_query($n1, "SELECT role_cluster.release_task($tw, 'n1')");
is(wakeups(), $wakeups + 4, 'a task queued again (released) wakes it');
ok(rc_wait_notification($n1, $c1), 'which routes it again');
rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 10)");
rc_query($n1, "SELECT role_cluster.complete_task($tw, 'n1')");
is(wakeups(), $wakeups + 4, 'nor does a completion (the capacity case is above)');
rc_query($n1, "SELECT node_id FROM role_cluster.register_node('n1', 'indexer')");
is(wakeups(), $wakeups + 5, 'a registration wakes it');

# So does a change of what the nodes may run.  A task no live node may run
# waits; the role that now enables its type gets it routed at once (the
# poll and the prune are an hour away).  A task the node may run, queued in
# the same transaction, shows when the dispatch that commit woke is done.
my ($tr, $tp) = split /\n/, $node->safe_psql('postgres',
	"BEGIN; SELECT role_cluster.enqueue('metricsPush'); SELECT role_cluster.enqueue('searchIndexing'); COMMIT;"
);
is(wakeups(), $wakeups + 6, 'an enqueue of work nobody may run wakes it too');
ok(rc_wait_notification($n1, $c1), 'its dispatch routes the task a node may run');
takes_and_finishes($n1, 'n1', $tp, 'and only that one');
is($node->safe_psql('postgres', "SELECT state FROM role_cluster.task WHERE id = $tr"),
	'queued', 'the other waits: no node may run it');
$node->safe_psql('postgres',
	"UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(searchIndexing, metricsPush)' WHERE name = 'indexer'"
);
is(wakeups(), $wakeups + 7, 'a role\'s task types changed wake it');
ok(rc_wait_notification($n1, $c1), 'which routes the waiting task to the node of that role');
takes_and_finishes($n1, 'n1', $tr, 'and the node takes it');
$node->safe_psql('postgres',
	"UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'metricsPush'");
is(wakeups(), $wakeups + 8, 'a type\'s singleton policy written wakes it');
$node->safe_psql('postgres',
	"UPDATE role_cluster.task_policy SET singleton = false WHERE task_type = 'metricsPush'");
$node->safe_psql('postgres', 'UPDATE role_cluster.cluster_settings SET push_shards_total = 2');
is(wakeups(), $wakeups + 10, 'the number of push shards written wakes it');
$node->safe_psql('postgres', "UPDATE role_cluster.cluster_settings SET default_capacity = 17");
is(wakeups(), $wakeups + 10, 'other settings do not');
$node->safe_psql('postgres',
	"UPDATE role_cluster.cluster_settings SET push_shards_total = 1, default_capacity = DEFAULT");
$node->safe_psql('postgres',
	'INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (1)');
is(wakeups(), $wakeups + 12, 'as does the settings row written again (an INSERT replaces it)');
$node->safe_psql('postgres',
	"INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('spare', 'DisableAll')");
$node->safe_psql('postgres', "DELETE FROM role_cluster.cluster_role WHERE name = 'spare'");
is(wakeups(), $wakeups + 14, 'a role added and one removed wake it');

# A heartbeat from a node that was not live does: the node is live again,
# and the work that waited for it is routed at once, not at the poll (an
# hour).  Not live is made by writing one column ($column) of n1's row,
# which itself wakes nothing.  Returns the wake-up count after it.
sub back_to_live
{
	my ($column, $what, $kind, $wakeups_before) = @_;
	$node->safe_psql('postgres',
		"UPDATE role_cluster.node SET $column = now() WHERE node_id = 'n1'");
	is(wakeups(), $wakeups_before, "$what does not wake it");
	my $loops_before = $node->safe_psql('postgres', 'SELECT loops FROM role_cluster.worker_stats');
	my $t = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing', '$kind')");
	ok( $node->poll_query_until(
			'postgres', "SELECT loops > $loops_before FROM role_cluster.worker_stats"),
		"after $what, a task for the node wakes the worker");
	is($node->safe_psql('postgres', "SELECT state FROM role_cluster.task WHERE id = $t"),
		'queued', 'which routes nothing to the node');
	rc_query($n1, "SELECT role_cluster.heartbeat('n1')");
	is(wakeups(), $wakeups_before + 2, "the node's heartbeat after $what wakes it");
	ok(rc_wait_notification($n1, $c1), 'which routes the waiting task to the node');
	takes_and_finishes($n1, 'n1', $t, 'and the node takes it');
	return $wakeups_before + 2;
}
my $after = back_to_live('lease_until', 'a lease lapsing', 'lapsed', $wakeups + 14);
rc_query($n1, "SELECT role_cluster.heartbeat('n1')");
is(wakeups(), $after, 'its next heartbeat, within the lease, wakes nothing');
# So does a node past its node timeout only, its lease still running: it
# kept what it held, and is live again.
$after = back_to_live('live_until', 'a node timeout passing', 'timed out', $after);
# So does one whose transaction began before the node timeout passed, which
# it judges by the clock (as the lapse of its lease)
rc_query($n1, 'BEGIN');
rc_query($n1,
	"UPDATE role_cluster.node SET live_until = clock_timestamp() + interval '1 second' WHERE node_id = 'n1'");
rc_query($n1, 'SELECT pg_sleep(1.2)');
rc_query($n1, "SELECT role_cluster.heartbeat('n1')");
rc_query($n1, 'COMMIT');
is(wakeups(), $after + 1,
	'a heartbeat past the node timeout by the clock wakes it, though its transaction began before');

# A deferred task made due sooner by an operator (an UPDATE of its run_at)
# wakes it, and is routed at once rather than at the time the worker
# noted for it or at the poll (an hour away both); one put off further
# does not wake it.
my $before = wakeups();
my $tsooner = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing', run_at => now() + interval '30 minutes')");
is(wakeups(), $before + 1, 'a deferred task enqueued wakes it (it notes when that falls due)');
$node->safe_psql('postgres',
	"UPDATE role_cluster.task SET run_at = run_at + interval '1 hour' WHERE id = $tsooner");
is(wakeups(), $before + 1, 'a deferred task put off further does not');
$node->safe_psql('postgres', "UPDATE role_cluster.task SET run_at = now() WHERE id = $tsooner");
is(wakeups(), $before + 2, 'one made due now does');
ok(rc_wait_notification($n1, $c1), 'which routes it at once');
takes_and_finishes($n1, 'n1', $tsooner, 'and the node takes it');

# A prepared transaction that enqueued wakes it when it is committed (its
# own session's commit never runs: the wake-up request is dropped at
# PREPARE), from another session; not at PREPARE, nor when rolled back.
# (The session's next transaction, which writes nothing, commits without
# the dropped request.)
my $tprep = $node->safe_psql('postgres',
	"BEGIN; SELECT role_cluster.enqueue('searchIndexing', 'prepared'); PREPARE TRANSACTION 'rc_enqueued'; SET application_name = 'after prepare'"
);
is(wakeups(), $before + 2, 'an enqueue prepared does not wake it yet, nor the session\'s next commit');
$node->safe_psql('postgres',
	"BEGIN; SELECT role_cluster.enqueue('searchIndexing', 'rolled back'); PREPARE TRANSACTION 'rc_dropped'");
$node->safe_psql('postgres', "ROLLBACK PREPARED 'rc_dropped'");
is(wakeups(), $before + 2, 'nor one prepared and rolled back');
$node->safe_psql('postgres', "COMMIT PREPARED 'rc_enqueued'");
is(wakeups(), $before + 3, 'COMMIT PREPARED does');
ok(rc_wait_notification($n1, $c1), 'which routes the task at once (the poll is an hour away)');
takes_and_finishes($n1, 'n1', $tprep, 'and the node takes it');
# (a login that may not use the extension's schema, which could not have
# written the queue, wakes nothing that way)
$node->safe_psql('postgres', 'CREATE ROLE regress_outsider LOGIN');
$node->safe_psql('postgres',
	"SET SESSION AUTHORIZATION regress_outsider; BEGIN; PREPARE TRANSACTION 'rc_outsider'; COMMIT PREPARED 'rc_outsider'"
);
is(wakeups(), $before + 3, 'a COMMIT PREPARED by a login outside the schema does not');
$node->safe_psql('postgres', 'DROP ROLE regress_outsider');

# A deferred task is routed when it falls due: its enqueue woke the worker
# before that, and the dispatch noted when to wake (the poll and the prune
# are an hour away).
my $td = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing', 'later', run_at => now() + interval '3 seconds')");
ok(rc_wait_notification($n1, $c1), 'a task deferred by 3 s is routed when it falls due');
takes_and_finishes($n1, 'n1', $td, 'and the node takes it');
# a singleton type's tasks have an index of their own
$node->safe_psql('postgres',
	"UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'metricsPush'");
$td = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('metricsPush', 'later', run_at => now() + interval '2 seconds')");
ok(rc_wait_notification($n1, $c1), 'so is a deferred task of a singleton type');
takes_and_finishes($n1, 'n1', $td, 'which the node takes');
$node->safe_psql('postgres',
	"UPDATE role_cluster.task_policy SET singleton = false WHERE task_type = 'metricsPush'");

# A node at capacity 0 (draining) is routed nothing, and no work waits for
# its room: with it live and a deferred task queued, a fetch and a
# completion on another node still wake nothing.
my ($n0, $c0) = rc_node_session($node, 'n0', 'indexer', capacity => 0);
my ($tlater, $tnow) = split /\|/, $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing', 'later', run_at => now() + interval '1 hour'), "
	  . "role_cluster.enqueue('searchIndexing', 'now')");
ok(rc_wait_notification($n1, $c1), 'a task due now goes to n1, not to n0 at capacity 0');
my $w0 = wakeups();
takes_and_finishes($n1, 'n1', $tnow, 'n1 takes it');
is(wakeups(), $w0, 'its fetch and completion wake nothing: no work waits for a node at capacity 0');
$node->safe_psql('postgres', "DELETE FROM role_cluster.task WHERE id = $tlater");
rc_query($n0, "SELECT role_cluster.deregister_node('n0')");
$n0->quit;

# So is a recurring schedule: adding one wakes the worker to look at the
# schedules again, and each firing notes when the next falls due.  (A node
# of its own, so that a firing after the test cannot reach the others.)
$node->safe_psql('postgres',
	q{INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	  ('clock', '{"@type": "EnableSome", "taskTypes": ["metricsCalculate"]}')});
my ($n4, $c4) = rc_node_session($node, 'n4', 'clock');
$wakeups = wakeups();
$node->safe_psql('postgres',
	"INSERT INTO role_cluster.schedule (name, task_type, kind, every) VALUES ('tick', 'metricsCalculate', 'tick', '2 seconds')"
);
is(wakeups(), $wakeups + 1, 'a schedule added wakes the worker');
# (on a slow machine, a node may find two firings' tasks at once)
my ($ticks, $others) = (0, 0);
while ($ticks < 2 && rc_wait_notification($n4, $c4))
{
	my ($t, $o) = split /\|/, rc_query($n4,
		"SELECT count(*) FILTER (WHERE kind = 'tick') || '|' || count(*) FILTER (WHERE kind <> 'tick') || '|' || count(role_cluster.complete_task(id, 'n4')) FROM role_cluster.fetch_tasks('n4', 10)"
	);
	$ticks += $t;
	$others += $o;
}
ok($ticks >= 2 && $others == 0,
	'the schedule fires at its due times, not at the poll, and its tasks are routed to the node');
# (the worker's own writes, its firings' tasks among them, never wake it)
is(wakeups(), $wakeups + 1, 'and its firings do not count as wake-ups');
$wakeups = wakeups();
$node->safe_psql('postgres', "UPDATE role_cluster.schedule SET enabled = false WHERE name = 'tick'");
is(wakeups(), $wakeups + 1, 'a schedule\'s timing changed wakes it');
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET payload = '{\"n\": 1}' WHERE name = 'tick'");
is(wakeups(), $wakeups + 1, 'its other columns do not');

# A due schedule that another transaction holds locked is skipped, and
# looked at again a second later, not at the poll.  (The holder's key-share
# lock lets the update that makes the schedule due through; fire_schedules()
# locks FOR UPDATE, which it does not.)
my $holder = $node->background_psql('postgres');
$node->safe_psql('postgres',
	"INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due) VALUES ('held', 'metricsCalculate', 'held', '1 hour', now() + interval '1 hour')"
);
$holder->query_safe('BEGIN');
$holder->query_safe(
	"SELECT name FROM role_cluster.schedule WHERE name = 'held' FOR KEY SHARE");
$node->safe_psql('postgres',
	"UPDATE role_cluster.schedule SET next_due = now() - interval '1 second' WHERE name = 'held'");
ok( $node->poll_query_until(
		'postgres',
		"SELECT now() > next_due + interval '2 seconds' FROM role_cluster.schedule WHERE name = 'held'"),
	'a schedule held locked is two seconds past due');
is($node->safe_psql('postgres', "SELECT last_fired_at IS NULL FROM role_cluster.schedule WHERE name = 'held'"),
	't', 'and has not fired');
$holder->query_safe('COMMIT');    # (which wakes nothing)
$holder->quit;
ok( $node->poll_query_until(
		'postgres', "SELECT last_fired_at IS NOT NULL FROM role_cluster.schedule WHERE name = 'held'"),
	'once the lock is gone, it fires');

# So does the rest of a backlog beyond the 1000 due times one call fires.
$node->safe_psql('postgres',
	"INSERT INTO role_cluster.schedule (name, task_type, kind, every, catch_up, next_due) VALUES ('backlog', 'metricsCalculate', 'backlog', '1 second', 'all', now() - interval '1500 seconds')"
);
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) >= 1500 FROM role_cluster.schedule_firing f JOIN role_cluster.schedule s ON s.id = f.schedule_id WHERE s.name = 'backlog'"
	),
	'a backlog of 1500 missed due times fires in full, 1000 a call');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) = count(t.id) AND count(*) = count(DISTINCT t.id)
	  FROM role_cluster.schedule_firing f
	  JOIN role_cluster.schedule s ON s.id = f.schedule_id
	  LEFT JOIN role_cluster.task t ON t.id = f.task_id AND t.kind = 'backlog'
	 WHERE s.name = 'backlog'}),
	't',
	'each of its firings has a task of its own');

$node->safe_psql('postgres', "DELETE FROM role_cluster.schedule WHERE name IN ('tick', 'held', 'backlog')");
rc_query($n4, "SELECT role_cluster.deregister_node('n4')");
$node->safe_psql('postgres',
	"DELETE FROM role_cluster.task WHERE kind IN ('tick', 'held', 'backlog')");
$n4->quit;

# the nodes' leases (30 s), past the waits to come
rc_query($n1, "SELECT role_cluster.heartbeat('n1')");
rc_query($n2, "SELECT role_cluster.heartbeat('n2')");

# A node busy in a transaction of its own (here a claim, which locks its
# row, and a fetch) is skipped by dispatch, never waited for; the worker
# notes that work may wait for it, so the commit of that transaction,
# although it only moved tasks on, wakes the worker, which routes the work.
my $tb = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'a task for n1');
rc_query($n1, 'BEGIN');
rc_query($n1, "SELECT count(*) FROM role_cluster.claim_tasks('n1', 0)");
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"), $tb,
	'n1 fetches it in a transaction that holds its row');
my $loops = $node->safe_psql('postgres', 'SELECT loops FROM role_cluster.worker_stats');
my $tc = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing')");
ok( $node->poll_query_until(
		'postgres', "SELECT loops > $loops FROM role_cluster.worker_stats"),
	'another task wakes the worker, which runs a loop');
is($node->safe_psql('postgres', "SELECT state FROM role_cluster.task WHERE id = $tc"),
	'queued', 'which skips n1 while its transaction holds its row');
rc_query($n1, 'COMMIT');
ok(rc_wait_notification($n1, $c1),
	'n1\'s commit wakes the worker, which routes the waiting task to it (the poll is an hour)');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"), $tc, 'n1 takes it');
rc_query($n1, "SELECT count(role_cluster.complete_task(id, 'n1')) FROM role_cluster.task WHERE id IN ($tb, $tc)");

# A singleton task waits for the one of its type that is held, not for
# room: that one finishing wakes the worker, which routes the next.
$node->safe_psql('postgres',
	q{INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	  ('trainer', '{"@type": "EnableSome", "taskTypes": ["spamClassifierTraining"]}')});
my ($n3, $c3) = rc_node_session($node, 'n3', 'trainer');
my ($s1, $s2) = split /\n/, $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('spamClassifierTraining') FROM generate_series(1, 2)");
ok(rc_wait_notification($n3, $c3), 'the trainer is given the first training');
takes_and_finishes($n3, 'n3', $s1, 'and only it: the second waits, a singleton');
ok(rc_wait_notification($n3, $c3),
	'finishing the first wakes the worker, which routes the second (the poll is an hour)');
takes_and_finishes($n3, 'n3', $s2, 'the trainer takes it');

is( $node->safe_psql(
		'postgres', q{
	SELECT state = 'running' AND routed >= 2 AND notified >= 2 AND wakeups >= 2 AND loops >= 2
	   AND last_loop_ms IS NOT NULL AND avg_loop_ms IS NOT NULL
	  FROM role_cluster.worker_stats}),
	't',
	'worker_stats counts the routing');

# notified counts nodes notified, routed counts tasks: three tasks for two
# nodes in one transaction, one dispatch
$node->safe_psql('postgres', 'SELECT role_cluster.worker_stats_reset()');
$node->safe_psql('postgres', q{
	SELECT role_cluster.enqueue(t)
	  FROM unnest('{searchIndexing,searchIndexing,outboundMta}'::role_cluster.task_type[]) t});
ok(rc_wait_notification($n1, $c1), 'the indexer node is notified of its two tasks');
ok(rc_wait_notification($n2, $c2), 'the mta node is notified of its one');
# (the worker counts just after its commit, which sent the notifications)
ok( $node->poll_query_until(
		'postgres', q{SELECT routed || ' routed, ' || notified || ' notified' FROM role_cluster.worker_stats},
		'3 routed, 2 notified'),
	'worker_stats counts three tasks routed and two nodes notified');
# The reset cleared the longest loop too (the 2000-task one above, say): no
# loop since is longer than all of them together.  (avg_loop_ms is rounded
# down to the microsecond.)
is( $node->safe_psql(
		'postgres', q{
	SELECT max_loop_ms >= last_loop_ms
	   AND max_loop_ms <= (avg_loop_ms + 0.001) * loops
	  FROM role_cluster.worker_stats}),
	't',
	'the longest loop is one of those since the reset');
is(rc_query($n1, "SELECT count(*) FROM role_cluster.complete_tasks(ARRAY(SELECT id FROM role_cluster.fetch_tasks('n1', 10)), 'n1')"),
	'2', 'the indexer node takes and finishes its two');
is(rc_query($n2, "SELECT count(*) FROM role_cluster.complete_tasks(ARRAY(SELECT id FROM role_cluster.fetch_tasks('n2', 10)), 'n2')"),
	'1', 'the mta node its one');

# --- SIGHUP ---------------------------------------------------------------

# With an hour's poll, a lapsed lease is not reclaimed: only the poll's full
# loop looks at leases, and nothing here starts one (deferred tasks and
# schedules do not wait for the poll: see above).  n2 holds a task, and its
# lease is made to lapse (which wakes nothing).
my $tl = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('outboundMta', 'lapse')");
ok(rc_wait_notification($n2, $c2), 'the mta node is given a task');
$node->safe_psql('postgres',
	"UPDATE role_cluster.node SET lease_until = now() WHERE node_id = 'n2'");
ok( $node->poll_query_until(
		'postgres',
		"SELECT now() > lease_until + interval '1 second' FROM role_cluster.node WHERE node_id = 'n2'"),
	'the mta node\'s lease lapsed a second ago');
is($node->safe_psql('postgres', "SELECT state || ' ' || node_id FROM role_cluster.task WHERE id = $tl"),
	'running n2', 'with an hour-long poll, its task is not reclaimed');

# role_cluster.enabled = off: the worker idles, even when woken
rc_set_and_reload($node, enabled => 'off');
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'disabled' FROM role_cluster.worker_stats"),
	'enabled = off: the worker idles');
is( $node->safe_psql(
		'postgres', q{SELECT severity FROM role_cluster.audit() WHERE "check" = 'worker_disabled'}),
	'warning', 'audit() warns that the worker is off');
my $wakeups_off = wakeups();
my $t4 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
$node->safe_psql('postgres', 'SELECT role_cluster.wake_worker()');
is(wakeups(), $wakeups_off, 'commits do not wake a disabled worker');
# a second is ample for it to route, were it on
$node->safe_psql('postgres', 'SELECT pg_sleep(1)');
is($node->safe_psql('postgres', "SELECT state FROM role_cluster.task WHERE id = $t4"),
	'queued', 'a disabled worker routes nothing');

# a 100 ms poll and enabled again: the reload wakes the worker, which runs
# every step at once (the lapsed lease is reclaimed), and then polls
rc_set_and_reload($node, enabled => 'on', poll_interval => '100ms');
is($node->safe_psql('postgres', 'SHOW role_cluster.poll_interval'),
	'100ms', 'SHOW sees the reloaded poll interval');
is( $node->safe_psql(
		'postgres', q{SELECT count(*) FROM role_cluster.audit() WHERE "check" = 'worker_disabled'}),
	'0', 'on again: no worker_disabled');
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = 2 FROM role_cluster.task
	 WHERE (id = $t4 AND state = 'running' AND NOT role_cluster.task_fetched(route_seq, node_id))
		OR (id = $tl AND state = 'queued' AND attempts = 0)}),
	'after the reload the worker routes what waited, and reclaims the lapsed lease\'s task (never fetched: its attempt given back)');
ok(rc_wait_notification($n1, $c1), 'and notifies the node');
is(rc_query($n1,
	"SELECT count(role_cluster.complete_task(id, 'n1')) FROM role_cluster.fetch_tasks('n1', 10)"),
	'1', 'which takes its task');

# n2 heartbeats again, which wakes the worker (its lease had lapsed): the
# reclaimed task is routed back to it
rc_query($n2, "SELECT role_cluster.heartbeat('n2')");
ok(rc_wait_notification($n2, $c2), 'the node back from its lapse is given the waiting task');
takes_and_finishes($n2, 'n2', $tl, 'and takes it');

# The new interval works: n2's lease lapses again (which wakes nothing)
# while it holds a task, and the next poll, not an hour away now, reclaims
# it.
my $tn = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('outboundMta', 'lapse')");
ok(rc_wait_notification($n2, $c2), 'the mta node is given another task');
$node->safe_psql('postgres',
	"UPDATE role_cluster.node SET lease_until = now() WHERE node_id = 'n2'");
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'queued' FROM role_cluster.task WHERE id = $tn"),
	'with a 100 ms poll, the lapsed lease\'s task is reclaimed');
rc_query($n2, "SELECT role_cluster.heartbeat('n2')");
ok(rc_wait_notification($n2, $c2), 'and routed back to the node once it heartbeats');
takes_and_finishes($n2, 'n2', $tn, 'which takes it');

# --- the sessions' defaults -------------------------------------------------

# Serializable, read-only defaults for every session leave the worker's
# transactions read-write and READ COMMITTED: its polls (reclaim every
# 100 ms now) fail nothing, and it goes on routing.
my $errors = $node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats');
$node->safe_psql('postgres', "ALTER SYSTEM SET default_transaction_isolation = 'serializable'");
$node->safe_psql('postgres', 'ALTER SYSTEM SET default_transaction_read_only = on');
$node->reload;
ok( $node->poll_query_until(
		'postgres', "SELECT current_setting('default_transaction_isolation') = 'serializable'"),
	'the sessions\' defaults are serializable and read-only');
rc_query($n2, "SET default_transaction_isolation = 'read committed'");
rc_query($n2, 'SET default_transaction_read_only = off');
usleep(500_000);    # five polls
$td = $node->safe_psql('postgres',
	"SET default_transaction_isolation = 'read committed'; SET default_transaction_read_only = off;
	 SELECT role_cluster.enqueue('outboundMta', 'defaults')");
ok(rc_wait_notification($n2, $c2), 'the worker still routes');
takes_and_finishes($n2, 'n2', $td, 'to the node, which takes the task');
is($node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats'),
	$errors, 'and none of its steps failed meanwhile');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET default_transaction_isolation');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET default_transaction_read_only');
$node->reload;
ok( $node->poll_query_until(
		'postgres', "SELECT current_setting('default_transaction_read_only') = 'off'"),
	'the defaults are back');

# A failed step's message is kept whole characters only: cut at 255 bytes
# halfway through an "é", worker_stats would give invalid text (not even
# convertible to LATIN1).  prune() fails on a done task's delete; a
# reload makes the worker prune at once.
$node->safe_psql(
	'postgres', q{
CREATE FUNCTION regress_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '%', 'x' || repeat(U&'\00E9', 200);
END $$;
CREATE TRIGGER regress_no_delete BEFORE DELETE ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION regress_no_delete();
});
$node->safe_psql('postgres',
	"UPDATE role_cluster.task SET finished_at = now() - interval '2 days' WHERE id = $td");
$node->reload;
ok( $node->poll_query_until(
		'postgres', "SELECT last_error LIKE 'prune: x%' FROM role_cluster.worker_stats"),
	'a prune that fails with a long message');
is( $node->safe_psql(
		'postgres',
		"SELECT octet_length(last_error) || ' ' || length(convert_to(last_error, 'LATIN1'))
		   FROM role_cluster.worker_stats"),
	'254 131',
	'is kept cut before the character that would not fit, and converts to LATIN1');
$node->safe_psql(
	'postgres', q{
DROP TRIGGER regress_no_delete ON role_cluster.task;
DROP FUNCTION regress_no_delete();
});

# The worker prunes nodes too: one whose session ended goes once
# role_cluster.node_retention (reloaded: a prune at once) has passed.
$node->safe_psql('postgres',
	"SELECT node_id FROM role_cluster.register_node('regress-gone', NULL, NULL, 1)");
my $pruned_before = $node->safe_psql('postgres', 'SELECT pruned FROM role_cluster.worker_stats');
$node->safe_psql('postgres', "ALTER SYSTEM SET role_cluster.node_retention = 0");
$node->reload;
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM role_cluster.node WHERE node_id = 'regress-gone')
			AND NOT EXISTS (SELECT FROM role_cluster.node_fetch WHERE node_id = 'regress-gone')"),
	'the worker prunes a node gone for longer than node_retention, and its fetch mark');
cmp_ok($node->safe_psql('postgres', 'SELECT pruned FROM role_cluster.worker_stats'),
	'>', $pruned_before, 'and counts it');
$node->safe_psql('postgres', "ALTER SYSTEM RESET role_cluster.node_retention");
$node->reload;

# --- the extension dropped and created again under the running worker ------

$node->safe_psql('postgres', 'DROP EXTENSION role_cluster CASCADE');
$node->safe_psql('other', "SELECT role_cluster.enqueue('searchIndexing')");   # a wake-up
ok( $node->poll_query_until(
		'other', "SELECT state = 'no extension' FROM role_cluster.worker_stats"),
	'the worker notices the extension is gone');
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');
eval { $n1->quit };
eval { $n2->quit };
($n1, $c1) = rc_node_session($node, 'n1', undef);
my $t8 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'and dispatches again once it is back');
takes_and_finishes($n1, 'n1', $t8, 'the node fetches the task');

# --- a cancel between steps: nothing to cancel, the worker goes on --------
# pg_cancel_backend() on the worker cancels the step it is in; the worker
# spends most of its time asleep between steps, where a cancel must not
# end it.

my $cancelled = rc_worker_pid($node);
my $log_offset = -s $node->logfile;
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($cancelled)"),
	't', 'a cancel is sent to the sleeping worker');
# the cancel wakes it at once; what it does with it is done within the second
$node->safe_psql('postgres', 'SELECT pg_sleep(1)');
is(rc_worker_pid($node), $cancelled, 'the worker is still the same process');
unlike(slurp_file($node->logfile, $log_offset),
	qr/background worker "role_cluster worker" \(PID \d+\) exited/,
	'and did not exit on the cancel');
my $t9 = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'it dispatches on the next commit');
takes_and_finishes($n1, 'n1', $t9, 'the node fetches the task');

# --- a wake-up while a step waits for a lock --------------------------------
# A step that waits for a lock (prune() or fire_schedules() behind an
# operator's lock on schedule_firing, up to the worker's 100 ms
# lock_timeout) consumes the latch's wake-up as it waits: a commit that
# wakes the worker meanwhile must still have it loop again, not sleep until
# its next timer.  Every timer is an hour away here: the poll, the prune
# interval, no vacuum looks, and deadlock_timeout, whose alarm would
# otherwise end the sleep a second later.

$node->safe_psql('postgres', "ALTER SYSTEM SET deadlock_timeout = '1h'");
rc_set_and_reload($node, poll_interval => '1h');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK role_cluster.schedule_firing IN SHARE MODE');
# the reload has the worker run every step at once; the task is enqueued,
# and committed, while one of them waits for the lock
my $t10 = $node->safe_psql(
	'postgres', q{
DO $$
BEGIN
	PERFORM pg_reload_conf();
	FOR i IN 1..5000 LOOP
		PERFORM pg_stat_clear_snapshot();
		IF EXISTS (SELECT FROM pg_stat_activity
				   WHERE backend_type = 'role_cluster worker' AND wait_event_type = 'Lock') THEN
			PERFORM role_cluster.enqueue('searchIndexing', 'during a lock wait');
			RETURN;
		END IF;
		PERFORM pg_sleep(0.002);
	END LOOP;
	RAISE EXCEPTION 'the worker never waited for the lock';
END
$$;
SELECT id FROM role_cluster.task WHERE kind = 'during a lock wait'});
ok(rc_wait_notification($n1, $c1),
	'a commit while a step waits for a lock has the worker route at once');
takes_and_finishes($n1, 'n1', $t10, 'the node fetches the task');
$locker->query_safe('COMMIT');
$locker->quit;
$node->safe_psql('postgres', 'ALTER SYSTEM RESET deadlock_timeout');
rc_set_and_reload($node, poll_interval => '100ms');

# --- a dispatch that keeps failing is paced, not tried at each commit ------
# An operator's lock on node_fetch holds every dispatch() up until the
# worker's lock_timeout fails it.  Commits go on waking the worker; it
# calls dispatch() again only once the poll interval or a second has
# passed, whichever is shorter, so with an hour's poll it fails, and logs
# the error, about once a second, not at each of the commits.

rc_set_and_reload($node, poll_interval => '1h');
my $errors_before = $node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats');
$locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK role_cluster.node_fetch IN SHARE MODE');
# 12 enqueues (n1 has room for 16), each committed, over about three
# seconds; the seconds it took
my $secs = $node->safe_psql(
	'postgres', q{
CREATE TEMP TABLE took (s float8);
DO $$
DECLARE
	t0 timestamptz := clock_timestamp();
BEGIN
	FOR i IN 1..12 LOOP
		PERFORM role_cluster.enqueue('searchIndexing', 'paced');
		COMMIT;
		PERFORM pg_sleep(0.25);
	END LOOP;
	INSERT INTO took VALUES (extract(epoch FROM clock_timestamp() - t0));
END
$$;
SELECT ceil(s) FROM took});
my $failures = $node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats') - $errors_before;
ok($failures >= 1, 'dispatch fails while node_fetch is locked');
ok($failures <= $secs + 2,
	"and is tried again about once a second ($failures failures in $secs s), not at each of 12 commits");
$locker->query_safe('COMMIT');
$locker->quit;
ok(rc_wait_notification($n1, $c1), 'once the lock is gone, the next try routes the tasks');
is(rc_query($n1, "SELECT count(*) FROM role_cluster.fetch_tasks('n1', 100)"), '12',
	'all of them, to the node whose role enables them');
rc_query($n1,
	"SELECT count(role_cluster.complete_task(id, 'n1')) FROM role_cluster.task WHERE kind = 'paced'");
rc_set_and_reload($node, poll_interval => '100ms');

# --- SIGTERM: a clean stop, then a restart after bgw_restart_time ----------

my $pid = rc_worker_pid($node);
ok($pid =~ /^\d+$/, 'the worker has a pid');
kill 'TERM', $pid;
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'role_cluster worker' AND pid <> $pid}),
	'after SIGTERM the worker is restarted');
ok( $node->log_contains(
		qr/terminating background worker "role_cluster worker" due to administrator command/
	),
	'it stopped as asked');
ok(!$node->log_contains(qr/was terminated by signal/),
	'no crash restart: neither the worker nor a backend died of a signal');
my $t6 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'the restarted worker dispatches');
takes_and_finishes($n1, 'n1', $t6, 'and the node fetches the task');

# --- SIGKILL: the postmaster reinitializes, the worker comes back ----------

$pid = rc_worker_pid($node);
kill 'KILL', $pid;
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'role_cluster worker' AND pid <> $pid}),
	'after SIGKILL the worker is back');
ok( $node->log_contains(
		qr/background worker "role_cluster worker" \(PID $pid\) was terminated by signal 9/
	),
	'the crash was a crash');
# the node sessions died with the crash; nodes reconnect and re-register
eval { $n1->quit };
eval { $n2->quit };
($n1, $c1) = rc_node_session($node, 'n1', undef);
my $t7 = $node->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'after the crash the worker dispatches again');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"),
	$t7, 'and the node fetches the task');
is( $node->safe_psql(
		'postgres', "SELECT routed >= 1 AND state = 'running' FROM role_cluster.worker_stats"),
	't',
	'counters start again after the crash');
$n1->quit;

# --- DROP EXTENSION while the worker works ----------------------------------
# A DROP EXTENSION locks the extension before it drops its objects.  While
# one is open, and once it has committed, the worker counts the extension as
# gone and waits: no step fails on a queue table the DROP holds locked or has
# dropped.  (The state is read in the other database, whose extension
# shows the same shared state: the view here is locked by the DROP.)
my $drop_errors = $node->safe_psql('other', 'SELECT errors FROM role_cluster.worker_stats');
my $dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN');
$dropper->query_safe('DROP EXTENSION role_cluster');
ok( $node->poll_query_until(
		'other', "SELECT state = 'no extension' FROM role_cluster.worker_stats"),
	'an open DROP EXTENSION: the worker waits as if the extension were gone');
is($node->safe_psql('other', 'SELECT errors FROM role_cluster.worker_stats'),
	$drop_errors, 'no step failed on its locks');
$dropper->query_safe('ROLLBACK');
ok( $node->poll_query_until(
		'other', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'rolled back: the worker works again');
$dropper->query_safe('DROP EXTENSION role_cluster');
$dropper->quit;
ok( $node->poll_query_until(
		'other', "SELECT state = 'no extension' FROM role_cluster.worker_stats"),
	'dropped: the worker waits');
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'created again: the worker works');
is( $node->safe_psql(
		'postgres', "SELECT errors = $drop_errors FROM role_cluster.worker_stats"),
	't', 'no step failed across the drop and the new extension');

# --- without shared_preload_libraries ---------------------------------------

$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
is(rc_worker_pid($node), '', 'no worker without preloading');
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT * FROM role_cluster.worker_stats");
like(
	$err,
	qr/ERROR:  55000: role_cluster must be loaded via shared_preload_libraries/,
	'worker_stats needs the library preloaded (55000)');
like($err, qr/HINT:  Add role_cluster to shared_preload_libraries/,
	'with a hint');
($ret, $out, $err) = $node->psql('postgres', 'SELECT role_cluster.worker_stats_reset()');
like($err, qr/must be loaded via shared_preload_libraries/,
	'worker_stats_reset too');
is( $node->safe_psql(
		'postgres',
		"SELECT role_cluster.enqueue('searchIndexing') > 0, role_cluster.wake_worker()::text = ''"
	),
	"t|t",
	'enqueue and wake_worker work (wake_worker does nothing)');

$node->stop;
done_testing();
