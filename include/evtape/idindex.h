/*
 * idindex.h: the archive-level id index (formats/idindex.md): derived
 * files "idx-LLLLLLLLLLLL-HHHHHHHHHHHH.evi" beside the segments, each a
 * *run* covering a set of sealed segments with binary fuse retrieval
 * filters (the segment filter's, src/filter.c) whose locations name
 * groups of the run's blocks.  A lookup probes one partition of each run
 * instead of one filter per segment; what no valid run covers is looked
 * up through the segments themselves, so a missing, stale or damaged run
 * never loses an event.
 *
 * Maintenance (evt_idx_add, evt_idx_catch_up, evt_idx_prune) runs under
 * the archive's writer lock, and one call at a time within a process (a
 * mutex: retention prunes on the recorder's event loop while its sealing
 * thread adds); every file is written as a temporary
 * ".idx-*.tmp" and renamed (fsynced only when asked: a run torn by a
 * power loss fails its checksums), so a crash at any point leaves runs
 * that each validate themselves.  Memory of a build
 * is bounded by EVT_IDX_BATCH_KEYS keys (expected; 12 bytes each, twice
 * while they are sorted: about 7 MiB with the eighth reserved beyond the
 * mean) plus one partition's filter build (EVT_IDX_PART_KEYS keys, about
 * 45 bytes each: 3 MiB), whatever the run's size.
 */
#ifndef EVTAPE_IDINDEX_H
#define EVTAPE_IDINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/record.h"
#include "evtape/segment.h"

#define EVT_IDX_MAGIC "\x89" "EVTRUN\n"	/* 8 bytes */
#define EVT_IDX_VERSION 3	/* written; versions 1 (16-bit slots) and 2
				   (one CRC a partition) are read */
#define EVT_IDX_SLOT_CHUNK 4096	/* version 3: slot bytes a CRC covers */
#define EVT_IDX_BLK_CHUNK 64	/* version 3: block entries a CRC covers */
#define EVT_IDX_HDR_SIZE 64
#define EVT_IDX_SEG_SIZE 32	/* segment table entry */
#define EVT_IDX_BLK_SIZE 24	/* block table entry */
#define EVT_IDX_PART_SIZE 32	/* partition table entry */
#define EVT_IDX_NAME_LEN 33	/* "idx-" 12 "-" 12 ".evi" */
#define EVT_IDX_FANOUT 8	/* runs of one level merged at once */
#define EVT_IDX_PART_KEYS 65536	/* keys per partition (expected) */
#define EVT_IDX_FP_BITS 2	/* slot bits beyond a location's: see
				   evt_idx_slot_bits */
#define EVT_IDX_BATCH_KEYS (1u << 18) /* keys a build holds at once */
#define EVT_IDX_MAX_KEYS (1u << 22)   /* a run over half of these, or */
#define EVT_IDX_MAX_BLOCKS (1u << 13) /* of these, is not merged again */
#define EVT_IDX_MAX_SEGS (1u << 20)
#define EVT_IDX_CATCH_UP 256	/* segments a non-full catch-up indexes */
#define EVT_IDX_MAX_PARTS (1u << 20)

/* One covered segment of a run (segment table entry). */
struct evt_idx_seg {
	uint64_t seq;
	uint64_t size;		/* file size when the run was built */
	uint32_t trl_crc;	/* its trailer's CRC (last 4 bytes) */
	uint32_t first;		/* first block table entry */
	uint32_t nblocks;	/* block table entries */
};

/* One block of a run (block table entry). */
struct evt_idx_blk {
	uint64_t off;		/* block header offset in its segment */
	uint32_t zlen, nguid;	/* from its header: column at off+64+zlen */
	uint32_t flags;		/* header flags (EVT_BLKF_*); 0 if the block
				   did not check when the run was built */
	uint32_t seg;		/* index in the segment table */
};

/* One partition's filter (partition table entry). */
struct evt_idx_part {
	uint64_t off;		/* slots: evt_filter_slot_bytes((segcount +
				   2) * seglen, the run's slotbits) bytes */
	uint64_t seed;
	uint32_t seglen, segcount;
	uint32_t crc;		/* versions 1, 2: CRC-32C of the slots;
				   3: 0 (each chunk has its own) */
	uint32_t nkeys;		/* distinct keys; 0: no filter, no slots */
};

/* A run read from its file (evt_idx_run_parse); owns its tables. */
struct evt_idx_run {
	uint64_t lo, hi;	/* from the file name */
	unsigned locbits, locshift;
	unsigned slotbits;	/* 16 in version 1; 1..16 in version 2 */
	unsigned level;
	unsigned version;
	uint64_t nkeys;
	uint32_t nsegs, nblocks, nparts;
	struct evt_idx_seg *segs;	/* newest (highest seq) first; NULL
					   in a lookup's run (segtab) */
	const uint8_t *segtab;	/* a lookup's run: the segment table in the
				   file's bytes (borrowed from the view's
				   mapping), checked by its walk */
	struct evt_idx_blk *blks;	/* nblocks entries; in version 3 only
					   those of chunks with blk_ok set
					   are filled (evt_idx_load_blocks) */
	uint8_t *blk_ok;	/* version 3: per block chunk, read and
				   checked; NULL: every entry is */
	uint64_t blk_at;	/* file offset of the block table */
	struct evt_idx_part *parts;
	uint64_t size;		/* file size */
};

