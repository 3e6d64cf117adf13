/*
 * dict.c: interned strings and shapes of one segment (see dict.h).
 *
 * Strings live in one arena; two open-addressing tables map content to id.
 * Both grow by doubling, so interning is amortised O(1) on the encoder's hot
 * path (four lookups per event).
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/json.h"

/* Hashes bytes: 8 at a time, multiply-xor, good enough for short keys. */
static uint64_t
dict_hash(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xff51afd7ed558ccdull);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		s += 8;
		len -= 8;
	}
	uint64_t w = 0;
	if (len > 0)
		memcpy(&w, s, len);
	h = (h ^ w) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

/* The bytes of string id (which exists), never NULL. */
static const char *
dict_sptr(const struct evt_dict *d, uint32_t id)
{
	return d->arena != NULL ? d->arena + d->str_off[id] : "";
}

/* Initialises an empty dictionary. */
void
evt_dict_init(struct evt_dict *d)
{
	memset(d, 0, sizeof *d);
}

/* Frees all memory. */
void
evt_dict_free(struct evt_dict *d)
{
	free(d->str_off);
	free(d->str_len);
	free(d->str_plain);
	free(d->arena);
	free(d->shash);
	free(d->shape);
	free(d->fields);
	free(d->hhash);
	memset(d, 0, sizeof *d);
}

/* Empties the dictionary, keeping its memory. */
void
evt_dict_clear(struct evt_dict *d)
{
	d->nstr = 0;
	d->nhashed = 0;
	d->str_from = d->shape_from = 0;
	d->arena_len = 0;
	if (d->shash != NULL)
		memset(d->shash, 0, (d->shash_mask + 1) * sizeof *d->shash);
	d->nshape = 0;
	d->nfields = 0;
	if (d->hhash != NULL)
		memset(d->hhash, 0, (d->hhash_mask + 1) * sizeof *d->hhash);
}

/* Inserts id into the string hash table (which has room). */
static void
dict_str_index(struct evt_dict *d, uint32_t id)
{
	if (d->str_len[id] == UINT32_MAX)
		return;
	uint64_t i = dict_hash(dict_sptr(d, id), d->str_len[id]) &
	    d->shash_mask;
	while (d->shash[i] != 0)
		i = (i + 1) & d->shash_mask;
	d->shash[i] = id + 1;
}

/* Brings the string hash table up to date: sized for at most half full,
 * holding every string from str_from on. */
static int
dict_str_sync(struct evt_dict *d)
{
	uint64_t live = d->nstr - d->str_from;
	if (d->shash == NULL || live * 2 > (uint64_t)d->shash_mask + 1) {
		uint32_t n = 2048;
		while (live * 2 > n)
			n *= 2;
		uint32_t *t = calloc(n, sizeof *t);
		if (t == NULL)
			return EVT_ERR_NOMEM;
		free(d->shash);
		d->shash = t;
		d->shash_mask = n - 1;
		d->nhashed = d->str_from;
	}
	while (d->nhashed < d->nstr)
		dict_str_index(d, d->nhashed++);
	return 0;
}

/* Hides the definitions so far from the lookups by content; see dict.h. */
void
evt_dict_forget(struct evt_dict *d)
{
	d->str_from = d->nhashed = d->nstr;
	if (d->shash != NULL)
		memset(d->shash, 0, (d->shash_mask + 1) * sizeof *d->shash);
	d->shape_from = d->nshape;
	if (d->hhash != NULL)
		memset(d->hhash, 0, (d->hhash_mask + 1) * sizeof *d->hhash);
}

/* Copies the definitions of another dictionary; see dict.h. */
int
evt_dict_copy(struct evt_dict *d, const struct evt_dict *from)
{
	for (uint32_t i = 0; i < from->nstr; i++) {
		size_t len = 0;
		const char *s = evt_dict_str(from, i, &len);
		int64_t rc = evt_dict_str_add(d, s, len);
		if (rc < 0)
			return (int)rc;
	}
	static const uint32_t none[2];
	for (uint32_t i = 0; i < from->nshape; i++) {
		const struct evt_shape *sh = &from->shape[i];
		/* A real shape with no fields ({}) must not pass NULL, which
		 * would make it a placeholder. */
		int64_t rc = sh->nval == UINT32_MAX ?
		    evt_dict_shape_add(d, NULL, 0) :
		    evt_dict_shape_add(d, sh->nfield ?
			evt_dict_fields(from, sh) : none, sh->nfield);
		if (rc < 0)
			return (int)rc;
	}
	return 0;
}

/* Looks a string up by content. */
int64_t
evt_dict_str_find(struct evt_dict *d, const char *s, size_t len)
{
	if (d->nhashed < d->nstr || d->shash == NULL) {
		int rc = dict_str_sync(d);
		if (rc < 0)
			return rc;
	}
	uint64_t i = dict_hash(s, len) & d->shash_mask;
	for (;;) {
		uint32_t v = d->shash[i];
		if (v == 0)
			return -1;
		uint32_t id = v - 1;
		if (d->str_len[id] == len &&
		    (len == 0 || memcmp(dict_sptr(d, id), s, len) == 0))
			return id;
		i = (i + 1) & d->shash_mask;
	}
}

