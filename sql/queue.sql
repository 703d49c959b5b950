-- The task queue: enqueue (single, batch, dedupe), the routing rule through
-- claim_tasks and dispatch/fetch_tasks, finishing tasks, retries, reclaim,
-- and the policy and settings that change routing.  Each bad call is shown
-- to fail and to change nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
\set SHOW_CONTEXT never

INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('indexer', 'EnableSome(searchIndexing)'),
	('mta', 'EnableSome(outboundMta, spamClassifierTraining)'),
	('pusher', 'EnableSome(pushNotifications)'),
	('nothing', 'DisableAll');

-- A view of the queue for the checks below.
CREATE TEMP VIEW q AS
	SELECT id, task_type, kind, state, node_id, attempts, priority
	FROM role_cluster.task ORDER BY id;

---------------------------------------------------------------------------
-- enqueue
---------------------------------------------------------------------------
SELECT role_cluster.enqueue('searchIndexing') AS a \gset
SELECT task_type, kind, payload, shard_key, push_shard, priority, run_at <= now() AS due,
	   attempts, max_attempts, state, node_id, lease_until, last_error, dedupe_key, singleton,
	   finished_at
	FROM role_cluster.task WHERE id = :a;
SELECT role_cluster.enqueue('outboundMta', kind => 'deliver', payload => '{"to": "x@example.org"}',
							priority => 5, max_attempts => 2) AS b \gset
SELECT kind, payload, priority, max_attempts FROM role_cluster.task WHERE id = :b;
-- A singleton type is flagged from the policy.
SELECT role_cluster.enqueue('spamClassifierTraining') AS s1 \gset
SELECT task_type, singleton FROM role_cluster.task WHERE id = :s1;
-- A push task gets the shard of its subscriber.
SELECT role_cluster.enqueue('pushNotifications', shard_key => 'account-42') AS p \gset
SELECT shard_key, push_shard, push_shard = role_cluster.shard_for('account-42', 1) AS derived
	FROM role_cluster.task WHERE id = :p;

-- A dedupe key that an unfinished task carries returns that task.
SELECT role_cluster.enqueue('metricsCalculate', dedupe_key => 'daily') AS d \gset
SELECT role_cluster.enqueue('metricsCalculate', kind => 'other', dedupe_key => 'daily') = :d AS same_task;
SELECT count(*) AS daily_tasks FROM role_cluster.task WHERE dedupe_key = 'daily';

-- Bad calls, each changing nothing.
SELECT count(*) AS tasks_before FROM role_cluster.task;
SELECT role_cluster.enqueue(NULL);
SELECT role_cluster.enqueue('searchIndexing', kind => NULL);
SELECT role_cluster.enqueue('searchIndexing', payload => NULL);
SELECT role_cluster.enqueue('searchIndexing', run_at => NULL);
SELECT role_cluster.enqueue('searchIndexing', priority => NULL);
SELECT role_cluster.enqueue('searchIndexing', max_attempts => NULL);
SELECT role_cluster.enqueue('searchIndexing', max_attempts => 0);
SELECT role_cluster.enqueue('pushNotifications');
SELECT role_cluster.enqueue('pushNotifications', shard_key => '');
SELECT role_cluster.enqueue('searchIndexing', dedupe_key => '');
-- a dedupe key over 1,024 bytes (its start shown, cut between characters)
SELECT role_cluster.enqueue('searchIndexing', dedupe_key => repeat('€', 342));
SELECT role_cluster.enqueue('searchIndexing', run_at => 'infinity');
SELECT role_cluster.enqueue('searchIndexing', run_at => '-infinity');
SELECT role_cluster.enqueue('noSuchType');
SELECT count(*) AS tasks_after FROM role_cluster.task;

---------------------------------------------------------------------------
-- enqueue_batch
---------------------------------------------------------------------------
SELECT role_cluster.enqueue('accountMaintenance', dedupe_key => 'acct-1') AS acct \gset
CREATE TEMP TABLE batch AS
	SELECT * FROM role_cluster.enqueue_batch('[
		{"task_type": "storeMaintenance", "kind": "purge", "priority": 3},
		{"task_type": "accountMaintenance", "dedupe_key": "acct-1"},
		{"task_type": "metricsPush", "dedupe_key": "twin", "payload": {"n": 1}},
		{"task_type": "metricsPush", "dedupe_key": "twin", "payload": {"n": 2}},
		{"task_type": "pushNotifications", "shard_key": "account-7", "max_attempts": 9},
		{"task_type": "spamClassifierTraining", "run_at": "2999-01-01 00:00:00+00"},
		{"task_type": "taskScheduler", "kind": null, "payload": null, "priority": null}
	]') WITH ORDINALITY AS x(id, pos);
-- Ids in the array's order; the second is the queued task of its key, the
-- fourth the third's twin.
SELECT x.pos, x.id = :acct AS queued_twin, x.id = lag(x.id) OVER (ORDER BY x.pos) AS same_as_previous,
	   t.task_type, t.kind, t.priority, t.payload, t.max_attempts, t.run_at > now() AS deferred,
	   t.push_shard IS NOT NULL AS has_shard, t.singleton
	FROM batch x JOIN role_cluster.task t ON t.id = x.id
	ORDER BY x.pos;
SELECT count(*) AS distinct_ids FROM (SELECT DISTINCT id FROM batch) d;
SELECT role_cluster.enqueue_batch('[]') AS nothing;

SELECT count(*) AS tasks_before FROM role_cluster.task;
SELECT role_cluster.enqueue_batch(NULL);
SELECT role_cluster.enqueue_batch('{"task_type": "searchIndexing"}');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing"}, 42]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "prio": 1}]');
SELECT role_cluster.enqueue_batch('[{"kind": "x"}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "noSuchType"}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "kind": 7}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "priority": "high"}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "priority": 1.5}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": 0}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "run_at": "whenever"}]');
-- (the context says which task's it is)
\set SHOW_CONTEXT always
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing"}, {"task_type": "searchIndexing", "run_at": "whenever"}]');
\set SHOW_CONTEXT never
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "dedupe_key": ""}]');
SELECT role_cluster.enqueue_batch(jsonb_build_array(jsonb_build_object('task_type', 'searchIndexing',
																	   'dedupe_key', repeat('k', 1025))));
\set SHOW_CONTEXT always
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing"}, {"task_type": "searchIndexing", "run_at": "infinity"}]');
\set SHOW_CONTEXT never
SELECT role_cluster.enqueue_batch('[{"task_type": "pushNotifications"}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "pushNotifications", "shard_key": ""}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "shard_key": 5}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "dedupe_key": ["k"]}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "run_at": 1700000000}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": "3"}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": -1}]');
-- beyond an int4, out of range (what an int4 holds is taken: see the end)
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "priority": 2147483648}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "priority": -2147483649}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": 2147483648}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": -2147483649}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "max_attempts": 1.5}]');
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "priority": -0.5}]');
SELECT role_cluster.enqueue_batch('[{"task_type": 7}]');
-- several unknown keys: the first in sort order is named
SELECT role_cluster.enqueue_batch('[{"task_type": "searchIndexing", "zz": 1, "ab": 2, "b": 3}]');
-- a long task is cut at 200 characters in the detail
SELECT role_cluster.enqueue_batch(jsonb_build_array(jsonb_build_object('task_type', 'searchIndexing',
	'kind', 1, 'payload', repeat('x', 300))));
SELECT count(*) AS tasks_after FROM role_cluster.task;

