#!/bin/bash
# Runs the whole test suite: pg_regress, the isolation specs and the TAP
# tests, each on its own temporary instance with role_cluster preloaded.
#
# Run as root on Debian 12.  The tree is built and installed as root, then
# copied to a fresh directory under /tmp that the postgres user owns (the
# clone may sit where postgres cannot enter), and the suites run there as
# postgres.  PG_CONFIG picks another PostgreSQL 15 installation.
#
# With arguments, runs one "make installcheck" with them instead of the
# three suites, e.g.: bash test/check.sh REGRESS=types ISOLATION= TAP_TESTS=
#
# COVERAGE=DIR builds with gcc's --coverage (and -O0) and, after the suites, prints
# the share of each C file's lines that they ran, and how many of its
# ereport(ERROR...) calls none reached; DIR gets gcov's annotated copies
# of the sources (lines never run marked #####) and errors_not_run.txt,
# those calls' places.  Lines run by processes that were killed (the crash
# tests' SIGKILL, an immediate shutdown) are not counted.
set -uo pipefail

# The expected outputs come from UTF8 databases, which initdb makes under a
# UTF-8 locale: pin one, whatever the machine's environment says (a fresh
# Debian has no LANG at all, and initdb would make SQL_ASCII ones).  LANG,
# not LC_ALL, which pg_regress unsets before it runs initdb.
unset LC_ALL LC_CTYPE LC_COLLATE LC_MESSAGES LC_MONETARY LC_NUMERIC LC_TIME LANGUAGE
export LANG=C.UTF-8

src=$(cd "$(dirname "$0")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

bash "$src/test/deps.sh" || exit 1

if [ -n "${COVERAGE:-}" ]; then
	mkdir -p "$COVERAGE" && COVERAGE=$(cd "$COVERAGE" && pwd) || exit 1
	# unoptimized, so that each line's count is its own
	export COPT="-O0 --coverage"
fi

work=$(mktemp -d /tmp/role_cluster_check.XXXXXX)
tar -C "$src" --exclude=.git --exclude='tmp_check*' --exclude=results -cf - . | tar -C "$work" -xf -
chown -R postgres: "$work"

make -C "$work" -s clean >/dev/null
if ! make -C "$work" -s all || ! make -C "$work" -s install >/dev/null; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
chown -R postgres: "$work"

passed=0
failed=0
run_suite()
{
	local name=$1
	shift
	echo "=== $name"
	if runuser -u postgres -- make -C "$work" "$@" installcheck; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
			[ -f "$f" ] && head -c 20000 "$f"
		done
		for f in "$work"/tmp_check/log/regress_log_*; do
			[ -f "$f" ] && grep -q "not ok" "$f" && tail -n 60 "$f"
		done
	fi
}

if [ $# -gt 0 ]; then
	run_suite "make installcheck $*" "$@"
else
	run_suite regress ISOLATION= TAP_TESTS=
	run_suite isolation REGRESS= TAP_TESTS=
	run_suite tap REGRESS= ISOLATION=
fi

# COVERAGE: what the suites ran of each C file, by gcov (see the top)
coverage_report()
{
	local dir f
	rm -f "$COVERAGE"/*.gcov "$COVERAGE/errors_not_run.txt"
	echo "=== coverage: lines run / lines, ereport(ERROR) calls not run (annotated sources in $COVERAGE)"
	for dir in src src/node; do
		(cd "$work" && gcov -o "$dir" "$dir"/*.c >/dev/null 2>&1 &&
			rm -f ./*.h.gcov && mv ./*.c.gcov "$COVERAGE"/)
	done
	for f in "$COVERAGE"/*.c.gcov; do
		# lines: "count:line:text"; ##### never run, - not code
		awk -F: -v name="$(basename "$f" .gcov)" -v errs="$COVERAGE/errors_not_run.txt" '
			$1 ~ /#####/ { missed++ }
			$1 !~ /^ *-$/ { lines++ }
			$1 ~ /#####/ && $3 ~ /ereport\((ERROR|FATAL)/ {
				errors++; printf "%s:%d\n", name, $2 >> errs
			}
			END { printf "%-16s %5d / %5d  %5.1f%%  %3d\n", name, lines - missed, lines,
					  lines ? 100 * (lines - missed) / lines : 0, errors }' "$f"
	done
}
[ -z "${COVERAGE:-}" ] || coverage_report

echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ] || { echo "(work tree kept in $work)"; exit 1; }
rm -rf "$work"
