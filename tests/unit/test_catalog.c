/*
 * test_catalog.c: the archive catalog and the one directory listing
 * (src/catalog.c, formats/catalog.md).  formats/catalog.md's test vector
 * must parse to the documented fields and encode back to the same bytes;
 * every flipped byte and every truncation of it must be rejected.  The
 * listing must classify segments, runs, leftovers and strays and order
 * segments by number.  On a real archive written in a private mkdtemp()
 * directory: a writer's close leaves a current catalog that lists what
 * the directory holds, with the sealed segments' trailer facts; a reader
 * takes the same segments from it as from the listing; a file added or
 * removed by hand makes it stale (not used), a writer makes it current
 * again; a torn catalog is not used; the time table's test
 * (evt_cat_outside) is pinned.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/catalog.h"
#include "evtape/crc32c.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "t.h"

/* formats/catalog.md, "Test vector". */
static const uint8_t vec[224] = {
	0x89, 0x45, 0x56, 0x54, 0x43, 0x41, 0x54, 0x0a, 0x01, 0x00, 0x40, 0x00,
	0x48, 0x00, 0x10, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x6f, 0x5b, 0x69,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0xcd, 0x1d, 0x01, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x24, 0xe6, 0xe9, 0x8a,
	0x1e, 0x18, 0xab, 0x87, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x89, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x1c, 0xef, 0x64, 0xd3, 0xc6, 0x87, 0x18,
	0x00, 0x16, 0x80, 0x36, 0x9f, 0x47, 0x06, 0x00, 0xc0, 0x9d, 0x0b, 0x72,
	0x9f, 0x47, 0x06, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11,
	0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x8a, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, [208] = 0x01,
	[216] = 0x01,
};

/* formats/catalog.md, "Test vector" of revision 1.6: the same catalog
 * with hdr_size 72 and one roll-up run, sum-000000000001-000000000001.evs. */
static const uint8_t vec16[248] = {
	0x89, 0x45, 0x56, 0x54, 0x43, 0x41, 0x54, 0x0a, 0x01, 0x00, 0x48, 0x00,
	0x48, 0x00, 0x10, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x6f, 0x5b, 0x69,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x65, 0xcd, 0x1d, 0x01, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x4d, 0x8f, 0xa0, 0x51,
	0x9e, 0x68, 0x81, 0x46, 0x01, 0x00, 0x00, 0x00, 0x33, 0xea, 0x40, 0xf9,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x89, 0x13, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x1c, 0xef, 0x64, 0xd3, 0xc6, 0x87, 0x18, 0x00, 0x16, 0x80, 0x36,
	0x9f, 0x47, 0x06, 0x00, 0xc0, 0x9d, 0x0b, 0x72, 0x9f, 0x47, 0x06, 0x00,
	0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x44, 0x33, 0x22, 0x11, 0x01, 0x00, 0x00, 0x00,
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x8a, 0x13, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00
};

static char dir[64];

