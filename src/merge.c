/*
 * merge.c: one archive from several (merge.h; formats/records.md,
 * "Merged archives").
 *
 * Data flow: each input is an archive read segment by segment through a
 * frame reader (frame_reader.c) in flat mode, which rebuilds every frame,
 * a message {"events":[...]} as its events' decoded fields (flat items,
 * record.h: written without JSON in between, rendered only where text is
 * needed) and any other frame as its JSON text, and, through its keep
 * callback, gives us each event's id key as it goes.  An input's head is the markers read since its last frame (a
 * queue, copied) followed by its next frame (borrowed from its reader):
 * reading up to the next frame is what lets a GAP of one input be judged
 * against the others (is another input in a gap right now?).  The merge
 * takes the head with the smallest receive time, ties broken by content
 * so that the order of the inputs does not matter, and writes it:
 *
 * - MSG frames event by event against the dedupe window: a frame whose
 *   events are all new is written as it is; one whose events are partly
 *   known is written again with only the new ones (same receive time,
 *   same text around the events); one with none new is dropped;
 * - other frames, SESSION and CONFIG markers: dropped only when the same
 *   kind, receive time and text was just written (the copy of one archive
 *   in two inputs); SESSION bodies get the input's number;
 * - GAP markers: never copied; the part of the gap that no other input of
 *   the same gateway covers is written as a new GAP (once).
 *
 * Each input is read on a thread of its own (decoding is about half of
 * the work), which hands copied frames to the merge
 * through a ring of MERGE_RING slots; damage is reported from there,
 * one report at a time.
 *
 * The window is a ring of the id keys of the last `window` events written
 * and an open-addressed table of them (linear probing, deletion by
 * backward shift), so memory does not grow with the archives.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/merge.h"
#include "evtape/record.h"
#include "evtape/segment.h"

/* Appends a string literal to a buffer. */
#define PUT_LIT(b, lit) evt_buf_put((b), (lit), sizeof(lit) - 1)

/* An interval of receive times, open: (lo, hi). */
struct span {
	int64_t lo, hi;
};

/* A list of spans. */
struct spans {
	struct span *v;
	size_t n, cap;
};

/* A marker read ahead of an input's next frame (copied). */
struct qmark {
	int kind;
	int64_t rx;
	char *text;
	size_t len;
};

/* The nice increment of the readers' threads (reader_nice). */
#define MERGE_READER_NICE 5

/* Frames an input's reader may have ready ahead of the merge. */
#define MERGE_RING 256

/* A frame handed from an input's reader thread to the merge (copied).  A
 * MSG frame {"events":[...]} whose events all have a flat form (record.h)
 * comes as those (is_flat): its text is rendered only when the merge needs
 * it (rendered). */
struct mframe {
	int kind;		/* 0: the input's end; < 0: an evt_err */
	int64_t rx_us;
	struct evt_buf text;
	int is_flat, rendered;
	struct evt_buf flat, sids; /* the flat items, their STR values' ids */
	size_t *span;		/* kept item i: text[span[2i] .. span[2i+1]),
				   or flat[...] if is_flat */
	uint64_t *keys;		/* kept item i's id key */
	uint8_t *noid;		/* no indexed id; after put_frame: "is new" */
	uint32_t kept, cap;
};

struct merge;

/* One input. */
struct min {
	struct merge *m;
	const char *path;
	size_t idx;
	struct evt_archive *a;
	size_t seg, nseg;
	struct evt_segr *r;
	struct evt_frames fr;
	uint64_t *keys;		/* reader: id key of the frame's kept item i */
	uint8_t *noid;		/* reader: item i has no indexed id */
	size_t kcap;
	/* The ring: slots [rhead, rtail) are ready; the merge holds slot
	 * rhead while f points to it.  Each side moves its end without the
	 * lock (a frame costs no lock); it takes mu only to sleep on cv or
	 * to wake the other.  All sequentially consistent: a side that sets
	 * its wait flag and then finds the ring still empty (full) sleeps,
	 * and the other, moving its end next, sees the flag. */
	struct mframe ring[MERGE_RING];
	_Atomic unsigned rhead, rtail;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int started;
	_Atomic int stop;
	_Atomic int rwait, mwait; /* the reader / the merge waits on cv */
	struct mframe *f;	/* the next frame, NULL: none (yet) */
	int eof;
	struct qmark *q;	/* markers before f: q[qh..qn) */
	size_t qh, qn, qcap;
	int oom;		/* in_keep_cb ran out of memory */
	int64_t first_rx;	/* of its first record; INT64_MAX: none */
	int64_t last_rx;	/* of the last record taken from it */
	int64_t last_frame_rx;	/* of the last frame taken; INT64_MIN */
	char *gateway;		/* of its first SESSION marker ("": none) */
	char uuid[37];		/* of its first segment ("": none) */
	struct spans gaps;	/* its GAPs judged so far */
	int pgap;		/* a GAP taken, judged before its next frame */
	struct span pspan;
	struct evt_merge_stats *st;
	struct evt_smap smap;	/* its string ids -> the output's */
};

/* The merge. */
struct merge {
	struct evt_archive *out;
	const struct evt_merge_opts *o;
	struct min *in;
	size_t nin;
	int ngw;		/* distinct gateways among the inputs */
	const char *cur_gw;	/* of the last frame or SESSION written */
	/* The window. */
	uint64_t *ring, *tab;
	size_t wcap, wn, whead, tmask;
	/* Records without ids written at receive time same_rx. */
	int64_t same_rx;
	uint64_t *same;
	size_t nsame, samecap;
	struct spans outgaps;	/* GAPs written */
	struct evt_buf tmp;
	pthread_mutex_t cb_mu;	/* one report at a time */
};

/* Appends (lo, hi) to l.  Returns 0 or EVT_ERR_NOMEM. */
static int
spans_add(struct spans *l, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct span *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return EVT_ERR_NOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].lo = lo;
	l->v[l->n++].hi = hi;
	return 0;
}

