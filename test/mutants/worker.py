"""Mutants of the background worker's loop (src/rc_worker.c), for
test/mutate.py.

Each is one change a plausible slip could make in when the worker runs
its steps; the worker's TAP tests, which watch a running worker, must
fail for each.  A run takes a few minutes per mutant.
"""
TESTS = ['REGRESS=', 'ISOLATION=',
         'PROVE_TESTS=test/t/020_worker.pl test/t/021_worker_reclaim.pl '
         'test/t/023_worker_schedules.pl test/t/028_worker_poll.pl']

K = 'src/rc_worker.c'
W = 'sql/install/50_worker.sql'

MUTANTS = [
    ('K01', K,
     'if (handed > 0 && dr == RC_DISPATCH_DONE)',
     'if (0 && handed > 0 && dr == RC_DISPATCH_DONE)',
     'what reclaim handed back and the schedules enqueued waits for the next dispatch'),
    ('K02', K,
     'if (n >= rc_prune_batch)\n\t\t{\n\t\t\tmore = true;',
     'if (0)\n\t\t{\n\t\t\tmore = true;',
     'a prune backlog waits a whole prune_interval per batch'),
    ('K03', K,
     'ls->next_fire = (n >= 0) ? rc_schedules_next_due : DT_NOEND;',
     'ls->next_fire = DT_NOEND;',
     'schedules fire at the poll, not at their due time'),
    ('K04', K,
     'if (pg_atomic_exchange_u32(&rc_shared->reclaim_requested, 0) != 0)',
     'if (0 && pg_atomic_exchange_u32(&rc_shared->reclaim_requested, 0) != 0)',
     'an ended node session waits for the poll to be reclaimed'),
    ('K05', K,
     'next = Min(next, rc_dispatch_next_due);',
     ';',
     'a deferred task waits for the poll'),
    ('K06', K,
     'if (more && !failed)\n\t\treturn 0;',
     'if (0)\n\t\treturn 0;',
     'a full batch does not loop again at once'),
    ('K07', K,
     'rc_count(RC_COUNT_NOTIFIED, rc_dispatch_notified);',
     ';',
     'notified not counted'),
    ('K08', K,
     'if (pg_atomic_exchange_u32(&rc_shared->fire_requested, 0) != 0)\n\t\tfire = true;',
     'if (0)\n\t\tfire = true;',
     'a schedule written does not make the worker fire'),
    # in schedule.py too, where no regression test can hold a lock long enough
    ('W12', W,
     "IF s.task_type = ANY (blocked) THEN",
     "IF false THEN",
     'fire_schedules: a blocked type tried again'),
]
