/*
 * test_idindex.c: the archive's id index (src/idindex.c).  An archive of
 * 40 sealed segments (one message of three GUID-id events per segment
 * block, some ids repeated in later segments) is written in a private
 * mkdtemp() directory; its runs must cover every segment in a few files
 * after the merges, every id must be found in the newest segment that
 * holds it (as evt_archive_find without the index finds it), absent ids
 * not at all; a run with a flipped byte must be rejected by its parser
 * (header, directory) or its partition checksum, and a run whose segment
 * was replaced (identity mismatch) must not be used for it, lookups
 * still right; a segment between two a run holds that it does not hold
 * is looked up on its own; catch-up rebuilds what was deleted; the name
 * and the partition function are pinned.  A run of three partitions is
 * the same file whether its build collects one partition at a time or
 * all at once (evt_idx_set_batch_keys).
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
#include "evtape/idindex.h"
#include "t.h"

#define NSEG 40
#define PER 30	/* messages per segment */

static char dir[64];

/* The id of message m (repeated ids: m >= 1000 repeats m - 1000). */
static void
id_of(int m, char out[40])
{
	snprintf(out, 40, "%08x-1111-4222-8333-%012x", m % 1000, m % 1000);
}

/* Writes the archive: segment s holds messages s*PER .. s*PER+PER-1; the
 * last five segments repeat ids of segments 2 and 3. */
