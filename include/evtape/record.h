/*
 * record.h: the record codec, gateway frames <-> msgpack records.
 *
 * Encoder: each received WebSocket text frame goes in with its receive time
 * and comes out as msgpack records appended to the current block: a MSG
 * header plus one EVENT record per event for {"events":[...]}, a STATES
 * header plus items for a getState response, a JSON record for any other
 * JSON, a RAW record (exact bytes) for anything that is not valid JSON or not
 * valid UTF-8 or nested deeper than EVT_REC_MAX_DEPTH.  Canonical lower-case
 * GUID ids go to the block's GUID column as 16 bytes, 7-digit 'Z' times
 * become tick deltas, short strings are interned in the segment dictionary
 * (dict.h).  Nothing is ever dropped.
 *
 * Decoder: walks a decompressed block record by record and writes events
 * and messages back as JSON equal to what arrived (same keys in the same
 * order, same values and strings; escapes normalised).
 *
 * The byte-level definition is formats/records.md; this code follows it.
 * Sans-I/O: memory in, memory out.
 */
#ifndef EVTAPE_RECORD_H
#define EVTAPE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "evtape/buf.h"
#include "evtape/dict.h"
#include "evtape/json.h"

/* Record kinds: element 0 of every record array (formats/records.md). */
enum evt_kind {
	EVT_K_STRDEF = 0,
	EVT_K_SHAPEDEF = 1,
	EVT_K_MSG = 2,
	EVT_K_EVENT = 3,
	EVT_K_ITEM = 4,
	EVT_K_STATES = 5,
	EVT_K_JSON = 6,
	EVT_K_RAW = 7,
	EVT_K_SESSION = 8,
	EVT_K_GAP = 9,
	EVT_K_CONFIG = 10,
	EVT_K_MAX = 10,
};

/* msgpack ext type of a JSON number kept as its text. */
#define EVT_EXT_NUMBER 1

/* JSON nesting bound: keeps every record within msgpack-c's 32 levels. */
#define EVT_REC_MAX_DEPTH 31

/* Largest frame accepted (a getState of a big site is ~4 MB). */
#define EVT_FRAME_MAX (256u << 20)

/* Longest string value that is interned rather than stored inline; also
 * the bound on indexed event ids (longer ids are kept, not indexed). */
#define EVT_REC_MAX_INTERN 256

/*
 * The range of receive times, microseconds since the epoch: 0001-01-01
 * 00:00:00 to 9999-12-31 23:59:59.999999 UTC, the years the tick form
 * covers (formats/README.md, "Times").  Writers refuse frames outside it,
 * so no delta, sum or difference of two receive times overflows an
 * int64; a reader that computes one outside it has found damage.
 */
#define EVT_RX_MIN (-INT64_C(62135596800000000))
#define EVT_RX_MAX INT64_C(253402300799999999)

/* Returns the name of a record kind ("event", "msg", ...) or "?". */
const char *evt_kind_name(int kind);

/*
 * Encoder.  Owns the segment dictionary and the open block's buffers.
 * The writer reads recs/guids/keys to write a block, then calls
 * evt_renc_block_reset().
 */
/* Interned-string cache slots of an encoder (two per field position). */
#define EVT_RENC_ICACHE 32

/*
 * What a segment summary (summary.h) counts of one record of the open
 * block, noted by the encoder as it writes the record (its summary log,
 * evt_renc.slog), so that the writer need not decode the block again: a
 * framed record's kind and receive time, or an EVENT of a MSG frame: its
 * shape, and the value index (as in the decoded record array, 0: no such
 * field) and string id of its first "source" and first "type" field.
 */
struct evt_rsum {
	int64_t rx_us;
	uint32_t kind, shape;
	uint32_t vi[2], id[2];	/* [0] source, [1] type */
};

