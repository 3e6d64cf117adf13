/*
 * segment.h: segment files: the writer (append, seal, resume after a
 * crash) and the reader (scan, random block access, id lookup).
 *
 * A segment is a header, a run of blocks, and once sealed an index and a
 * trailer.  formats/segment.md is authoritative; its byte tables are
 * repeated, with a name for every offset, in src/segment_layout.h, the
 * one place the library reads and writes them through.  The sizes, magic
 * numbers, versions, flags and bounds below are the spec's too.
 */
#ifndef EVTAPE_SEGMENT_H
#define EVTAPE_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/dict.h"
#include "evtape/filter.h"
#include "evtape/record.h"

#define EVT_SEG_HDR_SIZE 64
#define EVT_BLK_HDR_SIZE 64
#define EVT_TRAILER_SIZE 128
#define EVT_SEG_MAGIC "\x89" "EVTSEG\n"	/* 8 bytes */
#define EVT_TRL_MAGIC "\x89" "EVTIDX\n"	/* 8 bytes */
#define EVT_BLK_MAGIC "\x9e" "EBK"		/* 4 bytes */
#define EVT_SEG_VERSION 1
#define EVT_SEG_MINOR 4	/* revision 1.1: block header flags; 1.2:
				   dictionary units (EVT_BLKF_UNIT); 1.3:
				   segment summaries in the index; 1.4:
				   columnar blocks (EVT_BLK_VERSION_COL) */
#define EVT_SEG_MINOR_ROWS 3 /* row blocks with a summary (revision 1.3) */
#define EVT_SEG_MINOR_12 2   /* row blocks, no summary: revision 1.2 */
#define EVT_BLK_VERSION 1	/* records as MessagePack, GUIDs 16 bytes */
#define EVT_BLK_VERSION_COL 2	/* records in columnar form (colform.h),
				   GUID column maybe packed (revision 1.4) */
#define EVT_BLK_VERSION_JOIN 3	/* the same in columnar form 2, with joined
				   columns (revision 1.6) */
#define EVT_TRL_VERSION 1	/* trailer (index) version */
#define EVT_CODEC_ZSTD 1
/* Block header flags (offset 36, formats/segment.md, "Block"). */
#define EVT_BLKF_SET 0x1	/* the writer set the bits below */
#define EVT_BLKF_SESSION 0x2	/* the block holds a SESSION marker */
#define EVT_BLKF_IDCOL 0x4	/* its GUID column is exactly the ids of its
				   indexed events, in order */
#define EVT_BLKF_UNIT 0x8	/* the block starts a dictionary unit: its
				   records use no definition of an earlier
				   block (revision 1.2) */
#define EVT_BLKF_PACKED 0x10	/* block version 2 only: the GUID column
				   holds 122-bit packed version-4 GUIDs
				   (revision 1.4) */
#define EVT_BLK_MAX_RAW (1u << 30) /* bound on a block's decompressed size */
#define EVT_BLK_MAX_GUIDS (1u << 26)
/* Block and dictionary unit sizes: the damage a flipped bit costs against
 * bytes/event (measured in tests/bench/damage.sh; README "Damage"). */
#define EVT_BLOCK_BYTES_DEFAULT (64u << 10)
/* Dictionary units (formats/records.md, "Dictionary units"): a writer
 * defines again, from the first block after every unit_bytes of record +
 * GUID bytes, every string and shape it uses, so damage to one block can
 * take only definitions of its own unit with it.  8 MiB since revision
 * 1.6 (4 MiB before): every unit names the site's cameras again, and
 * half as many units save 0.36 bytes/event of evgen's stream; the price
 * is a unit of about 250,000 events that damage to an unsealed segment
 * can cost (README "Damage"). */
#define EVT_UNIT_BYTES_DEFAULT (8u << 20)
#define EVT_UNIT_BYTES_15 (4u << 20) /* the default before revision 1.6 */
#define EVT_UNIT_SEGMENT UINT64_MAX /* one unit per segment (before 1.2) */
/* The zstd level evtool import and evrec write columnar blocks with (a
 * writer given level 0 uses 3, what --layout 1.1 and 1.2 write): level 6
 * takes 0.10 bytes/event off evgen's stream for about a tenth more
 * compression time (docs/measurements.md). */
