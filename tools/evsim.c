/*
 * evsim: a simulated Milestone API Gateway producing synthetic, realistic
 * events (the generator of gen.h) through the gateway server module
 * (gateway.h): token endpoint, Events and State WebSocket API with
 * sessions and resume, getState, and a small Config REST subset with names.
 *
 * Data flow:
 *
 *   first addSubscription of any session (session_cb SUBSCRIBED)
 *     -> evt_gen_new(start_us = now) -> messages paced by a libevent timer
 *        at --rate (a batch of every message whose time has come per
 *        wake-up), or at top speed (--rate 0) in chunks per loop turn while
 *        evt_gw_congested() says the clients keep up (the next chunk on a
 *        0 s timer, so sockets and signals are read in between; every
 *        10 ms while no connected session has a subscription)
 *     -> --log-sent FILE (each message exactly as generated)
 *     -> --log-sent-times FILE (its send time, for latency benchmarks)
 *     -> evt_gw_publish -> every session, filtered -> clients
 *   --clock session: each session's first addSubscription -> its own
 *     generator at top speed -> evt_gw_publish_session while
 *     evt_gw_session_congested() is 0; EVT_GW_SESSION_DRAINED resumes it
 *     (one slow client stalls only its own timeline)
 *   getState -> evt_gen_state_list -> evt_ess_states_array (filtered)
 *   REST /api/rest/v1/{eventTypes,stateGroups,<each resource type
 *     generated>}[/<id>]: names of the sources that exist so far
 *   control path (gateway http_cb): GET /evsim/stats, POST /evsim/forget
 *
 * Fault injection for the recorder's tests: --drop-every, --forget-every
 * (and SIGUSR1), --garbage-every, --state-delay, --refuse-tokens; see
 * usage().  SIGTERM/SIGINT close every connection with 1001, flush the
 * log, print a one-line summary on stderr and exit 0.
 *
 * The generator's state (and so getState) runs one message ahead of what
 * was published at a fixed rate: the next message is made in advance to
 * know when it is due.
 */
#include <sys/queue.h>
#include <sys/time.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtape/timefmt.h"
#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/gateway.h"
#include "evtape/gen.h"
#include "evtape/gw_opts.h"
#include "evtape/json.h"

#define TOP_SPEED_GEN_RATE 100000.0 /* event times at --rate 0 */
#define TOP_SPEED_CHUNK 4096	    /* messages per loop turn (the old
				       256 cost a third more CPU per event) */
#define TOP_SPEED_IDLE_CHUNK 256    /* ... per 10 ms while nobody reads */

/* Appends a string literal. */
#define PUTS(b, s) evt_buf_put((b), (s), strlen(s))

struct sim {
	struct event_base *base;
	struct evt_gwo gwo;	/* the gateway server: options, gwo.gw */
	struct evt_gen *cat;	/* catalog: cameras for REST, early states */
	struct evt_gen *gen;	/* the event stream, once started */
	struct evt_gen_opts gopts;

	double rate;
	uint64_t max_events;	/* 0: no limit */
	uint64_t forget_every, next_forget;
	FILE *log_sent;
	const char *log_path;
	FILE *log_times;	/* --log-sent-times */
	const char *times_path;

	int started, done;
	int paused;		/* --paused: generation waits for SIGUSR2 */
	uint64_t nevents, nmsgs;
	int64_t t0_mono_us;	/* monotonic time of the generator's start */

	/* The next message, made in advance (paced mode). */
	struct evt_buf pend;
	int64_t pend_rx;
	uint32_t pend_n;
	size_t pend_off[EVT_GEN_MAX_PER_MSG], pend_len[EVT_GEN_MAX_PER_MSG];
	int have_pend;

	struct event *tick_ev;	/* paced generation */
	struct event *prod_ev;	/* top-speed generation */
	struct event *sigs[4];	/* TERM, INT, USR1, USR2 */
	int waiting_drain;
	struct evt_buf scratch;
	int per_session;	/* --clock session: one timeline per session */
	LIST_HEAD(, timeline) timelines;

	/* Names (--resource-types, --late-sources, --rename-after,
	 * --late-404, --late-hang) and the REST item GETs answered, for
	 * tests of a recorder's name lookups and their pacing. */
	char *kinds_arg;
	const char *kinds[EVT_GEN_MAX_KINDS];
	uint64_t rename_after;	/* 0: never */
	int renamed;		/* the "configuration changed" event went */
	uint32_t late_404, late_hang;
	uint64_t rest_items;
	int64_t rest_first_us, rest_last_us;
};

/* A session's own timeline (--clock session): a generator started by its
 * first subscription, at top speed with the session's back-pressure. */
struct timeline {
	LIST_ENTRY(timeline) link;
	struct sim *sim;
	struct evt_gw_session *s;	/* NULL once the session is gone */
	struct evt_gen *gen;
	struct event *ev;
	uint64_t nevents;
};

