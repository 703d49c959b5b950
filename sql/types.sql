SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;

-- The expected output assumes a UTF8 database (a few ids are not ASCII).
SELECT current_setting('server_encoding') AS server_encoding;

SET search_path = role_cluster, public;

-- Runs a statement; returns 'ok' or the SQLSTATE and message of its error,
-- flagging an error that has no hint.
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	hint text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
	RETURN st || ' ' || msg || CASE WHEN hint = '' THEN ' (NO HINT)' ELSE '' END;
END
$$;

--
-- The C list of task types agrees with the SQL enum, label for label.
--
SELECT role_cluster.task_type_labels() = enum_range(NULL::role_cluster.task_type)::text[] AS agree;
SELECT role_cluster.task_type_labels();

--
-- Input forms and their one canonical output.
--
-- The seed's JSON, for each variant:
SELECT '{"@type":"EnableAll"}'::task_group;
SELECT '{"@type":"DisableAll"}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":["searchIndexing","metricsPush"]}'::task_group;
SELECT '{"@type":"DisableSome","taskTypes":["taskScheduler","storeMaintenance"]}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":[]}'::task_group;
SELECT '{"@type":"DisableSome","taskTypes":[]}'::task_group;
SELECT '{"@type":"EnableAll"}'::listener_group;
SELECT '{"@type":"DisableAll"}'::listener_group;
SELECT '{"@type":"EnableSome","listenerIds":["smtp","imap"]}'::listener_group;
SELECT '{"@type":"DisableSome","listenerIds":["http"]}'::listener_group;
SELECT '{"@type":"EnableSome","listenerIds":[]}'::listener_group;

-- Key order and white space do not matter.
SELECT '  {  "taskTypes" : [ "metricsPush" ,"searchIndexing" ] ,
	"@type":"EnableSome" }  '::task_group
	= '{"@type":"EnableSome","taskTypes":["searchIndexing","metricsPush"]}'::task_group AS same;
SELECT E'\t{"listenerIds":["imap"],\n"@type":"DisableSome"}\n'::listener_group;

-- The object-of-true set form: false and null entries are dropped.
SELECT '{"@type":"EnableSome","taskTypes":{"searchIndexing":true,"metricsPush":false}}'::task_group;
SELECT '{"@type":"DisableSome","taskTypes":{"outboundMta":true,"metricsPush":null,"taskScheduler":true}}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":{"metricsPush":false}}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":{}}'::task_group;
SELECT '{"taskTypes":{"searchIndexing":true},"@type":"EnableSome"}'::task_group
	= '{"@type":"EnableSome","taskTypes":["searchIndexing"]}'::task_group AS same;
SELECT '{"@type":"EnableSome","listenerIds":{"smtp":true,"imap":true,"pop3":false,"http":null}}'::listener_group;

-- The short form, with and without white space, bare and quoted items.
SELECT 'EnableAll'::task_group, 'DisableAll'::task_group;
SELECT 'EnableSome(searchIndexing, metricsPush)'::task_group;
SELECT 'DisableSome()'::task_group, 'EnableSome()'::task_group;
SELECT E'  DisableSome (\n\ttaskScheduler ,"storeMaintenance"\t)  '::task_group;
SELECT 'EnableSome(smtp,imap)'::listener_group, 'DisableSome( )'::listener_group;
SELECT 'EnableSome("imap 1", "a,b", "(x)", "q\"uote", "\u00e9", a\b, b-2.x:9)'::listener_group;
-- Listener ids come out in byte order.
SELECT 'EnableSome(a, é, _, Z, B)'::listener_group;

-- Output read back gives the same value, and the same text.
SELECT g::text, g::text::listener_group = g AS round_trip, g::text::listener_group::text = g::text AS same_text
FROM (SELECT 'EnableSome("imap 1", "a,b", "(x)", "q\"uote", "\u00e9", a\b, "\\")'::listener_group AS g) s;

