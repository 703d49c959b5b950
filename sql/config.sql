-- Configuration tables: roles, listeners, settings, import and export.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- The seed's two examples, verbatim.
SELECT role_cluster.import_roles('{
"name": "frontend",
"description": "Serves IMAP, JMAP, SMTP and WebDAV traffic",
"tasks": {
"@type": "DisableAll"
},
"listeners": {
"@type": "EnableAll"
}
}');
SELECT role_cluster.import_roles('{
"name": "maintenance",
"description": "Runs store maintenance, indexing, and metrics",
"tasks": {
"@type": "EnableSome",
"taskTypes": [
"storeMaintenance",
"accountMaintenance",
"searchIndexing",
"metricsCalculate",
"metricsPush"
]
},
"listeners": {
"@type": "DisableAll"
}
}');
SELECT name, description, tasks, listeners FROM role_cluster.cluster_role ORDER BY name;

-- Defaults: tasks and listeners enable everything, description may be NULL.
INSERT INTO role_cluster.cluster_role (name) VALUES ('everything');
SELECT name, description, tasks, listeners FROM role_cluster.cluster_role WHERE name = 'everything';
-- Names are case-sensitive.
INSERT INTO role_cluster.cluster_role (name) VALUES ('Everything');
SELECT count(*) FROM role_cluster.cluster_role WHERE lower(name) = 'everything';

