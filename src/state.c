/*
 * state.c: the state table (state.h): an open-addressing hash of
 * (source, group) keys over an array of entries in first-seen order.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"

struct evt_state {
	char **key;	    /* "source\0group", case-folded; owned */
	size_t *klen;
	char **txt;	    /* entry texts; owned */
	size_t *len;
	unsigned char *flat; /* the entry holds a flat item, not its text
				(evt_state_apply_flat, until
				evt_state_settle) */
	size_t nflat;	    /* entries that do */
	size_t n, cap;
	uint32_t *slot;	    /* hash slots: entry index + 1, 0 empty */
	size_t nslot;
	int64_t *since;	    /* when each entry entered its state */
	int track;	    /* evt_state_track_since: keep since */
	int64_t rx;	    /* receive time of the frame being applied */
	int snapshot;	    /* it is a STATES frame */
};

/* Returns a new empty table. */
struct evt_state *
evt_state_new(void)
{
	return calloc(1, sizeof(struct evt_state));
}

/* Returns a copy of s: its entries applied in order to a new table. */
struct evt_state *
evt_state_copy(const struct evt_state *s)
{
	struct evt_state *c = evt_state_new();
	for (size_t i = 0; c != NULL && i < s->n; i++) {
		if (evt_state_apply(c, s->txt[i], s->len[i]) < 0) {
			evt_state_free(c);
			c = NULL;
		}
	}
	if (c != NULL && c->n > 0) /* (since is NULL while empty) */
		memcpy(c->since, s->since, c->n * sizeof *c->since);
	if (c != NULL)
		c->track = s->track;
	return c;
}

/* Empties the table. */
void
evt_state_clear(struct evt_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->key[i]);
		free(s->txt[i]);
	}
	s->n = 0;
	s->nflat = 0;
	if (s->slot != NULL)
		memset(s->slot, 0, s->nslot * sizeof *s->slot);
}

/* Frees the table. */
void
evt_state_free(struct evt_state *s)
{
	if (s == NULL)
		return;
	evt_state_clear(s);
	free(s->key);
	free(s->klen);
	free(s->txt);
	free(s->len);
	free(s->flat);
	free(s->slot);
	free(s->since);
	free(s);
}

/* A hash of a key, eight bytes at a step (keys are two GUID-sized
 * texts: a byte-wise hash was most of the cost of a table update, which
 * the writer's state checkpoint makes for every stateful event), the
 * tail byte-wise, mixed by MurmurHash3's fmix64. */
static uint64_t
hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

/* Rebuilds the slots for twice the entries. */
static int
rehash(struct evt_state *s, size_t want)
{
	size_t ns = 64;
	while (ns < 2 * want)
		ns *= 2;
	uint32_t *sl = calloc(ns, sizeof *sl);
	if (sl == NULL)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < s->n; i++) {
		size_t j = hash(s->key[i], s->klen[i]) & (ns - 1);
		while (sl[j] != 0)
			j = (j + 1) & (ns - 1);
		sl[j] = (uint32_t)(i + 1);
	}
	free(s->slot);
	s->slot = sl;
	s->nslot = ns;
	return 0;
}

/* Grows the entry arrays. */
static int
grow(struct evt_state *s)
{
	size_t cap = s->cap ? 2 * s->cap : 32;
	char **k = realloc(s->key, cap * sizeof *k);
	if (k == NULL)
		return EVT_ERR_NOMEM;
	s->key = k;
	size_t *kl = realloc(s->klen, cap * sizeof *kl);
	if (kl == NULL)
		return EVT_ERR_NOMEM;
	s->klen = kl;
	char **t = realloc(s->txt, cap * sizeof *t);
	if (t == NULL)
		return EVT_ERR_NOMEM;
	s->txt = t;
	size_t *l = realloc(s->len, cap * sizeof *l);
	if (l == NULL)
		return EVT_ERR_NOMEM;
	s->len = l;
	int64_t *since = realloc(s->since, cap * sizeof *since);
	if (since == NULL)
		return EVT_ERR_NOMEM;
	s->since = since;
	unsigned char *fl = realloc(s->flat, cap);
	if (fl == NULL)
		return EVT_ERR_NOMEM;
	s->flat = fl;
	s->cap = cap;
	return 0;
}

/* When a getState item entered its state: its "time" member (the
 * gateway's time of the event that set it), else the snapshot's receive
 * time. */
