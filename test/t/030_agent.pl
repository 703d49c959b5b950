# End to end with real role-cluster-node processes: the seed's two roles, a
# push role with two shards and a background role; agents of each; tasks of
# all ten types.  Asserts what the demo prints: who ran what, that the
# frontend ran nothing, that each notification went once to its shard's
# node, that spam training never overlapped, and that every task ran once
# (a retried attempt shows as a second attempt).  Then: an agent killed with
# SIGKILL mid-task (its tasks finish on the other agent of its role), a
# server restart mid-run (the agents reconnect and finish), a clean stop (on
# SIGTERM or SIGINT), a handler that leaves its task unread on stdin (the
# agent's write fails, which does not end it), an agent started with task
# variables in its environment (its handlers see their own), a handler
# that reads a task larger than a pipe holds (it gets all of it), a node
# routed more than it has slots for (each freed slot fetches at once), a
# stop while the server is away (the agent reaches it again at once and does
# not spin while its handler finishes), a report of a result and a
# heartbeat retried after statement timeouts for as long as they last, a
# task given to its node again while its earlier run goes on (that run is
# stopped, its result dropped), two agents with one node id (the later one
# takes the node over, the earlier one stops), a stopping agent given no
# more work (also when it registers again after a reconnection), a report
# and a heartbeat that meet another session's row lock (they give up the
# lock and are tried again, and the agent goes on meanwhile), a result
# that a LATIN1 database cannot store (the task is failed with its error
# reduced to ASCII, not left held), a second signal that cancels the query
# in flight, a handler's supervisor killed (its whole process group goes),
# a stopping agent that heartbeats past its lease, a second signal that
# gives up a kept result, a handler's last stderr read as it is reaped,
# results that finished while cut off reported before the node registers
# again (and the backoff started afresh after it), a deregistration
# refused for a reason that passes (tried again), an agent cut off for
# good while stopping (exit 1), and the documented exit codes for bad
# settings.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp;
use IPC::Run;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $srcdir  = abs_path(dirname(__FILE__) . '/../..');
my $handler = "sh $srcdir/test/agent_handler.sh";
my $agent   = 'role-cluster-node';

my $node = PostgreSQL::Test::Cluster->new('agent');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'role_cluster'
role_cluster.database = 'postgres'
role_cluster.poll_interval = 1
max_connections = 60
});
$node->start;

my $testdir = PostgreSQL::Test::Utils::tempdir();

# The node's connection settings, for agents, handlers and one-shot runs
my %pgenv = (
	PGHOST     => $node->host,
	PGPORT     => $node->port,
	PGDATABASE => 'postgres',
	RC_TEST_DIR => $testdir,
	STALWART_ROLE => undef,
	STALWART_PUSH_SHARD => undef,
	STALWART_NODE_ID => undef);

# ---- configuration: listeners, the seed's roles, push and background ----

sub slurp
{
	my ($path) = @_;
	open my $fh, '<', $path or die "could not open $path: $!";
	local $/;
	return <$fh>;
}

my $frontend    = slurp("$srcdir/test/data/frontend.json");
my $maintenance = slurp("$srcdir/test/data/maintenance.json");

$node->safe_psql(
	'postgres', qq{
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.network_listener (id, protocol, bind) VALUES
	('imap', 'imap', '[::]:993'), ('jmap', 'http', '[::]:443'),
	('smtp', 'smtp', '[::]:25'), ('webdav', 'http', '[::]:8443');
SELECT role_cluster.import_roles(\$json\$$frontend\$json\$::jsonb);
SELECT role_cluster.import_roles(\$json\$$maintenance\$json\$::jsonb);
SELECT role_cluster.import_roles('[
	{"name": "push", "description": "Delivers push notifications",
	 "tasks": {"\@type": "EnableSome", "taskTypes": ["pushNotifications"]},
	 "listeners": {"\@type": "DisableAll"}},
	{"name": "background", "description": "Spam training, MTA and queues",
	 "tasks": {"\@type": "EnableSome", "taskTypes": ["spamClassifierTraining",
		"outboundMta", "taskQueueProcessing", "taskScheduler"]},
	 "listeners": {"\@type": "EnableSome", "listenerIds": ["smtp"]}}]');
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
CREATE TABLE agent_run (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	task_id bigint, attempt int, node_id text,
	task_type text, kind text, shard_key text, task jsonb,
	started timestamptz, finished timestamptz, outcome text);
CREATE TABLE agent_node (node_id text PRIMARY KEY, role_name text, push_shard int);
CREATE ROLE node_login LOGIN IN ROLE role_cluster_node;
GRANT SELECT, INSERT ON agent_run TO node_login;
});

# ---- helpers ----

my %agents;    # name -> pid

# Agents must not outlive the test, however it ends (their handlers die
# with them).
END
{
	kill 'KILL', values %agents if %agents;
}

# Start an agent in the background; its output goes to a log file.  %$env
# adds to the environment (e.g. PGUSER).
sub start_agent
{
	my ($name, $role, $shard, $env, @args) = @_;
	my $log = $node->basedir . "/agent_$name.log";
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		%ENV = (%ENV, %pgenv);
		delete $ENV{$_} for grep { !defined $ENV{$_} } keys %ENV;
		$ENV{STALWART_NODE_ID} = $name;
		$ENV{STALWART_ROLE} = $role if defined $role;
		$ENV{STALWART_PUSH_SHARD} = $shard if defined $shard;
		%ENV = (%ENV, %$env);
		open STDOUT, '>>', $log or die;
		open STDERR, '>&', \*STDOUT or die;
		# with its standard input closed, as a service manager may start
		# it: its handlers still get their tasks on theirs
		close STDIN;
		# and SIGPIPE and SIGHUP at their default, as a service manager
		# starts it, not ignored as the test's own process may have them
		# (exec keeps that; nohup ignores SIGHUP)
		$SIG{PIPE} = 'DEFAULT';
		$SIG{HUP}  = 'DEFAULT';
		exec($agent, '-v', 'run', '--exec', $handler, '--poll', '1',
			'--heartbeat', '1', @args)
		  or print STDERR "could not run $agent: $!\n";
		POSIX::_exit(127);
	}
	$agents{$name} = $pid;
	$node->safe_psql('postgres',
		"INSERT INTO agent_node VALUES ('$name', "
		  . (defined $role ? "'$role'" : 'NULL') . ', '
		  . ($shard // 'NULL') . ') ON CONFLICT DO NOTHING');
	return $pid;
}

# Whether agent $name still runs: not exited, not even unreaped (kill 0
# would find a zombie).  One found exited is reaped and forgotten, so that
# the steps that follow do not wait for it.
sub agent_running
{
	my ($name) = @_;
	return 1 if waitpid($agents{$name}, WNOHANG) == 0;
	delete $agents{$name};
	return 0;
}

# Wait (bounded) for an agent to exit; returns its exit status, or undef.
sub wait_agent
{
	my ($name) = @_;
	my $pid = $agents{$name};
	for (1 .. 10 * $PostgreSQL::Test::Utils::timeout_default)
	{
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid)
		{
			delete $agents{$name};
			return $? & 127 ? 128 + ($? & 127) : $? >> 8;
		}
		usleep(100_000);
	}
	return undef;
}

# Run the agent once in the foreground; returns (exit code, stdout, stderr).
sub run_agent
{
	return run_agent_ulimit(undef, @_);
}

# The same, under the open file limit that sh's "ulimit $limit" sets
# (undef: as is).
sub run_agent_ulimit
{
	my ($limit, $env, @args) = @_;
	my ($out, $err) = ('', '');
	my @cmd = ($agent, @args);
	@cmd = ('sh', '-c', "ulimit $limit && exec \"\$0\" \"\$@\"", @cmd) if defined $limit;
	local %ENV = (%ENV, %pgenv, %$env);
	delete $ENV{$_} for grep { !defined $ENV{$_} } keys %ENV;
	IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

sub query
{
	return $node->safe_psql('postgres', $_[0]);
}

# Enqueue a slow task (it waits for $testdir/release) and wait until agent
# $name runs it; returns its id.
sub start_slow_task
{
	my ($name) = @_;
	my $id = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'slow')});
	ok( $node->poll_query_until(
			'postgres',
			"SELECT state = 'running' AND node_id = '$name' FROM role_cluster.task WHERE id = $id"),
		"a slow task runs on $name");
	return $id;
}

# Creates file $f, empty: a handler of agent_handler.sh waits for it
sub touch_file
{
	my ($f) = @_;
	open my $fh, '>', $f or die "could not create $f: $!";
	close $fh;
	return;
}

# Wait (bounded) until agent $name's log, after byte $offset, matches $re;
# returns how many 0.1 s polls that took, and the log text.
sub wait_agent_log
{
	my ($name, $offset, $re) = @_;
	my $log = $node->basedir . "/agent_$name.log";
	my $polls = 0;
	while ($polls < 10 * $PostgreSQL::Test::Utils::timeout_default
		&& substr(slurp($log), $offset) !~ $re)
	{
		usleep(100_000);
		$polls++;
	}
	return ($polls, substr(slurp($log), $offset));
}

# Passes (as test $what) once node $name is live in role_cluster.nodes:
# registered, or live again.
sub wait_live
{
	my ($name, $what) = @_;
	ok( $node->poll_query_until(
			'postgres', qq{SELECT live FROM role_cluster.nodes WHERE node_id = '$name'}),
		$what);
	return;
}

# ---- listeners and tasks of the seed's roles ----

my ($rc, $out, $err) = run_agent({ STALWART_ROLE => 'frontend' }, 'listeners');
is($rc, 0, 'listeners of frontend: exit 0');
is($out, "imap\njmap\nsmtp\nwebdav\n", 'frontend binds every listener');
($rc, $out, $err) = run_agent({ STALWART_ROLE => 'maintenance' }, 'listeners');
is($rc . $out, '0', 'maintenance binds no listener');
($rc, $out, $err) = run_agent({ STALWART_ROLE => 'frontend' }, 'tasks');
is($rc . $out, '0', 'frontend runs no task');
($rc, $out, $err) = run_agent({ STALWART_ROLE => 'maintenance' }, 'tasks');
is( $out,
	"storeMaintenance\naccountMaintenance\nmetricsCalculate\nmetricsPush\nsearchIndexing\n",
	'maintenance runs the five listed task types, in enum order');
($rc, $out, $err) = run_agent({ STALWART_ROLE => 'background' }, 'listeners');
is($out, "smtp\n", 'background binds smtp');
($rc, $out, $err) = run_agent({}, 'tasks');
is(scalar(split /\n/, $out), 10, 'no role: all ten task types');

# ---- the cluster: four kinds of agents, tasks of all ten types ----

# the push nodes log in as a plain member of role_cluster_node, so the
# grants a node needs are tested too
my $as_node = { PGUSER => 'node_login' };
start_agent('fe1',    'frontend',    undef, {},       '--concurrency', '2');
start_agent('maint1', 'maintenance', undef, {},       '--concurrency', '2');
start_agent('push1',  'push',        1,     $as_node, '--concurrency', '3');
start_agent('push2',  'push',        2,     $as_node, '--concurrency', '3');
# bg1 inherits task variables (started from a handler's shell, say): its
# handlers must see their own tasks' values, not these
start_agent('bg1', 'background', undef,
	{ RC_TASK_ID => '1', RC_SHARD_KEY => 'inherited', RC_ATTEMPT => '9' },
	'--concurrency', '3');
start_agent('bg2',    'background',  undef, {},       '--concurrency', '3');

ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) FROM role_cluster.nodes WHERE live AND node_id IN "
		  . "(SELECT node_id FROM agent_node)", '6'),
	'six agents registered and live');

my $nsubscribers = 120;
query(
	qq{
SELECT role_cluster.enqueue('pushNotifications', 'push',
		jsonb_build_object('subscriber', 'user' || g), 'user' || g)
	FROM generate_series(1, $nsubscribers) g;
SELECT role_cluster.enqueue(t, 'work', jsonb_build_object('n', g))
	FROM unnest(enum_range(NULL::role_cluster.task_type)) t,
		 generate_series(1, 3) g
	WHERE t NOT IN ('pushNotifications', 'spamClassifierTraining');
SELECT role_cluster.enqueue('spamClassifierTraining', 'train')
	FROM generate_series(1, 5);
SELECT role_cluster.enqueue('storeMaintenance', 'failonce');
});
my $total = query('SELECT count(*) FROM role_cluster.task');
is($total, $nsubscribers + 8 * 3 + 5 + 1, 'tasks of all ten types enqueued');

