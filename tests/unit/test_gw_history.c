/*
 * test_gw_history.c: the gateway's per-session history (gw_history.h):
 * field extraction of shared events, message grouping, the resume cursor,
 * the byte bound and "lost" accounting, trimming by time, and a random
 * walk against a simple model (an array of every pushed event with a
 * cursor) that checks the resume contract: after seek(id) the next
 * messages hold exactly the events after id, in order, each once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/gw_history.h"
#include "t.h"

/* Makes the text of event number i (id "e<i>") into buf. */
static size_t
ev_text(char *buf, size_t cap, unsigned i, const char *type)
{
	return (size_t)snprintf(buf, cap, "{\"id\":\"e%u\",\"source\":"
	    "\"cameras/c%u\",\"specversion\":\"1.0\",\"type\":\"%s\"}", i,
	    i % 7, type);
}

/* Creates event i. */
static struct evt_gwh_event *
mk(unsigned i)
{
	char buf[200];
	size_t n = ev_text(buf, sizeof buf, i, "t1");

	return evt_gwh_event_new(buf, n);
}

/* Pushes event i and drops the caller's reference. */
static int
push(struct evt_gwh *h, unsigned i, int64_t t, int start)
{
	struct evt_gwh_event *ev = mk(i);
	int rc = evt_gwh_push(h, ev, t, start);

	evt_gwh_event_unref(ev);
	return rc;
}

/* Appends the ids of the events in a message to ids (space-separated). */
static void
msg_ids(const struct evt_buf *b, char *ids, size_t cap)
{
	const char *p = (const char *)b->p, *end = p + b->len;

	while ((p = memmem(p, (size_t)(end - p), "\"id\":\"", 6)) != NULL) {
		const char *q;

		p += 6;
		q = memchr(p, '"', (size_t)(end - p));
		snprintf(ids + strlen(ids), cap - strlen(ids), "%s%.*s",
		    ids[0] ? " " : "", (int)(q - p), p);
		p = q;
	}
}

/* Takes the next message and returns its ids ("" if none). */
static const char *
next_ids(struct evt_gwh *h, size_t max)
{
	static char ids[4096];
	struct evt_buf b = { 0 };

	ids[0] = '\0';
	if (evt_gwh_next(h, &b, max) > 0)
		msg_ids(&b, ids, sizeof ids);
	evt_buf_free(&b);
	return ids;
}

static void
test_event_fields(void)
{
	static const char esc[] = "{\"type\":\"t\\u0031\",\"id\":\"a\\u0062c\","
	    "\"source\":\"came\\u0072as/x\"}";
	struct evt_ess_subs *subs = evt_ess_subs_new();
	struct evt_ess_sub *sub;
	struct evt_gwh_event *ev;
	const char *s;
	size_t n;

	T_OK(evt_ess_sub_parse(L("[{\"modifier\":\"include\",\"resourceTypes\":"
	    "[\"cameras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"t1\"]}]"),
	    NULL, &sub, NULL) == 0, "filter parses");
	evt_ess_subs_add(subs, "s", 1, sub);

	ev = evt_gwh_event_new(esc, sizeof esc - 1);
	T_OK(ev != NULL, "event with escapes");
	s = evt_gwh_event_id(ev, &n);
	T_OK(n == 3 && strcmp(s, "abc") == 0, "id decoded: %s", s);
	T_EQ(evt_gwh_event_delivers(ev, subs), 1,
	    "decoded source and type match the filter");
	s = evt_gwh_event_text(ev, &n);
	T_OK(n == sizeof esc - 1 && memcmp(s, esc, n) == 0,
	    "text kept verbatim");
	T_EQ(evt_gwh_event_delivers(ev, NULL), 0, "NULL subs deliver nothing");
	evt_gwh_event_unref(ev);

	ev = evt_gwh_event_new(L("[1,2]"));
	T_OK(ev != NULL, "a non-object is kept");
	s = evt_gwh_event_id(ev, &n);
	T_OK(n == 0 && s[0] == '\0', "without an id");
	T_EQ(evt_gwh_event_delivers(ev, subs), 0, "and never delivered");
	evt_gwh_event_unref(ev);

	ev = evt_gwh_event_new(L("{\"id\":\"x\",\"source\":\"cameras/a\"}"));
	T_EQ(evt_gwh_event_delivers(ev, subs), 0, "no type: not delivered");
	evt_gwh_event_unref(ev);
	evt_ess_subs_free(subs);
}

