/*
 * idp.c: the IDP token request (see idp.h).
 *
 * Bad credentials (docs/ess-protocol.md 7.3) are told apart from other failures
 * so the log says "wrong user name or password" instead of a bare status:
 * HTTP 400/401 with "invalid_grant", "invalid_username_or_password",
 * "InvalidCredential" or "LockedOut" in the body, or any 401.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/idp.h"

struct idp_req {
	evt_idp_cb cb;
	void *arg;
};

/* Tells whether the body mentions s (bodies are small JSON texts). */
static int
has(const char *body, size_t len, const char *s)
{
	return memmem(body, len, s, strlen(s)) != NULL;
}

/* httpc callback: turns the answer into a token or a reason. */
static void
idp_done_cb(void *arg, int status, const char *body, size_t len,
    const char *why)
{
	struct idp_req *q = arg;
	struct evt_http_token tok;
	char text[300];
	int rc;

	if (status == 0) {
		/* A failed connect says what and where itself. */
		snprintf(text, sizeof text, "%s%s", strncmp(why,
		    EVT_HTTPC_CONNECT, strlen(EVT_HTTPC_CONNECT)) == 0 ? "" :
		    "token request failed: ", why);
		q->cb(q->arg, EVT_ERR_IO, NULL, text);
	} else if (status == 200) {
		rc = evt_http_token_parse(body, len, &tok);
		if (rc == 0)
			q->cb(q->arg, 0, &tok, "");
		else
			q->cb(q->arg, EVT_ERR_JSON, NULL,
			    "token endpoint answered 200 without a usable "
			    "access_token");
	} else if (status == 401 || (status == 400 &&
	    (has(body, len, "invalid_grant") ||
	    has(body, len, "invalid_username_or_password") ||
	    has(body, len, "InvalidCredential") ||
	    has(body, len, "LockedOut")))) {
		snprintf(text, sizeof text, "wrong user name or password "
		    "(token endpoint answered %d%s)", status,
		    has(body, len, "LockedOut") ? ", account locked out" : "");
		q->cb(q->arg, EVT_ERR_ARG, NULL, text);
	} else {
		snprintf(text, sizeof text, "token endpoint answered HTTP %d",
		    status);
		q->cb(q->arg, EVT_ERR_IO, NULL, text);
	}
	free(q);
}

/* Starts a token request (see idp.h). */
int
evt_idp_token(const struct evt_httpc_opts *o, const struct evt_httpc_url *u,
    const char *user, const char *password, evt_idp_cb cb, void *arg,
    struct evt_httpc_req **out)
{
	struct evt_buf form = {0};
	struct idp_req *q;
	size_t plen = strlen(password);
	int rc = EVT_ERR_NOMEM;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return EVT_ERR_NOMEM;
	q->cb = cb;
	q->arg = arg;
	/* Room for everything up front: no realloc leaves a copy behind. */
	if (evt_buf_grow(&form, 128 + 3 * strlen(user) + 3 * plen) != 0 ||
	    evt_http_form_add(&form, "grant_type", "password", 8) != 0 ||
	    evt_http_form_add(&form, "username", user, strlen(user)) != 0 ||
	    evt_http_form_add(&form, "password", password, plen) != 0 ||
	    evt_http_form_add(&form, "client_id", "GrantValidatorClient",
	    20) != 0)
		goto out;
	rc = evt_httpc_request(o, u, EVT_IDP_TOKEN_PATH, NULL,
	    "application/x-www-form-urlencoded", form.p, form.len, idp_done_cb,
	    q, out);
out:
	if (form.p != NULL)
		evt_http_wipe(form.p, form.cap);
	evt_buf_free(&form);
	if (rc != 0)
		free(q);
	return rc;
}
