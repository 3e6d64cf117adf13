/*
 * test_frame_reader.c: the frame reader (frame_reader.c), which rebuilds
 * whole received frames from a segment's records.  Segments are written
 * with the real writer into a private mkdtemp() directory: a seeded
 * random run of every frame kind, read back sealed (through the index)
 * and unsealed (scanned), in blocks of several sizes; an item filter; a
 * damaged block.  (A writer closes blocks between frames, so a frame
 * whose items a damaged block took cannot be made here.)
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

static char tmpdir[] = "/tmp/evtape-frames.XXXXXX";

#define NRUN 300

/* Every kind of frame back exactly, sealed and unsealed, in blocks of
 * several sizes. */
static void
test_roundtrip(struct wframe *w)
{
	static const size_t blocks[] = { 512, 4096, 0 };
	char path[128];

	for (size_t i = 0; i < NRUN; i++)
		make_frame(&w[i], 1000000 + 1000 * (int64_t)i, 64);
	for (size_t b = 0; b < 3; b++) {
		for (int seal = 0; seal < 2; seal++) {
			struct evt_segr *r;
			struct evt_frames fr;
			struct evt_frame *f;
			int problems = 0, rc;
			size_t n = 0, good = 0;

			snprintf(path, sizeof path, "%s/rt-%zu-%d", tmpdir, b,
			    seal);
			T_EQ(write_seg(path, w, NRUN, blocks[b], seal), 0,
			    "roundtrip %zu-byte blocks, %s: written", blocks[b],
			    seal ? "sealed" : "unsealed");
			T_EQ(evt_segr_open(path, count_cb, &problems, &r), 0,
			    "roundtrip: open");
			evt_segr_rewind(r, INT64_MIN);
			evt_frames_init(&fr, r, NULL, NULL, count_cb, &problems,
			    path);
			while ((rc = evt_frames_next(&fr, &f)) == 1) {
				good += n < NRUN && same_frame(f, &w[n]);
				n++;
			}
			T_EQ(rc, 0, "roundtrip: ends cleanly");
			T_EQ(n, NRUN, "roundtrip: %d frames", NRUN);
			T_EQ(good, NRUN, "roundtrip: kinds, times, texts "
			    "and item spans as written");
			T_OK(problems == 0 && fr.dropped == 0,
			    "roundtrip: no problem reported");
			evt_frames_free(&fr);
			evt_segr_close(r);
		}
	}
}

/* The frame kind keep_aaa was last told; the items it kept in the frame
 * and the times it was told another number for the next kept item. */
static int keep_kind = -1;
static uint32_t keep_n, keep_badnum;

/* Keeps the events of camera "aaa". */
static int
keep_aaa(void *arg, int frame_kind, uint32_t kept, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	char v[64];
	int n = evt_rdec_field(d, rec, "source", v, sizeof v);
	(*(int *)arg)++;
	keep_kind = frame_kind;
	keep_badnum += kept != keep_n;
	n = n == 11 && memcmp(v, "cameras/aaa", 11) == 0;
	keep_n += n;
	return n;
}

/* The item filter: a message holds its kept items, in order, with their
 * spans; the announced count stays. */
