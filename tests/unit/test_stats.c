/*
 * test_stats.c: the selection of reading commands (src/select.c) and the
 * activity picture of `evtool stats` (src/stats.c).  A small archive of
 * known messages, markers and a raw frame is written in a private mkdtemp()
 * directory and its records are fed to the count as evtool feeds them;
 * the report is checked in both forms, which must tell the same figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/select.h"
#include "evtape/stats.h"
#include "t.h"

#define T0 1767600000000000LL /* 2026-01-05T08:00:00Z */
#define SEC 1000000LL

static char dir[64];

/* The frames of the archive: receive time and text (NULL: a CONFIG marker
 * of the text in cfg). */
static const char cfg[] = "{\"eventTypes\":[{\"id\":\"T1\",\"name\":"
    "\"Motion \\\"on\\\"\"}],\"sources\":[{\"id\":\"cameras/a\","
    "\"name\":\"Door\"}]}";
static const struct {
	int64_t rx;
	const char *text;
} frames[] = {
	{T0, NULL},
	{T0, "{\"events\":[{\"source\":\"cameras/a\",\"type\":\"t1\"},"
	    "{\"source\":\"cameras/a\",\"type\":\"t1\"}]}"},
	{T0 + 5 * SEC, "{\"events\":[{\"source\":\"cameras/B\",\"type\":"
	    "\"t2\"}]}"},
	{T0 + 6 * SEC, "not JSON"},
	{T0 + 70 * SEC, "{\"events\":[{\"type\":\"t1\"},7]}"},
};

