/*
 * gateway.c: the simulated API Gateway server (see gateway.h): options and
 * their defaults, the listener, sessions and publishing, and the WebSocket
 * phase of a connection.  Its HTTP phase (accept, requests, tokens, the
 * upgrade's checks) is gateway_http.c; what both share is gateway_int.h.
 *
 * Data flow:
 *
 *   evconnlistener -> gw_accept_cb (gateway_http.c) -> struct gw_conn
 *     (C_HTTP) ... a checked upgrade with its 101 queued -> gw_ws_start:
 *     the bufferevent goes to an evt_wsconn, an evt_ess_conn is created
 *     (C_WS) -> ws_text_cb -> ws_frame -> evt_ess_conn_input
 *       -> response frame sent; startSession binds a session (new or
 *          resumed through gw_resume_cb), addSubscription may announce
 *          SUBSCRIBED
 *   evt_gw_publish -> one evt_gwh_event per event -> every session's
 *     history (gw_history.c) -> conn_pump: {"events":[...]} messages while
 *     the connection's output queue is below GW_PUMP_HIWAT; on_drain pumps
 *     again.  A send that wsconn refuses (it is closing on its own: the
 *     peer's close frame, a failed frame) detaches the session at once.
 *   Slow clients: the history holds what the connection has not taken;
 *     one that overflows with unsent events closes the connection with
 *     1008 "client too slow" (sess_take).  backlog_high is kept at half
 *     the history or below, so a producer honouring evt_gw_congested()
 *     never causes that for a client that keeps up.
 *
 * Sessions own their history and, while they have no connection, their
 * subscription set; while connected the set lives in the connection's
 * evt_ess_conn (taken back with evt_ess_conn_take_subs when it goes, handed
 * to the next connection through resume_cb).
 *
 * Lifetime: a connection is torn down in one place, gw_conn_kill, which
 * releases its sockets and protocol state at once and moves the struct to
 * a zombie list freed on a later loop turn (reap_ev), so that no callback
 * further up the stack touches freed memory (the tmux rule).  wsconn and
 * bufferevent objects may be freed inside their own callbacks (both defer
 * their own teardown).
 *
 * Decisions where docs/ess-protocol.md is silent:
 *   - Resume: unknown or expired session, or an eventId that is no longer
 *     in the session's history -> 201 and a new session; empty eventId on a
 *     known session -> the whole history is sent again.  A session resumed
 *     while another connection still holds it: that connection is closed
 *     with 1008 "session resumed elsewhere".
 *   - The resume window counts from the disconnect; the history keeps the
 *     window's worth of events before the disconnect and everything after
 *     it, within history_bytes.
 *   - Issued tokens: 32 random bytes in base64url; a Bearer header that is
 *     present but invalid -> 401 at the upgrade; absent -> 101 and the
 *     authenticate command.
 *   - Sessions belong to the user whose token started them (the token
 *     endpoint's username; each static token is a user of its own): a
 *     resume with another user's token is refused like an unknown
 *     session (201), so a session id seen elsewhere (a status page, a log)
 *     opens nothing.
 *   - A gateway recycle (evt_gw_forget_sessions) closes with 1001.
 *   - Time limits: an HTTP request has http_timeout from its first byte
 *     (then 408 and close: slowloris, also on the upgrade); a keep-alive
 *     connection http_idle between requests (then closed); a WebSocket
 *     ws_session_timeout to start a session (then 1008 "no session started
 *     within N s"; commands before startSession are answered 400 until
 *     then); optionally sub_timeout to subscribe (1008).
 *   - Paths the gateway does not serve go to http_cb before the 404.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "evtape/buf.h"
#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/gateway.h"
#include "evtape/gw_history.h"
#include "evtape/http.h"
#include "evtape/json.h"
#include "evtape/timefmt.h"
#include "evtape/wsconn.h"
#include "gateway_int.h"

#define GW_PUMP_HIWAT ((size_t)512 << 10) /* feed a connection below this */
#define GW_PUMP_LOWAT EVT_GW_BACKLOG_LOW_MIN /* on_drain fires at this */
#define GW_DROP_POLL_US 2000		  /* drop_every: flush poll */
#define GW_DROP_FLUSH_MAX 10.0		  /* s to flush before a drop */
#define GW_DROP_LINGER 5.0		  /* s to wait for the peer's EOF */
#define GW_GARBAGE "this is not JSON {" /* garbage_every frame */

/* What a WebSocket's idle timer waits for. */
enum { IDLE_NONE = 0, IDLE_NO_SESSION, IDLE_NO_SUB };

static void conn_pump(struct gw_conn *);
static int ws_close(struct gw_conn *, int, const char *);
static void ws_frame(struct gw_conn *, const char *, size_t);
static void ws_idle_update(struct gw_conn *);

/* ------------------------------------------------------------ utilities */

/* Converts seconds to a timeval. */
struct timeval
gw_tv(double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Formats a log line and hands it to log_cb. */
void
gw_log(struct evt_gw *gw, int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (gw->o.log_cb == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	gw->o.log_cb(gw->o.arg, level, line);
}

/* Duplicates a string (NULL stays NULL); sets *fail on out of memory. */
static char *
dup_str(const char *s, int *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return d;
}

/* Writes a fresh random version-4 GUID (36 lower-case characters);
 * returns 36, or 0 if the CSPRNG fails. */
static size_t
new_guid(char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t g[16];
	size_t k = 0;

	if (RAND_bytes(g, sizeof g) != 1)
		return 0;
	g[6] = (uint8_t)((g[6] & 0x0f) | 0x40);
	g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[g[i] >> 4];
		out[k++] = hex[g[i] & 15];
	}
	return k;
}

/* -------------------------------------------------------------- sessions */

/* Returns the subscription set that applies to a session now. */
static const struct evt_ess_subs *
sess_subs(const struct evt_gw_session *s)
{
	return s->conn != NULL ? evt_ess_conn_subs(s->conn->ess) : s->subs;
}

/* Calls session_cb unless the gateway is being freed. */
static void
sess_notify(struct evt_gw_session *s, int what)
{
	struct evt_gw *gw = s->gw;

	if (!gw->freeing && gw->o.session_cb != NULL)
		gw->o.session_cb(gw->o.arg, s, what);
}

/* Announces DRAINED if the session's producer waits for it and the
 * connected session's backlog is low enough. */
static void
sess_check_drain(struct evt_gw_session *s)
{
	if (s->drain_armed && s->conn != NULL &&
	    evt_gw_session_backlog(s) <= s->gw->o.backlog_low) {
		s->drain_armed = 0;
		sess_notify(s, EVT_GW_SESSION_DRAINED);
	}
}

/* Finds a session by id. */
static struct evt_gw_session *
sess_find(struct evt_gw *gw, const char *id, size_t len)
{
	struct evt_gw_session *s;

	TAILQ_FOREACH(s, &gw->sessions, link)
		if (s->idlen == len && memcmp(s->id, id, len) == 0)
			return s;
	return NULL;
}

/* Frees a session; its connection (if any) loses it. */
static void
sess_free(struct evt_gw_session *s, int notify)
{
	struct evt_gw *gw = s->gw;

	TAILQ_REMOVE(&gw->sessions, s, link);
	gw->st.sessions_now--;
	if (s->conn != NULL) {
		s->conn->sess = NULL;
		s->conn = NULL;
	}
	if (notify)
		sess_notify(s, EVT_GW_SESSION_GONE);
	evt_ess_subs_free(s->subs);
	evt_gwh_free(s->hist);
	event_free(s->expire_ev);
	free(s);
}

/* The resume window of a detached session is over. */
static void
sess_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_gw_session *s = arg;
	struct evt_gw *gw = s->gw;

	gw_log(gw, EVT_GW_LOG_INFO, "session %.*s expired", (int)s->idlen,
	    s->id);
	gw->st.sessions_expired++;
	sess_free(s, 1);
}

