/*
 * gateway_http.c: the HTTP phase of the gateway server's connections
 * (gateway.h; what it shares with gateway.c is in gateway_int.h).
 *
 * Data flow:
 *
 *   evconnlistener -> gw_accept_cb -> struct gw_conn (C_HTTP): a
 *     bufferevent (plain or OpenSSL) and an evt_http_parser
 *   http_read_cb -> http_process -> evt_http_parser_feed -> http_request:
 *     OPTIONS (CORS preflight) | upgrade | token | discovery | REST |
 *     http_cb | 404, each answered from gw->body/gw->http into the output
 *   upgrade -> checks and the Bearer token here, 101 queued, then
 *     gw_ws_start (gateway.c) takes the connection over
 *
 * The request grammar, the WebSocket handshake, forms, CORS headers and
 * response framing are evt_http_* (http.c, sans-I/O); this file is the
 * glue that applies them to a connection, with the time limits
 * (http_timeout from a request's first byte, http_idle between requests)
 * and the token store (issued tokens, their users, static tokens).
 * Pipelined requests are answered in order; a client that does not read
 * its answers stops being read at GW_HTTP_OUT_MAX.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/gateway.h"
#include "evtape/http.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/timefmt.h"
#include "gateway_int.h"

#define GW_HTTP_OUT_MAX ((size_t)1 << 20) /* stop reading pipelined input */
#define GW_TOKEN_RAW 32			  /* random bytes per token */

_Static_assert(GW_OWNER_LEN == SHA256_DIGEST_LENGTH, "owner ids are SHA-256");
_Static_assert(GW_TOKEN_LEN == (GW_TOKEN_RAW * 4 + 2) / 3,
    "a token is the unpadded base64url of its random bytes");

static void http_timeout_cb(evutil_socket_t, short, void *);
static void http_read_cb(struct bufferevent *, void *);
static void http_write_cb(struct bufferevent *, void *);
static void http_event_cb(struct bufferevent *, short, void *);

/* ---------------------------------------------------------------- tokens */

/* Compares a candidate token with a stored one in constant time. */
static int
tok_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* Names a user as an owner id: SHA-256 of kind, a NUL and name, so that
 * a user name and a static token never collide (nothing is kept in
 * clear).  If hashing fails (out of memory) the id is random: it matches
 * nobody, so a resume is refused rather than granted. */
static void
owner_of(const char *kind, const char *name, size_t len,
    uint8_t out[GW_OWNER_LEN])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h, kind, strlen(kind) + 1) != 1 ||
	    EVP_DigestUpdate(h, name, len) != 1 ||
	    EVP_DigestFinal_ex(h, out, NULL) != 1)
		(void)RAND_bytes(out, GW_OWNER_LEN);
	EVP_MD_CTX_free(h);
}

/* Tells whether tok[0..len) is a static or unexpired issued token; sets
 * *owner (if not NULL) to its user when it is. */
int
gw_token_owner(struct evt_gw *gw, const char *tok, size_t len,
    uint8_t *owner)
{
	int64_t now = evt_mono_us();
	int ok = 0;

	if (len == 0 || len > 4096)
		return 0;
	for (size_t i = 0; i < gw->nstokens; i++)
		if (tok_eq(tok, len, gw->stokens[i], strlen(gw->stokens[i]))) {
			ok = 1;
			if (owner != NULL)
				owner_of("token", tok, len, owner);
		}
	for (size_t i = 0; i < gw->ntokens; i++)
		if (gw->tokens[i].expires_us > now &&
		    tok_eq(tok, len, gw->tokens[i].tok, GW_TOKEN_LEN)) {
			ok = 1;
			if (owner != NULL)
				memcpy(owner, gw->tokens[i].owner, GW_OWNER_LEN);
		}
	return ok;
}

/* Tells whether tok[0..len) is a static or unexpired issued token. */
static int
token_valid(struct evt_gw *gw, const char *tok, size_t len)
{
	return gw_token_owner(gw, tok, len, NULL);
}

/* Issues a token for user into tok (GW_TOKEN_LEN + 1 bytes); returns 0 or
 * < 0. */
