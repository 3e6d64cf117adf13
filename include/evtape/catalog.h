/*
 * catalog.h: the archive directory as listed, and the archive's catalog
 * (formats/catalog.md): a derived file "CATALOG" beside the segments that
 * a writer keeps, holding the listing (segment numbers, id index runs)
 * with the directory's identity and modification time when it was
 * listed, and, per sealed segment, its identity, receive-time range and
 * counts.  A reader that finds the directory's (dev, ino, mtime) equal to
 * the catalog's takes the list of names from it instead of listing
 * thousands of entries, and skips sealed segments outside a time window
 * without opening them.  Any create, delete or rename in the directory
 * changes its mtime, so a writer that knows nothing of the catalog makes
 * it stale just by changing the directory; a missing, damaged or stale
 * catalog costs time, never an event: the reader lists the directory.
 *
 * The catalog is rewritten in place (pwrite into the existing file; a
 * rename would change the very mtime it records) by the holder of the
 * writer's lock only; a torn or concurrent write fails its CRCs.  Readers
 * never write it.  Memory: a reader maps the file (72 bytes a segment,
 * 16 a run, at most EVT_CAT_MAX_SEGS and EVT_CAT_MAX_RUNS entries); a
 * writer builds a copy of it in memory.
 */
#ifndef EVTAPE_CATALOG_H
#define EVTAPE_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define EVT_CAT_NAME "CATALOG"
#define EVT_CAT_MAGIC "\x89" "EVTCAT\n"	/* 8 bytes */
#define EVT_CAT_VERSION 1
#define EVT_CAT_HDR_SIZE 64	/* at least; revision 1.5 wrote this */
#define EVT_CAT_HDR_SIZE_SUMS 72	/* with the roll-up runs (1.6) */
#define EVT_CAT_SEG_SIZE 72	/* segment entry */
#define EVT_CAT_RUN_SIZE 16	/* run entry */
#define EVT_CAT_MAX_SEGS (1u << 24)
#define EVT_CAT_MAX_RUNS (1u << 20)
#define EVT_CATF_LISTING 1	/* header flag: dev, ino, mtime name a
				   settled listing */
#define EVT_CATS_SEALED 1	/* entry flag: sealed, header and trailer
				   checked; size .. nrecords are valid */

/* Directory listing, shared by the archive, the id index and the
 * catalog: one readdir pass, classified. */
struct evt_lseg {
	uint64_t seq;
	uint64_t ino;		/* d_ino */
};
struct evt_listing {
	struct evt_lseg *segs;	/* ascending sequence numbers */
	size_t nseg;
	char **runs;		/* id index run file names */
	size_t nrun;
	char **sums;		/* summary roll-up run file names
				   (rollup.h) */
	size_t nsum;
	char **temps;		/* ".compact-*", ".repair-*", ".idx-*" */
	size_t ntemp;
	char **strays;		/* anything else but ".", "..", LOCK,
				   CATALOG, nats-publish.json(.tmp) */
	size_t nstray;
	struct stat before, after; /* the directory, around the reading */
};

/*
 * Lists dir into *l (zeroed first; free with evt_listing_free, also after
 * an error).  Returns 0, EVT_ERR_NOTFOUND (no such directory), EVT_ERR_IO
 * or EVT_ERR_NOMEM.
 */
int evt_dir_list(const char *dir, struct evt_listing *l);
void evt_listing_free(struct evt_listing *l);

/* One segment entry (formats/catalog.md, "Segment entry"). */
struct evt_cat_seg {
	uint64_t seq, ino, size;
	int64_t mtime_ns;	/* st_mtim in ns when catalogued */
	int64_t first_rx, last_rx;	/* from the trailer */
	uint64_t nevents, nrecords;	/* from the trailer */
	uint32_t trl_crc;	/* the trailer's CRC (its last 4 bytes) */
	uint32_t flags;		/* EVT_CATS_* */
};

/* One run entry: an id index run file's range (its name). */
struct evt_cat_run {
	uint64_t lo, hi;
};

/*
 * A parsed catalog: the header's fields, and its entries left in the
 * file's bytes (decoded one at a time by evt_cat_seg_at: a reader of
 * 10,000 segments touches 700 kB once instead of copying it).  Borrows
 * the bytes it was parsed from, or owns a mapping (evt_cat_load).
 */
struct evt_cat {
	uint64_t dev, ino;	/* the directory's */
	int64_t mtime_s;
	uint32_t mtime_ns;
	uint32_t flags;		/* EVT_CATF_* */
	uint32_t nseg, nrun;
	const uint8_t *sp, *rp;	/* first segment / run entry */
	int has_sums;		/* it lists the roll-up runs (revision 1.6:
				   hdr_size >= 72); 0: they are not known */
	uint32_t nsum;
	const uint8_t *up;	/* first roll-up run entry */
	unsigned sstride, rstride;
	void *map;		/* owned mapping (NULL: borrowed bytes) */
	size_t maplen;
};

