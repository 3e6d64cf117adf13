/*
 * test_record.c: unit tests for the record codec (src/record.c).
 *
 * Every frame is encoded with evt_renc_frame() and decoded twice: over the
 * encoder's own dictionary (dict_grows = 0, as a sealed segment's index
 * gives it) and over a fresh dictionary that the decoder grows from the
 * definitions in the blocks (dict_grows = 1, as when a segment is read from
 * its start).  The message is rebuilt from evt_rdec_frame_head() + items
 * (evt_rdec_item_json) + tail and compared with a canonical form of the
 * input computed here from the JSON tokenizer alone (compact, strings
 * unescaped and re-escaped by evt_json_write_string, number texts as they
 * were): that is the losslessness contract.  Frames that are not JSON must
 * come back as RAW records with their exact bytes.
 *
 * Besides the text, the block bookkeeping is checked against what this
 * file computes from the input: events counted, id keys and their order,
 * GUID column entries, the last id, receive times.  All randomness is a
 * fixed-seed xorshift, so a failure reproduces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/gen.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/timefmt.h"
#include "jcanon.h"
#define T_RNG_SEED 0x2545F4914F6CDD1DULL
#include "t.h"

/* Returns a value in [0, n). */
static uint32_t
rnd(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* Aborts on out of memory in the test itself. */
static void
need(int rc)
{
	if (rc != 0) {
		fprintf(stderr, "test_record: out of memory\n");
		abort();
	}
}

/* Appends a C string to b. */
static void
puts_b(struct evt_buf *b, const char *s)
{
	need(evt_buf_put(b, s, strlen(s)));
}

/*
 * The reference: canonical form and facts of a JSON text, computed from
 * the tokenizer only.
 */

struct ref {
	struct evt_jparser jp;
	struct evt_buf tmp;
};

/* Returns 1 if s[0..len) is a canonical lower-case GUID (own check). */
static int
ref_is_lower_guid(const char *s, size_t len)
{
	if (len != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

/* Unescapes string token t of buf into out (replacing its contents). */
static void
ref_str(const char *buf, const struct evt_jtok *t, struct evt_buf *out)
{
	out->len = 0;
	need(evt_buf_grow(out, t->len + 1));
	int n = evt_json_unescape(buf + t->off, t->len, (char *)out->p);
	if (n < 0) {
		fprintf(stderr, "test_record: unescape failed\n");
		abort();
	}
	out->len = (size_t)n;
}

/*
 * Expectations for one frame.
 */
struct exp {
	int json;	  /* valid JSON (any depth) */
	uint32_t depth;
	int kind;	  /* expected header kind if json and shallow */
	int64_t rx;
	size_t in_off, in_len;	 /* into h->in */
	size_t can_off, can_len; /* into h->can */
};

/* Bookkeeping the encoder must show for a block. */
struct book {
	uint32_t nevent;
	uint32_t nguid;
	uint64_t *keys;
	size_t nkeys, keycap;
	char last_id[EVT_REC_MAX_INTERN];
	size_t last_id_len;
	int have_last;
};

/* Decoded frame. */
struct dframe {
	int kind;
	int64_t rx;
	uint32_t nitems;
	size_t off, len;
};

/* What a decoder made of a block. */
struct dres {
	struct dframe *f;
	size_t n, cap;
	struct evt_buf text, tail;
	int errors;
	char err[256];
};

/* The test harness: one segment's encoder plus two decoders. */
struct harness {
	struct evt_renc e;
	struct evt_dict fresh;
	struct evt_rdec dfull, dfresh;
	struct ref ref;
	uint32_t sb, hb; /* dictionary sizes at the start of the block */
	struct exp *x;
	size_t nx, capx;
	struct evt_buf in, can;
	struct book bk;
	struct dres r1, r2;
	uint64_t frames, blocks, raw_frames, mismatches;
	int diag; /* diagnostics printed */
	int enc_errors;
};

/* Initialises a harness. */
static void
h_init(struct harness *h)
{
	memset(h, 0, sizeof *h);
	need(evt_renc_init(&h->e));
	evt_dict_init(&h->fresh);
	need(evt_rdec_init(&h->dfull, &h->e.dict, 0));
	need(evt_rdec_init(&h->dfresh, &h->fresh, 1));
	evt_json_init(&h->ref.jp, 100000);
	h->ref.jp.lone_surrogates = 1; /* JSON to the codec too */
}

/* Frees a harness. */
static void
h_free(struct harness *h)
{
	evt_renc_free(&h->e);
	evt_rdec_free(&h->dfull);
	evt_rdec_free(&h->dfresh);
	evt_dict_free(&h->fresh);
	evt_json_free(&h->ref.jp);
	evt_buf_free(&h->ref.tmp);
	evt_buf_free(&h->in);
	evt_buf_free(&h->can);
	free(h->x);
	free(h->bk.keys);
	free(h->r1.f);
	free(h->r2.f);
	evt_buf_free(&h->r1.text);
	evt_buf_free(&h->r1.tail);
	evt_buf_free(&h->r2.text);
	evt_buf_free(&h->r2.tail);
}

/* Records the id key of an indexed event. */
static void
book_key(struct book *bk, const uint8_t *id, size_t len)
{
	if (bk->nkeys == bk->keycap) {
		bk->keycap = bk->keycap ? 2 * bk->keycap : 1024;
		bk->keys = realloc(bk->keys, bk->keycap * sizeof *bk->keys);
		if (bk->keys == NULL)
			abort();
	}
	bk->keys[bk->nkeys++] = evt_id_key((const char *)id, len);
	bk->have_last = 1;
	bk->last_id_len = len;
	memcpy(bk->last_id, id, len);
}

/* Adds the bookkeeping of the items array at token arr of a header:
 * events counted in messages, GUID column entries (every "id" field with
 * a canonical lower-case GUID), and the id key of each event in a
 * message: its first string-valued "id" field, unless that is longer
 * than EVT_REC_MAX_INTERN bytes (kept, not indexed: records.md, "Event
 * ids"). */
static void
h_book_items(struct harness *h, const char *buf, uint32_t arr, int in_msg)
{
	const struct evt_jparser *p = &h->ref.jp;
	uint32_t j = arr + 1;
	struct evt_buf ks = {0}, vs = {0};
	for (uint32_t k = 0; k < p->tok[arr].size; k++) {
		const struct evt_jtok *t = &p->tok[j];
		j = t->next;
		if (t->type != EVT_J_OBJECT || t->size > EVT_SHAPE_MAX_FIELDS)
			continue;
		int has_id = 0;
		uint32_t f = (uint32_t)(t - p->tok) + 1;
		if (in_msg)
			h->bk.nevent++;
		for (uint32_t m = 0; m < t->size; m++) {
			const struct evt_jtok *kt = &p->tok[f];
			const struct evt_jtok *vt = &p->tok[f + 1];
			f = vt->next;
			ref_str(buf, kt, &ks);
			if (ks.len != 2 || memcmp(ks.p, "id", 2) != 0 ||
			    vt->type != EVT_J_STRING)
				continue;
			ref_str(buf, vt, &vs);
			if (ref_is_lower_guid((char *)vs.p, vs.len))
				h->bk.nguid++;
			if (!has_id && in_msg && vs.len <= EVT_REC_MAX_INTERN)
				book_key(&h->bk, vs.p, vs.len);
			has_id = 1;
		}
	}
	evt_buf_free(&ks);
	evt_buf_free(&vs);
}

/*
 * Computes the expectation of a frame: whether it is JSON, its canonical
 * text, its depth, its header kind and the bookkeeping it adds.
 */
static void
h_expect(struct harness *h, struct exp *x, const char *buf, size_t len)
{
	struct evt_jparser *p = &h->ref.jp;
	int n = evt_json_parse(p, buf, len);
	x->json = n > 0;
	x->can_off = h->can.len;
	x->can_len = 0;
	x->kind = EVT_K_RAW;
	if (!x->json)
		return;
	jcanon(&h->ref.jp, buf, 0, &h->can);
	x->can_len = h->can.len - x->can_off;
	x->depth = jdepth(p, 0);
	if (x->depth > EVT_REC_MAX_DEPTH)
		return;
	x->kind = EVT_K_JSON;
	const struct evt_jtok *root = &p->tok[0];
	if (root->type != EVT_J_OBJECT)
		return;
	uint32_t j = 1, arr = 0, st_arr = 0;
	for (uint32_t m = 0; m < root->size; m++) {
		const struct evt_jtok *k = &p->tok[j];
		uint32_t v = k->next;
		if (p->tok[v].type == EVT_J_ARRAY &&
		    !(k->flags & EVT_JF_ESCAPED) && k->len == 6) {
			if (arr == 0 && memcmp(buf + k->off, "events", 6) == 0)
				arr = v;
			else if (st_arr == 0 &&
			    memcmp(buf + k->off, "states", 6) == 0)
				st_arr = v;
		}
		j = p->tok[v].next;
	}
	if (arr != 0) {
		x->kind = EVT_K_MSG;
		h_book_items(h, buf, arr, 1);
	} else if (st_arr != 0) {
		x->kind = EVT_K_STATES;
		h_book_items(h, buf, st_arr, 0);
	}
}

/* Encodes one frame into the open block and records what to expect. */
static int
h_add(struct harness *h, int64_t rx, const char *buf, size_t len)
{
	if (h->nx == h->capx) {
		h->capx = h->capx ? 2 * h->capx : 256;
		h->x = realloc(h->x, h->capx * sizeof *h->x);
		if (h->x == NULL)
			abort();
	}
	struct exp *x = &h->x[h->nx++];
	memset(x, 0, sizeof *x);
	x->rx = rx;
	x->in_off = h->in.len;
	x->in_len = len;
	need(evt_buf_put(&h->in, buf, len));
	h_expect(h, x, buf, len);
	int k = evt_renc_frame(&h->e, rx, buf, len);
	if (k < 0)
		h->enc_errors++;
	h->frames++;
	return k;
}

/* Compares two byte strings (either may be NULL when empty). */
static int
same(const void *a, size_t al, const void *b, size_t bl)
{
	return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

/* Prints a diagnostic line (limited) for a mismatch. */
static void
h_diag(struct harness *h, const char *what, const char *a, size_t al,
    const char *b, size_t bl)
{
	h->mismatches++;
	if (h->diag++ >= 8)
		return;
	printf("# %s\n#   got:  %.*s\n#   want: %.*s\n", what,
	    al > 600 ? 600 : (int)al, a, bl > 600 ? 600 : (int)bl, b);
}

/* Decodes the block in the encoder's buffers with decoder d. */
static void
decode_block(struct evt_rdec *d, const struct evt_renc *e, uint32_t sb,
    uint32_t hb, struct dres *out)
{
	struct evt_rec r;
	int open = 0;
	uint32_t left = 0, emitted = 0;
	out->n = 0;
	out->text.len = 0;
	out->errors = 0;
	out->err[0] = 0;
	evt_rdec_block(d, e->recs.p, e->recs.len, e->guids.p,
	    (uint32_t)(e->guids.len / 16), sb, hb);
	for (;;) {
		int rc = evt_rdec_next(d, &r);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (out->errors++ == 0)
				snprintf(out->err, sizeof out->err,
				    "rdec_next %d at %zu: %s", rc, d->err_off,
				    d->err ? d->err : "?");
			if (rc == EVT_ERR_NOMEM)
				break;
			continue;
		}
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			continue;
		if (r.kind == EVT_K_EVENT || r.kind == EVT_K_ITEM) {
			if (!open) {
				if (out->errors++ == 0)
					snprintf(out->err, sizeof out->err,
					    "item outside a frame at %zu",
					    r.off);
				continue;
			}
			if (emitted++ > 0)
				need(evt_buf_putc(&out->text, ','));
			rc = evt_rdec_item_json(d, &r, &out->text);
			if (rc < 0 && out->errors++ == 0)
				snprintf(out->err, sizeof out->err,
				    "item_json %d at %zu: %s", rc, r.off,
				    d->err ? d->err : "?");
			if (--left == 0) {
				need(evt_buf_put(&out->text, out->tail.p,
				    out->tail.len));
				out->f[out->n - 1].len = out->text.len -
				    out->f[out->n - 1].off;
				open = 0;
			}
			continue;
		}
		if (open) {
			if (out->errors++ == 0)
				snprintf(out->err, sizeof out->err,
				    "frame at %zu cut short", r.off);
			open = 0;
		}
		if (out->n == out->cap) {
			out->cap = out->cap ? 2 * out->cap : 256;
			out->f = realloc(out->f, out->cap * sizeof *out->f);
			if (out->f == NULL)
				abort();
		}
		struct dframe *f = &out->f[out->n++];
		f->kind = r.kind;
		f->rx = r.rx_us;
		f->nitems = r.nitems;
		f->off = out->text.len;
		rc = evt_rdec_frame_head(d, &r, &out->text, &out->tail);
		if (rc < 0 && out->errors++ == 0)
			snprintf(out->err, sizeof out->err,
			    "frame_head %d at %zu", rc, r.off);
		if ((r.kind == EVT_K_MSG || r.kind == EVT_K_STATES) &&
		    r.nitems > 0) {
			open = 1;
			left = r.nitems;
			emitted = 0;
		} else {
			need(evt_buf_put(&out->text, out->tail.p,
			    out->tail.len));
		}
		f->len = out->text.len - f->off;
	}
	if (open && out->errors++ == 0)
		snprintf(out->err, sizeof out->err, "block ends in a frame");
}

/* Compares a decoded block with the expectations; returns mismatches. */
static uint64_t
h_compare(struct harness *h, struct dres *r, const char *dname)
{
	uint64_t before = h->mismatches;
	char what[400];
	if (r->errors > 0) {
		snprintf(what, sizeof what, "%s: %d decode errors: %s", dname,
		    r->errors, r->err);
		h_diag(h, what, "", 0, "", 0);
	}
	if (r->n != h->nx) {
		snprintf(what, sizeof what, "%s: %zu frames decoded, %zu "
		    "encoded", dname, r->n, h->nx);
		h_diag(h, what, "", 0, "", 0);
	}
	for (size_t i = 0; i < r->n && i < h->nx; i++) {
		const struct exp *x = &h->x[i];
		const struct dframe *f = &r->f[i];
		const char *got = (const char *)r->text.p + f->off;
		const char *in = (const char *)h->in.p + x->in_off;
		const char *can = (const char *)h->can.p + x->can_off;
		if (f->rx != x->rx) {
			snprintf(what, sizeof what, "%s: frame %zu: rx %lld, "
			    "want %lld", dname, i, (long long)f->rx,
			    (long long)x->rx);
			h_diag(h, what, in, x->in_len, "", 0);
		}
		if (f->kind == EVT_K_RAW) {
			h->raw_frames++;
			/* RAW is right for non-JSON and for too deep JSON. */
			if ((x->json && x->depth <= EVT_REC_MAX_DEPTH) ||
			    !same(got, f->len, in, x->in_len)) {
				snprintf(what, sizeof what, "%s: frame %zu: "
				    "RAW (json %d, depth %u)", dname, i,
				    x->json, x->depth);
				h_diag(h, what, got, f->len, in, x->in_len);
			}
			continue;
		}
		if (!x->json || (x->depth <= EVT_REC_MAX_DEPTH &&
		    f->kind != x->kind) ||
		    !same(got, f->len, can, x->can_len)) {
			snprintf(what, sizeof what, "%s: frame %zu: kind %s, "
			    "want %s (json %d)", dname, i,
			    evt_kind_name(f->kind), evt_kind_name(x->kind),
			    x->json);
			h_diag(h, what, got, f->len, x->json ? can : in,
			    x->json ? x->can_len : x->in_len);
		}
	}
	return h->mismatches - before;
}

/* Checks the encoder's block counters against the bookkeeping. */
static void
h_check_book(struct harness *h)
{
	const struct evt_renc *e = &h->e;
	char what[160];
	if (e->nevent != h->bk.nevent || e->guids.len / 16 != h->bk.nguid ||
	    e->guids.len % 16 != 0 || e->nkeys != h->bk.nkeys) {
		snprintf(what, sizeof what, "block counts: nevent %u/%u "
		    "nguid %zu/%u nkeys %zu/%zu", e->nevent, h->bk.nevent,
		    e->guids.len / 16, h->bk.nguid, e->nkeys, h->bk.nkeys);
		h_diag(h, what, "", 0, "", 0);
	}
	for (size_t i = 0; i < e->nkeys && i < h->bk.nkeys; i++)
		if (e->keys[i] != h->bk.keys[i]) {
			snprintf(what, sizeof what, "id key %zu differs", i);
			h_diag(h, what, "", 0, "", 0);
			break;
		}
	if (h->bk.have_last && !same(e->last_id, e->last_id_len,
	    h->bk.last_id, h->bk.last_id_len))
		h_diag(h, "last id", e->last_id, e->last_id_len,
		    h->bk.last_id, h->bk.last_id_len);
	if (h->nx > 0) {
		int64_t lo = h->x[0].rx, hi = h->x[0].rx;
		for (size_t i = 1; i < h->nx; i++) {
			if (h->x[i].rx < lo)
				lo = h->x[i].rx;
			if (h->x[i].rx > hi)
				hi = h->x[i].rx;
		}
		if (e->first_rx != lo || e->last_rx != hi) {
			snprintf(what, sizeof what, "block rx range %lld..%lld"
			    ", want %lld..%lld", (long long)e->first_rx,
			    (long long)e->last_rx, (long long)lo,
			    (long long)hi);
			h_diag(h, what, "", 0, "", 0);
		}
	}
}

/*
 * Ends the block: decodes it with both decoders, compares, checks the
 * bookkeeping, then resets the block (the dictionary is kept).  Returns
 * the mismatches found in this block.
 */
static uint64_t
h_flush(struct harness *h)
{
	uint64_t before = h->mismatches;
	if (h->enc_errors > 0) {
		h_diag(h, "encoder returned errors", "", 0, "", 0);
		h->enc_errors = 0;
	}
	h_check_book(h);
	decode_block(&h->dfull, &h->e, h->sb, h->hb, &h->r1);
	h_compare(h, &h->r1, "index dict");
	decode_block(&h->dfresh, &h->e, h->sb, h->hb, &h->r2);
	h_compare(h, &h->r2, "grown dict");
	if (h->fresh.nstr != h->e.dict.nstr ||
	    h->fresh.nshape != h->e.dict.nshape) {
		h_diag(h, "grown dictionary size differs", "", 0, "", 0);
	}
	evt_renc_block_reset(&h->e);
	h->sb = h->e.dict.nstr;
	h->hb = h->e.dict.nshape;
	h->nx = 0;
	h->in.len = 0;
	h->can.len = 0;
	h->bk.nevent = h->bk.nguid = 0;
	h->bk.nkeys = 0;
	h->blocks++;
	return h->mismatches - before;
}

/* Round-trips one frame in a fresh segment; returns mismatches. */
static uint64_t
rt1(const char *buf, size_t len, int *kind)
{
	struct harness h;
	h_init(&h);
	int k = h_add(&h, 1767600000000000, buf, len);
	if (kind != NULL)
		*kind = k;
	uint64_t m = h_flush(&h);
	h_free(&h);
	return m;
}

/* Checks one named frame: lossless, and of the expected kind (-1 any). */
static void
check_frame(const char *name, const char *buf, size_t len, int want_kind)
{
	int kind = -99;
	/* Exactly sized copy so ASan sees reads past the end. */
	char *b = malloc(len ? len : 1);
	if (b == NULL)
		abort();
	memcpy(b, buf, len);
	uint64_t m = rt1(b, len, &kind);
	free(b);
	if (want_kind >= 0) {
		T_OK(m == 0 && kind == want_kind, "%s: lossless, kind %s",
		    name, evt_kind_name(want_kind));
		if (kind != want_kind)
			printf("#   kind %d (%s)\n", kind, evt_kind_name(kind));
	} else {
		T_OK(m == 0, "%s: lossless", name);
	}
}

/* Checks a frame given as a C string. */
static void
check_str(const char *name, const char *s, int want_kind)
{
	check_frame(name, s, strlen(s), want_kind);
}

/*
 * Cases.
 */

#define EV1 "{\"id\":\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\"," \
	"\"source\":\"cameras/c80c8215-744c-48bd-aeca-b82a8ec516d6\"," \
	"\"specversion\":\"1.0\"," \
	"\"stategroupid\":\"720ef62a-78be-418a-8e4c-ee04ffca6429\"," \
	"\"time\":\"2026-01-05T07:59:59.9770068Z\"," \
	"\"type\":\"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77\"}"
#define EV2 "{\"id\":\"542a3fa4-3f99-421d-b54b-a126f51b3611\"," \
	"\"source\":\"cameras/cf0d1f8d-beee-4d72-bc5b-beedb9a7e8b9\"," \
	"\"specversion\":\"1.0\"," \
	"\"stategroupid\":\"3e732c3f-c751-49e0-9f54-07cd07330586\"," \
	"\"time\":\"2026-01-05T07:59:59.9919118Z\"," \
	"\"type\":\"79a94f89-92de-4fca-8a43-5561d407423d\"}"

/* Messages and responses of the shapes the gateway sends. */
static void
test_shapes(void)
{
	check_str("one event", "{\"events\":[" EV1 "]}", EVT_K_MSG);
	check_str("two events", "{\"events\":[" EV1 "," EV2 "]}", EVT_K_MSG);
	check_str("empty events array", "{\"events\":[]}", EVT_K_MSG);
	check_str("getState response", "{\"commandId\":3,\"status\":200,"
	    "\"states\":[" EV1 "," EV2 "]}", EVT_K_STATES);
	check_str("getState empty", "{\"commandId\":3,\"status\":200,"
	    "\"states\":[]}", EVT_K_STATES);
	check_str("states before other keys", "{\"states\":[" EV1 "],"
	    "\"commandId\":4,\"status\":200}", EVT_K_STATES);
	check_str("extra keys before events", "{\"a\":1,\"b\":[1,2],"
	    "\"events\":[" EV1 "]}", EVT_K_MSG);
	check_str("extra keys after events", "{\"events\":[" EV1 "],"
	    "\"x\":{\"y\":null},\"z\":\"w\"}", EVT_K_MSG);
	check_str("extra keys around events", "{\"a\":true,\"events\":[" EV1
	    "," EV2 "],\"z\":false}", EVT_K_MSG);
	check_str("events and states", "{\"states\":[" EV2 "],\"events\":["
	    EV1 "]}", EVT_K_MSG);
	check_str("two events arrays", "{\"events\":[" EV1 "],\"events\":["
	    EV2 "]}", EVT_K_MSG);
	check_str("events not an array", "{\"events\":{\"a\":1}}",
	    EVT_K_JSON);
	check_str("events null then array", "{\"events\":null,\"events\":["
	    EV1 "]}", EVT_K_MSG);
	check_str("escaped events key", "{\"ev\\u0065nts\":[" EV1 "]}", -1);
	check_str("non-object items", "{\"events\":[1,\"two\",null,true,"
	    "[3],{},-0.5," EV1 ",[]]}", EVT_K_MSG);
	check_str("non-object states items", "{\"commandId\":1,\"states\":"
	    "[1,\"x\",[" EV1 "]]}", EVT_K_STATES);
	check_str("command response", "{\"commandId\":1,\"status\":200,"
	    "\"result\":{\"sessionId\":\"abc\"}}", EVT_K_JSON);
	check_str("top-level array", "[" EV1 "," EV2 "]", EVT_K_JSON);
	check_str("top-level string", "\"hello\"", EVT_K_JSON);
	check_str("top-level number", "-12.5e-3", EVT_K_JSON);
	check_str("top-level literal", "null", EVT_K_JSON);
	check_str("empty object", "{}", EVT_K_JSON);
	check_str("whitespace everywhere", " \t\r\n{ \"events\" : [ { \"id\" "
	    ": \"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\" , \"x\" : [ 1 , 2 ] "
	    "} ] , \"k\" : { } }\n", EVT_K_MSG);
	check_str("event without id", "{\"events\":[{\"source\":\"a\","
	    "\"type\":\"b\"}]}", EVT_K_MSG);
	check_str("empty event object", "{\"events\":[{}]}", EVT_K_MSG);
	check_str("duplicate keys in event", "{\"events\":[{\"id\":\"a\","
	    "\"id\":\"b\",\"x\":1,\"x\":2,\"x\":\"3\"}]}", EVT_K_MSG);
	check_str("duplicate keys in envelope", "{\"k\":1,\"k\":2,\"events\":"
	    "[" EV1 "],\"k\":3}", EVT_K_MSG);
	check_str("duplicate keys nested", "{\"events\":[{\"data\":{\"a\":1,"
	    "\"a\":{\"a\":[{\"a\":1,\"a\":1}]}}}]}", EVT_K_MSG);
	check_str("key with escapes", "{\"events\":[{\"i\\u0064\":\"x\","
	    "\"k\\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00\":1}]}", EVT_K_MSG);
	check_str("envelope key with escapes", "{\"a\\tb\":1,\"events\":[],"
	    "\"\\u0000\":2}", EVT_K_MSG);
	check_str("regression: empty key as the first interned string",
	    "{\"events\":[{\"\":\"\",\"\":1}]}", EVT_K_MSG);
}

/* Event ids and times that are not in the canonical form. */
static void
test_ids_times(void)
{
	check_str("upper-case GUID id", "{\"events\":[{\"id\":"
	    "\"984CF5D2-EE0D-466C-BF0A-C38F64AD2089\",\"type\":\"t\"}]}",
	    EVT_K_MSG);
	check_str("mixed-case GUID id", "{\"events\":[{\"id\":"
	    "\"984cf5d2-EE0D-466c-bf0a-c38f64ad2089\"}]}", EVT_K_MSG);
	check_str("GUID id with braces", "{\"events\":[{\"id\":"
	    "\"{984cf5d2-ee0d-466c-bf0a-c38f64ad2089}\"}]}", EVT_K_MSG);
	check_str("not-a-GUID id", "{\"events\":[{\"id\":\"event-17\"}]}",
	    EVT_K_MSG);
	check_str("GUID id without dashes", "{\"events\":[{\"id\":"
	    "\"984cf5d2ee0d466cbf0ac38f64ad2089\"}]}", EVT_K_MSG);
	check_str("GUID with a g", "{\"events\":[{\"id\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad208g\"}]}", EVT_K_MSG);
	check_str("number id", "{\"events\":[{\"id\":12345}]}", EVT_K_MSG);
	check_str("null id", "{\"events\":[{\"id\":null}]}", EVT_K_MSG);
	check_str("object id", "{\"events\":[{\"id\":{\"a\":1}}]}",
	    EVT_K_MSG);
	check_str("empty id", "{\"events\":[{\"id\":\"\"}]}", EVT_K_MSG);
	check_str("escaped GUID id", "{\"events\":[{\"id\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad208\\u0039\"}]}", EVT_K_MSG);
	check_str("GUID in another field", "{\"events\":[{\"ID\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\",\"uid\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\"}]}", EVT_K_MSG);
	check_str("two GUID ids", "{\"events\":[{\"id\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\",\"id\":"
	    "\"542a3fa4-3f99-421d-b54b-a126f51b3611\"}]}", EVT_K_MSG);
	char longid[600];
	memset(longid, 'x', sizeof longid);
	char msg[800];
	snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"%.300s\"}]}",
	    longid);
	check_str("300-char id", msg, EVT_K_MSG);
	snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"%.255s\"}]}",
	    longid);
	check_str("255-char id", msg, EVT_K_MSG);
	snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"%.256s\"}]}",
	    longid);
	check_str("256-char id (indexed)", msg, EVT_K_MSG);
	snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"%.257s\"}]}",
	    longid);
	check_str("257-char id (not indexed)", msg, EVT_K_MSG);

	static const char *const times[] = {
		"2026-01-05T07:59:59.977006Z",	 /* 6 digits */
		"2026-01-05T07:59:59.97700680Z", /* 8 digits */
		"2026-01-05T07:59:59.9770068z",	 /* lower-case z */
		"2026-01-05t07:59:59.9770068Z",	 /* lower-case t */
		"2026-01-05T07:59:59.9770068+00:00",
		"2026-01-05T08:59:59.9770068+01:00",
		"2026-01-05T07:59:59Z",
		"2026-01-05 07:59:59.9770068Z",
		"2026-02-30T07:59:59.9770068Z", /* no such day */
		"2026-01-05T24:00:00.0000000Z",
		"2026-01-05T07:60:00.0000000Z",
		"0000-01-01T00:00:00.0000000Z",
		"0001-01-01T00:00:00.0000000Z",
		"9999-12-31T23:59:59.9999999Z",
		"1969-12-31T23:59:59.9999999Z",
		"1970-01-01T00:00:00.0000000Z",
		"2024-02-29T12:00:00.0000000Z",
		"2023-02-29T12:00:00.0000000Z",
		"+2026-01-05T07:59:59.977006Z",
		"2026-01-05T07:59:59.9770068\\u005a", /* escaped Z */
	};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"a\","
		    "\"time\":\"%s\",\"t2\":\"%s\"}," EV1 "]}", times[i],
		    times[i]);
		char name[96];
		snprintf(name, sizeof name, "time %s", times[i]);
		check_str(name, msg, EVT_K_MSG);
	}
	/* Times that jump far back and forth inside one block. */
	struct harness h;
	h_init(&h);
	static const char *const seq[] = {
		"2026-01-05T07:59:59.9770068Z", "0001-01-01T00:00:00.0000000Z",
		"9999-12-31T23:59:59.9999999Z", "1969-12-31T23:59:59.9999999Z",
		"2026-01-05T07:59:59.9770068Z", "2026-01-05T07:59:59.9770067Z",
		"0001-01-01T00:00:00.0000001Z", "9999-12-31T23:59:59.9999999Z",
	};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		snprintf(msg, sizeof msg, "{\"events\":[{\"time\":\"%s\","
		    "\"end\":\"%s\"}]}", seq[i], seq[(i + 3) % 8]);
		h_add(&h, (int64_t)(i * 7919) - 20000, msg, strlen(msg));
		h_add(&h, INT64_C(1767600000000000) - (int64_t)i * 1000000,
		    L("{\"states\":[{\"time\":\"2026-01-05T07:59:59.9770068Z\"}]}"));
	}
	T_OK(h_flush(&h) == 0, "extreme time deltas and rx going backwards");
	h_free(&h);
}

