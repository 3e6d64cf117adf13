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
#include "evtape/crc32c.h"
#include "evtape/rollup.h"
#include "evtape/select.h"
#include "evtape/stats.h"
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
	T_EQ(covered(&ev, &sev), nseqs - 1, "then every other segment covered "
	    "(its header names another: readers open it and say so)");
	T_EQ(evt_ru_verify(dir, report_cb, NULL), 0, "then verify clean");
	spill(p1, keep, n);
	T_EQ(evt_ru_catch_up(dir, 1, NULL, NULL), 0, "restored");
	T_EQ(covered(&ev, &sev), nseqs, "... and covered");
	T_EQ(sev, (uint64_t)NSEG * PER * 2, "... summed events as written");
	free(keep);
	free(other);
}

/* formats/rollup.md, "Test vector". */
static const uint8_t vector[] =
	"\x89\x45\x56\x54\x53\x55\x4d\x0a\x01\x00\x00\x01"
	"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
	"\x02\x00\x00\x00\x00\x00\x00\x00\x11\x00\x00\x00"
	"\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00"
	"\x00\xe0\x1a\x72\x9f\x47\x06\x00\x00\xe0\x1a\x72"
	"\x9f\x47\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\xd4\x0a\x13\xc2"
	"\xb2\xe9\x7c\x3d\x01\x00\x00\x00\x00\x00\x00\x00"
	"\x3a\x04\x00\x00\x00\x00\x00\x00\x44\x1d\x20\x2d"
	"\x25\xd3\xed\x18\x00\xe0\x1a\x72\x9f\x47\x06\x00"
	"\x00\xe0\x1a\x72\x9f\x47\x06\x00\x11\x00\x00\x00"
	"\x00\x00\x00\x00\xcd\xac\x1a\x36\x01\x00\x00\x00"
	"\x00\x00\x00\x00\x00\x00\x00\x00\x89\xa6\x65\x76"
	"\x65\x6e\x74\x73\x02\xa8\x6d\x65\x73\x73\x61\x67"
	"\x65\x73\x01\xa8\x66\x69\x72\x73\x74\x5f\x72\x78"
	"\xcf\x00\x06\x47\x9f\x72\x1a\xe0\x00\xa7\x6c\x61"
	"\x73\x74\x5f\x72\x78\xcf\x00\x06\x47\x9f\x72\x1a"
	"\xe0\x00\xa5\x74\x79\x70\x65\x73\x94\xd9\x24\x36"
	"\x65\x62\x39\x35\x64\x64\x36\x2d\x37\x63\x63\x63"
	"\x2d\x34\x62\x63\x65\x2d\x39\x39\x66\x38\x2d\x61"
	"\x66\x30\x64\x30\x62\x35\x38\x32\x64\x37\x37\x01"
	"\xd9\x24\x37\x39\x61\x39\x34\x66\x38\x39\x2d\x39"
	"\x32\x64\x65\x2d\x34\x66\x63\x61\x2d\x38\x61\x34"
	"\x33\x2d\x35\x35\x36\x31\x64\x34\x30\x37\x34\x32"
	"\x33\x64\x01\xa7\x73\x6f\x75\x72\x63\x65\x73\x94"
	"\xd9\x2c\x63\x61\x6d\x65\x72\x61\x73\x2f\x63\x38"
	"\x30\x63\x38\x32\x31\x35\x2d\x37\x34\x34\x63\x2d"
	"\x34\x38\x62\x64\x2d\x61\x65\x63\x61\x2d\x62\x38"
	"\x32\x61\x38\x65\x63\x35\x31\x36\x64\x36\x01\xd9"
	"\x2c\x63\x61\x6d\x65\x72\x61\x73\x2f\x63\x66\x30"
	"\x64\x31\x66\x38\x64\x2d\x62\x65\x65\x65\x2d\x34"
	"\x64\x37\x32\x2d\x62\x63\x35\x62\x2d\x62\x65\x65"
	"\x64\x62\x39\x61\x37\x65\x38\x62\x39\x01\xa9\x62"
	"\x75\x63\x6b\x65\x74\x5f\x75\x73\xce\x00\x0f\x42"
	"\x40\xa7\x62\x75\x63\x6b\x65\x74\x73\x92\xce\x69"
	"\x5b\x6f\x80\x02\xa6\x66\x72\x61\x6d\x65\x73\x9b"
	"\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00";

