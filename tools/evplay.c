/*
 * evplay: replays an archive in its recorded timing.
 *
 *   evplay [options] DIR        events (or messages, or TSV) to stdout
 *
 * Every frame is due at start + (t_recorded - t_first) / speed
 * (replay.c, anchored), with the recorded message grouping.  Output is
 * blocking: a slow consumer slows the timeline (the scheduler slips) and
 * the lag is reported, nothing is dropped.
 *
 * The main loop is libevent with precise timers; one struct timeline is
 * one replay (cursor, scheduler, state, timer) so that a server mode can
 * drive several on one event_base.
 *
 * Controls: keys on a terminal stdin (space pause/resume, + / - speed
 * x2 / /2, left/right or [ ] seek -/+ 10 s, s status, q quit); SIGUSR1
 * pause/resume, SIGUSR2 status line, SIGINT/SIGTERM stop (with --stats).
 *
 * Exit status: 0 success, 1 failure or damage found, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtape/buf.h"
#include "evtape/cursor.h"
#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/replay.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"

#define EVPLAY_VERSION "0.1.0"
#define EX_FAIL 1
#define EX_USAGE 2
#define BATCH 4096		/* frames per loop turn at top speed */
#define OBUF_FLUSH (64u << 10)	/* flush the output past this */
#define SEEK_STEP_US 10000000
#define NAP_US 1000		/* last stretch slept in clock_nanosleep */

enum mode { M_EVENTS, M_MESSAGES, M_TSV };

/* One replay: what a server mode would hold per timeline. */
struct timeline {
	struct evt_cur *cur;
	struct evt_replay sch;
	struct evt_state *state; /* kept current, or NULL */
	struct event *timer;
	struct evt_cur_msg m;	 /* current frame (borrowed from cur) */
	int have;		 /* m is loaded and pushed */
	int64_t from, to;	 /* receive time range */
	const char *from_id;
	const char *dir;	 /* the archive (to re-seed the state) */
	int64_t start_rx;	 /* start point of a pass */
	long loops_left;	 /* passes after this one; < 0 forever */
	uint64_t frames, events; /* written */
	int64_t started, ended;	 /* monotonic us */
	int finished;
};

static const char *progname = "evplay";
static struct event_base *base;
static struct evt_buf obuf;
static enum mode mode = M_EVENTS;
static int quiet, verbose, want_stats, want_state, tty_progress;
static uint64_t problems;
static int exit_code;
static struct termios saved_tio;
static int tio_saved;
static int64_t reported_lag;

