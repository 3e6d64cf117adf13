/*
 * state.h: the state table of a replay position: the latest stateful event
 * per (source, state group), what getState answers (docs/ess-protocol.md §4).
 *
 * Fed in archive order: a STATES frame (a recorded getState answer)
 * replaces the table; every stateful event of a MSG frame (one with a
 * string "stategroupid") replaces its (source, group) entry.  Entries are
 * listed in the order their key was first seen, so the list is stable and
 * can go to evt_ess_states_array() as it is.
 *
 * Sans-I/O; texts are copied.  Keys compare source and group as written,
 * ASCII case-folded (GUIDs).
 */
#ifndef EVTAPE_STATE_H
#define EVTAPE_STATE_H

#include <stddef.h>
#include <stdint.h>

struct evt_state;

/* Returns a new empty table, or NULL (out of memory). */
struct evt_state *evt_state_new(void);

/* Returns a copy of s (same entries, same order), or NULL (out of
 * memory). */
struct evt_state *evt_state_copy(const struct evt_state *s);

/* Frees s (NULL is fine). */
void evt_state_free(struct evt_state *s);

/* Empties the table. */
void evt_state_clear(struct evt_state *s);

/*
 * Applies one event object text (copied): if it is a JSON object with
 * string members "source" and "stategroupid" it becomes the entry of that
 * pair (the last of duplicate members).  Meant for JSON texts (archive,
 * gateway): they are walked, not validated.  Returns 1 if stored, 0 if not
 * stateful, EVT_ERR_JSON if the text is not an object that can be walked,
 * EVT_ERR_NOMEM.
 */
int evt_state_apply(struct evt_state *s, const char *ev, size_t len);

struct evt_ess_event_fields;

/* evt_state_apply of a text whose top-level fields f (ess.h) the caller
 * found already (the record writer has its tokens). */
int evt_state_apply_fields(struct evt_state *s, const char *ev, size_t len,
    const struct evt_ess_event_fields *f);

/*
 * evt_state_apply of the text of flat item p[0..len) (record.h,
 * evt_rdec_event_flat) without rendering it: the entry keeps the flat
 * item (copied) until evt_state_settle, which every reader of the texts
 * (evt_state_list, evt_state_copy) needs first.  A TEXT item, or any item
 * while tracking since, goes through its text.  Returns as
 * evt_state_apply.
 */
int evt_state_apply_flat(struct evt_state *s, const uint8_t *p,
    size_t len);

/* Renders the entries evt_state_apply_flat left flat into their texts
 * (what evt_state_apply of the texts would hold).  0 or EVT_ERR_NOMEM
 * (the table is then only good for evt_state_clear / evt_state_free). */
int evt_state_settle(struct evt_state *s);

/*
 * Applies a frame's items: a STATES frame (kind EVT_K_STATES) first
 * clears the table; other kinds (EVT_K_MSG) only update.  Items that are
 * not stateful or do not parse are skipped.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_state_apply_frame(struct evt_state *s, int kind,
    const char *const *ev, const size_t *lens, size_t n);

/*
 * evt_state_apply_frame with the frame's receive time rx, which the
 * table keeps as "since" when tracking (evt_state_track_since).
 */
int evt_state_apply_frame_at(struct evt_state *s, int kind, int64_t rx,
    const char *const *ev, const size_t *lens, size_t n);

/*
 * From now on the table keeps, per entry, when it entered its state (the
 * state viewer's "since"): the receive time of the MSG frame whose event
 * gave the entry a type other than the one it had (or created it); for
 * an entry a getState answer (STATES frame) created, the item's "time"
 * member (the gateway's time of the event that set it; the frame's
 * receive time when it has none that parses).  An event of the same type
 * as the entry's keeps its since.  Costs a parse of each stateful event's
 * old text.
 */
void evt_state_track_since(struct evt_state *s);

/* Whether s keeps since (evt_state_track_since). */
int evt_state_tracking(const struct evt_state *s);

/* When entry i entered its state (tracking), else INT64_MIN. */
int64_t evt_state_since(const struct evt_state *s, size_t i);

/*
 * The entries: *st and *lens point to arrays of n texts (borrowed, valid
 * until the next change).  Returns n.
 */
size_t evt_state_list(const struct evt_state *s, const char *const **st,
    const size_t **lens);

/* The source of entry i (< evt_state_list's n), ASCII lower-cased,
 * NUL-terminated; borrowed until the next change. */
const char *evt_state_source(const struct evt_state *s, size_t i);

#endif