/* Detaches a session from its connection: it keeps the subscriptions and
 * waits for a resume during the window. */
static void
sess_detach(struct evt_gw_session *s)
{
	struct gw_conn *c = s->conn;
	struct evt_gw *gw = s->gw;
	struct timeval tv = gw_tv(gw->o.resume_window);

	if (c == NULL)
		return;
	evt_ess_subs_free(s->subs);
	s->subs = evt_ess_conn_take_subs(c->ess);
	c->sess = NULL;
	s->conn = NULL;
	s->detached_us = evt_mono_us();
	event_add(s->expire_ev, &tv);
	if (gw->drain_armed)
		event_active(gw->drain_ev, EV_TIMEOUT, 1);
	sess_notify(s, EVT_GW_SESSION_DETACHED);
}

/* Notes that connection c now holds session s (REST requests with c's
 * token are answered for s). */
static void
sess_bound(struct evt_gw_session *s, struct gw_conn *c)
{
	s->tok_hash = c->tok_hash;
	s->bound_seq = ++c->gw->bind_seq;
}

/* Creates a session bound to connection c; returns it or NULL. */
static struct evt_gw_session *
sess_new(struct evt_gw *gw, struct gw_conn *c, const char *id, size_t len)
{
	struct evt_gw_session *s, *old;

	if (len == 0 || len > EVT_ESS_ID_MAX)
		return NULL;
	if (gw->st.sessions_now >= gw->o.max_sessions) {
		/* Drop the oldest session that waits for a resume. */
		TAILQ_FOREACH(old, &gw->sessions, link)
			if (old->conn == NULL)
				break;
		if (old != NULL) {
			gw_log(gw, EVT_GW_LOG_WARN,
			    "too many sessions: forgetting %.*s",
			    (int)old->idlen, old->id);
			gw->st.sessions_expired++;
			sess_free(old, 1);
		}
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->gw = gw;
	memcpy(s->id, id, len);
	s->idlen = len;
	memcpy(s->owner, c->owner, GW_OWNER_LEN);
	s->hist = evt_gwh_new(gw->o.history_bytes);
	s->expire_ev = evtimer_new(gw->base, sess_expire_cb, s);
	if (s->hist == NULL || s->expire_ev == NULL) {
		evt_gwh_free(s->hist);
		if (s->expire_ev != NULL)
			event_free(s->expire_ev);
		free(s);
		return NULL;
	}
	s->conn = c;
	c->sess = s;
	sess_bound(s, c);
	TAILQ_INSERT_TAIL(&gw->sessions, s, link);
	gw->st.sessions_now++;
	gw->st.sessions_created++;
	return s;
}

/*
 * Adds the events a session's subscriptions deliver to its history (one
 * message's worth), trims it, and feeds its connection.  Returns 0 or
 * EVT_ERR_NOMEM.
 */
static int
sess_take(struct evt_gw_session *s, struct evt_gwh_event *const *evs,
    size_t n, int64_t now)
{
	struct evt_gw *gw = s->gw;
	const struct evt_ess_subs *subs = sess_subs(s);
	int64_t window = (int64_t)(gw->o.resume_window * 1e6);
	uint64_t lost;
	int first = 1, rc = 0;

	if (evt_ess_subs_count(subs) == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!evt_gwh_event_delivers(evs[i], subs) &&
		    !evt_gwh_event_is_raw(evs[i]))
			continue;
		if (evt_gwh_push(s->hist, evs[i], now, first) != 0) {
			rc = EVT_ERR_NOMEM;
			break;
		}
		first = 0;
	}
	evt_gwh_trim(s->hist, (s->conn != NULL ? now : s->detached_us) -
	    window);
	if ((lost = evt_gwh_take_lost(s->hist)) > 0) {
		gw->st.events_lost += lost;
		if (s->conn != NULL) {
			gw->st.slow_closes++;
			gw_log(gw, EVT_GW_LOG_WARN, "%s: client too slow, %llu "
			    "events left its history; closing",
			    s->conn->peer, (unsigned long long)lost);
			ws_close(s->conn, 1008, "client too slow");
		}
	}
	if (s->conn != NULL)
		conn_pump(s->conn);
	return rc;
}

/* Publishes to one session or (s == NULL) to all; raw: each ev[i] is a
 * whole frame of its own (evt_gwh_raw_new). */
static int
publish(struct evt_gw *gw, struct evt_gw_session *only, const char *const *ev,
    const size_t *lens, size_t n, int raw)
{
	struct evt_gwh_event *stack[16], **evs = stack;
	struct evt_gw_session *s, *next;
	int64_t now = evt_mono_us();
	size_t i, made = 0;
	int rc = 0;

	if (n == 0)
		return 0;
	if (n > 16 && (evs = calloc(n, sizeof *evs)) == NULL)
		return EVT_ERR_NOMEM;
	for (i = 0; i < n; i++, made++)
		if ((evs[i] = (raw ? evt_gwh_raw_new : evt_gwh_event_new)(ev[i],
		    lens[i])) == NULL) {
			rc = EVT_ERR_NOMEM;
			goto out;
		}
	gw->st.events_published += n;
	if (only != NULL)
		rc = sess_take(only, evs, n, now);
	else
		for (s = TAILQ_FIRST(&gw->sessions); s != NULL; s = next) {
			next = TAILQ_NEXT(s, link);
			if (!s->muted && sess_take(s, evs, n, now) != 0)
				rc = EVT_ERR_NOMEM;
		}
out:
	for (i = 0; i < made; i++)
		evt_gwh_event_unref(evs[i]);
	if (evs != stack)
		free(evs);
	return rc;
}

/* ---------------------------------------------------------- connections */

