
/* ---- Operating the cluster from psql: statistics views, audit, metrics ---- */

/*
 * Design in brief:
 *
 * - Every figure comes from the queue's own definitions: liveness is
 *   node_is_live(), what a node runs is node_task_types(role, false) (a role
 *   deleted under a node enables nothing, as dispatch sees it; a node with
 *   a capacity of 0 runs nothing), the push
 *   shard it serves is effective_push_shard().  node_duties() gathers them
 *   for one node, so the views, audit() and metrics() agree with dispatch.
 * - The views are small and read well in psql's \x mode: short column
 *   names, intervals rounded down to whole seconds.  queue_stats (per task
 *   type), node_stats (per registered node: what the nodes view does not
 *   already show) and shard_stats (per push shard 1..push_shards_total).
 * - metrics() prints the same figures in the Prometheus text exposition
 *   format, for a scraper or a node's metricsPush task, in one query with
 *   one snapshot.
 * - audit() lists findings, most severe first (see its comment for the
 *   checks and how their severity is weighed).
 * - audit() and metrics() run with jit = off: the planner sizes the small configuration
 *   tables generously, and compiling a plan that size costs seconds for a
 *   few dozen rows.
 *
 * Privileges: role_cluster_admin reads everything and runs audit().  A
 * node login may read the three views (counts, ids and times only: its
 * peers in its shard, the backlog it serves, its own load; the nodes view
 * is already open to it) and call metrics(), because metricsPush runs on
 * nodes.  audit() stays admin-only: its findings quote task errors and the
 * whole configuration.  PUBLIC gets nothing.
 */

/*
 * What one node does, as dispatch sees it: live or not, the task types and
 * listeners its role enables, and the push shard it serves (NULL when it
 * does not run pushNotifications, or has no shard while push_shards_total
 * is above 1).  A role that no longer exists enables nothing, unless
 * role_cluster.unknown_role = 'enable_all' makes it enable everything.
 * SECURITY DEFINER: the queue's helpers it calls are not granted to
 * readers of the views.
 */
CREATE FUNCTION role_cluster.node_duties(n role_cluster.node,
										 OUT live boolean,
										 OUT tasks role_cluster.task_type[],
										 OUT listeners text[],
										 OUT serves_shard integer)
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	live := role_cluster.node_is_live(n);
	/* a node with a capacity of 0 is given nothing (it drains) */
	tasks := CASE WHEN n.capacity > 0 THEN role_cluster.node_task_types(n.role_name, false)
			 ELSE '{}' END;
	IF n.role_name IS NOT NULL AND NOT role_cluster.role_exists(n.role_name)
		AND pg_catalog.current_setting('role_cluster.unknown_role', true) IS DISTINCT FROM 'enable_all' THEN
		listeners := '{}';
	ELSE
		listeners := ARRAY(SELECT role_cluster.role_listeners(n.role_name));
	END IF;
	IF 'pushNotifications' = ANY (tasks) THEN
		serves_shard := role_cluster.effective_push_shard(n.push_shard,
			(SELECT s.push_shards_total FROM role_cluster.cluster_settings s));
	END IF;
END
$$;
COMMENT ON FUNCTION role_cluster.node_duties(role_cluster.node) IS
	'What a node does, as dispatch sees it: live, task types it is given (those its role enables, none at capacity 0) and listeners its role enables, push shard it serves';

/* ---- Views ---- */

/*
 * Per task type (all ten, in the enum's order).  "due" and oldest_wait
 * count queued tasks whose run_at has come: a task waits from its run_at
 * (enqueue time, or the end of a retry's backoff), or from when it last
 * went back to the queue (updated_at: handed back, reclaimed, released),
 * whichever is later; its time on a node is not waiting.  done_1m and done_5m
 * count tasks finished as done in the last minute and five minutes, until
 * prune() deletes them (role_cluster.retention, an hour by default).
 */
CREATE VIEW role_cluster.queue_stats AS
	SELECT ty.task_type,
		   coalesce(c.queued, 0) AS queued,
		   coalesce(c.due, 0) AS due,
		   coalesce(c.routed, 0) AS routed,
		   coalesce(c.running, 0) AS running,
		   coalesce(c.done, 0) AS done,
		   coalesce(c.dead, 0) AS dead,
		   pg_catalog.date_trunc('second', pg_catalog.now() - c.oldest_due) AS oldest_wait,
		   coalesce(c.done_1m, 0) AS done_1m,
		   coalesce(c.done_5m, 0) AS done_5m
	FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::role_cluster.task_type)) AS ty(task_type)
		LEFT JOIN (
			SELECT t.task_type,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'queued') AS queued,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'queued' AND t.run_at <= pg_catalog.now()) AS due,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'running'
											   AND t.route_seq > coalesce(f.fetched, 0)) AS routed,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'running'
											   AND (t.route_seq IS NULL
													OR t.route_seq <= coalesce(f.fetched, 0))) AS running,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'done') AS done,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'dead') AS dead,
				   pg_catalog.min(LEAST(GREATEST(t.run_at, t.updated_at), pg_catalog.now()))
					   FILTER (WHERE t.state = 'queued' AND t.run_at <= pg_catalog.now()) AS oldest_due,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'done'
											   AND t.finished_at > pg_catalog.now() - interval '1 minute') AS done_1m,
				   pg_catalog.count(*) FILTER (WHERE t.state = 'done'
											   AND t.finished_at > pg_catalog.now() - interval '5 minutes') AS done_5m
			FROM role_cluster.task t
				LEFT JOIN role_cluster.node_fetch f ON f.node_id = t.node_id AND t.state = 'running'
			GROUP BY t.task_type) c ON c.task_type = ty.task_type
	ORDER BY ty.task_type;
COMMENT ON VIEW role_cluster.queue_stats IS
	'Per task type: tasks in each state, the oldest wait of a due task, and tasks done in the last 1 and 5 minutes';
COMMENT ON COLUMN role_cluster.queue_stats.task_type IS 'The task type';
COMMENT ON COLUMN role_cluster.queue_stats.queued IS 'Queued tasks, due or not (run_at in the future: deferred or backing off)';
COMMENT ON COLUMN role_cluster.queue_stats.due IS 'Queued tasks whose run_at has come: waiting for a node';
COMMENT ON COLUMN role_cluster.queue_stats.routed IS 'Tasks routed to a node, not yet fetched';
COMMENT ON COLUMN role_cluster.queue_stats.running IS 'Tasks a node is running (fetched or claimed)';
COMMENT ON COLUMN role_cluster.queue_stats.done IS 'Done tasks not yet pruned';
COMMENT ON COLUMN role_cluster.queue_stats.dead IS 'Tasks out of attempts, kept until pruned';
COMMENT ON COLUMN role_cluster.queue_stats.oldest_wait IS
	'How long the longest-waiting due task has waited since its run_at, or since it last went back to the queue if later (whole seconds); NULL when none waits';
COMMENT ON COLUMN role_cluster.queue_stats.done_1m IS 'Tasks done in the last minute (of those not yet pruned: low under a retention of less than a minute)';
COMMENT ON COLUMN role_cluster.queue_stats.done_5m IS 'Tasks done in the last five minutes (of those not yet pruned: low under a retention of less than five minutes)';

/*
 * Per registered node (deregistered ones are in the nodes view only), what
 * the nodes view does not show: room left, the age of its oldest held task
 * and of its last heartbeat, and what it finished lately.  The recent
 * finishes come from one range scan of task_finished_idx, not a scan per
 * node: done tasks pile up until prune() (an hour by default).
 */
