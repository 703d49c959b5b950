#!/bin/bash
# Benchmark of role evaluation and shard_for (a script, not a test).
#
# Run as root on Debian 12, like test/check.sh: builds and installs
# role_cluster into PG_CONFIG's tree from a copy of this tree, starts a
# throwaway server as postgres in a fresh directory under /tmp
# (shared_preload_libraries = 'role_cluster', Unix socket in that
# directory, a free port), measures, prints ratios against baselines
# measured in the same run, and stops and removes the server on exit.
#
#   bash test/bench_eval.sh                 # 1M rows, 7 timed runs each
#   ROWS=200000 REPS=5 STRESS_SECONDS=0 bash test/bench_eval.sh
#
# Timings are medians of REPS runs taken inside one PL/pgSQL function with
# clock_timestamp() (no EXPLAIN ANALYZE overhead), the compared queries
# alternating so that drift on a shared machine hits both alike, after one
# untimed warm-up run each.  JIT and parallel query are off so every
# figure is one core's per-row cost.  "net" figures subtract a scan of the
# same rows that calls nothing.
#
# Last, for STRESS_SECONDS (default 20), pgbench runs writers that change
# roles and listeners (committing or rolling back) against readers that
# compare, in one statement, the cache's answers with a query of the
# tables; it reports how many statements disagreed (it should be none).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
REPS=${REPS:-7}
STRESS_SECONDS=${STRESS_SECONDS:-20}
SQL_ROWS=$((ROWS / 10))
BIG_ROWS=$((ROWS * 10))
. "$src/test/bench_server.sh"
bench_server_start "fsync = off
synchronous_commit = off
max_parallel_workers_per_gather = 0"

echo "role_cluster evaluation and shard_for benchmark"
echo "rows: $ROWS (SQL-function comparison: $SQL_ROWS; load balance also at $BIG_ROWS); median of $REPS runs"
echo "server: $("$bindir/postgres" --version), $(nproc) cores"
echo

psql -d bench -v rows="$ROWS" -v sql_rows="$SQL_ROWS" -v big_rows="$BIG_ROWS" -v reps="$REPS" <<'EOF'
SET client_min_messages = warning;
CREATE EXTENSION role_cluster;

INSERT INTO role_cluster.network_listener (id) VALUES ('imap'), ('jmap'), ('smtp'), ('webdav');
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) VALUES
	('frontend', 'DisableAll', 'EnableAll'),
	('maintenance', 'EnableSome(storeMaintenance, accountMaintenance, searchIndexing, metricsCalculate, metricsPush)', 'DisableAll'),
	('mx', 'DisableSome(spamClassifierTraining)', 'EnableSome(smtp)'),
	('web', 'EnableAll', 'DisableSome(smtp)');
INSERT INTO role_cluster.cluster_role (name, tasks)
	SELECT 'role-' || i, CASE WHEN i % 2 = 0 THEN 'EnableSome(pushNotifications)' ELSE 'DisableSome(outboundMta)' END::role_cluster.task_group
	FROM generate_series(1, 16) AS i;

-- the same lookup as role_enables_task, in SQL over the same table
CREATE FUNCTION bench_sql_enables_task(role text, task role_cluster.task_type)
	RETURNS boolean LANGUAGE sql STABLE
AS $$
	SELECT CASE WHEN role IS NULL THEN true
		ELSE (SELECT c.tasks OPERATOR(role_cluster.@>) task
			  FROM role_cluster.cluster_role c WHERE c.name = role) END
$$;

-- rows: a role name (20 roles), a task type and a subscriber key
CREATE TABLE bench_rows AS
	SELECT (SELECT array_agg(name ORDER BY name) FROM role_cluster.cluster_role)[1 + i % 20] AS r,
		   (enum_range(NULL::role_cluster.task_type))[1 + i % 10] AS t,
		   'user' || i || '@example.com' AS k,
		   i::bigint AS id
	FROM generate_series(1, :rows) AS i;