static int
token_issue(struct evt_gw *gw, char *tok, const char *user)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[GW_TOKEN_RAW + 1];
	int64_t now = evt_mono_us();
	size_t i, k = 0, keep = 0;

	if (RAND_bytes(raw, GW_TOKEN_RAW) != 1)
		return EVT_ERR_IO;
	raw[GW_TOKEN_RAW] = 0;
	for (i = 0; i < GW_TOKEN_RAW; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 |
		    (i + 2 < GW_TOKEN_RAW ? raw[i + 2] : 0);
		tok[k++] = b64[(v >> 18) & 63];
		tok[k++] = b64[(v >> 12) & 63];
		if (i + 1 < GW_TOKEN_RAW)
			tok[k++] = b64[(v >> 6) & 63];
		if (i + 2 < GW_TOKEN_RAW)
			tok[k++] = b64[v & 63];
	}
	tok[k] = '\0';
	OPENSSL_cleanse(raw, sizeof raw);
	/* Forget expired tokens; if still full, the oldest. */
	for (i = 0; i < gw->ntokens; i++)
		if (gw->tokens[i].expires_us > now)
			gw->tokens[keep++] = gw->tokens[i];
	OPENSSL_cleanse(gw->tokens + keep,
	    (gw->ntokens - keep) * sizeof gw->tokens[0]);
	gw->ntokens = keep;
	if (gw->ntokens == GW_MAX_TOKENS) {
		memmove(gw->tokens, gw->tokens + 1,
		    (GW_MAX_TOKENS - 1) * sizeof gw->tokens[0]);
		gw->ntokens--;
	}
	memcpy(gw->tokens[gw->ntokens].tok, tok, GW_TOKEN_LEN + 1);
	owner_of("user", user, strlen(user), gw->tokens[gw->ntokens].owner);
	gw->tokens[gw->ntokens].expires_us = now +
	    (int64_t)gw->o.token_lifetime * 1000000;
	gw->ntokens++;
	return 0;
}

/* Returns a hash of a token (never 0; evt_id_key's FNV-1a) that matches
 * a REST request to the session its client started; the token itself is
 * not kept. */
uint64_t
gw_tok_hash(const char *tok, size_t len)
{
	uint64_t h = evt_id_key(tok, len);

	return h != 0 ? h : 1;
}

/* --------------------------------------------------------------- answers */

/* Queues the response in gw->http on the connection; closes afterwards
 * unless keep. */
static void
http_send(struct gw_conn *c, int keep)
{
	struct evt_gw *gw = c->gw;
	struct timeval tv = gw_tv(gw->o.http_idle);

	if (evbuffer_add(bufferevent_get_output(c->bev), gw->http.p,
	    gw->http.len) != 0)
		keep = 0;
	evt_http_wipe(gw->http.p, gw->http.len);
	gw->http.len = 0;
	if (!keep) {
		c->close_after = 1;
		bufferevent_disable(c->bev, EV_READ);
	}
	event_add(c->http_ev, &tv);
}

/* Returns the header lines of the response being built: the request's
 * CORS lines (if any) followed by extra (NULL or "Name: value\r\n"
 * lines), in gw->hdrs; extra itself where the request has no CORS lines
 * or memory runs out (the CORS lines are then left out). */
static const char *
resp_hdrs(struct evt_gw *gw, const char *extra)
{
	if (gw->cors_len == 0)
		return extra;
	gw->hdrs.len = gw->cors_len;
	if ((extra != NULL && evt_buf_put(&gw->hdrs, extra,
	    strlen(extra)) != 0) || evt_buf_putc(&gw->hdrs, '\0') != 0)
		return extra;
	gw->hdrs.len--;
	return (const char *)gw->hdrs.p;
}

/* Answers with a JSON error {"error":E,"error_description":D}. */
static void
http_error(struct gw_conn *c, int status, const char *err, const char *desc,
    const char *extra, int keep)
{
	struct evt_gw *gw = c->gw;

	gw->http.len = 0;
	if (evt_http_json_error(&gw->http, status, err, desc,
	    resp_hdrs(gw, extra), keep) != 0) {
		gw_conn_kill(c);
		return;
	}
	http_send(c, keep);
}

/* Answers with a JSON body from gw->body. */
static void
http_json(struct gw_conn *c, int status, const char *extra, int keep)
{
	struct evt_gw *gw = c->gw;

	gw->http.len = 0;
	if (evt_http_response(&gw->http, status, "application/json",
	    resp_hdrs(gw, extra), gw->body.p, gw->body.len, keep) != 0) {
		gw_conn_kill(c);
		return;
	}
	http_send(c, keep);
}