ok( $node->poll_query_until(
		'postgres', "SELECT count(*) FROM role_cluster.task WHERE state <> 'done'",
		'0'),
	'the queue drains: every task done');

is(query("SELECT count(DISTINCT task_type) FROM agent_run WHERE outcome = 'ok'"),
	'10', 'runs of all ten types');
is( query(
		q{SELECT count(*) FROM role_cluster.task t
		   WHERE (SELECT count(*) FROM agent_run r
				   WHERE r.task_id = t.id AND r.outcome = 'ok') <> 1}),
	'0',
	'every task ran to success exactly once');
is( query(
		q{SELECT count(*) FROM (SELECT FROM agent_run
								 GROUP BY task_id, attempt HAVING count(*) > 1) d}),
	'0',
	'no attempt of a task ran twice');
is( query(
		q{SELECT string_agg(r.attempt || ':' || r.outcome, ',' ORDER BY r.attempt)
		    FROM agent_run r JOIN role_cluster.task t ON t.id = r.task_id
		   WHERE t.kind = 'failonce'}),
	'1:failed,2:ok',
	'the failing task ran again as its second attempt, which counts it');
is(query(q{SELECT count(*) FROM agent_run WHERE node_id = 'fe1'}),
	'0', 'the frontend node ran no background task');
is( query(
		q{SELECT count(*) FROM agent_run r JOIN agent_node n USING (node_id)
		   WHERE NOT role_cluster.role_enables_task(n.role_name,
						r.task_type::role_cluster.task_type)}),
	'0',
	'every run was on a node whose role enables its type');
is( query(
		q{SELECT count(*) FROM agent_run r JOIN agent_node n USING (node_id)
		   WHERE r.task_type = 'pushNotifications'
			 AND n.push_shard IS DISTINCT FROM role_cluster.shard_for(r.shard_key, 2)}),
	'0',
	'each notification was delivered by the node of its shard');
is( query(
		q{SELECT count(DISTINCT shard_key) || '/' || count(*) || '/' || count(DISTINCT node_id)
		    FROM agent_run WHERE task_type = 'pushNotifications'}),
	"$nsubscribers/$nsubscribers/2",
	'each subscriber got one notification, from both shards');
is( query(
		q{SELECT count(*) FROM agent_run a JOIN agent_run b
			ON a.task_type = 'spamClassifierTraining'
		   AND b.task_type = 'spamClassifierTraining'
		   AND a.run_id < b.run_id
		   AND tstzrange(a.started, a.finished) && tstzrange(b.started, b.finished)}),
	'0',
	'spam classifier training never ran twice at once');
is( query(
		q{SELECT count(*) FROM agent_run
		   WHERE task->>'id' <> task_id::text OR task->>'task_type' <> task_type
			  OR task->>'kind' <> kind
			  OR task->>'shard_key' IS DISTINCT FROM shard_key
			  OR (task->>'attempts')::int <> attempt}),
	'0',
	'each handler got its task as JSON on stdin and its fields in RC_*');

# a failing handler's stderr becomes the task's error: bounded, valid text
# (100 kB of it, more than a pipe holds: the agent reads it as it comes)
query(q{SELECT role_cluster.enqueue('storeMaintenance', 'noisy', max_attempts => 1)});
ok( $node->poll_query_until(
		'postgres', q{SELECT state FROM role_cluster.task WHERE kind = 'noisy'},
		'dead'),
	'a failing handler fails its task');
like(
	query(q{SELECT last_error FROM role_cluster.task WHERE kind = 'noisy'}),
	qr/^handler exited with status 1: x{1000}.*\n\[\.\.\. \d+ bytes omitted \.\.\.\]\nx+\nend \?$/s,
	'the error is the exit status and the start and end of stderr');
cmp_ok(query(q{SELECT length(last_error) FROM role_cluster.task WHERE kind = 'noisy'}),
	'<', 4200, 'the error is at most about 4 kB');

# Tasks of 300 kB of JSON, more than a pipe holds, for handlers of kind
# $kind: each must be done.
sub large_task_done
{
	my ($kind, $what) = @_;
	query(qq{SELECT role_cluster.enqueue('storeMaintenance', '$kind',
			jsonb_build_object('pad', repeat('x', 300000)))});
	ok( $node->poll_query_until(
			'postgres', qq{SELECT state FROM role_cluster.task WHERE kind = '$kind'},
			'done'),
		"a handler that $what its 300 kB task on stdin completes it");
	return;
}

# a handler that exits without reading its task: the agent's next write to
# its stdin fails (EPIPE), which must not end the agent (SIGPIPE)
large_task_done('deaf', 'does not read');
# and one that reads it, all of it: the agent writes it as the pipe drains
large_task_done('big', 'reads');
cmp_ok(query(q{SELECT (task->>'bytes')::int FROM agent_run WHERE kind = 'big'}),
	'>', 300000, 'and it got all of the task on stdin, not the pipe\'s first 64 kB');
for my $name (sort keys %agents)
{
	ok(agent_running($name), "$name is still running");
}

# ---- SIGKILL mid-task: the tasks finish on the other maintenance agent ----

query(q{SELECT role_cluster.enqueue('searchIndexing', 'slow') FROM generate_series(1, 2)});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task
		   WHERE kind = 'slow' AND state = 'running' AND node_id = 'maint1'}, '2'),
	'two slow tasks run on maint1');
start_agent('maint2', 'maintenance', undef, {}, '--concurrency', '2', '--grace', '1');
wait_live('maint2', 'maint2 registered');

kill 'KILL', $agents{maint1};
is(wait_agent('maint1'), 128 + 9, 'maint1 killed');
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task
		   WHERE kind = 'slow' AND state = 'running' AND node_id = 'maint2'}, '2'),
	'the killed agent\'s tasks were taken back and now run on maint2');
touch_file("$testdir/release");
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task WHERE kind = 'slow' AND state <> 'done'},
		'0'),
	'the slow tasks finished');
is( query(
		q{SELECT string_agg(DISTINCT r.node_id, ',') || ' ' || count(*)
		    FROM agent_run r JOIN role_cluster.task t ON t.id = r.task_id
		   WHERE t.kind = 'slow'}),
	'maint2 2',
	'each ran once, on maint2: the killed agent\'s handlers died with it');
unlink "$testdir/release";

# ---- PostgreSQL restarted mid-run: the agents reconnect and finish ----

query(
	q{SELECT role_cluster.enqueue('searchIndexing', 'slow');
	  SELECT role_cluster.enqueue(t, 'after-restart')
		FROM unnest(enum_range(NULL::role_cluster.task_type)) t
	   WHERE t <> 'pushNotifications';
	  SELECT role_cluster.enqueue('pushNotifications', 'after-restart', '{}', 'late' || g)
		FROM generate_series(1, 10) g});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task WHERE kind = 'slow' AND state = 'running'},
		'1'),
	'a slow task runs');
$node->restart;
touch_file("$testdir/release");
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task
		   WHERE kind IN ('slow', 'after-restart') AND state <> 'done'}, '0'),
	'after the restart every task finished');
# A handler that succeeded while its agent was cut off may run again on
# another node (at least once delivery); that run is a new attempt.
is( query(
		q{SELECT count(*) FROM role_cluster.task t
		   WHERE t.kind IN ('slow', 'after-restart')
			 AND NOT EXISTS (SELECT FROM agent_run r
							  WHERE r.task_id = t.id AND r.outcome = 'ok')}),
	'0',
	'every task of the restart phase ran to success');
is( query(
		q{SELECT count(*) FROM (SELECT FROM agent_run
								 GROUP BY task_id, attempt HAVING count(*) > 1) d}),
	'0',
	'and still no attempt of a task ran twice');
note('tasks of the restart phase that ran more than once: '
	  . query(
		q{SELECT count(*) FROM role_cluster.task t
		   WHERE t.kind IN ('slow', 'after-restart')
			 AND (SELECT count(*) FROM agent_run r
				   WHERE r.task_id = t.id AND r.outcome = 'ok') > 1}));
is( query(
		q{SELECT count(*) FROM agent_run r JOIN agent_node n USING (node_id)
		   WHERE r.task_type = 'pushNotifications'
			 AND n.push_shard IS DISTINCT FROM role_cluster.shard_for(r.shard_key, 2)}),
	'0',
	'notifications still went to their shards');
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.nodes WHERE live AND node_id IN
			('fe1', 'maint2', 'push1', 'push2', 'bg1', 'bg2')}, '6'),
	'every agent registered again');
for my $name (sort keys %agents)
{
	ok(agent_running($name), "$name survived the restart");
}

# ---- a clean stop: SIGTERM hands back and deregisters, exit 0 ----

unlink "$testdir/release";
start_slow_task('maint2');
# the grace period (1 s here) passes, the handler is killed, the task handed back
kill 'TERM', $agents{maint2};
is(wait_agent('maint2'), 0, 'SIGTERM: maint2 exits 0');
is( query(
		q{SELECT state || ' ' || coalesce(node_id, '-') FROM role_cluster.task
		   WHERE kind = 'slow' ORDER BY id DESC LIMIT 1}),
	'queued -',
	'its unfinished task was handed back to the queue');
is( query(
		q{SELECT deregistered_at IS NOT NULL FROM role_cluster.node
		   WHERE node_id = 'maint2'}),
	't', 'maint2 deregistered');

# SIGINT (Ctrl-C where it runs in a terminal) stops an agent as SIGTERM does
my ($stopped_by_int) = sort keys %agents;
for my $name (sort keys %agents)
{
	my $signal = $name eq $stopped_by_int ? 'INT' : 'TERM';
	kill $signal, $agents{$name};
	is(wait_agent($name), 0, "SIG$signal: $name stops with exit 0");
}
is( query(
		qq{SELECT deregistered_at IS NOT NULL FROM role_cluster.node
		   WHERE node_id = '$stopped_by_int'}),
	't', "$stopped_by_int, stopped by SIGINT, deregistered");

# ---- stopped while the server is away: it tries again at once, exit 0 ----
# After a 21 s outage the agent's backoff has its next attempt some 30 s
# in; SIGTERM makes it try again at once instead (it allows itself 15 s
# once its handlers are done, less than that backoff), and back on the
# server, waiting for its handler, it sleeps rather than spin.

# CPU time (clock ticks) process $pid has used
sub cpu_ticks
{
	my ($pid) = @_;
	my @f = split ' ', (slurp("/proc/$pid/stat") =~ s/^.*\) //sr);
	return $f[11] + $f[12];    # utime, stime
}

unlink "$testdir/release";
# the slow task handed back above would take its slot
query(q{DELETE FROM role_cluster.task WHERE kind = 'slow' AND state <> 'done'});
start_agent('stopper', 'maintenance', undef, {}, '--grace', '120');
start_slow_task('stopper');
my $stop_offset = -s $node->basedir . '/agent_stopper.log';
$node->stop('fast');
sleep 21;
$node->start;
my $offset = -s $node->basedir . '/agent_stopper.log';
my $outage = substr(slurp($node->basedir . '/agent_stopper.log'), $stop_offset, $offset - $stop_offset);
like($outage, qr/lost the connection to the server: \S/,
	'the outage: the agent says it lost the connection');
like($outage, qr/could not reconnect: \S/,
	'...and that each try to reconnect failed, with the reason');
