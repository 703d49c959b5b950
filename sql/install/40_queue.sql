
/* ---- Nodes, the task queue and the routing rule ---- */

/*
 * Design in brief:
 *
 * - A node is live, and is given work, while it is not deregistered, it
 *   has heartbeated within its node timeout (live_until), and the session
 *   that registered it still exists (pid and backend_start in
 *   pg_stat_activity).  It holds its tasks while it is not deregistered,
 *   its lease (lease_until) has not lapsed, and that session exists
 *   (past its timeout, only those it started: reclaim() takes back the
 *   routed ones it has not fetched).
 *   Every heartbeat pushes both forward; the timeout is never the longer,
 *   so a node that missed heartbeats is given nothing new some time before
 *   its tasks go back.
 * - A task moves queued -> running (handed to a node: claimed by it, or
 *   routed to it by dispatch) -> done, or back to queued (retry, release,
 *   reclaim) or dead (out of attempts).  A running task has exactly one
 *   node_id, and counts against that node's capacity.
 * - A routed task is running but not yet fetched: dispatch() numbers what it
 *   routes (route_seq, one sequence for all nodes), and a node's fetch mark
 *   (node_fetch.fetched) is the highest number it has fetched.  Fetching
 *   moves the mark, not the tasks, so each task is written twice on its way
 *   (handed out, finished), whether routed or claimed.  Hand-outs to a node
 *   take turns on its row lock, held to commit, so they commit in the order
 *   of their numbers and a fetch never passes a number still to commit.
 * - attempts counts the hand-outs; one handed back unstarted (released,
 *   or routed and never fetched) gives it back.
 * - Every path that hands out work goes through hand_out_tasks(), which
 *   applies the one routing rule.
 * - The functions that hand out work (hand_out_tasks(), so claim_tasks()
 *   and dispatch()) and reclaim() require READ COMMITTED, since the
 *   capacity and singleton checks rely on a fresh snapshot per statement.
 * - The functions on the hot paths run with enable_seqscan = off (and jit
 *   = off, which the seq scan penalty would otherwise switch on): the task
 *   table swings between empty and large, and a plan cached while it was
 *   empty would go on scanning all of it once it is large.  With that,
 *   their generic plans are the right ones, and they force them, saving
 *   the planning of custom plans at every call.
 * - The two that hand out work, claim_tasks() and dispatch(), also run
 *   with enable_bitmapscan = off, for their count of what a node holds
 *   (task_held_idx).  Each finished task leaves an entry there that points
 *   at a dead row until a vacuum; a bitmap scan never marks such entries,
 *   so every count re-read all the tasks finished since the last vacuum
 *   (one client, batches of 100, no vacuum: claim_tasks() took 1.8 ms in a
 *   first 6 s run and 5.3 ms in a second, up to 11 ms of which 9 in the
 *   count), while an index scan marks them dead as it passes and the next
 *   one skips them (three such runs: 1.9, 2.1 and 1.9 ms).
 * - The entry points in C (enqueue(), claim_tasks(), complete_task())
 *   carry no SET clauses: their common path runs no statement, and they
 *   apply the planner settings above (and jit off) themselves, only around
 *   the statements of their slow paths (a dedupe key, an error to explain,
 *   a singleton, a table with transition-table triggers).  As SET clauses
 *   every call paid for them: 55,000 instructions per task at one task per
 *   call (bench_queue.sh's COUNT=instructions PARTS=1).  They pin the
 *   search path in C instead, for the whole call (rc_call_pinned() in
 *   src/rc_util.c: pg_catalog alone, the caller's temporary schema left
 *   out): an override, a list pushed and popped.  Their SET search_path
 *   clauses cost 29,500 instructions per task around the calls and 6,900
 *   in the caller's next statements, which looked the path up again;
 *   SECURITY DEFINER now adds 3,300, its switch of user.  Under the
 *   override, functions that run inside one of these calls (triggers on
 *   the task table, the helpers below) see that path even if they SET
 *   their own; a trigger an administrator adds to the task table must
 *   qualify its names.
 * - Internal helpers (granted to nobody) carry no SET clauses: they inherit
 *   the pinned search_path and planner settings of the entry point that
 *   calls them, and every name in them is schema-qualified.  Each SET
 *   clause costs a settings save and restore per call.
 * - What every task passes through once is C where the interpreter cost
 *   more than the work: enqueue() and complete_task() (src/rc_queue.c,
 *   SECURITY DEFINER, their statements prepared once per session),
 *   claim_tasks()'s checks and sort around
 *   hand_out_tasks() (there too), hand_out_tasks() itself, the routing
 *   rule, but for its singletons (src/rc_handout.c: it locks the node,
 *   walks the queue and writes the hand-out without a statement), the
 *   derived columns (src/rc_task.c), a node's task types
 *   (node_task_types) and enqueue_batch()'s check.
 */

/*
 * Settings the queue reads, in the one row of cluster_settings.  (The node
 * lease and timeout are settings, role_cluster.node_lease and
 * role_cluster.node_timeout: node_lease() and node_timeout() below.)
 */
ALTER TABLE role_cluster.cluster_settings
	ADD COLUMN default_capacity integer NOT NULL DEFAULT 16
		CONSTRAINT cluster_settings_default_capacity_positive CHECK (default_capacity >= 1),
	ADD COLUMN retry_backoff_base interval NOT NULL DEFAULT '2 seconds'
		CONSTRAINT cluster_settings_retry_backoff_base_not_negative CHECK (retry_backoff_base >= '0'),
	ADD COLUMN retry_backoff_max interval NOT NULL DEFAULT '1 hour',
	ADD CONSTRAINT cluster_settings_retry_backoff_max_not_below_base
		CHECK (retry_backoff_max >= retry_backoff_base);
COMMENT ON COLUMN role_cluster.cluster_settings.default_capacity IS
	'Tasks a node may hold at once (routed plus running) when it registers without a capacity';
COMMENT ON COLUMN role_cluster.cluster_settings.retry_backoff_base IS
	'Delay before the first retry of a failed task; each later retry doubles it, with jitter';
COMMENT ON COLUMN role_cluster.cluster_settings.retry_backoff_max IS
	'Upper bound of the retry delay of a failed task';

CREATE TYPE role_cluster.task_state AS ENUM ('queued', 'running', 'done', 'dead');
COMMENT ON TYPE role_cluster.task_state IS
	'Where a task is: queued, running (handed to a node; routed ones until fetched too), done or dead (out of attempts)';

/* ---- Per-type policy ---- */

CREATE TABLE role_cluster.task_policy (
	task_type	role_cluster.task_type PRIMARY KEY,
	singleton	boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE role_cluster.task_policy IS
	'How each task type is handed out: one row per type (an INSERT replaces the row; rows cannot be deleted)';
COMMENT ON COLUMN role_cluster.task_policy.task_type IS 'The task type';
COMMENT ON COLUMN role_cluster.task_policy.singleton IS
	'At most one task of this type is running (routed included) at a time, cluster-wide';

INSERT INTO role_cluster.task_policy (task_type, singleton)
	SELECT t, t = 'spamClassifierTraining'
	FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::role_cluster.task_type)) AS t;

/* ---- Nodes ---- */

CREATE TABLE role_cluster.node (
	node_id		text PRIMARY KEY
				CONSTRAINT node_id_not_empty CHECK (node_id <> '')
				/* so that the entries of task_held_idx always fit a btree page */
				CONSTRAINT node_id_length CHECK (pg_catalog.octet_length(node_id) <= 255),
	role_name	text,
	push_shard	integer
				CONSTRAINT node_push_shard_positive CHECK (push_shard >= 1),
	capacity	integer NOT NULL
				CONSTRAINT node_capacity_not_negative CHECK (capacity >= 0),
	login		name NOT NULL,
	backend_pid integer NOT NULL,
	backend_start timestamptz NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	last_heartbeat timestamptz NOT NULL DEFAULT pg_catalog.now(),
	live_until	timestamptz NOT NULL DEFAULT 'infinity',
	lease_until timestamptz NOT NULL,
	deregistered_at timestamptz,
	registered_listeners text[]
) WITH (fillfactor = 50);
COMMENT ON TABLE role_cluster.node IS
	'Registered nodes (register_node); a node is live while not deregistered, within its node timeout and lease, and its session exists';
COMMENT ON COLUMN role_cluster.node.node_id IS 'The node''s id, chosen by the node';
COMMENT ON COLUMN role_cluster.node.role_name IS
	'Its cluster_role (STALWART_ROLE); NULL enables every task type.  Not a foreign key: a role deleted under a node enables nothing';
COMMENT ON COLUMN role_cluster.node.push_shard IS
	'Its push shard (STALWART_PUSH_SHARD) in 1..push_shards_total; NULL means shard 1 while push_shards_total is 1, else none';
COMMENT ON COLUMN role_cluster.node.capacity IS
	'Most tasks it holds at once (running, routed ones included); 0: it is given none (it drains)';
COMMENT ON COLUMN role_cluster.node.login IS
	'The login that registered it; only that login or a role_cluster_admin member may act for the node';
COMMENT ON COLUMN role_cluster.node.backend_pid IS 'Process id of the session that registered it';
COMMENT ON COLUMN role_cluster.node.backend_start IS
	'Start time of that session: with backend_pid, tells a live session from a reused pid';
COMMENT ON COLUMN role_cluster.node.registered_at IS 'When it last registered';
COMMENT ON COLUMN role_cluster.node.last_heartbeat IS 'When it last registered or heartbeated';
COMMENT ON COLUMN role_cluster.node.live_until IS
	'It is given work until then unless it heartbeats again (last_heartbeat + role_cluster.node_timeout, at most lease_until); a row written without it is given work while its lease lasts';
COMMENT ON COLUMN role_cluster.node.lease_until IS
	'It holds its tasks until then unless it heartbeats again (last_heartbeat + role_cluster.node_lease)';
COMMENT ON COLUMN role_cluster.node.deregistered_at IS 'When it deregistered; NULL while registered';
COMMENT ON COLUMN role_cluster.node.registered_listeners IS
	'The listeners its role enabled when it last registered, the ones it was told to bind then (NULL in a row written without them)';

/*
 * How far each node has fetched what dispatch() routed to it.  A table of
 * its own, so that a fetch never waits for a dispatch holding the node's
 * row; not a foreign key, so that a node row deleted by hand still tells
 * reclaim() which of its tasks were started (a mark is kept until prune()
 * deletes its node: one small row per node id routed to).
 */
