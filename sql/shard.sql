SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;

--
-- shard_for(subscriber, nshards): jump consistent hash of XXH3-64 of the
-- key's UTF-8 bytes, plus one.
--

-- Test vectors computed without our C: test/shard_vectors.py hashes each
-- key with the xxHash project's xxhsum tool (xxhsum -H3) and runs its own
-- Python jump hash, checked against values published by ClickHouse.
-- Regenerate with: python3 test/shard_vectors.py
CREATE TEMP TABLE vectors (subscriber text, nshards int, shard int);
INSERT INTO vectors VALUES
	('', 1, 1),
	('', 2, 1),
	('', 3, 1),
	('', 7, 1),
	('', 10, 1),
	('', 64, 53),
	('', 1000, 242),
	('', 2147483647, 1827261220),
	('a', 1, 1),
	('a', 2, 2),
	('a', 3, 2),
	('a', 7, 2),
	('a', 10, 9),
	('a', 64, 15),
	('a', 1000, 351),
	('a', 2147483647, 1374066345),
	('42', 1, 1),
	('42', 2, 1),
	('42', 3, 1),
	('42', 7, 4),
	('42', 10, 4),
	('42', 64, 29),
	('42', 1000, 29),
	('42', 2147483647, 1112842092),
	('abc', 1, 1),
	('abc', 2, 2),
	('abc', 3, 3),
	('abc', 7, 3),
	('abc', 10, 3),
	('abc', 64, 3),
	('abc', 1000, 781),
	('abc', 2147483647, 1253306084),
	('alice', 1, 1),
	('alice', 2, 2),
	('alice', 3, 2),
	('alice', 7, 2),
	('alice', 10, 10),
	('alice', 64, 10),
	('alice', 1000, 368),
	('alice', 2147483647, 726620023),
	('-9223372036854775808', 1, 1),
	('-9223372036854775808', 2, 2),
	('-9223372036854775808', 3, 2),
	('-9223372036854775808', 7, 2),
	('-9223372036854775808', 10, 8),
	('-9223372036854775808', 64, 30),
	('-9223372036854775808', 1000, 828),
	('-9223372036854775808', 2147483647, 1928768544),
	('bob@example.com', 1, 1),
	('bob@example.com', 2, 2),
	('bob@example.com', 3, 2),
	('bob@example.com', 7, 2),
	('bob@example.com', 10, 2),
	('bob@example.com', 64, 59),
	('bob@example.com', 1000, 488),
	('bob@example.com', 2147483647, 1323557944),
	('user:1234567890', 1, 1),
	('user:1234567890', 2, 1),
	('user:1234567890', 3, 1),
	('user:1234567890', 7, 1),
	('user:1234567890', 10, 9),
	('user:1234567890', 64, 44),
	('user:1234567890', 1000, 893),
	('user:1234567890', 2147483647, 1179248104),
	('ünïcödé', 1, 1),
	('ünïcödé', 2, 1),
	('ünïcödé', 3, 1),
	('ünïcödé', 7, 7),
	('ünïcödé', 10, 7),
	('ünïcödé', 64, 7),
	('ünïcödé', 1000, 724),
	('ünïcödé', 2147483647, 970838198),
	('日本語のユーザー', 1, 1),
	('日本語のユーザー', 2, 2),
	('日本語のユーザー', 3, 3),
	('日本語のユーザー', 7, 3),
	('日本語のユーザー', 10, 3),
	('日本語のユーザー', 64, 3),
	('日本語のユーザー', 1000, 85),
	('日本語のユーザー', 2147483647, 938097325),
	('subscriber-000000000000000000000000000001', 1, 1),
	('subscriber-000000000000000000000000000001', 2, 2),
	('subscriber-000000000000000000000000000001', 3, 2),
	('subscriber-000000000000000000000000000001', 7, 2),
	('subscriber-000000000000000000000000000001', 10, 10),
	('subscriber-000000000000000000000000000001', 64, 34),
	('subscriber-000000000000000000000000000001', 1000, 937),
	('subscriber-000000000000000000000000000001', 2147483647, 1051128857),
	(repeat('x', 128), 1, 1),
	(repeat('x', 128), 2, 1),
	(repeat('x', 128), 3, 3),
	(repeat('x', 128), 7, 4),
	(repeat('x', 128), 10, 9),
	(repeat('x', 128), 64, 20),
	(repeat('x', 128), 1000, 234),
	(repeat('x', 128), 2147483647, 1784568141),
	(repeat('y', 129), 1, 1),
	(repeat('y', 129), 2, 2),
	(repeat('y', 129), 3, 2),
	(repeat('y', 129), 7, 7),
	(repeat('y', 129), 10, 8),
	(repeat('y', 129), 64, 52),
	(repeat('y', 129), 1000, 504),
	(repeat('y', 129), 2147483647, 342047259),
	(repeat('z', 240), 1, 1),
	(repeat('z', 240), 2, 1),
	(repeat('z', 240), 3, 1),
	(repeat('z', 240), 7, 1),
	(repeat('z', 240), 10, 1),
	(repeat('z', 240), 64, 1),
	(repeat('z', 240), 1000, 1),
	(repeat('z', 240), 2147483647, 2076005622),
	(repeat('w', 241), 1, 1),
	(repeat('w', 241), 2, 1),
	(repeat('w', 241), 3, 1),
	(repeat('w', 241), 7, 7),
	(repeat('w', 241), 10, 9),
	(repeat('w', 241), 64, 9),
	(repeat('w', 241), 1000, 615),
	(repeat('w', 241), 2147483647, 559273390),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 1, 1),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 2, 1),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 3, 1),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 7, 1),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 10, 1),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 64, 15),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 1000, 937),
	(repeat('The quick brown fox jumps over the lazy dog', 25), 2147483647, 1567845749);

