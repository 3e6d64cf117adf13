/*
 * test_cursor.c: the archive cursor (cursor.c) on small archives written
 * in a private mkdtemp() directory: frames across segments, seeking by
 * time and by id, an event's receive time by id (evt_archive_find_rx),
 * the end time, the state table as of a time
 * (evt_cur_state_at, against a replay from the start), and a damaged
 * block, which is reported with its file and counted as lost while the
 * other segments still read; follow mode (evt_cur_follow): from a seek
 * time to the end, then blocks as a writer flushes them, across a
 * rotation.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/cursor.h"
#include "evtape/err.h"
#include "evtape/follow.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "evtape/state.h"
#include "t.h"
#include "tstate.h"

static char tmpdir[] = "/tmp/evtape-cursor.XXXXXX";

/* The frames of the test archive, received at 1000, 2000, ... 5000 us,
 * in three segments: {0, 1}, {2, GAP marker, 3}, {4}. */
static const char *fr[] = {
	"{\"events\":[" EV("e1", "aaa", SG(G1)) "," EV("e2", "bbb", "") "]}",
	"{\"commandId\":3,\"status\":200,\"states\":[" EV("s1", "ccc",
	SG(G1)) "]}",
	"{\"events\":[" EV("e3", "aaa", SG(G1)) "," EV("e4", "bbb", "")
	"," EV("e5", "ccc", SG(G2)) "]}",
	"{\"other\":1}",
	"{\"events\":[" EV("e6", "ddd", SG(G1)) "]}",
};
#define NFR 5

/* What the segment callback heard. */
struct heard {
	int n;
	char path[256];
	uint64_t off;
};

/* Segment callback: counts problems and keeps the first one's place. */
static void
heard_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct heard *h = arg;
	if (h->n++ == 0) {
		snprintf(h->path, sizeof h->path, "%s", path);
		h->off = off;
	}
}

/* Writes the test archive into tmpdir/name; returns 0 if all went in. */
static int
make_archive(const char *name, char *dir, size_t cap)
{
	struct evt_archive *a;
	int bad = 0;
	snprintf(dir, cap, "%s/%s", tmpdir, name);
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		return -1;
	for (int i = 0; i < NFR; i++) {
		bad |= evt_archive_frame(a, 1000 * (i + 1), fr[i],
		    strlen(fr[i])) < 0;
		if (i == 2) /* a marker is no received frame: passed over */
			bad |= evt_archive_marker(a, EVT_K_GAP, 3500,
			    L("{\"reason\":\"test\"}")) < 0;
		if (i == 1 || i == 3)
			bad |= evt_archive_rotate(a) != 0;
	}
	bad |= evt_archive_close(a) != 0;
	return bad ? -1 : 0;
}

/* Every frame in order, with its kind, time, text and item spans. */
static void
test_frames(const char *dir)
{
	struct evt_cur *c;
	struct evt_cur_msg m;
	int kinds[8], n = 0, ok = 1;
	size_t nev = 0;

	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "cursor open");
	while (evt_cur_next(c, &m) == 1 && n < 8) {
		kinds[n] = m.kind;
		ok &= m.len == strlen(fr[n]) && memcmp(m.text, fr[n], m.len) == 0;
		ok &= m.rx_us == 1000 * (n + 1) && !m.incomplete;
		for (size_t i = 0; i < m.n; i++)
			ok &= m.ev[i][0] == '{' && m.ev[i][m.evlen[i] - 1] == '}';
		nev += m.kind == EVT_K_MSG ? m.n : 0;
		n++;
	}
	T_EQ(n, 5, "five frames across three segments");
	T_OK(ok, "texts, times and item spans");
	T_OK(kinds[1] == EVT_K_STATES && kinds[3] == EVT_K_JSON, "kinds");
	T_EQ(nev, 6, "six events");
	T_EQ(evt_cur_next(c, &m), 0, "the end stays the end");
	evt_cur_close(c);
}