#define EVT_LEVEL_DEFAULT 6
/* GUID column entries per check in a sealed block's check list (index,
 * revision 1.2): a damaged id costs at most this many events. */
#define EVT_CHK_GUIDS 64

enum evt_fsync { EVT_FSYNC_NEVER = 0, EVT_FSYNC_INTERVAL, EVT_FSYNC_ALWAYS };

struct evt_segw_opts {
	size_t block_bytes; /* close a block past this many record + GUID
			       bytes; 0 = EVT_BLOCK_BYTES_DEFAULT */
	int level;	    /* zstd level; 0 = 3 */
	int fsync;	    /* enum evt_fsync; ALWAYS syncs every block */
	uint64_t unit_bytes; /* start a new dictionary unit at the first block
				after this many record + GUID bytes of the
				unit; 0 = EVT_UNIT_BYTES_DEFAULT,
				EVT_UNIT_SEGMENT = never */
	int no_checks;	     /* write no check lists into the index (what a
				revision 1.1 writer wrote; for comparisons) */
	int no_filter;	     /* seal without an id filter (revision 1.3,
				formats/segment.md, "Id filter"): for archives
				whose id index covers the segment */
	int row_blocks;	     /* write block version 1 (what a revision 1.2
				writer wrote; for comparisons) instead of
				columnar blocks */
	int no_summary;	     /* write no summary into the index (what a
				writer before revision 1.3 wrote) */
	int colform1;	     /* write block version 2 (columnar form 1, what
				a revision 1.5 writer wrote) instead of 3 */
	int no_checkpoint;   /* write no state checkpoint into the index
				(what a writer before revision 1.7 wrote) */
};

/* One entry of the block directory (in memory and in the index). */
struct evt_blkent {
	uint64_t off;
	int64_t first_rx, last_rx;
	uint32_t nrec, nevent, str_base, shape_base;
};

/* What a restart needs from an unsealed segment (evt_seg_tail). */
struct evt_seg_tail {
	char last_id[EVT_REC_MAX_INTERN]; /* id of the last indexed event */
	size_t last_id_len;		  /* 0: none in the segment */
	struct evt_buf session;		  /* body of the last SESSION */
	int have_session;		  /* marker; 0: none */
	uint32_t blocks;		  /* blocks walked */
	uint32_t blocks_read;		  /* of them read (decompressed) */
};

/* What a resume found in an unsealed segment. */
struct evt_seg_recovery {
	uint64_t valid_end;  /* bytes kept */
	uint64_t cut_bytes;  /* torn tail removed */
	uint32_t blocks;     /* good blocks kept */
	uint32_t bad_blocks; /* damaged blocks inside the kept range */
};

struct evt_segw;

/*
 * Creates a new segment file at path (which must not exist) with sequence
 * number seq and archive uuid.  Returns 0 and *out, or a negative evt_err
 * (EVT_ERR_IO with errno set).
 */
int evt_segw_create(const char *path, uint64_t seq, const uint8_t uuid[16],
    int64_t now_us, const struct evt_segw_opts *opts, struct evt_segw **out);

/*
 * Reopens an unsealed segment for appending after a crash: verifies every
 * block, cuts a torn tail, rebuilds the dictionary, block directory, frame
 * counts and last SESSION body from the data, decoding only definitions and
 * markers, and the last id from the last block with an indexed id (the id
 * keys are read back when sealing).  Damaged blocks followed by good ones are
 * kept (the reader skips them).  Fills *rec.  Returns 0, EVT_ERR_EXISTS if
 * the segment is sealed, or another negative evt_err.
 */
int evt_segw_resume(const char *path, const struct evt_segw_opts *opts,
    struct evt_segw **out, struct evt_seg_recovery *rec);

/*
 * Finds the last event id and the last SESSION marker body of an unsealed
 * segment without reading it whole: walks the block headers and reads only
 * the blocks whose flags (EVT_BLKF_*) say they hold them, from the end.
 * Returns 0 and fills *t (free t->session), EVT_ERR_AGAIN when the headers
 * cannot tell (blocks without flags, damage before the torn tail: scan with
 * evt_segw_resume instead), EVT_ERR_EXISTS if the segment is sealed, or
 * another negative evt_err.
 */
int evt_seg_tail(const char *path, struct evt_seg_tail *t);


