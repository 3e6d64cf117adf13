/*
 * test_wsconn.c: the WebSocket connection glue over real AF_UNIX socket
 * pairs and a real event_base.  Either both ends are evt_wsconn (client and
 * server), or one end is a "raw" peer: the test writes hand-made frames into
 * the socket and collects what comes back through a read event.  Nothing
 * sleeps: every wait runs the loop until a condition holds, with a 5 s
 * guard timer that fails the check instead of hanging.
 */
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/wsconn.h"
#include "t.h"
#include "tnet.h"

/* One evt_wsconn end and what its callbacks saw. */
struct side {
	struct evt_wsconn *c;
	int ntext, nbin, nclose, ndrain, code;
	char reason[256];
	struct evt_buf last;	/* copy of the last message */
	int echo;		/* send every text message back */
	int free_in_text;	/* evt_wsconn_free inside on_text */
	int order;		/* check messages are "m<N>" in order */
	int next, order_bad;
	int pause_at;		/* evt_wsconn_pause at this many messages */
};

/* A hand-driven peer: a socket and everything read from it. */
struct raw {
	int fd;
	struct event *ev;
	struct evt_buf in;
	int eof;
};

/* Runs a few more non-blocking loop turns (to catch extra callbacks). */
static void
settle(void)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
on_text(struct evt_wsconn *c, const char *msg, size_t len, void *arg)
{
	struct side *s = arg;
	char want[32];

	s->ntext++;
	s->last.len = 0;
	evt_buf_put(&s->last, msg, len);
	if (s->order) {
		snprintf(want, sizeof want, "m%d", s->next++);
		if (len != strlen(want) || memcmp(msg, want, len) != 0)
			s->order_bad++;
	}
	if (msg[len] != '\0')
		s->order_bad++;
	if (s->echo)
		evt_wsconn_send_text(c, msg, len);
	if (s->pause_at > 0 && s->ntext == s->pause_at)
		evt_wsconn_pause(c);
	if (s->free_in_text) {
		evt_wsconn_free(c);
		s->c = NULL;
	}
}

static void
on_binary(struct evt_wsconn *c, const char *msg, size_t len, void *arg)
{
	struct side *s = arg;

	s->nbin++;
	s->last.len = 0;
	evt_buf_put(&s->last, msg, len);
}

/* Records the close and frees the connection from inside on_close. */
static void
on_close(struct evt_wsconn *c, int code, const char *reason, void *arg)
{
	struct side *s = arg;

	s->nclose++;
	s->code = code;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	evt_wsconn_free(c);
	s->c = NULL;
}

static void
on_drain(struct evt_wsconn *c, void *arg)
{
	((struct side *)arg)->ndrain++;
}

/* A default configuration for side s. */
static struct evt_wsconn_config
cfg_for(struct side *s, enum evt_wsconn_role role)
{
	struct evt_wsconn_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.role = role;
	cfg.on_text = on_text;
	cfg.on_close = on_close;
	cfg.arg = s;
	return cfg;
}

/* Wraps fd in a bufferevent and an evt_wsconn; returns 0 or an evt_err. */
static int
attach(struct side *s, int fd, const struct evt_wsconn_config *cfg,
    const void *initial, size_t ilen)
{
	struct bufferevent *bev;
	int r;

	evutil_make_socket_nonblocking(fd);
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return EVT_ERR_NOMEM;
	r = evt_wsconn_new(&s->c, base, bev, cfg, initial, ilen);
	if (r != 0)
		bufferevent_free(bev);
	return r;
}

/* Makes a connected client/server pair. */
static int
pair(struct side *cli, struct side *srv, const struct evt_wsconn_config *ccfg,
    const struct evt_wsconn_config *scfg)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	if (attach(cli, sv[0], ccfg, NULL, 0) != 0 ||
	    attach(srv, sv[1], scfg, NULL, 0) != 0)
		return -1;
	return 0;
}

/* Collects bytes arriving at a raw peer. */
static void
raw_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct raw *r = arg;
	uint8_t buf[65536];
	ssize_t n = read(fd, buf, sizeof buf);

	if (n > 0)
		evt_buf_put(&r->in, buf, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		r->eof = 1;
		event_del(r->ev);
	}
}

