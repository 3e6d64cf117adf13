/*
 * rewrite.h: replays rewritten for test systems (evplay --retime, --shift,
 * --fresh-ids, --map-source): event texts changed in their values only.
 *
 *   event / state object text, or a whole frame ({"events":[...]},
 *   a getState answer's {"states":[...]})
 *     -> evt_rw_event / evt_rw_frame -> the same text with
 *        id       a new id, a keyed permutation of (id, pass)  (--fresh-ids)
 *        time, data.startTime, data.endTime   shifted by one offset
 *        source   renamed by the map                          (--map-source)
 *   CONFIG marker body -> evt_rw_config -> its "sources" ids renamed, so
 *        names and Config REST answers show the renamed sources under NEW.
 *
 * Every other byte is copied as it is: members keep their order and
 * form; a value that is not rewritten keeps its bytes (escapes included).
 *
 * Timestamps (evt_rw_time_shift): "YYYY-MM-DD", 'T', 't' or ' ', "HH:MM",
 * optionally ":SS" and a fraction of any number of digits ('.' or ','),
 * then optionally "Z", "z", "+HH:MM", "+HHMM" or "+HH" (or '-').  The
 * date and time fields are shifted in the text's own zone (a fixed offset
 * moves with the instant), and written back with the same separators,
 * the same number of fractional digits and the same zone text.  A
 * timestamp's precision is its last digit (a minute without seconds, 1 s
 * without a fraction, 10^-d s with d digits); the shift it gets is the
 * offset truncated toward zero to that precision, so a timestamp is never
 * made finer than it was, every timestamp of one precision moves by the
 * same amount, and shifting by -D undoes shifting by D exactly.  Digits
 * beyond the ninth are kept (the offset has none).  A text that is not
 * such a timestamp, or whose shifted year leaves 0001..9999, is left as
 * it is and counted (stats.bad_times).
 *
 * Fresh ids (evt_rw_id): an id in the GUID form (8-4-4-4-12 hex digits,
 * any case) keeps its 6 version and variant bits (a version 4 id stays a
 * version 4 id) and its letter case (upper case if it had an upper-case
 * letter, else lower case); its other 122 bits go through a
 * Feistel permutation (6 steps of SipHash-2-4 keyed by the key and
 * tweaked by the pass), so within a pass no two ids collide, the same
 * (key, id, pass) always gives the same new id, and evt_rw_id_invert
 * gives the original back from (new id, pass) without any table.  Any
 * other id gets a version 4 GUID from a keyed hash of (pass, id): not
 * invertible (stats.hashed_ids).
 *
 * Source map (evt_rw_map): OLD is "type/guid" (matches that whole source)
 * or a bare id (matches the part after a source's last '/'), in any
 * letter case; NEW replaces what OLD matched (a bare NEW keeps the
 * source's "type/" prefix).
 *
 * Sans-I/O, no clock: the caller gives the offset.  Not thread-safe (one
 * tokenizer per rewriter).  Memory: the map, and the tokenizer's array,
 * which grows to the largest frame rewritten.
 */
#ifndef EVTAPE_REWRITE_H
#define EVTAPE_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

#define EVT_RW_GUID_LEN 36

struct evt_rw;

/* What a rewriter did so far (counters, never reset). */
struct evt_rw_stats {
	uint64_t objects;	/* event or state objects seen */
	uint64_t times;		/* timestamps shifted */
	uint64_t bad_times;	/* timestamps left as they were (bad form,
				   out of years 0001..9999) */
	uint64_t ids;		/* ids replaced */
	uint64_t hashed_ids;	/* of them, not in the GUID form */
	uint64_t sources;	/* sources renamed */
	uint64_t not_objects;	/* texts left alone: not a JSON object */
};

/* How one pass is rewritten (evplay: per timeline and loop pass). */
struct evt_rw_pass {
	int retime;		/* shift timestamps by shift_ns */
	int64_t shift_ns;
	uint64_t pass;		/* loop pass, 0 first: the fresh ids' tweak */
};

