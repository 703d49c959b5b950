-- Privileges: PUBLIC gets nothing, the admin role manages configuration,
-- the node role reads it.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
DROP ROLE IF EXISTS regress_rc_admin;
DROP ROLE IF EXISTS regress_rc_node;
DROP ROLE IF EXISTS regress_rc_nobody;
RESET client_min_messages;

CREATE ROLE regress_rc_admin LOGIN IN ROLE role_cluster_admin;
CREATE ROLE regress_rc_node LOGIN IN ROLE role_cluster_node;
CREATE ROLE regress_rc_nobody LOGIN;

INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('frontend', 'DisableAll');

-- PUBLIC: nothing on the schema's tables or admin functions.
SET ROLE regress_rc_nobody;
SELECT name FROM role_cluster.cluster_role;
SELECT * FROM role_cluster.network_listener;
SELECT * FROM role_cluster.cluster_settings;
SELECT role_cluster.export_roles();
RESET ROLE;
-- The schema itself is closed to PUBLIC.
SELECT has_schema_privilege('regress_rc_nobody', 'role_cluster', 'USAGE') AS nobody_usage,
	   has_schema_privilege('regress_rc_node', 'role_cluster', 'USAGE') AS node_usage;

-- A node login reads roles but cannot change them.
SET ROLE regress_rc_node;
SELECT name, tasks FROM role_cluster.cluster_role;
SELECT push_shards_total FROM role_cluster.cluster_settings;
INSERT INTO role_cluster.cluster_role (name) VALUES ('sneaky');
UPDATE role_cluster.cluster_role SET tasks = 'EnableAll' WHERE name = 'frontend';
DELETE FROM role_cluster.cluster_role;
TRUNCATE role_cluster.cluster_role;
INSERT INTO role_cluster.network_listener (id) VALUES ('imap');
UPDATE role_cluster.cluster_settings SET push_shards_total = 8;
SELECT role_cluster.import_roles('{"name": "sneaky"}');
SELECT role_cluster.export_roles();
RESET ROLE;
SELECT name, tasks FROM role_cluster.cluster_role;

-- The admin manages configuration.
SET ROLE regress_rc_admin;
INSERT INTO role_cluster.network_listener (id) VALUES ('imap');
SELECT role_cluster.import_roles('{"name": "mail", "listeners": {"@type": "EnableSome", "listenerIds": ["imap"]}}');
UPDATE role_cluster.cluster_role SET tasks = 'EnableSome(storeMaintenance)' WHERE name = 'frontend';
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
SELECT jsonb_array_length(role_cluster.export_roles()) AS exported;
-- ... including what changes queued tasks: the derive triggers run for it
SELECT count(role_cluster.enqueue('pushNotifications', shard_key => 'alice')) AS push_task;
SELECT count(role_cluster.enqueue('searchIndexing', 'retype')) AS retyped_task;
UPDATE role_cluster.cluster_settings SET push_shards_total = 3;
UPDATE role_cluster.task_policy SET singleton = true WHERE task_type = 'searchIndexing';
SELECT task_type, singleton FROM role_cluster.task WHERE kind = 'retype';
UPDATE role_cluster.task SET task_type = 'outboundMta' WHERE kind = 'retype';
SELECT task_type, singleton, push_shard = role_cluster.shard_for(shard_key, 3) AS resharded
	FROM role_cluster.task ORDER BY id;
UPDATE role_cluster.task_policy SET singleton = false WHERE task_type = 'searchIndexing';
-- an INSERT replaces the settings row and a type's policy row, as the
-- README offers; the admin may not DELETE them, but the INSERT does
INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (2);
INSERT INTO role_cluster.task_policy (task_type, singleton) VALUES ('metricsPush', true);
SELECT push_shards_total FROM role_cluster.cluster_settings;
SELECT singleton FROM role_cluster.task_policy WHERE task_type = 'metricsPush';
INSERT INTO role_cluster.task_policy (task_type, singleton) VALUES ('metricsPush', false);
-- turning check_function_bodies off, as a restore does, skips no check for
-- an admin: the listener must exist, and a task gets its type's singleton flag
SET check_function_bodies = off;
INSERT INTO role_cluster.cluster_role (name, listeners) VALUES ('ghostly', 'EnableSome(ghost)');
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(ghost)' WHERE name = 'mail';
INSERT INTO role_cluster.task (task_type, singleton) VALUES ('spamClassifierTraining', false)
	RETURNING task_type, singleton;