static void
write_archive(void)
{
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		abort();
	for (int s = 0; s < NSEG; s++) {
		for (int k = 0; k < PER; k++) {
			int m = s * PER + k;
			if (s >= NSEG - 5)
				m = 1000 + 2 * PER + (s - (NSEG - 5)) * 12 + k;
			char id[40], msg[200];
			id_of(m, id);
			int n = snprintf(msg, sizeof msg, "{\"events\":[{\"id\":"
			    "\"%s\",\"type\":\"t%d\"}]}", id, s);
			if (evt_archive_frame(a, 1767600000000000LL +
			    (int64_t)s * 1000000 + k, msg, (size_t)n) < 0)
				abort();
		}
		if (evt_archive_rotate(a) != 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* Looks id up: the segment's sequence number it is found in, 0 if not
 * found; the record's type text into type. */
static uint64_t
lookup(const char *id, int flags, char *type, size_t cap)
{
	struct evt_archive *a;
	struct evt_segr *r;
	struct evt_rec rec;
	size_t seg, n;
	uint64_t boff, seq = 0;
	if (evt_archive_open(dir, flags, NULL, NULL, NULL, NULL, &a) != 0)
		abort();
	int rc = evt_archive_find(a, id, strlen(id), &r, &seg, &rec, &boff);
	if (rc == 1) {
		seq = evt_archive_segments(a, &n)[seg].seq;
		if (type != NULL && evt_rdec_field(evt_segr_decoder(r), &rec,
		    "type", type, cap) < 0)
			type[0] = 0;
		evt_archive_close_segment(a, r);
	} else if (rc < 0) {
		abort();
	}
	evt_archive_close(a);
	return seq;
}

/* Every id through the index equals the per-segment answer; returns the
 * number of differences. */
static int
all_agree(void)
{
	int bad = 0;
	for (int m = 0; m < NSEG * PER + 10; m++) {
		char id[40], t1[32] = "", t2[32] = "";
		id_of(m, id);
		uint64_t a = lookup(id, EVT_AR_NO_SIZES, t1, sizeof t1);
		uint64_t b = lookup(id, EVT_AR_NO_INDEX, t2, sizeof t2);
		if (a != b || strcmp(t1, t2) != 0) {
			if (bad++ < 5)
				printf("#   %s: index %llu %s, segments %llu %s\n",
				    id, (unsigned long long)a, t1,
				    (unsigned long long)b, t2);
		}
	}
	return bad;
}

/* The run files of dir, their count; the largest one's name into big. */
static int
runs(char *big, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	off_t most = -1;
	uint64_t lo, hi;
	while ((e = readdir(d)) != NULL) {
		if (!evt_idx_parse_name(e->d_name, &lo, &hi))
			continue;
		char p[512];
		struct stat st;
		snprintf(p, sizeof p, "%s/%.300s", dir, e->d_name);
		if (stat(p, &st) == 0 && st.st_size > most && big != NULL) {
			most = st.st_size;
			snprintf(big, cap, "%s", p);
		}
		n++;
	}
	closedir(d);
	return n;
}

/* Reads a whole file. */
static uint8_t *
slurp(const char *p, size_t *n)
{
	int fd = open(p, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		abort();
	uint8_t *b = malloc((size_t)st.st_size + 1);
	if (b == NULL || read(fd, b, (size_t)st.st_size) != st.st_size)
		abort();
	close(fd);
	*n = (size_t)st.st_size;
	return b;
}

/* Writes a whole file. */
static void
spill(const char *p, const uint8_t *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, b, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* Counts reports of evt_idx_verify. */
static int reports;
static void
report_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	reports++;
	printf("#   %s: offset %llu: %s\n", path, (unsigned long long)off, what);
}

/* The parser rejects a run with a byte flipped in its header or
 * directory; a flip in the slots fails the partition's CRC. */
static void
test_damage(const char *big)
{
	size_t n;
	uint8_t *orig = slurp(big, &n);
	struct evt_idx_run run = {0};
	const char *why = NULL;
	uint64_t at = 0;
	if (!evt_idx_parse_name(strrchr(big, '/') + 1, &run.lo, &run.hi))
		abort();
	T_EQ(evt_idx_run_parse(orig, n, n, &run, &why, &at), 0,
	    "the largest run parses");
	uint64_t dl = evt_idx_run_dir_len(orig);
	T_OK(dl > EVT_IDX_HDR_SIZE && dl < n, "its directory is %llu bytes",
	    (unsigned long long)dl);
	int rejected = 0, tries = 0;
	for (uint64_t off = 0; off < dl; off += 1 + off / 8, tries++) {
		uint8_t *b = malloc(n);
		memcpy(b, orig, n);
		b[off] ^= 0x10;
		struct evt_idx_run r2 = {.lo = run.lo, .hi = run.hi};
		if (evt_idx_run_parse(b, n, n, &r2, &why, &at) != 0)
			rejected++;
		else
			evt_idx_run_free(&r2);
		free(b);
	}
	T_EQ(rejected, tries, "a flipped bit in header or directory is "
	    "rejected (%d places)", tries);
	struct evt_idx_run r3 = {.lo = run.lo, .hi = run.hi};
	T_OK(evt_idx_run_parse(orig, n - 1, n - 1, &r3, &why, &at) != 0,
	    "a run one byte short is rejected (%s)", why);
	/* Damage in the slots: lookups stay right, verify reports it. */
	uint8_t *b = malloc(n);
	memcpy(b, orig, n);
	for (uint64_t off = dl; off < n; off += 7)
		b[off] ^= 0x5a;
	spill(big, b, n);
	T_EQ(all_agree(), 0, "slots damaged: every lookup as by the segments");
	reports = 0;
	T_OK(evt_idx_verify(dir, report_cb, NULL) > 0 && reports > 0,
	    "slots damaged: verify reports the partitions");
	spill(big, orig, n);
	reports = 0;
	T_EQ(evt_idx_verify(dir, report_cb, NULL), 0, "restored: verify clean");
	evt_idx_run_free(&run);
	free(orig);
	free(b);
}

/* A covered segment replaced by another file (an identity mismatch):
 * lookups stay right, verify says the run is stale, catch-up rebuilds
 * it. */
static void
test_identity(void)
{
	char p1[256], p2[256];
	snprintf(p1, sizeof p1, "%s/seg-000000000010.evt", dir);
	snprintf(p2, sizeof p2, "%s/seg-000000000011.evt", dir);
	size_t n1, n2;
	uint8_t *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2);
	/* seg 10 gets seg 11's bytes: its ids are gone from it, 11's are
	 * there twice. */
	int fd = open(p1, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, b2, n2) != (ssize_t)n2)
		abort();
	close(fd);
	T_EQ(all_agree(), 0, "segment replaced: every lookup as by the "
	    "segments");
	char id[40];
	id_of(9 * PER + 3, id);	/* was in seg 10 only */
	T_EQ(lookup(id, EVT_AR_NO_SIZES, NULL, 0), 0,
	    "an id of the replaced segment is not found");
	reports = 0;
	T_OK(evt_idx_verify(dir, report_cb, NULL) > 0, "verify: stale run");
	T_EQ(evt_idx_catch_up(dir, 0, 1, 0, NULL, NULL), 0, "catch-up (full)");
	reports = 0;
	T_EQ(evt_idx_verify(dir, report_cb, NULL), 0, "then verify clean");
	T_EQ(all_agree(), 0, "then every lookup as by the segments");
	fd = open(p1, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, b1, n1) != (ssize_t)n1)
		abort();
	close(fd);
	T_EQ(evt_idx_catch_up(dir, 0, 1, 0, NULL, NULL), 0, "restored");
	free(b1);
	free(b2);
}

/* A segment no run holds between segments one run holds (it was moved
 * aside while the index was rebuilt, then back): the run is used for
 * the others, the segment is looked up on its own. */
static void
test_sparse(void)
{
	char p[256], q[256], big[512];
	snprintf(p, sizeof p, "%s/seg-000000000015.evt", dir);
	snprintf(q, sizeof q, "%s/aside.evt", dir);
	while (runs(big, sizeof big) > 0)
		unlink(big);
	if (rename(p, q) != 0)
		abort();
	T_EQ(evt_idx_catch_up(dir, 0, 1, 0, NULL, NULL), 0,
	    "catch-up without segment 15");
	if (rename(q, p) != 0)
		abort();
	T_EQ(all_agree(), 0, "segment 15 back, held by no run: every lookup "
	    "as by the segments");
	char id[40];
	id_of(14 * PER + 7, id);	/* in segment 15 only */
	T_EQ(lookup(id, EVT_AR_NO_SIZES, NULL, 0), 15,
	    "an id of segment 15 is found there");
	while (runs(big, sizeof big) > 0)
		unlink(big);
	T_EQ(evt_idx_catch_up(dir, 0, 1, 0, NULL, NULL), 0, "restored");
}

/* The one run file of dir, read whole (NULL: not exactly one). */
static uint8_t *
only_run(size_t *n)
{
	char big[512];
	return runs(big, sizeof big) == 1 ? slurp(big, n) : NULL;
}

/* A segment of BATCH_KEYS ids (three partitions) indexed with a batch of
 * one partition (three passes over its GUID columns), then of the
 * default (one pass): the same run, byte for byte. */
#define BATCH_KEYS 150000
static void
test_batch(void)
{
	struct evt_archive *a;
	char *msg = malloc(64 * 60 + 32), name[96];
	snprintf(dir, sizeof dir, "/tmp/evt-idxb-XXXXXX");
	if (msg == NULL || mkdtemp(dir) == NULL || evt_archive_open(dir,
	    EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL, NULL, NULL, &a) != 0)
		abort();
	for (int m = 0; m < BATCH_KEYS; m += 60) {
		size_t n = (size_t)sprintf(msg, "{\"events\":[");
		for (int k = m; k < m + 60; k++)
			n += (size_t)sprintf(msg + n, "%s{\"id\":\"%08x-1111-"
			    "4222-8333-%012x\"}", k > m ? "," : "",
			    (unsigned)k * 2654435761u, (unsigned)k);
		n += (size_t)sprintf(msg + n, "]}");
		if (evt_archive_frame(a, 1767600000000000LL + m, msg, n) < 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
	free(msg);
	uint8_t *one = NULL, *all = NULL;
	size_t n1 = 0, n2 = 0;
	for (int pass = 0; pass < 2; pass++) {
		char big[512];
		while (runs(big, sizeof big) > 0)
			unlink(big);
		evt_idx_set_batch_keys(pass == 0 ? EVT_IDX_PART_KEYS : 0);
		if (evt_idx_catch_up(dir, 0, 1, 0, NULL, NULL) != 0)
			abort();
		if (pass == 0)
			one = only_run(&n1);
		else
			all = only_run(&n2);
	}
	T_OK(one != NULL && all != NULL && n1 == n2 && memcmp(one, all, n1) ==
	    0, "a run of %d keys: the same file built one partition at a "
	    "time (%zu bytes) and at once (%zu)", BATCH_KEYS, n1, n2);
	free(one);
	free(all);
	snprintf(name, sizeof name, "rm -rf %s", dir);
	if (system(name) != 0)
		abort();
}

int
main(void)
{
	char name[64];
	uint64_t lo, hi;
	evt_idx_name(12, 345, name, sizeof name);
	T_OK(strcmp(name, "idx-000000000012-000000000345.evi") == 0 &&
	    evt_idx_parse_name(name, &lo, &hi) && lo == 12 && hi == 345,
	    "run file names");
	T_OK(!evt_idx_parse_name("idx-000000000012-000000000011.evi", &lo,
	    &hi) && !evt_idx_parse_name("idx-000000000000-000000000001.evi",
	    &lo, &hi) && !evt_idx_parse_name("idx-12-345.evi", &lo, &hi),
	    "names with lo > hi, 0 or short numbers are not runs");
	/* Pinned: formats/idindex.md's test vector. */
	T_EQ(evt_idx_part_of(UINT64_C(0xfdbe6cb923d15934), 7), 1,
	    "partition of key 0xfdbe6cb923d15934 among 7");
	T_EQ(evt_idx_part_of(UINT64_C(0xb996b0490619e92a), 7), 1,
	    "partition of key 0xb996b0490619e92a among 7");

	snprintf(dir, sizeof dir, "/tmp/evt-idx-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	write_archive();
	char big[512];
	int nr = runs(big, sizeof big);
	T_OK(nr >= 1 && nr <= 12, "%d runs cover %d segments", nr, NSEG);
	T_EQ(all_agree(), 0, "every id (repeated ones in their newest "
	    "segment, absent ones nowhere) as by the segments");
	char id[40], type[32];
	id_of(109, id);	/* in segments 4, 39 and 40 */
	T_EQ(lookup(id, EVT_AR_NO_SIZES, type, sizeof type), NSEG,
	    "a repeated id is found in the newest segment holding it");
	T_OK(strcmp(type, "t39") == 0, "... its record there (%s)", type);
	reports = 0;
	T_EQ(evt_idx_verify(dir, report_cb, NULL), 0, "verify: clean");
	test_damage(big);
	test_identity();
	test_sparse();
	/* Deleted runs: lookups fall back, catch-up rebuilds. */
	while (runs(big, sizeof big) > 0)
		unlink(big);
	T_EQ(all_agree(), 0, "no index: every lookup as by the segments");
	T_EQ(evt_idx_catch_up(dir, 0, 0, 0, NULL, NULL), 0, "catch-up");
	T_EQ(runs(NULL, 0), nr, "rebuilt as many runs (%d)", nr);
	T_EQ(all_agree(), 0, "rebuilt: every lookup as by the segments");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	test_batch();
	T_DONE();
}
