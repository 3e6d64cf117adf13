/*
 * archive.c: the archive directory (see archive.h, formats/archive.md).
 *
 * Opening lists the directory once (no segment is read except the newest
 * when writing; older ones a crash left unsealed are sealed on the sealing
 * thread, and so is a large newest one, whose resume point is read from
 * its last blocks), which is what keeps a restart on thousands of segments
 * fast; a reader takes the list from the catalog instead when it is
 * current (catalog.c), and the sealing thread and a lock holder's close
 * keep the catalog.  The writer keeps exactly one segment open; rotation seals it
 * (index + trailer + fsync) and creates the next, whose name is made
 * durable by an fsync of the directory.
 */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/catalog.h"
#include "evtape/ckpt.h"
#include "evtape/err.h"
#include "evtape/idindex.h"
#include "evtape/rollup.h"
#include "evtape/record.h"

struct evt_archive {
	char *dir;
	int flags;
	int lockfd;		/* LOCK, flock'ed (what older writers lock) */
	int dirfd;		/* the directory itself, flock'ed: LOCK can be
				   deleted from under a writer, the directory
				   it writes into cannot */
	int foreign;		/* another writer changed the open segment:
				   nothing more is written to it */
	struct evt_archive_opts opts;
	evt_seg_err_cb errcb;
	evt_warn_cb warn;
	void *arg;
	uint8_t uuid[16];
	int have_uuid;
	struct evt_segref *segs;
	size_t nsegs, cap;
	struct evt_segw *w;
	int64_t last_sync_us;
	struct evt_ckb *ckcarry; /* the state checkpoint's table at the end
				    of the segment rotated out (ckpt.h), for
				    the next one */

	pthread_t sealer;	/* seals the previous segment */
	int sealing;		/* sealer is running (to be joined) */
	struct evt_segw *to_seal;
	int seal_rc;
	char *seal_path;	/* the segment being sealed */
	uint64_t seal_seq;	/* and its sequence number */
	int compact;		/* compact it after sealing */
	char **sweep;		/* or: older segments to seal if a crash
				   left them unsealed (the thread's own
				   copies of their paths) */
	size_t nsweep;
	size_t swept;		/* how many of them it sealed */

	/* What a recorder needs to resume its gateway session after a
	 * restart: the last event id and the last SESSION marker's body,
	 * kept across rotations and found on disk at open. */
	char last_id[EVT_REC_MAX_INTERN];
	size_t last_id_len;
	struct evt_buf session;
	int have_session;
	struct evt_buf carry;	/* SESSION body written into every new
				   segment and before closing */
	int have_carry;
	int64_t last_rx;	/* receive time of the last append */
	int w_copied;		/* the open segment begins with copied
				   blocks (evt_archive_copy_blocks): it is
				   not compacted, its blocks are the
				   source's */
	int appended;		/* anything appended since open */

	/* What readers could not read (evt_archive_lost). */
	uint64_t lost, lost_unknown;
	int writer;		/* a writer holds the lock: -1 not known */

	/* The id index's run files as listed (formats/idindex.md). */
	char **runs;
	size_t nruns, runcap;
	int no_index;		/* EVT_AR_NO_INDEX: look ids up segment by
				   segment */
	int catch_up;		/* the sealing thread catches the index up
				   first (a writer's open) */
	struct evt_cat cat;	/* a reader's catalog (formats/catalog.md) */
	int from_cat;		/* the listing came from it: cat.segs[i]
				   describes segs[i] */
	int lazy;		/* from_cat under EVT_AR_NO_SIZES: segs[i]
				   is decoded from it when first used
				   (segref; seq 0 until then) */
	int opened;		/* evt_archive_open succeeded */
	char *paths;		/* from_cat: every segs[i].path, one block,
				   each made when first asked for */
	size_t npaths;		/* segs[0..npaths) have their paths */
	int64_t cat_us;		/* when the sealing thread last rewrote the
				   catalog */
};

/* Emits a warning through the archive's callback. */
#define warnf(a, ...) evt_warnf((a)->warn, (a)->arg, __VA_ARGS__)

/* Formats a warning for a callback; see archive.h. */
void
evt_warnf(evt_warn_cb cb, void *arg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (cb == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cb(arg, msg);
}

/* Formats a segment file name (by hand: a reader of a catalog of
 * 10,000 segments spent a tenth of its time in snprintf here). */
void
evt_segment_name(uint64_t seq, char *out, size_t cap)
{
	if (cap < 21 || seq > UINT64_C(999999999999)) {
		snprintf(out, cap, "seg-%012" PRIu64 ".evt", seq);
		return;
	}
	memcpy(out, "seg-", 4);
	for (int k = 15; k >= 4; k--, seq /= 10)
		out[k] = (char)('0' + seq % 10);
	memcpy(out + 16, ".evt", 5);
}

/* Parses 12 decimal digits; 1 if they are. */
static int
digits12(const char *s, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 1;
}

/* Parses a segment file name; see archive.h. */
int
evt_segment_parse_name(const char *name, uint64_t *seq)
{
	uint64_t v;
	if (strlen(name) != 20 || strncmp(name, "seg-", 4) != 0 ||
	    strcmp(name + 16, ".evt") != 0 || !digits12(name + 4, &v) ||
	    v == 0)
		return 0;
	*seq = v;
	return 1;
}

/* Formats a run file name; see archive.h. */
void
evt_run_name(const char *prefix, const char *ext, uint64_t lo, uint64_t hi,
    char *out, size_t cap)
{
	snprintf(out, cap, "%s-%012" PRIu64 "-%012" PRIu64 "%s", prefix, lo,
	    hi, ext);
}

/* Parses a run file name; see archive.h. */
int
evt_run_parse_name(const char *name, const char *prefix, const char *ext,
    uint64_t *lo, uint64_t *hi)
{
	uint64_t l, h;
	if (strlen(name) != EVT_RUN_NAME_LEN || memcmp(name, prefix, 3) != 0 ||
	    name[3] != '-' || name[16] != '-' || strcmp(name + 29, ext) != 0 ||
	    !digits12(name + 4, &l) || !digits12(name + 17, &h) || l == 0 ||
	    l > h)
		return 0;
	if (lo != NULL)
		*lo = l;
	if (hi != NULL)
		*hi = h;
	return 1;
}

/* dir/name; see archive.h.  Built by hand: a listing of 10,000 segments
 * spent a tenth of a lookup in snprintf. */
char *
evt_path_join(const char *dir, const char *name)
{
	size_t d = strlen(dir), n = strlen(name);
	char *p = malloc(d + n + 2);
	if (p != NULL) {
		memcpy(p, dir, d);
		p[d] = '/';
		memcpy(p + d + 1, name, n + 1);
	}
	return p;
}

/*
 * Segment i's entry.  A lazy reader of the catalog decodes it on first
 * use into a->segs (calloc'ed: untouched pages cost nothing): a lookup
 * the id index answers touches a few of 10,000 segments.
 */
static int ckpt_seed(struct evt_archive *a, size_t i);
static void ckpt_resume(struct evt_archive *a);

static struct evt_segref *
segref(struct evt_archive *a, size_t i)
{
	struct evt_segref *s = &a->segs[i];
	if (a->lazy && s->seq == 0)
		evt_cat_seg_sizes(&a->cat, (uint32_t)i, 1, &s->seq, &s->size);
	return s;
}

/*
 * Segment i's path.  A reader of the catalog makes it on first use, in
 * a->paths (calloc'ed: its pages cost nothing until a path is written):
 * a lookup the id index answers touches a few of 10,000 segments, and
 * making every path was a tenth of it.
 */
static const char *
seg_path(struct evt_archive *a, size_t i)
{
	struct evt_segref *s = segref(a, i);
	if (s->path == NULL) {
		size_t dl = strlen(a->dir), pl = dl + 1 + 20 + 1;
		s->path = a->paths + pl * i;
		memcpy(s->path, a->dir, dl);
		s->path[dl] = '/';
		evt_segment_name(s->seq, s->path + dl + 1, 21);
	}
	return s->path;
}

/* The size of segment i, looked up if it is not known (0 if it cannot). */
static uint64_t
seg_size(struct evt_archive *a, size_t i)
{
	struct stat st;
	struct evt_segref *s = segref(a, i);
	if (s->size == EVT_SIZE_UNKNOWN)
		s->size = stat(seg_path(a, i), &st) == 0 ?
		    (uint64_t)st.st_size : 0;
	return s->size;
}

/* Segment i's size at listing: stat(2)ed unless the opener said it needs
 * none (a writer, EVT_AR_NO_SIZES). */
static void
listed_size(struct evt_archive *a, size_t i)
{
	if (!(a->flags & (EVT_AR_WRITE | EVT_AR_NO_SIZES)))
		(void)seg_size(a, i);
}

/* Appends segment seq to a->segs, its path made from the name; 0 or
 * EVT_ERR_NOMEM. */
static int
add_seg(struct evt_archive *a, uint64_t seq)
{
	char name[32];
	evt_segment_name(seq, name, sizeof name);
	struct evt_segref *s = &a->segs[a->nsegs];
	s->seq = seq;
	s->size = EVT_SIZE_UNKNOWN;
	if ((s->path = evt_path_join(a->dir, name)) == NULL)
		return EVT_ERR_NOMEM;
	listed_size(a, a->nsegs++);
	return 0;
}

/* Sizes a->segs for n segments; 0 or EVT_ERR_NOMEM. */
static int
reserve_segs(struct evt_archive *a, size_t n)
{
	a->cap = n + 16;
	a->segs = calloc(a->cap, sizeof *a->segs);
	return a->segs != NULL ? 0 : EVT_ERR_NOMEM;
}

/*
 * Takes a listing into a->segs and a->runs (the run names move): warns
 * about strays and, holding the lock, deletes what an unfinished rewrite
 * left (a reader warns about those as strays).
 */
static int
take_listing(struct evt_archive *a, struct evt_listing *l)
{
	int locked = (a->flags & (EVT_AR_WRITE | EVT_AR_LOCK)) != 0;
	for (size_t i = 0; i < l->ntemp; i++) {
		char *p = locked ? evt_path_join(a->dir, l->temps[i]) : NULL;
		if (p != NULL && unlink(p) == 0)
			warnf(a, "%s: removed an unfinished rewrite", p);
		else if (!locked)
			warnf(a, "%s/%s: not a segment file; ignored", a->dir,
			    l->temps[i]);
		free(p);
	}
	for (size_t i = 0; i < l->nstray; i++)
		warnf(a, "%s/%s: not a segment file; ignored", a->dir,
		    l->strays[i]);
	a->runs = l->runs;	/* an id index's runs: derived data */
	a->nruns = a->runcap = l->nrun;
	l->runs = NULL;
	l->nrun = 0;
	int rc = reserve_segs(a, l->nseg);
	for (size_t i = 0; rc == 0 && i < l->nseg; i++)
		rc = add_seg(a, l->segs[i].seq);
	return rc;
}

/*
 * Takes the segments and runs from a catalog whose listing is the
 * directory's (formats/catalog.md): the sizes of sealed segments come
 * with it, so that a reader without sizes still checks the id index's
 * runs against them.
 */
static int
take_catalog(struct evt_archive *a)
{
	const struct evt_cat *c = &a->cat;
	/* The paths in one block (a reader never adds or deletes a
	 * segment), each made when first asked for (seg_path). */
	size_t pl = strlen(a->dir) + 1 + 20 + 1;
	int rc = reserve_segs(a, c->nseg);
	if (rc == 0 && (a->paths = calloc(c->nseg + 1, pl)) == NULL)
		rc = EVT_ERR_NOMEM;
	if (rc == 0 && (a->flags & EVT_AR_NO_SIZES)) {
		/* (reserve_segs' calloc: every seq 0, decoded when used) */
		a->lazy = 1;
		a->nsegs = c->nseg;
	}
	for (uint32_t i = 0; rc == 0 && !a->lazy && i < c->nseg; i++) {
		uint64_t size;
		uint32_t fl;
		struct evt_segref *s = &a->segs[a->nsegs++];
		evt_cat_seg_brief(c, i, &s->seq, &size, &fl);
		s->path = NULL;
		s->size = (fl & EVT_CATS_SEALED) &&
		    (a->flags & EVT_AR_NO_SIZES) ? size : EVT_SIZE_UNKNOWN;
		listed_size(a, i);
	}
	if (rc == 0 && (a->runs = calloc(c->nrun + 1,
	    sizeof *a->runs)) == NULL)
		rc = EVT_ERR_NOMEM;
	a->runcap = c->nrun;
	for (uint32_t i = 0; rc == 0 && i < c->nrun; i++) {
		char name[EVT_IDX_NAME_LEN + 1];
		struct evt_cat_run r;
		evt_cat_run_at(c, i, &r);
		evt_idx_name(r.lo, r.hi, name, sizeof name);
		if ((a->runs[i] = strdup(name)) == NULL)
			rc = EVT_ERR_NOMEM;
		else
			a->nruns++;
	}
	return rc;
}

/* Lists the directory into a->segs, from the catalog where a reader
 * may. */
static int
scan_dir(struct evt_archive *a)
{
	if (!(a->flags & (EVT_AR_WRITE | EVT_AR_LOCK))) {
		int rc = evt_cat_load(a->dir, &a->cat);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			a->from_cat = 1;
			return take_catalog(a);
		}
	}
	struct evt_listing l;
	int rc = evt_dir_list(a->dir, &l);
	if (rc == 0)
		rc = take_listing(a, &l);
	evt_listing_free(&l);
	return rc;
}

