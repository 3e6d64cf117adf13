/*
 * test_record_spec.c: the places where an independent reader written from
 * formats/ alone and evtape's reader disagreed (issue 10, item 9), and the
 * extreme values of item 10, each pinned to the rule formats/ now states.
 *
 * Blocks are built here by hand with msgpack-c's packer, record by record,
 * as a hostile or future writer could write them, and decoded with
 * evt_rdec_next(); each test says which sentence of formats/records.md it
 * checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "evtape/crc32c.h"
#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "t.h"

/* A block under construction. */
struct blk {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

/* Starts an empty block. */
static void
blk_init(struct blk *b)
{
	msgpack_sbuffer_init(&b->sb);
	msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

/* Packs [0, s]. */
static void
strdef(struct blk *b, const char *s)
{
	msgpack_pack_array(&b->pk, 2);
	msgpack_pack_uint8(&b->pk, EVT_K_STRDEF);
	msgpack_pack_str_with_body(&b->pk, s, strlen(s));
}

/* Packs the SHAPEDEF of one field (key string 0, encoding enc), or of
 * two when enc2 >= 0. */
static void
shapedef(struct blk *b, int enc, int enc2)
{
	msgpack_pack_array(&b->pk, enc2 >= 0 ? 5 : 3);
	msgpack_pack_uint8(&b->pk, EVT_K_SHAPEDEF);
	msgpack_pack_uint8(&b->pk, 0);
	msgpack_pack_uint8(&b->pk, (uint8_t)enc);
	if (enc2 >= 0) {
		msgpack_pack_uint8(&b->pk, 0);
		msgpack_pack_uint8(&b->pk, (uint8_t)enc2);
	}
}

/* Packs a short MSG header [2, delta, n]. */
static void
msg(struct blk *b, int64_t delta, uint32_t n)
{
	msgpack_pack_array(&b->pk, 3);
	msgpack_pack_uint8(&b->pk, EVT_K_MSG);
	msgpack_pack_int64(&b->pk, delta);
	msgpack_pack_uint32(&b->pk, n);
}

/* Packs [3, shape, tick delta...] for a shape of TIME fields. */
static void
event_t(struct blk *b, uint32_t shape, int n, int64_t d0, int64_t d1)
{
	msgpack_pack_array(&b->pk, 2 + (size_t)n);
	msgpack_pack_uint8(&b->pk, EVT_K_EVENT);
	msgpack_pack_uint32(&b->pk, shape);
	msgpack_pack_int64(&b->pk, d0);
	if (n > 1)
		msgpack_pack_int64(&b->pk, d1);
}

/* Packs a JSON frame [6, delta, null]. */
static void
json_null(struct blk *b, int64_t delta)
{
	msgpack_pack_array(&b->pk, 3);
	msgpack_pack_uint8(&b->pk, EVT_K_JSON);
	msgpack_pack_int64(&b->pk, delta);
	msgpack_pack_nil(&b->pk);
}

/* What decoding a block gave, record by record: 'k' a record returned
 * (kind in kinds[]), 'x' a record reported as damaged. */
struct outcome {
	char seq[64];
	int kinds[64];
	int64_t rx[64];
	int n;
	char text[64][128]; /* EVENT/ITEM JSON, or "!" if it would not render */
};

/* Decodes block b from a fresh dictionary and fills o. */
static void
decode(struct blk *b, struct outcome *o)
{
	struct evt_dict d;
	struct evt_rdec dec;
	struct evt_rec r;
	struct evt_buf out = {0};
	int rc;
	memset(o, 0, sizeof *o);
	evt_dict_init(&d);
	if (evt_rdec_init(&dec, &d, 1) != 0)
		abort();
	evt_rdec_block(&dec, (const uint8_t *)b->sb.data, b->sb.size, NULL, 0,
	    0, 0);
	while ((rc = evt_rdec_next(&dec, &r)) != 0 && o->n < 63) {
		o->seq[o->n] = rc == 1 ? 'k' : 'x';
		o->kinds[o->n] = rc == 1 ? r.kind : -1;
		o->rx[o->n] = rc == 1 ? r.rx_us : 0;
		if (rc == 1 && (r.kind == EVT_K_EVENT || r.kind == EVT_K_ITEM)) {
			out.len = 0;
			if (evt_rdec_item_json(&dec, &r, &out) == 0 &&
			    out.len < sizeof o->text[0])
				memcpy(o->text[o->n], out.p, out.len);
			else
				strcpy(o->text[o->n], "!");
		}
		o->n++;
	}
	evt_buf_free(&out);
	evt_rdec_free(&dec);
	evt_dict_free(&d);
	msgpack_sbuffer_destroy(&b->sb);
}

/*
 * records.md, "Damage": a record of an unknown kind may have been a framed
 * record (its receive-time delta), an event (tick deltas, GUIDs) or a
 * header (its items follow).  Receive time, event time and GUID position
 * are unknown after it: the open message is closed, its later items and
 * every later framed record of the block are damaged.
 */
static void
test_unknown_kind(void)
{
	struct blk b;
	blk_init(&b);
	msg(&b, 1000, 2);		/* 0 k: MSG rx 1000, two items */
	strdef(&b, "time");		/* 1 k */
	shapedef(&b, EVT_ENC_TIME, -1); /* 2 k */
	event_t(&b, 0, 1, 17676000000000000, 0); /* 3 k: first item */
	msgpack_pack_array(&b.pk, 2);	/* 4 x: kind 11, unknown in v1 */
	msgpack_pack_uint8(&b.pk, 11);
	msgpack_pack_int64(&b.pk, 5);
	event_t(&b, 0, 1, 10, 0);	/* 5 x: not an item of the MSG */
	json_null(&b, 7);		/* 6 x: receive time unknown */
	struct outcome o;
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkkkxxx") == 0, "unknown kind: the open message "
	    "is closed, later items and framed records are damaged (%s, "
	    "want kkkkxxx)", o.seq);
	T_EQ(o.rx[0], 1000, "unknown kind: the record before it is intact");

	/* Not an array at all: the same (records.md, "What readers must
	 * reject": not an array is an unknown kind). */
	blk_init(&b);
	json_null(&b, 1000);		/* 0 k */
	msgpack_pack_uint8(&b.pk, 3);	/* 1 x: a bare integer */
	json_null(&b, 7);		/* 2 x */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kxx") == 0, "a record that is not an array "
	    "leaves the receive time unknown (%s)", o.seq);

