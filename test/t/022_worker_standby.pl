
# Primary only: on a streaming hot standby the worker runs but waits, while
# the standby answers role_enables_task and shard_for (its sessions' role
# caches following what it replays); after promotion the same worker
# process starts dispatching, and a node agent given both servers in a
# multi-host connection string finds the new primary and works on.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $primary = rc_new_node(
	'primary',
	allows_streaming => 1,
	conf => "role_cluster.poll_interval = '100ms'\n");
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('indexer', '{"@type": "EnableSome", "taskTypes": ["searchIndexing"]}'),
	('probe', 'DisableAll'),
	('metrics', 'EnableSome(metricsPush)');
});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;

# the primary dispatches meanwhile
my ($p1, $pc1) = rc_node_session($primary, 'p1', 'indexer');
my $t1 = $primary->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($p1, $pc1), 'the primary dispatches');
rc_query($p1, 
	"SELECT role_cluster.complete_task(id, 'p1') FROM role_cluster.fetch_tasks('p1', 10)");
# a task routed to p1 that p1 never fetches, and one nobody can run yet
my $t2 = $primary->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing', 'left routed')");
ok( $primary->poll_query_until(
		'postgres', "SELECT state = 'running' AND NOT role_cluster.task_fetched(route_seq, node_id) FROM role_cluster.task WHERE id = $t2"),
	'a task is routed to p1 on the primary');
my $t3 = $primary->safe_psql('postgres',
	"SELECT role_cluster.enqueue('outboundMta', 'nobody yet')");
$primary->wait_for_catchup($standby);

