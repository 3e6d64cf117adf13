/*
 * cfgrest.c: Config REST answers from a CONFIG marker body (see
 * cfgrest.h).  The body is tokenized once; each request walks the three
 * lists (eventTypes, stateGroups, sources) and copies the recorded string
 * tokens, which are valid JSON string contents already, into the answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/cfgrest.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"

struct evt_cfgrest {
	char *text;
	size_t len;
	struct evt_jparser jp;
	long list[3];		/* token of eventTypes, stateGroups, sources
				   (an array), or -1 */
};

enum { L_TYPES, L_GROUPS, L_SOURCES };
/* Member names as evt_ess_member wants them: lower case (it compares
 * ASCII case-insensitively). */
static const char *const list_names[] = { "eventtypes", "stategroups",
    "sources" };

/* Parses a CONFIG body (see cfgrest.h). */
int
evt_cfgrest_new(const char *body, size_t len, struct evt_cfgrest **out)
{
	struct evt_cfgrest *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->text = malloc(len + 1)) == NULL) {
		free(c);
		return EVT_ERR_NOMEM;
	}
	memcpy(c->text, body, len);
	c->text[len] = '\0';
	c->len = len;
	evt_json_init(&c->jp, 16);
	if ((rc = evt_json_parse(&c->jp, c->text, len)) < 0 ||
	    c->jp.tok[0].type != EVT_J_OBJECT) {
		evt_cfgrest_free(c);
		return rc == EVT_ERR_NOMEM ? rc : EVT_ERR_JSON;
	}
	for (int k = L_TYPES; k <= L_SOURCES; k++) {
		long v = evt_ess_member(c->text, c->jp.tok, 0, list_names[k]);

		c->list[k] = v >= 0 && c->jp.tok[v].type == EVT_J_ARRAY ?
		    v : -1;
	}
	*out = c;
	return 0;
}

/* Frees it. */
void
evt_cfgrest_free(struct evt_cfgrest *c)
{
	if (c == NULL)
		return;
	evt_json_free(&c->jp);
	free(c->text);
	free(c);
}

/* Returns the string member key of object token o, or -1. */
static long
str_member(const struct evt_cfgrest *c, uint32_t o, const char *key)
{
	long v = evt_ess_member(c->text, c->jp.tok, o, key);

	return v >= 0 && c->jp.tok[v].type == EVT_J_STRING ? v : -1;
}

/* Appends ,"key":"s" (s[0..n) is JSON string content; no comma if
 * first). */
static int
put_member(struct evt_buf *b, int first, const char *key, const char *s,
    size_t n)
{
	int rc = 0;

	if (!first)
		rc |= evt_buf_putc(b, ',');
	rc |= evt_buf_putc(b, '"');
	rc |= evt_buf_put(b, key, strlen(key));
	rc |= evt_buf_put(b, "\":\"", 3);
	rc |= evt_buf_put(b, s, n);
	rc |= evt_buf_putc(b, '"');
	return rc ? EVT_ERR_NOMEM : 0;
}

/* Appends one item (object token o, its id id[0..idn) without a source
 * kind prefix) of collection coll[0..colln). */
static int
put_item(struct evt_buf *b, const struct evt_cfgrest *c, uint32_t o,
    const char *id, size_t idn, const char *coll, size_t colln)
{
	const struct evt_jtok *t = c->jp.tok;
	long name = str_member(c, o, "name");
	long dn = str_member(c, o, "displayname");
	long st = str_member(c, o, "state");
	long sg = str_member(c, o, "stategroupid");
	const char *x = c->text;
	int rc = 0;

	if (dn < 0)
		dn = name;
	rc |= evt_buf_putc(b, '{');
	rc |= put_member(b, 1, "id", id, idn);
	if (name >= 0)
		rc |= put_member(b, 0, "name", x + t[name].off, t[name].len);
	if (dn >= 0)
		rc |= put_member(b, 0, "displayName", x + t[dn].off,
		    t[dn].len);
	if (st >= 0)
		rc |= put_member(b, 0, "state", x + t[st].off, t[st].len);
	if (sg >= 0 && t[sg].len > 0)
		rc |= put_member(b, 0, "stateGroupId", x + t[sg].off,
		    t[sg].len);
	rc |= evt_buf_put(b, ",\"relations\":{\"self\":{",
	    strlen(",\"relations\":{\"self\":{"));
	rc |= put_member(b, 1, "type", coll, colln);
	rc |= put_member(b, 0, "id", id, idn);
	rc |= evt_buf_put(b, "}}}", 3);
	return rc ? EVT_ERR_NOMEM : 0;
}