CREATE TABLE role_cluster.node_fetch (
	node_id		text PRIMARY KEY,
	fetched		bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
COMMENT ON TABLE role_cluster.node_fetch IS
	'Per node, how far it has fetched the tasks dispatch() routed to it (fetch_tasks moves it)';
COMMENT ON COLUMN role_cluster.node_fetch.node_id IS 'The node';
COMMENT ON COLUMN role_cluster.node_fetch.fetched IS
	'The highest route_seq it has fetched: its running tasks numbered above it are routed, not yet fetched';

/*
 * Numbers for routed tasks, in hand-out order.  No CACHE: a session's cached
 * block would hand a later hand-out a smaller number than an earlier one.
 */
CREATE SEQUENCE role_cluster.route_seq AS bigint;
COMMENT ON SEQUENCE role_cluster.route_seq IS 'Numbers dispatch() gives the tasks it routes, in order';

/* ---- Tasks ---- */

CREATE SEQUENCE role_cluster.task_id_seq AS bigint;
COMMENT ON SEQUENCE role_cluster.task_id_seq IS 'Task ids';

/*
 * The queue's hot table.  Every state change touches an indexed column (the
 * partial indexes' predicates), so those updates are not HOT; the index set
 * is kept to what the hot paths need, and each partial index holds only the
 * rows one path scans.  Lease extensions touch no indexed column and stay
 * HOT in the page's free space.  Autovacuum runs early and unthrottled so
 * dead versions do not pile up under sustained load.
 *
 * The functions keep the invariants: a running task has a node_id and a
 * lease_until, a queued one neither; finished_at is set exactly when
 * it is done or dead; attempts >= 0, max_attempts >= 1, run_at is
 * finite, a dedupe_key is NULL or 1 to 1,024 bytes (its index entry must
 * fit a page).  They are not CHECK constraints because PostgreSQL
 * reads and prepares every CHECK expression afresh for each statement that
 * writes the table, a cost each enqueue, claim and acknowledgement would
 * pay (a tenth of a claim's CPU with seven of them); a write by hand must
 * keep them.  singleton and push_shard are the configuration's: the
 * triggers derive them for every task inserted or changed, whatever the
 * statement gave (but an inserted singleton flag stays while
 * check_function_bodies is off and a superuser inserts it, as a restore
 * loads the tasks before their policy), and refuse a push task without a
 * shard_key.
 *
 * The columns are in the order that makes reading a row cheapest, not the
 * order a reader would list them in: fixed-width NOT NULL ones first, the
 * widest first, then the nullable fixed-width ones, then the variable-width
 * ones.  Each UPDATE compares the old and new version of every column an
 * index uses (to tell whether it may be HOT), and a column is found at a
 * fixed offset only when no NULL and no variable-width column comes before
 * it; otherwise each read walks the row from its start.  This order saves
 * 4 % of the worker path's instructions per task (bench_queue.sh's
 * COUNT=instructions: 217,326 to 208,864 at batch 100).
 */
CREATE TABLE role_cluster.task (
	id			bigint PRIMARY KEY DEFAULT pg_catalog.nextval('role_cluster.task_id_seq'),
	run_at		timestamptz NOT NULL DEFAULT pg_catalog.now(),
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	task_type	role_cluster.task_type NOT NULL,
	state		role_cluster.task_state NOT NULL DEFAULT 'queued',
	priority	integer NOT NULL DEFAULT 0,
	attempts	integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 5,
	singleton	boolean NOT NULL,
	route_seq	bigint,
	finished_at timestamptz,
	lease_until timestamptz,
	push_shard	integer,
	node_id		text,
	dedupe_key	text,
	kind		text NOT NULL DEFAULT '',
	payload		jsonb NOT NULL DEFAULT '{}',
	shard_key	text,
	last_error	text
) WITH (fillfactor = 90,
		autovacuum_vacuum_scale_factor = 0.01,
		autovacuum_vacuum_threshold = 500,
		autovacuum_vacuum_insert_scale_factor = 0.01,
		autovacuum_analyze_scale_factor = 0.02,
		autovacuum_vacuum_cost_delay = 0);
ALTER SEQUENCE role_cluster.task_id_seq OWNED BY role_cluster.task.id;

COMMENT ON TABLE role_cluster.task IS
	'The task queue: enqueue() adds, dispatch()/fetch_tasks() or claim_tasks() hand out, complete/fail/release_task() finish';
COMMENT ON COLUMN role_cluster.task.id IS 'Task id';
COMMENT ON COLUMN role_cluster.task.task_type IS 'Its type: decides which nodes may run it';
COMMENT ON COLUMN role_cluster.task.kind IS 'Free text for the handler (acmeRenewal, imipProcessing, ...)';
COMMENT ON COLUMN role_cluster.task.payload IS 'Arguments for the handler';
COMMENT ON COLUMN role_cluster.task.shard_key IS 'The subscriber; required for pushNotifications';
COMMENT ON COLUMN role_cluster.task.push_shard IS
	'For pushNotifications, shard_for(shard_key, push_shards_total): only a node of that shard runs it';
COMMENT ON COLUMN role_cluster.task.priority IS 'Higher runs first; then earlier run_at, then lower id';
COMMENT ON COLUMN role_cluster.task.run_at IS 'Not handed out before then';
COMMENT ON COLUMN role_cluster.task.attempts IS 'How many times it was handed out, less those handed back unstarted';
COMMENT ON COLUMN role_cluster.task.max_attempts IS 'Starts allowed before a failure makes it dead';
COMMENT ON COLUMN role_cluster.task.state IS 'queued, running (routed or fetched or claimed), done or dead';
COMMENT ON COLUMN role_cluster.task.node_id IS
	'The node holding it while running; the last one that held it once done or dead';
COMMENT ON COLUMN role_cluster.task.route_seq IS
	'While running: its number if dispatch() routed it (fetched once the node''s node_fetch.fetched reaches it), NULL if the node claimed it';
COMMENT ON COLUMN role_cluster.task.lease_until IS
	'While held: the holding node''s lease; reclaim() takes the task back after it';
COMMENT ON COLUMN role_cluster.task.last_error IS 'The last failure (fail_task, or a lost node)';
COMMENT ON COLUMN role_cluster.task.dedupe_key IS
	'Optional, 1 to 1,024 bytes: enqueueing with the key of an unfinished task returns that task instead of adding one';
COMMENT ON COLUMN role_cluster.task.singleton IS
	'Copy of task_policy.singleton for its type, kept in step with the policy (derived for every task inserted, unless a superuser gives it while check_function_bodies is off)';
COMMENT ON COLUMN role_cluster.task.created_at IS 'When it was enqueued';
COMMENT ON COLUMN role_cluster.task.updated_at IS 'When its state last changed';
COMMENT ON COLUMN role_cluster.task.finished_at IS 'When it became done or dead';

/* Due work, in hand-out order; singletons have their own index. */
CREATE INDEX task_queued_idx ON role_cluster.task (priority DESC, run_at, id)
	WHERE state = 'queued' AND NOT singleton;
COMMENT ON INDEX role_cluster.task_queued_idx IS 'Queued non-singleton tasks in hand-out order';

CREATE INDEX task_queued_singleton_idx ON role_cluster.task (task_type, priority DESC, run_at, id)
	WHERE state = 'queued' AND singleton;
COMMENT ON INDEX role_cluster.task_queued_singleton_idx IS 'Queued singleton tasks, per type in hand-out order';

/* What each node holds, routed ones in fetch order: capacity, heartbeat, fetch, reclaim. */
CREATE INDEX task_held_idx ON role_cluster.task (node_id, route_seq)
	WHERE state = 'running';
COMMENT ON INDEX role_cluster.task_held_idx IS 'Running tasks by node, in route_seq order';

CREATE UNIQUE INDEX task_dedupe_idx ON role_cluster.task (dedupe_key)
	WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
COMMENT ON INDEX role_cluster.task_dedupe_idx IS 'One unfinished task per dedupe key';

/* The singleton rule, enforced by the database itself. */
CREATE UNIQUE INDEX task_singleton_idx ON role_cluster.task (task_type)
	WHERE singleton AND state = 'running';
COMMENT ON INDEX role_cluster.task_singleton_idx IS
	'At most one running task per singleton type, cluster-wide';

/* Finished tasks by age, for pruning. */
CREATE INDEX task_finished_idx ON role_cluster.task (finished_at)
	WHERE state IN ('done', 'dead');
COMMENT ON INDEX role_cluster.task_finished_idx IS 'Done and dead tasks by finishing time, for pruning';

SELECT pg_catalog.pg_extension_config_dump('role_cluster.task_policy', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.task', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.task_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.node_fetch', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.route_seq', '');

/* ---- Small helpers ---- */

/*
 * Takes one of the queue's gates exclusively until the transaction ends:
 * 'singleton' (key: a task type's ordinal) for handing out a singleton
 * type, 'config' (key: the ordinal, or 10 for push_shards_total) for a
 * change that reaches the unfinished tasks; waits, or with wait false
 * returns false when the gate is held.  Advisory locks whose tag no SQL
 * function reaches (pg_locks shows them as advisory, classid 1919120231
 * or 1919120232, objsubid 21059), so that no login can hold one to stall
 * the queue.  C; for the extension's own functions only.
 */
CREATE FUNCTION role_cluster.gate_lock(gate text, key integer, wait boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_gate_lock' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION role_cluster.gate_lock(text, integer, boolean) IS
	'Takes a gate of the queue (singleton or config) exclusively for the transaction; with wait false, false when it is held';
REVOKE EXECUTE ON FUNCTION role_cluster.gate_lock(text, integer, boolean) FROM PUBLIC;

/*
 * Ordinal of a task type: 0..9, as in the C list.  Handing out a singleton
 * type takes its gate (gate_lock('singleton', ordinal)) first.
 */
CREATE FUNCTION role_cluster.task_ordinal(task_type role_cluster.task_type) RETURNS integer
	LANGUAGE sql STABLE PARALLEL SAFE
	RETURN pg_catalog.array_position(pg_catalog.enum_range(NULL::role_cluster.task_type), task_type) - 1;
COMMENT ON FUNCTION role_cluster.task_ordinal(role_cluster.task_type) IS
	'Ordinal of a task type (0..9): the key of the gates of its singleton hand-out and of its policy';

/*
 * The task types a node's role enables.  With strict, an unknown role
 * raises the evaluation's error (unless role_cluster.unknown_role is
 * enable_all); without, it enables nothing, so that one node whose role was
 * deleted cannot stop dispatch for the others.
 */
CREATE FUNCTION role_cluster.node_task_types(role text, strict boolean) RETURNS role_cluster.task_type[]
	AS 'MODULE_PATHNAME', 'node_task_types' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.node_task_types(text, boolean) IS
	'The task types a role enables; strict: an unknown role is an error, else it enables nothing';

/*
 * The routing rule's per-pair part: may a node whose role enables
 * node_types, serving push shard node_shard, run a task of this type and
 * push shard?  Liveness, capacity and singletons are hand_out_tasks()'s part.
 * Never NULL: a node that serves no shard (none of its own, and more than
 * one in the cluster) may not run a push task, and fetch_tasks() sends back
 * what is not true here.
 */
CREATE FUNCTION role_cluster.routes_to(task_type role_cluster.task_type, task_push_shard integer,
									   node_types role_cluster.task_type[], node_shard integer) RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN task_type = ANY (node_types)
		AND (task_type <> 'pushNotifications' OR coalesce(task_push_shard = node_shard, false));
COMMENT ON FUNCTION role_cluster.routes_to(role_cluster.task_type, integer, role_cluster.task_type[], integer) IS
	'Routing rule, per task and node: the role enables the type, and a push task is in the node''s shard';

/*
 * The push shard a node serves: its own, or 1 when there is one shard.  In
 * C (src/rc_handout.c), as hand_out_tasks() reads it.
 */
CREATE FUNCTION role_cluster.effective_push_shard(push_shard integer, push_shards_total integer) RETURNS integer
	AS 'MODULE_PATHNAME', 'rc_effective_push_shard'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.effective_push_shard(integer, integer) IS
	'The push shard a node serves: its push_shard, or 1 when it has none and there is one shard';

/*
 * The node lease: role_cluster.node_lease (30 s by default; superusers may
 * set it per session or per login, like any such setting), as an interval.
 * A heartbeat or a registration makes a node hold its tasks for this
 * long, counted from the moment it holds the node's row.  C: calling it
 * loads the library, so the setting exists in every session.
 */
CREATE FUNCTION role_cluster.node_lease() RETURNS interval
	AS 'MODULE_PATHNAME', 'rc_node_lease' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.node_lease() IS
	'The node lease (role_cluster.node_lease) as an interval: how long a heartbeat keeps a node''s tasks its own';

/*
 * The node timeout: role_cluster.node_timeout (set like node_lease; 0, the
 * default, or anything above the session's node_lease means the lease), as
 * an interval.  A heartbeat or a registration makes a node live, given
 * work, for this long, counted as the lease is.
 */
CREATE FUNCTION role_cluster.node_timeout() RETURNS interval
	AS 'MODULE_PATHNAME', 'rc_node_timeout' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.node_timeout() IS
	'The node timeout (role_cluster.node_timeout, at most node_lease) as an interval: how long a heartbeat keeps a node live';

/*
 * Does the session with this pid and start time still exist?  C, reading
 * what pg_stat_activity shows (the start times of every login's sessions
 * included); dispatch, reclaim and the views ask it for every node.  A
 * "no" is checked again against a fresh copy of the sessions' status: the
 * transaction's copy lacks the sessions that began since it was taken.
 */
CREATE FUNCTION role_cluster.node_session_alive(pid integer, started timestamptz) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_node_session_alive' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION role_cluster.node_session_alive(integer, timestamptz) IS
	'Whether the session with this pid and backend_start still exists';

/*
 * Is the node gone, so that what it holds is no longer its own:
 * deregistered, its lease lapsed (lease_until <= now()), or the session
 * that registered it ended (node_session_alive)?  reclaim() takes its
 * tasks back.  In C (src/rc_handout.c), as hand_out_tasks() tests it; NULL
 * for a row made by hand without the columns it reads.
 */
CREATE FUNCTION role_cluster.node_is_lost(n role_cluster.node) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_node_is_lost'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION role_cluster.node_is_lost(role_cluster.node) IS
	'Whether a node no longer holds its tasks: deregistered, lease lapsed, or registering session ended';

/*
 * Is the node live: not lost, and within its node timeout (live_until >
 * now())?  (A live node is never lost; one past its timeout may not be
 * lost yet.)  In C, as node_is_lost().
 */
CREATE FUNCTION role_cluster.node_is_live(n role_cluster.node) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_node_is_live'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION role_cluster.node_is_live(role_cluster.node) IS
	'Whether a node is live, given work (node_takes_work: if its capacity is above 0): not lost, and within its node timeout';

/* The nodes dispatch() routes to: live, and not drained to capacity 0. */
CREATE FUNCTION role_cluster.node_takes_work(n role_cluster.node) RETURNS boolean
	LANGUAGE sql STABLE
	RETURN role_cluster.node_is_live(n) AND n.capacity > 0;
COMMENT ON FUNCTION role_cluster.node_takes_work(role_cluster.node) IS
	'Whether dispatch() may route to a node: live, and its capacity above 0 (at 0 it drains)';

/*
 * Has the node holding a running task started it?  A task it claimed was
 * (route_seq NULL); a routed one once the node has fetched up to its
 * number.  For the paths that tell routed from started; the hot ones
 * inline it.
 */
CREATE FUNCTION role_cluster.task_fetched(route_seq bigint, node_id text) RETURNS boolean
	LANGUAGE sql STABLE
	RETURN route_seq IS NULL
		OR coalesce(route_seq <= (SELECT f.fetched FROM role_cluster.node_fetch f
								  WHERE f.node_id = task_fetched.node_id), false);
COMMENT ON FUNCTION role_cluster.task_fetched(bigint, text) IS
	'Whether the node holding a running task has started it: claimed it, or fetched it once routed';

/*
 * The LISTEN/NOTIFY channel of a node: "role_cluster.node." and the id, or
 * for an id too long for a 63-byte channel name, "role_cluster.node#" and
 * the id's md5.  Quote it with quote_ident() to LISTEN.
 */
CREATE FUNCTION role_cluster.node_channel(node_id text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF node_id IS NULL OR node_id = '' THEN
		RAISE EXCEPTION 'node id must not be %', CASE WHEN node_id IS NULL THEN 'NULL' ELSE 'empty' END
			USING ERRCODE = CASE WHEN node_id IS NULL THEN 'null_value_not_allowed' ELSE 'invalid_parameter_value' END;
	END IF;
	IF pg_catalog.octet_length(node_id) <= 45 THEN
		RETURN 'role_cluster.node.' || node_id;
	END IF;
	RETURN 'role_cluster.node#' || pg_catalog.md5(node_id);
END
$$;
COMMENT ON FUNCTION role_cluster.node_channel(text) IS
	'The LISTEN/NOTIFY channel on which dispatch() wakes a node (quote it with quote_ident)';

/*
 * The node row for a call made on its behalf, after the checks every
 * node-facing function makes: the id is given, the node exists, and the
 * caller is the login that registered it or a role_cluster_admin member.
 * With lock_it the row is locked FOR NO KEY UPDATE first.
 */
CREATE FUNCTION role_cluster.node_for_caller(node_id text, lock_it boolean) RETURNS role_cluster.node
	LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
	n			role_cluster.node;
BEGIN
	IF node_for_caller.node_id IS NULL THEN
		RAISE EXCEPTION 'node id must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF lock_it THEN
		SELECT * INTO n FROM role_cluster.node WHERE node_id = node_for_caller.node_id
			FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO n FROM role_cluster.node WHERE node_id = node_for_caller.node_id;
	END IF;
	IF NOT FOUND THEN
		/* no node has an id over 255 bytes: the message shows its start */
		RAISE EXCEPTION 'node "%" does not exist',
			CASE WHEN pg_catalog.octet_length(node_for_caller.node_id) > 255
				THEN pg_catalog.left(node_for_caller.node_id, 32) || '...'
				ELSE node_for_caller.node_id END
			USING ERRCODE = 'undefined_object',
				  HINT = 'Register it first with role_cluster.register_node().';
	END IF;
	IF n.login <> SESSION_USER
		AND NOT pg_catalog.pg_has_role(SESSION_USER, 'role_cluster_admin', 'MEMBER') THEN
		RAISE EXCEPTION 'login "%" may not act for node "%"', SESSION_USER, n.node_id
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = pg_catalog.format('Node "%s" is bound to login "%s", which registered it.', n.node_id, n.login),
				  HINT = 'Connect as that login, or as a member of role_cluster_admin.';
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION role_cluster.node_for_caller(text, boolean) IS
	'A node''s row after checking that the caller may act for it (optionally locked)';

/*
 * The node must be live to be given work.  The lease is judged by the
 * clock, not by the transaction's start: a transaction begun before the
 * lease ended must not be handed work once it has (reclaim() may have
 * taken the node's tasks back meanwhile).
 */
CREATE FUNCTION role_cluster.require_live(n role_cluster.node) RETURNS void
	LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	IF n.deregistered_at IS NOT NULL THEN
		RAISE EXCEPTION 'node "%" is deregistered', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Register it again with role_cluster.register_node().';
	END IF;
	/*
	 * The session before the lease: reclaim() ends the lease of a node
	 * whose session ended, and a heartbeat would not help such a node.
	 */
	IF NOT role_cluster.node_session_alive(n.backend_pid, n.backend_start) THEN
		RAISE EXCEPTION 'the session that registered node "%" has ended', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Process %s, which registered it, is gone.', n.backend_pid),
				  HINT = 'Register the node again from its current session.';
	END IF;
	IF n.lease_until <= pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'the lease of node "%" has lapsed', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The tasks it holds go back to the queue at the next role_cluster.reclaim(), or at its own next heartbeat.',
				  HINT = 'Call role_cluster.heartbeat() well within role_cluster.node_lease.';
	END IF;
	IF n.live_until <= pg_catalog.now() THEN
		RAISE EXCEPTION 'node "%" has not heartbeated within its node timeout', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Its last heartbeat was at %s; it keeps the tasks it started until its lease ends at %s.',
											 n.last_heartbeat, n.lease_until),
				  HINT = 'Call role_cluster.heartbeat() well within role_cluster.node_timeout.';
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.require_live(role_cluster.node) IS
	'Raises unless the node is live, saying why';

/* Handing out work, and fetching it, needs a fresh snapshot per statement. */
CREATE FUNCTION role_cluster.require_read_committed() RETURNS void
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'cannot change the task queue in a % transaction',
			pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'The capacity and singleton checks, a fetch of what was routed to a node, the hold of a heartbeat or a registration on the node''s tasks, and the check that a node pruned holds none need a fresh snapshot for each statement.',
				  HINT = 'Call it in a READ COMMITTED transaction (the default).';
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.require_read_committed() IS
	'Raises unless the transaction is READ COMMITTED';

/*
 * A change of configuration that the unfinished tasks take on (a type's
 * policy, push_shards_total) waits at its gate for the enqueues under way,
 * then updates the tasks.  Outside READ COMMITTED, its statements read
 * with a snapshot taken before that wait, and miss the tasks enqueued, and
 * committed, meanwhile.  So it counts, as last committed, the tasks the
 * change should have reached and did not (query: a count of them); any,
 * and it raises 40001, to be retried.  (A restore, enqueuing nothing, goes
 * through whatever the isolation.)
 */
CREATE FUNCTION role_cluster.require_none_missed(change text, query text) RETURNS void
	LANGUAGE plpgsql
AS $$
DECLARE
	missed		bigint;
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
		RETURN;
	END IF;
	missed := role_cluster.count_as_last_committed(query);
	IF missed > 0 THEN
		RAISE EXCEPTION 'could not change % in a % transaction', change,
			pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))
			USING ERRCODE = 'serialization_failure',
				  DETAIL = pg_catalog.format('%s task(s) enqueued after the transaction''s snapshot would keep the old value.', missed),
				  HINT = 'Retry the transaction; in READ COMMITTED the change reaches them.';
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.require_none_missed(text, text) IS
	'Outside READ COMMITTED, raises 40001 when a configuration change missed tasks enqueued after its snapshot';

/*
 * Locks the fetch marks of these nodes, in order, so that the caller's
 * next statements tell fetched from routed tasks as the nodes will have
 * seen them: a fetch for one of them in flight is waited for, and one that
 * starts later waits.  Taken before any task row, as fetch_tasks() does.
 * With skip_locked, a mark another transaction holds (a fetch in flight,
 * maybe stalled) is not waited for, and its node is left out of the
 * result.  Returns the nodes the caller may act on: those whose mark it
 * holds, and those without one (every dispatch() gives the nodes it
 * routes to a mark first, so such a node holds no routed task).
 */
CREATE FUNCTION role_cluster.lock_fetch_marks(nodes text[], skip_locked boolean DEFAULT false)
	RETURNS text[]
	LANGUAGE plpgsql
AS $$
DECLARE
	held		text[];
BEGIN
	IF skip_locked THEN
		held := ARRAY(SELECT f.node_id FROM role_cluster.node_fetch f WHERE f.node_id = ANY (nodes)
					  ORDER BY f.node_id FOR NO KEY UPDATE SKIP LOCKED);
	ELSE
		held := ARRAY(SELECT f.node_id FROM role_cluster.node_fetch f WHERE f.node_id = ANY (nodes)
					  ORDER BY f.node_id FOR NO KEY UPDATE);
	END IF;
	RETURN ARRAY(SELECT x.n FROM pg_catalog.unnest(nodes) AS x(n)
				 WHERE x.n = ANY (held)
					OR NOT EXISTS (SELECT FROM role_cluster.node_fetch f WHERE f.node_id = x.n));
END
$$;
COMMENT ON FUNCTION role_cluster.lock_fetch_marks(text[], boolean) IS
	'Locks the nodes'' fetch marks (optionally skipping busy ones), so that a following statement sees which of their tasks they fetched; returns the nodes it may act on';

/*
 * Puts held tasks, locked by the caller, back in the queue: those in
 * "counted" keep the attempt they used, get "node ... <reason>" as their
 * error and become dead when it was their last; those in "given_back" give
 * their attempt back.  Each statement reaches its rows by primary key only:
 * an array tested against another index's rows costs the product of the
 * two, minutes for tens of thousands of tasks.  Returns how many.
 */
CREATE FUNCTION role_cluster.requeue_held(counted bigint[], given_back bigint[], reason text)
	RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	n			integer;
	m			integer;
BEGIN
	UPDATE role_cluster.task AS t
		SET state = CASE WHEN t.attempts >= t.max_attempts
						 THEN 'dead' ELSE 'queued' END::role_cluster.task_state,
			node_id = CASE WHEN t.attempts >= t.max_attempts THEN t.node_id END,
			lease_until = NULL,
			last_error = pg_catalog.format('node "%s" %s', t.node_id, reason),
			finished_at = CASE WHEN t.attempts >= t.max_attempts THEN pg_catalog.now() END,
			updated_at = pg_catalog.now()
		WHERE t.id = ANY (counted);
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE role_cluster.task AS t
		SET state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
			updated_at = pg_catalog.now()
		WHERE t.id = ANY (given_back);
	GET DIAGNOSTICS m = ROW_COUNT;
	RETURN n + m;
END
$$;
COMMENT ON FUNCTION role_cluster.requeue_held(bigint[], bigint[], text) IS
	'Puts locked held tasks back in the queue, counting the attempt of some (or making them dead) and giving back that of the others';

/*
 * Hand tasks held by nodes back to the queue, for the given reason: routed
 * ones not yet fetched give their attempt back; started ones keep the
 * attempt they used, and become dead when it was their last (counting =
 * true), or give it back (counting = false).  With unfetched_only, started
 * ones stay.  With skip_locked, tasks that other transactions hold locked,
 * and the tasks of a node whose fetch mark another transaction holds, are
 * left alone (reclaim() comes back for them); otherwise they are waited
 * for.  Returns the number handed back (dead ones included).  The caller
 * holds the nodes' rows locked.
 */
CREATE FUNCTION role_cluster.hand_back(nodes text[], counting boolean, reason text,
									   skip_locked boolean DEFAULT false,
									   unfetched_only boolean DEFAULT false) RETURNS integer
	LANGUAGE plpgsql
AS $$
DECLARE
	counted		bigint[];
	given_back	bigint[];
BEGIN
	nodes := role_cluster.lock_fetch_marks(nodes, skip_locked);
	IF skip_locked THEN
		SELECT pg_catalog.array_agg(h.id) FILTER (WHERE h.started),
			   pg_catalog.array_agg(h.id) FILTER (WHERE NOT h.started)
			INTO counted, given_back
			FROM (SELECT t.id, counting AND role_cluster.task_fetched(t.route_seq, t.node_id) AS started
				  FROM role_cluster.task t
				  WHERE t.node_id = ANY (nodes) AND t.state = 'running'
					AND NOT (unfetched_only AND role_cluster.task_fetched(t.route_seq, t.node_id))
				  FOR UPDATE SKIP LOCKED) h;
	ELSE
		SELECT pg_catalog.array_agg(h.id) FILTER (WHERE h.started),
			   pg_catalog.array_agg(h.id) FILTER (WHERE NOT h.started)
			INTO counted, given_back
			FROM (SELECT t.id, counting AND role_cluster.task_fetched(t.route_seq, t.node_id) AS started
				  FROM role_cluster.task t
				  WHERE t.node_id = ANY (nodes) AND t.state = 'running'
					AND NOT (unfetched_only AND role_cluster.task_fetched(t.route_seq, t.node_id))
				  ORDER BY t.id
				  FOR UPDATE) h;
	END IF;
	RETURN role_cluster.requeue_held(counted, given_back, reason);
END
$$;
COMMENT ON FUNCTION role_cluster.hand_back(text[], boolean, text, boolean, boolean) IS
	'Puts the tasks the given nodes hold back in the queue (or dead), counting the attempt or not';

/* ---- Keeping derived columns in step ---- */

/*
 * A task's singleton flag comes from task_policy and its push shard from
 * shard_for(shard_key, push_shards_total), both read in C with the
 * statement's snapshot (src/rc_task.c).  enqueue() computes them as it
 * inserts; enqueue_batch() set-based.  An INSERT that leaves them out
 * (singleton NULL, or a push task's push_shard NULL) has them filled in by
 * a C row trigger that otherwise returns the row untouched.  Changing a
 * task's type or shard key derives them again, after the statement: an
 * AFTER trigger, because any BEFORE UPDATE row trigger would make every
 * update of the queue (each claim, completion, ...) lock its row and log
 * the lock first.  The trigger functions that keep tasks in step with the
 * configuration (here, and for task_policy and cluster_settings below) are
 * SECURITY DEFINER: the admin whose change fires them needs no grant on
 * the internal helpers they call.
 */
CREATE FUNCTION role_cluster.task_singleton(task_type role_cluster.task_type) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_task_singleton' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION role_cluster.task_singleton(role_cluster.task_type) IS
	'Whether task_policy makes the type a singleton (false when it has no row), for a new task: behind the type''s gate, as last committed';

CREATE FUNCTION role_cluster.task_push_shard(task_type role_cluster.task_type, shard_key text) RETURNS integer
	AS 'MODULE_PATHNAME', 'rc_task_push_shard' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION role_cluster.task_push_shard(role_cluster.task_type, text) IS
	'The push shard of a new task: shard_for(shard_key, push_shards_total) for pushNotifications (which needs a shard_key), behind the total''s gate, as last committed; else NULL';

CREATE FUNCTION role_cluster.push_shards_total() RETURNS integer
	AS 'MODULE_PATHNAME', 'rc_push_shards_total_sql' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.push_shards_total() IS
	'cluster_settings.push_shards_total, read without a query';

CREATE FUNCTION role_cluster.task_derive() RETURNS trigger
	AS 'MODULE_PATHNAME', 'rc_task_derive' LANGUAGE C;
COMMENT ON FUNCTION role_cluster.task_derive() IS
	'Trigger: sets a new task''s singleton flag (task_policy) and push_shard (shard_for), whatever the INSERT gave (a singleton flag a superuser gives stays while check_function_bodies is off: a restore)';

CREATE TRIGGER task_derive_on_insert
	BEFORE INSERT ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_derive();

CREATE FUNCTION role_cluster.task_rederive() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	single		boolean := role_cluster.task_singleton(NEW.task_type);
	shard		integer := role_cluster.task_push_shard(NEW.task_type, NEW.shard_key);
BEGIN
	IF NEW.singleton IS DISTINCT FROM single OR NEW.push_shard IS DISTINCT FROM shard THEN
		UPDATE role_cluster.task AS t SET singleton = single, push_shard = shard
			WHERE t.id = NEW.id;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION role_cluster.task_rederive() IS
	'Trigger: after an update of a task''s type, shard key or derived columns, sets the derived columns right';

CREATE TRIGGER task_derive_on_update
	AFTER UPDATE OF task_type, shard_key, singleton, push_shard ON role_cluster.task
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_rederive();

/*
 * task_policy keeps one row per type, like cluster_settings keeps one row:
 * an INSERT replaces the type's row (so a dump's data restores over the rows
 * CREATE EXTENSION made), and rows cannot be deleted.
 */
CREATE FUNCTION role_cluster.task_policy_before_insert() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	/* updated in place, the INSERT skipped: see cluster_settings_before_insert */
	UPDATE role_cluster.task_policy AS p SET singleton = NEW.singleton
		WHERE p.task_type = NEW.task_type;
	IF FOUND THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.task_policy_before_insert() IS
	'Trigger: an INSERT into task_policy replaces the row of its type (updated in place)';

CREATE TRIGGER task_policy_before_insert
	BEFORE INSERT ON role_cluster.task_policy
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_policy_before_insert();

CREATE FUNCTION role_cluster.task_policy_before_change() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF NEW.task_type = OLD.task_type THEN
			RETURN NEW;
		END IF;
		RAISE EXCEPTION 'cannot change the task type of the policy of %', OLD.task_type
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Update the row of the other type instead.';
	END IF;
	RAISE EXCEPTION 'cannot delete rows of role_cluster.task_policy'
		USING ERRCODE = 'feature_not_supported',
			  DETAIL = 'The table always holds one row per task type.',
			  HINT = 'Change a type''s policy with UPDATE role_cluster.task_policy SET ...';
END
$$;
COMMENT ON FUNCTION role_cluster.task_policy_before_change() IS
	'Trigger: task_policy rows keep their type and cannot be deleted or truncated';

CREATE TRIGGER task_policy_before_change
	BEFORE UPDATE OR DELETE ON role_cluster.task_policy
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_policy_before_change();
CREATE TRIGGER task_policy_before_truncate
	BEFORE TRUNCATE ON role_cluster.task_policy
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.task_policy_before_change();

/*
 * A policy change reaches the type's unfinished tasks in the same
 * transaction.  It takes the type's gate lock, as hand_out_tasks() does, so
 * no hand-out of the type runs across it; making a type a singleton while
 * two of its tasks are running (routed or not) is refused by the unique
 * index.  It also takes the type's configuration gate ('config',
 * ordinal), which every new task's derivation takes shared (rc_task.c): a
 * task of the type enqueued but not yet committed makes the change wait
 * for it and is updated here; one enqueued from now waits for the change's
 * commit and reads the new policy.
 */
CREATE FUNCTION role_cluster.task_policy_after_write() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	holders		integer;
BEGIN
	PERFORM role_cluster.gate_lock('singleton', role_cluster.task_ordinal(NEW.task_type), true);
	PERFORM role_cluster.gate_lock('config', role_cluster.task_ordinal(NEW.task_type), true);
	UPDATE role_cluster.task AS t SET singleton = NEW.singleton
		WHERE t.task_type = NEW.task_type AND t.state IN ('queued', 'running')
			AND t.singleton <> NEW.singleton;
	PERFORM role_cluster.require_none_missed(pg_catalog.format('the policy of %s', NEW.task_type),
		pg_catalog.format('SELECT pg_catalog.count(*) FROM role_cluster.task t
						   WHERE t.task_type = %L AND t.state IN (''queued'', ''running'')
							AND t.singleton <> %L', NEW.task_type, NEW.singleton));
	RETURN NULL;
EXCEPTION
	WHEN unique_violation THEN
		SELECT pg_catalog.count(*) INTO holders FROM role_cluster.task t
			WHERE t.task_type = NEW.task_type AND t.state = 'running';
		RAISE EXCEPTION 'cannot make % a singleton while % of its tasks are running',
			NEW.task_type, holders
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Try again once at most one of them is left.';
END
$$;
COMMENT ON FUNCTION role_cluster.task_policy_after_write() IS
	'Trigger: copies a type''s singleton policy to its unfinished tasks';

/*
 * Both copy the configuration to the tasks, so they fire however it is
 * written (always, in trigger_modes()): with session_replication_role =
 * replica too, and in a logical replication subscriber's apply worker
 * (which fires row triggers).  A
 * singleton made by the publisher while two of the type's tasks run on
 * the subscriber is refused there as here: the apply worker retries until
 * at most one is left.
 */
CREATE TRIGGER task_policy_after_write
	AFTER INSERT OR UPDATE OF singleton ON role_cluster.task_policy
	FOR EACH ROW EXECUTE FUNCTION role_cluster.task_policy_after_write();

/*
 * A new push_shards_total re-shards the unfinished push tasks, in the same
 * transaction: queued ones get their new shard, routed ones not yet
 * fetched whose shard changed go back to the queue to be routed again
 * (giving their attempt back), and started ones keep their node but take
 * the new shard, which a retry is routed by.  Like a policy change, it
 * first takes its configuration gate ('config', 10), so that it also
 * reaches the push tasks being enqueued meanwhile.
 */
CREATE FUNCTION role_cluster.cluster_settings_after_write() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	marked		text[];
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.push_shards_total = OLD.push_shards_total THEN
		RETURN NULL;
	END IF;
	PERFORM role_cluster.gate_lock('config', 10, true);
	/*
	 * The push tasks it re-shards, locked first, in id order as
	 * complete_tasks() locks them: a node may hold one in an open
	 * transaction, and this waits for it before it holds any fetch mark,
	 * so that meanwhile every node can still fetch.
	 */
	PERFORM FROM role_cluster.task t
		WHERE t.task_type = 'pushNotifications' AND t.state IN ('queued', 'running')
			AND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total)
		ORDER BY t.id
		FOR UPDATE OF t;
	/*
	 * Then the marks of the nodes those tasks were routed to and that
	 * have not fetched them, but those in a fetch (never waiting: a fetch
	 * may stay open), so that none of them fetches meanwhile.  Only
	 * theirs: a heartbeat takes its node's mark too, and a node holding
	 * no task this re-shards must not wait for this transaction.  (One
	 * that does waits to heartbeat: its heartbeat extends the leases of
	 * the tasks locked above.)  A task routed to a node left out keeps
	 * its node, and that node's fetch sends it back if the new shard is
	 * not its own.  The updates below wait for nothing: their rows are
	 * locked already, and no push task is enqueued past the gate.
	 */
	marked := role_cluster.lock_fetch_marks(ARRAY(
		SELECT DISTINCT t.node_id FROM role_cluster.task t
		WHERE t.task_type = 'pushNotifications' AND t.state = 'running'
			AND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total)
			AND NOT role_cluster.task_fetched(t.route_seq, t.node_id)), true);
	/* routed ones not yet fetched go back, giving their attempt back */
	UPDATE role_cluster.task AS t
		SET push_shard = role_cluster.shard_for(t.shard_key, NEW.push_shards_total),
			state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
			updated_at = pg_catalog.now()
		WHERE t.task_type = 'pushNotifications' AND t.state = 'running' AND t.node_id = ANY (marked)
			AND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total)
			AND NOT role_cluster.task_fetched(t.route_seq, t.node_id);
	/* queued ones, and started ones (they keep their node) */
	UPDATE role_cluster.task AS t
		SET push_shard = role_cluster.shard_for(t.shard_key, NEW.push_shards_total)
		WHERE t.task_type = 'pushNotifications' AND t.state IN ('queued', 'running')
			AND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, NEW.push_shards_total);
	PERFORM role_cluster.require_none_missed('push_shards_total',
		pg_catalog.format('SELECT pg_catalog.count(*) FROM role_cluster.task t
						   WHERE t.task_type = ''pushNotifications'' AND t.state IN (''queued'', ''running'')
							AND t.push_shard IS DISTINCT FROM role_cluster.shard_for(t.shard_key, %s)',
						  NEW.push_shards_total));
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_settings_after_write() IS
	'Trigger: re-shards unfinished push tasks when push_shards_total changes';

