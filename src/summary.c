/*
 * summary.c: segment summaries (see summary.h; formats/segment.md,
 * "Summary", is the authority on the encoding).
 *
 * Data flow, writing: the seal reads the written blocks back (segment
 * writer, collect_keys) -> evt_sumb_record: the records go to a stats
 * count of the whole segment (stats.c, the very counting `evtool stats`
 * does on a scan) at 1 s buckets, and the builder notes where the last
 * CONFIG marker and the STATES frames are -> evt_sumb_pack: the count as
 * a MessagePack map, types and sources as ids of the segment's string
 * dictionary.  Reading: the index's "summary" value -> evt_sum_decode ->
 * struct evt_sum, checked against itself (counts that must add up) before
 * a reader trusts it; stats.c adds it to a report.
 *
 * Errors: out of memory, and, for the decoder, EVT_ERR_CORRUPT with a
 * static text saying what is wrong.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "evtape/err.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/stats.h"
#include "evtape/summary.h"

/* The keys of the summary map (formats/segment.md, "Summary"). */
#define SK_INCOMPLETE "incomplete"
#define SK_FRAMES "frames"
#define SK_EVENTS "events"
#define SK_MESSAGES "messages"
#define SK_FIRST "first_rx"
#define SK_LAST "last_rx"
#define SK_TYPES "types"
#define SK_SOURCES "sources"
#define SK_BUCKET_US "bucket_us"
#define SK_BUCKETS "buckets"
#define SK_CONFIG "config"
#define SK_STATES "states"

/* Receive times a writer may write (formats/README.md, "Times"). */
#define RX_MIN (-62135596800000000LL)
#define RX_MAX 253402300799999999LL

/* Frees the arrays of a summary. */
void
evt_sum_free(struct evt_sum *s)
{
	free(s->types);
	free(s->sources);
	free(s->buckets);
	free(s->states);
	memset(s, 0, sizeof *s);
}

/*
 * Encoding
 */

/* msgpack-c write callback into an evt_buf; out of memory is noted in
 * the packer's buffer's owner (struct pack). */
struct pack {
	struct evt_buf *out;
	int failed;
};

/* Appends n bytes of the packer to the output. */
static int
pack_cb(void *data, const char *p, size_t n)
{
	struct pack *pb = data;
	if (evt_buf_put(pb->out, p, n) != 0) {
		pb->failed = 1;
		return -1;
	}
	return 0;
}

/* Packs a map key. */
static void
put_key(msgpack_packer *pk, const char *k)
{
	msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* A key of a table being packed: its dictionary id (-1: none) and its
 * place in the table. */
struct keyid {
	int64_t id;
	uint32_t i;
};

/* Orders keys by dictionary id, those without one last in table order. */
static int
keyid_cmp(const void *a, const void *b)
{
	const struct keyid *x = a, *y = b;
	uint64_t u = (uint64_t)x->id, v = (uint64_t)y->id; /* -1: last */
	if (u != v)
		return u < v ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/*
 * Packs a table of keys and counts as [key, count, ...]: the keys that
 * dictionary d holds as ids in increasing order, each written as the step
 * from the one before (small numbers, one byte each mostly), then the
 * others as their text.
 */
static int
put_table(msgpack_packer *pk, const char *name, const struct evt_sum_key *t,
    uint32_t n, struct evt_dict *d)
{
	struct keyid *k = calloc(n + 1, sizeof *k);
	if (k == NULL)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++) {
		k[i] = (struct keyid){evt_dict_str_find(d, t[i].s, t[i].len), i};
		if (k[i].id < -1) {
			free(k);
			return EVT_ERR_NOMEM;
		}
	}
	qsort(k, n, sizeof *k, keyid_cmp);
	put_key(pk, name);
	msgpack_pack_array(pk, 2 * n);
	int64_t prev = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct evt_sum_key *e = &t[k[i].i];
		if (k[i].id >= 0)
			msgpack_pack_uint64(pk, (uint64_t)(k[i].id - prev));
		else
			msgpack_pack_str_with_body(pk, e->s, e->len);
		prev = k[i].id >= 0 ? k[i].id : prev;
		msgpack_pack_uint64(pk, e->count);
	}
	free(k);
	return 0;
}

/* Packs a position as [block, frame, rx]. */
static void
put_pos(msgpack_packer *pk, const struct evt_sum_pos *p)
{
	msgpack_pack_uint32(pk, p->block);
	msgpack_pack_uint32(pk, p->frame);
	msgpack_pack_int64(pk, p->rx);
}

