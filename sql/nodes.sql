-- Nodes: registration and its validation, the login binding, heartbeat,
-- deregistration, the channel name, and the nodes view.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
DROP ROLE IF EXISTS regress_rcq_admin;
DROP ROLE IF EXISTS regress_rcq_node1;
DROP ROLE IF EXISTS regress_rcq_node2;
DROP ROLE IF EXISTS regress_rcq_nobody;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE ROLE regress_rcq_admin LOGIN IN ROLE role_cluster_admin;
CREATE ROLE regress_rcq_node1 LOGIN IN ROLE role_cluster_node;
CREATE ROLE regress_rcq_node2 LOGIN IN ROLE role_cluster_node;
CREATE ROLE regress_rcq_nobody LOGIN;

INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('indexer', 'EnableSome(searchIndexing)'),
	('pusher', 'EnableSome(pushNotifications, metricsPush)'),
	('frontend', 'DisableAll');

-- The settings the queue adds, with their defaults; the node lease and
-- the node timeout are settings, role_cluster.node_lease and
-- role_cluster.node_timeout.
SELECT push_shards_total, default_capacity, retry_backoff_base, retry_backoff_max
	FROM role_cluster.cluster_settings;
SHOW role_cluster.node_lease;
SELECT role_cluster.node_lease();
SHOW role_cluster.node_timeout;
SELECT role_cluster.node_timeout();
-- Whether a transaction that does nothing but claim waits for its WAL
-- flush: not by default (test/t/013_claim_flush.pl shows what each value
-- does).  A node's login may set it for its session, to a boolean only.
SHOW role_cluster.flush_claims;
SET ROLE regress_rcq_node2;
SET role_cluster.flush_claims = on;
SHOW role_cluster.flush_claims;
SET role_cluster.flush_claims = 'sometimes';
RESET role_cluster.flush_claims;
RESET ROLE;

-- Registration: the node row comes back; capacity defaults from the settings.
SELECT node_id, role_name, push_shard, capacity, login,
	   backend_pid = pg_backend_pid() AS my_pid,
	   live_until = last_heartbeat + interval '30 seconds' AS live,
	   lease_until = last_heartbeat + interval '30 seconds' AS leased,
	   deregistered_at IS NULL AS registered
	FROM role_cluster.register_node('n1', 'indexer');
SELECT node_id, role_name, push_shard, capacity
	FROM role_cluster.register_node('n2', NULL, NULL, 3);
-- With one push shard, a push node needs no shard (NULL means shard 1).
SELECT node_id, role_name, push_shard FROM role_cluster.register_node('p0', 'pusher');
SELECT node_id, push_shard FROM role_cluster.register_node('p1', 'pusher', 1);

-- Bad registrations, each changing nothing.
SELECT count(*) AS nodes_before FROM role_cluster.node;
SELECT role_cluster.register_node(NULL);
SELECT role_cluster.register_node('');
-- at most 255 bytes
SELECT role_cluster.register_node(repeat('x', 256));
SELECT octet_length(node_id) AS longest_taken FROM role_cluster.register_node(repeat('x', 255));
SELECT role_cluster.deregister_node(repeat('x', 255));
DELETE FROM role_cluster.node WHERE node_id = repeat('x', 255);
SELECT role_cluster.register_node('bad', 'no-such-role');
SELECT role_cluster.register_node('bad', NULL, NULL, -1);
SELECT role_cluster.register_node('bad', 'pusher', 0);
SELECT role_cluster.register_node('bad', 'pusher', 2);
SELECT role_cluster.register_node('bad', NULL, -3);
SELECT count(*) AS nodes_after FROM role_cluster.node;

-- An unknown role is accepted when the operator chose fail-open.
SET role_cluster.unknown_role = 'enable_all';
SELECT node_id, role_name FROM role_cluster.register_node('ghost', 'no-such-role');
RESET role_cluster.unknown_role;