/* Numbers of every form keep their exact text. */
static void
test_numbers(void)
{
	static const char *const nums[] = {
		"0", "-0", "1", "-1", "127", "128", "255", "256", "65535",
		"65536", "4294967295", "4294967296", "-32", "-33", "-128",
		"-129", "-32768", "-32769", "-2147483648", "-2147483649",
		"9223372036854775807", "9223372036854775808",
		"18446744073709551615", "18446744073709551616",
		"-9223372036854775808", "-9223372036854775809",
		"123456789012345678901234567890",
		"-123456789012345678901234567890", "1e400", "-1e400", "1E+2",
		"1e-2", "1E2", "0.1000000000000000055511151231257827", "-0.0",
		"0.0", "0e0", "-0e-0", "1.5e308", "4.9e-324",
		"2.2250738585072014e-308",
		"123.456e+789", "0.000000000000000000000000000001",
		"100000000000000000000000000000000000000000000000000000000",
		"3.141592653589793238462643383279502884197169399375105820974944",
		"1.0", "10", "-10.00", "5e0",
	};
	char msg[512];
	size_t n = sizeof nums / sizeof nums[0];
	for (size_t i = 0; i < n; i++) {
		char name[128];
		snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"a\",\"v\":%s,"
		    "\"data\":{\"x\":[%s,{\"y\":%s}]}}],\"n\":%s}", nums[i],
		    nums[i], nums[i], nums[i]);
		snprintf(name, sizeof name, "number %s", nums[i]);
		check_str(name, msg, EVT_K_MSG);
		snprintf(name, sizeof name, "number %s alone", nums[i]);
		check_str(name, nums[i], EVT_K_JSON);
	}
	/* All of them in one array. */
	struct evt_buf b = {0};
	puts_b(&b, "[");
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			puts_b(&b, ",");
		puts_b(&b, nums[i]);
	}
	puts_b(&b, "]");
	check_frame("all numbers in one array", (char *)b.p, b.len,
	    EVT_K_JSON);
	evt_buf_free(&b);
}