/* Formats a run's file name into out (cap >= EVT_IDX_NAME_LEN + 1). */
void evt_idx_name(uint64_t lo, uint64_t hi, char *out, size_t cap);

/* Parses a run file name: 1 and *lo, *hi if it is one (lo <= hi). */
int evt_idx_parse_name(const char *name, uint64_t *lo, uint64_t *hi);

/* The partition (0..nparts-1) an id key falls in. */
uint32_t evt_idx_part_of(uint64_t key, uint32_t nparts);

/*
 * Parses and checks a run's header and directory from buf (the first len
 * bytes of a file of file_size bytes; the directory must be within buf,
 * see evt_idx_run_dir_len).  Sans-I/O, for the fuzzer too.  Returns 0 and
 * fills *run (free with evt_idx_run_free), or EVT_ERR_CORRUPT /
 * EVT_ERR_VERSION / EVT_ERR_TRUNCATED with *why (static text) and *at
 * (the offset of the problem), or EVT_ERR_NOMEM.
 */
int evt_idx_run_parse(const uint8_t *buf, size_t len, uint64_t file_size,
    struct evt_idx_run *run, const char **why, uint64_t *at);

/* The bytes of header + directory (and, in version 3, block table) a
 * whole parse needs, from a run's header (the first EVT_IDX_HDR_SIZE
 * bytes): 0 if the header does not check.  Given fewer bytes, but the
 * directory, evt_idx_run_parse of a version 3 run leaves the block table
 * to evt_idx_load_blocks. */
uint64_t evt_idx_run_dir_len(const uint8_t *hdr);

/*
 * The slot width a writer gives a run of nblocks blocks: the location
 * bits plus EVT_IDX_FP_BITS, within 8..16, so that an absent id names
 * about 2^-EVT_IDX_FP_BITS blocks of each run it is looked up in (a
 * GUID column read each) whatever the run's size.
 */
unsigned evt_idx_slot_bits(uint32_t nblocks);

/* Looks key up in partition slots (checked by the caller): 1 and the blocks [*first, *first + *count) of the run's block
 * table that may hold it, or 0. */
int evt_idx_probe(const struct evt_idx_run *run, const struct evt_idx_part *p,
    const uint8_t *slots, uint64_t key, uint32_t *first, uint32_t *count);

/* The bytes partition p takes in the run file (its slots and, in
 * version 3, a CRC after every EVT_IDX_SLOT_CHUNK of them). */
uint64_t evt_idx_part_bytes(const struct evt_idx_run *run, uint32_t p);

/* Checks partition p's file bytes raw (evt_idx_part_bytes of them) and
 * copies its slots to out (evt_filter_slot_bytes): 0 or
 * EVT_ERR_CHECKSUM.  Sans-I/O. */
int evt_idx_part_slots(const struct evt_idx_run *run, uint32_t p,
    const uint8_t *raw, uint8_t *out);

/* Reads and checks the block table entries [first, first + count) of a
 * version 3 run (the chunks holding them) from fd, the run file; a no-op
 * for entries already read and for versions 1 and 2.  0,
 * EVT_ERR_CHECKSUM (a chunk's CRC or an entry does not check),
 * EVT_ERR_IO. */
int evt_idx_load_blocks(int fd, struct evt_idx_run *run, uint32_t first,
    uint32_t count);

/* Frees a parsed run's tables. */
void evt_idx_run_free(struct evt_idx_run *run);

/* Reads and checks the run file at path; same returns as
 * evt_idx_run_parse, plus EVT_ERR_IO. */
int evt_idx_run_load(const char *path, struct evt_idx_run *run,
    const char **why, uint64_t *at);

/* Reads partition p of a loaded run from path and checks its CRC: 0 and
 * *slots (malloc'ed; NULL when the partition has no keys), or
 * EVT_ERR_CHECKSUM / EVT_ERR_IO / EVT_ERR_NOMEM. */
int evt_idx_read_part(const char *path, const struct evt_idx_run *run,
    uint32_t p, uint8_t **slots);

