/*
 * http.h: the sans-I/O HTTP/1.1 layer of the gateway server (evsim, evplay)
 * and of the recorder's WebSocket client handshake.
 *
 * Data flow on the server (one port serves the IDP token endpoint, a few
 * REST GETs and the WebSocket upgrade, see docs/ess-protocol.md sections 1, 7, 8.1):
 *
 *   socket bytes -> evt_http_parser_feed() (http-parser underneath)
 *                -> struct evt_http_msg (method, path, query, headers, body)
 *                -> evt_http_route_*() picks the handler
 *                -> evt_http_response() / evt_http_ws_accept() build the
 *                   answer into a struct evt_buf -> socket
 *
 * and on the client (evrec):
 *
 *   evt_http_ws_request() -> socket -> bytes -> evt_http_parser_feed()
 *   (response mode) -> evt_http_ws_check_response() -> WebSocket
 *
 * Nothing here touches sockets, libevent or clocks: bytes in, bytes out, so
 * every function is unit-tested and fuzzed without a network.  The parser
 * accepts input in any split (whole, byte by byte, at random) with the same
 * result; that is what tests/fuzz/fuzz_http.c asserts.
 *
 * Errors are negative enum evt_err codes.  The evt_err ranges have no
 * "protocol violation" code for HTTP, so malformed HTTP, forms and handshakes
 * are EVT_ERR_ARG; a request parser error also carries the HTTP status the
 * server should answer (evt_http_parser_status()), which is what callers
 * act on.  Bounds exceeded are EVT_ERR_TOOBIG.
 *
 * Secrets: form values (passwords) and tokens live in heap memory owned by
 * the structures below; their free functions wipe them with OPENSSL_cleanse.
 * Callers that copy a secret out must wipe their copy (evt_http_wipe()).
 */
#ifndef EVTAPE_HTTP_H
#define EVTAPE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

/* Default bounds: request line + headers, and body. */
#define EVT_HTTP_MAX_HEAD (16 * 1024)
#define EVT_HTTP_MAX_BODY (1024 * 1024)

/* The WebSocket endpoint of the Events and State API (docs/ess-protocol.md 1.1). */
#define EVT_HTTP_WS_PATH "/api/ws/events/v1"

/* The GUID RFC 6455 appends to the key before hashing. */
#define EVT_HTTP_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Sizes (with the NUL) of a Sec-WebSocket-Key and a Sec-WebSocket-Accept. */
#define EVT_HTTP_WS_KEY_SIZE 25
#define EVT_HTTP_WS_ACCEPT_SIZE 29

/* One header of a parsed message; name and value are NUL-terminated. */
struct evt_http_header {
	const char *name;  /* as received (case kept) */
	size_t name_len;
	const char *value; /* leading and trailing blanks removed */
	size_t value_len;
};

/*
 * A complete request or response.  Every pointer is borrowed from the
 * parser that produced it and stays valid until the next
 * evt_http_parser_feed(), evt_http_parser_finish() or evt_http_parser_free()
 * on that parser.  Strings are NUL-terminated (the body too, for
 * convenience; it may contain NULs, use body_len).
 */
struct evt_http_msg {
	int is_request;
	int method;		 /* requests: enum http_method of http_parser.h */
	const char *method_name; /* requests: "GET", "POST", ... (static) */
	int status;		 /* responses: status code */
	unsigned http_major, http_minor;
	const char *target;	 /* requests: raw request-target */
	size_t target_len;
	const char *path;	 /* target up to '?' or '#', not decoded */
	size_t path_len;
	const char *query;	 /* after '?' up to '#'; NULL if no '?' */
	size_t query_len;
	const struct evt_http_header *headers;
	size_t nheaders;
	const uint8_t *body; /* never NULL; "" when empty */
	size_t body_len;
	int keep_alive; /* the connection may carry another message */
	int upgrade;	/* Upgrade + Connection: upgrade (101 for responses);
			   the parser stopped after this message */
};

/* Which side a parser reads. */
enum evt_http_type {
	EVT_HTTP_REQUEST = 0,  /* server side: parses requests */
	EVT_HTTP_RESPONSE = 1, /* client side: parses responses */
};

struct evt_http_parser;

/*
 * Creates a parser.  max_head bounds the request or status line plus all
 * headers (bytes, from the message's first byte through the blank line;
 * 0 = EVT_HTTP_MAX_HEAD); max_body bounds the decoded body (0 =
 * EVT_HTTP_MAX_BODY).  Returns a parser the caller owns (free with
 * evt_http_parser_free), or NULL when out of memory.
 */
struct evt_http_parser *evt_http_parser_new(enum evt_http_type type,
    size_t max_head, size_t max_body);

/* Frees a parser and every message it handed out; NULL is allowed. */
void evt_http_parser_free(struct evt_http_parser *p);

