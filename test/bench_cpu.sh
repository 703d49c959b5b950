# Sourced by the benchmark scripts (test/bench_queue.sh, test/bench_worker.sh):
# the CPU a timed run keeps busy, from /proc/stat, counting every process on
# the machine (the server's, the clients', the script's own waiting).
#
# When a run keeps the cores busy, its rate is what its CPU per task
# allows: a queue that needs more CPU per task than another cannot pass it
# on the same cores by running its steps in a better order.  When it leaves
# them idle, its rate is bound by waits (round trips, commits waiting for
# the WAL flush, a node waiting for its next batch), not by CPU.

# The jiffies the machine's cores have spent so far in user, nice, system,
# irq and softirq time: not idle or waiting for I/O, nor steal (time the
# hypervisor gave someone else).
cpu_jiffies()
{
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# The jiffies process $1 has spent so far, in user and system time (0 if
# it is gone); its fields are read after the command name, which may hold
# spaces
proc_jiffies()
{
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	echo "${stat##*) }" | awk '{ print $12 + $13 }'
}

# The cores /proc/stat counts (nproc may show fewer: only those this
# process may run on)
cpu_cores()
{
	grep -c '^cpu[0-9]' /proc/stat
}

# Prints "microseconds share" for the jiffies $1 to $2 (two cpu_jiffies
# readings around a run, or two proc_jiffies readings of one process,
# then with $5 = 1) over $3 tasks done in $4 seconds: the CPU microseconds
# per task, and the share of the cores ($5 of them, or all) kept busy.
# The readings take in the start and exit of the run's processes as
# well, which the seconds may not: over a short run (a few seconds' worth
# of tasks) the share can pass 1.
cpu_per_task()
{
	awk -v d="$(($2 - $1))" -v hz="$(getconf CLK_TCK)" -v n="$3" -v s="$4" -v cores="${5:-$(cpu_cores)}" \
		'BEGIN { if (n > 0 && s > 0) printf "%.1f %.2f\n", d * 1e6 / hz / n, d / hz / (s * cores) }'
}