/* Packs the buckets as [k0, c0, k1 - k0, c1, ...]. */
static void
put_buckets(msgpack_packer *pk, const struct evt_sum *s)
{
	put_key(pk, SK_BUCKET_US);
	msgpack_pack_uint64(pk, (uint64_t)(s->bucket_us > 0 ? s->bucket_us :
	    EVT_SUM_BUCKET_US));
	put_key(pk, SK_BUCKETS);
	msgpack_pack_array(pk, 2 * s->nbuckets);
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		if (i == 0)
			msgpack_pack_int64(pk, s->buckets[0].k);
		else
			msgpack_pack_uint64(pk, (uint64_t)(s->buckets[i].k -
			    s->buckets[i - 1].k));
		msgpack_pack_uint64(pk, s->buckets[i].count);
	}
}

/* Appends the encoding of s; see summary.h. */
int
evt_sum_pack(const struct evt_sum *s, struct evt_dict *d, struct evt_buf *out)
{
	struct pack pb = {out, 0};
	msgpack_packer pk;
	int nomem = 0;
	msgpack_packer_init(&pk, &pb, pack_cb);
	if (!s->complete) {
		msgpack_pack_map(&pk, 2);
		put_key(&pk, SK_INCOMPLETE);
		msgpack_pack_true(&pk);
	} else {
		int ev = s->events > 0;
		/* No STATES frame: no "states", which says none. */
		int states = s->has_states && s->nstates > 0;
		msgpack_pack_map(&pk, 7 + 2 * ev + s->has_config + states);
		put_key(&pk, SK_EVENTS);
		msgpack_pack_uint64(&pk, s->events);
		put_key(&pk, SK_MESSAGES);
		msgpack_pack_uint64(&pk, s->messages);
		if (ev) {
			put_key(&pk, SK_FIRST);
			msgpack_pack_int64(&pk, s->first_rx);
			put_key(&pk, SK_LAST);
			msgpack_pack_int64(&pk, s->last_rx);
		}
		if (put_table(&pk, SK_TYPES, s->types, s->ntypes, d) != 0 ||
		    put_table(&pk, SK_SOURCES, s->sources, s->nsources, d) != 0)
			nomem = 1;
		put_buckets(&pk, s);
		if (s->has_config) {
			put_key(&pk, SK_CONFIG);
			msgpack_pack_array(&pk, 3);
			put_pos(&pk, &s->config);
		}
		if (states) {
			put_key(&pk, SK_STATES);
			msgpack_pack_array(&pk, 3 * s->nstates);
			for (uint32_t i = 0; i < s->nstates; i++)
				put_pos(&pk, &s->states[i]);
		}
	}
	put_key(&pk, SK_FRAMES);
	msgpack_pack_array(&pk, EVT_K_MAX + 1);
	for (int k = 0; k <= EVT_K_MAX; k++)
		msgpack_pack_uint64(&pk, s->frames[k]);
	return pb.failed || nomem ? EVT_ERR_NOMEM : 0;
}

/*
 * Building
 */

struct evt_sumb {
	struct evt_sel all;	/* every time, every source */
	struct evt_stats *st;
	uint32_t block, frame;	/* the block being read; framed records
				   of it seen */
	struct evt_sum_pos config;
	int has_config;
	struct evt_sum_pos *states;
	uint32_t nstates, scap;
	int states_over;	/* more than EVT_SUM_MAX_STATES */
	int incomplete;
};

/* A new builder; see summary.h. */
struct evt_sumb *
evt_sumb_new(void)
{
	struct evt_sumb *b = calloc(1, sizeof *b);
	if (b == NULL)
		return NULL;
	b->all.from = INT64_MIN;
	b->all.to = INT64_MAX;
	b->st = evt_stats_new(&b->all, EVT_SUM_BUCKET_US);
	if (b->st == NULL) {
		free(b);
		return NULL;
	}
	evt_stats_segment(b->st);
	return b;
}

/* Frees a builder. */
void
evt_sumb_free(struct evt_sumb *b)
{
	if (b == NULL)
		return;
	evt_stats_free(b->st);
	free(b->states);
	free(b);
}

/* A new block begins. */
void
evt_sumb_block(struct evt_sumb *b, uint32_t bi)
{
	b->block = bi;
	b->frame = 0;
}

