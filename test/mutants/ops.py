"""Mutants of what an operator reads, for test/mutate.py.

Each is one change a plausible slip could make in sql/install/60_ops.sql
(X): node_duties() (what a node does, as the views, audit() and metrics()
count it), the views queue_stats, node_stats and shard_stats,
cleanup_holders() (what keeps vacuum from removing dead rows), the list
of the triggers' modes and the command made from it, and metrics() with
its label helper.  The regression suites (metrics.sql, audit.sql,
queue.sql, privileges.sql) and the isolation specs (cleanup_held_back,
wait_clock) must fail for each.  audit() itself and prune() are
schedule.py's (O, W).

Seven survived the suites at first and now have a check: X03 (the
listeners of a node whose role is gone, under unknown_role = enable_all:
audit.sql), X04 (a push node drained to capacity 0: metrics.sql), X09
and X10 (node_stats' free for a node holding nothing, and its oldest of
two tasks: metrics.sql), X19 (a transaction prepared in another
database: audit.sql), X28 and X29 (the slot count and the oldest of two
holders, with two transactions prepared: audit.sql).  Three survive the
suites this list runs and are killed by TAP tests: X20 by
026_audit_slot.pl, X21 by 027_logical_roles.pl, X30 by
028_worker_poll.pl (checked with a copy of this list whose TESTS name
those three).
"""
TESTS = ['TAP_TESTS=']

X = 'sql/install/60_ops.sql'

