# pg_dump of a database using role_cluster, restored into a fresh database:
# roles, listeners and settings come back equal, and the integrity rules
# still hold afterwards.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'role_cluster'");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
	CREATE EXTENSION role_cluster;
	INSERT INTO role_cluster.network_listener (id, protocol, bind, description) VALUES
		('imap', 'imap', '[::]:993', 'IMAP over TLS'),
		('smtp', 'smtp', '[::]:25', NULL),
		('web', 'http', '[::]:443', 'JMAP and WebDAV');
	SELECT role_cluster.import_roles('[
		{"name": "frontend", "description": "Serves IMAP, JMAP, SMTP and WebDAV traffic",
		 "tasks": {"@type": "DisableAll"}, "listeners": {"@type": "EnableAll"}},
		{"name": "maintenance", "description": "Runs store maintenance, indexing, and metrics",
		 "tasks": {"@type": "EnableSome", "taskTypes": ["storeMaintenance", "accountMaintenance",
			"searchIndexing", "metricsCalculate", "metricsPush"]},
		 "listeners": {"@type": "DisableAll"}},
		{"name": "mx", "tasks": {"@type": "DisableSome", "taskTypes": ["spamClassifierTraining"]},
		 "listeners": {"@type": "EnableSome", "listenerIds": ["smtp"]}},
		{"name": "web-only", "listeners": {"@type": "DisableSome", "listenerIds": ["imap", "smtp"]}}]');
	UPDATE role_cluster.cluster_settings SET push_shards_total = 3;
});

# What must come back, read the same way from both databases.
my $snapshot = q{
	SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT format('role %s|%s|%s|%s|%s|%s', name, description, tasks, listeners,
					  created_at, updated_at) AS x FROM role_cluster.cluster_role
		UNION ALL
		SELECT format('listener %s|%s|%s|%s', id, protocol, bind, description)
			FROM role_cluster.network_listener
		UNION ALL
		SELECT 'settings ' || to_jsonb(s)::text FROM role_cluster.cluster_settings s) t
};
my $before = $node->safe_psql('src', $snapshot);
like($before, qr/role mx\|\|\{"\@type": "DisableSome"/, 'source has the roles');

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# Plain-format dump through psql, the way most operators restore.
$node->command_ok([ 'pg_dump', '-d', $node->connstr('src'), '-f', "$tempdir/plain.sql" ],
	'pg_dump (plain) succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->command_ok([ 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-d', $node->connstr('plain'),
		'-f', "$tempdir/plain.sql" ],
	'plain dump restores with ON_ERROR_STOP');
is($node->safe_psql('plain', $snapshot), $before,
	'plain restore: roles, listeners and settings are equal');
is($node->safe_psql('plain', 'SELECT count(*) FROM role_cluster.cluster_settings'), '1',
	'plain restore: still exactly one settings row');
is($node->safe_psql('plain', 'SELECT role_cluster.export_roles()'),
	$node->safe_psql('src', 'SELECT role_cluster.export_roles()'),
	'plain restore: export_roles is identical');

# Custom format through pg_restore.
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', "$tempdir/custom.dump" ],
	'pg_dump (custom) succeeds');
$node->safe_psql('postgres', 'CREATE DATABASE custom');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('custom'),
		"$tempdir/custom.dump" ],
	'custom dump restores with pg_restore');
is($node->safe_psql('custom', $snapshot), $before,
	'custom restore: roles, listeners and settings are equal');

# The rules hold in the restored database.
my ($ret, $out, $err) = $node->psql('plain',
	q{DELETE FROM role_cluster.network_listener WHERE id = 'smtp'});
isnt($ret, 0, 'restored: a listener a role names cannot be deleted');
like($err, qr/network listener "smtp" is still named by role "mx"/, 'with the FK-style message');
($ret, $out, $err) = $node->psql('plain',
	q{INSERT INTO role_cluster.cluster_role (name, listeners) VALUES ('x', 'EnableSome(pop3)')});
isnt($ret, 0, 'restored: a role cannot name a missing listener');
($ret, $out, $err) = $node->psql('plain',
	q{UPDATE role_cluster.cluster_role SET name = 'fe' WHERE name = 'frontend'});
like($err, qr/cannot rename role "frontend"/, 'restored: role names stay read-only');

$node->stop;
done_testing();
