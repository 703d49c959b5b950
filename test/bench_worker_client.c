/*-------------------------------------------------------------------------
 *
 * bench_worker_client.c
 *	  The libpq client of test/bench_worker.sh (which compiles it): node
 *	  sessions that consume routed tasks, a latency probe, a producer, and
 *	  the consumers of the hand-written SKIP LOCKED baseline queue.
 *
 *	  bench_worker_client CONNINFO consume NODE ROLE CAPACITY [FETCH]
 *		Registers NODE (ROLE may be "-" for none) with CAPACITY, LISTENs on
 *		its channel and fetches (FETCH at a time, CAPACITY if not given)
 *		and completes what is routed to it until SIGTERM; prints the number
 *		of tasks it completed.
 *	  bench_worker_client CONNINFO claim NODE ROLE CAPACITY [FETCH]
 *		The same through claim_tasks() (pull, no worker needed).
 *	  bench_worker_client CONNINFO probe NODE ROLE TASK_TYPE N
 *		N times: enqueue a task that only NODE may run, wait for NODE's
 *		notification, fetch the task; prints p50/p99/max of enqueue ->
 *		notified and enqueue -> fetched, in milliseconds, and of their
 *		parts: the enqueue call itself (its commit waits for the WAL
 *		flush) and from its return to the notification (the worker's
 *		dispatch and the delivery).
 *	  bench_worker_client CONNINFO probe_notify CHANNEL N
 *		The same round trip without the queue (the producer NOTIFYs): what
 *		the machine itself adds.
 *	  bench_worker_client CONNINFO probe_bound N
 *	  bench_worker_client CONNINFO pushwake
 *		Latency bound: probe's round trip on a hand-written queue (table
 *		bench_l) that pushwake, a bare session woken by NOTIFY, routes.
 *		probe and probe_bound also append their enqueue -> notified
 *		samples (microseconds) to the file PROBE_SAMPLES names, if set.
 *	  bench_worker_client CONNINFO produce TASK_TYPE TOTAL BATCH BACKLOG [RATE]
 *		Enqueues TOTAL tasks, BATCH per transaction, pausing while more
 *		than BACKLOG are queued, and at most RATE per second if given.
 *	  bench_worker_client CONNINFO skiplocked BATCH [NODE [each]]
 *		Baseline: claims BATCH rows of bench_q with FOR UPDATE SKIP LOCKED
 *		and marks them done in one statement, until none are left; prints
 *		the count.  In id order; or, given NODE, as bench_queue.sh's
 *		hand-written queue claims: due rows only, in priority, run_at and
 *		id order, recording NODE as the holder and counting the attempt.
 *		With each, it marks them done as that queue does, one statement
 *		(and transaction) per row, as a worker does when it finishes each
 *		task.  Its statements are planned with enable_seqscan and
 *		enable_bitmapscan off, as role_cluster's functions plan theirs.
 *	  bench_worker_client CONNINFO pushroute BATCH NODES STATE
 *	  bench_worker_client CONNINFO pushnode NODE take|read
 *		Throughput bound: a hand-written queue that routes as the worker
 *		does, without the routing rule.  pushroute is its one dispatcher:
 *		it sets BATCH queued rows of bench_p to STATE, spread over nodes
 *		1..NODES in one statement, NOTIFYs channel bench_p<node> of each
 *		(committing without waiting for the WAL flush, as the worker does)
 *		until none are queued.  pushnode LISTENs on its channel and, with
 *		take, takes up to 100 rows routed to it (routed -> running), or,
 *		with read (pushroute's STATE is then running), only reads up to 100
 *		of its running rows; then it marks them done, until SIGTERM.  No
 *		capacity, liveness, role or shard is looked at: what one writing
 *		dispatcher and its nodes cost at the least, writing each task three
 *		times (take) or twice (read).
 *	  bench_worker_client CONNINFO wait QUERY
 *		Runs QUERY (one boolean) every 50 ms on one connection, each run
 *		its own transaction, until it returns true: how the benchmark waits
 *		for a run to end without a new session, or a count of the whole
 *		table, every time it looks.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop_requested = 0;

/* SIGTERM: finish the current round and exit */
static void
handle_sigterm(int sig)
{
	(void) sig;
	stop_requested = 1;
}