/* Makes a raw peer on one end and an evt_wsconn on the other. */
static int
raw_pair(struct raw *r, struct side *s, const struct evt_wsconn_config *cfg,
    const void *initial, size_t ilen)
{
	int sv[2];

	memset(r, 0, sizeof *r);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	r->fd = sv[0];
	evutil_make_socket_nonblocking(r->fd);
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, raw_read_cb, r);
	event_add(r->ev, NULL);
	return attach(s, sv[1], cfg, initial, ilen);
}

/* Closes a raw peer's socket. */
static void
raw_close(struct raw *r)
{
	if (r->ev != NULL) {
		event_free(r->ev);
		r->ev = NULL;
	}
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	evt_buf_free(&r->in);
}

/* Writes all n bytes to the raw socket (the peer keeps reading). */
static void
raw_write(struct raw *r, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(r->fd, b, n);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
			continue;
		}
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
	}
}

/* Appends one frame to b; mask != 0 masks it with a fixed key. */
static void
frame(struct evt_buf *b, int fin, int op, const void *p, size_t n, int mask)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	const uint8_t *d = p;

	evt_buf_putc(b, (fin ? 0x80 : 0) | op);
	if (n < 126)
		evt_buf_putc(b, (mask ? 0x80 : 0) | (int)n);
	else if (n < 65536) {
		evt_buf_putc(b, (mask ? 0x80 : 0) | 126);
		evt_buf_putc(b, (int)(n >> 8));
		evt_buf_putc(b, (int)(n & 0xff));
	} else {
		evt_buf_putc(b, (mask ? 0x80 : 0) | 127);
		for (int i = 7; i >= 0; i--)
			evt_buf_putc(b, (int)((uint64_t)n >> (8 * i)) & 0xff);
	}
	if (mask)
		evt_buf_put(b, key, 4);
	for (size_t i = 0; i < n; i++)
		evt_buf_putc(b, d[i] ^ (mask ? key[i % 4] : 0));
}

/*
 * Parses the first frame in p[0..n): sets op, masked and the unmasked
 * payload; returns the frame's size or 0 when incomplete.
 */
static size_t
parse(const uint8_t *p, size_t n, int *op, int *masked, uint8_t *pl,
    size_t *plen)
{
	size_t h = 2, len;

	if (n < 2)
		return 0;
	*op = p[0] & 0x0f;
	*masked = p[1] >> 7;
	len = p[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (size_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127)
		return 0;	/* not needed by these tests */
	if (*masked)
		h += 4;
	if (n < h + len || len > 125)
		return 0;
	for (size_t i = 0; i < len; i++)
		pl[i] = p[h + i] ^ (*masked ? p[h - 4 + i % 4] : 0);
	*plen = len;
	return h + len;
}

/* Parses the first frame at a raw peer (0 when none complete yet). */
static size_t
raw_frame(const struct raw *r, size_t off, int *op, int *masked, uint8_t *pl,
    size_t *plen)
{
	if (r->in.len <= off)
		return 0;
	return parse(r->in.p + off, r->in.len - off, op, masked, pl, plen);
}

/* Frees a side's buffers and whatever connection is left. */
static void
side_done(struct side *s)
{
	evt_wsconn_free(s->c);
	s->c = NULL;
	evt_buf_free(&s->last);
	settle();
}

/* Echo of many sizes between an evt_wsconn client and server. */
static void
test_echo(void)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 65535, 65536,
		5 << 20 };
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	uint8_t *big = malloc(5 << 20);

	for (size_t i = 0; i < ((size_t)5 << 20); i++)
		big[i] = (uint8_t)rng();
	srv.echo = 1;
	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "echo: pair created");
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		int want = cli.ntext + 1;

		T_EQ(evt_wsconn_send_text(cli.c, big, sizes[k]), 0,
		    "echo %zu: send", sizes[k]);
		WAIT(cli.ntext == want || cli.nclose > 0);
		T_OK(!timed_out && cli.ntext == want &&
		    cli.last.len == sizes[k] &&
		    (sizes[k] == 0 || memcmp(cli.last.p, big, sizes[k]) == 0),
		    "echo %zu bytes: same bytes back", sizes[k]);
	}
	T_EQ(cli.order_bad, 0, "echo: messages NUL-terminated");
	T_EQ(evt_wsconn_queued(cli.c), 0, "echo: nothing left queued");
	T_EQ(cli.nclose + srv.nclose, 0, "echo: no close");
	free(big);
	side_done(&cli);
	side_done(&srv);
}

