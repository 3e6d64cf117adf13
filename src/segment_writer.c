/*
 * segment_writer.c: appends blocks to a segment file, seals it with an
 * index and a trailer, and resumes an unsealed one after a crash.
 *
 * Data flow: frames -> record encoder (record.c) -> block buffers -> one
 * zstd frame + GUID column -> one pwritev at the end of the valid data.  A
 * failed write is cut off again (ftruncate) and the block stays buffered,
 * so a full disk loses nothing that was written and a retry writes it all.
 * Every opts.unit_bytes the writer starts a dictionary unit (defines its
 * strings and shapes again), and sealing writes each block's check list
 * into the index: what keeps damage to one block from spreading.
 *
 * The byte tables of the segment header, block header and trailer, and
 * the names of the index's keys, are in segment_layout.h
 * (formats/segment.md is the authority).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zstd.h>

#include "evtape/crc32c.h"
#include "evtape/ckpt.h"
#include "evtape/colform.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "evtape/summary.h"
#include "le.h"
#include "segment_int.h"
#include "segment_layout.h"

/* What the writer keeps of a block it wrote, for the seal. */
struct blkw {
	uint32_t zlen, nguid;	/* its zstd frame's and GUID column's size */
	uint32_t chk_at;	/* its check list's offset in chk, or
				   UINT32_MAX: none yet */
	uint8_t guid_ids;	/* 1 if its GUID column is exactly the ids
				   of its MSG events, in order (the seal
				   then takes the keys from the column) */
	uint8_t packed;		/* its GUID column is packed */
};

struct evt_segw {
	int fd;
	char *path;
	uint64_t seq;
	uint8_t uuid[16];
	int64_t created_us;
	struct evt_segw_opts opts;
	uint64_t off; /* end of the valid data */
	struct evt_renc enc;
	ZSTD_CCtx *cctx;
	struct evt_buf zbuf;
	struct evt_colenc *col;	/* columnar form encoder (block version 2) */
	struct evt_buf colbuf;	/* a block's columnar form */
	struct evt_buf gpack;	/* a block's packed GUID column */
	uint32_t str_base, shape_base; /* dictionary sizes at block start */

	struct evt_blkent *blocks; /* the only per-block state; nothing is
				      kept per event (the seal reads the
				      ids back from the file) */
	uint32_t nblocks, blkcap;
	struct blkw *bw;   /* per block */
	struct evt_buf chk; /* check lists of the blocks written, one after
			       the other (formats/segment.md, "Check
			       lists"): a few bytes a block */
	int resumed;	   /* blocks before the crash: the seal reads the
			      segment back for their keys and checks */
	uint64_t nevents, nrecords;
	uint64_t raw_bytes;	/* records + GUID bytes of the written blocks */
	int64_t first_rx, last_rx;
	uint64_t frames[EVT_K_MAX + 1]; /* frames (and markers) per kind */
	int dirty;	   /* written since the last fsync */
	int blk_session;   /* the open block holds a SESSION marker */
	int unit_start;	   /* the open block starts a dictionary unit */
	uint64_t unit_raw; /* record + GUID bytes of the unit's blocks */
	struct evt_buf session; /* body of the last SESSION marker */
	int have_session;
	int cut_failed;	/* a failed write could not be cut off: the file
			   may be longer than off from then on */
	/* The summary (summary.h), counted block by block as the blocks
	 * are written, from the encoder's summary log or, for an odd block,
	 * by decoding its records with sdec; NULL: the seal reads the
	 * blocks back to build it (a resumed segment, or no summary). */
	struct evt_sumb *sumb;
	struct evt_rdec sdec;	 /* over enc.dict, which it does not grow */
	msgpack_object *svals;	 /* a logged EVENT's record array */
	/* The state checkpoint (ckpt.h), fed every frame appended; NULL:
	 * none (opts.no_checkpoint), or ckfixed is written instead (a
	 * rewrite keeps its source's checkpoint). */
	struct evt_ckb *ckb;
	struct evt_buf ckfixed;
	int has_ckfixed;
};

/* Maps a failed system call to an evt_err. */
static int
sys_err(void)
{
	if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
		return EVT_ERR_NOSPC;
	return EVT_ERR_IO;
}

/* fsyncs the directory holding path, so a new file name is durable. */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if ((size_t)(slash - path) >= sizeof dir)
		return EVT_ERR_ARG;
	else {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = 0;
		if (dir[0] == 0)
			strcpy(dir, "/");
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return EVT_ERR_IO;
	int rc = fsync(fd);
	close(fd);
	return rc == 0 ? 0 : EVT_ERR_IO;
}

/* Allocates a writer with defaults filled in. */
static struct evt_segw *
segw_alloc(const char *path, const struct evt_segw_opts *opts)
{
	struct evt_segw *w = calloc(1, sizeof *w);
	if (w == NULL)
		return NULL;
	w->fd = -1;
	if (opts != NULL)
		w->opts = *opts;
	if (w->opts.block_bytes == 0)
		w->opts.block_bytes = EVT_BLOCK_BYTES_DEFAULT;
	if (w->opts.level == 0)
		w->opts.level = 3;
	if (w->opts.unit_bytes == 0)
		w->opts.unit_bytes = EVT_UNIT_BYTES_DEFAULT;
	w->unit_start = 1;
	/* The table is not known until the archive seeds it (or a STATES
	 * frame comes); derived data, so no memory costs no frame. */
	if (!w->opts.no_checkpoint && !evt_ckpt_disabled())
		w->ckb = evt_ckb_new();
	w->path = strdup(path);
	w->cctx = ZSTD_createCCtx();
	if (w->path == NULL || w->cctx == NULL ||
	    evt_renc_init(&w->enc) != 0) {
		free(w->path);
		ZSTD_freeCCtx(w->cctx);
		evt_ckb_free(w->ckb);
		free(w);
		return NULL;
	}
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->opts.level);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1);
	/*
	 * Blocks are a few hundred KiB at most, but zstd sizes level 6's
	 * tables for up to 256 KiB of input at 2^19 hash and 2^18 chain
	 * entries: 4.1 MB a writer holds for good, a quarter of an idle
	 * recorder.  2^17 and 2^16 cost 0.01 % in bytes on evgen's stream
	 * and 2.5 MB of RSS less; zstd still shrinks them for smaller input.  The
	 * strong levels keep their own tables.
	 */
	if (w->opts.level <= 9) {
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_hashLog, 17);
		ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_chainLog, 16);
	}
	return w;
}

/* Frees a writer and closes its file. */
static void
segw_free(struct evt_segw *w)
{
	if (w->fd >= 0)
		close(w->fd);
	evt_renc_free(&w->enc);
	ZSTD_freeCCtx(w->cctx);
	evt_buf_free(&w->zbuf);
	if (w->col != NULL)
		evt_colenc_free(w->col);
	free(w->col);
	evt_buf_free(&w->colbuf);
	evt_buf_free(&w->gpack);
	evt_buf_free(&w->session);
	if (w->sumb != NULL) {
		evt_sumb_free(w->sumb);
		evt_rdec_free(&w->sdec);
	}
	free(w->svals);
	free(w->blocks);
	free(w->bw);
	evt_buf_free(&w->chk);
	evt_ckb_free(w->ckb);
	evt_buf_free(&w->ckfixed);
	free(w->path);
	free(w);
}