/* The path of segment i; see archive.h. */
const char *
evt_archive_segment_path(struct evt_archive *a, size_t i)
{
	return seg_path(a, i);
}

/* The sequence number of segment i; see archive.h. */
uint64_t
evt_archive_segment_seq(struct evt_archive *a, size_t i)
{
	return segref(a, i)->seq;
}

/* The number of segments; see archive.h. */
size_t
evt_archive_nsegments(const struct evt_archive *a)
{
	return a->nsegs;
}

/* The size of segment i; see archive.h. */
uint64_t
evt_archive_segment_size(struct evt_archive *a, size_t i)
{
	return seg_size(a, i);
}

/* Segment problem callback of a writer's open: a warning (a segment it
 * cannot read changes where its resume point comes from). */
static void
seg_warn_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct evt_archive *a = arg;
	warnf(a, "%s: offset %" PRIu64 ": %s", path, off, what);
}

/* Reads the archive uuid from a segment header. */
static void
learn_uuid(struct evt_archive *a, const char *path)
{
	struct evt_segr *r;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return; /* (find_resume_point says why) */
	if (!evt_segr_info(r)->hdr_damaged) {
		memcpy(a->uuid, evt_segr_info(r)->uuid, 16);
		a->have_uuid = 1;
	}
	evt_segr_close(r);
}

/* Seals an unsealed segment left behind by a crash during rotation (on
 * the sealing thread: no warnings here); returns 1 if it did. */
static int
seal_leftover(struct evt_archive *a, const char *path)
{
	struct evt_segw *w;
	struct evt_seg_recovery rec;
	if (evt_segw_resume(path, &a->opts.seg, &w, &rec) != 0)
		return 0; /* sealed, or unreadable: left to verify/repair */
	return evt_segw_seal(w) == 0;
}

/* Keeps a copy of a SESSION marker body as the archive's last one. */
static int
keep_session(struct evt_archive *a, const char *json, size_t len)
{
	a->session.len = 0;
	a->have_session = 0;
	if (evt_buf_put(&a->session, json, len) != 0)
		return EVT_ERR_NOMEM;
	a->have_session = 1;
	return 0;
}

/*
 * Keeps the body of the last SESSION record in the blocks at offsets
 * [lo, hi] of a sealed segment, read from receive time rx on.  Returns 0
 * or a negative evt_err of the scan.
 */
static int
sessions_in(struct evt_archive *a, struct evt_segr *r, int64_t rx,
    uint64_t lo, uint64_t hi, struct evt_buf *tail)
{
	struct evt_rec re;
	uint64_t boff;
	int rc = evt_segr_rewind(r, rx);
	while (rc == 0 && (rc = evt_segr_next(r, &re, &boff)) == 1) {
		rc = 0;
		if (boff > hi)
			break;
		if (re.kind != EVT_K_SESSION || boff < lo)
			continue;
		a->session.len = 0;
		tail->len = 0;
		a->have_session = evt_rdec_frame_head(evt_segr_decoder(r), &re,
		    &a->session, tail) == 0;
	}
	return rc;
}

/*
 * Finds the body of the last SESSION marker of a sealed segment: in the
 * last block whose header flags say it holds one (revision 1.1 writers),
 * or, where the flags cannot tell, scanning its blocks from the end (a
 * recorder writes one into the last block before closing, so one block is
 * usually enough).  Returns 0 (found or not), EVT_ERR_NOMEM or an I/O
 * error of the scan.
 */
static int
session_of_sealed(struct evt_archive *a, struct evt_segr *r)
{
	if (evt_segr_load_index(r) != 0 ||
	    evt_segr_info(r)->frames[EVT_K_SESSION] == 0)
		return 0;
	uint32_t nb, f;
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	struct evt_buf tail = {0};
	int rc = 0;
	for (uint32_t i = nb; i-- > 0;) {
		if (evt_segr_block_flags(r, i, &f) != 0 ||
		    !(f & EVT_BLKF_SET))
			break;
		if (f & EVT_BLKF_SESSION) {
			rc = sessions_in(a, r, bl[i].first_rx, bl[i].off,
			    bl[i].off, &tail);
			break;
		}
	}
	/* The last four blocks one by one, then everything at once. */
	for (uint32_t k = 0; k <= 4 && k <= nb && !a->have_session &&
	    rc >= 0; k++) {
		int all = k == 4 || k == nb;
		rc = sessions_in(a, r, all ? INT64_MIN : bl[nb - 1 - k].first_rx,
		    all ? 0 : bl[nb - 1 - k].off, UINT64_MAX, &tail);
		if (all)
			break;
	}
	evt_buf_free(&tail);
	return rc < 0 ? rc : 0;
}

/*
 * Takes what the archive's resume point still lacks (last event id, last
 * SESSION body) from the last blocks of the unsealed segment at path;
 * returns what evt_seg_tail returned (and *blocks, its block count).
 */
static int
take_tail(struct evt_archive *a, const char *path, uint32_t *blocks)
{
	struct evt_seg_tail t;
	int rc = evt_seg_tail(path, &t);
	if (rc != 0)
		return rc;
	*blocks = t.blocks;
	if (a->last_id_len == 0) {
		memcpy(a->last_id, t.last_id, t.last_id_len);
		a->last_id_len = t.last_id_len;
	}
	if (!a->have_session && t.have_session)
		rc = keep_session(a, (const char *)t.session.p, t.session.len);
	evt_buf_free(&t.session);
	return rc;
}

