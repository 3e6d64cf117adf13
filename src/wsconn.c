/*
 * wsconn.c: a WebSocket connection on a bufferevent (see wsconn.h).
 *
 * Receiving: on a plain socket, wsconn_slurp() first tops the input up in
 * big reads (libevent 2.1 reads 4 KiB per readiness); the bufferevent's
 * input feeds wslay_frame_recv() through
 * wsconn_frame_recv_cb; each returned chunk (unmasked payload bytes plus the
 * frame header fields) goes to wsconn_chunk(), which checks the frame,
 * reassembles data frames into c->msg and acts on control frames.  We do
 * not use wslay_event_recv() because it fails text frames that are not
 * valid UTF-8 (1007), and the recorder keeps those raw.
 *
 * Sending: a wslay_event context holds the outgoing queue (it copies each
 * message); wsconn_pump() runs wslay_event_send(), whose send callback
 * appends to the bufferevent output until about WSCONN_OUT_HIWAT bytes are
 * waiting.  The write callback (output at or below WSCONN_OUT_LOWAT) pumps
 * again.
 *
 * Bounds on what a peer can make us hold: the message being reassembled
 * (max_msg, 1009); what waits to be sent (max_queue: a send beyond it
 * fails the connection with 1008); pongs: a peer that pings and does not
 * read would otherwise grow wslay's queue without limit (2.6 GB in 18 s),
 * so only one pong is ever on its way out; the answer to later pings
 * waits in one slot (RFC 6455 5.5.3: only the latest ping needs a pong)
 * and a peer that sends more than WSCONN_MAX_PINGS_HELD pings before it
 * takes any of our output is failed with 1008 at once (a close frame could
 * not reach it).
 *
 * Closing: a close frame is queued for one of three reasons: the owner
 * called evt_wsconn_close (queued after the data already queued), the peer
 * sent one (echoed at once), or we fail the connection (protocol error,
 * too big: queued at once, further input discarded).  The connection then
 * ends when both close frames have passed and our output is flushed, on
 * EOF, or when close_timeout expires.  wsconn_finish() ends it: frees the
 * bufferevent (libevent defers its own teardown, so that is safe inside
 * its callbacks) and calls on_close once.
 *
 * Lifetime: c->busy counts our libevent callbacks of this connection on
 * the stack.  evt_wsconn_free() inside one of them only marks the
 * connection and activates free_ev, which frees it on a later loop turn;
 * every path that has called out to the owner checks c->dead afterwards.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/wsconn.h"

#define WSCONN_MAX_MSG_DEFAULT ((size_t)64 << 20)
#define WSCONN_CLOSE_TIMEOUT_DEFAULT 5.0
#define WSCONN_OUT_HIWAT ((size_t)1 << 20)	/* stop feeding the output */
#define WSCONN_OUT_LOWAT ((size_t)256 << 10)	/* write callback fires */
#define WSCONN_MSG_KEEP ((size_t)1 << 20)	/* keep a buffer this big */
#define WSCONN_MAX_QUEUE_DEFAULT ((size_t)64 << 20)
/* Pings answered by one held pong before the peer is failed: a peer
 * pinging every 20 s would have to read nothing for hours. */
#define WSCONN_MAX_PINGS_HELD 1024
/* Bytes per write(2) (libevent's default is 16 KiB): at top speed the
 * syscalls, not the bytes, cost the CPU. */
#define WSCONN_IO_CHUNK ((ev_ssize_t)256 << 10)
/* What wsconn_slurp reads per read callback beyond libevent's own read,
 * and per read(2). */
#define WSCONN_SLURP_MAX ((size_t)1 << 20)
#define WSCONN_SLURP_CHUNK ((size_t)128 << 10)

struct evt_wsconn {
	struct event_base *base;
	struct bufferevent *bev;	/* NULL once finished */
	struct evt_wsconn_config cfg;
	wslay_event_context_ptr ws;	/* sending */
	wslay_frame_context_ptr fr;	/* receiving */

	struct event *kick_ev;		/* run pending work on the next turn */
	struct event *free_ev;		/* deferred free */
	struct event *ping_ev;
	struct event *dead_ev;
	struct event *close_ev;

	int busy;		/* our callbacks on the stack */
	int dead;		/* finished or freed: no more callbacks */
	int freed;		/* evt_wsconn_free was called */
	int failing;		/* we failed it: input is discarded */
	int fin_sent;		/* failing server: our side is shut down */
	int close_pending;	/* owner's close waits for the data queue */
	int close_queued;	/* our close frame is in wslay's queue */
	int peer_closed;	/* the peer's close frame arrived */
	int drain_armed;	/* on_drain is due when output drains */
	int initiated;		/* we started the close handshake */
	int paused;		/* evt_wsconn_pause: not reading */
	int over_queue;		/* a send passed max_queue: failed next turn */

