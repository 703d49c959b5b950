
# The role cache of a logical-replication subscriber: the apply worker
# fires row triggers only for inserts, updates and deletes, never statement
# triggers, so the cache must hear of a role the publisher changed through
# a row trigger.  A session on the subscriber that built its cache before
# the change answers from the changed role after it, and the change wakes
# the subscriber's worker, as one made there would.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $publisher = rc_new_node('publisher', allows_streaming => 1, conf => "wal_level = logical\n");
my $subscriber = rc_new_node('subscriber');
for my $n ($publisher, $subscriber)
{
	$n->safe_psql(
		'postgres', q{
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.cluster_role (name, tasks)
	VALUES ('indexer', '{"@type": "EnableSome", "taskTypes": ["searchIndexing"]}');
});
}
$publisher->safe_psql('postgres',
	'CREATE PUBLICATION roles FOR TABLE role_cluster.cluster_role, role_cluster.network_listener, role_cluster.task_policy, role_cluster.cluster_settings'
);
my $connstr = $publisher->connstr . ' dbname=postgres';
$subscriber->safe_psql('postgres',
	"CREATE SUBSCRIPTION roles CONNECTION '$connstr' PUBLICATION roles WITH (copy_data = false)"
);
$publisher->wait_for_catchup('roles');

# a session of the subscriber, its cache built before the change
my $session = $subscriber->background_psql('postgres');
is( $session->query_safe(
		"SELECT role_cluster.role_enables_task('indexer', 'metricsPush')"),
	'f', 'the subscriber\'s session: indexer does not run metricsPush');

my $wakeups = $subscriber->safe_psql('postgres', 'SELECT wakeups FROM role_cluster.worker_stats');
$publisher->safe_psql('postgres',
	"UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(searchIndexing, metricsPush)' WHERE name = 'indexer'"
);
$publisher->wait_for_catchup('roles');
ok( $subscriber->poll_query_until(
		'postgres', "SELECT wakeups > $wakeups FROM role_cluster.worker_stats"),
	'the change applied on the subscriber wakes its worker (work may now have a node)');
is( $subscriber->safe_psql('postgres',
		"SELECT tasks::text FROM role_cluster.cluster_role WHERE name = 'indexer'"),
	'{"@type": "EnableSome", "taskTypes": ["metricsPush", "searchIndexing"]}',
	'the change was applied on the subscriber');
is( $session->query_safe(
		"SELECT role_cluster.role_enables_task('indexer', 'metricsPush')"),
	't', 'and the session that cached the role before answers from the change');

# a role added and one deleted, in one transaction
$publisher->safe_psql(
	'postgres', q{
BEGIN;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('mta', 'EnableSome(outboundMta)');
DELETE FROM role_cluster.cluster_role WHERE name = 'indexer';
COMMIT;
});
$publisher->wait_for_catchup('roles');
is( $session->query_safe(
		"SELECT role_cluster.role_exists('indexer') || ' ' || role_cluster.role_enables_task('mta', 'outboundMta')"
	),
	'false true', 'a role deleted and one added by the publisher show in the session');

# listeners: one added, then renamed, by the publisher; the session that
# listed the listeners before sees each change at its next statement
my $listeners = "SELECT coalesce(string_agg(l, ','), '-') FROM role_cluster.role_listeners(NULL) l";
is($session->query_safe($listeners), '-', 'the subscriber\'s session: no listeners');
$publisher->safe_psql('postgres',
	"INSERT INTO role_cluster.network_listener (id, protocol) VALUES ('imap', 'imap')");
$publisher->wait_for_catchup('roles');
is($session->query_safe($listeners), 'imap', 'a listener added by the publisher shows in the session');
$publisher->safe_psql('postgres',
	"UPDATE role_cluster.network_listener SET id = 'imaps' WHERE id = 'imap'");
$publisher->wait_for_catchup('roles');
is($session->query_safe($listeners), 'imaps', 'and one renamed by the publisher, by its new id only');

$session->quit;

# A type made a singleton and a new number of push shards reach the
# subscriber's own tasks too: the triggers that copy them to the tasks
# fire in the apply worker, as in a session writing with
# session_replication_role = replica.
$subscriber->safe_psql(
	'postgres', q{
SELECT count(role_cluster.enqueue('searchIndexing', 'policy')) FROM generate_series(1, 3);
SELECT count(role_cluster.enqueue('pushNotifications', 'shard', shard_key => k))
	FROM unnest('{alice,abc,bob,carol}'::text[]) k;
});
my $check = q{
SELECT (SELECT string_agg(DISTINCT singleton::text, ',') FROM role_cluster.task WHERE kind = 'policy')
	|| ' ' || (SELECT count(*) FROM role_cluster.task
			   WHERE kind = 'shard' AND push_shard IS DISTINCT FROM role_cluster.shard_for(shard_key, %d))
};
is($subscriber->safe_psql('postgres', sprintf($check, 1)), 'false 0', 'the subscriber\'s tasks before');
$wakeups = $subscriber->safe_psql('postgres', 'SELECT wakeups FROM role_cluster.worker_stats');
$publisher->safe_psql(
	'postgres', q{
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
UPDATE role_cluster.cluster_settings SET push_shards_total = 3;
});
$publisher->wait_for_catchup('roles');
is( $subscriber->safe_psql(
		'postgres',
		"SELECT singleton || ' ' || (SELECT push_shards_total FROM role_cluster.cluster_settings) FROM role_cluster.task_policy WHERE task_type = 'searchIndexing'"
	),
	'true 3',
	'the publisher\'s policy and shards were applied on the subscriber');
is($subscriber->safe_psql('postgres', sprintf($check, 3)),
	'true 0', 'and reached its queued tasks: singletons now, each in its new shard');
ok( $subscriber->poll_query_until(
		'postgres', "SELECT wakeups > $wakeups FROM role_cluster.worker_stats"),
	'and woke its worker');
$subscriber->safe_psql(
	'postgres', q{
SET session_replication_role = replica;
UPDATE role_cluster.task_policy SET singleton = false WHERE task_type = 'searchIndexing';
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
});
is($subscriber->safe_psql('postgres', sprintf($check, 2)),
	'false 0', 'a change written with session_replication_role = replica reaches the tasks as well');

done_testing();
