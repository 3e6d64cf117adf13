/*
 * fuzz_http.c: libFuzzer target for the HTTP layer (src/http.c).
 *
 * The input is fed to the request parser (and to the response parser)
 * whole, byte by byte (small inputs) and in random splits derived from the
 * input, and the three runs must produce the same digest: every message
 * (method, target, path/query split, headers, body, flags, where it ended)
 * and the final result and status.  Small bounds (head 300, body 600 bytes)
 * make the 431/413 paths reachable with short inputs.  Every parsed request
 * also goes through the upgrade check, bearer extraction and route matching;
 * the raw input through the form parser (with an encode/decode round trip of
 * every field) and the token JSON parser.  Never crash, leak or hang.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/http.h"

#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_http: %s:%d: %s\n",       \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 300
#define MAX_BODY 600

/* Appends s[0..n) to a digest. */
static void
dput(struct evt_buf *d, const void *s, size_t n)
{
	CHECK(evt_buf_put(d, s, n) == 0);
}

/* Appends a formatted line to a digest. */
static void dprint(struct evt_buf *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dprint(struct evt_buf *d, const char *fmt, ...)
{
	char t[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t, sizeof t, fmt, ap);
	va_end(ap);
	CHECK(n >= 0 && n < (int)sizeof t);
	dput(d, t, (size_t)n);
}

/* Checks a message's invariants, exercises the helpers on it, and appends
 * its description to d. */
static void
digest_msg(struct evt_buf *d, const struct evt_http_msg *m, size_t end)
{
	char accept[EVT_HTTP_WS_ACCEPT_SIZE];
	const char *tok;
	size_t k, tl;
	int st, rc;

	CHECK(m->body != NULL && m->body_len <= MAX_BODY);
	CHECK(m->body[m->body_len] == '\0');
	dprint(d, "M%zu %d %d %d %u.%u %d %d %zu\n", end, m->is_request,
	    m->method, m->status, m->http_major, m->http_minor,
	    m->keep_alive, m->upgrade, m->nheaders);
	if (m->is_request) {
		CHECK(m->target != NULL && m->target[m->target_len] == '\0');
		CHECK(m->path == m->target && m->path_len <= m->target_len);
		CHECK(m->query == NULL || (m->query > m->path &&
		    m->query + m->query_len <= m->target + m->target_len));
		dput(d, m->target, m->target_len);
		dprint(d, " %zu %zd %zu\n", m->path_len, m->query ?
		    m->query - m->target : -1, m->query_len);
		rc = evt_http_ws_check_request(m, accept, &st);
		CHECK((rc == 0 && st == 101 && strlen(accept) == 28) ||
		    (rc == EVT_ERR_ARG && (st == 400 || st == 426)));
		rc = evt_http_bearer(m, &tok, &tl);
		CHECK(rc == 0 || rc == EVT_ERR_ARG || (rc == 1 && tl > 0));
		dprint(d, "ws %d %d bearer %d route %d %d\n", rc, st, rc,
		    evt_http_route_ws(m->target, m->target_len),
		    evt_http_route_token(m->target, m->target_len));
	}
	for (k = 0; k < m->nheaders; k++) {
		const struct evt_http_header *h = &m->headers[k];

		CHECK(h->name[h->name_len] == '\0');
		CHECK(h->value[h->value_len] == '\0');
		dput(d, h->name, h->name_len);
		dput(d, ":", 1);
		dput(d, h->value, h->value_len);
		dput(d, "\n", 1);
		CHECK(evt_http_header(m, h->name, NULL) != NULL);
	}
	dput(d, m->body, m->body_len);
	dput(d, "\n", 1);
}

/* A small deterministic PRNG seeded from the input. */
static uint64_t
next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Feeds data to a parser of the given type in chunks: mode 0 whole, 1 byte
 * by byte, 2 random sizes from seed.  Appends the results to d.
 */
static void
run(enum evt_http_type type, const uint8_t *data, size_t size, int mode,
    uint64_t seed, struct evt_buf *d)
{
	struct evt_http_parser *p = evt_http_parser_new(type, MAX_HEAD,
	    MAX_BODY);
	const struct evt_http_msg *m;
	size_t pos = 0, chunk, c, used;
	int rc = 0, nmsg = 0;

	CHECK(p != NULL);
	seed |= 1;
	while (pos < size) {
		chunk = mode == 0 ? size - pos : mode == 1 ? 1 :
		    1 + next(&seed) % 64;
		if (chunk > size - pos)
			chunk = size - pos;
		c = 0;
		do {
			rc = evt_http_parser_feed(p, data + pos + c, chunk - c,
			    &used);
			CHECK(used <= chunk - c);
			c += used;
			if (rc == 1) {
				m = evt_http_parser_msg(p);
				CHECK(m != NULL);
				CHECK(++nmsg <= (int)size);
				digest_msg(d, m, pos + c);
				if (m->upgrade || !m->keep_alive) {
					size_t u2;

					CHECK(evt_http_parser_feed(p, "x", 1,
					    &u2) == EVT_ERR_STATE && u2 == 0);
					goto stop;
				}
			} else {
				CHECK(evt_http_parser_msg(p) == NULL);
			}
		} while (rc == 1 && c < chunk);
		if (rc < 0)
			goto stop;
		CHECK(c == chunk);
		pos += chunk;
	}
	rc = evt_http_parser_finish(p);
	if (rc == 1)
		digest_msg(d, evt_http_parser_msg(p), size);
stop:
	CHECK(rc == 1 || rc == 0 || rc == EVT_ERR_ARG ||
	    rc == EVT_ERR_TOOBIG || rc == EVT_ERR_TRUNCATED);
	dprint(d, "end %d %d\n", rc, evt_http_parser_status(p));
	if (rc == EVT_ERR_TOOBIG)
		CHECK(evt_http_parser_status(p) == 431 ||
		    evt_http_parser_status(p) == 413);
	if (rc == EVT_ERR_ARG)
		CHECK(evt_http_parser_status(p) == 400);
	evt_http_parser_free(p);
}

/* Runs one parser type whole, byte by byte and in random splits. */
static void
check_type(enum evt_http_type type, const uint8_t *data, size_t size,
    uint64_t seed)
{
	struct evt_buf a = {0}, b = {0};
	int k;

	run(type, data, size, 0, seed, &a);
	if (size <= 4096) {
		run(type, data, size, 1, seed, &b);
		if (b.len != a.len || memcmp(a.p, b.p, a.len) != 0)
			fprintf(stderr, "whole:\n%.*s\nbytes:\n%.*s\n",
			    (int)a.len, (char *)a.p, (int)b.len, (char *)b.p);
		CHECK(b.len == a.len && memcmp(a.p, b.p, a.len) == 0);
	}
	for (k = 0; k < 3; k++) {
		b.len = 0;
		run(type, data, size, 2, seed + (uint64_t)k * 0x9E37, &b);
		if (b.len != a.len || memcmp(a.p, b.p, a.len) != 0)
			fprintf(stderr, "whole:\n%.*s\nsplit:\n%.*s\n",
			    (int)a.len, (char *)a.p, (int)b.len, (char *)b.p);
		CHECK(b.len == a.len && memcmp(a.p, b.p, a.len) == 0);
	}
	evt_buf_free(&a);
	evt_buf_free(&b);
}

/* Parses the input as a form; checks bounds and an encode/decode trip. */
static void
check_form(const uint8_t *data, size_t size)
{
	struct evt_http_form f, g;
	struct evt_buf e = {0};
	const char *v;
	size_t k, n;
	int rc;

	rc = evt_http_form_parse(&f, (const char *)data, size);
	CHECK(rc == 0 || rc == EVT_ERR_ARG || rc == EVT_ERR_TOOBIG);
	if (rc != 0) {
		CHECK(f.buf == NULL && f.n == 0);
		return;
	}
	CHECK(f.n <= EVT_HTTP_FORM_MAX_FIELDS);
	for (k = 0; k < f.n; k++) {
		CHECK(f.f[k].key_len > 0 && f.f[k].key_len <= size);
		CHECK(f.f[k].val_len <= size);
		CHECK(f.f[k].key[f.f[k].key_len] == '\0');
		CHECK(f.f[k].val[f.f[k].val_len] == '\0');
		if (strlen(f.f[k].key) != f.f[k].key_len)
			continue; /* %00 in a key: not a C string */
		CHECK(evt_http_form_add(&e, f.f[k].key, f.f[k].val,
		    f.f[k].val_len) == 0);
	}
	CHECK(evt_http_form_parse(&g, (const char *)e.p, e.len) == 0);
	for (k = 0; k < f.n; k++) {
		if (strlen(f.f[k].key) != f.f[k].key_len)
			continue;
		/* First wins in both: compare through lookups. */
		v = evt_http_form_get(&g, f.f[k].key, &n);
		CHECK(v != NULL);
		CHECK(evt_http_form_get(&f, f.f[k].key, &n) != NULL);
	}
	for (k = 0; k < g.n; k++) {
		size_t n1, n2;
		const char *v1 = evt_http_form_get(&f, g.f[k].key, &n1);
		const char *v2 = evt_http_form_get(&g, g.f[k].key, &n2);

		CHECK(v1 != NULL && v2 != NULL && n1 == n2 &&
		    memcmp(v1, v2, n1) == 0);
	}
	evt_http_form_free(&g);
	evt_http_form_free(&f);
	evt_buf_free(&e);
}

/* The fuzz entry point: see the top of the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_http_token tok;
	uint64_t seed = 1469598103934665603ULL;
	size_t k;
	int rc;

	for (k = 0; k < size; k++)
		seed = (seed ^ data[k]) * 1099511628211ULL;
	check_type(EVT_HTTP_REQUEST, data, size, seed);
	check_type(EVT_HTTP_RESPONSE, data, size, seed);
	check_form(data, size);
	rc = evt_http_token_parse((const char *)data, size, &tok);
	CHECK(rc <= 0);
	if (rc == 0)
		CHECK(tok.access_token != NULL &&
		    tok.access_token[tok.len] == '\0');
	evt_http_token_free(&tok);
	CHECK(tok.access_token == NULL);
	return 0;
}
