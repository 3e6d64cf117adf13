/*
 * state.c: the state table (state.h): an open-addressing hash of
 * (source, group) keys over an array of entries in first-seen order.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/record.h"
#include "evtape/state.h"

struct evt_state {
	char **key;	    /* "source\0group", case-folded; owned */
	size_t *klen;
	char **txt;	    /* entry texts; owned */
	size_t *len;
	size_t n, cap;
	uint32_t *slot;	    /* hash slots: entry index + 1, 0 empty */
	size_t nslot;
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
	free(s->slot);
	free(s);
}

/* FNV-1a of a key. */
static uint64_t
hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return h;
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
	s->cap = cap;
	return 0;
}

/* Stores text under key (both copied). */
static int
put(struct evt_state *s, const char *key, size_t klen, const char *ev,
    size_t len)
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
			if (malloc_usable_size(t) < len) {
				if ((t = malloc(len)) == NULL)
					return EVT_ERR_NOMEM;
				free(s->txt[i]);
			}
			memcpy(t, ev, len);
			s->txt[i] = t;
			s->len[i] = len;
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
	s->n++;
	s->slot[j] = (uint32_t)s->n;
	return 1;
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
	if (f.source == NULL || f.group == NULL)
		return 0;
	char key[2 * EVT_REC_MAX_INTERN + 2];
	if (f.source_len + f.group_len + 1 > sizeof key)
		return 0; /* not a plausible source/group pair */
	size_t kl = 0;
	for (size_t j = 0; j < f.source_len; j++) {
		char c = f.source[j];
		key[kl++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	key[kl++] = '\0';
	for (size_t j = 0; j < f.group_len; j++) {
		char c = f.group[j];
		key[kl++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	return put(s, key, kl, ev, len);
}

/* Applies a frame's items. */
int
evt_state_apply_frame(struct evt_state *s, int kind, const char *const *ev,
    const size_t *lens, size_t n)
{
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
