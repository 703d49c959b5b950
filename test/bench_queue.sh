#!/bin/bash
# Benchmark of the task queue against a hand-written FOR UPDATE SKIP LOCKED
# queue (a script, not a test).
#
# Run as root on Debian 12, like test/check.sh: builds and installs
# role_cluster into PG_CONFIG's tree from a copy of this tree, starts a
# throwaway server as postgres in a fresh directory under /tmp
# (shared_preload_libraries = 'role_cluster', Unix socket in that
# directory, a free port), measures, prints ratios against the hand-written
# queue measured in the same run, and stops and removes the server on exit.
#
#   bash test/bench_queue.sh                       # synchronous_commit = on
#   SYNC=off bash test/bench_queue.sh              # commits not waited for: CPU-bound
#   FLUSH_CLAIMS=on bash test/bench_queue.sh       # role_cluster's claims wait for the flush too
#   SECS=10 REPS=5 NODES="1 2 8" BATCHES="1 100" bash test/bench_queue.sh
#   MODE=extended bash test/bench_queue.sh         # statements planned at each execution
#   COUNT=instructions bash test/bench_queue.sh    # CPU instructions per task instead (below)
#   COUNT=instructions PARTS=1 bash test/bench_queue.sh  # and by part: each call, the worker's path
#
# Each point runs pgbench for SECS seconds with N clients, each a node that
# loops: enqueue B tasks, claim B tasks, acknowledge them.  Tasks/s counts
# the tasks done at the end of the run.  The compared queues alternate
# within each of REPS rounds, so drift on a shared machine hits all alike;
# the figure is the median.  Both queues' statements are prepared once
# per session (pgbench -M prepared), and every session plans them as
# role_cluster's functions plan their own: a generic plan, made with
# enable_seqscan off (a generic plan made while a queue table is empty
# would otherwise keep scanning it whole once it is large), no JIT.  So
# neither side pays for parsing or planning at each call; with
# MODE=extended (unnamed statements, parsed and planned at each
# execution, as some drivers do) the hand-written SQL pays for it and
# role_cluster's cached inner plans do not.
#
#   role_cluster  enqueue() or enqueue_batch(), claim_tasks() (the routing
#                 rule: live node, role, shard, singletons, capacity), then
#                 complete_task() for B = 1, complete_tasks() for B > 1.
#   hand          a table with a partial index on due queued rows: INSERT,
#                 UPDATE ... WHERE id IN (SELECT ... ORDER BY priority DESC,
#                 run_at, id LIMIT B FOR UPDATE SKIP LOCKED), and one UPDATE
#                 per task to acknowledge it, each its own transaction, as a
#                 worker does when it finishes a task.
#   hand+batch    the same, acknowledging all B tasks in one UPDATE (only
#                 run for B > 1).
#   hand+route    the hand-written queue doing the least that the routing
#                 rule needs, in the same three statements and plain SQL:
#                 the claim reads and locks its node's row (registered,
#                 within its lease, the caller's login) and counts what the
#                 node holds under that lock (capacity), takes only tasks
#                 of its node's types and push shard, and writes the lease;
#                 only the holder may acknowledge.  Its table carries the
#                 indexes those need: the tasks each node holds, and the
#                 unique ones that make singletons and dedupe keys hold
#                 under concurrency (a database constraint, as the queue
#                 issue asks).  Its ratio is to the hand-written queue: what
#                 the routing rule costs it at its cheapest, each part in
#                 one plain statement with none of role_cluster's other
#                 duties (pruning, fetch marks, hand edits kept right,
#                 errors that say why).
#   C floor       at batch 1 only: the hand-written queue's three statements
#                 on role_cluster.task itself, done by a C module
#                 (test/bench_floor.c, compiled and loaded here) through
#                 role_cluster's own row writes (src/rc_write.c, which
#                 complete_task() uses: the routines PostgreSQL's logical
#                 replication applies rows with, the table's index
#                 predicates and WHEN clauses prepared once per session):
#                 no statement planned or started, no routing rule, no
#                 check of the caller.  The least a C implementation of the
#                 three calls spends on that table; any routing is on top.
# All their tables have the same storage and autovacuum settings.
#
# Beside the rates, the WAL each queue wrote per task done in those runs,
# as pg_waldump counts it: the bytes of its records and the index entries
# it added (role_cluster's task table has the indexes the routing rule and
# pruning need: the tasks each node holds, finished tasks by age).
#
# And the CPU each queue spent per task in those runs, every process on the
# machine counted (test/bench_cpu.sh), with the share of the cores it kept
# busy: a run that keeps them busy is bound by its CPU per task, one that
# leaves them idle (one node at batch 1) by its waits: round trips and
# commits.
#
# And the WAL flushes those runs waited for (pg_stat_wal): the tasks done
# per flush, and the share of the run the server spent writing and
# flushing WAL (track_wal_io_timing).  With synchronous_commit on, a run
# that keeps the WAL busy nearly all the time is bound by how many commits
# each flush takes in, not by the CPU left idle.
#
# A second table runs the queues interleaved, all in one pgbench run per
# point, and compares their mean latency per task: less exposed to the
# drift of a shared machine than separate runs, but the costs the queues
# share (WAL flushes at commit, autovacuum) are spread over all of them
# there, so it shows the cost of each queue's own statements; the first
# table, each queue alone, is the throughput.
#
# COUNT=instructions measures no rate: the server runs under valgrind's
# callgrind (installed if missing), and each queue's loop runs in one
# session, one node, for a fixed number of tasks; the figure is the CPU
# instructions its backend executed per task (two runs, a short one and
# a long one, subtracted: what connecting and warming up cost cancels
# out).  Exact and repeatable where the rates swing with the machine's
# other load; it leaves out what instructions do not show (waits, WAL
# flushes, cache misses, the client and the network).  A third queue runs
# beside them: the hand-written statements on role_cluster.task itself
# (plain INSERT and UPDATEs, no routing rule), which parts what the table
# costs (its indexes, triggers and wider rows) from what role_cluster's
# functions add; the C floor, at batch 1, parts what the table's writes
# cost from what planning and starting the statements does.  For B > 1,
# a second table: the worker's path, in one session as well, about 1,000 tasks a loop: enqueue_batch() of B tasks
# at a time, one dispatch() of them all to 8 nodes (the worker's default
# dispatch_batch is 1,000), and each node's fetch_tasks() of up to B and
# complete_tasks() until it has had its share; against the hand-written
# queue at batch B: the instructions behind the worker benchmark's
# dispatch throughput, without the noise of a timed run.  PARTS=1 adds
# that path by part (enqueue, dispatch, fetch, complete) beside
# hand+batch's (insert, claim, acknowledge): each part the difference of
# a run of the path's steps up to it and one of those before it.  At
# batch 1, PARTS=1 also parts role_cluster's and the C floor's loops by
# call: what callgrind counts inside each C function (enqueue(),
# claim_tasks(), complete_task(), with all they run, their pinned search
# path included), what SECURITY DEFINER adds around them (the switch to
# the owner and back; SET clauses, had they any), and the rest.
set -euo pipefail
# a failing run inside $(...) must end the script, not print a figure
shopt -s inherit_errexit

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
SECS=${SECS:-6}
REPS=${REPS:-3}
NODES=${NODES:-"1 2 8"}
BATCHES=${BATCHES:-"1 100"}
SYNC=${SYNC:-on}
# role_cluster.flush_claims: off (the default), a claim-only transaction
# commits without waiting for its WAL flush (README, Delivery: a crash
# that loses the claim ends the node's session, which hands the task back
# anyway); on, it waits as the hand-written queue's claim must
FLUSH_CLAIMS=${FLUSH_CLAIMS:-off}
case $FLUSH_CLAIMS in
	on | off) ;;
	*) echo "FLUSH_CLAIMS must be on or off, not $FLUSH_CLAIMS" >&2; exit 2 ;;