/* Creates a rewriter that changes nothing yet.  Returns 0 and *out (free
 * with evt_rw_free) or EVT_ERR_NOMEM. */
int evt_rw_new(struct evt_rw **out);

/* Frees it (NULL is fine). */
void evt_rw_free(struct evt_rw *rw);

/* Turns fresh ids on, keyed by key[0..len) (borrowed for the call; any
 * bytes, "" is a key too: the fixed default). */
void evt_rw_fresh_ids(struct evt_rw *rw, const char *key, size_t len);

/*
 * Adds OLD -> NEW to the source map (both NUL-terminated, copied).
 * Returns 0; EVT_ERR_ARG when either is empty, longer than 256 bytes or
 * holds a '"', '\\' or control character, or OLD is mapped already;
 * EVT_ERR_NOMEM.
 */
int evt_rw_map(struct evt_rw *rw, const char *old, const char *new_);

/* Whether ids or sources are rewritten (then every pass changes text;
 * else only a pass with retime does). */
int evt_rw_changes(const struct evt_rw *rw);

/*
 * Appends the rewritten event (or state) object text ev[0..len)
 * (borrowed) to out: p says the shift and pass.  A text that is not a
 * JSON object is appended as it is.  Returns 0 or EVT_ERR_NOMEM (out may
 * hold part of it: the caller rolls back).
 */
int evt_rw_event(struct evt_rw *rw, const struct evt_rw_pass *p,
    const char *ev, size_t len, struct evt_buf *out);

/*
 * Appends the rewritten frame text[0..len) to out: each object element of
 * its top-level "events" and "states" arrays as evt_rw_event; everything
 * else, and a frame that is not a JSON object, as it is.  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_rw_frame(struct evt_rw *rw, const struct evt_rw_pass *p,
    const char *text, size_t len, struct evt_buf *out);

/* Appends the CONFIG marker body[0..len) to out with the "id" of each
 * item of its "sources" array renamed by the map.  Returns 0 or
 * EVT_ERR_NOMEM. */
int evt_rw_config(struct evt_rw *rw, const char *body, size_t len,
    struct evt_buf *out);

/*
 * Finds the top-level "time" of event object text ev[0..len) (borrowed)
 * and parses it as evt_rw_time_parse.  Returns 0, or -1 if the text has
 * none that parses.  (What "now" is measured against: the first event's
 * time.)
 */
int evt_rw_event_time(struct evt_rw *rw, const char *ev, size_t len,
    int64_t *sec, int32_t *nsec, int64_t *unit_ns);

/* The counters so far. */
void evt_rw_stats(const struct evt_rw *rw, struct evt_rw_stats *st);

/*
 * Parses timestamp s[0..len) (the forms above).  Returns 0 and sets *sec
 * and *nsec (the instant: seconds since the epoch, UTC, and 0..999999999
 * ns) and *unit_ns (its precision), or -1 if it is not a timestamp.
 */
int evt_rw_time_parse(const char *s, size_t len, int64_t *sec,
    int32_t *nsec, int64_t *unit_ns);

/*
 * Writes s[0..len) shifted by shift_ns (truncated toward zero to its
 * precision) into out (at least len bytes): the same length and form.
 * Returns 1 (shifted), or 0 (not a timestamp, or out of range: out
 * undefined).
 */
int evt_rw_time_shift(const char *s, size_t len, int64_t shift_ns,
    char *out);

/*
 * The fresh id of id[0..len) in pass `pass`: writes it to out and
 * returns its length (36 for the GUID form, which keeps len == 36), 0
 * if fresh ids are off.
 */
size_t evt_rw_id(const struct evt_rw *rw, uint64_t pass, const char *id,
    size_t len, char out[EVT_RW_GUID_LEN]);

/* The original of a fresh id id[0..36) of pass `pass` (the inverse of
 * evt_rw_id on GUID-form ids).  Returns 1 and writes out, or 0 if id is
 * not in the GUID form or fresh ids are off. */
int evt_rw_id_invert(const struct evt_rw *rw, uint64_t pass,
    const char *id, size_t len, char out[EVT_RW_GUID_LEN]);

#endif