/* Starts counting the summary while writing, unless w writes none;
 * without memory for it, the seal reads the blocks back instead. */
static void
summary_start(struct evt_segw *w)
{
	if (w->opts.no_summary)
		return;
	w->svals = calloc(EVT_SHAPE_MAX_FIELDS + 2, sizeof *w->svals);
	w->sumb = evt_sumb_new();
	if (w->svals == NULL || w->sumb == NULL ||
	    evt_rdec_init(&w->sdec, &w->enc.dict, 0) != 0) {
		evt_sumb_free(w->sumb);
		w->sumb = NULL;
		return;
	}
	w->enc.slog_on = 1;
}

/* Writes the segment header (formats/segment.md, "Segment header"). */
static int
write_header(struct evt_segw *w)
{
	struct evt_seghdr sh = {
		.major = EVT_SEG_VERSION,
		.minor = !w->opts.row_blocks ? EVT_SEG_MINOR :
		    w->opts.no_summary ? EVT_SEG_MINOR_12 : EVT_SEG_MINOR_ROWS,
		.hdr_size = EVT_SEG_HDR_SIZE, .seq = w->seq,
		.created = w->created_us,
	};
	memcpy(sh.uuid, w->uuid, sizeof sh.uuid);
	uint8_t h[EVT_SEG_HDR_SIZE];
	evt_seghdr_put(h, &sh);
	if (pwrite(w->fd, h, sizeof h, 0) != (ssize_t)sizeof h)
		return sys_err();
	w->off = EVT_SEG_HDR_SIZE;
	return 0;
}

/* Creates a new segment file; see segment.h. */
int
evt_segw_create(const char *path, uint64_t seq, const uint8_t uuid[16],
    int64_t now_us, const struct evt_segw_opts *opts, struct evt_segw **out)
{
	struct evt_segw *w = segw_alloc(path, opts);
	if (w == NULL)
		return EVT_ERR_NOMEM;
	w->seq = seq;
	memcpy(w->uuid, uuid, sizeof w->uuid);
	w->created_us = now_us;
	summary_start(w);
	w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int rc = errno == EEXIST ? EVT_ERR_EXISTS : sys_err();
		segw_free(w);
		return rc;
	}
	int rc = write_header(w);
	if (rc == 0 && w->opts.fsync != EVT_FSYNC_NEVER)
		rc = fsync(w->fd) == 0 ? sync_dir(path) : EVT_ERR_IO;
	if (rc != 0) {
		unlink(path);
		segw_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

/* Appends a block directory entry and what the writer keeps of it. */
static int
add_block(struct evt_segw *w, const struct evt_blkent *be,
    const struct blkw *bw)
{
	if (w->nblocks == w->blkcap) {
		uint32_t cap = w->blkcap ? w->blkcap * 2 : 256;
		struct evt_blkent *b = realloc(w->blocks, cap * sizeof *b);
		if (b == NULL)
			return EVT_ERR_NOMEM;
		w->blocks = b;
		struct blkw *g = realloc(w->bw, cap * sizeof *g);
		if (g == NULL)
			return EVT_ERR_NOMEM;
		w->bw = g;
		w->blkcap = cap;
	}
	w->bw[w->nblocks] = *bw;
	w->blocks[w->nblocks++] = *be;
	if (w->nblocks == 1 || be->first_rx < w->first_rx)
		w->first_rx = be->first_rx;
	if (w->nblocks == 1 || be->last_rx > w->last_rx)
		w->last_rx = be->last_rx;
	return 0;
}

/*
 * Compresses the n bytes at p into w->zbuf as one zstd frame, ending a
 * zstd block at each of the nparts offsets (the columns of a columnar
 * form), so that every column gets its own entropy tables; returns the
 * frame's length or 0 on failure.
 */
static size_t
compress_parts(struct evt_segw *w, const uint8_t *p, size_t n,
    const size_t *parts, size_t nparts)
{
	size_t bound = ZSTD_compressBound(n) + 8 * nparts + 64;
	w->zbuf.len = 0;
	if (evt_buf_grow(&w->zbuf, bound) != 0)
		return 0;
	ZSTD_CCtx_reset(w->cctx, ZSTD_reset_session_only);
	if (ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(w->cctx, n)))
		return 0;
	ZSTD_outBuffer out = {w->zbuf.p, bound, 0};
	size_t from = 0;
	for (size_t i = 0; i < nparts; i++) {
		ZSTD_inBuffer in = {p + from, parts[i] - from, 0};
		ZSTD_EndDirective op = i + 1 == nparts ? ZSTD_e_end :
		    ZSTD_e_flush;
		size_t left;
		do {
			left = ZSTD_compressStream2(w->cctx, &out, &in, op);
			if (ZSTD_isError(left) || (left > 0 &&
			    out.pos == out.size))
				return 0;
		} while (left > 0);
		from = parts[i];
	}
	return out.pos;
}

/*
 * Compresses the open block's records into w->zbuf: as they are (block
 * version 1) or in their columnar form (version 2, colform.h).  Sets
 * *zlen and *rawlen (the frame's decompressed size).
 */
static int
compress_block(struct evt_segw *w, size_t *zlen, size_t *rawlen)
{
	struct evt_renc *e = &w->enc;
	if (w->opts.row_blocks) {
		size_t bound = ZSTD_compressBound(e->recs.len);
		w->zbuf.len = 0;
		if (evt_buf_grow(&w->zbuf, bound) != 0)
			return EVT_ERR_NOMEM;
		*zlen = ZSTD_compress2(w->cctx, w->zbuf.p, bound, e->recs.p,
		    e->recs.len);
		*rawlen = e->recs.len;
		return ZSTD_isError(*zlen) ? EVT_ERR_NOMEM : 0;
	}
	size_t parts[EVT_COL_MAX_PARTS];
	size_t nparts;
	if (w->col == NULL && (w->col = calloc(1, sizeof *w->col)) == NULL)
		return EVT_ERR_NOMEM;
	w->col->form = w->opts.colform1 ? EVT_COLFORM_1 : EVT_COLFORM_2;
	w->col->time_cols = evt_colform_time_cols;
	w->col->time_ctx = &e->dict;
	int rc = evt_colform_encode(w->col, e->recs.p, e->recs.len,
	    &w->colbuf, parts, &nparts);
	if (rc != 0)
		return rc;
	if (w->colbuf.len > EVT_BLK_MAX_RAW)
		return EVT_ERR_TOOBIG;
	*rawlen = w->colbuf.len;
	*zlen = compress_parts(w, w->colbuf.p, w->colbuf.len, parts, nparts);
	return *zlen == 0 ? EVT_ERR_NOMEM : 0;
}

/*
 * Appends a block's check list to chk, its offset in *at (formats/segment.md,
 * "Metadata map", directory element 7): zcrc, the CRC-32C of its zstd
 * frame, then one of every EVT_CHK_GUIDS entries of its GUID column (nguid
 * entries at guids, unpacked), so that a reader can tell which part of a
 * block whose payload checksum fails is damaged.
 */
