/*
 * test_report.c: the HTML incident report (report.c): the state
 * intervals of a lane against a small reference (the state at the
 * window's start from a getState answer, a repeated state that goes on,
 * a change), the same bytes twice, escaping of hostile names and ids.
 *
 * With "--write-archive DIR [N [RATE]]" it writes the archive of
 * tests/integration/report.sh instead (names with markup, SESSION and
 * GAP markers, a getState answer, N events, RATE (2) a second; with N
 * given, in default-sized segments: the benchmark's) and exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/report.h"
#include "evtape/select.h"
#include "t.h"

#define T0 1767600000000000LL	/* 2026-01-05T08:00:00Z */
#define SEC 1000000LL
#define CAM "cameras/aaaaaaaa-0000-0000-0000-00000000000"
#define TYP "6eb95dd6-0000-0000-0000-00000000000"
#define GRP "720ef62a-0000-0000-0000-000000000001"

/* Names: one with markup and quotes, one source left unnamed (cam 5). */
static const char snap[] = "{\"eventTypes\":[{\"id\":\"" TYP "1\",\"name\":"
    "\"MotionStarted\",\"state\":\"Motion\",\"stateGroupId\":\"" GRP "\"},"
    "{\"id\":\"" TYP "2\",\"name\":\"MotionStopped\",\"state\":\"No Motion\","
    "\"stateGroupId\":\"" GRP "\"},{\"id\":\"" TYP "3\",\"name\":\"Door "
    "\\\"forced\\\"\"}],\"stateGroups\":[{\"id\":\"" GRP "\",\"name\":"
    "\"Motion\"}],\"sources\":[{\"id\":\"" CAM "1\",\"name\":\"Lobby East\"},"
    "{\"id\":\"" CAM "2\",\"name\":\"<script>alert('x')</script> \\\"Cam\\\" "
    "& Co\"},{\"id\":\"" CAM "3\",\"name\":\"Garage\"},{\"id\":\"" CAM "4\","
    "\"name\":\"Yard\"}]}";

/* Writes one event frame. */
static void
put_event(struct evt_archive *a, int64_t rx, const char *id, int cam,
    int typ)
{
	char msg[512];
	snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"%s\",\"source\":\""
	    CAM "%d\",\"type\":\"" TYP "%d\"%s}]}", id, cam, typ, typ < 3 ?
	    ",\"stategroupid\":\"" GRP "\"" : "");
	if (evt_archive_frame(a, rx, msg, strlen(msg)) < 0)
		abort();
}

/* Writes one marker. */
static void
put_marker(struct evt_archive *a, int kind, int64_t rx, const char *body)
{
	if (evt_archive_marker(a, kind, rx, body, strlen(body)) < 0)
		abort();
}

/* The archive of report.sh: a session, names, a getState answer at T0 +
 * 1 s (camera 1 in Motion), nev events, rate a second, from T0 + 2 s (none
 * in [T0 + 95 s, T0 + 100 s): a GAP at T0 + 100 s, a new session), an
 * event with a hostile id. */