	/* An EVENT after it with a TIME field is damaged even when it has a
	 * header: T is unknown. */
	blk_init(&b);
	strdef(&b, "time");		/* 0 k */
	shapedef(&b, EVT_ENC_TIME, -1); /* 1 k */
	msg(&b, 1000, 1);		/* 2 k */
	msgpack_pack_array(&b.pk, 1);	/* 3 x: [12] */
	msgpack_pack_uint8(&b.pk, 12);
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkkx") == 0, "unknown kind among items: "
	    "reported (%s)", o.seq);
}

/*
 * records.md, "Damage": a framed record whose rx_delta cannot be read
 * closes the open message (its items are not taken by the message
 * before) and leaves rx unknown.
 */
static void
test_bad_header(void)
{
	struct blk b;
	struct outcome o;
	blk_init(&b);
	strdef(&b, "time");		/* 0 k */
	shapedef(&b, EVT_ENC_TIME, -1); /* 1 k */
	msg(&b, 1000, 3);		/* 2 k: three items announced */
	event_t(&b, 0, 1, 17676000000000000, 0); /* 3 k */
	msgpack_pack_array(&b.pk, 3);	/* 4 x: MSG with delta "x" */
	msgpack_pack_uint8(&b.pk, EVT_K_MSG);
	msgpack_pack_str_with_body(&b.pk, "x", 1);
	msgpack_pack_uint8(&b.pk, 2);
	event_t(&b, 0, 1, 5, 0);	/* 5 x: its items, not the first's */
	event_t(&b, 0, 1, 5, 0);	/* 6 x */
	json_null(&b, 7);		/* 7 x: rx unknown */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkkkxxxx") == 0, "bad rx_delta: the open message "
	    "is closed, the bad header's items are dropped, rx is unknown "
	    "(%s, want kkkkxxxx)", o.seq);

	/* A header that fails another check (a bad item count) keeps rx,
	 * and its items are still dropped. */
	blk_init(&b);
	msgpack_pack_array(&b.pk, 3);	/* 0 x: nitems -1 */
	msgpack_pack_uint8(&b.pk, EVT_K_MSG);
	msgpack_pack_int64(&b.pk, 1000);
	msgpack_pack_int64(&b.pk, -1);
	msgpack_pack_array(&b.pk, 2);	/* 1 x: ITEM [4, 5] without header */
	msgpack_pack_uint8(&b.pk, EVT_K_ITEM);
	msgpack_pack_uint8(&b.pk, 5);
	json_null(&b, 7);		/* 2 k: rx 1007 */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "xxk") == 0 && o.rx[2] == 1007, "bad item count: "
	    "items dropped, rx known (%s, rx %lld)", o.seq,
	    (long long)o.rx[2]);

	/* More items than the header announced: the surplus has no header. */
	blk_init(&b);
	msg(&b, 1000, 1);		/* 0 k */
	msgpack_pack_array(&b.pk, 2);	/* 1 k */
	msgpack_pack_uint8(&b.pk, EVT_K_ITEM);
	msgpack_pack_uint8(&b.pk, 5);
	msgpack_pack_array(&b.pk, 2);	/* 2 x */
	msgpack_pack_uint8(&b.pk, EVT_K_ITEM);
	msgpack_pack_uint8(&b.pk, 6);
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkx") == 0, "an item beyond nitems is reported "
	    "(%s)", o.seq);
}