esac
MODE=${MODE:-prepared}
COUNT=${COUNT:-time}
case $COUNT in
	time | instructions) ;;
	*) echo "COUNT must be time or instructions, not $COUNT" >&2; exit 2 ;;
esac
PARTS=${PARTS:-0}
case $PARTS in
	0) ;;
	1) [ "$COUNT" = instructions ] || { echo "PARTS=1 needs COUNT=instructions" >&2; exit 2; } ;;
	*) echo "PARTS must be 0 or 1, not $PARTS" >&2; exit 2 ;;
esac
# the planner settings of role_cluster's functions, for both queues' sessions
if [ "$MODE" = prepared ]; then
	export PGOPTIONS="-c enable_seqscan=off -c plan_cache_mode=force_generic_plan -c jit=off"
fi
. "$src/test/bench_server.sh"
. "$src/test/bench_cpu.sh"
if [ "$COUNT" = instructions ]; then
	# nothing else at work in the server: no vacuum changes what a run reads
	bench_server_start "synchronous_commit = off
max_wal_size = 4GB
autovacuum = off
role_cluster.enabled = off
role_cluster.node_lease = '1d'" callgrind
else
	bench_server_start "synchronous_commit = $SYNC
role_cluster.flush_claims = $FLUSH_CLAIMS
max_wal_size = 4GB
track_wal_io_timing = on
role_cluster.node_lease = '1d'"
fi
psql -d bench <<'EOF'
CREATE EXTENSION role_cluster;

CREATE TABLE jobs (
	id			bigserial PRIMARY KEY,
	task_type	text NOT NULL,
	payload		jsonb NOT NULL DEFAULT '{}',
	priority	integer NOT NULL DEFAULT 0,
	run_at		timestamptz NOT NULL DEFAULT now(),
	state		text NOT NULL DEFAULT 'queued',
	node_id		text,
	attempts	integer NOT NULL DEFAULT 0,
	finished_at timestamptz
);
CREATE INDEX jobs_queued ON jobs (priority DESC, run_at, id) WHERE state = 'queued';