# the delays between tries: doubling from 0.5 s, each with up to 25 % of
# jitter, so that agents cut off together do not come back in step
my @delays = $outage =~ /next attempt in ([0-9.]+) s/g;
cmp_ok(scalar(@delays), '>=', 3, 'the agent tried to reconnect several times');
ok( !grep({ $delays[$_] < 2 * $delays[ $_ - 1 ] / 1.25 - 0.1 || $delays[$_] > 2 * $delays[ $_ - 1 ] * 1.25 + 0.1 }
		1 .. $#delays),
	"...each delay about twice the one before (@delays)");
ok( grep({ abs($delays[$_] - 0.5 * 2**($_ + 1)) > 0.05 } 0 .. $#delays),
	'...with jitter: not exactly 0.5 s doubled');
kill 'TERM', $agents{stopper};
my ($polls) = wait_agent_log('stopper', $offset, qr/reconnected and registered again/);
cmp_ok($polls, '<', 50,
	'SIGTERM during an outage: the agent reaches the server again within 5 s, not at its backoff');
my $ticks = cpu_ticks($agents{stopper});
sleep 2;
cmp_ok(cpu_ticks($agents{stopper}) - $ticks,
	'<', 50, 'waiting for its handler while stopping, it does not spin (CPU ticks in 2 s)');
touch_file("$testdir/release");
is(wait_agent('stopper'), 0, 'its handler done, it deregisters and exits 0');
is(query(q{SELECT deregistered_at IS NOT NULL FROM role_cluster.node WHERE node_id = 'stopper'}),
	't', 'stopper deregistered');

# ---- a report refused for a reason that passes is tried again ----
# This agent's sessions time out after 0.5 s; its reports of three finished
# tasks wait for row locks that another session holds, and time out.  The
# agent tries each again a second later, for as long as the locks are held
# (here past twelve tries), and once they are free the tasks are done
# (dropping a result would leave its task running on the node, its lease
# renewed by every heartbeat).  Meanwhile the result of its fourth task
# goes through.  Its heartbeats, which extend those tasks' leases, time out
# on the same locks: they are tried again a second later too, between the
# rounds of reports (three timeouts take longer than the retry's second,
# and one round must not follow another without end), and the agent keeps
# its session (registering again would meet the locks, fail, and drop the
# connection, and with it the node's tasks).

# Wait (bounded) until agent $name's log, after byte $offset, matches $re
# at least $n times; returns the number of matches.
sub wait_agent_log_count
{
	my ($name, $offset, $re, $n) = @_;
	my $log = $node->basedir . "/agent_$name.log";
	my $count = 0;
	for (my $polls = 0; $polls < 10 * $PostgreSQL::Test::Utils::timeout_default; $polls++)
	{
		$count = () = substr(slurp($log), $offset) =~ /$re/g;
		last if $count >= $n;
		usleep(100_000);
	}
	return $count;
}

unlink "$testdir/release";
# the slow task handed back above would take its slot
query(q{DELETE FROM role_cluster.task WHERE kind = 'slow' AND state <> 'done'});
# Its heartbeats fail as long as the rows are locked (they renew the
# tasks' leases), about 25 s: a lease that lapsed meanwhile would take the
# tasks back at the next heartbeat, and the 30 s default leaves no margin.
start_agent('patient', 'maintenance', undef,
	{ PGOPTIONS => '-c statement_timeout=500 -c role_cluster.node_lease=5min' },
	'--heartbeat', '5', '--concurrency', '4');
my $slow = start_slow_task('patient');
my $slow2 = start_slow_task('patient');
my $slow3 = start_slow_task('patient');
my $other = start_slow_task('patient');
my $patient_pid = query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'patient'});
$offset = -s $node->basedir . '/agent_patient.log';
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN');
$locker->query_safe(
	"SELECT id FROM role_cluster.task WHERE id IN ($slow, $slow2, $slow3) FOR UPDATE");
touch_file("$testdir/release");
my (undef, $log) =
  wait_agent_log('patient', $offset, qr/result of task $slow (not reported yet|dropped)/);
like(
	$log,
	qr/result of task $slow not reported yet, trying again in 1.0 s: canceling statement due to statement timeout/,
	'the report times out on the lock, and the agent says it tries again');
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $other", 'done'),
	'the result of its other task does not wait behind it');
cmp_ok(wait_agent_log_count('patient', $offset, qr/result of task $slow not reported yet/, 12),
	'>=', 12, 'it goes on trying, past twelve tries');
# Its heartbeat is every 5 s: in the 25 s or so of those tries (a round of
# three 0.5 s timeouts, a heartbeat's, a second's wait), a retry a second
# after each timeout makes eight or more, the next heartbeat at most five.
my $heartbeats = () = substr(slurp($node->basedir . '/agent_patient.log'), $offset) =~
  /heartbeat failed, trying again in 1.0 s: canceling statement due to statement timeout/g;
cmp_ok($heartbeats, '>=', 6,
	'its heartbeat times out on the same lock, and is tried again a second later, not at the next heartbeat');
$locker->query_safe('COMMIT');
$locker->quit;
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) FROM role_cluster.task WHERE id IN ($slow, $slow2, $slow3) AND state = 'done'", '3'),
	'once the locks are free, the tasks are done');
unlike(substr(slurp($node->basedir . '/agent_patient.log'), $offset),
	qr/result of task $slow dropped/, 'its result was never dropped');
is(query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'patient'}),
	$patient_pid, 'and the agent kept its session: it did not register again');
kill 'TERM', $agents{patient};
is(wait_agent('patient'), 0, 'patient stops with exit 0');

# ---- a node registered again while a handler runs ----
# The node's session is ended while a handler runs.  The agent reconnects
# and registers again, which takes the task back (counting the attempt):
# the agent stops the handler, whose result would be refused, and whose
# task may already run elsewhere (here the server gives it to the same
# node, the only one of its role left).  The earlier run must not count
# for the new run, which then could not report its own.  The agent has one
# slot and its poll is an hour away: the task comes back while the earlier
# run still holds the slot, and must be fetched once that run is stopped.

# Wait (bounded) until file $f exists; returns whether it does.
sub wait_file
{
	my ($f) = @_;
	for (my $polls = 0; $polls < 10 * $PostgreSQL::Test::Utils::timeout_default; $polls++)
	{
		return 1 if -e $f;
		usleep(100_000);
	}
	return 0;
}

start_agent('solo', 'maintenance', undef, {}, '--concurrency', '1', '--poll', '3600');
my $gated = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$gated.1"), 'the gated task runs on solo (attempt 1)');
$offset = -s $node->basedir . '/agent_solo.log';
# (its role's listeners change meanwhile: it says so when it registers again,
# every one of them, however long the list, and an id that holds ", " quoted)
query(q{INSERT INTO role_cluster.network_listener (id) VALUES ('a, b')});
query(q{INSERT INTO role_cluster.network_listener (id)
	SELECT 'listener-with-a-long-name-' || lpad(i::text, 4, '0') FROM generate_series(1, 300) i});
query(q{UPDATE role_cluster.cluster_role SET listeners = ('EnableSome(imap, "a, b", '
	|| (SELECT string_agg(id, ', ') FROM role_cluster.network_listener WHERE id LIKE 'listener-with-%') || ')')::role_cluster.listener_group
	WHERE name = 'maintenance'});
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'solo'});
ok(wait_file("$testdir/started.$gated.2"),
	'solo\'s session ended: solo registers again and runs the task again (attempt 2)');
(undef, $log) = wait_agent_log('solo', $offset, qr/stopping 1 handler/);
like($log, qr/stopping 1 handler\(s\): the node registered again from a new session, which took their tasks back/,
	'the agent stops the earlier run once it has registered again, and says why');
like($log, qr/the listeners of the node's role have changed since it started: it bound \(none\), the role now enables "a, b", imap, listener-with-a-long-name-0001, (listener-with-a-long-name-\d{4}, ){298}listener-with-a-long-name-0300\n/,
	'and says that its role\'s listeners are no longer those it bound, all 302 of them');
query(q{UPDATE role_cluster.cluster_role SET listeners = 'DisableAll' WHERE name = 'maintenance'});
query(q{DELETE FROM role_cluster.network_listener WHERE id = 'a, b' OR id LIKE 'listener-with-%'});
# Let the earlier run go on, were it still there, and give its result time
# to be reported: it must not count.
touch_file("$testdir/go.$gated.1");
sleep 2;
is(query("SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $gated"),
	'running 2', 'the task is still running its second attempt');
is(query("SELECT count(*) FROM agent_run WHERE task_id = $gated"),
	'0', 'the earlier run was stopped before it got to record itself');
touch_file("$testdir/go.$gated.2");
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $gated", 'done'),
	'the second run finishes the task');
is(query("SELECT string_agg(attempt || ' ' || outcome, ',') FROM agent_run WHERE task_id = $gated"),
	'2 ok', 'which ran to the end once, as attempt 2');
# deregistered by an operator while it runs: its next heartbeat is
# refused, and it registers again (a node that is still there comes back,
# as after a lost session)
$offset = -s $node->basedir . '/agent_solo.log';
query(q{SELECT role_cluster.deregister_node('solo')});
query(q{SELECT role_cluster.enqueue('storeMaintenance', 'after-deregister')});
(undef, $log) = wait_agent_log('solo', $offset, qr/heartbeat failed: /);
like($log, qr/heartbeat failed: .*node "solo" is deregistered/,
	'deregistered while running: the agent says its heartbeat was refused, and why');
wait_live('solo', 'it registers again and is live');
ok( $node->poll_query_until(
		'postgres', q{SELECT state FROM role_cluster.task WHERE kind = 'after-deregister'}, 'done'),
	'and runs the work routed to it since');
kill 'TERM', $agents{solo};
is(wait_agent('solo'), 0, 'solo stops with exit 0');

# Task $id, whose first run (attempt 1) the agent stopped: its second run
# (attempt 2, $where) starts; both are let go, and only the
# second finishes the task and records itself.
sub only_second_run_counts
{
	my ($id, $where) = @_;
	ok(wait_file("$testdir/started.$id.2"), "the task runs again $where (attempt 2)");
	touch_file("$testdir/go.$id.1");
	touch_file("$testdir/go.$id.2");
	ok( $node->poll_query_until(
			'postgres', "SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $id",
			'done 2'),
		'the second run finishes the task');
	is(query("SELECT string_agg(attempt || ' ' || outcome, ',') FROM agent_run WHERE task_id = $id"),
		'2 ok', 'the first run was stopped before it got to record itself');
	return;
}

# ---- two agents with one node id: the later one takes over ----
# A second agent registers the same node id (two agents on one host
# without STALWART_NODE_ID, say) while the first runs a task.  It says it
# takes the node over; its registration takes the task back (counting the
# attempt) and the server gives it to the node again, now the second
# agent's.  The first agent's next heartbeat finds the node registered by
# another session: it stops its handler, whose result is not its to
# report, and exits 1 without deregistering the node, which the second
# agent keeps.  So the task runs to the end once, never on both at once.
# The first agent is also told to stop meanwhile, as an operator who read
# the warning would: stopping, it neither registers the node again nor
# deregisters it, which would take it from the second agent.

start_agent('twin', 'maintenance', undef, {});
my $twinned = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$twinned.1"), 'a task runs on the first agent of node twin');
start_agent('twin_b', 'maintenance', undef, { STALWART_NODE_ID => 'twin' });
(undef, $log) = wait_agent_log('twin_b', 0, qr/registered node/);
like($log, qr/node "twin" is registered by another session that is still connected \(process \d+\); registering takes it over/,
	'the second agent of node twin says it takes over a registration still in use');
kill 'TERM', $agents{twin};
is(wait_agent('twin'), 1, 'the first agent, told to stop, exits 1');
like(slurp($node->basedir . '/agent_twin.log'),
	qr/node "twin" was registered again by another session( \(process \d+\))?, which took back the tasks it held: another agent runs with this node id; stopping, without deregistering it/,
	'and says why');
unlike(slurp($node->basedir . '/agent_twin.log'), qr/capacity lowered|deregistered;/,
	'having neither registered the node again nor deregistered it');
only_second_run_counts($twinned, 'on the second agent');
is(query(q{SELECT live AND deregistered_at IS NULL FROM role_cluster.nodes WHERE node_id = 'twin'}),
	't', 'node twin stays registered, and live, with the second agent');
kill 'TERM', $agents{twin_b};
is(wait_agent('twin_b'), 0, 'the second agent stops with exit 0');

# The first agent may also be cut off when the second takes over: it must
# not register the node again when it gets back, which would take it (and
# what it holds) from the second.  It reaches the server through a socket
# directory that is a symbolic link, removed to cut it off.
my $linkdir = File::Temp::tempdir('/tmp/rc030XXXX', CLEANUP => 1);
symlink($node->host, "$linkdir/s") or die "symlink: $!";
start_agent('cut', 'maintenance', undef, { PGHOST => "$linkdir/s" });
wait_live('cut', 'agent cut registered');
unlink "$linkdir/s" or die "unlink: $!";
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'cut'});
start_agent('cut_b', 'maintenance', undef, { STALWART_NODE_ID => 'cut' });
(undef, $log) = wait_agent_log('cut_b', 0, qr/registered node/);
my $cut_b_pid = query(q{SELECT backend_pid FROM role_cluster.nodes WHERE node_id = 'cut'});
symlink($node->host, "$linkdir/s") or die "symlink: $!";
is(wait_agent('cut'), 1, 'back on the server, the first agent finds the node taken and exits 1');
like(slurp($node->basedir . '/agent_cut.log'),
	qr/node "cut" was registered again by another session \(process $cut_b_pid\)/,
	'saying by which process');
