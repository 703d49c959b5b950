
# A transaction that only claims tasks commits without waiting for its WAL
# flush (role_cluster.flush_claims off, the default); one that writes
# anything else, or any with flush_claims on, waits.  After a crash, a lost
# claim leaves its task queued with no attempt counted, and a flushed one
# is handed back by reclaim() counting it: either way the task is there to
# run again, and the node that claimed it holds nothing.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

# Nothing else flushes WAL while a test looks: no worker, no autovacuum,
# no checkpoint, and the WAL writer's longest sleep (it does not hibernate
# within a test this short, so an asynchronous commit does not wake it).
# Small WAL segments, as each look starts a new one.
my $node = rc_new_node(
	'claim_flush',
	initdb => ['--wal-segsize=1'],
	conf => "role_cluster.enabled = off\n"
	  . "autovacuum = off\n"
	  . "checkpoint_timeout = '1h'\n"
	  . "wal_writer_delay = '10s'\n"
	  . "wal_writer_flush_after = 0\n");
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');

my ($s) = rc_node_session($node, 'n1', undef);

# Runs the statements of @sql in one transaction of session $s; whether
# its commit waited for the flush: the flush position, read right after,
# has reached the insert position read just before the COMMIT.  The
# transaction starts a new WAL segment, so that it fills no page of WAL:
# an asynchronous commit that does wakes the WAL writer, to write that
# page, and the page may end between its last record and its commit.
sub commit_flushed
{
	my (@sql) = @_;
	$s->query_safe('SELECT pg_switch_wal()');
	$s->query_safe('BEGIN');
	$s->query_safe($_) for @sql;
	my $before = $s->query_safe('SELECT pg_current_wal_insert_lsn()');
	$s->query_safe('COMMIT');
	return $s->query_safe(
		"SELECT pg_current_wal_flush_lsn() >= '$before'::pg_lsn") eq 't';
}

my $enqueue = "SELECT role_cluster.enqueue('storeMaintenance')";
my $claim = "SELECT count(*) FROM role_cluster.claim_tasks('n1', 1)";

ok(commit_flushed($enqueue), 'an enqueue waits for its flush');
ok(!commit_flushed($claim), 'a claim alone does not wait for its flush');
is($s->query_safe('SHOW synchronous_commit'), 'on',
	'the session\'s synchronous_commit is on again after that commit');
is($s->query_safe(
		"SELECT count(*) FROM role_cluster.task WHERE state = 'running' AND node_id = 'n1'"),
	'1', 'the claim took its task');

$s->query_safe($enqueue) for 1 .. 2;
ok(!commit_flushed($claim, $claim), 'two claims in one transaction do not wait');
ok(commit_flushed($enqueue, $claim), 'an enqueue, then a claim: it waits');
ok(commit_flushed($claim, $enqueue), 'a claim, then an enqueue: it waits');
ok( commit_flushed(
		$claim,
		"SELECT role_cluster.complete_task(max(id), 'n1') FROM role_cluster.task WHERE state = 'running'"
	),
	'a claim, then a completion: it waits');
ok(commit_flushed("SELECT role_cluster.complete_task(max(id), 'n1') FROM role_cluster.task WHERE state = 'running'"),
	'a completion waits for its flush');

$s->query_safe('SET role_cluster.flush_claims = on');
$s->query_safe($enqueue);
ok(commit_flushed($claim), 'with flush_claims on, a claim waits');
$s->query_safe('RESET role_cluster.flush_claims');

# --- crash -----------------------------------------------------------------

# Everything queued or held is settled first.  Then one task is claimed
# with a flush, and after it another without one (a later flush would
# take the earlier claim with it).
$s->query_safe("SELECT count(*) FROM role_cluster.claim_tasks('n1', 100)");
$s->query_safe(
	"SELECT role_cluster.complete_task(id, 'n1') FROM role_cluster.task WHERE state = 'running'");
is($s->query_safe("SELECT count(*) FROM role_cluster.task WHERE state <> 'done'"),
	'0', 'nothing queued or held before the crash');
$s->query_safe('SET role_cluster.flush_claims = on');
my $kept = $s->query_safe(
	"SELECT role_cluster.enqueue('storeMaintenance', 'flushed claim')");
ok(commit_flushed($claim), 'the first task\'s claim is flushed');
$s->query_safe('RESET role_cluster.flush_claims');
my $lost = $s->query_safe(
	"SELECT role_cluster.enqueue('storeMaintenance', 'lost claim')");
ok(!commit_flushed($claim), 'the second task\'s claim is not flushed');

$node->stop('immediate');
eval { $s->quit };
$node->start;

is( $node->safe_psql(
		'postgres',
		"SELECT state || ' ' || attempts || ' ' || coalesce(node_id, '-') FROM role_cluster.task WHERE id = $lost"
	),
	'queued 0 -',
	'the lost claim\'s task is queued, with no attempt counted');
is( $node->safe_psql(
		'postgres',
		"SELECT state || ' ' || attempts || ' ' || node_id FROM role_cluster.task WHERE id = $kept"
	),
	'running 1 n1',
	'the flushed claim\'s task is still held by the node whose session the crash ended');
is($node->safe_psql('postgres', 'SELECT role_cluster.reclaim()'),
	'1', 'reclaim() hands back the flushed claim only');
is( $node->safe_psql(
		'postgres',
		"SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $kept"),
	'queued 1',
	'the flushed claim\'s task is queued again, its attempt counted');

# the node registers again and may run both; it holds nothing from before
($s) = rc_node_session($node, 'n1', undef);
is( $s->query_safe(
		"SELECT string_agg(id::text, ',' ORDER BY id) FROM role_cluster.claim_tasks('n1', 10)"),
	"$kept,$lost",
	'the node claims both tasks again');
$s->quit;

$node->stop;
done_testing();
