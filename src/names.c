/*
 * names.c: names as of a time from CONFIG markers (see names.h).
 *
 * Each list (sources, event types, state groups) interns its lower-cased
 * ids in a dictionary (key = the id's number) and keeps one entry per
 * (id, marker) in an array; evt_names_finish sorts the array by (key,
 * receive time, order added), drops an entry equal to the one before it
 * (the next snapshot repeating a name) and notes where each key's entries
 * begin, so that a lookup is a hash probe and a binary search by time.
 * The texts (decoded from the bodies' JSON strings) live in one pool,
 * referred to by offset so that the pool may grow.
 *
 * The second half reads the CONFIG markers of an archive with as little
 * reading as the indexes, summaries and roll-up allow.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "evtape/archive.h"
#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/rollup.h"
#include "evtape/summary.h"

#define NONE UINT32_MAX

/* One item of one marker: pool offsets of its texts (NONE: absent). */
struct ent {
	uint32_t key, seq;
	int64_t rx;
	uint32_t name, state, group;
	uint32_t alt;		/* `name` when name shows displayName */
	uint32_t json;		/* name as a JSON string literal, quoted */
};

/* A lookup cache slot: an id as an event wrote it (not lower-cased) and
 * its key, or -1 for an id no marker lists. */
#define CACHE_SLOTS 256
#define CACHE_ID 64
struct cslot {
	uint32_t len;		/* 0: empty */
	int32_t key;
	char id[CACHE_ID];
};

/* One list: its ids, its entries, where each key's entries begin. */
struct lst {
	struct cslot cache[CACHE_SLOTS];
	struct evt_dict ids;
	struct ent *e;
	size_t n, cap;
	uint32_t *start;	/* after finish: nkeys + 1 offsets into e */
	size_t width;		/* the longest name, in characters */
};

struct evt_names {
	struct lst l[EVT_NAMES_NLISTS];
	struct evt_buf pool;
	struct evt_jparser jp;
	uint32_t seq;
	int cur;		/* the list evt_names_each sorts */
	char val[3][EVT_REC_MAX_INTERN + 1];	/* an event's values */
	/* evt_names_from: the record the next event text comes from. */
	struct evt_rdec *d;
	const struct evt_rec *rec;
	int64_t kid[3];		/* string ids of "source", "type",
				   "stategroupid" in d's dictionary, or -1 */
};

/* The body's member of each list, lower case (evt_ess_member folds). */
static const char *const list_key[EVT_NAMES_NLISTS] = {"sources",
    "eventtypes", "stategroups"};

/* A new set; see names.h. */
struct evt_names *
evt_names_new(void)
{
	struct evt_names *n = calloc(1, sizeof *n);
	if (n == NULL)
		return NULL;
	for (int k = 0; k < EVT_NAMES_NLISTS; k++)
		evt_dict_init(&n->l[k].ids);
	evt_json_init(&n->jp, 16);
	return n;
}

/* Frees a set; see names.h. */
void
evt_names_free(struct evt_names *n)
{
	if (n == NULL)
		return;
	for (int k = 0; k < EVT_NAMES_NLISTS; k++) {
		evt_dict_free(&n->l[k].ids);
		free(n->l[k].e);
		free(n->l[k].start);
	}
	evt_buf_free(&n->pool);
	evt_json_free(&n->jp);
	free(n);
}

/* Lower-cases s[0..len) in place (ASCII: GUIDs and resource types). */
static void
lower(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] + 32);
}

/* Copies the decoded text of string token v of body into the pool (NUL
 * added); NONE for v < 0 or a token that is not a string.  *err gets
 * EVT_ERR_NOMEM. */
static uint32_t
pool_add(struct evt_names *n, const char *body, long v, int low, int *err)
{
	const struct evt_jtok *t = v >= 0 ? &n->jp.tok[v] : NULL;
	if (t == NULL || t->type != EVT_J_STRING)
		return NONE;
	if (n->pool.len + t->len + 1 > NONE - 1 ||
	    evt_buf_grow(&n->pool, t->len + 1) != 0) {
		*err = EVT_ERR_NOMEM;
		return NONE;
	}
	uint32_t off = (uint32_t)n->pool.len;
	char *p = (char *)n->pool.p + off;
	int k = evt_json_unescape(body + t->off, t->len, p);
	if (k < 0)
		k = 0;
	if (low)
		lower(p, (size_t)k);
	p[k] = '\0';
	n->pool.len += (size_t)k + 1;
	return off;
}

