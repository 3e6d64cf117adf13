/*
 * report.c: the HTML incident report of `evtool report` (report.h).
 *
 * Three passes over the frames received, each segment read through the
 * frame reader from the pass's start (so the recorder's SESSION and GAP
 * markers and the getState answers come too, which the cursor passes
 * over).  The events of messages are taken from their records in the
 * reader's item filter (count_keep, draw_keep): source, type and state
 * group are resolved once per string of a segment's dictionary to
 * indexes of the report's tables (rec_keys), so an event costs a few
 * array look-ups; only the events table's rows are rendered as JSON text:
 *   pass 1, the window [from, to), counts events per source, type and
 *     chart bucket, keeps the first rows of the events table and the
 *     markers, and notes for each GAP the last event before it (a gap is
 *     shaded from there);
 *   the busiest lanes are chosen;
 *   pass 2, the look-back [from - lookback, from), replays the lanes'
 *     stateful events and getState answers into the state of each lane's
 *     groups at the window's start (nothing is drawn);
 *   pass 3, the window again: a stateful event (one with a
 *     "stategroupid") whose type differs from its group's current one
 *     ends that interval and starts one; a getState answer sets every
 *     group it names and ends those it does not; any other event is a
 *     tick in the timeline column of its time.
 * Then the page is written: facts, markers, chart, timeline, types,
 * events.  Names as of each time come from names.c; where none is known
 * the GUID (the id's part after its last '/') is shown.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <msgpack.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/report.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/timefmt.h"

#define KEY_MAX 512	/* longest decoded id counted by id */

/* What a source, type or state group resolves to besides an index of
 * its table. */
#define KEY_NONE (-1)	/* no state group: a stateless event */
#define KEY_OTHER (-2)	/* past the table's bound (or, while drawing, a
			   source the window did not count) */
#define KEY_UNSEL (-3)	/* a source or type the selection leaves out */

/* The fields an event is resolved by, in this order: a source left out
 * needs no type, a type left out no group. */
enum { F_SRC, F_TYP, F_GRP, F_N };
static const char *const field_key[F_N] = {"source", "type",
    "stategroupid"};

/* A counted id (source, type or state group); the id text is owned, as
 * written for display (matched ignoring ASCII case). */
struct key {
	char *id;
	uint64_t n;
	int lane;	/* sources: its lane, or -1 */
};

/* Counted ids: at most EVT_REPORT_MAX_KEYS in k, in the order first
 * seen (an index stays valid as the table grows), found through an
 * open-addressing hash of their indexes (slot, cap entries, -1 empty). */
struct keys {
	struct key *k;
	size_t n;
	int32_t *slot;
	size_t cap;
	uint64_t other;	/* events of ids past the bound */
};

/* One column of a lane's ticks: how many events, the first's type and
 * time. */
struct col {
	uint32_t n;
	int32_t type;	/* index into the types; -1: none */
	int64_t rx;
};

/* A drawn state interval [start, end) of group g of a lane. */
struct bar {
	int64_t start, end;
	int32_t type;	/* of a merged bar: its first interval's */
	uint32_t n;	/* intervals: more than 1 merged (see lane_close) */
	uint8_t g;
	uint8_t thin;	/* made of intervals each narrower than
			   EVT_REPORT_NARROW columns */
};

/* One lane: a source, its state groups and their open intervals, its
 * bars and tick columns. */
struct lane {
	int32_t src;	/* index into the sources */
	int32_t group[EVT_REPORT_MAX_GROUPS];	/* index into the groups */
	int32_t cur[EVT_REPORT_MAX_GROUPS];	/* open type, -1: none */
	int64_t last[EVT_REPORT_MAX_GROUPS];	/* its last bar, -1: none */
	int64_t since[EVT_REPORT_MAX_GROUPS];
	uint8_t named[EVT_REPORT_MAX_GROUPS];	/* by the getState answer
						   being applied */
	size_t ngroups;
	struct bar *bars;
	size_t nbars;
	uint64_t dropped;	/* intervals not drawn (bounds) */
	struct col *cols;
};

/* A SESSION or GAP marker of the window (body owned). */
struct mark {
	int kind;
	int64_t rx, prev;	/* prev: the last event before it */
	char *body;
	size_t len;
};

/* A kept row of the events table (the event's text, owned). */
struct row {
	int64_t rx;
	char *ev;
	size_t len;
};

/* An event resolved: for each field an index of its table or a KEY_
 * value. */
struct evk {
	int32_t k[F_N];
};

/* Where the fields are in the EVENT records of one shape (vi 0: the
 * shape has none; evt_rdec_key_at). */
struct shape_pos {
	uint32_t vi[F_N], enc[F_N];
	int known;
};

/* What the segment being read resolves by: per string id of its
 * dictionary and field, the value + 4 (0: not yet resolved); per shape
 * where the fields are; the string ids of the field names. */
struct seg_cache {
	int32_t *sid[F_N];
	size_t cap;
	struct shape_pos *shp;
	size_t nshp;
	int64_t kid[F_N];
	uint32_t kid_nstr;	/* dictionary size kid was looked up at */
};

/* The report being made. */
struct rpt {
	struct evt_report_opts *o;
	struct evt_names *names;
	struct keys src, typ, grp;
	uint64_t buckets[EVT_REPORT_BUCKETS];
	uint64_t total;
	struct row *rows;
	size_t nrows;
	struct mark *marks;
	size_t nmarks;
	uint64_t moremarks;
	int64_t last_ev;	/* receive time of the last event (pass 1) */
	int64_t states_from;	/* start of the look-back */
	int whole;		/* the look-back began before the archive */
	int snapshot;		/* the look-back starts at the segment of
				   the last getState answer before the
				   window */
	struct lane *lanes;
	size_t nlanes;
	int64_t pfrom, pto;	/* the pass's receive times [pfrom, pto) */
	int counting;		/* pass 1: new sources are added */
	struct seg_cache sc;
	struct evt_buf *out;
	int err;		/* EVT_ERR_NOMEM once out of memory */
	struct evt_siter site;	/* --site: the site of the frames read */
};

/* FNV-1a of s, ASCII case-folded. */
static uint64_t
hash_ci(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) *
		    1099511628211ULL;
	}
	return h;
}

/* The index of id in k, or -1; *at: the slot that holds it or where it
 * goes. */
static int32_t
key_find(const struct keys *k, const char *id, size_t *at)
{
	if (k->cap == 0)
		return -1;
	size_t j = hash_ci(id) & (k->cap - 1);
	for (; k->slot[j] >= 0; j = (j + 1) & (k->cap - 1))
		if (strcasecmp(k->k[k->slot[j]].id, id) == 0)
			break;
	*at = j;
	return k->slot[j];
}