/*
 * Sets the archive's last event id and last SESSION body from the data: the
 * resumed segment's scan (or the tail of the newest segment, read already
 * when tail_read), else the newest few older segments (a sealed one's
 * index holds the last id; an unsealed one, left by a crash during a
 * sealing, is read from its last blocks).  Archives a recorder never wrote (imports) have no SESSION
 * marker; the search stops after eight segments so that an open stays
 * cheap.
 */
static int
find_resume_point(struct evt_archive *a, int tail_read)
{
	size_t n;
	const char *p;
	if (a->w != NULL) {
		if ((p = evt_segw_last_id(a->w, &n)) != NULL) {
			memcpy(a->last_id, p, n);
			a->last_id_len = n;
		}
		if ((p = evt_segw_session(a->w, &n)) != NULL &&
		    keep_session(a, p, n) != 0)
			return EVT_ERR_NOMEM;
	}
	size_t stop = a->nsegs > 8 ? a->nsegs - 8 : 0;
	for (size_t i = a->nsegs; i-- > stop;) {
		if (a->last_id_len > 0 && a->have_session)
			break;
		if ((a->w != NULL || tail_read) && i == a->nsegs - 1)
			continue; /* the resumed one, done above */
		struct evt_segr *r;
		if (evt_segr_open(a->segs[i].path, seg_warn_cb, a, &r) != 0)
			continue; /* (reported: the resume point is older) */
		int rc = 0;
		if (!evt_segr_info(r)->sealed) {
			uint32_t nb;
			evt_segr_close(r);
			/* (If the blocks cannot tell, on to older ones.) */
			if (take_tail(a, a->segs[i].path, &nb) == EVT_ERR_NOMEM)
				return EVT_ERR_NOMEM;
			continue;
		}
		if (a->last_id_len == 0 && (p = evt_segr_last_id(r, &n)) != NULL &&
		    n <= sizeof a->last_id) {
			memcpy(a->last_id, p, n);
			a->last_id_len = n;
		}
		if (!a->have_session)
			rc = session_of_sealed(a, r);
		evt_segr_close(r);
		if (rc == EVT_ERR_NOMEM)
			return rc;
	}
	return 0;
}

static void *seal_main(void *arg);

/*
 * Starts sealing, on the sealing thread, the older segments a crash left
 * unsealed (a crash while the previous one was being sealed): checking
 * thousands of trailers is what made an open slow, and readers read an
 * unsealed segment all the same.
 */
static int
start_sweep(struct evt_archive *a, size_t n)
{
	a->sweep = calloc(n + 1, sizeof *a->sweep);
	if (a->sweep == NULL)
		return EVT_ERR_NOMEM;
	for (; a->nsweep < n; a->nsweep++)
		if ((a->sweep[a->nsweep] = strdup(a->segs[a->nsweep].path)) ==
		    NULL)
			return EVT_ERR_NOMEM;
	if (pthread_create(&a->sealer, NULL, seal_main, a) == 0)
		a->sealing = 1;
	else
		seal_main(a); /* no thread: here */
	return 0;
}

/*
 * After a crash, a newest segment too large to scan at once (larger than
 * opts.resume_bytes) is not resumed: its resume point is read from its
 * last blocks (evt_seg_tail), it is sealed on the sealing thread like the
 * older ones, and the next append starts a new segment.  Returns 1 if that was done, 0 if the segment is to be resumed
 * (small, sealed, or its blocks cannot tell), or EVT_ERR_NOMEM.
 */
static int
leave_newest(struct evt_archive *a, const struct evt_segref *s)
{
	if (seg_size(a, a->nsegs - 1) <= a->opts.resume_bytes)
		return 0;
	uint32_t nb = 0;
	int rc = take_tail(a, s->path, &nb);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return 0;
	warnf(a, "%s: left unsealed by a crash (%" PRIu64 " bytes, %u "
	    "blocks); sealing it in the background, recording into a new "
	    "segment", s->path, s->size, nb);
	return 1;
}

/* Opens LOCK (creating it) and takes its lock; returns 0 or an evt_err. */
static int
lock_file(struct evt_archive *a)
{
	char *lp = evt_path_join(a->dir, "LOCK");
	if (lp == NULL)
		return EVT_ERR_NOMEM;
	if (a->lockfd >= 0)
		close(a->lockfd);
	a->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(lp);
	if (a->lockfd < 0)
		return errno == ENOENT ? EVT_ERR_NOTFOUND : EVT_ERR_IO;
	if (flock(a->lockfd, LOCK_EX | LOCK_NB) != 0)
		return errno == EWOULDBLOCK ? EVT_ERR_EXISTS : EVT_ERR_IO;
	return 0;
}

/*
 * Takes the writer's lock (formats/archive.md, "The LOCK file"): the
 * directory itself first, which cannot be deleted from under us while it
 * holds segments, then LOCK, which is what writers of before this lock
 * take.  Returns 0, EVT_ERR_EXISTS (another writer holds one),
 * EVT_ERR_NOTFOUND or EVT_ERR_IO.
 */
static int
take_lock(struct evt_archive *a)
{
	a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0)
		return errno == ENOENT ? EVT_ERR_NOTFOUND : EVT_ERR_IO;
	if (flock(a->dirfd, LOCK_EX | LOCK_NB) != 0)
		return errno == EWOULDBLOCK ? EVT_ERR_EXISTS : EVT_ERR_IO;
	return lock_file(a);
}

/*
 * Passes rc on; if it says the open segment was changed by another writer
 * (evt_segw_check, or a block write that found it so), warns once and
 * stops all writing to it.
 */
static int
note_foreign(struct evt_archive *a, int rc)
{
	if (rc == EVT_ERR_FOREIGN && !a->foreign) {
		warnf(a, "%s: changed by another writer (it is no longer the "
		    "file this writer appends to, or not of the size it "
		    "wrote); not writing to it any more", evt_segw_path(a->w));
		a->foreign = 1;
	}
	return rc;
}

/*
 * Looks for another writer: LOCK must still be the file we locked (if it
 * was deleted or replaced, a new one is made and locked: that fails only
 * if someone else already holds it), and the open segment must still be
 * ours and end where we left it.  Returns 0 or EVT_ERR_FOREIGN, after
 * which nothing more is written to the open segment.
 */
static int
check_foreign(struct evt_archive *a)
{
	struct stat ls, fs;
	char *lp;
	int rc;

	if (a->foreign)
		return EVT_ERR_FOREIGN;
	if ((lp = evt_path_join(a->dir, "LOCK")) == NULL)
		return EVT_ERR_NOMEM;
	rc = stat(lp, &ls);
	free(lp);
	if (fstat(a->lockfd, &fs) == 0 && (rc != 0 || ls.st_dev != fs.st_dev ||
	    ls.st_ino != fs.st_ino)) {
		rc = lock_file(a);
		if (rc == EVT_ERR_EXISTS) {
			warnf(a, "%s/LOCK: deleted or replaced, and the new one "
			    "is locked by another writer", a->dir);
			a->foreign = 1;
			return EVT_ERR_FOREIGN;
		}
		warnf(a, "%s/LOCK: deleted or replaced while this writer held "
		    "it; %s", a->dir, rc == 0 ? "made and locked again" :
		    "cannot make it again (the directory lock still holds)");
	}
	return a->w != NULL ? note_foreign(a, evt_segw_check(a->w)) : 0;
}

/*
 * Removes the newest segment when it is shorter than a segment header: a
 * writer killed between creating the file and writing its header left it,
 * and no record can precede the header, so it holds nothing.  Left in
 * place it would be reported by every verify for good.  Returns 1 when
 * it was removed (and warned about), 0 otherwise.
 */