/* Copies pool text at off as a JSON string literal into the pool (what
 * --names writes, escaped once here rather than once per event). */
static uint32_t
pool_json(struct evt_names *n, uint32_t off, int *err)
{
	if (off == NONE || *err != 0)
		return NONE;
	size_t len = strlen((const char *)n->pool.p + off);
	size_t max = evt_json_string_max(len) + 1;
	if (n->pool.len + max > NONE - 1 || evt_buf_grow(&n->pool, max) != 0) {
		*err = EVT_ERR_NOMEM;
		return NONE;
	}
	uint32_t at = (uint32_t)n->pool.len;
	char *p = (char *)n->pool.p + at;
	size_t k = evt_json_write_string(p, (const char *)n->pool.p + off,
	    len);
	p[k] = '\0';
	n->pool.len += k + 1;
	return at;
}

/* Adds item token j (an object) of list k of body received at rx. */
static int
item_add(struct evt_names *n, int k, int64_t rx, const char *body, uint32_t j)
{
	const struct evt_jtok *tk = n->jp.tok;
	long id = evt_ess_member(body, tk, j, "id");
	/* What people are shown: displayName, where the gateway gave one
	 * that differs from name (records.md), as the official samples
	 * show it. */
	long nm = evt_ess_member(body, tk, j, "displayname"), alt = -1;
	if (nm < 0 || tk[nm].type != EVT_J_STRING)
		nm = evt_ess_member(body, tk, j, "name");
	else
		alt = evt_ess_member(body, tk, j, "name");
	if (id < 0 || nm < 0 || tk[id].type != EVT_J_STRING ||
	    tk[nm].type != EVT_J_STRING || tk[id].len > EVT_REC_MAX_INTERN)
		return 0;
	char low[EVT_REC_MAX_INTERN + 1];
	int len = evt_json_unescape(body + tk[id].off, tk[id].len, low);
	if (len <= 0)
		return 0;
	lower(low, (size_t)len);
	low[len] = '\0';	/* kept: ids are handed out as C strings */
	struct lst *l = &n->l[k];
	int64_t key = evt_dict_str_find(&l->ids, low, (size_t)len + 1);
	if (key == -1)
		key = evt_dict_str_add(&l->ids, low, (size_t)len + 1);
	if (key < 0)
		return key == EVT_ERR_NOMEM ? EVT_ERR_NOMEM : 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct ent *e = realloc(l->e, cap * sizeof *e);
		if (e == NULL)
			return EVT_ERR_NOMEM;
		l->e = e;
		l->cap = cap;
	}
	int err = 0;
	struct ent *e = &l->e[l->n];
	*e = (struct ent){(uint32_t)key, n->seq++, rx, NONE, NONE, NONE,
	    NONE, NONE};
	e->name = pool_add(n, body, nm, 0, &err);
	e->json = pool_json(n, e->name, &err);
	e->alt = pool_add(n, body, alt, 0, &err);
	if (k == EVT_NAMES_TYPE) {
		e->state = pool_add(n, body, evt_ess_member(body, tk, j,
		    "state"), 0, &err);
		e->group = pool_add(n, body, evt_ess_member(body, tk, j,
		    "stategroupid"), 1, &err);
	}
	if (err != 0)
		return err;
	l->n++;
	return 0;
}