-- The rows enqueue_batch inserts: defaults for what is missing or null,
-- the derived columns (a singleton type, a push task's shard), in order;
-- keys that are not columns are not looked at (check_task_batch refuses
-- them first).
-- (push_shards_total 4 for the while, so that the shard is not 1 anyway)
BEGIN;
UPDATE role_cluster.cluster_settings SET push_shards_total = 4;
SELECT r.pos, r.task_type, r.kind, r.payload, r.shard_key, r.push_shard,
	   r.push_shard = role_cluster.shard_for('account-3', 4) AS shard_of_4,
	   r.run_at = now() AS run_now, r.run_at = '2030-01-01 00:00:00+00' AS run_2030,
	   r.priority, r.max_attempts, r.singleton, r.dedupe_key
	FROM role_cluster.task_batch_rows('[
		{"task_type": "searchIndexing"},
		{"task_type": "pushNotifications", "shard_key": "account-3", "kind": "k", "payload": [1, 2],
		 "run_at": "2030-01-01 00:00:00+00", "priority": -3, "max_attempts": 2, "dedupe_key": "d"},
		{"task_type": "spamClassifierTraining", "payload": "text", "kind": null, "priority": null},
		{"task_type": "searchIndexing", "payload": null, "other": 1},
		{"task_type": "searchIndexing", "payload": 7},
		{"task_type": "searchIndexing", "payload": true},
		{"task_type": "searchIndexing", "payload": {"a": {"b": [1]}}}
	]') AS r;
ROLLBACK;

-- An INSERT that leaves out the derived columns gets them; so does an
-- UPDATE of the type or shard key, once the statement is done (RETURNING
-- shows the row as the UPDATE wrote it).
INSERT INTO role_cluster.task (task_type, kind) VALUES ('spamClassifierTraining', 'direct')
	RETURNING singleton;
INSERT INTO role_cluster.task (task_type, shard_key) VALUES ('pushNotifications', 'account-9')
	RETURNING push_shard = role_cluster.shard_for('account-9', 1) AS derived;
-- a push task needs its shard_key, a shard written by hand too (a new
-- push_shards_total derives the shard from the key again)
INSERT INTO role_cluster.task (task_type, push_shard) VALUES ('pushNotifications', 1);
INSERT INTO role_cluster.task (task_type, shard_key, push_shard) VALUES ('pushNotifications', '', 1);
UPDATE role_cluster.task SET task_type = 'searchIndexing', kind = 'retyped'
	WHERE kind = 'direct' RETURNING singleton;
SELECT singleton FROM role_cluster.task WHERE kind = 'retyped';
UPDATE role_cluster.task SET singleton = true, push_shard = 7 WHERE shard_key = 'account-9';
SELECT singleton, push_shard = role_cluster.shard_for('account-9', 1) AS derived
	FROM role_cluster.task WHERE shard_key = 'account-9';
UPDATE role_cluster.task SET push_shard = 7 WHERE shard_key = 'account-9';
SELECT push_shard = role_cluster.shard_for('account-9', 1) AS derived
	FROM role_cluster.task WHERE shard_key = 'account-9';
-- an INSERT that gives them wrong gets them right too: a singleton type's
-- task cannot escape the unique index, nor a push task its shard
-- (ids given, so the sequence, which later ids show, does not move)
INSERT INTO role_cluster.task (id, task_type, kind, singleton) VALUES
	(900001, 'spamClassifierTraining', 'hand', false), (900002, 'searchIndexing', 'hand', true)
	RETURNING task_type, singleton;
INSERT INTO role_cluster.task (id, task_type, kind, shard_key, push_shard) VALUES
	(900003, 'pushNotifications', 'hand', 'account-9', 7), (900004, 'searchIndexing', 'hand', NULL, 1)
	RETURNING task_type, push_shard IS NOT DISTINCT FROM role_cluster.task_push_shard(task_type, shard_key) AS derived;
DELETE FROM role_cluster.task WHERE kind = 'hand';
-- While check_function_bodies is off (as pg_dump's scripts restore, the
-- tasks before their policy), a singleton flag given stays; the shard is
-- derived all the same.  Writing the type's policy again brings its
-- unfinished tasks in line.
BEGIN;
SET LOCAL check_function_bodies = off;
INSERT INTO role_cluster.task (id, task_type, kind, singleton) VALUES
	(900005, 'spamClassifierTraining', 'restored', false);
INSERT INTO role_cluster.task (id, task_type, kind, shard_key, push_shard) VALUES
	(900006, 'pushNotifications', 'restored', 'account-9', 7);
SELECT task_type, singleton, push_shard IS NOT DISTINCT FROM role_cluster.task_push_shard(task_type, shard_key) AS derived
	FROM role_cluster.task WHERE kind = 'restored' ORDER BY id;
UPDATE role_cluster.task_policy SET singleton = singleton WHERE task_type = 'spamClassifierTraining';
SELECT singleton FROM role_cluster.task WHERE id = 900005;
ROLLBACK;
SELECT role_cluster.task_singleton('spamClassifierTraining') AS spam,
	   role_cluster.task_singleton('searchIndexing') AS indexing,
	   role_cluster.task_push_shard('searchIndexing', 'account-9') AS not_push,
	   role_cluster.task_push_shard('pushNotifications', 'account-9') = role_cluster.shard_for('account-9', 1) AS push,
	   role_cluster.task_push_shard(NULL, 'account-9') IS NULL AS no_type,
	   role_cluster.push_shards_total() AS total;
-- node_session_alive: this session with its start time; a wrong start
-- time (a reused pid); a pid no session has
SELECT role_cluster.node_session_alive(pg_backend_pid(), a.backend_start) AS this_session,
	   role_cluster.node_session_alive(pg_backend_pid(), a.backend_start - interval '1 second') AS reused_pid,
	   role_cluster.node_session_alive(0, a.backend_start) AS no_session
	FROM pg_stat_activity a WHERE a.pid = pg_backend_pid();
\set VERBOSITY terse
INSERT INTO role_cluster.task (task_type) VALUES ('pushNotifications');
INSERT INTO role_cluster.task (task_type, shard_key) VALUES ('pushNotifications', '');
UPDATE role_cluster.task SET shard_key = NULL WHERE shard_key = 'account-9';
SELECT role_cluster.task_push_shard('pushNotifications', NULL);
-- enqueue_batch checks the array is one before it calls check_task_batch
SELECT role_cluster.check_task_batch('{"task_type": "searchIndexing"}');
-- task_batch_rows, which check_task_batch's check precedes in
-- enqueue_batch, raises the same errors for what it cannot read
SELECT role_cluster.task_batch_rows('{"task_type": "searchIndexing"}');
SELECT role_cluster.task_batch_rows('[[]]');
SELECT role_cluster.task_batch_rows('[{"kind": "no type"}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "nosuchType"}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "kind": 1}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "run_at": 1}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "priority": 1.5}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "priority": 2147483648}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "max_attempts": 0}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "pushNotifications", "shard_key": ""}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "pushNotifications", "shard_key": null}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "shard_key": 5}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "dedupe_key": ["k"]}]');
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing", "priority": "1"}]');
-- a settings row deleted behind the triggers' back
BEGIN;
ALTER TABLE role_cluster.cluster_settings DISABLE TRIGGER cluster_settings_before_delete;
DELETE FROM role_cluster.cluster_settings;
SELECT role_cluster.push_shards_total();
ROLLBACK;
-- task_derive() is a BEFORE INSERT row trigger and nothing else
CREATE TABLE derive_misused (task_type role_cluster.task_type);
CREATE TRIGGER misused AFTER INSERT ON derive_misused
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_derive();
INSERT INTO derive_misused VALUES ('searchIndexing');
DROP TABLE derive_misused;
SELECT role_cluster.task_derive();
\set VERBOSITY default
DELETE FROM role_cluster.task;

---------------------------------------------------------------------------
-- claim_tasks: the routing rule for a node that pulls
---------------------------------------------------------------------------
SELECT count(*) AS registered FROM (VALUES ('idx'), ('mta'), ('all'), ('none')) v(n),
	LATERAL role_cluster.register_node(v.n, CASE v.n WHEN 'idx' THEN 'indexer' WHEN 'mta' THEN 'mta'
		WHEN 'none' THEN 'nothing' END, NULL, CASE v.n WHEN 'all' THEN 3 END) AS r;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "searchIndexing", "kind": "i1"},
	{"task_type": "searchIndexing", "kind": "i2", "priority": 10},
	{"task_type": "outboundMta", "kind": "m1"},
	{"task_type": "searchIndexing", "kind": "i3", "run_at": "2999-01-01 00:00:00+00"},
	{"task_type": "outboundMta", "kind": "m2", "priority": -1},
	{"task_type": "storeMaintenance", "kind": "s1"},
	{"task_type": "storeMaintenance", "kind": "s2"},
	{"task_type": "storeMaintenance", "kind": "s3"},
	{"task_type": "storeMaintenance", "kind": "s4"}
]');
-- A role that enables nothing gets nothing.
SELECT kind FROM role_cluster.claim_tasks('none', 10);
-- Only the types its role enables, due ones, higher priority first.
SELECT kind, state, node_id, attempts, lease_until IS NOT NULL AS leased
	FROM role_cluster.claim_tasks('idx', 10);
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
SELECT kind FROM role_cluster.claim_tasks('mta');
SELECT kind FROM role_cluster.claim_tasks('mta', 5);
-- Capacity: 'all' holds at most 3.
SELECT kind FROM role_cluster.claim_tasks('all', 10);
SELECT kind FROM role_cluster.claim_tasks('all', 10);
SELECT kind, state, node_id FROM q WHERE state = 'queued';
-- n = 0 claims nothing.
SELECT kind FROM role_cluster.claim_tasks('all', 0);
-- Bad calls.
SELECT role_cluster.claim_tasks('all', -1);
SELECT role_cluster.claim_tasks('all', NULL);
SELECT role_cluster.claim_tasks(NULL, 1);
SELECT role_cluster.claim_tasks('nobody-here', 1);
-- Only in READ COMMITTED.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.claim_tasks('all', 1);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT role_cluster.dispatch();
ROLLBACK;
-- so are a heartbeat and a registration: under an older snapshot they
-- would neither hold nor extend a task handed out since
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.heartbeat('all');
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT role_cluster.register_node('all');
ROLLBACK;
-- A registration counts its lease from the clock, not from its
-- transaction's start: one made a second and more into its transaction,
-- with a one-second lease, still holds a lease.
BEGIN;
SET LOCAL role_cluster.node_lease = '1s';
SELECT pg_sleep(1.1);
SELECT lease_until > clock_timestamp() AS lease_ahead,
	   last_heartbeat > now() AS counted_from_clock
	FROM role_cluster.register_node('late-starter');
ROLLBACK;
-- A role deleted under a node: its own claims say so.
UPDATE role_cluster.node SET role_name = 'gone' WHERE node_id = 'none';
SELECT role_cluster.claim_tasks('none', 1);
UPDATE role_cluster.node SET role_name = 'nothing' WHERE node_id = 'none';

---------------------------------------------------------------------------
-- Finishing: complete, fail, release
---------------------------------------------------------------------------
SELECT id AS i2 FROM role_cluster.task WHERE kind = 'i2' \gset
SELECT id AS i1 FROM role_cluster.task WHERE kind = 'i1' \gset
SELECT id AS m1 FROM role_cluster.task WHERE kind = 'm1' \gset
SELECT id AS s1 FROM role_cluster.task WHERE kind = 's1' \gset
SELECT id AS s4 FROM role_cluster.task WHERE kind = 's4' \gset
SELECT role_cluster.complete_task(:i2, 'idx');
SELECT state, node_id, lease_until, finished_at IS NOT NULL AS finished FROM role_cluster.task WHERE id = :i2;
-- Not the holder, not running, not there, bad arguments.
SELECT role_cluster.complete_task(:i2, 'idx');
SELECT role_cluster.complete_task(:i1, 'mta');
SELECT role_cluster.complete_task(:s4, 'all');
SELECT role_cluster.complete_task(-1, 'idx');
SELECT role_cluster.complete_task(NULL, 'idx');
SELECT role_cluster.complete_task(:i1, NULL);
SELECT role_cluster.complete_task(:i1, 'nobody-here');
SELECT state, node_id FROM role_cluster.task WHERE id = :i1;
-- The batch form completes what the node holds and says which.
SELECT c = :i1 AS i1 FROM role_cluster.complete_tasks(ARRAY[:i1, :i2, :m1, -1]::bigint[], 'idx') AS c;
SELECT state FROM role_cluster.task WHERE id = :i1;
SELECT count(*) FROM role_cluster.complete_tasks('{}', 'idx');
SELECT role_cluster.complete_tasks(NULL, 'idx');
SELECT role_cluster.complete_tasks('{{1,2},{3,4}}', 'idx');
SELECT role_cluster.complete_tasks('{1, NULL}', 'idx');
SELECT role_cluster.complete_tasks('{1}', NULL);
SELECT role_cluster.complete_tasks('{1}', 'nobody-here');

-- A failure is retried after a backoff with jitter: attempt 1 waits
-- between half and all of retry_backoff_base (2 s).
SELECT role_cluster.fail_task(:m1, 'mta', 'smtp timeout');
SELECT state, node_id, attempts, last_error, lease_until,
	   run_at - updated_at BETWEEN interval '1 second' AND interval '2 seconds' AS backoff
	FROM role_cluster.task WHERE id = :m1;
-- Not due yet, so nobody gets it.
SELECT kind FROM role_cluster.claim_tasks('mta', 5);
-- Due again: attempt 2 fails, after max_attempts (2 here) it is dead.
UPDATE role_cluster.task SET run_at = now(), max_attempts = 2 WHERE id = :m1;
SELECT kind, attempts FROM role_cluster.claim_tasks('mta', 5);
SELECT role_cluster.fail_task(:m1, 'mta', 'mailbox gone');
SELECT state, node_id, attempts, last_error, finished_at IS NOT NULL AS finished
	FROM role_cluster.task WHERE id = :m1;
-- The delay doubles per attempt and stops at retry_backoff_max.
UPDATE role_cluster.cluster_settings SET retry_backoff_base = '10 seconds', retry_backoff_max = '25 seconds';
SELECT role_cluster.enqueue('outboundMta', kind => 'm3', max_attempts => 9) AS m3 \gset
SELECT attempts FROM role_cluster.claim_tasks('mta', 1);
SELECT role_cluster.fail_task(:m3, 'mta', 'try 1');
SELECT run_at - updated_at BETWEEN least(interval '10 seconds' * 1, interval '25 seconds') / 2
							AND least(interval '10 seconds' * 1, interval '25 seconds') AS in_range
	FROM role_cluster.task WHERE id = :m3;
UPDATE role_cluster.task SET run_at = now() WHERE id = :m3;
SELECT attempts FROM role_cluster.claim_tasks('mta', 1);
SELECT role_cluster.fail_task(:m3, 'mta', 'try 2');
SELECT run_at - updated_at BETWEEN least(interval '10 seconds' * 2, interval '25 seconds') / 2
							AND least(interval '10 seconds' * 2, interval '25 seconds') AS in_range
	FROM role_cluster.task WHERE id = :m3;
UPDATE role_cluster.task SET run_at = now() WHERE id = :m3;
SELECT attempts FROM role_cluster.claim_tasks('mta', 1);
SELECT role_cluster.fail_task(:m3, 'mta', 'try 3');
SELECT run_at - updated_at BETWEEN least(interval '10 seconds' * 4, interval '25 seconds') / 2
							AND least(interval '10 seconds' * 4, interval '25 seconds') AS in_range
	FROM role_cluster.task WHERE id = :m3;