-- More shards: a push node needs one in range; a node whose role does not
-- enable push needs none.
UPDATE role_cluster.cluster_settings SET push_shards_total = 4;
SELECT role_cluster.register_node('p2', 'pusher');
SELECT role_cluster.register_node('p2', NULL);
SELECT role_cluster.register_node('p2', 'pusher', 5);
SELECT node_id, push_shard FROM role_cluster.register_node('p2', 'pusher', 4);
SELECT node_id, push_shard FROM role_cluster.register_node('i2', 'indexer');
-- p0 (no shard) now serves no shard: effective_push_shard is NULL above 1.
SELECT node_id, role_cluster.effective_push_shard(push_shard, 4) AS serves
	FROM role_cluster.node WHERE node_id IN ('p0', 'p1', 'p2') ORDER BY node_id;
-- Its own shard, or 1 when there is one shard; none when the total is
-- unknown.
SELECT s, t, role_cluster.effective_push_shard(s, t) AS serves
	FROM (VALUES (3, 4), (NULL, 1), (NULL, 2), (NULL, NULL), (2, NULL)) AS v(s, t);
-- Liveness (node_is_live, node_is_lost) of rows as the table holds them,
-- and NULL for a row made by hand without the columns they read.
SELECT node_id, role_cluster.node_is_live(n) AS live, role_cluster.node_is_lost(n) AS lost
	FROM role_cluster.node n WHERE node_id IN ('p1', 'p2') ORDER BY node_id;
SELECT role_cluster.node_is_live(ROW(n.node_id, n.role_name, n.push_shard, n.capacity, n.login,
		n.backend_pid, n.backend_start, n.registered_at, n.last_heartbeat, NULL, n.lease_until,
		n.deregistered_at, n.registered_listeners)::role_cluster.node) AS live_unknown,
	   role_cluster.node_is_lost(ROW(n.node_id, n.role_name, n.push_shard, n.capacity, n.login,
		n.backend_pid, n.backend_start, n.registered_at, n.last_heartbeat, n.live_until, n.lease_until,
		now(), n.registered_listeners)::role_cluster.node) AS lost_when_deregistered,
	   role_cluster.node_is_live(NULL::role_cluster.node) AS live_of_null
	FROM role_cluster.node n WHERE node_id = 'p1';
-- Two shards are more than one: a push node needs one.
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT role_cluster.register_node('p3', 'pusher');
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;

-- Registering again updates the node.
SELECT node_id, role_name, capacity FROM role_cluster.register_node('n1', 'frontend', NULL, 7);
SELECT node_id, role_name, capacity FROM role_cluster.register_node('n1', 'indexer');

-- The channel a node listens on.
SELECT role_cluster.node_channel('n1');
SELECT role_cluster.node_channel(repeat('x', 45));
SELECT role_cluster.node_channel(repeat('x', 46));
SELECT octet_length(role_cluster.node_channel(repeat('é', 100))) AS long_id_channel_bytes;
SELECT role_cluster.node_channel(NULL);
SELECT role_cluster.node_channel('');

-- Heartbeat extends the node's lease and the leases of what it holds.
UPDATE role_cluster.node SET lease_until = now() + interval '1 second' WHERE node_id = 'n2';
SELECT role_cluster.enqueue('outboundMta') AS t1 \gset
SELECT id = :t1 AS claimed FROM role_cluster.claim_tasks('n2', 1);
UPDATE role_cluster.task SET lease_until = now() + interval '1 second' WHERE id = :t1;
SELECT role_cluster.heartbeat('n2') - interval '30 seconds' BETWEEN now() AND clock_timestamp() AS extended;
SELECT n.lease_until = n.last_heartbeat + interval '30 seconds' AS node_lease,
	   n.last_heartbeat > now() - interval '1 minute' AS recent,
	   t.lease_until = n.lease_until AS task_lease
	FROM role_cluster.node n JOIN role_cluster.task t ON t.node_id = n.node_id
	WHERE n.node_id = 'n2';
