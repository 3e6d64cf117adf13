/*
 * gateway.h: a simulated Milestone API Gateway on one port (HTTP and
 * WebSocket, plain or TLS), shared by evsim (synthetic traffic) and evplay
 * (archive replay).  The program feeds events; this module does the
 * protocol: IDP token endpoint, discovery documents, a Config REST hook,
 * the Events and State WebSocket API with sessions, subscriptions,
 * getState and session resume (docs/ess-protocol.md, checklist section 8.1).
 *
 *   accept -> [HTTP/1.1: evt_http_parser, keep-alive, pipelining]
 *      POST /API/IDP/connect/token, /IDP/connect/token  -> issued token
 *      GET  /api/.well-known/uris, /IDP/.well-known/openid-configuration
 *      GET  /api/rest/v1/...  (Bearer) -> opts.rest_cb
 *      OPTIONS (any path)  -> 204, CORS preflight for opts.cors_origins
 *      GET  /api/ws/events/v1[/] upgrade -> [evt_wsconn + evt_ess_conn]
 *
 *   evt_gw_publish(events) -> every session: filter by its subscriptions
 *      -> its history (gw_history.h: also its output queue and resume
 *      cursor) -> {"events":[...]} messages while its connection has room
 *
 * Sessions outlive their connection by the resume window: a startSession
 * with their id and the id of the last event the client got answers 200
 * and re-sends every later event once, in order, after the response;
 * otherwise 201 with a new session.  Events published while a session has
 * no connection go into its history too.
 *
 * Back-pressure: a session's history holds what its client has not taken
 * yet; its connection is only fed while its output queue is below a small
 * mark.  A producer at top speed for all sessions (one shared timeline)
 * calls evt_gw_congested() and waits for drain_cb; a producer with one
 * timeline per session calls evt_gw_session_congested(s) and waits for
 * session_cb EVT_GW_SESSION_DRAINED on that session only, so one slow
 * client does not stall the others.  A producer at a fixed rate simply
 * publishes, and a client that falls so far behind that unsent events
 * leave its history is closed with 1008 (its session cannot be resumed
 * past the gap: 201).
 *
 * Limits: max_conns (503 at accept), a complete HTTP request within
 * http_timeout (else 408), keep-alive idle http_idle, a WebSocket without
 * a session after ws_session_timeout (1008), optionally a session without
 * subscriptions after sub_timeout (1008), inbound messages up to
 * ess_limits.max_frame (1009), responses queued up to max_queue (1008),
 * a client that pings without reading our pongs (1008, wsconn.h).
 * Every such close is logged with the peer's address and reason.
 *
 * Sessions belong to the user of the token that started them; a resume
 * with another user's token is answered as for an unknown session.
 *
 * Everything runs on the caller's event_base; no threads.  Callbacks run
 * from the event loop, never inside an evt_gw_* call, except session_cb
 * (see below).  The program must ignore SIGPIPE.  Secrets (passwords,
 * tokens) are never logged and are wiped when freed.
 */
#ifndef EVTAPE_GATEWAY_H
#define EVTAPE_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/ess.h"
#include "evtape/gw_history.h"
#include "evtape/http.h"

struct event_base;
struct ssl_ctx_st;
struct evt_gw;
struct evt_gw_session;

/* Log levels of log_cb. */
enum evt_gw_level {
	EVT_GW_LOG_ERR = 0,
	EVT_GW_LOG_WARN = 1,
	EVT_GW_LOG_INFO = 2,
	EVT_GW_LOG_DEBUG = 3,
};

/* What happened to a session (session_cb). */
enum evt_gw_session_event {
	EVT_GW_SESSION_CREATED = 1,  /* startSession answered 201 */
	EVT_GW_SESSION_SUBSCRIBED,   /* its first subscription was added */
	EVT_GW_SESSION_RESUMED,	     /* startSession answered 200 */
	EVT_GW_SESSION_DETACHED,     /* its connection ended; it waits */
	EVT_GW_SESSION_GONE,	     /* expired or forgotten: the handle is
					invalid after the callback */
	EVT_GW_SESSION_DRAINED,	     /* its backlog fell to backlog_low after
					evt_gw_session_congested() had
					returned 1: its producer may go on */
};

/* A log line (msg borrowed for the call; contains the peer address where
 * one is involved, never a secret). */
typedef void (*evt_gw_log_cb)(void *arg, int level, const char *msg);

