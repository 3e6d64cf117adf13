/*
 * archive.h: an archive directory: segment files "seg-NNNNNNNNNNNN.evt"
 * numbered from 1, written one after the other, plus a LOCK file that keeps
 * a second writer out.  Opening for writing resumes the newest segment if it
 * was left unsealed (crash), seals older unsealed ones on the sealing
 * thread (joined at the first rotation or close), and rotates by size
 * and age.  Retention deletes whole sealed segments only.  Any other file
 * in the directory is ignored with a warning.  formats/archive.md.
 */
#ifndef EVTAPE_ARCHIVE_H
#define EVTAPE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/segment.h"

#define EVT_AR_WRITE 1	/* open for appending (takes the lock) */
#define EVT_AR_CREATE 2 /* create the directory if missing */
#define EVT_AR_LOCK 4	/* take the writer's lock without writing (repair,
			   prune) */
#define EVT_AR_NO_SIZES 16 /* a reader that needs no segment sizes: the
			   listing does not stat every segment (size
			   EVT_SIZE_UNKNOWN; 10,000 stats were most of
			   a lookup's system time) */
#define EVT_AR_NO_INDEX 8 /* look ids up segment by segment, not through the
			   archive's id index (also: environment variable
			   EVTAPE_NO_IDINDEX set and not empty) */

struct evt_archive_opts {
	struct evt_segw_opts seg;
	uint64_t seg_bytes; /* rotate past this size; 0 = 32 MiB */
	int64_t seg_age_us; /* rotate past this age of receive time; 0 = 1 h */
	int64_t block_age_us;	 /* evt_archive_tick writes a block this old;
				    0 = 1 s */
	int64_t sync_interval_us; /* EVT_FSYNC_INTERVAL: evt_archive_tick
				    fdatasyncs this often; 0 = 1 s */
	uint64_t resume_bytes;	/* after a crash, a newest segment up to this
				   size is resumed (scanned whole); a larger
				   one is sealed in the background and the
				   next append starts a new segment; 0 =
				   1 MiB (about 5 ms of scanning) */
};

struct evt_segref {
	uint64_t seq;
	char *path;
	uint64_t size;	/* bytes when listed; EVT_SIZE_UNKNOWN in a writer
			   and under EVT_AR_NO_SIZES (which stat segments
			   only when they need their sizes: a restart lists
			   thousands); evt_archive_segment_size asks */
};
#define EVT_SIZE_UNKNOWN UINT64_MAX

/* Warnings (stray files, recoveries): one message, no newline. */
typedef void (*evt_warn_cb)(void *arg, const char *msg);

/* Formats a warning (at most 511 bytes) and hands it to cb (none: the
 * warning is dropped); the archive, the id index and the roll-up warn
 * through it. */
