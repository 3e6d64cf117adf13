/*
 * test_httpc.c: the HTTP client (httpc.c) against a hand-driven server on
 * a real 127.0.0.1 socket (tnet.h): the gateway URL parser; what a GET
 * and a POST put on the wire (the server parses it with the library's own
 * parser); answers written whole, byte by byte and in random splits,
 * with a length or chunked; and every way a request ends without an
 * answer, each with its explanation.  Nothing sleeps; the one timeout
 * tested is the client's own (1 s).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/httpc.h"
#include "t.h"
#include "tnet.h"

/* What the request callback saw. */
struct answer {
	int n, status;
	struct evt_buf body;
	char why[300];
};

/* The request callback: copies what it is given. */
static void
answer_cb(void *arg, int status, const char *body, size_t len,
    const char *why)
{
	struct answer *a = arg;

	a->n++;
	a->status = status;
	a->body.len = 0;
	if (body != NULL)
		evt_buf_put(&a->body, body, len);
	snprintf(a->why, sizeof a->why, "%s", why != NULL ? why : "");
}

/* The gateway URL parser: accepted forms and what is refused. */
static void
test_url(void)
{
	static const struct {
		const char *url;
		int tls;
		const char *host;
		unsigned port;
		const char *hostport, *base;
	} good[] = {
		{ "http://gw", 0, "gw", 80, "gw", "http://gw" },
		{ "https://gw.example:8443/", 1, "gw.example", 8443,
		    "gw.example:8443", "https://gw.example:8443" },
		{ "HTTPS://gw:443", 1, "gw", 443, "gw", "https://gw" },
		{ "http://127.0.0.1:80/", 0, "127.0.0.1", 80, "127.0.0.1",
		    "http://127.0.0.1" },
		{ "http://[::1]:8080", 0, "::1", 8080, "[::1]:8080",
		    "http://[::1]:8080" },
		{ "https://[fe80::1]", 1, "fe80::1", 443, "[fe80::1]",
		    "https://[fe80::1]" },
	};
	static const char *const bad[] = {
		"ftp://gw", "gw:80", "http://", "http://:80", "http://gw:",
		"http://gw:0", "http://gw:65536", "http://gw:8x",
		"http://gw/api", "http://gw?x=1", "http://user@gw",
		"http://[::1", "http://g w", "http://gw\\x",
	};
	struct evt_httpc_url u;
	int ok = 0, refused = 0;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = evt_httpc_url_parse(good[i].url, &u);
		int same = rc == 0 && u.tls == good[i].tls &&
		    strcmp(u.host, good[i].host) == 0 &&
		    u.port == good[i].port &&
		    strcmp(u.hostport, good[i].hostport) == 0 &&
		    strcmp(u.base, good[i].base) == 0;
		if (!same)
			printf("# %s: rc %d host %s port %u hostport %s "
			    "base %s\n", good[i].url, rc, u.host, u.port,
			    u.hostport, u.base);
		ok += same;
	}
	T_EQ(ok, sizeof good / sizeof good[0], "url: accepted forms parse");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = evt_httpc_url_parse(bad[i], &u);
		if (rc != EVT_ERR_ARG)
			printf("# accepted: %s\n", bad[i]);
		refused += rc == EVT_ERR_ARG;
	}
	T_EQ(refused, sizeof bad / sizeof bad[0], "url: bad ones refused");
}

/* Options for requests to the loop. */
static struct evt_httpc_opts
opts(void)
{
	struct evt_httpc_opts o;

	memset(&o, 0, sizeof o);
	o.base = base;
	return o;
}

/* The URL of the test server. */
static struct evt_httpc_url
url_of(const struct tsrv *s)
{
	struct evt_httpc_url u;
	char url[64];

	snprintf(url, sizeof url, "http://127.0.0.1:%u", s->port);
	evt_httpc_url_parse(url, &u);
	return u;
}