	/* Pongs (see the top of the file). */
	int pong_held;		/* pong[] is owed to the peer */
	int pong_out;		/* a pong may still wait in wslay's queue */
	unsigned pings_held;	/* pings since the peer last took output */
	uint8_t pong[125];
	size_t pong_len;

	int sent_code;		/* code of our close frame */
	char sent_reason[124];
	int peer_code;
	char peer_reason[124];
	char why[256];		/* reason text given to on_close */

	/* Frame being received. */
	int in_frame;
	uint8_t f_op;
	uint8_t f_fin;
	uint64_t f_off;
	/* Message being reassembled (data frames) and control payload. */
	uint8_t msg_op;		/* 0: none in progress */
	struct evt_buf msg;
	uint8_t ctrl[125];
	size_t ctrl_len;
};

static void wsconn_pump(struct evt_wsconn *);
static void wsconn_read_input(struct evt_wsconn *);

/* Converts seconds to a timeval. */
static struct timeval
wsconn_tv(double s)
{
	struct timeval tv;

	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* Releases everything; only called when no callback of c is on the stack. */
static void
wsconn_destroy(struct evt_wsconn *c)
{
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
	}
	if (c->ws != NULL)
		wslay_event_context_free(c->ws);
	if (c->fr != NULL)
		wslay_frame_context_free(c->fr);
	if (c->kick_ev != NULL)
		event_free(c->kick_ev);
	if (c->free_ev != NULL)
		event_free(c->free_ev);
	if (c->ping_ev != NULL)
		event_free(c->ping_ev);
	if (c->dead_ev != NULL)
		event_free(c->dead_ev);
	if (c->close_ev != NULL)
		event_free(c->close_ev);
	evt_buf_free(&c->msg);
	free(c);
}

/* Deferred free: runs on a loop turn after evt_wsconn_free. */
static void
wsconn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	wsconn_destroy(arg);
}

/* Stops all I/O and timers and drops the bufferevent (closing the socket). */
static void
wsconn_shutdown(struct evt_wsconn *c)
{
	c->dead = 1;
	event_del(c->kick_ev);
	event_del(c->ping_ev);
	event_del(c->dead_ev);
	event_del(c->close_ev);
	if (c->bev != NULL) {
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
}

/* Ends the connection and calls on_close exactly once. */
static void
wsconn_finish(struct evt_wsconn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
wsconn_finish(struct evt_wsconn *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
	wsconn_shutdown(c);
	c->cfg.on_close(c, code, c->why, c->cfg.arg);
}

/* Ends the connection after our close frame: reports the best code known. */
static void
wsconn_finish_closed(struct evt_wsconn *c, const char *how)
{
	if (c->peer_closed) {
		if (c->peer_reason[0] != '\0')
			wsconn_finish(c, c->peer_code, "%s", c->peer_reason);
		else
			wsconn_finish(c, c->peer_code, "%s", c->initiated ?
			    "close handshake completed" : "closed by peer");
	} else if (c->sent_reason[0] != '\0')
		wsconn_finish(c, c->sent_code, "%s (%s)", c->sent_reason, how);
	else
		wsconn_finish(c, c->sent_code, "closed by us (%s)", how);
}

/* Arms the timer that bounds the wait for the peer's close or EOF. */
static void
wsconn_start_close_timer(struct evt_wsconn *c)
{
	struct timeval tv = wsconn_tv(c->cfg.close_timeout);

	event_add(c->close_ev, &tv);
}

/* Queues our close frame; returns 0 or a wslay error. */
static int
wsconn_queue_close(struct evt_wsconn *c, int code, const char *reason)
{
	size_t rlen = reason != NULL ? strlen(reason) : 0;
	int r;

	if (rlen > 123)
		rlen = 123;
	r = wslay_event_queue_close(c->ws, (uint16_t)code,
	    (const uint8_t *)reason, code != 0 ? rlen : 0);
	if (r != 0)
		return r;
	c->close_queued = 1;
	c->sent_code = code != 0 ? code : EVT_WS_NO_STATUS;
	snprintf(c->sent_reason, sizeof c->sent_reason, "%.*s", (int)rlen,
	    reason != NULL ? reason : "");
	wsconn_start_close_timer(c);
	return 0;
}

/*
 * Fails the connection (RFC 6455 7.1.7): sends a close frame with code and
 * why, discards further input, waits for the peer's EOF (bounded; a
 * server sends its FIN once the close frame is out, see wsconn_pump).
 */
static void
wsconn_fail(struct evt_wsconn *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
wsconn_fail(struct evt_wsconn *c, int code, const char *fmt, ...)
{
	char why[124];
	va_list ap;

	if (c->dead || c->failing)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	c->failing = 1;
	c->initiated = 1;
	c->close_pending = 0;
	if (c->close_queued || c->peer_closed) {
		/* A close frame already went out: just end it. */
		wsconn_finish(c, code, "%s", why);
		return;
	}
	if (wsconn_queue_close(c, code, why) != 0) {
		wsconn_finish(c, code, "%s", why);
		return;
	}
	/* Keep our reason even if the peer echoes another one. */
	snprintf(c->sent_reason, sizeof c->sent_reason, "%s", why);
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	event_active(c->kick_ev, EV_TIMEOUT, 1);
}

/* wslay_event send callback: appends to the output, up to the high mark. */
static ssize_t
wsconn_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct evt_wsconn *c = arg;
	struct evbuffer *out;

	if (c->bev == NULL) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) >= WSCONN_OUT_HIWAT) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (evbuffer_add(out, data, len) != 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

/* wslay_event genmask callback: RFC 6455 wants unpredictable mask keys. */
static int
wsconn_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    void *arg)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* wslay_event recv callback: unused (we receive through wslay_frame). */
static ssize_t
wsconn_unused_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
    int flags, void *arg)
{
	wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
	return -1;
}

