/*
 * evplay: replays an archive in its recorded timing.
 *
 *   evplay [options] DIR                   events (or messages, TSV) to stdout
 *   evplay --listen HOST:PORT [...] DIR     serves it as an API Gateway
 *
 * Every frame is due at start + (t_recorded - t_first) / speed
 * (replay.c, anchored), with the recorded message grouping.  One struct
 * timeline is one replay: cursor, scheduler, state table and timer.
 *
 * stdout mode: one timeline; output is blocking, so a slow consumer slows
 * the timeline (the scheduler slips) and the lag is reported, nothing is
 * dropped.
 *
 * Server mode: the gateway module (gateway.c) does the protocol; evplay
 * feeds it.  --clock session (default): each session gets its own
 * timeline when its first subscription is added (session_cb SUBSCRIBED),
 * published to it alone (evt_gw_publish_session) while its client keeps
 * up (evt_gw_session_congested; DRAINED wakes it), so a slow client slows
 * only its own replay.  --clock shared: one timeline from the first
 * subscription, published to every session; at a fixed speed a client
 * that falls out of its history is closed by the gateway (1008), at top
 * speed the timeline waits for the slowest (drain_cb).  getState answers
 * the asking session's timeline state (before it starts: the state at
 * the start point).
 *
 *   frame -> [due?] -> stdout | evt_gw_publish[_session] -> state table
 *
 * Controls: keys on a terminal stdin (space pause/resume, + / - speed
 * x2 / /2, left/right or [ ] seek -/+ 10 s, s status, q quit); SIGUSR1
 * pause/resume, SIGUSR2 status line, SIGINT/SIGTERM stop (with --stats);
 * in server mode also GET /evplay/status and POST /evplay/pause, resume,
 * speed?x=F, seek?to=TIME|by=S (&session=ID), all with a Bearer token.
 * Keys and signals act on every timeline.
 *
 * Exit status (cli.h): 0 done (a server: stopped by a signal), 1 damage
 * skipped or the --from-id event not found, 2 usage, 3 failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/cfgrest.h"
#include "evtape/cli.h"
#include "evtape/cursor.h"
#include "evtape/cut.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/follow.h"
#include "evtape/gateway.h"
#include "evtape/gw_opts.h"
#include "evtape/http.h"
#include "evtape/httpc.h"
#include "evtape/json.h"
#include "evtape/merge.h"
#include "evtape/log.h"
#include "evtape/names.h"
#include "evtape/natsio.h"
#include "evtape/record.h"
#include "evtape/replay.h"
#include "evtape/rewrite.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"
#include "evtape/tsv.h"

#define EVPLAY_VERSION "0.2.0"
#define BATCH 4096		/* frames per loop turn at top speed */
#define OBUF_FLUSH (64u << 10)	/* flush the output past this */
#define SEEK_STEP_US 10000000
#define NAP_US 1000		/* last stretch slept in clock_nanosleep */
#define MAX_CONNS 64		/* default --max-conns */
#define STATE_WAIT_US 500000	/* a new replay waits this long for its
				   client's getState */

enum mode { M_EVENTS, M_MESSAGES, M_TSV };

/* getopt_long codes of the rewriting and selection options. */
enum {
	O_RETIME = 0x300, O_SHIFT, O_FRESH, O_FRESH_KEY, O_MAP, O_SOURCE,
	O_TYPE, O_FOLLOW, O_NATS_TIMEOUT,
};
#define FRESH_PASSES 64		/* passes a fresh --from-id is looked for in */
/* --follow: how long a wait for a change of the archive lasts before the
 * follower looks again all the same (inotify wakes it; the quiet wait is
 * what tells a dead writer's unsealed segment, follow.h). */
#define FOLLOW_QUIET_S 5
/* --follow --listen: the live timeline starts reading this long before
 * now (at top speed to the archive's end): a recorder writes a frame
 * within its block age (1 s by default) of receiving it, so a frame
 * received just before the start but written after it is read, and its
 * state kept, too. */
#define LIVE_LEAD_US 10000000

/* Where a timeline's frames go. */
enum out { OUT_STDOUT, OUT_ALL, OUT_SESSION };

/*
 * A frame's place in the archive, the same for every reader of it: its
 * segment, receive time and rank among that segment's frames received at
 * that time (--follow --listen: where a client catching up from the
 * archive meets the live stream).
 */
struct fpos {
	uint64_t seg;
	int64_t rx;
	uint32_t k;
};

/* One replay. */
struct timeline {
	struct evt_cur *cur;
	struct evt_replay sch;
	struct evt_state *state; /* kept current, or NULL */
	struct event *timer;
	struct evt_cur_msg m;	 /* current frame (borrowed from cur) */
	int have;		 /* m is loaded and pushed */
	enum out out;
	struct evt_gw_session *s; /* OUT_SESSION: its session */
	long loops_left;	 /* passes after this one; < 0 forever */
	uint64_t frames, events; /* written */
	int64_t started, ended;	 /* monotonic us */
	int finished;
	int waiting;		 /* for the client(s) to drain */
	int held;		 /* not started: waits for getState (tl_hold) */
	int gone;		 /* its session is gone: freed by its timer */
	int filtered;		 /* m lost events to --source/--type */
	size_t ev_from, ev_to;	 /* then: where its events were in m->text */
	int live;		 /* --follow: read to the archive's end once;
				    frames are then due as they are read */
	struct event *fwait;	 /* --follow: the wait for a change */
	/* --follow --listen: a session's timeline (fan) takes the live
	 * stream (joined: no cursor, the live timeline's state) or catches
	 * up from the archive from target on, until it meets it. */
	int fan, joined;
	int skip_first;		 /* the first event read is the one a client
				    resumed after (resume_cb) */
	struct fpos pos, target;	 /* pos: of m (fan, and the live one) */
	struct evt_rw_pass rw;	 /* this pass's rewriting (W below) */
	const char **fev;	 /* --source/--type: the selected events of m */
	size_t *flen, fcap;
	uint32_t *fidx;		 /* ... their indexes in the cursor's list */
	LIST_ENTRY(timeline) link; /* in timelines, or zombies once gone */
};

/* What every timeline replays: the archive and the range. */
static struct {
	const char *dir;
	int64_t from, to;	 /* receive time range */
	const char *from_id;
	int64_t start_rx;	 /* start point of a pass */
	long loops;		 /* loops_left of a new timeline */
	struct evt_replay_opts ro;
	struct evt_state *state0; /* the state at the start point, or NULL */
	int follow;		 /* --follow */
} R;

/* Server mode. */
static struct {
	struct evt_gwo gwo;	 /* the gateway server: options, gwo.gw */
	int shared;		 /* --clock shared */
	int exit_when_done;
	struct event *done_ev;	 /* --exit-when-done re-checks */
	struct timeline *tl;	 /* shared: the one timeline; --follow: the
				    live one */
	int fan;		 /* --follow: the live timeline, fan-out */
	int have_done;		 /* ... has handed out a frame: */
	struct fpos done;	 /* the last one */
	int64_t live_from;	 /* ... its start (now when it started) */
	int paused;		 /* a new timeline starts paused */
	double speed;		 /* a new timeline's speed (0: R.ro's) */
} S;

static struct event_base *base;
static enum mode mode = M_EVENTS;
static int quiet, verbose, want_stats, want_state, tty_progress, server;
/* stdout mode's --names and -o text (--utc): the names of the archive's
 * CONFIG markers, and the text form's state. */
static int want_names, text_out, utc_out;
static struct evt_names *cfgnames;
static struct evt_names_text textfmt;
/* What the timelines could not read (the largest tally of one: each
 * reads the same archive). */
static uint64_t lost_events, lost_unknown;
static int exit_code;
static struct termios saved_tio;
static int tio_saved;
static int64_t reported_lag;
/*
 * Rewriting for test systems (--retime, --shift, --fresh-ids,
 * --map-source; rewrite.h) and the selection (--source, --type;
 * select.h).  With neither, frames go out as the cursor gives them
 * (W.rw NULL, W.selecting 0: the path without copies).
 */
static struct {
	struct evt_rw *rw;	 /* NULL: nothing rewritten */
	int retime;		 /* --retime: the first event is now */
	int64_t shift_ns;	 /* --shift */
	int fresh;		 /* --fresh-ids */
	const char *key;	 /* --fresh-ids-key */
	const char **maps;	 /* --map-source arguments */
	size_t nmaps;
	struct evt_sel sel;	 /* --source, --type */
	int selecting;
	int have_first;		 /* the first event's time (retime) */
	int64_t first_sec, first_unit;
	int32_t first_nsec;
	uint64_t first_pass;	 /* --from-id by a fresh id: its pass */
	struct evt_buf buf;	 /* rewritten texts of one frame */
	const char **ev;	 /* ... as a list (into buf) */
	size_t *evlen, cap;
} W;

/*
 * --publish (formats/nats.md, "evplay --publish"): the one timeline's
 * frames go to NATS instead of stdout, after every rewriting and
 * selection: each event as one message on its event subject (payload:
 * the line stdout mode prints), other frames (getState answers, other
 * JSON, RAW) on the mk subjects unless --source/--type select events.
 * Core NATS by default; with --stream, JetStream: asynchronous publishes,
 * at most --nats-window unacknowledged, acknowledgements counted by
 * libnats' thread (pub_ack_cb), which wakes the loop through a pipe.
 * While the window is full or the connection is down the timeline waits
 * (it slips: the lag is reported, nothing is dropped); NATS unreachable
 * or unacknowledging for --nats-timeout, or a rejected message, ends the
 * replay with status 3.
 */
#define PUB_TIMEOUT_US 10000000 /* default --nats-timeout */

static struct {
	struct evt_nats_opts o;
	int on, js;		 /* --publish; --stream given: JetStream */
	int64_t timeout_us;	 /* --nats-timeout */
	struct evt_nats *n;
	struct evt_buf subj;
	struct evt_buf part;	 /* a part's payload (pub_parts) */
	size_t item;		 /* items of the current frame published */
	uint64_t events, frames; /* published */
	uint64_t too_big;	 /* not published: over max_payload */
	_Atomic uint64_t sent;	 /* messages published (JetStream: in the
				    window until acknowledged or failed;
				    counted before the publish, which its
				    ack may overtake) */
	_Atomic uint64_t acked, dups, failed;
	_Atomic int want_wake;	 /* the timeline waits for acks */
	int wake[2];		 /* pipe: libnats' threads -> the loop */
	struct event *wake_ev;
	pthread_mutex_t mu;	 /* why */
	char why[600];		 /* the first rejection */
	int64_t stuck_since;	 /* monotonic us: waiting, or acks due, and
				    none answered since */
	uint64_t stuck_done;	 /* acks and failures then */
	struct timeline *t;
	int failed_out;		 /* ended on a failure (reported) */
	_Atomic int closing;	 /* our close: its disconnection is no news */
} P = {.wake = {-1, -1}, .mu = PTHREAD_MUTEX_INITIALIZER,
    .timeout_us = PUB_TIMEOUT_US};

/* The stdout timeline's first pass, begun before --state prints. */
static struct evt_rw_pass pass0;

static LIST_HEAD(, timeline) timelines = LIST_HEAD_INITIALIZER(timelines);
/* Timelines whose session is gone, freed on a later loop turn. */
static LIST_HEAD(, timeline) zombies = LIST_HEAD_INITIALIZER(zombies);
static unsigned nplaying;	/* timelines started, not finished (server) */

/* Clears the progress line before a message (evt_cli_before_err). */
static void
clear_progress(void)
{
	if (tty_progress)
		fputs("\r\033[K", stderr);
}

/* Gateway log callback: lines up to the chosen level. */
static void
gw_log_cb(void *arg, int level, const char *m)
{
	evt_gwo_log(&S.gwo, level, "%s", m);
}


/* Writes the output buffer to stdout, blocking until it is all taken;
 * exits if stdout fails (the writer said why, or the reader is gone). */
static void
oflush(void)
{
	if (evt_cli_out_flush() != 0)
		exit(EVT_EXIT_FAIL);
}

/* Exits on out of memory. */
static void
oom_check(int rc)
{
	if (rc == EVT_ERR_NOMEM) {
		evt_cli_err("out of memory");
		exit(EVT_EXIT_FAIL);
	}
}

/* Whether a frame produces output in this mode. */
static int
frame_out(const struct evt_cur_msg *m)
{
	if (mode == M_TSV) /* every received frame: not a cut's snapshot */
		return m->kind != EVT_K_STATES ||
		    !evt_cut_is_snapshot(m->text, m->len);
	if (P.on && m->kind != EVT_K_MSG) /* the mk subjects, as evrec's */
		return !W.selecting;
	if (m->kind == EVT_K_RAW) /* a server sends it as it came */
		return S.gwo.gw != NULL && !W.selecting;
	return m->kind == EVT_K_MSG && m->n > 0;
}

/* Narrows t's current MSG frame to the events --source/--type select
 * (m then lists them; t->filtered says whether any was left out). */
static void
tl_select(struct timeline *t)
{
	struct evt_cur_msg *m = &t->m;
	size_t k = 0;
	t->filtered = 0;
	if (!W.selecting || m->kind != EVT_K_MSG)
		return;
	if (m->n > t->fcap) {
		size_t cap = m->n * 2;
		free(t->fev);
		free(t->flen);
		free(t->fidx);
		t->fev = malloc(cap * sizeof *t->fev);
		t->flen = malloc(cap * sizeof *t->flen);
		t->fidx = malloc(cap * sizeof *t->fidx);
		if (t->fev == NULL || t->flen == NULL || t->fidx == NULL)
			oom_check(EVT_ERR_NOMEM);
		t->fcap = cap;
	}
	for (size_t i = 0; i < m->n; i++)
		if (evt_sel_event_text(&W.sel, m->ev[i], m->evlen[i])) {
			t->fev[k] = m->ev[i];
			t->fidx[k] = (uint32_t)i;
			t->flen[k++] = m->evlen[i];
		}
	if (k == m->n)
		return;
	/* The cursor's event texts lie inside the frame's text. */
	t->ev_from = (size_t)(m->ev[0] - m->text);
	t->ev_to = (size_t)(m->ev[m->n - 1] + m->evlen[m->n - 1] - m->text);
	t->filtered = 1;
	m->ev = t->fev;
	m->evlen = t->flen;
	m->n = k;
}

/* Makes room for n texts in W's list. */
static void
w_room(size_t n)
{
	if (n <= W.cap)
		return;
	free(W.ev);
	free(W.evlen);
	W.cap = n * 2;
	W.ev = malloc(W.cap * sizeof *W.ev);
	W.evlen = malloc(W.cap * sizeof *W.evlen);
	if (W.ev == NULL || W.evlen == NULL)
		oom_check(EVT_ERR_NOMEM);
}

/* Rewrites the event (or state) texts ev[0..n) as pass p says into
 * W.buf, listed in W.ev and W.evlen (valid until the next call). */
static void
rw_list(const struct evt_rw_pass *p, const char *const *ev,
    const size_t *len, size_t n)
{
	w_room(n);
	W.buf.len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t at = W.buf.len;
		oom_check(evt_rw_event(W.rw, p, ev[i], len[i], &W.buf));
		W.evlen[i] = W.buf.len - at;
	}
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		W.ev[i] = (const char *)W.buf.p + off;
		off += W.evlen[i];
	}
}