/* Frees the connections killed on earlier turns. */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_gw *gw = arg;
	struct gw_conn *c;

	while ((c = TAILQ_FIRST(&gw->zombies)) != NULL) {
		TAILQ_REMOVE(&gw->zombies, c, link);
		if (c->http_ev != NULL)
			event_free(c->http_ev);
		if (c->drop_ev != NULL)
			event_free(c->drop_ev);
		if (c->state_ev != NULL)
			event_free(c->state_ev);
		if (c->idle_ev != NULL)
			event_free(c->idle_ev);
		free(c);
	}
}

/* Frees the frames held behind a delayed getState. */
static void
held_clear(struct gw_conn *c)
{
	struct held *h;

	while ((h = c->hq) != NULL) {
		c->hq = h->next;
		free(h);
	}
	c->hq_tail = &c->hq;
	c->hq_bytes = 0;
}

/* Tears a connection down now (no close frame); the struct is freed on a
 * later loop turn. */
void
gw_conn_kill(struct gw_conn *c)
{
	struct evt_gw *gw = c->gw;

	if (c->state == C_DEAD)
		return;
	if (c->sess != NULL)
		sess_detach(c->sess);
	if (c->pending != NULL) {
		/* Accepted in resume_cb, but input failed afterwards. */
		c->pending->conn = c;
		c->sess = c->pending;
		c->pending = NULL;
		sess_detach(c->sess);
	}
	if (c->ws != NULL) {
		evt_wsconn_free(c->ws);
		c->ws = NULL;
		gw->st.ws_now--;
	}
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	evt_ess_conn_free(c->ess);
	c->ess = NULL;
	evt_http_parser_free(c->hp);
	c->hp = NULL;
	if (c->http_ev != NULL)
		event_del(c->http_ev);
	if (c->drop_ev != NULL)
		event_del(c->drop_ev);
	if (c->state_ev != NULL)
		event_del(c->state_ev);
	if (c->idle_ev != NULL)
		event_del(c->idle_ev);
	evt_buf_free(&c->held_resp);
	held_clear(c);
	c->state = C_DEAD;
	TAILQ_REMOVE(&gw->conns, c, link);
	TAILQ_INSERT_TAIL(&gw->zombies, c, link);
	gw->st.conns_now--;
	event_active(gw->reap_ev, EV_TIMEOUT, 1);
	if (gw->drain_armed)
		event_active(gw->drain_ev, EV_TIMEOUT, 1);
}

/* Starts the close handshake of a WebSocket connection; its session is
 * detached at once (it can be resumed elsewhere).  Returns 0, or
 * EVT_ERR_STATE if the connection was closing already (e.g. wsconn failed
 * it with 1009: its on_close follows). */
static int
ws_close(struct gw_conn *c, int code, const char *reason)
{
	int rc;

	if (c->state != C_WS || c->closing)
		return EVT_ERR_STATE;
	c->closing = 1;
	if (c->sess != NULL)
		sess_detach(c->sess);
	rc = evt_wsconn_close(c->ws, code, reason);
	if (rc != 0 && rc != EVT_ERR_STATE)
		gw_conn_kill(c);
	return rc;
}

/* Sends a text frame; on out of memory the connection is closed. */
static int
ws_send(struct gw_conn *c, const void *p, size_t len)
{
	int rc = evt_wsconn_send_text(c->ws, p, len);

	if (rc == EVT_ERR_NOMEM) {
		gw_log(c->gw, EVT_GW_LOG_ERR, "%s: out of memory", c->peer);
		c->closing = 0;
		ws_close(c, EVT_WS_INTERNAL, "out of memory");
	}
	return rc;
}

/* drop_every: waits for the output to drain, then shuts the socket's
 * sending side (the peer sees EOF without a close frame), then waits for
 * the peer to go. */
static void
drop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	struct bufferevent *bev = evt_wsconn_bufferevent(c->ws);
	struct timeval tv = { 0, GW_DROP_POLL_US };

	if (c->drop_phase == 2 || bev == NULL) {
		gw_conn_kill(c);
		return;
	}
	if (evt_wsconn_queued(c->ws) > 0 &&
	    c->drop_waited < GW_DROP_FLUSH_MAX) {
		c->drop_waited += GW_DROP_POLL_US / 1e6;
		event_add(c->drop_ev, &tv);
		return;
	}
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	c->drop_phase = 2;
	tv = gw_tv(GW_DROP_LINGER);
	event_add(c->drop_ev, &tv);
}

/* Starts dropping a connection (fault injection). */
static void
conn_drop(struct gw_conn *c)
{
	struct timeval tv = { 0, 0 };

	c->gw->st.drops++;
	gw_log(c->gw, EVT_GW_LOG_INFO, "%s: dropping the connection after "
	    "%llu events (--drop-every)", c->peer,
	    (unsigned long long)c->nsent);
	c->closing = 1;
	if (c->sess != NULL)
		sess_detach(c->sess);
	c->drop_phase = 1;
	c->drop_waited = 0;
	if (c->drop_ev == NULL &&
	    (c->drop_ev = evtimer_new(c->gw->base, drop_cb, c)) == NULL) {
		gw_conn_kill(c);
		return;
	}
	event_add(c->drop_ev, &tv);
}

/* Sends the session's unsent events while the output queue has room. */
static void
conn_pump(struct gw_conn *c)
{
	struct evt_gw *gw = c->gw;
	struct evt_gw_session *s = c->sess;
	int n;

	if (c->state != C_WS || c->closing || s == NULL)
		return;
	while (evt_wsconn_queued(c->ws) < GW_PUMP_HIWAT) {
		gw->msg.len = 0;
		n = evt_gwh_next(s->hist, &gw->msg, 0);
		if (n == 0)
			return;
		if (n < 0) {
			ws_close(c, EVT_WS_INTERNAL, "out of memory");
			return;
		}
		if (ws_send(c, gw->msg.p, gw->msg.len) != 0) {
			/* wsconn closes on its own (the peer's close frame, a
			 * failed frame; on_close follows): nothing more goes
			 * out, so the session waits for a resume from now on
			 * instead of counting as a reader that keeps up (a
			 * top-speed producer ran on into it at full CPU). */
			if (!c->closing) {
				c->closing = 1;
				sess_detach(s);
			}
			return;
		}
		c->nsent += (uint64_t)n;
		gw->st.events_sent += (uint64_t)n;
		gw->st.messages_sent++;
		while (gw->o.garbage_every > 0 && c->nsent >= c->next_garbage) {
			c->next_garbage += gw->o.garbage_every;
			if (ws_send(c, GW_GARBAGE, strlen(GW_GARBAGE)) != 0)
				return;
			gw->st.garbage_sent++;
		}
		if (gw->o.drop_every > 0 && c->nsent >= c->next_drop) {
			conn_drop(c);
			return;
		}
	}
}

