/*-------------------------------------------------------------------------
 *
 * conn.c
 *	  The node agent's connection to the server.
 *
 * Connecting uses libpq's blocking PQconnectdbParams: it is the path that
 * honours connect_timeout per host, so a connection string naming several
 * hosts with target_session_attrs=read-write fails over past a host that
 * does not answer.  Unless PGCONNECT_TIMEOUT or the connection string says
 * otherwise, connect_timeout is 10 seconds.  Queries are sent
 * asynchronously and awaited through the caller's wait function, so the
 * handlers' pipes are served and signals noticed while the server works;
 * the session's lock_timeout and statement_timeout keep any of them from
 * waiting long, and the caller may have the one in flight cancelled.
 * Every query is parameterised (PQsendQueryParams); no value is ever
 * spliced into SQL text.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"

/*
 * The server ends a statement that waits this long for a lock: a report or
 * a heartbeat that meets another session's row lock is refused at once
 * (55P03, a refusal that passes, tried again a second later), rather than
 * stall every other report, the heartbeats, and a stop.
 */
#define LOCK_TIMEOUT_MS		1000
/* the statement timeout until the caller says otherwise */
#define DEFAULT_STATEMENT_TIMEOUT_MS	10000
/*
 * The client's deadline is the statement timeout in force and this much
 * more: a statement the server will end is waited for, a server that does
 * not answer is not.
 */
#define QUERY_TIMEOUT_MARGIN_MS	5000
/* a query cancelled: how long its answer may take */
#define CANCEL_WAIT_MS		1000
/* how long the child that sends a cancel request may take */
#define CANCEL_CHILD_S		10

/*
 * Set lock_timeout and statement_timeout ($1 and $2, in ms) for the
 * session, unless the session's own (from the login's or the database's
 * settings, or PGOPTIONS) is shorter.  The rows are lock_timeout's, then
 * statement_timeout's: the value in force, in ms.
 */
#define SQL_TIMEOUTS \
	"SELECT x.v, pg_catalog.set_config(s.name, x.v::text, false) " \
	"FROM pg_catalog.pg_settings s, LATERAL (SELECT least(" \
	"nullif(s.reset_val::bigint, 0), CASE s.name WHEN 'lock_timeout' " \
	"THEN $1::bigint ELSE $2::bigint END) AS v) x " \
	"WHERE s.name IN ('lock_timeout', 'statement_timeout') ORDER BY s.name"

/* Server notices go to our log, not libpq's bare stderr lines */
static void
notice_processor(void *arg, const char *message)
{
	node_log(NODE_LOG_INFO, "server: %s", message);
}

/* Set up c; nothing is connected yet */
void
conn_init(NodeConn *c, const char *conninfo, NodeWaitFn wait, void *wait_arg)
{
	memset(c, 0, sizeof(NodeConn));
	c->conninfo = conninfo;
	c->wait = wait;
	c->wait_arg = wait_arg;
	c->statement_timeout_ms = DEFAULT_STATEMENT_TIMEOUT_MS;
	c->query_timeout_ms = DEFAULT_STATEMENT_TIMEOUT_MS + QUERY_TIMEOUT_MARGIN_MS;
}

/* Copy libpq's message without its trailing newlines; malloc'd */
static char *
trimmed_copy(const char *msg)
{
	char	   *s = node_strdup(msg ? msg : "");
	size_t		len = strlen(s);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	return s;
}

/*
 * Set the client's deadline from the statement timeout in force, as
 * SQL_TIMEOUTS's result res says
 */
static void
note_timeouts(NodeConn *c, const PGresult *res)
{
	long		ms;

	if (PQntuples(res) != 2 || PQgetisnull(res, 1, 0))
		return;
	ms = strtol(PQgetvalue(res, 1, 0), NULL, 10);
	if (ms > 0 && ms <= INT_MAX - QUERY_TIMEOUT_MARGIN_MS)
		c->query_timeout_ms = (int) ms + QUERY_TIMEOUT_MARGIN_MS;
}