/* Appends one received frame (see evt_renc_frame); closes the block when it
 * is full.  Returns >= 0 or a negative evt_err (EVT_ERR_NOSPC: the data stays
 * buffered and the next flush retries). */
int evt_segw_frame(struct evt_segw *w, int64_t rx_us, const char *buf,
    size_t len);

/* The same for a frame already tokenized in jp (borrowed for the call; see
 * evt_renc_frame_tok; NULL: evt_segw_frame). */
int evt_segw_frame_tok(struct evt_segw *w, int64_t rx_us, const char *buf,
    size_t len, const struct evt_jparser *jp);

/* The same for a MSG frame of flat events (evt_renc_msg_flat); their flat
 * bytes stand for the frame's length in the check against the block bound
 * (a frame's text is never near it). */
int evt_segw_msg_flat(struct evt_segw *w, int64_t rx_us,
    const struct evt_flat_msg *m);

/* Appends a SESSION, GAP or CONFIG marker with a JSON object body. */
int evt_segw_marker(struct evt_segw *w, int kind, int64_t rx_us,
    const char *json, size_t len);

/* Writes the open block, if any (and fsyncs under EVT_FSYNC_ALWAYS).
 * EVT_ERR_FOREIGN: the file is not as this writer left it (see
 * evt_segw_check); nothing was written, the block stays buffered.  Appends
 * that close a full block return the same. */
int evt_segw_flush(struct evt_segw *w);

/* fdatasyncs what was written since the last sync. */
int evt_segw_sync(struct evt_segw *w);

/* Flushes, reads the id keys back from the file, writes index (with the
 * id filter) and trailer, fsyncs and closes; frees w in every case.  Returns 0 or a negative evt_err (the segment is then left
 * unsealed and a later resume repairs it). */
int evt_segw_seal(struct evt_segw *w);

struct evt_ckb;

/* The builder of the state checkpoint the seal writes (ckpt.h), for the
 * archive to seed or carry on into the next segment; NULL: none. */
struct evt_ckb *evt_segw_ckb(struct evt_segw *w);

/* Hands the builder over to the caller (who carries the table on into
 * the next segment), the checkpoint the seal writes packed first; NULL:
 * none, or no memory to pack it (the writer keeps it then). */
struct evt_ckb *evt_segw_take_ckb(struct evt_segw *w);

/* The seal writes p[0..len) (a packed checkpoint; len 0: none) as the
 * index's checkpoint instead of building one: a rewrite keeps its
 * source's.  0 or EVT_ERR_NOMEM. */
int evt_segw_set_checkpoint(struct evt_segw *w, const uint8_t *p,
    size_t len);

/* Closes without sealing (buffered records are lost); frees w. */
void evt_segw_close(struct evt_segw *w);

/* Bytes in the file plus the open block's. */
uint64_t evt_segw_size(const struct evt_segw *w);

/* Events written (including the open block). */
uint64_t evt_segw_events(const struct evt_segw *w);

/* Frames (and markers) by record kind, the open block's included:
 * EVT_K_MAX + 1 counts. */
const uint64_t *evt_segw_frames(const struct evt_segw *w);

/* Raw bytes and age information of the open block. */
size_t evt_segw_block_bytes(const struct evt_segw *w);

/* Whether the blocks written so far are much smaller than the default
 * block size (worth compacting after sealing: see evt_seg_rewrite). */
int evt_segw_small_blocks(const struct evt_segw *w);

/* The file name (borrowed). */
const char *evt_segw_path(const struct evt_segw *w);

/* Receive time of the first record in the open block. */
int64_t evt_segw_block_first_rx(const struct evt_segw *w);

/* Id of the last event appended, or NULL; *len set. Borrowed. */
const char *evt_segw_last_id(const struct evt_segw *w, size_t *len);

/* JSON body of the last SESSION marker appended to this segment (found by
 * the scan of a resume, too), or NULL; *len set.  Borrowed, valid until
 * the next append. */
const char *evt_segw_session(const struct evt_segw *w, size_t *len);

/* Why the last frame became a RAW record (an evt_err: EVT_ERR_JSON,
 * EVT_ERR_UTF8, EVT_ERR_DEPTH) and at which byte offset. */
int evt_segw_raw_reason(const struct evt_segw *w, size_t *off);

/* Creation time (us) from the segment header. */
int64_t evt_segw_created(const struct evt_segw *w);

