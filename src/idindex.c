/*
 * idindex.c: the archive-level id index (idindex.h, formats/idindex.md).
 *
 * A run file covers a set of sealed segments.  Its byte layout (version
 * 3; versions 1 and 2, still read, keep the block table, unchunked,
 * between the segment and partition tables, and one CRC a partition):
 *
 *   OFFSET              SIZE  FIELD
 *   0                   64    header (below)
 *   64                  32*S  segment table, newest (highest seq) first
 *   64+32*S             32*P  partition table
 *   dir_end             24*B  block table: each segment's directory
 *                       + 4 per 64 entries   blocks, a CRC after each 64
 *   ...                       the partitions' filter slots, in order, a
 *                             CRC after each 4096 bytes
 *
 * A lookup reads the directory, the chunks holding its key's three slots
 * and, on a match, the block table chunks it names: not whole partitions
 * and block tables (formats/idindex.md, "Chunks").  Its view keeps each
 * run's segment table in the file's bytes, checks it against the
 * archive's listing in one walk, and holds nothing per listed segment:
 * a segment's cover is worked out from the runs' spans when asked.
 *
 *   header: 0 magic "\x89EVTRUN\n" | 8 u16 version | 10 u16 hdr_size 64 |
 *   12 u8 locbits | 13 u8 locshift | 14 u16 level | 16 u32 S | 20 u32 B |
 *   24 u32 P | 28 u8 slotbits (versions 2, 3; 0 in 1) | 29..31 reserved |
 *   32 u64 nkeys | 40 u64 dir_len |
 *   48 u32 dir_crc | 52..59 reserved | 60 u32 crc of bytes 0..59
 *
 * Building: the segments' block directories give the block table (a
 * location is a block table index >> locshift, so the newest segment's
 * first block has the smallest location and wins among duplicate keys,
 * as evt_archive_find's newest-first order wants).  Keys are read from
 * the GUID columns of blocks whose flags say IDCOL, else by decoding; they
 * are collected a batch of partitions at a time (EVT_IDX_BATCH_KEYS), so a
 * build never holds more than that many keys whatever the run's size.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/catalog.h"
#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/filter.h"
#include "evtape/idindex.h"
#include "evtape/segment.h"
#include "le.h"
#include "segment_int.h"
#include "segment_layout.h"

/* Header offsets (formats/idindex.md, "Header"). */
enum {
	IX_MAGIC = 0, IX_VERSION = 8, IX_HDR_SIZE = 10, IX_LOCBITS = 12,
	IX_LOCSHIFT = 13, IX_LEVEL = 14, IX_NSEGS = 16, IX_NBLOCKS = 20,
	IX_NPARTS = 24, IX_SLOTBITS = 28, IX_NKEYS = 32, IX_DIR_LEN = 40, IX_DIR_CRC = 48,
	IX_CRC = 60,
};

/* Formats a run file name. */
void
evt_idx_name(uint64_t lo, uint64_t hi, char *out, size_t cap)
{
	evt_run_name("idx", ".evi", lo, hi, out, cap);
}

/* Parses a run file name. */
int
evt_idx_parse_name(const char *name, uint64_t *lo, uint64_t *hi)
{
	return evt_run_parse_name(name, "idx", ".evi", lo, hi);
}

/* The partition of a key: the high 32 bits of its mix scaled to nparts. */
uint32_t
evt_idx_part_of(uint64_t key, uint32_t nparts)
{
	return (uint32_t)(((evt_mix64(key) >> 32) * nparts) >> 32);
}

/* The bytes of a version 3 block table of nblocks entries (a CRC after
 * each chunk of EVT_IDX_BLK_CHUNK of them). */
static uint64_t
blk_table_bytes(uint32_t nblocks)
{
	return (uint64_t)EVT_IDX_BLK_SIZE * nblocks + 4 * (((uint64_t)nblocks +
	    EVT_IDX_BLK_CHUNK - 1) / EVT_IDX_BLK_CHUNK);
}

/* The file bytes of slot_bytes slots in a run of version `version`. */
static uint64_t
chunked_bytes(uint64_t slot_bytes, unsigned version)
{
	if (version < 3)
		return slot_bytes;
	return slot_bytes + 4 * ((slot_bytes + EVT_IDX_SLOT_CHUNK - 1) /
	    EVT_IDX_SLOT_CHUNK);
}

/* The header + directory (+ version 3 block table) length a header
 * announces (0: not a header). */
uint64_t
evt_idx_run_dir_len(const uint8_t *h)
{
	if (memcmp(h + IX_MAGIC, EVT_IDX_MAGIC, 8) != 0 ||
	    !evt_fixed_crc_ok(h, EVT_IDX_HDR_SIZE))
		return 0;
	uint64_t n = EVT_IDX_HDR_SIZE + le64_get(h + IX_DIR_LEN);
	if (le16_get(h + IX_VERSION) == 3)
		n += blk_table_bytes(le32_get(h + IX_NBLOCKS));
	return n;
}

/* Frees a run's tables. */
void
evt_idx_run_free(struct evt_idx_run *run)
{
	evt_table_free(run->segs);
	if (run->blk_ok != NULL)
		free(run->blks);	/* malloc'ed: filled chunk by chunk */
	else
		evt_table_free(run->blks);
	free(run->blk_ok);
	free(run->parts);
	run->segs = NULL;
	run->segtab = NULL;
	run->blks = NULL;
	run->blk_ok = NULL;
	run->parts = NULL;
}

/* Decodes the segment table entry at p. */
static inline void
seg_decode(const uint8_t *p, struct evt_idx_seg *s)
{
	s->seq = le64_get(p);
	s->size = le64_get(p + 8);
	s->trl_crc = le32_get(p + 16);
	s->first = le32_get(p + 20);
	s->nblocks = le32_get(p + 24);
}

/* Segment table entry i of a run: decoded, or (a lookup's run, whose
 * table is left in the file's bytes) decoded now. */
static void
seg_get(const struct evt_idx_run *run, uint32_t i, struct evt_idx_seg *s)
{
	if (run->segs != NULL)
		*s = run->segs[i];
	else
		seg_decode(run->segtab + (size_t)EVT_IDX_SEG_SIZE * i, s);
}

/* Checks entry i of a segment table (s; prev: entry i - 1's sequence
 * number, *next: the block table entry its range must start at, moved
 * past it). */
static inline int
seg_check(const struct evt_idx_run *run, uint32_t i,
    const struct evt_idx_seg *s, uint64_t prev, uint32_t *next,
    const char **why, uint64_t *at)
{
	uint64_t off = EVT_IDX_HDR_SIZE + (uint64_t)EVT_IDX_SEG_SIZE * i;
	if (s->seq < run->lo || s->seq > run->hi || (i > 0 && s->seq >= prev))
		return evt_parse_fail(why, at, "segment table: sequence numbers "
		    "not descending within the name's range", off,
		    EVT_ERR_CORRUPT);
	if (s->first != *next || s->nblocks > run->nblocks - *next)
		return evt_parse_fail(why, at, "segment table: block ranges do "
		    "not tile the block table", off, EVT_ERR_CORRUPT);
	*next += s->nblocks;
	return 0;
}

/* Checks that a segment table's block ranges ended at the table's end
 * (next: where they did). */
static int
seg_check_end(const struct evt_idx_run *run, uint32_t next, const char **why,
    uint64_t *at)
{
	if (next != run->nblocks)
		return evt_parse_fail(why, at, "segment table: block ranges do "
		    "not tile the block table", EVT_IDX_HDR_SIZE,
		    EVT_ERR_CORRUPT);
	return 0;
}

/* Parses the segment table at p; checks order and block ranges. */
static int
parse_segs(const uint8_t *p, struct evt_idx_run *run, const char **why,
    uint64_t *at)
{
	uint32_t next = 0;
	for (uint32_t i = 0; i < run->nsegs; i++) {
		struct evt_idx_seg *s = &run->segs[i];
		seg_decode(p + (size_t)EVT_IDX_SEG_SIZE * i, s);
		int rc = seg_check(run, i, s, i > 0 ? run->segs[i - 1].seq : 0,
		    &next, why, at);
		if (rc != 0)
			return rc;
	}
	return seg_check_end(run, next, why, at);
}

/* Parses block table entries [first, first + n) from p (entry `first`'s
 * bytes, at file offset base). */
static int
parse_blks(const uint8_t *p, uint64_t base, uint32_t first, uint32_t n,
    struct evt_idx_run *run, const char **why, uint64_t *at)
{
	for (uint32_t i = first; i < first + n; i++) {
		const uint8_t *e = p + (size_t)EVT_IDX_BLK_SIZE * (i - first);
		struct evt_idx_blk *b = &run->blks[i];
		b->off = le64_get(e);
		b->zlen = le32_get(e + 8);
		b->nguid = le32_get(e + 12);
		b->flags = le32_get(e + 16);
		b->seg = le32_get(e + 20);
		struct evt_idx_seg s = {0};
		if (b->seg < run->nsegs)
			seg_get(run, b->seg, &s);
		if (b->seg >= run->nsegs || i < s.first ||
		    i - s.first >= s.nblocks ||
		    b->off < EVT_SEG_HDR_SIZE || b->nguid > EVT_BLK_MAX_GUIDS)
			return evt_parse_fail(why, at,
			    "block table entry inconsistent",
			    base + (uint64_t)EVT_IDX_BLK_SIZE * (i - first),
			    EVT_ERR_CORRUPT);
	}
	return 0;
}

/* Checks and parses chunk c of a version 3 block table from p (its
 * bytes, at file offset base). */
static int
parse_blk_chunk(const uint8_t *p, uint64_t base, uint32_t c,
    struct evt_idx_run *run, const char **why, uint64_t *at)
{
	uint32_t first = c * EVT_IDX_BLK_CHUNK;
	uint32_t n = run->nblocks - first < EVT_IDX_BLK_CHUNK ?
	    run->nblocks - first : EVT_IDX_BLK_CHUNK;
	size_t len = (size_t)EVT_IDX_BLK_SIZE * n;
	if (evt_crc32c(0, p, len) != le32_get(p + len))
		return evt_parse_fail(why, at, "block table chunk checksum "
		    "mismatch", base + len, EVT_ERR_CHECKSUM);
	int rc = parse_blks(p, base, first, n, run, why, at);
	if (rc == 0)
		run->blk_ok[c] = 1;
	return rc;
}

/* Parses the partition table at p (file offset base): each partition's
 * geometry, and that they tile the file from `want` to its end. */
