/*
 * cursor.c: the archive cursor (cursor.h): walks the segment list, opens
 * one segment reader at a time, rebuilds frames with the frame reader and
 * hands out item texts through the frame's spans.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/ckpt.h"
#include "evtape/cursor.h"
#include "evtape/err.h"
#include "evtape/follow.h"
#include "evtape/record.h"
#include "evtape/select.h"
#include "evtape/state.h"
#include "evtape/summary.h"

struct evt_cur {
	struct evt_archive *a;
	size_t nseg, si;      /* segments; the one open (their paths are
				 made as they are opened: a time window
				 of 10,000 segments makes a few) */
	struct evt_segr *r;   /* open reader or NULL */
	struct evt_frames fr;
	int fr_init;
	evt_seg_err_cb cb;
	evt_warn_cb warn;
	void *arg;
	int64_t from, to;
	/* --from-id: items are skipped until this id (seeking) */
	char want_id[EVT_REC_MAX_INTERN + 1];
	size_t want_len;
	int seeking;
	uint32_t skipped;     /* items of the frame passed over seeking */
	int64_t want_rx;
	const char **ev;
	size_t *evlen;
	size_t evcap;
	size_t state_seg;     /* evt_cur_state_at: the segment whose last
				 getState answer it starts at (SIZE_MAX:
				 none) */
	/* evt_cur_follow: segments come from a follower (opened at the
	 * first read after a seek, from c->from), which owns the readers */
	int following;
	char *dir;
	struct evt_follow *fo;
	uint64_t fo_lost, fo_unknown; /* of followers closed by seeks */
	int flat;	      /* evt_cur_state_at: readers in flat mode */
	int ordinals;	      /* evt_cur_ordinals: count every frame */
	int markers;	      /* evt_cur_markers: hand them out */
	uint64_t ord_seg, ord; /* the segment counted and its next ordinal */
	int ord_have;
	struct evt_siter site; /* the site of the frames read (always) */
	int sites;	      /* evt_cur_sites: only the selected sites' */
};

/* Opens the archive for reading. */
int
evt_cur_open(const char *dir, evt_seg_err_cb cb, evt_warn_cb warn,
    void *arg, struct evt_cur **out)
{
	struct evt_cur *c = calloc(1, sizeof *c);
	if (c == NULL)
		return EVT_ERR_NOMEM;
	c->state_seg = SIZE_MAX;
	evt_siter_init(&c->site, NULL);
	/* (No segment sizes: a listing of thousands would stat them all.) */
	int rc = evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, cb, warn, arg,
	    &c->a);
	if (rc != 0) {
		free(c);
		return rc;
	}
	c->nseg = evt_archive_nsegments(c->a);
	c->cb = cb;
	c->warn = warn;
	c->arg = arg;
	c->from = INT64_MIN;
	c->to = INT64_MAX;
	*out = c;
	return 0;
}

/* Closes the open segment, adding what it could not read to the
 * archive's tally. */
static void
cur_close_seg(struct evt_cur *c)
{
	if (c->fr_init) {
		evt_archive_add_lost(c->a, c->fr.lost);
		evt_frames_free(&c->fr);
	}
	c->fr_init = 0;
	if (!c->following)
		evt_archive_close_segment(c->a, c->r);
	c->r = NULL;
}

/* Adds what follower fo (NULL: none) could not read to the tallies. */
static void
follow_lost_add(const struct evt_follow *fo, uint64_t *events,
    uint64_t *unknown)
{
	uint64_t ev, unk;
	if (fo == NULL)
		return;
	evt_follow_lost(fo, &ev, &unk);
	*events += ev;
	*unknown += unk;
}

/* Closes the follower (a seek reopens it from the new start). */
static void
cur_close_follow(struct evt_cur *c)
{
	cur_close_seg(c);
	follow_lost_add(c->fo, &c->fo_lost, &c->fo_unknown);
	evt_follow_close(c->fo);
	c->fo = NULL;
	c->ord_have = 0;
}

/* What the cursor could not read; see cursor.h. */
void
evt_cur_lost(const struct evt_cur *c, uint64_t *events, uint64_t *unknown)
{
	evt_archive_lost(c->a, events, unknown);
	*events += c->fo_lost;
	*unknown += c->fo_unknown;
	follow_lost_add(c->fo, events, unknown);
}

