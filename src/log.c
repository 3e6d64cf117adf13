/*
 * log.c: the daemon's log (see log.h).
 *
 * Each message is formatted into one buffer with its timestamp and level
 * and written with a single write(2), so lines from a crash or from two
 * processes sharing the file do not interleave mid-line.  The file is
 * opened O_APPEND; evt_log_reopen() swaps in a fresh descriptor with dup2
 * so that nothing is ever written to a closed one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evtape/err.h"
#include "evtape/log.h"

static const char *log_ident = "evtape";
static int log_level = EVT_LOG_INFO;
static int log_fd = 2;
static char *log_path;

static const char *const log_names[] = {"error", "warning", "info", "debug"};

/* Opens path for appending; returns the descriptor or -1. */
static int
log_open_file(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Sets level and destination (see log.h). */
int
evt_log_open(const char *ident, int level, const char *path)
{
	int fd;

	if (ident != NULL)
		log_ident = ident;
	log_level = level;
	evt_log_close();
	if (path == NULL)
		return 0;
	if ((fd = log_open_file(path)) < 0)
		return EVT_ERR_IO;
	log_path = strdup(path);
	log_fd = fd;
	return 0;
}

/* Reopens the log file (see log.h). */
int
evt_log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return 0;
	if ((fd = log_open_file(log_path)) < 0)
		return EVT_ERR_IO;
	if (dup2(fd, log_fd) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return EVT_ERR_IO;
	}
	close(fd);
	return 0;
}

/* Closes the log file; logging goes to stderr again. */
void
evt_log_close(void)
{
	if (log_fd != 2)
		close(log_fd);
	log_fd = 2;
	free(log_path);
	log_path = NULL;
}

/* Tells whether a level is written. */
int
evt_log_enabled(int level)
{
	return level <= log_level;
}

/* Writes one line (see log.h). */
void
evt_log(int level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t n;
	int k, e = errno;

	if (level > log_level)
		return;
	if (level < 0)
		level = 0;
	if (level > EVT_LOG_DEBUG)
		level = EVT_LOG_DEBUG;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ",
	    ts.tv_nsec / 1000000, log_ident, log_names[level]);
	if (k > 0)
		n += (size_t)k;
	if (n >= sizeof line)
		n = sizeof line - 1;
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof line - n, fmt, ap);
	va_end(ap);
	if (k > 0)
		n += (size_t)k;
	if (n > sizeof line - 2)
		n = sizeof line - 2;	/* cut long messages */
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = e;
}
