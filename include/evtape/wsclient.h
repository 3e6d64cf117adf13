/*
 * wsclient.h: the recorder's WebSocket client connect: TCP (with DNS
 * through evdns), TLS (SNI and host verification, tls.h), the HTTP upgrade
 * request to /api/ws/events/v1 with an optional "Authorization: Bearer",
 * the 101 check, then the hand-over of the bufferevent and any bytes that
 * followed the handshake to evt_wsconn_new() as a client.
 *
 *   evt_wsclient_connect() -> connect -> TLS -> GET upgrade -> 101
 *        -> evt_wsconn (client role) -> cb(conn)      or cb(NULL, why)
 */
#ifndef EVTAPE_WSCLIENT_H
#define EVTAPE_WSCLIENT_H

#include <openssl/ssl.h>

#include "evtape/httpc.h"
#include "evtape/wsconn.h"

struct event_base;
struct evdns_base;

/* How to connect; copied by evt_wsclient_connect (base, dns and ssl are
 * borrowed and must outlive the attempt and the connection). */
struct evt_wsclient_opts {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *ssl;		/* required for https URLs */
	int insecure;		/* skip host name verification */
	double timeout;		/* seconds for connect + handshake; 0: 30 */
	struct evt_wsconn_config ws; /* for the connection (role forced to
					client) */
};

/*
 * The attempt ended: conn is the new connection (owned by the callee)
 * with why NULL, or conn is NULL and why (borrowed for the call) says what
 * failed; status is the HTTP status when the server answered the upgrade
 * with something other than 101 (401: token refused), else 0.  The attempt
 * is freed after the call.
 */
typedef void (*evt_wsclient_cb)(void *arg, struct evt_wsconn *conn,
    int status, const char *why);

struct evt_wsclient;

/*
 * Starts connecting to u (copied), sending bearer (borrowed for the call;
 * NULL for none; the request bytes are wiped once sent) in the upgrade
 * request.  Returns 0 and *out (for evt_wsclient_cancel), or a negative
 * evt_err (EVT_ERR_ARG: https without a context); cb never runs inside
 * this call.
 */
int evt_wsclient_connect(const struct evt_wsclient_opts *o,
    const struct evt_httpc_url *u, const char *bearer, evt_wsclient_cb cb,
    void *arg, struct evt_wsclient **out);

/* Abandons an attempt in progress: closes its socket, frees it; cb is not
 * called.  Not to be called from its own callback. */
void evt_wsclient_cancel(struct evt_wsclient *c);

#endif
