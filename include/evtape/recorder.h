/*
 * recorder.h: the sans-I/O decisions of the recorder daemon evrec.
 *
 * evrec (src/evrec.c) is glue: sockets, timers, signals.  What it decides
 * lives here so it can be unit-tested without a network:
 *
 *   inbound {"events":[...]} frame (tokens from evt_ess_classify)
 *       -> evt_recorder_dedupe(): drop events whose id was seen recently
 *          (a resumed session may redeliver), rebuilding the message text
 *          from the remaining element texts only when something was dropped
 *   startSession response
 *       -> evt_recorder_start_outcome(): resumed, new, or refused (a GAP)
 *   marker bodies (SESSION, GAP, CONFIG; formats/records.md)
 *       -> evt_recorder_session_json(), evt_recorder_gap_json(),
 *          evt_recorder_config_reduce()
 *   the archive's last SESSION body after a restart
 *       -> evt_recorder_session_parse(), evt_recorder_session_after(),
 *          evt_recorder_resume_id(): which session to resume, after which
 *          event
 *   reconnect pacing
 *       -> evt_recorder_backoff_ms(), evt_recorder_stable(),
 *          evt_recorder_token_due()
 *
 * No clock, no randomness of its own (the caller passes both in), no
 * allocation per event.  Errors are negative enum evt_err values.
 */
#ifndef EVTAPE_RECORDER_H
#define EVTAPE_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/ess.h"
#include "evtape/json.h"

/* ------------------------------------------------------------- dedupe */

/*
 * A bounded set of recently seen event ids, kept as 64-bit keys
 * (evt_id_key: a GUID in any case by its 16 bytes, else its text).  When
 * full, the oldest id is forgotten first (FIFO).  Memory: about 24 bytes
 * per id of capacity, allocated once.
 */
struct evt_recorder_seen {
	uint64_t *slots;  /* open addressing, linear probing; 0 = empty */
	uint32_t mask;	  /* slots - 1 (a power of two >= 2 * cap) */
	uint64_t *ring;	  /* keys in insertion order, for eviction */
	uint32_t cap, n, head;
};

/* Default capacity: well above what a 30 s resume window redelivers at a
 * real site's 200 events/s. */
#define EVT_RECORDER_SEEN_DEFAULT 65536

/* Initialises an empty set for up to cap ids (0: the default).  Returns 0
 * or EVT_ERR_NOMEM (the set is then empty and safe to free). */
int evt_recorder_seen_init(struct evt_recorder_seen *s, uint32_t cap);

/* Frees the set's memory; it may be initialised again. */
void evt_recorder_seen_free(struct evt_recorder_seen *s);

/* Adds id[0..len) (borrowed for the call).  Returns 1 if it was new, 0 if
 * it is already in the set (a duplicate). */
int evt_recorder_seen_add(struct evt_recorder_seen *s, const char *id,
    size_t len);

/* Adds an id by its key (evt_id_key, as evt_archive_recent_keys gives
 * them): what a restarted recorder loads from its archive.  Returns 1 if
 * it was new, 0 if a duplicate. */
int evt_recorder_seen_add_key(struct evt_recorder_seen *s, uint64_t key);

/* Tells whether id[0..len) is in the set (1) or not (0). */
int evt_recorder_seen_has(const struct evt_recorder_seen *s, const char *id,
    size_t len);

/* What evt_recorder_dedupe did to a message. */
enum evt_recorder_dedupe_result {
	EVT_RECORDER_KEEP = 0,	  /* no duplicate: store the frame as it is */
	EVT_RECORDER_REBUILT = 1, /* some dropped: store out's new bytes */
	EVT_RECORDER_DROP = 2,	  /* every event was a duplicate: store
				     nothing */
};

/*
 * Checks every element of the "events" array of frame[0..len), whose
 * tokens p holds (from evt_ess_classify returning EVT_ESS_EVENTS; both
 * borrowed for the call), against the set, and adds the new ids.  Elements
 * that are not objects or carry no string "id" are always kept.  When some
 * but not all events are duplicates, appends to out the message with the
 * duplicate elements cut out: every other byte (the other top-level members,
 * the kept element texts) verbatim, kept elements joined by ','.  No limit
 * on the number of events (one pass, no side table).  *ndup (may be NULL) receives
 * the number of events dropped.  Returns an enum evt_recorder_dedupe_result
 * or EVT_ERR_NOMEM (out unchanged; the ids were still added) or
 * EVT_ERR_ARG (the tokens do not describe an events message).
 */
