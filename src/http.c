/*
 * http.c: sans-I/O HTTP/1.1 for the gateway server and the recorder's
 * WebSocket handshake (interface and contracts in include/evtape/http.h).
 *
 * The message parser wraps Debian's http-parser 2.9.  Three things make its
 * result independent of how the input is split, which fuzz_http checks:
 *
 *   1. The parser is paused in on_message_complete, so every call stops at
 *      the end of exactly one message and pipelined bytes stay with the
 *      caller.
 *   2. The head bound is enforced on raw bytes: while the headers are not
 *      complete we hand http-parser at most the remaining budget, so a
 *      malformed byte inside the budget is always seen (400) before the
 *      budget runs out (431), whatever the split.
 *   3. The body bound is checked where http-parser has validated the bytes
 *      before it: Content-Length at headers-complete, chunk sizes at each
 *      chunk header; only a body running until EOF is counted as it arrives.
 *
 * Trailers of chunked bodies are parsed (http-parser bounds them at 80 KiB)
 * but dropped: no client or server of this project sends them.
 *
 * Callback data arrives in pieces; names, values and the target are appended
 * to one arena, as offsets (the arena may move), and turned into pointers
 * when the message completes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "evtape/err.h"
#include "evtape/http.h"
#include "evtape/json.h"

/* Offsets of one header in the arena. */
struct hdr_off {
	size_t name, name_len, val, val_len;
};

enum pstate {
	ST_RUN = 0,   /* reading a message */
	ST_MSG,	      /* a message was returned; reset on the next call */
	ST_UPGRADED,  /* an upgrade message was returned: nothing more */
	ST_CLOSED,    /* a non-keep-alive message was returned */
	ST_ERROR,     /* sticky error */
};

struct evt_http_parser {
	http_parser hp;
	http_parser_settings cb;
	enum evt_http_type type;
	size_t max_head, max_body;
	enum pstate st;
	int err, status;	 /* sticky error and its HTTP status */
	int cb_err, cb_status;	 /* set by a callback that returned -1 */
	int in_head;		 /* headers not complete yet */
	size_t head_used;	 /* raw bytes fed while in_head */
	int last;		 /* 0 none, 1 field, 2 value: last callback */
	size_t target_off, target_len;
	struct evt_buf arena;	 /* target, then names and values, NULs */
	struct evt_buf body;
	struct hdr_off *ho;
	size_t nho, cap_ho;
	struct evt_http_header *hdrs;
	size_t cap_hdrs;
	int keep_alive;
	int have_msg; /* msg holds a message returned by the last call */
	struct evt_http_msg msg;
};

