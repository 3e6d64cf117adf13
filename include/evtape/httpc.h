/*
 * httpc.h: the recorder's small HTTP(S) client, for the IDP token request
 * and the Config REST GETs (libevent's evhttp over a bufferevent_openssl
 * for https).  One connection per request, closed after it: the recorder
 * asks a handful of questions per (re)connect, so pooling buys nothing.
 *
 *   evt_httpc_request() -> evhttp -> answer -> cb(status, body) -> freed
 *
 * Also the gateway URL parser shared with the WebSocket client.
 */
#ifndef EVTAPE_HTTPC_H
#define EVTAPE_HTTPC_H

#include <stddef.h>

#include <openssl/ssl.h>

struct event_base;
struct evdns_base;

/* A parsed gateway base URL: http://host[:port] or https://host[:port],
 * optionally with a trailing "/". */
struct evt_httpc_url {
	int tls;		/* https */
	char host[256];		/* name or address, IPv6 without brackets */
	unsigned port;		/* explicit or 80/443 */
	char hostport[270];	/* for the Host header: host[:port], IPv6 in
				   brackets; the port only if not default */
	char base[300];		/* normalised "scheme://hostport" */
};

/*
 * Parses url (borrowed, NUL-terminated).  Returns 0 and fills *u, or
 * EVT_ERR_ARG (another scheme, no host, a bad port, a path other than "/",
 * user info, a query).
 */
int evt_httpc_url_parse(const char *url, struct evt_httpc_url *u);

/* Where and how requests go; borrowed by every request for its life. */
struct evt_httpc_opts {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *ssl;		/* required for https URLs */
	int insecure;		/* skip host name verification */
	int timeout;		/* seconds for connect + answer; 0: 30 */
	size_t max_body;	/* largest answer body; 0: 64 MiB */
};

/*
 * Called once per request: status is the HTTP status and body[0..len) the
 * answer body (borrowed for the call) when an answer arrived; status is 0
 * and why a static or borrowed text when none did (TLS verification,
 * timeout, ...); a connect that failed says so from where:
 * EVT_HTTPC_CONNECT "HOST:PORT refused" (or the errno's text instead of
 * "refused").  The request is freed after the call.
 */
#define EVT_HTTPC_CONNECT "connect to "
typedef void (*evt_httpc_cb)(void *arg, int status, const char *body,
    size_t len, const char *why);

struct evt_httpc_req;

/*
 * Starts a request to u (copied) for path (borrowed for the call):
 * POST when body is not NULL (with content type ctype), else GET; with
 * "Authorization: Bearer <bearer>" when bearer is not NULL; always
 * "Accept: application/json".  body and bearer are copied for the call;
 * the caller wipes its own copies.  Secrets in libevent's memory: the body
 * is one private copy that the socket buffer references (no copy inside
 * libevent) and that is wiped once sent; evhttp's header copy of the
 * Authorization value is wiped when the answer arrives.  What remains
 * unwiped: the request head evhttp formats into the connection's output
 * buffer (it holds "Authorization: Bearer ..."; libevent frees it after
 * writing, without wiping), the header copy when the request fails
 * without an answer (evhttp frees it), and, with TLS, whatever OpenSSL
 * keeps of the plaintext.  Returns 0 and
 * *out (may be NULL: then the request cannot be detached), or
 * EVT_ERR_NOMEM / EVT_ERR_ARG (https without a context); cb never runs
 * inside this call.
 */
int evt_httpc_request(const struct evt_httpc_opts *o,
    const struct evt_httpc_url *u, const char *path, const char *bearer,
    const char *ctype, const void *body, size_t len, evt_httpc_cb cb,
    void *arg, struct evt_httpc_req **out);

/* Detaches the callback: the request runs to its end but cb is not called
 * (for an owner that goes away first). */
void evt_httpc_detach(struct evt_httpc_req *r);

#endif