/*
 * Parses a catalog file's bytes (buf, len; borrowed by *c).  Sans-I/O,
 * for the fuzzer too.  Returns 0 and fills *c, or EVT_ERR_CORRUPT /
 * EVT_ERR_CHECKSUM / EVT_ERR_TRUNCATED / EVT_ERR_VERSION with *why
 * (static text) and *at (offset of the problem).
 */
int evt_cat_parse(const uint8_t *buf, size_t len, struct evt_cat *c,
    const char **why, uint64_t *at);

/* Decodes segment entry i (< nseg) / run entry i (< nrun). */
void evt_cat_seg_at(const struct evt_cat *c, uint32_t i,
    struct evt_cat_seg *e);
void evt_cat_run_at(const struct evt_cat *c, uint32_t i,
    struct evt_cat_run *r);

/* Decodes of segment entry i (< nseg) only its seq, size and flags
 * (an archive's listing: the whole entry for 10,000 segments was a
 * twentieth of a lookup). */
void evt_cat_seg_brief(const struct evt_cat *c, uint32_t i, uint64_t *seq,
    uint64_t *size, uint32_t *flags);

/* Decodes of segment entries [i, i + m) (within nseg) the seq into
 * seqs[] and, of a SEALED one, the size into sizes[] (UINT64_MAX,
 * EVT_SIZE_UNKNOWN, for one that is not): the id index's view of the
 * listing, a batch per call. */
void evt_cat_seg_sizes(const struct evt_cat *c, uint32_t i, uint32_t m,
    uint64_t *seqs, uint64_t *sizes);

/* Decodes roll-up run entry i (< nsum): the range of a file
 * sum-LO-HI.evs (rollup.h). */
void evt_cat_sum_at(const struct evt_cat *c, uint32_t i,
    struct evt_cat_run *r);

/* The encoded size of a catalog of nseg segments, nrun id index runs and
 * nsum roll-up runs, and the encoding of h's header fields with those
 * entries into out (that many bytes, CRCs computed; revision 1.6). */
size_t evt_cat_size(uint32_t nseg, uint32_t nrun, uint32_t nsum);
void evt_cat_encode(const struct evt_cat *h, const struct evt_cat_seg *segs,
    uint32_t nseg, const struct evt_cat_run *runs, uint32_t nrun,
    const struct evt_cat_run *sums, uint32_t nsum, uint8_t *out);

/* Unmaps an owned mapping; the catalog is empty afterwards. */
void evt_cat_free(struct evt_cat *c);

/* Segment seq's entry into *e: 1, or 0 when there is none (binary
 * search). */
int evt_cat_find(const struct evt_cat *c, uint64_t seq,
    struct evt_cat_seg *e);

/*
 * Readers: loads dir's catalog.  Returns 1 with *c when it parses and its
 * listing matches the directory now (dev, ino and mtime equal, flag
 * EVT_CATF_LISTING); 0 when there is none, it does not parse or it is
 * stale (*c then empty: list the directory); EVT_ERR_NOMEM.  The
 * environment variable EVTAPE_NO_CATALOG, set and not empty, makes it
 * always 0.
 */
int evt_cat_load(const char *dir, struct evt_cat *c);

/*
 * Writers, holding the archive's writer lock: lists dir (twice if the
 * directory changed meanwhile, waiting out a directory mtime too recent
 * to be trusted: at most EVT_CAT_SETTLE_MS on a file system of fine
 * timestamps), reads the trailer of every segment the old catalog does
 * not describe with the same (ino, size, mtime), and rewrites CATALOG in
 * place.  Returns 0 or a negative evt_err (derived data: nothing is lost
 * when it fails; readers list the directory).
 */
#define EVT_CAT_SETTLE_MS 20
int evt_cat_update(const char *dir);

/*
 * Checks dir's catalog for `evtool verify` (EVTAPE_NO_CATALOG does not
 * matter: it checks the file, not uses it): report(arg, path, offset,
 * what) once if it does not parse (damaged), once if its entries differ
 * from the directory (segment numbers, run files, a sealed segment's size
 * or modification time), saying whether readers ignore it (a damaged or
 * stale one) or may be misled by it (one that passes for current).
 * Returns the problems (1 for a damaged catalog or a current one that
 * differs; a stale one is reported, not counted: the directory changes
 * under a running writer), 0 without a catalog, or a negative evt_err.
 */
typedef void (*evt_cat_report_cb)(void *arg, const char *path, uint64_t off,
    const char *what);
int evt_cat_verify(const char *dir, evt_cat_report_cb report, void *arg);

/*
 * Whether a catalog entry proves that its sealed segment holds no frame
 * received in [from, to) (to INT64_MAX: no end): 1 if so.
 */
int evt_cat_outside(const struct evt_cat_seg *e, int64_t from, int64_t to);

#endif