/* A GET with a token: the request on the wire, the answer in pieces. */
static void
test_get(int split, int chunked)
{
	struct evt_httpc_opts o = opts();
	struct tsrv s;
	struct answer a = { 0 };
	struct evt_buf resp = { 0 };
	char host[32], head[256];
	static const char body[] = "{\"array\":[{\"id\":\"cam-1\"}],"
	    "\"note\":\"a body long enough to be split many times over\"}";
	const char *what = chunked ? "chunked" : "length";

	T_EQ(tsrv_open(&s), 0, "get %s, %s: server", what, split_name(split));
	struct evt_httpc_url u = url_of(&s);
	T_EQ(evt_httpc_request(&o, &u, "/api/rest/v1/cameras?x=1", "tok123",
	    NULL, NULL, 0, answer_cb, &a, NULL), 0, "get: started");
	T_EQ(a.n, 0, "get: no callback inside the call");
	WAIT(tsrv_request(&s) != 0);
	T_OK(s.req != NULL && strcmp(s.req->method_name, "GET") == 0 &&
	    s.req->target_len == 24 &&
	    memcmp(s.req->target, "/api/rest/v1/cameras?x=1", 24) == 0,
	    "get: GET of the path");
	snprintf(host, sizeof host, "127.0.0.1:%u", s.port);
	T_OK(s.req != NULL && tsrv_has(&s, "Host", host) &&
	    tsrv_has(&s, "Accept", "application/json") &&
	    tsrv_has(&s, "Authorization", "Bearer tok123") &&
	    s.req->body_len == 0, "get: Host, Accept, Authorization; no body");
	if (chunked) {
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "10\r\n");
		evt_buf_put(&resp, head, strlen(head));
		evt_buf_put(&resp, body, 16);
		snprintf(head, sizeof head, "\r\n%zx\r\n", sizeof body - 17);
		evt_buf_put(&resp, head, strlen(head));
		evt_buf_put(&resp, body + 16, sizeof body - 17);
		evt_buf_put(&resp, L("\r\n0\r\n\r\n"));
	} else {
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n\r\n",
		    sizeof body - 1);
		evt_buf_put(&resp, head, strlen(head));
		evt_buf_put(&resp, body, sizeof body - 1);
	}
	tsrv_write(&s, resp.p, resp.len, split);
	WAIT(a.n > 0);
	T_EQ(a.status, 200, "get: status 200");
	T_OK(a.body.len == sizeof body - 1 &&
	    memcmp(a.body.p, body, a.body.len) == 0, "get: the body exactly");
	T_EQ(a.why[0], 0, "get: no why with an answer");
	WAIT(s.eof);
	T_OK(s.eof, "get: the client closes its connection");
	T_EQ(a.n, 1, "get: one callback");
	evt_buf_free(&resp);
	evt_buf_free(&a.body);
	tsrv_close(&s);
}

/* A POST: content type and body (with a NUL) on the wire, an error
 * status with its body back. */
static void
test_post(void)
{
	struct evt_httpc_opts o = opts();
	struct tsrv s;
	struct answer a = { 0 };
	static const char form[] = "grant_type=password&username=u&pw=a\0b";
	static const char resp[] = "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Length: 25\r\n\r\n{\"error\":\"invalid_grant\"}";

	T_EQ(tsrv_open(&s), 0, "post: server");
	struct evt_httpc_url u = url_of(&s);
	T_EQ(evt_httpc_request(&o, &u, "/API/IDP/connect/token", NULL,
	    "application/x-www-form-urlencoded", form, sizeof form - 1,
	    answer_cb, &a, NULL), 0, "post: started");
	WAIT(tsrv_request(&s) != 0);
	T_OK(s.req != NULL && strcmp(s.req->method_name, "POST") == 0 &&
	    tsrv_has(&s, "Content-Type", "application/x-www-form-urlencoded") &&
	    evt_http_header(s.req, "Authorization", NULL) == NULL,
	    "post: POST, its content type, no Authorization");
	T_OK(s.req != NULL && s.req->body_len == sizeof form - 1 &&
	    memcmp(s.req->body, form, sizeof form - 1) == 0,
	    "post: the body exactly (%zu bytes)", s.req ? s.req->body_len : 0);
	tsrv_write(&s, resp, sizeof resp - 1, SPLIT_RANDOM);
	WAIT(a.n > 0);
	T_EQ(a.status, 401, "post: status 401 given back");
	T_OK(a.body.len == 25 && memcmp(a.body.p,
	    "{\"error\":\"invalid_grant\"}", 25) == 0, "post: with its body");
	evt_buf_free(&a.body);
	tsrv_close(&s);
}