unlike(slurp($node->basedir . '/agent_cut.log'), qr/reconnected and registered again/,
	'without registering the node again');
is(query(q{SELECT backend_pid || ' ' || live FROM role_cluster.nodes WHERE node_id = 'cut'}),
	"$cut_b_pid true", 'the node stays the second agent\'s, live');
kill 'TERM', $agents{cut_b};
is(wait_agent('cut_b'), 0, 'the second agent stops with exit 0');

# A stop that races the second agent's registration: the second agent's
# registration is under way (made to wait on a lock held here) when the
# first agent begins to stop.  The first one's stop takes the node's lock
# (a heartbeat in its transaction), so it waits for that registration and
# then sees it: it stops without registering the node again, which would
# take it back from the second agent.
# (its heartbeats 30 s apart, within a 10 min lease, so that none of them
# is what waits: its stop's is)
start_agent('race', 'maintenance', undef, { PGOPTIONS => '-c role_cluster.node_lease=10min' },
	'--grace', '60', '--heartbeat', '30');
my $raced = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$raced.1"), 'a task runs on the first agent of node race');
my $holder = $node->background_psql('postgres');
$holder->query_safe(
	q{BEGIN; SELECT 1 FROM role_cluster.node WHERE node_id = 'race' FOR UPDATE});
# sessions waiting for a lock in a statement that calls $fn
sub lock_waits
{
	my ($fn) = @_;
	return qq{SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND query LIKE '%role_cluster.$fn(%'};
}
start_agent('race_b', 'maintenance', undef, { STALWART_NODE_ID => 'race' });
ok($node->poll_query_until('postgres', lock_waits('register_node'), '1'),
	'the second agent\'s registration waits');
is($node->safe_psql('postgres', lock_waits('heartbeat')), '0', 'no heartbeat waits yet');
kill 'TERM', $agents{race};
ok($node->poll_query_until('postgres', lock_waits('heartbeat'), '1'),
	'the first agent\'s stop waits too, in the heartbeat that takes the lock');
$holder->query_safe('COMMIT');
$holder->quit;
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) FROM role_cluster.nodes WHERE node_id = 'race' AND live},
		'1'),
	'the node is registered');
is(wait_agent('race'), 1, 'the first agent, seeing the registration, exits 1');
$log = slurp($node->basedir . '/agent_race.log');
unlike($log, qr/capacity lowered|deregistered;/, 'having neither registered the node again nor deregistered it');
only_second_run_counts($raced, 'on the second agent');
is(query(q{SELECT live AND session_alive FROM role_cluster.nodes WHERE node_id = 'race'}),
	't', 'the node stays the second agent\'s (the first agent\'s sessions are gone), live');
unlike(slurp($node->basedir . '/agent_race_b.log'), qr/registered again by another session/,
	'and the second agent carries on');
kill 'TERM', $agents{race_b};
is(wait_agent('race_b'), 0, 'the second agent stops with exit 0');

# ---- a lease lapsed when a stop begins: the handler is stopped ----
# Its lease lapsed before the agent was told to stop (made to, here, with
# heartbeats 30 s apart within a 10 min lease, so that the stop sees it
# first): what the node held is no longer its own, so the stop stops the
# handler before it registers the node again (at capacity 0, once the
# handler is gone, if the agent sees it go before it deregisters), which
# would otherwise hand the task back unnoticed.

start_agent('lapse_stop', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_lease=10min' },
	'--heartbeat', '30', '--grace', '60');
my $lapse_stop = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$lapse_stop.1"), 'a task runs on lapse_stop');
query(q{UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'lapse_stop'});
my $stop_began = time;
kill 'TERM', $agents{lapse_stop};
is(wait_agent('lapse_stop'), 0, 'lapse_stop stops with exit 0');
cmp_ok(time - $stop_began, '<', 60, 'before its grace period ends');
$log = slurp($node->basedir . '/agent_lapse_stop.log');
like($log, qr/stopping 1 handler\(s\): the node's lease had lapsed before its stop/,
	'it stopped the handler, and says why');
unlike($log, qr/capacity lowered.*lease had lapsed/s,
	'without registering the node again before that');
is(query("SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $lapse_stop"),
	'queued 1', 'the task is back in the queue, its attempt counted');
query("DELETE FROM role_cluster.task WHERE id = $lapse_stop");

# ---- a stopping agent is given no more work ----
# Stopping, with a handler still running, the agent registers again with
# its capacity lowered to that handler, so the worker routes nothing more
# to it: a task enqueued meanwhile waits for another node rather than for
# the end of the stop.  When the handler finishes, the capacity goes to 0
# before the result is reported, which frees the room the task would
# otherwise be routed to, only to be taken back by the deregistration.

# Start agent $name (concurrency 3, a grace of a minute), run a gated task
# on it and send it SIGTERM; once it has lowered its capacity, returns the
# task's id, with $offset at the log's end before the signal and $log what
# it logged since.
sub stop_with_gated_task
{
	my ($name) = @_;

	start_agent($name, 'maintenance', undef, {}, '--concurrency', '3', '--grace', '60');
	my $task = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
	ok(wait_file("$testdir/started.$task.1"), "a task runs on $name");
	$offset = -s $node->basedir . "/agent_$name.log";
	kill 'TERM', $agents{$name};
	(undef, $log) = wait_agent_log($name, $offset, qr/capacity lowered/);
	return $task;
}

my $draining = stop_with_gated_task('drainer');
like($log, qr/stopping: capacity lowered to 1, the tasks it still runs/,
	'stopping, drainer lowers its capacity to its running handler');
is(query(q{SELECT capacity || ' ' || held FROM role_cluster.nodes WHERE node_id = 'drainer'}),
	'1 1', 'which is all it holds');
my $waits = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'waits')});
sleep 2;
is( query(
		"SELECT state || ' ' || coalesce(node_id, '-') || ' ' || "
		  . "(SELECT live FROM role_cluster.nodes WHERE node_id = 'drainer') "
		  . "FROM role_cluster.task WHERE id = $waits"),
	'queued - true', 'a task enqueued meanwhile is not routed to the stopping agent, still live');
touch_file("$testdir/go.$draining.1");
is(wait_agent('drainer'), 0, 'drainer finishes its handler and stops with exit 0');
is(query("SELECT state FROM role_cluster.task WHERE id = $draining"), 'done',
	'its task done');
$log = slurp_file($node->basedir . '/agent_drainer.log', $offset);
like($log, qr/stopping: capacity lowered to 0.*deregistered; the server took back 0 task\(s\)/s,
	'its handler done, it lowered its capacity to 0, and was given nothing before it deregistered');
query("DELETE FROM role_cluster.task WHERE id = $waits");

# ---- more routed than it has slots for: a freed slot fetches at once ----
# The node's capacity (3) is above its concurrency (1): the worker routes
# all three tasks of one enqueue to it at once, and the agent fetches one.
# Each time a handler finishes, the agent must fetch the next at once: its
# poll is an hour away, and no notification comes, since nothing more is
# routed.
start_agent('deep', 'maintenance', undef, {},
	'--concurrency', '1', '--capacity', '3', '--poll', '3600');
wait_live('deep', 'deep registered');
query(q{SELECT role_cluster.enqueue('storeMaintenance', 'deep') FROM generate_series(1, 3)});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task WHERE kind = 'deep' AND state = 'done'}, '3'),
	'three tasks routed at once to a node with one slot are all done, not one');
is( query(
		q{SELECT count(*) || ' ' || count(DISTINCT task_id) || ' ' || bool_and(node_id = 'deep')
		  FROM agent_run WHERE kind = 'deep'}),
	'3 3 true', 'each ran once, on deep');
kill 'TERM', $agents{deep};
is(wait_agent('deep'), 0, 'deep stops with exit 0');

# ---- a stop whose registration is refused ----
# The node's role was deleted while its handler ran: registering again to
# lower its capacity fails (the role does not exist).  The agent says so,
# once for each try (at the stop, and to 0 when the handler finishes), and
# goes on stopping: the handler finishes, its task is done, and the node is
# deregistered.

query(q{INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('doomed', 'EnableSome(storeMaintenance)')});
start_agent('doomed', 'doomed', undef, {}, '--grace', '60');
my $doomed = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$doomed.1"), 'a task runs on doomed');
query(q{DELETE FROM role_cluster.cluster_role WHERE name = 'doomed'});
$offset = -s $node->basedir . '/agent_doomed.log';
kill 'TERM', $agents{doomed};
(undef, $log) = wait_agent_log('doomed', $offset, qr/could not lower/);
like($log, qr/could not lower the node's capacity.*role "doomed" of node "doomed" does not exist/s,
	'its role deleted, the stop cannot lower the capacity, and says why');
touch_file("$testdir/go.$doomed.1");
is(wait_agent('doomed'), 0, 'doomed still finishes its handler and stops with exit 0');
is( query(
		"SELECT (SELECT state FROM role_cluster.task WHERE id = $doomed) || ' ' || "
		  . "(SELECT deregistered_at IS NOT NULL FROM role_cluster.nodes WHERE node_id = 'doomed')"),
	'done true', 'its task done, the node deregistered');
is(scalar(() = slurp($node->basedir . '/agent_doomed.log') =~ /could not lower/g), 2,
	'said once for each try, not again and again');

# ---- a node timeout shorter than --heartbeat: heartbeats within it ----
# With a node timeout of 3 s and a lease of 4 s (session settings of the
# superuser the agent logs in as) and --heartbeat 10, a handler that runs
# for 5 s keeps its task, and the node stays live: the agent heartbeats
# every second, a third of the timeout, and says so.

start_agent('brief', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_lease=4s -c role_cluster.node_timeout=3s' },
	'--heartbeat', '10');
my $long = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$long.1"), 'a task runs on brief');
(undef, $log) = wait_agent_log('brief', 0, qr/heartbeating every/);
like($log, qr/heartbeating every 1\.0 s, not every 10\.0 s: the node timeout is 3\.0 s/,
	'brief heartbeats within its node timeout, and says so');
sleep 5;
is(query(q{SELECT live FROM role_cluster.nodes WHERE node_id = 'brief'}), 't',
	'brief is still live after more than its node timeout');
# Its statements time out after a third of the node timeout too, 1 s, not
# the 10 s of a node timeout unknown or long: one that took longer would
# hold up the heartbeat past the node timeout.  Its report, which a trigger
# makes take 2 s, is cancelled, and tried again until the trigger goes.
query(qq{CREATE FUNCTION slow_report() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM pg_sleep(2);
	RETURN NEW;
END
\$\$});
query(qq{CREATE TRIGGER slow_report BEFORE UPDATE OF state ON role_cluster.task
	FOR EACH ROW WHEN (NEW.state = 'done' AND NEW.id = $long) EXECUTE FUNCTION slow_report()});
$offset = -s $node->basedir . '/agent_brief.log';
touch_file("$testdir/go.$long.1");
(undef, $log) = wait_agent_log('brief', $offset, qr/result of task $long not reported yet|task $long done/);
like(
	$log,
	qr/result of task $long not reported yet, trying again in 1.0 s: canceling statement due to statement timeout/,
	'a report that takes 2 s is cancelled by the statement timeout, a third of the node timeout');
query(q{DROP TRIGGER slow_report ON role_cluster.task});
query(q{DROP FUNCTION slow_report()});
ok( $node->poll_query_until(
		'postgres', "SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $long",
		'done 1'),
	'a task held past the lease and more finishes on its first attempt');