CREATE VIEW role_cluster.node_stats AS
	SELECT n.node_id,
		   role_cluster.node_is_live(n) AS live,
		   n.capacity - coalesce(h.held, 0) AS free,
		   /*
			* never negative: a heartbeat or hand-out committed after this
			* transaction's now() may be seen (as for queue_stats); NULL
			* when it holds nothing
			*/
		   CASE WHEN h.oldest IS NOT NULL
				THEN pg_catalog.date_trunc('second', GREATEST(pg_catalog.now() - h.oldest, interval '0'))
		   END AS oldest_held,
		   pg_catalog.date_trunc('second', GREATEST(pg_catalog.now() - n.last_heartbeat, interval '0')) AS heartbeat_age,
		   coalesce(f.done_1m, 0) AS done_1m,
		   coalesce(f.done_5m, 0) AS done_5m
	FROM role_cluster.node n
		/* one pass over the running tasks, as in the nodes view */
		LEFT JOIN (
			SELECT t.node_id, pg_catalog.count(*)::integer AS held, pg_catalog.min(t.updated_at) AS oldest
			FROM role_cluster.task t
			WHERE t.state = 'running'
			GROUP BY t.node_id) h ON h.node_id = n.node_id
		LEFT JOIN (
			SELECT t.node_id,
				   pg_catalog.count(*) FILTER (WHERE t.finished_at > pg_catalog.now() - interval '1 minute') AS done_1m,
				   pg_catalog.count(*) AS done_5m
			FROM role_cluster.task t
			WHERE t.state = 'done' AND t.finished_at > pg_catalog.now() - interval '5 minutes'
			GROUP BY t.node_id) f ON f.node_id = n.node_id
	WHERE n.deregistered_at IS NULL
	ORDER BY n.node_id;
COMMENT ON VIEW role_cluster.node_stats IS
	'Per registered node: free capacity, age of its oldest held task and of its last heartbeat, tasks done lately (complements the nodes view)';
COMMENT ON COLUMN role_cluster.node_stats.node_id IS 'The node';
COMMENT ON COLUMN role_cluster.node_stats.live IS 'Whether it is live (as in the nodes view)';
COMMENT ON COLUMN role_cluster.node_stats.free IS 'Tasks it may still take: capacity minus routed and running (below 0 when its capacity was lowered under what it holds)';
COMMENT ON COLUMN role_cluster.node_stats.oldest_held IS
	'How long it has held its oldest routed or running task (whole seconds); NULL when it holds none';
COMMENT ON COLUMN role_cluster.node_stats.heartbeat_age IS 'Time since it last registered or heartbeated (whole seconds)';
COMMENT ON COLUMN role_cluster.node_stats.done_1m IS 'Tasks it finished as done in the last minute (of those not yet pruned: low under a retention of less than a minute)';
COMMENT ON COLUMN role_cluster.node_stats.done_5m IS 'Tasks it finished as done in the last five minutes (of those not yet pruned: low under a retention of less than five minutes)';

/*
 * Per push shard 1..push_shards_total: the live nodes that serve it (their
 * role enables pushNotifications and this is their shard), and its push
 * tasks waiting and held.  Nodes registered with a shard above the total
 * serve nothing; audit() reports them.
 */
CREATE VIEW role_cluster.shard_stats AS
	SELECT sh.shard,
		   pg_catalog.count(d.node_id)::integer AS live_nodes,
		   coalesce(pg_catalog.array_agg(d.node_id ORDER BY d.node_id)
					FILTER (WHERE d.node_id IS NOT NULL), '{}') AS node_ids,
		   coalesce(pg_catalog.min(q.queued), 0)::bigint AS queued,
		   coalesce(pg_catalog.min(q.held), 0)::bigint AS held
	FROM pg_catalog.generate_series(1, (SELECT s.push_shards_total FROM role_cluster.cluster_settings s)) AS sh(shard)
		LEFT JOIN (
			SELECT n.node_id, x.live, x.serves_shard
			FROM role_cluster.node n
				CROSS JOIN LATERAL role_cluster.node_duties(n) x
			WHERE n.deregistered_at IS NULL) d ON d.live AND d.serves_shard = sh.shard
		LEFT JOIN (
			/* in three parts, each served by one of the queue's partial indexes */
			SELECT u.push_shard, pg_catalog.sum(u.queued) AS queued, pg_catalog.sum(u.held) AS held
			FROM (SELECT t.push_shard, 1 AS queued, 0 AS held FROM role_cluster.task t
				  WHERE t.task_type = 'pushNotifications' AND t.state = 'queued' AND NOT t.singleton
				  UNION ALL
				  SELECT t.push_shard, 1, 0 FROM role_cluster.task t
				  WHERE t.task_type = 'pushNotifications' AND t.state = 'queued' AND t.singleton
				  UNION ALL
				  SELECT t.push_shard, 0, 1 FROM role_cluster.task t
				  WHERE t.task_type = 'pushNotifications' AND t.state = 'running') u
			GROUP BY u.push_shard) q ON q.push_shard = sh.shard
	GROUP BY sh.shard
	ORDER BY sh.shard;
COMMENT ON VIEW role_cluster.shard_stats IS
	'Per push shard (1..push_shards_total): the live nodes serving it and its unfinished push tasks';
COMMENT ON COLUMN role_cluster.shard_stats.shard IS 'The push shard (STALWART_PUSH_SHARD)';
COMMENT ON COLUMN role_cluster.shard_stats.live_nodes IS 'Live nodes that run pushNotifications in this shard';
COMMENT ON COLUMN role_cluster.shard_stats.node_ids IS 'Their ids, in order';
COMMENT ON COLUMN role_cluster.shard_stats.queued IS 'Push tasks of this shard that are queued';
COMMENT ON COLUMN role_cluster.shard_stats.held IS 'Push tasks of this shard that are routed or running';

/* ---- What holds back cleanup ---- */

/*
 * Is the session with this pid in a plain VACUUM (waiting for its table's
 * lock included)?  Such a session shows a backend_xmin that holds nothing
 * back.  C, reading the process's flags.
 */
CREATE FUNCTION role_cluster.session_in_vacuum(pid integer) RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_session_in_vacuum' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION role_cluster.session_in_vacuum(integer) IS
	'Whether the session with this pid is in a plain VACUUM, which holds back no cleanup';

/*
 * What keeps vacuum from removing dead rows in this database, for audit()
 * and metrics(): sessions whose transaction holds a snapshot or a
 * transaction id (kind 'session', name the pid, since the transaction
 * began), prepared transactions ('prepared', the GID, since PREPARE), and
 * replication slots not in use that hold an xmin ('slot', the slot name,
 * since unknown: NULL).  The calling session, autovacuum and sessions in
 * a plain VACUUM (session_in_vacuum: the removal horizon ignores them,
 * whatever their backend_xmin shows; the worker's own vacuum among them)
 * are left out.
 * Internal: its callers are SECURITY DEFINER, so every session's details
 * are visible to it.
 */
CREATE FUNCTION role_cluster.cleanup_holders()
	RETURNS TABLE (kind text, name text, since timestamptz, usename text,
				   application_name text, state text, slot_xmin xid)
	LANGUAGE sql STABLE
AS $$
	SELECT 'session', a.pid::text, a.xact_start, a.usename::text, a.application_name, a.state, NULL::xid
	FROM pg_catalog.pg_stat_activity a
	WHERE a.datname = pg_catalog.current_database()
		AND a.pid <> pg_catalog.pg_backend_pid()
		AND a.backend_type <> 'autovacuum worker'
		AND NOT role_cluster.session_in_vacuum(a.pid)
		AND (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)
		AND a.xact_start IS NOT NULL
	UNION ALL
	SELECT 'prepared', x.gid, x.prepared, x.owner::text, NULL, NULL, NULL
	FROM pg_catalog.pg_prepared_xacts x
	WHERE x.database = pg_catalog.current_database()
	UNION ALL
	SELECT 'slot', sl.slot_name::text, NULL, NULL, NULL, NULL, sl.xmin
	FROM pg_catalog.pg_replication_slots sl
	WHERE NOT sl.active AND sl.xmin IS NOT NULL
$$;
COMMENT ON FUNCTION role_cluster.cleanup_holders() IS
	'Sessions, prepared transactions and unused replication slots that keep vacuum from removing dead rows in this database';

/* ---- Audit ---- */

