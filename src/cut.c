/*
 * cut.c: a window of an archive as a new, self-contained archive (cut.h,
 * formats/archive.md "Cut archives").
 *
 * The cut is built in OUT.tmp-PID-XXXXXX beside OUT and renamed to OUT only
 * once it is sealed and synced, so a cut killed at any moment leaves no
 * OUT at all, only a directory whose name says it is temporary.  Its
 * first three records, all received at the window's start, make it stand
 * alone: a SESSION marker whose event is "cut" (where it came from), a
 * CONFIG marker with every name the source's markers give as of the
 * start (the rule of formats/records.md, "Names from CONFIG markers",
 * through cfgrest.c's merge), and a STATES frame marked as synthesised
 * holding the state table the cursor derives at the start (state.c).
 * Then every frame and marker of the window follows, read by the frame
 * reader (a MSG frame keeps its selected events together) and written by
 * the archive's writer, which re-encodes it; or, for an unfiltered cut,
 * the blocks of a source segment that lie wholly in the window from its
 * first block on, copied as they are (copy_blocks).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/cfgrest.h"
#include "evtape/cursor.h"
#include "evtape/cut.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/merge.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/select.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"

/* One cut in progress. */
struct cut {
	const struct evt_cut_opts *o;
	struct evt_cut_stats *st;
	struct evt_buf *why;
	struct evt_archive *src, *dst;
	char tmp[PATH_MAX];		/* the directory being built */
	int hold;			/* evt_out_hold's, or -1 */
	struct evt_cfgrest **cfg;	/* the source's CONFIG markers */
	int64_t *cfgrx;			/* their receive times */
	size_t ncfg, cfgcap;
	struct evt_buf b;		/* a body or frame being made */
	struct evt_buf snap;		/* the state snapshot frame */
	/* --site: the site of the records read (site), of the records
	 * written (wsite, of the last SESSION marker written; NUL-
	 * terminated), and the site's last SESSION marker read (mk) */
	struct evt_siter site;
	struct evt_buf wsite, mk;
};