/* ------------------------------------------------------------- endpoints */

/* Copies a form field as a C string into dst (cap bytes); 0 if absent,
 * too long or holding a NUL. */
static int
form_str(const struct evt_http_form *f, const char *key, char *dst,
    size_t cap)
{
	size_t n;
	const char *v = evt_http_form_get(f, key, &n);

	if (v == NULL || n >= cap || strlen(v) != n)
		return 0;
	memcpy(dst, v, n + 1);
	return 1;
}

/* POST /API/IDP/connect/token. */
static void
http_token(struct gw_conn *c, const struct evt_http_msg *m, int keep)
{
	struct evt_gw *gw = c->gw;
	struct evt_http_form f;
	char gt[64], user[256], pass[256], tok[GW_TOKEN_LEN + 1];
	int ok;

	if (strcmp(m->method_name, "POST") != 0) {
		http_error(c, 405, "invalid_request", "use POST",
		    "Allow: POST\r\n", keep);
		return;
	}
	if (evt_http_form_parse(&f, (const char *)m->body, m->body_len) != 0) {
		http_error(c, 400, "invalid_request", "malformed form", NULL,
		    keep);
		return;
	}
	user[0] = pass[0] = '\0';
	ok = form_str(&f, "grant_type", gt, sizeof gt);
	(void)form_str(&f, "username", user, sizeof user);
	(void)form_str(&f, "password", pass, sizeof pass);
	evt_http_form_free(&f);
	if (gw->o.refuse_tokens) {
		gw->st.token_refusals++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: token refused "
		    "(--refuse-tokens)", c->peer);
		http_error(c, 400, "invalid_grant",
		    "invalid_username_or_password", NULL, keep);
		goto out;
	}
	if (!ok || strcmp(gt, "password") != 0) {
		gw->st.token_refusals++;
		http_error(c, 400, "unsupported_grant_type", NULL, NULL, keep);
		goto out;
	}
	if (gw->username != NULL && (strcmp(user, gw->username) != 0 ||
	    !tok_eq(pass, strlen(pass), gw->password,
	    strlen(gw->password)))) {
		gw->st.token_refusals++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: bad credentials for user "
		    "'%.64s'", c->peer, user);
		http_error(c, 400, "invalid_grant",
		    "invalid_username_or_password", NULL, keep);
		goto out;
	}
	if (token_issue(gw, tok, user) != 0) {
		http_error(c, 500, "server_error", NULL, NULL, keep);
		goto out;
	}
	gw->body.len = 0;
	if (evt_http_token_json(&gw->body, tok, GW_TOKEN_LEN,
	    gw->o.token_lifetime, NULL) != 0) {
		gw_conn_kill(c);
		goto out;
	}
	gw->st.tokens_issued++;
	gw_log(gw, EVT_GW_LOG_INFO, "%s: token issued to '%.64s'", c->peer,
	    user);
	http_json(c, 200, "Cache-Control: no-store\r\n", keep);
	evt_http_wipe(gw->body.p, gw->body.len);
out:
	OPENSSL_cleanse(pass, sizeof pass);
	OPENSSL_cleanse(tok, sizeof tok);
}

/* Answers an upgrade that cannot go ahead with status and closes. */
static void
http_ws_reject(struct gw_conn *c, int status)
{
	struct evt_gw *gw = c->gw;

	gw->http.len = 0;
	if (evt_http_ws_reject(&gw->http, status) != 0)
		gw_conn_kill(c);
	else
		http_send(c, 0);
}

/* GET /api/ws/events/v1: checks the upgrade and its Bearer token (absent
 * is fine: the authenticate command follows), answers 101 and hands the
 * connection to the WebSocket side. */
static void
http_upgrade(struct gw_conn *c, const struct evt_http_msg *m)
{
	struct evt_gw *gw = c->gw;
	char accept[EVT_HTTP_WS_ACCEPT_SIZE];
	const char *tok;
	size_t tlen;
	int status, r;

	if (evt_http_ws_check_request(m, accept, &status) != 0) {
		http_ws_reject(c, status);
		return;
	}
	r = evt_http_bearer(m, &tok, &tlen);
	if (r != 0 && (r < 0 || !gw_token_owner(gw, tok, tlen, c->owner))) {
		gw->st.auth_failures++;
		gw_log(gw, EVT_GW_LOG_INFO, "%s: upgrade with an invalid "
		    "Bearer token: 401", c->peer);
		http_ws_reject(c, 401);
		return;
	}
	if (r == 1)
		c->tok_hash = gw_tok_hash(tok, tlen);
	gw->http.len = 0;
	if (evt_http_ws_accept(&gw->http, accept, NULL) != 0 ||
	    evbuffer_add(bufferevent_get_output(c->bev), gw->http.p,
	    gw->http.len) != 0) {
		gw_log(gw, EVT_GW_LOG_ERR, "%s: out of memory", c->peer);
		gw_conn_kill(c);
		return;
	}
	/* Bytes after the request stay in bev's input: wsconn reads them. */
	gw_ws_start(c, r == 1);
}