/* Prints usage to f (o: the gateway options' defaults). */
static void
usage(FILE *f, const struct evt_gwo *o)
{
	fprintf(f,
"usage: evsim [options]\n"
"A simulated Milestone API Gateway with synthetic events.\n"
"  --rate N                mean events/s (default 200; 0 = top speed with\n"
"                          back-pressure from the clients)\n"
"  --seed N  --cameras N   generator options (defaults 1, 2659)\n"
"  --events N              stop generating after N events (keep serving;\n"
"                          with --clock session: per session)\n"
"  --log-sent FILE         write every generated message, one per line\n"
"  --log-sent-times FILE   write \"WALL_US ID\" per message as it is sent:\n"
"                          the wall clock in us, its first event's id\n"
"Sources and their names (Config REST):\n"
"  --resource-types LIST   sources of these resource types, in turn\n"
"                          (comma-separated; default cameras)\n"
"  --late-sources N        N more sources that appear during the stream,\n"
"                          one after every --late-every events (500)\n"
"  --rename-after N        rename the first source after N events\n"
"  --late-404 N            the last N late sources are unknown to REST\n"
"  --late-hang N           GET of the N late sources before those is never\n"
"                          answered\n"
"  -v, --verbose           more log (repeat for debug)\n"
"  -q, --quiet             errors only\n"
"  -h, --help              this text\n"
"Without --user (or with --any-user) every credential is accepted.\n"
"--clock session (one top-speed timeline per session, each with its own\n"
"back-pressure) needs --rate 0; the default is shared.\n");
	evt_gwo_usage(f, o);
	fprintf(f,
"Control path: GET /evsim/stats (JSON counters); POST /evsim/forget with a\n"
"Bearer token (a gateway recycle).\n"
"Fault injection:\n"
"  --drop-every N          drop each connection abruptly (no close frame)\n"
"                          after every N events sent to it\n"
"  --forget-every N        forget all sessions (gateway recycle, close\n"
"                          1001) after every N generated events; also on\n"
"                          SIGUSR1\n"
"  --garbage-every N       send a text frame that is not JSON after every\n"
"                          N events sent to a connection\n"
"  --state-delay S         answer getState after S seconds\n"
"  --refuse-tokens         the token endpoint refuses every request\n"
"  --paused                generate nothing until SIGUSR2 (instead of from\n"
"                          the first subscription)\n"
"Signals: TERM/INT close all connections (1001) and exit 0; USR1 forgets\n"
"all sessions; USR2 starts generating (--paused).\n");
}

/* gateway log_cb: prints lines up to the chosen level. */
static void
sim_log_cb(void *arg, int level, const char *msg)
{
	struct sim *sim = arg;

	evt_gwo_log(&sim->gwo, level, "%s", msg);
}

/* Flushes the --log-sent and --log-sent-times files. */
static void
flush_log(struct sim *sim)
{
	if (sim->log_sent != NULL && fflush(sim->log_sent) != 0)
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "%s: %s", sim->log_path,
		    strerror(errno));
	if (sim->log_times != NULL && fflush(sim->log_times) != 0)
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "%s: %s",
		    sim->times_path, strerror(errno));
}

/* --log-sent-times: the wall clock now and the id of the first event
 * (ev: its text, {"id":"...), the key a latency benchmark's clients
 * find the message by. */
static void
log_time(struct sim *sim, const char *ev, size_t len)
{
	const char *id = memmem(ev, len, "\"id\":\"", 6);
	int n = 0;

	if (id != NULL) {
		id += 6;
		while (id + n < ev + len && id[n] != '"')
			n++;
	}
	fprintf(sim->log_times, "%lld %.*s\n", (long long)evt_wall_us(), n,
	    id != NULL ? id : "");
}

/* Generation reached --events: stop and flush. */
static void
gen_done(struct sim *sim)
{
	sim->done = 1;
	event_del(sim->tick_ev);
	event_del(sim->prod_ev);
	flush_log(sim);
	evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO, "generation done: %llu events",
	    (unsigned long long)sim->nevents);
}

static void announce_rename(struct sim *);

/*
 * Publishes one message of n events (texts ev[i][0..lens[i]), with msg
 * the whole message text of len bytes), cut to --events, logs it and
 * applies --forget-every.
 */
static void
emit(struct sim *sim, const char *msg, size_t len, const char **ev,
    size_t *lens, uint32_t n)
{
	if (sim->max_events > 0 && sim->nevents + n > sim->max_events) {
		n = (uint32_t)(sim->max_events - sim->nevents);
		/* Rebuild the cut message for the log. */
		sim->scratch.len = 0;
		if (evt_ess_events_message(ev, lens, n, &sim->scratch) < 0) {
			evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "out of memory");
			exit(EVT_EXIT_FAIL);
		}
		msg = (const char *)sim->scratch.p;
		len = sim->scratch.len;
	}
	if (n == 0)
		return;
	if (sim->log_sent != NULL) {
		fwrite(msg, 1, len, sim->log_sent);
		fputc('\n', sim->log_sent);
	}
	if (sim->log_times != NULL)
		log_time(sim, ev[0], lens[0]);
	if (evt_gw_publish(sim->gwo.gw, ev, lens, n) != 0)
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR,
		    "publish: out of memory");
	sim->nevents += n;
	sim->nmsgs++;
	if (sim->forget_every > 0 && sim->nevents >= sim->next_forget) {
		while (sim->next_forget <= sim->nevents)
			sim->next_forget += sim->forget_every;
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO, "forgetting all "
		    "sessions after %llu events (--forget-every)",
		    (unsigned long long)sim->nevents);
		evt_gw_forget_sessions(sim->gwo.gw);
	}
	if (sim->rename_after > 0 && !sim->renamed &&
	    sim->nevents >= sim->rename_after)
		announce_rename(sim);
	if (sim->max_events > 0 && sim->nevents >= sim->max_events)
		gen_done(sim);
}

/*
 * At --rename-after: publishes a "System configuration changed" event
 * (docs/ess-protocol.md section 6) from the renamed source, as the real
 * gateway does when an administrator renames a device, and logs it as its
 * own message.
 */
static void
announce_rename(struct sim *sim)
{
	const char *kind, *id = evt_gen_source(sim->cat, 0, &kind);
	char ev[256], t[EVT_TICKS_LEN + 1];
	const char *evp = ev;
	size_t len;

	sim->renamed = 1;
	evt_ticks_format(evt_wall_us() * 10, t);
	t[EVT_TICKS_LEN] = '\0';
	len = (size_t)snprintf(ev, sizeof ev, "{\"id\":\"00000000-0000-4000-8000-"
	    "%012llx\",\"source\":\"%s/%.36s\",\"specversion\":\"1.0\","
	    "\"time\":\"%s\",\"type\":\"06c5010d-11f2-4d70-bd79-"
	    "4cec3a20d589\"}", (unsigned long long)sim->nevents, kind, id, t);
	if (sim->log_sent != NULL)
		fprintf(sim->log_sent, "{\"events\":[%s]}\n", ev);
	if (evt_gw_publish(sim->gwo.gw, &evp, &len, 1) != 0)
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "publish: out of memory");
	evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO, "source 1 renamed after %llu "
	    "events (--rename-after)", (unsigned long long)sim->nevents);
}

