/*
 * names.h: the names of sources, event types and state groups as of a
 * time, from the CONFIG markers of an archive (formats/records.md,
 * "Marker bodies written by evrec"), for every reading tool: `evtool cat
 * --names`, `-o text`, name filters (--source 'Lobby*'), the state viewer,
 * evplay's stdout.
 *
 *   CONFIG bodies (evt_names_configs reads them from an archive)
 *     -> evt_names_add (each with its receive time) -> evt_names_finish
 *     -> evt_names_get (id, time) -> name
 *
 * Resolution rule: the name of an id for an event received at T is the
 * one of the latest CONFIG marker (snapshot or delta: "kind" does not
 * matter, a snapshot that leaves an id out does not unname it) received
 * at or before T that lists the id; when none at or before T lists it,
 * the earliest one after T that does.  So a rename is shown from the
 * marker that recorded it on, and an event before the first marker still
 * gets a name.  Of an item the name shown is its `displayName` when
 * the marker has one (what the official samples and XProtect's clients
 * show; every tool, `evtool stats` included, shows this one), else its
 * `name`;
 * for an event type also its `state` and `stateGroupId`.
 *
 * Cost: each id has its (time, name) list sorted by time, found through a
 * hash of the lower-cased ids; a lookup is one hash probe and a binary
 * search.  Memory: the distinct (id, name) changes of the markers, not
 * their repetitions (a name repeated by the next snapshot is kept once).
 *
 * Sans-I/O except evt_names_configs and evt_names_read, which read an
 * archive's segments.  Not thread-safe.
 */
#ifndef EVTAPE_NAMES_H
#define EVTAPE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"
#include "evtape/segment.h"

/* The three lists of a CONFIG body. */
enum evt_names_list {
	EVT_NAMES_SOURCE,	/* "sources": ids "<resourceType>/<guid>" */
	EVT_NAMES_TYPE,		/* "eventTypes" */
	EVT_NAMES_GROUP,	/* "stateGroups" */
	EVT_NAMES_NLISTS
};

/* What is known of an id as of a time; strings borrowed from the names
 * (valid until evt_names_free), NUL-terminated, NULL when not known. */
struct evt_names_item {
	const char *name;
	const char *name_json;	/* name as a JSON string literal */
	const char *state;	/* types: the state the type sets */
	const char *group;	/* types: their stateGroupId */
};

struct evt_names;

/* A new, empty set of names; NULL when out of memory. */
struct evt_names *evt_names_new(void);

/* Frees it; NULL is fine. */
void evt_names_free(struct evt_names *n);

/*
 * Takes the items of CONFIG body body[0..len) (borrowed for the call)
 * received at rx.  Lists that are missing or not arrays, items without a
 * string "id" and "name" or with an id over 256 bytes are passed over.
 * Returns 0, EVT_ERR_JSON (not a JSON object: nothing taken) or
 * EVT_ERR_NOMEM.  Call evt_names_finish after the last one.
 */
int evt_names_add(struct evt_names *n, int64_t rx, const char *body,
    size_t len);

/* Sorts what was added for lookups (and drops repetitions).  Returns 0 or
 * EVT_ERR_NOMEM.  More evt_names_add calls need another finish. */
int evt_names_finish(struct evt_names *n);

/* Whether any name is known. */
int evt_names_any(const struct evt_names *n);

/*
 * Looks id[0..len) (any letter case; the decoded text) up in list as of
 * receive time rx by the resolution rule.  Returns 1 and fills *it, or 0
 * when the id is not listed by any marker.
 */
int evt_names_get(struct evt_names *n, enum evt_names_list list,
    const char *id, size_t len, int64_t rx, struct evt_names_item *it);

/* The longest name of list, in bytes (0 when none): what aligns text
 * columns. */
size_t evt_names_width(const struct evt_names *n, enum evt_names_list list);

/*
 * Calls cb(arg, id) once for every distinct id (lower-cased,
 * NUL-terminated, borrowed until evt_names_free) of list to which some
 * marker gave a displayName or name matching fnmatch(3) pattern pat, in
 * any letter case (a pattern without wildcards is the whole name).  Stops at a cb that does not
 * return 0 and returns its value; else returns the number of ids.
 */
int evt_names_match(const struct evt_names *n, enum evt_names_list list,
    const char *pat, int (*cb)(void *arg, const char *id), void *arg);

/*
 * Calls cb(arg, id, name) for each distinct (id, name) pair of list
 * (borrowed until evt_names_free), by name in any letter case, then id:
 * the candidates an error message lists.  Stops as evt_names_match.
 */