/* ------------------------------------------------ ESS server callbacks */

/* auth_cb: the authenticate command's token. */
static int
gw_auth_cb(void *arg, const char *token, size_t len)
{
	struct gw_conn *c = arg;

	if (gw_token_owner(c->gw, token, len, c->owner)) {
		c->tok_hash = gw_tok_hash(token, len);
		return 1;
	}
	c->gw->st.auth_failures++;
	gw_log(c->gw, EVT_GW_LOG_INFO, "%s: authenticate with an invalid "
	    "token", c->peer);
	return 0;
}

/* id_cb: session and subscription ids are random GUIDs. */
static size_t
gw_id_cb(void *arg, char out[EVT_ESS_ID_MAX])
{
	return new_guid(out);
}

/* A resume past session s's history: the program's resume_cb may take
 * it (s then gets an empty history).  1 if it did. */
static int
resume_program(struct evt_gw *gw, struct evt_gw_session *s, const char *eid,
    size_t eidlen)
{
	struct evt_gwh *h;
	if (gw->o.resume_cb == NULL ||
	    (h = evt_gwh_new(gw->o.history_bytes)) == NULL)
		return 0;
	if (gw->o.resume_cb(gw->o.arg, s, eid, eidlen) != 1) {
		evt_gwh_free(h);
		return 0;
	}
	evt_gwh_free(s->hist);
	s->hist = h;
	return 1;
}

/* resume_cb: accepts a resume if the session is known and still holds the
 * event the client saw last (or the program takes it). */
static int
gw_resume_cb(void *arg, const char *sid, size_t sidlen, const char *eid,
    size_t eidlen, struct evt_ess_subs **subs)
{
	struct gw_conn *c = arg;
	struct evt_gw *gw = c->gw;
	struct evt_gw_session *s = sess_find(gw, sid, sidlen);
	struct gw_conn *old;
	const char *why = NULL;

	/* Another user's session is refused like an unknown one (201). */
	if (s == NULL)
		why = "unknown or expired";
	else if (CRYPTO_memcmp(s->owner, c->owner, GW_OWNER_LEN) != 0)
		why = "it belongs to another user";
	else if (evt_gwh_seek(s->hist, eid, eidlen) != 0 &&
	    !resume_program(gw, s, eid, eidlen))
		why = "eventId no longer in its history";
	if (why != NULL) {
		gw->st.resumes_refused++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: cannot resume session %.*s: "
		    "%s", c->peer, (int)(sidlen > 64 ? 64 : sidlen), sid, why);
		return 0;
	}
	if ((old = s->conn) != NULL) {
		gw_log(gw, EVT_GW_LOG_INFO, "%s: session %.*s resumed "
		    "elsewhere while %s held it", c->peer, (int)s->idlen, s->id,
		    old->peer);
		ws_close(old, 1008, "session resumed elsewhere");
		if (s->conn != NULL)	/* ws_close refused: old was closing */
			sess_detach(s);
	}
	event_del(s->expire_ev);
	*subs = s->subs;
	s->subs = NULL;
	c->pending = s;
	return 1;
}

/* state_cb: the program's states, filtered by the session's subs. */
static int
gw_state_cb(void *arg, const struct evt_ess_subs *subs, struct evt_buf *out)
{
	struct gw_conn *c = arg;
	struct evt_gw *gw = c->gw;

	if (gw->o.states_cb == NULL)
		return evt_buf_put(out, "[]", 2) == 0 ? 0 : EVT_ERR_NOMEM;
	return gw->o.states_cb(gw->o.arg, c->sess, subs, out);
}

/* ------------------------------------------------------ WebSocket glue */

/* Delayed getState: sends its answer, then the frames held behind it. */
static void
state_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	struct held *h;

	c->holding = 0;
	if (c->state != C_WS || c->closing)
		return;
	if (ws_send(c, c->held_resp.p, c->held_resp.len) != 0)
		return;
	c->held_resp.len = 0;
	while (!c->holding && c->state == C_WS && !c->closing &&
	    (h = c->hq) != NULL) {
		if ((c->hq = h->next) == NULL)
			c->hq_tail = &c->hq;
		c->hq_bytes -= h->len;
		ws_frame(c, h->data, h->len);
		free(h);
	}
	ws_idle_update(c);
}

/* Acts on an answered command for the connection's session: a resumed
 * one gets its history again, a new one is created, a first
 * subscription is announced. */
static void
ws_session_step(struct gw_conn *c, const struct evt_ess_action *act)
{
	struct evt_gw *gw = c->gw;
	struct evt_gw_session *s;
	const char *sid;
	size_t sidlen;

	if (act->cmd == EVT_ESS_CMD_START_SESSION && act->resumed &&
	    c->sess != NULL) {
		gw->st.resumes++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: resumed session %.*s, %zu "
		    "events to send again", c->peer, (int)c->sess->idlen,
		    c->sess->id, evt_gwh_unsent(c->sess->hist));
		sess_notify(c->sess, EVT_GW_SESSION_RESUMED);
		conn_pump(c);
		if (c->sess != NULL)
			sess_check_drain(c->sess);
	} else if (act->cmd == EVT_ESS_CMD_START_SESSION &&
	    act->status == 201) {
		sid = evt_ess_conn_session_id(c->ess, &sidlen);
		if ((s = sess_new(gw, c, sid, sidlen)) == NULL) {
			ws_close(c, EVT_WS_INTERNAL, "out of memory");
			return;
		}
		gw_log(gw, EVT_GW_LOG_INFO, "%s: new session %.*s", c->peer,
		    (int)sidlen, sid);
		sess_notify(s, EVT_GW_SESSION_CREATED);
	} else if (act->cmd == EVT_ESS_CMD_ADD_SUBSCRIPTION &&
	    act->status == 200 && c->sess != NULL && !c->sess->subscribed) {
		c->sess->subscribed = 1;
		sess_notify(c->sess, EVT_GW_SESSION_SUBSCRIBED);
	}
}