/*
 * Feeds data[0..len) (borrowed for the call) and stops at the end of the
 * first complete message.  *consumed is always set to the number of bytes
 * used; the caller keeps the rest and feeds it again (pipelined requests).
 * Returns:
 *   1              a message is complete: evt_http_parser_msg() returns it
 *                  until the next call.  If msg->upgrade, the bytes after
 *                  *consumed belong to the upgraded (WebSocket) stream and
 *                  the parser accepts nothing more.  If !msg->keep_alive,
 *                  the connection should be closed after answering.
 *   0              all bytes consumed, the message is not complete yet.
 *   EVT_ERR_TOOBIG head or body over its bound (status 431 or 413).
 *   EVT_ERR_ARG    malformed HTTP (status 400).
 *   EVT_ERR_NOMEM  out of memory (status 500).
 *   EVT_ERR_STATE  called after an upgrade or a non-keep-alive message.
 * After an error every later call returns the same error: answer with
 * evt_http_parser_status() and close the connection.
 */
int evt_http_parser_feed(struct evt_http_parser *p, const void *data,
    size_t len, size_t *consumed);

/*
 * Tells the parser the peer closed the connection (needed for responses
 * whose body runs until EOF).  Returns 1 if that completed a message, 0 on
 * a clean end between messages, EVT_ERR_TRUNCATED if the stream ended inside
 * a message, or a pending error.
 */
int evt_http_parser_finish(struct evt_http_parser *p);

/* Returns the last completed message (borrowed, see struct evt_http_msg),
 * or NULL if feed did not just return 1. */
const struct evt_http_msg *evt_http_parser_msg(const struct evt_http_parser *p);

/* Returns the HTTP status a server should answer after a feed error (400,
 * 413, 431, 500), or 0 if there was no error. */
int evt_http_parser_status(const struct evt_http_parser *p);

/*
 * Returns the value of the first header named name (ASCII case-insensitive),
 * borrowed from msg, and its length in *len (if len is not NULL); NULL if
 * absent.
 */
const char *evt_http_header(const struct evt_http_msg *msg, const char *name,
    size_t *len);

/*
 * Tells whether any header named name holds token in its comma-separated
 * list (both case-insensitive), e.g. Connection: "keep-alive, Upgrade".
 * Returns 1 or 0.
 */
int evt_http_header_has_token(const struct evt_http_msg *msg,
    const char *name, const char *token);

/*
 * Finds "Authorization: Bearer <token>" (scheme case-insensitive).  Returns
 * 1 and the token (borrowed from msg) in *tok and *len; 0 if there is no
 * Authorization header (docs/ess-protocol.md 1.3: then the client must send the
 * authenticate command); EVT_ERR_ARG if the header is present but not a
 * non-empty Bearer token (the server answers 401).
 */
int evt_http_bearer(const struct evt_http_msg *msg, const char **tok,
    size_t *len);

/* Returns the standard reason phrase of status (static), or "Unknown". */
const char *evt_http_reason(int status);

/*
 * Appends a complete response to out: "HTTP/1.1 <status> <reason>",
 * Content-Type (if content_type is not NULL), Content-Length (except for
 * 1xx, 204 and 304), Connection: keep-alive or close, the caller's extra
 * header lines (NULL, or zero or more complete "Name: value\r\n" lines,
 * e.g. "WWW-Authenticate: Bearer\r\n"), the blank line and body.  All
 * inputs are borrowed for the call.  Returns 0, EVT_ERR_ARG (status outside
 * 100..999, extra not made of CRLF-terminated lines, or a CR/LF in
 * content_type) or EVT_ERR_NOMEM; on error out->len is unchanged.
 */
int evt_http_response(struct evt_buf *out, int status,
    const char *content_type, const char *extra, const void *body,
    size_t body_len, int keep_alive);

/*
 * Appends the JSON error body {"error":E,"error_description":D} to out
 * (description omitted if NULL; strings are JSON-escaped).  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_http_json_error_body(struct evt_buf *out, const char *error,
    const char *description);

/*
 * Appends a complete response with status and a JSON error body (see
 * evt_http_json_error_body) and Content-Type application/json.  The IDP's
 * bad-credentials answer (docs/ess-protocol.md 7.3) is status 400, "invalid_grant",
 * "invalid_username_or_password".  Returns 0, EVT_ERR_ARG or EVT_ERR_NOMEM.
 */
int evt_http_json_error(struct evt_buf *out, int status, const char *error,
    const char *description, const char *extra, int keep_alive);

