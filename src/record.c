/*
 * record.c: the record codec (see record.h and formats/records.md).
 *
 * Encoding a frame: tokenize (json.c), pick the header kind, then for each
 * event object choose per field an encoding (GUID column, tick delta,
 * interned string, or a generic msgpack value), find or define the shape,
 * and pack the record.  Definitions (STRDEF, SHAPEDEF) are emitted just
 * before the first record that uses them, so a block read from the start of
 * its segment is self-sufficient.
 *
 * Decoding: msgpack-c unpacks one record at a time into a zone that is
 * cleared per record; running values (receive time, event time) are carried
 * from record to record because every delta refers to the previous one in
 * the block.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/timefmt.h"

/* One field of the event being encoded. */
struct evt_fval {
	uint8_t enc;
	uint32_t tok;	  /* EVT_ENC_JSON: value token */
	const uint8_t *flat; /* EVT_ENC_JSON: or the flat value, if not NULL */
	int64_t v;	  /* STR: string id; TIME: ticks */
	uint8_t guid[16]; /* GUID */
};

static const char *const kind_names[] = {
	"strdef", "shapedef", "msg", "event", "item", "states", "json",
	"raw", "session", "gap", "config",
};

/* Returns the name of a record kind. */
const char *
evt_kind_name(int kind)
{
	if (kind < 0 || kind > EVT_K_MAX)
		return "?";
	return kind_names[kind];
}

/* Whether rec is an EVENT of a MSG frame; see record.h.  A MSG or STATES
 * header opens a frame; its EVENT and ITEM records and the dictionary's
 * definitions among them do not end it; any other framed record does. */
int
evt_rec_msg_event(const struct evt_rec *rec, int *in_msg)
{
	if (rec->kind == EVT_K_MSG || rec->kind == EVT_K_STATES)
		*in_msg = rec->kind == EVT_K_MSG;
	else if (rec->kind != EVT_K_EVENT && rec->kind != EVT_K_ITEM &&
	    rec->kind != EVT_K_STRDEF && rec->kind != EVT_K_SHAPEDEF)
		*in_msg = 0;
	return rec->kind == EVT_K_EVENT && *in_msg;
}

/* Hex digits: 0x20 | value for 0-9 a-f, 0x30 | value for A-F, 0 for
 * anything else; an AND and an OR over all digits tell both failures. */
static const uint8_t hexval[256] = {
	['0'] = 0x20, ['1'] = 0x21, ['2'] = 0x22, ['3'] = 0x23, ['4'] = 0x24,
	['5'] = 0x25, ['6'] = 0x26, ['7'] = 0x27, ['8'] = 0x28, ['9'] = 0x29,
	['a'] = 0x2a, ['b'] = 0x2b, ['c'] = 0x2c, ['d'] = 0x2d, ['e'] = 0x2e,
	['f'] = 0x2f, ['A'] = 0x3a, ['B'] = 0x3b, ['C'] = 0x3c, ['D'] = 0x3d,
	['E'] = 0x3e, ['F'] = 0x3f,
};

/* Parses a GUID "8-4-4-4-12" hex text; see record.h.  Branch-free over the
 * digits: it runs several times per event on the recorder's hot path. */
int
evt_guid_parse(const char *s, size_t len, uint8_t out[16], int lower_only)
{
	/* Offset of the first digit of each byte. */
	static const uint8_t at[16] = {
		0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34,
	};
	const unsigned char *u = (const unsigned char *)s;
	unsigned all = 0x20, any = 0;

	if (len != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' ||
	    s[23] != '-')
		return 0;
	for (int j = 0; j < 16; j++) {
		unsigned a = hexval[u[at[j]]], b = hexval[u[at[j] + 1]];

		all &= a & b;
		any |= a | b;
		out[j] = (uint8_t)((a & 15) << 4 | (b & 15));
	}
	if (all == 0 || (lower_only && (any & 0x10)))
		return 0;
	return 1;
}

/* The two lower-case hex digits of every byte value, for
 * evt_guid_format. */
static const char hex_pairs[513] =
	    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* Writes a GUID as 36 lower-case characters (a table lookup a byte:
 * `cat` writes an id per event). */
void
evt_guid_format(const uint8_t g[16], char out[36])
{
	/* Where byte i's digits go: 8-4-4-4-12 digits, dashes between. */
	static const uint8_t at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24,
	    26, 28, 30, 32, 34};
	for (int i = 0; i < 16; i++)
		memcpy(out + at[i], hex_pairs + 2 * g[i], 2);
	out[8] = out[13] = out[18] = out[23] = '-';
}

/* Key of a GUID's 16 bytes (formats/segment.md, "Id keys"). */
uint64_t
evt_guid_key(const uint8_t g[16])
{
	uint64_t a = 0, b = 0;
	for (int i = 7; i >= 0; i--) {
		a = a << 8 | g[i];
		b = b << 8 | g[8 + i];
	}
	return a ^ (b << 29 | b >> 35);
}