/*
 * README.md, "Times", and records.md, "Damage": receive times stay within
 * 0001..9999; a sum outside is damage (no signed overflow, no wrap).  Tick
 * sums that leave int64 are a bad time delta.
 */
static void
test_extreme_times(void)
{
	struct blk b;
	struct outcome o;
	blk_init(&b);
	json_null(&b, EVT_RX_MAX);	/* 0 k */
	json_null(&b, 1);		/* 1 x: one past the range */
	json_null(&b, -1);		/* 2 x: rx stays unknown */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kxx") == 0 && o.rx[0] == EVT_RX_MAX,
	    "rx one past EVT_RX_MAX: damage, rx unknown after (%s)", o.seq);

	blk_init(&b);
	json_null(&b, INT64_MAX);	/* 0 x: beyond the range */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "x") == 0, "rx INT64_MAX: damage (%s)", o.seq);

	blk_init(&b);
	json_null(&b, EVT_RX_MIN);	/* 0 k */
	json_null(&b, INT64_MIN);	/* 1 x: the sum overflows int64 */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kx") == 0 && o.rx[0] == EVT_RX_MIN,
	    "rx sum below INT64_MIN: damage, no overflow (%s)", o.seq);

	/* Tick sums: INT64_MAX then INT64_MAX leaves int64. */
	blk_init(&b);
	strdef(&b, "t");			/* 0 k */
	shapedef(&b, EVT_ENC_TIME, -1);		/* 1 k */
	msg(&b, 1000, 3);			/* 2 k */
	event_t(&b, 0, 1, INT64_MAX, 0);	/* 3 k (renders as damage) */
	event_t(&b, 0, 1, INT64_MAX, 0);	/* 4 x: bad time delta */
	event_t(&b, 0, 1, -1, 0);		/* 5 x: T unknown */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkkkxx") == 0 && strcmp(o.text[3], "!") == 0,
	    "tick sum beyond int64: bad time delta, T unknown after (%s)",
	    o.seq);

	/* An event whose own deltas sum beyond int64 although every time it
	 * reaches is within: rebuilt without overflow (the times are out of
	 * the tick range, so it does not render). */
	blk_init(&b);
	strdef(&b, "t");				 /* 0 k */
	shapedef(&b, EVT_ENC_TIME, EVT_ENC_TIME);	 /* 1 k */
	msg(&b, 1000, 2);				 /* 2 k */
	event_t(&b, 0, 2, -(INT64_C(1) << 62), 0);	 /* 3 k */
	event_t(&b, 0, 2, INT64_MAX, INT64_C(1) << 62); /* 4 k */
	decode(&b, &o);
	T_OK(strcmp(o.seq, "kkkkk") == 0 && strcmp(o.text[4], "!") == 0,
	    "deltas INT64_MAX + 2^62 within one event: decoded, no "
	    "overflow (%s)", o.seq);

	/* The encoder refuses receive times outside the range. */
	struct evt_renc e;
	if (evt_renc_init(&e) != 0)
		abort();
	T_EQ(evt_renc_frame(&e, INT64_MAX, L("{}")), EVT_ERR_ARG,
	    "encoder: rx INT64_MAX refused");
	T_EQ(evt_renc_frame(&e, EVT_RX_MIN - 1, L("{}")), EVT_ERR_ARG,
	    "encoder: rx below 0001-01-01 refused");
	T_EQ(e.recs.len, 0, "encoder: nothing written for them");
	T_EQ(evt_renc_frame(&e, EVT_RX_MAX, L("{}")), EVT_K_JSON,
	    "encoder: rx 9999-12-31T23:59:59.999999Z taken");
	T_EQ(evt_renc_frame(&e, EVT_RX_MIN, L("{}")), EVT_K_JSON,
	    "encoder: rx 0001-01-01T00:00:00Z taken (the delta is in int64)");
	T_EQ(evt_renc_marker(&e, EVT_K_GAP, INT64_MIN, L("{}")), EVT_ERR_ARG,
	    "encoder: a marker at INT64_MIN refused");
	evt_renc_free(&e);
}

