/*
 * log.h: the daemon's log: one line per message, "TIME LEVEL text", to
 * stderr or to a file that SIGHUP reopens (logrotate).  Levels filter what
 * is written.  Not for library code: library functions return errors and
 * the daemon logs them once, where they are handled (README, "Layout and hacking").
 *
 * Secrets never go through here: callers log what failed, never a token
 * or a password.
 */
#ifndef EVTAPE_LOG_H
#define EVTAPE_LOG_H

enum evt_log_level {
	EVT_LOG_ERR = 0,   /* something failed that an operator must see */
	EVT_LOG_WARN = 1,  /* degraded but going on */
	EVT_LOG_INFO = 2,  /* state changes: connected, session, summary */
	EVT_LOG_DEBUG = 3, /* per-connection detail (-v) */
};

/*
 * Sets the level and the destination: path NULL logs to stderr, else the
 * file is opened for appending (created 0640).  ident (borrowed, static)
 * prefixes every line.  Returns 0 or EVT_ERR_IO (errno kept; logging then
 * goes to stderr).
 */
int evt_log_open(const char *ident, int level, const char *path);

/* Reopens the log file (after logrotate moved it); no-op for stderr.
 * Returns 0 or EVT_ERR_IO (the old file stays in use). */
int evt_log_reopen(void);

/* Closes the log file. */
void evt_log_close(void);

/* Tells whether messages of this level are written. */
int evt_log_enabled(int level);

/* Writes one line at level (printf format; a trailing newline is added).
 * A message equal to the previous one (level and text) is only counted:
 * "last message repeated N times" follows when another message comes, or
 * every 10 s while it repeats. */
void evt_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define evt_log_err(...) evt_log(EVT_LOG_ERR, __VA_ARGS__)
#define evt_log_warn(...) evt_log(EVT_LOG_WARN, __VA_ARGS__)
#define evt_log_info(...) evt_log(EVT_LOG_INFO, __VA_ARGS__)
#define evt_log_debug(...)                                     \
	do {                                                   \
		if (evt_log_enabled(EVT_LOG_DEBUG))            \
			evt_log(EVT_LOG_DEBUG, __VA_ARGS__);   \
	} while (0)

#endif
