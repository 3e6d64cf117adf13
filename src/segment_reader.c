/*
 * segment_reader.c: reads segment files: sequential scans that survive
 * damage, random block access through the index, and id lookups through
 * the id filter.
 *
 * File content is hostile: every length is checked against the file before
 * it is used, every structure's checksum is verified, and a damaged block is
 * reported (file, offset, what) and skipped.  A sealed segment is walked by
 * its block directory; an unsealed one (still open, or torn by a crash) is
 * walked block by block from the header, resynchronising on the next valid
 * block header after damage.  A damaged segment header costs nothing but
 * the report (every later structure has its own checksum), and a sealed
 * block whose payload checksum fails is still read when the index's check
 * list shows only part of its GUID column damaged.  Layouts:
 * formats/segment.md; the byte tables, and the names through which this
 * file reads every field, are in segment_layout.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "le.h"
#include "segment_int.h"
#include "segment_layout.h"

/* Reports a problem at off through the callback and counts it. */
static void
report(struct evt_segr *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(struct evt_segr *r, uint64_t off, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->nerr++;
	if (r->cb != NULL)
		r->cb(r->cbarg, r->path, off, msg);
}

/* Reads exactly n bytes at off; see segment.h. */
int
evt_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t done = 0;
	while (done < n) {
		ssize_t k = pread(fd, (char *)buf + done, n - done,
		    (off_t)(off + done));
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return EVT_ERR_IO;
		}
		if (k == 0)
			return EVT_ERR_TRUNCATED;
		done += (size_t)k;
	}
	return 0;
}

/* Reads exactly n bytes of r's file at off; see evt_pread_full. */
static int
read_at(struct evt_segr *r, void *buf, size_t n, uint64_t off)
{
	return evt_pread_full(r->fd, buf, n, off);
}

/* Whether a trailer's fields agree with each other and with a file of
 * size bytes (formats/segment.md, "Trailer", conditions 5 to 10). */
static int
trailer_consistent(const struct evt_trailer *t, uint64_t size)
{
	uint64_t nslots = ((uint64_t)t->segcount + 2) * t->seglen;
	return t->locbits <= 10 && t->locbits + t->locshift <= 32 &&
	    t->data_end >= EVT_SEG_HDR_SIZE && t->meta_off == t->data_end &&
	    t->meta_len <= size && t->filt_off == t->meta_off + t->meta_len &&
	    t->filt_len == EVT_FILT_SLOT_SIZE * nslots &&
	    t->filt_off + t->filt_len == size - EVT_TRAILER_SIZE &&
	    ((t->seglen != 0 && (t->seglen & (t->seglen - 1)) == 0 &&
	    t->segcount != 0 && nslots <= UINT32_MAX) ||
	    (t->seglen == 0 && t->segcount == 0)); /* 1.3: no filter */
}

/* Checks the trailer; fills the sealed fields.  Returns 1 if valid. */
static int
check_trailer(struct evt_segr *r, const uint8_t *p)
{
	uint64_t size = r->info.size;
	struct evt_trailer t;
	if (!evt_trailer_magic_ok(p))
		return 0;
	if (!evt_fixed_crc_ok(p, EVT_TRAILER_SIZE)) {
		report(r, size - EVT_TRAILER_SIZE,
		    "trailer checksum mismatch; reading as unsealed");
		return 0;
	}
	evt_trailer_get(p, &t);
	if (t.version != EVT_TRL_VERSION) {
		report(r, size - EVT_TRAILER_SIZE,
		    "trailer version %u not supported; reading as unsealed",
		    t.version);
		return 0;
	}
	if (!trailer_consistent(&t, size)) {
		report(r, size - EVT_TRAILER_SIZE,
		    "trailer fields inconsistent; reading as unsealed");
		return 0;
	}
	r->locbits = t.locbits;
	r->locshift = t.locshift;
	r->info.nblocks = t.nblocks;
	r->info.data_end = t.data_end;
	r->meta_off = t.meta_off;
	r->meta_len = t.meta_len;
	r->filt_off = t.filt_off;
	r->filt_len = t.filt_len;
	r->filt.seed = t.seed;
	r->filt.seglen = t.seglen;
	r->filt.segcount = t.segcount;
	r->filt.locbits = t.locbits;
	r->filt.nslots = (uint32_t)(t.filt_len / EVT_FILT_SLOT_SIZE);
	r->info.nevents = t.nevents;
	r->info.nrecords = t.nrecords;
	r->info.first_rx = t.first_rx;
	r->info.last_rx = t.last_rx;
	r->meta_crc = t.meta_crc;
	r->filt_crc = t.filt_crc;
	return 1;
}

/*
 * Checks the segment header h of r's file (formats/segment.md, "Segment
 * header") and fills r->info from it.  A header whose checksum fails is
 * damaged, not fatal, when the file is named like a segment: every later
 * structure has its own checksum, so the segment is read all the same,
 * its sequence number from the name, its creation time unknown.  Returns
 * 0, EVT_ERR_CORRUPT or EVT_ERR_VERSION (reported).
 */
static int
check_header(struct evt_segr *r, const uint8_t h[EVT_SEG_HDR_SIZE])
{
	const char *base = strrchr(r->path, '/');
	base = base != NULL ? base + 1 : r->path;
	unsigned long long nseq = 0;
	int named = sscanf(base, "seg-%12llu.evt", &nseq) == 1;
	struct evt_seghdr sh;
	evt_seghdr_get(h, &sh);
	if (!evt_fixed_crc_ok(h, EVT_SEG_HDR_SIZE)) {
		const char *why = !evt_seghdr_magic_ok(h) ? "bad magic" :
		    "checksum mismatch";
		if (!named) {
			report(r, EVT_SH_MAGIC, evt_seghdr_magic_ok(h) ?
			    "segment header checksum mismatch" :
			    "not an evtape segment (bad magic)");
			return EVT_ERR_CORRUPT;
		}
		report(r, EVT_SH_CRC, "segment header damaged (%s); reading "
		    "its blocks", why);
		r->info.hdr_damaged = 1;
		r->info.seq = nseq;
		memcpy(r->info.uuid, sh.uuid, sizeof sh.uuid); /* unverified */
		return 0;
	}
	if (!evt_seghdr_magic_ok(h)) {
		report(r, EVT_SH_MAGIC, "not an evtape segment (bad magic)");
		return EVT_ERR_CORRUPT;
	}
	if (sh.major != EVT_SEG_VERSION) {
		report(r, EVT_SH_MAJOR, "segment format version %u not "
		    "supported", sh.major);
		return EVT_ERR_VERSION;
	}
	if (sh.hdr_size != EVT_SEG_HDR_SIZE) {
		report(r, EVT_SH_HDR_SIZE, "unexpected segment header size %u",
		    sh.hdr_size);
		return EVT_ERR_CORRUPT;
	}
	r->info.seq = sh.seq;
	if (named && nseq != r->info.seq)
		report(r, EVT_SH_SEQ, "header says segment %llu, file name "
		    "says %llu", (unsigned long long)r->info.seq, nseq);
	r->info.created_us = sh.created;
	memcpy(r->info.uuid, sh.uuid, sizeof sh.uuid);
	return 0;
}

