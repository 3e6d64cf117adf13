/*
 * test_cli.c: the command-line layer (cli.c): what every program accepts
 * as a size, a duration, a time and a count and what it refuses (a sign,
 * blanks, empty text, an unknown unit, an overflow); the exact text and
 * exit status of its messages; and the stdout writer's handling of a
 * reader that went away or a full disk.  Messages and exits are checked
 * in a forked child whose stdout and stderr are pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/timefmt.h"
#include "t.h"

/* 2026-01-05T08:00:00Z in microseconds since the epoch. */
#define JAN5 1767600000000000LL

enum kind { SIZE, DURATION, TIME, COUNT, NUMBER };

static const char *const kind_names[] = { "size", "duration", "time",
	"count", "number" };

/* Parses s as a value of kind k into *v (the signed ones cast, numbers
 * times 1000), through the core parser of that kind. */
static int
parse(enum kind k, const char *s, uint64_t *v)
{
	int64_t x = (int64_t)*v;
	double d;
	int rc;

	if (k == SIZE)
		return evt_cli_size(s, v);
	if (k == COUNT)
		return evt_cli_count(s, v);
	if (k == NUMBER) {
		if ((rc = evt_cli_number(s, &d)) == 0)
			*v = (uint64_t)(int64_t)(d * 1000);
		return rc;
	}
	rc = k == DURATION ? evt_cli_duration(s, &x) : evt_cli_time(s, &x);
	*v = (uint64_t)x;
	return rc;
}

/* What each parser accepts, and the value. */
static const struct {
	enum kind k;
	const char *s;
	uint64_t v;
} accepted[] = {
	{SIZE, "0", 0}, {SIZE, "4096", 4096}, {SIZE, "1k", 1024},
	{SIZE, "1K", 1024}, {SIZE, "32M", 32u << 20}, {SIZE, "10G", 10ull << 30},
	{SIZE, "2T", 2ull << 40}, {SIZE, "1T", 1ull << 40},
	{SIZE, "500MB", 500ull << 20}, {SIZE, "7b", 7}, {SIZE, "007k", 7 << 10},
	{SIZE, "18446744073709551615", UINT64_MAX},
	{SIZE, "16777215T", 16777215ull << 40},

	{DURATION, "0", 0}, {DURATION, "30", 30000000},
	{DURATION, "30s", 30000000}, {DURATION, "0.5", 500000},
	{DURATION, "1.5h", 5400000000ull}, {DURATION, "250ms", 250000},
	{DURATION, "10us", 10}, {DURATION, "2m", 120000000},
	{DURATION, "1h", 3600000000ull}, {DURATION, "1d", 86400000000ull},
	{DURATION, "2w", 1209600000000ull}, {DURATION, "0.001", 1000},
	{DURATION, "0.2s", 200000}, {DURATION, "1.0000005", 1000000},
	{DURATION, "0.0000000001w", 60}, {DURATION, "1.5us", 1},
	{DURATION, "9223372036854775807us", INT64_MAX},
	{DURATION, "15250284w", 15250284ull * 604800000000ull},

	{TIME, "2026-01-05T08:00:00Z", JAN5},
	{TIME, "2026-01-05", JAN5 - 8 * 3600000000LL},
	{TIME, "2026-01-05 09:00:00+01:00", JAN5},
	{TIME, "2026-01-05T08:00:00.25Z", JAN5 + 250000},
	{TIME, "1767600000000000", JAN5}, {TIME, "0", 0},
	{TIME, "-1", (uint64_t)-1},

	{COUNT, "0", 0}, {COUNT, "42", 42}, {COUNT, "0010", 10},
	{COUNT, "18446744073709551615", UINT64_MAX},

	{NUMBER, "200", 200000}, {NUMBER, "0.005", 5},
	{NUMBER, "-1", (uint64_t)-1000},
	{NUMBER, "0", 0}, {NUMBER, "1.5", 1500}, {NUMBER, "-0.25", (uint64_t)-250},
};

/* What each parser refuses: signs, blanks, empty text, unknown units,
 * overflows, other notations. */
