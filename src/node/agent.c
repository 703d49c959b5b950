/*-------------------------------------------------------------------------
 *
 * agent.c
 *	  The "run" command of the node agent.
 *
 * The conversation with the server, in order (every value a parameter):
 *
 *	 SELECT role_cluster.node_channel($1)			the node's channel
 *	 LISTEN "<channel>"								(quoted with
 *													 PQescapeIdentifier)
 *	 SELECT ... FROM role_cluster.register_node($1, $2, $3, $4)
 *	 then, whenever notified and every --poll seconds:
 *	 SELECT ... FROM role_cluster.fetch_tasks($1, $2) t	(moves its fetch mark)
 *	 SELECT ... FROM role_cluster.claim_tasks($1, $2) t	(with --pull only)
 *	 per task: complete_task or fail_task
 *	 every --heartbeat seconds (or a third of the node timeout, when that
 *	 is shorter: register_node and heartbeat say how long it is):
 *	 SELECT role_cluster.heartbeat($1)
 *	 on SIGTERM/SIGINT, while handlers run, and again as each finishes,
 *	 in one transaction under the node's row lock (the heartbeat's):
 *	 SELECT ... role_cluster.heartbeat($1) ..., SELECT ... FROM
 *	 role_cluster.nodes, SELECT ... role_cluster.register_node($1, $2, $3,
 *	 $4) with the capacity lowered to the handlers still running
 *	 when the handlers are done or killed, the same way:
 *	 SELECT role_cluster.deregister_node($1)		hands back the rest
 *	 (each statement that acts for the node guarded by SQL_MINE)
 *
 * LISTEN comes before register_node, so a notification sent as soon as
 * the node is registered is not missed.  After a lost connection the agent
 * reconnects with exponential backoff (0.5 s doubling to 30 s, with
 * jitter), listens, reports the handlers that finished meanwhile and then
 * registers again.  The server accepts a result while the node still holds
 * the task, and refuses it once the task went back to the queue (the
 * worker saw the old session end, or the new registration took it back);
 * a result refused so is dropped with a log line.  A refusal that passes
 * (a lock not free within lock_timeout, a statement timeout, a deadlock,
 * ...: see error_passes) has the report tried again a moment later, until
 * it goes through; any other has the result reported another way
 * (report_one), since the task is still the node's.
 * Handlers still running when the node registers again from the new
 * session are stopped, their results dropped: that registration took their
 * tasks back, which may already be running on another node.  So are they
 * when the node registers again after a heartbeat found it forgotten, and
 * when a heartbeat came after the lease had lapsed (the heartbeat's query
 * also asks whether the node's lease had lapsed as it began).
 * Should the server give a task to the node again while an earlier run of
 * it is here, that run is stopped too and its result dropped: the server
 * would refuse its report, which names the earlier attempt.
 * Another session that registers the node (another agent with the same
 * node id), and is still connected, takes it over: this agent then sends
 * nothing more for the node (SQL_MINE), and its next heartbeat, which also
 * reads the node's registering process, or the first statement not sent,
 * stops its handlers and ends it (exit 1) without deregistering the node.
 * At a stop, the registration and the deregistration run under the node's
 * row lock (begin_locked), so that one by the other agent under way then
 * is seen.
 *
 *-------------------------------------------------------------------------
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "runner.h"

#define BACKOFF_MIN_MS	500
#define BACKOFF_MAX_MS	30000
/* stopping, handlers done: time to reach the server */
#define STOP_EXTRA_MS	15000
#define WAIT_MAX_MS		1000
/* server processes of its own sessions the agent remembers */
#define OWN_PIDS		8
#define REPORT_RETRY_MS 1000	/* a report or heartbeat refused for a passing
								 * reason: retry after */
#define REPORT_REFUSED_RETRY_MS 10000	/* a result that every way of
										 * reporting failed: retry after */
/* the statement timeout: a third of the node timeout, within these */
#define STATEMENT_TIMEOUT_MIN_MS	1000
#define STATEMENT_TIMEOUT_MAX_MS	10000

#define SQL_CHANNEL \
	"SELECT role_cluster.node_channel($1), pg_catalog.pg_backend_pid()"
/* registering: the call, and the milliseconds to its node timeout */
#define REGISTER_CALL \
	"role_cluster.register_node($1, $2, $3::integer, $4::integer) AS n"
#define TIMEOUT_MS \
	"pg_catalog.ceil(pg_catalog.date_part('epoch', n.live_until - pg_catalog.now()) * 1000)"
#define SQL_REGISTER \
	"SELECT " TIMEOUT_MS ", n.backend_pid FROM " REGISTER_CALL
/*
 * The listeners as one line: an id of letters, digits and _ . : - as it
 * is, any other in JSON's quotes, so that an id holding ", " or a line
 * break reads as one
 */
#define SQL_LISTENERS \
	"SELECT coalesce(pg_catalog.string_agg(" \
	"CASE WHEN l OPERATOR(pg_catalog.~) '^[[:alnum:]_.:-]+$' THEN l " \
	"ELSE pg_catalog.to_json(l)::text END, ', ' ORDER BY l), '(none)') " \
	"FROM role_cluster.nodes n, pg_catalog.unnest(n.registered_listeners) AS l " \
	"WHERE n.node_id = $1"
/*
 * Once another session has registered the node (another agent with the
 * same node id), what the node holds is that session's: this agent's
 * fetches and claims take nothing, and its reports, its registration at a
 * stop and its deregistration are not sent (the statement returns no row:
 * the one-time WHERE comes before the call).  Its next heartbeat, or such
 * an empty answer, stops it.  SQL_MINE(n, p): the node whose id is
 * parameter n was registered last by one of the processes in parameter p,
 * the server processes of this agent's recent sessions (after a
 * reconnection, the reports sent before registering again come from a new
 * session but still count; a registration whose answer was lost came from
 * one of them too), or by a session that is gone; or it has no row, which
 * the call itself then reports.
 */
/* the node row n was registered by one of the processes p, or by a session gone */
#define MINE(p) \
	"(n.backend_pid = ANY (" p "::integer[]) OR NOT n.session_alive)"
#define SQL_MINE(n, p) \
	"(SELECT " MINE(p) " FROM role_cluster.nodes n WHERE n.node_id = " n ") IS NOT FALSE"
#define SQL_FETCH \
	"SELECT t.id, t.task_type, t.kind, t.shard_key, t.attempts, " \
	"pg_catalog.to_jsonb(t) FROM role_cluster.fetch_tasks($1, " \
	"CASE WHEN " SQL_MINE("$1", "$3") " THEN $2::integer ELSE 0 END) AS t"
#define SQL_CLAIM \
	"SELECT t.id, t.task_type, t.kind, t.shard_key, t.attempts, " \
	"pg_catalog.to_jsonb(t) FROM role_cluster.claim_tasks($1, " \
	"CASE WHEN " SQL_MINE("$1", "$3") " THEN $2::integer ELSE 0 END) AS t"
/*
 * Each report names the attempt the task was handed out with: the server
 * refuses one of another run (the task taken back and handed out again).
 */
#define SQL_COMPLETE \
	"SELECT role_cluster.complete_task($1::bigint, $2, $4::integer) WHERE " SQL_MINE("$2", "$3")
#define SQL_FAIL \
	"SELECT role_cluster.fail_task($1::bigint, $2, $3, $5::integer) WHERE " SQL_MINE("$2", "$4")
#define SQL_RELEASE \
	"SELECT role_cluster.release_task($1::bigint, $2, $4::integer) WHERE " SQL_MINE("$2", "$3")