/* Closes the cursor. */
void
evt_cur_close(struct evt_cur *c)
{
	if (c == NULL)
		return;
	cur_close_follow(c);
	free(c->dir);
	evt_archive_close(c->a);
	free(c->ev);
	free(c->evlen);
	evt_siter_free(&c->site);
	free(c);
}

/* Sets the end time. */
void
evt_cur_set_end(struct evt_cur *c, int64_t to_us)
{
	c->to = to_us;
	if (c->r != NULL)
		evt_segr_set_end(c->r, to_us);
}

/* Keeps every item, except before the wanted id while seeking one. */
static int
cur_keep_cb(void *arg, int frame_kind, uint32_t kept,
    struct evt_rdec *d, const struct evt_rec *rec)
{
	struct evt_cur *c = arg;
	if (!c->seeking)
		return 1;
	char v[EVT_REC_MAX_INTERN + 1];
	int n = rec->kind != EVT_K_EVENT ? -1 :
	    evt_rdec_field(d, rec, "id", v, sizeof v);
	if (n < 0 || (size_t)n != c->want_len ||
	    strncasecmp(v, c->want_id, c->want_len) != 0) {
		c->skipped++; /* passed over, not lost */
		return 0;
	}
	c->seeking = 0;
	return 1;
}

/* Whether receive time rx is before the cursor's end (INT64_MAX: no
 * end, so a frame received at INT64_MAX is not lost). */
static int
before_end(const struct evt_cur *c, int64_t rx)
{
	return c->to == INT64_MAX || rx < c->to;
}

/* Positions the open sealed segment at the block of its last getState
 * answer received before the end, when its summary says where that is:
 * what comes before it does not matter to the state (the answer replaces
 * the table), and it may be most of a segment. */
static void
rewind_to_states(struct evt_cur *c)
{
	const struct evt_seg_info *si = evt_segr_info(c->r);
	const uint8_t *p;
	size_t len;
	struct evt_sum s;
	const char *why;
	uint32_t b = UINT32_MAX;
	if (!si->sealed || evt_segr_load_index(c->r) != 0 ||
	    (p = evt_segr_summary(c->r, &len)) == NULL)
		return;
	if (evt_sum_decode(p, len, evt_segr_decoder(c->r)->dict, si->nblocks,
	    &s, &why) == 0 && s.has_states)
		for (uint32_t k = 0; k < s.nstates; k++)
			if (before_end(c, s.states[k].rx))
				b = s.states[k].block;
	evt_sum_free(&s);
	if (b != UINT32_MAX)
		evt_segr_rewind_block(c->r, b);
}

/* The sequence number of the archive's first segment that does not end
 * before the cursor's start (0: none known). */
static uint64_t
first_seq(struct evt_cur *c)
{
	for (size_t i = 0; i < c->nseg; i++)
		if (!evt_archive_segment_outside(c->a, i, c->from, INT64_MAX))
			return evt_archive_segment_seq(c->a, i);
	return 0;
}

/* Follow mode: takes the follower's reader to read now (opening the
 * follower first, from c->from).  1, 0 when nothing is to be read until
 * the archive changes, or a negative evt_err. */
static int
cur_follow_seg(struct evt_cur *c)
{
	struct evt_segr *r;
	const char *path;
	int fresh, rc;
	if (c->fo == NULL) {
		/* Counting ordinals, segments are read whole, from the
		 * first one that the start time does not pass. */
		if ((rc = evt_follow_open(c->dir, c->ordinals || c->sites ?
		    INT64_MIN : c->from, c->cb, c->arg, &c->fo)) != 0)
			return rc;
		if (c->ordinals || c->sites)
			evt_follow_start_at(c->fo, first_seq(c));
	}
	if ((rc = evt_follow_reader(c->fo, &r, &path, &fresh)) <= 0)
		return rc;
	/* A reader stops between blocks, where no frame is open: a frame
	 * reader started afresh at every call misses nothing. */
	c->r = r;
	if (fresh)
		c->ord_have = 0; /* a segment opened anew: counted anew */
	evt_frames_init(&c->fr, c->r, cur_keep_cb, c, c->cb, c->arg, path);
	c->fr_init = 1;
	return 1;
}

/* Opens segment si and rewinds it to the cursor's start time; skips
 * sealed segments that end before it.  Returns 1 if open, 0 if none
 * left. */
