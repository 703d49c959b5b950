/*-------------------------------------------------------------------------
 *
 * runner.c
 *	  Handler processes of the node agent.
 *
 * Each task runs as "/bin/sh -c CMD" in a process group of its own, under
 * a small supervisor (a fork of the agent) that kills the group if the
 * agent dies; the agent kills what is left of the group when the
 * supervisor ends (see reap_children).  The task's JSON is written to the
 * handler's stdin through a non-blocking pipe and its stderr is captured
 * (the first and the last few kilobytes) for the task's error.  Its stdout
 * is the agent's.  Signals reach the poll loop through a self-pipe: SIGCHLD
 * makes runner_wait reap, SIGTERM and SIGINT are counted for the caller.
 * runner_wait serves the children while it waits for the server's socket,
 * so a query never blocks a handler's pipes.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "node.h"
#include "runner.h"

/* How much of a handler's stderr a task's error keeps */
#define ERR_HEAD	1024
#define ERR_TAIL	3072

struct RunnerSlot
{
	SlotState	state;
	NodeTask   *task;
	pid_t		pid;			/* also the process group id */
	int			stdin_fd;		/* -1 once all is written or closed */
	size_t		stdin_off;
	size_t		stdin_len;
	int			stderr_fd;		/* -1 once at EOF or reaped */
	char		head[ERR_HEAD]; /* the first bytes of stderr */
	size_t		head_len;
	char		tail[ERR_TAIL]; /* a ring of the last bytes */
	size_t		tail_pos;
	size_t		tail_len;
	size_t		err_total;		/* all bytes seen on stderr */
	int			wstatus;		/* from waitpid */
	bool		killed;			/* the agent killed it */
	bool		superseded;		/* its task was given to the node again */
	int64_t		report_after_ms;	/* done: no report before then (0: now) */
};

struct Runner
{
	int			nslots;
	RunnerSlot *slots;
	char	   *cmd;
	char	   *node_id;
	struct pollfd *pfds;		/* 2 + 2 * nslots entries */
	RunnerSlot **pfd_slots;		/* the slot of each pfds entry, or NULL */
};

extern char **environ;

static int	sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t stop_requests = 0;

static const char *const task_env_names[] = {
	"RC_TASK_ID", "RC_TASK_TYPE", "RC_TASK_KIND", "RC_SHARD_KEY",
	"RC_ATTEMPT", "RC_NODE_ID"
};
#define N_TASK_ENV (sizeof(task_env_names) / sizeof(task_env_names[0]))

/*
 * Signal handler: wake the poll loop through the self-pipe and count stop
 * requests.  Only async-signal-safe calls.
 */
static void
handle_signal(int signo)
{
	int			save_errno = errno;

	if (signo == SIGTERM || signo == SIGINT)
		stop_requests++;
	if (write(sig_pipe[1], "x", 1) < 0)
	{
		/* the pipe is full, so the loop will wake anyway */
	}
	errno = save_errno;
}

/* Make fd non-blocking and close-on-exec; exits on failure */
static void
set_fd_flags(int fd, bool nonblock)
{
	int			flags;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
		(nonblock &&
		 ((flags = fcntl(fd, F_GETFL)) < 0 ||
		  fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)))
	{
		node_log(NODE_LOG_ERROR, "could not set file descriptor flags: %m");
		exit(NODE_EXIT_RUNTIME);
	}
}

/*
 * Install the signal handlers of "run": SIGCHLD, SIGTERM and SIGINT go to
 * the self-pipe; SIGPIPE is ignored (a handler may close its stdin early);
 * SIGHUP, which would end the agent and with it its handlers (a closed
 * terminal, a reload sent to every service), only wakes the loop: there
 * is nothing to reload.
 */
