/*
 * gw_history.h: the per-session event history of the gateway server, which
 * is also the session's output queue and its resume cursor (sans-I/O).
 *
 * Data flow (see gateway.h):
 *
 *   evt_gw_publish(events)
 *     -> evt_gwh_event_new() once per event (a shared, reference-counted
 *        copy with its id, source and type picked out)
 *     -> for every session whose subscriptions deliver it:
 *        evt_gwh_push(session history, event, time, first-of-message)
 *     -> evt_gwh_next() builds the next {"events":[...]} message from the
 *        cursor when the session's connection has room; the cursor then
 *        moves past those events
 *   startSession{sessionId, eventId} -> evt_gwh_seek(eventId): the cursor
 *        goes back to just after that event, so everything after it is sent
 *        again, in order, each once.
 *
 * Entries before the cursor have been handed to a connection ("sent");
 * entries from the cursor on have not ("unsent").  Bounds: evt_gwh_push
 * evicts the oldest entries while the history holds more than max_bytes
 * (an unsent entry evicted is "lost": the session's client can no longer
 * get it, and a resume from any earlier event fails because that event is
 * gone too); evt_gwh_trim drops sent entries older than a cutoff (the
 * resume window).  Message grouping: an entry pushed with msg_start set
 * begins a new message; evt_gwh_next never merges across such a boundary,
 * so a live client sees the grouping in which the events were published
 * (after filtering), and a resume that starts mid-message sends the tail
 * of that message first.
 *
 * Nothing here reads a clock: times are the caller's (microseconds).
 */
#ifndef EVTAPE_GW_HISTORY_H
#define EVTAPE_GW_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/ess.h"

/* Bytes counted per entry on top of the event text (bookkeeping). */
#define EVT_GWH_ENTRY_OVERHEAD 32

/* The bound evt_gwh_new(0) selects. */
#define EVT_GWH_DEFAULT_MAX ((size_t)64 << 20)

/* One published event, shared by the histories that hold it. */
struct evt_gwh_event;

/*
 * Copies the event object text json[0..len) (borrowed for the call) into a
 * new event with one reference (the caller's).  Its id, source and type
 * are extracted (evt_ess_event_fields) and decoded; an event without a
 * string source and type is kept but never delivered, one without a string
 * id can never be a resume point.  Returns NULL on out of memory or when
 * len > UINT32_MAX.
 */
struct evt_gwh_event *evt_gwh_event_new(const char *json, size_t len);

/*
 * Creates a raw frame entry: text[0..len) (borrowed for the call, copied)
 * is a whole frame that is not an events message (a replayed RAW record),
 * sent alone and verbatim by evt_gwh_next.  It has no id (never a resume
 * point) and no filter delivers it (the caller pushes it to every session
 * that takes events).  Returns NULL on out of memory.
 */
struct evt_gwh_event *evt_gwh_raw_new(const char *text, size_t len);

/* Returns 1 if ev was made by evt_gwh_raw_new, else 0. */
int evt_gwh_event_is_raw(const struct evt_gwh_event *ev);

/* Adds a reference. */
void evt_gwh_event_ref(struct evt_gwh_event *ev);

/* Drops a reference; the last one frees the event (NULL is fine). */
void evt_gwh_event_unref(struct evt_gwh_event *ev);

/* Returns the event text (borrowed, valid while a reference is held) and
 * sets *len. */
const char *evt_gwh_event_text(const struct evt_gwh_event *ev, size_t *len);

/* Returns the decoded id (borrowed, NUL-terminated, "" if none). */
const char *evt_gwh_event_id(const struct evt_gwh_event *ev, size_t *len);

/* Returns 1 if the subscription set (borrowed; NULL delivers nothing)
 * delivers the event, else 0. */
int evt_gwh_event_delivers(const struct evt_gwh_event *ev,
    const struct evt_ess_subs *subs);

/* One session's history. */
struct evt_gwh;

/* Creates an empty history bounded to max_bytes (0 means 64 MiB); returns
 * it (owned by the caller) or NULL on out of memory. */
struct evt_gwh *evt_gwh_new(size_t max_bytes);

/* Drops every entry's reference and frees the history (NULL is fine). */
void evt_gwh_free(struct evt_gwh *h);

/*
 * Appends ev (a new reference is taken; the caller keeps its own) as
 * unsent, with time t_us; msg_start says it begins a new message.  Then
 * evicts the oldest entries while the history holds more than max_bytes
 * (never the entry just added).  Returns 0 or EVT_ERR_NOMEM (nothing
 * changed).
 */
int evt_gwh_push(struct evt_gwh *h, struct evt_gwh_event *ev, int64_t t_us,
    int msg_start);

/* Drops sent entries (before the cursor) with time < cutoff_us, oldest
 * first, stopping at the first that is newer; returns how many. */
size_t evt_gwh_trim(struct evt_gwh *h, int64_t cutoff_us);

/*
 * Moves the cursor for a resume: id[0..idlen) (borrowed) empty puts it at
 * the oldest entry (the whole history is sent again); otherwise just after
 * the newest entry with that id (exact byte comparison of decoded ids).
 * Returns 0, or EVT_ERR_NOTFOUND (cursor unchanged) if no entry has it.
 */
int evt_gwh_seek(struct evt_gwh *h, const char *id, size_t idlen);

/*
 * Appends the next message {"events":[...]} to out: the unsent entries
 * from the cursor up to (not including) the next entry that starts a
 * message or is a raw frame, at most max_events of them (0: no limit),
 * and moves the cursor past them; a raw frame at the cursor is appended
 * alone, as it is, and counts 1.  Returns the number of events (0: nothing
 * unsent, nothing appended) or EVT_ERR_NOMEM (out and cursor unchanged).
 */
int evt_gwh_next(struct evt_gwh *h, struct evt_buf *out, size_t max_events);

/* Returns the number of entries, sent and unsent. */
size_t evt_gwh_count(const struct evt_gwh *h);

/* Returns the number of unsent entries. */
size_t evt_gwh_unsent(const struct evt_gwh *h);

/* Returns the bytes held by the unsent entries (text + overhead). */
size_t evt_gwh_unsent_bytes(const struct evt_gwh *h);

/* Returns the bytes held by all entries (text + overhead). */
size_t evt_gwh_bytes(const struct evt_gwh *h);

/* Returns how many unsent entries were evicted since the last call and
 * resets the count. */
uint64_t evt_gwh_take_lost(struct evt_gwh *h);

#endif