static int
block_checks(struct evt_buf *chk, uint32_t *at, uint32_t zcrc,
    const uint8_t *guids, uint32_t nguid)
{
	uint8_t c[EVT_CHK_SIZE];
	*at = (uint32_t)chk->len;
	le32_put(c, zcrc);
	if (evt_buf_put(chk, c, sizeof c) != 0)
		return EVT_ERR_NOMEM;
	for (uint32_t g = 0; g < nguid; g += EVT_CHK_GUIDS) {
		uint32_t k = nguid - g < EVT_CHK_GUIDS ? nguid - g :
		    EVT_CHK_GUIDS;
		le32_put(c, evt_crc32c(0, guids + EVT_GUID_SIZE * (size_t)g,
		    EVT_GUID_SIZE * (size_t)k));
		if (evt_buf_put(chk, c, sizeof c) != 0)
			return EVT_ERR_NOMEM;
	}
	return 0;
}

/*
 * Counts the records of block bi, just written, into the summary: from
 * the encoder's summary log, each logged EVENT given to the count as the
 * record array a decoder would return (only its source and type values
 * are read, the log says where), or, for an odd block, by decoding its
 * records as a reader would.  A failure makes the summary incomplete: it
 * is derived data, never a reason to lose the block.
 */
static void
summary_block(struct evt_segw *w, uint32_t bi, uint32_t nguid)
{
	struct evt_renc *e = &w->enc;
	struct evt_rec re;
	int rc = 0;
	evt_sumb_block(w->sumb, bi);
	if (e->slog_odd) {
		evt_rdec_block(&w->sdec, e->recs.p, e->recs.len, e->guids.p,
		    nguid, w->str_base, w->shape_base);
		while (rc == 0 && (rc = evt_rdec_next(&w->sdec, &re)) == 1)
			rc = evt_sumb_record(w->sumb, &w->sdec, &re);
	} else {
		msgpack_object arr = {.type = MSGPACK_OBJECT_ARRAY};
		arr.via.array.ptr = w->svals;
		arr.via.array.size = EVT_SHAPE_MAX_FIELDS + 2;
		const struct evt_rsum *l = (const struct evt_rsum *)e->slog.p;
		size_t n = e->slog.len / sizeof *l;
		for (size_t i = 0; i < n && rc == 0; i++) {
			memset(&re, 0, sizeof re);
			re.kind = (int)l[i].kind;
			re.rx_us = l[i].rx_us;
			re.shape = l[i].shape;
			re.o = re.kind == EVT_K_EVENT ? &arr : NULL;
			for (int j = 0; j < 2; j++) {
				w->svals[l[i].vi[j]].type =
				    MSGPACK_OBJECT_POSITIVE_INTEGER;
				w->svals[l[i].vi[j]].via.u64 = l[i].id[j];
			}
			rc = evt_sumb_record(w->sumb, &w->sdec, &re);
		}
	}
	if (rc != 0)
		evt_sumb_incomplete(w->sumb);
}

/* Writes the open block; see segment.h. */
int
evt_segw_flush(struct evt_segw *w)
{
	struct evt_renc *e = &w->enc;
	if (e->nrec == 0)
		return 0;
	size_t zlen, rawlen;
	int rc = compress_block(w, &zlen, &rawlen);
	if (rc != 0)
		return rc;
	uint32_t nguid = (uint32_t)(e->guids.len / EVT_GUID_SIZE);
	int guid_ids = e->nkeys == e->nguid_keys && nguid == e->nkeys;
	/* Version-4 GUIDs carry 122 random bits: store just those. */
	uint8_t *gcol = e->guids.p;
	size_t glen = e->guids.len;
	int packed = !w->opts.row_blocks && nguid > 0 &&
	    evt_guidcol_packable(e->guids.p, nguid);
	if (packed) {
		glen = (size_t)evt_guidcol_len(nguid, 1);
		w->gpack.len = 0;
		if (evt_buf_grow(&w->gpack, glen) != 0)
			return EVT_ERR_NOMEM;
		evt_guidcol_pack(e->guids.p, nguid, w->gpack.p);
		gcol = w->gpack.p;
	}
	uint32_t flags = EVT_BLKF_SET | (packed ? EVT_BLKF_PACKED : 0) |
	    (w->blk_session ? EVT_BLKF_SESSION : 0) |
	    (guid_ids ? EVT_BLKF_IDCOL : 0) |
	    (w->unit_start ? EVT_BLKF_UNIT : 0);
	uint32_t pcrc = evt_crc32c(0, w->zbuf.p, zlen);
	struct evt_blkhdr bh = {
		.hdr_size = EVT_BLK_HDR_SIZE,
		.version = w->opts.row_blocks ? EVT_BLK_VERSION :
		    w->opts.colform1 ? EVT_BLK_VERSION_COL :
		    EVT_BLK_VERSION_JOIN,
		.codec = EVT_CODEC_ZSTD, .zlen = (uint32_t)zlen,
		.rawlen = (uint32_t)rawlen, .nguid = nguid,
		.nrec = e->nrec, .nevent = e->nevent, .str_base = w->str_base,
		.shape_base = w->shape_base, .flags = flags,
		.first_rx = e->first_rx, .last_rx = e->last_rx,
		.payload_crc = evt_crc32c(pcrc, gcol, glen),
	};
	uint8_t h[EVT_BLK_HDR_SIZE];
	evt_blkhdr_put(h, &bh);

	struct iovec iov[3] = {
		{h, sizeof h}, {w->zbuf.p, zlen}, {gcol, glen},
	};
	size_t total = sizeof h + zlen + glen;
	/* Never write over what another writer put there (a few µs per
	 * block; archive.md, "The LOCK file"). */
	if (evt_segw_check(w) == EVT_ERR_FOREIGN)
		return EVT_ERR_FOREIGN;
	ssize_t n = pwritev(w->fd, iov, glen ? 3 : 2, (off_t)w->off);
	if (n != (ssize_t)total) {
		rc = n < 0 ? sys_err() : EVT_ERR_NOSPC;
		/* Cut what part of the block reached the file. */
		if (ftruncate(w->fd, (off_t)w->off) != 0) {
			/* The reader will find a torn tail; nothing lost. */
			w->cut_failed = 1;
		}
		return rc;
	}
	struct evt_blkent be = {
		.off = w->off, .first_rx = e->first_rx, .last_rx = e->last_rx,
		.nrec = e->nrec, .nevent = e->nevent, .str_base = w->str_base,
		.shape_base = w->shape_base,
	};
	struct blkw bw = {.zlen = (uint32_t)zlen, .nguid = nguid,
	    .chk_at = UINT32_MAX, .guid_ids = (uint8_t)guid_ids,
	    .packed = (uint8_t)packed};
	if (!w->opts.no_checks && (rc = block_checks(&w->chk, &bw.chk_at,
	    pcrc, e->guids.p, nguid)) != 0)
		return rc;
	if ((rc = add_block(w, &be, &bw)) != 0)
		return rc;
	if (w->sumb != NULL)
		summary_block(w, w->nblocks - 1, nguid);
	w->blk_session = 0;
	w->off += total;
	w->raw_bytes += e->recs.len + e->guids.len;
	w->nevents += e->nevent;
	w->nrecords += e->nrec;
	w->str_base = e->dict.nstr;
	w->shape_base = e->dict.nshape;
	w->unit_start = 0;
	w->unit_raw += e->recs.len + e->guids.len;
	evt_renc_block_reset(e);
	if (w->unit_raw >= w->opts.unit_bytes) {
		evt_renc_unit_reset(e);
		w->unit_start = 1;
		w->unit_raw = 0;
	}
	w->dirty = 1;
	if (w->opts.fsync == EVT_FSYNC_ALWAYS)
		return evt_segw_sync(w);
	return 0;
}

