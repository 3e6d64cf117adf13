/*
 * httpc.c: HTTP(S) requests through libevent's evhttp (see httpc.h).
 *
 * For https the connection is built on a bufferevent_openssl made from the
 * shared context (tls.c: SNI and host verification), so evhttp speaks
 * through TLS without knowing it.  Each request owns its connection;
 * evhttp_connection_free_on_completion() lets libevent free it after the
 * request callback, never inside it.  Errors without an HTTP answer are
 * explained from evhttp's error callback, the socket's errno and the TLS
 * state, because "connection failed" is useless in a log at 3 am.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <openssl/crypto.h>

#include "evtape/err.h"
#include "evtape/httpc.h"
#include "evtape/tls.h"

struct evt_httpc_req {
	struct evhttp_connection *conn;
	struct bufferevent *bev;
	evt_httpc_cb cb;
	void *arg;
	int err;		/* enum evhttp_request_error, or -1 */
	int sock_err;		/* errno seen at the error */
	char addr[280];		/* "host:port" ("[v6]:port"), for messages */
	char why[300];
};

/* Parses the gateway URL (see httpc.h). */
int
evt_httpc_url_parse(const char *url, struct evt_httpc_url *u)
{
	const char *p, *h, *he, *end;
	unsigned long port = 0;
	size_t hl;
	int v6 = 0;

	memset(u, 0, sizeof *u);
	if (strncasecmp(url, "https://", 8) == 0) {
		u->tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return EVT_ERR_ARG;
	end = p + strcspn(p, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0)
		return EVT_ERR_ARG;
	if (memchr(p, '@', (size_t)(end - p)) != NULL)
		return EVT_ERR_ARG;
	if (*p == '[') {
		h = p + 1;
		if ((he = memchr(h, ']', (size_t)(end - h))) == NULL)
			return EVT_ERR_ARG;
		p = he + 1;
		v6 = 1;
	} else {
		h = p;
		he = memchr(p, ':', (size_t)(end - p));
		if (he == NULL)
			he = end;
		p = he;
	}
	if (p < end) {
		char *e;

		if (*p != ':' || p + 1 == end)
			return EVT_ERR_ARG;
		errno = 0;
		port = strtoul(p + 1, &e, 10);
		if (e != end || port == 0 || port > 65535 || errno != 0)
			return EVT_ERR_ARG;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof u->host)
		return EVT_ERR_ARG;
	for (size_t i = 0; i < hl; i++)
		if ((unsigned char)h[i] <= ' ' || h[i] == '/' || h[i] == '\\')
			return EVT_ERR_ARG;
	memcpy(u->host, h, hl);
	u->port = port != 0 ? (unsigned)port : u->tls ? 443 : 80;
	snprintf(u->hostport, sizeof u->hostport, "%s%s%s", v6 ? "[" : "",
	    u->host, v6 ? "]" : "");
	if (port != 0 && port != (u->tls ? 443u : 80u)) {
		size_t n = strlen(u->hostport);

		snprintf(u->hostport + n, sizeof u->hostport - n, ":%lu",
		    port);
	}
	snprintf(u->base, sizeof u->base, "%s://%s", u->tls ? "https" : "http",
	    u->hostport);
	return 0;
}

/* evhttp error callback: remembers why there is no answer. */
static void
httpc_error_cb(enum evhttp_request_error err, void *arg)
{
	struct evt_httpc_req *r = arg;

	r->err = (int)err;
	r->sock_err = errno;
}

/* Explains a request that got no answer. */
static const char *
httpc_why(struct evt_httpc_req *r)
{
	char tls[256];

	evt_tls_error(r->bev, tls, sizeof tls);
	if (tls[0] != '\0') {
		snprintf(r->why, sizeof r->why, "%s", tls);
		return r->why;
	}
	/* libevent 2.1 runs the request callback without the error callback
	 * when the connect is refused (evhttp_connection_cb's ECONNREFUSED
	 * path, which then closes the socket: errno is ENOTCONN by now). */
	if (r->err == -1 || r->sock_err == EHOSTUNREACH ||
	    r->sock_err == ENETUNREACH) {
		snprintf(r->why, sizeof r->why, EVT_HTTPC_CONNECT "%s%s%s",
		    r->addr, r->err == -1 ? " refused" : ": ",
		    r->err == -1 ? "" : strerror(r->sock_err));
		return r->why;
	}
	switch (r->err) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "connection closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "invalid HTTP answer";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer too large";
	default:
		break;
	}
	if (r->sock_err != 0) {
		snprintf(r->why, sizeof r->why, "%s", strerror(r->sock_err));
		return r->why;
	}
	return "connection failed";
}

/* Frees a request body copy once libevent has sent it, wiping it first
 * (an evbuffer reference cleanup callback). */
static void
httpc_body_free(const void *data, size_t len, void *extra)
{
	OPENSSL_cleanse(extra, len);
	free(extra);
}

/* Wipes the Authorization value in evhttp's copy of the request headers
 * before libevent frees them (the value may be a token). */
static void
httpc_wipe_auth(struct evhttp_request *req)
{
	const char *v = evhttp_find_header(
	    evhttp_request_get_output_headers(req), "Authorization");

	if (v != NULL)
		OPENSSL_cleanse((void *)(uintptr_t)v, strlen(v));
}

/* Frees a connection on a later loop turn (an event_base_once callback). */
static void
httpc_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	evhttp_connection_free(arg);
}

/*
 * A connect that failed (refused, unreachable, timed out) ends in
 * libevent 2.1's evhttp_connection_cb_cleanup: the request callback runs
 * without the error callback (errno no longer says why: ENOTCONN), and
 * the connection is not freed although it was marked free-on-completion.
 * Frees it on the next loop turn (not inside evhttp's own callback).
 */
