/*
 * wsclient.c: WebSocket client connect and upgrade (see wsclient.h).
 *
 * One bufferevent carries the whole attempt: connected (or TLS done) ->
 * the request bytes go out (and our copy is wiped: it holds the token) ->
 * response bytes are fed to the HTTP parser in response mode until the
 * head is complete -> the parsed bytes are drained and whatever followed
 * stays in the bufferevent's input for the WebSocket layer, which takes
 * the bufferevent over.  A timer bounds the whole attempt.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/rand.h>

#include "evtape/err.h"
#include "evtape/http.h"
#include "evtape/tls.h"
#include "evtape/wsclient.h"

struct evt_wsclient {
	struct evt_wsclient_opts o;
	struct evt_httpc_url u;
	struct bufferevent *bev;
	struct event *timer;
	struct evt_http_parser *parser;
	struct evt_buf req;		/* the upgrade request (holds a token) */
	char key[EVT_HTTP_WS_KEY_SIZE];
	evt_wsclient_cb cb;
	void *arg;
};

/* Frees an attempt (the bufferevent too, unless handed over). */
static void
wsclient_free(struct evt_wsclient *c)
{
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->timer != NULL)
		event_free(c->timer);
	evt_http_parser_free(c->parser);
	if (c->req.p != NULL)
		evt_http_wipe(c->req.p, c->req.cap);
	evt_buf_free(&c->req);
	free(c);
}

/* Ends the attempt with a failure. */
static void
wsclient_fail(struct evt_wsclient *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
wsclient_fail(struct evt_wsclient *c, int status, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	c->cb(c->arg, NULL, status, why);
	wsclient_free(c);
}

/* Feeds response bytes to the parser; hands over on a good 101. */
static void
wsclient_read_cb(struct bufferevent *bev, void *arg)
{
	struct evt_wsclient *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const struct evt_http_msg *m;
	struct evt_wsconn *conn;
	const char *why = NULL;
	size_t n = evbuffer_get_length(in), used = 0;
	int rc;

	rc = evt_http_parser_feed(c->parser, evbuffer_pullup(in, -1), n,
	    &used);
	if (rc == 0) {
		evbuffer_drain(in, used);
		return;
	}
	if (rc < 0) {
		wsclient_fail(c, 0, "bad HTTP answer to the upgrade: %s",
		    evt_strerror(rc));
		return;
	}
	evbuffer_drain(in, used);
	m = evt_http_parser_msg(c->parser);
	rc = evt_http_ws_check_response(m, c->key, &why);
	if (rc == EVT_ERR_NOTFOUND) {
		wsclient_fail(c, m->status, "upgrade refused: HTTP %d (%s)",
		    m->status, evt_http_status_why(m->status));
		return;
	}
	if (rc != 0) {
		wsclient_fail(c, 0, "bad upgrade answer: %s",
		    why != NULL ? why : evt_strerror(rc));
		return;
	}
	event_del(c->timer);
	c->o.ws.role = EVT_WSCONN_CLIENT;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	rc = evt_wsconn_new(&conn, c->o.base, bev, &c->o.ws, NULL, 0);
	if (rc != 0) {
		wsclient_fail(c, 0, "cannot start the WebSocket: %s",
		    evt_strerror(rc));
		return;
	}
	c->bev = NULL;	/* the connection owns it now */
	c->cb(c->arg, conn, 101, NULL);
	wsclient_free(c);
}

/* Connected, or failed: sends the request or reports why. */
static void
wsclient_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct evt_wsclient *c = arg;
	char tls[256];
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		/* Commands are small writes that should not wait for an
		 * ACK (Nagle). */
		(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP,
		    TCP_NODELAY, &(int){1}, sizeof(int));
		if (bufferevent_write(bev, c->req.p, c->req.len) != 0) {
			wsclient_fail(c, 0, "out of memory");
			return;
		}
		evt_http_wipe(c->req.p, c->req.cap);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int dns = bufferevent_socket_get_dns_error(bev);

		if (dns != 0) {
			wsclient_fail(c, 0, "cannot resolve %s: %s", c->u.host,
			    evutil_gai_strerror(dns));
			return;
		}
		evt_tls_error(bev, tls, sizeof tls);
		if (tls[0] != '\0')
			wsclient_fail(c, 0, "%s", tls);
		else
			wsclient_fail(c, 0, "%s", err != 0 ?
			    evutil_socket_error_to_string(err) :
			    "connection failed");
		return;
	}
	if (what & BEV_EVENT_EOF) {
		wsclient_fail(c, 0, "connection closed during the upgrade");
		return;
	}
}

/* The attempt took too long. */
static void
wsclient_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	wsclient_fail(arg, 0, "connect/upgrade timed out");
}

/* Starts an attempt (see wsclient.h). */
int
evt_wsclient_connect(const struct evt_wsclient_opts *o,
    const struct evt_httpc_url *u, const char *bearer, evt_wsclient_cb cb,
    void *arg, struct evt_wsclient **out)
{
	struct evt_wsclient *c;
	uint8_t nonce[16];
	struct timeval tv;
	SSL *ssl;
	int rc = EVT_ERR_NOMEM;

	*out = NULL;
	if (u->tls && o->ssl == NULL)
		return EVT_ERR_ARG;
	if ((c = calloc(1, sizeof *c)) == NULL)
		return EVT_ERR_NOMEM;
	c->o = *o;
	c->u = *u;
	c->cb = cb;
	c->arg = arg;
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		goto fail;
	if (evt_buf_grow(&c->req, 512 + (bearer != NULL ? strlen(bearer) :
	    0)) != 0)
		goto fail;
	rc = evt_http_ws_request(&c->req, u->hostport, EVT_HTTP_WS_PATH, nonce,
	    bearer, NULL, c->key);
	if (rc != 0)
		goto fail;
	rc = EVT_ERR_NOMEM;
	if ((c->parser = evt_http_parser_new(EVT_HTTP_RESPONSE, 0, 0)) == NULL)
		goto fail;
	if (u->tls) {
		if ((ssl = evt_tls_client_ssl(o->ssl, u->host, o->insecure)) ==
		    NULL)
			goto fail;
		c->bev = bufferevent_openssl_socket_new(o->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
		    BEV_OPT_DEFER_CALLBACKS);
		if (c->bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else if ((c->bev = bufferevent_socket_new(o->base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		goto fail;
	if ((c->timer = evtimer_new(o->base, wsclient_timeout_cb, c)) == NULL)
		goto fail;
	tv.tv_sec = o->timeout > 0 ? (time_t)o->timeout : 30;
	tv.tv_usec = o->timeout > 0 ? (suseconds_t)((o->timeout -
	    (double)tv.tv_sec) * 1e6) : 0;
	evtimer_add(c->timer, &tv);
	bufferevent_setcb(c->bev, wsclient_read_cb, NULL, wsclient_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(c->bev, o->dns, AF_UNSPEC,
	    u->host, (int)u->port) != 0) {
		/* Callbacks are deferred, so none ran for this failure. */
		rc = EVT_ERR_IO;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	wsclient_free(c);
	return rc;
}

/* Abandons an attempt (see wsclient.h). */
void
evt_wsclient_cancel(struct evt_wsclient *c)
{
	if (c != NULL)
		wsclient_free(c);
}