/* Takes a CONFIG body's items; see names.h. */
int
evt_names_add(struct evt_names *n, int64_t rx, const char *body, size_t len)
{
	int rc = evt_json_parse(&n->jp, body, len);
	if (rc < 0)
		return rc == EVT_ERR_NOMEM ? rc : EVT_ERR_JSON;
	const struct evt_jtok *tk = n->jp.tok;
	if (tk[0].type != EVT_J_OBJECT)
		return EVT_ERR_JSON;
	for (int k = 0; k < EVT_NAMES_NLISTS; k++) {
		long v = evt_ess_member(body, tk, 0, list_key[k]);
		if (v < 0 || tk[v].type != EVT_J_ARRAY)
			continue;
		for (uint32_t j = (uint32_t)v + 1; j < tk[v].next;
		    j = tk[j].next)
			if (tk[j].type == EVT_J_OBJECT &&
			    (rc = item_add(n, k, rx, body, j)) != 0)
				return rc;
	}
	return 0;
}

/* Orders entries by key, receive time, order added. */
static int
ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->rx != b->rx)
		return a->rx < b->rx ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Pool text at off, or NULL for NONE. */
static const char *
txt(const struct evt_names *n, uint32_t off)
{
	return off == NONE ? NULL : (const char *)n->pool.p + off;
}

/* Whether two pool texts are the same (both absent counts). */
static int
same(const struct evt_names *n, uint32_t a, uint32_t b)
{
	if (a == NONE || b == NONE)
		return a == b;
	return strcmp(txt(n, a), txt(n, b)) == 0;
}

/* Characters of UTF-8 text s (bytes that do not continue a sequence). */
static size_t
chars(const char *s)
{
	size_t c = 0;
	for (; *s != '\0'; s++)
		c += ((unsigned char)*s & 0xc0) != 0x80;
	return c;
}

/* Sorts for lookups; see names.h. */
int
evt_names_finish(struct evt_names *n)
{
	for (int k = 0; k < EVT_NAMES_NLISTS; k++) {
		struct lst *l = &n->l[k];
		uint32_t nkeys = l->ids.nstr;
		if (l->n > 0)	/* (qsort of NULL is undefined, even empty) */
			qsort(l->e, l->n, sizeof *l->e, ent_cmp);
		size_t w = 0;
		for (size_t i = 0; i < l->n; i++) {
			const struct ent *e = &l->e[i], *p = w > 0 ?
			    &l->e[w - 1] : NULL;
			if (p != NULL && p->key == e->key && same(n, p->name,
			    e->name) && same(n, p->alt, e->alt) &&
			    same(n, p->state, e->state) &&
			    same(n, p->group, e->group))
				continue;	/* repeated by a later marker */
			l->e[w++] = *e;
		}
		l->n = w;
		free(l->start);
		if ((l->start = calloc(nkeys + 1, sizeof *l->start)) == NULL)
			return EVT_ERR_NOMEM;
		l->width = 0;
		for (size_t i = l->n; i-- > 0;) {
			l->start[l->e[i].key] = (uint32_t)i;
			size_t c = chars(txt(n, l->e[i].name));
			if (c > l->width)
				l->width = c;
		}
		l->start[nkeys] = (uint32_t)l->n;
		/* Keys are all used: each was added with an entry. */
		memset(l->cache, 0, sizeof l->cache);
	}
	return 0;
}

/* Whether any name is known; see names.h. */
int
evt_names_any(const struct evt_names *n)
{
	return n->l[0].n + n->l[1].n + n->l[2].n > 0;
}

/* The key of id[0..len) in list l, or -1: through the cache, whose slot
 * is picked by the id's last 8 bytes (GUIDs end in random digits), so
 * that most events need one memcmp, not a lower-casing and a hash. */
static int64_t
key_of(struct lst *l, const char *id, size_t len)
{
	uint64_t tail = 0;
	memcpy(&tail, id + (len >= 8 ? len - 8 : 0), len >= 8 ? 8 : len);
	struct cslot *c = &l->cache[(tail * 0x9E3779B97F4A7C15ULL) >> 56];
	if (c->len == len && memcmp(c->id, id, len) == 0)
		return c->key;
	char low[EVT_REC_MAX_INTERN + 1];
	memcpy(low, id, len);
	lower(low, len);
	low[len] = '\0';
	int64_t key = evt_dict_str_find(&l->ids, low, len + 1);
	if (key == EVT_ERR_NOMEM)
		return -1;	/* not cached: the next lookup tries again */
	if (len <= CACHE_ID) {
		c->len = (uint32_t)len;
		c->key = (int32_t)key;
		memcpy(c->id, id, len);
	}
	return key;
}

