/*
 * stats.c: the activity picture of `evtool stats` (see stats.h).
 *
 * Data flow: records in (evt_stats_record, one segment after the other)
 * -> counts per type and source string (a dictionary per table, a count
 * per string id; per segment a cache from the segment's string ids to the
 * table entries, so that most events cost two id lookups), counts per time
 * bucket, frame counts, the last CONFIG body -> evt_stats_print: one walk
 * over the results (summary, the two tables in count order with their
 * names, the bucket rows) that calls a printer, text or JSON, per step.
 *
 * Errors: out of memory is sticky (st->err) and returned by every later
 * call; nothing here reads a file or writes to one.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/names.h"
#include "evtape/stats.h"
#include "evtape/summary.h"
#include "evtape/timefmt.h"

/* Activity rows shown when the bucket width is chosen automatically. */
#define STATS_ROWS 48
/* Buckets kept while counting: the auto width's finest. */
#define STATS_AUTO_SLOTS 4096
#define SEC ((int64_t)1000000)

/* Counts per string (event type or source): the strings interned in a
 * dictionary, whose bounds (EVT_DICT_MAX_STRINGS, EVT_DICT_MAX_BYTES)
 * bound the memory, and a count per string id. */
struct ctab {
	struct evt_dict d;
	uint64_t *count;
	uint32_t cap;
	uint64_t other; /* events of strings beyond the bounds */
};

/*
 * Events per time bucket: a fixed array of slots of width w (µs) from bucket
 * number base (receive time / w, rounded down).  When an event falls outside
 * what the slots cover, the width grows to the next one of its ladder
 * (auto: 1s, 10s, 1m, 10m, 1h, 1d, then x10; --bucket D: D, 2D, 4D, ...),
 * each a multiple of the one before, so the counts merge exactly.
 */
struct activity {
	int64_t w, base, lo, hi; /* lo, hi: buckets used, absolute */
	int64_t w0;		/* the width counted with at first */
	uint64_t *slot;		/* alloc slots; those past it are 0 */
	uint32_t cap, alloc;	/* cap: the slots a width may use */
	int user, any;
};

/* Where the fields of keys kid[0], kid[1] are in events of one shape
 * (evt_rdec_key_at); known 0: not looked up yet. */
struct keypos {
	uint32_t vi[2], enc[2];
	int known;
};

/* Everything stats counts. */
struct evt_stats {
	const struct evt_sel *sel;
	struct ctab types, sources;
	struct activity act;
	uint64_t events, messages, frames[EVT_K_MAX + 1];
	int64_t first, last;
	struct evt_buf config; /* the last CONFIG marker's body */
	struct evt_names *names; /* evt_stats_names (borrowed), or NULL */
	/* Per segment: string id -> 0 unknown, 1 filtered out, 2 other,
	 * else entry index + 3 (of sources; of types). */
	uint32_t *scache, *tcache;
	size_t ccap;
	int64_t kid[2];	   /* per segment: string ids of "source", "type" */
	uint32_t kid_nstr; /* dictionary size when they were looked up */
	/* Per segment and shape id: where the source and type fields are
	 * (evt_rdec_key_at), so that events are not matched by key; at most
	 * one entry per shape of the segment's dictionary. */
	struct keypos *kpos;
	uint32_t kcap;
	int in_msg, kept;  /* the frame being read is a MSG; events of it
			      counted */
	struct evt_buf tmp, key, sval, tval;
	int err;	   /* sticky: EVT_ERR_NOMEM */
};

/* Keeps the first error of st; returns it. */
static int
st_fail(struct evt_stats *st, int rc)
{
	if (rc < 0 && st->err == 0)
		st->err = rc;
	return st->err;
}

/* Finds key s[0..len) or adds it with count 0; returns its id, -1 if the
 * dictionary is full, or EVT_ERR_NOMEM. */
static int64_t
ctab_find(struct ctab *t, const char *s, size_t len)
{
	int64_t id = evt_dict_str_find(&t->d, s, len);
	if (id == -1)
		id = evt_dict_str_add(&t->d, s, len);
	if (id == EVT_ERR_TOOBIG)
		return -1;
	if (id < 0)
		return EVT_ERR_NOMEM;
	if ((uint64_t)id >= t->cap) {
		uint32_t n = t->cap ? 2 * t->cap : 64;
		uint64_t *c = realloc(t->count, n * sizeof *c);
		if (c == NULL)
			return EVT_ERR_NOMEM;
		memset(c + t->cap, 0, (n - t->cap) * sizeof *c);
		t->count = c;
		t->cap = n;
	}
	return id;
}

/* Frees a table. */
static void
ctab_free(struct ctab *t)
{
	evt_dict_free(&t->d);
	free(t->count);
}

/* Ordering of string ids of table arg for printing: count descending,
 * then text (qsort_r). */
static int
id_cmp(const void *a, const void *b, void *arg)
{
	const struct ctab *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	const uint64_t *c = t->count;
	if (c[x] != c[y])
		return c[x] < c[y] ? 1 : -1;
	size_t lx, ly;
	const char *sx = evt_dict_str(&t->d, x, &lx);
	const char *sy = evt_dict_str(&t->d, y, &ly);
	int r = memcmp(sx, sy, lx < ly ? lx : ly);
	return r ? r : (lx > ly) - (lx < ly);
}