/* Makes the next message and keeps a copy as pending (paced mode). */
static void
make_pending(struct sim *sim)
{
	const char *json, *ev[EVT_GEN_MAX_PER_MSG];
	size_t len, lens[EVT_GEN_MAX_PER_MSG];
	uint32_t n;

	len = evt_gen_next(sim->gen, &json, &sim->pend_rx, &n);
	n = evt_gen_last_events(sim->gen, ev, lens);
	sim->pend.len = 0;
	if (evt_buf_put(&sim->pend, json, len) != 0) {
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "out of memory");
		exit(EVT_EXIT_FAIL);
	}
	for (uint32_t i = 0; i < n; i++) {
		sim->pend_off[i] = (size_t)(ev[i] - json);
		sim->pend_len[i] = lens[i];
	}
	sim->pend_n = n;
	sim->have_pend = 1;
}

/* Paced generation: publishes every message whose time has come, then
 * sleeps until the next one is due. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	const char *ev[EVT_GEN_MAX_PER_MSG];
	int64_t elapsed = evt_mono_us() - sim->t0_mono_us, due;
	struct timeval tv;
	int emitted = 0;

	while (!sim->done && sim->have_pend &&
	    (due = sim->pend_rx - sim->gopts.start_us) <= elapsed) {
		for (uint32_t i = 0; i < sim->pend_n; i++)
			ev[i] = (const char *)sim->pend.p + sim->pend_off[i];
		emit(sim, (const char *)sim->pend.p, sim->pend.len, ev,
		    sim->pend_len, sim->pend_n);
		emitted = 1;
		if (!sim->done)
			make_pending(sim);
	}
	if (emitted)
		flush_log(sim);
	if (sim->done)
		return;
	due = sim->pend_rx - sim->gopts.start_us - elapsed;
	tv.tv_sec = (time_t)(due / 1000000);
	tv.tv_usec = (suseconds_t)(due % 1000000);
	event_add(sim->tick_ev, &tv);
}

/*
 * Runs a production event again after us microseconds.  Never
 * event_active() from its own callback: libevent runs an event activated
 * in its callback again in the same pass, before polling, so a producer
 * that no back-pressure stops (its only session detached, a connection
 * without a session yet) spun at 100 % CPU without reading a socket or a
 * signal: the next client's startSession and SIGTERM were never seen.
 * A timer, even of 0 s, comes after the poll.
 */
static void
again(struct event *ev, long us)
{
	struct timeval tv = { 0, (suseconds_t)us };

	event_add(ev, &tv);
}

/* Top-speed generation: a chunk per loop turn while clients keep up. */
static void
prod_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sim *sim = arg;
	struct evt_gw_stats st;
	const char *json, *ev[EVT_GEN_MAX_PER_MSG];
	size_t len, lens[EVT_GEN_MAX_PER_MSG];
	int64_t rx;
	uint32_t n;
	int chunk;

	/* Nobody reads (no connected session with a subscription: only
	 * detached ones, or connections still without a session): no point
	 * filling histories at full CPU. */
	evt_gw_stats(sim->gwo.gw, &st);
	chunk = st.readers_now > 0 ? TOP_SPEED_CHUNK : TOP_SPEED_IDLE_CHUNK;
	for (int k = 0; k < chunk && !sim->done; k++) {
		if (evt_gw_congested(sim->gwo.gw)) {
			sim->waiting_drain = 1;
			return;
		}
		len = evt_gen_next(sim->gen, &json, &rx, &n);
		n = evt_gen_last_events(sim->gen, ev, lens);
		emit(sim, json, len, ev, lens, n);
	}
	if (sim->done)
		return;
	again(sim->prod_ev, st.readers_now > 0 ? 0 : 10000);
}

/* gateway drain_cb: the clients caught up. */
static void
sim_drain_cb(void *arg)
{
	struct sim *sim = arg;

	if (sim->waiting_drain && !sim->done &&
	    !evt_gwo_stopping(&sim->gwo)) {
		sim->waiting_drain = 0;
		event_active(sim->prod_ev, EV_TIMEOUT, 1);
	}
}

/* Starts the generator (on the first subscription). */
static void
start_generation(struct sim *sim)
{
	sim->started = 1;
	sim->gopts.start_us = evt_wall_us();
	if (sim->rate == 0)
		sim->gopts.rate = TOP_SPEED_GEN_RATE;
	if ((sim->gen = evt_gen_new(&sim->gopts)) == NULL) {
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "out of memory");
		exit(EVT_EXIT_FAIL);
	}
	sim->t0_mono_us = evt_mono_us();
	evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO, "first subscription: "
	    "generating at %s events/s", sim->rate == 0 ? "top speed" :
	    "the given rate");
	if (sim->max_events > 0 && sim->nevents >= sim->max_events) {
		gen_done(sim);
		return;
	}
	if (sim->rate == 0) {
		event_active(sim->prod_ev, EV_TIMEOUT, 1);
		return;
	}
	make_pending(sim);
	tick_cb(-1, 0, sim);
}

static void tl_free(struct timeline *);

/* A session's timeline at top speed: a chunk per loop turn while its own
 * client keeps up (evt_gw_session_congested); DRAINED wakes it up. */