/* Appends a sentence to why; returns rc. */
static int say(struct cut *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
say(struct cut *c, int rc, const char *fmt, ...)
{
	char m[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	if (k > 0)
		evt_buf_put(c->why, m, (size_t)k < sizeof m ? (size_t)k :
		    sizeof m - 1);
	return rc;
}

/* Whether OUT may be written: absent, or an empty directory (which the
 * rename replaces). */
static int
check_out(struct cut *c)
{
	int rc = evt_out_check(c->o->out);
	evt_out_sweep(c->o->out, c->o->warn, c->o->arg);
	if (rc == EVT_ERR_IO)
		return say(c, rc, "%s: %s", c->o->out, strerror(errno));
	return rc == 0 ? 0 : say(c, rc, "%s: exists and is not an empty "
	    "directory; cut writes a new archive, give a new name",
	    c->o->out);
}

/* Appends a JSON string member "key":"s" (s escaped), a comma before it
 * unless first. */
static int
put_str(struct evt_buf *b, int first, const char *key, const char *s)
{
	int rc = first ? 0 : evt_buf_putc(b, ',');
	rc |= evt_json_put_string(b, key, strlen(key));
	rc |= evt_buf_putc(b, ':');
	rc |= evt_json_put_string(b, s, strlen(s));
	return rc ? EVT_ERR_NOMEM : 0;
}

/* Appends "key":[...] of the n strings l. */
static int
put_list(struct evt_buf *b, const char *key, const char **l, size_t n)
{
	int rc = evt_buf_putc(b, ',');
	rc |= evt_json_put_string(b, key, strlen(key));
	rc |= evt_buf_put(b, ":[", 2);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			rc |= evt_buf_putc(b, ',');
		rc |= evt_json_put_string(b, l[i], strlen(l[i]));
	}
	rc |= evt_buf_putc(b, ']');
	return rc ? EVT_ERR_NOMEM : 0;
}

/* Formats receive time us as an ISO text into t. */
static const char *
iso(int64_t us, char t[28])
{
	evt_time_format_us(us, t);
	return t;
}

/* Writes the SESSION marker saying where the cut came from
 * (formats/records.md, "Cut provenance"). */
static int
put_origin(struct cut *c)
{
	const struct evt_sel *s = c->o->sel;
	char path[PATH_MAX], id[40], t[28];
	if (realpath(c->o->src, path) == NULL)
		snprintf(path, sizeof path, "%s", c->o->src);
	id[0] = '\0';
	size_t n;
	evt_archive_segments(c->src, &n);
	struct evt_segr *r;
	for (size_t i = 0; i < n && id[0] == '\0'; i++) {
		if (evt_archive_open_segment(c->src, i, &r) != 0)
			continue;
		const uint8_t *u = evt_segr_info(r)->uuid;
		for (int k = 0, o = 0; k < 16; k++)
			o += snprintf(id + o, sizeof id - (size_t)o, "%s%02x",
			    k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "",
			    u[k]);
		evt_archive_close_segment(c->src, r);
	}
	char *gw = evt_merge_archive_gateway(c->src);
	if (gw == NULL)
		return EVT_ERR_NOMEM;
	struct evt_buf *b = &c->b;
	b->len = 0;
	int rc = evt_buf_putc(b, '{');
	rc |= put_str(b, 1, "event", "cut");
	/* gw is JSON string text already (escapes kept): put as it is. */
	rc |= evt_buf_put(b, ",\"gateway\":\"", 12);
	rc |= evt_buf_put(b, gw, strlen(gw));
	rc |= evt_buf_putc(b, '"');
	free(gw);
	rc |= put_str(b, 0, "cutFrom", path);
	rc |= put_str(b, 0, "archive", id);
	rc |= put_str(b, 0, "from", iso(s->from, t));
	rc |= put_str(b, 0, "to", iso(s->to, t));
	rc |= put_list(b, "sources", s->sources, s->nsources);
	rc |= put_list(b, "types", s->types, s->ntypes);
	if (s->nsites > 0 && c->wsite.len > 0) /* (one_site's: the site) */
		rc |= put_str(b, 0, "site", (const char *)c->wsite.p);
	rc |= put_str(b, 0, "cutAt", iso(evt_wall_us(), t));
	rc |= put_str(b, 0, "recorder", "evtool cut");
	rc |= evt_buf_putc(b, '}');
	if (rc != 0)
		return EVT_ERR_NOMEM;
	return evt_archive_marker(c->dst, EVT_K_SESSION, s->from,
	    (const char *)b->p, b->len);
}

/* Keeps one CONFIG marker of the source (evt_names_configs callback). */
static int
config_cb(void *arg, int64_t rx, const char *body, size_t len)
{
	struct cut *c = arg;
	struct evt_cfgrest *p;
	int rc = evt_cfgrest_new(body, len, &p);
	if (rc == EVT_ERR_JSON)
		return 0; /* not an object: no names (names.c passes it over) */
	if (rc != 0)
		return rc;
	if (c->ncfg == c->cfgcap) {
		size_t cap = c->cfgcap ? 2 * c->cfgcap : 16;
		struct evt_cfgrest **m = realloc(c->cfg, cap * sizeof *m);
		int64_t *x = m != NULL ? realloc(c->cfgrx, cap * sizeof *x) :
		    NULL;
		if (m != NULL)
			c->cfg = m;
		if (x == NULL) {
			evt_cfgrest_free(p);
			return EVT_ERR_NOMEM;
		}
		c->cfgrx = x;
		c->cfgcap = cap;
	}
	c->cfg[c->ncfg] = p;
	c->cfgrx[c->ncfg++] = rx;
	return 0;
}

/*
 * Writes the CONFIG marker of the names in force at the start: every item
 * any marker lists, as of the last marker received before the window (the
 * first one when none is), marked "evtapeSynthesised".  With the markers
 * of the window copied after it, every event of the cut gets the name it
 * has in the source (formats/records.md, "Synthesised CONFIG snapshots").
 */
static int
put_names(struct cut *c)
{
	int rc = evt_names_configs(c->src, c->o->src, NULL, NULL, config_cb,
	    c);
	if (rc != 0 || c->ncfg == 0)
		return rc;
	size_t at = 0;
	for (size_t i = 0; i < c->ncfg; i++)
		if (c->cfgrx[i] < c->o->sel->from)
			at = i;
	struct evt_cfgrest *m;
	if ((rc = evt_cfgrest_merge(c->cfg, c->ncfg, at, &m)) != 0)
		return rc;
	size_t len;
	const char *body = evt_cfgrest_body(m, &len);
	struct evt_buf *b = &c->b;
	b->len = 0;
	rc = evt_buf_put(b, "{\"evtapeSynthesised\":\"cut\"", 26);
	if (len > 2)
		rc |= evt_buf_putc(b, ',');
	rc |= evt_buf_put(b, body + 1, len - 1); /* its members and '}' */
	if (rc == 0)
		rc = evt_archive_marker(c->dst, EVT_K_CONFIG,
		    c->o->sel->from, (const char *)b->p, b->len);
	else
		rc = EVT_ERR_NOMEM;
	evt_cfgrest_free(m);
	c->st->names = c->ncfg;
	return rc;
}

/* Makes site the site of the records written; 0 or EVT_ERR_NOMEM. */
static int
set_wsite(struct cut *c, const char *site)
{
	c->wsite.len = 0;
	if (evt_buf_put(&c->wsite, site, strlen(site) + 1) != 0)
		return EVT_ERR_NOMEM;
	c->wsite.len--; /* (the NUL kept after it) */
	return 0;
}

/*
 * --site: a cut is one site's (its state snapshot is one site's table:
 * two sites may have the same source ids).  With the sites t met,
 * selected: keeps the one selected as the site of the cut's first
 * records (wsite); several is EVT_ERR_ARG, said.
 */
static int
one_site(struct cut *c, const struct evt_siter *t)
{
	if (c->o->sel->nsites == 0)
		return 0;
	for (size_t i = 0; i < t->nmet; i++) {
		if (!t->hit[i] || (c->wsite.len > 0 &&
		    strcmp((const char *)c->wsite.p, t->met[i]) == 0))
			continue;
		if (c->wsite.len > 0)
			return say(c, EVT_ERR_ARG, "%s: --site selects several "
			    "sites (\"%s\", \"%s\"); a cut is one site's: give "
			    "one", c->o->src, (const char *)c->wsite.p,
			    t->met[i]);
		if (set_wsite(c, t->met[i]) != 0)
			return EVT_ERR_NOMEM;
	}
	return 0;
}

/*
 * --site: before a record of the site read (c->site) that is not the
 * site of the records written, copies the source's SESSION marker that
 * named it (at the record's receive time), so that every record of the
 * cut keeps its site: the window may begin after that marker.
 */
static int
site_marker(struct cut *c, int64_t rx)
{
	const char *now = (const char *)c->site.site.p;
	if (c->o->sel->nsites == 0 || (c->wsite.len > 0 && strcmp(now,
	    (const char *)c->wsite.p) == 0) || c->mk.len == 0)
		return 0;
	if (set_wsite(c, now) != 0)
		return EVT_ERR_NOMEM;
	c->st->markers++;
	return evt_archive_marker(c->dst, EVT_K_SESSION, rx,
	    (const char *)c->mk.p, c->mk.len);
}

/*
 * Makes the synthesised state snapshot: the state table of the source
 * as of the window's start (frames received before it), the entries of
 * the selected sources, as a STATES frame whose envelope member
 * EVT_CUT_SNAPSHOT_KEY says it was not received (formats/records.md,
 * "Synthesised state snapshots").  Nothing when the table is empty.
 */
static int
make_state(struct cut *c)
{
	struct evt_cur *cur;
	int rc = evt_cur_open(c->o->src, c->o->errcb, c->o->warn, c->o->arg,
	    &cur);
	if (rc != 0)
		return rc;
	struct evt_state *s = evt_state_new();
	evt_cur_sites(cur, c->o->sel);
	if (s == NULL || (rc = evt_cur_state_at(cur, c->o->sel->from, s)) <
	    0 || (rc = one_site(c, evt_cur_siter(cur))) != 0) {
		evt_state_free(s);
		evt_cur_close(cur);
		return s == NULL ? EVT_ERR_NOMEM : rc;
	}
	const char *const *tx;
	const size_t *lens;
	size_t n = evt_state_list(s, &tx, &lens);
	char t[28];
	struct evt_buf *b = &c->snap;
	b->len = 0;
	rc = evt_buf_put(b, "{\"" EVT_CUT_SNAPSHOT_KEY "\":{", 19);
	rc |= put_str(b, 1, "reason", "cut");
	rc |= put_str(b, 0, "at", iso(c->o->sel->from, t));
	rc |= evt_buf_put(b, "},\"states\":[", 12);
	for (size_t k = 0; k < n; k++) {
		if (!evt_sel_source(c->o->sel, evt_state_source(s, k)))
			continue;
		if (c->st->states++ > 0)
			rc |= evt_buf_putc(b, ',');
		rc |= evt_buf_put(b, tx[k], lens[k]);
	}
	rc |= evt_buf_put(b, "]}", 2);
	evt_state_free(s);
	evt_cur_close(cur);
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* Writes the snapshot make_state made (none when it is empty). */
static int
put_state(struct cut *c)
{
	if (c->st->states == 0)
		return 0;
	int rc = evt_archive_frame(c->dst, c->o->sel->from,
	    (const char *)c->snap.p, c->snap.len);
	return rc < 0 ? rc : rc == EVT_K_STATES ? 0 : EVT_ERR_CORRUPT;
}

/* Keeps the items of a frame that pass the selection's sources and
 * types (a filtered cut). */
static int
keep_cb(void *arg, int frame_kind, uint32_t kept,
    struct evt_rdec *d, const struct evt_rec *rec)
{
	return rec->kind == EVT_K_EVENT && evt_sel_event(arg, d, rec);
}

/* Copies one frame or marker of the window; a filtered cut passes over
 * MSG frames none of whose events it selects. */
static int
copy_frame(struct cut *c, const struct evt_frame *fm, int filtered)
{
	const char *t = (const char *)fm->text.p;
	if (c->o->sel->nsites > 0) {
		/* (c->site has taken a SESSION marker's site already.) */
		if (!c->site.on)
			return 0;
		if (fm->kind == EVT_K_SESSION) {
			c->mk.len = 0;	/* the selected site's last marker */
			if (evt_buf_put(&c->mk, t, fm->text.len) != 0)
				return EVT_ERR_NOMEM;
			c->wsite.len = 0; /* (written below when in the
					     window) */
		}
		if (!evt_sel_time(c->o->sel, fm->rx_us))
			return 0;
		/* (A marker of the window: this one, written there.) */
		int rc = site_marker(c, fm->rx_us);
		if (rc != 0 || fm->kind == EVT_K_SESSION)
			return rc;
	}
	if (fm->kind >= EVT_K_SESSION) {
		c->st->markers++;
		return evt_archive_marker(c->dst, fm->kind, fm->rx_us, t,
		    fm->text.len);
	}
	if (fm->kind == EVT_K_MSG && filtered && fm->kept == 0)
		return 0;
	int rc = evt_archive_frame(c->dst, fm->rx_us, t, fm->text.len);
	if (rc < 0)
		return rc;
	c->st->frames++;
	if (fm->kind == EVT_K_MSG)
		c->st->events += fm->kept;
	return 0;
}

/* Opens segment i of the source positioned at the window's start; NULL
 * when it cannot be opened (reported) or holds nothing of the window. */
static struct evt_segr *
open_window(struct cut *c, size_t i)
{
	const struct evt_sel *s = c->o->sel;
	struct evt_segr *r;
	if (evt_archive_segment_outside(c->src, i, s->from, s->to) ||
	    evt_archive_open_segment(c->src, i, &r) != 0)
		return NULL;
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed && si->nrecords > 0 && (si->last_rx < s->from ||
	    si->first_rx >= s->to)) {
		evt_archive_close_segment(c->src, r);
		return NULL;
	}
	/* (--site: from the SESSION marker naming the site, the segment's
	 * first record.) */
	evt_segr_rewind(r, s->nsites > 0 ? INT64_MIN : s->from);
	evt_segr_set_end(r, s->to); /* (it would render them, then drop) */
	return r;
}

/* Whether whole blocks are copied: not under EVTAPE_CUT_REENCODE=1 (the
 * baseline of tests and benchmarks: every frame re-encoded). */
static int
copy_on(void)
{
	const char *v = getenv("EVTAPE_CUT_REENCODE");
	return v == NULL || strcmp(v, "1") != 0;
}

/*
 * Copies the blocks at the start of source segment r that lie wholly in
 * the window, as they are, into a segment of the cut of their own
 * (evt_archive_copy_blocks): of an unfiltered cut every record of such a
 * block belongs to the cut.  *next: the first block of r left to read
 * frame by frame (0: none was copied).
 */
static int
copy_blocks(struct cut *c, struct evt_segr *r, uint32_t *next)
{
	const struct evt_sel *s = c->o->sel;
	uint64_t f[EVT_K_MAX + 1] = {0};
	*next = 0;
	uint32_t n = evt_segr_copy_run(r, s->from, s->to);
	if (n == 0)
		return 0;
	int rc = evt_archive_copy_blocks(c->dst, r, n, next, f,
	    &c->st->events);
	if (rc != 0)
		return say(c, rc, "%s: copying blocks: %s", c->tmp,
		    evt_strerror(rc));
	c->st->copied += *next;
	c->st->frames += f[EVT_K_MSG] + f[EVT_K_STATES] + f[EVT_K_JSON] +
	    f[EVT_K_RAW];
	c->st->markers += f[EVT_K_SESSION] + f[EVT_K_GAP] + f[EVT_K_CONFIG];
	return 0;
}

/* --site: takes the site of a SESSION marker fm; a second selected site
 * is EVT_ERR_ARG (one_site). */
static int
site_frame(struct cut *c, const struct evt_frame *fm)
{
	if (c->o->sel->nsites == 0 || fm->kind != EVT_K_SESSION)
		return 0;
	if (evt_siter_marker(&c->site, (const char *)fm->text.p,
	    fm->text.len) != 0)
		return EVT_ERR_NOMEM;
	return evt_siter_count(&c->site, 1) > 1 ? one_site(c, &c->site) : 0;
}

/* Copies the frames and markers of the window, segment by segment: whole
 * blocks where they can be, else frame by frame. */
static int
copy_window(struct cut *c)
{
	const struct evt_sel *s = c->o->sel;
	int filtered = s->nsources > 0 || s->ntypes > 0, rc = 0;
	/* (--site: no block is the window's whole, and every SESSION
	 * marker must be read.) */
	filtered |= s->nsites > 0;
	int whole = !filtered && copy_on();
	size_t n;
	const struct evt_segref *segs = evt_archive_segments(c->src, &n);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		struct evt_segr *r = open_window(c, i);
		if (r == NULL)
			continue;
		uint32_t next = 0, nb;
		if (whole && (rc = copy_blocks(c, r, &next)) != 0) {
			evt_archive_close_segment(c->src, r);
			break;
		}
		evt_segr_blocks(r, &nb);
		if (next > 0 && (next >= nb || !evt_segr_rewind_block(r, next))) {
			evt_archive_close_segment(c->src, r);
			continue; /* all of it copied */
		}
		struct evt_frames fr;
		struct evt_frame *fm;
		evt_frames_init(&fr, r, filtered ? keep_cb : NULL,
		    (void *)(uintptr_t)s, c->o->errcb, c->o->arg, segs[i].path);
		while ((rc = evt_frames_next(&fr, &fm)) == 1)
			if ((rc = site_frame(c, fm)) < 0 ||
			    ((s->nsites > 0 || evt_sel_time(s, fm->rx_us)) &&
			    (rc = copy_frame(c, fm, filtered)) < 0))
				break;
		c->st->incomplete += fr.lost;
		evt_archive_add_lost(c->src, fr.lost);
		evt_frames_free(&fr);
		evt_archive_close_segment(c->src, r);
	}
	return rc < 0 ? rc : 0;
}