# Its deregistration, refused for a reason that passes (a trigger raises
# lock_not_available, as a lock held past lock_timeout would), is tried
# again a second later until it goes through, within the grace period.
query(q{CREATE TABLE deregistration_refused ()});
query(q{INSERT INTO deregistration_refused DEFAULT VALUES});
query(q{CREATE FUNCTION refuse_deregistration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM public.deregistration_refused) THEN
		RAISE EXCEPTION 'deregistration of % refused for now', NEW.node_id
			USING ERRCODE = 'lock_not_available';
	END IF;
	RETURN NEW;
END
$$});
query(q{CREATE TRIGGER refuse_deregistration BEFORE UPDATE OF deregistered_at
	ON role_cluster.node FOR EACH ROW
	WHEN (OLD.deregistered_at IS NULL AND NEW.deregistered_at IS NOT NULL)
	EXECUTE FUNCTION refuse_deregistration()});
$offset = -s $node->basedir . '/agent_brief.log';
kill 'TERM', $agents{brief};
cmp_ok(wait_agent_log_count('brief', $offset, qr/could not deregister/, 2), '>=', 2,
	'brief tries to deregister, and again');
$log = substr(slurp($node->basedir . '/agent_brief.log'), $offset);
like($log,
	qr/could not deregister yet, trying again: deregistration of brief refused for now/,
	'...saying it will try again');
unlike($log, qr/could not deregister:/, '...and not that it gave up');
query(q{DELETE FROM deregistration_refused});
is(wait_agent('brief'), 0, 'brief stops with exit 0 once its deregistration goes through');
is(query(q{SELECT deregistered_at IS NOT NULL FROM role_cluster.node WHERE node_id = 'brief'}),
	't', 'brief is deregistered');
query(q{DROP TRIGGER refuse_deregistration ON role_cluster.node});
query(q{DROP FUNCTION refuse_deregistration()});
query(q{DROP TABLE deregistration_refused});

# ---- a stopping agent goes on heartbeating ----
# Told to stop while its handler runs (a grace of a minute), the agent
# waits for the handler past its 4 s lease: its heartbeats go on
# meanwhile, so the node keeps its task, whose result is then reported,
# done on its first attempt.  (Without them the lease would lapse under
# the stop, and the worker take the task back to run it again.)

start_agent('keeper', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_lease=4s -c role_cluster.node_timeout=3s' },
	'--grace', '60');
my $keep = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$keep.1"), 'a task runs on keeper');
$offset = -s $node->basedir . '/agent_keeper.log';
kill 'TERM', $agents{keeper};
wait_agent_log('keeper', $offset, qr/capacity lowered/);
my $stop_beat = query(q{SELECT last_heartbeat FROM role_cluster.node WHERE node_id = 'keeper'});
sleep 6;    # past its lease
is( query(
		"SELECT state || ' ' || node_id || ' ' || attempts FROM role_cluster.task WHERE id = $keep"),
	'running keeper 1', 'stopping past its lease, keeper keeps its task');
is( query(
		"SELECT last_heartbeat > timestamptz '$stop_beat' + interval '3 s' "
		  . "FROM role_cluster.node WHERE node_id = 'keeper'"),
	't', 'its heartbeats go on while it stops');
touch_file("$testdir/go.$keep.1");
is(wait_agent('keeper'), 0, 'its handler done, keeper stops with exit 0');
is(query("SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $keep"),
	'done 1', 'its task done, on its first attempt');
query("DELETE FROM role_cluster.task WHERE id = $keep");

# ---- a heartbeat after the lease lapsed: the handler is stopped ----
# The lease lapses while a handler runs (made to, here): the heartbeat that
# follows makes the node live again without its tasks, which go back to
# the queue.  The agent stops the handler, whose result would be refused;
# the task runs again, here on the same node.

start_agent('lapse', 'maintenance', undef, {}, '--heartbeat', '1');
my $lapsed = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$lapsed.1"), 'a task runs on lapse (attempt 1)');
# Only its node timeout passed, not its lease: the node keeps its task, and
# the next heartbeat makes it live again without stopping the handler.
$offset = -s $node->basedir . '/agent_lapse.log';
query(q{UPDATE role_cluster.node SET live_until = now() - interval '1 second' WHERE node_id = 'lapse'});
wait_live('lapse', 'past its node timeout only, lapse is live again after its next heartbeat');
is( query(
		"SELECT state || ' ' || node_id || ' ' || attempts FROM role_cluster.task WHERE id = $lapsed"),
	'running lapse 1', 'and keeps its task');
sleep 2;	# another heartbeat or two
unlike(slurp_file($node->basedir . '/agent_lapse.log', $offset),
	qr/stopping/, 'its handler goes on');
$offset = -s $node->basedir . '/agent_lapse.log';
query(q{UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'lapse'});
(undef, $log) = wait_agent_log('lapse', $offset, qr/stopping 1 handler/);
like($log, qr/stopping 1 handler\(s\): the node's lease had lapsed before its heartbeat/,
	'its lease lapsed: the next heartbeat stops the handler');
only_second_run_counts($lapsed, 'on the same node');
kill 'TERM', $agents{lapse};
is(wait_agent('lapse'), 0, 'lapse stops with exit 0');

# ---- a paused agent: past its node timeout, within its lease ----
# With a node timeout of 2 s and a lease of 60 s, an agent that stops
# heartbeating (SIGSTOP: its session stays connected) is routed nothing
# after 2 s, though it has room, so new work waits for another node; but
# it keeps the task its handler runs; let go within the lease, it
# heartbeats, is live again and reports the task, done on its first
# attempt.

start_agent('paused', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_timeout=2s -c role_cluster.node_lease=60s' },
	'--concurrency', '2');
my $kept = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$kept.1"), 'a task runs on paused');
kill 'STOP', $agents{paused};
ok( $node->poll_query_until(
		'postgres', q{SELECT NOT live FROM role_cluster.nodes WHERE node_id = 'paused'}),
	'paused, it is not live once its node timeout passes');
my $newer = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
sleep 3;
is( query(
		"SELECT state || ' ' || (SELECT held || '/' || capacity FROM role_cluster.nodes "
		  . "WHERE node_id = 'paused') FROM role_cluster.task WHERE id = $newer"),
	'queued 1/2', 'new work waits, though the node has room');
start_agent('standin', 'maintenance', undef, {});
ok(wait_file("$testdir/started.$newer.1"), 'and runs on another node');
is( query(
		"SELECT string_agg(id || ' ' || state || ' ' || node_id || ' ' || attempts, ', ' ORDER BY id) "
		  . "FROM role_cluster.task WHERE id IN ($kept, $newer)"),
	"$kept running paused 1, $newer running standin 1",
	'on the other node; paused keeps its task');
kill 'CONT', $agents{paused};
wait_live('paused', 'let go, it heartbeats and is live again');
touch_file("$testdir/go.$kept.1");
touch_file("$testdir/go.$newer.1");
ok( $node->poll_query_until(
		'postgres',
		"SELECT string_agg(state || ' ' || attempts, ', ' ORDER BY id) FROM role_cluster.task "
		  . "WHERE id IN ($kept, $newer)",
		'done 1, done 1'),
	'both tasks done on their first attempt');
is(query("SELECT node_id FROM agent_run WHERE task_id = $kept"), 'paused',
	'the kept task ran once, on paused');
kill 'TERM', $agents{paused}, $agents{standin};
is(wait_agent('paused'), 0, 'paused stops with exit 0');
is(wait_agent('standin'), 0, 'standin stops with exit 0');

# ---- a server that stops answering: the agent gives up, connects again ----
# The agent's session stops (SIGSTOP to its backend, taken while idle: it
# holds no lock then): its connection stays open, and nothing answers.
# Past its statement timeout (a third of the node timeout, at least 1 s)
# and a margin, the agent gives up the query it sent, drops the
# connection, connects again and registers from a new session.

start_agent('mute', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_timeout=3s' });
wait_live('mute', 'mute registers');
my $mute_pid = query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'mute'});
my $mute_offset = -s ($node->basedir . '/agent_mute.log');
my $stopped_idle = 0;
for (1 .. 50)
{
	kill 'STOP', $mute_pid;
	# a stopped backend's state is the one it last reported
	last
	  if $stopped_idle = query(
		"SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $mute_pid") eq 't';
	kill 'CONT', $mute_pid;
	usleep(20_000);
}
ok($stopped_idle, "mute's session stopped while idle");
my (undef, $mute_log) =
  wait_agent_log('mute', $mute_offset, qr/reconnected and registered again/);
kill 'CONT', $mute_pid;
like(
	$mute_log,
	qr/lost the connection to the server: the server did not answer in time/,
	'the agent gives up the query its stopped session does not answer');
like($mute_log, qr/reconnected and registered again/, 'and connects again');
wait_live('mute', 'live, from its new session');
isnt(query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'mute'}),
	$mute_pid, 'a new session');
kill 'TERM', $agents{mute};
is(wait_agent('mute'), 0, 'mute stops with exit 0');

# ---- a report that waits on a row lock does not stall the agent ----
# Another session holds the row lock of a task whose handler finished.  The
# agent's sessions give up a lock after a second (lock_timeout), so its
# report of that task is tried again every second instead of waiting, and
# its heartbeat likewise (it extends the leases of the node's tasks, that
# one's too, so it cannot go through while the row is locked): the result
# of its other task goes through meanwhile, and the agent keeps its session
# (a report waiting on the lock stalled the agent, its heartbeats, and at
# the client's deadline its session).  Once the lock is free, the task is
# done, on its first and only run.

start_agent('blocked', 'maintenance', undef, {}, '--concurrency', '2');
my $held = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
my $free = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$held.1") && wait_file("$testdir/started.$free.1"),
	'two tasks run on blocked');
my $blocked_pid = query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'blocked'});
$offset = -s $node->basedir . '/agent_blocked.log';
my $row_locker = $node->background_psql('postgres');
$row_locker->query_safe('BEGIN');
$row_locker->query_safe("SELECT id FROM role_cluster.task WHERE id = $held FOR UPDATE");
touch_file("$testdir/go.$held.1");
(undef, $log) = wait_agent_log('blocked', $offset, qr/result of task $held not reported yet/);
like($log,
	qr/result of task $held not reported yet, trying again in 1.0 s: canceling statement due to lock timeout/,
	'its report gives up the lock after a while, and is tried again');
(undef, $log) = wait_agent_log('blocked', $offset, qr/heartbeat failed, trying again/);
like($log,
	qr/heartbeat failed, trying again in 1.0 s: canceling statement due to lock timeout/,
	'so is its heartbeat, which meets the same lock');
my $lease_before = query(q{SELECT lease_until FROM role_cluster.node WHERE node_id = 'blocked'});
touch_file("$testdir/go.$free.1");
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $free", 'done'),
	'the result of its other task goes through meanwhile');
is(query("SELECT state || ' ' || node_id FROM role_cluster.task WHERE id = $held"),
	'running blocked', 'the locked task stays the node\'s');
$row_locker->query_safe('COMMIT');
$row_locker->quit;
ok( $node->poll_query_until(
		'postgres', "SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $held",
		'done 1'),
	'once the lock is free, the result is reported: done on its first attempt');
ok( $node->poll_query_until(
		'postgres',
		"SELECT lease_until > '$lease_before' FROM role_cluster.node WHERE node_id = 'blocked'"),
	'and its heartbeats, tried again all along, extend the lease again');
is(query("SELECT count(*) FROM agent_run WHERE task_id = $held"), '1', 'the task ran once');
is(query(q{SELECT backend_pid FROM role_cluster.node WHERE node_id = 'blocked'}),
	$blocked_pid, 'the agent kept its session throughout');
kill 'TERM', $agents{blocked};
is(wait_agent('blocked'), 0, 'blocked stops with exit 0');

# ---- slow reports: heartbeats come between them; SIGHUP is no stop ----
# Each acknowledgement takes 0.9 s (a trigger makes it), the lease is 4 s
# and the agent heartbeats every second: ten results that finish about
# together, reported one after another, take 9 s.  Heartbeats must come
# between the reports, or the lease lapses under them and the server takes
# the tasks back to run them again.  A SIGHUP meanwhile (a closed
# terminal, a reload sent to every service) must not end the agent, which
# would take its handlers with it.

query(q{CREATE FUNCTION slow_ack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(0.9);
	RETURN NEW;
END
$$});
query(q{CREATE TRIGGER slow_ack BEFORE UPDATE OF state ON role_cluster.task
	FOR EACH ROW WHEN (NEW.state = 'done' AND NEW.kind = 'slowack') EXECUTE FUNCTION slow_ack()});
