/*
 * test_wsclient.c: the WebSocket client connect (wsclient.c) against a
 * hand-driven server on a real 127.0.0.1 socket (tnet.h): the upgrade
 * request on the wire (checked with the library's server-side checks),
 * the 101 answer and a first message behind it written whole, byte by
 * byte and in random splits (the message must reach the new connection,
 * whether it came with the answer or after it), the first message the
 * client sends, and every way an attempt fails, each with its
 * explanation and status.  Nothing sleeps; the one timeout tested is the
 * client's own (0.2 s).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/http.h"
#include "evtape/wsclient.h"
#include "evtape/wsconn.h"
#include "t.h"
#include "tnet.h"

/* What the attempt's and the connection's callbacks saw. */
struct seen {
	int n, status;
	struct evt_wsconn *conn;
	char why[400];
	int ntext, nclose;
	struct evt_buf text;
};

/* The attempt ended. */
static void
done_cb(void *arg, struct evt_wsconn *conn, int status, const char *why)
{
	struct seen *s = arg;

	s->n++;
	s->conn = conn;
	s->status = status;
	snprintf(s->why, sizeof s->why, "%s", why != NULL ? why : "");
}

/* A message on the new connection. */
static void
text_cb(struct evt_wsconn *c, const char *msg, size_t len, void *arg)
{
	struct seen *s = arg;

	s->ntext++;
	s->text.len = 0;
	evt_buf_put(&s->text, msg, len);
}

/* The new connection ended (freed here, as its contract allows). */
static void
close_cb(struct evt_wsconn *c, int code, const char *reason, void *arg)
{
	struct seen *s = arg;

	s->nclose++;
	evt_wsconn_free(c);
	s->conn = NULL;
}

/* Options for attempts on the loop, callbacks into s. */
static struct evt_wsclient_opts
opts(struct seen *s, double timeout)
{
	struct evt_wsclient_opts o;

	memset(&o, 0, sizeof o);
	o.base = base;
	o.timeout = timeout;
	o.ws.role = EVT_WSCONN_SERVER;	/* forced to client */
	o.ws.on_text = text_cb;
	o.ws.on_close = close_cb;
	o.ws.arg = s;
	return o;
}

/* Starts an attempt to the server with bearer; returns its result. */
static int
start(struct tsrv *srv, struct seen *s, double timeout, const char *bearer)
{
	struct evt_wsclient_opts o = opts(s, timeout);
	struct evt_wsclient *c = NULL;
	struct evt_httpc_url u;
	char url[64];

	snprintf(url, sizeof url, "http://127.0.0.1:%u/", srv->port);
	if (evt_httpc_url_parse(url, &u) != 0)
		return EVT_ERR_ARG;
	return evt_wsclient_connect(&o, &u, bearer, done_cb, s, &c);
}

/* The upgrade: request, answer and a message behind it in pieces, then a
 * message from the client. */
static void
test_upgrade(int split, const char *bearer)
{
	struct tsrv srv;
	struct seen s = { 0 };
	struct evt_buf out = { 0 };
	char accept[EVT_HTTP_WS_ACCEPT_SIZE], host[32], auth[64];
	const char *sn = split_name(split);
	int status = 0;

	T_EQ(tsrv_open(&srv), 0, "upgrade %s: server", sn);
	T_EQ(start(&srv, &s, 0, bearer), 0, "upgrade %s: started", sn);
	T_EQ(s.n, 0, "upgrade %s: no callback inside the call", sn);
	WAIT(tsrv_request(&srv) != 0);
	T_OK(srv.req != NULL && srv.req->path_len == strlen(EVT_HTTP_WS_PATH) &&
	    memcmp(srv.req->path, EVT_HTTP_WS_PATH, srv.req->path_len) == 0,
	    "upgrade %s: GET %s", sn, EVT_HTTP_WS_PATH);
	T_OK(srv.req != NULL &&
	    evt_http_ws_check_request(srv.req, accept, &status) == 0,
	    "upgrade %s: a valid upgrade request (status %d)", sn, status);
	snprintf(host, sizeof host, "127.0.0.1:%u", srv.port);
	snprintf(auth, sizeof auth, "Bearer %s", bearer != NULL ? bearer : "");
	T_OK(srv.req != NULL && tsrv_has(&srv, "Host", host) &&
	    (bearer != NULL ? tsrv_has(&srv, "Authorization", auth) :
	    evt_http_header(srv.req, "Authorization", NULL) == NULL),
	    "upgrade %s: Host; Authorization %s", sn,
	    bearer != NULL ? "with the token" : "absent");
	T_EQ(srv.in.len, srv.req_len, "upgrade %s: nothing sent before the "
	    "answer", sn);
	evt_http_ws_accept(&out, accept, NULL);
	evt_buf_put(&out, L("\x81\x05hello")); /* text frame, unmasked */
	tsrv_write(&srv, out.p, out.len, split);
	WAIT(s.n > 0 && s.ntext > 0);
	T_OK(s.n == 1 && s.conn != NULL && s.status == 101 && s.why[0] == 0,
	    "upgrade %s: connected (%d, %s)", sn, s.status, s.why);
	T_OK(s.ntext == 1 && s.text.len == 5 &&
	    memcmp(s.text.p, "hello", 5) == 0,
	    "upgrade %s: the message behind the answer reached the "
	    "connection", sn);
	/* The client's first message: masked, as a client's must be. */
	size_t before = srv.in.len;
	if (s.conn != NULL)
		evt_wsconn_send_text(s.conn, "hi", 2);
	WAIT(srv.in.len >= before + 8);
	const uint8_t *f = srv.in.p + before;
	T_OK(srv.in.len == before + 8 && f[0] == 0x81 && f[1] == (0x80 | 2) &&
	    (f[6] ^ f[2]) == 'h' && (f[7] ^ f[3]) == 'i',
	    "upgrade %s: the client's message, masked", sn);
	evt_wsconn_free(s.conn);
	WAIT(srv.eof);
	T_OK(srv.eof, "upgrade %s: freeing the connection closes it", sn);
	T_EQ(s.nclose, 0, "upgrade %s: no on_close after a free", sn);
	evt_buf_free(&out);
	evt_buf_free(&s.text);
	tsrv_close(&srv);
}