/* fdatasyncs pending writes. */
int
evt_segw_sync(struct evt_segw *w)
{
	if (!w->dirty)
		return 0;
	if (fdatasync(w->fd) != 0)
		return sys_err();
	w->dirty = 0;
	return 0;
}

/* Closes the block if it has reached its size. */
static int
maybe_flush(struct evt_segw *w)
{
	if (w->enc.recs.len + w->enc.guids.len >= w->opts.block_bytes)
		return evt_segw_flush(w);
	return 0;
}

/* Appends a frame; see segment.h. */
int
evt_segw_frame(struct evt_segw *w, int64_t rx_us, const char *buf,
    size_t len)
{
	return evt_segw_frame_tok(w, rx_us, buf, len, NULL);
}

/* Makes room for a frame of about len bytes: returns 0 or a negative
 * evt_err. */
static int
frame_room(struct evt_segw *w, size_t len)
{
	/* Keep every block far below the readers' bound (EVT_BLK_MAX_RAW):
	 * a big frame first closes the block in progress. */
	if (len > EVT_FRAME_MAX)
		return EVT_ERR_TOOBIG;
	if (evt_segw_block_bytes(w) + len > EVT_BLK_MAX_RAW / 2) {
		int rc = evt_segw_flush(w);
		return rc < 0 ? rc : 0;
	}
	return 0;
}

/* Counts a frame the encoder took (kind, or its evt_err) and closes the
 * block if it is full; returns kind or a negative evt_err.  ck is what
 * the checkpoint builder made of the frame (0 or EVT_ERR_NOMEM). */
static int
frame_done(struct evt_segw *w, int kind, int ck)
{
	if (kind < 0)
		return kind;
	w->frames[kind]++;
	if (ck != 0)
		evt_ckb_unknown(w->ckb); /* out of memory: readers scan */
	int rc = maybe_flush(w);
	return rc < 0 ? rc : kind;
}

/* Appends a tokenized frame; see segment.h. */
int
evt_segw_frame_tok(struct evt_segw *w, int64_t rx_us, const char *buf,
    size_t len, const struct evt_jparser *jp)
{
	int rc = frame_room(w, len);
	if (rc < 0)
		return rc;
	int kind = evt_renc_frame_tok(&w->enc, rx_us, buf, len, jp);
	int ck = kind >= 0 && w->ckb != NULL ? evt_ckb_frame_tok(w->ckb,
	    w->seq, kind, rx_us, buf, len, w->enc.tok, w->enc.items_tok) : 0;
	return frame_done(w, kind, ck);
}

/* Appends a MSG frame of flat events; see segment.h. */
int
evt_segw_msg_flat(struct evt_segw *w, int64_t rx_us,
    const struct evt_flat_msg *m)
{
	size_t len = 0;
	for (uint32_t i = 0; i < m->n; i++)
		len += m->pick == NULL || m->pick[i] ? m->span[2 * i + 1] -
		    m->span[2 * i] : 0;
	int rc = frame_room(w, len);
	if (rc < 0)
		return rc;
	int kind = evt_renc_msg_flat(&w->enc, rx_us, m);
	int ck = kind >= 0 && w->ckb != NULL ? evt_ckb_frame_flat(w->ckb,
	    w->seq, rx_us, m) : 0;
	return frame_done(w, kind, ck);
}

/* Appends a marker; see segment.h. */
int
evt_segw_marker(struct evt_segw *w, int kind, int64_t rx_us, const char *json,
    size_t len)
{
	int rc = evt_renc_marker(&w->enc, kind, rx_us, json, len);
	if (rc < 0)
		return rc;
	w->frames[kind]++;
	if (kind == EVT_K_SESSION) {
		w->blk_session = 1;
		w->session.len = 0;
		w->have_session = evt_buf_put(&w->session, json, len) == 0;
	}
	return maybe_flush(w);
}

/* A MessagePack output buffer that remembers a failed write, so that a
 * map cut short by a lack of memory is never written as an index. */
struct packbuf {
	struct evt_buf b;
	int failed;
};

/* msgpack-c write callback into a struct packbuf. */
static int
pack_write_cb(void *data, const char *p, size_t n)
{
	struct packbuf *pb = data;
	if (evt_buf_put(&pb->b, p, n) != 0) {
		pb->failed = 1;
		return -1;
	}
	return 0;
}

/* Number of bits needed to hold v. */
static unsigned
bitlen(uint64_t v)
{
	unsigned n = 0;
	while (v != 0) {
		n++;
		v >>= 1;
	}
	return n;
}

/* The id keys of a segment being sealed and their block numbers, and
 * each block's check list (block_checks). */
struct keyset {
	uint64_t *keys;
	uint32_t *blk;
	size_t n, cap;
	struct evt_buf chk;  /* the check lists, one after the other */
	uint32_t *chk_at;    /* per block: its list's offset in chk, or
				UINT32_MAX */
	struct evt_sumb *sumb; /* the summary being built; NULL: none */
	struct evt_buf sum;  /* the summary packed (segment.md, "Summary") */
};

/* Appends an id key with its block number. */
static int
add_key(struct keyset *ks, uint64_t key, uint32_t blk)
{
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 65536;
		uint64_t *k = realloc(ks->keys, cap * sizeof *k);
		if (k == NULL)
			return EVT_ERR_NOMEM;
		ks->keys = k;
		uint32_t *b = realloc(ks->blk, cap * sizeof *b);
		if (b == NULL)
			return EVT_ERR_NOMEM;
		ks->blk = b;
		ks->cap = cap;
	}
	ks->keys[ks->n] = key;
	ks->blk[ks->n++] = blk;
	return 0;
}

/* The number of w's block at offset off, or UINT32_MAX. */
static uint32_t
block_at(const struct evt_segw *w, uint64_t off)
{
	uint32_t i = evt_seg_find_off(w->blocks, w->nblocks, sizeof *w->blocks,
	    off);
	return i < w->nblocks ? i : UINT32_MAX;
}

/*
 * Packs the summary built from the scan of reader r (formats/segment.md,
 * "Summary"): incomplete if the scan met damage, its keys as ids of the
 * dictionary the scan built, which is the one the index holds.
 */
static int
pack_summary(struct evt_sumb *b, struct evt_segr *r, struct evt_buf *out)
{
	if (evt_segr_errors(r) > 0)
		evt_sumb_incomplete(b);
	return evt_sumb_pack(b, evt_segr_decoder(r)->dict, out);
}

