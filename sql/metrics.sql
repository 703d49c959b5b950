-- The statistics views and metrics(): what the views show, the Prometheus
-- text format (HELP and TYPE for every family, label escaping), values equal
-- to the views, metrics() without the worker's counters, privileges.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
DROP ROLE IF EXISTS regress_ops_admin;
DROP ROLE IF EXISTS regress_ops_node;
DROP ROLE IF EXISTS regress_ops_nobody;
RESET client_min_messages;

-- A label value escaped as the text format wants, written independently of
-- role_cluster.metrics_label.
CREATE FUNCTION pg_temp.esc(v text) RETURNS text LANGUAGE sql IMMUTABLE
	RETURN replace(replace(replace(v, '\', '\\'), '"', '\"'), E'\n', '\n');

-- Two push shards; a node whose id and role name need escaping.
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
INSERT INTO role_cluster.cluster_role (name) VALUES (E'r"o\\le');
SELECT (role_cluster.register_node('n1', NULL, 1, 4)).node_id;
SELECT (role_cluster.register_node(E'we"ird\\no\nde', E'r"o\\le', 2, 2)).node_id;
SELECT (role_cluster.register_node('n3', NULL, 2, 4)).node_id;
SELECT (role_cluster.register_node('n4', NULL, 1)).node_id;
SELECT role_cluster.deregister_node('n4') AS handed_back;

-- Tasks in every state: three searchIndexing tasks running on n1, two of
-- them done (one three minutes ago); a storeMaintenance task dead on the
-- weird node; a push task running there, one queued in each shard; an
-- outboundMta task routed to n3, one due, one deferred.
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('searchIndexing', 'a')
	UNION ALL SELECT role_cluster.enqueue('searchIndexing', 'b')
	UNION ALL SELECT role_cluster.enqueue('searchIndexing', 'c')) AS e;
SELECT kind, state, node_id FROM role_cluster.claim_tasks('n1', 3) ORDER BY kind;
SELECT role_cluster.complete_task(id, 'n1') FROM role_cluster.task WHERE kind IN ('a', 'b');
UPDATE role_cluster.task SET finished_at = now() - interval '3 minutes' WHERE kind = 'b';
SELECT role_cluster.enqueue('storeMaintenance', 'd', max_attempts => 1) AS d \gset
SELECT kind FROM role_cluster.claim_tasks(E'we"ird\\no\nde', 1);
SELECT role_cluster.fail_task(:d, E'we"ird\\no\nde', 'failed');
CREATE TEMP TABLE subscribers AS
	SELECT k, role_cluster.shard_for(k, 2) AS shard
	FROM (SELECT 'subscriber' || g AS k FROM generate_series(1, 20) AS g) AS s;
SELECT role_cluster.enqueue('pushNotifications', 'p1', shard_key => (SELECT min(k) FROM subscribers WHERE shard = 2)) > 0 AS p1;
SELECT kind, push_shard FROM role_cluster.claim_tasks(E'we"ird\\no\nde', 1);
SELECT role_cluster.enqueue('pushNotifications', 'p2', shard_key => (SELECT max(k) FROM subscribers WHERE shard = 2)) > 0 AS p2;
SELECT role_cluster.enqueue('pushNotifications', 'p3', shard_key => (SELECT min(k) FROM subscribers WHERE shard = 1)) > 0 AS p3;
SELECT role_cluster.enqueue('outboundMta', 'e', priority => 10) > 0 AS e;
SELECT role_cluster.dispatch(1) AS routed;
SELECT kind, state, node_id, role_cluster.task_fetched(route_seq, node_id) AS fetched FROM role_cluster.task WHERE kind = 'e';
SELECT role_cluster.enqueue('outboundMta', 'f') > 0 AS f,
	   role_cluster.enqueue('outboundMta', 'g', run_at => now() + interval '1 hour') > 0 AS g;
-- n3 stops heartbeating.
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'n3';

-- The views.  Ages depend on the clock, so only their presence shows.
SELECT task_type, queued, due, routed, running, done, dead, oldest_wait IS NOT NULL AS waiting, done_1m, done_5m
	FROM role_cluster.queue_stats;
SELECT node_id, live, free, oldest_held IS NOT NULL AS holding, heartbeat_age < '1 hour' AS recent,
	   done_1m, done_5m
	FROM role_cluster.node_stats;
-- Fetched, a routed task counts as running: its number is now the node's
-- fetch mark.  (n3, which holds it, heartbeats again for this.)
BEGIN;
UPDATE role_cluster.node SET lease_until = now() + interval '1 minute' WHERE node_id = 'n3';
SELECT kind FROM role_cluster.fetch_tasks((SELECT node_id FROM role_cluster.task WHERE kind = 'e'), 1);
SELECT task_type, routed, running FROM role_cluster.queue_stats WHERE task_type = 'outboundMta';
ROLLBACK;
-- A node that holds nothing has no oldest_held, and no sample of it.
BEGIN;
SELECT (role_cluster.register_node('idle', NULL, 1)).node_id;
SELECT free, oldest_held IS NULL AS none_held, heartbeat_age >= interval '0' AS heartbeat_age_set
	FROM role_cluster.node_stats WHERE node_id = 'idle';
SELECT count(*) AS idle_oldest_held_samples
	FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line
	WHERE line LIKE 'role_cluster_node_oldest_held_seconds{node_id="idle"}%';
ROLLBACK;
-- oldest_held is the age of the node's oldest task, not its newest.
-- (n1 holds c, and takes p3 now.)
BEGIN;
SELECT kind FROM role_cluster.claim_tasks('n1', 1);
UPDATE role_cluster.task SET updated_at = now() - interval '1 hour' WHERE kind = 'c';
SELECT free, oldest_held FROM role_cluster.node_stats WHERE node_id = 'n1';
ROLLBACK;
-- Values are printed exactly, whatever extra_float_digits the scraper's
-- session sets (at -15, a float8 would print with one digit).
BEGIN;
SELECT count(role_cluster.enqueue('storeMaintenance', 'float'));
UPDATE role_cluster.task SET created_at = now() - interval '1234567 seconds',
	updated_at = now() - interval '1234567 seconds', run_at = now() - interval '1234567 seconds'
	WHERE kind = 'float';
SET LOCAL extra_float_digits = -15;
SELECT line FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line
	WHERE line LIKE 'role_cluster_task_oldest_wait_seconds{task_type="storeMaintenance"}%';
ROLLBACK;
SELECT * FROM role_cluster.shard_stats;
-- pushNotifications made a singleton type: its tasks take the flag, and
-- the same push tasks are queued and held in each shard.
BEGIN;
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'pushNotifications';
SELECT kind, state, singleton FROM role_cluster.task WHERE task_type = 'pushNotifications' ORDER BY kind;
SELECT shard, queued, held FROM role_cluster.shard_stats;
ROLLBACK;
-- A push node drained to capacity 0 serves its shard no more.
BEGIN;
SELECT shard, live_nodes, node_ids FROM role_cluster.shard_stats;
UPDATE role_cluster.node SET capacity = 0 WHERE node_id = 'n1';
SELECT shard, live_nodes, node_ids FROM role_cluster.shard_stats;
ROLLBACK;
-- Intervals are whole seconds.
SELECT bool_and(date_trunc('second', oldest_wait) = oldest_wait) AS whole_seconds
	FROM role_cluster.queue_stats WHERE oldest_wait IS NOT NULL;
\x
SELECT * FROM role_cluster.queue_stats WHERE task_type = 'storeMaintenance';
\x

-- One scrape, and the views, from one snapshot.
BEGIN ISOLATION LEVEL REPEATABLE READ;
CREATE TEMP TABLE scrape AS
	SELECT l.ord, l.line
	FROM regexp_split_to_table(role_cluster.metrics(), E'\n') WITH ORDINALITY AS l(line, ord);
CREATE TEMP TABLE samples AS
	SELECT ord, line,
		   substring(line FROM '^[a-z0-9_:]+') AS name,
		   coalesce(substring(line FROM '^[a-z0-9_:]+\{(.*)\} [^ ]+$'), '') AS labels,
		   substring(line FROM ' ([^ ]+)$')::float8 AS value
	FROM scrape WHERE line NOT LIKE '#%' AND line <> '';
-- Each figure of the views as (metric, labels, value).
CREATE TEMP TABLE expected AS
	SELECT 'role_cluster_tasks' AS name, format('task_type="%s",state="%s"', task_type, v.state) AS labels, v.n::float8 AS value
		FROM role_cluster.queue_stats q, LATERAL (VALUES ('queued', q.queued), ('routed', q.routed),
			('running', q.running), ('done', q.done), ('dead', q.dead)) AS v(state, n)
	UNION ALL SELECT 'role_cluster_tasks_due', format('task_type="%s"', task_type), due FROM role_cluster.queue_stats
	UNION ALL SELECT 'role_cluster_task_oldest_wait_seconds', format('task_type="%s"', task_type), extract(epoch FROM oldest_wait)
		FROM role_cluster.queue_stats WHERE oldest_wait IS NOT NULL
	UNION ALL SELECT 'role_cluster_tasks_done_1m', format('task_type="%s"', task_type), done_1m FROM role_cluster.queue_stats
	UNION ALL SELECT 'role_cluster_tasks_done_5m', format('task_type="%s"', task_type), done_5m FROM role_cluster.queue_stats
	UNION ALL SELECT 'role_cluster_node_info', format('node_id="%s",role="%s",push_shard="%s"',
			pg_temp.esc(n.node_id), pg_temp.esc(coalesce(n.role, '')), coalesce(n.push_shard::text, '')), 1
		FROM role_cluster.nodes n WHERE n.deregistered_at IS NULL
	UNION ALL SELECT 'role_cluster_node_live', format('node_id="%s"', pg_temp.esc(node_id)), live::integer FROM role_cluster.node_stats
	UNION ALL SELECT 'role_cluster_node_capacity', format('node_id="%s"', pg_temp.esc(node_id)), capacity
		FROM role_cluster.nodes WHERE deregistered_at IS NULL
	UNION ALL SELECT 'role_cluster_node_tasks', format('node_id="%s",state="routed"', pg_temp.esc(node_id)), routed
		FROM role_cluster.nodes WHERE deregistered_at IS NULL
	UNION ALL SELECT 'role_cluster_node_tasks', format('node_id="%s",state="running"', pg_temp.esc(node_id)), running
		FROM role_cluster.nodes WHERE deregistered_at IS NULL
	UNION ALL SELECT 'role_cluster_node_oldest_held_seconds', format('node_id="%s"', pg_temp.esc(node_id)), extract(epoch FROM oldest_held)
		FROM role_cluster.node_stats WHERE oldest_held IS NOT NULL
	UNION ALL SELECT 'role_cluster_node_heartbeat_age_seconds', format('node_id="%s"', pg_temp.esc(node_id)), extract(epoch FROM heartbeat_age)
		FROM role_cluster.node_stats
	UNION ALL SELECT 'role_cluster_node_tasks_done_1m', format('node_id="%s"', pg_temp.esc(node_id)), done_1m FROM role_cluster.node_stats
	UNION ALL SELECT 'role_cluster_node_tasks_done_5m', format('node_id="%s"', pg_temp.esc(node_id)), done_5m FROM role_cluster.node_stats
	UNION ALL SELECT 'role_cluster_push_shards', '', push_shards_total FROM role_cluster.cluster_settings
	UNION ALL SELECT 'role_cluster_push_shard_live_nodes', format('shard="%s"', shard), live_nodes FROM role_cluster.shard_stats
	UNION ALL SELECT 'role_cluster_push_shard_tasks', format('shard="%s",state="queued"', shard), queued FROM role_cluster.shard_stats
	UNION ALL SELECT 'role_cluster_push_shard_tasks', format('shard="%s",state="held"', shard), held FROM role_cluster.shard_stats
	-- nothing holds back cleanup here (the isolation spec cleanup_held_back
	-- and the TAP test 026_audit_slot show the other values)
	UNION ALL SELECT 'role_cluster_cleanup_held_back_seconds', '', 0
	UNION ALL SELECT 'role_cluster_cleanup_held_back_slots', '', 0;
-- Every figure of the views is in the scrape with the same value, and the
-- scrape has no other sample outside the worker's.
SELECT coalesce(e.name, s.name) AS name, coalesce(e.labels, s.labels) AS labels, e.value AS view, s.value AS scraped
	FROM expected e FULL JOIN (SELECT * FROM samples WHERE name NOT LIKE 'role_cluster_worker%') AS s
		ON s.name = e.name AND s.labels = e.labels
	WHERE e.value IS DISTINCT FROM s.value;
SELECT count(*) AS figures FROM expected;
-- The worker's state matches worker_stats (its counters move on their own).
SELECT s.labels = format('state="%s"', pg_temp.esc(w.state)) AS worker_state_matches
	FROM samples s, role_cluster.worker_stats w WHERE s.name = 'role_cluster_worker_state';
COMMIT;

-- The format.  The text ends with a newline and has no empty line.
SELECT right(role_cluster.metrics(), 1) = E'\n' AS ends_with_newline,
	   (SELECT count(*) FROM scrape WHERE line = '') AS empty_lines,
	   (SELECT max(ord) FROM scrape) = (SELECT ord FROM scrape WHERE line = '') AS empty_is_last;
-- Every line is a HELP, a TYPE or a sample: metric and label names valid,
-- label values escaped (no bare quote, backslash or newline), the value a
-- float.
SELECT ord, line FROM scrape
	WHERE line <> ''
	  AND line !~ '^# HELP role_cluster_[a-z0-9_]+ [^\n]+$'
	  AND line !~ '^# TYPE role_cluster_[a-z0-9_]+ (gauge|counter)$'
	  AND line !~ '^role_cluster_[a-z0-9_]+(\{[a-z_]+="([^"\\\n]|\\[\\"n])*"(,[a-z_]+="([^"\\\n]|\\[\\"n])*")*\})? -?[0-9]+(\.[0-9]+)?(e[-+][0-9]+)?$';
-- One HELP and one TYPE per family, HELP first, then its samples, all in
-- one block; counters end in _total and gauges do not.
CREATE TEMP TABLE families AS
	SELECT substring(line FROM '^# TYPE ([a-z0-9_]+)') AS name, substring(line FROM ' ([a-z]+)$') AS kind, ord
	FROM scrape WHERE line LIKE '# TYPE %';
SELECT f.name, count(*) FILTER (WHERE h.line IS NOT NULL) AS helps
	FROM families f LEFT JOIN scrape h ON h.ord = f.ord - 1 AND h.line LIKE '# HELP ' || f.name || ' %'
	GROUP BY f.name HAVING count(*) <> 1 OR count(*) FILTER (WHERE h.line IS NOT NULL) <> 1;
SELECT count(*) AS help_lines FROM scrape WHERE line LIKE '# HELP %';
SELECT name, kind FROM families WHERE (kind = 'counter') <> (name LIKE '%\_total');
-- Each sample belongs to the family of the TYPE line above it.
SELECT s.ord, s.line
	FROM samples s
	WHERE s.name IS DISTINCT FROM (SELECT f.name FROM families f WHERE f.ord < s.ord ORDER BY f.ord DESC LIMIT 1);
-- No two samples with the same name and labels.
SELECT name, labels FROM samples GROUP BY name, labels HAVING count(*) > 1;
-- The families, in order, and their samples (the worker's vary with its
-- progress).
SELECT name, kind, CASE WHEN name NOT LIKE 'role\_cluster\_worker\_%' OR name = 'role_cluster_worker_stats_available'
						THEN (SELECT count(*) FROM samples s WHERE s.name = f.name) END AS samples
	FROM families f ORDER BY ord;

-- The worker works in another database (role_cluster.database), which the
-- metrics say: its figures are that database's.
SELECT line FROM scrape WHERE line LIKE 'role\_cluster\_worker\_serves\_this\_database %';

-- Label escaping: the weird node's id and its role's name.
SELECT line FROM scrape WHERE line LIKE 'role\_cluster\_node\_info%' OR line LIKE 'role\_cluster\_node\_live%' ORDER BY ord;
SELECT role_cluster.metrics_label(E'a"b\\c\nd') AS escaped,
	   role_cluster.metrics_label('') AS empty,
	   role_cluster.metrics_label(NULL) IS NULL AS null_is_null;
-- HELP text is escaped too.
SELECT role_cluster.metrics_family('x', 'gauge', E'a\\b\nc', NULL) AS family;

-- Without the worker's counters (the library not preloaded: worker_stats
-- raises) metrics() still answers, and says so.
BEGIN;
CREATE OR REPLACE FUNCTION role_cluster.worker_stats(
	OUT pid integer, OUT state text, OUT started_at timestamptz, OUT loops bigint, OUT wakeups bigint,
	OUT routed bigint, OUT notified bigint, OUT reclaimed bigint, OUT fired bigint, OUT pruned bigint,
	OUT vacuumed bigint, OUT errors bigint, OUT last_loop_at timestamptz, OUT last_loop_ms double precision,
	OUT avg_loop_ms double precision, OUT max_loop_ms double precision, OUT last_error text,
	OUT last_error_at timestamptz, OUT stats_reset timestamptz)
	LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'role_cluster must be loaded via shared_preload_libraries'
		USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
SELECT line FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line WHERE line LIKE '%worker%';
ROLLBACK;
-- Nor without worker_stats at all.
BEGIN;
ALTER EXTENSION role_cluster DROP VIEW role_cluster.worker_stats;
ALTER EXTENSION role_cluster DROP FUNCTION role_cluster.worker_stats();
DROP VIEW role_cluster.worker_stats;
DROP FUNCTION role_cluster.worker_stats();
SELECT line FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line WHERE line LIKE '%worker%';
ROLLBACK;
-- Other errors of worker_stats are not swallowed.
BEGIN;
CREATE OR REPLACE FUNCTION role_cluster.worker_stats(
	OUT pid integer, OUT state text, OUT started_at timestamptz, OUT loops bigint, OUT wakeups bigint,
	OUT routed bigint, OUT notified bigint, OUT reclaimed bigint, OUT fired bigint, OUT pruned bigint,
	OUT vacuumed bigint, OUT errors bigint, OUT last_loop_at timestamptz, OUT last_loop_ms double precision,
	OUT avg_loop_ms double precision, OUT max_loop_ms double precision, OUT last_error text,
	OUT last_error_at timestamptz, OUT stats_reset timestamptz)
	LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'something else' USING ERRCODE = 'data_corrupted';
END
$$;
\set VERBOSITY terse
SELECT length(role_cluster.metrics()) > 0;
\set VERBOSITY default
ROLLBACK;

-- An empty cluster still has every family's HELP and TYPE.
SELECT count(*) AS help_lines FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line WHERE line LIKE '# HELP %';
TRUNCATE role_cluster.task, role_cluster.node;
SELECT count(*) AS help_lines FROM regexp_split_to_table(role_cluster.metrics(), E'\n') AS line WHERE line LIKE '# HELP %';
SELECT * FROM role_cluster.node_stats;
SELECT * FROM role_cluster.shard_stats;
SELECT task_type, queued, oldest_wait FROM role_cluster.queue_stats WHERE task_type = 'outboundMta';

-- Privileges.  The admin reads everything; a node login reads the views
-- and calls metrics() (for metricsPush); PUBLIC gets nothing.
CREATE ROLE regress_ops_admin LOGIN IN ROLE role_cluster_admin;
CREATE ROLE regress_ops_node LOGIN IN ROLE role_cluster_node;
CREATE ROLE regress_ops_nobody LOGIN;
SELECT (role_cluster.register_node('n1', NULL, 1)).node_id;
SET ROLE regress_ops_admin;
SELECT count(*) AS types FROM role_cluster.queue_stats;
SELECT node_id, live FROM role_cluster.node_stats;
SELECT shard, live_nodes FROM role_cluster.shard_stats;
SELECT length(role_cluster.metrics()) > 0 AS admin_scrapes;
SET ROLE regress_ops_node;
SELECT count(*) AS types FROM role_cluster.queue_stats;
SELECT node_id, live FROM role_cluster.node_stats;
SELECT shard, live_nodes FROM role_cluster.shard_stats;
SELECT length(role_cluster.metrics()) > 0 AS node_scrapes;
SELECT role_cluster.metrics_label('x');
SELECT role_cluster.metrics_family('x', 'gauge', 'x', NULL);
SET ROLE regress_ops_nobody;
SELECT count(*) FROM role_cluster.queue_stats;
SELECT role_cluster.metrics();
RESET ROLE;
SELECT c.relname,
	   has_table_privilege('regress_ops_admin', c.oid, 'SELECT') AS admin,
	   has_table_privilege('regress_ops_node', c.oid, 'SELECT') AS node,
	   has_table_privilege('regress_ops_nobody', c.oid, 'SELECT') AS nobody,
	   has_table_privilege('regress_ops_admin', c.oid, 'INSERT') AS admin_writes
	FROM pg_class c
	WHERE c.oid IN ('role_cluster.queue_stats'::regclass, 'role_cluster.node_stats'::regclass,
					'role_cluster.shard_stats'::regclass)
	ORDER BY c.relname;
SELECT p.oid::regprocedure AS function, p.prosecdef, p.provolatile, p.proconfig,
	   has_function_privilege('regress_ops_admin', p.oid, 'EXECUTE') AS admin,
	   has_function_privilege('regress_ops_node', p.oid, 'EXECUTE') AS node,
	   has_function_privilege('regress_ops_nobody', p.oid, 'EXECUTE') AS nobody
	FROM pg_proc p
	WHERE p.oid IN ('role_cluster.metrics()'::regprocedure,
					'role_cluster.metrics_label(text)'::regprocedure,
					'role_cluster.metrics_family(text, text, text, text)'::regprocedure,
					'role_cluster.node_duties(role_cluster.node)'::regprocedure)
	ORDER BY 1::text;
DROP ROLE regress_ops_admin;
DROP ROLE regress_ops_node;
DROP ROLE regress_ops_nobody;
