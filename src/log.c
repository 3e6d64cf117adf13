/*
 * log.c: the daemon's log (see log.h).
 *
 * Each message is formatted into one buffer with its timestamp and level
 * and written with a single write(2), so lines from a crash or from two
 * processes sharing the file do not interleave mid-line.  The file is
 * opened O_APPEND; evt_log_reopen() swaps in a fresh descriptor with dup2
 * so that nothing is ever written to a closed one.
 *
 * A message identical to the one before (same level and text) is not
 * written again: it is counted, and "last message repeated N times" is
 * written when another message comes, or at most every LOG_REPEAT_S
 * seconds while the repetition lasts, so that a failure repeating in a
 * tight loop (accept() out of descriptors) costs a line per interval, not
 * a disk.
 *
 * evt_log may be called from several threads (evrec's NATS publisher and
 * libnats' callbacks): one mutex keeps the repeat state and each line
 * whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
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

#define LOG_REPEAT_S 10
static char log_last[2048];	/* text of the last message written */
static size_t log_last_len;
static int log_last_level = -1;
static uint64_t log_repeats;	/* identical messages not written since */
static time_t log_repeat_at;	/* when the count was last written */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

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

/* Writes a line: timestamp, level, then text[0..len). */
static void
log_write(int level, const char *text, size_t len)
{
	char line[2048 + 64];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ",
	    ts.tv_nsec / 1000000, log_ident, log_names[level]);
	if (k > 0)
		n += (size_t)k;
	if (n >= sizeof line)
		n = sizeof line - 1;
	if (len > sizeof line - 1 - n)
		len = sizeof line - 1 - n;	/* cut long messages */
	memcpy(line + n, text, len);
	n += len;
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

/* Writes the count of repeats held back, if any. */
static void
log_flush_repeats(time_t now)
{
	char msg[80];
	int k;

	if (log_repeats == 0)
		return;
	k = snprintf(msg, sizeof msg, "last message repeated %" PRIu64
	    " time%s", log_repeats, log_repeats == 1 ? "" : "s");
	log_write(log_last_level, msg, (size_t)k);
	log_repeats = 0;
	log_repeat_at = now;
}

/* Writes one line (see log.h). */
void
evt_log(int level, const char *fmt, ...)
{
	char msg[2048];
	struct timespec now;
	va_list ap;
	size_t n;
	int k, e = errno;

	if (level > log_level)
		return;
	if (level < 0)
		level = 0;
	if (level > EVT_LOG_DEBUG)
		level = EVT_LOG_DEBUG;
	va_start(ap, fmt);
	k = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n = k < 0 ? 0 : (size_t)k >= sizeof msg ? sizeof msg - 1 : (size_t)k;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&log_mu);
	if (level == log_last_level && n == log_last_len &&
	    memcmp(msg, log_last, n) == 0) {
		log_repeats++;
		if (now.tv_sec - log_repeat_at >= LOG_REPEAT_S)
			log_flush_repeats(now.tv_sec);
	} else {
		log_flush_repeats(now.tv_sec);
		log_write(level, msg, n);
		memcpy(log_last, msg, n);
		log_last_len = n;
		log_last_level = level;
		log_repeat_at = now.tv_sec;
	}
	pthread_mutex_unlock(&log_mu);
	errno = e;
}
