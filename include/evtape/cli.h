/*
 * cli.h: the command-line layer the five programs (evrec, evtool, evplay,
 * evsim, evgen) share, so they accept the same forms, say the same things
 * and exit with the same statuses:
 *
 *   - the program name (evt_cli_init) that prefixes every message;
 *   - one error printer (evt_cli_err), one usage error (evt_cli_usage_err:
 *     the message, "Try 'PROG --help'.", exit 2) and one fatal error
 *     (evt_cli_fatal: exit 3);
 *   - one parser each for sizes, durations, times and counts: a core that
 *     returns 0/-1, and an _arg wrapper that prints the common message
 *     PROG: WHERE: "TEXT" is not a KIND (FORMS)
 *     and exits 2, so command-line options and config-file values (WHERE
 *     is "--max-bytes" or "FILE:LINE: max-bytes") read alike;
 *   - one buffered stdout writer that reports a write error once;
 *   - secret files (passwords, tokens), HOST:PORT arguments, --cors values
 *     and ready files.
 *
 * Not thread-safe: the program name and the stdout buffer are process
 * globals, used from the main thread only.
 */
#ifndef EVTAPE_CLI_H
#define EVTAPE_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct evt_buf;

/*
 * Exit statuses, the same in every program (README, "Exit status").
 * OK: done.  PARTIAL: done, but something could not be read, found or
 * delivered (damage skipped, an id not found, lines refused); the reason
 * was printed.  USAGE: a bad option, value or argument; nothing was done.
 * FAIL: the job could not be done (archive missing or locked, a port that
 * cannot be bound, out of memory, a write error).
 */
#define EVT_EXIT_OK 0
#define EVT_EXIT_PARTIAL 1
#define EVT_EXIT_USAGE 2
#define EVT_EXIT_FAIL 3

/*
 * Names the program in every message of this layer ("evrec", "evtool";
 * borrowed: a literal or argv[0]'s basename, alive until exit).  Before
 * the first call the name is "evtape".
 */
void evt_cli_init(const char *prog);

/* The program name evt_cli_init set (borrowed). */
const char *evt_cli_prog(void);

/* Prints "PROG: MESSAGE\n" to stderr (a newline is added). */
void evt_cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Sets a function (or NULL) that every message of this layer calls before
 * it prints, e.g. to clear a progress line a program keeps on a terminal.
 */
void evt_cli_before_err(void (*fn)(void));

/*
 * The reporters every archive reader passes to the archive, cursor and
 * segment layers (evt_seg_err_cb and evt_warn_cb shapes; arg unused):
 * evt_cli_damage_cb prints "PROG: FILE: offset N: what" and counts the
 * place (evt_cli_damaged gives the count, which makes a reader's exit
 * status EVT_EXIT_PARTIAL); evt_cli_warn_cb prints "PROG: warning: MSG".
 */
void evt_cli_damage_cb(void *arg, const char *path, uint64_t off,
    const char *what);
void evt_cli_warn_cb(void *arg, const char *msg);
uint64_t evt_cli_damaged(void);

/*
 * Prints "PROG: DIR: N events could not be read" (or the "at least N ...
 * and an unknown number more in K damaged places" form of
 * evt_verify_lost_text) after a reader's run, if anything was lost; each
 * place was reported as it was met.
 */
void evt_cli_lost_summary(const char *dir, uint64_t events,
    uint64_t unknown);

/* Prints "PROG: MESSAGE" and counts it as a damaged place (evt_cli_damaged):
 * for damage a program finds itself, e.g. an incomplete message. */