/* Doubles the slots of k (and the room for ids); 0 or EVT_ERR_NOMEM. */
static int
keys_grow(struct keys *k)
{
	size_t nc = k->cap ? k->cap * 2 : 64;
	int32_t *s = malloc(nc * sizeof *s);
	struct key *nk = realloc(k->k, nc / 2 * sizeof *nk);
	if (nk != NULL)
		k->k = nk;
	if (s == NULL || nk == NULL) {
		free(s);
		return EVT_ERR_NOMEM;
	}
	memset(s, 0xff, nc * sizeof *s);
	for (size_t i = 0; i < k->n; i++) {
		size_t j = hash_ci(k->k[i].id) & (nc - 1);
		while (s[j] >= 0)
			j = (j + 1) & (nc - 1);
		s[j] = (int32_t)i;
	}
	free(k->slot);
	k->slot = s;
	k->cap = nc;
	return 0;
}

/* The index of id in k, added when absent and within the bound; KEY_OTHER
 * when past the bound or out of memory (r->err says which). */
static int32_t
key_get(struct rpt *r, struct keys *k, const char *id)
{
	size_t j = 0;
	int32_t i = key_find(k, id, &j);
	if (i >= 0)
		return i;
	if (k->n == EVT_REPORT_MAX_KEYS)
		return KEY_OTHER;
	if (k->n * 2 >= k->cap) {
		if (keys_grow(k) != 0) {
			r->err = EVT_ERR_NOMEM;
			return KEY_OTHER;
		}
		key_find(k, id, &j);
	}
	char *copy = strdup(id);
	if (copy == NULL) {
		r->err = EVT_ERR_NOMEM;
		return KEY_OTHER;
	}
	k->k[k->n] = (struct key){copy, 0, -1};
	k->slot[j] = (int32_t)k->n;
	return (int32_t)k->n++;
}

/* Frees the ids of k. */
static void
keys_free(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->k[i].id);
	free(k->k);
	free(k->slot);
}

/* Orders keys by events, most first, then by id. */
static int
busiest_cmp(const void *x, const void *y)
{
	const struct key *a = *(struct key *const *)x,
	    *b = *(struct key *const *)y;
	if (a->n != b->n)
		return a->n < b->n ? 1 : -1;
	return strcmp(a->id, b->id);
}

/* The keys of k with events, busiest first (ties by id), into *all
 * (owned by the caller); their number, or -1 when out of memory. */
static ssize_t
keys_busiest(const struct keys *k, struct key ***all)
{
	size_t n = 0;
	if ((*all = calloc(k->n + 1, sizeof **all)) == NULL)
		return -1;
	for (size_t i = 0; i < k->n; i++)
		if (k->k[i].n > 0)
			(*all)[n++] = &k->k[i];
	qsort(*all, n, sizeof **all, busiest_cmp);
	return (ssize_t)n;
}

/* The decoded id, source, type and state group of an event. */
struct evf {
	char id[KEY_MAX + 1], src[KEY_MAX + 1], type[KEY_MAX + 1],
	    group[KEY_MAX + 1];
};

/* Decodes the fields of event text ev[0..len); 0, or -1 when it is not
 * an object. */
static int
ev_fields(const char *ev, size_t len, struct evf *e)
{
	struct evt_ess_event_fields f;
	if (evt_ess_event_fields(ev, len, &f) < 0)
		return -1;
	evt_names_decode(f.id, f.id_len, f.escaped, e->id, KEY_MAX);
	evt_names_decode(f.source, f.source_len, f.escaped, e->src, KEY_MAX);
	evt_names_decode(f.type, f.type_len, f.escaped, e->type, KEY_MAX);
	evt_names_decode(f.group, f.group_len, f.escaped, e->group, KEY_MAX);
	return 0;
}

/* What text s of field f resolves to: its index (a source is added only
 * while counting), KEY_UNSEL when the selection leaves a source or type
 * out, KEY_NONE for no group, KEY_OTHER. */
static int32_t
resolve(struct rpt *r, int f, const char *s)
{
	const struct evt_sel *sel = r->o->sel;
	size_t at;
	switch (f) {
	case F_SRC:
		if (!evt_sel_source(sel, s))
			return KEY_UNSEL;
		if (r->counting)
			return key_get(r, &r->src, s);
		int32_t i = key_find(&r->src, s, &at);
		return i >= 0 ? i : KEY_OTHER;
	case F_TYP: {
		/* Types are GUIDs: the source rule (whole or last part, any
		 * case) is theirs too. */
		struct evt_sel t = *sel;
		t.sources = sel->types;
		t.nsources = sel->ntypes;
		return evt_sel_source(&t, s) ? key_get(r, &r->typ, s) :
		    KEY_UNSEL;
	}
	default:
		return s[0] == '\0' ? KEY_NONE : key_get(r, &r->grp, s);
	}
}

/* Whether the selection takes resolved event e. */
static int
selected(const struct evk *e)
{
	return e->k[F_SRC] != KEY_UNSEL && e->k[F_TYP] != KEY_UNSEL;
}

/* Resolves the decoded fields e into *k (a field after one left out is
 * not resolved). */
static void
resolve_text(struct rpt *r, const struct evf *e, struct evk *k)
{
	const char *s[F_N] = {e->src, e->type, e->group};
	for (int f = 0; f < F_N; f++)
		k->k[f] = f > 0 && k->k[f - 1] == KEY_UNSEL ? KEY_UNSEL :
		    resolve(r, f, s[f]);
}

/*
 * Reading
 */

/* Forgets what the previous segment's dictionary resolved. */
static void
seg_cache_reset(struct seg_cache *c)
{
	for (int f = 0; f < F_N; f++) {
		if (c->cap > 0)
			memset(c->sid[f], 0, c->cap * sizeof(int32_t));
		c->kid[f] = -1;
	}
	if (c->nshp > 0)
		memset(c->shp, 0, c->nshp * sizeof *c->shp);
	c->kid_nstr = UINT32_MAX;
}

/* Frees the caches. */
static void
seg_cache_free(struct seg_cache *c)
{
	for (int f = 0; f < F_N; f++)
		free(c->sid[f]);
	free(c->shp);
}

/* Grows array *p of *n elements of size sz, zeroed, to hold index i; 0 or
 * EVT_ERR_NOMEM. */
static int
fit(void **p, size_t *n, size_t sz, size_t i)
{
	if (i < *n)
		return 0;
	size_t nn = i < 512 ? 1024 : 2 * i;
	void *q = realloc(*p, nn * sz);
	if (q == NULL)
		return EVT_ERR_NOMEM;
	memset((char *)q + *n * sz, 0, (nn - *n) * sz);
	*p = q;
	*n = nn;
	return 0;
}

/* Where the fields are in records of shape sh (once per shape and
 * segment, and again when the field names' ids change); NULL when out of
 * memory. */
static const struct shape_pos *
shape_pos(struct rpt *r, const struct evt_rdec *d, uint32_t sh)
{
	struct seg_cache *c = &r->sc;
	/* The names' ids, again while a segment read from its start has
	 * not defined them all (its dictionary grows as it is read). */
	if ((c->kid[F_SRC] < 0 || c->kid[F_TYP] < 0 || c->kid[F_GRP] < 0) &&
	    d->dict->nstr != c->kid_nstr) {
		for (int f = 0; f < F_N; f++)
			c->kid[f] = evt_dict_str_find(d->dict, field_key[f],
			    strlen(field_key[f]));
		if (c->nshp > 0)
			memset(c->shp, 0, c->nshp * sizeof *c->shp);
		c->kid_nstr = d->dict->nstr;
	}
	if (fit((void **)&c->shp, &c->nshp, sizeof *c->shp, sh) != 0)
		return NULL;
	struct shape_pos *p = &c->shp[sh];
	if (!p->known) {
		for (int f = 0; f < F_N; f++)
			evt_rdec_key_at(d, sh, c->kid[f], &p->vi[f], &p->enc[f]);
		p->known = 1;
	}
	return p;
}