/* Seals the cut, syncs it and renames it to OUT. */
static int
finish(struct cut *c)
{
	evt_out_unmark(c->tmp);
	int rc = evt_archive_close(c->dst);
	c->dst = NULL;
	if (rc != 0)
		return say(c, rc, "%s: sealing: %s", c->tmp, evt_strerror(rc));
	if ((rc = evt_out_publish(c->tmp, c->o->out)) != 0)
		return say(c, rc, "%s: renaming %s to it: %s", c->o->out,
		    c->tmp, strerror(errno));
	return 0;
}

/* Opens the source and the temporary directory with its writer. */
static int
cut_open(struct cut *c)
{
	int rc = evt_archive_open(c->o->src, EVT_AR_NO_SIZES, NULL,
	    c->o->errcb, c->o->warn, c->o->arg, &c->src);
	if (rc != 0)
		return say(c, rc, "%s: %s", c->o->src, rc == EVT_ERR_NOTFOUND ?
		    "no such archive" : evt_strerror(rc));
	if ((rc = check_out(c)) != 0)
		return rc;
	size_t n = strlen(c->o->out);
	while (n > 1 && c->o->out[n - 1] == '/')
		n--;
	if (snprintf(c->tmp, sizeof c->tmp, "%.*s.tmp-%ld-XXXXXX", (int)n,
	    c->o->out, (long)getpid()) >= (int)sizeof c->tmp ||
	    mkdtemp(c->tmp) == NULL) {
		rc = say(c, EVT_ERR_IO, "%s: cannot make a temporary directory "
		    "beside it: %s", c->o->out, strerror(errno));
		c->tmp[0] = '\0';
		return rc;
	}
	/* mkdtemp's 0700 would outlive the rename: OUT gets the mode
	 * mkdir(2) would give it. */
	mode_t um = umask(0);
	umask(um);
	chmod(c->tmp, 0777 & ~um);
	/* No filter per segment, as import: lookups use the id index; one
	 * sync of the whole archive at the end (finish). */
	struct evt_archive_opts ao = {.seg = {.no_filter = 1,
	    .level = EVT_LEVEL_DEFAULT, .fsync = EVT_FSYNC_NEVER}};
	rc = evt_archive_open(c->tmp, EVT_AR_WRITE, &ao, NULL, c->o->warn,
	    c->o->arg, &c->dst);
	/* (Marked once open: its listing would take the mark for a
	 * stray.) */
	c->hold = evt_out_hold(c->tmp);
	return rc != 0 ? say(c, rc, "%s: %s", c->tmp, evt_strerror(rc)) : 0;
}