/*
 * Reads the id key of every EVENT of a MSG frame back from the written
 * blocks (formats/segment.md, "What is indexed"), so that the open writer
 * keeps nothing per event.  A block whose GUID column holds exactly its
 * message ids gives them from the column, its records only scanned for
 * definitions; others are decoded.  Runs on the sealing thread.
 */
static int
collect_keys(const struct evt_segw *w, struct keyset *ks)
{
	struct evt_segr *r;
	int rc = evt_segr_open(w->path, NULL, NULL, &r);
	if (rc < 0)
		return rc;
	evt_segr_force_scan(r);
	struct evt_rec re;
	uint64_t boff, cur = 0;
	uint32_t bi = UINT32_MAX;
	int in_msg = 0, col = 0;
	rc = evt_segr_rewind(r, INT64_MIN);
	while (rc == 0 && (rc = evt_segr_next(r, &re, &boff)) == 1) {
		rc = 0;
		if (boff != cur || bi == UINT32_MAX) {
			/* A new block; its first record is a framed one. */
			cur = boff;
			bi = block_at(w, boff);
			if (bi != UINT32_MAX && ks->chk_at != NULL &&
			    (rc = block_checks(&ks->chk, &ks->chk_at[bi],
			    evt_crc32c(0, r->io.p, r->blk_zlen),
			    r->dec.guids, r->dec.nguid)) != 0)
				break;
			col = bi != UINT32_MAX && w->bw[bi].guid_ids;
			/* The summary needs every record decoded. */
			r->dec.skip_records = col && ks->sumb == NULL;
			if (ks->sumb != NULL && bi == UINT32_MAX)
				evt_sumb_incomplete(ks->sumb);
			if (ks->sumb != NULL)
				evt_sumb_block(ks->sumb, bi);
			for (uint32_t g = 0; col && g < r->dec.nguid && rc == 0;
			    g++)
				rc = add_key(ks,
				    evt_guid_key(r->dec.guids +
				    EVT_GUID_SIZE * (size_t)g),
				    bi);
		}
		int msg_event = evt_rec_msg_event(&re, &in_msg);
		if (ks->sumb != NULL && (rc = evt_sumb_record(ks->sumb,
		    evt_segr_decoder(r), &re)) != 0)
			break;
		uint64_t key;
		if (!msg_event || re.o == NULL || bi == UINT32_MAX || col ||
		    evt_rdec_id_key(evt_segr_decoder(r), &re, &key) != 0)
			continue;
		rc = add_key(ks, key, bi);
	}
	rc = rc < 0 ? rc : 0;
	if (rc == 0 && ks->sumb != NULL)
		rc = pack_summary(ks->sumb, r, &ks->sum);
	evt_segr_close(r);
	return rc;
}

/*
 * Whether the seal can take the keys and check lists of w's blocks without
 * reading them back: w wrote every block itself (not resumed), each one's
 * GUID column is exactly its message ids, and the summary was counted
 * while writing (or is not written).
 */
static int
blocks_known(const struct evt_segw *w, const struct keyset *ks)
{
	if (w->resumed || ks->sumb != NULL)
		return 0;
	for (uint32_t i = 0; i < w->nblocks; i++)
		if (!w->bw[i].guid_ids)
			return 0;
	return 1;
}

/*
 * The keys of blocks_known blocks from their GUID columns alone (read
 * back, unpacked; their zstd frames are not read), and the check lists
 * computed when they were written.
 */
static int
keys_from_columns(const struct evt_segw *w, struct keyset *ks)
{
	struct evt_buf col = {0}, ent = {0};
	int rc = 0;
	for (uint32_t bi = 0; bi < w->nblocks && rc == 0; bi++) {
		const struct blkw *b = &w->bw[bi];
		size_t n = (size_t)evt_guidcol_len(b->nguid, b->packed);
		off_t at = (off_t)(w->blocks[bi].off + EVT_BLK_HDR_SIZE +
		    b->zlen);
		col.len = ent.len = 0;
		if (evt_buf_grow(&col, n + 1) != 0 ||
		    evt_buf_grow(&ent, EVT_GUID_SIZE * (size_t)b->nguid + 1) != 0)
			rc = EVT_ERR_NOMEM;
		else if (pread(w->fd, col.p, n, at) != (ssize_t)n)
			rc = EVT_ERR_IO;
		if (rc != 0)
			break;
		const uint8_t *g = col.p;
		if (b->packed) {
			evt_guidcol_unpack(col.p, b->nguid, ent.p);
			g = ent.p;
		}
		for (uint32_t k = 0; k < b->nguid && rc == 0; k++)
			rc = add_key(ks, evt_guid_key(g + EVT_GUID_SIZE *
			    (size_t)k), bi);
		if (ks->chk_at != NULL)
			ks->chk_at[bi] = b->chk_at;
	}
	if (rc == 0 && ks->chk_at != NULL && evt_buf_put(&ks->chk, w->chk.p,
	    w->chk.len) != 0)
		rc = EVT_ERR_NOMEM;
	evt_buf_free(&col);
	evt_buf_free(&ent);
	return rc;
}

/* Frees what a keyset holds. */
static void
keyset_free(struct keyset *ks)
{
	free(ks->keys);
	free(ks->blk);
	free(ks->chk_at);
	evt_buf_free(&ks->chk);
	evt_sumb_free(ks->sumb);
	evt_buf_free(&ks->sum);
	memset(ks, 0, sizeof *ks);
}

/* Whether the seal also reads the blocks back as it did before it took
 * the summary, keys and check lists from what the writer noted, and fails
 * (EVT_ERR_CORRUPT) if they differ by a byte: EVTAPE_SEAL_CHECK=1 (the
 * tests set it). */
static int
seal_check(void)
{
	const char *v = getenv("EVTAPE_SEAL_CHECK");
	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * Packs the summary counted while writing into out (formats/segment.md,
 * "Summary"): its keys as ids of the dictionary a reader of the segment
 * builds, where every definition is found by content (the encoder's
 * lookups no longer see those of earlier dictionary units).
 */
static int
pack_written_summary(struct evt_segw *w, struct evt_buf *out)
{
	struct evt_dict d;
	evt_dict_init(&d);
	int rc = evt_dict_copy(&d, &w->enc.dict);
	if (rc == 0)
		rc = evt_sumb_pack(w->sumb, &d, out);
	evt_dict_free(&d);
	return rc;
}

/* Starts an empty keyset for sealing w, with a check list slot per block
 * unless w writes none (opts.no_checks), and a summary builder for the
 * read-back when the summary was not counted while writing (or readback
 * asks for one). */
static int
keyset_init(const struct evt_segw *w, struct keyset *ks, int readback)
{
	memset(ks, 0, sizeof *ks);
	if (!w->opts.no_summary && (w->sumb == NULL || readback) &&
	    (ks->sumb = evt_sumb_new()) == NULL)
		return EVT_ERR_NOMEM;
	if (w->nblocks == 0 || w->opts.no_checks)
		return 0;
	ks->chk_at = malloc(w->nblocks * sizeof *ks->chk_at);
	if (ks->chk_at == NULL)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < w->nblocks; i++)
		ks->chk_at[i] = UINT32_MAX;
	return 0;
}