/* wslay_frame recv callback: takes bytes from the bufferevent input. */
static ssize_t
wsconn_frame_recv_cb(uint8_t *buf, size_t len, int flags, void *arg)
{
	struct evt_wsconn *c = arg;
	int n;

	if (c->bev == NULL)
		return 0;
	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	return n > 0 ? n : 0;	/* 0: wslay_frame_recv says WANT_READ */
}

/* wslay_frame send callback: unused (the frame context only receives). */
static ssize_t
wsconn_frame_send_cb(const uint8_t *data, size_t len, int flags, void *arg)
{
	return -1;
}

/* wslay_frame genmask callback: unused. */
static int
wsconn_frame_genmask_cb(uint8_t *buf, size_t len, void *arg)
{
	return -1;
}

/* Checks a received close code (RFC 6455 7.4). */
static int
wsconn_valid_code(int code)
{
	return (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 &&
	    code != 1006) || (code >= 3000 && code <= 4999);
}

/*
 * Hands the held pong to wslay unless an earlier one may still wait in its
 * queue, and on to the output at once: wslay's queue is non-empty
 * afterwards only when the output is full (the peer is not reading).
 */
static void
wsconn_pong_out(struct evt_wsconn *c)
{
	struct wslay_event_msg pong;
	int r;

	if (c->dead || !c->pong_held)
		return;
	if (c->pong_out && wslay_event_get_queued_msg_count(c->ws) == 0)
		c->pong_out = 0;
	if (c->pong_out)
		return;
	pong.opcode = WSLAY_PONG;
	pong.msg = c->pong;
	pong.msg_length = c->pong_len;
	r = wslay_event_queue_msg(c->ws, &pong);	/* copies */
	if (r == WSLAY_ERR_NOMEM) {
		wsconn_fail(c, EVT_WS_INTERNAL, "out of memory");
		return;
	}
	c->pong_held = 0;	/* or dropped: a close frame is queued */
	if (r != 0)
		return;
	if (wslay_event_send(c->ws) != 0) {
		wsconn_finish(c, EVT_WS_ABNORMAL, "cannot send: %s",
		    strerror(errno));
		return;
	}
	c->pong_out = wslay_event_get_queued_msg_count(c->ws) > 0;
}

/* A ping arrived (payload in c->ctrl): answers it, or holds the answer
 * while a pong is on its way out and fails a peer that never reads. */
static void
wsconn_ping(struct evt_wsconn *c)
{
	if (c->pong_held || c->pong_out) {
		if (++c->pings_held > WSCONN_MAX_PINGS_HELD) {
			wsconn_finish(c, EVT_WS_POLICY, "peer does not read: "
			    "%u pings while our pongs wait (limit %u)",
			    c->pings_held, WSCONN_MAX_PINGS_HELD);
			return;
		}
	}
	memcpy(c->pong, c->ctrl, c->ctrl_len);
	c->pong_len = c->ctrl_len;
	c->pong_held = 1;
	wsconn_pong_out(c);
}