/* Answers a request (see cfgrest.h). */
int
evt_cfgrest_answer(const struct evt_cfgrest *c, const char *path,
    size_t len, struct evt_buf *out)
{
	const struct evt_jtok *t = c->jp.tok;
	const char *slash = memchr(path, '/', len), *want = NULL;
	size_t colln = slash != NULL ? (size_t)(slash - path) : len;
	size_t wantn = slash != NULL ? len - colln - 1 : 0, mark = out->len;
	int k, found = 0, first = 1;

	if (colln == 0)
		return 404;
	if (wantn > 0)
		want = slash + 1;
	if (want != NULL && memchr(want, '/', wantn) != NULL)
		return 404;
	if (colln == 10 && strncasecmp(path, "eventTypes", 10) == 0)
		k = L_TYPES;
	else if (colln == 11 && strncasecmp(path, "stateGroups", 11) == 0)
		k = L_GROUPS;
	else
		k = L_SOURCES;
	if (c->list[k] < 0)
		return 404;
	if (want == NULL && evt_buf_put(out, "{\"array\":[", 10) != 0)
		return EVT_ERR_NOMEM;
	uint32_t e = (uint32_t)c->list[k] + 1;
	for (uint32_t i = 0; i < t[c->list[k]].size; i++, e = t[e].next) {
		long id;
		const char *s;
		size_t n;

		if (t[e].type != EVT_J_OBJECT || (id = str_member(c, e,
		    "id")) < 0)
			continue;
		s = c->text + t[id].off;
		n = t[id].len;
		if (k == L_SOURCES) {
			/* "cameras/<guid>": this collection's items only. */
			if (n <= colln || s[colln] != '/' ||
			    strncasecmp(s, path, colln) != 0)
				continue;
			s += colln + 1;
			n -= colln + 1;
		}
		if (want != NULL && (n != wantn || strncasecmp(s, want,
		    n) != 0))
			continue;
		found = 1;
		if (want != NULL)
			if (evt_buf_put(out, "{\"data\":", 8) != 0)
				goto nomem;
		if ((!first && evt_buf_putc(out, ',') != 0) ||
		    put_item(out, c, e, s, n, path, colln) != 0)
			goto nomem;
		first = 0;
		if (want != NULL)
			return evt_buf_putc(out, '}') == 0 ? 200 :
			    (out->len = mark, EVT_ERR_NOMEM);
	}
	if (want != NULL || (k == L_SOURCES && !found)) {
		out->len = mark;
		return 404;
	}
	if (evt_buf_put(out, "]}", 2) != 0)
		goto nomem;
	return 200;
nomem:
	out->len = mark;
	return EVT_ERR_NOMEM;
}

/*
 * Merging markers: a set of the ids taken, by lower-cased hash, open
 * addressing, grown at half full.
 */
struct idset {
	struct { const char *s; size_t n; } *slot;
	size_t cap, used;
};

/* FNV-1a of s[0..n) in lower case. */
static uint64_t
id_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) *
		    1099511628211ULL;
	}
	return h;
}

/* Adds s[0..n) (borrowed) to the set: 1 when new, 0 when there already,
 * EVT_ERR_NOMEM. */