static int
parse_parts(const uint8_t *p, uint64_t base, uint64_t file_size,
    uint64_t want, struct evt_idx_run *run, const char **why, uint64_t *at)
{
	for (uint32_t i = 0; i < run->nparts; i++) {
		const uint8_t *e = p + (size_t)EVT_IDX_PART_SIZE * i;
		struct evt_idx_part *q = &run->parts[i];
		q->off = le64_get(e);
		q->seed = le64_get(e + 8);
		q->seglen = le32_get(e + 16);
		q->segcount = le32_get(e + 20);
		q->crc = le32_get(e + 24);
		q->nkeys = le32_get(e + 28);
		uint64_t nslots = (uint64_t)(q->segcount + 2ull) * q->seglen;
		int geo = q->nkeys == 0 ? q->seglen == 0 && q->segcount == 0 :
		    q->seglen != 0 && (q->seglen & (q->seglen - 1)) == 0 &&
		    q->segcount != 0 && nslots <= UINT32_MAX;
		uint64_t bytes = geo && q->nkeys != 0 ? chunked_bytes(
		    evt_filter_slot_bytes((uint32_t)nslots, run->slotbits),
		    run->version) : 0;
		if (!geo || q->off != want || bytes > file_size - want)
			return evt_parse_fail(why, at, "partition table entry "
			    "inconsistent", base + (uint64_t)EVT_IDX_PART_SIZE
			    * i, EVT_ERR_CORRUPT);
		want += bytes;
	}
	if (want != file_size)
		return evt_parse_fail(why, at,
		    "file size is not that of its partitions",
		    file_size, EVT_ERR_CORRUPT);
	return 0;
}

/* Checks the header's fields (the header CRC is good). */
static int
parse_header(const uint8_t *buf, struct evt_idx_run *run, const char **why,
    uint64_t *at)
{
	run->version = le16_get(buf + IX_VERSION);
	if (run->version < 1 || run->version > 3 ||
	    le16_get(buf + IX_HDR_SIZE) != EVT_IDX_HDR_SIZE)
		return evt_parse_fail(why, at, "run version or header size not "
		    "supported", IX_VERSION, EVT_ERR_VERSION);
	/* Version 1 had 16-bit slots and byte 28 reserved. */
	run->slotbits = run->version == 1 ? 16 : buf[IX_SLOTBITS];
	run->locbits = buf[IX_LOCBITS];
	run->locshift = buf[IX_LOCSHIFT];
	run->level = le16_get(buf + IX_LEVEL);
	run->nsegs = le32_get(buf + IX_NSEGS);
	run->nblocks = le32_get(buf + IX_NBLOCKS);
	run->nparts = le32_get(buf + IX_NPARTS);
	run->nkeys = le64_get(buf + IX_NKEYS);
	/* Version 3 keeps the block table out of the directory. */
	uint64_t dlen = le64_get(buf + IX_DIR_LEN), blk = run->version < 3 ?
	    (uint64_t)EVT_IDX_BLK_SIZE * run->nblocks : 0;
	if (run->locbits > 10 || run->locbits + run->locshift > 32 ||
	    run->slotbits < 1 || run->slotbits > 16 ||
	    run->locbits > run->slotbits ||
	    run->nsegs == 0 || run->nsegs > EVT_IDX_MAX_SEGS ||
	    run->nblocks > EVT_BLK_MAX_GUIDS || run->nparts == 0 ||
	    run->nparts > EVT_IDX_MAX_PARTS ||
	    dlen != (uint64_t)EVT_IDX_SEG_SIZE * run->nsegs + blk +
	    (uint64_t)EVT_IDX_PART_SIZE * run->nparts)
		return evt_parse_fail(why, at, "header fields inconsistent",
		    IX_LOCBITS,
		    EVT_ERR_CORRUPT);
	return 0;
}

/* Allocates the tables of a run whose header parse_header read (lite:
 * not the segment table, left in the file's bytes). */