/* u becomes the part of u inside some span of w (both lists of disjoint
 * spans; w need not be sorted).  Returns 0 or EVT_ERR_NOMEM. */
static int
spans_intersect(struct spans *u, const struct spans *w)
{
	struct spans r = {0};
	for (size_t i = 0; i < u->n; i++)
		for (size_t j = 0; j < w->n; j++) {
			int64_t lo = u->v[i].lo > w->v[j].lo ? u->v[i].lo :
			    w->v[j].lo;
			int64_t hi = u->v[i].hi < w->v[j].hi ? u->v[i].hi :
			    w->v[j].hi;
			if (spans_add(&r, lo, hi) != 0) {
				free(r.v);
				return EVT_ERR_NOMEM;
			}
		}
	free(u->v);
	*u = r;
	return 0;
}

/* u becomes the part of u outside span s.  Returns 0 or EVT_ERR_NOMEM. */
static int
spans_cut(struct spans *u, struct span s)
{
	struct spans r = {0};
	for (size_t i = 0; i < u->n; i++) {
		struct span a = u->v[i];
		int64_t h1 = a.hi < s.lo ? a.hi : s.lo;
		int64_t l2 = a.lo > s.hi ? a.lo : s.hi;
		if (spans_add(&r, a.lo, h1) != 0 ||
		    spans_add(&r, l2, a.hi) != 0) {
			free(r.v);
			return EVT_ERR_NOMEM;
		}
	}
	free(u->v);
	*u = r;
	return 0;
}

/*
 * The window
 */

/* The home slot of key k in the table. */
static size_t
win_home(const struct merge *m, uint64_t k)
{
	return (size_t)(k * 0x9e3779b97f4a7c15ull >> 20) & m->tmask;
}

/* The table slot of key k, or of the empty slot where it would go.  Key
 * 0 marks an empty slot; a key 0 is stored as 1. */
static size_t
win_slot(const struct merge *m, uint64_t k)
{
	size_t i = win_home(m, k);
	while (m->tab[i] != 0 && m->tab[i] != k)
		i = (i + 1) & m->tmask;
	return i;
}

/* Removes key k from the table (backward-shift deletion keeps every
 * probe sequence unbroken without tombstones). */
static void
win_del(struct merge *m, uint64_t k)
{
	size_t i = win_slot(m, k);
	if (m->tab[i] == 0)
		return;
	size_t j = i;
	for (;;) {
		m->tab[i] = 0;
		for (;;) {
			j = (j + 1) & m->tmask;
			if (m->tab[j] == 0)
				return;
			size_t h = win_home(m, m->tab[j]);
			/* Moves back unless its home lies in (i, j]. */
			if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
				continue;
			break;
		}
		m->tab[i] = m->tab[j];
		i = j;
	}
}

/* Returns 1 if key k is in the window, else adds it (evicting the
 * oldest key when the window is full) and returns 0. */
static int
win_seen(struct merge *m, uint64_t k)
{
	k += k == 0;
	size_t i = win_slot(m, k);
	if (m->tab[i] == k)
		return 1;
	if (m->wn == m->wcap) {
		/* The keys go in the order they came: the slot of one
		 * evicted a few keys later is fetched now. */
		__builtin_prefetch(&m->tab[win_home(m, m->ring[(m->whead + 8) %
		    m->wcap])]);
		win_del(m, m->ring[m->whead]);
		m->ring[m->whead] = k;
		m->whead = (m->whead + 1) % m->wcap;
		i = win_slot(m, k);
	} else {
		m->ring[(m->whead + m->wn) % m->wcap] = k;
		m->wn++;
	}
	m->tab[i] = k;
	return 0;
}

/* A zeroed table of n bytes for the window.  Its probes land anywhere in
 * 16 MiB (the default window): on 4 KiB pages nearly every one missed
 * the TLB as well as the caches, so it asks for huge pages (Linux,
 * madvise mode; best effort). */
static uint64_t *
win_table(size_t n)
{
	void *p = NULL;
	size_t huge = (size_t)2 << 20;
	if (n < huge)
		return calloc(1, n);
	if (posix_memalign(&p, huge, n) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE);
#endif
	return memset(p, 0, n);
}

/* Sets the window up for `window` keys.  Returns 0 or EVT_ERR_NOMEM. */
static int
win_init(struct merge *m, size_t window)
{
	m->wcap = window;
	size_t t = 1;
	while (t < 2 * window)
		t <<= 1;
	m->tmask = t - 1;
	m->ring = malloc(window * sizeof *m->ring);
	m->tab = win_table(t * sizeof *m->tab);
	return m->ring == NULL || m->tab == NULL ? EVT_ERR_NOMEM : 0;
}

/*
 * Inputs
 */

/* Reports damage in an input (from its reader thread), one at a time. */
static void
merge_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct merge *m = arg;
	pthread_mutex_lock(&m->cb_mu);
	if (m->o->cb != NULL)
		m->o->cb(m->o->arg, path, off, what);
	pthread_mutex_unlock(&m->cb_mu);
}

/* Passes a warning about an input on, one at a time. */
static void
merge_warn(void *arg, const char *msg)
{
	struct merge *m = arg;
	pthread_mutex_lock(&m->cb_mu);
	if (m->o->warn != NULL)
		m->o->warn(m->o->arg, msg);
	pthread_mutex_unlock(&m->cb_mu);
}

/* The frame reader's keep callback: notes the id key of the event that
 * becomes kept item k of the frame (an item that then fails to render is
 * overwritten by the next), and keeps every item. */