/* Tells whether a Host header value is safe to put into URLs. */
static int
host_ok(const char *h, size_t n)
{
	if (h == NULL || n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		    ch == ':' || ch == '[' || ch == ']' || ch == '_'))
			return 0;
	}
	return 1;
}

/* Appends "key":"<scheme>://<host><suffix>" (with a leading comma unless
 * first) to gw->body. */
static int
put_url(struct evt_gw *gw, const char *key, const char *scheme,
    const char *host, const char *suffix)
{
	char url[512];
	int n = snprintf(url, sizeof url, "%s://%s%s", scheme, host, suffix);

	if (key != NULL) {
		if (evt_json_put_string(&gw->body, key, strlen(key)) != 0 ||
		    evt_buf_putc(&gw->body, ':') != 0)
			return EVT_ERR_NOMEM;
	}
	return evt_json_put_string(&gw->body, url, (size_t)n);
}

/* GET /api/.well-known/uris and /IDP/.well-known/openid-configuration
 * (docs/ess-protocol.md 7.4), built from the Host header. */
static void
http_discovery(struct gw_conn *c, const struct evt_http_msg *m, int oidc,
    int keep)
{
	struct evt_gw *gw = c->gw;
	const char *scheme = gw->ssl != NULL ? "https" : "http";
	char host[300];
	size_t hl;
	const char *h = evt_http_header(m, "host", &hl);
	int rc = 0;

	if (host_ok(h, hl))
		snprintf(host, sizeof host, "%.*s", (int)hl, h);
	else
		snprintf(host, sizeof host, "localhost:%u", gw->port);
	gw->body.len = 0;
#define P(s) (rc |= evt_buf_put(&gw->body, s, strlen(s)))
	if (!oidc) {
		P("{\"ProductVersion\":");
		rc |= evt_json_put_string(&gw->body, gw->product,
		    strlen(gw->product));
		P(",");
		rc |= put_url(gw, "UnsecureManagementServer", "http", host, "/");
		P(",");
		rc |= put_url(gw, "SecureManagementServer", "https", host, "/");
		P(",");
		rc |= put_url(gw, "IdentityProvider", scheme, host, "/IDP");
		P(",\"ApiGateways\":[");
		rc |= put_url(gw, NULL, scheme, host, "/API/");
		P("]}");
	} else {
		P("{");
		rc |= put_url(gw, "issuer", scheme, host, "/IDP");
		P(",");
		rc |= put_url(gw, "token_endpoint", scheme, host,
		    "/IDP/connect/token");
		P(",\"grant_types_supported\":[\"password\"],"
		    "\"response_types_supported\":[\"token\"],"
		    "\"scopes_supported\":[\"managementserver\"],"
		    "\"server_version\":");
		rc |= evt_json_put_string(&gw->body, gw->product,
		    strlen(gw->product));
		P("}");
	}
#undef P
	if (rc != 0) {
		gw_conn_kill(c);
		return;
	}
	http_json(c, 200, NULL, keep);
}

/* Writes a Milestone-style REST error body into gw->body:
 * {"error":{"httpCode":N,"details":[{"errorText":"Unknown resource: P"}]}}.
 * Returns 0 or EVT_ERR_NOMEM. */
