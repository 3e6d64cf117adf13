/*
 * ckpt.c: state checkpoints (ckpt.h; formats/segment.md, "State
 * checkpoint", is the authority on the encoding).
 *
 * Data flow, writing: every frame the segment writer appends ->
 * evt_ckb_frame_tok: a STATES frame replaces the table, the stateful
 * items of a MSG frame update it (the same state.c table a reader fills),
 * their texts first put in the form a reader rebuilds; the seal packs the
 * table (evt_ckb_pack).  The builder outlives its segment: the archive
 * copies it into the next segment's writer at rotation.  Reading: the
 * index's "checkpoint" value -> evt_ckpt_decode -> evt_ckpt_state.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "evtape/archive.h"
#include "evtape/ckpt.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/state.h"

/* The keys of the checkpoint map (formats/segment.md). */
#define CK_INCOMPLETE "incomplete"
#define CK_BASE_SEQ "base_seq"
#define CK_BASE_STATES "base_states"
#define CK_RX_MAX "rx_max"
#define CK_ENTRIES "entries"

struct evt_ckb {
	struct evt_state *t;
	int known;
	uint64_t base_seq;
	int base_states;
	int has_rx;
	int64_t rx_max;
	struct evt_buf scratch;	/* an item in the reader's form */
};

/* Whether EVTAPE_NO_CHECKPOINT is set (to anything but "" or "0"). */
int
evt_ckpt_disabled(void)
{
	const char *v = getenv("EVTAPE_NO_CHECKPOINT");
	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* Frees the arrays of a decoded checkpoint. */
void
evt_ckpt_free(struct evt_ckpt *c)
{
	free(c->ev);
	free(c->len);
	memset(c, 0, sizeof *c);
}

/* Allocates the entry arrays for n texts. */
static int
ckpt_alloc(struct evt_ckpt *c, size_t n)
{
	c->ev = calloc(n + 1, sizeof *c->ev);
	c->len = calloc(n + 1, sizeof *c->len);
	return c->ev != NULL && c->len != NULL ? 0 : EVT_ERR_NOMEM;
}

/*
 * Building
 */

/* A new builder; see ckpt.h. */
struct evt_ckb *
evt_ckb_new(void)
{
	struct evt_ckb *b = calloc(1, sizeof *b);
	if (b != NULL && (b->t = evt_state_new()) == NULL) {
		free(b);
		b = NULL;
	}
	return b;
}

/* A copy; see ckpt.h. */
struct evt_ckb *
evt_ckb_copy(struct evt_ckb *b)
{
	struct evt_ckb *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	*c = *b;
	memset(&c->scratch, 0, sizeof c->scratch);
	if (evt_state_settle(b->t) != 0 ||
	    (c->t = evt_state_copy(b->t)) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

/* Frees a builder. */
void
evt_ckb_free(struct evt_ckb *b)
{
	if (b == NULL)
		return;
	evt_state_free(b->t);
	evt_buf_free(&b->scratch);
	free(b);
}

/* Empty and known from segment seq on. */
void
evt_ckb_start(struct evt_ckb *b, uint64_t seq)
{
	evt_state_clear(b->t);
	b->known = 1;
	b->base_seq = seq;
	b->base_states = 0;
	b->has_rx = 0;
}

/* Not known until a STATES frame. */
void
evt_ckb_unknown(struct evt_ckb *b)
{
	evt_state_clear(b->t);
	b->known = 0;
}

/* Whether the table is known. */
int
evt_ckb_known(const struct evt_ckb *b)
{
	return b->known;
}

/* Takes a stored checkpoint as the table; see ckpt.h. */
int
evt_ckb_seed(struct evt_ckb *b, const struct evt_ckpt *c)
{
	if (!c->complete) {
		evt_ckb_unknown(b);
		return 0;
	}
	int rc = evt_ckpt_state(c, b->t);
	b->known = rc == 0;
	b->base_seq = c->base_seq;
	b->base_states = c->base_states;
	b->has_rx = c->has_rx;
	b->rx_max = c->rx_max;
	return rc;
}

/* Notes the receive time of a frame the table derives from; a STATES
 * frame makes the table known, based on it. */
static void
note_frame(struct evt_ckb *b, uint64_t seq, int kind, int64_t rx)
{
	if (kind == EVT_K_STATES) {
		evt_state_clear(b->t);
		b->known = 1;
		b->base_seq = seq;
		b->base_states = 1;
		b->has_rx = 0;
	}
	if (!b->has_rx || rx > b->rx_max)
		b->rx_max = rx;
	b->has_rx = 1;
}

/* Applies a frame of reader texts; see ckpt.h. */
int
evt_ckb_frame(struct evt_ckb *b, uint64_t seq, int kind, int64_t rx,
    const char *const *ev, const size_t *lens, size_t n)
{
	if (kind != EVT_K_MSG && kind != EVT_K_STATES)
		return 0;
	note_frame(b, seq, kind, rx);
	if (!b->known)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (evt_state_apply(b->t, ev[i], lens[i]) == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
	return 0;
}

/* Applies a MSG frame whose n items are the flat items flat[span[2i] ..
 * span[2i+1]), those pick says (NULL: all).  0 or EVT_ERR_NOMEM. */
static int
frame_flat(struct evt_ckb *b, uint64_t seq, int64_t rx, const uint8_t *flat,
    const size_t *span, const uint8_t *pick, size_t n)
{
	note_frame(b, seq, EVT_K_MSG, rx);
	if (!b->known)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((pick == NULL || pick[i]) && evt_state_apply_flat(b->t,
		    flat + span[2 * i], span[2 * i + 1] - span[2 * i]) ==
		    EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
	return 0;
}

/* Applies a MSG frame of flat items; see ckpt.h. */
int
evt_ckb_frame_flat(struct evt_ckb *b, uint64_t seq, int64_t rx,
    const struct evt_flat_msg *m)
{
	return frame_flat(b, seq, rx, m->flat, m->span, m->pick, m->n);
}

/* Appends token i of buf in the form a reader rebuilds (records.md,
 * "Rebuilding JSON": compact, strings unescaped and written again);
 * returns the token after its subtree, or 0 (out of memory). */
static uint32_t
canon(const struct evt_jtok *tok, const char *buf, uint32_t i,
    struct evt_buf *out)
{
	const struct evt_jtok *t = &tok[i];
	switch (t->type) {
	case EVT_J_STRING:
		if (!(t->flags & EVT_JF_ESCAPED)) {
			/* Nothing a writer escapes is left unescaped in
			 * valid JSON: the bytes as they are. */
			if (evt_buf_putc(out, '"') != 0 ||
			    evt_buf_put(out, buf + t->off, t->len) != 0 ||
			    evt_buf_putc(out, '"') != 0)
				return 0;
		} else {
			size_t max = evt_json_string_max(t->len);
			if (evt_buf_grow(out, t->len + max) != 0)
				return 0;
			char *tmp = (char *)out->p + out->len + max;
			int n = evt_json_unescape_wtf8(buf + t->off, t->len,
			    tmp);
			if (n < 0)
				n = 0; /* the tokenizer checked it */
			out->len += evt_json_write_string((char *)out->p +
			    out->len, tmp, (size_t)n);
		}
		return i + 1;
	case EVT_J_ARRAY:
	case EVT_J_OBJECT: {
		int obj = t->type == EVT_J_OBJECT;
		uint32_t n = obj ? 2 * t->size : t->size, j = i + 1;
		if (evt_buf_putc(out, obj ? '{' : '[') != 0)
			return 0;
		for (uint32_t m = 0; m < n && j != 0; m++) {
			if (m > 0 && evt_buf_putc(out, obj && m % 2 == 1 ?
			    ':' : ',') != 0)
				return 0;
			j = canon(tok, buf, j, out);
		}
		return j != 0 && evt_buf_putc(out, obj ? '}' : ']') == 0 ? j :
		    0;
	}
	default:
		return evt_buf_put(out, buf + t->off, t->len) == 0 ? i + 1 : 0;
	}
}

/*
 * Whether the object at token j is already in the form a reader rebuilds
 * (no escape, no whitespace: its length is what its tokens need); then
 * *f gets its top-level fields, as evt_ess_event_fields would find them
 * (string values only, the last of duplicate members).
 */
static int
item_plain(const struct evt_jtok *tok, const char *buf, uint32_t j,
    struct evt_ess_event_fields *f)
{
	uint64_t want = 0;
	for (uint32_t k = j; k < tok[j].next; k++) {
		const struct evt_jtok *t = &tok[k];
		if (t->type == EVT_J_STRING) {
			if (t->flags & EVT_JF_ESCAPED)
				return 0;
			want += (uint64_t)t->len + 2;
		} else if (t->type == EVT_J_ARRAY || t->type == EVT_J_OBJECT) {
			uint64_t n = t->type == EVT_J_OBJECT ? 2 * t->size :
			    t->size;
			want += 2 + (n > 0 ? n - 1 : 0);
		} else {
			want += t->len;
		}
	}
	if (want != tok[j].len)
		return 0;
	memset(f, 0, sizeof *f);
	uint32_t k = j + 1;
	for (uint32_t m = 0; m < tok[j].size; m++) {
		const struct evt_jtok *key = &tok[k], *v = &tok[key->next];
		const char *kp = buf + key->off;
		if (v->type == EVT_J_STRING) {
			if (key->len == 6 && memcmp(kp, "source", 6) == 0) {
				f->source = buf + v->off;
				f->source_len = v->len;
			} else if (key->len == 12 &&
			    memcmp(kp, "stategroupid", 12) == 0) {
				f->group = buf + v->off;
				f->group_len = v->len;
			}
		}
		k = v->next;
	}
	return 1;
}

/* Applies a frame being written; see ckpt.h. */
int
evt_ckb_frame_tok(struct evt_ckb *b, uint64_t seq, int kind, int64_t rx,
    const char *buf, size_t len, const struct evt_jtok *tok, uint32_t arr)
{
	if (kind != EVT_K_MSG && kind != EVT_K_STATES)
		return 0;
	note_frame(b, seq, kind, rx);
	if (!b->known)
		return 0;
	uint32_t j = arr + 1;
	for (uint32_t k = 0; k < tok[arr].size; k++) {
		const struct evt_jtok *t = &tok[j];
		struct evt_ess_event_fields f;
		int rc = 0;
		if (t->type != EVT_J_OBJECT)
			; /* never stateful */
		else if (item_plain(tok, buf, j, &f))
			rc = evt_state_apply_fields(b->t, buf + t->off, t->len,
			    &f);
		else {
			b->scratch.len = 0;
			if (canon(tok, buf, j, &b->scratch) == 0)
				return EVT_ERR_NOMEM;
			rc = evt_state_apply(b->t, (const char *)b->scratch.p,
			    b->scratch.len);
		}
		if (rc == EVT_ERR_NOMEM)
			return rc;
		j = t->next;
	}
	return 0;
}

/* Points c at the table; see ckpt.h. */
int
evt_ckb_view(struct evt_ckb *b, struct evt_ckpt *c)
{
	memset(c, 0, sizeof *c);
	/* The table's flat entries become texts: the same table. */
	if (evt_state_settle(b->t) != 0)
		return EVT_ERR_NOMEM;
	const char *const *st;
	const size_t *lens;
	size_t n = evt_state_list(b->t, &st, &lens), bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += lens[i];
	if (!b->known || n > EVT_CKPT_MAX_ENTRIES || bytes > EVT_CKPT_MAX_BYTES)
		return 0; /* incomplete */
	if (ckpt_alloc(c, n) != 0) {
		evt_ckpt_free(c);
		return EVT_ERR_NOMEM;
	}
	c->complete = 1;
	c->base_seq = b->base_seq;
	c->base_states = b->base_states;
	c->has_rx = b->has_rx;
	c->rx_max = b->rx_max;
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		c->ev[i] = st[i];
		c->len[i] = lens[i];
	}
	return 0;
}

/* msgpack-c write callback into an evt_buf. */
static int
pack_cb(void *data, const char *p, size_t n)
{
	return evt_buf_put(data, p, n) == 0 ? 0 : -1;
}

/* Packs a map key. */
static int
put_key(msgpack_packer *pk, const char *k)
{
	return msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* Appends the packed checkpoint; see ckpt.h. */
int
evt_ckb_pack(struct evt_ckb *b, struct evt_buf *out)
{
	struct evt_ckpt c;
	if (evt_ckb_view(b, &c) != 0)
		return EVT_ERR_NOMEM;
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, pack_cb);
	int bad = 0;
	if (!c.complete) {
		bad |= msgpack_pack_map(&pk, 1);
		bad |= put_key(&pk, CK_INCOMPLETE);
		bad |= msgpack_pack_true(&pk);
	} else {
		bad |= msgpack_pack_map(&pk, 3 + c.has_rx);
		bad |= put_key(&pk, CK_BASE_SEQ);
		bad |= msgpack_pack_uint64(&pk, c.base_seq);
		bad |= put_key(&pk, CK_BASE_STATES);
		bad |= c.base_states ? msgpack_pack_true(&pk) :
		    msgpack_pack_false(&pk);
		if (c.has_rx) {
			bad |= put_key(&pk, CK_RX_MAX);
			bad |= msgpack_pack_int64(&pk, c.rx_max);
		}
		bad |= put_key(&pk, CK_ENTRIES);
		bad |= msgpack_pack_array(&pk, c.n);
		for (size_t i = 0; i < c.n; i++)
			bad |= msgpack_pack_str_with_body(&pk, c.ev[i],
			    c.len[i]);
	}
	evt_ckpt_free(&c);
	return bad ? EVT_ERR_NOMEM : 0;
}

/*
 * Decoding: the file is hostile; every value is checked before use.
 */

/* Decodes the map m into c. */
static int
decode_map(const msgpack_object *m, uint64_t seq, struct evt_ckpt *c,
    const char **why)
{
	const msgpack_object *inc = evt_mp_get(m, CK_INCOMPLETE);
	*why = "incomplete is not true";
	if (inc != NULL)
		return inc->type == MSGPACK_OBJECT_BOOLEAN && inc->via.boolean ?
		    0 : EVT_ERR_CORRUPT;
	const msgpack_object *bs = evt_mp_get(m, CK_BASE_SEQ);
	const msgpack_object *st = evt_mp_get(m, CK_BASE_STATES);
	const msgpack_object *rx = evt_mp_get(m, CK_RX_MAX);
	const msgpack_object *en = evt_mp_get(m, CK_ENTRIES);
	*why = "base_seq is not a sequence number up to the segment's";
	if (bs == NULL || bs->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    bs->via.u64 == 0 || bs->via.u64 > seq)
		return EVT_ERR_CORRUPT;
	*why = "base_states is not a boolean";
	if (st == NULL || st->type != MSGPACK_OBJECT_BOOLEAN)
		return EVT_ERR_CORRUPT;
	*why = "rx_max is not a receive time";
	if (rx != NULL && rx->type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
	    rx->via.i64 >= EVT_RX_MIN)
		c->rx_max = rx->via.i64;
	else if (rx != NULL && rx->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    rx->via.u64 <= (uint64_t)EVT_RX_MAX)
		c->rx_max = (int64_t)rx->via.u64;
	else if (rx != NULL)
		return EVT_ERR_CORRUPT;
	*why = "entries is not an array of at most 65536 strings";
	if (en == NULL || en->type != MSGPACK_OBJECT_ARRAY ||
	    en->via.array.size > EVT_CKPT_MAX_ENTRIES)
		return EVT_ERR_CORRUPT;
	if (ckpt_alloc(c, en->via.array.size) != 0)
		return EVT_ERR_NOMEM;
	size_t bytes = 0;
	for (uint32_t i = 0; i < en->via.array.size; i++) {
		const msgpack_object *o = &en->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_STR)
			return EVT_ERR_CORRUPT;
		c->ev[i] = o->via.str.size ? o->via.str.ptr : "";
		c->len[i] = o->via.str.size;
		bytes += o->via.str.size;
	}
	*why = "the entries hold more than 16 MiB";
	if (bytes > EVT_CKPT_MAX_BYTES)
		return EVT_ERR_CORRUPT;
	c->n = en->via.array.size;
	c->has_rx = rx != NULL;
	c->base_seq = bs->via.u64;
	c->base_states = st->via.boolean;
	c->complete = 1;
	return 0;
}

/* Decodes and checks a checkpoint; see ckpt.h. */
int
evt_ckpt_decode(const uint8_t *p, size_t len, uint64_t seq,
    struct evt_ckpt *c, const char **why)
{
	memset(c, 0, sizeof *c);
	msgpack_zone z;
	if (!msgpack_zone_init(&z, 2048))
		return EVT_ERR_NOMEM;
	msgpack_object o;
	size_t off = 0;
	int rc = EVT_ERR_CORRUPT;
	*why = "not one MessagePack map";
	msgpack_unpack_return ur = msgpack_unpack((const char *)p, len, &off,
	    &z, &o);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
		rc = EVT_ERR_NOMEM;
	else if (ur == MSGPACK_UNPACK_SUCCESS && off == len &&
	    o.type == MSGPACK_OBJECT_MAP)
		rc = decode_map(&o, seq, c, why);
	/* The texts point into p (str objects are not copied). */
	msgpack_zone_destroy(&z);
	if (rc != 0)
		evt_ckpt_free(c);
	return rc;
}

/* Whether a and b say the same; see ckpt.h. */
int
evt_ckpt_equal(const struct evt_ckpt *a, const struct evt_ckpt *b)
{
	if (a->complete != b->complete)
		return 0;
	if (!a->complete)
		return 1;
	if (a->base_seq != b->base_seq || a->base_states != b->base_states ||
	    a->has_rx != b->has_rx || (a->has_rx && a->rx_max != b->rx_max) ||
	    a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(a->ev[i], b->ev[i],
		    a->len[i]) != 0)
			return 0;
	return 1;
}

/* Loads the table; see ckpt.h. */
int
evt_ckpt_state(const struct evt_ckpt *c, struct evt_state *s)
{
	evt_state_clear(s);
	for (size_t i = 0; i < c->n; i++)
		if (evt_state_apply(s, c->ev[i], c->len[i]) == EVT_ERR_NOMEM)
			return EVT_ERR_NOMEM;
	return 0;
}

/* Exchanges the tables of a and b. */
void
evt_ckb_swap(struct evt_ckb *a, struct evt_ckb *b)
{
	struct evt_ckb t = *a;
	*a = *b;
	*b = t;
}

/* Decodes the checkpoint of sealed segment r (sequence seq) into c;
 * see ckpt.h. */
int
evt_ckpt_of(struct evt_segr *r, uint64_t seq, struct evt_ckpt *c,
    const char **why)
{
	size_t len;
	const uint8_t *p;
	memset(c, 0, sizeof *c);
	*why = NULL;
	if (!evt_segr_info(r)->sealed || evt_segr_load_index(r) != 0 ||
	    (p = evt_segr_checkpoint(r, &len)) == NULL)
		return EVT_ERR_NOTFOUND;
	return evt_ckpt_decode(p, len, seq, c, why);
}

/* Seeds b from a sealed segment's checkpoint; see ckpt.h. */
int
evt_ckb_seed_segment(struct evt_ckb *b, const char *path, uint64_t seq)
{
	struct evt_segr *r;
	struct evt_ckpt c;
	const char *why;
	evt_ckb_unknown(b);
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return 0;
	int rc = evt_ckpt_of(r, seq, &c, &why);
	if (rc == 0)
		rc = evt_ckb_seed(b, &c);
	evt_ckpt_free(&c);
	evt_segr_close(r);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/* Applies every frame of a segment; see ckpt.h. */
int
evt_ckb_segment(struct evt_ckb *b, const char *path, uint64_t seq)
{
	struct evt_segr *r;
	if (evt_segr_open(path, NULL, NULL, &r) != 0) {
		evt_ckb_unknown(b);
		return 0;
	}
	struct evt_frames fr;
	struct evt_frame *f;
	const char **ev = NULL;
	size_t *lens = NULL, cap = 0;
	int rc;
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, NULL, NULL, NULL, NULL, path);
	/* Messages flat: a stateful event is rendered only if it is still
	 * in the table when it is packed (as the cursor derives a state). */
	evt_frames_flat(&fr);
	while ((rc = evt_frames_next(&fr, &f)) == 1) {
		if (f->is_flat) {
			if ((rc = frame_flat(b, seq, f->rx_us, f->flat.p,
			    f->span, NULL, f->kept)) != 0)
				break;
			continue;
		}
		if (f->kind != EVT_K_MSG && f->kind != EVT_K_STATES)
			continue;
		if (f->kept > cap) {
			cap = f->kept + 16;
			free(ev);
			free(lens);
			ev = malloc(cap * sizeof *ev);
			lens = malloc(cap * sizeof *lens);
			if (ev == NULL || lens == NULL) {
				rc = EVT_ERR_NOMEM;
				break;
			}
		}
		for (uint32_t i = 0; i < f->kept; i++) {
			ev[i] = (const char *)f->text.p + f->span[2 * i];
			lens[i] = f->span[2 * i + 1] - f->span[2 * i];
		}
		if ((rc = evt_ckb_frame(b, seq, f->kind, f->rx_us, ev, lens,
		    f->kept)) != 0)
			break;
	}
	/* What did not read is not in the table, as in a reader's: a
	 * checkpoint written before the damage disagrees (verify says so,
	 * repair writes this one). */
	if (rc != 0)
		evt_ckb_unknown(b);
	evt_frames_free(&fr);
	evt_segr_close(r);
	free(ev);
	free(lens);
	return rc == EVT_ERR_NOMEM ? rc : 0;
}

/* Whether a holds the segment whose sequence number is seq at or before
 * index i (sequence numbers increase with the index). */
static int
has_seq(struct evt_archive *a, size_t i, uint64_t seq)
{
	size_t lo = 0, hi = i + 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (evt_archive_segment_seq(a, mid) < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo <= i && evt_archive_segment_seq(a, lo) == seq;
}

/* Whether the base of c, stored in segment i of a, is in a; see ckpt.h. */
int
evt_ckpt_based(const struct evt_ckpt *c, struct evt_archive *a, size_t i)
{
	return c->base_states ? has_seq(a, i, c->base_seq) :
	    evt_archive_segment_seq(a, 0) == c->base_seq;
}