static int
cur_open_seg(struct evt_cur *c)
{
	cur_close_seg(c);
	if (c->following)
		return cur_follow_seg(c);
	for (; c->si < c->nseg; c->si++) {
		/* The catalog's time table spares the open (and trailer
		 * read) of every sealed segment outside the window. */
		if ((c->from != INT64_MIN || c->to != INT64_MAX) &&
		    evt_archive_segment_outside(c->a, c->si, c->from, c->to))
			continue;
		if (evt_archive_open_segment(c->a, c->si, &c->r) != 0) {
			c->r = NULL;
			continue; /* reported */
		}
		const struct evt_seg_info *si = evt_segr_info(c->r);
		if (si->sealed && si->nrecords > 0 &&
		    (si->last_rx < c->from || !before_end(c, si->first_rx))) {
			evt_segr_close(c->r);
			c->r = NULL;
			continue;
		}
		/* (Sites: from the SESSION marker naming the site, the
		 * segment's first record.) */
		evt_segr_rewind(c->r, c->ordinals || c->sites ? INT64_MIN :
		    c->from);
		c->ord_have = 0;
		/* Blocks received wholly after the end are not even read
		 * (the state as of a time in a big segment read it all). */
		evt_segr_set_end(c->r, c->to);
		if (c->si == c->state_seg && !c->sites)
			rewind_to_states(c);
		evt_frames_init(&c->fr, c->r, cur_keep_cb, c, c->cb, c->arg,
		    evt_archive_segment_path(c->a, c->si));
		if (c->flat)
			evt_frames_flat(&c->fr);
		c->fr_init = 1;
		return 1;
	}
	return 0;
}

/* Positions at from_us. */
int
evt_cur_seek(struct evt_cur *c, int64_t from_us)
{
	if (c->following)
		cur_close_follow(c);
	cur_close_seg(c);
	c->from = from_us;
	c->si = 0;
	c->seeking = 0;
	return 0;
}

/* Positions at an event id. */
int
evt_cur_seek_id(struct evt_cur *c, const char *id, size_t len,
    int64_t *rx_us)
{
	if (len == 0 || len > EVT_REC_MAX_INTERN)
		return 0;
	struct evt_segr *r;
	struct evt_rec rec;
	uint64_t boff;
	size_t i;
	int rc = evt_archive_find(c->a, id, len, &r, &i, &rec, &boff);
	if (rc != 1)
		return rc == EVT_ERR_NOMEM ? rc : 0;
	evt_archive_close_segment(c->a, r);
	if (c->following)
		cur_close_follow(c);
	cur_close_seg(c);
	c->si = i;
	c->from = rec.rx_us;
	c->seeking = 1;
	c->want_rx = rec.rx_us;
	memcpy(c->want_id, id, len);
	c->want_len = len;
	*rx_us = rec.rx_us;
	return 1;
}

/* Points m's item arrays at the frame's kept items. */
static int
cur_items(struct evt_cur *c, const struct evt_frame *f,
    struct evt_cur_msg *m)
{
	if (f->kept > c->evcap) {
		size_t cap = f->kept + 16;
		const char **e = realloc(c->ev, cap * sizeof *e);
		if (e == NULL)
			return EVT_ERR_NOMEM;
		c->ev = e;
		size_t *l = realloc(c->evlen, cap * sizeof *l);
		if (l == NULL)
			return EVT_ERR_NOMEM;
		c->evlen = l;
		c->evcap = cap;
	}
	const char *t = (const char *)(f->is_flat ? f->flat.p : f->text.p);
	for (uint32_t i = 0; i < f->kept; i++) {
		c->ev[i] = t + f->span[2 * i];
		c->evlen[i] = f->span[2 * i + 1] - f->span[2 * i];
	}
	m->n = f->kept;
	m->ev = c->ev;
	m->evlen = c->evlen;
	return 0;
}

/* Counts ordinals; see cursor.h. */
void
evt_cur_ordinals(struct evt_cur *c)
{
	c->ordinals = 1;
}

/* Reads the selected sites only; see cursor.h. */
void
evt_cur_sites(struct evt_cur *c, const struct evt_sel *s)
{
	evt_siter_free(&c->site);
	evt_siter_init(&c->site, s->nsites > 0 ? s : NULL);
	c->sites = s->nsites > 0;
}

/* The sites met; see cursor.h. */
const struct evt_siter *
evt_cur_siter(const struct evt_cur *c)
{
	return &c->site;
}

/* Hands out markers; see cursor.h. */
void
evt_cur_markers(struct evt_cur *c)
{
	c->markers = 1;
}

/* The ordinal of the frame just read from the open segment (0 unless
 * counting): a follower's reader of the segment counted goes on with its
 * count, any other segment starts at 0. */