/* Notes the position of a STATES frame; 0 or EVT_ERR_NOMEM. */
static int
add_state(struct evt_sumb *b, const struct evt_sum_pos *p)
{
	if (b->nstates == EVT_SUM_MAX_STATES) {
		b->states_over = 1;
		return 0;
	}
	if (b->nstates == b->scap) {
		uint32_t n = b->scap ? 2 * b->scap : 16;
		struct evt_sum_pos *s = realloc(b->states, n * sizeof *s);
		if (s == NULL)
			return EVT_ERR_NOMEM;
		b->states = s;
		b->scap = n;
	}
	b->states[b->nstates++] = *p;
	return 0;
}

/* Counts one record; see summary.h. */
int
evt_sumb_record(struct evt_sumb *b, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	int k = rec->kind;
	if (k != EVT_K_EVENT && k != EVT_K_ITEM && k != EVT_K_STRDEF &&
	    k != EVT_K_SHAPEDEF) {
		struct evt_sum_pos p = {b->block, b->frame++, rec->rx_us};
		if (k == EVT_K_CONFIG) {
			b->config = p;
			b->has_config = 1;
		} else if (k == EVT_K_STATES && add_state(b, &p) != 0) {
			return EVT_ERR_NOMEM;
		}
	}
	int rc = evt_stats_record(b->st, d, rec);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	/* A CONFIG body that does not decode is damage a scan reports:
	 * readers must read this segment to report it too. */
	if (rc < 0)
		b->incomplete = 1;
	return 0;
}

/* The summary will be incomplete. */
void
evt_sumb_incomplete(struct evt_sumb *b)
{
	b->incomplete = 1;
}

/* Appends the summary; see summary.h. */
int
evt_sumb_pack(struct evt_sumb *b, struct evt_dict *d, struct evt_buf *out)
{
	struct evt_sum s;
	memset(&s, 0, sizeof s);
	int rc = evt_stats_export(b->st, &s);
	if (rc == 0) {
		if (b->incomplete)
			s.complete = 0;
		s.has_config = b->has_config;
		s.config = b->config;
		s.has_states = !b->states_over;
		s.nstates = b->nstates;
		s.states = b->states;
		rc = evt_sum_pack(&s, d, out);
		s.states = NULL;
	}
	evt_sum_free(&s);
	return rc;
}

/*
 * Decoding: the file is hostile; every value is checked before use.
 */

/* Whether o is an unsigned integer; its value in *v. */
static int
get_u(const msgpack_object *o, uint64_t *v)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return 0;
	*v = o->via.u64;
	return 1;
}

/* Whether o is an integer in the receive-time range; its value in *v. */
static int
get_rx(const msgpack_object *o, int64_t *v)
{
	if (o != NULL && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*v = o->via.i64;
	else if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= (uint64_t)RX_MAX)
		*v = (int64_t)o->via.u64;
	else
		return 0;
	return *v >= RX_MIN && *v <= RX_MAX;
}

/* Whether o is an array of a multiple of `per` elements, at most max
 * groups of them. */
static int
is_groups(const msgpack_object *o, uint32_t per, uint64_t max)
{
	return o != NULL && o->type == MSGPACK_OBJECT_ARRAY &&
	    o->via.array.size % per == 0 && o->via.array.size / per <= max;
}

/* Decodes a table [key, count, ...] whose counts must add up to total;
 * keys are ids of d or texts.  0, EVT_ERR_NOMEM or EVT_ERR_CORRUPT. */
static int
get_table(const msgpack_object *o, const struct evt_dict *d, uint64_t total,
    struct evt_sum_key **out, uint32_t *n, const char **why)
{
	*why = "a type or source table is not [key, count, ...] within "
	    "bounds";
	if (!is_groups(o, 2, EVT_SUM_MAX_KEYS))
		return EVT_ERR_CORRUPT;
	*n = o->via.array.size / 2;
	*out = calloc(*n + 1, sizeof **out);
	if (*out == NULL)
		return EVT_ERR_NOMEM;
	uint64_t sum = 0, id = 0, step;
	int ids = 0;
	for (uint32_t i = 0; i < *n; i++) {
		const msgpack_object *k = &o->via.array.ptr[2 * i];
		struct evt_sum_key *e = &(*out)[i];
		if (get_u(k, &step)) {
			/* Ids come as steps from the id before (from 0). */
			*why = "a table key names no string of the dictionary";
			if ((ids++ > 0 && step == 0) || step >= d->nstr ||
			    (id += step) >= d->nstr ||
			    (e->s = evt_dict_str(d, (uint32_t)id, &e->len)) ==
			    NULL)
				return EVT_ERR_CORRUPT;
		} else if (k->type == MSGPACK_OBJECT_STR) {
			e->s = k->via.str.size ? k->via.str.ptr : "";
			e->len = k->via.str.size;
		} else {
			return EVT_ERR_CORRUPT;
		}
		*why = "a table count is not a positive integer";
		if (!get_u(&o->via.array.ptr[2 * i + 1], &e->count) ||
		    e->count == 0 || e->count > total - sum)
			return EVT_ERR_CORRUPT;
		sum += e->count;
	}
	*why = "a table's counts do not add up to the events";
	return sum == total ? 0 : EVT_ERR_CORRUPT;
}

