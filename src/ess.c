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
 * frame and picks out what evrec needs.
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

/* ------------------------------------------------------------- utilities */

/* ASCII lower case, leaving other bytes alone (no locale). */
static inline unsigned char
lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Returns 1 if s[0..n) equals the lower-case name, ASCII case-insensitively. */
static int
eq_fold(const char *s, size_t n, const char *name)
{
	size_t m = strlen(name);

	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lc((unsigned char)s[i]) != (unsigned char)name[i])
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
static int
puts_buf(struct evt_buf *b, const char *s)
{
	return evt_buf_put(b, s, strlen(s)) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* ------------------------------------------------------- token accessors */

/*
 * Returns 1 if key token k (a string) names `name` (lower case),
 * case-insensitively, decoding escapes when present.
 */
static int
key_is(const char *buf, const struct evt_jtok *k, const char *name)
{
	char tmp[64];
	int n;

	if (!(k->flags & EVT_JF_ESCAPED))
		return eq_fold(buf + k->off, k->len, name);
	if (k->len > sizeof tmp)
		return 0;
	n = evt_json_unescape(buf + k->off, k->len, tmp);
	return n >= 0 && eq_fold(tmp, (size_t)n, name);
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
		if (key_is(buf, &t[k], name))
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

/* --------------------------------------------------------------- filters */

struct estr {
	const char *p;
	uint32_t len;
};

/* One filter list: "*" seen, or sorted lower-case entries. */
struct elist {
	int any;
	uint32_t n;
	struct estr *v;
};

struct efilter {
	int exclude;
	struct elist l[3]; /* resourceTypes, sourceIds, eventTypes */
};

struct evt_ess_sub {
	uint32_t nf;
	struct efilter *f;
	char *arena; /* decoded, lower-cased list entries */
};

struct subent {
	char id[EVT_ESS_ID_MAX];
	size_t idlen;
	struct evt_ess_sub *sub;
};

struct evt_ess_subs {
	size_t n, cap;
	struct subent *v;
};

static const char *const list_names[3] = {
	"resourcetypes", "sourceids", "eventtypes"
};

/* Fills lim with defaults where src is NULL or zero. */
static void
limits_fill(struct evt_ess_limits *lim, const struct evt_ess_limits *src)
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

/* Orders entries bytewise, shorter first on a common prefix. */
static int
estr_cmp(const void *a, const void *b)
{
	const struct estr *x = a, *y = b;
	uint32_t n = x->len < y->len ? x->len : y->len;
	int c = n ? memcmp(x->p, y->p, n) : 0;

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* Compares a lower-case entry with a key folded on the fly (same order as
 * estr_cmp on the folded key). */
static int
cmp_fold(const struct estr *e, const char *k, size_t klen)
{
	size_t n = e->len < klen ? e->len : klen;

	for (size_t i = 0; i < n; i++) {
		int a = (unsigned char)e->p[i], b = lc((unsigned char)k[i]);
		if (a != b)
			return a - b;
	}
	return (e->len > klen) - (e->len < klen);
}

/* Returns 1 if list l matches key[0..klen). */
static int
list_has(const struct elist *l, const char *key, size_t klen)
{
	size_t lo = 0, hi = l->n;

	if (l->any)
		return 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_fold(&l->v[mid], key, klen);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Frees a subscription. */
void
evt_ess_sub_free(struct evt_ess_sub *s)
{
	if (s == NULL)
		return;
	for (uint32_t i = 0; i < s->nf; i++)
		for (int j = 0; j < 3; j++)
			free(s->f[i].l[j].v);
	free(s->f);
	free(s->arena);
	free(s);
}

/* Parses one list token li (or -1 = missing) into l, decoding into the
 * arena at *used. */
static int
list_parse(const char *buf, const struct evt_jtok *t, long li,
    const struct evt_ess_limits *lim, struct elist *l, char *arena,
    size_t *used, const char **why)
{
	uint32_t e;

	if (li < 0 || t[li].type == EVT_J_NULL)
		return 0;
	if (t[li].type != EVT_J_ARRAY) {
		*why = "filter lists must be arrays of strings";
		return EVT_ERR_ARG;
	}
	if (t[li].size > lim->max_entries) {
		*why = "too many entries in a filter list";
		return EVT_ERR_TOOBIG;
	}
	if (t[li].size == 0)
		return 0;
	if ((l->v = malloc(t[li].size * sizeof *l->v)) == NULL)
		return EVT_ERR_NOMEM;
	e = (uint32_t)li + 1;
	for (uint32_t i = 0; i < t[li].size; i++, e = t[e].next) {
		if (t[e].type != EVT_J_STRING) {
			*why = "filter lists must be arrays of strings";
			return EVT_ERR_ARG;
		}
		char *d = arena + *used;
		int n = evt_json_unescape(buf + t[e].off, t[e].len, d);
		if (n < 0) {
			*why = "bad string in a filter list";
			return EVT_ERR_ARG;
		}
		for (int k = 0; k < n; k++)
			d[k] = (char)lc((unsigned char)d[k]);
		if (n == 1 && d[0] == '*')
			l->any = 1;
		l->v[l->n].p = d;
		l->v[l->n].len = (uint32_t)n;
		l->n++;
		*used += (size_t)n;
	}
	qsort(l->v, l->n, sizeof *l->v, estr_cmp);
	return 0;
}

/* Builds a subscription from the filters array token at index ai of t. */
static int
sub_from_tokens(const char *buf, const struct evt_jtok *t, uint32_t ai,
    const struct evt_ess_limits *lim, struct evt_ess_sub **out,
    const char **why)
{
	struct evt_ess_sub *s;
	size_t used = 0;
	uint32_t fi;
	int rc;

	*out = NULL;
	if (t[ai].type != EVT_J_ARRAY) {
		*why = "filters must be an array";
		return EVT_ERR_ARG;
	}
	if (t[ai].size > lim->max_filters) {
		*why = "too many filters";
		return EVT_ERR_TOOBIG;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return EVT_ERR_NOMEM;
	if (t[ai].size > 0) {
		s->f = calloc(t[ai].size, sizeof *s->f);
		s->arena = malloc(t[ai].len);
		if (s->f == NULL || s->arena == NULL) {
			rc = EVT_ERR_NOMEM;
			goto fail;
		}
	}
	fi = ai + 1;
	for (uint32_t i = 0; i < t[ai].size; i++, fi = t[fi].next) {
		struct efilter *f = &s->f[s->nf++];
		long m;

		if (t[fi].type != EVT_J_OBJECT) {
			*why = "a filter must be an object";
			rc = EVT_ERR_ARG;
			goto fail;
		}
		m = member(buf, t, fi, "modifier");
		if (m < 0 || t[m].type != EVT_J_STRING) {
			*why = "filter modifier missing";
			rc = EVT_ERR_ARG;
			goto fail;
		}
		if (key_is(buf, &t[m], "include"))
			f->exclude = 0;
		else if (key_is(buf, &t[m], "exclude"))
			f->exclude = 1;
		else {
			*why = "filter modifier must be include or exclude";
			rc = EVT_ERR_ARG;
			goto fail;
		}
		for (int j = 0; j < 3; j++) {
			rc = list_parse(buf, t, member(buf, t, fi, list_names[j]),
			    lim, &f->l[j], s->arena, &used, why);
			if (rc != 0)
				goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	evt_ess_sub_free(s);
	return rc;
}

/* Parses a filters array text into a subscription. */
int
evt_ess_sub_parse(const char *json, size_t len,
    const struct evt_ess_limits *lim, struct evt_ess_sub **out,
    const char **why)
{
	struct evt_ess_limits l;
	struct evt_jparser p;
	const char *w = NULL;
	int rc;

	*out = NULL;
	limits_fill(&l, lim);
	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, json, len);
	if (rc < 0) {
		w = "filters are not valid JSON";
	} else {
		rc = sub_from_tokens(json, p.tok, 0, &l, out, &w);
	}
	evt_json_free(&p);
	if (why != NULL)
		*why = w;
	return rc;
}

/* Splits a source into resource type and source id. */
static void
split_source(const char *src, size_t slen, const char **rt, size_t *rtl,
    const char **id, size_t *idl)
{
	const char *slash = slen ? memchr(src, '/', slen) : NULL;

	if (slash == NULL) {
		*rt = *id = src;
		*rtl = *idl = slen;
		return;
	}
	*rt = src;
	*rtl = (size_t)(slash - src);
	*id = slash + 1;
	*idl = slen - *rtl - 1;
}

/* Matches an already split event against subscription s. */
static int
sub_match(const struct evt_ess_sub *s, const char *rt, size_t rtl,
    const char *id, size_t idl, const char *ty, size_t tyl)
{
	int inc = 0;

	for (uint32_t i = 0; i < s->nf; i++) {
		const struct efilter *f = &s->f[i];
		if (f->exclude == 0 && inc)
			continue; /* already included; only excludes matter */
		if (!list_has(&f->l[0], rt, rtl) || !list_has(&f->l[1], id, idl) ||
		    !list_has(&f->l[2], ty, tyl))
			continue;
		if (f->exclude)
			return 0;
		inc = 1;
	}
	return inc;
}

/* Returns 1 if s delivers the event. */
int
evt_ess_sub_delivers(const struct evt_ess_sub *s, const char *source,
    size_t slen, const char *type, size_t tlen)
{
	const char *rt, *id;
	size_t rtl, idl;

	if (s == NULL)
		return 0;
	split_source(source, slen, &rt, &rtl, &id, &idl);
	return sub_match(s, rt, rtl, id, idl, type, tlen);
}

/* Returns a new empty set. */
struct evt_ess_subs *
evt_ess_subs_new(void)
{
	return calloc(1, sizeof(struct evt_ess_subs));
}

/* Frees a set. */
void
evt_ess_subs_free(struct evt_ess_subs *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++)
		evt_ess_sub_free(set->v[i].sub);
	free(set->v);
	free(set);
}

/* Returns the index of id in set, or -1. */
static long
subs_find(const struct evt_ess_subs *set, const char *id, size_t idlen)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].idlen == idlen && memcmp(set->v[i].id, id, idlen) == 0)
			return (long)i;
	return -1;
}

/* Adds a subscription under an id. */
int
evt_ess_subs_add(struct evt_ess_subs *set, const char *id, size_t idlen,
    struct evt_ess_sub *sub)
{
	if (sub == NULL || idlen == 0 || idlen > EVT_ESS_ID_MAX) {
		evt_ess_sub_free(sub);
		return EVT_ERR_ARG;
	}
	if (subs_find(set, id, idlen) >= 0) {
		evt_ess_sub_free(sub);
		return EVT_ERR_EXISTS;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 4;
		struct subent *v = realloc(set->v, cap * sizeof *v);
		if (v == NULL) {
			evt_ess_sub_free(sub);
			return EVT_ERR_NOMEM;
		}
		set->v = v;
		set->cap = cap;
	}
	memcpy(set->v[set->n].id, id, idlen);
	set->v[set->n].idlen = idlen;
	set->v[set->n].sub = sub;
	set->n++;
	return 0;
}

/* Removes a subscription by id, keeping the order of the others. */
int
evt_ess_subs_remove(struct evt_ess_subs *set, const char *id, size_t idlen)
{
	long i = subs_find(set, id, idlen);

	if (i < 0)
		return EVT_ERR_NOTFOUND;
	evt_ess_sub_free(set->v[i].sub);
	memmove(&set->v[i], &set->v[i + 1],
	    (set->n - (size_t)i - 1) * sizeof set->v[0]);
	set->n--;
	return 0;
}

/* Returns the number of subscriptions. */
size_t
evt_ess_subs_count(const struct evt_ess_subs *set)
{
	return set == NULL ? 0 : set->n;
}

/* Returns 1 if any subscription delivers the event. */
int
evt_ess_subs_delivers(const struct evt_ess_subs *set, const char *source,
    size_t slen, const char *type, size_t tlen)
{
	const char *rt, *id;
	size_t rtl, idl;

	if (set == NULL)
		return 0;
	split_source(source, slen, &rt, &rtl, &id, &idl);
	for (size_t i = 0; i < set->n; i++)
		if (sub_match(set->v[i].sub, rt, rtl, id, idl, type, tlen))
			return 1;
	return 0;
}

/* ------------------------------------------------- command-line filters */

/* Trims spaces and tabs from both ends of s[*a..*b). */
static void
trim(const char *s, size_t *a, size_t *b)
{
	while (*a < *b && (s[*a] == ' ' || s[*a] == '\t'))
		(*a)++;
	while (*b > *a && (s[*b - 1] == ' ' || s[*b - 1] == '\t'))
		(*b)--;
}

/* Appends the JSON array of the comma-separated value v[0..n); ids says
 * items must be "*" or GUIDs (written lower case). */
static int
spec_list(struct evt_buf *out, const char *v, size_t n, int ids)
{
	size_t i = 0;
	int first = 1;

	if (evt_buf_putc(out, '[') != 0)
		return EVT_ERR_NOMEM;
	for (;;) {
		const char *c = memchr(v + i, ',', n - i);
		size_t a = i, b = c ? (size_t)(c - v) : n;
		trim(v, &a, &b);
		if (a == b)
			return EVT_ERR_ARG;
		if (!first && evt_buf_putc(out, ',') != 0)
			return EVT_ERR_NOMEM;
		first = 0;
		if (b - a == 1 && v[a] == '*') {
			if (puts_buf(out, "\"*\"") != 0)
				return EVT_ERR_NOMEM;
		} else if (ids) {
			uint8_t g[16];
			char txt[36];
			if (!evt_guid_parse(v + a, b - a, g, 0))
				return EVT_ERR_ARG;
			evt_guid_format(g, txt);
			if (evt_json_put_string(out, txt, 36) != 0)
				return EVT_ERR_NOMEM;
		} else {
			for (size_t k = a; k < b; k++)
				if ((unsigned char)v[k] < 0x20 ||
				    (unsigned char)v[k] >= 0x7f)
					return EVT_ERR_ARG;
			if (evt_json_put_string(out, v + a, b - a) != 0)
				return EVT_ERR_NOMEM;
		}
		if (c == NULL)
			break;
		i = (size_t)(c - v) + 1;
	}
	return evt_buf_putc(out, ']') == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Builds one filter object from the command-line syntax. */
int
evt_ess_filter_spec(int exclude, const char *spec, size_t len,
    struct evt_buf *out)
{
	static const char *const wire[3] = {
		"resourceTypes", "sourceIds", "eventTypes"
	};
	size_t va[3], vn[3];
	int seen[3] = { 0, 0, 0 };
	size_t start = out->len, i = 0;
	int rc;

	while (i < len) {
		const char *semi = memchr(spec + i, ';', len - i);
		size_t a = i, b = semi ? (size_t)(semi - spec) : len;
		i = b + 1;
		trim(spec, &a, &b);
		if (a == b)
			continue;
		const char *eq = memchr(spec + a, '=', b - a);
		if (eq == NULL)
			return EVT_ERR_ARG;
		size_t ka = a, kb = (size_t)(eq - spec);
		trim(spec, &ka, &kb);
		int j;
		for (j = 0; j < 3; j++)
			if (eq_fold(spec + ka, kb - ka, list_names[j]))
				break;
		if (j == 3 || seen[j])
			return EVT_ERR_ARG;
		seen[j] = 1;
		va[j] = (size_t)(eq - spec) + 1;
		vn[j] = b - va[j];
	}
	/* ";;;" names nothing: a mistake, not "everything" ("" is). */
	if (len > 0 && !seen[0] && !seen[1] && !seen[2])
		return EVT_ERR_ARG;
	rc = puts_buf(out, exclude ? "{\"modifier\":\"exclude\"" :
	    "{\"modifier\":\"include\"");
	for (int j = 0; j < 3 && rc == 0; j++) {
		rc = puts_buf(out, ",\"");
		if (rc == 0)
			rc = puts_buf(out, wire[j]);
		if (rc == 0)
			rc = puts_buf(out, "\":");
		if (rc == 0 && !seen[j])
			rc = puts_buf(out, "[\"*\"]");
		else if (rc == 0)
			rc = spec_list(out, spec + va[j], vn[j], j > 0);
	}
	if (rc == 0 && evt_buf_putc(out, '}') != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0)
		out->len = start;
	return rc;
}

/* Builds the filters array from several specs. */
int
evt_ess_filters_from_specs(const char *const *specs, const int *exclude,
    size_t n, struct evt_buf *out)
{
	size_t start = out->len;
	int rc = evt_buf_putc(out, '[') == 0 ? 0 : EVT_ERR_NOMEM;

	if (rc == 0 && n == 0)
		rc = evt_ess_filter_spec(0, "", 0, out);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (i > 0 && evt_buf_putc(out, ',') != 0)
			rc = EVT_ERR_NOMEM;
		if (rc == 0)
			rc = evt_ess_filter_spec(exclude != NULL && exclude[i],
			    specs[i], strlen(specs[i]), out);
	}
	if (rc == 0 && evt_buf_putc(out, ']') != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0)
		out->len = start;
	return rc;
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

/* Returns 1 if set delivers the event object text. */
int
evt_ess_subs_delivers_event(const struct evt_ess_subs *set,
    const char *json, size_t len)
{
	struct evt_ess_event_fields f;
	char *tmp;
	int n1, n2, r;

	if (set == NULL || set->n == 0 ||
	    evt_ess_event_fields(json, len, &f) != 0 || f.source == NULL ||
	    f.type == NULL)
		return 0;
	if (!f.escaped)
		return evt_ess_subs_delivers(set, f.source, f.source_len, f.type,
		    f.type_len);
	if ((tmp = malloc(f.source_len + f.type_len + 1)) == NULL)
		return 0;
	n1 = evt_json_unescape(f.source, f.source_len, tmp);
	n2 = n1 < 0 ? -1 :
	    evt_json_unescape(f.type, f.type_len, tmp + n1);
	r = (n1 >= 0 && n2 >= 0) ?
	    evt_ess_subs_delivers(set, tmp, (size_t)n1, tmp + n1, (size_t)n2) : 0;
	free(tmp);
	return r;
}

/* Appends open, the delivered texts joined by ',', close; returns count. */
static int
join(const struct evt_ess_subs *set, int filter, const char *const *ev,
    const size_t *lens, size_t n, const char *open, const char *close,
    int skip_empty, struct evt_buf *out)
{
	size_t start = out->len;
	int cnt = 0;

	if (puts_buf(out, open) != 0)
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
	if (puts_buf(out, close) != 0) {
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
	limits_fill(&c->lim, lim);
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
		if (c->subs != NULL && avoid == NULL && subs_find(c->subs, out, n) >= 0)
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
		if (n >= 7 && eq_fold(tok, 7, "bearer "))
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
	if (c->subs->n >= c->lim.max_subs)
		return resp_err(r, 413, "too many subscriptions");
	m = member(buf, t, obj, "filters");
	if (m < 0 || t[m].type == EVT_J_NULL)
		sub = calloc(1, sizeof *sub);
	else if ((rc = sub_from_tokens(buf, t, (uint32_t)m, &c->lim, &sub,
	    &why)) != 0) {
		if (rc == EVT_ERR_NOMEM)
			return rc;
		return resp_err(r, rc == EVT_ERR_TOOBIG ? 413 : 400,
		    why ? why : "invalid filters");
	}
	if (sub == NULL)
		return EVT_ERR_NOMEM;
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
		if (key_is(buf, k, names[i].name))
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
	int rc = puts_buf(out, "{\"command\":\"");

	if (rc == 0)
		rc = puts_buf(out, name);
	if (rc == 0)
		rc = puts_buf(out, "\",\"commandId\":");
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
		rc = puts_buf(out, ",\"token\":\"Bearer ");
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
		rc = puts_buf(out, ",\"sessionId\":");
	if (rc == 0)
		rc = evt_json_put_string(out, sid ? sid : "", sid ? sidlen : 0);
	if (rc == 0)
		rc = puts_buf(out, ",\"eventId\":");
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
		rc = puts_buf(out, ",\"filters\":");
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
		rc = puts_buf(out, ",\"subscriptionId\":");
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