/* Looks an id up as of a time; see names.h. */
int
evt_names_get(struct evt_names *n, enum evt_names_list list, const char *id,
    size_t len, int64_t rx, struct evt_names_item *it)
{
	struct lst *l = &n->l[list];
	if (l->start == NULL || l->n == 0 || len == 0 ||
	    len > EVT_REC_MAX_INTERN)
		return 0;
	int64_t key = key_of(l, id, len);
	if (key < 0)
		return 0;
	/* The last entry at or before rx; none: the first after it. */
	size_t lo = l->start[key], hi = l->start[key + 1];
	size_t first = lo;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->e[mid].rx <= rx)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct ent *e = &l->e[lo > first ? lo - 1 : first];
	it->name = txt(n, e->name);
	it->name_json = txt(n, e->json);
	it->state = txt(n, e->state);
	it->group = txt(n, e->group);
	return 1;
}

/* The longest name of a list; see names.h. */
size_t
evt_names_width(const struct evt_names *n, enum evt_names_list list)
{
	return n->l[list].width;
}

/* Calls cb for each distinct id with a name matching pat; see names.h. */
int
evt_names_match(const struct evt_names *n, enum evt_names_list list,
    const char *pat, int (*cb)(void *arg, const char *id), void *arg)
{
	const struct lst *l = &n->l[list];
	int found = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct ent *e = &l->e[i];
		if (fnmatch(pat, txt(n, e->name), FNM_CASEFOLD) != 0 &&
		    (e->alt == NONE || fnmatch(pat, txt(n, e->alt),
		    FNM_CASEFOLD) != 0))
			continue;
		found++;
		size_t len;
		int rc = cb(arg, evt_dict_str(&l->ids, e->key, &len));
		if (rc != 0)
			return rc;
		/* Once per id: go on with the next key. */
		while (i + 1 < l->n && l->e[i + 1].key == e->key)
			i++;
	}
	return found;
}

/* Orders entry indexes by name, then id. */
static int
name_cmp(const void *x, const void *y, void *arg)
{
	const struct evt_names *n = arg;
	const struct ent *ea = &n->l[n->cur].e[*(const size_t *)x];
	const struct ent *eb = &n->l[n->cur].e[*(const size_t *)y];
	size_t la, lb;
	int c = strcasecmp(txt(n, ea->name), txt(n, eb->name));
	if (c == 0)
		c = strcmp(evt_dict_str(&n->l[n->cur].ids, ea->key, &la),
		    evt_dict_str(&n->l[n->cur].ids, eb->key, &lb));
	return c != 0 ? c : *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* Calls cb for each distinct (id, name); see names.h. */
int
evt_names_each(const struct evt_names *n, enum evt_names_list list,
    int (*cb)(void *arg, const char *id, const char *name), void *arg)
{
	const struct lst *l = &n->l[list];
	size_t *order = malloc((l->n + 1) * sizeof *order), k = 0;
	if (order == NULL)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < l->n; i++)
		order[i] = i;
	((struct evt_names *)(uintptr_t)n)->cur = list; /* for name_cmp */
	qsort_r(order, l->n, sizeof *order, name_cmp, (void *)(uintptr_t)n);
	int rc = 0;
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct ent *e = &l->e[order[i]];
		int dup = 0;
		for (size_t j = 0; j < i && !dup; j++)
			dup = l->e[order[j]].key == e->key && same(n,
			    l->e[order[j]].name, e->name);
		size_t len;
		if (!dup && (rc = cb(arg, evt_dict_str(&l->ids, e->key, &len),
		    txt(n, e->name))) == 0)
			k++;
	}
	free(order);
	return rc != 0 ? rc : (int)k;
}