/* Strings: escapes, every control character, U+2028, astral planes. */
static void
test_strings(void)
{
	struct evt_buf b = {0};
	char tmp[16];
	/* Every control character as \u00XX escape, as a value and a key. */
	puts_b(&b, "{\"events\":[{\"id\":\"c\",\"ctl\":\"");
	for (int c = 0; c < 0x20; c++) {
		snprintf(tmp, sizeof tmp, "\\u%04x", c);
		puts_b(&b, tmp);
	}
	puts_b(&b, "\",\"");
	for (int c = 0; c < 0x20; c++) {
		snprintf(tmp, sizeof tmp, "\\u%04X", c);
		puts_b(&b, tmp);
	}
	puts_b(&b, "\":1,\"short\":\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"}]}");
	check_frame("all of U+0000..U+001F", (char *)b.p, b.len, EVT_K_MSG);
	/* Each control character alone (interned strings of one byte). */
	int bad = 0;
	for (int c = 0; c < 0x20; c++) {
		b.len = 0;
		snprintf(tmp, sizeof tmp, "\\u%04x", c);
		puts_b(&b, "{\"events\":[{\"s\":\"");
		puts_b(&b, tmp);
		puts_b(&b, "\",\"k");
		puts_b(&b, tmp);
		puts_b(&b, "\":\"a");
		puts_b(&b, tmp);
		puts_b(&b, "b\"}]}");
		bad += rt1((char *)b.p, b.len, NULL) != 0;
	}
	T_OK(bad == 0, "each control character alone");
	evt_buf_free(&b);

	check_str("U+2028 U+2029 raw", "{\"events\":[{\"s\":\"a\xe2\x80\xa8"
	    "b\xe2\x80\xa9\"}]}", EVT_K_MSG);
	check_str("U+2028 U+2029 escaped", "{\"events\":[{\"s\":"
	    "\"a\\u2028b\\u2029\"}]}", EVT_K_MSG);
	check_str("astral raw", "{\"events\":[{\"s\":\"\xf0\x9f\x98\x80"
	    "\xf4\x8f\xbf\xbf\xf0\x90\x80\x80\"}]}", EVT_K_MSG);
	check_str("astral escaped", "{\"events\":[{\"s\":\"\\ud83d\\ude00"
	    "\\uDBFF\\uDFFF\\ud800\\udc00\"}]}", EVT_K_MSG);
	check_str("BMP edges", "{\"s\":\"\xc2\x80\xdf\xbf\xe0\xa0\x80"
	    "\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\\uffff\\u0080\\ufeff\"}",
	    EVT_K_JSON);
	check_str("escaped slash and unicode letters", "{\"events\":[{\"s\":"
	    "\"a\\/b\\u0041\\u00e9\\u4e2d\"}]}", EVT_K_MSG);
	check_str("escaped quotes in value", "{\"events\":[{\"source\":"
	    "\"cam \\\"1\\\"\"}]}", EVT_K_MSG);
	/* Strings of every length around the intern bound. */
	char s[300], msg[1000];
	int fails = 0;
	for (int len = 250; len <= 262; len++) {
		memset(s, 'q', (size_t)len);
		s[len] = 0;
		snprintf(msg, sizeof msg, "{\"events\":[{\"type\":\"%s\","
		    "\"source\":\"%s\"},{\"type\":\"%s\"}]}", s, s, s);
		fails += rt1(msg, strlen(msg), NULL) != 0;
	}
	T_OK(fails == 0, "strings of 250..262 bytes (intern bound)");
	/* The same interned string in all roles: key, value, envelope. */
	check_str("one string in many roles", "{\"x\":\"x\",\"events\":["
	    "{\"x\":\"x\",\"id\":\"x\"},{\"x\":\"x\"}],\"y\":{\"x\":\"x\"}}",
	    EVT_K_MSG);
	/* A string value that is a GUID where it is not the id. */
	check_str("GUID strings", "{\"events\":[{\"source\":"
	    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\",\"x\":"
	    "\"984CF5D2-EE0D-466C-BF0A-C38F64AD2089\"}]}", EVT_K_MSG);
}