/* Acts on a complete control frame in c->ctrl. */
static void
wsconn_control(struct evt_wsconn *c, uint8_t op)
{
	int code = 0;

	switch (op) {
	case WSLAY_PING:
		wsconn_ping(c);
		return;
	case WSLAY_PONG:
		return;		/* its arrival already counted as liveness */
	case WSLAY_CONNECTION_CLOSE:
		break;
	default:
		return;
	}
	if (c->ctrl_len == 1) {
		wsconn_fail(c, EVT_WS_PROTOCOL, "close frame with 1-byte payload");
		return;
	}
	if (c->ctrl_len >= 2) {
		code = (c->ctrl[0] << 8) | c->ctrl[1];
		if (!wsconn_valid_code(code)) {
			wsconn_fail(c, EVT_WS_PROTOCOL,
			    "invalid close code %d from peer", code);
			return;
		}
	}
	c->peer_closed = 1;
	c->peer_code = code != 0 ? code : EVT_WS_NO_STATUS;
	if (c->ctrl_len > 2)
		snprintf(c->peer_reason, sizeof c->peer_reason, "%.*s",
		    (int)(c->ctrl_len - 2), (const char *)c->ctrl + 2);
	c->close_pending = 0;
	if (!c->close_queued) {
		/* Echo the code (RFC 6455 5.5.1), ahead of queued data. */
		if (wsconn_queue_close(c, code, NULL) != 0) {
			wsconn_finish_closed(c, "could not answer");
			return;
		}
	}
	/* Nothing after a close frame is read. */
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
}

/* Hands a complete data message to the owner, then resets the buffer. */
static void
wsconn_deliver(struct evt_wsconn *c)
{
	evt_wsconn_msg_cb cb;

	cb = c->msg_op == WSLAY_TEXT_FRAME ? c->cfg.on_text : c->cfg.on_binary;
	c->msg.p[c->msg.len] = '\0';	/* room reserved in wsconn_chunk */
	c->msg_op = 0;
	cb(c, (const char *)c->msg.p, c->msg.len, c->cfg.arg);
	if (c->dead)
		return;
	c->msg.len = 0;
	if (c->msg.cap > WSCONN_MSG_KEEP)
		evt_buf_free(&c->msg);
}

/* Checks the header of a new frame; returns 0 or -1 after failing c. */
static int
wsconn_frame_start(struct evt_wsconn *c, const struct wslay_frame_iocb *io)
{
	int want_mask = c->cfg.role == EVT_WSCONN_SERVER;

	if (io->rsv != 0) {
		wsconn_fail(c, EVT_WS_PROTOCOL, "reserved bits set in frame");
		return -1;
	}
	if (io->mask != want_mask) {
		wsconn_fail(c, EVT_WS_PROTOCOL, want_mask ?
		    "unmasked frame from client" : "masked frame from server");
		return -1;
	}
	switch (io->opcode) {
	case WSLAY_TEXT_FRAME:
	case WSLAY_BINARY_FRAME:
		if (c->msg_op != 0) {
			wsconn_fail(c, EVT_WS_PROTOCOL,
			    "new message inside a fragmented message");
			return -1;
		}
		if (io->opcode == WSLAY_BINARY_FRAME &&
		    c->cfg.on_binary == NULL) {
			wsconn_fail(c, EVT_WS_UNSUPPORTED,
			    "binary messages are not accepted");
			return -1;
		}
		c->msg_op = io->opcode;
		break;
	case WSLAY_CONTINUATION_FRAME:
		if (c->msg_op == 0) {
			wsconn_fail(c, EVT_WS_PROTOCOL,
			    "continuation frame without a message");
			return -1;
		}
		break;
	case WSLAY_CONNECTION_CLOSE:
	case WSLAY_PING:
	case WSLAY_PONG:
		/* wslay_frame_recv checked fin and length <= 125. */
		c->ctrl_len = 0;
		break;
	default:
		wsconn_fail(c, EVT_WS_PROTOCOL, "unknown opcode %u",
		    (unsigned)io->opcode);
		return -1;
	}
	if (!wslay_is_ctrl_frame(io->opcode)) {
		if (io->payload_length > c->cfg.max_msg - c->msg.len) {
			wsconn_fail(c, EVT_WS_TOO_BIG,
			    "message too big (limit %zu bytes)",
			    c->cfg.max_msg);
			return -1;
		}
		/* payload_length <= max_msg, so this fits in size_t. */
		if (evt_buf_grow(&c->msg, (size_t)io->payload_length + 1) !=
		    0) {
			wsconn_fail(c, EVT_WS_INTERNAL, "out of memory");
			return -1;
		}
	}
	c->in_frame = 1;
	c->f_op = io->opcode;
	c->f_fin = io->fin;
	c->f_off = 0;
	return 0;
}

static void wsconn_alive(struct evt_wsconn *c);

