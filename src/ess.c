/*
 * ess.c: the sans-I/O core of the Events and State WebSocket API (ess.h).
 *
 * Data flow, server side: a text frame is tokenized once (json.h), the
 * command object's members are looked up in the token array, the command
 * runs against the connection's state (authenticated, session, its
 * subscription set) and one response object is written into the caller's
 * evt_buf.  The commandId is copied as the exact token text of the request,
 * so its JSON type and spelling survive (docs/ess-protocol.md §2.1, §8.1 item 3).
 * Client side: builders write command objects; the classifier tokenizes a
 * frame and picks out what evrec needs.  Subscriptions (parsing the
 * filters of addSubscription, matching events, a session's set) are
 * ess_filter.c; what the two files share is ess_int.h.
 *
 * Decisions where docs/ess-protocol.md is silent (§9):
 *   - Closes: non-JSON or invalid UTF-8 -> 1007; JSON that is not an object,
 *     or an object without a string "command", or nesting deeper than 64 ->
 *     1008; a frame over max_frame (1 MiB) -> 1009 (it is not parsed, so
 *     there is no commandId to answer with).
 *   - Member names and command names are matched ASCII case-insensitively
 *     (the gateway is ASP.NET Core, whose web JSON defaults are
 *     case-insensitive); with duplicate members the last one wins (as in
 *     Python's and JavaScript's JSON.parse).
 *   - Order of checks: unknown command name -> 400; then not authenticated
 *     -> 401 (every command but authenticate); then no session -> 400
 *     (every command but authenticate and startSession).
 *   - authenticate: a leading "Bearer " (any case) is stripped before
 *     auth_cb; missing/non-string token -> 401; a failed authenticate does
 *     not undo an earlier success (header or command); success -> 200.
 *   - startSession: a second one on the same connection -> 400 "session
 *     already started".  Non-string sessionId/eventId count as missing.  A
 *     sessionId longer than EVT_ESS_ID_MAX is never resumed (201).  An eventId
 *     longer than that is refused too (it cannot be a known event id).
 *   - addSubscription: missing or null "filters" -> 200, matches nothing;
 *     "filters" not an array, a filter not an object, missing or unknown
 *     modifier, a list not an array of strings -> 400; a null list is like
 *     a missing one (matches nothing); [] matches nothing; bounds -> 413.
 *     Excludes act only within their own subscription.
 *   - removeSubscription: missing subscriptionId -> 400; unknown -> 404;
 *     success 200 with no other field.
 *   - commandId: copied verbatim whatever its JSON type (null included);
 *     missing -> omitted.  Responses hold only commandId, status and one of
 *     sessionId / subscriptionId / states / error{errorText}.
 *   - Source splitting: at the first '/'; a source without '/' is both
 *     resource type and source id.  Event field names (id, source, type)
 *     are matched exactly (they come from the gateway, lower case).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "ess_int.h"

/* ------------------------------------------------------------- utilities */

/* Returns 1 if s[0..n) equals the lower-case name, ASCII case-insensitively. */
int
ess_eq_fold(const char *s, size_t n, const char *name)
{
	size_t m = strlen(name);

	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (ess_lc((unsigned char)s[i]) != (unsigned char)name[i])
			return 0;
	return 1;
}