/* The id key of an event id text; see record.h. */
uint64_t
evt_id_key(const char *id, size_t len)
{
	uint8_t g[16];
	if (evt_guid_parse(id, len, g, 0))
		return evt_guid_key(g);
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)id[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* msgpack-c write callback: appends to the encoder's record buffer and
 * remembers a failure, which the frame-level call then reports. */
static int
renc_write_cb(void *data, const char *p, size_t n)
{
	struct evt_renc *e = data;
	struct evt_buf *b = &e->recs;
	/* Most writes are a value's 1 to 9 bytes: copied with fixed sizes,
	 * not by a call to memcpy each. */
	if (n <= 9 && b->cap - b->len >= 9) {
		uint8_t *d = b->p + b->len;
		if (n & 8)
			memcpy(d, p, 8), d += 8, p += 8;
		if (n & 4)
			memcpy(d, p, 4), d += 4, p += 4;
		if (n & 2)
			memcpy(d, p, 2), d += 2, p += 2;
		if (n & 1)
			*d = (uint8_t)*p;
		b->len += n;
		return 0;
	}
	if (evt_buf_put(b, p, n) == 0)
		return 0;
	e->oom = 1;
	return -1;
}

/* Initialises an encoder. */
int
evt_renc_init(struct evt_renc *e)
{
	memset(e, 0, sizeof *e);
	evt_dict_init(&e->dict);
	evt_json_init(&e->jp, EVT_REC_MAX_DEPTH);
	e->jp.lone_surrogates = 1; /* kept as WTF-8 (formats/records.md) */
	msgpack_packer_init(&e->pk, e, renc_write_cb);
	e->sgen = 1;
	e->fbuf = malloc(2 * EVT_SHAPE_MAX_FIELDS * sizeof *e->fbuf);
	e->vbuf = malloc(EVT_SHAPE_MAX_FIELDS * sizeof *e->vbuf);
	if (e->fbuf == NULL || e->vbuf == NULL) {
		evt_renc_free(e);
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Frees an encoder. */
void
evt_renc_free(struct evt_renc *e)
{
	evt_dict_free(&e->dict);
	evt_buf_free(&e->recs);
	evt_buf_free(&e->guids);
	evt_buf_free(&e->scratch);
	evt_buf_free(&e->slog);
	evt_json_free(&e->jp);
	free(e->keys);
	free(e->fbuf);
	free(e->vbuf);
	e->keys = NULL;
	e->fbuf = NULL;
	e->vbuf = NULL;
}

/* Starts a new block. */
void
evt_renc_block_reset(struct evt_renc *e)
{
	e->recs.len = 0;
	e->guids.len = 0;
	e->nkeys = 0;
	e->nguid_keys = 0;
	e->nrec = e->nevent = 0;
	e->first_rx = e->last_rx = 0;
	e->prev_rx = e->prev_ticks = 0;
	e->slog.len = 0;
	e->slog_odd = 0;
}

/* Starts a new segment. */
void
evt_renc_segment_reset(struct evt_renc *e)
{
	evt_dict_clear(&e->dict);
	evt_renc_block_reset(e);
	e->last_id_len = 0;
	e->sgen++;
}

/* Starts a new dictionary unit; see record.h. */
void
evt_renc_unit_reset(struct evt_renc *e)
{
	evt_dict_forget(&e->dict);
	/* The caches would hand out ids of the unit before. */
	memset(e->icache, 0, sizeof e->icache);
	e->shcache = 0;
	e->sgen++;
}

/* Appends an entry to the summary log; out of memory makes the block
 * odd (decoded by the writer instead). */
static void
renc_slog(struct evt_renc *e, const struct evt_rsum *r)
{
	if (evt_buf_put(&e->slog, r, sizeof *r) != 0)
		e->slog_odd = 1;
}

/* Packs the common start of a framed record: [kind, rx delta, ...]. */
static void
renc_head(struct evt_renc *e, int kind, size_t n, int64_t rx_us)
{
	if (e->slog_on) {
		/* A CONFIG body is decoded by the summary (stats.c). */
		e->slog_odd |= kind == EVT_K_CONFIG;
		renc_slog(e, &(struct evt_rsum){.rx_us = rx_us,
		    .kind = (uint32_t)kind});
	}
	if (e->nrec == 0)
		e->block_start_rx = rx_us;
	if (e->nrec == 0 || rx_us < e->first_rx)
		e->first_rx = rx_us;
	if (e->nrec == 0 || rx_us > e->last_rx)
		e->last_rx = rx_us;
	msgpack_pack_array(&e->pk, n);
	msgpack_pack_uint8(&e->pk, (uint8_t)kind);
	msgpack_pack_int64(&e->pk, rx_us - e->prev_rx);
	e->prev_rx = rx_us;
	e->nrec++;
}

/* Returns the decoded bytes of string token t (unescaped into scratch when
 * it has escapes; scratch must have room). */
static const char *
renc_str(struct evt_renc *e, const char *buf, const struct evt_jtok *t,
    size_t *len)
{
	if (!(t->flags & EVT_JF_ESCAPED)) {
		*len = t->len;
		return buf + t->off;
	}
	if (evt_buf_grow(&e->scratch, t->len) != 0)
		return NULL;
	char *out = (char *)e->scratch.p + e->scratch.len;
	int n = evt_json_unescape_wtf8(buf + t->off, t->len, out);
	if (n < 0)
		return NULL;
	e->scratch.len += (size_t)n;
	*len = (size_t)n;
	return out;
}

/* Packs the generic msgpack form of token i; returns the next token. */
static uint32_t
renc_value(struct evt_renc *e, const char *buf, uint32_t i)
{
	const struct evt_jtok *t = &e->tok[i];
	switch (t->type) {
	case EVT_J_NULL:
		msgpack_pack_nil(&e->pk);
		break;
	case EVT_J_TRUE:
		msgpack_pack_true(&e->pk);
		break;
	case EVT_J_FALSE:
		msgpack_pack_false(&e->pk);
		break;
	case EVT_J_NUMBER: {
		int neg;
		uint64_t mag;
		if ((t->flags & EVT_JF_INT) &&
		    evt_json_int(buf + t->off, t->len, &neg, &mag)) {
			if (neg)
				msgpack_pack_int64(&e->pk, (int64_t)(0 - mag));
			else
				msgpack_pack_uint64(&e->pk, mag);
		} else {
			msgpack_pack_ext_with_body(&e->pk, buf + t->off,
			    t->len, EVT_EXT_NUMBER);
		}
		break;
	}
	case EVT_J_STRING: {
		size_t mark = e->scratch.len, n;
		const char *s = renc_str(e, buf, t, &n);
		if (s != NULL)
			msgpack_pack_str_with_body(&e->pk, s, n);
		else
			msgpack_pack_str_with_body(&e->pk, "", 0);
		e->scratch.len = mark;
		break;
	}
	case EVT_J_ARRAY: {
		msgpack_pack_array(&e->pk, t->size);
		uint32_t j = i + 1;
		for (uint32_t k = 0; k < t->size; k++)
			j = renc_value(e, buf, j);
		break;
	}
	case EVT_J_OBJECT: {
		msgpack_pack_map(&e->pk, t->size);
		uint32_t j = i + 1;
		for (uint32_t k = 0; k < t->size; k++) {
			j = renc_value(e, buf, j);
			j = renc_value(e, buf, j);
		}
		break;
	}
	}
	return t->next;
}

/* Interns s, emitting a STRDEF the first time; returns its id or < 0. */
static int64_t
renc_intern(struct evt_renc *e, const char *s, size_t len)
{
	int64_t id = evt_dict_str_find(&e->dict, s, len);
	if (id >= 0)
		return id;
	id = evt_dict_str_add(&e->dict, s, len);
	if (id < 0)
		return id;
	msgpack_pack_array(&e->pk, 2);
	msgpack_pack_uint8(&e->pk, EVT_K_STRDEF);
	msgpack_pack_str_with_body(&e->pk, s, len);
	e->nrec++;
	return id;
}

/* Interns s through cache slot c (< EVT_RENC_ICACHE, or any other value
 * for none): the cached id is used if the dictionary holds these very
 * bytes under it, which is what evt_dict_str_find would return (the
 * encoder never adds a string twice). */
static int64_t
renc_intern_at(struct evt_renc *e, uint32_t c, const char *s, size_t len)
{
	if (c < EVT_RENC_ICACHE && e->icache[c] != 0) {
		size_t dl;
		const char *d = evt_dict_str(&e->dict, e->icache[c] - 1, &dl);

		if (d != NULL && dl == len && memcmp(d, s, len) == 0)
			return e->icache[c] - 1;
	}
	int64_t id = renc_intern(e, s, len);
	if (c < EVT_RENC_ICACHE && id >= 0)
		e->icache[c] = (uint32_t)id + 1;
	return id;
}

/* Finds the shape of fbuf[0..2 * nf), first through the cache (see
 * renc_intern_at); -1 if there is none. */
static int64_t
renc_shape_find(struct evt_renc *e, uint32_t nf)
{
	uint32_t c = e->shcache;

	if (c != 0 && c - 1 < e->dict.nshape) {
		const struct evt_shape *sh = &e->dict.shape[c - 1];

		if (sh->nval != UINT32_MAX && sh->nfield == nf &&
		    memcmp(evt_dict_fields(&e->dict, sh), e->fbuf,
		    2 * (size_t)nf * sizeof *e->fbuf) == 0)
			return c - 1;
	}
	int64_t id = evt_dict_shape_find(&e->dict, e->fbuf, nf);
	if (id >= 0)
		e->shcache = (uint32_t)id + 1;
	return id;
}

/* Records the id key of an event encoded in a MSG. */
static int
renc_key(struct evt_renc *e, uint64_t key, const char *id, size_t len)
{
	if (e->nkeys == e->keycap) {
		size_t cap = e->keycap ? e->keycap * 2 : 4096;
		uint64_t *k = realloc(e->keys, cap * sizeof *k);
		if (k == NULL)
			return EVT_ERR_NOMEM;
		e->keys = k;
		e->keycap = cap;
	}
	e->keys[e->nkeys++] = key;
	memcpy(e->last_id, id, len);
	e->last_id_len = len;
	return 0;
}

/*
 * Notes an EVENT of a MSG frame in the summary log: where the first
 * "source" and "type" fields (fields sumf[0], sumf[1] of nf, UINT32_MAX:
 * none) are in the record array, as evt_rdec_key_at finds them, and their
 * string ids; a value that is not an interned string makes the block odd.
 */
static void
renc_slog_event(struct evt_renc *e, uint32_t sh, uint32_t nf,
    const uint32_t sumf[2])
{
	struct evt_rsum r = {.rx_us = e->prev_rx, .kind = EVT_K_EVENT,
	    .shape = sh};
	uint32_t vi = 2;
	for (uint32_t f = 0; f < nf; f++) {
		const struct evt_fval *fv = &e->vbuf[f];
		for (int j = 0; j < 2; j++) {
			if (sumf[j] != f)
				continue;
			if (fv->enc != EVT_ENC_STR)
				e->slog_odd = 1;
			r.vi[j] = vi;
			r.id[j] = (uint32_t)fv->v;
		}
		vi += fv->enc != EVT_ENC_GUID;
	}
	renc_slog(e, &r);
}

/* What the fields of an event say about its id (renc_str_value). */
struct renc_id {
	int has;		/* 1: indexed, -1: too long to index, 0: none */
	int guid;		/* the indexed id is a GUID */
	uint64_t key;
	size_t len;
	char txt[EVT_REC_MAX_INTERN];
};

/* Interns the key ks[0..kl) of field f; sets *is_id and notes a first
 * "source" or "type" field in sumf.  Returns the key's string id, or < 0
 * (EVT_ERR_NOMEM, or the dictionary is full: the event becomes an ITEM). */
static int64_t
renc_field_key(struct evt_renc *e, uint32_t f, const char *ks, size_t kl,
    int *is_id, uint32_t sumf[2])
{
	int64_t kid = renc_intern_at(e, 2 * f, ks, kl);
	*is_id = kl == 2 && ks[0] == 'i' && ks[1] == 'd';
	if (kl == 6 && sumf[0] == UINT32_MAX && memcmp(ks, "source", 6) == 0)
		sumf[0] = f;
	else if (kl == 4 && sumf[1] == UINT32_MAX &&
	    memcmp(ks, "type", 4) == 0)
		sumf[1] = f;
	return kid;
}

/* Chooses the encoding of the string value vs[0..vl) of field f (is_id:
 * its key is "id"; guid not NULL: vs is the canonical text of these 16
 * bytes) into fv, which starts as EVT_ENC_JSON, and notes the event's id.
 * Returns 0 or EVT_ERR_NOMEM. */
static int
renc_str_value(struct evt_renc *e, uint32_t f, int is_id, const char *vs,
    size_t vl, const uint8_t *guid, struct evt_fval *fv, struct renc_id *id)
{
	if (is_id && !id->has && vl > EVT_REC_MAX_INTERN) {
		/* Too long to index (formats/records.md). */
		id->has = -1;
	} else if (is_id && (guid != NULL ||
	    evt_guid_parse(vs, vl, fv->guid, 1))) {
		if (guid != NULL)
			memcpy(fv->guid, guid, 16);
		fv->enc = EVT_ENC_GUID;
		if (!id->has) {
			id->has = 1;
			id->guid = 1;
			id->key = evt_guid_key(fv->guid);
			memcpy(id->txt, vs, 36);
			id->len = 36;
		}
	} else if (is_id) {
		if (!id->has) {
			id->has = 1;
			id->key = evt_id_key(vs, vl);
			id->len = vl; /* <= EVT_REC_MAX_INTERN */
			memcpy(id->txt, vs, vl);
		}
	} else if (vl == EVT_TICKS_LEN && evt_ticks_parse(vs, vl, &fv->v)) {
		fv->enc = EVT_ENC_TIME;
	} else if (vl <= EVT_REC_MAX_INTERN) {
		int64_t sid = renc_intern_at(e, 2 * f + 1, vs, vl);
		if (sid == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
		if (sid >= 0) {
			fv->enc = EVT_ENC_STR;
			fv->v = sid;
		}
	}
	return 0;
}

static void renc_flat_value(struct evt_renc *, const uint8_t *);

/* Packs the EVENT record of the nf fields in fbuf and vbuf (values of
 * encoding JSON: token fv->tok of buf, or flat value fv->flat), defining
 * its shape first if new.  Returns 0, 1 when the shape cannot be defined
 * (the event becomes an ITEM), or EVT_ERR_NOMEM. */
static int
renc_event_pack(struct evt_renc *e, const char *buf, uint32_t nf, int in_msg,
    const uint32_t sumf[2], const struct renc_id *id)
{
	int64_t sh = renc_shape_find(e, nf);
	if (sh < 0) {
		sh = evt_dict_shape_add(&e->dict, e->fbuf, nf);
		if (sh == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
		if (sh < 0)
			return 1;
		e->shcache = (uint32_t)sh + 1;
		msgpack_pack_array(&e->pk, 1 + 2 * (size_t)nf);
		msgpack_pack_uint8(&e->pk, EVT_K_SHAPEDEF);
		for (uint32_t f = 0; f < 2 * nf; f++)
			msgpack_pack_uint32(&e->pk, e->fbuf[f]);
		e->nrec++;
	}
	if (e->slog_on && in_msg)
		renc_slog_event(e, (uint32_t)sh, nf, sumf);
	msgpack_pack_array(&e->pk, 2 + (size_t)e->dict.shape[sh].nval);
	msgpack_pack_uint8(&e->pk, EVT_K_EVENT);
	msgpack_pack_uint32(&e->pk, (uint32_t)sh);
	for (uint32_t f = 0; f < nf; f++) {
		struct evt_fval *fv = &e->vbuf[f];
		switch (fv->enc) {
		case EVT_ENC_GUID:
			if (evt_buf_put(&e->guids, fv->guid, 16) != 0)
				return EVT_ERR_NOMEM;
			break;
		case EVT_ENC_TIME:
			msgpack_pack_int64(&e->pk, fv->v - e->prev_ticks);
			e->prev_ticks = fv->v;
			break;
		case EVT_ENC_STR:
			msgpack_pack_uint32(&e->pk, (uint32_t)fv->v);
			break;
		default:
			if (fv->flat != NULL)
				renc_flat_value(e, fv->flat);
			else
				renc_value(e, buf, fv->tok);
			break;
		}
	}
	e->nrec++;
	if (in_msg) {
		e->nevent++;
		if (id->has > 0 && renc_key(e, id->key, id->txt, id->len) != 0)
			return EVT_ERR_NOMEM;
		e->nguid_keys += id->has > 0 && id->guid;
	}
	return 0;
}

/* Packs token i of buf as an ITEM record. */
static void
renc_item(struct evt_renc *e, const char *buf, uint32_t i, int in_msg)
{
	e->slog_odd |= in_msg;
	msgpack_pack_array(&e->pk, 2);
	msgpack_pack_uint8(&e->pk, EVT_K_ITEM);
	renc_value(e, buf, i);
	e->nrec++;
}

/* Encodes the event object at token i as an EVENT record, or as an ITEM
 * when the dictionary is full; in_msg says whether it is indexed. */
static int
renc_event(struct evt_renc *e, const char *buf, uint32_t i, int in_msg)
{
	const struct evt_jtok *t = &e->tok[i];
	uint32_t nf = t->size, j = i + 1;
	struct renc_id id = {0};
	uint32_t sumf[2] = {UINT32_MAX, UINT32_MAX}; /* source, type */

	if (nf > EVT_SHAPE_MAX_FIELDS)
		goto item;
	e->scratch.len = 0;
	if (evt_buf_grow(&e->scratch, t->len) != 0)
		return EVT_ERR_NOMEM;
	for (uint32_t f = 0; f < nf; f++) {
		const struct evt_jtok *k = &e->tok[j];
		const struct evt_jtok *v = &e->tok[j + 1];
		struct evt_fval *fv = &e->vbuf[f];
		size_t kl, vl;
		int is_id;
		const char *ks = renc_str(e, buf, k, &kl);
		if (ks == NULL)
			goto item;
		int64_t kid = renc_field_key(e, f, ks, kl, &is_id, sumf);
		if (kid < 0) {
			if (kid == EVT_ERR_NOMEM)
				return EVT_ERR_NOMEM;
			goto item;
		}
		fv->enc = EVT_ENC_JSON;
		fv->tok = j + 1;
		fv->flat = NULL;
		if (v->type == EVT_J_STRING) {
			const char *vs = renc_str(e, buf, v, &vl);
			if (vs == NULL)
				goto item;
			if (renc_str_value(e, f, is_id, vs, vl, NULL, fv, &id) !=
			    0)
				return EVT_ERR_NOMEM;
		}
		e->fbuf[2 * f] = (uint32_t)kid;
		e->fbuf[2 * f + 1] = fv->enc;
		j = v->next;
	}
	int rc = renc_event_pack(e, buf, nf, in_msg, sumf, &id);
	if (rc <= 0)
		return rc;
item:
	renc_item(e, buf, i, in_msg);
	return 0;
}

/* Packs the envelope [pos, {other members}] of a header whose items array
 * is member number `pos` of the root object. */
static void
renc_envelope(struct evt_renc *e, const char *buf, uint32_t pos)
{
	const struct evt_jtok *root = &e->tok[0];
	msgpack_pack_uint32(&e->pk, pos);
	msgpack_pack_map(&e->pk, root->size - 1);
	uint32_t j = 1;
	for (uint32_t m = 0; m < root->size; m++) {
		uint32_t v = e->tok[j].next;
		if (m != pos) {
			renc_value(e, buf, j);
			renc_value(e, buf, v);
		}
		j = e->tok[v].next;
	}
}

static int renc_frame(struct evt_renc *, int64_t, const char *, size_t,
    const struct evt_jparser *);

/* Encodes a frame; see record.h. */
int
evt_renc_frame(struct evt_renc *e, int64_t rx_us, const char *buf, size_t len)
{
	return evt_renc_frame_tok(e, rx_us, buf, len, NULL);
}

/* Encodes a frame the caller has tokenized already; see record.h. */
int
evt_renc_frame_tok(struct evt_renc *e, int64_t rx_us, const char *buf,
    size_t len, const struct evt_jparser *jp)
{
	e->oom = 0;
	int rc = renc_frame(e, rx_us, buf, len, jp);
	return e->oom ? EVT_ERR_NOMEM : rc;
}

/* Encodes a frame, leaving packing failures to the caller. */
static int
renc_frame(struct evt_renc *e, int64_t rx_us, const char *buf, size_t len,
    const struct evt_jparser *jp)
{
	if (len > EVT_FRAME_MAX)
		return EVT_ERR_TOOBIG;
	if (rx_us < EVT_RX_MIN || rx_us > EVT_RX_MAX)
		return EVT_ERR_ARG;
	/* The caller's tokens are those our own parse would make, unless
	 * they nest deeper than the codec's bound: then parse, to fail the
	 * same way. */
	if (jp != NULL && jp->ntok > 0 && jp->depth <= EVT_REC_MAX_DEPTH) {
		e->raw_err = 0;
		e->raw_off = 0;
		e->tok = jp->tok;
	} else {
		int n = evt_json_parse(&e->jp, buf, len);
		e->raw_err = n < 0 ? n : 0;
		e->raw_off = n < 0 ? e->jp.err_off : 0;
		if (n == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
		if (n < 0) {
			renc_head(e, EVT_K_RAW, 3, rx_us);
			msgpack_pack_bin_with_body(&e->pk, buf, len);
			return EVT_K_RAW;
		}
		e->tok = e->jp.tok;
	}
	const struct evt_jtok *root = &e->tok[0];
	int kind = EVT_K_JSON;
	uint32_t pos = 0, arr = 0;
	if (root->type == EVT_J_OBJECT) {
		uint32_t j = 1, st_pos = 0, st_arr = 0;
		for (uint32_t m = 0; m < root->size; m++) {
			const struct evt_jtok *k = &e->tok[j];
			uint32_t v = k->next;
			if (e->tok[v].type == EVT_J_ARRAY &&
			    !(k->flags & EVT_JF_ESCAPED)) {
				if (kind != EVT_K_MSG && k->len == 6 &&
				    memcmp(buf + k->off, "events", 6) == 0) {
					kind = EVT_K_MSG;
					pos = m;
					arr = v;
				} else if (st_arr == 0 && k->len == 6 &&
				    memcmp(buf + k->off, "states", 6) == 0) {
					st_pos = m;
					st_arr = v;
				}
			}
			j = e->tok[v].next;
		}
		if (kind != EVT_K_MSG && st_arr != 0) {
			kind = EVT_K_STATES;
			pos = st_pos;
			arr = st_arr;
		}
	}
	if (kind == EVT_K_JSON) {
		renc_head(e, EVT_K_JSON, 3, rx_us);
		renc_value(e, buf, 0);
		return EVT_K_JSON;
	}
	uint32_t nitems = e->tok[arr].size;
	e->items_tok = arr;
	if (kind == EVT_K_MSG && root->size == 1) {
		renc_head(e, kind, 3, rx_us);
		msgpack_pack_uint32(&e->pk, nitems);
	} else {
		renc_head(e, kind, 5, rx_us);
		msgpack_pack_uint32(&e->pk, nitems);
		renc_envelope(e, buf, pos);
	}
	uint32_t j = arr + 1;
	for (uint32_t k = 0; k < nitems; k++) {
		if (e->tok[j].type == EVT_J_OBJECT) {
			int rc = renc_event(e, buf, j, kind == EVT_K_MSG);
			if (rc < 0)
				return rc;
		} else {
			renc_item(e, buf, j, kind == EVT_K_MSG);
		}
		j = e->tok[j].next;
	}
	return kind;
}

/*
 * Flat items (record.h)
 */

/* Reads a u32 / u64 of a flat item. */
static uint32_t
flat_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t
flat_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The size of the flat value at p (kind byte included). */
static size_t
flat_value_size(const uint8_t *p)
{
	switch (*p) {
	case EVT_FV_STR:
		return 5 + (size_t)flat_u32(p + 1);
	case EVT_FV_GUID:
		return 17;
	case EVT_FV_TIME:
	case EVT_FV_UINT:
	case EVT_FV_INT:
		return 9;
	default:
		return 1;
	}
}

/* Writes the text of a flat GUID or TIME value into out (36 or
 * EVT_TICKS_LEN bytes); returns its length. */
static size_t
flat_text(const uint8_t *p, char *out)
{
	if (*p == EVT_FV_GUID) {
		evt_guid_format(p + 1, out);
		return 36;
	}
	evt_ticks_format((int64_t)flat_u64(p + 1), out); /* checked */
	return EVT_TICKS_LEN;
}

/* Packs a flat value as the generic msgpack value of its JSON text. */
static void
renc_flat_value(struct evt_renc *e, const uint8_t *p)
{
	char txt[40];
	switch (*p) {
	case EVT_FV_STR:
		msgpack_pack_str_with_body(&e->pk, p + 5, flat_u32(p + 1));
		break;
	case EVT_FV_GUID:
	case EVT_FV_TIME: {
		size_t n = flat_text(p, txt);
		msgpack_pack_str_with_body(&e->pk, txt, n);
		break;
	}
	case EVT_FV_UINT:
		msgpack_pack_uint64(&e->pk, flat_u64(p + 1));
		break;
	case EVT_FV_INT:
		msgpack_pack_int64(&e->pk, (int64_t)flat_u64(p + 1));
		break;
	case EVT_FV_NIL:
		msgpack_pack_nil(&e->pk);
		break;
	case EVT_FV_TRUE:
		msgpack_pack_true(&e->pk);
		break;
	default:
		msgpack_pack_false(&e->pk);
		break;
	}
}

/* Appends the JSON text of flat item p[0..len); see record.h. */
int
evt_flat_json(const uint8_t *p, size_t len, struct evt_buf *out)
{
	if (len == 0 || p[0] == EVT_FL_TEXT)
		return len > 0 ? evt_buf_put(out, p + 1, len - 1) : 0;
	uint32_t nf = flat_u32(p + 1);
	const uint8_t *q = p + 5;
	int rc = evt_buf_putc(out, '{');
	for (uint32_t f = 0; rc == 0 && f < nf; f++) {
		uint32_t kl = flat_u32(q);
		char txt[40];
		if (f > 0)
			rc |= evt_buf_putc(out, ',');
		rc |= evt_json_put_string(out, (const char *)q + 4, kl);
		rc |= evt_buf_putc(out, ':');
		q += 4 + kl;
		switch (*q) {
		case EVT_FV_STR:
			rc |= evt_json_put_string(out, (const char *)q + 5,
			    flat_u32(q + 1));
			break;
		case EVT_FV_GUID:
		case EVT_FV_TIME: {
			size_t n = flat_text(q, txt);
			rc |= evt_json_put_string(out, txt, n);
			break;
		}
		case EVT_FV_UINT:
			rc |= evt_json_put_int(out, 0, flat_u64(q + 1));
			break;
		case EVT_FV_INT:
			rc |= evt_json_put_int(out, 1,
			    0 - flat_u64(q + 1));
			break;
		case EVT_FV_NIL:
			rc |= evt_buf_put(out, "null", 4);
			break;
		case EVT_FV_TRUE:
			rc |= evt_buf_put(out, "true", 4);
			break;
		default:
			rc |= evt_buf_put(out, "false", 5);
			break;
		}
		q += flat_value_size(q);
	}
	if (rc == 0)
		rc = evt_buf_putc(out, '}');
	return rc != 0 ? EVT_ERR_NOMEM : 0;
}

/* The string-valued fields of a flat EVENT item; see record.h. */
void
evt_flat_strings(const uint8_t *p, const char *const *keys,
    const size_t *klens, int n, struct evt_flat_str *out)
{
	uint32_t nf = flat_u32(p + 1);
	const uint8_t *q = p + 5;
	for (int i = 0; i < n; i++)
		out[i].s = NULL;
	for (uint32_t f = 0; f < nf; f++) {
		uint32_t kl = flat_u32(q);
		const uint8_t *v = q + 4 + kl;
		for (int i = 0; *v <= EVT_FV_TIME && i < n; i++) {
			if (klens[i] != kl || memcmp(q + 4, keys[i], kl) != 0)
				continue;
			if (*v == EVT_FV_STR) {
				out[i].s = (const char *)v + 5;
				out[i].len = flat_u32(v + 1);
			} else {
				out[i].len = flat_text(v, out[i].txt);
				out[i].s = out[i].txt;
			}
		}
		q = v + flat_value_size(v);
	}
}

/* Packs flat EVENT item p[0..len) as an ITEM record (the dictionary is
 * full), from its text as renc_event does. */
static int
renc_flat_item(struct evt_renc *e, const uint8_t *p, size_t len)
{
	struct evt_buf t = {0};
	int n = evt_flat_json(p, len, &t);
	if (n == 0)
		n = evt_json_parse(&e->jp, (const char *)t.p, t.len);
	if (n >= 0) {
		e->tok = e->jp.tok;
		renc_item(e, (const char *)t.p, 0, 1);
	}
	evt_buf_free(&t);
	return n >= 0 ? 0 : n == EVT_ERR_NOMEM ? n : EVT_ERR_ARG;
}

/* Frees a map of string ids; see record.h. */
void
evt_smap_free(struct evt_smap *m)
{
	free(m->oid);
	free(m->gen);
	memset(m, 0, sizeof *m);
}

/* The id map m guesses for string s[0..len) of input id sid, if the
 * encoder's dictionary holds these bytes under it since the guess (what
 * evt_dict_str_find would return: see renc_intern_at), else -1. */
static int64_t
smap_guess(const struct evt_renc *e, const struct evt_smap *m, uint32_t sid,
    const char *s, size_t len)
{
	size_t dl;
	if (m == NULL || sid >= m->cap || m->gen[sid] != e->sgen)
		return -1;
	const char *d = evt_dict_str(&e->dict, m->oid[sid], &dl);
	return d != NULL && dl == len && memcmp(d, s, len) == 0 ?
	    (int64_t)m->oid[sid] : -1;
}

/* Notes in m that input id sid was interned as oid (a guess: when there
 * is no memory for it, nothing). */
static void
smap_note(const struct evt_renc *e, struct evt_smap *m, uint32_t sid,
    uint32_t oid)
{
	if (m == NULL || sid >= EVT_DICT_MAX_STRINGS)
		return;
	if (sid >= m->cap) {
		size_t cap = m->cap ? m->cap : 1024;
		while (cap <= sid)
			cap *= 2;
		uint32_t *o = realloc(m->oid, cap * sizeof *o);
		if (o != NULL)
			m->oid = o;
		uint32_t *g = realloc(m->gen, cap * sizeof *g);
		if (g != NULL)
			m->gen = g;
		if (o == NULL || g == NULL)
			return;
		memset(m->gen + m->cap, 0, (cap - m->cap) * sizeof *g);
		m->cap = cap;
	}
	m->oid[sid] = oid;
	m->gen[sid] = e->sgen;
}

/* The STR values of flat EVENT item p. */
static size_t
flat_nstr(const uint8_t *p)
{
	uint32_t nf = flat_u32(p + 1);
	const uint8_t *q = p + 5;
	size_t n = 0;
	for (uint32_t f = 0; f < nf; f++) {
		q += 4 + flat_u32(q);
		n += *q == EVT_FV_STR;
		q += flat_value_size(q);
	}
	return n;
}

/* Encodes flat EVENT item p[0..len) as renc_event encodes its JSON text:
 * an EVENT record, or an ITEM when the dictionary is full.  sids (NULL:
 * none) are the input ids of its STR values, map their guesses. */
static int
renc_event_flat(struct evt_renc *e, const uint8_t *p, size_t len,
    const uint32_t *sids, struct evt_smap *map)
{
	uint32_t nf = flat_u32(p + 1);
	const uint8_t *q = p + 5;
	struct renc_id id = {0};
	uint32_t sumf[2] = {UINT32_MAX, UINT32_MAX}; /* source, type */
	char txt[40];

	for (uint32_t f = 0; f < nf; f++) {
		struct evt_fval *fv = &e->vbuf[f];
		uint32_t kl = flat_u32(q);
		int is_id;
		int64_t kid = renc_field_key(e, f, (const char *)q + 4, kl,
		    &is_id, sumf);
		if (kid < 0) {
			if (kid == EVT_ERR_NOMEM)
				return EVT_ERR_NOMEM;
			goto item;
		}
		q += 4 + kl;
		fv->enc = EVT_ENC_JSON;
		fv->flat = q;
		int rc = 0;
		if (*q == EVT_FV_TIME && !is_id) {
			/* Its text parses back to these ticks (timefmt.h). */
			fv->enc = EVT_ENC_TIME;
			fv->v = (int64_t)flat_u64(q + 1);
		} else if (*q == EVT_FV_GUID || *q == EVT_FV_TIME) {
			size_t n = flat_text(q, txt);
			rc = renc_str_value(e, f, is_id, txt, n, *q ==
			    EVT_FV_GUID ? q + 1 : NULL, fv, &id);
		} else if (*q == EVT_FV_STR) {
			uint32_t sid = sids != NULL ? *sids++ : UINT32_MAX;
			const char *vs = (const char *)q + 5;
			int64_t g = is_id ? -1 : smap_guess(e, map, sid, vs,
			    flat_u32(q + 1));
			if (g >= 0) {
				fv->enc = EVT_ENC_STR;
				fv->v = g;
			} else {
				rc = renc_str_value(e, f, is_id, vs,
				    flat_u32(q + 1), NULL, fv, &id);
				if (rc == 0 && fv->enc == EVT_ENC_STR)
					smap_note(e, map, sid, (uint32_t)fv->v);
			}
		}
		if (rc != 0)
			return rc;
		e->fbuf[2 * f] = (uint32_t)kid;
		e->fbuf[2 * f + 1] = fv->enc;
		q += flat_value_size(q);
	}
	int rc = renc_event_pack(e, NULL, nf, 1, sumf, &id);
	if (rc <= 0)
		return rc;
item:
	return renc_flat_item(e, p, len);
}

/* Encodes a MSG frame of flat events; see record.h. */
int
evt_renc_msg_flat(struct evt_renc *e, int64_t rx_us,
    const struct evt_flat_msg *m)
{
	const uint8_t *flat = m->flat, *pick = m->pick;
	const size_t *span = m->span;
	uint32_t n = m->n, nitems = 0;
	size_t si = 0;
	if (rx_us < EVT_RX_MIN || rx_us > EVT_RX_MAX)
		return EVT_ERR_ARG;
	for (uint32_t i = 0; i < n; i++) {
		if (pick != NULL && !pick[i])
			continue;
		if (span[2 * i + 1] <= span[2 * i] ||
		    flat[span[2 * i]] != EVT_FL_EVENT)
			return EVT_ERR_ARG;
		nitems++;
	}
	e->oom = 0;
	e->raw_err = 0;
	e->raw_off = 0;
	renc_head(e, EVT_K_MSG, 3, rx_us);
	msgpack_pack_uint32(&e->pk, nitems);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = flat + span[2 * i];
		size_t at = si;
		if (m->sids != NULL)
			si += flat_nstr(p);
		if (pick != NULL && !pick[i])
			continue;
		int rc = renc_event_flat(e, p, span[2 * i + 1] - span[2 * i],
		    m->sids != NULL ? m->sids + at : NULL, m->map);
		if (rc < 0)
			return e->oom ? EVT_ERR_NOMEM : rc;
	}
	return e->oom ? EVT_ERR_NOMEM : EVT_K_MSG;
}

/* Encodes a marker record; see record.h. */
int
evt_renc_marker(struct evt_renc *e, int kind, int64_t rx_us, const char *json,
    size_t len)
{
	if ((kind != EVT_K_SESSION && kind != EVT_K_GAP &&
	    kind != EVT_K_CONFIG) || rx_us < EVT_RX_MIN || rx_us > EVT_RX_MAX)
		return EVT_ERR_ARG;
	int n = evt_json_parse(&e->jp, json, len);
	if (n == EVT_ERR_NOMEM)
		return n;
	e->tok = e->jp.tok;
	if (n < 0 || e->tok[0].type != EVT_J_OBJECT)
		return EVT_ERR_ARG;
	e->oom = 0;
	renc_head(e, kind, 3, rx_us);
	renc_value(e, json, 0);
	return e->oom ? EVT_ERR_NOMEM : 0;
}

/* Copies the definitions of `from` into the encoder's empty dictionary. */
int
evt_renc_learn(struct evt_renc *e, const struct evt_dict *from)
{
	evt_dict_clear(&e->dict);
	e->sgen++;
	return evt_dict_copy(&e->dict, from);
}

/*
 * Decoder.
 */

/* Initialises a decoder. */
int
evt_rdec_init(struct evt_rdec *d, struct evt_dict *dict, int dict_grows)
{
	memset(d, 0, sizeof *d);
	d->dict = dict;
	d->dict_grows = dict_grows;
	d->id_key = -1;
	if (!msgpack_zone_init(&d->zone, 8192))
		return EVT_ERR_NOMEM;
	return 0;
}

/* Frees a decoder. */
void
evt_rdec_free(struct evt_rdec *d)
{
	msgpack_zone_destroy(&d->zone);
	evt_buf_free(&d->tmp);
}

/* Starts a block. */
void
evt_rdec_block(struct evt_rdec *d, const uint8_t *recs, size_t len,
    const uint8_t *guids, uint32_t nguid, uint32_t str_base,
    uint32_t shape_base)
{
	d->recs = recs;
	d->len = len;
	d->off = 0;
	d->guids = guids;
	d->nguid = nguid;
	d->gi = 0;
	d->prev_rx = d->prev_ticks = d->cur_rx = 0;
	d->next_str = str_base;
	d->next_shape = shape_base;
	d->items_left = 0;
	d->lost_running = d->lost_rx = 0;
	d->err = NULL;
}

/* Sets the decoder's error and returns EVT_ERR_CORRUPT. */
static int
rdec_fail(struct evt_rdec *d, size_t off, const char *what)
{
	d->err_off = off;
	d->err = what;
	return EVT_ERR_CORRUPT;
}

/* After a record that may have been a framed record: the open frame is
 * closed and the receive time unknown for the rest of the block. */
static void
rdec_lose_frame(struct evt_rdec *d)
{
	d->items_left = 0;
	d->lost_rx = 1;
}

/* Reads an unsigned integer object. */
static int
obj_uint(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return 0;
	*v = o->via.u64;
	return 1;
}

/* Reads a signed integer object. */
static int
obj_int(const msgpack_object *o, int64_t *v)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return 0;
		*v = (int64_t)o->via.u64;
		return 1;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 1;
	}
	return 0;
}

/* Applies a STRDEF record. */
static int
rdec_strdef(struct evt_rdec *d, const msgpack_object *a, size_t off)
{
	uint32_t id = d->next_str++;
	if (a->via.array.size != 2 || a->via.array.ptr[1].type !=
	    MSGPACK_OBJECT_STR) {
		/* The id is used up all the same: later ones keep theirs. */
		if (d->dict_grows && id == d->dict->nstr)
			evt_dict_str_add(d->dict, NULL, 0);
		return rdec_fail(d, off, "malformed string definition");
	}
	const msgpack_object_str *s = &a->via.array.ptr[1].via.str;
	if (id < d->dict->nstr) {
		size_t len;
		const char *have = evt_dict_str(d->dict, id, &len);
		if (have != NULL && (len != s->size ||
		    (len > 0 && memcmp(have, s->ptr, len) != 0)))
			return rdec_fail(d, off,
			    "string definition disagrees with the index");
		return 0;
	}
	if (!d->dict_grows)
		return rdec_fail(d, off, "string definition beyond the index");
	while (d->dict->nstr < id)
		if (evt_dict_str_add(d->dict, NULL, 0) < 0)
			return rdec_fail(d, off, "dictionary full");
	/* msgpack-c gives a NULL pointer for "", which the dictionary
	 * would take for a placeholder. */
	if (evt_dict_str_add(d->dict, s->size ? s->ptr : "", s->size) < 0)
		return rdec_fail(d, off, "dictionary full");
	return 0;
}

/* Applies a SHAPEDEF record. */
static int
rdec_shapedef(struct evt_rdec *d, const msgpack_object *a, size_t off)
{
	uint32_t n = a->via.array.size;
	uint32_t id = d->next_shape++;
	uint32_t f[2 * EVT_SHAPE_MAX_FIELDS];
	int ok = n % 2 == 1 && (n - 1) / 2 <= EVT_SHAPE_MAX_FIELDS;
	for (uint32_t i = 1; ok && i < n; i++) {
		uint64_t v;
		if (!obj_uint(&a->via.array.ptr[i], &v) || v > UINT32_MAX)
			ok = 0;
		else
			f[i - 1] = (uint32_t)v;
	}
	if (!ok) {
		/* The id is used up all the same: later ones keep theirs. */
		if (d->dict_grows && id == d->dict->nshape)
			evt_dict_shape_add(d->dict, NULL, 0);
		return rdec_fail(d, off, "malformed shape definition");
	}
	uint32_t nf = (n - 1) / 2;
	if (id < d->dict->nshape) {
		const struct evt_shape *sh = &d->dict->shape[id];
		if (sh->nval != UINT32_MAX && (sh->nfield != nf ||
		    memcmp(evt_dict_fields(d->dict, sh), f, nf * 8) != 0))
			return rdec_fail(d, off,
			    "shape definition disagrees with the index");
		return 0;
	}
	if (!d->dict_grows)
		return rdec_fail(d, off, "shape definition beyond the index");
	while (d->dict->nshape < id)
		if (evt_dict_shape_add(d->dict, NULL, 0) < 0)
			return rdec_fail(d, off, "dictionary full");
	if (evt_dict_shape_add(d->dict, f, nf) < 0) {
		/* Keep numbering aligned even if this one is unusable. */
		evt_dict_shape_add(d->dict, NULL, 0);
		return rdec_fail(d, off, "invalid shape definition");
	}
	return 0;
}

/* Validates an EVENT record against its shape and advances the running
 * time and the GUID column. */
static int
rdec_event(struct evt_rdec *d, const msgpack_object *a, struct evt_rec *r)
{
	uint64_t sid;
	/* An event we cannot decode may have carried time deltas and GUIDs:
	 * from then on the block's running time and GUID position are
	 * unknown, and every later event that uses them is damaged too. */
	if (a->via.array.size < 2 || !obj_uint(&a->via.array.ptr[1], &sid) ||
	    sid >= d->dict->nshape) {
		d->lost_running = 1;
		return rdec_fail(d, r->off, "event with an unknown shape");
	}
	const struct evt_shape *sh = &d->dict->shape[sid];
	if (sh->nval == UINT32_MAX) {
		d->lost_running = 1;
		return rdec_fail(d, r->off, "event whose shape was lost");
	}
	if (a->via.array.size != 2 + sh->nval) {
		d->lost_running = 1;
		return rdec_fail(d, r->off, "event does not match its shape");
	}
	uint32_t nguid = sh->nfield - sh->nval;
	if (nguid > d->nguid - d->gi) {
		d->lost_running = 1;
		return rdec_fail(d, r->off, "GUID column too short");
	}
	const uint32_t *f = evt_dict_fields(d->dict, sh);
	if (d->lost_running) {
		for (uint32_t i = 0; i < sh->nfield; i++)
			if (f[2 * i + 1] == EVT_ENC_GUID ||
			    f[2 * i + 1] == EVT_ENC_TIME)
				return rdec_fail(d, r->off, "time or id "
				    "unknown after a damaged record");
	}
	uint32_t vi = 2;
	for (uint32_t i = 0; i < sh->nfield; i++) {
		uint32_t enc = f[2 * i + 1];
		if (enc == EVT_ENC_GUID)
			continue;
		const msgpack_object *v = &a->via.array.ptr[vi++];
		if (enc == EVT_ENC_TIME) {
			int64_t dt = 0, t;
			if (!obj_int(v, &dt) ||
			    __builtin_add_overflow(d->prev_ticks, dt, &t)) {
				d->lost_running = 1;
				return rdec_fail(d, r->off, "bad time delta");
			}
			d->prev_ticks += dt;
		} else if (enc == EVT_ENC_STR) {
			uint64_t s;
			if (!obj_uint(v, &s) || s >= d->dict->nstr) {
				/* Time deltas before it were applied, the
				 * GUIDs not: T and g are wrong from here
				 * (records.md, "Damage"). */
				d->lost_running = 1;
				return rdec_fail(d, r->off,
				    "unknown string reference");
			}
		}
	}
	r->shape = (uint32_t)sid;
	r->guid0 = d->gi;
	d->gi += nguid;
	return 0;
}

/*
 * Checks that p[0..len) starts with one well-formed msgpack object nested
 * at most EVT_MP_MAX_DEPTH deep, every container's count plausible for the
 * bytes left (each element needs at least one byte), and sets *olen to its
 * size.  Returns 0, or -1 if it is malformed or truncated.  This runs
 * before msgpack-c so that hostile counts ("an array of 2^32 elements in 6
 * bytes") are corruption, not an allocation failure.
 */
#define EVT_MP_MAX_DEPTH 32
static int
mp_check(const uint8_t *p, size_t len, size_t *olen)
{
	uint64_t left[EVT_MP_MAX_DEPTH + 1]; /* elements left per level */
	int depth = 0;
	size_t off = 0;
	left[0] = 1;
	while (depth >= 0) {
		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		if (off >= len)
			return -1;
		uint8_t b = p[off++];
		uint64_t n = 0, skip = 0, kids = 0;
		size_t w = 0;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			continue;
		} else if (b >= 0x80 && b <= 0x8f) {
			kids = 2 * (uint64_t)(b & 0x0f);
		} else if (b >= 0x90 && b <= 0x9f) {
			kids = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			switch (b) {
			case 0xc4: case 0xd9: w = 1; break; /* bin8, str8 */
			case 0xc5: case 0xda: w = 2; break;
			case 0xc6: case 0xdb: w = 4; break;
			case 0xc7: w = 1; skip = 1; break;  /* ext8: + type */
			case 0xc8: w = 2; skip = 1; break;
			case 0xc9: w = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break; /* fixext: type + data */
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: w = 2; kids = 1; break; /* array16 */
			case 0xdd: w = 4; kids = 1; break;
			case 0xde: w = 2; kids = 2; break; /* map16 */
			case 0xdf: w = 4; kids = 2; break;
			default: return -1; /* 0xc1: never used */
			}
			if (w > 0) {
				if (len - off < w)
					return -1;
				for (size_t i = 0; i < w; i++)
					n = n << 8 | p[off + i];
				off += w;
				if (kids > 0)
					kids *= n;
				else
					skip += n;
			}
		}
		if (skip > len - off)
			return -1;
		off += skip;
		if (kids > 0) {
			if (kids > len - off || depth + 1 > EVT_MP_MAX_DEPTH)
				return -1;
			left[++depth] = kids;
		}
	}
	*olen = off;
	return 0;
}

/* Under skip_records: passes over the record of olen bytes at start
 * without unpacking it unless it is a definition or a SESSION marker (its
 * kind read from the array header); returns 1 if it did. */
static int
skip_record(struct evt_rdec *d, struct evt_rec *r, size_t start, size_t olen)
{
	const uint8_t *p = d->recs + start;
	size_t hl = p[0] >= 0x91 && p[0] <= 0x9f ? 1 : p[0] == 0xdc ? 3 :
	    p[0] == 0xdd ? 5 : 0;
	if (hl == 0 || hl >= olen || p[hl] > EVT_K_MAX ||
	    p[hl] == EVT_K_STRDEF || p[hl] == EVT_K_SHAPEDEF ||
	    p[hl] == EVT_K_SESSION)
		return 0;
	d->off = start + olen;
	memset(r, 0, sizeof *r);
	r->kind = p[hl];
	r->off = start;
	/* A header passed over has an item count we did not read: its
	 * items are taken as they come, should skipping stop among them. */
	if (r->kind != EVT_K_EVENT && r->kind != EVT_K_ITEM)
		d->items_left = r->kind == EVT_K_MSG ||
		    r->kind == EVT_K_STATES ? UINT32_MAX : 0;
	return 1;
}

/* Decodes the next record; see record.h. */
int
evt_rdec_next(struct evt_rdec *d, struct evt_rec *r)
{
	for (;;) {
		if (d->off >= d->len)
			return 0;
		msgpack_object o;
		size_t start = d->off, olen;
		if (mp_check(d->recs + d->off, d->len - d->off, &olen) != 0) {
			d->off = d->len; /* cannot find the next record */
			return rdec_fail(d, start, "record is not valid msgpack "
			    "(or truncated, or nested too deeply)");
		}
		if (d->skip_records && skip_record(d, r, start, olen))
			return 1;
		msgpack_zone_clear(&d->zone);
		msgpack_unpack_return ur = msgpack_unpack((const char *)d->recs,
		    d->len, &d->off, &d->zone, &o);
		if (ur != MSGPACK_UNPACK_SUCCESS &&
		    ur != MSGPACK_UNPACK_EXTRA_BYTES) {
			d->off = d->len; /* cannot find the next record */
			if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
				return EVT_ERR_NOMEM;
			return rdec_fail(d, start, ur ==
			    MSGPACK_UNPACK_CONTINUE ? "record truncated" :
			    "record is not valid msgpack");
		}
		uint64_t kind;
		if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size < 1 ||
		    !obj_uint(&o.via.array.ptr[0], &kind) || kind > EVT_K_MAX) {
			/* It may have been a framed record with a receive-time
			 * delta, an event with time deltas and GUIDs, or a
			 * header whose items follow (formats/records.md,
			 * "Damage"): all three are unknown from here on. */
			rdec_lose_frame(d);
			d->lost_running = 1;
			return rdec_fail(d, start, "unknown record kind");
		}
		/* The zone keeps o's children; copy the root to the decoder
		 * so r->o stays valid after we return. */
		msgpack_object *keep = msgpack_zone_malloc(&d->zone, sizeof o);
		if (keep == NULL)
			return EVT_ERR_NOMEM;
		*keep = o;
		memset(r, 0, sizeof *r);
		r->kind = (int)kind;
		r->off = start;
		r->o = keep;
		r->rx_us = d->cur_rx;
		const msgpack_object *p = o.via.array.ptr;
		uint32_t n = o.via.array.size;
		switch (kind) {
		case EVT_K_STRDEF: {
			int rc = rdec_strdef(d, &o, start);
			if (rc < 0)
				return rc;
			return 1;
		}
		case EVT_K_SHAPEDEF: {
			int rc = rdec_shapedef(d, &o, start);
			if (rc < 0)
				return rc;
			return 1;
		}
		case EVT_K_EVENT:
		case EVT_K_ITEM: {
			/* An EVENT is checked even without a header: it
			 * advances the running time and the GUID position. */
			int rc = kind == EVT_K_EVENT ? rdec_event(d, &o, r) :
			    n != 2 ? rdec_fail(d, start, "malformed item") : 1;
			if (d->items_left == 0)
				return rdec_fail(d, start, "item without a "
				    "header (lost with a damaged record)");
			d->items_left--;
			return rc < 0 ? rc : 1;
		}
		default:
			break;
		}
		/* Framed records: [kind, rx delta, ...].  Whatever its fate,
		 * this record ends the items of the header before it. */
		d->items_left = 0;
		int64_t dt, rx;
		if (n < 3 || !obj_int(&p[1], &dt)) {
			d->lost_rx = 1;
			return rdec_fail(d, start, "malformed record header");
		}
		if (d->lost_rx)
			return rdec_fail(d, start, "receive time unknown after "
			    "a damaged record");
		if (__builtin_add_overflow(d->prev_rx, dt, &rx) ||
		    rx < EVT_RX_MIN || rx > EVT_RX_MAX) {
			d->lost_rx = 1;
			return rdec_fail(d, start, "receive time out of range");
		}
		d->prev_rx = rx;
		d->cur_rx = d->prev_rx;
		r->rx_us = d->cur_rx;
		if (kind == EVT_K_MSG || kind == EVT_K_STATES) {
			uint64_t ni, pos;
			if (!obj_uint(&p[2], &ni) || ni > UINT32_MAX)
				return rdec_fail(d, start, "bad item count");
			if (n == 5) {
				if (!obj_uint(&p[3], &pos) ||
				    p[4].type != MSGPACK_OBJECT_MAP ||
				    pos > p[4].via.map.size)
					return rdec_fail(d, start,
					    "bad message envelope");
			} else if (n != 3 || kind == EVT_K_STATES) {
				return rdec_fail(d, start,
				    "malformed message header");
			}
			r->nitems = (uint32_t)ni;
			d->items_left = (uint32_t)ni;
		} else if (kind == EVT_K_RAW) {
			if (n != 3 || (p[2].type != MSGPACK_OBJECT_BIN &&
			    p[2].type != MSGPACK_OBJECT_STR))
				return rdec_fail(d, start, "malformed raw frame");
		} else if (n != 3) {
			return rdec_fail(d, start, "malformed record");
		}
		return 1;
	}
}

/* Makes room for n bytes in out. */
static int
need(struct evt_buf *out, size_t n)
{
	return evt_buf_grow(out, n) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Appends the JSON text of a generic msgpack value. */
static int
put_value(struct evt_rdec *d, const msgpack_object *o, struct evt_buf *out)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return evt_buf_put(out, "null", 4);
	case MSGPACK_OBJECT_BOOLEAN:
		return o->via.boolean ? evt_buf_put(out, "true", 4) :
		    evt_buf_put(out, "false", 5);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return evt_json_put_int(out, 0, o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return evt_json_put_int(out, 1, 0 - (uint64_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64: {
		/* Not written by evtape; shortest text that reads back. */
		char tmp[40];
		double v = o->via.f64;
		if (v != v || v - v != 0)
			return evt_buf_put(out, "null", 4);
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(tmp, sizeof tmp, "%.*g", prec, v);
			if (strtod(tmp, NULL) == v)
				break;
		}
		if (strpbrk(tmp, ".eE") == NULL)
			strcat(tmp, ".0");
		return evt_buf_put(out, tmp, strlen(tmp));
	}
	case MSGPACK_OBJECT_STR:
		return evt_json_put_string(out, o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_EXT: {
		const char *s = o->via.ext.ptr;
		uint32_t n = o->via.ext.size;
		if (o->via.ext.type != EVT_EXT_NUMBER || n == 0)
			return rdec_fail(d, 0, "unknown extension value");
		for (uint32_t i = 0; i < n; i++)
			if (strchr("0123456789+-.eE", s[i]) == NULL ||
			    s[i] == 0)
				return rdec_fail(d, 0, "bad number text");
		return evt_buf_put(out, s, n);
	}
	case MSGPACK_OBJECT_ARRAY: {
		if (evt_buf_putc(out, '[') != 0)
			return EVT_ERR_NOMEM;
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (i > 0 && evt_buf_putc(out, ',') != 0)
				return EVT_ERR_NOMEM;
			int rc = put_value(d, &o->via.array.ptr[i], out);
			if (rc < 0)
				return rc;
		}
		return evt_buf_putc(out, ']');
	}
	case MSGPACK_OBJECT_MAP: {
		if (evt_buf_putc(out, '{') != 0)
			return EVT_ERR_NOMEM;
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR)
				return rdec_fail(d, 0, "map key not a string");
			if (i > 0 && evt_buf_putc(out, ',') != 0)
				return EVT_ERR_NOMEM;
			int rc = evt_json_put_string(out, kv->key.via.str.ptr,
			    kv->key.via.str.size);
			if (rc == 0)
				rc = evt_buf_putc(out, ':');
			if (rc == 0)
				rc = put_value(d, &kv->val, out);
			if (rc < 0)
				return rc;
		}
		return evt_buf_putc(out, '}');
	}
	default:
		return rdec_fail(d, 0, "value type not allowed");
	}
}