/* The text of t's current frame as it goes out: only the selected
 * events in its events array if some were left out (the message's other
 * members kept), rewritten if asked. */
static void
frame_text(struct timeline *t, const char **text, size_t *len)
{
	static struct evt_buf sel;
	const struct evt_cur_msg *m = &t->m;
	*text = m->text;
	*len = m->len;
	if (t->filtered) {
		sel.len = 0;
		oom_check(evt_ess_events_within(m->text, m->len, t->ev_from,
		    t->ev_to, m->ev, m->evlen, m->n, &sel) < 0 ?
		    EVT_ERR_NOMEM : 0);
		*text = (const char *)sel.p;
		*len = sel.len;
	}
	if (W.rw != NULL && m->kind != EVT_K_RAW) {
		W.buf.len = 0;
		oom_check(evt_rw_frame(W.rw, &t->rw, *text, *len, &W.buf));
		*text = (const char *)W.buf.p;
		*len = W.buf.len;
	}
}

/* Ends the line of the event text at out[mark..) received at rx: with
 * --names its names added, with -o text turned into a text line (-v: with
 * its ids). */
static void
out_event(struct evt_buf *out, size_t mark, int64_t rx)
{
	if (text_out) {
		oom_check(evt_names_put_text(cfgnames, &textfmt, out, mark, rx));
		return;
	}
	if (want_names)
		oom_check(evt_names_put_json(cfgnames, out, mark, rx));
	oom_check(evt_buf_putc(out, '\n'));
}

/* Names a timeline for log lines: "session ID: ", "shared replay: " or
 * "" (stdout mode). */
static const char *
tl_who(const struct timeline *t, char *buf, size_t size)
{
	size_t n;
	const char *id;
	if (t->out == OUT_SESSION && t->s == NULL)
		snprintf(buf, size, "a session gone: ");
	else if (t->out == OUT_SESSION) {
		id = evt_gw_session_id(t->s, &n);
		snprintf(buf, size, "session %.*s: ", (int)n, id);
	} else
		snprintf(buf, size, "%s", t->out == OUT_ALL ?
		    "shared replay: " : "");
	return buf;
}

/* Formats a shift in ns as seconds with 9 digits and a sign. */
static void
fmt_shift(int64_t ns, char out[40])
{
	uint64_t m = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	snprintf(out, 40, "%c%" PRIu64 ".%09" PRIu64, ns < 0 ? '-' : '+',
	    m / 1000000000u, m % 1000000000u);
}

/*
 * Begins the rewriting of pass t->rw.pass: --shift, plus with --retime the
 * offset that makes the first event's time now (rounded up to its
 * precision, so that it is not before now), measured at this moment: the
 * start of the replay or of the loop pass.  say: log the shift.
 */
static void
tl_pass_begin(struct timeline *t, int say)
{
	static int warned;
	int64_t now = evt_wall_us(), d;
	char who[EVT_ESS_ID_MAX + 16], num[40];

	t->rw.shift_ns = W.shift_ns;
	t->rw.retime = W.retime || W.shift_ns != 0;
	if (!W.retime || !W.have_first)
		return;
	int64_t ds = now / 1000000 - W.first_sec;
	if (ds > 9000000000LL || ds < -9000000000LL) {
		if (!warned++)
			evt_cli_err("warning: --retime: the first event's time is "
			    "more than 285 years from now: not shifted");
		return;
	}
	d = ds * 1000000000LL + now % 1000000 * 1000 - W.first_nsec;
	int64_t q = d / W.first_unit;
	if (d % W.first_unit > 0)
		q++;
	if (__builtin_add_overflow(q * W.first_unit, W.shift_ns, &d)) {
		if (!warned++)
			evt_cli_err("warning: --retime with --shift: out of range: "
			    "not shifted");
		return;
	}
	t->rw.shift_ns = d;
	if (say && !quiet) {
		fmt_shift(d, num);
		evt_cli_err("%spass %" PRIu64 ": event times shifted by %s s",
		    tl_who(t, who, sizeof who), t->rw.pass + 1, num);
	}
}

static void tl_kick(struct timeline *t);

/* ------------------------------------------------------------ publish */

/* Messages in the window (JetStream: published, not yet answered). */
static uint64_t
pub_inflight(void)
{
	return P.js ? P.sent - P.acked - P.failed : 0;
}

/* Wakes the loop (from any thread): pub_wake_cb looks again. */
static void
pub_poke(void)
{
	char c = 0;
	ssize_t rc = write(P.wake[1], &c, 1);
	(void)rc; /* full: a wake-up is pending anyway */
}

/* Notes of the connection (libnats' threads): to stderr, and the loop
 * looks again (a reconnect lets a waiting timeline go on). */
static void
pub_note(void *arg, int level, const char *msg)
{
	if (P.closing)
		return;
	if (level <= EVT_LOG_WARN || !quiet)
		evt_cli_err("%s", msg);
	pub_poke();
}

/* JetStream acknowledgement handler (libnats' thread): counts, keeps the
 * first rejection's text, wakes the loop when the window has room again
 * or something failed. */
static void
pub_ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
    void *closure)
{
	if (pa != NULL) {
		if (pa->Duplicate)
			P.dups++;
		P.acked++;
	} else {
		const char *id = NULL;
		if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK)
			id = "?";
		pthread_mutex_lock(&P.mu);
		if (P.why[0] == '\0')
			snprintf(P.why, sizeof P.why, "subject %s, Nats-Msg-Id "
			    "%s: %s%s", natsMsg_GetSubject(msg), id,
			    pae->ErrText != NULL && pae->ErrText[0] ?
			    pae->ErrText : natsStatus_GetText(pae->Err),
			    pae->Err == NATS_NO_RESPONDERS ? " (no stream "
			    "takes this subject: see --stream and "
			    "--subject-prefix)" : "");
		pthread_mutex_unlock(&P.mu);
		P.failed++;
		pub_poke();
	}
	natsMsg_Destroy(msg);
	if (P.want_wake && pub_inflight() <= P.o.window / 2) {
		P.want_wake = 0;
		pub_poke();
	}
}

static void pub_check(void);

/* Whether the timeline must wait before the next frame: the window is
 * full, or the connection is not up.  The wait is timed (pub_watch). */
static int
pub_blocked(void)
{
	if (P.failed > 0) {
		pub_check(); /* rejected: the replay ends */
		return 1;
	}
	if (natsConnection_Status(evt_nats_conn(P.n)) !=
	    NATS_CONN_STATUS_CONNECTED)
		return 1;
	if (pub_inflight() < P.o.window)
		return 0;
	P.want_wake = 1;
	return pub_inflight() >= P.o.window; /* an ack may have come */
}

/* Sends a message with the header every message of a replay carries,
 * its --loop pass: core NATS, or JetStream asynchronously (an ack that
 * does not come is pub_watch's: libnats' own ack timeout scans every
 * pending message on each tick).  Counts it in P.sent first. */
static natsStatus
pub_send(natsMsg **msg, const struct timeline *t)
{
	char pass[24];
	snprintf(pass, sizeof pass, "%" PRIu64, t->rw.pass + 1);
	natsStatus s = natsMsgHeader_Set(*msg, "Evtape-Replay-Pass", pass);
	if (s != NATS_OK)
		return s;
	P.sent++;
	if (!P.js)
		s = natsConnection_PublishMsg(evt_nats_conn(P.n), *msg);
	else
		s = js_PublishMsgAsync(evt_nats_js(P.n), msg, NULL);
	if (s != NATS_OK)
		P.sent--;
	return s;
}

/*
 * Publishes a STATES or other JSON frame over max_payload max as parts
 * (formats/nats.md, "Parts"), as evrec does; h its headers.  Returns
 * NATS_OK, NATS_MAX_PAYLOAD when it cannot be split (an element alone too
 * large), or the status of a publish that did not go (the frame is sent
 * again from its first part: the parts' ids are the same).
 */
static natsStatus
pub_parts(const struct timeline *t, const struct evt_nats_hdrs *h,
    const char *text, size_t len, int64_t max)
{
	struct evt_nats_split sp;
	natsStatus s = NATS_OK;
	int rc = evt_nats_split(&sp, text, len, (size_t)(max - 1024));
	oom_check(rc == EVT_ERR_NOMEM ? rc : 0);
	if (rc != 0)
		return NATS_MAX_PAYLOAD;
	for (size_t i = 0; s == NATS_OK && i < sp.n; i++) {
		size_t off, slen;
		natsMsg *msg = NULL;
		oom_check(evt_nats_part(&P.part, &sp, text, len, i, &off,
		    &slen));
		s = evt_nats_part_msg(&msg, (const char *)P.subj.p, P.part.p,
		    P.part.len, h, P.o.site, i, sp.n, off, slen);
		if (s == NATS_OK)
			s = pub_send(&msg, t);
		natsMsg_Destroy(msg); /* NULL once JetStream took it */
	}
	evt_nats_split_free(&sp);
	return s;
}

/*
 * Publishes one message: an event (e its fields, item its index in the
 * frame) or a frame of NATS kind k, payload text[0..len).  In pass N > 1
 * the Nats-Msg-Id gets ":pN", so that JetStream does not take a looped
 * pass for duplicates.  Returns NATS_OK or the status of a publish that
 * did not go (the caller retries it once the connection is back).
 */
static natsStatus
pub_one(const struct timeline *t, int k, const struct evt_nats_event *e,
    int64_t item, const char *text, size_t len)
{
	const struct evt_cur_msg *m = &t->m;
	struct evt_nats_ref ref = {.seg = m->seg, .ord = m->ord, .item = item,
	    .nitems = m->nitems > item ? m->nitems : (uint64_t)item + 1};
	struct evt_nats_hdrs h;
	natsMsg *msg = NULL;
	memcpy(ref.uuid, m->uuid, sizeof ref.uuid);
	oom_check(evt_nats_subject(&P.subj, P.o.prefix, k, e));
	evt_nats_headers(&h, k, m->rx_us, &ref, e);
	if (t->rw.pass > 0) {
		size_t l = strlen(h.msg_id);
		snprintf(h.msg_id + l, sizeof h.msg_id - l, ":p%" PRIu64,
		    t->rw.pass + 1);
	}
	/* Headers count against max_payload too: 1 KiB is kept for them,
	 * as evrec does. */
	int64_t max = natsConnection_GetMaxPayload(evt_nats_conn(P.n));
	int big = max > 0 && (int64_t)len + 1024 > max;
	natsStatus s = big && max > 1024 && (k == EVT_NATS_STATES ||
	    k == EVT_NATS_JSON) ? pub_parts(t, &h, text, len, max) :
	    big ? NATS_MAX_PAYLOAD : evt_nats_msg(&msg, (const char *)P.subj.p,
	    text, len, &h, P.o.site);
	if (s == NATS_OK && msg != NULL)
		s = pub_send(&msg, t);
	natsMsg_Destroy(msg); /* NULL once JetStream took it */
	if (s == NATS_OK)
		P.events += k == EVT_NATS_EVENT;
	else if (s == NATS_MAX_PAYLOAD) {
		/* The server's max_payload: this one cannot go; the replay
		 * goes on without it (counted; exit status 1). */
		if (P.too_big++ < 10)
			evt_cli_err("warning: NATS: %s (Nats-Msg-Id %s): %zu bytes, "
			    "more than the server takes (max_payload %" PRId64
			    "): not published", (const char *)P.subj.p,
			    h.msg_id, len, max);
		s = NATS_OK;
	}
	return s;
}

/* Whether a failed publish waits for the connection (else it is fatal). */
static int
pub_transient(natsStatus s)
{
	return s == NATS_CONNECTION_DISCONNECTED || s == NATS_NOT_YET_CONNECTED
	    || s == NATS_CONNECTION_CLOSED || s == NATS_TIMEOUT ||
	    s == NATS_IO_ERROR;
}

static void pub_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Ends the replay on a NATS failure (status 3), saying why. */
static void
pub_fail(const char *fmt, ...)
{
	va_list ap;
	char msg[800];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!P.failed_out)
		evt_cli_err("%s", msg);
	P.failed_out = 1;
	exit_code = EVT_EXIT_FAIL;
	if (P.t != NULL && P.t->ended == 0)
		P.t->ended = evt_mono_us();
	event_base_loopbreak(base);
}

/*
 * Publishes t's current frame from item P.item on.  Returns 0 once it is
 * all out, 1 when the connection went down (the frame stays current: the
 * timeline waits and goes on with the item that did not go), -1 after a
 * failure (reported; the replay ends).
 */
static int
pub_frame(struct timeline *t)
{
	const struct evt_cur_msg *m = &t->m;
	struct evt_nats_event e;
	natsStatus s = NATS_OK;
	char why[400];
	if (m->kind == EVT_K_CONFIG && W.nmaps > 0) {
		/* renamed sources under their new ids, as a server's
		 * Config REST answers them */
		W.buf.len = 0;
		oom_check(evt_rw_config(W.rw, m->text, m->len, &W.buf));
		s = pub_one(t, EVT_NATS_CONFIG, NULL, -1,
		    (const char *)W.buf.p, W.buf.len);
	} else if (m->kind != EVT_K_MSG) {
		const char *text;
		size_t len;
		frame_text(t, &text, &len);
		s = pub_one(t, evt_nats_kind_of(m->kind), NULL, -1, text, len);
	}
	for (; s == NATS_OK && m->kind == EVT_K_MSG && P.item < m->n;) {
		const char *text = m->ev[P.item];
		size_t len = m->evlen[P.item];
		if (W.rw != NULL) {
			W.buf.len = 0;
			oom_check(evt_rw_event(W.rw, &t->rw, text, len,
			    &W.buf));
			text = (const char *)W.buf.p;
			len = W.buf.len;
		}
		evt_nats_event_read(text, len, &e);
		s = pub_one(t, EVT_NATS_EVENT, &e, (int64_t)(m->first +
		    (t->filtered ? t->fidx[P.item] : P.item)), text, len);
		if (s == NATS_OK)
			P.item++;
	}
	if (s == NATS_OK) {
		P.item = 0;
		P.frames++;
		return 0;
	}
	if (pub_transient(s) || natsConnection_Status(evt_nats_conn(P.n)) !=
	    NATS_CONN_STATUS_CONNECTED)
		return 1; /* (a publish as the connection drops may fail
			     with any status) */
	evt_nats_errtext(s, why, sizeof why);
	pub_fail("NATS %s: publish: %s", P.o.servers, why);
	return -1;
}

/* NATS was down, or acknowledged nothing, for --nats-timeout: the
 * replay ends. */
static void
pub_give_up(void)
{
	char url[256];
	int down = natsConnection_Status(evt_nats_conn(P.n)) !=
	    NATS_CONN_STATUS_CONNECTED;
	pub_fail("NATS %s: %s for %g s: giving up (%" PRIu64 " messages "
	    "published, %" PRIu64 " acknowledged)", evt_nats_url(P.n, url,
	    sizeof url), down ? "unreachable" : "no acknowledgement",
	    (double)P.timeout_us / 1e6, P.sent, (uint64_t)P.acked);
}

/* Looks at what libnats' threads reported: a rejection ends the replay;
 * room in the window or a reconnect wakes a waiting timeline. */
