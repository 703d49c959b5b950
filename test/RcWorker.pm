
# Helpers for the background worker's TAP tests (test/t/02*.pl): a
# preloaded server, node sessions that register and LISTEN on their
# channel, and waiting for a notification without sleeping as an
# assertion.

package RcWorker;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Time::HiRes qw(usleep);

# Notifications seen in a session's output and not yet waited for:
# $pending{$session}{$channel}.
my %pending;

our @EXPORT = qw(rc_new_node rc_node_session rc_wait_notification
  rc_worker_pid rc_set_and_reload rc_query);

# A preloaded server; $params{conf} are extra postgresql.conf settings,
# $params{initdb} extra initdb arguments, $params{env} a hash of
# environment variables the server starts with (this start only).
sub rc_new_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(
		allows_streaming => $params{allows_streaming} ? 1 : 0,
		extra => $params{initdb} // []);
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'role_cluster'\n"
		  # warning, not log: the server log keeps WARNINGs too (LOG ranks
		  # above WARNING there), which a failing test's log should show
		  # and some tests wait for (VACUUM's "skipping", the worker's)
		  . "log_min_messages = warning\n"
		  . "restart_after_crash = on\n"
		  . ($params{conf} // ''));
	local %ENV = (%ENV, %{ $params{env} // {} });
	$node->start;
	return $node;
}

# The pid of the running worker, or '' when none is in pg_stat_activity.
sub rc_worker_pid
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'role_cluster worker'"
	);
}

# Changes settings with ALTER SYSTEM and reloads.
sub rc_set_and_reload
{
	my ($node, %settings) = @_;
	for my $k (sort keys %settings)
	{
		$node->safe_psql('postgres',
			"ALTER SYSTEM SET role_cluster.$k = '$settings{$k}'");
	}
	$node->reload;
	return;
}

# A node's session: LISTENs on the channel of node $id, then registers it
# with role $role (undef = none).  Returns (session, channel).
sub rc_node_session
{
	my ($node, $id, $role, %params) = @_;
	my $s = $node->background_psql($params{db} // 'postgres',
		on_error_stop => 0);
	my $r = defined $role ? "'$role'" : 'NULL';
	my $shard = $params{push_shard} // 'NULL';
	my $cap = $params{capacity} // 'NULL';
	# LISTEN first: registering wakes the worker, which may route to the
	# node (and notify it) before the next statement
	my $chan = $s->query_safe("SELECT role_cluster.node_channel('$id')");
	my $quoted = $s->query_safe("SELECT quote_ident(role_cluster.node_channel('$id'))");
	$s->query_safe("LISTEN $quoted");
	rc_note_notifications($s,
		$s->query_safe(
			"SELECT node_id FROM role_cluster.register_node('$id', $r, $shard, $cap)"));
	return ($s, $chan);
}

# Runs a query in a node's session and returns its output without the
# notifications that psql prints among it.
sub rc_query
{
	my ($s, $sql) = @_;
	my $out = $s->query_safe($sql);
	rc_note_notifications($s, $out);
	return join("\n", grep { !/^Asynchronous notification / } split(/\n/, $out));
}

# Waits until session $s has received a notification on $chan; psql
# prints notifications after each query, so this runs a trivial one every
# 20 ms.  Returns 1, or 0 after the default timeout.
sub rc_wait_notification
{
	my ($s, $chan) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		rc_note_notifications($s, $s->query('SELECT 1'));
		if ($pending{$s}{$chan})
		{
			delete $pending{$s}{$chan};
			return 1;
		}
		usleep(20_000);
	}
	return 0;
}

# psql prints a notification after whichever statement's output it arrives
# with, so a node's notification may come with the result of the statement
# that registered it or fetched its work, before anyone waits for it.  Every
# statement's output is therefore scanned, and the notifications seen are
# kept per session and channel for the next rc_wait_notification.
sub rc_note_notifications
{
	my ($s, $out) = @_;
	$pending{$s}{$1} = 1
	  while ($out // '') =~ /Asynchronous notification "([^"]+)"/g;
	return;
}

1;
