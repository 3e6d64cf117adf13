/*
 * verify.h: the archive verifier that `evtool verify` and `evtool repair`
 * share: every block of a segment read from its header on, every record
 * rendered, a sealed segment's index checked against its blocks (block
 * directory, trailer counts, id filter), and the ids of the events that
 * could not be read listed from the blocks' GUID columns (a damaged block's
 * column usually survives the damage).  It also words what the reading
 * layer could not read, the one loss summary of every reading program.
 *
 * Reads files (the archive's segments); reports, never prints.
 */
#ifndef EVTAPE_VERIFY_H
#define EVTAPE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/archive.h"
#include "evtape/segment.h"

/*
 * Called for each event a verification could not read: the segment's
 * path, the offset of its block, its id (NUL-terminated, borrowed for the
 * call) or NULL where the index's check list shows the id itself damaged,
 * and its entry in the block's GUID column.
 */
typedef void (*evt_verify_lost_cb)(void *arg, const char *path,
    uint64_t blk_off, const char *id, uint32_t entry);

/* What the program is told: problems with file and offset (err), warnings
 * of the archive (warn), lost events (lost); arg goes to each. */
struct evt_verify_cbs {
	evt_seg_err_cb err;
	evt_warn_cb warn;
	evt_verify_lost_cb lost;
	void *arg;
};

struct evt_verify;

/*
 * Opens the archive in dir for verification (flags as evt_archive_open:
 * 0, or EVT_AR_LOCK for a repair), with cbs (copied).  Returns 0 and *out,
 * or evt_archive_open's error.
 */
int evt_verify_open(const char *dir, int flags,
    const struct evt_verify_cbs *cbs, struct evt_verify **out);

/* The archive being verified (borrowed until evt_verify_close). */
struct evt_archive *evt_verify_archive(struct evt_verify *v);

/* What the verification of one segment found. */
struct evt_verify_seg {
	uint64_t problems;	/* places reported through err */
	int rewrite;		/* a repair rewrites it: damaged, unsealed,
				   or its header does not check */
};

/*
 * Verifies segment i of evt_archive_segments: reports every problem
 * through err, lists every event it could not read through lost, and adds
 * what it could not read to the archive's tally (evt_archive_lost).
 * Returns 0 and *out, or EVT_ERR_NOMEM (the verification is unusable).
 */
int evt_verify_segment(struct evt_verify *v, size_t i,
    struct evt_verify_seg *out);

/*
 * Packs into out (emptied first) the state checkpoint (ckpt.h) of the
 * last segment verified, rebuilt from the frames that read in the
 * segments verified in order up to it: what a repair writes.  Empty
 * before any.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_verify_checkpoint(const struct evt_verify *v, struct evt_buf *out);

/* The figures of all segments verified so far. */
struct evt_verify_sum {
	uint64_t problems;	/* places reported */
	uint64_t bad;		/* segments with a problem */
	uint64_t listed;	/* events listed through lost */
	uint64_t lost, unknown;	/* the archive's tally (evt_archive_lost) */
};

void evt_verify_summary(const struct evt_verify *v,
    struct evt_verify_sum *s);

/*
 * The archive's identity for rebuilding a damaged segment header: the
 * uuid of the newest segment whose header checks.  Returns 1 and uuid, or
 * 0 if no header checks.
 */
int evt_verify_uuid(struct evt_verify *v, uint8_t uuid[16]);

/* Closes the archive and frees v; NULL is fine. */
void evt_verify_close(struct evt_verify *v);

/*
 * Words a loss into out (cap bytes, NUL-terminated): "N events could not
 * be VERB", or, when unknown damaged places lost an uncounted number more,
 * "at least N events could not be VERB, and an unknown number more in K
 * damaged places".  verb is "read" for readers, "recovered" for repair.
 * Returns 0, or 1 when nothing was lost (out then is "").
 */
int evt_verify_lost_text(char *out, size_t cap, uint64_t events,
    uint64_t unknown, const char *verb);

#endif
