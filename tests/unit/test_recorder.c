/*
 * test_recorder.c: the recorder's sans-I/O decisions: the dedupe set
 * (against a reference model, with eviction), message dedupe and rebuild,
 * startSession outcomes, marker bodies, config reduction, backoff, token
 * renewal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/recorder.h"
#include "t.h"

/* Writes the text of GUID number i into out[37]. */
static void
guid(unsigned i, char out[37])
{
	snprintf(out, 37, "%08x-0000-4000-8000-%012x", i * 2654435761u, i);
}

/* Aborts on a failed allocation (not what is tested). */
static void
need(int rc)
{
	if (rc != 0)
		abort();
}

/* Compares a buffer's bytes with a C string. */
static int
buf_is(const struct evt_buf *b, size_t from, const char *s)
{
	return b->len - from == strlen(s) && memcmp(b->p + from, s,
	    b->len - from) == 0;
}

/* The set against a reference: ids 0..N in a random stream. */
static void
test_seen(void)
{
	struct evt_recorder_seen s;
	char g[37];
	int bad = 0;
	const unsigned cap = 100;

	T_EQ(evt_recorder_seen_init(&s, cap), 0, "seen: init");
	guid(1, g);
	T_EQ(evt_recorder_seen_add(&s, g, 36), 1, "seen: first add is new");
	T_EQ(evt_recorder_seen_add(&s, g, 36), 0, "seen: second is a duplicate");
	g[0] = g[0] >= 'a' ? (char)(g[0] - 32) : g[0];
	T_OK(evt_recorder_seen_has(&s, g, 36), "seen: GUID case does not matter");
	T_EQ(evt_recorder_seen_add(&s, L("not-a-guid")), 1, "seen: text ids");
	T_EQ(evt_recorder_seen_add(&s, L("not-a-guid")), 0, "seen: text dup");
	evt_recorder_seen_free(&s);

	/* Sequential: the last cap ids are remembered, older ones not. */
	evt_recorder_seen_init(&s, cap);
	for (unsigned i = 0; i < 1000; i++) {
		guid(i, g);
		if (evt_recorder_seen_add(&s, g, 36) != 1)
			bad++;
	}
	for (unsigned i = 0; i < 1000; i++) {
		guid(i, g);
		if (evt_recorder_seen_has(&s, g, 36) != (i >= 1000 - cap))
			bad++;
	}
	T_EQ(bad, 0, "seen: FIFO eviction keeps exactly the newest %u", cap);
	T_EQ(s.n, cap, "seen: count bounded");
	evt_recorder_seen_free(&s);

	/* Random stream with repeats, against a model of the last cap keys. */
	{
		unsigned ring[100], head = 0, n = 0;
		bad = 0;
		evt_recorder_seen_init(&s, cap);
		for (int k = 0; k < 200000; k++) {
			unsigned id = (unsigned)(rng() % 400), in = 0;
			for (unsigned j = 0; j < n; j++)
				if (ring[(head + j) % cap] == id)
					in = 1;
			guid(id, g);
			int r = evt_recorder_seen_add(&s, g, 36);
			if (r != !in)
				bad++;
			if (!in) {
				if (n == cap) {
					head = (head + 1) % cap;
					n--;
				}
				ring[(head + n) % cap] = id;
				n++;
			}
		}
		T_EQ(bad, 0, "seen: 200000 random adds agree with the model");
		evt_recorder_seen_free(&s);
	}
	evt_recorder_seen_free(&s); /* twice is fine: free empties the set */
	T_OK(s.slots == NULL && s.ring == NULL && s.n == 0 && s.cap == 0,
	    "seen: free leaves an empty set, so a second free is a no-op");
	T_EQ(evt_recorder_seen_init(&s, 4), 0, "seen: init again after free");
	guid(7, g);
	T_EQ(evt_recorder_seen_add(&s, g, 36), 1, "seen: the new set is empty");
	evt_recorder_seen_free(&s);
}

/* Runs dedupe on text; returns the result and fills out. */
static int
dedupe(struct evt_recorder_seen *s, const char *text, struct evt_buf *out,
    size_t *ndup)
{
	struct evt_jparser p;
	struct evt_ess_msg m;
	int r;

	evt_json_init(&p, 0);
	if (evt_ess_classify(&p, text, strlen(text), &m) != EVT_ESS_EVENTS) {
		evt_json_free(&p);
		return -999;
	}
	out->len = 0;
	r = evt_recorder_dedupe(s, &p, text, strlen(text), out, ndup);
	evt_json_free(&p);
	return r;
}