start_agent('slowack', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_lease=4s' }, '--concurrency', '10');
wait_live('slowack', 'slowack registers');
kill 'HUP', $agents{slowack};
query(q{SELECT count(role_cluster.enqueue('storeMaintenance', 'slowack')) FROM generate_series(1, 10)});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FILTER (WHERE state = 'done') FROM role_cluster.task WHERE kind = 'slowack'},
		'10'),
	'ten results, each acknowledged in 0.9 s, are all reported');
is(query(q{SELECT max(attempts) FROM role_cluster.task WHERE kind = 'slowack'}),
	'1', 'each on its first attempt: the lease held throughout');
is( query(
		q{SELECT count(*) FROM agent_run r JOIN role_cluster.task t ON t.id = r.task_id
		   WHERE t.kind = 'slowack'}),
	'10', 'and each ran once');
is(waitpid($agents{slowack}, WNOHANG), 0, 'the SIGHUP did not end the agent');
kill 'TERM', $agents{slowack};
is(wait_agent('slowack'), 0, 'slowack stops with exit 0');
query(q{DROP TRIGGER slow_ack ON role_cluster.task});
query(q{DROP FUNCTION slow_ack()});

# ---- a fetch refused as the node is deregistered: the heartbeat comes at once ----
# With a lease of an hour and --heartbeat 3600, the next heartbeat is far
# off.  An operator deregisters the node while a handler runs; the agent's
# next fetch (a slot is free) is refused, and it heartbeats at once rather
# than at its time: the heartbeat is refused too, the agent registers
# again and stops the handler, whose task the server took back.

start_agent('dereg', 'maintenance', undef,
	{ PGOPTIONS => '-c role_cluster.node_lease=1h' }, '--concurrency', '2', '--heartbeat', '3600');
my $dereg_task = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$dereg_task.1"), 'a task runs on dereg');
$offset = -s $node->basedir . '/agent_dereg.log';
query(q{SELECT role_cluster.deregister_node('dereg')});
(undef, $log) = wait_agent_log('dereg', $offset, qr/stopping 1 handler/);
like($log, qr/could not fetch tasks: .*node "dereg" is deregistered/, 'its next fetch is refused');
like($log, qr/heartbeat failed: .*node "dereg" is deregistered.*stopping 1 handler\(s\): the node registered again after a failed heartbeat/s,
	'and it heartbeats at once, registers again and stops the handler, not an hour later');
touch_file("$testdir/go.$dereg_task.$_") for 1 .. 3;
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $dereg_task", 'done'),
	'the task, queued again, is done');
kill 'TERM', $agents{dereg};
is(wait_agent('dereg'), 0, 'dereg stops with exit 0');

# ---- a second signal cancels the query in flight ----
# An agent's first registration waits for a lock that another session
# holds on the node's row (at start, for as long as the statement timeout
# allows).  Told twice to stop, the agent cancels it and ends, without
# waiting for the lock or the timeout.

query(q{SELECT role_cluster.register_node('waiter', 'maintenance', NULL, 1)});
my $waiter_lock = $node->background_psql('postgres');
$waiter_lock->query_safe('BEGIN');
$waiter_lock->query_safe(q{SELECT 1 FROM role_cluster.node WHERE node_id = 'waiter' FOR UPDATE});
start_agent('waiter', 'maintenance', undef, {});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM pg_stat_activity
		   WHERE wait_event_type = 'Lock' AND query LIKE '%role_cluster.register_node(%'}, '1'),
	'the registration of agent waiter waits for the lock');
kill 'TERM', $agents{waiter};
usleep(200_000);    # two signals, not one pending signal
kill 'TERM', $agents{waiter};
is(wait_agent('waiter'), 1, 'a second SIGTERM ends it, exit 1');
like(slurp($node->basedir . '/agent_waiter.log'),
	qr/cancelling the query in flight\n.*could not register the node: canceling statement due to user request/,
	'having cancelled its registration');
$waiter_lock->query_safe('COMMIT');
$waiter_lock->quit;

# ---- a second signal ends the grace period at once ----
# Told twice to stop, the agent does not wait out --grace for its handler:
# it kills it and deregisters, which hands the task back.

start_agent('impatient', 'maintenance', undef, {}, '--grace', '120');
my $impatient = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$impatient.1"), 'a task runs on impatient');
$offset = -s $node->basedir . '/agent_impatient.log';
kill 'TERM', $agents{impatient};
wait_agent_log('impatient', $offset, qr/stopping: waiting up to 120\.0 s/);
my $second_at = time;
kill 'TERM', $agents{impatient};
is(wait_agent('impatient'), 0, 'a second SIGTERM: impatient exits 0');
cmp_ok(time - $second_at, '<', 30, '...well within its grace period of 120 s');
like(slurp_file($node->basedir . '/agent_impatient.log', $offset),
	qr/second signal; killing 1 handler\(s\)/, '...having killed its handler');
is(query("SELECT state || ' ' || coalesce(node_id, '-') FROM role_cluster.task WHERE id = $impatient"),
	'queued -', 'its task handed back');
query("DELETE FROM role_cluster.task WHERE id = $impatient");

# ---- a deregistration refused for good: exit 1 ----
# A trigger of the operator's refuses the node's deregistration with an
# error that does not pass: the agent says so and exits 1 (the worker
# takes back what the node held once its session is gone).

query(q{CREATE FUNCTION refuse_dereg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.node_id = 'refused' AND NEW.deregistered_at IS NOT NULL THEN
		RAISE EXCEPTION 'deregistration of % refused', NEW.node_id;
	END IF;
	RETURN NEW;
END $$});
query(q{CREATE TRIGGER refuse_dereg BEFORE UPDATE ON role_cluster.node
	FOR EACH ROW EXECUTE FUNCTION refuse_dereg()});
start_agent('refused', 'maintenance', undef, {});
ok( $node->poll_query_until(
		'postgres', q{SELECT count(*) FROM role_cluster.nodes WHERE node_id = 'refused' AND live}, '1'),
	'agent refused is registered');
$offset = -s $node->basedir . '/agent_refused.log';
kill 'TERM', $agents{refused};
is(wait_agent('refused'), 1, 'its deregistration refused for good, refused exits 1');
like(slurp_file($node->basedir . '/agent_refused.log', $offset),
	qr/could not deregister: deregistration of refused refused/, '...saying why');
query(q{DROP TRIGGER refuse_dereg ON role_cluster.node});
query(q{DROP FUNCTION refuse_dereg()});

# ---- a heartbeat lost to a deadlock is tried again ----
# A deadlock (40P01) passes: the heartbeat is tried again a second later,
# and the node is not registered again, which would stop its handler.

start_agent('deadlocked', 'maintenance', undef, {});
my $deadlocked = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$deadlocked.1"), 'a task runs on deadlocked');
$offset = -s $node->basedir . '/agent_deadlocked.log';
query(q{CREATE SEQUENCE deadlocks});
query(q{CREATE FUNCTION deadlock_beats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.node_id = 'deadlocked' AND NEW.last_heartbeat > OLD.last_heartbeat
		AND nextval('public.deadlocks') <= 3 THEN
		RAISE EXCEPTION 'a deadlock, as it were' USING ERRCODE = '40P01';
	END IF;
	RETURN NEW;
END $$});
query(q{CREATE TRIGGER deadlock_beats BEFORE UPDATE ON role_cluster.node
	FOR EACH ROW EXECUTE FUNCTION deadlock_beats()});
ok( $node->poll_query_until('postgres', q{SELECT last_value > 3 FROM deadlocks}),
	'three heartbeats of deadlocked meet a deadlock');
(undef, $log) = wait_agent_log('deadlocked', $offset, qr/heartbeat failed, trying again in 1\.0 s/);
like($log, qr/heartbeat failed, trying again in 1\.0 s/, '...and are tried again a second later');
query(q{DROP TRIGGER deadlock_beats ON role_cluster.node});
touch_file("$testdir/go.$deadlocked.1");
ok( $node->poll_query_until(
		'postgres', "SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $deadlocked",
		'done 1'),
	'its handler was not stopped: the task is done, on its first attempt');
unlike(slurp_file($node->basedir . '/agent_deadlocked.log', $offset),
	qr/registered again after a failed heartbeat/, 'the node was not registered again');
kill 'TERM', $agents{deadlocked};
is(wait_agent('deadlocked'), 0, 'deadlocked stops with exit 0');
query(q{DROP FUNCTION deadlock_beats()});
query(q{DROP SEQUENCE deadlocks});

# ---- a result the server cannot take as it is ----
# In a LATIN1 database, the error of a handler that wrote an emoji to its
# stderr cannot be stored: fail_task() refuses it (22P05).  The task is
# still the node's, so dropping the result would leave it held for good:
# the agent fails it again with its error reduced to ASCII.

query(q{CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0});
$node->safe_psql('latin1', 'CREATE EXTENSION role_cluster');
start_agent('latin', undef, undef, { PGDATABASE => 'latin1' }, '--pull', '--poll', '0.2');
my $emoji = $node->safe_psql('latin1',
	q{SELECT role_cluster.enqueue('storeMaintenance', 'emoji', max_attempts => 1)});
ok( $node->poll_query_until(
		'latin1', "SELECT state FROM role_cluster.task WHERE id = $emoji", 'dead'),
	'in a LATIN1 database, a handler that failed with an emoji on stderr fails its task');
is($node->safe_psql('latin1', "SELECT last_error FROM role_cluster.task WHERE id = $emoji"),
	'handler exited with status 1: smile ? please',
	'with its error reduced to ASCII');
like(slurp($node->basedir . '/agent_latin.log'),
	qr/could not fail task $emoji: character with byte sequence 0xf0 0x9f 0x98 0x80 in encoding "UTF8" has no equivalent in encoding "LATIN1"\n.*failing task $emoji again, with its error reduced to ASCII/,
	'the agent says why');
kill 'TERM', $agents{latin};
is(wait_agent('latin'), 0, 'latin stops with exit 0');

# ---- a result refused every way is kept, not dropped or handed back ----
# A refusal that neither passes nor says the task is gone (here a trigger
# an operator added, P0001) leaves the task the node's: the agent keeps
# the result and reports it again later, rather than drop it (the task
# would stay held for good) or hand it back (a task that succeeded would
# run again).  Once the refusal is gone, the task is done, run once.

query(
	q{CREATE FUNCTION refuse_done() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN
		RAISE EXCEPTION 'not now';
	  END $$;
	  CREATE TRIGGER refuse_done BEFORE UPDATE ON role_cluster.task
		FOR EACH ROW WHEN (NEW.kind = 'refused' AND NEW.state = 'done')
		EXECUTE FUNCTION public.refuse_done()});
start_agent('refused', 'maintenance', undef, {});
$offset = -s $node->basedir . '/agent_refused.log';
my $refused = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'refused')});
(undef, $log) = wait_agent_log('refused', $offset, qr/result of task $refused kept/);
like($log, qr/could not complete task $refused: not now\n.*result of task $refused kept: every way of reporting it was refused; trying again in 10.0 s/,
	'a result refused for a reason that does not pass is kept, to be tried again');
is(query("SELECT state || ' ' || node_id FROM role_cluster.task WHERE id = $refused"),
	'running refused', 'the task stays the node\'s');
query(q{DROP TRIGGER refuse_done ON role_cluster.task; DROP FUNCTION refuse_done()});
ok( $node->poll_query_until(
		'postgres', "SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $refused",
		'done 1'),
	'the refusal gone, the result goes through: done on its first attempt');
is(query("SELECT count(*) FROM agent_run WHERE task_id = $refused"), '1', 'the task ran once');
kill 'TERM', $agents{refused};
is(wait_agent('refused'), 0, 'refused stops with exit 0');

# ---- a second signal gives up a kept result at once ----
# Stopping, an agent waits up to its grace period for a result it keeps
# (refused every way, to be tried again 10 s later).  A second signal
# gives it up there and then, not at that next try: the agent drops it,
# deregisters, which hands the task back, and ends within moments (the
# README: within a second).

query(
	q{CREATE FUNCTION refuse_done() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN
		RAISE EXCEPTION 'not now';
	  END $$;
	  CREATE TRIGGER refuse_done BEFORE UPDATE ON role_cluster.task
		FOR EACH ROW WHEN (NEW.kind = 'refused' AND NEW.state = 'done')
		EXECUTE FUNCTION public.refuse_done()});