/* Resolves field f of EVENT record rec whose value is string id sid,
 * once per segment; 0, or -1 when the id names no string. */
static int
rec_sid(struct rpt *r, struct evt_rdec *d, int f, uint64_t sid, int32_t *out)
{
	struct seg_cache *c = &r->sc;
	/* The three arrays grow together; cap changes once all have. */
	size_t cap = c->cap;
	for (int g = 0; g < F_N && sid >= c->cap; g++) {
		cap = c->cap;
		if (fit((void **)&c->sid[g], &cap, sizeof(int32_t), sid) != 0) {
			r->err = EVT_ERR_NOMEM;
			return -1;
		}
	}
	c->cap = cap;
	int32_t *v = &c->sid[f][sid];
	if (*v == 0) {
		size_t len;
		const char *s = evt_dict_str(d->dict, (uint32_t)sid, &len);
		char t[KEY_MAX + 1];
		if (s == NULL || len > KEY_MAX)
			return -1;
		memcpy(t, s, len);
		t[len] = '\0';
		*v = resolve(r, f, t) + 4;
	}
	*out = *v - 4;
	return 0;
}

/* Resolves field f of EVENT record rec from its text: a value stored
 * otherwise than as an interned string (a GUID, a time, a JSON value);
 * 0, or -1 when it cannot be read. */
static int
rec_text(struct rpt *r, struct evt_rdec *d, const struct evt_rec *rec,
    int f, int32_t *out)
{
	char t[KEY_MAX + 1];
	int rc = evt_rdec_field(d, rec, field_key[f], t, sizeof t);
	if (rc == EVT_ERR_NOTFOUND)
		t[0] = '\0'; /* a JSON value that is not a string */
	else if (rc < 0)
		return -1;
	*out = resolve(r, f, t);
	return 0;
}

/*
 * Resolves EVENT record rec into *e from the record itself (no text
 * rendered: what makes a pass cheap; the id is not needed there): 0, or
 * -1 when it must be rendered instead (a value the record cannot say, or
 * damaged: the frame reader reports it).
 */
static int
rec_keys(struct rpt *r, struct evt_rdec *d, const struct evt_rec *rec,
    struct evk *e)
{
	const struct shape_pos *p = shape_pos(r, d, rec->shape);
	if (p == NULL) {
		r->err = EVT_ERR_NOMEM;
		return -1;
	}
	const msgpack_object *v = rec->o->via.array.ptr;
	for (int f = 0; f < F_N; f++) {
		if (f > 0 && e->k[f - 1] == KEY_UNSEL)
			e->k[f] = KEY_UNSEL;
		else if (p->vi[f] == 0)
			e->k[f] = resolve(r, f, "");
		else if (p->enc[f] == EVT_ENC_STR ? rec_sid(r, d, f,
		    v[p->vi[f]].via.u64, &e->k[f]) : rec_text(r, d, rec, f,
		    &e->k[f]))
			return -1;
	}
	return 0;
}

/* What a pass does with a selected event (text ev[0..len) when rendered,
 * else NULL) received at rx. */
typedef void (*event_cb)(struct rpt *r, int64_t rx, const char *ev,
    size_t len, const struct evk *e);

/* One reading of the frames received in [from, to). */
struct pass {
	int64_t from, to;
	evt_frame_keep_cb keep;	/* resolves the events it can from their
				   records */
	event_cb cb;		/* the events rendered */
	int marks;		/* keeps the SESSION and GAP markers */
	int states;		/* applies the getState answers */
};

/* Calls cb for each selected event of MSG frame f. */
static void
frame_events(struct rpt *r, const struct evt_frame *f, event_cb cb)
{
	struct evf e;
	struct evk k;
	for (uint32_t i = 0; i < f->kept && r->err == 0; i++) {
		const char *ev = (const char *)f->text.p + f->span[2 * i];
		size_t len = f->span[2 * i + 1] - f->span[2 * i];
		if (ev_fields(ev, len, &e) != 0)
			continue;
		resolve_text(r, &e, &k);
		if (selected(&k))
			cb(r, f->rx_us, ev, len, &k);
	}
}

static void mark_add(struct rpt *r, const struct evt_frame *f);
static void states_apply(struct rpt *r, const struct evt_frame *f);

/* Reads the frames of pass p in archive order: the events of messages
 * (p's keep and cb), and as p says the markers and getState answers.
 * Returns 0 or a negative evt_err. */
static int
scan(struct rpt *r, struct evt_archive *a, const struct pass *p)
{
	size_t n;
	const struct evt_segref *segs = evt_archive_segments(a, &n);
	r->pfrom = p->from;
	r->pto = p->to;
	for (size_t i = 0; i < n && r->err == 0; i++) {
		struct evt_segr *sr;
		if (evt_archive_segment_outside(a, i, p->from, p->to) ||
		    evt_archive_open_segment(a, i, &sr) != 0)
			continue; /* outside, or reported */
		const struct evt_seg_info *si = evt_segr_info(sr);
		if (si->sealed && si->nrecords > 0 && (si->last_rx < p->from ||
		    si->first_rx >= p->to)) {
			evt_archive_close_segment(a, sr);
			continue;
		}
		if (i == 0 && si->sealed && si->nrecords > 0 &&
		    si->first_rx >= p->from)
			r->whole = 1; /* (of the look-back: for the facts) */
		/* (--site: from the SESSION marker naming the site, the
		 * segment's first record.) */
		evt_segr_rewind(sr, r->o->sel->nsites > 0 ? INT64_MIN :
		    p->from);
		seg_cache_reset(&r->sc);
		struct evt_frames fr;
		struct evt_frame *f;
		int rc;
		evt_frames_init(&fr, sr, p->keep, r, r->o->errcb, r->o->arg,
		    segs[i].path);
		while ((rc = evt_frames_next(&fr, &f)) == 1 && r->err == 0) {
			if (f->kind == EVT_K_SESSION && evt_siter_marker(
			    &r->site, (const char *)f->text.p, f->text.len))
				r->err = EVT_ERR_NOMEM;
			if (f->rx_us < p->from || f->rx_us >= p->to ||
			    !r->site.on)
				continue;
			if (f->kind == EVT_K_MSG)
				frame_events(r, f, p->cb);
			else if (p->states && f->kind == EVT_K_STATES)
				states_apply(r, f);
			else if (p->marks && (f->kind == EVT_K_SESSION ||
			    f->kind == EVT_K_GAP))
				mark_add(r, f);
		}
		evt_archive_add_lost(a, fr.lost);
		evt_frames_free(&fr);
		evt_archive_close_segment(a, sr);
		if (rc < 0 && rc != EVT_ERR_CORRUPT)
			r->err = rc;
	}
	return r->err;
}

