/*
 * ess.h: the sans-I/O core of the Milestone "Events and State WebSocket API"
 * (ESS, see docs/ess-protocol.md), for both ends of the wire.
 *
 * Server side (evsim, evplay): one struct evt_ess_conn per WebSocket
 * connection.  The glue hands it each inbound text frame; the connection
 * appends at most one response frame to a struct evt_buf and reports what
 * happened in a struct evt_ess_action (including "close with code C").  It
 * never reads a clock, never touches a socket and never invents an id: token
 * checks, id generation, session resume and state snapshots are callbacks.
 *
 *   frame --> evt_ess_conn_input() --> response frame bytes in `out`
 *                    |                  + action (command, status, close)
 *                    +--> callbacks: auth_cb, id_cb, resume_cb, state_cb
 *
 * Event delivery: the glue asks evt_ess_conn_delivers() whether the
 * session's subscriptions want an event (or lets evt_ess_events_message_for()
 * filter a batch) and sends {"events":[...]} messages built with
 * evt_ess_events_message*(), which never build an empty one.
 *
 * Client side (evrec): builders for every command with an incrementing
 * commandId starting at 1, a builder for the command-line filter syntax, and
 * evt_ess_classify() for inbound frames.
 *
 * Subscriptions and their filters are declared in ess_filter.h (included
 * here).  Protocol decisions where docs/ess-protocol.md is silent are listed
 * at the top of src/ess.c (and src/ess_filter.c for filters).  Errors are
 * negative enum evt_err values (err.h).
 */
#ifndef EVTAPE_ESS_H
#define EVTAPE_ESS_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/ess_filter.h"
#include "evtape/json.h"

/* Longest session id, subscription id or event id handled as an id. */
#define EVT_ESS_ID_MAX 256

/* Default bounds on what one client can make the server hold. */
#define EVT_ESS_MAX_SUBS 64	      /* subscriptions per session */
#define EVT_ESS_MAX_FILTERS 256	      /* filters per subscription */
#define EVT_ESS_MAX_ENTRIES 4096      /* entries per filter list */
#define EVT_ESS_MAX_FRAME (1u << 20) /* bytes per inbound command frame */

/* Bounds of a connection; a zero field selects the default above. */
struct evt_ess_limits {
	uint32_t max_subs;
	uint32_t max_filters;
	uint32_t max_entries;
	size_t max_frame;
};

/* Subscriptions and their filters: ess_filter.h (included above). */

/* ----------------------------------------------------------------- events */

/* Top-level fields of an event object, pointing into its JSON text (raw
 * string bytes between the quotes, escapes not decoded); NULL if absent or
 * not a string. */
struct evt_ess_event_fields {
	const char *id, *source, *type, *group; /* group: "stategroupid" */
	size_t id_len, source_len, type_len, group_len;
	int escaped; /* one of the strings contains a backslash escape */
};

/*
 * Extracts id, source, type and stategroupid from the event object text
 * json[0..len) (borrowed; the results point into it) in one pass without
 * building tokens.  Meant for text already known to be JSON (archive, generator); it
 * never reads out of bounds on any input.  Returns 0 or EVT_ERR_JSON if the
 * text is not an object it can walk.
 */
int evt_ess_event_fields(const char *json, size_t len,
    struct evt_ess_event_fields *f);

/*
 * Appends {"events":[e0,e1,...]} built from the event object texts ev[i]
 * (ev[i][0..lens[i]), borrowed for the call, copied verbatim, in order).  If
 * n is 0 nothing is appended (an empty batch crashes the official samples).
 * Returns the number of events in the message or EVT_ERR_NOMEM (out
 * unchanged).
 */
int evt_ess_events_message(const char *const *ev, const size_t *lens,
    size_t n, struct evt_buf *out);

/*
 * Appends the events message text[0..len) with only the events ev[0..n)
 * (texts, borrowed, copied verbatim and joined by ',') where its events
 * array held its events, text[from..to) (from the first event's start to
 * the last one's end): every other member of the message is kept as it
 * is.  Returns n, EVT_ERR_ARG (from > to or to > len) or EVT_ERR_NOMEM
 * (out unchanged).
 */
int evt_ess_events_within(const char *text, size_t len, size_t from,
    size_t to, const char *const *ev, const size_t *lens, size_t n,
    struct evt_buf *out);

/*
 * As evt_ess_events_message, but only with the events that set delivers (a
 * NULL set delivers nothing); if none remains nothing is appended.
 */
int evt_ess_events_message_for(const struct evt_ess_subs *set,
    const char *const *ev, const size_t *lens, size_t n, struct evt_buf *out);

/*
 * Appends the JSON array [s0,s1,...] of the state event texts that set
 * delivers (borrowed, copied verbatim; "[]" if none or set is NULL): the
 * helper for a state_cb.  Returns the number of states written or
 * EVT_ERR_NOMEM (out unchanged).
 */