MUTANTS = [
    # node_duties
    ('X01', X,
     "tasks := CASE WHEN n.capacity > 0 THEN",
     "tasks := CASE WHEN n.capacity >= 0 THEN",
     'node_duties: a node drained to capacity 0 counted as running its types'),
    ('X02', X,
     "role_cluster.node_task_types(n.role_name, false)",
     "role_cluster.node_task_types(n.role_name, true)",
     'node_duties: a node whose role was deleted makes the views and audit() fail'),
    ('X03', X,
     "IF n.role_name IS NOT NULL AND NOT role_cluster.role_exists(n.role_name)\n\t\tAND pg_catalog.current_setting('role_cluster.unknown_role', true) IS DISTINCT FROM 'enable_all' THEN",
     "IF n.role_name IS NOT NULL AND NOT role_cluster.role_exists(n.role_name) THEN",
     'node_duties: under unknown_role = enable_all a deleted role enables no listener'),
    ('X04', X,
     "IF 'pushNotifications' = ANY (tasks) THEN",
     "IF 'pushNotifications' = ANY (role_cluster.node_task_types(n.role_name, false)) THEN",
     'node_duties: a drained push node still serves its shard'),
    # queue_stats
    ('X05', X,
     "AND t.route_seq > coalesce(f.fetched, 0)) AS routed,",
     "AND t.route_seq >= coalesce(f.fetched, 0)) AS routed,",
     'queue_stats: a fetched task counted as routed as well as running'),
    ('X06', X,
     "AND (t.route_seq IS NULL\n\t\t\t\t\t\t\t\t\t\t\t\t\tOR t.route_seq <= coalesce(f.fetched, 0))) AS running,",
     "AND t.route_seq <= coalesce(f.fetched, 0)) AS running,",
     'queue_stats: a claimed task not counted as running'),
    ('X07', X,
     "pg_catalog.min(LEAST(GREATEST(t.run_at, t.updated_at), pg_catalog.now()))",
     "pg_catalog.min(LEAST(t.run_at, pg_catalog.now()))",
     'queue_stats: a task handed back waits from its first run_at'),
    ('X08', X,
     "pg_catalog.count(*) FILTER (WHERE t.state = 'done'\n\t\t\t\t\t\t\t\t\t\t\t   AND t.finished_at > pg_catalog.now() - interval '5 minutes') AS done_5m",
     "pg_catalog.count(*) FILTER (WHERE t.finished_at > pg_catalog.now() - interval '5 minutes') AS done_5m",
     'queue_stats: done_5m counts dead tasks too'),
    # node_stats
    ('X09', X,
     "n.capacity - coalesce(h.held, 0) AS free,",
     "n.capacity - h.held AS free,",
     'node_stats: free is NULL for a node that holds nothing'),
    ('X10', X,
     "pg_catalog.min(t.updated_at) AS oldest",
     "pg_catalog.max(t.updated_at) AS oldest",
     'node_stats: oldest_held is the age of the newest held task'),
    ('X11', X,
     "\t\t\tWHERE t.state = 'running'\n\t\t\tGROUP BY t.node_id) h",
     "\t\t\tWHERE t.state = 'running' AND t.route_seq IS NULL\n\t\t\tGROUP BY t.node_id) h",
     'node_stats: tasks routed to a node not counted as held'),
    ('X12', X,
     "pg_catalog.count(*) FILTER (WHERE t.finished_at > pg_catalog.now() - interval '1 minute') AS done_1m,",
     "pg_catalog.count(*) AS done_1m,",
     'node_stats: done_1m counts the last five minutes'),
    ('X13', X,
     "pg_catalog.date_trunc('second', GREATEST(pg_catalog.now() - n.last_heartbeat, interval '0')) AS heartbeat_age",
     "pg_catalog.date_trunc('second', pg_catalog.now() - n.last_heartbeat) AS heartbeat_age",
     "node_stats: a heartbeat after the reader's now() gives a negative age"),
    # shard_stats
    ('X14', X,
     "ON d.live AND d.serves_shard = sh.shard",
     "ON d.serves_shard = sh.shard",
     'shard_stats: nodes not live counted as serving'),
    ('X15', X,
     "\t\t\t\t  UNION ALL\n\t\t\t\t  SELECT t.push_shard, 1, 0 FROM role_cluster.task t\n\t\t\t\t  WHERE t.task_type = 'pushNotifications' AND t.state = 'queued' AND t.singleton\n",
     "",
     'shard_stats: queued push tasks of a singleton type not counted'),
    # cleanup_holders
    ('X16', X,
     "\t\tAND a.pid <> pg_catalog.pg_backend_pid()\n",
     "",
     'cleanup_holders: the calling session listed'),
    ('X17', X,
     "\t\tAND NOT role_cluster.session_in_vacuum(a.pid)\n",
     "",
     'cleanup_holders: a session in a plain VACUUM listed'),
    ('X18', X,
     "AND (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)",
     "AND a.backend_xmin IS NOT NULL",
     'cleanup_holders: a transaction that wrote, holding no snapshot, not listed'),
    ('X19', X,
     "\tFROM pg_catalog.pg_prepared_xacts x\n\tWHERE x.database = pg_catalog.current_database()\n",
     "\tFROM pg_catalog.pg_prepared_xacts x\n",
     "cleanup_holders: other databases' prepared transactions listed"),
    ('X20', X,
     "WHERE NOT sl.active AND sl.xmin IS NOT NULL",
     "WHERE sl.xmin IS NOT NULL",
     'cleanup_holders: a slot in use listed'),
    # the triggers' modes
    ('X21', X,
     "\t\t('cluster_settings', 'cluster_settings_after_write', 'A'),\n",
     "",
     'trigger_modes: cluster_settings_after_write left firing in ordinary sessions only'),
    ('X22', X,
     "('task_policy', 'task_policy_wake_worker_applied', 'R')",
     "('task_policy', 'task_policy_wake_worker_applied', 'A')",
     'trigger_modes: a replica copy of a trigger fires always'),
    ('X23', X,
     "WHEN 'R' THEN 'REPLICA '",
     "WHEN 'R' THEN 'ALWAYS '",
     'trigger_enable_command: replica triggers enabled always'),
    # metrics_label, metrics()
    ('X24', X,
     "pg_catalog.replace(value, E'\\\\', E'\\\\\\\\'),\n\t\t\t\t\t\t\t\t\t\t\t\t '\"', E'\\\\\"')",
     "pg_catalog.replace(value, '\"', E'\\\\\"'),\n\t\t\t\t\t\t\t\t\t\t\t\t E'\\\\', E'\\\\\\\\')",
     'metrics_label: the quote escaped before the backslash, so its escape is escaped again'),
    ('X25', X,
     "q.due) || E'\\n', '' ORDER BY q.task_type)\n\t\t\t\tFILTER (WHERE v.ord = 1))",
     "q.due) || E'\\n', '' ORDER BY q.task_type))",
     'metrics: each tasks_due sample printed once per state'),
    ('X26', X,
     "role_cluster.metrics_label(coalesce(n.role, ''))",
     "coalesce(n.role, '')",
     'metrics: the role label not escaped'),
    ('X27', X,
     "\n\t\t\t\t\t\t FILTER (WHERE h.since <= pg_catalog.now()), 0)",
     ", 0)",
     "metrics: a transaction younger than the scrape's gives a negative held_back age"),
    ('X28', X,
     "pg_catalog.count(*) FILTER (WHERE h.kind = 'slot')",
     "pg_catalog.count(*)",
     'metrics: cleanup_held_back_slots counts sessions and prepared transactions too'),
    ('X29', X,
     "coalesce(pg_catalog.max(pg_catalog.date_part('epoch', pg_catalog.now() - h.since))",
     "coalesce(pg_catalog.min(pg_catalog.date_part('epoch', pg_catalog.now() - h.since))",
     'metrics: cleanup_held_back_seconds is the youngest holder, not the oldest'),
    ('X30', X,
     "w.last_loop_ms / 1000",
     "w.last_loop_ms",
     'metrics: worker_last_loop_seconds in milliseconds'),
]
