/*
 * cursor.h: an archive cursor for replay: the received frames of an
 * archive in order, across all segments, from a receive time or from an
 * event id (the message holding it, starting at that event), up to an end
 * time.  Each frame comes with its kind, receive time, whole text and its
 * event (item) texts one by one, which is what a gateway publishes.
 *
 * Built on the frame reader (frame_reader.c): damaged blocks are skipped
 * and reported through the segment callback, like `evtool cat`.  Markers
 * (SESSION, GAP, CONFIG) are not received frames and are passed over
 * (unless evt_cur_markers).
 */
#ifndef EVTAPE_CURSOR_H
#define EVTAPE_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/archive.h"
#include "evtape/segment.h"

/* One frame; every pointer is borrowed until the next evt_cur call. */
struct evt_cur_msg {
	int kind;	 /* EVT_K_MSG, EVT_K_STATES, EVT_K_JSON, EVT_K_RAW
			    (evt_cur_markers: also SESSION, GAP, CONFIG) */
	int64_t rx_us;	 /* receive time */
	const char *text; /* the frame's JSON text (RAW: the bytes) */
	size_t len;
	size_t n;	 /* items (events of a MSG, states of a STATES) */
	const char *const *ev; /* item texts (not NUL-terminated) */
	const size_t *evlen;
	int incomplete;	 /* a MSG or STATES frame that lost items to damage
			    (not those passed over by evt_cur_seek_id) */
	uint64_t seg;	 /* the sequence number of its segment */
	const uint8_t *uuid; /* its segment header's archive uuid (16 bytes) */
	uint64_t ord;	 /* its ordinal among its segment's frames, markers
			    counted, from 0 (evt_cur_ordinals; else 0) */
	uint32_t first;	 /* the frame's item index of ev[0] (items before
			    it passed over by evt_cur_seek_id) */
	uint32_t nitems; /* items the frame announced */
};

struct evt_cur;

/*
 * Opens the archive in dir for reading (no lock: a recorder may be
 * writing).  Problems inside segments go to cb, others to warn.  Returns
 * 0 and *out positioned at the start, or a negative evt_err
 * (EVT_ERR_NOTFOUND: no such directory).
 */
int evt_cur_open(const char *dir, evt_seg_err_cb cb, evt_warn_cb warn,
    void *arg, struct evt_cur **out);

/* Closes (NULL is fine). */
void evt_cur_close(struct evt_cur *c);

/* What the cursor could not read so far (each place reported through
 * cb): *events known lost, *unknown damaged places of unknown count
 * (evt_archive_lost). */
void evt_cur_lost(const struct evt_cur *c, uint64_t *events,
    uint64_t *unknown);

/*
 * Counts every frame's ordinal in its segment (evt_cur_msg.ord, the frame
 * references of formats/nats.md): segments are then read from their first
 * block, not from the block of the start time.  Call before reading.
 */
void evt_cur_ordinals(struct evt_cur *c);

/*
 * Hands out the recorder's markers too (SESSION, GAP, CONFIG: kind the
 * marker's, text its JSON body, no items), in their place among the
 * frames.  Call before reading.
 */
void evt_cur_markers(struct evt_cur *c);

struct evt_sel;
struct evt_siter;

/*
 * Hands out only the frames (and markers) of the sites s selects
 * (s->sites, borrowed; none: every site), the site of a frame being that
 * of the last SESSION marker before it (formats/records.md, "Central
 * archives"): segments are then read from their first record, and
 * evt_cur_state_at uses no state checkpoint (they are of every site).
 * Call before reading.
 */
void evt_cur_sites(struct evt_cur *c, const struct evt_sel *s);

/* The sites the SESSION markers read so far named (select.h), and
 * which of them evt_cur_sites selects; kept with or without it. */
const struct evt_siter *evt_cur_siter(const struct evt_cur *c);

/* Frames at or after to_us end the iteration (INT64_MAX: none). */
void evt_cur_set_end(struct evt_cur *c, int64_t to_us);

/* Positions at the first frame received at or after from_us (INT64_MIN:
 * the start).  Returns 0. */
int evt_cur_seek(struct evt_cur *c, int64_t from_us);

/*
 * Positions at the event with this id: the next frame is the MSG frame
 * holding it, from that event on.  Returns 1 and its receive time in
 * *rx_us, 0 if no segment has the id, or a negative evt_err.
 */
int evt_cur_seek_id(struct evt_cur *c, const char *id, size_t len,
    int64_t *rx_us);

/* Returns 1 and the next frame in *m, 0 at the end, or a negative
 * evt_err that stops the iteration (EVT_ERR_NOMEM, EVT_ERR_IO). */
int evt_cur_next(struct evt_cur *c, struct evt_cur_msg *m);

/*
 * Follow mode (evplay --follow): the segments come from a follower of the
 * archive in dir (follow.h), opened at the first evt_cur_next after the
 * last seek, from the seek's time, so that the frames go on across
 * rotation, sealing, compaction and retention as a recorder writes them.
 * evt_cur_next then returns 0 when it has read all there is for now: wait
 * for evt_cur_follower's change (evt_follow_fd, evt_follow_wait) and call
 * it again.  Seeks reopen the follower.  Returns 0 or EVT_ERR_NOMEM; the
 * follower's errors come from evt_cur_next (evt_follow_open's).
 */
int evt_cur_follow(struct evt_cur *c, const char *dir);

/* The follower of a following cursor (borrowed), or NULL before its first
 * evt_cur_next. */
struct evt_follow;
struct evt_follow *evt_cur_follower(const struct evt_cur *c);

struct evt_state;

/*
 * Fills s (emptied first) with the state table as of end_us: the frames
 * received before it, from the last recorded getState answer on (state.h).
 * Goes back segment by segment, passing over sealed segments whose index
 * says they hold no getState answer, and starts in the segment holding
 * the last one at that answer's block (its summary says where), so the
 * cost follows the distance to the last snapshot, not the archive's
 * length nor the segment's.  Leaves the cursor at its
 * end: evt_cur_seek and evt_cur_set_end before reading on.  Returns 0 or
 * a negative evt_err (EVT_ERR_NOMEM, EVT_ERR_IO).
 */
int evt_cur_state_at(struct evt_cur *c, int64_t end_us, struct evt_state *s);

#endif