-- The lease follows the setting, which a superuser may set for a session
-- (or a login); others may not.  heartbeat() returns when the node stops
-- being live: its node timeout, by default the lease, counted from the
-- moment it held the node's row (its transaction may have begun earlier).
SET role_cluster.node_lease = '2min';
SELECT role_cluster.node_lease(), role_cluster.node_timeout();
SELECT role_cluster.heartbeat('n2') - interval '2 minutes' BETWEEN now() AND clock_timestamp() AS extended;
-- The timeout follows its own setting, up to the lease.
SET role_cluster.node_timeout = '1min';
SELECT role_cluster.node_timeout();
SELECT role_cluster.heartbeat('n2') - interval '1 minute' BETWEEN now() AND clock_timestamp() AS live_for_the_timeout;
SELECT n.live_until = n.last_heartbeat + interval '1 minute' AS live_until,
	   n.lease_until = n.last_heartbeat + interval '2 minutes' AS lease_until,
	   t.lease_until = n.lease_until AS task_lease
	FROM role_cluster.node n JOIN role_cluster.task t ON t.node_id = n.node_id
	WHERE n.node_id = 'n2' AND t.id = :t1;
SET role_cluster.node_timeout = '5min';
SELECT role_cluster.node_timeout() AS capped_at_the_lease;
SELECT role_cluster.heartbeat('n2') - interval '2 minutes' BETWEEN now() AND clock_timestamp() AS live_for_the_lease;
SET role_cluster.node_timeout = 0;
SELECT role_cluster.node_timeout() AS the_lease;
SET role_cluster.node_lease = 0;
SET role_cluster.node_lease = '-1s';
SET role_cluster.node_timeout = '-1s';
RESET role_cluster.node_lease;
RESET role_cluster.node_timeout;
SELECT role_cluster.heartbeat('n2') - interval '30 seconds' BETWEEN now() AND clock_timestamp() AS extended;
SELECT role_cluster.heartbeat(NULL);
SELECT role_cluster.heartbeat('nobody-here');

-- A node whose lease lapsed is not live until it heartbeats again.
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT node_id, live FROM role_cluster.nodes WHERE node_id = 'n1';
SELECT role_cluster.claim_tasks('n1');
SELECT role_cluster.heartbeat('n1') > now() AS heartbeat;
SELECT node_id, live FROM role_cluster.nodes WHERE node_id = 'n1';
-- What a node held when its lease lapsed is no longer its own, even if it
-- heartbeats before reclaim() comes: the heartbeat hands it back as
-- reclaim() would, the attempt counted, and the node comes back empty.
SELECT role_cluster.enqueue('searchIndexing', kind => 'lapsed', priority => 100) AS t_lapsed \gset
SELECT id = :t_lapsed AS claimed FROM role_cluster.claim_tasks('n1', 1);
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT role_cluster.heartbeat('n1') > now() AS heartbeat;
SELECT state, node_id, attempts, last_error FROM role_cluster.task WHERE id = :t_lapsed;
SELECT node_id, live, held FROM role_cluster.nodes WHERE node_id = 'n1';
SELECT role_cluster.reclaim() AS nothing_left;
-- So does registering again from its own session.
SELECT id = :t_lapsed AS claimed FROM role_cluster.claim_tasks('n1', 1);
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT node_id FROM role_cluster.register_node('n1', 'indexer');
SELECT state, node_id, attempts, last_error FROM role_cluster.task WHERE id = :t_lapsed;
SELECT node_id, live, held FROM role_cluster.nodes WHERE node_id = 'n1';
DELETE FROM role_cluster.task WHERE id = :t_lapsed;

-- A node past its node timeout, its lease still running, is not live: it
-- is given no work, nor may it fetch, until it heartbeats again; but it
-- keeps what it started (here, claimed), which reclaim() leaves alone, and
-- may still report on it.
SELECT role_cluster.enqueue('searchIndexing', kind => 'kept', priority => 100) AS t_kept \gset
SELECT id = :t_kept AS claimed FROM role_cluster.claim_tasks('n1', 1);
SELECT role_cluster.enqueue('searchIndexing', kind => 'waits', priority => 100) AS t_waits \gset
UPDATE role_cluster.node SET live_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT node_id, live, held, lease_until > now() AS leased FROM role_cluster.nodes WHERE node_id = 'n1';
\set VERBOSITY terse
SELECT role_cluster.claim_tasks('n1');
SELECT role_cluster.fetch_tasks('n1');
\set VERBOSITY default
SELECT role_cluster.reclaim() AS nothing_reclaimed;
SELECT id = :t_kept AS kept, state, node_id, attempts FROM role_cluster.task
	WHERE id IN (:t_kept, :t_waits) ORDER BY id;