static void
test_grouping_and_seek(void)
{
	struct evt_gwh *h = evt_gwh_new(0);
	struct evt_buf b = { 0 };
	char want[512];

	/* Two messages: e1 e2 e3 | e4 e5. */
	push(h, 1, 10, 1);
	push(h, 2, 10, 0);
	push(h, 3, 10, 0);
	push(h, 4, 20, 1);
	push(h, 5, 20, 0);
	T_EQ(evt_gwh_count(h), 5, "five entries");
	T_EQ(evt_gwh_unsent(h), 5, "all unsent");
	T_EQ(evt_gwh_next(h, &b, 0), 3, "first message has 3 events");
	{
		char t1[200], t2[200], t3[200];
		size_t n1 = ev_text(t1, sizeof t1, 1, "t1");
		size_t n2 = ev_text(t2, sizeof t2, 2, "t1");
		size_t n3 = ev_text(t3, sizeof t3, 3, "t1");

		snprintf(want, sizeof want, "{\"events\":[%.*s,%.*s,%.*s]}",
		    (int)n1, t1, (int)n2, t2, (int)n3, t3);
	}
	T_OK(b.len == strlen(want) && memcmp(b.p, want, b.len) == 0,
	    "message is {\"events\":[...]} of the verbatim texts");
	evt_buf_free(&b);
	T_OK(strcmp(next_ids(h, 0), "e4 e5") == 0, "second message");
	T_OK(strcmp(next_ids(h, 0), "") == 0, "then nothing");
	T_EQ(evt_gwh_unsent(h), 0, "nothing unsent");
	T_EQ(evt_gwh_unsent_bytes(h), 0, "no unsent bytes");

	T_EQ(evt_gwh_seek(h, "e2", 2), 0, "seek to e2");
	T_EQ(evt_gwh_unsent(h), 3, "three to send again");
	T_OK(strcmp(next_ids(h, 0), "e3") == 0, "tail of the first message");
	T_OK(strcmp(next_ids(h, 0), "e4 e5") == 0, "then the second");
	T_EQ(evt_gwh_seek(h, "e5", 2), 0, "seek to the newest");
	T_OK(strcmp(next_ids(h, 0), "") == 0, "nothing to resend");
	T_EQ(evt_gwh_seek(h, "e9", 2), EVT_ERR_NOTFOUND, "unknown id");
	T_EQ(evt_gwh_unsent(h), 0, "cursor unchanged");
	T_EQ(evt_gwh_seek(h, "", 0), 0, "empty id");
	T_OK(strcmp(next_ids(h, 2), "e1 e2") == 0, "whole history, max 2");
	T_OK(strcmp(next_ids(h, 0), "e3") == 0, "rest of the message");
	T_OK(strcmp(next_ids(h, 0), "e4 e5") == 0, "and the next one");
	evt_gwh_free(h);
}

static void
test_bound_and_trim(void)
{
	struct evt_gwh_event *ev = mk(1);
	size_t len;
	struct evt_gwh *h;

	evt_gwh_event_text(ev, &len);
	evt_gwh_event_unref(ev);
	/* Room for 4 entries of this size (ids e1..e9 have equal length). */
	h = evt_gwh_new(4 * (len + EVT_GWH_ENTRY_OVERHEAD));
	for (unsigned i = 1; i <= 3; i++)
		push(h, i, i, 1);
	T_OK(strcmp(next_ids(h, 0), "e1") == 0, "send e1");
	T_OK(strcmp(next_ids(h, 0), "e2") == 0, "send e2");
	for (unsigned i = 4; i <= 6; i++)
		push(h, i, i, 1);
	T_EQ(evt_gwh_count(h), 4, "bounded to 4 entries");
	T_EQ(evt_gwh_take_lost(h), 0, "only sent entries were evicted");
	T_EQ(evt_gwh_take_lost(h), 0, "count resets");
	T_EQ(evt_gwh_seek(h, "e1", 2), EVT_ERR_NOTFOUND,
	    "evicted id cannot be resumed from");
	T_EQ(evt_gwh_unsent(h), 4, "e3..e6 unsent");
	push(h, 7, 7, 1);
	push(h, 8, 8, 1);
	T_EQ(evt_gwh_take_lost(h), 2, "unsent e3, e4 evicted: lost");
	T_EQ(evt_gwh_bytes(h), 4 * (len + EVT_GWH_ENTRY_OVERHEAD), "bytes");
	T_OK(strcmp(next_ids(h, 0), "e5") == 0, "sending goes on at e5");
	T_OK(strcmp(next_ids(h, 0), "e6") == 0, "e6");
	T_EQ(evt_gwh_trim(h, 100), 2, "trim drops only the sent e5, e6");
	T_EQ(evt_gwh_count(h), 2, "e7, e8 stay although old");
	T_EQ(evt_gwh_trim(h, 100), 0, "nothing more");
	T_OK(strcmp(next_ids(h, 0), "e7") == 0, "e7");
	T_EQ(evt_gwh_trim(h, 7), 0, "cutoff 7 keeps e7 (time 7)");
	T_EQ(evt_gwh_trim(h, 8), 1, "cutoff 8 drops it");
	T_EQ(evt_gwh_unsent_bytes(h), len + EVT_GWH_ENTRY_OVERHEAD,
	    "e8 unsent");
	evt_gwh_free(h);
}

