/*
 * ckpt.h: state checkpoints (formats/segment.md, "State checkpoint"): the
 * state table (state.h) in force at a sealed segment's end, stored in its
 * index so that "the state as of T" starts there instead of scanning back
 * to the last getState answer.
 *
 * One builder for every producer: the segment writer feeds it each frame
 * it appends (evt_ckb_frame_tok: item texts put in the form a reader
 * rebuilds, so that the table equals a reading's), verify the frames it
 * reads (evt_ckb_frame); both pack it with evt_ckb_pack.  Readers decode
 * with evt_ckpt_decode (the file is hostile) and load the table with
 * evt_ckpt_state.  Derived data: a reader may always ignore it and scan.
 */
#ifndef EVTAPE_CKPT_H
#define EVTAPE_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/json.h"

struct evt_state;

/* Bounds of a complete checkpoint: past them a writer writes
 * {"incomplete": true} (readers scan instead). */
#define EVT_CKPT_MAX_ENTRIES 65536
#define EVT_CKPT_MAX_BYTES (16u << 20)

/* EVTAPE_NO_CHECKPOINT=1 in the environment: write none, use none (the
 * baseline of tests and benchmarks).  Returns 1 if set. */
int evt_ckpt_disabled(void);

/* A decoded checkpoint; texts borrowed from the decoded bytes. */
struct evt_ckpt {
	int complete;	    /* 0: {"incomplete": true}, nothing else */
	uint64_t base_seq;  /* segment of the table's base */
	int base_states;    /* the base is a STATES frame in base_seq (else
			       the start of segment base_seq, the first) */
	int has_rx;	    /* rx_max present: the table derives from frames */
	int64_t rx_max;	    /* largest receive time of those frames */
	size_t n;	    /* entries, in table order */
	const char **ev;
	size_t *len;
};

/* Frees a decoded checkpoint's arrays. */
void evt_ckpt_free(struct evt_ckpt *c);

/*
 * Decodes a checkpoint (the MessagePack value of the index's "checkpoint"
 * key) of the segment whose sequence number is seq, checking it
 * (formats/segment.md, "State checkpoint").  The texts point into p.
 * Returns 0, EVT_ERR_NOMEM, or EVT_ERR_CORRUPT with *why a static text.
 */
int evt_ckpt_decode(const uint8_t *p, size_t len, uint64_t seq,
    struct evt_ckpt *c, const char **why);

/* Whether two checkpoints say the same: completeness, base, rx_max and
 * the same texts in the same order. */
int evt_ckpt_equal(const struct evt_ckpt *a, const struct evt_ckpt *b);

/* Fills s (emptied first) with c's table.  0 or EVT_ERR_NOMEM. */
int evt_ckpt_state(const struct evt_ckpt *c, struct evt_state *s);

/* The builder. */
struct evt_ckb;

/* A new builder, its table not known (evt_ckb_start or evt_ckb_seed make
 * it known; a STATES frame does too).  NULL: out of memory. */
struct evt_ckb *evt_ckb_new(void);

/* A copy of b (its table at this point), or NULL.  Like evt_ckb_pack and
 * evt_ckb_view it first turns b's flat entries into texts
 * (evt_state_settle): the same table, but b changes. */
struct evt_ckb *evt_ckb_copy(struct evt_ckb *b);

/* Frees b (NULL is fine). */
void evt_ckb_free(struct evt_ckb *b);

/* The table is empty and known: segment seq is the archive's first. */
void evt_ckb_start(struct evt_ckb *b, uint64_t seq);

/* The table is not known from here until the next STATES frame. */
void evt_ckb_unknown(struct evt_ckb *b);

/* Whether the table is known. */
int evt_ckb_known(const struct evt_ckb *b);

/* Takes c (complete) as the table: the state at the end of the segment
 * it was stored in.  0 or EVT_ERR_NOMEM. */
int evt_ckb_seed(struct evt_ckb *b, const struct evt_ckpt *c);

/*
 * Applies a frame of kind (only EVT_K_MSG and EVT_K_STATES matter)
 * received at rx in segment seq, its items being the texts a reader
 * rebuilds.  0 or EVT_ERR_NOMEM.
 */
int evt_ckb_frame(struct evt_ckb *b, uint64_t seq, int kind, int64_t rx,
    const char *const *ev, const size_t *lens, size_t n);

struct evt_flat_msg;

/*
 * evt_ckb_frame of a MSG frame being written from flat items (record.h,
 * struct evt_flat_msg: those picked), without rendering their texts
 * (evt_state_apply_flat; the table settles when viewed or copied).
 * 0 or EVT_ERR_NOMEM.
 */
int evt_ckb_frame_flat(struct evt_ckb *b, uint64_t seq, int64_t rx,
    const struct evt_flat_msg *m);

/*
 * The same for a frame being written: buf[0..len) tokenized into tok, its
 * items the elements of the array token arr.  Each stateful item goes to
 * the table as a reader rebuilds it (compact, escapes rewritten:
 * records.md, "Rebuilding JSON").  0 or EVT_ERR_NOMEM.
 */
int evt_ckb_frame_tok(struct evt_ckb *b, uint64_t seq, int kind, int64_t rx,
    const char *buf, size_t len, const struct evt_jtok *tok, uint32_t arr);

/* Appends the checkpoint of the table as it is to out (MessagePack; an
 * incomplete one when not known or past the bounds).  0 or
 * EVT_ERR_NOMEM. */
int evt_ckb_pack(struct evt_ckb *b, struct evt_buf *out);

/* Points c at b's table (borrowed until b changes), as evt_ckpt_decode
 * of evt_ckb_pack's bytes would give.  0 or EVT_ERR_NOMEM. */
int evt_ckb_view(struct evt_ckb *b, struct evt_ckpt *c);

/* Exchanges the tables (and everything else) of a and b. */
void evt_ckb_swap(struct evt_ckb *a, struct evt_ckb *b);

struct evt_segr;

/* Decodes the checkpoint of r, a segment whose sequence number is seq:
 * 0, EVT_ERR_NOTFOUND (not sealed, no usable index, no checkpoint),
 * EVT_ERR_NOMEM, or EVT_ERR_CORRUPT with *why. */
int evt_ckpt_of(struct evt_segr *r, uint64_t seq, struct evt_ckpt *c,
    const char **why);

/* Makes b's table the one stored in the sealed segment at path (its
 * sequence number seq), or not known if it has no complete one that
 * decodes.  0 or EVT_ERR_NOMEM. */
int evt_ckb_seed_segment(struct evt_ckb *b, const char *path, uint64_t seq);

/* Applies every frame of the segment at path (sequence seq) that reads,
 * as a reader rebuilds it (damaged blocks skipped, as a reader skips
 * them).  0 or EVT_ERR_NOMEM. */
int evt_ckb_segment(struct evt_ckb *b, const char *path, uint64_t seq);

struct evt_archive;

/*
 * Whether the base of c (complete), stored in segment i of archive a, is
 * still in a: the segment of its STATES frame, else a's first segment is
 * the one it started from.  A reading of a without that segment (removed
 * by retention, say) derives another table: c is not for it.
 */
int evt_ckpt_based(const struct evt_ckpt *c, struct evt_archive *a,
    size_t i);

#endif