static void
tl_prod_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeline *tl = arg;
	struct sim *sim = tl->sim;
	const char *json, *ev[EVT_GEN_MAX_PER_MSG];
	size_t lens[EVT_GEN_MAX_PER_MSG];
	int64_t rx;
	uint32_t n;

	if (tl->s == NULL) {	/* its session went: see sim_session_cb */
		tl_free(tl);
		return;
	}
	for (int k = 0; k < TOP_SPEED_CHUNK; k++) {
		if (evt_gwo_stopping(&sim->gwo) || (sim->max_events > 0 &&
		    tl->nevents >= sim->max_events) ||
		    evt_gw_session_congested(tl->s))
			return;
		(void)evt_gen_next(tl->gen, &json, &rx, &n);
		n = evt_gen_last_events(tl->gen, ev, lens);
		if (sim->max_events > 0 && tl->nevents + n > sim->max_events)
			n = (uint32_t)(sim->max_events - tl->nevents);
		if (evt_gw_publish_session(sim->gwo.gw, tl->s, ev, lens,
		    n) != 0)
			evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR,
			    "publish: out of memory");
		tl->nevents += n;
		sim->nevents += n;
		sim->nmsgs++;
	}
	again(tl->ev, 0);
}

/* Frees a session's timeline. */
static void
tl_free(struct timeline *tl)
{
	if (tl == NULL)
		return;
	LIST_REMOVE(tl, link);
	if (tl->ev != NULL)
		event_free(tl->ev);
	evt_gen_free(tl->gen);
	free(tl);
}

/* Starts a session's own timeline (--clock session). */
static void
tl_start(struct sim *sim, struct evt_gw_session *s)
{
	struct timeline *tl = calloc(1, sizeof *tl);
	struct evt_gen_opts o = sim->gopts;

	o.start_us = evt_wall_us();
	o.rate = TOP_SPEED_GEN_RATE;
	if (tl == NULL || (tl->gen = evt_gen_new(&o)) == NULL ||
	    (tl->ev = event_new(sim->base, -1, 0, tl_prod_cb, tl)) == NULL) {
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_ERR, "out of memory");
		exit(EVT_EXIT_FAIL);
	}
	tl->sim = sim;
	tl->s = s;
	LIST_INSERT_HEAD(&sim->timelines, tl, link);
	evt_gw_session_set_data(s, tl);
	event_active(tl->ev, EV_TIMEOUT, 1);
}

/* gateway session_cb. */
static void
sim_session_cb(void *arg, struct evt_gw_session *s, int what)
{
	struct sim *sim = arg;
	struct timeline *tl = evt_gw_session_data(s);

	if (!sim->per_session) {
		if (what == EVT_GW_SESSION_SUBSCRIBED && !sim->started &&
		    !evt_gwo_stopping(&sim->gwo) && !sim->paused)
			start_generation(sim);
		return;
	}
	if (what == EVT_GW_SESSION_SUBSCRIBED && tl == NULL &&
	    !evt_gwo_stopping(&sim->gwo))
		tl_start(sim, s);
	else if (what == EVT_GW_SESSION_DRAINED && tl != NULL)
		event_active(tl->ev, EV_TIMEOUT, 1);
	else if (what == EVT_GW_SESSION_GONE && tl != NULL) {
		/* Detached now, freed by its own event on a later loop turn,
		 * never inside the gateway's callback (the tmux rule). */
		tl->s = NULL;
		evt_gw_session_set_data(s, NULL);
		event_active(tl->ev, EV_TIMEOUT, 1);
	}
}

/* Appends "name":v to b, with a leading comma unless first. */
static int
put_count(struct evt_buf *b, const char *name, uint64_t v)
{
	int rc = 0;

	if (b->len > 1)
		rc |= evt_buf_putc(b, ',');
	rc |= evt_json_put_string(b, name, strlen(name));
	rc |= evt_buf_putc(b, ':');
	rc |= evt_json_put_int(b, 0, v);
	return rc;
}

/* gateway http_cb: the control path.  GET /evsim/stats answers the
 * counters; POST /evsim/forget (Bearer) recycles the gateway. */
static int
sim_http_cb(void *arg, const struct evt_gw_http_req *req,
    struct evt_buf *body, const char **ctype)
{
	struct sim *sim = arg;
	struct evt_gw_stats st;
	int rc = 0;

#define PATH_IS(p) (req->path_len == strlen(p) && \
	strncmp(req->path, (p), req->path_len) == 0)
	if (PATH_IS("/evsim/forget")) {
		if (strcmp(req->method, "POST") != 0)
			return 405;
		if (!req->authorized)
			return PUTS(body, "{\"error\":\"Bearer token "
			    "required\"}") ? -1 : 401;
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO,
		    "%s: POST /evsim/forget", req->peer);
		evt_gw_forget_sessions(sim->gwo.gw);
		return PUTS(body, "{\"forgotten\":true}") ? -1 : 200;
	}
	if (!PATH_IS("/evsim/stats"))
		return 0;
#undef PATH_IS
	if (strcmp(req->method, "GET") != 0)
		return 405;
	evt_gw_stats(sim->gwo.gw, &st);
	rc |= evt_buf_putc(body, '{');
	rc |= put_count(body, "events_generated", sim->nevents);
	rc |= put_count(body, "messages_generated", sim->nmsgs);
	rc |= put_count(body, "conns_accepted", st.conns_accepted);
	rc |= put_count(body, "conns_refused", st.conns_refused);
	rc |= put_count(body, "ws_upgrades", st.ws_upgrades);
	rc |= put_count(body, "http_requests", st.http_requests);
	rc |= put_count(body, "tokens_issued", st.tokens_issued);
	rc |= put_count(body, "auth_failures", st.auth_failures);
	rc |= put_count(body, "sessions_created", st.sessions_created);
	rc |= put_count(body, "resumes", st.resumes);
	rc |= put_count(body, "resumes_refused", st.resumes_refused);
	rc |= put_count(body, "sessions_expired", st.sessions_expired);
	rc |= put_count(body, "events_published", st.events_published);
	rc |= put_count(body, "events_sent", st.events_sent);
	rc |= put_count(body, "messages_sent", st.messages_sent);
	rc |= put_count(body, "events_lost", st.events_lost);
	rc |= put_count(body, "slow_closes", st.slow_closes);
	rc |= put_count(body, "protocol_closes", st.protocol_closes);
	rc |= put_count(body, "idle_closes", st.idle_closes);
	rc |= put_count(body, "conns_now", st.conns_now);
	rc |= put_count(body, "ws_now", st.ws_now);
	rc |= put_count(body, "sessions_now", st.sessions_now);
	rc |= put_count(body, "readers_now", st.readers_now);
	rc |= put_count(body, "rest_item_gets", sim->rest_items);
	rc |= put_count(body, "rest_item_span_us", (uint64_t)(sim->rest_last_us -
	    sim->rest_first_us));
	rc |= evt_buf_putc(body, '}');
	return rc ? -1 : 200;
}