/* Prints a message to stderr prefixed with the program name. */
static void
msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
msg(const char *fmt, ...)
{
	va_list ap;
	if (tty_progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Segment problem callback: "file: offset N: what" (damage is skipped). */
static void
seg_err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(void)arg;
	problems++;
	msg("warning: %s: offset %" PRIu64 ": %s", path, off, what);
}

/* Archive warning callback. */
static void
warn_cb(void *arg, const char *m)
{
	(void)arg;
	msg("warning: %s", m);
}

/* Writes the output buffer to stdout, blocking until it is all taken. */
static void
oflush(void)
{
	size_t off = 0;
	while (off < obuf.len) {
		ssize_t w = write(1, obuf.p + off, obuf.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			msg("stdout: %s", strerror(errno));
			exit(EX_FAIL);
		}
		off += (size_t)w;
	}
	obuf.len = 0;
}

/* Exits on out of memory. */
static void
oom_check(int rc)
{
	if (rc == EVT_ERR_NOMEM) {
		msg("out of memory");
		exit(EX_FAIL);
	}
}

/* Whether a frame produces output in this mode. */
static int
frame_out(const struct evt_cur_msg *m)
{
	if (mode == M_TSV)
		return 1;
	return m->kind == EVT_K_MSG && m->n > 0;
}

/* Appends a frame's output lines. */
static void
emit(struct timeline *t, const struct evt_cur_msg *m)
{
	if (mode == M_EVENTS) {
		for (size_t i = 0; i < m->n; i++) {
			oom_check(evt_buf_put(&obuf, m->ev[i], m->evlen[i]));
			oom_check(evt_buf_putc(&obuf, '\n'));
		}
	} else {
		if (mode == M_TSV) {
			char tmp[32];
			int k = snprintf(tmp, sizeof tmp, "%" PRId64 "\t",
			    m->rx_us);
			oom_check(evt_buf_put(&obuf, tmp, (size_t)k));
		}
		oom_check(evt_buf_put(&obuf, m->text, m->len));
		oom_check(evt_buf_putc(&obuf, '\n'));
	}
	t->frames++;
	if (m->kind == EVT_K_MSG)
		t->events += m->n;
}

static struct evt_state *state_at(const char *dir, int64_t at);

/* Re-seeds a kept state table at a new position. */
static void
tl_reseed(struct timeline *t, int64_t at)
{
	if (t->state == NULL)
		return;
	struct evt_state *s = state_at(t->dir, at);
	if (s == NULL)
		return; /* reported; the old table stays */
	evt_state_free(t->state);
	t->state = s;
}

/* Positions the cursor at the start of a pass. */
static int
tl_rewind(struct timeline *t)
{
	if (t->from_id != NULL) {
		int64_t rx;
		int rc = evt_cur_seek_id(t->cur, t->from_id,
		    strlen(t->from_id), &rx);
		oom_check(rc);
		if (rc <= 0) {
			msg("no event with id %s", t->from_id);
			return -1;
		}
		return 0;
	}
	evt_cur_seek(t->cur, t->from);
	return 0;
}

/* Loads the next frame that produces output and pushes it to the
 * scheduler; loops.  Returns 1, 0 at the end, -1 on failure. */
static int
tl_load(struct timeline *t)
{
	for (;;) {
		int rc = evt_cur_next(t->cur, &t->m);
		if (rc < 0) {
			msg("reading the archive: %s", evt_strerror(rc));
			return -1;
		}
		if (rc == 0) {
			if (t->loops_left == 0)
				return 0;
			if (t->loops_left > 0)
				t->loops_left--;
			if (t->frames == 0 && t->have == 0 &&
			    evt_replay_position(&t->sch) == 0)
				return 0; /* nothing to play: no endless loop */
			if (tl_rewind(t) != 0)
				return -1;
			tl_reseed(t, t->start_rx);
			evt_replay_loop(&t->sch);
			continue;
		}
		if (t->state != NULL)
			oom_check(evt_state_apply_frame(t->state, t->m.kind,
			    t->m.ev, t->m.evlen, t->m.n));
		if (!frame_out(&t->m))
			continue;
		evt_replay_push(&t->sch, t->m.rx_us);
		t->have = 1;
		return 1;
	}
}

static void tl_finish(struct timeline *t);

/* Runs the timeline: writes every frame that is due, then arms the timer
 * for the next one (or yields a loop turn at top speed). */
static void
tl_run(struct timeline *t)
{
	int64_t now = evt_mono_us();
	int top = t->sch.o.top_speed;
	/* A bounded turn, so keys and signals are seen within a few ms even
	 * where frames come closer than NAP_US apart. */
	for (int budget = top ? BATCH : 64; budget > 0; budget--) {
		if (!t->have) {
			int rc = tl_load(t);
			if (rc <= 0) {
				if (rc < 0)
					exit_code = EX_FAIL;
				tl_finish(t);
				return;
			}
		}
		int64_t w = evt_replay_wait(&t->sch, now);
		if (w == INT64_MAX) {
			oflush();
			return; /* paused: a control resumes */
		}
		if (w > 0) {
			oflush();
			now = evt_mono_us();
			w = evt_replay_wait(&t->sch, now);
		}
		if (w > NAP_US) {
			/* The loop's timer wakes us NAP_US early ... */
			w -= NAP_US;
			struct timeval tv = {(time_t)(w / 1000000),
			    (suseconds_t)(w % 1000000)};
			evtimer_add(t->timer, &tv);
			return;
		}
		if (w > 0) {
			/* ... and an absolute sleep lands on the due time
			 * (epoll's wake-up alone is some 100 us late). */
			int64_t due = now + w;
			struct timespec ts = {(time_t)(due / 1000000),
			    (long)(due % 1000000) * 1000};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
			    &ts, NULL) == EINTR)
				;
			now = evt_mono_us();
		}
		emit(t, &t->m);
		if (!top) {
			/* On schedule: hand it over now, then stamp it. */
			oflush();
			now = evt_mono_us();
		} else if (obuf.len >= OBUF_FLUSH) {
			oflush();
			now = evt_mono_us();
		}
		evt_replay_done(&t->sch, now);
		t->have = 0;
	}
	/* Let the loop see keys and signals, then go on. */
	struct timeval zero = {0, 0};
	evtimer_add(t->timer, &zero);
}