/*
 * The extension's triggers that fire other than in ordinary sessions
 * alone, the one list of them (the install script applies it below):
 * 'A', always, so that a write made with
 * session_replication_role = replica is followed too; 'R', replica, the
 * row-level copies of statement triggers, for a logical replication apply
 * worker (which fires row triggers only).  Every other trigger of the
 * extension fires in ordinary sessions ('O').  ALTER TABLE ... ENABLE
 * TRIGGER ALL, as pg_restore --disable-triggers issues, puts them all back
 * to 'O': audit() says so (trigger_mode).
 */
CREATE FUNCTION role_cluster.trigger_modes(OUT table_name name, OUT trigger_name name, OUT mode "char")
	RETURNS SETOF record
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
	SELECT m.t::name, m.g::name, m.m::"char" FROM (VALUES
		('cluster_role', 'cluster_role_cache_invalidate', 'A'),
		('cluster_role', 'cluster_role_cache_invalidate_applied', 'R'),
		('cluster_role', 'cluster_role_wake_worker', 'A'),
		('cluster_role', 'cluster_role_wake_worker_applied', 'R'),
		('network_listener', 'network_listener_cache_invalidate', 'A'),
		('network_listener', 'network_listener_cache_invalidate_applied', 'R'),
		('task_policy', 'task_policy_after_write', 'A'),
		('task_policy', 'task_policy_wake_worker', 'A'),
		('task_policy', 'task_policy_wake_worker_applied', 'R'),
		('cluster_settings', 'cluster_settings_after_write', 'A'),
		('cluster_settings', 'cluster_settings_wake_worker', 'A'),
		('cluster_settings', 'cluster_settings_wake_worker_applied', 'R')) AS m(t, g, m);
END;
COMMENT ON FUNCTION role_cluster.trigger_modes() IS
	'The extension''s triggers that fire always (A) or in replica sessions only (R), as installed; the others fire in ordinary sessions (O)';

/* The ALTER TABLE that has a trigger of the extension fire in that mode */
CREATE FUNCTION role_cluster.trigger_enable_command(table_name name, trigger_name name, mode "char")
	RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.format('ALTER TABLE role_cluster.%I ENABLE %sTRIGGER %I', table_name,
						 CASE mode WHEN 'A' THEN 'ALWAYS ' WHEN 'R' THEN 'REPLICA ' ELSE '' END,
						 trigger_name);
COMMENT ON FUNCTION role_cluster.trigger_enable_command(name, name, "char") IS
	'The ALTER TABLE ... ENABLE [ALWAYS | REPLICA] TRIGGER that sets one of the extension''s triggers to a mode';

DO $modes$
DECLARE
	m			record;
BEGIN
	FOR m IN SELECT * FROM role_cluster.trigger_modes() LOOP
		EXECUTE role_cluster.trigger_enable_command(m.table_name, m.trigger_name, m.mode);
	END LOOP;
END
$modes$;

/* How a trigger fires (pg_trigger.tgenabled), in words for audit() */
CREATE FUNCTION role_cluster.trigger_mode_text(mode "char") RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE mode
	WHEN 'O' THEN 'fire in ordinary sessions only'
	WHEN 'A' THEN 'fire always'
	WHEN 'R' THEN 'fire in replica sessions and logical replication only'
	WHEN 'D' THEN 'never fire'
END;
COMMENT ON FUNCTION role_cluster.trigger_mode_text("char") IS
	'How a trigger fires (pg_trigger.tgenabled), in words';

/*
 * The cluster's findings, one row each, most severe first.  Nodes count
 * when they are live (node_is_live), except for node_not_live.  Checks
 * (the "check" column; stable codes):
 *
 *   task_type_unrunnable   no live node runs the type.  critical when the
 *                          type is in critical_types or has queued tasks
 *                          (work is stuck), else warning (maybe deliberate).
 *   task_type_single_node  exactly one live node runs it: no failover.
 *                          warning for critical_types, else info.
 *   singleton_multi_node   info: a singleton type that several live nodes
 *                          run.  Allowed (failover) and enforced by the
 *                          queue, but worth knowing.
 *   push_shard_unserved    a shard in 1..push_shards_total that no live
 *                          push node serves; weighed like
 *                          task_type_unrunnable.  pushNotifications is
 *                          judged per shard only: a node runs push tasks
 *                          of its own shard alone.
 *   push_shard_single_node one live node serves the shard; weighed like
 *                          task_type_single_node.
 *   push_shards_uneven     warning: live nodes per shard differ by more
 *                          than one.
 *   push_shards_total_mismatch  warning: live push nodes registered shards
 *                          above push_shards_total (they serve nothing).
 *   push_shard_missing     warning: a live push node without a shard while
 *                          push_shards_total is above 1 (serves nothing).
 *   node_not_live          warning: registered, not deregistered, not live.
 *   node_drained           info: a live node with a capacity of 0, given
 *                          nothing (a stopping agent's, or an operator's
 *                          drain); task_type_unrunnable names such nodes
 *                          that would run the type.
 *   node_role_missing      warning: a live node's role no longer exists
 *                          (it runs nothing, or everything under
 *                          unknown_role = enable_all).
 *   node_role_changed      warning: the listeners a live node's role
 *                          enables are not those it enabled when the node
 *                          registered (registered_listeners): the role's
 *                          listenerIds changed, or, for a role that enables
 *                          all or all but some, or a node without a role,
 *                          the listeners did.  Tasks follow the role at once
 *                          (dispatch reads it), but the sockets a node bound
 *                          at start do not: it should restart.  (A
 *                          registration again, as after a lost connection,
 *                          resets registered_listeners and so the finding.)
 *   listener_unused        info: no role enables the listener.
 *   listener_unserved      warning: roles enable it, no live node binds it
 *                          (as it registered: registered_listeners).
 *   tasks_waiting          warning: due queued tasks of the type waited
 *                          longer than wait_threshold.
 *   tasks_dead             warning: dead tasks of the type (until pruned).
 *   node_mixed_workload    a live node whose role enables heavy tasks
 *                          (searchIndexing, spamClassifierTraining) and any
 *                          listener.  warning when other live nodes exist
 *                          (the work could be split), info on a lone node.
 *   cleanup_held_back      warning: something has held back the removal
 *                          of dead rows for longer than wait_threshold: a
 *                          session of this database whose transaction holds
 *                          a snapshot or a transaction id (subject "pid N"),
 *                          a prepared transaction of this database ("prepared
 *                          GID"), or a replication slot not in use that
 *                          holds an xmin ("slot NAME"; its age is not known,
 *                          so it is reported at once).  No vacuum can
 *                          remove the task rows finished, routed or pruned
 *                          since, so the queue tables and their indexes
 *                          grow and every hand-out scans past them.
 *   worker_elsewhere       warning: the library is preloaded, but its
 *                          background worker works in another database
 *                          (role_cluster.database): nothing dispatches
 *                          here.
 *   worker_disabled        warning: the worker of this database is
 *                          turned off (role_cluster.enabled): nothing
 *                          dispatches, reclaims, fires or prunes.
 *   worker_not_preloaded   info: the library is not preloaded, so no
 *                          worker runs anywhere (a deployment that claims,
 *                          or calls dispatch() itself, may mean it).
 *   trigger_mode           warning: one of the extension's triggers does
 *                          not fire as the extension enabled it (disabled,
 *                          or put back to ordinary sessions only, as
 *                          ENABLE TRIGGER ALL does): what it keeps in step
 *                          (the role cache, the tasks' copy of the policy
 *                          and shards, the worker's wake-ups) is not kept
 *                          for the writes it misses.
 *   schema_create_granted  warning: a role other than the schema's owner
 *                          may create objects in schema role_cluster: a
 *                          function or operator it creates there could
 *                          stand in for one of the extension's in a call
 *                          that does not fit the extension's exactly, and
 *                          run with the extension's privileges.
 *
 * critical_types defaults to the types whose stop users notice within
 * minutes: outbound mail, push notifications, the task queue and the
 * scheduler (ACME renewal, iMIP, calendar alerts).  Maintenance, indexing
 * and metrics can lag for a while without harm.
 */