/*
 * A request that gets no answer: the server does what act says once the
 * request is in; the callback gets status 0 and a why containing want.
 */
static void
no_answer(const char *name, int act, const char *want, size_t max_body,
    int timeout)
{
	struct evt_httpc_opts o = opts();
	struct tsrv s;
	struct answer a = { 0 };

	o.max_body = max_body;
	o.timeout = timeout;
	T_EQ(tsrv_open(&s), 0, "%s: server", name);
	struct evt_httpc_url u = url_of(&s);
	if (act == 'R') {	/* nobody listens on the port */
		tsrv_close(&s);
		memset(&s, 0, sizeof s);
		s.fd = s.lfd = -1;
	}
	T_EQ(evt_httpc_request(&o, &u, "/", NULL, NULL, NULL, 0, answer_cb,
	    &a, NULL), 0, "%s: started", name);
	if (act != 'R')
		WAIT(tsrv_request(&s) != 0);
	if (act == 'C')		/* closed without a word */
		tsrv_drop(&s);
	if (act == 'G') {	/* not HTTP */
		tsrv_write(&s, L("SSH-2.0-OpenSSH_9.2\r\n\r\n"), SPLIT_WHOLE);
		tsrv_drop(&s);
	}
	if (act == 'B') {	/* more body than allowed */
		static char big[2100];
		int n = snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\n"
		    "Content-Length: 2000\r\n\r\n");
		memset(big + n, 'x', 2000);
		tsrv_write(&s, big, (size_t)n + 2000, SPLIT_WHOLE);
	}
	WAIT(a.n > 0);
	T_EQ(a.status, 0, "%s: no status", name);
	T_OK(strstr(a.why, want) != NULL, "%s: why says so: %s", name, a.why);
	if (act == 'R') {
		char w[64];
		snprintf(w, sizeof w, "connect to 127.0.0.1:%u refused", u.port);
		T_OK(strcmp(a.why, w) == 0, "%s: ... naming where: %s", name,
		    w);
	}
	tsrv_close(&s);
	evt_buf_free(&a.body);
}

/* A detached request runs to its end without calling back. */
static void
test_detach(void)
{
	struct evt_httpc_opts o = opts();
	struct evt_httpc_req *r = NULL;
	struct tsrv s;
	struct answer a = { 0 };

	T_EQ(tsrv_open(&s), 0, "detach: server");
	struct evt_httpc_url u = url_of(&s);
	T_EQ(evt_httpc_request(&o, &u, "/", NULL, NULL, NULL, 0, answer_cb,
	    &a, &r), 0, "detach: started");
	T_OK(r != NULL, "detach: a handle");
	WAIT(tsrv_request(&s) != 0);
	evt_httpc_detach(r);
	tsrv_write(&s, L("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
	    SPLIT_WHOLE);
	WAIT(s.eof);
	T_OK(s.eof, "detach: the request ran to its end");
	turns();
	T_EQ(a.n, 0, "detach: no callback");
	tsrv_close(&s);
}

/* https needs a TLS context. */
static void
test_args(void)
{
	struct evt_httpc_opts o = opts();
	struct evt_httpc_url u;
	struct evt_httpc_req *r = (struct evt_httpc_req *)&o;
	struct answer a = { 0 };

	evt_httpc_url_parse("https://127.0.0.1:1", &u);
	T_EQ(evt_httpc_request(&o, &u, "/", NULL, NULL, NULL, 0, answer_cb,
	    &a, &r), EVT_ERR_ARG, "args: https without a context refused");
	T_OK(r == NULL && a.n == 0, "args: no handle, no callback");
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (net_init() != 0)
		return 1;
	test_url();
	for (int split = SPLIT_WHOLE; split <= SPLIT_RANDOM; split++)
		test_get(split, 0);
	test_get(SPLIT_RANDOM, 1);
	test_post();
	/* libevent leaves no errno that says why a connect failed; its
	 * path says it was refused. */
	no_answer("refused", 'R', " refused", 0, 0);
	no_answer("closed", 'C', "closed before an answer", 0, 0);
	no_answer("not HTTP", 'G', "invalid HTTP answer", 0, 0);
	no_answer("too large", 'B', "too large", 1000, 0);
	no_answer("timeout", 'T', "timed out", 0, 1);
	test_detach();
	test_args();
	net_done();
	T_DONE();
}