-- no vector disagrees
SELECT v.subscriber, v.nshards, v.shard AS expected,
       role_cluster.shard_for(v.subscriber, v.nshards) AS got
FROM vectors v
WHERE role_cluster.shard_for(v.subscriber, v.nshards) <> v.shard;
SELECT count(*) AS vectors FROM vectors;

-- a readable sample
SELECT subscriber, nshards, role_cluster.shard_for(subscriber, nshards)
FROM vectors
WHERE length(subscriber) < 20 AND nshards IN (1, 10, 64)
ORDER BY subscriber, nshards;

-- The bigint form hashes the decimal text, so both forms agree.
SELECT role_cluster.shard_for(42::bigint, 10) AS bigint_form,
       role_cluster.shard_for('42', 10) AS text_form;
SELECT count(*) AS disagreements
FROM generate_series(-2000, 2000) AS i,
     (VALUES (1), (2), (3), (10), (64), (1000)) AS n(n)
WHERE role_cluster.shard_for(i::bigint, n) <> role_cluster.shard_for(i::text, n);
SELECT k, role_cluster.shard_for(k, 64) = role_cluster.shard_for(k::text, 64) AS agree
FROM (VALUES (-9223372036854775808), (-1::bigint), (0::bigint),
             (9223372036854775807)) AS t(k);

-- Every answer lies in 1..nshards, and every shard gets keys.
SELECT n,
       bool_and(s BETWEEN 1 AND n) AS in_range,
       count(DISTINCT s) AS shards_used
FROM (SELECT n, role_cluster.shard_for('subscriber-' || i, n) AS s
      FROM generate_series(1, 5000) AS i,
           (VALUES (1), (2), (3), (5), (8), (13), (21), (34), (64)) AS n(n)) AS t
GROUP BY n ORDER BY n;
SELECT bool_and(role_cluster.shard_for('k' || i, n) BETWEEN 1 AND n) AS in_range
FROM generate_series(1, 2000) AS i,
     (VALUES (100), (1000), (100000), (2147483647)) AS n(n);

-- Going from N to N+1 shards moves keys only into the new shard, and
-- about 1/(N+1) of them.
SELECT n,
       count(*) FILTER (WHERE a <> b) AS moved,
       count(*) FILTER (WHERE a <> b AND b <> n + 1) AS moved_elsewhere,
       round(count(*) FILTER (WHERE a <> b) * (n + 1) / 4000.0, 1) AS moved_times_n_plus_1
FROM (SELECT n, role_cluster.shard_for('user' || i, n) AS a,
             role_cluster.shard_for('user' || i, n + 1) AS b
      FROM generate_series(1, 4000) AS i, generate_series(1, 16) AS n) AS t
GROUP BY n ORDER BY n;
SELECT count(*) AS moved_elsewhere
FROM generate_series(1, 4000) AS i, generate_series(17, 128) AS n
WHERE role_cluster.shard_for(i::bigint, n) <> role_cluster.shard_for(i::bigint, n + 1)
  AND role_cluster.shard_for(i::bigint, n + 1) <> n + 1;

-- STRICT: NULL in, NULL out
SELECT role_cluster.shard_for(NULL::text, 10) IS NULL AS null_text,
       role_cluster.shard_for(NULL::bigint, 10) IS NULL AS null_bigint,
       role_cluster.shard_for('alice', NULL) IS NULL AS null_n,
       role_cluster.shard_for(1::bigint, NULL) IS NULL AS null_n_bigint;

-- nshards < 1 is an error
SELECT role_cluster.shard_for('alice', 0);
SELECT role_cluster.shard_for('alice', -5);
SELECT role_cluster.shard_for(7::bigint, 0);
SELECT role_cluster.shard_for(7::bigint, -2147483648);

-- declared IMMUTABLE STRICT PARALLEL SAFE
SELECT p.oid::regprocedure, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'role_cluster'::regnamespace AND p.proname = 'shard_for'
ORDER BY 1::text;

-- In a database whose encoding is not UTF8 the key is converted to UTF-8
-- before hashing, so non-ASCII keys land where they do everywhere else.
SELECT role_cluster.shard_for('ünïcödé', 1000) AS utf8_db;
SELECT current_database() AS regress_db \gset
CREATE DATABASE rc_shard_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c rc_shard_latin1
SET client_encoding = 'UTF8';
SET client_min_messages = warning;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
SELECT role_cluster.shard_for('ünïcödé', 1000) AS latin1_db,
       role_cluster.shard_for('ünïcödé', 2147483647) AS latin1_db_max;
\c :regress_db
DROP DATABASE rc_shard_latin1;
-- MULE_INTERNAL, which PostgreSQL cannot convert to UTF-8: ASCII keys are
-- the same bytes in UTF-8, and land where they do everywhere else.
CREATE DATABASE rc_shard_mule ENCODING 'MULE_INTERNAL' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c rc_shard_mule
SET client_min_messages = warning;
CREATE EXTENSION role_cluster;
RESET client_min_messages;
SELECT role_cluster.shard_for('alice', 10) AS mule_db, role_cluster.shard_for('42', 10) AS text_42,
	   role_cluster.shard_for(42::bigint, 10) AS bigint_42;
\c :regress_db
DROP DATABASE rc_shard_mule;
SELECT role_cluster.shard_for('alice', 10) AS utf8_db, role_cluster.shard_for('42', 10) AS utf8_42;
SELECT role_cluster.shard_for('ünïcödé', 2147483647) AS utf8_db_max;