/* Wipes memory the compiler may not optimise away (token copies). */
static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* Appends a NUL-free C string; returns 0 or EVT_ERR_NOMEM. */
int
ess_puts(struct evt_buf *b, const char *s)
{
	return evt_buf_put(b, s, strlen(s)) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Fills lim with defaults where src is NULL or zero. */
void
ess_limits_fill(struct evt_ess_limits *lim, const struct evt_ess_limits *src)
{
	memset(lim, 0, sizeof *lim);
	if (src != NULL)
		*lim = *src;
	if (lim->max_subs == 0)
		lim->max_subs = EVT_ESS_MAX_SUBS;
	if (lim->max_filters == 0)
		lim->max_filters = EVT_ESS_MAX_FILTERS;
	if (lim->max_entries == 0)
		lim->max_entries = EVT_ESS_MAX_ENTRIES;
	if (lim->max_frame == 0)
		lim->max_frame = EVT_ESS_MAX_FRAME;
}

/* ------------------------------------------------------- token accessors */

/*
 * Returns 1 if key token k (a string) names `name` (lower case),
 * case-insensitively, decoding escapes when present.
 */
int
ess_key_is(const char *buf, const struct evt_jtok *k, const char *name)
{
	char tmp[64];
	int n;

	if (!(k->flags & EVT_JF_ESCAPED))
		return ess_eq_fold(buf + k->off, k->len, name);
	if (k->len > sizeof tmp)
		return 0;
	n = evt_json_unescape(buf + k->off, k->len, tmp);
	return n >= 0 && ess_eq_fold(tmp, (size_t)n, name);
}

/* Returns the index of the value of member `name` of object token obj (the
 * last one if repeated), or -1. */
static long
member(const char *buf, const struct evt_jtok *t, uint32_t obj,
    const char *name)
{
	return evt_ess_member(buf, t, obj, name);
}

/* Finds a member as evt_ess_classify does (see ess.h). */
long
evt_ess_member(const char *buf, const struct evt_jtok *t, uint32_t obj,
    const char *name)
{
	long found = -1;
	uint32_t k = obj + 1;

	for (uint32_t i = 0; i < t[obj].size; i++) {
		if (ess_key_is(buf, &t[k], name))
			found = (long)k + 1;
		k = t[k + 1].next;
	}
	return found;
}

/*
 * Decodes string token s into dst (cap bytes + NUL).  Returns the decoded
 * length; if it does not fit: with cut, the longest prefix ending on a
 * UTF-8 boundary; without, -1.  EVT_ERR_NOMEM on allocation failure.
 */
static long
decode_str(const char *buf, const struct evt_jtok *s, char *dst, size_t cap,
    int cut)
{
	char *tmp;
	int n;

	if (s->len <= cap) {
		n = evt_json_unescape(buf + s->off, s->len, dst);
		if (n < 0)
			return -1;
		dst[n] = '\0';
		return n;
	}
	if ((tmp = malloc(s->len)) == NULL)
		return EVT_ERR_NOMEM;
	n = evt_json_unescape(buf + s->off, s->len, tmp);
	if (n < 0 || ((size_t)n > cap && !cut)) {
		free(tmp);
		return -1;
	}
	size_t m = (size_t)n;
	if (m > cap) {
		m = cap;
		while (m > 0 && ((unsigned char)tmp[m] & 0xC0) == 0x80)
			m--;
	}
	memcpy(dst, tmp, m);
	dst[m] = '\0';
	free(tmp);
	return (long)m;
}

/* ---------------------------------------------------------------- events */

/* Skips JSON whitespace. */
static size_t
skip_ws(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

/* Scans the string starting at the quote s[i]; returns the index after the
 * closing quote, or 0 if unterminated.  *esc is set on a backslash.  By
 * memchr: the simulated gateway runs this over every event it publishes. */
static size_t
scan_string(const char *s, size_t len, size_t i, int *esc)
{
	for (i++; i < len;) {
		const char *q = memchr(s + i, '"', len - i);
		const char *b;

		if (q == NULL)
			return 0;
		b = memchr(s + i, '\\', (size_t)(q - (s + i)));
		if (b == NULL)
			return (size_t)(q - s) + 1;
		*esc = 1;
		i = (size_t)(b - s) + 2;	/* past the escaped byte */
	}
	return 0;
}

/* Skips the value at s[i]; returns the index after it, or 0 on error. */
static size_t
skip_value(const char *s, size_t len, size_t i)
{
	int esc = 0;
	size_t depth = 0;

	if (i >= len)
		return 0;
	if (s[i] == '"')
		return scan_string(s, len, i, &esc);
	if (s[i] == '{' || s[i] == '[') {
		while (i < len) {
			char c = s[i];
			if (c == '"') {
				if ((i = scan_string(s, len, i, &esc)) == 0)
					return 0;
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if (c == '}' || c == ']') {
				if (--depth == 0)
					return i + 1;
			}
			i++;
		}
		return 0;
	}
	size_t a = i;
	while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
	    s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
		i++;
	return i > a ? i : 0;
}

/* Extracts id, source, type and stategroupid from an event object text. */
int
evt_ess_event_fields(const char *json, size_t len,
    struct evt_ess_event_fields *f)
{
	size_t i;

	memset(f, 0, sizeof *f);
	i = skip_ws(json, len, 0);
	if (i >= len || json[i] != '{')
		return EVT_ERR_JSON;
	i = skip_ws(json, len, i + 1);
	if (i < len && json[i] == '}')
		return 0;
	for (;;) {
		int kesc = 0, vesc = 0;
		size_t k, kend, v, vend;

		if (i >= len || json[i] != '"')
			return EVT_ERR_JSON;
		k = i + 1;
		if ((kend = scan_string(json, len, i, &kesc)) == 0)
			return EVT_ERR_JSON;
		i = skip_ws(json, len, kend);
		if (i >= len || json[i] != ':')
			return EVT_ERR_JSON;
		v = skip_ws(json, len, i + 1);
		if (v < len && json[v] == '"')
			vend = scan_string(json, len, v, &vesc);
		else
			vend = skip_value(json, len, v);
		if (vend == 0)
			return EVT_ERR_JSON;
		size_t kl = kend - 1 - k;
		if (v < len && json[v] == '"') {
			const char **pp = NULL;
			size_t *pl = NULL;
			if (kl == 2 && memcmp(json + k, "id", 2) == 0) {
				pp = &f->id;
				pl = &f->id_len;
			} else if (kl == 6 && memcmp(json + k, "source", 6) == 0) {
				pp = &f->source;
				pl = &f->source_len;
			} else if (kl == 4 && memcmp(json + k, "type", 4) == 0) {
				pp = &f->type;
				pl = &f->type_len;
			} else if (kl == 12 &&
			    memcmp(json + k, "stategroupid", 12) == 0) {
				pp = &f->group;
				pl = &f->group_len;
			}
			if (pp != NULL) {
				*pp = json + v + 1;
				*pl = vend - v - 2;
				if (vesc)
					f->escaped = 1;
			}
		}
		i = skip_ws(json, len, vend);
		if (i < len && json[i] == '}')
			return 0;
		if (i >= len || json[i] != ',')
			return EVT_ERR_JSON;
		i = skip_ws(json, len, i + 1);
	}
}

/* Appends open, the delivered texts joined by ',', close; returns count. */
static int
join(const struct evt_ess_subs *set, int filter, const char *const *ev,
    const size_t *lens, size_t n, const char *open, const char *close,
    int skip_empty, struct evt_buf *out)
{
	size_t start = out->len;
	int cnt = 0;

	if (ess_puts(out, open) != 0)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (filter && !evt_ess_subs_delivers_event(set, ev[i], lens[i]))
			continue;
		if ((cnt > 0 && evt_buf_putc(out, ',') != 0) ||
		    evt_buf_put(out, ev[i], lens[i]) != 0) {
			out->len = start;
			return EVT_ERR_NOMEM;
		}
		cnt++;
	}
	if (cnt == 0 && skip_empty) {
		out->len = start;
		return 0;
	}
	if (ess_puts(out, close) != 0) {
		out->len = start;
		return EVT_ERR_NOMEM;
	}
	return cnt;
}

/* Appends an events message unless it would be empty. */
int
evt_ess_events_message(const char *const *ev, const size_t *lens, size_t n,
    struct evt_buf *out)
{
	return join(NULL, 0, ev, lens, n, "{\"events\":[", "]}", 1, out);
}

/* Appends message text with only the events ev inside (see ess.h). */
int
evt_ess_events_within(const char *text, size_t len, size_t from, size_t to,
    const char *const *ev, const size_t *lens, size_t n, struct evt_buf *out)
{
	size_t start = out->len;
	if (from > to || to > len || evt_buf_put(out, text, from) != 0 ||
	    join(NULL, 0, ev, lens, n, "", "", 0, out) < 0 ||
	    evt_buf_put(out, text + to, len - to) != 0) {
		out->len = start;
		return from > to || to > len ? EVT_ERR_ARG : EVT_ERR_NOMEM;
	}
	return (int)n;
}

/* Appends an events message of the delivered events unless it is empty. */
int
evt_ess_events_message_for(const struct evt_ess_subs *set,
    const char *const *ev, const size_t *lens, size_t n, struct evt_buf *out)
{
	return join(set, 1, ev, lens, n, "{\"events\":[", "]}", 1, out);
}

/* Appends the states array of the delivered states. */
int
evt_ess_states_array(const struct evt_ess_subs *set,
    const char *const *st, const size_t *lens, size_t n, struct evt_buf *out)
{
	return join(set, 1, st, lens, n, "[", "]", 0, out);
}

/* ------------------------------------------------------------ server side */

struct evt_ess_conn {
	struct evt_ess_server_cbs cb;
	struct evt_ess_limits lim;
	struct evt_jparser jp;
	int authed, closed, has_session;
	char sid[EVT_ESS_ID_MAX];
	size_t sidlen;
	struct evt_ess_subs *subs;
};

/* The response being written: where it starts and the raw commandId. */
struct resp {
	struct evt_buf *out;
	size_t start;
	const char *cid;
	size_t cidlen;
};

/* Creates a connection. */
struct evt_ess_conn *
evt_ess_conn_new(const struct evt_ess_server_cbs *cbs,
    const struct evt_ess_limits *lim, int authenticated)
{
	struct evt_ess_conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	if (cbs != NULL)
		c->cb = *cbs;
	ess_limits_fill(&c->lim, lim);
	evt_json_init(&c->jp, 64);
	c->authed = authenticated != 0;
	return c;
}

/* Frees a connection. */
void
evt_ess_conn_free(struct evt_ess_conn *c)
{
	if (c == NULL)
		return;
	evt_json_free(&c->jp);
	evt_ess_subs_free(c->subs);
	free(c);
}

/* Writes {"commandId":..,"status":N into pre-grown space. */
static void
resp_begin(struct resp *r, int status)
{
	char t[16];
	int n = snprintf(t, sizeof t, "%d", status);

	(void)evt_buf_putc(r->out, '{');
	if (r->cid != NULL) {
		(void)evt_buf_put(r->out, "\"commandId\":", 12);
		(void)evt_buf_put(r->out, r->cid, r->cidlen);
		(void)evt_buf_putc(r->out, ',');
	}
	(void)evt_buf_put(r->out, "\"status\":", 9);
	(void)evt_buf_put(r->out, t, (size_t)n);
}

/* Writes a response with no result field. */
static int
resp_plain(struct resp *r, int status)
{
	resp_begin(r, status);
	(void)evt_buf_putc(r->out, '}');
	return status;
}

/* Writes a response with one string field (value at most EVT_ESS_ID_MAX
 * bytes, so it fits the pre-grown space). */
static int
resp_str(struct resp *r, int status, const char *key, const char *v,
    size_t n)
{
	resp_begin(r, status);
	(void)evt_buf_put(r->out, ",\"", 2);
	(void)evt_buf_put(r->out, key, strlen(key));
	(void)evt_buf_put(r->out, "\":", 2);
	(void)evt_json_put_string(r->out, v, n);
	(void)evt_buf_putc(r->out, '}');
	return status;
}

/* Writes an error response with errorText (a short static text). */
static int
resp_err(struct resp *r, int status, const char *text)
{
	resp_begin(r, status);
	(void)evt_buf_put(r->out, ",\"error\":{\"errorText\":", 22);
	(void)evt_json_put_string(r->out, text, strlen(text));
	(void)evt_buf_put(r->out, "}}", 2);
	return status;
}

/* Asks id_cb for a fresh id that differs from avoid; returns its length or
 * 0. */
static size_t
new_id(struct evt_ess_conn *c, char *out, const char *avoid, size_t alen)
{
	for (int tries = 0; tries < 3 && c->cb.id_cb != NULL; tries++) {
		size_t n = c->cb.id_cb(c->cb.arg, out);
		if (n == 0 || n > EVT_ESS_ID_MAX)
			return 0;
		if (avoid != NULL && n == alen && memcmp(out, avoid, n) == 0)
			continue;
		if (c->subs != NULL && avoid == NULL &&
		    ess_subs_find(c->subs, out, n) >= 0)
			continue;
		return n;
	}
	return 0;
}

/* authenticate: checks the token through auth_cb. */
static int
cmd_authenticate(struct evt_ess_conn *c, const char *buf, uint32_t obj,
    struct resp *r)
{
	const struct evt_jtok *t = c->jp.tok;
	long m = member(buf, t, obj, "token");
	char *tok;
	int n, ok = 0;

	if (m < 0 || t[m].type != EVT_J_STRING)
		return resp_err(r, 401, "token missing");
	if ((tok = malloc(t[m].len + 1)) == NULL)
		return EVT_ERR_NOMEM;
	n = evt_json_unescape(buf + t[m].off, t[m].len, tok);
	if (n >= 0) {
		size_t off = 0;
		if (n >= 7 && ess_eq_fold(tok, 7, "bearer "))
			off = 7;
		if (c->cb.auth_cb != NULL && (size_t)n > off)
			ok = c->cb.auth_cb(c->cb.arg, tok + off, (size_t)n - off) == 1;
		wipe(tok, (size_t)n);
	}
	free(tok);
	if (!ok)
		return resp_err(r, 401, "invalid token");
	c->authed = 1;
	return resp_plain(r, 200);
}

/* startSession: resumes through resume_cb or creates a new session. */
static int
cmd_start_session(struct evt_ess_conn *c, const char *buf, uint32_t obj,
    struct resp *r, struct evt_ess_action *act)
{
	const struct evt_jtok *t = c->jp.tok;
	char sid[EVT_ESS_ID_MAX + 1], eid[EVT_ESS_ID_MAX + 1], nid[EVT_ESS_ID_MAX];
	long sl = 0, el = 0, m;
	struct evt_ess_subs *subs = NULL;
	int resumed = 0;
	size_t n;

	if (c->has_session)
		return resp_err(r, 400, "session already started");
	m = member(buf, t, obj, "sessionid");
	if (m >= 0 && t[m].type == EVT_J_STRING)
		sl = decode_str(buf, &t[m], sid, EVT_ESS_ID_MAX, 0);
	if (sl == EVT_ERR_NOMEM)
		return EVT_ERR_NOMEM;
	m = member(buf, t, obj, "eventid");
	if (m >= 0 && t[m].type == EVT_J_STRING)
		el = decode_str(buf, &t[m], eid, EVT_ESS_ID_MAX, 0);
	if (el == EVT_ERR_NOMEM)
		return EVT_ERR_NOMEM;
	if (el < 0) {
		el = 0;
		sl = -1; /* an over-long eventId cannot be resumed from */
	}
	if (el == 0)
		eid[0] = '\0';
	if (sl > 0 && c->cb.resume_cb != NULL) {
		if (c->cb.resume_cb(c->cb.arg, sid, (size_t)sl, eid, (size_t)el,
		    &subs) != 1) {
			evt_ess_subs_free(subs); /* refused: nothing kept */
			subs = NULL;
		} else {
			resumed = 1;
		}
	}
	if (resumed) {
		if (subs == NULL && (subs = evt_ess_subs_new()) == NULL)
			return EVT_ERR_NOMEM;
		c->subs = subs;
		memcpy(c->sid, sid, (size_t)sl);
		c->sidlen = (size_t)sl;
		c->has_session = 1;
		act->resumed = 1;
		return resp_str(r, 200, "sessionId", c->sid, c->sidlen);
	}
	n = new_id(c, nid, sl > 0 ? sid : "", sl > 0 ? (size_t)sl : 0);
	if (n == 0)
		return resp_err(r, 500, "cannot create a session id");
	if ((c->subs = evt_ess_subs_new()) == NULL)
		return EVT_ERR_NOMEM;
	memcpy(c->sid, nid, n);
	c->sidlen = n;
	c->has_session = 1;
	return resp_str(r, 201, "sessionId", c->sid, c->sidlen);
}

/* addSubscription: parses the filters and stores a new subscription. */
static int
cmd_add_subscription(struct evt_ess_conn *c, const char *buf, uint32_t obj,
    struct resp *r)
{
	const struct evt_jtok *t = c->jp.tok;
	struct evt_ess_sub *sub = NULL;
	const char *why = NULL;
	char id[EVT_ESS_ID_MAX];
	size_t n;
	long m;
	int rc;

	if (c->subs == NULL && (c->subs = evt_ess_subs_new()) == NULL)
		return EVT_ERR_NOMEM;
	if (evt_ess_subs_count(c->subs) >= c->lim.max_subs)
		return resp_err(r, 413, "too many subscriptions");
	m = member(buf, t, obj, "filters");
	if ((rc = ess_sub_from_tokens(buf, t, m, &c->lim, &sub, &why)) != 0) {
		if (rc == EVT_ERR_NOMEM)
			return rc;
		return resp_err(r, rc == EVT_ERR_TOOBIG ? 413 : 400,
		    why ? why : "invalid filters");
	}
	if ((n = new_id(c, id, NULL, 0)) == 0) {
		evt_ess_sub_free(sub);
		return resp_err(r, 500, "cannot create a subscription id");
	}
	if ((rc = evt_ess_subs_add(c->subs, id, n, sub)) != 0)
		return rc == EVT_ERR_NOMEM ? rc :
		    resp_err(r, 500, "cannot store the subscription");
	return resp_str(r, 200, "subscriptionId", id, n);
}

/* removeSubscription: drops a subscription by id. */
static int
cmd_remove_subscription(struct evt_ess_conn *c, const char *buf, uint32_t obj,
    struct resp *r)
{
	const struct evt_jtok *t = c->jp.tok;
	char id[EVT_ESS_ID_MAX + 1];
	long m = member(buf, t, obj, "subscriptionid"), n;

	if (m < 0 || t[m].type != EVT_J_STRING)
		return resp_err(r, 400, "subscriptionId missing");
	n = decode_str(buf, &t[m], id, EVT_ESS_ID_MAX, 0);
	if (n == EVT_ERR_NOMEM)
		return EVT_ERR_NOMEM;
	if (n <= 0 || c->subs == NULL ||
	    evt_ess_subs_remove(c->subs, id, (size_t)n) != 0)
		return resp_err(r, 404, "unknown subscriptionId");
	return resp_plain(r, 200);
}

/* getState: the states array comes from state_cb. */
static int
cmd_get_state(struct evt_ess_conn *c, struct resp *r)
{
	resp_begin(r, 200);
	(void)evt_buf_put(r->out, ",\"states\":", 10);
	if (c->cb.state_cb == NULL) {
		(void)evt_buf_put(r->out, "[]", 2);
	} else if (c->cb.state_cb(c->cb.arg, c->subs, r->out) < 0) {
		r->out->len = r->start;
		if (evt_buf_grow(r->out, r->cidlen + 256) != 0)
			return EVT_ERR_NOMEM;
		return resp_err(r, 500, "state unavailable");
	}
	if (evt_buf_putc(r->out, '}') != 0) {
		r->out->len = r->start;
		return EVT_ERR_NOMEM;
	}
	return 200;
}

/* Looks up the command name. */
static int
command_kind(const char *buf, const struct evt_jtok *k)
{
	static const struct {
		const char *name;
		int cmd;
	} names[] = {
		{ "authenticate", EVT_ESS_CMD_AUTHENTICATE },
		{ "startsession", EVT_ESS_CMD_START_SESSION },
		{ "addsubscription", EVT_ESS_CMD_ADD_SUBSCRIPTION },
		{ "removesubscription", EVT_ESS_CMD_REMOVE_SUBSCRIPTION },
		{ "getstate", EVT_ESS_CMD_GET_STATE },
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (ess_key_is(buf, k, names[i].name))
			return names[i].cmd;
	return EVT_ESS_CMD_UNKNOWN;
}

/* Marks the connection closed with code and reason. */
static int
conn_close(struct evt_ess_conn *c, struct evt_ess_action *act, int code,
    const char *reason)
{
	c->closed = 1;
	act->close_code = code;
	act->close_reason = reason;
	return 0;
}

/* Processes one inbound frame. */
int
evt_ess_conn_input(struct evt_ess_conn *c, const char *frame, size_t len,
    struct evt_buf *out, struct evt_ess_action *act)
{
	const struct evt_jtok *t;
	struct resp r;
	long cm, im;
	int rc, status;

	memset(act, 0, sizeof *act);
	if (c->closed)
		return EVT_ERR_STATE;
	if (len > c->lim.max_frame)
		return conn_close(c, act, 1009, "message too big");
	rc = evt_json_parse(&c->jp, frame, len);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	if (rc == EVT_ERR_DEPTH)
		return conn_close(c, act, 1008, "JSON nested too deeply");
	if (rc == EVT_ERR_TOOBIG)
		return conn_close(c, act, 1009, "message too big");
	if (rc < 0)
		return conn_close(c, act, 1007, "malformed command: not JSON");
	t = c->jp.tok;
	if (t[0].type != EVT_J_OBJECT)
		return conn_close(c, act, 1008,
		    "malformed command: not a JSON object");
	cm = member(frame, t, 0, "command");
	if (cm < 0 || t[cm].type != EVT_J_STRING)
		return conn_close(c, act, 1008,
		    "malformed command: no command name");
	act->cmd = command_kind(frame, &t[cm]);

	r.out = out;
	r.start = out->len;
	r.cid = NULL;
	r.cidlen = 0;
	if ((im = member(frame, t, 0, "commandid")) >= 0) {
		if (t[im].type == EVT_J_STRING) {
			r.cid = frame + t[im].off - 1;
			r.cidlen = t[im].len + 2;
		} else {
			r.cid = frame + t[im].off;
			r.cidlen = t[im].len;
		}
	}
	/* Room for any fixed-size response, so only getState can fail later
	 * and no state changes before a write that could fail. */
	if (evt_buf_grow(out, r.cidlen + 6 * EVT_ESS_ID_MAX + 256) != 0)
		return EVT_ERR_NOMEM;

	if (act->cmd == EVT_ESS_CMD_UNKNOWN)
		status = resp_err(&r, 400, "unknown command");
	else if (!c->authed && act->cmd != EVT_ESS_CMD_AUTHENTICATE)
		status = resp_err(&r, 401, "not authenticated");
	else if (!c->has_session && act->cmd != EVT_ESS_CMD_AUTHENTICATE &&
	    act->cmd != EVT_ESS_CMD_START_SESSION)
		status = resp_err(&r, 400, "no session: send startSession first");
	else {
		switch (act->cmd) {
		case EVT_ESS_CMD_AUTHENTICATE:
			status = cmd_authenticate(c, frame, 0, &r);
			break;
		case EVT_ESS_CMD_START_SESSION:
			status = cmd_start_session(c, frame, 0, &r, act);
			break;
		case EVT_ESS_CMD_ADD_SUBSCRIPTION:
			status = cmd_add_subscription(c, frame, 0, &r);
			break;
		case EVT_ESS_CMD_REMOVE_SUBSCRIPTION:
			status = cmd_remove_subscription(c, frame, 0, &r);
			break;
		default:
			status = cmd_get_state(c, &r);
			break;
		}
	}
	if (status < 0) {
		out->len = r.start;
		act->resumed = 0;
		return status;
	}
	act->status = status;
	return 0;
}

/* Returns the session id. */
const char *
evt_ess_conn_session_id(const struct evt_ess_conn *c, size_t *len)
{
	*len = c->has_session ? c->sidlen : 0;
	return c->has_session ? c->sid : NULL;
}

/* Returns the subscription set (borrowed). */
const struct evt_ess_subs *
evt_ess_conn_subs(const struct evt_ess_conn *c)
{
	return c->subs;
}

/* Detaches the subscription set; a later addSubscription starts a new
 * one. */
struct evt_ess_subs *
evt_ess_conn_take_subs(struct evt_ess_conn *c)
{
	struct evt_ess_subs *s = c->subs;

	c->subs = NULL;
	return s;
}

/* Returns 1 if the connection's subscriptions deliver the event. */
int
evt_ess_conn_delivers(const struct evt_ess_conn *c, const char *source,
    size_t slen, const char *type, size_t tlen)
{
	return evt_ess_subs_delivers(c->subs, source, slen, type, tlen);
}

/* ------------------------------------------------------------ client side */

/* Starts commandIds at 1. */
void
evt_ess_client_init(struct evt_ess_client *c)
{
	c->next_id = 1;
}

/* Writes {"command":"<name>","commandId":N and advances nothing yet. */
static int
cmd_begin(struct evt_ess_client *c, const char *name, struct evt_buf *out)
{
	int rc = ess_puts(out, "{\"command\":\"");

	if (rc == 0)
		rc = ess_puts(out, name);
	if (rc == 0)
		rc = ess_puts(out, "\",\"commandId\":");
	if (rc == 0)
		rc = evt_json_put_int(out, 0, c->next_id);
	return rc;
}

/* Finishes a command: closes the object, hands out the id, advances. */
static int
cmd_end(struct evt_ess_client *c, int rc, size_t start, struct evt_buf *out,
    uint64_t *id)
{
	if (rc == 0 && evt_buf_putc(out, '}') != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0) {
		out->len = start;
		return rc;
	}
	if (id != NULL)
		*id = c->next_id;
	c->next_id++;
	return 0;
}

/* Builds authenticate. */
int
evt_ess_client_authenticate(struct evt_ess_client *c, const char *token,
    size_t len, struct evt_buf *out, uint64_t *id)
{
	size_t start = out->len;
	int rc;

	if (token == NULL || len == 0)
		return EVT_ERR_ARG;
	rc = cmd_begin(c, "authenticate", out);
	if (rc == 0)
		rc = ess_puts(out, ",\"token\":\"Bearer ");
	if (rc == 0 && (len > (SIZE_MAX - 2) / 6 ||
	    evt_buf_grow(out, evt_json_string_max(len)) != 0))
		rc = EVT_ERR_NOMEM;
	if (rc == 0) {
		/* The token's literal continues the "Bearer  text: drop the
		 * opening quote evt_json_write_string writes. */
		uint8_t *at = out->p + out->len;
		size_t n = evt_json_write_string((char *)at, token, len);
		memmove(at, at + 1, n - 1);
		out->len += n - 1;
	}
	return cmd_end(c, rc, start, out, id);
}

/* Builds startSession. */
int
evt_ess_client_start_session(struct evt_ess_client *c, const char *sid,
    size_t sidlen, const char *eid, size_t eidlen, struct evt_buf *out,
    uint64_t *id)
{
	size_t start = out->len;
	int rc = cmd_begin(c, "startSession", out);

	if (rc == 0)
		rc = ess_puts(out, ",\"sessionId\":");
	if (rc == 0)
		rc = evt_json_put_string(out, sid ? sid : "", sid ? sidlen : 0);
	if (rc == 0)
		rc = ess_puts(out, ",\"eventId\":");
	if (rc == 0)
		rc = evt_json_put_string(out, eid ? eid : "", eid ? eidlen : 0);
	return cmd_end(c, rc, start, out, id);
}

/* Builds addSubscription. */
int
evt_ess_client_add_subscription(struct evt_ess_client *c,
    const char *filters, size_t len, struct evt_buf *out, uint64_t *id)
{
	struct evt_jparser p;
	size_t start = out->len;
	int rc;

	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, filters, len);
	if (rc == EVT_ERR_NOMEM) {
		evt_json_free(&p);
		return rc;
	}
	rc = (rc > 0 && p.tok[0].type == EVT_J_ARRAY) ? 0 : EVT_ERR_ARG;
	evt_json_free(&p);
	if (rc != 0)
		return rc;
	rc = cmd_begin(c, "addSubscription", out);
	if (rc == 0)
		rc = ess_puts(out, ",\"filters\":");
	if (rc == 0 && evt_buf_put(out, filters, len) != 0)
		rc = EVT_ERR_NOMEM;
	return cmd_end(c, rc, start, out, id);
}

/* Builds removeSubscription. */
int
evt_ess_client_remove_subscription(struct evt_ess_client *c,
    const char *subid, size_t len, struct evt_buf *out, uint64_t *id)
{
	size_t start = out->len;
	int rc;

	if (subid == NULL || len == 0)
		return EVT_ERR_ARG;
	rc = cmd_begin(c, "removeSubscription", out);
	if (rc == 0)
		rc = ess_puts(out, ",\"subscriptionId\":");
	if (rc == 0)
		rc = evt_json_put_string(out, subid, len);
	return cmd_end(c, rc, start, out, id);
}

/* Builds getState. */
int
evt_ess_client_get_state(struct evt_ess_client *c, struct evt_buf *out,
    uint64_t *id)
{
	size_t start = out->len;

	return cmd_end(c, cmd_begin(c, "getState", out), start, out, id);
}

/* Copies string member name of obj into dst (cap bytes); flags too long. */
static int
copy_member(const char *buf, const struct evt_jtok *t, uint32_t obj,
    const char *name, char *dst, int cut, struct evt_ess_msg *m)
{
	long i = member(buf, t, obj, name), n;

	dst[0] = '\0';
	if (i < 0 || t[i].type != EVT_J_STRING)
		return 0;
	n = decode_str(buf, &t[i], dst, EVT_ESS_ID_MAX, cut);
	if (n == EVT_ERR_NOMEM)
		return EVT_ERR_NOMEM;
	if (n < 0) {
		dst[0] = '\0';
		m->id_toolong = 1;
	}
	return 0;
}

/* Classifies an inbound frame. */
int
evt_ess_classify(struct evt_jparser *p, const char *frame, size_t len,
    struct evt_ess_msg *m)
{
	const struct evt_jtok *t;
	long ci, ei;
	int rc;

	memset(m, 0, sizeof *m);
	m->status = -1;
	rc = evt_json_parse(p, frame, len);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	if (rc < 0)
		return m->kind = EVT_ESS_NOT_JSON;
	t = p->tok;
	if (t[0].type != EVT_J_OBJECT)
		return m->kind = EVT_ESS_OTHER;
	ci = member(frame, t, 0, "commandid");
	if (ci >= 0 && t[ci].type != EVT_J_NULL) {
		long si, ei2;
		int neg;
		uint64_t mag;

		m->kind = EVT_ESS_RESPONSE;
		if (t[ci].type == EVT_J_NUMBER &&
		    evt_json_int(frame + t[ci].off, t[ci].len, &neg, &mag) &&
		    (neg ? mag <= (uint64_t)INT64_MAX + 1 : mag <= INT64_MAX)) {
			m->has_int_id = 1;
			m->command_id = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		}
		si = member(frame, t, 0, "status");
		if (si >= 0 && t[si].type == EVT_J_NUMBER &&
		    evt_json_int(frame + t[si].off, t[si].len, &neg, &mag) &&
		    mag <= 0x7fffffff)
			m->status = neg ? -(int)mag : (int)mag;
		if (copy_member(frame, t, 0, "sessionid", m->session_id, 0, m) ||
		    copy_member(frame, t, 0, "subscriptionid",
		    m->subscription_id, 0, m))
			return EVT_ERR_NOMEM;
		ei2 = member(frame, t, 0, "error");
		if (ei2 >= 0 && t[ei2].type == EVT_J_OBJECT &&
		    copy_member(frame, t, (uint32_t)ei2, "errortext",
		    m->error_text, 1, m))
			return EVT_ERR_NOMEM;
		si = member(frame, t, 0, "states");
		if (si >= 0 && t[si].type == EVT_J_ARRAY) {
			m->has_states = 1;
			m->nstates = t[si].size;
		}
		return m->kind;
	}
	ei = member(frame, t, 0, "events");
	if (ei >= 0 && t[ei].type == EVT_J_ARRAY) {
		uint32_t e = (uint32_t)ei + 1, last = 0;

		m->kind = EVT_ESS_EVENTS;
		m->nevents = t[ei].size;
		for (uint32_t i = 0; i < t[ei].size; i++) {
			last = e;
			e = t[e].next;
		}
		if (m->nevents > 0 && t[last].type == EVT_J_OBJECT &&
		    copy_member(frame, t, last, "id", m->last_id, 0, m))
			return EVT_ERR_NOMEM;
		return m->kind;
	}
	return m->kind = EVT_ESS_OTHER;
}