int evt_recorder_dedupe(struct evt_recorder_seen *s,
    const struct evt_jparser *p, const char *frame, size_t len,
    struct evt_buf *out, size_t *ndup);

/* ------------------------------------------------------------ sessions */

/* How a startSession response ends the handshake. */
enum evt_recorder_outcome {
	EVT_RECORDER_FAILED = 0,  /* not 2xx or no session id: reconnect */
	EVT_RECORDER_NEW,	  /* a new session, none was asked for */
	EVT_RECORDER_RESUMED,	  /* the asked session goes on */
	EVT_RECORDER_REFUSED,	  /* resume asked, a new session given: GAP */
};

/*
 * Decides from what was asked (asked_sid, NUL-terminated, "" for a new
 * session) and what came back (status, got_sid NUL-terminated) as the
 * official samples do (docs/ess-protocol.md 2.3): 200 with the same (or an
 * empty) id resumes; any other 2xx with a non-empty id is a new session,
 * REFUSED if a resume was asked.  Returns an enum evt_recorder_outcome.
 */
int evt_recorder_start_outcome(const char *asked_sid, int status,
    const char *got_sid);

/*
 * Appends a SESSION marker body to out:
 *   {"event":EVENT,"sessionId":SID,"gateway":GW[,"lastEventId":LAST]
 *    [,"startedAfter":AFTER][,"recorder":REC]}
 * with each optional key only when its argument is not NULL.  AFTER is the
 * id of the last event the archive held when the session began ("" when
 * none): it tells a restart whether the session's own events started.
 * All strings borrowed, NUL-terminated, valid UTF-8.  Returns 0 or
 * EVT_ERR_NOMEM (out unchanged).
 */
int evt_recorder_session_json(struct evt_buf *out, const char *event,
    const char *sid, const char *gateway, const char *last, const char *after,
    const char *rec);

/*
 * Appends a GAP marker body to out:
 *   {"reason":R,"previousSessionId":S0,"lastEventId":E,"sessionId":S1}
 * (lastEventId omitted when last is NULL or empty).  Returns 0 or
 * EVT_ERR_NOMEM (out unchanged).
 */
int evt_recorder_gap_json(struct evt_buf *out, const char *reason,
    const char *prev_sid, const char *last, const char *sid);

/*
 * Reads "sessionId" of a SESSION marker body json[0..len) (borrowed) into
 * sid (EVT_ESS_ID_MAX + 1 bytes, NUL-terminated).  Returns 0, or
 * EVT_ERR_NOTFOUND if the body is not an object with a non-empty string
 * sessionId of at most EVT_ESS_ID_MAX bytes, or EVT_ERR_NOMEM.
 */
int evt_recorder_session_parse(const char *json, size_t len,
    char sid[EVT_ESS_ID_MAX + 1]);

/*
 * Reads "startedAfter" of a SESSION marker body (may be empty) into after
 * (EVT_ESS_ID_MAX + 1 bytes).  Returns 0, EVT_ERR_NOTFOUND (absent: an
 * archive of an older evrec) or EVT_ERR_NOMEM.
 */
int evt_recorder_session_after(const char *json, size_t len,
    char after[EVT_ESS_ID_MAX + 1]);

/*
 * The event id to resume a session after, from the archive's last event id
 * archive_last and the session's startedAfter (NULL when unknown): when
 * they are equal, no event of the session was written yet and the answer
 * is "" (the gateway then sends the session's whole history); otherwise
 * archive_last.  Both borrowed; returns one of them or "".
 */
const char *evt_recorder_resume_id(const char *archive_last,
    const char *after);

/* ------------------------------------------------------------- config */

/* One Config REST answer to reduce: the resource path it was fetched from
 * ("eventTypes", "stateGroups", "cameras", ...) and its body (borrowed),
 * or body NULL if it could not be fetched (404 or an error). */
struct evt_recorder_rest {
	const char *resource;
	const char *body;
	size_t len;
};

/*
 * Reduces Config REST answers to a CONFIG marker body, appended to out:
 *   {"eventTypes":[{"id","name"[,"displayName"][,"stateGroupId"][,"state"]}...],
 *    "stateGroups":[{"id","name"[,"displayName"]}...],
 *    "sources":[{"id":"<resource>/<id>","name"[,"displayName"]}...]}
 * A body may be a JSON array of objects or an object whose "array" (the
 * Milestone REST form), "data" or "items" member is one; an item's name is
 * "name", else "displayName"; "displayName" is kept only where it differs
 * from the name; items without a string id are skipped, and
 * so are bodies that are not JSON (counted in *bad, may be NULL).
 * Resources other than eventTypes and stateGroups become sources.  Returns
 * the number of items written or EVT_ERR_NOMEM (out unchanged).
 */
