# Sourced by the benchmark scripts (test/bench_eval.sh, test/bench_queue.sh):
# builds and installs role_cluster into PG_CONFIG's tree from a copy of the
# source tree ($src), starts a throwaway server as postgres in a fresh
# directory under /tmp (role_cluster preloaded, Unix socket in that
# directory, a free port), defines psql() for it, creates the database
# "bench" (the worker watches "postgres"), and stops and removes it all on
# exit.  Usage: bench_server_start 'extra postgresql.conf lines' [callgrind].
# With callgrind, the postmaster runs under valgrind's callgrind tool
# (installed first if missing) with --trace-children, so that each backend
# it forks writes its instruction count to $work/callgrind.<pid> when it
# exits.
#
# Sets: bindir, work, port (and server_pid under callgrind).

bindir=$("$PG_CONFIG" --bindir)

bench_server_cleanup()
{
	if [ -f "$work/data/postmaster.pid" ]; then
		runuser -u postgres -- "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	# under callgrind, the postmaster writes its count after it removed its
	# pid file, which is all pg_ctl waits for
	if [ -n "${server_pid:-}" ]; then
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}

psql()
{
	runuser -u postgres -- "$bindir/psql" -h "$work" -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"
}

bench_server_start()
{
	local extra_conf=$1 wrapper=${2:-}

	bash "$src/test/deps.sh"
	if [ "$wrapper" = callgrind ] && ! command -v valgrind >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null
	fi
	work=$(mktemp -d /tmp/role_cluster_bench.XXXXXX)
	trap bench_server_cleanup EXIT

	# build and install from a copy, so the tree stays free of root-owned files
	mkdir "$work/src"
	tar -C "$src" --exclude=.git --exclude='tmp_check*' --exclude=results -cf - . | tar -C "$work/src" -xf -
	make -C "$work/src" -s clean >/dev/null
	make -C "$work/src" -s all >/dev/null
	make -C "$work/src" -s install >/dev/null

	# a TCP port nobody listens on (the server itself only uses a Unix socket)
	port=""
	for _ in $(seq 1 100); do
		local p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			port=$p
			break
		fi
	done
	[ -n "$port" ] || { echo "no free port found"; exit 1; }

	chown -R postgres: "$work"
	runuser -u postgres -- "$bindir/initdb" -D "$work/data" -A trust -E UTF8 --locale=C --no-sync >/dev/null
	cat >>"$work/data/postgresql.conf" <<CONF
shared_preload_libraries = 'role_cluster'
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
shared_buffers = 256MB
jit = off
$extra_conf
CONF
	if [ "$wrapper" = callgrind ]; then
		runuser -u postgres -- valgrind --tool=callgrind --trace-children=yes -q \
			--callgrind-out-file="$work/callgrind.%p" \
			"$bindir/postgres" -D "$work/data" >"$work/server.log" 2>&1 &
		server_pid=$!
		# slow to start under valgrind
		local i ready=0
		for i in $(seq 1 300); do
			if runuser -u postgres -- "$bindir/pg_isready" -q -h "$work" -p "$port"; then
				ready=1
				break
			fi
			sleep 1
		done
		[ "$ready" = 1 ] || { echo "the server did not start under valgrind" >&2; cat "$work/server.log" >&2; exit 1; }
	else
		runuser -u postgres -- "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
	fi
	psql -d postgres -c "CREATE DATABASE bench"
}
