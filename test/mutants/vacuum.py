"""Mutants of the worker's vacuum of the queue tables (src/rc_vacuum.c),
for test/mutate.py.

Each is one change a plausible slip could make in when the worker has a
queue table vacuumed, how its vacuum process runs, and when that process
rebuilds a bloated index of the task table; 025_worker_vacuum.pl, which
watches the worker do all of it, must fail for each.  A run takes a few
minutes per mutant.  Many are killed by a wait for the server's log
that times out (prove: "exited 255", no failed test named): the
vacuum, skip or rebuild the test waits for never comes.

V15 survives: a task table whose rows were never counted (reltuples -1)
is not judged bloated.  Only a TRUNCATE leaves it so once it was
vacuumed, and then its indexes start empty; a vacuum or an ANALYZE
counts the rows again before any look for bloat but one: the rebuild
that a rebuild given up for its locks asks for alone.  No test lines up
a given-up rebuild, a TRUNCATE and a refill of more than 32 index pages
before the next vacuum.
"""
TESTS = ['REGRESS=', 'ISOLATION=', 'PROVE_TESTS=test/t/025_worker_vacuum.pl']

V = 'src/rc_vacuum.c'

MUTANTS = [
    # when a table is worth a vacuum
    ('V01', V,
     'base = (av && av->vacuum_threshold >= 0) ? av->vacuum_threshold : autovacuum_vac_thresh;',
     'base = autovacuum_vac_thresh;',
     'rc_needs_vacuum: the table\'s own autovacuum_vacuum_threshold ignored'),
    ('V02', V,
     'if (av && !av->enabled)\n\t{\n\t\t/* the operator keeps this table\'s vacuums in hand */',
     'if (0)\n\t{\n\t\t/* the operator keeps this table\'s vacuums in hand */',
     'rc_needs_vacuum: a table with autovacuum_enabled = false vacuumed anyway'),
    ('V03', V,
     'if (st->vacuumed && TransactionIdEquals(horizon, st->vacuumed_horizon))\n\t\treturn false;',
     'if (0)\n\t\treturn false;',
     'rc_worth_vacuuming: a pass every interval while a snapshot keeps the dead rows'),
    ('V04', V,
     'b->intervals = Min(Max(b->intervals * 2, 1), RC_VACUUM_MAX_BACKOFF);',
     'b->intervals = 1;',
     'rc_backoff_extend: a skipped table tried again every interval'),
    ('V05', V,
     'if (!rc_backoff_over(&st->backoff, now))\n\t\treturn false;',
     ';',
     'rc_worth_vacuuming: the backoff after a skip not waited out'),
    ('V06', V,
     'if (!ConditionalLockRelationOid(relid, AccessShareLock))\n\t\treturn NULL;',
     'LockRelationOid(relid, AccessShareLock);',
     'rc_open_if_free: the worker waits for a table an operator holds locked'),
    # the vacuum process
    ('V07', V,
     'stmt->options = list_make2(makeDefElem("skip_locked", NULL, -1),\n\t\t\t\t\t\t\t\t   makeDefElem("parallel", (Node *) makeInteger(0), -1));',
     'stmt->options = list_make1(makeDefElem("parallel", (Node *) makeInteger(0), -1));',
     'rc_vacuum_queue_tables: VACUUM without SKIP_LOCKED waits for another vacuum'),
    ('V08', V,
     'if (e != NULL && e->vacuum_timestamp >= began)',
     'if (e != NULL)',
     'rc_vacuum_queue_tables: a table skipped is counted as vacuumed'),
    ('V09', V,
     '\tif (pg_atomic_read_u32(&rc_shared->vacuum_pid) != 0)\n\t\treturn false;',
     '\t;',
     'rc_vacuum_launch_if_needed: a second process started while an earlier worker\'s runs'),
    # rebuilds of bloated indexes
    ('V10', V,
     'if (rows < RC_REBUILD_DRAINED_ROWS)\n\t\tmin_pages = RC_REBUILD_DRAINED_MIN_PAGES;',
     ';',
     'rc_index_bloated: a drained table\'s smaller indexes not rebuilt'),
    ('V11', V,
     'if (task_vacuumed_elsewhere)\n\t{',
     'if (0)\n\t{',
     'rc_vacuum_launch_if_needed: after someone else\'s vacuum, no rebuild'),
    ('V12', V,
     'pg_atomic_write_u32(&rc_shared->rebuild_wanted, gave_up ? 1 : 0);',
     'pg_atomic_write_u32(&rc_shared->rebuild_wanted, 0);',
     'rc_rebuild_bloated_indexes: a rebuild given up for its locks waits for the next vacuum'),
    ('V13', V,
     'entry->skips = skips =\n\t\t\tMin((1 << Min(entry->failures, 30)) - 1, RC_REBUILD_MAX_SKIPS);',
     'entry->skips = skips = 0;',
     'rc_rebuild_outcome: a failing rebuild tried at every vacuum'),
    ('V14', V,
     'shrunk = !rc_still_bloated(index, &pages);',
     'shrunk = true;',
     'rc_rebuild_index: a rebuild that gained nothing is tried again at every vacuum'),
    ('V15', V,
     'return *rows >= 0 && *rows < RC_REBUILD_MAX_ROWS &&',
     'return *rows < RC_REBUILD_MAX_ROWS &&',
     'rc_rebuild_allowed: a table whose rows were never counted may be rebuilt'),
    ('V16', V,
     'if (av && !av->enabled)\n\t\treturn false;\t\t\t/* the operator keeps its vacuums in hand */',
     'if (0)\n\t\treturn false;',
     'rc_rebuild_allowed: indexes rebuilt while autovacuum_enabled is false'),
]