/* A batch far above 4096 events with duplicates beyond that index. */
static void
test_dedupe_big(struct evt_recorder_seen *s)
{
	struct evt_buf in = {0}, want = {0}, out = {0};
	size_t nd = 0;
	char id[32];
	int ok = 1;

	evt_buf_put(&in, "{\"events\":[", 11);
	evt_buf_put(&want, "{\"events\":[", 11);
	for (int i = 0; i < 10000; i++) {
		/* Indexes 5000 and 9999 repeat ids seen earlier. */
		int n = snprintf(id, sizeof id, "{\"id\":\"big%d\"}",
		    i == 5000 ? 1 : i == 9999 ? 4097 : i);

		if (i > 0)
			evt_buf_putc(&in, ',');
		evt_buf_put(&in, id, (size_t)n);
		if (i != 5000 && i != 9999) {
			if (want.len > 11)
				evt_buf_putc(&want, ',');
			evt_buf_put(&want, id, (size_t)n);
		}
	}
	evt_buf_put(&in, "],\"x\":1}", 8);
	evt_buf_put(&want, "],\"x\":1}", 8);
	evt_buf_putc(&in, '\0');
	ok = in.p != NULL && want.p != NULL;
	T_EQ(ok ? dedupe(s, (const char *)in.p, &out, &nd) : -1,
	    EVT_RECORDER_REBUILT, "dedupe: 10000-event batch rebuilt");
	T_EQ(nd, 2, "dedupe: both duplicates past 4096 found");
	T_OK(out.len == want.len && memcmp(out.p, want.p, want.len) == 0,
	    "dedupe: big batch rebuilt without the duplicates");
	evt_buf_free(&in);
	evt_buf_free(&want);
	evt_buf_free(&out);
}

