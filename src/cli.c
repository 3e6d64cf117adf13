/*
 * cli.c: the command-line layer of the programs (cli.h): the program
 * name and its messages, the parsers of sizes, durations, times and
 * counts with their common error text, the stdout writer, secret files,
 * HOST:PORT arguments and ready files.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/http.h"
#include "evtape/timefmt.h"
#include "evtape/verify.h"

#define SECRET_MAX 4096

/* The program name of every message (evt_cli_init). */
static const char *cli_prog = "evtape";
/* Called before each message (evt_cli_before_err), or NULL. */
static void (*cli_before_err)(void);
/* Damaged places evt_cli_damage_cb reported. */
static uint64_t cli_damaged;

/* The stdout buffer, and whether a write of it has failed. */
static struct evt_buf out_buf;
static int out_failed;

/* How each kind of value is called in a message, and its forms. */
#define FORMS_SIZE "digits with k, M, G or T, e.g. 64M"
#define FORMS_DURATION "digits with us, ms, s, m, h, d or w, e.g. 30s; " \
	"seconds if none"
#define FORMS_TIME "ISO-8601 such as 2026-01-05T08:00:00Z, or " \
	"microseconds since the epoch"
#define FORMS_COUNT "digits only, e.g. 100"
#define FORMS_NUMBER "digits with an optional fraction, e.g. 0.5"

/* Sets the program name of every message. */
void
evt_cli_init(const char *prog)
{
	cli_prog = prog;
}

/* Returns the program name of every message. */
const char *
evt_cli_prog(void)
{
	return cli_prog;
}

/* Prints "PROG: MESSAGE" to stderr. */
void
evt_cli_verr(const char *fmt, va_list ap)
{
	if (cli_before_err != NULL)
		cli_before_err();
	/* One fprintf per piece: stderr is unbuffered, but a line is short
	 * enough that interleaving with another writer is harmless. */
	fprintf(stderr, "%s: ", cli_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/* Sets the hook evt_cli_verr calls before each message. */
void
evt_cli_before_err(void (*fn)(void))
{
	cli_before_err = fn;
}

/* The damaged places evt_cli_damage_cb reported. */
uint64_t
evt_cli_damaged(void)
{
	return cli_damaged;
}

/* Prints "PROG: MESSAGE" and counts one damaged place. */
void
evt_cli_damage_err(const char *fmt, ...)
{
	va_list ap;

	cli_damaged++;
	va_start(ap, fmt);
	evt_cli_verr(fmt, ap);
	va_end(ap);
}

/* Reports a damaged place of an archive: "PROG: FILE: offset N: what". */
void
evt_cli_damage_cb(void *arg, const char *path, uint64_t off,
    const char *what)
{
	(void)arg;
	evt_cli_damage_err("%s: offset %" PRIu64 ": %s", path, off, what);
}

/* Reports an archive warning: "PROG: warning: MESSAGE". */
void
evt_cli_warn_cb(void *arg, const char *msg)
{
	(void)arg;
	evt_cli_err("warning: %s", msg);
}

/* Prints what a reader of archive dir could not read, if anything. */
void
evt_cli_lost_summary(const char *dir, uint64_t events, uint64_t unknown)
{
	char what[160];

	if (evt_verify_lost_text(what, sizeof what, events, unknown,
	    "read") == 0)
		evt_cli_err("%s: %s", dir, what);
}

/* Prints "PROG: MESSAGE" to stderr (varargs). */
void
evt_cli_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evt_cli_verr(fmt, ap);
	va_end(ap);
}

/* Prints a usage error and the --help hint; exits 2. */
void
evt_cli_usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evt_cli_verr(fmt, ap);
	va_end(ap);
	evt_cli_try_help();
}

/* A usage error of the functions that take the program name (secret
 * files, --cors): the same lines under that name. */
static void __attribute__((format(printf, 2, 3), noreturn))
usage_as(const char *prog, const char *fmt, ...)
{
	va_list ap;

	cli_prog = prog;
	va_start(ap, fmt);
	evt_cli_verr(fmt, ap);
	va_end(ap);
	evt_cli_try_help();
}

