
/* ---- Evaluation: does a role enable a task or a listener? (src/rc_cache.c) ---- */

/*
 * Answered from a per-backend cache of cluster_role and of the ids of
 * network_listener.  These statement triggers tell every session that the
 * table changed (a relcache invalidation, delivered to other sessions at
 * commit); the next lookup rebuilds the cache.  They fire always: the
 * cache must follow changes made with session_replication_role = replica
 * too.  The logical replication apply worker fires row triggers only: for
 * it, the same function as a row trigger, that fires in replica mode only
 * (where the apply worker runs).  (trigger_modes() lists such modes, and
 * the end of the install script applies them.)
 */
CREATE FUNCTION role_cluster.role_cache_invalidate() RETURNS trigger
	AS 'MODULE_PATHNAME', 'role_cache_invalidate'
	LANGUAGE C;
COMMENT ON FUNCTION role_cluster.role_cache_invalidate() IS
	'Trigger: tells every session to rebuild its role cache after a change to cluster_role or network_listener';
REVOKE EXECUTE ON FUNCTION role_cluster.role_cache_invalidate() FROM PUBLIC;

CREATE TRIGGER cluster_role_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_cluster.cluster_role
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.role_cache_invalidate();
COMMENT ON TRIGGER cluster_role_cache_invalidate ON role_cluster.cluster_role IS
	'Invalidates every session''s role cache when roles change';

CREATE TRIGGER network_listener_cache_invalidate
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON role_cluster.network_listener
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.role_cache_invalidate();
COMMENT ON TRIGGER network_listener_cache_invalidate ON role_cluster.network_listener IS
	'Invalidates every session''s role cache when listeners change';

CREATE TRIGGER cluster_role_cache_invalidate_applied
	AFTER INSERT OR UPDATE OR DELETE ON role_cluster.cluster_role
	FOR EACH ROW EXECUTE FUNCTION role_cluster.role_cache_invalidate();
COMMENT ON TRIGGER cluster_role_cache_invalidate_applied ON role_cluster.cluster_role IS
	'Invalidates every session''s role cache when logical replication applies a change to roles';

CREATE TRIGGER network_listener_cache_invalidate_applied
	AFTER INSERT OR UPDATE OR DELETE ON role_cluster.network_listener
	FOR EACH ROW EXECUTE FUNCTION role_cluster.role_cache_invalidate();
COMMENT ON TRIGGER network_listener_cache_invalidate_applied ON role_cluster.network_listener IS
	'Invalidates every session''s role cache when logical replication applies a change to listeners';

/*
 * Not STRICT: a NULL role means "no role assigned" and enables everything.
 * An unknown role raises 42704 unless role_cluster.unknown_role =
 * 'enable_all'.  STABLE: the answer follows the statement's snapshot.
 */
CREATE FUNCTION role_cluster.role_enables_task(role text, task role_cluster.task_type)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'role_enables_task'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.role_enables_task(text, role_cluster.task_type) IS
	'Does the role (NULL: no role, which enables everything) enable the task type?';

CREATE FUNCTION role_cluster.role_enables_listener(role text, listener text)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'role_enables_listener'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.role_enables_listener(text, text) IS
	'Does the role (NULL: no role, which enables everything) enable the network listener?';

CREATE FUNCTION role_cluster.role_tasks(role text)
	RETURNS SETOF role_cluster.task_type
	AS 'MODULE_PATHNAME', 'role_tasks'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION role_cluster.role_tasks(text) IS
	'The task types the role (NULL: no role) enables, in the enum''s order';

CREATE FUNCTION role_cluster.role_listeners(role text)
	RETURNS SETOF text
	AS 'MODULE_PATHNAME', 'role_listeners'
	LANGUAGE C STABLE PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION role_cluster.role_listeners(text) IS
	'The ids of the network listeners the role (NULL: no role) enables, in byte order';

CREATE FUNCTION role_cluster.role_exists(role text)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'role_exists'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.role_exists(text) IS
	'Is there a cluster_role with this name? (NULL for NULL)';

REVOKE EXECUTE ON FUNCTION
	role_cluster.role_enables_task(text, role_cluster.task_type),
	role_cluster.role_enables_listener(text, text),
	role_cluster.role_tasks(text),
	role_cluster.role_listeners(text),
	role_cluster.role_exists(text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	role_cluster.role_enables_task(text, role_cluster.task_type),
	role_cluster.role_enables_listener(text, text),
	role_cluster.role_tasks(text),
	role_cluster.role_listeners(text),
	role_cluster.role_exists(text)
	TO role_cluster_node, role_cluster_admin;