/* 1,000 small messages arrive in order. */
static void
test_order(void)
{
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	char m[32];
	int bad = 0;

	srv.order = 1;
	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "order: pair created");
	for (int i = 0; i < 1000; i++) {
		snprintf(m, sizeof m, "m%d", i);
		bad += evt_wsconn_send_text(cli.c, m, strlen(m)) != 0;
	}
	T_EQ(bad, 0, "order: 1000 sends queued");
	T_OK(evt_wsconn_queued(cli.c) > 0, "order: queued bytes reported");
	WAIT(srv.ntext == 1000);
	T_EQ(srv.ntext, 1000, "order: 1000 messages received");
	T_EQ(srv.order_bad, 0, "order: in order, intact");
	side_done(&cli);
	side_done(&srv);
}

/* A fragmented message with a ping in between is reassembled. */
static void
test_fragmented(int bytewise)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	uint8_t pl[125];
	size_t plen = 0;
	int op = -1, masked = -1;

	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "frag: pair created");
	frame(&b, 0, 0x1, "Hel", 3, 1);
	frame(&b, 1, 0x9, "p!", 2, 1);		/* ping between fragments */
	frame(&b, 0, 0x0, "lo, ", 4, 1);
	frame(&b, 0, 0x0, "", 0, 1);
	frame(&b, 1, 0x0, "world", 5, 1);
	if (bytewise) {
		for (size_t i = 0; i < b.len; i++) {
			raw_write(&r, b.p + i, 1);
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
	} else
		raw_write(&r, b.p, b.len);
	WAIT(srv.ntext == 1 && raw_frame(&r, 0, &op, &masked, pl, &plen));
	T_OK(srv.ntext == 1 && srv.last.len == 12 &&
	    memcmp(srv.last.p, "Hello, world", 12) == 0,
	    "frag%s: reassembled into one message", bytewise ? " bytewise" : "");
	T_OK(op == 0xa && !masked && plen == 2 && memcmp(pl, "p!", 2) == 0,
	    "frag%s: ping inside the message answered", bytewise ?
	    " bytewise" : "");
	T_EQ(srv.nclose, 0, "frag: still open");
	evt_buf_free(&b);
	raw_close(&r);
	WAIT(srv.nclose == 1);
	T_EQ(srv.code, 1006, "frag: EOF without close frame gives 1006");
	side_done(&srv);
}

/* Raw ping gets a pong with the same payload; raw pong is ignored. */
static void
test_ping(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	uint8_t pl[125];
	size_t plen = 0;
	int op = -1, masked = -1;

	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "ping: pair created");
	frame(&b, 1, 0xa, "unsolicited", 11, 1);
	frame(&b, 1, 0x9, "hello?", 6, 1);
	raw_write(&r, b.p, b.len);
	WAIT(raw_frame(&r, 0, &op, &masked, pl, &plen) != 0);
	T_OK(op == 0xa && plen == 6 && memcmp(pl, "hello?", 6) == 0,
	    "ping: pong with the ping's payload");
	T_OK(masked == 0, "ping: server frames are not masked");
	T_EQ(srv.nclose, 0, "ping: unsolicited pong accepted");
	evt_buf_free(&b);
	raw_close(&r);
	WAIT(srv.nclose == 1);
	side_done(&srv);
}

