# The queue under load: 8 nodes with different roles and push shards work
# 100,000 tasks at once, pulling (claim_tasks) and taking what a dispatcher
# routes to them (dispatch + fetch_tasks), failing some tasks once, and
# recording every completion in a table whose primary key is the task id,
# in the same transaction as the acknowledgement.  Afterwards every task is
# done exactly once, by a node allowed to run it.  Then a node dies holding
# work: reclaim() gives it back and the others finish it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $ntasks = 100_000;
my $nspam = 20;

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'role_cluster'
max_connections = 40
role_cluster.node_lease = '1h'
});
$node->start;

# Its own database: the background worker (if any) serves 'postgres'.
$node->safe_psql('postgres', 'CREATE DATABASE stress');
$node->safe_psql('stress', q{
	CREATE EXTENSION role_cluster;
	UPDATE role_cluster.cluster_settings
		SET push_shards_total = 2, retry_backoff_base = '0';
	INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
		('indexer', 'EnableSome(searchIndexing)'),
		('mta', 'EnableSome(outboundMta, spamClassifierTraining)');

	-- One row per completion; the key makes a second completion fail.
	CREATE TABLE completion (
		task_id bigint PRIMARY KEY,
		node_id text NOT NULL,
		task_type role_cluster.task_type NOT NULL,
		push_shard integer,
		attempts integer NOT NULL,
		via text NOT NULL
	);

	-- A node: register from this session, then loop, one transaction per
	-- round: take what was routed to it, claim more, record and complete
	-- them, fail those whose id is a multiple of 97 on their first attempt.
	-- Node 0 also dispatches and reclaims, as the worker would.  Stop when
	-- no task is unfinished.
	CREATE PROCEDURE stress_node(client integer, batch integer)
	LANGUAGE plpgsql AS $$
	DECLARE
		me		text := 'n' || client;
		ids		bigint[];
		failing	bigint[];
		done	integer;
		f		bigint;
	BEGIN
		PERFORM set_config('client_min_messages', 'warning', false);
		CREATE TEMP TABLE got (LIKE role_cluster.task, via text) ON COMMIT DELETE ROWS;
		PERFORM role_cluster.register_node(me,
			CASE WHEN client >= 6 THEN 'mta' WHEN client >= 4 THEN 'indexer' END,
			CASE WHEN client < 4 THEN client % 2 + 1 END,
			2 * batch);
		COMMIT;
		LOOP
			IF client = 0 THEN
				PERFORM role_cluster.reclaim();
				PERFORM role_cluster.dispatch(4 * batch);
				COMMIT;
			END IF;
			INSERT INTO got SELECT f.*, 'fetched' FROM role_cluster.fetch_tasks(me, batch) AS f;
			INSERT INTO got SELECT c.*, 'claimed' FROM role_cluster.claim_tasks(me, batch) AS c;
			SELECT array_agg(id) FILTER (WHERE id % 97 <> 0 OR attempts > 1),
				   array_agg(id) FILTER (WHERE id % 97 = 0 AND attempts = 1)
				INTO ids, failing FROM got;
			IF ids IS NULL AND failing IS NULL THEN
				COMMIT;
				EXIT WHEN NOT EXISTS (SELECT FROM role_cluster.task
									  WHERE state IN ('queued', 'running'));
				PERFORM pg_sleep(0.01);
				CONTINUE;
			END IF;
			INSERT INTO completion
				SELECT id, me, task_type, push_shard, attempts, via FROM got WHERE id = ANY (ids);
			SELECT count(*) INTO done FROM role_cluster.complete_tasks(coalesce(ids, '{}'), me);
			IF done <> coalesce(cardinality(ids), 0) THEN
				RAISE EXCEPTION 'node % completed % of % tasks it held', me, done, cardinality(ids);
			END IF;
			FOREACH f IN ARRAY coalesce(failing, '{}') LOOP
				PERFORM role_cluster.fail_task(f, me, 'first attempt fails');
			END LOOP;
			COMMIT;
		END LOOP;
	END
	$$;
});

# The tasks: indexing, mail, store maintenance, push (two shards) and a few
# singleton trainings, enqueued in batches.
my $t0 = time;
$node->safe_psql('stress', qq{
	SELECT count(*) FROM generate_series(0, $ntasks / 5000 - 1) AS c,
		LATERAL role_cluster.enqueue_batch((
			SELECT jsonb_agg(CASE i % 10
				WHEN 0 THEN jsonb_build_object('task_type', 'pushNotifications', 'shard_key', 'acct' || i)
				WHEN 1 THEN jsonb_build_object('task_type', 'storeMaintenance')
				WHEN 2 THEN jsonb_build_object('task_type', 'storeMaintenance')
				WHEN 3 THEN jsonb_build_object('task_type', 'outboundMta', 'priority', 1)
				WHEN 4 THEN jsonb_build_object('task_type', 'outboundMta')
				WHEN 5 THEN jsonb_build_object('task_type', 'outboundMta')
				ELSE jsonb_build_object('task_type', 'searchIndexing') END)
			FROM generate_series(c * 5000 + 1, c * 5000 + 5000) AS i));
	SELECT count(role_cluster.enqueue('spamClassifierTraining', kind => 'train' || i))
		FROM generate_series(1, $nspam) AS i;
});
is($node->safe_psql('stress', "SELECT count(*) FROM role_cluster.task WHERE state = 'queued'"),
	$ntasks + $nspam, 'all tasks queued');