static void
httpc_connect_failed(struct evt_httpc_req *r)
{
	static const struct timeval now = { 0, 0 };

	if (event_base_once(evhttp_connection_get_base(r->conn), -1,
	    EV_TIMEOUT, httpc_conn_free_cb, r->conn, &now) != 0)
		r->conn = NULL;	/* out of memory: leaked, not freed twice */
}

/* evhttp request callback: the answer, or NULL/code 0 on failure. */
static void
httpc_done_cb(struct evhttp_request *req, void *arg)
{
	struct evt_httpc_req *r = arg;
	int status = req != NULL ? evhttp_request_get_response_code(req) : 0;

	if (status == 0 && r->err == -1)
		httpc_connect_failed(r);
	if (req != NULL)
		httpc_wipe_auth(req);
	if (r->cb != NULL) {
		if (status > 0) {
			struct evbuffer *in = evhttp_request_get_input_buffer(req);
			size_t n = evbuffer_get_length(in);
			const char *body = n > 0 ? (const char *)evbuffer_pullup(in,
			    -1) : "";

			r->cb(r->arg, status, body != NULL ? body : "",
			    body != NULL ? n : 0, NULL);
		} else
			r->cb(r->arg, 0, NULL, 0, httpc_why(r));
	}
	/* The connection is freed by libevent (free_on_completion). */
	free(r);
}

/* Starts a request (see httpc.h). */
int
evt_httpc_request(const struct evt_httpc_opts *o,
    const struct evt_httpc_url *u, const char *path, const char *bearer,
    const char *ctype, const void *body, size_t len, evt_httpc_cb cb,
    void *arg, struct evt_httpc_req **out)
{
	struct evt_httpc_req *r;
	struct evhttp_request *req = NULL;
	struct evkeyvalq *h;
	SSL *ssl = NULL;
	int rc = EVT_ERR_NOMEM;

	if (out != NULL)
		*out = NULL;
	if (u->tls && o->ssl == NULL)
		return EVT_ERR_ARG;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return EVT_ERR_NOMEM;
	r->cb = cb;
	r->arg = arg;
	r->err = -1;
	snprintf(r->addr, sizeof r->addr, strchr(u->host, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", u->host, u->port);
	if (u->tls) {
		if ((ssl = evt_tls_client_ssl(o->ssl, u->host, o->insecure)) ==
		    NULL)
			goto fail;
		r->bev = bufferevent_openssl_socket_new(o->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
		    BEV_OPT_DEFER_CALLBACKS);
		if (r->bev == NULL) {
			SSL_free(ssl);
			goto fail;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(r->bev, 1);
	} else if ((r->bev = bufferevent_socket_new(o->base, -1,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)) == NULL)
		goto fail;
	r->conn = evhttp_connection_base_bufferevent_new(o->base, o->dns,
	    r->bev, u->host, (unsigned short)u->port);
	if (r->conn == NULL) {
		bufferevent_free(r->bev);
		goto fail;
	}
	evhttp_connection_set_timeout(r->conn, o->timeout > 0 ? o->timeout :
	    30);
	evhttp_connection_set_retries(r->conn, 0);
	evhttp_connection_set_max_body_size(r->conn, (ev_ssize_t)(o->max_body ?
	    o->max_body : (size_t)64 << 20));
	/* libevent's default is no bound: a hostile server could send
	 * headers until the timeout, at network speed. */
	evhttp_connection_set_max_headers_size(r->conn,
	    (ev_ssize_t)64 << 10);
	if ((req = evhttp_request_new(httpc_done_cb, r)) == NULL)
		goto fail_conn;
	evhttp_request_set_error_cb(req, httpc_error_cb);
	h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", u->hostport) != 0 ||
	    evhttp_add_header(h, "Accept", "application/json") != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0)
		goto fail_req;
	if (bearer != NULL) {
		size_t bl = strlen(bearer) + 8;
		char *a = malloc(bl);

		if (a == NULL)
			goto fail_req;
		snprintf(a, bl, "Bearer %s", bearer);
		rc = evhttp_add_header(h, "Authorization", a);
		OPENSSL_cleanse(a, bl);
		free(a);
		if (rc != 0) {
			rc = EVT_ERR_NOMEM;
			goto fail_req;
		}
	}
	if (body != NULL) {
		/* One copy of the body (it may hold a password), referenced by
		 * the evbuffer rather than copied into it: evhttp moves the
		 * chain to the socket buffer, and once written the copy is
		 * wiped and freed by httpc_body_free. */
		char *copy = malloc(len > 0 ? len : 1);

		if (copy == NULL)
			goto fail_req;
		memcpy(copy, body, len);
		if (ctype != NULL && evhttp_add_header(h, "Content-Type",
		    ctype) != 0) {
			httpc_body_free(copy, len, copy);
			goto fail_req;
		}
		if (evbuffer_add_reference(evhttp_request_get_output_buffer(
		    req), copy, len, httpc_body_free, copy) != 0) {
			httpc_body_free(copy, len, copy);
			goto fail_req;
		}
	}
	if (evhttp_make_request(r->conn, req, body != NULL ? EVHTTP_REQ_POST :
	    EVHTTP_REQ_GET, path) != 0) {
		req = NULL;	/* evhttp freed it */
		goto fail_conn;
	}
	evhttp_connection_free_on_completion(r->conn);
	if (out != NULL)
		*out = r;
	return 0;
fail_req:
	evhttp_request_free(req);
fail_conn:
	evhttp_connection_free(r->conn);	/* frees the bufferevent */
fail:
	free(r);
	return rc;
}

/* Detaches the callback (see httpc.h). */
void
evt_httpc_detach(struct evt_httpc_req *r)
{
	if (r != NULL)
		r->cb = NULL;
}