CREATE FUNCTION role_cluster.audit(
	wait_threshold interval DEFAULT '5 minutes',
	critical_types role_cluster.task_type[]
		DEFAULT '{outboundMta,pushNotifications,taskQueueProcessing,taskScheduler}')
	RETURNS TABLE (severity text, "check" text, subject text, detail text, hint text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
AS $$
DECLARE
	shards_total integer;
	late_before timestamptz;
BEGIN
	IF wait_threshold IS NULL OR wait_threshold < interval '0' THEN
		RAISE EXCEPTION 'wait threshold must be zero or more, not %', coalesce(wait_threshold::text, 'NULL')
			USING ERRCODE = CASE WHEN wait_threshold IS NULL THEN 'null_value_not_allowed'
								 ELSE 'invalid_parameter_value' END,
				  HINT = 'Pass how long a due task may wait before it is reported, e.g. ''5 minutes''.';
	END IF;
	IF critical_types IS NULL OR pg_catalog.array_position(critical_types, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'critical types must not %', CASE WHEN critical_types IS NULL THEN 'be NULL' ELSE 'contain NULL' END
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass an array of task types, ''{}'' for none.';
	END IF;

	SELECT s.push_shards_total INTO shards_total FROM role_cluster.cluster_settings s;
	late_before := role_cluster.time_ago(wait_threshold);

	RETURN QUERY
	WITH nd AS MATERIALIZED (
		/* registered nodes and what they do */
		SELECT n.node_id, n.role_name, n.push_shard, n.registered_listeners, n.last_heartbeat,
			   n.live_until, n.lease_until, d.live, d.tasks, d.listeners, d.serves_shard, n.capacity,
			   role_cluster.node_is_lost(n) AS lost,
			   NOT role_cluster.node_session_alive(n.backend_pid, n.backend_start) AS session_ended,
			   n.role_name IS NOT NULL AND NOT role_cluster.role_exists(n.role_name) AS role_missing
		FROM role_cluster.node n
			CROSS JOIN LATERAL role_cluster.node_duties(n) d
		WHERE n.deregistered_at IS NULL
	), live AS (
		SELECT * FROM nd WHERE nd.live
	), waiting AS (
		SELECT t.task_type,
			   pg_catalog.count(*) FILTER (WHERE t.state = 'queued') AS queued,
			   pg_catalog.count(*) FILTER (WHERE t.state = 'queued'
										   AND GREATEST(t.run_at, t.updated_at)
											   <= late_before) AS late,
			   pg_catalog.min(GREATEST(t.run_at, t.updated_at))
				   FILTER (WHERE t.state = 'queued') AS oldest,
			   pg_catalog.count(*) FILTER (WHERE t.state = 'dead') AS dead
		FROM role_cluster.task t
		WHERE t.state IN ('queued', 'dead')
		GROUP BY t.task_type
	), types AS (
		SELECT ty.task_type,
			   ty.task_type = ANY (critical_types) AS critical,
			   coalesce(p.singleton, false) AS singleton,
			   ARRAY(SELECT l.node_id FROM live l WHERE ty.task_type = ANY (l.tasks) ORDER BY l.node_id) AS runners,
			   ARRAY(SELECT l.node_id FROM live l
					 WHERE l.capacity = 0 AND ty.task_type = ANY (role_cluster.node_task_types(l.role_name, false))
					 ORDER BY l.node_id) AS drained,
			   ARRAY(SELECT r.name FROM role_cluster.cluster_role r
					 WHERE role_cluster.role_enables_task(r.name, ty.task_type) ORDER BY r.name) AS roles,
			   coalesce(w.queued, 0) AS queued,
			   coalesce(w.late, 0) AS late,
			   w.oldest,
			   coalesce(w.dead, 0) AS dead
		FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::role_cluster.task_type)) AS ty(task_type)
			LEFT JOIN role_cluster.task_policy p ON p.task_type = ty.task_type
			LEFT JOIN waiting w ON w.task_type = ty.task_type
	), shards AS (
		/*
		 * The queued push tasks counted once for all shards, from the
		 * queued tasks' own indexes (one arm each): counted per shard, or
		 * with state = 'queued' alone, it read every retained task.
		 */
		SELECT sh.shard,
			   ARRAY(SELECT l.node_id FROM live l WHERE l.serves_shard = sh.shard ORDER BY l.node_id) AS servers,
			   coalesce(q.queued, 0) AS queued
		FROM pg_catalog.generate_series(1, shards_total) AS sh(shard)
			LEFT JOIN (
				SELECT p.push_shard, pg_catalog.count(*) AS queued
				FROM ((SELECT t.push_shard FROM role_cluster.task t
					   WHERE t.state = 'queued' AND NOT t.singleton AND t.task_type = 'pushNotifications')
					  UNION ALL
					  (SELECT t.push_shard FROM role_cluster.task t
					   WHERE t.state = 'queued' AND t.singleton AND t.task_type = 'pushNotifications')) p
				GROUP BY p.push_shard) q ON q.push_shard = sh.shard
	), listeners AS (
		SELECT li.id,
			   ARRAY(SELECT r.name FROM role_cluster.cluster_role r
					 WHERE role_cluster.role_enables_listener(r.name, li.id) ORDER BY r.name) AS roles,
			   /* what the nodes bind: what they were told at registration */
			   EXISTS (SELECT FROM live l
					   WHERE li.id = ANY (coalesce(l.registered_listeners, l.listeners))) AS bound
		FROM role_cluster.network_listener li
	), findings (severity, "check", subject, detail, hint) AS (
		SELECT CASE WHEN t.critical OR t.queued > 0 THEN 'critical' ELSE 'warning' END,
			   'task_type_unrunnable', t.task_type::text,
			   pg_catalog.format('No live node runs %s%s. %s%s', t.task_type,
					CASE WHEN t.queued = 1 THEN '; 1 of its tasks is queued'
						 WHEN t.queued > 1 THEN pg_catalog.format('; %s of its tasks are queued', t.queued) ELSE '' END,
					CASE WHEN t.roles = '{}' THEN 'No role enables it.'
						 ELSE pg_catalog.format('Roles that enable it: %s.', pg_catalog.array_to_string(t.roles, ', ')) END,
					CASE WHEN t.drained <> '{}'
						 THEN pg_catalog.format(' Live nodes that would run it are drained (capacity 0): %s.',
							pg_catalog.array_to_string(t.drained, ', ')) ELSE '' END),
			   CASE WHEN t.drained <> '{}' THEN 'Give a drained node its capacity back (it registers again, or UPDATE role_cluster.node SET capacity), or start another node with one of those roles.'
					WHEN t.roles = '{}' THEN 'Enable it in the role of a live node (cluster_role.tasks).'
					ELSE 'Start a node with one of those roles, or enable it in the role of a live node.' END
		FROM types t
		WHERE t.task_type <> 'pushNotifications' AND t.runners = '{}'
	UNION ALL
		SELECT CASE WHEN t.critical THEN 'warning' ELSE 'info' END,
			   'task_type_single_node', t.task_type::text,
			   pg_catalog.format('Only node "%s" runs %s, so it stops when that node does.', t.runners[1], t.task_type),
			   'Run it on two or more nodes: enable it in the role of a second live node.'
		FROM types t
		WHERE t.task_type <> 'pushNotifications' AND pg_catalog.cardinality(t.runners) = 1
	UNION ALL
		SELECT 'info', 'singleton_multi_node', t.task_type::text,
			   pg_catalog.format('%s is a singleton type and %s live nodes run it (%s); the queue still runs at most one of its tasks at a time.',
					t.task_type, pg_catalog.cardinality(t.runners), pg_catalog.array_to_string(t.runners, ', ')),
			   'Nothing to do: the other nodes take over when one fails. Enable it in fewer roles to keep it on dedicated nodes.'
		FROM types t
		WHERE t.singleton AND pg_catalog.cardinality(t.runners) > 1
	UNION ALL
		SELECT CASE WHEN 'pushNotifications' = ANY (critical_types) OR sh.queued > 0 THEN 'critical' ELSE 'warning' END,
			   'push_shard_unserved', 'shard ' || sh.shard,
			   pg_catalog.format('No live node serves push shard %s of %s%s.', sh.shard, shards_total,
					CASE WHEN sh.queued = 1 THEN '; 1 of its push notifications is queued'
						 WHEN sh.queued > 1 THEN pg_catalog.format('; %s of its push notifications are queued', sh.queued) ELSE '' END),
			   pg_catalog.format('Start a node whose role enables pushNotifications with STALWART_PUSH_SHARD=%s.', sh.shard)
		FROM shards sh
		WHERE sh.servers = '{}'
	UNION ALL
		SELECT CASE WHEN 'pushNotifications' = ANY (critical_types) THEN 'warning' ELSE 'info' END,
			   'push_shard_single_node', 'shard ' || sh.shard,
			   pg_catalog.format('Only node "%s" serves push shard %s, so the shard stops when that node does.', sh.servers[1], sh.shard),
			   pg_catalog.format('Start a second node with STALWART_PUSH_SHARD=%s.', sh.shard)
		FROM shards sh
		WHERE pg_catalog.cardinality(sh.servers) = 1
	UNION ALL
		SELECT 'warning', 'push_shards_uneven', 'push shards',
			   pg_catalog.format('Live nodes per push shard differ by more than one: %s.',
					pg_catalog.string_agg(pg_catalog.format('shard %s has %s', sh.shard, pg_catalog.cardinality(sh.servers)),
										  ', ' ORDER BY sh.shard)),
			   'Move nodes from the fullest shards to the emptiest (STALWART_PUSH_SHARD), so that each shard has a similar share.'
		FROM shards sh
		HAVING pg_catalog.max(pg_catalog.cardinality(sh.servers)) - pg_catalog.min(pg_catalog.cardinality(sh.servers)) > 1
	UNION ALL
		SELECT 'warning', 'push_shards_total_mismatch', 'push_shards_total',
			   pg_catalog.format('push_shards_total is %s, but live nodes registered higher push shards: %s. They serve no push notifications.',
					shards_total,
					pg_catalog.string_agg(pg_catalog.format('node "%s" (shard %s)', l.node_id, l.push_shard), ', ' ORDER BY l.node_id)),
			   'Set cluster_settings.push_shards_total to the number of shards the nodes use, or restart those nodes with a shard in range.'
		FROM live l
		WHERE 'pushNotifications' = ANY (l.tasks) AND l.push_shard > shards_total
		HAVING pg_catalog.count(*) > 0
	UNION ALL
		SELECT 'warning', 'push_shard_missing', l.node_id,
			   pg_catalog.format('Node "%s" runs pushNotifications but has no push shard, and push_shards_total is %s: it serves no push notifications.',
					l.node_id, shards_total),
			   pg_catalog.format('Restart it with STALWART_PUSH_SHARD between 1 and %s.', shards_total)
		FROM live l
		WHERE 'pushNotifications' = ANY (l.tasks) AND l.push_shard IS NULL AND shards_total > 1
	UNION ALL
		SELECT 'info', 'node_drained', l.node_id,
			   pg_catalog.format('Node "%s" is live with a capacity of 0: it is given no task, and runs only what it had started.', l.node_id),
			   'Nothing to do while it stops (its agent drains it so). Otherwise give it its capacity back: it registers again, or UPDATE role_cluster.node SET capacity.'
		FROM live l
		WHERE l.capacity = 0
	UNION ALL
		SELECT 'warning', 'node_not_live', n.node_id,
			   pg_catalog.format('Node "%s" is registered but not live: %s.%s', n.node_id,
					/*
					 * the ended session first: reclaim() ends the lease of
					 * such a node that held tasks, which then lapsed too
					 */
					CASE WHEN n.session_ended THEN 'the session that registered it has ended'
						 WHEN n.lease_until <= pg_catalog.now()
						 THEN pg_catalog.format('its lease lapsed %s ago',
							pg_catalog.date_trunc('second', pg_catalog.now() - n.lease_until))
						 ELSE pg_catalog.format('its node timeout passed %s ago without a heartbeat',
							pg_catalog.date_trunc('second', pg_catalog.now() - n.live_until)) END,
					(SELECT CASE WHEN pg_catalog.count(*) = 0 THEN ''
								 WHEN n.lost
								 THEN pg_catalog.format(' It holds %s, which reclaim() hands back.',
									CASE WHEN pg_catalog.count(*) = 1 THEN '1 task'
										 ELSE pg_catalog.count(*) || ' tasks' END)
								 ELSE pg_catalog.format(' Its lease runs %s more: until then it keeps the %s it started.',
									pg_catalog.date_trunc('second', n.lease_until - pg_catalog.now()),
									CASE WHEN pg_catalog.count(*) = 1 THEN '1 task'
										 ELSE pg_catalog.count(*) || ' tasks' END) END
					 /* past its timeout only, the routed ones go back (reclaim()) */
					 FROM role_cluster.task t
					 WHERE t.node_id = n.node_id AND t.state = 'running'
						AND (n.lost OR role_cluster.task_fetched(t.route_seq, t.node_id)))),
			   'Restart the node, or deregister it with role_cluster.deregister_node() if it is gone for good.'
		FROM nd n
		WHERE NOT n.live
	UNION ALL
		SELECT 'warning', 'node_role_missing', l.node_id,
			   CASE WHEN pg_catalog.current_setting('role_cluster.unknown_role', true) = 'enable_all'
					THEN pg_catalog.format('The role "%s" of node "%s" does not exist; role_cluster.unknown_role = enable_all makes the node run every task type and listener.',
						l.role_name, l.node_id)
					ELSE pg_catalog.format('The role "%s" of node "%s" does not exist, so the node runs no tasks.',
						l.role_name, l.node_id) END,
			   'Create the role again, or restart the node with an existing STALWART_ROLE.'
		FROM live l
		WHERE l.role_missing
	UNION ALL
		SELECT 'warning', 'node_role_changed', l.node_id,
			   pg_catalog.format('The listeners node "%s" should bind changed after it registered: it was told to bind %s, and its role (%s) now enables %s.',
					l.node_id,
					coalesce(NULLIF(pg_catalog.array_to_string(l.registered_listeners, ', '), ''), 'none'),
					CASE WHEN l.role_name IS NULL THEN 'none: every listener'
						 ELSE pg_catalog.format('"%s"', l.role_name) END,
					coalesce(NULLIF(pg_catalog.array_to_string(l.listeners, ', '), ''), 'none')),
			   'Restart the node, so that it binds the listeners its role now enables. (Registering again from the running node clears this finding, but not its sockets.)'
		FROM live l
		WHERE l.registered_listeners IS DISTINCT FROM l.listeners
			AND l.registered_listeners IS NOT NULL AND NOT l.role_missing
	UNION ALL
		SELECT 'info', 'listener_unused', li.id,
			   pg_catalog.format('No role enables listener "%s", so only nodes without a role bind it.', li.id),
			   'Enable it in a role''s listeners, or delete it from role_cluster.network_listener.'
		FROM listeners li
		WHERE li.roles = '{}'
	UNION ALL
		SELECT 'warning', 'listener_unserved', li.id,
			   pg_catalog.format('Roles enable listener "%s" (%s), but no live node binds it.',
					li.id, pg_catalog.array_to_string(li.roles, ', ')),
			   'Start a node with one of those roles, or restart one whose role gained it since it registered (node_role_changed).'
		FROM listeners li
		WHERE li.roles <> '{}' AND NOT li.bound
	UNION ALL
		SELECT 'warning', 'tasks_waiting', t.task_type::text,
			   pg_catalog.format('%s %s %s waited longer than %s for a node; the oldest for %s.%s',
					t.late, t.task_type, CASE WHEN t.late = 1 THEN 'task has' ELSE 'tasks have' END, wait_threshold,
					pg_catalog.date_trunc('second', pg_catalog.now() - t.oldest),
					CASE WHEN h.id IS NOT NULL
						THEN pg_catalog.format(' %s is a singleton type: they wait for task %s, running on node "%s" since %s.',
											   t.task_type, h.id, h.node_id,
											   pg_catalog.date_trunc('second', h.updated_at))
						ELSE '' END),
			   CASE WHEN h.id IS NOT NULL
					THEN 'Nothing to do while that task runs. If it is stuck, have its node fail or release it (an admin may, for any node).'
					ELSE 'Check that live nodes run the type (task_type_unrunnable, push_shard_unserved) and have room (role_cluster.node_stats.free).' END
		FROM types t
			/* a singleton's running task, which the others wait for */
			LEFT JOIN LATERAL (SELECT r.id, r.node_id, r.updated_at FROM role_cluster.task r
							   WHERE t.singleton AND r.task_type = t.task_type AND r.singleton
								AND r.state = 'running'
							   LIMIT 1) h ON true
		WHERE t.late > 0
	UNION ALL
		SELECT 'warning', 'tasks_dead', t.task_type::text,
			   pg_catalog.format('%s %s %s dead (out of attempts); the latest, task %s, failed with: %s',
					t.dead, t.task_type, CASE WHEN t.dead = 1 THEN 'task is' ELSE 'tasks are' END, x.id,
					coalesce(pg_catalog.left(x.last_error, 200), 'no error recorded')),
			   'Inspect them in role_cluster.task (state = ''dead''); role_cluster.requeue_dead(ids) queues them again once the cause is fixed, prune() deletes them after role_cluster.dead_retention.'
		FROM types t
			CROSS JOIN LATERAL (
				SELECT d.id, d.last_error FROM role_cluster.task d
				WHERE d.task_type = t.task_type AND d.state = 'dead'
				ORDER BY d.finished_at DESC, d.id DESC
				LIMIT 1) x
		WHERE t.dead > 0
	UNION ALL
		SELECT CASE WHEN (SELECT pg_catalog.count(*) FROM live) > 1 THEN 'warning' ELSE 'info' END,
			   'node_mixed_workload', l.node_id,
			   pg_catalog.format('Node "%s" runs heavy tasks (%s) and binds client listeners (%s), %s.',
					l.node_id,
					pg_catalog.array_to_string(ARRAY(SELECT h FROM pg_catalog.unnest(l.tasks) AS h
													 WHERE h IN ('searchIndexing', 'spamClassifierTraining')
													 ORDER BY h), ', '),
					pg_catalog.array_to_string(coalesce(l.registered_listeners, l.listeners), ', '),
					CASE WHEN l.role_name IS NULL THEN 'having no role'
						 ELSE pg_catalog.format('both enabled by role "%s"', l.role_name) END),
			   'Keep CPU- and I/O-heavy tasks in a role without client listeners, so that they do not slow client traffic.'
		FROM live l
		/* the listeners it binds: those it was told to bind as it registered */
		WHERE l.tasks && '{searchIndexing,spamClassifierTraining}'
			AND coalesce(l.registered_listeners, l.listeners) <> '{}'
	UNION ALL
		SELECT 'warning', 'cleanup_held_back',
			   CASE h.kind WHEN 'session' THEN 'pid ' WHEN 'prepared' THEN 'prepared ' ELSE 'slot ' END || h.name,
			   CASE h.kind
					WHEN 'session' THEN
						pg_catalog.format('Session %s (user "%s"%s, %s) has had its transaction open for %s, holding back the removal of dead rows: the queue tables grow and dispatch slows until it ends.',
							h.name, h.usename,
							CASE WHEN h.application_name <> ''
								 THEN pg_catalog.format(', application "%s"', h.application_name) ELSE '' END,
							h.state, pg_catalog.date_trunc('second', pg_catalog.now() - h.since))
					WHEN 'prepared' THEN
						pg_catalog.format('Transaction "%s" was prepared %s ago and is neither committed nor rolled back, holding back the removal of dead rows: the queue tables grow and dispatch slows until it ends.',
							h.name, pg_catalog.date_trunc('second', pg_catalog.now() - h.since))
					ELSE
						pg_catalog.format('Replication slot "%s" is not in use and holds xmin %s (%s transactions ago), holding back the removal of dead rows: the queue tables grow and dispatch slows until it moves.',
							h.name, h.slot_xmin, pg_catalog.age(h.slot_xmin)) END,
			   CASE h.kind
					WHEN 'session' THEN
						'End that transaction, with pg_terminate_backend() if it is stuck; idle_in_transaction_session_timeout ends idle ones by itself.'
					WHEN 'prepared' THEN
						pg_catalog.format('Have its transaction manager finish it, or finish it by hand: COMMIT PREPARED %L or ROLLBACK PREPARED %L.',
							h.name, h.name)
					ELSE 'Reconnect its consumer, or drop the slot with pg_drop_replication_slot() if the consumer is gone.' END
		FROM role_cluster.cleanup_holders() h
		WHERE h.since IS NULL OR h.since <= late_before
	UNION ALL
		/* (postgresql.conf may set it where the library is not preloaded) */
		SELECT 'warning', 'worker_elsewhere', pg_catalog.current_database()::text,
			   pg_catalog.format('The background worker works in database "%s" (role_cluster.database), not in this one: here it dispatches, reclaims, fires and prunes nothing, and worker_stats shows its counters, not this database''s.',
					pg_catalog.current_setting('role_cluster.database', true)),
			   'Set role_cluster.database to this database (a server restart), or have the nodes take their work with claim_tasks() and call reclaim(), fire_schedules() and prune() from a scheduler of your own.'
		WHERE pg_catalog.current_setting('role_cluster.database', true) <> pg_catalog.current_database()
			AND role_cluster.worker_preloaded()
	UNION ALL
		SELECT 'warning', 'worker_disabled', pg_catalog.current_database()::text,
			   'role_cluster.enabled is off: the background worker stays connected and does nothing, so nothing here is dispatched, no dead node''s tasks are taken back, no schedule fires and nothing is pruned.',
			   'Set role_cluster.enabled = on and reload, or have the nodes take their work with claim_tasks() and call reclaim(), fire_schedules() and prune() from a scheduler of your own.'
		WHERE pg_catalog.current_setting('role_cluster.database', true) = pg_catalog.current_database()
			AND role_cluster.worker_preloaded()
			AND NOT pg_catalog.current_setting('role_cluster.enabled', true)::boolean
	UNION ALL
		SELECT 'info', 'worker_not_preloaded', pg_catalog.current_database()::text,
			   'role_cluster is not in shared_preload_libraries: no background worker runs, so nothing dispatches, reclaims, fires schedules or prunes by itself, and fetch_tasks() returns only what a dispatch() called by hand routed.',
			   'Add role_cluster to shared_preload_libraries (a server restart), or have the nodes take their work with claim_tasks() and call reclaim(), fire_schedules() and prune() from a scheduler of your own.'
		WHERE NOT role_cluster.worker_preloaded()
	UNION ALL
		SELECT 'warning', 'trigger_mode', c.relname || '.' || g.tgname,
			   pg_catalog.format('Trigger %s on role_cluster.%s is set to %s, where the extension has it %s: what it keeps in step is not kept for the writes it misses.',
								 g.tgname, c.relname, role_cluster.trigger_mode_text(g.tgenabled),
								 role_cluster.trigger_mode_text(coalesce(m.mode, 'O'))),
			   role_cluster.trigger_enable_command(c.relname, g.tgname, coalesce(m.mode, 'O')) || ';'
		FROM pg_catalog.pg_trigger g
			JOIN pg_catalog.pg_class c ON c.oid = g.tgrelid
			JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
				AND d.objid = g.tgfoid AND d.deptype = 'e'
			JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'role_cluster'
			LEFT JOIN role_cluster.trigger_modes() m ON m.table_name = c.relname AND m.trigger_name = g.tgname
		WHERE c.relnamespace = 'role_cluster'::pg_catalog.regnamespace AND NOT g.tgisinternal
			AND g.tgenabled <> coalesce(m.mode, 'O')
	UNION ALL
		SELECT 'warning', 'schema_create_granted', c.grantee,
			   pg_catalog.format('%s may create objects in schema role_cluster: a function or operator created there could stand in for one of the extension''s and run with its privileges.',
								 c.grantee),
			   pg_catalog.format('REVOKE CREATE ON SCHEMA role_cluster FROM %s;', c.grantee)
		FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
						  ELSE pg_catalog.quote_ident(r.rolname) END AS grantee
			  FROM pg_catalog.pg_namespace n
				  CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
				  LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
			  WHERE n.nspname = 'role_cluster' AND a.privilege_type = 'CREATE'
				AND a.grantee <> n.nspowner) c
	)
	SELECT f.severity, f."check", f.subject, f.detail, f.hint
	FROM findings f
	ORDER BY CASE f.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END,
			 f."check", f.subject;
