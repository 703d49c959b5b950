#!/usr/bin/env python3
"""Mutation runs: do the tests notice when the code is wrong?

Each mutant is a one-place change to a source file (a condition dropped, a
branch disabled, a constant changed).  For each, this script copies the
tree (as it was when the run began), applies the change, and runs
test/check.sh on the copy with the tests the mutant's list names.  A
mutant "killed" made a test fail; one that "survived" passed every test:
either the change is not observable, or no test checks what it breaks,
and a test should.

    python3 test/mutate.py test/mutants/node.py          # every mutant of the list
    python3 test/mutate.py test/mutants/node.py R01 N03  # only these

Run as root on Debian 12, like test/check.sh, and alone: every run installs
its build into PG_CONFIG's tree, so two at once would test each other's
programs.  When it ends (or is interrupted by an error or ^C) it builds and installs the
unchanged tree again, so no mutant stays installed.  A run takes minutes
per mutant.

A list is a Python file that defines TESTS (test/check.sh's arguments,
e.g. REGRESS= ISOLATION= PROVE_TESTS=test/t/030_agent.pl) and MUTANTS, a
list of (id, file, old, new, description): old must occur exactly once in
file, or the mutant is reported STALE and skipped (the code moved on; fix
the list).  The build drops -Werror, since a mutant may leave a variable
unused.

First the unchanged tree runs the same tests: if it fails, no verdict would
mean anything, and the script stops.  Every run waits at most
PG_TEST_TIMEOUT_DEFAULT seconds (60 here unless set) for each condition a
test polls for, not PostgreSQL's 180: a mutant often makes several of them
never come true.

A mutant can make a backend loop forever, and pg_regress has no time
limit of its own: a run that goes on past MUTANT_TIMEOUT seconds (1800
unless set) is stopped (its processes and the servers it started
killed) and the mutant counts as killed, "timed out".

Prints one line per mutant: its id, KILLED, SURVIVED, STALE or BUILDFAIL,
its description, and for a killed one the first tests that failed.  The
logs stay in a directory under /tmp, named at the start.
"""
import glob
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = int(os.environ.get("MUTANT_TIMEOUT", "1800"))


def copy_tree(src, dest):
    """A tree, as test/check.sh copies it: no .git, no test output."""
    subprocess.run(
        f"tar -C '{src}' --exclude=.git --exclude='tmp_check*' --exclude=results "
        f"-cf - . | tar -C '{dest}' -xf -", shell=True, check=True)


def apply(tree, path, old, new):
    """Apply one mutant to the copy; False if old is not there exactly once."""
    p = os.path.join(tree, path)
    with open(p) as f:
        text = f.read()
    if text.count(old) != 1:
        return False
    with open(p, "w") as f:
        f.write(text.replace(old, new))
    mk = os.path.join(tree, "Makefile")
    with open(mk) as f:
        text = f.read()
    with open(mk, "w") as f:
        f.write(text.replace("-Werror", ""))
    return True


def run_one(snapshot, logs, tests, mutant):
    """Run the tests against one mutant (None: none); returns its report line."""
    mid, path, old, new, desc = mutant or ("baseline", None, None, None, "no change")
    tree = tempfile.mkdtemp(prefix=f"rc_mutant_{mid}_")
    before = set(glob.glob("/tmp/role_cluster_check.*"))
    try:
        copy_tree(snapshot, tree)
        if mutant and not apply(tree, path, old, new):
            return f"{mid} STALE ({desc}): the text to change is not in {path} exactly once"
        log = os.path.join(logs, f"{mid}.log")
        env = dict(os.environ)
        env.setdefault("PG_TEST_TIMEOUT_DEFAULT", "60")
        with open(log, "w") as out:
            proc = subprocess.Popen(["bash", "test/check.sh"] + tests, cwd=tree, env=env,
                                    stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                stop_run(proc, before)
                return f"{mid} {'KILLED' if mutant else 'FAILED'} ({desc}): timed out after {TIMEOUT} s"
        with open(log, errors="replace") as f:
            text = f.read()
        if "build failed" in text:
            return f"{mid} BUILDFAIL ({desc}): see {log}"
        if rc == 0:
            return f"{mid} {'SURVIVED' if mutant else 'PASSED'} ({desc})"
        failed = re.findall(r"#\s+Failed test '([^']*)'", text)
        failed += re.findall(r"^\s*(?:test\s+)?(\S+)\s+\.\.\. FAILED", text, re.M)
        return (f"{mid} {'KILLED' if mutant else 'FAILED'} ({desc}): {len(failed)} failed: "
                + "; ".join(failed[:3]))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
        # test/check.sh keeps its copy of a failed run: a mutant's goes
        for d in set(glob.glob("/tmp/role_cluster_check.*")) - before:
            shutil.rmtree(d, ignore_errors=True)


def stop_run(proc, before):
    """Kill a run that took too long: its process group, and the servers
    whose data lie in the copies of the tree it made, with their backends
    (each of which runs in a session of its own, and one stuck in a loop
    never notices that its postmaster is gone)."""
    servers = []
    for d in set(glob.glob("/tmp/role_cluster_check.*")) - before:
        servers += subprocess.run(["pgrep", "-f", d], capture_output=True, text=True).stdout.split()
    children = []
    for pid in servers:
        children += subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    os.killpg(proc.pid, signal.SIGKILL)
    for pid in servers + children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def reinstall(snapshot):
    """Build and install the unchanged tree again."""
    tree = tempfile.mkdtemp(prefix="rc_mutant_restore_")
    try:
        copy_tree(snapshot, tree)
        env = dict(os.environ)
        env.setdefault("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
        subprocess.run(["make", "-s", "-C", tree, "install"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    spec = runpy.run_path(sys.argv[1])
    wanted = sys.argv[2:]
    mutants = [m for m in spec["MUTANTS"] if not wanted or m[0] in wanted]
    unknown = set(wanted) - {m[0] for m in mutants}
    if unknown:
        sys.exit("no such mutant: " + ", ".join(sorted(unknown)))
    logs = tempfile.mkdtemp(prefix="rc_mutants_")
    print(f"logs in {logs}", flush=True)
    # every run starts from the tree as it was now, whatever is edited meanwhile
    snapshot = os.path.join(logs, "tree")
    os.mkdir(snapshot)
    copy_tree(SRC, snapshot)
    counts = {}
    try:
        line = run_one(snapshot, logs, spec["TESTS"], None)
        print(line, flush=True)
        if line.split()[1] != "PASSED":
            sys.exit("the unchanged tree fails these tests: no verdict would mean anything")
        for m in mutants:
            line = run_one(snapshot, logs, spec["TESTS"], m)
            verdict = line.split()[1]
            counts[verdict] = counts.get(verdict, 0) + 1
            print(line, flush=True)
    finally:
        reinstall(snapshot)
        shutil.rmtree(snapshot, ignore_errors=True)
    print(", ".join(f"{n} {v.lower()}" for v, n in sorted(counts.items())))
    sys.exit(1 if counts.get("SURVIVED") or counts.get("STALE") else 0)


if __name__ == "__main__":
    main()
