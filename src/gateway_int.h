/*
 * gateway_int.h: what the two halves of the gateway server share (see
 * gateway.h).  Internal to src/.
 *
 *   gateway_http.c  a TCP connection's HTTP phase: accept, the request
 *                   loop and its time limits, the token endpoint and the
 *                   token store, discovery, Config REST, CORS, http_cb,
 *                   and the checks of a WebSocket upgrade;
 *   gateway.c       the rest: the options and their defaults, the
 *                   listener, sessions, publishing, and a connection's
 *                   WebSocket phase from gw_ws_start on (ESS commands,
 *                   pumping events, fault injection); the public API.
 *
 * One struct gw_conn lives through both phases: the HTTP phase owns bev
 * and hp; gw_ws_start hands bev to an evt_wsconn.  Every connection ends
 * in gw_conn_kill, on either side.
 */
#ifndef EVT_GATEWAY_INT_H
#define EVT_GATEWAY_INT_H

#include <sys/queue.h>
#include <sys/time.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "evtape/buf.h"
#include "evtape/gateway.h"

struct bufferevent;
struct event;
struct evconnlistener;
struct evt_ess_conn;
struct evt_ess_subs;
struct evt_gwh;
struct evt_http_parser;
struct evt_wsconn;
struct sockaddr;

#define GW_MAX_TOKENS 4096		  /* issued tokens remembered */
#define GW_TOKEN_LEN 43			  /* base64url of 32 random bytes */
#define GW_OWNER_LEN 32			  /* who a token belongs to: SHA-256 */

enum { C_HTTP = 1, C_WS, C_DEAD };

/* A frame waiting behind a delayed getState. */
struct held {
	struct held *next;
	size_t len;
	char data[];
};

/* One TCP connection, from the accept through HTTP and WebSocket. */
struct gw_conn {
	TAILQ_ENTRY(gw_conn) link;
	struct evt_gw *gw;
	int state;
	char peer[64];

	/* HTTP phase. */
	struct bufferevent *bev;	/* owned until the upgrade */
	struct evt_http_parser *hp;
	struct event *http_ev;		/* request deadline or idle limit */
	int close_after;		/* close once the output is flushed */
	int read_paused;
	int partial;			/* part of a request has arrived */
	uint64_t tok_hash;		/* gw_tok_hash() of the token it
					   authenticated with, 0 if none */

	/* WebSocket phase. */
	struct evt_wsconn *ws;
	struct evt_ess_conn *ess;
	struct evt_gw_session *sess;	/* bound session, or NULL */
	struct evt_gw_session *pending;	/* resume accepted in resume_cb */
	uint8_t owner[GW_OWNER_LEN];	/* the authenticated token's user */
	uint64_t nsent, next_drop, next_garbage;
	int closing;			/* nothing more is sent */
	int drop_phase;			/* 1 flushing, 2 shut down */
	double drop_waited;
	struct event *drop_ev;
	struct event *state_ev;		/* delayed getState */
	struct event *idle_ev;		/* no session / no subscription */
	int idle_kind;			/* IDLE_* the timer runs for */
	struct evt_buf held_resp;
	int holding;
	struct held *hq, **hq_tail;
	size_t hq_bytes;
};

struct evt_gw_session {
	TAILQ_ENTRY(evt_gw_session) link;
	struct evt_gw *gw;
	char id[EVT_ESS_ID_MAX];
	size_t idlen;
	struct gw_conn *conn;		/* attached connection or NULL */
	struct evt_ess_subs *subs;	/* owned while detached */
	struct evt_gwh *hist;
	struct event *expire_ev;
	uint8_t owner[GW_OWNER_LEN];	/* the user that started it */
	int64_t detached_us;
	int subscribed;
	int drain_armed;		/* DRAINED is due (session_congested) */
	int muted;			/* not published to all (mute) */
	uint64_t tok_hash;		/* its last connection's tok_hash */
	uint64_t bound_seq;		/* when it was last bound (bind_seq) */
	void *data;
};

/* An issued token (wiped when forgotten). */
struct gw_token {
	char tok[GW_TOKEN_LEN + 1];
	uint8_t owner[GW_OWNER_LEN];
	int64_t expires_us;
};

struct evt_gw {
	struct event_base *base;
	struct evt_gw_opts o;		/* defaults applied; strings point
					   to our copies */
	char *host, *username, *password, *product;
	char **stokens;
	size_t nstokens;
	char **cors;			/* opts.cors_origins, copied */
	size_t ncors;
	struct ssl_ctx_st *ssl;
	struct evconnlistener *lis;
	uint16_t port;
	TAILQ_HEAD(, gw_conn) conns, zombies;
	TAILQ_HEAD(, evt_gw_session) sessions;
	struct event *reap_ev, *drain_ev;
	struct event *resume_ev;	/* accepting again after an error */
	int drain_armed, shutting_down, freeing;
	struct gw_token *tokens;	/* GW_MAX_TOKENS */
	size_t ntokens;
	struct evt_buf msg;		/* event message being built */
	struct evt_buf resp;		/* command response being built */
	struct evt_buf http;		/* HTTP response being built */
	struct evt_buf body;		/* HTTP body being built */
	struct evt_buf hdrs;		/* the request's CORS header lines
					   [0..cors_len), then a response's
					   own lines, NUL-ended */
	size_t cors_len;
	struct evt_gw_stats st;
	uint64_t bind_seq;		/* sessions started or resumed */
};

/* ------------------------------------------------------------ gateway.c */

/* Converts seconds to a timeval. */
struct timeval gw_tv(double s);

/* Formats a log line (never a secret) and hands it to log_cb. */
void gw_log(struct evt_gw *gw, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Tears a connection down now (no close frame; its session is detached);
 * the struct is freed on a later loop turn, so callers up the stack may
 * still read it (state C_DEAD). */
void gw_conn_kill(struct gw_conn *c);

/*
 * Starts the WebSocket phase of c, whose 101 response the caller has
 * queued on c->bev: ends the HTTP phase (its timer and parser), creates
 * the ESS protocol state (authed: the upgrade carried a valid Bearer
 * token) and an evt_wsconn that takes c->bev over, and arms the
 * no-session timer.  On failure the connection is killed (logged).
 */
void gw_ws_start(struct gw_conn *c, int authed);

/* ------------------------------------------------------- gateway_http.c */

/* evconnlistener callback: a new TCP connection starts its HTTP phase,
 * or is refused (503) beyond max_conns or while shutting down. */
void gw_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int slen, void *arg);

/* Tells whether tok[0..len) (borrowed) is a static or unexpired issued
 * token; sets *owner (GW_OWNER_LEN bytes, if not NULL) to its user when
 * it is. */
int gw_token_owner(struct evt_gw *gw, const char *tok, size_t len,
    uint8_t *owner);

/* Returns a hash of a token (never 0) that matches a REST request to the
 * session its client started; the token itself is not kept. */
uint64_t gw_tok_hash(const char *tok, size_t len);

#endif