/* How filter locations address nblocks blocks (formats/segment.md,
 * "Trailer"): one location per block up to 1024 blocks, beyond that one
 * per 2^locshift blocks. */
static void
filter_geometry(uint32_t nblocks, unsigned *locbits, unsigned *locshift)
{
	unsigned nb = bitlen(nblocks > 0 ? nblocks - 1 : 0);
	*locbits = nb > 10 ? 10 : nb;
	*locshift = nb - *locbits;
}

/* Builds the id filter of the keys in ks, their block numbers turned into
 * locations; frees the keys (the index is built without them). */
static int
build_filter(struct keyset *ks, unsigned locbits, unsigned locshift,
    struct evt_filter *f)
{
	for (size_t i = 0; i < ks->n; i++)
		ks->blk[i] >>= locshift;
	int rc = evt_filter_build(ks->keys, ks->blk, ks->n, locbits, f);
	free(ks->keys);
	free(ks->blk);
	ks->keys = NULL;
	ks->blk = NULL;
	return rc;
}

/* Packs a map key. */
static void
pack_key(msgpack_packer *pk, const char *key)
{
	msgpack_pack_str_with_body(pk, key, strlen(key));
}

/* Packs the "strings" and "shapes" entries of the metadata map: the
 * segment's dictionary, nil for placeholders. */
static void
pack_dict(msgpack_packer *pk, const struct evt_dict *d)
{
	pack_key(pk, EVT_META_STRINGS);
	msgpack_pack_array(pk, d->nstr);
	for (uint32_t i = 0; i < d->nstr; i++) {
		size_t len;
		const char *s = evt_dict_str(d, i, &len);
		if (s == NULL)
			msgpack_pack_nil(pk);
		else
			msgpack_pack_str_with_body(pk, s, len);
	}
	pack_key(pk, EVT_META_SHAPES);
	msgpack_pack_array(pk, d->nshape);
	for (uint32_t i = 0; i < d->nshape; i++) {
		const struct evt_shape *sh = &d->shape[i];
		if (sh->nval == UINT32_MAX) {
			msgpack_pack_nil(pk);
			continue;
		}
		msgpack_pack_array(pk, 2 * sh->nfield);
		for (uint32_t k = 0; k < 2 * sh->nfield; k++)
			msgpack_pack_uint32(pk, d->fields[sh->off + k]);
	}
}

/* Packs the "blocks" entry of the metadata map: one directory entry per
 * block (EVT_DIR_*), with its check list when ks has one. */
static void
pack_directory(msgpack_packer *pk, const struct evt_segw *w,
    const struct keyset *ks)
{
	pack_key(pk, EVT_META_BLOCKS);
	msgpack_pack_array(pk, w->nblocks);
	for (uint32_t i = 0; i < w->nblocks; i++) {
		const struct evt_blkent *b = &w->blocks[i];
		uint32_t at = ks->chk_at != NULL ? ks->chk_at[i] : UINT32_MAX;
		msgpack_pack_array(pk, at != UINT32_MAX ? EVT_DIR_CHECKS + 1 :
		    EVT_DIR_MIN);
		msgpack_pack_uint64(pk, b->off);
		msgpack_pack_int64(pk, b->first_rx);
		msgpack_pack_int64(pk, b->last_rx);
		msgpack_pack_uint32(pk, b->nrec);
		msgpack_pack_uint32(pk, b->nevent);
		msgpack_pack_uint32(pk, b->str_base);
		msgpack_pack_uint32(pk, b->shape_base);
		if (at == UINT32_MAX)
			continue;
		/* The list ends where the next block's begins. */
		uint32_t end = (uint32_t)ks->chk.len;
		for (uint32_t j = i + 1; j < w->nblocks; j++)
			if (ks->chk_at[j] != UINT32_MAX) {
				end = ks->chk_at[j];
				break;
			}
		msgpack_pack_bin_with_body(pk, ks->chk.p + at, end - at);
	}
}

/* Builds the metadata map (formats/segment.md, "Metadata map") and
 * compresses it into z. */
static int
build_meta(struct evt_segw *w, const struct keyset *ks, struct evt_buf *z)
{
	struct packbuf meta = {0};
	msgpack_packer pk;
	int rc = EVT_ERR_NOMEM;
	struct evt_buf ck = {0};
	if (w->has_ckfixed)
		meta.failed |= evt_buf_put(&ck, w->ckfixed.p, w->ckfixed.len);
	else if (w->ckb != NULL)
		meta.failed |= evt_ckb_pack(w->ckb, &ck) != 0;
	msgpack_packer_init(&pk, &meta, pack_write_cb);
	msgpack_pack_map(&pk, EVT_META_NKEYS + (ks->sum.len > 0) +
	    (ck.len > 0));
	pack_key(&pk, EVT_META_FRAMES);
	msgpack_pack_array(&pk, EVT_K_MAX + 1);
	for (int k = 0; k <= EVT_K_MAX; k++)
		msgpack_pack_uint64(&pk, w->frames[k]);
	pack_dict(&pk, &w->enc.dict);
	pack_directory(&pk, w, ks);
	pack_key(&pk, EVT_META_LAST_ID);
	if (w->enc.last_id_len > 0)
		msgpack_pack_str_with_body(&pk, w->enc.last_id,
		    w->enc.last_id_len);
	else
		msgpack_pack_nil(&pk);
	if (ks->sum.len > 0) {
		/* The packer writes straight through: the packed summary is
		 * appended as the key's value. */
		pack_key(&pk, EVT_META_SUMMARY);
		if (evt_buf_put(&meta.b, ks->sum.p, ks->sum.len) != 0)
			meta.failed = 1;
	}
	if (ck.len > 0) {
		pack_key(&pk, EVT_META_CHECKPOINT);
		if (evt_buf_put(&meta.b, ck.p, ck.len) != 0)
			meta.failed = 1;
	}
	evt_buf_free(&ck);
	if (meta.failed)
		goto out;
	size_t bound = ZSTD_compressBound(meta.b.len);
	if (evt_buf_grow(z, bound) != 0)
		goto out;
	z->len = ZSTD_compress2(w->cctx, z->p, bound, meta.b.p, meta.b.len);
	if (!ZSTD_isError(z->len))
		rc = 0;
out:
	evt_buf_free(&meta.b);
	return rc;
}

/*
 * Writes the metadata frame z, the filter slots and the trailer after the
 * blocks, in one write, and fsyncs.  A failed write is cut off again: a
 * partial index has no trailer, so the segment just stays unsealed.
 */