CREATE TRIGGER cluster_settings_after_write
	AFTER INSERT OR UPDATE OF push_shards_total ON role_cluster.cluster_settings
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_settings_after_write();

/* ---- Node registration ---- */

/*
 * Locks the running tasks a node holds, in id order, before a heartbeat or
 * a registration from the node's own session judges its lease by the
 * clock and extends the tasks' leases: reclaim() takes a task back by its
 * own lease, skipping locked ones, so none can be taken between that look
 * and that extension.  (A task taken back while this waited for it is
 * skipped here; the clock read after it is past the lease.)  The node's
 * fetch mark first, as every path that waits for both does (a hand-back
 * after a lapse takes it next; a change of push_shards_total locks tasks
 * first, but takes marks only if free).  The callers require READ COMMITTED: a task
 * handed out after an older snapshot would be neither locked nor given the
 * new lease.
 */
CREATE FUNCTION role_cluster.lock_held_tasks(node_id text) RETURNS void
	LANGUAGE plpgsql
AS $$
#variable_conflict use_column
BEGIN
	PERFORM role_cluster.lock_fetch_marks(ARRAY[lock_held_tasks.node_id]);
	PERFORM FROM role_cluster.task t
		WHERE t.node_id = lock_held_tasks.node_id AND t.state = 'running'
		ORDER BY t.id
		FOR NO KEY UPDATE OF t;