/* Writes the cut; see cut.h. */
int
evt_cut_write(const struct evt_cut_opts *o, struct evt_cut_stats *st,
    struct evt_buf *why)
{
	struct cut c = {.o = o, .st = st, .why = why, .hold = -1};
	memset(st, 0, sizeof *st);
	if (o->sel->from >= o->sel->to || o->sel->from == INT64_MIN ||
	    o->sel->to == INT64_MAX)
		return say(&c, EVT_ERR_ARG, "cut: the window must have a start "
		    "before its end");
	evt_siter_init(&c.site, o->sel);
	int rc = cut_open(&c);
	if (rc == 0 && (rc = make_state(&c)) == 0 && (rc = put_origin(&c)) ==
	    0 && (rc = put_names(&c)) == 0 && (rc = put_state(&c)) == 0)
		rc = copy_window(&c);
	if (rc != 0 && why->len == 0)
		say(&c, rc, "%s: %s", o->src, evt_strerror(rc));
	if (rc == 0 && st->events == 0) {
		char f[28], t[28];
		rc = say(&c, EVT_ERR_NOTFOUND, "%s: no selected event %s%s%s"
		    "received in [%s, %s): nothing to cut", o->src,
		    o->sel->nsites > 0 ? "of a site matching --site " : "",
		    o->sel->nsites > 0 ? o->sel->sites[0] : "",
		    o->sel->nsites > 0 ? " " : "", iso(o->sel->from, f),
		    iso(o->sel->to, t));
	}
	if (rc == 0)
		rc = finish(&c);
	if (c.dst != NULL)
		evt_archive_close(c.dst);
	if (rc != 0 && c.tmp[0] != '\0')
		evt_out_remove(c.tmp);
	if (c.hold >= 0)
		close(c.hold);
	if (c.src != NULL)
		evt_archive_close(c.src);
	for (size_t i = 0; i < c.ncfg; i++)
		evt_cfgrest_free(c.cfg[i]);
	free(c.cfg);
	free(c.cfgrx);
	evt_buf_free(&c.b);
	evt_buf_free(&c.snap);
	evt_buf_free(&c.wsite);
	evt_buf_free(&c.mk);
	evt_siter_free(&c.site);
	return rc;
}

