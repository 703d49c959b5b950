/* role_cluster 1.0: assembled by the Makefile from the files of sql/install, in name order. */
\echo Use "CREATE EXTENSION role_cluster" to load this file. \quit

/*
 * Two group roles carry every privilege the extension grants: the admin
 * manages configuration, the node role is what a node's login is granted.
 * Roles are cluster-wide and outlive the extension, so create them only
 * when they are missing.
 */
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'role_cluster_admin') THEN
		CREATE ROLE role_cluster_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'role_cluster_node') THEN
		CREATE ROLE role_cluster_node NOLOGIN;
	END IF;
END
$roles$;

/*
 * The schema holds SECURITY DEFINER functions: a schema that a login
 * without superuser created beforehand would let that login revoke the
 * roles' access, shadow the functions with overloads or drop it all.  So
 * would one in which another role may create objects, or one that holds
 * objects already: a function or operator put there first can stand in
 * for one of the extension's in the calls its functions make.
 */
DO $owner$
DECLARE
	owner		name;
	creators	text;
BEGIN
	SELECT r.rolname INTO owner
		FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
		WHERE n.nspname = 'role_cluster' AND NOT r.rolsuper;
	IF FOUND THEN
		RAISE EXCEPTION 'schema role_cluster is owned by "%", who is not a superuser', owner
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop that schema, or give it to a superuser with ALTER SCHEMA role_cluster OWNER TO, then create the extension.';
	END IF;
	SELECT pg_catalog.string_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC'
									  ELSE pg_catalog.quote_ident(r.rolname) END, ', '
								 ORDER BY r.rolname NULLS FIRST)
		INTO creators
		FROM pg_catalog.pg_namespace n
			CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
			LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
		WHERE n.nspname = 'role_cluster' AND a.privilege_type = 'CREATE'
			AND a.grantee <> n.nspowner;
	IF creators IS NOT NULL THEN
		RAISE EXCEPTION 'schema role_cluster lets % create objects in it', creators
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'A function or operator created there could stand in for one of the extension''s, and run with its privileges.',
				  HINT = 'Revoke CREATE ON SCHEMA role_cluster from them, then create the extension.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			   WHERE n.nspname = 'role_cluster')
		OR EXISTS (SELECT FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
				   WHERE n.nspname = 'role_cluster')
		OR EXISTS (SELECT FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
				   WHERE n.nspname = 'role_cluster')
		OR EXISTS (SELECT FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
				   WHERE n.nspname = 'role_cluster') THEN
		RAISE EXCEPTION 'schema role_cluster already holds objects'
			USING ERRCODE = 'duplicate_object',
				  DETAIL = 'An object made there first could stand in for one of the extension''s: a function or operator, to run with its privileges.',
				  HINT = 'Drop the schema with what it holds (DROP SCHEMA role_cluster CASCADE), then create the extension.';
	END IF;
END
$owner$;

REVOKE ALL ON SCHEMA role_cluster FROM PUBLIC;
GRANT USAGE ON SCHEMA role_cluster TO role_cluster_admin, role_cluster_node;

/*
 * The task types of the seed, in the seed's order.  Ordinals are stable:
 * the C list in src/rc_type.c must agree, which a regression test checks.
 */
CREATE TYPE role_cluster.task_type AS ENUM (
	'storeMaintenance',
	'accountMaintenance',
	'metricsCalculate',
	'metricsPush',
	'pushNotifications',
	'searchIndexing',
	'spamClassifierTraining',
	'outboundMta',
	'taskQueueProcessing',
	'taskScheduler'
);
COMMENT ON TYPE role_cluster.task_type IS 'A background task type of the cluster (ClusterTaskType)';