int evt_recorder_config_reduce(struct evt_buf *out,
    const struct evt_recorder_rest *rest, size_t n, size_t *bad);

/*
 * The configuration being collected for one CONFIG marker body
 * (formats/records.md, "Marker bodies written by evrec"): Config REST
 * answers are reduced as they arrive, so a snapshot of many resource types
 * holds their reduced items (id, name, displayName, state, stateGroupId),
 * not every raw answer at once.  Zeroed memory is an empty collection.
 */
struct evt_recorder_cfg {
	struct evt_buf list[3];	/* items of eventTypes, stateGroups,
				   sources, comma-joined */
	size_t items, bad;	/* items reduced, answers not usable */
	struct evt_jparser jp;
	int jp_init;
};

/*
 * Reduces one Config REST answer body[0..len) (borrowed) of resource
 * ("eventTypes", "stateGroups", or a source resource type such as
 * "cameras": its items become sources "<resource>/<id>") into c: a list
 * (a JSON array, or an object whose "array", "data" or "items" member is
 * one) or one item (an object whose "data" member is an object: the
 * answer to GET <resource>/<id>).  Returns the number of items taken, -1
 * for a body that is neither (counted in c->bad), or EVT_ERR_NOMEM (c
 * unchanged).
 */
int evt_recorder_cfg_add(struct evt_recorder_cfg *c, const char *resource,
    const char *body, size_t len);

/*
 * Appends the CONFIG body of what c holds to out: for a snapshot
 * (delta 0) {"eventTypes":[...],"stateGroups":[...],"sources":[...]}, for
 * a delta {"kind":"delta","eventTypes":[...],...}.  Returns 0 or
 * EVT_ERR_NOMEM (out unchanged).
 */
int evt_recorder_cfg_body(const struct evt_recorder_cfg *c, int delta,
    struct evt_buf *out);

/* Empties c (keeping nothing); it may be used again. */
void evt_recorder_cfg_free(struct evt_recorder_cfg *c);

/* ------------------------------------------------------------- names */

/*
 * Which ids have names, and which to look up: the recorder asks the
 * Config REST API (GET /api/rest/v1/<path>) about every source, event
 * type and state group an event names that its configuration snapshot
 * did not list.  Paths are an event's "source" as it is
 * ("cameras/<guid>"), "eventTypes/<type>" and "stateGroups/<stategroupid>".
 *
 *   CONFIG snapshot body -> evt_recorder_names_learn (the known ids)
 *   each events message  -> evt_recorder_names_scan -> queue of paths
 *   a timer              -> evt_recorder_names_take (paced) -> GET
 *   its answer           -> evt_recorder_names_done
 *
 * Bounds: at most EVT_RECORDER_NAMES_MAX ids are remembered (known or
 * asked; beyond, nothing more is queued), EVT_RECORDER_NAMES_QUEUE paths
 * wait (beyond, an id is not queued now and is queued at its next event),
 * a path is at most EVT_RECORDER_NAMES_PATH - 1 bytes of [A-Za-z0-9_-]
 * around one '/', lookups start at most rate per second and at most
 * EVT_RECORDER_NAMES_INFLIGHT at a time.  Each id is asked at most once
 * between two evt_recorder_names_learn calls.  Memory: 8 bytes per
 * remembered id (a table that doubles as it fills; 16 bytes an id at
 * worst) and the queue, 128 KiB, allocated at the first queued path.
 * Zeroed memory is an empty tracker.
 */
#define EVT_RECORDER_NAMES_MAX (1u << 20)
#define EVT_RECORDER_NAMES_QUEUE 1024
#define EVT_RECORDER_NAMES_PATH 128
#define EVT_RECORDER_NAMES_INFLIGHT 2
#define EVT_RECORDER_NAMES_RATE 4.0	/* lookups started per second */

struct evt_recorder_names {
	uint64_t *slots;	/* keys of known or asked paths; 0 empty */
	uint32_t mask, n;	/* slots - 1, keys held */
	char (*q)[EVT_RECORDER_NAMES_PATH]; /* waiting paths, a ring */
	uint32_t qhead, qn;
	char cur[EVT_RECORDER_NAMES_PATH]; /* the path last taken */
	int64_t next_us;	/* no lookup starts before (pacing) */
	unsigned inflight;	/* lookups taken and not done */
	uint64_t queued, skipped; /* paths queued; ids not queued (full) */
	uint64_t changed;	/* events of type EVT_RECORDER_CONFIG_CHANGED
				   seen (the caller may reset it) */
	uint64_t changed_key;	/* that type's key (0: not computed yet) */
};