END
$$;
COMMENT ON FUNCTION role_cluster.lock_held_tasks(text) IS
	'Locks a node''s running tasks before its lease is judged and extended';

/*
 * Registers a node, or registers it again (same id: updates it).  The node
 * is bound to the calling login and session.  A registration from another
 * session than the previous one starts afresh: what the node held is handed
 * back first, as reclaim() would once that session is gone.  So does one
 * from the same session after the node's lease lapsed, as heartbeat() does,
 * and one that makes the row again after it was deleted by hand.  Routed
 * tasks not fetched yet go back when the new role or shard does not allow
 * them, or beyond a capacity lowered below what the node holds.
 */
CREATE FUNCTION role_cluster.register_node(node_id text, role text DEFAULT NULL,
										   push_shard integer DEFAULT NULL,
										   capacity integer DEFAULT NULL)
	RETURNS role_cluster.node
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	s			role_cluster.cluster_settings;
	n			role_cluster.node;
	enables_push boolean;
	my_start	timestamptz;
	locked_at	timestamptz;
BEGIN
	IF register_node.node_id IS NULL THEN
		RAISE EXCEPTION 'node id must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF register_node.node_id = '' THEN
		RAISE EXCEPTION 'node id must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF pg_catalog.octet_length(register_node.node_id) > 255 THEN
		RAISE EXCEPTION 'node id "%..." is too long', pg_catalog.left(register_node.node_id, 32)
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('It has %s bytes; a node id may have at most 255.',
											 pg_catalog.octet_length(register_node.node_id));
	END IF;
	IF register_node.capacity < 0 THEN
		RAISE EXCEPTION 'capacity % of node "%" is negative', register_node.capacity, register_node.node_id
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass the number of tasks the node may hold at once (0: none, as while it drains), or NULL for cluster_settings.default_capacity.';
	END IF;
	IF register_node.role IS NOT NULL AND NOT role_cluster.role_exists(register_node.role)
		AND pg_catalog.current_setting('role_cluster.unknown_role', true) IS DISTINCT FROM 'enable_all' THEN
		RAISE EXCEPTION 'role "%" of node "%" does not exist', register_node.role, register_node.node_id
			USING ERRCODE = 'undefined_object',
				  HINT = 'Check the node''s role (STALWART_ROLE) against the names in role_cluster.cluster_role, or create the role there first.';
	END IF;
	/* each argument of its parameter's type: no overload made beside it can fit better */
	enables_push := role_cluster.role_enables_task(register_node.role,
												   'pushNotifications'::role_cluster.task_type);

	SELECT * INTO s FROM role_cluster.cluster_settings;
	IF register_node.push_shard < 1 OR register_node.push_shard > s.push_shards_total THEN
		RAISE EXCEPTION 'push shard % of node "%" is out of range', register_node.push_shard, register_node.node_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('push_shards_total is %s, so shards run from 1 to %s.',
											 s.push_shards_total, s.push_shards_total),
				  HINT = 'Set STALWART_PUSH_SHARD to a shard in that range.';
	END IF;
	IF register_node.push_shard IS NULL AND enables_push AND s.push_shards_total > 1 THEN
		RAISE EXCEPTION 'node "%" needs a push shard', register_node.node_id
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = pg_catalog.format('Its role enables pushNotifications and push_shards_total is %s.',
											 s.push_shards_total),
				  HINT = pg_catalog.format('Pass push_shard between 1 and %s.', s.push_shards_total);
	END IF;

	SELECT a.backend_start INTO my_start
		FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) AS a;
	PERFORM role_cluster.require_read_committed();

	LOOP
		SELECT * INTO n FROM role_cluster.node WHERE node_id = register_node.node_id
			FOR NO KEY UPDATE;
		IF FOUND THEN
			n := role_cluster.node_for_caller(register_node.node_id, false);
			PERFORM role_cluster.lock_held_tasks(n.node_id);
			/* the time it holds the row and tasks: see heartbeat() for why not now() */
			locked_at := pg_catalog.clock_timestamp();
			IF n.backend_pid <> pg_catalog.pg_backend_pid() OR n.backend_start <> my_start THEN
				PERFORM role_cluster.hand_back(ARRAY[n.node_id], true, 'was registered again from another session');
			ELSIF n.lease_until <= locked_at THEN
				/* its lease lapsed: what it held is no longer its own, as in heartbeat() */
				PERFORM role_cluster.hand_back(ARRAY[n.node_id], true, 'was lost (lease lapsed)');
			END IF;
			UPDATE role_cluster.node
				SET role_name = register_node.role,
					push_shard = register_node.push_shard,
					capacity = coalesce(register_node.capacity, s.default_capacity),
					login = SESSION_USER,
					backend_pid = pg_catalog.pg_backend_pid(),
					backend_start = my_start,
					registered_at = pg_catalog.now(),
					last_heartbeat = locked_at,
					live_until = locked_at + role_cluster.node_timeout(),
					lease_until = locked_at + role_cluster.node_lease(),
					deregistered_at = NULL,
					registered_listeners = ARRAY(SELECT role_cluster.role_listeners(register_node.role))
				WHERE node_id = register_node.node_id
				RETURNING * INTO n;
			INSERT INTO role_cluster.node_fetch AS f (node_id) VALUES (n.node_id)
				ON CONFLICT (node_id) DO NOTHING;
			/* routed tasks that the new role or shard no longer allows go back */
			PERFORM role_cluster.lock_fetch_marks(ARRAY[n.node_id]);
			UPDATE role_cluster.task AS t
				SET state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
					updated_at = pg_catalog.now()
				WHERE t.node_id = n.node_id AND t.state = 'running'
					AND NOT role_cluster.task_fetched(t.route_seq, t.node_id)
					AND NOT role_cluster.routes_to(t.task_type, t.push_shard,
						role_cluster.node_task_types(n.role_name, false),
						role_cluster.effective_push_shard(n.push_shard, s.push_shards_total));
			/*
			 * A capacity lowered below what the node holds: routed tasks
			 * not fetched yet beyond it go back too, the last routed
			 * first.  (Started ones stay: the node is running them.)
			 */
			UPDATE role_cluster.task AS t
				SET state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
					updated_at = pg_catalog.now()
				WHERE t.id = ANY (ARRAY(
					SELECT u.id FROM role_cluster.task u
					WHERE u.node_id = n.node_id AND u.state = 'running'
						AND NOT role_cluster.task_fetched(u.route_seq, u.node_id)
					ORDER BY u.route_seq DESC
					LIMIT GREATEST(0,
						(SELECT pg_catalog.count(*) FROM role_cluster.task h
						 WHERE h.node_id = n.node_id AND h.state = 'running') - n.capacity)));
			/* the rest, when it registers again from its own session, keep their leases with it */
			UPDATE role_cluster.task AS t SET lease_until = n.lease_until
				WHERE t.node_id = n.node_id AND t.state = 'running'
					AND t.lease_until < n.lease_until;
			RETURN n;
		END IF;

		/* counted from the clock, as on the update path */
		locked_at := pg_catalog.clock_timestamp();
		INSERT INTO role_cluster.node AS x (node_id, role_name, push_shard, capacity, login,
											backend_pid, backend_start, last_heartbeat,
											live_until, lease_until, registered_listeners)
			VALUES (register_node.node_id, register_node.role, register_node.push_shard,
					coalesce(register_node.capacity, s.default_capacity), SESSION_USER,
					pg_catalog.pg_backend_pid(), my_start, locked_at,
					locked_at + role_cluster.node_timeout(), locked_at + role_cluster.node_lease(),
					ARRAY(SELECT role_cluster.role_listeners(register_node.role)))
			ON CONFLICT ON CONSTRAINT node_pkey DO NOTHING
			RETURNING * INTO n;
		IF FOUND THEN
			INSERT INTO role_cluster.node_fetch AS f (node_id) VALUES (n.node_id)
				ON CONFLICT (node_id) DO NOTHING;
			/*
			 * Tasks still held under this id, its row deleted by hand since:
			 * the node starts afresh, as from a new session, and they go
			 * back (reclaim() would not see them once the row is back).
			 */
			PERFORM role_cluster.hand_back(ARRAY[n.node_id], true,
										   'was registered again after its row was deleted');
			RETURN n;
		END IF;
		/* registered concurrently by another session: take the update path */
	END LOOP;
END
$$;
COMMENT ON FUNCTION role_cluster.register_node(text, text, integer, integer) IS
	'Registers a node (or again: updates it) with its role, push shard and capacity, bound to this login and session';

/*
 * Extends the node's time live (its node timeout) and its lease, and with
 * it the leases of the tasks it holds.  Returns when the node stops being
 * live without another heartbeat (its lease ends no earlier): heartbeat
 * again well before it.  A node whose timeout had passed is live again,
 * with what it still holds; one whose lease had lapsed is live again
 * without the tasks it held (they go back to the queue as reclaim() puts
 * them).  Either wakes the worker at commit.
 */
CREATE FUNCTION role_cluster.heartbeat(node_id text) RETURNS timestamptz
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	n			role_cluster.node;
	until		timestamptz;
	leased		timestamptz;
	locked_at	timestamptz;
BEGIN
	PERFORM role_cluster.require_read_committed();
	n := role_cluster.node_for_caller(heartbeat.node_id, true);
	PERFORM role_cluster.lock_held_tasks(n.node_id);
	/*
	 * The time it holds the node's row and tasks, not now(): the
	 * transaction may have begun before the lease ended and waited for the
	 * row (a hand-out holding it) while reclaim() took the node's tasks
	 * back.  Judged by now(), the lapse would go unseen and the node, told
	 * it still held them, would run them beside whichever node took them
	 * next.  The new lease counts from this time too, and the caller can
	 * tell a lapse from the result: the lease it saw before the call ended
	 * at or before the returned time less node_timeout().
	 */
	locked_at := pg_catalog.clock_timestamp();
	IF n.deregistered_at IS NOT NULL THEN
		RAISE EXCEPTION 'node "%" is deregistered', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Register it again with role_cluster.register_node().';
	END IF;
	IF NOT role_cluster.node_session_alive(n.backend_pid, n.backend_start) THEN
		RAISE EXCEPTION 'the session that registered node "%" has ended', n.node_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Process %s, which registered it, is gone.', n.backend_pid),
				  HINT = 'Register the node again from its current session.';
	END IF;
	IF n.lease_until <= locked_at THEN
		/*
		 * Its lease lapsed: what it held is no longer its own, whether or
		 * not reclaim() came first.  It goes back as reclaim() puts it,
		 * and the node comes back to new work, not its old.
		 */
		PERFORM role_cluster.hand_back(ARRAY[n.node_id], true, 'was lost (lease lapsed)');
	END IF;
	UPDATE role_cluster.node AS x
		SET last_heartbeat = locked_at,
			live_until = locked_at + role_cluster.node_timeout(),
			lease_until = locked_at + role_cluster.node_lease()
		WHERE x.node_id = n.node_id
		RETURNING x.live_until, x.lease_until INTO until, leased;
	UPDATE role_cluster.task AS t SET lease_until = leased
		WHERE t.node_id = n.node_id AND t.state = 'running';
	/*
	 * A node that was not live (its timeout or its lease had passed) is
	 * live again: work may wait for it, and dispatch() passed it over while
	 * it was not.  Wake the worker at commit rather than leave that work to
	 * the poll.  (A heartbeat of a live node changes nothing the worker
	 * routes by, and wakes nothing.)  Judged by the clock, as the lapse
	 * above: the transaction may have begun while the node was live.  (A
	 * deregistered node, or one whose session ended, was refused above.)
	 */
	IF n.live_until <= locked_at OR n.lease_until <= locked_at THEN
		PERFORM role_cluster.wake_worker();
	END IF;
	RETURN until;
END
$$;
COMMENT ON FUNCTION role_cluster.heartbeat(text) IS
	'Keeps a node live: extends its timeout, its lease and its tasks'' leases; returns when it stops being live without another';

/*
 * Deregisters a node: it stops being live, and what it holds goes back to
 * the queue as reclaim() puts it: a started task keeps the attempt it used
 * (dead if that was its last), a routed one never fetched gives it back.
 * Returns how many tasks it handed back; deregistering again returns 0.
 */
CREATE FUNCTION role_cluster.deregister_node(node_id text) RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	n			role_cluster.node;
	handed		integer;
BEGIN
	/* hand_back() must see the tasks claimed up to this statement */
	PERFORM role_cluster.require_read_committed();
	n := role_cluster.node_for_caller(deregister_node.node_id, true);
	IF n.deregistered_at IS NOT NULL THEN
		RETURN 0;
	END IF;
	handed := role_cluster.hand_back(ARRAY[n.node_id], true, 'deregistered');
	UPDATE role_cluster.node
		SET deregistered_at = pg_catalog.now(),
			live_until = least(live_until, pg_catalog.now()),
			lease_until = least(lease_until, pg_catalog.now())
		WHERE node_id = n.node_id;
	RETURN handed;
END
$$;
COMMENT ON FUNCTION role_cluster.deregister_node(text) IS
	'Deregisters a node; its tasks go back to the queue, a started one counting its attempt; returns how many';

/* ---- Enqueueing ---- */

/*
 * Adds a task and returns its id.  With a dedupe_key that an unfinished task
 * carries, adds nothing and returns that task's id.  In C: without a dedupe
 * key, the row is inserted without a statement (src/rc_write.c); with one,
 * by an INSERT ... ON CONFLICT prepared once per session.
 */