/* Appends the JSON of one field value of an event. */
static int
put_field(struct evt_rdec *d, uint32_t enc, const msgpack_object *v,
    const uint8_t *guid, int64_t ticks, struct evt_buf *out)
{
	switch (enc) {
	case EVT_ENC_GUID:
		if (need(out, 38) != 0)
			return EVT_ERR_NOMEM;
		out->p[out->len++] = '"';
		evt_guid_format(guid, (char *)out->p + out->len);
		out->len += 36;
		out->p[out->len++] = '"';
		return 0;
	case EVT_ENC_TIME:
		if (need(out, EVT_TICKS_LEN + 2) != 0)
			return EVT_ERR_NOMEM;
		out->p[out->len] = '"';
		if (evt_ticks_format(ticks, (char *)out->p + out->len + 1) != 0)
			return rdec_fail(d, 0, "time out of range");
		out->len += EVT_TICKS_LEN + 1;
		out->p[out->len++] = '"';
		return 0;
	case EVT_ENC_STR: {
		size_t len;
		const char *s = evt_dict_str(d->dict, (uint32_t)v->via.u64,
		    &len);
		if (s == NULL)
			return rdec_fail(d, 0, "string definition was lost");
		return evt_json_put_string(out, s, len);
	}
	default:
		return put_value(d, v, out);
	}
}

