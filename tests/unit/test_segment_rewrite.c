/*
 * test_segment_rewrite.c: evt_seg_rewrite (segment_rewrite.c), which
 * repair and compaction use.  Segments are written with the real writer
 * into a private mkdtemp() directory and rewritten: a sealed segment of
 * small blocks becomes one of large blocks holding the same frames (the
 * frame reader compares them one by one) with its sequence number, uuid
 * and creation time; an unsealed one becomes sealed; a damaged block, a
 * torn tail and a damaged header cost only what they touch; bad paths
 * fail cleanly.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "t.h"
#include "tframes.h"

static char tmpdir[] = "/tmp/evtape-rewrite.XXXXXX";

#define NW 120

/* Reads path's frames and counts how many equal w[skip..n) in order,
 * passing over the written frames that the damage took; *nread gets the
 * frames read, *problems what the reader reported.  Returns the count. */
static size_t
matching(const char *path, const struct wframe *w, size_t n, size_t *nread,
    int *problems)
{
	struct evt_segr *r;
	struct evt_frames fr;
	struct evt_frame *f;
	size_t good = 0, j = 0;

	*nread = 0;
	*problems = 0;
	if (evt_segr_open(path, count_cb, problems, &r) != 0)
		return 0;
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, NULL, NULL, count_cb, problems, path);
	while (evt_frames_next(&fr, &f) == 1) {
		(*nread)++;
		while (j < n && w[j].rx != f->rx_us)
			j++;
		if (j < n && same_frame(f, &w[j++]))
			good++;
	}
	evt_frames_free(&fr);
	evt_segr_close(r);
	return good;
}

/* Facts of a segment: sealed, blocks, header fields. */
struct facts {
	int sealed;
	uint32_t nblocks;
	uint64_t seq, nevents;
	uint8_t uuid[16];
	int64_t created;
};

/* Reads the facts of path; returns 0 or an evt_err. */
static int
facts(const char *path, struct facts *x)
{
	struct evt_segr *r;
	const struct evt_seg_info *si;
	int rc = evt_segr_open(path, NULL, NULL, &r);

	memset(x, 0, sizeof *x);
	if (rc != 0)
		return rc;
	si = evt_segr_info(r);
	x->sealed = si->sealed;
	x->nblocks = si->nblocks;
	x->seq = si->seq;
	x->nevents = si->nevents;
	memcpy(x->uuid, si->uuid, 16);
	x->created = si->created_us;
	evt_segr_close(r);
	return 0;
}

/* Events of the MSG frames in w[0..n). */
static uint64_t
msg_events(const struct wframe *w, size_t n)
{
	uint64_t e = 0;
	for (size_t i = 0; i < n; i++)
		e += w[i].kind == EVT_K_MSG ? w[i].nitems : 0;
	return e;
}

/* Compaction: small blocks in, large blocks out, every frame kept. */
static void
test_compact(const struct wframe *w)
{
	char src[128], dst[128];
	struct evt_rewrite_stats st;
	struct facts a, b;
	size_t nread;
	int problems;
	static const uint8_t other[16] = { 9, 9, 9 };

	snprintf(src, sizeof src, "%s/seg-000000000001.evt", tmpdir);
	snprintf(dst, sizeof dst, "%s/compact", tmpdir);
	T_EQ(write_seg(src, w, NW, 300, 1), 0,
	    "compact: source written in small blocks");
	T_EQ(evt_seg_rewrite(src, dst, NULL, NULL, NULL, NULL, &st), 0,
	    "compact: rewritten");
	T_EQ(facts(src, &a), 0, "compact: source facts");
	T_EQ(facts(dst, &b), 0, "compact: result facts");
	T_OK(b.sealed && b.nblocks < a.nblocks && b.nblocks >= 1,
	    "compact: sealed, %u blocks from %u", b.nblocks, a.nblocks);
	T_OK(b.seq == a.seq && b.created == a.created &&
	    memcmp(b.uuid, uuid, 16) == 0,
	    "compact: sequence number, creation time and uuid kept");
	T_EQ(matching(dst, w, NW, &nread, &problems), NW,
	    "compact: every frame as written");
	T_EQ(nread, NW, "compact: and no other");
	T_EQ(problems, 0, "compact: nothing reported");
	T_OK(st.frames == NW && st.events == msg_events(w, NW) &&
	    st.dropped == 0 && st.problems == 0,
	    "compact: stats (%llu frames, %llu events)",
	    (unsigned long long)st.frames, (unsigned long long)st.events);
	T_EQ(b.nevents, st.events, "compact: the trailer's event count");

	T_OK(evt_seg_rewrite(src, dst, NULL, NULL, NULL, NULL, &st) < 0,
	    "compact: an existing destination is refused");
	unlink(dst);
	T_EQ(evt_seg_rewrite(src, dst, NULL, other, NULL, NULL, &st), 0,
	    "compact: with another uuid");
	T_OK(facts(dst, &b) == 0 && memcmp(b.uuid, other, 16) == 0,
	    "compact: the new uuid is written");
	char missing[160];
	snprintf(missing, sizeof missing, "%s/nope.evt", tmpdir);
	unlink(dst);
	T_OK(evt_seg_rewrite(missing, dst, NULL, NULL, NULL, NULL, &st) < 0 &&
	    access(dst, F_OK) != 0, "a missing source fails, nothing made");
	unlink(dst);
}

/* Repair: an unsealed segment with a torn tail and a damaged block
 * becomes a sealed one with the frames that read. */