/* Microseconds on the monotonic clock */
static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Runs a query with text parameters; exits on error */
static PGresult *
run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "query failed: %s\n%s", sql, PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

/* Connects or exits */
static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

/*
 * LISTENs on a node's channel, then registers it (registering wakes the
 * worker, which may notify the node at once)
 */
static void
register_and_listen(PGconn *conn, const char *node, const char *role,
					const char *capacity)
{
	const char *params[3] = {node, strcmp(role, "-") == 0 ? NULL : role, capacity};
	PGresult   *res;
	char	   *sql;

	res = run(conn, "SELECT 'LISTEN ' || quote_ident(role_cluster.node_channel($1))", 1, params);
	sql = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(run(conn, sql, 0, NULL));
	free(sql);
	PQclear(run(conn, "SELECT role_cluster.register_node($1, $2, NULL, $3::int)", 3, params));
}

/* Waits up to timeout_us for a notification; returns 1 if one came */
static int
wait_notify(PGconn *conn, long long timeout_us)
{
	long long	deadline = now_us() + timeout_us;
	int			sock = PQsocket(conn);

	for (;;)
	{
		PGnotify   *n;
		int			got = 0;
		fd_set		fds;
		struct timeval tv;
		long long	left;

		PQconsumeInput(conn);
		while ((n = PQnotifies(conn)) != NULL)
		{
			got = 1;
			PQfreemem(n);
		}
		if (got)
			return 1;
		left = deadline - now_us();
		if (left <= 0 || stop_requested)
			return 0;
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		tv.tv_sec = left / 1000000;
		tv.tv_usec = left % 1000000;
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0 && errno != EINTR)
			return 0;
	}
}

/* Drops notifications already received */
static void
drain_notify(PGconn *conn)
{
	PGnotify   *n;

	PQconsumeInput(conn);
	while ((n = PQnotifies(conn)) != NULL)
		PQfreemem(n);
}

/*
 * consume / claim: work the tasks of a node until SIGTERM, taking up to
 * fetch at a time
 */
static int
consume(PGconn *conn, const char *node, const char *role, const char *capacity,
		const char *fetch, int pull)
{
	const char *params[2] = {node, fetch};
	long long	done = 0;
	long long	last_beat = now_us();

	register_and_listen(conn, node, role, capacity);
	while (!stop_requested)
	{
		PGresult   *res;
		int			n;

		/* take a batch, then report it done: two round trips, as a node does */
		res = run(conn,
				  pull ?
				  "SELECT count(*), string_agg(id::text, ',') FROM role_cluster.claim_tasks($1, $2::int)" :
				  "SELECT count(*), string_agg(id::text, ',') FROM role_cluster.fetch_tasks($1, $2::int)",
				  2, params);
		n = atoi(PQgetvalue(res, 0, 0));
		if (n > 0)
		{
			const char *cparams[2] = {node, PQgetvalue(res, 0, 1)};

			PQclear(run(conn,
						"SELECT count(*) FROM role_cluster.complete_tasks("
						"string_to_array($2, ',')::bigint[], $1)", 2, cparams));
		}
		PQclear(res);
		done += n;
		if (now_us() - last_beat > 5000000)
		{
			PQclear(run(conn, "SELECT role_cluster.heartbeat($1)", 1, params));
			last_beat = now_us();
		}
		if (n == 0)
		{
			if (pull)
				usleep(2000);
			else
				wait_notify(conn, 100000);
		}
	}
	printf("%lld\n", done);
	return 0;
}

/* qsort comparator for long long */
static int
cmp_ll(const void *a, const void *b)
{
	long long	x = *(const long long *) a;
	long long	y = *(const long long *) b;

	return (x > y) - (x < y);
}

/* Prints p50, p99 and max of n samples (microseconds) in milliseconds */
static void
print_percentiles(const char *label, long long *v, int n)
{
	qsort(v, n, sizeof(long long), cmp_ll);
	printf("%s p50=%.2f p99=%.2f max=%.2f\n", label,
		   v[n / 2] / 1000.0, v[(n * 99) / 100] / 1000.0, v[n - 1] / 1000.0);
}