END
$$;
COMMENT ON FUNCTION role_cluster.audit(interval, role_cluster.task_type[]) IS
	'Findings about the cluster, most severe first: task types and push shards without (enough) live nodes, settings that disagree with the nodes, stale or missing roles, unused listeners, late and dead tasks, heavy work beside client listeners, cleanup held back';

/* ---- Prometheus metrics ---- */

/* A label value in the text exposition format: \ " and newline escaped. */
CREATE FUNCTION role_cluster.metrics_label(value text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	RETURN pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(value, E'\\', E'\\\\'),
												 '"', E'\\"'), E'\n', E'\\n');
COMMENT ON FUNCTION role_cluster.metrics_label(text) IS
	'Escapes a Prometheus label value: backslash, double quote and newline';

/*
 * One metric family: its HELP and TYPE lines, then its samples (already
 * formatted lines, each ending in a newline; NULL for none).
 */
CREATE FUNCTION role_cluster.metrics_family(name text, kind text, help text, samples text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
	RETURN '# HELP ' || name || ' '
		|| pg_catalog.replace(pg_catalog.replace(help, E'\\', E'\\\\'), E'\n', E'\\n') || E'\n'
		|| '# TYPE ' || name || ' ' || kind || E'\n'
		|| coalesce(samples, '');
COMMENT ON FUNCTION role_cluster.metrics_family(text, text, text, text) IS
	'A Prometheus metric family: HELP and TYPE lines followed by its samples';

/*
 * The figures of queue_stats, nodes and node_stats, shard_stats and the
 * worker's counters, in the Prometheus text exposition format (version
 * 0.0.4).  STABLE: every figure comes from one snapshot.  NULL figures
 * (no waiting task, no loop yet) have no sample.  The worker's families
 * are left out when its counters are unavailable (the library is not in
 * shared_preload_libraries); role_cluster_worker_stats_available says
 * which, and role_cluster_worker_serves_this_database whether they are
 * this database's worker's.  SECURITY DEFINER so that a node login can run it for metricsPush.
 */
CREATE FUNCTION role_cluster.metrics() RETURNS text
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off
	SET extra_float_digits = 1	/* every value exact, whatever the scraper's session sets */
AS $$
DECLARE
	result			text := '';
	w			record;
	have_worker boolean := false;
BEGIN
	/* per task type */
	SELECT result
		|| role_cluster.metrics_family('role_cluster_tasks', 'gauge',
			'Tasks by type and state (done and dead until pruned).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_tasks{task_type="%s",state="%s"} %s',
				role_cluster.metrics_label(q.task_type::text), v.state, v.n) || E'\n', '' ORDER BY q.task_type, v.ord))
		|| role_cluster.metrics_family('role_cluster_tasks_due', 'gauge',
			'Queued tasks whose run_at has come, waiting for a node.',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_tasks_due{task_type="%s"} %s',
				role_cluster.metrics_label(q.task_type::text), q.due) || E'\n', '' ORDER BY q.task_type)
				FILTER (WHERE v.ord = 1))
		|| role_cluster.metrics_family('role_cluster_task_oldest_wait_seconds', 'gauge',
			'How long the longest-waiting due task of the type has waited (no sample when none waits).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_task_oldest_wait_seconds{task_type="%s"} %s',
				role_cluster.metrics_label(q.task_type::text),
				pg_catalog.date_part('epoch', q.oldest_wait)) || E'\n', '' ORDER BY q.task_type)
				FILTER (WHERE v.ord = 1 AND q.oldest_wait IS NOT NULL))
		|| role_cluster.metrics_family('role_cluster_tasks_done_1m', 'gauge',
			'Tasks of the type done in the last minute, of those not yet pruned (role_cluster.retention).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_tasks_done_1m{task_type="%s"} %s',
				role_cluster.metrics_label(q.task_type::text), q.done_1m) || E'\n', '' ORDER BY q.task_type)
				FILTER (WHERE v.ord = 1))
		|| role_cluster.metrics_family('role_cluster_tasks_done_5m', 'gauge',
			'Tasks of the type done in the last five minutes, of those not yet pruned (role_cluster.retention).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_tasks_done_5m{task_type="%s"} %s',
				role_cluster.metrics_label(q.task_type::text), q.done_5m) || E'\n', '' ORDER BY q.task_type)
				FILTER (WHERE v.ord = 1))
		INTO result
		FROM role_cluster.queue_stats q
			CROSS JOIN LATERAL (VALUES (1, 'queued', q.queued), (2, 'routed', q.routed),
									   (3, 'running', q.running), (4, 'done', q.done),
									   (5, 'dead', q.dead)) AS v(ord, state, n);

	/* per registered node */
	SELECT result
		|| role_cluster.metrics_family('role_cluster_node_info', 'gauge',
			'A registered node, with its role and push shard as labels (always 1).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_info{node_id="%s",role="%s",push_shard="%s"} 1',
				role_cluster.metrics_label(n.node_id), role_cluster.metrics_label(coalesce(n.role, '')),
				coalesce(n.push_shard::text, '')) || E'\n', '' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_live', 'gauge',
			'Whether the node is live (1) or not (0).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_live{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), n.live::integer) || E'\n', '' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_capacity', 'gauge',
			'Tasks the node may hold at once.',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_capacity{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), n.capacity) || E'\n', '' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_tasks', 'gauge',
			'Tasks the node holds, by state (routed or running).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_tasks{node_id="%s",state="routed"} %s',
				role_cluster.metrics_label(n.node_id), n.routed) || E'\n'
				|| pg_catalog.format('role_cluster_node_tasks{node_id="%s",state="running"} %s',
				role_cluster.metrics_label(n.node_id), n.running) || E'\n', '' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_oldest_held_seconds', 'gauge',
			'How long the node has held its oldest routed or running task (no sample when it holds none).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_oldest_held_seconds{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), pg_catalog.date_part('epoch', s.oldest_held)) || E'\n',
				'' ORDER BY n.node_id) FILTER (WHERE s.oldest_held IS NOT NULL))
		|| role_cluster.metrics_family('role_cluster_node_heartbeat_age_seconds', 'gauge',
			'Time since the node last registered or heartbeated.',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_heartbeat_age_seconds{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), pg_catalog.date_part('epoch', s.heartbeat_age)) || E'\n',
				'' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_tasks_done_1m', 'gauge',
			'Tasks the node finished as done in the last minute, of those not yet pruned (role_cluster.retention).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_tasks_done_1m{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), s.done_1m) || E'\n', '' ORDER BY n.node_id))
		|| role_cluster.metrics_family('role_cluster_node_tasks_done_5m', 'gauge',
			'Tasks the node finished as done in the last five minutes, of those not yet pruned (role_cluster.retention).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_node_tasks_done_5m{node_id="%s"} %s',
				role_cluster.metrics_label(n.node_id), s.done_5m) || E'\n', '' ORDER BY n.node_id))
		INTO result
		FROM role_cluster.nodes n
			JOIN role_cluster.node_stats s ON s.node_id = n.node_id;

	/* push shards */
	SELECT result
		|| role_cluster.metrics_family('role_cluster_push_shards', 'gauge',
			'The push_shards_total setting: push shards 1..N.',
			pg_catalog.format('role_cluster_push_shards %s', cs.push_shards_total) || E'\n')
		INTO result
		FROM role_cluster.cluster_settings cs;
	SELECT result
		|| role_cluster.metrics_family('role_cluster_push_shard_live_nodes', 'gauge',
			'Live nodes serving the push shard.',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_push_shard_live_nodes{shard="%s"} %s',
				sh.shard, sh.live_nodes) || E'\n', '' ORDER BY sh.shard))
		|| role_cluster.metrics_family('role_cluster_push_shard_tasks', 'gauge',
			'Push tasks of the shard, queued or held (routed and running).',
			pg_catalog.string_agg(pg_catalog.format('role_cluster_push_shard_tasks{shard="%s",state="queued"} %s',
				sh.shard, sh.queued) || E'\n'
				|| pg_catalog.format('role_cluster_push_shard_tasks{shard="%s",state="held"} %s',
				sh.shard, sh.held) || E'\n', '' ORDER BY sh.shard))
		INTO result
		FROM role_cluster.shard_stats sh;

	/* what holds back cleanup (audit()'s cleanup_held_back) */
	SELECT result
		|| role_cluster.metrics_family('role_cluster_cleanup_held_back_seconds', 'gauge',
			'How long the oldest open or prepared transaction of this database has kept vacuum from removing dead rows (0: none).',
			pg_catalog.format('role_cluster_cleanup_held_back_seconds %s',
				coalesce(pg_catalog.max(pg_catalog.date_part('epoch', pg_catalog.now() - h.since))
						 FILTER (WHERE h.since <= pg_catalog.now()), 0)) || E'\n')
		|| role_cluster.metrics_family('role_cluster_cleanup_held_back_slots', 'gauge',
			'Replication slots not in use that keep vacuum from removing dead rows.',
			pg_catalog.format('role_cluster_cleanup_held_back_slots %s',
				pg_catalog.count(*) FILTER (WHERE h.kind = 'slot')) || E'\n')
		INTO result
		FROM role_cluster.cleanup_holders() h;

	/* the background worker, when its counters exist */
	BEGIN
		SELECT * INTO w FROM role_cluster.worker_stats() AS x;
		have_worker := true;
	EXCEPTION
		WHEN object_not_in_prerequisite_state OR undefined_function THEN
			have_worker := false;
	END;
	result := result || role_cluster.metrics_family('role_cluster_worker_stats_available', 'gauge',
		'Whether the background worker''s counters are available (1), or not because role_cluster is not in shared_preload_libraries (0).',
		pg_catalog.format('role_cluster_worker_stats_available %s', have_worker::integer) || E'\n');
	IF have_worker THEN
		result := result
			|| role_cluster.metrics_family('role_cluster_worker_serves_this_database', 'gauge',
				'Whether the background worker works in this database (1), or in the one role_cluster.database names (0: nothing here is dispatched, reclaimed, fired or pruned, and the worker''s figures are that database''s).',
				pg_catalog.format('role_cluster_worker_serves_this_database %s',
					(pg_catalog.current_setting('role_cluster.database', true) = pg_catalog.current_database())::integer)
				|| E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_state', 'gauge',
				'The background worker''s state, as a label (always 1).',
				pg_catalog.format('role_cluster_worker_state{state="%s"} 1', role_cluster.metrics_label(w.state)) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_loops_total', 'counter',
				'Loops the worker ran.', pg_catalog.format('role_cluster_worker_loops_total %s', w.loops) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_wakeups_total', 'counter',
				'Commits that woke the worker.', pg_catalog.format('role_cluster_worker_wakeups_total %s', w.wakeups) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_routed_total', 'counter',
				'Tasks the worker routed to nodes.', pg_catalog.format('role_cluster_worker_routed_total %s', w.routed) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_notified_total', 'counter',
				'Node notifications the worker sent.', pg_catalog.format('role_cluster_worker_notified_total %s', w.notified) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_reclaimed_total', 'counter',
				'Tasks the worker took back from lost nodes.', pg_catalog.format('role_cluster_worker_reclaimed_total %s', w.reclaimed) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_fired_total', 'counter',
				'Schedule firings.', pg_catalog.format('role_cluster_worker_fired_total %s', w.fired) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_pruned_total', 'counter',
				'Rows the worker pruned.', pg_catalog.format('role_cluster_worker_pruned_total %s', w.pruned) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_vacuumed_total', 'counter',
				'Queue tables the worker vacuumed.', pg_catalog.format('role_cluster_worker_vacuumed_total %s', w.vacuumed) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_errors_total', 'counter',
				'Worker steps that failed.', pg_catalog.format('role_cluster_worker_errors_total %s', w.errors) || E'\n')
			|| role_cluster.metrics_family('role_cluster_worker_last_loop_seconds', 'gauge',
				'Duration of the worker''s last loop (no sample before the first).',
				CASE WHEN w.last_loop_ms IS NOT NULL
					THEN pg_catalog.format('role_cluster_worker_last_loop_seconds %s', w.last_loop_ms / 1000) || E'\n' END)
			|| role_cluster.metrics_family('role_cluster_worker_max_loop_seconds', 'gauge',
				'Longest loop of the worker since its counters were reset (no sample before the first).',
				CASE WHEN w.max_loop_ms IS NOT NULL
					THEN pg_catalog.format('role_cluster_worker_max_loop_seconds %s', w.max_loop_ms / 1000) || E'\n' END)
			|| role_cluster.metrics_family('role_cluster_worker_last_loop_timestamp_seconds', 'gauge',
				'When the worker''s last loop ended, in Unix time (no sample before the first).',
				CASE WHEN w.last_loop_at IS NOT NULL
					THEN pg_catalog.format('role_cluster_worker_last_loop_timestamp_seconds %s',
						pg_catalog.date_part('epoch', w.last_loop_at)) || E'\n' END);
	END IF;
	RETURN result;