/* Builds nested data of the given depth at the given place. */
static void
nest(struct evt_buf *b, int where, int depth)
{
	/* where 0: root array; 1: inside an event's data; 2: in the
	 * envelope; 3: inside a non-object item; 4: root object. */
	int d = 0;
	b->len = 0;
	switch (where) {
	case 0:
		break;
	case 1:
		puts_b(b, "{\"events\":[{\"id\":\"x\",\"data\":");
		d = 3;
		break;
	case 2:
		puts_b(b, "{\"events\":[{\"id\":\"x\"}],\"env\":");
		d = 1;
		break;
	case 3:
		puts_b(b, "{\"events\":[");
		d = 2;
		break;
	case 4:
		puts_b(b, "{\"a\":");
		d = 1;
		break;
	}
	int inner = depth - d;
	for (int i = 0; i < inner; i++)
		puts_b(b, i % 2 ? "{\"k\":" : "[1,");
	puts_b(b, "\"leaf\"");
	for (int i = inner - 1; i >= 0; i--)
		puts_b(b, i % 2 ? "}" : "]");
	switch (where) {
	case 1:
		puts_b(b, "}]}");
		break;
	case 2:
		puts_b(b, "}");
		break;
	case 3:
		puts_b(b, "]}");
		break;
	case 4:
		puts_b(b, "}");
		break;
	}
}

/* Nesting: 30 deep is fine, 31/32 deep are either kept or RAW, lossless. */
static void
test_depth(void)
{
	struct evt_buf b = {0};
	static const char *const wname[] = {
		"root array", "event data", "envelope", "non-object item",
		"root object",
	};
	for (int where = 0; where < 5; where++) {
		for (int depth = 28; depth <= 34; depth++) {
			int kind = -99;
			nest(&b, where, depth);
			uint64_t m = rt1((char *)b.p, b.len, &kind);
			T_OK(m == 0, "depth %d in %s: lossless (%s)", depth,
			    wname[where], evt_kind_name(kind));
			if (depth <= 30)
				T_OK(kind != EVT_K_RAW, "depth %d in %s: kept "
				    "as JSON", depth, wname[where]);
		}
	}
	/* Depth documented in record.h: up to EVT_REC_MAX_DEPTH is JSON. */
	for (int where = 0; where < 5; where++) {
		int kind = -99;
		nest(&b, where, EVT_REC_MAX_DEPTH);
		rt1((char *)b.p, b.len, &kind);
		T_OK(kind != EVT_K_RAW, "depth EVT_REC_MAX_DEPTH in %s is not "
		    "RAW (%s)", wname[where], evt_kind_name(kind));
		nest(&b, where, EVT_REC_MAX_DEPTH + 1);
		rt1((char *)b.p, b.len, &kind);
		T_OK(kind == EVT_K_RAW, "depth EVT_REC_MAX_DEPTH+1 in %s is "
		    "RAW", wname[where]);
	}
	/* Very deep: 5000 levels. */
	b.len = 0;
	for (int i = 0; i < 5000; i++)
		puts_b(&b, "[");
	for (int i = 0; i < 5000; i++)
		puts_b(&b, "]");
	int kind = -99;
	T_OK(rt1((char *)b.p, b.len, &kind) == 0 && kind == EVT_K_RAW,
	    "5000 levels: RAW and exact");
	evt_buf_free(&b);
}

/* Frames that are not JSON are kept byte for byte. */
static void
test_raw(void)
{
	static const struct {
		const char *name;
		const char *s;
		size_t len;
	} cases[] = {
		{"empty frame", "", 0},
		{"whitespace only", " \n\t ", 4},
		{"plain text", L("hello world")},
		{"truncated object", L("{\"events\":[{\"id\":\"x\"}]")},
		{"trailing comma", L("{\"events\":[1,]}")},
		{"trailing garbage", L("{\"events\":[]} x")},
		{"two values", L("{} {}")},
		{"single quotes", L("{'events':[]}")},
		{"NaN", L("[NaN]")},
		{"leading zero", L("[01]")},
		{"plus number", L("[+1]")},
		{"bare dot", L("[1.]")},
		{"control char in string", L("[\"a\x01z\"]")},
		{"bad escape", L("[\"\\x41\"]")},
		{"NUL byte", "{\"a\":\0}", 7},
		{"NUL in string", "[\"a\0b\"]", 6},
		{"invalid UTF-8 byte", L("{\"events\":[{\"s\":\"\xff\"}]}")},
		{"overlong UTF-8", L("[\"\xc0\xaf\"]")},
		{"UTF-8 surrogate", L("[\"\xed\xa0\x80\"]")},
		{"UTF-8 above U+10FFFF", L("[\"\xf4\x90\x80\x80\"]")},
		{"truncated UTF-8", L("[\"\xe2\x82\"]")},
		{"invalid UTF-8 outside strings", L("[1]\xff")},
		{"latin-1 text", L("caf\xe9")},
		{"BOM", L("\xef\xbb\xbf{}")},
		{"binary", "\x00\x01\x02\x03\xfe\xff\x80\x7f", 8},
		{"CR LF inside", L("not json\r\nsecond line")},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_frame(cases[i].name, cases[i].s, cases[i].len,
		    EVT_K_RAW);
	/* Escapes of lone surrogates are JSON: kept as WTF-8 strings
	 * (formats/records.md, "What is lossless"), not the whole frame raw. */
	check_frame("lone high surrogate", L("[\"\\ud800\"]"), EVT_K_JSON);
	check_frame("lone low surrogate", L("[\"\\udc00x\"]"), EVT_K_JSON);
	/* A big RAW frame. */
	size_t n = 300000;
	char *big = malloc(n);
	if (big == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(rng() & 0xff);
	check_frame("300 kB of random bytes", big, n, EVT_K_RAW);
	free(big);
}

/* Event objects with more fields than a shape may hold become ITEMs. */
static void
test_wide(void)
{
	struct evt_buf b = {0};
	char tmp[64];
	static const int widths[] = {255, 256, 257, 400};
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		b.len = 0;
		puts_b(&b, "{\"events\":[{\"id\":"
		    "\"984cf5d2-ee0d-466c-bf0a-c38f64ad2089\"");
		for (int i = 1; i < widths[w]; i++) {
			snprintf(tmp, sizeof tmp, ",\"f%d\":%d", i % 300, i);
			puts_b(&b, tmp);
		}
		puts_b(&b, "}," EV1 "]}");
		snprintf(tmp, sizeof tmp, "event with %d fields", widths[w]);
		check_frame(tmp, (char *)b.p, b.len, EVT_K_MSG);
	}
	/* Many distinct shapes and strings in one block. */
	struct harness h;
	h_init(&h);
	for (int i = 0; i < 3000; i++) {
		b.len = 0;
		snprintf(tmp, sizeof tmp, "{\"events\":[{\"k%d\":\"v%d\","
		    "\"id\":\"i%d\"}]}", i, i % 97, i);
		puts_b(&b, "");
		need(evt_buf_put(&b, tmp, strlen(tmp)));
		h_add(&h, 1000 + i, (char *)b.p, b.len);
	}
	T_OK(h_flush(&h) == 0, "3000 shapes in one block");
	h_free(&h);
	evt_buf_free(&b);
}

/*
 * Random JSON documents.
 */

static const char *const keypool[] = {
	"id", "time", "type", "source", "data", "events", "states", "a", "b",
	"", "k\\\"ey", "\\u0069d", "t\\u00e9st", "\xe2\x82\xac", "\\ud83d\\ude00",
	"specversion", "x", "id",
};

/* Appends random insignificant whitespace (rarely). */
static void
rj_ws(struct evt_buf *b)
{
	static const char *const ws[] = {" ", "\n", "\t", "\r\n", "  "};
	if (rnd(8) == 0)
		puts_b(b, ws[rnd(5)]);
}

/* Appends a random GUID, lower-case mostly. */
static void
rj_guid(struct evt_buf *b, int upper)
{
	const char *hx = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char g[37];
	for (int i = 0; i < 36; i++)
		g[i] = (i == 8 || i == 13 || i == 18 || i == 23) ? '-' :
		    hx[rnd(16)];
	need(evt_buf_put(b, g, 36));
}

/* Appends a random string body (no quotes). */
static void
rj_strbody(struct evt_buf *b)
{
	uint32_t n = rnd(4) == 0 ? rnd(300) : rnd(12);
	static const char *const esc[] = {
		"\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t",
		"\\u0000", "\\u001f", "\\u0041", "\\u00e9", "\\u2028",
		"\\uD83D\\uDE00", "\\ud800\\udc00", "\\uffff", "\\u007f",
	};
	static const char *const mb[] = {
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xe2\x80\xa8",
		"\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf", "\x7f",
	};
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = rnd(20);
		if (r < 2)
			puts_b(b, esc[rnd(sizeof esc / sizeof esc[0])]);
		else if (r < 4)
			puts_b(b, mb[rnd(sizeof mb / sizeof mb[0])]);
		else
			need(evt_buf_putc(b, "abcxyz0189 -_:.,{}[]"[rnd(20)]));
	}
}

/* Appends a random number text of any JSON form. */
static void
rj_number(struct evt_buf *b)
{
	char tmp[128];
	switch (rnd(10)) {
	case 0:
		snprintf(tmp, sizeof tmp, "%u", rnd(300));
		break;
	case 1:
		snprintf(tmp, sizeof tmp, "-%u", rnd(70000) + 1);
		break;
	case 2:
		snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)rng());
		break;
	case 3: {
		/* One call per statement: argument order is unspecified and
		 * the documents must not depend on the compiler. */
		uint64_t v = rng();
		v >>= rnd(64);
		snprintf(tmp, sizeof tmp, "-%llu", (unsigned long long)v);
		break;
	}
	case 4: {
		/* Long digit strings: huge integers. */
		int n = 1 + (int)rnd(60), o = 0;
		if (rnd(2))
			tmp[o++] = '-';
		tmp[o++] = (char)('1' + rnd(9));
		for (int i = 1; i < n; i++)
			tmp[o++] = (char)('0' + rnd(10));
		tmp[o] = 0;
		break;
	}
	case 5: {
		const char *sign = rnd(2) ? "-" : "";
		uint32_t ip = rnd(1000);
		int width = (int)rnd(8) + 1;
		uint32_t frac = rnd(100000);
		snprintf(tmp, sizeof tmp, "%s%u.%0*u", sign, ip, width, frac);
		break;
	}
	case 6: {
		const char *sign = rnd(2) ? "-" : "";
		uint32_t ip = rnd(10);
		const char *frac = rnd(2) ? ".5" : "";
		const char *e = rnd(2) ? "e" : "E";
		const char *esign = rnd(3) == 0 ? "+" : rnd(2) ? "-" : "";
		uint32_t exp = rnd(500);
		snprintf(tmp, sizeof tmp, "%s%u%s%s%s%u", sign, ip, frac, e,
		    esign, exp);
		break;
	}
	case 7: {
		static const char *const special[] = {
			"-0", "-0.0", "0.0", "0e0", "1E+2", "1e400",
			"0.1000000000000000055511151231257827",
			"18446744073709551616", "-9223372036854775809",
			"-9223372036854775808", "18446744073709551615",
			"9223372036854775807", "123456789012345678901234567890",
			"4.9e-324", "1.7976931348623157e308",
		};
		snprintf(tmp, sizeof tmp, "%s",
		    special[rnd(sizeof special / sizeof special[0])]);
		break;
	}
	case 8: {
		double num = (double)(int64_t)rng();
		double den = (double)(rnd(1000) + 1);
		snprintf(tmp, sizeof tmp, "%.17g", num / den);
		if (strchr(tmp, 'n') || strchr(tmp, 'i'))
			snprintf(tmp, sizeof tmp, "0");
		break;
	}
	default:
		snprintf(tmp, sizeof tmp, "%u", rnd(10));
		break;
	}
	puts_b(b, tmp);
}

/* Appends a random tick time (valid or nearly). */
static void
rj_time(struct evt_buf *b)
{
	char t[EVT_TICKS_LEN + 1];
	int64_t ticks = (int64_t)(rng() % (UINT64_C(2000000000) * 10000000)) -
	    INT64_C(600000000) * 10000000;
	if (evt_ticks_format(ticks, t) != 0)
		memcpy(t, "2026-01-05T07:59:59.9770068Z", EVT_TICKS_LEN);
	t[EVT_TICKS_LEN] = 0;
	switch (rnd(6)) {
	case 0:
		t[EVT_TICKS_LEN - 1] = 'z';
		break;
	case 1:
		t[5] = '1';
		t[6] = '3'; /* month 13 */
		break;
	default:
		break;
	}
	puts_b(b, t);
}

static void rj_value(struct evt_buf *b, int depth, int maxd);