/*
 * Appends n samples (microseconds), one per line, to the file named by
 * PROBE_SAMPLES if it is set: the script pools the rounds from there.
 */
static void
save_samples(const long long *v, int n)
{
	const char *path = getenv("PROBE_SAMPLES");
	FILE	   *f;

	if (path == NULL || *path == '\0')
		return;
	f = fopen(path, "a");
	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	for (int i = 0; i < n; i++)
		fprintf(f, "%lld\n", v[i]);
	fclose(f);
}

/* probe: enqueue -> notified and enqueue -> fetched latencies */
static int
probe(const char *conninfo, const char *node, const char *role,
	  const char *task_type, int n)
{
	PGconn	   *prod = connect_or_die(conninfo);
	PGconn	   *nd = connect_or_die(conninfo);
	long long  *notified = calloc(n, sizeof(long long));
	long long  *fetched = calloc(n, sizeof(long long));
	long long  *call = calloc(n, sizeof(long long));
	long long  *after_call = calloc(n, sizeof(long long));
	const char *eparams[1] = {task_type};
	const char *nparams[1] = {node};

	long long	last_beat = now_us();

	register_and_listen(nd, node, role, "100");
	for (int i = 0; i < n; i++)
	{
		long long	t0;
		PGresult   *res;
		char	   *id;
		int			found = 0;

		/* keep the node's lease (role_cluster.node_lease) */
		if (now_us() - last_beat > 5000000)
		{
			PQclear(run(nd, "SELECT role_cluster.heartbeat($1)", 1, nparams));
			last_beat = now_us();
		}
		drain_notify(nd);
		t0 = now_us();
		res = run(prod, "SELECT role_cluster.enqueue($1::role_cluster.task_type, 'probe')",
				  1, eparams);
		call[i] = now_us() - t0;
		id = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!wait_notify(nd, 10000000))
		{
			fprintf(stderr, "probe: no notification within 10 s\n");
			return 1;
		}
		notified[i] = now_us() - t0;
		/* the notification may overtake the enqueue's reply */
		after_call[i] = notified[i] > call[i] ? notified[i] - call[i] : 0;
		while (!found)
		{
			res = run(nd, "SELECT id FROM role_cluster.fetch_tasks($1, 100)", 1, nparams);
			for (int r = 0; r < PQntuples(res); r++)
				if (strcmp(PQgetvalue(res, r, 0), id) == 0)
					found = 1;
			PQclear(res);
			if (!found)
				wait_notify(nd, 100000);
		}
		fetched[i] = now_us() - t0;
		PQclear(run(nd, "SELECT count(role_cluster.complete_task(t.id, $1)) FROM role_cluster.task t "
					"WHERE t.node_id = $1 AND t.state = 'running'", 1, nparams));
		free(id);
		usleep(2000);
	}
	save_samples(notified, n);
	print_percentiles("notified", notified, n);
	print_percentiles("fetched", fetched, n);
	print_percentiles("[enqueue call", call, n);
	print_percentiles("call to notified", after_call, n);
	printf("]\n");
	PQfinish(prod);
	PQfinish(nd);
	return 0;
}

/*
 * probe_notify: the same round trip without the queue: the producer
 * NOTIFYs the node's channel itself.  What the machine adds to any
 * enqueue -> notified figure.
 */
static int
probe_notify(const char *conninfo, const char *node, int n)
{
	PGconn	   *prod = connect_or_die(conninfo);
	PGconn	   *nd = connect_or_die(conninfo);
	long long  *notified = calloc(n, sizeof(long long));
	const char *params[1] = {node};
	PGresult   *res;
	char	   *listen;

	res = run(nd, "SELECT 'LISTEN ' || quote_ident($1)", 1, params);
	listen = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(run(nd, listen, 0, NULL));
	for (int i = 0; i < n; i++)
	{
		long long	t0;

		drain_notify(nd);
		t0 = now_us();
		PQclear(run(prod, "SELECT pg_notify($1, '')", 1, params));
		if (!wait_notify(nd, 10000000))
		{
			fprintf(stderr, "probe_notify: no notification within 10 s\n");
			return 1;
		}
		notified[i] = now_us() - t0;
		usleep(2000);
	}
	print_percentiles("bare NOTIFY", notified, n);
	free(listen);
	return 0;
}

