
/* ---- The background worker: wake-ups, counters (src/rc_shmem.c) ---- */

CREATE FUNCTION role_cluster.wake_worker() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_wake_worker' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.wake_worker() IS
	'Wakes the background worker when the calling transaction commits (not on rollback); a no-op when the library is not preloaded';
REVOKE EXECUTE ON FUNCTION role_cluster.wake_worker() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.wake_worker() TO role_cluster_admin, role_cluster_node;

CREATE FUNCTION role_cluster.watch_session() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_watch_session' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.watch_session() IS
	'Makes the calling session wake the background worker when it ends, so that reclaim() runs at once; a no-op when the library is not preloaded';
REVOKE EXECUTE ON FUNCTION role_cluster.watch_session() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.watch_session() TO role_cluster_admin, role_cluster_node;

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
	'The background worker: pid, state (not running, starting, disabled, standby, no extension, running), loops, commits that woke it, tasks routed, nodes notified, tasks reclaimed, schedule firings, rows pruned, failed steps, loop times and the last error, since stats_reset (a server crash also resets them)';
GRANT SELECT ON role_cluster.worker_stats TO role_cluster_admin;

CREATE FUNCTION role_cluster.worker_stats_reset() RETURNS void
	AS 'MODULE_PATHNAME', 'rc_worker_stats_reset' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION role_cluster.worker_stats_reset() IS
	'Zeroes the background worker''s counters, loop times and last error';
REVOKE EXECUTE ON FUNCTION role_cluster.worker_stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.worker_stats_reset() TO role_cluster_admin;