/*
 * Connect.  On failure *errmsg gets libpq's message (malloc'd) and false is
 * returned.  Our keywords come before dbname so that the connection string
 * overrides them, except client_encoding: we send and read UTF-8.
 */
bool
conn_open(NodeConn *c, char **errmsg)
{
	const char *keywords[6];
	const char *values[6];
	int			n = 0;

	conn_close(c);
	*errmsg = NULL;

	if (getenv("PGCONNECT_TIMEOUT") == NULL)
	{
		keywords[n] = "connect_timeout";
		values[n++] = "10";
	}
	keywords[n] = "fallback_application_name";
	values[n++] = NODE_PROGNAME;
	if (c->conninfo)
	{
		keywords[n] = "dbname";
		values[n++] = c->conninfo;
	}
	keywords[n] = "client_encoding";
	values[n++] = "UTF8";
	keywords[n] = NULL;
	values[n] = NULL;

	c->pg = PQconnectdbParams(keywords, values, 1);
	if (c->pg == NULL)
	{
		*errmsg = node_strdup("out of memory");
		return false;
	}
	if (PQstatus(c->pg) != CONNECTION_OK)
	{
		*errmsg = trimmed_copy(PQerrorMessage(c->pg));
		conn_close(c);
		return false;
	}

	if (PQsetnonblocking(c->pg, 1) != 0)
	{
		*errmsg = trimmed_copy(PQerrorMessage(c->pg));
		conn_close(c);
		return false;
	}
	PQsetNoticeProcessor(c->pg, notice_processor, NULL);

	/*
	 * The session's settings, each with the deadline of any query (a
	 * server that took the connection may not answer), the handlers served
	 * meanwhile.  claim_tasks() (--pull) and fetch_tasks() work only in
	 * READ COMMITTED, whatever the database's or the login's default; the
	 * timeouts: see LOCK_TIMEOUT_MS.
	 */
	{
		char		lock_ms[16];
		char		statement_ms[16];
		const char *values[2] = {lock_ms, statement_ms};
		ConnStatus	st;
		PGresult   *res;

		res = conn_exec(c, "SET default_transaction_isolation TO 'read committed'", 0, NULL, &st);
		if (st == CONN_OK)
		{
			PQclear(res);
			snprintf(lock_ms, sizeof(lock_ms), "%d", LOCK_TIMEOUT_MS);
			snprintf(statement_ms, sizeof(statement_ms), "%d", c->statement_timeout_ms);
			res = conn_exec(c, SQL_TIMEOUTS, 2, values, &st);
			if (st == CONN_OK)
				note_timeouts(c, res);
		}
		if (st != CONN_OK)
		{
			*errmsg = st == CONN_ERROR ? trimmed_copy(PQresultErrorMessage(res)) :
				node_strdup("the connection was lost as its session was set up");
			PQclear(res);
			conn_close(c);
			return false;
		}
		PQclear(res);
	}
	return true;
}

/*
 * Make ms the session's statement timeout, now if connected (outside a
 * transaction: a rollback would undo it) and at each connection, unless
 * the session's own is shorter; the client's deadline follows it
 */
void
conn_set_statement_timeout(NodeConn *c, int ms)
{
	char		lock_ms[16];
	char		statement_ms[16];
	const char *values[2] = {lock_ms, statement_ms};
	ConnStatus	st;
	PGresult   *res;

	c->statement_timeout_ms = ms;
	if (c->pg == NULL)
		return;
	snprintf(lock_ms, sizeof(lock_ms), "%d", LOCK_TIMEOUT_MS);
	snprintf(statement_ms, sizeof(statement_ms), "%d", ms);
	res = conn_exec(c, SQL_TIMEOUTS, 2, values, &st);
	if (st == CONN_OK)
		note_timeouts(c, res);
	else if (st == CONN_ERROR)
		conn_log_error(NODE_LOG_WARNING, "could not set the statement timeout", res);
	PQclear(res);
}

/* Drop the connection, if any */
void
conn_close(NodeConn *c)
{
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
}