/*
 * Walks the fields of an EVENT record, calling back for each with its
 * value, GUID and absolute ticks.  The running time of the record is
 * recomputed backwards from the decoder's (which is past this record).
 */
struct field_ctx {
	uint32_t key, enc;
	const msgpack_object *v;
	const uint8_t *guid;
	int64_t ticks;
};

/* Fills ctx[] for the fields of event r; returns the field count. */
static int
event_fields(struct evt_rdec *d, const struct evt_rec *r, struct field_ctx *ctx)
{
	const struct evt_shape *sh = &d->dict->shape[r->shape];
	const uint32_t *f = evt_dict_fields(d->dict, sh);
	const msgpack_object *p = r->o->via.array.ptr;
	uint32_t vi = 2, gi = r->guid0;
	/* Times are deltas; the decoder holds the value after the last
	 * TIME field of this record, so sum this record's deltas first. */
	/* Modulo 2^64: the partial sums may overflow, but every time the
	 * decoder reached along the way was within int64. */
	uint64_t sum = 0;
	for (uint32_t i = 0, k = 2; i < sh->nfield; i++) {
		if (f[2 * i + 1] == EVT_ENC_GUID)
			continue;
		if (f[2 * i + 1] == EVT_ENC_TIME) {
			int64_t dt = 0;
			obj_int(&p[k], &dt);
			sum += (uint64_t)dt;
		}
		k++;
	}
	uint64_t t = (uint64_t)d->prev_ticks - sum;
	for (uint32_t i = 0; i < sh->nfield; i++) {
		ctx[i].key = f[2 * i];
		ctx[i].enc = f[2 * i + 1];
		ctx[i].v = NULL;
		ctx[i].guid = NULL;
		if (ctx[i].enc == EVT_ENC_GUID) {
			ctx[i].guid = d->guids + 16 * (size_t)gi++;
			continue;
		}
		ctx[i].v = &p[vi++];
		if (ctx[i].enc == EVT_ENC_TIME) {
			int64_t dt = 0;
			obj_int(ctx[i].v, &dt);
			t += (uint64_t)dt;
			ctx[i].ticks = (int64_t)t;
		}
	}
	return (int)sh->nfield;
}