/*
 * The heartbeat; whether the node's lease had lapsed when the heartbeat
 * held the node's row (the lease as the statement began, against the
 * returned time less the node timeout: heartbeat() counts both from that
 * moment, which may come after reclaim() took the tasks back, while the
 * statement waited for the row); and the pid of another session that
 * holds the node, if any.
 */
#define SQL_HEARTBEAT \
	"SELECT pg_catalog.ceil(pg_catalog.date_part('epoch', h.live - pg_catalog.now()) * 1000), " \
	"(SELECT n.lease_until FROM role_cluster.nodes n WHERE n.node_id = $1) " \
	"<= h.live - role_cluster.node_timeout(), " \
	"(SELECT n.backend_pid FROM role_cluster.nodes n WHERE n.node_id = $1 AND NOT " MINE("$2") ") " \
	"FROM (SELECT role_cluster.heartbeat($1) AS live) h"
/* another session that holds the node's registration and is still there */
#define SQL_HOLDER \
	"SELECT n.backend_pid FROM role_cluster.nodes n " \
	"WHERE n.node_id = $1 AND n.deregistered_at IS NULL AND n.session_alive " \
	"AND n.backend_pid <> pg_catalog.pg_backend_pid()"
#define SQL_DEREGISTER \
	"SELECT role_cluster.deregister_node($1) WHERE " SQL_MINE("$1", "$2")
/* stopping: is the node still this session's, and how many has it started */
#define SQL_NODE_STATE \
	"SELECT " MINE("$2") ", n.running, n.backend_pid " \
	"FROM role_cluster.nodes n WHERE n.node_id = $1"
#define SQL_DRAIN \
	"SELECT (SELECT " TIMEOUT_MS " FROM " REGISTER_CALL ") WHERE " SQL_MINE("$1", "$5")

typedef struct Agent
{
	const NodeConfig *cfg;
	NodeConn	conn;
	Runner	   *runner;
	char	   *channel;		/* from node_channel(), malloc'd */
	char	   *listeners;		/* the listeners logged at start, malloc'd */
	/* the server processes of its recent sessions, as an array literal */
	int			own_pid[OWN_PIDS];
	int			nown;
	char		my_pid[OWN_PIDS * 12 + 3];
	char		shard_text[16];
	char		capacity_text[16];
	bool		connected;		/* conn.pg was up at the last look */
	int			backoff_ms;
	int64_t		next_connect_ms;
	int64_t		next_heartbeat_ms;
	int64_t		timeout_ms;		/* the node timeout, as the server last said */
	bool		timeout_warned; /* said that it heartbeats more often */
	int64_t		next_poll_ms;
	bool		want_fetch;		/* fetch at the next turn of the loop */
	bool		more_waiting;	/* the server may hold more tasks for us */
	bool		stopping;
	int			drained;		/* stopping: running handlers at the last drain */
	bool		taken_over;		/* another session registered the node */
	bool		killed;			/* the handlers were killed */
	int64_t		stop_deadline_ms;	/* end of the grace period */
	/* stopping: a drain or deregistration refused, try again then */
	int64_t		next_stop_step_ms;
	/* stop trying to reach the server, 0 = unset */
	int64_t		give_up_ms;
} Agent;

static bool report_finished(Agent *a, bool all);
static void heartbeat(Agent *a, bool may_register);
static bool end_locked(Agent *a, bool commit);

/* The wait function of the connection: serve the handlers meanwhile */
static short
agent_wait(void *arg, int fd, short events, int timeout_ms)
{
	Agent	   *a = arg;

	return runner_wait(a->runner, fd, events, timeout_ms);
}

/*
 * The connection's count of requests to cancel the query in flight: each
 * stop request after the first.  A second signal ends a stop within a
 * second, even while a query waits.
 */
static int
agent_cancel_requests(void *arg)
{
	int			stops = runner_stop_requests();

	return stops > 1 ? stops - 1 : 0;
}

/*
 * Remember the server process of one of the agent's sessions (the newest
 * OWN_PIDS), so that a registration from any of them counts as its own,
 * and keep my_pid, the array literal the statements pass, in step.
 */
static void
note_own_pid(Agent *a, const char *pid_text)
{
	int			pid = atoi(pid_text);
	size_t		len = 0;

	for (int i = 0; i < a->nown; i++)
		if (a->own_pid[i] == pid)
			return;
	if (a->nown == OWN_PIDS)
	{
		memmove(a->own_pid, a->own_pid + 1, sizeof(int) * (OWN_PIDS - 1));
		a->nown--;
	}
	a->own_pid[a->nown++] = pid;
	len += snprintf(a->my_pid + len, sizeof(a->my_pid) - len, "{");
	for (int i = 0; i < a->nown; i++)
		len += snprintf(a->my_pid + len, sizeof(a->my_pid) - len, "%s%d",
						i ? "," : "", a->own_pid[i]);
	snprintf(a->my_pid + len, sizeof(a->my_pid) - len, "}");
}

/* The next reconnection delay: the backoff with up to 25% jitter */
static int
backoff_delay(Agent *a)
{
	int			delay = a->backoff_ms;

	delay += (int) (random() % (a->backoff_ms / 4 + 1));
	a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ?
		BACKOFF_MAX_MS : a->backoff_ms * 2;
	return delay;
}

/*
 * The listeners the role enabled as the node registered (the node row's
 * registered_listeners, which the audit compares with the role's list
 * later): what the node binds.  At start, log them and keep the list;
 * after registering again (a reconnection), say so if the role's list is
 * no longer the one the node bound: the node keeps its sockets, so only a
 * restart binds the new list.
 */
static void
log_listeners(Agent *a, bool first)
{
	const char *values[1] = {a->cfg->node_id};
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, SQL_LISTENERS, 1, values, &st);

	if (st == CONN_OK)
	{
		const char *list = PQgetvalue(res, 0, 0);

		if (first)
		{
			node_log(NODE_LOG_NOTICE, "listeners to bind: %s", list);
			free(a->listeners);
			a->listeners = node_strdup(list);
		}
		else if (a->listeners != NULL && strcmp(a->listeners, list) != 0)
		{
			node_log(NODE_LOG_WARNING,
					 "the listeners of the node's role have changed since it started: "
					 "it bound %s, the role now enables %s", a->listeners, list);
			node_log_labeled(NODE_LOG_WARNING, "HINT", "Restart the node to bind them.");
		}
	}
	else if (st == CONN_ERROR)
		conn_log_error(NODE_LOG_WARNING, "could not list the listeners", res);
	PQclear(res);
}

/*
 * Log a failed step of starting a session and close the connection.
 * Returns the exit code that the failure means at start.
 */
static int
session_failed(Agent *a, bool first, ConnStatus st, PGresult *res)
{
	NodeLogLevel level = first ? NODE_LOG_ERROR : NODE_LOG_WARNING;
	int			code;

	if (st == CONN_LOST)
		return NODE_EXIT_CONNECT;
	conn_log_error(level, "could not register the node", res);
	code = conn_error_exit_code(res);
	if (first && (strcmp(conn_sqlstate(res), "3F000") == 0 ||
				  strcmp(conn_sqlstate(res), "42883") == 0))
		node_log_labeled(level, "HINT",
						 "Is the role_cluster extension installed in database \"%s\"?",
						 PQdb(a->conn.pg));
	PQclear(res);
	conn_close(&a->conn);
	return code;
}

/*
 * On a fresh connection: find the node's channel and LISTEN on it, before
 * registering, so that no notification sent right after the registration
 * is missed.  Returns 0, or on failure the exit code that the failure
 * would mean at start (the connection is then closed).
 */