/*
 * Ask the server to cancel the query in flight.  PQcancel opens a
 * connection of its own and blocks until the server closes it, with no
 * time limit: a server or network that does not answer (the very case a
 * second stop signal is sent for) would hold the agent there, its handlers
 * unserved.  So a child process sends it, ended by SIGALRM if it takes
 * longer than CANCEL_CHILD_S; the agent waits at most CANCEL_WAIT_MS for
 * the query's answer (wait_socket), then drops the connection.  The child
 * is reaped with the handlers' supervisors (runner.c's reap_children).
 */
static void
send_cancel(NodeConn *c)
{
	PGcancel   *cancel = PQgetCancel(c->pg);
	pid_t		pid;

	node_log(NODE_LOG_NOTICE, "cancelling the query in flight");
	if (cancel == NULL)
	{
		node_log(NODE_LOG_WARNING, "could not cancel the query: out of memory");
		return;
	}
	pid = fork();
	if (pid == 0)
	{
		char		errbuf[256];
		sigset_t	none;

		/* not the agent's handlers, which write to its self-pipe */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		alarm(CANCEL_CHILD_S);
		if (PQcancel(cancel, errbuf, sizeof(errbuf)))
			_exit(0);
		/* the agent's stderr: node_log writes each line with one call */
		node_log(NODE_LOG_WARNING, "could not cancel the query: %s", errbuf);
		_exit(1);
	}
	if (pid < 0)
		node_log(NODE_LOG_WARNING, "could not cancel the query: could not fork: %s",
				 strerror(errno));
	PQfreeCancel(cancel);
}

/*
 * Wait until the socket is ready or *deadline passes; returns revents, 0
 * on timeout.  Retries while the wait returns early for other reasons.
 * When the caller's count of cancel requests has risen past *cancels, the
 * query is cancelled and *deadline brought within CANCEL_WAIT_MS.
 */
static short
wait_socket(NodeConn *c, short events, int64_t *deadline, int *cancels)
{
	for (;;)
	{
		int64_t		left;
		short		revents;

		if (c->cancel_requests && c->cancel_requests(c->wait_arg) > *cancels)
		{
			*cancels = c->cancel_requests(c->wait_arg);
			send_cancel(c);
			if (*deadline > node_now_ms() + CANCEL_WAIT_MS)
				*deadline = node_now_ms() + CANCEL_WAIT_MS;
		}
		left = *deadline - node_now_ms();
		if (left <= 0)
			return 0;
		if (c->wait)
			revents = c->wait(c->wait_arg, PQsocket(c->pg), events, (int) left);
		else
		{
			struct pollfd pfd;

			pfd.fd = PQsocket(c->pg);
			pfd.events = events;
			pfd.revents = 0;
			if (poll(&pfd, 1, (int) left) < 0 && errno != EINTR)
				return POLLERR;
			revents = pfd.revents;
		}
		if (revents)
			return revents;
	}
}

/*
 * Is this error the end of the connection rather than the query's own?
 * Class 08 (connection exception) and 57P (shutdown, crash, not ready yet)
 * come just before the server closes the socket.
 */