CREATE TABLE bench_small AS SELECT * FROM bench_rows LIMIT :sql_rows;
VACUUM ANALYZE bench_rows;
VACUUM ANALYZE bench_small;

-- Median milliseconds of each query over reps runs, the queries alternating
CREATE FUNCTION bench_medians(queries text[], reps int) RETURNS float8[]
	LANGUAGE plpgsql
AS $$
DECLARE
	t0 timestamptz;
	times float8[] := '{}';
	result float8[] := '{}';
	n int := array_length(queries, 1);
BEGIN
	FOR q IN 1..n LOOP
		EXECUTE queries[q];				-- warm-up: buffers, caches, plans
	END LOOP;
	FOR rep IN 1..reps LOOP
		FOR q IN 1..n LOOP
			t0 := clock_timestamp();
			EXECUTE queries[q];
			times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
		END LOOP;
	END LOOP;
	FOR q IN 1..n LOOP
		result := result || (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v)
							 FROM unnest(times) WITH ORDINALITY AS x(v, o)
							 WHERE (o - 1) % n = q - 1);
	END LOOP;
	RETURN result;
END
$$;

CREATE TABLE results (measure text, figure text, target text);

-- 1. role_enables_task per call vs a SQL-language function doing the same lookup
INSERT INTO results
SELECT 'role_enables_task vs SQL function, per call',
	   format('C %s ns, SQL %s ns (net of scan): %sx faster (raw %sx)',
			  round(((c - s) / :sql_rows * 1e6)::numeric, 0),
			  round(((q - s) / :sql_rows * 1e6)::numeric, 0),
			  round(((q - s) / (c - s))::numeric, 1), round((q / c)::numeric, 1)),
	   '>= 20x'
FROM (SELECT m[1] AS s, m[2] AS c, m[3] AS q
	  FROM bench_medians(ARRAY[
		'SELECT count(*) FILTER (WHERE r IS NOT NULL AND t IS NOT NULL) FROM bench_small',
		'SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(r, t)) FROM bench_small',
		'SELECT count(*) FILTER (WHERE bench_sql_enables_task(r, t)) FROM bench_small'],
		:reps) AS m) AS x;

-- 2. role_enables_task per row vs a trivial built-in call over the same rows
INSERT INTO results
SELECT 'role_enables_task vs built-in texteq, per row',
	   format('query %s ms vs %s ms: %sx (scan alone %s ms; net %s ns vs %s ns per row)',
			  round(c::numeric, 0), round(b::numeric, 0), round((c / b)::numeric, 2),
			  round(s::numeric, 0),
			  round(((c - s) / :rows * 1e6)::numeric, 0), round(((b - s) / :rows * 1e6)::numeric, 0)),
	   '<= 2x'
FROM (SELECT m[1] AS s, m[2] AS c, m[3] AS b
	  FROM bench_medians(ARRAY[
		'SELECT count(*) FILTER (WHERE r IS NOT NULL AND t IS NOT NULL) FROM bench_rows',
		'SELECT count(*) FILTER (WHERE role_cluster.role_enables_task(r, t)) FROM bench_rows',
		'SELECT count(*) FILTER (WHERE texteq(r, ''mx'') AND t IS NOT NULL) FROM bench_rows'],
		:reps) AS m) AS x;

-- 3. shard_for per call vs abs(hashtext(x)) % n
INSERT INTO results
SELECT 'shard_for(text) vs abs(hashtext(k)) % 64',
	   format('query %s ms vs %s ms: %sx (scan alone %s ms; net %s ns vs %s ns per call, %sx)',
			  round(c::numeric, 0), round(b::numeric, 0), round((c / b)::numeric, 2),
			  round(s::numeric, 0),
			  round(((c - s) / :rows * 1e6)::numeric, 0), round(((b - s) / :rows * 1e6)::numeric, 0),
			  round(((c - s) / greatest(b - s, 1e-9))::numeric, 2)),
	   '<= 1.5x'