static int
drop_torn_newest(struct evt_archive *a)
{
	struct evt_segref *s = &a->segs[a->nsegs - 1];
	struct stat st;
	if (stat(s->path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size >= EVT_SEG_HDR_SIZE || unlink(s->path) != 0)
		return 0;
	warnf(a, "%s: removed: %lld bytes, shorter than a segment header "
	    "(a writer stopped while creating it; it held no events)",
	    s->path, (long long)st.st_size);
	free(s->path);
	a->nsegs--;
	return 1;
}

/* Opens the archive; see archive.h. */
int
evt_archive_open(const char *dir, int flags,
    const struct evt_archive_opts *opts, evt_seg_err_cb errcb,
    evt_warn_cb warn, void *arg, struct evt_archive **out)
{
	struct evt_archive *a = calloc(1, sizeof *a);
	if (a == NULL)
		return EVT_ERR_NOMEM;
	a->lockfd = -1;
	a->dirfd = -1;
	a->writer = -1;
	a->flags = flags;
	const char *ni = getenv("EVTAPE_NO_IDINDEX");
	a->no_index = (flags & EVT_AR_NO_INDEX) || (ni != NULL && *ni != 0);
	a->errcb = errcb;
	a->warn = warn;
	a->arg = arg;
	if (opts != NULL)
		a->opts = *opts;
	if (a->opts.seg_bytes == 0)
		a->opts.seg_bytes = 32u << 20;
	if (a->opts.seg_age_us == 0)
		a->opts.seg_age_us = INT64_C(3600) * 1000000;
	if (a->opts.block_age_us == 0)
		a->opts.block_age_us = 1000000;
	if (a->opts.sync_interval_us == 0)
		a->opts.sync_interval_us = 1000000;
	if (a->opts.resume_bytes == 0)
		a->opts.resume_bytes = 1u << 20;
	int rc = EVT_ERR_NOMEM;
	a->dir = strdup(dir);
	if (a->dir == NULL)
		goto fail;
	if ((flags & EVT_AR_CREATE) && mkdir(dir, 0755) != 0 &&
	    errno != EEXIST) {
		rc = EVT_ERR_IO;
		goto fail;
	}
	if ((flags & (EVT_AR_WRITE | EVT_AR_LOCK)) &&
	    (rc = take_lock(a)) != 0)
		goto fail;
	if ((rc = scan_dir(a)) != 0)
		goto fail;
	if (flags & EVT_AR_WRITE) {
		for (size_t i = a->nsegs; i-- > 0 && !a->have_uuid;)
			learn_uuid(a, a->segs[i].path);
		int left = a->nsegs > 0 ?
		    leave_newest(a, &a->segs[a->nsegs - 1]) : 0;
		if (left < 0) {
			rc = left;
			goto fail;
		}
		if (a->nsegs > 0 && !left) {
			struct evt_segref *s = &a->segs[a->nsegs - 1];
			struct evt_seg_recovery rec;
			rc = evt_segw_resume(s->path, &a->opts.seg, &a->w, &rec);
			if (rc == EVT_ERR_EXISTS) {
				a->w = NULL;
			} else if (rc == 0) {
				ckpt_resume(a);
				if (rec.cut_bytes > 0)
					warnf(a, "%s: cut a torn tail of %"
					    PRIu64 " bytes at offset %" PRIu64,
					    s->path, rec.cut_bytes,
					    rec.valid_end);
				if (rec.bad_blocks > 0)
					warnf(a, "%s: %u damaged places kept "
					    "(run evtool verify)", s->path,
					    rec.bad_blocks);
			} else if (drop_torn_newest(a)) {
				a->w = NULL;
			} else {
				/* Unreadable header: leave it, start anew. */
				warnf(a, "%s: cannot resume (%s); starting a "
				    "new segment", s->path, evt_strerror(rc));
				a->w = NULL;
			}
		}
		if ((rc = find_resume_point(a, left)) != 0)
			goto fail;
		/* Then seal the older segments, and the newest if left (after
		 * the resume point: it may be read from one of them). */
		size_t nsweep = a->nsegs > 0 ? a->nsegs - 1 + (size_t)left : 0;
		a->catch_up = 1;	/* and the id index, after them */
		if ((rc = start_sweep(a, nsweep)) != 0)
			goto fail;
	}
	a->opened = 1;
	*out = a;
	return 0;
fail:
	evt_archive_close(a);
	return rc;
}

/* The segment list, every path made (seg_path). */
const struct evt_segref *
evt_archive_segments(struct evt_archive *a, size_t *n)
{
	for (; a->npaths < a->nsegs; a->npaths++)
		(void)seg_path(a, a->npaths);
	*n = a->nsegs;
	return a->segs;
}

/* Reports damage that loses an unknown number of events through the
 * archive's error callback, and counts it. */
static void
damage(struct evt_archive *a, const char *path, uint64_t off,
    const char *msg)
{
	a->lost_unknown++;
	if (a->errcb != NULL)
		a->errcb(a->arg, path, off, msg);
}

/* Whether /proc/locks lists a lock held on the file (dev, ino). */
static int
locked_in_proc(FILE *f, const struct stat *st)
{
	char line[256];
	rewind(f);
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned maj, mnr;
		unsigned long long ino;
		char type[16], mode[16], rw[16];
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:02:1234567 0 EOF";
		 * waiters ("1: -> FLOCK ...") do not hold it. */
		if (strstr(line, "->") != NULL ||
		    sscanf(line, "%*d: %15s %15s %15s %*d %x:%x:%llu", type,
		    mode, rw, &maj, &mnr, &ino) != 6)
			continue;
		if (maj == major(st->st_dev) && mnr == minor(st->st_dev) &&
		    ino == (unsigned long long)st->st_ino)
			return 1;
	}
	return 0;
}

/* Whether a writer holds the lock of the archive in dir; see archive.h. */
int
evt_archive_writer_running(const char *dir)
{
	FILE *f = fopen("/proc/locks", "re");
	if (f == NULL)
		return 0;
	struct stat st;
	int held = 0;
	char *lp = evt_path_join(dir, "LOCK");
	if (lp != NULL && stat(lp, &st) == 0 && locked_in_proc(f, &st))
		held = 1;
	else if (stat(dir, &st) == 0 && locked_in_proc(f, &st))
		held = 1;
	free(lp);
	fclose(f);
	return held;
}

/* Whether a writer holds the archive's lock, asked once per reader. */
static int
writer_running(struct evt_archive *a)
{
	if (a->writer < 0)
		a->writer = evt_archive_writer_running(a->dir);
	return a->writer;
}

/* Reports missing sequence numbers just before segment i. */
static void
report_hole(struct evt_archive *a, size_t i)
{
	const struct evt_segref *s = segref(a, i);
	uint64_t prev = i > 0 ? segref(a, i - 1)->seq : 0;
	char msg[256];
	if (i > 0 && s->seq > prev + 1) {
		/* Writers number segments one after the other and retention
		 * deletes the oldest only: a hole is lost segments. */
		snprintf(msg, sizeof msg, "segments %" PRIu64 "..%" PRIu64
		    " before it are missing (deleted, or moved aside as "
		    "*.damaged): their events are lost",
		    prev + 1, s->seq - 1);
		damage(a, seg_path(a, i), 0, msg);
	}
}

/* Whether the catalog proves segment i outside a time window; see
 * archive.h. */
int
evt_archive_segment_outside(struct evt_archive *a, size_t i, int64_t from,
    int64_t to)
{
	struct evt_cat_seg e;
	if (!a->from_cat || i >= a->cat.nseg)
		return 0;
	evt_cat_seg_at(&a->cat, (uint32_t)i, &e);
	if (!evt_cat_outside(&e, from, to))
		return 0;
	report_hole(a, i);	/* as opening it would */
	return 1;
}

/* Opens segment i for a reader; see archive.h. */
int
evt_archive_open_segment(struct evt_archive *a, size_t i,
    struct evt_segr **out)
{
	const struct evt_segref *s = segref(a, i);
	report_hole(a, i);
	int rc = evt_segr_open(seg_path(a, i), a->errcb, a->arg, out);
	if (rc != 0) {
		a->lost_unknown++; /* reported by the segment reader */
		return rc;
	}
	const struct evt_seg_info *si = evt_segr_info(*out);
	if (!si->sealed && i + 1 < a->nsegs &&
	    !(i + 3 >= a->nsegs && writer_running(a))) {
		/* Only a crash between creating the next segment and sealing
		 * this one leaves it so, and the next writer seals it; a
		 * sealed segment cut short at a block boundary looks the
		 * same (formats/archive.md, "Reading an archive").  A running
		 * writer seals the one before its open segment just after a
		 * rotation, and after a crash the one it left and the one
		 * before that: the two before the newest. */
		damage(a, s->path, si->size, "unsealed, yet not the newest "
		    "segment, and no writer is running: its end may be "
		    "missing (a sealed segment cut short, or a crash that "
		    "no writer has repaired): an unknown number of events "
		    "may be lost after this offset");
	}
	return 0;
}

/* Closes a reader of evt_archive_open_segment; see archive.h. */
void
evt_archive_close_segment(struct evt_archive *a, struct evt_segr *r)
{
	if (r == NULL)
		return;
	uint64_t ev, unk;
	evt_segr_lost(r, &ev, &unk);
	a->lost += ev;
	a->lost_unknown += unk;
	evt_segr_close(r);
}

/* Adds events a reader failed to render; see archive.h. */
void
evt_archive_add_lost(struct evt_archive *a, uint64_t events)
{
	a->lost += events;
}

/* The tally of what readers could not read; see archive.h. */
void
evt_archive_lost(const struct evt_archive *a, uint64_t *events,
    uint64_t *unknown)
{
	*events = a->lost;
	*unknown = a->lost_unknown;
}

/* What find_covered says of a run whose segment is not the one it
 * covered. */
#define FIND_STALE 2

/*
 * Looks id up in segment i, which a usable run of the id index covers,
 * through the candidate blocks the run named (c[0..nc), newest segment
 * first): 1 found (*out open), 0 not there, FIND_STALE (the segment was
 * rewritten or is gone: the run must not be used), or a negative
 * evt_err.
 */
static int
find_covered(struct evt_archive *a, struct evt_idx_view *v, size_t i,
    const struct evt_idx_cand *c, size_t nc, const char *id, size_t len,
    struct evt_segr **out, struct evt_rec *rec, uint64_t *blk_off)
{
	size_t k = evt_idx_view_covering(v, i), n = 0, sure = 0;
	uint64_t *offs = malloc((nc + 1) * sizeof *offs);
	if (offs == NULL)
		return EVT_ERR_NOMEM;
	for (size_t j = 0; j < nc; j++) {
		if (c[j].seg != i || c[j].run != k)
			continue;
		int ck = evt_idx_check_cand(seg_path(a, i), &c[j], id, len);
		if (ck < 0) {
			free(offs);
			return FIND_STALE;
		}
		if (ck > 0)
			offs[n++] = c[j].off;
		sure += ck == 2;
	}
	struct evt_segr *r;
	if (n == 0 || evt_archive_open_segment(a, i, &r) != 0) {
		free(offs);
		return 0;	/* (a segment that cannot be opened: reported) */
	}
	int rc = evt_segr_find_at(r, id, len, offs, n, rec, blk_off);
	free(offs);
	if (rc == 1) {
		*out = r;
		return 1;
	}
	evt_archive_close_segment(a, r);
	/* A column that holds the id yet no event that decodes with it:
	 * an older copy that the run's filter shadows may exist. */
	return rc == 0 && sure > 0 ? FIND_STALE : rc;
}