/* Takes one chunk of frame payload from wslay_frame_recv. */
static void
wsconn_chunk(struct evt_wsconn *c, const struct wslay_frame_iocb *io)
{
	if (!c->in_frame && wsconn_frame_start(c, io) != 0)
		return;
	if (wslay_is_ctrl_frame(c->f_op)) {
		memcpy(c->ctrl + c->ctrl_len, io->data, io->data_length);
		c->ctrl_len += io->data_length;
	} else if (io->data_length > 0) {
		memcpy(c->msg.p + c->msg.len, io->data, io->data_length);
		c->msg.len += io->data_length;
	}
	c->f_off += io->data_length;
	if (c->f_off < io->payload_length)
		return;
	c->in_frame = 0;
	/* Only whole messages and control frames (a pong to our ping) prove
	 * the peer alive: endless empty fragments of a message that never
	 * ends do not. */
	if (wslay_is_ctrl_frame(c->f_op) || c->f_fin)
		wsconn_alive(c);
	if (wslay_is_ctrl_frame(c->f_op))
		wsconn_control(c, c->f_op);
	else if (c->f_fin)
		wsconn_deliver(c);
}

/* Parses and delivers everything in the bufferevent input. */
static void
wsconn_read_input(struct evt_wsconn *c)
{
	struct wslay_frame_iocb io;
	ssize_t r;

	while (!c->dead && !c->failing && !c->peer_closed) {
		if (c->paused)
			return;	/* the rest stays in the input buffer */
		memset(&io, 0, sizeof io);
		r = wslay_frame_recv(c->fr, &io);
		if (r == WSLAY_ERR_WANT_READ)
			return;
		if (r < 0) {
			wsconn_fail(c, EVT_WS_PROTOCOL, "malformed frame header");
			return;
		}
		wsconn_chunk(c, &io);
	}
	if (!c->dead) {
		struct evbuffer *in = bufferevent_get_input(c->bev);

		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

/* Sends what wslay holds, queues a pending close, ends a finished close. */
static void
wsconn_pump(struct evt_wsconn *c)
{
	if (c->dead)
		return;
	if (wslay_event_send(c->ws) != 0) {
		wsconn_finish(c, EVT_WS_ABNORMAL, "cannot send: %s",
		    strerror(errno));
		return;
	}
	if (c->close_pending && wslay_event_get_queued_msg_count(c->ws) == 0) {
		c->close_pending = 0;
		if (wsconn_queue_close(c, c->sent_code, c->sent_reason) != 0) {
			wsconn_finish(c, EVT_WS_ABNORMAL,
			    "cannot queue close frame");
			return;
		}
		if (wslay_event_send(c->ws) != 0) {
			wsconn_finish(c, EVT_WS_ABNORMAL, "cannot send: %s",
			    strerror(errno));
			return;
		}
	}
	wsconn_pong_out(c);
	if (c->dead)
		return;
	if (c->peer_closed && wslay_event_get_close_sent(c->ws) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		wsconn_finish_closed(c, "handshake done");
	/* A server that failed the connection sends its FIN once the close
	 * frame is out, since a client waits for the server to close first
	 * (RFC 6455 7.1.1); input is still drained until the peer's EOF, so
	 * unread bytes never turn the close into a reset. */
	else if (c->failing && !c->fin_sent &&
	    c->cfg.role == EVT_WSCONN_SERVER &&
	    wslay_event_get_close_sent(c->ws) &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		c->fin_sent = 1;
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	}
}

/* Calls on_drain if it is armed and the output is low enough. */
static void
wsconn_check_drain(struct evt_wsconn *c)
{
	if (c->dead || !c->drain_armed || c->cfg.on_drain == NULL)
		return;
	if (evt_wsconn_queued(c) > c->cfg.drain_lowat)
		return;
	c->drain_armed = 0;
	c->cfg.on_drain(c, c->cfg.arg);
}

/* Leaves one of our callbacks: frees c if the owner asked for it. */
static void
wsconn_leave(struct evt_wsconn *c)
{
	if (--c->busy == 0 && c->freed)
		event_active(c->free_ev, EV_TIMEOUT, 1);
}

/* Re-arms the dead-peer timer: a whole message or a control frame
 * arrived. */
static void
wsconn_alive(struct evt_wsconn *c)
{
	if (c->cfg.dead_timeout > 0 && !c->paused) {
		struct timeval tv = wsconn_tv(c->cfg.dead_timeout);

		event_add(c->dead_ev, &tv);
	}
}

/*
 * Reads what else the socket holds into the input, in big reads.  A socket
 * bufferevent of libevent 2.1 reads at most 4 KiB per readiness (its
 * EVBUFFER_MAX_READ), so at top speed the recorder spent a third of its
 * time in epoll_wait + ioctl(FIONREAD) + readv for every 4 KiB.  Only plain
 * sockets (TLS reads go through OpenSSL), and only while reading is
 * enabled (the owner's back-pressure disables it).  EOF and errors are
 * left alone: the socket stays readable and libevent's next read reports
 * them as usual.
 */
static void
wsconn_slurp(struct evt_wsconn *c, struct bufferevent *bev)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	size_t got = 0;

	if (fd < 0 || bufferevent_openssl_get_ssl(bev) != NULL ||
	    !(bufferevent_get_enabled(bev) & EV_READ))
		return;
	/* The socket bufferevent keeps its input's end frozen between its own
	 * reads; it does the same around them. */
	if (evbuffer_unfreeze(in, 0) != 0)
		return;
	while (got < WSCONN_SLURP_MAX) {
		struct evbuffer_iovec v;
		ssize_t n;

		if (evbuffer_reserve_space(in, (ev_ssize_t)WSCONN_SLURP_CHUNK,
		    &v, 1) != 1)
			break;
		n = read(fd, v.iov_base, v.iov_len);
		if (n <= 0)
			break;	/* nothing reserved is committed */
		v.iov_len = (size_t)n;
		if (evbuffer_commit_space(in, &v, 1) != 0)
			break;
		got += (size_t)n;
		if ((size_t)n < WSCONN_SLURP_CHUNK)
			break;	/* drained */
	}
	(void)evbuffer_freeze(in, 0);
}

/* bufferevent read callback: new bytes from the peer. */
static void
wsconn_read_cb(struct bufferevent *bev, void *arg)
{
	struct evt_wsconn *c = arg;

	c->busy++;
	if (c->failing)
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
	else {
		wsconn_slurp(c, bev);
		wsconn_read_input(c);
	}
	wsconn_pump(c);
	wsconn_leave(c);
}

/* bufferevent write callback: the output went below WSCONN_OUT_LOWAT. */
static void
wsconn_write_cb(struct bufferevent *bev, void *arg)
{
	struct evt_wsconn *c = arg;

	c->busy++;
	/* The peer took our output down to the low mark: it reads, so the
	 * pong we handed over has gone or goes next (control frames before
	 * data), and the pings it sent meanwhile were fair. */
	c->pong_out = 0;
	c->pings_held = 0;
	wsconn_pump(c);
	wsconn_check_drain(c);
	wsconn_leave(c);
}

/* bufferevent event callback: EOF, error or timeout. */
static void
wsconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct evt_wsconn *c = arg;
	unsigned long ssl_err;
	int err = errno;

	c->busy++;
	if (what & BEV_EVENT_EOF) {
		/* Bytes that came with the EOF first (a close frame, say). */
		if (!c->failing)
			wsconn_read_input(c);
		if (c->dead)
			goto out;
		if (c->close_queued || c->peer_closed)
			wsconn_finish_closed(c, "peer closed the connection");
		else
			wsconn_finish(c, EVT_WS_ABNORMAL,
			    "peer closed the connection without a close frame");
	} else if ((what & BEV_EVENT_ERROR) && c->peer_closed) {
		wsconn_finish_closed(c, "connection error after close frame");
	} else if (what & BEV_EVENT_ERROR) {
		ssl_err = bufferevent_get_openssl_error(bev);
		if (ssl_err != 0) {
			char buf[200];

			ERR_error_string_n(ssl_err, buf, sizeof buf);
			wsconn_finish(c, EVT_WS_ABNORMAL, "TLS error: %s", buf);
		} else
			wsconn_finish(c, EVT_WS_ABNORMAL, "connection error: %s",
			    err != 0 ? strerror(err) : "unknown");
	} else if (what & BEV_EVENT_TIMEOUT)
		wsconn_finish(c, EVT_WS_ABNORMAL, "bufferevent timeout");
out:
	wsconn_leave(c);
}

/* Kick event: work requested outside the loop's callbacks. */
static void
wsconn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_wsconn *c = arg;

	c->busy++;
	if (c->over_queue) {
		wsconn_finish(c, EVT_WS_POLICY, "peer does not read: %zu bytes "
		    "waiting to be sent (limit %zu)", evt_wsconn_queued(c),
		    c->cfg.max_queue);
		wsconn_leave(c);
		return;
	}
	if (!c->dead && !c->failing && !c->peer_closed)
		wsconn_read_input(c);
	wsconn_pump(c);
	wsconn_check_drain(c);
	wsconn_leave(c);
}