/* The vector parses to its documented fields and encodes back. */
static void
test_vector(void)
{
	struct evt_cat c;
	struct evt_cat_seg s[2];
	struct evt_cat_run r;
	const char *why = NULL;
	uint64_t at = 0;
	int rc = evt_cat_parse(vec, sizeof vec, &c, &why, &at);
	T_EQ(rc, 0, "the test vector parses (%s)", why ? why : "-");
	if (rc != 0)
		return;
	T_OK(c.dev == 0x803 && c.ino == 1234 && c.mtime_s == 1767600000 &&
	    c.mtime_ns == 500000000 && c.flags == EVT_CATF_LISTING,
	    "header fields as documented");
	T_OK(c.nseg == 2 && c.nrun == 1, "two segments, one run");
	evt_cat_seg_at(&c, 0, &s[0]);
	evt_cat_seg_at(&c, 1, &s[1]);
	evt_cat_run_at(&c, 0, &r);
	T_OK(s[0].seq == 1 && s[0].ino == 5001 && s[0].size == 4096 &&
	    s[0].mtime_ns == 1767599990000000000LL &&
	    s[0].first_rx == 1767599000000000LL &&
	    s[0].last_rx == 1767599999000000LL && s[0].nevents == 100 &&
	    s[0].nrecords == 40 && s[0].trl_crc == 0x11223344 &&
	    s[0].flags == EVT_CATS_SEALED, "segment 1: sealed, its facts");
	T_OK(s[1].seq == 2 && s[1].ino == 5002 && s[1].flags == 0,
	    "segment 2: unsealed");
	T_OK(r.lo == 1 && r.hi == 1, "the run 1..1");
	struct evt_cat_seg f;
	T_OK(evt_cat_find(&c, 2, &f) == 1 && f.ino == 5002 &&
	    evt_cat_find(&c, 3, &f) == 0 && evt_cat_find(&c, 0, &f) == 0,
	    "find by number");
	T_OK(!c.has_sums && c.nsum == 0, "revision 1.5's catalog does not "
	    "know the roll-up runs");
	uint8_t out[248];
	struct evt_cat_run u = {1, 1};
	T_EQ(evt_cat_size(2, 1, 1), 248, "encoded size with a roll-up run");
	evt_cat_encode(&c, s, 2, &r, 1, &u, 1, out);
	T_OK(memcmp(out, vec16, sizeof vec16) == 0, "encodes, with the "
	    "roll-up run, to revision 1.6's vector");
	evt_cat_free(&c);
	rc = evt_cat_parse(vec16, sizeof vec16, &c, &why, &at);
	T_EQ(rc, 0, "revision 1.6's vector parses (%s)", why ? why : "-");
	if (rc != 0)
		return;
	evt_cat_sum_at(&c, 0, &u);
	T_OK(c.has_sums && c.nsum == 1 && u.lo == 1 && u.hi == 1 &&
	    c.nseg == 2 && c.nrun == 1, "it lists the roll-up run 1..1");
	/* A reader of revision 1.5 checks the body up to the run entries,
	 * the header's extension included: the same CRC. */
	T_EQ(evt_crc32c(0, vec16 + 64, 72 + 2 * 72 + 16 - 64),
	    (uint32_t)(vec16[56] | vec16[57] << 8 | vec16[58] << 16 |
	    (uint32_t)vec16[59] << 24), "body_crc as revision 1.5 reads it");
	evt_cat_free(&c);
}

/* Every flipped byte and every truncation is rejected. */
static void
test_damage(void)
{
	uint8_t b[224];
	int flips = 0, cuts = 0;
	for (size_t i = 0; i < sizeof vec; i++) {
		struct evt_cat c;
		const char *why = NULL;
		uint64_t at = 0;
		memcpy(b, vec, sizeof b);
		b[i] ^= 0x10;
		if (evt_cat_parse(b, sizeof b, &c, &why, &at) != 0 &&
		    why != NULL && at <= sizeof b)
			flips++;
		if (evt_cat_parse(vec, i, &c, &why, &at) != 0)
			cuts++;
	}
	T_EQ(flips, (int)sizeof vec, "every flipped byte is rejected, with "
	    "a reason and an offset");
	T_EQ(cuts, (int)sizeof vec, "every truncation is rejected");
	flips = cuts = 0;
	for (size_t i = 0; i < sizeof vec16; i++) {
		struct evt_cat c;
		const char *why = NULL;
		uint64_t at = 0;
		uint8_t b16[sizeof vec16];
		memcpy(b16, vec16, sizeof b16);
		b16[i] ^= 0x10;
		if (evt_cat_parse(b16, sizeof b16, &c, &why, &at) != 0 &&
		    why != NULL && at <= sizeof b16)
			flips++;
		if (evt_cat_parse(vec16, i, &c, &why, &at) != 0)
			cuts++;
	}
	T_EQ(flips, (int)sizeof vec16, "revision 1.6: every flipped byte is "
	    "rejected, with a reason and an offset");
	T_EQ(cuts, (int)sizeof vec16, "revision 1.6: every truncation is "
	    "rejected");
	struct evt_cat c;
	const char *why;
	uint64_t at;
	uint8_t big[300];
	memcpy(big, vec, sizeof vec);
	memset(big + sizeof vec, 0xee, sizeof big - sizeof vec);
	T_EQ(evt_cat_parse(big, sizeof big, &c, &why, &at), 0,
	    "bytes after the entries are ignored");
}