/* Timer callback of a timeline. */
static void
tl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	tl_run(arg);
}

/* The replay ended: flushes and leaves the loop. */
static void
tl_finish(struct timeline *t)
{
	oflush();
	t->finished = 1;
	t->ended = evt_mono_us();
	event_base_loopbreak(base);
}

/* Formats a receive time for status lines. */
static void
fmt_pos(int64_t rx, char out[28])
{
	if (rx == 0)
		snprintf(out, 28, "-");
	else
		evt_time_format_us(rx, out);
}

/* Prints one status line to stderr. */
static void
status_line(struct timeline *t, int progress)
{
	struct evt_replay_stats st;
	evt_replay_stats(&t->sch, &st);
	char pos[28];
	fmt_pos(evt_replay_position(&t->sch), pos);
	double el = (double)(evt_mono_us() - t->started) / 1e6;
	char line[256];
	snprintf(line, sizeof line,
	    "%s %s x%g, %" PRIu64 " events (%.0f/s), lag %.3f s%s", pos,
	    evt_replay_paused(&t->sch) ? "paused" : "playing",
	    evt_replay_speed(&t->sch), t->events,
	    el > 0 ? (double)t->events / el : 0.0, (double)st.lag_us / 1e6,
	    t->sch.o.top_speed ? " (top speed)" : "");
	if (progress)
		fprintf(stderr, "\r\033[K%s", line);
	else
		msg("%s", line);
}

/* Prints the --stats summary. */
static void
print_stats(struct timeline *t)
{
	struct evt_replay_stats st;
	evt_replay_stats(&t->sch, &st);
	int64_t end = t->ended ? t->ended : evt_mono_us();
	double el = (double)(end - t->started) / 1e6;
	msg("stats: %" PRIu64 " events in %" PRIu64 " frames, %.3f s, "
	    "%.0f events/s, %.0f frames/s; lateness p50 %" PRId64
	    " us, p99 %" PRId64 " us, max %" PRId64 " us; lag %" PRId64
	    " us (%" PRIu64 " slips); end drift %" PRId64 " us",
	    t->events, t->frames, el, el > 0 ? (double)t->events / el : 0.0,
	    st.rate, st.p50_us, st.p99_us, st.max_us, st.lag_us, st.slips,
	    st.drift_us);
}

/* Restores the terminal. */
static void
tty_restore(void)
{
	if (tio_saved)
		tcsetattr(0, TCSANOW, &saved_tio);
	tio_saved = 0;
}

/* Re-positions the replay by delta microseconds. */
static void
tl_seek(struct timeline *t, int64_t delta)
{
	int64_t pos = evt_replay_position(&t->sch);
	int64_t target = pos + delta;
	if (target < t->from)
		target = t->from;
	evt_cur_seek(t->cur, target);
	evt_replay_seek(&t->sch, evt_mono_us(), target);
	t->have = 0;
	tl_reseed(t, target);
	if (!t->finished) {
		struct timeval zero = {0, 0};
		evtimer_add(t->timer, &zero);
	}
}