static void
test_shared(void)
{
	struct evt_gwh *a = evt_gwh_new(0), *b = evt_gwh_new(0);
	struct evt_gwh_event *ev = mk(42);

	evt_gwh_push(a, ev, 0, 1);
	evt_gwh_push(b, ev, 0, 1);
	evt_gwh_event_unref(ev);
	evt_gwh_free(a);
	T_OK(strcmp(next_ids(b, 0), "e42") == 0,
	    "an event outlives one of the histories sharing it");
	evt_gwh_free(b);
}

/* Random pushes, sends, seeks and evictions against a model. */
static void
test_random(void)
{
	enum { N = 20000 };
	static unsigned model[N];
	unsigned pushed = 0, first = 0, cur = 0, bad = 0;
	size_t len;
	struct evt_gwh_event *ev = mk(10000);
	struct evt_gwh *h;
	char id[32];

	evt_gwh_event_text(ev, &len);
	evt_gwh_event_unref(ev);
	/* Ids e10000..e29999 all have the same length. */
	h = evt_gwh_new(300 * (len + EVT_GWH_ENTRY_OVERHEAD));
	for (int step = 0; step < 60000 && pushed < N; step++) {
		unsigned r = (unsigned)(rng() % 100);

		if (r < 50) {
			unsigned k = 1 + (unsigned)(rng() % 5);

			for (unsigned j = 0; j < k && pushed < N; j++) {
				model[pushed] = 10000 + pushed;
				push(h, model[pushed], step, j == 0);
				pushed++;
			}
			if (pushed - first > 300) {
				/* Evicted; the cursor follows the head. */
				first = pushed - 300;
				if (cur < first)
					cur = first;
			}
		} else if (r < 90) {
			/* Next message: must be model[cur..] in order. */
			const char *got = next_ids(h, 0);
			char want[32];

			if (cur == pushed) {
				bad += got[0] != '\0';
				continue;
			}
			snprintf(want, sizeof want, "e%u", model[cur]);
			if (strncmp(got, want, strlen(want)) != 0 ||
			    (got[strlen(want)] != ' ' &&
			    got[strlen(want)] != '\0')) {
				bad++;
				continue;
			}
			for (const char *p = got; p != NULL;
			    p = strchr(p + 1, ' '))
				cur++;
		} else if (pushed > first) {
			/* Resume from a random known event, or an evicted
			 * one. */
			unsigned back = (unsigned)(rng() % 400);
			unsigned at = pushed - 1 - (back < pushed - 1 ?
			    back : pushed - 1);
			int rc;

			snprintf(id, sizeof id, "e%u", model[at]);
			rc = evt_gwh_seek(h, id, strlen(id));
			if (at < first)
				bad += rc != EVT_ERR_NOTFOUND;
			else {
				bad += rc != 0;
				cur = at + 1;
			}
		}
		bad += evt_gwh_unsent(h) != pushed - cur;
		bad += evt_gwh_count(h) != pushed - first;
	}
	T_EQ(bad, 0, "random walk matches the model (%u events)", pushed);
	evt_gwh_free(h);
}

/* A raw frame goes out alone and verbatim, between the messages around
 * it, and is never a resume point. */
static void
test_raw(void)
{
	struct evt_gwh *h = evt_gwh_new(0);
	struct evt_gwh_event *raw = evt_gwh_raw_new("not JSON {", 10);
	struct evt_buf b = { 0 };

	struct evt_gwh_event *ev = mk(0);

	T_OK(raw != NULL && evt_gwh_event_is_raw(raw) &&
	    !evt_gwh_event_is_raw(ev), "raw entry made; an event is not raw");
	evt_gwh_event_unref(ev);
	push(h, 1, 1, 1);
	push(h, 2, 1, 0);
	T_EQ(evt_gwh_push(h, raw, 2, 1), 0, "push raw");
	push(h, 3, 3, 0);	/* not a message start: still after the raw */
	push(h, 4, 3, 0);
	T_OK(strcmp(next_ids(h, 0), "e1 e2") == 0, "events before the raw");
	T_EQ(evt_gwh_next(h, &b, 0), 1, "the raw frame counts 1");
	T_OK(b.len == 10 && memcmp(b.p, "not JSON {", 10) == 0,
	    "the raw frame alone, verbatim");
	T_OK(strcmp(next_ids(h, 0), "e3 e4") == 0, "events after the raw");
	T_EQ(evt_gwh_seek(h, "e2", 2), 0, "resume after e2");
	b.len = 0;
	T_EQ(evt_gwh_next(h, &b, 0), 1, "the raw frame again");
	T_OK(strcmp(next_ids(h, 0), "e3 e4") == 0, "then the events");
	evt_gwh_event_unref(raw);
	evt_buf_free(&b);
	evt_gwh_free(h);
}

int
main(void)
{
	test_event_fields();
	test_grouping_and_seek();
	test_bound_and_trim();
	test_shared();
	test_random();
	test_raw();
	T_DONE();
}