SELECT role_cluster.complete_task(:t_kept, 'n1') AS reported;
SELECT state, node_id FROM role_cluster.task WHERE id = :t_kept;
SELECT role_cluster.heartbeat('n1') - interval '30 seconds' BETWEEN now() AND clock_timestamp() AS live_again;
SELECT node_id, live, held FROM role_cluster.nodes WHERE node_id = 'n1';
SELECT id = :t_waits AS claimed FROM role_cluster.claim_tasks('n1', 1);
SELECT count(*) AS completed FROM role_cluster.complete_tasks(ARRAY[:t_waits]::bigint[], 'n1');
-- Its lease lapsing too, it is gone as before.
SELECT role_cluster.enqueue('searchIndexing', kind => 'lost', priority => 100) AS t_lost \gset
SELECT id = :t_lost AS claimed FROM role_cluster.claim_tasks('n1', 1);
UPDATE role_cluster.node SET live_until = now() - interval '2 seconds',
	lease_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT role_cluster.claim_tasks('n1');
SELECT role_cluster.reclaim() AS reclaimed;
SELECT state, node_id, attempts FROM role_cluster.task WHERE id = :t_lost;
SELECT role_cluster.heartbeat('n1') > now() AS heartbeat;
DELETE FROM role_cluster.task WHERE id IN (:t_kept, :t_waits, :t_lost);

-- A node whose registering session has ended is not live, and cannot
-- heartbeat from another session: it must register again.
UPDATE role_cluster.node SET backend_pid = 0 WHERE node_id = 'n1';
SELECT node_id, live, session_alive FROM role_cluster.nodes WHERE node_id = 'n1';
SELECT role_cluster.heartbeat('n1');
SELECT role_cluster.claim_tasks('n1');
-- (past its node timeout too, the ended session is what the refusal names;
-- and past its lease, which reclaim() ends for such a node)
UPDATE role_cluster.node SET live_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT role_cluster.fetch_tasks('n1');
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'n1';
SELECT role_cluster.fetch_tasks('n1');
SELECT role_cluster.claim_tasks('n1');
SELECT node_id, backend_pid = pg_backend_pid() AS mine FROM role_cluster.register_node('n1', 'indexer');
SELECT node_id, live, session_alive FROM role_cluster.nodes WHERE node_id = 'n1';
-- Nor is a session that has its pid but began later (the pid was reused),
-- even when that is the calling session; registering from it starts the
-- node afresh, what it held handed back.
SELECT role_cluster.enqueue('searchIndexing', kind => 'reused', priority => 100) AS t_reused \gset
SELECT id = :t_reused AS claimed FROM role_cluster.claim_tasks('n1', 1);
UPDATE role_cluster.node SET backend_start = backend_start - interval '1 hour' WHERE node_id = 'n1';
SELECT node_id, live, session_alive FROM role_cluster.nodes WHERE node_id = 'n1';
\set VERBOSITY terse
SELECT role_cluster.heartbeat('n1');
SELECT role_cluster.claim_tasks('n1');
\set VERBOSITY default
SELECT node_id, backend_pid = pg_backend_pid() AS mine FROM role_cluster.register_node('n1', 'indexer');
SELECT node_id, live, session_alive FROM role_cluster.nodes WHERE node_id = 'n1';
SELECT state, node_id, attempts, last_error FROM role_cluster.task WHERE id = :t_reused;
DELETE FROM role_cluster.task WHERE id = :t_reused;

-- The view: role, shard, liveness and the work held.
SELECT node_id, role, push_shard, capacity, live, held, routed, running, session_alive, login
	FROM role_cluster.nodes ORDER BY node_id;