/* Encodes frame in[0..len) at rx 1, decodes it and rebuilds its text into
 * out; returns the kind. */
static int
round_trip(const char *in, size_t len, struct evt_buf *out)
{
	struct evt_renc e;
	struct evt_dict d;
	struct evt_rdec dec;
	struct evt_rec r;
	struct evt_buf tail = {0};
	if (evt_renc_init(&e) != 0)
		abort();
	int kind = evt_renc_frame(&e, 1, in, len);
	evt_dict_init(&d);
	if (evt_rdec_init(&dec, &d, 1) != 0)
		abort();
	evt_rdec_block(&dec, e.recs.p, e.recs.len, e.guids.p,
	    (uint32_t)(e.guids.len / 16), 0, 0);
	out->len = 0;
	int items = 0, rc;
	while ((rc = evt_rdec_next(&dec, &r)) != 0) {
		if (rc < 0) {
			evt_buf_put(out, "<damage>", 8);
			continue;
		}
		if (r.kind == EVT_K_STRDEF || r.kind == EVT_K_SHAPEDEF)
			continue;
		if (r.kind == EVT_K_EVENT || r.kind == EVT_K_ITEM) {
			if (items++ > 0)
				evt_buf_putc(out, ',');
			if (evt_rdec_item_json(&dec, &r, out) != 0)
				evt_buf_put(out, "<damage>", 8);
			continue;
		}
		evt_rdec_frame_head(&dec, &r, out, &tail);
	}
	evt_buf_put(out, tail.p, tail.len);
	evt_buf_free(&tail);
	evt_rdec_free(&dec);
	evt_dict_free(&d);
	evt_renc_free(&e);
	return kind;
}

/*
 * records.md, "What is lossless": an escape of a lone surrogate no longer
 * turns the whole message into a RAW frame; the string is kept as WTF-8
 * and rebuilt as the escape (lower-case hex), so the message's other
 * events stay events.
 */
