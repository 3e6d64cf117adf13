/*
 * idp.h: the IDP token request of the recorder (docs/ess-protocol.md 7): a
 * form POST of grant_type=password, username, password and
 * client_id=GrantValidatorClient to <base>/API/IDP/connect/token, answered
 * with {"access_token", "expires_in", ...}.
 *
 *   evt_idp_token() -> httpc (TLS) -> answer -> evt_http_token_parse
 *                                            -> cb(rc, token, why)
 *
 * Credentials and tokens are wiped from our memory after use (libevent's
 * own I/O buffers are not under our control).
 */
#ifndef EVTAPE_IDP_H
#define EVTAPE_IDP_H

#include "evtape/http.h"
#include "evtape/httpc.h"

/* The token endpoint path behind the gateway. */
#define EVT_IDP_TOKEN_PATH "/API/IDP/connect/token"

/*
 * Called once with the outcome: rc 0 and *tok (ownership transferred to
 * the callee, free with evt_http_token_free); EVT_ERR_ARG when the IDP
 * refused the credentials (why says so: retrying will not help until they
 * change, but evrec keeps trying with backoff); another negative evt_err
 * for a failure worth retrying (unreachable, TLS, 5xx, a malformed answer).
 * why is a text for the log (borrowed for the call), never containing a
 * secret.
 */
typedef void (*evt_idp_cb)(void *arg, int rc, struct evt_http_token *tok,
    const char *why);

/*
 * Starts a token request for user and password (borrowed for the call,
 * NUL-terminated; the form holding them is wiped after it is handed to
 * libevent).  Returns 0 and *out (for evt_httpc_detach; may be NULL) or a
 * negative evt_err; cb never runs inside this call.
 */
int evt_idp_token(const struct evt_httpc_opts *o,
    const struct evt_httpc_url *u, const char *user, const char *password,
    evt_idp_cb cb, void *arg, struct evt_httpc_req **out);

#endif