/* Ping timer: keeps NATs and the peer awake and detects dead peers. */
static void
wsconn_ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_wsconn *c = arg;
	struct wslay_event_msg ping = { WSLAY_PING, NULL, 0 };

	c->busy++;
	/* While wslay still holds frames the peer is not reading: a ping
	 * could not go out either, and would only pile up. */
	if (!c->dead && !c->close_queued && !c->close_pending &&
	    wslay_event_get_queued_msg_count(c->ws) == 0) {
		(void)wslay_event_queue_msg(c->ws, &ping);
		wsconn_pump(c);
	}
	wsconn_leave(c);
}

/* Dead-peer timer: nothing arrived for dead_timeout seconds. */
static void
wsconn_dead_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_wsconn *c = arg;

	c->busy++;
	wsconn_finish(c, EVT_WS_ABNORMAL,
	    "peer not responding (nothing received for %g s)",
	    c->cfg.dead_timeout);
	wsconn_leave(c);
}

/* Close timer: the peer did not answer our close frame in time. */
static void
wsconn_close_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evt_wsconn *c = arg;

	c->busy++;
	wsconn_finish_closed(c, "peer did not answer the close frame");
	wsconn_leave(c);
}

/* Creates a connection on an upgraded bufferevent (see wsconn.h). */
int
evt_wsconn_new(struct evt_wsconn **connp, struct event_base *base,
    struct bufferevent *bev, const struct evt_wsconn_config *cfg,
    const void *initial, size_t initial_len)
{
	struct wslay_event_callbacks wcb = {
		wsconn_unused_recv_cb, wsconn_send_cb, wsconn_genmask_cb,
		NULL, NULL, NULL, NULL
	};
	struct wslay_frame_callbacks fcb = {
		wsconn_frame_send_cb, wsconn_frame_recv_cb,
		wsconn_frame_genmask_cb
	};
	struct evt_wsconn *c;
	int r;

	if (connp == NULL || base == NULL || bev == NULL || cfg == NULL ||
	    cfg->on_text == NULL || cfg->on_close == NULL ||
	    (initial == NULL && initial_len > 0) ||
	    !(cfg->ping_interval >= 0) || !(cfg->dead_timeout >= 0) ||
	    !(cfg->close_timeout >= 0) || cfg->ping_interval > 1e9 ||
	    cfg->dead_timeout > 1e9 || cfg->close_timeout > 1e9 ||
	    (cfg->role != EVT_WSCONN_CLIENT && cfg->role != EVT_WSCONN_SERVER))
		return EVT_ERR_ARG;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return EVT_ERR_NOMEM;
	c->base = base;
	c->cfg = *cfg;
	if (c->cfg.max_msg == 0)
		c->cfg.max_msg = WSCONN_MAX_MSG_DEFAULT;
	if (c->cfg.max_queue == 0)
		c->cfg.max_queue = WSCONN_MAX_QUEUE_DEFAULT;
	if (c->cfg.close_timeout == 0)
		c->cfg.close_timeout = WSCONN_CLOSE_TIMEOUT_DEFAULT;
	if (c->cfg.role == EVT_WSCONN_SERVER)
		r = wslay_event_context_server_init(&c->ws, &wcb, c);
	else
		r = wslay_event_context_client_init(&c->ws, &wcb, c);
	if (r != 0)
		goto fail;
	if (wslay_frame_context_init(&c->fr, &fcb, c) != 0)
		goto fail;
	c->kick_ev = event_new(base, -1, 0, wsconn_kick_cb, c);
	c->free_ev = event_new(base, -1, 0, wsconn_free_cb, c);
	c->ping_ev = event_new(base, -1, EV_PERSIST, wsconn_ping_cb, c);
	c->dead_ev = event_new(base, -1, 0, wsconn_dead_cb, c);
	c->close_ev = event_new(base, -1, 0, wsconn_close_cb, c);
	if (c->kick_ev == NULL || c->free_ev == NULL || c->ping_ev == NULL ||
	    c->dead_ev == NULL || c->close_ev == NULL)
		goto fail;
	if (initial_len > 0 &&
	    evbuffer_prepend(bufferevent_get_input(bev), initial,
	    initial_len) != 0)
		goto fail;
	/* Nothing below can fail, so bev is only touched once it is ours. */
	c->bev = bev;
	bufferevent_setcb(bev, wsconn_read_cb, wsconn_write_cb,
	    wsconn_event_cb, c);
	bufferevent_setwatermark(bev, EV_WRITE, WSCONN_OUT_LOWAT, 0);
	(void)bufferevent_set_max_single_write(bev, WSCONN_IO_CHUNK);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (c->cfg.ping_interval > 0) {
		struct timeval tv = wsconn_tv(c->cfg.ping_interval);

		event_add(c->ping_ev, &tv);
	}
	wsconn_alive(c);
	/* Parse the initial bytes on the first loop turn, not in here. */
	event_active(c->kick_ev, EV_TIMEOUT, 1);
	*connp = c;
	return 0;
fail:
	wsconn_destroy(c);	/* c->bev is still NULL: bev stays the caller's */
	return EVT_ERR_NOMEM;
}