static int
alloc_tables(struct evt_idx_run *run, int lite)
{
	if (!lite)
		run->segs = evt_table_alloc(run->nsegs * sizeof *run->segs);
	run->parts = calloc(run->nparts, sizeof *run->parts);
	if (run->version < 3) {
		run->blks = evt_table_alloc((run->nblocks + 1) *
		    sizeof *run->blks);
	} else {
		/* Not cleared: an entry is read only once its chunk is
		 * (blk_ok), and a lookup names a few chunks of thousands
		 * (clearing them all was a tenth of a lookup over 10,000
		 * segments). */
		uint32_t nc = (run->nblocks + EVT_IDX_BLK_CHUNK - 1) /
		    EVT_IDX_BLK_CHUNK;
		run->blks = malloc((run->nblocks + 1) * sizeof *run->blks);
		run->blk_ok = calloc(nc + 1, 1);
	}
	if ((run->segs == NULL && !lite) || run->blks == NULL ||
	    run->parts == NULL ||
	    (run->version >= 3 && run->blk_ok == NULL)) {
		evt_idx_run_free(run);
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Parses the tables after the header (version 3: the block table too
 * when buf holds it; lite: the segment table is left in buf, unchecked,
 * for the caller's walk). */
static int
parse_tables(const uint8_t *buf, size_t len, uint64_t file_size,
    struct evt_idx_run *run, const char **why, uint64_t *at, int lite)
{
	const uint8_t *d = buf + EVT_IDX_HDR_SIZE;
	uint64_t dend = EVT_IDX_HDR_SIZE + le64_get(buf + IX_DIR_LEN);
	int rc = 0;
	if (lite)
		run->segtab = d;
	else
		rc = parse_segs(d, run, why, at);
	d += (size_t)EVT_IDX_SEG_SIZE * run->nsegs;
	uint64_t base = EVT_IDX_HDR_SIZE + (uint64_t)EVT_IDX_SEG_SIZE *
	    run->nsegs;
	if (run->version < 3) {
		run->blk_at = base;
		if (rc == 0)
			rc = parse_blks(d, base, 0, run->nblocks, run, why, at);
		d += (size_t)EVT_IDX_BLK_SIZE * run->nblocks;
		base += (uint64_t)EVT_IDX_BLK_SIZE * run->nblocks;
		return rc != 0 ? rc : parse_parts(d, base, file_size, dend,
		    run, why, at);
	}
	run->blk_at = dend;
	uint64_t bt = blk_table_bytes(run->nblocks);
	if (rc == 0 && bt > file_size - dend)
		rc = evt_parse_fail(why, at, "block table runs past the end "
		    "of the file", dend, EVT_ERR_TRUNCATED);
	if (rc == 0)
		rc = parse_parts(d, base, file_size, dend + bt, run, why, at);
	if (rc != 0 || len < dend + bt)
		return rc;	/* the blocks are read when named */
	size_t cs = EVT_IDX_BLK_SIZE * EVT_IDX_BLK_CHUNK + 4;
	for (uint32_t c = 0; rc == 0 && (uint64_t)c * EVT_IDX_BLK_CHUNK <
	    run->nblocks; c++)
		rc = parse_blk_chunk(buf + dend + cs * c, dend + cs * c, c, run,
		    why, at);
	return rc;
}

/* Parses a run's header and directory (lite: as parse_tables says). */
static int
run_parse(const uint8_t *buf, size_t len, uint64_t file_size,
    struct evt_idx_run *run, const char **why, uint64_t *at, int lite)
{
	uint64_t lo = run->lo, hi = run->hi;
	memset(run, 0, sizeof *run);
	run->lo = lo;
	run->hi = hi;
	run->size = file_size;
	if (len < EVT_IDX_HDR_SIZE || file_size < EVT_IDX_HDR_SIZE)
		return evt_parse_fail(why, at, "shorter than a run header", 0,
		    EVT_ERR_TRUNCATED);
	if (memcmp(buf, EVT_IDX_MAGIC, 8) != 0)
		return evt_parse_fail(why, at, "not an id index run (magic)", 0,
		    EVT_ERR_CORRUPT);
	if (!evt_fixed_crc_ok(buf, EVT_IDX_HDR_SIZE))
		return evt_parse_fail(why, at, "header checksum mismatch",
		    IX_CRC,
		    EVT_ERR_CORRUPT);
	int rc = parse_header(buf, run, why, at);
	if (rc != 0)
		return rc;
	uint64_t dlen = le64_get(buf + IX_DIR_LEN);
	if (dlen > file_size - EVT_IDX_HDR_SIZE || dlen > len - EVT_IDX_HDR_SIZE)
		return evt_parse_fail(why, at,
		    "directory runs past the end of the file",
		    EVT_IDX_HDR_SIZE, EVT_ERR_TRUNCATED);
	if (evt_crc32c(0, buf + EVT_IDX_HDR_SIZE, (size_t)dlen) !=
	    le32_get(buf + IX_DIR_CRC))
		return evt_parse_fail(why, at, "directory checksum mismatch",
		    EVT_IDX_HDR_SIZE, EVT_ERR_CORRUPT);
	if ((rc = alloc_tables(run, lite)) != 0)
		return rc;
	rc = parse_tables(buf, len, file_size, run, why, at, lite);
	if (rc != 0)
		evt_idx_run_free(run);
	return rc;
}

/* Parses a run's header and directory; see idindex.h. */
int
evt_idx_run_parse(const uint8_t *buf, size_t len, uint64_t file_size,
    struct evt_idx_run *run, const char **why, uint64_t *at)
{
	return run_parse(buf, len, file_size, run, why, at, 0);
}

/* Loads block entries of a version 3 run; see idindex.h. */
int
evt_idx_load_blocks(int fd, struct evt_idx_run *run, uint32_t first,
    uint32_t count)
{
	if (run->blk_ok == NULL || count == 0)
		return 0;
	size_t cs = EVT_IDX_BLK_SIZE * EVT_IDX_BLK_CHUNK + 4;
	uint8_t buf[EVT_IDX_BLK_SIZE * EVT_IDX_BLK_CHUNK + 4];
	for (uint32_t c = first / EVT_IDX_BLK_CHUNK;
	    (uint64_t)c * EVT_IDX_BLK_CHUNK < (uint64_t)first + count; c++) {
		if (run->blk_ok[c])
			continue;
		uint32_t n = run->nblocks - c * EVT_IDX_BLK_CHUNK;
		size_t len = (n < EVT_IDX_BLK_CHUNK ? n : EVT_IDX_BLK_CHUNK) *
		    (size_t)EVT_IDX_BLK_SIZE + 4;
		uint64_t off = run->blk_at + (uint64_t)cs * c;
		const char *why;
		uint64_t at;
		if (evt_pread_full(fd, buf, len, off) != 0)
			return EVT_ERR_IO;
		if (parse_blk_chunk(buf, off, c, run, &why, &at) != 0)
			return EVT_ERR_CHECKSUM;
	}
	return 0;
}

/* The bytes of partition p in the file; see idindex.h. */
uint64_t
evt_idx_part_bytes(const struct evt_idx_run *run, uint32_t p)
{
	const struct evt_idx_part *q = &run->parts[p];
	if (q->nkeys == 0)
		return 0;
	return chunked_bytes(evt_filter_slot_bytes((q->segcount + 2) *
	    q->seglen, run->slotbits), run->version);
}

/* Checks a partition's bytes and copies its slots; see idindex.h. */
int
evt_idx_part_slots(const struct evt_idx_run *run, uint32_t p,
    const uint8_t *raw, uint8_t *out)
{
	const struct evt_idx_part *q = &run->parts[p];
	if (q->nkeys == 0)
		return 0;
	size_t n = evt_filter_slot_bytes((q->segcount + 2) * q->seglen,
	    run->slotbits);
	if (run->version < 3) {
		if (evt_crc32c(0, raw, n) != q->crc)
			return EVT_ERR_CHECKSUM;
		memcpy(out, raw, n);
		return 0;
	}
	for (size_t d = 0; d < n; d += EVT_IDX_SLOT_CHUNK) {
		size_t len = n - d < EVT_IDX_SLOT_CHUNK ? n - d :
		    EVT_IDX_SLOT_CHUNK;
		const uint8_t *c = raw + d / EVT_IDX_SLOT_CHUNK *
		    (EVT_IDX_SLOT_CHUNK + 4);
		if (evt_crc32c(0, c, len) != le32_get(c + len))
			return EVT_ERR_CHECKSUM;
		memcpy(out + d, c, len);
	}
	return 0;
}

/* Probes one partition; see idindex.h. */
int
evt_idx_probe(const struct evt_idx_run *run, const struct evt_idx_part *p,
    const uint8_t *slots, uint64_t key, uint32_t *first, uint32_t *count)
{
	if (p->nkeys == 0 || slots == NULL)
		return 0;
	struct evt_filter f = {
		.seed = p->seed, .seglen = p->seglen, .segcount = p->segcount,
		.nslots = (p->segcount + 2) * p->seglen,
		.locbits = (uint8_t)run->locbits,
		.slotbits = (uint8_t)run->slotbits,
		/* (read only: evt_filter_get does not write) */
		.slots = (uint8_t *)(uintptr_t)slots,
	};
	uint32_t loc;
	if (!evt_filter_get(&f, key, &loc))
		return 0;
	uint64_t f0 = (uint64_t)loc << run->locshift;
	uint64_t l0 = ((uint64_t)loc + 1) << run->locshift;
	if (l0 > run->nblocks)
		l0 = run->nblocks;
	*first = (uint32_t)(f0 < l0 ? f0 : l0);
	*count = (uint32_t)(f0 < l0 ? l0 - f0 : 0);
	return 1;
}

/* What run_map keeps of a run file for its caller: the file, open, and
 * its header and directory. */
struct runmap {
	int fd;
	uint8_t *buf;
	size_t maplen;		/* > 0: buf is mapped; 0: malloc'ed */
};

/* Frees a runmap's bytes. */
static void
runmap_free(struct runmap *m)
{
	if (m->maplen > 0)
		munmap(m->buf, m->maplen);
	else
		free(m->buf);
	m->buf = NULL;
	m->maplen = 0;
}

/* The bytes a run's first read takes: the header and the directory of a
 * run of up to ~120 segments, in one system call. */
#define RUN_FIRST_READ 4096

/*
 * Makes m->buf, which holds the first `got` bytes of a run file, hold its
 * header and directory (dl bytes from the header): a larger directory is
 * mapped instead (the pages are in the page cache: MAP_POPULATE maps
 * them in one call, where a buffer would take a fault a page and a
 * copy).  0, or EVT_ERR_IO.
 */
static int
read_rest(struct runmap *m, size_t got, uint64_t dl)
{
	if (dl <= got)
		return 0;
	void *p = mmap(NULL, (size_t)dl, PROT_READ, MAP_PRIVATE |
	    MAP_POPULATE, m->fd, 0);
	if (p == MAP_FAILED)
		return EVT_ERR_IO;
	free(m->buf);
	m->buf = p;
	m->maplen = (size_t)dl;
	return 0;
}

/*
 * Reads and checks a run file: all of its directory (whole), or, of a
 * version 3 run, all but the block table (read when a lookup names its
 * entries); lite: its segment table left in the bytes read for the
 * caller to check (run_parse).  A lookup over 10,000 segments reads ~17
 * runs, most of them a few kB: one read each.  With keep, on success,
 * the file stays open and the bytes in *keep (the caller closes it and
 * frees them, runmap_free).
 */
static int
run_map(const char *path, struct evt_idx_run *run, const char **why,
    uint64_t *at, int whole, int lite, struct runmap *keep)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	if (!evt_idx_parse_name(base, &run->lo, &run->hi))
		return evt_parse_fail(why, at, "not a run file name", 0,
		    EVT_ERR_ARG);
	struct runmap m = {open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC),
	    NULL, 0};
	if (m.fd < 0)
		return evt_parse_fail(why, at, "cannot open", 0, EVT_ERR_IO);
	struct stat st;
	int rc = (m.buf = malloc(RUN_FIRST_READ)) == NULL ? EVT_ERR_NOMEM :
	    EVT_ERR_IO;
	if (m.buf == NULL || fstat(m.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		evt_parse_fail(why, at, "not a regular file", 0, rc);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	size_t got = size < RUN_FIRST_READ ? (size_t)size : RUN_FIRST_READ;
	if (size < EVT_IDX_HDR_SIZE || evt_pread_full(m.fd, m.buf, got, 0) !=
	    0) {
		rc = evt_parse_fail(why, at, "shorter than a run header", 0,
		    EVT_ERR_TRUNCATED);
		goto out;
	}
	uint64_t dl = whole ? evt_idx_run_dir_len(m.buf) : evt_idx_run_dir_len(
	    m.buf) != 0 ? EVT_IDX_HDR_SIZE + le64_get(m.buf + IX_DIR_LEN) : 0;
	if (dl == 0 || dl > size)
		dl = EVT_IDX_HDR_SIZE; /* the parse says what is wrong */
	if ((rc = read_rest(&m, got, dl)) != 0) {
		evt_parse_fail(why, at, "cannot map the directory", got, rc);
		goto out;
	}
	rc = run_parse(m.buf, (size_t)dl, size, run, why, at, lite);
	if (rc == 0 && keep != NULL) {
		*keep = m;
		return 0;
	}
out:
	runmap_free(&m);
	close(m.fd);
	return rc;
}

/* Reads and checks a run file, all of its directory (whole) or all but
 * a version 3 run's block table. */
static int
run_load(const char *path, struct evt_idx_run *run, const char **why,
    uint64_t *at, int whole)
{
	return run_map(path, run, why, at, whole, 0, NULL);
}

/* Reads and checks a whole run file; see idindex.h. */
int
evt_idx_run_load(const char *path, struct evt_idx_run *run, const char **why,
    uint64_t *at)
{
	return run_load(path, run, why, at, 1);
}

/* Reads and checks partition p of a run from fd, its file; as
 * evt_idx_read_part. */
static int
read_part_fd(int fd, const struct evt_idx_run *run, uint32_t p,
    uint8_t **slots)
{
	const struct evt_idx_part *q = &run->parts[p];
	*slots = NULL;
	if (q->nkeys == 0)
		return 0;
	size_t n = evt_filter_slot_bytes((q->segcount + 2) * q->seglen,
	    run->slotbits), fn = (size_t)evt_idx_part_bytes(run, p);
	uint8_t *raw = malloc(fn), *s = malloc(n);
	int rc = raw == NULL || s == NULL ? EVT_ERR_NOMEM :
	    evt_pread_full(fd, raw, fn, q->off);
	if (rc == 0)
		rc = evt_idx_part_slots(run, p, raw, s);
	free(raw);
	if (rc != 0) {
		free(s);
		return rc == EVT_ERR_TRUNCATED ? EVT_ERR_CHECKSUM : rc;
	}
	*slots = s;
	return 0;
}

/* Reads and checks partition p; see idindex.h. */
int
evt_idx_read_part(const char *path, const struct evt_idx_run *run,
    uint32_t p, uint8_t **slots)
{
	*slots = NULL;
	if (run->parts[p].nkeys == 0)
		return 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	int rc = read_part_fd(fd, run, p, slots);
	close(fd);
	return rc;
}

/*
 * The directory as maintenance sees it: segment sequence numbers and the
 * run files, listed once.
 */
struct dirlist {
	const char *dir;
	uint64_t *seqs;		/* ascending */
	size_t nseg;
	struct evt_idx_run *runs;	/* loaded; valid ones only */
	char **rnames;		/* their file names */
	size_t nrun;
	int sync;
	evt_idx_warn_cb warn;
	void *arg;
};

/* Emits a maintenance warning. */
#define mwarn(dl, ...) evt_warnf((dl)->warn, (dl)->arg, __VA_ARGS__)

/* The path of segment seq. */
static char *
seg_path(const char *dir, uint64_t seq)
{
	char name[32];
	evt_segment_name(seq, name, sizeof name);
	return evt_path_join(dir, name);
}

/* Orders sequence numbers. */
static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* fsyncs the directory. */
static void
sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Frees a listing. */
static void
dl_free(struct dirlist *dl)
{
	for (size_t i = 0; i < dl->nrun; i++) {
		evt_idx_run_free(&dl->runs[i]);
		free(dl->rnames[i]);
	}
	free(dl->runs);
	free(dl->rnames);
	free(dl->seqs);
	dl->runs = NULL;
	dl->rnames = NULL;
	dl->seqs = NULL;
	dl->nrun = dl->nseg = 0;
}

/* Deletes a run file (derived data; the lock holder may). */
static void
drop_file(struct dirlist *dl, const char *name)
{
	char *p = evt_path_join(dl->dir, name);
	if (p != NULL)
		unlink(p);
	free(p);
}

/* Appends to a growing array; 0 or EVT_ERR_NOMEM. */
static int
grow(void **p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, c * size);
	if (q == NULL)
		return EVT_ERR_NOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/*
 * Lists the directory (evt_dir_list, the archive's one listing):
 * segments, and run files, loaded; run files that do not check are
 * deleted (warned about) when drop_bad.
 */
static int
dl_scan(struct dirlist *dl, int drop_bad)
{
	struct evt_listing l;
	int rc = evt_dir_list(dl->dir, &l);
	if (rc == 0 && l.nseg > 0 && (dl->seqs = malloc(l.nseg *
	    sizeof *dl->seqs)) == NULL)
		rc = EVT_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && i < l.nseg; i++)
		dl->seqs[dl->nseg++] = l.segs[i].seq;
	if (rc == 0 && l.nrun > 0 &&
	    ((dl->runs = calloc(l.nrun, sizeof *dl->runs)) == NULL ||
	    (dl->rnames = calloc(l.nrun, sizeof *dl->rnames)) == NULL))
		rc = EVT_ERR_NOMEM;
	for (size_t i = 0; rc == 0 && i < l.nrun; i++) {
		char *p = evt_path_join(dl->dir, l.runs[i]);
		const char *why = NULL;
		uint64_t at = 0;
		int lr = p == NULL ? EVT_ERR_NOMEM :
		    run_load(p, &dl->runs[dl->nrun], &why, &at, 0);
		free(p);
		if (lr == EVT_ERR_NOMEM) {
			rc = lr;
		} else if (lr != 0) {
			if (drop_bad) {
				mwarn(dl, "%s/%s: offset %" PRIu64 ": %s; "
				    "deleted (the index is rebuilt from the "
				    "segments)", dl->dir, l.runs[i], at, why);
				drop_file(dl, l.runs[i]);
			}
		} else {
			/* The name moves from the listing to dl. */
			dl->rnames[dl->nrun++] = l.runs[i];
			l.runs[i] = NULL;
		}
	}
	evt_listing_free(&l);
	return rc;
}

/* Whether segment seq is listed. */
static int
dl_has(const struct dirlist *dl, uint64_t seq)
{
	return bsearch(&seq, dl->seqs, dl->nseg, sizeof seq, cmp_u64) != NULL;
}

/* Removes run k from the listing (and, when del, its file). */
static void
dl_remove(struct dirlist *dl, size_t k, int del)
{
	if (del)
		drop_file(dl, dl->rnames[k]);
	evt_idx_run_free(&dl->runs[k]);
	free(dl->rnames[k]);
	dl->nrun--;
	dl->runs[k] = dl->runs[dl->nrun];
	dl->rnames[k] = dl->rnames[dl->nrun];
}

/*
 * The builder.  One per run written.
 */
struct build {
	struct dirlist *dl;
	struct evt_idx_seg *segs;	/* newest first */
	uint32_t nsegs;
	struct evt_idx_blk *blks;
	uint32_t nblocks;
	size_t bcap;
	uint64_t est;			/* events counted by the directories */
	unsigned locbits, locshift, slotbits, level;
	uint32_t nparts;
	struct evt_idx_part *parts;
	/* The batch of keys being collected. */
	uint64_t *keys;
	uint32_t *locs;
	size_t nkeys, kcap;
	uint32_t p0, p1;		/* partitions of this pass */
	uint64_t total_keys;
	struct evt_buf col;		/* a GUID column / payload */
};

/* Adds a key if its partition is in this pass. */
static int
b_key(struct build *b, uint64_t key, uint32_t gidx)
{
	uint32_t p = evt_idx_part_of(key, b->nparts);
	if (p < b->p0 || p >= b->p1)
		return 0;
	size_t kc = b->kcap, lc = b->kcap;
	if (grow((void **)&b->keys, b->nkeys, &kc, sizeof *b->keys) != 0 ||
	    grow((void **)&b->locs, b->nkeys, &lc, sizeof *b->locs) != 0)
		return EVT_ERR_NOMEM;
	b->kcap = kc;
	b->keys[b->nkeys] = key;
	b->locs[b->nkeys++] = gidx >> b->locshift;
	return 0;
}

/* Reserves room for the keys a pass is expected to collect (an eighth
 * more than the mean), so that the arrays do not double past it. */
static int
b_reserve(struct build *b)
{
	uint64_t want = b->est / b->nparts * (b->p1 - b->p0);
	want += want / 8 + 1024;
	if (want <= b->kcap)
		return 0;
	free(b->keys);
	free(b->locs);
	b->keys = malloc((size_t)want * sizeof *b->keys);
	b->locs = malloc((size_t)want * sizeof *b->locs);
	b->kcap = b->keys != NULL && b->locs != NULL ? (size_t)want : 0;
	return b->kcap != 0 ? 0 : EVT_ERR_NOMEM;
}

/* The trailer CRC of an open sealed segment (its last 4 bytes). */
static int
trailer_crc(int fd, uint64_t size, uint32_t *crc)
{
	uint8_t b[4];
	if (size < 4 || evt_pread_full(fd, b, 4, size - 4) != 0)
		return EVT_ERR_IO;
	*crc = le32_get(b);
	return 0;
}

/*
 * Takes segment seq into the run: its identity and its blocks (headers
 * checked, so that the passes may read an IDCOL block's column alone).  A segment that is not sealed or whose
 * index is unusable is left out (lookups read it themselves).
 */
static int
b_add_seg(struct build *b, uint64_t seq)
{
	char *p = seg_path(b->dl->dir, seq);
	struct evt_segr *r;
	if (p == NULL)
		return EVT_ERR_NOMEM;
	int rc = evt_segr_open(p, NULL, NULL, &r);
	free(p);
	if (rc == EVT_ERR_NOMEM)
		return rc;
	if (rc != 0)
		return 0;
	struct evt_idx_seg s = {.seq = seq, .size = r->info.size,
	    .first = b->nblocks};
	if (!r->info.sealed || r->info.hdr_damaged ||
	    evt_segr_load_index(r) != 0 ||
	    trailer_crc(r->fd, r->info.size, &s.trl_crc) != 0) {
		evt_segr_close(r);
		return 0;
	}
	for (uint32_t i = 0; i < r->nblocks && rc == 0; i++) {
		uint8_t h[EVT_BLK_HDR_SIZE];
		struct evt_blkhdr bh;
		if ((rc = grow((void **)&b->blks, b->nblocks, &b->bcap,
		    sizeof *b->blks)) != 0)
			break;
		struct evt_idx_blk *e = &b->blks[b->nblocks++];
		*e = (struct evt_idx_blk){.off = r->blocks[i].off,
		    .seg = b->nsegs};
		b->est += r->blocks[i].nevent;
		if (evt_pread_full(r->fd, h, sizeof h, e->off) != 0 ||
		    !evt_blkhdr_magic_ok(h) || !evt_fixed_crc_ok(h, sizeof h))
			continue;
		evt_blkhdr_get(h, &bh);
		e->zlen = bh.zlen;
		e->nguid = bh.nguid;
		e->flags = bh.flags | EVT_BLKF_SET;
		if (!evt_blkhdr_packed(&bh)) /* (bit 4 means it in v2 only) */
			e->flags &= ~(uint32_t)EVT_BLKF_PACKED;
		/* A GUID column is read without the payload CRC: an entry
		 * damaged since only costs a false candidate, or misses an
		 * event whose id entry the reader cannot read either
		 * (segment.md, "Check lists"). */
		if ((bh.flags & (EVT_BLKF_SET | EVT_BLKF_IDCOL)) !=
		    (EVT_BLKF_SET | EVT_BLKF_IDCOL))
			e->flags &= ~(uint32_t)EVT_BLKF_IDCOL; /* decoded */
		else if (e->off + EVT_BLK_HDR_SIZE + evt_blkhdr_payload_len(&bh) >
		    r->info.data_end)
			e->flags = e->nguid = 0;	/* not indexed */
	}
	evt_segr_close(r);
	if (rc != 0)
		return rc;
	s.nblocks = b->nblocks - s.first;
	b->segs[b->nsegs++] = s;
	return 0;
}

/* Collects the keys of a block that must be decoded (no IDCOL). */
static int
b_decode_block(struct build *b, struct evt_segr *r, uint32_t g)
{
	struct evt_blkhdr bh;
	uint64_t next;
	if (evt_segr_load_block(r, b->blks[g].off, &next, &bh) != 0)
		return 0; /* damaged: its events cannot be read either */
	int in_msg = 0, rc;
	struct evt_rec re;
	while ((rc = evt_rdec_next(&r->dec, &re)) != 0) {
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (rc < 0)
			continue;
		uint64_t key;
		if (!evt_rec_msg_event(&re, &in_msg) || re.o == NULL ||
		    evt_rdec_id_key(&r->dec, &re, &key) != 0)
			continue;
		if ((rc = b_key(b, key, g)) != 0)
			return rc;
	}
	return 0;
}

/* Reads the GUID column of block e into *col as 16-byte entries (a
 * packed column of revision 1.4, read behind the room for them, is
 * unpacked; formats/segment.md, "GUID column"). */
static int
read_guids(int fd, const struct evt_idx_blk *e, struct evt_buf *col)
{
	int packed = (e->flags & EVT_BLKF_PACKED) != 0;
	size_t n = EVT_GUID_SIZE * (size_t)e->nguid;
	size_t sn = (size_t)evt_guidcol_len(e->nguid, packed);
	size_t at = packed ? n : 0;
	col->len = 0;
	if (evt_buf_grow(col, at + sn + 1) != 0)
		return EVT_ERR_NOMEM;
	if (evt_pread_full(fd, col->p + at, sn, e->off + 64 + e->zlen) != 0)
		return EVT_ERR_IO;
	if (packed)
		evt_guidcol_unpack(col->p + at, e->nguid, col->p);
	return 0;
}

/* One pass over segment j: the keys of partitions [p0, p1). */
static int
b_pass_seg(struct build *b, uint32_t j)
{
	const struct evt_idx_seg *s = &b->segs[j];
	char *p = seg_path(b->dl->dir, s->seq);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct evt_segr *r = NULL;
	int rc = 0;
	for (uint32_t g = s->first; g < s->first + s->nblocks && rc == 0;
	    g++) {
		const struct evt_idx_blk *e = &b->blks[g];
		if (e->flags == 0)
			continue;
		if (!(e->flags & EVT_BLKF_IDCOL)) {
			if (r == NULL && (evt_segr_open(p, NULL, NULL, &r) != 0 ||
			    evt_segr_load_index(r) != 0)) {
				rc = EVT_ERR_IO;	/* it did before */
				break;
			}
			rc = b_decode_block(b, r, g);
			continue;
		}
		if (fd < 0 || read_guids(fd, e, &b->col) != 0) {
			rc = fd < 0 ? EVT_ERR_IO : EVT_ERR_NOMEM;
			break;
		}
		for (uint32_t k = 0; k < e->nguid && rc == 0; k++)
			rc = b_key(b, evt_guid_key(b->col.p + EVT_GUID_SIZE *
			    (size_t)k), g);
	}
	if (r != NULL)
		evt_segr_close(r);
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* Orders the batch by partition (a counting sort into scratch; the
 * partition is computed again rather than kept, 4 bytes a key less). */
static int
b_sort_batch(struct build *b, size_t *start)
{
	size_t n = b->nkeys, np = b->p1 - b->p0;
	uint64_t *k2 = malloc((n + 1) * sizeof *k2);
	uint32_t *l2 = malloc((n + 1) * sizeof *l2);
	if (k2 == NULL || l2 == NULL) {
		free(k2);
		free(l2);
		return EVT_ERR_NOMEM;
	}
	memset(start, 0, (np + 1) * sizeof *start);
	for (size_t i = 0; i < n; i++)
		start[evt_idx_part_of(b->keys[i], b->nparts) - b->p0 + 1]++;
	for (size_t q = 0; q < np; q++)
		start[q + 1] += start[q];
	for (size_t i = 0; i < n; i++) {
		size_t at = start[evt_idx_part_of(b->keys[i], b->nparts) -
		    b->p0]++;
		k2[at] = b->keys[i];
		l2[at] = b->locs[i];
	}
	for (size_t q = np; q > 0; q--)
		start[q] = start[q - 1];
	start[0] = 0;
	free(b->keys);
	free(b->locs);
	b->keys = k2;
	b->locs = l2;
	b->kcap = n + 1;
	return 0;
}

/* Copies len bytes to out in chunks of `chunk` bytes, each followed by
 * its CRC-32C (a version 3 run's slots and block table). */
static void
put_chunked(const uint8_t *in, size_t len, size_t chunk, uint8_t *out)
{
	for (size_t d = 0; d < len; d += chunk) {
		size_t n = len - d < chunk ? len - d : chunk;
		memcpy(out, in + d, n);
		le32_put(out + n, evt_crc32c(0, in + d, n));
		out += n + 4;
	}
}

/* Builds the filters of this pass's partitions and appends their slots
 * to fd at *off. */
static int
b_write_parts(struct build *b, int fd, uint64_t *off)
{
	size_t np = b->p1 - b->p0;
	size_t *start = malloc((np + 1) * sizeof *start);
	if (start == NULL)
		return EVT_ERR_NOMEM;
	int rc = b_sort_batch(b, start);
	for (size_t q = 0; q < np && rc == 0; q++) {
		size_t n = (q + 1 < np ? start[q + 1] : b->nkeys) - start[q];
		struct evt_idx_part *e = &b->parts[b->p0 + q];
		*e = (struct evt_idx_part){.off = *off};
		if (n == 0)
			continue;
		struct evt_filter f = {0};
		rc = evt_filter_build(b->keys + start[q], b->locs + start[q], n,
		    b->locbits, &f);
		if (rc != 0)
			break;
		size_t len = evt_filter_slot_bytes(f.nslots, b->slotbits);
		size_t flen = (size_t)chunked_bytes(len, EVT_IDX_VERSION);
		uint8_t *packed = malloc(len), *out = malloc(flen);
		if (packed == NULL || out == NULL) {
			free(packed);
			free(out);
			evt_filter_free(&f);
			rc = EVT_ERR_NOMEM;
			break;
		}
		evt_filter_pack(&f, b->slotbits, packed);
		e->seed = f.seed;
		e->seglen = f.seglen;
		e->segcount = f.segcount;
		e->nkeys = (uint32_t)n; /* (before dedupe: an upper bound) */
		put_chunked(packed, len, EVT_IDX_SLOT_CHUNK, out);
		if (pwrite(fd, out, flen, (off_t)*off) != (ssize_t)flen)
			rc = errno == ENOSPC ? EVT_ERR_NOSPC : EVT_ERR_IO;
		*off += flen;
		free(out);
		b->total_keys += n;
		free(packed);
		evt_filter_free(&f);
	}
	free(start);
	return rc;
}

/* Encodes the header, the directory (segment and partition tables) and,
 * after it, the chunked block table into out (64 + dlen + the block
 * table's bytes; blk: scratch of 24 bytes a block). */
static void
b_encode_dir(const struct build *b, uint8_t *out, size_t dlen, uint8_t *blk)
{
	uint8_t *d = out + EVT_IDX_HDR_SIZE;
	memset(out, 0, EVT_IDX_HDR_SIZE + dlen);
	for (uint32_t i = 0; i < b->nsegs; i++, d += EVT_IDX_SEG_SIZE) {
		le64_put(d, b->segs[i].seq);
		le64_put(d + 8, b->segs[i].size);
		le32_put(d + 16, b->segs[i].trl_crc);
		le32_put(d + 20, b->segs[i].first);
		le32_put(d + 24, b->segs[i].nblocks);
	}
	for (uint32_t i = 0; i < b->nparts; i++, d += EVT_IDX_PART_SIZE) {
		le64_put(d, b->parts[i].off);
		le64_put(d + 8, b->parts[i].seed);
		le32_put(d + 16, b->parts[i].seglen);
		le32_put(d + 20, b->parts[i].segcount);
		le32_put(d + 24, 0);	/* (version 3: the chunks' CRCs) */
		le32_put(d + 28, b->parts[i].nkeys);
	}
	for (uint32_t i = 0; i < b->nblocks; i++) {
		uint8_t *e = blk + (size_t)EVT_IDX_BLK_SIZE * i;
		le64_put(e, b->blks[i].off);
		le32_put(e + 8, b->blks[i].zlen);
		le32_put(e + 12, b->blks[i].nguid);
		le32_put(e + 16, b->blks[i].flags);
		le32_put(e + 20, b->blks[i].seg);
	}
	put_chunked(blk, (size_t)EVT_IDX_BLK_SIZE * b->nblocks,
	    (size_t)EVT_IDX_BLK_SIZE * EVT_IDX_BLK_CHUNK, d);
	memcpy(out, EVT_IDX_MAGIC, 8);
	le16_put(out + IX_VERSION, EVT_IDX_VERSION);
	le16_put(out + IX_HDR_SIZE, EVT_IDX_HDR_SIZE);
	out[IX_LOCBITS] = (uint8_t)b->locbits;
	out[IX_LOCSHIFT] = (uint8_t)b->locshift;
	le16_put(out + IX_LEVEL, (uint16_t)b->level);
	le32_put(out + IX_NSEGS, b->nsegs);
	le32_put(out + IX_NBLOCKS, b->nblocks);
	le32_put(out + IX_NPARTS, b->nparts);
	out[IX_SLOTBITS] = (uint8_t)b->slotbits;
	le64_put(out + IX_NKEYS, b->total_keys);
	le64_put(out + IX_DIR_LEN, dlen);
	le32_put(out + IX_DIR_CRC, evt_crc32c(0, out + EVT_IDX_HDR_SIZE, dlen));
	le32_put(out + IX_CRC, evt_crc32c(0, out, IX_CRC));
}

/* Bits needed to write v. */
static unsigned
bitlen64(uint64_t v)
{
	unsigned n = 0;
	while (v != 0) {
		n++;
		v >>= 1;
	}
	return n;
}

/* The slot width of a new run; see idindex.h. */
unsigned
evt_idx_slot_bits(uint32_t nblocks)
{
	unsigned nb = bitlen64(nblocks > 0 ? nblocks - 1 : 0);
	unsigned w = nb + EVT_IDX_FP_BITS;
	return w < 8 ? 8 : w > 16 ? 16 : w;
}

/* Partitions a build collects at once (evt_idx_set_batch_keys). */
static _Atomic uint32_t batch_parts = EVT_IDX_BATCH_KEYS / EVT_IDX_PART_KEYS;

/* Sets the batch; see idindex.h. */
void
evt_idx_set_batch_keys(size_t keys)
{
	size_t per = (keys ? keys : EVT_IDX_BATCH_KEYS) / EVT_IDX_PART_KEYS;
	batch_parts = per < 1 ? 1 : per > EVT_IDX_MAX_PARTS ?
	    EVT_IDX_MAX_PARTS : (uint32_t)per;
}

/* Writes the run's partitions, pass by pass, then its directory. */
static int
b_write(struct build *b, int fd)
{
	size_t dlen = (size_t)EVT_IDX_SEG_SIZE * b->nsegs +
	    (size_t)EVT_IDX_PART_SIZE * b->nparts;
	size_t all = EVT_IDX_HDR_SIZE + dlen + (size_t)blk_table_bytes(
	    b->nblocks);
	uint64_t off = all;
	uint32_t per = batch_parts;
	int rc = 0;
	for (b->p0 = 0; b->p0 < b->nparts && rc == 0; b->p0 = b->p1) {
		b->p1 = b->nparts - b->p0 < per ? b->nparts : b->p0 + per;
		b->nkeys = 0;
		rc = b_reserve(b);
		for (uint32_t j = 0; j < b->nsegs && rc == 0; j++)
			rc = b_pass_seg(b, j);
		if (rc == 0)
			rc = b_write_parts(b, fd, &off);
	}
	uint8_t *out = rc == 0 ? malloc(all) : NULL;
	uint8_t *blk = rc == 0 ? malloc((size_t)EVT_IDX_BLK_SIZE * b->nblocks +
	    1) : NULL;
	if (rc == 0 && (out == NULL || blk == NULL))
		rc = EVT_ERR_NOMEM;
	if (rc == 0) {
		b_encode_dir(b, out, dlen, blk);
		if (pwrite(fd, out, all, 0) != (ssize_t)all)
			rc = errno == ENOSPC ? EVT_ERR_NOSPC : EVT_ERR_IO;
	}
	free(blk);
	free(out);
	return rc;
}

/* Frees a builder. */
static void
b_free(struct build *b)
{
	free(b->segs);
	free(b->blks);
	free(b->parts);
	free(b->keys);
	free(b->locs);
	evt_buf_free(&b->col);
}

/*
 * Builds and installs a run of level `level` over the segments seqs[0..n)
 * (any order): temporary file, fsync, rename, directory fsync.  Returns
 * 0 (also when none of them could be covered: nothing is written) or a
 * negative evt_err.
 */
static int
build_run(struct dirlist *dl, uint64_t *seqs, size_t n, unsigned level)
{
	struct build b = {.dl = dl, .level = level};
	int rc = 0;
	qsort(seqs, n, sizeof *seqs, cmp_u64);
	if ((b.segs = calloc(n + 1, sizeof *b.segs)) == NULL)
		return EVT_ERR_NOMEM;
	for (size_t i = n; i-- > 0 && rc == 0;)	/* newest first */
		rc = b_add_seg(&b, seqs[i]);
	if (rc != 0 || b.nsegs == 0)
		goto out;
	unsigned nb = bitlen64(b.nblocks > 0 ? b.nblocks - 1 : 0);
	b.locbits = nb > 10 ? 10 : nb;
	b.locshift = nb - b.locbits;
	b.slotbits = evt_idx_slot_bits(b.nblocks);
	uint64_t np = (b.est + EVT_IDX_PART_KEYS - 1) / EVT_IDX_PART_KEYS;
	b.nparts = np == 0 ? 1 : np > EVT_IDX_MAX_PARTS ? EVT_IDX_MAX_PARTS :
	    (uint32_t)np;
	if ((b.parts = calloc(b.nparts, sizeof *b.parts)) == NULL) {
		rc = EVT_ERR_NOMEM;
		goto out;
	}
	char name[64], tmpn[64];
	evt_idx_name(b.segs[b.nsegs - 1].seq, b.segs[0].seq, name, sizeof name);
	snprintf(tmpn, sizeof tmpn, ".%.*s.tmp", EVT_IDX_NAME_LEN - 4, name);
	char *tmp = evt_path_join(dl->dir, tmpn), *fin = evt_path_join(dl->dir, name);
	int fd = tmp == NULL ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644);
	if (tmp == NULL || fin == NULL)
		rc = EVT_ERR_NOMEM;
	else if (fd < 0)
		rc = EVT_ERR_IO;
	if (rc == 0)
		rc = b_write(&b, fd);
	if (rc == 0 && dl->sync && fsync(fd) != 0)
		rc = EVT_ERR_IO;
	if (fd >= 0 && close(fd) != 0 && rc == 0)
		rc = EVT_ERR_IO;
	if (rc == 0)
		evt_test_kill_point("tmp");
	if (rc == 0 && rename(tmp, fin) != 0)
		rc = EVT_ERR_IO;
	if (rc != 0 && tmp != NULL)
		unlink(tmp);
	else if (dl->sync)
		sync_dir(dl->dir);
	free(tmp);
	free(fin);
out:
	b_free(&b);
	return rc;
}

/* Whether a run is too large to merge again. */
static int
run_full(const struct evt_idx_run *r)
{
	return r->nkeys > EVT_IDX_MAX_KEYS / 2 ||
	    r->nblocks > EVT_IDX_MAX_BLOCKS / 2;
}

/* Orders runs by their lowest sequence number. */
static int
cmp_run_lo(const void *x, const void *y)
{
	const struct evt_idx_run *a = *(const struct evt_idx_run *const *)x;
	const struct evt_idx_run *b = *(const struct evt_idx_run *const *)y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/*
 * Merges, once, the oldest runs of the lowest level that has
 * EVT_IDX_FANOUT mergeable ones (as many of them as stay within the
 * caps).  Returns 1 if it merged, 0 if there was nothing to merge, or a
 * negative evt_err.
 */
static int
merge_once(struct dirlist *dl)
{
	unsigned level = UINT32_MAX;
	for (unsigned lv = 0; lv < 16 && level == UINT32_MAX; lv++) {
		size_t c = 0;
		for (size_t i = 0; i < dl->nrun; i++)
			c += dl->runs[i].level == lv && !run_full(&dl->runs[i]);
		if (c >= EVT_IDX_FANOUT)
			level = lv;
	}
	if (level == UINT32_MAX)
		return 0;
	const struct evt_idx_run **pick = calloc(dl->nrun, sizeof *pick);
	if (pick == NULL)
		return EVT_ERR_NOMEM;
	size_t np = 0;
	for (size_t i = 0; i < dl->nrun; i++)
		if (dl->runs[i].level == level && !run_full(&dl->runs[i]))
			pick[np++] = &dl->runs[i];
	qsort(pick, np, sizeof *pick, cmp_run_lo);
	uint64_t keys = 0, blocks = 0;
	size_t take = 0, nseq = 0;
	for (; take < np && take < EVT_IDX_FANOUT; take++) {
		if (take >= 2 && (keys + pick[take]->nkeys > EVT_IDX_MAX_KEYS ||
		    blocks + pick[take]->nblocks > EVT_IDX_MAX_BLOCKS))
			break;
		keys += pick[take]->nkeys;
		blocks += pick[take]->nblocks;
		nseq += pick[take]->nsegs;
	}
	uint64_t *seqs = malloc((nseq + 1) * sizeof *seqs);
	int rc = seqs == NULL ? EVT_ERR_NOMEM : 0;
	nseq = 0;
	for (size_t t = 0; rc == 0 && t < take; t++)
		for (uint32_t s = 0; s < pick[t]->nsegs; s++)
			if (dl_has(dl, pick[t]->segs[s].seq))
				seqs[nseq++] = pick[t]->segs[s].seq;
	if (rc == 0)
		rc = build_run(dl, seqs, nseq, level + 1);
	free(seqs);
	/* The inputs go once the merged run is in place (a crash between
	 * leaves them superseded; the next catch-up deletes them). */
	if (rc == 0)
		evt_test_kill_point("rename");
	for (size_t t = 0; rc == 0 && t < take; t++) {
		drop_file(dl, dl->rnames[pick[t] - dl->runs]);
		evt_test_kill_point("drop");
	}
	free(pick);
	if (rc == 0 && dl->sync)
		sync_dir(dl->dir);
	return rc == 0 ? 1 : rc;
}

/* Merges until no level has EVT_IDX_FANOUT mergeable runs (listing the
 * directory again after each merge). */
static int
merge_all(struct dirlist *dl)
{
	int rc;
	while ((rc = merge_once(dl)) == 1) {
		dl_free(dl);
		if ((rc = dl_scan(dl, 0)) != 0)
			return rc;
	}
	return rc;
}

/*
 * One maintainer of a process at a time, as rollup.c's cache_mu does for
 * the roll-up: retention (evt_archive_prune, on the recorder's event
 * loop) prunes runs while the sealing thread may be adding and merging
 * them; unserialised, a prune's listing could delete a merge's fresh run
 * or a catch-up drop the inputs a merge is reading.  (Other processes
 * are kept out by the archive's writer lock.)
 */
static pthread_mutex_t maint_mu = PTHREAD_MUTEX_INITIALIZER;

/* Adds a run for segment seq; see idindex.h. */
static int
idx_add_locked(const char *dir, uint64_t seq, int sync, evt_idx_warn_cb warn,
    void *arg)
{
	struct dirlist dl = {.dir = dir, .sync = sync, .warn = warn,
	    .arg = arg};
	int rc = build_run(&dl, &seq, 1, 0);
	if (rc == 0)
		rc = dl_scan(&dl, 0);
	if (rc == 0)
		rc = merge_all(&dl);
	dl_free(&dl);
	return rc;
}

/* Adds a run for segment seq, serialised; see idindex.h. */
int
evt_idx_add(const char *dir, uint64_t seq, int sync, evt_idx_warn_cb warn,
    void *arg)
{
	pthread_mutex_lock(&maint_mu);
	int rc = idx_add_locked(dir, seq, sync, warn, arg);
	pthread_mutex_unlock(&maint_mu);
	return rc;
}

/* Whether segment seq of run r still has the identity r recorded. */
static int
identity_ok(const char *dir, const struct evt_idx_seg *s)
{
	char *p = seg_path(dir, s->seq);
	int fd = p == NULL ? -1 : open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return -1;	/* gone */
	struct stat st;
	uint32_t crc;
	int ok = fstat(fd, &st) == 0 && (uint64_t)st.st_size == s->size &&
	    trailer_crc(fd, s->size, &crc) == 0 && crc == s->trl_crc;
	close(fd);
	return ok;
}

/*
 * Calls fn(arg, k, s, i) for each entry s of run k's segment table that
 * names one of the n segments seqs (ascending), i its index there; walks
 * both lists in order instead of searching (a run covers thousands).
 * Entries naming none are passed with i = SIZE_MAX.
 */
static void
walk_covered(const struct evt_idx_run *r, size_t k, const uint64_t *seqs,
    size_t n, void (*fn)(void *, size_t, uint32_t, size_t), void *arg)
{
	/* From the run's lowest segment on: a walk from the listing's start
	 * would cost every run the whole listing. */
	size_t i = 0, hi = n;
	while (i < hi) {
		size_t mid = i + (hi - i) / 2;
		if (seqs[mid] < r->segs[r->nsegs - 1].seq)
			i = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t s = r->nsegs; s-- > 0;) {	/* ascending */
		uint64_t seq = r->segs[s].seq;
		while (i < n && seqs[i] < seq)
			i++;
		fn(arg, k, s, i < n && seqs[i] == seq ? i : SIZE_MAX);
	}
}

/* What assign_cover passes to its walk. */
struct cover_arg {
	const struct evt_idx_run *runs;
	size_t *cover;
};

/* Gives segment i to run k if k covers more segments than its run. */
static void
cover_cb(void *arg, size_t k, uint32_t s, size_t i)
{
	struct cover_arg *c = arg;
	if (i != SIZE_MAX && (c->cover[i] == SIZE_MAX ||
	    c->runs[c->cover[i]].nsegs < c->runs[k].nsegs))
		c->cover[i] = k;
}

/*
 * Assigns each of the n segments seqs (ascending) to the run that covers
 * it and covers most segments, among runs[k] with usable == NULL or
 * usable[k]: cover[i] is that run's index, or SIZE_MAX.
 */
static void
assign_cover(const struct evt_idx_run *runs, const int *usable, size_t nrun,
    const uint64_t *seqs, size_t n, size_t *cover)
{
	struct cover_arg c = {runs, cover};
	for (size_t i = 0; i < n; i++)
		cover[i] = SIZE_MAX;
	for (size_t k = 0; k < nrun; k++)
		if (usable == NULL || usable[k])
			walk_covered(&runs[k], k, seqs, n, cover_cb, &c);
}

/* Whether every partition of run k checks: 1, 0 (warned), or
 * EVT_ERR_NOMEM. */
static int
run_parts_ok(struct dirlist *dl, size_t k)
{
	char *p = evt_path_join(dl->dir, dl->rnames[k]);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	int rc = 0, fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || evt_idx_load_blocks(fd, &dl->runs[k], 0,
	    dl->runs[k].nblocks) != 0) {
		mwarn(dl, "%s: offset %" PRIu64 ": id index block table does "
		    "not check; deleted, to be rebuilt", p, dl->runs[k].blk_at);
		rc = EVT_ERR_CHECKSUM;
	}
	if (fd >= 0)
		close(fd);
	for (uint32_t q = 0; q < dl->runs[k].nparts && rc == 0; q++) {
		uint8_t *slots;
		rc = evt_idx_read_part(p, &dl->runs[k], q, &slots);
		free(slots);
		if (rc != 0 && rc != EVT_ERR_NOMEM)
			mwarn(dl, "%s: offset %" PRIu64 ": id index partition "
			    "checksum mismatch; deleted, to be rebuilt", p,
			    dl->runs[k].parts[q].off);
	}
	free(p);
	return rc == EVT_ERR_NOMEM ? rc : rc == 0;
}

/* Catches the index up; see idindex.h. */
static int
idx_catch_up_locked(const char *dir, uint64_t skip_seq, int full, int sync,
    evt_idx_warn_cb warn, void *arg)
{
	struct dirlist dl = {.dir = dir, .sync = sync, .warn = warn,
	    .arg = arg};
	int rc = dl_scan(&dl, 1);
	size_t *cover = NULL;
	/* Damaged partitions and stale runs (a covered segment rewritten)
	 * go first. */
	for (size_t k = dl.nrun; full && rc == 0 && k-- > 0;) {
		int pr = run_parts_ok(&dl, k);
		if (pr < 0) {
			rc = pr;
			break;
		}
		const struct evt_idx_run *r = &dl.runs[k];
		for (uint32_t s = 0; pr == 1 && s < r->nsegs; s++)
			if (identity_ok(dir, &r->segs[s]) == 0) {
				mwarn(&dl, "%s/%s: covers seg-%012" PRIu64
				    ".evt as it was before it was rewritten; "
				    "deleted, to be rebuilt", dir,
				    dl.rnames[k], r->segs[s].seq);
				pr = 0;
			}
		if (pr == 0)
			dl_remove(&dl, k, 1);
	}
	if (rc == 0 && (cover = malloc((dl.nseg + 1) * sizeof *cover)) == NULL)
		rc = EVT_ERR_NOMEM;
	if (rc == 0)
		assign_cover(dl.runs, NULL, dl.nrun, dl.seqs, dl.nseg, cover);
	/* Runs that cover nothing any more, or nothing that another does
	 * not cover better, go. */
	for (size_t k = dl.nrun; rc == 0 && k-- > 0;) {
		int used = 0;
		for (size_t i = 0; i < dl.nseg && !used; i++)
			used = cover[i] == k;
		if (!used) {
			dl_remove(&dl, k, 1);
			assign_cover(dl.runs, NULL, dl.nrun, dl.seqs, dl.nseg,
			    cover);
		}
	}
	/* Newest first, at most EVT_IDX_CATCH_UP of them unless full: a
	 * writer's first rotation waits for this (an archive of thousands
	 * of segments from before the index is indexed over several
	 * opens, or at once by repair). */
	size_t built = 0;
	for (size_t i = dl.nseg; rc == 0 && i-- > 0 &&
	    (full || built < EVT_IDX_CATCH_UP);)
		if (cover[i] == SIZE_MAX && dl.seqs[i] != skip_seq) {
			rc = build_run(&dl, &dl.seqs[i], 1, 0);
			built++;
		}
	if (rc == 0) {
		dl_free(&dl);
		rc = dl_scan(&dl, 0);
	}
	if (rc == 0)
		rc = merge_all(&dl);
	free(cover);
	dl_free(&dl);
	return rc;
}

/* evt_idx_catch_up, serialised with the process's other maintenance. */
int
evt_idx_catch_up(const char *dir, uint64_t skip_seq, int full, int sync,
    evt_idx_warn_cb warn, void *arg)
{
	pthread_mutex_lock(&maint_mu);
	int rc = idx_catch_up_locked(dir, skip_seq, full, sync, warn, arg);
	pthread_mutex_unlock(&maint_mu);
	return rc;
}

/* Deletes runs of pruned segments; see idindex.h. */
static int
idx_prune_locked(const char *dir, int sync, evt_idx_warn_cb warn, void *arg)
{
	struct dirlist dl = {.dir = dir, .sync = sync, .warn = warn,
	    .arg = arg};
	int rc = dl_scan(&dl, 0), any = 0;
	for (size_t k = dl.nrun; rc == 0 && k-- > 0;) {
		int live = 0;
		for (uint32_t s = 0; s < dl.runs[k].nsegs && !live; s++)
			live = dl_has(&dl, dl.runs[k].segs[s].seq);
		if (!live) {
			dl_remove(&dl, k, 1);
			any = 1;
		}
	}
	if (any && sync)
		sync_dir(dir);
	dl_free(&dl);
	return rc;
}

/* evt_idx_prune, serialised with the process's other maintenance. */
int
evt_idx_prune(const char *dir, int sync, evt_idx_warn_cb warn, void *arg)
{
	pthread_mutex_lock(&maint_mu);
	int rc = idx_prune_locked(dir, sync, warn, arg);
	pthread_mutex_unlock(&maint_mu);
	return rc;
}

/* Deletes every run file; see idindex.h. */
static int
idx_remove_all_locked(const char *dir, int sync)
{
	struct dirlist dl = {.dir = dir};
	int rc = dl_scan(&dl, 1);
	for (size_t k = dl.nrun; rc == 0 && k-- > 0;)
		dl_remove(&dl, k, 1);
	if (sync)
		sync_dir(dir);
	dl_free(&dl);
	return rc;
}

/* evt_idx_remove_all, serialised with the process's other maintenance. */
int
evt_idx_remove_all(const char *dir, int sync)
{
	pthread_mutex_lock(&maint_mu);
	int rc = idx_remove_all_locked(dir, sync);
	pthread_mutex_unlock(&maint_mu);
	return rc;
}

/* Checks every run file; see idindex.h. */
int
evt_idx_verify(const char *dir, evt_idx_report_cb report, void *arg)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return EVT_ERR_IO;
	struct dirent *e;
	int problems = 0, rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		uint64_t lo, hi;
		if (!evt_idx_parse_name(e->d_name, &lo, &hi))
			continue;
		char *p = evt_path_join(dir, e->d_name);
		if (p == NULL) {
			rc = EVT_ERR_NOMEM;
			break;
		}
		struct evt_idx_run run;
		const char *why = NULL;
		uint64_t at = 0;
		int lr = evt_idx_run_load(p, &run, &why, &at);
		if (lr == EVT_ERR_NOMEM)
			rc = lr;
		else if (lr != 0) {
			report(arg, p, at, why);
			problems++;
		}
		for (uint32_t q = 0; lr == 0 && q < run.nparts; q++) {
			uint8_t *slots;
			int pr = evt_idx_read_part(p, &run, q, &slots);
			free(slots);
			if (pr == EVT_ERR_NOMEM)
				rc = pr;
			else if (pr != 0) {
				report(arg, p, run.parts[q].off, "id index "
				    "partition checksum mismatch");
				problems++;
			}
		}
		for (uint32_t s = 0; lr == 0 && s < run.nsegs; s++) {
			char msg[160];
			if (identity_ok(dir, &run.segs[s]) != 0)
				continue;	/* matches, or pruned */
			snprintf(msg, sizeof msg, "covers seg-%012" PRIu64
			    ".evt as it was before it was rewritten (stale; "
			    "not used)", run.segs[s].seq);
			report(arg, p, EVT_IDX_HDR_SIZE +
			    (uint64_t)EVT_IDX_SEG_SIZE * s, msg);
			problems++;
		}
		if (lr == 0)
			evt_idx_run_free(&run);
		free(p);
	}
	closedir(d);
	return rc < 0 ? rc : problems;
}