-- Every task_group there is: both *Some variants with each of the 1024
-- subsets of task types, plus EnableAll and DisableAll, written in the
-- short form.
CREATE TEMP TABLE all_task_groups AS
WITH labels AS (
	SELECT t, (row_number() OVER (ORDER BY t) - 1)::int AS ord
	FROM unnest(enum_range(NULL::task_type)) t
),
some_groups AS (
	SELECT v, m, v || '(' || coalesce((SELECT string_agg(t::text, ', ' ORDER BY ord DESC)
	                                   FROM labels WHERE m & (1 << ord) <> 0), '') || ')' AS lit
	FROM generate_series(0, 1023) m, unnest(ARRAY['EnableSome', 'DisableSome']) v
)
SELECT v, m, lit, lit::task_group AS g FROM some_groups
UNION ALL SELECT 'EnableAll', 0, 'EnableAll', 'EnableAll'
UNION ALL SELECT 'DisableAll', 0, 'DisableAll', 'DisableAll';

SELECT count(*) AS groups,
	(SELECT count(*) FROM (SELECT DISTINCT g FROM all_task_groups) d) AS distinct_groups,
	bool_and(g::text::task_group = g) AS text_round_trip,
	bool_and(g::text::task_group::text = g::text) AS text_stable,
	bool_and(g::jsonb::task_group = g) AS jsonb_round_trip,
	bool_and(g::jsonb::text = g::text) AS jsonb_same_text,
	bool_and(task_group_variant(g) = v) AS variant_ok,
	bool_and(cardinality(task_group_task_types(g)) = length(replace(m::bit(10)::text, '0', ''))) AS task_types_ok
FROM all_task_groups;

--
-- Equality and hashing.
--
SELECT 'EnableSome(metricsPush, searchIndexing)'::task_group = 'EnableSome(searchIndexing,metricsPush)' AS eq,
	'EnableSome(metricsPush)'::task_group = 'DisableSome(metricsPush)' AS eq2,
	'EnableSome(metricsPush)'::task_group <> 'DisableSome(metricsPush)' AS ne,
	'EnableAll'::task_group <> 'EnableAll' AS ne2;
SELECT 'EnableSome(b, a)'::listener_group = '{"@type":"EnableSome","listenerIds":{"a":true,"b":true}}' AS eq,
	'EnableSome(a)'::listener_group = 'DisableSome(a)' AS eq2,
	'EnableSome(a)'::listener_group <> 'EnableSome(a, b)' AS ne,
	'EnableSome()'::listener_group = 'EnableSome()' AS eq3;
SELECT task_group_hash('EnableSome(metricsPush, searchIndexing)') = task_group_hash('EnableSome(searchIndexing, metricsPush)') AS same_hash,
	task_group_hash_extended('EnableSome(metricsPush)', 7) = task_group_hash_extended('{"@type":"EnableSome","taskTypes":["metricsPush"]}', 7) AS same_hash_ext,
	listener_group_hash('EnableSome(b, a)') = listener_group_hash('EnableSome(a, b)') AS same_lg_hash,
	listener_group_hash_extended('EnableSome(b, a)', 7) = listener_group_hash_extended('EnableSome(a, b)', 7) AS same_lg_hash_ext;

