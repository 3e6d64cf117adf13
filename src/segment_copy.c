/*
 * segment_copy.c: the leading blocks of a sealed segment copied byte for
 * byte into a new segment file (evtool cut, formats/archive.md "Cut
 * archives": whole blocks are not re-encoded).
 *
 * A block names strings and shapes by their number in its segment's
 * dictionary, and a block header carries nothing that depends on where it
 * lies (no offset, no sequence number).  So blocks 0 .. n-1 of a segment,
 * placed in the same order right after a new segment header, mean exactly
 * what they meant: the new segment's dictionary is the old one's up to
 * block n, numbered alike, and every header field, flags included (UNIT,
 * IDCOL, SESSION), stays true.  Everything derived from the blocks (the
 * index, the summary, the checkpoint) is then made by the writer that
 * resumes the new segment as it resumes one after a crash.
 */
#include <errno.h>
#include <unistd.h>

#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "le.h"
#include "segment_int.h"
#include "segment_layout.h"

/* The leading blocks of r whose receive times all lie in [from, to); see
 * segment.h. */
uint32_t
evt_segr_copy_run(struct evt_segr *r, int64_t from, int64_t to)
{
	if (!r->info.sealed || r->info.hdr_damaged ||
	    evt_segr_load_index(r) != 0 || r->force_scan)
		return 0;
	uint32_t n = 0;
	if (r->nblocks == 0 || r->blocks[0].off != EVT_SEG_HDR_SIZE ||
	    r->blocks[0].str_base != 0 || r->blocks[0].shape_base != 0)
		return 0;
	while (n < r->nblocks && r->blocks[n].first_rx >= from &&
	    r->blocks[n].last_rx < to)
		n++;
	return n;
}

/* Reads the block at off into b (header and payload) and checks it as a
 * reader does before decompressing (formats/segment.md, "Block", checks 1
 * to 7); its length in *len.  0, or a negative evt_err. */
static int
read_block(struct evt_segr *r, uint64_t off, const struct evt_blkent *be,
    struct evt_buf *b, size_t *len)
{
	struct evt_blkhdr bh;
	uint8_t h[EVT_BLK_HDR_SIZE];
	if (off + EVT_BLK_HDR_SIZE > r->info.data_end)
		return EVT_ERR_CORRUPT;
	int rc = evt_pread_full(r->fd, h, sizeof h, off);
	if (rc != 0)
		return rc;
	if (!evt_blkhdr_magic_ok(h) || !evt_fixed_crc_ok(h, sizeof h))
		return EVT_ERR_CORRUPT;
	evt_blkhdr_get(h, &bh);
	uint64_t plen = evt_blkhdr_payload_len(&bh);
	if (bh.hdr_size != EVT_BLK_HDR_SIZE || bh.codec != EVT_CODEC_ZSTD ||
	    (bh.version != EVT_BLK_VERSION && bh.version !=
	    EVT_BLK_VERSION_COL && bh.version != EVT_BLK_VERSION_JOIN) ||
	    bh.rawlen > EVT_BLK_MAX_RAW || bh.nguid > EVT_BLK_MAX_GUIDS ||
	    plen > r->info.data_end - off - EVT_BLK_HDR_SIZE ||
	    bh.str_base != be->str_base || bh.shape_base != be->shape_base ||
	    bh.nrec != be->nrec || bh.nevent != be->nevent)
		return EVT_ERR_CORRUPT;
	b->len = 0;
	if (evt_buf_grow(b, EVT_BLK_HDR_SIZE + plen) != 0)
		return EVT_ERR_NOMEM;
	memcpy(b->p, h, sizeof h);
	if ((rc = evt_pread_full(r->fd, b->p + sizeof h, plen, off +
	    sizeof h)) != 0)
		return rc;
	if (evt_crc32c(0, b->p + sizeof h, plen) != bh.payload_crc)
		return EVT_ERR_CORRUPT;
	*len = EVT_BLK_HDR_SIZE + plen;
	return 0;
}

/* Appends blocks [0, n) of r to fd; see segment.h. */
int
evt_segr_copy_blocks(struct evt_segr *r, uint32_t n, int fd, uint64_t at,
    uint32_t *copied)
{
	struct evt_buf b = {0};
	uint64_t off = EVT_SEG_HDR_SIZE;
	int rc = 0;
	*copied = 0;
	for (uint32_t i = 0; i < n && i < r->nblocks && rc == 0; i++) {
		size_t len;
		/* Only contiguous blocks: a gap is a block lost before the
		 * seal, whose definitions the later ones may need. */
		if (r->blocks[i].off != off ||
		    read_block(r, off, &r->blocks[i], &b, &len) != 0)
			break;
		ssize_t k;
		do
			k = pwrite(fd, b.p, len, (off_t)at);
		while (k < 0 && errno == EINTR);
		if (k != (ssize_t)len) {
			rc = k < 0 && errno != ENOSPC ? EVT_ERR_IO :
			    EVT_ERR_NOSPC;
			break;
		}
		off += len;
		at += len;
		(*copied)++;
	}
	evt_buf_free(&b);
	return rc;
}