/* Checks that the file is still the one this writer appends to (nobody
 * renamed another over it or deleted it) and still ends at the end of the
 * last block written (nobody else appended or cut it).  Returns 0,
 * EVT_ERR_FOREIGN (stop writing to it: evt_segw_close, not seal) or
 * EVT_ERR_IO. */
int evt_segw_check(const struct evt_segw *w);

/*
 * Reader.
 */

/* Called for every problem found, with the file and offset. */
typedef void (*evt_seg_err_cb)(void *arg, const char *path, uint64_t off,
    const char *what);

#define EVT_SEG_FRAMES_UNKNOWN UINT64_MAX

struct evt_seg_info {
	uint64_t seq;
	uint8_t uuid[16];
	int64_t created_us;
	int hdr_damaged;	/* the header did not check: seq is the file
				   name's, uuid the bytes found there
				   (unverified), created_us 0 */
	int sealed;
	uint64_t size;
	uint64_t data_end;	/* sealed: end of the blocks */
	uint64_t nevents, nrecords; /* sealed: from the trailer */
	uint32_t nblocks;	/* sealed: from the trailer */
	int64_t first_rx, last_rx; /* sealed: from the trailer */
	uint64_t frames[EVT_K_MAX + 1]; /* sealed: frames per header kind
					   (MSG, JSON, RAW, GAP...), from the
					   index once it is loaded;
					   EVT_SEG_FRAMES_UNKNOWN where the
					   index does not say */
};

struct evt_segr;

struct msgpack_object;

/* The value of the first member of MessagePack map m (anything else: none)
 * whose key is the str key, or NULL: how every map of an index is read
 * (formats/segment.md: by name, the first of repeated keys). */
const struct msgpack_object *evt_mp_get(const struct msgpack_object *m,
    const char *key);

/* Reads exactly n bytes of fd at off (a pread loop over short reads and
 * EINTR): 0, EVT_ERR_TRUNCATED (the file ends first) or EVT_ERR_IO.  The
 * segment reader, the id index and the roll-up read through it. */
int evt_pread_full(int fd, void *buf, size_t n, uint64_t off);

/*
 * Opens a segment: reads and checks header and trailer (not the blocks).
 * A missing or damaged trailer makes the segment "unsealed" (scanned from
 * the start).  A header whose checksum fails is reported and, when path is
 * named like a segment, read all the same (info.hdr_damaged); otherwise, and
 * for a valid header of another version or size, EVT_ERR_CORRUPT (or
 * EVT_ERR_VERSION).
 */
int evt_segr_open(const char *path, evt_seg_err_cb cb, void *cbarg,
    struct evt_segr **out);

/* Closes a reader. */
void evt_segr_close(struct evt_segr *r);

/*
 * The number of leading blocks of the sealed segment r (index usable,
 * block 0 at offset 64 with an empty dictionary before it) whose receive
 * times all lie in [from, to): blocks evt_segr_copy_blocks may copy whole
 * (segment_copy.c).  0 when r is unsealed or its index unusable.
 */
uint32_t evt_segr_copy_run(struct evt_segr *r, int64_t from, int64_t to);

/*
 * Appends blocks 0 .. n-1 of r (evt_segr_copy_run), byte for byte, to the
 * segment file fd at offset at, right after its header: a new segment
 * whose dictionary is r's up to block n, numbered alike.  Stops before the
 * first block that does not check (header, payload CRC, its directory
 * entry) or does not follow the one before without a gap; *copied says
 * how many were appended.  0, or EVT_ERR_IO / EVT_ERR_NOSPC (a write
 * failed after *copied blocks).
 */
int evt_segr_copy_blocks(struct evt_segr *r, uint32_t n, int fd, uint64_t at,
    uint32_t *copied);

/* Header and trailer facts. */
const struct evt_seg_info *evt_segr_info(const struct evt_segr *r);

/*
 * Positions the sequential scan.  from_rx (INT64_MIN for all) lets a sealed
 * segment skip blocks that end before it.
 */
int evt_segr_rewind(struct evt_segr *r, int64_t from_rx);

/*
 * Positions the scan of a sealed segment read through its index at block
 * directory entry bi (the blocks before it are not read; a summary's
 * positions name such entries): returns 1.  Otherwise (unsealed, no
 * usable index, bi beyond the directory) rewinds to the start and
 * returns 0.
 */