/* Floor division. */
static int64_t
fdiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The auto ladder's width after w. */
static int64_t
auto_next(int64_t w)
{
	static const int64_t lad[] = {SEC, 10 * SEC, 60 * SEC, 600 * SEC,
	    3600 * SEC, 86400 * SEC};
	for (size_t i = 0; i + 1 < sizeof lad / sizeof lad[0]; i++)
		if (w == lad[i])
			return lad[i + 1];
	return w * 10;
}

/* Widens the buckets to the next width of the ladder. */
static void
act_widen(struct activity *a)
{
	int64_t nw = a->user ? a->w * 2 : auto_next(a->w);
	int64_t nbase = fdiv(a->base * a->w, nw);
	for (int64_t i = 0; i <= a->hi - a->base; i++) {
		uint64_t v = a->slot[i];
		a->slot[i] = 0;
		a->slot[fdiv((a->base + i) * a->w, nw) - nbase] += v;
	}
	a->lo = fdiv(a->lo * a->w, nw);
	a->hi = fdiv(a->hi * a->w, nw);
	a->base = nbase;
	a->w = nw;
}

/* Makes at least n (<= cap) slots allocated, the new ones 0: the slots
 * grow with the span counted, so that a count of one segment's hour (a
 * summary being built, 3,600 one-second buckets) holds 29 kB, not the
 * 800 kB of a full --bucket count.  0 or EVT_ERR_NOMEM. */
static int
act_room(struct activity *a, int64_t n)
{
	if (n <= a->alloc)
		return 0;
	uint32_t c = a->alloc ? a->alloc : 64;
	while (c < n)
		c *= 2;
	c = c < a->cap ? c : a->cap;
	uint64_t *p = realloc(a->slot, (size_t)c * sizeof *p);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	memset(p + a->alloc, 0, (size_t)(c - a->alloc) * sizeof *p);
	a->slot = p;
	a->alloc = c;
	return 0;
}

/* Counts n events received at t (n 0: t only widens the span counted).
 * 0 or EVT_ERR_NOMEM. */
static int
act_add(struct activity *a, int64_t t, uint64_t n)
{
	int64_t k = fdiv(t, a->w);
	if (!a->any) {
		a->any = 1;
		a->base = a->lo = a->hi = k;
	}
	while (k < a->base || k - a->base >= a->cap) {
		int64_t lo = k < a->lo ? k : a->lo, hi = k > a->hi ? k : a->hi;
		if (hi - lo < a->cap) { /* fits: move the slots */
			if (act_room(a, hi - lo + 1) != 0)
				return EVT_ERR_NOMEM;
			memmove(a->slot + (a->lo - lo), a->slot + (a->lo -
			    a->base), (size_t)(a->hi - a->lo + 1) * 8);
			if (lo < a->lo)
				memset(a->slot, 0, (size_t)(a->lo - lo) * 8);
			else
				memset(a->slot + (a->hi - lo + 1), 0,
				    (size_t)(a->alloc - (a->hi - lo + 1)) * 8);
			a->base = lo;
			break;
		}
		act_widen(a);
		k = fdiv(t, a->w);
	}
	if (act_room(a, k - a->base + 1) != 0)
		return EVT_ERR_NOMEM;
	if (k < a->lo)
		a->lo = k;
	if (k > a->hi)
		a->hi = k;
	a->slot[k - a->base] += n;
	return 0;
}

/* A new count; see stats.h. */
struct evt_stats *
evt_stats_new(const struct evt_sel *sel, int64_t bucket_us)
{
	struct evt_stats *st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	st->sel = sel;
	st->first = INT64_MAX;
	st->last = INT64_MIN;
	st->act.w = st->act.w0 = bucket_us > 0 ? bucket_us : SEC;
	st->act.user = bucket_us > 0;
	st->act.cap = bucket_us > 0 ? EVT_STATS_MAX_BUCKETS : STATS_AUTO_SLOTS;
	evt_dict_init(&st->types.d);
	evt_dict_init(&st->sources.d);
	return st;
}

/* Frees a count. */
void
evt_stats_free(struct evt_stats *st)
{
	if (st == NULL)
		return;
	ctab_free(&st->types);
	ctab_free(&st->sources);
	free(st->act.slot);
	free(st->scache);
	free(st->tcache);
	free(st->kpos);
	evt_buf_free(&st->config);
	evt_buf_free(&st->tmp);
	evt_buf_free(&st->key);
	evt_buf_free(&st->sval);
	evt_buf_free(&st->tval);
	free(st);
}

/* Forgets the string ids of the previous segment. */
void
evt_stats_segment(struct evt_stats *st)
{
	if (st->ccap > 0) {
		memset(st->scache, 0, st->ccap * sizeof(uint32_t));
		memset(st->tcache, 0, st->ccap * sizeof(uint32_t));
	}
	st->kid[0] = st->kid[1] = -1;
	st->kid_nstr = UINT32_MAX;
	if (st->kcap > 0)
		memset(st->kpos, 0, st->kcap * sizeof *st->kpos);
	st->in_msg = st->kept = 0;
}

/* Counts n events of key s[0..len) in t (once per string id of the
 * segment when sid >= 0, through cache); returns 0, 1 if the key does not
 * pass the source selection sel (NULL: none), or EVT_ERR_NOMEM. */
