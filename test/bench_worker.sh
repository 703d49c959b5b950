#!/bin/bash
# Benchmark of the background worker (a script, not a test).  Starts its own
# throwaway server (preloaded, as the postgres user, in a mktemp directory
# under /tmp with a private socket directory, so no port can clash) and
# prints:
#
#  1. enqueue -> notified and enqueue -> fetched latency, p50/p99, on an
#     idle server and under ~1,000 tasks/s of other load (pgbench, worked off
#     by 4 other nodes); target p99 < 5 ms idle;
#  2. end-to-end throughput (tasks/s from queued to done) with 8 nodes:
#     dispatch by the worker + fetch_tasks, claim_tasks (pull), and a
#     hand-written FOR UPDATE SKIP LOCKED queue at batch 100, measured in
#     the same run; target: dispatch >= the SKIP LOCKED queue;
#  3. the queue tables' size after 1,000,000 tasks passed through (enqueued,
#     routed, run, done, pruned) against their size after 10,000; target
#     at most 2x.
#
# Run as root (it installs the extension into PG_CONFIG's tree first) or as
# postgres (then it must be installed already).  Knobs:
#   BENCH_PROBES=1000 BENCH_THROUGHPUT=50000 BENCH_SMALL=10000
#   BENCH_LARGE=1000000 BENCH_LOAD_RATE=1000 BENCH_NAPTIME=1s
#
#   bash test/bench_worker.sh
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$($PG_CONFIG --bindir)
probes=${BENCH_PROBES:-1000}
through=${BENCH_THROUGHPUT:-50000}
small=${BENCH_SMALL:-10000}
large=${BENCH_LARGE:-1000000}
load_rate=${BENCH_LOAD_RATE:-1000}
naptime=${BENCH_NAPTIME:-1s}