int evt_segr_rewind_block(struct evt_segr *r, uint32_t bi);

/*
 * Lets the scan of a sealed segment skip the blocks that hold nothing
 * received before to_rx (their smallest receive time is at or after it;
 * INT64_MAX, the default: none), as from_rx skips those that end before
 * a window: a reader of a window [from, to) reads only the blocks that
 * overlap it.  Kept across evt_segr_rewind.
 */
void evt_segr_set_end(struct evt_segr *r, int64_t to_rx);

/*
 * Returns the next record of the scan (1), 0 at the end, or a negative
 * evt_err for a failure that stops the scan (EVT_ERR_NOMEM, EVT_ERR_IO).
 * Corruption is reported through the callback and skipped: damaged records
 * or blocks are passed over and the scan goes on at the next good block.
 * The record and the decoder (evt_segr_decoder) are valid until the next
 * call.  *blk_off gets the offset of the block holding it.
 */
int evt_segr_next(struct evt_segr *r, struct evt_rec *rec, uint64_t *blk_off);

/* The decoder of the current block (for evt_rdec_item_json etc.). */
struct evt_rdec *evt_segr_decoder(struct evt_segr *r);

/*
 * Looks an event id up.  Sealed segments probe the id filter and decode
 * only the blocks it names; unsealed ones are scanned.  Returns 1 with the
 * record positioned (use evt_segr_decoder), 0 if absent, < 0 on error.
 * *blk_off gets the block offset.
 */
int evt_segr_find(struct evt_segr *r, const char *id, size_t len,
    struct evt_rec *rec, uint64_t *blk_off);

/* The same in the blocks at offsets offs[0..n) only (those the archive's
 * id index names, formats/idindex.md); a segment without a usable index
 * is scanned as by evt_segr_find. */
int evt_segr_find_at(struct evt_segr *r, const char *id, size_t len,
    const uint64_t *offs, size_t n, struct evt_rec *rec, uint64_t *blk_off);
/* Problems seen so far by this reader (reported via the callback). */
uint64_t evt_segr_errors(const struct evt_segr *r);

/*
 * What the scans of this reader could not read (each place reported via
 * the callback): *events, events of MSG frames known to be lost (damaged
 * blocks whose header or index entry counts them, records that do not
 * decode, items missing from incomplete messages); *unknown, damaged
 * places whose event count nobody can tell (a block header that does not
 * check in a segment read without its index, a torn tail).  Events the
 * caller then fails to render are the caller's to count.
 */
void evt_segr_lost(const struct evt_segr *r, uint64_t *events,
    uint64_t *unknown);

/* The block directory (sealed: from the index; else built by a scan).
 * Borrowed. */
const struct evt_blkent *evt_segr_blocks(struct evt_segr *r, uint32_t *n);

/*
 * The summary in a sealed segment's index (formats/segment.md, "Summary";
 * revision 1.3): its MessagePack bytes, for evt_sum_decode with the
 * decoder's dictionary (evt_segr_decoder(r)->dict), valid until the reader
 * is closed; NULL (and *len 0) when the segment is unsealed, its index
 * unusable (loading it reports that) or without a summary.
 */
const uint8_t *evt_segr_summary(struct evt_segr *r, size_t *len);

/* The state checkpoint in a sealed segment's index (formats/segment.md,
 * "State checkpoint"; ckpt.h decodes it), MessagePack bytes valid until
 * the reader closes, or NULL (*len 0) without one. */
const uint8_t *evt_segr_checkpoint(struct evt_segr *r, size_t *len);

/* Reads a sealed segment block by block from its header, not through its
 * block directory (what verify does to check the blocks themselves), still
 * decoding with the index's dictionary where the index is intact.  Call
 * before the first rewind. */
void evt_segr_force_scan(struct evt_segr *r);

/* Loads the index of a sealed segment; 0, or < 0 if unusable (reported). */
int evt_segr_load_index(struct evt_segr *r);

/* Probes a sealed segment's id filter for key (evt_id_key): 1 and the
 * blocks first .. first + count - 1 that may hold it (count 0: none, the
 * location is beyond the directory), 0 if surely absent, EVT_ERR_STATE if
 * the segment has no usable index. */
int evt_segr_probe(struct evt_segr *r, uint64_t key, uint32_t *first,
    uint32_t *count);

