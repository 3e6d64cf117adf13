/*
 * test_follow.c: the follower (follow.h) against a writer driven step by
 * step in a private mkdtemp() directory: a half-written block is waited
 * for, not reported; sealing in place, then a compaction renamed over the
 * segment it holds (it reads on in its old file); the next segments,
 * those deleted before it opened them reported by name; a torn tail that
 * a good block follows is reported as damage.  Every event is read once.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/follow.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "t.h"

#define MAXEV 4000

static char tmpdir[64];
static int seen[MAXEV];	/* times each event id was read */
static int reports;	/* problems reported */
static char last_report[512];

/* Counts a reported problem. */
static void
report_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(void)arg;
	reports++;
	snprintf(last_report, sizeof last_report, "%s: %s", path, what);
}

/* The path of segment seq. */
static void
seg_path(uint64_t seq, char *out, size_t cap)
{
	char name[24];
	evt_segment_name(seq, name, sizeof name);
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Appends events lo..hi-1, one per message. */
static int
put_events(struct evt_segw *w, int lo, int hi)
{
	int bad = 0;
	for (int i = lo; i < hi; i++) {
		char m[160];
		int n = snprintf(m, sizeof m, "{\"events\":[{\"id\":"
		    "\"00000000-0000-4000-8000-%012d\",\"type\":\"t\"}]}", i);
		bad += evt_segw_frame(w, INT64_C(1767600000000000) + i, m,
		    (size_t)n) != EVT_K_MSG;
	}
	return bad + (evt_segw_flush(w) != 0);
}

/* Creates segment seq. */
static struct evt_segw *
new_seg(uint64_t seq)
{
	struct evt_segw_opts o = {.block_bytes = 400, .level = 1};
	uint8_t uuid[16] = {7};
	char path[128];
	struct evt_segw *w;
	seg_path(seq, path, sizeof path);
	return evt_segw_create(path, seq, uuid, INT64_C(1767600000000000),
	    &o, &w) == 0 ? w : NULL;
}

/* Reads everything the follower has now; returns the events read. */
static int
drain(struct evt_follow *f)
{
	struct evt_segr *r;
	const char *path;
	int fresh, n = 0;
	while (evt_follow_reader(f, &r, &path, &fresh) == 1) {
		struct evt_rec rec;
		while (evt_segr_next(r, &rec, NULL) == 1) {
			char v[64];
			if (rec.kind != EVT_K_EVENT || evt_rdec_field(
			    evt_segr_decoder(r), &rec, "id", v, sizeof v) != 36)
				continue;
			int i = atoi(v + 24);
			if (i >= 0 && i < MAXEV)
				seen[i]++;
			n++;
		}
	}
	return n;
}

/* Whether events lo..hi-1 were each read once. */
static int
once(int lo, int hi)
{
	for (int i = lo; i < hi; i++)
		if (seen[i] != 1)
			return 0;
	return 1;
}

/* The size of path. */
static off_t
size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

int
main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-test-follow-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	struct evt_follow *f;
	T_EQ(evt_follow_open(tmpdir, INT64_MIN, report_cb, NULL, &f),
	    EVT_ERR_CORRUPT, "an empty directory is not an archive");
	char p1[128], p2[128], tmp[160];
	seg_path(1, p1, sizeof p1);
	seg_path(2, p2, sizeof p2);
	struct evt_segw *w = new_seg(1);
	T_OK(w != NULL && put_events(w, 0, 100) == 0, "segment 1: 100 events");
	T_EQ(evt_follow_open(tmpdir, INT64_MIN, report_cb, NULL, &f), 0,
	    "follower opened");
	T_EQ(drain(f), 100, "the first 100 events");

	/* A block half written: waited for, then read. */
	off_t s1 = size_of(p1);
	T_OK(put_events(w, 100, 110) == 0, "10 more events, one block");
	off_t s2 = size_of(p1);
	size_t len = (size_t)(s2 - s1);
	char *blk = malloc(len);
	int fd = open(p1, O_RDWR);
	T_OK(fd >= 0 && blk != NULL && pread(fd, blk, len, s1) ==
	    (ssize_t)len && ftruncate(fd, s1 + (off_t)len / 2) == 0,
	    "the block cut in half");
	T_EQ(drain(f), 0, "half a block: nothing read");
	T_EQ(reports, 0, "... and nothing reported");
	T_OK(pwrite(fd, blk + len / 2, len - len / 2, s1 + (off_t)len / 2) ==
	    (ssize_t)(len - len / 2), "the rest of the block written");
	T_EQ(drain(f), 10, "the whole block read");
	T_EQ(reports, 0, "nothing reported");
	close(fd);

	/* Sealed in place, then the next segment, which the follower holds
	 * while it is sealed and compacted under it. */
	T_EQ(evt_segw_seal(w), 0, "segment 1 sealed");
	w = new_seg(2);
	T_OK(w != NULL && put_events(w, 110, 300) == 0, "segment 2: 190 events");
	T_EQ(drain(f), 190, "the follower went on to segment 2");
	T_OK(put_events(w, 300, 400) == 0, "100 more");
	T_EQ(evt_segw_seal(w), 0, "segment 2 sealed");
	snprintf(tmp, sizeof tmp, "%s/.compact-000000000002.tmp", tmpdir);
	struct evt_segw_opts co = {.level = 1};
	struct evt_rewrite_stats st;
	T_OK(evt_seg_rewrite(p2, tmp, &co, NULL, NULL, NULL, &st) == 0 &&
	    rename(tmp, p2) == 0, "segment 2 compacted (renamed over)");
	T_EQ(drain(f), 100, "the rest of segment 2, from the old file");

	/* Segments 3 and 4 deleted before the follower opened them. */
	for (int s = 3; s <= 5; s++) {
		w = new_seg((uint64_t)s);
		T_OK(w != NULL && put_events(w, s * 100 + 100, s * 100 + 200)
		    == 0 && (s == 5 || evt_segw_seal(w) == 0),
		    "segment %d", s);
	}
	char p3[128], p4[128];
	seg_path(3, p3, sizeof p3);
	seg_path(4, p4, sizeof p4);
	T_OK(unlink(p3) == 0 && unlink(p4) == 0, "3 and 4 deleted");
	T_EQ(drain(f), 100, "segment 5 read");
	T_EQ(reports, 1, "one report");
	T_OK(strstr(last_report, "seg-000000000003.evt: deleted with the "
	    "segments after it up to seg-000000000004.evt") != NULL,
	    "it names them: %s", last_report);

	/* A torn tail that a good block then follows: damage. */
	char p5[128];
	seg_path(5, p5, sizeof p5);
	s1 = size_of(p5);
	T_OK(put_events(w, 700, 710) == 0, "10 more events in segment 5");
	s2 = size_of(p5);
	len = (size_t)(s2 - s1);
	char *b2 = realloc(blk, len);
	blk = b2;
	fd = open(p5, O_RDWR);
	T_OK(fd >= 0 && blk != NULL && pread(fd, blk, len, s1) ==
	    (ssize_t)len && ftruncate(fd, s1) == 0 && pwrite(fd, "garbage",
	    7, s1) == 7, "the block replaced by 7 bytes of garbage");
	T_EQ(drain(f), 0, "garbage at the end: waited for");
	T_EQ(reports, 1, "... not reported");
	T_OK(pwrite(fd, blk, len, s1 + 7) == (ssize_t)len,
	    "the block written after the garbage");
	T_EQ(drain(f), 10, "the block after it read");
	T_EQ(reports, 2, "the garbage reported as damage");
	close(fd);
	evt_segw_close(w);
	T_OK(once(0, 400) && once(600, 710) && seen[400] == 0 &&
	    seen[599] == 0, "every event read once, but those deleted");
	uint64_t ev, unk;
	evt_follow_lost(f, &ev, &unk);
	T_EQ(unk, 2, "two places of unknown loss (the deleted segments, the "
	    "garbage)");
	evt_follow_close(f);
	free(blk);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	T_DONE();
}
