#!/bin/bash
# Benchmark of the background worker (a script, not a test).  Starts its own
# throwaway server (preloaded, as the postgres user, in a mktemp directory
# under /tmp with a private socket directory, so no port can clash) and
# prints:
#
#  1. enqueue -> notified and enqueue -> fetched latency, p50/p99, on an
#     idle server and under ~1,000 tasks/s of other load (pgbench, worked off
#     by 4 other nodes); target p99 < 5 ms idle.  In brackets, the two
#     parts of enqueue -> notified: the enqueue call (its commit waits for
#     the WAL flush) and from its return to the notification (the worker).
#     Idle, BENCH_LATENCY_ROUNDS rounds of 1,000 probes take turns with a
#     bare NOTIFY round trip and with a bound: the same round trip on a
#     hand-written queue that a bare session, woken by NOTIFY, routes.  The
#     p99 of each round is printed, then their median and the p99 of all
#     rounds pooled: one round's p99 is its worst 10 probes, and on a
#     shared machine those swing from round to round, the bound's too;
#  2. end-to-end throughput (tasks/s from queued to done) with 8 nodes:
#     dispatch by the worker + fetch_tasks (dispatch_batch 1000, the
#     default, and 100), claim_tasks (pull), and a hand-written FOR UPDATE
#     SKIP LOCKED queue at batch 100, measured in the same run; target:
#     dispatch >= the SKIP LOCKED queue.  That queue three times: in id
#     order, and "ordered", as bench_queue.sh's hand-written queue claims
#     (due rows in priority, run_at and id order, as role_cluster hands
#     them out, with the holder recorded and the attempt counted), each
#     marking its batch done in one statement; and "each ack", the
#     ordered one marking each row done by a statement of its own, as
#     bench_queue.sh's hand-written queue does at batch 100 (that queue
#     whole, the one the queue issue's benchmark compares with); all
#     planned as role_cluster's functions plan theirs (enable_seqscan and
#     enable_bitmapscan off).  Every node takes 100 tasks per
#     round trip and holds at most 100 (its capacity), so that the worker
#     routes it its next batch only once it has finished the last; and
#     once more tuned for throughput: dispatch_batch 2000 and nodes of
#     capacity 1000, still taking 100 per round trip, so that the worker
#     routes ahead of the nodes in fuller calls.  And bounds, from a
#     hand-written queue that a bare dispatcher routes to the 8 nodes (one
#     statement per batch; no routing rule, capacity or liveness):
#     "bound", at batch 1000 and 100, whose nodes take their rows (routed
#     -> running) and then finish them, so each task is written three
#     times; and "bound, read", routed straight to running, its nodes only
#     reading their rows before finishing them, so each task is written
#     twice, as on the SKIP LOCKED queue and in role_cluster (whose
#     fetch_tasks() moves the node's fetch mark, not the tasks), with one
#     dispatcher and with two.  What a process that
#     writes each routing to the table reaches here with nothing else to
#     do.  The queues take turns, for BENCH_THROUGHPUT_ROUNDS rounds, each
#     round starting one queue further down the list, and the ratios are
#     of the medians, so that the drift of a shared machine falls on all
#     of them alike.  The bytes of WAL records each queue
#     writes per task are printed too: unlike the rates they do not drift
#     with the machine, and they show what each design writes.  So is the
#     CPU each queue spends per task, all processes counted, with the
#     share of the cores it kept busy: where every queue keeps them busy,
#     the rates stand as their CPU per task does, and a design that needs
#     more CPU per task than another cannot pass it here.  (role_cluster's
#     own vacuum of the task table, started within a second or two of its
#     dead rows piling up, falls within its runs; the hand-written tables
#     are left to autovacuum, whose naptime outlasts a run, so their
#     clean-up comes after them.)  Of the dispatch runs' CPU, the worker's
#     own process is shown apart, with the share of one core it kept busy:
#     one process routes every task, and the closer that share comes to a
#     whole core, the more the nodes wait for it.  Then the
#     routing step alone, in one session with nothing else running:
#     microseconds per task of dispatch(1000) routing BENCH_ALONE tasks to
#     8 nodes, against the same session claiming them from the SKIP LOCKED
#     queue at batch 100.  It tells the cost of the routing rule per task
#     from what one process, sharing the cores with the nodes, can do.  The
#     same to 32 nodes, and to 8 while another session holds a snapshot
#     (both queues then step over entries no scan can mark dead);
#  3. the queue tables' size after 1,000,000 tasks passed through (enqueued,
#     routed, run, done, pruned) against their size after 10,000; target
#     at most 2x.  Each point is measured settled: every task done and
#     pruned and a vacuum through the table once since, the state the
#     tables reach by themselves.  The largest size sampled while the tasks
#     flowed is shown too; it grows with the rate, not with the count;
#  4. how long one reclaim() takes to hand back a lost node's tasks (half
#     of them fetched) at BENCH_RECLAIM and at four times as many: linear
#     work takes about four times as long;
#  5. what a backlog of tasks no live node may run costs the others: one
#     node claims (and, apart, has dispatch() route to it) one task at a
#     time behind 0, BENCH_BACKLOG and three times as many queued push
#     tasks (no node serves push), then with that backlog deferred an
#     hour; the median of 20 calls, in ms, and its ratio to no backlog.
#     Each hand-out walks past the backlog (README: "Work no live node can
#     run slows every hand-out"): linear growth is the known limit.
#
# Run as root (it installs the extension into PG_CONFIG's tree first) or as
# postgres (then it must be installed already).  Knobs:
#   BENCH_PROBES=1000 BENCH_LATENCY_ROUNDS=5 BENCH_THROUGHPUT=50000 BENCH_THROUGHPUT_ROUNDS=3
#   BENCH_SMALL=10000 BENCH_MID=100000
#   BENCH_LARGE=1000000 BENCH_LOAD_RATE=1000 BENCH_NAPTIME=1min (autovacuum_naptime; 1min is its default)
#   BENCH_VACUUM_INTERVAL= (role_cluster.vacuum_interval; unset: its default)
#   BENCH_SIZE_RATE=0 (tasks/s of the size phase's producer; 0: as fast as
#   the nodes take them)
#   BENCH_RECLAIM=8000 BENCH_ALONE=8000 BENCH_BACKLOG=100000
#   BENCH_PHASES="latency throughput size reclaim backlog" (a subset runs only those)
#   BENCH_KEEP_LOG= (a file to copy the server's log to at the end)
#
#   bash test/bench_worker.sh
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bindir=$($PG_CONFIG --bindir)
probes=${BENCH_PROBES:-1000}
through=${BENCH_THROUGHPUT:-50000}
reps=${BENCH_THROUGHPUT_ROUNDS:-3}
lat_reps=${BENCH_LATENCY_ROUNDS:-5}
small=${BENCH_SMALL:-10000}
large=${BENCH_LARGE:-1000000}
mid=${BENCH_MID:-100000}
size_rate=${BENCH_SIZE_RATE:-0}
load_rate=${BENCH_LOAD_RATE:-1000}
naptime=${BENCH_NAPTIME:-1min}
vacuum_interval=${BENCH_VACUUM_INTERVAL:-}
phases=${BENCH_PHASES:-latency throughput size reclaim backlog}
backlog=${BENCH_BACKLOG:-100000}
reclaim_n=${BENCH_RECLAIM:-8000}
alone=${BENCH_ALONE:-8000}
want() { [[ " $phases " == *" $1 "* ]]; }

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
[ -n "${BENCH_KEEP_LOG:-}" ] && trap 'cp "$dir/log" "$BENCH_KEEP_LOG"; cleanup' EXIT
trap 'exit 1' INT TERM

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
role_cluster.retention = '1d'
role_cluster.prune_interval = '1s'
autovacuum_naptime = '$naptime'
EOF
if [ -n "$vacuum_interval" ]; then
	echo "role_cluster.vacuum_interval = '$vacuum_interval'" >>"$dir/data/postgresql.conf"
