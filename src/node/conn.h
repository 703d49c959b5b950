/*-------------------------------------------------------------------------
 *
 * conn.h
 *	  The node agent's connection to the server: connect, run one
 *	  parameterised query while serving the handlers, tell a lost connection
 *	  from a server error, and collect notifications.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_NODE_CONN_H
#define RC_NODE_CONN_H

#include <stdbool.h>

#include "libpq-fe.h"
#include "node.h"

/*
 * Waits up to timeout_ms for fd to be ready for events, doing the caller's
 * other work meanwhile; returns fd's revents.  See runner_wait.
 */
typedef short (*NodeWaitFn) (void *arg, int fd, short events, int timeout_ms);

/* What became of a query */
typedef enum ConnStatus
{
	CONN_OK,					/* the result is the query's */
	CONN_ERROR,					/* the server raised an error */
	CONN_LOST					/* the connection is gone (and now closed) */
} ConnStatus;

typedef struct NodeConn
{
	PGconn	   *pg;				/* NULL when not connected */
	const char *conninfo;		/* NULL = the PG* environment only */
	NodeWaitFn	wait;			/* NULL = plain poll */
	void	   *wait_arg;
	/* NULL, or the caller's count of requests to cancel the query in flight */
	int			(*cancel_requests) (void *wait_arg);
	int			statement_timeout_ms;	/* asked for; a shorter one of the
										 * session's stands */
	int			query_timeout_ms;	/* a query that takes longer = lost */
} NodeConn;

extern void conn_init(NodeConn *c, const char *conninfo,
					  NodeWaitFn wait, void *wait_arg);
extern bool conn_open(NodeConn *c, char **errmsg);
extern void conn_close(NodeConn *c);
extern void conn_set_statement_timeout(NodeConn *c, int ms);
extern PGresult *conn_exec(NodeConn *c, const char *sql, int nparams,
						   const char *const *values, ConnStatus *status);
extern int	conn_notifications(NodeConn *c, const char *channel, bool read);
extern void conn_log_error(NodeLogLevel level, const char *what,
						   const PGresult *res);
extern const char *conn_sqlstate(const PGresult *res);
extern int	conn_error_exit_code(const PGresult *res);

#endif							/* RC_NODE_CONN_H */