/* Appends a random object; events-like ones get ids and times. */
static void
rj_object(struct evt_buf *b, int depth, int maxd, int eventlike)
{
	uint32_t n = rnd(5) == 0 ? 0 : rnd(8);
	need(evt_buf_putc(b, '{'));
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			need(evt_buf_putc(b, ','));
		rj_ws(b);
		need(evt_buf_putc(b, '"'));
		const char *key;
		if (rnd(3) == 0) {
			key = NULL;
			rj_strbody(b);
		} else {
			key = keypool[rnd(sizeof keypool / sizeof keypool[0])];
			puts_b(b, key);
		}
		need(evt_buf_putc(b, '"'));
		rj_ws(b);
		need(evt_buf_putc(b, ':'));
		rj_ws(b);
		if (key != NULL && eventlike && strcmp(key, "id") == 0 &&
		    rnd(4) != 0) {
			need(evt_buf_putc(b, '"'));
			rj_guid(b, rnd(5) == 0);
			need(evt_buf_putc(b, '"'));
		} else if (key != NULL && eventlike &&
		    strcmp(key, "time") == 0 && rnd(4) != 0) {
			need(evt_buf_putc(b, '"'));
			rj_time(b);
			need(evt_buf_putc(b, '"'));
		} else {
			rj_value(b, depth + 1, maxd);
		}
		rj_ws(b);
	}
	need(evt_buf_putc(b, '}'));
}

/* Appends a random JSON value of nesting depth at most maxd - depth. */
static void
rj_value(struct evt_buf *b, int depth, int maxd)
{
	uint32_t r = rnd(depth >= maxd ? 6 : 10);
	switch (r) {
	case 0:
		puts_b(b, "null");
		break;
	case 1:
		puts_b(b, rnd(2) ? "true" : "false");
		break;
	case 2:
	case 3:
		rj_number(b);
		break;
	case 4:
	case 5:
		need(evt_buf_putc(b, '"'));
		if (rnd(4) == 0)
			rj_time(b);
		else
			rj_strbody(b);
		need(evt_buf_putc(b, '"'));
		break;
	case 6:
	case 7: {
		uint32_t n = rnd(5) == 0 ? 0 : rnd(6);
		need(evt_buf_putc(b, '['));
		for (uint32_t i = 0; i < n; i++) {
			if (i > 0)
				need(evt_buf_putc(b, ','));
			rj_ws(b);
			rj_value(b, depth + 1, maxd);
			rj_ws(b);
		}
		need(evt_buf_putc(b, ']'));
		break;
	}
	default:
		rj_object(b, depth, maxd, 0);
		break;
	}
}

/* Appends a random items array for events/states. */
static void
rj_items(struct evt_buf *b, int maxd)
{
	uint32_t n = rnd(6) == 0 ? 0 : 1 + rnd(6);
	need(evt_buf_putc(b, '['));
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0)
			need(evt_buf_putc(b, ','));
		rj_ws(b);
		if (rnd(8) == 0)
			rj_value(b, 3, maxd);
		else
			rj_object(b, 2, maxd, 1);
	}
	need(evt_buf_putc(b, ']'));
}

/* Produces a random frame. */
static void
rj_doc(struct evt_buf *b)
{
	b->len = 0;
	int maxd = rnd(20) == 0 ? 26 + (int)rnd(10) : 2 + (int)rnd(6);
	rj_ws(b);
	uint32_t r = rnd(10);
	if (r < 6) {
		/* A message or a states response with extra members. */
		const char *name = r < 5 ? "events" : "states";
		uint32_t nb = rnd(3) == 0 ? rnd(3) : 0, na = rnd(4) == 0 ?
		    rnd(3) : 0;
		need(evt_buf_putc(b, '{'));
		for (uint32_t i = 0; i < nb + na + 1; i++) {
			if (i > 0)
				need(evt_buf_putc(b, ','));
			rj_ws(b);
			if (i == nb) {
				need(evt_buf_putc(b, '"'));
				puts_b(b, name);
				puts_b(b, "\":");
				rj_items(b, maxd);
				continue;
			}
			need(evt_buf_putc(b, '"'));
			puts_b(b, keypool[rnd(sizeof keypool /
			    sizeof keypool[0])]);
			puts_b(b, "\":");
			rj_value(b, 1, maxd);
		}
		need(evt_buf_putc(b, '}'));
	} else {
		rj_value(b, 0, maxd);
	}
	rj_ws(b);
	/* Sometimes damage it. */
	if (rnd(12) == 0 && b->len > 0) {
		size_t at = rnd((uint32_t)b->len);
		switch (rnd(3)) {
		case 0:
			b->len = at;
			break;
		case 1:
			b->p[at] = (uint8_t)rng();
			break;
		default:
			b->p[at] = (uint8_t)(0x80 | rng());
			break;
		}
	}
}

/* Random documents, fed whole, in blocks of random size. */
static void
test_random(void)
{
	struct harness h;
	struct evt_buf b = {0};
	int ndoc = 6000, nblock = 0;
	uint64_t json = 0, raw = 0;
	h_init(&h);
	int64_t rx = INT64_C(1767600000000000);
	for (int i = 0; i < ndoc; i++) {
		rj_doc(&b);
		/* Exactly sized copy: ASan catches reads past the end. */
		char *c = malloc(b.len ? b.len : 1);
		if (c == NULL)
			abort();
		memcpy(c, b.p, b.len);
		int k = h_add(&h, rx, c, b.len);
		free(c);
		json += k != EVT_K_RAW;
		raw += k == EVT_K_RAW;
		rx += (int64_t)rnd(100000) - 1000;
		if (rnd(20) == 0) {
			h_flush(&h);
			nblock++;
		}
		if (rnd(1000) == 0) {
			/* A new segment: fresh dictionaries everywhere. */
			h_flush(&h);
			evt_renc_segment_reset(&h.e);
			h.bk.have_last = 0;
			evt_dict_clear(&h.fresh);
			h.sb = h.hb = 0;
		}
	}
	h_flush(&h);
	T_OK(h.mismatches == 0, "%d random documents round-trip (%llu JSON, "
	    "%llu RAW, %d blocks)", ndoc, (unsigned long long)json,
	    (unsigned long long)raw, nblock + 1);
	T_OK(json > 4000 && raw > 100, "random documents cover both JSON "
	    "and RAW");
	h_free(&h);
	evt_buf_free(&b);
}

/* Reference GUID parser: the straightforward reading of record.h. */
static int
ref_guid_parse(const char *s, size_t len, uint8_t out[16], int lower_only)
{
	if (len != 36)
		return 0;
	int j = 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
			continue;
		}
		int c = (unsigned char)s[i], v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (!lower_only && c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return 0;
		if (j % 2 == 0)
			out[j / 2] = (uint8_t)(v << 4);
		else
			out[j / 2] |= (uint8_t)v;
		j++;
	}
	return 1;
}

/* The GUID parser against the reference: every byte value at every
 * position of a valid GUID, both modes. */
static void
test_guid_exhaustive(void)
{
	char s[36];
	uint8_t a[16], b[16];
	long bad = 0, ok = 0;
	memcpy(s, "984cf5d2-ee0d-466C-bf0a-c38f64ad2089", 36);
	for (int pos = 0; pos < 36; pos++) {
		char keep = s[pos];
		for (int v = 0; v < 256; v++) {
			s[pos] = (char)v;
			for (int lo = 0; lo <= 1; lo++) {
				int x = evt_guid_parse(s, 36, a, lo);
				int y = ref_guid_parse(s, 36, b, lo);
				if (x != y || (x && memcmp(a, b, 16) != 0))
					bad++;
				ok += x;
			}
		}
		s[pos] = keep;
	}
	T_EQ(bad, 0, "GUID parser agrees with the reference on %ld "
	    "mutations (%ld valid)", 36L * 256 * 2, ok);
}

/* Encodes every frame twice, once parsed by the encoder and once from a
 * caller's tokens (a parser of another depth bound, like evrec's), with
 * segment resets between: the block bytes must be identical. */
static void
test_frame_tok(void)
{
	struct evt_renc e1, e2;
	struct evt_jparser jp;
	struct evt_buf b = {0};
	struct evt_gen_opts o = {.seed = 11, .data_fraction = 0.05};
	struct evt_gen *g = evt_gen_new(&o);
	long diff = 0, frames = 0, tok = 0;
	need(evt_renc_init(&e1));
	need(evt_renc_init(&e2));
	evt_json_init(&jp, 0);
	T_OK(g != NULL, "generator");
	if (g == NULL)
		return;
	int64_t rx = INT64_C(1767600000000000);
	for (int i = 0; i < 8000; i++) {
		const char *f;
		size_t len;
		b.len = 0;
		if (i % 3 == 0) {
			rj_doc(&b);
			f = (const char *)b.p;
			len = b.len;
		} else if (i % 500 == 1) {
			/* Deeper than the codec's bound, within the parser's. */
			for (int d = 0; d < EVT_REC_MAX_DEPTH + 3; d++)
				puts_b(&b, "[");
			for (int d = 0; d < EVT_REC_MAX_DEPTH + 3; d++)
				puts_b(&b, "]");
			f = (const char *)b.p;
			len = b.len;
		} else {
			uint32_t nev;
			len = evt_gen_next(g, &f, &rx, &nev);
		}
		int p = evt_json_parse(&jp, f, len);
		int k1 = evt_renc_frame(&e1, rx, f, len);
		int k2 = evt_renc_frame_tok(&e2, rx, f, len, p > 0 ? &jp : NULL);
		tok += p > 0;
		frames++;
		rx += 7;
		if (k1 != k2 || e1.raw_err != e2.raw_err ||
		    e1.raw_off != e2.raw_off)
			diff++;
		if (rnd(50) == 0 || i == 7999) {
			if (!same(e1.recs.p, e1.recs.len, e2.recs.p, e2.recs.len) ||
			    !same(e1.guids.p, e1.guids.len, e2.guids.p,
			    e2.guids.len) || e1.nkeys != e2.nkeys ||
			    e1.nrec != e2.nrec || e1.nevent != e2.nevent ||
			    (e1.nkeys > 0 && memcmp(e1.keys, e2.keys,
			    e1.nkeys * sizeof *e1.keys) != 0))
				diff++;
			evt_renc_block_reset(&e1);
			evt_renc_block_reset(&e2);
		}
		if (rnd(700) == 0) {
			evt_renc_segment_reset(&e1);
			evt_renc_segment_reset(&e2);
		}
	}
	T_EQ(diff, 0, "%ld frames (%ld from the caller's tokens) encode the "
	    "same with and without evt_renc_frame_tok", frames, tok);
	evt_gen_free(g);
	evt_json_free(&jp);
	evt_renc_free(&e1);
	evt_renc_free(&e2);
	evt_buf_free(&b);
}

/* Realistic generator traffic, many blocks, the dictionary carried. */
static void
test_gen(void)
{
	struct evt_gen_opts o = {.seed = 7, .data_fraction = 0.05};
	struct evt_gen *g = evt_gen_new(&o);
	T_OK(g != NULL, "generator");
	if (g == NULL)
		return;
	struct harness h;
	h_init(&h);
	uint64_t events = 0, guids = 0, nblocks = 0, maxstr = 0;
	int n = 10000;
	for (int i = 0; i < n; i++) {
		const char *json;
		int64_t rx;
		uint32_t nev;
		size_t len = evt_gen_next(g, &json, &rx, &nev);
		int k = h_add(&h, rx, json, len);
		if (k != EVT_K_MSG)
			h.mismatches++;
		events += nev;
		if (i % 1000 == 999) {
			/* A getState response now and then. */
			const char *st;
			size_t sl = evt_gen_states(g, &st);
			struct evt_buf b = {0};
			puts_b(&b, "{\"commandId\":3,\"status\":200,"
			    "\"states\":");
			need(evt_buf_put(&b, st, sl));
			puts_b(&b, "}");
			h_add(&h, rx + 1, (char *)b.p, b.len);
			evt_buf_free(&b);
		}
		if (h.e.recs.len + h.e.guids.len > 64 * 1024) {
			guids += h.e.guids.len / 16;
			if (h.e.nevent != h.bk.nevent)
				h.mismatches++;
			h_flush(&h);
			nblocks++;
		}
	}
	guids += h.e.guids.len / 16;
	h_flush(&h);
	maxstr = h.e.dict.nstr;
	T_OK(h.mismatches == 0, "%d generator messages (%llu events) "
	    "round-trip in %llu blocks", n, (unsigned long long)events,
	    (unsigned long long)nblocks + 1);
	T_OK(guids >= events, "GUID column holds every id (%llu for %llu "
	    "events)", (unsigned long long)guids, (unsigned long long)events);
	T_OK(maxstr > 100 && h.fresh.nstr == h.e.dict.nstr,
	    "dictionary carried across blocks (%llu strings)",
	    (unsigned long long)maxstr);
	h_free(&h);
	evt_gen_free(g);
}

