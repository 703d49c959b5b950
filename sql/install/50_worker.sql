
/* ---- The background worker: wake-ups, counters (src/rc_shmem.c) ---- */

CREATE FUNCTION role_cluster.wake_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_wake_worker' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.wake_worker() IS
	'Wakes the background worker when the calling transaction commits (not on rollback); a no-op when the library is not preloaded or the worker is disabled';
REVOKE EXECUTE ON FUNCTION role_cluster.wake_worker() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.wake_worker() TO role_cluster_admin, role_cluster_node;

CREATE FUNCTION role_cluster.wake_worker_trigger() RETURNS trigger
	AS 'MODULE_PATHNAME', 'rc_wake_worker_trigger' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.wake_worker_trigger() IS
	'Trigger: wake_worker() for writes to the queue (not in the worker itself); argument ''capacity'': only while due work waits for room; ''schedules'': to fire the schedules again';
REVOKE EXECUTE ON FUNCTION role_cluster.wake_worker_trigger() FROM PUBLIC;

CREATE FUNCTION role_cluster.note_dispatch(waiting boolean, notified integer,
										   next_due timestamptz DEFAULT NULL) RETURNS void
	AS 'MODULE_PATHNAME', 'rc_note_dispatch' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.note_dispatch(boolean, integer, timestamptz) IS
	'Called by dispatch() in the worker: whether due tasks wait for a node''s room (so that freed capacity should wake it), how many nodes it notified, and when the next deferred task falls due';
REVOKE EXECUTE ON FUNCTION role_cluster.note_dispatch(boolean, integer, timestamptz) FROM PUBLIC;

CREATE FUNCTION role_cluster.note_schedules(next_due timestamptz) RETURNS void
	AS 'MODULE_PATHNAME', 'rc_note_schedules' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.note_schedules(timestamptz) IS
	'Called by fire_schedules() in the worker: when to fire the schedules again (the next due time of an enabled schedule, or a second later while one is left due)';
REVOKE EXECUTE ON FUNCTION role_cluster.note_schedules(timestamptz) FROM PUBLIC;

/*
 * What wakes the worker at commit, besides the poll: tasks enqueued, or
 * queued again (a retry, a release, a hand-back, a fetch that sends back
 * what the node's role no longer allows), or a queued task's run_at moved
 * sooner (the worker would otherwise sleep until the time it noted for
 * it, or the poll); a node registering or changing what it takes; a role,
 * a type's policy or the number of push shards written; a schedule added
 * or its timing changed (the worker fires the schedules again: see
 * schedule_wake_worker); a heartbeat from a node that was not live, past
 * its node timeout or its lease (heartbeat() calls wake_worker()).  Other
 * heartbeats (lease columns only) do not.  Any other change (a node
 * fetched work, moving its fetch mark, or finished work) wakes it only
 * while due tasks wait for a node's room (note_dispatch): most commits of
 * a busy queue are fetches and acknowledgements, and a dispatch for each
 * would find nothing to do.  The worker's own statements never wake it;
 * it loops again by itself.
 */
CREATE TRIGGER task_wake_worker
	AFTER INSERT ON role_cluster.task
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER task_wake_worker ON role_cluster.task IS
	'Wakes the background worker at commit when tasks are enqueued';

/*
 * WHEN names NEW.state alone: PostgreSQL reads and prepares a trigger's
 * WHEN clause afresh for each statement that may fire it, as every claim
 * and acknowledgement may (they write state), and the cost grows with the
 * clause: adding "AND OLD.state <> 'queued'" doubled it, 2.5 % of a
 * task's instructions at batch 1 (bench_queue.sh's COUNT=instructions).
 * An UPDATE that leaves a task queued wakes the worker for nothing, which
 * is harmless; none of role_cluster's does.
 */
CREATE TRIGGER task_wake_worker_queued
	AFTER UPDATE OF state ON role_cluster.task
	FOR EACH ROW WHEN (NEW.state = 'queued')
	EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER task_wake_worker_queued ON role_cluster.task IS
	'Wakes the background worker at commit when a task is queued again';

CREATE TRIGGER task_wake_worker_due
	AFTER UPDATE OF run_at ON role_cluster.task
	FOR EACH ROW WHEN (NEW.state = 'queued' AND NEW.run_at < OLD.run_at)
	EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER task_wake_worker_due ON role_cluster.task IS
	'Wakes the background worker at commit when a queued task is made due sooner (an operator moved its run_at)';

CREATE TRIGGER task_wake_worker_capacity
	AFTER UPDATE OF state ON role_cluster.task
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger('capacity');
COMMENT ON TRIGGER task_wake_worker_capacity ON role_cluster.task IS
	'Wakes the background worker at commit when tasks change state, if due work waits for a node''s room';

CREATE TRIGGER node_fetch_wake_worker_capacity
	AFTER UPDATE OF fetched ON role_cluster.node_fetch
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger('capacity');
COMMENT ON TRIGGER node_fetch_wake_worker_capacity ON role_cluster.node_fetch IS
	'Wakes the background worker at commit when a node fetched work, if due work waits for a node''s room';

CREATE TRIGGER node_wake_worker
	AFTER INSERT OR UPDATE OF role_name, push_shard, capacity, backend_pid, deregistered_at
	ON role_cluster.node
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER node_wake_worker ON role_cluster.node IS
	'Wakes the background worker at commit when a node registers or changes what it takes';

/*
 * A change of what the nodes may run: a role added, removed (a node whose
 * role is gone may run everything under role_cluster.unknown_role =
 * enable_all) or its task types changed, a type's singleton policy, the
 * number of push shards.  Queued work that no node could take may now have
 * one; without these it would wait for the poll.  The role trigger fires
 * with session_replication_role = replica too, as the role cache's does,
 * and for the logical replication apply worker, which fires row triggers
 * only, a row trigger does the same, in replica mode (trigger_modes()).
 */