/* Prints the --help hint; exits 2. */
void
evt_cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help'.\n", cli_prog);
	exit(EVT_EXIT_USAGE);
}

/* Says which option getopt_long refused and why; exits 2. */
void
evt_cli_getopt_err(int ch, char *const argv[])
{
	char shortopt[3] = { '-', (char)optopt, '\0' };
	/* optopt is 0 for an unknown long option, and a missing value is
	 * only possible in the last word: then argv[optind - 1] is the
	 * option as written ("--bogus=x", "--size", "-s").  Otherwise a
	 * short option, which may sit inside a group ("-vz"). */
	const char *opt = optopt == 0 || ch == ':' ? argv[optind - 1] :
	    shortopt;

	if (ch == ':')
		evt_cli_usage_err("%s: needs a value", opt);
	evt_cli_usage_err("%s: unknown option", opt);
}

/* Writes pending stdout, prints why the job cannot be done; exits 3. */
void
evt_cli_fatal(const char *fmt, ...)
{
	va_list ap;

	(void)evt_cli_out_flush();
	va_start(ap, fmt);
	evt_cli_verr(fmt, ap);
	va_end(ap);
	exit(EVT_EXIT_FAIL);
}

/* Reports TEXT of option or place WHERE as not a KIND (the one message
 * of every _arg wrapper) and exits 2. */
static void __attribute__((noreturn))
not_a(const char *where, const char *s, const char *kind, const char *forms)
{
	evt_cli_usage_err("%s: \"%s\" is not %s (%s)", where, s, kind, forms);
}

/* Fails a parser: errno EINVAL, -1. */
static int
einval(void)
{
	errno = EINVAL;
	return -1;
}

/* Returns the index of an option's word, or exits 2 listing them. */
int
evt_cli_choice_arg(const char *where, const char *s, const char *const *words)
{
	char list[256];
	size_t n = 0, len = 0;

	for (; words[n] != NULL; n++)
		if (strcmp(words[n], s) == 0)
			return (int)n;
	/* "a, b or c": the words as the usage text lists them. */
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", words[i]);
	evt_cli_usage_err("%s: \"%s\" is not one of %s", where, s, list);
}

/* Reports a value out of the program's bounds; exits 2. */
void
evt_cli_range_err(const char *where, const char *s, const char *range)
{
	evt_cli_usage_err("%s: \"%s\" is out of range (%s)", where, s, range);
}