/* Decodes a raw JSON string into out; see names.h. */
const char *
evt_names_decode(const char *s, size_t len, int esc, char *out, size_t cap)
{
	int k = 0;
	if (s != NULL && len <= cap) {
		if (esc)
			k = evt_json_unescape(s, len, out);
		else
			memcpy(out, s, (size_t)(k = (int)len));
	}
	out[k < 0 ? 0 : k] = '\0';
	return out;
}

/* Takes the record of the next event text; see names.h. */
void
evt_names_from(struct evt_names *n, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	n->d = d;
	n->rec = rec;
}

/* The string id of key k (0 "source", 1 "type", 2 "stategroupid") in
 * dictionary dict: the one found last while it still holds that text
 * (a new segment's dictionary reuses ids), else looked up. */
static int64_t
key_id(struct evt_names *n, int k, struct evt_dict *dict)
{
	static const char *const key[3] = {"source", "type", "stategroupid"};
	static const size_t klen[3] = {6, 4, 12};
	size_t len;
	const char *s = n->kid[k] >= 0 ? evt_dict_str(dict,
	    (uint32_t)n->kid[k], &len) : NULL;
	if (s != NULL && len == klen[k] && memcmp(s, key[k], len) == 0)
		return n->kid[k];
	return n->kid[k] = evt_dict_str_find(dict, key[k], klen[k]);
}

/* An event's "source", "type" and "stategroupid" values: p[k][0..len[k])
 * (NUL-terminated only where said). */
struct vals {
	const char *p[3];
	size_t len[3];
};

/* Sets v from the record evt_names_from gave, by the string ids of its
 * fields (no text scanned, no key matched per event; the values point
 * into the dictionary, not NUL-terminated, cut at a NUL byte as the text
 * path's strings are): 1, or 0 when one is not an interned string (a
 * GUID, a long string: the text tells). */
static int
event_rec(struct evt_names *n, struct vals *v)
{
	struct evt_dict *dict = n->d->dict;
	int64_t keys[3], ids[3];
	if (n->rec->kind != EVT_K_EVENT)
		return 0;
	for (int k = 0; k < 3; k++)
		keys[k] = key_id(n, k, dict);
	evt_rdec_strids(n->d, n->rec, keys, 3, ids);
	for (int k = 0; k < 3; k++) {
		size_t len = 0;
		const char *s = ids[k] >= 0 ? evt_dict_str(dict,
		    (uint32_t)ids[k], &len) : ids[k] == -1 ? "" : NULL;
		if (s == NULL || len > EVT_REC_MAX_INTERN)
			return 0;
		v->p[k] = s;
		v->len[k] = strnlen(s, len);
	}
	return 1;
}

/* Sets v from event text ev[0..len) (NUL-terminated copies in n->val):
 * 0 or EVT_ERR_JSON. */
static int
event_text(struct evt_names *n, const char *ev, size_t len, struct vals *v)
{
	struct evt_ess_event_fields f;
	int rc = evt_ess_event_fields(ev, len, &f);
	if (rc < 0)
		return rc;
	const char *p[3] = {f.source, f.type, f.group};
	size_t l[3] = {f.source_len, f.type_len, f.group_len};
	for (int k = 0; k < 3; k++) {
		v->p[k] = evt_names_decode(p[k], l[k], f.escaped, n->val[k],
		    EVT_REC_MAX_INTERN);
		v->len[k] = strlen(v->p[k]);
	}
	return 0;
}

/* evt_names_event; the values in out only when strings (else ""): what
 * --names does without, a copy per event saved. */