UPDATE role_cluster.task SET run_at = now() WHERE id = :m3;
SELECT attempts FROM role_cluster.claim_tasks('mta', 1);
SELECT role_cluster.fail_task(:m3, 'mta', 'try 4');
SELECT run_at - updated_at BETWEEN least(interval '10 seconds' * 8, interval '25 seconds') / 2
							AND least(interval '10 seconds' * 8, interval '25 seconds') AS in_range
	FROM role_cluster.task WHERE id = :m3;
UPDATE role_cluster.task SET run_at = now() WHERE id = :m3;
-- Doubled past the cap, the delay is the cap: a base of a day on the 40th
-- attempt (2^39 days) fails the task, not the call.
UPDATE role_cluster.cluster_settings SET retry_backoff_base = '1 day', retry_backoff_max = '30 days';
UPDATE role_cluster.task SET attempts = 39, max_attempts = 100 WHERE id = :m3;
SELECT attempts FROM role_cluster.claim_tasks('mta', 1);
SELECT role_cluster.fail_task(:m3, 'mta', 'try 40');
SELECT run_at - updated_at BETWEEN interval '15 days' AND interval '30 days' AS capped
	FROM role_cluster.task WHERE id = :m3;
UPDATE role_cluster.task SET run_at = now(), attempts = 4, max_attempts = 9 WHERE id = :m3;
UPDATE role_cluster.cluster_settings SET retry_backoff_base = '2 seconds', retry_backoff_max = '1 hour';
SELECT role_cluster.fail_task(:m3, 'mta', 'not running');
SELECT role_cluster.fail_task(:m3, 'mta', NULL);
SELECT role_cluster.fail_task(:m3, 'mta', '');
SELECT role_cluster.fail_task(NULL, 'mta', 'x');
SELECT role_cluster.fail_task(:m3, NULL, 'x');

-- The jitter spreads retries: twenty tasks failing at once on their first
-- attempt wait between half and all of a 10 s base, not all the same time.
BEGIN;
UPDATE role_cluster.cluster_settings SET retry_backoff_base = '10 seconds';
UPDATE role_cluster.node SET capacity = 100 WHERE node_id = 'mta';
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch((
	SELECT jsonb_agg(jsonb_build_object('task_type', 'outboundMta', 'kind', 'jitter'))
	FROM generate_series(1, 20)));
SELECT count(*) FILTER (WHERE kind = 'jitter') AS claimed FROM role_cluster.claim_tasks('mta', 100);
SELECT count(role_cluster.fail_task(id, 'mta', 'busy')) AS failed
	FROM role_cluster.task WHERE kind = 'jitter';
SELECT min(run_at - updated_at) >= interval '5 seconds' AS at_least_half,
	   max(run_at - updated_at) <= interval '10 seconds' AS at_most_base,
	   count(DISTINCT run_at - updated_at) >= 10 AS spread
	FROM role_cluster.task WHERE kind = 'jitter';
ROLLBACK;

-- Releasing hands a task back unrun: no attempt counted.
SELECT state, node_id, attempts FROM role_cluster.task WHERE id = :s1;
SELECT role_cluster.release_task(:s1, 'all');
SELECT state, node_id, attempts FROM role_cluster.task WHERE id = :s1;
SELECT role_cluster.release_task(:s1, 'all');
SELECT role_cluster.release_task(:s4, 'mta');
SELECT role_cluster.release_task(NULL, 'all');
SELECT role_cluster.release_task(:s4, NULL);
SELECT role_cluster.release_task(-1, 'all');

---------------------------------------------------------------------------
-- Singletons
---------------------------------------------------------------------------
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "spamClassifierTraining", "kind": "t1"},
	{"task_type": "spamClassifierTraining", "kind": "t2"},
	{"task_type": "outboundMta", "kind": "m1"}
]');
-- Two spam trainings queued, one handed out at a time, cluster-wide.
SELECT kind FROM role_cluster.claim_tasks('mta', 5);
SELECT kind FROM role_cluster.claim_tasks('all', 3);
SELECT role_cluster.complete_task(id, 'mta') FROM role_cluster.task WHERE kind = 't1';
SELECT kind FROM role_cluster.claim_tasks('all', 3);
-- The database itself refuses a second one.
UPDATE role_cluster.task SET state = 'running', node_id = 'mta', lease_until = now() + interval '1 minute',
	finished_at = NULL WHERE kind = 't1';
-- A singleton ranks with the others: with room for one task, a higher
-- priority task goes first.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "spamClassifierTraining", "kind": "low"},
	{"task_type": "outboundMta", "kind": "high", "priority": 1}
]');
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
-- At the same priority the earlier goes first, singleton or not.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "outboundMta", "kind": "first", "run_at": "2000-01-01 00:00:00+00"},
	{"task_type": "spamClassifierTraining", "kind": "second", "run_at": "2000-01-01 00:00:01+00"},
	{"task_type": "outboundMta", "kind": "third", "run_at": "2000-01-01 00:00:02+00"}
]');
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
SELECT kind FROM role_cluster.claim_tasks('mta', 1);
-- Of a singleton type's queued tasks, the one of the highest priority is
-- handed out, though queued later (and none other while it runs).
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "spamClassifierTraining", "kind": "low", "run_at": "2000-01-01 00:00:00+00"},
	{"task_type": "spamClassifierTraining", "kind": "high", "priority": 5, "run_at": "2000-01-01 00:00:01+00"}
]');
SELECT kind FROM role_cluster.claim_tasks('mta', 5);
-- A singleton not due yet waits, as any task does.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "spamClassifierTraining", "kind": "later", "run_at": "2999-01-01 00:00:00+00"}
]');
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('mta', 5);
-- The room is shared across priorities: with room for three, the two of
-- the highest priority, then the first of the next, and no more.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "outboundMta", "kind": "h1", "priority": 2},
	{"task_type": "outboundMta", "kind": "h2", "priority": 2},
	{"task_type": "outboundMta", "kind": "m1", "priority": 1, "run_at": "2000-01-01 00:00:00+00"},
	{"task_type": "outboundMta", "kind": "m2", "priority": 1, "run_at": "2000-01-01 00:00:01+00"},
	{"task_type": "outboundMta", "kind": "l1"}
]');
SELECT kind FROM role_cluster.claim_tasks('mta', 3);
-- Capacity holds while a singleton waits too: 'all' (capacity 3) takes
-- the first training and a mail, then only one more mail, then nothing;
-- the second training waits for the first.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "spamClassifierTraining", "kind": "t1", "run_at": "2000-01-01 00:00:00+00"},
	{"task_type": "spamClassifierTraining", "kind": "t2", "run_at": "2000-01-01 00:00:01+00"},
	{"task_type": "outboundMta", "kind": "c1", "run_at": "2000-01-01 00:00:02+00"},
	{"task_type": "outboundMta", "kind": "c2", "run_at": "2000-01-01 00:00:03+00"},
	{"task_type": "outboundMta", "kind": "c3", "run_at": "2000-01-01 00:00:04+00"},
	{"task_type": "outboundMta", "kind": "c4", "run_at": "2000-01-01 00:00:05+00"}
]');
SELECT kind FROM role_cluster.claim_tasks('all', 2);
SELECT kind FROM role_cluster.claim_tasks('all', 5);
SELECT kind FROM role_cluster.claim_tasks('all', 5);
SELECT capacity, held FROM role_cluster.nodes WHERE node_id = 'all';
SELECT kind, state FROM q WHERE state = 'queued';

-- Making a type a singleton reaches its unfinished tasks in the same
-- transaction; with two of them running it is refused.
DELETE FROM role_cluster.task;
SELECT count(*) FROM role_cluster.enqueue_batch('[{"task_type": "outboundMta"}, {"task_type": "outboundMta"}]');
BEGIN;
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'outboundMta';
SELECT singleton, count(*) FROM role_cluster.task GROUP BY singleton;
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('mta', 5);
ROLLBACK;
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('mta', 5);
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'outboundMta';
SELECT singleton FROM role_cluster.task_policy WHERE task_type = 'outboundMta';
-- A policy change rolled back to a savepoint leaves the transaction's new
-- tasks the policy it read before the change, not the one read under it.
BEGIN;
SELECT role_cluster.enqueue('searchIndexing', 'sp1') IS NOT NULL AS enqueued;
SAVEPOINT before_change;
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
SELECT role_cluster.enqueue('searchIndexing', 'sp2') IS NOT NULL AS enqueued;
SELECT kind, singleton FROM role_cluster.task WHERE kind = 'sp2';
ROLLBACK TO before_change;
SELECT role_cluster.enqueue('searchIndexing', 'sp3') IS NOT NULL AS enqueued;
SELECT kind, singleton FROM role_cluster.task WHERE kind LIKE 'sp_' ORDER BY kind;
ROLLBACK;
-- A type's row deleted behind the triggers' back and inserted again: the
-- INSERT reaches the type's unfinished tasks as an UPDATE does.
BEGIN;
ALTER TABLE role_cluster.task_policy DISABLE TRIGGER task_policy_before_change;
DELETE FROM role_cluster.task_policy WHERE task_type = 'searchIndexing';
ALTER TABLE role_cluster.task_policy ENABLE TRIGGER task_policy_before_change;
SELECT role_cluster.enqueue('searchIndexing', 'gone') IS NOT NULL AS enqueued;
SELECT kind, singleton FROM role_cluster.task WHERE kind = 'gone';
INSERT INTO role_cluster.task_policy VALUES ('searchIndexing', true);
SELECT kind, singleton FROM role_cluster.task WHERE kind = 'gone';
ROLLBACK;
-- The policy keeps one row per type: an INSERT replaces it, DELETE and
-- TRUNCATE are refused, the type cannot change.
INSERT INTO role_cluster.task_policy VALUES ('spamClassifierTraining', false);
SELECT task_type, singleton FROM role_cluster.task_policy WHERE singleton OR task_type = 'spamClassifierTraining';
INSERT INTO role_cluster.task_policy VALUES ('spamClassifierTraining', true);
-- A change the unfinished tasks take on, outside READ COMMITTED, goes
-- through when it missed no task enqueued after its snapshot (the
-- isolation spec config_change_race shows one that did: 40001); an INSERT
-- replaces the row, as a restore does.
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE role_cluster.cluster_settings SET push_shards_total = 3;
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
SELECT push_shards_total FROM role_cluster.cluster_settings;
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
INSERT INTO role_cluster.task_policy (task_type, singleton) VALUES ('metricsPush', true);
INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (3);
SELECT singleton FROM role_cluster.task_policy WHERE task_type = 'metricsPush';
SELECT push_shards_total FROM role_cluster.cluster_settings;
ROLLBACK;
-- other settings, or the same total, reach no task: any isolation will do
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE role_cluster.cluster_settings SET push_shards_total = push_shards_total, default_capacity = 17;
SELECT default_capacity FROM role_cluster.cluster_settings;
ROLLBACK;
DELETE FROM role_cluster.task_policy WHERE task_type = 'metricsPush';
TRUNCATE role_cluster.task_policy;
UPDATE role_cluster.task_policy SET task_type = 'metricsPush' WHERE task_type = 'taskScheduler';
SELECT count(*) AS policies FROM role_cluster.task_policy;

---------------------------------------------------------------------------
-- Push shards
---------------------------------------------------------------------------
DELETE FROM role_cluster.task;
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT node_id, push_shard FROM role_cluster.register_node('push1', 'pusher', 1, 100);
SELECT node_id, push_shard FROM role_cluster.register_node('push2', 'pusher', 2, 100);
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('pushNotifications', shard_key => 'account-' || i)
	FROM generate_series(1, 40) i) e;
SELECT count(*) > 0 AS some_in_1, count(*) < 40 AS some_in_2
	FROM role_cluster.task WHERE push_shard = 1;
