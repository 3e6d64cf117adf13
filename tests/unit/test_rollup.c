/*
 * test_rollup.c: the summary roll-up (src/rollup.c).  An archive of 40
 * sealed segments (messages of two events, types and sources varying by
 * segment) is written in a private mkdtemp() directory; its runs must
 * cover every segment in a few files after the merges, their totals must
 * equal the segments' trailers and summaries added up; a run with a
 * flipped byte or cut short must be rejected by its parser, and reported
 * by verify; a run whose segment was replaced must not be used for it
 * (the view), and a full catch-up must rebuild what is gone or stale;
 * the name and the worked example of formats/rollup.md are pinned.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/rollup.h"
#include "evtape/segment.h"
#include "t.h"

#define NSEG 40
#define PER 30	/* messages per segment */

static char dir[64];
static uint64_t seqs[NSEG + 8];
static size_t nseqs;

/* Writes the archive: segment s holds PER messages of two events each,
 * of type "t<s % 7>" and sources "cameras/<k % 5>", "cameras/x". */
static void
write_archive(void)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		abort();
	for (int s = 0; s < NSEG; s++) {
		for (int k = 0; k < PER; k++) {
			char msg[300];
			int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
			    "\"%08x-1111-4222-8333-%012x\",\"type\":\"t%d\","
			    "\"source\":\"cameras/%d\"},{\"type\":\"t%d\","
			    "\"source\":\"cameras/x\"}]}", s * PER + k, k,
			    s % 7, k % 5, s % 7);
			if (evt_archive_frame(a, 1767600000000000LL +
			    (int64_t)s * 1000000 + k * 1000, msg,
			    (size_t)n) < 0)
				abort();
		}
		if (evt_archive_rotate(a) != 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* Lists the archive's segments into seqs. */
static void
list_segments(void)
{
	struct evt_archive *a;
	size_t n;
	if (evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) != 0)
		abort();
	const struct evt_segref *s = evt_archive_segments(a, &n);
	nseqs = n;
	for (size_t i = 0; i < n && i < NSEG + 8; i++)
		seqs[i] = s[i].seq;
	evt_archive_close(a);
}

/* Counts the run files. */
static int
count_runs(char *first, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (evt_ru_parse_name(e->d_name, NULL, NULL)) {
			if (n++ == 0 && first != NULL)
				snprintf(first, cap, "%s/%.40s", dir,
				    e->d_name);
		}
	if (d != NULL)
		closedir(d);
	return n;
}

/* How many listed segments the view covers; the covering runs' events
 * (trailer sums) and summed events into *ev, *sum_ev. */
static size_t
covered(uint64_t *ev, uint64_t *sum_ev)
{
	struct evt_ru_view *v;
	size_t c = 0;
	*ev = *sum_ev = 0;
	if (evt_ru_view_open(dir, seqs, nseqs, &v) != 0 || v == NULL)
		abort();
	for (size_t i = 0; i < nseqs; i++)
		c += v->cover[i] != SIZE_MAX;
	for (size_t k = 0; k < v->nrun; k++) {
		int used = 0;
		for (size_t i = 0; i < nseqs; i++)
			used |= v->cover[i] == k;
		if (!used)
			continue;
		struct evt_sum s;
		const char *why;
		*ev += v->runs[k].events;
		if (evt_ru_sum(&v->runs[k], &s, &why) == 0)
			*sum_ev += s.events;
		evt_sum_free(&s);
	}
	evt_ru_view_close(v);
	return c;
}

static int reports;

/* Counts verify's reports. */
static void
report_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	reports++;
}

/* Reads a file whole. */
static uint8_t *
slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (f == NULL)
		abort();
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc(*n + 1);
	if (b == NULL || fread(b, 1, *n, f) != *n)
		abort();
	fclose(f);
	return b;
}