static void
test_lone_surrogate(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{"lone high surrogate in a value",
		    "{\"events\":[{\"id\":\"a\",\"s\":\"x\\uD800y\"},{\"id\":\"b\"}]}",
		    "{\"events\":[{\"id\":\"a\",\"s\":\"x\\ud800y\"},{\"id\":\"b\"}]}"},
		{"lone low surrogate in a key",
		    "{\"events\":[{\"\\udc00\":1},{\"id\":\"b\"}]}",
		    "{\"events\":[{\"\\udc00\":1},{\"id\":\"b\"}]}"},
		{"reversed pair: two lone ones",
		    "{\"events\":[{\"s\":\"\\udc00\\ud800\"}]}",
		    "{\"events\":[{\"s\":\"\\udc00\\ud800\"}]}"},
		{"high then a non-surrogate escape",
		    "{\"events\":[{\"s\":\"\\ud800\\u0041\"}]}",
		    "{\"events\":[{\"s\":\"\\ud800A\"}]}"},
		{"a real pair is still one character",
		    "{\"events\":[{\"s\":\"\\ud83d\\ude00\\ud800\"}]}",
		    "{\"events\":[{\"s\":\"\xf0\x9f\x98\x80\\ud800\"}]}"},
		{"in an envelope member and a long value",
		    "{\"e\":\"\\udfff\",\"events\":[{\"s\":\"\\udbff"
		    "0123456789012345678901234567890123456789012345678901234567"
		    "8901234567890123456789012345678901234567890123456789012345"
		    "6789012345678901234567890123456789012345678901234567890123"
		    "4567890123456789012345678901234567890123456789012345678901"
		    "23456789\"}]}",
		    "{\"e\":\"\\udfff\",\"events\":[{\"s\":\"\\udbff"
		    "0123456789012345678901234567890123456789012345678901234567"
		    "8901234567890123456789012345678901234567890123456789012345"
		    "6789012345678901234567890123456789012345678901234567890123"
		    "4567890123456789012345678901234567890123456789012345678901"
		    "23456789\"}]}"},
		{"Hangul (ED 9x xx) is not taken for a surrogate",
		    "{\"events\":[{\"s\":\"\xed\x9f\xbb\"}]}",
		    "{\"events\":[{\"s\":\"\xed\x9f\xbb\"}]}"},
	};
	struct evt_buf out = {0};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int kind = round_trip(cases[i].in, strlen(cases[i].in), &out);
		int ok = kind == EVT_K_MSG && out.len == strlen(cases[i].want) &&
		    memcmp(out.p, cases[i].want, out.len) == 0;
		T_OK(ok, "%s: a MSG, rebuilt with the escape", cases[i].name);
		if (!ok)
			printf("#   kind %d, got %.*s\n", kind, (int)out.len,
			    (const char *)out.p);
	}
	/* Encoded surrogates in the bytes themselves are still not UTF-8. */
	static const char enc[] = "{\"events\":[{\"s\":\"\xed\xa0\x80\"}]}";
	T_EQ(round_trip(enc, sizeof enc - 1, &out), EVT_K_RAW,
	    "a surrogate encoded in UTF-8 bytes: RAW, as before");
	evt_buf_free(&out);

	/* Other users of the tokenizer stay strict. */
	struct evt_jparser p;
	evt_json_init(&p, 0);
	T_EQ(evt_json_parse(&p, L("[\"\\ud800\"]")), EVT_ERR_JSON,
	    "the tokenizer rejects lone surrogates unless asked");
	p.lone_surrogates = 1;
	T_EQ(evt_json_parse(&p, L("[\"\\ud800\"]")), 2,
	    "... and accepts them when asked");
	T_EQ(evt_json_parse(&p, L("[\"\\ud800\\u12\"]")), EVT_ERR_JSON,
	    "... a bad escape after one is still an error");
	evt_json_free(&p);
}

/*
 * segment.md, "Metadata map", and records.md, "Dictionary": a shape may
 * name a placeholder string (its definition was lost before the segment
 * was sealed; the events of that shape advance T and g but do not
 * render); a shape naming a string id beyond the table is invalid.
 */
