/*
 * tls.c: OpenSSL client settings (see tls.h).
 *
 * Verification is OpenSSL's own: SSL_VERIFY_PEER with the chosen trust
 * store, and X509_VERIFY_PARAM host (or IP) checking, set per connection,
 * so a certificate for another name fails the handshake itself and the
 * bufferevent reports an error before a byte of HTTP is sent.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "evtape/err.h"
#include "evtape/tls.h"

/* Creates a client context (see tls.h). */
int
evt_tls_client_ctx(const char *cacert, int insecure, SSL_CTX **out,
    char *err, size_t cap)
{
	SSL_CTX *ctx;
	unsigned long e;

	*out = NULL;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, cap, "cannot create a TLS context");
		return EVT_ERR_IO;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (cacert != NULL ? SSL_CTX_load_verify_locations(ctx, cacert,
		    NULL) != 1 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
			e = ERR_get_error();
			snprintf(err, cap, "cannot load CA certificates%s%s: %s",
			    cacert != NULL ? " from " : "",
			    cacert != NULL ? cacert : "",
			    e != 0 ? ERR_reason_error_string(e) : "unknown");
			ERR_clear_error();
			SSL_CTX_free(ctx);
			return EVT_ERR_IO;
		}
	}
	*out = ctx;
	return 0;
}

/* Creates the SSL of one connection (see tls.h). */
SSL *
evt_tls_client_ssl(SSL_CTX *ctx, const char *host, int insecure)
{
	unsigned char addr[16];
	int is_ip;
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		return NULL;
	is_ip = inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
	/* RFC 6066: no SNI for address literals. */
	if (!is_ip) {
		/* A writable copy: the OpenSSL macro casts away const. */
		char name[256];
		size_t n = strlen(host);

		if (n >= sizeof name)
			goto fail;
		memcpy(name, host, n + 1);
		if (SSL_set_tlsext_host_name(ssl, name) != 1)
			goto fail;
	}
	if (!insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);

		X509_VERIFY_PARAM_set_hostflags(vp,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1 :
		    X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1)
			goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

/* Explains a failed TLS connection (see tls.h). */
void
evt_tls_error(struct bufferevent *bev, char *out, size_t cap)
{
	unsigned long e = 0;
	SSL *ssl = NULL;
	long vr;

	out[0] = '\0';
	for (struct bufferevent *b = bev; b != NULL && ssl == NULL;
	    b = bufferevent_get_underlying(b))
		ssl = bufferevent_openssl_get_ssl(b);
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(out, cap, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
		return;
	}
	if (bev != NULL)
		e = bufferevent_get_openssl_error(bev);
	if (e == 0)
		e = ERR_peek_last_error();
	if (e != 0) {
		char buf[256];

		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(out, cap, "TLS error: %s", buf);
	}
	ERR_clear_error();
}