/* Appends the JSON object of an EVENT or ITEM record. */
int
evt_rdec_item_json(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out)
{
	if (r->kind == EVT_K_ITEM)
		return put_value(d, &r->o->via.array.ptr[1], out);
	if (r->kind != EVT_K_EVENT)
		return EVT_ERR_ARG;
	struct field_ctx ctx[EVT_SHAPE_MAX_FIELDS];
	int nf = event_fields(d, r, ctx);
	if (evt_buf_putc(out, '{') != 0)
		return EVT_ERR_NOMEM;
	for (int i = 0; i < nf; i++) {
		size_t kl;
		const char *k = evt_dict_str(d->dict, ctx[i].key, &kl);
		if (k == NULL)
			return rdec_fail(d, r->off, "key definition was lost");
		if (i > 0 && evt_buf_putc(out, ',') != 0)
			return EVT_ERR_NOMEM;
		int rc = evt_json_put_string(out, k, kl);
		if (rc == 0)
			rc = evt_buf_putc(out, ':');
		if (rc == 0)
			rc = put_field(d, ctx[i].enc, ctx[i].v, ctx[i].guid,
			    ctx[i].ticks, out);
		if (rc < 0) {
			if (rc == EVT_ERR_CORRUPT)
				d->err_off = r->off;
			return rc;
		}
	}
	return evt_buf_putc(out, '}');
}