/* Keeps a SESSION or GAP marker (bounded). */
static void
mark_add(struct rpt *r, const struct evt_frame *f)
{
	/* A central archive's site marker is no session: it names the site
	 * of what follows (formats/records.md, "Central archives"; the
	 * Site row says which). */
	if (f->kind == EVT_K_SESSION && evt_session_is_site((const char *)
	    f->text.p, f->text.len))
		return;
	if (r->nmarks == EVT_REPORT_MAX_MARKS) {
		r->moremarks++;
		return;
	}
	if (r->marks == NULL && (r->marks = calloc(EVT_REPORT_MAX_MARKS,
	    sizeof *r->marks)) == NULL) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	struct mark *m = &r->marks[r->nmarks];
	if ((m->body = malloc(f->text.len + 1)) == NULL) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	memcpy(m->body, f->text.p, f->text.len);
	m->body[f->text.len] = '\0';
	m->len = f->text.len;
	m->kind = f->kind;
	m->rx = f->rx_us;
	m->prev = r->last_ev;
	r->nmarks++;
}

/* Keeps the event text ev[0..len) as a row of the table. */
static void
row_add(struct rpt *r, int64_t rx, const char *ev, size_t len)
{
	if (r->nrows >= r->o->rows)
		return;
	if (r->rows == NULL && (r->rows = calloc(r->o->rows,
	    sizeof *r->rows)) == NULL) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	struct row *w = &r->rows[r->nrows];
	if ((w->ev = malloc(len)) == NULL) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	memcpy(w->ev, ev, len);
	w->len = len;
	w->rx = rx;
	r->nrows++;
}

/* Pass 1: counts one event. */
static void
count_one(struct rpt *r, int64_t rx, const struct evk *e)
{
	if (e->k[F_SRC] >= 0)
		r->src.k[e->k[F_SRC]].n++;
	else
		r->src.other++;
	if (e->k[F_TYP] >= 0)
		r->typ.k[e->k[F_TYP]].n++;
	else
		r->typ.other++;
	int b = (int)((double)(rx - r->o->from) * EVT_REPORT_BUCKETS /
	    (double)(r->o->to - r->o->from));
	r->buckets[b < 0 ? 0 : b >= EVT_REPORT_BUCKETS ?
	    EVT_REPORT_BUCKETS - 1 : b]++;
	r->total++;
	r->last_ev = rx;
}

/* Pass 1, an event rendered as text: counts it and keeps its row. */
static void
count_cb(struct rpt *r, int64_t rx, const char *ev, size_t len,
    const struct evk *e)
{
	count_one(r, rx, e);
	row_add(r, rx, ev, len);
}

/* The item filters' common part: 1 and *e for a selected event of a
 * message received in the pass, 0 for another item to pass over, -1 for
 * one to render (not an event of a message: a getState answer's items
 * are EVENT records too; or one the record cannot say). */
static int
keep_event(struct rpt *r, int frame_kind, struct evt_rdec *d,
    const struct evt_rec *rec, struct evk *e)
{
	if (rec->kind != EVT_K_EVENT || frame_kind != EVT_K_MSG)
		return -1;
	if (rec->rx_us < r->pfrom || rec->rx_us >= r->pto || !r->site.on)
		return 0;
	if (rec_keys(r, d, rec, e) != 0)
		return -1;
	return selected(e);
}

/* Pass 1's item filter: counts a selected event of the window from its
 * record; renders it (count_cb) only while the events table has room. */
static int
count_keep(void *arg, int frame_kind, uint32_t kept,
    struct evt_rdec *d, const struct evt_rec *rec)
{
	struct rpt *r = arg;
	struct evk e;
	int rc = keep_event(r, frame_kind, d, rec, &e);
	if (rc < 0 || (rc == 1 && r->nrows < r->o->rows))
		return 1;
	if (rc == 1)
		count_one(r, rec->rx_us, &e);
	return 0;
}

/* The timeline column of receive time rx (clamped to the window). */
static int
col_of(const struct rpt *r, int64_t rx)
{
	/* In floating point: a window of centuries times the columns
	 * would overflow 64 bits. */
	double c = (double)(rx - r->o->from) * EVT_REPORT_COLS /
	    (double)(r->o->to - r->o->from);
	return c < 0 ? 0 : c >= EVT_REPORT_COLS ? EVT_REPORT_COLS - 1 : (int)c;
}

/* The place of group g in lane l, added if there is room; -1 if not. */
static int
lane_group(struct lane *l, int32_t g)
{
	for (size_t i = 0; i < l->ngroups; i++)
		if (l->group[i] == g)
			return (int)i;
	if (l->ngroups == EVT_REPORT_MAX_GROUPS)
		return -1;
	l->group[l->ngroups] = g;
	l->cur[l->ngroups] = -1;
	l->last[l->ngroups] = -1;
	return (int)l->ngroups++;
}

/*
 * Ends the open interval of group g of lane l at end (drawn if there is
 * room; before the window only forgotten).  An interval narrower than
 * EVT_REPORT_NARROW timeline columns (narrow) that follows a bar of the
 * group made of such intervals is merged into that bar: a state that
 * flaps faster than the timeline can show is one bar saying how many
 * intervals it holds, which bounds the bars of a group by the columns,
 * not by the events.
 */
static void
lane_close(struct rpt *r, struct lane *l, int g, int64_t end)
{
	if (l->cur[g] < 0 || end < r->o->from) {
		l->cur[g] = -1;
		return;
	}
	int narrow = (double)(end - l->since[g]) * EVT_REPORT_COLS <
	    (double)(r->o->to - r->o->from) * EVT_REPORT_NARROW;
	struct bar *prev = l->last[g] >= 0 ? &l->bars[l->last[g]] : NULL;
	if (narrow && prev != NULL && prev->thin) {
		prev->end = end;
		prev->n++;
	} else if (l->nbars == EVT_REPORT_MAX_BARS) {
		l->dropped++;
	} else {
		if (l->bars == NULL && (l->bars = calloc(EVT_REPORT_MAX_BARS,
		    sizeof *l->bars)) == NULL) {
			r->err = EVT_ERR_NOMEM;
			return;
		}
		l->last[g] = (int64_t)l->nbars;
		l->bars[l->nbars++] = (struct bar){l->since[g], end, l->cur[g],
		    1, (uint8_t)g, (uint8_t)narrow};
	}
	l->cur[g] = -1;
}

/* The state group g of lane l is in type t from rx on; returns the
 * group's place in the lane, or -1. */
static int
lane_state(struct rpt *r, struct lane *l, int32_t g, int32_t t, int64_t rx)
{
	int k = lane_group(l, g);
	if (k < 0 || l->cur[k] == t)
		return k; /* no room, or the same state goes on */
	lane_close(r, l, k, rx);
	l->cur[k] = t;
	l->since[k] = rx < r->o->from ? r->o->from : rx;
	return k;
}

/* The lane of resolved event e's source, or NULL. */
static struct lane *
lane_of(struct rpt *r, const struct evk *e)
{
	int32_t s = e->k[F_SRC];
	return s >= 0 && r->src.k[s].lane >= 0 ? &r->lanes[r->src.k[s].lane] :
	    NULL;
}