/*
 * An attempt that fails: once the request is in, the server answers with
 * answer (NULL: closes at once; "" stays silent).  The callback gets no
 * connection, status and a why containing want.
 */
static void
failing(const char *name, const char *answer, int status, const char *want,
    double timeout)
{
	struct tsrv srv;
	struct seen s = { 0 };

	T_EQ(tsrv_open(&srv), 0, "%s: server", name);
	T_EQ(start(&srv, &s, timeout, "tok"), 0, "%s: started", name);
	WAIT(tsrv_request(&srv) != 0);
	if (answer == NULL)
		tsrv_drop(&srv);
	else
		tsrv_write(&srv, answer, strlen(answer), SPLIT_RANDOM);
	WAIT(s.n > 0);
	T_OK(s.n == 1 && s.conn == NULL && s.status == status,
	    "%s: no connection, status %d", name, s.status);
	T_OK(strstr(s.why, want) != NULL, "%s: why says so: %s", name, s.why);
	if (answer != NULL) {	/* else the server closed it */
		WAIT(srv.eof);
		T_OK(srv.eof, "%s: the client closes its socket", name);
	}
	tsrv_close(&srv);
}

/* The answers of failing attempts. */
static void
test_failures(void)
{
	struct evt_buf b = { 0 };
	char bad[EVT_HTTP_WS_ACCEPT_SIZE];

	evt_http_ws_reject(&b, 401);
	evt_buf_putc(&b, 0);
	failing("401", (const char *)b.p, 401, "HTTP 401", 0);
	/* A 101 whose accept value belongs to another key. */
	b.len = 0;
	evt_http_ws_accept_key(L("dGhlIHNhbXBsZSBub25jZQ=="), bad);
	evt_http_ws_accept(&b, bad, NULL);
	evt_buf_putc(&b, 0);
	failing("wrong accept", (const char *)b.p, 0, "bad upgrade answer", 0);
	failing("not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", 0,
	    "bad HTTP answer to the upgrade", 0);
	failing("closed", NULL, 0, "connection closed during the upgrade", 0);
	failing("timeout", "", 0, "timed out", 0.2);
	evt_buf_free(&b);
}

/* Nobody listens: the connect fails with the socket's error. */
static void
test_refused(void)
{
	struct tsrv srv;
	struct seen s = { 0 };

	T_EQ(tsrv_open(&srv), 0, "refused: a free port");
	tsrv_close(&srv);
	T_EQ(start(&srv, &s, 0, NULL), 0, "refused: started");
	WAIT(s.n > 0);
	T_OK(s.n == 1 && s.conn == NULL && s.status == 0,
	    "refused: no connection, no status");
	T_OK(strstr(s.why, "refused") != NULL, "refused: why says so: %s",
	    s.why);
}

/* A cancelled attempt closes its socket and never calls back. */
static void
test_cancel(void)
{
	struct evt_wsclient_opts o;
	struct evt_wsclient *c = NULL;
	struct evt_httpc_url u;
	struct tsrv srv;
	struct seen s = { 0 };
	char url[64];

	o = opts(&s, 0);
	T_EQ(tsrv_open(&srv), 0, "cancel: server");
	snprintf(url, sizeof url, "http://127.0.0.1:%u", srv.port);
	evt_httpc_url_parse(url, &u);
	T_EQ(evt_wsclient_connect(&o, &u, NULL, done_cb, &s, &c), 0,
	    "cancel: started");
	WAIT(tsrv_request(&srv) != 0);
	evt_wsclient_cancel(c);
	WAIT(srv.eof);
	T_OK(srv.eof, "cancel: the socket is closed");
	turns();
	T_EQ(s.n, 0, "cancel: no callback");
	tsrv_close(&srv);

	/* https needs a TLS context. */
	evt_httpc_url_parse("https://127.0.0.1:1", &u);
	c = (struct evt_wsclient *)&o;
	T_EQ(evt_wsclient_connect(&o, &u, NULL, done_cb, &s, &c), EVT_ERR_ARG,
	    "args: https without a context refused");
	T_OK(c == NULL && s.n == 0, "args: no handle, no callback");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (net_init() != 0)
		return 1;
	for (int split = SPLIT_WHOLE; split <= SPLIT_RANDOM; split++)
		test_upgrade(split, "tok-123");
	test_upgrade(SPLIT_RANDOM, NULL);
	test_failures();
	test_refused();
	test_cancel();
	net_done();
	T_DONE();
}