/* Pauses or resumes. */
static void
tl_toggle(struct timeline *t)
{
	int64_t now = evt_mono_us();
	if (evt_replay_paused(&t->sch)) {
		evt_replay_resume(&t->sch, now);
		struct timeval zero = {0, 0};
		evtimer_add(t->timer, &zero);
	} else {
		evt_replay_pause(&t->sch, now);
		evtimer_del(t->timer);
	}
	if (verbose || tty_progress)
		status_line(t, 0);
}

/* Changes the speed by a factor. */
static void
tl_speed(struct timeline *t, double f)
{
	double s = evt_replay_speed(&t->sch) * f;
	if (s < 1.0 / 1024 || s > 1024)
		return;
	evt_replay_set_speed(&t->sch, evt_mono_us(), s);
	struct timeval zero = {0, 0};
	if (!evt_replay_paused(&t->sch))
		evtimer_add(t->timer, &zero);
	if (verbose || tty_progress)
		status_line(t, 0);
}

/* Keys on a terminal stdin. */
static void
key_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *t = arg;
	unsigned char k[16];
	ssize_t n = read(fd, k, sizeof k);
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		switch (k[i]) {
		case ' ': tl_toggle(t); break;
		case '+': tl_speed(t, 2); break;
		case '-': tl_speed(t, 0.5); break;
		case '[': tl_seek(t, -SEEK_STEP_US); break;
		case ']': tl_seek(t, SEEK_STEP_US); break;
		case 's': status_line(t, 0); break;
		case 'q':
			t->ended = evt_mono_us();
			event_base_loopbreak(base);
			break;
		case 0x1b: /* ESC [ C / ESC [ D: arrows */
			if (i + 2 < n && k[i + 1] == '[') {
				if (k[i + 2] == 'C')
					tl_seek(t, SEEK_STEP_US);
				else if (k[i + 2] == 'D')
					tl_seek(t, -SEEK_STEP_US);
				i += 2;
			}
			break;
		default: break;
		}
	}
}

/* Signals: USR1 pause/resume, USR2 status, INT/TERM stop. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeline *t = arg;
	switch (sig) {
	case SIGUSR1: tl_toggle(t); break;
	case SIGUSR2: status_line(t, 0); break;
	default:
		t->ended = evt_mono_us();
		event_base_loopbreak(base);
		break;
	}
}

/* Once a second: the progress line and lag reports. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *t = arg;
	if (tty_progress) {
		status_line(t, 1);
		return;
	}
	if (t->sch.lag_us > reported_lag + 100000 && !quiet) {
		msg("consumer slow: the timeline is %.3f s behind",
		    (double)t->sch.lag_us / 1e6);
		reported_lag = t->sch.lag_us;
	}
}

/*
 * The state table as of a start point (frames received before at): the
 * last getState answer before it and the stateful events since.  A linear
 * scan from the archive's start.  Returns the table (owned by the caller)
 * or NULL.
 */
static struct evt_state *
state_at(const char *dir, int64_t at)
{
	struct evt_cur *c;
	if (evt_cur_open(dir, seg_err_cb, warn_cb, NULL, &c) != 0)
		return NULL;
	struct evt_state *s = evt_state_new();
	if (s == NULL)
		oom_check(EVT_ERR_NOMEM);
	evt_cur_set_end(c, at);
	struct evt_cur_msg m;
	int rc = 0;
	while (at != INT64_MIN && (rc = evt_cur_next(c, &m)) == 1)
		oom_check(evt_state_apply_frame(s, m.kind, m.ev, m.evlen, m.n));
	evt_cur_close(c);
	if (rc < 0) {
		msg("reading the archive: %s", evt_strerror(rc));
		evt_state_free(s);
		return NULL;
	}
	return s;
}