/* Queues one data message with the given opcode. */
static int
wsconn_send(struct evt_wsconn *c, uint8_t op, const void *msg, size_t len)
{
	struct wslay_event_msg m;
	int r;

	if (c == NULL || (msg == NULL && len > 0))
		return EVT_ERR_ARG;
	if (c->dead || c->failing || c->close_pending || c->close_queued ||
	    c->peer_closed)
		return EVT_ERR_STATE;
	if (len > c->cfg.max_queue - evt_wsconn_queued(c) ||
	    evt_wsconn_queued(c) > c->cfg.max_queue) {
		/* The peer does not take what we send: fail it on the next
		 * turn (no callback inside this call). */
		c->failing = 1;
		c->over_queue = 1;
		event_active(c->kick_ev, EV_TIMEOUT, 1);
		return EVT_ERR_STATE;
	}
	m.opcode = op;
	m.msg = msg;
	m.msg_length = len;
	r = wslay_event_queue_msg(c->ws, &m);
	if (r == WSLAY_ERR_NOMEM)
		return EVT_ERR_NOMEM;
	if (r != 0)
		return EVT_ERR_STATE;
	if (evt_wsconn_queued(c) > c->cfg.drain_lowat)
		c->drain_armed = 1;
	event_active(c->kick_ev, EV_TIMEOUT, 1);
	return 0;
}

