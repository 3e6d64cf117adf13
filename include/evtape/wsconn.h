/*
 * wsconn.h: one WebSocket connection (RFC 6455) on a libevent bufferevent,
 * after the HTTP upgrade handshake.
 *
 * The HTTP module does the upgrade and hands over the connected bufferevent
 * (plain TCP or OpenSSL; this module never asks which) plus any bytes that
 * arrived after the handshake headers.  From then on:
 *
 *   bufferevent input -> wslay_frame (header parsing, unmasking)
 *                     -> our reassembly and checks -> on_text / on_binary
 *   evt_wsconn_send_* -> wslay_event queue (copied) -> wslay_event_send
 *                     -> bufferevent output (at most about 1 MiB ahead)
 *
 * Why wslay_event is only used for sending: wslay_event_recv() closes the
 * connection with 1007 on a text frame that is not valid UTF-8, and the
 * recorder must keep such frames raw.  So frames are parsed with
 * wslay_frame_recv() and messages reassembled here; fragmented messages,
 * the message size limit (1009), masking rules (1002), pings (answered with
 * pongs through the wslay_event queue) and the close handshake are handled
 * by this module.  Text messages are NOT checked for valid UTF-8: the bytes
 * are delivered as they arrived.
 *
 * Every connection ends with exactly one on_close call (unless the owner
 * frees it first), whatever the cause: the peer's close frame, EOF, an I/O
 * or TLS error, a protocol violation, a dead peer, or a close handshake that
 * timed out.  Callbacks never run inside an evt_wsconn_* call; they run from
 * the event loop.  evt_wsconn_free() may be called from any callback,
 * including on_close: the memory is released after the callback has
 * returned, on a later turn of the loop (the tmux rule).
 *
 * The program must ignore SIGPIPE: a write to a peer that has gone would
 * otherwise kill it; with SIGPIPE ignored it ends the connection with 1006.
 */
#ifndef EVTAPE_WSCONN_H
#define EVTAPE_WSCONN_H

#include <stddef.h>

struct event_base;
struct bufferevent;
struct evt_wsconn;

/* Close status codes used by this module (RFC 6455 section 7.4.1). */
#define EVT_WS_NORMAL 1000	  /* normal closure */
#define EVT_WS_GOING_AWAY 1001	  /* endpoint going away */
#define EVT_WS_PROTOCOL 1002	  /* protocol violation */
#define EVT_WS_UNSUPPORTED 1003	  /* binary message not accepted */
#define EVT_WS_NO_STATUS 1005	  /* peer's close frame had no code */
#define EVT_WS_ABNORMAL 1006	  /* no close frame: EOF, error, timeout */
#define EVT_WS_POLICY 1008	  /* peer does not read (see max_queue) */
#define EVT_WS_TOO_BIG 1009	  /* message larger than max_msg */
#define EVT_WS_INTERNAL 1011	  /* out of memory */

/* Which end of the connection this is: clients mask, servers expect masks. */
enum evt_wsconn_role {
	EVT_WSCONN_CLIENT = 0,
	EVT_WSCONN_SERVER = 1,
};

/*
 * A message arrived: msg/len are borrowed, valid until the callback returns.
 * msg[len] is a NUL byte for convenience, but msg may contain NULs and, for
 * text, invalid UTF-8.
 */
typedef void (*evt_wsconn_msg_cb)(struct evt_wsconn *conn, const char *msg,
    size_t len, void *arg);

/*
 * The connection ended: code is the peer's close code when a close frame
 * was received (1005 when it carried none), else the code we sent when we
 * closed or failed the connection, else 1006.  reason is borrowed (valid
 * during the call), never NULL, and says what happened.
 */
typedef void (*evt_wsconn_close_cb)(struct evt_wsconn *conn, int code,
    const char *reason, void *arg);

/* The output queue fell to drain_lowat bytes or below. */
typedef void (*evt_wsconn_drain_cb)(struct evt_wsconn *conn, void *arg);

/*
 * Settings; zero means the default.  Times are in seconds.
 */
struct evt_wsconn_config {
	enum evt_wsconn_role role;
	size_t max_msg;		/* largest message received; 64 MiB */
	size_t max_queue;	/* bytes waiting to be sent (evt_wsconn_queued)
				   beyond which a send fails the connection:
				   on_close 1008 "peer does not read"; 64 MiB.
				   Pongs never count: one at a time is on its
				   way out, and a peer that sends over 1024
				   pings meanwhile gets the same on_close */
	double ping_interval;	/* send a ping this often; 0: never */
	double dead_timeout;	/* no whole message and no control frame
				   (ping, pong, close) received for this
				   long: on_close 1006 "peer not
				   responding"; 0: never.  Fragments of a
				   message that does not end do not count */
	double close_timeout;	/* wait for the peer's close or EOF after our
				   close frame; 5 s */
	size_t drain_lowat;	/* on_drain threshold in bytes; 0 */
	evt_wsconn_msg_cb on_text;	/* required */
	evt_wsconn_msg_cb on_binary;	/* NULL: binary closes with 1003 */
	evt_wsconn_close_cb on_close;	/* required */
	evt_wsconn_drain_cb on_drain;	/* optional */
	void *arg;		/* passed to every callback; borrowed */
};