static int
idset_add(struct idset *set, const char *s, size_t n)
{
	if (2 * (set->used + 1) > set->cap) {
		struct idset big = { NULL, set->cap ? 2 * set->cap : 64, 0 };
		if ((big.slot = calloc(big.cap, sizeof *big.slot)) == NULL)
			return EVT_ERR_NOMEM;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slot[i].s != NULL)
				idset_add(&big, set->slot[i].s,
				    set->slot[i].n);
		free(set->slot);
		*set = big;
	}
	size_t i = id_hash(s, n) & (set->cap - 1);
	for (; set->slot[i].s != NULL; i = (i + 1) & (set->cap - 1))
		if (set->slot[i].n == n && strncasecmp(set->slot[i].s, s,
		    n) == 0)
			return 0;
	set->slot[i].s = s;
	set->slot[i].n = n;
	set->used++;
	return 1;
}

/* Appends to out the items of list k of c whose ids set does not hold
 * yet (and adds them); *first: no item written yet.  0 or
 * EVT_ERR_NOMEM. */
static int
merge_list(const struct evt_cfgrest *c, int k, struct idset *set,
    int *first, struct evt_buf *out)
{
	const struct evt_jtok *t = c->jp.tok;
	if (c->list[k] < 0)
		return 0;
	uint32_t e = (uint32_t)c->list[k] + 1;
	for (uint32_t i = 0; i < t[c->list[k]].size; i++, e = t[e].next) {
		long id;
		int rc;
		if (t[e].type != EVT_J_OBJECT || (id = str_member(c, e,
		    "id")) < 0)
			continue;
		if ((rc = idset_add(set, c->text + t[id].off, t[id].len)) <= 0) {
			if (rc < 0)
				return rc;
			continue;
		}
		if ((!*first && evt_buf_putc(out, ',') != 0) ||
		    evt_buf_put(out, c->text + t[e].off, t[e].len) != 0)
			return EVT_ERR_NOMEM;
		*first = 0;
	}
	return 0;
}

/* Writes list k of the merge of cs[0..n) as of marker at (see cfgrest.h)
 * into out: nothing when no marker has the list. */
static int
merge_one(struct evt_cfgrest *const *cs, size_t n, size_t at, int k,
    struct evt_buf *out)
{
	static const char *const key[] = { "eventTypes", "stateGroups",
	    "sources" };
	struct idset set = {0};
	size_t j;
	int first = 1, rc = 0;
	for (j = 0; j < n && cs[j]->list[k] < 0; j++)
		;
	if (j == n)
		return 0;
	rc |= evt_buf_put(out, out->len > 1 ? ",\"" : "\"", out->len > 1 ?
	    2 : 1);
	rc |= evt_buf_put(out, key[k], strlen(key[k]));
	rc |= evt_buf_put(out, "\":[", 3);
	/* The latest at or before `at` first, then the earliest after. */
	for (j = at + 1; rc == 0 && j-- > 0;)
		rc = merge_list(cs[j], k, &set, &first, out);
	for (j = at + 1; rc == 0 && j < n; j++)
		rc = merge_list(cs[j], k, &set, &first, out);
	if (rc == 0)
		rc = evt_buf_putc(out, ']');
	free(set.slot);
	return rc ? EVT_ERR_NOMEM : 0;
}

/* Merges markers; see cfgrest.h. */
int
evt_cfgrest_merge(struct evt_cfgrest *const *cs, size_t n, size_t at,
    struct evt_cfgrest **out)
{
	struct evt_buf b = {0};
	int rc = evt_buf_putc(&b, '{') != 0 ? EVT_ERR_NOMEM : 0;
	*out = NULL;
	for (int k = L_TYPES; rc == 0 && k <= L_SOURCES; k++)
		rc = merge_one(cs, n, at, k, &b);
	if (rc == 0 && evt_buf_putc(&b, '}') != 0)
		rc = EVT_ERR_NOMEM;
	if (rc == 0)
		rc = evt_cfgrest_new((const char *)b.p, b.len, out);
	evt_buf_free(&b);
	return rc;
}

/* The body c was parsed from; see cfgrest.h. */
const char *
evt_cfgrest_body(const struct evt_cfgrest *c, size_t *len)
{
	*len = c->len;
	return c->text;
}