/*
 * Maintenance, holding the archive's writer lock.  warn (may be NULL)
 * gets one line per problem; sync: fsync files and the directory
 * (what the writer's policy says).
 *
 * evt_idx_add: adds a run for the sealed segment seq of dir, then merges
 * runs (EVT_IDX_FANOUT of one level into one of the next).
 *
 * evt_idx_catch_up: deletes run files that do not check, that another
 * run supersedes (covers all their segments), that cover no existing
 * segment, or (full) whose segments' identities no longer match
 * (rewritten by repair or compaction); then adds runs for every sealed
 * segment no run covers (newest first; unless full, at most
 * EVT_IDX_CATCH_UP of them), except segment skip_seq (the open one; 0:
 * none), and merges.
 *
 * evt_idx_prune: deletes the runs whose segments all are gone.
 *
 * Each returns 0 or a negative evt_err (the archive's events are never at
 * stake: the index is derived data).
 */
typedef void (*evt_idx_warn_cb)(void *arg, const char *msg);
int evt_idx_add(const char *dir, uint64_t seq, int sync,
    evt_idx_warn_cb warn, void *arg);
int evt_idx_catch_up(const char *dir, uint64_t skip_seq, int full, int sync,
    evt_idx_warn_cb warn, void *arg);
int evt_idx_prune(const char *dir, int sync, evt_idx_warn_cb warn,
    void *arg);

/*
 * Sets the keys a build holds at once for the rest of the process
 * (rounded down to whole partitions, at least one; 0: EVT_IDX_BATCH_KEYS).
 * A build reads every GUID column of its segments once per batch: a
 * batch tool that builds large runs and can spend the memory (12 bytes a
 * key, twice while sorting) sets more, before its first build; a
 * recorder keeps the default.
 */
void evt_idx_set_batch_keys(size_t keys);

/*
 * Lookup support for evt_archive_find.  The segments a lookup checks runs
 * against: n of them, ascending sequence numbers; get(arg, i, m, seqs,
 * sizes) gives segments i .. i + m - 1's (a size EVT_SIZE_UNKNOWN where
 * not known): a batch of up to 128 for each 128 segments a run covers,
 * one at a time O(log n) times per run and per candidate.
 */
struct evt_idx_segs {
	size_t n;
	void (*get)(void *arg, size_t i, size_t m, uint64_t *seqs,
	    uint64_t *sizes);
	void *arg;
};

/*
 * evt_idx_view_open loads every valid run of dir (names[0..nnames): from
 * the archive's listing) and decides which of them may be used: not one
 * where a segment it covers has another size, or is missing while a
 * higher one is listed ("identity").  A segment's cover is the usable
 * run holding it that covers most segments.  It probes each usable run
 * for key: the candidate blocks of every usable run, newest segment
 * first (then by offset), in *c (borrowed until evt_idx_view_close).  A
 * run that does not check is not used (verify reports it).  Returns the
 * number of candidates and *out (close it), or EVT_ERR_NOMEM.  segs is
 * copied; at and arg must stay valid until close.  Memory: each run's
 * directory, mapped, and the candidates; nothing per listed segment.
 */
struct evt_idx_view;
struct evt_idx_cand {
	size_t seg;		/* index into the segments */
	uint64_t off;		/* block offset */
	struct evt_idx_seg ent;	/* the run's entry (identity) */
	struct evt_idx_blk blk;
	size_t run;
};
int evt_idx_view_open(const char *dir, char *const *names, size_t nnames,
    const struct evt_idx_segs *segs, uint64_t key, struct evt_idx_view **out,
    const struct evt_idx_cand **c);
/* Which usable run covers segment i, or SIZE_MAX (also for v NULL). */
size_t evt_idx_view_covering(const struct evt_idx_view *v, size_t i);
/* The highest segment below i that no usable run covers, or SIZE_MAX
 * (v NULL: i - 1).  Jumps over the runs' spans: a lookup walks the
 * segments it must open, not all of them. */
size_t evt_idx_view_uncovered_below(const struct evt_idx_view *v, size_t i);
/* Marks run k unusable (a candidate's identity did not match): the
 * segments it covered are covered by another run or by none. */
void evt_idx_view_drop(struct evt_idx_view *v, size_t k);
void evt_idx_view_close(struct evt_idx_view *v);

/*
 * Checks candidate c against the segment file at path: -1 if the segment
 * is not the one the run covered (its size or trailer CRC differ, or it
 * is gone: drop the run), 0 if the block surely does not hold id (its
 * GUID column, which its flags say holds exactly its ids, lacks it), 2 if
 * the column holds it, 1 if only decoding can tell.
 */
int evt_idx_check_cand(const char *path, const struct evt_idx_cand *c,
    const char *id, size_t len);

/*
 * Checks every run file of dir (header, directory, every partition's
 * CRC, covered segments' identities): calls report(arg, path, offset,
 * what) for each problem.  Returns the number of problems or a negative
 * evt_err.
 */
typedef void (*evt_idx_report_cb)(void *arg, const char *path, uint64_t off,
    const char *what);
int evt_idx_verify(const char *dir, evt_idx_report_cb report, void *arg);

/* Deletes every run file of dir (repair, before rebuilding). */
int evt_idx_remove_all(const char *dir, int sync);

#endif