/*
 * Creates a connection on the upgraded bufferevent bev.  cfg and initial
 * (initial_len bytes received after the handshake headers, may be NULL
 * when 0) are copied; base is borrowed and must outlive the connection.
 * On success bev is transferred to the connection, which replaces its
 * callbacks and frees it (bufferevent_free) when the connection ends; create
 * bev with BEV_OPT_CLOSE_ON_FREE so that this also closes the socket.  On
 * failure bev is left untouched and still the caller's.
 * Returns 0 and sets *connp, EVT_ERR_ARG (NULL base/bev/on_text/on_close,
 * negative times) or EVT_ERR_NOMEM.
 */
int evt_wsconn_new(struct evt_wsconn **connp, struct event_base *base,
    struct bufferevent *bev, const struct evt_wsconn_config *cfg,
    const void *initial, size_t initial_len);

/*
 * Queues a text message (the len bytes at msg are copied; no UTF-8 check).
 * Returns 0, EVT_ERR_STATE once the connection is closing or closed, or
 * when the message would take the queue past max_queue (the connection
 * then fails: on_close 1008 follows from the loop); the message is
 * dropped.  Or EVT_ERR_NOMEM.
 */
int evt_wsconn_send_text(struct evt_wsconn *conn, const void *msg,
    size_t len);

/* Queues a binary message; same contract as evt_wsconn_send_text. */
int evt_wsconn_send_binary(struct evt_wsconn *conn, const void *msg,
    size_t len);

/*
 * Returns the bytes waiting to be sent: messages in wslay's queue plus the
 * bufferevent's output buffer (an upper bound: a partly written message
 * counts in both); callers apply back-pressure with it and on_drain.
 */
size_t evt_wsconn_queued(const struct evt_wsconn *conn);

/*
 * Starts the close handshake: queued messages are sent first, then a close
 * frame with code (1000-1003, 1007-1011, 3000-4999; or 0 for none) and
 * reason (copied, may be NULL, at most 123 bytes); on_close follows once
 * the peer answers, closes the TCP connection, or close_timeout expires.
 * Returns 0, EVT_ERR_ARG (bad code or reason too long) or EVT_ERR_STATE
 * (already closing or closed).
 */
int evt_wsconn_close(struct evt_wsconn *conn, int code, const char *reason);

/*
 * Stops reading: no more on_text/on_binary calls (not even for messages
 * already received: they wait in the input buffer), the socket is not read,
 * so the peer meets TCP back-pressure.  While paused the dead-peer timer is
 * stopped (the silence is ours, not the peer's) and no pings are sent (their
 * pongs could not be read); pings from the peer are not answered either,
 * since they are not read.  Sending still works.  A peer's close or EOF is
 * only seen after evt_wsconn_resume.  May be called from on_text/on_binary:
 * the rest of the input is not parsed.  Idempotent; NULL is ignored.
 */
void evt_wsconn_pause(struct evt_wsconn *conn);

/*
 * Reads again after evt_wsconn_pause: held messages are delivered from the
 * next loop turn on, pings resume and the dead-peer timer starts over from
 * now.  Idempotent; NULL is ignored.
 */
void evt_wsconn_resume(struct evt_wsconn *conn);

/*
 * Sets the dead-peer timeout (seconds without input before the connection
 * is failed; 0: none) and starts the timer over from now, e.g. to wait
 * longer for an answer known to be slow.  NULL is ignored.
 */
void evt_wsconn_set_dead_timeout(struct evt_wsconn *conn, double secs);

/*
 * Returns the bufferevent (borrowed; NULL once the connection has ended),
 * e.g. to log the peer's address; do not change its callbacks or free it.
 */
struct bufferevent *evt_wsconn_bufferevent(const struct evt_wsconn *conn);

/*
 * Frees the connection (NULL is ignored); safe from any callback, including
 * on_close.  If the connection is still open it is dropped without a close
 * frame and on_close is NOT called; no callback runs after this call.  The
 * memory is released at once when no callback of this connection is on the
 * stack, otherwise on a later turn of the event loop.
 */
void evt_wsconn_free(struct evt_wsconn *conn);

#endif
