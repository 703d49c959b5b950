# pg_dump of a database with queued, running and finished tasks, a changed
# task policy and queue settings, restored into a fresh database: the
# tasks, the policy, the settings and the id sequence come back equal
# (the dumped singleton flags and push shards are kept, not derived again),
# and reclaim() returns the tasks of nodes that did not come along.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('queue_dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'role_cluster'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	CREATE EXTENSION role_cluster;
	UPDATE role_cluster.cluster_settings
		SET push_shards_total = 3, default_capacity = 7,
			retry_backoff_base = '3 seconds', retry_backoff_max = '10 minutes';
	UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'metricsPush';
	UPDATE role_cluster.task_policy SET singleton = false WHERE task_type = 'spamClassifierTraining';
	SELECT count(*) FROM role_cluster.enqueue_batch('[
		{"task_type": "pushNotifications", "shard_key": "account-1", "payload": {"a": 1}},
		{"task_type": "metricsPush", "dedupe_key": "hourly", "priority": 4},
		{"task_type": "spamClassifierTraining", "kind": "train"},
		{"task_type": "spamClassifierTraining", "kind": "train-too"},
		{"task_type": "spamClassifierTraining", "kind": "trained"},
		{"task_type": "searchIndexing", "run_at": "2999-01-01 00:00:00+00"},
		{"task_type": "outboundMta", "kind": "done-one"}]');
	SELECT role_cluster.register_node('n1', NULL, 1, 10);
	SELECT count(*) FROM role_cluster.claim_tasks('n1', 10);
	SELECT role_cluster.complete_task(id, 'n1') FROM role_cluster.task WHERE kind IN ('done-one', 'trained');
});

my $snapshot = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT format('task %s', (t.*)::text) AS x FROM role_cluster.task t
		UNION ALL
		SELECT format('policy %s %s', task_type, singleton) FROM role_cluster.task_policy
		UNION ALL
		SELECT format('settings %s', (s.*)::text) FROM role_cluster.cluster_settings s
		UNION ALL
		SELECT format('sequence %s', last_value) FROM role_cluster.task_id_seq) q;
};
my $before = $node->safe_psql('src', $snapshot);
like($before, qr/task \(.*running.*\)/, 'the source has a running task');
like($before, qr/policy metricsPush t\n/, 'the source has a changed policy');
# one line holds both, in whatever order the table's columns come
like($before, qr/^task \((?=.*done-one)(?=.*,done,).*\)$/m, 'the source has a finished task');
# spamClassifierTraining is no singleton there: two of its tasks run, and
# one is done.  Its tasks are loaded before its policy: were their flag
# derived from the default policy then, the two running ones would collide
# in the singleton index, and all the tasks would be lost.
is( $node->safe_psql(
		'src',
		q{SELECT string_agg(kind || ' ' || state || ' ' || singleton, ', ' ORDER BY kind) FROM role_cluster.task WHERE task_type = 'spamClassifierTraining'}
	),
	'train running false, train-too running false, trained done false',
	'the source runs two tasks of a type it made no singleton, and finished one');

my $dump = $node->basedir . '/src.dump';
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src')], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(['pg_restore', '-d', $node->connstr('dst'), $dump], 'pg_restore');

is($node->safe_psql('dst', $snapshot), $before, 'tasks, policy, settings and sequence restored equal');
is($node->safe_psql('dst', 'SELECT count(*) FROM role_cluster.node'), '0', 'nodes are not dumped');

# The restored running tasks belong to no node: reclaim puts them back.
my $held = $node->safe_psql('dst',
	q{SELECT count(*) FROM role_cluster.task WHERE state = 'running'});
ok($held > 0, 'the restored database has held tasks');
is($node->safe_psql('dst', 'SELECT role_cluster.reclaim()'), $held, 'reclaim takes them back');
is($node->safe_psql('dst',
	q{SELECT count(*) FROM role_cluster.task WHERE state = 'running'}),
	'0', 'nothing is held any more');

# The restored queue works: the restored policy applies, ids go on.
my $maxid = $node->safe_psql('src', 'SELECT max(id) FROM role_cluster.task');
my $newid = $node->safe_psql('dst', q{SELECT role_cluster.enqueue('metricsPush', kind => 'after')});
is($node->safe_psql('dst', q{SELECT singleton FROM role_cluster.task WHERE kind = 'after'}),
	't', 'a new task follows the restored policy');
ok($newid > $maxid, 'new ids continue after the restored ones');

# Into the database the worker serves (postgres here), in one transaction
# as the README asks: a schedule restored due fires only once the whole
# dump is in, its task taking an id after the restored ones.  (Restored a
# step at a time, the worker could fire it before the tasks and the id
# sequence are loaded, and the dumped task with that id would fail the
# load of them all.)
$node->safe_psql('src', q{
	INSERT INTO role_cluster.schedule (name, task_type, kind, every, next_due)
		VALUES ('due', 'metricsCalculate', 'fired', '1 hour', now() - interval '10 minutes')});
my $tasks = $node->safe_psql('src', 'SELECT count(*) FROM role_cluster.task');
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src')], 'pg_dump again');
$node->command_ok(['pg_restore', '--single-transaction', '--exit-on-error',
	'-d', $node->connstr('postgres'), $dump], 'pg_restore in one transaction into the worker\'s database');
ok( $node->poll_query_until(
		'postgres', q{SELECT last_task_id IS NOT NULL FROM role_cluster.schedule WHERE name = 'due'}),
	'the worker fires the restored schedule');
is( $node->safe_psql(
		'postgres', qq{
	SELECT count(*) FILTER (WHERE id <= $maxid) || ' ' || bool_and(id > $maxid OR kind <> 'fired')
	  FROM role_cluster.task}),
	"$tasks true", 'every dumped task is there, and the fired one came after them');

$node->stop;
done_testing();