static void
write_archive(const char *dir, int nev, int big, int rate)
{
	struct evt_archive *a;
	struct evt_archive_opts o = {.seg_bytes = big ? 0 : 4096};
	char id[64];
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, &o, NULL, NULL,
	    NULL, &a) != 0)
		abort();
	put_marker(a, EVT_K_SESSION, T0, "{\"event\":\"new\",\"sessionId\":"
	    "\"s1\",\"gateway\":\"http://127.0.0.1:9\",\"recorder\":\"test\"}");
	put_marker(a, EVT_K_CONFIG, T0, snap);
	const char st[] = "{\"states\":[{\"id\":\"s0\",\"source\":\"" CAM "1\","
	    "\"type\":\"" TYP "1\",\"stategroupid\":\"" GRP "\",\"time\":"
	    "\"2026-01-05T07:59:00Z\"}]}";
	if (evt_archive_frame(a, T0 + SEC, st, strlen(st)) < 0)
		abort();
	for (int i = 0; i < nev; i++) {
		int64_t rx = T0 + 2 * SEC + (int64_t)i * SEC / rate;
		if (rx % (100 * SEC) >= 95 * SEC)
			continue;
		if (rx % (100 * SEC) == 0 && rx > T0 + 2 * SEC) {
			put_marker(a, EVT_K_GAP, rx, "{\"reason\":\"resume "
			    "refused\",\"previousSessionId\":\"s1\","
			    "\"lastEventId\":\"e1\",\"sessionId\":\"s2\"}");
			put_marker(a, EVT_K_SESSION, rx, "{\"event\":\"new\","
			    "\"sessionId\":\"s2\",\"gateway\":\"http://127.0.0."
			    "1:9\",\"recorder\":\"test\"}");
		}
		/* Busiest first: cameras 1..5 with weights 5,4,3,2,1. */
		uint64_t w = rng() % 15;
		int cam = w < 5 ? 1 : w < 9 ? 2 : w < 12 ? 3 : w < 14 ? 4 : 5;
		int typ = cam == 5 ? 3 : 1 + (int)(rng() % 3);
		snprintf(id, sizeof id, i == 77 ? "x\\\"><script>e%d" : "e%d", i);
		put_event(a, rx, id, cam, typ);
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* The report of dir's window [from, to) into out, the states at its
 * start from the look-back (0: all); its rc. */
static int
report_back(const char *dir, int64_t from, int64_t to, int64_t back,
    struct evt_buf *out, struct evt_buf *why)
{
	struct evt_archive *a;
	struct evt_sel sel;
	if (evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) != 0 ||
	    evt_sel_init(&sel, 1) != 0)
		abort();
	struct evt_names *n = evt_names_new();
	if (n == NULL || evt_names_read(a, dir, n) != 0)
		abort();
	struct evt_report_opts o = {.archive = "a", .from = from, .to = to,
	    .around_rx = INT64_MIN, .sel = &sel, .lanes = 20, .rows = 500,
	    .lookback = back};
	int rc = evt_report_write(a, dir, n, &o, out, why);
	evt_names_free(n);
	evt_sel_free(&sel);
	evt_archive_close(a);
	return rc;
}

/* The report of dir's window [from, to) into out; its rc. */
static int
report(const char *dir, int64_t from, int64_t to, struct evt_buf *out,
    struct evt_buf *why)
{
	return report_back(dir, from, to, 0, out, why);
}

/* The bars of report b. */
static size_t
bars_in(const struct evt_buf *b)
{
	size_t n = 0;
	for (const char *p = (const char *)b->p; (p = memmem(p, b->len -
	    (size_t)(p - (const char *)b->p), "class=\"bar\"", 11)) != NULL;
	    p++)
		n++;
	return n;
}

/* Whether NUL-terminated needle is in the report. */
static int
has(const struct evt_buf *b, const char *needle)
{
	return memmem(b->p, b->len, needle, strlen(needle)) != NULL;
}

/* A lane's intervals: the state at the window's start from a getState
 * answer (unless the look-back leaves it out), a repeated state that goes
 * on, a change, getState answers in the window (one setting a state, one
 * ending the states it does not name), the last one open to the window's
 * end. */