/* The time table's test. */
static void
test_outside(void)
{
	struct evt_cat_seg e = {.flags = EVT_CATS_SEALED, .nrecords = 5,
	    .first_rx = 100, .last_rx = 200};
	T_OK(evt_cat_outside(&e, 201, INT64_MAX) &&
	    !evt_cat_outside(&e, 200, INT64_MAX) &&
	    evt_cat_outside(&e, INT64_MIN, 100) &&
	    !evt_cat_outside(&e, INT64_MIN, 101) &&
	    !evt_cat_outside(&e, 150, 160), "outside: last_rx < from or "
	    "first_rx >= to");
	e.nrecords = 0;
	T_OK(!evt_cat_outside(&e, 201, INT64_MAX), "a segment without "
	    "records is opened");
	e.nrecords = 5;
	e.flags = 0;
	T_OK(!evt_cat_outside(&e, 201, INT64_MAX) &&
	    !evt_cat_outside(NULL, 0, 1), "an unsealed or unknown segment is "
	    "opened");
}

/* Creates an empty file dir/name. */
static void
touch(const char *name)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
}

/* Removes dir/name. */
static void
rm(const char *name)
{
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	unlink(p);
}

/* The listing classifies and orders. */
static void
test_listing(void)
{
	touch("seg-000000000010.evt");
	touch("seg-000000000002.evt");
	touch("seg-000000000300.evt");
	touch("idx-000000000002-000000000010.evi");
	touch(".repair-000000000002.tmp");
	touch("notes.txt");
	touch("LOCK");
	touch(EVT_CAT_NAME);
	struct evt_listing l;
	int rc = evt_dir_list(dir, &l);
	T_EQ(rc, 0, "lists");
	T_OK(l.nseg == 3 && l.segs[0].seq == 2 && l.segs[1].seq == 10 &&
	    l.segs[2].seq == 300 && l.segs[0].ino != 0, "segments in "
	    "number order, with inodes");
	T_OK(l.nrun == 1 && l.ntemp == 1 && l.nstray == 1 &&
	    strcmp(l.strays[0], "notes.txt") == 0, "a run, a leftover, a "
	    "stray; LOCK and CATALOG are none of them");
	evt_listing_free(&l);
	T_EQ(evt_dir_list("/nonexistent-evtape-dir", &l), EVT_ERR_NOTFOUND,
	    "a missing directory");
	evt_listing_free(&l);
	rm("seg-000000000010.evt");
	rm("seg-000000000002.evt");
	rm("seg-000000000300.evt");
	rm("idx-000000000002-000000000010.evi");
	rm(".repair-000000000002.tmp");
	rm("notes.txt");
	rm(EVT_CAT_NAME);
}

/* Writes an archive of n segments of 3 frames each (all sealed by the
 * close), segment s received from second s of 1767600000. */