/* Segments i .. i + m - 1's sequence numbers and listed sizes, for the
 * id index's view (evt_idx_segs): a lazy reader of the catalog decodes
 * them from it, without a copy of the listing. */
static void
seg_get_cb(void *arg, size_t i, size_t m, uint64_t *seqs, uint64_t *sizes)
{
	struct evt_archive *a = arg;
	if (a->lazy) {
		evt_cat_seg_sizes(&a->cat, (uint32_t)i, (uint32_t)m, seqs,
		    sizes);
		return;
	}
	for (size_t k = 0; k < m; k++) {
		seqs[k] = a->segs[i + k].seq;
		sizes[k] = a->segs[i + k].size;
	}
}

/* Opens the id index for a lookup of key: *v (NULL when the archive has
 * none or it is not to be used) and its candidates.  Returns their count
 * or a negative evt_err. */
static int
index_probe(struct evt_archive *a, uint64_t key, struct evt_idx_view **v,
    const struct evt_idx_cand **c)
{
	*v = NULL;
	*c = NULL;
	if (a->no_index || a->nruns == 0)
		return 0;
	struct evt_idx_segs segs = {a->nsegs, seg_get_cb, a};
	return evt_idx_view_open(a->dir, a->runs, a->nruns, &segs, key, v, c);
}

/* The next segment below i, newest first, that a lookup looks at: one
 * that no usable run of v covers or, unless own_only, one that a
 * candidate (c[*cj..nc), moved on) names; SIZE_MAX when none is left. */
static size_t
next_seg(const struct evt_idx_view *v, size_t i,
    const struct evt_idx_cand *c, size_t nc, size_t *cj, int own_only)
{
	size_t u = evt_idx_view_uncovered_below(v, i);
	if (own_only)
		return u;
	while (*cj < nc && c[*cj].seg >= i)
		(*cj)++;
	if (*cj < nc && (u == SIZE_MAX || c[*cj].seg > u))
		return c[*cj].seg;
	return u;
}

/* The receive time of an event by id; see archive.h. */
int
evt_archive_find_rx(struct evt_archive *a, const char *id, size_t len,
    int64_t *rx)
{
	struct evt_segr *r;
	struct evt_rec rec;
	size_t seg;
	uint64_t boff;
	if (len == 0 || len > EVT_REC_MAX_INTERN)
		return 0; /* (no event has an empty or longer id) */
	int rc = evt_archive_find(a, id, len, &r, &seg, &rec, &boff);
	if (rc == 1) {
		*rx = rec.rx_us;
		evt_archive_close_segment(a, r);
	}
	return rc;
}

/* Finds an event by id; see archive.h. */
int
evt_archive_find(struct evt_archive *a, const char *id, size_t len,
    struct evt_segr **out, size_t *seg, struct evt_rec *rec,
    uint64_t *blk_off)
{
	unsigned char *opened = calloc(a->nsegs + 1, 1);
	if (opened == NULL)
		return EVT_ERR_NOMEM;
	struct evt_idx_view *v;
	const struct evt_idx_cand *c;
	int nc = index_probe(a, evt_id_key(id, len), &v, &c);
	int rc = nc < 0 ? nc : 0;
	size_t cj = 0;	/* next candidate: they are newest segment first */
	/* Newest first (the latest copy wins): through the index where a
	 * run covers the segment, else through its own id filter; then, if
	 * none named it, by a scan of every such sealed segment whose
	 * filter does not check: a damaged filter may say "absent" for an
	 * id its segment holds (formats/segment.md, "Id filter").  Only
	 * the segments no run covers and those a candidate names are
	 * visited. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		cj = 0;
		for (size_t i = a->nsegs; rc == 0 && (i = next_seg(v, i, c,
		    nc > 0 ? (size_t)nc : 0, &cj, pass)) != SIZE_MAX;) {
			struct evt_segr *r;
			size_t k = evt_idx_view_covering(v, i);
			if (k != SIZE_MAX) {
				rc = find_covered(a, v, i, c, (size_t)nc, id,
				    len, out, rec, blk_off);
				if (rc == 1)
					*seg = i;
				if (rc == FIND_STALE) {
					/* The segments it covered are looked
					 * at again, on their own. */
					evt_idx_view_drop(v, k);
					rc = 0;
					i = a->nsegs;
					cj = 0;
				}
				continue;
			}
			/* Pass 1: the ones opened in pass 0 (2: not there);
			 * pass 0 skips those done before a restart. */
			if (pass == 1 ? !opened[i] : opened[i] == 2)
				continue;
			if (evt_archive_open_segment(a, i, &r) != 0)
				continue;
			opened[i] = 1;
			if (pass == 1) {
				if (!evt_segr_info(r)->sealed ||
				    evt_segr_check_filter(r) != EVT_ERR_CHECKSUM) {
					evt_segr_close(r);
					continue;
				}
				a->lost_unknown++;
				evt_segr_force_scan(r);
			}
			rc = evt_segr_find(r, id, len, rec, blk_off);
			if (rc == 1) {
				*out = r;
				*seg = i;
			} else {
				evt_archive_close_segment(a, r);
				if (pass == 0)
					opened[i] = 2;
			}
		}
	}
	evt_idx_view_close(v);
	free(opened);
	return rc;
}

/* The open writer. */
struct evt_segw *
evt_archive_writer(struct evt_archive *a)
{
	return a->w;
}

/*
 * Starts the state checkpoint of the open segment, segment i (ckpt.h),
 * from the table at the end of segment i - 1: empty at the archive's
 * start, else what the previous writer carried, else the checkpoint
 * stored in segment i - 1 (a new writer; a segment without a usable one
 * leaves the table not known until a STATES frame).  Derived data: no
 * memory for it costs the checkpoint, not the segment.
 */
/* The state checkpoint of a resumed segment (the newest): seeded from the
 * one before, then its frames so far read back. */
static void
ckpt_resume(struct evt_archive *a)
{
	struct evt_ckb *b = evt_segw_ckb(a->w);
	size_t i = a->nsegs - 1;
	if (b != NULL && (ckpt_seed(a, i) != 0 || evt_ckb_segment(b,
	    evt_archive_segment_path(a, i), segref(a, i)->seq) != 0))
		evt_ckb_unknown(b);
}

static int
ckpt_seed(struct evt_archive *a, size_t i)
{
	struct evt_ckb *b = evt_segw_ckb(a->w);
	if (b == NULL)
		return 0;
	int rc = 0;
	if (a->ckcarry != NULL)
		evt_ckb_swap(b, a->ckcarry);
	else if (i == 0)
		evt_ckb_start(b, segref(a, 0)->seq);
	else
		rc = evt_ckb_seed_segment(b, evt_archive_segment_path(a, i - 1),
		    segref(a, i - 1)->seq);
	evt_ckb_free(a->ckcarry);
	a->ckcarry = NULL;
	if (rc != 0)
		evt_ckb_unknown(b);
	return 0;
}

/* Creates the next segment, starting at receive time rx_us. */
static int
new_segment(struct evt_archive *a, int64_t rx_us)
{
	if (!a->have_uuid) {
		if (getrandom(a->uuid, 16, 0) != 16)
			return EVT_ERR_IO;
		a->uuid[6] = (uint8_t)((a->uuid[6] & 0x0f) | 0x40);
		a->uuid[8] = (uint8_t)((a->uuid[8] & 0x3f) | 0x80);
		a->have_uuid = 1;
	}
	uint64_t seq = a->nsegs ? a->segs[a->nsegs - 1].seq + 1 : 1;
	char name[32];
	evt_segment_name(seq, name, sizeof name);
	char *path = evt_path_join(a->dir, name);
	if (path == NULL)
		return EVT_ERR_NOMEM;
	if (a->nsegs == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct evt_segref *s = realloc(a->segs, cap * sizeof *s);
		if (s == NULL) {
			free(path);
			return EVT_ERR_NOMEM;
		}
		a->segs = s;
		a->cap = cap;
	}
	int rc = evt_segw_create(path, seq, a->uuid, rx_us, &a->opts.seg,
	    &a->w);
	if (rc != 0) {
		free(path);
		return rc;
	}
	a->segs[a->nsegs++] = (struct evt_segref){seq, path, 0};
	return ckpt_seed(a, a->nsegs - 1);
}

/* Appends a marker to the open segment and remembers a SESSION body. */
static int
append_marker(struct evt_archive *a, int kind, int64_t rx_us,
    const char *json, size_t len)
{
	int rc = evt_segw_marker(a->w, kind, rx_us, json, len);
	if (rc < 0)
		return note_foreign(a, rc);
	a->last_rx = rx_us;
	a->appended = 1;
	if (kind == EVT_K_SESSION && keep_session(a, json, len) != 0)
		return EVT_ERR_NOMEM;
	return rc;
}

/* Tells whether at least age microseconds passed from since to now,
 * without overflowing: since may come from any segment header. */
static int
aged(int64_t now, int64_t since, int64_t age)
{
	int64_t d;
	if (__builtin_sub_overflow(now, since, &d))
		return now > since;
	return d >= age;
}