static int
in_keep_cb(void *arg, int frame_kind, uint32_t k, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	struct min *in = arg;
	if (k >= in->kcap) {
		size_t cap = in->kcap ? 2 * in->kcap : 256;
		uint64_t *keys = realloc(in->keys, cap * sizeof *keys);
		if (keys != NULL)
			in->keys = keys;
		uint8_t *noid = realloc(in->noid, cap);
		if (noid != NULL)
			in->noid = noid;
		if (keys == NULL || noid == NULL) {
			in->oom = 1;
			return 0;
		}
		in->kcap = cap;
	}
	in->noid[k] = rec->kind != EVT_K_EVENT ||
	    evt_rdec_id_key(d, rec, &in->keys[k]) != 0;
	return 1;
}

/* Opens the input's next segment that opens (the others are reported by
 * the archive layer).  Returns 1, or 0 when there is none. */
static int
in_open_next(struct merge *m, struct min *in)
{
	const struct evt_segref *segs = evt_archive_segments(in->a, &in->nseg);
	while (in->seg < in->nseg) {
		size_t i = in->seg++;
		struct evt_segr *r;
		if (evt_archive_open_segment(in->a, i, &r) != 0)
			continue;
		const struct evt_seg_info *si = evt_segr_info(r);
		if (in->uuid[0] == '\0' && !si->hdr_damaged)
			evt_guid_format(si->uuid, in->uuid);
		evt_segr_rewind(r, INT64_MIN);
		evt_frames_init(&in->fr, r, in_keep_cb, in, merge_cb, m,
		    segs[i].path);
		evt_frames_flat(&in->fr);
		in->r = r;
		return 1;
	}
	return 0;
}

/* Closes the input's open segment. */
static void
in_close_seg(struct min *in)
{
	evt_frames_free(&in->fr);
	evt_archive_close_segment(in->a, in->r);
	in->r = NULL;
}

/* An input's gateway from a SESSION body; see merge.h. */
char *
evt_merge_gateway(const char *text, size_t len)
{
	struct evt_jparser jp;
	const char *v = "";
	size_t n = 0;
	evt_json_init(&jp, 0);
	jp.lone_surrogates = 1; /* (a body may hold them: records.md) */
	if (evt_json_parse(&jp, text, len) > 0 &&
	    jp.tok[0].type == EVT_J_OBJECT) {
		/* The first top-level member named exactly "gateway" (a
		 * decoded body writes a name one way only); a member of a
		 * nested object, such as a merged marker's inputs, is not
		 * it. */
		const struct evt_jtok *t = jp.tok;
		for (uint32_t i = 0, k = 1; i < t[0].size; i++,
		    k = t[k + 1].next) {
			if (t[k].len != 7 || memcmp(text + t[k].off, "gateway",
			    7) != 0)
				continue;
			if (t[k + 1].type == EVT_J_STRING) {
				v = text + t[k + 1].off;
				n = t[k + 1].len;
			}
			break;
		}
	}
	char *gw = strndup(v, n);
	evt_json_free(&jp);
	return gw;
}

/* An archive's gateway; see merge.h. */
char *
evt_merge_archive_gateway(struct evt_archive *a)
{
	size_t n;
	const struct evt_segref *segs = evt_archive_segments(a, &n);
	struct evt_segr *r;
	char *gw = NULL;
	int nomem = 0;
	for (size_t i = 0; i < n && gw == NULL && !nomem; i++) {
		if (evt_archive_open_segment(a, i, &r) != 0)
			continue;
		int none = evt_segr_info(r)->sealed &&
		    evt_segr_load_index(r) == 0 &&
		    evt_segr_info(r)->frames[EVT_K_SESSION] == 0;
		struct evt_frames fr;
		struct evt_frame *fm;
		evt_frames_init(&fr, r, NULL, NULL, NULL, NULL, segs[i].path);
		while (!none && gw == NULL && !nomem &&
		    evt_frames_next(&fr, &fm) == 1) {
			if (fm->kind != EVT_K_SESSION)
				continue;
			gw = evt_merge_gateway((const char *)fm->text.p,
			    fm->text.len);
			nomem = gw == NULL;
		}
		evt_frames_free(&fr);
		evt_archive_close_segment(a, r);
	}
	if (nomem)
		return NULL;
	return gw != NULL ? gw : strdup("");
}