/* A client sends pings on its interval, masked with a random key. */
static void
test_ping_interval(void)
{
	struct side cli = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct raw r;
	uint8_t pl[125];
	size_t plen = 0, n1 = 0, n2 = 0;
	int op1 = -1, op2 = -1, m1 = 0, m2 = 0;

	cc.ping_interval = 0.02;
	T_OK(raw_pair(&r, &cli, &cc, NULL, 0) == 0, "pinger: pair created");
	WAIT((n1 = raw_frame(&r, 0, &op1, &m1, pl, &plen)) != 0 &&
	    (n2 = raw_frame(&r, n1, &op2, &m2, pl, &plen)) != 0);
	T_OK(!timed_out && op1 == 0x9 && op2 == 0x9, "pinger: two pings sent");
	T_OK(m1 && m2, "pinger: client frames are masked");
	T_OK(n1 == 6 && n2 == 6 && memcmp(r.in.p + 2, r.in.p + 8, 4) != 0,
	    "pinger: mask keys differ");
	raw_close(&r);
	WAIT(cli.nclose == 1);
	side_done(&cli);
}

/* Nothing received for 0.2 s: on_close "peer not responding". */
static void
test_dead_peer(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;

	sc.dead_timeout = 0.2;
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "dead: pair created");
	frame(&b, 1, 0x1, "alive", 5, 1);
	raw_write(&r, b.p, b.len);
	WAIT(srv.ntext == 1);
	T_EQ(srv.ntext, 1, "dead: message before silence delivered");
	WAIT(srv.nclose == 1);
	T_OK(!timed_out && srv.nclose == 1, "dead: on_close fired");
	T_EQ(srv.code, 1006, "dead: code 1006");
	T_OK(strstr(srv.reason, "peer not responding") != NULL,
	    "dead: reason says so: %s", srv.reason);
	WAIT(r.eof);
	T_OK(r.eof, "dead: socket closed");
	evt_buf_free(&b);
	raw_close(&r);
	side_done(&srv);
}

/* A one-shot timer set this flag. */
static void
flag_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Pause inside on_text: nothing more is delivered, the socket is not read
 * (the writer meets back-pressure), the dead-peer timer does not fire while
 * paused; resume delivers the held messages in order and the dead-peer
 * timer works again. */
static void
test_pause(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	struct event *t;
	struct timeval tv = { 0, 600000 };	/* 3 dead timeouts */
	int fired = 0, full = 0, n = 3;
	size_t total = 0;

	sc.dead_timeout = 0.2;
	sc.ping_interval = 0.05;
	srv.order = 1;
	srv.pause_at = 1;
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "pause: pair created");
	for (int i = 0; i < 3; i++) {
		char m[8];
		int l = snprintf(m, sizeof m, "m%d", i);

		frame(&b, 1, 0x1, m, (size_t)l, 1);
	}
	raw_write(&r, b.p, b.len);
	WAIT(srv.ntext == 1);
	T_EQ(srv.ntext, 1, "pause: first message delivered, then paused");
	/* The peer writes until the socket refuses: back-pressure. */
	while (!full && total < ((size_t)64 << 20)) {
		char m[8];
		int l = snprintf(m, sizeof m, "m%d", n);
		ssize_t w;

		b.len = 0;
		frame(&b, 1, 0x1, m, (size_t)l, 1);
		w = write(r.fd, b.p, b.len);
		if (w < 0 && errno == EAGAIN) {
			full = 1;
			break;
		}
		if (w != (ssize_t)b.len)
			break;	/* a partial frame: stop here */
		total += b.len;
		n++;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	T_OK(full, "pause: the writer met back-pressure after %zu bytes",
	    total);
	t = evtimer_new(base, flag_cb, &fired);
	evtimer_add(t, &tv);
	r.in.len = 0;
	WAIT(fired || srv.nclose > 0);
	T_OK(fired && srv.nclose == 0,
	    "pause: no dead-peer close while we are the ones not reading");
	T_EQ(srv.ntext, 1, "pause: nothing delivered while paused");
	T_EQ(r.in.len, 0, "pause: no pings sent while paused");
	srv.pause_at = 0;
	evt_wsconn_resume(srv.c);
	WAIT(srv.ntext == n);
	T_EQ(srv.ntext, n, "pause: resume delivers all %d held messages", n);
	T_EQ(srv.order_bad, 0, "pause: in order");
	WAIT(r.in.len > 0);
	T_OK(r.in.len > 0, "pause: pings again after resume");
	WAIT(srv.nclose == 1);
	T_OK(srv.nclose == 1 && strstr(srv.reason, "peer not responding") !=
	    NULL, "pause: dead-peer detection works again: %s", srv.reason);
	event_free(t);
	evt_buf_free(&b);
	raw_close(&r);
	side_done(&srv);
}