/* Rotates when the open segment is full or old, and opens one if none. */
static int
prepare(struct evt_archive *a, int64_t rx_us)
{
	if (rx_us < EVT_RX_MIN || rx_us > EVT_RX_MAX)
		return EVT_ERR_ARG; /* before a segment is made for it */
	if (!(a->flags & EVT_AR_WRITE))
		return EVT_ERR_STATE;
	if (a->foreign)
		return EVT_ERR_FOREIGN;
	if (a->w != NULL && (evt_segw_size(a->w) >= a->opts.seg_bytes ||
	    aged(rx_us, evt_segw_created(a->w), a->opts.seg_age_us))) {
		int rc = evt_archive_rotate(a);
		if (rc != 0)
			return rc;
	}
	if (a->w == NULL) {
		int rc = new_segment(a, rx_us);
		if (rc != 0 || !a->have_carry)
			return rc;
		return append_marker(a, EVT_K_SESSION, rx_us,
		    (const char *)a->carry.p, a->carry.len);
	}
	return 0;
}

/* Appends a frame; see archive.h. */
int
evt_archive_frame(struct evt_archive *a, int64_t rx_us, const char *buf,
    size_t len)
{
	return evt_archive_frame_tok(a, rx_us, buf, len, NULL);
}

static int appended(struct evt_archive *, int64_t, int);

/* Appends a tokenized frame; see archive.h. */
int
evt_archive_frame_tok(struct evt_archive *a, int64_t rx_us, const char *buf,
    size_t len, const struct evt_jparser *jp)
{
	int rc = prepare(a, rx_us);
	if (rc != 0)
		return rc;
	return appended(a, rx_us, evt_segw_frame_tok(a->w, rx_us, buf, len,
	    jp));
}

/* Appends a MSG frame of flat events; see archive.h. */
int
evt_archive_msg_flat(struct evt_archive *a, int64_t rx_us,
    const struct evt_flat_msg *m)
{
	int rc = prepare(a, rx_us);
	if (rc != 0)
		return rc;
	return appended(a, rx_us, evt_segw_msg_flat(a->w, rx_us, m));
}

/* Notes a frame the segment writer took (kind, or its evt_err); returns
 * kind or the error. */
static int
appended(struct evt_archive *a, int64_t rx_us, int kind)
{
	if (kind < 0)
		return note_foreign(a, kind);
	a->last_rx = rx_us;
	a->appended = 1;
	size_t n;
	const char *id;
	if (kind == EVT_K_MSG && (id = evt_segw_last_id(a->w, &n)) != NULL) {
		memcpy(a->last_id, id, n);
		a->last_id_len = n;
	}
	return kind;
}

/* Appends a marker; see archive.h. */
int
evt_archive_marker(struct evt_archive *a, int kind, int64_t rx_us,
    const char *json, size_t len)
{
	int rc = prepare(a, rx_us);
	if (rc != 0)
		return rc;
	return append_marker(a, kind, rx_us, json, len);
}

/*
 * Takes the open segment's checkpoint builder (seeded with the table at
 * the end of the segment before) into a->ckcarry and closes the segment's
 * writer unsealed, so that a resume of its file seeds its checkpoint from
 * the carry (ckpt_seed) before reading its frames.
 */
static int
close_for_copy(struct evt_archive *a)
{
	struct evt_ckb *b = evt_segw_ckb(a->w);
	if (b != NULL) {
		evt_ckb_free(a->ckcarry);
		if ((a->ckcarry = evt_ckb_new()) == NULL)
			return EVT_ERR_NOMEM;
		evt_ckb_swap(a->ckcarry, b);
	}
	evt_segw_close(a->w);
	a->w = NULL;
	return 0;
}

/* Copies whole blocks into a new segment; see archive.h. */
int
evt_archive_copy_blocks(struct evt_archive *a, struct evt_segr *r,
    uint32_t n, uint32_t *copied, uint64_t *frames, uint64_t *events)
{
	uint32_t nb;
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	*copied = 0;
	if (n == 0 || n > nb)
		return 0;
	int rc = prepare(a, bl[0].first_rx);
	if (rc == 0 && evt_segw_size(a->w) > EVT_SEG_HDR_SIZE)
		rc = evt_archive_rotate(a);
	if (rc == 0 && a->w == NULL)
		rc = new_segment(a, bl[0].first_rx);
	if (rc != 0)
		return rc;
	const char *path = a->segs[a->nsegs - 1].path;
	if ((rc = close_for_copy(a)) != 0)
		return rc;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	rc = evt_segr_copy_blocks(r, n, fd, EVT_SEG_HDR_SIZE, copied);
	if (close(fd) != 0 && rc == 0)
		rc = EVT_ERR_IO;
	struct evt_seg_recovery rec;
	if (rc == 0 && (rc = evt_segw_resume(path, &a->opts.seg, &a->w,
	    &rec)) == 0 && rec.blocks != *copied)
		rc = EVT_ERR_CORRUPT; /* (the blocks checked when copied) */
	if (rc != 0)
		return rc;
	ckpt_resume(a);
	a->w_copied = 1;
	for (uint32_t i = 0; i < *copied; i++)
		*events += bl[i].nevent;
	if (*copied > 0)
		a->last_rx = bl[*copied - 1].last_rx;
	const uint64_t *f = evt_segw_frames(a->w);
	for (int k = 0; k <= EVT_K_MAX; k++)
		frames[k] += f[k];
	size_t len;
	const char *id = evt_segw_last_id(a->w, &len);
	if (id != NULL) {
		memcpy(a->last_id, id, len);
		a->last_id_len = len;
	}
	if ((id = evt_segw_session(a->w, &len)) != NULL &&
	    keep_session(a, id, len) != 0)
		return EVT_ERR_NOMEM;
	a->appended = 1;
	return 0;
}

/* Collects the keys of the last `want` events of MSG frames of one
 * segment into keys (a ring of want entries written from *got on);
 * returns 0 or a negative evt_err. */
static int
recent_keys_seg(struct evt_archive *a, const char *path, uint64_t *keys,
    size_t want, size_t *got)
{
	struct evt_segr *r;
	const struct evt_blkent *b;
	struct evt_rec re;
	uint64_t boff, key;
	uint32_t nb, i;
	size_t have = 0;
	int64_t from = INT64_MIN;
	int rc, in_msg = 0;

	if ((rc = evt_segr_open(path, a->errcb, a->arg, &r)) < 0)
		return rc == EVT_ERR_NOMEM ? rc : 0;	/* reported */
	if (evt_segr_info(r)->sealed)
		(void)evt_segr_load_index(r);	/* else: reported, scanned */
	/* The GUID columns of the last blocks hold the ids, where their
	 * flags say so: decoding the records for them (all of an unsealed
	 * segment, maybe large after a crash) cost a restart a second. */
	rc = evt_segr_newest_keys(r, keys, want, got);
	if (rc != EVT_ERR_AGAIN) {
		evt_segr_close(r);
		return rc;
	}
	*got = 0;
	/* Else decode, from the newest block from which on the segment
	 * holds want events (the directory counts events per block; a
	 * sealed segment's comes from its index, an unsealed one's from a
	 * scan). */
	if ((b = evt_segr_blocks(r, &nb)) != NULL) {
		for (i = nb; i-- > 0 && have < want;)
			have += b[i].nevent;
		if (have >= want)
			from = b[i + 1].first_rx;
	}
	rc = evt_segr_rewind(r, from);
	*got = 0;
	while (rc == 0 && (rc = evt_segr_next(r, &re, &boff)) == 1) {
		rc = 0;
		if (!evt_rec_msg_event(&re, &in_msg) || re.o == NULL ||
		    evt_rdec_id_key(evt_segr_decoder(r), &re, &key) != 0)
			continue;
		keys[*got % want] = key;
		(*got)++;
	}
	evt_segr_close(r);
	return rc < 0 ? rc : 0;
}

/* The newest events' id keys; see archive.h. */
int
evt_archive_recent_keys(struct evt_archive *a, uint64_t *keys, size_t max,
    size_t *n)
{
	uint64_t *ring;
	size_t got = 0, k, take;
	int rc = 0;

	*n = 0;
	if (max == 0)
		return 0;
	if ((ring = malloc(max * sizeof *ring)) == NULL)
		return EVT_ERR_NOMEM;
	/* Newest segment first; each one's keys go before those found so
	 * far, which move up. */
	for (size_t s = a->nsegs, seen = 0; s-- > 0 && *n < max && seen < 16;
	    seen++) {
		if ((rc = recent_keys_seg(a, seg_path(a, s), ring, max - *n,
		    &got)) < 0)
			break;
		take = got < max - *n ? got : max - *n;
		memmove(keys + take, keys, *n * sizeof *keys);
		/* The last `take` keys of the ring, oldest first. */
		for (k = 0; k < take; k++)
			keys[k] = ring[(got - take + k) % (max - *n)];
		*n += take;
	}
	free(ring);
	return rc;
}

/* The last event id; see archive.h. */
const char *
evt_archive_last_id(const struct evt_archive *a, size_t *len)
{
	*len = a->last_id_len;
	return a->last_id_len > 0 ? a->last_id : NULL;
}

/* The last SESSION marker body; see archive.h. */
const char *
evt_archive_session(const struct evt_archive *a, size_t *len)
{
	*len = a->have_session ? a->session.len : 0;
	return a->have_session ? (const char *)a->session.p : NULL;
}

