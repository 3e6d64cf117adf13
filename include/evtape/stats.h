/*
 * stats.h: the activity picture of `evtool stats` (README, "evtool"):
 * events by type and source, messages, first and last receive time, events
 * per time bucket, markers and raw frames, the names of types and sources
 * from a CONFIG marker.  Sans-I/O: the caller reads the archive and feeds
 * the records of each segment; the report is appended to a buffer as text
 * or JSON, which the caller writes.
 *
 * Memory stays bounded: at most EVT_DICT_MAX_STRINGS distinct sources (and
 * as many types, EVT_DICT_MAX_BYTES of their text) are counted by name, the
 * events of further ones under "(other)"; at most EVT_STATS_MAX_BUCKETS
 * buckets are kept (allocated as the span counted grows: 8 bytes a
 * bucket), the width doubling when a --bucket would take more.
 */
#ifndef EVTAPE_STATS_H
#define EVTAPE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/record.h"
#include "evtape/select.h"

/* Buckets kept for a width the user chose (--bucket). */
#define EVT_STATS_MAX_BUCKETS 100000

struct evt_stats;

/*
 * A new count of the records in sel's time range whose source sel selects
 * (sel is borrowed and must outlive the count; its type list is not used),
 * per bucket of bucket_us (whole seconds), or, with bucket_us 0, of the
 * first width of the ladder 1s, 10s, 1m, 10m, 1h, 1d, 10d, 100d, ... giving
 * at most 48 rows.  NULL when out of memory.
 */
struct evt_stats *evt_stats_new(const struct evt_sel *sel, int64_t bucket_us);

/* Frees a count; NULL is fine. */
void evt_stats_free(struct evt_stats *st);

/* A new segment begins: string ids of the previous one mean nothing now.
 * Call before its first record. */
void evt_stats_segment(struct evt_stats *st);

/*
 * Counts record rec of the segment being read (d its decoder, borrowed for
 * the call), records fed in segment order: an event of a message in the
 * range, a frame in the range, a CONFIG marker's names.  Returns 0,
 * EVT_ERR_NOMEM (the count is then unusable), or another negative evt_err
 * of evt_rdec_frame_head for a CONFIG body that does not decode (the
 * marker is passed over; with EVT_ERR_CORRUPT d->err says why: report it
 * and go on).
 */
int evt_stats_record(struct evt_stats *st, struct evt_rdec *d,
    const struct evt_rec *rec);

/*
 * Takes the names of CONFIG record rec (borrowed for the call) for the
 * report, whatever its receive time: the caller's choice of the last
 * marker before the range when the range holds none.  Returns as
 * evt_stats_record.
 */
int evt_stats_config(struct evt_stats *st, struct evt_rdec *d,
    const struct evt_rec *rec);

/*
 * Names the report from nm (borrowed until evt_stats_print; finished),
 * all the archive's CONFIG markers, as of the range's last moment
 * (formats/records.md, "Names from CONFIG markers"), rather than from the
 * one marker evt_stats_config took: with deltas no one marker holds
 * every name.
 */
struct evt_names;
void evt_stats_names(struct evt_stats *st, struct evt_names *nm);

/* Whether a CONFIG marker gave names. */
int evt_stats_has_config(const struct evt_stats *st);

/* The bucket width counted with: bucket_us of evt_stats_new, or wider when
 * that would take more than EVT_STATS_MAX_BUCKETS buckets. */
int64_t evt_stats_bucket(const struct evt_stats *st);

/* Frames (and markers) of record kind `kind` counted so far. */
uint64_t evt_stats_frames(const struct evt_stats *st, int kind);

struct evt_sum;

/*
 * Puts the count of one whole segment (a count made with an empty
 * selection and bucket_us EVT_SUM_BUCKET_US; st borrowed, and the keys'
 * texts of s point into it) into summary s: frames always, the rest unless
 * s->complete comes out 0 (too many strings, or a span widened past
 * seconds).  Leaves s's config and states alone.  Returns 0 or
 * EVT_ERR_NOMEM; free s with evt_sum_free.
 */
int evt_stats_export(const struct evt_stats *st, struct evt_sum *s);

/* What the source selection of st takes of the events of a summary. */
enum { EVT_STATS_SEL_NONE, EVT_STATS_SEL_SOME, EVT_STATS_SEL_ALL };

/* Which of EVT_STATS_SEL_* the source selection of st makes of the sources
 * of complete summary s; or EVT_ERR_NOMEM. */
int evt_stats_sum_selects(struct evt_stats *st, const struct evt_sum *s);

/*
 * Counts a whole segment from its complete summary s (borrowed for the
 * call) instead of its records, the segment lying wholly inside st's time
 * range: its frames, and, when events (the selection takes all of its
 * sources: EVT_STATS_SEL_ALL), its events, messages, types, sources and
 * buckets.  The CONFIG marker's names are not taken (the caller reads that
 * marker).  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_stats_add_sum(struct evt_stats *st, const struct evt_sum *s,
    int events);

/*
 * Whether the events of complete summary s (borrowed) can be added
 * exactly: always for one-second buckets; for the wider buckets of a
 * roll-up run (formats/rollup.md, "Coarse runs") when the width st will
 * count with once s's span is in (at least; widths only grow, each a
 * multiple of the one before) is a multiple of s's.  When 0 the caller
 * counts the segments s adds up another way.
 */
int evt_stats_sum_exact(const struct evt_stats *st, const struct evt_sum *s);

/*
 * Tells the count that events received at first and at last will be
 * counted (by a summary or by records), so that evt_stats_sum_exact
 * knows the span early: a caller that notes a time no counted event has
 * changes the report.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_stats_span(struct evt_stats *st, int64_t first, int64_t last);

/* Where the report goes: appended to buf; drain, unless NULL, is called
 * after each row, so that the caller can write a large buffer out. */
struct evt_stats_out {
	struct evt_buf *buf;
	void (*drain)(void *arg, struct evt_buf *buf);
	void *arg;
};

enum evt_stats_form { EVT_STATS_TEXT, EVT_STATS_JSON };

/*
 * Appends the report, as text for people or as one JSON object (README
 * names its members), to out: archive (borrowed) is the name shown,
 * damaged the count of damaged places skipped, top the number of source
 * rows before "(other)".  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_stats_print(struct evt_stats *st, enum evt_stats_form form,
    const char *archive, uint64_t damaged, uint64_t top,
    const struct evt_stats_out *out);

#endif