static int
event_names(struct evt_names *n, const char *ev, size_t len, int64_t rx,
    struct evt_names_ev *out, int strings)
{
	struct evt_names_item it;
	struct vals v;
	memset(out, 0, sizeof *out);
	out->source = out->type = out->group = "";
	int from_rec = n->rec != NULL && event_rec(n, &v);
	n->d = NULL;
	n->rec = NULL;
	if (!from_rec) {
		int rc = event_text(n, ev, len, &v);
		if (rc < 0)
			return rc;
	}
	if (strings) {
		const char **o[3] = {&out->source, &out->type, &out->group};
		for (int k = 0; k < 3; k++) {
			if (from_rec) {
				memmove(n->val[k], v.p[k], v.len[k]);
				n->val[k][v.len[k]] = '\0';
			}
			*o[k] = n->val[k];
		}
	}
	if (evt_names_get(n, EVT_NAMES_SOURCE, v.p[0], v.len[0], rx, &it)) {
		out->source_name = it.name;
		out->json[0] = it.name_json;
	}
	const char *group = v.p[2];
	size_t glen = v.len[2];
	if (evt_names_get(n, EVT_NAMES_TYPE, v.p[1], v.len[1], rx, &it)) {
		out->type_name = it.name;
		out->json[1] = it.name_json;
		out->state_name = it.state;
		if (glen == 0 && it.group != NULL) {
			group = it.group;
			glen = strlen(group);
		}
	}
	if (evt_names_get(n, EVT_NAMES_GROUP, group, glen, rx, &it)) {
		out->group_name = it.name;
		out->json[2] = it.name_json;
	}
	return 0;
}

/* The names of one event; see names.h. */
int
evt_names_event(struct evt_names *n, const char *ev, size_t len, int64_t rx,
    struct evt_names_ev *out)
{
	return event_names(n, ev, len, rx, out, 1);
}

/* Appends ,"key":<v> (key with its quotes and colon, v a JSON string
 * literal) when v is not NULL. */
static int
put_member(struct evt_buf *out, const char *key, const char *v)
{
	if (v == NULL)
		return 0;
	if (evt_buf_putc(out, ',') != 0 || evt_buf_put(out, key,
	    strlen(key)) != 0)
		return EVT_ERR_NOMEM;
	return evt_buf_put(out, v, strlen(v));
}

/* Adds the name members to the event at out[mark..); see names.h. */
int
evt_names_put_json(struct evt_names *n, struct evt_buf *out, size_t mark,
    int64_t rx)
{
	const char *ev = (const char *)out->p + mark;
	size_t len = out->len - mark, close = len;
	struct evt_names_ev ne;
	while (close > 0 && ev[close - 1] != '}')
		close--;
	if (close == 0)
		n->d = NULL, n->rec = NULL;	/* evt_names_from's, unused */
	if (close == 0 || event_names(n, ev, len, rx, &ne, 0) != 0 ||
	    (!ne.source_name && !ne.type_name && !ne.group_name))
		return 0;	/* not an object, or nothing known */
	size_t i = close - 1;	/* is the object empty? */
	while (i > 0 && ev[i - 1] != '\0' && strchr(" \t\r\n", ev[i - 1]) !=
	    NULL)
		i--;
	int empty = i > 0 && ev[i - 1] == '{';
	char tail[8];
	size_t ntail = len - close + 1;
	if (ntail > sizeof tail)
		return 0;
	memcpy(tail, ev + close - 1, ntail);	/* "}" and what follows */
	out->len = mark + close - 1;
	size_t at = out->len;
	int rc = put_member(out, "\"sourceName\":", ne.json[0]);
	if (rc == 0)
		rc = put_member(out, "\"typeName\":", ne.json[1]);
	if (rc == 0)
		rc = put_member(out, "\"stateGroupName\":", ne.json[2]);
	if (rc == 0 && empty)
		memmove(out->p + at, out->p + at + 1, --out->len - at);
	return rc != 0 ? rc : evt_buf_put(out, tail, ntail);
}

/* Prepares the text form; see names.h. */
void
evt_names_text_init(struct evt_names_text *t, const struct evt_names *n,
    int utc, int verbose)
{
	memset(t, 0, sizeof *t);
	t->utc = utc;
	t->verbose = verbose;
	t->sec = INT64_MIN;
	/* Without names a column holds GUIDs (36 characters). */
	t->wsrc = (int)(evt_names_any(n) ? evt_names_width(n,
	    EVT_NAMES_SOURCE) : 36);
	t->wtype = (int)(evt_names_any(n) ? evt_names_width(n,
	    EVT_NAMES_TYPE) : 36);
	t->wgroup = (int)evt_names_width(n, EVT_NAMES_GROUP);
	if (t->wgroup < 1)
		t->wgroup = 1;
}

