/*-------------------------------------------------------------------------
 *
 * main.c
 *	  role-cluster-node: the node agent of role_cluster.
 *
 * Reads the node's settings from the environment (STALWART_ROLE,
 * STALWART_PUSH_SHARD, STALWART_NODE_ID, libpq's PG* variables) and the
 * command line, then runs one command: "listeners" and "tasks" print what
 * the node's role enables, "run" works the node's tasks (agent.c).
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "node.h"

#define MAX_CONCURRENCY 1024
#define MAX_CAPACITY	1000000
#define MAX_SECONDS		86400.0
/* files the agent opens besides its handlers' pipes */
#define FILES_RESERVED	32

enum
{
	OPT_CAPACITY = 256,
	OPT_GRACE,
	OPT_HEARTBEAT,
	OPT_POLL,
	OPT_PULL
};

/* Print --help */
static void
usage(void)
{
	printf("%s works the tasks that role_cluster routes to this node.\n\n", NODE_PROGNAME);
	printf("Usage:\n");
	printf("  %s [OPTION]... listeners\n", NODE_PROGNAME);
	printf("  %s [OPTION]... tasks\n", NODE_PROGNAME);
	printf("  %s [OPTION]... run --exec=CMD [RUN OPTION]...\n", NODE_PROGNAME);
	printf("\nCommands:\n");
	printf("  listeners              print the listener ids the node's role enables\n"
		   "                         (what the node binds), one per line\n");
	printf("  tasks                  print the task types the node's role enables,\n"
		   "                         one per line\n");
	printf("  run                    register the node and run CMD once for each task\n"
		   "                         routed to it, until SIGTERM or SIGINT\n");
	printf("\nOptions:\n");
	printf("  -d, --dbname=CONNSTR   database name or connection string; libpq's PG*\n"
		   "                         variables apply too.  Several hosts with\n"
		   "                         target_session_attrs=read-write fail over.\n");
	printf("  -v, --verbose          log more: -v a line per task, -vv heartbeats too\n");
	printf("  -V, --version          print the version and exit\n");
	printf("  -?, --help             show this help and exit\n");
	printf("\nRun options:\n");
	printf("  -e, --exec=CMD         the handler, run by /bin/sh -c once per task, with\n"
		   "                         the task (JSON) on stdin and RC_TASK_ID,\n"
		   "                         RC_TASK_TYPE, RC_TASK_KIND, RC_SHARD_KEY,\n"
		   "                         RC_ATTEMPT and RC_NODE_ID in its environment.\n"
		   "                         Exit status 0 completes the task; anything else\n"
		   "                         fails it, with CMD's stderr (at most 4 kB: its\n"
		   "                         start and end) as the task's error.\n");
	printf("  -c, --concurrency=N    run up to N handlers at once (default 1); each\n"
		   "                         takes two open files, and the agent raises its\n"
		   "                         soft limit as far as that needs\n");
	printf("      --capacity=N       tasks the server may route to the node at once\n"
		   "                         (default: the concurrency)\n");
	printf("      --grace=SECONDS    on SIGTERM or SIGINT, wait this long for running\n"
		   "                         handlers, then kill them and hand their tasks back\n"
		   "                         (default 30); a second signal ends the wait\n");
	printf("      --heartbeat=SECONDS  heartbeat interval (default 10)\n");
	printf("      --poll=SECONDS     look for routed tasks at least this often, besides\n"
		   "                         notifications (default 5)\n");
	printf("      --pull             also claim queued tasks directly (claim_tasks),\n"
		   "                         for clusters without the background worker\n");
	printf("\nEnvironment:\n");
	printf("  STALWART_ROLE          the node's cluster role; unset or empty: no role,\n"
		   "                         every task type and listener enabled\n");
	printf("  STALWART_PUSH_SHARD    the node's push shard, 1 to push_shards_total\n");
	printf("  STALWART_NODE_ID       the node id (default: the host name)\n");
	printf("  PGHOST, PGPORT, PGDATABASE, PGUSER, ...  libpq connection settings\n");
	printf("\nExit status:\n");
	printf("  0  success; \"run\": stopped by SIGTERM or SIGINT, work handed back\n");
	printf("  1  a server or runtime error\n");
	printf("  2  bad usage or configuration: an invalid option or environment value,\n"
		   "     or the server rejected the node's role, push shard or node id (empty,\n"
		   "     or another login's)\n");
	printf("  3  the server could not be reached or refused the connection (\"run\":\n"
		   "     at start; once running, the agent reconnects with backoff)\n");
}

/* Report a usage error the way PostgreSQL's tools do; returns the exit code */
static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: error: ", NODE_PROGNAME);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", NODE_PROGNAME);
	return NODE_EXIT_CONFIG;
}

/*
 * Each running handler takes two of the agent's files (the pipes of its
 * stdin and its stderr): make sure it may open that many, raising its soft
 * limit up to the hard one when need be.  Without them, a handler that
 * cannot start has its task handed back, and the server routes it straight
 * back.  Returns 0, or the exit code of a limit too low, having said so.
 */
