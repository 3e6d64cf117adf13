/*
 * test_rewrite.c: unit tests for src/rewrite.c: timestamps shifted with
 * their precision and form kept (fractions of 0..12 digits, 'Z', 'z',
 * offsets in three forms, no zone, no seconds, a space or 't' separator,
 * leap days, year ends), truncation toward zero (a shift and its negative
 * undo each other at every precision), bad timestamps left unchanged and
 * counted; fresh ids (GUID form kept, version/variant bits and letter case
 * kept, deterministic, keyed, unique within and across passes, inverted);
 * the source map (whole, bare, renamed prefix kept); events rewritten
 * without touching other bytes; frames and CONFIG bodies.
 */
#include <stdint.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/rewrite.h"
#include "t.h"

/* Shifts s by ns; returns the text (static) or "BAD". */
static const char *
shift(const char *s, int64_t ns)
{
	static char out[128];
	size_t n = strlen(s);
	if (!evt_rw_time_shift(s, n, ns, out))
		return "BAD";
	out[n] = '\0';
	return out;
}

/* The forms of rewrite.h: one second, one day, precision kept. */
static void
test_forms(void)
{
	static const struct { const char *in; int64_t ns; const char *want; }
	    v[] = {
		{"2025-10-27T15:03:52.8070000Z", 1000000000,
		    "2025-10-27T15:03:53.8070000Z"},
		{"2025-10-27T15:03:52.807Z", 1500000000,
		    "2025-10-27T15:03:54.307Z"},
		{"2025-10-27T15:03:52.807Z", 1500999999,
		    "2025-10-27T15:03:54.307Z"},	/* truncated to ms */
		{"2025-10-27T15:03:52Z", 1999999999, "2025-10-27T15:03:53Z"},
		{"2025-10-27T15:03Z", 119000000000LL, "2025-10-27T15:04Z"},
		{"2025-10-27 15:03:52.1+01:00", 86400000000000LL,
		    "2025-10-28 15:03:52.1+01:00"},
		{"2025-10-27t23:59:59,5-0530", 500000000,
		    "2025-10-28t00:00:00,0-0530"},
		{"2025-10-27T15:03:52.123456789012z", 1,
		    "2025-10-27T15:03:52.123456790012z"},
		{"2024-02-28T23:59:59.9999999+02", 100,
		    "2024-02-29T00:00:00.0000000+02"},
		{"2025-12-31T23:59:59.9Z", 100000000,
		    "2026-01-01T00:00:00.0Z"},
		{"2026-01-01T00:00:00.00Z", -10000000,
		    "2025-12-31T23:59:59.99Z"},
		{"2026-01-01T00:00:00", -1000000000, "2025-12-31T23:59:59"},
		{"2025-10-27T15:03:52.8070000Z", -3600000000000LL,
		    "2025-10-27T14:03:52.8070000Z"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		T_OK(strcmp(shift(v[i].in, v[i].ns), v[i].want) == 0,
		    "%s %+lld ns -> %s (got %s)", v[i].in, (long long)v[i].ns,
		    v[i].want, shift(v[i].in, v[i].ns));
}

/* Texts that are not timestamps, or leave the years: unchanged. */
static void
test_bad(void)
{
	static const char *const bad[] = {"", "now", "2025-10-27",
	    "2025-13-01T00:00Z", "2025-02-29T00:00Z", "2025-10-27T24:00Z",
	    "2025-10-27T15:03:60Z", "2025-10-27T15:03:52.Z",
	    "2025-10-27T15:03:52Zx", "2025-10-27T15:03:52+25:00",
	    "25-10-27T15:03:52Z", "2025-10-27X15:03:52Z",
	    "2025-10-27T15:03:52 Z", "2025-10-27T15:03:52+01:",
	    "2025-10-27T15:03:52+01:5", "\xff\xfe"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_OK(strcmp(shift(bad[i], 1000000000), "BAD") == 0,
		    "not a timestamp: \"%s\"", bad[i]);
	T_OK(strcmp(shift("9999-12-31T23:59:59.9999999Z", 100), "BAD") == 0,
	    "past year 9999: left alone");
	T_OK(strcmp(shift("0001-01-01T00:00:00Z", -1000000000), "BAD") == 0,
	    "before year 0001: left alone");

	struct evt_rw *rw;
	struct evt_buf out = {0};
	struct evt_rw_stats st;
	struct evt_rw_pass p = {1, 1000000000, 0};
	evt_rw_new(&rw);
	static const char ev[] = "{\"time\":\"yesterday\",\"id\":1}";
	evt_rw_event(rw, &p, L(ev), &out);
	evt_rw_stats(rw, &st);
	T_OK(out.len == sizeof ev - 1 && memcmp(out.p, ev, out.len) == 0 &&
	    st.bad_times == 1 && st.times == 0,
	    "an event with a bad time: unchanged, counted");
	evt_rw_free(rw);
	evt_buf_free(&out);
}

/* A shift and its negative undo each other at every precision, and every
 * timestamp of one precision moves by the same amount. */
static void
test_inverse(void)
{
	static const char *const ts[] = {"2025-10-27T15:03:52.8070000Z",
	    "2025-10-27T15:03:52.807Z", "2025-10-27T15:03:52Z",
	    "2025-10-27T15:03+01:00", "2025-10-27T15:03:52.1234567891Z"};
	int ok = 1;
	for (int k = 0; k < 2000; k++) {
		int64_t d = (int64_t)(rng() % 400000000000000ULL) -
		    200000000000000LL;
		for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
			char a[64];
			strcpy(a, shift(ts[i], d));
			if (strcmp(shift(a, -d), ts[i]) != 0)
				ok = 0;
		}
	}
	T_OK(ok, "shift by D then by -D gives the text back (2,000 D)");
	int64_t s0, s1, u;
	int32_t n0, n1;
	const char *a = "2025-10-27T15:03:52.807Z";
	int64_t d = 12345678901234;
	evt_rw_time_parse(a, strlen(a), &s0, &n0, &u);
	const char *b = shift(a, d);
	evt_rw_time_parse(b, strlen(b), &s1, &n1, &u);
	T_EQ((s1 - s0) * 1000000000 + (n1 - n0), d / 1000000 * 1000000,
	    "the offset is D truncated to the precision (ms)");
	T_EQ(u, 1000000, "precision of 3 digits: 1 ms");
	evt_rw_time_parse(L("2025-10-27T16:03:52+01:00"), &s1, &n1, &u);
	evt_rw_time_parse(L("2025-10-27T15:03:52Z"), &s0, &n0, &u);
	T_OK(s0 == s1 && n0 == 0 && u == 1000000000,
	    "an offset is taken into the instant");
}

/* qsort order of 36-byte ids. */
static int
id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 36);
}