int evt_names_each(const struct evt_names *n, enum evt_names_list list,
    int (*cb)(void *arg, const char *id, const char *name), void *arg);

/*
 * The names of one event (the JSON object text ev[0..len), borrowed)
 * received at rx: its "source", "type" and "stategroupid" members looked
 * up (a stateful type's stateGroupId when the event has no
 * "stategroupid").  Members absent or unknown give NULL names.
 */
struct evt_names_ev {
	const char *source, *type, *group;	/* the event's values,
						   decoded, or "" */
	const char *source_name, *type_name, *group_name, *state_name;
	const char *json[3];	/* the three names as JSON literals */
};
int evt_names_event(struct evt_names *n, const char *ev, size_t len,
    int64_t rx, struct evt_names_ev *out);

/*
 * Says that the event text of the next evt_names_event, evt_names_put_json
 * or evt_names_put_text call is the rendering (evt_rdec_item_json) of
 * record rec of decoder d (both borrowed until that call, which forgets
 * them): its "source", "type" and "stategroupid" are then taken from the
 * record's string ids instead of being found again in the text (the same
 * values; the text is scanned when one is not an interned string).  What
 * makes `cat --names` and `-o text` cheap.
 */
struct evt_rdec;
struct evt_rec;
void evt_names_from(struct evt_names *n, struct evt_rdec *d,
    const struct evt_rec *rec);

/*
 * Adds the members "sourceName", "typeName", "stateGroupName" that are
 * known to the event object text at out->p[mark..out->len) (received at
 * rx), before its closing brace; the original members stay as they are.
 * Text that is not an object, or whose names are all unknown, stays as it
 * is.  Returns 0 or EVT_ERR_NOMEM.
 */
int evt_names_put_json(struct evt_names *n, struct evt_buf *out, size_t mark,
    int64_t rx);

/* How -o text prints: the time zone, ids with -v, the column widths. */
struct evt_names_text {
	int utc;		/* --utc: UTC ("...Z"), else local time */
	int verbose;		/* -v: the ids after the names */
	int wsrc, wtype, wgroup; /* column widths (characters) */
	int64_t sec;		/* the second formatted last (a cache) */
	char stamp[24], zone[8];
};

/* Prepares the text form: columns as wide as the longest names of n
 * (finished), or GUIDs when n has none. */
void evt_names_text_init(struct evt_names_text *t, const struct evt_names *n,
    int utc, int verbose);

/*
 * Formats receive time rx as t says into out: "YYYY-MM-DD HH:MM:SS.uuuuuu"
 * then "Z" (UTC) or " +HHMM" (the local offset then).  Returns the length.
 */
size_t evt_names_time(struct evt_names_text *t, int64_t rx, char out[48]);

/*
 * Replaces the event object text at out->p[mark..out->len) (received at
 * rx) by its text line: time, source name, type name, state group name,
 * two blanks apart, padded to t's widths; a name not known shows as the
 * id's GUID (the part after the last '/'), a member absent as "-"; with
 * verbose, then "id=<id> source=<source> type=<type>".  Returns 0 or
 * EVT_ERR_NOMEM.
 */
int evt_names_put_text(struct evt_names *n, struct evt_names_text *t,
    struct evt_buf *out, size_t mark, int64_t rx);

struct evt_archive;

/*
 * Calls cb(arg, rx, body, len) for every CONFIG marker of archive a, in
 * archive order (body borrowed for the call).  Reads as little as it can:
 * a roll-up run whose segments hold no CONFIG frame and a sealed segment
 * whose index counts none are passed over unread; in a sealed segment
 * with one, reading starts at the block of its summary's CONFIG position;
 * reading a segment stops after the last marker its index counts.
 * Damage goes to err (NULL: not reported; the reading of the events that
 * follows reports it).  Returns 0, cb's first non-0 value, or a negative
 * evt_err (EVT_ERR_NOMEM).
 */
int evt_names_configs(struct evt_archive *a, const char *dir,
    evt_seg_err_cb err, void *errarg,
    int (*cb)(void *arg, int64_t rx, const char *body, size_t len),
    void *arg);

/* evt_names_configs into n (CONFIG bodies that are not objects passed
 * over), then evt_names_finish.  Returns 0 or a negative evt_err. */
int evt_names_read(struct evt_archive *a, const char *dir,
    struct evt_names *n);

/* Decodes raw JSON string s[0..len) (escapes when esc) into out, which
 * holds cap + 1 bytes; "" for NULL or longer than cap.  Returns out. */
const char *evt_names_decode(const char *s, size_t len, int esc, char *out,
    size_t cap);

#endif