static int
ensure_file_limit(int concurrency)
{
	struct rlimit rl;
	rlim_t		need = (rlim_t) concurrency * 2 + FILES_RESERVED;
	rlim_t		had;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
		rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
	{
		node_log(NODE_LOG_ERROR, "--concurrency %d needs %lu open files, and the "
				 "limit is %lu", concurrency, (unsigned long) need,
				 (unsigned long) rl.rlim_max);
		node_log_labeled(NODE_LOG_ERROR, "HINT", "Raise the open file limit "
						 "(ulimit -n, or LimitNOFILE= in a systemd unit), or "
						 "lower --concurrency.");
		return NODE_EXIT_CONFIG;
	}
	had = rl.rlim_cur;
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
	{
		node_log(NODE_LOG_ERROR, "could not raise the open file limit from %lu "
				 "to %lu: %s", (unsigned long) had, (unsigned long) need,
				 strerror(errno));
		return NODE_EXIT_RUNTIME;
	}
	node_log(NODE_LOG_NOTICE, "raised the open file limit from %lu to %lu for "
			 "--concurrency %d", (unsigned long) had, (unsigned long) need,
			 concurrency);
	return 0;
}

/*
 * Parse a whole decimal integer in [min, max]; false if it is not one.
 * Digits only: every value it reads is positive, and strtol alone would
 * also take a sign and leading blanks (" 3", "+1") but not trailing ones.
 */
static bool
parse_int(const char *s, long min, long max, int *result)
{
	char	   *end;
	long		v;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		return false;
	*result = (int) v;
	return true;
}

/*
 * Parse seconds in [min, MAX_SECONDS] into ms: digits, with a fraction
 * after a point ("2", "0.5", ".5"); strtod alone would also take a sign,
 * leading blanks, an exponent and hexadecimal ("+1", " 3", "1e1", "0x10").
 */
static bool
parse_seconds(const char *s, double min, int *ms)
{
	char	   *end;
	double		v;
	int			digits = 0;
	int			points = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p; p++)
	{
		if (*p == '.')
			points++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return false;
	}
	if (digits == 0 || points > 1)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || end == s || !isfinite(v) ||
		v < min || v > MAX_SECONDS)
		return false;
	*ms = (int) (v * 1000.0 + 0.5);
	return true;
}

/*
 * Read STALWART_ROLE, STALWART_PUSH_SHARD and STALWART_NODE_ID.  Returns 0
 * or NODE_EXIT_CONFIG after printing why.  The shard's upper bound is the
 * server's (push_shards_total) and is checked when the node registers.
 */
static int
read_environment(NodeConfig *cfg, bool need_node_id)
{
	const char *role = getenv("STALWART_ROLE");
	const char *shard = getenv("STALWART_PUSH_SHARD");
	const char *node_id = getenv("STALWART_NODE_ID");

	cfg->role = (role && *role) ? role : NULL;

	cfg->push_shard = 0;
	if (shard && *shard &&
		!parse_int(shard, 1, INT_MAX, &cfg->push_shard))
	{
		node_log(NODE_LOG_ERROR, "invalid STALWART_PUSH_SHARD \"%s\"", shard);
		node_log_labeled(NODE_LOG_ERROR, "HINT",
						 "The push shard is an integer from 1 to the cluster's "
						 "push_shards_total; leave it unset for a node that "
						 "delivers no push notifications.");
		return NODE_EXIT_CONFIG;
	}

	if (node_id && *node_id)
		cfg->node_id = node_id;
	else if (need_node_id)
	{
		static char host[256];

		if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		{
			node_log(NODE_LOG_ERROR, "STALWART_NODE_ID is not set and the host name "
					 "is unknown: %m");
			return NODE_EXIT_CONFIG;
		}
		host[sizeof(host) - 1] = '\0';
		cfg->node_id = host;
	}
	return 0;
}

/*
 * "listeners" and "tasks": print one column of a query on the node's role,
 * one value per line.
 */
static int
list_command(const NodeConfig *cfg, const char *sql, const char *what)
{
	NodeConn	c;
	char	   *err;
	const char *values[1] = {cfg->role};
	ConnStatus	st;
	PGresult   *res;
	int			code = NODE_EXIT_OK;

	conn_init(&c, cfg->conninfo, NULL, NULL);
	if (!conn_open(&c, &err))
	{
		node_log(NODE_LOG_ERROR, "could not connect to the server: %s", err);
		free(err);
		return NODE_EXIT_CONNECT;
	}
	res = conn_exec(&c, sql, 1, values, &st);
	if (st == CONN_LOST)
		return NODE_EXIT_CONNECT;
	if (st == CONN_ERROR)
	{
		conn_log_error(NODE_LOG_ERROR, what, res);
		code = conn_error_exit_code(res);
	}
	else
	{
		for (int i = 0; i < PQntuples(res); i++)
			printf("%s\n", PQgetvalue(res, i, 0));
		if (fflush(stdout) != 0 || ferror(stdout))
		{
			node_log(NODE_LOG_ERROR, "could not write to stdout: %m");
			code = NODE_EXIT_RUNTIME;
		}
	}
	PQclear(res);
	conn_close(&c);
	return code;
}

