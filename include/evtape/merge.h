/*
 * merge.h: one archive from several (`evtool merge`), e.g. the archives of
 * two recorders of one gateway (a redundant pair), or of several gateways.
 *
 * A k-way merge by receive time over the inputs' frames and markers,
 * streaming: each input is read segment by segment through its frame
 * reader, on a thread of its own, the output is written as it goes.
 * Events are deduplicated by their id key (evt_id_key) within a window of
 * the last `window` events written; markers are merged as
 * formats/records.md, "Merged archives", defines.  Memory: the window
 * (24 bytes per slot, 24 MiB for the default 2^20), 256 frames per input
 * read ahead, and 16 bytes per GAP marker met.
 */
#ifndef EVTAPE_MERGE_H
#define EVTAPE_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/archive.h"

/* Keys an id index build of evtool merge holds at once (idindex.h,
 * evt_idx_set_batch_keys): 2^21, about 50 MiB while sorting, against 2^18
 * (6 MiB).  The runs of the segments it writes are merged at its end into
 * one over up to EVT_IDX_MAX_KEYS keys, in passes over their GUID columns:
 * 2 passes instead of 13 for 3.4 M keys (indexing tests/bench/merge.sh's
 * output from scratch: 0.7-0.8 CPU-s instead of 1.6-2.0). */
#define EVT_MERGE_IDX_BATCH ((size_t)1 << 21)

/* The dedupe window when none is given: 2^20 events. */
#define EVT_MERGE_WINDOW ((size_t)1 << 20)

/* What became of one input. */
struct evt_merge_stats {
	uint64_t events;	/* events written from it */
	uint64_t dups;		/* events dropped: an earlier copy was written */
	uint64_t gaps_closed;	/* its GAPs that other inputs cover whole */
	uint64_t gaps_left;	/* its GAPs of which some time no input covers */
	uint64_t lost_events;	/* events it could not read (reported) */
	uint64_t lost_unknown;	/* damaged places of unknown count */
	int failed;		/* it could not be opened at all (reported) */
};

struct evt_merge_opts {
	size_t window;		/* dedupe window in events; 0: default */
	evt_seg_err_cb cb;	/* damage in an input: file, offset, what */
	evt_warn_cb warn;	/* other problems of the inputs */
	void *arg;		/* for both */
};

/*
 * Writes the merge of the archives in[0..nin) (paths, borrowed) into out,
 * an archive opened for writing (EVT_AR_WRITE; borrowed, not closed).
 * st[0..nin) get each input's figures.  An input that cannot be opened
 * is reported through o->warn and counted as failed; damage inside an
 * input is reported through o->cb and passed over (every readable event
 * is kept).  The callbacks are called from the inputs' reader threads,
 * one call at a time.  Returns 0, or a negative evt_err of the output
 * (EVT_ERR_NOMEM, EVT_ERR_IO): the output is then incomplete.
 */
int evt_merge(struct evt_archive *out, const char *const *in, size_t nin,
    const struct evt_merge_opts *o, struct evt_merge_stats *st);

/*
 * The value of the top-level member "gateway" of a SESSION body
 * text[0..len) (the first, named exactly so) as its JSON string text
 * (escapes kept), malloc'ed; "" when there is none, it is not a string or
 * the body not an object (a merged marker: its inputs' gateways are not
 * its own); NULL when out of memory.  An archive's gateway, for the merge
 * and for the cut marker, is this of its first SESSION marker
 * (formats/records.md, "Merged archives").
 */
char *evt_merge_gateway(const char *text, size_t len);

/*
 * The gateway of archive a as evtool merge takes an input's (that of its
 * first SESSION marker, a cut's own marker for a cut of a cut; the cut
 * marker, evplay --publish's default site).  Segments whose index says
 * they hold no SESSION marker are not read.  Returns it malloc'ed, as
 * evt_merge_gateway ("" when none), NULL when out of memory.
 */
char *evt_merge_archive_gateway(struct evt_archive *a);

#endif