struct evt_renc {
	struct evt_dict dict;  /* segment scope */
	struct evt_buf recs;   /* block: msgpack records */
	struct evt_buf guids;  /* block: GUID column */
	uint64_t *keys;	       /* block: id key of every event (evt_id_key) */
	size_t nkeys, keycap;
	size_t nguid_keys;     /* block: keys of those with a GUID id */
	uint32_t nrec, nevent; /* block counts */
	int64_t first_rx, last_rx; /* smallest and largest in the block */
	int64_t block_start_rx;	     /* of the block's first record */
	int64_t prev_rx, prev_ticks; /* block running values */
	char last_id[EVT_REC_MAX_INTERN]; /* id of the last event encoded */
	size_t last_id_len;		  /* 0: none yet in this segment */

	struct evt_jparser jp;
	const struct evt_jtok *tok; /* the frame being encoded: jp's tokens or
				       the caller's (evt_renc_frame_tok) */
	uint32_t items_tok;	/* MSG, STATES: the token of its items'
				   array (state checkpoints read them) */
	msgpack_packer pk;
	int oom;		/* a pack call ran out of memory */
	int raw_err;		/* why the last frame became RAW (evt_err) */
	size_t raw_off;		/* and where in it */
	struct evt_buf scratch;	/* unescaped strings */
	/* Per field position (keys at 2f, values at 2f + 1): the string id
	 * + 1 last interned there, and the last shape id + 1.  Events of a
	 * stream repeat their keys and many values, and a check against the
	 * dictionary's bytes is cheaper than a hash lookup. */
	uint32_t icache[EVT_RENC_ICACHE];
	uint32_t shcache;
	uint32_t sgen;		/* changes whenever interned ids may no longer
				   be found again (unit and segment resets):
				   struct evt_smap entries of another are
				   stale */
	uint32_t *fbuf;		/* shape fields of the event in progress */
	struct evt_fval *vbuf;	/* values of the event in progress */
	/* The summary log of the open block (struct evt_rsum entries),
	 * kept while slog_on.  slog_odd: the block holds a record the log
	 * cannot describe (an ITEM of a MSG frame, an event whose source or
	 * type is not an interned string, a CONFIG marker): the writer then
	 * decodes the block's records instead.  Memory: sizeof(struct
	 * evt_rsum) per framed record and EVENT of the open block. */
	int slog_on, slog_odd;
	struct evt_buf slog;
};

/* Initialises an encoder; returns 0 or EVT_ERR_NOMEM. */
int evt_renc_init(struct evt_renc *e);

/* Frees an encoder. */
void evt_renc_free(struct evt_renc *e);

/* Starts a new block: clears block buffers, counts and running values. */
void evt_renc_block_reset(struct evt_renc *e);

/* Starts a new segment: clears the dictionary and the block. */
void evt_renc_segment_reset(struct evt_renc *e);

/* Starts a new dictionary unit at the next block (formats/records.md,
 * "Dictionary units"): the strings and shapes defined so far keep their
 * ids but are defined again when the next records need them. */
void evt_renc_unit_reset(struct evt_renc *e);

/*
 * Encodes one received frame (a WebSocket text message, or one import line)
 * with its receive time.  Never fails on content: what is not JSON becomes a
 * RAW record.  Returns the kind of the frame's header record (EVT_K_MSG,
 * EVT_K_STATES, EVT_K_JSON or EVT_K_RAW; for RAW, e->raw_err and
 * e->raw_off say why), or EVT_ERR_NOMEM / EVT_ERR_TOOBIG (frame larger than
 * EVT_FRAME_MAX) / EVT_ERR_ARG (rx_us outside EVT_RX_MIN..EVT_RX_MAX,
 * nothing written); after EVT_ERR_NOMEM the block must be discarded.
 */
int evt_renc_frame(struct evt_renc *e, int64_t rx_us, const char *buf,
    size_t len);

/*
 * The same for a frame the caller has already tokenized: jp (borrowed for
 * the call) holds a successful evt_json_parse of exactly buf[0..len), with
 * any max_depth; the frame is then not parsed again.  jp NULL (or a failed
 * parse) is evt_renc_frame.  Same results, byte for byte.
 */
int evt_renc_frame_tok(struct evt_renc *e, int64_t rx_us, const char *buf,
    size_t len, const struct evt_jparser *jp);