/* Message dedupe: keep, rebuild, drop; odd elements. */
static void
test_dedupe(void)
{
	struct evt_recorder_seen s;
	struct evt_buf out = {0};
	size_t nd = 99;

	evt_recorder_seen_init(&s, 0);
	T_EQ(dedupe(&s, "{\"events\":[{\"id\":\"a\",\"x\":1},{\"id\":\"b\"}]}",
	    &out, &nd), EVT_RECORDER_KEEP, "dedupe: new events kept as is");
	T_EQ(nd, 0, "dedupe: no duplicates counted");
	T_EQ(out.len, 0, "dedupe: nothing rebuilt");
	T_EQ(dedupe(&s, "{ \"events\" : [ {\"x\":[1,{\"id\":\"q\"}], \"id\":\"b\"} ,"
	    " {\"id\":\"c\", \"s\":\"]}\"},7 ,\"str\", {\"nid\":1} ] }", &out, &nd),
	    EVT_RECORDER_REBUILT, "dedupe: one duplicate cut out");
	T_EQ(nd, 1, "dedupe: one counted");
	T_OK(buf_is(&out, 0, "{ \"events\" : [{\"id\":\"c\", \"s\":\"]}\"},7,"
	    "\"str\",{\"nid\":1}] }"), "dedupe: rebuilt from element texts: %.*s",
	    (int)out.len, (const char *)out.p);
	T_OK(!evt_recorder_seen_has(&s, L("q")), "dedupe: nested ids ignored");
	T_EQ(dedupe(&s, "{\"events\":[{\"id\":\"a\"},{\"id\":\"c\"}]}", &out,
	    &nd), EVT_RECORDER_DROP, "dedupe: all duplicates: drop");
	T_EQ(nd, 2, "dedupe: two counted");
	T_EQ(dedupe(&s, "{\"events\":[{\"id\":\"d\"},{\"id\":\"d\"}]}", &out,
	    &nd), EVT_RECORDER_REBUILT, "dedupe: a repeat inside one message");
	T_OK(buf_is(&out, 0, "{\"events\":[{\"id\":\"d\"}]}"),
	    "dedupe: first kept");
	T_EQ(dedupe(&s, "{\"events\":[]}", &out, &nd), EVT_RECORDER_KEEP,
	    "dedupe: empty array kept");
	T_EQ(dedupe(&s, "{\"a\":1,\"events\":[{\"id\":\"e\"} , {\"id\":\"f\"},"
	    "{\"id\":\"a\"},{\"id\":\"g\"}],\"z\":{\"k\":[2]}}", &out, &nd),
	    EVT_RECORDER_REBUILT, "dedupe: other members, duplicate inside");
	T_OK(buf_is(&out, 0, "{\"a\":1,\"events\":[{\"id\":\"e\"} , "
	    "{\"id\":\"f\"},{\"id\":\"g\"}],\"z\":{\"k\":[2]}}"),
	    "dedupe: other top-level members kept: %.*s", (int)out.len,
	    (const char *)out.p);
	T_EQ(dedupe(&s, "{\"events\":[{\"id\":\"h\"},{\"id\":\"a\"}],"
	    "\"more\":true}", &out, &nd), EVT_RECORDER_REBUILT,
	    "dedupe: duplicate last");
	T_OK(buf_is(&out, 0, "{\"events\":[{\"id\":\"h\"}],\"more\":true}"),
	    "dedupe: trailing member kept: %.*s", (int)out.len,
	    (const char *)out.p);
	T_EQ(dedupe(&s, "{\"Events\":[{\"ID\":\"k\"},{\"id\":\"a\"}]}", &out,
	    &nd), EVT_RECORDER_REBUILT,
	    "dedupe: keys matched as the classifier matches them (fuzz)");
	T_OK(buf_is(&out, 0, "{\"Events\":[{\"ID\":\"k\"}]}"),
	    "dedupe: \"Events\" rebuilt: %.*s", (int)out.len,
	    (const char *)out.p);
	test_dedupe_big(&s);
	{
		/* Messages longer than the prefetch batch, with repeats
		 * across batches and of earlier messages: the same decisions
		 * as adding the ids one by one to a second set. */
		struct evt_recorder_seen ref;
		struct evt_buf m = {0}, want = {0};
		int bad = 0;

		need(evt_recorder_seen_init(&ref, 64));
		evt_recorder_seen_free(&s);
		need(evt_recorder_seen_init(&s, 64));
		for (int msg = 0; msg < 40; msg++) {
			int n = 1 + (int)(rng() % 45), kept = 0, r;

			m.len = 0;
			want.len = 0;
			need(evt_buf_put(&m, L("{\"events\":[")));
			need(evt_buf_put(&want, L("{\"events\":[")));
			for (int i = 0; i < n; i++) {
				char ev[48];
				int id = (int)(rng() % 150), l;

				l = snprintf(ev, sizeof ev, "%s{\"id\":\"%d\"}",
				    i > 0 ? "," : "", id);
				need(evt_buf_put(&m, ev, (size_t)l));
				if (evt_recorder_seen_add(&ref, ev + (i > 0) +
				    7, strlen(ev + (i > 0) + 7) - 2)) {
					l = snprintf(ev, sizeof ev,
					    "%s{\"id\":\"%d\"}",
					    kept > 0 ? "," : "", id);
					need(evt_buf_put(&want, ev, (size_t)l));
					kept++;
				}
			}
			need(evt_buf_put(&m, L("]}")));
			need(evt_buf_put(&want, L("]}")));
			need(evt_buf_putc(&m, '\0'));
			out.len = 0;
			nd = 0;
			r = dedupe(&s, (const char *)m.p, &out, &nd);
			if (nd != (size_t)(n - kept) ||
			    r != (kept == n ? EVT_RECORDER_KEEP : kept == 0 ?
			    EVT_RECORDER_DROP : EVT_RECORDER_REBUILT) ||
			    (r == EVT_RECORDER_REBUILT && (out.len !=
			    want.len || memcmp(out.p, want.p, out.len) != 0)))
				bad++;
		}
		T_EQ(bad, 0, "dedupe: long messages decide as id by id "
		    "(batches, eviction)");
		evt_buf_free(&m);
		evt_buf_free(&want);
		evt_recorder_seen_free(&ref);
	}
	{
		struct evt_jparser p;
		evt_json_init(&p, 0);
		evt_json_parse(&p, L("[1]"));
		T_EQ(evt_recorder_dedupe(&s, &p, L("[1]"), &out, NULL),
		    EVT_ERR_ARG, "dedupe: not an events object");
		evt_json_free(&p);
	}
	evt_buf_free(&out);
	evt_recorder_seen_free(&s);
}