/* Parse the command line and the environment, then run the command */
int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{"exec", required_argument, NULL, 'e'},
		{"concurrency", required_argument, NULL, 'c'},
		{"capacity", required_argument, NULL, OPT_CAPACITY},
		{"grace", required_argument, NULL, OPT_GRACE},
		{"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
		{"poll", required_argument, NULL, OPT_POLL},
		{"pull", no_argument, NULL, OPT_PULL},
		{NULL, 0, NULL, 0}
	};
	NodeConfig	cfg;
	bool		run_options = false;
	bool		capacity_set = false;
	const char *command;
	int			opt;
	int			code;

	memset(&cfg, 0, sizeof(cfg));
	cfg.concurrency = 1;
	cfg.grace_ms = 30000;
	cfg.heartbeat_ms = 10000;
	cfg.poll_ms = 5000;

	/* "-?" is help whether or not getopt reports it as an error */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-?") == 0 || strcmp(argv[i], "--help") == 0)
		{
			usage();
			return NODE_EXIT_OK;
		}

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":d:vVe:c:", long_options, NULL)) != -1)
	{
		switch (opt)
		{
			case 'd':
				cfg.conninfo = optarg;
				break;
			case 'v':
				node_verbosity++;
				break;
			case 'V':
				printf("%s %s\n", NODE_PROGNAME, NODE_VERSION);
				return NODE_EXIT_OK;
			case 'e':
				cfg.exec_cmd = optarg;
				run_options = true;
				break;
			case 'c':
				if (!parse_int(optarg, 1, MAX_CONCURRENCY, &cfg.concurrency))
					return usage_error("invalid --concurrency \"%s\": must be an "
									   "integer from 1 to 1024", optarg);
				run_options = true;
				break;
			case OPT_CAPACITY:
				if (!parse_int(optarg, 1, MAX_CAPACITY, &cfg.capacity))
					return usage_error("invalid --capacity \"%s\": must be a "
									   "positive integer", optarg);
				capacity_set = true;
				run_options = true;
				break;
			case OPT_GRACE:
				if (!parse_seconds(optarg, 0.0, &cfg.grace_ms))
					return usage_error("invalid --grace \"%s\": must be a number "
									   "of seconds, 0 or more", optarg);
				run_options = true;
				break;
			case OPT_HEARTBEAT:
				if (!parse_seconds(optarg, 0.1, &cfg.heartbeat_ms))
					return usage_error("invalid --heartbeat \"%s\": must be a "
									   "number of seconds, 0.1 or more", optarg);
				run_options = true;
				break;
			case OPT_POLL:
				if (!parse_seconds(optarg, 0.1, &cfg.poll_ms))
					return usage_error("invalid --poll \"%s\": must be a number "
									   "of seconds, 0.1 or more", optarg);
				run_options = true;
				break;
			case OPT_PULL:
				cfg.pull = true;
				run_options = true;
				break;
			case ':':
				return usage_error("option \"%s\" needs a value", argv[optind - 1]);
			default:
				if (optopt != 0)
				{
					char		shortopt[3] = {'-', (char) optopt, '\0'};

					return usage_error("unknown option \"%s\"", shortopt);
				}
				return usage_error("unknown option \"%s\"", argv[optind - 1]);
		}
	}

	if (optind >= argc)
		return usage_error("%sno command given (listeners, tasks or run)", "");
	command = argv[optind];
	if (optind + 1 < argc)
		return usage_error("too many arguments, starting with \"%s\"", argv[optind + 1]);

	if (strcmp(command, "listeners") == 0 || strcmp(command, "tasks") == 0)
	{
		if (run_options)
			return usage_error("run options do not apply to \"%s\"", command);
		node_log_init(NULL, false);
		if ((code = read_environment(&cfg, false)) != 0)
			return code;
		if (command[0] == 'l')
			return list_command(&cfg,
								"SELECT l FROM role_cluster.role_listeners($1) AS l ORDER BY 1",
								"could not list the role's listeners");
		return list_command(&cfg,
							"SELECT t FROM role_cluster.role_tasks($1) AS t ORDER BY 1",
							"could not list the role's task types");
	}
	if (strcmp(command, "run") != 0)
		return usage_error("unknown command \"%s\" (listeners, tasks or run)", command);

	if (cfg.exec_cmd == NULL || cfg.exec_cmd[0] == '\0')
		return usage_error("%s\"run\" needs --exec=CMD", "");
	if (!capacity_set)
		cfg.capacity = cfg.concurrency;

	node_log_init(NULL, false);
	if ((code = read_environment(&cfg, true)) != 0)
		return code;
	node_log_init(cfg.node_id, true);
	if ((code = ensure_file_limit(cfg.concurrency)) != 0)
		return code;
	return agent_run(&cfg);
}