/* Formats a receive time; see names.h. */
size_t
evt_names_time(struct evt_names_text *t, int64_t rx, char out[48])
{
	int64_t sec = rx >= 0 ? rx / 1000000 : -((-rx + 999999) / 1000000);
	int us = (int)(rx - sec * 1000000);
	if (sec != t->sec) {
		/* localtime_r costs a lock and a zone lookup: once a second
		 * of events, not once an event. */
		time_t tt = (time_t)sec;
		struct tm tm;
		if ((t->utc ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) ==
		    NULL)
			memset(&tm, 0, sizeof tm);
		strftime(t->stamp, 24, "%Y-%m-%d %H:%M:%S", &tm);
		if (t->utc)
			strcpy(t->zone, "Z");
		else
			strftime(t->zone, sizeof t->zone, "%z", &tm);
		t->sec = sec;
	}
	/* "%s.%06d%s%s" by hand: snprintf was a tenth of -o text. */
	size_t k = strlen(t->stamp), z = strlen(t->zone);
	memcpy(out, t->stamp, k);
	out[k++] = '.';
	for (int i = 5; i >= 0; i--, us /= 10)
		out[k + (size_t)i] = (char)('0' + us % 10);
	k += 6;
	if (!t->utc)
		out[k++] = ' ';
	memcpy(out + k, t->zone, z + 1);
	return k + z;
}

/* Appends text s padded to w characters (when pad), control characters
 * shown as '?' so that a name cannot break a line: one pass over s that
 * copies, replaces and counts characters, then the padding at once. */
static int
put_col(struct evt_buf *out, const char *s, int w, int pad)
{
	size_t len = strlen(s), room = len + (w > 0 ? (size_t)w : 0);
	if (out->cap - out->len < room && evt_buf_grow(out, room) != 0)
		return EVT_ERR_NOMEM;
	uint8_t *d = out->p + out->len;
	int c = 0;
	for (size_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)s[i];
		c += (b & 0xc0) != 0x80;
		d[i] = b < 0x20 || b == 0x7f ? '?' : b;
	}
	out->len += len;
	if (pad && c < w) {
		memset(out->p + out->len, ' ', (size_t)(w - c));
		out->len += (size_t)(w - c);
	}
	return 0;
}

/* The GUID of an id (the part after the last '/'), or "-" for none. */
static const char *
guid_of(const char *id)
{
	const char *slash = strrchr(id, '/');
	return id[0] == '\0' ? "-" : slash != NULL ? slash + 1 : id;
}