int evt_ess_states_array(const struct evt_ess_subs *set,
    const char *const *st, const size_t *lens, size_t n, struct evt_buf *out);

/* ------------------------------------------------------------ server side */

enum evt_ess_cmd {
	EVT_ESS_CMD_NONE = 0, /* frame was not a command (closed) */
	EVT_ESS_CMD_UNKNOWN,  /* a command name we do not know */
	EVT_ESS_CMD_AUTHENTICATE,
	EVT_ESS_CMD_START_SESSION,
	EVT_ESS_CMD_ADD_SUBSCRIPTION,
	EVT_ESS_CMD_REMOVE_SUBSCRIPTION,
	EVT_ESS_CMD_GET_STATE,
};

/* Callbacks of a server connection; arg is passed to each. */
struct evt_ess_server_cbs {
	/* Returns 1 if token[0..len) (the value of "token" with a leading
	 * "Bearer " removed; borrowed for the call, wiped afterwards) is
	 * valid, else 0. */
	int (*auth_cb)(void *arg, const char *token, size_t len);
	/* Writes a fresh, unique id (session or subscription) of 1 to
	 * EVT_ESS_ID_MAX bytes of UTF-8 into out; returns its length, or 0
	 * on failure (the command gets a 500 response). */
	size_t (*id_cb)(void *arg, char out[EVT_ESS_ID_MAX]);
	/* Asked for startSession with a non-empty sessionId (sid; eid is the
	 * eventId, maybe empty; both borrowed for the call).  Returns 1 to
	 * resume: *subs then receives that session's subscription set
	 * (ownership transferred to the connection; NULL means an empty set);
	 * returns 0 to refuse (a new session is created; a set stored in
	 * *subs anyway is freed).  The connection takes it before the
	 * response is written, so the glue sends redelivered events after
	 * that response frame.  May be NULL: never resume. */
	int (*resume_cb)(void *arg, const char *sid, size_t sidlen,
	    const char *eid, size_t eidlen, struct evt_ess_subs **subs);
	/* Appends to out a JSON array of the session's current states,
	 * filtered by subs (borrowed for the call; evt_ess_states_array() is
	 * the helper).  Returns 0, or < 0 to answer 500 (out is rolled
	 * back).  May be NULL: states are always []. */
	int (*state_cb)(void *arg, const struct evt_ess_subs *subs,
	    struct evt_buf *out);
	void *arg;
};

/* What one inbound frame did. */
struct evt_ess_action {
	int cmd;	       /* enum evt_ess_cmd */
	int status;	       /* status of the response; 0 when none */
	int resumed;	       /* startSession resumed an existing session */
	int close_code;	       /* non-zero: send this WebSocket close code
				  and close; no response was appended */
	const char *close_reason; /* static text (<= 123 bytes) or NULL */
};

struct evt_ess_conn;

/*
 * Creates a connection's protocol state.  cbs is copied; lim (may be NULL)
 * is copied; authenticated says whether the upgrade carried a valid Bearer
 * header.  Returns the connection (owned by the caller) or NULL (no memory).
 */
struct evt_ess_conn *evt_ess_conn_new(const struct evt_ess_server_cbs *cbs,
    const struct evt_ess_limits *lim, int authenticated);

/* Frees a connection and the subscription set it still owns. */
void evt_ess_conn_free(struct evt_ess_conn *c);

/*
 * Processes one inbound text frame frame[0..len) (borrowed for the call).
 * Appends at most one response frame to out (the bytes from out's old
 * length to its new length are that one frame, to be sent as one text
 * message) and fills *act.  If act->close_code is non-zero nothing was
 * appended: the glue sends a close frame with that code and reason and
 * drops the connection; further input returns EVT_ERR_STATE.  Close codes:
 * 1007 not JSON / invalid UTF-8; 1008 JSON that is not a command object, or
 * nested deeper than 64; 1009 frame larger than max_frame.
 * Returns 0; EVT_ERR_STATE after a close; EVT_ERR_NOMEM (out unchanged and
 * the connection state unchanged, except that a set resume_cb handed over
 * is already taken; the glue should close with 1011).
 */
int evt_ess_conn_input(struct evt_ess_conn *c, const char *frame, size_t len,
    struct evt_buf *out, struct evt_ess_action *act);

/* Returns the session id (borrowed, valid until the next input or free; not
 * NUL-terminated) and sets *len, or NULL before a successful startSession. */
const char *evt_ess_conn_session_id(const struct evt_ess_conn *c,
    size_t *len);

/* Returns the connection's subscription set (borrowed, valid until the next
 * input, take or free), NULL before startSession. */
const struct evt_ess_subs *evt_ess_conn_subs(const struct evt_ess_conn *c);