static void
pub_check(void)
{
	if (P.failed > 0) {
		char why[sizeof P.why];
		pthread_mutex_lock(&P.mu);
		memcpy(why, P.why, sizeof why);
		pthread_mutex_unlock(&P.mu);
		pub_fail("NATS %s: stream %s rejected a message: %s",
		    P.o.servers, P.o.stream, why);
		return;
	}
	if (P.t != NULL && P.t->waiting && !pub_blocked()) {
		P.t->waiting = 0;
		P.stuck_since = 0;
		tl_kick(P.t);
	}
}

/* The wake-up pipe's reader. */
static void
pub_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];
	while (read(fd, buf, sizeof buf) > 0)
		;
	pub_check();
}

/* Once a second: when the timeline has waited for NATS (down, or a full
 * window), or acknowledgements were due, and none came for
 * --nats-timeout, the replay ends. */
static void
pub_watch(void)
{
	int64_t now = evt_mono_us();
	uint64_t done = P.acked + P.failed;
	pub_check();
	int stuck = (P.t != NULL && P.t->waiting) || pub_inflight() > 0;
	if (!stuck || done != P.stuck_done) {
		P.stuck_since = 0;
		P.stuck_done = done;
		return;
	}
	if (P.stuck_since == 0)
		P.stuck_since = now;
	if (now - P.stuck_since >= P.timeout_us)
		pub_give_up();
}

/* Connects, makes sure of the stream (--stream) and sets up the wake-up
 * pipe.  Returns 0 or -1 (reported). */