static int64_t
item_since(const struct evt_state *s, const char *ev, size_t len)
{
	struct evt_jparser jp;
	int64_t t = s->rx;
	char v[64];
	evt_json_init(&jp, 0);
	if (evt_json_parse(&jp, ev, len) > 0 && jp.tok[0].type ==
	    EVT_J_OBJECT) {
		long m = evt_ess_member(ev, jp.tok, 0, "time");
		if (m >= 0 && jp.tok[m].type == EVT_J_STRING &&
		    jp.tok[m].len < sizeof v) {
			int k = evt_json_unescape(ev + jp.tok[m].off,
			    jp.tok[m].len, v);
			v[k < 0 ? 0 : k] = '\0';
			if (k < 0 || evt_time_parse_user(v, &t) != 0)
				t = s->rx;
		}
	}
	evt_json_free(&jp);
	return t;
}

/* Whether event texts a and b (type fields ta, tb) set different states:
 * their "type" members differ (ASCII case-folded). */
static int
type_changed(const char *old, size_t olen, const struct evt_ess_event_fields *f)
{
	struct evt_ess_event_fields o;
	if (evt_ess_event_fields(old, olen, &o) != 0 || o.type == NULL ||
	    f->type == NULL)
		return 1;
	return o.type_len != f->type_len ||
	    strncasecmp(o.type, f->type, f->type_len) != 0;
}

/* Stores text (flat: a flat item) under key (both copied); f: the
 * fields of the text (only for since, which flat items never need). */
static int
put(struct evt_state *s, const char *key, size_t klen, const char *ev,
    size_t len, const struct evt_ess_event_fields *f, int flat)
{
	if (2 * (s->n + 1) > s->nslot && rehash(s, s->n + 1) != 0)
		return EVT_ERR_NOMEM;
	size_t j = hash(key, klen) & (s->nslot - 1);
	while (s->slot[j] != 0) {
		size_t i = s->slot[j] - 1;
		if (s->klen[i] == klen && memcmp(s->key[i], key, klen) == 0) {
			/* A group's events are alike in size: the old text's
			 * block usually holds the new one (no malloc per
			 * event at top speed). */
			char *t = s->txt[i];
			if (s->track && type_changed(t, s->len[i], f))
				s->since[i] = s->rx;
			if (malloc_usable_size(t) < len) {
				if ((t = malloc(len)) == NULL)
					return EVT_ERR_NOMEM;
				free(s->txt[i]);
			}
			memcpy(t, ev, len);
			s->txt[i] = t;
			s->len[i] = len;
			s->nflat += flat - s->flat[i];
			s->flat[i] = (unsigned char)flat;
			return 1;
		}
		j = (j + 1) & (s->nslot - 1);
	}
	if (s->n == s->cap && grow(s) != 0)
		return EVT_ERR_NOMEM;
	char *k = malloc(klen), *t = malloc(len ? len : 1);
	if (k == NULL || t == NULL) {
		free(k);
		free(t);
		return EVT_ERR_NOMEM;
	}
	memcpy(k, key, klen);
	memcpy(t, ev, len);
	s->key[s->n] = k;
	s->klen[s->n] = klen;
	s->txt[s->n] = t;
	s->len[s->n] = len;
	s->flat[s->n] = (unsigned char)flat;
	s->nflat += flat;
	if (s->track)
		s->since[s->n] = s->snapshot ? item_since(s, ev, len) : s->rx;
	s->n++;
	s->slot[j] = (uint32_t)s->n;
	return 1;
}

/* Copies n bytes, ASCII letters folded to lower case, eight at a step
 * (a byte-wise fold of the two GUID-sized texts of a key cost as much as
 * the rest of a table update): a byte gets 0x20 where it is 'A'..'Z'. */