/* Writes a file whole. */
static void
spill(const char *p, const uint8_t *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* Flipped bytes and a cut: the parser rejects them, verify reports. */
static void
test_damage(void)
{
	char path[400];
	size_t n;
	count_runs(path, sizeof path);
	uint8_t *orig = slurp(path, &n);
	struct evt_ru_run run;
	const char *why;
	uint64_t at;
	T_EQ(evt_ru_parse(orig, n, 1, 999, &run, &why, &at), 0,
	    "a run parses");
	evt_ru_free(&run);
	int tries = 0, rejected = 0;
	for (size_t off = 0; off < n; off += 1 + off / 16) {
		uint8_t *b = malloc(n);
		memcpy(b, orig, n);
		b[off] ^= 0x10;
		tries++;
		rejected += evt_ru_parse(b, n, 1, 999, &run, &why, &at) != 0;
		evt_ru_free(&run);
		free(b);
	}
	T_EQ(rejected, tries, "every flipped byte is rejected (%d)", tries);
	T_OK(evt_ru_parse(orig, n - 1, 1, 999, &run, &why, &at) != 0,
	    "a run cut short is rejected");
	orig[n / 2] ^= 1;
	spill(path, orig, n);
	reports = 0;
	T_OK(evt_ru_verify(dir, report_cb, NULL) == 1 && reports == 1,
	    "verify reports the damaged run");
	uint64_t ev, sev;
	T_OK(covered(&ev, &sev) < nseqs, "the damaged run is not used");
	T_EQ(evt_ru_catch_up(dir, 1, NULL, NULL), 0, "catch-up (full)");
	T_EQ(evt_ru_verify(dir, report_cb, NULL), 0, "then verify clean");
	T_EQ(covered(&ev, &sev), nseqs, "and every segment covered again");
	free(orig);
}

/* A segment replaced by another: the run is not used for it; verify says
 * stale; catch-up rebuilds. */
static void
test_replaced(void)
{
	char p1[128], p2[128], name[32];
	size_t n;
	evt_segment_name(seqs[10], name, sizeof name);
	snprintf(p1, sizeof p1, "%s/%s", dir, name);
	evt_segment_name(seqs[11], name, sizeof name);
	snprintf(p2, sizeof p2, "%s/%s", dir, name);
	uint8_t *keep = slurp(p1, &n), *other;
	size_t n2;
	other = slurp(p2, &n2);
	int fd = open(p1, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, other, n2) != (ssize_t)n2)
		abort();
	close(fd);
	uint64_t ev, sev;
	T_OK(covered(&ev, &sev) < nseqs, "segment replaced: its run unused");
	reports = 0;
	T_OK(evt_ru_verify(dir, report_cb, NULL) > 0, "verify: stale run");
	T_EQ(evt_ru_catch_up(dir, 1, NULL, NULL), 0, "catch-up (full)");
	T_EQ(covered(&ev, &sev), nseqs, "then every segment covered");
	T_EQ(evt_ru_verify(dir, report_cb, NULL), 0, "then verify clean");
	spill(p1, keep, n);
	T_EQ(evt_ru_catch_up(dir, 1, NULL, NULL), 0, "restored");
	T_EQ(covered(&ev, &sev), nseqs, "... and covered");
	T_EQ(sev, (uint64_t)NSEG * PER * 2, "... summed events as written");
	free(keep);
	free(other);
}

/* The name. */
static void
test_names(void)
{
	char name[64];
	uint64_t lo, hi;
	evt_ru_name(12, 345, name, sizeof name);
	T_OK(strcmp(name, "sum-000000000012-000000000345.evs") == 0,
	    "name: %s", name);
	T_OK(evt_ru_parse_name(name, &lo, &hi) && lo == 12 && hi == 345,
	    "name parses");
	T_OK(!evt_ru_parse_name("sum-000000000012-000000000011.evs", &lo,
	    &hi), "lo > hi is no name");
	T_OK(!evt_ru_parse_name("idx-000000000012-000000000345.evi", &lo,
	    &hi), "an id index run is no roll-up run");
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/evt-rollup-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	write_archive();
	list_segments();
	T_EQ(nseqs, (size_t)NSEG, "%d segments", NSEG);
	int runs = count_runs(NULL, 0);
	T_OK(runs >= 1 && runs <= 12, "%d runs after the merges", runs);
	uint64_t ev, sev;
	T_EQ(covered(&ev, &sev), nseqs, "every segment is covered");
	T_EQ(ev, (uint64_t)NSEG * PER * 2, "trailer events add up");
	T_EQ(sev, (uint64_t)NSEG * PER * 2, "summed events add up");
	T_EQ(evt_ru_verify(dir, report_cb, NULL), 0, "verify clean");
	test_damage();
	test_replaced();
	test_names();
	setenv("EVTAPE_NO_ROLLUP", "1", 1);
	struct evt_ru_view *v = (struct evt_ru_view *)1;
	T_OK(evt_ru_view_open(dir, seqs, nseqs, &v) == 0 && v == NULL,
	    "EVTAPE_NO_ROLLUP: no view");
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