static int
stats_key(struct evt_stats *st, struct ctab *t, uint32_t *cache, int64_t sid,
    const char *s, size_t len, const struct evt_sel *sel, uint64_t n)
{
	uint32_t c = sid >= 0 ? cache[sid] : 0;
	if (c == 0) {
		if (sel != NULL && sel->nsources > 0) {
			st->key.len = 0;
			if (evt_buf_put(&st->key, s, len) != 0 ||
			    evt_buf_putc(&st->key, 0) != 0)
				return EVT_ERR_NOMEM;
			c = evt_sel_source(sel, (const char *)st->key.p) ? 0 :
			    1;
		}
		if (c == 0) {
			int64_t e = ctab_find(t, s, len);
			if (e == EVT_ERR_NOMEM)
				return EVT_ERR_NOMEM;
			c = e < 0 ? 2 : (uint32_t)e + 3;
		}
		if (sid >= 0)
			cache[sid] = c;
	}
	if (c == 1)
		return 1;
	if (c == 2)
		t->other += n;
	else
		t->count[c - 3] += n;
	return 0;
}

/* Makes the per-segment caches hold string id sid; 0 or EVT_ERR_NOMEM. */
static int
stats_cache_fit(struct evt_stats *st, uint64_t sid)
{
	if (sid < st->ccap)
		return 0;
	size_t n = sid < 512 ? 1024 : 2 * (size_t)sid;
	uint32_t *s = realloc(st->scache, n * sizeof(uint32_t));
	if (s != NULL)
		st->scache = s;
	uint32_t *t = realloc(st->tcache, n * sizeof(uint32_t));
	if (t != NULL)
		st->tcache = t;
	if (s == NULL || t == NULL)
		return EVT_ERR_NOMEM;
	memset(st->scache + st->ccap, 0, (n - st->ccap) * sizeof(uint32_t));
	memset(st->tcache + st->ccap, 0, (n - st->ccap) * sizeof(uint32_t));
	st->ccap = n;
	return 0;
}

/* Decodes the JSON string text raw[0..len) (NULL: absent) into out;
 * returns the text, "" when absent or not decodable. */
static const char *
stats_unescape(struct evt_buf *out, const char *raw, size_t len, size_t *n)
{
	*n = 0;
	out->len = 0;
	if (raw == NULL || evt_buf_grow(out, len + 1) != 0)
		return "";
	int k = evt_json_unescape(raw, len, (char *)out->p);
	*n = k > 0 ? (size_t)k : 0;
	return (const char *)out->p;
}

/* Where the source and type fields are in events of shape sh of d
 * (looked up once per shape and segment); NULL when out of memory. */
static const struct keypos *
stats_keypos(struct evt_stats *st, const struct evt_rdec *d, uint32_t sh)
{
	if (sh >= st->kcap) {
		uint32_t n = sh < 256 ? 512 : 2 * sh;
		struct keypos *k = realloc(st->kpos, n * sizeof *k);
		if (k == NULL)
			return NULL;
		memset(k + st->kcap, 0, (n - st->kcap) * sizeof *k);
		st->kpos = k;
		st->kcap = n;
	}
	struct keypos *k = &st->kpos[sh];
	if (!k->known) {
		for (int j = 0; j < 2; j++)
			evt_rdec_key_at(d, sh, st->kid[j], &k->vi[j],
			    &k->enc[j]);
		k->known = 1;
	}
	return k;
}

/* Finds the source and type of an EVENT record by their string ids:
 * ids[i] -2 where the value is not an interned string (then *s, *t are
 * not set), -1 where the field is absent ("" then). */
static int
stats_ids(struct evt_stats *st, struct evt_rdec *d, const struct evt_rec *rec,
    int64_t ids[2], const char **s, size_t *slen, const char **t,
    size_t *tlen)
{
	/* The key ids, once per segment (while the dictionary of a
	 * segment read from its start grows, until they are in it). */
	if ((st->kid[0] < 0 || st->kid[1] < 0) &&
	    d->dict->nstr != st->kid_nstr) {
		int64_t k0 = evt_dict_str_find(d->dict, "source", 6);
		int64_t k1 = evt_dict_str_find(d->dict, "type", 4);
		if (k0 < -1 || k1 < -1)
			return EVT_ERR_NOMEM;
		if ((k0 != st->kid[0] || k1 != st->kid[1]) && st->kcap > 0)
			memset(st->kpos, 0, st->kcap * sizeof *st->kpos);
		st->kid[0] = k0;
		st->kid[1] = k1;
		st->kid_nstr = d->dict->nstr;
	}
	const struct keypos *k = stats_keypos(st, d, rec->shape);
	if (k == NULL)
		return EVT_ERR_NOMEM;
	const msgpack_object *p = rec->o->via.array.ptr;
	int json = 0;
	for (int j = 0; j < 2; j++) {
		if (k->vi[j] == 0)
			ids[j] = -1;
		else if (k->enc[j] == EVT_ENC_STR)
			ids[j] = (int64_t)p[k->vi[j]].via.u64;
		else
			ids[j] = -2;
		json |= k->vi[j] != 0 && k->enc[j] == EVT_ENC_JSON;
	}
	/* A JSON value decides by its type: the event's own fields. */
	if (json)
		evt_rdec_strids(d, rec, st->kid, 2, ids);
	if (ids[0] >= 0 && (*s = evt_dict_str(d->dict, (uint32_t)ids[0],
	    slen)) == NULL)
		ids[0] = -2;
	if (ids[1] >= 0 && (*t = evt_dict_str(d->dict, (uint32_t)ids[1],
	    tlen)) == NULL)
		ids[1] = -2;
	return 0;
}