/*
 * Appends the token endpoint's success body (docs/ess-protocol.md 7.2) to out:
 * {"access_token":T,"expires_in":N,"token_type":"Bearer","scope":S}.
 * token[0..len) and scope (NULL means "managementserver") are borrowed.
 * out then holds the token: wipe it after sending.  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_http_token_json(struct evt_buf *out, const char *token, size_t len,
    uint32_t expires_in, const char *scope);

/* A parsed token response. */
struct evt_http_token {
	char *access_token; /* owned (malloc), NUL-terminated; wiped by
			       evt_http_token_free() */
	size_t len;
	int64_t expires_in; /* seconds; -1 if absent */
	int bearer;	    /* token_type is "Bearer" (case-insensitive) */
};

/*
 * Parses the token endpoint's success JSON.  On success returns 0 and fills
 * *tok (free with evt_http_token_free).  Returns EVT_ERR_JSON if the body is
 * not a JSON object with a string "access_token" (expires_in, if present,
 * must be a non-negative integer), EVT_ERR_NOMEM, or another
 * evt_json_parse() error; *tok is then zeroed.
 */
int evt_http_token_parse(const char *body, size_t len,
    struct evt_http_token *tok);

/* Wipes and frees the token and zeroes *tok; NULL or zeroed is allowed. */
void evt_http_token_free(struct evt_http_token *tok);

/* Wipes len bytes at p with OPENSSL_cleanse (cannot be optimised away). */
void evt_http_wipe(void *p, size_t len);

/* Bounds of the form parser. */
#define EVT_HTTP_FORM_MAX_FIELDS 64

/* One decoded field of an application/x-www-form-urlencoded body. */
struct evt_http_field {
	const char *key; /* NUL-terminated, borrowed from the form */
	size_t key_len;
	const char *val; /* NUL-terminated; may contain NUL bytes (%00) */
	size_t val_len;
};

/* A decoded form; the struct owns buf (every key and value). */
struct evt_http_form {
	struct evt_http_field f[EVT_HTTP_FORM_MAX_FIELDS];
	size_t n;
	char *buf; /* owned: decoded keys and values, wiped on free */
	size_t buf_len;
};

/*
 * Decodes an application/x-www-form-urlencoded string s[0..len) (borrowed):
 * pairs split on '&', key and value on the first '=', '+' is a space,
 * %XX (either case) a byte.  Empty pairs and pairs with an empty key are
 * skipped; a key without '=' has the empty value.  Returns 0 and fills
 * *form (release with evt_http_form_free, which wipes the decoded bytes),
 * EVT_ERR_ARG on a '%' not followed by two hex digits, EVT_ERR_TOOBIG over
 * EVT_HTTP_MAX_BODY bytes or EVT_HTTP_FORM_MAX_FIELDS fields, or
 * EVT_ERR_NOMEM; on error *form is empty (nothing to free, freeing is
 * harmless).  Values are binary: a caller needing a C string must check
 * that strlen(val) == val_len.
 */
int evt_http_form_parse(struct evt_http_form *form, const char *s,
    size_t len);

/*
 * Returns the value of the first field named key (exact match: duplicates
 * after the first are ignored), borrowed from form, and its length in
 * *len (if not NULL); NULL if absent.
 */
const char *evt_http_form_get(const struct evt_http_form *form,
    const char *key, size_t *len);

/* Wipes and frees the decoded bytes and empties *form. */
void evt_http_form_free(struct evt_http_form *form);

/*
 * Appends key=value, form-encoded, to out, preceded by '&' if out is not
 * empty (so out must hold only this form).  Unreserved bytes (A-Z a-z 0-9
 * - . _ ~) are kept, space becomes '+', the rest %XX.  key and val are
 * borrowed.  When val is a password, grow out beforehand so no realloc
 * leaves a copy behind, and wipe out after sending.  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_http_form_add(struct evt_buf *out, const char *key, const char *val,
    size_t val_len);

/* Flags of evt_http_path_match. */
#define EVT_HTTP_NOCASE 0x01	/* compare ASCII case-insensitively */
#define EVT_HTTP_SLASH_OPT 0x02 /* also match route + "/" */

/*
 * Tells whether the request-target target[0..len) names route: everything
 * from the first '?' or '#' is ignored, then the path must equal route
 * (flags: EVT_HTTP_NOCASE, EVT_HTTP_SLASH_OPT).  Returns 1 or 0.
 */
int evt_http_path_match(const char *target, size_t len, const char *route,
    int flags);

/* Tells whether target is the IDP token endpoint: /API/IDP/connect/token or
 * /IDP/connect/token, any case (docs/ess-protocol.md 7.1).  Returns 1 or 0. */
int evt_http_route_token(const char *target, size_t len);

/* Tells whether target is the events WebSocket: /api/ws/events/v1 with or
 * without a trailing slash and nothing else (docs/ess-protocol.md 8.1). 1 or 0. */
int evt_http_route_ws(const char *target, size_t len);

