/*
 * fuzz_record.c: libFuzzer target for the record codec (src/record.c).
 *
 * The input is one received frame.  It is encoded with evt_renc_frame()
 * twice into one block (and so with evt_renc_frame_tok() from the
 * reference parse, which must give the same bytes) and once more after
 * evt_renc_block_reset() (so interned strings and shapes are reused across records and blocks), and
 * every block is decoded twice: over the encoder's dictionary
 * (dict_grows = 0, as a sealed segment's index gives it) and over a
 * dictionary the decoder grows itself (dict_grows = 1, a segment read from
 * its start).  The frame rebuilt from evt_rdec_frame_head() + items +
 * tail must be, per the losslessness contract:
 *   - if the input is JSON nested at most EVT_REC_MAX_DEPTH deep: its
 *     canonical form (compact, strings unescaped and re-escaped by
 *     evt_json_write_string(), number texts as they were), computed here
 *     from the tokenizer alone;
 *   - if it is not JSON: a RAW record with exactly the input bytes;
 *   - if it is JSON nested deeper: either of the two.
 * If the input is a JSON object it is also encoded as a SESSION marker,
 * which must decode to the same canonical text.  Every item also has a
 * flat form (evt_rdec_event_flat) that renders to the item's text; when
 * the frame is {"events":[...]} of flat EVENT items, they encode
 * (evt_renc_msg_flat) to the very block the frame did; a state table
 * keys it as it keys the text (evt_state_apply_flat).  Any violation
 * abort()s.
 * Plain C11 + the library, so tests/fuzz/driver.c replays the corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "../unit/jcanon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_record: %s:%d: %s\n",     \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* Appends bytes, aborting on out of memory. */
static void
put(struct evt_buf *b, const void *p, size_t n)
{
	CHECK(evt_buf_put(b, p, n) == 0);
}

/* One decoded frame. */
struct dframe {
	int kind;
	int64_t rx;
	size_t off, len;
};

/* The flat items of the first frame of a block, and whether it is a MSG
 * {"events":[...]} of flat EVENT items only. */
struct flatf {
	struct evt_buf flat, r, sids;
	size_t *span;
	uint32_t n, cap;
	int plain;
};

/* Checks that flat item p[0..len) goes into a state table as its text
 * t[0..tl) does: stateful alike, the same text under the same source. */
static void
flat_state(const uint8_t *p, size_t len, const char *t, size_t tl)
{
	struct evt_state *a = evt_state_new(), *b = evt_state_new();
	const char *const *ta, *const *tb;
	const size_t *la, *lb;
	CHECK(a != NULL && b != NULL);
	CHECK((evt_state_apply(a, t, tl) == 1) ==
	    (evt_state_apply_flat(b, p, len) == 1));
	CHECK(evt_state_settle(b) == 0);
	size_t n = evt_state_list(a, &ta, &la);
	CHECK(evt_state_list(b, &tb, &lb) == n);
	for (size_t i = 0; i < n; i++)
		CHECK(la[i] == lb[i] && memcmp(ta[i], tb[i], la[i]) == 0 &&
		    strcmp(evt_state_source(a, i), evt_state_source(b, i)) ==
		    0);
	evt_state_free(a);
	evt_state_free(b);
}

/* Checks the flat form of item r, whose text is text[at..), and notes it
 * if it is an item of the block's first frame. */
static void
flat_item(struct evt_rdec *d, const struct evt_rec *r,
    const struct evt_buf *text, size_t at, struct flatf *ff, int first)
{
	size_t mark = ff->flat.len;
	CHECK(evt_rdec_event_flat(d, r, &ff->flat, first ? &ff->sids :
	    NULL) == 0);
	ff->r.len = 0;
	CHECK(evt_flat_json(ff->flat.p + mark, ff->flat.len - mark,
	    &ff->r) == 0);
	CHECK(ff->r.len == text->len - at && (ff->r.len == 0 ||
	    memcmp(ff->r.p, text->p + at, ff->r.len) == 0));
	flat_state(ff->flat.p + mark, ff->flat.len - mark,
	    (const char *)text->p + at, text->len - at);
	if (!first) {
		ff->flat.len = mark;
		return;
	}
	if (ff->n == ff->cap) {
		ff->cap = ff->cap ? 2 * ff->cap : 16;
		ff->span = realloc(ff->span, 2 * ff->cap * sizeof *ff->span);
		CHECK(ff->span != NULL);
	}
	ff->span[2 * ff->n] = mark;
	ff->span[2 * ff->n + 1] = ff->flat.len;
	ff->n++;
	ff->plain &= ff->flat.p[mark] == EVT_FL_EVENT;
}

/*
 * Decodes a block into frames (text in *text, at most 8 frames) and
 * returns their count.  Every record must decode: the block was written
 * by the encoder a moment ago.
 */