static void
write_archive(int n)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		abort();
	for (int s = 0; s < n; s++) {
		for (int k = 0; k < 3; k++) {
			char msg[160];
			int len = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
			    "\"%08x-1111-4222-8333-000000000000\",\"type\":"
			    "\"t\"}]}", s * 3 + k);
			if (evt_archive_frame(a, 1767600000000000LL +
			    (int64_t)s * 1000000 + k * 1000, msg,
			    (size_t)len) < 0)
				abort();
		}
		if (s + 1 < n && evt_archive_rotate(a) != 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* The segments a reader opens, as "seq:size " text. */
static void
reader_view(char *out, size_t cap)
{
	struct evt_archive *a;
	size_t n, at = 0;
	out[0] = 0;
	if (evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a) != 0)
		return;
	const struct evt_segref *s = evt_archive_segments(a, &n);
	for (size_t i = 0; i < n && at + 40 < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%llu:%s ",
		    (unsigned long long)s[i].seq, strrchr(s[i].path, '/'));
	evt_archive_close(a);
}

/* A writer's catalog on a real archive. */
static void
test_archive(void)
{
	write_archive(6);
	struct evt_cat c;
	int rc = evt_cat_load(dir, &c);
	T_EQ(rc, 1, "a writer's close leaves a current catalog");
	if (rc != 1)
		return;
	T_EQ(c.nseg, 6, "it lists the six segments");
	int facts = 1;
	for (uint32_t i = 0; i < c.nseg; i++) {
		struct evt_cat_seg e;
		evt_cat_seg_at(&c, i, &e);
		facts &= e.seq == i + 1 && (e.flags & EVT_CATS_SEALED) &&
		    e.nevents == 3 && e.first_rx == 1767600000000000LL +
		    (int64_t)i * 1000000 && e.last_rx == e.first_rx + 2000;
	}
	T_OK(facts, "each sealed, with its trailer's counts and times");
	T_OK(c.nrun > 0, "and the id index's runs");
	evt_cat_free(&c);

	char v1[4096], v2[4096];
	reader_view(v1, sizeof v1);
	setenv("EVTAPE_NO_CATALOG", "1", 1);
	T_EQ(evt_cat_load(dir, &c), 0, "EVTAPE_NO_CATALOG: not used");
	reader_view(v2, sizeof v2);
	unsetenv("EVTAPE_NO_CATALOG");
	T_OK(v1[0] != 0 && strcmp(v1, v2) == 0, "a reader takes the same "
	    "segments from it as from the listing");

	touch("seg-000000000007.evt");
	T_EQ(evt_cat_load(dir, &c), 0, "a segment added by hand: stale");
	reader_view(v1, sizeof v1);
	T_OK(strstr(v1, "seg-000000000007.evt") != NULL, "the reader lists "
	    "and sees it");
	rm("seg-000000000007.evt");
	T_EQ(evt_cat_load(dir, &c), 0, "removed again: still stale (the "
	    "directory's time moved on)");
	T_EQ(evt_cat_update(dir), 0, "a writer rewrites it");
	T_EQ(evt_cat_load(dir, &c), 1, "current again");
	evt_cat_free(&c);

	touch("stray.txt");
	T_EQ(evt_cat_update(dir), 0, "rewritten beside a stray");
	T_EQ(evt_cat_load(dir, &c), 0, "not current: a reader must list (and "
	    "warn about the stray)");
	rm("stray.txt");
	T_EQ(evt_cat_update(dir), 0, "and without it");

	/* Torn: the second half of the file from an older content. */
	char p[128];
	snprintf(p, sizeof p, "%s/%s", dir, EVT_CAT_NAME);
	int fd = open(p, O_RDWR);
	struct stat st;
	uint8_t b = 0;
	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    pread(fd, &b, 1, st.st_size - 20) == 1) {
		b ^= 1;
		T_OK(pwrite(fd, &b, 1, st.st_size - 20) == 1, "tear it");
	}
	if (fd >= 0)
		close(fd);
	T_EQ(evt_cat_load(dir, &c), 0, "a torn catalog is not used");
	T_EQ(evt_cat_update(dir), 0, "a writer rewrites a torn one");
	T_EQ(evt_cat_load(dir, &c), 1, "current again");
	evt_cat_free(&c);
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/evt-cat-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	test_vector();
	test_damage();
	test_outside();
	test_listing();
	test_archive();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	T_DONE();
}