CREATE TRIGGER cluster_role_wake_worker
	AFTER INSERT OR UPDATE OF tasks OR DELETE OR TRUNCATE ON role_cluster.cluster_role
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER cluster_role_wake_worker ON role_cluster.cluster_role IS
	'Wakes the background worker at commit when a role is added, removed or its task types change';

CREATE TRIGGER cluster_role_wake_worker_applied
	AFTER INSERT OR UPDATE OF tasks OR DELETE ON role_cluster.cluster_role
	FOR EACH ROW EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER cluster_role_wake_worker_applied ON role_cluster.cluster_role IS
	'Wakes the background worker at commit when logical replication applies a change to roles';

/* the policy and the shards likewise, as their copies to the tasks fire */
CREATE TRIGGER task_policy_wake_worker
	AFTER INSERT OR UPDATE OF singleton ON role_cluster.task_policy
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER task_policy_wake_worker ON role_cluster.task_policy IS
	'Wakes the background worker at commit when a type''s singleton policy is written';

CREATE TRIGGER task_policy_wake_worker_applied
	AFTER INSERT OR UPDATE OF singleton ON role_cluster.task_policy
	FOR EACH ROW EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER task_policy_wake_worker_applied ON role_cluster.task_policy IS
	'Wakes the background worker at commit when logical replication applies a singleton policy';

CREATE TRIGGER cluster_settings_wake_worker
	AFTER INSERT OR UPDATE OF push_shards_total ON role_cluster.cluster_settings
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER cluster_settings_wake_worker ON role_cluster.cluster_settings IS
	'Wakes the background worker at commit when the number of push shards is written';

CREATE TRIGGER cluster_settings_wake_worker_applied
	AFTER INSERT OR UPDATE OF push_shards_total ON role_cluster.cluster_settings
	FOR EACH ROW EXECUTE FUNCTION role_cluster.wake_worker_trigger();
COMMENT ON TRIGGER cluster_settings_wake_worker_applied ON role_cluster.cluster_settings IS
	'Wakes the background worker at commit when logical replication applies the number of push shards';

CREATE FUNCTION role_cluster.watch_session() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_watch_session' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.watch_session() IS
	'Makes the calling session wake the background worker when it ends, so that reclaim() runs at once; a no-op when the library is not preloaded';
REVOKE EXECUTE ON FUNCTION role_cluster.watch_session() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.watch_session() TO role_cluster_admin, role_cluster_node;

/*
 * A node's session wakes the worker when it ends, so that reclaim() hands
 * its tasks back at once, not at the next poll: whenever a session writes
 * its own pid into role_cluster.node (register_node does), it is watched.
 */
CREATE FUNCTION role_cluster.node_watch_session() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM role_cluster.watch_session();
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION role_cluster.node_watch_session() IS
	'Trigger: makes the session that registers a node wake the background worker when it ends';
REVOKE EXECUTE ON FUNCTION role_cluster.node_watch_session() FROM PUBLIC;

CREATE TRIGGER node_watch_session
	AFTER INSERT OR UPDATE OF backend_pid, backend_start ON role_cluster.node
	FOR EACH ROW WHEN (NEW.backend_pid = pg_catalog.pg_backend_pid())
	EXECUTE FUNCTION role_cluster.node_watch_session();
COMMENT ON TRIGGER node_watch_session ON role_cluster.node IS
	'The registering session wakes the worker when it ends, for a prompt reclaim()';

CREATE FUNCTION role_cluster.worker_stats(
	OUT pid integer,
	OUT state text,
	OUT started_at timestamptz,
	OUT loops bigint,
	OUT wakeups bigint,
	OUT routed bigint,
	OUT notified bigint,
	OUT reclaimed bigint,
	OUT fired bigint,
	OUT pruned bigint,
	OUT vacuumed bigint,
	OUT errors bigint,
	OUT last_loop_at timestamptz,
	OUT last_loop_ms double precision,
	OUT avg_loop_ms double precision,
	OUT max_loop_ms double precision,
	OUT last_error text,
	OUT last_error_at timestamptz,
	OUT stats_reset timestamptz)
	AS 'MODULE_PATHNAME', 'rc_worker_stats' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION role_cluster.worker_stats() IS
	'The background worker''s state and counters (needs shared_preload_libraries)';
REVOKE EXECUTE ON FUNCTION role_cluster.worker_stats() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.worker_stats() TO role_cluster_admin;

CREATE VIEW role_cluster.worker_stats AS
	SELECT * FROM role_cluster.worker_stats();
COMMENT ON VIEW role_cluster.worker_stats IS
	'The background worker, which works in role_cluster.database (read elsewhere, its figures are of that database): pid, state (not running, starting, disabled, standby, no extension, running), loops, commits that woke it, tasks routed, nodes notified, tasks reclaimed, schedule firings, rows pruned, queue tables vacuumed, failed steps, loop times and the last error, since stats_reset (a server crash also resets them)';
COMMENT ON COLUMN role_cluster.worker_stats.pid IS 'Process id of the worker; NULL when none runs';
COMMENT ON COLUMN role_cluster.worker_stats.state IS
	'not running, starting, disabled (role_cluster.enabled = off), standby (recovery: waits), no extension (not installed in role_cluster.database: waits), running';
COMMENT ON COLUMN role_cluster.worker_stats.started_at IS 'When the current worker process started';
COMMENT ON COLUMN role_cluster.worker_stats.loops IS 'Loops the worker ran while running (not disabled, on a standby or waiting for the extension), those that found nothing to do included';
COMMENT ON COLUMN role_cluster.worker_stats.wakeups IS 'Commits in its database that woke the worker (enqueues, state changes, registrations, heartbeats of lapsed nodes, changes of roles, type policies, the push shard count or the timing of schedules)';
COMMENT ON COLUMN role_cluster.worker_stats.routed IS 'Tasks routed by dispatch()';
COMMENT ON COLUMN role_cluster.worker_stats.notified IS 'Node notifications sent by dispatch() (one per node per call)';
COMMENT ON COLUMN role_cluster.worker_stats.reclaimed IS 'Tasks reclaim() took back from lost nodes';
COMMENT ON COLUMN role_cluster.worker_stats.fired IS 'Tasks fire_schedules() enqueued';
COMMENT ON COLUMN role_cluster.worker_stats.pruned IS 'Rows prune() deleted';
COMMENT ON COLUMN role_cluster.worker_stats.vacuumed IS
	'Queue tables the worker''s vacuum process vacuumed (role_cluster.vacuum_interval)';