void
runner_init_signals(void)
{
	struct sigaction sa;

	if (pipe(sig_pipe) < 0)
	{
		node_log(NODE_LOG_ERROR, "could not create a pipe: %m");
		exit(NODE_EXIT_RUNTIME);
	}
	set_fd_flags(sig_pipe[0], true);
	set_fd_flags(sig_pipe[1], true);

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handle_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* How many SIGTERM/SIGINT have arrived */
int
runner_stop_requests(void)
{
	return stop_requests;
}

/* Create a runner for nslots concurrent handlers of cmd */
Runner *
runner_create(int nslots, const char *cmd, const char *node_id)
{
	Runner	   *r = node_malloc(sizeof(Runner));

	r->nslots = nslots;
	r->slots = node_malloc(sizeof(RunnerSlot) * nslots);
	memset(r->slots, 0, sizeof(RunnerSlot) * nslots);
	for (int i = 0; i < nslots; i++)
	{
		r->slots[i].stdin_fd = -1;
		r->slots[i].stderr_fd = -1;
	}
	r->cmd = node_strdup(cmd);
	r->node_id = node_strdup(node_id);
	r->pfds = node_malloc(sizeof(struct pollfd) * (2 + 2 * nslots));
	r->pfd_slots = node_malloc(sizeof(RunnerSlot *) * (2 + 2 * nslots));
	return r;
}

/*
 * Free a runner.  Its handlers must be gone: a running handler's pipes are
 * closed, its task dropped.
 */
void
runner_destroy(Runner *r)
{
	for (int i = 0; i < r->nslots; i++)
	{
		RunnerSlot *slot = &r->slots[i];

		if (slot->stdin_fd >= 0)
			close(slot->stdin_fd);
		if (slot->stderr_fd >= 0)
			close(slot->stderr_fd);
		node_task_free(slot->task);
	}
	free(r->slots);
	free(r->cmd);
	free(r->node_id);
	free(r->pfds);
	free(r->pfd_slots);
	free(r);
}

/* Slots that can take a task now */
int
runner_free_slots(const Runner *r)
{
	int			n = 0;

	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_FREE)
			n++;
	return n;
}

/* Handlers not reaped yet */
int
runner_running(const Runner *r)
{
	int			n = 0;

	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_RUNNING)
			n++;
	return n;
}

/* Free a task and its strings */
void
node_task_free(NodeTask *task)
{
	if (task == NULL)
		return;
	free(task->id);
	free(task->task_type);
	free(task->kind);
	free(task->shard_key);
	free(task->attempt);
	free(task->json);
	free(task);
}

/* "NAME=value" in a new string */
static char *
env_entry(const char *name, const char *value)
{
	size_t		len = strlen(name) + strlen(value) + 2;
	char	   *s = node_malloc(len);

	snprintf(s, len, "%s=%s", name, value ? value : "");
	return s;
}

/*
 * The handler's environment: ours without any inherited RC_* task
 * variable, plus the task's.  The first N_TASK_ENV entries are malloc'd.
 */