as_pg()
{
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

if [ "$(id -u)" = 0 ]; then
	make -C "$src" -s PG_CONFIG="$PG_CONFIG" >/dev/null
	make -C "$src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
fi

dir=$(mktemp -d /tmp/rc_bench.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
pids=()
cleanup()
{
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT

port=5432
conn="host=$dir port=$port dbname=postgres user=postgres"
psql_q() { "$bindir/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p $port -U postgres -d postgres "$@"; }

gcc -O2 -o "$dir/client" "$src/test/bench_worker_client.c" -I"$($PG_CONFIG --includedir)" -lpq
client() { "$dir/client" "$conn" "$@"; }

as_pg "$bindir/initdb" -D "$dir/data" -A trust >/dev/null
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
shared_preload_libraries = 'role_cluster'
shared_buffers = 256MB
max_connections = 50
role_cluster.poll_interval = '100ms'
role_cluster.retention = '5s'
role_cluster.prune_interval = '1s'
autovacuum_naptime = '$naptime'
EOF
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null

echo "role_cluster worker benchmark: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "server: fsync on, synchronous_commit on, autovacuum_naptime $naptime, poll_interval 100ms"

setup()
{
	psql_q <<'EOF'
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
INSERT INTO role_cluster.cluster_role (name, tasks) VALUES
	('probe', '{"@type": "EnableSome", "taskTypes": ["storeMaintenance"]}'),
	('loader', '{"@type": "EnableSome", "taskTypes": ["searchIndexing"]}')
ON CONFLICT DO NOTHING;
EOF
}

# Starts n consumers of the given mode and role; their pids go to pids[]
start_consumers()
{
	local mode=$1 role=$2 n=$3 prefix=$4
	for i in $(seq 1 "$n"); do
		"$dir/client" "$conn" "$mode" "$prefix$i" "$role" 200 >"$dir/$prefix$i.out" &
		pids+=($!)
	done
}

stop_consumers()
{
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# --- 1. latency ---------------------------------------------------------------

setup
echo
echo "== enqueue -> notified / fetched latency, ms ($probes probes)"
printf "idle:       %s\n" "$(client probe probe1 probe storeMaintenance "$probes" | tr '\n' ' ')"

start_consumers consume loader 4 load
echo "SELECT role_cluster.enqueue('searchIndexing', 'load');" >"$dir/load.sql"
"$bindir/pgbench" -n -c 4 -j 2 -R "$load_rate" -T 600 -f "$dir/load.sql" \
	-h "$dir" -p $port -U postgres postgres >"$dir/pgbench.out" 2>&1 &
pgbench_pid=$!
sleep 3
before=$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE kind = 'load'")
t0=$(date +%s.%N)
lat=$(client probe probe2 probe storeMaintenance "$probes" | tr '\n' ' ')
t1=$(date +%s.%N)
after=$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE kind = 'load'")
kill "$pgbench_pid" 2>/dev/null || true
wait "$pgbench_pid" 2>/dev/null || true
rate=$(echo "($after - $before) / ($t1 - $t0)" | bc -l)
printf "under load: %s(load: %.0f tasks/s enqueued meanwhile)\n" "$lat" "$rate"
stop_consumers

# --- 2. throughput --------------------------------------------------------------

setup
echo
echo "== throughput, 8 nodes, $through tasks queued up front, tasks/s from start to the last done"

# dispatch by the worker, nodes fetch_tasks
psql_q -c "SELECT count(role_cluster.enqueue('storeMaintenance', 'through')) FROM generate_series(1, $through)" >/dev/null
start=$(psql_q -c "SELECT clock_timestamp()")
start_consumers consume - 8 disp
while [ "$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE state = 'done' AND kind = 'through'")" != "$through" ]; do
	sleep 0.2
done
disp=$(psql_q -c "SELECT round($through / extract(epoch FROM max(finished_at) - '$start'))
	FROM role_cluster.task WHERE kind = 'through'")
stop_consumers
psql_q -c "SELECT role_cluster.prune(interval '0', interval '0', 100000000)" >/dev/null

# pull: claim_tasks
psql_q -c "ALTER SYSTEM SET role_cluster.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
while [ "$(psql_q -c "SELECT state FROM role_cluster.worker_stats")" != "disabled" ]; do sleep 0.1; done
psql_q -c "SELECT count(role_cluster.enqueue('storeMaintenance', 'pulled')) FROM generate_series(1, $through)" >/dev/null
start=$(psql_q -c "SELECT clock_timestamp()")
start_consumers claim - 8 pull
while [ "$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE state = 'done' AND kind = 'pulled'")" != "$through" ]; do
	sleep 0.2
done
pull=$(psql_q -c "SELECT round($through / extract(epoch FROM max(finished_at) - '$start'))
	FROM role_cluster.task WHERE kind = 'pulled'")
stop_consumers
psql_q -c "ALTER SYSTEM RESET role_cluster.enabled" -c "SELECT pg_reload_conf()" >/dev/null

# the hand-written SKIP LOCKED queue, batch 100
psql_q <<EOF >/dev/null
CREATE TABLE bench_q (id bigserial PRIMARY KEY, task_type text NOT NULL, payload jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz);
CREATE INDEX bench_q_queued ON bench_q (id) WHERE state = 'queued';
INSERT INTO bench_q (task_type) SELECT 'storeMaintenance' FROM generate_series(1, $through);
EOF
start=$(psql_q -c "SELECT clock_timestamp()")
for i in $(seq 1 8); do
	"$dir/client" "$conn" skiplocked 100 >"$dir/skip$i.out" &
	pids+=($!)
done
wait "${pids[@]}"
pids=()
skip=$(psql_q -c "SELECT round(count(*) / extract(epoch FROM max(finished_at) - '$start')) FROM bench_q")
psql_q -c "DROP TABLE bench_q" >/dev/null

printf "dispatch (worker, batch 100) + fetch_tasks: %6s tasks/s\n" "$disp"
printf "claim_tasks (pull, no worker):              %6s tasks/s\n" "$pull"
printf "hand-written SKIP LOCKED queue, batch 100:  %6s tasks/s\n" "$skip"
printf "dispatch / SKIP LOCKED = %.2f\n" "$(echo "$disp / $skip" | bc -l)"

# --- 3. table size after many tasks ----------------------------------------------

setup
echo
echo "== queue table size (task + indexes + toast, schedule tables) after tasks passed through"
echo "   (retention 5s, prune every 1s, 8 nodes, producer batches of 500, backlog <= 5000)"
start_consumers consume - 8 size

# Waits until every task produced so far is done and pruned, then prints sizes
settle()
{
	while [ "$(psql_q -c "SELECT count(*) FROM role_cluster.task")" != "0" ]; do
		sleep 0.5
	done
	psql_q -c "SELECT pg_total_relation_size('role_cluster.task')
		+ pg_total_relation_size('role_cluster.node')
		+ pg_total_relation_size('role_cluster.schedule_firing')"
}

t0=$(date +%s)
client produce storeMaintenance "$small" 500 5000 >/dev/null
size_small=$(settle)
client produce storeMaintenance $((large - small)) 500 5000 >/dev/null
size_large=$(settle)
t1=$(date +%s)
stop_consumers
printf "after %8d tasks: %8s bytes\n" "$small" "$size_small"
printf "after %8d tasks: %8s bytes (%d s, %.0f tasks/s)\n" "$large" "$size_large" $((t1 - t0)) \
	"$(echo "$large / ($t1 - $t0)" | bc -l)"
printf "ratio: %.2f\n" "$(echo "$size_large / $size_small" | bc -l)"
psql_q -c "SELECT 'worker: loops ' || loops || ', routed ' || routed || ', notified ' || notified
	|| ', pruned ' || pruned || ', errors ' || errors || ', avg loop ' || round(avg_loop_ms::numeric, 2) || ' ms'
	FROM role_cluster.worker_stats"