static void
test_shape_keys(void)
{
	struct evt_dict d;
	evt_dict_init(&d);
	evt_dict_str_add(&d, "id", 2);
	evt_dict_str_add(&d, NULL, 0); /* string 1: a placeholder */
	uint32_t nil_key[2] = {1, EVT_ENC_TIME}, out_key[2] = {2, EVT_ENC_STR};
	T_EQ(evt_dict_shape_add(&d, nil_key, 1), 0, "a shape naming a "
	    "placeholder string is a shape");
	T_EQ(evt_dict_shape_add(&d, out_key, 1), EVT_ERR_CORRUPT, "a shape "
	    "naming a string beyond the table is invalid");
	evt_dict_free(&d);
}

/* Tells whether id p[0..n) is the text want. */
static int
is_id(const char *p, size_t n, const char *want)
{
	return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

/*
 * records.md, "Event ids": an event whose id is over 256 bytes has no
 * indexed id, for the writer's last id, the block flags (evt_seg_tail),
 * the scan of a resume, and the sealed index's last_event_id alike.
 */
static void
test_long_ids(void)
{
	static const char g1[] = "984cf5d2-ee0d-466c-bf0a-c38f64ad2089";
	char dir[] = "/tmp/evtape-spec.XXXXXX", path[64], frame[512];
	static const uint8_t uuid[16] = {1};
	struct evt_segw *w;
	struct evt_segr *r;
	struct evt_seg_tail tl;
	struct evt_seg_recovery rec;
	size_t n;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/seg-000000000001.evt", dir);
	T_EQ(evt_segw_create(path, 1, uuid, 1000, NULL, &w), 0, "create");
	snprintf(frame, sizeof frame, "{\"events\":[{\"id\":\"%s\"}]}", g1);
	evt_segw_frame(w, 1000, frame, strlen(frame));
	evt_segw_flush(w);
	/* A block whose only event has a 300-byte id. */
	n = (size_t)snprintf(frame, sizeof frame, "{\"events\":[{\"id\":\"");
	memset(frame + n, 'x', 300);
	n += 300;
	n += (size_t)snprintf(frame + n, sizeof frame - n, "\"}]}");
	evt_segw_frame(w, 2000, frame, n);
	evt_segw_flush(w);
	const char *id = evt_segw_last_id(w, &n);
	T_OK(is_id(id, n, g1), "writer: the last indexed id is the GUID");
	evt_segw_close(w);

	T_EQ(evt_seg_tail(path, &tl), 0, "tail: the flags tell");
	T_OK(is_id(tl.last_id, tl.last_id_len, g1), "tail: the last indexed "
	    "id is the GUID (the long id's block has IDCOL, no entries)");
	evt_buf_free(&tl.session);

	T_EQ(evt_segw_resume(path, NULL, &w, &rec), 0, "resume");
	id = evt_segw_last_id(w, &n);
	T_OK(is_id(id, n, g1), "resume scan: the last indexed id is the GUID "
	    "(got %.*s)", id ? (int)(n > 40 ? 40 : n) : 6, id ? id : "(none)");
	T_EQ(evt_segw_seal(w), 0, "seal");

	T_EQ(evt_segr_open(path, NULL, NULL, &r), 0, "open sealed");
	evt_segr_load_index(r);
	id = evt_segr_last_id(r, &n);
	T_OK(is_id(id, n, g1), "index: last_event_id is the GUID");
	evt_segr_close(r);
	unlink(path);
	rmdir(dir);
}

/*
 * segment.md, "Lookup": probe names the blocks first <= b < last, last
 * clipped to the directory; find reads exactly those.  A segment of 1025
 * blocks has locshift 1, so its last location covers one block, not two.
 */
static void
test_probe_bounds(void)
{
	char dir[] = "/tmp/evtape-spec.XXXXXX", path[64], frame[1400];
	static const uint8_t uuid[16] = {2};
	struct evt_segw_opts o = {.block_bytes = 1024};
	struct evt_segw *w;
	struct evt_segr *r;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/seg-000000000001.evt", dir);
	T_EQ(evt_segw_create(path, 1, uuid, 1000, &o, &w), 0, "create");
	for (int i = 0; i < 1025; i++) {
		/* One frame per block: its bytes pass the block size. */
		int n = snprintf(frame, sizeof frame, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\",\"pad\":\"%01100d\"}]}",
		    i, i);
		evt_segw_frame(w, 1000 + i, frame, (size_t)n);
	}
	T_EQ(evt_segw_seal(w), 0, "seal 1025 one-frame blocks");
	T_EQ(evt_segr_open(path, NULL, NULL, &r), 0, "open");
	T_EQ(evt_segr_load_index(r), 0, "index");
	const struct evt_seg_info *si = evt_segr_info(r);
	T_EQ(si->nblocks, 1025, "1025 blocks");
	uint32_t first = 0, count = 0;
	static const char last[] = "00000000-0000-4000-8000-000000001024";
	int rc = evt_segr_probe(r, evt_id_key(last, sizeof last - 1), &first,
	    &count);
	T_OK(rc == 1 && first == 1024 && count == 1, "probe of the last id: "
	    "block 1024 alone (first %u, count %u)", first, count);
	struct evt_rec rec;
	uint64_t boff = 0;
	T_EQ(evt_segr_find(r, last, sizeof last - 1, &rec, &boff), 1,
	    "find reads that block and finds the id");
	evt_segr_close(r);
	unlink(path);
	rmdir(dir);
}

/* Reads file path whole; *len set.  Aborts on failure. */
static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0)
		abort();
	long n = ftell(f);
	uint8_t *p = malloc((size_t)n);
	rewind(f);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* Little-endian field access for the trailer (segment.md, "Trailer"). */