static const struct {
	enum kind k;
	const char *s;
} refused[] = {
	{SIZE, ""}, {SIZE, "-1"}, {SIZE, "-0"}, {SIZE, "+5"}, {SIZE, " 5"},
	{SIZE, "5 "}, {SIZE, "1kk"}, {SIZE, "1KiB"}, {SIZE, "k"},
	{SIZE, "1.5G"}, {SIZE, "16777216T"}, {SIZE, "18446744073709551616"},
	{SIZE, "0x10"}, {SIZE, "1e3"}, {SIZE, "4X"}, {SIZE, "1 k"},

	{DURATION, ""}, {DURATION, "-1"}, {DURATION, "-0"}, {DURATION, "+5"},
	{DURATION, " 5"}, {DURATION, "5 "}, {DURATION, "1e3"}, {DURATION, ".5"},
	{DURATION, "5."}, {DURATION, "1x"}, {DURATION, "1S"}, {DURATION, "1H"},
	{DURATION, "1 s"}, {DURATION, "s"}, {DURATION, "inf"},
	{DURATION, "nan"}, {DURATION, "1.5.2"}, {DURATION, "1sec"},
	{DURATION, "0x10"}, {DURATION, "9223372036854775808us"},
	{DURATION, "15250285w"}, {DURATION, "99999999999999999999"},
	{DURATION, "2ww"}, {DURATION, "2y"},

	{TIME, ""}, {TIME, " 0"}, {TIME, "0 "}, {TIME, "yesterday"},
	{TIME, "2026-13-01"}, {TIME, "2026-01-05T25:00"}, {TIME, "2026-01-05Tx"},
	{TIME, "1.5"},

	{COUNT, ""}, {COUNT, "-1"}, {COUNT, "+1"}, {COUNT, " 1"}, {COUNT, "1 "},
	{COUNT, "18446744073709551616"}, {COUNT, "99999999999999999999"},
	{COUNT, "1k"}, {COUNT, "0x1"}, {COUNT, "1.0"}, {COUNT, "1e3"},
	{COUNT, "ten"},

	{NUMBER, ""}, {NUMBER, "-"}, {NUMBER, "+1"}, {NUMBER, " 1"},
	{NUMBER, "1 "}, {NUMBER, "1e3"}, {NUMBER, ".5"}, {NUMBER, "5."},
	{NUMBER, "inf"}, {NUMBER, "nan"}, {NUMBER, "0x10"}, {NUMBER, "1.2.3"},
	{NUMBER, "--1"}, {NUMBER, "1k"},
};

/* Checks every parser against the two tables. */
static void
test_parsers(void)
{
	uint64_t v;

	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		v = 7;
		T_EQ(parse(accepted[i].k, accepted[i].s, &v), 0,
		    "%s \"%s\" is accepted", kind_names[accepted[i].k],
		    accepted[i].s);
		T_OK(v == accepted[i].v, "%s \"%s\" = %llu",
		    kind_names[accepted[i].k], accepted[i].s,
		    (unsigned long long)accepted[i].v);
	}
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		v = 7;
		errno = 0;
		T_EQ(parse(refused[i].k, refused[i].s, &v), -1,
		    "%s \"%s\" is refused", kind_names[refused[i].k],
		    refused[i].s);
		T_OK(v == 7 && errno == EINVAL, "and leaves the value alone, "
		    "errno EINVAL");
	}
	/* The older name is the same parser. */
	T_OK(evt_duration_parse("2w", (int64_t *)&v) == 0 &&
	    v == 1209600000000ull && evt_duration_parse("1e3",
	    (int64_t *)&v) == -1, "evt_duration_parse is evt_cli_duration");
}

/* What a child printed and how it ended. */
struct run {
	char out[4096], err[4096];
	size_t outlen, errlen;
	int status;	/* exit status, or 128 + signal */
};

/* Reads fd to its end into buf (keeping the first cap - 1 bytes, NUL
 * terminated); returns the total length read. */
static size_t
slurp(int fd, char *buf, size_t cap)
{
	size_t len = 0, total = 0;
	char tmp[65536];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof tmp)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (ssize_t i = 0; i < n && len + 1 < cap; i++)
			buf[len++] = tmp[i];
		total += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	return total;
}

/* Runs fn(arg) in a child named "evtest" with stdout and stderr on pipes
 * (stdout on out_fd instead if that is >= 0); the child exits 0 when fn
 * returns. */
static void
run(void (*fn)(int), int arg, int out_fd, struct run *r)
{
	int po[2], pe[2];
	pid_t pid;

	memset(r, 0, sizeof *r);
	if (pipe(po) != 0 || pipe(pe) != 0)
		abort();
	fflush(stdout);
	if ((pid = fork()) < 0)
		abort();
	if (pid == 0) {
		dup2(out_fd >= 0 ? out_fd : po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(po[1]);
		close(pe[0]);
		close(pe[1]);
		evt_cli_init("evtest");
		fn(arg);
		_exit(0);
	}
	close(po[1]);
	close(pe[1]);
	r->outlen = slurp(po[0], r->out, sizeof r->out);
	r->errlen = slurp(pe[0], r->err, sizeof r->err);
	waitpid(pid, &r->status, 0);
	r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) :
	    128 + WTERMSIG(r->status);
}

