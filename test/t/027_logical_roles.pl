
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
	'CREATE PUBLICATION roles FOR TABLE role_cluster.cluster_role');
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

$session->quit;
done_testing();
