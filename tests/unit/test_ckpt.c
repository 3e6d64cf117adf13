/*
 * test_ckpt.c: the state checkpoint builder, encoder and decoder
 * (src/ckpt.c; formats/segment.md, "State checkpoint"): frames as written
 * (tokens, whitespace, escapes) give the table a reader's texts give;
 * STATES frames, base and rx_max; pack/decode round trips; incomplete
 * when not known or past 65,536 entries; the decoder's checks.
 */
#include <msgpack.h>

#include "evtape/buf.h"
#include "evtape/ckpt.h"
#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "t.h"

/* Feeds a written frame (JSON text) to b as the segment writer does. */
static int
feed(struct evt_ckb *b, uint64_t seq, int64_t rx, const char *json)
{
	struct evt_jparser jp;
	evt_json_init(&jp, 0);
	jp.lone_surrogates = 1;
	size_t len = strlen(json);
	int rc = evt_json_parse(&jp, json, len);
	int kind = -1;
	uint32_t arr = 0, j = 1;
	for (uint32_t m = 0; rc > 0 && m < jp.tok[0].size; m++) {
		const struct evt_jtok *k = &jp.tok[j];
		if (jp.tok[k->next].type == EVT_J_ARRAY && k->len == 6 &&
		    (memcmp(json + k->off, "events", 6) == 0 ||
		    memcmp(json + k->off, "states", 6) == 0)) {
			kind = json[k->off] == 'e' ? EVT_K_MSG : EVT_K_STATES;
			arr = k->next;
		}
		j = jp.tok[k->next].next;
	}
	if (kind >= 0)
		rc = evt_ckb_frame_tok(b, seq, kind, rx, json, len, jp.tok,
		    arr);
	evt_json_free(&jp);
	return rc;
}

/* The table of b as JSON lines. */
static void
lines(struct evt_ckb *b, struct evt_buf *out)
{
	struct evt_ckpt c;
	out->len = 0;
	if (evt_ckb_view(b, &c) != 0 || !c.complete) {
		evt_buf_put(out, "(none)", 6);
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		evt_buf_put(out, c.ev[i], c.len[i]);
		evt_buf_putc(out, '\n');
	}
	evt_buf_putc(out, 0);
	evt_ckpt_free(&c);
}