static int
write_index(struct evt_segw *w, const struct evt_buf *z,
    const struct evt_filter *f, unsigned locbits, unsigned locshift)
{
	size_t filt_len = EVT_FILT_SLOT_SIZE * (size_t)f->nslots;
	struct evt_trailer tr = {
		.version = EVT_TRL_VERSION, .locbits = (uint8_t)locbits,
		.locshift = (uint8_t)locshift, .nblocks = w->nblocks,
		.data_end = w->off, .meta_off = w->off, .meta_len = z->len,
		.filt_off = w->off + z->len, .filt_len = filt_len,
		.seed = f->seed, .seglen = f->seglen, .segcount = f->segcount,
		.nevents = w->nevents, .nrecords = w->nrecords,
		.first_rx = w->first_rx, .last_rx = w->last_rx,
		.meta_crc = evt_crc32c(0, z->p, z->len),
		.filt_crc = evt_crc32c(0, f->slots, filt_len),
	};
	uint8_t t[EVT_TRAILER_SIZE];
	evt_trailer_put(t, &tr);
	struct iovec iov[3] = {
		{z->p, z->len}, {f->slots, filt_len}, {t, sizeof t},
	};
	size_t total = z->len + filt_len + sizeof t;
	ssize_t n = pwritev(w->fd, iov, 3, (off_t)w->off);
	if (n != (ssize_t)total) {
		int rc = n < 0 ? sys_err() : EVT_ERR_NOSPC;
		if (ftruncate(w->fd, (off_t)w->off) != 0) {
			/* A partial index is no trailer: still unsealed. */
		}
		return rc;
	}
	if (w->opts.fsync != EVT_FSYNC_NEVER && fsync(w->fd) != 0)
		return sys_err();
	return 0;
}

/*
 * seal_check: reads w's blocks back for the keys, check lists and
 * summary, as the seal did before the writer noted them, and compares
 * them with ks; EVT_ERR_CORRUPT if anything differs.
 */
static int
seal_compare(struct evt_segw *w, const struct keyset *ks)
{
	struct keyset rb;
	int rc = keyset_init(w, &rb, 1);
	if (rc == 0)
		rc = collect_keys(w, &rb);
	if (rc == 0 && (rb.n != ks->n || rb.chk.len != ks->chk.len ||
	    rb.sum.len != ks->sum.len ||
	    (rb.n > 0 && (memcmp(rb.keys, ks->keys, rb.n * sizeof *rb.keys) ||
	    memcmp(rb.blk, ks->blk, rb.n * sizeof *rb.blk))) ||
	    (rb.chk.len > 0 && memcmp(rb.chk.p, ks->chk.p, rb.chk.len)) ||
	    (rb.sum.len > 0 && memcmp(rb.sum.p, ks->sum.p, rb.sum.len)) ||
	    (rb.chk_at != NULL && memcmp(rb.chk_at, ks->chk_at, w->nblocks *
	    sizeof *rb.chk_at))))
		rc = EVT_ERR_CORRUPT;
	keyset_free(&rb);
	return rc;
}

/*
 * Writes the index and the trailer (formats/segment.md, "Index" and
 * "Trailer"): the id keys and check lists are read back from the written
 * blocks, the filter built from the keys, the metadata map from the
 * dictionary and the block directory.
 */
static int
seal_index(struct evt_segw *w)
{
	struct keyset ks;
	struct evt_filter f = {0};
	struct evt_buf z = {0};
	unsigned locbits, locshift;
	filter_geometry(w->nblocks, &locbits, &locshift);
	int rc = keyset_init(w, &ks, 0);
	if (rc == 0)
		rc = blocks_known(w, &ks) ? keys_from_columns(w, &ks) :
		    collect_keys(w, &ks);
	if (rc == 0 && w->sumb != NULL)
		rc = pack_written_summary(w, &ks.sum);
	if (rc == 0 && seal_check())
		rc = seal_compare(w, &ks);
	if (rc == 0 && !w->opts.no_filter)
		rc = build_filter(&ks, locbits, locshift, &f);
	else if (rc == 0)
		f.seed = f.seglen = f.segcount = f.nslots = 0; /* none */
	if (rc == 0)
		rc = build_meta(w, &ks, &z);
	if (rc == 0)
		rc = write_index(w, &z, &f, locbits, locshift);
	keyset_free(&ks);
	evt_filter_free(&f);
	evt_buf_free(&z);
	return rc;
}

/* Seals and closes; see segment.h. */
int
evt_segw_seal(struct evt_segw *w)
{
	int rc = evt_segw_flush(w);
	if (rc == 0)
		rc = seal_index(w);
	segw_free(w);
	return rc;
}

/* Closes without sealing. */
void
evt_segw_close(struct evt_segw *w)
{
	if (w != NULL)
		segw_free(w);
}

/* Bytes written plus pending. */
uint64_t
evt_segw_size(const struct evt_segw *w)
{
	return w->off + w->enc.recs.len + w->enc.guids.len;
}

/* Events including the open block. */
uint64_t
evt_segw_events(const struct evt_segw *w)
{
	return w->nevents + w->enc.nevent;
}

/* Frames by kind; see segment.h. */
const uint64_t *
evt_segw_frames(const struct evt_segw *w)
{
	return w->frames;
}

/* Raw bytes of the open block. */
size_t
evt_segw_block_bytes(const struct evt_segw *w)
{
	return w->enc.recs.len + w->enc.guids.len;
}

/* Id of the last event appended. */
const char *
evt_segw_last_id(const struct evt_segw *w, size_t *len)
{
	*len = w->enc.last_id_len;
	return w->enc.last_id_len ? w->enc.last_id : NULL;
}

/* Whether the segment was written in blocks much smaller than the block
 * size (a recorder at a low rate closing blocks by age). */
int
evt_segw_small_blocks(const struct evt_segw *w)
{
	return w->nblocks >= 4 &&
	    w->raw_bytes / w->nblocks < EVT_BLOCK_BYTES_DEFAULT / 4;
}

/* The segment's file name. */
const char *
evt_segw_path(const struct evt_segw *w)
{
	return w->path;
}

/* Receive time of the open block's first record. */
int64_t
evt_segw_block_first_rx(const struct evt_segw *w)
{
	return w->enc.block_start_rx;
}

/* Body of the last SESSION marker. */
const char *
evt_segw_session(const struct evt_segw *w, size_t *len)
{
	*len = w->have_session ? w->session.len : 0;
	return w->have_session ? (const char *)w->session.p : NULL;
}

/* Why the last frame was stored raw. */
int
evt_segw_raw_reason(const struct evt_segw *w, size_t *off)
{
	*off = w->enc.raw_off;
	return w->enc.raw_err;
}

/* Creation time from the header. */
int64_t
evt_segw_created(const struct evt_segw *w)
{
	return w->created_us;
}

/* Checks that nobody else changed the segment under us: the file at its
 * name is still ours and ends where our last write ended. */
int
evt_segw_check(const struct evt_segw *w)
{
	struct stat fs, ps;

	if (fstat(w->fd, &fs) != 0)
		return EVT_ERR_IO;
	if (stat(w->path, &ps) != 0 || ps.st_dev != fs.st_dev ||
	    ps.st_ino != fs.st_ino || ((uint64_t)fs.st_size != w->off &&
	    !(w->cut_failed && (uint64_t)fs.st_size > w->off)))
		return EVT_ERR_FOREIGN;
	return 0;
}

/* Offsets of the problems a resume scan found, to tell damage inside the
 * kept data from the torn tail. */
struct damage {
	uint64_t off[64];
	uint32_t n;
};

/* Reader callback of the resume scan. */
static void
damage_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct damage *dm = arg;
	(void)path;
	(void)what;
	if (dm->n < 64)
		dm->off[dm->n] = off;
	dm->n++;
}

/*
 * Finds the id of the last EVENT of a MSG frame in block off, decoding it in
 * full (the scan before passed events over); leaves it in w->enc.last_id.
 */