/*
 * The lookup view.  It holds nothing per listed segment: each run's
 * directory stays mapped with its segment table in the file's bytes, and
 * which run covers a listed segment is worked out when asked from the
 * runs' spans of the listing (a run that holds every listed segment of
 * its span, as the runs a writer builds do, is "dense": no search).
 */

/* A run as a lookup uses it. */
struct vrun {
	struct evt_idx_run r;	/* r.segtab lies in m */
	struct runmap m;	/* its header and directory (m.fd closed) */
	size_t lo, hi;		/* the listed segments it holds lie in
				   [lo, hi] (lo > hi: none) */
	int usable;
	int dense;		/* it holds every listed segment of
				   [lo, hi] */
};

/* Listed segments [lo, hi]. */
struct vspan {
	size_t lo, hi;
};

/* A run's place in the cover order. */
struct vorder {
	uint32_t nsegs;
	size_t k;
};

struct evt_idx_view {
	struct evt_idx_segs segs;
	struct vrun *runs;
	size_t nrun;
	struct vorder *order;	/* most segments first: a segment's cover
				   is the first usable run holding it */
	struct vspan *spans;	/* the usable dense runs' spans, merged,
				   ascending */
	size_t nspan;
	size_t nsparse;		/* usable runs that are not dense */
	struct evt_idx_cand *cand;
	size_t ncand, ccap;
	uint8_t *scratch;	/* a version 3 probe's chunks, at their
				   place among a partition's slots */
	size_t scap;
};

