/*-------------------------------------------------------------------------
 *
 * log.c
 *	  Logging to stderr, the monotonic clock and small helpers of the node
 *	  agent.
 *
 * The agent is quiet by default: errors, warnings and one line per
 * lifecycle event.  -v adds a line per task, -vv heartbeats and fetches.
 * In "run" mode each line carries a timestamp and the node id, so the logs
 * of several agents can be merged.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node.h"

int			node_verbosity = 0;

static const char *log_node_id = NULL;
static bool log_timestamps = false;

static void log_line(const char *label, const char *fmt, va_list ap)
			NODE_PRINTF(2, 0);

static const char *const level_names[] = {
	"ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"
};

/*
 * Set what each log line starts with.  Without timestamps (the one-shot
 * commands) lines start with the program name.
 */
void
node_log_init(const char *node_id, bool timestamps)
{
	log_node_id = node_id;
	log_timestamps = timestamps;
}

/* Would a message of this level be printed? */
bool
node_log_enabled(NodeLogLevel level)
{
	return (int) level <= (int) NODE_LOG_NOTICE + node_verbosity;
}

/*
 * Print one log line to stderr with the given label.  The line is built
 * first and written with one call, so lines of concurrent writers (the
 * handlers share our stderr) do not interleave mid-line, as long as a
 * pipe takes the line whole (PIPE_BUF bytes at least).  A message too
 * long for the line on the stack (a role's listeners, say) is built in
 * memory of its size, and only cut if that cannot be had.
 */
static void
log_line(const char *label, const char *fmt, va_list ap)
{
	char		stack_line[8192];
	char	   *line = stack_line;
	size_t		size = sizeof(stack_line);
	char	   *big = NULL;
	size_t		len = 0;
	int			n;
	int			save_errno = errno;	/* for %m */
	va_list		again;

	if (log_timestamps)
	{
		struct timespec ts;
		struct tm	tm;
		char		stamp[64];
		char		zone[16];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		strftime(zone, sizeof(zone), "%Z", &tm);
		n = snprintf(line, size, "%s.%03ld %s [%s] %s:  ",
					 stamp, ts.tv_nsec / 1000000, zone,
					 log_node_id ? log_node_id : "?", label);
	}
	else
	{
		/* like PostgreSQL's tools: "prog: error: ...", "prog: hint: ..." */
		char		lower[16];
		size_t		i;

		for (i = 0; label[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (label[i] >= 'A' && label[i] <= 'Z') ?
				label[i] - 'A' + 'a' : label[i];
		lower[i] = '\0';
		n = snprintf(line, size, "%s: %s: ", NODE_PROGNAME, lower);
	}
	if (n > 0)
		len = (size_t) n < size ? (size_t) n : size - 1;

	va_copy(again, ap);
	errno = save_errno;
	n = vsnprintf(line + len, size - len, fmt, ap);
	/* too long for the stack (with room for the newline): again, in memory */
	if (n > 0 && (size_t) n > size - len - 2 &&
		(big = malloc(len + (size_t) n + 2)) != NULL)
	{
		memcpy(big, line, len);
		line = big;
		size = len + (size_t) n + 2;
		errno = save_errno;
		n = vsnprintf(line + len, size - len, fmt, again);
	}
	va_end(again);
	if (n > 0)
		len += (size_t) n < size - len ? (size_t) n : size - len - 1;

	/* one trailing newline, whatever the message ended with */
	while (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > size - 2)
		len = size - 2;
	line[len++] = '\n';
	line[len] = '\0';

	fputs(line, stderr);
	fflush(stderr);
	free(big);
}

/* Log a message at a level, if that level is enabled */
void
node_log(NodeLogLevel level, const char *fmt,...)
{
	va_list		ap;
	int			save_errno = errno;

	if (!node_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_line(level_names[level], fmt, ap);
	va_end(ap);
	errno = save_errno;
}

/*
 * Log a line under another label (DETAIL, HINT) at a level, for the parts
 * of a server error.
 */
void
node_log_labeled(NodeLogLevel level, const char *label, const char *fmt,...)
{
	va_list		ap;
	int			save_errno = errno;

	if (!node_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_line(label, fmt, ap);
	va_end(ap);
	errno = save_errno;
}

/* Milliseconds on the monotonic clock; for timers only */
int64_t
node_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* malloc that exits on failure: the agent cannot continue without memory */
void *
node_malloc(size_t size)
{
	void	   *p = malloc(size ? size : 1);

	if (p == NULL)
	{
		node_log(NODE_LOG_ERROR, "out of memory");
		exit(NODE_EXIT_RUNTIME);
	}
	return p;
}

/* strdup that exits on failure; NULL stays NULL */
char *
node_strdup(const char *s)
{
	size_t		len;
	char	   *p;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	p = node_malloc(len + 1);
	memcpy(p, s, len + 1);
	return p;
}

/*
 * Make s valid UTF-8 in place: every byte that does not start a valid
 * sequence becomes '?'.  Handler output is arbitrary bytes, and the server
 * rejects a text parameter that is not valid in the client encoding.
 */
void
node_make_utf8(char *s)
{
	unsigned char *p = (unsigned char *) s;

	while (*p)
	{
		unsigned char c = p[0];
		int			len;
		unsigned char lo = 0x80,
					hi = 0xBF;

		if (c < 0x80)
		{
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			len = 2;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			len = 3;
			if (c == 0xE0)
				lo = 0xA0;		/* overlong */
			else if (c == 0xED)
				hi = 0x9F;		/* surrogates */
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			len = 4;
			if (c == 0xF0)
				lo = 0x90;		/* overlong */
			else if (c == 0xF4)
				hi = 0x8F;		/* above U+10FFFF */
		}
		else
		{
			*p++ = '?';
			continue;
		}

		/* second byte has the special range, the rest 80..BF */
		if (p[1] < lo || p[1] > hi ||
			(len > 2 && (p[2] < 0x80 || p[2] > 0xBF)) ||
			(len > 3 && (p[3] < 0x80 || p[3] > 0xBF)))
		{
			*p++ = '?';
			continue;
		}
		p += len;
	}
}