static int
last_id_of_block(struct evt_segw *w, struct evt_segr *r, uint64_t off)
{
	uint64_t next;
	struct evt_blkhdr bh;
	r->dec.skip_records = 0;
	int rc = evt_segr_load_block(r, off, &next, &bh);
	if (rc < 0)
		return rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO ? rc : 0;
	struct evt_rec re;
	int in_msg = 0;
	char id[EVT_REC_MAX_INTERN + 1];
	while ((rc = evt_rdec_next(&r->dec, &re)) != 0) {
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (rc < 0)
			continue;
		if (!evt_rec_msg_event(&re, &in_msg))
			continue;
		int n = evt_rdec_field(&r->dec, &re, "id", id, sizeof id);
		if (n < 0 || (size_t)n > sizeof w->enc.last_id)
			continue;
		memcpy(w->enc.last_id, id, (size_t)n);
		w->enc.last_id_len = (size_t)n;
	}
	return 0;
}

/*
 * Scans every block of the segment r, passing records over undecoded:
 * the reader builds the dictionary and the block directory, w counts
 * frames and the blocks' record and GUID bytes (what the compaction
 * decision averages, as if the writer had written them itself) and keeps
 * the last SESSION body.  The id keys are read back when sealing.
 */
static int
resume_scan(struct evt_segw *w, struct evt_segr *r)
{
	struct evt_rec re;
	uint64_t boff, last = UINT64_MAX;
	r->dec.skip_records = 1;
	int rc = evt_segr_rewind(r, INT64_MIN);
	while (rc == 0 && (rc = evt_segr_next(r, &re, &boff)) == 1) {
		rc = 0;
		if (boff != last) {
			/* A block's first record: the decoder holds its
			 * records in row form, as the writer counted them. */
			const struct evt_rdec *d = evt_segr_decoder(r);
			w->raw_bytes += d->len + (uint64_t)d->nguid *
			    EVT_GUID_SIZE;
			last = boff;
		}
		if (re.kind != EVT_K_EVENT && re.kind != EVT_K_ITEM &&
		    re.kind != EVT_K_STRDEF && re.kind != EVT_K_SHAPEDEF)
			w->frames[re.kind]++;
		if (re.kind == EVT_K_SESSION) {
			struct evt_buf tail = {0};
			w->session.len = 0;
			w->have_session = evt_rdec_frame_head(
			    evt_segr_decoder(r), &re, &w->session, &tail) == 0;
			evt_buf_free(&tail);
		}
	}
	return rc < 0 ? rc : 0;
}

/*
 * Takes over what the scan of r found: the block directory and totals,
 * the last id (from the last block holding one) and the dictionary, which
 * the appended blocks continue.
 */
static int
resume_state(struct evt_segw *w, struct evt_segr *r)
{
	int rc = 0;
	uint32_t nb;
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	for (uint32_t i = 0; i < nb && rc == 0; i++) {
		rc = add_block(w, &bl[i], &(struct blkw){.chk_at = UINT32_MAX});
		w->nevents += bl[i].nevent;
		w->nrecords += bl[i].nrec;
	}
	/* The last block with events may hold none with an indexed id (no
	 * id, or one over 256 bytes): then the block before counts. */
	for (uint32_t i = nb; i-- > 0 && rc == 0 && w->enc.last_id_len == 0;)
		if (bl[i].nevent > 0)
			rc = last_id_of_block(w, r, bl[i].off);
	if (rc == 0)
		rc = evt_renc_learn(&w->enc, &r->dict);
	if (rc < 0)
		return rc;
	/* The appended blocks start a dictionary unit of their own: the
	 * writer does not know where the last one began. */
	evt_renc_unit_reset(&w->enc);
	w->str_base = w->enc.dict.nstr;
	w->shape_base = w->enc.dict.nshape;
	return 0;
}

/* Resumes an unsealed segment; see segment.h. */
int
evt_segw_resume(const char *path, const struct evt_segw_opts *opts,
    struct evt_segw **out, struct evt_seg_recovery *rec)
{
	struct evt_segr *r;
	struct damage dm = {.n = 0};
	int rc = evt_segr_open(path, damage_cb, &dm, &r);
	if (rc < 0)
		return rc;
	const struct evt_seg_info *si = evt_segr_info(r);
	if (si->sealed || si->hdr_damaged) {
		/* A damaged header is not written again here: repair
		 * rebuilds it with the archive's identity. */
		rc = si->sealed ? EVT_ERR_EXISTS : EVT_ERR_CORRUPT;
		evt_segr_close(r);
		return rc;
	}
	struct evt_segw *w = segw_alloc(path, opts);
	if (w == NULL) {
		evt_segr_close(r);
		return EVT_ERR_NOMEM;
	}
	memset(rec, 0, sizeof *rec);
	w->seq = si->seq;
	memcpy(w->uuid, si->uuid, sizeof w->uuid);
	w->created_us = si->created_us;
	w->resumed = 1;
	if ((rc = resume_scan(w, r)) != 0 || (rc = resume_state(w, r)) != 0)
		goto fail;
	rec->valid_end = r->valid_end;
	rec->cut_bytes = si->size - r->valid_end;
	evt_segr_blocks(r, &rec->blocks);
	for (uint32_t i = 0; i < dm.n && i < 64; i++)
		if (dm.off[i] < r->valid_end)
			rec->bad_blocks++;
	evt_segr_close(r);
	r = NULL;

	/* Cut the torn tail: appends go right after the last good block. */
	w->fd = open(path, O_RDWR | O_CLOEXEC);
	if (w->fd < 0) {
		rc = sys_err();
		goto fail;
	}
	if (rec->cut_bytes > 0 &&
	    (ftruncate(w->fd, (off_t)rec->valid_end) != 0 ||
	    fsync(w->fd) != 0)) {
		rc = sys_err();
		goto fail;
	}
	w->off = rec->valid_end;
	*out = w;
	return 0;
fail:
	if (r != NULL)
		evt_segr_close(r);
	segw_free(w);
	return rc;
}

/* The state checkpoint's builder; see segment.h. */
struct evt_ckb *
evt_segw_ckb(struct evt_segw *w)
{
	return w->ckb;
}

/* Takes the builder, its checkpoint packed for the seal; see segment.h. */
struct evt_ckb *
evt_segw_take_ckb(struct evt_segw *w)
{
	struct evt_ckb *b = w->ckb;
	if (b == NULL)
		return NULL;
	w->ckfixed.len = 0;
	if (evt_ckb_pack(b, &w->ckfixed) != 0) {
		w->ckfixed.len = 0;
		return NULL; /* the seal packs it */
	}
	w->has_ckfixed = 1;
	w->ckb = NULL;
	return b;
}

/* Writes a checkpoint as it is; see segment.h. */
int
evt_segw_set_checkpoint(struct evt_segw *w, const uint8_t *p, size_t len)
{
	evt_ckb_free(w->ckb);
	w->ckb = NULL;
	w->ckfixed.len = 0;
	w->has_ckfixed = len > 0;
	return evt_buf_put(&w->ckfixed, p, len) == 0 ? 0 : EVT_ERR_NOMEM;
}