static int
rest_error_body(struct evt_gw *gw, int status, const char *path, size_t plen)
{
	char text[300];
	int n;

	n = snprintf(text, sizeof text, "Unknown resource: /api/rest/v1/%.*s",
	    (int)(plen > 200 ? 200 : plen), path);
	if (evt_buf_put(&gw->body, "{\"error\":{\"httpCode\":", 21) != 0 ||
	    evt_json_put_int(&gw->body, 0, (uint64_t)status) != 0 ||
	    evt_buf_put(&gw->body, ",\"details\":[{\"errorText\":",
	    strlen(",\"details\":[{\"errorText\":")) != 0)
		return EVT_ERR_NOMEM;
	/* The path is raw request bytes: keep printable ASCII only, so the
	 * JSON stays valid UTF-8. */
	for (int i = 0; i < n; i++)
		if ((unsigned char)text[i] < 0x20 ||
		    (unsigned char)text[i] >= 0x7f)
			text[i] = '?';
	if (evt_json_put_string(&gw->body, text, (size_t)n) != 0 ||
	    evt_buf_put(&gw->body, "}]}}", 4) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* GET /api/rest/v1/...: Bearer required, answered by rest_cb. */
static void
http_rest(struct gw_conn *c, const struct evt_http_msg *m, int keep)
{
	struct evt_gw *gw = c->gw;
	struct evt_gw_session *s, *mine = NULL;
	const char *tok, *path = m->path + 12;
	size_t tlen, plen = m->path_len - 12;
	uint64_t h;
	int status = 404;

	if (strcmp(m->method_name, "GET") != 0) {
		http_error(c, 405, "invalid_request", "use GET",
		    "Allow: GET\r\n", keep);
		return;
	}
	if (evt_http_bearer(m, &tok, &tlen) != 1 ||
	    !token_valid(gw, tok, tlen)) {
		gw->st.auth_failures++;
		http_error(c, 401, "unauthorized", "Bearer token required",
		    "WWW-Authenticate: Bearer\r\n", keep);
		return;
	}
	if (plen > 0) {		/* skip the '/' after v1 */
		path++;
		plen--;
	}
	h = gw_tok_hash(tok, tlen);
	TAILQ_FOREACH(s, &gw->sessions, link)
		if (s->tok_hash == h && (mine == NULL ||
		    s->bound_seq > mine->bound_seq))
			mine = s;
	gw->body.len = 0;
	if (gw->o.rest_cb != NULL)
		status = gw->o.rest_cb(gw->o.arg, mine, path, plen,
		    &gw->body);
	if (status == EVT_GW_REST_HOLD) {
		/* No answer: only the idle timer (or the client) ends it. */
		struct timeval tv = gw_tv(gw->o.http_idle);

		event_add(c->http_ev, &tv);
		return;
	}
	if (status < 100 || status > 599) {
		http_error(c, 500, "server_error", NULL, NULL, keep);
		return;
	}
	if (status >= 400 && gw->body.len == 0 &&
	    rest_error_body(gw, status, path, plen) != 0) {
		gw_conn_kill(c);
		return;
	}
	http_json(c, status, NULL, keep);
}

/* Offers a request for a path the gateway does not serve to http_cb;
 * returns 1 if it answered, 0 for the usual 404. */
static int
http_hook(struct gw_conn *c, const struct evt_http_msg *m, int keep)
{
	struct evt_gw *gw = c->gw;
	struct evt_gw_http_req req;
	const char *tok, *ctype = "application/json";
	size_t tlen;
	int status;

	memset(&req, 0, sizeof req);
	req.method = m->method_name;
	req.path = m->path;
	req.path_len = m->path_len;
	req.query = m->query;
	req.query_len = m->query_len;
	req.body = (const char *)m->body;
	req.body_len = m->body_len;
	req.authorized = evt_http_bearer(m, &tok, &tlen) == 1 &&
	    token_valid(gw, tok, tlen);
	req.peer = c->peer;
	gw->body.len = 0;
	status = gw->o.http_cb(gw->o.arg, &req, &gw->body, &ctype);
	if (status == 0)
		return 0;
	if (status < 100 || status > 599) {
		http_error(c, 500, "server_error", NULL, NULL, keep);
		return 1;
	}
	gw->http.len = 0;
	if (evt_http_response(&gw->http, status, ctype, resp_hdrs(gw,
	    status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL),
	    gw->body.p, gw->body.len, keep) != 0) {
		gw_conn_kill(c);
		return 1;
	}
	http_send(c, keep);
	return 1;
}

/* OPTIONS: a CORS preflight (docs/ess-protocol.md 8.1 item 11), or a plain
 * question for the methods.  Answered 204 either way: a browser reads a
 * preflight without Access-Control-Allow-Origin (origin not allowed, no
 * --cors) as a refusal, and nothing else has a reason to see an error. */
static void
http_options(struct gw_conn *c, int keep)
{
	struct evt_gw *gw = c->gw;

	gw->http.len = 0;
	if (evt_http_response(&gw->http, 204, NULL,
	    resp_hdrs(gw, "Allow: GET, POST, OPTIONS\r\n"), NULL, 0,
	    keep) != 0) {
		gw_conn_kill(c);
		return;
	}
	http_send(c, keep);
}

/* ---------------------------------------------------------- request loop */

/* Dispatches one complete request. */
static void
http_request(struct gw_conn *c, const struct evt_http_msg *m)
{
	struct evt_gw *gw = c->gw;
	int keep = m->keep_alive && !m->upgrade;

	gw->st.http_requests++;
	gw_log(gw, EVT_GW_LOG_DEBUG, "%s: %s %.*s", c->peer, m->method_name,
	    (int)(m->path_len > 200 ? 200 : m->path_len), m->path);
	gw->hdrs.len = gw->cors_len = 0;
	if (gw->ncors > 0 && evt_http_cors_headers(m,
	    (const char *const *)gw->cors, gw->ncors, &gw->hdrs) == 0)
		gw->cors_len = gw->hdrs.len;
	if (strcmp(m->method_name, "OPTIONS") == 0 && !m->upgrade) {
		http_options(c, keep);
	} else if (evt_http_route_ws(m->target, m->target_len)) {
		http_upgrade(c, m);
	} else if (evt_http_route_token(m->target, m->target_len)) {
		http_token(c, m, keep);
	} else if (evt_http_path_match(m->target, m->target_len,
	    "/api/.well-known/uris", EVT_HTTP_NOCASE)) {
		http_discovery(c, m, 0, keep);
	} else if (evt_http_path_match(m->target, m->target_len,
	    "/idp/.well-known/openid-configuration", EVT_HTTP_NOCASE)) {
		http_discovery(c, m, 1, keep);
	} else if ((m->path_len == 12 || (m->path_len > 12 &&
	    m->path[12] == '/')) && strncasecmp(m->path, "/api/rest/v1",
	    12) == 0) {
		http_rest(c, m, keep);
	} else if (gw->o.http_cb == NULL || !http_hook(c, m, keep)) {
		http_error(c, 404, "not_found", "no such endpoint", NULL, keep);
	}
	gw->cors_len = 0;	/* errors outside a request get none */
}

/* Parses and answers the requests waiting in the input. */
static void
http_process(struct gw_conn *c)
{
	struct evbuffer *in, *out;
	size_t n, used;
	const unsigned char *p;
	int rc, status;

	while (c->state == C_HTTP && !c->close_after) {
		in = bufferevent_get_input(c->bev);
		out = bufferevent_get_output(c->bev);
		if (evbuffer_get_length(out) > GW_HTTP_OUT_MAX) {
			/* A pipelining client that does not read. */
			bufferevent_disable(c->bev, EV_READ);
			c->read_paused = 1;
			return;
		}
		if ((n = evbuffer_get_contiguous_space(in)) == 0)
			return;
		p = evbuffer_pullup(in, (ssize_t)n);
		rc = evt_http_parser_feed(c->hp, p, n, &used);
		evbuffer_drain(in, used);
		if (rc == 0) {
			if (used > 0 && !c->partial) {
				/* A request began: it has http_timeout to
				 * arrive whole (slowloris). */
				struct timeval tv = gw_tv(c->gw->o.http_timeout);

				c->partial = 1;
				event_add(c->http_ev, &tv);
			}
			continue;
		}
		c->partial = 0;
		if (rc < 0) {
			status = evt_http_parser_status(c->hp);
			if (status == 0)
				status = 400;
			gw_log(c->gw, EVT_GW_LOG_INFO, "%s: bad HTTP request: "
			    "%d", c->peer, status);
			http_error(c, status, "invalid_request",
			    evt_strerror(rc), NULL, 0);
			return;
		}
		http_request(c, evt_http_parser_msg(c->hp));
	}
}

/* bufferevent read callback of the HTTP phase. */
static void
http_read_cb(struct bufferevent *bev, void *arg)
{
	http_process(arg);
}

/* bufferevent write callback: output flushed. */
static void
http_write_cb(struct bufferevent *bev, void *arg)
{
	struct gw_conn *c = arg;

	if (c->state != C_HTTP ||
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->close_after) {
		gw_conn_kill(c);
		return;
	}
	if (c->read_paused) {
		c->read_paused = 0;
		bufferevent_enable(bev, EV_READ);
		http_process(c);
	}
}

/* bufferevent event callback: EOF, error, TLS failure. */
static void
http_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gw_conn *c = arg;
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_ERROR) &&
	    (e = bufferevent_get_openssl_error(bev)) != 0) {
		char buf[200];

		ERR_error_string_n(e, buf, sizeof buf);
		gw_log(c->gw, EVT_GW_LOG_INFO, "%s: TLS error: %s", c->peer,
		    buf);
	} else
		gw_log(c->gw, EVT_GW_LOG_DEBUG, "%s: HTTP connection closed",
		    c->peer);
	gw_conn_kill(c);
}