static int
session_listen(Agent *a, bool first)
{
	const char *values[1] = {a->cfg->node_id};
	ConnStatus	st;
	PGresult   *res;
	char	   *ident;
	char	   *sql;

	res = conn_exec(&a->conn, SQL_CHANNEL, 1, values, &st);
	if (st != CONN_OK)
		return session_failed(a, first, st, res);
	free(a->channel);
	a->channel = node_strdup(PQgetvalue(res, 0, 0));
	note_own_pid(a, PQgetvalue(res, 0, 1));
	PQclear(res);

	ident = PQescapeIdentifier(a->conn.pg, a->channel, strlen(a->channel));
	if (ident == NULL)
	{
		node_log(first ? NODE_LOG_ERROR : NODE_LOG_WARNING,
				 "could not quote channel \"%s\": %s", a->channel,
				 PQerrorMessage(a->conn.pg));
		conn_close(&a->conn);
		return NODE_EXIT_RUNTIME;
	}
	sql = node_malloc(strlen(ident) + 8);
	sprintf(sql, "LISTEN %s", ident);
	PQfreemem(ident);
	res = conn_exec(&a->conn, sql, 0, NULL, &st);
	free(sql);
	if (st != CONN_OK)
		return session_failed(a, first, st, res);
	PQclear(res);
	return 0;
}

/*
 * How long from one heartbeat to the next: --heartbeat, but no more than a
 * third of the node timeout, so that a late heartbeat or two still comes
 * before the node stops being live (then the worker routes it nothing, and
 * once its lease ends too, the server takes back every task the node holds
 * and their results are refused); at least 100 ms.
 */
static int64_t
heartbeat_interval(const Agent *a)
{
	int64_t		ms = a->cfg->heartbeat_ms;

	if (a->timeout_ms > 0 && a->timeout_ms / 3 < ms)
		ms = a->timeout_ms / 3 < 100 ? 100 : a->timeout_ms / 3;
	return ms;
}

/*
 * The statement timeout the agent's sessions want: a statement that takes
 * long (waiting for a lock is cut short sooner: see conn.c) delays the
 * heartbeat, and one a third of the node timeout long, after a heartbeat
 * interval of at most as much, still lets the next heartbeat come in time.
 * Within 1 and 10 s (10 s until the server has said what the timeout is).
 */
static int
statement_timeout_ms(const Agent *a)
{
	int64_t		ms = a->timeout_ms / 3;

	if (a->timeout_ms <= 0 || ms > STATEMENT_TIMEOUT_MAX_MS)
		return STATEMENT_TIMEOUT_MAX_MS;
	return ms < STATEMENT_TIMEOUT_MIN_MS ? STATEMENT_TIMEOUT_MIN_MS : (int) ms;
}

/*
 * Note the node timeout that register_node() or heartbeat() returned (in
 * milliseconds, first column of res), and say once when it makes the agent
 * heartbeat more often than --heartbeat.
 */
static void
note_timeout(Agent *a, PGresult *res)
{
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return;
	a->timeout_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (!a->timeout_warned && a->timeout_ms > 0 && a->timeout_ms / 3 < a->cfg->heartbeat_ms)
	{
		node_log(NODE_LOG_WARNING,
				 "heartbeating every %.1f s, not every %.1f s: the node timeout is %.1f s",
				 heartbeat_interval(a) / 1000.0, a->cfg->heartbeat_ms / 1000.0,
				 a->timeout_ms / 1000.0);
		a->timeout_warned = true;
	}
}

/*
 * At start: say so when another session that is still there holds the
 * node's registration, which registering takes over (with the tasks it
 * holds): another agent with the same node id, most likely.  That agent
 * stops at its next heartbeat.  (A node restarted while the server has not
 * yet seen its old connection end looks the same, and is right to take
 * over.)
 */
static void
warn_if_registered_elsewhere(Agent *a)
{
	const char *values[1] = {a->cfg->node_id};
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, SQL_HOLDER, 1, values, &st);

	if (st == CONN_OK && PQntuples(res) == 1)
	{
		node_log(NODE_LOG_WARNING,
				 "node \"%s\" is registered by another session that is still connected "
				 "(process %s); registering takes it over, with the tasks it holds",
				 a->cfg->node_id, PQgetvalue(res, 0, 0));
		node_log_labeled(NODE_LOG_WARNING, "HINT",
						 "If another agent runs with this node id, give each its own "
						 "STALWART_NODE_ID.");
	}
	PQclear(res);
}

/*
 * Register the node from this session (again, after a reconnection: the
 * server then takes back what the node held from its old session).
 * A stopping agent registers with a capacity of 0, not its own, as
 * drain() does: registering again takes back what the node held, and its
 * handlers are stopped, so it runs nothing, and the worker is to route
 * nothing more to a node about to deregister.
 * Returns 0 or, as session_listen, an exit code.
 */
static int
session_register(Agent *a, bool first)
{
	const NodeConfig *cfg = a->cfg;
	const char *values[4];
	ConnStatus	st;
	PGresult   *res;

	if (first)
		warn_if_registered_elsewhere(a);

	/*
	 * At start nothing waits on the agent (no handler runs, the node holds
	 * nothing) and a failure ends it: the first registration waits for a
	 * lock (another session's registration or stop of the node, say) for
	 * as long as the statement timeout allows, not just lock_timeout.
	 */
	if (first)
	{
		res = conn_exec(&a->conn, "BEGIN", 0, NULL, &st);
		if (st == CONN_OK)
		{
			PQclear(res);
			res = conn_exec(&a->conn, "SET LOCAL lock_timeout TO 0", 0, NULL, &st);
		}
		if (st != CONN_OK)
			return session_failed(a, first, st, res);
		PQclear(res);
	}

	values[0] = cfg->node_id;
	values[1] = cfg->role;
	values[2] = cfg->push_shard > 0 ? a->shard_text : NULL;
	values[3] = a->stopping ? "0" : a->capacity_text;
	res = conn_exec(&a->conn, SQL_REGISTER, 4, values, &st);
	if (st != CONN_OK)
		return session_failed(a, first, st, res);
	note_timeout(a, res);
	if (PQntuples(res) == 1)
		note_own_pid(a, PQgetvalue(res, 0, 1));
	PQclear(res);
	if (first)
	{
		res = conn_exec(&a->conn, "COMMIT", 0, NULL, &st);
		if (st != CONN_OK)
			return session_failed(a, first, st, res);
		PQclear(res);
	}

	if (first)
	{
		node_log(NODE_LOG_NOTICE,
				 "registered node \"%s\" (role %s, push shard %s, capacity %d) "
				 "on database \"%s\"; listening on \"%s\"",
				 cfg->node_id, cfg->role ? cfg->role : "(none)",
				 cfg->push_shard > 0 ? a->shard_text : "(none)",
				 cfg->capacity, PQdb(a->conn.pg), a->channel);
		log_listeners(a, true);
		if (a->conn.pg == NULL)
			return NODE_EXIT_CONNECT;
	}
	else
		log_listeners(a, false);
	return 0;
}

/*
 * When to try connecting again, delay_ms from now; while stopping with
 * every handler done, no later than the moment the agent gives up, so that
 * it always tries once more before it does.  Returns the delay set, in ms,
 * which is what a log line should say.
 */
static int
schedule_reconnect(Agent *a, int delay_ms)
{
	int64_t		now = node_now_ms();

	a->next_connect_ms = now + delay_ms;
	if (a->give_up_ms > 0 && a->next_connect_ms > a->give_up_ms)
		a->next_connect_ms = a->give_up_ms;
	return a->next_connect_ms > now ? (int) (a->next_connect_ms - now) : 0;
}

/*
 * The server took back every task the node held (why: reason): stop the
 * handlers still running, whose results it would refuse, and whose tasks
 * may already run on another node.
 */