static uint64_t
cur_ordinal(struct evt_cur *c)
{
	uint64_t seq = evt_segr_info(c->r)->seq;
	if (!c->ordinals)
		return 0;
	if (!c->ord_have || seq != c->ord_seg) {
		c->ord_have = 1;
		c->ord_seg = seq;
		c->ord = 0;
	}
	return c->ord++;
}

/* Returns the next frame. */
int
evt_cur_next(struct evt_cur *c, struct evt_cur_msg *m)
{
	for (;;) {
		int rc;
		if (c->r == NULL && (rc = cur_open_seg(c)) <= 0)
			return rc;
		struct evt_frame *f;
		c->skipped = 0;
		rc = evt_frames_next(&c->fr, &f);
		if (rc < 0)
			return rc;
		if (rc == 0 && c->following) {
			cur_close_seg(c); /* all there is now: ask again */
			if ((rc = cur_follow_seg(c)) <= 0)
				return rc;
			continue;
		}
		if (rc == 0) {
			c->si++;
			cur_close_seg(c);
			continue;
		}
		uint64_t ord = cur_ordinal(c);
		if (f->kind == EVT_K_SESSION && evt_siter_marker(&c->site,
		    (const char *)f->text.p, f->text.len) != 0)
			return EVT_ERR_NOMEM;
		if ((f->kind >= EVT_K_SESSION && !c->markers) || !c->site.on ||
		    f->rx_us < c->from)
			continue;
		if (!before_end(c, f->rx_us))
			continue; /* like evtool cat: filtered, not stopped */
		if (c->seeking) {
			/* before the wanted event (whose keep ends the
			 * seeking); past its time it was lost to damage */
			if (f->rx_us > c->want_rx)
				c->seeking = 0;
			else
				continue;
		}
		m->kind = f->kind;
		m->rx_us = f->rx_us;
		m->seg = evt_segr_info(c->r)->seq;
		m->uuid = evt_segr_info(c->r)->uuid;
		m->ord = ord;
		m->first = c->skipped;
		m->nitems = f->nitems;
		m->text = (const char *)f->text.p;
		m->len = f->text.len;
		m->incomplete = (f->kind == EVT_K_MSG ||
		    f->kind == EVT_K_STATES) && f->kept + c->skipped < f->nitems;
		return cur_items(c, f, m) == 0 ? 1 : EVT_ERR_NOMEM;
	}
}

/* Turns follow mode on; see cursor.h. */
int
evt_cur_follow(struct evt_cur *c, const char *dir)
{
	if ((c->dir = strdup(dir)) == NULL)
		return EVT_ERR_NOMEM;
	cur_close_seg(c);
	c->following = 1;
	return 0;
}

/* The follower; see cursor.h. */
struct evt_follow *
evt_cur_follower(const struct evt_cur *c)
{
	return c->fo;
}

/*
 * Loads into s the state checkpoint of sealed segment i, r (index
 * loaded), if it holds the table as of end_us (formats/segment.md, "State
 * checkpoint"): complete, derived from frames all received before end_us,
 * its base still in the archive (a STATES frame's segment; else the
 * archive's first segment).  One that does not decode is reported and
 * passed over.  Tables that keep "since" need the frames: not used.
 */
static int
ckpt_load(struct evt_cur *c, struct evt_segr *r, size_t i, int64_t end_us,
    struct evt_state *s)
{
	struct evt_ckpt ck;
	const char *why;
	if (evt_state_tracking(s) || evt_ckpt_disabled() || c->sites)
		return 0;	/* (a checkpoint is of every site) */
	int rc = evt_ckpt_of(r, evt_archive_segment_seq(c->a, i), &ck, &why);
	if (rc == EVT_ERR_CORRUPT)
		evt_warnf(c->warn, c->arg, "%s: state checkpoint unusable (%s); "
		    "reading the events instead",
		    evt_archive_segment_path(c->a, i), why);
	int ok = rc == 0 && ck.complete && (!ck.has_rx ||
	    ck.rx_max < end_us) && evt_ckpt_based(&ck, c->a, i) &&
	    evt_ckpt_state(&ck, s) == 0;
	evt_ckpt_free(&ck);
	return ok;
}

/* Whether the summary of sealed segment r (index loaded) says it holds
 * no getState answer received before end_us. */