static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Stores v little-endian in n bytes. */
static void
put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/*
 * Rewrites the index of the sealed segment at path: strings 0 and 1 are
 * nil and "b" (str0_nil) or "a" and "b", the shapes [[0, 3], [key1, 3]];
 * blocks, filter and the rest are kept, the CRCs made right.
 */
static void
rewrite_index(const char *path, int str0_nil, uint32_t key1)
{
	struct evt_segr *r;
	uint32_t nb;
	if (evt_segr_open(path, NULL, NULL, &r) != 0 ||
	    evt_segr_load_index(r) != 0)
		abort();
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	msgpack_pack_str_with_body(&pk, "strings", 7);
	msgpack_pack_array(&pk, 2);
	if (str0_nil)
		msgpack_pack_nil(&pk);
	else
		msgpack_pack_str_with_body(&pk, "a", 1);
	msgpack_pack_str_with_body(&pk, "b", 1);
	msgpack_pack_str_with_body(&pk, "shapes", 6);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, EVT_ENC_TIME);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_uint32(&pk, key1);
	msgpack_pack_uint32(&pk, EVT_ENC_TIME);
	msgpack_pack_str_with_body(&pk, "blocks", 6);
	msgpack_pack_array(&pk, nb);
	for (uint32_t i = 0; i < nb; i++) {
		msgpack_pack_array(&pk, 7);
		msgpack_pack_uint64(&pk, bl[i].off);
		msgpack_pack_int64(&pk, bl[i].first_rx);
		msgpack_pack_int64(&pk, bl[i].last_rx);
		msgpack_pack_uint32(&pk, bl[i].nrec);
		msgpack_pack_uint32(&pk, bl[i].nevent);
		msgpack_pack_uint32(&pk, bl[i].str_base);
		msgpack_pack_uint32(&pk, bl[i].shape_base);
	}
	evt_segr_close(r);
	size_t zcap = ZSTD_compressBound(sb.size), n;
	uint8_t *z = malloc(zcap), *f = slurp(path, &n);
	size_t zl = ZSTD_compress(z, zcap, sb.data, sb.size, 3);
	if (z == NULL || ZSTD_isError(zl))
		abort();
	uint8_t *t = f + n - 128;
	uint64_t meta_off = get64(t + 24), filt_off = get64(t + 40);
	uint64_t filt_len = get64(t + 48);
	put_le(t + 32, zl, 8);
	put_le(t + 40, meta_off + zl, 8);
	put_le(t + 104, evt_crc32c(0, z, zl), 4);
	put_le(t + 124, evt_crc32c(0, t, 124), 4);
	FILE *o = fopen(path, "wb");
	if (o == NULL || fwrite(f, 1, meta_off, o) != meta_off ||
	    fwrite(z, 1, zl, o) != zl ||
	    fwrite(f + filt_off, 1, filt_len, o) != filt_len ||
	    fwrite(t, 1, 128, o) != 128 || fclose(o) != 0)
		abort();
	free(z);
	free(f);
	msgpack_sbuffer_destroy(&sb);
}