-- Each node gets exactly its shard's tasks.
SELECT count(*) = (SELECT count(*) FROM role_cluster.task WHERE push_shard = 1) AS all_of_shard_1
	FROM role_cluster.claim_tasks('push1', 100) c WHERE c.push_shard = 1;
SELECT count(*) = (SELECT count(*) FROM role_cluster.task WHERE push_shard = 2) AS all_of_shard_2
	FROM role_cluster.claim_tasks('push2', 100) c WHERE c.push_shard = 2;
SELECT count(*) AS misrouted FROM role_cluster.task t JOIN role_cluster.node n USING (node_id)
	WHERE t.push_shard IS DISTINCT FROM n.push_shard;
-- A new push_shards_total re-shards the queued push tasks in the same
-- transaction.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('pushNotifications', shard_key => 'account-' || i)
	FROM generate_series(1, 40) i) e;
BEGIN;
UPDATE role_cluster.cluster_settings SET push_shards_total = 3;
SELECT count(*) FILTER (WHERE push_shard = role_cluster.shard_for(shard_key, 3)) AS resharded,
	   count(*) FILTER (WHERE push_shard = 3) > 0 AS some_in_3
	FROM role_cluster.task;
ROLLBACK;
SELECT count(*) FILTER (WHERE push_shard = role_cluster.shard_for(shard_key, 2)) AS as_before
	FROM role_cluster.task;
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
SELECT count(*) FILTER (WHERE push_shard = 1) AS all_in_1 FROM role_cluster.task;
-- Nodes registered with shards 1 and 2 now: push1 gets them all.
SELECT count(*) AS push2_gets FROM role_cluster.claim_tasks('push2', 100);
SELECT count(*) AS push1_gets FROM role_cluster.claim_tasks('push1', 100);
-- Running ones stay with their node, but take the new shard, which a retry
-- is routed by.
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT count(*) AS running, count(*) FILTER (WHERE node_id = 'push1') AS on_push1,
	   count(*) FILTER (WHERE push_shard = role_cluster.shard_for(shard_key, 2)) AS resharded,
	   count(*) FILTER (WHERE push_shard = 2) > 0 AS some_in_2
	FROM role_cluster.task WHERE state = 'running';
SELECT role_cluster.fail_task(id, 'push1', 'retry elsewhere') AS retried FROM role_cluster.task
	WHERE push_shard = 2 ORDER BY id LIMIT 1;
UPDATE role_cluster.task SET run_at = now() WHERE state = 'queued';
SELECT count(*) AS push1_gets_the_retry FROM role_cluster.claim_tasks('push1', 100);
SELECT count(*) AS push2_gets_the_retry FROM role_cluster.claim_tasks('push2', 100);
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
-- Routed push tasks not yet fetched whose shard changes go back to the
-- queue, their attempt given back; fetched ones stay with their node.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('pushNotifications', shard_key => 'account-' || i)
	FROM generate_series(1, 12) i) e;
SELECT role_cluster.dispatch() AS routed;
SELECT count(*) AS fetched FROM role_cluster.fetch_tasks('push1', 4);
SELECT count(*) FILTER (WHERE role_cluster.shard_for(shard_key, 2) <> 1) AS will_move FROM role_cluster.task
	WHERE state = 'running' AND NOT role_cluster.task_fetched(route_seq, node_id);
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT state, node_id, role_cluster.task_fetched(route_seq, node_id) AS fetched, attempts, count(*)
	FROM role_cluster.task GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
-- A node without a push shard serves shard 1 while there is one shard.
-- When there are more, it serves none: the routed push tasks it has not
-- fetched are not its any more, their shard changed or not, and its next
-- fetch sends them back (their attempt given back).
DELETE FROM role_cluster.task;
BEGIN;
SELECT role_cluster.deregister_node(n) FROM unnest('{push1, push2}'::text[]) n;
SELECT node_id, push_shard FROM role_cluster.register_node('push0', 'pusher', NULL, 100);
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('pushNotifications', shard_key => 'account-' || i)
	FROM generate_series(1, 12) i) e;
SELECT role_cluster.dispatch() AS routed;
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT state, node_id, push_shard, attempts, count(*)
	FROM role_cluster.task GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT count(*) AS push0_fetches FROM role_cluster.fetch_tasks('push0', 100);
SELECT count(*) AS all_fetches FROM role_cluster.fetch_tasks('all', 100);
SELECT state, node_id, push_shard, attempts, count(*)
	FROM role_cluster.task GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
SELECT node_id, held FROM role_cluster.nodes WHERE node_id = 'push0';
SELECT role_cluster.routes_to('pushNotifications', 1, '{pushNotifications}', NULL) AS shardless_node;
-- Claiming, such a node reads the shard total at the first push task it
-- meets: it takes none of them while there are two shards, and all of
-- them once there is one.
SELECT count(*) AS queued_push FROM role_cluster.task WHERE state = 'queued';
SELECT count(*) AS push0_claims FROM role_cluster.claim_tasks('push0', 100);
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
SELECT count(*) AS push0_claims_one_shard FROM role_cluster.claim_tasks('push0', 100);
ROLLBACK;

---------------------------------------------------------------------------
-- dispatch and fetch_tasks
---------------------------------------------------------------------------
DELETE FROM role_cluster.task;
SELECT role_cluster.deregister_node(n) FROM unnest('{push1, push2, none}'::text[]) n;
UPDATE role_cluster.node SET capacity = 4;
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue(CASE WHEN i % 3 = 0 THEN 'searchIndexing'
								ELSE 'storeMaintenance' END::role_cluster.task_type, kind => 'k' || i)
	FROM generate_series(1, 12) i) e;
-- A routed task is running, but not fetched yet: its route_seq is above
-- its node's fetch mark.  "stage" tells the two apart.
CREATE TEMP VIEW task_stage AS
	SELECT t.*, CASE WHEN t.state = 'running' AND NOT role_cluster.task_fetched(t.route_seq, t.node_id)
					 THEN 'routed' ELSE t.state::text END AS stage
	FROM role_cluster.task t;
-- Least-loaded first, within capacity, each task to a node that may run it.
SELECT role_cluster.dispatch(0) AS routed_none;
SELECT role_cluster.dispatch(6) AS routed;
SELECT node_id, count(*) FROM task_stage WHERE stage = 'routed' GROUP BY node_id ORDER BY node_id;
SELECT role_cluster.dispatch(2147483647) AS routed;	-- the largest batch, shared without overflow
SELECT node_id, task_type, count(*) FROM task_stage WHERE stage = 'routed'
	GROUP BY node_id, task_type ORDER BY node_id, task_type;
SELECT count(*) AS still_queued FROM role_cluster.task WHERE state = 'queued';
SELECT role_cluster.dispatch() AS nothing_more;
SELECT role_cluster.dispatch(-1);
SELECT role_cluster.dispatch(NULL);
-- A node takes what was routed to it, oldest routing first.  Fetching
-- moves its fetch mark and leaves the tasks' rows as they were.
CREATE TEMP TABLE idx_rows AS
	SELECT id, xmin::text AS version, route_seq FROM role_cluster.task WHERE node_id = 'idx';
SELECT state, attempts FROM role_cluster.fetch_tasks('idx', 1);
SELECT f.fetched = (SELECT min(route_seq) FROM idx_rows) AS mark_at_oldest
	FROM role_cluster.node_fetch f WHERE f.node_id = 'idx';
SELECT state, count(*) FROM role_cluster.fetch_tasks('idx') GROUP BY state;
SELECT f.fetched = (SELECT max(route_seq) FROM idx_rows) AS mark_at_newest
	FROM role_cluster.node_fetch f WHERE f.node_id = 'idx';
SELECT count(*) AS fetched, count(*) FILTER (WHERE t.xmin::text = r.version) AS rows_unwritten
	FROM idx_rows r JOIN role_cluster.task t USING (id) WHERE t.state = 'running';
SELECT count(*) FROM role_cluster.fetch_tasks('idx');
SELECT count(*) FROM role_cluster.fetch_tasks('idx', 0);
SELECT role_cluster.fetch_tasks('idx', -1);
SELECT role_cluster.fetch_tasks('idx', NULL);
SELECT role_cluster.fetch_tasks(NULL);
SELECT role_cluster.fetch_tasks('nobody-here');
-- Completing a routed task that was not fetched is refused, and another
-- node is told where the task is.
SELECT role_cluster.complete_task(id, 'all') FROM task_stage
	WHERE node_id = 'all' AND stage = 'routed' ORDER BY id LIMIT 1;
SELECT role_cluster.fail_task(id, 'idx', 'not mine') FROM task_stage
	WHERE node_id = 'all' AND stage = 'routed' ORDER BY id LIMIT 1;
-- Its own node may not fail it either, nor complete it in a batch (which
-- skips it), before fetching it.
SELECT role_cluster.fail_task(id, 'all', 'not fetched') FROM task_stage
	WHERE node_id = 'all' AND stage = 'routed' ORDER BY id LIMIT 1;
SELECT count(*) AS completed FROM role_cluster.complete_tasks(
	ARRAY(SELECT id FROM task_stage WHERE node_id = 'all' AND stage = 'routed'), 'all');
-- Registering again with another role sends back at once the routed tasks
-- it no longer enables, their attempt given back (never started).
SELECT count(*) AS all_routed FROM task_stage WHERE node_id = 'all' AND stage = 'routed';
SELECT node_id FROM role_cluster.register_node('all', 'indexer', NULL, 4);
SELECT stage, attempts, count(*) FROM task_stage WHERE task_type = 'storeMaintenance'
	GROUP BY stage, attempts ORDER BY stage, attempts;
-- With the same role, it keeps them, push tasks included: with one shard,
-- a node registered without a shard serves it.
BEGIN;
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
DELETE FROM role_cluster.task;
SELECT role_cluster.enqueue('pushNotifications', shard_key => 'alice') AS pt \gset
SELECT node_id, push_shard FROM role_cluster.register_node('all', NULL, NULL, 4);
SELECT count(*) AS routed FROM role_cluster.hand_out_tasks('all', 1, false);
SELECT node_id FROM role_cluster.register_node('all', NULL, NULL, 4);
SELECT node_id, stage, attempts FROM task_stage WHERE id = :pt;
ROLLBACK;
-- A role changed while tasks wait: a node gets none of a type its role no
-- longer enables; routed ones go back to the queue when it fetches.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch(
	'[{"task_type": "outboundMta"}, {"task_type": "outboundMta"}]');
SELECT role_cluster.dispatch() AS routed;
SELECT node_id, stage, count(*) FROM task_stage GROUP BY node_id, stage;
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(spamClassifierTraining)' WHERE name = 'mta';
SELECT count(*) AS fetched FROM role_cluster.fetch_tasks('mta');
SELECT node_id, stage, count(*) FROM task_stage GROUP BY node_id, stage;
SELECT role_cluster.dispatch() AS routed;
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('mta', 5);
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(outboundMta, spamClassifierTraining)' WHERE name = 'mta';
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('mta', 5);
-- A node past its node timeout is routed nothing, though its lease runs
-- and it keeps what it started; its next heartbeat makes it live again.
-- What was routed to it and not fetched goes back at the next reclaim(),
-- its attempt given back.
BEGIN;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch(
	'[{"task_type": "outboundMta"}, {"task_type": "outboundMta"}]');
