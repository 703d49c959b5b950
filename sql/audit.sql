-- audit(): every check provoked, then quiet again.  Nodes are registered
-- from this session (so they are live) and made not live by moving their
-- lease into the past, as a lapsed heartbeat would.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
DROP ROLE IF EXISTS regress_ops_admin;
DROP ROLE IF EXISTS regress_ops_node;
DROP ROLE IF EXISTS regress_ops_nobody;
RESET client_min_messages;

-- worker_elsewhere: the worker works in role_cluster.database (postgres),
-- not in this database.  (test/t/020_worker.pl shows it quiet there.)
SELECT * FROM role_cluster.audit() WHERE "check" = 'worker_elsewhere';

-- Durations in details depend on the clock: show them as <age>.  (Without
-- worker_elsewhere, which holds throughout.)
CREATE TEMP VIEW findings AS
	SELECT severity, "check", subject,
		   regexp_replace(regexp_replace(detail, '(lapsed|oldest for) [^.]+', '\1 <age>'),
						  '(passed|runs) @( \d+ \w+)+', '\1 <age>', 'g') AS detail
	FROM role_cluster.audit()
	WHERE "check" <> 'worker_elsewhere';
-- Nodes not live from now on: their lease lapsed an hour ago.
CREATE FUNCTION pg_temp.lapse(VARIADIC ids text[]) RETURNS void
	LANGUAGE sql
	AS $$
	UPDATE role_cluster.node SET lease_until = now() - interval '1 hour',
		last_heartbeat = now() - interval '1 hour'
	WHERE node_id = ANY (ids)
	$$;