/* startSession outcomes and marker bodies. */
static void
test_sessions(void)
{
	struct evt_buf b = {0};
	char sid[EVT_ESS_ID_MAX + 1];

	T_EQ(evt_recorder_start_outcome("", 201, "S1"), EVT_RECORDER_NEW,
	    "outcome: 201 new");
	T_EQ(evt_recorder_start_outcome(NULL, 200, "S1"), EVT_RECORDER_NEW,
	    "outcome: 200 without asking is new");
	T_EQ(evt_recorder_start_outcome("S0", 200, "S0"), EVT_RECORDER_RESUMED,
	    "outcome: 200 same id resumed");
	T_EQ(evt_recorder_start_outcome("S0", 200, ""), EVT_RECORDER_RESUMED,
	    "outcome: 200 without id resumed");
	T_EQ(evt_recorder_start_outcome("S0", 201, "S1"), EVT_RECORDER_REFUSED,
	    "outcome: 201 after asking is refused");
	T_EQ(evt_recorder_start_outcome("S0", 200, "S1"), EVT_RECORDER_REFUSED,
	    "outcome: 200 with another id is refused");
	T_EQ(evt_recorder_start_outcome("S0", 401, "S0"), EVT_RECORDER_FAILED,
	    "outcome: 401 failed");
	T_EQ(evt_recorder_start_outcome("", 201, ""), EVT_RECORDER_FAILED,
	    "outcome: no session id failed");

	evt_recorder_session_json(&b, "new", "S\"1", "https://gw", NULL, "",
	    "evrec 1.0");
	T_OK(buf_is(&b, 0, "{\"event\":\"new\",\"sessionId\":\"S\\\"1\","
	    "\"gateway\":\"https://gw\",\"startedAfter\":\"\","
	    "\"recorder\":\"evrec 1.0\"}"), "session json: new");
	strcpy(sid, "junk");
	T_EQ(evt_recorder_session_after((const char *)b.p, b.len, sid), 0,
	    "session after: empty value found");
	T_OK(sid[0] == '\0', "session after: empty");
	T_EQ(evt_recorder_session_parse((const char *)b.p, b.len, sid), 0,
	    "session parse: ok");
	T_OK(strcmp(sid, "S\"1") == 0, "session parse: id unescaped");
	b.len = 0;
	evt_recorder_session_json(&b, "resumed", "S1", "g", "E9", NULL, NULL);
	T_OK(buf_is(&b, 0, "{\"event\":\"resumed\",\"sessionId\":\"S1\","
	    "\"gateway\":\"g\",\"lastEventId\":\"E9\"}"), "session json: resumed");
	b.len = 0;
	evt_recorder_gap_json(&b, "resume refused", "S0", "E9", "S1");
	T_OK(buf_is(&b, 0, "{\"reason\":\"resume refused\",\"previousSessionId\":"
	    "\"S0\",\"lastEventId\":\"E9\",\"sessionId\":\"S1\"}"), "gap json");
	b.len = 0;
	evt_recorder_gap_json(&b, "r", "S0", "", "S1");
	T_OK(buf_is(&b, 0, "{\"reason\":\"r\",\"previousSessionId\":\"S0\","
	    "\"sessionId\":\"S1\"}"), "gap json: no last id");
	T_EQ(evt_recorder_session_parse(L("{\"sessionId\":\"\"}"), sid),
	    EVT_ERR_NOTFOUND, "session parse: empty id");
	T_EQ(evt_recorder_session_parse(L("{\"sessionId\":5}"), sid),
	    EVT_ERR_NOTFOUND, "session parse: not a string");
	T_EQ(evt_recorder_session_parse(L("nope"), sid), EVT_ERR_NOTFOUND,
	    "session parse: not JSON");
	T_EQ(evt_recorder_session_after(L("{\"sessionId\":\"S\"}"), sid),
	    EVT_ERR_NOTFOUND, "session after: absent (older evrec)");
	T_EQ(evt_recorder_session_after(L("{\"startedAfter\":\"E\\u0031\"}"),
	    sid), 0, "session after: read");
	T_OK(strcmp(sid, "E1") == 0, "session after: unescaped");
	/* The resume cursor after a restart. */
	T_OK(strcmp(evt_recorder_resume_id("E9", "E9"), "") == 0,
	    "resume id: no event of the new session yet: whole session");
	T_OK(strcmp(evt_recorder_resume_id("E12", "E9"), "E12") == 0,
	    "resume id: the session's own last event");
	T_OK(strcmp(evt_recorder_resume_id("E9", NULL), "E9") == 0,
	    "resume id: no startedAfter (older archive): the last event");
	T_OK(strcmp(evt_recorder_resume_id("", ""), "") == 0,
	    "resume id: empty archive");
	evt_buf_free(&b);
}