/* The receive time of an event by id; see cut.h. */
int
evt_cut_find(const char *dir, const char *id, size_t len, int64_t *rx)
{
	struct evt_archive *a;
	int rc = evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a);
	if (rc != 0)
		return rc;
	rc = evt_archive_find_rx(a, id, len, rx);
	evt_archive_close(a);
	return rc;
}

/* Whether a STATES frame's text is a synthesised snapshot. */
int
evt_cut_is_snapshot(const char *text, size_t len)
{
	static const char key[] = "{\"" EVT_CUT_SNAPSHOT_KEY "\":";
	return len > sizeof key - 1 && memcmp(text, key, sizeof key - 1) == 0;
}

/* Appends the raw text of member name of object obj of body to out (a
 * string without its quotes); "" when absent. */
static int
put_member(struct evt_buf *out, const char *body, const struct evt_jtok *t,
    uint32_t obj, const char *name)
{
	long m = evt_ess_member(body, t, obj, name);
	if (m < 0)
		return 0;
	return evt_buf_put(out, body + t[m].off, t[m].len);
}

/* Appends the raw text of the members of object obj named in parts[i][1],
 * each after the text parts[i][0]; 0 or nonzero (out of memory). */
static int
put_parts(struct evt_buf *out, const char *body, const struct evt_jtok *t,
    uint32_t obj, const char *const (*parts)[2], size_t n)
{
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		rc |= evt_buf_put(out, parts[i][0], strlen(parts[i][0]));
		rc |= put_member(out, body, t, obj, parts[i][1]);
	}
	return rc;
}

