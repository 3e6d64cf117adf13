/*
 * segment_int.h: the reader's state, shared by segment_reader.c and the
 * writer's crash resume (segment_writer.c), which scans with the reader.
 * Internal to src/.
 */
#ifndef EVT_SEGMENT_INT_H
#define EVT_SEGMENT_INT_H

#include <string.h>
#include <time.h>

#include <zstd.h>

#include "evtape/segment.h"

struct evt_blkhdr;	/* segment_layout.h */

struct evt_segr {
	int fd;
	char *path;
	struct evt_seg_info info;
	evt_seg_err_cb cb;
	void *cbarg;
	uint64_t nerr;

	/* Trailer fields of a sealed segment. */
	unsigned locbits, locshift;
	uint64_t meta_off, meta_len, filt_off, filt_len;
	uint32_t meta_crc, filt_crc;
	struct evt_filter filt;	/* slots mapped lazily */
	void *map;		/* mmap of the filter region */
	size_t map_len;
	int meta_loaded;	/* 1 loaded, -1 failed */
	int force_scan;		/* read a sealed segment block by block */

	/* Sealed, index loaded: the blocks' check lists (directory element
	 * 7, revision 1.2), by block offset, and the current block's GUID
	 * column entries that a failed check covers (gbad_on). */
	struct evt_buf chk;
	struct evt_chkref {
		uint64_t off;
		uint32_t at, len;
	} *chkref;
	uint32_t nchk;
	uint8_t *gbad;
	uint32_t gbad_cap;
	int gbad_on;	/* 1 salvaged; more once a dropped event was reported */

	struct evt_dict dict;
	struct evt_blkent *blocks;
	uint32_t nblocks, blkcap;
	char *last_id;
	size_t last_id_len;
	struct evt_buf sum;	/* the index's summary, packed; len 0: none */
	struct evt_buf ckp;	/* the index's state checkpoint, packed */

	ZSTD_DCtx *dctx;
	struct evt_buf io, raw;
	struct evt_buf colf;	/* a columnar block's decompressed form */
	struct evt_buf gcol;	/* a packed GUID column, unpacked */
	uint32_t blk_zlen;	/* the loaded block's zstd frame length */
	struct evt_rdec dec;

	/* Scan state. */
	int in_block;
	uint64_t cur_off;	/* offset of the block being decoded */
	uint64_t pos;		/* unsealed: offset of the next block */
	uint32_t bi;		/* sealed: next block directory entry */
	int64_t from_rx;
	int64_t to_rx;		/* sealed: blocks starting at or after it are
				   skipped (evt_segr_set_end) */
	uint64_t valid_end;	/* unsealed: end of the last good block */
	int live;		/* unsealed, followed (evt_segr_live): a block
				   not yet whole at the end is waited for */
	struct timespec live_mtime; /* the file's when last looked at */

	/* What the scan could not read (evt_segr_lost). */
	uint64_t lost;		/* events known lost */
	uint64_t lost_unknown;	/* damaged places of unknown event count */
	int hdr_ok;		/* the last block loaded had a good header */
	uint32_t blk_nevent;	/* ... and its header's nevent */
	uint32_t blk_seen;	/* events of MSG frames decoded in it */
	int blk_msg;		/* the current frame is a MSG */
	int blk_broken;		/* the rest of the block was lost */
	uint64_t msg_off;	/* record offset of the open MSG/STATES */
	int msg_kind;		/* and its kind; -1: none (items are
				   orphans, dropped) */
};

/* The index of the first of n entries (stride bytes apart, each starting
 * with a uint64_t offset, in increasing order) whose offset is off, or n:
 * a block directory or a list of check lists, searched by block offset. */
static inline uint32_t
evt_seg_find_off(const void *base, uint32_t n, size_t stride, uint64_t off)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t v;
		memcpy(&v, (const char *)base + (size_t)mid * stride, sizeof v);
		if (v < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint64_t v = 0;
	if (lo < n)
		memcpy(&v, (const char *)base + (size_t)lo * stride, sizeof v);
	return lo < n && v == off ? lo : n;
}

/* Reads, checks and decompresses the block at off into the decoder;
 * sets *next to the offset after it and *bh to its header (valid when
 * r->hdr_ok).  Reports problems. */
int evt_segr_load_block(struct evt_segr *r, uint64_t off, uint64_t *next,
    struct evt_blkhdr *bh);

#endif
