/*
 * summary.h: segment summaries (formats/segment.md, "Summary"): what
 * `evtool stats` and `info` would count in a sealed segment, written into
 * its index at seal so that they need not read its events.
 *
 * A summary holds the segment's events by type and by source, its events
 * per second of receive time, its messages, the first and last receive
 * time of its events, its frames by kind, and the positions of its last
 * CONFIG marker and of its state snapshots (STATES frames).  The writer
 * builds it while the seal reads the written blocks back (evt_sumb_*), from
 * the same records and by the same counting (stats.c) as a scan, so that
 * a report from summaries equals one from the events.  Readers decode it
 * with evt_sum_decode.  Sans-I/O: records and bytes in, bytes and counts
 * out.
 *
 * Bounds: at most EVT_SUM_MAX_KEYS distinct types and as many sources, and
 * a span of at most EVT_STATS_MAX_BUCKETS seconds; a segment beyond them
 * gets an incomplete summary (readers read its events).  At most
 * EVT_SUM_MAX_STATES snapshot positions are kept (beyond, none).  A
 * builder's memory is a stats count's (stats.h: at most 2^20 strings and
 * 64 MiB of their text per table) and 8 bytes per second of its span
 * (29 kB for an hour; at most 800 KB).
 */
#ifndef EVTAPE_SUMMARY_H
#define EVTAPE_SUMMARY_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/dict.h"
#include "evtape/record.h"

#define EVT_SUM_BUCKET_US ((int64_t)1000000) /* the buckets: 1 s */
#define EVT_SUM_MAX_KEYS 65536	/* distinct types, and sources, per segment */
#define EVT_SUM_MAX_STATES 4096	/* snapshot positions per segment */

/* A type or source and its events; s is borrowed (the builder's count or
 * the segment's dictionary, valid while that is). */
struct evt_sum_key {
	const char *s;
	size_t len;
	uint64_t count;
};

/* Events received in [k * bucket_us, (k + 1) * bucket_us). */
struct evt_sum_bucket {
	int64_t k;
	uint64_t count;
};

/* Where a frame is: its block (number in the block directory), its place
 * among the block's framed records (from 0), its receive time. */
struct evt_sum_pos {
	uint32_t block, frame;
	int64_t rx;
};

/* A decoded summary.  The arrays are owned (evt_sum_free); the keys'
 * texts are borrowed (from the dictionary or the bytes decoded). */
struct evt_sum {
	int complete;		/* 0: only frames is meaningful */
	uint64_t events, messages; /* events of MSG frames; MSG frames
				      holding at least one */
	int64_t first_rx, last_rx; /* of the events; meaningless if none */
	uint64_t frames[EVT_K_MAX + 1];
	struct evt_sum_key *types, *sources;
	uint32_t ntypes, nsources;
	int64_t bucket_us;	/* the buckets' width: EVT_SUM_BUCKET_US (0
				   in one built by hand means that too), or
				   a coarse roll-up run's */
	struct evt_sum_bucket *buckets; /* ascending k, counts > 0 */
	uint32_t nbuckets;
	int has_config;		/* config: the last CONFIG marker */
	struct evt_sum_pos config;
	int has_states;		/* states: every STATES frame, in order */
	struct evt_sum_pos *states;
	uint32_t nstates;
};

/* Frees the arrays of s and zeroes it; s may be zeroed already. */
void evt_sum_free(struct evt_sum *s);

/*
 * Decodes a summary (the MessagePack value p[0..len) of the index's
 * "summary" key) of a segment whose dictionary is d (the keys' texts
 * point into d or into p, which must outlive s) and whose directory has nblocks blocks, into s
 * (zeroed first; free with evt_sum_free, also after an error).  Returns 0,
 * EVT_ERR_NOMEM, or EVT_ERR_CORRUPT with *why (static text) saying what
 * does not follow formats/segment.md; an incomplete summary decodes (0)
 * with s->complete 0.
 */
int evt_sum_decode(const uint8_t *p, size_t len, const struct evt_dict *d,
    uint32_t nblocks, struct evt_sum *s, const char **why);

/* As evt_sum_decode, for a summary whose "bucket_us" must be bucket_us
 * (a coarse roll-up run's, formats/rollup.md; a segment's is 1 s). */
int evt_sum_decode_w(const uint8_t *p, size_t len, const struct evt_dict *d,
    uint32_t nblocks, int64_t bucket_us, struct evt_sum *s, const char **why);

/*
 * Appends the MessagePack encoding of s to out, the keys' texts written as
 * ids of dictionary d where d holds them (else as text).  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_sum_pack(const struct evt_sum *s, struct evt_dict *d,
    struct evt_buf *out);

/* A summary being built from a segment's records. */
struct evt_sumb;

/* A new builder; NULL when out of memory. */
struct evt_sumb *evt_sumb_new(void);

/* Frees a builder; NULL is fine. */
void evt_sumb_free(struct evt_sumb *b);

/* Block bi of the block directory begins; call before its first record. */
void evt_sumb_block(struct evt_sumb *b, uint32_t bi);

/* Counts record rec (decoded by d, both borrowed for the call), records
 * fed in segment order.  Returns 0 or EVT_ERR_NOMEM. */
int evt_sumb_record(struct evt_sumb *b, struct evt_rdec *d,
    const struct evt_rec *rec);

/* The records read are not the whole segment (damage): the summary will
 * be incomplete. */
void evt_sumb_incomplete(struct evt_sumb *b);

/* Appends the summary built so far to out (as evt_sum_pack, with d the
 * segment's dictionary).  Returns 0 or EVT_ERR_NOMEM. */
int evt_sumb_pack(struct evt_sumb *b, struct evt_dict *d, struct evt_buf *out);

#endif