-- hand+route: the hand-written queue with the least the routing rule needs
CREATE TABLE rjobs (
	id			bigserial PRIMARY KEY,
	task_type	role_cluster.task_type NOT NULL,
	payload		jsonb NOT NULL DEFAULT '{}',
	priority	integer NOT NULL DEFAULT 0,
	run_at		timestamptz NOT NULL DEFAULT now(),
	state		text NOT NULL DEFAULT 'queued',
	singleton	boolean NOT NULL DEFAULT false,
	push_shard	integer,
	node_id		text,
	lease_until timestamptz,
	attempts	integer NOT NULL DEFAULT 0,
	dedupe_key	text,
	finished_at timestamptz
);
CREATE INDEX rjobs_queued ON rjobs (priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX rjobs_held ON rjobs (node_id) WHERE state = 'running';
CREATE UNIQUE INDEX rjobs_singleton ON rjobs (task_type) WHERE singleton AND state = 'running';
CREATE UNIQUE INDEX rjobs_dedupe ON rjobs (dedupe_key)
	WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE TABLE rnodes (
	node_id		text PRIMARY KEY,
	login		name NOT NULL DEFAULT session_user,
	task_types	role_cluster.task_type[] NOT NULL,
	push_shard	integer,
	capacity	integer NOT NULL,
	lease_until timestamptz NOT NULL
);
EOF
# the C floor's functions, from a module built for this server (it calls
# rc_write.c's functions in role_cluster's library, which the server preloads)
gcc -O2 -fPIC -shared -Wall -Werror -I"$src/src" -I"$("$PG_CONFIG" --includedir-server)" \
	-o "$work/bench_floor.so" "$src/test/bench_floor.c"
chmod 755 "$work/bench_floor.so"
psql -d bench \
	-c "CREATE FUNCTION bench_floor_enqueue() RETURNS bigint AS '$work/bench_floor.so' LANGUAGE C" \
	-c "CREATE FUNCTION bench_floor_claim(text) RETURNS bigint AS '$work/bench_floor.so' LANGUAGE C" \
	-c "CREATE FUNCTION bench_floor_complete(bigint) RETURNS void AS '$work/bench_floor.so' LANGUAGE C"
# the same storage settings as role_cluster.task
opts=$(psql -d bench -At -c "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE oid = 'role_cluster.task'::regclass")
psql -d bench -c "ALTER TABLE jobs SET ($opts)" -c "ALTER TABLE rjobs SET ($opts)"

# The worker's path at batch $1 (B; $json is the batch's array), as a
# pgbench script: 8 nodes registered once; each loop enqueues about 1,000
# tasks B at a time (step 1), dispatches them (2), and each node fetches
# (3) and completes (4) B at a time until it has had its share.  Only the
# steps up to $2.
dispatch_script()
{
	local b=$1 upto=$2 k
	echo '\if :registered = 0'
	echo "SELECT count(role_cluster.register_node('d' || i, NULL, NULL, 1000000)) FROM generate_series(1, 8) i;"
	echo '\set registered 1'
	echo '\endif'
	for _ in $(seq $((1000 / b))); do
		echo "SELECT count(*) FROM role_cluster.enqueue_batch('[${json%,}]');"
	done
	[ "$upto" -ge 2 ] || return 0
	echo "SELECT role_cluster.dispatch($((1000 / b * b)));"
	[ "$upto" -ge 3 ] || return 0
	for k in $(seq 8); do
		# rounds enough for a node's share, 1/8 of the tasks (rounded up)
		for _ in $(seq $(( ((1000 / b * b + 7) / 8 + b - 1) / b ))); do
			echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM role_cluster.fetch_tasks('d$k', $b) \\gset"
			if [ "$upto" -ge 4 ]; then
				echo "SELECT count(*) FROM role_cluster.complete_tasks(:ids, 'd$k');"
			fi
		done
	done
	return 0
}

# pgbench scripts, one per queue and batch size
node="'n' || :client_id"
for b in $BATCHES; do
	json=$(printf '{"task_type": "searchIndexing"},%.0s' $(seq "$b"))
	{
		echo '\if :registered = 0'
		echo "SELECT node_id FROM role_cluster.register_node($node, NULL, NULL, 1000000) \\gset"
		echo '\set registered 1'
		echo '\endif'
		if [ "$b" -eq 1 ]; then
			echo "SELECT role_cluster.enqueue('searchIndexing');"
			echo "SELECT coalesce((SELECT id FROM role_cluster.claim_tasks($node, 1)), 0) AS id \\gset"
			echo "SELECT role_cluster.complete_task(:id, $node) WHERE :id <> 0;"
		else
			echo "SELECT count(*) FROM role_cluster.enqueue_batch('[${json%,}]');"
			echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM role_cluster.claim_tasks($node, $b) \\gset"
			echo "SELECT count(*) FROM role_cluster.complete_tasks(:ids, $node);"
		fi
	} >"$work/ours_$b.sql"
	claim="SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now() ORDER BY priority DESC, run_at, id LIMIT $b FOR UPDATE SKIP LOCKED"
	{
		echo "INSERT INTO jobs (task_type) SELECT 'searchIndexing' FROM generate_series(1, $b);"
		echo "WITH u AS (UPDATE jobs SET state = 'running', node_id = $node, attempts = attempts + 1 WHERE id IN ($claim) RETURNING id)"
		echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM u \\gset"
		for k in $(seq "$b"); do
			echo "UPDATE jobs SET state = 'done', finished_at = now() WHERE id = (:ids::bigint[])[$k];"
		done
	} >"$work/hand_$b.sql"
	{
		echo "INSERT INTO jobs (task_type) SELECT 'searchIndexing' FROM generate_series(1, $b);"
		echo "WITH u AS (UPDATE jobs SET state = 'running', node_id = $node, attempts = attempts + 1 WHERE id IN ($claim) RETURNING id)"
		echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM u \\gset"
		echo "UPDATE jobs SET state = 'done', finished_at = now() WHERE id = ANY (:ids::bigint[]);"
	} >"$work/handbatch_$b.sql"
	# hand+route: the hand-written queue doing the least the routing rule
	# needs, in the same three statements: the node's row read and locked
	# (live, the caller's, its capacity counted under the lock), its types
	# and push shard filtering the claim, the lease written with it, and
	# only the holder acknowledging (its nodes are registered by
	# reset_tables)
	me="SELECT n.node_id, n.task_types, n.push_shard, n.capacity, n.lease_until FROM rnodes n WHERE n.node_id = $node AND n.login = session_user AND n.lease_until > now() FOR NO KEY UPDATE"
	held="SELECT count(*) FROM rjobs h WHERE h.node_id = $node AND h.state = 'running'"
	rclaim="SELECT q.id FROM rjobs q WHERE q.state = 'queued' AND q.run_at <= now() AND q.task_type = ANY ((SELECT m.task_types FROM me m)::role_cluster.task_type[]) AND (q.push_shard IS NULL OR q.push_shard = (SELECT m.push_shard FROM me m)) ORDER BY q.priority DESC, q.run_at, q.id LIMIT least($b, (SELECT m.capacity FROM me m) - ($held)) FOR UPDATE OF q SKIP LOCKED"
	{
		echo "INSERT INTO rjobs (task_type) SELECT 'searchIndexing' FROM generate_series(1, $b);"
		echo "WITH me AS ($me), u AS (UPDATE rjobs j SET state = 'running', node_id = me.node_id, lease_until = me.lease_until, attempts = j.attempts + 1 FROM me WHERE j.id IN ($rclaim) RETURNING j.id)"
		echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM u \\gset"
		for k in $(seq "$b"); do
			echo "UPDATE rjobs SET state = 'done', finished_at = now(), lease_until = NULL WHERE id = (:ids::bigint[])[$k] AND node_id = $node AND state = 'running';"
		done
	} >"$work/route_$b.sql"
	# for COUNT=instructions: the hand-written statements on role_cluster.task,
	# acknowledged as complete_task(s) does (one UPDATE per task at batch 1)
	tclaim="SELECT id FROM role_cluster.task WHERE state = 'queued' AND NOT singleton AND run_at <= now() ORDER BY priority DESC, run_at, id LIMIT $b FOR UPDATE SKIP LOCKED"
	{
		echo "INSERT INTO role_cluster.task (task_type) SELECT 'searchIndexing' FROM generate_series(1, $b);"
		echo "WITH u AS (UPDATE role_cluster.task SET state = 'running', node_id = $node, lease_until = now() + interval '1 day', attempts = attempts + 1, updated_at = now() WHERE id IN ($tclaim) RETURNING id)"
		echo "SELECT coalesce(array_agg(id), '{}') AS ids FROM u \\gset"
		echo "UPDATE role_cluster.task SET state = 'done', finished_at = now(), lease_until = NULL, updated_at = now() WHERE id = ANY (:ids::bigint[]);"
	} >"$work/plain_$b.sql"
	# the C floor: one task per call, so batch 1 only
	if [ "$b" -eq 1 ]; then
		{
			echo "SELECT bench_floor_enqueue();"
			echo "SELECT bench_floor_claim($node) AS id \\gset"
			echo "SELECT bench_floor_complete(:id) WHERE :id <> 0;"
		} >"$work/floor_$b.sql"
	fi
	# for COUNT=instructions: the worker's path, 8 nodes in the one session,
	# about 1,000 tasks a loop; with PARTS=1, its first steps alone as well
	# (and hand+batch's), for the parts
	if [ "$b" -gt 1 ]; then
		dispatch_script "$b" 4 >"$work/dispatch_$b.sql"
		if [ "$PARTS" = 1 ]; then
			for k in 1 2 3; do
				dispatch_script "$b" "$k" >"$work/dispatch${k}_$b.sql"
			done
			head -n 1 "$work/handbatch_$b.sql" >"$work/handbatch1_$b.sql"
			head -n 3 "$work/handbatch_$b.sql" >"$work/handbatch2_$b.sql"
		fi
	fi
done
chown postgres: "$work"/*.sql

# Empties the queues and registers hand+route's nodes n0 to n7, pgbench's
# client ids (live for a day, as role_cluster's are with node_lease 1d,
# taking every type); then runs the statement $1, if given
reset_tables()
{
	psql -d bench -c 'TRUNCATE role_cluster.task, role_cluster.node, role_cluster.node_fetch, jobs, rjobs, rnodes' \
		-c "INSERT INTO rnodes (node_id, task_types, capacity, lease_until)
			SELECT 'n' || i, enum_range(NULL::role_cluster.task_type), 1000000, now() + interval '1 day'
			FROM generate_series(0, 7) i" \
		-c 'VACUUM ANALYZE role_cluster.task, role_cluster.node, role_cluster.node_fetch, jobs, rjobs, rnodes' \
		${1:+-c "$1"}
}

# COUNT=instructions: one run of script $1 for $2 loops in one session;
# prints the instructions its backend executed, then those executed in
# each C function named after them (the calls and what they called:
# callgrind_annotate's inclusive figure, 0 for one never called)
count_run()
{
	local tag=$1_$2 pid f fn
	reset_tables
	# the session notes its backend's pid, once
	{
		echo '\if :counted = 0'
		echo "INSERT INTO bench_backend VALUES (pg_backend_pid(), '$tag');"
		echo '\set counted 1'
		echo '\endif'
		cat "$work/$1.sql"
	} >"$work/count.sql"
	chown postgres: "$work/count.sql"
	runuser -u postgres --whitelist-environment=PGOPTIONS -- "$bindir/pgbench" -h "$work" -p "$port" -n -M "$MODE" \
		-c 1 -j 1 -t "$2" -D registered=0 -D counted=0 -f "$work/count.sql" bench >"$work/pgbench.out" 2>&1 ||
		{ cat "$work/pgbench.out" >&2; exit 1; }
	pid=$(psql -d bench -At -c "DELETE FROM bench_backend WHERE tag = '$tag' RETURNING pid")
	# callgrind writes the file when the backend exits
	f="$work/callgrind.$pid"
	while kill -0 "$pid" 2>/dev/null || [ ! -s "$f" ]; do
		sleep 0.2
	done
	awk '$1 == "summary:" { printf "%s", $2 }' "$f"
	if [ $# -gt 2 ]; then
		callgrind_annotate --inclusive=yes --threshold=100 "$f" >"$f.incl"
		for fn in "${@:3}"; do
			# lines "  1,234 (5.67%)  file:function [object]", one for each
			# file its code came from (inlined from a header: another line)
			awk -v fn="$fn" '$0 ~ ("^ *[0-9,]+ +\\( *[0-9.]+%\\) +[^ ]*:" fn "( |$)") {
					gsub(",", "", $1); n += $1 }
				END { printf " %d", n }' "$f.incl"
		done
		rm -f "$f.incl"
	fi
	echo
	rm -f "$f"
}

# instructions per task of queue $1 at batch $2: the difference of a run
# of L + L/10 loops and one of L/10, over the tasks of L loops (batch
# tasks a loop, or $3; L = $4, or 1,000 tasks' worth but at least 100);
# then, for each C function named after those (empty: their defaults),
# the instructions per task spent in its calls
count_per_task()
{
	local per_loop=${3:-$2}
	local loops=${4:-$(( 1000 / $2 > 100 ? 1000 / $2 : 100 ))}
	local warm=$((loops / 10)) short long
	short=$(count_run "$1_$2" "$warm" "${@:5}")
	long=$(count_run "$1_$2" "$((warm + loops))" "${@:5}")
	[[ "$short" =~ ^[0-9]+( [0-9]+)*$ && "$long" =~ ^[0-9]+( [0-9]+)*$ ]] ||
		{ echo "no instruction count for $1 at batch $2" >&2; exit 1; }
	printf '%s\n%s\n' "$long" "$short" |
		awk -v n="$((loops * per_loop))" 'NR == 1 { split($0, a) }
			NR == 2 { for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " " : ""), (a[i] - $i) / n }'
}

if [ "$COUNT" = instructions ]; then
	psql -d bench -c 'CREATE TABLE bench_backend (pid integer, tag text)'
	declare -A hand_of handbatch_of dispatch_of
	echo "role_cluster queue benchmark: CPU instructions per task (callgrind), one node, planned alike"
	echo "server $("$bindir/postgres" --version)"
	printf '%-6s %14s %14s %14s %8s %14s %8s %14s %8s %14s %8s\n' batch 'role_cluster' 'same SQL, task' 'hand' \
		'ratio' 'hand+route' 'ratio' 'hand+batch' 'ratio' 'C floor' 'ratio'
	for b in $BATCHES; do
		# with PARTS=1, at batch 1, each call's share as well
		ours_calls=() floor_calls=()
		if [ "$PARTS" = 1 ] && [ "$b" -eq 1 ]; then
			ours_calls=("" "" rc_enqueue rc_claim_tasks rc_complete_task fmgr_security_definer)
			floor_calls=("" "" bench_floor_enqueue bench_floor_claim bench_floor_complete
				fmgr_security_definer)
		fi
		o=$(count_per_task ours "$b" "${ours_calls[@]}")
		p=$(count_per_task plain "$b")
		h=$(count_per_task hand "$b")
		r=$(count_per_task route "$b")
		hb=- fl=-
		[ "$b" -gt 1 ] && hb=$(count_per_task handbatch "$b")
		[ "$b" -eq 1 ] && fl=$(count_per_task floor "$b" "${floor_calls[@]}")
		if [ ${#ours_calls[@]} -gt 0 ]; then
			by_call="$o"$'\n'"$fl"
			o=${o%% *} fl=${fl%% *}
		fi
		hand_of[$b]=$h handbatch_of[$b]=$hb
		printf '%-6s %14s %14s %14s %8s %14s %8s %14s %8s %14s %8s\n' "$b" "$o" "$p" "$h" \
			"$(awk -v a="$o" -v b="$h" 'BEGIN { printf "%.2f", a / b }')" "$r" \
			"$(awk -v a="$r" -v b="$h" 'BEGIN { printf "%.2f", a / b }')" "$hb" \
			"$(awk -v a="$o" -v b="$hb" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" "$fl" \
			"$(awk -v a="$fl" -v b="$h" 'BEGIN { if (a > 0) printf "%.2f", a / b; else print "-" }')"
	done
	echo "instructions per task enqueued, claimed and acknowledged (fewer is better); same SQL, task ="
	echo "the hand-written statements on role_cluster.task; ratio = role_cluster / hand-written, but"
	echo "for hand+route and C floor: that queue / hand (what it adds to the hand-written queue)"
	if [ -n "${by_call:-}" ]; then
		echo
		echo "batch 1 by call: the instructions per task spent in each call (and what it ran);"
		echo "definer = what SECURITY DEFINER adds around the calls (the switch to the owner and"
		echo "back); rest = the SELECTs around them, the client's messages, the commits"
		printf '%-14s %10s %10s %10s %10s %10s %10s\n' queue enqueue claim complete definer rest total
		paste <(printf 'role_cluster\nC floor\n') <(echo "$by_call") |
			awk -F '\t' '{ split($2, v, " "); calls = v[2] + v[3] + v[4];
				definer = v[5] > 0 ? v[5] - calls : 0;
				printf "%-14s %10s %10s %10s %10s %10s %10s\n", $1, v[2], v[3], v[4], definer,
					v[1] - calls - definer, v[1] }'
	fi
	# the worker's path runs only for batches above 1
	batched=$(for b in $BATCHES; do [ "$b" -le 1 ] || echo "$b"; done)
	[ -n "$batched" ] || exit 0
	echo
	echo "the worker's path, per task: enqueued, dispatched to 8 nodes about 1,000 at a time,"
	echo "fetched and acknowledged a batch at a time by each node; hand-written columns as above"
	printf '%-6s %14s %14s %8s %14s %8s\n' batch dispatch hand ratio 'hand+batch' ratio
	for b in $batched; do
		d=$(count_per_task dispatch "$b" $((1000 / b * b)) 20)
		dispatch_of[$b]=$d
		h=${hand_of[$b]} hb=${handbatch_of[$b]}
		printf '%-6s %14s %14s %8s %14s %8s\n' "$b" "$d" "$h" \
			"$(awk -v a="$d" -v b="$h" 'BEGIN { printf "%.2f", a / b }')" "$hb" \
			"$(awk -v a="$d" -v b="$hb" 'BEGIN { printf "%.2f", a / b }')"
	done
	[ "$PARTS" = 1 ] || exit 0
	echo
	echo "the same, by part: each the difference of two runs, one of the path's first"
	echo "steps alone and one with the next step as well (approximate: a run that stops"
	echo "early leaves its tasks queued or held, and the tables grow)"
	printf '%-6s %10s %10s %10s %10s | %10s %10s %10s\n' batch enqueue dispatch fetch complete \
		insert claim ack
	for b in $batched; do
		n=$((1000 / b * b))
		d1=$(count_per_task dispatch1 "$b" "$n" 20)
		d2=$(count_per_task dispatch2 "$b" "$n" 20)
		d3=$(count_per_task dispatch3 "$b" "$n" 20)
		h1=$(count_per_task handbatch1 "$b")
		h2=$(count_per_task handbatch2 "$b")
		printf '%-6s %10s %10s %10s %10s | %10s %10s %10s\n' "$b" "$d1" $((d2 - d1)) $((d3 - d2)) \
			$((dispatch_of[$b] - d3)) "$h1" $((h2 - h1)) $((handbatch_of[$b] - h2))
	done
	echo "instructions per task; left role_cluster's worker path, right hand+batch"
	exit 0
fi

# The WAL a run wrote, per task done, as pg_waldump counts it between
# the LSNs $1 and $2: the bytes of its records (without full-page images,
# which depend on when the last checkpoint fell) and the index entries it
# added (btree leaf inserts); appended to $work/wal_$3 as "bytes entries".
# pg_waldump reads the WAL files, and the end of the WAL may still be in
# the server's buffers (a vacuum's records, an asynchronous commit's): on
# reaching it, pg_waldump fails.  So first a commit that waits for its
# flush, which writes out all WAL before it (the transactional message
# gives the transaction a record of its own: a commit without one is not
# waited for).  A run whose WAL cannot be read all the same (a checkpoint
# that began and ended within it removed its start) has no figure.
wal_per_task()
{
	psql -d bench -c 'SET synchronous_commit = on' \
		-c "SELECT pg_logical_emit_message(true, 'role_cluster bench', 'flush')" >/dev/null
	runuser -u postgres -- "$bindir/pg_waldump" -p "$work/data/pg_wal" -s "$1" -e "$2" \
		--stats=record 2>/dev/null |
		awk -v n="$4" '$1 == "Btree/INSERT_LEAF" { leaf = $2 }
			$1 == "Total" { bytes = $3 }
			END { if (n > 0 && bytes != "") printf "%.0f %.2f\n", bytes / n, leaf / n }' >>"$work/wal_$3" ||
		true
}

# The WAL flushes of a run (pg_stat_wal, reset before it; each backend
# adds its counts as it exits, before it leaves pg_stat_activity): the
# tasks done per flush, and the share of the run ($2 s) that the server
# spent writing and flushing WAL (track_wal_io_timing); appended to
# $work/flush_$1 as "tasks busy%".  With synchronous_commit on, each commit
# waits for a flush, which takes in every commit written meanwhile.
flush_per_task()
{
	while [ "$(psql -d bench -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")" != 0 ]; do
		sleep 0.1
	done
	psql -d bench -At -F ' ' -c 'SELECT wal_sync, wal_write_time + wal_sync_time FROM pg_stat_wal' |
		awk -v n="$3" -v secs="$2" '$1 > 0 { printf "%.2f %.0f%%\n", n / $1, $2 / (secs * 10) }' >>"$work/flush_$1"
}

# one run: prints the tasks done per second
run()
{
	local queue=$1 clients=$2 batch=$3 done start end cpu cpu_done
	reset_tables CHECKPOINT
	psql -d bench -c "SELECT pg_stat_reset_shared('wal')" >/dev/null
	start=$(psql -d bench -At -c 'SELECT pg_current_wal_insert_lsn()')
	cpu=$(cpu_jiffies)
	runuser -u postgres --whitelist-environment=PGOPTIONS -- "$bindir/pgbench" -h "$work" -p "$port" -n -M "$MODE" \
		-c "$clients" -j "$(( clients < 2 ? clients : 2 ))" -T "$SECS" -D registered=0 \
		-f "$work/${queue}_$batch.sql" bench >"$work/pgbench.out" 2>&1 ||
		{ cat "$work/pgbench.out" >&2; exit 1; }
	cpu_done=$(cpu_jiffies)
	end=$(psql -d bench -At -c 'SELECT pg_current_wal_insert_lsn()')
	if [ "$queue" = ours ] || [ "$queue" = floor ]; then
		done=$(psql -d bench -At -c "SELECT count(*) FROM role_cluster.task WHERE state = 'done'")
	elif [ "$queue" = route ]; then
		done=$(psql -d bench -At -c "SELECT count(*) FROM rjobs WHERE state = 'done'")
	else
		done=$(psql -d bench -At -c "SELECT count(*) FROM jobs WHERE state = 'done'")
	fi
	flush_per_task "${queue}_${clients}_$batch" "$SECS" "$done"
	wal_per_task "$start" "$end" "${queue}_${clients}_$batch" "$done"
	cpu_per_task "$cpu" "$cpu_done" "$done" "$SECS" >>"$work/cpu_${queue}_${clients}_$batch"
	echo $((done / SECS))
}

median()
{
	tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "role_cluster queue benchmark: synchronous_commit = $SYNC, role_cluster.flush_claims = $FLUSH_CLAIMS, ${SECS} s per run, median of $REPS"
echo "$(nproc) cores; server $("$bindir/postgres" --version)"
printf '%-6s %-6s %14s %14s %8s %14s %8s %14s %8s %14s %8s\n' nodes batch 'role_cluster' 'hand' 'ratio' \
	'hand+route' 'ratio' 'hand+batch' 'ratio' 'C floor' 'ratio'
for b in $BATCHES; do
	for n in $NODES; do
		ours="" hand="" route="" handbatch="" floor=""
		for _ in $(seq "$REPS"); do
			ours="$ours $(run ours "$n" "$b")"
			hand="$hand $(run hand "$n" "$b")"
			route="$route $(run route "$n" "$b")"
			[ "$b" -gt 1 ] && handbatch="$handbatch $(run handbatch "$n" "$b")"
			[ "$b" -eq 1 ] && floor="$floor $(run floor "$n" "$b")"
		done
		o=$(echo $ours | median)
		h=$(echo $hand | median)
		r=$(echo $route | median)
		printf '%-6s %-6s %14s %14s %8s %14s %8s' "$n" "$b" "$o" "$h" \
			"$(awk -v a="$o" -v b="$h" 'BEGIN { printf "%.2f", a / b }')" "$r" \
			"$(awk -v a="$r" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
		if [ "$b" -gt 1 ]; then
			hb=$(echo $handbatch | median)
			printf ' %14s %8s' "$hb" "$(awk -v a="$o" -v b="$hb" 'BEGIN { printf "%.2f", a / b }')"
		else
			printf ' %14s %8s' - -
		fi
		if [ "$b" -eq 1 ]; then
			fl=$(echo $floor | median)
			printf ' %14s %8s\n' "$fl" "$(awk -v a="$fl" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
		else
			printf ' %14s %8s\n' - -
		fi
	done
done
echo "tasks/s = tasks done per second (enqueued, claimed and acknowledged); ratio = role_cluster / hand-written,"
echo "but for hand+route: hand+route / hand (the rate the least routing leaves the hand-written queue), and"
echo "for C floor: C floor / hand (the rate left by the table alone, written without plans)"

# The WAL behind those rates: with synchronous_commit on, every commit
# waits for its WAL to reach the disk, so what a queue writes per task is
# part of its cost that the interleaved runs below share out.
echo
echo "WAL per task done, median of the runs above: record bytes (without full-page images) / index entries added"
# fig_col f q n b k: the median of column k of queue q's figures f (wal or
# cpu) at n nodes, batch b, or - if it has none
fig_col()
{
	local f="$work/$1_$2_$3_$4"
	if [ -s "$f" ]; then cut -d' ' -f"$5" "$f" | median; else echo -; fi
}
# fig_cell f fmt q n b: both of queue q's medians of figures f at n nodes,
# batch b, printed with fmt, or - if it has none
fig_cell()
{
	local f=$1 fmt=$2 first
	shift 2
	first=$(fig_col "$f" "$@" 1)
	# shellcheck disable=SC2059
	if [ "$first" = - ]; then echo -; else printf "$fmt\n" "$first" "$(fig_col "$f" "$@" 2)"; fi
}
# fig_table f fmt: a table of each queue's medians of figures f (fmt
# prints the two columns of a cell) at each point, with role_cluster's
# first column over the hand-written queue's
fig_table()
{
	local n b o h
	printf '%-6s %-6s %14s %14s %8s %14s %14s %14s\n' nodes batch 'role_cluster' 'hand' 'ratio' 'hand+route' \
		'hand+batch' 'C floor'
	for b in $BATCHES; do
		for n in $NODES; do
			o=$(fig_cell "$1" "$2" ours "$n" "$b")
			h=$(fig_cell "$1" "$2" hand "$n" "$b")
			printf '%-6s %-6s %14s %14s %8s %14s %14s %14s\n' "$n" "$b" "$o" "$h" \
				"$(awk -v a="${o%% *}" -v b="${h%% *}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" \
				"$(fig_cell "$1" "$2" route "$n" "$b")" "$(fig_cell "$1" "$2" handbatch "$n" "$b")" \
				"$(fig_cell "$1" "$2" floor "$n" "$b")"
		done
	done
}
fig_table wal '%s / %s'
echo "ratio = role_cluster bytes per task / hand-written bytes per task"

# How the commits shared the flushes: a queue whose runs kept the WAL busy
# most of the time is bound by how many tasks each flush takes in, which
# depends on how many sessions are ready to commit when it starts.
echo
echo "WAL flushes, median of the runs above: tasks done per flush (share of the run spent writing and flushing WAL)"
fig_table flush '%s (%s)'
echo "ratio = role_cluster tasks per flush / hand-written tasks per flush"

echo
echo "CPU per task done, median of the runs above: microseconds, all processes (share of the $(cpu_cores) cores busy)"
fig_table cpu '%s (%s)'
echo "ratio = role_cluster CPU per task / hand-written CPU per task"

# The same comparison with the queues interleaved: one pgbench run per
# point in which every client picks one of the scripts at random for each
# round, so that the machine's drift, checkpoints and autovacuum fall on
# all of them alike.  pgbench reports each script's mean latency; per task
# that is the cost of a task on that queue, and hand / role_cluster is the
# ratio of the rates each would reach alone (above 1: role_cluster faster)
# if the queues shared nothing: a commit waits for the WAL of every
# transaction before it, whichever queue wrote it.
interleaved()
{
	local clients=$1 batch=$2 scripts
	scripts="-f $work/ours_$batch.sql -f $work/hand_$batch.sql -f $work/route_$batch.sql"
	[ "$batch" -gt 1 ] && scripts="$scripts -f $work/handbatch_$batch.sql"
	reset_tables CHECKPOINT
	# shellcheck disable=SC2086
	runuser -u postgres --whitelist-environment=PGOPTIONS -- "$bindir/pgbench" -h "$work" -p "$port" -n -M "$MODE" \
		-c "$clients" -j "$(( clients < 2 ? clients : 2 ))" -T "$((SECS * REPS))" -D registered=0 \
		$scripts bench >"$work/pgbench.out" 2>&1 ||
		{ cat "$work/pgbench.out" >&2; exit 1; }
	# mean latency per task of each script, in its order
	awk -v b="$batch" '/^ - latency average/ { printf "%s ", $5 / b }' "$work/pgbench.out"
}

echo
echo "interleaved: all queues in one run per point ($((SECS * REPS)) s), mean ms per task"
printf '%-6s %-6s %14s %14s %8s %14s %8s %14s %8s\n' nodes batch 'role_cluster' 'hand' 'ratio' \
	'hand+route' 'ratio' 'hand+batch' 'ratio'
for b in $BATCHES; do
	for n in $NODES; do
		read -r o h r hb <<<"$(interleaved "$n" "$b")"
		printf '%-6s %-6s %14.4f %14.4f %8s %14.4f %8s' "$n" "$b" "$o" "$h" \
			"$(awk -v a="$o" -v b="$h" 'BEGIN { printf "%.2f", b / a }')" "$r" \
			"$(awk -v a="$r" -v b="$h" 'BEGIN { printf "%.2f", b / a }')"
		if [ -n "${hb:-}" ]; then
			printf ' %14.4f %8s\n' "$hb" "$(awk -v a="$o" -v b="$hb" 'BEGIN { printf "%.2f", b / a }')"
		else
			printf ' %14s %8s\n' - -
		fi
	done
done
echo "ratio = hand-written ms per task / role_cluster ms per task (the rate role_cluster reaches relative to it),"
echo "but for hand+route: hand ms per task / hand+route ms per task"
