/*
 * cut.h: `evtool cut`: a window of an archive written as a new,
 * self-contained archive (formats/archive.md, "Cut archives").
 *
 *   source archive, window [from, to), sources/types
 *     -> OUT.tmp-PID-XXXXXX: a SESSION "cut" marker (where it came from), a
 *        CONFIG snapshot of the names in force at `from`, a synthesised
 *        state snapshot (the state table at `from`), then every frame and
 *        marker of the window (MSG frames with their selected events)
 *     -> sealed, indexed -> renamed to OUT
 *
 * Without --source/--type, the blocks of a source segment that lie wholly
 * in the window from its first block on are copied as they are into a
 * segment of their own (segment_copy.c, evt_archive_copy_blocks;
 * formats/archive.md, "Cut archives", "Whole blocks"); every other frame
 * is re-encoded by the segment writer.  Memory: the CONFIG markers of the
 * source archive (all of them: a name may come from a marker after the
 * window), the state table at `from`, and one frame at a time.
 */
#ifndef EVTAPE_CUT_H
#define EVTAPE_CUT_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/select.h"

/* The envelope member that marks a synthesised state snapshot: a STATES
 * frame whose text begins with this is not a received getState answer
 * (formats/records.md, "Synthesised state snapshots"). */
#define EVT_CUT_SNAPSHOT_KEY "evtapeSnapshot"

/* What to cut.  Pointers are borrowed for the call. */
struct evt_cut_opts {
	const char *src;	/* the source archive's directory */
	const char *out;	/* the new archive: absent or an empty directory */
	const struct evt_sel *sel; /* the window [from, to) (both bounded)
				      and the sources and types (ids,
				      resolved; none: every event) */
	evt_seg_err_cb errcb;	/* damage in the source (may be NULL) */
	evt_warn_cb warn;	/* other problems (may be NULL) */
	void *arg;
};

/* What was written. */
struct evt_cut_stats {
	uint64_t frames;	/* received frames copied (MSG, STATES, JSON,
				   RAW) */
	uint64_t events;	/* events of MSG frames */
	uint64_t markers;	/* SESSION, GAP, CONFIG of the window */
	uint64_t states;	/* entries of the synthesised snapshot */
	uint64_t names;		/* CONFIG markers the names came from */
	uint64_t incomplete;	/* frames that had lost items to damage */
	uint64_t copied;	/* blocks copied whole, not re-encoded */
};

/*
 * Writes the cut.  Returns 0; EVT_ERR_EXISTS (OUT exists and is not an
 * empty directory), EVT_ERR_NOTFOUND (no source archive, or no selected
 * event in the window: nothing is left behind), EVT_ERR_ARG (from >= to),
 * EVT_ERR_IO, EVT_ERR_NOMEM; why gets a sentence naming what and where.
 * On failure no OUT is made and the temporary directory is removed.
 */
int evt_cut_write(const struct evt_cut_opts *o, struct evt_cut_stats *st,
    struct evt_buf *why);

/*
 * The receive time of the event with id id[0..len) in archive dir (the
 * --around anchor).  Returns 1 and *rx, 0 when no event has it, or a
 * negative evt_err.
 */
int evt_cut_find(const char *dir, const char *id, size_t len, int64_t *rx);

/*
 * Whether a STATES frame's text is a synthesised snapshot (not a
 * received getState answer): readers that print received frames pass it
 * over.
 */
int evt_cut_is_snapshot(const char *text, size_t len);

/*
 * Appends to out a line (no newline) saying where the archive in dir came
 * from, from its provenance marker (its first record): for a cut, source,
 * archive id, window, filter, cut time; for a merge, each input as
 * "ARCHIVE (archive UUID, gateway G)" (no gateway part when empty),
 * separated by "; ".  Returns 1 (a
 * cut), 2 (a merge), 0 when the archive is neither, or a negative
 * evt_err.
 */
int evt_cut_origin(const char *dir, struct evt_buf *out);

/*
 * evt_cut_origin's line from a SESSION marker body[0..len) (borrowed; any
 * bytes: it comes from a file).  Returns 1 (appended, "event" is "cut"),
 * 2 (appended, "event" is "merged" and "inputs" names at least one
 * object), 0 otherwise (out unchanged), or EVT_ERR_NOMEM.
 */
int evt_cut_origin_line(const char *body, size_t len, struct evt_buf *out);

#endif
