"""Mutants of the background worker's loop (src/rc_worker.c) and of what
wakes it (src/rc_shmem.c), for test/mutate.py.

Each is one change a plausible slip could make in when the worker runs
its steps or is woken; the worker's TAP tests, which watch a running worker, must
fail for each.  A run takes a few minutes per mutant.

H04 survives: the worker's wait for an ended session to leave the
process array before reclaim() looks.  It closes a race (the exit
callback wakes the worker before the session is gone from
pg_stat_activity) that did not occur in the runs so far: by the time the
worker's transaction starts, the session had always left.  No test can
make an exiting backend linger, so none can catch it without a timing
race of its own.
"""
TESTS = ['REGRESS=', 'ISOLATION=',
         'PROVE_TESTS=test/t/020_worker.pl test/t/021_worker_reclaim.pl '
         'test/t/023_worker_schedules.pl test/t/028_worker_poll.pl '
         'test/t/029_worker_clock.pl']

K = 'src/rc_worker.c'
H = 'src/rc_shmem.c'
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
    # the clock set back (test/t/029_worker_clock.pl)
    ('K09', K,
     'if (ls->dispatch_retry_at > rc_dispatch_retry_time(start))\n\t\tls->dispatch_retry_at = start;',
     'if (0)\n\t\tls->dispatch_retry_at = start;',
     'clock set back: a dispatch paused after a failure waits for the clock to catch up'),
    ('K10', K,
     'if (ls->next_full > TimestampTzPlusMilliseconds(start, rc_poll_interval_ms))\n\t\tls->next_full = start;',
     'if (0)\n\t\tls->next_full = start;',
     'clock set back: lapsed leases wait for the clock to catch up'),
    ('K11', K,
     'if (ls->next_prune > TimestampTzPlusMilliseconds(start, (int64) rc_prune_interval_s * 1000))\n\t\tls->next_prune = start;',
     'if (0)\n\t\tls->next_prune = start;',
     'clock set back: the prune waits for the clock to catch up'),
    ('K12', K,
     'if (ls->next_vacuum > TimestampTzPlusMilliseconds(start, (int64) rc_vacuum_interval_s * 1000))\n\t\tls->next_vacuum = start;',
     'if (0)\n\t\tls->next_vacuum = start;',
     'clock set back: the vacuum look waits for the clock to catch up'),
    ('H01', H,
     'case XACT_EVENT_ABORT:\n\t\tcase XACT_EVENT_PREPARE:\n\t\t\twake_at_commit = 0;',
     'case XACT_EVENT_ABORT:\n\t\tcase XACT_EVENT_PREPARE:\n\t\t\t;',
     'a rolled-back enqueue wakes the worker at the next commit'),
    ('H02', H,
     'pg_atomic_read_u32(&rc_shared->work_waiting) != 0))',
     'true))',
     'every acknowledgement wakes the worker, work waiting or not'),
    ('H03', H,
     'pg_atomic_write_u32(&rc_shared->reclaim_requested, 1);\n\trc_wake_worker_now(NULL);',
     ';',
     'an ended node session does not wake the worker'),
    ('H04', H,
     'while (BackendPidGetProc(pids[i]) != NULL && waited_ms < 1000)',
     'while (0)',
     'reclaim does not wait for an ended session to leave'),
    ('H05', H,
     'if (commit_prepared && !rc_in_worker',
     'if (0 && commit_prepared && !rc_in_worker',
     'COMMIT PREPARED does not wake the worker'),
    # in schedule.py too, where no regression test can hold a lock long enough
    ('W12', W,
     "IF s.task_type = ANY (blocked) THEN",
     "IF false THEN",
     'fire_schedules: a blocked type tried again'),
]