-- Deregistering hands back what the node holds as reclaim() would (a
-- started task keeps the attempt it used), and the node is no longer live.
SELECT attempts FROM role_cluster.task WHERE id = :t1;
SELECT role_cluster.deregister_node('n2') AS handed_back;
SELECT state, node_id, attempts, lease_until, last_error FROM role_cluster.task WHERE id = :t1;
SELECT node_id, live, held, deregistered_at IS NOT NULL AS deregistered,
	   live_until <= now() AS timed_out, lease_until <= now() AS lease_ended
	FROM role_cluster.nodes WHERE node_id = 'n2';
SELECT role_cluster.deregister_node('n2') AS again;
SELECT role_cluster.heartbeat('n2');
SELECT role_cluster.claim_tasks('n2');
SELECT role_cluster.deregister_node(NULL);
SELECT role_cluster.deregister_node('nobody-here');
-- A node row written by hand has no fetch mark (register_node() makes
-- one); what it claims still goes back when it is deregistered.
INSERT INTO role_cluster.node (node_id, role_name, capacity, login, backend_pid, backend_start, lease_until)
	SELECT 'by-hand', 'indexer', 4, session_user, a.pid, a.backend_start, now() + interval '1 minute'
	FROM pg_stat_activity a WHERE a.pid = pg_backend_pid();
SELECT role_cluster.enqueue('searchIndexing', kind => 'by-hand', priority => 100) AS t_hand \gset
SELECT id = :t_hand AS claimed FROM role_cluster.claim_tasks('by-hand', 1);
SELECT count(*) AS marks FROM role_cluster.node_fetch WHERE node_id = 'by-hand';
SELECT role_cluster.deregister_node('by-hand') AS handed_back;
SELECT state, node_id, attempts, last_error FROM role_cluster.task WHERE id = :t_hand;
DELETE FROM role_cluster.task WHERE id = :t_hand;
DELETE FROM role_cluster.node WHERE node_id = 'by-hand';
-- Registering again brings it back.
SELECT node_id, deregistered_at IS NULL AS registered FROM role_cluster.register_node('n2');
SELECT node_id, live FROM role_cluster.nodes WHERE node_id = 'n2';

-- node_session_alive() sees every login's sessions, although
-- pg_stat_activity hides their start times from a node login (this session
-- runs as the superuser that started it).
SELECT backend_start AS my_start FROM pg_stat_activity WHERE pid = pg_backend_pid() \gset
SET SESSION AUTHORIZATION regress_rcq_node1;
SELECT backend_start IS NULL AS hidden_from_this_login
	FROM pg_stat_activity WHERE pid = pg_backend_pid();
SELECT role_cluster.node_session_alive(pg_backend_pid(), :'my_start') AS alive,
	   role_cluster.node_session_alive(pg_backend_pid(), :'my_start'::timestamptz - interval '1 second') AS other_start,
	   role_cluster.node_session_alive(0, :'my_start') AS no_such_pid;
RESET SESSION AUTHORIZATION;

