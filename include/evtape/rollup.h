/*
 * rollup.h: the archive's summary roll-up (formats/rollup.md): derived
 * files "sum-LLLLLLLLLLLL-HHHHHHHHHHHH.evs" beside the segments, each a
 * *run* holding, for the sealed segments it covers, what `evtool info`
 * adds up from their trailers and indexes and what `evtool stats` adds up
 * from their summaries (segment.md, "Summary"), with texts instead of
 * dictionary ids.  So info and stats of a whole archive read a few run
 * files instead of every segment's index and dictionary.  A segment that
 * no usable run covers is read the old way: a missing, stale or damaged
 * run costs time, never a count.
 *
 * Maintenance (evt_ru_add, evt_ru_catch_up) runs under the archive's
 * writer lock; every file is written as a temporary ".sum-*.tmp" and
 * renamed, not fsynced (a run torn by a power loss fails its CRCs), so a
 * crash at any point leaves runs that each validate themselves.  A build
 * holds one stats count (stats.h: at most 2^20 strings and 64 MiB of their
 * text per table, 800 KB of buckets), one input's summary and the segment
 * table (64 bytes per covered segment, at most EVT_RU_MAX_SEGS).
 *
 * With the environment variable EVTAPE_NO_ROLLUP set and not empty,
 * readers use no run and writers write none (tests compare the two).
 */
#ifndef EVTAPE_ROLLUP_H
#define EVTAPE_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/record.h"
#include "evtape/summary.h"

#define EVT_RU_MAGIC "\x89" "EVTSUM\n"	/* 8 bytes */
#define EVT_RU_VERSION 2	/* 1: one-second buckets (still written) */
#define EVT_RU_HDR_SIZE 256
#define EVT_RU_SEG_SIZE 64	/* segment table entry */
#define EVT_RU_NAME_LEN 33	/* "sum-" 12 "-" 12 ".evs" */
#define EVT_RU_FANOUT 8		/* runs of one level merged at once */
#define EVT_RU_MAX_SEGS 512	/* a writer's one-second run covers at most
				   these */
#define EVT_RU_MAX_SPAN 99999	/* buckets a writer's run may span */
#define EVT_RU_COARSE1_S 60	/* coarse runs' bucket widths (seconds) */
#define EVT_RU_COARSE2_S 3600
#define EVT_RU_COARSE_SEGS 512	/* a writer's coarse run covers at most
				   (retention rebuilds a run it cuts) */
#define EVT_RU_MAX_LEVEL 16	/* levels a writer merges */
#define EVT_RU_PARSE_SEGS (1u << 20) /* a reader's bound */
#define EVT_RU_MAX_FILE (256u << 20)
#define EVT_RU_SUMMED 1u	/* entry flag: in the run's summary */

/* One covered segment (segment table entry). */
struct evt_ru_seg {
	uint64_t seq;
	uint64_t size;		/* file size when the run was built */
	int64_t mtime_ns;	/* its modification time then */
	int64_t first_rx, last_rx; /* its trailer's; meaningless if */
	uint64_t nrecords;	   /* its trailer's record count is 0 */
	uint32_t trl_crc;	/* its trailer's CRC (last 4 bytes) */
	uint32_t flags;		/* EVT_RU_SUMMED */
};

/* A run read from its file; owns segs, borrows (or, loaded, owns) the
 * file's bytes that sum points into. */
struct evt_ru_run {
	uint64_t lo, hi;	/* from the file name */
	unsigned level;
	int64_t bucket_us;	/* its summary's bucket width */
	uint32_t nsegs;
	uint64_t events, records, blocks; /* trailer sums (info) */
	int64_t first_rx, last_rx;	  /* INT64_MAX, INT64_MIN: none */
	uint64_t frames[EVT_K_MAX + 1];	  /* the indexes' sums */
	int has_sessions;	/* sessions counted (header flag) */
	uint64_t sessions;	/* recorder sessions (evt_ru_rec_session) */
	uint64_t cfg_seq;	/* 0: no summed segment has a CONFIG */
	struct evt_sum_pos cfg;	/* its last CONFIG marker */
	struct evt_ru_seg *segs; /* ascending seq */
	const uint8_t *sum;	/* the summary of the SUMMED segments */
	size_t sum_len;
	uint8_t *file;		/* evt_ru_load: the bytes, owned */
};

/* Formats a run's file name into out (cap >= EVT_RU_NAME_LEN + 1). */
void evt_ru_name(uint64_t lo, uint64_t hi, char *out, size_t cap);

/* Parses a run file name: 1 and *lo, *hi (either may be NULL) if it is
 * one. */
int evt_ru_parse_name(const char *name, uint64_t *lo, uint64_t *hi);