/* Opens a segment; see segment.h. */
int
evt_segr_open(const char *path, evt_seg_err_cb cb, void *cbarg,
    struct evt_segr **out)
{
	struct evt_segr *r = calloc(1, sizeof *r);
	if (r == NULL)
		return EVT_ERR_NOMEM;
	r->cb = cb;
	r->cbarg = cbarg;
	r->fd = -1;
	evt_dict_init(&r->dict);
	r->path = strdup(path);
	int rc = EVT_ERR_NOMEM;
	if (r->path == NULL)
		goto fail;
	if ((rc = evt_rdec_init(&r->dec, &r->dict, 1)) != 0)
		goto fail;
	/* O_NONBLOCK: a FIFO named like a segment must not block the open
	 * until a writer comes (it is then refused as not a regular file). */
	r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	rc = EVT_ERR_IO;
	if (r->fd < 0 || fstat(r->fd, &st) != 0) {
		report(r, 0, "cannot open the segment: %s; its events are "
		    "lost to this reader", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		report(r, 0, "not a regular file (%s); its events are lost to "
		    "this reader", S_ISDIR(st.st_mode) ? "a directory" :
		    S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ?
		    "a socket" : "a device");
		goto fail;
	}
	int fl = fcntl(r->fd, F_GETFL);
	if (fl >= 0)
		fcntl(r->fd, F_SETFL, fl & ~O_NONBLOCK);
	r->info.size = (uint64_t)st.st_size;
	uint8_t h[EVT_SEG_HDR_SIZE];
	if ((rc = read_at(r, h, sizeof h, 0)) != 0) {
		report(r, 0, rc == EVT_ERR_TRUNCATED ?
		    "file shorter than a segment header" :
		    "cannot read the segment header");
		goto fail;
	}
	if ((rc = check_header(r, h)) != 0)
		goto fail;
	if (r->info.size >= EVT_SEG_HDR_SIZE + EVT_TRAILER_SIZE) {
		uint8_t t[EVT_TRAILER_SIZE];
		if ((rc = read_at(r, t, sizeof t,
		    r->info.size - EVT_TRAILER_SIZE)) != 0) {
			report(r, r->info.size - EVT_TRAILER_SIZE,
			    "cannot read the trailer");
			goto fail;
		}
		r->info.sealed = check_trailer(r, t);
	}
	if (!r->info.sealed)
		r->info.data_end = r->info.size;
	r->dec.dict_grows = !r->info.sealed;
	r->pos = EVT_SEG_HDR_SIZE;
	r->valid_end = EVT_SEG_HDR_SIZE;
	r->from_rx = INT64_MIN;
	r->to_rx = INT64_MAX;
	*out = r;
	return 0;
fail:
	evt_segr_close(r);
	return rc;
}

/*
 * One decompression context kept from a closed reader for the next one:
 * creating a context costs about 20 µs (most of what stats of 10,000
 * segments from their summaries spent), and readers of many small
 * segments open one after the other.  Swapped atomically, so readers on
 * several threads may share it; the last one stays for the process.
 */
static _Atomic(ZSTD_DCtx *) spare_dctx;

/* Closes a reader. */
void
evt_segr_close(struct evt_segr *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->map != NULL)
		munmap(r->map, r->map_len);
	evt_rdec_free(&r->dec);
	evt_dict_free(&r->dict);
	ZSTD_DCtx *none = NULL;
	if (r->dctx != NULL && !atomic_compare_exchange_strong(&spare_dctx,
	    &none, r->dctx))
		ZSTD_freeDCtx(r->dctx);
	evt_buf_free(&r->io);
	evt_buf_free(&r->raw);
	evt_buf_free(&r->colf);
	evt_buf_free(&r->gcol);
	free(r->blocks);
	free(r->chkref);
	free(r->gbad);
	evt_buf_free(&r->chk);
	free(r->last_id);
	evt_buf_free(&r->sum);
	evt_buf_free(&r->ckp);
	free(r->path);
	free(r);
}

/* Header and trailer facts. */
const struct evt_seg_info *
evt_segr_info(const struct evt_segr *r)
{
	return &r->info;
}

/* Problems reported so far. */
uint64_t
evt_segr_errors(const struct evt_segr *r)
{
	return r->nerr;
}

/* What the scan could not read; see segment.h. */
void
evt_segr_lost(const struct evt_segr *r, uint64_t *events, uint64_t *unknown)
{
	*events = r->lost;
	*unknown = r->lost_unknown;
}

/* The decoder of the current block. */
struct evt_rdec *
evt_segr_decoder(struct evt_segr *r)
{
	return &r->dec;
}

/* Appends to the block directory. */
static int
push_block(struct evt_segr *r, const struct evt_blkent *b)
{
	if (r->nblocks == r->blkcap) {
		uint32_t cap = r->blkcap ? r->blkcap * 2 : 64;
		struct evt_blkent *nb = realloc(r->blocks, cap * sizeof *nb);
		if (nb == NULL)
			return EVT_ERR_NOMEM;
		r->blocks = nb;
		r->blkcap = cap;
	}
	r->blocks[r->nblocks++] = *b;
	return 0;
}

/* Looks a key up in a msgpack map; see segment.h. */
const msgpack_object *
evt_mp_get(const msgpack_object *m, const char *key)
{
	size_t kl = strlen(key);
	if (m->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object *k = &m->via.map.ptr[i].key;
		if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
		    memcmp(k->via.str.ptr, key, kl) == 0)
			return &m->via.map.ptr[i].val;
	}
	return NULL;
}

/* Decompresses one zstd frame of exactly rawlen bytes into r->raw. */
static int
unzstd(struct evt_segr *r, const void *z, size_t zlen, size_t rawlen)
{
	unsigned long long cs = ZSTD_getFrameContentSize(z, zlen);
	if (cs != rawlen)
		return EVT_ERR_CORRUPT;
	/* Created on first use: an id probe that rules the segment out
	 * never decompresses anything. */
	if (r->dctx == NULL)
		r->dctx = atomic_exchange(&spare_dctx, NULL);
	if (r->dctx == NULL && (r->dctx = ZSTD_createDCtx()) == NULL)
		return EVT_ERR_NOMEM;
	r->raw.len = 0;
	if (evt_buf_grow(&r->raw, rawlen + 1) != 0)
		return EVT_ERR_NOMEM;
	size_t n = ZSTD_decompressDCtx(r->dctx, r->raw.p, rawlen, z, zlen);
	if (ZSTD_isError(n) || n != rawlen)
		return EVT_ERR_CORRUPT;
	r->raw.len = rawlen;
	return 0;
}

/* Keeps a block's check list (directory element 7, a bin of u32 CRCs;
 * formats/segment.md, "Metadata map"); anything else there is ignored. */
static int
keep_checks(struct evt_segr *r, uint64_t off, const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size < EVT_CHK_SIZE ||
	    o->via.bin.size % EVT_CHK_SIZE != 0)
		return 0;
	if ((r->nchk & (r->nchk - 1)) == 0) { /* 0, 1, 2, 4, ...: grow */
		struct evt_chkref *c = realloc(r->chkref,
		    (r->nchk ? 2 * (size_t)r->nchk : 1) * sizeof *c);
		if (c == NULL)
			return EVT_ERR_NOMEM;
		r->chkref = c;
	}
	r->chkref[r->nchk++] = (struct evt_chkref){off, (uint32_t)r->chk.len,
	    o->via.bin.size};
	return evt_buf_put(&r->chk, o->via.bin.ptr, o->via.bin.size) == 0 ?
	    0 : EVT_ERR_NOMEM;
}

/* The check list of the block at off that fits nguid GUID column
 * entries, or NULL. */
static const uint8_t *
checks_of(const struct evt_segr *r, uint64_t off, uint32_t nguid)
{
	uint32_t i = evt_seg_find_off(r->chkref, r->nchk, sizeof *r->chkref,
	    off);
	if (i == r->nchk || r->chkref[i].len != evt_chk_len(nguid))
		return NULL;
	return r->chk.p + r->chkref[i].at;
}

/* Marks in r->gbad the GUID column entries that a failed check of list l
 * covers; returns how many (0 also when there is no memory to say). */
static uint32_t
bad_guids(struct evt_segr *r, const uint8_t *l, const uint8_t *guids,
    uint32_t nguid)
{
	uint32_t bad = 0;
	if (nguid > r->gbad_cap) {
		uint8_t *g = realloc(r->gbad, nguid);
		if (g == NULL)
			return 0; /* unknown: the block counts as damaged */
		r->gbad = g;
		r->gbad_cap = nguid;
	}
	for (uint32_t g = 0, k = 1; g < nguid; g += EVT_CHK_GUIDS, k++) {
		uint32_t n = nguid - g < EVT_CHK_GUIDS ? nguid - g :
		    EVT_CHK_GUIDS;
		int ok = evt_crc32c(0, guids + EVT_GUID_SIZE * (size_t)g,
		    EVT_GUID_SIZE * (size_t)n) == evt_chk_get(l, k);
		memset(r->gbad + g, !ok, n);
		bad += ok ? 0 : n;
	}
	return bad;
}

/* Maps a dictionary's failure to add an index entry to the reader's
 * answer: out of memory, or an index that is unusable. */
static int
dict_err(int64_t rc)
{
	return rc == EVT_ERR_NOMEM ? EVT_ERR_NOMEM : EVT_ERR_CORRUPT;
}

/* Fills the dictionary from the index's "strings" array (nil: a
 * placeholder). */
static int
parse_strings(struct evt_segr *r, const msgpack_object *strs)
{
	for (uint32_t i = 0; i < strs->via.array.size; i++) {
		const msgpack_object *s = &strs->via.array.ptr[i];
		int64_t rc;
		if (s->type == MSGPACK_OBJECT_STR)
			rc = evt_dict_str_add(&r->dict, s->via.str.size ?
			    s->via.str.ptr : "", s->via.str.size);
		else if (s->type == MSGPACK_OBJECT_NIL)
			rc = evt_dict_str_add(&r->dict, NULL, 0);
		else
			return EVT_ERR_CORRUPT;
		if (rc < 0)
			return dict_err(rc);
	}
	return 0;
}

/* Fills the dictionary from the index's "shapes" array (nil: a
 * placeholder). */