/*
 * The flat form of an item of a MSG frame (evt_rdec_event_flat): an EVENT
 * record's fields with every string resolved, needing no dictionary, so
 * that a frame can be compared (equal flat items render to equal JSON),
 * rendered (evt_flat_json) or encoded again (evt_renc_msg_flat) without
 * JSON text in between.  In memory only, never stored; native byte order.
 *
 *   item     EVT_FL_EVENT (u8), nfield (u32), nfield x field
 *            | EVT_FL_TEXT (u8), the item's JSON text to the item's end
 *   field    key length (u32), key bytes, value kind (u8), payload
 *   payload  STR: length (u32), bytes; GUID: 16 bytes; TIME: ticks
 *            (int64); UINT, INT: uint64 / int64; NIL, TRUE, FALSE: none
 *
 * Every key and string of an EVENT item is printable ASCII without '"'
 * and '\\' (evt_json_plain), every TIME formats: any other item (an ITEM
 * record, a nested or non-integer value, other bytes) is a TEXT item.
 */
enum { EVT_FL_TEXT = 0, EVT_FL_EVENT = 1 };
enum {
	EVT_FV_STR = 0, EVT_FV_GUID, EVT_FV_TIME, EVT_FV_UINT, EVT_FV_INT,
	EVT_FV_NIL, EVT_FV_TRUE, EVT_FV_FALSE,
};

/* Appends the JSON text of flat item p[0..len) (as evt_rdec_event_flat
 * wrote it) to out: the text evt_rdec_item_json gives for its record.
 * Returns 0 or EVT_ERR_NOMEM. */
int evt_flat_json(const uint8_t *p, size_t len, struct evt_buf *out);

/* A string-valued field of a flat EVENT item (evt_flat_strings). */
struct evt_flat_str {
	const char *s;	/* its text as JSON has it between the quotes
			   (points into the item or txt); NULL: none */
	size_t len;
	char txt[40];	/* a GUID or TIME value formatted */
};

/*
 * For each of the n keys (keys[i], klens[i] bytes) the last field of flat
 * EVENT item p (p[0] == EVT_FL_EVENT) with that key whose value renders as
 * a JSON string (STR, GUID, TIME) in out[i]: what a walk of the item's
 * JSON text (evt_ess_event_fields) finds for it, without rendering.
 */
void evt_flat_strings(const uint8_t *p, const char *const *keys,
    const size_t *klens, int n, struct evt_flat_str *out);

/*
 * A guess, per string id of an input's dictionary, of the id the encoder
 * interned that string under: an interned STR value whose input id hits
 * is not looked up.  A guess is used only if the encoder's dictionary
 * holds those very bytes under it and no reset came between (a guess is
 * what a lookup gave since), so a stale guess, or one for the string an
 * earlier dictionary of the input had under that id, costs a lookup,
 * never a different record.
 */
struct evt_smap {
	uint32_t *oid, *gen;	/* by input id: guess, encoder's sgen */
	size_t cap;
};

/* Frees a map's memory (it may be used again). */
void evt_smap_free(struct evt_smap *m);

/* A MSG frame of flat events for evt_renc_msg_flat. */
struct evt_flat_msg {
	const uint8_t *flat;
	const size_t *span;	/* item i: flat[span[2i] .. span[2i+1]) */
	uint32_t n;
	const uint8_t *pick;	/* NULL: every item, else those with pick[i] */
	const uint32_t *sids;	/* NULL, or the input string id of every STR
				   value of the n items in order (as
				   evt_rdec_event_flat notes them) */
	struct evt_smap *map;	/* NULL, or the input's map (with sids) */
};

/*
 * Encodes a MSG frame {"events":[...]} (no other member) whose events are
 * m's flat EVENT items (those picked): the same records, byte for byte,
 * as evt_renc_frame of the frame's JSON text with those events (whose
 * items evt_flat_json renders).  Returns EVT_K_MSG, or EVT_ERR_ARG (rx_us
 * out of range, a TEXT item: nothing written) / EVT_ERR_NOMEM.
 */
int evt_renc_msg_flat(struct evt_renc *e, int64_t rx_us,
    const struct evt_flat_msg *m);

/*
 * Encodes a marker record (EVT_K_SESSION, EVT_K_GAP or EVT_K_CONFIG) whose
 * body is the JSON object text json[0..len).  Returns 0, EVT_ERR_ARG (kind,
 * JSON or receive time invalid), EVT_ERR_NOMEM.
 */