static void
stop_stale_handlers(Agent *a, const char *reason)
{
	int			n = runner_supersede_all(a->runner);

	if (n > 0)
		node_log(NODE_LOG_NOTICE,
				 "stopping %d handler(s): %s, which took their tasks back", n, reason);
}

/*
 * Another session registered the node (pid: its process, or NULL when a
 * report or the deregistration found it so): another agent with this node
 * id, which took back what this one held.  Stop the handlers, whose tasks
 * are no longer the node's or are that agent's, and end, without
 * deregistering the node, which is now the other agent's.
 */
static void
note_taken_over(Agent *a, const char *pid)
{
	if (a->taken_over)
		return;
	if (pid)
		node_log(NODE_LOG_ERROR,
				 "node \"%s\" was registered again by another session (process %s), "
				 "which took back the tasks it held: another agent runs with this "
				 "node id; stopping, without deregistering it", a->cfg->node_id, pid);
	else
		node_log(NODE_LOG_ERROR,
				 "node \"%s\" was registered again by another session, which took back "
				 "the tasks it held: another agent runs with this node id; stopping, "
				 "without deregistering it", a->cfg->node_id);
	node_log_labeled(NODE_LOG_ERROR, "HINT", "Give each agent its own STALWART_NODE_ID.");
	stop_stale_handlers(a, "another session registered the node");
	a->taken_over = true;
}

/*
 * Is the node still this agent's (registered by one of its recent
 * sessions, or by a session that is gone)?  Asked before registering again
 * (after a reconnection, or a failed heartbeat) and at a stop.  If another
 * session that is still there registered it meanwhile, the node is that
 * agent's: registering would take it back, and all it holds.  Returns
 * false if not (the agent is then taken over) or if the question could
 * not be asked; true too when the node has no row.  running, if not NULL,
 * gets how many tasks the node runs, or -1 when it has no row.
 */
static bool
still_mine(Agent *a, long *running)
{
	const char *values[2] = {a->cfg->node_id, a->my_pid};
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, SQL_NODE_STATE, 2, values, &st);
	bool		mine = st == CONN_OK;

	if (running)
		*running = -1;
	if (st == CONN_OK && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
	{
		note_taken_over(a, PQgetvalue(res, 0, 2));
		mine = false;
	}
	else if (st == CONN_OK && PQntuples(res) == 1 && running)
		*running = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	else if (st == CONN_ERROR)
		conn_log_error(NODE_LOG_WARNING, "could not look at the node", res);
	PQclear(res);
	return mine;
}

/* Connect again after a loss; schedules the next attempt on failure */
static void
try_reconnect(Agent *a)
{
	char	   *err;

	if (!conn_open(&a->conn, &err))
	{
		int			delay = schedule_reconnect(a, backoff_delay(a));

		node_log(NODE_LOG_WARNING, "could not reconnect: %s", err);
		/* none if a stopping agent's time is up: it gives up at once */
		if (delay > 0 || a->give_up_ms == 0)
			node_log(NODE_LOG_INFO, "next attempt in %.1f s", delay / 1000.0);
		free(err);
		return;
	}

	/*
	 * Report what finished meanwhile before registering again: the server
	 * accepts a result while the node still holds the task, and registering
	 * from a new session takes back everything the node held.  Not if
	 * another agent registered the node meanwhile (a report, or the look
	 * before registering, finds that out): the agent then stops.
	 */
	if (session_listen(a, false) != 0 ||
		!report_finished(a, true) ||
		a->taken_over || !still_mine(a, NULL) ||
		session_register(a, false) != 0)
	{
		conn_close(&a->conn);
		if (!a->taken_over)
			schedule_reconnect(a, backoff_delay(a));
		return;
	}
	node_log(NODE_LOG_NOTICE, "reconnected and registered again");
	a->drained = 0;				/* registered afresh */
	stop_stale_handlers(a, "the node registered again from a new session");
	a->connected = true;
	a->backoff_ms = BACKOFF_MIN_MS;
	a->want_fetch = !a->stopping;
	a->next_heartbeat_ms = node_now_ms() + heartbeat_interval(a);
}

/* Notice a connection that conn_exec closed; schedule the reconnection */
static void
check_lost(Agent *a)
{
	if (a->connected && a->conn.pg == NULL)
	{
		int			delay;

		a->connected = false;
		delay = schedule_reconnect(a, backoff_delay(a));
		node_log(NODE_LOG_NOTICE, "reconnecting in %.1f s; %d handler(s) still running",
				 delay / 1000.0, runner_running(a->runner));
	}
}

/* The length of s's first line, at most 200 bytes: enough for a log line */
static int
first_line_len(const char *s)
{
	int			n = 0;

	while (s[n] && s[n] != '\n' && n < 200)
		n++;
	return n;
}

/*
 * Whether a server error is one that passes: the statement was cancelled
 * or timed out, lost a deadlock or a serialization conflict, found a lock
 * not free, or the server ran short of resources.  The same report may
 * well go through a moment later.
 */
static bool
error_passes(const char *sqlstate)
{
	return strncmp(sqlstate, "40", 2) == 0 ||
		strncmp(sqlstate, "53", 2) == 0 ||
		strcmp(sqlstate, "55P03") == 0 ||
		strcmp(sqlstate, "57014") == 0;
}

/* Whether a finished handler's result is ready to be reported now */
static bool
report_due(Agent *a)
{
	return runner_next_report_at(a->runner) <= node_now_ms();
}

/*
 * Whether a stopping agent gives up the reports that are refused for a
 * passing reason: at the end of its grace period, or at a second signal
 */
static bool
reports_given_up(Agent *a)
{
	return a->stopping &&
		(runner_stop_requests() > 1 || node_now_ms() >= a->stop_deadline_ms);
}

/*
 * A copy of s (UTF-8) with every character other than printable ASCII, a
 * newline or a tab made '?'; malloc'd
 */
static char *
ascii_copy(const char *s)
{
	char	   *out = node_malloc(strlen(s) + 1);
	size_t		n = 0;

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p & 0xC0) == 0x80)
			continue;			/* the rest of a character made '?' */
		out[n++] = (*p == '\n' || *p == '\t' || (*p >= 0x20 && *p < 0x7F)) ?
			(char) *p : '?';
	}
	out[n] = '\0';
	return out;
}

/* The ways of reporting a result, each tried when the one before is refused */
typedef enum ReportWay
{
	WAY_COMPLETE,				/* complete_task */
	WAY_FAIL,					/* fail_task with the handler's error */
	WAY_FAIL_ASCII				/* fail_task with it reduced to ASCII */
} ReportWay;

/* What became of a result */
typedef enum ReportResult
{
	REPORT_SETTLED,				/* reported, or dropped: the slot is free */
	REPORT_LATER,				/* kept, to be tried again */
	REPORT_LOST					/* the connection was lost */
} ReportResult;

/*
 * Report the result of a finished handler: outcome and, for a failure, the
 * task's error in message.  While the task is the node's, the server must
 * end up with it, or the task stays held for good (see report_finished).
 * A failure refused for a reason that neither passes nor says that the
 * task is no longer the node's is reported again with its error reduced to
 * printable ASCII (an error that the database's encoding cannot store).
 * A result refused every way (a privilege revoked, say) is kept and
 * reported again REPORT_REFUSED_RETRY_MS later, with a warning each time:
 * not handed back, which would run a task that succeeded again, or run a
 * failing one for ever without counting its attempts.
 * A refusal that passes (error_passes) keeps the result for a retry
 * REPORT_RETRY_MS later, from the first way.  A refusal that says the task
 * is no longer the node's (55000, 42704), or a statement not sent (the node
 * another session's now), drops the result: the server took the task back.
 * A stopping agent that gives up its reports (reports_given_up) drops what
 * it would keep: deregistering hands the task back.
 */