/* Listed segment i's sequence number. */
static uint64_t
lseq(const struct evt_idx_view *v, size_t i)
{
	uint64_t seq, size;
	v->segs.get(v->segs.arg, i, 1, &seq, &size);
	return seq;
}

/* Entries of the listing a walk going down reads, a batch at a time:
 * one call of segs.get for LWIN_N segments. */
#define LWIN_N 128
struct lwin {
	size_t lo, n;		/* entries [lo, lo + n) */
	uint64_t seq[LWIN_N], size[LWIN_N];
};

/* Listed segment j's sequence number and size, through window w. */
static void
lwin_at(const struct evt_idx_view *v, struct lwin *w, size_t j,
    uint64_t *seq, uint64_t *size)
{
	if (j < w->lo || j - w->lo >= w->n) {
		w->lo = j >= LWIN_N - 1 ? j - (LWIN_N - 1) : 0;
		w->n = j - w->lo + 1;
		v->segs.get(v->segs.arg, w->lo, w->n, w->seq, w->size);
	}
	*seq = w->seq[j - w->lo];
	*size = w->size[j - w->lo];
}

/* The index of the last listed segment numbered seq or lower, or
 * SIZE_MAX. */
static size_t
listed_floor(const struct evt_idx_view *v, uint64_t seq)
{
	size_t lo = 0, hi = v->segs.n;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (lseq(v, m) <= seq)
			lo = m + 1;
		else
			hi = m;
	}
	return lo == 0 ? SIZE_MAX : lo - 1;
}