/* Runs one inbound text frame through the ESS state machine. */
static void
ws_frame(struct gw_conn *c, const char *frame, size_t len)
{
	struct evt_gw *gw = c->gw;
	struct evt_ess_action act;
	struct evt_gw_session *s;
	int rc;

	if (evt_wsconn_queued(c->ws) > gw->o.max_queue) {
		gw->st.slow_closes++;
		gw_log(gw, EVT_GW_LOG_WARN, "%s: client does not read its "
		    "responses; closing", c->peer);
		ws_close(c, 1008, "client not reading");
		return;
	}
	gw->resp.len = 0;
	c->pending = NULL;
	rc = evt_ess_conn_input(c->ess, frame, len, &gw->resp, &act);
	if ((s = c->pending) != NULL) {
		c->pending = NULL;
		s->conn = c;
		c->sess = s;
		sess_bound(s, c);
	}
	if (rc == EVT_ERR_NOMEM) {
		gw_log(gw, EVT_GW_LOG_ERR, "%s: out of memory", c->peer);
		ws_close(c, EVT_WS_INTERNAL, "out of memory");
		return;
	}
	if (rc < 0)
		return;
	if (act.close_code != 0) {
		gw->st.protocol_closes++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: closing with %d: %s", c->peer,
		    act.close_code, act.close_reason ? act.close_reason : "");
		ws_close(c, act.close_code, act.close_reason);
		return;
	}
	if (gw->resp.len > 0) {
		if (act.cmd == EVT_ESS_CMD_GET_STATE && act.status == 200 &&
		    gw->o.state_delay > 0) {
			struct timeval tv = gw_tv(gw->o.state_delay);
			struct evt_buf tmp = c->held_resp;

			c->held_resp = gw->resp;
			gw->resp = tmp;
			c->holding = 1;
			event_add(c->state_ev, &tv);
		} else if (ws_send(c, gw->resp.p, gw->resp.len) != 0)
			return;
	}
	gw_log(gw, EVT_GW_LOG_DEBUG, "%s: command %d answered %d", c->peer,
	    act.cmd, act.status);
	ws_session_step(c, &act);
}

/* Starts, keeps or stops the WebSocket idle timer after a command: a
 * connection without a session keeps the timer armed at the upgrade; a
 * session without a subscription gets sub_timeout. */
static void
ws_idle_update(struct gw_conn *c)
{
	struct evt_gw *gw = c->gw;
	struct timeval tv = gw_tv(gw->o.sub_timeout);

	if (c->state != C_WS || c->closing || c->sess == NULL)
		return;
	if (gw->o.sub_timeout > 0 &&
	    evt_ess_subs_count(evt_ess_conn_subs(c->ess)) == 0) {
		if (c->idle_kind != IDLE_NO_SUB) {
			c->idle_kind = IDLE_NO_SUB;
			event_add(c->idle_ev, &tv);
		}
	} else if (c->idle_kind != IDLE_NONE) {
		c->idle_kind = IDLE_NONE;
		event_del(c->idle_ev);
	}
}

/* The WebSocket idle limit passed: no session, or no subscription. */
static void
ws_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	struct evt_gw *gw = c->gw;
	char why[100];

	if (c->state != C_WS || c->closing)
		return;
	if (c->idle_kind == IDLE_NO_SESSION)
		snprintf(why, sizeof why, "no session started within %g s",
		    gw->o.ws_session_timeout);
	else
		snprintf(why, sizeof why, "no subscription within %g s",
		    gw->o.sub_timeout);
	if (ws_close(c, 1008, why) != 0)
		return;
	gw->st.idle_closes++;
	gw_log(gw, EVT_GW_LOG_INFO, "%s: %s; closing with 1008", c->peer,
	    why);
}

/* wsconn on_text: a command frame (held while a getState is delayed). */
static void
ws_text_cb(struct evt_wsconn *ws, const char *msg, size_t len, void *arg)
{
	struct gw_conn *c = arg;
	struct evt_gw *gw = c->gw;
	struct held *h;

	if (c->state != C_WS || c->closing)
		return;
	if (!c->holding) {
		ws_frame(c, msg, len);
		ws_idle_update(c);
		return;
	}
	if (c->hq_bytes + len > 4 * gw->o.ess_limits.max_frame ||
	    (h = malloc(sizeof *h + len)) == NULL) {
		gw_log(gw, EVT_GW_LOG_WARN, "%s: too many commands behind a "
		    "delayed getState; closing", c->peer);
		ws_close(c, 1008, "too many pipelined commands");
		return;
	}
	h->next = NULL;
	h->len = len;
	memcpy(h->data, msg, len);
	*c->hq_tail = h;
	c->hq_tail = &h->next;
	c->hq_bytes += len;
}

/* wsconn on_close: the connection is over. */
static void
ws_close_cb(struct evt_wsconn *ws, int code, const char *reason, void *arg)
{
	struct gw_conn *c = arg;

	gw_log(c->gw, EVT_GW_LOG_INFO, "%s: WebSocket closed: %d %s",
	    c->peer, code, reason);
	gw_conn_kill(c);
}

/* wsconn on_drain: room in the output queue again. */
static void
ws_drain_cb(struct evt_wsconn *ws, void *arg)
{
	struct gw_conn *c = arg;

	conn_pump(c);
	if (c->sess != NULL)
		sess_check_drain(c->sess);
	if (c->gw->drain_armed)
		event_active(c->gw->drain_ev, EV_TIMEOUT, 1);
}

/* Fills the wsconn settings of connection c. */
static void
ws_config(struct gw_conn *c, struct evt_wsconn_config *cfg)
{
	const struct evt_gw_opts *o = &c->gw->o;

	*cfg = (struct evt_wsconn_config){
		.role = EVT_WSCONN_SERVER,
		.max_msg = o->ess_limits.max_frame,
		/* ws_frame closes a client that does not read its responses
		 * at max_queue, before a command; this bounds whatever else
		 * is queued to it (the response that crosses the mark has
		 * room). */
		.max_queue = o->max_queue > SIZE_MAX / 2 ? SIZE_MAX :
		    2 * o->max_queue,
		.ping_interval = o->ping_interval,
		.dead_timeout = o->dead_timeout,
		.drain_lowat = GW_PUMP_LOWAT,
		.on_text = ws_text_cb, .on_close = ws_close_cb,
		.on_drain = ws_drain_cb, .arg = c,
	};
}

/* Starts the WebSocket phase after the 101 (gateway_int.h). */
void
gw_ws_start(struct gw_conn *c, int authed)
{
	struct evt_gw *gw = c->gw;
	struct evt_ess_server_cbs cbs;
	struct evt_wsconn_config cfg;

	memset(&cbs, 0, sizeof cbs);
	cbs.auth_cb = gw_auth_cb;
	cbs.id_cb = gw_id_cb;
	cbs.resume_cb = gw_resume_cb;
	cbs.state_cb = gw_state_cb;
	cbs.arg = c;
	ws_config(c, &cfg);
	if ((c->ess = evt_ess_conn_new(&cbs, &gw->o.ess_limits,
	    authed)) == NULL ||
	    (c->state_ev = evtimer_new(gw->base, state_delay_cb, c)) == NULL ||
	    (c->idle_ev = evtimer_new(gw->base, ws_idle_cb, c)) == NULL) {
		gw_log(gw, EVT_GW_LOG_ERR, "%s: out of memory", c->peer);
		gw_conn_kill(c);
		return;
	}
	event_del(c->http_ev);
	if (evt_wsconn_new(&c->ws, gw->base, c->bev, &cfg, NULL, 0) != 0) {
		gw_log(gw, EVT_GW_LOG_ERR, "%s: cannot start the WebSocket",
		    c->peer);
		gw_conn_kill(c);
		return;
	}
	c->bev = NULL;		/* now the wsconn's */
	evt_http_parser_free(c->hp);
	c->hp = NULL;
	c->state = C_WS;
	c->next_drop = gw->o.drop_every;
	c->next_garbage = gw->o.garbage_every;
	c->hq_tail = &c->hq;
	if (gw->o.ws_session_timeout > 0) {
		struct timeval tv = gw_tv(gw->o.ws_session_timeout);

		c->idle_kind = IDLE_NO_SESSION;
		event_add(c->idle_ev, &tv);
	}
	gw->st.ws_now++;
	gw->st.ws_upgrades++;
	gw_log(gw, EVT_GW_LOG_INFO, "%s: WebSocket connected (%s)", c->peer,
	    authed ? "Bearer" : "awaiting authenticate");
}

