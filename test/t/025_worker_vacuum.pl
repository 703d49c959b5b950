
# The worker has the queue tables vacuumed between autovacuum's visits:
# every role_cluster.vacuum_interval, a process of its own vacuums a table
# with more dead rows than its autovacuum threshold (for the task table 500
# plus 1% of its rows); not when the interval is 0, not below the
# threshold, not again after someone else's vacuum, not while the table's
# autovacuum_enabled is false, and never waiting: a table locked by
# another vacuum is skipped, tried again ever less often, and dispatch
# goes on.  While a snapshot held open keeps dead rows, no pass follows
# the one that removed what it could, until it ends.  After a backlog
# drained, the task table's bloated indexes are rebuilt (under 100 rows
# left, smaller ones too; when a writer held the table, once it is gone;
# also when the vacuum after it was someone else's, but no process is
# started for that when no index is big; one that fails is logged,
# counted, and let pass by the next vacuums, and so, uncounted, is one that
# gains nothing while a snapshot keeps the rows).  One vacuum process at a
# time, also when the worker is restarted while one is at work.  With no
# background worker slot free, the worker says so once and goes on.
# Autovacuum is off here, so every vacuum the statistics show is the
# worker's (or the test's own).
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $node = rc_new_node('vacuum',
	conf => "autovacuum = off\nrole_cluster.poll_interval = '100ms'\nrole_cluster.vacuum_interval = 0\n");
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('indexer', '{"@type": "EnableSome", "taskTypes": ["searchIndexing"]}');
});
ok( $node->poll_query_until(
		'postgres', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'the worker runs');

# The task table's vacuums, dead rows and heap size, and the worker's count
sub task_stats
{
	return $node->safe_psql(
		'postgres', q{
	SELECT s.vacuum_count || ' ' || s.n_dead_tup || ' ' || pg_relation_size(s.relid) || ' ' || w.vacuumed
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass});
}

# $n tasks queued in the task table
sub enqueue_tasks
{
	my ($n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(role_cluster.enqueue('storeMaintenance')) FROM generate_series(1, $n)");
	return;
}

# $n dead rows in the task table: tasks enqueued and then deleted (a
# session's statistics reach the shared ones when it ends)
sub make_dead_rows
{
	my ($n) = @_;
	enqueue_tasks($n);
	$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
}

# Whether a vacuum of the task table ends, after the $before-th, and the
# vacuum process that ran it exits (after any rebuild)
sub vacuum_passed
{
	my ($before) = @_;
	return $node->poll_query_until(
		'postgres', qq{
	SELECT s.vacuum_count > $before
	   AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')
	  FROM pg_stat_user_tables s WHERE s.relid = 'role_cluster.task'::regclass});
}

# The task table's vacuum count
sub task_vacuums
{
	return $node->safe_psql('postgres',
		"SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'role_cluster.task'::regclass");
}

# Whether the statistics come to show at least $n dead rows in the task table
sub dead_rows_seen
{
	my ($n) = @_;
	return $node->poll_query_until('postgres',
		"SELECT n_dead_tup >= $n FROM pg_stat_user_tables WHERE relid = 'role_cluster.task'::regclass");
}

# VACUUM of the task table by hand, repeated until no dead rows are left:
# a page that another session has pinned at that moment (the worker's
# dispatch scan visits the dead rows' pages) keeps its dead rows until the
# next pass.  Whether none are left.
sub vacuum_by_hand
{
	for (1 .. 20)
	{
		$node->safe_psql('postgres', 'VACUUM role_cluster.task');
		my (undef, $dead) = split / /, task_stats();
		return 1 if $dead == 0;
	}
	return 0;
}

# Has the postmaster log the processes it starts (at DEBUG1); returns the
# log's offset from which to look for them
sub watch_process_starts
{
	$node->safe_psql('postgres', "ALTER SYSTEM SET log_min_messages = 'debug1'");
	$node->reload;
	return -s $node->logfile;
}

# Whether no vacuum process was started after $offset; the log level back
# to the suite's
sub no_vacuum_process_since
{
	my ($offset, $name) = @_;
	unlike(
		slurp_file($node->logfile, $offset),
		qr/starting background worker process "role_cluster vacuum"/, $name);
	$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages');
	$node->reload;
}

# --- off: nothing vacuums the dead rows ------------------------------------

make_dead_rows(2000);
ok(dead_rows_seen(2000), '2000 dead rows in the task table');
# a full second of polls (every 100 ms) with the vacuum turned off
$node->safe_psql('postgres', 'SELECT pg_sleep(1)');
my ($vacuums, $dead, $size, $counted) = split / /, task_stats();
is("$vacuums $counted", '0 0', 'vacuum_interval = 0: the worker does not vacuum');
cmp_ok($size, '>', 0, 'and the heap keeps its pages');

# --- on: it vacuums within an interval, and the heap is given back ------------

rc_set_and_reload($node, vacuum_interval => '1s');
ok( $node->poll_query_until(
		'postgres', q{
	SELECT s.vacuum_count = 1 AND s.n_dead_tup = 0 AND pg_relation_size(s.relid) = 0
	   AND w.vacuumed = 1 AND w.errors = 0
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'vacuum_interval = 1s: the worker vacuumed the task table, and the empty heap was truncated');
like(
	$node->safe_psql('postgres', 'SELECT role_cluster.metrics()'),
	qr/^role_cluster_worker_vacuumed_total 1$/m,
	'metrics() counts it');
like(
	$node->safe_psql('postgres', 'SELECT role_cluster.metrics()'),
	qr/^role_cluster_worker_serves_this_database 1$/m,
	'and says the worker is this database\'s');

# --- below the threshold, nothing ------------------------------------------

make_dead_rows(400);
ok(dead_rows_seen(400), '400 dead rows');
$node->safe_psql('postgres', 'SELECT pg_sleep(2.5)');
($vacuums, $dead, $size, $counted) = split / /, task_stats();
is("$vacuums $counted", '1 1', 'within the threshold (500 dead rows) the worker leaves the table alone');

# --- a table vacuumed by someone else meanwhile is left alone ------------------

# the worker's look off meanwhile, so that the hand comes first, after the
# DELETE's dead rows reached the statistics
rc_set_and_reload($node, vacuum_interval => '0');
make_dead_rows(1000);
ok(dead_rows_seen(1000), '1000 dead rows');
ok(vacuum_by_hand(), 'vacuumed by hand: no dead rows left');
my $hand_vacuums = task_vacuums();
my $log_offset = watch_process_starts();
rc_set_and_reload($node, vacuum_interval => '1s');
$node->safe_psql('postgres', 'SELECT pg_sleep(2.5)');
($vacuums, $dead, $size, $counted) = split / /, task_stats();
is("$vacuums $counted", "$hand_vacuums 1", 'a table vacuumed by hand meanwhile is not vacuumed again');
# nor are its indexes worth a look for a rebuild: all of them are small
no_vacuum_process_since($log_offset,
	'and no vacuum process is started to look at its indexes, which are small');

# --- locked by another vacuum: skipped, and dispatch goes on -----------------

my ($n1, $c1) = rc_node_session($node, 'n1', 'indexer');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe('LOCK role_cluster.task IN SHARE UPDATE EXCLUSIVE MODE');
make_dead_rows(2000);
ok(dead_rows_seen(2000), '2000 dead rows again, while another session holds the lock a vacuum needs');
$log_offset = -s $node->logfile;
ok( $node->wait_for_log(qr/skipping vacuum of "task" --- lock not available/, $log_offset),
	'the vacuum process skips the locked table instead of waiting');
my $t = $node->safe_psql('postgres', "SELECT role_cluster.enqueue('searchIndexing')");
ok(rc_wait_notification($n1, $c1), 'and goes on dispatching meanwhile');
is(rc_query($n1, "SELECT id FROM role_cluster.fetch_tasks('n1', 10)"), $t, 'the node gets its task');
($vacuums, $dead, $size, $counted) = split / /, task_stats();
is("$vacuums $counted", '2 1', 'a skipped table is not counted as vacuumed');
# tries after 1, 2, 4, ... intervals (each try a look after the last one
# ended): started 2, 3, 5 and 9 s apart at the soonest, so in 20 s at most 5
# skips; waits that did not grow would make 7 or more, a try every second 20
$node->safe_psql('postgres', 'SELECT pg_sleep(20)');
my $skips = () = substr(slurp_file($node->logfile), $log_offset)
  =~ /skipping vacuum of "task" --- lock not available/g;
cmp_ok($skips, '<=', 5, "the locked table is tried again ever less often ($skips skips in 20 s)");
$locker->query_safe('COMMIT');
$locker->quit;
ok( $node->poll_query_until(
		'postgres', q{
	SELECT s.vacuum_count = 3 AND w.vacuumed = 2
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'once the lock is gone, the next look vacuums it');

# --- a snapshot held open: one pass, then none until it ends ----------------
# Dead rows older than the snapshot go in one pass (whether it runs before
# the snapshot is taken or after); those younger than it stay, since the
# snapshot may see them, and a pass every second would only read the table
# again.

make_dead_rows(2000);
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$holder->query_safe('SELECT count(*) FROM role_cluster.task');
make_dead_rows(2000);
ok( $node->poll_query_until(
		'postgres', q{
	SELECT s.vacuum_count = 4 AND s.n_dead_tup >= 2000 AND w.vacuumed = 3
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'with a snapshot held open, one pass removes the dead rows older than it');
$node->safe_psql('postgres', 'SELECT pg_sleep(3)');
($vacuums, $dead, $size, $counted) = split / /, task_stats();
cmp_ok($dead, '>=', 2000, 'the younger ones stay');
is("$vacuums $counted", '4 3', 'and no pass follows while the removal horizon stays where it is');
$holder->query_safe('COMMIT');
$holder->quit;
ok( $node->poll_query_until(
		'postgres', q{
	SELECT s.vacuum_count = 5 AND s.n_dead_tup = 0 AND w.vacuumed = 4
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'once the snapshot is gone, the next look vacuums them away');

# --- an index far bigger than its rows need is rebuilt after a vacuum -------
# A backlog of 60,000 tasks that drains leaves the indexes at their largest
# (a btree keeps its pages).  The rebuild waits at most 50 ms for its
# locks, three times: while a session writes to the table, it is left for
# later, and the worker has it tried again, without a vacuum, until it is
# done.

my $index_pages = q{
	SELECT pg_relation_size('role_cluster.task_pkey') / 8192 || ' '
		   || pg_relation_size('role_cluster.task_queued_idx') / 8192};

# The log says, after $offset, that the primary key ($what) and the queued
# tasks' index were rebuilt, and they are down to a few pages each
sub rebuilt_both
{
	my ($offset, $what) = @_;
	ok($node->wait_for_log(qr/role_cluster vacuum rebuilt index "task_pkey"/, $offset), $what);
	ok($node->wait_for_log(qr/role_cluster vacuum rebuilt index "task_queued_idx"/, $offset),
		"and the queued tasks' index");
	like($node->safe_psql('postgres', $index_pages),
		qr/^[1-4] [1-4]$/, 'down to a few pages each');
	return;
}

enqueue_tasks(60000);
my ($pkey_pages, $queued_pages) = split / /, $node->safe_psql('postgres', $index_pages);
cmp_ok($pkey_pages, '>=', 128, "60,000 queued tasks: the primary key has $pkey_pages pages");
cmp_ok($queued_pages, '>=', 128, "and the queued tasks' index $queued_pages");
my $writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN');
$writer->query_safe('LOCK role_cluster.task IN ROW EXCLUSIVE MODE');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok( $node->wait_for_log(
		qr/role_cluster vacuum did not rebuild index "task_pkey".*\n.*DETAIL:  Its locks were not free within 50ms, 3 times; it is tried again soon\./,
		$log_offset),
	'the backlog drained, a writer holding its lock: the rebuild gives up after 3 tries of 50 ms');
ok($node->wait_for_log(qr/role_cluster vacuum did not rebuild index "task_queued_idx"/, $log_offset),
	'for each index');
is($node->safe_psql('postgres', $index_pages),
	"$pkey_pages $queued_pages", 'and the indexes keep their pages');
$writer->query_safe('COMMIT');
$writer->quit;
$log_offset = -s $node->logfile;
$vacuums = task_vacuums();
rebuilt_both($log_offset, 'the writer gone, the primary key is rebuilt');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FILTER (WHERE i.indisvalid AND i.indisready), count(*) FROM pg_index i
	 WHERE i.indrelid = 'role_cluster.task'::regclass}),
	'7|7', 'all seven indexes of the task table valid, and no others');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM role_cluster.task WHERE id > 0 AND state = 'queued'"),
	'0', 'and the primary key answers');
is(task_vacuums(), $vacuums, 'by the worker\'s asking for a rebuild alone: no vacuum since');

is($node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats'),
	'0', 'no step failed');

# --- given up for its locks, then autovacuum_enabled = false: left alone ----
# The worker goes on asking for a rebuild given up for its locks; once the
# table's autovacuum is turned off, that is no longer done either.

enqueue_tasks(60000);
($pkey_pages, $queued_pages) = split / /, $node->safe_psql('postgres', $index_pages);
$writer = $node->background_psql('postgres');
$writer->query_safe('BEGIN');
$writer->query_safe('LOCK role_cluster.task IN ROW EXCLUSIVE MODE');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok( $node->wait_for_log(qr/role_cluster vacuum did not rebuild index "task_pkey"/, $log_offset),
	'another backlog drained while a writer holds the table: the rebuild gives up');
ok($node->wait_for_log(qr/role_cluster vacuum did not rebuild index "task_queued_idx"/, $log_offset),
	'for each index');
$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task SET (autovacuum_enabled = false)');
# a process that chose its indexes before that gives up too: the writer is there
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'no vacuum process runs');
$writer->query_safe('COMMIT');
$writer->quit;
$log_offset = -s $node->logfile;
# the worker asks again after 1, 2, 4 ... vacuum intervals of 1 s
$node->safe_psql('postgres', 'SELECT pg_sleep(4)');
is($node->safe_psql('postgres', $index_pages),
	"$pkey_pages $queued_pages", 'autovacuum_enabled turned off meanwhile: the indexes keep their pages');
unlike(slurp_file($node->logfile, $log_offset),
	qr/role_cluster vacuum rebuilt index/, 'and nothing is rebuilt');
$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task RESET (autovacuum_enabled)');

# --- a big heap keeps its indexes: a rebuild would read it all --------------
# 60,000 tasks of 700-byte payloads fill over 32 MB of heap; the 600 left
# of them, one in a hundred, keep the vacuum from truncating it.  Their
# indexes are far bigger than 600 rows need, but no rebuild reads that heap
# while writes wait.  Emptied, the heap is truncated and they are rebuilt.

$vacuums = task_vacuums();
$node->safe_psql('postgres',
	q{SELECT count(role_cluster.enqueue('storeMaintenance', payload => jsonb_build_object('p',
		(SELECT string_agg(md5(i::text || '.' || j), '') FROM generate_series(1, 22) j))))
	  FROM generate_series(1, 60000) i});
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task WHERE id % 100 <> 0');
ok(vacuum_passed($vacuums), 'drained to one task in a hundred, and vacuumed');
is( $node->safe_psql(
		'postgres', q{
	SELECT c.reltuples || ' ' || (pg_relation_size(c.oid) > 32 * 1024 * 1024)
	  FROM pg_class c WHERE c.oid = 'role_cluster.task'::regclass}),
	'600 true', '600 rows in over 32 MB of heap');
($pkey_pages) = split / /, $node->safe_psql('postgres', $index_pages);
cmp_ok($pkey_pages, '>=', 128, "the primary key keeps $pkey_pages pages");
unlike(slurp_file($node->logfile, $log_offset),
	qr/role_cluster vacuum rebuilt index/, 'and is not rebuilt');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
rebuilt_both($log_offset, 'emptied, the heap is truncated and the indexes are rebuilt');

# --- a drained backlog vacuumed by someone else: rebuilt all the same --------
# With the worker's look off, a backlog drains and an operator's VACUUM (or
# autovacuum) takes its dead rows.  Its look back on, the worker finds
# nothing to vacuum, but has the process look for bloated indexes once.

rc_set_and_reload($node, vacuum_interval => '0');
enqueue_tasks(60000);
($pkey_pages, $queued_pages) = split / /, $node->safe_psql('postgres', $index_pages);
cmp_ok($pkey_pages, '>=', 128, "another backlog: the primary key has $pkey_pages pages again");
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
# the DELETE's dead rows reach the statistics as its session ends: had they
# come after the VACUUM, the worker would vacuum them again itself
ok(dead_rows_seen(60000), 'the backlog drained: 60,000 dead rows');
ok(vacuum_by_hand(), 'vacuumed by hand: no dead rows left for the worker');
$vacuums = task_vacuums();
$log_offset = -s $node->logfile;
rc_set_and_reload($node, vacuum_interval => '1s');
rebuilt_both($log_offset,
	'drained and vacuumed by hand, the primary key is rebuilt by the worker all the same');
is(task_vacuums(), $vacuums, 'without a vacuum of its own');

# --- an all but empty queue: smaller indexes are rebuilt too ----------------
# A backlog of 15,000 tasks grows the indexes to fewer than 128 pages.  While
# 150 of its tasks stay, they keep their pages (8 times what 150 rows need is
# 20); once fewer than 100 rows are left, an index of 32 pages or more is
# rebuilt to the size of a new one.

enqueue_tasks(15000);
($pkey_pages, $queued_pages) = split / /, $node->safe_psql('postgres', $index_pages);
ok( $pkey_pages >= 32 && $pkey_pages < 128 && $queued_pages >= 32 && $queued_pages < 128,
	"15,000 queued tasks: the primary key has $pkey_pages pages, the queued tasks' index $queued_pages"
);
$vacuums = task_vacuums();
$log_offset = -s $node->logfile;
$node->safe_psql('postgres',
	'DELETE FROM role_cluster.task WHERE id < (SELECT max(id) - 149 FROM role_cluster.task)');
ok(vacuum_passed($vacuums), 'the backlog drained to 150 tasks, and vacuumed');
is($node->safe_psql('postgres', "SELECT reltuples FROM pg_class WHERE oid = 'role_cluster.task'::regclass"),
	'150', 'the vacuum counted 150 rows');
is($node->safe_psql('postgres', $index_pages),
	"$pkey_pages $queued_pages", 'with 150 rows, indexes under 128 pages keep their pages');
unlike(slurp_file($node->logfile, $log_offset),
	qr/role_cluster vacuum rebuilt index/, 'and nothing is rebuilt');
$log_offset = -s $node->logfile;
make_dead_rows(1000);
rebuilt_both($log_offset, 'the queue emptied: the primary key is rebuilt, under 128 pages');

# --- a snapshot keeps a drained backlog's entries: no rebuild over and over --
# A snapshot taken while 60,000 tasks were queued (by a session that never
# touches the table, so it holds no lock a rebuild needs) keeps their rows,
# and so their entries in any rebuild, until it ends.  The rebuild after the
# vacuum gains nothing and says so; the next vacuum (someone else's) lets the
# index pass, as after a failed rebuild; once the snapshot is gone, the
# worker's vacuum removes the rows and the rebuild shrinks the index.

enqueue_tasks(60000);
my $keeper = $node->background_psql('postgres');
$keeper->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$keeper->query_safe('SELECT 1');
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok( $node->wait_for_log(
		qr/role_cluster vacuum rebuilt index "task_pkey", but it still has \d+ pages\n.*DETAIL:  Rows that an older snapshot may still see kept their entries; the next 1 vacuum of its table lets it pass\./,
		$log_offset),
	'a snapshot keeps the drained rows: the rebuild gains nothing, and says so');
ok( $node->wait_for_log(
		qr/role_cluster vacuum rebuilt index "task_queued_idx", but it still has/, $log_offset),
	'for each index');
# the postmaster logs at DEBUG1 each process it starts and sees exit; the
# one that rebuilt must be gone first
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'the vacuum process that rebuilt them is gone');
$node->safe_psql('postgres', "ALTER SYSTEM SET log_min_messages = 'debug1'");
$node->reload;
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'VACUUM role_cluster.task');
ok( $node->wait_for_log(
		qr/background worker "role_cluster vacuum" \(PID \d+\) exited with exit code 0/, $log_offset),
	'after that vacuum the worker has its process look at the indexes');
unlike(slurp_file($node->logfile, $log_offset),
	qr/role_cluster vacuum rebuilt index/, 'which lets them pass');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET log_min_messages');
$node->reload;
$keeper->query_safe('COMMIT');
$keeper->quit;
$log_offset = -s $node->logfile;
rebuilt_both($log_offset, 'the snapshot gone, the next vacuum and rebuild shrink them');

# --- a rebuild that fails is logged and counted, and the others go on -------
# An index an operator added, whose expression fails in the vacuum process
# (only there: the sessions that enqueue evaluate it too).

$node->safe_psql(
	'postgres', q{
CREATE FUNCTION public.fails_in_vacuum(id bigint) RETURNS bigint
	LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF (SELECT backend_type FROM pg_stat_activity WHERE pid = pg_backend_pid()) = 'role_cluster vacuum' THEN
		RAISE EXCEPTION 'not in the vacuum process';
	END IF;
	RETURN id;
END
$$;
CREATE INDEX task_operators_idx ON role_cluster.task (public.fails_in_vacuum(id));
});
enqueue_tasks(60000);
$log_offset = -s $node->logfile;
# one task stays, so that the rebuild evaluates the expression
$node->safe_psql('postgres',
	'DELETE FROM role_cluster.task WHERE id <> (SELECT max(id) FROM role_cluster.task)');
ok( $node->wait_for_log(qr/ERROR:  not in the vacuum process/, $log_offset),
	'a rebuild that fails is logged');
like(slurp_file($node->logfile, $log_offset),
	qr/role_cluster vacuum rebuilt index "task_pkey"/, 'the others are rebuilt all the same');
is( $node->safe_psql(
		'postgres', 'SELECT errors, last_error FROM role_cluster.worker_stats'),
	'1|rebuild of task_operators_idx: not in the vacuum process',
	'and counted in worker_stats, with the index it was');
ok( $node->wait_for_log(
		qr/role_cluster vacuum will try to rebuild index "task_operators_idx" again after 1 more vacuum of its table/,
		$log_offset),
	'the next vacuum lets it pass');

# Each vacuum of the table is one chance to let pass, whoever ran it; the
# worker's looks at the indexes between vacuums are none.  Counted from the
# failed try's vacuum, the next lets it pass and the second tries again,
# even after idle vacuum intervals (its own vacuum and rebuild look count as
# one look, so it does not measure the indexes again after them), and
# whether or not a vacuum of leftover dead rows comes meanwhile.
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'the failed try\'s vacuum process is done');
my $failed_at = task_vacuums();
$node->safe_psql('postgres', 'SELECT pg_sleep(3)');
my $errors = sub {
	$node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats');
};
my $retried_at;
$retried_at = task_vacuums() if $errors->() eq '2';
# Four more vacuums: the first lets it pass, the second tries and fails
# again, the next three let it pass (2^2 - 1), instead of four more failures.
for my $round (1 .. 4)
{
	$vacuums = task_vacuums();
	enqueue_tasks(1000);
	$node->safe_psql('postgres',
		'DELETE FROM role_cluster.task WHERE id <> (SELECT max(id) FROM role_cluster.task)');
	ok(vacuum_passed($vacuums), "vacuum $round after the failure");
	$retried_at //= task_vacuums() if $errors->() eq '2';
}
is(defined $retried_at ? $retried_at - $failed_at : 'none',
	2, 'the first vacuum after the failed try lets it pass, the second tries again');
is($node->safe_psql('postgres', 'SELECT errors FROM role_cluster.worker_stats'),
	'2', 'four vacuums after a failed rebuild try it once more, not four times');
like(slurp_file($node->logfile, $log_offset),
	qr/will try to rebuild index "task_operators_idx" again after 3 more vacuums of its table/,
	'and then let three pass');
is( $node->safe_psql(
		'postgres', q{
	SELECT count(*) FILTER (WHERE i.indisvalid), count(*) FROM pg_index i
	 WHERE i.indrelid = 'role_cluster.task'::regclass}),
	'8|8', 'every index of the task table is still valid');
$node->safe_psql('postgres',
	'DROP INDEX role_cluster.task_operators_idx; DROP FUNCTION public.fails_in_vacuum(bigint); '
	  . 'DELETE FROM role_cluster.task');

# --- one vacuum process at a time, also across a restart of the worker -------
# A vacuum process slowed down (vacuum_cost_delay) is still at work when the
# worker is terminated; the new worker, which has no handle on it, starts no
# second one beside it (one would skip the table the first holds, and say
# so), and starts the next once it is gone.

ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'no vacuum process runs');
$node->safe_psql('postgres', "ALTER SYSTEM SET vacuum_cost_delay = '100ms'");
$node->safe_psql('postgres', 'ALTER SYSTEM SET vacuum_cost_limit = 1');
$node->reload;
# pages enough for it to outlast the checks below, which end it
make_dead_rows(5000);
ok( $node->poll_query_until(
		'postgres',
		"SELECT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'a slowed-down vacuum process is at work');
my $vacuum_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum'");
my $old_worker = rc_worker_pid($node);
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_worker)");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT w.state = 'running' AND a.pid <> $old_worker
	  FROM role_cluster.worker_stats w, pg_stat_activity a
	 WHERE a.backend_type = 'role_cluster worker'}),
	'the terminated worker is back');
