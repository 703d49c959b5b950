
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
/* STABLE, as textsend and textrecv: listener ids travel in client_encoding */
CREATE FUNCTION role_cluster.listener_group_recv(internal) RETURNS role_cluster.listener_group
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION role_cluster.listener_group_send(role_cluster.listener_group) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;

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

COMMENT ON FUNCTION role_cluster.task_group_in(cstring) IS
	'Text input of task_group: the seed''s JSON, the object-of-true form, or a short form';
COMMENT ON FUNCTION role_cluster.task_group_out(role_cluster.task_group) IS
	'Text output of task_group: canonical JSON';
COMMENT ON FUNCTION role_cluster.task_group_recv(internal) IS
	'Binary input of task_group, checked as strictly as text input';
COMMENT ON FUNCTION role_cluster.task_group_send(role_cluster.task_group) IS
	'Binary output of task_group';
COMMENT ON FUNCTION role_cluster.listener_group_in(cstring) IS
	'Text input of listener_group: the seed''s JSON, the object-of-true form, or a short form';
COMMENT ON FUNCTION role_cluster.listener_group_out(role_cluster.listener_group) IS
	'Text output of listener_group: canonical JSON';
COMMENT ON FUNCTION role_cluster.listener_group_recv(internal) IS
	'Binary input of listener_group, checked as strictly as text input';
COMMENT ON FUNCTION role_cluster.listener_group_send(role_cluster.listener_group) IS
	'Binary output of listener_group';

/*
 * Everything below is pure, like the operators of any built-in type, so
 * EXECUTE stays with PUBLIC (the default); what protects configuration is
 * the schema's USAGE and the tables' privileges.  Functions that read the
 * task_type enum's catalog rows are STABLE, as enum_in is.
 */

/* ---- equality and hashing ---- */

CREATE FUNCTION role_cluster.task_group_eq(role_cluster.task_group, role_cluster.task_group)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION role_cluster.task_group_eq(role_cluster.task_group, role_cluster.task_group) IS
	'Implements task_group = task_group';
CREATE FUNCTION role_cluster.task_group_ne(role_cluster.task_group, role_cluster.task_group)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION role_cluster.task_group_ne(role_cluster.task_group, role_cluster.task_group) IS
	'Implements task_group <> task_group';
CREATE FUNCTION role_cluster.task_group_hash(role_cluster.task_group) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_hash(role_cluster.task_group) IS
	'Hash support for task_group (hash operator class)';