/* Pause and resume are idempotent: a second pause needs no second resume,
 * a second resume delivers nothing twice; NULL is ignored (a crash fails
 * the program, which tests/run.sh counts). */
static void
test_pause_twice(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;

	srv.order = 1;
	evt_wsconn_pause(NULL);
	evt_wsconn_resume(NULL);
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "pause twice: pair");
	evt_wsconn_pause(srv.c);
	evt_wsconn_pause(srv.c);
	frame(&b, 1, 0x1, "m0", 2, 1);
	frame(&b, 1, 0x1, "m1", 2, 1);
	raw_write(&r, b.p, b.len);
	settle();
	T_EQ(srv.ntext, 0, "pause twice: nothing delivered while paused");
	evt_wsconn_resume(srv.c);
	WAIT(srv.ntext == 2);
	T_EQ(srv.ntext, 2, "pause twice: one resume delivers both messages");
	evt_wsconn_resume(srv.c);
	settle();
	T_EQ(srv.ntext, 2, "pause twice: a second resume delivers nothing again");
	T_EQ(srv.order_bad, 0, "pause twice: in order");
	evt_buf_free(&b);
	raw_close(&r);
	side_done(&srv);
}

/* Close handshake started by either side; on_close once on both. */
static void
test_close(int from_client, int code)
{
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct side *a = from_client ? &cli : &srv;
	struct side *o = from_client ? &srv : &cli;
	const char *who = from_client ? "client" : "server";

	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "close by %s: pair", who);
	/* Messages queued before the close still arrive. */
	evt_wsconn_send_text(a->c, "one", 3);
	evt_wsconn_send_text(a->c, "two", 3);
	T_EQ(evt_wsconn_close(a->c, code, "bye now"), 0,
	    "close by %s: close accepted", who);
	T_EQ(evt_wsconn_send_text(a->c, "late", 4), EVT_ERR_STATE,
	    "close by %s: send after close refused", who);
	T_EQ(evt_wsconn_close(a->c, code, NULL), EVT_ERR_STATE,
	    "close by %s: second close refused", who);
	WAIT(cli.nclose >= 1 && srv.nclose >= 1);
	settle();
	T_EQ(o->ntext, 2, "close by %s: queued messages delivered first",
	    who);
	T_EQ(cli.nclose, 1, "close by %s: client on_close once", who);
	T_EQ(srv.nclose, 1, "close by %s: server on_close once", who);
	T_EQ(o->code, code, "close by %s: peer got code %d", who, code);
	T_OK(strcmp(o->reason, "bye now") == 0,
	    "close by %s: peer got the reason: %s", who, o->reason);
	T_EQ(a->code, code, "close by %s: closer got code %d back", who,
	    code);
	side_done(&cli);
	side_done(&srv);
}

