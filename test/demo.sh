#!/bin/bash
# The main job, as README's first command runs it (root, Debian 12):
# installs what is missing, builds and installs role_cluster, starts a
# throwaway PostgreSQL as the postgres user with the library preloaded,
# loads the seed's two example roles exactly as the seed prints them, and
# shows what each role enables.  The server and its directory are removed
# on exit.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

bash "$src/test/deps.sh"
make -C "$src" -s PG_CONFIG="$PG_CONFIG"
make -C "$src" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
bindir=$("$PG_CONFIG" --bindir)

# A private directory for the data and the server's socket: no TCP port is
# opened, so nothing clashes with a server already running here.
dir=$(mktemp -d /tmp/role_cluster_demo.XXXXXX)
chown postgres: "$dir"
pg() { runuser -u postgres -- "$@"; }
stop_server()
{
	pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop_server EXIT

pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start -o \
	"-c listen_addresses='' -c unix_socket_directories='$dir' \
	 -c shared_preload_libraries=role_cluster -c role_cluster.database=demo" >/dev/null
export PGHOST=$dir PGUSER=postgres PGDATABASE=demo
pg "$bindir/createdb" -h "$dir" demo
psql() { runuser -u postgres -- "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -d demo "$@"; }

echo "== role_cluster on a throwaway PostgreSQL $("$bindir/postgres" -V | awk '{print $3}')"
psql -c "CREATE EXTENSION role_cluster"
psql -c "INSERT INTO role_cluster.network_listener (id, protocol, bind) VALUES
	('imap', 'imap', '[::]:993'), ('jmap', 'http', '[::]:443'),
	('smtp', 'smtp', '[::]:25'), ('submission', 'smtp', '[::]:587'),
	('webdav', 'http', '[::]:8443')"

echo
echo "== the seed's two example roles, imported verbatim"
for f in frontend maintenance; do
	psql -t -A -v role="$(cat "$src/test/data/$f.json")" \
		-c "SELECT 'imported ' || role_cluster.import_roles(:'role')"
done
psql -c "SELECT name, tasks, listeners FROM role_cluster.cluster_role ORDER BY name"

echo "== what each role enables: task types"
psql -c "SELECT t AS task_type,
		role_cluster.role_enables_task('frontend', t) AS frontend,
		role_cluster.role_enables_task('maintenance', t) AS maintenance,
		role_cluster.role_enables_task(NULL, t) AS \"no role\"
	FROM unnest(enum_range(NULL::role_cluster.task_type)) AS t"

echo "== what each role enables: listeners"
psql -c "SELECT r.name AS role,
		coalesce((SELECT string_agg(l, ', ' ORDER BY l) FROM role_cluster.role_listeners(r.name) AS l),
				 '(none)') AS listeners
	FROM role_cluster.cluster_role r ORDER BY r.name"

echo "== push shards: where five subscribers land with 1, 2 and 4 shards"
psql -c "SELECT s AS subscriber, role_cluster.shard_for(s, 1) AS n1,
		role_cluster.shard_for(s, 2) AS n2, role_cluster.shard_for(s, 4) AS n4
	FROM unnest(ARRAY['alice@example.org', 'bob@example.org', 'carol@example.org',
					  'dave@example.org', 'erin@example.org']) AS s"
