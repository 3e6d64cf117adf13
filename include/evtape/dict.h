/*
 * dict.h: the segment dictionary: interned strings and record shapes.
 *
 * Within one segment every repeated string (sources, types, state groups,
 * keys) is stored once, in a STRDEF record, and referred to by its id (the
 * order of definition, from 0).  A shape is the ordered list of (key string
 * id, value encoding) pairs of an event object, defined once in a SHAPEDEF
 * record.  The encoder looks strings and shapes up by content; the decoder
 * by id.  A sealed segment repeats the whole dictionary in its index so a
 * reader can decode any block without reading the blocks before it.
 *
 * Sans-I/O; grows with malloc; bounded by EVT_DICT_MAX_* (the encoder stores
 * values inline once a bound is reached).
 */
#ifndef EVTAPE_DICT_H
#define EVTAPE_DICT_H

#include <stddef.h>
#include <stdint.h>

#define EVT_DICT_MAX_STRINGS (1u << 20)
#define EVT_DICT_MAX_BYTES (64u << 20)
#define EVT_DICT_MAX_SHAPES (1u << 16)
#define EVT_SHAPE_MAX_FIELDS 256

/* Value encodings of a shape field (formats/records.md, "Shapes"). */
enum evt_enc {
	EVT_ENC_JSON = 0, /* a generic msgpack value */
	EVT_ENC_STR = 1,  /* uint: id of an interned string */
	EVT_ENC_GUID = 2, /* no msgpack value: next 16 bytes of the GUID column */
	EVT_ENC_TIME = 3, /* int: tick delta against the block's running time */
	EVT_ENC_MAX = 3,
};

struct evt_shape {
	uint32_t nfield;
	uint32_t off;	/* first field in dict->fields (2 uint32 per field) */
	uint32_t nval;	/* fields that carry a msgpack value (not GUID);
			   UINT32_MAX marks a placeholder for a lost definition */
};

struct evt_dict {
	uint32_t nstr, strcap;
	uint32_t *str_off, *str_len; /* into arena; len UINT32_MAX = missing */
	uint8_t *str_plain;  /* evt_json_plain of each string (flat items) */
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *shash; /* open addressing: id + 1, 0 = empty */
	uint32_t shash_mask;
	uint32_t nhashed; /* strings in shash: built on the first lookup, so a
			     reader that only resolves ids never pays for it */
	uint32_t str_from;   /* lookups find only ids >= these (evt_dict_forget) */
	uint32_t shape_from;

	uint32_t nshape, shapecap;
	struct evt_shape *shape;
	uint32_t *fields; /* key id, enc, key id, enc, ... */
	size_t nfields, fieldcap;
	uint32_t *hhash;
	uint32_t hhash_mask;
};

/* The fields of shape sh (2 * nfield uint32), never NULL. */
static inline const uint32_t *
evt_dict_fields(const struct evt_dict *d, const struct evt_shape *sh)
{
	static const uint32_t none[2];
	return d->fields != NULL ? d->fields + sh->off : none;
}

/* Initialises an empty dictionary. */
void evt_dict_init(struct evt_dict *d);

/* Frees all memory; the dictionary may be initialised again. */
void evt_dict_free(struct evt_dict *d);

/* Empties the dictionary, keeping its memory for reuse. */
void evt_dict_clear(struct evt_dict *d);

/*
 * Makes every string and shape defined so far invisible to the lookups by
 * content (evt_dict_str_find, evt_dict_shape_find) while keeping them by
 * id: a writer starting a new dictionary unit (formats/records.md,
 * "Dictionary units") defines again whatever it needs.
 */
void evt_dict_forget(struct evt_dict *d);

/*
 * Defines every string and shape of `from`, with the same ids, in the
 * empty dictionary d: what a reader builds from the definitions, every
 * one visible to the lookups (also those `from` forgot).  Returns 0,
 * EVT_ERR_NOMEM or EVT_ERR_TOOBIG.
 */
int evt_dict_copy(struct evt_dict *d, const struct evt_dict *from);

/* Returns the id of string s[0..len), or -1 if it is not interned (or
 * EVT_ERR_NOMEM while building the lookup table). */
int64_t evt_dict_str_find(struct evt_dict *d, const char *s, size_t len);

/*
 * Appends a string (copied) with the next id and returns that id;
 * EVT_ERR_TOOBIG when a bound is reached, EVT_ERR_NOMEM.  The caller makes
 * sure it was not interned already.  A NULL s appends a placeholder for a
 * string whose definition was lost to corruption.
 */
int64_t evt_dict_str_add(struct evt_dict *d, const char *s, size_t len);

/* Returns string id (borrowed, valid until the dictionary changes), or NULL
 * if id is out of range or a placeholder; sets *len. */
const char *evt_dict_str(const struct evt_dict *d, uint32_t id, size_t *len);

/* The same if the string is plain (evt_json_plain: printable ASCII without
 * '"' and '\\', checked once, when it was added), else NULL. */
const char *evt_dict_str_plain(const struct evt_dict *d, uint32_t id,
    size_t *len);

/* Returns the id of the shape with these fields (2 * n uint32), or -1. */
int64_t evt_dict_shape_find(const struct evt_dict *d, const uint32_t *f,
    uint32_t n);

/*
 * Appends a shape (fields copied) and returns its id; checks that every key
 * id is a defined string and every encoding known (EVT_ERR_CORRUPT if not);
 * EVT_ERR_TOOBIG, EVT_ERR_NOMEM.  f NULL with n 0 appends a placeholder for
 * a lost definition (never found by evt_dict_shape_find).
 */
int64_t evt_dict_shape_add(struct evt_dict *d, const uint32_t *f, uint32_t n);

#endif