static void
test_intervals(void)
{
	char dir[] = "/tmp/evtape-report-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		abort();
	put_marker(a, EVT_K_CONFIG, T0, snap);
	const char st[] = "{\"states\":[{\"id\":\"s0\",\"source\":\"" CAM "1\","
	    "\"type\":\"" TYP "1\",\"stategroupid\":\"" GRP "\"}]}";
	if (evt_archive_frame(a, T0 + SEC, st, strlen(st)) < 0)
		abort();
	put_event(a, T0 + 10 * SEC, "a", 1, 2);	/* off */
	put_event(a, T0 + 12 * SEC, "b", 1, 2);	/* off again: goes on */
	put_event(a, T0 + 20 * SEC, "c", 1, 1);	/* on, to the end */
	put_event(a, T0 + 21 * SEC, "d", 2, 3);	/* a tick */
	const char off[] = "{\"states\":[{\"id\":\"s1\",\"source\":\"" CAM
	    "1\",\"type\":\"" TYP "2\",\"stategroupid\":\"" GRP "\"}]}";
	if (evt_archive_frame(a, T0 + 25 * SEC, off, strlen(off)) < 0 ||
	    evt_archive_frame(a, T0 + 27 * SEC, "{\"states\":[]}", 13) < 0)
		abort();
	if (evt_archive_close(a) != 0)
		abort();
	struct evt_buf out = {0}, again = {0}, why = {0};
	T_EQ(report(dir, T0 + 5 * SEC, T0 + 30 * SEC, &out, &why), 0,
	    "the report is written");
	T_OK(has(&out, "Lobby East &mdash; Motion: Motion, 2026-01-05T08:00:"
	    "05.000000Z &ndash; 2026-01-05T08:00:10.000000Z</title>"),
	    "the state at the window's start is a bar from its left edge");
	T_OK(has(&out, "Lobby East &mdash; Motion: No Motion, 2026-01-05T08:"
	    "00:10.000000Z &ndash; 2026-01-05T08:00:20.000000Z</title>"),
	    "a repeated state goes on; a change ends it");
	T_OK(has(&out, "Lobby East &mdash; Motion: Motion, 2026-01-05T08:00:"
	    "20.000000Z &ndash; 2026-01-05T08:00:25.000000Z</title>"),
	    "a getState answer in the window ends a state it changes");
	T_OK(has(&out, "Lobby East &mdash; Motion: No Motion, 2026-01-05T08:"
	    "00:25.000000Z &ndash; 2026-01-05T08:00:27.000000Z</title>"),
	    "... starts the state it says, which one that does not name it "
	    "ends");
	T_EQ(bars_in(&out), 4, "four bars, no more");
	T_OK(has(&out, "received before it</td>"), "the page says where the "
	    "states come from");
	T_EQ(report(dir, T0 + 5 * SEC, T0 + 26 * SEC, &again, &why), 0,
	    "a window ending in the answer's state");
	T_OK(has(&again, "Lobby East &mdash; Motion: No Motion, 2026-01-05T08:"
	    "00:25.000000Z &ndash; 2026-01-05T08:00:26.000000Z</title>"),
	    "... whose last interval is open to the window's end");
	again.len = 0;
	T_EQ(report_back(dir, T0 + 5 * SEC, T0 + 30 * SEC, 2 * SEC, &again,
	    &why), 0, "a look-back of 2 s");
	T_OK(!has(&again, "Motion: Motion, 2026-01-05T08:00:05") && has(&again,
	    "since 2026-01-05T08:00:03.000000Z"), "... leaves out the answer "
	    "before it, and says so");
	T_EQ(bars_in(&again), 3, "... three bars");
	again.len = 0;
	T_OK(has(&out, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;"
	    "Cam&quot; &amp; Co: Door &quot;forced&quot; at"),
	    "a hostile name is escaped");
	T_OK(!has(&out, "<script"), "no markup from the archive");
	T_OK(has(&out, ".axis{stroke:#999}</style>") && has(&out,
	    "</body></html>\n"), "the style sheet and the page are whole");
	T_EQ(report(dir, T0 + 5 * SEC, T0 + 30 * SEC, &again, &why), 0,
	    "written again");
	T_OK(again.len == out.len && memcmp(again.p, out.p, out.len) == 0,
	    "the same bytes");
	T_EQ(report(dir, T0 + 40 * SEC, T0 + 50 * SEC, &again, &why),
	    EVT_ERR_NOTFOUND, "no event in the window: an error");
	T_OK(has(&why, "no event received between 2026-01-05T08:00:40"),
	    "saying which window");
	evt_buf_free(&out);
	evt_buf_free(&again);
	evt_buf_free(&why);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		abort();
}

int
main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 5 && strcmp(argv[1], "--write-archive") ==
	    0) {
		write_archive(argv[2], argc >= 4 ? atoi(argv[3]) : 600,
		    argc >= 4, argc == 5 ? atoi(argv[4]) : 2);
		return 0;
	}
	test_intervals();
	T_DONE();
}