/* Lower-cases an ASCII byte. */
static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Compares a[0..n) and b[0..n) ASCII case-insensitively; 1 if equal. */
static int
eq_nocase(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

/* Tells whether c is optional whitespace (SP or HTAB). */
static int
ows(int c)
{
	return c == ' ' || c == '\t';
}

/* Appends a NUL-terminated string; returns 0 or EVT_ERR_NOMEM. */
static int
put_s(struct evt_buf *b, const char *s)
{
	return evt_buf_put(b, s, strlen(s)) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* ------------------------------------------------------------------ */
/* The message parser                                                  */
/* ------------------------------------------------------------------ */

/* Records a callback failure and returns http-parser's "stop" value. */
static int
cb_fail(struct evt_http_parser *p, int err, int status)
{
	p->cb_err = err;
	p->cb_status = status;
	return -1;
}

/* Ends the current header value: trims trailing blanks, adds the NUL. */
static int
end_value(struct evt_http_parser *p)
{
	struct hdr_off *h = &p->ho[p->nho - 1];

	while (h->val_len > 0 && ows(p->arena.p[h->val + h->val_len - 1]))
		h->val_len--;
	p->arena.len = h->val + h->val_len;
	return evt_buf_putc(&p->arena, 0) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Appends to the request-target. */
static int
on_url(http_parser *hp, const char *at, size_t len)
{
	struct evt_http_parser *p = hp->data;

	if (evt_buf_put(&p->arena, at, len) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	p->target_len += len;
	return 0;
}

/* Appends to a header name, starting a new header after a value. */
static int
on_header_field(http_parser *hp, const char *at, size_t len)
{
	struct evt_http_parser *p = hp->data;

	if (!p->in_head)
		return 0; /* chunked trailers are dropped: nobody here uses them */
	if (p->last != 1) {
		if (p->last == 2 && end_value(p) != 0)
			return cb_fail(p, EVT_ERR_NOMEM, 500);
		if (p->last == 0 && evt_buf_putc(&p->arena, 0) != 0)
			return cb_fail(p, EVT_ERR_NOMEM, 500); /* ends target */
		if (p->nho == p->cap_ho) {
			size_t nc = p->cap_ho ? 2 * p->cap_ho : 16;
			struct hdr_off *n = realloc(p->ho, nc * sizeof *n);

			if (n == NULL)
				return cb_fail(p, EVT_ERR_NOMEM, 500);
			p->ho = n;
			p->cap_ho = nc;
		}
		memset(&p->ho[p->nho], 0, sizeof p->ho[0]);
		p->ho[p->nho++].name = p->arena.len;
		p->last = 1;
	}
	if (evt_buf_put(&p->arena, at, len) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	p->ho[p->nho - 1].name_len += len;
	return 0;
}

/* Appends to a header value (leading blanks dropped). */
static int
on_header_value(http_parser *hp, const char *at, size_t len)
{
	struct evt_http_parser *p = hp->data;
	struct hdr_off *h;

	if (!p->in_head)
		return 0; /* a trailer */
	if (p->last != 2) {
		if (evt_buf_putc(&p->arena, 0) != 0)
			return cb_fail(p, EVT_ERR_NOMEM, 500);
		p->ho[p->nho - 1].val = p->arena.len;
		p->last = 2;
	}
	h = &p->ho[p->nho - 1];
	if (h->val_len == 0) {
		while (len > 0 && ows((unsigned char)*at)) {
			at++;
			len--;
		}
	}
	if (evt_buf_put(&p->arena, at, len) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	h->val_len += len;
	return 0;
}

/* Ends the head: closes the last header, checks Content-Length. */
static int
on_headers_complete(http_parser *hp)
{
	struct evt_http_parser *p = hp->data;

	if (p->last == 2 && end_value(p) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	if (p->last == 0 && evt_buf_putc(&p->arena, 0) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	p->last = 3;
	p->in_head = 0;
	p->keep_alive = http_should_keep_alive(hp);
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body)
		return cb_fail(p, EVT_ERR_TOOBIG, 413);
	return 0;
}

/* Checks a chunk's announced size against the body bound. */
static int
on_chunk_header(http_parser *hp)
{
	struct evt_http_parser *p = hp->data;

	if (hp->content_length > p->max_body - p->body.len)
		return cb_fail(p, EVT_ERR_TOOBIG, 413);
	return 0;
}

/* Appends body bytes (bounded: see the top of the file). */
static int
on_body(http_parser *hp, const char *at, size_t len)
{
	struct evt_http_parser *p = hp->data;

	if (len > p->max_body - p->body.len)
		return cb_fail(p, EVT_ERR_TOOBIG, 413);
	if (evt_buf_put(&p->body, at, len) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	return 0;
}

/* Builds the message from the arena offsets and pauses http-parser. */
static int
on_message_complete(http_parser *hp)
{
	struct evt_http_parser *p = hp->data;
	struct evt_http_msg *m = &p->msg;
	const char *a, *t;
	size_t k;

	if (p->last == 0 && evt_buf_putc(&p->arena, 0) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	if (evt_buf_putc(&p->body, 0) != 0)
		return cb_fail(p, EVT_ERR_NOMEM, 500);
	p->body.len--;
	if (p->nho > p->cap_hdrs) {
		struct evt_http_header *n = realloc(p->hdrs, p->nho * sizeof *n);

		if (n == NULL)
			return cb_fail(p, EVT_ERR_NOMEM, 500);
		p->hdrs = n;
		p->cap_hdrs = p->nho;
	}
	a = (const char *)p->arena.p;
	for (k = 0; k < p->nho; k++) {
		p->hdrs[k].name = a + p->ho[k].name;
		p->hdrs[k].name_len = p->ho[k].name_len;
		p->hdrs[k].value = a + p->ho[k].val;
		p->hdrs[k].value_len = p->ho[k].val_len;
	}
	memset(m, 0, sizeof *m);
	m->is_request = p->type == EVT_HTTP_REQUEST;
	m->http_major = hp->http_major;
	m->http_minor = hp->http_minor;
	m->headers = p->hdrs;
	m->nheaders = p->nho;
	m->body = p->body.p;
	m->body_len = p->body.len;
	m->keep_alive = p->keep_alive;
	m->upgrade = hp->upgrade;
	if (m->is_request) {
		m->method = (int)hp->method;
		m->method_name = http_method_str((enum http_method)hp->method);
		t = a + p->target_off;
		m->target = t;
		m->target_len = p->target_len;
		for (k = 0; k < p->target_len && t[k] != '?' && t[k] != '#'; k++)
			;
		m->path = t;
		m->path_len = k;
		if (k < p->target_len && t[k] == '?') {
			m->query = t + k + 1;
			for (k++; k < p->target_len && t[k] != '#'; k++)
				;
			m->query_len = (size_t)(t + k - m->query);
		}
	} else {
		m->status = (int)hp->status_code;
	}
	p->have_msg = 1;
	http_parser_pause(hp, 1);
	return 0;
}

/* Empties the per-message state for the next message. */
static void
reset_msg(struct evt_http_parser *p)
{
	p->arena.len = 0;
	p->body.len = 0;
	p->nho = 0;
	p->last = 0;
	p->target_off = 0;
	p->target_len = 0;
	p->in_head = 1;
	p->head_used = 0;
	p->keep_alive = 0;
	p->have_msg = 0;
	memset(&p->msg, 0, sizeof p->msg);
}

/* Creates a parser (see http.h). */
struct evt_http_parser *
evt_http_parser_new(enum evt_http_type type, size_t max_head, size_t max_body)
{
	struct evt_http_parser *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->type = type;
	p->max_head = max_head ? max_head : EVT_HTTP_MAX_HEAD;
	p->max_body = max_body ? max_body : EVT_HTTP_MAX_BODY;
	http_parser_init(&p->hp, type == EVT_HTTP_REQUEST ? HTTP_REQUEST :
	    HTTP_RESPONSE);
	p->hp.data = p;
	http_parser_settings_init(&p->cb);
	p->cb.on_url = on_url;
	p->cb.on_header_field = on_header_field;
	p->cb.on_header_value = on_header_value;
	p->cb.on_headers_complete = on_headers_complete;
	p->cb.on_chunk_header = on_chunk_header;
	p->cb.on_body = on_body;
	p->cb.on_message_complete = on_message_complete;
	reset_msg(p);
	return p;
}

/* Frees a parser (see http.h). */
void
evt_http_parser_free(struct evt_http_parser *p)
{
	if (p == NULL)
		return;
	/* Heads and bodies may hold tokens and passwords. */
	if (p->arena.p != NULL)
		OPENSSL_cleanse(p->arena.p, p->arena.cap);
	if (p->body.p != NULL)
		OPENSSL_cleanse(p->body.p, p->body.cap);
	evt_buf_free(&p->arena);
	evt_buf_free(&p->body);
	free(p->ho);
	free(p->hdrs);
	free(p);
}

/* Makes an error sticky and returns it. */
static int
set_error(struct evt_http_parser *p, int err, int status)
{
	p->st = ST_ERROR;
	p->err = err;
	p->status = status;
	return err;
}

/* Maps the state after http_parser_execute() to a result. */
static int
after_execute(struct evt_http_parser *p)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);

	if (e == HPE_PAUSED) {
		if (p->msg.upgrade)
			p->st = ST_UPGRADED;
		else if (!p->msg.keep_alive)
			p->st = ST_CLOSED;
		else
			p->st = ST_MSG;
		return 1;
	}
	if (e == HPE_OK)
		return 0;
	if (p->cb_err != 0)
		return set_error(p, p->cb_err, p->cb_status);
	if (e == HPE_HEADER_OVERFLOW)
		return set_error(p, EVT_ERR_TOOBIG, 431);
	return set_error(p, EVT_ERR_ARG, 400);
}

/* Feeds bytes up to the end of one message (see http.h). */
int
evt_http_parser_feed(struct evt_http_parser *p, const void *data, size_t len,
    size_t *consumed)
{
	const char *d = data;
	size_t off = 0, n, got;
	int rc, was_head;

	*consumed = 0;
	switch (p->st) {
	case ST_ERROR:
		return p->err;
	case ST_UPGRADED:
	case ST_CLOSED:
		return EVT_ERR_STATE;
	case ST_MSG:
		reset_msg(p);
		http_parser_pause(&p->hp, 0);
		p->st = ST_RUN;
		break;
	case ST_RUN:
		break;
	}
	while (off < len) {
		n = len - off;
		was_head = p->in_head;
		if (was_head && n > p->max_head - p->head_used)
			n = p->max_head - p->head_used;
		got = http_parser_execute(&p->hp, &p->cb, d + off, n);
		off += got;
		*consumed = off;
		rc = after_execute(p);
		if (rc != 0)
			return rc;
		if (was_head && p->in_head) {
			p->head_used += got;
			if (p->head_used >= p->max_head)
				return set_error(p, EVT_ERR_TOOBIG, 431);
		}
	}
	return 0;
}

/* Signals EOF (see http.h). */
int
evt_http_parser_finish(struct evt_http_parser *p)
{
	int rc;

	switch (p->st) {
	case ST_ERROR:
		return p->err;
	case ST_UPGRADED:
	case ST_CLOSED:
		return 0;
	case ST_MSG:
		reset_msg(p);
		http_parser_pause(&p->hp, 0);
		p->st = ST_RUN;
		break;
	case ST_RUN:
		break;
	}
	http_parser_execute(&p->hp, &p->cb, NULL, 0);
	rc = after_execute(p);
	if (rc == EVT_ERR_ARG && HTTP_PARSER_ERRNO(&p->hp) ==
	    HPE_INVALID_EOF_STATE) {
		p->err = EVT_ERR_TRUNCATED;
		return EVT_ERR_TRUNCATED;
	}
	if (rc == 1)
		p->st = ST_CLOSED; /* nothing can follow EOF */
	return rc;
}

/* Returns the last message (see http.h). */
const struct evt_http_msg *
evt_http_parser_msg(const struct evt_http_parser *p)
{
	return p->have_msg ? &p->msg : NULL;
}

/* Returns the status to answer after an error (see http.h). */
int
evt_http_parser_status(const struct evt_http_parser *p)
{
	return p->st == ST_ERROR ? p->status : 0;
}

/* ------------------------------------------------------------------ */
/* Header helpers                                                      */
/* ------------------------------------------------------------------ */

/* Finds a header by name (see http.h). */
const char *
evt_http_header(const struct evt_http_msg *msg, const char *name, size_t *len)
{
	size_t k, nl = strlen(name);

	for (k = 0; k < msg->nheaders; k++) {
		const struct evt_http_header *h = &msg->headers[k];

		if (h->name_len == nl && eq_nocase(h->name, name, nl)) {
			if (len != NULL)
				*len = h->value_len;
			return h->value;
		}
	}
	return NULL;
}

/* Tells whether a comma-separated list v[0..n) holds token. */
static int
list_has(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0, s, e;

	while (i < n) {
		while (i < n && (ows(v[i]) || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && ows(v[e - 1]))
			e--;
		if (e - s == tl && eq_nocase(v + s, token, tl))
			return 1;
	}
	return 0;
}

/* Looks for a token in every header of that name (see http.h). */
int
evt_http_header_has_token(const struct evt_http_msg *msg, const char *name,
    const char *token)
{
	size_t k, nl = strlen(name);

	for (k = 0; k < msg->nheaders; k++) {
		const struct evt_http_header *h = &msg->headers[k];

		if (h->name_len == nl && eq_nocase(h->name, name, nl) &&
		    list_has(h->value, h->value_len, token))
			return 1;
	}
	return 0;
}

/* Extracts a Bearer token (see http.h). */
int
evt_http_bearer(const struct evt_http_msg *msg, const char **tok, size_t *len)
{
	size_t n, i;
	const char *v = evt_http_header(msg, "Authorization", &n);

	if (v == NULL)
		return 0;
	if (n < 7 || !eq_nocase(v, "bearer", 6) || !ows(v[6]))
		return EVT_ERR_ARG;
	for (i = 7; i < n && ows(v[i]); i++)
		;
	if (i == n)
		return EVT_ERR_ARG;
	*tok = v + i;
	*len = n - i;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Responses                                                           */
/* ------------------------------------------------------------------ */

/* Returns the reason phrase (see http.h). */
const char *
evt_http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

/*
 * Tells whether extra is NULL or a run of "Name: value\r\n" lines: every
 * line non-empty, with a ':' after a non-empty name, no bare CR or LF.
 */
static int
extra_ok(const char *extra)
{
	const char *s = extra, *c;

	if (extra == NULL)
		return 1;
	while (*s != '\0') {
		const char *e = strstr(s, "\r\n");

		if (e == NULL || e == s)
			return 0;
		c = memchr(s, ':', (size_t)(e - s));
		if (c == NULL || c == s)
			return 0;
		for (c = s; c < e; c++) {
			if (*c == '\r' || *c == '\n')
				return 0;
		}
		s = e + 2;
	}
	return 1;
}

/* Builds a response (see http.h). */
int
evt_http_response(struct evt_buf *out, int status, const char *content_type,
    const char *extra, const void *body, size_t body_len, int keep_alive)
{
	size_t old = out->len;
	int rc = 0, no_len = status / 100 == 1 || status == 204 ||
	    status == 304;

	if (status < 100 || status > 999 || !extra_ok(extra) ||
	    (content_type != NULL && strpbrk(content_type, "\r\n") != NULL) ||
	    (no_len && body_len > 0))
		return EVT_ERR_ARG;
	rc |= put_s(out, "HTTP/1.1 ");
	rc |= evt_json_put_int(out, 0, (unsigned)status);
	rc |= put_s(out, " ");
	rc |= put_s(out, evt_http_reason(status));
	rc |= put_s(out, "\r\n");
	if (content_type != NULL) {
		rc |= put_s(out, "Content-Type: ");
		rc |= put_s(out, content_type);
		rc |= put_s(out, "\r\n");
	}
	if (!no_len) {
		rc |= put_s(out, "Content-Length: ");
		rc |= evt_json_put_int(out, 0, body_len);
		rc |= put_s(out, "\r\n");
	}
	if (status != 101)
		rc |= put_s(out, keep_alive ? "Connection: keep-alive\r\n" :
		    "Connection: close\r\n");
	if (extra != NULL)
		rc |= put_s(out, extra);
	rc |= put_s(out, "\r\n");
	if (body_len > 0 && evt_buf_put(out, body, body_len) != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Builds a JSON error body (see http.h). */
int
evt_http_json_error_body(struct evt_buf *out, const char *error,
    const char *description)
{
	size_t old = out->len;
	int rc = 0;

	rc |= put_s(out, "{\"error\":");
	rc |= evt_json_put_string(out, error, strlen(error));
	if (description != NULL) {
		rc |= put_s(out, ",\"error_description\":");
		rc |= evt_json_put_string(out, description, strlen(description));
	}
	rc |= put_s(out, "}");
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Builds a JSON error response (see http.h). */
int
evt_http_json_error(struct evt_buf *out, int status, const char *error,
    const char *description, const char *extra, int keep_alive)
{
	struct evt_buf body = {0};
	int rc;

	rc = evt_http_json_error_body(&body, error, description);
	if (rc == 0)
		rc = evt_http_response(out, status, "application/json", extra,
		    body.p, body.len, keep_alive);
	evt_buf_free(&body);
	return rc;
}

/* Builds the token success body (see http.h). */
int
evt_http_token_json(struct evt_buf *out, const char *token, size_t len,
    uint32_t expires_in, const char *scope)
{
	size_t old = out->len;
	int rc = 0;

	if (scope == NULL)
		scope = "managementserver";
	rc |= put_s(out, "{\"access_token\":");
	rc |= evt_json_put_string(out, token, len);
	rc |= put_s(out, ",\"expires_in\":");
	rc |= evt_json_put_int(out, 0, expires_in);
	rc |= put_s(out, ",\"token_type\":\"Bearer\",\"scope\":");
	rc |= evt_json_put_string(out, scope, strlen(scope));
	rc |= put_s(out, "}");
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Parses the token success body (see http.h). */
int
evt_http_token_parse(const char *body, size_t len, struct evt_http_token *tok)
{
	struct evt_jparser jp;
	const struct evt_jtok *t, *k, *v;
	uint32_t i, j;
	int rc, neg, n;
	uint64_t mag;
	char key[16];

	memset(tok, 0, sizeof *tok);
	tok->expires_in = -1;
	evt_json_init(&jp, 8);
	rc = evt_json_parse(&jp, body, len);
	if (rc < 0)
		goto out;
	t = jp.tok;
	rc = EVT_ERR_JSON;
	if (t[0].type != EVT_J_OBJECT)
		goto out;
	for (i = 0, j = 1; i < t[0].size; i++) {
		k = &t[j];
		v = &t[k->next];
		j = v->next;
		if (k->len >= sizeof key || (k->flags & EVT_JF_ESCAPED))
			continue;
		memcpy(key, body + k->off, k->len);
		key[k->len] = '\0';
		if (strcmp(key, "access_token") == 0 && tok->access_token ==
		    NULL) {
			if (v->type != EVT_J_STRING)
				goto out;
			tok->access_token = malloc((size_t)v->len + 1);
			if (tok->access_token == NULL) {
				rc = EVT_ERR_NOMEM;
				goto out;
			}
			n = evt_json_unescape(body + v->off, v->len,
			    tok->access_token);
			if (n < 0)
				goto out;
			tok->access_token[n] = '\0';
			tok->len = (size_t)n;
		} else if (strcmp(key, "expires_in") == 0) {
			if (v->type != EVT_J_NUMBER || !evt_json_int(body +
			    v->off, v->len, &neg, &mag) || neg ||
			    mag > INT64_MAX)
				goto out;
			tok->expires_in = (int64_t)mag;
		} else if (strcmp(key, "token_type") == 0) {
			tok->bearer = v->type == EVT_J_STRING && v->len == 6 &&
			    eq_nocase(body + v->off, "bearer", 6);
		}
	}
	if (tok->access_token != NULL)
		rc = 0;
out:
	evt_json_free(&jp);
	if (rc != 0)
		evt_http_token_free(tok);
	return rc;
}

/* Wipes and frees a token (see http.h). */
void
evt_http_token_free(struct evt_http_token *tok)
{
	if (tok == NULL)
		return;
	if (tok->access_token != NULL) {
		OPENSSL_cleanse(tok->access_token, tok->len + 1);
		free(tok->access_token);
	}
	memset(tok, 0, sizeof *tok);
}

/* Wipes memory (see http.h). */
void
evt_http_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/* ------------------------------------------------------------------ */
/* Forms                                                               */
/* ------------------------------------------------------------------ */

/* Returns the value of a hex digit, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lc(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes s[0..n) into o; returns the length or EVT_ERR_ARG. */
static long
form_decode(const char *s, size_t n, char *o)
{
	size_t i, w = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			o[w++] = ' ';
		} else if (s[i] == '%') {
			if (n - i < 3)
				return EVT_ERR_ARG;
			h = hexval((unsigned char)s[i + 1]);
			l = hexval((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return EVT_ERR_ARG;
			o[w++] = (char)(h * 16 + l);
			i += 2;
		} else {
			o[w++] = s[i];
		}
	}
	return (long)w;
}

/* Decodes a form (see http.h). */
int
evt_http_form_parse(struct evt_http_form *form, const char *s, size_t len)
{
	size_t i = 0, e, eq, w = 0;
	long kl, vl;
	char *o;

	memset(form, 0, sizeof *form);
	if (len > EVT_HTTP_MAX_BODY)
		return EVT_ERR_TOOBIG;
	/* Decoded text is never longer; plus two NULs per field. */
	form->buf = malloc(len + 2 * EVT_HTTP_FORM_MAX_FIELDS + 1);
	if (form->buf == NULL)
		return EVT_ERR_NOMEM;
	form->buf_len = len + 2 * EVT_HTTP_FORM_MAX_FIELDS + 1;
	while (i <= len) {
		for (e = i; e < len && s[e] != '&'; e++)
			;
		for (eq = i; eq < e && s[eq] != '='; eq++)
			;
		if (eq > i) { /* skips empty pairs and empty keys */
			if (form->n == EVT_HTTP_FORM_MAX_FIELDS) {
				evt_http_form_free(form);
				return EVT_ERR_TOOBIG;
			}
			o = form->buf + w;
			kl = form_decode(s + i, eq - i, o);
			if (kl < 0)
				goto bad;
			o[kl] = '\0';
			form->f[form->n].key = o;
			form->f[form->n].key_len = (size_t)kl;
			w += (size_t)kl + 1;
			o = form->buf + w;
			vl = eq < e ? form_decode(s + eq + 1, e - eq - 1, o) : 0;
			if (vl < 0)
				goto bad;
			o[vl] = '\0';
			form->f[form->n].val = o;
			form->f[form->n].val_len = (size_t)vl;
			w += (size_t)vl + 1;
			form->n++;
		}
		i = e + 1;
	}
	return 0;
bad:
	evt_http_form_free(form);
	return EVT_ERR_ARG;
}

/* Looks up a form field (see http.h). */
const char *
evt_http_form_get(const struct evt_http_form *form, const char *key,
    size_t *len)
{
	size_t k, kl = strlen(key);

	for (k = 0; k < form->n; k++) {
		if (form->f[k].key_len == kl &&
		    memcmp(form->f[k].key, key, kl) == 0) {
			if (len != NULL)
				*len = form->f[k].val_len;
			return form->f[k].val;
		}
	}
	return NULL;
}

/* Wipes and frees a form (see http.h). */
void
evt_http_form_free(struct evt_http_form *form)
{
	if (form->buf != NULL) {
		OPENSSL_cleanse(form->buf, form->buf_len);
		free(form->buf);
	}
	memset(form, 0, sizeof *form);
}

/* Appends s[0..n) form-encoded; returns 0 or EVT_ERR_NOMEM. */
static int
form_encode(struct evt_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	unsigned char c;

	if (evt_buf_grow(out, 3 * n) != 0)
		return EVT_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			out->p[out->len++] = c;
		} else if (c == ' ') {
			out->p[out->len++] = '+';
		} else {
			out->p[out->len++] = '%';
			out->p[out->len++] = (uint8_t)hex[c >> 4];
			out->p[out->len++] = (uint8_t)hex[c & 15];
		}
	}
	return 0;
}

/* Appends one form field (see http.h). */
int
evt_http_form_add(struct evt_buf *out, const char *key, const char *val,
    size_t val_len)
{
	size_t old = out->len;
	int rc = 0;

	if (out->len > 0)
		rc |= evt_buf_putc(out, '&') == 0 ? 0 : EVT_ERR_NOMEM;
	rc |= form_encode(out, key, strlen(key));
	rc |= evt_buf_putc(out, '=') == 0 ? 0 : EVT_ERR_NOMEM;
	rc |= form_encode(out, val, val_len);
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Routes                                                              */
/* ------------------------------------------------------------------ */

/* Matches a target's path against a route (see http.h). */
int
evt_http_path_match(const char *target, size_t len, const char *route,
    int flags)
{
	size_t n, rl = strlen(route);

	for (n = 0; n < len && target[n] != '?' && target[n] != '#'; n++)
		;
	if ((flags & EVT_HTTP_SLASH_OPT) && n == rl + 1 && target[rl] == '/')
		n = rl;
	if (n != rl)
		return 0;
	if (flags & EVT_HTTP_NOCASE)
		return eq_nocase(target, route, rl);
	return memcmp(target, route, rl) == 0;
}

/* Matches the IDP token endpoint (see http.h). */
int
evt_http_route_token(const char *target, size_t len)
{
	return evt_http_path_match(target, len, "/api/idp/connect/token",
	    EVT_HTTP_NOCASE) || evt_http_path_match(target, len,
	    "/idp/connect/token", EVT_HTTP_NOCASE);
}

/* Matches the events WebSocket endpoint (see http.h). */
int
evt_http_route_ws(const char *target, size_t len)
{
	return evt_http_path_match(target, len, EVT_HTTP_WS_PATH,
	    EVT_HTTP_SLASH_OPT);
}

/* ------------------------------------------------------------------ */
/* WebSocket handshake                                                 */
/* ------------------------------------------------------------------ */

/* Computes Sec-WebSocket-Accept (see http.h). */
int
evt_http_ws_accept_key(const char *key, size_t len, char *out)
{
	static const size_t gl = sizeof EVT_HTTP_WS_GUID - 1;
	char cat[256 + sizeof EVT_HTTP_WS_GUID];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (len > 256)
		return EVT_ERR_TOOBIG;
	memcpy(cat, key, len);
	memcpy(cat + len, EVT_HTTP_WS_GUID, gl);
	if (EVP_Digest(cat, len + gl, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return EVT_ERR_NOMEM;
	EVP_EncodeBlock((unsigned char *)out, md, 20);
	return 0;
}

/* Tells whether c is in the base64 alphabet (without '='). */
static int
b64c(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Tells whether k[0..n) is base64 of exactly 16 bytes. */
static int
key_ok(const char *k, size_t n)
{
	size_t i;

	if (n != 24 || k[22] != '=' || k[23] != '=')
		return 0;
	for (i = 0; i < 22; i++) {
		if (!b64c((unsigned char)k[i]))
			return 0;
	}
	return 1;
}

/* Validates an upgrade request (see http.h). */
int
evt_http_ws_check_request(const struct evt_http_msg *req, char *accept,
    int *status)
{
	const char *v;
	size_t n;

	*status = 400;
	if (!req->is_request || req->method != HTTP_GET ||
	    req->http_major != 1 || req->http_minor < 1)
		return EVT_ERR_ARG;
	v = evt_http_header(req, "Upgrade", &n);
	if (v == NULL || !list_has(v, n, "websocket"))
		return EVT_ERR_ARG;
	if (!evt_http_header_has_token(req, "Connection", "upgrade"))
		return EVT_ERR_ARG;
	v = evt_http_header(req, "Sec-WebSocket-Version", &n);
	if (v == NULL || n != 2 || memcmp(v, "13", 2) != 0) {
		*status = 426;
		return EVT_ERR_ARG;
	}
	v = evt_http_header(req, "Sec-WebSocket-Key", &n);
	if (v == NULL || !key_ok(v, n))
		return EVT_ERR_ARG;
	if (evt_http_ws_accept_key(v, n, accept) != 0) {
		*status = 500;
		return EVT_ERR_NOMEM;
	}
	*status = 101;
	return 0;
}

/* Builds the 101 answer (see http.h). */
int
evt_http_ws_accept(struct evt_buf *out, const char *accept, const char *extra)
{
	struct evt_buf h = {0};
	int rc = 0;

	if (strlen(accept) != EVT_HTTP_WS_ACCEPT_SIZE - 1 || !extra_ok(extra))
		return EVT_ERR_ARG;
	rc |= put_s(&h, "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: ");
	rc |= put_s(&h, accept);
	rc |= put_s(&h, "\r\n");
	if (extra != NULL)
		rc |= put_s(&h, extra);
	rc |= evt_buf_putc(&h, 0) == 0 ? 0 : EVT_ERR_NOMEM;
	if (rc == 0)
		rc = evt_http_response(out, 101, NULL, (const char *)h.p, NULL,
		    0, 1);
	evt_buf_free(&h);
	return rc;
}

/* Builds the answer to a failed upgrade (see http.h). */
int
evt_http_ws_reject(struct evt_buf *out, int status)
{
	const char *extra = NULL, *err = "bad_request";

	if (status == 426) {
		extra = "Sec-WebSocket-Version: 13\r\n";
		err = "unsupported_websocket_version";
	} else if (status == 401) {
		extra = "WWW-Authenticate: Bearer\r\n";
		err = "unauthorized";
	} else if (status == 404) {
		err = "not_found";
	} else if (status >= 500) {
		err = "server_error";
	}
	return evt_http_json_error(out, status, err, NULL, extra, 0);
}

/* Tells whether s contains a byte that may not appear in a request line or
 * header value we write. */
static int
bad_text(const char *s, int space_ok)
{
	for (; *s != '\0'; s++) {
		if (*s == '\r' || *s == '\n' || (!space_ok && *s == ' '))
			return 1;
	}
	return 0;
}

/* Builds a client upgrade request (see http.h). */
int
evt_http_ws_request(struct evt_buf *out, const char *host, const char *path,
    const uint8_t nonce[16], const char *bearer, const char *extra,
    char *key_out)
{
	size_t old = out->len;
	int rc = 0;

	if (path[0] != '/' || bad_text(path, 0) || bad_text(host, 0) ||
	    host[0] == '\0' || (bearer != NULL && (bad_text(bearer, 0) ||
	    bearer[0] == '\0')) || !extra_ok(extra))
		return EVT_ERR_ARG;
	EVP_EncodeBlock((unsigned char *)key_out, nonce, 16);
	rc |= put_s(out, "GET ");
	rc |= put_s(out, path);
	rc |= put_s(out, " HTTP/1.1\r\nHost: ");
	rc |= put_s(out, host);
	rc |= put_s(out, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: ");
	rc |= put_s(out, key_out);
	rc |= put_s(out, "\r\nSec-WebSocket-Version: 13\r\n");
	if (bearer != NULL) {
		rc |= put_s(out, "Authorization: Bearer ");
		rc |= put_s(out, bearer);
		rc |= put_s(out, "\r\n");
	}
	if (extra != NULL)
		rc |= put_s(out, extra);
	rc |= put_s(out, "\r\n");
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Checks the server's answer to our upgrade (see http.h). */
int
evt_http_ws_check_response(const struct evt_http_msg *resp, const char *key,
    const char **why)
{
	char want[EVT_HTTP_WS_ACCEPT_SIZE];
	const char *v, *w = "ok";
	size_t n;
	int rc = EVT_ERR_ARG;

	if (resp->is_request) {
		w = "not a response";
	} else if (resp->status != 101) {
		w = evt_http_status_why(resp->status);
		rc = EVT_ERR_NOTFOUND;
	} else if ((v = evt_http_header(resp, "Upgrade", &n)) == NULL ||
	    !list_has(v, n, "websocket")) {
		w = "101 without Upgrade: websocket";
	} else if (!evt_http_header_has_token(resp, "Connection", "upgrade")) {
		w = "101 without Connection: upgrade";
	} else if (evt_http_header(resp, "Sec-WebSocket-Protocol", NULL) !=
	    NULL) {
		w = "server chose a subprotocol we did not ask for";
	} else if (evt_http_ws_accept_key(key, strlen(key), want) != 0) {
		w = "cannot compute the accept value";
		rc = EVT_ERR_NOMEM;
	} else if ((v = evt_http_header(resp, "Sec-WebSocket-Accept", &n)) ==
	    NULL || n != EVT_HTTP_WS_ACCEPT_SIZE - 1 ||
	    memcmp(v, want, n) != 0) {
		w = "wrong Sec-WebSocket-Accept";
	} else {
		rc = 0;
	}
	if (why != NULL)
		*why = w;
	return rc;
}

/* Explains a failed upgrade status (see http.h). */
const char *
evt_http_status_why(int status)
{
	switch (status) {
	case 101: return "switching protocols";
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not found";
	case 426: return "websocket version not supported";
	case 503: return "service unavailable";
	}
	if (status >= 200 && status < 300)
		return "server did not upgrade";
	if (status >= 300 && status < 400)
		return "redirect";
	if (status >= 500 && status < 600)
		return "server error";
	return "unexpected status";
}

/* ------------------------------------------------------------------ */
/* CORS (docs/ess-protocol.md 8.1 item 11)                                     */
/* ------------------------------------------------------------------ */

/* Tells whether s[0..n) is a plain origin: "scheme://host[:port]" in
 * visible ASCII, no path, no user info. */
static int
origin_shape(const char *s, size_t n)
{
	const char *p = memchr(s, ':', n);
	size_t i;

	if (n == 0 || n > 255 || p == NULL || p == s ||
	    (size_t)(p - s) + 3 >= n || p[1] != '/' || p[2] != '/')
		return 0;
	for (i = 0; i < (size_t)(p - s); i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' &&
		    s[i] <= '9' && i > 0) || s[i] == '+' || s[i] == '-' ||
		    s[i] == '.'))
			return 0;
	for (i = (size_t)(p - s) + 3; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == '/' ||
		    s[i] == '@' || s[i] == ',' || s[i] == '?' || s[i] == '#')
			return 0;
	return 1;
}

/* Checks a --cors setting (see http.h). */
int
evt_http_cors_origin_ok(const char *s)
{
	return s != NULL && (strcmp(s, "*") == 0 ||
	    origin_shape(s, strlen(s)));
}

/* Tells whether v[0..n) is a comma-separated list of header names, so
 * that it may be echoed in Access-Control-Allow-Headers. */
static int
header_list_ok(const char *v, size_t n)
{
	if (n == 0 || n > 512)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		    (v[i] >= 'A' && v[i] <= 'Z') ||
		    (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
		    v[i] == '_' || v[i] == ',' || v[i] == ' '))
			return 0;
	return 1;
}

/* Builds the CORS header lines for req (see http.h). */
int
evt_http_cors_headers(const struct evt_http_msg *req,
    const char *const *origins, size_t n, struct evt_buf *out)
{
	size_t old = out->len, ol, hl, i;
	const char *o = evt_http_header(req, "origin", &ol), *allow = NULL, *h;
	int rc = 0;

	/* A browser sends the origin verbatim; anything else (a list, a
	 * header split across lines, junk) is never echoed. */
	if (o != NULL && origin_shape(o, ol)) {
		for (i = 0; i < n && allow == NULL; i++)
			if (strlen(origins[i]) == ol &&
			    eq_nocase(origins[i], o, ol))
				allow = o;
		for (i = 0; i < n && allow == NULL; i++)
			if (strcmp(origins[i], "*") == 0)
				allow = "*";
	} else if (o != NULL && ol == 4 && memcmp(o, "null", 4) == 0) {
		/* A sandboxed page or a file: URL: only "*" lets it in. */
		for (i = 0; i < n && allow == NULL; i++)
			if (strcmp(origins[i], "*") == 0)
				allow = "*";
	}
	if (allow != NULL) {
		rc |= put_s(out, "Access-Control-Allow-Origin: ");
		rc |= allow == o ? evt_buf_put(out, o, ol) : put_s(out, "*");
		rc |= put_s(out, "\r\nVary: Origin\r\n");
		if (strcmp(req->method_name, "OPTIONS") == 0) {
			h = evt_http_header(req,
			    "access-control-request-headers", &hl);
			rc |= put_s(out, "Access-Control-Allow-Methods: GET, "
			    "POST, OPTIONS\r\nAccess-Control-Allow-Headers: ");
			if (h != NULL && header_list_ok(h, hl))
				rc |= evt_buf_put(out, h, hl);
			else
				rc |= put_s(out, "Authorization, Content-Type");
			rc |= put_s(out, "\r\nAccess-Control-Max-Age: 600\r\n");
		}
	}
	rc |= evt_buf_putc(out, '\0');
	if (rc != 0) {
		out->len = old;
		return EVT_ERR_NOMEM;
	}
	out->len--;
	return 0;
}