/* A before-message hook that leaves a mark. */
static void
mark(void)
{
	fputs("> ", stderr);
}

/* The child of the message tests: one bad (or good) value per case. */
static void
bad_value(int which)
{
	switch (which) {
	case 0: evt_cli_size_arg("--max-bytes", "4X"); break;
	case 1: evt_cli_duration_arg("--max-age", "2y"); break;
	case 2: evt_cli_time_arg("--from", "yesterday"); break;
	case 3: evt_cli_count_arg("--events", "-5"); break;
	case 4: evt_cli_size_arg("evrec.ini:12: max-bytes", "1.5G"); break;
	case 5: evt_cli_range_err("--level", "30", "1..22");
	case 6: evt_cli_usage_err("unexpected argument '%s'", "x");
	case 7: evt_cli_fatal("%s: no such archive directory", "/nope");
	case 8: evt_cli_err("warning: %d", 42); exit(0);
	case 10: {
		static const char *const w[] = { "always", "interval", "never",
			NULL };

		evt_cli_choice_arg("--fsync", "sometimes", w);
		break;
	}
	case 11: {
		static const char *const w[] = { "shared", "session", NULL };

		exit(evt_cli_choice_arg("--clock", "session", w) == 1 ? 0 : 9);
	}
	case 12: evt_cli_try_help();
	case 13: case 14: case 15: {
		static const struct option lo[] = {
			{ "size", required_argument, NULL, 's' },
			{ NULL, 0, NULL, 0 },
		};
		char a0[] = "x", a13[] = "--bogus", a14[] = "--size";
		char a15[] = "-q";
		char *av[] = { a0, which == 13 ? a13 : which == 14 ? a14 : a15,
			NULL };

		opterr = 0;
		evt_cli_getopt_err(getopt_long(2, av, ":", lo, NULL), av);
	}
	case 16: evt_cli_number_arg("--rate", "fast"); break;
	case 17:
		/* The archive reporters: two places counted, a warning not;
		 * the hook runs before each message. */
		evt_cli_before_err(mark);
		evt_cli_damage_cb(NULL, "a/seg-1.evt", 4096, "bad block");
		evt_cli_warn_cb(NULL, "sealed 1 segment");
		evt_cli_damage_err("%s: incomplete", "a/seg-2.evt");
		evt_cli_lost_summary("a", 7, 0);
		evt_cli_lost_summary("a", 0, 0);
		exit(evt_cli_damaged() == 2 ? 0 : 9);
	case 18:
		evt_cli_lost_summary("a", 3, 2);
		exit(evt_cli_damaged() == 0 ? 0 : 9);
	case 9:
		/* Good values return and print nothing. */
		if (evt_cli_size_arg("--a", "1T") != 1ull << 40 ||
		    evt_cli_duration_arg("--b", "2w") != 1209600000000LL ||
		    evt_cli_time_arg("--c", "0") != 0 ||
		    evt_cli_count_arg("--d", "12") != 12)
			exit(9);
		break;
	}
}