COMMENT ON COLUMN role_cluster.worker_stats.errors IS 'Steps that failed (logged; retried at the next loop, a prune at the next poll)';
COMMENT ON COLUMN role_cluster.worker_stats.last_loop_at IS 'When the last working loop ended';
COMMENT ON COLUMN role_cluster.worker_stats.last_loop_ms IS 'Duration of the last working loop, in milliseconds';
COMMENT ON COLUMN role_cluster.worker_stats.avg_loop_ms IS 'Average duration of the working loops, in milliseconds';
COMMENT ON COLUMN role_cluster.worker_stats.max_loop_ms IS 'Longest working loop, in milliseconds';
COMMENT ON COLUMN role_cluster.worker_stats.last_error IS 'The last failed step and its error message';
COMMENT ON COLUMN role_cluster.worker_stats.last_error_at IS 'When the last step failed';
COMMENT ON COLUMN role_cluster.worker_stats.stats_reset IS 'Since when the counters count (worker_stats_reset(), server start or crash)';
GRANT SELECT ON role_cluster.worker_stats TO role_cluster_admin;

CREATE FUNCTION role_cluster.worker_preloaded() RETURNS boolean
	AS 'MODULE_PATHNAME', 'rc_worker_preloaded' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.worker_preloaded() IS
	'Whether role_cluster is in shared_preload_libraries, so that the background worker can run';
REVOKE EXECUTE ON FUNCTION role_cluster.worker_preloaded() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.worker_preloaded() TO role_cluster_admin;

CREATE FUNCTION role_cluster.worker_stats_reset() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_worker_stats_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.worker_stats_reset() IS
	'Zeroes the background worker''s counters, loop times and last error';
REVOKE EXECUTE ON FUNCTION role_cluster.worker_stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.worker_stats_reset() TO role_cluster_admin;

/* ---- Cron expressions (src/rc_cron.c) ---- */

CREATE FUNCTION role_cluster.cron_next(expr text, after timestamptz DEFAULT pg_catalog.now(),
									   timezone text DEFAULT 'UTC') RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'rc_cron_next_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.cron_next(text, timestamptz, text) IS
	'The first whole minute strictly after "after" that a 5-field cron expression matches, its fields read as wall-clock time in the time zone given (UTC by default); raises 22023 for a bad expression or zone';