/* gateway states_cb: the generator's current states, filtered. */
static int
sim_states_cb(void *arg, struct evt_gw_session *s,
    const struct evt_ess_subs *subs, struct evt_buf *out)
{
	struct sim *sim = arg;
	struct evt_gen *g = sim->gen != NULL ? sim->gen : sim->cat;
	const char *const *st;
	const size_t *lens;
	size_t n = evt_gen_state_list(g, &st, &lens);

	if (st == NULL)
		return EVT_ERR_NOMEM;
	return evt_ess_states_array(subs, st, lens, n, out) < 0 ?
	    EVT_ERR_NOMEM : 0;
}

/* Appends "key":"value" (value escaped) with a leading comma if comma. */
static int
put_kv(struct evt_buf *b, int comma, const char *key, const char *v,
    size_t vlen)
{
	int rc = 0;

	if (comma)
		rc |= evt_buf_putc(b, ',');
	rc |= evt_json_put_string(b, key, strlen(key));
	rc |= evt_buf_putc(b, ':');
	rc |= evt_json_put_string(b, v, vlen);
	return rc;
}

/* Appends a "relations":{"self":{"type":T,"id":I}} member. */
static int
put_self(struct evt_buf *b, const char *type, const char *id, size_t idlen)
{
	int rc = PUTS(b, ",\"relations\":{\"self\":{");

	rc |= put_kv(b, 0, "type", type, strlen(type));
	rc |= put_kv(b, 1, "id", id, idlen);
	rc |= PUTS(b, "}}");
	return rc;
}

/* The id of event type i. */
static const char *
type_id(const struct sim *sim, size_t i)
{
	size_t n;

	return evt_gen_event_types(&n)[i].id;
}

/* Appends event type i's object. */
static int
put_type(const struct sim *sim, struct evt_buf *b, size_t i)
{
	size_t n;
	const struct evt_gen_type *t = &evt_gen_event_types(&n)[i];
	int rc = evt_buf_putc(b, '{');

	rc |= put_kv(b, 0, "id", t->id, strlen(t->id));
	rc |= put_kv(b, 1, "name", t->name, strlen(t->name));
	rc |= put_kv(b, 1, "displayName", t->display_name,
	    strlen(t->display_name));
	if (t->state_group != NULL) {
		rc |= put_kv(b, 1, "stateGroupId", t->state_group,
		    strlen(t->state_group));
		rc |= put_kv(b, 1, "state", t->state, strlen(t->state));
	}
	rc |= put_self(b, "eventTypes", t->id, strlen(t->id));
	rc |= evt_buf_putc(b, '}');
	return rc;
}

/* The id of state group i. */
static const char *
group_id(const struct sim *sim, size_t i)
{
	size_t n;

	return evt_gen_state_groups(&n)[i].id;
}

/* Appends state group i's object. */
static int
put_group(const struct sim *sim, struct evt_buf *b, size_t i)
{
	size_t n;
	const struct evt_gen_state_group *g = &evt_gen_state_groups(&n)[i];
	int rc = evt_buf_putc(b, '{');

	rc |= put_kv(b, 0, "id", g->id, strlen(g->id));
	rc |= put_kv(b, 1, "name", g->name, strlen(g->name));
	rc |= put_kv(b, 1, "displayName", g->name, strlen(g->name));
	rc |= PUTS(b, ",\"states\":[");
	for (size_t k = 0; k < g->nstates; k++) {
		if (k > 0)
			rc |= evt_buf_putc(b, ',');
		rc |= evt_json_put_string(b, g->states[k],
		    strlen(g->states[k]));
	}
	rc |= evt_buf_putc(b, ']');
	rc |= put_self(b, "stateGroups", g->id, strlen(g->id));
	rc |= evt_buf_putc(b, '}');
	return rc;
}

/* One collection of the Config REST subset: its items by index. */
struct rest_coll {
	const char *name;
	const char *(*id)(const struct sim *, size_t);
	int (*put)(const struct sim *, struct evt_buf *, size_t);
};

/* Answers a collection: the whole of it ({"array":[...]}) if id is NULL,
 * else the item with that id ({"data":...}, ignoring case) or 404. */
static int
rest_answer(const struct sim *sim, const struct rest_coll *c, size_t n,
    const char *id, size_t idlen, struct evt_buf *body)
{
	int rc = 0;

	if (id == NULL) {
		rc |= PUTS(body, "{\"array\":[");
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				rc |= evt_buf_putc(body, ',');
			rc |= c->put(sim, body, i);
		}
		rc |= PUTS(body, "]}");
		return rc ? -1 : 200;
	}
	for (size_t i = 0; i < n; i++) {
		const char *guid = c->id(sim, i);
		if (idlen != strlen(guid) || strncasecmp(guid, id, idlen) != 0)
			continue;
		rc |= PUTS(body, "{\"data\":");
		rc |= c->put(sim, body, i);
		rc |= evt_buf_putc(body, '}');
		return rc ? -1 : 200;
	}
	return 404;
}

/* The generator whose sources REST describes: the one with the most
 * late sources appeared (the shared stream's, or the busiest timeline's),
 * else the catalog. */
static const struct evt_gen *
rest_gen(const struct sim *sim)
{
	const struct evt_gen *g = sim->gen != NULL ? sim->gen : sim->cat;
	const struct timeline *tl;

	LIST_FOREACH(tl, &sim->timelines, link)
		if (evt_gen_nsources(tl->gen) > evt_gen_nsources(g))
			g = tl->gen;
	return g;
}