/* The test vector parses to the fields the spec names. */
static void
test_vector(void)
{
	struct evt_ru_run r;
	struct evt_sum s;
	const char *why;
	uint64_t at;
	size_t n = sizeof vector - 1;
	T_EQ(n, 611, "the vector is 611 bytes");
	T_EQ(evt_ru_parse(vector, n, 1, 1, &r, &why, &at), 0,
	    "the vector parses");
	T_OK(r.nsegs == 1 && r.events == 2 && r.records == 17 &&
	    r.blocks == 1 && r.first_rx == 1767600000000000LL &&
	    r.last_rx == r.first_rx && r.frames[EVT_K_MSG] == 1 &&
	    r.cfg_seq == 0, "its header");
	T_OK(!r.has_sessions && r.sessions == 0,
	    "flags 0: no sessions counted (a writer before them)");
	T_OK(r.segs[0].seq == 1 && r.segs[0].size == 1082 &&
	    r.segs[0].nrecords == 17 && r.segs[0].trl_crc == 0x361aaccd &&
	    r.segs[0].flags == EVT_RU_SUMMED, "its segment entry");
	T_EQ(evt_ru_sum(&r, &s, &why), 0, "its summary decodes");
	T_OK(s.events == 2 && s.messages == 1 && s.ntypes == 2 &&
	    s.nsources == 2 && s.nbuckets == 1 &&
	    s.buckets[0].k == 1767600000 && s.buckets[0].count == 2 &&
	    s.types[0].len == 36 && memcmp(s.types[0].s, "6eb95dd6", 8) == 0,
	    "its summary's counts and texts");
	evt_sum_free(&s);
	evt_ru_free(&r);
}

/* formats/rollup.md, "Test vector", version 2: the same run with 60 s
 * buckets; checks it, and when a report may use its buckets. */
static void
test_vector_coarse(void)
{
	uint8_t v[611];
	struct evt_ru_run r;
	struct evt_sum s;
	const char *why;
	uint64_t at;
	memcpy(v, vector, sizeof v);
	v[8] = 2;				/* version */
	v[20] = 60;				/* bucket_s */
	memcpy(v + 572, "\xce\x03\x93\x87\x00", 5); /* bucket_us 60e6 */
	memcpy(v + 586, "\xce\x01\xc1\x86\x20", 5); /* k 29,460,000 */
	memcpy(v + 248, "\xd9\x26\x6d\x28\x83\xca\xdb\xe3", 8); /* CRCs */
	T_EQ(evt_ru_parse(v, sizeof v, 1, 1, &r, &why, &at), 0,
	    "the coarse vector parses");
	T_EQ(r.bucket_us, 60000000, "its bucket width: 60 s");
	T_EQ(evt_ru_sum(&r, &s, &why), 0, "its summary decodes");
	T_OK(s.bucket_us == 60000000 && s.nbuckets == 1 &&
	    s.buckets[0].k == 29460000 && s.buckets[0].count == 2,
	    "one bucket of 60 s, the minute of first_rx, 2 events");
	struct evt_sel sel = {.from = INT64_MIN, .to = INT64_MAX};
	struct evt_stats *a = evt_stats_new(&sel, 0),
	    *m = evt_stats_new(&sel, 60000000), *d = evt_stats_new(&sel,
	    45000000);
	T_OK(a && m && d && !evt_stats_sum_exact(a, &s) &&
	    evt_stats_sum_exact(m, &s) && !evt_stats_sum_exact(d, &s),
	    "its buckets fit a report of 1 m, not the automatic 1 s nor 45 s");
	T_EQ(evt_stats_span(a, 1767600000000000LL, 1767600000000000LL +
	    86400LL * 1000000 * 20), 0, "a span of 20 days noted");
	T_OK(evt_stats_sum_exact(a, &s), "then the automatic width (10 m) "
	    "fits it");
	evt_stats_free(a);
	evt_stats_free(m);
	evt_stats_free(d);
	evt_sum_free(&s);
	evt_ru_free(&r);
	v[20] = 7;
	uint32_t c = evt_crc32c(0, v, 252);
	for (int i = 0; i < 4; i++)
		v[252 + i] = (uint8_t)(c >> (8 * i));
	T_OK(evt_ru_parse(v, sizeof v, 1, 1, &r, &why, &at) != 0 && at == 20,
	    "a bucket_s that does not divide a day is refused at offset 20");
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
	test_vector();
	test_vector_coarse();
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