/* Passes 2 and 3: the state change or tick of one event of a lane (no
 * tick before the window). */
static void
draw_cb(struct rpt *r, int64_t rx, const char *ev, size_t len,
    const struct evk *e)
{
	struct lane *l = lane_of(r, e);
	if (l == NULL)
		return;
	if (e->k[F_GRP] != KEY_NONE) {
		if (e->k[F_GRP] >= 0 && e->k[F_TYP] >= 0)
			lane_state(r, l, e->k[F_GRP], e->k[F_TYP], rx);
		return;
	}
	if (rx < r->o->from)
		return;
	struct col *c = &l->cols[col_of(r, rx)];
	if (c->n++ == 0) {
		c->type = e->k[F_TYP] >= 0 ? e->k[F_TYP] : -1;
		c->rx = rx;
	}
}

/* Passes 2 and 3's item filter: draws a selected event from its record,
 * rendering none (unless the record cannot say). */
static int
draw_keep(void *arg, int frame_kind, uint32_t kept,
    struct evt_rdec *d, const struct evt_rec *rec)
{
	struct rpt *r = arg;
	struct evk e;
	int rc = keep_event(r, frame_kind, d, rec, &e);
	if (rc == 1)
		draw_cb(r, rec->rx_us, NULL, 0, &e);
	return rc < 0;
}

/* A getState answer f: each lane's groups it names are in the state it
 * says from its time on, those it does not name end there (the answer
 * replaces the state table, as in `evtool state`). */
static void
states_apply(struct rpt *r, const struct evt_frame *f)
{
	struct evf e;
	struct evk k;
	for (size_t i = 0; i < r->nlanes; i++)
		memset(r->lanes[i].named, 0, sizeof r->lanes[i].named);
	for (uint32_t i = 0; i < f->kept && r->err == 0; i++) {
		const char *ev = (const char *)f->text.p + f->span[2 * i];
		if (ev_fields(ev, f->span[2 * i + 1] - f->span[2 * i], &e) != 0)
			continue;
		resolve_text(r, &e, &k);
		struct lane *l = lane_of(r, &k);
		int g = l == NULL || k.k[F_GRP] < 0 || k.k[F_TYP] < 0 ? -1 :
		    lane_state(r, l, k.k[F_GRP], k.k[F_TYP], f->rx_us);
		if (g >= 0)
			l->named[g] = 1;
	}
	for (size_t i = 0; i < r->nlanes; i++)
		for (size_t g = 0; g < r->lanes[i].ngroups; g++)
			if (!r->lanes[i].named[g])
				lane_close(r, &r->lanes[i], (int)g, f->rx_us);
}

/* Makes the lanes of the busiest sources; returns 0 or EVT_ERR_NOMEM. */
static int
lanes_make(struct rpt *r)
{
	struct key **all;
	ssize_t n = keys_busiest(&r->src, &all);
	if (n < 0)
		return EVT_ERR_NOMEM;
	if ((size_t)n > r->o->lanes)
		n = (ssize_t)r->o->lanes;
	if ((r->lanes = calloc((size_t)n + 1, sizeof *r->lanes)) == NULL) {
		free(all);
		return EVT_ERR_NOMEM;
	}
	for (ssize_t i = 0; i < n; i++) {
		r->lanes[i].src = (int32_t)(all[i] - r->src.k);
		all[i]->lane = (int)i;
		r->lanes[i].cols = calloc(EVT_REPORT_COLS,
		    sizeof *r->lanes[i].cols);
		if (r->lanes[i].cols == NULL) {
			free(all);
			return EVT_ERR_NOMEM;
		}
		r->nlanes++;
	}
	free(all);
	return 0;
}

/*
 * Writing
 */

/* Appends s[0..len) HTML-escaped (text and attribute values alike). */
static void
esc(struct rpt *r, const char *s, size_t len)
{
	struct evt_buf *b = r->out;
	for (size_t i = 0; i < len && r->err == 0; i++) {
		const char *e = NULL;
		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = "&quot;"; break;
		case '\'': e = "&#39;"; break;
		default: break;
		}
		int rc = e ? evt_buf_put(b, e, strlen(e)) : evt_buf_putc(b, s[i]);
		if (rc != 0)
			r->err = rc;
	}
}

/* Appends NUL-terminated s HTML-escaped. */
static void
escs(struct rpt *r, const char *s)
{
	esc(r, s, strlen(s));
}

/* Appends printf output (markup: the caller escapes what it puts). */
static void
put(struct rpt *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct rpt *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || r->err != 0)
		return;
	if (evt_buf_grow(r->out, (size_t)n + 1) != 0) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf((char *)r->out->p + r->out->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->out->len += (size_t)n;
}

/* Appends receive time rx as UTC ISO-8601. */
static void
put_time(struct rpt *r, int64_t rx)
{
	char t[28];
	evt_time_format_us(rx, t);
	put(r, "%s", t);
}

/* The name of id in list as of rx, or its GUID (the part after the last
 * '/'); "-" for an empty id.  Borrowed until the next lookup. */
static const char *
name_of(struct rpt *r, enum evt_names_list list, const char *id, int64_t rx)
{
	struct evt_names_item it;
	if (id[0] == '\0')
		return "-";
	if (evt_names_get(r->names, list, id, strlen(id), rx, &it) &&
	    it.name != NULL)
		return it.name;
	const char *slash = strrchr(id, '/');
	return slash ? slash + 1 : id;
}

/* A fill color of type id, the same for the same id in every report. */
static void
put_color(struct rpt *r, const char *id)
{
	put(r, "hsl(%u,65%%,50%%)", (unsigned)(hash_ci(id) % 360));
}

/* x of time rx on the timeline (pixels from the lanes' left edge). */
static double
x_of(const struct rpt *r, int64_t rx)
{
	if (rx < r->o->from)
		rx = r->o->from;
	if (rx > r->o->to)
		rx = r->o->to;
	return (double)(rx - r->o->from) * EVT_REPORT_COLS /
	    (double)(r->o->to - r->o->from);
}

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid #ddd;vertical-align:top}"
    "th{background:#f3f3f3}td.n{text-align:right}"
    "td:first-child{white-space:nowrap}"
    "tr:target{background:#ffe98a}code{font-size:12px}"
    "svg{font:11px sans-serif}.lane-bg{fill:#fafafa;stroke:#e3e3e3}"
    ".tick{stroke:#333;stroke-width:1}.gap{fill:#d33;fill-opacity:.18}"
    ".around{stroke:#d00;stroke-width:2}.chart rect{fill:#4a7bd0}"
    ".axis{stroke:#999}";

#define LEFT 180	/* lane labels */
#define LANE_H 26

/* The --around event (linked to its row when link) and its time, or the
 * time alone. */
static void
put_around(struct rpt *r, int link)
{
	if (r->o->around_id != NULL) {
		if (link) {
			put(r, "<a href=\"#ev-");
			escs(r, r->o->around_id);
			put(r, "\">");
		}
		put(r, "event ");
		escs(r, r->o->around_id);
		put(r, link ? "</a> received " : " at ");
	}
	put_time(r, r->o->around_rx);
}