/* Written frames give the table of the reader's texts. */
static void
test_written(void)
{
	struct evt_ckb *b = evt_ckb_new();
	struct evt_buf l = {0};
	feed(b, 1, 100, "{\"events\":[{\"source\":\"cameras/a\","
	    "\"stategroupid\":\"g\",\"type\":\"x\"}]}");
	T_OK(!evt_ckb_known(b), "not known before a start or a STATES frame");
	evt_ckb_start(b, 1);
	feed(b, 1, 100, " { \"x\" : 1, \"events\" : [ {\"source\" : "
	    "\"cameras/A\",\"stategroupid\":\"g\",\"type\":\"t\\u0041\\/\"} , 7,"
	    " {\"source\":\"c2\",\"type\":\"no group\"}, {\"source\":\"c3\","
	    "\"stategroupid\":\"g\",\"n\":[1, 2.50, {\"k\" : null}]} ] }");
	lines(b, &l);
	T_OK(strcmp((char *)l.p, "{\"source\":\"cameras/A\",\"stategroupid\":"
	    "\"g\",\"type\":\"tA/\"}\n{\"source\":\"c3\",\"stategroupid\":\"g\","
	    "\"n\":[1,2.50,{\"k\":null}]}\n") == 0,
	    "whitespace and escapes as a reader rebuilds them");
	feed(b, 1, 90, "{\"events\":[{\"source\":\"cameras/a\",\"stategroupid\":"
	    "\"G\",\"type\":\"y\",\"stategroupid\":5}]}");
	lines(b, &l);
	T_OK(strncmp((char *)l.p, "{\"source\":\"cameras/a\",\"stategroupid\":"
	    "\"G\",\"type\":\"y\",\"stategroupid\":5}\n", 63) == 0,
	    "same key ASCII case-folded replaces, in place; a later non-string "
	    "member does not count");
	feed(b, 1, 95, "{\"events\":[{\"source\":\"cameras/C80C8215-744c-48BD-"
	    "AECA-b82a8ec516d6\",\"stategroupid\":\"Z@[`{\",\"k\":1}]}");
	feed(b, 1, 96, "{\"events\":[{\"source\":\"cameras/c80c8215-744C-48bd-"
	    "aeca-B82A8EC516D6\",\"stategroupid\":\"z@[`{\",\"k\":2}]}");
	feed(b, 1, 97, "{\"events\":[{\"source\":\"cameras/c80c8215-744C-48bd-"
	    "aeca-B82A8EC516D6\",\"stategroupid\":\"z@{`{\",\"k\":3}]}");
	struct evt_ckpt c;
	evt_ckb_view(b, &c);
	T_OK(c.n == 4 && strstr(c.ev[2], "\"k\":2") != NULL,
	    "GUID-sized keys fold ASCII letters only (not @ [ ` {)");
	evt_ckpt_free(&c);
	evt_ckb_view(b, &c);
	T_OK(c.complete && c.base_seq == 1 && !c.base_states && c.has_rx &&
	    c.rx_max == 100 && c.n == 4, "base: the archive's start; rx_max "
	    "the largest");
	evt_ckpt_free(&c);
	feed(b, 3, 200, "{\"commandId\":3,\"states\":[{\"source\":\"s\","
	    "\"stategroupid\":\"g\"},{\"source\":\"s\",\"stategroupid\":\"g\","
	    "\"v\":2}]}");
	evt_ckb_view(b, &c);
	T_OK(c.complete && c.base_seq == 3 && c.base_states && c.rx_max == 200 &&
	    c.n == 1 && strstr(c.ev[0], "\"v\":2") != NULL,
	    "a STATES frame replaces the table and is the base");
	evt_ckpt_free(&c);
	/* The reader's path: evt_ckb_frame with rebuilt texts. */
	struct evt_ckb *r = evt_ckb_copy(b);
	const char *ev[] = {"{\"source\":\"t\",\"stategroupid\":\"h\"}"};
	size_t lens[] = {strlen(ev[0])};
	evt_ckb_frame(r, 4, EVT_K_MSG, 300, ev, lens, 1);
	feed(b, 4, 300, "{\"events\":[{\"source\":\"t\",\"stategroupid\":\"h\"}]}");
	struct evt_ckpt x, y;
	evt_ckb_view(b, &x);
	evt_ckb_view(r, &y);
	T_OK(evt_ckpt_equal(&x, &y), "written and read frames build the same");
	evt_ckpt_free(&x);
	evt_ckpt_free(&y);
	evt_ckb_free(r);
	evt_ckb_free(b);
	evt_buf_free(&l);
}

/* Packs b and decodes it as segment seq. */
static int
roundtrip(struct evt_ckb *b, uint64_t seq, struct evt_buf *p,
    struct evt_ckpt *c)
{
	const char *why;
	p->len = 0;
	if (evt_ckb_pack(b, p) != 0)
		return -1;
	return evt_ckpt_decode(p->p, p->len, seq, c, &why);
}