static size_t
decode(struct evt_rdec *d, const struct evt_renc *e, uint32_t sb, uint32_t hb,
    struct dframe *f, struct evt_buf *text, struct flatf *ff)
{
	struct evt_buf tail = {0};
	struct evt_rec r;
	size_t n = 0;
	int open = 0, rc;
	uint32_t left = 0, emitted = 0;
	text->len = 0;
	ff->flat.len = ff->sids.len = 0;
	ff->n = 0;
	ff->plain = 0;
	evt_rdec_block(d, e->recs.p, e->recs.len, e->guids.p,
	    (uint32_t)(e->guids.len / 16), sb, hb);
	while ((rc = evt_rdec_next(d, &r)) == 1) {
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			continue;
		if (r.kind == EVT_K_EVENT || r.kind == EVT_K_ITEM) {
			CHECK(open && left > 0);
			if (emitted++ > 0)
				put(text, ",", 1);
			size_t at = text->len;
			CHECK(evt_rdec_item_json(d, &r, text) == 0);
			flat_item(d, &r, text, at, ff, n == 1);
			if (r.kind == EVT_K_EVENT) {
				/* The field accessors must not fail on a
				 * good record. */
				char v[EVT_REC_MAX_INTERN];
				int k = evt_rdec_field(d, &r, "id", v,
				    sizeof v);
				CHECK(k >= 0 || k == EVT_ERR_NOTFOUND ||
				    k == EVT_ERR_TOOBIG);
				evt_rdec_field_strid(d, &r, "type");
			}
			if (--left == 0) {
				put(text, tail.p, tail.len);
				f[n - 1].len = text->len - f[n - 1].off;
				open = 0;
			}
			continue;
		}
		CHECK(!open && n < 8);
		f[n].kind = r.kind;
		f[n].rx = r.rx_us;
		f[n].off = text->len;
		CHECK(evt_rdec_frame_head(d, &r, text, &tail) == 0);
		n++;
		if (n == 1)
			ff->plain = r.kind == EVT_K_MSG && text->len == 11 &&
			    memcmp(text->p, "{\"events\":[", 11) == 0;
		if ((r.kind == EVT_K_MSG || r.kind == EVT_K_STATES) &&
		    r.nitems > 0) {
			open = 1;
			left = r.nitems;
			emitted = 0;
		} else {
			put(text, tail.p, tail.len);
			f[n - 1].len = text->len - f[n - 1].off;
		}
	}
	CHECK(rc == 0 && !open);
	evt_buf_free(&tail);
	return n;
}

/* Checks one decoded frame against the input. */
static void
check_frame(const struct dframe *f, const struct evt_buf *text, int64_t rx,
    const uint8_t *data, size_t size, int json, uint32_t dep,
    const struct evt_buf *can)
{
	/* text->p is NULL while nothing was written. */
	const uint8_t *got = f->len > 0 ? text->p + f->off : NULL;
	CHECK(f->rx == rx);
	if (f->kind == EVT_K_RAW) {
		CHECK(!json || dep > EVT_REC_MAX_DEPTH);
		CHECK(f->len == size && (size == 0 ||
		    memcmp(got, data, size) == 0));
		return;
	}
	CHECK(json);
	CHECK(f->len == can->len && (can->len == 0 ||
	    memcmp(got, can->p, can->len) == 0));
}