/*
 * Parses and checks run file bytes buf[0..len) named lo..hi (formats/
 * rollup.md, "Validity"; the summary is checked by evt_ru_sum).  Sans-I/O.
 * Returns 0 and fills *run (buf borrowed; free with evt_ru_free), or
 * EVT_ERR_CORRUPT / EVT_ERR_VERSION with *why (static) and *at (offset),
 * or EVT_ERR_NOMEM.
 */
int evt_ru_parse(const uint8_t *buf, size_t len, uint64_t lo, uint64_t hi,
    struct evt_ru_run *run, const char **why, uint64_t *at);

/* Reads and checks the run file at path; returns as evt_ru_parse, or
 * EVT_ERR_IO. */
int evt_ru_load(const char *path, struct evt_ru_run *run, const char **why,
    uint64_t *at);

/*
 * Decodes a run's summary into s (free with evt_sum_free; its texts point
 * into the run's bytes): 0, or EVT_ERR_CORRUPT with *why, or
 * EVT_ERR_NOMEM.  A summary that is incomplete, holds a config or states,
 * or counts events no SUMMED segment can hold, is corrupt.
 */
int evt_ru_sum(const struct evt_ru_run *run, struct evt_sum *s,
    const char **why);

/* Frees a run's tables (and bytes if loaded); zeroes it. */
void evt_ru_free(struct evt_ru_run *run);

/*
 * Maintenance, holding the archive's writer lock; warn (may be NULL) gets
 * one line per problem.  Each returns 0 or a negative evt_err (the
 * archive's events are never at stake).
 *
 * evt_ru_add: notes sealed segment seq of dir; every EVT_RU_FANOUT
 * segments noted, adds a run over them and merges (EVT_RU_FANOUT runs of
 * one level into one of the next, within EVT_RU_MAX_SEGS and
 * EVT_RU_MAX_SPAN).  The up to 7 segments a process leaves noted are
 * covered by the next writer's catch-up (readers read them meanwhile).
 *
 * evt_ru_catch_up: deletes temporaries, runs that do not check and runs
 * that another covers whole; rebuilds a run over its remaining segments
 * when a segment it covers is gone or no longer the same file (size,
 * modification time, and when full its trailer CRC); adds runs for
 * sealed segments no run covers (at most 256 unless full); merges.
 */
typedef void (*evt_ru_warn_cb)(void *arg, const char *msg);
int evt_ru_add(const char *dir, uint64_t seq, evt_ru_warn_cb warn,
    void *arg);
int evt_ru_catch_up(const char *dir, int full, evt_ru_warn_cb warn,
    void *arg);

/*
 * Checks every run file of dir (validity, summary, covered segments'
 * identities including trailer CRCs): report(arg, path, offset, what) for
 * each problem.  Returns the number of problems or a negative evt_err.
 */
typedef void (*evt_ru_report_cb)(void *arg, const char *path, uint64_t off,
    const char *what);
int evt_ru_verify(const char *dir, evt_ru_report_cb report, void *arg);

/*
 * Recorder sessions (formats/records.md, "Marker bodies written by
 * evrec"): evt_ru_rec_session tells whether record rec, just read from r
 * (evt_segr_next), is a SESSION marker whose "event" is "new" or
 * "resumed": 1, 0, or EVT_ERR_NOMEM.  evt_ru_seg_sessions counts those of
 * sealed segment r (index loaded) into *n from the blocks whose header
 * flags say they hold a SESSION marker (every block of a writer before
 * those flags): 0 or EVT_ERR_NOMEM.  A run counts those of its covered
 * segments (formats/rollup.md, header `sessions`).
 */
struct evt_rec;
struct evt_segr;
int evt_ru_rec_session(struct evt_segr *r, const struct evt_rec *rec);
int evt_ru_seg_sessions(struct evt_segr *r, uint64_t *n);

/*
 * The readers' view: which run answers for which segment.  Opened over
 * the listed segments seqs[0..n) (ascending) of dir: every valid run
 * whose segments are all listed and still the same files (size and
 * modification time) is usable; each segment is covered by the usable run
 * covering most segments, a run overlapping a larger one is not used.
 * NULL (*out) when EVTAPE_NO_ROLLUP is set.  Returns 0 or EVT_ERR_NOMEM.
 */
struct evt_ru_view {
	struct evt_ru_run *runs;
	size_t nrun;
	size_t *cover;		/* per listed segment: run or SIZE_MAX */
	size_t *first;		/* per run: its lowest segment's index */
};
int evt_ru_view_open(const char *dir, const uint64_t *seqs, size_t n,
    struct evt_ru_view **out);
void evt_ru_view_close(struct evt_ru_view *v);

#endif