void
evt_cli_no_dump(void)
{
	/* Not dumpable: no core file, and /proc/PID/mem, environ and
	 * ptrace are the superuser's only. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

char *
evt_cli_read_secret(const char *path)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	evt_cli_no_dump();
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if ((buf = malloc(SECRET_MAX + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < SECRET_MAX &&
	    (n = read(fd, buf + len, SECRET_MAX - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			OPENSSL_cleanse(buf, SECRET_MAX + 1);
			free(buf);
			errno = e;
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	if (len == 0 || strlen(buf) != len) {
		OPENSSL_cleanse(buf, SECRET_MAX + 1);
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	return buf;
}

char *
evt_cli_secret_arg(const char *prog, const char *opt, const char *path)
{
	char *s = evt_cli_read_secret(path);

	if (s == NULL)
		usage_as(prog, "%s: cannot read %s: %s", opt, path,
		    evt_cli_strerror(errno));
	return s;
}

/* Checks and adds a --cors value (see cli.h). */
void
evt_cli_cors_arg(const char *prog, const char *arg, const char **list,
    size_t *n)
{
	if (!evt_http_cors_origin_ok(arg))
		usage_as(prog, "--cors: '%s' is neither * nor an origin like "
		    "http://host:port (scheme, host, optional port, no path)",
		    arg);
	if (*n >= EVT_CLI_MAX_CORS)
		usage_as(prog, "--cors: at most %d origins", EVT_CLI_MAX_CORS);
	list[(*n)++] = arg;
}

void
evt_cli_free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

const char *
evt_cli_strerror(int err)
{
	return err == EINVAL ? "empty or binary" : strerror(err);
}

/* Reads decimal digits at *p into *v (advancing *p); -1 if there are
 * none or they overflow.  The one digit loop of the parsers. */
static int
digits(const char **p, uint64_t *v)
{
	const char *q = *p;
	uint64_t x = 0;

	if (*q < '0' || *q > '9')
		return -1;
	for (; *q >= '0' && *q <= '9'; q++) {
		unsigned d = (unsigned)(*q - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*p = q;
	*v = x;
	return 0;
}

/* Parses a size: digits, k/M/G/T, optional B (cli.h). */
int
evt_cli_size(const char *s, uint64_t *out)
{
	uint64_t v, m = 1;

	if (digits(&s, &v) != 0)
		goto bad;
	switch (*s) {
	case 'k': case 'K': m = 1ull << 10; s++; break;
	case 'm': case 'M': m = 1ull << 20; s++; break;
	case 'g': case 'G': m = 1ull << 30; s++; break;
	case 't': case 'T': m = 1ull << 40; s++; break;
	default: break;
	}
	if (*s == 'B' || *s == 'b')
		s++;
	if (*s != '\0' || (v != 0 && m > UINT64_MAX / v))
		goto bad;
	*out = v * m;
	return 0;
bad:
	return einval();
}

/* Parses a size option or exits 2 with the common message. */
uint64_t
evt_cli_size_arg(const char *where, const char *s)
{
	uint64_t v;

	if (evt_cli_size(s, &v) != 0)
		not_a(where, s, "a size", FORMS_SIZE);
	return v;
}

/* Parses a count: digits only. */
int
evt_cli_count(const char *s, uint64_t *out)
{
	uint64_t v;

	if (digits(&s, &v) != 0 || *s != '\0')
		return einval();
	*out = v;
	return 0;
}

/* Parses a count option or exits 2 with the common message. */
uint64_t
evt_cli_count_arg(const char *where, const char *s)
{
	uint64_t v;

	if (evt_cli_count(s, &v) != 0)
		not_a(where, s, "a count", FORMS_COUNT);
	return v;
}

/* Parses a duration (digits, optional fraction, unit) into microseconds. */
int
evt_cli_duration(const char *s, int64_t *us)
{
	static const struct {
		const char *name;
		uint64_t us;
	} units[] = {
		{ "", 1000000 }, { "us", 1 }, { "ms", 1000 }, { "s", 1000000 },
		{ "m", 60000000 }, { "h", 3600000000ull },
		{ "d", 86400000000ull }, { "w", 604800000000ull },
	};
	uint64_t whole, frac = 0, scale = 1, m = 0;
	unsigned __int128 t;

	if (digits(&s, &whole) != 0)
		goto bad;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			goto bad;
		/* 18 digits are finer than a microsecond of any unit. */
		for (; *s >= '0' && *s <= '9'; s++)
			if (scale < 1000000000000000000ull) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(s, units[i].name) == 0)
			m = units[i].us;
	if (m == 0)
		goto bad;
	t = (unsigned __int128)whole * m + (unsigned __int128)frac * m / scale;
	if (t > INT64_MAX)
		goto bad;
	*us = (int64_t)t;
	return 0;
bad:
	return einval();
}

/* The older name of evt_cli_duration (timefmt.h). */
int
evt_duration_parse(const char *s, int64_t *us)
{
	return evt_cli_duration(s, us);
}

/* Parses a duration option or exits 2 with the common message. */
int64_t
evt_cli_duration_arg(const char *where, const char *s)
{
	int64_t v;

	if (evt_cli_duration(s, &v) != 0)
		not_a(where, s, "a duration", FORMS_DURATION);
	return v;
}

/* Parses a time: timefmt's ISO-8601 forms or microseconds. */
int
evt_cli_time(const char *s, int64_t *us)
{
	return evt_time_parse_user(s, us) != 0 ? einval() : 0;
}

/* Parses a time option or exits 2 with the common message. */
int64_t
evt_cli_time_arg(const char *where, const char *s)
{
	int64_t v;

	if (evt_cli_time(s, &v) != 0)
		not_a(where, s, "a time", FORMS_TIME);
	return v;
}

/* Parses a plain decimal number (optional sign and fraction). */
int
evt_cli_number(const char *s, double *out)
{
	const char *p = s + (s[0] == '-');
	size_t n = strspn(p, "0123456789");
	double v;

	/* The grammar first: strtod would take blanks, "+", "1e3", "inf",
	 * "0x10".  Digits, then '.' and digits, or nothing. */
	if (n == 0)
		return einval();
	p += n;
	if (*p == '.') {
		p++;
		if ((n = strspn(p, "0123456789")) == 0)
			return einval();
		p += n;
	}
	if (*p != '\0')
		return einval();
	errno = 0;
	v = strtod(s, NULL);
	if (errno == ERANGE && (v > 1 || v < -1))
		return einval();	/* beyond a double */
	*out = v;
	return 0;
}

/* Parses a number option or exits 2 with the common message. */
double
evt_cli_number_arg(const char *where, const char *s)
{
	double v;

	if (evt_cli_number(s, &v) != 0)
		not_a(where, s, "a number", FORMS_NUMBER);
	return v;
}

/* Reports a failed write of stdout once (EPIPE quietly; err 0: already
 * reported) and drops the buffer; every later call fails at once. */
static int
out_fail(int err)
{
	if (!out_failed && err != 0 && err != EPIPE)
		evt_cli_err("stdout: %s", strerror(err));
	out_failed = 1;
	out_buf.len = 0;
	return -1;
}

/* Returns the stdout writer's buffer. */
struct evt_buf *
evt_cli_out_buf(void)
{
	return &out_buf;
}

/* Writes all the stdout buffer holds; -1 after any failed write. */
int
evt_cli_out_flush(void)
{
	size_t off = 0;

	if (out_failed)
		return out_fail(0);
	while (off < out_buf.len) {
		ssize_t n = write(1, out_buf.p + off, out_buf.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return out_fail(errno);
		off += (size_t)n;
	}
	out_buf.len = 0;
	return 0;
}

/* Writes the stdout buffer once it holds a batch. */
int
evt_cli_out_maybe(void)
{
	if (out_failed)
		return -1;
	return out_buf.len >= EVT_CLI_OUT_BATCH ? evt_cli_out_flush() : 0;
}

/* Appends to the stdout buffer, writing it once it holds a batch. */
int
evt_cli_out(const void *p, size_t n)
{
	if (out_failed)
		return -1;
	if (evt_buf_put(&out_buf, p, n) != 0) {
		evt_cli_err("stdout: out of memory");
		return out_fail(0);
	}
	return evt_cli_out_maybe();
}

/* Frees the stdout buffer. */
void
evt_cli_out_free(void)
{
	evt_buf_free(&out_buf);
}

int
evt_cli_hostport(const char *s, char **host, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	struct in6_addr a6;
	const char *p;
	char *end;
	unsigned long v;
	size_t hl;

	if (colon == NULL && s[0] != '\0' &&
	    strspn(s, "0123456789") == strlen(s))
		p = s;	/* a port alone: loopback */
	else if (colon == NULL)
		goto bad;
	else
		p = colon + 1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || *p == '-' || *p == '+' ||
	    v > 65535)
		goto bad;
	if (colon == NULL) {
		s = "127.0.0.1";
		colon = s + strlen(s);
	}
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0)
		goto bad;
	if ((*host = strndup(s, hl)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* Numeric only: a listening address names no host to resolve. */
	if (inet_pton(AF_INET, *host, &a6) != 1 &&
	    inet_pton(AF_INET6, *host, &a6) != 1) {
		free(*host);
		*host = NULL;
		goto bad;
	}
	*port = (uint16_t)v;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
evt_cli_write_ready(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >=
	    (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		int e = errno;

		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}