UPDATE role_cluster.node SET live_until = now() - interval '1 second';
SELECT count(*) AS live_nodes FROM role_cluster.nodes WHERE live;
SELECT role_cluster.dispatch() AS routed_to_none;
SELECT node_id, stage, count(*) FROM task_stage GROUP BY node_id, stage ORDER BY 1, 2;
SELECT role_cluster.heartbeat('mta') > now() AS heartbeat;
SELECT role_cluster.dispatch() AS routed;
SELECT node_id, stage, attempts, count(*) FROM task_stage GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
UPDATE role_cluster.node SET live_until = now() - interval '1 second' WHERE node_id = 'mta';
SELECT role_cluster.reclaim() AS given_back;
SELECT node_id, stage, attempts, count(*) FROM task_stage GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT last_error IS NULL AS no_error FROM role_cluster.task WHERE state = 'queued' LIMIT 1;
SELECT role_cluster.reclaim() AS nothing_more;
-- (routed tasks go back also when they are all the node holds)
SELECT count(role_cluster.complete_task(id, 'mta')) AS completed FROM task_stage
	WHERE node_id = 'mta' AND stage = 'running';
SELECT role_cluster.heartbeat('mta') > now() AS heartbeat;
SELECT role_cluster.dispatch() AS routed;
UPDATE role_cluster.node SET live_until = now() - interval '1 second' WHERE node_id = 'mta';
SELECT role_cluster.reclaim() AS given_back;
SELECT node_id, stage, attempts, count(*) FROM task_stage
	WHERE state <> 'done' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
ROLLBACK;
-- A role deleted under a node enables nothing: the node's fetch sends back
-- what was routed to it, instead of failing at every call.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[{"task_type": "outboundMta"}]');
SELECT role_cluster.dispatch() AS routed;
UPDATE role_cluster.node SET role_name = 'gone' WHERE node_id = 'mta';
SELECT count(*) AS fetched FROM role_cluster.fetch_tasks('mta');
SELECT node_id, stage, attempts, count(*) FROM task_stage GROUP BY 1, 2, 3;
UPDATE role_cluster.node SET role_name = 'mta' WHERE node_id = 'mta';
-- A queue holding only a singleton task is not empty to dispatch; an empty
-- one routes nothing.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[{"task_type": "spamClassifierTraining"}]');
SELECT role_cluster.dispatch() AS routed_singleton;
SELECT node_id, stage FROM task_stage;
SELECT role_cluster.dispatch() AS routed_nothing;
-- idx and all are of one class (indexer, no push shard): once the first
-- comes up short with room to spare, dispatch does not ask the other; mta,
-- of another class, is asked.
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[{"task_type": "searchIndexing"}]');
BEGIN;
SET LOCAL track_functions = 'all';
SELECT role_cluster.dispatch() AS routed;
SELECT calls AS hand_outs FROM pg_stat_xact_user_functions
	WHERE schemaname = 'role_cluster' AND funcname = 'hand_out_tasks';
COMMIT;
SELECT node_id, task_type, stage FROM task_stage WHERE stage = 'routed' ORDER BY node_id;
-- Three nodes of one class take 40 tasks each, in hand-out order across
-- them (priority, then run_at, then id: the run_at values run against the
-- ids, some shared).  Each hand-out starts where the one before ended: c2
-- finds nothing left at c1's last priority and starts at the next one, c3
-- where c2 ended.  Stepping again over the tasks already routed in the
-- transaction (their index entries are dead only after commit) would read
-- about 300 entries of the queued index, not about 130.  The other nodes
-- are deregistered for it, and all of it is rolled back.
BEGIN;
DELETE FROM role_cluster.task;
SELECT count(role_cluster.deregister_node(node_id)) AS deregistered FROM role_cluster.node;
SELECT count(*) AS registered FROM generate_series(1, 3) i,
	LATERAL role_cluster.register_node('c' || i, 'indexer', NULL, 40);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch((
	SELECT jsonb_agg(jsonb_build_object('task_type', 'searchIndexing', 'priority', (i % 3 = 0)::integer,
										'run_at', now() - (i * 37 % 60) * interval '1 second'))
	FROM generate_series(1, 120) i));
SELECT pg_stat_get_xact_tuples_returned('role_cluster.task_queued_idx'::regclass) AS read_before \gset
SELECT role_cluster.dispatch() AS routed;
SELECT pg_stat_get_xact_tuples_returned('role_cluster.task_queued_idx'::regclass) - :read_before < 2 * 120
	AS read_each_entry_about_once;
SELECT node_id, priority, count(*) FROM task_stage WHERE stage = 'routed'
	GROUP BY node_id, priority ORDER BY node_id, priority DESC;
SELECT bool_and(by_route = by_order) AS routed_in_hand_out_order FROM (
	SELECT row_number() OVER (ORDER BY route_seq) AS by_route,
		   row_number() OVER (ORDER BY priority DESC, run_at, id) AS by_order
	FROM role_cluster.task WHERE state = 'running') o;
ROLLBACK;
-- Least-loaded first means the smallest share of its capacity held, not the
-- fewest tasks and not the first name: c1 holds 6 of 10, c2 none of 10, c3
-- 1 of 4.  One task at a time, c2 takes three (0, 0.1, 0.2 of its
-- capacity, each below c3's 0.25), then c3 the fourth; c1 none.
BEGIN;
DELETE FROM role_cluster.task;
SELECT count(role_cluster.deregister_node(node_id)) AS deregistered FROM role_cluster.node;
SELECT count(*) AS registered FROM (VALUES ('c1', 10), ('c2', 10), ('c3', 4)) v(n, cap),
	LATERAL role_cluster.register_node(v.n, 'indexer', NULL, v.cap);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch((
	SELECT jsonb_agg(jsonb_build_object('task_type', 'searchIndexing')) FROM generate_series(1, 7)));
SELECT count(*) AS claimed_c1 FROM role_cluster.claim_tasks('c1', 6);
SELECT count(*) AS claimed_c3 FROM role_cluster.claim_tasks('c3', 1);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch((
	SELECT jsonb_agg(jsonb_build_object('task_type', 'searchIndexing')) FROM generate_series(1, 4)));
SELECT role_cluster.dispatch(1) AS routed;
SELECT role_cluster.dispatch(1) AS routed;
SELECT role_cluster.dispatch(1) AS routed;
SELECT role_cluster.dispatch(1) AS routed;
SELECT string_agg(node_id, ' ' ORDER BY route_seq) AS routed_to
	FROM role_cluster.task WHERE state = 'running' AND route_seq IS NOT NULL;
ROLLBACK;
-- A claim walks the head of the queue once: it finds the first queued
-- entry, and its scan starts there.  Here the head is 20 tasks claimed
-- earlier in the transaction (their entries are dead only after commit),
-- so a claim of one task reads about 20 entries of the queued index (40 if
-- the scan stepped over the head again after finding the top priority, 60
-- if that probe were also planned twice, for its value and its filter).
BEGIN;
DELETE FROM role_cluster.task;
SELECT count(role_cluster.deregister_node(node_id)) AS deregistered FROM role_cluster.node;
SELECT count(*) AS registered FROM role_cluster.register_node('c1', 'indexer', NULL, 40);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch((
	SELECT jsonb_agg(jsonb_build_object('task_type', 'searchIndexing')) FROM generate_series(1, 30)));
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('c1', 20);
SELECT pg_stat_get_xact_tuples_returned('role_cluster.task_queued_idx'::regclass) AS read_before \gset
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('c1', 1);
SELECT pg_stat_get_xact_tuples_returned('role_cluster.task_queued_idx'::regclass) - :read_before < 30
	AS head_walked_once;
ROLLBACK;
-- That first entry may be of a priority with nothing due, or of a type the
-- node may not run: the claim goes on past it, and to the next priority.
BEGIN;
DELETE FROM role_cluster.task;
SELECT count(role_cluster.deregister_node(node_id)) AS deregistered FROM role_cluster.node;
SELECT count(*) AS registered FROM role_cluster.register_node('c1', 'indexer', NULL, 40);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "searchIndexing", "kind": "later", "priority": 5, "run_at": "2999-01-01 00:00:00+00"},
	{"task_type": "outboundMta", "kind": "not mine", "priority": 1},
	{"task_type": "searchIndexing", "kind": "mine", "priority": 1},
	{"task_type": "searchIndexing", "kind": "low"}
]');
SELECT kind, priority FROM role_cluster.claim_tasks('c1', 5);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "outboundMta", "kind": "not mine either", "priority": 6},
	{"task_type": "searchIndexing", "kind": "mine again"}
]');
SELECT kind, priority FROM role_cluster.claim_tasks('c1', 5);
-- Within a priority, its due tasks come first (run_at order): the claim
-- takes them, stops at the first not yet due, and goes on to the next
-- priority down.
DELETE FROM role_cluster.task;
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "searchIndexing", "kind": "due first", "priority": 5, "run_at": "2000-01-01 00:00:00+00"},
	{"task_type": "searchIndexing", "kind": "later", "priority": 5, "run_at": "2999-01-01 00:00:00+00"},
	{"task_type": "searchIndexing", "kind": "due second", "priority": 5},
	{"task_type": "searchIndexing", "kind": "next", "priority": 4},
	{"task_type": "searchIndexing", "kind": "next later", "priority": 4, "run_at": "2999-01-01 00:00:00+00"},
	{"task_type": "searchIndexing", "kind": "last", "priority": 2}
]');
SELECT kind, priority FROM role_cluster.claim_tasks('c1', 10);
SELECT kind, state FROM role_cluster.task WHERE state = 'queued' ORDER BY kind;
-- A node of the largest capacity claims as many as it asks for: all that
-- is queued, and nothing is set aside for the rest of its room.
DELETE FROM role_cluster.task;
SELECT count(*) AS registered FROM role_cluster.register_node('c1', 'indexer', NULL, 2147483647);
SELECT count(role_cluster.enqueue('searchIndexing')) AS enqueued FROM generate_series(1, 100);
SELECT count(*) AS claimed, count(DISTINCT id) AS distinct_ids
	FROM role_cluster.claim_tasks('c1', 2147483647);
SELECT count(*) AS still_queued FROM role_cluster.task WHERE state = 'queued';
ROLLBACK;

---------------------------------------------------------------------------
-- reclaim
---------------------------------------------------------------------------
DELETE FROM role_cluster.task;
UPDATE role_cluster.cluster_role SET tasks = 'EnableAll' WHERE name = 'mta';
SELECT count(*) AS enqueued FROM (
	SELECT role_cluster.enqueue('outboundMta', kind => 'r' || i, max_attempts => 2)
	FROM generate_series(1, 6) i) e;
SELECT count(*) FROM role_cluster.claim_tasks('mta', 2);
SELECT role_cluster.dispatch(4) AS routed;
SELECT node_id, stage, count(*) FROM task_stage GROUP BY node_id, stage ORDER BY 1, 2;
-- Nothing to take back while every node is live.
SELECT role_cluster.reclaim() AS reclaimed;
-- A node that registers again from its own session, rather than
-- heartbeating, keeps its tasks: their leases move with its own.
UPDATE role_cluster.task SET lease_until = now() WHERE node_id = 'mta';
SELECT node_id FROM role_cluster.register_node('mta', 'mta', NULL);
SELECT count(*) AS held, count(*) FILTER (WHERE t.lease_until = n.lease_until) AS leased_with_node
	FROM role_cluster.task t JOIN role_cluster.node n USING (node_id) WHERE n.node_id = 'mta';
SELECT role_cluster.reclaim() AS reclaimed;
-- mta's lease lapses: its running tasks come back with the attempt
-- counted, its routed ones as they were.
UPDATE role_cluster.node SET lease_until = now() - interval '1 second' WHERE node_id = 'mta';
SELECT role_cluster.reclaim() AS reclaimed;
SELECT kind, state, node_id, attempts, last_error FROM role_cluster.task
	WHERE last_error IS NOT NULL ORDER BY id;