/* Appends bytes to a flat item. */
static int
flat_put(struct evt_buf *out, const void *p, size_t n)
{
	return evt_buf_put(out, p, n) == 0 ? 0 : EVT_ERR_NOMEM;
}

/* Appends a flat string (kind, length, bytes) if s is plain (known to
 * be: plain), and its dictionary id sid to sids (unless NULL): 0, 1 if it
 * is not plain (a TEXT item), EVT_ERR_NOMEM. */
static int
flat_str(struct evt_buf *out, const char *s, size_t len, int plain,
    struct evt_buf *sids, uint32_t sid)
{
	uint8_t h[5] = {EVT_FV_STR};
	uint32_t l = (uint32_t)len;
	if (len > UINT32_MAX || (!plain && !evt_json_plain(s, len)))
		return 1;
	memcpy(h + 1, &l, 4);
	return flat_put(out, h, 5) != 0 || flat_put(out, s, len) != 0 ||
	    (sids != NULL && flat_put(sids, &sid, 4) != 0) ?
	    EVT_ERR_NOMEM : 0;
}

/* Appends the flat form of generic value o if it is a plain string or a
 * scalar but a float: 0, 1 if not, EVT_ERR_NOMEM. */
static int
flat_generic(struct evt_buf *out, const msgpack_object *o,
    struct evt_buf *sids)
{
	uint8_t h[9];
	size_t n = 1;
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		h[0] = EVT_FV_NIL;
		break;
	case MSGPACK_OBJECT_BOOLEAN:
		h[0] = o->via.boolean ? EVT_FV_TRUE : EVT_FV_FALSE;
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		h[0] = EVT_FV_UINT;
		memcpy(h + 1, &o->via.u64, 8);
		n = 9;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		h[0] = EVT_FV_INT;
		memcpy(h + 1, &o->via.i64, 8);
		n = 9;
		break;
	case MSGPACK_OBJECT_STR:
		return flat_str(out, o->via.str.ptr, o->via.str.size, 0, sids,
		    UINT32_MAX);
	default:
		return 1;
	}
	return flat_put(out, h, n);
}

