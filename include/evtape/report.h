/*
 * report.h: the incident report of `evtool report` (README, "evtool
 * report"): one self-contained HTML file (inline CSS and SVG, no script,
 * nothing fetched) about a window of an archive: the window, the
 * recorder's SESSION and GAP markers in it, events per interval (an SVG
 * bar chart), a timeline with one lane per source (state intervals as
 * bars, stateless events as ticks, gaps shaded, the --around event
 * marked), events by type and an events table whose rows are anchored
 * by event id (<tr id="ev-ID">).
 *
 *   window [from, to) -> pass 1 (counts: sources, types, intervals,
 *   markers, the first rows) -> the busiest lanes -> pass 2 over the
 *   look-back [from - lookback, from) (the lanes' states at from) ->
 *   pass 3 over the window (bars, ticks; getState answers) -> HTML
 *
 * Same archive and options, same bytes: no clock is read, times are UTC
 * ISO-8601, ties are broken by id.  Everything taken from the archive is
 * HTML-escaped.
 *
 * Memory is bounded by constants, not by the window: at most
 * EVT_REPORT_MAX_KEYS distinct sources and as many types (and state
 * groups) are counted by id (further ones under "(other)"); while a
 * segment is read, 12 bytes per string and 28 per shape of its
 * dictionary say what they resolve to; the events table keeps `rows`
 * events; a lane keeps EVT_REPORT_COLS tick columns (events within one
 * column of the timeline are one tick whose title counts them), at most
 * EVT_REPORT_MAX_BARS intervals (more are counted, not drawn) of at most
 * EVT_REPORT_MAX_GROUPS state groups; at most EVT_REPORT_MAX_MARKS
 * markers are listed.  So: a few MiB for the key tables, up to 16 KiB of
 * columns and 96 KiB of bars a lane (at most EVT_REPORT_MAX_LANES), and
 * the rows' texts; the HTML itself grows with them (a few hundred bytes
 * a row, bar or tick), not with the window's events.
 */
#ifndef EVTAPE_REPORT_H
#define EVTAPE_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/select.h"

#define EVT_REPORT_MAX_KEYS 65536
#define EVT_REPORT_COLS 1000		/* timeline width in pixels */
#define EVT_REPORT_MAX_BARS 4000	/* per lane */
#define EVT_REPORT_MAX_GROUPS 8		/* per lane */
#define EVT_REPORT_MAX_MARKS 1000
#define EVT_REPORT_NARROW 4		/* columns: narrower intervals
					   merge (see report.c) */
#define EVT_REPORT_BUCKETS 60		/* bars of the events chart */
#define EVT_REPORT_MAX_LANES 200	/* --lanes */
#define EVT_REPORT_MAX_ROWS 100000	/* --rows */

struct evt_names;

/* How far back the default look-back seeks a getState answer (us). */
#define EVT_REPORT_AUTO_MAX (24 * 3600 * 1000000LL)

/* What to report on.  Pointers are borrowed for the call. */
struct evt_report_opts {
	const char *archive;	/* the name shown (the directory) */
	int64_t from, to;	/* the window [from, to); with around set:
				   filled in from it and window */
	const char *around_id;	/* --around an event id, or NULL */
	int64_t around_rx;	/* --around a time (INT64_MIN: none) */
	int64_t window;		/* the window's width around it (us) */
	int64_t lookback;	/* the states at the window's start come
				   from the events and getState answers
				   of this long before it (us; 0: all) */
	int lookback_auto;	/* nonzero: from the last getState answer
				   in the EVT_REPORT_AUTO_MAX before the
				   window instead, where there is one */
	const struct evt_sel *sel; /* sources and types (ids, resolved);
				      its times are not used */
	size_t lanes;		/* the busiest lanes drawn */
	size_t rows;		/* events table rows */
	evt_seg_err_cb errcb;	/* damage found while reading (may be
				   NULL) */
	evt_warn_cb warn;
	void *arg;
};

/*
 * Appends the report on archive a (open for reading; dir its directory,
 * read again through a cursor for --around) to out, with the names n
 * (finished; ids shown where n has no name).  Returns 0;
 * EVT_ERR_NOTFOUND (no event with the --around id, or no selected event
 * in the window) or EVT_ERR_ARG (an empty window) with why appended;
 * EVT_ERR_NOMEM; EVT_ERR_IO.
 */
int evt_report_write(struct evt_archive *a, const char *dir,
    struct evt_names *n, struct evt_report_opts *o, struct evt_buf *out,
    struct evt_buf *why);

#endif