SELECT node_id, stage, count(*) FROM task_stage GROUP BY node_id, stage ORDER BY 1, 2;
-- A task on its last attempt becomes dead instead.
SELECT role_cluster.heartbeat('mta') > now() AS alive_again;
SELECT kind, attempts FROM role_cluster.claim_tasks('mta', 1);
UPDATE role_cluster.node SET backend_pid = 0 WHERE node_id = 'mta';
SELECT role_cluster.reclaim() AS reclaimed;
SELECT kind, state, node_id, attempts, last_error, finished_at IS NOT NULL AS finished
	FROM role_cluster.task WHERE state = 'dead';
-- A session-less node is no longer live, its lease ended.
SELECT node_id, live, session_alive, lease_until <= now() AS lease_ended
	FROM role_cluster.nodes WHERE node_id = 'mta';
-- Tasks held by a node that was deleted, or deregistered behind our back.
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch(
	'[{"task_type": "searchIndexing"}, {"task_type": "searchIndexing"}, {"task_type": "searchIndexing"}]');
SELECT count(*) FROM role_cluster.claim_tasks('all', 2);
SELECT count(*) FROM role_cluster.claim_tasks('idx', 1);
DELETE FROM role_cluster.node WHERE node_id = 'all';
UPDATE role_cluster.node SET deregistered_at = now() WHERE node_id = 'idx';
SELECT role_cluster.reclaim() AS reclaimed;
SELECT count(*) AS held FROM role_cluster.task WHERE state = 'running';
SELECT role_cluster.reclaim() AS nothing_left;
-- A node whose row was deleted registers again before any reclaim(): what
-- it held goes back, its attempt counted, rather than stay running on it
-- for good (reclaim() would not see it once the row is back).
SELECT node_id FROM role_cluster.register_node('all', 'indexer', NULL, 3);
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('all', 2);
DELETE FROM role_cluster.node WHERE node_id = 'all';
SELECT node_id FROM role_cluster.register_node('all', 'indexer', NULL, 3);
SELECT state, attempts, last_error, count(*) FROM role_cluster.task
	WHERE last_error LIKE '%row was deleted' GROUP BY 1, 2, 3;
SELECT held FROM role_cluster.nodes WHERE node_id = 'all';
SELECT role_cluster.reclaim() AS nothing_left;
-- A capacity lowered below what the node holds: routed tasks not fetched
-- yet beyond it go back, the last routed first, their attempts given
-- back; a started one stays.
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('all', 1);
SELECT role_cluster.dispatch() AS routed;
SELECT array_agg(id ORDER BY route_seq) AS routed_ids FROM task_stage WHERE stage = 'routed' \gset
CREATE TEMP VIEW routed_then AS
	SELECT x.k AS routing, s.stage, s.attempts
	FROM unnest(:'routed_ids'::bigint[]) WITH ORDINALITY AS x(id, k) JOIN task_stage s USING (id);
SELECT * FROM routed_then ORDER BY routing;
SELECT capacity FROM role_cluster.register_node('all', 'indexer', NULL, 2);
SELECT * FROM routed_then ORDER BY routing;
SELECT capacity FROM role_cluster.register_node('all', 'indexer', NULL, 1);
SELECT * FROM routed_then ORDER BY routing;
SELECT stage, count(*) FROM task_stage WHERE node_id = 'all' GROUP BY stage;
-- Capacity 0, as while a node drains: it is given nothing more, by a claim
-- or a dispatch, though tasks it may run are queued, and keeps what it
-- started; node_duties() (audit(), the views) counts it as running nothing.
SELECT capacity FROM role_cluster.register_node('all', 'indexer', NULL, 0);
SELECT count(*) AS queued_for_it FROM role_cluster.task WHERE state = 'queued' AND task_type = 'searchIndexing';
SELECT count(*) AS claimed_at_0 FROM role_cluster.claim_tasks('all', 5);
SELECT role_cluster.dispatch() >= 0 AS dispatched;
SELECT stage, count(*) FROM task_stage WHERE node_id = 'all' GROUP BY stage;
SELECT d.tasks, d.serves_shard FROM role_cluster.node n CROSS JOIN LATERAL role_cluster.node_duties(n) d
	WHERE n.node_id = 'all';
DROP VIEW routed_then;
SELECT role_cluster.deregister_node('all') AS handed_back;
-- A node that holds more than its capacity (lowered by hand while it ran
-- what it claimed) is given nothing by a claim, and no error.
BEGIN;
SELECT capacity FROM role_cluster.register_node('over', 'indexer', NULL, 3);
SELECT count(role_cluster.enqueue('searchIndexing', 'over' || i)) AS enqueued FROM generate_series(1, 4) i;
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('over', 3);
UPDATE role_cluster.node SET capacity = 1 WHERE node_id = 'over';
SELECT count(*) AS claimed_beyond FROM role_cluster.claim_tasks('over', 2);
SELECT count(*) AS claimed_one_beyond FROM role_cluster.claim_tasks('over', 1);
ROLLBACK;
-- A node's fetch mark outlives its row, deleted by hand (it tells
-- reclaim() which tasks were started), and prune() leaves it; prune()
-- deletes the marks of the nodes it deletes.
BEGIN;
DELETE FROM role_cluster.node WHERE node_id = 'push2';
SELECT role_cluster.prune(node_retention => '0') AS pruned;
SELECT f.node_id, EXISTS (SELECT FROM role_cluster.node n WHERE n.node_id = f.node_id) AS has_row
	FROM role_cluster.node_fetch f ORDER BY f.node_id;
ROLLBACK;
-- A node whose row was written by hand has no mark (register_node() makes
-- one): its fetch finds nothing.
INSERT INTO role_cluster.node (node_id, capacity, login, backend_pid, backend_start, lease_until)
	SELECT 'by-hand', 1, session_user, pg_backend_pid(), backend_start, now() + interval '1 hour'
	FROM pg_stat_activity WHERE pid = pg_backend_pid();
SELECT count(*) AS fetched FROM role_cluster.fetch_tasks('by-hand');
SELECT count(*) AS marks FROM role_cluster.node_fetch WHERE node_id = 'by-hand';
DELETE FROM role_cluster.node WHERE node_id = 'by-hand';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.reclaim();
ROLLBACK;

-- The functions keep the invariants: a held task has a node and a lease,
-- a queued one neither, a finished one a finishing time.
SELECT state, count(*) FILTER (WHERE node_id IS NULL) AS no_node,
	   count(*) FILTER (WHERE lease_until IS NULL) AS no_lease,
	   count(*) FILTER (WHERE finished_at IS NULL) AS unfinished
	FROM role_cluster.task GROUP BY state ORDER BY state;

-- enqueue_batch: JSON null is the same as a missing key; a negative
-- priority is an integer
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[{"task_type": "searchIndexing",
	"kind": null, "shard_key": null, "dedupe_key": null, "run_at": null, "priority": -5,
	"max_attempts": null, "payload": null}]');
SELECT kind, payload, shard_key, dedupe_key, priority, max_attempts, run_at <= now() AS due
	FROM role_cluster.task WHERE priority = -5;

-- What grows with the number of nodes (the scale review).
-- dispatch() passes over a full node: no hand-out is even tried for it.
SELECT count(role_cluster.deregister_node(node_id)) AS deregistered
	FROM role_cluster.node WHERE deregistered_at IS NULL;
DELETE FROM role_cluster.task;
SELECT node_id FROM role_cluster.register_node('full', NULL, NULL, 1);
SELECT count(role_cluster.enqueue('searchIndexing', 'fill')) FROM generate_series(1, 2);
SELECT role_cluster.dispatch() AS routed_until_full;
SELECT node_id, held, capacity FROM role_cluster.nodes WHERE live;
SET track_functions = 'all';
BEGIN;
-- (the count includes calls not yet reported from earlier transactions)
SELECT coalesce(pg_stat_get_xact_function_calls('role_cluster.hand_out_tasks(text, integer, boolean, integer, integer, timestamptz, bigint)'::regprocedure), 0)
	AS calls_before \gset
SELECT role_cluster.dispatch() AS routed_to_a_full_node;
SELECT coalesce(pg_stat_get_xact_function_calls('role_cluster.hand_out_tasks(text, integer, boolean, integer, integer, timestamptz, bigint)'::regprocedure), 0)
	- :calls_before AS hand_outs_tried;