/* The head of the page and the facts of the window. */
static void
put_head(struct rpt *r)
{
	put(r, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset="
	    "\"utf-8\">\n<title>evtape incident report: ");
	escs(r, r->o->archive);
	put(r, " ");
	put_time(r, r->o->from);
	put(r, "</title>\n<style>%s</style></head>\n<body>\n"
	    "<h1>Incident report</h1>\n<table id=\"facts\">\n"
	    "<tr><th>Archive</th><td>", css);
	escs(r, r->o->archive);
	put(r, "</td></tr>\n");
	if (r->o->sel->nsites > 0) {
		/* The sites selected: those the SESSION markers read named. */
		put(r, "<tr><th>Site</th><td>");
		for (size_t i = 0, k = 0; i < r->site.nmet; i++)
			if (r->site.hit[i]) {
				if (k++ > 0)
					put(r, ", ");
				escs(r, r->site.met[i]);
			}
		put(r, "</td></tr>\n");
	}
	put(r, "<tr><th>Window (UTC)</th><td>");
	put_time(r, r->o->from);
	put(r, " &ndash; ");
	put_time(r, r->o->to);
	put(r, "</td></tr>\n");
	if (r->o->around_id != NULL || r->o->around_rx != INT64_MIN) {
		put(r, "<tr><th>Around</th><td>");
		put_around(r, 1);
		put(r, "</td></tr>\n");
	}
	put(r, "<tr><th>States</th><td>at the window's start: from the "
	    "events and getState answers received ");
	if (r->states_from == INT64_MIN || r->whole) {
		put(r, "before it");
	} else if (r->snapshot) {
		put(r, "since ");
		put_time(r, r->states_from);
		put(r, " (a getState answer among them)");
	} else {
		put(r, "since ");
		put_time(r, r->states_from);
		put(r, " (a state entered earlier and unchanged since is not "
		    "drawn)");
	}
	put(r, "</td></tr>\n");
	put(r, "<tr><th>Events</th><td id=\"total\">%" PRIu64 "</td></tr>\n"
	    "<tr><th>Sources</th><td>%zu%s</td></tr>\n</table>\n", r->total,
	    r->src.n, r->src.other ? " and more (not counted by id)" : "");
}

/* The value of string member key of marker body m, escaped, or "-". */
static void
put_member(struct rpt *r, const struct mark *m, const char *key)
{
	char pat[64];
	int n = snprintf(pat, sizeof pat, "\"%s\":\"", key);
	const char *p = strstr(m->body, pat), *e;
	if (p == NULL) {
		put(r, "-");
		return;
	}
	p += n;
	for (e = p; *e != '\0' && *e != '"'; e++)
		if (*e == '\\' && e[1] != '\0')
			e++;
	char v[KEY_MAX + 1];
	int k = (size_t)(e - p) > KEY_MAX ? -1 : evt_json_unescape(p,
	    (size_t)(e - p), v);
	if (k < 0) {
		put(r, "?");
		return;
	}
	v[k] = '\0';
	escs(r, v);
}

/* The recorder's sessions and gaps in the window. */
static void
put_marks(struct rpt *r)
{
	put(r, "<h2>Recorder sessions and gaps</h2>\n");
	if (r->nmarks == 0) {
		put(r, "<p id=\"marks\">No SESSION or GAP marker in the "
		    "window: one session throughout.</p>\n");
		return;
	}
	put(r, "<table id=\"marks\"><tr><th>Time (UTC)</th><th>Marker</th>"
	    "<th>Kind / reason</th><th>Session</th><th>Details</th></tr>\n");
	for (size_t i = 0; i < r->nmarks; i++) {
		const struct mark *m = &r->marks[i];
		int gap = m->kind == EVT_K_GAP;
		put(r, "<tr class=\"%s\"><td>", gap ? "gap" : "session");
		put_time(r, m->rx);
		put(r, "</td><td>%s</td><td>", gap ? "GAP" : "SESSION");
		put_member(r, m, gap ? "reason" : "event");
		put(r, "</td><td>");
		put_member(r, m, "sessionId");
		put(r, "</td><td><code>");
		esc(r, m->body, m->len);
		put(r, "</code></td></tr>\n");
	}
	put(r, "</table>\n");
	if (r->moremarks)
		put(r, "<p>%" PRIu64 " more markers not listed.</p>\n",
		    r->moremarks);
}

/* The events-per-interval chart. */
static void
put_chart(struct rpt *r)
{
	uint64_t max = 1;
	for (int i = 0; i < EVT_REPORT_BUCKETS; i++)
		if (r->buckets[i] > max)
			max = r->buckets[i];
	int64_t w = (r->o->to - r->o->from) / EVT_REPORT_BUCKETS;
	put(r, "<h2>Events per interval</h2>\n<p>%d intervals of %.3f s; "
	    "the highest holds %" PRIu64 " events.</p>\n<svg class=\"chart\" "
	    "id=\"chart\" width=\"%d\" height=\"130\" xmlns=\"http://www.w3.org"
	    "/2000/svg\">\n", EVT_REPORT_BUCKETS, (double)w / 1e6, max,
	    LEFT + EVT_REPORT_COLS + 10);
	double bw = (double)EVT_REPORT_COLS / EVT_REPORT_BUCKETS;
	for (int i = 0; i < EVT_REPORT_BUCKETS; i++) {
		double h = 110.0 * (double)r->buckets[i] / (double)max;
		put(r, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
		    "<title>", LEFT + i * bw, 115 - h, bw - 1, h);
		put_time(r, r->o->from + i * w);
		put(r, ": %" PRIu64 " events</title></rect>\n", r->buckets[i]);
	}
	put(r, "<line class=\"axis\" x1=\"%d\" y1=\"115\" x2=\"%d\" y2=\"115\"/>"
	    "\n</svg>\n", LEFT, LEFT + EVT_REPORT_COLS);
}

/* The state a type sets (its state name, else its name) as of rx. */
static const char *
state_of(struct rpt *r, const char *type, int64_t rx)
{
	struct evt_names_item it;
	if (evt_names_get(r->names, EVT_NAMES_TYPE, type, strlen(type), rx,
	    &it) && it.state != NULL)
		return it.state;
	return name_of(r, EVT_NAMES_TYPE, type, rx);
}

/* The time axis and the shaded gaps over all lanes, height h. */
static void
put_axis(struct rpt *r, int h)
{
	for (int i = 0; i <= 4; i++) {
		int64_t t = r->o->from + (r->o->to - r->o->from) / 4 * i;
		char s[28];
		evt_time_format_us(t, s);
		put(r, "<line class=\"axis\" x1=\"%.1f\" y1=\"18\" x2=\"%.1f\" "
		    "y2=\"%d\"/><text x=\"%.1f\" y=\"12\" text-anchor=\"%s\">"
		    "%.8s</text>\n", LEFT + x_of(r, t), LEFT + x_of(r, t), h,
		    LEFT + x_of(r, t), i == 0 ? "start" : i == 4 ? "end" :
		    "middle", s + 11);
	}
	for (size_t i = 0; i < r->nmarks; i++) {
		const struct mark *m = &r->marks[i];
		if (m->kind != EVT_K_GAP)
			continue;
		int64_t a = m->prev == INT64_MIN ? r->o->from : m->prev;
		double x = x_of(r, a), w = x_of(r, m->rx) - x;
		put(r, "<rect class=\"gap\" x=\"%.1f\" y=\"18\" width=\"%.1f\" "
		    "height=\"%d\"><title>gap: events between ", LEFT + x,
		    w < 2 ? 2 : w, h - 18);
		put_time(r, a);
		put(r, " and ");
		put_time(r, m->rx);
		put(r, " may be missing (");
		put_member(r, m, "reason");
		put(r, ")</title></rect>\n");
	}
}

