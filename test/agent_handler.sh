#!/bin/sh
# A role-cluster-node handler for the end-to-end test (test/t/030_agent.pl)
# and the demo: it records each run of a task in the table agent_run, one
# row per run, with psql.  The tests count the rows per task and attempt: a
# task handed out twice in one attempt would show as two.
#
# The agent gives the task as JSON on stdin and its fields in RC_TASK_ID,
# RC_TASK_TYPE, RC_TASK_KIND, RC_SHARD_KEY, RC_ATTEMPT and RC_NODE_ID; psql
# reaches the server through the agent's PG* variables.
#
# Task kinds:
#   slow      waits until the file $RC_TEST_DIR/release exists, then runs
#   gated     creates $RC_TEST_DIR/started.<task id>.<attempt>, waits until
#             $RC_TEST_DIR/go.<task id>.<attempt> exists, then runs
#   failonce  fails (exit 3) the first time it runs, runs the next time
#   noisy     writes 100 kB (more than a pipe holds: the agent must read it
#             as it comes) and a byte that is not UTF-8 to stderr, exits 1
#   emoji     writes a line with an emoji (U+1F600) to stderr, exits 1
#   orphan    starts a child that sleeps, writes its pid to
#             $RC_TEST_DIR/child.<task id>, and waits for it
#   deaf      exits 0 at once, without reading stdin or recording a run
#   big       records, for its task, only {"id": <task id>, "bytes": <how
#             many bytes of it came on stdin>} (a large task is too long
#             for psql's command line)
# spamClassifierTraining runs last a moment, so that runs overlapping in
# time would show in agent_run.
#
# agent_run is:
#   CREATE TABLE agent_run (run_id bigint GENERATED ALWAYS AS IDENTITY
#       PRIMARY KEY, task_id bigint, attempt int, node_id text,
#       task_type text, kind text, shard_key text, task jsonb,
#       started timestamptz, finished timestamptz, outcome text);
set -eu

if [ "$RC_TASK_KIND" = deaf ]; then
	exit 0
fi
started=$(date +%s.%N)
task=$(cat)

case "$RC_TASK_KIND" in
	slow)
		while [ ! -e "${RC_TEST_DIR:?}/release" ]; do
			sleep 0.1
		done
		;;
	gated)
		: >"${RC_TEST_DIR:?}/started.$RC_TASK_ID.$RC_ATTEMPT"
		while [ ! -e "$RC_TEST_DIR/go.$RC_TASK_ID.$RC_ATTEMPT" ]; do
			sleep 0.1
		done
		;;
	noisy)
		head -c 100000 /dev/zero | tr '\0' x >&2
		printf '\nend \377\n' >&2
		exit 1
		;;
	emoji)
		printf 'smile \360\237\230\200 please\n' >&2
		exit 1
		;;
	big)
		task=$(printf '{"id": %s, "bytes": %d}' "$RC_TASK_ID" "$(printf %s "$task" | wc -c)")
		;;
	orphan)
		sleep 1000 &
		echo $! >"${RC_TEST_DIR:?}/child.$RC_TASK_ID"
		wait
		;;
esac
if [ "$RC_TASK_TYPE" = spamClassifierTraining ]; then
	sleep 0.3
fi

outcome=$(psql -X -q -A -t -v ON_ERROR_STOP=1 \
	-v task_id="$RC_TASK_ID" -v attempt="$RC_ATTEMPT" -v node_id="$RC_NODE_ID" \
	-v task_type="$RC_TASK_TYPE" -v kind="$RC_TASK_KIND" \
	-v shard_key="$RC_SHARD_KEY" -v task="$task" -v started="$started" <<'SQL'
INSERT INTO agent_run (task_id, attempt, node_id, task_type, kind, shard_key,
					   task, started, finished, outcome)
SELECT :'task_id', :'attempt', :'node_id', :'task_type', :'kind',
	   NULLIF(:'shard_key', ''), :'task', to_timestamp(:'started'),
	   clock_timestamp(),
	   CASE WHEN :'kind' = 'failonce' AND NOT EXISTS
			(SELECT FROM agent_run WHERE task_id = :'task_id')
		THEN 'failed' ELSE 'ok' END
RETURNING outcome;
SQL
)

if [ "$outcome" != ok ]; then
	echo "task $RC_TASK_ID fails its first run on purpose" >&2
	exit 3
fi
