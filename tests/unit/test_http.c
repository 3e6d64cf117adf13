/*
 * test_http.c: unit tests of the sans-I/O HTTP layer (src/http.c): the
 * request and response parsers fed whole, byte by byte and in random
 * splits, their bounds, the WebSocket handshake both ways, responses,
 * forms, routes and the token JSON.
 */
#include <http_parser.h>

#include "evtape/err.h"
#include "evtape/http.h"
#include "t.h"

/* Split modes of run(). */
enum { WHOLE = 0, BYTES = 1, RANDOM = 2 };

/* Appends a printf-style line to a digest buffer. */
static void
dig(struct evt_buf *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#include <stdarg.h>

static void
dig(struct evt_buf *d, const char *fmt, ...)
{
	char t[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof t, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof t - 1)
		n = (int)sizeof t - 1;
	evt_buf_put(d, t, (size_t)n);
}

/* Appends a description of a message to a digest. */
static void
dig_msg(struct evt_buf *d, const struct evt_http_msg *m, size_t end)
{
	size_t k;

	dig(d, "msg end=%zu req=%d st=%d %s v%u.%u ka=%d up=%d\n", end,
	    m->is_request, m->status, m->method_name ? m->method_name : "-",
	    m->http_major, m->http_minor, m->keep_alive, m->upgrade);
	if (m->is_request) {
		evt_buf_put(d, m->target, m->target_len);
		dig(d, "|path=%zu|", m->path_len);
		if (m->query != NULL)
			evt_buf_put(d, m->query, m->query_len);
		dig(d, "\n");
	}
	for (k = 0; k < m->nheaders; k++) {
		evt_buf_put(d, m->headers[k].name, m->headers[k].name_len);
		dig(d, ":");
		evt_buf_put(d, m->headers[k].value, m->headers[k].value_len);
		dig(d, "\n");
	}
	dig(d, "body %zu:", m->body_len);
	evt_buf_put(d, m->body, m->body_len);
	dig(d, "\n");
}

/*
 * Feeds s[0..len) to a new parser in the given split mode and returns a
 * digest of every result (caller frees d).  Returns the number of messages.
 */
static int
run(enum evt_http_type type, const char *s, size_t len, int mode,
    struct evt_buf *d, int eof)
{
	struct evt_http_parser *p = evt_http_parser_new(type, 0, 0);
	size_t pos = 0, chunk, used, c;
	int rc = 0, nmsg = 0;

	memset(d, 0, sizeof *d);
	while (pos < len) {
		chunk = mode == WHOLE ? len - pos : mode == BYTES ? 1 :
		    1 + rng() % 40;
		if (chunk > len - pos)
			chunk = len - pos;
		c = 0;
		do {
			rc = evt_http_parser_feed(p, s + pos + c, chunk - c,
			    &used);
			c += used;
			if (rc == 1) {
				nmsg++;
				dig_msg(d, evt_http_parser_msg(p), pos + c);
				if (evt_http_parser_msg(p)->upgrade ||
				    !evt_http_parser_msg(p)->keep_alive)
					goto stop;
			}
		} while (rc == 1 && c < chunk);
		if (rc < 0)
			goto stop;
		pos += chunk;
	}
	if (eof) {
		rc = evt_http_parser_finish(p);
		if (rc == 1) {
			nmsg++;
			dig_msg(d, evt_http_parser_msg(p), len);
		}
	}
stop:
	dig(d, "rc=%d status=%d\n", rc, evt_http_parser_status(p));
	evt_http_parser_free(p);
	return nmsg;
}

/* Runs s whole, byte by byte and in random splits; checks they agree and
 * returns the number of messages (the whole-run digest stays in *d). */
static int
run3(enum evt_http_type type, const char *s, size_t len, struct evt_buf *d,
    int eof, const char *what)
{
	struct evt_buf b;
	int n, n2, k, same = 1;

	n = run(type, s, len, WHOLE, d, eof);
	n2 = run(type, s, len, BYTES, &b, eof);
	same &= n2 == n && b.len == d->len && memcmp(b.p, d->p, b.len) == 0;
	evt_buf_free(&b);
	for (k = 0; k < 20; k++) {
		n2 = run(type, s, len, RANDOM, &b, eof);
		same &= n2 == n && b.len == d->len &&
		    memcmp(b.p, d->p, b.len) == 0;
		evt_buf_free(&b);
	}
	T_OK(same, "%s: whole, byte by byte and random splits agree", what);
	return n;
}

/* Tells whether the digest contains text. */
static int
has(const struct evt_buf *d, const char *text)
{
	return memmem(d->p, d->len, text, strlen(text)) != NULL;
}

/* Feeds s whole to a request parser; returns the rc and the status. */
static int
feed1(enum evt_http_type type, const char *s, size_t len, int *status,
    size_t *used)
{
	struct evt_http_parser *p = evt_http_parser_new(type, 0, 0);
	size_t u;
	int rc = evt_http_parser_feed(p, s, len, &u);

	*status = evt_http_parser_status(p);
	if (used != NULL)
		*used = u;
	evt_http_parser_free(p);
	return rc;
}

static void
test_requests(void)
{
	static const char get[] =
	    "GET /api/rest/v1/cameras?page=2&size=10#frag HTTP/1.1\r\n"
	    "Host: example\r\n"
	    "X-Mixed-Case:   padded value  \r\n"
	    "X-Empty:\r\n"
	    "Accept: application/json\r\n\r\n";
	static const char post[] =
	    "POST /API/IDP/connect/token HTTP/1.1\r\n"
	    "Host: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	    "Content-Length: 28\r\n\r\n"
	    "grant_type=password&a=b+c%21";
	static const char chunked[] =
	    "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: t\r\n\r\n"
	    "GET /n HTTP/1.1\r\n\r\n";
	struct evt_http_parser *p;
	const struct evt_http_msg *m;
	struct evt_buf d;
	size_t used, n;
	const char *v;

	p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	T_EQ(evt_http_parser_feed(p, L(get), &used), 1, "GET parses");
	T_EQ(used, sizeof get - 1, "GET consumed whole");
	m = evt_http_parser_msg(p);
	T_OK(m != NULL && m->is_request && m->method == HTTP_GET &&
	    strcmp(m->method_name, "GET") == 0, "GET method");
	T_OK(m->path_len == 20 && memcmp(m->path, "/api/rest/v1/cameras",
	    20) == 0, "path without query");
	T_OK(m->query != NULL && m->query_len == 14 &&
	    memcmp(m->query, "page=2&size=10", 14) == 0, "query string");
	T_OK(m->target_len == 40 && m->target[m->target_len] == '\0',
	    "raw target kept and NUL-terminated");
	v = evt_http_header(m, "x-mixed-case", &n);
	T_OK(v != NULL && n == 12 && strcmp(v, "padded value") == 0,
	    "header lookup is case-insensitive and trims blanks");
	v = evt_http_header(m, "X-EMPTY", &n);
	T_OK(v != NULL && n == 0, "empty header value present");
	v = evt_http_header(m, "Accept", &n);
	T_OK(v != NULL && strcmp(v, "application/json") == 0,
	    "header after an empty one");
	T_OK(evt_http_header(m, "Missing", NULL) == NULL, "absent header");
	T_OK(m->keep_alive && !m->upgrade && m->body_len == 0,
	    "HTTP/1.1 keep-alive, no body");
	evt_http_parser_free(p);

	T_EQ(run3(EVT_HTTP_REQUEST, L(get), &d, 0, "GET"), 1, "GET count");
	evt_buf_free(&d);
	T_EQ(run3(EVT_HTTP_REQUEST, L(post), &d, 0, "POST"), 1, "POST count");
	T_OK(has(&d, "body 28:grant_type=password&a=b+c%21\n"),
	    "POST body with Content-Length");
	evt_buf_free(&d);
	T_EQ(run3(EVT_HTTP_REQUEST, L(chunked), &d, 0, "chunked"), 2,
	    "chunked request with trailer, then another request");
	T_OK(has(&d, "body 12:hello, world\n"), "chunked body decoded");
	T_OK(!has(&d, "Trailer") && has(&d, "/n|path=2|"),
	    "trailer dropped, next request intact");
	evt_buf_free(&d);
}

static void
test_pipeline(void)
{
	static const char three[] =
	    "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
	    "GET /c?q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
	    "GET /d HTTP/1.1\r\n\r\n";
	static const char ten[] = "HEAD /h HTTP/1.0\r\n\r\nGET /i HTTP/1.0\r\n\r\n";
	struct evt_http_parser *p;
	struct evt_buf d;
	size_t used, off = 0;
	int rc;

	T_EQ(run3(EVT_HTTP_REQUEST, L(three), &d, 0, "pipelined"), 3,
	    "three pipelined requests, then close");
	T_OK(has(&d, "/a|path=2|") && has(&d, "body 3:xyz") &&
	    has(&d, "/c?q|path=2|q") && !has(&d, "/d"),
	    "pipelined requests in order; nothing after Connection: close");
	T_OK(has(&d, "rc=1 status=0"), "stopped after the close request");
	evt_buf_free(&d);

	p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	rc = evt_http_parser_feed(p, L(three), &used);
	T_EQ(rc, 1, "first of a pipeline");
	T_EQ(used, 28, "stops at the end of the first request");
	off += used;
	rc = evt_http_parser_feed(p, three + off, sizeof three - 1 - off,
	    &used);
	T_OK(rc == 1 && evt_http_parser_msg(p)->body_len == 3, "second");
	off += used;
	rc = evt_http_parser_feed(p, three + off, sizeof three - 1 - off,
	    &used);
	T_OK(rc == 1 && !evt_http_parser_msg(p)->keep_alive,
	    "third says close");
	off += used;
	rc = evt_http_parser_feed(p, three + off, sizeof three - 1 - off,
	    &used);
	T_EQ(rc, EVT_ERR_STATE, "feeding after a close request");
	evt_http_parser_free(p);

	T_EQ(run3(EVT_HTTP_REQUEST, L(ten), &d, 0, "HTTP/1.0"), 1,
	    "HTTP/1.0 without keep-alive ends the connection");
	evt_buf_free(&d);
}

/* Builds a request whose head is exactly n bytes. */
static char *
head_of(size_t n, size_t *len)
{
	static const char pre[] = "GET / HTTP/1.1\r\nX: ";
	char *s = malloc(n + 1);
	size_t fill = n - (sizeof pre - 1) - 4;

	memcpy(s, pre, sizeof pre - 1);
	memset(s + sizeof pre - 1, 'a', fill);
	memcpy(s + n - 4, "\r\n\r\n", 4);
	s[n] = '\0';
	*len = n;
	return s;
}

static void
test_bounds(void)
{
	struct evt_buf d;
	char *s, *big;
	size_t n, k;
	int st, rc;

	s = head_of(EVT_HTTP_MAX_HEAD, &n);
	T_EQ(feed1(EVT_HTTP_REQUEST, s, n, &st, NULL), 1,
	    "head of exactly 16 KiB is accepted");
	T_EQ(run3(EVT_HTTP_REQUEST, s, n, &d, 0, "16 KiB head"), 1, "count");
	evt_buf_free(&d);
	free(s);
	s = head_of(EVT_HTTP_MAX_HEAD + 1, &n);
	rc = feed1(EVT_HTTP_REQUEST, s, n, &st, NULL);
	T_OK(rc == EVT_ERR_TOOBIG && st == 431, "16 KiB + 1 head -> 431");
	T_EQ(run3(EVT_HTTP_REQUEST, s, n, &d, 0, "16 KiB + 1 head"), 0, "0");
	T_OK(has(&d, "status=431"), "431 in every split");
	evt_buf_free(&d);
	/* A long request line alone also counts. */
	memcpy(s, "GET /", 5);
	memset(s + 5, 'p', n - 5);
	rc = feed1(EVT_HTTP_REQUEST, s, n, &st, NULL);
	T_OK(rc == EVT_ERR_TOOBIG && st == 431, "long request line -> 431");
	/* A malformed byte inside the budget is 400, not 431. */
	s[100] = '\x01';
	T_EQ(run3(EVT_HTTP_REQUEST, s, n, &d, 0, "bad byte in long line"), 0,
	    "0");
	T_OK(has(&d, "status=400"), "malformed inside the bound -> 400");
	evt_buf_free(&d);
	free(s);

	/* Body: exactly 1 MiB passes, one more byte is 413 at the headers. */
	big = malloc(EVT_HTTP_MAX_BODY + 200);
	n = (size_t)sprintf(big, "POST /b HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
	    EVT_HTTP_MAX_BODY);
	memset(big + n, 'b', EVT_HTTP_MAX_BODY);
	T_EQ(feed1(EVT_HTTP_REQUEST, big, n + EVT_HTTP_MAX_BODY, &st, NULL), 1,
	    "1 MiB body accepted");
	n = (size_t)sprintf(big, "POST /b HTTP/1.1\r\nContent-Length: %d\r\n\r\n",
	    EVT_HTTP_MAX_BODY + 1);
	rc = feed1(EVT_HTTP_REQUEST, big, n, &st, NULL);
	T_OK(rc == EVT_ERR_TOOBIG && st == 413, "Content-Length 1 MiB + 1 -> 413");
	/* Chunked: the sum of chunk sizes is bounded. */
	n = (size_t)sprintf(big, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n80000\r\n");
	memset(big + n, 'c', 0x80000);
	n += 0x80000;
	n += (size_t)sprintf(big + n, "\r\n80001\r\n");
	rc = feed1(EVT_HTTP_REQUEST, big, n, &st, NULL);
	T_OK(rc == EVT_ERR_TOOBIG && st == 413, "chunked over 1 MiB -> 413");
	n = (size_t)sprintf(big, "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n80000\r\n");
	memset(big + n, 'c', 0x80000);
	n += 0x80000;
	n += (size_t)sprintf(big + n, "\r\n80000\r\n");
	memset(big + n, 'c', 0x80000);
	n += 0x80000;
	n += (size_t)sprintf(big + n, "\r\n0\r\n\r\n");
	T_EQ(feed1(EVT_HTTP_REQUEST, big, n, &st, NULL), 1,
	    "chunked body of exactly 1 MiB accepted");
	free(big);

	/* Malformed requests are 400, in every split. */
	{
		static const char *const bad[] = {
			"FOO BAR\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
			"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
			"GET / HTTP/1.1\r\nContent-Length: 1\r\n"
			    "Content-Length: 2\r\n\r\n",
			"GET / HTTP/9.9x\r\n\r\n",
			"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
			"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "zz\r\n",
		};
		for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
			rc = feed1(EVT_HTTP_REQUEST, bad[k], strlen(bad[k]),
			    &st, NULL);
			T_OK(rc == EVT_ERR_ARG && st == 400,
			    "malformed request %zu -> 400 (rc %d)", k, rc);
			run3(EVT_HTTP_REQUEST, bad[k], strlen(bad[k]), &d, 0,
			    "malformed");
			T_OK(has(&d, "status=400"), "400 in every split %zu", k);
			evt_buf_free(&d);
		}
	}
}

/* A valid upgrade request with the RFC 6455 example key. */
static const char upreq[] =
    "GET /api/ws/events/v1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: WebSocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Authorization: bearer tok.en-1\r\n\r\n";

/* Parses s[0..len) and checks the upgrade; returns rc, fills status. */
static int
check_up(const char *s, int *status, char *accept)
{
	struct evt_http_parser *p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	size_t used;
	int rc = evt_http_parser_feed(p, s, strlen(s), &used);

	if (rc == 1)
		rc = evt_http_ws_check_request(evt_http_parser_msg(p), accept,
		    status);
	else
		rc = -999;
	evt_http_parser_free(p);
	return rc;
}

/* Replaces the first occurrence of from in upreq by to. */
static char *
variant(const char *from, const char *to)
{
	static char s[1024];
	const char *at = strstr(upreq, from);
	size_t pre = (size_t)(at - upreq);

	memcpy(s, upreq, pre);
	strcpy(s + pre, to);
	strcat(s, at + strlen(from));
	return s;
}

static void
test_upgrade(void)
{
	char stream[1024], accept[EVT_HTTP_WS_ACCEPT_SIZE];
	struct evt_http_parser *p;
	const struct evt_http_msg *m;
	struct evt_buf d, out = {0};
	const char *tok;
	size_t used, n, tl;
	int rc, st;

	T_EQ(evt_http_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept), 0,
	    "accept key");
	T_OK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "RFC 6455 example accept");

	/* Upgrade with WebSocket bytes right behind the headers. */
	n = strlen(upreq);
	memcpy(stream, upreq, n);
	memcpy(stream + n, "\x81\x85\x01\x02\x03\x04hello", 11);
	p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	rc = evt_http_parser_feed(p, stream, n + 11, &used);
	m = evt_http_parser_msg(p);
	T_OK(rc == 1 && m->upgrade, "upgrade request recognised");
	T_EQ(used, n, "parser stops at the end of the headers");
	T_OK(memcmp(stream + used, "\x81\x85", 2) == 0,
	    "trailing WebSocket bytes handed back");
	rc = evt_http_ws_check_request(m, accept, &st);
	T_OK(rc == 0 && st == 101, "valid upgrade (keep-alive, Upgrade)");
	T_OK(strcmp(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
	    "accept computed from the request");
	T_OK(evt_http_bearer(m, &tok, &tl) == 1 && tl == 8 &&
	    memcmp(tok, "tok.en-1", 8) == 0, "bearer token, scheme any case");
	T_EQ(evt_http_parser_feed(p, stream + used, 11, &used), EVT_ERR_STATE,
	    "parser refuses bytes after an upgrade");
	evt_http_parser_free(p);
	T_EQ(run3(EVT_HTTP_REQUEST, stream, n + 11, &d, 0, "upgrade"), 1,
	    "upgrade count");
	T_OK(has(&d, "up=1"), "upgrade flag in every split");
	evt_buf_free(&d);

	T_EQ(check_up(variant("Version: 13", "Version: 8"), &st, accept),
	    EVT_ERR_ARG, "version 8 rejected");
	T_EQ(st, 426, "version 8 -> 426");
	T_EQ(evt_http_ws_reject(&out, 426), 0, "426 answer");
	T_OK(memmem(out.p, out.len, "HTTP/1.1 426 Upgrade Required\r\n", 31) &&
	    memmem(out.p, out.len, "\r\nSec-WebSocket-Version: 13\r\n", 29) &&
	    memmem(out.p, out.len, "Connection: close", 17),
	    "426 carries Sec-WebSocket-Version: 13");
	out.len = 0;
	T_EQ(check_up(variant("Sec-WebSocket-Version: 13\r\n", ""), &st,
	    accept), EVT_ERR_ARG, "missing version");
	T_EQ(st, 426, "missing version -> 426");
	T_EQ(check_up(variant("keep-alive, Upgrade", "keep-alive"), &st,
	    accept), EVT_ERR_ARG, "Connection without upgrade");
	T_EQ(st, 400, "-> 400");
	T_EQ(check_up(variant("keep-alive, Upgrade", "upgrades"), &st, accept),
	    EVT_ERR_ARG, "Connection token must match whole");
	T_EQ(check_up(variant("keep-alive, Upgrade", "foo ,UPGRADE , bar"), &st,
	    accept), 0, "Connection list with blanks and case");
	T_EQ(check_up(variant("WebSocket", "h2c"), &st, accept), EVT_ERR_ARG,
	    "Upgrade: h2c rejected");
	T_EQ(check_up(variant("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
	    &st, accept), EVT_ERR_ARG, "key of 10 bytes rejected");
	T_EQ(st, 400, "bad key -> 400");
	T_EQ(check_up(variant("dGhlIHNhbXBsZSBub25jZQ==",
	    "dGhlIHNhbXBsZSBub25j*Q=="), &st, accept), EVT_ERR_ARG,
	    "key with a non-base64 byte rejected");
	T_EQ(check_up(variant("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
	    ""), &st, accept), EVT_ERR_ARG, "missing key rejected");
	T_EQ(check_up(variant("GET", "PUT"), &st, accept), EVT_ERR_ARG,
	    "PUT rejected");
	T_EQ(check_up(variant("HTTP/1.1", "HTTP/1.0"), &st, accept),
	    EVT_ERR_ARG, "HTTP/1.0 rejected");

	T_EQ(evt_http_ws_accept(&out, accept, NULL), 0, "101 built");
	T_OK(out.len > 12 && memcmp(out.p, "HTTP/1.1 101 Switching Protocols"
	    "\r\n", 34) == 0, "101 status line");
	T_OK(memmem(out.p, out.len, "Sec-WebSocket-Accept: ", 22) != NULL &&
	    memmem(out.p, out.len, "Sec-WebSocket-Protocol", 22) == NULL &&
	    memmem(out.p, out.len, "Content-Length", 14) == NULL,
	    "101 has accept, no subprotocol, no Content-Length");
	evt_buf_free(&out);

	/* Bearer edge cases. */
	p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	evt_http_parser_feed(p, L("GET / HTTP/1.1\r\nAuthorization: Basic "
	    "eDp5\r\n\r\nGET / HTTP/1.1\r\nAuthorization: Bearer   \r\n\r\n"
	    "GET / HTTP/1.1\r\n\r\n"), &used);
	T_EQ(evt_http_bearer(evt_http_parser_msg(p), &tok, &tl), EVT_ERR_ARG,
	    "Basic is not a bearer token");
	n = used;
	evt_http_parser_feed(p, L("GET / HTTP/1.1\r\nAuthorization: Bearer   "
	    "\r\n\r\n"), &used);
	T_EQ(evt_http_bearer(evt_http_parser_msg(p), &tok, &tl), EVT_ERR_ARG,
	    "empty bearer token");
	evt_http_parser_feed(p, L("GET / HTTP/1.1\r\n\r\n"), &used);
	T_EQ(evt_http_bearer(evt_http_parser_msg(p), &tok, &tl), 0,
	    "no Authorization header");
	(void)n;
	evt_http_parser_free(p);
}

static void
test_responses(void)
{
	struct evt_buf out = {0};
	static const char want[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n"
	    "Connection: keep-alive\r\n\r\n{}";
	static const char want401[] = "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Type: application/json\r\nContent-Length: 24\r\n"
	    "Connection: close\r\nWWW-Authenticate: Bearer\r\n\r\n"
	    "{\"error\":\"unauthorized\"}";
	static const char want400[] = "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"invalid_username_or_password\"}";

	T_EQ(evt_http_response(&out, 200, "application/json", NULL, "{}", 2, 1),
	    0, "200 built");
	T_OK(out.len == sizeof want - 1 && memcmp(out.p, want, out.len) == 0,
	    "200 bytes exact");
	out.len = 0;
	T_EQ(evt_http_ws_reject(&out, 401), 0, "401 built");
	T_OK(out.len == sizeof want401 - 1 && memcmp(out.p, want401,
	    out.len) == 0, "401 bytes exact");
	out.len = 0;
	T_EQ(evt_http_json_error_body(&out, "invalid_grant",
	    "invalid_username_or_password"), 0, "IDP error body");
	T_OK(out.len == sizeof want400 - 1 && memcmp(out.p, want400,
	    out.len) == 0, "IDP error body exact");
	out.len = 0;
	T_EQ(evt_http_json_error(&out, 400, "invalid_grant",
	    "invalid_username_or_password", NULL, 1), 0, "IDP 400 response");
	T_OK(memcmp(out.p, "HTTP/1.1 400 Bad Request\r\n", 26) == 0 &&
	    memmem(out.p, out.len, want400, sizeof want400 - 1) != NULL,
	    "IDP 400 response has status and body");
	out.len = 0;
	T_EQ(evt_http_response(&out, 204, NULL, NULL, NULL, 0, 1), 0, "204");
	T_OK(memmem(out.p, out.len, "Content-Length", 14) == NULL,
	    "204 without Content-Length");
	out.len = 0;
	T_EQ(evt_http_response(&out, 200, NULL, "X: y", NULL, 0, 1), EVT_ERR_ARG,
	    "extra header without CRLF rejected");
	T_EQ(evt_http_response(&out, 200, NULL, "X: y\r\n\r\nevil", NULL, 0,
	    1), EVT_ERR_ARG, "extra with an empty line rejected");
	T_EQ(evt_http_response(&out, 200, NULL, "X\r\n", NULL, 0, 1),
	    EVT_ERR_ARG, "extra line without colon rejected");
	T_EQ(evt_http_response(&out, 200, "a\r\nb: c", NULL, NULL, 0, 1),
	    EVT_ERR_ARG, "content type with CRLF rejected");
	T_EQ(evt_http_response(&out, 42, NULL, NULL, NULL, 0, 1), EVT_ERR_ARG,
	    "status 42 rejected");
	T_EQ(out.len, 0, "nothing appended on error");
	T_OK(strcmp(evt_http_reason(431), "Request Header Fields Too Large")
	    == 0 && strcmp(evt_http_reason(799), "Unknown") == 0, "reasons");
	evt_buf_free(&out);
}

static void
test_forms(void)
{
	struct evt_http_form f;
	struct evt_buf e = {0};
	const char *v;
	char raw[64];
	size_t n, k;
	int rc, ok;

	rc = evt_http_form_parse(&f, L("grant_type=password&username=ad%6Din"
	    "&password=p%40ss+w%2Bord%26&client_id=GrantValidatorClient"));
	T_EQ(rc, 0, "token form parses");
	v = evt_http_form_get(&f, "password", &n);
	T_OK(v != NULL && n == 11 && strcmp(v, "p@ss w+ord&") == 0,
	    "password decoded (%% and +)");
	v = evt_http_form_get(&f, "username", &n);
	T_OK(v != NULL && strcmp(v, "admin") == 0, "lower-case hex decoded");
	T_OK(evt_http_form_get(&f, "client_id", NULL) != NULL &&
	    evt_http_form_get(&f, "Client_id", NULL) == NULL,
	    "keys are case-sensitive");
	evt_http_form_free(&f);
	T_OK(f.buf == NULL && f.n == 0, "free empties the form");

	T_EQ(evt_http_form_parse(&f, L("a=%zz")), EVT_ERR_ARG, "%%zz invalid");
	T_OK(f.buf == NULL, "nothing to free after an error");
	T_EQ(evt_http_form_parse(&f, L("a=%4")), EVT_ERR_ARG, "%%4 at the end");
	T_EQ(evt_http_form_parse(&f, L("a=%")), EVT_ERR_ARG, "%% at the end");
	T_EQ(evt_http_form_parse(&f, L("%g0=1")), EVT_ERR_ARG, "bad key escape");

	T_EQ(evt_http_form_parse(&f, L("a=x%00y&b=&c&&=z&a=second&d=+%2b+")),
	    0, "edge cases parse");
	v = evt_http_form_get(&f, "a", &n);
	T_OK(v != NULL && n == 3 && memcmp(v, "x\0y", 3) == 0,
	    "%%00 kept as a NUL byte with its length; first duplicate wins");
	v = evt_http_form_get(&f, "b", &n);
	T_OK(v != NULL && n == 0, "empty value");
	v = evt_http_form_get(&f, "c", &n);
	T_OK(v != NULL && n == 0, "key without = has an empty value");
	T_EQ(f.n, 5, "empty pair and empty key skipped");
	v = evt_http_form_get(&f, "d", &n);
	T_OK(v != NULL && strcmp(v, " + ") == 0, "plus and %%2b");
	evt_http_form_free(&f);
	T_EQ(evt_http_form_parse(&f, "", 0), 0, "empty form");
	T_EQ(f.n, 0, "no fields");
	evt_http_form_free(&f);

	for (k = 0; k < EVT_HTTP_FORM_MAX_FIELDS + 1; k++)
		evt_http_form_add(&e, "k", "v", 1);
	T_EQ(evt_http_form_parse(&f, (char *)e.p, e.len), EVT_ERR_TOOBIG,
	    "65 fields -> TOOBIG");
	e.len -= 4;
	T_EQ(evt_http_form_parse(&f, (char *)e.p, e.len), 0, "64 fields");
	evt_http_form_free(&f);
	e.len = 0;

	/* Encoder round trip over random bytes. */
	ok = 1;
	for (k = 0; k < 200; k++) {
		size_t j, m = rng() % sizeof raw;

		for (j = 0; j < m; j++)
			raw[j] = (char)rng();
		e.len = 0;
		evt_http_form_add(&e, "user name", "x", 1);
		evt_http_form_add(&e, "password", raw, m);
		for (j = 0; j < e.len; j++)
			ok &= e.p[j] > ' ' && e.p[j] < 0x7f;
		rc = evt_http_form_parse(&f, (char *)e.p, e.len);
		v = evt_http_form_get(&f, "password", &n);
		ok &= rc == 0 && v != NULL && n == m && memcmp(v, raw, m) == 0;
		ok &= evt_http_form_get(&f, "user name", NULL) != NULL;
		evt_http_form_free(&f);
	}
	T_OK(ok, "form encode/decode round trip of random bytes");
	e.len = 0;
	evt_http_form_add(&e, "a", "b c~*", 5);
	T_OK(e.len == 9 && memcmp(e.p, "a=b+c~%2A", 9) == 0, "encoder output");
	evt_http_wipe(e.p, e.len);
	T_OK(e.p[0] == 0 && e.p[8] == 0, "wipe zeroes");
	evt_buf_free(&e);
}

static void
test_routes(void)
{
	static const struct {
		const char *t;
		int token, ws;
	} tab[] = {
		{"/API/IDP/connect/token", 1, 0},
		{"/api/IDP/connect/token", 1, 0},
		{"/api/idp/CONNECT/Token?x=1", 1, 0},
		{"/IDP/connect/token", 1, 0},
		{"/idp/connect/token#f", 1, 0},
		{"/API/IDP/connect/token/", 0, 0},
		{"/API/IDP/connect/tokens", 0, 0},
		{"/IDP/connect", 0, 0},
		{"/api/ws/events/v1", 0, 1},
		{"/api/ws/events/v1/", 0, 1},
		{"/api/ws/events/v1?x=/", 0, 1},
		{"/api/ws/events/v1/?a", 0, 1},
		{"/api/ws/events/v1//", 0, 0},
		{"/api/ws/events", 0, 0},
		{"/api/ws/events/", 0, 0},
		{"/api/ws/events/v2", 0, 0},
		{"/api/ws/events/v1x", 0, 0},
		{"/API/WS/EVENTS/V1", 0, 0},
		{"", 0, 0},
		{"/", 0, 0},
	};
	size_t k;

	for (k = 0; k < sizeof tab / sizeof tab[0]; k++) {
		T_EQ(evt_http_route_token(tab[k].t, strlen(tab[k].t)),
		    tab[k].token, "token route \"%s\"", tab[k].t);
		T_EQ(evt_http_route_ws(tab[k].t, strlen(tab[k].t)), tab[k].ws,
		    "ws route \"%s\"", tab[k].t);
	}
	T_EQ(evt_http_path_match(L("/api/rest/v1/cameras?x"),
	    "/api/rest/v1/cameras", 0), 1, "REST path with query");
	T_EQ(evt_http_path_match(L("/api/rest/v1/Cameras"),
	    "/api/rest/v1/cameras", 0), 0, "case-sensitive by default");
}

static void
test_token_json(void)
{
	struct evt_buf b = {0};
	struct evt_http_token t;
	static const char want[] = "{\"access_token\":\"eyJ.a\\\"b\","
	    "\"expires_in\":3600,\"token_type\":\"Bearer\","
	    "\"scope\":\"managementserver\"}";

	T_EQ(evt_http_token_json(&b, "eyJ.a\"b", 7, 3600, NULL), 0, "built");
	T_OK(b.len == sizeof want - 1 && memcmp(b.p, want, b.len) == 0,
	    "token JSON exact (escaped)");
	T_EQ(evt_http_token_parse((char *)b.p, b.len, &t), 0, "parsed back");
	T_OK(t.access_token != NULL && t.len == 7 &&
	    strcmp(t.access_token, "eyJ.a\"b") == 0 && t.expires_in == 3600 &&
	    t.bearer, "token fields");
	evt_http_token_free(&t);
	T_OK(t.access_token == NULL, "token freed");
	T_EQ(evt_http_token_parse(L("{\"token_type\":\"Bearer\"}"), &t),
	    EVT_ERR_JSON, "missing access_token");
	T_EQ(evt_http_token_parse(L("{\"access_token\":5}"), &t), EVT_ERR_JSON,
	    "access_token not a string");
	T_EQ(evt_http_token_parse(L("{\"access_token\":\"x\","
	    "\"expires_in\":-5}"), &t), EVT_ERR_JSON, "negative expires_in");
	T_EQ(evt_http_token_parse(L("{\"access_token\":\"x\""), &t),
	    EVT_ERR_JSON, "truncated JSON");
	T_OK(t.access_token == NULL, "zeroed after an error");
	T_EQ(evt_http_token_parse(L("[\"access_token\"]"), &t), EVT_ERR_JSON,
	    "not an object");
	T_EQ(evt_http_token_parse(L("{\"scope\":{\"a\":[1]},\"access_token\":"
	    "\"x\",\"token_type\":\"mac\"}"), &t), 0, "nested, no expires_in");
	T_OK(t.expires_in == -1 && !t.bearer && t.len == 1, "defaults");
	evt_http_token_free(&t);
	evt_buf_free(&b);
}

/* Feeds s to a response parser in random splits until a message; returns
 * rc and the consumed count. */
static int
client_feed(struct evt_http_parser *p, const char *s, size_t len,
    size_t *end)
{
	size_t pos = 0, c, used;
	int rc = 0;

	while (pos < len) {
		c = 1 + rng() % 17;
		if (c > len - pos)
			c = len - pos;
		rc = evt_http_parser_feed(p, s + pos, c, &used);
		pos += used;
		if (rc != 0)
			break;
	}
	*end = pos;
	return rc;
}

static void
test_client(void)
{
	static const uint8_t nonce[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16};
	char key[EVT_HTTP_WS_KEY_SIZE], accept[EVT_HTTP_WS_ACCEPT_SIZE];
	struct evt_buf req = {0}, resp = {0};
	struct evt_http_parser *sp, *cp;
	const struct evt_http_msg *m;
	const char *why, *tok;
	size_t used, end, tl;
	int rc, st, round, ok = 1;

	T_EQ(evt_http_ws_request(&req, "gw.example:8080", "/api/ws/events/v1/",
	    nonce, "abc.def", "User-Agent: evrec\r\n", key), 0,
	    "client request built");
	T_OK(strcmp(key, "AQIDBAUGBwgJCgsMDQ4PEA==") == 0, "key from nonce");
	/* Client -> server: request plus a first WebSocket frame. */
	evt_buf_put(&req, "\x81\x80XXXX", 6);
	sp = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	rc = evt_http_parser_feed(sp, req.p, req.len, &used);
	m = evt_http_parser_msg(sp);
	T_OK(rc == 1 && m->upgrade && used == req.len - 6,
	    "server parses the client request; trailing frame handed back");
	T_OK(evt_http_route_ws(m->target, m->target_len), "route matches");
	T_OK(evt_http_bearer(m, &tok, &tl) == 1 && tl == 7, "bearer seen");
	T_EQ(evt_http_ws_check_request(m, accept, &st), 0, "server accepts");
	T_OK(strcmp(evt_http_header(m, "User-Agent", NULL), "evrec") == 0,
	    "extra header arrives");
	evt_http_parser_free(sp);

	/* Server -> client: 101 plus a first frame, fed in random splits. */
	evt_http_ws_accept(&resp, accept, NULL);
	end = resp.len;
	evt_buf_put(&resp, "\x81\x02hi", 4);
	for (round = 0; round < 50; round++) {
		cp = evt_http_parser_new(EVT_HTTP_RESPONSE, 0, 0);
		rc = client_feed(cp, (char *)resp.p, resp.len, &used);
		m = evt_http_parser_msg(cp);
		ok &= rc == 1 && m != NULL && m->status == 101 && m->upgrade &&
		    used == end;
		ok &= m != NULL && evt_http_ws_check_response(m, key, &why) == 0;
		evt_http_parser_free(cp);
	}
	T_OK(ok, "client validates the 101 in random splits; frame handed back");

	/* A wrong accept, a subprotocol, and error statuses. */
	cp = evt_http_parser_new(EVT_HTTP_RESPONSE, 0, 0);
	rc = evt_http_parser_feed(cp, L("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"), &used);
	T_EQ(rc, 1, "101 parsed");
	T_EQ(evt_http_ws_check_response(evt_http_parser_msg(cp), key, &why),
	    EVT_ERR_ARG, "wrong accept rejected");
	T_OK(strstr(why, "Accept") != NULL, "why names the accept");
	T_EQ(evt_http_ws_check_response(evt_http_parser_msg(cp),
	    "dGhlIHNhbXBsZSBub25jZQ==", &why), 0, "right key accepted");
	evt_http_parser_free(cp);
	cp = evt_http_parser_new(EVT_HTTP_RESPONSE, 0, 0);
	resp.len = 0;
	evt_http_ws_accept(&resp, accept, "Sec-WebSocket-Protocol: x\r\n");
	evt_http_parser_feed(cp, resp.p, resp.len, &used);
	T_EQ(evt_http_ws_check_response(evt_http_parser_msg(cp), key, &why),
	    EVT_ERR_ARG, "unrequested subprotocol rejected");
	evt_http_parser_free(cp);

	resp.len = 0;
	evt_http_ws_reject(&resp, 401);
	cp = evt_http_parser_new(EVT_HTTP_RESPONSE, 0, 0);
	rc = client_feed(cp, (char *)resp.p, resp.len, &used);
	m = evt_http_parser_msg(cp);
	T_OK(rc == 1 && m->status == 401 && !m->upgrade && m->body_len == 24,
	    "401 parsed with its body");
	T_EQ(evt_http_ws_check_response(m, key, &why), EVT_ERR_NOTFOUND,
	    "401 is not an upgrade");
	T_OK(strcmp(why, "unauthorized") == 0, "401 -> unauthorized");
	evt_http_parser_free(cp);
	T_OK(strcmp(evt_http_status_why(404), "not found") == 0 &&
	    strcmp(evt_http_status_why(502), "server error") == 0 &&
	    strcmp(evt_http_status_why(503), "service unavailable") == 0,
	    "status explanations");

	T_EQ(evt_http_ws_request(&req, "h", "nopath", nonce, NULL, NULL, key),
	    EVT_ERR_ARG, "path must start with /");
	T_EQ(evt_http_ws_request(&req, "h", "/", nonce, "a\r\nX: y", NULL,
	    key), EVT_ERR_ARG, "CRLF in bearer rejected");
	evt_buf_free(&req);
	evt_buf_free(&resp);
}

static void
test_plain_responses(void)
{
	static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: 5\r\n\r\n{\"a\"}"
	    "HTTP/1.1 204 No Content\r\n\r\n";
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
	static const char eof[] = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
	    "\r\nshort";
	struct evt_buf d;

	T_EQ(run3(EVT_HTTP_RESPONSE, L(cl), &d, 0, "two responses"), 2,
	    "two responses");
	T_OK(has(&d, "st=200") && has(&d, "body 5:{\"a\"}") && has(&d,
	    "st=204"), "status and body");
	evt_buf_free(&d);
	T_EQ(run3(EVT_HTTP_RESPONSE, L(ch), &d, 0, "chunked response"), 1,
	    "chunked response");
	T_OK(has(&d, "body 5:abcde"), "chunked response body");
	evt_buf_free(&d);
	T_EQ(run3(EVT_HTTP_RESPONSE, L(eof), &d, 1, "EOF body"), 1,
	    "body until EOF completes at finish");
	T_OK(has(&d, "body 13:until the end"), "EOF body content");
	evt_buf_free(&d);
	run3(EVT_HTTP_RESPONSE, L(cut), &d, 1, "truncated");
	T_OK(has(&d, "rc=-302"), "EOF inside the body -> EVT_ERR_TRUNCATED");
	evt_buf_free(&d);
}

/* Returns the CORS lines evt_http_cors_headers gives for request req
 * with origins[0..n), in d (NUL-terminated; free with evt_buf_free). */
static const char *
cors_for(const char *req, const char *const *origins, size_t n,
    struct evt_buf *d)
{
	struct evt_http_parser *p = evt_http_parser_new(EVT_HTTP_REQUEST, 0, 0);
	size_t u;

	memset(d, 0, sizeof *d);
	T_EQ(evt_http_parser_feed(p, req, strlen(req), &u), 1, "cors request");
	T_EQ(evt_http_cors_headers(evt_http_parser_msg(p), origins, n, d), 0,
	    "cors headers");
	evt_http_parser_free(p);
	return d->p != NULL ? (const char *)d->p : "";
}

/* CORS: allowed origins echoed, "*" as "*", preflight extras, nothing for
 * other or malformed origins; the --cors value check. */
static void
test_cors(void)
{
	static const char *const one[] = { "http://127.0.0.1:8000" };
	static const char *const star[] = { "*" };
	struct evt_buf d;

	T_OK(strcmp(cors_for("GET /x HTTP/1.1\r\nOrigin: http://127.0.0.1:8000"
	    "\r\n\r\n", one, 1, &d), "Access-Control-Allow-Origin: "
	    "http://127.0.0.1:8000\r\nVary: Origin\r\n") == 0,
	    "allowed origin echoed with Vary");
	evt_buf_free(&d);
	T_OK(strstr(cors_for("OPTIONS /x HTTP/1.1\r\nOrigin: http://127.0.0.1"
	    ":8000\r\nAccess-Control-Request-Headers: authorization\r\n\r\n",
	    one, 1, &d), "Access-Control-Allow-Headers: authorization\r\n"
	    "Access-Control-Max-Age: 600\r\n") != NULL, "preflight extras");
	evt_buf_free(&d);
	T_OK(strstr(cors_for("OPTIONS /x HTTP/1.1\r\nOrigin: http://127.0.0.1"
	    ":8000\r\nAccess-Control-Request-Headers: a;b\r\n\r\n", one, 1,
	    &d), "Allow-Headers: Authorization, Content-Type") != NULL,
	    "odd requested headers not echoed");
	evt_buf_free(&d);
	T_OK(*cors_for("GET /x HTTP/1.1\r\nOrigin: http://127.0.0.1:8001\r\n"
	    "\r\n", one, 1, &d) == '\0', "other origin: nothing");
	evt_buf_free(&d);
	T_OK(*cors_for("GET /x HTTP/1.1\r\n\r\n", star, 1, &d) == '\0',
	    "no Origin: nothing");
	evt_buf_free(&d);
	T_OK(strcmp(cors_for("GET /x HTTP/1.1\r\nOrigin: https://a.b\r\n"
	    "\r\n", star, 1, &d), "Access-Control-Allow-Origin: *\r\n"
	    "Vary: Origin\r\n") == 0, "* answers *");
	evt_buf_free(&d);
	T_OK(*cors_for("GET /x HTTP/1.1\r\nOrigin: http://a, http://b\r\n"
	    "\r\n", star, 1, &d) == '\0', "a list is not an origin");
	evt_buf_free(&d);
	T_OK(evt_http_cors_origin_ok("*") && evt_http_cors_origin_ok(
	    "https://x.example:8443") && !evt_http_cors_origin_ok("") &&
	    !evt_http_cors_origin_ok("http://x/") &&
	    !evt_http_cors_origin_ok("x") && !evt_http_cors_origin_ok(
	    "HTTP://x") && !evt_http_cors_origin_ok("http://"),
	    "--cors value check");
}

int
main(void)
{
	test_requests();
	test_pipeline();
	test_bounds();
	test_upgrade();
	test_responses();
	test_forms();
	test_routes();
	test_token_json();
	test_client();
	test_plain_responses();
	test_cors();
	T_DONE();
}