/*
 * Appends the getState "states" JSON array for subs (borrowed for the
 * call; evt_ess_states_array() is the helper) to out.  s is the asking
 * session.  Returns 0, or < 0 to answer status 500 (out is rolled back).
 */
typedef int (*evt_gw_states_cb)(void *arg, struct evt_gw_session *s,
    const struct evt_ess_subs *subs, struct evt_buf *out);

/*
 * Answers GET /api/rest/v1/<path> (path[0..len) borrowed for the call:
 * what follows "/api/rest/v1/", query removed, not decoded, may be empty)
 * for a request with a valid Bearer token: appends a JSON body to body and
 * returns the HTTP status (200, or 404 and the body may stay empty: a
 * Milestone-style error is then written), or EVT_GW_REST_HOLD to send no
 * answer at all (a gateway that hangs: the connection stays open until the
 * client gives up or --http-idle closes it; for tests of a client's
 * timeout).  Returns < 0 for 500.  s is the
 * session most recently started or resumed by a connection that
 * authenticated with the same token (the asking client's, as far as the
 * gateway can tell), or NULL.
 */
#define EVT_GW_REST_HOLD 1
typedef int (*evt_gw_rest_cb)(void *arg, struct evt_gw_session *s,
    const char *path, size_t len, struct evt_buf *body);

/*
 * A session event (enum evt_gw_session_event).  Runs inside the gateway's
 * handling of a command or timer, so it must not free the gateway; it may
 * call evt_gw_publish_session() on s (except for GONE) and
 * evt_gw_session_set_data().
 */
typedef void (*evt_gw_session_cb)(void *arg, struct evt_gw_session *s,
    int what);

/*
 * A resume names an event (eid[0..len), borrowed for the call) that
 * session s's history no longer holds: returns 1 if the program will
 * publish to s alone everything after that event (its history is then
 * emptied and the resume accepted), 0 to refuse it (201).  Runs inside
 * the gateway's handling of startSession, like session_cb; what it
 * publishes must wait for a later loop turn (after the answer).
 */
typedef int (*evt_gw_resume_cb)(void *arg, struct evt_gw_session *s,
    const char *eid, size_t len);

/* Every connected session's backlog fell below backlog_low after
 * evt_gw_congested() had returned 1: a producer may continue. */
typedef void (*evt_gw_drain_cb)(void *arg);

/* A request the gateway does not serve itself (http_cb); every pointer is
 * borrowed for the call.  Nothing is decoded. */
struct evt_gw_http_req {
	const char *method;	   /* "GET", "POST", ... */
	const char *path;	   /* request path up to '?', not NUL-ended */
	size_t path_len;
	const char *query;	   /* after '?' (NULL if none), not NUL-ended */
	size_t query_len;
	const char *body;	   /* never NULL; "" when empty */
	size_t body_len;
	int authorized;		   /* carried a valid Bearer token */
	const char *peer;	   /* "ADDR:PORT" of the client */
};

/*
 * Answers a request whose path the gateway does not serve (a control path
 * such as /evplay/status), before the 404: appends the body to body and
 * may set *content_type (a static string; default "application/json").
 * Returns the HTTP status (100..599); 0 to let the gateway answer 404;
 * < 0 for 500.  Must not free the gateway.
 */
typedef int (*evt_gw_http_cb)(void *arg, const struct evt_gw_http_req *req,
    struct evt_buf *body, const char **content_type);

/*
 * The defaults of struct evt_gw_opts, in this one place: the field comments
 * below name them, evt_gw_opts_defaults() fills them in, and evt_gw_new
 * applies them through it.  A program shows them (e.g. in --help) from
 * evt_gw_opts_defaults() rather than repeating the numbers.
 */