/* The bars of lane l at y. */
static void
put_bars(struct rpt *r, const struct lane *l, int y)
{
	double h = (double)(LANE_H - 10) / (double)(l->ngroups ? l->ngroups : 1);
	for (size_t i = 0; i < l->nbars; i++) {
		const struct bar *b = &l->bars[i];
		const char *type = r->typ.k[b->type].id;
		double x = x_of(r, b->start), w = x_of(r, b->end) - x;
		put(r, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"", LEFT + x, y + 8 + b->g * h,
		    w < 1 ? 1 : w, h - 1);
		if (b->n > 1)
			put(r, "#999");
		else
			put_color(r, type);
		put(r, "\"><title>");
		escs(r, name_of(r, EVT_NAMES_SOURCE, r->src.k[l->src].id,
		    b->start));
		put(r, " &mdash; ");
		escs(r, name_of(r, EVT_NAMES_GROUP, r->grp.k[l->group[b->g]].id,
		    b->start));
		put(r, ": ");
		if (b->n > 1)
			put(r, "%" PRIu32 " intervals, changing faster than "
			    "shown, first ", b->n);
		escs(r, state_of(r, type, b->start));
		put(r, ", ");
		put_time(r, b->start);
		put(r, " &ndash; ");
		put_time(r, b->end);
		put(r, "</title></rect>\n");
	}
}

/* The ticks of lane l at y. */
static void
put_ticks(struct rpt *r, const struct lane *l, int y)
{
	for (int c = 0; c < EVT_REPORT_COLS; c++) {
		const struct col *k = &l->cols[c];
		if (k->n == 0)
			continue;
		const char *type = k->type >= 0 ? r->typ.k[k->type].id : "";
		put(r, "<line class=\"tick\" x1=\"%d.5\" y1=\"%d\" x2=\"%d.5\" "
		    "y2=\"%d\"><title>", LEFT + c, y + 1, LEFT + c, y + 8);
		escs(r, name_of(r, EVT_NAMES_SOURCE, r->src.k[l->src].id, k->rx));
		put(r, ": ");
		if (k->n > 1)
			put(r, "%" PRIu32 " events from ", k->n);
		escs(r, name_of(r, EVT_NAMES_TYPE, type, k->rx));
		put(r, k->n > 1 ? " (the first) at " : " at ");
		put_time(r, k->rx);
		put(r, "</title></line>\n");
	}
}

/* The timeline: a lane per source, gaps, the --around event. */
static void
put_timeline(struct rpt *r)
{
	int h = 22 + (int)r->nlanes * LANE_H;
	put(r, "<h2>Timeline</h2>\n<p>The %zu busiest of %zu sources: state "
	    "intervals as bars (one row per state group), other events as "
	    "ticks (one per pixel column), gaps shaded.</p>\n<svg id=\"timeline\" "
	    "width=\"%d\" height=\"%d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
	    r->nlanes, r->src.n, LEFT + EVT_REPORT_COLS + 10, h + 4);
	for (size_t i = 0; i < r->nlanes && r->err == 0; i++) {
		const struct lane *l = &r->lanes[i];
		int y = 22 + (int)i * LANE_H;
		const struct key *src = &r->src.k[l->src];
		const char *nm = name_of(r, EVT_NAMES_SOURCE, src->id,
		    r->o->from);
		put(r, "<g class=\"lane\" id=\"lane-%zu\" data-source=\"", i);
		escs(r, src->id);
		put(r, "\"><rect class=\"lane-bg\" x=\"%d\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\"/><text x=\"%d\" y=\"%d\"><title>", LEFT, y,
		    EVT_REPORT_COLS, LANE_H - 2, 4, y + 16);
		escs(r, nm);
		put(r, " (");
		escs(r, src->id);
		put(r, ")");
		put(r, ": %" PRIu64 " events", src->n);
		if (l->dropped)
			put(r, "; %" PRIu64 " intervals not drawn", l->dropped);
		put(r, "</title>");
		/* The label fits the margin: 24 bytes, cut between
		 * characters (not inside a UTF-8 sequence). */
		size_t k = strlen(nm) > 24 ? 24 : strlen(nm);
		while (k > 0 && k < strlen(nm) && ((unsigned char)nm[k] &
		    0xc0) == 0x80)
			k--;
		esc(r, nm, k);
		put(r, "%s</text>\n", k < strlen(nm) ? "&hellip;" : "");
		put_bars(r, l, y);
		put_ticks(r, l, y);
		put(r, "</g>\n");
	}
	put_axis(r, h);
	if (r->o->around_rx != INT64_MIN) {
		double x = LEFT + x_of(r, r->o->around_rx);
		put(r, "<line class=\"around\" id=\"around\" x1=\"%.1f\" y1=\"16\" "
		    "x2=\"%.1f\" y2=\"%d\"><title>around ", x, x, h);
		put_around(r, 0);
		put(r, "</title></line>\n");
	}
	put(r, "</svg>\n");
}

/* The events by type. */
static void
put_types(struct rpt *r)
{
	struct key **all;
	ssize_t n = keys_busiest(&r->typ, &all);
	if (n < 0) {
		r->err = EVT_ERR_NOMEM;
		return;
	}
	put(r, "<h2>Events by type</h2>\n<table id=\"types\"><tr><th>Type</th>"
	    "<th>Id</th><th>Events</th></tr>\n");
	for (ssize_t i = 0; i < n; i++) {
		put(r, "<tr><td>");
		escs(r, name_of(r, EVT_NAMES_TYPE, all[i]->id, r->o->to));
		put(r, "</td><td><code>");
		escs(r, all[i]->id);
		put(r, "</code></td><td class=\"n\">%" PRIu64 "</td></tr>\n",
		    all[i]->n);
	}
	if (r->typ.other)
		put(r, "<tr><td>(other)</td><td></td><td class=\"n\">%" PRIu64
		    "</td></tr>\n", r->typ.other);
	put(r, "</table>\n");
	free(all);
}