REVOKE EXECUTE ON FUNCTION role_cluster.cron_next(text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.cron_next(text, timestamptz, text) TO role_cluster_admin, role_cluster_node;

CREATE FUNCTION role_cluster.cron_prev(expr text, at_or_before timestamptz DEFAULT pg_catalog.now(),
									   timezone text DEFAULT 'UTC') RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'rc_cron_prev_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.cron_prev(text, timestamptz, text) IS
	'The latest whole minute at or before "at_or_before" that a 5-field cron expression matches, in the time zone given (UTC by default)';
REVOKE EXECUTE ON FUNCTION role_cluster.cron_prev(text, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.cron_prev(text, timestamptz, text) TO role_cluster_admin, role_cluster_node;

/* ---- Fixed intervals (src/rc_every.c) ---- */

CREATE FUNCTION role_cluster.every_next(after timestamptz, every interval,
										timezone text DEFAULT 'UTC', n bigint DEFAULT 1)
	RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'rc_every_next_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.every_next(timestamptz, interval, text, bigint) IS
	'The due time n intervals after "after" (n at once: for months, not always where n single steps land): months and days on the calendar of the time zone given (UTC by default), the local time of day kept; hours, minutes and seconds as elapsed time; raises 22023 for an interval with a negative part, a zero one or a bad zone';
REVOKE EXECUTE ON FUNCTION role_cluster.every_next(timestamptz, interval, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.every_next(timestamptz, interval, text, bigint) TO role_cluster_admin, role_cluster_node;

CREATE FUNCTION role_cluster.every_latest(after timestamptz, every interval, at_or_before timestamptz,
										  timezone text DEFAULT 'UTC')
	RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'rc_every_latest_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.every_latest(timestamptz, interval, timestamptz, text) IS
	'The latest due time at or before "at_or_before" of the series after, every_next(after), every_next of that, ... ("after" itself if the first step is past it)';
REVOKE EXECUTE ON FUNCTION role_cluster.every_latest(timestamptz, interval, timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.every_latest(timestamptz, interval, timestamptz, text) TO role_cluster_admin, role_cluster_node;

/* ---- Recurring schedules ---- */

/*
 * A recurring task: by cron expression or by fixed interval (exactly one).
 * Both are read in the schedule's own time zone (UTC by default), never
 * the session's, so that every scheduler computes the same due times.
 * next_due is filled in on insert (the first due time after now) and when
 * cron, every or timezone change, unless the same statement sets it (to
 * any value, the one it has included); set it by hand to anchor an
 * interval schedule ("every day from 03:00").
 * Re-enabling a schedule whose next_due passed while it was off moves it to
 * the first due time of its series after now: the missed ones are skipped,
 * and an interval schedule keeps its anchor.
 *
 * catch_up says what fire_schedules() does with due times that passed
 * while nothing fired (the server was down, the worker disabled):
 *	'latest' (default): fire once, for the latest missed due time, and go
 *				on with the first due time in the future;
 *	'all':		fire every missed due time, each its own task (at most 1000
 *				per call, all schedules together; the next call goes on).
 */
CREATE TABLE role_cluster.schedule (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE CONSTRAINT schedule_name_not_empty CHECK (name <> ''),
	task_type role_cluster.task_type NOT NULL,
	kind text NOT NULL DEFAULT '',
	payload jsonb NOT NULL DEFAULT '{}',
	shard_key text,
	priority integer NOT NULL DEFAULT 0,
	max_attempts integer NOT NULL DEFAULT 5
		CONSTRAINT schedule_max_attempts_positive CHECK (max_attempts >= 1),
	cron text,
	every interval CONSTRAINT schedule_every_positive CHECK (every > interval '0'),
	timezone text NOT NULL DEFAULT 'UTC',
	catch_up text NOT NULL DEFAULT 'latest'
		CONSTRAINT schedule_catch_up_valid CHECK (catch_up IN ('latest', 'all')),
	enabled boolean NOT NULL DEFAULT true,
	next_due timestamptz NOT NULL
		CONSTRAINT schedule_next_due_finite CHECK (pg_catalog.isfinite(next_due)),
	last_due timestamptz,
	last_fired_at timestamptz,
	last_task_id bigint,
	last_error text,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	CONSTRAINT schedule_cron_or_every CHECK ((cron IS NULL) <> (every IS NULL)),
	CONSTRAINT schedule_push_needs_shard_key
		CHECK (task_type <> 'pushNotifications' OR coalesce(shard_key, '') <> '')
);
COMMENT ON TABLE role_cluster.schedule IS
	'Recurring tasks, by 5-field cron expression or fixed interval, fired once per due time by fire_schedules()';
COMMENT ON COLUMN role_cluster.schedule.id IS 'Schedule id';
COMMENT ON COLUMN role_cluster.schedule.name IS 'Unique, non-empty name of the schedule';
COMMENT ON COLUMN role_cluster.schedule.task_type IS 'Type of the tasks it enqueues (routes them)';
COMMENT ON COLUMN role_cluster.schedule.kind IS 'kind of the tasks it enqueues';
COMMENT ON COLUMN role_cluster.schedule.payload IS 'payload of the tasks it enqueues';
COMMENT ON COLUMN role_cluster.schedule.shard_key IS 'shard_key of the tasks it enqueues (required for pushNotifications)';
COMMENT ON COLUMN role_cluster.schedule.priority IS 'priority of the tasks it enqueues';
COMMENT ON COLUMN role_cluster.schedule.max_attempts IS 'max_attempts of the tasks it enqueues';
COMMENT ON COLUMN role_cluster.schedule.enabled IS
	'Whether it fires; re-enabling skips the due times that passed while it was off';
COMMENT ON COLUMN role_cluster.schedule.last_fired_at IS 'When it last enqueued a task';
COMMENT ON COLUMN role_cluster.schedule.created_at IS 'When it was created';
COMMENT ON COLUMN role_cluster.schedule.updated_at IS 'When it was last changed (firing included)';
COMMENT ON COLUMN role_cluster.schedule.cron IS
	'minute hour day-of-month month day-of-week (Vixie cron syntax), read in the schedule''s time zone; NULL when every is set';
COMMENT ON COLUMN role_cluster.schedule.every IS
	'Fixed interval between due times: months and days on the calendar of the schedule''s time zone, hours, minutes and seconds as elapsed time (see every_next); NULL when cron is set';
COMMENT ON COLUMN role_cluster.schedule.timezone IS
	'Time zone that cron fields and interval arithmetic are read in (a pg_timezone_names name)';
COMMENT ON COLUMN role_cluster.schedule.catch_up IS
	'Missed due times: ''latest'' fires once for the latest, ''all'' fires each';
COMMENT ON COLUMN role_cluster.schedule.next_due IS
	'The next due time; computed on insert and when the timing changes unless set explicitly';
COMMENT ON COLUMN role_cluster.schedule.last_due IS 'The due time fired last';
COMMENT ON COLUMN role_cluster.schedule.last_task_id IS 'The task enqueued by the last firing';
COMMENT ON COLUMN role_cluster.schedule.last_error IS
	'Why the last attempt to fire failed (it is retried at the next call), NULL after a success';
COMMENT ON SEQUENCE role_cluster.schedule_id_seq IS 'Schedule ids';
SELECT pg_catalog.pg_extension_config_dump('role_cluster.schedule', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.schedule_id_seq', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON role_cluster.schedule TO role_cluster_admin;
GRANT USAGE, SELECT ON SEQUENCE role_cluster.schedule_id_seq TO role_cluster_admin;

/*
 * One row per (schedule, due time) ever fired: the primary key is what
 * makes a due time fire exactly once, however many schedulers race.
 */
CREATE TABLE role_cluster.schedule_firing (
	schedule_id bigint NOT NULL REFERENCES role_cluster.schedule ON DELETE CASCADE,
	due_at timestamptz NOT NULL,
	fired_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	task_id bigint,
	PRIMARY KEY (schedule_id, due_at)
) WITH (autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_insert_scale_factor = 0.05);
CREATE INDEX schedule_firing_fired_at_idx ON role_cluster.schedule_firing (fired_at);
COMMENT ON TABLE role_cluster.schedule_firing IS
	'The due times each schedule fired and the task each enqueued; the primary key makes every due time fire once; pruned after role_cluster.dead_retention';
COMMENT ON COLUMN role_cluster.schedule_firing.schedule_id IS 'The schedule';
COMMENT ON COLUMN role_cluster.schedule_firing.due_at IS 'The due time that fired (once: the row stays until pruned after role_cluster.dead_retention)';
COMMENT ON COLUMN role_cluster.schedule_firing.fired_at IS 'When it fired';
COMMENT ON COLUMN role_cluster.schedule_firing.task_id IS 'The task it enqueued (pruned tasks are not kept)';
GRANT SELECT ON role_cluster.schedule_firing TO role_cluster_admin;

/* The due time that follows "after" for a cron or interval schedule */
CREATE FUNCTION role_cluster.schedule_step(cron text, every interval, timezone text,
										   after timestamptz) RETURNS timestamptz
	LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF cron IS NOT NULL THEN
		RETURN role_cluster.cron_next(cron, after, timezone);
	END IF;
	RETURN role_cluster.every_next(after, every, timezone);
END
$$;
COMMENT ON FUNCTION role_cluster.schedule_step(text, interval, text, timestamptz) IS
	'The due time of a cron or interval schedule that follows "after", in the schedule''s time zone';
REVOKE EXECUTE ON FUNCTION role_cluster.schedule_step(text, interval, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.schedule_step(text, interval, text, timestamptz) TO role_cluster_admin;

/*
 * The rules for a schedule row being written: validates its timing and
 * fills in next_due.  Called by the trigger below with the row written
 * (new_row), the row before (old_row, NULL on insert) and whether the
 * statement sets next_due itself (always on insert), which only C can
 * tell (src/rc_schedule.c); returns the row to write.
 */
CREATE FUNCTION role_cluster.schedule_fill(inserting boolean, new_row role_cluster.schedule,
										   old_row role_cluster.schedule,
										   next_due_given boolean)
	RETURNS role_cluster.schedule
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	every_changed boolean;
	timing_changed boolean;
BEGIN
	/* the other messages name the schedule */
	IF new_row.name IS NULL THEN
		RAISE EXCEPTION 'schedule name must not be NULL'
			USING ERRCODE = 'not_null_violation';
	END IF;
	IF (new_row.cron IS NULL) = (new_row.every IS NULL) THEN
		RAISE EXCEPTION 'schedule "%" needs exactly one of cron and every', new_row.name
			USING ERRCODE = 'check_violation',
				  HINT = 'Set cron to a 5-field cron expression such as ''*/5 * * * *'', or every to an interval such as ''1 hour''.';
	END IF;
	/* the table's checks, here first so that the error names the value */
	IF new_row.name = '' THEN
		RAISE EXCEPTION 'schedule name must not be empty'
			USING ERRCODE = 'check_violation';
	END IF;
	IF new_row.max_attempts < 1 THEN
		RAISE EXCEPTION 'max_attempts of schedule "%" must be 1 or more, not %', new_row.name, new_row.max_attempts
			USING ERRCODE = 'check_violation';
	END IF;
	IF new_row.catch_up NOT IN ('latest', 'all') THEN
		RAISE EXCEPTION 'catch_up of schedule "%" must be latest or all, not "%"', new_row.name, new_row.catch_up
			USING ERRCODE = 'check_violation',
				  HINT = 'latest fires once for the latest due time missed while nothing fired, all fires each of them.';
	END IF;
	IF new_row.task_type = 'pushNotifications' AND coalesce(new_row.shard_key, '') = '' THEN
		RAISE EXCEPTION 'schedule "%" of type pushNotifications needs a shard_key', new_row.name
			USING ERRCODE = 'check_violation',
				  HINT = 'Set shard_key to the subscriber its push notifications are for.';
	END IF;
	IF NOT pg_catalog.isfinite(new_row.next_due) THEN
		RAISE EXCEPTION 'next due time of schedule "%" must be finite, not %', new_row.name, new_row.next_due
			USING ERRCODE = 'check_violation',
				  HINT = 'Set next_due to a time, or to NULL for the first due time after now; set enabled = false to stop the schedule.';
	END IF;
	/*
	 * The timing, when written: a bad cron expression or zone raises 22023
	 * naming it, as does an interval with a negative part, a zero one or
	 * one under a second.  (fire_schedules()' own updates leave it alone.)
	 * A next_due the statement gives must have a due time after it (22008
	 * when it runs past the end of the range), or its firing would fail
	 * (fire_schedules() then disables it).
	 * Intervals compare by their text: = holds '1 mon' and '30 days' equal,
	 * and even '-1 mon 31 days' and '1 day', which step differently.
	 */
	every_changed := NOT inserting AND new_row.every::text IS DISTINCT FROM old_row.every::text;
	timing_changed := NOT inserting
		AND (new_row.cron IS DISTINCT FROM old_row.cron
			 OR every_changed OR new_row.timezone IS DISTINCT FROM old_row.timezone);
	IF inserting OR timing_changed THEN
		IF new_row.cron IS NOT NULL THEN
			PERFORM role_cluster.cron_next(new_row.cron, now(), new_row.timezone);
		ELSE
			/* each argument of its parameter's type: no overload made beside it can fit better */
			PERFORM role_cluster.every_next(now(), new_row.every, new_row.timezone, 0::bigint);
		END IF;
	END IF;

	IF inserting THEN
		/* created_at and updated_at as given (a restore's), else their defaults */
		IF new_row.next_due IS NULL THEN
			new_row.next_due := role_cluster.schedule_step(new_row.cron, new_row.every,
														   new_row.timezone, now());
		ELSE
			PERFORM role_cluster.schedule_step(new_row.cron, new_row.every, new_row.timezone,
											   new_row.next_due);
		END IF;
		RETURN new_row;
	END IF;

	IF new_row.next_due IS NULL OR (timing_changed AND NOT next_due_given) THEN
		/* new timing: no backlog, the next due time from now */
		new_row.next_due := role_cluster.schedule_step(new_row.cron, new_row.every,
													   new_row.timezone, now());
	ELSIF new_row.enabled AND NOT old_row.enabled AND new_row.next_due = old_row.next_due
		AND new_row.next_due <= now() THEN
		/*
		 * Re-enabled after its next due time passed: those that passed
		 * while it was off are skipped, and it goes on with the first of
		 * its series after now (an interval schedule keeps its anchor).
		 * Unless the statement moves next_due: then from there.  (Set to
		 * the value it has, as a script writing every column does, it is
		 * skipped all the same: the missed due times are not fired.)
		 */
		IF new_row.cron IS NOT NULL THEN
			new_row.next_due := role_cluster.cron_next(new_row.cron, now(), new_row.timezone);
		ELSE
			new_row.next_due := role_cluster.every_next(
				role_cluster.every_latest(new_row.next_due, new_row.every, now(), new_row.timezone),
				new_row.every, new_row.timezone);
		END IF;
	ELSIF next_due_given THEN
		PERFORM role_cluster.schedule_step(new_row.cron, new_row.every, new_row.timezone,
										   new_row.next_due);
	END IF;
	new_row.updated_at := now();
	RETURN new_row;
END
$$;
COMMENT ON FUNCTION role_cluster.schedule_fill(boolean, role_cluster.schedule, role_cluster.schedule, boolean) IS
	'The rules of schedule_before_write(): validates a schedule''s timing and computes next_due, unless the statement sets it';
REVOKE EXECUTE ON FUNCTION role_cluster.schedule_fill(boolean, role_cluster.schedule, role_cluster.schedule, boolean) FROM PUBLIC;

/*
 * The trigger itself is C: it tells schedule_fill() whether the statement
 * sets next_due, which PL/pgSQL cannot see.
 */
CREATE FUNCTION role_cluster.schedule_before_write() RETURNS trigger
	AS 'MODULE_PATHNAME', 'rc_schedule_before_write' LANGUAGE C;
COMMENT ON FUNCTION role_cluster.schedule_before_write() IS
	'Trigger: validates a schedule''s cron expression and time zone and computes next_due (schedule_fill)';
REVOKE EXECUTE ON FUNCTION role_cluster.schedule_before_write() FROM PUBLIC;

CREATE TRIGGER schedule_before_write
	BEFORE INSERT OR UPDATE ON role_cluster.schedule
	FOR EACH ROW EXECUTE FUNCTION role_cluster.schedule_before_write();
COMMENT ON TRIGGER schedule_before_write ON role_cluster.schedule IS
	'Validates the cron expression and time zone and computes next_due';

/*
 * A schedule added, or its timing changed, may fall due before the time
 * the worker noted after its last fire_schedules(): the commit wakes it to
 * look at the schedules again.
 */
CREATE TRIGGER schedule_wake_worker
	AFTER INSERT OR UPDATE OF next_due, enabled, cron, every, timezone
	ON role_cluster.schedule
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.wake_worker_trigger('schedules');
COMMENT ON TRIGGER schedule_wake_worker ON role_cluster.schedule IS
	'Wakes the background worker at commit to fire the schedules again, for a new or changed timing';

/*
 * Enqueues one task per due time of every enabled schedule whose next_due
 * has come, and advances next_due.  Exactly once per due time: a due time
 * fires only if its schedule_firing row could be inserted, in the same
 * transaction as the enqueue.  Schedules locked by another transaction are
 * skipped (a concurrent caller fires them; otherwise the worker looks
 * again a second later).  A schedule that fails (enqueue raised) keeps its
 * next_due and records last_error; the others fire regardless, but for
 * those of a task type whose lock a firing gave up waiting for: they are
 * not tried until the next call.  At most 1000 due times a call, all
 * schedules together, shared so that a backlog never holds up the others:
 * the schedules that fire once (catch_up = 'latest') go first, then those
 * that catch up, the least behind first, each taking an equal share of
 * what is left (at least one due time), so the one furthest behind takes
 * the rest.
 */
CREATE FUNCTION role_cluster.fire_schedules() RETURNS integer
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	s role_cluster.schedule;
	t timestamptz := now();
	fired integer := 0;
	steps integer := 0;			/* due times gone through, all schedules together */
	catching_up integer;		/* schedules with catch_up = 'all' not reached yet */
	share integer;				/* due times this schedule may go through */
	n integer;
	fired_here integer;
	due timestamptz;
	nxt timestamptz;
	last_fired timestamptz;
	last_task bigint;
	new_task bigint;
	msg text;
	msg_detail text;
	code text;
	/* types whose enqueue gave up waiting for a lock in this call */
	blocked role_cluster.task_type[] := '{}';
	blocked_by text[] := '{}';
BEGIN
	catching_up := (SELECT pg_catalog.count(*) FROM role_cluster.schedule
					WHERE enabled AND next_due <= t AND catch_up = 'all');
	FOR s IN
		SELECT * FROM role_cluster.schedule
		 WHERE enabled AND next_due <= t
		 ORDER BY catch_up = 'all', CASE WHEN catch_up = 'all' THEN next_due END DESC, next_due
		   FOR UPDATE SKIP LOCKED
	LOOP
		/*
		 * At most 1000 due times a call, so that a backlog (catch_up =
		 * 'all' after an outage) never holds up the worker's dispatch and
		 * reclaim for long: the schedules left due are noted below, and
		 * the worker calls again a second later.
		 */
		EXIT WHEN steps >= 1000;
		share := 1;
		IF s.catch_up = 'all' THEN
			share := greatest(1, (1000 - steps) / greatest(catching_up, 1));
			catching_up := catching_up - 1;
		END IF;
		/*
		 * A type whose lock an earlier firing gave up on (a change of its
		 * policy waits for an open enqueue, say) would make each further
		 * schedule of it wait out lock_timeout too, holding up the
		 * worker's loop that much each time: they are not tried in this
		 * call, and say so.
		 */
		IF s.task_type = ANY (blocked) THEN
			msg := pg_catalog.format('not tried: the firing of schedule "%s", of the same task type, gave up waiting for a lock in this call',
									 blocked_by[pg_catalog.array_position(blocked, s.task_type)]);
			UPDATE role_cluster.schedule SET last_error = msg WHERE id = s.id;
			RAISE WARNING 'schedule "%" did not fire: %', s.name, msg;
			CONTINUE;
		END IF;
		BEGIN
			due := s.next_due;
			last_fired := NULL;
			last_task := NULL;
			fired_here := 0;
			n := 0;

			IF s.catch_up = 'latest' THEN
				/* skip to the latest due time at or before now */
				IF s.cron IS NOT NULL THEN
					due := greatest(due, role_cluster.cron_prev(s.cron, t, s.timezone));
				ELSE
					due := role_cluster.every_latest(due, s.every, t, s.timezone);
				END IF;
			END IF;

			LOOP
				INSERT INTO role_cluster.schedule_firing (schedule_id, due_at)
				VALUES (s.id, due)
				ON CONFLICT DO NOTHING;
				IF FOUND THEN
					/*
					 * No dedupe key: the firing row makes it once only, and
					 * a key anyone could give first would stand in for it.
					 */
					new_task := role_cluster.enqueue(s.task_type, s.kind, s.payload, s.shard_key,
													 due, s.priority, s.max_attempts);
					UPDATE role_cluster.schedule_firing SET task_id = new_task
					 WHERE schedule_id = s.id AND due_at = due;
					fired_here := fired_here + 1;
					last_task := new_task;
				END IF;
				last_fired := due;
				steps := steps + 1;
				n := n + 1;
				nxt := role_cluster.schedule_step(s.cron, s.every, s.timezone, due);
				IF nxt <= due THEN
					RAISE EXCEPTION 'interval % of schedule "%" does not advance from %',
						s.every, s.name, due
						USING ERRCODE = 'invalid_parameter_value';
				END IF;
				due := nxt;
				EXIT WHEN s.catch_up <> 'all' OR due > t OR n >= share OR steps >= 1000;
			END LOOP;

			UPDATE role_cluster.schedule
			   SET next_due = due,
				   last_due = last_fired,
				   last_fired_at = CASE WHEN last_task IS NULL THEN last_fired_at ELSE t END,
				   last_task_id = coalesce(last_task, last_task_id),
				   last_error = NULL
			 WHERE id = s.id;
			/* counted only now: a failure in this block rolls its tasks back */
			fired := fired + fired_here;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, msg_detail = PG_EXCEPTION_DETAIL,
				code = RETURNED_SQLSTATE;
			IF code = '55P03' THEN		/* lock_not_available */
				blocked := blocked || s.task_type;
				blocked_by := blocked_by || s.name;
			END IF;
			/*
			 * Its due times run past the end of the range (a next_due that
			 * passed the write check, whose own next one does not): no
			 * later call can fire it either, so it is disabled, not tried
			 * and warned about at every poll.
			 */
			IF code = '22008' THEN		/* datetime_field_overflow */
				msg_detail := msg_detail || CASE WHEN msg_detail <> '' THEN ' ' ELSE '' END
					|| 'The schedule is disabled: its series ends there.';
			END IF;
			/* the detail too: it often holds the facts (which value, why) */
			UPDATE role_cluster.schedule
			   SET last_error = msg || CASE WHEN msg_detail <> '' THEN ': ' || msg_detail ELSE '' END,
				   enabled = enabled AND code <> '22008'
			 WHERE id = s.id;
			/* (an empty DETAIL would print as an empty line) */
			IF msg_detail <> '' THEN
				RAISE WARNING 'schedule "%" did not fire: %', s.name, msg
					USING DETAIL = msg_detail;
			ELSE
				RAISE WARNING 'schedule "%" did not fire: %', s.name, msg;
			END IF;
		END;
	END LOOP;
	/*
	 * For the worker: when to fire again.  The earliest due time ahead; or
	 * in a second, if a schedule is left due without an error (locked by
	 * another transaction, or with more of a backlog than one call fires).
	 * One whose firing failed waits for the next call (the poll at the
	 * latest).
	 */
	PERFORM role_cluster.note_schedules(least(
		(SELECT pg_catalog.min(c.next_due) FROM role_cluster.schedule c
		 WHERE c.enabled AND c.next_due > t),
		CASE WHEN EXISTS (SELECT FROM role_cluster.schedule c
						  WHERE c.enabled AND c.next_due <= t AND c.last_error IS NULL)
			THEN t + interval '1 second' END));
	RETURN fired;
END
$$;
COMMENT ON FUNCTION role_cluster.fire_schedules() IS
	'Enqueues the tasks of due schedules, once per due time even when callers race, advances next_due and returns how many it enqueued; the background worker calls it every poll, when a schedule falls due and when one is written';
REVOKE EXECUTE ON FUNCTION role_cluster.fire_schedules() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.fire_schedules() TO role_cluster_admin;

/* ---- Pruning ---- */

/*
 * now() less an interval, or -infinity when that comes before the earliest
 * timestamp: "older than a million years" is nothing, not an error.
 * (Comparing the interval first would not do: intervals compare a year as
 * 360 days.)
 */
CREATE FUNCTION role_cluster.time_ago(span interval) RETURNS timestamptz
	LANGUAGE plpgsql STABLE
AS $$
BEGIN
	RETURN pg_catalog.now() - span;
EXCEPTION
	WHEN datetime_field_overflow THEN
		RETURN '-infinity';
END
$$;
COMMENT ON FUNCTION role_cluster.time_ago(interval) IS
	'now() less the interval, or -infinity when that is before the earliest timestamp';
REVOKE EXECUTE ON FUNCTION role_cluster.time_ago(interval) FROM PUBLIC;

/*
 * Deletes, in one short transaction, at most max_rows done tasks that
 * finished more than "retention" ago, at most max_rows dead ones older
 * than "dead_retention", at most max_rows schedule firings older than
 * "dead_retention", and at most max_rows nodes gone (deregistered, lease
 * lapsed or session ended) and silent for longer than "node_retention"
 * that hold no task, with their fetch marks.  NULL arguments take the
 * settings role_cluster.retention, role_cluster.dead_retention,
 * role_cluster.prune_batch and role_cluster.node_retention.  Rows locked
 * by others are skipped, never waited for.  The background worker calls
 * it every role_cluster.prune_interval, and again at its next loop while
 * a call deletes a full batch.
 */
CREATE FUNCTION role_cluster.prune(retention interval DEFAULT NULL,
								   dead_retention interval DEFAULT NULL,
								   max_rows integer DEFAULT NULL,
								   node_retention interval DEFAULT NULL) RETURNS bigint
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	AS $$
DECLARE
	keep_done interval := coalesce(retention,
								   current_setting('role_cluster.retention', true)::interval,
								   interval '1 hour');
	keep_dead interval := coalesce(dead_retention,
								   current_setting('role_cluster.dead_retention', true)::interval,
								   interval '7 days');
	lim integer := coalesce(max_rows,
							current_setting('role_cluster.prune_batch', true)::integer,
							10000);
	keep_nodes interval := coalesce(node_retention,
									current_setting('role_cluster.node_retention', true)::interval,
									interval '7 days');
	done_before timestamptz;
	dead_before timestamptz;
	nodes_before timestamptz;
	gone text[];
	marked text[];
	n bigint;
	total bigint := 0;
BEGIN
	IF keep_done < interval '0' THEN
		RAISE EXCEPTION 'retention % is negative', keep_done
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass zero or more, or NULL for role_cluster.retention.';
	END IF;
	IF keep_dead < interval '0' THEN
		RAISE EXCEPTION 'dead_retention % is negative', keep_dead
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass zero or more, or NULL for role_cluster.dead_retention.';
	END IF;
	IF lim < 1 THEN
		RAISE EXCEPTION 'max_rows % is not positive', lim
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass 1 or more, or NULL for role_cluster.prune_batch.';
	END IF;
	IF keep_nodes < interval '0' THEN
		RAISE EXCEPTION 'node_retention % is negative', keep_nodes
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass zero or more, or NULL for role_cluster.node_retention.';
	END IF;
	/* the nodes' check below needs a snapshot taken after their lock */
	PERFORM role_cluster.require_read_committed();
	done_before := role_cluster.time_ago(keep_done);
	dead_before := role_cluster.time_ago(keep_dead);
	nodes_before := role_cluster.time_ago(keep_nodes);

	/*
	 * Each DELETE takes its rows from an array that one scan filled, never
	 * from a join: the planner may make "id IN (SELECT ... FOR UPDATE)" a
	 * nested loop that runs the locking subquery again for every row of
	 * the table, which kept a worker's prune() busy for minutes on 50,000
	 * tasks once a vacuum had changed the table's statistics.
	 */
	DELETE FROM role_cluster.task
	 WHERE id = ANY (ARRAY(SELECT id FROM role_cluster.task
						   WHERE state = 'done' AND finished_at < done_before
						   LIMIT lim
						   FOR UPDATE SKIP LOCKED));
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM role_cluster.task
	 WHERE id = ANY (ARRAY(SELECT id FROM role_cluster.task
						   WHERE state = 'dead' AND finished_at < dead_before
						   LIMIT lim
						   FOR UPDATE SKIP LOCKED));
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	DELETE FROM role_cluster.schedule_firing
	 WHERE ctid = ANY (ARRAY(SELECT ctid FROM role_cluster.schedule_firing
							 WHERE fired_at < dead_before
							 LIMIT lim
							 FOR UPDATE SKIP LOCKED));
	GET DIAGNOSTICS n = ROW_COUNT;
	total := total + n;

	/*
	 * Nodes long gone, and their fetch marks.  A lost node is never handed
	 * work, and leaves that state only through a write to its row.  So,
	 * once its row is locked here (which holds off every hand-out), one
	 * that a later statement, with a snapshot taken after the lock, sees
	 * holding no running task holds none when it is deleted.  One that
	 * still holds some is left alone (not even locked) until reclaim()
	 * has taken them back; one whose mark another transaction holds (a
	 * fetch left open) waits for it to end.  Registering the id again
	 * later starts a new node.
	 */
	gone := ARRAY(SELECT g.node_id FROM role_cluster.node g
				  WHERE greatest(g.last_heartbeat, g.deregistered_at) < nodes_before
					AND role_cluster.node_is_lost(g)
					AND NOT EXISTS (SELECT FROM role_cluster.task t
									WHERE t.node_id = g.node_id AND t.state = 'running')
				  LIMIT lim
				  FOR UPDATE SKIP LOCKED);
	/*
	 * Only the marks of nodes to delete: reclaim() takes back a lapsed
	 * task through its node's mark, and skips a mark held elsewhere.
	 */
	marked := ARRAY(SELECT f.node_id FROM role_cluster.node_fetch f
					WHERE f.node_id = ANY (gone)
						AND NOT EXISTS (SELECT FROM role_cluster.task t
										WHERE t.node_id = f.node_id AND t.state = 'running')
					FOR UPDATE SKIP LOCKED);
	WITH deleted AS (
		DELETE FROM role_cluster.node m
		 WHERE m.node_id = ANY (gone)
		   AND NOT EXISTS (SELECT FROM role_cluster.task t
						   WHERE t.node_id = m.node_id AND t.state = 'running')
		   AND (m.node_id = ANY (marked)
				OR NOT EXISTS (SELECT FROM role_cluster.node_fetch f WHERE f.node_id = m.node_id))
		RETURNING m.node_id),
	marks AS (
		DELETE FROM role_cluster.node_fetch f
		 WHERE f.node_id = ANY (ARRAY(SELECT deleted.node_id FROM deleted)))
	SELECT count(*) INTO n FROM deleted;
	total := total + n;

	RETURN total;
END
$$;
COMMENT ON FUNCTION role_cluster.prune(interval, interval, integer, interval) IS
	'Deletes done tasks older than role_cluster.retention, dead ones and schedule firings older than role_cluster.dead_retention, and nodes gone and silent for longer than role_cluster.node_retention that hold no task, at most max_rows of each per call; returns how many rows it deleted (fetch marks not counted)';
REVOKE EXECUTE ON FUNCTION role_cluster.prune(interval, interval, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.prune(interval, interval, integer, interval) TO role_cluster_admin;