static ReportResult
report_one(Agent *a, RunnerSlot *slot, SlotOutcome outcome, const char *message)
{
	const NodeTask *task = runner_slot_task(slot);
	static const ReportWay ok_ways[] = {WAY_COMPLETE};
	static const ReportWay failed_ways[] = {WAY_FAIL, WAY_FAIL_ASCII};
	static const char *const verbs[] = {"complete", "fail", "fail"};
	const ReportWay *ways = outcome == OUTCOME_OK ? ok_ways : failed_ways;
	int			nways = outcome == OUTCOME_OK ?
		(int) (sizeof(ok_ways) / sizeof(ok_ways[0])) :
		(int) (sizeof(failed_ways) / sizeof(failed_ways[0]));
	char		what[160];

	for (int w = 0; w < nways; w++)
	{
		const char *values[5] = {task->id, a->cfg->node_id, NULL, NULL, NULL};
		char	   *ascii = NULL;
		const char *sql;
		int			nparams;
		ConnStatus	st;
		PGresult   *res;
		const char *state;

		switch (ways[w])
		{
			case WAY_COMPLETE:
				sql = SQL_COMPLETE;
				values[2] = a->my_pid;
				values[3] = task->attempt;
				nparams = 4;
				break;
			default:
				if (ways[w] == WAY_FAIL_ASCII)
				{
					ascii = ascii_copy(message);
					if (strcmp(ascii, message) == 0)
					{
						free(ascii);	/* no other error to give */
						continue;
					}
					node_log(NODE_LOG_NOTICE, "failing task %s again, with its error "
							 "reduced to ASCII", task->id);
				}
				sql = SQL_FAIL;
				values[2] = ascii ? ascii : message;
				values[3] = a->my_pid;
				values[4] = task->attempt;
				nparams = 5;
				break;
		}
		res = conn_exec(&a->conn, sql, nparams, values, &st);
		if (st == CONN_LOST)
		{
			free(ascii);
			return REPORT_LOST;
		}
		if (st == CONN_OK && PQntuples(res) == 0)
		{
			/* not sent: the node is another session's now */
			node_log(NODE_LOG_NOTICE, "result of task %s dropped", task->id);
			note_taken_over(a, NULL);
			PQclear(res);
			free(ascii);
			return REPORT_SETTLED;
		}
		if (st == CONN_OK)
		{
			if (ways[w] == WAY_COMPLETE)
				node_log(NODE_LOG_INFO, "task %s done", task->id);
			else
			{
				const char *text = values[2];

				node_log(NODE_LOG_INFO, "task %s failed (now %s): %.*s%s", task->id,
						 PQgetisnull(res, 0, 0) ? "?" : PQgetvalue(res, 0, 0),
						 first_line_len(text), text,
						 text[first_line_len(text)] ? " ..." : "");
			}
			PQclear(res);
			free(ascii);
			return REPORT_SETTLED;
		}
		free(ascii);

		state = conn_sqlstate(res);
		if (error_passes(state) && !reports_given_up(a))
		{
			snprintf(what, sizeof(what),
					 "result of task %s not reported yet, trying again in %.1f s",
					 task->id, REPORT_RETRY_MS / 1000.0);
			conn_log_error(NODE_LOG_WARNING, what, res);
			PQclear(res);
			/* the other results do not wait for this one */
			runner_slot_defer(slot, node_now_ms() + REPORT_RETRY_MS);
			return REPORT_LATER;
		}
		if (error_passes(state) || strcmp(state, "55000") == 0 ||
			strcmp(state, "42704") == 0)
		{
			snprintf(what, sizeof(what), "result of task %s dropped", task->id);
			conn_log_error(NODE_LOG_WARNING, what, res);
			PQclear(res);
			return REPORT_SETTLED;
		}
		snprintf(what, sizeof(what), "could not %s task %s", verbs[ways[w]], task->id);
		conn_log_error(NODE_LOG_WARNING, what, res);
		PQclear(res);
	}

	if (reports_given_up(a))
	{
		node_log(NODE_LOG_WARNING, "result of task %s dropped: the node deregisters, "
				 "which hands the task back", task->id);
		return REPORT_SETTLED;
	}
	node_log(NODE_LOG_WARNING, "result of task %s kept: every way of reporting it "
			 "was refused; trying again in %.1f s", task->id,
			 REPORT_REFUSED_RETRY_MS / 1000.0);
	runner_slot_defer(slot, node_now_ms() + REPORT_REFUSED_RETRY_MS);
	return REPORT_LATER;
}

/*
 * Free a finished handler's slot: if the server may hold more tasks for us
 * than the slots had room for, fetch them at the next turn of the loop.
 */
static void
free_slot(Agent *a, RunnerSlot *slot)
{
	runner_slot_clear(slot);
	if (a->more_waiting && !a->stopping)
		a->want_fetch = true;
}

/*
 * Report every finished handler: complete or fail its task (a handler
 * killed at the end of the grace period is handed back by deregister_node;
 * the result of a run whose task the server gave the node again is not
 * this run's to report).  A report refused for a reason that passes
 * (error_passes) is tried again REPORT_RETRY_MS later, for as long as it
 * takes, while the other results go ahead: until the report goes through
 * the task stays the node's, its lease renewed by every heartbeat, so a
 * result dropped would leave it held for good.  For that reason a report
 * refused otherwise is made another way (report_one), and only a refusal
 * that says the task is no longer ours drops the result, with a log line.
 * Only a stopping agent gives up such reports, at the end of its grace
 * period or at a second signal: it then deregisters, which hands the task
 * back (or, refused that too, exits, and the server takes the node's tasks
 * back as its session ends).  Each call tries each result once at most:
 * those due now, or with all (before registering again after a
 * reconnection, which takes back what the node held) every one, retries
 * included.
 * Returns false if the connection was lost; the unreported results wait for
 * the next connection.
 */
static bool
report_finished(Agent *a, bool all)
{
	RunnerSlot **due = node_malloc(sizeof(RunnerSlot *) * a->cfg->concurrency);
	int			ndue = runner_reports_due(a->runner, all ? INT64_MAX : node_now_ms(), due);
	bool		beat_refused = false;

	for (int k = 0; k < ndue; k++)
	{
		RunnerSlot *slot = due[k];
		const NodeTask *task = runner_slot_task(slot);
		char	   *message;
		SlotOutcome outcome = runner_slot_outcome(slot, &message);
		ReportResult result;

		if (outcome == OUTCOME_KILLED)
		{
			/*
			 * Killed at the end of the grace period: deregister_node hands
			 * it back with the rest.  Releasing it alone would let the
			 * server route it straight back to us, still registered.
			 */
			node_log(NODE_LOG_NOTICE, "task %s: handler killed; it goes back "
					 "to the queue when the node deregisters", task->id);
			free_slot(a, slot);
			continue;
		}
		if (outcome == OUTCOME_SUPERSEDED)
		{
			/* the task itself, given to us again, may wait for this slot */
			node_log(NODE_LOG_NOTICE, "task %s: the result of its earlier run is "
					 "dropped; the task runs again here", task->id);
			free_slot(a, slot);
			continue;
		}

		/*
		 * A heartbeat that falls due between reports comes first: reports
		 * that each take long (a slow trigger, a lock) must not let the
		 * node's lease lapse, which would take back the very tasks whose
		 * results wait here, to run them again.
		 */
		if (a->connected && !beat_refused && node_now_ms() >= a->next_heartbeat_ms)
		{
			heartbeat(a, false);
			if (a->conn.pg == NULL || a->taken_over)
			{
				free(message);
				free(due);
				return a->conn.pg != NULL;
			}
			/* refused: the reports go on, the caller's heartbeat follows them */
			beat_refused = node_now_ms() >= a->next_heartbeat_ms;
		}
		result = report_one(a, slot, outcome, message);
		free(message);
		if (result == REPORT_LOST)
		{
			free(due);
			return false;
		}
		if (result == REPORT_LATER)
			continue;
		free_slot(a, slot);
	}
	free(due);
	return true;
}