/* Counts reports whose text contains "index". */
static void
count_index_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(void)path;
	(void)off;
	if (strstr(what, "index") != NULL)
		++*(int *)arg;
}

/* Renders the events of the segment at path, joined by '|' ("!" for one
 * that does not render); *index_reports counts index complaints. */
static void
render_all(const char *path, char *out, size_t cap, int *index_reports)
{
	struct evt_segr *r;
	struct evt_rec rec;
	struct evt_buf b = {0};
	int rc;
	*index_reports = 0;
	out[0] = 0;
	if (evt_segr_open(path, count_index_cb, index_reports, &r) != 0)
		abort();
	evt_segr_load_index(r);
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, NULL)) != 0) {
		if (rc != 1 || rec.kind != EVT_K_EVENT)
			continue;
		b.len = 0;
		if (evt_rdec_item_json(evt_segr_decoder(r), &rec, &b) != 0) {
			b.len = 0; /* what it wrote before it failed */
			evt_buf_put(&b, "!", 1);
		}
		if (out[0] != 0)
			strncat(out, "|", cap - strlen(out) - 1);
		strncat(out, (const char *)b.p, b.len < cap - strlen(out) - 1 ?
		    b.len : cap - strlen(out) - 1);
	}
	evt_buf_free(&b);
	evt_segr_close(r);
}

/*
 * segment.md, "Metadata map": an index shape may name a nil string (its
 * events decode, advancing T, but do not render); a shape naming a string
 * beyond the table makes the index unusable, and the blocks are scanned.
 */
static void
test_index_shapes(void)
{
	char dir[] = "/tmp/evtape-spec.XXXXXX", path[64], out[512];
	static const uint8_t uuid[16] = {3};
	static const char msg[] = "{\"events\":[{\"a\":"
	    "\"2026-01-05T08:00:00.0000000Z\"},{\"b\":"
	    "\"2026-01-05T08:00:01.0000000Z\"}]}";
	static const char both[] = "{\"a\":\"2026-01-05T08:00:00.0000000Z\"}|"
	    "{\"b\":\"2026-01-05T08:00:01.0000000Z\"}";
	struct evt_segw *w;
	int idx;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/seg-000000000001.evt", dir);
	if (evt_segw_create(path, 1, uuid, 1000, NULL, &w) != 0)
		abort();
	evt_segw_frame(w, 1000, msg, sizeof msg - 1);
	T_EQ(evt_segw_seal(w), 0, "seal");
	render_all(path, out, sizeof out, &idx);
	T_OK(strcmp(out, both) == 0 && idx == 0, "as written: both events");

	rewrite_index(path, 1, 1);
	render_all(path, out, sizeof out, &idx);
	T_OK(strcmp(out, "!|{\"b\":\"2026-01-05T08:00:01.0000000Z\"}") == 0 &&
	    idx == 0, "a shape naming a nil string: index used, its event "
	    "lost, T right for the next (%s)", out);

	rewrite_index(path, 0, 7);
	render_all(path, out, sizeof out, &idx);
	T_OK(strcmp(out, both) == 0 && idx > 0, "a shape naming string 7 of "
	    "2: index unusable (reported), the scan reads both (%s)", out);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	test_unknown_kind();
	test_bad_header();
	test_extreme_times();
	test_lone_surrogate();
	test_shape_keys();
	test_long_ids();
	test_probe_bounds();
	test_index_shapes();
	T_DONE();
}