static int
parse_shapes(struct evt_segr *r, const msgpack_object *shapes)
{
	for (uint32_t i = 0; i < shapes->via.array.size; i++) {
		const msgpack_object *s = &shapes->via.array.ptr[i];
		uint32_t f[2 * EVT_SHAPE_MAX_FIELDS];
		int64_t rc;
		if (s->type == MSGPACK_OBJECT_NIL) {
			rc = evt_dict_shape_add(&r->dict, NULL, 0);
		} else {
			if (s->type != MSGPACK_OBJECT_ARRAY ||
			    s->via.array.size % 2 != 0 ||
			    s->via.array.size > 2 * EVT_SHAPE_MAX_FIELDS)
				return EVT_ERR_CORRUPT;
			for (uint32_t k = 0; k < s->via.array.size; k++) {
				const msgpack_object *v = &s->via.array.ptr[k];
				if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
				    v->via.u64 > UINT32_MAX)
					return EVT_ERR_CORRUPT;
				f[k] = (uint32_t)v->via.u64;
			}
			rc = evt_dict_shape_add(&r->dict, f,
			    s->via.array.size / 2);
		}
		if (rc < 0)
			return dict_err(rc);
	}
	return 0;
}

/* Reads directory entry b (elements EVT_DIR_*) into *be; EVT_ERR_CORRUPT
 * for an entry of the wrong form or with values out of range. */
static int
parse_dirent(const msgpack_object *b, struct evt_blkent *be)
{
	if (b->type != MSGPACK_OBJECT_ARRAY || b->via.array.size < EVT_DIR_MIN)
		return EVT_ERR_CORRUPT;
	const msgpack_object *p = b->via.array.ptr;
	int64_t v[EVT_DIR_MIN];
	for (int k = 0; k < EVT_DIR_MIN; k++) {
		/* Receive times may be negative; all else is unsigned. */
		int rx = k == EVT_DIR_FIRST_RX || k == EVT_DIR_LAST_RX;
		if (p[k].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		    p[k].via.u64 <= INT64_MAX)
			v[k] = (int64_t)p[k].via.u64;
		else if (p[k].type == MSGPACK_OBJECT_NEGATIVE_INTEGER && rx)
			v[k] = p[k].via.i64;
		else
			return EVT_ERR_CORRUPT;
		if (k >= EVT_DIR_NREC && v[k] > UINT32_MAX)
			return EVT_ERR_CORRUPT;
	}
	*be = (struct evt_blkent){
		.off = (uint64_t)v[EVT_DIR_OFF],
		.first_rx = v[EVT_DIR_FIRST_RX],
		.last_rx = v[EVT_DIR_LAST_RX],
		.nrec = (uint32_t)v[EVT_DIR_NREC],
		.nevent = (uint32_t)v[EVT_DIR_NEVENT],
		.str_base = (uint32_t)v[EVT_DIR_STR_BASE],
		.shape_base = (uint32_t)v[EVT_DIR_SHAPE_BASE],
	};
	return 0;
}

/* Fills the block directory (and the check lists) from the index's
 * "blocks" array: entries in increasing offset order, headers not
 * overlapping, within the data, exactly the trailer's nblocks. */
static int
parse_directory(struct evt_segr *r, const msgpack_object *blocks)
{
	r->nblocks = 0;
	uint64_t prev_end = EVT_SEG_HDR_SIZE;
	for (uint32_t i = 0; i < blocks->via.array.size; i++) {
		const msgpack_object *b = &blocks->via.array.ptr[i];
		struct evt_blkent be;
		int rc = parse_dirent(b, &be);
		if (rc != 0)
			return rc;
		if (be.off < prev_end ||
		    be.off + EVT_BLK_HDR_SIZE > r->info.data_end)
			return EVT_ERR_CORRUPT;
		prev_end = be.off + EVT_BLK_HDR_SIZE;
		rc = push_block(r, &be);
		if (rc == 0 && b->via.array.size > EVT_DIR_CHECKS)
			rc = keep_checks(r, be.off,
			    &b->via.array.ptr[EVT_DIR_CHECKS]);
		if (rc < 0)
			return rc;
	}
	return r->nblocks == r->info.nblocks ? 0 : EVT_ERR_CORRUPT;
}

/* msgpack-c write callback into an evt_buf (sum_keep). */
static int
sum_write_cb(void *data, const char *p, size_t n)
{
	return evt_buf_put(data, p, n) == 0 ? 0 : -1;
}

/* Keeps the value of key k of the index map, if any, as MessagePack
 * bytes in out (the summary of revision 1.3, the state checkpoint of
 * 1.7): the map's objects go when the index is parsed. */