/* Replaces the event at out[mark..) by its text line; see names.h. */
int
evt_names_put_text(struct evt_names *n, struct evt_names_text *t,
    struct evt_buf *out, size_t mark, int64_t rx)
{
	struct evt_names_ev ne;
	char id[EVT_REC_MAX_INTERN + 1] = "";
	const char *ev = (const char *)out->p + mark;
	size_t len = out->len - mark;
	if (t->verbose) {
		struct evt_ess_event_fields f;
		if (evt_ess_event_fields(ev, len, &f) == 0)
			evt_names_decode(f.id, f.id_len, f.escaped, id, sizeof id - 1);
	}
	evt_names_event(n, ev, len, rx, &ne);
	out->len = mark;
	char stamp[48];
	size_t k = evt_names_time(t, rx, stamp);
	const char *gname = ne.group_name != NULL ? ne.group_name :
	    guid_of(ne.group);
	int rc = evt_buf_put(out, stamp, k);
	rc |= evt_buf_put(out, "  ", 2);
	rc |= put_col(out, ne.source_name ? ne.source_name :
	    guid_of(ne.source), t->wsrc, 1);
	rc |= evt_buf_put(out, "  ", 2);
	rc |= put_col(out, ne.type_name ? ne.type_name : guid_of(ne.type),
	    t->wtype, 1);
	rc |= evt_buf_put(out, "  ", 2);
	rc |= put_col(out, gname, t->wgroup, t->verbose);
	if (t->verbose) {
		rc |= evt_buf_put(out, "  id=", 5);
		rc |= put_col(out, id[0] ? id : "-", 0, 0);
		rc |= evt_buf_put(out, " source=", 8);
		rc |= put_col(out, ne.source[0] ? ne.source : "-", 0, 0);
		rc |= evt_buf_put(out, " type=", 6);
		rc |= put_col(out, ne.type[0] ? ne.type : "-", 0, 0);
	}
	rc |= evt_buf_putc(out, '\n');
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/*
 * Reading the CONFIG markers of an archive
 */

/* Reads the CONFIG markers of segment path (seq) from the records: all of
 * them unless its index says how many there are. */
static int
configs_segment(const char *path, evt_seg_err_cb err, void *errarg,
    int (*cb)(void *, int64_t, const char *, size_t), void *arg)
{
	struct evt_segr *r;
	if (evt_segr_open(path, err, errarg, &r) != 0)
		return 0;	/* the reading of the events says why */
	const struct evt_seg_info *si = evt_segr_info(r);
	uint64_t want = UINT64_MAX, seen = 0;
	int64_t from = INT64_MIN;
	if (si->sealed && evt_segr_load_index(r) == 0) {
		want = si->frames[EVT_K_CONFIG];
		size_t len;
		const uint8_t *p = evt_segr_summary(r, &len);
		struct evt_sum s;
		const char *why;
		/* One marker: the summary says where it is. */
		if (want == 1 && p != NULL && evt_sum_decode(p, len,
		    evt_segr_decoder(r)->dict, si->nblocks, &s, &why) == 0 &&
		    s.has_config)
			from = s.config.rx;
		if (want == 1 && p != NULL)
			evt_sum_free(&s);
	}
	struct evt_buf body = {0}, tail = {0};
	struct evt_rec rec;
	int rc = 0;
	if (want > 0)
		evt_segr_rewind(r, from);
	while (seen < want && (rc = evt_segr_next(r, &rec, NULL)) == 1) {
		if (rec.kind != EVT_K_CONFIG)
			continue;
		seen++;
		body.len = 0;
		rc = evt_rdec_frame_head(evt_segr_decoder(r), &rec, &body,
		    &tail);
		if (rc == EVT_ERR_NOMEM)
			break;
		if (rc == 0 && (rc = cb(arg, rec.rx_us, (const char *)body.p,
		    body.len)) != 0)
			break;
		rc = 0;
	}
	evt_buf_free(&body);
	evt_buf_free(&tail);
	evt_segr_close(r);
	return rc < 0 && rc != EVT_ERR_NOMEM ? 0 : rc;
}

/* Reads every CONFIG marker of an archive; see names.h. */
int
evt_names_configs(struct evt_archive *a, const char *dir,
    evt_seg_err_cb err, void *errarg,
    int (*cb)(void *arg, int64_t rx, const char *body, size_t len),
    void *arg)
{
	size_t n;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	uint64_t *seqs = malloc((n + 1) * sizeof *seqs);
	struct evt_ru_view *v = NULL;
	if (seqs == NULL)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		seqs[i] = s[i].seq;
	int rc = evt_ru_view_open(dir, seqs, n, &v);
	free(seqs);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		/* A roll-up run whose segments hold no CONFIG: none read. */
		size_t k = v != NULL ? v->cover[i] : SIZE_MAX;
		if (k != SIZE_MAX && v->runs[k].frames[EVT_K_CONFIG] == 0)
			continue;
		rc = configs_segment(s[i].path, err, errarg, cb, arg);
	}
	evt_ru_view_close(v);
	return rc;
}

/* evt_names_configs callback: adds a body to the names. */
static int
read_cb(void *arg, int64_t rx, const char *body, size_t len)
{
	int rc = evt_names_add(arg, rx, body, len);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/* Reads an archive's names; see names.h. */
int
evt_names_read(struct evt_archive *a, const char *dir, struct evt_names *n)
{
	int rc = evt_names_configs(a, dir, NULL, NULL, read_cb, n);
	return rc != 0 ? rc : evt_names_finish(n);
}