/* Writes the archive of frames[] into dir. */
static void
write_archive(void)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		abort();
	for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
		int rc = frames[i].text == NULL ?
		    evt_archive_marker(a, EVT_K_CONFIG, frames[i].rx, cfg,
		    strlen(cfg)) : evt_archive_frame(a, frames[i].rx,
		    frames[i].text, strlen(frames[i].text));
		if (rc < 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* Counts the archive with selection sel and buckets of bucket_us, then
 * prints the report in form with top source rows into out (NUL-ended). */
static struct evt_stats *
count(const struct evt_sel *sel, int64_t bucket_us, enum evt_stats_form form,
    uint64_t top, struct evt_buf *out)
{
	struct evt_archive *a;
	struct evt_stats *st = evt_stats_new(sel, bucket_us);
	size_t n;
	if (st == NULL || evt_archive_open(dir, 0, NULL, NULL, NULL, NULL,
	    &a) != 0)
		abort();
	evt_archive_segments(a, &n);
	for (size_t i = 0; i < n; i++) {
		struct evt_segr *r;
		struct evt_rec rec;
		if (evt_archive_open_segment(a, i, &r) != 0)
			abort();
		evt_stats_segment(st);
		evt_segr_rewind(r, INT64_MIN);
		while (evt_segr_next(r, &rec, NULL) == 1)
			if (evt_stats_record(st, evt_segr_decoder(r), &rec) != 0)
				abort();
		evt_archive_close_segment(a, r);
	}
	evt_archive_close(a);
	struct evt_stats_out o = {out, NULL, NULL};
	out->len = 0;
	if (evt_stats_print(st, form, "arch", 0, top, &o) != 0 ||
	    evt_buf_putc(out, 0) != 0)
		abort();
	return st;
}

/* The selection: time range, sources as whole or GUID, any letter case. */
static void
test_select(void)
{
	struct evt_sel s;
	T_EQ(evt_sel_init(&s, 4), 0, "sel: init");
	T_OK(evt_sel_time(&s, INT64_MIN) && evt_sel_time(&s, INT64_MAX),
	    "sel: no range takes every time, INT64_MAX included");
	T_OK(evt_sel_source(&s, "anything"), "sel: no sources takes any");
	s.from = 10;
	s.to = 20;
	T_OK(!evt_sel_time(&s, 9) && evt_sel_time(&s, 10) &&
	    evt_sel_time(&s, 19) && !evt_sel_time(&s, 20),
	    "sel: [from, to)");
	s.sources[s.nsources++] = "A8A8B9DC-3995-49ED-9B00-62CAAC2CE74A";
	s.sources[s.nsources++] = "cameras/x";
	T_OK(evt_sel_source(&s, "cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a"),
	    "sel: a GUID selects its source, in any letter case");
	T_OK(evt_sel_source(&s, "CAMERAS/X") && !evt_sel_source(&s, "x") &&
	    !evt_sel_source(&s, "cameras/y"), "sel: a whole source");
	evt_sel_free(&s);
}

/* The JSON report of the whole archive, to the byte. */
static void
test_json(void)
{
	struct evt_sel s;
	struct evt_buf out = {0};
	evt_sel_init(&s, 0);
	evt_stats_free(count(&s, 0, EVT_STATS_JSON, 10, &out));
	static const char want[] = "{\"archive\":\"arch\","
	    "\"first\":\"2026-01-05T08:00:00.000000Z\","
	    "\"first_us\":1767600000000000,"
	    "\"last\":\"2026-01-05T08:01:10.000000Z\","
	    "\"last_us\":1767600070000000,\"span_s\":70.000000,"
	    "\"events\":5,\"messages\":3,\"mean_rate\":0.071,"
	    "\"peak_rate\":0.300,\"peak_at\":\"2026-01-05T08:00:00Z\","
	    "\"state_snapshots\":0,\"sessions\":0,\"gaps\":0,\"configs\":1,"
	    "\"raw_frames\":1,\"damaged\":0,"
	    "\"types\":[{\"type\":\"t1\",\"name\":\"Motion \\\"on\\\"\","
	    "\"count\":3,\"percent\":60.00},{\"type\":\"\",\"name\":null,"
	    "\"count\":1,\"percent\":20.00},{\"type\":\"t2\",\"name\":null,"
	    "\"count\":1,\"percent\":20.00}],\"types_distinct\":3,"
	    "\"types_other\":0,"
	    "\"sources\":[{\"source\":\"\",\"name\":null,\"count\":2,"
	    "\"percent\":40.00},{\"source\":\"cameras/a\",\"name\":\"Door\","
	    "\"count\":2,\"percent\":40.00},{\"source\":\"cameras/B\","
	    "\"name\":null,\"count\":1,\"percent\":20.00}],"
	    "\"sources_distinct\":3,\"sources_other\":0,\"bucket_s\":10,"
	    "\"activity\":[{\"start\":\"2026-01-05T08:00:00Z\","
	    "\"start_us\":1767600000000000,\"count\":3},"
	    "{\"start\":\"2026-01-05T08:00:10Z\",\"start_us\":1767600010000000,"
	    "\"count\":0},{\"start\":\"2026-01-05T08:00:20Z\","
	    "\"start_us\":1767600020000000,\"count\":0},"
	    "{\"start\":\"2026-01-05T08:00:30Z\",\"start_us\":1767600030000000,"
	    "\"count\":0},{\"start\":\"2026-01-05T08:00:40Z\","
	    "\"start_us\":1767600040000000,\"count\":0},"
	    "{\"start\":\"2026-01-05T08:00:50Z\",\"start_us\":1767600050000000,"
	    "\"count\":0},{\"start\":\"2026-01-05T08:01:00Z\","
	    "\"start_us\":1767600060000000,\"count\":0},"
	    "{\"start\":\"2026-01-05T08:01:10Z\",\"start_us\":1767600070000000,"
	    "\"count\":2}]}\n";
	T_OK(strcmp((char *)out.p, want) == 0, "json: the whole report");
	if (strcmp((char *)out.p, want) != 0)
		printf("#   got %s", (char *)out.p);
	evt_buf_free(&out);
	evt_sel_free(&s);
}

/* The text report: the same figures for people, names beside keys. */
static void
test_text(void)
{
	struct evt_sel s;
	struct evt_buf out = {0};
	evt_sel_init(&s, 0);
	evt_stats_free(count(&s, 0, EVT_STATS_TEXT, 1, &out));
	const char *t = (const char *)out.p;
	T_OK(strstr(t, "archive:         arch\n") == t, "text: starts with "
	    "the archive");
	T_OK(strstr(t, "\nevents:          5\nmessages:        3\n") != NULL,
	    "text: events and messages");
	T_OK(strstr(t, "peak rate:       0.3 events/s (busiest 10s bucket, "
	    "from 2026-01-05T08:00:00Z)\n") != NULL, "text: the peak");
	T_OK(strstr(t, "\ntypes (3):\n       count       %  type\n"
	    "           3  60.00%  Motion \"on\" (t1)\n"
	    "           1  20.00%  (none)\n") != NULL,
	    "text: types by count, the name from CONFIG, (none)");
	T_OK(strstr(t, "\nsources (3):\n       count       %  source\n"
	    "           2  40.00%  (none)\n           3  60.00%  (other)\n")
	    != NULL, "text: --top 1 leaves the rest as (other)");
	T_OK(strstr(t, "\nevents per 10s:\n2026-01-05T08:00:00Z          3  "
	    "##################################################\n") != NULL,
	    "text: the busiest bucket has the longest bar");
	T_OK(strstr(t, "2026-01-05T08:01:10Z          2  "
	    "##################################\n") != NULL &&
	    t[strlen(t) - 1] == '\n', "text: the last bucket ends it");
	evt_buf_free(&out);
	evt_sel_free(&s);
}

/* A selection by time and source; a --bucket too fine for the span. */
static void
test_selected(void)
{
	struct evt_sel s;
	struct evt_buf out = {0};
	evt_sel_init(&s, 2);
	s.from = T0 + SEC;
	s.sources[s.nsources++] = "B";
	evt_stats_free(count(&s, 0, EVT_STATS_JSON, 10, &out));
	const char *t = (const char *)out.p;
	T_OK(strstr(t, "\"events\":1,\"messages\":1,") != NULL &&
	    strstr(t, "\"sources\":[{\"source\":\"cameras/B\"") != NULL &&
	    strstr(t, "\"raw_frames\":1,") != NULL &&
	    strstr(t, "\"configs\":0,") != NULL,
	    "selected: one event of B after the start; the raw frame in range");
	T_OK(strstr(t, "\"name\":\"Motion") == NULL,
	    "selected: no names without a CONFIG marker in the range");
	evt_sel_free(&s);
	evt_sel_init(&s, 0);
	struct evt_stats *st = count(&s, SEC, EVT_STATS_JSON, 10, &out);
	T_EQ(evt_stats_bucket(st), SEC, "bucket: 1s fits 70 s");
	T_OK(strstr((char *)out.p, "\"bucket_s\":1,") != NULL,
	    "bucket: reported");
	evt_stats_free(st);
	/* 70 s in buckets of 1 ms would take 70,000 of them: fits; 10 µs
	 * would take 7,000,000: doubled until it fits. */
	st = count(&s, 10, EVT_STATS_JSON, 10, &out);
	T_OK(evt_stats_bucket(st) > 10 && evt_stats_bucket(st) % 10 == 0 &&
	    70 * SEC / evt_stats_bucket(st) < EVT_STATS_MAX_BUCKETS,
	    "bucket: widened by doubling to fit (%lld us)",
	    (long long)evt_stats_bucket(st));
	evt_stats_free(st);
	evt_buf_free(&out);
	evt_sel_free(&s);
}

int
main(void)
{
	char cmd[128];
	snprintf(dir, sizeof dir, "/tmp/evtape-stats.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	write_archive();
	test_select();
	test_json();
	test_text();
	test_selected();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