int evt_renc_marker(struct evt_renc *e, int kind, int64_t rx_us,
    const char *json, size_t len);

/*
 * Feeds a decoded dictionary definition into the encoder's dictionary (used
 * when a writer resumes an open segment): the next string / shape id must
 * match.  Returns 0 or a negative evt_err.
 */
int evt_renc_learn(struct evt_renc *e, const struct evt_dict *from);

/*
 * The 64-bit key under which an event id is indexed (formats/segment.md,
 * "Id keys"): a GUID in any letter case hashes by its 16 bytes, anything
 * else by its exact text.
 */
uint64_t evt_id_key(const char *id, size_t len);

/* The id key of a GUID-encoded id, from its 16 bytes. */
uint64_t evt_guid_key(const uint8_t g[16]);

/* Parses a GUID in any case into 16 bytes; returns 1, or 0 if not a GUID.
 * lower_only requires the canonical lower-case form. */
int evt_guid_parse(const char *s, size_t len, uint8_t out[16], int lower_only);

/* Writes the 36-character lower-case text of a GUID. */
void evt_guid_format(const uint8_t g[16], char out[36]);

/* One decoded record; all pointers borrowed from the decoder, valid until
 * the next evt_rdec_block() call. */
struct evt_rec {
	int kind;	   /* enum evt_kind */
	int64_t rx_us;	   /* receive time (items: of their header) */
	uint32_t nitems;   /* MSG/STATES: item records that follow */
	size_t off;	   /* offset of the record in the decompressed block */
	const msgpack_object *o; /* the record array */
	uint32_t shape;	   /* EVENT: shape id */
	uint32_t guid0;	   /* EVENT: index of its first GUID in the column */
};

/*
 * Decoder.  Borrows a dictionary: either complete (from a sealed segment's
 * index) or grown by the decoder itself while it reads a segment from the
 * start (dict_owned).
 */
struct evt_rdec {
	struct evt_dict *dict;
	int dict_grows;		/* STRDEF/SHAPEDEF beyond the dict append */
	msgpack_zone zone;
	const uint8_t *recs;
	size_t len, off;
	const uint8_t *guids;
	uint32_t nguid, gi;
	int64_t prev_rx, prev_ticks, cur_rx;
	uint32_t next_str, next_shape;
	uint32_t items_left;	/* items still expected after a header */
	int lost_running;	/* a damaged event hid time deltas / GUIDs */
	int lost_rx;		/* a damaged header hid a receive-time delta */
	size_t err_off;		/* where the last error was found */
	const char *err;	/* what it was (static text) */
	int64_t id_key;		/* string id of "id" in dict, -1 unknown */
	int skip_records;	/* records other than definitions and
				   SESSION markers are passed over undecoded
				   (rec->o NULL, rx_us 0): a scan that wants
				   only the dictionary, the kinds of records
				   and SESSION bodies */
	struct evt_buf tmp;
};

/* Initialises a decoder over dict (borrowed); returns 0 or EVT_ERR_NOMEM. */
int evt_rdec_init(struct evt_rdec *d, struct evt_dict *dict, int dict_grows);

/* Frees a decoder (not the dictionary). */
void evt_rdec_free(struct evt_rdec *d);

/*
 * Starts decoding a block: recs[0..len) decompressed records, guids the
 * GUID column of nguid entries, str_base/shape_base the dictionary sizes
 * before the block (from its header).  Borrowed until the next call.
 */
void evt_rdec_block(struct evt_rdec *d, const uint8_t *recs, size_t len,
    const uint8_t *guids, uint32_t nguid, uint32_t str_base,
    uint32_t shape_base);

/*
 * Decodes the next record into *r.  Definitions are applied and also
 * returned.  Returns 1 for a record, 0 at the end of the block, or
 * EVT_ERR_CORRUPT with d->err_off / d->err set.  After a corrupt record
 * that could be delimited (a bad reference, a bad value) the next call goes
 * on with the following record; when the msgpack itself is broken the rest
 * of the block is lost and the next call returns 0.
 */
