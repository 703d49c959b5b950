/*-------------------------------------------------------------------------
 *
 * node.h
 *	  Shared declarations of role-cluster-node, the node agent: exit codes,
 *	  the configuration read from options and the environment, logging and
 *	  small helpers.
 *
 * The agent is a client program linked with libpq only; it includes no
 * server header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_NODE_H
#define RC_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_PROGNAME "role-cluster-node"
#define NODE_VERSION "1.0"

/* Exit codes; documented in --help and in README */
#define NODE_EXIT_OK		0	/* done, or stopped cleanly by a signal */
#define NODE_EXIT_RUNTIME	1	/* a server or runtime error */
#define NODE_EXIT_CONFIG	2	/* bad usage, environment, role or shard */
#define NODE_EXIT_CONNECT	3	/* the server could not be reached */

#define NODE_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Everything the options and the environment decide */
typedef struct NodeConfig
{
	const char *conninfo;		/* -d/--dbname, NULL = libpq's environment */
	const char *node_id;		/* STALWART_NODE_ID, else the host name */
	const char *role;			/* STALWART_ROLE, NULL = no role */
	int			push_shard;		/* STALWART_PUSH_SHARD, 0 = none */
	const char *exec_cmd;		/* run: --exec, run by /bin/sh -c */
	int			concurrency;	/* run: handlers at once */
	int			capacity;		/* run: tasks the server may route at once */
	int			grace_ms;		/* run: wait for handlers on SIGTERM */
	int			heartbeat_ms;	/* run: heartbeat interval */
	int			poll_ms;		/* run: fallback fetch interval */
	bool		pull;			/* run: also claim queued tasks directly */
} NodeConfig;

/* Log levels, most severe first; -v shows INFO, -vv DEBUG */
typedef enum NodeLogLevel
{
	NODE_LOG_ERROR,
	NODE_LOG_WARNING,
	NODE_LOG_NOTICE,			/* lifecycle: registered, reconnected, ... */
	NODE_LOG_INFO,				/* each task */
	NODE_LOG_DEBUG				/* heartbeats, notifications, fetches */
} NodeLogLevel;

/* log.c */
extern int	node_verbosity;
extern void node_log_init(const char *node_id, bool timestamps);
extern void node_log(NodeLogLevel level, const char *fmt,...) NODE_PRINTF(2, 3);
extern void node_log_labeled(NodeLogLevel level, const char *label,
							 const char *fmt,...) NODE_PRINTF(3, 4);
extern bool node_log_enabled(NodeLogLevel level);
extern int64_t node_now_ms(void);
extern void *node_malloc(size_t size);
extern char *node_strdup(const char *s);
extern void node_make_utf8(char *s);

#endif							/* RC_NODE_H */