/* Config reduction. */
static void
test_config(void)
{
	struct evt_buf b = {0};
	size_t bad = 9;
	struct evt_recorder_rest r[] = {
		{"cameras", L("{\"array\":[{\"id\":\"c1\",\"displayName\":\"Door\","
		    "\"x\":{\"id\":\"no\"}},{\"id\":\"c2\",\"name\":\"Hall\"},"
		    "{\"name\":\"no id\"},5]}")},
		{"eventTypes", L("[{\"id\":\"t1\",\"name\":\"Motion\","
		    "\"displayName\":\"Motion Started\",\"state\":\"Motion\","
		    "\"stateGroupId\":\"g1\"},{\"id\":\"t2\",\"name\":\"X\","
		    "\"displayName\":\"X\",\"stateGroupId\":\"\"}]")},
		{"stateGroups", L("{\"data\":[{\"id\":\"g1\",\"name\":\"M\\u00e9\"}]}")},
		{"hardware", NULL, 0},
		{"outputs", L("<html>")},
	};
	int n = evt_recorder_config_reduce(&b, r, 5, &bad);

	T_EQ(n, 5, "config: five items");
	T_EQ(bad, 1, "config: one unusable body");
	T_OK(buf_is(&b, 0, "{\"eventTypes\":[{\"id\":\"t1\",\"name\":\"Motion\","
	    "\"displayName\":\"Motion Started\",\"state\":\"Motion\","
	    "\"stateGroupId\":\"g1\"},{\"id\":\"t2\",\"name\":\"X\"}],"
	    "\"stateGroups\":[{\"id\":\"g1\",\"name\":\"M\\u00e9\"}],"
	    "\"sources\":[{\"id\":\"cameras/c1\",\"name\":\"Door\"},"
	    "{\"id\":\"cameras/c2\",\"name\":\"Hall\"}]}"), "config: body %.*s",
	    (int)b.len, (const char *)b.p);
	b.len = 0;
	T_EQ(evt_recorder_config_reduce(&b, NULL, 0, NULL), 0, "config: none");
	T_OK(buf_is(&b, 0, "{\"eventTypes\":[],\"stateGroups\":[],"
	    "\"sources\":[]}"), "config: empty lists");
	evt_buf_free(&b);
}

/* One item answers and the delta body. */
static void
test_config_delta(void)
{
	struct evt_recorder_cfg c;
	struct evt_buf b = {0};

	memset(&c, 0, sizeof c);
	T_EQ(evt_recorder_cfg_add(&c, "inputEvents", L("{\"data\":{\"id\":"
	    "\"i1\",\"name\":\"Door\",\"displayName\":\"Front door\"}}")), 1,
	    "delta: one item answer");
	T_EQ(evt_recorder_cfg_add(&c, "eventTypes", L("{\"data\":{\"id\":"
	    "\"t9\",\"name\":\"X\",\"state\":\"On\",\"stateGroupId\":\"g\"}}")),
	    1, "delta: an event type");
	T_EQ(evt_recorder_cfg_add(&c, "cameras", L("{\"data\":\"x\"}")), -1,
	    "delta: data not an object");
	T_EQ(evt_recorder_cfg_add(&c, "cameras", L("{\"error\":1}")), -1,
	    "delta: an error body");
	T_EQ(c.bad, 2, "delta: two unusable");
	T_EQ(evt_recorder_cfg_body(&c, 1, &b), 0, "delta: body");
	T_OK(buf_is(&b, 0, "{\"kind\":\"delta\",\"eventTypes\":[{\"id\":\"t9\","
	    "\"name\":\"X\",\"state\":\"On\",\"stateGroupId\":\"g\"}],"
	    "\"stateGroups\":[],\"sources\":[{\"id\":\"inputEvents/i1\","
	    "\"name\":\"Door\",\"displayName\":\"Front door\"}]}"),
	    "delta: %.*s", (int)b.len, (const char *)b.p);
	evt_recorder_cfg_free(&c);
	evt_buf_free(&b);
}