ok( $standby->poll_query_until(
		'postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'role_cluster worker'}),
	'the standby runs a worker');
ok( $standby->poll_query_until(
		'postgres', "SELECT state = 'standby' FROM role_cluster.worker_stats"),
	'which waits in state "standby"');
is( $standby->safe_psql(
		'postgres', 'SELECT loops, routed, reclaimed, fired, errors FROM role_cluster.worker_stats'),
	'0|0|0|0|0',
	'and has done nothing');

# the standby answers the evaluation functions
is( $standby->safe_psql(
		'postgres', q{
	SELECT role_cluster.role_enables_task('indexer', 'searchIndexing'),
		   role_cluster.role_enables_task('indexer', 'outboundMta'),
		   role_cluster.role_enables_task(NULL, 'outboundMta')}),
	't|f|t',
	'the standby answers role_enables_task');
is( $standby->safe_psql(
		'postgres', "SELECT role_cluster.shard_for('alice\@example.org', 8), role_cluster.shard_for(42::bigint, 8)"),
	$primary->safe_psql(
		'postgres', "SELECT role_cluster.shard_for('alice\@example.org', 8), role_cluster.shard_for(42::bigint, 8)"),
	'the standby answers shard_for as the primary does');
my ($ret, $out, $err) = $standby->psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
like($err, qr/read-only transaction/, 'a standby takes no tasks');

# The standby cannot see the primary's sessions: it judges a node by its
# lease and node timeout, so p1, live on the primary, is live there too
# (not reported as gone, with its tasks to be taken back).
my $p1_state = "SELECT live, session_alive, held FROM role_cluster.nodes WHERE node_id = 'p1'";
$primary->wait_for_catchup($standby);
is($primary->safe_psql('postgres', $p1_state), 't|t|1', 'p1 is live on the primary');
is($standby->safe_psql('postgres', $p1_state), 't|t|1', 'and on the standby');

# A standby session's role cache follows the changes the standby replays,
# at its next statement; a REPEATABLE READ transaction there keeps its
# snapshot's answer.
my $sb = $standby->background_psql('postgres');
my $sb_rr = $standby->background_psql('postgres');
my $ask = "SELECT role_cluster.role_enables_task('probe', 'metricsPush')";
is($sb->query_safe($ask), 'f', 'a standby session builds its role cache');
$sb_rr->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($sb_rr->query_safe($ask), 'f', 'so does a REPEATABLE READ transaction there');
$primary->safe_psql('postgres',
	"UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(metricsPush)' WHERE name = 'probe'");
$primary->wait_for_catchup($standby);
is($sb->query_safe($ask), 't', 'the session sees a change replayed from the primary');
is($sb_rr->query_safe($ask), 'f', 'the REPEATABLE READ transaction keeps its snapshot\'s answer');
$sb_rr->query_safe('COMMIT');
is($sb_rr->query_safe($ask), 't', 'and sees the change once it ends');
$sb->quit;
$sb_rr->quit;

# A node agent whose connection string names both servers, asking for a
# writable one: it runs on the primary now, and on the standby once that
# is promoted.
my $agent_log = $primary->basedir . '/agent.log';
my $agent;
# it must not outlive the test, however that ends
END { $agent->kill_kill if $agent && $agent->pumpable; }
{
	local $ENV{PGHOST} = $primary->host . ',' . $standby->host;
	local $ENV{PGPORT} = $primary->port . ',' . $standby->port;
	local $ENV{PGDATABASE} = 'postgres';
	local $ENV{PGTARGETSESSIONATTRS} = 'read-write';
	local $ENV{STALWART_ROLE} = 'metrics';
	local $ENV{STALWART_NODE_ID} = 'failover';
	delete local $ENV{STALWART_PUSH_SHARD};
	$agent = IPC::Run::start(
		[ 'role-cluster-node', '-v', 'run', '--exec', 'cat >/dev/null', '--poll', '1',
			'--heartbeat', '1' ],
		'<', \undef, '>>', $agent_log, '2>>', $agent_log);
}
my $before = $primary->safe_psql('postgres', "SELECT role_cluster.enqueue('metricsPush', 'before')");
ok( $primary->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $before", 'done'),
	'the agent runs a task on the primary');

# --- promotion ----------------------------------------------------------------

my $worker_pid = rc_worker_pid($standby);
# the primary fails: p1's session (and its routed task) is left behind
$primary->stop('immediate');
eval { $p1->quit };
$standby->promote;
ok( $standby->poll_query_until(
		'postgres', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'after promotion the worker runs');
is(rc_worker_pid($standby), $worker_pid, 'the same worker process took over');

# the agent lost the old primary; it finds the new one among its hosts
my $after = $standby->safe_psql('postgres', "SELECT role_cluster.enqueue('metricsPush', 'after')");
ok( $standby->poll_query_until(
		'postgres', "SELECT state || ' ' || node_id FROM role_cluster.task WHERE id = $after",
		'done failover'),
	'the agent reconnects to the promoted standby and runs a task there');
like(slurp_file($agent_log), qr/reconnected and registered again/, 'and says it registered there');
$agent->signal('TERM');
ok($agent->finish, 'the agent stops with exit 0');

# p1's session was on the old primary: its routed task comes back and,
# with the task no node could run, goes to the nodes of the new primary
my ($s1, $sc1) = rc_node_session($standby, 's1', undef);
ok(rc_wait_notification($s1, $sc1), 'a node of the new primary is notified');
ok( $standby->poll_query_until(
		'postgres',
		"SELECT count(*) = 2 FROM role_cluster.task WHERE id IN ($t2, $t3) AND state = 'running' AND NOT role_cluster.task_fetched(route_seq, node_id) AND node_id = 's1'"
	),
	'the tasks left over from the old primary are routed to it');
is( rc_query($s1, 
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM role_cluster.fetch_tasks('s1', 10)"),
	"$t2,$t3",
	'and it fetches them');
my $t4 = $standby->safe_psql('postgres',
	"SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($s1, $sc1), 'new work is dispatched on the new primary');
is(rc_query($s1, "SELECT id FROM role_cluster.fetch_tasks('s1', 10)"),
	$t4, 'and fetched');
ok( $standby->safe_psql(
		'postgres', 'SELECT routed >= 3 AND reclaimed >= 1 FROM role_cluster.worker_stats') eq 't',
	'the counters show the takeover');

$s1->quit;
$standby->stop;
done_testing();