/* Prints a state table as {"states":[...]} (TSV: after "<at>\t"). */
static void
print_state(const struct evt_state *s, int64_t at)
{
	const char *const *st;
	const size_t *lens;
	size_t n = evt_state_list(s, &st, &lens);
	if (mode == M_TSV) {
		char tmp[32];
		int k = snprintf(tmp, sizeof tmp, "%" PRId64 "\t",
		    at == INT64_MIN ? 0 : at);
		oom_check(evt_buf_put(&obuf, tmp, (size_t)k));
	}
	oom_check(evt_buf_put(&obuf, "{\"states\":[", 11));
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			oom_check(evt_buf_putc(&obuf, ','));
		oom_check(evt_buf_put(&obuf, st[i], lens[i]));
	}
	oom_check(evt_buf_put(&obuf, "]}\n", 3));
	oflush();
}

/* Prints the usage text. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evplay [options] DIR\n"
	    "  --speed X        replay X times as fast (default 1)\n"
	    "  --top-speed      as fast as the consumer takes it\n"
	    "  --from TIME      start at this receive time (ISO-8601 or us)\n"
	    "  --to TIME        stop before this receive time\n"
	    "  --from-id ID     start at this event (in its message)\n"
	    "  --max-gap S      cap idle gaps at S (s, m, h; default none)\n"
	    "  --loop [N]       play N times in all (no N: forever)\n"
	    "  --messages       whole gateway messages, one per line\n"
	    "  --tsv            every received frame as \"<rx us>\\t<text>\"\n"
	    "  --state          print the state at the start first, as\n"
	    "                   {\"states\":[...]}\n"
	    "  --stats          print lateness p50/p99/max, rate, lag and\n"
	    "                   end drift on stderr at the end\n"
	    "  -q, --quiet      no progress line or lag reports\n"
	    "  -v, --verbose    report controls\n"
	    "  --help, --version\n"
	    "keys (terminal): space pause, + - speed, [ ] or arrows seek "
	    "10 s, s status, q quit\n"
	    "signals: USR1 pause/resume, USR2 status, INT/TERM stop\n");
}

/* Parses a positive number or exits. */
static double
num_arg(const char *opt, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != 0 || !(v > 0) || v > 1e6) {
		msg("%s: not a positive number: %s", opt, s);
		exit(EX_USAGE);
	}
	return v;
}

/* Parses a --from/--to value or exits. */
static int64_t
time_arg(const char *opt, const char *s)
{
	int64_t us;
	if (evt_time_parse_user(s, &us) != 0) {
		msg("%s: not a time (ISO-8601 or microseconds): %s", opt, s);
		exit(EX_USAGE);
	}
	return us;
}

