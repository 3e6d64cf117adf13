/*
 * select.h: which events and frames a reading command selects: a range of
 * receive times and lists of sources and types (evtool cat, state,
 * stats).  Sans-I/O: strings and decoded records in, yes or no out.
 */
#ifndef EVTAPE_SELECT_H
#define EVTAPE_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/record.h"

/*
 * A selection.  The lists are borrowed (typically argv's strings) and must
 * outlive the selection; an empty list selects everything.
 */
struct evt_sel {
	int64_t from, to;	/* receive times [from, to); INT64_MIN and
				   INT64_MAX: no bound */
	const char **sources;	/* whole "cameras/<guid>" or the GUID alone */
	const char **types;
	const char **sites;	/* --site: fnmatch(3) globs, any case */
	size_t nsources, ntypes, nsites;
	size_t cap;		/* entries each list can take */
};

/*
 * Prepares an empty selection (every time, source and type) whose lists
 * can take up to max entries each (the argument count of a command line
 * bounds them).  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_sel_init(struct evt_sel *s, size_t max);

struct evt_names;
struct evt_buf;

/*
 * Turns the names among the source and type entries into ids, by the
 * CONFIG markers' names n (finished; the ids stay n's, so n must outlive
 * the selection): an entry that is an id (it holds a '/', is a GUID, is
 * empty, or is an id n lists) stays, and so does every entry when n
 * holds no name at all (an archive without CONFIG markers: as before
 * names); any other is a name or a fnmatch(3) glob
 * ('Lobby*'), matched in any letter case against every name any marker
 * gave, and is replaced by the ids it matches (a glob may match several:
 * all of them are selected).  Returns 0; EVT_ERR_NOTFOUND (nothing
 * matches) or EVT_ERR_ARG (a name without wildcards names several ids:
 * ambiguous) with why (appended: the option, the entry and the
 * candidates, ids and names, up to 20); EVT_ERR_NOMEM.
 */
int evt_sel_resolve(struct evt_sel *s, struct evt_names *n,
    struct evt_buf *why);

/* Frees the lists (not their strings). */
void evt_sel_free(struct evt_sel *s);

/* Whether receive time rx is in [from, to); to = INT64_MAX is no end, so
 * that a frame received then is not lost. */
int evt_sel_time(const struct evt_sel *s, int64_t rx);

/* Whether source value src (NUL-terminated) is selected: equal to an entry,
 * or its part after the last '/' is, in any letter case (GUIDs). */
int evt_sel_source(const struct evt_sel *s, const char *src);

/* Whether the event object text ev[0..len) (borrowed) passes the source
 * and type lists (its top-level "source" and "type"; a text without them
 * passes only lists that are empty). */
int evt_sel_event_text(const struct evt_sel *s, const char *ev, size_t len);

/* Whether site (NUL-terminated) is selected: an empty list selects
 * every site, else it must match an entry, a fnmatch(3) glob, in any
 * letter case. */
int evt_sel_site(const struct evt_sel *s, const char *site);

/*
 * The site a SESSION marker body[0..len) names (formats/records.md,
 * "Central archives"): its string member "site"; without one, the host
 * of its string member "gateway" (without scheme, user and port: what
 * evrec --site defaults to); else "".  Written NUL-terminated into out
 * (replacing what it held; out->len excludes the NUL).  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_session_site(const char *body, size_t len, struct evt_buf *out);

/* Whether a SESSION marker body[0..len) is a central archiver's site
 * marker (formats/records.md, "Central archives": it begins
 * {"event":"nats",), which names the site of what follows, no session. */
int evt_session_is_site(const char *body, size_t len);

/*
 * The site of the records a reader meets in archive order, against the
 * --site list of a selection (formats/records.md, "Central archives"):
 * the reader gives it the body of every SESSION marker it reads; on says
 * whether the records that follow are of a selected site.  It also keeps
 * the distinct sites the markers named (the first EVT_SITER_MAX), so that
 * a command can say which sites it met (and which of them it selected).
 */
#define EVT_SITER_MAX 64
struct evt_siter {
	const struct evt_sel *sel; /* NULL: every site is selected */
	int on;			/* the records read now are selected */
	struct evt_buf site;	/* their site, NUL-terminated ("" before any
				   SESSION marker) */
	char *met[EVT_SITER_MAX]; /* the sites met (owned) */
	unsigned char hit[EVT_SITER_MAX]; /* met[i] is selected */
	size_t nmet, more;	/* more: distinct sites beyond the list */
};

/* Starts before any SESSION marker: at the site "". */
void evt_siter_init(struct evt_siter *t, const struct evt_sel *sel);

/* A SESSION marker body[0..len) was read.  Returns 0 or EVT_ERR_NOMEM. */
int evt_siter_marker(struct evt_siter *t, const char *body, size_t len);

/* How many of the sites met are selected (selected nonzero), or met. */
size_t evt_siter_count(const struct evt_siter *t, int selected);

/* Appends the sites met (only the selected ones when selected is
 * nonzero), each as a JSON string, separated by ", ", "..." after them
 * when there were more.  Returns 0 or EVT_ERR_NOMEM. */
int evt_siter_list(const struct evt_siter *t, int selected,
    struct evt_buf *out);

void evt_siter_free(struct evt_siter *t);

/* Whether event r (decoded by d) passes the source and type lists. */
int evt_sel_event(const struct evt_sel *s, struct evt_rdec *d,
    const struct evt_rec *r);

#endif
