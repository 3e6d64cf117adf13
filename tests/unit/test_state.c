/*
 * test_state.c: the state table (state.c); the cursor that feeds it from
 * an archive is tested in test_cursor.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/gen.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "t.h"
#include "tstate.h"

/* The table alone. */
static void
test_state(void)
{
	struct evt_state *s = evt_state_new();
	T_EQ(evt_state_apply(s, L(EV("a1", "aaa", SG(G1)))), 1, "stateful");
	T_EQ(evt_state_apply(s, L(EV("a2", "aaa", SG(G2)))), 1, "group 2");
	T_EQ(evt_state_apply(s, L(EV("b1", "bbb", SG(G1)))), 1, "source 2");
	T_EQ(evt_state_apply(s, L(EV("x", "aaa", ""))), 0, "stateless");
	T_EQ(evt_state_apply(s, L(EV("y", "aaa", ",\"stategroupid\":null"))),
	    0, "null group: stateless");
	T_EQ(evt_state_apply(s, L("{\"stategroupid\":")), EVT_ERR_JSON,
	    "broken JSON");
	T_EQ(evt_state_apply(s, L("[\"stategroupid\"]")), EVT_ERR_JSON,
	    "not an object");
	/* case-folded GUIDs replace the same entry */
	T_EQ(evt_state_apply(s, L(EV("a3", "AAA",
	    SG("720EF62A-78BE-418A-8E4C-EE04FFCA6429")))), 1, "update");
	const char *want1[] = {"a3", "a2", "b1"};
	T_OK(holds(s, want1, 3), "latest per source and group, stable order");
	T_OK(strcmp(evt_state_source(s, 2), "cameras/bbb") == 0, "source");
	for (int i = 0; i < 500; i++) { /* growth and rehash */
		char ev[300];
		int n = snprintf(ev, sizeof ev, EV("z%d", "s%d", SG(G1)), i, i);
		evt_state_apply(s, ev, (size_t)n);
	}
	const char *const *st;
	const size_t *lens;
	T_EQ(evt_state_list(s, &st, &lens), 503, "503 entries");
	const char *items[] = {EV("s1", "ccc", SG(G1)), EV("s2", "aaa", SG(G1))};
	size_t il[] = {strlen(items[0]), strlen(items[1])};
	T_EQ(evt_state_apply_frame(s, EVT_K_STATES, items, il, 2), 0,
	    "a STATES frame");
	const char *want2[] = {"s1", "s2"};
	T_OK(holds(s, want2, 2), "a STATES frame replaces the table");
	T_EQ(evt_state_apply_frame(s, EVT_K_JSON, items, il, 1), 0, "JSON");
	T_OK(holds(s, want2, 2), "other frames do not touch it");
	evt_state_free(s);
}

/* Odd stateful items for the flat test: case-folded keys, escapes, text
 * that is not ASCII, duplicate members, groups that are no strings, keys
 * too long, GUIDs and times as values, nested values, other items. */
static const char *const odd_frames[] = {
	"{\"events\":[" EV("o1", "Odd", SG(G1)) "," EV("o2", "ODD",
	    SG("720EF62A-78BE-418A-8E4C-EE04FFCA6429")) "]}",
	"{\"events\":[{\"id\":\"o3\",\"source\":\"cam\\u0041\","
	    "\"stategroupid\":\"" G1 "\",\"type\":\"t\"},"
	    "{\"id\":\"o4\",\"source\":\"cam\\\"x\",\"stategroupid\":\"g\"},"
	    "{\"id\":\"o5\",\"source\":\"cam\xc3\xa9\",\"stategroupid\":\"g\"}]}",
	"{\"events\":[{\"id\":\"o6\",\"source\":\"a\",\"source\":\"B\","
	    "\"stategroupid\":\"g\",\"stategroupid\":5},"
	    "{\"id\":\"o7\",\"source\":\"a\",\"stategroupid\":null},"
	    "{\"id\":\"o8\",\"source\":\"a\",\"note\":\"stategroupid\"},"
	    "7,\"stategroupid\",[1],null,"
	    "{\"id\":\"o6b\",\"source\":\"b\",\"stategroupid\":\"G\"}]}",
	"{\"x\":1,\"events\":[{\"id\":\"o9\",\"source\":"
	    "\"2026-01-05T08:58:59.6128530Z\",\"stategroupid\":\"" G2 "\","
	    "\"data\":{\"a\":[1,-2,2.5]},\"n\":-3,\"ok\":false,\"z\":true}]}",
	"{\"events\":[{\"sourc\\u0065\":\"s\",\"stategroupid\":\"g\","
	    "\"source\":\"\"},{\"id\":\"o10\",\"source\":\"" G2 "\","
	    "\"stategroupid\":\"" G2 "\",\"type\":\"t2\"}]}",
};