/* Takes every path the tracker lets start now; returns how many. */
static int
take_all(struct evt_recorder_names *n, int64_t now, char seen[][64])
{
	const char *p;
	int k = 0;

	while ((p = evt_recorder_names_take(n, now, 4)) != NULL) {
		snprintf(seen[k++], 64, "%s", p);
		evt_recorder_names_done(n);
	}
	return k;
}

/* The name tracker: what is queued, once, paced. */
static void
test_names(void)
{
	struct evt_recorder_names n;
	struct evt_jparser jp;
	struct evt_ess_msg m;
	char got[8][64];
	const char *snap = "{\"eventTypes\":[{\"id\":\"T1\"}],\"stateGroups\":"
	    "[{\"id\":\"g1\"}],\"sources\":[{\"id\":\"cameras/C1\"},"
	    "{\"id\":\"cameras/c2\"}]}";
	const char *msg = "{\"events\":[{\"id\":\"e1\",\"source\":\"cameras/c1\","
	    "\"type\":\"t1\",\"stategroupid\":\"G1\"},{\"id\":\"e2\",\"source\":"
	    "\"inputEvents/i1\",\"type\":\"t2\"},{\"source\":\"cameras/../x\","
	    "\"type\":\"t\\u0031\"},7,{\"source\":\"CAMERAS/C3\",\"type\":"
	    "\"t2\"},{\"source\":\"cameras/c3\"}]}";

	memset(&n, 0, sizeof n);
	T_OK(evt_recorder_names_path_ok(L("cameras/a8a8-b9dc_1")),
	    "path: a source");
	T_OK(!evt_recorder_names_path_ok(L("cameras/")), "path: no id");
	T_OK(!evt_recorder_names_path_ok(L("/x")), "path: no type");
	T_OK(!evt_recorder_names_path_ok(L("cameras/a/b")), "path: two /");
	T_OK(!evt_recorder_names_path_ok(L("cameras/a b")), "path: blank");
	T_OK(!evt_recorder_names_path_ok(L("cameras/a\r\nX: y")),
	    "path: a header");
	T_EQ(evt_recorder_names_learn(&n, snap, strlen(snap)), 4,
	    "names: the snapshot's four ids");
	T_EQ(evt_recorder_names_learn(&n, L("[1]")), EVT_ERR_JSON,
	    "names: a snapshot that is not an object");
	evt_json_init(&jp, 16);
	T_EQ(evt_ess_classify(&jp, msg, strlen(msg), &m), EVT_ESS_EVENTS,
	    "names: classified");
	/* c1, t1, g1 known (any case); i1, t2, c3 (once, any case) new; the
	 * path with dots and the escaped type never go out. */
	T_EQ(evt_recorder_names_scan(&n, &jp, msg), 3, "names: three new");
	T_EQ(evt_recorder_names_scan(&n, &jp, msg), 0, "names: asked once");
	T_EQ(evt_recorder_names_waiting(&n), 3, "names: three wait");
	/* Paced: one at a time 250 ms apart at 4/s. */
	T_EQ(take_all(&n, 1000000, got), 1, "names: one now");
	T_OK(strcmp(got[0], "inputEvents/i1") == 0, "names: first %s", got[0]);
	T_EQ(take_all(&n, 1249999, got), 0, "names: none before 250 ms");
	T_EQ(take_all(&n, 1250000, got), 1, "names: next at 250 ms");
	T_OK(strcmp(got[0], "eventTypes/t2") == 0, "names: second %s", got[0]);
	/* In flight bound. */
	T_OK(evt_recorder_names_take(&n, 2000000, 4) != NULL, "names: third");
	T_EQ(evt_recorder_names_waiting(&n), 0, "names: queue empty");
	T_EQ(evt_recorder_names_note(&n, L("cameras/c4")), 1, "names: c4");
	T_EQ(evt_recorder_names_note(&n, L("cameras/c5")), 1, "names: c5");
	T_OK(evt_recorder_names_take(&n, 3000000, 4) != NULL, "names: c4 out");
	T_OK(evt_recorder_names_take(&n, 4000000, 4) == NULL,
	    "names: two in flight, no third");
	evt_recorder_names_done(&n);
	T_OK(evt_recorder_names_take(&n, 4000000, 4) != NULL,
	    "names: after one is done");
	evt_recorder_names_done(&n);
	evt_recorder_names_done(&n);
	/* A later snapshot: what it lists is dropped from the queue, the
	 * rest may be asked again. */
	T_EQ(evt_recorder_names_note(&n, L("cameras/c6")), 1, "names: c6");
	T_EQ(evt_recorder_names_note(&n, L("cameras/c7")), 1, "names: c7");
	T_EQ(evt_recorder_names_learn(&n, L("{\"sources\":[{\"id\":"
	    "\"cameras/c6\"}]}")), 1, "names: second snapshot");
	T_EQ(evt_recorder_names_waiting(&n), 1, "names: c7 still waits");
	T_EQ(evt_recorder_names_note(&n, L("cameras/c7")), 0,
	    "names: c7 still asked once");
	T_EQ(evt_recorder_names_note(&n, L("inputEvents/i1")), 1,
	    "names: i1 asked again after a snapshot");
	/* Bounds: the queue. */
	for (int i = 0; i < EVT_RECORDER_NAMES_QUEUE + 10; i++) {
		char p[32];

		snprintf(p, sizeof p, "hardware/h%d", i);
		(void)evt_recorder_names_note(&n, p, strlen(p));
	}
	T_EQ(evt_recorder_names_waiting(&n), EVT_RECORDER_NAMES_QUEUE,
	    "names: the queue is bounded");
	T_OK(n.skipped >= 10, "names: the others are counted");
	evt_recorder_names_clear(&n);
	T_EQ(evt_recorder_names_waiting(&n), 0, "names: cleared");
	/* "System configuration changed" events are counted. */
	{
		const char *cc = "{\"events\":[{\"source\":\"cameras/c1\","
		    "\"type\":\"06C5010D-11F2-4D70-BD79-4CEC3A20D589\"},"
		    "{\"type\":\"" EVT_RECORDER_CONFIG_CHANGED "\"}]}";

		T_EQ(evt_ess_classify(&jp, cc, strlen(cc), &m), EVT_ESS_EVENTS,
		    "changed: classified");
		(void)evt_recorder_names_scan(&n, &jp, cc);
		T_EQ(n.changed, 2, "changed: both events, any case");
		evt_recorder_names_clear(&n);
	}
	evt_json_free(&jp);
}