fi
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null

echo "role_cluster worker benchmark: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "server: fsync on, synchronous_commit on, autovacuum_naptime $naptime, role_cluster defaults but retention${vacuum_interval:+ and vacuum_interval $vacuum_interval}"

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

median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { echo "$1 $2" | awk '{ printf "%.2f", $1 / $2 }'; }

# How many role_cluster vacuum processes are at work (the throughput and
# size phases wait for none)
vacuums_running()
{
	psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'role_cluster vacuum'"
}

# Starts n consumers of the given mode and role; their pids go to pids[].
# Each takes per round trip at most 100 tasks, the batch of the
# hand-written SKIP LOCKED queue it is compared with, and holds (capacity)
# at most $5 (100 if not given: then the worker routes a node its next
# batch only once it has finished the last).
start_consumers()
{
	local mode=$1 role=$2 n=$3 prefix=$4 capacity=${5:-100}
	for i in $(seq 1 "$n"); do
		"$dir/client" "$conn" "$mode" "$prefix$i" "$role" "$capacity" 100 >"$dir/$prefix$i.out" &
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

if want latency; then
setup
echo
echo "== enqueue -> notified / fetched latency, ms ($probes probes per run); idle: $lat_reps rounds,"
echo "   role_cluster, a bare NOTIFY and the bound in turn"
# the bound: the same round trip on a hand-written queue routed by a bare
# dispatcher session (pushwake), woken by NOTIFY
psql_q -c "CREATE TABLE bench_l (id bigserial PRIMARY KEY, state text NOT NULL DEFAULT 'queued')" \
	-c "CREATE INDEX bench_l_queued ON bench_l (id) WHERE state = 'queued'" \
	-c "CREATE INDEX bench_l_routed ON bench_l (id) WHERE state = 'routed'" >/dev/null
"$dir/client" "$conn" pushwake &
pids+=($!)
# the first p99 of a probe's output (notified)
p99() { sed -n 's/^[^=]*p50=[^ ]* p99=\([^ ]*\).*/\1/p' | head -1; }
all_ours="" all_bare="" all_bound=""
for r in $(seq 1 "$lat_reps"); do
	ours=$(PROBE_SAMPLES=$dir/idle_ours client probe probe1 probe storeMaintenance "$probes" | tr '\n' ' ')
	bare=$(client probe_notify bench_channel "$probes" | tr '\n' ' ')
	bound=$(PROBE_SAMPLES=$dir/idle_bound client probe_bound "$probes" | tr '\n' ' ')
	printf "idle, round %s\n  role_cluster: %s\n  bare NOTIFY:  %s\n  bound:        %s\n" "$r" "$ours" "$bare" "$bound"
	all_ours="$all_ours $(echo "$ours" | p99)" all_bare="$all_bare $(echo "$bare" | p99)"
	all_bound="$all_bound $(echo "$bound" | p99)"
done
stop_consumers
psql_q -c "DROP TABLE bench_l" >/dev/null
echo "idle, notified p99 by round: role_cluster$all_ours; bare NOTIFY$all_bare; bound$all_bound"
echo "idle, median of the rounds' notified p99: role_cluster $(echo "$all_ours" | median) ms (target < 5)," \
	"bare NOTIFY $(echo "$all_bare" | median), bound $(echo "$all_bound" | median)"
# p50 and p99 of all rounds' samples together (microseconds in the files)
pooled() { sort -n "$1" | awk '{ v[NR] = $1 } END { printf "p50=%.2f p99=%.2f (%d probes)", v[int(NR / 2) + 1] / 1000, v[int(NR * 99 / 100) + 1] / 1000, NR }'; }
echo "idle, all rounds pooled, notified: role_cluster $(pooled "$dir/idle_ours"); bound $(pooled "$dir/idle_bound")"
echo "(bare NOTIFY: one session NOTIFYs another, no queue; bound: a hand-written queue that a bare"
echo " session, woken by NOTIFY, routes: the insert's commit, a wake-up, the routing write and the"
echo " node's notification, nothing else)"

start_consumers consume loader 4 load
echo "SELECT role_cluster.enqueue('searchIndexing', 'load');" >"$dir/load.sql"
"$bindir/pgbench" -n -c 4 -j 2 -R "$load_rate" -T 600 -f "$dir/load.sql" \
	-h "$dir" -p $port -U postgres postgres >"$dir/pgbench.out" 2>&1 &
pgbench_pid=$!
sleep 3
# task ids come from one sequence: what was enqueued meanwhile, minus the probes
before=$(psql_q -c "SELECT last_value FROM role_cluster.task_id_seq")
t0=$(date +%s.%N)
lat=$(client probe probe2 probe storeMaintenance "$probes" | tr '\n' ' ')
t1=$(date +%s.%N)
after=$(psql_q -c "SELECT last_value FROM role_cluster.task_id_seq")
kill "$pgbench_pid" 2>/dev/null || true
wait "$pgbench_pid" 2>/dev/null || true
rate=$(echo "($after - $before - $probes) / ($t1 - $t0)" | bc -l)
printf "under load: %s(load: %.0f tasks/s enqueued meanwhile)\n" "$lat" "$rate"
stop_consumers
fi

# --- 2. throughput --------------------------------------------------------------
# (done tasks are kept a day here, so that they can be counted)

if want throughput; then
setup
echo
echo "== throughput, 8 nodes, $through tasks queued up front, tasks/s from start to the last done;"
echo "   each queue in turn, $reps rounds, then the median of each"

# The WAL a run writes: wal_start gives the WAL position; wal_end appends
# the bytes of WAL records written since, per task, to $dir/wal_$2 (the
# run's label), as pg_waldump counts them: without the full-page images,
# which depend on when the last checkpoint fell.  A checkpoint removes only
# segments from before its own start, so the run's are still there unless
# one began and ended within the run (then that round has no figure).
# pg_waldump reads the WAL files, and the end of the WAL may still be in
# the server's buffers (the worker commits asynchronously): on reaching it,
# pg_waldump fails.  So wal_end first commits a transaction that waits for
# its flush, which writes out all WAL before it (the transactional message
# gives it a record of its own: a commit without one is not waited for).
wal_start()
{
	psql_q -c "SELECT pg_current_wal_insert_lsn()"
}
wal_end()
{
	local now
	now=$(psql_q -c "SELECT pg_current_wal_insert_lsn()")
	psql_q -c "SET synchronous_commit = on" \
		-c "SELECT pg_logical_emit_message(true, 'role_cluster bench', 'flush')" >/dev/null
	as_pg "$bindir/pg_waldump" -p "$dir/data/pg_wal" -s "$1" -e "$now" --stats 2>/dev/null |
		awk -v n="$through" '$1 == "Total" { printf "%.0f\n", $3 / n }' >>"$dir/wal_$2" || true
}

# The CPU a run keeps busy (test/bench_cpu.sh): cpu_end appends, to
# $dir/cpu_$1 (the run's label), the CPU microseconds per task spent
# between the cpu_jiffies readings $2 and $3 (taken when the run was seen
# done, before the psql calls that follow) and the share of the cores kept
# busy over the $4 seconds the run took
. "$src/test/bench_cpu.sh"
cpu_end()
{
	cpu_per_task "$2" "$3" "$through" "$4" >>"$dir/cpu_$1"
}

# The worker's own share of a dispatch run: its pid now (0 if it has
# none), and, appended to $dir/wcpu_$1, the CPU microseconds per task it
# spent between the proc_jiffies readings $2 and $3, and the share of one
# core that kept busy over the $4 seconds of the run.  One process routes
# every task: near a whole core, it is what the run waits for.
worker_pid()
{
	psql_q -c "SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'role_cluster worker'"
}
worker_end()
{
	cpu_per_task "$2" "$3" "$through" "$4" 1 >>"$dir/wcpu_$1"
}

# Seconds from the run's start $1 to the last task done in table $2 (with
# the condition $3, if given); and the tasks a second that makes
done_secs()
{
	psql_q -c "SELECT extract(epoch FROM max(finished_at) - '$1') FROM $2 ${3:+WHERE $3}"
}
per_second()
{
	echo "$through $1" | awk '{ printf "%.0f\n", $1 / $2 }'
}

# Before a timed run: the last run's dead rows vacuumed now, no
# role_cluster vacuum process left running, and a checkpoint, so that
# neither the last run's clean-up nor a checkpoint falls into this one
quiesce()
{
	psql_q -c "VACUUM role_cluster.task, role_cluster.node, role_cluster.node_fetch" >/dev/null
	while [ "$(vacuums_running)" != "0" ]; do
		sleep 0.1
	done
	psql_q -c "CHECKPOINT" >/dev/null
}

# The storage settings of role_cluster.task, for the hand-written tables
task_reloptions()
{
	psql_q -c "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE oid = 'role_cluster.task'::regclass"
}

# $through tasks of kind $2 worked off by 8 nodes in mode $1 (consume:
# fetch_tasks what the worker routed; claim: claim_tasks) of capacity $4
# (100 if not given); prints tasks/s, then prunes them; $3 labels its WAL
# figure
nodes_run()
{
	local start lsn cpu cpu_done secs wpid wcpu wcpu_done
	psql_q -c "SELECT count(role_cluster.enqueue('storeMaintenance', '$2')) FROM generate_series(1, $through)" >/dev/null
	quiesce
	lsn=$(wal_start)
	start=$(psql_q -c "SELECT clock_timestamp()")
	# the worker's CPU in a dispatch run (in a claim run it is disabled)
	wpid=0
	[ "$1" != consume ] || wpid=$(worker_pid)
	wcpu=$(proc_jiffies "$wpid")
	cpu=$(cpu_jiffies)
	start_consumers "$1" - 8 "$2" "${4:-100}"
	# none queued or running, then all done; polled from one session with
	# index probes, so that the wait costs the run next to nothing, as the
	# SKIP LOCKED run's (it waits for its nodes to exit) costs it nothing
	client wait "SELECT NOT EXISTS (SELECT FROM role_cluster.task WHERE state = 'queued' AND NOT singleton)
		AND NOT EXISTS (SELECT FROM role_cluster.task WHERE state = 'queued' AND singleton)
		AND NOT EXISTS (SELECT FROM role_cluster.task WHERE state = 'running')"
	cpu_done=$(cpu_jiffies)
	wcpu_done=$(proc_jiffies "$wpid")
	while [ "$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE state = 'done' AND kind = '$2'")" != "$through" ]; do
		sleep 0.2
	done
	secs=$(done_secs "$start" role_cluster.task "kind = '$2'")
	cpu_end "$3" "$cpu" "$cpu_done" "$secs"
	[ "$wpid" = 0 ] || worker_end "$3" "$wcpu" "$wcpu_done" "$secs"
	wal_end "$lsn" "$3"
	per_second "$secs"
	stop_consumers
	psql_q -c "SELECT role_cluster.prune(interval '0', interval '0', 100000000)" >/dev/null
}

# dispatch by the worker, nodes fetch_tasks; $1 = role_cluster.dispatch_batch,
# $2 = the nodes' capacity (100 if not given)
dispatch_run()
{
	psql_q -c "ALTER SYSTEM SET role_cluster.dispatch_batch = $1" -c "SELECT pg_reload_conf()" >/dev/null
	nodes_run consume through "dispatch$1cap${2:-100}" "${2:-100}"
	psql_q -c "ALTER SYSTEM RESET role_cluster.dispatch_batch" -c "SELECT pg_reload_conf()" >/dev/null
}

# pull: claim_tasks, the worker disabled
pull_run()
{
	psql_q -c "ALTER SYSTEM SET role_cluster.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	while [ "$(psql_q -c "SELECT state FROM role_cluster.worker_stats")" != "disabled" ]; do sleep 0.1; done
	nodes_run claim pulled pull
	psql_q -c "ALTER SYSTEM RESET role_cluster.enabled" -c "SELECT pg_reload_conf()" >/dev/null
}

# the hand-written SKIP LOCKED queue, batch 100: $1 = skip, in id order, or
# skipo, as bench_queue.sh's hand-written queue (due rows only, in priority,
# run_at and id order, as role_cluster hands them out, recording the node
# that holds a row and counting its attempt), or skipe, that queue whole: it
# also marks its rows done as bench_queue.sh's does, one statement (and
# transaction) per row; also the label of its figures
skip_run()
{
	local start lsn cpu cpu_done secs cols="" key=id node="" each=""
	if [ "$1" != skip ]; then
		cols="priority integer NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(),
	node_id text, attempts integer NOT NULL DEFAULT 0,"
		key="priority DESC, run_at, id"
	fi
	psql_q <<EOF >/dev/null
CREATE TABLE bench_q (id bigserial PRIMARY KEY, task_type text NOT NULL, payload jsonb NOT NULL DEFAULT '{}', $cols
	state text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz);
ALTER TABLE bench_q SET ($(task_reloptions));
CREATE INDEX bench_q_queued ON bench_q ($key) WHERE state = 'queued';
INSERT INTO bench_q (task_type) SELECT 'storeMaintenance' FROM generate_series(1, $through);
EOF
	quiesce
	lsn=$(wal_start)
	start=$(psql_q -c "SELECT clock_timestamp()")
	cpu=$(cpu_jiffies)
	for i in $(seq 1 8); do
		[ "$1" = skip ] || node="n$i"
		[ "$1" = skipe ] && each=each
		"$dir/client" "$conn" skiplocked 100 $node $each >"$dir/skip$i.out" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cpu_done=$(cpu_jiffies)
	pids=()
	secs=$(done_secs "$start" bench_q)
	cpu_end "$1" "$cpu" "$cpu_done" "$secs"
	wal_end "$lsn" "$1"
	per_second "$secs"
	psql_q -c "DROP TABLE bench_q" >/dev/null
}

# the bound: a hand-written queue routed by one dispatcher as the worker does,
# without the routing rule (no capacity, liveness, role or shard); $1 =
# batch; $2 = take (routed, then each node takes its rows: routed ->
# running, as fetch_tasks() does) or read (routed straight to running; the
# nodes only read their rows before marking them done, so each task is
# written twice, as on the SKIP LOCKED queue); $3 = dispatchers (default
# 1).  Prints the rate and the seconds after which all was routed.
bound_run()
{
	local start routed_after lsn state=routed cpu cpu_done secs
	[ "$2" = read ] && state=running
	psql_q <<EOF >/dev/null
CREATE TABLE bench_p (id bigserial PRIMARY KEY, task_type text NOT NULL, payload jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'queued', node integer, created_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz);
ALTER TABLE bench_p SET ($(task_reloptions));
CREATE INDEX bench_p_queued ON bench_p (id) WHERE state = 'queued';
CREATE INDEX bench_p_held ON bench_p (node) WHERE state = '$state';
INSERT INTO bench_p (task_type) SELECT 'storeMaintenance' FROM generate_series(1, $through);
EOF
	quiesce
	lsn=$(wal_start)
	start=$(psql_q -c "SELECT clock_timestamp()")
	cpu=$(cpu_jiffies)
	for i in $(seq 1 8); do
		"$dir/client" "$conn" pushnode "$i" "$2" >"$dir/bound$i.out" &
		pids+=($!)
	done
	# $3 dispatchers (1 unless given), each routing what the others left
	local routers=()
	for _ in $(seq 1 "${3:-1}"); do
		client pushroute "$1" 8 "$state" >/dev/null &
		routers+=($!)
	done
	wait "${routers[@]}"
	routed_after=$(psql_q -c "SELECT round(extract(epoch FROM clock_timestamp() - '$start')::numeric, 2)")
	# as in nodes_run: none routed, then all done (a node's rows are
	# running, unindexed, only between its two statements)
	client wait "SELECT NOT EXISTS (SELECT FROM bench_p WHERE state = '$state')"
	cpu_done=$(cpu_jiffies)
	while [ "$(psql_q -c "SELECT count(*) FROM bench_p WHERE state = 'done'")" != "$through" ]; do
		sleep 0.2
	done
	secs=$(done_secs "$start" bench_p)
	cpu_end "bound$1$2${3:-1}" "$cpu" "$cpu_done" "$secs"
	wal_end "$lsn" "bound$1$2${3:-1}"
	echo "$(per_second "$secs") $routed_after"
	stop_consumers
	psql_q -c "DROP TABLE bench_p" >/dev/null
}

# The routing step alone, in one session with nothing else running (the
# worker off): dispatch(1000) in a transaction per call, as the worker
# calls it (synchronous_commit off), routing $alone tasks to $1 live nodes
# that do not fetch them (registered by that session, so live without a
# lookup), against the same session claiming $alone rows of the SKIP LOCKED
# queue at batch 100.  With $2 = hold, another session holds a snapshot
# meanwhile (a long transaction: no routed or claimed task's old version
# is dead to all, so neither queue's scans can mark entries dead).  Prints
# microseconds per task for each.
alone_run()
{
	local nodes=$1 hold=${2:-} calls=$(((alone + 999) / 1000)) claims=$(((alone + 99) / 100)) i holder=
	psql_q -c "ALTER SYSTEM SET role_cluster.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
	while [ "$(psql_q -c "SELECT state FROM role_cluster.worker_stats")" != "disabled" ]; do sleep 0.1; done
	if [ -n "$hold" ]; then
		psql_q -c "SELECT pg_sleep(3600) /* bench holder */" >/dev/null 2>&1 &
		holder=$!
		for i in $(seq 1 100); do	# up to 10 s
			if [ "$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%bench holder%' AND backend_xmin IS NOT NULL AND pid <> pg_backend_pid()")" != 0 ]; then
				i=0
				break
			fi
			sleep 0.1
		done
		[ "$i" = 0 ] || { echo "the snapshot holder did not start" >&2; exit 1; }
	fi
	{
		cat <<EOF
SET synchronous_commit = off;
SELECT count(role_cluster.register_node('alone' || i, 'probe', NULL, $alone / $nodes + 1)) FROM generate_series(1, $nodes) i;
SELECT count(role_cluster.enqueue('storeMaintenance', 'alone')) FROM generate_series(1, $alone);
CREATE TABLE bench_a (id bigserial PRIMARY KEY, task_type text NOT NULL, payload jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'queued', created_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz);
CREATE INDEX bench_a_queued ON bench_a (id) WHERE state = 'queued';
INSERT INTO bench_a (task_type) SELECT 'storeMaintenance' FROM generate_series(1, $alone);
VACUUM ANALYZE role_cluster.task;
VACUUM ANALYZE bench_a;
CHECKPOINT;
SELECT clock_timestamp() AS t0 \gset
\o /dev/null
EOF
		for i in $(seq 1 "$calls"); do echo "SELECT role_cluster.dispatch(1000);"; done
		echo "\\o"
		echo "SELECT clock_timestamp() AS t1 \\gset"
		echo "\\o /dev/null"
		for i in $(seq 1 "$claims"); do
			echo "UPDATE bench_a SET state = 'running' WHERE id IN (SELECT id FROM bench_a WHERE state = 'queued' ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED);"
		done
		cat <<EOF
\o
SELECT clock_timestamp() AS t2 \gset
SELECT CASE WHEN (SELECT count(*) FROM role_cluster.task WHERE kind = 'alone' AND state = 'running') = $alone
			THEN round(extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz) * 1e6 / $alone, 1)::text ELSE '?' END
	|| ' ' ||
	CASE WHEN (SELECT count(*) FROM bench_a WHERE state = 'running') = $alone
		 THEN round(extract(epoch FROM :'t2'::timestamptz - :'t1'::timestamptz) * 1e6 / $alone, 1)::text ELSE '?' END;
DROP TABLE bench_a;
DELETE FROM role_cluster.task WHERE kind = 'alone';
DELETE FROM role_cluster.node WHERE node_id LIKE 'alone%';
EOF
	} | psql_q | tail -1
	if [ -n "$holder" ]; then
		psql_q -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%bench holder%' AND pid <> pg_backend_pid()" >/dev/null
		wait "$holder" 2>/dev/null || true
	fi
	psql_q -c "ALTER SYSTEM RESET role_cluster.enabled" -c "SELECT pg_reload_conf()" >/dev/null
}

