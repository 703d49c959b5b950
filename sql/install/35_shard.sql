
/* ---- Push sharding (src/rc_shard.c) ---- */

/*
 * shard = jump_consistent_hash(XXH3_64bits(utf8 bytes, seed 0), nshards) + 1
 * (README.md, "Sharding algorithm", has the details and test vectors).
 * Immutable: the answer depends only on the arguments (and on the database
 * encoding, which is fixed for a database; keys are hashed as UTF-8).
 */
CREATE FUNCTION role_cluster.shard_for(subscriber text, nshards integer) RETURNS integer
	AS 'MODULE_PATHNAME', 'shard_for_text'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.shard_for(text, integer) IS
	'Push shard (1..nshards) of a subscriber: jump consistent hash of the XXH3-64 of its UTF-8 bytes, plus one';

CREATE FUNCTION role_cluster.shard_for(subscriber bigint, nshards integer) RETURNS integer
	AS 'MODULE_PATHNAME', 'shard_for_bigint'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION role_cluster.shard_for(bigint, integer) IS
	'Push shard (1..nshards) of a numeric subscriber id: the shard of its decimal text';

REVOKE EXECUTE ON FUNCTION role_cluster.shard_for(text, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION role_cluster.shard_for(bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.shard_for(text, integer)
	TO role_cluster_node, role_cluster_admin;
GRANT EXECUTE ON FUNCTION role_cluster.shard_for(bigint, integer)
	TO role_cluster_node, role_cluster_admin;