COMMIT;
RESET track_functions;
-- The nodes view finds one node by its key alone (the agent's heartbeat
-- reads it so), and its plan's cost does not grow with the node count:
-- past jit_above_cost, every read of it would be compiled.
EXPLAIN (COSTS OFF) SELECT live FROM role_cluster.nodes WHERE node_id = 'full';
CREATE FUNCTION plan_cost(q text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	j json;
BEGIN
	EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO j;
	RETURN (j -> 0 -> 'Plan' ->> 'Total Cost')::float8;
END $$;
INSERT INTO role_cluster.node (node_id, capacity, login, backend_pid, backend_start, lease_until)
	SELECT 'gone-' || g, 1, session_user, 0, now(), now() FROM generate_series(1, 3000) g;
-- (tasks held by a few of them, so that the statistics say each holds many)
INSERT INTO role_cluster.task (task_type, kind, state, node_id, attempts, lease_until, singleton)
	SELECT 'searchIndexing', 'held', 'running', 'gone-' || (g % 10 + 1), 1, now(), false
	FROM generate_series(1, 20000) g;
ANALYZE role_cluster.node, role_cluster.task;
SELECT plan_cost('SELECT * FROM role_cluster.nodes') < current_setting('jit_above_cost')::float8 AS nodes_below_jit,
	   plan_cost('SELECT * FROM role_cluster.node_stats') < current_setting('jit_above_cost')::float8 AS node_stats_below_jit;
DELETE FROM role_cluster.task WHERE kind = 'held';
DELETE FROM role_cluster.node WHERE node_id LIKE 'gone-%';
DROP FUNCTION plan_cost(text);

-- enqueue_batch() takes any integer enqueue() takes, however the JSON
-- writes it: 1e3 as 1000, 7.0 as 7 (at the end: the task ids above stay
-- as they are)
SELECT count(*) FROM role_cluster.enqueue_batch('[
	{"task_type": "searchIndexing", "kind": "wide", "priority": 2147483647, "max_attempts": 2147483647},
	{"task_type": "searchIndexing", "kind": "wide", "priority": -2147483648, "max_attempts": 1e3},
	{"task_type": "searchIndexing", "kind": "wide", "priority": 7.0, "max_attempts": 2.00}]');
SELECT priority, max_attempts FROM role_cluster.task WHERE kind = 'wide' ORDER BY priority;

-- Several claimed tasks come in hand-out order, priority, then run_at, then
-- id (the singleton, looked for apart, among them), in the select list too
-- (at the end, as above).
BEGIN;
DELETE FROM role_cluster.task WHERE state = 'queued';
SELECT node_id FROM role_cluster.register_node('order', NULL, NULL, 10);
SELECT count(*) AS enqueued FROM role_cluster.enqueue_batch('[
	{"task_type": "outboundMta", "kind": "late", "run_at": "2001-01-01 00:00:02+00"},
	{"task_type": "outboundMta", "kind": "early", "run_at": "2001-01-01 00:00:01+00"},
	{"task_type": "outboundMta", "kind": "high", "priority": 5, "run_at": "2001-01-01 00:00:03+00"},
	{"task_type": "spamClassifierTraining", "kind": "single", "priority": 6},
	{"task_type": "outboundMta", "kind": "early_too", "run_at": "2001-01-01 00:00:01+00"},
	{"task_type": "searchIndexing", "kind": "now"}
]');
SELECT (role_cluster.claim_tasks('order', 2)).kind;
SELECT kind, priority FROM role_cluster.claim_tasks('order', 10);
ROLLBACK;

-- A report may name the attempt it is of (attempts, as claim_tasks() and
-- fetch_tasks() hand the task out): one of an earlier run is refused.  The
-- node deregisters, which takes back what it holds (a started task keeps
-- its attempt), registers again and is handed the same tasks again, as
-- when a new session registers it (at the end, as above).
DELETE FROM role_cluster.task WHERE state = 'queued';
SELECT node_id FROM role_cluster.register_node('fence', 'mta', NULL, 10);
SELECT role_cluster.enqueue('outboundMta', 'f1') AS f1 \gset
SELECT role_cluster.enqueue('outboundMta', 'f2') AS f2 \gset
SELECT role_cluster.enqueue('outboundMta', 'f3') AS f3 \gset
SELECT role_cluster.enqueue('outboundMta', 'f4') AS f4 \gset
SELECT kind, attempts FROM role_cluster.claim_tasks('fence', 10);
SELECT role_cluster.deregister_node('fence') AS handed_back;
SELECT node_id FROM role_cluster.register_node('fence', 'mta', NULL, 10);
SELECT kind, attempts FROM role_cluster.claim_tasks('fence', 10);
-- the earlier run's reports change nothing
SELECT role_cluster.complete_task(:f1, 'fence', 1);
SELECT role_cluster.fail_task(:f2, 'fence', 'late', 1);
SELECT role_cluster.release_task(:f3, 'fence', 1);
SELECT count(*) AS completed FROM role_cluster.complete_tasks(ARRAY[:f1, :f4]::bigint[], 'fence', '{1,1}');
SELECT kind, state, attempts FROM role_cluster.task WHERE kind LIKE 'f_' ORDER BY kind;
-- a report of a run not handed out (yet) is refused, saying so
SELECT role_cluster.complete_task(:f1, 'fence', 3);
-- this run's go through
SELECT role_cluster.complete_task(:f1, 'fence', 2);
SELECT role_cluster.fail_task(:f2, 'fence', 'failed', 2);
SELECT role_cluster.release_task(:f3, 'fence', 2);
-- (f4 named for both runs, the earlier one first: the pair of its run counts)
SELECT c = :f4 AS f4 FROM role_cluster.complete_tasks(ARRAY[:f1, :f4, :f4]::bigint[], 'fence', '{1,1,2}') AS c;
SELECT kind, state, attempts, last_error FROM role_cluster.task WHERE kind LIKE 'f_' ORDER BY kind;
-- attempts must give one for each id
SELECT role_cluster.complete_tasks(ARRAY[:f1, :f4]::bigint[], 'fence', '{2}');
SELECT role_cluster.complete_tasks(ARRAY[:f1]::bigint[], 'fence', '{NULL}');
SELECT role_cluster.complete_tasks(ARRAY[:f1]::bigint[], 'fence', '{{2}}');

-- An admin queues dead tasks again: due now, no node, as many attempts
-- again (its attempts kept, so a report of a dead run is still told
-- apart), the last error kept; an id not dead is left alone; a dedupe key
-- that an unfinished task, or another of the tasks given, carries is
-- refused.
DELETE FROM role_cluster.task WHERE state = 'queued';
SELECT role_cluster.enqueue('outboundMta', 'd1', max_attempts => 1) AS d1 \gset
SELECT role_cluster.enqueue('outboundMta', 'd2', max_attempts => 1, dedupe_key => 'dk') AS d2 \gset
SELECT role_cluster.enqueue('outboundMta', 'd3', max_attempts => 1, dedupe_key => 'dk2') AS d3 \gset
SELECT count(role_cluster.fail_task(c.id, 'fence', 'gave up', c.attempts)) AS failed
	FROM role_cluster.claim_tasks('fence', 10) c;
SELECT role_cluster.enqueue('outboundMta', 'd4', dedupe_key => 'dk') AS d4 \gset
SELECT role_cluster.enqueue('outboundMta', 'd5', max_attempts => 1, dedupe_key => 'dk2') AS d5 \gset
SELECT count(role_cluster.fail_task(c.id, 'fence', 'gave up too', c.attempts)) AS failed
	FROM role_cluster.claim_tasks('fence', 10) c WHERE c.kind = 'd5';
SELECT kind, state, attempts FROM role_cluster.task WHERE kind LIKE 'd_' ORDER BY kind;
UPDATE role_cluster.task SET run_at = now() + interval '1 day' WHERE id = :d1;
SELECT role_cluster.requeue_dead(ARRAY[:d1, :d2]);
SELECT role_cluster.requeue_dead(ARRAY[:d3, :d5]);
SELECT r = :d1 AS d1 FROM role_cluster.requeue_dead(ARRAY[:d1, :d3, :d4, -1]) AS r ORDER BY r;
-- (d4 named twice, only for runs it is not on, is left running)
SELECT count(*) AS completed FROM role_cluster.complete_tasks(ARRAY[:d4, :d4]::bigint[], 'fence', '{2,3}');
SELECT kind, state, attempts, max_attempts, node_id, finished_at IS NOT NULL AS finished,
	   lease_until IS NOT NULL AS leased, run_at <= now() AS due, last_error
	FROM role_cluster.task WHERE kind LIKE 'd_' ORDER BY kind;
SELECT kind, attempts FROM role_cluster.claim_tasks('fence', 10) WHERE kind = 'd1';
SELECT role_cluster.complete_task(:d1, 'fence', 1);
SELECT role_cluster.complete_task(:d1, 'fence', 2);
-- Queued again, a task takes the policy and push shard in force now: a
-- change made while it was dead did not reach it.
BEGIN;
SELECT role_cluster.enqueue('searchIndexing', 'e1', max_attempts => 1) AS e1 \gset
SELECT role_cluster.enqueue('pushNotifications', 'e2', shard_key => 'alice@example.org',
	max_attempts => 1) AS e2 \gset
UPDATE role_cluster.task SET state = 'dead', attempts = 1, finished_at = now() WHERE id IN (:e1, :e2);
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
UPDATE role_cluster.cluster_settings SET push_shards_total = push_shards_total + 3;
SELECT kind, singleton, push_shard = role_cluster.shard_for(shard_key, role_cluster.push_shards_total())
	AS shard_now FROM role_cluster.task WHERE id IN (:e1, :e2) ORDER BY kind;
SELECT count(*) AS queued FROM role_cluster.requeue_dead(ARRAY[:e1, :e2]);
SELECT kind, singleton, push_shard = role_cluster.shard_for(shard_key, role_cluster.push_shards_total())
	AS shard_now FROM role_cluster.task WHERE id IN (:e1, :e2) ORDER BY kind;
ROLLBACK;
SELECT role_cluster.requeue_dead(NULL);
SELECT role_cluster.requeue_dead(ARRAY[NULL]::bigint[]);
SELECT role_cluster.requeue_dead('{{1}}');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT role_cluster.requeue_dead(ARRAY[:d5]);
ROLLBACK;
-- as many attempts again as an integer holds, and no more
UPDATE role_cluster.task SET max_attempts = 2147483647 WHERE id = :d5;
SELECT role_cluster.requeue_dead(ARRAY[:d5]);
UPDATE role_cluster.task SET max_attempts = 2147483646, dedupe_key = NULL WHERE id = :d5;
SELECT count(*) AS requeued FROM role_cluster.requeue_dead(ARRAY[:d5]);
SELECT state, attempts, max_attempts FROM role_cluster.task WHERE id = :d5;
-- the dead tasks the audit reports say how to queue them again
SELECT hint FROM role_cluster.audit() WHERE "check" = 'tasks_dead' LIMIT 1;
SELECT has_function_privilege('role_cluster_admin', 'role_cluster.requeue_dead(bigint[])', 'EXECUTE') AS admin,
	   has_function_privilege('role_cluster_node', 'role_cluster.requeue_dead(bigint[])', 'EXECUTE') AS node;

-- the longest dedupe key, alone and in a batch
SELECT role_cluster.enqueue('searchIndexing', dedupe_key => repeat('€', 341) || 'k') AS long1 \gset
SELECT id AS long2 FROM role_cluster.enqueue_batch(
	jsonb_build_array(jsonb_build_object('task_type', 'searchIndexing', 'dedupe_key', repeat('b', 1024)))) AS b(id) \gset
SELECT octet_length(dedupe_key) AS key_bytes FROM role_cluster.task WHERE id IN (:long1, :long2) ORDER BY id;

-- A payload of JSON null is one left out, as in enqueue_batch(); other
-- JSON values are kept as given.
SELECT role_cluster.enqueue('searchIndexing', kind => 'null payload', payload => 'null') AS np \gset
SELECT role_cluster.enqueue('searchIndexing', kind => 'array payload', payload => '[null]') AS ap \gset
SELECT kind, payload FROM role_cluster.task WHERE id IN (:np, :ap) ORDER BY id;

-- complete_task() writes the row without a statement, keeping what the
-- table's definition asks, including what was added to it during the
-- session (what the session prepared of the table is made again): a new
-- partial index gets its entry, a new trigger with a WHEN clause fires
-- when it holds.  A trigger with transition tables gets the row too:
-- complete_task() then runs its statement.
SELECT node_id FROM role_cluster.register_node('writer', NULL, NULL, 10) \gset
SELECT count(role_cluster.enqueue('searchIndexing', 'w' || i, priority => 1000)) AS enqueued
	FROM generate_series(1, 4) i;
SELECT kind FROM role_cluster.claim_tasks('writer', 4) ORDER BY kind;
SELECT id AS w1 FROM role_cluster.task WHERE kind = 'w1' \gset
SELECT id AS w2 FROM role_cluster.task WHERE kind = 'w2' \gset
SELECT id AS w3 FROM role_cluster.task WHERE kind = 'w3' \gset
SELECT id AS w4 FROM role_cluster.task WHERE kind = 'w4' \gset
SELECT role_cluster.complete_task(:w1, 'writer');
CREATE TABLE completions_seen (id bigint, how text);
CREATE FUNCTION note_completion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.completions_seen VALUES (NEW.id, TG_ARGV[0]);
	RETURN NULL;
END
$$;
CREATE TRIGGER task_done_noted AFTER UPDATE ON role_cluster.task
	FOR EACH ROW WHEN (NEW.state = 'done' AND NEW.kind = 'w2')
	EXECUTE FUNCTION note_completion('row');
CREATE INDEX task_done_w_idx ON role_cluster.task (kind) WHERE state = 'done' AND kind LIKE 'w%';
SELECT role_cluster.complete_task(:w2, 'writer');
SELECT role_cluster.complete_task(:w3, 'writer');
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT kind FROM role_cluster.task WHERE state = 'done' AND kind LIKE 'w%';
SELECT kind FROM role_cluster.task WHERE state = 'done' AND kind LIKE 'w%' ORDER BY kind;
RESET enable_seqscan;
RESET enable_bitmapscan;
SELECT id = :w2 AS w2, how FROM completions_seen;
DROP TRIGGER task_done_noted ON role_cluster.task;
DROP INDEX role_cluster.task_done_w_idx;
-- (It notes the planner settings the statement ran under too: the queue's,
-- which enqueue(), claim_tasks() and complete_task() apply only around
-- the statements of such slow paths.)
CREATE FUNCTION note_new_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.completions_seen
		SELECT n.id, TG_ARGV[0] || ' (seqscan ' || current_setting('enable_seqscan') || ', jit '
			|| current_setting('jit') || ')'
		FROM new_rows n;
	RETURN NULL;
END
$$;
CREATE TRIGGER task_done_table AFTER UPDATE ON role_cluster.task
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION note_new_rows('statement');
SELECT role_cluster.complete_task(:w4, 'writer', 2);
SELECT role_cluster.complete_task(:w4, 'writer', 1);
SELECT id = :w4 AS w4, how FROM completions_seen WHERE how LIKE 'statement%';
DROP TRIGGER task_done_table ON role_cluster.task;
-- Nothing is written in a read-only transaction.
SELECT role_cluster.enqueue('searchIndexing', 'w5', priority => 1000) AS w5 \gset
SELECT kind FROM role_cluster.claim_tasks('writer', 1);
BEGIN READ ONLY;
SELECT role_cluster.complete_task(:w5, 'writer');
ROLLBACK;
SELECT state FROM role_cluster.task WHERE id = :w5;
SELECT role_cluster.complete_task(:w5, 'writer');
SELECT role_cluster.enqueue('searchIndexing', 'w5b', priority => 1000) AS w5b \gset
BEGIN READ ONLY;
SELECT kind FROM role_cluster.claim_tasks('writer', 1);
ROLLBACK;
BEGIN READ ONLY;
SELECT role_cluster.dispatch();
ROLLBACK;
SELECT state FROM role_cluster.task WHERE id = :w5b;
SELECT kind FROM role_cluster.claim_tasks('writer', 1);
SELECT role_cluster.complete_task(:w5b, 'writer');
-- enqueue() inserts the row without a statement too: a default set on the
-- table during the session is the new row's, and an INSERT trigger with
-- transition tables gets the row (enqueue() then runs its statement).
ALTER TABLE role_cluster.task ALTER COLUMN last_error SET DEFAULT 'fresh';
SELECT role_cluster.enqueue('searchIndexing', 'w6') AS w6 \gset
SELECT kind, state, attempts, last_error, node_id FROM role_cluster.task WHERE id = :w6;
ALTER TABLE role_cluster.task ALTER COLUMN last_error DROP DEFAULT;
CREATE TRIGGER task_enqueued_table AFTER INSERT ON role_cluster.task
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION note_new_rows('inserted');
SELECT role_cluster.enqueue('searchIndexing', 'w7') AS w7 \gset
SELECT id = :w7 AS w7, how FROM completions_seen WHERE how LIKE 'inserted%';
DROP TRIGGER task_enqueued_table ON role_cluster.task;
SELECT kind, state, last_error FROM role_cluster.task WHERE id = :w7;
BEGIN READ ONLY;
SELECT role_cluster.enqueue('searchIndexing', 'w8');
ROLLBACK;
SELECT count(*) AS w8 FROM role_cluster.task WHERE kind = 'w8';
-- A hand-out (claim_tasks(), dispatch()) is written without a statement
-- too, all its tasks in one write: the statement's triggers fire once for
-- them all, a before row trigger's change is in the rows returned, and a
-- row such a trigger skips stays queued and is not returned.
TRUNCATE completions_seen;
CREATE FUNCTION note_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.completions_seen VALUES (NULL, TG_ARGV[0]);
	RETURN NULL;
END
$$;
CREATE FUNCTION mark_or_skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = 'running' AND NEW.kind = TG_ARGV[0] THEN
		RETURN NULL;
	END IF;
	NEW.last_error := 'seen by ' || TG_NAME;
	RETURN NEW;
END
$$;
CREATE TRIGGER task_update_before BEFORE UPDATE ON role_cluster.task
	FOR EACH STATEMENT EXECUTE FUNCTION note_statement('before statement');
CREATE TRIGGER task_update_after AFTER UPDATE ON role_cluster.task
	FOR EACH STATEMENT EXECUTE FUNCTION note_statement('after statement');
CREATE TRIGGER task_mark BEFORE UPDATE ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION mark_or_skip('h2');
SELECT count(role_cluster.enqueue('searchIndexing', 'h' || i, priority => 3000)) AS enqueued
	FROM generate_series(1, 4) i;
SELECT kind, state, node_id, attempts, route_seq, last_error
	FROM role_cluster.claim_tasks('writer', 3);
SELECT how, count(*) FROM completions_seen GROUP BY how ORDER BY how;
SELECT kind, state, attempts, last_error FROM role_cluster.task WHERE kind = 'h2';
-- complete_task() gives a before row trigger the row locked, as UPDATE
-- does, and writes what it returns: h1 done with the trigger's mark; h3,
-- which the trigger skips, stays running on the node, and the call says
-- that a trigger skipped it.
CREATE FUNCTION skip_done() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = 'done' AND NEW.kind = TG_ARGV[0] THEN
		RETURN NULL;
	ELSIF NEW.state = 'done' THEN
		NEW.last_error := 'completed under ' || TG_NAME;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER task_skip_done BEFORE UPDATE ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION skip_done('h3');
SELECT role_cluster.complete_task(id, 'writer') FROM role_cluster.task WHERE kind = 'h1';
DO $$
DECLARE
	detail		text;
BEGIN
	PERFORM role_cluster.complete_task(id, 'writer') FROM role_cluster.task WHERE kind = 'h3';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RAISE NOTICE 'h3 not completed (%): %', SQLSTATE,
		regexp_replace(SQLERRM, 'task [0-9]+', 'task h3');
	RAISE NOTICE '%', detail;
END
$$;
SELECT kind, state, node_id, last_error FROM role_cluster.task
	WHERE kind IN ('h1', 'h3') ORDER BY kind;
DROP TRIGGER task_skip_done ON role_cluster.task;
DROP FUNCTION skip_done();
DROP TRIGGER task_update_before ON role_cluster.task;
DROP TRIGGER task_update_after ON role_cluster.task;
DROP TRIGGER task_mark ON role_cluster.task;
-- The write behind them, called as they call it (their caller has locked
-- the queued tasks): only the queued tasks given are handed out, an id
-- not found or NULL is passed over, one given twice is written once, and
-- a dispatch's route numbers follow the order of the ids.  The same with an UPDATE trigger that has
-- transition tables, which gets the statement: the trigger sees the rows.
SELECT id AS h2 FROM role_cluster.task WHERE kind = 'h2' \gset
SELECT id AS h3 FROM role_cluster.task WHERE kind = 'h3' \gset
SELECT id AS h4 FROM role_cluster.task WHERE kind = 'h4' \gset
BEGIN;
SELECT kind AS locked FROM role_cluster.task WHERE id IN (:h2, :h4) ORDER BY kind FOR UPDATE;
SELECT kind, state, node_id, attempts, row_number() OVER (ORDER BY route_seq) AS route_order
	FROM role_cluster.write_hand_out(ARRAY[:h4, NULL, :h3, -1, :h2, :h4], 'writer',
									 now() + interval '1 minute', true)
	ORDER BY route_seq;
ROLLBACK;
-- The write is done only as a user allowed to update the table.
CREATE ROLE regress_hand_out;
GRANT USAGE ON SCHEMA role_cluster TO regress_hand_out;
GRANT EXECUTE ON FUNCTION role_cluster.write_hand_out(bigint[], text, timestamptz, boolean)
	TO regress_hand_out;
SET ROLE regress_hand_out;
SELECT count(*) FROM role_cluster.write_hand_out(ARRAY[:h2], 'writer', now(), false);
RESET ROLE;
SELECT state FROM role_cluster.task WHERE id = :h2;
REVOKE ALL ON FUNCTION role_cluster.write_hand_out(bigint[], text, timestamptz, boolean)
	FROM regress_hand_out;
REVOKE ALL ON SCHEMA role_cluster FROM regress_hand_out;
DROP ROLE regress_hand_out;
CREATE TRIGGER task_handed_table AFTER UPDATE ON role_cluster.task
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION note_new_rows('handed out');
TRUNCATE completions_seen;
BEGIN;
SELECT kind AS locked FROM role_cluster.task WHERE id IN (:h2, :h4) ORDER BY kind FOR UPDATE;
SELECT kind, state, node_id, attempts, row_number() OVER (ORDER BY route_seq) AS route_order
	FROM role_cluster.write_hand_out(ARRAY[:h4, NULL, :h3, -1, :h2, :h4], 'writer',
									 now() + interval '1 minute', true)
	ORDER BY route_seq;
SELECT t.kind, c.how FROM completions_seen c JOIN role_cluster.task t ON t.id = c.id
	ORDER BY t.kind;
ROLLBACK;
SELECT kind, state, node_id, attempts, route_seq
	FROM role_cluster.claim_tasks('writer', 2) ORDER BY kind;
SELECT t.kind, c.how FROM completions_seen c JOIN role_cluster.task t ON t.id = c.id
	ORDER BY t.kind;
-- and the session's own settings are back after the call
SELECT current_setting('enable_seqscan') AS seqscan, current_setting('jit') AS jit;
DROP TRIGGER task_handed_table ON role_cluster.task;
DROP TABLE completions_seen;
DROP FUNCTION note_completion();
DROP FUNCTION note_new_rows();
DROP FUNCTION note_statement();
DROP FUNCTION mark_or_skip();
-- A write opens only the indexes its rows go into, each as the first row
-- that needs it is about to be written, after an insert's before row
-- triggers: every row is in each index whose predicate it meets (amcheck
-- looks for each row in its indexes), with a dedupe key that a before
-- insert trigger gives, one that a before update trigger gives to a task
-- claimed (then every index is opened), and a claim whose second task
-- needs an index its first did not.
CREATE EXTENSION amcheck;
CREATE FUNCTION give_dedupe_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.kind LIKE TG_ARGV[0] THEN
		NEW.dedupe_key := NEW.kind || ' by ' || TG_NAME;
	END IF;
	RETURN NEW;
END
$$;
DELETE FROM role_cluster.task;
SELECT count(*) AS registered FROM role_cluster.register_node('indexes', NULL, NULL, 10);
CREATE TRIGGER task_key_inserted BEFORE INSERT ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION give_dedupe_key('ins-%');
SELECT count(role_cluster.enqueue('searchIndexing', k, priority => p))
	FROM (VALUES ('plain-1', 3), ('ins-1', 2)) v(k, p);
DROP TRIGGER task_key_inserted ON role_cluster.task;
SELECT role_cluster.enqueue('searchIndexing', dedupe_key => 'ins-1 by task_key_inserted') =
	   (SELECT id FROM role_cluster.task WHERE kind = 'ins-1') AS deduplicated;
SELECT kind, state, dedupe_key FROM role_cluster.claim_tasks('indexes', 2) ORDER BY kind;
CREATE TRIGGER task_key_updated BEFORE UPDATE ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION give_dedupe_key('upd-%');
SELECT role_cluster.enqueue('searchIndexing', 'upd-1') > 0 AS enqueued;
SELECT kind, state, dedupe_key FROM role_cluster.claim_tasks('indexes', 1);
DROP TRIGGER task_key_updated ON role_cluster.task;
SELECT role_cluster.complete_task(id, 'indexes') FROM role_cluster.task WHERE kind = 'plain-1';
SELECT c.relname AS index, bt_index_check(c.oid, true)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid = 'role_cluster.task'::regclass ORDER BY c.relname;
SELECT kind, state, dedupe_key IS NOT NULL AS keyed FROM role_cluster.task ORDER BY kind;
SELECT role_cluster.deregister_node('indexes');
DROP FUNCTION give_dedupe_key();
DROP EXTENSION amcheck;

DROP VIEW q;
DROP VIEW task_stage;
DROP EXTENSION role_cluster;
-- The session's cache of the tables' OIDs (the task table's, the node
-- table's) follows the extension made again in the same session: a claim
-- after it locks the new node row.
CREATE EXTENSION role_cluster;
SELECT node_id FROM role_cluster.register_node('again', NULL, NULL, 2);
SELECT role_cluster.enqueue('searchIndexing', 'again') > 0 AS enqueued;
SELECT kind, state, node_id FROM role_cluster.claim_tasks('again', 2);
DROP EXTENSION role_cluster;