FROM (SELECT m[1] AS s, m[2] AS c, m[3] AS b
	  FROM bench_medians(ARRAY[
		'SELECT sum(64) FROM bench_rows WHERE k IS NOT NULL',
		'SELECT sum(role_cluster.shard_for(k, 64)) FROM bench_rows',
		'SELECT sum(abs(hashtext(k)) % 64) FROM bench_rows'],
		:reps) AS m) AS x;

INSERT INTO results
SELECT 'shard_for(bigint) vs abs(hashint8(id)) % 64',
	   format('query %s ms vs %s ms: %sx (scan alone %s ms; net %s ns vs %s ns per call)',
			  round(c::numeric, 0), round(b::numeric, 0), round((c / b)::numeric, 2),
			  round(s::numeric, 0),
			  round(((c - s) / :rows * 1e6)::numeric, 0), round(((b - s) / :rows * 1e6)::numeric, 0)),
	   '(for information)'
FROM (SELECT m[1] AS s, m[2] AS c, m[3] AS b
	  FROM bench_medians(ARRAY[
		'SELECT sum(64) FROM bench_rows WHERE id IS NOT NULL',
		'SELECT sum(role_cluster.shard_for(id, 64)) FROM bench_rows',
		'SELECT sum(abs(hashint8(id)) % 64) FROM bench_rows'],
		:reps) AS m) AS x;

-- 4. movement from N to N+1 shards, N = 1..64
CREATE TABLE movement AS
	SELECT n,
		   count(*) FILTER (WHERE a <> b) AS moved,
		   count(*) FILTER (WHERE a <> b AND b <> n + 1) AS moved_elsewhere,
		   count(*) FILTER (WHERE abs(hashtext(k)) % n <> abs(hashtext(k)) % (n + 1)) AS modulo_moved
	FROM (SELECT n, k, role_cluster.shard_for(k, n) AS a, role_cluster.shard_for(k, n + 1) AS b
		  FROM bench_rows, generate_series(1, 64) AS n) AS x
	GROUP BY n;
INSERT INTO results
SELECT 'movement N -> N+1, N = 1..64',
	   format('max |moved - 1/(N+1)| = %s pp (at N = %s); moved into old shards: %s; modulo would move %s%% on average',
			  round(max(dev)::numeric, 3),
			  (array_agg(n ORDER BY dev DESC))[1],
			  sum(moved_elsewhere),
			  round(avg(100.0 * modulo_moved / :rows), 1)),
	   'within 0.5 pp, none into old shards'
FROM (SELECT n, moved, moved_elsewhere, modulo_moved,
			 abs(100.0 * moved / :rows - 100.0 / (n + 1)) AS dev
	  FROM movement) AS x;

-- 5. load balance at 64 shards.  For an ideal uniform hash the counts are
-- multinomial: mean m = keys/64, standard deviation s = sqrt(m * 63/64),
-- and the largest and smallest of 64 lie about 2.34 s (the expected maximum
-- of 64 standard normals) from m, so max/min is about
-- (1 + 2.34 sqrt(63/keys)) / (1 - 2.34 sqrt(63/keys)).
INSERT INTO results
SELECT format('max/min shard load at 64 shards, %s keys', :rows),
	   format('%s (%s..%s); abs(hashtext) %% 64 on the same keys: %s; an ideal uniform hash: about %s',
			  round(max(c)::numeric / min(c), 4), min(c), max(c),
			  (SELECT round(max(c)::numeric / min(c), 4)
			   FROM (SELECT count(*) AS c FROM bench_rows GROUP BY abs(hashtext(k)) % 64) AS h),
			  round(((1 + 2.34 * sqrt(63.0 / :rows)) / (1 - 2.34 * sqrt(63.0 / :rows)))::numeric, 3)),
	   '<= 1.02'
FROM (SELECT count(*) AS c FROM bench_rows GROUP BY role_cluster.shard_for(k, 64)) AS x;

INSERT INTO results
SELECT format('max/min shard load at 64 shards, %s keys', :big_rows),
	   format('%s (%s..%s); an ideal uniform hash: about %s',
			  round(max(c)::numeric / min(c), 4), min(c), max(c),
			  round(((1 + 2.34 * sqrt(63.0 / :big_rows)) / (1 - 2.34 * sqrt(63.0 / :big_rows)))::numeric, 3)),
	   '<= 1.02'