-- Bad rows.  (Terse: the failing rows' timestamps would vary.)
\set VERBOSITY terse
INSERT INTO role_cluster.cluster_role (name) VALUES ('');
INSERT INTO role_cluster.cluster_role (name) VALUES (NULL);
INSERT INTO role_cluster.cluster_role (name, description) VALUES ('x', '');
INSERT INTO role_cluster.cluster_role (name) VALUES ('frontend');
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES ('x', NULL);
INSERT INTO role_cluster.cluster_role (name, listeners) VALUES ('x', NULL);
UPDATE role_cluster.cluster_role SET description = '' WHERE name = 'frontend';
\set VERBOSITY default
UPDATE role_cluster.cluster_role SET name = 'backend' WHERE name = 'frontend';
SELECT name FROM role_cluster.cluster_role ORDER BY name;

-- updated_at follows changes, created_at stays.
UPDATE role_cluster.cluster_role SET created_at = '2020-01-01', updated_at = '2020-01-01'
	WHERE name = 'everything';
UPDATE role_cluster.cluster_role SET description = 'Runs it all' WHERE name = 'everything';
SELECT created_at = '2020-01-01' AS created_kept, updated_at > '2020-01-01' AS updated_moved
	FROM role_cluster.cluster_role WHERE name = 'everything';

-- Listener references behave like a foreign key.
INSERT INTO role_cluster.network_listener (id, protocol, bind) VALUES
	('imap', 'imap', '[::]:993'), ('smtp', 'smtp', '[::]:25'), ('jmap', 'http', '[::]:443');
INSERT INTO role_cluster.cluster_role (name, listeners)
	VALUES ('mx', '{"@type": "EnableSome", "listenerIds": ["smtp"]}');
INSERT INTO role_cluster.cluster_role (name, listeners)
	VALUES ('no-pop', '{"@type": "DisableSome", "listenerIds": ["pop3"]}');
UPDATE role_cluster.cluster_role SET listeners = 'EnableSome(smtp, submission)' WHERE name = 'mx';
SELECT name, listeners FROM role_cluster.cluster_role WHERE name IN ('mx', 'no-pop');
DELETE FROM role_cluster.network_listener WHERE id = 'smtp';
UPDATE role_cluster.network_listener SET id = 'smtp-in' WHERE id = 'smtp';
TRUNCATE role_cluster.network_listener;
-- Both tables in one TRUNCATE, in either order, leave nothing dangling: it
-- goes through, as with a foreign key.
BEGIN;
TRUNCATE role_cluster.cluster_role, role_cluster.network_listener;
SELECT (SELECT count(*) FROM role_cluster.cluster_role) AS roles,
	   (SELECT count(*) FROM role_cluster.network_listener) AS listeners;
ROLLBACK;
BEGIN;
TRUNCATE role_cluster.network_listener, role_cluster.cluster_role;
ROLLBACK;
SELECT count(*) AS listeners_still_there FROM role_cluster.network_listener;
-- DisableSome names a listener as much as EnableSome does.
UPDATE role_cluster.cluster_role SET listeners = 'DisableSome(jmap)' WHERE name = 'mx';
DELETE FROM role_cluster.network_listener WHERE id = 'jmap';
DELETE FROM role_cluster.network_listener WHERE id = 'smtp';
-- Unnamed listeners go freely, and renaming in place works.
UPDATE role_cluster.network_listener SET bind = '[::]:143' WHERE id = 'imap';
UPDATE role_cluster.network_listener SET id = 'imaps' WHERE id = 'imap';
DELETE FROM role_cluster.network_listener WHERE id = 'imaps';
SELECT id, protocol, bind FROM role_cluster.network_listener ORDER BY id;
INSERT INTO role_cluster.network_listener (id) VALUES ('');
-- only ids a listener_group can name: at most 255 bytes, no control characters
INSERT INTO role_cluster.network_listener (id) VALUES (E'bad\nid');
INSERT INTO role_cluster.network_listener (id) VALUES (repeat('x', 256));
INSERT INTO role_cluster.network_listener (id) VALUES (repeat('x', 255)) RETURNING octet_length(id);
DELETE FROM role_cluster.network_listener WHERE id = repeat('x', 255);
INSERT INTO role_cluster.network_listener (id, description) VALUES ('pop3', '');
UPDATE role_cluster.cluster_role SET listeners = 'EnableAll' WHERE name = 'mx';
TRUNCATE role_cluster.network_listener;
SELECT count(*) FROM role_cluster.network_listener;

-- Settings: one row, default push_shards_total 1.
SELECT id, push_shards_total FROM role_cluster.cluster_settings;
\set VERBOSITY terse
UPDATE role_cluster.cluster_settings SET push_shards_total = 0;
UPDATE role_cluster.cluster_settings SET push_shards_total = NULL;
UPDATE role_cluster.cluster_settings SET push_shards_total = 1025;
INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (100000);
UPDATE role_cluster.cluster_settings SET push_shards_total = 1024;
UPDATE role_cluster.cluster_settings SET push_shards_total = 1;
UPDATE role_cluster.cluster_settings SET id = false;
\set VERBOSITY default
UPDATE role_cluster.cluster_settings SET push_shards_total = 4;
DELETE FROM role_cluster.cluster_settings;
TRUNCATE role_cluster.cluster_settings;
-- An INSERT replaces the row (this is how a dump restores it).
INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (2);
SELECT id, push_shards_total FROM role_cluster.cluster_settings;
\set VERBOSITY terse
INSERT INTO role_cluster.cluster_settings (push_shards_total) VALUES (-1);
-- an id other than true is refused, as by an UPDATE, not taken as the row
INSERT INTO role_cluster.cluster_settings (id, push_shards_total) VALUES (false, 5);
INSERT INTO role_cluster.cluster_settings (id, push_shards_total) VALUES (NULL, 6);
\set VERBOSITY default
SELECT id, push_shards_total FROM role_cluster.cluster_settings;

-- Export, then import again: nothing changes.
SELECT jsonb_pretty(role_cluster.export_roles());
CREATE TEMP TABLE before AS SELECT * FROM role_cluster.cluster_role;
SELECT role_cluster.import_roles(role_cluster.export_roles());
SELECT count(*) AS changed FROM (
	SELECT * FROM before EXCEPT SELECT * FROM role_cluster.cluster_role) d;
-- An import that changes a role updates it whole; an array upserts several.
SELECT role_cluster.import_roles('[{"name": "frontend", "tasks": {"@type": "EnableSome", "taskTypes": {"outboundMta": true}}},
	{"name": "push", "description": "Push notifications", "tasks": {"@type": "EnableSome", "taskTypes": ["pushNotifications"]}, "listeners": {"@type": "DisableAll"}}]');
SELECT name, description, tasks, listeners FROM role_cluster.cluster_role
	WHERE name IN ('frontend', 'push') ORDER BY name;
SELECT role_cluster.import_roles('[]');
-- An import that changes only the listeners changes them; a bad list names the role.
BEGIN;
INSERT INTO role_cluster.network_listener (id) VALUES ('imp1');
SELECT role_cluster.import_roles('{"name": "imp", "listeners": {"@type": "EnableSome", "listenerIds": ["imp1"]}}');
SELECT role_cluster.import_roles('{"name": "imp", "listeners": {"@type": "DisableAll"}}');
SELECT listeners FROM role_cluster.cluster_role WHERE name = 'imp';
SELECT role_cluster.import_roles('{"name": "dup", "listeners": {"@type": "EnableSome", "listenerIds": ["imp1", "imp1"]}}');
ROLLBACK;
-- JSON null is taken as left out: no description, EnableAll
BEGIN;
SELECT role_cluster.import_roles('{"name": "nulls", "description": null, "tasks": null, "listeners": null}');
SELECT name, description, tasks, listeners FROM role_cluster.cluster_role WHERE name = 'nulls';
ROLLBACK;

-- Bad imports change nothing.
SELECT role_cluster.import_roles(NULL);
SELECT role_cluster.import_roles('"frontend"');
SELECT role_cluster.import_roles('[1]');
SELECT role_cluster.import_roles('{"description": "no name"}');
SELECT role_cluster.import_roles('{"name": 7}');
\set VERBOSITY terse
SELECT role_cluster.import_roles('{"name": ""}');
\set VERBOSITY default
SELECT role_cluster.import_roles('{"name": "x", "tasks": "EnableAll"}');
SELECT role_cluster.import_roles('{"name": "x", "shard": 1}');
SELECT role_cluster.import_roles('{"name": "x", "description": 5}');
SELECT role_cluster.import_roles('{"name": "x", "description": ""}');
SELECT role_cluster.import_roles('{"name": "x", "tasks": 5}');
SELECT role_cluster.import_roles('{"name": "x", "tasks": {"@type": "EnableSome"}}');
SELECT role_cluster.import_roles('{"name": "x", "tasks": {"@type": "EnableSome", "taskTypes": ["bogus"]}}');
SELECT role_cluster.import_roles('{"name": "x", "listeners": {"@type": "EnableSome", "listenerIds": ["nowhere"]}}');
SELECT role_cluster.import_roles('[{"name": "x"}, {"name": "x"}]');
SELECT role_cluster.import_roles('[{"name": "ok"}, {"name": "bad", "tasks": {"@type": "Sometimes"}}]');
SELECT count(*) AS unchanged FROM role_cluster.cluster_role WHERE name IN ('x', 'ok', 'bad');

DROP TABLE before;
DROP EXTENSION role_cluster;