/* The fuzz entry point: see the top of the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct evt_jparser p;
	struct evt_buf can = {0}, text = {0};
	struct evt_renc e;
	struct evt_dict fresh;
	struct evt_rdec dfull, dfresh;
	struct dframe f[8];
	struct flatf ff = {0};

	/* The reference: JSON or not, canonical text, depth. */
	evt_json_init(&p, 100000);
	p.lone_surrogates = 1; /* JSON to the codec too */
	int json = evt_json_parse(&p, in, size) > 0;
	uint32_t dep = 0;
	int is_obj = 0;
	if (json) {
		jcanon(&p, in, 0, &can);
		dep = jdepth(&p, 0);
		is_obj = p.tok[0].type == EVT_J_OBJECT;
	}

	CHECK(evt_renc_init(&e) == 0);
	evt_dict_init(&fresh);
	CHECK(evt_rdec_init(&dfull, &e.dict, 0) == 0);
	CHECK(evt_rdec_init(&dfresh, &fresh, 1) == 0);

	/* Block 1: the frame twice (the second reuses the dictionary). */
	int k1 = evt_renc_frame(&e, 1000, in, size);
	int k2 = evt_renc_frame(&e, 999, in, size);
	CHECK(k1 >= 0 && k1 == k2);
	CHECK(k1 == EVT_K_MSG || k1 == EVT_K_STATES || k1 == EVT_K_JSON ||
	    k1 == EVT_K_RAW);
	CHECK(k1 == EVT_K_RAW || (json && dep <= EVT_REC_MAX_DEPTH));
	CHECK(e.guids.len % 16 == 0 && e.nkeys <= e.nevent);
	CHECK(e.first_rx == 999 && e.last_rx == 1000);
	for (int pass = 0; pass < 2; pass++) {
		struct evt_rdec *d = pass ? &dfresh : &dfull;
		size_t n = decode(d, &e, 0, 0, f, &text, &ff);
		CHECK(n == 2 && f[0].kind == k1 && f[1].kind == k1);
		check_frame(&f[0], &text, 1000, data, size, json, dep, &can);
		check_frame(&f[1], &text, 999, data, size, json, dep, &can);
	}
	CHECK(fresh.nstr == e.dict.nstr && fresh.nshape == e.dict.nshape);

	/* The same block from the caller's tokens (evrec's path, a parser
	 * of another depth bound): byte for byte. */
	struct evt_renc e2;
	CHECK(evt_renc_init(&e2) == 0);
	CHECK(evt_renc_frame_tok(&e2, 1000, in, size, json ? &p : NULL) == k1);
	CHECK(evt_renc_frame_tok(&e2, 999, in, size, json ? &p : NULL) == k1);
	CHECK(e2.recs.len == e.recs.len && e2.guids.len == e.guids.len &&
	    e2.nkeys == e.nkeys && e2.raw_err == e.raw_err &&
	    e2.raw_off == e.raw_off);
	CHECK(e.recs.len == 0 || memcmp(e2.recs.p, e.recs.p, e.recs.len) == 0);
	CHECK(e.guids.len == 0 ||
	    memcmp(e2.guids.p, e.guids.p, e.guids.len) == 0);
	evt_renc_free(&e2);

	/* The same block from the frame's flat items, when it has them. */
	decode(&dfull, &e, 0, 0, f, &text, &ff);
	if (ff.plain) {
		struct evt_smap map = {0};
		struct evt_flat_msg fm = {.flat = ff.flat.p, .span = ff.span,
		    .n = ff.n, .sids = (const uint32_t *)ff.sids.p,
		    .map = &map};
		CHECK(evt_renc_init(&e2) == 0);
		/* The second time with the map's guesses. */
		CHECK(evt_renc_msg_flat(&e2, 1000, &fm) == EVT_K_MSG);
		CHECK(evt_renc_msg_flat(&e2, 999, &fm) == EVT_K_MSG);
		evt_smap_free(&map);
		CHECK(e2.recs.len == e.recs.len &&
		    e2.guids.len == e.guids.len && e2.nkeys == e.nkeys &&
		    e2.nevent == e.nevent);
		CHECK(memcmp(e2.recs.p, e.recs.p, e.recs.len) == 0);
		CHECK(e.guids.len == 0 ||
		    memcmp(e2.guids.p, e.guids.p, e.guids.len) == 0);
		CHECK(e.nkeys == 0 ||
		    memcmp(e2.keys, e.keys, e.nkeys * sizeof *e.keys) == 0);
		evt_renc_free(&e2);
	}

	/* Block 2: after a block reset, with the dictionary carried, the
	 * frame and (for objects) the same text as a marker. */
	uint32_t sb = e.dict.nstr, hb = e.dict.nshape;
	evt_renc_block_reset(&e);
	int k3 = evt_renc_frame(&e, -5, in, size);
	CHECK(k3 == k1);
	CHECK(e.dict.nstr == sb && e.dict.nshape == hb);
	int mk = evt_renc_marker(&e, EVT_K_SESSION, 7, in, size);
	if (is_obj && dep <= EVT_REC_MAX_DEPTH)
		CHECK(mk == 0);
	else
		CHECK(mk == EVT_ERR_ARG || (mk == 0 && is_obj));
	for (int pass = 0; pass < 2; pass++) {
		struct evt_rdec *d = pass ? &dfresh : &dfull;
		size_t n = decode(d, &e, sb, hb, f, &text, &ff);
		CHECK(n == (mk == 0 ? 2u : 1u) && f[0].kind == k1);
		check_frame(&f[0], &text, -5, data, size, json, dep, &can);
		if (mk == 0) {
			CHECK(f[1].kind == EVT_K_SESSION);
			check_frame(&f[1], &text, 7, data, size, json, dep,
			    &can);
		}
	}

	evt_rdec_free(&dfull);
	evt_rdec_free(&dfresh);
	evt_dict_free(&fresh);
	evt_renc_free(&e);
	evt_json_free(&p);
	evt_buf_free(&can);
	evt_buf_free(&text);
	evt_buf_free(&ff.flat);
	evt_buf_free(&ff.r);
	evt_buf_free(&ff.sids);
	free(ff.span);
	return 0;
}