/* Appends a string; see dict.h. */
int64_t
evt_dict_str_add(struct evt_dict *d, const char *s, size_t len)
{
	if (d->nstr >= EVT_DICT_MAX_STRINGS ||
	    d->arena_len + len > EVT_DICT_MAX_BYTES)
		return EVT_ERR_TOOBIG;
	if (d->nstr == d->strcap) {
		uint32_t cap = d->strcap ? d->strcap * 2 : 1024;
		uint32_t *o = realloc(d->str_off, cap * sizeof *o);
		if (o == NULL)
			return EVT_ERR_NOMEM;
		d->str_off = o;
		uint32_t *l = realloc(d->str_len, cap * sizeof *l);
		if (l == NULL)
			return EVT_ERR_NOMEM;
		d->str_len = l;
		uint8_t *pl = realloc(d->str_plain, cap);
		if (pl == NULL)
			return EVT_ERR_NOMEM;
		d->str_plain = pl;
		d->strcap = cap;
	}
	if (d->arena_len + len > d->arena_cap) {
		size_t cap = d->arena_cap ? d->arena_cap : 65536;
		while (cap < d->arena_len + len)
			cap *= 2;
		char *a = realloc(d->arena, cap);
		if (a == NULL)
			return EVT_ERR_NOMEM;
		d->arena = a;
		d->arena_cap = cap;
	}
	uint32_t id = d->nstr++;
	d->str_off[id] = (uint32_t)d->arena_len;
	d->str_plain[id] = s != NULL && evt_json_plain(s, len);
	if (s == NULL) {
		d->str_len[id] = UINT32_MAX;
		return id;
	}
	d->str_len[id] = (uint32_t)len;
	if (len > 0)
		memcpy(d->arena + d->arena_len, s, len);
	d->arena_len += len;
	/* Index at once while the table is in use (the encoder); a reader's
	 * table is built by its first lookup. */
	if (d->shash != NULL && d->nhashed == id &&
	    (uint64_t)(d->nstr - d->str_from) * 2 <=
	    (uint64_t)d->shash_mask + 1)
		dict_str_index(d, d->nhashed++);
	return id;
}

/* Returns string id by number. */
const char *
evt_dict_str(const struct evt_dict *d, uint32_t id, size_t *len)
{
	if (id >= d->nstr || d->str_len[id] == UINT32_MAX)
		return NULL;
	*len = d->str_len[id];
	return *len == 0 ? "" : d->arena + d->str_off[id];
}

/* Returns string id by number if it is plain; see dict.h. */
const char *
evt_dict_str_plain(const struct evt_dict *d, uint32_t id, size_t *len)
{
	if (id >= d->nstr || !d->str_plain[id])
		return NULL;
	return evt_dict_str(d, id, len);
}

/* Looks a shape up by its fields. */
int64_t
evt_dict_shape_find(const struct evt_dict *d, const uint32_t *f, uint32_t n)
{
	if (d->hhash == NULL)
		return -1;
	uint64_t i = dict_hash(f, n * 2 * sizeof *f) & d->hhash_mask;
	for (;;) {
		uint32_t v = d->hhash[i];
		if (v == 0)
			return -1;
		const struct evt_shape *sh = &d->shape[v - 1];
		if (sh->nfield == n &&
		    (n == 0 || memcmp(evt_dict_fields(d, sh), f,
		    n * 2 * sizeof *f) == 0))
			return v - 1;
		i = (i + 1) & d->hhash_mask;
	}
}

/* Inserts shape id into the shape hash table. */
static void
dict_shape_index(struct evt_dict *d, uint32_t id)
{
	const struct evt_shape *sh = &d->shape[id];
	if (sh->nval == UINT32_MAX)
		return;
	uint64_t i = dict_hash(evt_dict_fields(d, sh),
			 sh->nfield * 2 * sizeof *d->fields) & d->hhash_mask;
	while (d->hhash[i] != 0)
		i = (i + 1) & d->hhash_mask;
	d->hhash[i] = id + 1;
}

/* Appends a shape; see dict.h. */
int64_t
evt_dict_shape_add(struct evt_dict *d, const uint32_t *f, uint32_t n)
{
	if (d->nshape >= EVT_DICT_MAX_SHAPES || n > EVT_SHAPE_MAX_FIELDS)
		return EVT_ERR_TOOBIG;
	uint32_t nval = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (f[2 * i] >= d->nstr || f[2 * i + 1] > EVT_ENC_MAX)
			return EVT_ERR_CORRUPT;
		if (f[2 * i + 1] != EVT_ENC_GUID)
			nval++;
	}
	if (d->nshape == d->shapecap) {
		uint32_t cap = d->shapecap ? d->shapecap * 2 : 64;
		struct evt_shape *s = realloc(d->shape, cap * sizeof *s);
		if (s == NULL)
			return EVT_ERR_NOMEM;
		d->shape = s;
		d->shapecap = cap;
	}
	if (d->nfields + 2 * n > d->fieldcap) {
		size_t cap = d->fieldcap ? d->fieldcap : 1024;
		while (cap < d->nfields + 2 * n)
			cap *= 2;
		uint32_t *fl = realloc(d->fields, cap * sizeof *fl);
		if (fl == NULL)
			return EVT_ERR_NOMEM;
		d->fields = fl;
		d->fieldcap = cap;
	}
	if ((d->nshape - d->shape_from + 1) * 2 > d->hhash_mask + 1 ||
	    d->hhash == NULL) {
		uint32_t sz = d->hhash ? (d->hhash_mask + 1) * 2 : 256;
		uint32_t *t = calloc(sz, sizeof *t);
		if (t == NULL)
			return EVT_ERR_NOMEM;
		free(d->hhash);
		d->hhash = t;
		d->hhash_mask = sz - 1;
		for (uint32_t id = d->shape_from; id < d->nshape; id++)
			dict_shape_index(d, id);
	}
	uint32_t id = d->nshape++;
	d->shape[id].nfield = n;
	d->shape[id].off = (uint32_t)d->nfields;
	d->shape[id].nval = f == NULL ? UINT32_MAX : nval;
	if (n > 0)
		memcpy(d->fields + d->nfields, f, 2 * n * sizeof *f);
	d->nfields += 2 * n;
	dict_shape_index(d, id);
	return id;
}