/* The merged marker's line: each object of its "inputs" array as
 * "ARCHIVE (archive UUID, gateway G)" (no gateway part when it is empty),
 * separated by "; ". */
static int
merged_line(const char *body, const struct evt_jtok *t, struct evt_buf *out)
{
	static const char *const parts[][2] = {{"", "archive"},
	    {" (archive ", "uuid"}};
	static const char *const gateway[][2] = {{", gateway ", "gateway"}};
	long in = evt_ess_member(body, t, 0, "inputs");
	if (in < 0 || t[in].type != EVT_J_ARRAY)
		return 0;
	int rc = 0;
	uint32_t e = (uint32_t)in + 1;
	for (uint32_t i = 0, n = 0; i < t[in].size; i++, e = t[e].next) {
		if (t[e].type != EVT_J_OBJECT)
			continue;
		if (n++ > 0)
			rc |= evt_buf_put(out, "; ", 2);
		rc |= put_parts(out, body, t, e, parts, 2);
		long g = evt_ess_member(body, t, e, "gateway");
		if (g >= 0 && t[g].len > 0)
			rc |= put_parts(out, body, t, e, gateway, 1);
		rc |= evt_buf_putc(out, ')');
	}
	return rc;
}

/* Formats the cut or merged marker body[0..len) as info's line; see
 * cut.h. */