/* The HTTP deadline passed: a request that is not complete in time gets
 * 408 (slowloris); an idle keep-alive connection is closed. */
static void
http_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_conn *c = arg;
	struct evt_gw *gw = c->gw;

	if (c->close_after) {		/* the peer does not read */
		gw_conn_kill(c);
		return;
	}
	gw->st.idle_closes++;
	if (c->partial) {
		gw_log(gw, EVT_GW_LOG_INFO, "%s: HTTP request not complete "
		    "within %g s; 408", c->peer, gw->o.http_timeout);
		http_error(c, 408, "request_timeout", "request not complete "
		    "in time", NULL, 0);
		return;
	}
	gw_log(gw, EVT_GW_LOG_INFO, "%s: HTTP connection idle for %g s; "
	    "closing", c->peer, gw->o.http_idle);
	gw_conn_kill(c);
}

/* ---------------------------------------------------------------- accept */

/* Formats a peer address. */
static void
peer_name(const struct sockaddr *sa, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)
		    (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, a, sizeof a);
		snprintf(out, cap, "%s:%u", a, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof a);
		snprintf(out, cap, "[%s]:%u", a, ntohs(in6->sin6_port));
	} else
		snprintf(out, cap, "?");
}

/* Returns the bufferevent of an accepted socket fd, plain or TLS (it
 * closes fd when freed), or NULL (fd is still open). */