/* Fresh ids: form, bits, case, determinism, keys, passes, inverse. */
static void
test_ids(void)
{
	struct evt_rw *rw, *rw2;
	char a[37] = "", b[37] = "", c[37] = "", back[37] = "";
	const char *id = "0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13";
	evt_rw_new(&rw);
	evt_rw_new(&rw2);
	T_EQ(evt_rw_id(rw, 0, id, 36, a), 0, "fresh ids off: nothing");
	evt_rw_fresh_ids(rw, "", 0);
	evt_rw_fresh_ids(rw2, L("another key"));
	T_EQ(evt_rw_id(rw, 0, id, 36, a), 36, "a GUID gets a GUID");
	evt_rw_id(rw, 0, id, 36, b);
	T_OK(memcmp(a, b, 36) == 0, "deterministic");
	T_OK(memcmp(a, id, 36) != 0 && a[8] == '-' && a[13] == '-' &&
	    a[18] == '-' && a[23] == '-' && a[14] == '4' &&
	    strchr("89ab", a[19]) != NULL, "new, in the GUID form, version 4, "
	    "variant 10: %.36s", a);
	evt_rw_id(rw, 1, id, 36, c);
	T_OK(memcmp(a, c, 36) != 0, "another pass, another id");
	evt_rw_id(rw2, 0, id, 36, c);
	T_OK(memcmp(a, c, 36) != 0, "another key, another id");
	T_OK(evt_rw_id_invert(rw, 0, a, 36, back) &&
	    memcmp(back, id, 36) == 0, "inverted with its pass");
	T_OK(evt_rw_id_invert(rw, 1, a, 36, back) &&
	    memcmp(back, id, 36) != 0, "not with another pass");
	evt_rw_id(rw, 5, "AB5C4F1E-8A3D-1B52-CD0E-6F1C2A7E9B13", 36, c);
	T_OK(c[14] == '1' && strchr("CDEF", c[19]) != NULL &&
	    strpbrk(c, "abcdef") == NULL, "upper case, version 1, variant 110 "
	    "kept: %.36s", c);
	T_EQ(evt_rw_id(rw, 0, L("not-a-guid"), c), 36,
	    "any other id: a GUID");
	T_OK(c[14] == '4' && evt_rw_id_invert(rw, 0, L("not-a-guid"), back)
	    == 0, "version 4, not invertible");

	/* Unique within and across passes: 3 passes of 20,000 ids. */
	static char seen[60000][36];
	int uniq = 1, inv = 1;
	for (int p = 0; p < 3; p++)
		for (int i = 0; i < 20000; i++) {
			char g[37];
			snprintf(g, sizeof g, "%08x-0000-4000-8000-%012x",
			    (unsigned)i * 2654435761u, (unsigned)i);
			evt_rw_id(rw, (uint64_t)p, g, 36, seen[p * 20000 + i]);
			inv &= evt_rw_id_invert(rw, (uint64_t)p,
			    seen[p * 20000 + i], 36, back) &&
			    memcmp(back, g, 36) == 0;
		}
	qsort(seen, 60000, 36, id_cmp);
	for (int i = 1; i < 60000; i++)
		uniq &= memcmp(seen[i - 1], seen[i], 36) != 0;
	T_OK(uniq, "60,000 fresh ids of 3 passes: no two alike");
	T_OK(inv, "every one inverts to its original");
	evt_rw_free(rw);
	evt_rw_free(rw2);
}