static int
pub_start(void)
{
	char err[600];
	jsOptions jo;
	struct evt_nats_cbs cbs = {.note = pub_note};
	int created;
	if (pipe2(P.wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		evt_cli_err("pipe: %s", strerror(errno));
		return -1;
	}
	jsOptions_Init(&jo);
	jo.PublishAsync.AckHandler = pub_ack_cb;
	jo.PublishAsync.MaxPending = 0; /* the window is ours */
	if (evt_nats_connect(&P.o, "evplay", &jo, &cbs, &P.n, err,
	    sizeof err) != 0 || (P.js && evt_nats_ensure_stream(P.n, &P.o,
	    &created, err, sizeof err) != 0)) {
		evt_cli_err("%s", err);
		return -1;
	}
	if ((P.wake_ev = event_new(base, P.wake[0], EV_READ | EV_PERSIST,
	    pub_wake_cb, NULL)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	event_add(P.wake_ev, NULL);
	if (!quiet)
		evt_cli_err("publishing to %s%s%s%s, subjects %s.>%s",
		    evt_nats_url(P.n, err, sizeof err), P.js ? ", stream " :
		    " (core NATS)", P.js ? P.o.stream : "", P.js && created ?
		    " (created)" : "", P.o.prefix, "");
	return 0;
}

/* The end: flushes (core) or waits for the acknowledgements (JetStream)
 * up to --nats-timeout, and says the counts. */
static void
pub_end(void)
{
	char why[400];
	natsStatus s = NATS_OK;
	if (P.n == NULL)
		return;
	if (!P.js && natsConnection_Status(evt_nats_conn(P.n)) ==
	    NATS_CONN_STATUS_CONNECTED)
		s = natsConnection_FlushTimeout(evt_nats_conn(P.n),
		    P.timeout_us / 1000);
	else if (P.js && pub_inflight() > 0) {
		jsPubOptions po;
		jsPubOptions_Init(&po);
		po.MaxWait = P.timeout_us / 1000;
		s = js_PublishAsyncComplete(evt_nats_js(P.n), &po);
	}
	if (s != NATS_OK && !P.failed_out) {
		evt_nats_errtext(s, why, sizeof why);
		evt_cli_err("NATS %s: at the end: %s", P.o.servers, why);
		exit_code = EVT_EXIT_FAIL;
	}
	if (P.failed > 0)
		pub_check(); /* says the first rejection */
	if (P.too_big > 0) {
		evt_cli_err("warning: %" PRIu64 " messages over the server's "
		    "max_payload were not published", P.too_big);
		if (exit_code == 0)
			exit_code = EVT_EXIT_PARTIAL;
	}
	if (P.js) {
		uint64_t un = pub_inflight();
		evt_cli_err("published %" PRIu64 " messages (%" PRIu64 " events)"
		    " to stream %s: %" PRIu64 " acknowledged (%" PRIu64
		    " duplicates not stored again), %" PRIu64 " rejected, %"
		    PRIu64 " unacknowledged", P.sent, P.events, P.o.stream,
		    (uint64_t)P.acked, (uint64_t)P.dups, (uint64_t)P.failed,
		    un);
		if (un > 0 || P.failed > 0)
			exit_code = EVT_EXIT_FAIL;
		if (P.dups > 0 && !quiet)
			evt_cli_err("warning: the stream held %" PRIu64 " of the "
			    "Nats-Msg-Ids already (within its duplicate "
			    "window): --fresh-ids gives new ids", (uint64_t)P.dups);
	} else
		evt_cli_err("published %" PRIu64 " messages (%" PRIu64 " events)"
		    " to core NATS%s", P.sent, P.events, s == NATS_OK ?
		    ", flushed to the server" : "");
}

/* Closes the connection and libnats. */
static void
pub_free(void)
{
	if (P.wake_ev != NULL)
		event_free(P.wake_ev);
	P.closing = 1;
	evt_nats_close(P.n);
	if (P.on)
		evt_nats_shutdown();
	for (int i = 0; i < 2; i++)
		if (P.wake[i] >= 0)
			close(P.wake[i]);
	evt_nats_opts_free(&P.o);
	evt_buf_free(&P.subj);
	evt_buf_free(&P.part);
}

/* ------------------------------------------------------------ replay */

static void fan_leave_congested(const struct timeline *l);
static const struct timeline *fan_view(const struct timeline *t);
static void fan_done(const struct timeline *t);

/* Hands the current frame over: stdout lines, gateway messages or NATS
 * messages; then its stateful events update the timeline's state table.
 * Returns 0, or (--publish) 1 while NATS cannot take it yet (the frame
 * stays current; what of it went out stays out) or -1 after a failure. */
static int
tl_output(struct timeline *t)
{
	const struct evt_cur_msg *m = &t->m;
	struct evt_buf *out = evt_cli_out_buf(); /* stdout mode */
	int pr;
	if (t == S.tl && S.fan)
		fan_leave_congested(t);
	if (P.on) {
		if ((pr = pub_frame(t)) != 0)
			return pr;
	} else if (m->kind == EVT_K_RAW && t->out != OUT_STDOUT) {
		/* A frame that was not JSON goes out as it came, if a text
		 * frame can carry it (valid UTF-8). */
		int rc = evt_gw_publish_raw(S.gwo.gw, t->out == OUT_SESSION ?
		    t->s : NULL, m->text, m->len);
		oom_check(rc);
		if (rc == EVT_ERR_UTF8) {
			char who[80];
			evt_cli_err("%sa raw frame received at %" PRId64 " us is not "
			    "valid UTF-8: not sent", tl_who(t, who,
			    sizeof who), m->rx_us);
		}
	} else if (t->out != OUT_STDOUT) {
		const char *const *ev = m->ev;
		const size_t *len = m->evlen;
		if (W.rw != NULL) {
			rw_list(&t->rw, m->ev, m->evlen, m->n);
			ev = W.ev;
			len = W.evlen;
		}
		oom_check(t->out == OUT_SESSION ? evt_gw_publish_session(
		    S.gwo.gw, t->s, ev, len, m->n) : evt_gw_publish(S.gwo.gw,
		    ev, len, m->n));
	} else if (mode == M_EVENTS) {
		for (size_t i = 0; i < m->n; i++) {
			size_t mark = out->len;
			oom_check(W.rw != NULL ? evt_rw_event(W.rw, &t->rw,
			    m->ev[i], m->evlen[i], out) : evt_buf_put(out,
			    m->ev[i], m->evlen[i]));
			out_event(out, mark, m->rx_us);
		}
	} else {
		const char *text;
		size_t len;
		frame_text(t, &text, &len);
		if (mode == M_TSV)
			oom_check(evt_tsv_put(out, m->rx_us, text, len,
			    m->incomplete));
		else {
			oom_check(evt_buf_put(out, text, len));
			oom_check(evt_buf_putc(out, '\n'));
		}
	}
	if (t->state != NULL)
		oom_check(evt_state_apply_frame(t->state, m->kind, m->ev,
		    m->evlen, m->n));
	t->frames++;
	if (m->kind == EVT_K_MSG)
		t->events += m->n;
	fan_done(t);
	return 0;
}

/*
 * The state table as of a start point (frames received before at): the
 * last getState answer before it and the stateful events since
 * (evt_cur_state_at).  Returns the table (owned by the caller) or NULL.
 */
static struct evt_state *
state_at(int64_t at)
{
	if (at == R.start_rx && R.state0 != NULL) {
		struct evt_state *c = evt_state_copy(R.state0);
		if (c == NULL)
			oom_check(EVT_ERR_NOMEM);
		return c;
	}
	struct evt_cur *c;
	if (evt_cur_open(R.dir, evt_cli_damage_cb, evt_cli_warn_cb, NULL, &c) != 0)
		return NULL;
	struct evt_state *s = evt_state_new();
	if (s == NULL)
		oom_check(EVT_ERR_NOMEM);
	int rc = evt_cur_state_at(c, at, s);
	evt_cur_close(c);
	oom_check(rc);
	if (rc < 0) {
		evt_cli_err("reading the archive: %s", evt_strerror(rc));
		evt_state_free(s);
		return NULL;
	}
	return s;
}

/* Re-seeds a kept state table at a new position. */
static void
tl_reseed(struct timeline *t, int64_t at)
{
	if (t->state == NULL)
		return;
	struct evt_state *s = state_at(at);
	if (s == NULL)
		return; /* reported; the old table stays */
	evt_state_free(t->state);
	t->state = s;
}

/* Positions a cursor at the start of a pass and sets *rx (if not NULL)
 * to its receive time.  Returns 0 or -1 (reported). */
static int
cur_rewind(struct evt_cur *c, int64_t *rx)
{
	int64_t at = R.from;
	if (R.from_id != NULL) {
		int rc = evt_cur_seek_id(c, R.from_id, strlen(R.from_id), &at);
		oom_check(rc);
		if (rc <= 0) {
			evt_cli_err("no event with id %s", R.from_id);
			/* not found: status 1, as evtool get says it */
			exit_code = rc == 0 ? EVT_EXIT_PARTIAL : EVT_EXIT_FAIL;
			return -1;
		}
	} else
		evt_cur_seek(c, R.from);
	if (rx != NULL)
		*rx = at;
	return 0;
}

/* Opens a cursor on the archive.  Returns it or NULL (reported). */
static struct evt_cur *
cur_open(void)
{
	struct evt_cur *c;
	int rc = evt_cur_open(R.dir, evt_cli_damage_cb, evt_cli_warn_cb, NULL, &c);
	if (rc != 0) {
		evt_cli_err("%s: cannot open the archive: %s", R.dir, evt_strerror(rc));
		return NULL;
	}
	if (P.on) {
		evt_cur_ordinals(c); /* the frame references */
		evt_cur_markers(c); /* to the mk subjects */
	}
	return c;
}

/* Opens a cursor at the start of a pass, ending at --to; sets *rx as
 * cur_rewind.  Returns it or NULL (reported). */
static struct evt_cur *
cur_at_start(int64_t *rx)
{
	struct evt_cur *c = cur_open();
	if (c == NULL)
		return NULL;
	evt_cur_set_end(c, R.to);
	if (cur_rewind(c, rx) != 0) {
		evt_cur_close(c);
		return NULL;
	}
	return c;
}

/*
 * Applies the frames at the start point that come before the first one
 * sent (a getState answer recorded just before the first event): the
 * replay starts at that event, so they belong to its start state.
 * Returns 0 or -1 (reported).
 */
static int
state_lead(struct evt_state *s)
{
	struct evt_cur *c = cur_at_start(NULL);
	if (c == NULL)
		return -1;
	struct evt_cur_msg m;
	int rc;
	while ((rc = evt_cur_next(c, &m)) == 1 && !frame_out(&m))
		oom_check(evt_state_apply_frame(s, m.kind, m.ev, m.evlen, m.n));
	evt_cur_close(c);
	if (rc < 0) {
		evt_cli_err("reading the archive: %s", evt_strerror(rc));
		return -1;
	}
	return 0;
}

static void tl_kick(struct timeline *t);
static void tl_finish(struct timeline *t);

/* --follow: the archive changed, or the quiet wait passed: reads on. */
static void
tl_follow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *t = arg;
	int rc = evt_follow_wait(evt_cur_follower(t->cur), 0, NULL);
	if (rc == EVT_ERR_NOTFOUND || rc == EVT_ERR_IO) {
		if (rc == EVT_ERR_NOTFOUND)
			evt_cli_err("%s: the archive directory was deleted or "
			    "moved", R.dir);
		else
			evt_cli_err("%s: waiting for changes: %s", R.dir,
			    strerror(errno));
		exit_code = EVT_EXIT_FAIL;
		tl_finish(t);
		return;
	}
	tl_kick(t);
}

/* --follow: all there is has been read; waits for the follower's change
 * (its descriptor is the follower's of the moment: a seek reopens it). */
static void
tl_follow_wait(struct timeline *t)
{
	int fd = evt_follow_fd(evt_cur_follower(t->cur));
	struct timeval tv = {FOLLOW_QUIET_S, 0};
	if (t->out == OUT_STDOUT)
		oflush(); /* out before waiting */
	t->live = 1;
	if (t->fwait != NULL && event_get_fd(t->fwait) != fd) {
		event_free(t->fwait);
		t->fwait = NULL;
	}
	if (t->fwait == NULL && (t->fwait = event_new(base, fd, EV_READ,
	    tl_follow_cb, t)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	event_add(t->fwait, &tv);
}

/* Stops waiting for the follower (before a seek closes it). */
static void
tl_follow_stop(struct timeline *t)
{
	if (t->fwait != NULL)
		event_del(t->fwait);
	t->live = 0;
}

/* Moves p to the frame m read after it. */
static void
fpos_next(struct fpos *p, const struct evt_cur_msg *m)
{
	if (m->seg == p->seg && m->rx_us == p->rx) {
		p->k++;
		return;
	}
	p->seg = m->seg;
	p->rx = m->rx_us;
	p->k = 0;
}

/* Compares two places: < 0, 0, > 0. */
static int
fpos_cmp(const struct fpos *a, const struct fpos *b)
{
	if (a->seg != b->seg)
		return a->seg < b->seg ? -1 : 1;
	if (a->rx != b->rx)
		return a->rx < b->rx ? -1 : 1;
	return a->k < b->k ? -1 : a->k > b->k;
}

/* Whether the live timeline has yet to hand out the frame at p (then a
 * client catching up there joins it).  Before it handed out one, those
 * received from its start on: a frame received before it but written
 * later is the catching-up client's, which therefore joins only at such
 * a frame or, at the archive's end, once the live timeline is past it
 * (tl_load). */
static int
fan_ahead(const struct fpos *p)
{
	if (!S.have_done)
		return p->rx >= S.live_from;
	return fpos_cmp(p, &S.done) > 0;
}

/* The live timeline has handed out its current frame. */
static void
fan_done(const struct timeline *t)
{
	if (t == S.tl && S.fan) {
		S.done = t->pos;
		S.have_done = 1;
	}
}

static void tl_join(struct timeline *t);

/* Loads the next frame that produces output and pushes it to the
 * scheduler; loops.  Frames passed over still update the state table.
 * Returns 1, 0 at the end, 2 when --follow waits for more, -1 on
 * failure. */
static int
tl_load(struct timeline *t)
{
	for (;;) {
		int rc = evt_cur_next(t->cur, &t->m);
		if (rc < 0) {
			evt_cli_err("reading the archive: %s", evt_strerror(rc));
			return -1;
		}
		if (rc == 0 && t->fan && S.have_done &&
		    fpos_cmp(&t->pos, &S.done) >= 0) {
			tl_join(t); /* all there is: the live timeline's next */
			return 2;
		}
		if (rc == 0 && R.follow) {
			tl_follow_wait(t);
			return 2;
		}
		if (rc == 0) {
			if (t->loops_left == 0)
				return 0;
			if (t->loops_left > 0)
				t->loops_left--;
			if (t->frames == 0 && t->have == 0 &&
			    evt_replay_position(&t->sch) == 0)
				return 0; /* nothing to play: no endless loop */
			if (cur_rewind(t->cur, NULL) != 0)
				return -1;
			tl_reseed(t, R.start_rx);
			evt_replay_loop(&t->sch);
			t->rw.pass++;
			tl_pass_begin(t, 1);
			continue;
		}
		if (t->skip_first && t->m.kind == EVT_K_MSG && t->m.n > 0) {
			t->skip_first = 0; /* its client has it */
			t->m.ev++;
			t->m.evlen++;
			t->m.n--;
		}
		if (t->fan || (t == S.tl && S.fan))
			fpos_next(&t->pos, &t->m);
		if (t->fan && fpos_cmp(&t->pos, &t->target) < 0)
			continue; /* handed out live before it left */
		if (t->fan && fan_ahead(&t->pos)) {
			tl_join(t);
			return 2;
		}
		tl_select(t);
		if (!frame_out(&t->m)) {
			if (t->state != NULL)
				oom_check(evt_state_apply_frame(t->state,
				    t->m.kind, t->m.ev, t->m.evlen, t->m.n));
			fan_done(t);
			continue;
		}
		if (t->live) /* due now: at 1x as it arrives */
			evt_replay_seek(&t->sch, evt_mono_us(), t->m.rx_us);
		evt_replay_push(&t->sch, t->m.rx_us);
		t->have = 1;
		P.item = 0;
		return 1;
	}
}

/* Whether the timeline must wait for its client(s) to take what they
 * have: drain_cb or session_cb DRAINED wakes it. */
static int
tl_congested(struct timeline *t)
{
	if (t->out == OUT_SESSION)
		return evt_gw_session_congested(t->s);
	if (t->out == OUT_ALL && t->sch.o.top_speed && !S.fan)
		return evt_gw_congested(S.gwo.gw);
	if (P.on)
		return pub_blocked(); /* pub_check wakes it */
	return 0; /* stdout blocks; a shared fixed-speed timeline goes on */
}

/* Whether a connected session with a subscription takes what is
 * published. */
static int
tl_readers(void)
{
	struct evt_gw_stats gs;
	evt_gw_stats(S.gwo.gw, &gs);
	return gs.readers_now > 0;
}

/* Runs the timeline soon. */
static void
tl_kick(struct timeline *t)
{
	struct timeval zero = {0, 0};
	if (!t->finished && !evt_gwo_stopping(&S.gwo))
		evtimer_add(t->timer, &zero);
}

/*
 * Waits for the loaded frame's due time: arms the timer and returns 0
 * when it is far (or the timeline is paused: a control resumes it), or
 * sleeps the last stretch and returns 1 with *now updated once it is due.
 * handed: frames were handed to the gateway in this turn.
 */
static int
tl_await(struct timeline *t, int64_t *now, int handed)
{
	int64_t w = evt_replay_wait(&t->sch, *now);
	if (w == INT64_MAX) {
		oflush();
		return 0; /* paused */
	}
	if (w > 0) {
		oflush();
		*now = evt_mono_us();
		w = evt_replay_wait(&t->sch, *now);
	}
	if (w > NAP_US || (w > 0 && (nplaying > 1 || handed))) {
		/* The loop's timer wakes us NAP_US early (where other
		 * timelines play, it wakes us on time: a nap would make them
		 * late; after frames were handed to the gateway, the loop
		 * must run to send them before we nap) ... */
		if (nplaying <= 1)
			w = w > NAP_US ? w - NAP_US : 0;
		struct timeval tv = {(time_t)(w / 1000000),
		    (suseconds_t)(w % 1000000)};
		evtimer_add(t->timer, &tv);
		return 0;
	}
	if (w > 0) {
		/* ... and an absolute sleep lands on the due time (epoll's
		 * wake-up alone is some 100 us late). */
		int64_t due = *now + w;
		struct timespec ts = {(time_t)(due / 1000000),
		    (long)(due % 1000000) * 1000};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
		*now = evt_mono_us();
	}
	return 1;
}

/* Runs the timeline: hands over every frame that is due, then arms the
 * timer for the next one (or yields a loop turn at top speed). */
static void
tl_run(struct timeline *t)
{
	int64_t now = evt_mono_us();
	int top = t->sch.o.top_speed, handed = 0;
	if (top && t->out == OUT_ALL && !S.fan && !tl_readers()) {
		/* Nobody takes a shared top-speed replay: it would race
		 * into histories; look again in 10 ms. */
		struct timeval tv = {0, 10000};
		evtimer_add(t->timer, &tv);
		return;
	}
	/* A bounded turn, so keys, signals and clients are seen within a
	 * few ms even where frames come closer than NAP_US apart. */
	for (int budget = top ? BATCH : 64; budget > 0; budget--) {
		if (t->gone)
			return; /* its timer frees it */
		if (!t->have) {
			int rc = tl_load(t);
			if (rc == 2)
				return; /* tl_follow_cb kicks it */
			if (rc <= 0) {
				if (rc < 0)
					exit_code = EVT_EXIT_FAIL;
				tl_finish(t);
				return;
			}
		}
		if (!tl_await(t, &now, handed))
			return;
		if (tl_congested(t)) {
			t->waiting = 1;
			return;
		}

		int rc = tl_output(t);
		if (rc != 0) {
			t->waiting = rc > 0; /* (< 0: the loop ends) */
			return;
		}
		if (!top) {
			/* On schedule: hand it over now, then stamp it. */
			oflush();
			now = evt_mono_us();
		} else if (evt_cli_out_buf()->len >= OBUF_FLUSH) {
			oflush();
			now = evt_mono_us();
		} else if (t->out != OUT_STDOUT)
			now = evt_mono_us(); /* queued: its rate counts */
		evt_replay_done(&t->sch, now);
		t->have = 0;
		handed = !top && t->out != OUT_STDOUT;
	}
	/* Let the loop see keys, signals and clients, then go on. */
	tl_kick(t);
}

static void tl_free(struct timeline *t);
static void server_check_done(void);
static void tl_start(struct timeline *t);

/* Starts a timeline no longer held: a fan-out session without a cursor
 * joins the live stream (as of the state its getState answered). */
static void
tl_go(struct timeline *t)
{
	if (t->fan && t->cur == NULL)
		tl_join(t);
	else
		tl_start(t);
}

/* Timer callback of a timeline (frees it once its session is gone). */
static void
tl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *t = arg;
	if (t->gone) {
		tl_free(t);
		server_check_done(); /* it may have been the last unfinished */
		return;
	}
	if (t->held) {		/* no getState came: play anyway */
		t->held = 0;
		tl_go(t);
		return;
	}
	tl_run(t);
}

/* Holds a new timeline until its client's getState is answered (states_cb
 * calls tl_release) or STATE_WAIT_US pass: the official clients ask for
 * the state right after subscribing and expect it before the events that
 * follow it; events due at once would otherwise race the answer. */
static void
tl_hold(struct timeline *t)
{
	struct timeval tv = {0, STATE_WAIT_US};
	t->held = 1;
	evtimer_add(t->timer, &tv);
}

/* Starts a held timeline now (its getState answer is on its way: the
 * first frames go out on a later loop turn, after it). */
static void
tl_release(struct timeline *t)
{
	if (t != NULL && t->held) {
		t->held = 0;
		evtimer_del(t->timer);
		tl_go(t);
	}
}

/* Wakes a timeline that waited for its client(s). */
static void
tl_wake(struct timeline *t)
{
	if (t != NULL && t->waiting) {
		t->waiting = 0;
		tl_kick(t);
	}
}

/* Creates a timeline positioned at the start point, not started.
 * Returns NULL (reported) on failure. */
static struct timeline *
tl_new(enum out out, struct evt_gw_session *s)
{
	struct timeline *t = calloc(1, sizeof *t);
	if (t == NULL)
		oom_check(EVT_ERR_NOMEM);
	t->out = out;
	t->s = s;
	t->loops_left = R.loops;
	if (out == OUT_STDOUT)
		t->rw = pass0; /* as --state printed it */
	else {
		t->rw.pass = W.first_pass;
		tl_pass_begin(t, 1);
	}
	if ((t->cur = cur_at_start(NULL)) == NULL) {
		free(t);
		return NULL;
	}
	if (R.follow)
		oom_check(evt_cur_follow(t->cur, R.dir));
	if (out == OUT_ALL && S.fan) {
		/* The live timeline starts shortly before now, with the state
		 * as of then. */
		S.live_from = evt_wall_us() - LIVE_LEAD_US;
		evt_cur_seek(t->cur, S.live_from);
		t->state = state_at(S.live_from);
	} else if (R.state0 != NULL &&
	    (t->state = evt_state_copy(R.state0)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	evt_replay_init(&t->sch, &R.ro);
	if (out == OUT_ALL && S.fan)
		t->sch.o.top_speed = 1; /* to the end, then as it comes */
	if ((t->timer = evtimer_new(base, tl_timer_cb, t)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	LIST_INSERT_HEAD(&timelines, t, link);
	return t;
}

/* Starts a timeline's clock now: its first frame is due at once.  The
 * frame is loaded first, so that decoding the first block does not make
 * it late. */
static void
tl_start(struct timeline *t)
{
	if (!t->have)
		(void)tl_load(t); /* at the end or failed: tl_run finishes */
	t->started = evt_mono_us();
	nplaying++;
	evt_replay_start(&t->sch, t->started);
	if (S.speed > 0)
		evt_replay_set_speed(&t->sch, t->started, S.speed);
	if (S.paused)
		evt_replay_pause(&t->sch, t->started);
	tl_kick(t);
}

/* Closes a timeline's cursor (and its wait), noting what it could not
 * read. */
static void
tl_close_cur(struct timeline *t)
{
	if (t->fwait != NULL)
		event_free(t->fwait); /* before its follower's descriptor */
	t->fwait = NULL;
	if (t->cur != NULL) {
		uint64_t ev, unk;
		evt_cur_lost(t->cur, &ev, &unk);
		if (ev + unk > lost_events + lost_unknown) {
			lost_events = ev;
			lost_unknown = unk;
		}
	}
	evt_cur_close(t->cur);
	t->cur = NULL;
}

/* A fan-out session's timeline joins the live stream: its client gets
 * what the live timeline publishes from its next frame on. */
static void
tl_join(struct timeline *t)
{
	char who[EVT_ESS_ID_MAX + 16];
	tl_close_cur(t);
	evt_state_free(t->state);
	t->state = NULL;
	t->have = 0;
	t->live = 0;
	if (t->started && !t->finished)
		nplaying--;
	t->started = 0;
	t->joined = 1;
	evt_gw_session_mute(t->s, 0);
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO)
		evt_cli_err("%son the live stream", tl_who(t, who, sizeof who));
}

/*
 * Makes a fan-out session's timeline catch up from the archive: cursor c
 * (following) with state st as of its start (both taken; st may be
 * NULL), frames before target passed over, as fast as its client takes
 * them; it joins the live stream where it meets it (tl_load).
 */
static void
tl_catch_up(struct timeline *t, struct evt_cur *c, struct evt_state *st,
    const struct fpos *target)
{
	struct evt_replay_opts o = R.ro;
	t->rw = fan_view(t)->rw;
	evt_gw_session_mute(t->s, 1);
	tl_close_cur(t);
	evt_state_free(t->state);
	t->joined = 0;
	t->have = 0;
	t->live = 0;
	t->cur = c;
	t->state = st;
	t->target = *target;
	t->pos = (struct fpos){0};
	o.top_speed = 1;
	evt_replay_init(&t->sch, &o);
	if (!t->started)
		nplaying++;
	t->started = evt_mono_us();
	evt_replay_start(&t->sch, t->started);
}

/*
 * A session on the live stream whose client does not take it (slow, or
 * away until it resumes) leaves it before the live timeline l's current
 * frame: it catches up from the archive from that frame on, with the
 * live state as of it.  So its history holds a few MiB at most, and a
 * resume misses nothing.
 */
static void
tl_leave(struct timeline *t, const struct timeline *l)
{
	char who[EVT_ESS_ID_MAX + 16];
	struct evt_state *st = NULL;
	struct evt_cur *c = cur_open();
	if (c == NULL) {
		evt_gw_session_mute(t->s, 1); /* reported: no more events */
		t->joined = 0;
		return;
	}
	evt_cur_seek(c, l->m.rx_us);
	oom_check(evt_cur_follow(c, R.dir));
	if (l->state != NULL && (st = evt_state_copy(l->state)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	tl_catch_up(t, c, st, &l->pos);
	t->waiting = 1; /* until its client drains (DRAINED) */
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO)
		evt_cli_err("%sbehind: catching up from the archive",
		    tl_who(t, who, sizeof who));
}

/* Before the live timeline l hands out its frame: the sessions on the
 * live stream that do not take it leave it. */
static void
fan_leave_congested(const struct timeline *l)
{
	struct timeline *t;
	LIST_FOREACH(t, &timelines, link)
		if (t->joined && evt_gw_session_congested(t->s))
			tl_leave(t, l);
}

/* Frees a timeline (listed in timelines or zombies). */
static void
tl_free(struct timeline *t)
{
	if (t == NULL)
		return;
	LIST_REMOVE(t, link);
	if (t->started && !t->finished)
		nplaying--;
	if (t->timer != NULL)
		event_free(t->timer);
	tl_close_cur(t);
	evt_state_free(t->state);
	free(t->fev);
	free(t->flen);
	free(t->fidx);
	if (S.tl == t)
		S.tl = NULL;
	free(t);
}

/* Prints a timeline's --stats summary. */
static void
print_stats(struct timeline *t)
{
	struct evt_replay_stats st;
	evt_replay_stats(&t->sch, &st);
	int64_t end = t->ended ? t->ended : evt_mono_us();
	double el = t->started ? (double)(end - t->started) / 1e6 : 0.0;
	char who[EVT_ESS_ID_MAX + 16];
	evt_cli_err("%sstats: %" PRIu64 " events in %" PRIu64 " frames, %.3f s, "
	    "%.0f events/s, %.0f frames/s; lateness p50 %" PRId64
	    " us, p99 %" PRId64 " us, max %" PRId64 " us; lag %" PRId64
	    " us (%" PRIu64 " slips); end drift %" PRId64 " us",
	    tl_who(t, who, sizeof who),
	    t->events, t->frames, el, el > 0 ? (double)t->events / el : 0.0,
	    st.rate, st.p50_us, st.p99_us, st.max_us, st.lag_us, st.slips,
	    st.drift_us);
}

/* The replay ended: stdout mode leaves the loop; a server keeps serving
 * (getState still answers the end state). */
static void
tl_finish(struct timeline *t)
{
	oflush();
	t->finished = 1;
	nplaying--;
	t->ended = evt_mono_us();
	if (!server) {
		event_base_loopbreak(base);
		return;
	}
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO) {
		char who[EVT_ESS_ID_MAX + 16];
		evt_cli_err("%sreplay finished, %" PRIu64 " events in %" PRIu64
		    " messages", tl_who(t, who, sizeof who), t->events,
		    t->frames);
	}
	if (want_stats)
		print_stats(t);
	server_check_done();
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

/* Prints one status line of a timeline to stderr. */
static void
status_line(struct timeline *t, int progress)
{
	struct evt_replay_stats st;
	evt_replay_stats(&t->sch, &st);
	char pos[28];
	fmt_pos(evt_replay_position(&t->sch), pos);
	double el = t->started ? (double)(evt_mono_us() - t->started) / 1e6 :
	    0.0;
	char who[EVT_ESS_ID_MAX + 16];
	char line[EVT_ESS_ID_MAX + 256];
	snprintf(line, sizeof line,
	    "%s%s %s x%g, %" PRIu64 " events (%.0f/s), lag %.3f s%s",
	    tl_who(t, who, sizeof who), pos,
	    t->finished ? "finished" : evt_replay_paused(&t->sch) ? "paused" :
	    "playing", evt_replay_speed(&t->sch), t->events,
	    el > 0 ? (double)t->events / el : 0.0, (double)st.lag_us / 1e6,
	    t->sch.o.top_speed ? " (top speed)" : "");
	if (progress)
		fprintf(stderr, "\r\033[K%s", line);
	else
		evt_cli_err("%s", line);
}

/* Status lines of every timeline (or "no replay" in a server). */
static void
status_all(void)
{
	struct timeline *t;
	if (LIST_EMPTY(&timelines))
		evt_cli_err("no replay running: waiting for a subscription");
	LIST_FOREACH(t, &timelines, link)
		status_line(t, 0);
}

/* Restores the terminal. */
static void
tty_restore(void)
{
	if (tio_saved)
		tcsetattr(0, TCSANOW, &saved_tio);
	tio_saved = 0;
}

/* Re-positions a timeline at receive time target (not before --from). */
static void
tl_seek_to(struct timeline *t, int64_t target)
{
	if (t->cur == NULL || (t == S.tl && S.fan))
		return; /* the live stream, and a client on it */
	if (R.from != INT64_MIN && target < R.from)
		target = R.from;
	tl_follow_stop(t);
	evt_cur_seek(t->cur, target);
	evt_replay_seek(&t->sch, evt_mono_us(), target);
	t->have = 0;
	tl_reseed(t, target);
	if (t->finished) {
		t->finished = 0; /* a server's finished replay plays again */
		nplaying++;
		t->ended = 0;
	}
	if (t->started)
		tl_kick(t);
}

/* Re-positions a timeline by delta microseconds from its position.
 * Returns 0, or -1 if it has no position yet. */
static int
tl_seek(struct timeline *t, int64_t delta)
{
	int64_t pos = evt_replay_position(&t->sch);
	if (pos == 0)
		return -1;
	tl_seek_to(t, pos + delta);
	return 0;
}

/* Pauses (pause 1) or resumes (0) a timeline. */
static void
tl_pause(struct timeline *t, int pause)
{
	int64_t now = evt_mono_us();
	if (!t->started || pause == evt_replay_paused(&t->sch))
		return;
	if (pause) {
		evt_replay_pause(&t->sch, now);
		evtimer_del(t->timer);
	} else {
		evt_replay_resume(&t->sch, now);
		tl_kick(t);
	}
}

/* Sets a timeline's speed. */
static void
tl_set_speed(struct timeline *t, double s)
{
	if (!t->started)
		return;
	evt_replay_set_speed(&t->sch, evt_mono_us(), s);
	if (!evt_replay_paused(&t->sch))
		tl_kick(t);
}

/* Every timeline: pause/resume toggle (on the first one's state). */
static void
all_toggle(void)
{
	struct timeline *t = LIST_FIRST(&timelines);
	int pause = t != NULL ? !evt_replay_paused(&t->sch) : !S.paused;
	S.paused = pause;
	LIST_FOREACH(t, &timelines, link)
		tl_pause(t, pause);
	if (verbose || tty_progress || server)
		evt_cli_err("%s", pause ? "paused" : "playing");
}

/* Every timeline: speed times f (within 1/1024 .. 1024). */
static void
all_speed(double f)
{
	struct timeline *t = LIST_FIRST(&timelines);
	double s = (t != NULL ? evt_replay_speed(&t->sch) :
	    S.speed > 0 ? S.speed : R.ro.speed) * f;
	if (s < 1.0 / 1024 || s > 1024)
		return;
	S.speed = s;
	LIST_FOREACH(t, &timelines, link)
		tl_set_speed(t, s);
	if (verbose || tty_progress || server)
		evt_cli_err("speed x%g", s);
}

/* Every timeline: seek by delta. */
static void
all_seek(int64_t delta)
{
	struct timeline *t;
	LIST_FOREACH(t, &timelines, link)
		(void)tl_seek(t, delta);
	if (verbose || tty_progress || server)
		evt_cli_err("seek %+.0f s", (double)delta / 1e6);
}

static void server_stop(const char *why);

/* Quits: stdout mode at once, a server after closing its clients. */
static void
quit(const char *why)
{
	if (server) {
		server_stop(why);
		return;
	}
	struct timeline *t = LIST_FIRST(&timelines);
	if (t != NULL && t->ended == 0)
		t->ended = evt_mono_us();
	event_base_loopbreak(base);
}

/* Keys on a terminal stdin. */
static void
key_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned char k[16];
	ssize_t n = read(fd, k, sizeof k);
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++) {
		switch (k[i]) {
		case ' ': all_toggle(); break;
		case '+': all_speed(2); break;
		case '-': all_speed(0.5); break;
		case '[': all_seek(-SEEK_STEP_US); break;
		case ']': all_seek(SEEK_STEP_US); break;
		case 's': status_all(); break;
		case 'q': quit("q pressed"); break;
		case 0x1b: /* ESC [ C / ESC [ D: arrows */
			if (i + 2 < n && k[i + 1] == '[') {
				if (k[i + 2] == 'C')
					all_seek(SEEK_STEP_US);
				else if (k[i + 2] == 'D')
					all_seek(-SEEK_STEP_US);
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
	switch (sig) {
	case SIGUSR1: all_toggle(); break;
	case SIGUSR2: status_all(); break;
	default: quit(sig == SIGINT ? "SIGINT" : "SIGTERM"); break;
	}
}

/* A server's progress line: clients, replays, events sent and rate. */
static void
server_progress(void)
{
	static uint64_t last_sent;
	struct evt_gw_stats gs;
	struct timeline *t;
	unsigned n = 0, done = 0, paused = 0;
	int64_t lag = 0;

	evt_gw_stats(S.gwo.gw, &gs);
	LIST_FOREACH(t, &timelines, link) {
		n++;
		done += t->finished != 0;
		paused += t->started && evt_replay_paused(&t->sch);
		if (t->sch.lag_us > lag)
			lag = t->sch.lag_us;
	}
	fprintf(stderr, "\r\033[K%u clients, %u replays (%u finished, %u "
	    "paused), %" PRIu64 " events sent (%" PRIu64 "/s), max lag %.3f s",
	    gs.ws_now, n, done, paused, gs.events_sent,
	    gs.events_sent - last_sent, (double)lag / 1e6);
	last_sent = gs.events_sent;
}

/* Once a second: the progress line and lag reports. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *t = LIST_FIRST(&timelines);
	if (server) {
		if (tty_progress)
			server_progress();
		return;
	}
	if (P.on)
		pub_watch();
	if (t == NULL)
		return;
	if (tty_progress) {
		status_line(t, 1);
		return;
	}
	if (t->sch.lag_us > reported_lag + 100000 && !quiet) {
		if (P.on)
			evt_cli_err("NATS slow: the timeline is %.3f s behind (%"
			    PRIu64 " messages unacknowledged)",
			    (double)t->sch.lag_us / 1e6, pub_inflight());
		else
			evt_cli_err("consumer slow: the timeline is %.3f s "
			    "behind", (double)t->sch.lag_us / 1e6);
		reported_lag = t->sch.lag_us;
	}
}

/*
 * The states st[0..n) as a client gets them: those of the sources and
 * types --source/--type select, rewritten for pass p; *st, *lens and *n
 * then name W's list (valid until the next rewriting).
 */
static void
states_view(const struct evt_rw_pass *p, const char *const **st,
    const size_t **lens, size_t *n)
{
	size_t k = 0;
	if (!W.selecting && W.rw == NULL)
		return;
	w_room(*n);
	for (size_t i = 0; i < *n; i++)
		if (evt_sel_event_text(&W.sel, (*st)[i], (*lens)[i])) {
			W.ev[k] = (*st)[i];
			W.evlen[k++] = (*lens)[i];
		}
	if (W.rw != NULL) {
		/* rw_list reuses W's list: hand it a copy */
		const char **src = malloc((k + 1) * sizeof *src);
		size_t *sl = malloc((k + 1) * sizeof *sl);
		if (src == NULL || sl == NULL)
			oom_check(EVT_ERR_NOMEM);
		memcpy(src, W.ev, k * sizeof *src);
		memcpy(sl, W.evlen, k * sizeof *sl);
		rw_list(p, src, sl, k);
		free(src);
		free(sl);
	}
	*st = W.ev;
	*lens = W.evlen;
	*n = k;
}

/* Prints a state table as {"states":[...]} (TSV: after "<at>\t"). */
static void
print_state(const struct evt_state *s, int64_t at)
{
	const char *const *st;
	const size_t *lens;
	size_t n = evt_state_list(s, &st, &lens);
	states_view(&pass0, &st, &lens, &n);
	if (mode == M_TSV) {
		char tmp[32];
		int k = snprintf(tmp, sizeof tmp, "%" PRId64 "\t",
		    at == INT64_MIN ? 0 : at);
		oom_check(evt_buf_put(evt_cli_out_buf(), tmp, (size_t)k));
	}
	oom_check(evt_buf_put(evt_cli_out_buf(), "{\"states\":[", 11));
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			oom_check(evt_buf_putc(evt_cli_out_buf(), ','));
		oom_check(evt_buf_put(evt_cli_out_buf(), st[i], lens[i]));
	}
	oom_check(evt_buf_put(evt_cli_out_buf(), "]}\n", 3));
	oflush();
}

/* ------------------------------------------------------------- server */

/* Stops serving: closes every client with 1001 and leaves the loop once
 * they are gone (or the grace time is over). */
static void
server_stop(const char *why)
{
	if (evt_gwo_stopping(&S.gwo))
		return;
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO)
		evt_cli_err("%s: shutting down", why);
	struct timeline *t;
	LIST_FOREACH(t, &timelines, link) {
		evtimer_del(t->timer);
		tl_follow_stop(t);
		if (t->ended == 0)
			t->ended = evt_mono_us();
	}
	(void)evt_gwo_shutdown(&S.gwo);
}

/* --exit-when-done: once every timeline has finished and every client
 * has been sent all of it, stop; re-checks while data is queued. */
static void
server_check_done(void)
{
	if (!S.exit_when_done || evt_gwo_stopping(&S.gwo) ||
	    LIST_EMPTY(&timelines))
		return;
	struct timeline *t;
	LIST_FOREACH(t, &timelines, link)
		if (!t->finished)
			return;
	if (evt_gw_backlog(S.gwo.gw) == 0) {
		server_stop("every replay finished");
		return;
	}
	struct timeval tv = {0, 5000};
	evtimer_add(S.done_ev, &tv);
}

/* The timer of a pending --exit-when-done check. */
static void
done_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!evt_gwo_stopping(&S.gwo))
		server_check_done();
}

/*
 * A timeline's session is gone (expired, or forgotten for a newer one):
 * nothing may reach the session through it any more, so it is detached
 * at once (out of the list every control and status walks, no session
 * pointer) and freed by its own timer on a later loop turn, never inside
 * the gateway's callback (the tmux rule).  A session that expired while
 * its replay ran used to leave the timeline publishing to freed memory.
 */
static void
tl_gone(struct timeline *t)
{
	if (t == NULL)
		return;
	if (t->started && !t->finished) {
		t->ended = evt_mono_us();
		if (want_stats)
			print_stats(t);
		t->finished = 1;
		nplaying--;
	}
	t->s = NULL;
	t->gone = 1;
	tl_follow_stop(t);
	LIST_REMOVE(t, link);
	LIST_INSERT_HEAD(&zombies, t, link);
	evtimer_del(t->timer);
	event_active(t->timer, EV_TIMEOUT, 1);
}

/* The timeline whose state and rewriting a session's client sees: the
 * live one while it takes the live stream (or waits to join it). */
static const struct timeline *
fan_view(const struct timeline *t)
{
	return t != NULL && t->fan && t->cur == NULL ? S.tl : t;
}

/* A fan-out session's timeline: it joins the live stream once its
 * getState is answered (tl_hold), or with --from/--from-id catches up
 * from there first.  Muted for the live stream until it joins. */
static struct timeline *
fan_new(struct evt_gw_session *s)
{
	struct timeline *t;
	evt_gw_session_mute(s, 1);
	if (R.from != INT64_MIN || R.from_id != NULL) {
		if ((t = tl_new(OUT_SESSION, s)) != NULL)
			t->fan = 1;
		return t;
	}
	if ((t = calloc(1, sizeof *t)) == NULL ||
	    (t->timer = evtimer_new(base, tl_timer_cb, t)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	t->out = OUT_SESSION;
	t->s = s;
	t->fan = 1;
	evt_replay_init(&t->sch, &R.ro);
	LIST_INSERT_HEAD(&timelines, t, link);
	return t;
}

/*
 * gateway resume_cb (--follow): a client resumes after an event its
 * session's history no longer holds (sent too long ago, or never sent in
 * this session): if the archive has it, the session catches up from the
 * event after it, so a resume reaches as far back as retention.
 */
static int
resume_cb(void *arg, struct evt_gw_session *s, const char *eid, size_t len)
{
	struct timeline *t = evt_gw_session_data(s);
	struct evt_cur *c;
	int64_t rx;
	char who[EVT_ESS_ID_MAX + 16];
	if (!S.fan || t == NULL || (c = cur_open()) == NULL)
		return 0;
	int rc = evt_cur_seek_id(c, eid, len, &rx);
	oom_check(rc);
	if (rc != 1) {
		evt_cur_close(c);
		return 0;
	}
	oom_check(evt_cur_follow(c, R.dir));
	if (t->held) {
		t->held = 0;
		evtimer_del(t->timer);
	}
	tl_catch_up(t, c, state_at(rx), &(struct fpos){0});
	t->skip_first = 1;
	t->waiting = 0;
	tl_kick(t); /* after the answer */
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO)
		evt_cli_err("%sresumed after an event of the archive: catching "
		    "up from there", tl_who(t, who, sizeof who));
	return 1;
}

/* gateway session_cb. */
static void
session_cb(void *arg, struct evt_gw_session *s, int what)
{
	struct timeline *t = evt_gw_session_data(s);
	switch (what) {
	case EVT_GW_SESSION_SUBSCRIBED:
		if (evt_gwo_stopping(&S.gwo))
			return;
		if (S.shared) {
			if (S.tl == NULL && LIST_EMPTY(&timelines) &&
			    (S.tl = tl_new(OUT_ALL, NULL)) != NULL)
				tl_hold(S.tl);
			return;
		}
		if (t != NULL)
			return;
		if ((t = S.fan ? fan_new(s) : tl_new(OUT_SESSION, s)) == NULL)
			return; /* reported; the client gets no events */
		evt_gw_session_set_data(s, t);
		tl_hold(t);
		return;
	case EVT_GW_SESSION_DRAINED:
		tl_wake(S.shared ? S.tl : t);
		return;
	case EVT_GW_SESSION_GONE:
		evt_gw_session_set_data(s, NULL);
		tl_gone(t);
		return;
	default:
		return;
	}
}

/* gateway drain_cb: the shared timeline's clients caught up. */
static void
drain_cb(void *arg)
{
	tl_wake(S.tl);
}

/* The archive's CONFIG markers (snapshots and deltas), oldest first,
 * each kept only where it differs from the one before: what the Config
 * REST API answers at a replay position is their merge as of it (the
 * merge of the last position asked for kept, as positions move
 * slowly). */
#define MAX_CONFIGS 1024
static int64_t *config_rx;
static struct evt_cfgrest **configs, *merged;
static size_t nconfigs, merged_at = SIZE_MAX;

/* evt_names_configs callback: keeps a CONFIG marker's body (received
 * at rx) unless it repeats the previous one (arg: that body's buffer). */
static int
config_add(void *arg, int64_t rx, const char *body, size_t len)
{
	struct evt_buf *prev = arg;
	struct evt_cfgrest *c;
	int rc;

	if (prev->len == len && memcmp(prev->p, body, len) == 0)
		return 0;
	prev->len = 0;
	oom_check(evt_buf_put(prev, body, len));
	if (W.nmaps > 0) {
		/* renamed sources are served under their new ids */
		W.buf.len = 0;
		oom_check(evt_rw_config(W.rw, body, len, &W.buf));
		body = (const char *)W.buf.p;
		len = W.buf.len;
	}
	if (nconfigs == MAX_CONFIGS) {
		evt_cli_err("warning: more than %d different configuration snapshots; "
		    "later ones are not served", MAX_CONFIGS);
		return 0;
	}
	if ((rc = evt_cfgrest_new(body, len, &c)) != 0) {
		oom_check(rc);
		evt_cli_err("warning: a CONFIG marker at %" PRId64 " us is not a JSON "
		    "object; passed over", rx);
		return 0;
	}
	if (configs == NULL && ((configs = calloc(MAX_CONFIGS,
	    sizeof *configs)) == NULL || (config_rx = calloc(MAX_CONFIGS,
	    sizeof *config_rx)) == NULL))
		oom_check(EVT_ERR_NOMEM);
	config_rx[nconfigs] = rx;
	configs[nconfigs++] = c;
	return 0;
}

/* evt_names_configs callback: adds a CONFIG body to names arg with its
 * sources renamed by --map-source (one that is not an object: passed
 * over, as evt_names_read does). */
static int
names_add(void *arg, int64_t rx, const char *body, size_t len)
{
	W.buf.len = 0;
	oom_check(evt_rw_config(W.rw, body, len, &W.buf));
	int rc = evt_names_add(arg, rx, (const char *)W.buf.p, W.buf.len);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/* Reads every CONFIG marker of the archive (names.c: sealed segments
 * whose index counts none are not decoded): the Config REST answers
 * (server), or the names of --names and -o text (stdout). */
static void
configs_load(void)
{
	struct evt_archive *a;
	struct evt_buf prev = {0};

	if (evt_archive_open(R.dir, 0, NULL, evt_cli_damage_cb, evt_cli_warn_cb, NULL,
	    &a) != 0)
		return;		/* the replay itself reports it */
	if (server)
		oom_check(evt_names_configs(a, R.dir, evt_cli_damage_cb, NULL,
		    config_add, &prev));
	else if (want_names || text_out) {
		if ((cfgnames = evt_names_new()) == NULL)
			oom_check(EVT_ERR_NOMEM);
		if (W.nmaps > 0) {
			/* the names of the sources under their new ids */
			oom_check(evt_names_configs(a, R.dir, NULL, NULL,
			    names_add, cfgnames));
			oom_check(evt_names_finish(cfgnames));
		} else
			oom_check(evt_names_read(a, R.dir, cfgnames));
		evt_names_text_init(&textfmt, cfgnames, utc_out, verbose);
	}
	evt_archive_close(a);
	evt_buf_free(&prev);
}

/* gateway rest_cb: Config REST from the CONFIG markers as of the asking
 * client's replay position (its session's timeline; the shared one; or,
 * before a replay runs, the start point): every item any marker lists,
 * named by the newest marker at or before the position that lists it,
 * else by the earliest after (README, "Config REST"). */
static int
rest_cb(void *arg, struct evt_gw_session *s, const char *path, size_t len,
    struct evt_buf *body)
{
	const struct timeline *t = fan_view(S.shared ? S.tl : s != NULL ?
	    evt_gw_session_data(s) : NULL);
	int64_t pos = t != NULL ? evt_replay_position(&t->sch) : 0;
	size_t i = 0;

	if (nconfigs == 0)
		return 404;
	if (pos == 0)
		pos = R.start_rx;
	while (i + 1 < nconfigs && config_rx[i + 1] <= pos)
		i++;
	if (i != merged_at) {
		evt_cfgrest_free(merged);
		merged = NULL;
		merged_at = SIZE_MAX;
		int rc = evt_cfgrest_merge(configs, nconfigs, i, &merged);
		if (rc != 0)
			return rc;
		merged_at = i;
	}
	return evt_cfgrest_answer(merged, path, len, body);
}

/* gateway states_cb: the state at the asking session's position. */
static int
states_cb(void *arg, struct evt_gw_session *s,
    const struct evt_ess_subs *subs, struct evt_buf *out)
{
	struct timeline *t = S.shared ? S.tl : evt_gw_session_data(s);
	const struct timeline *v = fan_view(t);
	const struct evt_state *st = v != NULL && v->state != NULL ?
	    v->state : R.state0;
	const char *const *texts = NULL;
	const size_t *lens = NULL;
	size_t n = st != NULL ? evt_state_list(st, &texts, &lens) : 0;
	struct timeline now = {.out = OUT_ALL};
	if (W.rw != NULL && t == NULL) {
		/* no replay yet: as one that would begin now */
		now.rw.pass = W.first_pass;
		tl_pass_begin(&now, 0);
	}
	states_view(v != NULL ? &v->rw : &now.rw, &texts, &lens, &n);
	int rc = evt_ess_states_array(subs, texts, lens, n, out) < 0 ?
	    EVT_ERR_NOMEM : 0;
	tl_release(t);
	return rc;
}

/* Appends a timeline's status object. */
static int
put_timeline(struct evt_buf *b, const struct timeline *t)
{
	struct evt_replay_stats st;
	char pos[28], num[64];
	int64_t rx = evt_replay_position(&t->sch);
	int rc = 0;

	evt_replay_stats(&t->sch, &st);
	rc |= evt_buf_put(b, "{\"session\":", 11);
	if (t->s != NULL) {
		size_t n;
		const char *id = evt_gw_session_id(t->s, &n);
		rc |= evt_json_put_string(b, id, n);
	} else
		rc |= evt_buf_put(b, "null", 4);
	rc |= evt_buf_put(b, ",\"position_us\":", 15);
	rc |= evt_json_put_int(b, rx < 0, rx < 0 ? (uint64_t)-rx :
	    (uint64_t)rx);
	rc |= evt_buf_put(b, ",\"position\":", 12);
	if (rx != 0) {
		evt_time_format_us(rx, pos);
		rc |= evt_json_put_string(b, pos, strlen(pos));
	} else
		rc |= evt_buf_put(b, "null", 4);
	int k = snprintf(num, sizeof num, ",\"speed\":%.17g",
	    evt_replay_speed(&t->sch));
	rc |= evt_buf_put(b, num, (size_t)k);
	rc |= evt_buf_put(b, ",\"top_speed\":", 13);
	rc |= evt_buf_put(b, t->sch.o.top_speed ? "true" : "false",
	    t->sch.o.top_speed ? 4 : 5);
	rc |= evt_buf_put(b, ",\"paused\":", 10);
	rc |= evt_buf_put(b, evt_replay_paused(&t->sch) && t->started ?
	    "true" : "false", evt_replay_paused(&t->sch) && t->started ? 4 : 5);
	rc |= evt_buf_put(b, ",\"finished\":", 12);
	rc |= evt_buf_put(b, t->finished ? "true" : "false",
	    t->finished ? 4 : 5);
	rc |= evt_buf_put(b, ",\"events\":", 10);
	rc |= evt_json_put_int(b, 0, t->events);
	rc |= evt_buf_put(b, ",\"frames\":", 10);
	rc |= evt_json_put_int(b, 0, t->frames);
	rc |= evt_buf_put(b, ",\"lag_us\":", 10);
	rc |= evt_json_put_int(b, 0, (uint64_t)st.lag_us);
	rc |= evt_buf_put(b, ",\"p99_us\":", 10);
	rc |= evt_json_put_int(b, 0, (uint64_t)st.p99_us);
	rc |= evt_buf_putc(b, '}');
	return rc;
}

/* GET /evplay/status. */
static int
http_status(struct evt_buf *b)
{
	struct evt_gw_stats gs;
	struct timeline *t;
	char num[96];
	int rc = 0, first = 1, k;

	evt_gw_stats(S.gwo.gw, &gs);
	rc |= evt_buf_put(b, "{\"clock\":", 9);
	rc |= evt_json_put_string(b, S.shared ? "shared" : "session",
	    S.shared ? 6 : 7);
	rc |= evt_buf_put(b, ",\"clients\":", 11);
	rc |= evt_json_put_int(b, 0, gs.ws_now);
	rc |= evt_buf_put(b, ",\"sessions\":", 12);
	rc |= evt_json_put_int(b, 0, gs.sessions_now);
	rc |= evt_buf_put(b, ",\"events_sent\":", 15);
	rc |= evt_json_put_int(b, 0, gs.events_sent);
	/* what a timeline that starts now starts with (global controls) */
	k = snprintf(num, sizeof num, ",\"start_paused\":%s,\"start_speed\":"
	    "%.17g", S.paused ? "true" : "false",
	    S.speed > 0 ? S.speed : R.ro.speed);
	rc |= evt_buf_put(b, num, (size_t)k);
	rc |= evt_buf_put(b, ",\"timelines\":[", 14);
	LIST_FOREACH(t, &timelines, link) {
		if (!first)
			rc |= evt_buf_putc(b, ',');
		first = 0;
		rc |= put_timeline(b, t);
	}
	rc |= evt_buf_put(b, "]}", 2);
	return rc ? -1 : 200;
}

/* Appends {"error":why} and returns status. */
static int
http_err(struct evt_buf *b, int status, const char *why)
{
	if (evt_buf_put(b, "{\"error\":", 9) != 0 ||
	    evt_json_put_string(b, why, strlen(why)) != 0 ||
	    evt_buf_putc(b, '}') != 0)
		return -1;
	return status;
}

/* A form value as a C string (NULL if absent or binary). */
static const char *
form_cstr(const struct evt_http_form *f, const char *key)
{
	size_t n;
	const char *v = evt_http_form_get(f, key, &n);
	return v != NULL && strlen(v) == n ? v : NULL;
}

/* A control of the control path, parsed. */
struct control {
	enum { C_PAUSE, C_RESUME, C_SPEED, C_SEEK_TO, C_SEEK_BY } op;
	double x;		/* C_SPEED: the factor */
	int64_t to, by;		/* C_SEEK_TO: receive time; C_SEEK_BY: us */
};

/* Parses the parameters of speed (c->op C_SPEED: x=F) or seek (any
 * other: to=TIME or by=S, setting c->op) into *c.  Returns NULL, or why
 * they are refused (a 400 answer). */
static const char *
control_args(const struct evt_http_form *f, struct control *c)
{
	if (c->op == C_SPEED) {
		const char *xs = form_cstr(f, "x");
		if (xs == NULL)
			return "speed needs x=FACTOR";
		if (evt_cli_number(xs, &c->x) != 0 ||
		    !(c->x >= 1.0 / 1024) || c->x > 1024)
			return "x: a number in 1/1024..1024";
		return NULL;
	}
	const char *ts = form_cstr(f, "to"), *bs = form_cstr(f, "by");
	if ((ts == NULL) == (bs == NULL))
		return "seek needs to=TIME or by=SECONDS";
	if (ts != NULL) {
		c->op = C_SEEK_TO;
		return evt_time_parse_user(ts, &c->to) != 0 ?
		    "to: ISO-8601 or microseconds" : NULL;
	}
	c->op = C_SEEK_BY;
	double sec;
	if (evt_cli_number(bs, &sec) != 0 || !(sec > -1e9 && sec < 1e9))
		return "by: seconds";
	c->by = (int64_t)(sec * 1e6);
	return NULL;
}

/* Applies a control to one timeline. */
static void
control_apply(struct timeline *t, const struct control *c)
{
	switch (c->op) {
	case C_PAUSE: tl_pause(t, 1); break;
	case C_RESUME: tl_pause(t, 0); break;
	case C_SPEED: tl_set_speed(t, c->x); break;
	case C_SEEK_TO: tl_seek_to(t, c->to); break;
	case C_SEEK_BY: (void)tl_seek(t, c->by); break;
	}
}

/* Whether a timeline is the one of session id sid (NULL: every one). */
static int
tl_is_session(const struct timeline *t, const char *sid)
{
	size_t il;
	const char *id;
	if (sid == NULL)
		return 1;
	id = t->s != NULL ? evt_gw_session_id(t->s, &il) : NULL;
	return id != NULL && il == strlen(sid) && memcmp(id, sid, il) == 0;
}

/* The control verb verb[0..vlen): C_PAUSE, C_RESUME, C_SPEED or, for
 * seek, C_SEEK_TO (its parameters say which seek); -1 if there is no such
 * verb. */
static int
control_verb(const char *verb, size_t vlen)
{
	static const char *const verbs[] = {"pause", "resume", "speed",
	    "seek"};
	static const int ops[] = {C_PAUSE, C_RESUME, C_SPEED, C_SEEK_TO};
	for (size_t k = 0; k < 4; k++)
		if (strlen(verbs[k]) == vlen && memcmp(verbs[k], verb,
		    vlen) == 0)
			return ops[k];
	return -1;
}

/* POST /evplay/<verb>: control op (control_verb) on one timeline or
 * all. */
static int
http_control(int op, const char *verb, size_t vlen,
    const struct evt_http_form *f, struct evt_buf *b)
{
	const char *sid = form_cstr(f, "session"), *why;
	struct control c = {0};

	c.op = op;
	if ((op == C_SPEED || op == C_SEEK_TO) &&
	    (why = control_args(f, &c)) != NULL)
		return http_err(b, 400, why);

	struct timeline *t;
	unsigned n = 0;
	LIST_FOREACH(t, &timelines, link)
		if (tl_is_session(t, sid)) {
			n++;
			control_apply(t, &c);
		}
	if (sid != NULL && n == 0)
		return http_err(b, 404, "no replay for that session");
	if (sid == NULL) {
		/* also for timelines that start later */
		if (c.op == C_PAUSE || c.op == C_RESUME)
			S.paused = c.op == C_PAUSE;
		else if (c.op == C_SPEED)
			S.speed = c.x;
	}
	if (S.gwo.verbosity >= EVT_GW_LOG_INFO)
		evt_cli_err("control: %.*s on %u replay%s", (int)vlen, verb, n,
		    n == 1 ? "" : "s");
	int v = evt_buf_put(b, "{\"ok\":true,\"timelines\":", 23) |
	    evt_json_put_int(b, 0, n) | evt_buf_putc(b, '}');
	return v ? -1 : 200;
}

/* gateway http_cb: the control path under /evplay/. */
static int
http_cb(void *arg, const struct evt_gw_http_req *req, struct evt_buf *body,
    const char **ctype)
{
	static const char pre[] = "/evplay/";
	size_t pl = sizeof pre - 1;
	if (req->path_len <= pl || memcmp(req->path, pre, pl) != 0)
		return 0;
	const char *verb = req->path + pl;
	size_t vlen = req->path_len - pl;
	if (vlen == 6 && memcmp(verb, "status", 6) == 0) {
		if (strcmp(req->method, "GET") != 0)
			return http_err(body, 405, "GET only");
		/* It lists live session ids. */
		if (!req->authorized)
			return http_err(body, 401, "Bearer token required");
		return http_status(body);
	}
	int op = control_verb(verb, vlen);
	if (op < 0)
		return 0; /* 404 */
	if (strcmp(req->method, "POST") != 0)
		return http_err(body, 405, "POST only");
	if (!req->authorized)
		return http_err(body, 401, "Bearer token required");
	struct evt_http_form f;
	const char *q = req->query_len > 0 ? req->query : req->body;
	size_t ql = req->query_len > 0 ? req->query_len : req->body_len;
	if (evt_http_form_parse(&f, q, ql) != 0)
		return http_err(body, 400, "malformed parameters");
	int rc = http_control(op, verb, vlen, &f, body);
	evt_http_form_free(&f);
	return rc;
}

/* ------------------------------------------------------------ options */

/* Prints the usage text. */
static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: evplay [options] DIR\n"
	    "       evplay --listen [HOST:]PORT [server options] [options] DIR\n"
	    "       evplay --publish nats://H:P[,...] [--stream S] [options] DIR\n"
	    "  --speed X        replay X times as fast (default 1)\n"
	    "  --top-speed      as fast as the consumer takes it\n"
	    "  --from TIME      start at this receive time (ISO-8601 or us)\n"
	    "  --to TIME        stop before this receive time\n"
	    "  --from-id ID     start at this event (in its message)\n"
	    "  --max-gap S      cap idle gaps at S (s, m, h; default none)\n"
	    "  --loop [N]       play N times in all (no N: forever)\n"
	    "  --follow         at the archive's end, go on with what a\n"
	    "                   recorder adds, as it arrives (a server's\n"
	    "                   clients start at now unless --from/--from-id)\n"
	    "  --messages       whole gateway messages, one per line\n"
	    "  --tsv            every received frame as \"<rx us>\\t<text>\"\n"
	    "  --names          add sourceName, typeName, stateGroupName to\n"
	    "                   each event (from the CONFIG markers)\n"
	    "  -o json|text     text: one line per event, time (local; --utc)\n"
	    "                   and names, aligned; ids with -v\n"
	    "  --state          print the state at the start first, as\n"
	    "                   {\"states\":[...]}\n"
	    "  --stats          print lateness p50/p99/max, rate, lag and\n"
	    "                   end drift on stderr at the end\n"
	    "  --source S, --type T  only these sources / event types (ids,\n"
	    "                   names, globs; repeatable; as evtool cat)\n"
	    "rewriting for test systems (README, \"Rewritten replays\"):\n"
	    "  --retime         shift event times so the first is now (each\n"
	    "                   --loop pass again)\n"
	    "  --shift D        shift event times by D (-1.5s, 2h, 100ns)\n"
	    "  --fresh-ids      a new id per (id, pass); --fresh-ids-key K\n"
	    "  --map-source OLD=NEW  rename a source (repeatable; @FILE:\n"
	    "                   one OLD=NEW a line)\n"
	    "publish to NATS instead of stdout (formats/nats.md): core NATS\n"
	    "subjects, or with --stream NAME a JetStream stream:\n"
	    EVT_NATS_USAGE
	    "  --nats-timeout DUR  give up when NATS is down or does not\n"
	    "                   acknowledge for DUR [10s]; the wait for the\n"
	    "                   last acknowledgements at the end\n"
	    "  -q, --quiet      no progress line, lag reports or client logs\n"
	    "  -v, --verbose    report controls (server: debug logs)\n"
	    "  --help, --version\n"
	    "server (a drop-in API Gateway; needs --user U --password-file F\n"
	    "or --any-user):\n"
	    "  --exit-when-done      exit once every replay is finished and\n"
	    "                        sent\n");
	evt_gwo_usage(f, &S.gwo);
	fprintf(f,
	    "control (Bearer): GET /evplay/status; POST /evplay/pause,\n"
	    "  resume, speed?x=F, seek?to=TIME or seek?by=S [&session=ID]\n"
	    "keys (terminal): space pause, + - speed, [ ] or arrows seek "
	    "10 s, s status, q quit\n"
	    "signals: USR1 pause/resume, USR2 status, INT/TERM stop\n");
}

/* Parses a --speed factor (a number in (0, 1e6]) or exits 2. */
static double
speed_arg(const char *s)
{
	double v = evt_cli_number_arg("--speed", s);

	if (!(v > 0) || v > 1e6)
		evt_cli_range_err("--speed", s, "more than 0, up to 1e6");
	return v;
}

/* Parses --shift D: a sign, digits with an optional fraction, then ns,
 * us, ms, s (none: seconds), m, h or d; exact to the nanosecond.  Exits
 * 2 on anything else. */
static int64_t
shift_arg(const char *v)
{
	static const char *const units[] = {"ns", "us", "ms", "s", "", "m",
	    "h", "d"};
	static const int64_t mult[] = {1, 1000, 1000000, 1000000000LL,
	    1000000000LL, 60000000000LL, 3600000000000LL, 86400000000000LL};
	const char *p = v + (*v == '-' || *v == '+');
	char *end;
	int64_t r = 0, m = 0;
	size_t in = strspn(p, "0123456789");
	const char *f = p + in, *u;
	size_t fn = *f == '.' ? strspn(f + 1, "0123456789") : 0;
	u = *f == '.' ? f + 1 + fn : f;
	for (size_t i = 0; i < 8 && m == 0; i++)
		if (strcmp(u, units[i]) == 0)
			m = mult[i];
	errno = 0;
	int64_t ip = in > 0 ? strtoll(p, &end, 10) : 0;
	if (m == 0 || (in == 0 && fn == 0) || (*f == '.' && fn == 0) ||
	    errno != 0 || __builtin_mul_overflow(ip, m, &r))
		evt_cli_usage_err("--shift: \"%s\" is not a duration (a sign, "
		    "digits with an optional fraction, then ns, us, ms, s, m, h "
		    "or d, e.g. -1.5s)", v);
	for (size_t i = 0; i < fn; i++) {
		m /= 10; /* the fraction digit's worth */
		if (m == 0 && f[1 + i] != '0')
			evt_cli_usage_err("--shift: \"%s\" is finer than 1 ns",
			    v);
		if (__builtin_add_overflow(r, (f[1 + i] - '0') * m, &r))
			evt_cli_usage_err("--shift: \"%s\" is out of range", v);
	}
	return *v == '-' ? -r : r;
}

/* Parses --loop [N] (a count may follow as its own word: argv[*optind]
 * is taken if it is one). */
static void
loop_arg(const char *v, int argc, char **argv)
{
	if (v == NULL && optind < argc - 1 && argv[optind][0] != 0 &&
	    strspn(argv[optind], "0123456789") == strlen(argv[optind]))
		v = argv[optind++];
	if (v == NULL) {
		R.loops = -1;
		return;
	}
	uint64_t n = evt_cli_count_arg("--loop", v);
	if (n < 1 || n > LONG_MAX)
		evt_cli_range_err("--loop", v, "at least 1");
	R.loops = (long)n - 1;
}

/* Takes one of evplay's own options; returns 0, 1 after --help or
 * --version (exit 0), or -1 if c is unknown. */
static int
play_opt(int c, int argc, char **argv)
{
	switch (c) {
	case 'S': R.ro.speed = speed_arg(optarg); break;
	case 'X': R.ro.top_speed = 1; break;
	case 'f': R.from = evt_cli_time_arg("--from", optarg); break;
	case 'T': R.to = evt_cli_time_arg("--to", optarg); break;
	case 'i': R.from_id = optarg; break;
	case 'g': R.ro.max_gap_us = evt_cli_duration_arg("--max-gap", optarg);
		break;
	case 'l': loop_arg(optarg, argc, argv); break;
	case 'm': mode = M_MESSAGES; break;
	case 't': mode = M_TSV; break;
	case 's': want_state = 1; break;
	case 'a': want_stats = 1; break;
	case 'q': quiet = 1; break;
	case 'v': verbose = 1; break;
	case 'E': S.exit_when_done = 1; break;
	case 'N': want_names = 1; break;
	case 'o': text_out = evt_cli_choice_arg("-o", optarg, (const char *[]){
		"json", "text", NULL}) == 1; break;
	case 'U': utc_out = 1; break;
	case O_RETIME: W.retime = 1; break;
	case O_SHIFT: W.shift_ns = shift_arg(optarg); break;
	case O_FRESH: W.fresh = 1; break;
	case O_FRESH_KEY: W.fresh = 1; W.key = optarg; break;
	case O_MAP: W.maps[W.nmaps++] = optarg; break;
	case O_SOURCE: W.sel.sources[W.sel.nsources++] = optarg; break;
	case O_TYPE: W.sel.types[W.sel.ntypes++] = optarg; break;
	case O_FOLLOW: R.follow = 1; break;
	case O_NATS_TIMEOUT:
		P.timeout_us = evt_cli_duration_arg("--nats-timeout", optarg);
		if (P.timeout_us < 1000)
			evt_cli_range_err("--nats-timeout", optarg,
			    "at least 1ms");
		break;
	case 'h': usage(stdout); return 1;
	case 'V': printf("evplay " EVPLAY_VERSION "\n"); return 1;
	default: return -1;
	}
	return 0;
}

/* Parses the command line into R, S and the mode flags; exits 0 after
 * --help or --version, 2 on a usage error. */
static void
parse_args(int argc, char **argv)
{
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
		{"exit-when-done", no_argument, NULL, 'E'},
		{"names", no_argument, NULL, 'N'},
		{"output", required_argument, NULL, 'o'},
		{"utc", no_argument, NULL, 'U'},
		{"retime", no_argument, NULL, O_RETIME},
		{"shift", required_argument, NULL, O_SHIFT},
		{"fresh-ids", no_argument, NULL, O_FRESH},
		{"fresh-ids-key", required_argument, NULL, O_FRESH_KEY},
		{"map-source", required_argument, NULL, O_MAP},
		{"source", required_argument, NULL, O_SOURCE},
		{"type", required_argument, NULL, O_TYPE},
		{"follow", no_argument, NULL, O_FOLLOW},
		{"nats-timeout", required_argument, NULL, O_NATS_TIMEOUT},
		EVT_GWO_LONGOPTS,
		EVT_NATS_LONG_OPTIONS,
		{NULL, 0, NULL, 0},
	};
	int c, rc, li = 0;
	char where[64];

	evt_nats_init();
	evt_cli_init("evplay");
	evt_gwo_init(&S.gwo, EVT_GWO_CLOCK_SESSION, MAX_CONNS);
	evt_nats_opts_init(&P.o);
	R.ro.speed = 1.0;
	R.from = INT64_MIN;
	R.to = INT64_MAX;
	oom_check(evt_sel_init(&W.sel, (size_t)argc));
	if ((W.maps = calloc((size_t)argc, sizeof *W.maps)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	opterr = 0;	/* evt_cli_getopt_err says it */
	while ((c = getopt_long(argc, argv, ":qvho:", lo, &li)) != -1) {
		if (c == '?' || c == ':')
			evt_cli_getopt_err(c, argv);
		if (evt_gwo_arg(&S.gwo, c, optarg))
			continue;
		if (c >= EVT_NATS_OP_PUBLISH && c < EVT_NATS_OP_LAST) {
			P.js |= c == EVT_NATS_OP_STREAM;
			snprintf(where, sizeof where, "--%s", lo[li].name);
			(void)evt_nats_opt(&P.o, c, optarg, where);
			continue;
		}
		if ((rc = play_opt(c, argc, argv)) > 0)
			exit(EVT_EXIT_OK);
		if (rc < 0) {
			usage(stderr);
			exit(EVT_EXIT_USAGE);
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		exit(EVT_EXIT_USAGE);
	}
	R.dir = argv[optind];
}

/* The recorded gateway's URL (of the archive's first SESSION marker, as
 * evrec wrote it) into *u: 0, or -1 (none, or not a gateway URL). */
static int
pub_gateway(struct evt_httpc_url *u)
{
	struct evt_archive *a;
	char url[300];
	int rc = -1;
	if (evt_archive_open(R.dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a) != 0)
		return -1; /* the replay says why */
	char *gw = evt_merge_archive_gateway(a);
	evt_archive_close(a);
	if (gw == NULL)
		oom_check(EVT_ERR_NOMEM);
	size_t n = strlen(gw);
	int k = n < sizeof url ? evt_json_unescape(gw, n, url) : -1;
	if (k > 0) {
		url[k] = '\0';
		rc = evt_httpc_url_parse(url, u) == 0 ? 0 : -1;
	}
	free(gw);
	return rc;
}

/* --publish: what goes with it, the site (default: the recorded
 * gateway's host, as evrec's) and prefix, or exits 2. */
static void
pub_check_args(void)
{
	P.on = P.o.servers != NULL;
	if (!P.on) {
		if (P.js || P.o.user || P.o.creds || P.o.site || P.o.prefix)
			evt_cli_usage_err("NATS options need --publish URL");
		return;
	}
	if (server || mode != M_EVENTS || want_state || want_names ||
	    text_out)
		evt_cli_usage_err("--publish sends events to NATS: not with "
		    "--listen, --messages, --tsv, --state, --names or -o");
	struct evt_httpc_url u;
	int site = P.o.site == NULL && pub_gateway(&u) == 0;
	evt_nats_opts_finish(&P.o, site ? u.host : NULL);
}

/* Checks what goes together across options, or exits 2. */
static void
check_args(void)
{
	if (R.from_id != NULL && R.from != INT64_MIN)
		evt_cli_usage_err("--from and --from-id exclude each other");
	server = S.gwo.listen != NULL;
	pub_check_args();
	if (R.follow && (R.to != INT64_MAX || R.loops != 0 ||
	    S.exit_when_done))
		evt_cli_usage_err("--follow plays on as the archive grows: "
		    "not with --to, --loop or --exit-when-done");
	if ((want_names || text_out) && (mode != M_EVENTS || server))
		evt_cli_usage_err("--names and -o text print events to "
		    "stdout: not with --messages, --tsv or --listen");
	if (mode == M_TSV && (W.sel.nsources || W.sel.ntypes))
		evt_cli_usage_err("--tsv prints whole frames; it takes no "
		    "--source or --type");
	if (!server && (S.gwo.given || S.exit_when_done))
		evt_cli_usage_err("server options need --listen HOST:PORT");
	if (!server)
		return;
	if (mode != M_EVENTS || want_state)
		evt_cli_usage_err("--messages, --tsv and --state are for "
		    "stdout mode (a server sends messages; getState answers "
		    "the state)");
	evt_gwo_check(&S.gwo);
	if (S.gwo.go.username == NULL && !S.gwo.any_user)
		evt_cli_usage_err("a server needs --user U --password-file F, "
		    "or --any-user to accept any credential");
	/* --follow: one live timeline for all, clients behind catch up
	 * from the archive (no --clock). */
	S.fan = R.follow;
	S.shared = S.gwo.clock == EVT_GWO_CLOCK_SHARED && !S.fan;
}

/* Creates the event loop with precise timers. */
static void
make_base(void)
{
	/* The kernel's default 50 us timer slack would be lateness. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	struct event_config *cfg = event_config_new();
	if (cfg != NULL)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base == NULL) {
		evt_cli_err("cannot create the event loop");
		exit(EVT_EXIT_FAIL);
	}
}

/* The archive's names as recorded (--source, --type and --map-source
 * take names): read once, kept to the end (the selection holds its ids). */
static struct evt_names *orig_names;

/* Reads orig_names (an archive that cannot be opened: none; the replay
 * says why). */
static void
names_orig(void)
{
	struct evt_archive *a;
	if ((orig_names = evt_names_new()) == NULL)
		oom_check(EVT_ERR_NOMEM);
	if (evt_archive_open(R.dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a) != 0)
		return;
	oom_check(evt_names_read(a, R.dir, orig_names));
	evt_archive_close(a);
}

/* The source id OLD of --map-source names (itself when it is an id or the
 * archive has no names; a name or glob must name exactly one source),
 * or exits 2 saying why (where: the option or FILE:LINE). */
static const char *
map_old(const char *old, const char *where)
{
	struct evt_sel one;
	struct evt_buf why = {0};
	oom_check(evt_sel_init(&one, 1));
	one.sources[one.nsources++] = old;
	int rc = evt_sel_resolve(&one, orig_names, &why);
	oom_check(rc);
	if (rc != 0)
		evt_cli_usage_err("%s: %.*s", where, (int)why.len,
		    (const char *)why.p);
	if (one.nsources != 1)
		evt_cli_usage_err("%s: \"%s\" names %zu sources; map one at a "
		    "time", where, old, one.nsources);
	old = one.sources[0];
	evt_sel_free(&one);
	evt_buf_free(&why);
	return old;
}

/* Adds one OLD=NEW of --map-source (where: the option or FILE:LINE), or
 * exits 2. */
static void
map_one(char *spec, const char *where)
{
	char *eq = strchr(spec, '=');
	if (eq == NULL)
		evt_cli_usage_err("%s: \"%s\" is not OLD=NEW", where, spec);
	*eq = '\0';
	int rc = evt_rw_map(W.rw, map_old(spec, where), eq + 1);
	oom_check(rc);
	if (rc != 0)
		evt_cli_usage_err("%s: \"%s=%s\": a source mapped twice, or an "
		    "empty, too long (over 256 bytes) or quoted value", where,
		    spec, eq + 1);
}

/* Reads --map-source @FILE: one OLD=NEW a line; blank lines and lines
 * starting with '#' are passed over.  Exits 2 (FILE:LINE) or 3. */
static void
map_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, where[600];
	size_t cap = 0;
	ssize_t n;
	unsigned no = 0;
	if (f == NULL) {
		evt_cli_err("--map-source: %s: %s", path, strerror(errno));
		exit(EVT_EXIT_FAIL);
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		no++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		snprintf(where, sizeof where, "--map-source: %.500s:%u", path,
		    no);
		map_one(line, where);
	}
	free(line);
	fclose(f);
}

/* Prepares the rewriting and the selection from the options: names
 * resolved, the map read, the key set.  Exits 2 on a bad entry. */
static void
rewrite_setup(void)
{
	W.selecting = W.sel.nsources > 0 || W.sel.ntypes > 0;
	if (W.selecting || W.nmaps > 0)
		names_orig();
	if (W.selecting) {
		struct evt_buf why = {0};
		int rc = evt_sel_resolve(&W.sel, orig_names, &why);
		oom_check(rc);
		if (rc != 0)
			evt_cli_usage_err("%.*s", (int)why.len,
			    (const char *)why.p);
		evt_buf_free(&why);
	}
	if (!W.retime && W.shift_ns == 0 && !W.fresh && W.nmaps == 0)
		return;
	oom_check(evt_rw_new(&W.rw));
	if (W.fresh)
		evt_rw_fresh_ids(W.rw, W.key != NULL ? W.key : "",
		    W.key != NULL ? strlen(W.key) : 0);
	for (size_t i = 0; i < W.nmaps; i++) {
		if (W.maps[i][0] == '@')
			map_file(W.maps[i] + 1);
		else
			map_one((char *)(uintptr_t)W.maps[i], "--map-source");
	}
}

/*
 * --from-id with --fresh-ids: an id the archive does not have may be a
 * fresh id of an earlier replay; it is mapped back by inverting the
 * permutation for each pass in turn (no table: bounded memory) and
 * looking the result up, so the replay starts at that event, in that
 * pass, and goes on with the same fresh ids.
 */
static void
from_id_fresh(void)
{
	struct evt_cur *c;
	char orig[EVT_RW_GUID_LEN + 1];
	int64_t rx;
	if (!W.fresh || R.from_id == NULL || evt_cur_open(R.dir, NULL, NULL,
	    NULL, &c) != 0)
		return;
	size_t len = strlen(R.from_id);
	int rc = evt_cur_seek_id(c, R.from_id, len, &rx);
	for (uint64_t p = 0; rc == 0 && p < FRESH_PASSES; p++) {
		if (!evt_rw_id_invert(W.rw, p, R.from_id, len, orig))
			break;
		orig[EVT_RW_GUID_LEN] = '\0';
		if ((rc = evt_cur_seek_id(c, orig, EVT_RW_GUID_LEN, &rx)) == 1) {
			if ((R.from_id = strdup(orig)) == NULL)
				oom_check(EVT_ERR_NOMEM);
			W.first_pass = p;
			if (!quiet)
				evt_cli_err("--from-id: a fresh id of pass %" PRIu64
				    " of event %s", p + 1, orig);
		}
	}
	evt_cur_close(c);
}

/* --retime: the time of the first event replayed (selected), which each
 * pass's shift makes now.  Returns 0 or -1 (reported). */
static int
first_time(void)
{
	struct evt_cur_msg m;
	int rc;
	if (!W.retime)
		return 0;
	struct evt_cur *c = cur_at_start(NULL);
	if (c == NULL)
		return -1;
	while (!W.have_first && (rc = evt_cur_next(c, &m)) == 1)
		for (size_t i = 0; m.kind == EVT_K_MSG && i < m.n &&
		    !W.have_first; i++)
			W.have_first = evt_sel_event_text(&W.sel, m.ev[i],
			    m.evlen[i]) && evt_rw_event_time(W.rw, m.ev[i],
			    m.evlen[i], &W.first_sec, &W.first_nsec,
			    &W.first_unit) == 0;
	evt_cur_close(c);
	if (!W.have_first)
		evt_cli_err("warning: --retime: no event with a time: nothing "
		    "to shift by");
	return 0;
}

/* Checks the start point (and finds --from-id) before anything is served,
 * and prepares the state there: printed first (--state), or what getState
 * answers before a replay starts; every timeline starts from a copy and
 * keeps it current.  Returns 0 or -1 (reported). */
static int
open_start(void)
{
	from_id_fresh();
	struct evt_cur *probe = cur_at_start(&R.start_rx);
	if (probe == NULL)
		return -1;
	evt_cur_close(probe);
	if (first_time() != 0)
		return -1;
	if (!server) {
		struct timeline t0 = {.out = OUT_STDOUT};
		t0.rw.pass = W.first_pass;
		tl_pass_begin(&t0, 1);
		pass0 = t0.rw;
	}
	if (!server && (want_names || text_out))
		configs_load();
	if (!want_state && !server)
		return 0;
	R.state0 = state_at(R.start_rx);
	if (R.state0 == NULL || state_lead(R.state0) != 0)
		return -1;
	if (want_state)
		print_state(R.state0, R.start_rx);
	return 0;
}

/* Starts the gateway server.  Returns 0 or the exit status (reported). */
static int
serve_start(void)
{
	struct evt_gw_opts *go = &S.gwo.go;

	go->max_sessions = go->max_conns; /* each holds a timeline */
	/* product_version stays the gateway's default: clients read its
	 * major number as the server's, and >= 21 means OAuth. */
	go->log_cb = gw_log_cb;
	go->states_cb = states_cb;
	go->rest_cb = rest_cb;
	go->session_cb = session_cb;
	go->drain_cb = drain_cb;
	if (S.fan)
		go->resume_cb = resume_cb;
	go->http_cb = http_cb;
	configs_load();
	int rc = evt_gwo_start(&S.gwo, base);
	if (rc != 0)
		return rc;
	if ((S.done_ev = evtimer_new(base, done_ev_cb, NULL)) == NULL)
		oom_check(EVT_ERR_NOMEM);
	if (S.fan) {
		if ((S.tl = tl_new(OUT_ALL, NULL)) == NULL)
			return EVT_EXIT_FAIL;
		tl_start(S.tl);
	}
	if (!quiet)
		evt_cli_err("serving %s (%s%s)", R.dir, S.fan ? "following: "
		    "one live timeline" : S.shared ? "shared clock" :
		    "session clock", S.gwo.any_user ? ", any user" : "");
	return 0;
}

/* The loop's own events: keys on a terminal, signals, the 1 s tick. */
static struct {
	struct event *keys, *sigs[4], *tick;
} L;

/* Sets up the keys (a terminal stdin in raw mode), the signals and the
 * tick. */
static void
controls_setup(void)
{
	static const int sigs[4] = {SIGUSR1, SIGUSR2, SIGINT, SIGTERM};
	if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		struct termios raw = saved_tio;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &raw) == 0) {
			tio_saved = 1;
			atexit(tty_restore);
			L.keys = event_new(base, 0, EV_READ | EV_PERSIST,
			    key_cb, NULL);
			event_add(L.keys, NULL);
		}
	}
	for (int i = 0; i < 4; i++) {
		L.sigs[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		evsignal_add(L.sigs[i], NULL);
	}
	L.tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval sec = {1, 0};
	event_add(L.tick, &sec);
}

/* The end of the run on stderr: the stdout timeline's lag and --stats,
 * or the server's unfinished timelines' --stats and its summary. */
static void
report_end(struct timeline *tl)
{
	oflush();
	if (tty_progress)
		fputs("\r\033[K", stderr);
	if (W.rw != NULL) {
		struct evt_rw_stats st;
		evt_rw_stats(W.rw, &st);
		if (st.bad_times > 0)
			evt_cli_err("warning: %" PRIu64 " timestamps were not "
			    "shifted (not a timestamp, or out of the years "
			    "0001..9999)", st.bad_times);
	}
	if (tl != NULL) {
		if (tl->ended == 0)
			tl->ended = evt_mono_us();
		if (!quiet && tl->sch.lag_us > 0)
			evt_cli_err("%s was slow: the timeline fell %.3f s behind",
			    P.on ? "NATS" : "consumer",
			    (double)tl->sch.lag_us / 1e6);
		pub_end();
		if (want_stats)
			print_stats(tl);
		return;
	}
	struct evt_gw_stats gs;
	evt_gw_stats(S.gwo.gw, &gs);
	struct timeline *t;
	if (want_stats)
		LIST_FOREACH(t, &timelines, link)
			if (!t->finished)
				print_stats(t);
	if (!quiet)
		evt_cli_err("%" PRIu64 " events sent in %" PRIu64 " messages to %"
		    PRIu64 " sessions (%" PRIu64 " resumed), %" PRIu64
		    " connections", gs.events_sent, gs.messages_sent,
		    gs.sessions_created, gs.resumes, gs.conns_accepted);
}

/* Frees everything, reports what could not be read and returns the exit
 * status. */
static int
shut_down(void)
{
	tty_restore();
	for (int i = 0; i < 4; i++)
		if (L.sigs[i] != NULL)
			event_free(L.sigs[i]);
	if (L.tick != NULL)
		event_free(L.tick);
	if (L.keys != NULL)
		event_free(L.keys);
	evt_gwo_free(&S.gwo);
	pub_free();
	while (!LIST_EMPTY(&timelines))
		tl_free(LIST_FIRST(&timelines));
	while (!LIST_EMPTY(&zombies))
		tl_free(LIST_FIRST(&zombies));
	if (S.done_ev != NULL)
		event_free(S.done_ev);
	if (base != NULL)
		event_base_free(base);
	evt_state_free(R.state0);
	evt_rw_free(W.rw);
	evt_sel_free(&W.sel);
	evt_names_free(orig_names);
	evt_buf_free(&W.buf);
	free(W.ev);
	free(W.evlen);
	free(W.maps);
	evt_cli_out_free();
	evt_cli_lost_summary(R.dir, lost_events, lost_unknown);
	if (exit_code == 0 && evt_cli_damaged() > 0)
		exit_code = EVT_EXIT_PARTIAL;	/* damage skipped */
	return exit_code;
}

int
main(int argc, char **argv)
{
	struct timeline *tl = NULL;
	int rc;

	parse_args(argc, argv);
	check_args();
	rewrite_setup();
	if (open_start() != 0)
		return exit_code != 0 ? exit_code : EVT_EXIT_FAIL;
	make_base();
	tty_progress = !quiet && isatty(2);
	evt_cli_before_err(clear_progress);
	S.gwo.verbosity = quiet ? EVT_GW_LOG_WARN : verbose ?
	    EVT_GW_LOG_DEBUG : EVT_GW_LOG_INFO;
	if (server && (rc = serve_start()) != 0) {
		exit_code = rc;
		return shut_down();
	}
	if (!server) {
		signal(SIGPIPE, SIG_IGN);
		if ((P.on && pub_start() != 0) ||
		    (tl = tl_new(OUT_STDOUT, NULL)) == NULL) {
			exit_code = EVT_EXIT_FAIL;
			return shut_down();
		}
		P.t = tl;
	}
	controls_setup();
	if (tl != NULL)
		tl_start(tl);
	event_base_dispatch(base);
	report_end(tl);
	return shut_down();
}