/* Counts one event (EVENT or ITEM record of a MSG frame); returns 1, 0
 * if it does not pass the source selection, or EVT_ERR_NOMEM. */
static int
stats_event(struct evt_stats *st, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	const char *s = "", *t = "";
	size_t slen = 0, tlen = 0;
	int64_t ids[2] = {-2, -2};
	if (rec->kind == EVT_K_EVENT && stats_ids(st, d, rec, ids, &s, &slen,
	    &t, &tlen) != 0)
		return EVT_ERR_NOMEM;
	if (ids[0] == -2 || ids[1] == -2) {
		/* An ITEM, a long or odd value: from the JSON text. */
		struct evt_ess_event_fields ef = {0};
		st->tmp.len = 0;
		int rc = evt_rdec_item_json(d, rec, &st->tmp);
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (evt_ess_event_fields((const char *)st->tmp.p, st->tmp.len,
		    &ef) != 0)
			memset(&ef, 0, sizeof ef);
		s = stats_unescape(&st->sval, ef.source, ef.source_len, &slen);
		t = stats_unescape(&st->tval, ef.type, ef.type_len, &tlen);
		ids[0] = ids[1] = -1;
	}
	if (stats_cache_fit(st, (uint64_t)(ids[0] > ids[1] ? ids[0] :
	    ids[1]) + 1) != 0)
		return EVT_ERR_NOMEM;
	int rc = stats_key(st, &st->sources, st->scache, ids[0], s, slen,
	    st->sel, 1);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = stats_key(st, &st->types, st->tcache, ids[1], t, tlen, NULL, 1);
	if (rc < 0)
		return rc;
	st->events++;
	if (act_add(&st->act, rec->rx_us, 1) != 0)
		return EVT_ERR_NOMEM;
	if (rec->rx_us < st->first)
		st->first = rec->rx_us;
	if (rec->rx_us > st->last)
		st->last = rec->rx_us;
	return 1;
}

/* Keeps the body of a CONFIG marker; see stats.h. */
int
evt_stats_config(struct evt_stats *st, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	struct evt_buf tail = {0};
	st->tmp.len = 0;
	int rc = evt_rdec_frame_head(d, rec, &st->tmp, &tail);
	evt_buf_free(&tail);
	if (rc == 0) {
		st->config.len = 0;
		if (evt_buf_put(&st->config, st->tmp.p, st->tmp.len) != 0)
			rc = EVT_ERR_NOMEM;
	}
	return rc == EVT_ERR_NOMEM ? st_fail(st, rc) : rc;
}

/* Counts one record of the segment being read; see stats.h. */
int
evt_stats_record(struct evt_stats *st, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	if (st->err != 0)
		return st->err;
	if (rec->kind == EVT_K_STRDEF || rec->kind == EVT_K_SHAPEDEF)
		return 0;
	int inrange = evt_sel_time(st->sel, rec->rx_us);
	if (rec->kind == EVT_K_EVENT || rec->kind == EVT_K_ITEM) {
		if (!st->in_msg || !inrange)
			return 0;
		int rc = stats_event(st, d, rec);
		if (rc < 0)
			return st_fail(st, rc);
		if (rc == 1 && !st->kept++)
			st->messages++;
		return 0;
	}
	st->in_msg = rec->kind == EVT_K_MSG;
	st->kept = 0;
	if (!inrange)
		return 0;
	st->frames[rec->kind]++;
	return rec->kind == EVT_K_CONFIG ? evt_stats_config(st, d, rec) : 0;
}

/* Names the report from every CONFIG marker; see stats.h. */
void
evt_stats_names(struct evt_stats *st, struct evt_names *nm)
{
	st->names = nm;
}

/* Whether names were taken; see stats.h. */
int
evt_stats_has_config(const struct evt_stats *st)
{
	return st->config.len > 0;
}

/* The width counted with; see stats.h. */
int64_t
evt_stats_bucket(const struct evt_stats *st)
{
	return st->act.w;
}

/* Frames of kind counted so far; see stats.h. */
uint64_t
evt_stats_frames(const struct evt_stats *st, int kind)
{
	return kind >= 0 && kind <= EVT_K_MAX ? st->frames[kind] : 0;
}

/* Lists the keys of table t with their counts as summary keys (texts
 * borrowed from t); 0 or EVT_ERR_NOMEM. */
static int
sum_keys(const struct ctab *t, struct evt_sum_key **out, uint32_t *n)
{
	*n = t->d.nstr;
	*out = calloc(*n + 1, sizeof **out);
	if (*out == NULL)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < *n; i++) {
		(*out)[i].s = evt_dict_str(&t->d, i, &(*out)[i].len);
		(*out)[i].count = t->count[i];
	}
	return 0;
}