CREATE FUNCTION role_cluster.task_group_hash_extended(role_cluster.task_group, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_hash_extended(role_cluster.task_group, bigint) IS
	'Seeded 64-bit hash support for task_group (hash operator class)';

CREATE OPERATOR role_cluster.= (
	LEFTARG = role_cluster.task_group,
	RIGHTARG = role_cluster.task_group,
	FUNCTION = role_cluster.task_group_eq,
	COMMUTATOR = OPERATOR(role_cluster.=),
	NEGATOR = OPERATOR(role_cluster.<>),
	RESTRICT = pg_catalog.eqsel,
	JOIN = pg_catalog.eqjoinsel,
	HASHES
);
COMMENT ON OPERATOR role_cluster.= (role_cluster.task_group, role_cluster.task_group) IS
	'Same variant and same task types';
CREATE OPERATOR role_cluster.<> (
	LEFTARG = role_cluster.task_group,
	RIGHTARG = role_cluster.task_group,
	FUNCTION = role_cluster.task_group_ne,
	COMMUTATOR = OPERATOR(role_cluster.<>),
	NEGATOR = OPERATOR(role_cluster.=),
	RESTRICT = pg_catalog.neqsel,
	JOIN = pg_catalog.neqjoinsel
);
COMMENT ON OPERATOR role_cluster.<> (role_cluster.task_group, role_cluster.task_group) IS
	'Different variant or different task types';

CREATE OPERATOR CLASS role_cluster.task_group_ops
	DEFAULT FOR TYPE role_cluster.task_group USING hash AS
	OPERATOR 1 role_cluster.=,
	FUNCTION 1 role_cluster.task_group_hash(role_cluster.task_group),
	FUNCTION 2 role_cluster.task_group_hash_extended(role_cluster.task_group, bigint);
COMMENT ON OPERATOR CLASS role_cluster.task_group_ops USING hash IS
	'Hashing of task_group, for DISTINCT, GROUP BY, hash joins and hash indexes';
COMMENT ON OPERATOR FAMILY role_cluster.task_group_ops USING hash IS
	'Hashing of task_group';

CREATE FUNCTION role_cluster.listener_group_eq(role_cluster.listener_group, role_cluster.listener_group)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION role_cluster.listener_group_eq(role_cluster.listener_group, role_cluster.listener_group) IS
	'Implements listener_group = listener_group';
CREATE FUNCTION role_cluster.listener_group_ne(role_cluster.listener_group, role_cluster.listener_group)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION role_cluster.listener_group_ne(role_cluster.listener_group, role_cluster.listener_group) IS
	'Implements listener_group <> listener_group';
CREATE FUNCTION role_cluster.listener_group_hash(role_cluster.listener_group) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_hash(role_cluster.listener_group) IS
	'Hash support for listener_group (hash operator class)';
CREATE FUNCTION role_cluster.listener_group_hash_extended(role_cluster.listener_group, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_hash_extended(role_cluster.listener_group, bigint) IS
	'Seeded 64-bit hash support for listener_group (hash operator class)';

CREATE OPERATOR role_cluster.= (
	LEFTARG = role_cluster.listener_group,
	RIGHTARG = role_cluster.listener_group,
	FUNCTION = role_cluster.listener_group_eq,
	COMMUTATOR = OPERATOR(role_cluster.=),
	NEGATOR = OPERATOR(role_cluster.<>),
	RESTRICT = pg_catalog.eqsel,
	JOIN = pg_catalog.eqjoinsel,
	HASHES
);
COMMENT ON OPERATOR role_cluster.= (role_cluster.listener_group, role_cluster.listener_group) IS
	'Same variant and same listener ids';
CREATE OPERATOR role_cluster.<> (
	LEFTARG = role_cluster.listener_group,
	RIGHTARG = role_cluster.listener_group,
	FUNCTION = role_cluster.listener_group_ne,
	COMMUTATOR = OPERATOR(role_cluster.<>),
	NEGATOR = OPERATOR(role_cluster.=),
	RESTRICT = pg_catalog.neqsel,
	JOIN = pg_catalog.neqjoinsel
);
COMMENT ON OPERATOR role_cluster.<> (role_cluster.listener_group, role_cluster.listener_group) IS
	'Different variant or different listener ids';

CREATE OPERATOR CLASS role_cluster.listener_group_ops
	DEFAULT FOR TYPE role_cluster.listener_group USING hash AS
	OPERATOR 1 role_cluster.=,
	FUNCTION 1 role_cluster.listener_group_hash(role_cluster.listener_group),
	FUNCTION 2 role_cluster.listener_group_hash_extended(role_cluster.listener_group, bigint);
COMMENT ON OPERATOR CLASS role_cluster.listener_group_ops USING hash IS
	'Hashing of listener_group, for DISTINCT, GROUP BY, hash joins and hash indexes';
COMMENT ON OPERATOR FAMILY role_cluster.listener_group_ops USING hash IS
	'Hashing of listener_group';

/* ---- "does this group enable it?" ---- */

CREATE FUNCTION role_cluster.task_group_contains(role_cluster.task_group, role_cluster.task_type)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_contains(role_cluster.task_group, role_cluster.task_type) IS
	'Does the task group enable the task type? (implements @>)';
CREATE OPERATOR role_cluster.@> (
	LEFTARG = role_cluster.task_group,
	RIGHTARG = role_cluster.task_type,
	FUNCTION = role_cluster.task_group_contains
);
COMMENT ON OPERATOR role_cluster.@> (role_cluster.task_group, role_cluster.task_type) IS
	'Does the task group enable the task type?';

CREATE FUNCTION role_cluster.listener_group_contains(role_cluster.listener_group, text)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_contains(role_cluster.listener_group, text) IS
	'Does the listener group enable the listener with this id? (implements @>)';
CREATE OPERATOR role_cluster.@> (
	LEFTARG = role_cluster.listener_group,
	RIGHTARG = text,
	FUNCTION = role_cluster.listener_group_contains
);
COMMENT ON OPERATOR role_cluster.@> (role_cluster.listener_group, text) IS
	'Does the listener group enable the listener with this id?';

/* ---- casts to and from jsonb (explicit; jsonb is read by the text input) ---- */

CREATE FUNCTION role_cluster.task_group_to_jsonb(role_cluster.task_group) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_to_jsonb(role_cluster.task_group) IS
	'The canonical JSON of a task group, as jsonb';
CREATE FUNCTION role_cluster.jsonb_to_task_group(jsonb) RETURNS role_cluster.task_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.jsonb_to_task_group(jsonb) IS
	'A task group from its JSON, checked as its text input is';
CREATE CAST (role_cluster.task_group AS jsonb)
	WITH FUNCTION role_cluster.task_group_to_jsonb(role_cluster.task_group);
COMMENT ON CAST (role_cluster.task_group AS jsonb) IS 'The canonical JSON of a task group';
CREATE CAST (jsonb AS role_cluster.task_group)
	WITH FUNCTION role_cluster.jsonb_to_task_group(jsonb);
COMMENT ON CAST (jsonb AS role_cluster.task_group) IS 'A task group from its JSON';

CREATE FUNCTION role_cluster.listener_group_to_jsonb(role_cluster.listener_group) RETURNS jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_to_jsonb(role_cluster.listener_group) IS
	'The canonical JSON of a listener group, as jsonb';
CREATE FUNCTION role_cluster.jsonb_to_listener_group(jsonb) RETURNS role_cluster.listener_group
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.jsonb_to_listener_group(jsonb) IS
	'A listener group from its JSON, checked as its text input is';
CREATE CAST (role_cluster.listener_group AS jsonb)
	WITH FUNCTION role_cluster.listener_group_to_jsonb(role_cluster.listener_group);
COMMENT ON CAST (role_cluster.listener_group AS jsonb) IS 'The canonical JSON of a listener group';
CREATE CAST (jsonb AS role_cluster.listener_group)
	WITH FUNCTION role_cluster.jsonb_to_listener_group(jsonb);
COMMENT ON CAST (jsonb AS role_cluster.listener_group) IS 'A listener group from its JSON';

/* ---- accessors ---- */

CREATE FUNCTION role_cluster.task_group_variant(role_cluster.task_group) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_variant(role_cluster.task_group) IS
	'The variant of a task group: EnableAll, DisableAll, EnableSome or DisableSome';
CREATE FUNCTION role_cluster.task_group_task_types(role_cluster.task_group)
	RETURNS role_cluster.task_type[]
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_group_task_types(role_cluster.task_group) IS
	'The task types a task group lists (enabled by EnableSome, disabled by DisableSome), in enum order; empty for EnableAll and DisableAll';
CREATE FUNCTION role_cluster.listener_group_variant(role_cluster.listener_group) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_variant(role_cluster.listener_group) IS
	'The variant of a listener group: EnableAll, DisableAll, EnableSome or DisableSome';
CREATE FUNCTION role_cluster.listener_group_ids(role_cluster.listener_group) RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.listener_group_ids(role_cluster.listener_group) IS
	'The listener ids a listener group lists, in byte order; empty for EnableAll and DisableAll';
CREATE FUNCTION role_cluster.task_type_labels() RETURNS text[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.task_type_labels() IS
	'The task types compiled into the library, in ordinal order (must equal the enum''s labels)';