/*
 * Computes Sec-WebSocket-Accept = base64(SHA-1(key + EVT_HTTP_WS_GUID)) for
 * key[0..len) into out (EVT_HTTP_WS_ACCEPT_SIZE bytes, NUL-terminated).
 * Returns 0, EVT_ERR_TOOBIG if len > 256, or EVT_ERR_NOMEM (OpenSSL).
 */
int evt_http_ws_accept_key(const char *key, size_t len, char *out);

/*
 * Validates a WebSocket upgrade request (RFC 6455 4.2.1): GET, HTTP/1.1 or
 * later, Upgrade: websocket, Connection with the token "upgrade",
 * Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key that is base64 of 16
 * bytes.  Does not look at the path or Authorization.  Returns 0 and the
 * accept value in accept (EVT_HTTP_WS_ACCEPT_SIZE bytes), or EVT_ERR_ARG
 * with *status = 400 (or 426 for a missing or wrong version: answer with
 * evt_http_ws_reject), or EVT_ERR_NOMEM with *status = 500.
 */
int evt_http_ws_check_request(const struct evt_http_msg *req, char *accept,
    int *status);

/*
 * Appends the 101 Switching Protocols answer with Sec-WebSocket-Accept
 * accept, no Sec-WebSocket-Protocol (docs/ess-protocol.md 8.1 item 9) and the
 * caller's extra header lines (NULL or "Name: value\r\n" lines).  Returns 0,
 * EVT_ERR_ARG or EVT_ERR_NOMEM.
 */
int evt_http_ws_accept(struct evt_buf *out, const char *accept,
    const char *extra);

/*
 * Appends the answer to a failed upgrade: status with a small JSON error
 * body and Connection: close; 426 adds Sec-WebSocket-Version: 13, 401 adds
 * WWW-Authenticate: Bearer.  Returns 0, EVT_ERR_ARG or EVT_ERR_NOMEM.
 */
int evt_http_ws_reject(struct evt_buf *out, int status);

/*
 * Appends a client upgrade request: GET path HTTP/1.1, Host, Upgrade,
 * Connection, Sec-WebSocket-Key = base64(nonce[16]), Version 13, then
 * "Authorization: Bearer <bearer>" if bearer is not NULL, then extra lines
 * (NULL or "Name: value\r\n" lines).  nonce must come from a CSPRNG (the
 * caller's RAND_bytes); the key is written to key_out
 * (EVT_HTTP_WS_KEY_SIZE bytes) for evt_http_ws_check_response.  out then
 * holds the token: wipe it after sending.  Returns 0, EVT_ERR_ARG (path not
 * starting with '/', CR/LF/space in host, path or bearer, bad extra) or
 * EVT_ERR_NOMEM.
 */
int evt_http_ws_request(struct evt_buf *out, const char *host,
    const char *path, const uint8_t nonce[16], const char *bearer,
    const char *extra, char *key_out);

/*
 * Checks a response to our upgrade request sent with key.  Returns 0 for a
 * 101 with Upgrade: websocket, Connection: upgrade, the matching
 * Sec-WebSocket-Accept and no Sec-WebSocket-Protocol; EVT_ERR_ARG for a 101
 * that breaks these rules; EVT_ERR_NOTFOUND for any other status (look at
 * resp->status and evt_http_status_why).  *why (if not NULL) gets a static
 * text for logs.
 */
int evt_http_ws_check_response(const struct evt_http_msg *resp,
    const char *key, const char **why);

/*
 * Tells whether s (NUL-terminated, borrowed) is a valid --cors setting: "*"
 * or an origin as browsers send it, "<scheme>://<host>[:<port>]" with a
 * lower-case scheme and no path (e.g. "http://127.0.0.1:8000").  Returns
 * 1 or 0.
 */
int evt_http_cors_origin_ok(const char *s);

/*
 * Appends the CORS header lines ("Name: value\r\n", ready for the extra
 * argument of evt_http_response) that answer req, given the allowed
 * origins[0..n) (borrowed; "*" allows every origin): nothing if req has no
 * Origin header or its origin is not allowed; otherwise
 * Access-Control-Allow-Origin (the origin itself, or "*" when "*" allows
 * it) and Vary: Origin, and for a preflight (an OPTIONS request) also
 * Access-Control-Allow-Methods, -Allow-Headers (the requested headers
 * when they are a plain token list, else "Authorization, Content-Type")
 * and -Max-Age.  out stays NUL-terminated.  Returns 0 or EVT_ERR_NOMEM
 * (out->len unchanged).
 */
int evt_http_cors_headers(const struct evt_http_msg *req,
    const char *const *origins, size_t n, struct evt_buf *out);

/* Returns a short static explanation of a failed upgrade status:
 * "unauthorized" for 401, "not found" for 404, "server error" for 5xx, ... */
const char *evt_http_status_why(int status);

#endif