start_agent('giveup', 'maintenance', undef, {}, '--grace', '120');
my $given_up = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'refused')});
wait_agent_log('giveup', 0, qr/result of task $given_up kept/);
$offset = -s $node->basedir . '/agent_giveup.log';
kill 'TERM', $agents{giveup};
wait_agent_log('giveup', $offset, qr/stopping: capacity lowered/);
my $second_sent = Time::HiRes::time();
kill 'TERM', $agents{giveup};
is(wait_agent('giveup'), 0, 'a second SIGTERM: giveup exits 0');
cmp_ok(Time::HiRes::time() - $second_sent, '<', 5,
	'...at once, not at the kept result\'s next try, 10 s after the last');
like(slurp_file($node->basedir . '/agent_giveup.log', $offset),
	qr/result of task $given_up dropped: the node deregisters, which hands the task back\n.*deregistered; the server took back 1 task\(s\)/s,
	'having given up the result, and deregistered');
is(query("SELECT state || ' ' || coalesce(node_id, '-') FROM role_cluster.task WHERE id = $given_up"),
	'queued -', 'its task handed back');
query(qq{DELETE FROM role_cluster.task WHERE id = $given_up;
	  DROP TRIGGER refuse_done ON role_cluster.task; DROP FUNCTION refuse_done()});

# ---- a handler's supervisor killed: its whole group goes ----
# The pid the agent logs for a handler is its supervisor's.  Killed with
# SIGKILL (kill -9 by an operator, the OOM killer), it cannot kill the
# handler's process group; the agent does, as it reaps it, so nothing of
# the handler goes on beside the task's next attempt.  A SIGTERM sent to it
# goes to the handler, and the task's error says so.

# Wait (bounded) until process $pid is gone (or a zombie, which a PID 1
# that reaps nothing would leave); returns whether it is.
sub wait_gone
{
	my ($pid) = @_;
	for (my $polls = 0; $polls < 10 * $PostgreSQL::Test::Utils::timeout_default; $polls++)
	{
		my $stat = eval { slurp("/proc/$pid/stat") } // '';
		return 1 unless kill(0, $pid) && $stat !~ /\) Z /;
		usleep(100_000);
	}
	return 0;
}

start_agent('reaper', 'maintenance', undef, {});
my $orphan = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'orphan', max_attempts => 1)});
ok(wait_file("$testdir/child.$orphan"), 'a handler runs on reaper, with a child');
my $child = slurp("$testdir/child.$orphan") =~ s/\s+//gr;
(undef, $log) = wait_agent_log('reaper', 0, qr/task $orphan \(.*\) started, pid \d+/);
my ($supervisor) = $log =~ /task $orphan \(.*\) started, pid (\d+)/;
ok(kill(0, $child), 'its child runs');
kill 'KILL', $supervisor;
ok(wait_gone($child), 'the logged handler pid killed with SIGKILL, the handler\'s child goes too');
kill 'KILL', $child;    # not to outlive the test, were it still there
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $orphan", 'dead'),
	'and the task fails');
like(query("SELECT last_error FROM role_cluster.task WHERE id = $orphan"),
	qr/^handler was terminated by signal 9 \(Killed\)/, 'saying how');
my $termed = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated', max_attempts => 1)});
ok(wait_file("$testdir/started.$termed.1"), 'another handler runs on reaper');
(undef, $log) = wait_agent_log('reaper', 0, qr/task $termed \(.*\) started, pid \d+/);
($supervisor) = $log =~ /task $termed \(.*\) started, pid (\d+)/;
kill 'TERM', $supervisor;
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $termed", 'dead'),
	'the logged handler pid sent SIGTERM, the handler ends and its task fails');
like(query("SELECT last_error FROM role_cluster.task WHERE id = $termed"),
	qr/^handler was terminated by signal 15 \(Terminated\)/, 'saying that it was SIGTERM');
kill 'TERM', $agents{reaper};
is(wait_agent('reaper'), 0, 'reaper stops with exit 0');

# ---- a handler's last words reach its task's error ----
# What a handler writes to stderr just before it exits may still be in the
# pipe when the agent reaps it: it is read then, not lost.  Here the agent
# is stopped (SIGSTOP) while its handler's psql, refused by a trigger,
# prints the error, and the handler exits; let go, the agent reaps it
# straight away (the pending SIGCHLD ends its wait before it looks at the
# pipe), and the task's error still ends with psql's message.

start_agent('lastwords', 'maintenance', undef, {});
my $last_words = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated', max_attempts => 1)});
query(
	qq{CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS \$\$
	   BEGIN
		 RAISE EXCEPTION 'last words of task %', NEW.task_id;
	   END \$\$;
	   CREATE TRIGGER refuse_run BEFORE INSERT ON agent_run
		 FOR EACH ROW WHEN (NEW.task_id = $last_words) EXECUTE FUNCTION refuse_run()});
ok(wait_file("$testdir/started.$last_words.1"), 'a handler runs on lastwords');
(undef, $log) = wait_agent_log('lastwords', 0, qr/task $last_words \(.*\) started, pid \d+/);
($supervisor) = $log =~ /task $last_words \(.*\) started, pid (\d+)/;
kill 'STOP', $agents{lastwords};
# (stopped, not about to be)
for (my $polls = 0; $polls < 10 * $PostgreSQL::Test::Utils::timeout_default; $polls++)
{
	last if slurp("/proc/$agents{lastwords}/stat") =~ /\) T /;
	usleep(100_000);
}
touch_file("$testdir/go.$last_words.1");
ok(wait_gone($supervisor), 'the agent stopped, its handler writes its error and exits');
kill 'CONT', $agents{lastwords};
ok( $node->poll_query_until(
		'postgres', "SELECT state FROM role_cluster.task WHERE id = $last_words", 'dead'),
	'let go, the agent fails the task');
like(query("SELECT last_error FROM role_cluster.task WHERE id = $last_words"),
	qr/^handler exited with status 3: .*ERROR:  last words of task $last_words/s,
	'with what the handler wrote to stderr as it exited');
kill 'TERM', $agents{lastwords};
is(wait_agent('lastwords'), 0, 'lastwords stops with exit 0');
query(q{DROP TRIGGER refuse_run ON agent_run; DROP FUNCTION refuse_run()});

# ---- a stopping agent cut off registers again with its capacity lowered ----
# The session of a stopping agent ends while its handler runs.  It
# reconnects and registers again, which takes back what the node held and
# stops the handler; it registers with a capacity of 0, not its full one,
# so that the worker routes nothing more to a node about to deregister.  (A trigger here records each capacity the node row gets.)

query(
	q{CREATE TABLE recut_capacity (n serial, capacity int);
	  CREATE FUNCTION note_recut_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN
		IF NEW.node_id = 'recut' THEN
			INSERT INTO public.recut_capacity (capacity) VALUES (NEW.capacity);
		END IF;
		RETURN NULL;
	  END $$;
	  CREATE TRIGGER note_recut_capacity AFTER INSERT OR UPDATE ON role_cluster.node
		FOR EACH ROW EXECUTE FUNCTION public.note_recut_capacity()});
my $recut = stop_with_gated_task('recut');
like($log, qr/stopping: capacity lowered to 1/, 'stopping, recut lowers its capacity');
my $mark = query(q{SELECT max(n) FROM recut_capacity});
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'recut'});
is(wait_agent('recut'), 0, 'its session ended, recut reconnects, and stops with exit 0');
like(slurp_file($node->basedir . '/agent_recut.log', $offset), qr/reconnected and registered again/,
	'having registered again');
is( query(
		"SELECT bool_and(capacity <= 1) || ' ' || (array_agg(capacity ORDER BY n DESC))[1] "
		  . "FROM recut_capacity WHERE n > $mark"),
	'true 0', 'with a capacity of 0 at last, never its full capacity');
is(query(q{SELECT deregistered_at IS NOT NULL FROM role_cluster.node WHERE node_id = 'recut'}),
	't', 'and then deregistered');
query("DELETE FROM role_cluster.task WHERE id = $recut");
query(q{DROP TRIGGER note_recut_capacity ON role_cluster.node;
		DROP FUNCTION note_recut_capacity(); DROP TABLE recut_capacity});

# ---- without the worker: an agent with --pull claims queued tasks ----

$node->append_conf('postgresql.conf', 'role_cluster.enabled = off');
$node->reload;
# (claim_tasks() needs READ COMMITTED: the agent sets it whatever the default)
start_agent('puller', 'background', undef,
	{ PGOPTIONS => '-c default_transaction_isolation=repeatable\\ read' },
	'--pull', '--poll', '0.2', '--concurrency', '2');
wait_live('puller', 'puller registered');
query(q{SELECT role_cluster.enqueue('outboundMta', 'pulled') FROM generate_series(1, 4)});
ok( $node->poll_query_until(
		'postgres',
		q{SELECT count(*) FROM role_cluster.task WHERE kind = 'pulled' AND state = 'done'},
		'4'),
	'with the worker off, the pulling agent claimed and ran the tasks');
is( query(
		q{SELECT string_agg(DISTINCT r.node_id, ',') || ' ' || count(*)
		    FROM agent_run r JOIN role_cluster.task t ON t.id = r.task_id
		   WHERE t.kind = 'pulled'}),
	'puller 4',
	'each once, by the puller');
kill 'TERM', $agents{puller};
is(wait_agent('puller'), 0, 'puller stops with exit 0');

# ---- cut off for good while stopping: it gives up, exit 1 ----
# Told to stop while it cannot reach the server (its socket link removed,
# as for agent cut above), the agent tries for 15 s once its handlers are
# done, then gives up: it could not hand back the node's tasks (the server
# takes them back as the node's session or lease ends), a runtime error,
# exit 1, not a clean stop.  (Its 15 s run out during the next case.)

symlink($node->host, "$linkdir/f") or die "symlink: $!";
start_agent('forlorn', 'maintenance', undef, {}, '-d', "host=$linkdir/f");
wait_live('forlorn', 'agent forlorn registered');
unlink "$linkdir/f" or die "unlink: $!";
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'forlorn'});
wait_agent_log('forlorn', 0, qr/lost the connection to the server/);
kill 'TERM', $agents{forlorn};

# ---- results that finished while cut off are reported first ----
# Without the worker, a node's tasks stay its own after its session ends,
# until it registers again.  Cut off while its handler finishes, the agent
# reports the result as it reconnects, before it registers again (which
# would take the task back, to run again): the task is done on its first
# attempt.  Its backoff, doubled by the tries that failed, starts afresh
# once it is back: the first delay of the next outage is 0.5 s again.

# Wait (bounded) until process $pid, a child of an agent, is reaped (not
# even a zombie); returns whether it is.
sub wait_reaped
{
	my ($pid) = @_;
	for (my $polls = 0; $polls < 10 * $PostgreSQL::Test::Utils::timeout_default; $polls++)
	{
		return 1 unless kill(0, $pid);
		usleep(100_000);
	}
	return 0;
}

symlink($node->host, "$linkdir/r") or die "symlink: $!";
start_agent('returner', 'maintenance', undef, {}, '--pull', '-d', "host=$linkdir/r");
my $returned = query(q{SELECT role_cluster.enqueue('storeMaintenance', 'gated')});
ok(wait_file("$testdir/started.$returned.1"), 'a task runs on returner');
(undef, $log) = wait_agent_log('returner', 0, qr/task $returned \(.*\) started, pid \d+/);
my ($returned_pid) = $log =~ /task $returned \(.*\) started, pid (\d+)/;
$offset = -s $node->basedir . '/agent_returner.log';
unlink "$linkdir/r" or die "unlink: $!";
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'returner'});
cmp_ok(wait_agent_log_count('returner', $offset, qr/next attempt in/, 2),
	'>=', 2, 'returner cut off, its tries to reconnect fail');
touch_file("$testdir/go.$returned.1");
ok(wait_reaped($returned_pid), 'meanwhile its handler finishes');
symlink($node->host, "$linkdir/r") or die "symlink: $!";
(undef, $log) = wait_agent_log('returner', $offset, qr/reconnected and registered again/);
like($log, qr/task $returned done\n.*reconnected and registered again/s,
	'back, it reports the result before it registers again');