/* What Config REST knows of source i: 0 nothing (--late-404), 1 hangs
 * (--late-hang), 2 answered. */
static int
source_rest(const struct sim *sim, uint32_t i)
{
	uint32_t ncam = evt_gen_ncameras(sim->cat), nlate = sim->gopts.nlate;

	if (i < ncam + nlate - sim->late_404 - sim->late_hang)
		return 2;
	return i < ncam + nlate - sim->late_404 ? 1 : 0;
}

/* Appends source i's object (g's source of resource type kind). */
static int
put_source(const struct sim *sim, const struct evt_gen *g,
    struct evt_buf *b, uint32_t i)
{
	const char *kind, *id = evt_gen_source(g, i, &kind);
	char name[80];
	int rc = evt_buf_putc(b, '{');

	snprintf(name, sizeof name, "%s %04u%s", strcmp(kind, "cameras") ==
	    0 ? "Camera" : kind, i + 1, i == 0 && sim->rename_after > 0 &&
	    sim->nevents >= sim->rename_after ? " (renamed)" : "");
	rc |= put_kv(b, 0, "id", id, 36);
	rc |= put_kv(b, 1, "name", name, strlen(name));
	rc |= put_kv(b, 1, "displayName", name, strlen(name));
	rc |= PUTS(b, ",\"enabled\":true");
	rc |= put_self(b, kind, id, 36);
	rc |= evt_buf_putc(b, '}');
	return rc;
}

/* Answers a collection of sources (coll[0..colln), e.g. "cameras"): all
 * that exist and REST knows if id is NULL, else the one with that id;
 * 404 for a resource type the generator has no source of. */
static int
rest_sources(struct sim *sim, const char *coll, size_t colln,
    const char *id, size_t idlen, struct evt_buf *body)
{
	const struct evt_gen *g = rest_gen(sim);
	const char *kind, *guid;
	int rc = 0, any = 0, first = 1;

	if (id != NULL) {
		sim->rest_items++;
		sim->rest_last_us = evt_mono_us();
		if (sim->rest_first_us == 0)
			sim->rest_first_us = sim->rest_last_us;
	} else
		rc |= PUTS(body, "{\"array\":[");
	for (uint32_t i = 0; i < evt_gen_nsources(g); i++) {
		guid = evt_gen_source(g, i, &kind);
		if (strlen(kind) != colln || strncasecmp(kind, coll, colln) != 0)
			continue;
		any = 1;
		if (id == NULL) {
			if (source_rest(sim, i) != 2)
				continue;
			if (!first)
				rc |= evt_buf_putc(body, ',');
			first = 0;
			rc |= put_source(sim, g, body, i);
			continue;
		}
		if (idlen != 36 || strncasecmp(guid, id, 36) != 0)
			continue;
		if (source_rest(sim, i) != 2)
			return source_rest(sim, i) == 1 ? EVT_GW_REST_HOLD : 404;
		rc |= PUTS(body, "{\"data\":");
		rc |= put_source(sim, g, body, i);
		rc |= evt_buf_putc(body, '}');
		return rc ? -1 : 200;
	}
	if (id != NULL || !any) {
		body->len = 0;
		return 404;
	}
	rc |= PUTS(body, "]}");
	return rc ? -1 : 200;
}

/* gateway rest_cb: the Config REST subset, path[0..len) below
 * /api/rest/v1/: a collection, or "<collection>/<id>": event types, state
 * groups, and the sources of every resource type generated. */
static int
sim_rest_cb(void *arg, struct evt_gw_session *s, const char *path,
    size_t len, struct evt_buf *body)
{
	static const struct rest_coll colls[] = {
		{"eventTypes", type_id, put_type},
		{"stateGroups", group_id, put_group},
	};
	struct sim *sim = arg;
	const char *slash = memchr(path, '/', len);
	size_t counts[2], colln = slash != NULL ? (size_t)(slash - path) : len;

	evt_gen_event_types(&counts[0]);
	evt_gen_state_groups(&counts[1]);
	for (size_t k = 0; k < 2; k++) {
		if (colln != strlen(colls[k].name) ||
		    strncasecmp(path, colls[k].name, colln) != 0)
			continue;
		return rest_answer(sim, &colls[k], counts[k], slash == NULL ?
		    NULL : slash + 1, slash == NULL ? 0 : len - colln - 1,
		    body);
	}
	if (colln == 0 || (slash != NULL && memchr(slash + 1, '/', len -
	    colln - 1) != NULL))
		return 404;
	return rest_sources(sim, path, colln, slash == NULL ? NULL :
	    slash + 1, slash == NULL ? 0 : len - colln - 1, body);
}

/* SIGTERM / SIGINT: close everything with 1001 and exit. */
static void
term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	if (evt_gwo_stopping(&sim->gwo))
		return;
	evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO, "signal %d: shutting down",
	    (int)sig);
	event_del(sim->tick_ev);
	event_del(sim->prod_ev);
	flush_log(sim);
	(void)evt_gwo_shutdown(&sim->gwo);
}

/* SIGUSR1: gateway recycle. */
static void
usr1_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	evt_gwo_log(&sim->gwo, EVT_GW_LOG_INFO,
	    "SIGUSR1: forgetting all sessions");
	evt_gw_forget_sessions(sim->gwo.gw);
}

/* SIGUSR2: starts the generator held back by --paused. */
static void
usr2_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sim *sim = arg;

	sim->paused = 0;
	if (!sim->started && !evt_gwo_stopping(&sim->gwo))
		start_generation(sim);
}

/* evsim's own options (getopt_long codes below EVT_GWO_FIRST). */
enum {
	O_RATE = 256, O_SEED, O_CAMS, O_EVENTS, O_LOG, O_DROP, O_FORGET,
	O_GARBAGE, O_SDELAY, O_REFUSE, O_PAUSED, O_KINDS, O_LATE, O_LATE_EVERY,
	O_RENAME, O_LATE_404, O_LATE_HANG, O_LOG_TIMES
};