static void
test_repair(const struct wframe *w)
{
	char src[128], dst[128];
	struct evt_rewrite_stats st;
	struct facts b;
	uint32_t nb = 0;
	size_t nread, good;
	int problems;
	off_t size = 0;

	snprintf(src, sizeof src, "%s/torn.evt", tmpdir);
	snprintf(dst, sizeof dst, "%s/repaired", tmpdir);
	/* Damage a block through the sealed segment's directory, then cut
	 * index, trailer and a few bytes of the last block: an unsealed
	 * segment with a torn tail, as a crash leaves it. */
	T_EQ(write_seg(src, w, NW, 300, 1), 0,
	    "repair: written");
	T_EQ(damage_block(src, 3, &nb), 0, "repair: block 3 damaged");
	struct evt_segr *r;
	if (evt_segr_open(src, NULL, NULL, &r) == 0) {
		size = (off_t)evt_segr_info(r)->data_end - 5;
		evt_segr_close(r);
	}
	T_OK(size > 0 && truncate(src, size) == 0,
	    "repair: index and trailer cut, last block torn");
	size_t src_read, src_good = matching(src, w, NW, &src_read, &problems);
	T_EQ(evt_seg_rewrite(src, dst, NULL, NULL, count_cb, &problems, &st),
	    0, "repair: rewritten");
	T_OK(facts(dst, &b) == 0 && b.sealed && b.seq == 1,
	    "repair: sealed, sequence number kept");
	good = matching(dst, w, NW, &nread, &problems);
	T_OK(good == nread && nread == src_read && src_good == src_read &&
	    nread < NW, "repair: the %zu frames that read in the source "
	    "(of %d), each as written", nread, NW);
	T_OK(st.problems > 0, "repair: the damage was reported (%llu)",
	    (unsigned long long)st.problems);
	T_EQ(st.frames, nread, "repair: stats count what was written");
	unlink(dst);
}

/* A damaged header: the sequence number comes from the file name and the
 * creation time from the first frame. */
static void
test_header(const struct wframe *w)
{
	char src[128], dst[128];
	struct evt_rewrite_stats st;
	struct facts b;
	size_t nread;
	int problems = 0, fd;
	uint8_t x = 0;

	snprintf(src, sizeof src, "%s/seg-000000000007.evt", tmpdir);
	snprintf(dst, sizeof dst, "%s/header", tmpdir);
	T_EQ(write_seg(src, w, NW, 300, 1), 0,
	    "header: written");
	/* Byte 20 lies inside the header, under its checksum. */
	if ((fd = open(src, O_RDWR)) >= 0) {
		if (pread(fd, &x, 1, 20) == 1) {
			x ^= 0x01;
			(void)pwrite(fd, &x, 1, 20);
		}
		close(fd);
	}
	T_EQ(evt_seg_rewrite(src, dst, NULL, NULL, count_cb, &problems, &st),
	    0, "header: rewritten");
	T_OK(problems > 0, "header: the damage was reported");
	T_OK(facts(dst, &b) == 0 && b.sealed && b.seq == 7,
	    "header: sequence number %llu from the file name",
	    (unsigned long long)b.seq);
	T_EQ(b.created, w[0].rx, "header: created at the first frame");
	T_EQ(matching(dst, w, NW, &nread, &problems), NW,
	    "header: every frame as written");
	unlink(dst);
}

/*
 * The compaction decision (evt_segw_small_blocks) for frames w[0..NW) in
 * blocks of block bytes, closed after frame k as well; with crash, the
 * writer is closed there (a kill -9 after the block reached the file) and
 * the segment resumed for the rest.  -1 if writing failed.
 */
static int
small_blocks(const struct wframe *w, size_t k, size_t block, int crash)
{
	char path[128];
	struct evt_segw_opts o = { .block_bytes = block };
	struct evt_seg_recovery rec;
	struct evt_segw *sw;
	int small = -1;

	snprintf(path, sizeof path, "%s/decide.evt", tmpdir);
	unlink(path);
	if (evt_segw_create(path, 1, uuid, w[0].rx - 1000000, &o, &sw) != 0)
		return -1;
	if (put_frames(sw, w, 0, k) != 0 || evt_segw_flush(sw) != 0)
		goto out;
	if (crash) {
		evt_segw_close(sw);
		if (evt_segw_resume(path, &o, &sw, &rec) != 0)
			return -1;
	}
	if (put_frames(sw, w, k, NW) == 0 && evt_segw_flush(sw) == 0)
		small = evt_segw_small_blocks(sw);
out:
	evt_segw_close(sw);
	unlink(path);
	return small;
}

/* A segment resumed after a crash is compacted at rotation exactly when
 * it would have been without the crash: its earlier blocks count. */
static void
test_resume_decision(const struct wframe *w)
{
	static const size_t sizes[] = { 2048, 8192, 24576, 40960 };

	T_EQ(small_blocks(w, NW - 1, 24576, 0), 0,
	    "decision: blocks of 24 KiB and a small last one are not small");
	T_EQ(small_blocks(w, NW - 1, 24576, 1), 0,
	    "decision: nor after a crash before the last one (its earlier "
	    "blocks counted)");
	T_EQ(small_blocks(w, NW / 2, 2048, 1), 1,
	    "decision: blocks of 2 KiB resumed are small");
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
		for (size_t k = NW / 4; k < NW; k += NW / 4)
			T_EQ(small_blocks(w, k, sizes[i], 1),
			    small_blocks(w, k, sizes[i], 0),
			    "decision: blocks of %zu bytes, crash after frame "
			    "%zu: as without it", sizes[i], k);
}

int
main(void)
{
	static struct wframe w[NW];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (size_t i = 0; i < NW; i++)
		make_frame(&w[i], 1000000 + 1000 * (int64_t)i, 64);
	test_compact(w);
	test_repair(w);
	test_header(w);
	test_resume_decision(w);
	for (size_t i = 0; i < NW; i++)
		evt_buf_free(&w[i].text);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
