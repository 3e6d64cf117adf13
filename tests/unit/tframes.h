/*
 * tframes.h: what test_frame_reader.c and test_segment_rewrite.c share:
 * seeded random frames of every kind (gateway messages and getState
 * answers with their item spans, other JSON, raw bytes, markers), a
 * segment written from them with the real writer, a comparison of a
 * rebuilt frame with the one written, and a damaged block.
 */
#ifndef EVT_TFRAMES_H
#define EVT_TFRAMES_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evtape/record.h"
#include "evtape/segment.h"
#include "t.h"

static const uint8_t uuid[16] = { 1, 2, 3 };

/* One frame as written: kind, time, text and where its items lie. */
struct wframe {
	int kind;
	int64_t rx;
	struct evt_buf text;
	size_t nitems;
	size_t item[64][2];	/* start, end of item i in text */
	int src[64];		/* camera of item i: 0 = "aaa" */
};

static const char *const cams[] = { "aaa", "bbb", "ccc" };

/* Appends a C string. */
static void
puts_buf(struct evt_buf *b, const char *s)
{
	evt_buf_put(b, s, strlen(s));
}

/* Appends one event with a random camera to w's text and notes it. */
static void
put_event(struct wframe *w, unsigned n)
{
	char ev[300];
	int cam = (int)(rng() % 3);
	int len = snprintf(ev, sizeof ev, "{\"id\":\"%08x-0000-4000-8000-"
	    "%012x\",\"source\":\"cameras/%s\",\"time\":\"2026-01-05T08:00:"
	    "%02u.%07uZ\",\"type\":\"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77\","
	    "\"data\":{\"n\":%u,\"v\":[1.50,-2e3,true,null]}}", n,
	    (unsigned)rng() & 0xffffff, cams[cam], n % 60, n % 10000000, n);
	if (w->nitems > 0)
		evt_buf_putc(&w->text, ',');
	w->item[w->nitems][0] = w->text.len;
	evt_buf_put(&w->text, ev, (size_t)len);
	w->item[w->nitems][1] = w->text.len;
	w->src[w->nitems++] = cam;
}

/* Makes a random frame of any kind (items: up to max events). */
static void
make_frame(struct wframe *w, int64_t rx, size_t max)
{
	static unsigned serial;
	unsigned pick = (unsigned)(rng() % 10), k;
	char s[64];

	w->text.len = 0;
	w->nitems = 0;
	w->rx = rx;
	if (pick < 5 || pick == 5) {
		w->kind = pick < 5 ? EVT_K_MSG : EVT_K_STATES;
		puts_buf(&w->text, pick < 5 ? "{\"events\":[" :
		    "{\"commandId\":7,\"status\":200,\"states\":[");
		k = 1 + (unsigned)(rng() % max);
		for (unsigned i = 0; i < k; i++)
			put_event(w, serial++);
		puts_buf(&w->text, "]}");
		return;
	}
	switch (pick) {
	case 6:
		w->kind = EVT_K_JSON;
		snprintf(s, sizeof s, "{\"commandId\":%u,\"status\":200}",
		    serial++);
		break;
	case 7:
		w->kind = EVT_K_RAW;	/* not UTF-8, hence not JSON */
		snprintf(s, sizeof s, "raw \xff\xfe %u {", serial++);
		break;
	case 8:
		w->kind = EVT_K_SESSION;
		snprintf(s, sizeof s, "{\"sessionId\":\"s%u\"}", serial++);
		break;
	default:
		w->kind = rng() % 2 ? EVT_K_GAP : EVT_K_CONFIG;
		snprintf(s, sizeof s, "{\"n\":%u}", serial++);
		break;
	}
	puts_buf(&w->text, s);
}

/* Appends frames w[from..to) to sw; returns 0 if all went in. */
static int
put_frames(struct evt_segw *sw, const struct wframe *w, size_t from,
    size_t to)
{
	int bad = 0;

	for (size_t i = from; i < to; i++) {
		const char *t = (const char *)w[i].text.p;
		if (w[i].kind >= EVT_K_SESSION)
			bad |= evt_segw_marker(sw, w[i].kind, w[i].rx, t,
			    w[i].text.len) < 0;
		else
			bad |= evt_segw_frame(sw, w[i].rx, t, w[i].text.len)
			    != w[i].kind;
	}
	return bad ? -1 : 0;
}

/* Writes the frames into a new segment at path (sequence number 1,
 * created a second before the first frame; sealed or left unsealed, as
 * after a crash); returns 0 if all went in. */
static int
write_seg(const char *path, const struct wframe *w, size_t n, size_t block,
    int seal)
{
	struct evt_segw_opts o = { .block_bytes = block };
	struct evt_segw *sw;
	int bad = 0;

	if (evt_segw_create(path, 1, uuid, w[0].rx - 1000000, &o, &sw) != 0)
		return -1;
	bad |= put_frames(sw, w, 0, n) != 0;
	if (seal)
		return evt_segw_seal(sw) != 0 || bad ? -1 : 0;
	bad |= evt_segw_flush(sw) != 0;
	evt_segw_close(sw);
	return bad ? -1 : 0;
}

/* Counts the problems a reader reports. */
static void
count_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	(*(int *)arg)++;
}

/* Whether frame f is w: kind, time, text and item spans. */
static int
same_frame(const struct evt_frame *f, const struct wframe *w)
{
	if (f->kind != w->kind || f->rx_us != w->rx ||
	    f->text.len != w->text.len ||
	    memcmp(f->text.p, w->text.p, w->text.len) != 0)
		return 0;
	if (w->kind != EVT_K_MSG && w->kind != EVT_K_STATES)
		return 1;
	if (f->nitems != w->nitems || f->kept != w->nitems)
		return 0;
	for (size_t i = 0; i < w->nitems; i++)
		if (f->span[2 * i] != w->item[i][0] ||
		    f->span[2 * i + 1] != w->item[i][1])
			return 0;
	return 1;
}

/* Flips a byte in the payload of block i; returns 0 if done. */
static int
damage_block(const char *path, uint32_t i, uint32_t *nblocks)
{
	struct evt_segr *r;
	const struct evt_blkent *b = NULL;
	uint8_t x;
	int fd, rc = -1;

	*nblocks = 0;
	if (evt_segr_open(path, NULL, NULL, &r) != 0)
		return -1;
	if (evt_segr_load_index(r) == 0)
		b = evt_segr_blocks(r, nblocks);
	uint64_t off = i < *nblocks ? b[i].off + EVT_BLK_HDR_SIZE + 16 : 0;
	evt_segr_close(r);
	if (off == 0 || (fd = open(path, O_RDWR)) < 0)
		return -1;
	if (pread(fd, &x, 1, (off_t)off) == 1) {
		x ^= 0x5a;
		rc = pwrite(fd, &x, 1, (off_t)off) == 1 ? 0 : -1;
	}
	close(fd);
	return rc;
}

#endif