int
evt_cut_origin_line(const char *body, size_t len, struct evt_buf *out)
{
	struct evt_jparser jp;
	evt_json_init(&jp, 0);
	int rc = evt_json_parse(&jp, body, len);
	long ev = rc > 0 && jp.tok[0].type == EVT_J_OBJECT ?
	    evt_ess_member(body, jp.tok, 0, "event") : -1;
	const struct evt_jtok *e = ev >= 0 ? &jp.tok[ev] : NULL;
	int kind = e == NULL || e->type != EVT_J_STRING ? 0 :
	    e->len == 3 && memcmp(body + e->off, "cut", 3) == 0 ? 1 :
	    e->len == 6 && memcmp(body + e->off, "merged", 6) == 0 ? 2 : 0;
	/* (evt_ess_member's names are lower case: it folds.) */
	static const char *const parts[][2] = {{"", "cutfrom"},
	    {" (archive ", "archive"}, {"), window ", "from"}, {" .. ", "to"},
	    {", sources ", "sources"}, {", types ", "types"},
	    {", cut at ", "cutat"}};
	size_t len0 = out->len;
	if (kind == 1)
		rc = put_parts(out, body, jp.tok, 0, parts,
		    sizeof parts / sizeof parts[0]);
	else if (kind == 2)
		rc = merged_line(body, jp.tok, out);
	evt_json_free(&jp);
	if (kind == 2 && out->len == len0)
		return 0;	/* no input named: nothing to say */
	return kind == 0 ? 0 : rc ? EVT_ERR_NOMEM : kind;
}

/* Says where the archive was cut from; see cut.h. */
int
evt_cut_origin(const char *dir, struct evt_buf *out)
{
	struct evt_archive *a;
	struct evt_segr *r;
	size_t n;
	int rc = evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a);
	if (rc != 0)
		return rc;
	const struct evt_segref *segs = evt_archive_segments(a, &n);
	if (n == 0 || evt_archive_open_segment(a, 0, &r) != 0) {
		evt_archive_close(a);
		return 0;
	}
	/* The cut marker is the first record of the first segment. */
	struct evt_frames fr;
	struct evt_frame *fm;
	evt_frames_init(&fr, r, NULL, NULL, NULL, NULL, segs[0].path);
	rc = evt_frames_next(&fr, &fm);
	if (rc == 1)
		rc = fm->kind == EVT_K_SESSION ? evt_cut_origin_line(
		    (const char *)fm->text.p, fm->text.len, out) : 0;
	evt_frames_free(&fr);
	evt_archive_close_segment(a, r);
	evt_archive_close(a);
	return rc;
}