/* Whether run k's segment table holds listed segment i. */
static int
run_holds(const struct evt_idx_view *v, size_t k, size_t i)
{
	const struct vrun *w = &v->runs[k];
	if (i < w->lo || i > w->hi)
		return 0;
	if (w->dense)
		return 1;
	uint64_t seq = lseq(v, i);
	size_t lo = 0, hi = w->r.nsegs;	/* descending */
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		uint64_t q = le64_get(w->r.segtab + (size_t)EVT_IDX_SEG_SIZE *
		    m);
		if (q == seq)
			return 1;
		if (q > seq)
			lo = m + 1;
		else
			hi = m;
	}
	return 0;
}

/* The covering run of segment i. */
size_t
evt_idx_view_covering(const struct evt_idx_view *v, size_t i)
{
	if (v == NULL || i >= v->segs.n)
		return SIZE_MAX;
	for (size_t t = 0; t < v->nrun; t++) {
		size_t k = v->order[t].k;
		if (v->runs[k].usable && run_holds(v, k, i))
			return k;
	}
	return SIZE_MAX;
}

/* Orders spans by their first segment. */
static int
cmp_span(const void *x, const void *y)
{
	const struct vspan *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Makes v->spans, the merged spans of the usable dense runs, and counts
 * the usable sparse ones (after a run's usability changed). */
static void
view_spans(struct evt_idx_view *v)
{
	v->nspan = v->nsparse = 0;
	for (size_t k = 0; k < v->nrun; k++) {
		const struct vrun *w = &v->runs[k];
		if (w->usable && w->dense)
			v->spans[v->nspan++] = (struct vspan){w->lo, w->hi};
		else if (w->usable)
			v->nsparse++;
	}
	qsort(v->spans, v->nspan, sizeof *v->spans, cmp_span);
	size_t n = 0;
	for (size_t t = 0; t < v->nspan; t++) {
		if (n > 0 && v->spans[t].lo <= v->spans[n - 1].hi + 1) {
			if (v->spans[t].hi > v->spans[n - 1].hi)
				v->spans[n - 1].hi = v->spans[t].hi;
		} else {
			v->spans[n++] = v->spans[t];
		}
	}
	v->nspan = n;
}

/* Whether a usable run that is not dense holds listed segment i. */
static int
sparse_holds(const struct evt_idx_view *v, size_t i)
{
	for (size_t k = 0; v->nsparse > 0 && k < v->nrun; k++)
		if (v->runs[k].usable && !v->runs[k].dense &&
		    run_holds(v, k, i))
			return 1;
	return 0;
}

/* The last segment below i that no usable run covers: a binary search
 * of the dense runs' merged spans a jump, whatever the number of runs. */
size_t
evt_idx_view_uncovered_below(const struct evt_idx_view *v, size_t i)
{
	if (v == NULL)
		return i > 0 ? i - 1 : SIZE_MAX;
	while (i-- > 0) {
		size_t lo = 0, hi = v->nspan;	/* the last span from <= i */
		while (lo < hi) {
			size_t m = lo + (hi - lo) / 2;
			if (v->spans[m].lo <= i)
				lo = m + 1;
			else
				hi = m;
		}
		if (lo > 0 && i <= v->spans[lo - 1].hi)
			i = v->spans[lo - 1].lo;	/* jump below it */
		else if (!sparse_holds(v, i))
			return i;
	}
	return SIZE_MAX;
}

/*
 * Checks run w's segment table (parse_segs' rules) and its segments'
 * identities against the listing in one walk, and notes its span: 0 and
 * w->usable, or a parse error.  Usable: every segment it covers is
 * listed with the size it recorded (where the size is known), or gone
 * below the lowest listed one (retention); one gone above it is a hole
 * (moved aside), one of another size was rewritten.
 */
static int
view_walk(const struct evt_idx_view *v, struct vrun *w)
{
	const struct evt_idx_run *r = &w->r;
	const char *why;
	uint64_t at, prev = 0, lq = 0, lsz = 0;
	uint64_t lowest = v->segs.n > 0 ? lseq(v, 0) : 0;
	uint32_t next = 0;
	size_t j = SIZE_MAX, held = 0;	/* j: listed, lq, lsz its own */
	struct lwin win = {0, 0, {0}, {0}};
	w->usable = 1;
	w->lo = 1;
	w->hi = 0;
	for (uint32_t s = 0; s < r->nsegs; s++) {	/* descending */
		struct evt_idx_seg e;
		seg_decode(r->segtab + (size_t)EVT_IDX_SEG_SIZE * s, &e);
		int rc = seg_check(r, s, &e, prev, &next, &why, &at);
		if (rc != 0)
			return rc;
		prev = e.seq;
		if (s == 0)
			j = listed_floor(v, e.seq);
		else if (j != SIZE_MAX && lq > e.seq)
			j = j > 0 ? j - 1 : SIZE_MAX;
		while (j != SIZE_MAX) {
			lwin_at(v, &win, j, &lq, &lsz);
			if (lq <= e.seq)
				break;
			j = j > 0 ? j - 1 : SIZE_MAX;
		}
		if (j != SIZE_MAX && lq == e.seq) {
			if (lsz != EVT_SIZE_UNKNOWN && lsz != e.size)
				w->usable = 0;
			if (held++ == 0)
				w->hi = j;
			w->lo = j;
		} else if (v->segs.n > 0 && e.seq > lowest) {
			w->usable = 0;
		}
	}
	w->dense = held > 0 && held == w->hi - w->lo + 1;
	return seg_check_end(r, next, &why, &at);
}

/*
 * Probes partition p of version 3 run r for key reading only the chunks
 * that hold its three slots (checked; copied into v->scratch at their
 * place): 1 and *first, *count as evt_idx_probe, 0 if absent, or
 * EVT_ERR_CHECKSUM / EVT_ERR_IO / EVT_ERR_NOMEM.
 */
static int
probe_chunks(struct evt_idx_view *v, int fd, const struct evt_idx_run *r,
    uint32_t p, uint64_t key, uint32_t *first, uint32_t *count)
{
	const struct evt_idx_part *q = &r->parts[p];
	if (q->nkeys == 0)
		return 0;
	size_t n = evt_filter_slot_bytes((q->segcount + 2) * q->seglen,
	    r->slotbits);
	if (n > v->scap) {
		free(v->scratch);
		v->scratch = malloc(n);
		v->scap = v->scratch != NULL ? n : 0;
		if (v->scratch == NULL)
			return EVT_ERR_NOMEM;
	}
	struct evt_filter f = {.seed = q->seed, .seglen = q->seglen,
	    .segcount = q->segcount, .nslots = (q->segcount + 2) * q->seglen,
	    .locbits = (uint8_t)r->locbits, .slotbits = (uint8_t)r->slotbits};
	uint32_t pos[3];
	if (!evt_filter_positions(&f, key, pos))
		return 0;
	unsigned bits = r->slotbits >= 16 ? 16 : r->slotbits;
	size_t done[6], nd = 0;
	uint8_t chunk[EVT_IDX_SLOT_CHUNK + 4];
	for (int i = 0; i < 6; i++) {	/* each slot's first and last byte */
		uint64_t bit = (uint64_t)pos[i / 2] * bits + (i & 1 ? bits - 1 :
		    0);
		size_t c = (size_t)(bit >> 3) / EVT_IDX_SLOT_CHUNK, k = 0;
		while (k < nd && done[k] != c)
			k++;
		if (k < nd)
			continue;
		done[nd++] = c;
		size_t d = c * EVT_IDX_SLOT_CHUNK;
		size_t len = n - d < EVT_IDX_SLOT_CHUNK ? n - d :
		    EVT_IDX_SLOT_CHUNK;
		if (evt_pread_full(fd, chunk, len + 4, q->off + (uint64_t)c *
		    (EVT_IDX_SLOT_CHUNK + 4)) != 0)
			return EVT_ERR_CHECKSUM;	/* cut short */
		if (evt_crc32c(0, chunk, len) != le32_get(chunk + len))
			return EVT_ERR_CHECKSUM;
		memcpy(v->scratch + d, chunk, len);
	}
	return evt_idx_probe(r, q, v->scratch, key, first, count);
}

/* Probes run k (its file open as fd) for key, any version, and adds the
 * listed blocks of a hit to the candidates: 0, or a negative evt_err
 * (other than EVT_ERR_NOMEM: the run is not to be used). */
static int
view_probe(struct evt_idx_view *v, size_t k, int fd, uint64_t key)
{
	struct evt_idx_run *r = &v->runs[k].r;
	uint32_t p = evt_idx_part_of(key, r->nparts), first = 0, count = 0;
	int hit;
	if (r->version < 3) {
		uint8_t *slots;
		hit = read_part_fd(fd, r, p, &slots);
		if (hit == 0)
			hit = evt_idx_probe(r, &r->parts[p], slots, key, &first,
			    &count);
		free(slots);
	} else {
		hit = probe_chunks(v, fd, r, p, key, &first, &count);
		if (hit == 1 && evt_idx_load_blocks(fd, r, first, count) != 0)
			hit = EVT_ERR_CHECKSUM;
	}
	for (uint32_t g = first; hit == 1 && g < first + count; g++) {
		const struct evt_idx_blk *e = &r->blks[g];
		struct evt_idx_seg s;
		seg_get(r, e->seg, &s);
		size_t i = listed_floor(v, s.seq);
		if (i == SIZE_MAX || e->flags == 0 || lseq(v, i) != s.seq)
			continue;
		if (grow((void **)&v->cand, v->ncand, &v->ccap,
		    sizeof *v->cand) != 0)
			return EVT_ERR_NOMEM;
		v->cand[v->ncand++] = (struct evt_idx_cand){.seg = i,
		    .off = e->off, .ent = s, .blk = *e, .run = k};
	}
	return hit < 0 ? hit : 0;
}

/* Adds run file name of dir to the view and, if it may be used, probes
 * it for key: 0, or EVT_ERR_NOMEM (a run that does not check is left
 * out: verify reports it). */
static int
view_add(struct evt_idx_view *v, const char *dir, const char *name,
    uint64_t key)
{
	char *p = evt_path_join(dir, name);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	struct vrun *w = &v->runs[v->nrun];
	const char *why;
	uint64_t at;
	int rc = run_map(p, &w->r, &why, &at, 0, 1, &w->m);
	free(p);
	if (rc != 0)
		return rc == EVT_ERR_NOMEM ? rc : 0;
	size_t k = v->nrun++;
	if (view_walk(v, w) != 0)
		w->usable = 0;
	else if (w->usable && (rc = view_probe(v, k, w->m.fd, key)) < 0 &&
	    rc != EVT_ERR_NOMEM) {
		w->usable = 0;
		rc = 0;
	}
	close(w->m.fd);
	return rc;
}

/* Orders runs: most segments first, then in the listing's order. */
static int
cmp_order(const void *x, const void *y)
{
	const struct vorder *a = x, *b = y;
	if (a->nsegs != b->nsegs)
		return a->nsegs > b->nsegs ? -1 : 1;
	return a->k < b->k ? -1 : a->k > b->k;
}

/* Orders candidates: newest segment first, then by block offset. */
static int
cmp_cand(const void *x, const void *y)
{
	const struct evt_idx_cand *a = x, *b = y;
	if (a->seg != b->seg)
		return a->seg > b->seg ? -1 : 1;
	return a->off < b->off ? -1 : a->off > b->off;
}

/* Loads the view and probes it; see idindex.h. */
int
evt_idx_view_open(const char *dir, char *const *names, size_t nnames,
    const struct evt_idx_segs *segs, uint64_t key, struct evt_idx_view **out,
    const struct evt_idx_cand **c)
{
	struct evt_idx_view *v = calloc(1, sizeof *v);
	*out = NULL;
	*c = NULL;
	if (v == NULL)
		return EVT_ERR_NOMEM;
	v->segs = *segs;
	v->runs = calloc(nnames + 1, sizeof *v->runs);
	v->order = calloc(nnames + 1, sizeof *v->order);
	v->spans = calloc(nnames + 1, sizeof *v->spans);
	int rc = v->runs == NULL || v->order == NULL || v->spans == NULL ?
	    EVT_ERR_NOMEM : 0;
	for (size_t i = 0; i < nnames && rc == 0; i++)
		rc = view_add(v, dir, names[i], key);
	if (rc != 0) {
		evt_idx_view_close(v);
		return rc;
	}
	for (size_t k = 0; k < v->nrun; k++)
		v->order[k] = (struct vorder){v->runs[k].r.nsegs, k};
	qsort(v->order, v->nrun, sizeof *v->order, cmp_order);
	view_spans(v);
	if (v->ncand > 1)
		qsort(v->cand, v->ncand, sizeof *v->cand, cmp_cand);
	*out = v;
	*c = v->cand;
	return (int)v->ncand;
}

/* Drops run k. */
void
evt_idx_view_drop(struct evt_idx_view *v, size_t k)
{
	v->runs[k].usable = 0;
	view_spans(v);
}

/* Frees the view. */
void
evt_idx_view_close(struct evt_idx_view *v)
{
	if (v == NULL)
		return;
	for (size_t k = 0; k < v->nrun; k++) {
		evt_idx_run_free(&v->runs[k].r);
		runmap_free(&v->runs[k].m);
	}
	free(v->runs);
	free(v->order);
	free(v->spans);
	free(v->cand);
	free(v->scratch);
	free(v);
}

/* Checks a candidate block; see idindex.h. */
int
evt_idx_check_cand(const char *path, const struct evt_idx_cand *c,
    const char *id, size_t len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	uint32_t crc;
	int rc = 1;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != c->ent.size ||
	    trailer_crc(fd, c->ent.size, &crc) != 0 ||
	    crc != c->ent.trl_crc) {
		rc = -1;
		goto out;
	}
	uint8_t g[16];
	if (!(c->blk.flags & EVT_BLKF_IDCOL) ||
	    !evt_guid_parse(id, len, g, 0))
		goto out;	/* only decoding can tell */
	/* The column holds exactly the block's indexed ids, as GUIDs. */
	struct evt_buf col = {0};
	if (read_guids(fd, &c->blk, &col) != 0) {
		evt_buf_free(&col);
		goto out;	/* let the reader say what is wrong */
	}
	rc = 0;
	for (size_t k = 0; k < c->blk.nguid && rc == 0; k++)
		rc = memcmp(col.p + EVT_GUID_SIZE * k, g, EVT_GUID_SIZE) == 0 ?
		    2 : 0;
	evt_buf_free(&col);
out:
	close(fd);
	return rc;
}