make_dead_rows(2000);
ok(dead_rows_seen(2000), 'more dead rows for the new worker to see');
my $starts_offset = watch_process_starts();
# three vacuum intervals
$node->safe_psql('postgres', 'SELECT pg_sleep(3)');
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum'"
	),
	$vacuum_pid,
	'the new worker starts no second vacuum process while the first is at work');
unlike(
	substr(slurp_file($node->logfile), $log_offset),
	qr/skipping vacuum of "task"/,
	'so nothing skipped the table the first one holds');
# (a second one would exit at once, seeing the first's pid in shared memory)
no_vacuum_process_since($starts_offset,
	'nor does it try: it sees the first at work, and starts none meanwhile');
$vacuums = task_vacuums();
$node->safe_psql('postgres', 'ALTER SYSTEM RESET vacuum_cost_delay');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET vacuum_cost_limit');
$node->reload;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($vacuum_pid)");
ok(vacuum_passed($vacuums), 'once it is gone, the worker has the table vacuumed by a new one');

# --- autovacuum_enabled = false on the table: the worker leaves it too ---------

$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task SET (autovacuum_enabled = false)');
# a vacuum process chosen before the change may still be at work
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'no vacuum process runs');
my $before = task_stats();
make_dead_rows(1000);
ok(dead_rows_seen(1000), '1000 dead rows in the task table, whose autovacuum is turned off');
$node->safe_psql('postgres', 'SELECT pg_sleep(2.5)');
($vacuums, $dead, $size, $counted) = split / /, task_stats();
my ($vacuums_before, undef, undef, $counted_before) = split / /, $before;
is("$vacuums $counted", "$vacuums_before $counted_before",
	'the worker does not vacuum a table with autovacuum_enabled = false');
