"""Mutants of how configuration reaches the tasks, for test/mutate.py.

A task carries two columns the configuration decides: singleton (its
type's task_policy) and push_shard (shard_for of its shard key over
push_shards_total).  src/rc_task.c (D) derives them for each new task,
behind the configuration gates; sql/install/40_queue.sql (P) carries a
change of policy or of push_shards_total to the unfinished tasks, and
re-derives a task whose type or shard key is updated.  Each mutant is one
change a plausible slip could make there; the regression and isolation
suites, which change the configuration under enqueues and hand-outs,
must fail for each.  Two did not at first: D03 (now a policy change
rolled back to a savepoint in queue.sql) and P07 (now a policy row
deleted behind the triggers' back and inserted again, in queue.sql).

P03 survives: the singleton gate that a policy change takes.  Row locks
already settle every race it could order: a hand-out never waits for a
task row (SKIP LOCKED, and a recheck of the new version once the change
commits), the change waits for the rows a hand-out holds and then
updates them, and the unique index refuses a type made a singleton
while two of its tasks run.  So a hand-out running across the change
comes out the same with the gate or without it, and no test can tell
them apart.
"""
TESTS = ['TAP_TESTS=']

D = 'src/rc_task.c'
P = 'sql/install/40_queue.sql'

MUTANTS = [
    # the gates and what is read behind them (rc_task.c)
    ('D01', D,
     'if (LockAcquire(&tag, ShareLock, false, false) == LOCKACQUIRE_OK)\n\t\trc_gated_value[key] = 0;',
     'if (LockAcquire(&tag, ShareLock, false, false) == LOCKACQUIRE_OK)\n\t\t;',
     'rc_config_gate_shared: a value read in an earlier transaction is used again'),
    ('D02', D,
     'if (LockHeldByMe(&tag, ExclusiveLock))\n\t\treturn -1;\n\treturn rc_gated_value[key] - 1;',
     'return rc_gated_value[key] - 1;',
     'rc_gated_value_known: the transaction changing a value reads its own old copy'),
    ('D03', D,
     'if (!LockHeldByMe(&tag, ExclusiveLock))\n\t\trc_gated_value[key] = value + 1;',
     'rc_gated_value[key] = value + 1;',
     'rc_gated_value_note: a value read while changing it is kept past the change'),
    ('D04', D,
     'PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL);',
     'PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, false, wait) != LOCKACQUIRE_NOT_AVAIL);',
     'gate_lock: waits when told not to, and the other way round'),
    ('D05', D,
     'if (key < 0 || key > RC_GATE_PUSH_SHARDS)',
     'if (key < 0)',
     'gate_lock: a key past the last gate accepted'),
    ('D06', D,
     'rel = rc_open_config_table("task_policy");\n\ttype_att = rc_column_attnum(rel, "task_type");\n\tsingle_att = rc_column_attnum(rel, "singleton");\n\tsnapshot = RegisterSnapshot(GetLatestSnapshot());',
     'rel = rc_open_config_table("task_policy");\n\ttype_att = rc_column_attnum(rel, "task_type");\n\tsingle_att = rc_column_attnum(rel, "singleton");\n\tsnapshot = RegisterSnapshot(rc_statement_snapshot());',
     'rc_task_type_singleton: the policy as the statement\'s snapshot saw it, not as last committed'),
    ('D07', D,
     'snapshot = RegisterSnapshot(for_new_task ? GetLatestSnapshot() : rc_statement_snapshot());',
     'snapshot = RegisterSnapshot(rc_statement_snapshot());',
     'rc_push_shards_total: a new task\'s shard total as the statement\'s snapshot saw it'),
    ('D08', D,
     'if (total < 1)\n\t\tereport(ERROR,',
     'if (total < 0)\n\t\tereport(ERROR,',
     'rc_push_shards_total: a missing row reads as 0 shards'),
    ('D09', D,
     'if (shard_key == NULL || VARSIZE_ANY_EXHDR(shard_key) == 0)',
     'if (shard_key == NULL)',
     'rc_require_shard_key: an empty shard key accepted'),
    ('D10', D,
     'singleton = (!isnull && !check_function_bodies && superuser()) ? DatumGetBool(d) :',
     'singleton = (!isnull && !check_function_bodies) ? DatumGetBool(d) :',
     'task_derive: any login keeps the singleton flag it gives, once check_function_bodies is off'),
    ('D11', D,
     'singleton = (!isnull && !check_function_bodies && superuser()) ? DatumGetBool(d) :',
     'singleton = (!isnull && superuser()) ? DatumGetBool(d) :',
     'task_derive: a superuser\'s singleton flag kept outside a restore too'),
    ('D12', D,
     'if (isnull || DatumGetInt32(d) != shard)',
     'if (isnull)',
     'task_derive: a push shard the INSERT gives is kept'),
    ('D13', D,
     '\telse if (!isnull)\n\t{\n\t\tatts[nchanged] = att;',
     '\telse if (0)\n\t{\n\t\tatts[nchanged] = att;',
     'task_derive: a push shard given to a task of another type is kept'),
    ('D14', D,
     'rc = SPI_execute_snapshot(plan, NULL, NULL, GetLatestSnapshot(), InvalidSnapshot,',
     'rc = SPI_execute_snapshot(plan, NULL, NULL, InvalidSnapshot, InvalidSnapshot,',
     'count_as_last_committed: counts with the transaction\'s own snapshot'),
    # the triggers that carry a change to the tasks (40_queue.sql)
    ('P01', P,
     'IF NEW.singleton IS DISTINCT FROM single OR NEW.push_shard IS DISTINCT FROM shard THEN',
     'IF NEW.singleton IS DISTINCT FROM single THEN',
     'task_rederive: an updated shard key keeps the old push shard'),
    ('P02', P,
     'AFTER UPDATE OF task_type, shard_key, singleton, push_shard ON role_cluster.task',
     'AFTER UPDATE OF task_type, singleton, push_shard ON role_cluster.task',
     'task_derive_on_update: not fired by an update of the shard key'),
    ('P03', P,
     "PERFORM role_cluster.gate_lock('singleton', role_cluster.task_ordinal(NEW.task_type), true);\n\tPERFORM role_cluster.gate_lock('config'",
     "PERFORM role_cluster.gate_lock('config'",
     'task_policy_after_write: no singleton gate: a hand-out runs across the change'),
    ('P04', P,
     "PERFORM role_cluster.gate_lock('config', role_cluster.task_ordinal(NEW.task_type), true);\n\tUPDATE role_cluster.task AS t SET singleton = NEW.singleton",
     "UPDATE role_cluster.task AS t SET singleton = NEW.singleton",
     'task_policy_after_write: no config gate: an enqueue under way misses the change'),
    ('P05', P,
     "WHERE t.task_type = NEW.task_type AND t.state IN ('queued', 'running')\n\t\t\tAND t.singleton <> NEW.singleton;",
     "WHERE t.task_type = NEW.task_type AND t.state = 'queued'\n\t\t\tAND t.singleton <> NEW.singleton;",
     'task_policy_after_write: running tasks keep the old policy'),
    ('P06', P,
     "RAISE EXCEPTION 'cannot make % a singleton while % of its tasks are running',",
     "RETURN NULL;\n\t\tRAISE EXCEPTION 'cannot make % a singleton while % of its tasks are running',",
     'task_policy_after_write: a singleton made while two run: the change is silently dropped'),
    ('P07', P,
     'AFTER INSERT OR UPDATE OF singleton ON role_cluster.task_policy',
     'AFTER UPDATE OF singleton ON role_cluster.task_policy',
     'task_policy_after_write: an INSERT (a restore, a replace) does not reach the tasks'),
    ('P08', P,
     'IF FOUND THEN\n\t\tRETURN NULL;\n\tEND IF;\n\tRETURN NEW;\nEND\n$$;\nCOMMENT ON FUNCTION role_cluster.task_policy_before_insert()',
     'RETURN NEW;\nEND\n$$;\nCOMMENT ON FUNCTION role_cluster.task_policy_before_insert()',
     'task_policy_before_insert: an INSERT adds a second row for the type'),
    ('P09', P,
     "IF NEW.task_type = OLD.task_type THEN\n\t\t\tRETURN NEW;",
     "IF true THEN\n\t\t\tRETURN NEW;",
     'task_policy_before_change: a policy row may change its type'),
    ('P10', P,
     "IF TG_OP = 'UPDATE' AND NEW.push_shards_total = OLD.push_shards_total THEN\n\t\tRETURN NULL;",
     "IF TG_OP = 'UPDATE' THEN\n\t\tRETURN NULL;",
     'cluster_settings_after_write: an UPDATE of push_shards_total re-shards nothing'),
    ('P11', P,
     "SET push_shard = role_cluster.shard_for(t.shard_key, NEW.push_shards_total),\n\t\t\tstate = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,",
     "SET push_shard = role_cluster.shard_for(t.shard_key, NEW.push_shards_total),\n\t\t\tstate = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts,",
     'cluster_settings_after_write: a routed task sent back keeps its attempt'),
    ('P12', P,
     "WHERE t.task_type = 'pushNotifications' AND t.state = 'running' AND t.node_id = ANY (marked)\n\t\t\tAND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total)\n\t\t\tAND NOT role_cluster.task_fetched(t.route_seq, t.node_id);",
     "WHERE t.task_type = 'pushNotifications' AND t.state = 'running' AND t.node_id = ANY (marked)\n\t\t\tAND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total);",
     'cluster_settings_after_write: fetched (started) tasks are sent back too'),
    ('P14', P,
     "WHERE t.task_type = 'pushNotifications' AND t.state IN ('queued', 'running')\n\t\t\tAND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total);\n\tPERFORM role_cluster.require_none_missed",
     "WHERE t.task_type = 'pushNotifications' AND t.state = 'queued'\n\t\t\tAND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total);\n\tPERFORM role_cluster.require_none_missed",
     'cluster_settings_after_write: started tasks keep their old shard'),
    ('P15', P,
     "PERFORM role_cluster.gate_lock('config', 10, true);",
     ";",
     'cluster_settings_after_write: no gate: a push task enqueued meanwhile keeps the old shard'),
    ('P16', P,
     "IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN\n\t\tRETURN;\n\tEND IF;\n\tmissed := role_cluster.count_as_last_committed(query);",
     "RETURN;\n\tmissed := role_cluster.count_as_last_committed(query);",
     'require_none_missed: never checks'),
    ('P17', P,
     'held := ARRAY(SELECT f.node_id FROM role_cluster.node_fetch f WHERE f.node_id = ANY (nodes)\n\t\t\t\t\t  ORDER BY f.node_id FOR NO KEY UPDATE SKIP LOCKED);',
     'held := ARRAY(SELECT f.node_id FROM role_cluster.node_fetch f WHERE f.node_id = ANY (nodes)\n\t\t\t\t\t  ORDER BY f.node_id FOR NO KEY UPDATE);',
     'lock_fetch_marks: waits for a fetch in flight when told to skip it'),
]