/* Takes --resource-types LIST: comma-separated resource types (1..31
 * letters each, at most EVT_GEN_MAX_KINDS), or exits 2. */
static void
sim_kinds(struct sim *sim, const char *arg)
{
	char *save = NULL, *k;
	size_t n = 0;

	free(sim->kinds_arg);
	if ((sim->kinds_arg = strdup(arg)) == NULL)
		evt_cli_fatal("out of memory");
	for (k = strtok_r(sim->kinds_arg, ",", &save); k != NULL;
	    k = strtok_r(NULL, ",", &save)) {
		size_t len = strspn(k, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ");

		if (len == 0 || len > 31 || k[len] != '\0' ||
		    n == EVT_GEN_MAX_KINDS)
			evt_cli_range_err("--resource-types", arg, "up to 16 "
			    "comma-separated names of 1..31 letters");
		sim->kinds[n++] = k;
	}
	if (n == 0)
		evt_cli_range_err("--resource-types", arg, "at least one name");
	sim->gopts.kinds = sim->kinds;
	sim->gopts.nkinds = n;
}

/* Takes one of evsim's own options; returns 0, or -1 if c is unknown. */
static int
sim_opt(struct sim *sim, int c, const char *arg)
{
	struct evt_gw_opts *go = &sim->gwo.go;
	uint64_t n;

	switch (c) {
	case O_RATE:
		sim->rate = evt_cli_number_arg("--rate", arg);
		if (!(sim->rate >= 0) || sim->rate > 1e8)
			evt_cli_range_err("--rate", arg, "0..1e8 events/s");
		break;
	case O_SEED: sim->gopts.seed = evt_cli_count_arg("--seed", arg); break;
	case O_CAMS:
		n = evt_cli_count_arg("--cameras", arg);
		if (n < 1 || n > 1000000)
			evt_cli_range_err("--cameras", arg, "1..1000000");
		sim->gopts.ncameras = (uint32_t)n;
		break;
	case O_EVENTS:
		if ((sim->max_events = evt_cli_count_arg("--events", arg)) == 0)
			evt_cli_range_err("--events", arg, "at least 1");
		break;
	case O_LOG: sim->log_path = arg; break;
	case O_LOG_TIMES: sim->times_path = arg; break;
	case O_DROP: go->drop_every = evt_cli_count_arg("--drop-every", arg);
		break;
	case O_FORGET:
		sim->forget_every = evt_cli_count_arg("--forget-every", arg);
		sim->next_forget = sim->forget_every;
		break;
	case O_GARBAGE:
		go->garbage_every = evt_cli_count_arg("--garbage-every", arg);
		break;
	case O_SDELAY:
		go->state_delay = (double)evt_cli_duration_arg("--state-delay",
		    arg) / 1e6;
		if (go->state_delay > 1e6)
			evt_cli_range_err("--state-delay", arg, "up to 1e6 s");
		break;
	case O_REFUSE: go->refuse_tokens = 1; break;
	case O_KINDS: sim_kinds(sim, arg); break;
	case O_LATE:
		n = evt_cli_count_arg("--late-sources", arg);
		if (n > 100000)
			evt_cli_range_err("--late-sources", arg, "0..100000");
		sim->gopts.nlate = (uint32_t)n;
		break;
	case O_LATE_EVERY:
		n = evt_cli_count_arg("--late-every", arg);
		if (n < 1 || n > 1000000000)
			evt_cli_range_err("--late-every", arg, "1..1e9");
		sim->gopts.late_every = (uint32_t)n;
		break;
	case O_RENAME:
		sim->rename_after = evt_cli_count_arg("--rename-after", arg);
		break;
	case O_LATE_404:
		n = evt_cli_count_arg("--late-404", arg);
		sim->late_404 = n > 100000 ? 100001 : (uint32_t)n;
		break;
	case O_LATE_HANG:
		n = evt_cli_count_arg("--late-hang", arg);
		sim->late_hang = n > 100000 ? 100001 : (uint32_t)n;
		break;
	case O_PAUSED: sim->paused = 1; break;
	case 'v':
		if (sim->gwo.verbosity < EVT_GW_LOG_DEBUG)
			sim->gwo.verbosity++;
		break;
	case 'q': sim->gwo.verbosity = EVT_GW_LOG_ERR; break;
	default: return -1;
	}
	return 0;
}

/* Parses the command line into sim, or exits (0 after --help, 2 on a
 * usage error). */
static void
parse_args(struct sim *sim, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "rate", required_argument, NULL, O_RATE },
		{ "seed", required_argument, NULL, O_SEED },
		{ "cameras", required_argument, NULL, O_CAMS },
		{ "events", required_argument, NULL, O_EVENTS },
		{ "log-sent", required_argument, NULL, O_LOG },
		{ "log-sent-times", required_argument, NULL, O_LOG_TIMES },
		{ "drop-every", required_argument, NULL, O_DROP },
		{ "forget-every", required_argument, NULL, O_FORGET },
		{ "garbage-every", required_argument, NULL, O_GARBAGE },
		{ "state-delay", required_argument, NULL, O_SDELAY },
		{ "refuse-tokens", no_argument, NULL, O_REFUSE },
		{ "paused", no_argument, NULL, O_PAUSED },
		{ "resource-types", required_argument, NULL, O_KINDS },
		{ "late-sources", required_argument, NULL, O_LATE },
		{ "late-every", required_argument, NULL, O_LATE_EVERY },
		{ "rename-after", required_argument, NULL, O_RENAME },
		{ "late-404", required_argument, NULL, O_LATE_404 },
		{ "late-hang", required_argument, NULL, O_LATE_HANG },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		EVT_GWO_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;	/* evt_cli_getopt_err says it */
	while ((ch = getopt_long(argc, argv, ":vqh", lopts, NULL)) != -1) {
		if (ch == '?' || ch == ':')
			evt_cli_getopt_err(ch, argv);
		if (ch == 'h') {
			usage(stdout, &sim->gwo);
			exit(EVT_EXIT_OK);
		}
		if (evt_gwo_arg(&sim->gwo, ch, optarg) == 0 &&
		    sim_opt(sim, ch, optarg) != 0) {
			usage(stderr, &sim->gwo);
			exit(EVT_EXIT_USAGE);
		}
	}
	if (optind < argc)
		evt_cli_usage_err("unexpected argument '%s'", argv[optind]);
	evt_gwo_check(&sim->gwo);
	sim->per_session = sim->gwo.clock == EVT_GWO_CLOCK_SESSION;
	if (sim->per_session && sim->rate != 0)
		evt_cli_usage_err("--clock session needs --rate 0");
	if ((uint64_t)sim->late_404 + sim->late_hang > sim->gopts.nlate)
		evt_cli_usage_err("--late-404 and --late-hang are more than "
		    "--late-sources");
}

