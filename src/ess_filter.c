/*
 * ess_filter.c: subscriptions and their include/exclude filters
 * (ess_filter.h), sans-I/O.
 *
 * Data flow: a "filters" array, already tokenized (the addSubscription
 * command's frame, ess.c) or as text (evt_ess_sub_parse), becomes a
 * struct evt_ess_sub: per filter three lists whose entries are decoded,
 * lower-cased into one arena and sorted, so that matching an event is
 * three binary searches per filter with the key folded on the fly.  A
 * session's subscriptions are a struct evt_ess_subs keyed by id.  The
 * command-line syntax of evrec builds the same arrays as text.
 *
 * Decisions (docs/ess-protocol.md is silent; see also the list atop
 * ess.c): "filters" missing or null matches nothing; a null list is like
 * a missing one; [] matches nothing; "*" anywhere in a list matches
 * anything; excludes act only within their own subscription; names and
 * values compare ASCII case-insensitively.
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "ess_int.h"

/* --------------------------------------------------------- subscriptions */

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
		int a = (unsigned char)e->p[i], b = ess_lc((unsigned char)k[i]);
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
			d[k] = (char)ess_lc((unsigned char)d[k]);
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
sub_from_array(const char *buf, const struct evt_jtok *t, uint32_t ai,
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
		m = evt_ess_member(buf, t, fi, "modifier");
		if (m < 0 || t[m].type != EVT_J_STRING) {
			*why = "filter modifier missing";
			rc = EVT_ERR_ARG;
			goto fail;
		}
		if (ess_key_is(buf, &t[m], "include"))
			f->exclude = 0;
		else if (ess_key_is(buf, &t[m], "exclude"))
			f->exclude = 1;
		else {
			*why = "filter modifier must be include or exclude";
			rc = EVT_ERR_ARG;
			goto fail;
		}
		for (int j = 0; j < 3; j++) {
			rc = list_parse(buf, t, evt_ess_member(buf, t, fi, list_names[j]),
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

/* Builds the subscription of an addSubscription command (ess_int.h). */
int
ess_sub_from_tokens(const char *buf, const struct evt_jtok *t, long ai,
    const struct evt_ess_limits *lim, struct evt_ess_sub **out,
    const char **why)
{
	if (ai >= 0 && t[ai].type != EVT_J_NULL)
		return sub_from_array(buf, t, (uint32_t)ai, lim, out, why);
	/* Missing or null: a subscription that matches nothing. */
	*out = calloc(1, sizeof **out);
	return *out != NULL ? 0 : EVT_ERR_NOMEM;
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
	ess_limits_fill(&l, lim);
	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, json, len);
	if (rc < 0) {
		w = "filters are not valid JSON";
	} else {
		rc = sub_from_array(json, p.tok, 0, &l, out, &w);
	}
	evt_json_free(&p);
	if (why != NULL)
		*why = w;
	return rc;
}

/* An event as filters see it: resource type, source id and type. */
struct ev_key {
	const char *rt, *id, *ty;
	size_t rtl, idl, tyl;
};

/* Fills k from an event's source (split at its first '/'; a source
 * without one is both resource type and source id) and type. */
static void
ev_key(struct ev_key *k, const char *src, size_t slen, const char *type,
    size_t tlen)
{
	const char *slash = slen ? memchr(src, '/', slen) : NULL;

	k->ty = type;
	k->tyl = tlen;
	k->rt = src;
	if (slash == NULL) {
		k->id = src;
		k->rtl = k->idl = slen;
		return;
	}
	k->rtl = (size_t)(slash - src);
	k->id = slash + 1;
	k->idl = slen - k->rtl - 1;
}

/* Matches an event against subscription s. */
static int
sub_match(const struct evt_ess_sub *s, const struct ev_key *k)
{
	int inc = 0;

	for (uint32_t i = 0; i < s->nf; i++) {
		const struct efilter *f = &s->f[i];
		if (f->exclude == 0 && inc)
			continue; /* already included; only excludes matter */
		if (!list_has(&f->l[0], k->rt, k->rtl) ||
		    !list_has(&f->l[1], k->id, k->idl) ||
		    !list_has(&f->l[2], k->ty, k->tyl))
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
	struct ev_key k;

	ev_key(&k, source, slen, type, tlen);
	return s != NULL && sub_match(s, &k);
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

/* Returns the index of id in set, or -1 (ess_int.h). */
long
ess_subs_find(const struct evt_ess_subs *set, const char *id, size_t idlen)
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
	if (ess_subs_find(set, id, idlen) >= 0) {
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
	long i = ess_subs_find(set, id, idlen);

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
	struct ev_key k;

	if (set == NULL)
		return 0;
	ev_key(&k, source, slen, type, tlen);
	for (size_t i = 0; i < set->n; i++)
		if (sub_match(set->v[i].sub, &k))
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
			if (ess_puts(out, "\"*\"") != 0)
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

/* Ends the text begun at out[start] with ch; on an error (rc, or no
 * memory for ch) takes all of it back.  Returns rc or EVT_ERR_NOMEM. */
static int
spec_end(struct evt_buf *out, int rc, char ch, size_t start)
{
	if (rc == 0 && evt_buf_putc(out, ch) != 0)
		rc = EVT_ERR_NOMEM;
	if (rc != 0)
		out->len = start;
	return rc;
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
			if (ess_eq_fold(spec + ka, kb - ka, list_names[j]))
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
	rc = ess_puts(out, exclude ? "{\"modifier\":\"exclude\"" :
	    "{\"modifier\":\"include\"");
	for (int j = 0; j < 3 && rc == 0; j++) {
		rc = ess_puts(out, ",\"");
		if (rc == 0)
			rc = ess_puts(out, wire[j]);
		if (rc == 0)
			rc = ess_puts(out, "\":");
		if (rc == 0 && !seen[j])
			rc = ess_puts(out, "[\"*\"]");
		else if (rc == 0)
			rc = spec_list(out, spec + va[j], vn[j], j > 0);
	}
	return spec_end(out, rc, '}', start);
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
	return spec_end(out, rc, ']', start);
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