/* A message over the limit fails the connection with 1009. */
static void
test_too_big(void)
{
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	static char big[2000];
	struct evt_buf b = { 0 };
	struct raw r;
	uint8_t pl[125];
	size_t plen = 0;
	int op = -1, masked = -1;

	/* wsconn to wsconn: both ends report 1009. */
	sc.max_msg = 1000;
	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "toobig: pair");
	evt_wsconn_send_text(cli.c, big, 1000);
	evt_wsconn_send_text(cli.c, big, 1001);
	WAIT(cli.nclose == 1 && srv.nclose == 1);
	T_EQ(srv.ntext, 1, "toobig: message at the limit delivered");
	T_EQ(srv.code, 1009, "toobig: receiver closes with 1009");
	T_EQ(cli.code, 1009, "toobig: sender sees 1009");
	T_OK(strstr(srv.reason, "too big") != NULL, "toobig: reason: %s",
	    srv.reason);
	side_done(&cli);
	side_done(&srv);

	/* Fragments: the limit applies to the reassembled message. */
	memset(&srv, 0, sizeof srv);
	sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	sc.max_msg = 1000;
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "toobig frag: pair");
	frame(&b, 0, 0x1, big, 600, 1);
	frame(&b, 1, 0x0, big, 600, 1);
	raw_write(&r, b.p, b.len);
	WAIT(raw_frame(&r, 0, &op, &masked, pl, &plen) != 0);
	T_OK(op == 0x8 && plen >= 2 && (pl[0] << 8 | pl[1]) == 1009,
	    "toobig frag: close frame 1009 sent");
	T_EQ(srv.nclose, 0, "toobig frag: waits for the peer");
	raw_close(&r);
	WAIT(srv.nclose == 1);
	T_EQ(srv.code, 1009, "toobig frag: on_close 1009 after EOF");
	T_EQ(srv.ntext, 0, "toobig frag: nothing delivered");
	evt_buf_free(&b);
	side_done(&srv);
}

/* Protocol violations close with 1002/1003; invalid UTF-8 is delivered. */
static void
test_violations(void)
{
	static const struct {
		const char *what;
		int fin, op, mask, code;
	} cases[] = {
		{ "unmasked frame", 1, 0x1, 0, 1002 },
		{ "unknown opcode", 1, 0x3, 1, 1002 },
		{ "lone continuation", 1, 0x0, 1, 1002 },
		{ "binary not accepted", 1, 0x2, 1, 1003 },
		{ "fragmented ping", 0, 0x9, 1, 1002 },
	};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct side srv = { 0 };
		struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
		struct evt_buf b = { 0 };
		struct raw r;
		uint8_t pl[125];
		size_t plen = 0;
		int op = -1, masked = -1;

		raw_pair(&r, &srv, &sc, NULL, 0);
		frame(&b, cases[k].fin, cases[k].op, "x", 1, cases[k].mask);
		raw_write(&r, b.p, b.len);
		WAIT(raw_frame(&r, 0, &op, &masked, pl, &plen) != 0);
		T_OK(op == 0x8 && plen >= 2 &&
		    (pl[0] << 8 | pl[1]) == cases[k].code,
		    "%s: close frame %d", cases[k].what, cases[k].code);
		raw_close(&r);
		WAIT(srv.nclose == 1);
		T_OK(srv.nclose == 1 && srv.code == cases[k].code,
		    "%s: on_close %d (%s)", cases[k].what, srv.code,
		    srv.reason);
		evt_buf_free(&b);
		side_done(&srv);
	}
}

/* Invalid UTF-8, binary with on_binary, and initial bytes. */
static void
test_delivery(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	size_t cut;

	sc.on_binary = on_binary;
	/* The first frame and half of the second came with the handshake. */
	frame(&b, 1, 0x1, "first", 5, 1);
	cut = b.len + 3;
	frame(&b, 1, 0x1, "\xff\xfe{bad utf-8", 13, 1);
	frame(&b, 1, 0x2, "\x00\x01\x02", 3, 1);
	T_OK(raw_pair(&r, &srv, &sc, b.p, cut) == 0, "delivery: pair");
	T_EQ(srv.ntext, 0, "delivery: no callback inside evt_wsconn_new");
	WAIT(srv.ntext == 1);
	T_OK(srv.last.len == 5 && memcmp(srv.last.p, "first", 5) == 0,
	    "delivery: initial bytes parsed");
	raw_write(&r, b.p + cut, b.len - cut);
	WAIT(srv.nbin == 1);
	T_EQ(srv.ntext, 2, "delivery: invalid UTF-8 text delivered");
	T_EQ(srv.nclose, 0, "delivery: invalid UTF-8 does not close");
	T_OK(srv.last.len == 3 && memcmp(srv.last.p, "\x00\x01\x02", 3) == 0,
	    "delivery: binary delivered through on_binary");
	raw_close(&r);
	WAIT(srv.nclose == 1);
	evt_buf_free(&b);
	side_done(&srv);
}

