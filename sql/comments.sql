-- Every object of the extension explains itself in psql (\d+, \df+, \dT+,
-- \do+): each member object (tables, views, sequences, functions, types,
-- operators, operator classes and families, casts, ...) and each column of
-- its tables and views has a comment.  The expected output is empty.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS role_cluster CASCADE;
CREATE EXTENSION role_cluster;
RESET client_min_messages;

CREATE TEMP VIEW without_comment AS
WITH members AS (
	SELECT d.classid, d.objid
	FROM pg_depend d
		JOIN pg_extension e ON e.oid = d.refobjid
	WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
		AND e.extname = 'role_cluster'
), objects AS (
	SELECT m.classid, m.objid, 0 AS objsubid FROM members m
	UNION ALL
	SELECT 'pg_class'::regclass, a.attrelid, a.attnum
	FROM members m
		JOIN pg_class c ON c.oid = m.objid AND m.classid = 'pg_class'::regclass
		JOIN pg_attribute a ON a.attrelid = c.oid
	WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT pg_describe_object(o.classid, o.objid, o.objsubid) AS without_comment
FROM objects o
WHERE NOT EXISTS (SELECT FROM pg_description c
				  WHERE c.classoid = o.classid AND c.objoid = o.objid AND c.objsubid = o.objsubid
					AND c.description <> '')
ORDER BY 1;
SELECT * FROM without_comment;

-- The check finds a view and a column whose comment is gone (an empty
-- comment is no comment).
BEGIN;
COMMENT ON VIEW role_cluster.queue_stats IS NULL;
COMMENT ON COLUMN role_cluster.queue_stats.due IS '';
SELECT * FROM without_comment;
ROLLBACK;