/*
 * Bookkeeping of one block in detail.
 */
static void
test_bookkeeping(void)
{
	struct evt_renc e;
	need(evt_renc_init(&e));
	static const char m1[] = "{\"events\":[{\"id\":"
	    "\"00000000-0000-0000-0000-000000000001\",\"time\":"
	    "\"2026-01-05T07:59:59.0000000Z\"},{\"id\":\"not-a-guid\","
	    "\"time\":\"2026-01-05T07:59:58.0000000Z\"}]}";
	static const char m2[] = "{\"states\":[{\"id\":"
	    "\"00000000-0000-0000-0000-000000000002\"}]}";
	static const char m3[] = "{\"events\":[{\"id\":"
	    "\"00000000-0000-0000-0000-000000000003\",\"id\":"
	    "\"00000000-0000-0000-0000-000000000004\"},{\"x\":1},7]}";
	T_EQ(evt_renc_frame(&e, 100, L(m1)), EVT_K_MSG, "m1 is a message");
	T_EQ(evt_renc_frame(&e, 50, L(m2)), EVT_K_STATES, "m2 is states");
	T_EQ(evt_renc_frame(&e, 200, L("nope")), EVT_K_RAW, "raw frame");
	T_EQ(evt_renc_frame(&e, 150, L(m3)), EVT_K_MSG, "m3 is a message");
	T_EQ(evt_renc_marker(&e, EVT_K_SESSION, 175, L("{\"s\":1}")), 0,
	    "session marker");
	T_EQ(evt_renc_marker(&e, EVT_K_RAW, 175, L("{}")), EVT_ERR_ARG,
	    "marker of a wrong kind");
	T_EQ(evt_renc_marker(&e, EVT_K_GAP, 175, L("[1]")), EVT_ERR_ARG,
	    "marker body not an object");
	T_EQ(evt_renc_marker(&e, EVT_K_GAP, 175, L("{")), EVT_ERR_ARG,
	    "marker body not JSON");
	T_EQ(e.nevent, 4, "events counted in messages only (2 + 2)");
	T_EQ(e.guids.len, 4 * 16, "GUID column: ids 1, 2, 3, 4");
	T_EQ(e.nkeys, 3, "id keys: first string id of events in messages");
	uint8_t g1[16] = {0}, g3[16] = {0};
	g1[15] = 1;
	g3[15] = 3;
	T_OK(e.nkeys >= 3 && e.keys[0] == evt_id_key(L(
	    "00000000-0000-0000-0000-000000000001")) &&
	    e.keys[1] == evt_id_key(L("not-a-guid")) && e.keys[2] ==
	    evt_id_key(L("00000000-0000-0000-0000-000000000003")),
	    "id keys in order");
	T_OK(e.guids.len >= 16 && memcmp(e.guids.p, g1, 16) == 0,
	    "first GUID column entry");
	T_OK(e.guids.len >= 48 && memcmp(e.guids.p + 32, g3, 16) == 0,
	    "GUID of the states event comes before m3's");
	T_OK(e.last_id_len == 36 && memcmp(e.last_id,
	    "00000000-0000-0000-0000-000000000003", 36) == 0,
	    "last id is the first id of the last event with one");
	T_EQ(e.first_rx, 50, "block first_rx is the smallest");
	T_EQ(e.last_rx, 200, "block last_rx is the largest");

	/* Decode and check rx, kinds, guid0 and field texts. */
	struct evt_rdec d;
	need(evt_rdec_init(&d, &e.dict, 0));
	evt_rdec_block(&d, e.recs.p, e.recs.len, e.guids.p,
	    (uint32_t)(e.guids.len / 16), 0, 0);
	struct evt_rec r;
	int rc, nrec = 0, kinds[64], nk = 0;
	int64_t rxs[64];
	uint32_t g0[64];
	char field[64][64];
	while ((rc = evt_rdec_next(&d, &r)) == 1 && nk < 64) {
		nrec++;
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			continue;
		kinds[nk] = r.kind;
		rxs[nk] = r.rx_us;
		g0[nk] = r.guid0;
		field[nk][0] = 0;
		if (r.kind == EVT_K_EVENT)
			evt_rdec_field(&d, &r, "time", field[nk], 64);
		nk++;
	}
	T_EQ(rc, 0, "block decodes to its end");
	T_EQ(nrec, (int)e.nrec, "record count matches the encoder's");
	static const int want[] = {
		EVT_K_MSG, EVT_K_EVENT, EVT_K_EVENT, EVT_K_STATES, EVT_K_EVENT,
		EVT_K_RAW, EVT_K_MSG, EVT_K_EVENT, EVT_K_EVENT, EVT_K_ITEM,
		EVT_K_SESSION,
	};
	static const int64_t wrx[] = {100, 100, 100, 50, 50, 200, 150, 150,
	    150, 150, 175};
	int ok = nk == 11;
	for (int i = 0; ok && i < 11; i++)
		ok = kinds[i] == want[i] && rxs[i] == wrx[i];
	T_OK(ok, "record kinds and receive times in order");
	T_OK(ok && g0[1] == 0 && g0[2] == 1 && g0[4] == 1 && g0[7] == 2 &&
	    g0[8] == 4, "guid0 of each event");
	T_OK(ok && strcmp(field[1], "2026-01-05T07:59:59.0000000Z") == 0 &&
	    strcmp(field[2], "2026-01-05T07:59:58.0000000Z") == 0,
	    "time fields decode with running deltas");
	evt_rdec_free(&d);

	/* A block reset keeps the dictionary and restarts the deltas. */
	uint32_t nstr = e.dict.nstr, nshape = e.dict.nshape;
	evt_renc_block_reset(&e);
	T_OK(e.recs.len == 0 && e.guids.len == 0 && e.nrec == 0 &&
	    e.nevent == 0 && e.nkeys == 0 && e.dict.nstr == nstr,
	    "block reset clears the block, keeps the dictionary");
	T_EQ(evt_renc_frame(&e, 1000, L(m1)), EVT_K_MSG, "m1 again");
	T_EQ(e.dict.nstr, nstr, "no new strings for a known message");
	T_EQ(e.dict.nshape, nshape, "no new shapes for a known message");
	need(evt_rdec_init(&d, &e.dict, 0));
	evt_rdec_block(&d, e.recs.p, e.recs.len, e.guids.p,
	    (uint32_t)(e.guids.len / 16), nstr, nshape);
	int defs = 0;
	nk = 0;
	while ((rc = evt_rdec_next(&d, &r)) == 1) {
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			defs++;
		if (r.kind == EVT_K_EVENT && nk < 2)
			evt_rdec_field(&d, &r, "time", field[nk++], 64);
		if (r.kind == EVT_K_MSG)
			T_EQ(r.rx_us, 1000, "rx after reset is absolute");
	}
	T_OK(rc == 0 && defs == 0, "second block has no definitions");
	T_OK(nk == 2 && strcmp(field[0], "2026-01-05T07:59:59.0000000Z") == 0 &&
	    strcmp(field[1], "2026-01-05T07:59:58.0000000Z") == 0,
	    "time deltas restart with the block");
	evt_rdec_free(&d);

	/* A segment reset empties the dictionary and the last id. */
	evt_renc_segment_reset(&e);
	T_OK(e.dict.nstr == 0 && e.dict.nshape == 0 && e.last_id_len == 0 &&
	    e.recs.len == 0, "segment reset clears dictionary and last id");
	evt_renc_free(&e);
}

/* A decoder over a fresh dictionary reading only a later block fails
 * cleanly (the definitions are elsewhere), never crashes. */
static void
test_missing_dict(void)
{
	struct evt_renc e;
	need(evt_renc_init(&e));
	evt_renc_frame(&e, 1, L("{\"events\":[" EV1 "]}"));
	uint32_t nstr = e.dict.nstr, nshape = e.dict.nshape;
	evt_renc_block_reset(&e);
	evt_renc_frame(&e, 2, L("{\"events\":[" EV1 "," EV2 "]}"));
	struct evt_dict fresh;
	evt_dict_init(&fresh);
	struct evt_rdec d;
	need(evt_rdec_init(&d, &fresh, 1));
	/* Placeholders for what the first block defined. */
	for (uint32_t i = 0; i < nstr; i++)
		evt_dict_str_add(&fresh, NULL, 0);
	for (uint32_t i = 0; i < nshape; i++)
		evt_dict_shape_add(&fresh, NULL, 0);
	evt_rdec_block(&d, e.recs.p, e.recs.len, e.guids.p,
	    (uint32_t)(e.guids.len / 16), nstr, nshape);
	struct evt_rec r;
	struct evt_buf out = {0};
	int rc, corrupt = 0, events = 0, guard = 0;
	while ((rc = evt_rdec_next(&d, &r)) != 0 && guard++ < 100) {
		if (rc < 0) {
			corrupt++;
			continue;
		}
		if (r.kind == EVT_K_EVENT) {
			events++;
			out.len = 0;
			if (evt_rdec_item_json(&d, &r, &out) == EVT_ERR_CORRUPT)
				corrupt++;
		}
	}
	T_OK(corrupt > 0 && guard < 100, "lost definitions are reported as "
	    "corruption (%d)", corrupt);
	evt_buf_free(&out);
	evt_rdec_free(&d);
	evt_dict_free(&fresh);
	evt_renc_free(&e);
}

/* evt_renc_learn rebuilds an encoder's dictionary from a decoder's. */
static void
test_learn(void)
{
	struct evt_renc e, e2;
	need(evt_renc_init(&e));
	need(evt_renc_init(&e2));
	evt_renc_frame(&e, 1, L("{\"events\":[" EV1 "," EV2 "]}"));
	T_EQ(evt_renc_learn(&e2, &e.dict), 0, "learn");
	T_OK(e2.dict.nstr == e.dict.nstr && e2.dict.nshape == e.dict.nshape,
	    "learned dictionary has the same size");
	evt_renc_frame(&e2, 2, L("{\"events\":[" EV2 "]}"));
	int defs = 0;
	struct evt_rdec d;
	need(evt_rdec_init(&d, &e2.dict, 0));
	evt_rdec_block(&d, e2.recs.p, e2.recs.len, e2.guids.p,
	    (uint32_t)(e2.guids.len / 16), e.dict.nstr, e.dict.nshape);
	struct evt_rec r;
	struct evt_buf out = {0}, tail = {0};
	while (evt_rdec_next(&d, &r) == 1) {
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			defs++;
		else if (r.kind == EVT_K_EVENT)
			evt_rdec_item_json(&d, &r, &out);
	}
	T_OK(defs == 0 && out.len == strlen(EV2) &&
	    memcmp(out.p, EV2, out.len) == 0,
	    "learned encoder reuses every definition");
	evt_buf_free(&out);
	evt_buf_free(&tail);
	evt_rdec_free(&d);
	evt_renc_free(&e);
	evt_renc_free(&e2);
}