static struct bufferevent *
accept_bev(struct evt_gw *gw, evutil_socket_t fd)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (gw->ssl == NULL)
		return bufferevent_socket_new(gw->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	if ((ssl = SSL_new(gw->ssl)) == NULL)
		return NULL;
	bev = bufferevent_openssl_socket_new(gw->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* A new TCP connection. */
void
gw_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int slen, void *arg)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nConnection: close\r\n\r\n";
	struct evt_gw *gw = arg;
	struct gw_conn *c;
	struct timeval tv = gw_tv(gw->o.http_idle);
	char peer[64];

	peer_name(sa, peer, sizeof peer);
	if (gw->shutting_down || gw->st.conns_now >= gw->o.max_conns) {
		gw->st.conns_refused++;
		gw_log(gw, EVT_GW_LOG_WARN, "%s: too many connections (%u); "
		    "refused", peer, gw->st.conns_now);
		if (gw->ssl == NULL)
			(void)send(fd, busy, sizeof busy - 1, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
		evutil_closesocket(fd);
		return;
	}
	/* Events are small messages due at once: no Nagle delay (with the
	 * peer's delayed ACK it holds a message back up to 40 ms). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	if ((c = calloc(1, sizeof *c)) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->gw = gw;
	c->state = C_HTTP;
	memcpy(c->peer, peer, sizeof c->peer);
	c->hq_tail = &c->hq;
	if ((c->bev = accept_bev(gw, fd)) == NULL) {
		gw_log(gw, EVT_GW_LOG_ERR, "%s: cannot set up the connection",
		    peer);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->hp = evt_http_parser_new(EVT_HTTP_REQUEST, gw->o.max_head,
	    gw->o.max_body);
	c->http_ev = evtimer_new(gw->base, http_timeout_cb, c);
	if (c->hp == NULL || c->http_ev == NULL) {
		evt_http_parser_free(c->hp);
		if (c->http_ev != NULL)
			event_free(c->http_ev);
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, http_read_cb, http_write_cb, http_event_cb,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	event_add(c->http_ev, &tv);
	TAILQ_INSERT_TAIL(&gw->conns, c, link);
	gw->st.conns_now++;
	gw->st.conns_accepted++;
	gw_log(gw, EVT_GW_LOG_DEBUG, "%s: connected", peer);
}