$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task RESET (autovacuum_enabled)');
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT s.vacuum_count > $vacuums_before AND s.n_dead_tup = 0 AND w.vacuumed > $counted_before
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'turned back on, it does');

# Nor does it rebuild such a table's indexes after a vacuum by hand; once
# autovacuum_enabled is back, it looks after that vacuum.
ok( $node->poll_query_until(
		'postgres',
		"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum')"),
	'no vacuum process runs');
$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task SET (autovacuum_enabled = false)');
enqueue_tasks(60000);
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok(dead_rows_seen(60000), 'a backlog drained from the table whose autovacuum is off');
$log_offset = -s $node->logfile;
ok(vacuum_by_hand(), 'vacuumed by hand: no dead rows left');
$node->safe_psql('postgres', 'SELECT pg_sleep(2.5)');
($pkey_pages) = split / /, $node->safe_psql('postgres', $index_pages);
cmp_ok($pkey_pages, '>=', 128,
	"vacuumed by hand, its primary key keeps its $pkey_pages pages: the worker leaves it alone");
unlike(substr(slurp_file($node->logfile), $log_offset),
	qr/role_cluster vacuum rebuilt index/, 'and rebuilds nothing');
$node->safe_psql('postgres', 'ALTER TABLE role_cluster.task RESET (autovacuum_enabled)');
rebuilt_both($log_offset, 'autovacuum_enabled back: the worker has the indexes rebuilt after that vacuum');