/* Sets the SESSION body carried into new segments; see archive.h. */
int
evt_archive_set_carry(struct evt_archive *a, const char *json, size_t len)
{
	a->carry.len = 0;
	a->have_carry = 0;
	if (json == NULL)
		return 0;
	if (evt_buf_put(&a->carry, json, len) != 0)
		return EVT_ERR_NOMEM;
	a->have_carry = 1;
	return 0;
}

/* Writes the open block. */
int
evt_archive_flush(struct evt_archive *a)
{
	if (a->foreign)
		return EVT_ERR_FOREIGN;
	return a->w != NULL ? note_foreign(a, evt_segw_flush(a->w)) : 0;
}

/* fdatasyncs the open segment. */
int
evt_archive_sync(struct evt_archive *a)
{
	return a->w != NULL ? evt_segw_sync(a->w) : 0;
}

/*
 * Rewrites a just-sealed segment that was written in small blocks (a
 * recorder at a low rate closes blocks by age, for durability) into large
 * blocks, which compress better; the rename is atomic, so a crash leaves
 * either the old or the new file, and at worst a temporary file that the
 * next writer removes.
 */
static void
compact(struct evt_archive *a, const char *path, uint64_t seq)
{
	char name[64];
	snprintf(name, sizeof name, ".compact-%012" PRIu64 ".tmp", seq);
	char *tmp = evt_path_join(a->dir, name);
	if (tmp == NULL)
		return;
	unlink(tmp);
	struct evt_segw_opts o = a->opts.seg;
	o.block_bytes = 0; /* the default, large */
	if (o.fsync == EVT_FSYNC_ALWAYS)
		o.fsync = EVT_FSYNC_INTERVAL;
	struct evt_rewrite_stats st;
	int rc = evt_seg_rewrite(path, tmp, &o, NULL, NULL, NULL, &st);
	if (rc == 0 && st.problems == 0 && st.dropped == 0 &&
	    rename(tmp, path) == 0) {
		if (o.fsync != EVT_FSYNC_NEVER) {
			int fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				fsync(fd);
				close(fd);
			}
		}
	} else {
		unlink(tmp);
	}
	free(tmp);
}

/*
 * Rewrites the archive's catalog after the directory changed (a seal and
 * its index runs, a sweep, a close): derived data, so a failure costs
 * readers a listing, never an event.  The sealing thread does it at most
 * once a second (an import rotating every few milliseconds would list
 * the directory at every rotation); force: now (a lock holder's close).
 */
static void
refresh_catalog(struct evt_archive *a, int force)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (!force && a->cat_us != 0 && now - a->cat_us < 1000000)
		return;
	(void)evt_cat_update(a->dir);
	a->cat_us = now;
}

/* The sealing thread: seals the rotated segment, or sweeps. */
static void *
seal_main(void *arg)
{
	struct evt_archive *a = arg;
	/* The index is derived data: a run torn by a power loss fails its
	 * checksums and is rebuilt, so its files are not fsynced (import of
	 * thousands of small segments spent most of its time there). */
	int sync = 0;
	if (a->sweep != NULL) {
		for (size_t i = a->nsweep; i-- > 0;)
			a->swept += (size_t)seal_leftover(a, a->sweep[i]);
		a->seal_rc = 0;
		/* The index is derived data: failing to keep it up costs
		 * lookups time, never events; the next writer catches up. */
		if (a->catch_up && !a->no_index)
			(void)evt_idx_catch_up(a->dir, 0, 0, sync, NULL, NULL);
		if (a->catch_up)
			(void)evt_ru_catch_up(a->dir, 0, NULL, NULL);
		a->catch_up = 0;
		refresh_catalog(a, 0);
		return NULL;
	}
	a->seal_rc = evt_segw_seal(a->to_seal);
	if (a->seal_rc == 0 && a->compact)
		compact(a, a->seal_path, a->seal_seq);
	if (a->seal_rc == 0)
		(void)evt_ru_add(a->dir, a->seal_seq, NULL, NULL);
	if (a->seal_rc == 0 && !a->no_index) {
		(void)evt_idx_add(a->dir, a->seal_seq, sync, NULL, NULL);
		/* Its batches were freed: give the pages back, so that an
		 * idle recorder's resident size stays where it was. */
		malloc_trim(0);
	}
	if (a->seal_rc == 0)
		refresh_catalog(a, 0);
	return NULL;
}

/* Waits for the sealing thread; returns its result. */
static int
seal_join(struct evt_archive *a)
{
	int rc = 0;
	if (a->sealing) {
		pthread_join(a->sealer, NULL);
		a->sealing = 0;
		rc = a->seal_rc;
		for (size_t i = 0; i < a->nsegs; i++)
			a->segs[i].size = EVT_SIZE_UNKNOWN; /* sealed, swept */
	}
	if (a->sweep != NULL) {
		if (a->swept > 0)
			warnf(a, "%s: sealed %zu older segment(s) left unsealed",
			    a->dir, a->swept);
		for (size_t i = 0; i < a->nsweep; i++)
			free(a->sweep[i]);
		free(a->sweep);
		a->sweep = NULL;
		a->nsweep = a->swept = 0;
	}
	return rc;
}

/* Makes every record appended so far durable (see archive.h). */
int
evt_archive_durable(struct evt_archive *a)
{
	int rc = seal_join(a), rc2;

	if (a->foreign)
		return EVT_ERR_FOREIGN;
	if (a->w == NULL)
		return rc;
	rc2 = note_foreign(a, evt_segw_flush(a->w));
	if (rc2 == 0 && a->opts.seg.fsync != EVT_FSYNC_NEVER)
		rc2 = evt_segw_sync(a->w);
	return rc2 != 0 ? rc2 : rc;
}

/* Seals the open segment (on a thread; see archive.h). */
int
evt_archive_rotate(struct evt_archive *a)
{
	int rc = seal_join(a);
	if (a->w == NULL)
		return rc;
	if (a->foreign) {
		/* Not ours any more: neither sealed nor written. */
		evt_segw_close(a->w);
		a->w = NULL;
		return EVT_ERR_FOREIGN;
	}
	/* The table goes on into the next segment, its checkpoint packed
	 * for the seal. */
	evt_ckb_free(a->ckcarry);
	a->ckcarry = evt_segw_take_ckb(a->w);
	a->to_seal = a->w;
	a->w = NULL;
	free(a->seal_path);
	a->seal_path = strdup(evt_segw_path(a->to_seal));
	a->seal_seq = a->segs[a->nsegs - 1].seq;
	a->compact = a->seal_path != NULL && !a->w_copied &&
	    evt_segw_small_blocks(a->to_seal);
	a->w_copied = 0;
	if (pthread_create(&a->sealer, NULL, seal_main, a) == 0) {
		a->sealing = 1;
		return rc;
	}
	seal_main(a); /* no thread: seal here */
	return rc != 0 ? rc : a->seal_rc;
}

/* Periodic duty; see archive.h. */
int
evt_archive_tick(struct evt_archive *a, int64_t now_us)
{
	if (a->w == NULL)
		return 0;
	int rc = check_foreign(a);
	if (rc != 0)
		return rc;
	if (evt_segw_block_bytes(a->w) > 0 &&
	    aged(now_us, evt_segw_block_first_rx(a->w), a->opts.block_age_us))
		rc = note_foreign(a, evt_segw_flush(a->w));
	if (rc == 0 && a->opts.seg.fsync == EVT_FSYNC_INTERVAL &&
	    aged(now_us, a->last_sync_us, a->opts.sync_interval_us)) {
		rc = evt_segw_sync(a->w);
		a->last_sync_us = now_us;
	}
	return rc;
}

/* Why the last frame became raw. */
int
evt_archive_raw_reason(const struct evt_archive *a, size_t *off)
{
	*off = 0;
	return a->w != NULL ? evt_segw_raw_reason(a->w, off) : 0;
}

/* Closes the archive. */
int
evt_archive_close(struct evt_archive *a)
{
	if (a == NULL)
		return 0;
	/* The carried SESSION body goes into the last block too, so that
	 * the next open finds it without scanning the sealed segment. */
	int rc0 = 0;
	if (a->w != NULL && a->have_carry && a->appended && !a->foreign)
		rc0 = append_marker(a, EVT_K_SESSION, a->last_rx,
		    (const char *)a->carry.p, a->carry.len);
	int rc = evt_archive_rotate(a);
	if (rc == 0 && rc0 < 0)
		rc = rc0;
	int rc2 = seal_join(a);
	if (rc == 0)
		rc = rc2;
	if (rc == 0 && a->foreign)
		rc = EVT_ERR_FOREIGN;
	/* What a lock holder changed (segments written, sealed, pruned,
	 * repaired) goes into the catalog; another writer's archive is
	 * left alone. */
	if (a->opened && a->dirfd >= 0 && !a->foreign)
		refresh_catalog(a, 1);
	evt_cat_free(&a->cat);
	for (size_t i = 0; a->paths == NULL && i < a->nsegs; i++)
		free(a->segs[i].path);
	free(a->paths);
	free(a->segs);
	for (size_t i = 0; i < a->nruns; i++)
		free(a->runs[i]);
	free(a->runs);
	free(a->seal_path);
	evt_buf_free(&a->session);
	evt_buf_free(&a->carry);
	evt_ckb_free(a->ckcarry);
	if (a->lockfd >= 0)
		close(a->lockfd);
	if (a->dirfd >= 0)
		close(a->dirfd);
	free(a->dir);
	free(a);
	return rc;
}