END
$$;
COMMENT ON FUNCTION role_cluster.metrics() IS
	'The figures of queue_stats, nodes, node_stats, shard_stats, what holds back cleanup, and worker_stats in the Prometheus text exposition format, from one snapshot';

/* ---- Privileges ---- */

REVOKE ALL ON role_cluster.queue_stats, role_cluster.node_stats, role_cluster.shard_stats FROM PUBLIC;
GRANT SELECT ON role_cluster.queue_stats, role_cluster.node_stats, role_cluster.shard_stats
	TO role_cluster_admin, role_cluster_node;

REVOKE EXECUTE ON FUNCTION
	role_cluster.node_duties(role_cluster.node),
	role_cluster.session_in_vacuum(integer),
	role_cluster.cleanup_holders(),
	role_cluster.audit(interval, role_cluster.task_type[]),
	role_cluster.metrics_label(text),
	role_cluster.metrics_family(text, text, text, text),
	role_cluster.metrics(),
	role_cluster.trigger_modes(),
	role_cluster.trigger_enable_command(name, name, "char"),
	role_cluster.trigger_mode_text("char")
	FROM PUBLIC;
/* an admin's checks after a restore (README: replication) */
GRANT EXECUTE ON FUNCTION role_cluster.trigger_modes(),
	role_cluster.trigger_enable_command(name, name, "char"),
	role_cluster.trigger_mode_text("char")
	TO role_cluster_admin;
/* shard_stats calls node_duties as its reader */
GRANT EXECUTE ON FUNCTION role_cluster.node_duties(role_cluster.node)
	TO role_cluster_admin, role_cluster_node;
GRANT EXECUTE ON FUNCTION role_cluster.audit(interval, role_cluster.task_type[]) TO role_cluster_admin;
GRANT EXECUTE ON FUNCTION role_cluster.metrics() TO role_cluster_admin, role_cluster_node;