/* Seeking by time with an end time, and by event id. */
static void
test_seek(const char *dir)
{
	struct evt_cur *c;
	struct evt_cur_msg m;
	int64_t first = 0, rx = 0;
	int n = 0;

	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "seek: open");
	evt_cur_seek(c, 3000);
	evt_cur_set_end(c, 5000);
	while (evt_cur_next(c, &m) == 1) {
		if (n++ == 0)
			first = m.rx_us;
	}
	T_EQ(n, 2, "seek 3000, end 5000: two frames");
	T_EQ(first, 3000, "from 3000");

	evt_cur_set_end(c, INT64_MAX);
	T_EQ(evt_cur_seek_id(c, L("e4"), &rx), 1, "seek id e4");
	T_EQ(rx, 3000, "its receive time");
	T_EQ(evt_cur_next(c, &m), 1, "next");
	T_OK(m.n == 2 && memmem(m.ev[0], m.evlen[0], "\"e4\"", 4) != NULL,
	    "the message from e4 on (%zu items)", m.n);
	T_OK(!m.incomplete, "items passed over by the seek are not lost");
	T_EQ(evt_cur_next(c, &m), 1, "and on");
	T_EQ(m.rx_us, 4000, "the next frame follows");
	T_EQ(evt_cur_seek_id(c, L("e6"), &rx), 1, "seek id e6");
	T_EQ(rx, 5000, "in the last segment");
	T_EQ(evt_cur_seek_id(c, L("nope"), &rx), 0, "absent id");
	evt_cur_close(c);
	T_EQ(evt_cur_open("/nonexistent/x", NULL, NULL, NULL, &c),
	    EVT_ERR_NOTFOUND, "no such archive");
}

/* An event's receive time by id, as cut and report find their --around
 * anchor (evt_archive_find_rx). */
static void
test_find_rx(const char *dir)
{
	struct evt_archive *a;
	char longid[EVT_REC_MAX_INTERN + 2];
	int64_t rx = 0;
	memset(longid, 'e', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	T_EQ(evt_archive_open(dir, EVT_AR_NO_SIZES, NULL, NULL, NULL, NULL,
	    &a), 0, "find_rx: open");
	T_EQ(evt_archive_find_rx(a, L("e4"), &rx), 1, "find_rx e4");
	T_EQ(rx, 3000, "its receive time");
	T_EQ(evt_archive_find_rx(a, L("e6"), &rx), 1, "find_rx e6");
	T_EQ(rx, 5000, "in the last segment");
	rx = -1;
	T_EQ(evt_archive_find_rx(a, L("nope"), &rx), 0, "absent id");
	T_EQ(evt_archive_find_rx(a, longid, strlen(longid), &rx), 0,
	    "an id longer than any");
	T_EQ(evt_archive_find_rx(a, "e4", 0, &rx), 0, "an empty id");
	T_EQ(rx, -1, "nothing found, nothing written");
	evt_archive_close(a);
}

/* Replays every frame before end into s, as a reader from the start
 * would: the model evt_cur_state_at must agree with. */
static void
replay_until(struct evt_cur *c, int64_t end, struct evt_state *s)
{
	struct evt_cur_msg m;
	evt_state_clear(s);
	evt_cur_seek(c, INT64_MIN);
	evt_cur_set_end(c, end);
	while (evt_cur_next(c, &m) == 1)
		evt_state_apply_frame(s, m.kind, m.ev, m.evlen, m.n);
}

/* Whether two tables hold the same entries in the same order. */
static int
same_state(struct evt_state *a, struct evt_state *b)
{
	const char *const *sa, *const *sb;
	const size_t *la, *lb;
	size_t n = evt_state_list(a, &sa, &la);
	if (evt_state_list(b, &sb, &lb) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (la[i] != lb[i] || memcmp(sa[i], sb[i], la[i]) != 0)
			return 0;
	return 1;
}

/* The state as of a time: the snapshot in the first segment, then the
 * updates of later segments, which evt_cur_state_at finds by going back
 * from the newest segment. */
static void
test_state_at(const char *dir)
{
	static const int64_t ends[] = { 1000, 1500, 2000, 2001, 3001, 4500,
		INT64_MAX };
	struct evt_state *s = evt_state_new(), *model = evt_state_new();
	struct evt_cur *c;
	int agree = 0;

	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "state: open");
	for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
		replay_until(c, ends[i], model);
		int rc = evt_cur_state_at(c, ends[i], s);
		agree += rc == 0 && same_state(s, model);
	}
	T_EQ(agree, 7, "state_at agrees with a replay from the start at 7 "
	    "times");
	const char *at1500[] = { "e1" };
	evt_cur_state_at(c, 1500, s);
	T_OK(holds(s, at1500, 1), "before the snapshot: the events so far");
	const char *at3001[] = { "s1", "e3", "e5" };
	evt_cur_state_at(c, 3001, s);
	T_OK(holds(s, at3001, 3),
	    "at 3000 (inclusive): snapshot, then updates");
	const char *all[] = { "s1", "e3", "e5", "e6" };
	evt_cur_state_at(c, INT64_MAX, s);
	T_OK(holds(s, all, 4), "at the end: across all three segments");
	/* The cursor is left at its end: seek and set the end to go on. */
	struct evt_cur_msg m;
	evt_cur_seek(c, 5000);
	evt_cur_set_end(c, INT64_MAX);
	T_OK(evt_cur_next(c, &m) == 1 && m.rx_us == 5000,
	    "seek after state_at reads on");
	evt_state_free(s);
	evt_state_free(model);
	evt_cur_close(c);
}