# --- a queue table held locked: the look passes over it ---------------------
# schedule_firing has dead rows to vacuum, but an operator holds it locked:
# the worker's look passes over it, without waiting for the lock (and
# failing, its lock_timeout being short), and has the task table vacuumed.

$node->safe_psql(
	'postgres', q{
	WITH s AS (
		INSERT INTO role_cluster.schedule (name, task_type, every, enabled)
		VALUES ('firings', 'storeMaintenance', '1 hour', false) RETURNING id)
	INSERT INTO role_cluster.schedule_firing (schedule_id, due_at)
		SELECT s.id, now() - i * interval '1 hour' FROM s, generate_series(1, 1000) i});
$node->safe_psql('postgres', 'DELETE FROM role_cluster.schedule_firing');
ok( $node->poll_query_until(
		'postgres',
		"SELECT n_dead_tup >= 1000 FROM pg_stat_user_tables WHERE relid = 'role_cluster.schedule_firing'::regclass"
	),
	'1000 dead rows in schedule_firing');
my $firings_locker = $node->background_psql('postgres');
$firings_locker->query_safe('BEGIN');
$firings_locker->query_safe('LOCK role_cluster.schedule_firing IN ACCESS EXCLUSIVE MODE');
$vacuums = task_vacuums();
make_dead_rows(1000);
ok(vacuum_passed($vacuums), 'schedule_firing held locked: the task table is vacuumed all the same');
is( $node->safe_psql('postgres',
		"SELECT coalesce(last_error, '') NOT LIKE 'vacuum%' FROM role_cluster.worker_stats"),
	't', 'and the look did not fail');