/* Hand a task back unrun; false if the connection was lost */
static bool
release(Agent *a, const NodeTask *task)
{
	const char *values[4] = {task->id, a->cfg->node_id, a->my_pid, task->attempt};
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, SQL_RELEASE, 4, values, &st);

	if (st == CONN_ERROR)
		conn_log_error(NODE_LOG_WARNING, "could not hand back a task", res);
	else if (st == CONN_OK && PQntuples(res) == 0)
		note_taken_over(a, NULL);
	PQclear(res);
	return st != CONN_LOST;
}

/*
 * Take up to n tasks, routed ones (fetch_tasks) or with claim queued ones
 * (claim_tasks), and start their handlers.  Returns how many rows came, or
 * -1 if the connection was lost.
 */
static int
take_tasks(Agent *a, bool claim, int n)
{
	const char *sql = claim ? SQL_CLAIM : SQL_FETCH;
	char		n_text[16];
	const char *values[3] = {a->cfg->node_id, n_text, a->my_pid};
	ConnStatus	st;
	PGresult   *res;
	int			rows;

	snprintf(n_text, sizeof(n_text), "%d", n);
	res = conn_exec(&a->conn, sql, 3, values, &st);
	if (st == CONN_LOST)
		return -1;
	if (st == CONN_ERROR)
	{
		conn_log_error(NODE_LOG_WARNING, "could not fetch tasks", res);

		/*
		 * The node is not live as the server sees it (deregistered, its
		 * lease lapsed, its session ended): the heartbeat that registers
		 * it again, and stops the handlers whose tasks the server took
		 * back, comes now rather than at its time.
		 */
		if (strcmp(conn_sqlstate(res), "55000") == 0)
			a->next_heartbeat_ms = node_now_ms();
		PQclear(res);
		return 0;
	}

	rows = PQntuples(res);
	node_log(NODE_LOG_DEBUG, "%s: %d task(s)",
			 claim ? "claimed" : "fetched", rows);
	for (int i = 0; i < rows; i++)
	{
		NodeTask   *task = node_malloc(sizeof(NodeTask));

		task->id = node_strdup(PQgetvalue(res, i, 0));
		task->task_type = node_strdup(PQgetvalue(res, i, 1));
		task->kind = node_strdup(PQgetvalue(res, i, 2));
		task->shard_key = PQgetisnull(res, i, 3) ? NULL :
			node_strdup(PQgetvalue(res, i, 3));
		task->attempt = node_strdup(PQgetvalue(res, i, 4));
		task->json = node_strdup(PQgetvalue(res, i, 5));

		/*
		 * An earlier run of it still here: the server took the task back
		 * from the node since (a new session registered it, or it was
		 * deregistered) and has given it to the node again.  The server
		 * would refuse that run's report, which names the earlier
		 * attempt: it is stopped, its result dropped.
		 */
		if (runner_supersede(a->runner, task->id) > 0)
			node_log(NODE_LOG_NOTICE, "task %s was given to the node again: the "
					 "result of its earlier run here is dropped (the run stopped, "
					 "if it still ran)", task->id);

		if (runner_free_slots(a->runner) == 0 || !runner_start(a->runner, task))
		{
			/* no slot or no process: someone else may run it */
			node_log(NODE_LOG_WARNING, "handing back task %s: no handler could start",
					 task->id);
			if (!release(a, task))
				rows = -1;
			node_task_free(task);
			if (rows < 0)
				break;
		}
	}
	PQclear(res);
	return rows;
}

/* Fetch routed tasks (and claim queued ones with --pull) for free slots */
static void
fetch(Agent *a)
{
	int			free_slots = runner_free_slots(a->runner);
	int			got;

	a->want_fetch = false;
	a->next_poll_ms = node_now_ms() + a->cfg->poll_ms;
	if (free_slots == 0)
	{
		a->more_waiting = true;
		return;
	}
	got = take_tasks(a, false, free_slots);
	if (got >= 0 && got < free_slots && a->cfg->pull)
	{
		int			claimed = take_tasks(a, true, free_slots - got);

		got = claimed < 0 ? -1 : got + claimed;
	}
	a->more_waiting = got >= free_slots;
}

/*
 * Extend the node's leases; register again if the server forgot the node.
 * A heartbeat refused for a reason that passes (a lock not free, a
 * timeout) is tried again REPORT_RETRY_MS later: registering again would
 * meet the same lock, and failing, drop the connection, and with it every
 * task the node holds.  Without may_register (between reports), one
 * refused for good leaves the registration to the heartbeat due at once
 * after them: registering again takes back every task the node holds,
 * whose results would then be refused.
 */
static void
heartbeat(Agent *a, bool may_register)
{
	const char *values[2] = {a->cfg->node_id, a->my_pid};
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, SQL_HEARTBEAT, 2, values, &st);

	if (st == CONN_OK)
		note_timeout(a, res);
	a->next_heartbeat_ms = node_now_ms() + heartbeat_interval(a);
	if (st == CONN_OK)
	{
		node_log(NODE_LOG_DEBUG, "heartbeat");
		if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 2))
			note_taken_over(a, PQgetvalue(res, 0, 2));
		/* the node as the statement began: its lease had lapsed */
		else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
			stop_stale_handlers(a, "the node's lease had lapsed before its heartbeat");
	}
	else if (st == CONN_ERROR && error_passes(conn_sqlstate(res)))
	{
		char		what[64];

		snprintf(what, sizeof(what), "heartbeat failed, trying again in %.1f s",
				 REPORT_RETRY_MS / 1000.0);
		conn_log_error(NODE_LOG_WARNING, what, res);
		if (heartbeat_interval(a) > REPORT_RETRY_MS)
			a->next_heartbeat_ms = node_now_ms() + REPORT_RETRY_MS;
	}
	else if (st == CONN_ERROR)
	{
		conn_log_error(NODE_LOG_WARNING, "heartbeat failed", res);
		PQclear(res);
		res = NULL;
		if (!may_register)
		{
			a->next_heartbeat_ms = node_now_ms();
			return;
		}
		/* not if another agent, still connected, registered it meanwhile */
		if (!still_mine(a, NULL))
			return;
		if (session_register(a, false) != 0)
			node_log(NODE_LOG_WARNING, "could not register again");
		else
		{
			a->drained = 0;		/* registered afresh */
			stop_stale_handlers(a, "the node registered again after a failed heartbeat");
			a->want_fetch = !a->stopping;
		}
	}
	PQclear(res);
}

/*
 * Begin a transaction that holds the node's row lock until it ends:
 * heartbeat() takes it.  A registration by another session then cannot
 * come between the statements that follow, each of which reads the node
 * afresh, and what they check; one under way is waited for, and seen.
 * Returns the heartbeat's result (SQL_HEARTBEAT's columns, read as the
 * heartbeat began), which the caller clears before ending the transaction
 * with end_locked(); NULL when it could not, *st saying why, or when the
 * heartbeat found the node another agent's (a->taken_over): the
 * transaction is then over.  *passes says whether a refusal was one that
 * passes (the lock not free within lock_timeout, say): worth trying again.
 */