void evt_warnf(evt_warn_cb cb, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

struct evt_archive;

/*
 * Opens the archive in dir.  A reader (neither EVT_AR_WRITE nor
 * EVT_AR_LOCK) takes the segment list from the archive's catalog when it
 * is current (catalog.h; EVTAPE_NO_CATALOG set and not empty: never), a
 * writer always lists the directory; a lock holder's close rewrites the
 * catalog.  Problems inside segments are reported through
 * errcb (file, offset, what), others through warn.  EVT_AR_WRITE and
 * EVT_AR_LOCK take the writer's lock (an flock on the directory and on
 * LOCK, held until evt_archive_close) and delete the temporary files of a
 * rewrite that a crash or a kill interrupted (".compact-*", ".repair-*").
 * Returns 0 and *out, or EVT_ERR_EXISTS (another writer holds the lock),
 * EVT_ERR_NOTFOUND (no such directory and no EVT_AR_CREATE), EVT_ERR_IO,
 * EVT_ERR_NOMEM.
 */
int evt_archive_open(const char *dir, int flags,
    const struct evt_archive_opts *opts, evt_seg_err_cb errcb,
    evt_warn_cb warn, void *arg, struct evt_archive **out);

/* Segments in order of their sequence numbers.  Borrowed.  (The first
 * call makes every path of a catalog's listing: a lookup by id that
 * does not call it makes only the paths of the segments it opens.) */
const struct evt_segref *evt_archive_segments(struct evt_archive *a,
    size_t *n);

/* The number of segments, making no path (a reader that opens a few of
 * 10,000 asks for their paths one by one: evt_archive_segment_path). */
size_t evt_archive_nsegments(const struct evt_archive *a);

/* The path of segment i (< evt_archive_nsegments),
 * borrowed until close: made for that one segment, where
 * evt_archive_segments makes every path. */
const char *evt_archive_segment_path(struct evt_archive *a, size_t i);

/* The sequence number of segment i (< evt_archive_nsegments). */
uint64_t evt_archive_segment_seq(struct evt_archive *a, size_t i);

/* The size in bytes of segment i, stat(2)ed on the first call (0 if it
 * cannot be). */
uint64_t evt_archive_segment_size(struct evt_archive *a, size_t i);

/*
 * Readers.  Every tool that reads an archive opens its segments here, so
 * that it either reads every event or reports (through the error
 * callback, with file and offset) what it could not read, and keeps a
 * tally of it (evt_archive_lost).
 *
 * evt_archive_open_segment opens segment i of evt_archive_segments with
 * the archive's error callback.  Reported as damage that loses an
 * unknown number of events: a segment that cannot be opened (not a
 * regular file, a dangling symlink, no permission, a damaged header:
 * returns its negative evt_err), missing sequence numbers before it, and
 * an unsealed segment that is not the newest while no writer holds the
 * lock (formats/archive.md, "Reading an archive").  Returns 0 and *out.
 *
 * evt_archive_close_segment closes such a reader and adds what its scans
 * could not read (evt_segr_lost) to the tally; NULL is fine.
 *
 * evt_archive_add_lost adds events the caller could not render.
 *
 * evt_archive_lost: the tally: *events known lost, *unknown damaged
 * places whose event count is unknown.
 */
int evt_archive_open_segment(struct evt_archive *a, size_t i,
    struct evt_segr **out);
void evt_archive_close_segment(struct evt_archive *a, struct evt_segr *r);
void evt_archive_add_lost(struct evt_archive *a, uint64_t events);
void evt_archive_lost(const struct evt_archive *a, uint64_t *events,
    uint64_t *unknown);

/*
 * Whether the archive's catalog (formats/catalog.md) proves that sealed
 * segment i holds no frame received in [from, to) (to INT64_MAX: no end),
 * so that a time seek passes it without opening it: 1 (and missing
 * sequence numbers before it are reported, as opening it would), else 0
 * (no usable catalog, unsealed, or it may hold some: open it).
 */
int evt_archive_segment_outside(struct evt_archive *a, size_t i,
    int64_t from, int64_t to);

/*
 * Finds an event by id, newest segment first: through the archive's id
 * index (idindex.h) for the segments a valid run covers, through each
 * segment's own id filter for the others; if none names it, once more
 * by scanning every such sealed segment whose filter fails its checksum
 * (reported).  Returns 1 with *out the open
 * reader (its decoder holds *rec; close with evt_archive_close_segment)
 * and *seg its index, 0 if absent, or a negative evt_err.
 */
int evt_archive_find(struct evt_archive *a, const char *id, size_t len,
    struct evt_segr **out, size_t *seg, struct evt_rec *rec,
    uint64_t *blk_off);

/*
 * The receive time of the event with id id[0..len), found as
 * evt_archive_find does (the --around anchor of evtool cut and report).
 * Returns 1 and *rx, 0 when no event has it (or no id can be that long),
 * or a negative evt_err.
 */
int evt_archive_find_rx(struct evt_archive *a, const char *id, size_t len,
    int64_t *rx);

/*
 * Whether a writer holds the lock of the archive in dir, asked without
 * touching the lock (a reader must not take it, not even shared:
 * formats/archive.md): from /proc/locks, for the LOCK file or the
 * directory itself.  0 when it cannot tell.
 */
int evt_archive_writer_running(const char *dir);

/* Appends a received frame, rotating first if the segment is full or old.
 * Returns the frame's header kind or a negative evt_err. */
int evt_archive_frame(struct evt_archive *a, int64_t rx_us, const char *buf,
    size_t len);

/* The same for a frame already tokenized in jp (borrowed for the call; see
 * evt_renc_frame_tok; NULL: evt_archive_frame). */
int evt_archive_frame_tok(struct evt_archive *a, int64_t rx_us,
    const char *buf, size_t len, const struct evt_jparser *jp);

/* The same for a MSG frame {"events":[...]} of flat events (record.h,
 * evt_renc_msg_flat). */
int evt_archive_msg_flat(struct evt_archive *a, int64_t rx_us,
    const struct evt_flat_msg *m);

/*
 * Appends blocks 0 .. n-1 of the sealed segment r (evt_segr_copy_run) as
 * they are, in a segment of their own: the open segment is sealed, a new
 * one begins with the copied blocks (segment_copy.c), and the writer takes
 * it up as it takes up a segment after a crash (its dictionary, the state
 * checkpoint and, at the seal, the index and summary come from the blocks
 * read back); what is appended next follows in a new dictionary unit.
 * *copied: how many blocks were (fewer when one did not check); frames[]
 * (EVT_K_MAX + 1) gets the frames and markers they hold added, *events
 * their events.  0 or a negative evt_err.
 */
int evt_archive_copy_blocks(struct evt_archive *a, struct evt_segr *r,
    uint32_t n, uint32_t *copied, uint64_t *frames, uint64_t *events);

/* Appends a SESSION, GAP or CONFIG marker. */
int evt_archive_marker(struct evt_archive *a, int kind, int64_t rx_us,
    const char *json, size_t len);

/*
 * What a recorder needs to resume its gateway session after a restart,
 * even after kill -9 (formats/records.md, "Markers"):
 *
 * evt_archive_last_id: the id of the last event of a MSG frame appended to
 * the archive, across rotations; after opening for writing, the last one
 * found in the data (the resumed segment's scan, or the newest sealed
 * segments' index).  NULL if none; *len set.  Borrowed, valid until the
 * next append.
 *
 * evt_archive_session: the JSON body of the last SESSION marker, found the
 * same way (searching at most the newest eight segments).  NULL if none.
 *
 * evt_archive_set_carry: a SESSION marker body (copied; NULL clears it) the
 * archive writes at the start of every new segment it starts and once more
 * before closing, so that the newest segment always names the session and
 * an open finds it in one block.  Returns 0 or EVT_ERR_NOMEM.
 */
const char *evt_archive_last_id(const struct evt_archive *a, size_t *len);
const char *evt_archive_session(const struct evt_archive *a, size_t *len);

/*
 * The id keys (evt_id_key) of the last events of MSG frames in the
 * archive, oldest first, so that a restarted recorder drops a gateway's
 * redelivery of events it already holds: at most max of them go to
 * keys[0..max), *n gets the count.  Reads only the newest blocks that hold
 * them (walking the block directories back, at most 16 segments).
 * Damage is reported through the archive's callback and passed over.
 * Returns 0, or EVT_ERR_NOMEM / EVT_ERR_IO (keys[0..*n) still valid).
 */
int evt_archive_recent_keys(struct evt_archive *a, uint64_t *keys,
    size_t max, size_t *n);
int evt_archive_set_carry(struct evt_archive *a, const char *json,
    size_t len);

/* Writes the open block. */
int evt_archive_flush(struct evt_archive *a);

/*
 * Periodic duty, called by a daemon about every 100 ms with the current
 * time: writes the open block once it is block_age_us old, and under
 * EVT_FSYNC_INTERVAL syncs every sync_interval_us.  It first looks for
 * another writer (LOCK deleted or replaced: made and locked again; the
 * open segment replaced, grown or cut by someone else).  Returns 0, the
 * error of the write/sync (the data stays buffered; call again), or
 * EVT_ERR_FOREIGN: another writer is at work; from then on nothing is
 * written to the open segment (appends, flushes and rotation return
 * EVT_ERR_FOREIGN, close neither seals nor writes it) and the caller
 * should stop.
 */
int evt_archive_tick(struct evt_archive *a, int64_t now_us);

/* Why the last appended frame was stored raw: see evt_segw_raw_reason. */
int evt_archive_raw_reason(const struct evt_archive *a, size_t *off);

/* fdatasyncs the open segment. */
int evt_archive_sync(struct evt_archive *a);

/*
 * Makes every record appended so far as durable as the writer's fsync
 * mode promises: waits for a segment being sealed (its seal writes its
 * last block and fsyncs it), writes the open block and, unless the mode
 * is EVT_FSYNC_NEVER, fdatasyncs it.  What a consumer that acknowledges
 * records to their sender (evrec --from-nats) calls before it does.
 * Returns 0 or the first error (the records may then not be durable).
 */
int evt_archive_durable(struct evt_archive *a);

/* Seals the open segment; the next append starts a new one.  Sealing
 * (building the id filter, writing the index, fsync) runs on a background
 * thread so the writer does not stall; a second rotation first waits for
 * the previous sealing and returns its error, if any. */
int evt_archive_rotate(struct evt_archive *a);

/* The open segment's writer, or NULL. */
struct evt_segw *evt_archive_writer(struct evt_archive *a);

/* Closes; a writer seals its open segment first (not after
 * EVT_ERR_FOREIGN, which close then returns).  Frees a. */
int evt_archive_close(struct evt_archive *a);

/* Rebuilds the archive's id index (after a repair): deletes runs that do
 * not check or cover rewritten segments, adds runs for every sealed
 * segment no run covers, merges.  Needs EVT_AR_WRITE or EVT_AR_LOCK.
 * Returns 0 or a negative evt_err. */
int evt_archive_reindex(struct evt_archive *a);

/*
 * Deletes the oldest sealed segments while the archive is larger than
 * max_bytes (0: no limit) or a segment's newest receive time is older than
 * now_us - max_age_us (0: no limit).  The newest segment is never deleted.
 * Returns the number of segments deleted or a negative evt_err.
 */
int evt_archive_prune(struct evt_archive *a, uint64_t max_bytes,
    int64_t max_age_us, int64_t now_us, uint64_t *freed);

/* Parses a segment file name ("seg-" 12 digits ".evt", not 0): 1 and
 * *seq if it is one. */
int evt_segment_parse_name(const char *name, uint64_t *seq);

/* Formats the file name of segment seq into out (cap >= 24). */
void evt_segment_name(uint64_t seq, char *out, size_t cap);

/*
 * The file names of the derived run files beside the segments (the id
 * index's "idx" ... ".evi", idindex.md; the roll-up's "sum" ... ".evs",
 * rollup.md): PREFIX (3 characters) "-" LO "-" HI EXT (4 characters),
 * LO and HI 12 decimal digits, 1 <= LO <= HI.  evt_run_name formats one
 * into out (cap >= EVT_RUN_NAME_LEN + 1); evt_run_parse_name returns 1
 * and *lo, *hi (either may be NULL) if name is one.
 */
#define EVT_RUN_NAME_LEN 33
void evt_run_name(const char *prefix, const char *ext, uint64_t lo,
    uint64_t hi, char *out, size_t cap);
int evt_run_parse_name(const char *name, const char *prefix,
    const char *ext, uint64_t *lo, uint64_t *hi);

/* "dir/name", malloc'ed (the caller frees it); NULL when out of memory. */
char *evt_path_join(const char *dir, const char *name);

/*
 * A new archive built in a temporary directory beside its final name and
 * published whole (evtool cut, evtool merge).  evt_out_check: whether OUT
 * may be written: 0 if absent or an empty directory (the rename replaces
 * it), EVT_ERR_EXISTS if anything else, EVT_ERR_IO (errno set) if it
 * cannot be looked at.  evt_out_publish: syncs the file system holding
 * tmp (syncfs), renames tmp to out and fsyncs out's parent directory;
 * 0, EVT_ERR_EXISTS (out became non-empty) or EVT_ERR_IO (errno set).
 * evt_out_remove: deletes tmp's files, then tmp (an archive has no
 * subdirectories).
 *
 * evt_out_hold: marks tmp as being built, once its archive is open: a
 * file .evtape-building holding the builder's pid, and, until the
 * returned descriptor is closed (after publish or remove; -1 if it
 * cannot), an OFD lock on the directory, held across the gap between
 * closing the archive (its own lock) and the rename.  evt_out_unmark:
 * removes the file, before the archive is closed (its catalog then lists
 * no stray).  evt_out_sweep: removes the temporary directories of
 * builders that were killed from OUT's parent directory, telling warn
 * about each; returns how many.  One is a directory named like cut's
 * (NAME.tmp-PID-XXXXXX) or merge's (.NAME.merge-PID.tmp) that holds a
 * LOCK file (an archive was opened in it) and the mark naming PID, whose
 * process PID no longer runs, and that neither evt_out_hold nor a
 * writer's lock holds (formats/archive.md, "Cut archives", Leftovers).
 */
int evt_out_check(const char *out);
int evt_out_publish(const char *tmp, const char *out);
void evt_out_remove(const char *tmp);
int evt_out_hold(const char *tmp);
void evt_out_unmark(const char *tmp);
int evt_out_sweep(const char *out, evt_warn_cb warn, void *arg);

#endif