int evt_rdec_next(struct evt_rdec *d, struct evt_rec *r);

/*
 * Whether rec, the next record of records read in order, is an EVENT of
 * a MSG frame (an event the id index and the id lookups count: not a
 * state of a getState answer).  *in_msg carries what the records before
 * said; it starts at 0.
 */
int evt_rec_msg_event(const struct evt_rec *rec, int *in_msg);

/*
 * Appends the JSON text of an EVENT or ITEM record (the original event
 * object) to out.  Returns 0, EVT_ERR_CORRUPT (bad reference, d->err set),
 * EVT_ERR_NOMEM.
 */
int evt_rdec_item_json(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out);

/*
 * Appends the JSON text of a header record (MSG, STATES) up to where its
 * items go ("{\"events\":[") to out, and into *tail the text that closes
 * it after the items.  For JSON, SESSION, GAP, CONFIG records appends the
 * whole JSON value and leaves tail empty; for RAW appends the raw bytes.
 * Returns 0 or a negative evt_err.
 */
int evt_rdec_frame_head(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out, struct evt_buf *tail);

/*
 * Appends the flat form (see above) of an EVENT or ITEM record to out: an
 * EVENT item when every field allows, else a TEXT item holding
 * evt_rdec_item_json's text; to sids (unless NULL) the dictionary id of
 * every STR value of an EVENT item (uint32, UINT32_MAX for a string not
 * interned).  Returns as evt_rdec_item_json (nothing appended on an error).
 */
int evt_rdec_event_flat(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out, struct evt_buf *sids);

/*
 * Finds the first top-level member named key whose value is a string in an
 * EVENT record and writes its text (GUIDs and times formatted) into out
 * (cap bytes; the event id is field "id" by this rule).  Returns the
 * length, EVT_ERR_NOTFOUND if absent or not a string, or another error.
 */
int evt_rdec_field(struct evt_rdec *d, const struct evt_rec *r,
    const char *key, char *out, size_t cap);

/*
 * The string ids of n fields of EVENT record r in one pass: for each key
 * (a string id of the dictionary, as evt_dict_str_find gives; -1 for
 * none) out[i] is the id of the interned string value of the first field
 * with that key whose value is a string (EVT_ENC_STR), -2 if that value is
 * stored otherwise (GUID, TIME, a long string: evt_rdec_field gives its
 * text), -1 if the event has no such field.  The per-event path of a scan
 * that looks at a few fields of every event (evtool stats): no key lookup,
 * no value decoded.
 */
void evt_rdec_strids(const struct evt_rdec *d, const struct evt_rec *r,
    const int64_t *keys, int n, int64_t *out);

/*
 * Where the first field whose key is string id key (-1: none) sits in the
 * EVENT records of shape `shape` (< the dictionary's shapes): *vi its
 * value's index in the record's array and *enc its encoding, *vi 0 when
 * the shape has no such field.  It depends on the shape only, so a scan
 * can keep it per shape (stats.c) instead of matching keys per event.
 */
void evt_rdec_key_at(const struct evt_rdec *d, uint32_t shape, int64_t key,
    uint32_t *vi, uint32_t *enc);

/* Sets *key to the id key (evt_id_key) of EVENT r's "id" field, from a
 * GUID's bytes without formatting them.  Returns 0, EVT_ERR_NOTFOUND or
 * another error, as evt_rdec_field. */
int evt_rdec_id_key(struct evt_rdec *d, const struct evt_rec *r,
    uint64_t *key);

/*
 * The id of the string value of field `key` of an EVENT record when it is
 * interned (EVT_ENC_STR), else -1.  Lets filters compare ids, not text.
 */
int64_t evt_rdec_field_strid(struct evt_rdec *d, const struct evt_rec *r,
    const char *key);

/*
 * Checks that p[0..len) starts with one well-formed MessagePack object,
 * nested at most 32 deep, whose every container count is plausible for
 * the bytes left, and sets *olen to its size: 0, or -1 if it is malformed
 * or truncated.  Run it before msgpack-c's unpack on file bytes, so that
 * a hostile count is corruption, not a huge allocation.
 */
int evt_mp_check(const uint8_t *p, size_t len, size_t *olen);

#endif