/* GUID parsing, formatting and id keys. */
static void
test_guid(void)
{
	uint8_t g[16], g2[16];
	char out[37];
	T_EQ(evt_guid_parse(L("984cf5d2-ee0d-466c-bf0a-c38f64ad2089"), g, 1),
	    1, "lower-case GUID parses (lower_only)");
	static const uint8_t want[16] = {
		0x98, 0x4c, 0xf5, 0xd2, 0xee, 0x0d, 0x46, 0x6c,
		0xbf, 0x0a, 0xc3, 0x8f, 0x64, 0xad, 0x20, 0x89,
	};
	T_OK(memcmp(g, want, 16) == 0, "GUID bytes in text order");
	evt_guid_format(g, out);
	out[36] = 0;
	T_OK(strcmp(out, "984cf5d2-ee0d-466c-bf0a-c38f64ad2089") == 0,
	    "format is the lower-case text");
	T_EQ(evt_guid_parse(L("984CF5D2-EE0D-466C-BF0A-C38F64AD2089"), g2, 1),
	    0, "upper-case rejected with lower_only");
	T_EQ(evt_guid_parse(L("984CF5D2-EE0D-466C-BF0A-C38F64AD2089"), g2, 0),
	    1, "upper-case accepted without lower_only");
	T_OK(memcmp(g, g2, 16) == 0, "upper-case gives the same bytes");
	T_EQ(evt_guid_parse(L("984cf5d2-ee0d-466C-bf0a-c38f64ad2089"), g2, 1),
	    0, "one upper-case letter rejected with lower_only");
	T_EQ(evt_guid_parse(L("00000000-0000-0000-0000-000000000000"), g2, 1),
	    1, "nil GUID");
	T_EQ(evt_guid_parse(L("ffffffff-ffff-ffff-ffff-ffffffffffff"), g2, 1),
	    1, "all-f GUID");
	static const char *const bad[] = {
		"984cf5d2-ee0d-466c-bf0a-c38f64ad208",	 /* 35 */
		"984cf5d2-ee0d-466c-bf0a-c38f64ad20899", /* 37 */
		"984cf5d2ee0d-466c-bf0a-c38f64ad20899",	 /* dash moved */
		"984cf5d2-ee0d466c--bf0a-c38f64ad2089",
		"984cf5d2-ee0d-466c-bf0a-c38f64ad208g",
		"984cf5d2-ee0d-466c-bf0a-c38f64ad208 ",
		"984cf5d2-ee0d-466c-bf0a-c38f64ad208-",
		"-84cf5d2-ee0d-466c-bf0a-c38f64ad2089",
		"984cf5d2_ee0d_466c_bf0a_c38f64ad2089",
		"{84cf5d2-ee0d-466c-bf0a-c38f64ad208}",
		"984cf5d2-ee0d-466c-bf0a-c38f64ad208\xc3",
		"",
	};
	int nbad = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		nbad += evt_guid_parse(bad[i], strlen(bad[i]), g2, 0);
	T_EQ(nbad, 0, "malformed GUIDs rejected");
	char nul[36];
	memcpy(nul, "984cf5d2-ee0d-466c-bf0a-c38f64ad2089", 36);
	nul[35] = 0;
	T_EQ(evt_guid_parse(nul, 36, g2, 0), 0, "NUL inside rejected");
	/* Every byte value round-trips through format and parse. */
	int rt_bad = 0;
	for (int v = 0; v < 256; v++) {
		uint8_t a[16], b[16];
		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)(v + i * 17);
		evt_guid_format(a, out);
		if (evt_guid_parse(out, 36, b, 1) != 1 || memcmp(a, b, 16))
			rt_bad++;
	}
	T_EQ(rt_bad, 0, "format/parse round-trip for all byte values");

	/* Id keys: a GUID in any case hashes by its bytes. */
	uint64_t k1 = evt_id_key(L("984cf5d2-ee0d-466c-bf0a-c38f64ad2089"));
	uint64_t k2 = evt_id_key(L("984CF5D2-EE0D-466C-BF0A-C38F64AD2089"));
	uint64_t k3 = evt_id_key(L("984cf5d2-EE0D-466c-bf0a-c38f64ad2089"));
	T_OK(k1 == k2 && k1 == k3, "id key ignores GUID letter case");
	T_OK(evt_id_key(L("984cf5d2-ee0d-466c-bf0a-c38f64ad2088")) != k1,
	    "different GUIDs, different keys");
	/* Pinned values (format v1: changing them breaks sealed indexes). */
	T_OK(evt_id_key(L("00000000-0000-0000-0000-000000000001")) ==
	    UINT64_C(1) << 21, "GUID key = lo64 ^ rotl(hi64, 29), pinned");
	T_OK(evt_id_key(L("01000000-0000-0000-0000-000000000000")) == 1,
	    "GUID key byte order, pinned");
	T_OK(evt_id_key("", 0) == UINT64_C(0xcbf29ce484222325),
	    "empty id key is the FNV-1a basis");
	T_OK(evt_id_key(L("a")) == UINT64_C(0xaf63dc4c8601ec8c),
	    "non-GUID key is FNV-1a 64, pinned");
	T_OK(evt_id_key(L("A")) != evt_id_key(L("a")),
	    "non-GUID ids are case-sensitive");
	T_OK(evt_id_key(L("984cf5d2-ee0d-466c-bf0a-c38f64ad208g")) !=
	    evt_id_key(L("984cf5d2-ee0d-466c-bf0a-c38f64ad208G")),
	    "GUID-like non-GUIDs hash by text");
	T_OK(strcmp(evt_kind_name(EVT_K_EVENT), "event") == 0 &&
	    strcmp(evt_kind_name(EVT_K_RAW), "raw") == 0 &&
	    strcmp(evt_kind_name(-1), "?") == 0 &&
	    strcmp(evt_kind_name(EVT_K_MAX + 1), "?") == 0, "kind names");
}

/* evt_rdec_field and evt_rdec_field_strid on one event. */
static void
test_field(void)
{
	struct evt_renc e;
	need(evt_renc_init(&e));
	evt_renc_frame(&e, 5, L("{\"events\":[{\"id\":"
	    "\"984CF5D2-EE0D-466C-BF0A-C38F64AD2089\",\"source\":"
	    "\"cameras/x\",\"time\":\"2026-01-05T07:59:59.9770068Z\","
	    "\"n\":5,\"long\":\"" "0123456789012345678901234567890123456789"
	    "\"}]}"));
	struct evt_rdec d;
	need(evt_rdec_init(&d, &e.dict, 0));
	evt_rdec_block(&d, e.recs.p, e.recs.len, e.guids.p,
	    (uint32_t)(e.guids.len / 16), 0, 0);
	struct evt_rec r;
	int rc;
	while ((rc = evt_rdec_next(&d, &r)) == 1 && r.kind != EVT_K_EVENT)
		;
	T_EQ(rc, 1, "event found");
	char v[64];
	T_EQ(evt_rdec_field(&d, &r, "id", v, sizeof v), 36, "upper-case id");
	T_OK(strcmp(v, "984CF5D2-EE0D-466C-BF0A-C38F64AD2089") == 0,
	    "id text kept as sent");
	T_EQ(evt_rdec_field(&d, &r, "source", v, sizeof v), 9, "source");
	T_EQ(evt_rdec_field(&d, &r, "time", v, sizeof v), EVT_TICKS_LEN,
	    "time");
	T_EQ(evt_rdec_field(&d, &r, "n", v, sizeof v), EVT_ERR_NOTFOUND,
	    "number field is not a string");
	T_EQ(evt_rdec_field(&d, &r, "nope", v, sizeof v), EVT_ERR_NOTFOUND,
	    "absent field");
	T_EQ(evt_rdec_field(&d, &r, "long", v, 20), EVT_ERR_TOOBIG,
	    "too small buffer");
	T_OK(evt_rdec_field_strid(&d, &r, "source") >= 0,
	    "source is interned");
	T_EQ(evt_rdec_field_strid(&d, &r, "time"), -1, "time is not interned");
	/* evt_rdec_strids: the same in one pass, and which fields are
	 * strings stored otherwise. */
	int64_t keys[6], ids[6];
	const char *names[6] = {"source", "time", "id", "n", "long", "nope"};
	for (int i = 0; i < 6; i++)
		keys[i] = evt_dict_str_find(&e.dict, names[i],
		    strlen(names[i]));
	T_EQ(keys[5], -1, "no key nope");
	evt_rdec_strids(&d, &r, keys, 6, ids);
	T_EQ(ids[0], evt_rdec_field_strid(&d, &r, "source"),
	    "strids: the source's string id");
	T_EQ(ids[1], -2, "strids: time is a string stored otherwise");
	T_EQ(ids[2], -2, "strids: an upper-case id too");
	T_EQ(ids[3], -1, "strids: a number is not a string");
	T_EQ(ids[4], evt_rdec_field_strid(&d, &r, "long"),
	    "strids: a short enough string is interned");
	T_EQ(ids[5], -1, "strids: an absent key");
	evt_rdec_free(&d);
	evt_renc_free(&e);
}

/*
 * Regressions around the empty string "" (found by these tests, fixed):
 *  A. evt_dict_str() returns NULL for a string of length 0 while the arena
 *     is still unallocated (the first string of a dictionary is ""), so
 *     the decoder reports "key/string definition was lost".
 *  B. msgpack-c unpacks a zero-length str with ptr NULL; rdec_strdef()
 *     (and parse_meta() in segment_reader.c) hand that NULL to
 *     evt_dict_str_add(), which takes NULL to mean "placeholder for a lost
 *     definition".  Every "" interned in a segment is lost on reading.
 */
static void
test_empty_string(void)
{
	struct evt_dict d;
	size_t len = 99;
	evt_dict_init(&d);
	T_EQ(evt_dict_str_add(&d, "", 0), 0, "\"\" interned as string 0");
	T_OK(evt_dict_str(&d, 0, &len) != NULL && len == 0,
	    "regression: evt_dict_str() of \"\" as the first string is not "
	    "NULL");
	evt_dict_free(&d);

	static const char m[] = "{\"events\":[{\"a\":\"x\",\"s\":\"\"}]}";
	struct harness h;
	h_init(&h);
	h_add(&h, 1, L(m));
	evt_renc_frame(&h.e, 1, L(m)); /* keep the block in hand */
	h.nx = 0;
	decode_block(&h.dfull, &h.e, 0, 0, &h.r1);
	decode_block(&h.dfresh, &h.e, 0, 0, &h.r2);
	T_OK(h.r1.errors == 0, "\"\" value decodes over the encoder's "
	    "dictionary");
	T_OK(h.r2.errors == 0 && h.r2.n == 2 && same(h.r2.text.p +
	    h.r2.f[0].off, h.r2.f[0].len, m, sizeof m - 1),
	    "regression: \"\" value decodes over a grown dictionary (STRDEF of "
	    "\"\" unpacks with ptr NULL and becomes a placeholder)");
	if (h.r2.errors > 0)
		printf("#   %s\n", h.r2.err);
	h_free(&h);
}

/* Decodes a block of hostile record bytes; returns the first error, 0 if
 * none; counts records. */
static int
hostile_block(const uint8_t *recs, size_t len, int *nrec)
{
	struct evt_dict d;
	struct evt_rdec dec;
	struct evt_rec r;
	int rc, first = 0, guard = 0;
	evt_dict_init(&d);
	need(evt_rdec_init(&dec, &d, 1));
	evt_rdec_block(&dec, recs, len, NULL, 0, 0, 0);
	*nrec = 0;
	while ((rc = evt_rdec_next(&dec, &r)) != 0 && guard++ < 100000) {
		if (rc < 0 && first == 0)
			first = rc;
		if (rc == EVT_ERR_NOMEM)
			break;
		if (rc == 1)
			(*nrec)++;
	}
	evt_rdec_free(&dec);
	evt_dict_free(&d);
	return first;
}

/*
 * Block content is hostile input too (a crafted file passes the CRCs).
 * msgpack-c's msgpack_unpack() answers MSGPACK_UNPACK_NOMEM_ERROR for
 * nesting deeper than its 32-level stack, and allocates the element
 * array of a container before checking that the bytes are there; both
 * once came out of evt_rdec_next() as EVT_ERR_NOMEM, which stopped a
 * segment scan ("out of memory", evtool exit 3).  Found by these tests
 * and fuzz_segment, since fixed.
 */
static void
test_hostile_records(void)
{
	uint8_t b[200];
	int n, rc;
	/* 40 nested one-element arrays, then a good record. */
	memset(b, 0x91, 40);
	b[40] = 0xc0;
	static const uint8_t good[] = {0x93, 0x06, 0x00, 0xc0}; /* JSON null */
	memcpy(b + 41, good, sizeof good);
	rc = hostile_block(b, 41 + sizeof good, &n);
	T_OK(rc == EVT_ERR_CORRUPT && n == 0, "regression: 40 nested arrays in a "
	    "block: EVT_ERR_CORRUPT, not EVT_ERR_NOMEM (got %d)", rc);
	/* A record within the bound decodes. */
	memset(b, 0x91, 31);
	b[31] = 0xc0;
	rc = hostile_block(b, 32, &n);
	T_OK(rc == EVT_ERR_CORRUPT, "31 nested arrays: not a record, "
	    "reported (%d)", rc);
	/* array32 claiming 2^28 elements with 4 bytes behind it: must be
	 * "truncated", found without allocating 6 GB first. */
	static const uint8_t big[] = {0xdd, 0x10, 0x00, 0x00, 0x00, 0x06, 0x00,
	    0xc0, 0xc0};
	rc = hostile_block(big, sizeof big, &n);
	T_OK(rc == EVT_ERR_CORRUPT, "array32 of 2^28 elements in 9 bytes: "
	    "EVT_ERR_CORRUPT (got %d)", rc);
	static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x06};
	rc = hostile_block(huge, sizeof huge, &n);
	T_OK(rc == EVT_ERR_CORRUPT, "regression: array32 of 2^32-1 elements in 6 "
	    "bytes: EVT_ERR_CORRUPT, not EVT_ERR_NOMEM (got %d)", rc);
}