/* Decodes the buckets; they must add up to s->events and lie between the
 * seconds of s->first_rx and s->last_rx, the first and last at those. */
static int
get_buckets(const msgpack_object *m, struct evt_sum *s, const char **why)
{
	uint64_t w, c, sum = 0;
	const msgpack_object *o = evt_mp_get(m, SK_BUCKETS);
	*why = s->bucket_us == EVT_SUM_BUCKET_US ? "bucket_us is not 1000000" :
	    "bucket_us is not the run's bucket width";
	if (!get_u(evt_mp_get(m, SK_BUCKET_US), &w) ||
	    w != (uint64_t)s->bucket_us)
		return EVT_ERR_CORRUPT;
	const int64_t W = s->bucket_us;
	*why = "buckets is not [k, count, delta, count, ...]";
	if (!is_groups(o, 2, s->events))
		return EVT_ERR_CORRUPT;
	s->nbuckets = o->via.array.size / 2;
	s->buckets = calloc(s->nbuckets + 1, sizeof *s->buckets);
	if (s->buckets == NULL)
		return EVT_ERR_NOMEM;
	int64_t lo = s->events ? s->first_rx / W - (s->first_rx % W < 0) : 0;
	int64_t hi = s->events ? s->last_rx / W - (s->last_rx % W < 0) : -1;
	int64_t k = lo;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		const msgpack_object *ko = &o->via.array.ptr[2 * i];
		uint64_t d;
		*why = "a bucket lies outside first_rx .. last_rx";
		if (i == 0) {
			/* The first is the second of first_rx itself. */
			if (ko->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ?
			    ko->via.i64 != lo : !get_u(ko, &d) ||
			    lo < 0 || d != (uint64_t)lo)
				return EVT_ERR_CORRUPT;
		} else {
			if (!get_u(ko, &d) || d == 0 || d > (uint64_t)(hi - k))
				return EVT_ERR_CORRUPT;
			k += (int64_t)d;
		}
		*why = "a bucket count is not a positive integer";
		if (!get_u(&o->via.array.ptr[2 * i + 1], &c) || c == 0 ||
		    c > s->events - sum)
			return EVT_ERR_CORRUPT;
		sum += c;
		s->buckets[i] = (struct evt_sum_bucket){k, c};
	}
	*why = "the buckets do not add up to the events, or the last is not "
	    "the second of last_rx";
	if (sum != s->events || (s->nbuckets > 0 && k != hi))
		return EVT_ERR_CORRUPT;
	return 0;
}

/* Decodes a position [block, frame, rx] at a[0..2]. */
static int
get_pos(const msgpack_object *a, uint32_t nblocks, struct evt_sum_pos *p)
{
	uint64_t b, f;
	if (!get_u(&a[0], &b) || b >= nblocks || !get_u(&a[1], &f) ||
	    f > UINT32_MAX || !get_rx(&a[2], &p->rx))
		return 0;
	p->block = (uint32_t)b;
	p->frame = (uint32_t)f;
	return 1;
}