/* Appends the flat EVENT item of event r: 0, 1 if r needs a TEXT item
 * (its text is what evt_rdec_item_json makes of it, errors included), or
 * EVT_ERR_NOMEM. */
static int
rdec_flat(struct evt_rdec *d, const struct evt_rec *r, struct evt_buf *out,
    struct evt_buf *sids)
{
	struct field_ctx ctx[EVT_SHAPE_MAX_FIELDS];
	int nf = event_fields(d, r, ctx);
	uint8_t h[17] = {EVT_FL_EVENT};
	uint32_t n32 = (uint32_t)nf;
	memcpy(h + 1, &n32, 4);
	if (flat_put(out, h, 5) != 0)
		return EVT_ERR_NOMEM;
	for (int i = 0; i < nf; i++) {
		size_t kl, sl;
		const char *k = evt_dict_str_plain(d->dict, ctx[i].key, &kl);
		if (k == NULL)
			return 1;
		n32 = (uint32_t)kl;
		if (flat_put(out, &n32, 4) != 0 || flat_put(out, k, kl) != 0)
			return EVT_ERR_NOMEM;
		int rc;
		switch (ctx[i].enc) {
		case EVT_ENC_GUID:
			h[0] = EVT_FV_GUID;
			memcpy(h + 1, ctx[i].guid, 16);
			rc = flat_put(out, h, 17);
			break;
		case EVT_ENC_TIME:
			if (!evt_ticks_valid(ctx[i].ticks))
				return 1;
			h[0] = EVT_FV_TIME;
			memcpy(h + 1, &ctx[i].ticks, 8);
			rc = flat_put(out, h, 9);
			break;
		case EVT_ENC_STR: {
			uint32_t sid = (uint32_t)ctx[i].v->via.u64;
			const char *s = evt_dict_str_plain(d->dict, sid, &sl);
			rc = s != NULL ? flat_str(out, s, sl, 1, sids, sid) : 1;
			break;
		}
		default:
			rc = flat_generic(out, ctx[i].v, sids);
			break;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Appends the flat form of an EVENT or ITEM record; see record.h. */
int
evt_rdec_event_flat(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out, struct evt_buf *sids)
{
	size_t mark = out->len, smark = sids != NULL ? sids->len : 0;
	if (r->kind == EVT_K_EVENT) {
		int rc = rdec_flat(d, r, out, sids);
		if (rc == 0)
			return 0;
		out->len = mark;
		if (sids != NULL)
			sids->len = smark;
		if (rc < 0)
			return rc;
	}
	if (evt_buf_putc(out, EVT_FL_TEXT) != 0)
		return EVT_ERR_NOMEM;
	int rc = evt_rdec_item_json(d, r, out);
	if (rc < 0)
		out->len = mark;
	return rc;
}

/* Appends the members of an envelope map with indexes [from, to). */
static int
put_members(struct evt_rdec *d, const msgpack_object *map, uint32_t from,
    uint32_t to, int comma, struct evt_buf *out)
{
	for (uint32_t i = from; i < to; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (kv->key.type != MSGPACK_OBJECT_STR)
			return rdec_fail(d, 0, "envelope key not a string");
		if ((comma || i > from) && evt_buf_putc(out, ',') != 0)
			return EVT_ERR_NOMEM;
		int rc = evt_json_put_string(out, kv->key.via.str.ptr,
		    kv->key.via.str.size);
		if (rc == 0)
			rc = evt_buf_putc(out, ':');
		if (rc == 0)
			rc = put_value(d, &kv->val, out);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Appends the head (and prepares the tail) of a framed record. */
int
evt_rdec_frame_head(struct evt_rdec *d, const struct evt_rec *r,
    struct evt_buf *out, struct evt_buf *tail)
{
	const msgpack_object *p = r->o->via.array.ptr;
	tail->len = 0;
	switch (r->kind) {
	case EVT_K_MSG:
	case EVT_K_STATES: {
		const char *name = r->kind == EVT_K_MSG ? "\"events\":[" :
		    "\"states\":[";
		if (r->o->via.array.size == 3) {
			if (evt_buf_putc(out, '{') != 0 ||
			    evt_buf_put(out, name, strlen(name)) != 0 ||
			    evt_buf_put(tail, "]}", 2) != 0)
				return EVT_ERR_NOMEM;
			return 0;
		}
		uint32_t pos = (uint32_t)p[3].via.u64;
		const msgpack_object *map = &p[4];
		int rc;
		if (evt_buf_putc(out, '{') != 0)
			return EVT_ERR_NOMEM;
		if ((rc = put_members(d, map, 0, pos, 0, out)) < 0)
			return rc;
		if ((pos > 0 && evt_buf_putc(out, ',') != 0) ||
		    evt_buf_put(out, name, strlen(name)) != 0 ||
		    evt_buf_putc(tail, ']') != 0)
			return EVT_ERR_NOMEM;
		if ((rc = put_members(d, map, pos, map->via.map.size, 1,
		    tail)) < 0)
			return rc;
		return evt_buf_putc(tail, '}');
	}
	case EVT_K_RAW:
		if (p[2].type == MSGPACK_OBJECT_BIN)
			return evt_buf_put(out, p[2].via.bin.ptr,
			    p[2].via.bin.size);
		return evt_buf_put(out, p[2].via.str.ptr, p[2].via.str.size);
	case EVT_K_JSON:
	case EVT_K_SESSION:
	case EVT_K_GAP:
	case EVT_K_CONFIG:
		return put_value(d, &p[2], out);
	default:
		return EVT_ERR_ARG;
	}
}

/* Whether string id `id` is the key kid (= key[0..kl)): a segment written
 * in dictionary units defines the same key once per unit, under several
 * ids (formats/records.md, "Dictionary units"). */
static int
same_key(const struct evt_dict *dict, uint32_t id, uint32_t kid,
    const char *key, size_t kl)
{
	size_t len;
	const char *s;
	if (id == kid)
		return 1;
	s = evt_dict_str(dict, id, &len);
	return s != NULL && len == kl && memcmp(s, key, kl) == 0;
}

/* Finds field `key` of event r; returns its index in ctx or -1. */
static int
find_field(struct evt_rdec *d, const struct evt_rec *r, const char *key,
    struct field_ctx *ctx)
{
	if (r->kind != EVT_K_EVENT)
		return -1;
	size_t kl = strlen(key);
	int64_t kid = evt_dict_str_find(d->dict, key, kl);
	if (kid < 0)
		return -1;
	int nf = event_fields(d, r, ctx);
	for (int i = 0; i < nf; i++)
		if (same_key(d->dict, ctx[i].key, (uint32_t)kid, key, kl) &&
		    (ctx[i].enc != EVT_ENC_JSON ||
		    ctx[i].v->type == MSGPACK_OBJECT_STR))
			return i;
	return -1;
}

/* Writes the text of a string field; see record.h. */
int
evt_rdec_field(struct evt_rdec *d, const struct evt_rec *r, const char *key,
    char *out, size_t cap)
{
	struct field_ctx ctx[EVT_SHAPE_MAX_FIELDS];
	int i = find_field(d, r, key, ctx);
	if (i < 0)
		return EVT_ERR_NOTFOUND;
	const char *s;
	size_t len;
	char tmp[40];
	switch (ctx[i].enc) {
	case EVT_ENC_GUID:
		evt_guid_format(ctx[i].guid, tmp);
		s = tmp;
		len = 36;
		break;
	case EVT_ENC_TIME:
		if (evt_ticks_format(ctx[i].ticks, tmp) != 0)
			return EVT_ERR_CORRUPT;
		s = tmp;
		len = EVT_TICKS_LEN;
		break;
	case EVT_ENC_STR:
		s = evt_dict_str(d->dict, (uint32_t)ctx[i].v->via.u64, &len);
		if (s == NULL)
			return EVT_ERR_CORRUPT;
		break;
	default:
		if (ctx[i].v->type != MSGPACK_OBJECT_STR)
			return EVT_ERR_NOTFOUND;
		s = ctx[i].v->via.str.ptr;
		len = ctx[i].v->via.str.size;
		break;
	}
	if (len >= cap)
		return EVT_ERR_TOOBIG;
	if (len > 0)
		memcpy(out, s, len);
	out[len] = 0;
	return (int)len;
}

/* Finds, from field *i (its value at array index *vi) of shape sh on, the
 * next field whose key is string id key (text kt[0..kl), NULL: by id
 * only); moves *i and *vi there; 0 if there is none. */
static int
next_key_field(const struct evt_dict *dict, const struct evt_shape *sh,
    uint32_t *i, uint32_t *vi, uint32_t key, const char *kt, size_t kl)
{
	const uint32_t *f = evt_dict_fields(dict, sh);
	for (; *i < sh->nfield; (*i)++) {
		if (f[2 * *i] == key || (kt != NULL &&
		    same_key(dict, f[2 * *i], key, kt, kl)))
			return 1;
		if (f[2 * *i + 1] != EVT_ENC_GUID)
			(*vi)++;
	}
	return 0;
}

/* Where the first field with a key is in events of a shape; see
 * record.h. */
void
evt_rdec_key_at(const struct evt_rdec *d, uint32_t shape, int64_t key,
    uint32_t *vi, uint32_t *enc)
{
	const struct evt_shape *sh = &d->dict->shape[shape];
	size_t kl = 0;
	const char *kt = key < 0 ? NULL : evt_dict_str(d->dict, (uint32_t)key,
	    &kl);
	uint32_t i = 0;
	*vi = 2;
	if (key < 0 || !next_key_field(d->dict, sh, &i, vi, (uint32_t)key, kt,
	    kl)) {
		*vi = 0;
		return;
	}
	*enc = evt_dict_fields(d->dict, sh)[2 * i + 1];
}

/* The string ids of several fields at once; see record.h. */
void
evt_rdec_strids(const struct evt_rdec *d, const struct evt_rec *r,
    const int64_t *keys, int n, int64_t *out)
{
	for (int j = 0; j < n; j++)
		out[j] = -1;
	if (r->kind != EVT_K_EVENT)
		return;
	const struct evt_shape *sh = &d->dict->shape[r->shape];
	const uint32_t *f = evt_dict_fields(d->dict, sh);
	const msgpack_object *p = r->o->via.array.ptr;
	for (int j = 0; j < n; j++) {
		if (keys[j] < 0)
			continue;
		size_t kl = 0;
		const char *kt = evt_dict_str(d->dict, (uint32_t)keys[j], &kl);
		uint32_t i = 0, vi = 2;
		/* A JSON value that is not a string does not count: the
		 * next field with the key may. */
		for (; next_key_field(d->dict, sh, &i, &vi, (uint32_t)keys[j],
		    kt, kl); i++) {
			uint32_t enc = f[2 * i + 1];
			if (enc == EVT_ENC_STR)
				out[j] = (int64_t)p[vi].via.u64;
			else if (enc != EVT_ENC_JSON ||
			    p[vi].type == MSGPACK_OBJECT_STR)
				out[j] = -2;
			if (out[j] != -1)
				break;
			vi += enc != EVT_ENC_GUID;
		}
	}
}

/* The id key of an event's id field; see record.h. */
int
evt_rdec_id_key(struct evt_rdec *d, const struct evt_rec *r, uint64_t *key)
{
	struct field_ctx ctx[EVT_SHAPE_MAX_FIELDS];
	int i = find_field(d, r, "id", ctx);
	if (i < 0)
		return EVT_ERR_NOTFOUND;
	if (ctx[i].enc == EVT_ENC_GUID) {
		*key = evt_guid_key(ctx[i].guid);
		return 0;
	}
	char id[EVT_REC_MAX_INTERN + 1];
	int n = evt_rdec_field(d, r, "id", id, sizeof id);
	if (n < 0)
		return n;
	*key = evt_id_key(id, (size_t)n);
	return 0;
}

/* Returns the interned string id of field `key`, or -1. */
int64_t
evt_rdec_field_strid(struct evt_rdec *d, const struct evt_rec *r,
    const char *key)
{
	struct field_ctx ctx[EVT_SHAPE_MAX_FIELDS];
	int i = find_field(d, r, key, ctx);
	if (i < 0 || ctx[i].enc != EVT_ENC_STR)
		return -1;
	return (int64_t)ctx[i].v->via.u64;
}

/* mp_check for other parsers of msgpack file bytes; see record.h. */
int
evt_mp_check(const uint8_t *p, size_t len, size_t *olen)
{
	return mp_check(p, len, olen);
}