/* Rewrites text with rw and pass p; returns it (static). */
static const char *
ev(struct evt_rw *rw, const struct evt_rw_pass *p, const char *text,
    int frame)
{
	static struct evt_buf out;
	out.len = 0;
	if ((frame ? evt_rw_frame : evt_rw_event)(rw, p, text, strlen(text),
	    &out) != 0)
		return "NOMEM";
	evt_buf_putc(&out, 0);
	return (const char *)out.p;
}

/* The map, and whole events: only the values change. */
static void
test_events(void)
{
	struct evt_rw *rw;
	struct evt_rw_pass none = {0, 0, 0}, p = {1, 1000000000, 0};
	evt_rw_new(&rw);
	T_EQ(evt_rw_map(rw, "cameras/AAAA", "cameras/bbbb"), 0, "map whole");
	T_EQ(evt_rw_map(rw, "CCCC", "dddd"), 0, "map bare");
	T_EQ(evt_rw_map(rw, "eeee", "outputs/ffff"), 0, "map bare to whole");
	T_EQ(evt_rw_map(rw, "cccc", "x"), EVT_ERR_ARG, "mapped twice");
	T_EQ(evt_rw_map(rw, "q", "a\"b"), EVT_ERR_ARG, "a quote refused");
	T_EQ(evt_rw_map(rw, "", "b"), EVT_ERR_ARG, "empty refused");
	T_OK(strcmp(ev(rw, &none, "{\"source\":\"cameras/aaaa\"}", 0),
	    "{\"source\":\"cameras/bbbb\"}") == 0, "whole source renamed");
	T_OK(strcmp(ev(rw, &none, "{\"source\":\"hardware/cCcC\"}", 0),
	    "{\"source\":\"hardware/dddd\"}") == 0,
	    "bare id renamed, its prefix kept");
	T_OK(strcmp(ev(rw, &none, "{\"source\":\"cameras/eeee\"}", 0),
	    "{\"source\":\"outputs/ffff\"}") == 0, "bare id to a whole one");
	T_OK(strcmp(ev(rw, &none, "{\"source\":\"cameras/zzzz\"}", 0),
	    "{\"source\":\"cameras/zzzz\"}") == 0, "unmapped: unchanged");
	evt_rw_fresh_ids(rw, "", 0);
	const char *in = "{ \"z\" : [1, {\"time\":\"x\"}], \"id\" : "
	    "\"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13\" ,\"time\":"
	    "\"2025-10-27T15:03:52.807Z\",\"data\":{\"StartTime\":"
	    "\"2025-10-27T15:03:50Z\",\"endtime\":\"2025-10-27T15:03:51.5Z\","
	    "\"time\":\"2025-10-27T15:03:52Z\",\"n\":1.50},\"source\":"
	    "\"cameras/AAAA\", \"x\":\"\\u00e9\"}";
	char id[36], want[600];
	evt_rw_id(rw, 0, "0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13", 36, id);
	snprintf(want, sizeof want, "{ \"z\" : [1, {\"time\":\"x\"}], \"id\" "
	    ": \"%.36s\" ,\"time\":\"2025-10-27T15:03:53.807Z\",\"data\":{"
	    "\"StartTime\":\"2025-10-27T15:03:51Z\",\"endtime\":"
	    "\"2025-10-27T15:03:52.5Z\",\"time\":\"2025-10-27T15:03:52Z\","
	    "\"n\":1.50},\"source\":\"cameras/bbbb\", \"x\":\"\\u00e9\"}", id);
	T_OK(strcmp(ev(rw, &p, in, 0), want) == 0, "an event: id, time, "
	    "data.startTime/endTime (any case) and source rewritten, nothing "
	    "else: %s", ev(rw, &p, in, 0));
	T_OK(strcmp(ev(rw, &p, "[1,2]", 0), "[1,2]") == 0 &&
	    strcmp(ev(rw, &p, "{\"time\":", 0), "{\"time\":") == 0,
	    "not an object: as it is");
	T_OK(strcmp(ev(rw, &none, "{\"time\":\"2025-10-27T15:03:52Z\"}", 0),
	    "{\"time\":\"2025-10-27T15:03:52Z\"}") == 0,
	    "no retime in the pass: times kept");
	T_OK(strcmp(ev(rw, &p, "{\"time\":\"2025-10-27T15:03:5\\u0032Z\"}", 0),
	    "{\"time\":\"2025-10-27T15:03:53Z\"}") == 0,
	    "an escaped timestamp is decoded, then written plainly");
	const char *fr = "{\"x\":{\"events\":[]},\"events\":[{\"source\":"
	    "\"cameras/aaaa\"},7,{\"source\":\"cameras/cccc\"}],\"states\":"
	    "[{\"source\":\"cameras/aaaa\"}]}";
	T_OK(strcmp(ev(rw, &none, fr, 1), "{\"x\":{\"events\":[]},\"events\":"
	    "[{\"source\":\"cameras/bbbb\"},7,{\"source\":\"cameras/dddd\"}],"
	    "\"states\":[{\"source\":\"cameras/bbbb\"}]}") == 0,
	    "a frame: its events and states, nothing nested elsewhere");
	struct evt_buf out = {0};
	const char *cfg = "{\"sources\":[{\"id\":\"cameras/aaaa\",\"name\":"
	    "\"A\"},{\"name\":\"C\",\"id\":\"cameras/cccc\"}],\"eventTypes\":"
	    "[{\"id\":\"cccc\"}]}";
	evt_rw_config(rw, cfg, strlen(cfg), &out);
	evt_buf_putc(&out, 0);
	T_OK(strcmp((char *)out.p, "{\"sources\":[{\"id\":\"cameras/bbbb\","
	    "\"name\":\"A\"},{\"name\":\"C\",\"id\":\"cameras/dddd\"}],"
	    "\"eventTypes\":[{\"id\":\"cccc\"}]}") == 0,
	    "a CONFIG body: the sources' ids, nothing else");
	struct evt_rw_stats st;
	evt_rw_stats(rw, &st);
	T_OK(st.sources > 0 && st.ids > 0 && st.times > 0 &&
	    st.not_objects >= 2, "counted");
	evt_buf_free(&out);
	evt_rw_free(rw);
}

int
main(void)
{
	test_forms();
	test_bad();
	test_inverse();
	test_ids();
	test_events();
	T_DONE();
}