/* A frame of the flat test into b: an odd one, else the generator's. */
static void
flat_test_frame(struct evt_gen *g, int i, struct evt_buf *b)
{
	size_t n = sizeof odd_frames / sizeof *odd_frames;
	const char *f;
	int64_t rx;
	uint32_t nev;
	b->len = 0;
	if (i % 3 == 0) {
		f = odd_frames[(i / 3) % n];
		evt_buf_put(b, f, strlen(f));
		return;
	}
	if (i % 97 == 1) { /* keys longer than a plausible pair */
		char t[1200];
		int k = snprintf(t, sizeof t, "{\"events\":[{\"id\":\"l%d\","
		    "\"source\":\"%0*d\",\"stategroupid\":\"%0*d\"}]}", i,
		    250 + i % 20, 0, 250 + i % 13, 0);
		evt_buf_put(b, t, (size_t)k);
		return;
	}
	size_t len = evt_gen_next(g, &f, &rx, &nev);
	evt_buf_put(b, f, len);
}

/* Whether two tables list the same texts in the same order, under the
 * same sources. */
static int
same_table(const struct evt_state *a, const struct evt_state *b)
{
	const char *const *ta, *const *tb;
	const size_t *la, *lb;
	size_t n = evt_state_list(a, &ta, &la);
	if (evt_state_list(b, &tb, &lb) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (la[i] != lb[i] || memcmp(ta[i], tb[i], la[i]) != 0 ||
		    strcmp(evt_state_source(a, i), evt_state_source(b, i)) != 0)
			return 0;
	return 1;
}

/* Flat items (evt_state_apply_flat, evt_state_settle) give the table
 * their texts give. */
static void
test_flat(void)
{
	struct evt_renc e;
	struct evt_rdec d;
	struct evt_buf b = {0}, txt = {0}, flat = {0}, head = {0}, tail = {0};
	struct evt_gen_opts o = {.seed = 7, .data_fraction = 0.2};
	struct evt_gen *g = evt_gen_new(&o);
	struct evt_state *st = evt_state_new(), *sf = evt_state_new();
	long items = 0, bad = 0, settles = 0, errs = 0;
	if (g == NULL || st == NULL || sf == NULL ||
	    evt_renc_init(&e) != 0 || evt_rdec_init(&d, &e.dict, 0) != 0)
		abort();
	for (int i = 0; i < 3000; i++) {
		flat_test_frame(g, i, &b);
		uint32_t sb = e.dict.nstr, hb = e.dict.nshape;
		evt_renc_block_reset(&e);
		if (evt_renc_frame(&e, INT64_C(1767600000000000) + i,
		    (const char *)b.p, b.len) != EVT_K_MSG)
			continue;
		evt_rdec_block(&d, e.recs.p, e.recs.len, e.guids.p,
		    (uint32_t)(e.guids.len / 16), sb, hb);
		struct evt_rec rec;
		int rc;
		while ((rc = evt_rdec_next(&d, &rec)) > 0) {
			if (rec.kind == EVT_K_MSG)
				errs += evt_rdec_frame_head(&d, &rec, &head,
				    &tail) != 0;
			if (rec.kind != EVT_K_EVENT && rec.kind != EVT_K_ITEM)
				continue;
			txt.len = flat.len = 0;
			errs += evt_rdec_item_json(&d, &rec, &txt) != 0;
			errs += evt_rdec_event_flat(&d, &rec, &flat, NULL) != 0;
			int r1 = evt_state_apply(st, (const char *)txt.p,
			    txt.len);
			int r2 = evt_state_apply_flat(sf, flat.p, flat.len);
			/* (a walk that fails is not stateful either way) */
			bad += (r1 == 1) != (r2 == 1);
			items++;
		}
		errs += rc < 0;
		if (i % 50 == 49 || i == 2999) {
			errs += evt_state_settle(sf) != 0;
			bad += !same_table(st, sf);
			settles++;
		}
		if (i % 700 == 699) { /* a getState answer */
			evt_state_clear(st);
			evt_state_clear(sf);
		}
	}
	T_EQ(errs, 0, "flat: %ld items encoded and decoded", items);
	T_EQ(bad, 0, "flat: the same table as the texts at %ld points",
	    settles);
	const char *const *t;
	const size_t *l;
	T_OK(evt_state_list(sf, &t, &l) > 20, "flat: a table of %zu entries",
	    evt_state_list(sf, &t, &l));
	evt_state_free(st);
	evt_state_free(sf);
	evt_gen_free(g);
	evt_renc_free(&e);
	evt_rdec_free(&d);
	evt_buf_free(&b);
	evt_buf_free(&txt);
	evt_buf_free(&flat);
	evt_buf_free(&head);
	evt_buf_free(&tail);
}

int
main(void)
{
	test_state();
	test_flat();
	T_DONE();
}