#define EVT_GW_DEFAULT_HOST "127.0.0.1"		/* loopback only */
#define EVT_GW_DEFAULT_PASSWORD ""
#define EVT_GW_DEFAULT_TOKEN_LIFETIME 3600u	/* s, expires_in */
#define EVT_GW_DEFAULT_RESUME_WINDOW 30.0	/* s */
#define EVT_GW_DEFAULT_HISTORY_BYTES EVT_GWH_DEFAULT_MAX /* 64 MiB */
#define EVT_GW_DEFAULT_MAX_SESSIONS 1024u
#define EVT_GW_DEFAULT_MAX_CONNS 256u
#define EVT_GW_DEFAULT_MAX_QUEUE ((size_t)64 << 20)	/* 64 MiB */
#define EVT_GW_DEFAULT_MAX_HEAD EVT_HTTP_MAX_HEAD	/* 16 KiB */
#define EVT_GW_DEFAULT_MAX_BODY EVT_HTTP_MAX_BODY	/* 1 MiB */
#define EVT_GW_DEFAULT_HTTP_TIMEOUT 30.0	/* s */
#define EVT_GW_DEFAULT_HTTP_IDLE 15.0		/* s */
#define EVT_GW_DEFAULT_WS_SESSION_TIMEOUT 30.0	/* s */
#define EVT_GW_DEFAULT_BACKLOG_HIGH ((size_t)4 << 20)	/* 4 MiB */
#define EVT_GW_BACKLOG_LOW_MIN ((size_t)256 << 10)	/* 256 KiB */
/* What the discovery documents say: a real gateway's version, because
 * clients read the major number of the OIDC server_version (>= 21: OAuth;
 * docs/ess-protocol.md 7.4). */
#define EVT_GW_DEFAULT_PRODUCT_VERSION "24.1.0.0"

/*
 * Settings.  Zero or NULL selects the default in brackets; [NAME] is
 * EVT_GW_DEFAULT_NAME above.  Strings and arrays are copied by evt_gw_new
 * (the password and tokens are wiped when the gateway is freed).
 */
struct evt_gw_opts {
	const char *host;	   /* listen address, numeric [HOST] */
	uint16_t port;		   /* [0: a free port, see evt_gw_port] */

	/* TLS (wss/https): either a context (borrowed; a reference is
	 * taken with SSL_CTX_up_ref) or PEM file paths.  [plain] */
	struct ssl_ctx_st *ssl_ctx;
	const char *tls_cert;	   /* certificate chain file */
	const char *tls_key;	   /* private key file */

	/* Credentials of the token endpoint.  With username NULL every
	 * username/password is accepted. */
	const char *username;
	const char *password;	   /* [PASSWORD: ""] */
	const char *const *static_tokens; /* also accepted as Bearer tokens */
	size_t nstatic_tokens;
	uint32_t token_lifetime;   /* expires_in of issued tokens, s
				      [TOKEN_LIFETIME] */
	int refuse_tokens;	   /* token endpoint answers 400 invalid_grant
				      to every request (fault injection) */
	/* CORS (docs/ess-protocol.md 8.1 item 11): origins whose pages may call the
	 * token, discovery, REST and http_cb paths ("*": any; each as
	 * evt_http_cors_origin_ok accepts).  A request from an allowed
	 * origin gets Access-Control-Allow-Origin and Vary: Origin, a
	 * preflight also -Allow-Methods/-Headers/-Max-Age.  OPTIONS on any
	 * path is answered 204 with Allow (and those headers when allowed),
	 * with or without origins. [none: no CORS headers] */
	const char *const *cors_origins;
	size_t ncors_origins;

	double resume_window;	   /* s a session outlives its connection
				      [RESUME_WINDOW] */
	size_t history_bytes;	   /* per-session history bound
				      [HISTORY_BYTES] */
	uint32_t max_sessions;	   /* sessions kept; the oldest waiting one
				      is dropped beyond [MAX_SESSIONS] */
	struct evt_ess_limits ess_limits; /* [ess.h EVT_ESS_MAX_*] */
	uint32_t max_conns;	   /* open TCP connections [MAX_CONNS] */
	size_t max_queue;	   /* bytes queued to one WebSocket (command
				      responses) before it is closed with
				      1008 [MAX_QUEUE]; whatever is queued
				      besides is bounded at twice that
				      (evt_wsconn max_queue), pongs at one */
	size_t max_head, max_body; /* HTTP request bounds [MAX_HEAD,
				      MAX_BODY] */
	double http_timeout;	   /* s for a complete request from its first
				      byte (or from the accept); else 408
				      and close [HTTP_TIMEOUT] */
	double http_idle;	   /* s a keep-alive connection may wait for
				      its next request; then closed
				      [HTTP_IDLE] */
	double ws_session_timeout; /* s a WebSocket may go without a session
				      (authenticate + startSession); then
				      1008 [WS_SESSION_TIMEOUT; < 0: no
				      limit] */
	double sub_timeout;	   /* s a connected session may go without a
				      subscription; then 1008 [0: no limit] */
	double ping_interval;	   /* s between WebSocket pings [0: none] */
	double dead_timeout;	   /* s without input before 1006 [0: none] */
	size_t backlog_high;	   /* evt_gw_congested threshold
				      [BACKLOG_HIGH;
				      at most history_bytes / 2, so that a
				      producer honouring it never pushes a
				      connected client's unsent events out
				      of its history; at least backlog_low] */
	size_t backlog_low;	   /* drain_cb and DRAINED threshold
				      [backlog_high / 4; at least
				      EVT_GW_BACKLOG_LOW_MIN] */
	const char *product_version; /* in discovery documents
					[PRODUCT_VERSION] */