/*
 * probe_bound: the idle probe's round trip on the hand-written queue
 * bench_l, routed by pushwake: the producer inserts a row and NOTIFYs
 * bench_l_wake in one transaction (its commit waits for the WAL flush, as
 * enqueue()'s does), pushwake routes it and NOTIFYs bench_l_node, the node
 * takes it (routed -> running).  Nothing but the writes and the wake-ups:
 * what any queue routed by a separate process costs here at the least.
 */
static int
probe_bound(const char *conninfo, int n)
{
	PGconn	   *prod = connect_or_die(conninfo);
	PGconn	   *nd = connect_or_die(conninfo);
	long long  *notified = calloc(n, sizeof(long long));
	long long  *fetched = calloc(n, sizeof(long long));

	PQclear(run(nd, "LISTEN bench_l_node", 0, NULL));
	for (int i = 0; i < n; i++)
	{
		long long	t0;
		PGresult   *res;

		drain_notify(nd);
		t0 = now_us();
		PQclear(run(prod, "WITH i AS (INSERT INTO bench_l DEFAULT VALUES RETURNING id) "
					"SELECT id, pg_notify('bench_l_wake', '') FROM i", 0, NULL));
		if (!wait_notify(nd, 10000000))
		{
			fprintf(stderr, "probe_bound: no notification within 10 s\n");
			return 1;
		}
		notified[i] = now_us() - t0;
		for (;;)
		{
			res = run(nd, "UPDATE bench_l SET state = 'running' WHERE state = 'routed' RETURNING id",
					  0, NULL);
			if (PQntuples(res) > 0)
				break;
			PQclear(res);
			wait_notify(nd, 100000);
		}
		PQclear(res);
		fetched[i] = now_us() - t0;
		PQclear(run(nd, "UPDATE bench_l SET state = 'done' WHERE state = 'running'", 0, NULL));
		usleep(2000);
	}
	save_samples(notified, n);
	print_percentiles("notified", notified, n);
	print_percentiles("fetched", fetched, n);
	PQfinish(prod);
	PQfinish(nd);
	return 0;
}

/* pushwake: probe_bound's dispatcher, woken by NOTIFY, until SIGTERM */
static int
pushwake(PGconn *conn)
{
	PQclear(run(conn, "SET synchronous_commit = off", 0, NULL));
	PQclear(run(conn, "LISTEN bench_l_wake", 0, NULL));
	while (!stop_requested)
	{
		PGresult   *res;
		long long	routed;

		res = run(conn,
				  "WITH u AS ("
				  "  UPDATE bench_l SET state = 'routed' WHERE id IN ("
				  "    SELECT id FROM bench_l WHERE state = 'queued' ORDER BY id"
				  "    LIMIT 1000 FOR UPDATE SKIP LOCKED) RETURNING id) "
				  "SELECT count(*), CASE WHEN count(*) > 0 "
				  "  THEN pg_notify('bench_l_node', count(*)::text) END FROM u", 0, NULL);
		routed = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (routed == 0)
			wait_notify(conn, 1000000);
	}
	return 0;
}

/* produce: enqueue total tasks, batch per transaction, bounded backlog */
static int
produce(PGconn *conn, const char *task_type, long total, const char *batch,
		long backlog, long rate)
{
	const char *params[2] = {task_type, batch};
	long		done = 0;
	long		per = atol(batch);
	long long	start = now_us();

	while (done < total && !stop_requested)
	{
		PGresult   *res;

		/* at most rate tasks per second, when a rate is given */
		if (rate > 0)
		{
			long long	due = start + (long long) done * 1000000 / rate;
			long long	now = now_us();

			if (due > now)
				usleep((useconds_t) (due - now));
		}

		res = run(conn, "SELECT count(*) FROM role_cluster.task WHERE state = 'queued'", 0, NULL);
		if (atol(PQgetvalue(res, 0, 0)) > backlog)
		{
			PQclear(res);
			usleep(10000);
			continue;
		}
		PQclear(res);
		PQclear(run(conn,
					"SELECT count(role_cluster.enqueue($1::role_cluster.task_type, 'load')) "
					"FROM generate_series(1, $2::int)", 2, params));
		done += per;
	}
	printf("%ld\n", done);
	return 0;
}