static bool
error_ends_connection(NodeConn *c, const PGresult *res)
{
	const char *state = conn_sqlstate(res);

	return PQstatus(c->pg) == CONNECTION_BAD ||
		strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/* Close a connection found lost and log why */
static void
lose(NodeConn *c, const char *why)
{
	char	   *msg = trimmed_copy(why);

	node_log(NODE_LOG_WARNING, "lost the connection to the server: %s", msg);
	free(msg);
	conn_close(c);
}

/*
 * Run one parameterised query (text parameters, NULL for SQL NULL; text
 * results).  CONN_OK returns the result, CONN_ERROR the server's error
 * result; the caller PQclears either.  CONN_LOST returns NULL, having
 * closed the connection: it broke, or the query took longer than
 * query_timeout_ms.
 */
PGresult *
conn_exec(NodeConn *c, const char *sql, int nparams,
		  const char *const *values, ConnStatus *status)
{
	int64_t		deadline = node_now_ms() + c->query_timeout_ms;
	int			cancels = c->cancel_requests ? c->cancel_requests(c->wait_arg) : 0;
	PGresult   *res;
	PGresult   *kept = NULL;

	*status = CONN_LOST;
	if (c->pg == NULL)
		return NULL;

	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0))
	{
		lose(c, PQerrorMessage(c->pg));
		return NULL;
	}

	/* non-blocking mode: push the query out */
	for (;;)
	{
		int			rc = PQflush(c->pg);
		short		revents;

		if (rc == 0)
			break;
		if (rc < 0)
		{
			lose(c, PQerrorMessage(c->pg));
			return NULL;
		}
		revents = wait_socket(c, POLLIN | POLLOUT, &deadline, &cancels);
		if (revents == 0)
		{
			lose(c, "the server did not take the query in time");
			return NULL;
		}
		if ((revents & POLLIN) && !PQconsumeInput(c->pg))
		{
			lose(c, PQerrorMessage(c->pg));
			return NULL;
		}
	}

	/* collect every result; keep the first error, else the last result */
	for (;;)
	{
		while (PQisBusy(c->pg))
		{
			if (wait_socket(c, POLLIN, &deadline, &cancels) == 0)
			{
				PQclear(kept);
				lose(c, "the server did not answer in time");
				return NULL;
			}
			if (!PQconsumeInput(c->pg))
			{
				PQclear(kept);
				lose(c, PQerrorMessage(c->pg));
				return NULL;
			}
		}
		res = PQgetResult(c->pg);
		if (res == NULL)
			break;
		if (kept && PQresultStatus(kept) == PGRES_FATAL_ERROR)
			PQclear(res);
		else
		{
			PQclear(kept);
			kept = res;
		}
	}

	if (kept == NULL)
	{
		lose(c, PQerrorMessage(c->pg));
		return NULL;
	}
	if (PQresultStatus(kept) == PGRES_TUPLES_OK ||
		PQresultStatus(kept) == PGRES_COMMAND_OK)
	{
		*status = CONN_OK;
		return kept;
	}
	if (error_ends_connection(c, kept))
	{
		lose(c, PQresultErrorMessage(kept));
		PQclear(kept);
		return NULL;
	}
	*status = CONN_ERROR;
	return kept;
}

/*
 * Count the notifications that arrived on channel (others are dropped).
 * With read, first take in what the socket holds.  Returns -1, having
 * closed the connection, if it turned out to be lost.
 */
int
conn_notifications(NodeConn *c, const char *channel, bool read)
{
	PGnotify   *notify;
	int			n = 0;

	if (c->pg == NULL)
		return -1;
	if (read && !PQconsumeInput(c->pg))
	{
		lose(c, PQerrorMessage(c->pg));
		return -1;
	}
	while ((notify = PQnotifies(c->pg)) != NULL)
	{
		if (channel && strcmp(notify->relname, channel) == 0)
			n++;
		PQfreemem(notify);
	}
	return n;
}

/* The SQLSTATE of an error result, "" if none */
const char *
conn_sqlstate(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return state ? state : "";
}

/*
 * Log a server error as "what: message", then its DETAIL and HINT lines,
 * as the server sent them.
 */
void
conn_log_error(NodeLogLevel level, const char *what, const PGresult *res)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	if (primary)
		node_log(level, "%s: %s", what, primary);
	else
	{
		char	   *msg = trimmed_copy(PQresultErrorMessage(res));

		node_log(level, "%s: %s", what, msg);
		free(msg);
	}
	if (detail)
		node_log_labeled(level, "DETAIL", "%s", detail);
	if (hint)
		node_log_labeled(level, "HINT", "%s", hint);
}

/*
 * The exit code for a server error met while starting: the server's
 * rejection of the node's own settings is a configuration error (unknown
 * role: 42704; bad shard, node id or value: class 22 or 23; a login that
 * may not act for the node or call the node functions: 42501), anything
 * else a runtime error.
 */
int
conn_error_exit_code(const PGresult *res)
{
	const char *state = conn_sqlstate(res);

	if (strcmp(state, "42704") == 0 || strcmp(state, "42501") == 0 ||
		strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return NODE_EXIT_CONFIG;
	return NODE_EXIT_RUNTIME;
}
