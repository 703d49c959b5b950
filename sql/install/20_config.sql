
/* ---- Configuration: listeners, roles, cluster settings ---- */

CREATE TABLE role_cluster.network_listener (
	id			text PRIMARY KEY
				CONSTRAINT network_listener_id_not_empty CHECK (id <> '')
				/* what a listener_group can name: at most 255 bytes, printable */
				CONSTRAINT network_listener_id_nameable
					CHECK (pg_catalog.octet_length(id) <= 255 AND id !~ '[\x01-\x1f\x7f]'),
	protocol	text,
	bind		text,
	description text
				CONSTRAINT network_listener_description_not_empty CHECK (description <> '')
);
COMMENT ON TABLE role_cluster.network_listener IS
	'NetworkListener: the listeners that a role''s listenerIds name';
COMMENT ON COLUMN role_cluster.network_listener.id IS
	'Listener id, as roles name it in listenerIds (case-sensitive)';
COMMENT ON COLUMN role_cluster.network_listener.protocol IS
	'Protocol served, for operators (imap, jmap, smtp, http, ...)';
COMMENT ON COLUMN role_cluster.network_listener.bind IS
	'Address the listener binds, for operators (e.g. [::]:993)';
COMMENT ON COLUMN role_cluster.network_listener.description IS
	'Human-readable description, NULL or non-empty';

