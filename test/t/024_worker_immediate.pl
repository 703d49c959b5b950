
# An immediate shutdown under load, then a restart: every task ends done,
# none is lost, and a task that ran twice (its node died with the server)
# carries both attempts in its count.
use strict;
use warnings FATAL => 'all';

use File::Temp qw(tempfile);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/..";
use RcWorker;

my $node = rc_new_node('immediate', conf => "role_cluster.poll_interval = '100ms'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION role_cluster');

my %acked;    # task id => 1: enqueued, and the commit was acknowledged
my %runs;     # task id => how many times one of our nodes started it

# Enqueues ten tasks in one transaction and records their ids.
sub produce
{
	my ($s) = @_;
	my $ids = $s->query_safe(q{
		SELECT string_agg(role_cluster.enqueue('storeMaintenance', 'load',
												jsonb_build_object('n', g))::text, ',')
		  FROM generate_series(1, 10) g});
	$acked{$_} = 1 for split /,/, $ids;
	return;
}

# One round of a node: finish what it started last round, start what was
# routed to it since (and leave that running).
sub work
{
	my ($s, $id, $held, $finish_all) = @_;
	if (@$held)
	{
		my $list = join(',', @$held);
		rc_query($s,
			"SELECT role_cluster.complete_task(t, '$id') FROM unnest('{$list}'::bigint[]) t");
		@$held = ();
	}
	my $got = rc_query($s,
		"SELECT string_agg(id::text, ',') FROM role_cluster.fetch_tasks('$id', 50)");
	for my $t (split /,/, $got)
	{
		$runs{$t}++;
		push @$held, $t;
	}
	work($s, $id, $held, 0) if $finish_all && @$held;
	return;
}

sub start_nodes
{
	my @n;
	for my $id ('n1', 'n2')
	{
		my ($s) = rc_node_session($node, $id, undef, capacity => 50);
		push @n, { id => $id, s => $s, held => [] };
	}
	return @n;
}

# background load from pgbench, on top of ours: unacknowledged enqueues
my ($fh, $script) = tempfile(UNLINK => 1, SUFFIX => '.sql');
print $fh "SELECT role_cluster.enqueue('searchIndexing', 'pgbench');\n";
close $fh;
my $pgbench = IPC::Run::start(
	[
		'pgbench', '-n', '-c', '2', '-R', '200', '-T', '60', '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres'
	],
	'>', \my $pgbench_out, '2>', \my $pgbench_err);

my @nodes = start_nodes();
my $producer = $node->background_psql('postgres');
# rounds until pgbench has added a hundred tasks of its own (at least ten)
for (my $round = 1;; $round++)
{
	produce($producer);
	work($_->{s}, $_->{id}, $_->{held}, 0) for @nodes;
	last
	  if $round >= 10
	  && $producer->query_safe(
		"SELECT count(*) >= 100 FROM role_cluster.task WHERE kind = 'pgbench'") eq 't';
	usleep(20_000);
}
my $held_at_crash = 0;
$held_at_crash += scalar @{ $_->{held} } for @nodes;
ok($held_at_crash > 0, "nodes hold $held_at_crash started tasks at the crash");

# --- crash --------------------------------------------------------------------

$node->stop('immediate');
eval { $_->{s}->quit } for @nodes;
eval { $producer->quit };
$pgbench->kill_kill;
$node->start;

@nodes = start_nodes();
$producer = $node->background_psql('postgres');
for my $round (1 .. 5)
{
	produce($producer);
	work($_->{s}, $_->{id}, $_->{held}, 0) for @nodes;
}

# drain: run rounds until nothing is left to do
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $left;
while (time < $deadline)
{
	work($_->{s}, $_->{id}, $_->{held}, 1) for @nodes;
	$left = $node->safe_psql('postgres',
		"SELECT count(*) FROM role_cluster.task WHERE state <> 'done'");
	last if $left eq '0';
	usleep(50_000);
}
is($left, '0', 'every task is done');

# none lost: every acknowledged enqueue is there, done
my $acked_list = join(',', sort { $a <=> $b } keys %acked);
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM role_cluster.task WHERE state = 'done' AND id = ANY ('{$acked_list}'::bigint[])"
	),
	scalar(keys %acked),
	scalar(keys %acked) . ' acknowledged tasks, all done');

# attempts: the count in the table is the number of times our nodes started
# each task; some ran twice
my %attempts = map { split /\|/ } split /\n/,
  $node->safe_psql('postgres', 'SELECT id, attempts FROM role_cluster.task');
my @wrong = grep { ($runs{$_} // 0) != $attempts{$_} } sort keys %attempts;
is(scalar @wrong, 0, 'each task\'s attempts equal the times it was started')
  or diag join(' ', map { "$_: ran " . ($runs{$_} // 0) . ", attempts $attempts{$_}" } @wrong[0 .. ($#wrong < 9 ? $#wrong : 9)]);
my $twice = grep { $_ >= 2 } values %runs;
ok($twice > 0, "$twice tasks ran twice, each with its extra attempt counted");
ok($twice <= $held_at_crash,
	'only tasks held at the crash ran twice');

eval { $_->{s}->quit } for @nodes;
$producer->quit;
$node->stop;
done_testing();
