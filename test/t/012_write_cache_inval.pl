# The session cache of the task table's writes (src/rc_write.c) is made
# again after each relcache invalidation of the table, and an ANALYZE of it
# (as autovacuum runs under load) sends one.  One can arrive while the cache
# is being made: each lock it takes (an index opened, a catalog read) takes
# in the invalidations sent meanwhile, and the table's relcache entry is
# then built again, its trigger descriptor freed.  Nodes enqueue, claim and
# complete tasks while other sessions analyze the table over and over: no
# session may fail or crash, and every task claimed is done once.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('write_cache_inval');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'role_cluster'
role_cluster.enabled = off
role_cluster.node_lease = '1h'
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION role_cluster;
	-- a WHEN clause and a partial index, which the cache prepares
	CREATE TABLE done (task_id bigint PRIMARY KEY);
	CREATE FUNCTION note_done() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.done VALUES (NEW.id);
		RETURN NULL;
	END
	$$;
	CREATE TRIGGER task_done AFTER UPDATE ON role_cluster.task
		FOR EACH ROW WHEN (NEW.state = 'done') EXECUTE FUNCTION note_done();
});

# Three nodes, each its own client (pgbench's client_id), and two sessions
# that analyze the table; each client runs one script or the other.
$node->pgbench(
	'--no-vacuum --client=5 --jobs=2 --time=8 -D registered=0',
	0,
	[qr{processed: [1-9]}],
	[qr{^$}],
	'claims and completions while the task table is analyzed over and over',
	{
		'012_node@8' => q{
\if :registered = 0
SELECT node_id FROM role_cluster.register_node('n' || :client_id, NULL, NULL, 1000) \gset
\set registered 1
\endif
SELECT role_cluster.enqueue('searchIndexing');
SELECT coalesce((SELECT id FROM role_cluster.claim_tasks('n' || :client_id, 1)), 0) AS id \gset
SELECT role_cluster.complete_task(:id, 'n' || :client_id) WHERE :id <> 0;
},
		'012_analyze@2' => q{
ANALYZE role_cluster.task;
}
	});

my ($done, $distinct, $running) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM role_cluster.task WHERE state = 'done'),
		   (SELECT count(*) FROM done),
		   (SELECT count(*) FROM role_cluster.task WHERE state = 'running')});
ok($done > 0, "$done tasks done");
is($distinct, $done, 'each task done noted once, by the trigger its WHEN clause allows');
is($running, 0, 'no task left running');
ok(!$node->log_contains('terminated by signal'), 'no server process crashed');

$node->stop;
done_testing();