/* evt_wsconn_free inside on_text: no more callbacks, peer sees EOF. */
static void
test_free_in_text(void)
{
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);

	srv.free_in_text = 1;
	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "free in text: pair");
	evt_wsconn_send_text(cli.c, "a", 1);
	evt_wsconn_send_text(cli.c, "b", 1);
	evt_wsconn_send_text(cli.c, "c", 1);
	WAIT(cli.nclose == 1);
	settle();
	T_EQ(srv.ntext, 1, "free in text: no message after free");
	T_EQ(srv.nclose, 0, "free in text: no on_close after free");
	T_EQ(cli.code, 1006, "free in text: peer gets EOF, 1006");
	side_done(&cli);
	side_done(&srv);
}

/* Back-pressure: queued bytes and on_drain. */
static void
test_drain(void)
{
	struct side cli = { 0 }, srv = { 0 };
	struct evt_wsconn_config cc = cfg_for(&cli, EVT_WSCONN_CLIENT);
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	char *big = calloc(1, 3 << 20);

	cc.on_drain = on_drain;
	T_OK(pair(&cli, &srv, &cc, &sc) == 0, "drain: pair");
	evt_wsconn_send_text(cli.c, big, 3 << 20);
	T_OK(evt_wsconn_queued(cli.c) >= (3u << 20), "drain: 3 MiB queued");
	WAIT(cli.ndrain == 1);
	T_EQ(cli.ndrain, 1, "drain: on_drain fired");
	T_EQ(evt_wsconn_queued(cli.c), 0, "drain: nothing queued then");
	WAIT(srv.ntext == 1);
	T_OK(srv.ntext == 1 && srv.last.len == (3u << 20),
	    "drain: message arrived");
	free(big);
	side_done(&cli);
	side_done(&srv);
}

/* Scans every frame at a raw peer: counts pongs and copies the payload of
 * the last one into last (NUL-terminated; cap bytes). */
static int
raw_pongs(const struct raw *r, char *last, size_t cap)
{
	uint8_t pl[126];
	size_t off = 0, n, plen = 0;
	int op, masked, pongs = 0;

	while ((n = raw_frame(r, off, &op, &masked, pl, &plen)) != 0) {
		off += n;
		if (op != 0xa)
			continue;
		pongs++;
		snprintf(last, cap, "%.*s", (int)plen, (const char *)pl);
	}
	return pongs;
}

/* A peer that floods pings and never reads: the pongs do not pile up (the
 * queue stays within the output's high mark) and the peer is failed with
 * 1008 naming the pings. */
static void
test_ping_flood(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	char pl[125];
	size_t most = 0, q;
	long sent = 0;

	memset(pl, 'p', sizeof pl);
	for (int i = 0; i < 64; i++)
		frame(&b, 1, 0x9, pl, sizeof pl, 1);
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "ping flood: pair");
	event_del(r.ev);	/* never reads */
	/* 4 MiB of pongs would be owed by then: far over the output's
	 * 1 MiB mark plus the socket buffers. */
	while (srv.nclose == 0 && sent < 32 * 1024) {
		raw_write(&r, b.p, b.len);
		sent += 64;
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (srv.c != NULL && (q = evt_wsconn_queued(srv.c)) > most)
			most = q;
	}
	WAIT(srv.nclose == 1);
	T_EQ(srv.code, EVT_WS_POLICY, "ping flood: failed with 1008 (%s)",
	    srv.reason);
	T_OK(strstr(srv.reason, "pings") != NULL &&
	    strstr(srv.reason, "does not read") != NULL,
	    "ping flood: the reason says why");
	T_OK(most <= ((size_t)1 << 20) + 64 * 1024,
	    "ping flood: at most the output's high mark queued (%zu bytes "
	    "after %ld pings)", most, sent);
	evt_buf_free(&b);
	raw_close(&r);
	side_done(&srv);
}

/* A peer that pings in bursts and reads: never closed, and the last pong
 * answers the last ping. */