/* Wires the gateway's callbacks to the simulation. */
static void
sim_wire(struct sim *sim)
{
	struct evt_gw_opts *go = &sim->gwo.go;

	sim->gopts.rate = sim->rate;
	go->log_cb = sim_log_cb;
	go->states_cb = sim_states_cb;
	go->rest_cb = sim_rest_cb;
	go->session_cb = sim_session_cb;
	go->drain_cb = sim_drain_cb;
	go->http_cb = sim_http_cb;
	go->arg = sim;
	if (go->username == NULL && !sim->gwo.any_user)
		evt_gwo_log(&sim->gwo, EVT_GW_LOG_WARN, "no --user: the token "
		    "endpoint accepts any credential");
}

/* Opens --log-sent, creates the loop, the catalog, the generation timers
 * and the signal events.  Returns 0 or -1 (reported). */
static int
sim_setup(struct sim *sim)
{
	static const int signo[4] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };
	static void (*const sigcb[4])(evutil_socket_t, short, void *) = {
		term_cb, term_cb, usr1_cb, usr2_cb };

	if (sim->log_path != NULL &&
	    (sim->log_sent = fopen(sim->log_path, "w")) == NULL) {
		evt_cli_err("%s: %s", sim->log_path, strerror(errno));
		return -1;
	}
	if (sim->times_path != NULL &&
	    (sim->log_times = fopen(sim->times_path, "w")) == NULL) {
		evt_cli_err("%s: %s", sim->times_path, strerror(errno));
		return -1;
	}
	if ((sim->base = event_base_new()) == NULL ||
	    (sim->cat = evt_gen_new(&sim->gopts)) == NULL ||
	    (sim->tick_ev = evtimer_new(sim->base, tick_cb, sim)) == NULL ||
	    (sim->prod_ev = event_new(sim->base, -1, 0, prod_cb, sim)) ==
	    NULL) {
		evt_cli_err("out of memory");
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if ((sim->sigs[i] = evsignal_new(sim->base, signo[i], sigcb[i],
		    sim)) == NULL || event_add(sim->sigs[i], NULL) != 0) {
			evt_cli_err("cannot set up events");
			return -1;
		}
	return 0;
}

/* The one-line summary on stderr at the end. */
static void
sim_summary(struct sim *sim)
{
	struct evt_gw_stats st;

	evt_gw_stats(sim->gwo.gw, &st);
	evt_cli_err("%llu events generated, %llu sent, %llu connections (%llu "
	    "WebSocket), %llu sessions, %llu resumed, %llu resumes refused, "
	    "%llu drops, %llu tokens issued",
	    (unsigned long long)sim->nevents,
	    (unsigned long long)st.events_sent,
	    (unsigned long long)st.conns_accepted,
	    (unsigned long long)st.ws_upgrades,
	    (unsigned long long)st.sessions_created,
	    (unsigned long long)st.resumes,
	    (unsigned long long)st.resumes_refused,
	    (unsigned long long)st.drops,
	    (unsigned long long)st.tokens_issued);
}

/* Frees everything; returns status, or EVT_EXIT_FAIL if the --log-sent
 * file could not be written to its end. */
static int
sim_free(struct sim *sim, int status)
{
	evt_gwo_free(&sim->gwo);
	while (!LIST_EMPTY(&sim->timelines))
		tl_free(LIST_FIRST(&sim->timelines));
	for (int i = 0; i < 4; i++)
		if (sim->sigs[i] != NULL)
			event_free(sim->sigs[i]);
	if (sim->tick_ev != NULL)
		event_free(sim->tick_ev);
	if (sim->prod_ev != NULL)
		event_free(sim->prod_ev);
	if (sim->base != NULL)
		event_base_free(sim->base);
	evt_gen_free(sim->gen);
	evt_gen_free(sim->cat);
	evt_buf_free(&sim->pend);
	evt_buf_free(&sim->scratch);
	free(sim->kinds_arg);
	if (sim->log_sent != NULL && fclose(sim->log_sent) != 0) {
		evt_cli_err("%s: %s", sim->log_path, strerror(errno));
		status = EVT_EXIT_FAIL;
	}
	if (sim->log_times != NULL && fclose(sim->log_times) != 0) {
		evt_cli_err("%s: %s", sim->times_path, strerror(errno));
		status = EVT_EXIT_FAIL;
	}
	return status;
}

/* Parses the options, starts the gateway, runs the loop until a signal,
 * then prints the summary. */
int
main(int argc, char **argv)
{
	static struct sim sim;
	int status;

	evt_cli_init("evsim");
	evt_gwo_init(&sim.gwo, EVT_GWO_CLOCK_SHARED, 0);
	sim.rate = 200;
	sim.gopts.seed = 1;
	parse_args(&sim, argc, argv);
	sim_wire(&sim);
	if (sim_setup(&sim) != 0)
		return sim_free(&sim, EVT_EXIT_FAIL);
	if ((status = evt_gwo_start(&sim.gwo, sim.base)) != 0)
		return sim_free(&sim, status);
	event_base_dispatch(sim.base);
	flush_log(&sim);
	sim_summary(&sim);
	return sim_free(&sim, EVT_EXIT_OK);
}