	/* Fault injection (evsim).  Counts are per connection and act at
	 * message boundaries: after the message that reaches the count. */
	uint64_t drop_every;	   /* flush, then close the TCP connection
				      without a close frame after every N
				      events sent [0: never] */
	uint64_t garbage_every;	   /* send a text frame that is not JSON
				      after every N events [0: never] */
	double state_delay;	   /* answer a getState that succeeds after
				      this many s (errors at once);
				      later commands of that connection wait
				      behind it, in order [0] */

	evt_gw_log_cb log_cb;	   /* [silent] */
	evt_gw_states_cb states_cb; /* [states are always []] */
	evt_gw_rest_cb rest_cb;	   /* [every REST path is 404] */
	evt_gw_session_cb session_cb; /* [none] */
	evt_gw_drain_cb drain_cb;  /* [none] */
	evt_gw_resume_cb resume_cb; /* [a resume past the history: 201] */
	evt_gw_http_cb http_cb;	   /* [every other path is 404] */
	void *arg;		   /* passed to every callback; borrowed */
};

/* Counters for a summary. */
struct evt_gw_stats {
	uint64_t conns_accepted;   /* TCP connections accepted */
	uint64_t conns_refused;	   /* over max_conns */
	uint64_t ws_upgrades;	   /* WebSocket connections */
	uint64_t http_requests;
	uint64_t tokens_issued;
	uint64_t token_refusals;   /* bad credentials or grant, refuse_tokens */
	uint64_t auth_failures;	   /* bad Bearer tokens (upgrade, REST) */
	uint64_t sessions_created;
	uint64_t resumes;	   /* startSession answered 200 */
	uint64_t resumes_refused;  /* a sessionId was given, 201 answered */
	uint64_t sessions_expired; /* expired or forgotten */
	uint64_t events_published; /* events given to evt_gw_publish* */
	uint64_t events_sent;	   /* events queued to connections (after
				      filtering; a resume counts again) */
	uint64_t messages_sent;	   /* {"events":[...]} messages */
	uint64_t events_lost;	   /* left a history before being sent */
	uint64_t drops;		   /* drop_every connection drops */
	uint64_t garbage_sent;	   /* garbage_every frames */
	uint64_t slow_closes;	   /* clients closed for being too slow */
	uint64_t protocol_closes;  /* clients closed for bad frames */
	uint64_t idle_closes;	   /* closed by a time limit (408, idle
				      keep-alive, no session, no subscription) */
	uint32_t conns_now, ws_now, sessions_now;
	uint32_t readers_now;	   /* connected sessions with a subscription
				      (someone takes what is published) */
};

/*
 * Fills every field of *o that is zero (NULL for a string) and has a
 * default with it: the EVT_GW_DEFAULT_* values, the ess.h limits, and the
 * backlog marks derived from history_bytes and backlog_high, which are
 * also brought within their bounds when set (see those fields; so set
 * history_bytes and backlog_high before the call, or leave backlog_low 0).
 * Other fields stay as they are.  evt_gw_new applies exactly this to its
 * copy of the options; a program zeroes a struct and calls it to show the
 * defaults.  Strings it sets are static.
 */
void evt_gw_opts_defaults(struct evt_gw_opts *o);

/*
 * Creates a gateway listening on opts->host:opts->port on base (borrowed;
 * must outlive the gateway).  Returns 0 and *gwp (owned by the caller, free
 * with evt_gw_free); EVT_ERR_ARG (bad address, cert without key, ...);
 * EVT_ERR_IO (cannot bind/listen, cannot load the TLS files; errno or the
 * OpenSSL error queue tells more, and a message went to log_cb);
 * EVT_ERR_NOMEM.
 */
int evt_gw_new(struct event_base *base, const struct evt_gw_opts *opts,
    struct evt_gw **gwp);

/*
 * Closes every connection at once (no close frames), frees every session
 * (without session_cb calls) and the gateway.  NULL is fine.  Must not be
 * called from a gateway callback.
 */
