/*
 * tls.h: OpenSSL client settings shared by the recorder's HTTP client
 * (httpc.c) and WebSocket client (wsclient.c): one SSL_CTX per process,
 * one SSL per connection with SNI and host name (or IP address)
 * verification, and a readable text for a failed handshake.
 *
 * Peers are verified against the system CA store by default, or against
 * the CA certificates of one PEM file (--cacert); --insecure turns all
 * verification off (for tests and labs; evrec logs a warning).
 */
#ifndef EVTAPE_TLS_H
#define EVTAPE_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

struct bufferevent;

/*
 * Creates a client context: TLS 1.2 or later, peer verification against
 * the system CAs, or only cacert (a PEM file, borrowed path) when not
 * NULL, or none when insecure.  Returns 0 and *out (free with
 * SSL_CTX_free), or EVT_ERR_IO with a text in err[cap].
 */
int evt_tls_client_ctx(const char *cacert, int insecure, SSL_CTX **out,
    char *err, size_t cap);

/*
 * Creates the SSL object of one connection to host (borrowed,
 * NUL-terminated; a name or an IPv4/IPv6 literal without brackets): SNI
 * for names, and unless insecure the certificate must name host (DNS
 * name or IP address SAN).  Returns the SSL (the caller owns it; a
 * bufferevent_openssl takes it over) or NULL when out of memory.
 */
SSL *evt_tls_client_ssl(SSL_CTX *ctx, const char *host, int insecure);

/*
 * Writes into out[cap] why the TLS connection of bev (a
 * bufferevent_openssl, or a bufferevent filtering one, or NULL) failed:
 * the certificate verification result when that failed, else the
 * OpenSSL error queue, else "" (not a TLS failure).
 */
void evt_tls_error(struct bufferevent *bev, char *out, size_t cap);

#endif