/* The count of one whole segment as a summary; see stats.h. */
int
evt_stats_export(const struct evt_stats *st, struct evt_sum *s)
{
	const struct activity *a = &st->act;
	if (st->err != 0)
		return st->err;
	memcpy(s->frames, st->frames, sizeof s->frames);
	/* Strings past the dictionary's bounds were not counted by name,
	 * and a widened activity has lost its seconds. */
	s->complete = st->types.other == 0 && st->sources.other == 0 &&
	    st->types.d.nstr <= EVT_SUM_MAX_KEYS &&
	    st->sources.d.nstr <= EVT_SUM_MAX_KEYS && a->w == a->w0;
	if (!s->complete)
		return 0;
	s->bucket_us = a->w;
	s->events = st->events;
	s->messages = st->messages;
	s->first_rx = st->first;
	s->last_rx = st->last;
	if (sum_keys(&st->types, &s->types, &s->ntypes) != 0 ||
	    sum_keys(&st->sources, &s->sources, &s->nsources) != 0)
		return EVT_ERR_NOMEM;
	uint32_t n = 0;
	for (int64_t k = a->lo; a->any && k <= a->hi; k++)
		n += a->slot[k - a->base] != 0;
	s->buckets = calloc(n + 1, sizeof *s->buckets);
	if (s->buckets == NULL)
		return EVT_ERR_NOMEM;
	for (int64_t k = a->lo; a->any && k <= a->hi; k++)
		if (a->slot[k - a->base] != 0)
			s->buckets[s->nbuckets++] = (struct evt_sum_bucket){k,
			    a->slot[k - a->base]};
	return 0;
}

/* How many of a summary's sources the selection takes; see stats.h. */
int
evt_stats_sum_selects(struct evt_stats *st, const struct evt_sum *s)
{
	uint32_t in = 0;
	if (st->sel->nsources == 0 || s->nsources == 0)
		return s->nsources == 0 ? EVT_STATS_SEL_NONE :
		    EVT_STATS_SEL_ALL;
	for (uint32_t i = 0; i < s->nsources; i++) {
		st->key.len = 0;
		if (evt_buf_put(&st->key, s->sources[i].s, s->sources[i].len) !=
		    0 || evt_buf_putc(&st->key, 0) != 0)
			return st_fail(st, EVT_ERR_NOMEM);
		in += (uint32_t)evt_sel_source(st->sel,
		    (const char *)st->key.p);
	}
	return in == 0 ? EVT_STATS_SEL_NONE : in == s->nsources ?
	    EVT_STATS_SEL_ALL : EVT_STATS_SEL_SOME;
}

/* The bucket width of summary s (0 in one built by hand: a segment's). */
static int64_t
sum_width(const struct evt_sum *s)
{
	return s->bucket_us > 0 ? s->bucket_us : EVT_SUM_BUCKET_US;
}

/* Whether the events of summary s can be counted exactly; see stats.h. */
int
evt_stats_sum_exact(const struct evt_stats *st, const struct evt_sum *s)
{
	const struct activity *a = &st->act;
	int64_t w = a->w, lo = s->first_rx, hi = s->last_rx;
	if (s->events == 0 || sum_width(s) == EVT_SUM_BUCKET_US)
		return 1;
	if (a->any) {
		lo = a->lo * a->w < lo ? a->lo * a->w : lo;
		hi = a->hi * a->w + a->w - 1 > hi ? a->hi * a->w + a->w - 1 :
		    hi;
	}
	/* The width the count will have at least once s is in: the first
	 * of the ladder from the current one whose slots hold the span.
	 * Every width after it is a multiple of it. */
	while (fdiv(hi, w) - fdiv(lo, w) >= a->cap)
		w = a->user ? w * 2 : auto_next(w);
	return w % sum_width(s) == 0;
}

/* Notes events that will be counted; see stats.h. */
int
evt_stats_span(struct evt_stats *st, int64_t first, int64_t last)
{
	if (st->err == 0 && (act_add(&st->act, first, 0) != 0 ||
	    act_add(&st->act, last, 0) != 0))
		return st_fail(st, EVT_ERR_NOMEM);
	return st->err;
}

/* Adds a whole segment's summary; see stats.h. */
int
evt_stats_add_sum(struct evt_stats *st, const struct evt_sum *s, int events)
{
	if (st->err != 0)
		return st->err;
	for (int k = 0; k <= EVT_K_MAX; k++)
		st->frames[k] += s->frames[k];
	if (!events || s->events == 0)
		return 0;
	for (uint32_t i = 0; i < s->nsources; i++)
		if (stats_key(st, &st->sources, NULL, -1, s->sources[i].s,
		    s->sources[i].len, st->sel, s->sources[i].count) < 0)
			return st_fail(st, EVT_ERR_NOMEM);
	for (uint32_t i = 0; i < s->ntypes; i++)
		if (stats_key(st, &st->types, NULL, -1, s->types[i].s,
		    s->types[i].len, NULL, s->types[i].count) < 0)
			return st_fail(st, EVT_ERR_NOMEM);
	/* Every width counted with is a whole number of seconds, aligned to
	 * the epoch: a second lies inside one bucket of any of them, and a
	 * wider bucket of a roll-up run inside one of the final width when
	 * evt_stats_sum_exact said so.  The span is the events' own, so
	 * that the widths the count passes through are a scan's. */
	int64_t w = sum_width(s);
	int rc = act_add(&st->act, s->first_rx, 0);
	if (rc == 0)
		rc = act_add(&st->act, s->last_rx, 0);
	for (uint32_t i = 0; rc == 0 && i < s->nbuckets; i++) {
		int64_t t = s->buckets[i].k * w;
		rc = act_add(&st->act, t > s->first_rx ? t : s->first_rx,
		    s->buckets[i].count);
	}
	if (rc != 0)
		return st_fail(st, rc);
	st->events += s->events;
	st->messages += s->messages;
	if (s->first_rx < st->first)
		st->first = s->first_rx;
	if (s->last_rx > st->last)
		st->last = s->last_rx;
	return 0;
}

/*
 * The report: one walk over the results, a printer per form.
 */