CREATE FUNCTION role_cluster.enqueue(task_type role_cluster.task_type, kind text DEFAULT '',
									 payload jsonb DEFAULT '{}', shard_key text DEFAULT NULL,
									 run_at timestamptz DEFAULT pg_catalog.now(),
									 priority integer DEFAULT 0, max_attempts integer DEFAULT 5,
									 dedupe_key text DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'rc_enqueue'
	LANGUAGE C SECURITY DEFINER;
COMMENT ON FUNCTION role_cluster.enqueue(role_cluster.task_type, text, jsonb, text, timestamptz, integer, integer, text) IS
	'Adds a task and returns its id; a dedupe_key that an unfinished task carries returns that task instead';

/*
 * enqueue_batch()'s check of its array (src/rc_queue.c): raises for the
 * first bad element what is wrong with it, and returns whether any element
 * carries a dedupe key; then takes the configuration gates of its types.
 */
CREATE FUNCTION role_cluster.check_task_batch(tasks jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_check_task_batch' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION role_cluster.check_task_batch(jsonb) IS
	'Checks enqueue_batch()''s array: raises for the first bad element; returns whether any has a dedupe_key; takes the gates of its types';

/*
 * The rows enqueue_batch() inserts, read from its checked array in C (one
 * per element, pos giving its place): missing keys take enqueue()'s
 * defaults, and singleton and push_shard are derived as enqueue() derives
 * them.
 */
CREATE FUNCTION role_cluster.task_batch_rows(tasks jsonb,
	OUT pos integer, OUT task_type role_cluster.task_type, OUT kind text, OUT payload jsonb,
	OUT shard_key text, OUT push_shard integer, OUT run_at timestamptz, OUT priority integer,
	OUT max_attempts integer, OUT singleton boolean, OUT dedupe_key text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'rc_task_batch_rows' LANGUAGE C VOLATILE STRICT ROWS 100;
COMMENT ON FUNCTION role_cluster.task_batch_rows(jsonb) IS
	'The rows enqueue_batch() inserts for the elements of its checked array, in order, with defaults and derived columns';

/*
 * Adds many tasks in one statement: a JSON array of objects with enqueue()'s
 * argument names as keys (task_type required, the others optional; a JSON
 * null is the same as a missing key).  Returns the ids in the array's order;
 * elements deduplicated against an unfinished task (or an earlier element)
 * return that task's id.  Any bad element changes nothing.
 */
CREATE FUNCTION role_cluster.enqueue_batch(tasks jsonb) RETURNS SETOF bigint
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	keyed		boolean;
	ids			bigint[];
	keys		text[];
	found_id	bigint;
BEGIN
	IF tasks IS NULL THEN
		RAISE EXCEPTION 'tasks must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF pg_catalog.jsonb_typeof(tasks) <> 'array' THEN
		RAISE EXCEPTION 'tasks must be a JSON array, not %', pg_catalog.jsonb_typeof(tasks)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass an array of objects such as [{"task_type": "searchIndexing", "payload": {}}].';
	END IF;

	/*
	 * Every element checked in C: the first bad one raises.  It also takes
	 * the configuration gates of the batch's types (rc_task.c), behind
	 * which task_batch_rows() reads their policy and the shard total as
	 * last committed: a change under way has committed and is read, or
	 * waits for this transaction and then carries itself to its tasks.
	 */
	keyed := role_cluster.check_task_batch(tasks);

	/* no dedupe keys: one plain INSERT, ids in array order */
	IF NOT keyed THEN
		RETURN QUERY
		WITH i AS (
			INSERT INTO role_cluster.task (task_type, kind, payload, shard_key, push_shard, run_at, priority,
										   max_attempts, singleton)
				SELECT r.task_type, r.kind, r.payload, r.shard_key, r.push_shard, r.run_at, r.priority,
					   r.max_attempts, r.singleton
				FROM role_cluster.task_batch_rows(tasks) AS r
				ORDER BY r.pos		/* ids are drawn after the sort, so they follow pos */
				RETURNING role_cluster.task.id)
		SELECT i.id FROM i ORDER BY i.id;
		RETURN;
	END IF;

	/*
	 * Ids are drawn up front, in array order, so that each element's id is
	 * known whether its row goes in or gives way to a dedupe key.
	 */
	SELECT pg_catalog.array_agg(pg_catalog.nextval('role_cluster.task_id_seq') ORDER BY e.pos),
		   pg_catalog.array_agg(e.v ->> 'dedupe_key' ORDER BY e.pos)
		INTO ids, keys
		FROM pg_catalog.jsonb_array_elements(tasks) WITH ORDINALITY AS e(v, pos);
	IF ids IS NULL THEN
		RETURN;
	END IF;

	INSERT INTO role_cluster.task (id, task_type, kind, payload, shard_key, push_shard, run_at, priority,
								   max_attempts, dedupe_key, singleton)
		SELECT ids[r.pos], r.task_type, r.kind, r.payload, r.shard_key, r.push_shard, r.run_at,
			   r.priority, r.max_attempts, r.dedupe_key, r.singleton
		FROM role_cluster.task_batch_rows(tasks) AS r
		/*
		 * In key order, whatever the array's: a key another transaction
		 * is adding is waited for, and two batches that share keys wait
		 * for each other in one order, never both at once (a deadlock).
		 */
		ORDER BY r.dedupe_key COLLATE "C", r.pos
		ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running')
		DO NOTHING;

	/* each element's id: its own, or that of the unfinished task with its key */
	SELECT pg_catalog.array_agg(CASE WHEN u.k IS NULL THEN u.id
								ELSE (SELECT t.id FROM role_cluster.task t
									  WHERE t.dedupe_key = u.k AND t.state IN ('queued', 'running'))
								END ORDER BY u.pos)
		INTO ids
		FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(keys)) WITH ORDINALITY AS u(id, k, pos);
	FOR i IN 1 .. pg_catalog.array_length(ids, 1) LOOP
		CONTINUE WHEN ids[i] IS NOT NULL;
		/*
		 * its twin finished in the meantime: enqueue it alone, from the row
		 * read as the INSERT read it
		 */
		SELECT role_cluster.enqueue(task_type => r.task_type, kind => r.kind, payload => r.payload,
									shard_key => r.shard_key, run_at => r.run_at,
									priority => r.priority, max_attempts => r.max_attempts,
									dedupe_key => r.dedupe_key)
			INTO found_id
			FROM role_cluster.task_batch_rows(tasks) AS r WHERE r.pos = i;
		ids[i] := found_id;
	END LOOP;
	RETURN QUERY SELECT pg_catalog.unnest(ids);
END
$$;
COMMENT ON FUNCTION role_cluster.enqueue_batch(jsonb) IS
	'Adds the tasks of a JSON array of enqueue() argument objects; returns their ids in order';

/* ---- Handing out work: the one routing rule ---- */

/*
 * hand_out_singletons()'s write of the singleton task it locked, in C
 * (src/rc_handout.c), as hand_out_tasks() writes the rest: the queued
 * tasks of ids, which the caller has locked, made running on node node_id until
 * lease_until, each attempt counted, and numbered in the order of ids
 * (route_seq) when numbered (a dispatch); returns the rows as written.
 * All of them in one write without a statement (src/rc_write.c): the
 * statement triggers fire once, and what a statement sets up for each
 * hand-out (the plan, the table's indexes and triggers) is not set up.
 */
CREATE FUNCTION role_cluster.write_hand_out(ids bigint[], node_id text,
											lease_until timestamptz, numbered boolean)
	RETURNS SETOF role_cluster.task
	AS 'MODULE_PATHNAME', 'rc_write_hand_out'
	LANGUAGE C;
COMMENT ON FUNCTION role_cluster.write_hand_out(bigint[], text, timestamptz, boolean) IS
	'hand_out_tasks''s write of a singleton: the locked queued tasks given made running on the node';

/*
 * hand_out_tasks()'s singletons, when any is queued (rarely): for node me
 * (its role's task types, its push shard, as hand_out_tasks() found them),
 * with room for want tasks, the first due task of each singleton type
 * that has none held, if it ranks within the node's next want tasks;
 * handed out and returned.  Gate, recheck, lock, hand out.
 */
CREATE FUNCTION role_cluster.hand_out_singletons(me role_cluster.node, types role_cluster.task_type[],
												 shard integer, want integer, claiming boolean)
	RETURNS SETOF role_cluster.task
	LANGUAGE plpgsql
AS $$
DECLARE
	singles		role_cluster.task_type[];
	taken		integer := 0;
	c			record;
	r			role_cluster.task;
BEGIN
	IF want IS NULL OR want <= 0
		OR NOT EXISTS (SELECT FROM role_cluster.task q
					   WHERE q.state = 'queued' AND q.singleton AND q.task_type = ANY (types)) THEN
		RETURN;
	END IF;

	/*
	 * Singletons: the first due task of each singleton type that has none
	 * held, if it ranks within the node's next tasks.  Gate, recheck, lock,
	 * hand out.
	 */
	singles := ARRAY(SELECT p.task_type FROM role_cluster.task_policy p
					 WHERE p.singleton AND p.task_type = ANY (types)
						AND EXISTS (SELECT FROM role_cluster.task t
									WHERE t.task_type = p.task_type AND t.singleton AND t.state = 'queued')
						AND NOT EXISTS (SELECT FROM role_cluster.task t
										WHERE t.task_type = p.task_type AND t.singleton
											AND t.state = 'running'));
	FOR c IN
		SELECT q.* FROM pg_catalog.unnest(singles) AS ty,
			LATERAL (SELECT t.id, t.task_type, t.priority, t.run_at
					 FROM role_cluster.task t
					 WHERE t.state = 'queued' AND t.singleton AND t.task_type = ty
						AND t.run_at <= pg_catalog.now()
						AND role_cluster.routes_to(t.task_type, t.push_shard, types, shard)
					 ORDER BY t.priority DESC, t.run_at, t.id
					 LIMIT 1) q
		ORDER BY q.priority DESC, q.run_at, q.id
	LOOP
		EXIT WHEN taken >= want;
		/*
		 * The tasks ahead of it: of a higher priority, or of the same and
		 * earlier.  Two scans that the index bounds (one OR condition
		 * could only filter, reading the whole queue when few are ahead).
		 */
		CONTINUE WHEN (SELECT pg_catalog.count(*) FROM (
						(SELECT FROM role_cluster.task t
						 WHERE t.state = 'queued' AND NOT t.singleton AND t.priority > c.priority
							AND t.run_at <= pg_catalog.now()
							AND role_cluster.routes_to(t.task_type, t.push_shard, types, shard)
						 LIMIT want - taken)
						UNION ALL
						(SELECT FROM role_cluster.task t
						 WHERE t.state = 'queued' AND NOT t.singleton AND t.priority = c.priority
							AND (t.run_at, t.id) < (c.run_at, c.id) AND t.run_at <= pg_catalog.now()
							AND role_cluster.routes_to(t.task_type, t.push_shard, types, shard)
						 LIMIT want - taken)
						LIMIT want - taken) AS ahead) >= want - taken;
		CONTINUE WHEN NOT role_cluster.gate_lock('singleton', role_cluster.task_ordinal(c.task_type), false);
		CONTINUE WHEN EXISTS (SELECT FROM role_cluster.task t
							  WHERE t.task_type = c.task_type AND t.singleton
								AND t.state = 'running');
		BEGIN
			SELECT h.* INTO r
				FROM role_cluster.write_hand_out(
						ARRAY(SELECT t.id FROM role_cluster.task t
							  WHERE t.id = c.id AND t.state = 'queued' AND t.singleton
							  FOR UPDATE SKIP LOCKED),
						me.node_id, me.lease_until, NOT claiming) h;
			IF FOUND THEN
				RETURN NEXT r;
				taken := taken + 1;
			END IF;
		EXCEPTION
			WHEN unique_violation THEN
				NULL;		/* one made running past the gate: skip it */
		END;
	END LOOP;
END
$$;
COMMENT ON FUNCTION role_cluster.hand_out_singletons(role_cluster.node, role_cluster.task_type[], integer, integer, boolean) IS
	'hand_out_tasks''s singletons: the first due task of each singleton type with none held, if it ranks within the node''s room';

/*
 * Hands out up to max_tasks due queued tasks to one node, setting them
 * running, and returns them (in no particular order: the caller sorts when
 * it matters).  claim_tasks() (claiming: the node takes them for itself)
 * and dispatch() (not claiming: they are routed, numbered from route_seq
 * for the node to fetch) hand out work only through here.  In C
 * (src/rc_handout.c), without a statement in its common case; the
 * singletons in PL/pgSQL (hand_out_singletons() above).
 *
 * The routing rule, all of it:
 *   - the node is live (node_is_live: registered, within its node timeout
 *     and lease, session there);
 *   - its role enables the task's type, and a push task's push_shard is the
 *     node's (routes_to, which hand_out_tasks() makes in C as it walks
 *     the queue);
 *   - a singleton type never has two tasks running: handing one
 *     out takes the type's advisory gate lock with a try-lock (never
 *     waiting) and rechecks under it with a fresh snapshot; the unique
 *     index task_singleton_idx is the backstop, and its violation only
 *     skips the task;
 *   - the node never holds more than its capacity (its running tasks): its
 *     row is locked (FOR NO KEY UPDATE) before anything is counted, so
 *     two hand-outs to one node take turns (and, the lock held to commit,
 *     commit in the order of the numbers they give).
 * Order: priority (higher first), then run_at, then id; due means run_at
 * <= now().  Tasks that other transactions hold locked are skipped, never
 * waited for.
 *
 * When the node claims for itself, the caller must be allowed to act for
 * it, and a node that is not live or whose role no longer exists is an
 * error; when dispatching, such a node simply gets nothing.
 *
 * held, when given, is how many tasks the node holds as the caller counted
 * them while it already held the node's row lock (dispatch() counts all its
 * nodes at once, and adds what it hands out): nothing else can add to that
 * count while the lock is held, only take from it, so it is a safe upper
 * bound and is not counted again here.
 *
 * after_priority, after_run_at and after_id, when given, are the last task
 * the caller handed out earlier in its transaction to a node of the same
 * class (the same task types and push shard): the non-singleton tasks are
 * looked for from there on, since every due one before it that this node
 * may run was taken then, or was locked elsewhere (such a task is left to
 * the caller's next transaction).
 */
CREATE FUNCTION role_cluster.hand_out_tasks(node_id text, max_tasks integer, claiming boolean,
											held integer DEFAULT NULL,
											after_priority integer DEFAULT NULL,
											after_run_at timestamptz DEFAULT NULL,
											after_id bigint DEFAULT NULL)
	RETURNS SETOF role_cluster.task
	AS 'MODULE_PATHNAME', 'rc_hand_out_tasks'
	LANGUAGE C;
COMMENT ON FUNCTION role_cluster.hand_out_tasks(text, integer, boolean, integer, integer, timestamptz, bigint) IS
	'The routing rule: hands out due queued tasks to one node; the only way claim_tasks and dispatch hand out work';

/*
 * A node takes up to n routable due tasks for itself, straight to running:
 * for deployments without the background worker.  Never waits for another
 * node's claim.  In C (src/rc_queue.c): it checks its arguments, has
 * hand_out_tasks() write its rows straight into its own result and sorts
 * them in hand-out order.  COST 100, as it had in PL/pgSQL: it does as
 * much work, and plans that call it should not change.
 *
 * A transaction that writes nothing but claims commits without waiting for
 * its WAL flush, unless role_cluster.flush_claims is on (src/rc_flush.c):
 * a crash that loses the claim also ends the session that registered the
 * node, which hands back all the node held; the task is queued again, only
 * without the attempt counted.
 */
CREATE FUNCTION role_cluster.claim_tasks(node_id text, n integer DEFAULT 1)
	RETURNS SETOF role_cluster.task
	AS 'MODULE_PATHNAME', 'rc_claim_tasks'
	LANGUAGE C COST 100 SECURITY DEFINER;
COMMENT ON FUNCTION role_cluster.claim_tasks(text, integer) IS
	'A node claims up to n routable due tasks for itself (queued -> running), in priority order';

/*
 * A node takes the tasks dispatch() routed to it, up to n, oldest routing
 * first, returned in priority order.  The tasks are not written: the node's
 * fetch mark moves past them, locked so that two fetches for one node take
 * turns.  A routed task that the node's role or shard no longer allows (the
 * role changed since) goes back to the queue instead, its attempt given
 * back.
 */
CREATE FUNCTION role_cluster.fetch_tasks(node_id text, n integer DEFAULT 100)
	RETURNS SETOF role_cluster.task
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	me			role_cluster.node;
	my_types	role_cluster.task_type[];
	my_shard	integer;
	mark		bigint;
	got			role_cluster.task[];
	bad			bigint[];
BEGIN
	IF fetch_tasks.n IS NULL OR fetch_tasks.n < 0 THEN
		RAISE EXCEPTION 'number of tasks to fetch must be zero or more, not %',
			coalesce(fetch_tasks.n::text, 'NULL')
			USING ERRCODE = CASE WHEN fetch_tasks.n IS NULL THEN 'null_value_not_allowed'
								 ELSE 'invalid_parameter_value' END;
	END IF;
	/* what was routed here since the mark is read after locking it */
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		PERFORM role_cluster.require_read_committed();
	END IF;
	me := role_cluster.node_for_caller(fetch_tasks.node_id, false);
	PERFORM role_cluster.require_live(me);
	IF fetch_tasks.n = 0 THEN
		RETURN;
	END IF;

	SELECT f.fetched INTO mark FROM role_cluster.node_fetch f
		WHERE f.node_id = me.node_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		/*
		 * Nothing was routed here: dispatch() gives a node its mark in
		 * the transaction that first routes to it.  (Making one here
		 * would make that dispatch wait for this transaction.)
		 */
		RETURN;
	END IF;
	/* a lease that ended while this waited for the mark: the node's row again */
	IF me.lease_until <= pg_catalog.clock_timestamp() THEN
		me := role_cluster.node_for_caller(fetch_tasks.node_id, false);
		PERFORM role_cluster.require_live(me);
	END IF;

	/* a fresh snapshot, after the lock: what was routed here since the mark */
	got := ARRAY(SELECT t FROM role_cluster.task t
				 WHERE t.node_id = me.node_id AND t.state = 'running' AND t.route_seq > mark
				 ORDER BY t.route_seq
				 LIMIT fetch_tasks.n);
	IF pg_catalog.cardinality(got) = 0 THEN
		RETURN;
	END IF;
	UPDATE role_cluster.node_fetch AS f SET fetched = got[pg_catalog.cardinality(got)].route_seq
		WHERE f.node_id = me.node_id;

	/* a role deleted under the node enables nothing: what was routed goes back */
	my_types := role_cluster.node_task_types(me.role_name, false);
	my_shard := role_cluster.effective_push_shard(me.push_shard, role_cluster.push_shards_total());
	bad := ARRAY(SELECT g.id FROM pg_catalog.unnest(got) g
				 WHERE NOT role_cluster.routes_to(g.task_type, g.push_shard, my_types, my_shard));
	IF pg_catalog.cardinality(bad) > 0 THEN
		UPDATE role_cluster.task AS t
			SET state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
				updated_at = pg_catalog.now()
			WHERE t.id = ANY (bad)	/* by primary key only, as in complete_tasks() */
				AND CASE WHEN t.state = 'running' THEN t.node_id = me.node_id END;
	END IF;
	RETURN QUERY SELECT g.* FROM pg_catalog.unnest(got) g
		WHERE role_cluster.routes_to(g.task_type, g.push_shard, my_types, my_shard)
		ORDER BY g.priority DESC, g.run_at, g.id;
END
$$;
COMMENT ON FUNCTION role_cluster.fetch_tasks(text, integer) IS
	'A node takes up to n tasks routed to it (moving its fetch mark); ones its role no longer allows go back';

/*
 * The background worker's step: routes up to batch due queued tasks to
 * live nodes through hand_out_tasks(), in rounds: each round offers every
 * node that can still take work an equal share of what is left, the
 * least-loaded node (held / capacity) first.  A node that gets less than
 * it had room for had nothing left that it may run, so neither has any
 * node of its class (the same task types and push shard): those are not
 * asked again in this call.  Notifies each receiving node once on its
 * channel, with the number routed to it as payload, and tells the worker
 * (note_dispatch) how many nodes that was and whether a node ran out of
 * room, so that freed capacity should wake it, and when the next deferred
 * task falls due, so that it wakes then.  A node busy in a claim of
 * its own is skipped this time, never waited for.  Returns how many tasks
 * it routed.
 *
 * Each hand-out to a node of a class starts after the last task handed to
 * that class in this call, so that a call reads each queued entry about
 * once per class, whatever the number of nodes in it (stepping over the
 * tasks routed earlier in the transaction again, it read as many again per
 * node).  The count of the tasks ahead of a waiting singleton still walks
 * from the top, for each node that may run it.
 */
CREATE FUNCTION role_cluster.dispatch(batch integer DEFAULT 1000) RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET enable_bitmapscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	nodes		text[];
	caps		integer[];		/* each node's capacity */
	classes		text[];			/* each node's class: task types / push shard */
	held		integer[];		/* each node's running tasks, routed ones included */
	routed		integer[];
	active		boolean[];
	left_over	integer := batch;
	nactive		integer;
	share		integer;
	asked		integer;
	got			integer;
	i			integer;
	k			integer;
	room		integer;
	total		integer;
	exhausted	text[] := '{}';	/* classes with nothing left to run */
	next_due	timestamptz;	/* when the next deferred task falls due */
	kinds		text[];			/* the distinct classes */
	kind		integer[];		/* each node's class, as a subscript of kinds */
	last_p		integer[];		/* per class, its last task handed out: priority, */
	last_r		timestamptz[];	/* run_at */
	last_i		bigint[];		/* and id */
	c			integer;
	last		bigint[];		/* route_seq and id of a hand-out's last non-singleton task */
	lp			integer;
	lr			timestamptz;
	ran_out		boolean := false;	/* a node ran out of room */
	notified	integer := 0;
BEGIN
	IF batch IS NULL OR batch < 0 THEN
		RAISE EXCEPTION 'dispatch batch must be zero or more, not %', coalesce(batch::text, 'NULL')
			USING ERRCODE = CASE WHEN batch IS NULL THEN 'null_value_not_allowed'
								 ELSE 'invalid_parameter_value' END;
	END IF;
	PERFORM role_cluster.require_read_committed();

	/*
	 * Nothing queued at all: the usual case when a node's fetch or
	 * acknowledgement woke the worker.  Two probes, one per partial index.
	 */
	IF NOT EXISTS (SELECT FROM role_cluster.task q WHERE q.state = 'queued' AND NOT q.singleton)
		AND NOT EXISTS (SELECT FROM role_cluster.task q WHERE q.state = 'queued' AND q.singleton) THEN
		PERFORM role_cluster.note_dispatch(false, 0);
		RETURN 0;
	END IF;

	/*
	 * When the next deferred task falls due, for the worker to sleep no
	 * longer than that: the earliest run_at after now() of the priorities
	 * present, each probed from now() on, and the same per singleton type.
	 * Taken before anything is routed, whose entries would be in the way
	 * until commit; the priorities are walked from the lowest, each found
	 * from the end of its entries, away from the tasks routed before.
	 */
	next_due := least(
		(WITH RECURSIVE prio(p) AS (
			(SELECT q.priority FROM role_cluster.task q
			 WHERE q.state = 'queued' AND NOT q.singleton
			 ORDER BY q.priority LIMIT 1)
			UNION ALL
			SELECT (SELECT q.priority FROM role_cluster.task q
					WHERE q.state = 'queued' AND NOT q.singleton AND q.priority > prio.p
					ORDER BY q.priority LIMIT 1)
			FROM prio WHERE prio.p IS NOT NULL)
		 SELECT pg_catalog.min(f.run_at) FROM prio, LATERAL (
			SELECT q.run_at FROM role_cluster.task q
			WHERE q.state = 'queued' AND NOT q.singleton
				AND q.priority = prio.p AND q.run_at > pg_catalog.now()
			ORDER BY q.run_at LIMIT 1) f
		 WHERE prio.p IS NOT NULL),
		(SELECT pg_catalog.min(x.run_at) FROM role_cluster.task_policy sp, LATERAL (
			WITH RECURSIVE prio(p) AS (
				(SELECT q.priority FROM role_cluster.task q
				 WHERE q.state = 'queued' AND q.singleton AND q.task_type = sp.task_type
				 ORDER BY q.priority LIMIT 1)
				UNION ALL
				SELECT (SELECT q.priority FROM role_cluster.task q
						WHERE q.state = 'queued' AND q.singleton AND q.task_type = sp.task_type
							AND q.priority > prio.p
						ORDER BY q.priority LIMIT 1)
				FROM prio WHERE prio.p IS NOT NULL)
			SELECT f.run_at FROM prio, LATERAL (
				SELECT q.run_at FROM role_cluster.task q
				WHERE q.state = 'queued' AND q.singleton AND q.task_type = sp.task_type
					AND q.priority = prio.p AND q.run_at > pg_catalog.now()
				ORDER BY q.run_at LIMIT 1) f
			WHERE prio.p IS NOT NULL) x
		 WHERE sp.singleton));

	/*
	 * The live nodes with room to be given (a capacity of 0 routes a node
	 * nothing: it drains), locked, and what each holds, counted once under
	 * those locks: while dispatch holds them no other hand-out can add to
	 * a node's tasks (completions can only take from them), so the counts
	 * plus what this call hands out are a safe upper bound throughout.
	 */
	total := role_cluster.push_shards_total();
	SELECT pg_catalog.array_agg(l.node_id ORDER BY l.node_id),
		   pg_catalog.array_agg(l.capacity ORDER BY l.node_id),
		   pg_catalog.array_agg(role_cluster.node_task_types(l.role_name, false)::text || '/' ||
								coalesce(role_cluster.effective_push_shard(l.push_shard, total)::text, '-')
								ORDER BY l.node_id)
		INTO nodes, caps, classes
		FROM (SELECT n.node_id, n.capacity, n.role_name, n.push_shard FROM role_cluster.node n
			  WHERE role_cluster.node_takes_work(n)
			  ORDER BY n.node_id
			  FOR NO KEY UPDATE SKIP LOCKED) AS l;
	IF nodes IS NULL OR batch = 0 THEN
		/*
		 * live nodes all busy in claims of their own: work may wait for
		 * them (not for a node at capacity 0, whose commits free nothing)
		 */
		PERFORM role_cluster.note_dispatch(
			EXISTS (SELECT FROM role_cluster.node n WHERE role_cluster.node_takes_work(n)), 0, next_due);
		RETURN 0;
	END IF;
	/*
	 * Every node it routes to has a fetch mark, committed with the
	 * routing (register_node() makes one; a node row written by hand may
	 * lack it).  Only missing ones: the insert never meets a mark being
	 * fetched.
	 */
	INSERT INTO role_cluster.node_fetch AS f (node_id)
		SELECT x.node_id FROM pg_catalog.unnest(nodes) AS x(node_id)
		WHERE NOT EXISTS (SELECT FROM role_cluster.node_fetch m WHERE m.node_id = x.node_id)
		ON CONFLICT (node_id) DO NOTHING;
	/* one probe of task_held_idx per node (an "= ANY (nodes)" filter cost nodes x tasks) */
	held := ARRAY(SELECT h.n::integer
				  FROM pg_catalog.unnest(nodes) WITH ORDINALITY AS x(node_id, k)
					  CROSS JOIN LATERAL (SELECT pg_catalog.count(*) AS n FROM role_cluster.task t
										  WHERE t.node_id = x.node_id AND t.state = 'running') h
				  ORDER BY x.k);
	routed := pg_catalog.array_fill(0, ARRAY[pg_catalog.cardinality(nodes)]);
	active := pg_catalog.array_fill(true, ARRAY[pg_catalog.cardinality(nodes)]);
	kinds := ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(classes) AS x);
	kind := ARRAY(SELECT pg_catalog.array_position(kinds, x)
				  FROM pg_catalog.unnest(classes) WITH ORDINALITY AS u(x, k) ORDER BY u.k);
	last_p := pg_catalog.array_fill(NULL::integer, ARRAY[pg_catalog.cardinality(kinds)]);
	last_r := pg_catalog.array_fill(NULL::timestamptz, ARRAY[pg_catalog.cardinality(kinds)]);
	last_i := pg_catalog.array_fill(NULL::bigint, ARRAY[pg_catalog.cardinality(kinds)]);

	WHILE left_over > 0 AND true = ANY (active) LOOP
		nactive := (SELECT pg_catalog.count(*) FROM pg_catalog.unnest(active) AS a WHERE a);
		/* rounded up, without overflow near the largest batch */
		share := left_over / nactive + (left_over % nactive > 0)::integer;
		FOR k IN
			SELECT x.k FROM pg_catalog.generate_subscripts(nodes, 1) AS x(k)
			WHERE active[x.k]
			ORDER BY held[x.k]::float8 / caps[x.k], nodes[x.k]
		LOOP
			EXIT WHEN left_over <= 0;
			/* classes matter only when other nodes are left to ask */
			IF nactive > 1 AND classes[k] = ANY (exhausted) THEN
				active[k] := false;
				CONTINUE;
			END IF;
			asked := least(share, left_over);
			room := caps[k] - held[k];
			IF room <= 0 THEN
				/*
				 * Full: hand_out_tasks() would find no room (held is an upper
				 * bound), after locking, checking and counting again for
				 * nothing, at every dispatch for every full node.
				 */
				active[k] := false;
				ran_out := true;
				CONTINUE;
			END IF;
			c := kind[k];
			/*
			 * How many, and the last non-singleton one handed out (if
			 * any): the highest route_seq and its id, by an aggregate
			 * rather than a sort of the rows.
			 */
			SELECT pg_catalog.count(*), pg_catalog.max(ARRAY[h.route_seq, h.id]) FILTER (WHERE NOT h.singleton)
				INTO got, last
				FROM role_cluster.hand_out_tasks(nodes[k], asked, false, held[k],
												 last_p[c], last_r[c], last_i[c]) h;
			IF last IS NOT NULL THEN
				/* the next hand-out to this class starts at the last task of this one */
				last_i[c] := last[2];
				SELECT q.priority, q.run_at INTO lp, lr
					FROM role_cluster.task q WHERE q.id = last[2];
				last_p[c] := lp;
				last_r[c] := lr;
			END IF;
			held[k] := held[k] + got;
			routed[k] := routed[k] + got;
			left_over := left_over - got;
			IF got < asked THEN
				active[k] := false;		/* no room, or nothing left it may run */
				IF got >= room THEN
					ran_out := true;
				ELSIF nactive > 1 THEN
					/* nothing left it may run: none for the nodes of its class either */
					exhausted := exhausted || classes[k];
				END IF;
			END IF;
		END LOOP;
	END LOOP;
	FOR i IN 1 .. pg_catalog.cardinality(nodes) LOOP
		IF routed[i] > 0 THEN
			PERFORM pg_catalog.pg_notify(role_cluster.node_channel(nodes[i]), routed[i]::text);
			notified := notified + 1;
		END IF;
	END LOOP;
	/*
	 * Freed capacity matters to the worker only if a node ran out of room,
	 * if a live node was skipped (busy in a claim of its own: its commit
	 * frees no capacity, but it may take what waits), or if a due singleton
	 * task waits (for the one of its type that is held to finish; one not
	 * yet due wakes the worker when it falls due).
	 */
	PERFORM role_cluster.note_dispatch(
		ran_out OR left_over = 0
		OR EXISTS (SELECT FROM role_cluster.task q
				   WHERE q.state = 'queued' AND q.singleton AND q.run_at <= pg_catalog.now())
		OR (SELECT pg_catalog.count(*) FROM role_cluster.node n WHERE role_cluster.node_takes_work(n))
			> pg_catalog.cardinality(nodes),
		notified, next_due);
	RETURN batch - left_over;
END
$$;
COMMENT ON FUNCTION role_cluster.dispatch(integer) IS
	'Routes up to batch due queued tasks to live nodes, least-loaded first, and notifies each on its channel; returns how many';

/* ---- Finishing tasks ---- */

/*
 * Why a node cannot finish a task: the task does not exist (42704) or the
 * node does not hold it running (55000), or holds it for another attempt
 * than the one given (55000).  Always raises.
 */
CREATE FUNCTION role_cluster.not_held(task_id bigint, node_id text, action text,
									  attempt integer DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql STABLE
AS $$
DECLARE
	t			role_cluster.task;
BEGIN
	SELECT * INTO t FROM role_cluster.task x WHERE x.id = task_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'task % does not exist', task_id
			USING ERRCODE = 'undefined_object';
	END IF;
	IF t.state = 'running' AND t.node_id = node_id AND t.attempts <> attempt THEN
		RAISE EXCEPTION 'node "%" cannot % task %: it holds attempt % of it, not attempt %',
			node_id, action, task_id, t.attempts, attempt
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = CASE WHEN attempt < t.attempts
					THEN 'The report is of an earlier run: the task was taken back from the node (its registration, session or lease ended) and handed to it again.'
					ELSE pg_catalog.format('Attempt %s of the task was never handed out.', attempt) END,
				  HINT = CASE WHEN attempt < t.attempts
					THEN 'Stop the handlers of the earlier run and drop their reports; report each task with the attempts value it was handed out with.'
					ELSE 'Report each task with the attempts value it was handed out with.' END;
	END IF;
	IF t.state = 'running' AND t.node_id = node_id
		AND NOT role_cluster.task_fetched(t.route_seq, t.node_id) THEN
		RAISE EXCEPTION 'node "%" cannot % task %: it does not hold it running', node_id, action, task_id
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The task is routed to the node but not fetched yet.',
				  HINT = 'Take it with role_cluster.fetch_tasks() first.';
	END IF;
	IF t.state = 'running' AND t.node_id = node_id THEN
		/* the node holds it, yet the write changed nothing */
		RAISE EXCEPTION 'node "%" cannot % task %: a trigger skipped the change', node_id, action, task_id
			USING ERRCODE = 'triggered_action_exception',
				  DETAIL = 'The node holds the task running, but a BEFORE UPDATE trigger on role_cluster.task returned NULL for its row.',
				  HINT = 'See the triggers added to role_cluster.task.';
	END IF;
	RAISE EXCEPTION 'node "%" cannot % task %: it does not hold it running', node_id, action, task_id
		USING ERRCODE = 'object_not_in_prerequisite_state',
			  DETAIL = CASE
				WHEN t.state = 'running'
					THEN pg_catalog.format('The task is %s on another node.',
										   CASE WHEN role_cluster.task_fetched(t.route_seq, t.node_id)
												THEN 'running' ELSE 'routed' END)
				WHEN t.state IN ('done', 'dead')
					THEN pg_catalog.format('The task is %s.', t.state)
				WHEN t.attempts = 0 AND t.last_error IS NULL
					THEN 'The task is queued and was never started: not handed out yet, or handed back unstarted.'
				/*
				 * The last error only for an admin: a node's login may not
				 * read the tasks, and the error may be another node's
				 * handler's, which may say anything.
				 */
				ELSE pg_catalog.format('The task is queued for another attempt (%s of %s used)%s.',
									   t.attempts, t.max_attempts,
									   CASE WHEN t.last_error IS NOT NULL
												AND pg_catalog.pg_has_role(SESSION_USER, 'role_cluster_admin', 'MEMBER')
											THEN pg_catalog.format('; the last one ended with: %s',
																   pg_catalog.left(t.last_error, 200))
											ELSE '' END) END;
END
$$;
COMMENT ON FUNCTION role_cluster.not_held(bigint, text, text, integer) IS
	'Raises the error for a task that a node does not hold running';

/*
 * The node that holds a task running reports it done.  The common case
 * checks the caller's right to act for the node and the task, and writes
 * the row, in C without a statement (src/rc_write.c); the errors are
 * worked out only when it changes nothing.
 *
 * attempt, here and in fail_task(), release_task() and complete_tasks(),
 * is the task's attempts as the node was handed it (fetch_tasks() and
 * claim_tasks() return it): given, a report of another run of the task
 * is refused.  A node id registered again while handlers of the earlier
 * registration still run may be handed the same task again, and only the
 * attempt tells the two runs apart.
 */
CREATE FUNCTION role_cluster.complete_task(task_id bigint, node_id text,
										   attempt integer DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'rc_complete_task'
	LANGUAGE C SECURITY DEFINER;
COMMENT ON FUNCTION role_cluster.complete_task(bigint, text, integer) IS
	'The node holding a task running reports it done (for the attempt given, if one is)';

/* Raises unless ids is a one-dimensional array of task ids without NULLs. */
CREATE FUNCTION role_cluster.check_task_ids(ids bigint[]) RETURNS void
	LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
	IF pg_catalog.array_ndims(ids) > 1 THEN
		RAISE EXCEPTION 'task ids must be a one-dimensional array, not one of % dimensions',
			pg_catalog.array_ndims(ids)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF ids IS NULL OR pg_catalog.array_position(ids, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'task ids must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass an array of task ids without NULL elements.';
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.check_task_ids(bigint[]) IS
	'Raises unless the array is one-dimensional task ids without NULL elements';

/*
 * Acknowledges many tasks in one statement.  Returns the ids it completed;
 * an id the node does not hold running (reclaimed meanwhile, say) is left
 * as it is and not returned.  The tasks are reached by primary key only:
 * the node and state are tested inside a CASE, which the planner cannot
 * match to task_held_idx.  Written plainly, they let it scan all that the
 * node holds and test each row against the whole array, so a batch cost
 * the product of the two (3.0 ms instead of 1.4 ms for 125 tasks of a node
 * holding 1,000).
 */
CREATE FUNCTION role_cluster.complete_tasks(task_ids bigint[], node_id text,
											attempts integer[] DEFAULT NULL) RETURNS SETOF bigint
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	ids			bigint[] := complete_tasks.task_ids;
	atts		integer[];
BEGIN
	PERFORM role_cluster.check_task_ids(complete_tasks.task_ids);
	IF complete_tasks.attempts IS NOT NULL THEN
		IF pg_catalog.array_ndims(complete_tasks.attempts) > 1
			OR pg_catalog.cardinality(complete_tasks.attempts) <> pg_catalog.cardinality(ids)
			OR pg_catalog.array_position(complete_tasks.attempts, NULL) IS NOT NULL THEN
			RAISE EXCEPTION 'attempts must give one attempt for each of the % task ids, not %',
				pg_catalog.cardinality(ids), complete_tasks.attempts
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass the attempts of the tasks in the order of their ids, without NULL elements, or NULL to check none.';
		END IF;
		/*
		 * The pairs of the runs the tasks are on (a task named twice, for
		 * two runs' results in one batch, keeps the one that can count),
		 * sorted by id, so that each row finds its attempt by a binary
		 * search (width_bucket() over the sorted ids gives the position of
		 * its own), as dispatch() numbers its rows.  The UPDATE checks the
		 * attempt again, under the row's lock.
		 */
		SELECT coalesce(pg_catalog.array_agg(x.id ORDER BY x.id), '{}'),
			   pg_catalog.array_agg(x.att ORDER BY x.id)
			INTO ids, atts
			FROM (SELECT DISTINCT u.id, u.att
				  FROM ROWS FROM (pg_catalog.unnest(complete_tasks.task_ids),
								  pg_catalog.unnest(complete_tasks.attempts)) AS u(id, att)
				  WHERE EXISTS (SELECT FROM role_cluster.task t
								WHERE t.id = u.id AND t.attempts = u.att)) x;
	END IF;
	RETURN QUERY
	UPDATE role_cluster.task AS t
		SET state = 'done', lease_until = NULL, finished_at = pg_catalog.now(), updated_at = pg_catalog.now()
		WHERE t.id = ANY (ids)
			AND CASE WHEN t.state = 'running' THEN t.node_id = complete_tasks.node_id END
			AND (atts IS NULL OR t.attempts = atts[pg_catalog.width_bucket(t.id, ids)])
			AND (t.route_seq IS NULL
				 OR t.route_seq <= (SELECT f.fetched FROM role_cluster.node_fetch f
									WHERE f.node_id = complete_tasks.node_id))
			AND EXISTS (SELECT FROM role_cluster.node n
						WHERE n.node_id = complete_tasks.node_id
							AND (n.login = SESSION_USER
								 OR pg_catalog.pg_has_role(SESSION_USER, 'role_cluster_admin', 'MEMBER')))
		RETURNING t.id;
	IF NOT FOUND THEN
		PERFORM role_cluster.node_for_caller(complete_tasks.node_id, false);	/* raises if not allowed */
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.complete_tasks(bigint[], text, integer[]) IS
	'The node reports many tasks done at once (each for its attempt, if attempts are given); returns the ids it held running and completed';

/*
 * The node that holds a task running reports it failed.  The task is
 * retried after an exponential backoff with jitter (retry_backoff_base *
 * 2^(attempts - 1), capped at retry_backoff_max, times a random factor in
 * [0.5, 1)), or becomes dead when it has used max_attempts.  Returns the new
 * state, queued or dead.
 */
CREATE FUNCTION role_cluster.fail_task(task_id bigint, node_id text, error text,
									   attempt integer DEFAULT NULL) RETURNS text
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	me			role_cluster.node;
	s			role_cluster.cluster_settings;
	new_state	role_cluster.task_state;
BEGIN
	IF fail_task.task_id IS NULL THEN
		RAISE EXCEPTION 'task id must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF fail_task.error IS NULL THEN
		RAISE EXCEPTION 'error of a failed task must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Say why the task failed; it is kept in last_error.';
	END IF;
	IF fail_task.error = '' THEN
		RAISE EXCEPTION 'error of a failed task must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Say why the task failed; it is kept in last_error.';
	END IF;
	me := role_cluster.node_for_caller(fail_task.node_id, false);
	SELECT * INTO s FROM role_cluster.cluster_settings;
	UPDATE role_cluster.task AS t
		SET state = CASE WHEN t.attempts >= t.max_attempts THEN 'dead' ELSE 'queued' END::role_cluster.task_state,
			node_id = CASE WHEN t.attempts >= t.max_attempts THEN t.node_id END,
			lease_until = NULL,
			last_error = fail_task.error,
			/*
			 * The doubled base is compared in seconds first: past the cap,
			 * multiplying the interval itself could overflow it (from the
			 * 39th attempt with a base of a minute), and nothing would change.
			 */
			run_at = CASE WHEN t.attempts >= t.max_attempts THEN t.run_at
						  ELSE pg_catalog.now()
							   + CASE WHEN pg_catalog.date_part('epoch', s.retry_backoff_base)
										   * pg_catalog.power(2::float8, least(t.attempts - 1, 40))
										   >= pg_catalog.date_part('epoch', s.retry_backoff_max)
									  THEN s.retry_backoff_max
									  ELSE s.retry_backoff_base
										   * pg_catalog.power(2::float8, least(t.attempts - 1, 40)) END
							   * (0.5 + pg_catalog.random() / 2) END,
			finished_at = CASE WHEN t.attempts >= t.max_attempts THEN pg_catalog.now() END,
			updated_at = pg_catalog.now()
		WHERE t.id = fail_task.task_id AND t.node_id = me.node_id AND t.state = 'running'
			AND role_cluster.task_fetched(t.route_seq, t.node_id)
			AND (fail_task.attempt IS NULL OR t.attempts = fail_task.attempt)
		RETURNING t.state INTO new_state;
	IF NOT FOUND THEN
		PERFORM role_cluster.not_held(fail_task.task_id, me.node_id, 'fail', fail_task.attempt);
	END IF;
	RETURN new_state::text;
END
$$;
COMMENT ON FUNCTION role_cluster.fail_task(bigint, text, text, integer) IS
	'The node reports a task failed (for the attempt given, if one is): retried after backoff with jitter, or dead after max_attempts; returns the new state';

/*
 * The node hands a task it holds (routed, fetched or claimed) back unrun:
 * queued again at once, without counting an attempt.
 */
CREATE FUNCTION role_cluster.release_task(task_id bigint, node_id text,
										  attempt integer DEFAULT NULL) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
	me			role_cluster.node;
BEGIN
	IF release_task.task_id IS NULL THEN
		RAISE EXCEPTION 'task id must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	me := role_cluster.node_for_caller(release_task.node_id, false);
	PERFORM role_cluster.lock_fetch_marks(ARRAY[me.node_id]);	/* not while it fetches */
	UPDATE role_cluster.task AS t
		SET state = 'queued', node_id = NULL, lease_until = NULL, attempts = t.attempts - 1,
			updated_at = pg_catalog.now()
		WHERE t.id = release_task.task_id AND t.node_id = me.node_id AND t.state = 'running'
			AND (release_task.attempt IS NULL OR t.attempts = release_task.attempt);
	IF NOT FOUND THEN
		PERFORM role_cluster.not_held(release_task.task_id, me.node_id, 'release', release_task.attempt);
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.release_task(bigint, text, integer) IS
	'The node hands back a task it holds (for the attempt given, if one is), unrun: queued again without counting an attempt';

/*
 * An operator's retry of dead tasks: each of the given ids that is dead
 * goes back to the queue, due now, with no node, and as many attempts
 * again as it was allowed (max_attempts raised by its old value).  Its
 * attempts stay as they were, so that the attempt a report names still
 * tells this run from the dead ones (see complete_task()), and its last
 * error stays until a failure of the new run replaces it.  Its singleton
 * flag and push shard are derived again, as for a new task and behind the
 * same gates (task_singleton(), task_push_shard()): the policy or the
 * number of push shards may have changed since it died, and a change
 * carries itself to unfinished tasks only.  Others (not dead, or no such
 * task) are left as they are.  Returns the ids it queued.  A dedupe key
 * comes back with its task, so one that an unfinished task carries by
 * now, or that two of the given tasks share, is refused, naming them
 * (also when the unique index finds a clash with an enqueue that
 * committed meanwhile).
 */
CREATE FUNCTION role_cluster.requeue_dead(task_ids bigint[]) RETURNS SETOF bigint
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
AS $$
#variable_conflict use_column
DECLARE
	clash		record;
	queued		bigint[];
BEGIN
	PERFORM role_cluster.check_task_ids(requeue_dead.task_ids);
	/* the second look for a clash must see the enqueue that caused it */
	PERFORM role_cluster.require_read_committed();
	SELECT d.id, d.attempts, d.max_attempts INTO clash
		FROM role_cluster.task d
		WHERE d.id = ANY (requeue_dead.task_ids) AND d.state = 'dead'
			AND d.attempts::bigint + d.max_attempts > 2147483647
		ORDER BY d.id
		LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'dead task % cannot be given % attempts more: it has used %',
			clash.id, clash.max_attempts, clash.attempts
			USING ERRCODE = 'numeric_value_out_of_range',
				  HINT = 'Lower its max_attempts first, or leave it out.';
	END IF;
	FOR try IN 1 .. 2 LOOP
		/* an unfinished task with the key (by task_dedupe_idx), or another given */
		SELECT d.id, d.dedupe_key, u.id AS holder INTO clash
			FROM role_cluster.task d
				JOIN role_cluster.task u ON u.dedupe_key = d.dedupe_key AND u.state IN ('queued', 'running')
			WHERE d.id = ANY (requeue_dead.task_ids) AND d.state = 'dead'
			ORDER BY d.id
			LIMIT 1;
		IF NOT FOUND THEN
			SELECT pg_catalog.max(d.id) AS id, d.dedupe_key, pg_catalog.min(d.id) AS holder INTO clash
				FROM role_cluster.task d
				WHERE d.id = ANY (requeue_dead.task_ids) AND d.state = 'dead' AND d.dedupe_key IS NOT NULL
				GROUP BY d.dedupe_key
				HAVING pg_catalog.count(*) > 1
				ORDER BY 1
				LIMIT 1;
		END IF;
		IF FOUND THEN
			RAISE EXCEPTION 'dead task % cannot be queued again: task % carries its dedupe key "%" too',
				clash.id, clash.holder, clash.dedupe_key
				USING ERRCODE = 'unique_violation',
					  DETAIL = 'A dedupe key belongs to one unfinished task at a time.',
					  HINT = 'Leave one of them out, or queue it again once the other has finished.';
		END IF;
		BEGIN
			WITH u AS (
				UPDATE role_cluster.task AS t
					SET state = 'queued', node_id = NULL, route_seq = NULL, lease_until = NULL,
						max_attempts = t.attempts + t.max_attempts,
						singleton = role_cluster.task_singleton(t.task_type),
						push_shard = role_cluster.task_push_shard(t.task_type, t.shard_key),
						finished_at = NULL, run_at = pg_catalog.now(), updated_at = pg_catalog.now()
					WHERE t.id = ANY (requeue_dead.task_ids) AND t.state = 'dead'
					RETURNING t.id)
			SELECT pg_catalog.array_agg(u.id) INTO queued FROM u;
			RETURN QUERY SELECT pg_catalog.unnest(queued);
			RETURN;
		EXCEPTION
			WHEN unique_violation THEN
				/* an enqueue of a key committed since the look above: look again, to name it */
				IF try = 2 THEN
					RAISE;
				END IF;
		END;
	END LOOP;
END
$$;
COMMENT ON FUNCTION role_cluster.requeue_dead(bigint[]) IS
	'An operator queues dead tasks again, due now with as many attempts again (the last error kept); returns the ids it queued';

/*
 * Takes back the tasks of nodes that are gone: deregistered, deleted, lease
 * lapsed, or their registering session ended (such a node's lease is ended
 * too, so it must heartbeat or register again).  Routed tasks not yet
 * fetched give their attempt back; started ones keep the attempt they used,
 * and become dead if it was their last.  A node only past its node timeout
 * keeps what it started, but gives back what was routed to it and not
 * fetched: it may not fetch until it heartbeats, and another node may
 * start that work meanwhile, at no cost of an attempt.  Nodes (for the
 * first two) and tasks that other transactions hold locked, and nodes
 * whose fetch mark another transaction holds (a fetch or a heartbeat in
 * flight), are left for the next call: it never waits.  A task whose own
 * lease lapsed comes back even while its node's row is held.  Returns how
 * many tasks it took back.
 */
CREATE FUNCTION role_cluster.reclaim() RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	gone		text[];
	gone_why	text[];			/* why each of gone is lost */
	cause		text;
	idle		text[];
	handed		integer := 0;
	lost_nodes	text[];
	counted		bigint[];
	given_back	bigint[];
BEGIN
	PERFORM role_cluster.require_read_committed();
	/*
	 * nodes that no longer hold their tasks (deregistered, lease lapsed,
	 * session gone) but still have some, locked: the recheck sees a racing
	 * heartbeat.  (A node past its timeout only keeps them.)
	 */
	SELECT pg_catalog.array_agg(d.node_id ORDER BY d.node_id),
		   pg_catalog.array_agg(d.why ORDER BY d.node_id)
		INTO gone, gone_why
		FROM (SELECT n.node_id,
					 /* the first cause found: an ended session ends the lease too */
					 CASE WHEN n.deregistered_at IS NOT NULL THEN 'deregistered'
						  WHEN NOT role_cluster.node_session_alive(n.backend_pid, n.backend_start)
						  THEN 'session ended'
						  ELSE 'lease lapsed' END AS why
			  FROM role_cluster.node n
			  WHERE role_cluster.node_is_lost(n)
				AND EXISTS (SELECT FROM role_cluster.task t
							WHERE t.node_id = n.node_id AND t.state = 'running')
			  ORDER BY n.node_id
			  FOR NO KEY UPDATE SKIP LOCKED) AS d;
	IF gone IS NOT NULL THEN
		UPDATE role_cluster.node AS n
			SET live_until = least(n.live_until, pg_catalog.now()), lease_until = pg_catalog.now()
			WHERE n.node_id = ANY (gone) AND n.lease_until > pg_catalog.now();
		/* their tasks' last error says why, a hand-back for each cause */
		FOREACH cause IN ARRAY ARRAY['deregistered', 'session ended', 'lease lapsed'] LOOP
			CONTINUE WHEN NOT cause = ANY (gone_why);
			handed := handed + role_cluster.hand_back(
				ARRAY(SELECT g.node_id
					  FROM ROWS FROM (pg_catalog.unnest(gone), pg_catalog.unnest(gone_why)) AS g(node_id, why)
					  WHERE g.why = cause ORDER BY g.node_id),
				true, pg_catalog.format('was lost (%s)', cause), true);
		END LOOP;
	END IF;

	/*
	 * nodes only past their node timeout, with routed tasks not fetched,
	 * locked: the recheck sees a racing heartbeat, and a fetch in flight
	 * keeps its node out
	 */
	SELECT pg_catalog.array_agg(d.node_id) INTO idle
		FROM (SELECT n.node_id FROM role_cluster.node n
			  WHERE n.live_until <= pg_catalog.now()
				AND EXISTS (SELECT FROM role_cluster.task t
							WHERE t.node_id = n.node_id AND t.state = 'running'
								AND NOT role_cluster.task_fetched(t.route_seq, t.node_id))
				AND NOT role_cluster.node_is_lost(n)
			  ORDER BY n.node_id
			  FOR NO KEY UPDATE SKIP LOCKED) AS d;
	IF idle IS NOT NULL THEN
		handed := handed + role_cluster.hand_back(idle, false, NULL, true, true);
	END IF;

	/* held tasks whose node row is gone, or whose own lease lapsed */
	SELECT pg_catalog.array_agg(DISTINCT t.node_id) INTO lost_nodes
		FROM role_cluster.task t
		WHERE t.state = 'running'
			AND (t.lease_until <= pg_catalog.now()
				 OR NOT EXISTS (SELECT FROM role_cluster.node n WHERE n.node_id = t.node_id));
	IF lost_nodes IS NULL THEN
		RETURN handed;
	END IF;
	/*
	 * The node's fetch mark and the tasks are locked, skipping those held
	 * elsewhere, but not the node's row: a transaction that holds it (a
	 * hand-out left open, a prepared one) would otherwise keep them from
	 * ever coming back.  A heartbeat under way holds the node's mark and
	 * tasks before it looks at the lease (lock_held_tasks()), so none is
	 * taken between that look and its extending their leases; one that
	 * waited for the row meanwhile judges the lease by the clock, and sees
	 * it lapsed.
	 */
	lost_nodes := role_cluster.lock_fetch_marks(lost_nodes, true);
	SELECT pg_catalog.array_agg(o.id) FILTER (WHERE o.started),
		   pg_catalog.array_agg(o.id) FILTER (WHERE NOT o.started)
		INTO counted, given_back
		FROM (SELECT t.id, role_cluster.task_fetched(t.route_seq, t.node_id) AS started
			  FROM role_cluster.task t
			  WHERE t.state = 'running' AND t.node_id = ANY (lost_nodes)
				AND (t.lease_until <= pg_catalog.now()
					 OR NOT EXISTS (SELECT FROM role_cluster.node n WHERE n.node_id = t.node_id))
			  FOR UPDATE OF t SKIP LOCKED) o;
	RETURN handed + role_cluster.requeue_held(counted, given_back,
											  'was lost (lease lapsed or node deleted)');
END
$$;
COMMENT ON FUNCTION role_cluster.reclaim() IS
	'Puts back the tasks of nodes that are gone (lease lapsed, session ended, deregistered), and those routed and not fetched of nodes past their node timeout; returns how many';

/* ---- The nodes view ---- */

CREATE VIEW role_cluster.nodes AS
	SELECT n.node_id,
		   n.role_name AS role,
		   n.push_shard,
		   n.capacity,
		   role_cluster.node_is_live(n) AS live,
		   coalesce(h.routed + h.running, 0) AS held,
		   coalesce(h.routed, 0) AS routed,
		   coalesce(h.running, 0) AS running,
		   n.last_heartbeat,
		   n.live_until,
		   n.lease_until,
		   role_cluster.node_session_alive(n.backend_pid, n.backend_start) AS session_alive,
		   n.login,
		   n.backend_pid,
		   n.registered_at,
		   n.deregistered_at,
		   n.registered_listeners
	FROM role_cluster.node n
		/*
		 * Counted in one pass over the running tasks, not once per node: a
		 * per-node subquery made the plan's estimate grow with the node
		 * count, and past a few hundred nodes every read of the view paid
		 * for JIT compilation.  A lookup of one node still reads only its
		 * own tasks (the planner carries node_id into the grouping).
		 */
		LEFT JOIN (
			SELECT t.node_id,
				   pg_catalog.count(*) FILTER (WHERE t.route_seq > coalesce(f.fetched, 0))::integer AS routed,
				   pg_catalog.count(*) FILTER (WHERE t.route_seq IS NULL
											   OR t.route_seq <= coalesce(f.fetched, 0))::integer AS running
			FROM role_cluster.task t
				LEFT JOIN role_cluster.node_fetch f ON f.node_id = t.node_id
			WHERE t.state = 'running'
			GROUP BY t.node_id) h ON h.node_id = n.node_id;
COMMENT ON VIEW role_cluster.nodes IS
	'Registered nodes with their role, shard, liveness and the tasks they hold';
COMMENT ON COLUMN role_cluster.nodes.node_id IS 'Node id (STALWART_NODE_ID or the host name)';
COMMENT ON COLUMN role_cluster.nodes.role IS 'Role the node registered with (STALWART_ROLE); NULL enables everything';
COMMENT ON COLUMN role_cluster.nodes.push_shard IS 'Push shard (STALWART_PUSH_SHARD), NULL when the node has none';
COMMENT ON COLUMN role_cluster.nodes.capacity IS 'Most tasks the node may hold at once';
COMMENT ON COLUMN role_cluster.nodes.live IS
	'Given work (if its capacity is above 0): registered, heartbeated within its node timeout and lease, and its session still connected';
COMMENT ON COLUMN role_cluster.nodes.held IS 'Tasks the node holds now (routed + running)';
COMMENT ON COLUMN role_cluster.nodes.routed IS 'Tasks routed to the node that it has not fetched yet';
COMMENT ON COLUMN role_cluster.nodes.running IS 'Tasks the node has fetched or claimed and not yet reported';
COMMENT ON COLUMN role_cluster.nodes.last_heartbeat IS 'Last registration or heartbeat';
COMMENT ON COLUMN role_cluster.nodes.live_until IS
	'When the node stops being live (given work; what was routed to it unfetched goes back) without another heartbeat: its node timeout';
COMMENT ON COLUMN role_cluster.nodes.lease_until IS
	'When the tasks the node started go back to the queue without another heartbeat: its lease';
COMMENT ON COLUMN role_cluster.nodes.session_alive IS 'Whether the database session that registered the node is still connected (on a hot standby, which cannot see it: always true)';
COMMENT ON COLUMN role_cluster.nodes.login IS 'Database login the node is bound to';
COMMENT ON COLUMN role_cluster.nodes.backend_pid IS 'Process id of the session that registered the node';
COMMENT ON COLUMN role_cluster.nodes.registered_at IS 'When the node last registered';
COMMENT ON COLUMN role_cluster.nodes.deregistered_at IS 'When the node deregistered; NULL while registered';
COMMENT ON COLUMN role_cluster.nodes.registered_listeners IS
	'The listeners its role enabled when it last registered: those it was told to bind then';

/* ---- Privileges ---- */

REVOKE ALL ON role_cluster.task_policy, role_cluster.node, role_cluster.node_fetch,
	role_cluster.task, role_cluster.nodes FROM PUBLIC;
REVOKE ALL ON SEQUENCE role_cluster.task_id_seq, role_cluster.route_seq FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON role_cluster.node, role_cluster.node_fetch,
	role_cluster.task TO role_cluster_admin;
GRANT SELECT, INSERT, UPDATE ON role_cluster.task_policy TO role_cluster_admin;
GRANT SELECT, USAGE, UPDATE ON SEQUENCE role_cluster.task_id_seq, role_cluster.route_seq
	TO role_cluster_admin;
GRANT SELECT ON role_cluster.nodes TO role_cluster_admin, role_cluster_node;
GRANT SELECT ON role_cluster.task_policy TO role_cluster_node;

REVOKE EXECUTE ON FUNCTION
	role_cluster.task_ordinal(role_cluster.task_type),
	role_cluster.node_task_types(text, boolean),
	role_cluster.routes_to(role_cluster.task_type, integer, role_cluster.task_type[], integer),
	role_cluster.effective_push_shard(integer, integer),
	role_cluster.node_lease(),
	role_cluster.node_timeout(),
	role_cluster.node_session_alive(integer, timestamptz),
	role_cluster.node_is_lost(role_cluster.node),
	role_cluster.node_is_live(role_cluster.node),
	role_cluster.node_takes_work(role_cluster.node),
	role_cluster.task_fetched(bigint, text),
	role_cluster.node_channel(text),
	role_cluster.node_for_caller(text, boolean),
	role_cluster.require_live(role_cluster.node),
	role_cluster.require_read_committed(),
	role_cluster.require_none_missed(text, text),
	role_cluster.lock_fetch_marks(text[], boolean),
	role_cluster.requeue_held(bigint[], bigint[], text),
	role_cluster.hand_back(text[], boolean, text, boolean, boolean),
	role_cluster.lock_held_tasks(text),
	role_cluster.task_singleton(role_cluster.task_type),
	role_cluster.task_push_shard(role_cluster.task_type, text),
	role_cluster.push_shards_total(),
	role_cluster.task_derive(),
	role_cluster.task_rederive(),
	role_cluster.task_policy_before_insert(),
	role_cluster.task_policy_before_change(),
	role_cluster.task_policy_after_write(),
	role_cluster.cluster_settings_after_write(),
	role_cluster.register_node(text, text, integer, integer),
	role_cluster.heartbeat(text),
	role_cluster.deregister_node(text),
	role_cluster.enqueue(role_cluster.task_type, text, jsonb, text, timestamptz, integer, integer, text),
	role_cluster.check_task_batch(jsonb),
	role_cluster.task_batch_rows(jsonb),
	role_cluster.enqueue_batch(jsonb),
	role_cluster.write_hand_out(bigint[], text, timestamptz, boolean),
	role_cluster.hand_out_singletons(role_cluster.node, role_cluster.task_type[], integer, integer, boolean),
	role_cluster.hand_out_tasks(text, integer, boolean, integer, integer, timestamptz, bigint),
	role_cluster.claim_tasks(text, integer),
	role_cluster.fetch_tasks(text, integer),
	role_cluster.dispatch(integer),
	role_cluster.not_held(bigint, text, text, integer),
	role_cluster.complete_task(bigint, text, integer),
	role_cluster.complete_tasks(bigint[], text, integer[]),
	role_cluster.fail_task(bigint, text, text, integer),
	role_cluster.release_task(bigint, text, integer),
	role_cluster.check_task_ids(bigint[]),
	role_cluster.requeue_dead(bigint[]),
	role_cluster.reclaim()
	FROM PUBLIC;

/* What a node does, as itself; the admin may do it for any node. */
GRANT EXECUTE ON FUNCTION
	role_cluster.node_channel(text),
	role_cluster.node_lease(),
	role_cluster.node_timeout(),
	role_cluster.register_node(text, text, integer, integer),
	role_cluster.heartbeat(text),
	role_cluster.deregister_node(text),
	role_cluster.enqueue(role_cluster.task_type, text, jsonb, text, timestamptz, integer, integer, text),
	role_cluster.enqueue_batch(jsonb),
	role_cluster.claim_tasks(text, integer),
	role_cluster.fetch_tasks(text, integer),
	role_cluster.complete_task(bigint, text, integer),
	role_cluster.complete_tasks(bigint[], text, integer[]),
	role_cluster.fail_task(bigint, text, text, integer),
	role_cluster.release_task(bigint, text, integer)
	TO role_cluster_admin, role_cluster_node;

/* The worker's steps, also callable by hand. */
GRANT EXECUTE ON FUNCTION
	role_cluster.dispatch(integer),
	role_cluster.reclaim()
	TO role_cluster_admin;

/* The operator's own. */
GRANT EXECUTE ON FUNCTION role_cluster.requeue_dead(bigint[]) TO role_cluster_admin;

/* Read-only helpers the nodes view calls (a view's user needs them). */
GRANT EXECUTE ON FUNCTION
	role_cluster.node_is_lost(role_cluster.node),
	role_cluster.node_is_live(role_cluster.node),
	role_cluster.node_session_alive(integer, timestamptz)
	TO role_cluster_admin, role_cluster_node;