/* The event type "System configuration changed" (docs/ess-protocol.md
 * section 6): its events tell a recorder to take a new snapshot. */
#define EVT_RECORDER_CONFIG_CHANGED "06c5010d-11f2-4d70-bd79-4cec3a20d589"

/*
 * Tells whether path[0..len) may be looked up: a resource type of 1..63
 * ASCII letters and digits, '/', an id of [A-Za-z0-9_-], shorter than
 * EVT_RECORDER_NAMES_PATH in all (anything else in a gateway's "source"
 * never goes into a request line).  Returns 1 or 0.
 */
int evt_recorder_names_path_ok(const char *path, size_t len);

/*
 * Queues path[0..len) (copied) unless it is known, already asked, not a
 * path evt_recorder_names_path_ok accepts, or a bound is reached.  Returns
 * 1 if queued, 0 if not, EVT_ERR_NOMEM.
 */
int evt_recorder_names_note(struct evt_recorder_names *n, const char *path,
    size_t len);

/*
 * Notes every event of an events message (tokens p of frame, both
 * borrowed: evt_ess_classify's): its "source", "eventTypes/<type>" and
 * "stateGroups/<stategroupid>" (string members only), and counts events
 * of type EVT_RECORDER_CONFIG_CHANGED in n->changed.  Returns the number
 * of paths queued, EVT_ERR_NOMEM, or EVT_ERR_ARG (not an events message).
 */
int evt_recorder_names_scan(struct evt_recorder_names *n,
    const struct evt_jparser *p, const char *frame);

/*
 * Makes the ids of a CONFIG snapshot body[0..len) (borrowed; its three
 * lists, as evt_recorder_cfg_body writes them) the known ones: every
 * other remembered id is forgotten (so each may be asked once more), and
 * queued paths that the body lists are dropped.  Returns the number of
 * ids taken, EVT_ERR_JSON (not an object; nothing changed) or
 * EVT_ERR_NOMEM.
 */
int evt_recorder_names_learn(struct evt_recorder_names *n, const char *body,
    size_t len);

/*
 * Takes the next queued path when a lookup may start at now_us (fewer
 * than EVT_RECORDER_NAMES_INFLIGHT running, and 1 / rate seconds since
 * the last one started; rate <= 0 means EVT_RECORDER_NAMES_RATE): returns
 * it (NUL-terminated, owned by n, valid until the next take) and counts
 * it in flight, else NULL.
 */
const char *evt_recorder_names_take(struct evt_recorder_names *n,
    int64_t now_us, double rate);

/* A lookup taken ended (answered or not). */
void evt_recorder_names_done(struct evt_recorder_names *n);

/* Paths waiting to be taken. */
uint32_t evt_recorder_names_waiting(const struct evt_recorder_names *n);

/* Drops the queue and forgets every id (memory kept for reuse is freed
 * too); lookups in flight stay counted until done. */
void evt_recorder_names_clear(struct evt_recorder_names *n);

/* ------------------------------------------------------------- pacing */

/*
 * Delay before reconnect attempt number attempt (0 = right after a
 * connection was lost: 0 ms; then base_ms doubling up to max_ms), with
 * jitter: the delay is scaled by a factor in [0.75, 1.25) taken from rnd
 * (any 32-bit random value), never above max_ms.
 */
uint32_t evt_recorder_backoff_ms(unsigned attempt, uint32_t base_ms,
    uint32_t max_ms, uint32_t rnd);

/*
 * Tells whether a connection that reached a running session proved stable,
 * so that the reconnect backoff may start over: it stayed up at least
 * min_up_us (up_us) or delivered at least min_events new events.  A gateway
 * that accepts and drops at once never qualifies, so it is retried with a
 * growing delay, not in a tight loop.
 */
int evt_recorder_stable(int64_t up_us, uint64_t events, int64_t min_up_us,
    uint64_t min_events);

/*
 * Tells whether a token that expires at expires_us must be renewed before
 * connecting at now_us: 1 if there is none (expires_us == 0) or it is
 * within margin_us of expiry, 0 if it is fresh or never expires
 * (expires_us < 0).
 */
int evt_recorder_token_due(int64_t expires_us, int64_t now_us,
    int64_t margin_us);

#endif