static char **
build_env(const Runner *r, const NodeTask *task)
{
	size_t		n = 0;
	size_t		k = 0;
	char	  **env;

	while (environ[n])
		n++;
	env = node_malloc(sizeof(char *) * (n + N_TASK_ENV + 1));

	env[k++] = env_entry("RC_TASK_ID", task->id);
	env[k++] = env_entry("RC_TASK_TYPE", task->task_type);
	env[k++] = env_entry("RC_TASK_KIND", task->kind ? task->kind : "");
	env[k++] = env_entry("RC_SHARD_KEY", task->shard_key ? task->shard_key : "");
	env[k++] = env_entry("RC_ATTEMPT", task->attempt);
	env[k++] = env_entry("RC_NODE_ID", r->node_id);

	for (size_t i = 0; i < n; i++)
	{
		bool		ours = false;

		for (size_t j = 0; j < N_TASK_ENV; j++)
		{
			size_t		len = strlen(task_env_names[j]);

			if (strncmp(environ[i], task_env_names[j], len) == 0 &&
				environ[i][len] == '=')
				ours = true;
		}
		if (!ours)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

/* Free what build_env allocated */
static void
free_env(char **env)
{
	for (size_t j = 0; j < N_TASK_ENV; j++)
		free(env[j]);
	free(env);
}

/* In the supervisor: the agent it serves, set before any signal comes */
static pid_t supervised_for = 0;
static volatile sig_atomic_t signal_passed = 0;

/*
 * In the supervisor, on SIGTERM or SIGHUP.  The agent died (the parent-
 * death signal: the supervisor has another parent now): end the whole
 * handler group, itself included.  Else someone signalled the logged pid:
 * pass the signal on to the group, once (the supervisor's own copy, held
 * back while this runs, comes back here), and go on waiting for the shell,
 * so that the agent reports how the handler ended; the agent kills what is
 * left of the group as it reaps the supervisor.
 */
static void
supervisor_signal(int signo)
{
	if (getppid() != supervised_for)
	{
		(void) kill(0, SIGKILL);
		_exit(128 + signo);
	}
	if (!signal_passed)
	{
		signal_passed = 1;
		(void) kill(0, signo);
	}
}

/*
 * In the grandchild: restore default signal handling and exec the shell,
 * whose stdin and stderr are the pipes already.  Never returns.
 */
static void
exec_handler(const char *cmd, char **env)
{
	struct sigaction sa;
	sigset_t	none;
	char	   *argv[4];
	static const char msg[] = NODE_PROGNAME ": could not execute /bin/sh\n";

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = (char *) cmd;
	argv[3] = NULL;
	execve("/bin/sh", argv, env);
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
	{
		/* nothing more to do */
	}
	_exit(127);
}

/*
 * In the child: the handler's supervisor.  It leads a new process group
 * that holds the whole handler tree, starts the shell in it and passes on
 * its exit status.  If the agent dies (even by SIGKILL), the kernel sends
 * the supervisor SIGTERM (Linux's parent-death signal) and it kills the
 * group: a handler must not outlive its agent, since the server gives the
 * task to another node.  The shell alone could not do this: it does not
 * always exec its last command, and the parent-death signal reaches only
 * the agent's direct child.  Never returns.
 */
static void
supervise(const char *cmd, char **env, int in_fd, int err_fd, pid_t parent)
{
	struct sigaction sa;
	struct rlimit nocore = {0, 0};
	pid_t		pid;
	int			wstatus;
	long		maxfd = sysconf(_SC_OPEN_MAX);

	(void) setpgid(0, 0);
	supervised_for = parent;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = supervisor_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
#ifdef __linux__
	(void) prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
	if (getppid() != parent)
		supervisor_signal(SIGTERM);

	/* the pipes become stdin and stderr; nothing else stays open */
	if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
		_exit(127);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (int fd = 3; fd < maxfd; fd++)
		(void) close(fd);

	pid = fork();
	if (pid == 0)
		exec_handler(cmd, env);
	if (pid < 0)
		_exit(127);

	while (waitpid(pid, &wstatus, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	if (WIFEXITED(wstatus))
		_exit(WEXITSTATUS(wstatus));

	/* die the same way, so the agent reports the signal, without a core */
	(void) setrlimit(RLIMIT_CORE, &nocore);
	sa.sa_handler = SIG_DFL;
	sigaction(WTERMSIG(wstatus), &sa, NULL);
	{
		sigset_t	none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	(void) kill(getpid(), WTERMSIG(wstatus));
	_exit(128 + WTERMSIG(wstatus));
}

/*
 * Start the handler of a task in a free slot; the runner owns the task
 * from now on, whatever the result.  False if no process could be started
 * (the caller then hands the task back).
 */
bool
runner_start(Runner *r, NodeTask *task)
{
	RunnerSlot *slot = NULL;
	int			in_pipe[2];
	int			err_pipe[2];
	char	  **env;
	pid_t		pid;
	pid_t		parent = getpid();

	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_FREE)
		{
			slot = &r->slots[i];
			break;
		}
	if (slot == NULL)
		return false;

	if (pipe(in_pipe) < 0)
	{
		node_log(NODE_LOG_WARNING, "could not create a pipe for task %s: %m",
				 task->id);
		return false;
	}
	if (pipe(err_pipe) < 0)
	{
		node_log(NODE_LOG_WARNING, "could not create a pipe for task %s: %m",
				 task->id);
		close(in_pipe[0]);
		close(in_pipe[1]);
		return false;
	}
	/* close-on-exec everywhere: no other handler may inherit these */
	set_fd_flags(in_pipe[0], false);
	set_fd_flags(in_pipe[1], true);
	set_fd_flags(err_pipe[0], true);
	set_fd_flags(err_pipe[1], false);

	env = build_env(r, task);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		supervise(r->cmd, env, in_pipe[0], err_pipe[1], parent);
	free_env(env);
	close(in_pipe[0]);
	close(err_pipe[1]);
	if (pid < 0)
	{
		node_log(NODE_LOG_WARNING, "could not start the handler of task %s: %m",
				 task->id);
		close(in_pipe[1]);
		close(err_pipe[0]);
		return false;
	}
	/* both sides set the group, so a kill right now reaches it */
	(void) setpgid(pid, pid);

	memset(slot, 0, sizeof(RunnerSlot));
	slot->state = SLOT_RUNNING;
	slot->task = task;
	slot->pid = pid;
	slot->stdin_fd = in_pipe[1];
	slot->stdin_len = strlen(task->json);
	slot->stderr_fd = err_pipe[0];
	node_log(NODE_LOG_INFO, "task %s (%s%s%s, attempt %s) started, pid %d",
			 task->id, task->task_type, task->kind[0] ? " " : "", task->kind,
			 task->attempt, (int) pid);
	return true;
}

/*
 * Kill every running handler's process group.  They are reaped as usual
 * and report OUTCOME_KILLED unless they had exited 0 already.
 */
void
runner_kill_all(Runner *r)
{
	for (int i = 0; i < r->nslots; i++)
	{
		RunnerSlot *slot = &r->slots[i];

		if (slot->state != SLOT_RUNNING)
			continue;
		slot->killed = true;
		node_log(NODE_LOG_NOTICE, "killing the handler of task %s (pid %d)",
				 slot->task->id, (int) slot->pid);
		(void) kill(-slot->pid, SIGKILL);
		(void) kill(slot->pid, SIGKILL);
	}
}

/*
 * The server gave task task_id to the node again while an earlier run of it
 * is here (the server took the task back from the node meanwhile: a new
 * session registered it, or it was deregistered): that run's result is not
 * to be reported, since a report would count for the new run.  Kills its
 * handler if it still runs.  Returns how many slots held the task.
 */
int
runner_supersede(Runner *r, const char *task_id)
{
	int			n = 0;

	for (int i = 0; i < r->nslots; i++)
	{
		RunnerSlot *slot = &r->slots[i];

		if (slot->state == SLOT_FREE || strcmp(slot->task->id, task_id) != 0)
			continue;
		slot->superseded = true;
		n++;
		if (slot->state == SLOT_RUNNING)
		{
			slot->killed = true;
			(void) kill(-slot->pid, SIGKILL);
			(void) kill(slot->pid, SIGKILL);
		}
	}
	return n;
}

/*
 * The server took back every task the node held (a registration from a new
 * session, say): no result of a run here is to be reported.  Kills the
 * handlers still running, as runner_supersede() does one.  Returns how many
 * were running.
 */
int
runner_supersede_all(Runner *r)
{
	int			n = 0;

	for (int i = 0; i < r->nslots; i++)
	{
		RunnerSlot *slot = &r->slots[i];

		if (slot->state != SLOT_RUNNING)
			continue;
		node_log(NODE_LOG_NOTICE, "stopping the handler of task %s (pid %d)",
				 slot->task->id, (int) slot->pid);
		slot->superseded = true;
		slot->killed = true;
		(void) kill(-slot->pid, SIGKILL);
		(void) kill(slot->pid, SIGKILL);
		n++;
	}
	return n;
}

/* A finished slot whose result is not reported yet, or NULL */
RunnerSlot *
runner_next_done(Runner *r)
{
	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_DONE)
			return &r->slots[i];
	return NULL;
}

/*
 * The finished slots whose results may be reported at now_ms, into slots
 * (room for every slot); returns how many
 */
int
runner_reports_due(Runner *r, int64_t now_ms, RunnerSlot **slots)
{
	int			n = 0;

	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_DONE && r->slots[i].report_after_ms <= now_ms)
			slots[n++] = &r->slots[i];
	return n;
}

/* When the next finished slot's result may be reported; INT64_MAX: none */
int64_t
runner_next_report_at(const Runner *r)
{
	int64_t		at = INT64_MAX;

	for (int i = 0; i < r->nslots; i++)
		if (r->slots[i].state == SLOT_DONE && r->slots[i].report_after_ms < at)
			at = r->slots[i].report_after_ms;
	return at;
}

/* Leave a finished slot's result unreported until until_ms */
void
runner_slot_defer(RunnerSlot *slot, int64_t until_ms)
{
	slot->report_after_ms = until_ms;
}

/* The task of a slot */
const NodeTask *
runner_slot_task(const RunnerSlot *slot)
{
	return slot->task;
}

/* Keep the first ERR_HEAD and the last ERR_TAIL bytes of stderr */
static void
capture_stderr(RunnerSlot *slot, const char *buf, size_t n)
{
	slot->err_total += n;
	while (n > 0 && slot->head_len < ERR_HEAD)
	{
		slot->head[slot->head_len++] = *buf++;
		n--;
	}
	while (n > 0)
	{
		slot->tail[slot->tail_pos] = *buf++;
		slot->tail_pos = (slot->tail_pos + 1) % ERR_TAIL;
		if (slot->tail_len < ERR_TAIL)
			slot->tail_len++;
		n--;
	}
}

/* Read what the handler's stderr holds now; close it at EOF */
static void
read_stderr(RunnerSlot *slot)
{
	char		buf[4096];

	while (slot->stderr_fd >= 0)
	{
		ssize_t		n = read(slot->stderr_fd, buf, sizeof(buf));

		if (n > 0)
			capture_stderr(slot, buf, (size_t) n);
		else if (n < 0 && errno == EINTR)
			continue;
		else
		{
			if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			{
				close(slot->stderr_fd);
				slot->stderr_fd = -1;
			}
			break;
		}
	}
}

/* Write more of the task's JSON to the handler's stdin; close when done */
static void
write_stdin(RunnerSlot *slot)
{
	while (slot->stdin_fd >= 0 && slot->stdin_off < slot->stdin_len)
	{
		ssize_t		n = write(slot->stdin_fd, slot->task->json + slot->stdin_off,
							  slot->stdin_len - slot->stdin_off);

		if (n > 0)
			slot->stdin_off += (size_t) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			break;				/* EPIPE: the handler does not read stdin */
	}
	if (slot->stdin_fd >= 0)
	{
		close(slot->stdin_fd);
		slot->stdin_fd = -1;
	}
}

/*
 * Reap every exited handler; their slots become SLOT_DONE.  A supervisor
 * that ended without killing its group (killed with SIGKILL: kill -9 of
 * the logged pid, the OOM killer) leaves the shell and its children
 * running, and so may a handler that put processes in the background:
 * what is left of the group is killed first.  That is done while the
 * supervisor is still a zombie (waitid with WNOWAIT looks without
 * reaping): until it is reaped, its pid, which is the group's id, cannot
 * be given to another process, so the kill reaches this group only.
 */
static void
reap_children(Runner *r)
{
	siginfo_t	info;
	pid_t		pid;
	int			wstatus;

	for (;;)
	{
		memset(&info, 0, sizeof(info));
		if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0 ||
			info.si_pid == 0)
			break;
		pid = info.si_pid;
		for (int i = 0; i < r->nslots; i++)
			if (r->slots[i].state == SLOT_RUNNING && r->slots[i].pid == pid)
				(void) kill(-pid, SIGKILL);
		if (waitpid(pid, &wstatus, WNOHANG) != pid)
			break;
		for (int i = 0; i < r->nslots; i++)
		{
			RunnerSlot *slot = &r->slots[i];

			if (slot->state != SLOT_RUNNING || slot->pid != pid)
				continue;
			slot->wstatus = wstatus;
			/* what it wrote before exiting is still in the pipe */
			read_stderr(slot);
			if (slot->stderr_fd >= 0)
				close(slot->stderr_fd);
			slot->stderr_fd = -1;
			if (slot->stdin_fd >= 0)
				close(slot->stdin_fd);
			slot->stdin_fd = -1;
			slot->state = SLOT_DONE;
			break;
		}
	}
}

/* The captured stderr as one string, marking what was left out; malloc'd */
static char *
stderr_text(const RunnerSlot *slot)
{
	size_t		omitted = slot->err_total - slot->head_len - slot->tail_len;
	size_t		size = slot->head_len + slot->tail_len + 64;
	char	   *s = node_malloc(size);
	size_t		len = 0;
	size_t		start = slot->tail_len < ERR_TAIL ? 0 : slot->tail_pos;

	memcpy(s, slot->head, slot->head_len);
	len = slot->head_len;
	if (omitted > 0)
		len += snprintf(s + len, size - len, "\n[... %zu bytes omitted ...]\n",
						omitted);
	for (size_t i = 0; i < slot->tail_len; i++)
		s[len++] = slot->tail[(start + i) % ERR_TAIL];
	s[len] = '\0';

	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = '?';
	node_make_utf8(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' ' ||
					   s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/*
 * What a finished slot's handler did.  For OUTCOME_FAILED *message gets the
 * task's error (the exit status and the handler's stderr; malloc'd), else
 * NULL.
 */
SlotOutcome
runner_slot_outcome(const RunnerSlot *slot, char **message)
{
	char		status[128];
	char	   *err;
	size_t		size;

	*message = NULL;
	if (slot->superseded)
		return OUTCOME_SUPERSEDED;
	if (WIFEXITED(slot->wstatus) && WEXITSTATUS(slot->wstatus) == 0)
		return OUTCOME_OK;
	if (slot->killed)
		return OUTCOME_KILLED;

	if (WIFEXITED(slot->wstatus))
		snprintf(status, sizeof(status), "handler exited with status %d",
				 WEXITSTATUS(slot->wstatus));
	else if (WIFSIGNALED(slot->wstatus))
		snprintf(status, sizeof(status), "handler was terminated by signal %d (%s)",
				 WTERMSIG(slot->wstatus), strsignal(WTERMSIG(slot->wstatus)));
	else
		snprintf(status, sizeof(status), "handler ended with wait status %d",
				 slot->wstatus);

	err = stderr_text(slot);
	size = strlen(status) + strlen(err) + 3;
	*message = node_malloc(size);
	if (err[0])
		snprintf(*message, size, "%s: %s", status, err);
	else
		snprintf(*message, size, "%s", status);
	free(err);
	return OUTCOME_FAILED;
}

/* Forget a reported slot and free its task */
void
runner_slot_clear(RunnerSlot *slot)
{
	node_task_free(slot->task);
	memset(slot, 0, sizeof(RunnerSlot));
	slot->state = SLOT_FREE;
	slot->stdin_fd = -1;
	slot->stderr_fd = -1;
}

/*
 * Wait up to timeout_ms (-1: no limit) for fd (-1: none) to become ready
 * for events, for a signal, or for a handler's pipe; serve the handlers'
 * pipes and reap exited handlers meanwhile.  Returns fd's revents (0 when
 * it was not ready).  Returns early on any signal, so callers re-check
 * their state.
 */
short
runner_wait(Runner *r, int fd, short events, int timeout_ms)
{
	int			n = 0;
	int			fd_index = -1;
	int			rc;
	short		revents = 0;

	r->pfds[n].fd = sig_pipe[0];
	r->pfds[n].events = POLLIN;
	r->pfd_slots[n++] = NULL;
	if (fd >= 0)
	{
		fd_index = n;
		r->pfds[n].fd = fd;
		r->pfds[n].events = events;
		r->pfd_slots[n++] = NULL;
	}
	for (int i = 0; i < r->nslots; i++)
	{
		RunnerSlot *slot = &r->slots[i];

		if (slot->state != SLOT_RUNNING)
			continue;
		if (slot->stdin_fd >= 0)
		{
			r->pfds[n].fd = slot->stdin_fd;
			r->pfds[n].events = POLLOUT;
			r->pfd_slots[n++] = slot;
		}
		if (slot->stderr_fd >= 0)
		{
			r->pfds[n].fd = slot->stderr_fd;
			r->pfds[n].events = POLLIN;
			r->pfd_slots[n++] = slot;
		}
	}

	rc = poll(r->pfds, n, timeout_ms);
	if (rc < 0 && errno != EINTR)
	{
		node_log(NODE_LOG_ERROR, "poll failed: %m");
		exit(NODE_EXIT_RUNTIME);
	}

	if (rc > 0)
	{
		for (int i = 0; i < n; i++)
		{
			RunnerSlot *slot = r->pfd_slots[i];

			if (r->pfds[i].revents == 0)
				continue;
			if (i == fd_index)
				revents = r->pfds[i].revents;
			else if (slot && r->pfds[i].fd == slot->stdin_fd)
				write_stdin(slot);
			else if (slot && r->pfds[i].fd == slot->stderr_fd)
				read_stderr(slot);
		}
	}

	/* drain the self-pipe, then reap whatever exited */
	{
		char		buf[64];

		while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
			;
	}
	reap_children(r);
	return revents;
}