/* Queues a text message. */
int
evt_wsconn_send_text(struct evt_wsconn *conn, const void *msg, size_t len)
{
	return wsconn_send(conn, WSLAY_TEXT_FRAME, msg, len);
}

/* Queues a binary message. */
int
evt_wsconn_send_binary(struct evt_wsconn *conn, const void *msg, size_t len)
{
	return wsconn_send(conn, WSLAY_BINARY_FRAME, msg, len);
}

/* Returns wslay's queued bytes plus the bufferevent's output. */
size_t
evt_wsconn_queued(const struct evt_wsconn *conn)
{
	size_t n;

	if (conn == NULL || conn->dead)
		return 0;
	n = wslay_event_get_queued_msg_length(conn->ws);
	return n + evbuffer_get_length(bufferevent_get_output(conn->bev));
}

/* Starts the close handshake after the queued messages. */
int
evt_wsconn_close(struct evt_wsconn *conn, int code, const char *reason)
{
	size_t rlen = reason != NULL ? strlen(reason) : 0;

	if (conn == NULL || rlen > 123 ||
	    (code != 0 && !wsconn_valid_code(code)) || (code == 0 && rlen > 0))
		return EVT_ERR_ARG;
	if (conn->dead || conn->failing || conn->close_pending ||
	    conn->close_queued || conn->peer_closed)
		return EVT_ERR_STATE;
	/* Queued in wsconn_pump once the data before it has gone out. */
	conn->close_pending = 1;
	conn->initiated = 1;
	conn->sent_code = code;
	snprintf(conn->sent_reason, sizeof conn->sent_reason, "%s",
	    reason != NULL ? reason : "");
	wsconn_start_close_timer(conn);
	event_active(conn->kick_ev, EV_TIMEOUT, 1);
	return 0;
}

/* Stops reading from the peer (see wsconn.h). */
void
evt_wsconn_pause(struct evt_wsconn *conn)
{
	if (conn == NULL || conn->dead || conn->paused)
		return;
	conn->paused = 1;
	bufferevent_disable(conn->bev, EV_READ);
	/* Silence from the peer is ours now: no liveness checks, and no
	 * pings whose pongs could not be read anyway. */
	event_del(conn->dead_ev);
	event_del(conn->ping_ev);
}

/* Reads again after evt_wsconn_pause (see wsconn.h). */
void
evt_wsconn_resume(struct evt_wsconn *conn)
{
	if (conn == NULL || conn->dead || !conn->paused)
		return;
	conn->paused = 0;
	bufferevent_enable(conn->bev, EV_READ);
	if (conn->cfg.ping_interval > 0) {
		struct timeval tv = wsconn_tv(conn->cfg.ping_interval);

		event_add(conn->ping_ev, &tv);
	}
	wsconn_alive(conn);	/* the dead-peer wait starts over */
	/* Messages already in the input buffer: on the next loop turn. */
	event_active(conn->kick_ev, EV_TIMEOUT, 1);
}

/* Changes the dead-peer timeout; the timer starts over from now. */
void
evt_wsconn_set_dead_timeout(struct evt_wsconn *conn, double secs)
{
	if (conn == NULL || conn->dead)
		return;
	conn->cfg.dead_timeout = secs;
	event_del(conn->dead_ev);
	wsconn_alive(conn);
}

/* Returns the bufferevent (see wsconn.h). */
struct bufferevent *
evt_wsconn_bufferevent(const struct evt_wsconn *conn)
{
	return conn != NULL ? conn->bev : NULL;
}

/* Frees now, or after our callbacks on the stack have returned. */
void
evt_wsconn_free(struct evt_wsconn *conn)
{
	if (conn == NULL || conn->freed)
		return;
	conn->freed = 1;
	wsconn_shutdown(conn);
	if (conn->busy == 0)
		wsconn_destroy(conn);
	/* Otherwise wsconn_leave schedules free_ev when the stack unwinds. */
}