/* Checks the exact text and status of every message form. */
static void
test_messages(void)
{
	static const struct {
		const char *err;
		int status;
	} want[] = {
		{"evtest: --max-bytes: \"4X\" is not a size (digits with k, M, "
		    "G or T, e.g. 64M)\nTry 'evtest --help'.\n", 2},
		{"evtest: --max-age: \"2y\" is not a duration (digits with us, "
		    "ms, s, m, h, d or w, e.g. 30s; seconds if none)\n"
		    "Try 'evtest --help'.\n", 2},
		{"evtest: --from: \"yesterday\" is not a time (ISO-8601 such as "
		    "2026-01-05T08:00:00Z, or microseconds since the epoch)\n"
		    "Try 'evtest --help'.\n", 2},
		{"evtest: --events: \"-5\" is not a count (digits only, e.g. "
		    "100)\nTry 'evtest --help'.\n", 2},
		{"evtest: evrec.ini:12: max-bytes: \"1.5G\" is not a size "
		    "(digits with k, M, G or T, e.g. 64M)\nTry 'evtest "
		    "--help'.\n", 2},
		{"evtest: --level: \"30\" is out of range (1..22)\n"
		    "Try 'evtest --help'.\n", 2},
		{"evtest: unexpected argument 'x'\nTry 'evtest --help'.\n", 2},
		{"evtest: /nope: no such archive directory\n", 3},
		{"evtest: warning: 42\n", 0},
		{"", 0},
		{"evtest: --fsync: \"sometimes\" is not one of always, "
		    "interval or never\nTry 'evtest --help'.\n", 2},
		{"", 0},
		{"Try 'evtest --help'.\n", 2},
		{"evtest: --bogus: unknown option\nTry 'evtest --help'.\n", 2},
		{"evtest: --size: needs a value\nTry 'evtest --help'.\n", 2},
		{"evtest: -q: unknown option\nTry 'evtest --help'.\n", 2},
		{"evtest: --rate: \"fast\" is not a number (digits with an "
		    "optional fraction, e.g. 0.5)\nTry 'evtest --help'.\n", 2},
		{"> evtest: a/seg-1.evt: offset 4096: bad block\n"
		    "> evtest: warning: sealed 1 segment\n"
		    "> evtest: a/seg-2.evt: incomplete\n"
		    "> evtest: a: 7 events could not be read\n", 0},
		{"evtest: a: at least 3 events could not be read, and an "
		    "unknown number more in 2 damaged places\n", 0},
	};
	struct run r;

	for (int i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
		run(bad_value, i, -1, &r);
		T_OK(strcmp(r.err, want[i].err) == 0, "message %d has the "
		    "common text", i);
		if (strcmp(r.err, want[i].err) != 0)
			printf("#   got: %s\n", r.err);
		T_EQ(r.status, want[i].status, "message %d: exit status %d", i,
		    want[i].status);
		T_EQ(r.outlen, 0, "and nothing on stdout");
	}
	T_EQ(EVT_EXIT_OK, 0, "EVT_EXIT_OK is 0");
	T_EQ(EVT_EXIT_PARTIAL, 1, "EVT_EXIT_PARTIAL is 1");
	T_EQ(EVT_EXIT_USAGE, 2, "EVT_EXIT_USAGE is 2");
	T_EQ(EVT_EXIT_FAIL, 3, "EVT_EXIT_FAIL is 3");
}

/* The child of the writer tests: writes n bytes in pieces through every
 * entry point, flushes twice, exits 10 + the number of failed calls. */
static void
write_out(int n)
{
	static char piece[1000];
	int failed = 0;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < n / 1000; i++) {
		memset(piece, 'a' + i % 26, sizeof piece);
		if (i % 2 == 0)
			failed += evt_cli_out(piece, sizeof piece) != 0;
		else {
			evt_buf_put(evt_cli_out_buf(), piece, sizeof piece);
			failed += evt_cli_out_maybe() != 0;
		}
	}
	failed += evt_cli_out_flush() != 0;
	failed += evt_cli_out_flush() != 0;
	evt_cli_out_free();
	exit(10 + (failed > 50 ? 50 : failed));
}

/* Checks the stdout writer: all bytes in order through a pipe; a closed
 * pipe and a full disk make it fail, reported once (EPIPE quietly). */
static void
test_writer(void)
{
	struct run r;
	int p[2], full;
	int ok;

	/* 3 MB: more than one batch goes out before the final flush. */
	run(write_out, 3000000, -1, &r);
	ok = r.outlen == 3000000;
	for (size_t i = 0; ok && i < sizeof r.out - 1; i++)
		ok = r.out[i] == 'a' + (int)(i / 1000) % 26;
	T_OK(ok, "3 MB through the writer arrive whole and in order");
	T_EQ(r.status, 10, "no call failed");
	T_EQ(r.errlen, 0, "and nothing on stderr");

	/* A reader that went away: EPIPE fails every call, quietly. */
	if (pipe(p) != 0)
		abort();
	close(p[0]);
	run(write_out, 3000000, p[1], &r);
	close(p[1]);
	T_EQ(r.status, 60, "a closed pipe fails the first batch written "
	    "and every call after it");
	T_EQ(r.errlen, 0, "EPIPE is not reported: the reader stopped");

	/* A full disk: reported once, with the reason. */
	full = open("/dev/full", O_WRONLY);
	if (full < 0) {
		T_OK(0, "/dev/full opens");
		return;
	}
	run(write_out, 10000, full, &r);
	close(full);
	T_EQ(r.status, 12, "on a full disk both flushes fail");
	T_OK(strcmp(r.err, "evtest: stdout: No space left on device\n") == 0,
	    "reported once: \"evtest: stdout: No space left on device\"");
	if (strcmp(r.err, "evtest: stdout: No space left on device\n") != 0)
		printf("#   got: %s\n", r.err);
}

int
main(void)
{
	test_parsers();
	test_messages();
	test_writer();
	T_DONE();
}