static void
fold(char *dst, const char *src, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w, low7;
		memcpy(&w, src + i, 8);
		low7 = w & ~high;
		/* High bit of each byte: >= 'A', and > 'Z', on 7 bits. */
		uint64_t ge_a = (low7 + (0x80 - 'A') * ones) & high;
		uint64_t gt_z = (low7 + (0x80 - 'Z' - 1) * ones) & high;
		w |= (ge_a & ~gt_z & ~w) >> 2;
		memcpy(dst + i, &w, 8);
	}
	for (; i < n; i++) {
		char c = src[i];
		dst[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
}

/* Stores ev under the key of source and group (ASCII case-folded),
 * unless they are no plausible pair; see put. */
static int
put_key(struct evt_state *s, const char *source, size_t source_len,
    const char *group, size_t group_len, const char *ev, size_t len,
    const struct evt_ess_event_fields *f, int flat)
{
	char key[2 * EVT_REC_MAX_INTERN + 2];
	if (source_len + group_len + 1 > sizeof key)
		return 0; /* not a plausible source/group pair */
	fold(key, source, source_len);
	key[source_len] = '\0';
	fold(key + source_len + 1, group, group_len);
	return put(s, key, source_len + 1 + group_len, ev, len, f, flat);
}

/* Applies one event object text. */
int
evt_state_apply(struct evt_state *s, const char *ev, size_t len)
{
	/* Most events are stateless or carry the member unescaped: skip the
	 * scan when the name is nowhere in the text. */
	if (memmem(ev, len, "stategroupid", 12) == NULL)
		return 0;
	/* One pass over the members, no tokens (the texts come from an
	 * archive or a gateway message: JSON already). */
	struct evt_ess_event_fields f;
	int rc = evt_ess_event_fields(ev, len, &f);
	if (rc < 0)
		return rc;
	return evt_state_apply_fields(s, ev, len, &f);
}

/* Applies an event text whose fields are known; see state.h. */
int
evt_state_apply_fields(struct evt_state *s, const char *ev, size_t len,
    const struct evt_ess_event_fields *fp)
{
	const struct evt_ess_event_fields f = *fp;
	if (f.source == NULL || f.group == NULL)
		return 0;
	return put_key(s, f.source, f.source_len, f.group, f.group_len, ev,
	    len, &f, 0);
}

/* Applies a flat item; see state.h. */
int
evt_state_apply_flat(struct evt_state *s, const uint8_t *p, size_t len)
{
	static const char *const keys[] = { "source", "stategroupid" };
	static const size_t klens[] = { 6, 12 };
	struct evt_flat_str v[2];
	if (len == 0)
		return 0;
	if (p[0] != EVT_FL_EVENT || s->track) {
		/* Its text (a TEXT item holds it): since needs it. */
		struct evt_buf t = {0};
		int rc = evt_flat_json(p, len, &t);
		if (rc == 0)
			rc = evt_state_apply(s, (const char *)t.p, t.len);
		evt_buf_free(&t);
		return rc;
	}
	evt_flat_strings(p, keys, klens, 2, v);
	if (v[0].s == NULL || v[1].s == NULL)
		return 0;
	return put_key(s, v[0].s, v[0].len, v[1].s, v[1].len,
	    (const char *)p, len, NULL, 1);
}

/* Replaces the flat items of the table by their texts; see state.h. */
int
evt_state_settle(struct evt_state *s)
{
	struct evt_buf t = {0};
	for (size_t i = 0; s->nflat > 0 && i < s->n; i++) {
		if (!s->flat[i])
			continue;
		t.len = 0;
		if (evt_flat_json((const uint8_t *)s->txt[i], s->len[i],
		    &t) != 0) {
			evt_buf_free(&t);
			return EVT_ERR_NOMEM;
		}
		char *x = malloc(t.len ? t.len : 1);
		if (x == NULL) {
			evt_buf_free(&t);
			return EVT_ERR_NOMEM;
		}
		memcpy(x, t.p, t.len);
		free(s->txt[i]);
		s->txt[i] = x;
		s->len[i] = t.len;
		s->flat[i] = 0;
		s->nflat--;
	}
	evt_buf_free(&t);
	return 0;
}

/* Applies a frame's items. */
int
evt_state_apply_frame(struct evt_state *s, int kind, const char *const *ev,
    const size_t *lens, size_t n)
{
	return evt_state_apply_frame_at(s, kind, 0, ev, lens, n);
}

/* Keeps since from now on; see state.h. */
void
evt_state_track_since(struct evt_state *s)
{
	s->track = 1;
}

/* Whether s keeps since; see state.h. */
int
evt_state_tracking(const struct evt_state *s)
{
	return s->track;
}

/* When entry i entered its state; see state.h. */
int64_t
evt_state_since(const struct evt_state *s, size_t i)
{
	return s->track ? s->since[i] : INT64_MIN;
}

/* Applies a frame's items received at rx. */
int
evt_state_apply_frame_at(struct evt_state *s, int kind, int64_t rx,
    const char *const *ev, const size_t *lens, size_t n)
{
	s->rx = rx;
	s->snapshot = kind == EVT_K_STATES;
	if (kind == EVT_K_STATES)
		evt_state_clear(s);
	else if (kind != EVT_K_MSG)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (evt_state_apply(s, ev[i], lens[i]) == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
	return 0;
}

/* Lists the entries. */
size_t
evt_state_list(const struct evt_state *s, const char *const **st,
    const size_t **lens)
{
	*st = (const char *const *)s->txt;
	*lens = s->len;
	return s->n;
}

/* The source of entry i. */
const char *
evt_state_source(const struct evt_state *s, size_t i)
{
	return s->key[i]; /* "source\0group" */
}