-- An empty cluster: no live node runs anything.  The critical types (and
-- pushNotifications' only shard) are critical, the others warnings.
SELECT * FROM findings;
SELECT hint FROM role_cluster.audit() WHERE "check" = 'task_type_unrunnable' LIMIT 1;

-- A healthy cluster: client listeners on two frontends, the light tasks
-- on four backends (two per push shard), the heavy ones on two nodes.
INSERT INTO role_cluster.network_listener (id, protocol) VALUES ('imap', 'imap'), ('smtp', 'smtp');
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES
	('frontend', 'DisableAll', 'EnableSome(imap, smtp)'),
	('backend', 'DisableSome(searchIndexing, spamClassifierTraining)', 'DisableAll'),
	('heavy', 'EnableSome(searchIndexing, spamClassifierTraining)', 'DisableAll');
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT count(*) AS registered FROM (
	SELECT role_cluster.register_node('f1', 'frontend')
	UNION ALL SELECT role_cluster.register_node('f2', 'frontend')
	UNION ALL SELECT role_cluster.register_node('b1', 'backend', 1)
	UNION ALL SELECT role_cluster.register_node('b2', 'backend', 1)
	UNION ALL SELECT role_cluster.register_node('b3', 'backend', 2)
	UNION ALL SELECT role_cluster.register_node('b4', 'backend', 2)
	UNION ALL SELECT role_cluster.register_node('h1', 'heavy')
	UNION ALL SELECT role_cluster.register_node('h2', 'heavy')) AS r;
-- Only the singleton on two nodes is worth knowing.
SELECT * FROM findings;
SELECT hint FROM role_cluster.audit() WHERE "check" = 'singleton_multi_node';

-- task_type_single_node and node_not_live: h2 stops heartbeating.
-- searchIndexing is not a critical type (info) unless the caller says so.
SELECT pg_temp.lapse('h2');
SELECT * FROM findings;
SELECT severity, subject FROM role_cluster.audit(critical_types => '{searchIndexing}')
	WHERE "check" = 'task_type_single_node';
SELECT hint FROM role_cluster.audit() WHERE "check" IN ('task_type_single_node', 'node_not_live');
-- task_type_unrunnable: h1 too.  Not critical types: warnings, until a
-- task of the type is queued.
SELECT pg_temp.lapse('h1');
SELECT * FROM findings WHERE "check" = 'task_type_unrunnable';
SELECT role_cluster.enqueue('searchIndexing') AS indexing_task \gset
SELECT * FROM findings WHERE "check" = 'task_type_unrunnable';
-- A type no role enables says so.
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(searchIndexing)' WHERE name = 'heavy';
SELECT * FROM findings WHERE "check" = 'task_type_unrunnable';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'task_type_unrunnable' ORDER BY subject;
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(searchIndexing, spamClassifierTraining)' WHERE name = 'heavy';
DELETE FROM role_cluster.task WHERE id = :indexing_task;
-- h1 and h2 lapsed: register them again.
SELECT (role_cluster.register_node('h1', 'heavy')).node_id;
SELECT (role_cluster.register_node('h2', 'heavy')).node_id;
-- The ended session of a node: not live though its lease runs.
UPDATE role_cluster.node SET backend_pid = 0 WHERE node_id = 'h2';
SELECT * FROM findings WHERE "check" IN ('node_not_live', 'task_type_single_node');
SELECT (role_cluster.register_node('h2', 'heavy')).node_id;
-- Quiet again.
SELECT * FROM findings;
-- node_drained: h1 and h2 at capacity 0 (an agent's stop, or an
-- operator's drain) are live but given nothing, so their types are
-- unrunnable, which names them.
UPDATE role_cluster.node SET capacity = 0 WHERE node_id IN ('h1', 'h2');
SELECT * FROM findings;
SELECT DISTINCT "check", hint FROM role_cluster.audit()
	WHERE "check" IN ('node_drained', 'task_type_unrunnable') ORDER BY 1;
SELECT (role_cluster.register_node('h1', 'heavy')).capacity AS h1,
	   (role_cluster.register_node('h2', 'heavy')).capacity AS h2;
SELECT * FROM findings;

-- A node that holds a task when it is lost says so.
SELECT role_cluster.enqueue('outboundMta') AS mta_task \gset
SELECT id, node_id FROM role_cluster.claim_tasks('b1', 1);
SELECT pg_temp.lapse('b1');
SELECT * FROM findings WHERE "check" = 'node_not_live';
SELECT role_cluster.reclaim() AS reclaimed;
DELETE FROM role_cluster.task WHERE id = :mta_task;
SELECT role_cluster.heartbeat('b1') IS NOT NULL AS b1_back;
-- A node whose session ended holding a task: reclaim() ends its lease as
-- it hands the task back, and the finding still names the ended session.
SELECT role_cluster.enqueue('outboundMta') AS mta_task \gset
SELECT id = :mta_task AS claimed FROM role_cluster.claim_tasks('b1', 1);
UPDATE role_cluster.node SET backend_pid = 0 WHERE node_id = 'b1';
SELECT * FROM findings WHERE "check" = 'node_not_live';
SELECT role_cluster.reclaim() AS reclaimed;
SELECT lease_until <= now() AS lease_ended FROM role_cluster.node WHERE node_id = 'b1';
SELECT * FROM findings WHERE "check" = 'node_not_live';
DELETE FROM role_cluster.task WHERE id = :mta_task;
SELECT (role_cluster.register_node('b1', 'backend', 1)).node_id;
-- Past its node timeout, its lease still running: not live, but it keeps
-- what it holds, and the finding says until when.
SELECT role_cluster.enqueue('outboundMta') AS mta_task \gset
SELECT role_cluster.enqueue('outboundMta') AS mta_task2 \gset
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('b1', 2);
UPDATE role_cluster.node SET live_until = now() - interval '1 minute' WHERE node_id = 'b1';
SELECT * FROM findings WHERE "check" = 'node_not_live';
SELECT role_cluster.reclaim() AS nothing_reclaimed;
SELECT role_cluster.heartbeat('b1') IS NOT NULL AS b1_back;
SELECT * FROM findings WHERE "check" = 'node_not_live';
DELETE FROM role_cluster.task WHERE id IN (:mta_task, :mta_task2);
-- A task routed to a node and not fetched yet: past its node timeout only,
-- the node does not keep it (reclaim() hands it back), so the finding does
-- not count it; lost, the node's routed tasks are counted with the rest,
-- all handed back.  (h2 lost first, so that h1 is given the task.)
SELECT pg_temp.lapse('h2');
SELECT role_cluster.enqueue('searchIndexing') AS routed_task \gset
SELECT role_cluster.dispatch() AS routed;
SELECT node_id, role_cluster.task_fetched(route_seq, node_id) AS fetched
	FROM role_cluster.task WHERE id = :routed_task;
UPDATE role_cluster.node SET live_until = now() - interval '1 minute' WHERE node_id = 'h1';
SELECT * FROM findings WHERE "check" = 'node_not_live';
SELECT pg_temp.lapse('h1');
SELECT * FROM findings WHERE "check" = 'node_not_live';
SELECT role_cluster.reclaim() AS reclaimed;
DELETE FROM role_cluster.task WHERE id = :routed_task;
SELECT role_cluster.heartbeat('h1') IS NOT NULL AS h1_back,
	   role_cluster.heartbeat('h2') IS NOT NULL AS h2_back;
SELECT * FROM findings;

-- Push shards.  push_shard_single_node: shard 2 down to one node (a
-- warning: pushNotifications is a critical type).
SELECT pg_temp.lapse('b4');
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT severity FROM role_cluster.audit(critical_types => '{}') WHERE "check" = 'push_shard_single_node';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'push_shard_single_node';
-- push_shard_unserved and push_shards_uneven: shard 2 has none, shard 1 two.
SELECT pg_temp.lapse('b3');
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT hint FROM role_cluster.audit() WHERE "check" LIKE 'push%';
-- Not a critical type: a warning, until a notification waits in the shard.
SELECT severity FROM role_cluster.audit(critical_types => '{}') WHERE "check" = 'push_shard_unserved';
SELECT role_cluster.enqueue('pushNotifications', shard_key => k) AS push_task
	FROM generate_series(1, 100) AS g, LATERAL (SELECT 'subscriber' || g AS k) AS s
	WHERE role_cluster.shard_for(k, 2) = 2 LIMIT 1 \gset
SELECT severity, detail FROM role_cluster.audit(critical_types => '{}') WHERE "check" = 'push_shard_unserved';
DELETE FROM role_cluster.task WHERE id = :push_task;
-- b1 the only live push node: pushNotifications is judged per shard
-- (push_shard_single_node), never as a task_type_single_node.
SELECT pg_temp.lapse('b2');
SELECT * FROM findings WHERE subject = 'pushNotifications' OR "check" LIKE 'push%';
SELECT count(*) AS other_single_node_types FROM findings WHERE "check" = 'task_type_single_node';
SELECT role_cluster.heartbeat('b2') IS NOT NULL AS b2_back;
SELECT role_cluster.heartbeat('b3') IS NOT NULL AS b3_back,
	   role_cluster.heartbeat('b4') IS NOT NULL AS b4_back;
-- Three nodes against two is even enough; three against one is not.
SELECT (role_cluster.register_node('b5', 'backend', 1)).node_id;
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT pg_temp.lapse('b4');
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT role_cluster.deregister_node('b5') AS handed_back;
SELECT role_cluster.heartbeat('b4') IS NOT NULL AS b4_back;
SELECT * FROM findings WHERE "check" LIKE 'push%';

-- push_shards_total_mismatch: the setting is lowered under the nodes.
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'push_shards_total_mismatch';
-- push_shard_missing: a push node registered without a shard while there
-- was one, then the shards were raised.
SELECT (role_cluster.register_node('p1', 'backend')).push_shard;
SELECT * FROM findings WHERE "check" = 'push_shard_missing';	-- none while there is one
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'push_shard_missing';
-- A node that does not run pushNotifications needs no shard.
SELECT (role_cluster.register_node('p1', 'heavy')).push_shard;
SELECT * FROM findings WHERE "check" LIKE 'push%';
SELECT role_cluster.deregister_node('p1') AS handed_back;

-- node_role_missing: the role is deleted under a live node.
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES ('temp', 'EnableSome(metricsPush)', 'DisableAll');
SELECT (role_cluster.register_node('t1', 'temp')).role_name;
SELECT * FROM findings WHERE "check" LIKE 'node_role%';
DELETE FROM role_cluster.cluster_role WHERE name = 'temp';
SELECT * FROM findings WHERE "check" LIKE 'node_role%';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'node_role_missing';
-- Under unknown_role = enable_all such a node runs everything (and binds
-- every listener, which node_role_changed leaves to this finding).
SET role_cluster.unknown_role = 'enable_all';
SELECT * FROM findings WHERE "check" LIKE 'node_role%';
-- node_duties(), which the views and audit() read, says the same: every
-- task type and every listener, and with the setting back, none.
CREATE TEMP VIEW t1_duties AS
	SELECT cardinality(d.tasks) AS task_types,
		   d.listeners = ARRAY(SELECT l.id FROM role_cluster.network_listener l ORDER BY l.id) AS all_listeners,
		   cardinality(d.listeners) AS listeners
	FROM role_cluster.node n CROSS JOIN LATERAL role_cluster.node_duties(n) d
	WHERE n.node_id = 't1';
SELECT * FROM t1_duties;
RESET role_cluster.unknown_role;
SELECT * FROM t1_duties;
DROP VIEW t1_duties;
SELECT role_cluster.deregister_node('t1') AS handed_back;
SELECT * FROM findings WHERE "check" LIKE 'node_role%';
-- A deregistered node left on purpose: never reported as not live.
SELECT count(*) AS deregistered_reported FROM role_cluster.audit()
	WHERE "check" = 'node_not_live' AND subject IN ('b5', 'p1', 't1');

-- node_role_changed: the listeners a role enables change after its nodes
-- registered; registering again settles it.  A change that leaves them as
-- they were says nothing.
UPDATE role_cluster.cluster_role SET description = 'Client traffic' WHERE name = 'frontend';
SELECT * FROM findings WHERE "check" = 'node_role_changed';
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(imap)' WHERE name = 'frontend';
SELECT * FROM findings WHERE "check" = 'node_role_changed';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'node_role_changed' LIMIT 1;
SELECT node_id, registered_listeners FROM role_cluster.nodes WHERE node_id IN ('f1', 'f2') ORDER BY 1;
SELECT (role_cluster.register_node('f1', 'frontend')).node_id;
SELECT (role_cluster.register_node('f2', 'frontend')).node_id;
SELECT node_id, registered_listeners FROM role_cluster.nodes WHERE node_id IN ('f1', 'f2') ORDER BY 1;
SELECT * FROM findings WHERE "check" = 'node_role_changed';
-- A listener added changes what a node without a role (every listener)
-- or with a role that enables all but some binds, the role's row
-- untouched; a role that names its listeners, or has none, stays quiet.
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES ('most', 'DisableAll', 'DisableSome(imap)');
SELECT (role_cluster.register_node('r0', NULL, 1)).registered_listeners;
SELECT (role_cluster.register_node('d0', 'most')).registered_listeners;
SELECT (role_cluster.register_node('b0', 'backend', 1)).registered_listeners;
INSERT INTO role_cluster.network_listener (id) VALUES ('managesieve');
SELECT * FROM findings WHERE "check" = 'node_role_changed';
-- a row without the list (written by hand) is left alone
UPDATE role_cluster.node SET registered_listeners = NULL WHERE node_id = 'd0';
SELECT * FROM findings WHERE "check" = 'node_role_changed';
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(managesieve)' WHERE name = 'backend';
SELECT * FROM findings WHERE "check" = 'node_role_changed' AND subject = 'b0';
UPDATE role_cluster.cluster_role SET listeners = 'DisableAll' WHERE name = 'backend';
DELETE FROM role_cluster.network_listener WHERE id = 'managesieve';
SELECT * FROM findings WHERE "check" = 'node_role_changed';
SELECT role_cluster.deregister_node(n) FROM unnest('{r0, d0, b0}'::text[]) n;
DELETE FROM role_cluster.cluster_role WHERE name = 'most';
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(imap, smtp)' WHERE name = 'frontend';
SELECT (role_cluster.register_node('f1', 'frontend')).node_id;
SELECT (role_cluster.register_node('f2', 'frontend')).node_id;

-- listener_unused: a listener no role enables.  Quiet once a role does.
INSERT INTO role_cluster.network_listener (id) VALUES ('pop3');
SELECT * FROM findings WHERE "check" LIKE 'listener%';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'listener_unused';
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(imap, pop3, smtp)' WHERE name = 'frontend';
-- (until its nodes register again, none binds it: they bind what they were told)
SELECT * FROM findings WHERE "check" LIKE 'listener%';
SELECT (role_cluster.register_node('f1', 'frontend')).node_id;
SELECT (role_cluster.register_node('f2', 'frontend')).node_id;
SELECT * FROM findings WHERE "check" LIKE 'listener%';
-- listener_unserved: the frontends are lost.
SELECT pg_temp.lapse('f1', 'f2');
SELECT * FROM findings WHERE "check" LIKE 'listener%';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'listener_unserved' LIMIT 1;
SELECT role_cluster.heartbeat('f1') IS NOT NULL AS f1_back,
	   role_cluster.heartbeat('f2') IS NOT NULL AS f2_back;
SELECT * FROM findings WHERE "check" LIKE 'listener%';

-- tasks_waiting: due for an hour, not yet taken (enqueued an hour ago,
-- as far as the task can tell); deferred tasks do not wait.
SELECT role_cluster.enqueue('outboundMta', run_at => now() - interval '1 hour') AS late_task \gset
SELECT role_cluster.enqueue('outboundMta', run_at => now() + interval '1 hour') AS deferred_task \gset
-- due an hour ago but enqueued only now: it has not waited yet
SELECT count(*) AS waiting_now FROM findings WHERE "check" = 'tasks_waiting';
UPDATE role_cluster.task SET created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'
	WHERE id = :late_task;
SELECT * FROM findings WHERE "check" = 'tasks_waiting';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'tasks_waiting';
SELECT count(*) AS waiting_2h FROM role_cluster.audit(wait_threshold => '2 hours') WHERE "check" = 'tasks_waiting';
-- a threshold reaching back before the earliest timestamp: nothing has waited that long
SELECT count(*) AS waiting_forever FROM role_cluster.audit(wait_threshold => '1000000 years')
	WHERE "check" = 'tasks_waiting';
SELECT id = :late_task AS claimed_late_task FROM role_cluster.claim_tasks('b2', 1);
SELECT * FROM findings WHERE "check" = 'tasks_waiting';
-- Time on a node is not waiting: released after an hour held, the task
-- waits from then, not from its run_at.
UPDATE role_cluster.task SET updated_at = now() - interval '1 hour' WHERE id = :late_task;
SELECT role_cluster.release_task(:late_task, 'b2');
SELECT count(*) AS waiting_after_release FROM findings WHERE "check" = 'tasks_waiting';
SELECT oldest_wait FROM role_cluster.queue_stats WHERE task_type = 'outboundMta';
SELECT id = :late_task AS claimed_late_task FROM role_cluster.claim_tasks('b2', 1);
SELECT role_cluster.complete_task(:late_task, 'b2');
DELETE FROM role_cluster.task WHERE id = :deferred_task;
-- A singleton type's tasks wait for the one running: the finding says so,
-- naming it, rather than sending the operator to look for nodes or room.
BEGIN;
INSERT INTO role_cluster.cluster_role (name, tasks, listeners)
	VALUES ('trainer', 'EnableSome(spamClassifierTraining)', 'DisableAll');
SELECT (role_cluster.register_node('s1', 'trainer', NULL, 5)).node_id;
SELECT count(role_cluster.enqueue('spamClassifierTraining')) FROM generate_series(1, 2);
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('s1', 5);
UPDATE role_cluster.task SET created_at = now() - interval '2 hours', updated_at = now() - interval '2 hours',
	run_at = now() - interval '2 hours'
	WHERE task_type = 'spamClassifierTraining';
SELECT severity, detail ~ 'is a singleton type: they wait for task \d+, running on node "s1" since ' AS names_it, hint
	FROM role_cluster.audit() WHERE "check" = 'tasks_waiting' AND subject = 'spamClassifierTraining';
ROLLBACK;

-- tasks_dead: tasks out of attempts, until prune() removes them; the
-- latest one's error is quoted.
SELECT role_cluster.enqueue('storeMaintenance', max_attempts => 1) AS older_dead \gset
SELECT id = :older_dead AS claimed FROM role_cluster.claim_tasks('b1', 1);
SELECT role_cluster.fail_task(:older_dead, 'b1', 'an older failure');
UPDATE role_cluster.task SET finished_at = now() - interval '1 minute' WHERE id = :older_dead;
SELECT role_cluster.enqueue('storeMaintenance', max_attempts => 1) AS dead_task \gset
SELECT id = :dead_task AS claimed FROM role_cluster.claim_tasks('b1', 1);
SELECT role_cluster.fail_task(:dead_task, 'b1', E'disk full\non /var');
SELECT severity, "check", subject, detail = format(E'2 storeMaintenance tasks are dead (out of attempts); the latest, task %s, failed with: disk full\non /var', :dead_task) AS detail_ok
	FROM role_cluster.audit() WHERE "check" = 'tasks_dead';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'tasks_dead';
SELECT role_cluster.prune(retention => '0', dead_retention => '0') AS pruned;
SELECT * FROM findings WHERE "check" = 'tasks_dead';

-- node_mixed_workload: a node without a role runs everything, listeners too.
SELECT (role_cluster.register_node('all1', NULL, 1)).node_id;
SELECT * FROM findings WHERE "check" = 'node_mixed_workload';
SELECT hint FROM role_cluster.audit() WHERE "check" = 'node_mixed_workload';
-- It names the listeners the node was told to bind as it registered, not
-- one added since (node_role_changed reports that).
INSERT INTO role_cluster.network_listener (id) VALUES ('late');
SELECT * FROM findings WHERE "check" = 'node_mixed_workload';
DELETE FROM role_cluster.network_listener WHERE id = 'late';
-- A role that enables one heavy task and one listener; on a lone node
-- (nothing to split the work with) it is only worth knowing.
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES
	('mixed', 'EnableSome(spamClassifierTraining, outboundMta)', 'EnableSome(smtp)');
SELECT role_cluster.deregister_node('all1') AS handed_back;
SELECT (role_cluster.register_node('m1', 'mixed')).node_id;
SELECT pg_temp.lapse('f1', 'f2', 'b1', 'b2', 'b3', 'b4', 'h1', 'h2');
SELECT * FROM findings WHERE "check" = 'node_mixed_workload';
-- A role with heavy tasks and no listeners, or listeners and no heavy
-- task, is fine: once the node registered again, since until then it
-- binds the listeners it was told to.
UPDATE role_cluster.cluster_role SET listeners = 'DisableAll' WHERE name = 'mixed';
SELECT subject FROM findings WHERE "check" = 'node_mixed_workload';
SELECT (role_cluster.register_node('m1', 'mixed')).node_id;
SELECT * FROM findings WHERE "check" = 'node_mixed_workload';
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(outboundMta)', listeners = 'EnableAll' WHERE name = 'mixed';
SELECT (role_cluster.register_node('m1', 'mixed')).node_id;
SELECT * FROM findings WHERE "check" = 'node_mixed_workload';
SELECT role_cluster.deregister_node('m1') AS handed_back;

-- cleanup_held_back: a transaction prepared and never finished holds back
-- the removal of dead rows; reported once older than the threshold, gone
-- once finished.  (Sessions holding a snapshot: the isolation spec
-- cleanup_held_back.)
BEGIN;
SELECT role_cluster.enqueue('storeMaintenance', 'prepared') > 0 AS enqueued;
PREPARE TRANSACTION 'regress_audit_forgotten';
SELECT severity, "check", subject,
	   regexp_replace(detail, 'prepared .* ago', 'prepared <age> ago') AS detail, hint
	FROM role_cluster.audit(wait_threshold => '0')
	WHERE "check" = 'cleanup_held_back' AND subject LIKE 'prepared %';
SELECT count(*) AS held_back_an_hour FROM role_cluster.audit(wait_threshold => '1 hour')
	WHERE "check" = 'cleanup_held_back';
-- With a second one prepared later, metrics() gives the age of the older,
-- and counts no slot.
BEGIN;
SELECT role_cluster.enqueue('storeMaintenance', 'prepared') > 0 AS enqueued;
PREPARE TRANSACTION 'regress_audit_forgotten_later';
SELECT substring(m FROM E'\nrole_cluster_cleanup_held_back_seconds ([^\n]+)')::float8
		= (SELECT max(date_part('epoch', now() - x.prepared)) FROM pg_prepared_xacts x
		   WHERE x.database = current_database()) AS oldest_held_back,
	   substring(m FROM E'\nrole_cluster_cleanup_held_back_slots ([^\n]+)') AS slots_held_back
	FROM role_cluster.metrics() AS m;
ROLLBACK PREPARED 'regress_audit_forgotten_later';
ROLLBACK PREPARED 'regress_audit_forgotten';
-- One prepared in another database holds back that database's cleanup, not
-- this one's.
SELECT current_database() AS regress_db \gset
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_audit_other;
RESET client_min_messages;
CREATE DATABASE regress_audit_other;
\c regress_audit_other
BEGIN;
CREATE TABLE forgotten ();
PREPARE TRANSACTION 'regress_audit_elsewhere';
\c :regress_db
SELECT count(*) AS prepared_anywhere FROM pg_prepared_xacts;
SELECT * FROM role_cluster.audit(wait_threshold => '0')
	WHERE "check" = 'cleanup_held_back' AND subject LIKE 'prepared %';
\c regress_audit_other
ROLLBACK PREPARED 'regress_audit_elsewhere';
\c :regress_db
DROP DATABASE regress_audit_other;
SELECT * FROM role_cluster.audit(wait_threshold => '0')
	WHERE "check" = 'cleanup_held_back' AND subject LIKE 'prepared %';
SELECT count(*) AS never_committed FROM role_cluster.task WHERE kind = 'prepared';

-- Bad arguments.
SELECT * FROM role_cluster.audit(NULL);
SELECT * FROM role_cluster.audit('-1 second');
SELECT * FROM role_cluster.audit(critical_types => NULL);
SELECT * FROM role_cluster.audit(critical_types => '{outboundMta,NULL}');
SELECT * FROM role_cluster.audit(critical_types => '{outboundMail}');

-- Privileges: the admin audits; node logins and PUBLIC cannot.
CREATE ROLE regress_ops_admin LOGIN IN ROLE role_cluster_admin;
CREATE ROLE regress_ops_node LOGIN IN ROLE role_cluster_node;
-- audit() reads the tasks once for all push shards, not once per shard
BEGIN;
UPDATE role_cluster.cluster_settings SET push_shards_total = 16;
SELECT seq_scan AS scans_before FROM pg_stat_xact_user_tables
	WHERE relid = 'role_cluster.task'::regclass \gset
SELECT count(*) > 0 AS found FROM role_cluster.audit();
SELECT seq_scan - :scans_before < 16 AS not_per_shard FROM pg_stat_xact_user_tables
	WHERE relid = 'role_cluster.task'::regclass;
ROLLBACK;
CREATE ROLE regress_ops_nobody LOGIN;
SET ROLE regress_ops_admin;
SELECT count(*) > 0 AS admin_audits FROM role_cluster.audit();
SET ROLE regress_ops_node;
SELECT count(*) FROM role_cluster.audit();
SET ROLE regress_ops_nobody;
SELECT count(*) FROM role_cluster.audit();
RESET ROLE;
-- SECURITY DEFINER with a pinned search_path, not callable by PUBLIC.
SELECT p.proname, p.prosecdef, p.proconfig,
	   has_function_privilege('regress_ops_nobody', p.oid, 'EXECUTE') AS public_may
	FROM pg_proc p WHERE p.oid = 'role_cluster.audit(interval, role_cluster.task_type[])'::regprocedure;
DROP ROLE regress_ops_admin;
DROP ROLE regress_ops_node;
DROP ROLE regress_ops_nobody;