static PGresult *
begin_locked(Agent *a, ConnStatus *st, bool *passes)
{
	const char *values[2] = {a->cfg->node_id, a->my_pid};
	PGresult   *res = conn_exec(&a->conn, "BEGIN", 0, NULL, st);

	*passes = false;
	PQclear(res);
	if (*st != CONN_OK)
		return NULL;
	res = conn_exec(&a->conn, SQL_HEARTBEAT, 2, values, st);
	if (*st == CONN_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 2))
		note_taken_over(a, PQgetvalue(res, 0, 2));
	else if (*st == CONN_OK)
		return res;
	else if (*st == CONN_ERROR)
	{
		*passes = error_passes(conn_sqlstate(res));
		conn_log_error(NODE_LOG_WARNING, "could not lock the node", res);
	}
	PQclear(res);
	end_locked(a, false);
	return NULL;
}

/*
 * End the transaction begin_locked() began; returns whether it committed
 * (false after a ROLLBACK, a refused COMMIT or a lost connection)
 */
static bool
end_locked(Agent *a, bool commit)
{
	ConnStatus	st;
	PGresult   *res = conn_exec(&a->conn, commit ? "COMMIT" : "ROLLBACK", 0, NULL, &st);

	if (st == CONN_ERROR)
		conn_log_error(NODE_LOG_WARNING, "could not end the transaction", res);
	PQclear(res);
	return commit && st == CONN_OK;
}

/*
 * Stopping: a drain or a deregistration refused for a reason that passes
 * is tried again REPORT_RETRY_MS later (a lock not free within
 * lock_timeout: the registration or the stop of another agent of the node
 * under way, say, which it then sees).
 */
static void
retry_stop_step(Agent *a)
{
	a->next_stop_step_ms = node_now_ms() + REPORT_RETRY_MS;
}

/*
 * While stopping: register again, from this session (the node keeps what
 * it runs), with the capacity lowered to the handlers still running (0
 * once none runs), so that the worker routes nothing more here; the server
 * then hands back what was routed here and not fetched yet, beyond that
 * capacity.  Done at the stop, and again whenever a handler finishes,
 * before its result is reported: the report frees room the worker could
 * otherwise fill before the capacity follows.  Without it, work routed to
 * a stopping node waited for it to deregister, up to the grace period,
 * and a singleton type waited as long for all nodes.  First, as a
 * heartbeat does, the node is looked at: another session's now, the agent
 * stops there; its lease lapsed, what it held is no longer its own
 * (registering would hand it back without a word), so the handlers are
 * stopped.
 */
static void
drain(Agent *a)
{
	const NodeConfig *cfg = a->cfg;
	const char *values[5];
	char		capacity[16];
	ConnStatus	st;
	PGresult   *res;
	long		started;
	bool		passes;

	/*
	 * tried once per count of running handlers, whatever comes of it, but
	 * for a refusal that passes
	 */
	a->drained = runner_running(a->runner);

	res = begin_locked(a, &st, &passes);
	if (res == NULL)
	{
		/* taken over, or lost or refused: the heartbeat deals with that */
		if (passes)
		{
			a->drained = -1;
			retry_stop_step(a);
		}
		return;
	}
	if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
	{
		/* its lease had lapsed: the heartbeat took its tasks back */
		stop_stale_handlers(a, "the node's lease had lapsed before its stop");
		PQclear(res);
		end_locked(a, true);
		return;
	}
	note_timeout(a, res);
	PQclear(res);

	/* read afresh, under the lock */
	if (!still_mine(a, &started) || started < 0)
	{
		end_locked(a, false);
		return;
	}

	/* what the server counts started, less the handlers that finished */
	snprintf(capacity, sizeof(capacity), "%ld",
			 started < a->drained ? started : (long) a->drained);
	values[0] = cfg->node_id;
	values[1] = cfg->role;
	values[2] = cfg->push_shard > 0 ? a->shard_text : NULL;
	values[3] = capacity;
	values[4] = a->my_pid;
	res = conn_exec(&a->conn, SQL_DRAIN, 5, values, &st);
	if (st == CONN_OK && PQntuples(res) == 0)
		note_taken_over(a, NULL);
	else if (st == CONN_OK)
		note_timeout(a, res);
	else if (st == CONN_ERROR)
	{
		conn_log_error(NODE_LOG_WARNING, "could not lower the node's capacity", res);
		if (error_passes(conn_sqlstate(res)))
		{
			a->drained = -1;
			retry_stop_step(a);
		}
	}
	PQclear(res);
	if (end_locked(a, st == CONN_OK && !a->taken_over))
		node_log(NODE_LOG_NOTICE,
				 "stopping: capacity lowered to %s, the tasks it still runs", capacity);
}

/*
 * Start stopping: no new work; the handlers get the grace period.  Cut off
 * from the server, try to reach it again at once, the backoff started
 * afresh: the backoff of a long outage could otherwise outlast the stop.
 */
static void
begin_stop(Agent *a)
{
	int64_t		now = node_now_ms();

	a->stopping = true;
	a->want_fetch = false;
	a->drained = -1;			/* a first drain, however many handlers run */
	a->stop_deadline_ms = now + a->cfg->grace_ms;
	a->give_up_ms = 0;
	if (!a->connected)
	{
		a->backoff_ms = BACKOFF_MIN_MS;
		a->next_connect_ms = now;
	}
	node_log(NODE_LOG_NOTICE, "stopping: waiting up to %.1f s for %d running handler(s)",
			 a->cfg->grace_ms / 1000.0, runner_running(a->runner));
}

/*
 * Finish a stop once no handler runs and every result is reported:
 * deregister (the server hands back whatever the node still holds).
 * Returns the exit code, or -1 if the connection was lost meanwhile or a
 * refusal that passes is to be tried again (retry_stop_step), until the
 * agent gives up its reports.
 */
static int
finish_stop(Agent *a)
{
	const char *values[2] = {a->cfg->node_id, a->my_pid};
	ConnStatus	st;
	PGresult   *res;
	bool		locked;
	bool		passes;
	int			code = NODE_EXIT_OK;

	/*
	 * Under the node's lock when it can be had: not when the node is
	 * deregistered already, or its session is gone (nothing then races
	 * for it)
	 */
	res = begin_locked(a, &st, &passes);
	if (st == CONN_LOST)
		return -1;
	if (a->taken_over)
	{
		conn_close(&a->conn);
		return NODE_EXIT_RUNTIME;
	}
	if (res == NULL && passes && !reports_given_up(a))
	{
		retry_stop_step(a);
		return -1;
	}
	locked = res != NULL;
	PQclear(res);

	res = conn_exec(&a->conn, SQL_DEREGISTER, 2, values, &st);
	if (st == CONN_LOST)
		return -1;
	if (st == CONN_ERROR && error_passes(conn_sqlstate(res)) && !reports_given_up(a))
	{
		conn_log_error(NODE_LOG_WARNING, "could not deregister yet, trying again", res);
		PQclear(res);
		if (locked)
			end_locked(a, false);
		if (a->conn.pg == NULL)
			return -1;
		retry_stop_step(a);
		return -1;
	}
	if (st == CONN_ERROR)
	{
		conn_log_error(NODE_LOG_ERROR, "could not deregister", res);
		code = NODE_EXIT_RUNTIME;
	}
	else if (PQntuples(res) == 0)
	{
		note_taken_over(a, NULL);
		code = NODE_EXIT_RUNTIME;
	}
	else
		node_log(NODE_LOG_NOTICE, "deregistered; the server took back %s task(s)",
				 PQgetisnull(res, 0, 0) ? "0" : PQgetvalue(res, 0, 0));
	PQclear(res);
	if (locked && !end_locked(a, code == NODE_EXIT_OK) && code == NODE_EXIT_OK)
	{
		if (a->conn.pg == NULL)
			return -1;			/* lost at COMMIT: deregister again */
		node_log(NODE_LOG_ERROR, "could not deregister: the transaction did not commit");
		code = NODE_EXIT_RUNTIME;
	}
	conn_close(&a->conn);
	return code;
}