static int
value_keep(const msgpack_object *m, const char *k, struct evt_buf *out)
{
	const msgpack_object *o = evt_mp_get(m, k);
	msgpack_packer pk;
	out->len = 0;
	if (o == NULL)
		return 0;
	msgpack_packer_init(&pk, out, sum_write_cb);
	return msgpack_pack_object(&pk, *o) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Takes the optional entries of the index map: frames per kind (unknown
 * where absent), the last indexed id (ignored unless a str of an
 * indexed id's length) and the summary. */
static int
parse_optional(struct evt_segr *r, const msgpack_object *m)
{
	/* Elements the index does not have are unknown (segment.md). */
	for (int i = 0; i <= EVT_K_MAX; i++)
		r->info.frames[i] = EVT_SEG_FRAMES_UNKNOWN;
	const msgpack_object *fr = evt_mp_get(m, EVT_META_FRAMES);
	if (fr != NULL && fr->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < fr->via.array.size && i <= EVT_K_MAX;
		    i++)
			if (fr->via.array.ptr[i].type ==
			    MSGPACK_OBJECT_POSITIVE_INTEGER)
				r->info.frames[i] = fr->via.array.ptr[i].via.u64;
	/* Longer ids are never indexed (records.md, "Event ids"). */
	const msgpack_object *last = evt_mp_get(m, EVT_META_LAST_ID);
	if (last != NULL && last->type == MSGPACK_OBJECT_STR &&
	    last->via.str.size <= EVT_REC_MAX_INTERN) {
		r->last_id = malloc(last->via.str.size + 1);
		if (r->last_id == NULL)
			return EVT_ERR_NOMEM;
		memcpy(r->last_id, last->via.str.ptr, last->via.str.size);
		r->last_id[last->via.str.size] = 0;
		r->last_id_len = last->via.str.size;
	}
	int rc = value_keep(m, EVT_META_SUMMARY, &r->sum);
	return rc != 0 ? rc : value_keep(m, EVT_META_CHECKPOINT, &r->ckp);
}

/* Parses the index map (formats/segment.md, "Metadata map") into
 * dictionary, block directory, frame counts and last id. */
static int
parse_meta(struct evt_segr *r, const msgpack_object *m)
{
	const msgpack_object *strs = evt_mp_get(m, EVT_META_STRINGS);
	const msgpack_object *shapes = evt_mp_get(m, EVT_META_SHAPES);
	const msgpack_object *blocks = evt_mp_get(m, EVT_META_BLOCKS);
	if (strs == NULL || strs->type != MSGPACK_OBJECT_ARRAY ||
	    shapes == NULL || shapes->type != MSGPACK_OBJECT_ARRAY ||
	    blocks == NULL || blocks->type != MSGPACK_OBJECT_ARRAY)
		return EVT_ERR_CORRUPT;
	evt_dict_clear(&r->dict);
	r->nchk = 0;
	r->chk.len = 0;
	int rc = parse_strings(r, strs);
	if (rc == 0)
		rc = parse_shapes(r, shapes);
	if (rc == 0)
		rc = parse_directory(r, blocks);
	if (rc == 0)
		rc = parse_optional(r, m);
	return rc;
}

/* Loads the index of a sealed segment once; on failure the segment is
 * read as if unsealed. */
static int
load_meta(struct evt_segr *r)
{
	if (r->meta_loaded != 0 || !r->info.sealed)
		return r->meta_loaded > 0 ? 0 : EVT_ERR_CORRUPT;
	r->meta_loaded = -1;
	r->io.len = 0;
	int rc = EVT_ERR_CORRUPT;
	if (r->meta_len > EVT_BLK_MAX_RAW)
		goto bad;
	if (evt_buf_grow(&r->io, r->meta_len) != 0)
		return EVT_ERR_NOMEM;
	if ((rc = read_at(r, r->io.p, r->meta_len, r->meta_off)) != 0)
		goto bad;
	rc = EVT_ERR_CHECKSUM;
	if (evt_crc32c(0, r->io.p, r->meta_len) != r->meta_crc)
		goto bad;
	unsigned long long cs = ZSTD_getFrameContentSize(r->io.p, r->meta_len);
	rc = EVT_ERR_CORRUPT;
	if (cs > EVT_BLK_MAX_RAW)
		goto bad;
	if ((rc = unzstd(r, r->io.p, r->meta_len, (size_t)cs)) != 0)
		goto bad;
	msgpack_zone z;
	if (!msgpack_zone_init(&z, 65536))
		return EVT_ERR_NOMEM;
	msgpack_object m;
	size_t off = 0;
	msgpack_unpack_return ur = msgpack_unpack((const char *)r->raw.p,
	    r->raw.len, &off, &z, &m);
	rc = EVT_ERR_CORRUPT;
	if (ur == MSGPACK_UNPACK_SUCCESS)
		rc = parse_meta(r, &m);
	msgpack_zone_destroy(&z);
	if (rc != 0)
		goto bad;
	r->meta_loaded = 1;
	r->dec.dict_grows = 0;
	return 0;
bad:
	report(r, r->meta_off, "index unreadable (%s); scanning blocks",
	    evt_strerror(rc));
	evt_dict_clear(&r->dict);
	r->nblocks = 0;
	r->nchk = 0;
	r->sum.len = 0;
	r->ckp.len = 0;
	r->dec.dict_grows = 1;
	return rc == EVT_ERR_NOMEM ? rc : EVT_ERR_CORRUPT;
}

/* Loads the index; see segment.h. */
int
evt_segr_load_index(struct evt_segr *r)
{
	return load_meta(r);
}

/* The index's summary; see segment.h. */
const uint8_t *
evt_segr_summary(struct evt_segr *r, size_t *len)
{
	*len = 0;
	if (!r->info.sealed || load_meta(r) != 0 || r->sum.len == 0)
		return NULL;
	*len = r->sum.len;
	return r->sum.p;
}

/* The index's state checkpoint; see segment.h. */
const uint8_t *
evt_segr_checkpoint(struct evt_segr *r, size_t *len)
{
	*len = 0;
	if (!r->info.sealed || load_meta(r) != 0 || r->ckp.len == 0)
		return NULL;
	*len = r->ckp.len;
	return r->ckp.p;
}

/* Reads a sealed segment as a scan; see segment.h. */
void
evt_segr_force_scan(struct evt_segr *r)
{
	r->force_scan = 1;
}

/* Whether the segment is read through its index. */
static int
indexed(struct evt_segr *r)
{
	if (!r->info.sealed || r->force_scan)
		return 0;
	if (r->meta_loaded == 0)
		load_meta(r);
	return r->meta_loaded > 0;
}

/* Reads and checks the block header at off (formats/segment.md, "Block",
 * checks 1 to 6: magic, checksum, version, bounds, payload within the
 * data) into *bh.  Reports problems. */
static int
block_header(struct evt_segr *r, uint64_t off, struct evt_blkhdr *bh)
{
	uint64_t limit = r->info.data_end;
	uint8_t h[EVT_BLK_HDR_SIZE];
	int rc;
	if (off + EVT_BLK_HDR_SIZE > limit) {
		report(r, off, "truncated block header (%llu bytes left)",
		    (unsigned long long)(limit - off));
		return EVT_ERR_TRUNCATED;
	}
	if ((rc = read_at(r, h, EVT_BLK_HDR_SIZE, off)) != 0) {
		report(r, off, "cannot read block header: %s", evt_strerror(rc));
		return rc;
	}
	if (!evt_blkhdr_magic_ok(h)) {
		report(r, off, "no block header here (bad magic)");
		return EVT_ERR_CORRUPT;
	}
	if (!evt_fixed_crc_ok(h, EVT_BLK_HDR_SIZE)) {
		report(r, off, "block header checksum mismatch");
		return EVT_ERR_CHECKSUM;
	}
	evt_blkhdr_get(h, bh);
	if (bh->hdr_size != EVT_BLK_HDR_SIZE || (bh->version != EVT_BLK_VERSION &&
	    bh->version != EVT_BLK_VERSION_COL &&
	    bh->version != EVT_BLK_VERSION_JOIN) ||
	    bh->codec != EVT_CODEC_ZSTD) {
		report(r, off, "block version %u / codec %u not supported",
		    bh->version, bh->codec);
		return EVT_ERR_VERSION;
	}
	uint64_t plen = evt_blkhdr_payload_len(bh);
	if (bh->rawlen > EVT_BLK_MAX_RAW || bh->nguid > EVT_BLK_MAX_GUIDS) {
		report(r, off, "block sizes out of bounds");
		return EVT_ERR_CORRUPT;
	}
	if (off + EVT_BLK_HDR_SIZE + plen > limit) {
		report(r, off, "block truncated: needs %llu bytes, %llu left",
		    (unsigned long long)(EVT_BLK_HDR_SIZE + plen),
		    (unsigned long long)(limit - off));
		return EVT_ERR_TRUNCATED;
	}
	return 0;
}

/* Checks the payload just read into r->io against the header's payload
 * CRC.  A mismatch costs the whole block unless the index's check list
 * shows the zstd frame intact: then only the events whose ids sit in a
 * damaged run of the GUID column are lost (r->gbad_on).  Reports. */
static int
check_payload(struct evt_segr *r, uint64_t off, const struct evt_blkhdr *bh,
    const uint8_t *guids)
{
	r->gbad_on = 0;
	if (evt_crc32c(0, r->io.p, evt_blkhdr_payload_len(bh)) ==
	    bh->payload_crc)
		return 0;
	const uint8_t *l = checks_of(r, off, bh->nguid);
	uint32_t bad = 0;
	if (l != NULL && evt_crc32c(0, r->io.p, bh->zlen) == evt_chk_get(l, 0))
		bad = bad_guids(r, l, guids, bh->nguid);
	if (bad == 0) {
		report(r, off, "block payload checksum mismatch (%u events "
		    "lost)", r->blk_nevent);
		return EVT_ERR_CHECKSUM;
	}
	report(r, off, "block payload checksum mismatch: %u of %u ids "
	    "of its GUID column damaged, the rest of the block read",
	    bad, bh->nguid);
	r->gbad_on = 1;
	return 0;
}

/* The 16-byte entries of the GUID column of a block (header bh) whose
 * column, as stored, is at col: in place, or unpacked into r->gcol; NULL
 * when out of memory. */
static const uint8_t *
guid_entries(struct evt_segr *r, const struct evt_blkhdr *bh,
    const uint8_t *col)
{
	if (!evt_blkhdr_packed(bh))
		return col;
	r->gcol.len = 0;
	if (evt_buf_grow(&r->gcol, EVT_GUID_SIZE * (size_t)bh->nguid + 1) != 0)
		return NULL;
	evt_guidcol_unpack(col, bh->nguid, r->gcol.p);
	return r->gcol.p;
}

/* Rebuilds the records of a columnar block (version 2: form 1, 3: form
 * 2) from its decompressed form in r->raw, into r->raw.  Reports. */
static int
uncolumn(struct evt_segr *r, uint64_t off, int form)
{
	struct evt_buf t = r->raw;
	const char *why = NULL;
	r->raw = r->colf;
	r->colf = t;
	int rc = evt_colform_decode(form, r->colf.p, r->colf.len, EVT_BLK_MAX_RAW,
	    &r->raw, &why);
	if (rc == EVT_ERR_CORRUPT)
		report(r, off, "%s (%u events lost)", why, r->blk_nevent);
	return rc;
}

/* Loads the block at off into the decoder; see segment_int.h. */
int
evt_segr_load_block(struct evt_segr *r, uint64_t off, uint64_t *next,
    struct evt_blkhdr *bh)
{
	r->hdr_ok = 0;
	int rc = block_header(r, off, bh);
	if (rc != 0)
		return rc;
	/* The header checks: its event count is what a failure below
	 * loses. */
	r->hdr_ok = 1;
	r->blk_nevent = bh->nevent;
	uint64_t plen = evt_blkhdr_payload_len(bh);
	r->io.len = 0;
	if (evt_buf_grow(&r->io, plen) != 0)
		return EVT_ERR_NOMEM;
	if ((rc = read_at(r, r->io.p, plen, off + EVT_BLK_HDR_SIZE)) != 0) {
		report(r, off, "cannot read block: %s (%u events lost)",
		    evt_strerror(rc), r->blk_nevent);
		return rc;
	}
	const uint8_t *guids = guid_entries(r, bh, r->io.p + bh->zlen);
	if (guids == NULL)
		return EVT_ERR_NOMEM;
	if ((rc = check_payload(r, off, bh, guids)) != 0)
		return rc;
	if ((rc = unzstd(r, r->io.p, bh->zlen, bh->rawlen)) != 0) {
		if (rc != EVT_ERR_NOMEM)
			report(r, off, "block does not decompress (%u events "
			    "lost)", r->blk_nevent);
		return rc;
	}
	if (bh->version != EVT_BLK_VERSION && (rc = uncolumn(r, off,
	    bh->version == EVT_BLK_VERSION_COL ? EVT_COLFORM_1 :
	    EVT_COLFORM_2)) != 0)
		return rc;
	r->blk_zlen = bh->zlen;
	if (bh->str_base > EVT_DICT_MAX_STRINGS ||
	    bh->shape_base > EVT_DICT_MAX_SHAPES) {
		report(r, off, "block dictionary bases out of bounds (%u "
		    "events lost)", r->blk_nevent);
		return EVT_ERR_CORRUPT;
	}
	if (r->dec.dict_grows) {
		/* Definitions of lost blocks: keep the numbering. */
		while (r->dict.nstr < bh->str_base)
			if (evt_dict_str_add(&r->dict, NULL, 0) < 0)
				return EVT_ERR_NOMEM;
		while (r->dict.nshape < bh->shape_base)
			if (evt_dict_shape_add(&r->dict, NULL, 0) < 0)
				return EVT_ERR_NOMEM;
	}
	evt_rdec_block(&r->dec, r->raw.p, r->raw.len, guids,
	    bh->nguid, bh->str_base, bh->shape_base);
	r->blk_seen = 0;
	r->blk_msg = r->blk_broken = 0;
	r->msg_kind = -1; /* items before any header have none */
	r->cur_off = off;
	*next = off + EVT_BLK_HDR_SIZE + plen;
	return 0;
}

/* Finds the next offset > from where a block header with a valid checksum
 * starts, or the end of the data. */
static uint64_t
resync(struct evt_segr *r, uint64_t from)
{
	uint8_t buf[65536 + EVT_BLK_HDR_SIZE];
	uint64_t off = from;
	while (off + EVT_BLK_HDR_SIZE <= r->info.data_end) {
		size_t want = sizeof buf;
		if (off + want > r->info.data_end)
			want = (size_t)(r->info.data_end - off);
		ssize_t n = pread(r->fd, buf, want, (off_t)off);
		if (n < EVT_BLK_HDR_SIZE)
			break;
		for (size_t i = 0; i + EVT_BLK_HDR_SIZE <= (size_t)n; i++) {
			/* (The first byte alone rules out most positions.) */
			if (buf[i] == (uint8_t)EVT_BLK_MAGIC[0] &&
			    evt_blkhdr_magic_ok(buf + i) &&
			    evt_fixed_crc_ok(buf + i, EVT_BLK_HDR_SIZE))
				return off + i;
		}
		off += (size_t)n - EVT_BLK_HDR_SIZE + 1;
	}
	return r->info.data_end;
}

/* Walks the block headers for evt_segr_columns; see segment.h. */
int
evt_segr_columns(struct evt_segr *r, evt_seg_column_cb fn, void *arg)
{
	/* Quiet: the scan that reads the blocks reports their damage. */
	evt_seg_err_cb cb = r->cb;
	uint64_t nerr = r->nerr, off = EVT_SEG_HDR_SIZE;
	struct evt_blkhdr bh;
	int rc = 0;
	r->cb = NULL;
	while (off + EVT_BLK_HDR_SIZE <= r->info.data_end) {
		rc = block_header(r, off, &bh);
		if (rc == EVT_ERR_IO)
			break;
		if (rc != 0) {
			rc = 0;
			off = resync(r, off + 1);
			continue;
		}
		size_t glen = (size_t)evt_guidcol_len(bh.nguid,
		    evt_blkhdr_packed(&bh));
		r->io.len = 0;
		if (evt_buf_grow(&r->io, glen) != 0) {
			rc = EVT_ERR_NOMEM;
			break;
		}
		if (glen > 0 && (rc = read_at(r, r->io.p, glen,
		    off + EVT_BLK_HDR_SIZE + bh.zlen)) != 0)
			break;
		/* (Its entries start where a zstd frame of 0 bytes would
		 * end.) */
		struct evt_blkhdr gh = bh;
		gh.zlen = 0;
		const uint8_t *g = guid_entries(r, &gh, r->io.p + gh.zlen);
		if (g == NULL) {
			rc = EVT_ERR_NOMEM;
			break;
		}
		const uint8_t *l = checks_of(r, off, bh.nguid);
		fn(arg, off, bh.flags, g, bh.nguid, l != NULL &&
		    bad_guids(r, l, g, bh.nguid) > 0 ? r->gbad : NULL);
		off += EVT_BLK_HDR_SIZE + evt_blkhdr_payload_len(&bh);
	}
	r->cb = cb;
	r->nerr = nerr;
	return rc;
}

/* Positions the scan; see segment.h. */
int
evt_segr_rewind(struct evt_segr *r, int64_t from_rx)
{
	r->in_block = 0;
	r->bi = 0;
	r->pos = EVT_SEG_HDR_SIZE;
	r->valid_end = EVT_SEG_HDR_SIZE;
	r->from_rx = from_rx;
	/* A forced scan still decodes with the index's dictionary when the
	 * index is intact, so that damage to one block does not take the
	 * definitions of later blocks with it. */
	if (r->force_scan && r->info.sealed && r->meta_loaded == 0)
		load_meta(r);
	if (!indexed(r))
		r->nblocks = 0; /* rebuilt by the scan */
	return 0;
}

/* Positions the scan at block directory entry bi; see segment.h. */
int
evt_segr_rewind_block(struct evt_segr *r, uint32_t bi)
{
	evt_segr_rewind(r, INT64_MIN);
	if (!indexed(r) || bi >= r->nblocks)
		return 0;
	r->bi = bi;
	return 1;
}

/* Bounds the scan's window at its end; see segment.h. */
void
evt_segr_set_end(struct evt_segr *r, int64_t to_rx)
{
	r->to_rx = to_rx;
}

/*
 * Loads the block at off of a followed segment (r->live): quietly first,
 * for a block that does not check at the end of the data is the one a
 * writer is writing (or a torn tail the next writer cuts): EVT_ERR_AGAIN.
 * Only when a good block header follows it is it damage, loaded again
 * to be reported as any scan reports it.
 */
static int
load_live(struct evt_segr *r, uint64_t off, uint64_t *next,
    struct evt_blkhdr *bh)
{
	evt_seg_err_cb cb = r->cb;
	uint64_t nerr = r->nerr;
	r->cb = NULL;
	int rc = evt_segr_load_block(r, off, next, bh);
	int tail = rc != 0 && rc != EVT_ERR_NOMEM && rc != EVT_ERR_IO &&
	    resync(r, off + 1) >= r->info.data_end;
	r->cb = cb;
	r->nerr = nerr;
	if (rc == 0 || rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
		return rc;
	return tail ? EVT_ERR_AGAIN : evt_segr_load_block(r, off, next, bh);
}

/* Follows an unsealed segment; see segment.h. */
void
evt_segr_live(struct evt_segr *r, int on)
{
	r->live = on && !r->info.sealed;
	if (r->live && r->fd >= 0) {
		struct stat st;
		if (fstat(r->fd, &st) == 0)
			r->live_mtime = st.st_mtim;
	}
}

/* The open descriptor. */
int
evt_segr_fd(const struct evt_segr *r)
{
	return r->fd;
}

/* Looks at a followed segment again; see segment.h. */
int
evt_segr_refresh(struct evt_segr *r)
{
	struct stat st;
	if (!r->live)
		return 0;
	if (fstat(r->fd, &st) != 0)
		return EVT_ERR_IO;
	/* (The modification time too: a writer that cut a torn tail and
	 * wrote a block of the same length in its place.) */
	if ((uint64_t)st.st_size == r->info.size &&
	    st.st_mtim.tv_sec == r->live_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == r->live_mtime.tv_nsec)
		return 0;
	r->live_mtime = st.st_mtim;
	r->info.size = (uint64_t)st.st_size;
	r->info.data_end = r->info.size;
	if (r->info.size >= EVT_SEG_HDR_SIZE + EVT_TRAILER_SIZE) {
		uint8_t t[EVT_TRAILER_SIZE];
		evt_seg_err_cb cb = r->cb;
		uint64_t nerr = r->nerr;
		r->cb = NULL; /* a trailer being written is no damage */
		/* A valid trailer sets data_end to the end of the blocks;
		 * the scan goes on block by block up to it, with the
		 * dictionary it has grown (not the index's). */
		int sealed = read_at(r, t, sizeof t, r->info.size -
		    EVT_TRAILER_SIZE) == 0 && check_trailer(r, t);
		r->cb = cb;
		r->nerr = nerr;
		if (sealed) {
			r->live = 0;
			return 2;
		}
	}
	return 1;
}

/* Moves the scan into the next readable block; 0 at the end. */
static int
next_block(struct evt_segr *r)
{
	struct evt_blkhdr bh;
	uint64_t next;
	if (indexed(r)) {
		while (r->bi < r->nblocks) {
			const struct evt_blkent *b = &r->blocks[r->bi++];
			if (b->last_rx < r->from_rx || b->first_rx >= r->to_rx)
				continue;
			int rc = evt_segr_load_block(r, b->off, &next, &bh);
			if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
				return rc;
			if (rc == 0)
				return 1;
			/* The index knows what the block held. */
			r->lost += b->nevent;
			if (!r->hdr_ok)
				report(r, b->off, "the index lists %u events "
				    "in this block: lost", b->nevent);
		}
		return 0;
	}
	while (r->pos + EVT_BLK_HDR_SIZE <= r->info.data_end) {
		uint64_t at = r->pos;
		int rc = r->live ? load_live(r, at, &next, &bh) :
		    evt_segr_load_block(r, at, &next, &bh);
		if (rc == EVT_ERR_AGAIN)
			return 0; /* not whole yet: stay here */
		if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
			return rc;
		if (rc != 0) {
			/* A good header says what is lost; past a bad one,
			 * nothing does until the next good header. */
			r->pos = resync(r, at + 1);
			if (!r->hdr_ok) {
				r->lost_unknown++;
			} else {
				uint64_t end = at + EVT_BLK_HDR_SIZE +
				    evt_blkhdr_payload_len(&bh);
				r->lost += r->blk_nevent;
				/* Bytes between its end and the next good
				 * header held blocks whose headers are gone. */
				if (r->pos > end && end < r->info.data_end) {
					report(r, end, "no block header here: "
					    "%llu bytes up to the next one are "
					    "lost", (unsigned long long)
					    (r->pos - end));
					r->lost_unknown++;
				}
			}
			continue;
		}
		r->pos = next;
		r->valid_end = next;
		struct evt_blkent be = {
			.off = at,
			.first_rx = bh.first_rx,
			.last_rx = bh.last_rx,
			.nrec = bh.nrec,
			.nevent = bh.nevent,
			.str_base = bh.str_base,
			.shape_base = bh.shape_base,
		};
		if ((rc = push_block(r, &be)) != 0)
			return rc;
		/* No skipping by time here: the blocks of an unsealed segment
		 * carry the definitions later blocks need. */
		return 1;
	}
	if (r->live)
		return 0; /* the rest is still being written */
	if (r->pos < r->info.data_end && r->pos > r->valid_end)
		; /* already reported by the resync path */
	else if (r->pos < r->info.data_end) {
		report(r, r->pos, "%llu trailing bytes are not a block",
		    (unsigned long long)(r->info.data_end - r->pos));
		r->lost_unknown++;
	}
	r->pos = r->info.data_end;
	return 0;
}

/* Whether EVENT rec takes a GUID column entry that a failed check
 * covers (a salvaged block, r->gbad_on). */
static int
guid_damaged(const struct evt_segr *r, const struct evt_rec *rec)
{
	if (rec->kind != EVT_K_EVENT || rec->o == NULL)
		return 0;
	const struct evt_shape *sh = &r->dict.shape[rec->shape];
	for (uint32_t g = rec->guid0; g < rec->guid0 + (sh->nfield - sh->nval) &&
	    g < r->dec.nguid; g++)
		if (r->gbad[g])
			return 1;
	return 0;
}

/* Reports the open message of the current block as incomplete when
 * `left` of its items never came (records.md, "Damage"). */
static void
msg_incomplete(struct evt_segr *r, uint32_t left)
{
	/* (A scan that passes headers over undecoded does not know their
	 * item counts; after a broken record the rest of the block is lost
	 * and reported.) */
	if (left == 0 || r->blk_broken || r->dec.skip_records)
		return;
	report(r, r->cur_off, "%s at +%llu incomplete: %u of its items "
	    "missing", r->msg_kind == EVT_K_MSG ? "message" : "state list",
	    (unsigned long long)r->msg_off, left);
	if (r->msg_kind == EVT_K_MSG)
		r->lost += left;
}

/* The kind of the record at off of the current block, from its first
 * bytes, or -1 (for a record the decoder refused). */
static int
kind_at(const struct evt_segr *r, size_t off)
{
	const uint8_t *p = r->dec.recs + off;
	size_t n = r->dec.len - off;
	size_t hl = n > 0 && p[0] >= 0x91 && p[0] <= 0x9f ? 1 :
	    n > 0 && p[0] == 0xdc ? 3 : n > 0 && p[0] == 0xdd ? 5 : 0;
	return hl > 0 && hl < n && p[hl] <= EVT_K_MAX ? p[hl] : -1;
}

/*
 * Accounts for a record the decoder returned (1) or refused (0) before
 * the scan hands it out: counts the events of MSG frames, reports
 * incomplete messages, and returns 0 for items whose header was refused
 * (records.md: "reported and dropped"; they are counted as lost at the
 * block's end), 1 to hand the record out.  left is the decoder's item
 * count before the record.
 */
static int
account(struct evt_segr *r, const struct evt_rec *rec, int ok, uint32_t left)
{
	int kind = ok ? rec->kind : kind_at(r, r->dec.err_off);
	if (kind == EVT_K_STRDEF || kind == EVT_K_SHAPEDEF)
		return 1;
	if (kind == EVT_K_EVENT || kind == EVT_K_ITEM) {
		if (!ok || r->msg_kind < 0)
			return r->msg_kind >= 0;
		r->blk_seen += kind == EVT_K_EVENT && r->blk_msg;
		return 1;
	}
	msg_incomplete(r, left);
	r->blk_msg = ok && kind == EVT_K_MSG;
	r->msg_kind = ok ? kind : -1; /* -1: its items are orphans */
	r->msg_off = ok ? rec->off : r->dec.err_off;
	return 1;
}

/* Accounts for the end of the current block: what its header counted
 * and the scan did not hand out is lost (reported where it was). */
static void
block_done(struct evt_segr *r)
{
	if (!r->blk_broken)
		msg_incomplete(r, r->dec.items_left);
	if (r->blk_nevent > r->blk_seen)
		r->lost += r->blk_nevent - r->blk_seen;
}

/* Returns the next record of the scan; see segment.h. */
int
evt_segr_next(struct evt_segr *r, struct evt_rec *rec, uint64_t *blk_off)
{
	for (;;) {
		if (r->in_block) {
			uint32_t left = r->dec.items_left;
			int rc = evt_rdec_next(&r->dec, rec);
			if (rc == 1 && r->gbad_on && guid_damaged(r, rec)) {
				/* Once per block: verify lists each. */
				if (r->gbad_on++ == 1)
					report(r, r->cur_off, "block record at "
					    "+%zu: event whose id is damaged "
					    "dropped (so is every other such "
					    "event of the block)", rec->off);
				continue;
			}
			if (rc == 1) {
				if (!account(r, rec, 1, left)) {
					report(r, r->cur_off, "%s at +%zu "
					    "dropped: its header was damaged",
					    evt_kind_name(rec->kind), rec->off);
					continue;
				}
				if (blk_off != NULL)
					*blk_off = r->cur_off;
				return 1;
			}
			if (rc == EVT_ERR_NOMEM)
				return rc;
			if (rc < 0) {
				report(r, r->cur_off,
				    "block record at +%zu: %s",
				    r->dec.err_off, r->dec.err);
				/* The decoder's messages for MessagePack it
				 * cannot delimit, after which the rest of the
				 * block is gone, all start "record ". */
				if (strncmp(r->dec.err, "record ", 7) == 0)
					r->blk_broken = 1;
				else
					account(r, rec, 0, left);
				continue;
			}
			block_done(r);
			r->in_block = 0;
		}
		int rc = next_block(r);
		if (rc <= 0)
			return rc;
		r->in_block = 1;
	}
}

/* The block directory. */
const struct evt_blkent *
evt_segr_blocks(struct evt_segr *r, uint32_t *n)
{
	*n = r->nblocks;
	return r->blocks;
}

/* The flags of block i, from its header. */
int
evt_segr_block_flags(struct evt_segr *r, uint32_t i, uint32_t *flags)
{
	struct evt_blkhdr bh;
	if (i >= r->nblocks)
		return EVT_ERR_ARG;
	int rc = block_header(r, r->blocks[i].off, &bh);
	if (rc == 0)
		*flags = bh.flags;
	return rc;
}

/* Id of the last event of a sealed segment. */
const char *
evt_segr_last_id(struct evt_segr *r, size_t *len)
{
	indexed(r);
	*len = r->last_id_len;
	return r->last_id;
}

/* Maps the filter slots of a sealed segment. */
static int
map_filter(struct evt_segr *r)
{
	if (r->filt.slots != NULL)
		return 0;
	if (r->filt_len == 0)
		return EVT_ERR_STATE;	/* no filter (revision 1.3) */
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t start = r->filt_off & ~(uint64_t)(pg - 1);
	r->map_len = (size_t)(r->filt_off + r->filt_len - start);
	r->map = mmap(NULL, r->map_len, PROT_READ, MAP_SHARED, r->fd,
	    (off_t)start);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		return EVT_ERR_IO;
	}
	r->filt.slots = (uint8_t *)r->map + (r->filt_off - start);
	return 0;
}

/* Probes the filter with three preads: 1 hit, 0 absent, -1 unreadable. */
static int
probe_pread(struct evt_segr *r, uint64_t key, uint32_t *loc)
{
	uint32_t pos[3];
	if (r->info.nevents == 0)
		return 0;
	if (!evt_filter_positions(&r->filt, key, pos))
		return -1;
	uint16_t v = 0;
	for (int i = 0; i < 3; i++) {
		uint8_t b[EVT_FILT_SLOT_SIZE];
		if (read_at(r, b, sizeof b, r->filt_off +
		    EVT_FILT_SLOT_SIZE * (uint64_t)pos[i]) != 0)
			return -1;
		v ^= le16_get(b);
	}
	return evt_filter_match(&r->filt, key, v, loc);
}

/* Compares an event's id with the one sought (GUIDs in any case). */
static int
id_equal(const char *a, size_t al, const char *b, size_t bl)
{
	uint8_t ga[16], gb[16];
	if (evt_guid_parse(a, al, ga, 0) && evt_guid_parse(b, bl, gb, 0))
		return memcmp(ga, gb, 16) == 0;
	return al == bl && memcmp(a, b, al) == 0;
}

/* Scans the current block for event id; 1 found.  gi, unless UINT32_MAX,
 * is the id's index in the GUID column: records before it are skipped
 * without comparing. */
static int
scan_block_for(struct evt_segr *r, const char *id, size_t len, uint32_t gi,
    struct evt_rec *rec)
{
	char have[EVT_REC_MAX_INTERN + 1];
	int in_msg = 0;
	for (;;) {
		int rc = evt_rdec_next(&r->dec, rec);
		if (rc == 0)
			return 0;
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (rc < 0) {
			report(r, r->cur_off, "block record at +%zu: %s",
			    r->dec.err_off, r->dec.err);
			continue;
		}
		if (rec->kind == EVT_K_MSG || rec->kind == EVT_K_STATES)
			in_msg = rec->kind == EVT_K_MSG;
		if (rec->kind != EVT_K_EVENT || !in_msg)
			continue;
		if (gi != UINT32_MAX && r->dec.gi <= gi)
			continue; /* its GUIDs end before the id's */
		int n = evt_rdec_field(&r->dec, rec, "id", have, sizeof have);
		if (n >= 0 && id_equal(have, (size_t)n, id, len))
			return 1;
	}
}

static int find_in_blocks(struct evt_segr *r, const char *id, size_t len,
    uint64_t first, uint64_t last, const uint64_t *offs, size_t n,
    struct evt_rec *rec, uint64_t *blk_off);

/*
 * Reads the GUID column of the block at off (header bh) into r->raw and
 * sets *col to its 16-byte entries (guid_entries).  Returns 0, 1 when it
 * could not be read (the caller then decodes the block), or EVT_ERR_NOMEM.
 */
static int
read_guid_column(struct evt_segr *r, uint64_t off, const struct evt_blkhdr *bh,
    const uint8_t **col)
{
	size_t n = (size_t)evt_guidcol_len(bh->nguid, evt_blkhdr_packed(bh));
	r->raw.len = 0;
	if (evt_buf_grow(&r->raw, n + 1) != 0)
		return EVT_ERR_NOMEM;
	if (read_at(r, r->raw.p, n, off + EVT_BLK_HDR_SIZE + bh->zlen) != 0)
		return 1;
	*col = guid_entries(r, bh, r->raw.p);
	return *col == NULL ? EVT_ERR_NOMEM : 0;
}

/*
 * Looks id up in a sealed segment without an id filter (revision 1.3):
 * a GUID in the GUID column of each block whose flags say it holds
 * exactly its ids (one read of the column, no decompression), other
 * blocks decoded.
 */
static int
find_unfiltered(struct evt_segr *r, const char *id, size_t len,
    struct evt_rec *rec, uint64_t *blk_off)
{
	uint8_t g[16];
	int is_guid = evt_guid_parse(id, len, g, 0);
	for (uint32_t b = 0; b < r->nblocks; b++) {
		struct evt_blkhdr bh;
		uint64_t off = r->blocks[b].off;
		if (is_guid && block_header(r, off, &bh) == 0 &&
		    (bh.flags & (EVT_BLKF_SET | EVT_BLKF_IDCOL)) ==
		    (EVT_BLKF_SET | EVT_BLKF_IDCOL)) {
			const uint8_t *col = NULL;
			int hit = read_guid_column(r, off, &bh, &col);
			if (hit == EVT_ERR_NOMEM)
				return hit;	/* (1: unread, decode the block) */
			for (uint32_t k = 0; !hit && k < bh.nguid; k++)
				hit = memcmp(col + EVT_GUID_SIZE * (size_t)k, g,
				    EVT_GUID_SIZE) == 0;
			if (!hit)
				continue;
		}
		int rc = find_in_blocks(r, id, len, b, b + 1, NULL, 0, rec,
		    blk_off);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Looks an event id up; see segment.h. */
int
evt_segr_find(struct evt_segr *r, const char *id, size_t len,
    struct evt_rec *rec, uint64_t *blk_off)
{
	/* Probe the filter before loading the index: most segments are
	 * ruled out by three slot reads. */
	uint32_t loc;
	if (r->info.sealed && !r->force_scan && r->meta_loaded >= 0 &&
	    r->filt_len > 0) {
		int hit = probe_pread(r, evt_id_key(id, len), &loc);
		if (hit == 0)
			return 0;
	}
	if (indexed(r) && r->filt_len == 0)
		return find_unfiltered(r, id, len, rec, blk_off);
	if (!indexed(r) || map_filter(r) != 0) {
		/* No usable index: scan. */
		int rc;
		evt_segr_rewind(r, INT64_MIN);
		while ((rc = next_block(r)) == 1) {
			r->in_block = 1;
			if ((rc = scan_block_for(r, id, len, UINT32_MAX,
			    rec)) != 0) {
				if (rc == 1 && blk_off != NULL)
					*blk_off = r->cur_off;
				return rc;
			}
		}
		r->in_block = 0;
		return rc;
	}
	if (r->info.nevents == 0 ||
	    !evt_filter_get(&r->filt, evt_id_key(id, len), &loc))
		return 0;
	uint64_t first = (uint64_t)loc << r->locshift;
	uint64_t last = ((uint64_t)loc + 1) << r->locshift;
	return find_in_blocks(r, id, len, first, last, NULL, 0, rec, blk_off);
}

/* Looks an event id up in given blocks; see segment.h. */
int
evt_segr_find_at(struct evt_segr *r, const char *id, size_t len,
    const uint64_t *offs, size_t n, struct evt_rec *rec, uint64_t *blk_off)
{
	if (!indexed(r))
		return evt_segr_find(r, id, len, rec, blk_off); /* scans */
	return find_in_blocks(r, id, len, 0, 0, offs, n, rec, blk_off);
}

/*
 * Decodes blocks first <= b < last of the directory, or (offs) the
 * blocks at those offsets, for event id; 1 found (blk_off set), 0 not,
 * or a negative evt_err.
 */
static int
find_in_blocks(struct evt_segr *r, const char *id, size_t len,
    uint64_t first, uint64_t last, const uint64_t *offs, size_t n,
    struct evt_rec *rec, uint64_t *blk_off)
{
	uint8_t g[16];
	int is_guid = evt_guid_parse(id, len, g, 0);
	if (offs != NULL) {
		first = 0;
		last = n;
	}
	for (uint64_t k = first; k < last; k++) {
		uint64_t b = offs == NULL ? k : evt_seg_find_off(r->blocks,
		    r->nblocks, sizeof *r->blocks, offs[k]);
		if (b >= r->nblocks)
			continue;
		struct evt_blkhdr bh;
		uint64_t next;
		int rc = evt_segr_load_block(r, r->blocks[b].off, &next, &bh);
		if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
			return rc;
		if (rc != 0)
			continue;
		/* Fast path: the id's position in the GUID column names the
		 * record; only events stored with a text id need the scan. */
		uint32_t j = UINT32_MAX;
		for (uint32_t i = 0; is_guid && i < r->dec.nguid; i++)
			if (memcmp(r->dec.guids + EVT_GUID_SIZE * (size_t)i, g,
			    EVT_GUID_SIZE) == 0) {
				j = i;
				break;
			}
		rc = scan_block_for(r, id, len, j, rec);
		if (rc != 0) {
			if (rc == 1 && blk_off != NULL)
				*blk_off = r->cur_off;
			return rc;
		}
	}
	return 0;
}

/* Probes the id filter; see segment.h. */
int
evt_segr_probe(struct evt_segr *r, uint64_t key, uint32_t *first,
    uint32_t *count)
{
	if (indexed(r) && r->filt_len == 0) {
		*first = 0;	/* no filter: every block may hold it */
		*count = r->nblocks;
		return 1;
	}
	if (!indexed(r) || map_filter(r) != 0)
		return EVT_ERR_STATE;
	uint32_t loc;
	if (r->info.nevents == 0 || !evt_filter_get(&r->filt, key, &loc))
		return 0;
	/* Blocks first <= b < last, as segment.md's probe: locbits +
	 * locshift <= 32 keeps both within 2^32. */
	uint64_t f = (uint64_t)loc << r->locshift;
	uint64_t l = ((uint64_t)loc + 1) << r->locshift;
	if (l > r->nblocks)
		l = r->nblocks;
	*first = (uint32_t)(f < l ? f : l);
	*count = (uint32_t)(f < l ? l - f : 0);
	return 1;
}

/* Checks the filter bytes against the trailer's checksum.  Needs only the
 * trailer: loading the index too made every "not found" of an archive
 * lookup, which checks the filter of every sealed segment, decompress and
 * parse every index. */
int
evt_segr_check_filter(struct evt_segr *r)
{
	if (!r->info.sealed)
		return EVT_ERR_STATE;
	if (r->filt_len == 0)
		return 0;	/* no filter, nothing to check */
	if (map_filter(r) != 0)
		return EVT_ERR_IO;
	if (evt_crc32c(0, r->filt.slots, r->filt_len) != r->filt_crc) {
		report(r, r->filt_off, "id filter checksum mismatch");
		return EVT_ERR_CHECKSUM;
	}
	return 0;
}

/* A block of the header walk of evt_seg_tail and evt_segr_newest_keys. */
struct tailblk {
	uint64_t off;
	uint32_t flags, nevent, nguid;
};

/*
 * Reads block i of the walk for evt_seg_tail and takes from it what the
 * flags promise: the last GUID (the id of the last indexed event) and the
 * body of the last SESSION marker.  Returns 0, 1 if the block does not
 * check, or a negative evt_err.
 */
static int
tail_block(struct evt_segr *r, const struct tailblk *b, int want_id,
    int want_session, struct evt_seg_tail *t)
{
	struct evt_blkhdr bh;
	uint64_t next;
	/* Only markers are decoded: no dictionary is needed (or built). */
	r->dec.dict_grows = 0;
	r->dec.skip_records = 1;
	int rc = evt_segr_load_block(r, b->off, &next, &bh);
	if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
		return rc;
	if (rc != 0)
		return 1;
	t->blocks_read++;
	if (want_id) {
		char id[36];
		evt_guid_format(r->dec.guids +
		    EVT_GUID_SIZE * ((size_t)b->nguid - 1), id);
		memcpy(t->last_id, id, sizeof id);
		t->last_id_len = sizeof id;
	}
	struct evt_rec re;
	struct evt_buf tail = {0};
	while (want_session && (rc = evt_rdec_next(&r->dec, &re)) != 0) {
		if (rc == EVT_ERR_NOMEM)
			break;
		if (rc < 0 || re.kind != EVT_K_SESSION)
			continue; /* (definitions fail without the dictionary) */
		t->session.len = 0;
		tail.len = 0;
		t->have_session = (rc = evt_rdec_frame_head(&r->dec, &re,
		    &t->session, &tail)) == 0;
		if (rc == EVT_ERR_NOMEM)
			break;
	}
	evt_buf_free(&tail);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/*
 * Walks the block headers of r from offset 64 (each says where the next
 * one is) without reading the blocks, into *bl (malloc'd) and *n.
 * Returns 0, EVT_ERR_AGAIN when what follows the last good header is not
 * just a torn tail (a valid block header after it means damage that only
 * a full scan sorts out), or EVT_ERR_NOMEM / EVT_ERR_IO.
 */
static int
walk_headers(struct evt_segr *r, struct tailblk **bl, size_t *n)
{
	size_t cap = 0;
	uint64_t off = EVT_SEG_HDR_SIZE;
	struct evt_blkhdr bh;
	int rc;
	*bl = NULL;
	*n = 0;
	while ((rc = block_header(r, off, &bh)) == 0) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct tailblk *nb = realloc(*bl, cap * sizeof *nb);
			if (nb == NULL)
				return EVT_ERR_NOMEM;
			*bl = nb;
		}
		(*bl)[(*n)++] = (struct tailblk){off, bh.flags, bh.nevent,
		    bh.nguid};
		off += EVT_BLK_HDR_SIZE + evt_blkhdr_payload_len(&bh);
	}
	if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
		return rc;
	if (off < r->info.data_end && resync(r, off + 1) < r->info.data_end)
		return EVT_ERR_AGAIN;
	return 0;
}

/* Finds the resume point of an unsealed segment from its end; see
 * segment.h. */
int
evt_seg_tail(const char *path, struct evt_seg_tail *t)
{
	memset(t, 0, sizeof *t);
	struct evt_segr *r;
	struct tailblk *bl = NULL;
	size_t n = 0;
	int rc = evt_segr_open(path, NULL, NULL, &r);
	if (rc != 0)
		return rc;
	if (r->info.sealed || r->info.hdr_damaged) {
		rc = r->info.sealed ? EVT_ERR_EXISTS : EVT_ERR_CORRUPT;
		goto out;
	}
	if ((rc = walk_headers(r, &bl, &n)) != 0)
		goto out;
	rc = EVT_ERR_AGAIN;
	t->blocks = (uint32_t)n;
	/* Back from the end, by the flags, until both are found. */
	int want_id = 1, want_session = 1;
	for (size_t i = n; i-- > 0 && (want_id || want_session);) {
		const struct tailblk *b = &bl[i];
		if (!(b->flags & EVT_BLKF_SET))
			goto out; /* written before revision 1.1 */
		int id = want_id && b->nevent > 0;
		if (id && !(b->flags & EVT_BLKF_IDCOL))
			goto out; /* the id is not in the GUID column */
		id = id && b->nguid > 0; /* else its events have no id */
		int session = want_session && (b->flags & EVT_BLKF_SESSION);
		if (!id && !session)
			continue;
		int k = tail_block(r, b, id, session, t);
		if (k < 0) {
			rc = k;
			goto out;
		}
		if (k == 1 && i + 1 < n)
			goto out; /* damaged, not the torn tail */
		if (k == 1)
			continue; /* the torn tail: not data */
		want_id = want_id && t->last_id_len == 0;
		want_session = want_session && !t->have_session;
	}
	rc = 0;
out:
	if (rc != 0)
		evt_buf_free(&t->session);
	free(bl);
	evt_segr_close(r);
	return rc;
}

/* The blocks that hold r's newest `want` events, oldest first, from the
 * block directory of an indexed segment or else the block headers: into
 * *bl (malloc'd) and *n.  Returns 0 or an error of walk_headers. */
static int
newest_blocks(struct evt_segr *r, size_t want, struct tailblk **bl,
    size_t *n)
{
	if (!indexed(r))
		return walk_headers(r, bl, n);
	*n = 0;
	if ((*bl = malloc((r->nblocks + 1) * sizeof **bl)) == NULL)
		return EVT_ERR_NOMEM;
	size_t have = 0;
	for (uint32_t i = r->nblocks; i-- > 0 && have < want;) {
		(*bl)[(*n)++] = (struct tailblk){.off = r->blocks[i].off,
		    .nevent = r->blocks[i].nevent};
		have += r->blocks[i].nevent;
	}
	for (size_t i = 0; i < *n / 2; i++) { /* oldest first */
		struct tailblk t = (*bl)[i];
		(*bl)[i] = (*bl)[*n - 1 - i];
		(*bl)[*n - 1 - i] = t;
	}
	return 0;
}

/* Takes the keys of the newest `want` indexed events from the GUID columns
 * of the blocks bl (oldest first) that hold them; see
 * evt_segr_newest_keys. */
static int
column_keys(struct evt_segr *r, const struct tailblk *bl, size_t n,
    uint64_t *keys, size_t want, size_t *got)
{
	size_t i0 = n, have = 0;
	while (i0 > 0 && have < want)
		have += bl[--i0].nevent;
	for (size_t i = i0; i < n; i++) {
		struct evt_blkhdr bh;
		uint64_t next;
		if (bl[i].nevent == 0)
			continue;
		int rc = evt_segr_load_block(r, bl[i].off, &next, &bh);
		if (rc == EVT_ERR_NOMEM || rc == EVT_ERR_IO)
			return rc;
		if (rc != 0 && i + 1 == n && !r->info.sealed)
			continue; /* the torn tail: not data */
		uint32_t col = EVT_BLKF_SET | EVT_BLKF_IDCOL;
		if (rc != 0 || (bh.flags & col) != col)
			return EVT_ERR_AGAIN; /* damage, or not the ids */
		for (uint32_t g = 0; g < r->dec.nguid; g++)
			keys[(*got)++ % want] = evt_guid_key(r->dec.guids +
			    EVT_GUID_SIZE * (size_t)g);
	}
	return 0;
}

/* Reads the newest indexed ids' keys from the last GUID columns; see
 * segment.h. */
int
evt_segr_newest_keys(struct evt_segr *r, uint64_t *keys, size_t want,
    size_t *got)
{
	struct tailblk *bl = NULL;
	size_t n = 0;
	*got = 0;
	/* Quiet: a scan that falls back after EVT_ERR_AGAIN reports. */
	evt_seg_err_cb cb = r->cb;
	uint64_t nerr = r->nerr;
	int grows = r->dec.dict_grows, skip = r->dec.skip_records;
	r->cb = NULL;
	int rc = want == 0 ? 0 : newest_blocks(r, want, &bl, &n);
	r->dec.dict_grows = 0; /* only the columns are wanted */
	r->dec.skip_records = 1;
	if (rc == 0 && n > 0)
		rc = column_keys(r, bl, n, keys, want, got);
	r->dec.dict_grows = grows;
	r->dec.skip_records = skip;
	r->in_block = 0;
	r->cb = cb;
	r->nerr = nerr;
	free(bl);
	return rc;
}