/* Verifies the id filter's checksum (reported) from the trailer alone,
 * without loading the index: 0 if it matches, EVT_ERR_CHECKSUM,
 * EVT_ERR_IO, or EVT_ERR_STATE for a segment without a valid trailer. */
int evt_segr_check_filter(struct evt_segr *r);

/* Reads the flags (EVT_BLKF_*) of block i of evt_segr_blocks from its
 * header: 0, or a negative evt_err (the header does not check; reported). */
int evt_segr_block_flags(struct evt_segr *r, uint32_t i, uint32_t *flags);

/* Called by evt_segr_columns for a block: its offset, header flags and
 * GUID column (borrowed for the call); bad, unless NULL, has one byte per
 * entry, nonzero where the index's check list says the entry is damaged. */
typedef void (*evt_seg_column_cb)(void *arg, uint64_t blk_off,
    uint32_t flags, const uint8_t *guids, uint32_t nguid,
    const uint8_t *bad);

/*
 * Calls fn for every block from offset 64 whose header checks (past damage
 * by resynchronising, formats/segment.md), with its GUID column as stored:
 * the ids of a block whose payload is damaged, for listing them as lost.
 * The column is verified only where a sealed segment's loaded index has
 * the block's check list (then bad marks the damaged entries; the payload
 * checksum alone cannot tell which part of a block is damaged).  Reports
 * nothing.  Returns 0, EVT_ERR_NOMEM or
 * EVT_ERR_IO.  Invalidates the current block of a scan.
 */
int evt_segr_columns(struct evt_segr *r, evt_seg_column_cb fn, void *arg);

/*
 * Reads the id keys of the newest indexed events of r (records.md, "Event
 * ids") without decoding records: finds the last blocks that hold want
 * events (by the block directory of a sealed segment whose index is
 * loaded, else by walking the block headers) and reads their GUID
 * columns, which their flags (EVT_BLKF_IDCOL) must say hold exactly their
 * events' indexed ids.  Writes the keys in record order into keys, a ring
 * of want entries: key k goes to keys[k % want], *got counts them all.
 * Returns 0, EVT_ERR_AGAIN when the blocks cannot tell (a block with events
 * but without the flag, damage: decode the records instead), or
 * EVT_ERR_NOMEM / EVT_ERR_IO.  Reports nothing; invalidates the current
 * block of a scan.
 */
int evt_segr_newest_keys(struct evt_segr *r, uint64_t *keys, size_t want,
    size_t *got);

/*
 * Following a segment a writer appends to (follow.h).  evt_segr_live(r,
 * 1) makes the scan of an unsealed segment stop (evt_segr_next returns
 * 0), quietly and without moving, at a block that is not whole yet or
 * does not check while no good block header follows it: the half-written
 * block of a running writer, or a crash's torn tail that the next writer
 * will cut.  Damage that a good block follows is reported as always.
 * evt_segr_live(r, 0) reads the rest as any scan does (a torn tail is
 * then reported).  evt_segr_refresh, called when a scan returned 0, looks
 * at the file again (through the open descriptor, so that a rename or a
 * deletion does not matter): returns 2 once the writer has sealed it (the
 * scan then ends at the end of its blocks and is no longer live), 1 if it
 * grew or shrank, 0 if unchanged, or EVT_ERR_IO.  A sealed segment
 * opened as such never changes: 0.
 */
void evt_segr_live(struct evt_segr *r, int on);
int evt_segr_refresh(struct evt_segr *r);

/* The reader's open descriptor (borrowed): which file it reads, after
 * renames. */
int evt_segr_fd(const struct evt_segr *r);

/* Id of the last event in the segment or NULL (sealed: from the index). */
const char *evt_segr_last_id(struct evt_segr *r, size_t *len);

/*
 * Frames: whole received frames rebuilt from a segment's records.
 */

/* One rebuilt frame.  text is owned by the frame reader and valid until
 * the next evt_frames_next call. */
