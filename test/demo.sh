#!/bin/bash
# The main job, as README's first command runs it (root, Debian 12):
# installs what is missing, builds and installs role_cluster, starts a
# throwaway PostgreSQL as the postgres user with the library preloaded,
# loads the seed's two example roles exactly as the seed prints them, and
# shows what each role enables.  The server and its directory are removed
# on exit.  Then five node agents (role-cluster-node) start with the
# seed's roles, a push role in two shards and a background role, work tasks
# of all ten types that the background worker routes to them, and the demo
# prints who ran what.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

bash "$src/test/deps.sh"
make -C "$src" -s PG_CONFIG="$PG_CONFIG"
make -C "$src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
bindir=$("$PG_CONFIG" --bindir)

# A private directory for the data and the server's socket: no TCP port is
# opened, so nothing clashes with a server already running here.
dir=$(mktemp -d /tmp/role_cluster_demo.XXXXXX)
chown postgres: "$dir"
# the postgres user's commands start where they can enter (a clone in a
# home folder is often closed to it, and psql says so at every call)
cd "$dir"
pg() { runuser -u postgres -- "$@"; }
agent_pids=""
stop_server()
{
	# (an agent that exits non-zero must not end the trap before the server is stopped)
	if [ -n "$agent_pids" ]; then
		kill -TERM $agent_pids 2>/dev/null || true
		wait $agent_pids 2>/dev/null || true
	fi
	pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop_server EXIT

pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start -o \
	"-c listen_addresses='' -c unix_socket_directories='$dir' \
	 -c shared_preload_libraries=role_cluster -c role_cluster.database=demo" >/dev/null
export PGHOST=$dir PGUSER=postgres PGDATABASE=demo
pg "$bindir/createdb" -h "$dir" demo
psql() { runuser -u postgres -- "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -d demo "$@"; }

echo "== role_cluster on a throwaway PostgreSQL $("$bindir/postgres" -V | awk '{print $3}')"
psql -c "CREATE EXTENSION role_cluster"
psql -c "INSERT INTO role_cluster.network_listener (id, protocol, bind) VALUES
	('imap', 'imap', '[::]:993'), ('jmap', 'http', '[::]:443'),
	('smtp', 'smtp', '[::]:25'), ('submission', 'smtp', '[::]:587'),
	('webdav', 'http', '[::]:8443')"

echo
echo "== the seed's two example roles, imported verbatim"
for f in frontend maintenance; do
	# psql interpolates :'role' (the file, quoted) only in its script input
	echo "SELECT 'imported ' || role_cluster.import_roles(:'role')" |
		psql -t -A -v role="$(cat "$src/test/data/$f.json")"
done
psql -c "SELECT name, tasks, listeners FROM role_cluster.cluster_role ORDER BY name"

echo "== what each role enables: task types"
psql -c "SELECT t AS task_type,
		role_cluster.role_enables_task('frontend', t) AS frontend,
		role_cluster.role_enables_task('maintenance', t) AS maintenance,
		role_cluster.role_enables_task(NULL, t) AS \"no role\"
	FROM unnest(enum_range(NULL::role_cluster.task_type)) AS t"

echo "== what each role enables: listeners"
psql -c "SELECT r.name AS role,
		coalesce((SELECT string_agg(l, ', ' ORDER BY l) FROM role_cluster.role_listeners(r.name) AS l),
				 '(none)') AS listeners
	FROM role_cluster.cluster_role r ORDER BY r.name"

echo "== push shards: where five subscribers land with 1, 2 and 4 shards"
psql -c "SELECT s AS subscriber, role_cluster.shard_for(s, 1) AS n1,
		role_cluster.shard_for(s, 2) AS n2, role_cluster.shard_for(s, 4) AS n4
	FROM unnest(ARRAY['alice@example.org', 'bob@example.org', 'carol@example.org',
					  'dave@example.org', 'erin@example.org']) AS s"

echo
echo "== a push role in two shards and a background role for the types the seed leaves to nobody"
psql <<'SQL'
SELECT role_cluster.import_roles('[
  {"name": "push", "description": "Delivers push notifications",
   "tasks": {"@type": "EnableSome", "taskTypes": ["pushNotifications"]},
   "listeners": {"@type": "DisableAll"}},
  {"name": "background", "description": "Spam training, outbound mail, queues and schedules",
   "tasks": {"@type": "EnableSome", "taskTypes": ["spamClassifierTraining",
     "outboundMta", "taskQueueProcessing", "taskScheduler"]},
   "listeners": {"@type": "EnableSome", "listenerIds": ["smtp"]}}]');
UPDATE role_cluster.cluster_settings SET push_shards_total = 2;
-- what the agents' handler (test/agent_handler.sh) records: one row per run
CREATE TABLE agent_run (run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	task_id bigint, attempt int, node_id text,
	task_type text, kind text, shard_key text, task jsonb,
	started timestamptz, finished timestamptz, outcome text);
SQL

# node id:role:push shard
agents="frontend-1:frontend: maintenance-1:maintenance: push-1:push:1 push-2:push:2 background-1:background:"
echo "== starting the agents: $agents"
for a in $agents; do
	IFS=: read -r id role shard <<<"$a"
	PATH="$bindir:$PATH" STALWART_NODE_ID=$id STALWART_ROLE=$role STALWART_PUSH_SHARD=$shard \
		"$bindir/role-cluster-node" -v run --exec "sh $(printf %q "$src/test/agent_handler.sh")" \
		--concurrency 4 >"$dir/agent_$id.log" 2>&1 &
	agent_pids="$agent_pids $!"
done
for _ in $(seq 100); do
	[ "$(psql -tAc 'SELECT count(*) FROM role_cluster.nodes WHERE live')" -ge 5 ] && break
	sleep 0.2
done
psql -c "SELECT node_id, role, push_shard, capacity, live FROM role_cluster.nodes ORDER BY node_id"

echo "== enqueueing: 200 push notifications, three tasks of each other type, five spam trainings"
psql <<'SQL'
SELECT count(*) AS push FROM (SELECT role_cluster.enqueue('pushNotifications', 'push',
	jsonb_build_object('subscriber', 'user' || g), 'user' || g || '@example.org')
	FROM generate_series(1, 200) g) s;
SELECT count(*) AS other FROM (SELECT role_cluster.enqueue(t, 'demo')
	FROM unnest(enum_range(NULL::role_cluster.task_type)) t, generate_series(1, 3)
	WHERE t NOT IN ('pushNotifications', 'spamClassifierTraining')) s;
SELECT count(*) AS spam FROM (SELECT role_cluster.enqueue('spamClassifierTraining', 'train')
	FROM generate_series(1, 5)) s;
SQL

left=-1
for _ in $(seq 900); do
	left=$(psql -tAc "SELECT count(*) FROM role_cluster.task WHERE state NOT IN ('done', 'dead')")
	[ "$left" = 0 ] && break
	sleep 0.2
done
echo "tasks not finished: $left"

psql <<'SQL'
\echo '== which node ran how many of which type'
SELECT r.node_id, n.role_name AS role, n.push_shard AS shard, r.task_type, count(*) AS runs
  FROM agent_run r JOIN role_cluster.node n USING (node_id)
 WHERE r.outcome = 'ok' GROUP BY 1, 2, 3, 4 ORDER BY 1, 4;
\echo '== no frontend node ran a background task'
SELECT count(*) AS frontend_runs FROM agent_run r JOIN role_cluster.node n USING (node_id)
 WHERE n.role_name = 'frontend';
\echo '== every task done, each run once (a retry would show as a second attempt)'
SELECT count(*) AS tasks, count(*) FILTER (WHERE state = 'done') AS done,
	   count(*) FILTER (WHERE runs = 1) AS ran_once
  FROM (SELECT t.id, t.state, (SELECT count(*) FROM agent_run r WHERE r.task_id = t.id
	 AND r.outcome = 'ok') AS runs FROM role_cluster.task t) s;
\echo '== each notification delivered once, by the node of its shard'
SELECT count(*) AS notifications, count(DISTINCT r.shard_key) AS subscribers,
	   count(*) FILTER (WHERE n.push_shard = role_cluster.shard_for(r.shard_key, 2))
		 AS by_their_shard
  FROM agent_run r JOIN role_cluster.node n USING (node_id)
 WHERE r.task_type = 'pushNotifications';
\echo '== spam classifier training never ran twice at once'
SELECT count(*) AS spam_runs,
	   (SELECT count(*) FROM agent_run a JOIN agent_run b
		   ON a.task_type = 'spamClassifierTraining' AND b.task_type = a.task_type
		  AND a.run_id < b.run_id
		  AND tstzrange(a.started, a.finished) && tstzrange(b.started, b.finished))
		 AS overlapping_pairs
  FROM agent_run WHERE task_type = 'spamClassifierTraining';
\echo '== the worker'
SELECT routed, notified, reclaimed, loops FROM role_cluster.worker_stats;
SQL

echo "== listeners each node would bind (role-cluster-node listeners)"
for a in $agents; do
	IFS=: read -r id role shard <<<"$a"
	printf '%-14s %-12s %s\n' "$id" "$role" \
		"$(STALWART_ROLE=$role "$bindir/role-cluster-node" listeners | paste -sd' ' -)"
done