/* Milliseconds until t, at least 0 */
static int64_t
until(int64_t t, int64_t now)
{
	return t > now ? t - now : 0;
}

/*
 * The loop of "run", after the first registration: until a signal stops
 * it, and then until the node's work is handed back.  Returns the exit
 * code.
 */
static int
run_loop(Agent *a)
{
	int			code;

	for (;;)
	{
		int64_t		now;
		int64_t		timeout;
		int			stops = runner_stop_requests();
		short		revents;

		if (stops > 0 && !a->stopping)
			begin_stop(a);
		if (a->stopping && !a->killed && runner_running(a->runner) > 0 &&
			(stops > 1 || node_now_ms() >= a->stop_deadline_ms))
		{
			node_log(NODE_LOG_NOTICE, "%s; killing %d handler(s)",
					 stops > 1 ? "second signal" : "grace period over",
					 runner_running(a->runner));
			runner_kill_all(a->runner);
			a->killed = true;
		}

		check_lost(a);
		if (!a->connected && node_now_ms() >= a->next_connect_ms)
			try_reconnect(a);
		/* the statement timeout follows the node timeout */
		if (a->connected && a->conn.statement_timeout_ms != statement_timeout_ms(a))
			conn_set_statement_timeout(&a->conn, statement_timeout_ms(a));
		check_lost(a);

		/* stopping: the capacity follows the handlers before their reports */
		if (a->stopping && a->connected &&
			runner_running(a->runner) != a->drained &&
			node_now_ms() >= a->next_stop_step_ms)
			drain(a);
		if (a->taken_over)
			return NODE_EXIT_RUNTIME;

		/*
		 * all, once the reports are given up: those kept for a later try
		 * are dropped now, not when that try comes
		 */
		if (a->connected &&
			!report_finished(a, a->stopping && reports_given_up(a)))
			continue;

		if (a->stopping && runner_running(a->runner) == 0)
		{
			if (a->connected && runner_next_done(a->runner) == NULL &&
				node_now_ms() >= a->next_stop_step_ms)
			{
				code = finish_stop(a);
				if (code >= 0)
					return code;
				continue;
			}
			/*
			 * cut off: try to reach the server a little longer, then give up
			 */
			if (!a->connected && a->give_up_ms == 0)
			{
				a->give_up_ms = node_now_ms() + STOP_EXTRA_MS;
				if (a->next_connect_ms > a->give_up_ms)
					a->next_connect_ms = a->give_up_ms;
			}
			if (!a->connected && node_now_ms() >= a->give_up_ms)
			{
				node_log(NODE_LOG_ERROR,
						 "could not reach the server to hand back the node's tasks; "
						 "the server takes them back when the node's session or lease ends");
				return NODE_EXIT_RUNTIME;
			}
		}

		/*
		 * A heartbeat that is due comes first: after a pause past the node
		 * timeout (the process stopped, the machine suspended), a fetch
		 * would be refused until it came.
		 */
		if (a->connected && node_now_ms() >= a->next_heartbeat_ms)
			heartbeat(a, true);
		if (a->taken_over)
			return NODE_EXIT_RUNTIME;
		if (a->connected && !a->stopping &&
			(a->want_fetch || node_now_ms() >= a->next_poll_ms))
			fetch(a);
		if (a->taken_over)		/* a hand-back found it so */
			return NODE_EXIT_RUNTIME;
		check_lost(a);

		/* notifications that arrived during the queries */
		if (a->connected)
		{
			int			n = conn_notifications(&a->conn, a->channel, false);

			if (n > 0 && !a->stopping)
				a->want_fetch = true;
		}
		/* more to do at once (a stopping agent fetches nothing) */
		if (a->connected && ((a->want_fetch && !a->stopping) || report_due(a)))
			continue;

		/* sleep until the next timer, a notification, a signal or a child */
		now = node_now_ms();
		timeout = WAIT_MAX_MS;
		if (a->connected)
		{
			if (until(a->next_heartbeat_ms, now) < timeout)
				timeout = until(a->next_heartbeat_ms, now);
			if (!a->stopping && until(a->next_poll_ms, now) < timeout)
				timeout = until(a->next_poll_ms, now);
			if (until(runner_next_report_at(a->runner), now) < timeout)
				timeout = until(runner_next_report_at(a->runner), now);
		}
		else if (until(a->next_connect_ms, now) < timeout)
			timeout = until(a->next_connect_ms, now);
		/* the end of the grace period, while handlers run or results wait */
		if (a->stopping && a->stop_deadline_ms > now &&
			((!a->killed && runner_running(a->runner) > 0) ||
			 runner_next_done(a->runner) != NULL) &&
			until(a->stop_deadline_ms, now) < timeout)
			timeout = until(a->stop_deadline_ms, now);
		if (a->stopping && a->give_up_ms > 0 && until(a->give_up_ms, now) < timeout)
			timeout = until(a->give_up_ms, now);
		if (a->stopping && a->next_stop_step_ms > now &&
			until(a->next_stop_step_ms, now) < timeout)
			timeout = until(a->next_stop_step_ms, now);

		revents = runner_wait(a->runner, a->conn.pg ? PQsocket(a->conn.pg) : -1,
							  POLLIN, (int) timeout);
		if (revents && a->conn.pg)
		{
			int			n = conn_notifications(&a->conn, a->channel, true);

			if (n > 0)
				node_log(NODE_LOG_DEBUG, "notified");
			if (n > 0 && !a->stopping)
			{
				if (runner_free_slots(a->runner) > 0)
					a->want_fetch = true;
				else
					a->more_waiting = true;
			}
		}
	}
}

/* The "run" command; returns the exit code */
int
agent_run(const NodeConfig *cfg)
{
	Agent		a;
	char	   *err;
	int			code;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.runner = runner_create(cfg->concurrency, cfg->exec_cmd, cfg->node_id);
	a.backoff_ms = BACKOFF_MIN_MS;
	snprintf(a.shard_text, sizeof(a.shard_text), "%d", cfg->push_shard);
	snprintf(a.capacity_text, sizeof(a.capacity_text), "%d", cfg->capacity);
	conn_init(&a.conn, cfg->conninfo, agent_wait, &a);
	a.conn.cancel_requests = agent_cancel_requests;
	srandom((unsigned) (getpid() ^ node_now_ms()));
	runner_init_signals();

	/* the first connection and registration must work: fail fast */
	if (!conn_open(&a.conn, &err))
	{
		node_log(NODE_LOG_ERROR, "could not connect to the server: %s", err);
		free(err);
		code = NODE_EXIT_CONNECT;
	}
	else if ((code = session_listen(&a, true)) != 0 ||
			 (code = session_register(&a, true)) != 0)
	{
		if (code == NODE_EXIT_CONNECT)
			node_log(NODE_LOG_ERROR, "lost the connection while registering");
	}
	else
	{
		a.connected = true;
		a.want_fetch = true;
		a.next_heartbeat_ms = node_now_ms() + heartbeat_interval(&a);
		code = run_loop(&a);
	}

	conn_close(&a.conn);
	runner_destroy(a.runner);
	free(a.channel);
	free(a.listeners);
	return code;
}