struct evt_frame {
	int kind;	     /* EVT_K_MSG, STATES, JSON, RAW, SESSION, GAP,
				CONFIG */
	int64_t rx_us;	     /* receive time */
	struct evt_buf text; /* the JSON text (RAW: the exact bytes); a MSG
				or STATES frame holds the items kept */
	uint32_t nitems;     /* items its header announced */
	uint32_t kept;	     /* items in text */
	size_t *span;	     /* kept item i is text[span[2i] .. span[2i+1])
				(owned by the frame reader; for replay,
				which publishes events one by one) */
	uint32_t span_cap;   /* items span has room for */
	int is_flat;	     /* the kept items are flat[span[2i] ..
				span[2i+1]) (record.h, flat items), not
				in text, which holds the rest: a MSG frame
				of a reader in flat mode (evt_frames_flat);
				text[0..head_len) goes before them */
	struct evt_buf flat;
	struct evt_buf sids; /* the input string ids of their STR values
				(evt_rdec_event_flat) */
	size_t head_len;
};

/* Decides whether an item (EVENT or ITEM record) goes into its frame of
 * kind frame_kind (EVT_K_MSG or EVT_K_STATES: the events of a message and
 * the states of a getState answer are both EVENT records): nonzero keeps
 * it, as kept item number `kept` of the frame (unless it then cannot be
 * rendered: the next item kept gets the same number).  The record and
 * decoder are borrowed for the call. */
typedef int (*evt_frame_keep_cb)(void *arg, int frame_kind, uint32_t kept,
    struct evt_rdec *d, const struct evt_rec *rec);

/* A frame reader; fields are private. */
struct evt_frames {
	struct evt_segr *r;
	evt_frame_keep_cb keep;
	void *keep_arg;
	evt_seg_err_cb cb;
	void *cbarg;
	const char *path;
	struct evt_frame f;
	struct evt_buf tail;
	struct evt_rec rec;
	int open, pending;
	int flat;	  /* evt_frames_flat */
	uint32_t left;
	uint64_t dropped; /* records that could not be rendered (reported) */
	uint64_t lost;	  /* of them, events of MSG frames */
};

/* Starts rebuilding frames from r's scan (position r with
 * evt_segr_rewind first).  keep (NULL: keep all) filters items; cb (may be
 * NULL) hears of records that cannot be rendered, with path.  All
 * pointers are borrowed for the reader's life. */
void evt_frames_init(struct evt_frames *fr, struct evt_segr *r,
    evt_frame_keep_cb keep, void *keep_arg, evt_seg_err_cb cb, void *cbarg,
    const char *path);

/* Puts the reader in flat mode: the items of MSG frames are given in
 * flat form (evt_frame.is_flat), not rendered; what cannot be read is
 * reported and lost as in text. */
void evt_frames_flat(struct evt_frames *fr);

/* Returns 1 and the next frame in *out (borrowed until the next call), 0
 * at the end, or a negative evt_err (EVT_ERR_NOMEM, EVT_ERR_IO).  A frame
 * whose items were damaged holds those that read. */
int evt_frames_next(struct evt_frames *fr, struct evt_frame **out);

/* Frees the frame reader's buffers (not r). */
void evt_frames_free(struct evt_frames *fr);

/*
 * Rewriting.
 */

struct evt_rewrite_stats {
	uint64_t frames;   /* frames and markers written */
	uint64_t events;   /* events written */
	uint64_t dropped;  /* records that could not be read */
	uint64_t problems; /* problems the reader reported */
};

/*
 * Writes a new sealed segment at dst (which must not exist), with src's
 * sequence number, archive uuid (or uuid, copied, unless NULL) and creation
 * time, holding every frame, event and marker of src that reads (through
 * src's index where intact).  When src's header is damaged, the sequence
 * number is its file name's and the creation time its first frame's
 * receive time.  The caller renames dst over src.  Problems go through cb.
 * Returns 0, or a negative evt_err (dst is then left unsealed or absent).
 */
int evt_seg_rewrite(const char *src, const char *dst,
    const struct evt_segw_opts *opts, const uint8_t uuid[16],
    evt_seg_err_cb cb, void *cbarg, struct evt_rewrite_stats *st);

/*
 * evt_seg_rewrite writing ckpt (packed, ckpt.h) as the state checkpoint
 * where src had one: a repair's, rebuilt from the frames that read
 * (evt_verify_checkpoint).  With ckpt NULL src's is kept, or written
 * incomplete when frames were lost.
 */
int evt_seg_rewrite_ckpt(const char *src, const char *dst,
    const struct evt_segw_opts *opts, const uint8_t uuid[16],
    const struct evt_buf *ckpt, evt_seg_err_cb cb, void *cbarg,
    struct evt_rewrite_stats *st);

#endif
