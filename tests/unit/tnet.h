/*
 * tnet.h: what the client tests (test_httpc.c, test_wsclient.c) share: an
 * event_base with a guard timer, WAIT(cond) that runs the loop until cond
 * holds (or 5 s pass: the check then fails instead of hanging), and a
 * hand-driven HTTP server on a real 127.0.0.1 socket: it accepts one
 * connection, collects what the client sends, parses the request with the
 * library's own parser and answers with bytes the test chooses, written
 * whole, byte by byte or in random splits with loop turns between them.
 * (static inline: a test uses what it needs without unused warnings.)
 */
#ifndef EVT_TNET_H
#define EVT_TNET_H

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "evtape/buf.h"
#include "evtape/http.h"
#include "t.h"

static struct event_base *base;
static struct event *guard;
static int timed_out;

/* The guard timer fired: the awaited thing did not happen. */
static inline void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	timed_out = 1;
	event_base_loopbreak(base);
}

/* Runs the loop until cond holds or 5 s pass (timed_out is then set). */
#define WAIT(cond)                                                     \
	do {                                                           \
		struct timeval g_tv_ = { 5, 0 };                       \
		timed_out = 0;                                         \
		evtimer_add(guard, &g_tv_);                            \
		while (!(cond) && !timed_out)                          \
			event_base_loop(base, EVLOOP_ONCE);            \
		evtimer_del(guard);                                    \
	} while (0)

/* Creates the loop and the guard timer; returns 0 or -1. */
static inline int
net_init(void)
{
	base = event_base_new();
	if (base == NULL)
		return -1;
	guard = evtimer_new(base, guard_cb, NULL);
	return guard != NULL ? 0 : -1;
}

/* Frees the loop. */
static inline void
net_done(void)
{
	event_free(guard);
	event_base_free(base);
}

/* Runs a few non-blocking loop turns: on loopback a written chunk is
 * readable at once, so the peer reads it in these turns. */
static inline void
turns(void)
{
	for (int i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* The hand-driven server. */
struct tsrv {
	int lfd, fd;		/* listening socket; accepted one or -1 */
	unsigned port;
	struct event *lev, *rev;
	struct evt_buf in;	/* everything the client sent */
	int eof, naccept;
	struct evt_http_parser *p;
	const struct evt_http_msg *req; /* once tsrv_request returned 1 */
	size_t req_len;		/* bytes of in the request took */
};

/* Reads what the client sent. */
static inline void
tsrv_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tsrv *s = arg;
	uint8_t b[16384];
	ssize_t n = read(fd, b, sizeof b);

	if (n > 0)
		evt_buf_put(&s->in, b, (size_t)n);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		s->eof = 1;
		event_del(s->rev);
	}
}

/* Accepts one connection (a second one replaces the first). */
static inline void
tsrv_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tsrv *s = arg;
	int c = accept(fd, NULL, NULL);

	if (c < 0)
		return;
	if (s->fd >= 0) {
		event_free(s->rev);
		close(s->fd);
	}
	evutil_make_socket_nonblocking(c);
	s->fd = c;
	s->naccept++;
	s->eof = 0;
	s->in.len = 0;
	s->rev = event_new(base, c, EV_READ | EV_PERSIST, tsrv_read_cb, s);
	event_add(s->rev, NULL);
}

/* Listens on 127.0.0.1 on a free port; returns 0 or -1. */
static inline int
tsrv_open(struct tsrv *s)
{
	struct sockaddr_in a;
	socklen_t al = sizeof a;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s->lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(s->lfd, 8) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	s->port = ntohs(a.sin_port);
	evutil_make_socket_nonblocking(s->lfd);
	s->lev = event_new(base, s->lfd, EV_READ | EV_PERSIST, tsrv_accept_cb,
	    s);
	return s->lev != NULL && event_add(s->lev, NULL) == 0 ? 0 : -1;
}

/* Closes the accepted connection (the client sees EOF). */
static inline void
tsrv_drop(struct tsrv *s)
{
	if (s->fd < 0)
		return;
	event_free(s->rev);
	s->rev = NULL;
	close(s->fd);
	s->fd = -1;
}

/* Closes everything. */
static inline void
tsrv_close(struct tsrv *s)
{
	tsrv_drop(s);
	if (s->lev != NULL)
		event_free(s->lev);
	close(s->lfd);
	evt_http_parser_free(s->p);
	evt_buf_free(&s->in);
}

/* Whether a whole request has arrived: 1 and s->req, 0, or -1 when the
 * bytes are not HTTP.  Parses from the start at each call. */
static inline int
tsrv_request(struct tsrv *s)
{
	int rc;

	evt_http_parser_free(s->p);
	s->p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	s->req = NULL;
	if (s->p == NULL)
		return -1;
	rc = evt_http_parser_feed(s->p, s->in.p, s->in.len, &s->req_len);
	if (rc == 1)
		s->req = evt_http_parser_msg(s->p);
	return rc < 0 ? -1 : rc;
}

/* Whether header name of the parsed request is exactly value. */
static inline int
tsrv_has(const struct tsrv *s, const char *name, const char *value)
{
	size_t len;
	const char *v = evt_http_header(s->req, name, &len);

	return v != NULL && len == strlen(value) && memcmp(v, value, len) == 0;
}

/* How tsrv_write splits what it writes. */
enum { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

/* Writes p[0..n) to the client in pieces as split says, with loop turns
 * between them so that the client reads each piece on its own. */
static inline void
tsrv_write(struct tsrv *s, const void *p, size_t n, int split)
{
	const uint8_t *b = p;

	while (n > 0 && s->fd >= 0) {
		size_t k = split == SPLIT_WHOLE ? n : split == SPLIT_BYTES ? 1 :
		    1 + (size_t)(rng() % 40);
		ssize_t w = write(s->fd, b, k < n ? k : n);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			turns();
			continue;
		}
		if (w <= 0)
			return;
		b += w;
		n -= (size_t)w;
		if (split != SPLIT_WHOLE)
			turns();
	}
}

/* Names a split for test messages. */
static inline const char *
split_name(int split)
{
	return split == SPLIT_WHOLE ? "whole" : split == SPLIT_BYTES ?
	    "byte by byte" : "random splits";
}

#endif