-- A node is bound to the login that registered it.
SELECT role_cluster.enqueue('searchIndexing', 'mine') AS mt \gset
SET SESSION AUTHORIZATION regress_rcq_node1;
SELECT node_id, login FROM role_cluster.register_node('mine', 'indexer');
SELECT id = :mt AS claimed FROM role_cluster.claim_tasks('mine');
SELECT role_cluster.heartbeat('mine') > now() AS heartbeat;
SELECT role_cluster.node_lease();
-- a node login may not choose its own lease or timeout
SET role_cluster.node_lease = '1h';
SET role_cluster.node_timeout = '1h';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_rcq_node2;
SELECT role_cluster.register_node('mine', 'indexer');
SELECT role_cluster.heartbeat('mine');
SELECT role_cluster.claim_tasks('mine');
SELECT role_cluster.fetch_tasks('mine');
-- (not even a report of the task the node holds)
SELECT role_cluster.complete_task(:mt, 'mine');
SELECT role_cluster.complete_tasks(ARRAY[:mt]::bigint[], 'mine');
SELECT role_cluster.fail_task(:mt, 'mine', 'no');
SELECT role_cluster.release_task(:mt, 'mine');
SELECT role_cluster.deregister_node('mine');
-- ... nor may it touch the tables directly.
SELECT count(*) FROM role_cluster.node;
SELECT count(*) FROM role_cluster.task;
UPDATE role_cluster.node SET login = 'regress_rcq_node2' WHERE node_id = 'mine';
INSERT INTO role_cluster.task (task_type) VALUES ('searchIndexing');
DELETE FROM role_cluster.task;
UPDATE role_cluster.task_policy SET singleton = true;
SELECT role_cluster.dispatch();
SELECT role_cluster.reclaim();
-- It may read the view and the policy.
SELECT node_id, login, running FROM role_cluster.nodes WHERE node_id = 'mine';
SELECT count(*) AS policies FROM role_cluster.task_policy;
RESET SESSION AUTHORIZATION;
-- A role_cluster_admin member may act for any node, and take it over.
SET SESSION AUTHORIZATION regress_rcq_admin;
SELECT role_cluster.heartbeat('mine') > now() AS heartbeat;
SELECT node_id, login FROM role_cluster.register_node('mine', 'indexer');
SELECT role_cluster.deregister_node('mine') AS handed_back;
RESET SESSION AUTHORIZATION;
DELETE FROM role_cluster.task WHERE id = :mt;
-- PUBLIC has nothing.
SET SESSION AUTHORIZATION regress_rcq_nobody;
SELECT role_cluster.register_node('sneaky');
SELECT * FROM role_cluster.nodes;
SELECT role_cluster.enqueue('searchIndexing');
RESET SESSION AUTHORIZATION;

-- Another session's registration of a node takes it over: what it held is
-- handed back, counting the attempt.
SELECT role_cluster.enqueue('searchIndexing') AS t2 \gset
SELECT id IN (:t1, :t2) AS claimed FROM role_cluster.claim_tasks('n2', 2);
UPDATE role_cluster.node SET backend_pid = 0 WHERE node_id = 'n2';
SELECT node_id FROM role_cluster.register_node('n2');
SELECT id = :t1 AS t1, state, node_id, attempts, last_error FROM role_cluster.task
	WHERE id IN (:t1, :t2) ORDER BY id;

-- The SQLSTATE of each kind of error that README lists, one call each.
\set VERBOSITY sqlstate
SET SESSION AUTHORIZATION regress_rcq_node2;
SELECT role_cluster.heartbeat('n2');					-- 42501: another login's node
RESET SESSION AUTHORIZATION;
SELECT role_cluster.complete_task(:t2, 'n2');			-- 55000: not held
UPDATE role_cluster.node SET lease_until = now() WHERE node_id = 'n2';
SELECT role_cluster.claim_tasks('n2', 1);				-- 55000: not live
SELECT node_id AS live_again FROM role_cluster.register_node('n2');
SELECT role_cluster.heartbeat('nobody-here');			-- 42704: unknown node
\set VERBOSITY terse
SELECT role_cluster.heartbeat(repeat('x', 10000));	-- 42704: only its start shown
\set VERBOSITY sqlstate
SELECT role_cluster.complete_task(-1, 'n2');			-- 42704: unknown task
SELECT role_cluster.claim_tasks('n2', NULL);			-- 22004: NULL argument
SELECT role_cluster.enqueue(NULL);						-- 22004
SELECT role_cluster.claim_tasks('n2', -1);				-- 22023: bad value
SELECT role_cluster.register_node('n2', NULL, 0);		-- 22023
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.claim_tasks('n2', 1);				-- 0A000: not READ COMMITTED
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.dispatch();							-- 0A000
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.reclaim();							-- 0A000
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.deregister_node('n2');				-- 0A000: its hand-back must see every claim
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.fetch_tasks('n2', 1);				-- 0A000: its read must follow the mark's lock
ROLLBACK;
\set VERBOSITY default

DROP EXTENSION role_cluster;
DROP ROLE regress_rcq_admin;
DROP ROLE regress_rcq_node1;
DROP ROLE regress_rcq_node2;
DROP ROLE regress_rcq_nobody;