-- GROUP BY and DISTINCT hash the values (there is no ordering).
SELECT g, count(*) FROM (VALUES ('EnableAll'::task_group), ('{"@type":"EnableAll"}'),
	('EnableSome(metricsPush, searchIndexing)'), ('EnableSome(searchIndexing, metricsPush)'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":true,"searchIndexing":true,"outboundMta":false}}'),
	('DisableSome()')) v(g)
GROUP BY g ORDER BY g::text;
SELECT count(*) FROM (SELECT DISTINCT g FROM (VALUES ('EnableSome(b,a)'::listener_group), ('EnableSome(a,b)'),
	('EnableSome(a)'), ('DisableSome(a)'), ('EnableAll'), ('{"@type":"EnableAll"}')) v(g)) d;
SELECT g FROM (SELECT DISTINCT g FROM (VALUES ('EnableSome(b,a)'::listener_group), ('EnableSome(a,b)'), ('DisableAll')) v(g)) d
ORDER BY g::text;

-- A hash join and a hash index.
SELECT count(*) AS matches FROM all_task_groups a JOIN all_task_groups b ON a.g = b.g;
CREATE TEMP TABLE lg_idx (g listener_group);
INSERT INTO lg_idx SELECT ('EnableSome(l' || i || ', m' || i || ')')::listener_group FROM generate_series(1, 200) i;
CREATE INDEX ON lg_idx USING hash (g);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM lg_idx WHERE g = 'EnableSome(m7, l7)';
SELECT * FROM lg_idx WHERE g = 'EnableSome(m7, l7)';
RESET enable_seqscan;
RESET enable_bitmapscan;

--
-- @> ("does the group enable it?") for the four variants over the ten
-- task types: x = enabled, in enum order.
--
SELECT g, string_agg(CASE WHEN g::task_group @> t THEN 'x' ELSE '.' END, '' ORDER BY t) AS enables
FROM (VALUES ('EnableAll'), ('DisableAll'), ('EnableSome(metricsPush, searchIndexing)'),
	('DisableSome(metricsPush, searchIndexing)'), ('EnableSome()'), ('DisableSome()')) v(g),
	unnest(enum_range(NULL::task_type)) t
GROUP BY g ORDER BY g;

-- The same rule, checked for every task_group and every task type.
SELECT count(*) AS checked,
	bool_and((g @> t) = CASE v
		WHEN 'EnableAll' THEN true
		WHEN 'DisableAll' THEN false
		WHEN 'EnableSome' THEN t = ANY (task_group_task_types(g))
		WHEN 'DisableSome' THEN NOT t = ANY (task_group_task_types(g)) END) AS rule_holds,
	bool_and((t = ANY (task_group_task_types(g))) = (m & (1 << (array_position(enum_range(NULL::task_type), t) - 1)) <> 0)) AS listed_ok
FROM all_task_groups, unnest(enum_range(NULL::task_type)) t;
SELECT 'EnableAll'::task_group @> NULL::task_type AS null_task;

-- listener_group @> text: only exact ids count (no prefixes, no case folding).
SELECT g, string_agg(id || '=' || CASE WHEN g::listener_group @> id THEN 'y' ELSE 'n' END, ' ' ORDER BY id) AS enables
FROM (VALUES ('EnableAll'), ('DisableAll'), ('EnableSome(imap, smtp)'), ('DisableSome(imap, smtp)'),
	('EnableSome()'), ('DisableSome()')) v(g),
	unnest(ARRAY['imap', 'imaps', 'ima', 'IMAP', 'smtp', 'http', '']) id
GROUP BY g ORDER BY g;

--
-- Accessors.
--
SELECT task_group_variant(g), task_group_task_types(g)
FROM (VALUES ('EnableAll'::task_group), ('DisableAll'), ('EnableSome(taskScheduler, storeMaintenance)'),
	('DisableSome(metricsPush)'), ('EnableSome()')) v(g);
SELECT pg_typeof(task_group_task_types('EnableSome(metricsPush)'));
SELECT listener_group_variant(g), listener_group_ids(g)
FROM (VALUES ('EnableAll'::listener_group), ('DisableAll'), ('EnableSome(smtp, imap)'),
	('DisableSome("x y")'), ('DisableSome()')) v(g);

--
-- Casts to and from jsonb.
--
SELECT 'EnableSome(searchIndexing, metricsPush)'::task_group::jsonb;
SELECT jsonb_typeof('EnableAll'::task_group::jsonb), 'EnableAll'::task_group::jsonb -> '@type' AS variant;
SELECT 'DisableSome(smtp, "a b")'::listener_group::jsonb;
SELECT 'EnableSome(smtp, "a b")'::listener_group::jsonb -> 'listenerIds' -> 0 AS first_id;
SELECT '{"taskTypes": ["metricsPush"], "@type": "EnableSome"}'::jsonb::task_group;
SELECT '{"@type": "EnableSome", "taskTypes": {"metricsPush": true, "outboundMta": false}}'::jsonb::task_group;
SELECT '{"@type": "DisableSome", "listenerIds": ["b", "a"]}'::jsonb::listener_group;
-- jsonb keeps the last of duplicate keys before the cast sees them.
SELECT '{"@type": "Bogus", "@type": "EnableAll"}'::jsonb::task_group;
-- The cast checks what text input checks.
SELECT pg_temp.try($$SELECT '{"@type": "EnableAll", "taskTypes": []}'::jsonb::role_cluster.task_group$$);
SELECT pg_temp.try($$SELECT '{"@type": "EnableSome", "taskTypes": ["bogus"]}'::jsonb::role_cluster.task_group$$);
SELECT pg_temp.try($$SELECT '"EnableAll"'::jsonb::role_cluster.task_group$$);
SELECT pg_temp.try($$SELECT '[]'::jsonb::role_cluster.listener_group$$);
SELECT pg_temp.try($$SELECT 'null'::jsonb::role_cluster.task_group$$);
SELECT pg_temp.try($$SELECT 'null'::jsonb::role_cluster.listener_group$$);
SELECT pg_temp.try($$SELECT '{"@type": "EnableSome", "listenerIds": [""]}'::jsonb::role_cluster.listener_group$$);
SELECT pg_temp.try($$SELECT '{"@type": "EnableSome", "listenerIds": 1}'::jsonb::role_cluster.listener_group$$);

--
-- Limits that are still valid: a 255-byte id (ASCII and two-byte
-- characters) and 1024 ids.
--
SELECT length((listener_group_ids(('EnableSome(' || repeat('x', 255) || ')')::listener_group))[1]) AS ascii_255;
SELECT octet_length((listener_group_ids(('EnableSome(' || repeat('é', 127) || 'x)')::listener_group))[1]) AS bytes_255;
SELECT cardinality(listener_group_ids(('EnableSome(' || string_agg('id' || i, ',') || ')')::listener_group)) AS ids
FROM generate_series(1, 1024) i;

--
-- Bad text input: each is an error with SQLSTATE 22P02 (the input's form)
-- or 22023 (a well-formed entry whose value is not allowed), a message that
-- names the offending value, and a hint.
--
-- First a few in full, with their detail and hint.
SELECT 'EnableSome(searchIndexng)'::task_group;
SELECT '{"@type":"Enable"}'::task_group;
SELECT '{"@type":"EnableAll","taskTypes":[]}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":true}'::task_group;
SELECT '{"@type":"EnableSome","taskTypes":{"metricsPush":"yes"}}'::task_group;
SELECT '{"@type":"EnableAll","tasktypes":[]}'::task_group;
SELECT '{"@type":"EnableAll"'::task_group;
SELECT ''::task_group;
SELECT 'EnableSome(imap,)'::listener_group;
SELECT 'EnableSome("")'::listener_group;
SELECT 'EnableSome("a\u0007b")'::listener_group;

-- Then many more, with their SQLSTATE.
SELECT left(lit, 70) AS literal, pg_temp.try(format('SELECT %L::role_cluster.task_group', lit)) AS result
FROM (VALUES
	(''),
	('   '),
	('Enable'),
	('enableall'),
	('EnableAll x'),
	('EnableAll()'),
	('DisableAll(metricsPush)'),
	('EnableSome'),
	('DisableSome'),
	('EnableSome(searchIndexng)'),
	('EnableSome(metricsPush,metricsPush)'),
	('EnableSome(metricsPush'),
	('EnableSome(metricsPush,)'),
	('EnableSome(,)'),
	('EnableSome(metricsPush searchIndexing)'),
	('EnableSome(metricsPush))'),
	('EnableSome(metricsPush) (searchIndexing)'),
	('EnableSome("metricsPush)'),
	('EnableSome("metrics\Push")'),
	('EnableSome("")'),
	('EnableSome(("metricsPush"))'),
	('{"@type":"Enable"}'),
	('{"@type":"enableAll"}'),
	('{"@type":"EnableSome","taskTypes":["searchIndexng"]}'),
	('{"@type":"EnableSome","taskTypes":[""]}'),
	('{"@type":"EnableAll","taskTypes":[]}'),
	('{"@type":"DisableAll","taskTypes":{}}'),
	('{"@type":"EnableSome"}'),
	('{"@type":"EnableAll","x":1}'),
	('{"@type":"EnableAll","tasktypes":[]}'),
	('{"@TYPE":"EnableAll"}'),
	('{"@type":"EnableSome","listenerIds":[]}'),
	('{"@type":"EnableAll","@type":"EnableAll"}'),
	('{"@type":"EnableSome","taskTypes":[],"taskTypes":[]}'),
	('{"@type":"EnableSome","taskTypes":["metricsPush","metricsPush"]}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":true,"metricsPush":false}}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":false,"metricsPush":true}}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":false,"bogus":false}}'),
	('{"@type":"EnableSome","taskTypes":[1]}'),
	('{"@type":"EnableSome","taskTypes":[null]}'),
	('{"@type":"EnableSome","taskTypes":[true]}'),
	('{"@type":"EnableSome","taskTypes":[{"metricsPush":true}]}'),
	('{"@type":"EnableSome","taskTypes":[["metricsPush"]]}'),
	('{"@type":"EnableSome","taskTypes":true}'),
	('{"@type":"EnableSome","taskTypes":null}'),
	('{"@type":"EnableSome","taskTypes":"metricsPush"}'),
	('{"@type":"EnableSome","taskTypes":42}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":"yes"}}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":1}}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":{}}}'),
	('{"@type":"EnableSome","taskTypes":{"metricsPush":[true]}}'),
	('{"@type":42}'),
	('{"@type":null}'),
	('{"@type":true}'),
	('{"@type":["EnableAll"]}'),
	('{"@type":{"EnableAll":true}}'),
	('{"taskTypes":[]}'),
	('{}'),
	('[]'),
	('["EnableAll"]'),
	('"EnableAll"'),
	('{"@type":"EnableAll"'),
	('{"@type":"EnableAll",}'),
	('{"@type":"EnableAll"} x'),
	('{"@type":"EnableAll"}{}'),
	('{"@type":"EnableSome","taskTypes":["metricsPush",]}'),
	('{"@type":"EnableSome","taskTypes":["metricsPush\u0000"]}'),
	('{"@type":"EnableSome","taskTypes":["metrics\Push"]}'),
	('{''@type'':''EnableAll''}'),
	('{"@type":"EnableAll" "taskTypes":[]}'),
	('{"@type" "EnableAll"}'),
	(E'{"@type":"Enable\tAll"}'),
	('{"@type":"EnableAll","taskTypes":' || repeat('[', 100000)),
	(repeat('[', 100000)),
	(repeat('{"@type":', 100000)),
	(repeat('x', 1000000)),
	('{"@type":"' || repeat('x', 1000000) || '"}'),
	('EnableSome(' || repeat('metricsPush,', 100000) || ')')
) v(lit);

SELECT left(lit, 70) AS literal, pg_temp.try(format('SELECT %L::role_cluster.listener_group', lit)) AS result
FROM (VALUES
	(''),
	('DisableALL'),
	('EnableAll(imap)'),
	('EnableSome'),
	('EnableSome(imap'),
	('EnableSome(imap,,smtp)'),
	('EnableSome(imap smtp)'),
	('EnableSome(imap"smtp")'),
	('EnableSome(("imap"))'),
	('EnableSome("")'),
	('EnableSome("imap\x")'),
	('EnableSome("a\ud800")'),
	('EnableSome("a\u0007b")'),
	('EnableSome("a\nb")'),
	('EnableSome("\u007f")'),
	('EnableSome(imap,imap)'),
	('EnableSome(imap, "imap")'),
	('EnableSome(' || repeat('x', 256) || ')'),
	('EnableSome(' || repeat('é', 128) || ')'),
	('EnableSome(' || repeat('x', 1000000) || ')'),
	('{"@type":"EnableSome","listenerIds":[""]}'),
	('{"@type":"EnableSome","listenerIds":["imap","imap"]}'),
	('{"@type":"EnableSome","listenerIds":{"imap":true,"imap":null}}'),
	('{"@type":"EnableSome","listenerIds":{"":false}}'),
	('{"@type":"EnableSome","listenerIds":[true]}'),
	('{"@type":"EnableSome","listenerIds":[7]}'),
	('{"@type":"EnableSome","listenerIds":{"imap":"true"}}'),
	('{"@type":"EnableSome","taskTypes":[]}'),
	('{"@type":"DisableAll","listenerIds":{}}'),
	('{"@type":"DisableSome"}'),
	('{"@type":"DisableSome","listenerIds":"imap"}')
) v(lit);

-- More ids than the cap.
SELECT pg_temp.try(format('SELECT %L::role_cluster.listener_group',
	'EnableSome(' || string_agg('id' || i, ',') || ')')) AS result
FROM generate_series(1, 1025) i;
SELECT pg_temp.try(format('SELECT %L::role_cluster.listener_group',
	'{"@type": "DisableSome", "listenerIds": {' || string_agg('"id' || i || '": false', ',') || '}}')) AS result
FROM generate_series(1, 1025) i;

--
-- Binary I/O: a COPY round trip in FORMAT binary.
--
\getenv abs_builddir PG_ABS_BUILDDIR
\set binfile :abs_builddir '/results/types_binary.bin'
SET rc_test.binfile = :'binfile';

CREATE TEMP TABLE lg_all (g listener_group);
INSERT INTO lg_all VALUES ('EnableAll'), ('DisableAll'), ('EnableSome()'), ('DisableSome()'),
	('EnableSome(imap)'), ('DisableSome(smtp, imap, "a b", "q\"uote", é, "\u20ac")'),
	(('EnableSome(' || repeat('z', 255) || ', ' || repeat('é', 127) || ')')::listener_group);
INSERT INTO lg_all SELECT ('EnableSome(' || string_agg('id' || i, ',') || ')')::listener_group
FROM generate_series(1, 1024) i;

DO $$
BEGIN
	EXECUTE format('COPY (SELECT g FROM all_task_groups) TO %L (FORMAT binary)', current_setting('rc_test.binfile'));
	CREATE TEMP TABLE tg_copy (g role_cluster.task_group);
	EXECUTE format('COPY tg_copy FROM %L (FORMAT binary)', current_setting('rc_test.binfile'));
	EXECUTE format('COPY lg_all TO %L (FORMAT binary)', current_setting('rc_test.binfile'));
	CREATE TEMP TABLE lg_copy (g role_cluster.listener_group);
	EXECUTE format('COPY lg_copy FROM %L (FORMAT binary)', current_setting('rc_test.binfile'));
END
$$;
SELECT count(*) AS copied, count(*) FILTER (WHERE g IN (SELECT g FROM all_task_groups)) AS found
FROM tg_copy;
SELECT (SELECT count(*) FROM lg_copy) AS copied,
	(SELECT count(*) FROM lg_copy c JOIN lg_all a ON a.g = c.g) AS found,
	(SELECT count(*) FROM lg_copy c JOIN lg_all a ON a.g::text = c.g::text) AS same_text;

-- Bad binary input: a bytea's binary COPY is its raw bytes, so copying a
-- bytea out and reading the file back as a group feeds recv those bytes.
CREATE FUNCTION pg_temp.try_recv(typ text, payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	result text;
BEGIN
	EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', payload, current_setting('rc_test.binfile'));
	EXECUTE format('CREATE TEMP TABLE recv_target (g role_cluster.%I)', typ);
	EXECUTE format('COPY recv_target FROM %L (FORMAT binary)', current_setting('rc_test.binfile'));
	SELECT g::text INTO result FROM recv_target;
	DROP TABLE recv_target;
	RETURN 'ok ' || result;
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ' ' || msg;
END
$$;

-- task_group: int8 variant, int16 mask.
SELECT what, pg_temp.try_recv('task_group', payload) AS result
FROM (VALUES
	('valid EnableSome', '\x020021'::bytea),
	('valid DisableSome', '\x0303ff'),
	('the send of a value', task_group_send('DisableSome(taskScheduler)')),
	('variant 7', '\x070000'),
	('variant 4', '\x040000'),
	('variant 255', '\xff0000'),
	('reserved mask bit', '\x020400'),
	('all mask bits', '\x03ffff'),
	('mask on EnableAll', '\x000001'),
	('mask on DisableAll', '\x010200'),
	('too short', '\x0200'),
	('empty', '\x'),
	('too long', '\x02000100')
) v(what, payload);

-- listener_group: int8 variant, int32 count, then int32 length + bytes per id.
SELECT what, pg_temp.try_recv('listener_group', payload) AS result
FROM (VALUES
	('valid', '\x02 00000002 00000001 61 00000002 c3a9'::bytea),
	('valid empty', '\x03 00000000'),
	('the send of a value', listener_group_send('DisableSome(b, a)')),
	('variant 7', '\x07 00000000'),
	('ids on EnableAll', '\x00 00000001 00000001 61'),
	('negative count', '\x02 ffffffff'),
	('count over the cap', '\x02 00000401'),
	('count past the data', '\x02 00000002 00000001 61'),
	('negative length', '\x02 00000001 ffffffff'),
	('length past the data', '\x02 00000001 00000010 61'),
	('empty id', '\x02 00000001 00000000'),
	('unsorted ids (sorted)', '\x02 00000002 00000001 62 00000001 61'),
	('duplicate ids', '\x02 00000002 00000001 61 00000001 61'),
	('duplicates apart', '\x02 00000003 00000001 61 00000001 62 00000001 61'),
	('invalid UTF-8', '\x02 00000001 00000002 c328'),
	('lone byte 0xff', '\x02 00000001 00000003 61ff62'),
	('truncated UTF-8', '\x02 00000001 00000001 c3'),
	('control character', '\x02 00000001 00000002 610a'),
	('NUL byte', '\x02 00000001 00000002 6100'),
	('256-byte id', '\x02 00000001 00000100'::bytea || decode(repeat('61', 256), 'hex')),
	('trailing bytes', '\x02 00000001 00000001 61 00')
) v(what, payload);

--
-- The task type map of the C code follows the enum.
--
-- A label the library does not know (the enum changed behind its back):
ALTER TYPE role_cluster.task_type ADD VALUE 'newTaskType';
SELECT role_cluster.task_type_labels() = enum_range(NULL::role_cluster.task_type)::text[] AS agree;
SELECT 'EnableAll'::task_group @> 'newTaskType'::task_type;
SELECT 'EnableSome(metricsPush)'::task_group @> 'metricsPush'::task_type AS known_still_work;
-- A new extension in this session has a new enum: the map is reloaded
-- (a stale map would hand out the dropped enum's values).
SELECT task_group_task_types('EnableSome(metricsPush, taskScheduler)');
SET client_min_messages = warning;
DROP EXTENSION role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
SELECT task_group_task_types('EnableSome(metricsPush, taskScheduler)');
SELECT string_agg(CASE WHEN 'DisableSome(metricsPush)'::task_group @> t THEN 'x' ELSE '.' END, '' ORDER BY t) AS enables
FROM unnest(enum_range(NULL::task_type)) t;

-- A label the library needs renamed behind its back: every path that maps
-- task types says so, the role cache's as well as the operators'.  Each
-- check in a session of its own, whose maps are not loaded yet.
\c
BEGIN;
ALTER TYPE role_cluster.task_type RENAME VALUE 'metricsPush' TO 'renamedType';
SELECT role_cluster.role_exists('nosuchrole');
ROLLBACK;
\c
BEGIN;
ALTER TYPE role_cluster.task_type RENAME VALUE 'metricsPush' TO 'renamedType';
SET LOCAL search_path = role_cluster, public;
SELECT 'EnableAll'::task_group @> 'searchIndexing'::task_type;
ROLLBACK;
\c
BEGIN;
ALTER TYPE role_cluster.task_type RENAME TO renamed_task_type;
SELECT role_cluster.task_batch_rows('[{"task_type": "searchIndexing"}]');
ROLLBACK;
-- The extension's schema or a table renamed behind its back: the role
-- cache says what it misses, not that the extension is missing.
\c
BEGIN;
ALTER SCHEMA role_cluster RENAME TO renamed_role_cluster;
SELECT renamed_role_cluster.role_enables_task('frontend', 'outboundMta');
ROLLBACK;
\c
BEGIN;
ALTER TABLE role_cluster.network_listener RENAME TO renamed_listener;
SELECT role_cluster.role_enables_task('frontend', 'outboundMta');
ROLLBACK;
-- And the library called with no extension at all (a function made by hand
-- in a database without it): it says so.
\c
BEGIN;
SET LOCAL client_min_messages = warning;
DROP EXTENSION role_cluster CASCADE;
RESET client_min_messages;
CREATE FUNCTION pg_temp.enables_listener(text, text) RETURNS boolean
	AS 'role_cluster', 'role_enables_listener' LANGUAGE C;
SELECT pg_temp.enables_listener('frontend', 'imap');
ROLLBACK;
SELECT role_cluster.role_exists('nosuchrole') AS after_rollback;