/*
 * Flat items (evt_rdec_event_flat, evt_flat_json, evt_renc_msg_flat)
 */

/* MSG frames for the flat path: every kind of flat value, and items that
 * must be TEXT (not plain, nested, non-integer, not objects). */
static const char *const flat_frames[] = {
	"{\"events\":[{\"id\":\"ABCDEF00-0000-4000-8000-000000000001\","
	    "\"n\":-5,\"b\":true,\"z\":null,\"f\":false,"
	    "\"u\":18446744073709551615,\"i\":-9223372036854775808}]}",
	"{\"events\":[{\"id\":\"2026-01-05T07:59:59.0000000Z\","
	    "\"time\":\"2026-01-05T07:59:59.0000000Z\"},{\"id\":\"plain\"}]}",
	"{\"events\":[{\"t\":\"abcdef00-0000-4000-8000-000000000001\","
	    "\"id\":\"abcdef00-0000-4000-8000-000000000002\","
	    "\"id\":\"abcdef00-0000-4000-8000-000000000003\"}]}",
	"{\"events\":[{\"s\":\"caf\\u00e9\",\"id\":\"x\"},{\"k\\\"q\":\"v\"},"
	    "{\"a\":1.5},{\"b\":[1,2]},{\"c\":{\"d\":1}},{\"n\":-0},"
	    "{\"e\":\"tab\\there\"}]}",
	"{\"events\":[1,\"s\",{\"id\":\"y\"},null]}",
	"{\"x\":1,\"events\":[{\"id\":\"z\"}]}",
	"{\"events\":[]}",
};

/* Appends a long string value member "key":"xxx..." (n bytes). */
static void
flat_long(struct evt_buf *b, const char *key, size_t n)
{
	puts_b(b, "\"");
	puts_b(b, key);
	puts_b(b, "\":\"");
	for (size_t i = 0; i < n; i++)
		need(evt_buf_putc(b, (char)('a' + i % 26)));
	puts_b(b, "\"");
}

/* Frame number i of the flat test into b. */
static void
flat_frame(struct evt_gen *g, int i, struct evt_buf *b, int64_t *rx)
{
	const char *f;
	size_t len;
	uint32_t nev;
	b->len = 0;
	if (i % 4 == 0) {
		rj_doc(b);
		return;
	}
	if (i % 4 == 1) {
		size_t n = sizeof flat_frames / sizeof *flat_frames;
		if (i % 44 == 1) {	/* strings too long to intern */
			puts_b(b, "{\"events\":[{");
			flat_long(b, "id", EVT_REC_MAX_INTERN + 1 + rnd(3));
			puts_b(b, ",");
			flat_long(b, "v", EVT_REC_MAX_INTERN - 1 + rnd(3));
			puts_b(b, "}]}");
			return;
		}
		puts_b(b, flat_frames[(i / 4) % n]);
		return;
	}
	len = evt_gen_next(g, &f, rx, &nev);
	need(evt_buf_put(b, f, len));
}

/* Encodes frame f with et (from text) and its flat items with ef (with
 * their input string ids and map, unless NULL), both with the items
 * picked; counts frames whose records differ in *diff. */
static void
flat_encode(struct evt_renc *et, struct evt_renc *ef, int64_t rx,
    const struct evt_buf *flat, const size_t *fspan,
    const struct evt_buf *items, const size_t *ispan, uint32_t n,
    const uint8_t *pick, const struct evt_buf *sids, struct evt_smap *map,
    long *diff)
{
	struct evt_buf t = {0};
	uint32_t k = 0;
	puts_b(&t, "{\"events\":[");
	for (uint32_t i = 0; i < n; i++) {
		if (pick != NULL && !pick[i])
			continue;
		if (k++ > 0)
			need(evt_buf_putc(&t, ','));
		need(evt_buf_put(&t, items->p + ispan[2 * i], ispan[2 * i + 1] -
		    ispan[2 * i]));
	}
	puts_b(&t, "]}");
	int kt = evt_renc_frame(et, rx, (const char *)t.p, t.len);
	struct evt_flat_msg fm = {.flat = flat->p, .span = fspan, .n = n,
	    .pick = pick, .sids = sids != NULL ? (const uint32_t *)sids->p :
	    NULL, .map = map};
	int kf = evt_renc_msg_flat(ef, rx, &fm);
	if (kt != kf || !same(et->recs.p, et->recs.len, ef->recs.p,
	    ef->recs.len) || !same(et->guids.p, et->guids.len, ef->guids.p,
	    ef->guids.len) || !same(et->slog.p, et->slog.len, ef->slog.p,
	    ef->slog.len) || et->slog_odd != ef->slog_odd ||
	    et->nkeys != ef->nkeys || et->nrec != ef->nrec ||
	    et->nevent != ef->nevent || et->nguid_keys != ef->nguid_keys ||
	    et->last_id_len != ef->last_id_len ||
	    memcmp(et->last_id, ef->last_id, et->last_id_len) != 0 ||
	    (et->nkeys > 0 && memcmp(et->keys, ef->keys, et->nkeys *
	    sizeof *et->keys) != 0)) {
		if ((*diff)++ < 4)
			printf("# flat encoding differs: %.*s\n",
			    t.len > 300 ? 300 : (int)t.len, (char *)t.p);
	}
	evt_buf_free(&t);
}

/* Every item of a MSG frame: its flat form renders as evt_rdec_item_json
 * renders the record; a frame {"events":[...]} of flat EVENT items (all,
 * or some picked) encodes from the flat items to the records its text
 * encodes to, block after block, with the dictionary carried. */
static void
test_flat(void)
{
	struct evt_renc src, et, ef;
	struct evt_rdec d;
	struct evt_buf b = {0}, head = {0}, tail = {0}, items = {0};
	struct evt_buf flat = {0}, r = {0}, sids = {0};
	struct evt_smap map = {0};
	struct evt_gen_opts o = {.seed = 13, .data_fraction = 0.1};
	struct evt_gen *g = evt_gen_new(&o);
	size_t ispan[2 * 64], fspan[2 * 64];
	uint8_t pick[64];
	long nitems = 0, nflat = 0, ntext = 0, rdiff = 0, frames = 0;
	long ediff = 0, errs = 0, guesses = 0;
	need(evt_renc_init(&src));
	need(evt_renc_init(&et));
	need(evt_renc_init(&ef));
	et.slog_on = ef.slog_on = 1;
	need(evt_rdec_init(&d, &src.dict, 0));
	T_OK(g != NULL, "generator");
	if (g == NULL)
		return;
	int64_t rx = INT64_C(1767600000000000);
	for (int i = 0; i < 6000; i++) {
		flat_frame(g, i, &b, &rx);
		rx += 3;
		uint32_t sb = src.dict.nstr, hb = src.dict.nshape;
		evt_renc_block_reset(&src);
		if (evt_renc_frame(&src, rx, (const char *)b.p, b.len) !=
		    EVT_K_MSG)
			continue;
		evt_rdec_block(&d, src.recs.p, src.recs.len, src.guids.p,
		    (uint32_t)(src.guids.len / 16), sb, hb);
		struct evt_rec rec;
		uint32_t n = 0;
		int plain = 0, allflat = 1, rc;
		items.len = flat.len = head.len = sids.len = 0;
		while ((rc = evt_rdec_next(&d, &rec)) != 0) {
			if (rc < 0) {
				errs++;
				break;
			}
			if (rec.kind == EVT_K_MSG) {
				need(evt_rdec_frame_head(&d, &rec, &head,
				    &tail));
				plain = head.len == 11 &&
				    memcmp(head.p, "{\"events\":[", 11) == 0;
				continue;
			}
			if ((rec.kind != EVT_K_EVENT && rec.kind !=
			    EVT_K_ITEM) || n == 64)
				continue;
			ispan[2 * n] = items.len;
			fspan[2 * n] = flat.len;
			errs += evt_rdec_item_json(&d, &rec, &items) != 0;
			errs += evt_rdec_event_flat(&d, &rec, &flat, &sids) !=
			    0;
			ispan[2 * n + 1] = items.len;
			fspan[2 * n + 1] = flat.len;
			r.len = 0;
			need(evt_flat_json(flat.p + fspan[2 * n],
			    fspan[2 * n + 1] - fspan[2 * n], &r));
			if (!same(r.p, r.len, items.p + ispan[2 * n],
			    ispan[2 * n + 1] - ispan[2 * n]) && rdiff++ < 4)
				printf("# flat renders %.*s\n", (int)r.len,
				    (char *)r.p);
			int ev = flat.p[fspan[2 * n]] == EVT_FL_EVENT;
			nflat += ev;
			ntext += !ev;
			allflat &= ev;
			nitems++;
			n++;
		}
		if (!plain || !allflat)
			continue;
		frames++;
		for (uint32_t k = 0; k < n; k++)
			pick[k] = rnd(3) != 0;
		/* With the ids of the source's dictionary (which is
		 * carried, so the map's guesses stay right) and without;
		 * now and then with ids as another dictionary of the input
		 * would number its strings (the map's guesses are wrong). */
		if (rnd(20) == 0)
			for (size_t k = 0; k < sids.len / 4; k++)
				((uint32_t *)sids.p)[k] = (uint32_t)rnd(64);
		flat_encode(&et, &ef, rx, &flat, fspan, &items, ispan, n,
		    i % 2 ? pick : NULL, i % 3 ? &sids : NULL, i % 3 ? &map :
		    NULL, &ediff);
		guesses += map.cap > 0;
		if (rnd(40) == 0) {
			evt_renc_block_reset(&et);
			evt_renc_block_reset(&ef);
		}
		if (rnd(300) == 0) {
			evt_renc_unit_reset(&et);
			evt_renc_unit_reset(&ef);
		}
		if (rnd(900) == 0) {
			evt_renc_segment_reset(&et);
			evt_renc_segment_reset(&ef);
		}
	}
	T_EQ(errs, 0, "flat: items decode");
	T_EQ(rdiff, 0, "flat: %ld items (%ld flat events, %ld text) render "
	    "as their records", nitems, nflat, ntext);
	T_OK(nflat > 1000 && ntext > 100, "flat: both kinds of items seen");
	T_EQ(ediff, 0, "flat: %ld frames of flat events encode as their text",
	    frames);
	T_OK(guesses > 0, "flat: with a map of string ids");
	uint8_t bad[] = {EVT_FL_TEXT, '{', '}'};
	size_t bspan[2] = {0, sizeof bad};
	struct evt_flat_msg fm = {.flat = bad, .span = bspan, .n = 1};
	T_EQ(evt_renc_msg_flat(&ef, 0, &fm), EVT_ERR_ARG,
	    "flat: a TEXT item is refused");
	evt_smap_free(&map);
	evt_buf_free(&sids);
	evt_gen_free(g);
	evt_rdec_free(&d);
	evt_renc_free(&src);
	evt_renc_free(&et);
	evt_renc_free(&ef);
	evt_buf_free(&b);
	evt_buf_free(&head);
	evt_buf_free(&tail);
	evt_buf_free(&items);
	evt_buf_free(&flat);
	evt_buf_free(&r);
}

int
main(void)
{
	test_empty_string();
	test_guid();
	test_guid_exhaustive();
	test_shapes();
	test_ids_times();
	test_numbers();
	test_strings();
	test_depth();
	test_raw();
	test_wide();
	test_bookkeeping();
	test_missing_dict();
	test_learn();
	test_field();
	test_gen();
	test_random();
	test_frame_tok();
	test_flat();
	/* Last: under ASan the 2^32-element case aborts the program. */
	test_hostile_records();
	T_DONE();
}