/* The events table. */
static void
put_events(struct rpt *r)
{
	put(r, "<h2>Events</h2>\n<table id=\"events\"><tr><th>Received (UTC)"
	    "</th><th>Source</th><th>Type</th><th>State group</th><th>Id</th>"
	    "</tr>\n");
	struct evf e;
	for (size_t i = 0; i < r->nrows && r->err == 0; i++) {
		const struct row *w = &r->rows[i];
		if (ev_fields(w->ev, w->len, &e) != 0)
			continue;
		struct evt_names_ev ne;
		evt_names_event(r->names, w->ev, w->len, w->rx, &ne);
		int mark = r->o->around_id && strcmp(e.id, r->o->around_id) == 0;
		put(r, "<tr id=\"ev-");
		escs(r, e.id);
		put(r, "\"%s><td>", mark ? " class=\"around\"" : "");
		put_time(r, w->rx);
		put(r, "</td><td>");
		escs(r, name_of(r, EVT_NAMES_SOURCE, e.src, w->rx));
		put(r, "</td><td>");
		escs(r, name_of(r, EVT_NAMES_TYPE, e.type, w->rx));
		put(r, "</td><td>");
		escs(r, ne.group_name ? ne.group_name : e.group[0] ? e.group :
		    "-");
		put(r, "</td><td><a href=\"#ev-");
		escs(r, e.id);
		put(r, "\"><code>");
		escs(r, e.id);
		put(r, "</code></a></td></tr>\n");
	}
	put(r, "</table>\n<p id=\"more\">");
	if (r->total > r->nrows)
		put(r, "%" PRIu64 " more events in the window not listed.",
		    r->total - r->nrows);
	else
		put(r, "All %" PRIu64 " events listed.", r->total);
	put(r, "</p>\n<p><small>Written by evtool report.</small></p>\n"
	    "</body></html>\n");
}

/* Fills the window from --around: the event's receive time (by id, or
 * the time given) with window/2 either side. */
static int
around(struct rpt *r, struct evt_archive *a, struct evt_buf *why)
{
	struct evt_report_opts *o = r->o;
	if (o->around_id != NULL) {
		int rc = evt_archive_find_rx(a, o->around_id,
		    strlen(o->around_id), &o->around_rx);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			char m[600];
			int k = snprintf(m, sizeof m, "--around: no event with "
			    "id %.512s in %s", o->around_id, o->archive);
			evt_buf_put(why, m, (size_t)k);
			return EVT_ERR_NOTFOUND;
		}
	}
	if (o->around_rx != INT64_MIN) {
		o->from = o->around_rx - o->window / 2;
		o->to = o->from + o->window;
	}
	return 0;
}

/* Frees what the report kept. */
static void
rpt_free(struct rpt *r)
{
	keys_free(&r->src);
	keys_free(&r->typ);
	keys_free(&r->grp);
	seg_cache_free(&r->sc);
	for (size_t i = 0; i < r->nrows; i++)
		free(r->rows[i].ev);
	free(r->rows);
	for (size_t i = 0; i < r->nmarks; i++)
		free(r->marks[i].body);
	free(r->marks);
	for (size_t i = 0; i < r->nlanes; i++) {
		free(r->lanes[i].bars);
		free(r->lanes[i].cols);
	}
	free(r->lanes);
}

/* Says "no selected event in the window" into why. */
static int
empty(const struct rpt *r, struct evt_buf *why)
{
	char a[28], b[28], m[600];
	evt_time_format_us(r->o->from, a);
	evt_time_format_us(r->o->to, b);
	int k = snprintf(m, sizeof m, "%s: no %sevent received between %s and "
	    "%s", r->o->archive, r->o->sel->nsources || r->o->sel->ntypes ?
	    "selected " : "", a, b);
	evt_buf_put(why, m, (size_t)k);
	return EVT_ERR_NOTFOUND;
}


/*
 * The default look-back: extended back to the start of the latest sealed
 * segment received wholly before the window that holds a getState answer
 * (the answer replaces the state table, so nothing earlier matters; evrec
 * records one every hour by default), no more than EVT_REPORT_AUTO_MAX
 * before the window; never shortened.  Sets snapshot where there is one.
 * Segments are in receive order: the walk goes back from the window.
 */
static void
snapshot_start(struct rpt *r, struct evt_archive *a)
{
	size_t n;
	evt_archive_segments(a, &n);
	int64_t lo = r->o->from - EVT_REPORT_AUTO_MAX;
	for (size_t i = n; i-- > 0;) {
		struct evt_segr *sr;
		if (evt_archive_segment_outside(a, i, lo, r->o->from) ||
		    evt_archive_open_segment(a, i, &sr) != 0)
			continue; /* outside, or reported */
		const struct evt_seg_info *si = evt_segr_info(sr);
		int has = si->sealed && si->nrecords > 0 &&
		    si->last_rx < r->o->from && evt_segr_load_index(sr) == 0 &&
		    si->frames[EVT_K_STATES] > 0;
		int64_t first = si->first_rx;
		evt_archive_close_segment(a, sr);
		if (!has)
			continue;
		r->snapshot = 1;
		if (first < lo)
			first = lo;
		if (r->states_from != INT64_MIN && first < r->states_from)
			r->states_from = first;
		return;
	}
}

/* Reads the window (the passes of the top of the file) and writes the
 * page; see report.h. */
static int
report(struct rpt *r, struct evt_archive *a, struct evt_buf *why)
{
	int rc = around(r, a, why);
	if (rc != 0)
		return rc;
	if (r->o->to <= r->o->from) {
		evt_buf_put(why, "the window is empty (--to must be after "
		    "--from)", 45);
		return EVT_ERR_ARG;
	}
	r->last_ev = INT64_MIN;
	r->counting = 1;
	struct pass count = {r->o->from, r->o->to, count_keep, count_cb, 1, 0};
	if ((rc = scan(r, a, &count)) != 0)
		return rc;
	r->counting = 0;
	r->whole = 0;
	if (r->total == 0)
		return empty(r, why);
	r->states_from = r->o->lookback <= 0 || r->o->from < INT64_MIN +
	    r->o->lookback ? INT64_MIN : r->o->from - r->o->lookback;
	/* (Not with --site: the last getState answer before the window
	 * may be another site's.) */
	if (r->o->lookback_auto && r->o->sel->nsites == 0)
		snapshot_start(r, a);
	struct pass seed = {r->states_from, r->o->from, draw_keep, draw_cb, 0,
	    1};
	struct pass draw = {r->o->from, r->o->to, draw_keep, draw_cb, 0, 1};
	if ((rc = lanes_make(r)) != 0 || (rc = scan(r, a, &seed)) != 0 ||
	    (rc = scan(r, a, &draw)) != 0)
		return rc;
	for (size_t i = 0; i < r->nlanes; i++)
		for (size_t g = 0; g < r->lanes[i].ngroups; g++)
			lane_close(r, &r->lanes[i], (int)g, r->o->to);
	put_head(r);
	put_marks(r);
	put_chart(r);
	put_timeline(r);
	put_types(r);
	put_events(r);
	return r->err;
}

/* The report; see report.h. */
int
evt_report_write(struct evt_archive *a, struct evt_names *n,
    struct evt_report_opts *o, struct evt_buf *out, struct evt_buf *why)
{
	struct rpt r = {.o = o, .names = n, .out = out};
	evt_siter_init(&r.site, o->sel->nsites > 0 ? o->sel : NULL);
	int rc = report(&r, a, why);
	rpt_free(&r);
	evt_siter_free(&r.site);
	return rc;
}