/* Deletes old segments; see archive.h. */
int
evt_archive_prune(struct evt_archive *a, uint64_t max_bytes,
    int64_t max_age_us, int64_t now_us, uint64_t *freed)
{
	uint64_t total = 0;
	for (size_t i = 0; i < a->nsegs; i++)
		total += seg_size(a, i);
	*freed = 0;
	/* Older than now - max_age; past the int64 range, nothing is. */
	int64_t cut;
	int cut_ok = !__builtin_sub_overflow(now_us, max_age_us, &cut);
	size_t del = 0;
	while (del + 1 < a->nsegs) {
		struct evt_segref *s = &a->segs[del];
		int over = max_bytes != 0 && total > max_bytes;
		int old = 0;
		struct evt_segr *r;
		if (evt_segr_open(s->path, NULL, NULL, &r) != 0)
			break; /* unreadable: leave it to verify/repair */
		const struct evt_seg_info *si = evt_segr_info(r);
		int sealed = si->sealed;
		if (max_age_us != 0 && sealed)
			old = cut_ok ? si->last_rx < cut : max_age_us < 0;
		evt_segr_close(r);
		if (!sealed || (!over && !old))
			break;
		if (unlink(s->path) != 0)
			return EVT_ERR_IO;
		total -= s->size;
		*freed += s->size;
		free(s->path);
		del++;
	}
	if (del > 0)	/* segs may be NULL: an empty archive */
		memmove(a->segs, a->segs + del, (a->nsegs - del) *
		    sizeof *a->segs);
	a->nsegs -= del;
	/* Runs whose segments are all gone go too (lookups ignore entries
	 * of segments below the lowest one meanwhile). */
	if (del > 0) {
		(void)evt_idx_prune(a->dir, 0, NULL, NULL);
		(void)evt_ru_catch_up(a->dir, 0, NULL, NULL);
		/* Readers list the directory until it is rewritten: the
		 * recorder's hourly retention would wait for a seal. */
		(void)evt_cat_update(a->dir);
	}
	return (int)del;
}

/* Warning callback of the index maintenance, for the caller's thread. */
static void
idx_warn_cb(void *arg, const char *msg)
{
	struct evt_archive *a = arg;
	warnf(a, "%s", msg);
}

/* Rebuilds the id index; see archive.h. */
int
evt_archive_reindex(struct evt_archive *a)
{
	if (!(a->flags & (EVT_AR_WRITE | EVT_AR_LOCK)))
		return EVT_ERR_STATE;
	int rc = seal_join(a);
	if (rc != 0)
		return rc;
	rc = evt_idx_catch_up(a->dir, 0, 1, 0, idx_warn_cb, a);
	int rr = evt_ru_catch_up(a->dir, 1, idx_warn_cb, a);
	return rc != 0 ? rc : rr;
}

/* Whether out may be written (see archive.h). */
int
evt_out_check(const char *out)
{
	struct stat sb;
	if (stat(out, &sb) != 0)
		return errno == ENOENT ? 0 : EVT_ERR_IO;
	DIR *d = S_ISDIR(sb.st_mode) ? opendir(out) : NULL;
	struct dirent *e;
	int empty = d != NULL;
	while (empty && (e = readdir(d)) != NULL)
		empty = strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0;
	if (d != NULL)
		closedir(d);
	return empty ? 0 : EVT_ERR_EXISTS;
}

/* fsyncs directory path; 0 or EVT_ERR_IO. */
static int
fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? 0 : EVT_ERR_IO;
}

/* The directory holding path (trailing slashes aside) into buf: "." for
 * a bare name. */
static void
parent_dir(const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", path);
	for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
		buf[n - 1] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash == NULL)
		snprintf(buf, cap, ".");
	else
		slash[slash == buf] = '\0';
}

/* Syncs tmp, renames it to out, syncs out's parent (see archive.h). */
int
evt_out_publish(const char *tmp, const char *out)
{
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	int rc = syncfs(fd);
	int err = errno;
	close(fd);
	errno = err;
	if (rc != 0)
		return EVT_ERR_IO;
	if (rename(tmp, out) != 0)
		return errno == ENOTEMPTY || errno == EEXIST ? EVT_ERR_EXISTS :
		    EVT_ERR_IO;
	char parent[PATH_MAX];
	parent_dir(out, parent, sizeof parent);
	return fsync_dir(parent);
}

/* The file a builder writes into its temporary directory, holding its
 * process id (formats/archive.md, "Cut archives", Leftovers). */
#define OUT_MARK ".evtape-building"

/* Holds tmp for its builder until it is published or removed (see
 * archive.h): marks it as a builder's (OUT_MARK, the builder's pid), then
 * takes an OFD read lock on the directory, which the archive's own flock
 * (on another open file) does not conflict with. */
int
evt_out_hold(const char *tmp)
{
	char *mp = evt_path_join(tmp, OUT_MARK);
	int mfd = mp != NULL ? open(mp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0644) : -1;
	if (mfd >= 0) {
		char t[32];
		int n = snprintf(t, sizeof t, "%ld\n", (long)getpid());
		if (write(mfd, t, (size_t)n) != n)
			unlink(mp); /* no mark: never swept */
		close(mfd);
	}
	free(mp);
	int fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Removes tmp's mark before its archive is closed (see archive.h). */
void
evt_out_unmark(const char *tmp)
{
	char *mp = evt_path_join(tmp, OUT_MARK);
	if (mp != NULL)
		unlink(mp);
	free(mp);
}

/* The decimal number of n digits at s (n > 0), or -1 past a pid_t. */
static long
out_pid(const char *s, size_t n)
{
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (v > (INT_MAX - 9) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Whether name is one of the temporary directories of evt_out_hold's
 * users, and its builder's pid: "NAME.tmp-PID-XXXXXX" (cut; mkdtemp's
 * six letters or digits) or ".NAME.merge-PID.tmp" (merge). */
static int
out_tmp_name(const char *name, long *pid)
{
	size_t n = strlen(name);
	const char *x = n > 7 ? name + n - 7 : NULL; /* "-XXXXXX" */
	if (x != NULL && x[0] == '-') {
		for (int i = 1; i < 7; i++)
			if (!isalnum((unsigned char)x[i]))
				return 0;
		size_t nd = 0;
		while (x - nd > name && isdigit((unsigned char)x[-1 -
		    (long)nd]))
			nd++;
		const char *d = x - nd;
		if (nd == 0 || d - name < 6 || strncmp(d - 5, ".tmp-", 5) != 0)
			return 0;
		*pid = out_pid(d, nd);
		return 1;
	}
	const char *m = name[0] == '.' ? strstr(name + 1, ".merge-") : NULL;
	if (m == NULL || m == name + 1 || n < 4 ||
	    strcmp(name + n - 4, ".tmp") != 0)
		return 0;
	const char *d = m + 7;
	size_t nd = strspn(d, "0123456789");
	if (nd == 0 || d + nd != name + n - 4)
		return 0;
	*pid = out_pid(d, nd);
	return 1;
}

/* Whether directory path holds a regular OUT_MARK naming pid, and no
 * process pid runs on this host (it may be a later one that reused the
 * number: then the directory is left, never taken for dead). */
static int
out_mark_dead(const char *path, long pid)
{
	char *mp = evt_path_join(path, OUT_MARK);
	int fd = mp != NULL ? open(mp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	free(mp);
	char t[32], want[32];
	struct stat sb;
	ssize_t k = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ?
	    read(fd, t, sizeof t) : -1;
	if (fd >= 0)
		close(fd);
	int n = snprintf(want, sizeof want, "%ld\n", pid);
	if (pid <= 0 || k != n || memcmp(t, want, (size_t)n) != 0)
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/*
 * Whether directory path is a dead builder's: it holds a LOCK file (the
 * archive was opened in it), its mark naming the builder in its name,
 * which no longer runs, no evt_out_hold lock and no writer's flock.
 * On 1, *fd keeps the directory flock'ed for the removal.
 */
static int
out_tmp_dead(const char *path, long pid, int *fd)
{
	char *lp = evt_path_join(path, "LOCK");
	struct stat sb;
	int has_lock = lp != NULL && lstat(lp, &sb) == 0 && S_ISREG(sb.st_mode);
	free(lp);
	*fd = has_lock && out_mark_dead(path, pid) ? open(path, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (*fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(*fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK &&
	    flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return 1;
	close(*fd);
	*fd = -1;
	return 0;
}

/* Removes what killed cuts and merges left beside out (see archive.h). */
int
evt_out_sweep(const char *out, evt_warn_cb warn, void *arg)
{
	char parent[PATH_MAX];
	parent_dir(out, parent, sizeof parent);
	DIR *d = opendir(parent);
	struct dirent *e;
	int n = 0, fd;
	while (d != NULL && (e = readdir(d)) != NULL) {
		long pid;
		if (!out_tmp_name(e->d_name, &pid))
			continue;
		char *p = evt_path_join(parent, e->d_name);
		if (p != NULL && out_tmp_dead(p, pid, &fd)) {
			evt_out_remove(p);
			close(fd);
			n++;
			if (warn != NULL) {
				char m[PATH_MAX + 128];
				snprintf(m, sizeof m, "%s: removed: the temporary "
				    "directory of a cut or merge that did not "
				    "finish (killed)", p);
				warn(arg, m);
			}
		}
		free(p);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

/* Deletes tmp's files, then tmp (see archive.h). */
void
evt_out_remove(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p = evt_path_join(tmp, e->d_name);
		if (p != NULL)
			unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(tmp);
}