/* Backoff and token renewal. */
static void
test_pacing(void)
{
	int bad = 0;
	uint32_t prev = 0;

	T_EQ(evt_recorder_backoff_ms(0, 500, 30000, 12345), 0,
	    "backoff: first retry at once");
	T_EQ(evt_recorder_backoff_ms(1, 500, 30000, 0), 375,
	    "backoff: 500 ms scaled by 0.75");
	T_EQ(evt_recorder_backoff_ms(1, 500, 30000, 0x80000000u), 500,
	    "backoff: 500 ms at the middle");
	T_EQ(evt_recorder_backoff_ms(3, 500, 30000, 0x80000000u), 2000,
	    "backoff: doubles");
	T_EQ(evt_recorder_backoff_ms(40, 500, 30000, 0xffffffffu), 30000,
	    "backoff: capped at the maximum");
	for (unsigned a = 1; a < 12; a++) {
		uint32_t d = evt_recorder_backoff_ms(a, 500, 30000, 0x80000000u);
		if (d < prev)
			bad++;
		prev = d;
		for (int k = 0; k < 100; k++) {
			uint32_t j = evt_recorder_backoff_ms(a, 500, 30000,
			    (uint32_t)rng());
			if (j > 30000 || j < d * 3 / 4 - 1)
				bad++;
		}
	}
	T_EQ(bad, 0, "backoff: grows and stays within its jitter band");
	T_OK(!evt_recorder_stable(0, 1, 10000000, 100),
	    "stable: dropped at once after one event: no");
	T_OK(evt_recorder_stable(10000000, 0, 10000000, 100),
	    "stable: up long enough");
	T_OK(evt_recorder_stable(5, 100, 10000000, 100),
	    "stable: delivered enough events");
	T_EQ(evt_recorder_token_due(0, 100, 60), 1, "token: none is due");
	T_EQ(evt_recorder_token_due(-1, 100, 60), 0, "token: no expiry");
	T_EQ(evt_recorder_token_due(1000, 900, 60), 0, "token: fresh");
	T_EQ(evt_recorder_token_due(1000, 940, 60), 1, "token: within margin");
}

int
main(void)
{
	test_seen();
	test_dedupe();
	test_sessions();
	test_config();
	test_config_delta();
	test_names();
	test_pacing();
	T_DONE();
}