$firings_locker->query_safe('COMMIT');
$firings_locker->quit;
$node->safe_psql('postgres', "DELETE FROM role_cluster.schedule WHERE name = 'firings'");

# --- the vacuum look keeps its own time, whatever the poll ------------------
# With an hour-long poll, nothing but the vacuum interval wakes the worker
# after a DELETE (which wakes nobody).

rc_set_and_reload($node, poll_interval => '1h');
$vacuums = task_vacuums();
enqueue_tasks(2000);
# the loop that enqueue woke is over before the rows die
$node->safe_psql('postgres', 'SELECT pg_sleep(0.5)');
$node->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok( $node->poll_query_until(
		'postgres',
		"SELECT vacuum_count > $vacuums FROM pg_stat_user_tables WHERE relid = 'role_cluster.task'::regclass"
	),
	'with an hour-long poll the worker still looks every vacuum_interval');

$node->stop;

# --- no background worker slot free: said once in the log, nothing fails ----
# The worker takes the only slot (and the logical replication launcher,
# which would take one too, is not started).

my $full = rc_new_node('full',
	conf => "autovacuum = off\nmax_worker_processes = 1\nmax_logical_replication_workers = 0\n"
	  . "role_cluster.poll_interval = '100ms'\nrole_cluster.vacuum_interval = '1s'\n");
