# Without shared_preload_libraries: the evaluation functions, their cache
# invalidation across sessions, shard_for and the pull path of the queue
# all work; only the worker is missing, and its settings in
# postgresql.conf draw no warning.
use strict;
use warnings FATAL => 'all';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'), '',
	'the library is not preloaded');
$node->safe_psql('postgres', q{
	CREATE EXTENSION role_cluster;
	SELECT role_cluster.import_roles('[
		{"name": "frontend", "tasks": {"@type": "DisableAll"}, "listeners": {"@type": "EnableAll"}},
		{"name": "maintenance", "tasks": {"@type": "EnableSome", "taskTypes": ["storeMaintenance",
			"accountMaintenance", "searchIndexing", "metricsCalculate", "metricsPush"]},
		 "listeners": {"@type": "DisableAll"}}]');
});

is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(t::text, ',' ORDER BY t) FROM role_cluster.role_tasks('maintenance') t"),
	'storeMaintenance,accountMaintenance,metricsCalculate,metricsPush,searchIndexing',
	'role_tasks answers');
is( $node->safe_psql(
		'postgres',
		"SELECT role_cluster.role_enables_task('frontend', 'searchIndexing'), "
		  . "role_cluster.role_enables_task(NULL, 'searchIndexing')"),
	'f|t', 'role_enables_task answers, NULL role enables everything');

# A second session's cache follows a committed change at its next statement.
my $s = $node->background_psql('postgres');
is($s->query_safe("SELECT role_cluster.role_enables_task('frontend', 'outboundMta')"),
	'f', 'session 2 warms its cache');
$node->safe_psql('postgres',
	"UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(outboundMta)' WHERE name = 'frontend'");
is($s->query_safe("SELECT role_cluster.role_enables_task('frontend', 'outboundMta')"),
	't', 'session 2 sees the committed change at its next statement');
$s->quit;

my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT role_cluster.role_enables_task('nobody', 'outboundMta')");
like($err, qr/cluster role "nobody" does not exist/, 'an unknown role is an error');

is($node->safe_psql('postgres', "SELECT role_cluster.shard_for('alice', 10), role_cluster.shard_for(42, 10)"),
	'10|4', 'shard_for gives the README vectors');

# The pull path: a node claims and completes without the worker.
is( $node->safe_psql(
		'postgres', q{
		SELECT node_id FROM role_cluster.register_node('m1', 'maintenance');
		SELECT role_cluster.enqueue('searchIndexing', 'reindex');
		SELECT role_cluster.complete_task(id, 'm1') FROM role_cluster.claim_tasks('m1', 5);
		SELECT state FROM role_cluster.task;
	}),
	"m1\n1\n\ndone",
	'claim_tasks and complete_task work without the worker');

# Without the worker, a dispatch() called by hand routes, and the node
# fetches what it routed.
is( $node->safe_psql(
		'postgres', q{
		SELECT node_id FROM role_cluster.register_node('f1', 'maintenance', NULL, 1);
		SELECT role_cluster.enqueue('searchIndexing', 'routed by hand') > 0;
		SELECT role_cluster.dispatch(10);
		SELECT string_agg(kind, ',') FROM role_cluster.fetch_tasks('f1', 5);
	}),
	"f1\nt\n1\nrouted by hand",
	'a dispatch() by hand routes, and fetch_tasks() takes it');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(\"check\", ',' ORDER BY \"check\") FROM role_cluster.audit() WHERE \"check\" LIKE 'worker%'"),
	'worker_not_preloaded',
	'audit() says no worker runs');

# The worker's settings in postgresql.conf (to take effect once the library
# is preloaded) draw no warning in the sessions that load the library:
# without preloading, role_cluster.database is not defined, and the
# role_cluster prefix is not reserved.
$node->append_conf('postgresql.conf', "role_cluster.database = 'postgres'");
$node->reload;
($ret, $out, $err) = $node->psql('postgres',
	"SELECT role_cluster.role_enables_task('maintenance', 'searchIndexing')");
is($out, 't', 'the library loads with role_cluster.database set');
unlike($err, qr/invalid configuration parameter/, 'and no warning is given about it');
# naming another database: audit() must not say a worker works there
$node->append_conf('postgresql.conf', "role_cluster.database = 'elsewhere'");
$node->reload;
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(\"check\", ',' ORDER BY \"check\") FROM role_cluster.audit() WHERE \"check\" LIKE 'worker%'"),
	'worker_not_preloaded',
	'audit() names no worker elsewhere when none runs');

$node->stop;
done_testing();
