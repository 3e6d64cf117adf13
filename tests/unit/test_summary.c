/*
 * test_summary.c: segment summaries (src/summary.c; formats/segment.md,
 * "Summary").  Small archives of known frames are written in a private
 * mkdtemp() directory; the summary the seal put into each index is
 * decoded and checked against the frames, encoded again (the same
 * bytes), and then broken in every way the decoder must refuse: every
 * prefix, counts that do not add up, buckets out of place, positions past
 * the directory, random byte flips (which must never crash).  The writer's
 * bounds (distinct sources, span) give incomplete summaries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/segment.h"
#include "evtape/summary.h"
#include "t.h"

#define T0 1767600000000000LL /* 2026-01-05T08:00:00Z */
#define SEC 1000000LL

static char dir[64];

/* The frames of the first archive: receive time, kind (0: a frame), text. */
static const struct {
	int64_t rx;
	int kind;
	const char *text;
} frames[] = {
	{T0, EVT_K_CONFIG, "{\"sources\":[]}"},
	{T0 + 1, 0, "{\"events\":[{\"source\":\"cameras/a\",\"type\":\"t1\"},"
	    "{\"source\":\"cameras/a\",\"type\":\"t1\"}]}"},
	{T0 + 5 * SEC, 0, "{\"events\":[{\"source\":\"cameras/B\",\"type\":"
	    "\"t2\"}]}"},
	{T0 + 6 * SEC, 0, "not JSON"},
	{T0 + 7 * SEC, 0, "{\"commandId\":3,\"status\":200,\"states\":[{"
	    "\"source\":\"cameras/a\",\"type\":\"t9\"}]}"},
	{T0 + 70 * SEC + 999999, 0, "{\"events\":[{\"type\":\"t1\"},7]}"},
	{T0 + 71 * SEC, 0, "{\"events\":[]}"},
};

/* Writes n frames into a fresh archive in dir: frame i received at rx(i),
 * its text text(i, buf) (buf: 256 bytes), a marker of kind(i) unless 0. */
