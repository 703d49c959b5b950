SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;

--
-- Evaluation: role_enables_task, role_enables_listener, role_tasks,
-- role_listeners, role_exists (src/rc_cache.c)
--

INSERT INTO role_cluster.network_listener (id, protocol) VALUES
	('imap', 'imap'), ('jmap', 'http'), ('smtp', 'smtp'), ('webdav', 'http');

-- the seed's two roles, in the seed's JSON
INSERT INTO role_cluster.cluster_role (name, description, tasks, listeners) VALUES
	('frontend', 'Serves IMAP, JMAP, SMTP and WebDAV traffic',
	 '{"@type": "DisableAll"}', '{"@type": "EnableAll"}'),
	('maintenance', 'Runs store maintenance, indexing, and metrics',
	 '{"@type": "EnableSome", "taskTypes": ["storeMaintenance", "accountMaintenance",
	   "searchIndexing", "metricsCalculate", "metricsPush"]}',
	 '{"@type": "DisableAll"}');

-- every task type against both roles and no role (NULL enables everything)
SELECT t AS task,
	   role_cluster.role_enables_task('frontend', t) AS frontend,
	   role_cluster.role_enables_task('maintenance', t) AS maintenance,
	   role_cluster.role_enables_task(NULL, t) AS no_role
FROM unnest(enum_range(NULL::role_cluster.task_type)) AS t;

-- the same through the set-returning forms
SELECT role_cluster.role_tasks('frontend');
SELECT role_cluster.role_tasks('maintenance');
SELECT role_cluster.role_tasks(NULL);
SELECT * FROM role_cluster.role_listeners('frontend');
SELECT * FROM role_cluster.role_listeners('maintenance');
SELECT * FROM role_cluster.role_listeners(NULL);

-- EnableSome and DisableSome listener groups, and the other task variants
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES
	('mx', 'DisableSome(spamClassifierTraining, searchIndexing)', 'EnableSome(smtp)'),
	('web', 'EnableAll', 'DisableSome(smtp, imap)'),
	('quiet', 'EnableSome()', 'EnableSome()'),
	('loud', 'DisableSome()', 'DisableSome()');
SELECT r.name, l.id, role_cluster.role_enables_listener(r.name, l.id) AS enabled
FROM role_cluster.cluster_role r, role_cluster.network_listener l
ORDER BY r.name, l.id;
SELECT name, array(SELECT role_cluster.role_listeners(name)) AS listeners,
	   array(SELECT role_cluster.role_tasks(name)) AS tasks
FROM role_cluster.cluster_role ORDER BY name;
SELECT role_cluster.role_enables_listener(NULL, 'smtp') AS no_role;

-- role_exists: from the same cache; names are case-sensitive
SELECT role_cluster.role_exists('frontend') AS frontend,
	   role_cluster.role_exists('Frontend') AS capitalised,
	   role_cluster.role_exists('ghost') AS ghost,
	   role_cluster.role_exists(NULL) AS null_role;

-- NULL task or listener: NULL, whatever the role
SELECT role_cluster.role_enables_task('frontend', NULL) AS null_task,
	   role_cluster.role_enables_task('ghost', NULL) AS null_task_unknown_role,
	   role_cluster.role_enables_listener('frontend', NULL) AS null_listener,
	   role_cluster.role_enables_listener(NULL, NULL) AS both_null;

-- an unknown role is an error (42704) ...
\set VERBOSITY default
SELECT role_cluster.role_enables_task('ghost', 'searchIndexing');
SELECT role_cluster.role_enables_listener('ghost', 'imap');
SELECT role_cluster.role_tasks('ghost');
SELECT role_cluster.role_listeners('ghost');
SELECT role_cluster.role_enables_task('Frontend', 'searchIndexing');
\set VERBOSITY sqlstate
SELECT role_cluster.role_enables_task('ghost', 'searchIndexing');
\set VERBOSITY default

-- ... unless role_cluster.unknown_role = 'enable_all' (superuser only)
SET role_cluster.unknown_role = 'enable_all';
SELECT role_cluster.role_enables_task('ghost', 'searchIndexing') AS ghost_task,
	   role_cluster.role_enables_listener('ghost', 'imap') AS ghost_listener,
	   role_cluster.role_exists('ghost') AS ghost_exists,
	   role_cluster.role_enables_task('frontend', 'searchIndexing') AS frontend_task;
SELECT array(SELECT role_cluster.role_tasks('ghost')) AS ghost_tasks,
	   array(SELECT role_cluster.role_listeners('ghost')) AS ghost_listeners;
SET role_cluster.unknown_role = 'no_such_value';
RESET role_cluster.unknown_role;
SHOW role_cluster.unknown_role;