FROM (SELECT count(*) AS c
	  FROM generate_series(1, :big_rows) AS i
	  GROUP BY role_cluster.shard_for('user' || i || '@example.com', 64)) AS x;

\pset format aligned
\pset border 2
SELECT measure, figure, target FROM results;
SELECT n, moved, round(100.0 * moved / :rows, 3) AS moved_pct,
	   round(100.0 / (n + 1), 3) AS ideal_pct, moved_elsewhere,
	   round(100.0 * modulo_moved / :rows, 1) AS modulo_moved_pct
FROM movement WHERE n IN (1, 2, 3, 4, 8, 16, 32, 63, 64) ORDER BY n;
EOF

[ "$STRESS_SECONDS" -gt 0 ] || exit 0

# consistency under concurrent changes
cat >"$work/writer.sql" <<'EOF'
\set r random(0, 2)
BEGIN;
SELECT pg_advisory_xact_lock(42);
UPDATE role_cluster.cluster_role SET tasks = CASE WHEN tasks OPERATOR(role_cluster.@>) 'searchIndexing'::role_cluster.task_type THEN 'DisableAll'::role_cluster.task_group ELSE 'EnableAll'::role_cluster.task_group END WHERE name = 'frontend';
DELETE FROM role_cluster.cluster_role WHERE name = 'tmp';
INSERT INTO role_cluster.cluster_role (name, tasks, listeners) SELECT 'tmp', 'EnableAll', 'EnableSome(smtp)' WHERE :r > 0;
INSERT INTO role_cluster.network_listener (id) SELECT 'l' || (random() * 5)::int ON CONFLICT DO NOTHING;
DELETE FROM role_cluster.network_listener WHERE id = 'l' || (random() * 5)::int;
\if :r = 2
ROLLBACK;
\else
COMMIT;
\endif
EOF
check="INSERT INTO mismatches SELECT WHERE role_cluster.role_enables_task('frontend', 'searchIndexing') IS DISTINCT FROM (SELECT c.tasks OPERATOR(role_cluster.@>) 'searchIndexing'::role_cluster.task_type FROM role_cluster.cluster_role c WHERE c.name = 'frontend') OR role_cluster.role_exists('tmp') <> EXISTS (SELECT FROM role_cluster.cluster_role WHERE name = 'tmp') OR array(SELECT role_cluster.role_listeners(NULL)) <> array(SELECT id FROM role_cluster.network_listener ORDER BY id COLLATE \"C\");"
printf '%s\n' "$check" >"$work/reader.sql"
printf 'BEGIN ISOLATION LEVEL REPEATABLE READ;\n%s\nSELECT pg_sleep(0.001);\n%s\nCOMMIT;\n' "$check" "$check" >"$work/reader_rr.sql"
printf 'BEGIN;\n%s\nSELECT pg_sleep(0.001);\n%s\nCOMMIT;\n' "$check" "$check" >"$work/reader_rc.sql"
chown postgres: "$work"/*.sql
psql -d bench -c "CREATE UNLOGGED TABLE mismatches (); INSERT INTO role_cluster.cluster_role (name) VALUES ('tmp')"
echo
echo "consistency: $STRESS_SECONDS s of pgbench, 8 clients: writers change roles and listeners, readers compare the cache with the tables"
runuser -u postgres -- "$bindir/pgbench" -h "$work" -p "$port" -n -T "$STRESS_SECONDS" -c 8 -j 2 \
	-f "$work/writer.sql@2" -f "$work/reader.sql@4" -f "$work/reader_rr.sql@2" -f "$work/reader_rc.sql@2" bench \
	2>&1 | grep -E "^(number of (transactions actually processed|failed)|tps)|error" || true
echo "statements whose cache answers disagreed with the tables: $(psql -d bench -At -c 'SELECT count(*) FROM mismatches')"