static void
write_archive(size_t n, int64_t (*rx)(size_t), const char *(*text)(size_t,
    char *), int (*kind)(size_t))
{
	struct evt_archive *a;
	/* One segment, however long the frames' span. */
	struct evt_archive_opts o = {.seg_age_us = INT64_MAX / 2};
	char cmd[128], buf[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s/*", dir);
	if (system(cmd) != 0 || evt_archive_open(dir, EVT_AR_WRITE |
	    EVT_AR_CREATE, &o, NULL, NULL, NULL, &a) != 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		const char *t = text(i, buf);
		int rc = kind(i) != 0 ? evt_archive_marker(a, kind(i), rx(i), t,
		    strlen(t)) : evt_archive_frame(a, rx(i), t, strlen(t));
		if (rc < 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* rx, text and kind of frames[]. */
static int64_t
fr_rx(size_t i)
{
	return frames[i].rx;
}

static const char *
fr_text(size_t i, char *buf)
{
	return frames[i].text;
}

static int
fr_kind(size_t i)
{
	return frames[i].kind;
}

/* The only segment of the archive, opened. */
static struct evt_segr *
open_seg(void)
{
	struct evt_archive *a;
	struct evt_segr *r;
	size_t n;
	if (evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) != 0)
		abort();
	const struct evt_segref *s = evt_archive_segments(a, &n);
	if (n != 1 || evt_segr_open(s[0].path, NULL, NULL, &r) != 0) {
		fprintf(stderr, "test_summary: %zu segments in %s\n", n, dir);
		abort();
	}
	evt_archive_close(a);
	return r;
}

/* The count of key text k in table t of n keys, or -1. */
static long long
count_of(const struct evt_sum_key *t, uint32_t n, const char *k)
{
	for (uint32_t i = 0; i < n; i++)
		if (t[i].len == strlen(k) && memcmp(t[i].s, k, t[i].len) == 0)
			return (long long)t[i].count;
	return -1;
}

/* Decodes p[0..len) against r: the return code. */
static int
decode(struct evt_segr *r, const uint8_t *p, size_t len, struct evt_sum *s)
{
	const char *why;
	const struct evt_seg_info *si = evt_segr_info(r);
	return evt_sum_decode(p, len, evt_segr_decoder(r)->dict, si->nblocks, s,
	    &why);
}

/* Packs s against r's dictionary into out and decodes it: the code. */
static int
repack(struct evt_segr *r, const struct evt_sum *s, struct evt_buf *out)
{
	struct evt_sum d;
	out->len = 0;
	if (evt_sum_pack(s, evt_segr_decoder(r)->dict, out) != 0)
		abort();
	int rc = decode(r, out->p, out->len, &d);
	evt_sum_free(&d);
	return rc;
}

/* The summary of the frames above, decoded: every figure. */
static void
test_figures(struct evt_segr *r, struct evt_sum *s)
{
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	T_OK(p != NULL && len > 0, "the sealed segment has a summary");
	T_EQ(decode(r, p, len, s), 0, "it decodes");
	T_OK(s->complete, "complete");
	T_EQ(s->events, 5, "events: items of MSG frames, not of STATES");
	T_EQ(s->messages, 3, "messages: MSG frames with events");
	T_EQ(s->first_rx, T0 + 1, "first_rx: of events, not of the CONFIG");
	T_EQ(s->last_rx, T0 + 70 * SEC + 999999, "last_rx");
	T_EQ(s->frames[EVT_K_MSG], 4, "frames: 4 MSG");
	T_EQ(s->frames[EVT_K_RAW], 1, "frames: 1 RAW");
	T_EQ(s->frames[EVT_K_STATES], 1, "frames: 1 STATES");
	T_EQ(s->frames[EVT_K_CONFIG], 1, "frames: 1 CONFIG");
	T_EQ(s->ntypes, 3, "3 types");
	T_EQ(count_of(s->types, s->ntypes, "t1"), 3, "t1: 3");
	T_EQ(count_of(s->types, s->ntypes, "t2"), 1, "t2: 1");
	T_EQ(count_of(s->types, s->ntypes, ""), 1, "none: the item 7");
	T_EQ(s->nsources, 3, "3 sources");
	T_EQ(count_of(s->sources, s->nsources, "cameras/a"), 2,
	    "cameras/a: 2 (not the STATES item)");
	T_EQ(count_of(s->sources, s->nsources, ""), 2, "none: 2");
	T_EQ(s->nbuckets, 3, "3 seconds with events");
	T_OK(s->nbuckets == 3 && s->buckets[0].k == T0 / SEC &&
	    s->buckets[0].count == 2 && s->buckets[1].k == T0 / SEC + 5 &&
	    s->buckets[2].k == T0 / SEC + 70 && s->buckets[2].count == 2,
	    "buckets at 0 s (2), 5 s (1), 70 s (2)");
	T_OK(s->has_config && s->config.block == 0 && s->config.frame == 0 &&
	    s->config.rx == T0, "config: block 0, frame 0");
	T_OK(s->has_states && s->nstates == 1 && s->states[0].frame == 4 &&
	    s->states[0].rx == T0 + 7 * SEC, "states: the STATES frame, 5th");
}

/* Encoding the decoded summary again gives the bytes of the index. */
static void
test_roundtrip(struct evt_segr *r, const struct evt_sum *s)
{
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	struct evt_buf b = {0};
	T_EQ(repack(r, s, &b), 0, "encoded again, it decodes");
	T_OK(b.len == len && memcmp(b.p, p, len) == 0,
	    "... to the very bytes the writer wrote");
	struct evt_sum inc = {.complete = 0};
	inc.frames[EVT_K_MSG] = 4;
	b.len = 0;
	struct evt_sum d;
	T_OK(evt_sum_pack(&inc, evt_segr_decoder(r)->dict, &b) == 0 &&
	    decode(r, b.p, b.len, &d) == 0 && !d.complete,
	    "an incomplete summary decodes as incomplete");
	evt_sum_free(&d);
	evt_buf_free(&b);
}

/* Every way of breaking the summary that the decoder must refuse. */
static void
test_rejects(struct evt_segr *r, const struct evt_sum *s0)
{
	struct evt_buf b = {0};
	struct evt_sum s = *s0, d;
	struct evt_sum_key k[8];
	struct evt_sum_bucket bk[8];
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	int bad = 0;
	for (size_t n = 0; n < len; n++) {
		bad += decode(r, p, n, &d) != EVT_ERR_CORRUPT;
		evt_sum_free(&d);
	}
	T_EQ(bad, 0, "every proper prefix of the %zu bytes is refused", len);
	memcpy(k, s0->types, s0->ntypes * sizeof *k);
	s.types = k;
	k[0].count++;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT,
	    "types that do not add up to the events");
	k[0].count--;
	k[0].count = 0;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "a count of 0");
	s = *s0;
	memcpy(bk, s0->buckets, s0->nbuckets * sizeof *bk);
	s.buckets = bk;
	bk[0].k--;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT,
	    "a first bucket before first_rx's second");
	bk[0].k++;
	bk[2].k++;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT,
	    "a last bucket after last_rx's second");
	bk[2].k = bk[1].k;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "a step of 0");
	s = *s0;
	s.messages = 5;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "more messages than MSG frames");
	s = *s0;
	s.first_rx = s.last_rx + 1;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "first_rx after last_rx");
	s = *s0;
	s.config.block = evt_segr_info(r)->nblocks;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "config past the directory");
	s = *s0;
	s.frames[EVT_K_STATES] = 2;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT,
	    "states not one per STATES frame");
	s = *s0;
	s.frames[EVT_K_CONFIG] = 0;
	T_EQ(repack(r, &s, &b), EVT_ERR_CORRUPT, "config without a CONFIG");
	/* Random flips: refused or accepted, never a crash (ASan). */
	uint8_t *m = malloc(len);
	int ok = 0;
	for (int i = 0; i < 20000; i++) {
		memcpy(m, p, len);
		for (int f = 0; f < 1 + (int)(rng() % 3); f++)
			m[rng() % len] ^= (uint8_t)(1 + rng() % 255);
		int rc = decode(r, m, len, &d);
		ok += rc == 0 || rc == EVT_ERR_CORRUPT;
		evt_sum_free(&d);
	}
	T_EQ(ok, 20000, "20000 random flips: each decoded or refused");
	free(m);
	evt_buf_free(&b);
}

