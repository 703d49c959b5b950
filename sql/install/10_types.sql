
/* ---- ClusterTaskGroup and ClusterListenerGroup (src/rc_type.c) ---- */

CREATE TYPE role_cluster.task_group;

CREATE FUNCTION role_cluster.task_group_in(cstring) RETURNS role_cluster.task_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.task_group_out(role_cluster.task_group) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.task_group_recv(internal) RETURNS role_cluster.task_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.task_group_send(role_cluster.task_group) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE role_cluster.task_group (
	INPUT = role_cluster.task_group_in,
	OUTPUT = role_cluster.task_group_out,
	RECEIVE = role_cluster.task_group_recv,
	SEND = role_cluster.task_group_send,
	INTERNALLENGTH = 4,
	PASSEDBYVALUE,
	ALIGNMENT = int4,
	STORAGE = plain
);
COMMENT ON TYPE role_cluster.task_group IS
	'ClusterTaskGroup: EnableAll, DisableAll, EnableSome(taskTypes) or DisableSome(taskTypes)';

CREATE TYPE role_cluster.listener_group;

CREATE FUNCTION role_cluster.listener_group_in(cstring) RETURNS role_cluster.listener_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.listener_group_out(role_cluster.listener_group) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.listener_group_recv(internal) RETURNS role_cluster.listener_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.listener_group_send(role_cluster.listener_group) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE role_cluster.listener_group (
	INPUT = role_cluster.listener_group_in,
	OUTPUT = role_cluster.listener_group_out,
	RECEIVE = role_cluster.listener_group_recv,
	SEND = role_cluster.listener_group_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);
COMMENT ON TYPE role_cluster.listener_group IS
	'ClusterListenerGroup: EnableAll, DisableAll, EnableSome(listenerIds) or DisableSome(listenerIds)';