static void
test_ping_burst(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct evt_buf b = { 0 };
	struct raw r;
	char pl[16], last[126] = "";
	int pongs;

	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "ping burst: pair");
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(pl, sizeof pl, "p%d", i);

		frame(&b, 1, 0x9, pl, (size_t)n, 1);
	}
	raw_write(&r, b.p, b.len);
	WAIT((pongs = raw_pongs(&r, last, sizeof last)) > 0 &&
	    strcmp(last, "p4999") == 0);
	T_OK(strcmp(last, "p4999") == 0, "ping burst: the last pong answers "
	    "the last ping (%d pongs for 5000 pings)", pongs);
	T_EQ(srv.nclose, 0, "ping burst: a reading peer is not closed");
	evt_buf_free(&b);
	raw_close(&r);
	WAIT(srv.nclose == 1);
	side_done(&srv);
}

/* A peer that does not read what we send: a send past max_queue fails
 * and the connection ends with 1008. */
static void
test_queue_bound(void)
{
	struct side srv = { 0 };
	struct evt_wsconn_config sc = cfg_for(&srv, EVT_WSCONN_SERVER);
	struct raw r;
	char *msg = calloc(1, 16384);
	int rc = 0, n = 0;

	sc.max_queue = 256 << 10;
	T_OK(raw_pair(&r, &srv, &sc, NULL, 0) == 0, "queue bound: pair");
	event_del(r.ev);	/* never reads */
	while (rc == 0 && n < 10000) {
		rc = evt_wsconn_send_text(srv.c, msg, 16384);
		n++;
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	T_EQ(rc, EVT_ERR_STATE, "queue bound: a send past max_queue is "
	    "refused (after %d messages)", n);
	T_OK(n * 16384 < (2 << 20) + (256 << 10),
	    "queue bound: refused within the socket buffers + max_queue");
	WAIT(srv.nclose == 1);
	T_EQ(srv.code, EVT_WS_POLICY, "queue bound: on_close 1008 (%s)",
	    srv.reason);
	T_OK(strstr(srv.reason, "does not read") != NULL,
	    "queue bound: the reason says why");
	free(msg);
	raw_close(&r);
	side_done(&srv);
}

/* Argument checks. */
static void
test_args(void)
{
	struct side s = { 0 };
	struct evt_wsconn_config cfg = cfg_for(&s, EVT_WSCONN_CLIENT);
	struct evt_wsconn *c = NULL;
	struct raw r;
	char longr[130];

	cfg.on_close = NULL;
	T_EQ(evt_wsconn_new(&c, base, NULL, &cfg, NULL, 0), EVT_ERR_ARG,
	    "args: NULL bev refused");
	T_OK(raw_pair(&r, &s, &cfg, NULL, 0) == EVT_ERR_ARG,
	    "args: missing on_close refused");
	raw_close(&r);
	cfg.on_close = on_close;
	T_OK(raw_pair(&r, &s, &cfg, NULL, 0) == 0, "args: pair");
	memset(longr, 'x', sizeof longr - 1);
	longr[sizeof longr - 1] = '\0';
	T_EQ(evt_wsconn_close(s.c, 1000, longr), EVT_ERR_ARG,
	    "args: reason over 123 bytes refused");
	T_EQ(evt_wsconn_close(s.c, 1005, NULL), EVT_ERR_ARG,
	    "args: code 1005 refused");
	evt_wsconn_free(s.c);	/* open, outside callbacks: freed at once */
	s.c = NULL;
	settle();
	T_EQ(s.nclose, 0, "args: free of an open conn calls no on_close");
	raw_close(&r);
	side_done(&s);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (net_init() != 0)
		return 1;

	test_echo();
	test_order();
	test_fragmented(0);
	test_fragmented(1);
	test_ping();
	test_ping_interval();
	test_dead_peer();
	test_pause();
	test_pause_twice();
	test_close(1, 1000);
	test_close(0, 4001);
	test_too_big();
	test_violations();
	test_delivery();
	test_free_in_text();
	test_drain();
	test_ping_flood();
	test_ping_burst();
	test_queue_bound();
	test_args();

	net_done();
	T_DONE();
}