/*
 * skiplocked: the hand-written baseline queue's consumer; in id order, or
 * given a node (not NULL), in the hand-out order of role_cluster, with the
 * holder recorded; each: each row marked done by a statement of its own
 */
static int
skiplocked(PGconn *conn, const char *batch, const char *node, int each)
{
	const char *params[2] = {batch, node};
	long long	done = 0;

	/*
	 * Planned as role_cluster's functions plan their statements: the table
	 * was filled just now and has no statistics, and with them missing the
	 * ordered claim was planned as a bitmap scan of every queued row and a
	 * sort (38 ms for 100 rows of 50,000, against 2 ms by the index)
	 */
	PQclear(run(conn, "SET enable_seqscan = off", 0, NULL));
	PQclear(run(conn, "SET enable_bitmapscan = off", 0, NULL));
	for (;;)
	{
		PGresult   *res;
		int			n;

		if (node == NULL)
			res = run(conn,
					  "WITH claimed AS ("
					  "  UPDATE bench_q SET state = 'running' WHERE id IN ("
					  "    SELECT id FROM bench_q WHERE state = 'queued' ORDER BY id"
					  "    LIMIT $1::int FOR UPDATE SKIP LOCKED) RETURNING id) "
					  "SELECT string_agg(id::text, ',') FROM claimed", 1, params);
		else
			res = run(conn,
					  "WITH claimed AS ("
					  "  UPDATE bench_q SET state = 'running', node_id = $2, attempts = attempts + 1"
					  "  WHERE id IN ("
					  "    SELECT id FROM bench_q WHERE state = 'queued' AND run_at <= now()"
					  "    ORDER BY priority DESC, run_at, id"
					  "    LIMIT $1::int FOR UPDATE SKIP LOCKED) RETURNING id) "
					  "SELECT string_agg(id::text, ',') FROM claimed", 2, params);
		if (PQgetisnull(res, 0, 0))
		{
			PQclear(res);
			break;
		}
		if (each)
		{
			/* a copy to split: a result's values are not to be written */
			char	   *list = strdup(PQgetvalue(res, 0, 0));

			if (list == NULL)
			{
				fprintf(stderr, "out of memory\n");
				exit(1);
			}
			n = 0;
			for (char *id = strtok(list, ","); id != NULL; id = strtok(NULL, ","))
			{
				const char *ids[1] = {id};
				PGresult   *r2 = run(conn,
									 "UPDATE bench_q SET state = 'done', finished_at = clock_timestamp() "
									 "WHERE id = $1::bigint", 1, ids);

				n += atoi(PQcmdTuples(r2));
				PQclear(r2);
			}
			free(list);
		}
		else
		{
			const char *ids[1] = {PQgetvalue(res, 0, 0)};
			PGresult   *r2 = run(conn,
								 "UPDATE bench_q SET state = 'done', finished_at = clock_timestamp() "
								 "WHERE id = ANY (string_to_array($1, ',')::bigint[])", 1, ids);

			n = atoi(PQcmdTuples(r2));
			PQclear(r2);
		}
		PQclear(res);
		done += n;
	}
	printf("%lld\n", done);
	return 0;
}

/* pushroute: the bound queue's dispatcher */
static int
pushroute(PGconn *conn, const char *batch, const char *nodes, const char *state)
{
	const char *params[3] = {batch, nodes, state};
	long long	done = 0;

	PQclear(run(conn, "SET synchronous_commit = off", 0, NULL));
	for (;;)
	{
		PGresult   *res;
		long long	n;

		res = run(conn,
				  "WITH c AS ("
				  "  SELECT id, row_number() OVER (ORDER BY id) AS rn FROM ("
				  "    SELECT id FROM bench_p WHERE state = 'queued' ORDER BY id"
				  "    LIMIT $1::int FOR UPDATE SKIP LOCKED) s), "
				  "u AS ("
				  "  UPDATE bench_p p SET state = $3, node = 1 + (c.rn - 1) % $2::int"
				  "  FROM c WHERE p.id = c.id RETURNING p.node) "
				  "SELECT coalesce(sum(g.n), 0), count(pg_notify('bench_p' || g.node, g.n::text)) "
				  "FROM (SELECT node, count(*) AS n FROM u GROUP BY node) g", 3, params);
		n = atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (n == 0)
			break;
		done += n;
	}
	printf("%lld\n", done);
	return 0;
}