# One run of the queue named $1: prints its rate (a bound's, then the
# seconds until all was routed)
throughput_run()
{
	case $1 in
		disp) dispatch_run 1000 ;;
		disp100) dispatch_run 100 ;;
		tuned) dispatch_run 2000 1000 ;;
		pull) pull_run ;;
		skip) skip_run skip ;;
		skipo) skip_run skipo ;;
		skipe) skip_run skipe ;;
		bound) bound_run 1000 take ;;
		bound100) bound_run 100 take ;;
		bread) bound_run 1000 read ;;
		bread2) bound_run 1000 read 2 ;;
	esac
}
# Round r starts at the r-th queue of the list and wraps around, so that
# over as many rounds as there are queues (BENCH_THROUGHPUT_ROUNDS=11) each
# queue runs once in each place of a round: a machine whose speed drifts
# within a round then favours no queue (over fewer rounds, less so).
queues=(disp disp100 tuned pull skip skipo skipe bound bound100 bread bread2)
fmt="%-5s %9s %9s %9s %9s %9s %9s %9s %15s %15s %15s %15s %9s %9s %9s %9s %9s %9s %9s\n"
printf "$fmt" round dispatch dispatch 'dispatch' claim 'SKIP' 'SKIP' 'SKIP' 'bound' 'bound' 'bound, read' 'bound, read' dispatch 'tuned' 'tuned' dispatch tuned bound 'bound,'
printf "$fmt" '' '1000' '100' '2000, cap' '(pull)' 'LOCKED' 'LOCKED,' 'LOCKED,' '1000 (routed)' '100 (routed)' '1000 (routed)' '2 dispatchers' '/ SKIP' '/ SKIP' '/ SKIP' '/ SKIP' '/ SKIP' '/ SKIP' 'read/SKIP'
printf "$fmt" '' '' '' '1000' '' '' 'ordered' 'each ack' '' '' '' '' '' '' 'ordered' 'each ack' 'each ack' '' ''
declare -A rates=() all=()
# a bound's rate and, in brackets, the seconds until all was routed
cell() { echo "${rates[$1]%% *} (${rates[$1]#* }s)"; }
for r in $(seq 1 "$reps"); do
	rates=()
	for k in $(seq 0 $((${#queues[@]} - 1))); do
		q=${queues[$(((k + r - 1) % ${#queues[@]}))]}
		rates[$q]=$(throughput_run "$q")
		all[$q]="${all[$q]:-} ${rates[$q]%% *}"
	done
	printf "$fmt" "$r" "${rates[disp]}" "${rates[disp100]}" "${rates[tuned]}" "${rates[pull]}" "${rates[skip]}" \
		"${rates[skipo]}" "${rates[skipe]}" "$(cell bound)" "$(cell bound100)" "$(cell bread)" "$(cell bread2)" \
		"$(ratio "${rates[disp]}" "${rates[skip]}")" "$(ratio "${rates[tuned]}" "${rates[skip]}")" \
		"$(ratio "${rates[tuned]}" "${rates[skipo]}")" \
		"$(ratio "${rates[disp]}" "${rates[skipe]}")" "$(ratio "${rates[tuned]}" "${rates[skipe]}")" \
		"$(ratio "${rates[bound]%% *}" "${rates[skip]}")" "$(ratio "${rates[bread]%% *}" "${rates[skip]}")"
done
declare -A med=()
for q in "${queues[@]}"; do
	med[$q]=$(echo "${all[$q]}" | median)
done
skip=${med[skip]}
printf "$fmt" median "${med[disp]}" "${med[disp100]}" "${med[tuned]}" "${med[pull]}" "$skip" "${med[skipo]}" \
	"${med[skipe]}" "${med[bound]}" "${med[bound100]}" "${med[bread]}" "${med[bread2]}" "$(ratio "${med[disp]}" "$skip")" \
	"$(ratio "${med[tuned]}" "$skip")" "$(ratio "${med[tuned]}" "${med[skipo]}")" \
	"$(ratio "${med[disp]}" "${med[skipe]}")" "$(ratio "${med[tuned]}" "${med[skipe]}")" \
	"$(ratio "${med[bound]}" "$skip")" "$(ratio "${med[bread]}" "$skip")"
echo "dispatch 1000 = the worker at its default dispatch_batch, its nodes fetch_tasks() and complete_tasks()"
echo "100 at a time, each node of capacity 100 (it is routed its next batch only once it has finished"
echo "the last); dispatch 100: dispatch_batch 100; tuned: dispatch_batch 2000 and nodes of capacity"
echo "1000, still fetching 100 at a time (the worker routes ahead of the nodes, in fuller calls);"
echo "bound = one bare dispatcher (routed: seconds until it had routed every task); its nodes take"
echo "their rows (routed -> running) and mark them done; bound, read: routed straight to running,"
echo "the nodes only read their rows and mark them done (two writes per task, as SKIP LOCKED and"
echo "role_cluster);"
echo "2 dispatchers: the same with two bare dispatchers at once. SKIP LOCKED: in id order;"
echo "SKIP LOCKED, ordered: as bench_queue.sh's hand-written queue claims, due rows in priority, run_at"
echo "and id order, as role_cluster hands them out, the holder recorded and the attempt counted;"
echo "SKIP LOCKED, each ack: that queue whole, each row then marked done by a statement of its own, as"
echo "bench_queue.sh's hand-written queue does (the other two mark a batch done in one statement)."
echo "medians: dispatch / SKIP LOCKED = $(ratio "${med[disp]}" "$skip") (batch 100: $(ratio "${med[disp100]}" "$skip");" \
	"tuned: $(ratio "${med[tuned]}" "$skip"));" \
	"bound / SKIP LOCKED = $(ratio "${med[bound]}" "$skip") (batch 100: $(ratio "${med[bound100]}" "$skip"));" \
	"bound, read / SKIP LOCKED = $(ratio "${med[bread]}" "$skip") (2 dispatchers: $(ratio "${med[bread2]}" "$skip"));" \
	"against SKIP LOCKED, ordered: dispatch $(ratio "${med[disp]}" "${med[skipo]}"), tuned $(ratio "${med[tuned]}" "${med[skipo]}");" \
	"against SKIP LOCKED, each ack: dispatch $(ratio "${med[disp]}" "${med[skipe]}"), tuned $(ratio "${med[tuned]}" "${med[skipe]}")"
wal() { median <"$dir/wal_$1"; }
echo "WAL records written per task, bytes (median of the rounds; from start to the last done, without"
echo "full-page images): dispatch 1000 $(wal dispatch1000cap100), dispatch 100 $(wal dispatch100cap100)," \
	"tuned $(wal dispatch2000cap1000)," \
	"claim $(wal pull), SKIP LOCKED $(wal skip), ordered $(wal skipo), each ack $(wal skipe), bound 1000 $(wal bound1000take1), bound 100 $(wal bound100take1)," \
	"bound, read $(wal bound1000read1), 2 dispatchers $(wal bound1000read2);" \
	"dispatch / SKIP LOCKED = $(ratio "$(wal dispatch1000cap100)" "$(wal skip)")"
cpu() { cut -d' ' -f1 "$dir/cpu_$1" | median; }
busy() { echo "$(cpu "$1") ($(cut -d' ' -f2 "$dir/cpu_$1" | median))"; }
echo "CPU per task, microseconds, all processes (median of the rounds), and in brackets the share of"
echo "the $(cpu_cores) cores kept busy over the run (from /proc/stat, without steal): dispatch 1000 $(busy dispatch1000cap100)," \
	"dispatch 100 $(busy dispatch100cap100), tuned $(busy dispatch2000cap1000), claim $(busy pull)," \
	"SKIP LOCKED $(busy skip), ordered $(busy skipo), each ack $(busy skipe), bound 1000 $(busy bound1000take1), bound 100 $(busy bound100take1)," \
	"bound, read $(busy bound1000read1), 2 dispatchers $(busy bound1000read2);" \
	"CPU per task / SKIP LOCKED's: dispatch $(ratio "$(cpu dispatch1000cap100)" "$(cpu skip)")," \
	"tuned $(ratio "$(cpu dispatch2000cap1000)" "$(cpu skip)"), bound, read $(ratio "$(cpu bound1000read1)" "$(cpu skip)");" \
	"against SKIP LOCKED, ordered: tuned $(ratio "$(cpu dispatch2000cap1000)" "$(cpu skipo)")"
wcpu() { echo "$(cut -d' ' -f1 "$dir/wcpu_$1" | median) ($(cut -d' ' -f2 "$dir/wcpu_$1" | median))"; }
echo "of which the worker's own process (it routes every task), microseconds per task, and in brackets"
echo "the share of one core it kept busy: dispatch 1000 $(wcpu dispatch1000cap100), dispatch 100 $(wcpu dispatch100cap100)," \
	"tuned $(wcpu dispatch2000cap1000)"
echo
echo "== the routing step alone, microseconds per task ($alone tasks, one session, nothing else running):"
echo "   dispatch(1000) to 8 nodes that do not fetch, vs the same session claiming from the SKIP LOCKED"
echo "   queue at batch 100; then to 32 nodes, and to 8 while another session holds a snapshot; $reps rounds"
all_ad="" all_as="" all_ad32="" all_adh="" all_ash=""
for r in $(seq 1 "$reps"); do
	read -r ad as <<<"$(alone_run 8)"
	read -r ad32 as32 <<<"$(alone_run 32)"
	read -r adh ash <<<"$(alone_run 8 hold)"
	echo "round $r: dispatch $ad, SKIP LOCKED claim $as; 32 nodes: $ad32, $as32; snapshot held: $adh, $ash"
	all_ad="$all_ad $ad" all_as="$all_as $as" all_ad32="$all_ad32 $ad32"
	all_adh="$all_adh $adh" all_ash="$all_ash $ash"
done
ad=$(echo "$all_ad" | median)
as=$(echo "$all_as" | median)
echo "medians: dispatch $ad, SKIP LOCKED claim $as; dispatch / SKIP LOCKED claim (cost per task) = $(ratio "$ad" "$as")"
ad32=$(echo "$all_ad32" | median)
adh=$(echo "$all_adh" | median)
ash=$(echo "$all_ash" | median)
echo "  32 nodes: dispatch $ad32 (/ 8 nodes = $(ratio "$ad32" "$ad"));" \
	"snapshot held: dispatch $adh (/ not held = $(ratio "$adh" "$ad")), SKIP LOCKED claim $ash (/ not held = $(ratio "$ash" "$as"))"
fi

# --- 3. table size after many tasks ----------------------------------------------

if want size; then
setup
psql_q -c "ALTER SYSTEM SET role_cluster.retention = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
echo
echo "== queue table size (task + indexes + toast, schedule tables) after tasks passed through"
echo "   (retention 1s, prune every 1s, 8 nodes, producer batches of 100, backlog <= 5000, rate ${size_rate:-0}/s (0: unlimited))"
start_consumers consume - 8 size

# The queue tables' total size
size_now()
{
	psql_q -c "SELECT pg_total_relation_size('role_cluster.task')
		+ pg_total_relation_size('role_cluster.node')
		+ pg_total_relation_size('role_cluster.node_fetch')
		+ pg_total_relation_size('role_cluster.schedule_firing')"
}

# Waits until every task produced so far is done and pruned, and then until
# a vacuum (autovacuum's or the worker's) has been through the task table
# once more (it is what gives the emptied pages back), so that every point
# is measured in the same state, not at whatever moment vacuum last
# happened to truncate the heap; then, once the worker's vacuum process
# has finished (it rebuilds bloated indexes after its vacuum, or, after
# someone else's, at the worker's next look, within two vacuum_intervals),
# and the size has not moved for four vacuum_intervals (the vacuum seen
# may have read the heap before the last prune, and the one after it
# comes a look or two later), prints the size.  Gives up waiting for the
# vacuum after 60 s, and for a steady size 60 s after it could have been.
settle()
{
	local since look samples n=0 size last steady=0
	while [ "$(psql_q -c "SELECT count(*) FROM role_cluster.task")" != "0" ]; do
		sleep 0.5
	done
	since=$(psql_q -c "SELECT clock_timestamp()")
	while [ "$(psql_q -c "SELECT coalesce(greatest(last_autovacuum, last_vacuum) > '$since', false)
			FROM pg_stat_user_tables WHERE relid = 'role_cluster.task'::regclass")" != "t" ] && [ $n -lt 120 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	# the worker's vacuum process may go on to rebuild bloated indexes; after
	# autovacuum's vacuum the worker starts it at its next look, when an
	# index is bloated
	look=$(psql_q -c "SELECT 2 * extract(epoch FROM current_setting('role_cluster.vacuum_interval')::interval)")
	sleep "$look"
	# four vacuum_intervals in samples 0.5 s apart
	samples=$(psql_q -c "SELECT ceil(8 * extract(epoch FROM current_setting('role_cluster.vacuum_interval')::interval))")
	n=0
	last=$(size_now)
	while [ "$steady" -lt "$samples" ] && [ $n -lt $((samples + 120)) ]; do
		sleep 0.5
		n=$((n + 1))
		size=$(size_now)
		if [ "$size" = "$last" ] && [ "$(vacuums_running)" = "0" ]; then
			steady=$((steady + 1))
		else
			steady=0
		fi
		last=$size
	done
	[ "$steady" -lt "$samples" ] && echo "   (the size still moved 60 s after it could have settled; measured as it was)" >&2
	echo "$last"
}

# Sizes of the task table's parts
breakdown()
{
	psql_q -c "SELECT string_agg(c.relname || ' ' || pg_relation_size(c.oid) / 1024 || 'k', ', ' ORDER BY c.relname)
		FROM pg_class c WHERE c.oid = 'role_cluster.task'::regclass
		   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'role_cluster.task'::regclass)"
}

# Produces $1 tasks, sampling the size every half second meanwhile; prints
# the largest size seen, and adds the seconds it took to $dir/flowing
produce_sampled()
{
	local prod peak=0 s t
	t=$(date +%s.%N)
	client produce storeMaintenance "$1" 100 5000 "$size_rate" >/dev/null &
	prod=$!
	while kill -0 "$prod" 2>/dev/null; do
		s=$(size_now)
		[ "$s" -gt "$peak" ] && peak=$s
		sleep 0.5
	done
	wait "$prod"
	t=$(echo "$(cat "$dir/flowing") + $(date +%s.%N) - $t" | bc -l)
	echo "$t" >"$dir/flowing"
	echo "$peak"
}

echo 0 >"$dir/flowing"
t0=$(date +%s)
peak_small=$(produce_sampled "$small")
size_small=$(settle)
parts_small=$(breakdown)
peak_mid=$(produce_sampled $((mid - small)))
size_mid=$(settle)
parts_mid=$(breakdown)
peak_large=$(produce_sampled $((large - mid)))
size_large=$(settle)
parts_large=$(breakdown)
t1=$(date +%s)
stop_consumers
echo "   settled: all done and pruned, and vacuumed once since; peak: the largest size sampled"
echo "   while those tasks flowed"
printf "after %8d tasks: settled %8s bytes, peak %8s (%s)\n" "$small" "$size_small" "$peak_small" "$parts_small"
printf "after %8d tasks: settled %8s bytes, peak %8s (%s)\n" "$mid" "$size_mid" "$peak_mid" "$parts_mid"
printf "after %8d tasks: settled %8s bytes, peak %8s (%s)\n" "$large" "$size_large" "$peak_large" "$parts_large"
flowing=$(cat "$dir/flowing")
printf "   (%d s in all; %.0f s while tasks were produced, %.0f tasks/s; the rest waiting to settle)\n" \
	$((t1 - t0)) "$flowing" "$(echo "$large / $flowing" | bc -l)"
printf "ratio %d / %d tasks, settled: %.2f (%d / %d: %.2f)\n" "$large" "$small" \
	"$(echo "$size_large / $size_small" | bc -l)" "$large" "$mid" "$(echo "$size_large / $size_mid" | bc -l)"
psql_q -c "SELECT 'worker: loops ' || loops || ', routed ' || routed || ', notified ' || notified
	|| ', pruned ' || pruned || ', errors ' || errors || coalesce(' (last: ' || last_error || ')', '')
	|| ', avg loop ' || round(avg_loop_ms::numeric, 2) || ' ms'
	FROM role_cluster.worker_stats"
fi

# --- 4. reclaim() by the number of tasks held ---------------------------------------

# A lost node's held tasks, half of them fetched, taken back by one reclaim()
# call (the worker disabled, so that it does not do it first): at N and at
# 4N tasks.  Linear work takes about four times as long at 4N; an id list
# tested against every row of another index once made it sixteen.
if want reclaim; then
setup
psql_q -c "ALTER SYSTEM SET role_cluster.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
echo
echo "== reclaim() of a lost node's held tasks (half of them fetched), by how many it held"
times=()
for n in "$reclaim_n" $((4 * reclaim_n)); do
	psql_q <<EOF >/dev/null
DELETE FROM role_cluster.task;
SELECT role_cluster.register_node('lost', 'loader', NULL, 1000000);
SELECT count(role_cluster.enqueue('searchIndexing', 'r')) FROM generate_series(1, $n);
SELECT role_cluster.dispatch($n);
SELECT count(*) FROM role_cluster.fetch_tasks('lost', $n / 2);
EOF
	# the session that registered the node has ended: the node is lost
	ms=$(psql_q <<'EOF'
SELECT clock_timestamp() AS t0 \gset
SELECT role_cluster.reclaim() AS taken \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
EOF
)
	counted=$(psql_q -c "SELECT count(*) FROM role_cluster.task WHERE attempts = 1 AND last_error IS NOT NULL")
	echo "held $n: reclaim() took $ms ms ($counted fetched ones counted an attempt)"
	times+=("$ms")
done
printf "ratio %d / %d tasks: %.1f (linear: about 4)\n" $((4 * reclaim_n)) "$reclaim_n" \
	"$(echo "${times[1]} / ${times[0]}" | bc -l)"
psql_q -c "ALTER SYSTEM RESET role_cluster.enabled" -c "SELECT pg_reload_conf()" >/dev/null
fi

# --- 5. a backlog no live node can run ----------------------------------------

# The median of 20 hand-outs of one task to node "blk" (role probe), in ms:
# claim_tasks() or, with $1 = dispatch, dispatch() then fetch_tasks()
backlog_handouts()
{
	local mode=$1
	{
		echo "SELECT role_cluster.register_node('blk', 'probe', NULL, 1000000);"
		for _ in $(seq 1 20); do
			echo "SELECT role_cluster.enqueue('storeMaintenance', 'b');"
			echo "SELECT clock_timestamp() AS t0 \\gset"
			if [ "$mode" = dispatch ]; then
				echo "SELECT role_cluster.dispatch(1000) AS routed \\gset"
				echo "SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 2);"
				echo "SELECT id AS cid FROM role_cluster.fetch_tasks('blk', 1) \\gset"
			else
				echo "SELECT id AS cid FROM role_cluster.claim_tasks('blk', 1) \\gset"
				echo "SELECT round(extract(epoch FROM clock_timestamp() - :'t0') * 1000, 2);"
			fi
			echo "SELECT role_cluster.complete_task(:cid, 'blk');"
		done
		echo "SELECT role_cluster.deregister_node('blk');"
	} | psql_q | grep -E '^[0-9]+\.[0-9]+$' | median
}

if want backlog; then
setup
psql_q -c "ALTER SYSTEM SET role_cluster.enabled = off" -c "SELECT pg_reload_conf()" >/dev/null
echo
echo "== one task handed out behind push tasks no live node may run: median of 20, ms (ratio to none)"
printf '%-28s %12s %8s %12s %8s\n' 'queued ahead of it' 'claim_tasks' 'ratio' 'dispatch' 'ratio'
base_c="" base_d=""
for n in 0 "$backlog" $((3 * backlog)) deferred; do
	if [ "$n" = deferred ]; then
		psql_q -c "UPDATE role_cluster.task SET run_at = now() + interval '1 hour'
		           WHERE state = 'queued' AND task_type = 'pushNotifications'" >/dev/null
		label="$((3 * backlog)), deferred an hour"
	else
		psql_q -c "DELETE FROM role_cluster.task" \
			-c "SELECT count(role_cluster.enqueue('pushNotifications', 'p', shard_key => 'u' || g))
			    FROM generate_series(1, $n) g" >/dev/null
		label=$n
	fi
	psql_q -c "VACUUM ANALYZE role_cluster.task" >/dev/null
	c=$(backlog_handouts claim)
	d=$(backlog_handouts dispatch)
	[ -z "$base_c" ] && base_c=$c base_d=$d
	printf '%-28s %12s %8s %12s %8s\n' "$label" "$c" "$(ratio "$c" "$base_c")" "$d" "$(ratio "$d" "$base_d")"
done
psql_q -c "ALTER SYSTEM RESET role_cluster.enabled" -c "SELECT pg_reload_conf()" >/dev/null
fi