note sprintf('enqueued %d tasks in %d s', $ntasks + $nspam, time - $t0);

# 8 nodes at once.
$t0 = time;
$node->pgbench(
	'--no-vacuum --client=8 --jobs=2 --transactions=1',
	0, [qr{processed: 8/8}], [qr{^$}],
	'8 nodes work the queue',
	{ 'stress_node' => 'CALL stress_node(:client_id, 50);' },
	'stress');
note sprintf('worked %d tasks in %d s', $ntasks + $nspam, time - $t0);

sub check
{
	my ($total, $what) = @_;
	is($node->safe_psql('stress',
		"SELECT state, count(*) FROM role_cluster.task GROUP BY state ORDER BY state"),
		"done|$total", "$what: every task done");
	is($node->safe_psql('stress', 'SELECT count(*) FROM completion'),
		$total, "$what: every task completed exactly once");
	is($node->safe_psql('stress', q{
		SELECT count(*) FROM completion c JOIN role_cluster.task t ON t.id = c.task_id
		WHERE t.node_id IS DISTINCT FROM c.node_id}),
		'0', "$what: each task done by the node that recorded it");
	is($node->safe_psql('stress', q{
		SELECT count(*) FROM role_cluster.task
		WHERE (state = 'running') <> (node_id IS NOT NULL AND lease_until IS NOT NULL)
			OR (state = 'queued' AND node_id IS NOT NULL)
			OR (finished_at IS NOT NULL) <> (state IN ('done', 'dead'))}),
		'0', "$what: the state invariants hold");
	is($node->safe_psql('stress', q{
		SELECT count(*) FROM completion c JOIN role_cluster.node n USING (node_id)
		WHERE NOT role_cluster.role_enables_task(n.role_name, c.task_type)
			OR (c.task_type = 'pushNotifications' AND c.push_shard IS DISTINCT FROM n.push_shard)}),
		'0', "$what: each task run by a node whose role and shard allow it");
}

check($ntasks + $nspam, 'first run');
is($node->safe_psql('stress', q{
	SELECT count(*) FROM role_cluster.task
	WHERE attempts <> CASE WHEN id % 97 = 0 THEN 2 ELSE 1 END
		OR (id % 97 = 0) <> (last_error IS NOT NULL)}),
	'0', 'failed tasks were retried once, the others ran once');
is($node->safe_psql('stress', 'SELECT count(DISTINCT node_id) FROM completion'),
	'8', 'all 8 nodes took part');
my $via = $node->safe_psql('stress',
	q{SELECT string_agg(via || ' ' || n, ', ' ORDER BY via) FROM (SELECT via, count(*) AS n FROM completion GROUP BY via) v});
like($via, qr/^claimed [1-9]\d*, fetched [1-9]\d*$/, 'tasks came both by claim and by dispatch');
note "completions: $via";

# A node dies holding work.  Its session ends; reclaim() (run by node 0)
# puts its tasks back with the attempt counted, and the others finish them.
$node->safe_psql('stress', q{
	SELECT count(role_cluster.enqueue('storeMaintenance', kind => 'late' || i))
	FROM generate_series(1, 10000) i});
my $victim = $node->background_psql('stress');
$victim->query_safe(q{SELECT node_id FROM role_cluster.register_node('victim', NULL, 1, 500)});
my $held = $victim->query_safe(q{SELECT count(*) FROM role_cluster.claim_tasks('victim', 300)});
is($held, '300', 'the victim holds 300 tasks');
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');
$node->safe_psql('stress', "SELECT pg_terminate_backend($victim_pid, 10000)");
$victim->quit;
is($node->safe_psql('stress', q{SELECT live FROM role_cluster.nodes WHERE node_id = 'victim'}),
	'f', 'the victim is not live once its session is gone');

$node->pgbench(
	'--no-vacuum --client=8 --jobs=2 --transactions=1',
	0, [qr{processed: 8/8}], [qr{^$}],
	'8 nodes finish the work, the victim\'s included',
	{ 'stress_node_2' => 'CALL stress_node(:client_id, 50);' },
	'stress');

check($ntasks + $nspam + 10000, 'after the victim died');
is($node->safe_psql('stress', q{
	SELECT count(*) FROM role_cluster.task
	WHERE last_error LIKE 'node "victim" was lost%' AND attempts = 2}),
	'300', 'the victim\'s tasks came back with their attempt counted');
is( $node->safe_psql(
		'stress', q{
	SELECT count(*) FROM completion c JOIN role_cluster.task t ON t.id = c.task_id
	WHERE t.last_error LIKE 'node "victim" was lost%' AND c.node_id LIKE 'n%'}),
	'300', 'and the other nodes completed each of them');

$node->stop;
done_testing();
