/*-------------------------------------------------------------------------
 *
 * clock_shift.c
 *	  A preload library for test/t/029_worker_clock.pl (which compiles it):
 *	  shifts the wall clock of the processes it is loaded into by a number
 *	  of seconds read from a file, so that a test can set a running
 *	  server's clock back or forward without touching the machine's.
 *
 *	  CLOCK_SHIFT_FILE names the file; it holds the offset in seconds, a
 *	  signed integer ("-3600" sets the clock back an hour).  It is read
 *	  again at most every 100 ms of the monotonic clock; a missing or
 *	  unreadable file means no shift.  gettimeofday(), time() and
 *	  clock_gettime() of the real-time clocks are shifted; the monotonic
 *	  clocks, and so every timeout PostgreSQL waits for, are not, as when
 *	  an administrator or NTP steps the system clock.
 *
 *	  libfaketime does the same, but with PostgreSQL 15 the background
 *	  worker never saw its shifted clock, nor did the postmaster's signal
 *	  handlers, while backends did.  The likely cause: the postmaster
 *	  forks background workers from signal handlers, which run while it
 *	  waits in select(), a call libfaketime wraps with faking turned off,
 *	  and a worker forked there keeps it off.  This library wraps nothing
 *	  but the clock reads.
 *
 *	  It reads the file with open() and read() alone, which are safe in a
 *	  signal handler (the postmaster reads the clock there).
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int	(*real_clock_gettime) (clockid_t, struct timespec *);
static long shift_s;
static struct timespec shift_read_at;
static int	shift_read;

/*
 * The offset in seconds, read again from the file at most every 100 ms.
 * Called by clock_gettime() alone, which has found the real one.
 */
static long
current_shift(void)
{
	const char *path = getenv("CLOCK_SHIFT_FILE");
	struct timespec now;
	char		buf[32];
	ssize_t		len;
	int			fd;

	if (path == NULL || real_clock_gettime(CLOCK_MONOTONIC, &now) != 0)
		return 0;
	if (shift_read &&
		(now.tv_sec - shift_read_at.tv_sec) * 1000 +
		(now.tv_nsec - shift_read_at.tv_nsec) / 1000000 < 100)
		return shift_s;

	shift_read = 1;
	shift_read_at = now;
	shift_s = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len > 0)
	{
		long		v = 0;
		int			neg = 0;
		ssize_t		i = 0;

		if (buf[0] == '-' || buf[0] == '+')
		{
			neg = (buf[0] == '-');
			i++;
		}
		for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
			v = v * 10 + (buf[i] - '0');
		shift_s = neg ? -v : v;
	}
	return shift_s;
}

/* clock_gettime(): the real-time clocks shifted, the others as they are */
int
clock_gettime(clockid_t clk, struct timespec *tp)
{
	int			rc;

	if (real_clock_gettime == NULL)
		real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
	rc = real_clock_gettime(clk, tp);
	if (rc == 0 && (clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE))
		tp->tv_sec += current_shift();
	return rc;
}

/* gettimeofday(), shifted (PostgreSQL's GetCurrentTimestamp() reads it) */
int
gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec ts;

	(void) tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}

/* time(), shifted */
time_t
time(time_t *t)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t) -1;
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}