$full->safe_psql('postgres', 'CREATE EXTENSION role_cluster');
ok($full->poll_query_until('postgres', "SELECT state = 'running' FROM role_cluster.worker_stats"),
	'with max_worker_processes = 1 the worker runs');
$full->safe_psql('postgres',
	"SELECT count(role_cluster.enqueue('storeMaintenance')) FROM generate_series(1, 2000)");
$full->safe_psql('postgres', 'DELETE FROM role_cluster.task');
ok( $full->wait_for_log(
		qr/role_cluster worker could not start its vacuum process.*\n.*DETAIL:  No background worker slot is free/),
	'without a free slot the worker says why it cannot vacuum');
$full->safe_psql('postgres', 'SELECT pg_sleep(2.5)');
is( $full->safe_psql(
		'postgres', q{
	SELECT s.vacuum_count || ' ' || w.vacuumed || ' ' || w.errors || ' ' || w.state
	  FROM pg_stat_user_tables s, role_cluster.worker_stats w
	 WHERE s.relid = 'role_cluster.task'::regclass}),
	'0 0 0 running',
	'nothing is vacuumed, no step fails, and the worker goes on');
my $said = () = slurp_file($full->logfile) =~ /could not start its vacuum process/g;
is($said, 1, 'and it says so once, not at every look');
$full->stop;

done_testing();