/* -------------------------------------------------------------- listener */

/* Accepts again, one second after an accept error. */
static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_gw *gw = arg;

	if (!gw->shutting_down)
		evconnlistener_enable(gw->lis);
}

/*
 * Listener errors (e.g. out of file descriptors): the pending connection
 * stays in the kernel's queue, so accepting again at once would fail
 * again at once, spinning the loop and the log.  Pause for a second.
 */
static void
gw_accept_error_cb(struct evconnlistener *lis, void *arg)
{
	struct evt_gw *gw = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {1, 0};

	gw_log(gw, EVT_GW_LOG_WARN, "accept: %s; not accepting for 1 s",
	    evutil_socket_error_to_string(err));
	evconnlistener_disable(lis);
	event_add(gw->resume_ev, &tv);
}

/* Calls drain_cb once every connected backlog is low again. */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_gw *gw = arg;

	if (!gw->drain_armed || evt_gw_backlog(gw) > gw->o.backlog_low)
		return;
	gw->drain_armed = 0;
	if (gw->o.drain_cb != NULL)
		gw->o.drain_cb(gw->o.arg);
}

/* ------------------------------------------------------------ public API */

/* Builds the TLS context from PEM files. */
static int
gw_tls(struct evt_gw *gw, const char *cert, const char *key)
{
	char buf[256];

	if ((gw->ssl = SSL_CTX_new(TLS_server_method())) == NULL)
		return EVT_ERR_NOMEM;
	SSL_CTX_set_min_proto_version(gw->ssl, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(gw->ssl, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(gw->ssl, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(gw->ssl) != 1) {
		ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
		gw_log(gw, EVT_GW_LOG_ERR, "cannot load TLS certificate %s / "
		    "key %s: %s", cert, key, buf);
		return EVT_ERR_IO;
	}
	return 0;
}

/*
 * Binds and listens on ss (addr names it for messages).  Our own socket
 * calls, so that the one message says which step failed ("bind failed:
 * Permission denied" for a port below 1024 without privileges).  Returns
 * 0, or EVT_ERR_IO/EVT_ERR_NOMEM after logging.
 */
static int
gw_listen(struct evt_gw *gw, const struct sockaddr_storage *ss,
    socklen_t len, const char *addr)
{
	const char *step = "socket";
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd >= 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one);
		step = "bind";
		if (bind(fd, (const struct sockaddr *)ss, len) == 0) {
			step = "listen";
			if (listen(fd, SOMAXCONN) == 0)
				step = NULL;
		}
	}
	if (step != NULL) {
		gw_log(gw, EVT_GW_LOG_ERR, "cannot listen on %s: %s failed: %s",
		    addr, step, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EVT_ERR_IO;
	}
	/* Backlog 0: the socket listens already. */
	gw->lis = evconnlistener_new(gw->base, gw_accept_cb, gw,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (gw->lis == NULL) {
		gw_log(gw, EVT_GW_LOG_ERR, "cannot listen on %s: out of memory",
		    addr);
		close(fd);
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* The defaults of evt_gw_opts (gateway.h), for its zero fields. */
static const struct evt_gw_opts gw_defaults = {
	.host = EVT_GW_DEFAULT_HOST,
	.password = EVT_GW_DEFAULT_PASSWORD,
	.token_lifetime = EVT_GW_DEFAULT_TOKEN_LIFETIME,
	.resume_window = EVT_GW_DEFAULT_RESUME_WINDOW,
	.history_bytes = EVT_GW_DEFAULT_HISTORY_BYTES,
	.max_sessions = EVT_GW_DEFAULT_MAX_SESSIONS,
	.ess_limits = {
		.max_subs = EVT_ESS_MAX_SUBS,
		.max_filters = EVT_ESS_MAX_FILTERS,
		.max_entries = EVT_ESS_MAX_ENTRIES,
		.max_frame = EVT_ESS_MAX_FRAME,
	},
	.max_conns = EVT_GW_DEFAULT_MAX_CONNS,
	.max_queue = EVT_GW_DEFAULT_MAX_QUEUE,
	.max_head = EVT_GW_DEFAULT_MAX_HEAD,
	.max_body = EVT_GW_DEFAULT_MAX_BODY,
	.http_timeout = EVT_GW_DEFAULT_HTTP_TIMEOUT,
	.http_idle = EVT_GW_DEFAULT_HTTP_IDLE,
	.ws_session_timeout = EVT_GW_DEFAULT_WS_SESSION_TIMEOUT,
	.backlog_high = EVT_GW_DEFAULT_BACKLOG_HIGH,
	.product_version = EVT_GW_DEFAULT_PRODUCT_VERSION,
};

/* Takes field f from gw_defaults where it is zero or NULL. */
#define GW_DEFAULT(o, f)						\
	do {								\
		if ((o)->f == 0)					\
			(o)->f = gw_defaults.f;				\
	} while (0)

/* Derives backlog_low from backlog_high and keeps both within their
 * bounds (gateway.h). */
static void
backlog_marks(struct evt_gw_opts *o)
{
	/* A producer that honours evt_gw_congested() must never push a
	 * connected session's unsent events out of its history: that closes
	 * a client which keeps up as "too slow" (with --history-bytes below
	 * 4 MiB it did at once).  The backlog it builds stays within half of
	 * the history, the other half is slack for the message that crosses
	 * the mark. */
	if (o->backlog_high > o->history_bytes / 2)
		o->backlog_high = o->history_bytes / 2;
	if (o->backlog_low == 0 || o->backlog_low > o->backlog_high)
		o->backlog_low = o->backlog_high / 4;
	/* Below the pump's own low mark on_drain would not fire again. */
	if (o->backlog_low < GW_PUMP_LOWAT)
		o->backlog_low = GW_PUMP_LOWAT;
	if (o->backlog_high < o->backlog_low)
		o->backlog_high = o->backlog_low;
}

/* Fills the zero fields of *o with their defaults. */
void
evt_gw_opts_defaults(struct evt_gw_opts *o)
{
	GW_DEFAULT(o, host);
	GW_DEFAULT(o, password);
	GW_DEFAULT(o, token_lifetime);
	GW_DEFAULT(o, resume_window);
	GW_DEFAULT(o, history_bytes);
	GW_DEFAULT(o, max_sessions);
	GW_DEFAULT(o, ess_limits.max_subs);
	GW_DEFAULT(o, ess_limits.max_filters);
	GW_DEFAULT(o, ess_limits.max_entries);
	GW_DEFAULT(o, ess_limits.max_frame);
	GW_DEFAULT(o, max_conns);
	GW_DEFAULT(o, max_queue);
	GW_DEFAULT(o, max_head);
	GW_DEFAULT(o, max_body);
	GW_DEFAULT(o, http_timeout);
	GW_DEFAULT(o, http_idle);
	GW_DEFAULT(o, ws_session_timeout);
	GW_DEFAULT(o, backlog_high);
	GW_DEFAULT(o, product_version);
	backlog_marks(o);
}

/* Tells whether opts (gateway.h) can make a gateway: the pairs that go
 * together, and time limits that are neither negative nor absurd. */
static int
opts_ok(const struct evt_gw_opts *opts)
{
	if ((opts->tls_cert == NULL) != (opts->tls_key == NULL) ||
	    (opts->ssl_ctx != NULL && opts->tls_cert != NULL) ||
	    (opts->nstatic_tokens > 0 && opts->static_tokens == NULL) ||
	    (opts->ncors_origins > 0 && opts->cors_origins == NULL) ||
	    opts->resume_window < 0 || opts->state_delay < 0 ||
	    opts->http_timeout < 0 || opts->ping_interval < 0 ||
	    opts->dead_timeout < 0 || opts->http_idle < 0 ||
	    opts->sub_timeout < 0 || opts->http_idle > 1e6 ||
	    opts->ws_session_timeout > 1e6 || opts->sub_timeout > 1e6 ||
	    opts->resume_window > 1e6 ||
	    opts->state_delay > 1e6 || opts->http_timeout > 1e6)
		return 0;
	for (size_t i = 0; i < opts->ncors_origins; i++)
		if (!evt_http_cors_origin_ok(opts->cors_origins[i]))
			return 0;
	return 1;
}

/* Copies the options into gw with their defaults applied: its own copies
 * of the strings and arrays, the pointers in gw->o cleared (the caller's
 * are not kept).  Returns 0 or EVT_ERR_NOMEM. */
static int
gw_copy_opts(struct evt_gw *gw, const struct evt_gw_opts *opts)
{
	int fail = 0;

	gw->o = *opts;
	evt_gw_opts_defaults(&gw->o);
	gw->host = dup_str(gw->o.host, &fail);
	gw->username = dup_str(gw->o.username, &fail);
	gw->password = dup_str(gw->o.password, &fail);
	gw->product = dup_str(gw->o.product_version, &fail);
	if (opts->nstatic_tokens > 0) {
		gw->stokens = calloc(opts->nstatic_tokens, sizeof(char *));
		fail |= gw->stokens == NULL;
		for (size_t i = 0; gw->stokens && i < opts->nstatic_tokens;
		    i++, gw->nstokens++)
			gw->stokens[i] = dup_str(opts->static_tokens[i] ?
			    opts->static_tokens[i] : "", &fail);
	}
	if (opts->ncors_origins > 0) {
		gw->cors = calloc(opts->ncors_origins, sizeof(char *));
		fail |= gw->cors == NULL;
		for (size_t i = 0; gw->cors && i < opts->ncors_origins;
		    i++, gw->ncors++)
			gw->cors[i] = dup_str(opts->cors_origins[i], &fail);
	}
	gw->o.host = gw->o.username = gw->o.password = NULL;
	gw->o.static_tokens = NULL;
	gw->o.cors_origins = NULL;
	gw->o.tls_cert = gw->o.tls_key = NULL;
	gw->o.product_version = NULL;
	gw->o.ssl_ctx = NULL;
	return fail ? EVT_ERR_NOMEM : 0;
}

/* Listens on gw->host (numeric IPv4 or IPv6) at port and notes the port
 * chosen.  Returns 0, or EVT_ERR_ARG/EVT_ERR_IO/EVT_ERR_NOMEM after
 * logging. */
static int
gw_bind(struct evt_gw *gw, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char addr[300];
	int alen, rc;

	snprintf(addr, sizeof addr, strchr(gw->host, ':') ? "[%s]:%u" :
	    "%s:%u", gw->host, port);
	memset(&ss, 0, sizeof ss);
	if (evutil_inet_pton(AF_INET, gw->host,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		alen = (int)sizeof(struct sockaddr_in);
	} else if (evutil_inet_pton(AF_INET6, gw->host,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		alen = (int)sizeof(struct sockaddr_in6);
	} else {
		gw_log(gw, EVT_GW_LOG_ERR, "bad listen address %s (numeric "
		    "IPv4 or IPv6 expected)", addr);
		return EVT_ERR_ARG;
	}
	if ((rc = gw_listen(gw, &ss, (socklen_t)alen, addr)) != 0)
		return rc;
	evconnlistener_set_error_cb(gw->lis, gw_accept_error_cb);
	if (getsockname(evconnlistener_get_fd(gw->lis), (struct sockaddr *)&ss,
	    &sl) == 0)
		gw->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Creates the gateway and starts listening. */
int
evt_gw_new(struct event_base *base, const struct evt_gw_opts *opts,
    struct evt_gw **gwp)
{
	struct evt_gw *gw;
	int rc;

	*gwp = NULL;
	if (base == NULL || opts == NULL || !opts_ok(opts))
		return EVT_ERR_ARG;
	if ((gw = calloc(1, sizeof *gw)) == NULL)
		return EVT_ERR_NOMEM;
	gw->base = base;
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->zombies);
	TAILQ_INIT(&gw->sessions);
	rc = gw_copy_opts(gw, opts);
	gw->tokens = calloc(GW_MAX_TOKENS, sizeof *gw->tokens);
	gw->reap_ev = event_new(base, -1, 0, reap_cb, gw);
	gw->drain_ev = event_new(base, -1, 0, drain_cb, gw);
	gw->resume_ev = event_new(base, -1, 0, resume_cb, gw);
	if (rc != 0 || gw->tokens == NULL || gw->reap_ev == NULL ||
	    gw->drain_ev == NULL || gw->resume_ev == NULL) {
		rc = EVT_ERR_NOMEM;
		goto fail;
	}
	if (opts->ssl_ctx != NULL) {
		SSL_CTX_up_ref(opts->ssl_ctx);
		gw->ssl = opts->ssl_ctx;
	} else if (opts->tls_cert != NULL &&
	    (rc = gw_tls(gw, opts->tls_cert, opts->tls_key)) != 0)
		goto fail;
	if ((rc = gw_bind(gw, opts->port)) != 0)
		goto fail;
	*gwp = gw;
	return 0;
fail:
	evt_gw_free(gw);
	return rc;
}

/* Frees everything at once. */
void
evt_gw_free(struct evt_gw *gw)
{
	struct gw_conn *c;
	struct evt_gw_session *s;

	if (gw == NULL)
		return;
	gw->freeing = 1;
	while ((c = TAILQ_FIRST(&gw->conns)) != NULL)
		gw_conn_kill(c);
	reap_cb(-1, 0, gw);
	while ((s = TAILQ_FIRST(&gw->sessions)) != NULL)
		sess_free(s, 0);
	if (gw->lis != NULL)
		evconnlistener_free(gw->lis);
	if (gw->ssl != NULL)
		SSL_CTX_free(gw->ssl);
	if (gw->reap_ev != NULL)
		event_free(gw->reap_ev);
	if (gw->drain_ev != NULL)
		event_free(gw->drain_ev);
	if (gw->resume_ev != NULL)
		event_free(gw->resume_ev);
	if (gw->tokens != NULL) {
		OPENSSL_cleanse(gw->tokens, GW_MAX_TOKENS * sizeof *gw->tokens);
		free(gw->tokens);
	}
	for (size_t i = 0; i < gw->nstokens; i++)
		evt_cli_free_secret(gw->stokens[i]);
	free(gw->stokens);
	for (size_t i = 0; i < gw->ncors; i++)
		free(gw->cors[i]);
	free(gw->cors);
	evt_buf_free(&gw->hdrs);
	free(gw->host);
	free(gw->username);
	evt_cli_free_secret(gw->password);
	free(gw->product);
	evt_buf_free(&gw->msg);
	evt_buf_free(&gw->resp);
	if (gw->http.p != NULL)
		evt_http_wipe(gw->http.p, gw->http.cap);
	evt_buf_free(&gw->http);
	if (gw->body.p != NULL)
		evt_http_wipe(gw->body.p, gw->body.cap);
	evt_buf_free(&gw->body);
	free(gw);
}

/* Returns the port. */
uint16_t
evt_gw_port(const struct evt_gw *gw)
{
	return gw->port;
}

/* Publishes to every session. */
int
evt_gw_publish(struct evt_gw *gw, const char *const *ev, const size_t *lens,
    size_t n)
{
	return publish(gw, NULL, ev, lens, n, 0);
}

/* Publishes to one session. */
int
evt_gw_publish_session(struct evt_gw *gw, struct evt_gw_session *s,
    const char *const *ev, const size_t *lens, size_t n)
{
	if (s == NULL)
		return EVT_ERR_ARG;
	return publish(gw, s, ev, lens, n, 0);
}

/* Publishes a raw frame to one session or all. */
int
evt_gw_publish_raw(struct evt_gw *gw, struct evt_gw_session *s,
    const char *text, size_t len)
{
	if (!evt_json_utf8_valid(text, len))
		return EVT_ERR_UTF8;
	return publish(gw, s, &text, &len, 1, 1);
}

/* Returns one session's unsent history plus its queued output. */
size_t
evt_gw_session_backlog(const struct evt_gw_session *s)
{
	size_t b = evt_gwh_unsent_bytes(s->hist);

	if (s->conn != NULL && s->conn->ws != NULL)
		b += evt_wsconn_queued(s->conn->ws);
	return b;
}

/* Tells one session's producer to pause, arming DRAINED. */
int
evt_gw_session_congested(struct evt_gw_session *s)
{
	if (evt_gw_session_backlog(s) <= s->gw->o.backlog_high)
		return 0;
	s->drain_armed = 1;
	return 1;
}

/* Returns the largest backlog of a connected session. */
size_t
evt_gw_backlog(const struct evt_gw *gw)
{
	const struct evt_gw_session *s;
	size_t max = 0, b;

	TAILQ_FOREACH(s, &gw->sessions, link) {
		if (s->conn == NULL)
			continue;
		b = evt_gw_session_backlog(s);
		if (b > max)
			max = b;
	}
	return max;
}

/* Tells a producer to pause, arming drain_cb. */
int
evt_gw_congested(struct evt_gw *gw)
{
	if (evt_gw_backlog(gw) <= gw->o.backlog_high)
		return 0;
	gw->drain_armed = 1;
	return 1;
}

/* Forgets every session (gateway recycle). */
void
evt_gw_forget_sessions(struct evt_gw *gw)
{
	struct gw_conn *c, *next;
	struct evt_gw_session *s;
	size_t n = gw->st.sessions_now;

	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == C_WS)
			ws_close(c, EVT_WS_GOING_AWAY, "gateway recycle");
	}
	while ((s = TAILQ_FIRST(&gw->sessions)) != NULL) {
		gw->st.sessions_expired++;
		sess_free(s, 1);
	}
	gw_log(gw, EVT_GW_LOG_INFO, "gateway recycle: %zu sessions forgotten",
	    n);
}

/* Stops accepting and closes every connection. */
void
evt_gw_shutdown(struct evt_gw *gw, int code)
{
	struct gw_conn *c, *next;

	gw->shutting_down = 1;
	if (gw->lis != NULL)
		evconnlistener_disable(gw->lis);
	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == C_WS && !c->closing)
			ws_close(c, code != 0 ? code : EVT_WS_GOING_AWAY,
			    "going away");
		else if (c->state == C_HTTP)
			gw_conn_kill(c);
	}
}

/* Copies the counters and counts the sessions that read. */
void
evt_gw_stats(const struct evt_gw *gw, struct evt_gw_stats *st)
{
	const struct evt_gw_session *s;

	*st = gw->st;
	st->readers_now = 0;
	TAILQ_FOREACH(s, &gw->sessions, link)
		if (s->conn != NULL && !s->conn->closing &&
		    evt_ess_subs_count(sess_subs(s)) > 0)
			st->readers_now++;
}

/* Returns a session's id. */
const char *
evt_gw_session_id(const struct evt_gw_session *s, size_t *len)
{
	*len = s->idlen;
	return s->id;
}

/* Tells whether a session has a connection. */
int
evt_gw_session_connected(const struct evt_gw_session *s)
{
	return s->conn != NULL;
}

/* Attaches the program's pointer. */
void
evt_gw_session_set_data(struct evt_gw_session *s, void *data)
{
	s->data = data;
}

/* Returns the program's pointer. */
void *
evt_gw_session_data(const struct evt_gw_session *s)
{
	return s->data;
}

/* Mutes or unmutes a session for publishing to all. */
void
evt_gw_session_mute(struct evt_gw_session *s, int on)
{
	s->muted = on;
}