RESET check_function_bodies;
DELETE FROM role_cluster.task;
DELETE FROM role_cluster.cluster_role WHERE name = 'mail';
RESET ROLE;
SELECT name, tasks FROM role_cluster.cluster_role;
-- (a superuser's restore may load a role before its listeners)
BEGIN;
SET LOCAL check_function_bodies = off;
INSERT INTO role_cluster.cluster_role (name, listeners) VALUES ('ghostly', 'EnableSome(ghost)')
	RETURNING name, listeners;
ROLLBACK;

-- SECURITY DEFINER functions pin their search_path to pg_catalog and
-- pg_temp (last); none is SECURITY DEFINER without it but the three entry
-- points in C, which pin it in C (to pg_catalog alone; the test of that is
-- below, after "hostile").
SELECT p.oid::regprocedure AS unpinned_definer, l.lanname
	FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'role_cluster'
	JOIN pg_language l ON l.oid = p.prolang
	WHERE p.prosecdef AND NOT EXISTS (
		SELECT FROM unnest(p.proconfig) c WHERE c = 'search_path=pg_catalog, pg_temp')
	ORDER BY 1::text;
-- No SECURITY DEFINER function may be executed by PUBLIC: a trigger
-- function could be attached to a table of the caller's and run as the
-- owner.
SELECT p.oid::regprocedure AS public_definer
	FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'role_cluster'
	WHERE p.prosecdef AND (p.proacl IS NULL OR EXISTS (
		SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'));
-- Every function of the extension that PUBLIC may execute (behind the
-- schema's USAGE, which PUBLIC lacks): the answers any login may ask for,
-- and nothing that acts or shows configuration.
SELECT p.oid::regprocedure AS public_function
	FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'role_cluster'
	WHERE p.proacl IS NULL OR EXISTS (
		SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
	ORDER BY 1::text;
-- The trigger helpers taken from PUBLIC are an admin's, for checks after a
-- restore.
SELECT r AS login_role,
	   has_function_privilege(r, 'role_cluster.trigger_modes()', 'EXECUTE') AS trigger_modes,
	   has_function_privilege(r, 'role_cluster.trigger_enable_command(name, name, "char")', 'EXECUTE') AS enable_command
	FROM unnest('{regress_rc_admin, regress_rc_node}'::name[]) r;
-- The admin may empty the configuration tables it manages, as a restore
-- of its own would.
SELECT t AS config_table,
	   has_table_privilege('regress_rc_admin', t, 'TRUNCATE') AS admin_truncates,
	   has_table_privilege('regress_rc_node', t, 'TRUNCATE') AS node_truncates
	FROM unnest('{role_cluster.cluster_role, role_cluster.network_listener}'::text[]) t;
-- The queue's gates are for the extension's own functions: whoever could
-- take one could stall the queue.
SELECT r AS login_role, has_function_privilege(r, 'role_cluster.gate_lock(text, integer, boolean)', 'EXECUTE')
	AS may_take_gates
	FROM unnest('{regress_rc_admin, regress_rc_node, regress_rc_nobody}'::name[]) r;
BEGIN;
SELECT role_cluster.gate_lock('singleton', 6, false) AS taken,
	   role_cluster.gate_lock('config', 10, true) AS taken_too;
SELECT classid, objid, objsubid, mode FROM pg_locks
	WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY classid;
ROLLBACK;
SELECT role_cluster.gate_lock('other', 1, true);
SELECT role_cluster.gate_lock('config', 11, true);
SELECT role_cluster.gate_lock('config', -1, true);
-- PUBLIC holds no privilege on any table or view of the extension.
SELECT c.oid::regclass AS public_relation
	FROM pg_class c JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'role_cluster',
	aclexplode(c.relacl) a
	WHERE a.grantee = 0;

-- A node's refused report says how the task stands, but not the error
-- recorded for it, which may be another node's handler's (starting with
-- this node's name, even): only an admin reads that.
INSERT INTO role_cluster.task (task_type, kind, attempts, last_error, singleton)
	VALUES ('outboundMta', 'secret', 1, 'node "regress_reader" AUTH failed: password=hunter2', false)
	RETURNING id AS secret \gset
SET SESSION AUTHORIZATION regress_rc_node;
SELECT node_id FROM role_cluster.register_node('regress_reader', NULL, 1);
SELECT role_cluster.complete_task(:secret, 'regress_reader');
RESET SESSION AUTHORIZATION;
SELECT role_cluster.complete_task(:secret, 'regress_reader');
DELETE FROM role_cluster.task WHERE kind = 'secret';
DELETE FROM role_cluster.node WHERE node_id = 'regress_reader';

-- complete_task() and claim_tasks() read the node's row (the login bound
-- to it) where they found it last, while that version is the current
-- one: a node id deregistered and registered again by another login is no
-- longer the first login's to act for, though the same session asks again.
SET SESSION AUTHORIZATION regress_rc_node;
SELECT node_id FROM role_cluster.register_node('regress_rebound', NULL, 1, 5);
SELECT count(role_cluster.enqueue('outboundMta', 'rebound')) AS enqueued
	FROM generate_series(1, 2);
SELECT id AS rebound_1 FROM role_cluster.claim_tasks('regress_rebound', 1) \gset
SELECT role_cluster.complete_task(:rebound_1, 'regress_rebound');
SET SESSION AUTHORIZATION regress_rc_admin;
SELECT role_cluster.deregister_node('regress_rebound') AS taken_back;
SELECT node_id FROM role_cluster.register_node('regress_rebound', NULL, 1, 5);
SELECT id AS rebound_2 FROM role_cluster.claim_tasks('regress_rebound', 1) \gset
SET SESSION AUTHORIZATION regress_rc_node;
SELECT role_cluster.complete_task(:rebound_2, 'regress_rebound');
SELECT count(*) FROM role_cluster.claim_tasks('regress_rebound', 1);
SET SESSION AUTHORIZATION regress_rc_admin;
SELECT role_cluster.complete_task(:rebound_2, 'regress_rebound');
RESET SESSION AUTHORIZATION;
SELECT state, count(*) FROM role_cluster.task WHERE kind = 'rebound' GROUP BY state;
DELETE FROM role_cluster.task WHERE kind = 'rebound';
DELETE FROM role_cluster.node WHERE node_id = 'regress_rebound';

-- Where the row was is a place in the table: after a vacuum cut the table
-- short below it, the next claim finds the row by its key.  (The vacuum's
-- invalidation drops the place kept; a claim that came between the cut
-- and the vacuum's commit would find a place past the table's end, which
-- rc_read_hinted() checks for: no test reaches that moment.)
SELECT count(role_cluster.register_node('regress_filler_' || i, NULL, 1)) AS fillers
	FROM generate_series(1, 300) i;
SELECT node_id FROM role_cluster.register_node('regress_far', NULL, 1, 5);
SELECT (ctid::text::point)[0]::int AS far_block FROM role_cluster.node
	WHERE node_id = 'regress_far' \gset
SELECT :far_block > 0 AS past_the_first_block;
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('regress_far', 1);
DELETE FROM role_cluster.node WHERE node_id LIKE 'regress\_f%';
VACUUM role_cluster.node;
SELECT pg_relation_size('role_cluster.node') / current_setting('block_size')::int <= :far_block
	AS cut_short;
SELECT node_id FROM role_cluster.register_node('regress_far', NULL, 1, 5);
SELECT count(*) AS claimed FROM role_cluster.claim_tasks('regress_far', 1);
DELETE FROM role_cluster.node WHERE node_id = 'regress_far';

-- The calls the extension's functions make fit the extension's own
-- functions exactly, so an overload made beside one (here by a superuser,
-- as CREATE on the schema would let another role) is never called in its
-- place.
CREATE FUNCTION role_cluster.role_enables_task(text, text) RETURNS boolean
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'the overload was called'; END$$;
CREATE FUNCTION role_cluster.every_next(timestamptz, interval, text, integer) RETURNS timestamptz
	LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'the overload was called'; END$$;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('pusher', 'EnableSome(pushNotifications)');
SELECT node_id, role_name, push_shard FROM role_cluster.register_node('regress_overload', 'pusher', 1);
INSERT INTO role_cluster.schedule (name, task_type, every)
	VALUES ('regress_overload', 'storeMaintenance', '1 hour');
SELECT name, every FROM role_cluster.schedule;
DELETE FROM role_cluster.schedule;
DELETE FROM role_cluster.node;
DELETE FROM role_cluster.cluster_role WHERE name = 'pusher';
DROP FUNCTION role_cluster.role_enables_task(text, text);
DROP FUNCTION role_cluster.every_next(timestamptz, interval, text, integer);
-- The three entry points in C pin the search path for all they run: a
-- caller whose path puts a hostile schema first reaches none of it.  A
-- trigger added to the task table records the path it runs under, and an
-- operator = on task_state in the hostile schema, which enqueue()'s
-- statement for a dedupe key would take if it saw the caller's path,
-- reports itself.  (A new session, so that its statements are prepared
-- under the path being tested.)
CREATE SCHEMA regress_rc_hostile;
GRANT USAGE ON SCHEMA regress_rc_hostile TO PUBLIC;
CREATE FUNCTION regress_rc_hostile.state_eq(role_cluster.task_state, role_cluster.task_state)
	RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'the hostile operator was called';
	RETURN $1::text OPERATOR(pg_catalog.=) $2::text;
END $$;
CREATE OPERATOR regress_rc_hostile.= (LEFTARG = role_cluster.task_state,
	RIGHTARG = role_cluster.task_state, FUNCTION = regress_rc_hostile.state_eq);
CREATE TABLE public.regress_path_seen (seq serial, op text, task_kind text, schemas name[]);
GRANT INSERT, SELECT ON public.regress_path_seen TO PUBLIC;
GRANT USAGE ON SEQUENCE public.regress_path_seen_seq_seq TO PUBLIC;
CREATE FUNCTION public.regress_record_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.regress_path_seen (op, task_kind, schemas)
		VALUES (TG_OP, NEW.kind, pg_catalog.current_schemas(true));
	RETURN NEW;
END $$;
CREATE TRIGGER regress_record_path BEFORE INSERT OR UPDATE ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION public.regress_record_path();
\c
SET SESSION AUTHORIZATION regress_rc_node;
CREATE TEMP TABLE task (id bigint);
SET search_path = regress_rc_hostile, pg_catalog, public, pg_temp;
SELECT (pg_catalog.current_schemas(true))[1:3] AS caller_path;
SELECT node_id FROM role_cluster.register_node('regress_pinned', NULL, 1);
SELECT count(role_cluster.enqueue('outboundMta', 'plain')) AS enqueued;
SELECT count(role_cluster.enqueue('outboundMta', 'deduped', dedupe_key => 'regress_pinned'))
	AS enqueued;
SELECT count(role_cluster.enqueue('outboundMta', 'deduped', dedupe_key => 'regress_pinned'))
	AS deduped;
SELECT count(role_cluster.enqueue('spamClassifierTraining', 'singleton')) AS enqueued;
-- the plain task, claimed and completed without a statement; then its
-- completion again, refused by the statement that says why
SELECT id AS plain_id FROM role_cluster.claim_tasks('regress_pinned', 1) \gset
SELECT role_cluster.complete_task(:plain_id, 'regress_pinned');
SELECT role_cluster.complete_task(:plain_id, 'regress_pinned');
-- the deduped task and the singleton, which a statement hands out
SELECT kind FROM role_cluster.claim_tasks('regress_pinned', 2) ORDER BY kind;
DROP TABLE pg_temp.task;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT op, task_kind, schemas FROM public.regress_path_seen ORDER BY seq;
DROP TRIGGER regress_record_path ON role_cluster.task;
DROP FUNCTION public.regress_record_path();
DROP TABLE public.regress_path_seen;
DROP SCHEMA regress_rc_hostile CASCADE;
DELETE FROM role_cluster.task WHERE kind IN ('plain', 'deduped', 'singleton');
DELETE FROM role_cluster.node WHERE node_id = 'regress_pinned';
-- The triggers that fire other than in ordinary sessions are those
-- trigger_modes() lists, as it lists them; audit() says when one is no
-- longer so, as after ENABLE TRIGGER ALL (pg_restore --disable-triggers).
SELECT c.relname, g.tgname, g.tgenabled
	FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
	WHERE c.relnamespace = 'role_cluster'::regnamespace AND NOT g.tgisinternal AND g.tgenabled <> 'O'
EXCEPT
SELECT * FROM role_cluster.trigger_modes();
SELECT * FROM role_cluster.trigger_modes()
EXCEPT
SELECT c.relname, g.tgname, g.tgenabled
	FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
	WHERE c.relnamespace = 'role_cluster'::regnamespace;
SELECT count(*) AS trigger_findings FROM role_cluster.audit() WHERE "check" = 'trigger_mode';
ALTER TABLE role_cluster.task_policy ENABLE TRIGGER ALL;
ALTER TABLE role_cluster.node DISABLE TRIGGER node_wake_worker;
CREATE FUNCTION regress_own_trigger() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER regress_own_trigger AFTER INSERT ON role_cluster.node
	FOR EACH STATEMENT EXECUTE FUNCTION regress_own_trigger();
ALTER TABLE role_cluster.node DISABLE TRIGGER regress_own_trigger;
SELECT severity, subject, detail, hint FROM role_cluster.audit() WHERE "check" = 'trigger_mode';
DROP TRIGGER regress_own_trigger ON role_cluster.node;
DROP FUNCTION regress_own_trigger();
ALTER TABLE role_cluster.node ENABLE TRIGGER node_wake_worker;
ALTER TABLE role_cluster.task_policy ENABLE ALWAYS TRIGGER task_policy_after_write;
ALTER TABLE role_cluster.task_policy ENABLE ALWAYS TRIGGER task_policy_wake_worker;
ALTER TABLE role_cluster.task_policy ENABLE REPLICA TRIGGER task_policy_wake_worker_applied;
SELECT count(*) AS trigger_findings FROM role_cluster.audit() WHERE "check" = 'trigger_mode';
-- audit() warns of CREATE on the schema granted to anyone but its owner.
GRANT CREATE ON SCHEMA role_cluster TO regress_rc_nobody, PUBLIC;
SELECT severity, "check", subject, detail, hint FROM role_cluster.audit()
	WHERE "check" = 'schema_create_granted';
REVOKE CREATE ON SCHEMA role_cluster FROM regress_rc_nobody, PUBLIC;
SELECT count(*) AS create_grants FROM role_cluster.audit() WHERE "check" = 'schema_create_granted';

DROP EXTENSION role_cluster;
-- A schema role_cluster that a login without superuser created first is
-- refused: it could take the extension's objects away from the roles.
-- (DROP EXTENSION leaves the schema, as it does not belong to it.)
DROP SCHEMA role_cluster;
CREATE SCHEMA role_cluster AUTHORIZATION regress_rc_nobody;
CREATE EXTENSION role_cluster;
ALTER SCHEMA role_cluster OWNER TO CURRENT_USER;
-- So is one in which another role may create objects, or one that holds
-- objects already: either could have an overload planted in it.
GRANT CREATE ON SCHEMA role_cluster TO regress_rc_nobody;
CREATE EXTENSION role_cluster;
GRANT CREATE ON SCHEMA role_cluster TO PUBLIC;
CREATE EXTENSION role_cluster;
REVOKE CREATE ON SCHEMA role_cluster FROM regress_rc_nobody, PUBLIC;
CREATE FUNCTION role_cluster.role_enables_task(text, text) RETURNS boolean
	LANGUAGE sql AS 'SELECT true';
CREATE EXTENSION role_cluster;
DROP FUNCTION role_cluster.role_enables_task(text, text);
CREATE TABLE role_cluster.node (node_id text);
CREATE EXTENSION role_cluster;
DROP TABLE role_cluster.node;
CREATE EXTENSION role_cluster;
SELECT count(*) AS objects FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	WHERE e.extname = 'role_cluster' AND d.deptype = 'e' HAVING count(*) > 100;
DROP EXTENSION role_cluster;
DROP SCHEMA role_cluster;
DROP ROLE regress_rc_admin;
DROP ROLE regress_rc_node;
DROP ROLE regress_rc_nobody;