/* Frames of many distinct sources, or far apart in time. */
static size_t spread;
static int64_t
many_rx(size_t i)
{
	return T0 + (int64_t)i * (int64_t)spread;
}

static int
no_kind(size_t i)
{
	return 0;
}

static const char *
many_text(size_t i, char *buf)
{
	snprintf(buf, 256, "{\"events\":[{\"source\":\"s/%zu\",\"type\":\"t\"}]}",
	    spread == 1 ? i : 0);
	return buf;
}

/* The summary of the archive in dir: complete or not (-1: none). */
static int
complete_of(void)
{
	struct evt_segr *r = open_seg();
	struct evt_sum s;
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	int c = p != NULL && decode(r, p, len, &s) == 0 ? s.complete : -1;
	if (p != NULL)
		evt_sum_free(&s);
	evt_segr_close(r);
	return c;
}

/* The writer's bounds give incomplete summaries. */
static void
test_bounds(void)
{
	spread = 1;
	write_archive(EVT_SUM_MAX_KEYS, many_rx, many_text, no_kind);
	T_EQ(complete_of(), 1, "%d distinct sources: complete",
	    EVT_SUM_MAX_KEYS);
	write_archive(EVT_SUM_MAX_KEYS + 1, many_rx, many_text, no_kind);
	T_EQ(complete_of(), 0, "one more: incomplete");
	spread = 99999 * SEC;
	write_archive(2, many_rx, many_text, no_kind);
	T_EQ(complete_of(), 1, "two events 99,999 s apart: complete");
	spread = 100000 * SEC;
	write_archive(2, many_rx, many_text, no_kind);
	T_EQ(complete_of(), 0, "100,000 s apart: incomplete");
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/evt-sum-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	write_archive(sizeof frames / sizeof frames[0], fr_rx, fr_text, fr_kind);
	struct evt_segr *r = open_seg();
	struct evt_sum s;
	test_figures(r, &s);
	test_roundtrip(r, &s);
	test_rejects(r, &s);
	evt_sum_free(&s);
	evt_segr_close(r);
	test_bounds();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