/* Cuts the newest segment's index and trailer: it reads as unsealed, as
 * after a recorder's crash, so evt_cur_state_at must read it to learn it
 * holds no snapshot, then go back further. */
static void
test_state_at_unsealed(void)
{
	char dir[128], path[160];
	struct evt_segr *r;
	struct evt_state *s = evt_state_new();
	struct evt_cur *c;
	uint64_t end = 0;

	T_EQ(make_archive("u", dir, sizeof dir), 0, "unsealed: archive");
	snprintf(path, sizeof path, "%s/seg-000000000003.evt", dir);
	if (evt_segr_open(path, NULL, NULL, &r) == 0) {
		end = evt_segr_info(r)->data_end;
		evt_segr_close(r);
	}
	T_OK(end > 0 && truncate(path, (off_t)end) == 0,
	    "unsealed: segment 3 cut at the end of its blocks (%llu)",
	    (unsigned long long)end);
	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "unsealed: open");
	const char *all[] = { "s1", "e3", "e5", "e6" };
	T_EQ(evt_cur_state_at(c, INT64_MAX, s), 0, "unsealed: state_at");
	T_OK(holds(s, all, 4), "unsealed: the snapshot two segments back, "
	    "then the updates");
	evt_cur_close(c);
	evt_state_free(s);
}

/* Flips bytes in the payload of the first block of segment 2 (sealed). */
static int
damage_seg2(const char *dir, char *path, size_t cap)
{
	struct evt_segr *r;
	const struct evt_blkent *b;
	uint32_t nb = 0;
	uint8_t x[4];
	int fd, rc = -1;

	snprintf(path, cap, "%s/seg-000000000002.evt", dir);
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return -1;
	b = evt_segr_load_index(r) == 0 ? evt_segr_blocks(r, &nb) : NULL;
	uint64_t off = nb > 0 ? b[0].off + EVT_BLK_HDR_SIZE + 4 : 0;
	evt_segr_close(r);
	if (nb == 0 || (fd = open(path, O_RDWR)) < 0)
		return -1;
	if (pread(fd, x, sizeof x, (off_t)off) == sizeof x) {
		for (size_t i = 0; i < sizeof x; i++)
			x[i] ^= 0xff;
		if (pwrite(fd, x, sizeof x, (off_t)off) == sizeof x)
			rc = 0;
	}
	close(fd);
	return rc;
}

/* A damaged block: reported with its file, its events counted as lost,
 * the frames of the other segments read. */
static void
test_damage(void)
{
	char dir[128], path[160];
	struct heard h = { 0 };
	struct evt_cur *c;
	struct evt_cur_msg m;
	uint64_t events = 0, unknown = 0;
	int n = 0, ok = 1;

	T_EQ(make_archive("d", dir, sizeof dir), 0, "damage: archive");
	T_EQ(damage_seg2(dir, path, sizeof path), 0, "damage: 4 bytes flipped");
	T_EQ(evt_cur_open(dir, heard_cb, NULL, &h, &c), 0, "damage: open");
	while (evt_cur_next(c, &m) == 1) {
		static const int64_t want[] = { 1000, 2000, 5000 };
		ok &= n < 3 && m.rx_us == want[n] && !m.incomplete;
		n++;
	}
	T_EQ(n, 3, "damage: the frames of segments 1 and 3 read");
	T_OK(ok, "damage: whole, in order");
	T_OK(h.n > 0 && strcmp(h.path, path) == 0,
	    "damage: reported in %s (%d reports)", h.path, h.n);
	evt_cur_lost(c, &events, &unknown);
	T_EQ(events, 3, "damage: the block's three events counted lost");
	evt_cur_close(c);
}

/* Writes frame i of fr at rx into writer w and flushes its block. */
static int
put_flush(struct evt_archive *w, int i, int64_t rx)
{
	return evt_archive_frame(w, rx, fr[i], strlen(fr[i])) < 0 ||
	    evt_archive_flush(w) != 0;
}

/* Follow mode: what is there from the seek time on, 0 at the end, then
 * each block a writer flushes and the next segment after a rotation,
 * each frame with its segment's number. */