/* Detaches the subscription set (ownership transferred to the caller, to be
 * kept for a later resume) and returns it, or NULL if there is none; the
 * connection then delivers nothing until a later addSubscription starts a
 * new set. */
struct evt_ess_subs *evt_ess_conn_take_subs(struct evt_ess_conn *c);

/* Returns 1 if the connection's subscriptions deliver the event (strings
 * borrowed for the call), else 0. */
int evt_ess_conn_delivers(const struct evt_ess_conn *c, const char *source,
    size_t slen, const char *type, size_t tlen);

/* ------------------------------------------------------------ client side */

/* Client command builder state: the next commandId. */
struct evt_ess_client {
	uint64_t next_id;
};

/* Starts commandIds at 1. */
void evt_ess_client_init(struct evt_ess_client *c);

/*
 * Each builder appends one command frame to out and stores its commandId in
 * *id (may be NULL), then advances the counter.  String arguments are
 * borrowed for the call and JSON-escaped (they must be valid UTF-8).
 * Returns 0, EVT_ERR_ARG (bad argument) or EVT_ERR_NOMEM; on error out is
 * unchanged and the counter is not advanced.
 */

/* {"command":"authenticate","commandId":N,"token":"Bearer <token>"}; token
 * is the bare token.  The caller should wipe out after sending it. */
int evt_ess_client_authenticate(struct evt_ess_client *c, const char *token,
    size_t len, struct evt_buf *out, uint64_t *id);

/* {"command":"startSession","commandId":N,"sessionId":"..","eventId":".."};
 * NULL or empty ids are sent as "" (a new session). */
int evt_ess_client_start_session(struct evt_ess_client *c, const char *sid,
    size_t sidlen, const char *eid, size_t eidlen, struct evt_buf *out,
    uint64_t *id);

/* {"command":"addSubscription","commandId":N,"filters":<filters>}; filters
 * is a JSON array text (e.g. from evt_ess_filters_from_specs), copied
 * verbatim; EVT_ERR_ARG if it is not a JSON array. */
int evt_ess_client_add_subscription(struct evt_ess_client *c,
    const char *filters, size_t len, struct evt_buf *out, uint64_t *id);

/* {"command":"removeSubscription","commandId":N,"subscriptionId":".."}. */
int evt_ess_client_remove_subscription(struct evt_ess_client *c,
    const char *subid, size_t len, struct evt_buf *out, uint64_t *id);

/* {"command":"getState","commandId":N}. */
int evt_ess_client_get_state(struct evt_ess_client *c, struct evt_buf *out,
    uint64_t *id);

enum evt_ess_kind {
	EVT_ESS_NOT_JSON = 0, /* not valid JSON (keep it raw) */
	EVT_ESS_OTHER,	      /* JSON, but neither events nor a response */
	EVT_ESS_EVENTS,	      /* {"events":[...]} */
	EVT_ESS_RESPONSE,     /* has a non-null commandId */
};

/* What evt_ess_classify() found.  Strings are decoded copies,
 * NUL-terminated; an id longer than EVT_ESS_ID_MAX is left empty and sets
 * id_toolong; errorText is cut at EVT_ESS_ID_MAX bytes. */
struct evt_ess_msg {
	int kind;		/* enum evt_ess_kind */
	/* EVT_ESS_EVENTS */
	size_t nevents;		/* elements of "events" */
	char last_id[EVT_ESS_ID_MAX + 1]; /* "id" of the last element, the
					     resume cursor; "" if none */
	/* EVT_ESS_RESPONSE */
	int has_int_id;		/* commandId is an integer in int64 range */
	int64_t command_id;
	int status;		/* -1 if missing or not an integer */
	char session_id[EVT_ESS_ID_MAX + 1];
	char subscription_id[EVT_ESS_ID_MAX + 1];
	char error_text[EVT_ESS_ID_MAX + 1];
	int has_states;		/* "states" is an array */
	size_t nstates;
	int id_toolong;
};

/*
 * Classifies the inbound frame[0..len) (borrowed for the call) using the
 * caller's parser p (its tokens describe the frame afterwards when the
 * result is not EVT_ESS_NOT_JSON).  A non-null commandId wins over
 * "events".  Fills *m and returns m->kind (>= 0), or EVT_ERR_NOMEM.
 */
int evt_ess_classify(struct evt_jparser *p, const char *frame, size_t len,
    struct evt_ess_msg *m);

/*
 * Returns the token index of the value of member name of the object token
 * obj in t (tokens of buf, both borrowed), matched the way
 * evt_ess_classify matches keys (case-insensitively, escapes decoded; the
 * last one when repeated), or -1.
 */
long evt_ess_member(const char *buf, const struct evt_jtok *t, uint32_t obj,
    const char *name);

#endif