is(query("SELECT state || ' ' || attempts FROM role_cluster.task WHERE id = $returned"),
	'done 1', 'the task is done, on its first attempt');
$offset = -s $node->basedir . '/agent_returner.log';
query(q{SELECT pg_terminate_backend(backend_pid) FROM role_cluster.node WHERE node_id = 'returner'});
(undef, $log) = wait_agent_log('returner', $offset, qr/reconnecting in [0-9.]+ s/);
my ($afresh) = $log =~ /reconnecting in ([0-9.]+) s/;
cmp_ok($afresh, '<', 1, 'cut off again, it tries to reconnect 0.5 s later, its backoff started afresh');
wait_live('returner', 'and is back');
kill 'TERM', $agents{returner};
is(wait_agent('returner'), 0, 'returner stops with exit 0');

is(wait_agent('forlorn'), 1, 'forlorn, cut off for good while stopping, gives up: exit 1');
like(slurp($node->basedir . '/agent_forlorn.log'),
	qr/could not reach the server to hand back the node's tasks/, '...saying so');
# Each "next attempt in X s" it logged held: the next try came X s later,
# not sooner, though its backoff would have gone past the moment it gives
# up (the try is then brought forward, and the line says so).  Its last try
# is at that moment: no line promises a try after it.
my @tries;
for my $line (split /\n/, slurp($node->basedir . '/agent_forlorn.log'))
{
	next unless $line =~ /^\S+ (\d+):(\d+):(\d+\.\d+) \S+ \[forlorn\] \w+:  (.*)$/;
	my ($at, $msg) = ($1 * 3600 + $2 * 60 + $3, $4);
	push @tries, [ 'try', $at ] if $msg =~ /^could not reconnect/;
	push @tries, [ 'next', $at + $1 ] if $msg =~ /^next attempt in ([0-9.]+) s/;
	push @tries, [ 'gave up', $at ] if $msg =~ /^could not reach the server to hand back/;
}
my @early;
for my $i (0 .. $#tries - 1)
{
	next unless $tries[$i][0] eq 'next';
	my $late = $tries[ $i + 1 ][1] - $tries[$i][1];
	$late += 86400 if $late < -43200;    # past midnight
	push @early, sprintf('%.2f s', -$late)
	  if $tries[ $i + 1 ][0] ne 'try' || $late < -0.2;
}
cmp_ok(scalar(grep { $_->[0] eq 'next' } @tries), '>=', 3, 'forlorn tried several times');
is("@early", '', '...each try when its log line said, none sooner');
is(join(' ', map { $_->[0] } @tries[ -2, -1 ]), 'try gave up',
	'...and its last try is the moment it gives up');
is(query(q{SELECT deregistered_at IS NULL FROM role_cluster.node WHERE node_id = 'forlorn'}),
	't', 'the node not deregistered');
$node->append_conf('postgresql.conf', 'role_cluster.enabled = on');
$node->reload;

# ---- bad settings: documented exit codes and messages ----

($rc, $out, $err) = run_agent({ STALWART_PUSH_SHARD => 'abc' }, 'listeners');
is($rc, 2, 'non-integer shard: exit 2');
like($err, qr/invalid STALWART_PUSH_SHARD "abc"/, '...naming the value');
($rc, $out, $err) =
  run_agent({ STALWART_ROLE => 'push', STALWART_PUSH_SHARD => '0' }, 'run', '--exec', 'true');
is($rc, 2, 'shard 0: exit 2');
($rc, $out, $err) =
  run_agent({ STALWART_ROLE => 'push', STALWART_PUSH_SHARD => '3', STALWART_NODE_ID => 'x' },
	'run', '--exec', 'true');
is($rc, 2, 'shard above the total: exit 2');
like($err, qr/could not register the node: .*\b3\b/, '...with the server\'s message');
($rc, $out, $err) = run_agent({ STALWART_ROLE => 'nosuchrole' }, 'listeners');
is($rc, 2, 'unknown role: exit 2');
like($err, qr/nosuchrole/, '...naming the role');
($rc, $out, $err) =
  run_agent({ STALWART_ROLE => 'nosuchrole', STALWART_NODE_ID => 'x' }, 'run', '--exec', 'true');
is($rc, 2, 'unknown role at registration: exit 2');
($rc, $out, $err) =
  run_agent({ PGUSER => 'node_login', STALWART_ROLE => 'frontend', STALWART_NODE_ID => 'fe1' },
	'run', '--exec', 'true');
is($rc, 2, 'a node id that another login registered: exit 2');
like($err, qr/may not act for node "fe1"/, '...with the server\'s message');
# A registration refused with an integrity error (class 23, as a check or
# a unique index of the server's would raise; here an operator's trigger)
# rejects the node's settings too: a configuration error, exit 2.
query(
	q{CREATE FUNCTION refuse_node() RETURNS trigger LANGUAGE plpgsql AS $$
	  BEGIN
		RAISE EXCEPTION 'node % violates a check', NEW.node_id USING ERRCODE = '23514';
	  END $$;
	  CREATE TRIGGER refuse_node BEFORE INSERT OR UPDATE ON role_cluster.node
		FOR EACH ROW WHEN (NEW.node_id = 'x') EXECUTE FUNCTION public.refuse_node()});
($rc, $out, $err) =
  run_agent({ STALWART_ROLE => 'maintenance', STALWART_NODE_ID => 'x' }, 'run', '--exec', 'true');
is($rc, 2, 'a registration refused with an integrity error (class 23): exit 2');
like($err, qr/could not register the node: node x violates a check/, '...with the server\'s message');
query(q{DROP TRIGGER refuse_node ON role_cluster.node; DROP FUNCTION refuse_node()});
($rc, $out, $err) = run_agent({ PGHOST => $testdir, PGPORT => '1' }, 'tasks');
is($rc, 3, 'unreachable server: exit 3');
like($err, qr/could not connect to the server/, '...saying so');
($rc, $out, $err) =
  run_agent({ PGHOST => $testdir, PGPORT => '1', STALWART_NODE_ID => 'x' }, 'run', '--exec', 'true');
is($rc, 3, 'unreachable server at start of run: exit 3');
# Each handler takes two of the agent's files: a soft open file limit too
# low for --concurrency is raised up to the hard one; a hard one too low
# is a configuration error.
($rc, $out, $err) = run_agent_ulimit('-Sn 64',
	{ PGHOST => $testdir, PGPORT => '1', STALWART_NODE_ID => 'x' },
	'run', '--exec', 'true', '--concurrency', '100');
like($err, qr/raised the open file limit from 64 to 232 for --concurrency 100/,
	'a soft open file limit too low for --concurrency is raised');
is($rc, 3, '...and the agent goes on (to an unreachable server here: exit 3)');
($rc, $out, $err) = run_agent_ulimit('-n 64',
	{ PGHOST => $testdir, PGPORT => '1', STALWART_NODE_ID => 'x' },
	'run', '--exec', 'true', '--concurrency', '100');
is($rc, 2, 'a hard limit too low for --concurrency: exit 2');
like($err, qr/--concurrency 100 needs 232 open files, and the limit is 64\n.*HINT:  Raise the open file limit/,
	'...saying what it needs and how to get it');
($rc, $out, $err) = run_agent({}, 'run');
is($rc, 2, 'run without --exec: exit 2');
like($err, qr/--exec/, '...saying what is missing');
# every usage error: exit 2 and a message naming what is wrong, before
# anything is read from the environment or the server
for my $case (
	[ [ 'run', '--exec', 'true', '--concurrency', 'x' ], qr/invalid --concurrency "x": must be an integer from 1 to 1024/ ],
	[ [ 'run', '--exec', 'true', '--capacity', '0' ], qr/invalid --capacity "0": must be a positive integer/ ],
	[ [ 'run', '--exec', 'true', '--grace', '-1' ], qr/invalid --grace "-1": must be a number of seconds, 0 or more/ ],
	[ [ 'run', '--exec', 'true', '--heartbeat', '0.01' ], qr/invalid --heartbeat "0.01": must be a number of seconds, 0.1 or more/ ],
	[ [ 'run', '--exec', 'true', '--poll', 'x' ], qr/invalid --poll "x": must be a number of seconds, 0.1 or more/ ],
	[ [ 'run', '--exec' ], qr/option "--exec" needs a value/ ],
	[ [ '-z', 'run' ], qr/unknown option "-z"/ ],
	[ [ '--bogus', 'run' ], qr/unknown option "--bogus"/ ],
	[ [], qr/no command given \(listeners, tasks or run\)/ ],
	[ [ 'listeners', 'extra' ], qr/too many arguments, starting with "extra"/ ],
	[ [ 'listeners', '--concurrency', '2' ], qr/run options do not apply to "listeners"/ ],
	[ [ 'fly' ], qr/fly/ ])
{
	my ($args, $message) = @$case;
	($rc, $out, $err) = run_agent({ PGHOST => $testdir, PGPORT => '1' }, @$args);
	is($rc, 2, "usage error (@$args): exit 2");
	like($err, $message, '...saying what is wrong');
}
# numbers are digits only (seconds with a fraction): no sign, no blank, no
# exponent, no hexadecimal
for my $case (
	[ [ 'run', '--exec', 'true', '--capacity', ' 3' ], qr/invalid --capacity " 3": must be a positive integer/ ],
	[ [ 'run', '--exec', 'true', '--capacity', '+1' ], qr/invalid --capacity "\+1": must be a positive integer/ ],
	[ [ 'run', '--exec', 'true', '--concurrency', ' 2' ], qr/invalid --concurrency " 2": must be an integer from 1 to 1024/ ],
	[ [ 'run', '-c', '+2', '--exec', 'true' ], qr/invalid --concurrency "\+2": must be an integer from 1 to 1024/ ],
	[ [ 'run', '--exec', 'true', '--capacity', '1 ' ], qr/invalid --capacity "1 ": must be a positive integer/ ],
	[ [ 'run', '--exec', 'true', '--grace', ' 3' ], qr/invalid --grace " 3": must be a number of seconds/ ],
	[ [ 'run', '--exec', 'true', '--grace', '+1' ], qr/invalid --grace "\+1": must be a number of seconds/ ],
	[ [ 'run', '--exec', 'true', '--heartbeat', '0x10' ], qr/invalid --heartbeat "0x10": must be a number of seconds/ ],
	[ [ 'run', '--exec', 'true', '--poll', '1e1' ], qr/invalid --poll "1e1": must be a number of seconds/ ],
	[ [ 'run', '--exec', 'true', '--poll', '1.2.3' ], qr/invalid --poll "1.2.3": must be a number of seconds/ ])
{
	my ($args, $message) = @$case;
	($rc, $out, $err) = run_agent({ PGHOST => $testdir, PGPORT => '1' }, @$args);
	is($rc, 2, "usage error (@$args): exit 2");
	like($err, $message, '...saying what is wrong');
}
for my $shard (' 1', '+1', '1 ')
{
	($rc, $out, $err) = run_agent({ STALWART_PUSH_SHARD => $shard }, 'listeners');
	is($rc, 2, "shard \"$shard\": exit 2");
	like($err, qr/invalid STALWART_PUSH_SHARD "\Q$shard\E"/, '...naming the value');
}
# stdout that cannot be written is an error, not a silent empty list
{
	local %ENV = (%ENV, %pgenv, STALWART_ROLE => 'frontend');
	delete $ENV{$_} for grep { !defined $ENV{$_} } keys %ENV;
	$err = '';
	IPC::Run::run([ $agent, 'listeners' ], '<', \undef, '>', '/dev/full', '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	is($? >> 8, 1, 'listeners to a full stdout: exit 1');
	like($err, qr/could not write to stdout: No space left on device/, '...saying why');
}
($rc, $out, $err) = run_agent({}, '--help');
is($rc, 0, '--help: exit 0');
like($out, qr/Exit status:.*\b3\b/s, '--help documents the exit codes');
is(query(q{SELECT count(*) FROM role_cluster.node WHERE node_id = 'x'}),
	'0', 'rejected agents left no node behind');

# the agents' logs: shown when something failed, else in the verbose output
for my $log (glob($node->basedir . '/agent_*.log'))
{
	my $text = "---- $log\n" . slurp($log);
	Test::More->builder->is_passing ? note($text) : diag($text);
}

$node->stop;
done_testing();