static int
no_states_before(struct evt_segr *r, int64_t end_us)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	const uint8_t *p;
	size_t len;
	struct evt_sum s;
	const char *why;
	int none = 0;
	if ((p = evt_segr_summary(r, &len)) == NULL)
		return 0;
	if (evt_sum_decode(p, len, evt_segr_decoder(r)->dict, si->nblocks,
	    &s, &why) == 0 && s.has_states) {
		none = 1;
		for (uint32_t k = 0; k < s.nstates; k++)
			none &= s.states[k].rx >= end_us;
	}
	evt_sum_free(&s);
	return none;
}

/* What segment i says of the state as of end_us (evt_cur_state_at). */
enum {
	SEG_PASS,	/* nothing: no getState answer before end_us */
	SEG_MAYBE,	/* may hold one: read it */
	SEG_CKPT	/* its checkpoint holds the table, loaded */
};

/*
 * Sealed segments tell from their time range, their checkpoint, their
 * index (frames per kind) and summary; others (open, damaged, an index
 * without frame counts) may hold an answer.
 */
static int
seg_probe(struct evt_cur *c, size_t i, int64_t end_us, struct evt_state *s)
{
	struct evt_segr *r;
	int what = SEG_MAYBE;
	if (evt_segr_open(evt_archive_segment_path(c->a, i), NULL, NULL,
	    &r) != 0)
		return SEG_MAYBE; /* unreadable: the scan reports it */
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && si->nrecords > 0 && si->first_rx >= end_us)
		what = SEG_PASS;
	else if (si->sealed && evt_segr_load_index(r) == 0) {
		if (ckpt_load(c, r, i, end_us, s))
			what = SEG_CKPT;
		else if (si->frames[EVT_K_STATES] == 0 ||
		    no_states_before(r, end_us))
			what = SEG_PASS;
	}
	evt_segr_close(r);
	return what;
}

/* Whether EVTAPE_STATE_SLOW=1 asks evt_cur_state_at for rendered texts
 * (a test knob: the flat scan must give the same table). */
static int
state_slow(void)
{
	const char *e = getenv("EVTAPE_STATE_SLOW");
	return e != NULL && strcmp(e, "1") == 0;
}

/* Applies frame m to s: its flat items when the reader gave them. */
static int
state_frame(struct evt_cur *c, const struct evt_cur_msg *m,
    struct evt_state *s)
{
	if (!c->fr.f.is_flat)
		return evt_state_apply_frame_at(s, m->kind, m->rx_us, m->ev,
		    m->evlen, m->n);
	for (size_t i = 0; i < m->n; i++)
		if (evt_state_apply_flat(s, (const uint8_t *)m->ev[i],
		    m->evlen[i]) == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
	return 0;
}

/* evt_cur_state_at's scan. */
static int
state_scan(struct evt_cur *c, int64_t end_us, struct evt_state *s)
{
	size_t i = c->nseg;
	int rc;
	for (;;) {
		/* Back to the next segment that may hold a snapshot, or
		 * whose checkpoint is the table as of its end. */
		int what = SEG_PASS;
		while (i > 0 && (what = seg_probe(c, i - 1, end_us, s)) ==
		    SEG_PASS)
			i--;
		int ck = what == SEG_CKPT;
		size_t start = ck ? i : i > 0 ? i - 1 : 0;
		if (!ck)
			evt_state_clear(s);
		cur_close_seg(c);
		c->si = start;
		c->state_seg = ck ? SIZE_MAX : start;
		c->from = INT64_MIN;
		c->to = end_us;
		c->seeking = 0;
		struct evt_cur_msg m;
		int seen = 0;
		while ((rc = evt_cur_next(c, &m)) == 1) {
			seen |= m.kind == EVT_K_STATES;
			rc = state_frame(c, &m, s);
			if (rc < 0)
				break;
		}
		c->state_seg = SIZE_MAX;
		if (rc < 0)
			return rc;
		/* A snapshot replaces the table: what came before it does
		 * not matter.  Without one, scan from further back. */
		if (ck || seen || start == 0)
			return 0;
		i = start;
	}
}

/* Fills s with the state table as of end_us. */
int
evt_cur_state_at(struct evt_cur *c, int64_t end_us, struct evt_state *s)
{
	/* Stateful events are kept flat, rendered once at the end: most
	 * are replaced before it.  "since" needs each text. */
	c->flat = !evt_state_tracking(s) && !state_slow();
	int rc = state_scan(c, end_us, s);
	c->flat = 0;
	cur_close_seg(c); /* (its reader was in flat mode) */
	int st = evt_state_settle(s);
	return rc < 0 ? rc : st;
}