/* Decodes config and states, both optional. */
static int
get_positions(const msgpack_object *m, uint32_t nblocks, struct evt_sum *s,
    const char **why)
{
	const msgpack_object *c = evt_mp_get(m, SK_CONFIG);
	const msgpack_object *st = evt_mp_get(m, SK_STATES);
	*why = "config is not [block, frame, rx]";
	if (c != NULL && (!is_groups(c, 3, 1) || c->via.array.size != 3 ||
	    s->frames[EVT_K_CONFIG] == 0 || !get_pos(c->via.array.ptr, nblocks,
	    &s->config)))
		return EVT_ERR_CORRUPT;
	s->has_config = c != NULL;
	/* Absent: no position is known, which is all of none. */
	s->has_states = s->frames[EVT_K_STATES] == 0;
	if (st == NULL)
		return 0;
	*why = "states is not one [block, frame, rx] per STATES frame";
	if (!is_groups(st, 3, EVT_SUM_MAX_STATES) || st->via.array.size / 3 !=
	    s->frames[EVT_K_STATES])
		return EVT_ERR_CORRUPT;
	s->nstates = st->via.array.size / 3;
	s->states = calloc(s->nstates + 1, sizeof *s->states);
	if (s->states == NULL)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < s->nstates; i++)
		if (!get_pos(st->via.array.ptr + 3 * i, nblocks,
		    &s->states[i]))
			return EVT_ERR_CORRUPT;
	s->has_states = 1;
	return 0;
}

/* Decodes the members of a complete summary map m. */
static int
get_members(const msgpack_object *m, const struct evt_dict *d,
    uint32_t nblocks, struct evt_sum *s, const char **why)
{
	const msgpack_object *fr = evt_mp_get(m, SK_FRAMES);
	*why = "frames is not an array of at least 11 counts";
	if (fr == NULL || fr->type != MSGPACK_OBJECT_ARRAY ||
	    fr->via.array.size < EVT_K_MAX + 1)
		return EVT_ERR_CORRUPT;
	for (int k = 0; k <= EVT_K_MAX; k++)
		if (!get_u(&fr->via.array.ptr[k], &s->frames[k]))
			return EVT_ERR_CORRUPT;
	*why = "events or messages missing, or more messages than MSG frames "
	    "or events";
	if (!get_u(evt_mp_get(m, SK_EVENTS), &s->events) ||
	    !get_u(evt_mp_get(m, SK_MESSAGES), &s->messages) ||
	    s->messages > s->events || s->messages > s->frames[EVT_K_MSG])
		return EVT_ERR_CORRUPT;
	*why = "first_rx and last_rx are not receive times with first <= last";
	if (s->events > 0 &&
	    (!get_rx(evt_mp_get(m, SK_FIRST), &s->first_rx) ||
	    !get_rx(evt_mp_get(m, SK_LAST), &s->last_rx) ||
	    s->first_rx > s->last_rx))
		return EVT_ERR_CORRUPT;
	int rc = get_table(evt_mp_get(m, SK_TYPES), d, s->events, &s->types,
	    &s->ntypes, why);
	if (rc == 0)
		rc = get_table(evt_mp_get(m, SK_SOURCES), d, s->events,
		    &s->sources, &s->nsources, why);
	if (rc == 0)
		rc = get_buckets(m, s, why);
	if (rc == 0)
		rc = get_positions(m, nblocks, s, why);
	return rc;
}

/* Decodes a segment's summary; see summary.h. */
int
evt_sum_decode(const uint8_t *p, size_t len, const struct evt_dict *d,
    uint32_t nblocks, struct evt_sum *s, const char **why)
{
	return evt_sum_decode_w(p, len, d, nblocks, EVT_SUM_BUCKET_US, s, why);
}

/* Decodes a summary of buckets of bucket_us; see summary.h. */
int
evt_sum_decode_w(const uint8_t *p, size_t len, const struct evt_dict *d,
    uint32_t nblocks, int64_t bucket_us, struct evt_sum *s, const char **why)
{
	msgpack_zone z;
	msgpack_object m;
	size_t off = 0;
	memset(s, 0, sizeof *s);
	s->bucket_us = bucket_us;
	*why = "not one MessagePack map";
	if (evt_mp_check(p, len, &off) != 0 || off != len)
		return EVT_ERR_CORRUPT;
	off = 0;
	if (!msgpack_zone_init(&z, 4096))
		return EVT_ERR_NOMEM;
	int rc = EVT_ERR_CORRUPT;
	msgpack_unpack_return ur = msgpack_unpack((const char *)p, len, &off,
	    &z, &m);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		rc = EVT_ERR_NOMEM;
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len ||
	    m.type != MSGPACK_OBJECT_MAP)
		goto out;
	const msgpack_object *inc = evt_mp_get(&m, SK_INCOMPLETE);
	if (inc != NULL && inc->type == MSGPACK_OBJECT_BOOLEAN &&
	    inc->via.boolean) {
		rc = 0;
		goto out;
	}
	rc = get_members(&m, d, nblocks, s, why);
	s->complete = rc == 0;
out:
	msgpack_zone_destroy(&z);
	return rc;
}
