
# audit() reports a replication slot that is not in use but holds an xmin
# (cleanup_held_back): a standby with hot_standby_feedback that went away
# keeps the primary from removing dead rows, queue rows included.  While
# the standby streams, the slot is in use and not reported.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $primary = rc_new_node('primary', allows_streaming => 1);
$primary->safe_psql(
	'postgres', q{
CREATE EXTENSION role_cluster;
SELECT pg_create_physical_replication_slot('regress_standby');
});
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf',
	"primary_slot_name = 'regress_standby'\nhot_standby_feedback = on\n");
$standby->start;

my $findings = q{
	SELECT subject, detail ~ '^Replication slot "regress_standby" is not in use and holds xmin \d+ \(\d+ transactions ago\)'
	FROM role_cluster.audit(wait_threshold => '1 hour')
	WHERE "check" = 'cleanup_held_back'};

ok( $primary->poll_query_until(
		'postgres', q{
	SELECT active AND xmin IS NOT NULL FROM pg_replication_slots
	 WHERE slot_name = 'regress_standby'}),
	'the standby feeds its xmin back through the slot');
is($primary->safe_psql('postgres', $findings),
	'', 'a slot in use is not reported');

$standby->stop;
ok( $primary->poll_query_until(
		'postgres', q{
	SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'regress_standby'}),
	'the slot is left unused');
is($primary->safe_psql('postgres', $findings),
	'slot regress_standby|t',
	'an unused slot holding an xmin is reported at once, whatever the threshold');
like(
	$primary->safe_psql('postgres', 'SELECT role_cluster.metrics()'),
	qr/^role_cluster_cleanup_held_back_slots 1$/m,
	'metrics() counts it');
like(
	$primary->safe_psql(
		'postgres', q{
	SELECT severity || ': ' || hint FROM role_cluster.audit()
	 WHERE "check" = 'cleanup_held_back'}),
	qr/^warning: Reconnect its consumer, or drop the slot/,
	'a warning, with what to do');

$primary->safe_psql('postgres',
	"SELECT pg_drop_replication_slot('regress_standby')");
is($primary->safe_psql('postgres', $findings),
	'', 'the slot dropped, the finding goes');
like(
	$primary->safe_psql('postgres', 'SELECT role_cluster.metrics()'),
	qr/^role_cluster_cleanup_held_back_slots 0$/m,
	'and the count with it');

$primary->stop;
done_testing();