void evt_cli_damage_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* evt_cli_err with a va_list, for programs that wrap it. */
void evt_cli_verr(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

/*
 * A usage error: prints "PROG: MESSAGE" and "Try 'PROG --help'." to
 * stderr and exits EVT_EXIT_USAGE.  Output still in the stdout writer is
 * not written.
 */
void evt_cli_usage_err(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Prints "Try 'PROG --help'." and exits EVT_EXIT_USAGE. */
void evt_cli_try_help(void) __attribute__((noreturn));

/*
 * Reports what getopt_long returned '?' or ':' for (ch), as
 * "PROG: --name: unknown option" or "PROG: --name: needs a value", and
 * exits EVT_EXIT_USAGE.  The program sets opterr = 0 and starts its
 * optstring with ':', so getopt itself prints nothing (it would name the
 * program by argv[0], a path) and tells a missing value apart.
 */
void evt_cli_getopt_err(int ch, char *const argv[])
    __attribute__((noreturn));

/* Prints "PROG: MESSAGE" and exits EVT_EXIT_FAIL (the job cannot be
 * done); stdout output buffered so far is written first. */
void evt_cli_fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Makes the process not dumpable (prctl PR_SET_DUMPABLE 0): a crash leaves
 * no core file holding a password or token, and /proc/PID/mem, environ
 * and ptrace are closed to other processes of the same user.  Called by
 * every program that holds a secret; evt_cli_read_secret calls it first.
 */
void evt_cli_no_dump(void);

/*
 * Reads a small secret file (up to 4 KiB), trailing CR/LF removed.
 * Returns a malloc'd string (the caller wipes it with OPENSSL_cleanse
 * before free) or NULL with errno set (EINVAL: empty, or holds a NUL).
 */
char *evt_cli_read_secret(const char *path);

/*
 * Reads a secret file named by option opt (e.g. "--password-file") of
 * program prog, or reports why not ("prog: opt: cannot read PATH: why")
 * and exits 2.
 */
char *evt_cli_secret_arg(const char *prog, const char *opt, const char *path);

/* Most --cors options a program takes. */
#define EVT_CLI_MAX_CORS 16

/*
 * Adds the value of a --cors option of program prog (borrowed; argv
 * outlives the list) to list[0..*n) (EVT_CLI_MAX_CORS entries), or
 * reports why not ("prog: --cors: ...") and exits 2: not "*" or an origin
 * "scheme://host[:port]" (evt_http_cors_origin_ok), or too many.
 */
void evt_cli_cors_arg(const char *prog, const char *arg, const char **list,
    size_t *n);

/* Wipes a secret string (OPENSSL_cleanse) and frees it; NULL is fine. */
void evt_cli_free_secret(char *s);

/* The reason for an evt_cli_read_secret() failure: errno's text, or
 * "empty or binary" for EINVAL. */
const char *evt_cli_strerror(int err);

/*
 * The parsers.  Each core function takes the whole string s (nothing may
 * follow the value; no blanks, no exponent, nothing empty, no sign but
 * where a parser says so),
 * returns 0 and sets *out, or returns -1 with errno EINVAL and leaves
 * *out alone.  Each _arg wrapper returns the value, or prints
 *   PROG: WHERE: "TEXT" is not a KIND (FORMS)
 * (WHERE: the option, "--max-bytes", or a config place, "FILE:LINE:
 * max-bytes"; borrowed) and exits EVT_EXIT_USAGE.  A program checks its
 * own bounds after the wrapper and reports them with evt_cli_range_err.
 */

/*
 * Parses a byte size: decimal digits, then optionally k, M, G or T
 * (powers of 1024, either case) and optionally B.  No fraction.  -1 also
 * for a value over 2^64 - 1.
 */
int evt_cli_size(const char *s, uint64_t *out);
uint64_t evt_cli_size_arg(const char *where, const char *s);

/*
 * Parses a duration into microseconds: decimal digits with an optional
 * fraction ("0.5"), then a unit us, ms, s, m, h, d or w; no unit means
 * seconds.  Digits past microseconds are truncated.  -1 also for a value
 * over INT64_MAX microseconds (about 292,000 years).
 */
int evt_cli_duration(const char *s, int64_t *us);
int64_t evt_cli_duration_arg(const char *where, const char *s);

/*
 * Parses a time into microseconds since the epoch: ISO-8601 or integer
 * microseconds, exactly the forms of evt_time_parse_user (timefmt.h),
 * which does the work.
 */
int evt_cli_time(const char *s, int64_t *us);
int64_t evt_cli_time_arg(const char *where, const char *s);

/*
 * Parses a count: decimal digits only, up to 2^64 - 1.
 */
int evt_cli_count(const char *s, uint64_t *out);
uint64_t evt_cli_count_arg(const char *where, const char *s);

/*
 * Parses a plain decimal number: an optional '-', digits and an optional
 * fraction ("200", "0.005", "-1").  No '+', exponent, blank, inf or nan.
 * For rates, speeds and shares, which are not sizes or durations.
 */
int evt_cli_number(const char *s, double *out);
double evt_cli_number_arg(const char *where, const char *s);

/*
 * Returns the index of s in words (a NULL-terminated list of the words
 * an option takes: "always", "interval", "never"), or prints
 * PROG: WHERE: "TEXT" is not one of WORD, WORD or WORD
 * and exits EVT_EXIT_USAGE.
 */
int evt_cli_choice_arg(const char *where, const char *s,
    const char *const *words);

/*
 * A value of the right form but out of the program's bounds: prints
 * PROG: WHERE: "TEXT" is out of range (RANGE)
 * (RANGE e.g. "1..22", "at least 4k") and exits EVT_EXIT_USAGE.
 */
void evt_cli_range_err(const char *where, const char *s, const char *range)
    __attribute__((noreturn));

/*
 * The stdout writer: one buffer in front of file descriptor 1, written
 * with write(2) so a program controls when output leaves (a replay on
 * schedule, a cat in 1 MiB batches).  After the first failed write the
 * writer reports "PROG: stdout: REASON" once (not for EPIPE: the reader
 * stopped reading, as in `evtool cat | head`; a program sees EPIPE only
 * if it ignores SIGPIPE, as the programs that hold an archive or serve
 * clients do), drops what it holds and
 * everything later, and every call returns -1 from then on; the program
 * stops and exits EVT_EXIT_FAIL.
 */

/* The buffer itself (borrowed, process lifetime): append to it with
 * evt_buf_put and friends, then call evt_cli_out_maybe or _flush. */
struct evt_buf *evt_cli_out_buf(void);

/* Appends n bytes; writes the buffer out once it holds
 * EVT_CLI_OUT_BATCH bytes.  Returns 0, or -1 (write error, out of
 * memory: reported). */
int evt_cli_out(const void *p, size_t n);

/* Writes the buffer out if it holds EVT_CLI_OUT_BATCH bytes or more.
 * Returns 0 or -1 as evt_cli_out. */
int evt_cli_out_maybe(void);

/* Writes everything buffered, waiting for a slow reader.  Returns 0, or
 * -1 if this or an earlier write failed (reported once). */
int evt_cli_out_flush(void);

/* Frees the buffer (what is not flushed is lost). */
void evt_cli_out_free(void);

/* Bytes the stdout buffer collects before evt_cli_out writes them. */
#define EVT_CLI_OUT_BATCH ((size_t)1 << 20)

/*
 * Splits "HOST:PORT" (IPv6 in brackets, "[::1]:80") into a malloc'd host
 * (brackets removed) and a port; "PORT" alone is 127.0.0.1:PORT.  HOST must
 * be a numeric IPv4 or IPv6 address.  Returns 0, or -1 (errno EINVAL: no
 * colon, empty or non-numeric host, port not a number up to 65535;
 * ENOMEM).
 */
int evt_cli_hostport(const char *s, char **host, uint16_t *port);

/*
 * Writes "PORT\n" to path atomically (a temporary file renamed), so a
 * script waiting for the file never reads half of it.  Returns 0 or -1
 * (errno set).
 */
int evt_cli_write_ready(const char *path, unsigned port);

#endif