void evt_gw_free(struct evt_gw *gw);

/* Returns the port listened on (the chosen one when opts.port was 0). */
uint16_t evt_gw_port(const struct evt_gw *gw);

/*
 * Publishes one gateway message worth of events to every session: ev[i]
 * [0..lens[i]) are event object texts (borrowed for the call, copied once,
 * sent verbatim).  Each session gets the events its subscriptions deliver
 * as one {"events":[...]} message (none if nothing matches; never an empty
 * one, never a commandId).  Returns 0 or EVT_ERR_NOMEM (some sessions may
 * have got the events).
 */
int evt_gw_publish(struct evt_gw *gw, const char *const *ev,
    const size_t *lens, size_t n);

/* As evt_gw_publish, for one session only (e.g. a per-session replay
 * timeline started on EVT_GW_SESSION_SUBSCRIBED). */
int evt_gw_publish_session(struct evt_gw *gw, struct evt_gw_session *s,
    const char *const *ev, const size_t *lens, size_t n);

/*
 * Publishes a whole frame that is not an events message (text[0..len),
 * borrowed for the call, copied; e.g. a replayed RAW record) to session s,
 * or to every session with a subscription if s is NULL: it goes out alone
 * and verbatim as one text frame, in order with the events (no filter
 * applies; it is never a resume point).  Returns 0, EVT_ERR_UTF8 (not
 * valid UTF-8: a text frame cannot carry it; nothing published) or
 * EVT_ERR_NOMEM.
 */
int evt_gw_publish_raw(struct evt_gw *gw, struct evt_gw_session *s,
    const char *text, size_t len);

/*
 * Returns the largest backlog (unsent history + queued output bytes) among
 * sessions with a connection; sessions without one do not count (their
 * history is bounded by history_bytes).
 */
size_t evt_gw_backlog(const struct evt_gw *gw);

/*
 * Returns 1 if evt_gw_backlog() exceeds backlog_high: the producer should
 * stop, and drain_cb will be called once it falls below backlog_low (or
 * the slow connections are gone).  Returns 0 otherwise.
 */
int evt_gw_congested(struct evt_gw *gw);

/*
 * Returns a session's backlog: its unsent history plus, while connected,
 * the bytes queued to its connection.
 */
size_t evt_gw_session_backlog(const struct evt_gw_session *s);

/*
 * Returns 1 if the session's backlog exceeds backlog_high: its producer
 * should stop, and session_cb EVT_GW_SESSION_DRAINED will be called for s
 * once it has a connection and the backlog is at backlog_low or below
 * (not if the session goes first: GONE).  Returns 0 otherwise.
 */
int evt_gw_session_congested(struct evt_gw_session *s);

/*
 * Forgets every session, like a gateway recycle: each WebSocket connection
 * is closed with 1001 "gateway recycle" and the session table is emptied
 * (session_cb GONE for each); a later resume gets 201.
 */
void evt_gw_forget_sessions(struct evt_gw *gw);

/*
 * Stops accepting, closes HTTP connections and starts closing WebSocket
 * connections with code (1001 if 0).  Run the loop until
 * evt_gw_stats().conns_now is 0 (or a deadline) before evt_gw_free.
 */
void evt_gw_shutdown(struct evt_gw *gw, int code);

/* Fills *st with the counters. */
void evt_gw_stats(const struct evt_gw *gw, struct evt_gw_stats *st);

/* Returns the session id (borrowed, valid while the session lives; not
 * NUL-terminated) and sets *len. */
const char *evt_gw_session_id(const struct evt_gw_session *s, size_t *len);

/* Returns 1 if the session currently has a connection. */
int evt_gw_session_connected(const struct evt_gw_session *s);

/* Attaches the program's pointer to a session (borrowed; the program frees
 * what it points to on EVT_GW_SESSION_GONE). */
void evt_gw_session_set_data(struct evt_gw_session *s, void *data);

/* Returns the pointer set with evt_gw_session_set_data, or NULL. */
void *evt_gw_session_data(const struct evt_gw_session *s);

/* Mutes (on 1) or unmutes a session for evt_gw_publish and
 * evt_gw_publish_raw to all: a muted session takes only what is published
 * to it alone (evplay --follow: a client catching up from the archive
 * leaves the live stream until it is back where it is). */
void evt_gw_session_mute(struct evt_gw_session *s, int on);

#endif