static void
test_follow(void)
{
	char dir[128];
	struct evt_archive *w;
	struct evt_cur *c;
	struct evt_cur_msg m;
	snprintf(dir, sizeof dir, "%s/f", tmpdir);
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &w), 0, "follow: a writer");
	T_EQ(put_flush(w, 0, 1000) | put_flush(w, 2, 2000), 0,
	    "follow: two blocks written");
	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "follow: opened");
	evt_cur_seek(c, 2000);
	T_EQ(evt_cur_follow(c, dir), 0, "follow: on");
	T_OK(evt_cur_follower(c) == NULL, "follow: no follower before a read");
	T_EQ(evt_cur_next(c, &m), 1, "follow: the frame at the seek time");
	T_EQ(m.rx_us, 2000, "follow: ... received at 2000");
	T_EQ(m.n, 3, "follow: ... with its 3 events");
	uint64_t seg = m.seg;
	T_OK(seg >= 1, "follow: ... and its segment's number");
	T_EQ(evt_cur_next(c, &m), 0, "follow: then all there is for now");
	T_OK(evt_cur_follower(c) != NULL, "follow: a follower to wait on");
	T_EQ(put_flush(w, 4, 3000), 0, "follow: a block more");
	T_EQ(evt_cur_next(c, &m), 1, "follow: read as it comes");
	T_EQ(m.rx_us, 3000, "follow: ... received at 3000");
	T_EQ(evt_cur_next(c, &m), 0, "follow: all there is again");
	T_EQ(evt_archive_rotate(w) | put_flush(w, 0, 4000), 0,
	    "follow: rotated, a block in the new segment");
	/* The old segment is sealed in the writer's thread: the follower
	 * goes on once it sees the seal (a bounded wait for the change). */
	int rc = 0;
	for (int i = 0; i < 50 && (rc = evt_cur_next(c, &m)) == 0; i++)
		(void)evt_follow_wait(evt_cur_follower(c), 200, NULL);
	T_EQ(rc, 1, "follow: across the rotation");
	T_EQ(m.rx_us, 4000, "follow: ... received at 4000");
	T_EQ(m.seg, seg + 1, "follow: ... in the next segment");
	T_EQ(evt_archive_close(w), 0, "follow: the writer closed");
	T_EQ(evt_cur_next(c, &m), 0, "follow: nothing more");
	uint64_t ev, unk;
	evt_cur_lost(c, &ev, &unk);
	T_EQ(ev + unk, 0, "follow: nothing lost");
	evt_cur_close(c);
}

/* evt_cur_ordinals: every frame's ordinal in its segment, markers
 * counted, also after a time seek or an id seek (which passes items over:
 * first says how many). */
static void
test_ordinals(const char *dir)
{
	struct evt_cur *c;
	struct evt_cur_msg m;
	uint64_t ord[8], seg[8];
	uint8_t uuid[16];
	int n = 0, same = 1;
	int64_t rx;
	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "ordinals: open");
	evt_cur_ordinals(c);
	while (n < 8 && evt_cur_next(c, &m) == 1) {
		if (n == 0)
			memcpy(uuid, m.uuid, 16);
		same &= memcmp(uuid, m.uuid, 16) == 0;
		ord[n] = m.ord;
		seg[n++] = m.seg;
	}
	T_EQ(n, 5, "ordinals: five frames");
	T_OK(ord[0] == 0 && ord[1] == 1 && ord[2] == 0 && ord[3] == 2 &&
	    ord[4] == 0, "0 1 | 0 (GAP 1) 2 | 0: the marker counted");
	T_OK(seg[0] == seg[1] && seg[1] < seg[2] && seg[2] == seg[3] &&
	    seg[3] < seg[4], "their segments");
	T_OK(same, "one archive uuid");
	evt_cur_seek(c, 4000);
	T_OK(evt_cur_next(c, &m) == 1 && m.rx_us == 4000 && m.ord == 2,
	    "after a time seek: the ordinal from the segment's start");
	T_EQ(evt_cur_seek_id(c, L("e4"), &rx), 1, "ordinals: seek id e4");
	T_OK(evt_cur_next(c, &m) == 1 && m.ord == 0 && m.first == 1 &&
	    m.nitems == 3 && m.n == 2, "after an id seek: item 1 of 3 first");
	evt_cur_close(c);
	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "markers: open");
	evt_cur_markers(c);
	evt_cur_ordinals(c);
	n = 0;
	int gap = -1;
	while (n < 8 && evt_cur_next(c, &m) == 1) {
		if (m.kind == EVT_K_GAP && m.rx_us == 3500 && m.ord == 1 &&
		    m.n == 0 && memmem(m.text, m.len, "\"test\"", 6) != NULL)
			gap = n;
		n++;
	}
	T_EQ(n, 6, "markers: the GAP marker handed out too");
	T_EQ(gap, 3, "... in its place, with its body and ordinal");
	evt_cur_close(c);
}

int
main(void)
{
	char dir[128];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	T_EQ(make_archive("a", dir, sizeof dir), 0, "archive written");
	test_frames(dir);
	test_seek(dir);
	test_ordinals(dir);
	test_find_rx(dir);
	test_state_at(dir);
	test_state_at_unsealed();
	test_damage();
	test_follow();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