-- an unknown listener is an error even with no role or enable_all
SELECT role_cluster.role_enables_listener('frontend', 'pop3');
SELECT role_cluster.role_enables_listener(NULL, 'pop3');
SET role_cluster.unknown_role = 'enable_all';
SELECT role_cluster.role_enables_listener('ghost', 'pop3');
RESET role_cluster.unknown_role;
SELECT role_cluster.role_enables_listener('frontend', 'IMAP');

-- names are compared as bytes, whatever their length or characters
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('edge node ✉', 'EnableSome(outboundMta)'),
	(repeat('long-role-name-', 20), 'EnableSome(taskScheduler)');
SELECT role_cluster.role_enables_task('edge node ✉', 'outboundMta') AS edge_mta,
	   role_cluster.role_enables_task('edge node ✉', 'taskScheduler') AS edge_scheduler,
	   role_cluster.role_enables_task(repeat('long-role-name-', 20), 'taskScheduler') AS long_scheduler,
	   role_cluster.role_exists(repeat('long-role-name-', 19)) AS shorter_exists;

-- this session sees its own change at its next statement ...
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(searchIndexing)' WHERE name = 'frontend';
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS frontend_indexes;
DELETE FROM role_cluster.cluster_role WHERE name = 'quiet';
SELECT role_cluster.role_exists('quiet') AS quiet_exists;
INSERT INTO role_cluster.network_listener (id) VALUES ('pop3');
SELECT role_cluster.role_enables_listener('frontend', 'pop3') AS frontend_pop3,
	   role_cluster.role_enables_listener('web', 'pop3') AS web_pop3,
	   role_cluster.role_enables_listener('mx', 'pop3') AS mx_pop3;
-- a listener renamed: the next statement knows it by its new id only
INSERT INTO role_cluster.network_listener (id) VALUES ('old1');
SELECT role_cluster.role_enables_listener(NULL, 'old1') AS old1_enabled;
UPDATE role_cluster.network_listener SET id = 'new1' WHERE id = 'old1';
SELECT role_cluster.role_enables_listener(NULL, 'new1') AS new1_enabled;
SELECT role_cluster.role_enables_listener(NULL, 'old1');
DELETE FROM role_cluster.network_listener WHERE id = 'new1';
-- listener ids in byte order, a prefix before what extends it
INSERT INTO role_cluster.network_listener (id) VALUES ('pfxa'), ('pfx');
SELECT string_agg(r, ',') AS prefixed FROM role_cluster.role_listeners(NULL) r WHERE r LIKE 'pfx%';
DELETE FROM role_cluster.network_listener WHERE id IN ('pfx', 'pfxa');
-- what a node runs (node_task_types): an unknown role raises when strict,
-- and a NULL strict is strict; not strict, it runs nothing, or everything
-- under unknown_role = 'enable_all'
SELECT role_cluster.node_task_types('no_such_role', true);
SELECT role_cluster.node_task_types('no_such_role', NULL);
SELECT role_cluster.node_task_types('no_such_role', false) AS unknown_runs;
SET role_cluster.unknown_role = 'enable_all';
SELECT cardinality(role_cluster.node_task_types('no_such_role', false)) AS unknown_runs_all;
RESET role_cluster.unknown_role;

-- ... and a rollback undoes it
BEGIN;
UPDATE role_cluster.cluster_role SET tasks = 'DisableAll' WHERE name = 'frontend';
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS in_transaction;
ROLLBACK;
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS after_rollback;

-- so does ROLLBACK TO SAVEPOINT; DELETE FROM network_listener too
BEGIN;
SAVEPOINT s;
DELETE FROM role_cluster.network_listener WHERE id = 'pop3';
SELECT role_cluster.role_enables_listener('frontend', 'pop3');
ROLLBACK TO SAVEPOINT s;
SELECT role_cluster.role_enables_listener('frontend', 'pop3') AS after_savepoint_rollback;
COMMIT;
-- and a statement that failed before its end, after a lookup in its middle
-- had built the cache with a row it wrote: ROLLBACK TO forgets that row
CREATE FUNCTION peek(v text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF v = 'b' THEN
		PERFORM role_cluster.role_exists('a');
	END IF;
	RETURN true;
END $$;
BEGIN;
SAVEPOINT s;
\set VERBOSITY terse
INSERT INTO role_cluster.cluster_role (name)
	SELECT v FROM (VALUES ('a'), ('b'), ('')) t(v) WHERE peek(v);
\set VERBOSITY default
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS rows_a FROM role_cluster.cluster_role WHERE name = 'a';
SELECT role_cluster.role_exists('a') AS cached_a;
COMMIT;
DROP FUNCTION peek(text);

-- a cursor keeps its snapshot: rows fetched after this transaction changed
-- the role still see the role as it was when the cursor was opened
BEGIN;
DECLARE c CURSOR FOR
	SELECT i, role_cluster.role_enables_task('frontend', 'searchIndexing') AS frontend_indexes
	FROM generate_series(1, 3) AS i;
FETCH 1 FROM c;
UPDATE role_cluster.cluster_role SET tasks = 'DisableAll' WHERE name = 'frontend';
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS now_in_transaction;
FETCH 1 FROM c;
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS again_in_transaction;
FETCH 1 FROM c;
COMMIT;
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS after_commit;

-- parallel workers build their own cache from the leader's snapshot,
-- including this transaction's uncommitted change
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
CREATE TABLE nodes AS
	SELECT i, CASE WHEN i % 3 = 0 THEN 'frontend' WHEN i % 3 = 1 THEN 'maintenance' ELSE 'mx' END AS role
	FROM generate_series(1, 3000) AS i;
ANALYZE nodes;
EXPLAIN (COSTS OFF)
	SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(role, 'searchIndexing')) FROM nodes;
SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(role, 'searchIndexing')) AS indexing_nodes FROM nodes;
BEGIN;
UPDATE role_cluster.cluster_role SET tasks = 'EnableAll' WHERE name = 'frontend';
SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(role, 'searchIndexing')) AS indexing_nodes FROM nodes;
ROLLBACK;
SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(role, 'searchIndexing')) AS indexing_nodes FROM nodes;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
DROP TABLE nodes;

-- once the cache is built, a lookup reads neither table: they are read
-- once per change, not once per lookup
CREATE TEMP VIEW config_scans AS
	SELECT sum(seq_scan + coalesce(idx_scan, 0)) AS n FROM pg_stat_xact_user_tables
	WHERE schemaname = 'role_cluster' AND relname IN ('cluster_role', 'network_listener');
BEGIN;
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS built;
SELECT n AS scans_before FROM config_scans \gset
SELECT count(*) FILTER (WHERE role_cluster.role_enables_task('maintenance', t)) AS tasks_enabled,
	   count(*) FILTER (WHERE role_cluster.role_enables_listener('frontend', 'imap')) AS listener_enabled
	FROM generate_series(1, 100) g, unnest(enum_range(NULL::role_cluster.task_type)) t;
SELECT n - :scans_before AS scans_for_2000_lookups FROM config_scans;
-- (which these counters would see: after a change, the next lookup reads)
UPDATE role_cluster.cluster_role SET description = description WHERE name = 'frontend';
SELECT n AS scans_before FROM config_scans \gset
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing') AS rebuilt;
SELECT n - :scans_before > 0 AS change_read FROM config_scans;
COMMIT;
DROP VIEW config_scans;

-- TRUNCATE
TRUNCATE role_cluster.cluster_role;
SELECT role_cluster.role_exists('frontend') AS frontend_exists;
SELECT array(SELECT role_cluster.role_listeners(NULL)) AS all_listeners;

-- declared STABLE, PARALLEL SAFE, not STRICT
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'role_cluster'::regnamespace
  AND p.proname IN ('role_enables_task', 'role_enables_listener', 'role_tasks',
					'role_listeners', 'role_exists')
ORDER BY 1::text;

-- privileges: nodes and admins may evaluate, PUBLIC may not, and only a
-- superuser may change role_cluster.unknown_role
CREATE ROLE regress_rc_node IN ROLE role_cluster_node;
CREATE ROLE regress_rc_nobody;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('frontend', 'DisableAll');
SET ROLE regress_rc_node;
SELECT role_cluster.role_enables_task('frontend', 'pushNotifications') AS as_node;
SET role_cluster.unknown_role = 'enable_all';
RESET ROLE;
SET ROLE regress_rc_nobody;
SELECT role_cluster.role_enables_task('frontend', 'pushNotifications');
RESET ROLE;
GRANT USAGE ON SCHEMA role_cluster TO regress_rc_nobody;
SET ROLE regress_rc_nobody;
SELECT role_cluster.role_enables_task('frontend', 'pushNotifications');
SELECT role_cluster.role_exists('frontend');
RESET ROLE;
REVOKE USAGE ON SCHEMA role_cluster FROM regress_rc_nobody;
DROP ROLE regress_rc_node;
DROP ROLE regress_rc_nobody;

-- the invalidation trigger works only as an AFTER trigger, and only on the two tables
SELECT role_cluster.role_cache_invalidate();
CREATE TABLE misuse (i int);
CREATE TRIGGER misuse BEFORE INSERT ON misuse
	FOR EACH ROW EXECUTE FUNCTION role_cluster.role_cache_invalidate();
INSERT INTO misuse VALUES (1);
DROP TRIGGER misuse ON misuse;
CREATE TRIGGER misuse AFTER INSERT ON misuse
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.role_cache_invalidate();
INSERT INTO misuse VALUES (1);
DROP TABLE misuse;

-- a recreated extension has new tables: the cache follows them
SELECT role_cluster.role_exists('frontend') AS before_recreate;
SET client_min_messages = warning;
DROP EXTENSION role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
SELECT role_cluster.role_exists('frontend') AS after_recreate;
SELECT role_cluster.role_enables_task('frontend', 'searchIndexing');