int
main(int argc, char **argv)
{
	struct evt_replay_opts ro = {.speed = 1.0};
	struct timeline tl;
	memset(&tl, 0, sizeof tl);
	tl.from = INT64_MIN;
	tl.to = INT64_MAX;
	static const struct option lo[] = {
		{"speed", required_argument, NULL, 'S'},
		{"top-speed", no_argument, NULL, 'X'},
		{"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 'T'},
		{"from-id", required_argument, NULL, 'i'},
		{"max-gap", required_argument, NULL, 'g'},
		{"loop", optional_argument, NULL, 'l'},
		{"messages", no_argument, NULL, 'm'},
		{"tsv", no_argument, NULL, 't'},
		{"state", no_argument, NULL, 's'},
		{"stats", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "qvh", lo, NULL)) != -1) {
		switch (c) {
		case 'S': ro.speed = num_arg("--speed", optarg); break;
		case 'X': ro.top_speed = 1; break;
		case 'f': tl.from = time_arg("--from", optarg); break;
		case 'T': tl.to = time_arg("--to", optarg); break;
		case 'i': tl.from_id = optarg; break;
		case 'g':
			if (evt_duration_parse(optarg, &ro.max_gap_us) != 0) {
				msg("--max-gap: a duration: %s", optarg);
				return EX_USAGE;
			}
			break;
		case 'l': {
			const char *v = optarg;
			/* "--loop N": a count may follow as its own word */
			if (v == NULL && optind < argc - 1 &&
			    strspn(argv[optind], "0123456789") ==
			    strlen(argv[optind]) && argv[optind][0] != 0)
				v = argv[optind++];
			if (v == NULL) {
				tl.loops_left = -1;
			} else {
				double n = num_arg("--loop", v);
				if (n != (long)n) {
					msg("--loop: a whole number: %s", v);
					return EX_USAGE;
				}
				tl.loops_left = (long)n - 1;
			}
			break;
		}
		case 'm': mode = M_MESSAGES; break;
		case 't': mode = M_TSV; break;
		case 's': want_state = 1; break;
		case 'a': want_stats = 1; break;
		case 'q': quiet = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("evplay " EVPLAY_VERSION "\n"); return 0;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return EX_USAGE;
	}
	if (tl.from_id != NULL && tl.from != INT64_MIN) {
		msg("--from and --from-id exclude each other");
		return EX_USAGE;
	}
	const char *dir = argv[optind];
	int rc = evt_cur_open(dir, seg_err_cb, warn_cb, NULL, &tl.cur);
	if (rc != 0) {
		msg("%s: cannot open the archive: %s", dir, evt_strerror(rc));
		return EX_FAIL;
	}
	evt_cur_set_end(tl.cur, tl.to);
	if (tl_rewind(&tl) != 0)
		return EX_FAIL;
	int64_t start_rx = tl.from;
	if (tl.from_id != NULL) {
		int64_t rx;
		evt_cur_seek_id(tl.cur, tl.from_id, strlen(tl.from_id), &rx);
		start_rx = rx;
	}
	tl.dir = dir;
	tl.start_rx = start_rx;
	if (want_state) {
		/* Seeded at the start point and kept current from there on
		 * (what getState answers in server mode). */
		tl.state = state_at(dir, start_rx);
		if (tl.state == NULL)
			return EX_FAIL;
		print_state(tl.state, start_rx);
	}

	/* The kernel's default 50 us timer slack would be lateness. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	struct event_config *cfg = event_config_new();
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL) {
		msg("cannot create the event loop");
		return EX_FAIL;
	}
	evt_replay_init(&tl.sch, &ro);
	tl.timer = evtimer_new(base, tl_timer_cb, &tl);
	tty_progress = !quiet && isatty(2);
	struct event *keys = NULL;
	if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0) {
			tio_saved = 1;
			atexit(tty_restore);
			keys = event_new(base, 0, EV_READ | EV_PERSIST, key_cb,
			    &tl);
			event_add(keys, NULL);
		}
	}
	int sigs[] = {SIGUSR1, SIGUSR2, SIGINT, SIGTERM};
	struct event *sev[4];
	for (int i = 0; i < 4; i++) {
		sev[i] = evsignal_new(base, sigs[i], signal_cb, &tl);
		evsignal_add(sev[i], NULL);
	}
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, &tl);
	struct timeval sec = {1, 0};
	event_add(tick, &sec);

	tl.started = evt_mono_us();
	evt_replay_start(&tl.sch, tl.started);
	struct timeval zero = {0, 0};
	evtimer_add(tl.timer, &zero);
	event_base_dispatch(base);

	oflush();
	if (tty_progress)
		fputs("\r\033[K", stderr);
	if (tl.ended == 0)
		tl.ended = evt_mono_us();
	if (!quiet && tl.sch.lag_us > 0)
		msg("consumer was slow: the timeline fell %.3f s behind",
		    (double)tl.sch.lag_us / 1e6);
	if (want_stats)
		print_stats(&tl);
	tty_restore();
	for (int i = 0; i < 4; i++)
		event_free(sev[i]);
	event_free(tick);
	if (keys != NULL)
		event_free(keys);
	event_free(tl.timer);
	event_base_free(base);
	evt_cur_close(tl.cur);
	evt_state_free(tl.state);
	evt_buf_free(&obuf);
	if (exit_code == 0 && problems > 0)
		exit_code = EX_FAIL;
	return exit_code;
}