/* pushnode: a node of the bound queue */
static int
pushnode(PGconn *conn, const char *node, int read_only)
{
	const char *params[1] = {node};
	long long	done = 0;
	char		sql[64];

	snprintf(sql, sizeof(sql), "LISTEN bench_p%d", atoi(node));
	PQclear(run(conn, sql, 0, NULL));
	while (!stop_requested)
	{
		PGresult   *res;
		int			n;

		res = run(conn, read_only ?
				  "SELECT count(*), string_agg(id::text, ',') FROM ("
				  "  SELECT id FROM bench_p WHERE node = $1::int AND state = 'running' LIMIT 100) f" :
				  "WITH f AS ("
				  "  UPDATE bench_p SET state = 'running' WHERE id IN ("
				  "    SELECT id FROM bench_p WHERE node = $1::int AND state = 'routed' LIMIT 100)"
				  "  RETURNING id) "
				  "SELECT count(*), string_agg(id::text, ',') FROM f", 1, params);
		n = atoi(PQgetvalue(res, 0, 0));
		if (n > 0)
		{
			const char *ids[1] = {PQgetvalue(res, 0, 1)};

			PQclear(run(conn,
						"UPDATE bench_p SET state = 'done', finished_at = clock_timestamp() "
						"WHERE id = ANY (string_to_array($1, ',')::bigint[])", 1, ids));
		}
		PQclear(res);
		done += n;
		if (n == 0)
			wait_notify(conn, 100000);
	}
	printf("%lld\n", done);
	return 0;
}

/* wait: until QUERY returns true */
static int
wait_until(PGconn *conn, const char *query)
{
	while (!stop_requested)
	{
		PGresult   *res = run(conn, query, 0, NULL);
		int			done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		PQclear(res);
		if (done)
			return 0;
		usleep(50000);
	}
	return 1;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s CONNINFO consume|claim|probe|probe_notify|probe_bound|produce|skiplocked|pushroute|pushnode|pushwake|wait ...\n", argv[0]);
		return 2;
	}
	signal(SIGTERM, handle_sigterm);
	signal(SIGINT, handle_sigterm);

	if (strcmp(argv[2], "probe_notify") == 0 && argc == 5)
		return probe_notify(argv[1], argv[3], atoi(argv[4]));
	if (strcmp(argv[2], "probe_bound") == 0 && argc == 4)
		return probe_bound(argv[1], atoi(argv[3]));
	if (strcmp(argv[2], "probe") == 0 && argc == 7)
		return probe(argv[1], argv[3], argv[4], argv[5], atoi(argv[6]));

	conn = connect_or_die(argv[1]);
	if ((strcmp(argv[2], "consume") == 0 || strcmp(argv[2], "claim") == 0) &&
		(argc == 6 || argc == 7))
		return consume(conn, argv[3], argv[4], argv[5], argv[argc == 7 ? 6 : 5],
					   strcmp(argv[2], "claim") == 0);
	if (strcmp(argv[2], "produce") == 0 && (argc == 7 || argc == 8))
		return produce(conn, argv[3], atol(argv[4]), argv[5], atol(argv[6]),
					   argc == 8 ? atol(argv[7]) : 0);
	if (strcmp(argv[2], "pushwake") == 0 && argc == 3)
		return pushwake(conn);
	if (strcmp(argv[2], "skiplocked") == 0 &&
		(argc == 4 || argc == 5 || (argc == 6 && strcmp(argv[5], "each") == 0)))
		return skiplocked(conn, argv[3], argc >= 5 ? argv[4] : NULL, argc == 6);
	if (strcmp(argv[2], "pushroute") == 0 && argc == 6)
		return pushroute(conn, argv[3], argv[4], argv[5]);
	if (strcmp(argv[2], "pushnode") == 0 && argc == 5)
		return pushnode(conn, argv[3], strcmp(argv[4], "read") == 0);
	if (strcmp(argv[2], "wait") == 0 && argc == 4)
		return wait_until(conn, argv[3]);
	fprintf(stderr, "bad arguments\n");
	return 2;
}