/* The output of a report: a buffer, its drain and the first error. */
struct sout {
	const struct evt_stats_out *o;
	int err;
	int64_t names_at;	/* names as of this receive time */
};

/* Appends s[0..len) to the report. */
static void
sput(struct sout *o, const void *s, size_t len)
{
	if (evt_buf_put(o->o->buf, s, len) != 0)
		o->err = EVT_ERR_NOMEM;
}

/* Appends printf output to the report. */
static void
sprint(struct sout *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sprint(struct sout *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sput(o, tmp, (size_t)n < sizeof tmp ? (size_t)n :
		    sizeof tmp - 1);
}

/* Lets the caller write out what the report holds so far. */
static void
sdrain(struct sout *o)
{
	if (o->o->drain != NULL)
		o->o->drain(o->o->arg, o->o->buf);
}

/* Appends s[0..len) as a JSON string when json, else with control
 * characters shown as '?' (one row stays one line). */
static void
put_str(struct sout *o, int json, const char *s, size_t len)
{
	if (json) {
		if (evt_json_put_string(o->o->buf, s, len) != 0)
			o->err = EVT_ERR_NOMEM;
		return;
	}
	struct evt_buf *b = o->o->buf;
	size_t at = b->len;
	sput(o, s, len);
	for (size_t i = at; i < b->len; i++)
		if (b->p[i] < 0x20 || b->p[i] == 0x7f)
			b->p[i] = '?';
}

/* Formats a bucket width: "10s", "5m", "1h", "2d". */
static void
fmt_dur(int64_t us, char out[32])
{
	int64_t s = us / SEC;
	if (s % 86400 == 0)
		snprintf(out, 32, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		snprintf(out, 32, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		snprintf(out, 32, "%" PRId64 "m", s / 60);
	else
		snprintf(out, 32, "%" PRId64 "s", s);
}

/* Formats a time for a row: "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static void
time_sec(int64_t us, char out[28])
{
	evt_time_format_us(us, out);
	out[19] = 'Z';
	out[20] = 0;
}

/* The figures of the report's head and its bucket rows. */
struct summary {
	const struct evt_stats *st;
	const char *archive;
	uint64_t damaged;
	double span, mean, peak_rate;
	uint64_t peak;		/* events of the busiest row; 0: none */
	int64_t peak_at;
	int64_t w, row0;	/* the rows' width and first bucket number */
	size_t nrows;
	uint64_t *rows;
	char wname[32];
};

/* One table of the report: types or sources. */
struct table {
	const char *title, *key;
	uint32_t distinct;
	int more;		/* strings beyond the bounds were counted */
	uint64_t rest, total;	/* events not in a row; all events */
};

/* One row of a table: key[0..len) (decoded), its name (decoded, and as a
 * JSON string literal; NULL: none) and its count. */
struct row {
	const char *key, *name, *name_json;
	size_t len;
	uint64_t count;
	double pct;
};

/* The steps of a report, one printer per form. */
struct printer {
	void (*head)(struct sout *o, const struct summary *s);
	void (*table_begin)(struct sout *o, const struct table *t);
	void (*table_row)(struct sout *o, const struct table *t,
	    const struct row *r, uint64_t i);
	void (*table_end)(struct sout *o, const struct table *t);
	void (*rows_begin)(struct sout *o, const struct summary *s);
	void (*row)(struct sout *o, const struct summary *s, int64_t at,
	    uint64_t count, size_t i);
	void (*end)(struct sout *o);
};

/* The text head: one "name: value" line each. */
static void
text_head(struct sout *o, const struct summary *s)
{
	const struct evt_stats *st = s->st;
	char t1[28], t2[28];
	sprint(o, "archive:         %s\n", s->archive);
	if (st->events) {
		evt_time_format_us(st->first, t1);
		evt_time_format_us(st->last, t2);
		sprint(o, "first received:  %s\nlast received:   %s\n"
		    "span:            %.3f s\n", t1, t2, s->span);
	}
	sprint(o, "events:          %" PRIu64 "\nmessages:        %" PRIu64
	    "\n", st->events, st->messages);
	if (s->span > 0)
		sprint(o, "mean rate:       %.1f events/s\n", s->mean);
	if (s->peak) {
		time_sec(s->peak_at, t1);
		sprint(o, "peak rate:       %.1f events/s (busiest %s "
		    "bucket, from %s)\n", s->peak_rate, s->wname, t1);
	}
	sprint(o, "state snapshots: %" PRIu64 "\nsessions:        %" PRIu64
	    "\ngaps:            %" PRIu64 "%s\nraw frames:      %" PRIu64
	    "\ndamaged:         %" PRIu64 "%s\n", st->frames[EVT_K_STATES],
	    st->frames[EVT_K_SESSION], st->frames[EVT_K_GAP],
	    st->frames[EVT_K_GAP] ? " (events may be missing)" : "",
	    st->frames[EVT_K_RAW], s->damaged,
	    s->damaged ? " (skipped; see the warnings)" : "");
}

/* The text table's title and column heads. */
static void
text_table_begin(struct sout *o, const struct table *t)
{
	sprint(o, "\n%s (%" PRIu32 "%s):\n%12s %7s  %s\n", t->title,
	    t->distinct, t->more ? "+" : "", "count", "%", t->key);
}

/* A text table row: "count pct%  name (key)" or "count pct%  key". */
static void
text_table_row(struct sout *o, const struct table *t, const struct row *r,
    uint64_t i)
{
	sprint(o, "%12" PRIu64 " %6.2f%%  ", r->count, r->pct);
	if (r->name != NULL) {
		put_str(o, 0, r->name, strlen(r->name));
		sprint(o, " (");
	}
	if (r->len == 0)
		sprint(o, "(none)");
	put_str(o, 0, r->key, r->len);
	sprint(o, "%s\n", r->name != NULL ? ")" : "");
}

/* The text table's "(other)" row, if any. */
static void
text_table_end(struct sout *o, const struct table *t)
{
	if (t->rest > 0)
		sprint(o, "%12" PRIu64 " %6.2f%%  (other)\n", t->rest,
		    t->total ? 100.0 * (double)t->rest / (double)t->total : 0);
}

/* The text activity title. */
static void
text_rows_begin(struct sout *o, const struct summary *s)
{
	if (s->nrows > 0)
		sprint(o, "\nevents per %s:\n", s->wname);
}

/* A text activity row: "time  count  ####" (the bar scaled to the peak). */
static void
text_row(struct sout *o, const struct summary *s, int64_t at,
    uint64_t count, size_t i)
{
	char t1[28];
	time_sec(at, t1);
	int bar = (int)((count * 50 + s->peak - 1) / s->peak);
	sprint(o, "%s %10" PRIu64 "  ", t1, count);
	for (int b = 0; b < bar; b++)
		sput(o, "#", 1);
	sput(o, "\n", 1);
}

/* The text report has no closing line. */
static void
text_end(struct sout *o)
{
}

/* The JSON head: archive to damaged. */
static void
json_head(struct sout *o, const struct summary *s)
{
	const struct evt_stats *st = s->st;
	char t1[28], t2[28];
	sprint(o, "{\"archive\":");
	put_str(o, 1, s->archive, strlen(s->archive));
	if (st->events) {
		evt_time_format_us(st->first, t1);
		evt_time_format_us(st->last, t2);
		sprint(o, ",\"first\":\"%s\",\"first_us\":%" PRId64
		    ",\"last\":\"%s\",\"last_us\":%" PRId64 ",\"span_s\":%.6f",
		    t1, st->first, t2, st->last, s->span);
	} else {
		sprint(o, ",\"first\":null,\"first_us\":null,\"last\":null,"
		    "\"last_us\":null,\"span_s\":0");
	}
	sprint(o, ",\"events\":%" PRIu64 ",\"messages\":%" PRIu64
	    ",\"mean_rate\":%.3f,\"peak_rate\":%.3f", st->events,
	    st->messages, s->mean, s->peak_rate);
	if (s->peak) {
		time_sec(s->peak_at, t1);
		sprint(o, ",\"peak_at\":\"%s\"", t1);
	} else {
		sprint(o, ",\"peak_at\":null");
	}
	sprint(o, ",\"state_snapshots\":%" PRIu64 ",\"sessions\":%" PRIu64
	    ",\"gaps\":%" PRIu64 ",\"configs\":%" PRIu64 ",\"raw_frames\":%"
	    PRIu64 ",\"damaged\":%" PRIu64, st->frames[EVT_K_STATES],
	    st->frames[EVT_K_SESSION], st->frames[EVT_K_GAP],
	    st->frames[EVT_K_CONFIG], st->frames[EVT_K_RAW], s->damaged);
}

/* The JSON table's member name. */
static void
json_table_begin(struct sout *o, const struct table *t)
{
	sprint(o, ",\"%s\":[", t->title);
}

/* A JSON table row: {"<key>":...,"name":...,"count":...,"percent":...}. */
static void
json_table_row(struct sout *o, const struct table *t, const struct row *r,
    uint64_t i)
{
	sprint(o, "%s{\"%s\":", i ? "," : "", t->key);
	put_str(o, 1, r->key, r->len);
	sprint(o, ",\"name\":");
	if (r->name != NULL)
		sput(o, r->name_json, strlen(r->name_json));
	else
		sprint(o, "null");
	sprint(o, ",\"count\":%" PRIu64 ",\"percent\":%.2f}", r->count,
	    r->pct);
}

/* The JSON table's distinct and other counts. */
static void
json_table_end(struct sout *o, const struct table *t)
{
	sprint(o, "],\"%s_distinct\":%" PRIu32 ",\"%s_other\":%" PRIu64,
	    t->title, t->distinct, t->title, t->rest);
}

/* The JSON bucket width and the activity member name. */
static void
json_rows_begin(struct sout *o, const struct summary *s)
{
	sprint(o, ",\"bucket_s\":%.6g,\"activity\":[", (double)s->w / 1e6);
}

/* A JSON activity row: {"start","start_us","count"}. */
static void
json_row(struct sout *o, const struct summary *s, int64_t at, uint64_t count,
    size_t i)
{
	char t1[28];
	time_sec(at, t1);
	sprint(o, "%s{\"start\":\"%s\",\"start_us\":%" PRId64 ",\"count\":%"
	    PRIu64 "}", i ? "," : "", t1, at, count);
}

/* The end of the JSON object. */
static void
json_end(struct sout *o)
{
	sprint(o, "]}\n");
}

static const struct printer text_printer = {text_head, text_table_begin,
    text_table_row, text_table_end, text_rows_begin, text_row, text_end};
static const struct printer json_printer = {json_head, json_table_begin,
    json_table_row, json_table_end, json_rows_begin, json_row, json_end};

/* Reads the names of the CONFIG body of st, if any, into *nm (names.c;
 * NULL: none) unless evt_stats_names gave them: 0 or EVT_ERR_NOMEM.  The
 * report shows an item's displayName, as every reading tool. */
static int
names_init(struct evt_names **nm, const struct evt_stats *st)
{
	*nm = NULL;
	if (st->names != NULL || st->config.len == 0)
		return 0;
	if ((*nm = evt_names_new()) == NULL)
		return EVT_ERR_NOMEM;
	int rc = evt_names_add(*nm, 0, (const char *)st->config.p,
	    st->config.len);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	return evt_names_finish(*nm);
}

/* Sets r's name to the one of its key in list of nm (NULL: none) as of
 * at. */
static void
name_of(struct evt_names *nm, enum evt_names_list list, int64_t at,
    struct row *r)
{
	struct evt_names_item it;
	r->name = r->name_json = NULL;
	if (nm != NULL && evt_names_get(nm, list, r->key, r->len, at, &it)) {
		r->name = it.name;
		r->name_json = it.name_json;
	}
}

/* Walks one table (types or sources): the first `top` entries by count as
 * rows, then the rest in one count. */
static void
walk_table(struct sout *o, const struct printer *p, const char *title,
    const char *key, struct ctab *t, uint64_t top, uint64_t total,
    struct evt_names *nm, enum evt_names_list list)
{
	struct table tb = {title, key, t->d.nstr, t->other != 0, t->other,
	    total};
	uint32_t *order = malloc((tb.distinct + 1) * sizeof *order);
	if (order == NULL) {
		o->err = EVT_ERR_NOMEM;
		return;
	}
	for (uint32_t i = 0; i < tb.distinct; i++)
		order[i] = i;
	qsort_r(order, tb.distinct, sizeof *order, id_cmp, t);
	p->table_begin(o, &tb);
	uint64_t shown = 0;
	for (uint32_t i = 0; i < tb.distinct && o->err == 0; i++) {
		struct row r = {.count = t->count[order[i]]};
		if (shown >= top) {
			tb.rest += r.count;
			continue;
		}
		r.key = evt_dict_str(&t->d, order[i], &r.len);
		name_of(nm, list, o->names_at, &r);
		r.pct = total ? 100.0 * (double)r.count / (double)total : 0;
		p->table_row(o, &tb, &r, shown++);
		sdrain(o);
	}
	p->table_end(o, &tb);
	free(order);
}

/* Computes the head figures and the bucket rows: the display width (auto:
 * the first of the ladder with at most STATS_ROWS rows), the rows, the
 * busiest one.  0 or EVT_ERR_NOMEM. */
static int
summarize(const struct evt_stats *st, struct summary *s)
{
	const struct activity *a = &st->act;
	int64_t w = a->w, lo = a->lo * a->w, hi = a->hi * a->w;
	while (!a->user && fdiv(hi, w) - fdiv(lo, w) + 1 > STATS_ROWS)
		w = auto_next(w);
	s->st = st;
	s->w = w;
	s->row0 = fdiv(lo, w);
	s->nrows = a->any ? (size_t)(fdiv(hi, w) - s->row0 + 1) : 0;
	s->rows = calloc(s->nrows + 1, sizeof *s->rows);
	if (s->rows == NULL)
		return EVT_ERR_NOMEM;
	for (int64_t k = a->lo; a->any && k <= a->hi; k++)
		s->rows[fdiv(k * a->w, w) - s->row0] += a->slot[k - a->base];
	for (size_t i = 0; i < s->nrows; i++)
		if (s->rows[i] > s->peak) {
			s->peak = s->rows[i];
			s->peak_at = (s->row0 + (int64_t)i) * w;
		}
	fmt_dur(w, s->wname);
	s->span = st->events ? (double)(st->last - st->first) / 1e6 : 0;
	s->mean = s->span > 0 ? (double)st->events / s->span : 0;
	s->peak_rate = (double)s->peak / ((double)w / 1e6);
	return 0;
}

/* Appends the report; see stats.h. */
int
evt_stats_print(struct evt_stats *st, enum evt_stats_form form,
    const char *archive, uint64_t damaged, uint64_t top,
    const struct evt_stats_out *out)
{
	const struct printer *p = form == EVT_STATS_JSON ? &json_printer :
	    &text_printer;
	struct sout o = {out, st->err, INT64_MAX};
	struct summary s = {.archive = archive, .damaged = damaged};
	struct evt_names *nm = NULL;
	if (o.err == 0)
		o.err = names_init(&nm, st);
	/* Names as of the range's end: the newest in force in it. */
	o.names_at = st->sel == NULL || st->sel->to == INT64_MAX ? INT64_MAX :
	    st->sel->to - 1;
	if (o.err == 0)
		o.err = summarize(st, &s);
	if (o.err == 0) {
		p->head(&o, &s);
		walk_table(&o, p, "types", "type", &st->types, UINT64_MAX,
		    st->events, st->names ? st->names : nm, EVT_NAMES_TYPE);
		walk_table(&o, p, "sources", "source", &st->sources, top,
		    st->events, st->names ? st->names : nm,
		    EVT_NAMES_SOURCE);
		p->rows_begin(&o, &s);
	}
	for (size_t i = 0; i < s.nrows && o.err == 0; i++) {
		p->row(&o, &s, (s.row0 + (int64_t)i) * s.w, s.rows[i], i);
		sdrain(&o);
	}
	if (o.err == 0)
		p->end(&o);
	free(s.rows);
	evt_names_free(nm);
	return o.err;
}