static void
test_keep(const struct wframe *w)
{
	char path[128];
	struct evt_segr *r;
	struct evt_frames fr;
	struct evt_frame *f;
	struct evt_buf want = { 0 };
	int calls = 0, items = 0;
	size_t n = 0, good = 0, kinds = 0, asked = 0;

	snprintf(path, sizeof path, "%s/rt-1-1", tmpdir);
	T_EQ(evt_segr_open(path, NULL, NULL, &r), 0, "keep: open");
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, keep_aaa, &calls, NULL, NULL, path);
	while (evt_frames_next(&fr, &f) == 1 && n < NRUN) {
		const struct wframe *x = &w[n++];
		size_t kept = 0, ok = 1;
		keep_n = 0;
		if (x->kind != EVT_K_MSG && x->kind != EVT_K_STATES) {
			good += same_frame(f, x);
			continue;
		}
		items += (int)x->nitems;
		/* The filter was told the kind of the frame its items
		 * are in (a message's or a getState answer's). */
		asked += x->nitems > 0;
		kinds += x->nitems > 0 && keep_kind == x->kind;
		keep_kind = -1;
		/* The expected text: head, kept items, tail. */
		want.len = 0;
		evt_buf_put(&want, x->text.p, x->item[0][0]);
		for (size_t i = 0; i < x->nitems; i++) {
			if (x->src[i] != 0)
				continue;
			if (kept > 0)
				evt_buf_putc(&want, ',');
			size_t at = want.len;
			size_t len = x->item[i][1] - x->item[i][0];
			evt_buf_put(&want, x->text.p + x->item[i][0], len);
			ok &= f->kept > kept && f->span[2 * kept] == at &&
			    f->span[2 * kept + 1] == at + len;
			kept++;
		}
		puts_buf(&want, "]}");
		ok &= f->kept == kept && f->nitems == x->nitems &&
		    f->text.len == want.len &&
		    memcmp(f->text.p, want.p, want.len) == 0;
		good += ok;
	}
	T_EQ(n, NRUN, "keep: every frame");
	T_EQ(good, NRUN, "keep: messages hold the kept items, others whole");
	T_EQ(calls, items, "keep: asked once per item (%d)", items);
	T_EQ(kinds, asked, "keep: told the kind of the item's frame");
	T_EQ(keep_badnum, 0, "keep: told the number of the item if kept");
	evt_buf_free(&want);
	evt_frames_free(&fr);
	evt_segr_close(r);
}


/* What a read of a damaged segment gave: the frames that came back and
 * what was reported and counted lost. */
struct dread {
	int n, problems, whole;
	int64_t rx[8];
	uint64_t dropped, seg_lost;
};

/* Reads path into d; w are the frames written (in order of time). */
static void
read_damaged(const char *path, const struct wframe *w, size_t nw,
    struct dread *d)
{
	struct evt_segr *r;
	struct evt_frames fr;
	struct evt_frame *f;
	uint64_t unknown;

	memset(d, 0, sizeof *d);
	if (evt_segr_open(path, count_cb, &d->problems, &r) != 0)
		return;
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, NULL, NULL, count_cb, &d->problems, path);
	while (evt_frames_next(&fr, &f) == 1 && d->n < 8) {
		for (size_t i = 0; i < nw; i++)
			d->whole += w[i].rx == f->rx_us && same_frame(f, &w[i]);
		d->rx[d->n++] = f->rx_us;
	}
	d->dropped = fr.dropped;
	evt_segr_lost(r, &d->seg_lost, &unknown);
	evt_frames_free(&fr);
	evt_segr_close(r);
}

/*
 * Damage in a sealed segment whose small blocks hold one frame each (a
 * writer closes blocks between frames only): a small message, a large
 * one, a JSON answer and a small message.  The block of the large message
 * is damaged: the others come back whole and in order, its events are
 * counted lost and the damage is reported.
 */
static void
test_damage(void)
{
	struct wframe w[4] = { { 0 } };
	char path[128];
	struct dread d;
	uint32_t nb = 0;

	for (int i = 0; i < 4; i++) {
		do
			make_frame(&w[i], 5000000 + i, i == 1 ? 64 : 3);
		while (w[i].kind != (i == 2 ? EVT_K_JSON : EVT_K_MSG) ||
		    (i == 1 && w[i].nitems < 40));
	}
	snprintf(path, sizeof path, "%s/dmg", tmpdir);
	T_EQ(write_seg(path, w, 4, 200, 1), 0, "damage: written");
	T_OK(damage_block(path, 1, &nb) == 0 && nb >= 3,
	    "damage: block 1 of %u damaged", nb);
	read_damaged(path, w, 4, &d);
	T_EQ(d.n, 3, "damage: three frames");
	T_OK(d.whole == 3 && d.rx[0] == w[0].rx && d.rx[1] == w[2].rx &&
	    d.rx[2] == w[3].rx, "damage: the others whole, in order");
	T_EQ(d.seg_lost, w[1].nitems, "damage: the large message's %zu "
	    "events counted lost", w[1].nitems);
	T_OK(d.problems > 0 && d.dropped == 0,
	    "damage: reported by the segment reader, no record dropped");
	for (int i = 0; i < 4; i++)
		evt_buf_free(&w[i].text);
}

int
main(void)
{
	static struct wframe w[NRUN];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_roundtrip(w);
	test_keep(w);
	test_damage();
	for (size_t i = 0; i < NRUN; i++)
		evt_buf_free(&w[i].text);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