CREATE TABLE role_cluster.cluster_role (
	name		text PRIMARY KEY
				CONSTRAINT cluster_role_name_not_empty CHECK (name <> ''),
	description text
				CONSTRAINT cluster_role_description_not_empty CHECK (description <> ''),
	tasks		role_cluster.task_group NOT NULL DEFAULT 'EnableAll',
	listeners	role_cluster.listener_group NOT NULL DEFAULT 'EnableAll',
	created_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE role_cluster.cluster_role IS
	'ClusterRole: a named profile of the tasks and listeners that nodes started with STALWART_ROLE = name run';
COMMENT ON COLUMN role_cluster.cluster_role.name IS
	'Role name, as in STALWART_ROLE: unique, case-sensitive, read-only once created';
COMMENT ON COLUMN role_cluster.cluster_role.description IS
	'Human-readable description, NULL or non-empty';
COMMENT ON COLUMN role_cluster.cluster_role.tasks IS
	'ClusterTaskGroup: which background task types the role enables';
COMMENT ON COLUMN role_cluster.cluster_role.listeners IS
	'ClusterListenerGroup: which network listeners the role enables';
COMMENT ON COLUMN role_cluster.cluster_role.created_at IS 'When the role was created';
COMMENT ON COLUMN role_cluster.cluster_role.updated_at IS 'When the role last changed';

CREATE TABLE role_cluster.cluster_settings (
	id			boolean PRIMARY KEY DEFAULT true
				CONSTRAINT cluster_settings_one_row CHECK (id),
	push_shards_total integer NOT NULL DEFAULT 1
				CONSTRAINT cluster_settings_push_shards_total_range
				CHECK (push_shards_total BETWEEN 1 AND 1024)
);
COMMENT ON TABLE role_cluster.cluster_settings IS
	'Cluster-wide settings: exactly one row (an INSERT replaces it; it cannot be deleted)';
COMMENT ON COLUMN role_cluster.cluster_settings.id IS 'Always true: keeps the table to one row';
COMMENT ON COLUMN role_cluster.cluster_settings.push_shards_total IS
	'Number of push notification shards (1 to 1024); nodes take STALWART_PUSH_SHARD in 1..push_shards_total';

INSERT INTO role_cluster.cluster_settings DEFAULT VALUES;

/*
 * A role's name is its identity (STALWART_ROLE points at it), so it cannot
 * change; updated_at follows every other change.
 */
CREATE FUNCTION role_cluster.cluster_role_before_update() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.name IS DISTINCT FROM OLD.name THEN
		RAISE EXCEPTION 'cannot rename role "%" to "%"', OLD.name, NEW.name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'A role''s name is read-only once the role is created.',
				  HINT = 'Create a role with the new name, move the nodes to it, then delete the old one.';
	END IF;
	NEW.updated_at := pg_catalog.now();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_role_before_update() IS
	'Trigger: keeps cluster_role.name read-only and stamps updated_at';

CREATE TRIGGER cluster_role_before_update
	BEFORE UPDATE ON role_cluster.cluster_role
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_role_before_update();

/*
 * listenerIds behave like a foreign key to network_listener: every id a
 * role names must exist, and the listener row is locked FOR KEY SHARE so a
 * concurrent DELETE of it waits for this transaction.
 *
 * While check_function_bodies is off, which is how pg_dump's scripts
 * restore, the check is skipped for a superuser: the dump loads
 * cluster_role's rows before network_listener's, as it does for function
 * bodies that name objects restored later.  Any login may turn the
 * setting off, so for an admin that is no superuser the check holds.
 */
CREATE FUNCTION role_cluster.cluster_role_check_listeners() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing text;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.listeners OPERATOR(role_cluster.=) OLD.listeners THEN
		RETURN NEW;
	END IF;
	IF pg_catalog.current_setting('check_function_bodies')::boolean IS FALSE
		AND (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) THEN
		RETURN NEW;
	END IF;

	PERFORM FROM role_cluster.network_listener l
		WHERE l.id = ANY (role_cluster.listener_group_ids(NEW.listeners))
		FOR KEY SHARE;

	SELECT i INTO missing
		FROM pg_catalog.unnest(role_cluster.listener_group_ids(NEW.listeners)) AS i
		WHERE NOT EXISTS (SELECT FROM role_cluster.network_listener l WHERE l.id = i)
		LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'network listener "%" named by role "%" does not exist', missing, NEW.name
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = pg_catalog.format('Key (listenerIds)=(%s) is not present in table "network_listener".', missing),
				  HINT = 'Insert the listener into role_cluster.network_listener first, or leave it out of the role''s listenerIds.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_role_check_listeners() IS
	'Trigger: every listener id a role names must exist in network_listener';

CREATE TRIGGER cluster_role_check_listeners
	BEFORE INSERT OR UPDATE OF listeners ON role_cluster.cluster_role
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_role_check_listeners();

/*
 * Runs query, a count, with a fresh snapshot of what is committed now (and
 * of what this transaction wrote), whatever the transaction's own, as
 * PostgreSQL's foreign key checks do: outside READ COMMITTED, the triggers
 * that keep references and derived values look there for the rows their
 * snapshot cannot see.  C.  Internal: only the extension's own triggers
 * call it, with queries of their own.
 */
CREATE FUNCTION role_cluster.count_as_last_committed(query text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'rc_count_as_last_committed' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION role_cluster.count_as_last_committed(text) IS
	'Runs a count query with a fresh snapshot, whatever the transaction''s (internal)';
REVOKE EXECUTE ON FUNCTION role_cluster.count_as_last_committed(text) FROM PUBLIC;

/*
 * The two listener triggers below find, with their snapshot, a role that
 * names a listener the change removes: shown_role naming shown_id, or none
 * (NULL).  Outside READ COMMITTED that snapshot may be out of date either
 * way, so the roles are looked for as last committed too, as PostgreSQL's
 * own foreign keys do.  Returns the role to refuse the change with, or NULL
 * when, as last committed, no role names a listener it removes (listener_id,
 * or any listener when NULL).  Raises 40001, naming the change, when the
 * roles that name one are not the ones the snapshot shows (one committed
 * since: its FOR KEY SHARE lock, released at that commit, no longer stops
 * the change).
 */
CREATE FUNCTION role_cluster.listener_user_as_last_committed(listener_id text, shown_role text,
															 shown_id text, change text) RETURNS text
	LANGUAGE plpgsql
AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
		RETURN shown_role;
	END IF;
	IF role_cluster.count_as_last_committed(pg_catalog.format(
			'SELECT pg_catalog.count(*) FROM role_cluster.cluster_role r WHERE %s',
			CASE WHEN listener_id IS NULL
				 THEN 'pg_catalog.cardinality(role_cluster.listener_group_ids(r.listeners)) > 0'
				 ELSE pg_catalog.format('%L = ANY (role_cluster.listener_group_ids(r.listeners))',
										listener_id) END)) = 0 THEN
		RETURN NULL;
	END IF;
	IF shown_role IS NULL OR role_cluster.count_as_last_committed(pg_catalog.format(
			'SELECT pg_catalog.count(*) FROM role_cluster.cluster_role r
			 WHERE r.name = %L AND %L = ANY (role_cluster.listener_group_ids(r.listeners))',
			shown_role, shown_id)) = 0 THEN
		RAISE EXCEPTION 'could not %: the roles that name what it removes changed since this transaction began',
			change
			USING ERRCODE = 'serialization_failure',
				  HINT = 'Retry the transaction.';
	END IF;
	RETURN shown_role;
END
$$;
COMMENT ON FUNCTION role_cluster.listener_user_as_last_committed(text, text, text, text) IS
	'For the listener triggers: the role that still names a listener the change removes, looked for as last committed outside READ COMMITTED';

/*
 * The other side of the reference: a listener that a role names cannot be
 * deleted or renamed.  SECURITY DEFINER, for count_as_last_committed().
 */
CREATE FUNCTION role_cluster.network_listener_check_unused() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	user_role text;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
		RETURN NEW;
	END IF;

	SELECT r.name INTO user_role
		FROM role_cluster.cluster_role r
		WHERE OLD.id = ANY (role_cluster.listener_group_ids(r.listeners))
		ORDER BY r.name
		LIMIT 1;
	user_role := role_cluster.listener_user_as_last_committed(OLD.id, user_role, OLD.id,
		pg_catalog.format('%s network listener "%s"',
						  CASE WHEN TG_OP = 'DELETE' THEN 'delete' ELSE 'rename' END, OLD.id));
	IF user_role IS NOT NULL THEN
		RAISE EXCEPTION 'network listener "%" is still named by role "%"', OLD.id, user_role
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = pg_catalog.format('Key (id)=(%s) is still referenced from table "cluster_role".', OLD.id),
				  HINT = 'Remove the listener from the listenerIds of every role that names it first.';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.network_listener_check_unused() IS
	'Trigger: a listener that a role names cannot be deleted or renamed';

CREATE TRIGGER network_listener_check_unused
	BEFORE DELETE OR UPDATE OF id ON role_cluster.network_listener
	FOR EACH ROW EXECUTE FUNCTION role_cluster.network_listener_check_unused();

/*
 * TRUNCATE skips row triggers, so refuse it while any role names a
 * listener.  After the truncation, as a foreign key's check comes: a
 * TRUNCATE of cluster_role in the same statement has emptied it by then,
 * and leaves nothing dangling.
 */
CREATE FUNCTION role_cluster.network_listener_check_truncate() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	user_role text;
	named text;
BEGIN
	SELECT r.name, i INTO user_role, named
		FROM role_cluster.cluster_role r,
			 pg_catalog.unnest(role_cluster.listener_group_ids(r.listeners)) AS i
		ORDER BY r.name, i
		LIMIT 1;
	user_role := role_cluster.listener_user_as_last_committed(NULL, user_role, named,
															  'truncate network_listener');
	IF user_role IS NOT NULL THEN
		RAISE EXCEPTION 'cannot truncate network_listener: listener "%" is still named by role "%"', named, user_role
			USING ERRCODE = 'foreign_key_violation',
				  HINT = 'Remove the listeners from the roles'' listenerIds first.';
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION role_cluster.network_listener_check_truncate() IS
	'Trigger: TRUNCATE of network_listener only while no role names a listener';

CREATE TRIGGER network_listener_check_truncate
	AFTER TRUNCATE ON role_cluster.network_listener
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.network_listener_check_truncate();

/*
 * cluster_settings keeps exactly one row.  An INSERT replaces the row (so a
 * dump's data restores over the row that CREATE EXTENSION made); DELETE and
 * TRUNCATE are refused.  SECURITY DEFINER: role_cluster_admin may INSERT
 * but not DELETE.
 *
 * The row is updated in place to the inserted values, and the INSERT
 * itself skipped (reported as INSERT 0 0), rather than deleted and
 * inserted anew: a statement that comes while the INSERT is under way then
 * follows the row's update, as after any UPDATE.  Deleted, the row would be
 * skipped by a concurrent UPDATE, which would change nothing and say so
 * (UPDATE 0), and by a concurrent replacing INSERT, which would then fail
 * on the primary key.  Every column but id is copied, whatever columns the
 * table has.
 */
CREATE FUNCTION role_cluster.cluster_settings_before_insert() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cols		text;
	updated		bigint;
BEGIN
	/* an id other than true goes on to the INSERT, whose checks refuse it */
	IF NEW.id IS DISTINCT FROM true THEN
		RETURN NEW;
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
		INTO cols
		FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id';
	EXECUTE pg_catalog.format('UPDATE role_cluster.cluster_settings AS c SET (%1$s) = '
							  '(SELECT %1$s FROM (SELECT ($1).*) AS n) WHERE c.id', cols)
		USING NEW;
	GET DIAGNOSTICS updated = ROW_COUNT;
	IF updated > 0 THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_settings_before_insert() IS
	'Trigger: an INSERT into cluster_settings replaces its one row (updated in place)';

CREATE TRIGGER cluster_settings_before_insert
	BEFORE INSERT ON role_cluster.cluster_settings
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_settings_before_insert();

/*
 * push_shards_total in 1..1024, checked before the constraint so that the
 * error names the value.  The bound keeps what lists every shard
 * (shard_stats, audit(), metrics()) small: each shard needs nodes of its
 * own, and a typo of 100000 for 10 would have each of them list 100,000.
 */
CREATE FUNCTION role_cluster.cluster_settings_check() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.push_shards_total IS NULL OR NEW.push_shards_total NOT BETWEEN 1 AND 1024 THEN
		RAISE EXCEPTION 'push_shards_total must be between 1 and 1024, not %',
			coalesce(NEW.push_shards_total::text, 'NULL')
			USING ERRCODE = CASE WHEN NEW.push_shards_total IS NULL THEN 'not_null_violation'
								 ELSE 'check_violation' END,
				  HINT = 'Set it to the number of push shards: each is served by the nodes started with that STALWART_PUSH_SHARD, from 1 up.';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_settings_check() IS
	'Trigger: refuses a push_shards_total outside 1..1024, naming it';

/* after cluster_settings_before_insert, which may turn the INSERT into an UPDATE */
CREATE TRIGGER cluster_settings_check
	BEFORE INSERT OR UPDATE ON role_cluster.cluster_settings
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_settings_check();

CREATE FUNCTION role_cluster.cluster_settings_before_delete() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'cannot delete the row of role_cluster.cluster_settings'
		USING ERRCODE = 'feature_not_supported',
			  DETAIL = 'The table always holds exactly one row.',
			  HINT = 'Change the settings with UPDATE role_cluster.cluster_settings SET ...';
END
$$;
COMMENT ON FUNCTION role_cluster.cluster_settings_before_delete() IS
	'Trigger: the one row of cluster_settings cannot be deleted or truncated';

CREATE TRIGGER cluster_settings_before_delete
	BEFORE DELETE ON role_cluster.cluster_settings
	FOR EACH ROW EXECUTE FUNCTION role_cluster.cluster_settings_before_delete();
CREATE TRIGGER cluster_settings_before_truncate
	BEFORE TRUNCATE ON role_cluster.cluster_settings
	FOR EACH STATEMENT EXECUTE FUNCTION role_cluster.cluster_settings_before_delete();

SELECT pg_catalog.pg_extension_config_dump('role_cluster.network_listener', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.cluster_role', '');
SELECT pg_catalog.pg_extension_config_dump('role_cluster.cluster_settings', '');

/*
 * Import and export in the seed's JSON.  import_roles takes one ClusterRole
 * object or an array of them and upserts each by name: the role becomes
 * exactly what the JSON says (a description missing or JSON null is NULL,
 * tasks or listeners missing or JSON null are EnableAll).  A role that the JSON leaves unchanged is not
 * touched.  The whole import is one statement: any bad role changes nothing.
 */
CREATE FUNCTION role_cluster.import_roles(roles jsonb) RETURNS SETOF text
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r			jsonb;
	pos			integer := 0;
	role_name	text;
	bad_key		text;
	seen		text[] := '{}';
	part		text;
	tasks		role_cluster.task_group;
	listeners	role_cluster.listener_group;
	msg			text;
	msg_detail	text;
	msg_hint	text;
	code		text;
BEGIN
	IF roles IS NULL THEN
		RAISE EXCEPTION 'roles to import must not be NULL'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass one ClusterRole object or an array of them.';
	END IF;
	IF pg_catalog.jsonb_typeof(roles) NOT IN ('object', 'array') THEN
		RAISE EXCEPTION 'invalid roles to import: %', pg_catalog.left(roles::text, 100)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass one ClusterRole object or an array of them.';
	END IF;

	FOR r IN
		SELECT e FROM pg_catalog.jsonb_array_elements(
			CASE pg_catalog.jsonb_typeof(roles)
				WHEN 'array' THEN roles ELSE pg_catalog.jsonb_build_array(roles) END) AS e
	LOOP
		pos := pos + 1;
		IF pg_catalog.jsonb_typeof(r) IS DISTINCT FROM 'object' THEN
			RAISE EXCEPTION 'invalid role at position %: %', pos, pg_catalog.left(r::text, 100)
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Each role is an object with "name", "description", "tasks" and "listeners".';
		END IF;
		SELECT k INTO bad_key FROM pg_catalog.jsonb_object_keys(r) AS k
			WHERE k NOT IN ('name', 'description', 'tasks', 'listeners')
			ORDER BY k LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'unknown key "%" in role at position %', bad_key, pos
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Valid keys are "name", "description", "tasks" and "listeners".';
		END IF;
		IF pg_catalog.jsonb_typeof(r -> 'name') IS DISTINCT FROM 'string' OR r ->> 'name' = '' THEN
			RAISE EXCEPTION 'role at position % has no name', pos
				USING ERRCODE = 'invalid_parameter_value',
					  DETAIL = pg_catalog.format('"name" is %s.', coalesce((r -> 'name')::text, 'missing')),
					  HINT = 'Give every role a non-empty string "name".';
		END IF;
		IF pg_catalog.jsonb_typeof(r -> 'description') NOT IN ('string', 'null') OR r ->> 'description' = '' THEN
			RAISE EXCEPTION 'invalid description % of role "%"', r -> 'description', r ->> 'name'
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'A description is a non-empty string or null.';
		END IF;
		role_name := r ->> 'name';
		IF role_name = ANY (seen) THEN
			RAISE EXCEPTION 'role "%" appears more than once in the import', role_name
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Give each role once.';
		END IF;
		seen := seen || role_name;

		/* a bad group says which role and which of its two it is */
		BEGIN
			part := 'tasks';
			/* left out or null: EnableAll, as a description left out or null is none */
			tasks := coalesce(NULLIF(r -> 'tasks', 'null')::role_cluster.task_group, 'EnableAll');
			part := 'listeners';
			listeners := coalesce(NULLIF(r -> 'listeners', 'null')::role_cluster.listener_group, 'EnableAll');
		EXCEPTION
			WHEN invalid_text_representation OR invalid_parameter_value THEN
				GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, msg_detail = PG_EXCEPTION_DETAIL,
					msg_hint = PG_EXCEPTION_HINT, code = RETURNED_SQLSTATE;
				msg := pg_catalog.format('invalid %s of role "%s": %s', part, role_name, msg);
				/* (an empty DETAIL or HINT would print as an empty line) */
				IF msg_detail <> '' AND msg_hint <> '' THEN
					RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = msg_detail, HINT = msg_hint;
				ELSIF msg_detail <> '' THEN
					RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, DETAIL = msg_detail;
				ELSIF msg_hint <> '' THEN
					RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code, HINT = msg_hint;
				END IF;
				RAISE EXCEPTION USING MESSAGE = msg, ERRCODE = code;
		END;
		INSERT INTO role_cluster.cluster_role AS c (name, description, tasks, listeners)
			VALUES (role_name, r ->> 'description', tasks, listeners)
			ON CONFLICT (name) DO UPDATE
				SET description = EXCLUDED.description,
					tasks = EXCLUDED.tasks,
					listeners = EXCLUDED.listeners
				WHERE c.description IS DISTINCT FROM EXCLUDED.description
					OR c.tasks OPERATOR(role_cluster.<>) EXCLUDED.tasks
					OR c.listeners OPERATOR(role_cluster.<>) EXCLUDED.listeners;
		RETURN NEXT role_name;
	END LOOP;
END
$$;
COMMENT ON FUNCTION role_cluster.import_roles(jsonb) IS
	'Upserts ClusterRole objects (one, or an array) in the seed''s JSON; returns the names imported';

/* Every role as a JSON array, by name, in the form import_roles reads back. */
CREATE FUNCTION role_cluster.export_roles() RETURNS jsonb
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(
				pg_catalog.jsonb_build_object(
					'name', r.name,
					'description', r.description,
					'tasks', r.tasks::pg_catalog.jsonb,
					'listeners', r.listeners::pg_catalog.jsonb))
			ORDER BY r.name), '[]'::pg_catalog.jsonb)
	FROM role_cluster.cluster_role r;
END;
COMMENT ON FUNCTION role_cluster.export_roles() IS
	'Every ClusterRole as a JSON array ordered by name, in the form import_roles reads back';

REVOKE ALL ON role_cluster.network_listener, role_cluster.cluster_role,
	role_cluster.cluster_settings FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON role_cluster.network_listener,
	role_cluster.cluster_role TO role_cluster_admin;
GRANT SELECT, INSERT, UPDATE ON role_cluster.cluster_settings TO role_cluster_admin;
GRANT SELECT ON role_cluster.network_listener, role_cluster.cluster_role,
	role_cluster.cluster_settings TO role_cluster_node;

REVOKE EXECUTE ON FUNCTION role_cluster.import_roles(jsonb), role_cluster.export_roles() FROM PUBLIC;
/* trigger functions: the triggers fire them whoever writes */
REVOKE EXECUTE ON FUNCTION role_cluster.cluster_role_before_update(),
	role_cluster.cluster_role_check_listeners(),
	role_cluster.cluster_settings_check(),
	role_cluster.cluster_settings_before_delete()
	FROM PUBLIC;
/*
 * The SECURITY DEFINER trigger functions: a login that may execute one
 * could attach it to a table of its own and have it run as the owner.
 */
REVOKE EXECUTE ON FUNCTION role_cluster.listener_user_as_last_committed(text, text, text, text)
	FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION role_cluster.network_listener_check_unused(),
	role_cluster.network_listener_check_truncate(),
	role_cluster.cluster_settings_before_insert() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION role_cluster.import_roles(jsonb), role_cluster.export_roles()
	TO role_cluster_admin;