/* Packing and decoding; loading into a table; bounds. */
static void
test_pack(void)
{
	struct evt_ckb *b = evt_ckb_new();
	struct evt_buf p = {0};
	struct evt_ckpt c, v;
	T_OK(roundtrip(b, 1, &p, &c) == 0 && !c.complete && p.len == 13,
	    "not known: {\"incomplete\":true}");
	evt_ckpt_free(&c);
	evt_ckb_start(b, 2);
	T_OK(roundtrip(b, 2, &p, &c) == 0 && c.complete && c.n == 0 &&
	    !c.has_rx && c.base_seq == 2, "empty and known: complete, no rx_max");
	evt_ckpt_free(&c);
	char ev[128];
	for (int i = 0; i < 300; i++) {
		snprintf(ev, sizeof ev, "{\"events\":[{\"source\":\"s%d\","
		    "\"stategroupid\":\"g%d\",\"i\":%d}]}", i % 100, i % 3, i);
		feed(b, 2, -5 + i, ev);
	}
	T_OK(roundtrip(b, 7, &p, &c) == 0 && evt_ckb_view(b, &v) == 0 &&
	    evt_ckpt_equal(&c, &v) && c.n == 300 && c.rx_max == 294,
	    "pack and decode give the table back (negative times too)");
	struct evt_state *s = evt_state_new();
	const char *const *st;
	const size_t *sl;
	T_OK(evt_ckpt_state(&c, s) == 0 && evt_state_list(s, &st, &sl) == 300 &&
	    sl[5] == v.len[5] && memcmp(st[5], v.ev[5], sl[5]) == 0,
	    "evt_ckpt_state loads the entries in order");
	const char *why;
	evt_ckpt_free(&c);
	T_OK(evt_ckpt_decode(p.p, p.len, 1, &c, &why) == EVT_ERR_CORRUPT,
	    "base_seq beyond the segment's: rejected (%s)", why);
	evt_ckpt_free(&c);
	evt_ckpt_free(&v);
	for (int i = 0; i < EVT_CKPT_MAX_ENTRIES + 1 - 300; i++) {
		snprintf(ev, sizeof ev, "{\"events\":[{\"source\":\"x%d\","
		    "\"stategroupid\":\"g\"}]}", i);
		feed(b, 2, 1, ev);
	}
	T_OK(roundtrip(b, 2, &p, &c) == 0 && !c.complete,
	    "past 65,536 entries: incomplete");
	evt_ckpt_free(&c);
	evt_state_free(s);
	evt_ckb_free(b);
	evt_buf_free(&p);
}

/* A hand-made checkpoint map: keys and values as given. */
static void
hand(struct evt_buf *out, int base, int states, int rxtype, int entries)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3 + (rxtype != 0));
	msgpack_pack_str_with_body(&pk, "base_seq", 8);
	msgpack_pack_int64(&pk, base);
	msgpack_pack_str_with_body(&pk, "base_states", 11);
	if (states)
		msgpack_pack_true(&pk);
	else
		msgpack_pack_nil(&pk);
	if (rxtype) {
		msgpack_pack_str_with_body(&pk, "rx_max", 6);
		if (rxtype == 1)
			msgpack_pack_int64(&pk, -5);
		else
			msgpack_pack_uint64(&pk, UINT64_MAX);
	}
	msgpack_pack_str_with_body(&pk, "entries", 7);
	msgpack_pack_array(&pk, 2);
	msgpack_pack_str_with_body(&pk, "{}", 2);
	if (entries)
		msgpack_pack_str_with_body(&pk, "{}", 2);
	else
		msgpack_pack_int(&pk, 3);
	out->len = 0;
	evt_buf_put(out, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/* The decoder's checks. */
static void
test_decode(void)
{
	struct evt_buf p = {0};
	struct evt_ckpt c;
	const char *why = "";
	hand(&p, 2, 1, 1, 1);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == 0 && c.complete &&
	    c.rx_max == -5 && c.n == 2, "a hand-made checkpoint decodes");
	evt_ckpt_free(&c);
	hand(&p, 0, 1, 1, 1);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "base_seq 0: %s", why);
	hand(&p, 2, 0, 1, 1);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "base_states not a boolean: %s", why);
	hand(&p, 2, 1, 2, 1);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "rx_max not a receive time: %s", why);
	hand(&p, 2, 1, 1, 0);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "an entry that is not a str: %s", why);
	hand(&p, 2, 1, 1, 1);
	evt_buf_putc(&p, 0xc0);
	T_OK(evt_ckpt_decode(p.p, p.len, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "bytes after the map: %s", why);
	const uint8_t f[] = {0x81, 0xaa, 'i', 'n', 'c', 'o', 'm', 'p', 'l', 'e',
	    't', 'e', 0xc2};
	T_OK(evt_ckpt_decode(f, sizeof f, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "incomplete false: %s", why);
	T_OK(evt_ckpt_decode(f, 3, 2, &c, &why) == EVT_ERR_CORRUPT,
	    "truncated: %s", why);
	evt_buf_free(&p);
}

int
main(void)
{
	test_written();
	test_pack();
	test_decode();
	T_DONE();
}