/* Queues a marker read ahead of the input's next frame (copied). */
static int
in_queue(struct min *in, const struct mframe *f)
{
	if (in->qn == in->qcap) {
		size_t cap = in->qcap ? 2 * in->qcap : 8;
		struct qmark *q = realloc(in->q, cap * sizeof *q);
		if (q == NULL)
			return EVT_ERR_NOMEM;
		in->q = q;
		in->qcap = cap;
	}
	struct qmark *q = &in->q[in->qn];
	if ((q->text = malloc(f->text.len + 1)) == NULL)
		return EVT_ERR_NOMEM;
	memcpy(q->text, f->text.p, f->text.len);
	q->len = f->text.len;
	q->kind = f->kind;
	q->rx = f->rx_us;
	in->qn++;
	if (f->kind == EVT_K_SESSION && in->gateway == NULL &&
	    (in->gateway = evt_merge_gateway(q->text, q->len)) == NULL)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Whether flat frame f is {"events":[...]} of flat EVENT items only. */
static int
plain_flat(const struct evt_frame *f)
{
	static const char empty[] = "{\"events\":[]}";
	if (f->kept == 0 || f->text.len != sizeof empty - 1 ||
	    memcmp(f->text.p, empty, sizeof empty - 1) != 0)
		return 0;
	for (uint32_t k = 0; k < f->kept; k++)
		if (f->flat.p[f->span[2 * k]] != EVT_FL_EVENT)
			return 0;
	return 1;
}

/* Appends the text of f's flat items, separated by ',', to b, noting
 * their spans in span (NULL: not).  Returns 0 or EVT_ERR_NOMEM. */
static int
render_items(struct evt_buf *b, const uint8_t *flat, const size_t *fspan,
    uint32_t kept, size_t *span)
{
	for (uint32_t k = 0; k < kept; k++) {
		if (k > 0 && evt_buf_putc(b, ',') != 0)
			return EVT_ERR_NOMEM;
		size_t at = b->len;
		if (evt_flat_json(flat + fspan[2 * k], fspan[2 * k + 1] -
		    fspan[2 * k], b) != 0)
			return EVT_ERR_NOMEM;
		if (span != NULL) {
			span[2 * k] = at;
			span[2 * k + 1] = b->len;
		}
	}
	return 0;
}

/* The text of the merge's frame f, rendered from its flat items if it
 * has not been yet.  Returns 0 or EVT_ERR_NOMEM. */
static int
mf_text(struct mframe *f)
{
	if (!f->is_flat || f->rendered)
		return 0;
	f->text.len = 0;
	if (PUT_LIT(&f->text, "{\"events\":[") != 0 ||
	    render_items(&f->text, f->flat.p, f->span, f->kept, NULL) != 0 ||
	    PUT_LIT(&f->text, "]}") != 0)
		return EVT_ERR_NOMEM;
	f->rendered = 1;
	return 0;
}

/* Copies frame f (or the end, rc 0, or an error, rc < 0) into slot s: a
 * plain flat MSG frame as flat items (their buffer is exchanged with the
 * slot's, not copied), any other frame as text (flat items rendered).
 * Returns 0 or EVT_ERR_NOMEM. */
static int
slot_fill(struct min *in, struct mframe *s, struct evt_frame *f, int rc)
{
	s->kind = rc;
	if (rc != 1)
		return 0;
	s->kind = f->kind;
	s->rx_us = f->rx_us;
	s->text.len = 0;
	s->flat.len = 0;
	s->is_flat = f->is_flat && plain_flat(f);
	s->rendered = 0;
	s->kept = f->kept;
	if (f->kept > s->cap) {
		size_t *span = realloc(s->span, 2 * f->kept * sizeof *span);
		if (span != NULL)
			s->span = span;
		uint64_t *keys = realloc(s->keys, f->kept * sizeof *keys);
		if (keys != NULL)
			s->keys = keys;
		uint8_t *noid = realloc(s->noid, f->kept);
		if (noid != NULL)
			s->noid = noid;
		if (span == NULL || keys == NULL || noid == NULL)
			return s->kind = EVT_ERR_NOMEM;
		s->cap = f->kept;
	}
	if (f->is_flat && !s->is_flat) {
		/* As a reader in text mode would have given it. */
		if (evt_buf_put(&s->text, f->text.p, f->head_len) != 0 ||
		    render_items(&s->text, f->flat.p, f->span, f->kept,
		    s->span) != 0 || evt_buf_put(&s->text, f->text.p +
		    f->head_len, f->text.len - f->head_len) != 0)
			return s->kind = EVT_ERR_NOMEM;
	} else if (evt_buf_put(&s->text, f->text.p, f->text.len) != 0) {
		return s->kind = EVT_ERR_NOMEM;
	} else if (f->kept > 0) {
		memcpy(s->span, f->span, 2 * f->kept * sizeof *s->span);
	}
	if (s->is_flat) {	/* emptied by the frame reader's next frame */
		struct evt_buf b = s->flat;
		s->flat = f->flat;
		f->flat = b;
		b = s->sids;
		s->sids = f->sids;
		f->sids = b;
	}
	if (f->kept > 0) {
		memcpy(s->keys, in->keys, f->kept * sizeof *s->keys);
		memcpy(s->noid, in->noid, f->kept);
	}
	return 0;
}

/* The reader's next step: 1 and a frame in *f, 0 at the input's end, or
 * EVT_ERR_NOMEM.  A segment that cannot be read on is reported and left. */
static int
reader_next(struct merge *m, struct min *in, struct evt_frame **f)
{
	for (;;) {
		if (in->r == NULL && !in_open_next(m, in))
			return 0;
		int rc = evt_frames_next(&in->fr, f);
		if (rc == EVT_ERR_NOMEM || in->oom)
			return EVT_ERR_NOMEM;
		if (rc == 1)
			return 1;
		if (rc < 0)
			merge_cb(m, evt_archive_segments(in->a,
			    &in->nseg)[in->seg - 1].path, 0, evt_strerror(rc));
		in_close_seg(in);
	}
}

/* Wakes the other side of the input's ring. */
static void
ring_wake(struct min *in)
{
	pthread_mutex_lock(&in->mu);
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

/* The reader waits while the ring is full; returns whether the merge
 * stops it. */
static int
reader_wait(struct min *in)
{
	if (in->rtail - in->rhead < MERGE_RING || in->stop)
		return in->stop;
	pthread_mutex_lock(&in->mu);
	in->rwait = 1;
	while (in->rtail - in->rhead == MERGE_RING && !in->stop)
		pthread_cond_wait(&in->cv, &in->mu);
	in->rwait = 0;
	pthread_mutex_unlock(&in->mu);
	return in->stop;
}

/* Lowers the calling reader thread's priority a little below the
 * merge's, whatever the process's nice (Linux: nice is per thread).  The
 * merge thread is the critical path and the readers have slack (a ring
 * ahead): two readers woken together would otherwise take both cores of
 * a small machine from the merge, then sleep on full rings while it runs
 * alone.  Best effort. */
static void
reader_nice(void)
{
#ifdef __linux__
	id_t tid = (id_t)gettid();
	errno = 0;
	int cur = getpriority(PRIO_PROCESS, tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, tid, cur + MERGE_READER_NICE);
#endif
}

/* An input's reader thread: reads frames into the ring until the input
 * ends, an error, or the merge stops it. */
static void *
reader_main(void *arg)
{
	struct min *in = arg;
	reader_nice();
	for (int rc = 1; rc == 1;) {
		struct evt_frame *f = NULL;
		rc = reader_next(in->m, in, &f);
		if (reader_wait(in))
			break;
		/* The slot is the reader's until it is published. */
		struct mframe *s = &in->ring[in->rtail % MERGE_RING];
		if (slot_fill(in, s, f, rc) != 0)
			rc = EVT_ERR_NOMEM;
		/* A waiting merge is woken for a quarter of the ring, not
		 * for every frame: a wake per frame costs more than the
		 * frame (the two threads would take turns). */
		unsigned t = ++in->rtail;
		if (in->mwait && (rc != 1 || t - in->rhead >= MERGE_RING / 4))
			ring_wake(in);
	}
	if (in->r != NULL)
		in_close_seg(in);
	return NULL;
}

/* The merge's next slot of the input's ring (waits for the reader). */
static struct mframe *
ring_get(struct min *in)
{
	if (in->rtail == in->rhead) {
		pthread_mutex_lock(&in->mu);
		in->mwait = 1;
		while (in->rtail == in->rhead)
			pthread_cond_wait(&in->cv, &in->mu);
		in->mwait = 0;
		pthread_mutex_unlock(&in->mu);
	}
	return &in->ring[in->rhead % MERGE_RING];
}

/* Gives the merge's slot back to the reader. */
static void
ring_release(struct min *in)
{
	unsigned h = ++in->rhead;
	if (in->rwait && in->rtail - h <= MERGE_RING / 2)
		ring_wake(in);
}

/* Takes the input on to its next frame (in->f), queueing the markers
 * before it; at the end of the input sets in->eof.  Returns 0 or the
 * reader's error (EVT_ERR_NOMEM). */
static int
in_fill(struct merge *m, struct min *in)
{
	if (in->f != NULL)
		ring_release(in);
	in->f = NULL;
	while (!in->eof) {
		struct mframe *f = ring_get(in);
		int kind = f->kind;
		if (kind <= 0) {
			ring_release(in);
			in->eof = 1;
			return kind;
		}
		if (in->first_rx == INT64_MAX)
			in->first_rx = f->rx_us;
		if (kind < EVT_K_SESSION) {
			/* The window's table is far larger than the caches:
			 * its slots for the frame's ids are fetched while
			 * the merge goes on with other heads. */
			for (uint32_t k = 0; k < f->kept; k++)
				if (!f->noid[k])
					__builtin_prefetch(&m->tab[win_home(m,
					    f->keys[k] + (f->keys[k] == 0))]);
			in->f = f;
			return 0;
		}
		int rc = in_queue(in, f);
		ring_release(in);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The receive time of the input's head, INT64_MAX at its end. */
static int64_t
in_head_rx(const struct min *in)
{
	if (in->qh < in->qn)
		return in->q[in->qh].rx;
	return in->f != NULL ? in->f->rx_us : INT64_MAX;
}

/* The input's head as text and kind (its frame rendered if flat; NULL
 * if that ran out of memory). */
static const char *
in_head(const struct min *in, size_t *len, int *kind)
{
	if (in->qh < in->qn) {
		*len = in->q[in->qh].len;
		*kind = in->q[in->qh].kind;
		return in->q[in->qh].text;
	}
	if (mf_text(in->f) != 0)
		return NULL;
	*len = in->f->text.len;
	*kind = in->f->kind;
	return (const char *)in->f->text.p;
}

/* Whether the heads of two inputs are flat frames of the same flat items
 * (and so of the same text). */
static int
same_flat(const struct min *a, const struct min *b)
{
	const struct mframe *fa = a->f, *fb = b->f;
	return a->qh == a->qn && b->qh == b->qn && fa->is_flat &&
	    fb->is_flat && fa->flat.len == fb->flat.len &&
	    memcmp(fa->flat.p, fb->flat.p, fa->flat.len) == 0;
}

/* Orders two heads of equal receive time by content (kind, length,
 * bytes), so that which input comes first does not decide what is
 * written; then by input number.  Returns 1, 0, or EVT_ERR_NOMEM. */
static int
head_before(const struct min *a, const struct min *b)
{
	size_t la, lb;
	int ka, kb;
	if (same_flat(a, b))
		return a->idx < b->idx;
	const char *ta = in_head(a, &la, &ka), *tb = in_head(b, &lb, &kb);
	if (ta == NULL || tb == NULL)
		return EVT_ERR_NOMEM;
	if (ka != kb)
		return ka > kb; /* markers (higher kinds) first */
	if (la != lb)
		return la < lb;
	int c = memcmp(ta, tb, la);
	return c != 0 ? c < 0 : a->idx < b->idx;
}

/* Sets *next to the input whose head comes next, NULL when all are at
 * their end.  Returns 0 or EVT_ERR_NOMEM. */
static int
next_input(struct merge *m, struct min **next)
{
	struct min *best = NULL;
	int64_t brx = INT64_MAX;
	for (size_t i = 0; i < m->nin; i++) {
		struct min *in = &m->in[i];
		int64_t rx = in_head_rx(in);
		if (rx == INT64_MAX && in->qh == in->qn && in->f == NULL)
			continue;
		int before = best == NULL || rx < brx || (rx == brx &&
		    head_before(in, best));
		if (before < 0)
			return before;
		if (before) {
			best = in;
			brx = rx;
		}
	}
	*next = best;
	return 0;
}

/*
 * Writing
 */

/* Returns 1 if a record without ids of this kind, receive time and text
 * was written just now (at the same receive time), else notes it and
 * returns 0.  This is what makes the copy of one archive in two inputs
 * one.  Returns EVT_ERR_NOMEM too. */
static int
same_seen(struct merge *m, int kind, int64_t rx, const char *text,
    size_t len)
{
	uint64_t k = evt_id_key(text, len) ^ (uint64_t)kind << 56;
	if (rx != m->same_rx) {
		m->same_rx = rx;
		m->nsame = 0;
	}
	for (size_t i = 0; i < m->nsame; i++)
		if (m->same[i] == k)
			return 1;
	if (m->nsame == m->samecap) {
		size_t cap = m->samecap ? 2 * m->samecap : 16;
		uint64_t *v = realloc(m->same, cap * sizeof *v);
		if (v == NULL)
			return EVT_ERR_NOMEM;
		m->same = v;
		m->samecap = cap;
	}
	m->same[m->nsame++] = k;
	return 0;
}

/* Appends ,"mergeInput":N to a JSON object text into m->tmp. */
static int
with_input(struct merge *m, const char *text, size_t len, size_t idx)
{
	char num[48];
	m->tmp.len = 0;
	if (len < 2 || text[len - 1] != '}')
		return evt_buf_put(&m->tmp, text, len);
	int n = snprintf(num, sizeof num, "%s\"mergeInput\":%zu}",
	    len > 2 ? "," : "", idx);
	if (evt_buf_put(&m->tmp, text, len - 1) != 0 ||
	    evt_buf_put(&m->tmp, num, (size_t)n) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Writes a SESSION marker naming the input's gateway when the frame about
 * to be written comes from another gateway than the last one written
 * (only when the inputs recorded more than one gateway). */
static int
switch_gateway(struct merge *m, struct min *in, int64_t rx)
{
	const char *gw = in->gateway != NULL ? in->gateway : "";
	if (m->ngw < 2 || (m->cur_gw != NULL && strcmp(m->cur_gw, gw) == 0))
		return 0;
	m->cur_gw = gw;
	m->tmp.len = 0;
	int n = PUT_LIT(&m->tmp, "{\"event\":\"switched\",\"gateway\":\"")
	    != 0 || evt_buf_put(&m->tmp, gw, strlen(gw)) != 0;
	char num[40];
	int l = snprintf(num, sizeof num, "\",\"mergeInput\":%zu}", in->idx);
	if (n || evt_buf_put(&m->tmp, num, (size_t)l) != 0)
		return EVT_ERR_NOMEM;
	return evt_archive_marker(m->out, EVT_K_SESSION, rx,
	    (const char *)m->tmp.p, m->tmp.len);
}

/* Sets *t to the text of frame f's kept item k, of m->tmp.len bytes in
 * m->tmp.  Returns 0 or EVT_ERR_NOMEM. */
static int
item_text(struct merge *m, const struct mframe *f, uint32_t k,
    const char **t)
{
	const size_t *sp = &f->span[2 * k];
	m->tmp.len = 0;
	int rc = f->is_flat ? evt_flat_json(f->flat.p + sp[0], sp[1] - sp[0],
	    &m->tmp) : evt_buf_put(&m->tmp, f->text.p + sp[0], sp[1] - sp[0]);
	*t = (const char *)m->tmp.p;
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* Writes the input's next frame: its new events (see the top). */
static int
put_frame(struct merge *m, struct min *in)
{
	struct mframe *f = in->f;
	const char *t = (const char *)f->text.p;
	int rc;
	if (f->kind != EVT_K_MSG || f->kept == 0) {
		if ((rc = same_seen(m, f->kind, f->rx_us, t, f->text.len)) != 0)
			return rc < 0 ? rc : 0;
		if ((rc = switch_gateway(m, in, f->rx_us)) != 0)
			return rc;
		rc = evt_archive_frame(m->out, f->rx_us, t, f->text.len);
		return rc < 0 ? rc : 0;
	}
	size_t nnew = 0;
	for (uint32_t k = 0; k < f->kept; k++) {
		uint64_t key = f->keys[k];
		if (f->noid[k] && (rc = item_text(m, f, k, &t)) != 0)
			return rc;
		if (f->noid[k])
			key = evt_id_key(t, m->tmp.len) ^ (uint64_t)f->rx_us;
		f->noid[k] = !win_seen(m, key); /* from here: "is new" */
		nnew += f->noid[k];
	}
	in->st->events += nnew;
	in->st->dups += f->kept - nnew;
	if (nnew == 0)
		return 0;
	if ((rc = switch_gateway(m, in, f->rx_us)) != 0)
		return rc;
	if (f->is_flat) {
		/* The frame, or one of only its new events (as below). */
		struct evt_flat_msg fm = {.flat = f->flat.p, .span = f->span,
		    .n = f->kept, .pick = nnew == f->kept ? NULL : f->noid,
		    .sids = (const uint32_t *)f->sids.p, .map = &in->smap};
		rc = evt_archive_msg_flat(m->out, f->rx_us, &fm);
		return rc < 0 ? rc : 0;
	}
	t = (const char *)f->text.p;
	if (nnew == f->kept) {
		rc = evt_archive_frame(m->out, f->rx_us, t, f->text.len);
		return rc < 0 ? rc : 0;
	}
	/* The same text around the events, only the new ones inside. */
	struct evt_buf *b = &m->tmp;
	size_t end = f->span[2 * (f->kept - 1) + 1];
	b->len = 0;
	rc = evt_buf_put(b, t, f->span[0]);
	for (uint32_t k = 0, first = 1; rc == 0 && k < f->kept; k++) {
		if (!f->noid[k])
			continue;
		if (!first)
			rc = evt_buf_putc(b, ',');
		first = 0;
		if (rc == 0)
			rc = evt_buf_put(b, t + f->span[2 * k],
			    f->span[2 * k + 1] - f->span[2 * k]);
	}
	if (rc != 0 || evt_buf_put(b, t + end, f->text.len - end) != 0)
		return EVT_ERR_NOMEM;
	rc = evt_archive_frame(m->out, f->rx_us, (const char *)b->p, b->len);
	return rc < 0 ? rc : 0;
}

/*
 * GAPs
 */

/* Sorts spans by their start and joins those that overlap or touch. */
static void
spans_norm(struct spans *l)
{
	for (size_t i = 1; i < l->n; i++)	/* insertion sort: a few */
		for (size_t j = i; j > 0 && l->v[j].lo < l->v[j - 1].lo; j--) {
			struct span s = l->v[j];
			l->v[j] = l->v[j - 1];
			l->v[j - 1] = s;
		}
	size_t o = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (o > 0 && l->v[i].lo <= l->v[o - 1].hi) {
			if (l->v[i].hi > l->v[o - 1].hi)
				l->v[o - 1].hi = l->v[i].hi;
		} else {
			l->v[o++] = l->v[i];
		}
	}
	l->n = o;
}

/* Whether two inputs recorded the same gateway (formats/records.md,
 * "Merged archives": the gateway of their first SESSION markers). */
static int
same_gateway(const struct min *a, const struct min *b)
{
	return strcmp(a->gateway != NULL ? a->gateway : "",
	    b->gateway != NULL ? b->gateway : "") == 0;
}

/* Adds to nc the times input j did not record, as far as the merge has
 * read it: before its first record, its GAPs (judged, pending, or queued
 * ahead of its next frame), after its end. */
static int
not_covered(const struct min *j, struct spans *nc)
{
	int rc = 0;
	if (j->first_rx == INT64_MAX)
		return spans_add(nc, INT64_MIN, INT64_MAX);
	rc |= spans_add(nc, INT64_MIN, j->first_rx);
	for (size_t k = 0; k < j->gaps.n; k++)
		rc |= spans_add(nc, j->gaps.v[k].lo, j->gaps.v[k].hi);
	if (j->pgap)
		rc |= spans_add(nc, j->pspan.lo, j->pspan.hi);
	for (size_t k = j->qh; k < j->qn; k++)
		if (j->q[k].kind == EVT_K_GAP)
			rc |= spans_add(nc, j->last_frame_rx != INT64_MIN ?
			    j->last_frame_rx : j->first_rx, j->f != NULL ?
			    j->f->rx_us : INT64_MAX);
	if (j->eof && j->qh == j->qn && j->f == NULL)
		rc |= spans_add(nc, j->last_rx, INT64_MAX);
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* Writes a GAP marker for the span s that no input recorded. */
static int
put_gap(struct merge *m, struct span s)
{
	char body[160];
	int n = snprintf(body, sizeof body, "{\"reason\":\"no merged input "
	    "recorded this time\",\"fromUs\":%" PRId64 ",\"toUs\":%" PRId64
	    "}", s.lo, s.hi);
	int rc = evt_archive_marker(m->out, EVT_K_GAP, s.hi, body, (size_t)n);
	if (rc == 0)
		rc = spans_add(&m->outgaps, s.lo, s.hi);
	return rc;
}

/* Judges the input's pending GAP (in->pspan) against the other inputs of
 * its gateway: counts it closed or left, writes what no input covers and
 * no GAP written yet holds. */
static int
judge_gap(struct merge *m, struct min *in)
{
	struct spans u = {0};
	int rc = spans_add(&u, in->pspan.lo, in->pspan.hi);
	for (size_t j = 0; rc == 0 && j < m->nin && u.n > 0; j++) {
		struct min *o = &m->in[j];
		if (o == in || o->st->failed || !same_gateway(in, o))
			continue;
		struct spans nc = {0};
		if ((rc = not_covered(o, &nc)) == 0)
			rc = spans_intersect(&u, &nc);
		free(nc.v);
	}
	spans_norm(&u);
	if (u.n > 0)
		in->st->gaps_left++;
	else
		in->st->gaps_closed++;
	for (size_t k = 0; rc == 0 && k < m->outgaps.n; k++)
		rc = spans_cut(&u, m->outgaps.v[k]);
	for (size_t k = 0; rc == 0 && k < u.n; k++)
		rc = put_gap(m, u.v[k]);
	free(u.v);
	if (rc == 0)
		rc = spans_add(&in->gaps, in->pspan.lo, in->pspan.hi);
	in->pgap = 0;
	return rc;
}

/* Takes the input's GAP marker q: its span runs from its last frame (or
 * first record) to its next frame (or the marker itself at its end),
 * judged once the merge reaches that frame. */
static int
take_gap(struct merge *m, struct min *in, const struct qmark *q)
{
	int64_t lo = in->last_frame_rx != INT64_MIN ? in->last_frame_rx :
	    in->first_rx;
	int64_t hi = in->f != NULL ? in->f->rx_us : q->rx;
	if (in->pgap) {		/* two GAPs without a frame between */
		if (lo > in->pspan.lo)
			lo = in->pspan.lo;
	}
	in->pgap = 1;
	in->pspan.lo = lo;
	in->pspan.hi = hi > lo ? hi : lo;
	return in->f == NULL ? judge_gap(m, in) : 0;
}

/*
 * The merge
 */

/* Takes the head of input in and writes what of it goes out. */
static int
take(struct merge *m, struct min *in)
{
	int rc = 0;
	if (in->qh < in->qn) {
		struct qmark *q = &in->q[in->qh++];
		in->last_rx = q->rx;
		if (q->kind == EVT_K_GAP) {
			rc = take_gap(m, in, q);
		} else if ((rc = same_seen(m, q->kind, q->rx, q->text,
		    q->len)) == 0) {
			if (q->kind == EVT_K_SESSION) {
				rc = with_input(m, q->text, q->len, in->idx);
				m->cur_gw = in->gateway;
			} else {
				m->tmp.len = 0;
				rc = evt_buf_put(&m->tmp, q->text, q->len);
			}
			if (rc == 0)
				rc = evt_archive_marker(m->out, q->kind, q->rx,
				    (const char *)m->tmp.p, m->tmp.len);
		}
		free(q->text);
		if (in->qh == in->qn)
			in->qh = in->qn = 0;
		return rc < 0 ? rc : 0;
	}
	if (in->pgap && (rc = judge_gap(m, in)) != 0)
		return rc;
	in->last_rx = in->last_frame_rx = in->f->rx_us;
	if ((rc = put_frame(m, in)) != 0)
		return rc;
	return in_fill(m, in);
}

/* Writes the provenance marker: a SESSION marker "merged" naming the
 * inputs, received when the earliest input starts. */
static int
put_provenance(struct merge *m)
{
	int64_t rx = INT64_MAX;
	struct evt_buf *b = &m->tmp;
	b->len = 0;
	int rc = PUT_LIT(b, "{\"event\":\"merged\",\"recorder\":\"evtool "
	    "merge\",\"inputs\":[");
	for (size_t i = 0; rc == 0 && i < m->nin; i++) {
		const struct min *in = &m->in[i];
		if (in->first_rx < rx)
			rx = in->first_rx;
		const char *gw = in->gateway != NULL ? in->gateway : "";
		rc = i > 0 ? PUT_LIT(b, ",{\"archive\":") :
		    PUT_LIT(b, "{\"archive\":");
		rc |= evt_json_put_string(b, in->path, strlen(in->path));
		rc |= PUT_LIT(b, ",\"uuid\":\"");
		rc |= evt_buf_put(b, in->uuid, strlen(in->uuid));
		rc |= PUT_LIT(b, "\",\"gateway\":\"");
		rc |= evt_buf_put(b, gw, strlen(gw));
		rc |= PUT_LIT(b, "\"}");
	}
	if (rc != 0 || PUT_LIT(b, "]}") != 0)
		return EVT_ERR_NOMEM;
	if (rx == INT64_MAX)
		return 0;	/* nothing to merge */
	return evt_archive_marker(m->out, EVT_K_SESSION, rx,
	    (const char *)b->p, b->len);
}

/* Opens every input, starts its reader and reads each to its first
 * frame; counts the gateways.  Returns 0 or EVT_ERR_NOMEM. */
static int
open_inputs(struct merge *m, const char *const *paths,
    struct evt_merge_stats *st)
{
	for (size_t i = 0; i < m->nin; i++) {
		struct min *in = &m->in[i];
		in->path = paths[i];
		in->idx = i;
		in->st = &st[i];
		in->first_rx = INT64_MAX;
		in->last_rx = in->last_frame_rx = INT64_MIN;
		int rc = evt_archive_open(paths[i], EVT_AR_NO_SIZES, NULL,
		    merge_cb, merge_warn, m, &in->a);
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (rc == 0 && pthread_create(&in->th, NULL, reader_main,
		    in) == 0) {
			in->started = 1;
			continue;
		}
		if (rc == 0)
			return EVT_ERR_NOMEM;	/* no thread */
		if (rc == EVT_ERR_NOTFOUND)
			evt_warnf(merge_warn, m, "%s: no such archive; merged "
			    "without it", paths[i]);
		else
			evt_warnf(merge_warn, m, "%s: cannot be read (%s); "
			    "merged without it", paths[i], evt_strerror(rc));
		st[i].failed = 1;
		in->eof = 1;
	}
	for (size_t i = 0; i < m->nin; i++) {
		int rc = m->in[i].started ? in_fill(m, &m->in[i]) : 0;
		if (rc != 0)
			return rc;
	}
	for (size_t i = 0; i < m->nin; i++) {
		size_t j = 0;
		while (j < i && (m->in[j].st->failed ||
		    !same_gateway(&m->in[i], &m->in[j])))
			j++;
		m->ngw += !m->in[i].st->failed && j == i;
	}
	return 0;
}

/* Stops the input's reader and frees the input, adding its unread events
 * to its figures. */
static void
close_input(struct min *in)
{
	if (in->started) {
		pthread_mutex_lock(&in->mu);
		in->stop = 1;
		pthread_cond_broadcast(&in->cv);
		pthread_mutex_unlock(&in->mu);
		pthread_join(in->th, NULL);
	}
	for (size_t k = 0; k < MERGE_RING; k++) {
		evt_buf_free(&in->ring[k].text);
		evt_buf_free(&in->ring[k].flat);
		evt_buf_free(&in->ring[k].sids);
		free(in->ring[k].span);
		free(in->ring[k].keys);
		free(in->ring[k].noid);
	}
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->cv);
	if (in->a != NULL) {
		evt_archive_lost(in->a, &in->st->lost_events,
		    &in->st->lost_unknown);
		evt_archive_close(in->a);
	}
	for (size_t k = in->qh; k < in->qn; k++)
		free(in->q[k].text);
	free(in->q);
	free(in->keys);
	free(in->noid);
	free(in->gateway);
	free(in->gaps.v);
	evt_smap_free(&in->smap);
}

/* Merges; see merge.h. */
int
evt_merge(struct evt_archive *out, const char *const *paths, size_t nin,
    const struct evt_merge_opts *o, struct evt_merge_stats *st)
{
	struct merge m = {.out = out, .o = o, .nin = nin,
	    .same_rx = INT64_MIN};
	memset(st, 0, nin * sizeof *st);
	m.in = calloc(nin ? nin : 1, sizeof *m.in);
	pthread_mutex_init(&m.cb_mu, NULL);
	for (size_t i = 0; m.in != NULL && i < nin; i++) {
		m.in[i].m = &m;
		pthread_mutex_init(&m.in[i].mu, NULL);
		pthread_cond_init(&m.in[i].cv, NULL);
	}
	int rc = m.in == NULL ? EVT_ERR_NOMEM :
	    win_init(&m, o->window ? o->window : EVT_MERGE_WINDOW);
	if (rc == 0)
		rc = open_inputs(&m, paths, st);
	if (rc == 0)
		rc = put_provenance(&m);
	for (struct min *in; rc == 0 && (rc = next_input(&m, &in)) == 0 &&
	    in != NULL;)
		rc = take(&m, in);
	for (size_t i = 0; m.in != NULL && i < nin; i++)
		close_input(&m.in[i]);
	free(m.in);
	free(m.ring);
	free(m.tab);
	free(m.same);
	free(m.outgaps.v);
	evt_buf_free(&m.tmp);
	pthread_mutex_destroy(&m.cb_mu);
	return rc;
}
