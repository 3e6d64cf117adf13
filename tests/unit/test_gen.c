/*
 * test_gen.c: unit tests for src/gen.c, the synthetic traffic generator.
 *
 * Messages are checked with a small layout scanner written for the exact
 * shape gen.h promises (key order, no whitespace, GUID forms); it is not a
 * JSON parser, only enough to find every event and its fields.  Checked:
 * determinism, envelope and event layout, the event mix, the rate, time
 * forms and ordering, id uniqueness, per-camera state alternation, and that
 * evt_gen_states reports the latest stateful event of every camera.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/gen.h"
#include "evtape/timefmt.h"
#include "t.h"

#define T_MOTION_START "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"
#define T_MOTION_STOP "6f55a7a7-d21c-4629-ac18-af1975e395a2"
#define SG_MOTION "720ef62a-78be-418a-8e4c-ee04ffca6429"
#define T_REC_START "4577f552-765a-438c-bc7d-e5ff1f754bc3"
#define T_REC_STOP "79a94f89-92de-4fca-8a43-5561d407423d"
#define SG_RECORDING "3e732c3f-c751-49e0-9f54-07cd07330586"
#define T_FPS_WARNING "6f67d5ac-9647-4eea-8c98-a5410c32cf1a"
#define T_ANALYTICS "dae618b9-0049-4bd8-aa67-b80d6da890f2"

enum ev_type { E_MSTART, E_MSTOP, E_RSTART, E_RSTOP, E_FPS, E_DATA, E_N };

/* One event as found by scan_event; pointers into the message. */
struct ev {
	const char	*id;		/* 36 chars */
	const char	*cam;		/* 36 chars after "cameras/" */
	const char	*sg;		/* 36 chars or NULL */
	int64_t		 ticks;
	enum ev_type	 type;
	const char	*data;		/* the data object or NULL */
	size_t		 datalen;
};

/* Returns 1 if p starts with the literal lit, and advances *pp past it. */
static int
eat(const char **pp, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *pp) < n || memcmp(*pp, lit, n) != 0)
		return 0;
	*pp += n;
	return 1;
}

/* Returns 1 if p[0..36) is a lower-case GUID. */
static int
is_guid(const char *p, const char *end)
{
	int i;

	if (end - p < 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (p[i] != '-')
				return 0;
		} else if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* Returns 1 if p is a version-4, variant-1 GUID. */
static int
is_v4(const char *p)
{
	return p[14] == '4' && strchr("89ab", p[19]) != NULL;
}

/*
 * Skips one object starting at p ('{'), string-aware, refusing whitespace
 * outside strings; returns the position after its '}' or NULL.
 */
static const char *
skip_object(const char *p, const char *end)
{
	int depth = 0, instr = 0;

	for (; p < end; p++) {
		if (instr) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				instr = 0;
			else if ((unsigned char)*p < 0x20)
				return NULL;
			continue;
		}
		switch (*p) {
		case '"':
			instr = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (--depth == 0)
				return p + 1;
			break;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			return NULL;
		}
	}
	return NULL;
}

/* Scans one event at p in gen.h's exact layout; returns its end or NULL. */
static const char *
scan_event(const char *p, const char *end, struct ev *e)
{
	static const char *const types[] = {
		T_MOTION_START, T_MOTION_STOP, T_REC_START, T_REC_STOP,
		T_FPS_WARNING, T_ANALYTICS
	};
	int i;

	memset(e, 0, sizeof(*e));
	if (!eat(&p, end, "{\"id\":\"") || !is_guid(p, end))
		return NULL;
	e->id = p;
	p += 36;
	if (!eat(&p, end, "\",\"source\":\"cameras/") || !is_guid(p, end))
		return NULL;
	e->cam = p;
	p += 36;
	if (!eat(&p, end, "\",\"specversion\":\"1.0\","))
		return NULL;
	if (eat(&p, end, "\"stategroupid\":\"")) {
		if (!is_guid(p, end))
			return NULL;
		e->sg = p;
		p += 36;
		if (!eat(&p, end, "\","))
			return NULL;
	}
	if (!eat(&p, end, "\"time\":\"") || end - p < EVT_TICKS_LEN ||
	    !evt_ticks_parse(p, EVT_TICKS_LEN, &e->ticks))
		return NULL;
	p += EVT_TICKS_LEN;
	if (!eat(&p, end, "\",\"type\":\"") || !is_guid(p, end))
		return NULL;
	for (i = 0; i < E_N; i++)
		if (memcmp(p, types[i], 36) == 0)
			break;
	if (i == E_N)
		return NULL;
	e->type = (enum ev_type)i;
	p += 36;
	if (!eat(&p, end, "\""))
		return NULL;
	if (eat(&p, end, ",\"datacontenttype\":\"application/json\","
	    "\"data\":")) {
		e->data = p;
		if ((p = skip_object(p, end)) == NULL)
			return NULL;
		e->datalen = (size_t)(p - e->data);
	}
	if (!eat(&p, end, "}"))
		return NULL;

	/* Which types carry which state group, and only those. */
	switch (e->type) {
	case E_MSTART:
	case E_MSTOP:
		if (e->sg == NULL || memcmp(e->sg, SG_MOTION, 36) != 0)
			return NULL;
		break;
	case E_RSTART:
	case E_RSTOP:
		if (e->sg == NULL || memcmp(e->sg, SG_RECORDING, 36) != 0)
			return NULL;
		break;
	default:
		if (e->sg != NULL)
			return NULL;
	}
	if ((e->type == E_DATA) != (e->data != NULL))
		return NULL;
	return p;
}

/*
 * Scans a whole message {"events":[...]} into evs (room for max); returns
 * the number of events or -1 if the layout is wrong.
 */
static int
scan_message(const char *json, size_t len, struct ev *evs, int max)
{
	const char *p = json, *end = json + len;
	int n = 0;

	if (!eat(&p, end, "{\"events\":["))
		return -1;
	for (;;) {
		if (n == max || (p = scan_event(p, end, &evs[n])) == NULL)
			return -1;
		n++;
		if (!eat(&p, end, ","))
			break;
	}
	if (!eat(&p, end, "]}") || p != end || json[len] != '\0')
		return -1;
	return n;
}

/*
 * Scans a states array [...] into evs (room for max); returns the number
 * of states or -1.
 */
static int
scan_states(const char *json, size_t len, struct ev *evs, int max)
{
	const char *p = json, *end = json + len;
	int n = 0;

	if (!eat(&p, end, "["))
		return -1;
	if (eat(&p, end, "]"))
		return p == end ? 0 : -1;
	for (;;) {
		if (n == max || (p = scan_event(p, end, &evs[n])) == NULL)
			return -1;
		if (evs[n].sg == NULL)
			return -1;
		n++;
		if (!eat(&p, end, ","))
			break;
	}
	if (!eat(&p, end, "]") || p != end)
		return -1;
	return n;
}

/* Returns the 128-bit value of a GUID's hex digits as two halves. */
static void
guid_bits(const char *p, uint64_t out[2])
{
	int i, k = 0;
	unsigned v;

	out[0] = out[1] = 0;
	for (i = 0; i < 36; i++) {
		if (p[i] == '-')
			continue;
		v = (unsigned)(p[i] <= '9' ? p[i] - '0' : p[i] - 'a' + 10);
		out[k / 16] = out[k / 16] << 4 | v;
		k++;
	}
}

/* qsort comparison of 128-bit values. */
static int
cmp128(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	if (x[1] != y[1])
		return x[1] < y[1] ? -1 : 1;
	return 0;
}

/* qsort comparison of 36-character camera GUIDs, through pointers. */
static int
cmpcam(const void *a, const void *b)
{
	char *const *x = a, *const *y = b;

	return memcmp(*x, *y, 36);
}

/* qsort comparison of counts, descending. */
static int
cmpdesc(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return *x < *y ? 1 : *x > *y ? -1 : 0;
}

/* Two generators with these options give the same bytes for nmsg messages. */
static int
same_output(const struct evt_gen_opts *o1, const struct evt_gen_opts *o2,
    int nmsg)
{
	struct evt_gen *a = evt_gen_new(o1), *b = evt_gen_new(o2);
	const char *ja, *jb;
	size_t la, lb;
	int64_t ra, rb;
	uint32_t na, nb;
	int i, same = 1;

	if (a == NULL || b == NULL)
		abort();
	la = evt_gen_states(a, &ja);
	lb = evt_gen_states(b, &jb);
	if (la != lb || memcmp(ja, jb, la) != 0)
		same = 0;
	for (i = 0; i < nmsg && same; i++) {
		la = evt_gen_next(a, &ja, &ra, &na);
		lb = evt_gen_next(b, &jb, &rb, &nb);
		if (la != lb || ra != rb || na != nb || memcmp(ja, jb, la) != 0)
			same = 0;
	}
	la = evt_gen_states(a, &ja);
	lb = evt_gen_states(b, &jb);
	if (la != lb || memcmp(ja, jb, la) != 0)
		same = 0;
	evt_gen_free(a);
	evt_gen_free(b);
	return same;
}

/* Checks determinism across generators and seeds. */
static void
test_determinism(void)
{
	struct evt_gen_opts o1, o2;

	memset(&o1, 0, sizeof(o1));
	o1.seed = 42;
	o1.ncameras = 500;
	o1.rate = 1000;
	o1.data_fraction = 0.05;
	o2 = o1;
	T_OK(same_output(&o1, &o2, 20000), "same seed: identical bytes");
	o2.seed = 43;
	T_OK(!same_output(&o1, &o2, 20000), "different seed: different bytes");
	o2 = o1;
	o2.rate = 2000;
	T_OK(!same_output(&o1, &o2, 20000), "different rate: different bytes");
}

/* Checks the defaults of zeroed options. */
static void
test_defaults(void)
{
	struct evt_gen_opts o;
	struct evt_gen *g;
	struct ev *evs;
	const char *json;
	size_t len;
	int64_t rx;
	uint32_t n;
	int ns, i, bad = 0;

	memset(&o, 0, sizeof(o));
	if ((g = evt_gen_new(&o)) == NULL || (evs = calloc(8000,
	    sizeof(*evs))) == NULL)
		abort();
	len = evt_gen_states(g, &json);
	ns = scan_states(json, len, evs, 8000);
	T_EQ(ns, 2 * 2659, "default: 2659 cameras, two states each");
	for (i = 0; i < ns; i++) {
		if (evs[i].ticks >= 17676000000000000LL)
			bad++;
		if (evs[i].type != (i % 2 == 0 ? E_MSTOP : E_RSTART))
			bad++;
		if (i % 2 == 1 && memcmp(evs[i].cam, evs[i - 1].cam, 36) != 0)
			bad++;
	}
	T_EQ(bad, 0, "default: initial states motion stopped, recording "
	    "started, before start");
	evt_gen_next(g, &json, &rx, &n);
	T_EQ(rx, 1767600000000000LL, "default: first rx 2026-01-05T08:00:00Z");
	evt_gen_free(g);

	o.start_us = 1000000;
	o.ncameras = 1;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	evt_gen_next(g, &json, &rx, &n);
	T_EQ(rx, 1000000, "start_us honoured");
	len = evt_gen_states(g, &json);
	T_EQ(scan_states(json, len, evs, 8000), 2, "one camera: two states");
	evt_gen_free(g);
	free(evs);
}

/* Generates >= 200k events at default options and checks everything. */
static void
test_stream(void)
{
	struct evt_gen_opts o;
	struct evt_gen *g;
	struct ev evs[16], *st;
	const char *json;
	char **cams;
	uint64_t (*ids)[2];
	uint32_t *counts;
	size_t len, total = 0, nmsg = 0, bytes = 0, i, ncam, top10, sum;
	int64_t rx, first_rx = 0, last_rx = 0, tt;
	uint32_t n;
	long cnt[E_N] = { 0 };
	int k, ns, layout = 0, badn = 0, badrx = 0, badtime = 0, badorder = 0;
	int badv4 = 0, dups = 0, round = 0, badstate = 0, mon = 0, roff = 0;
	double rate, frac;

	memset(&o, 0, sizeof(o));
	o.seed = 7;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	ids = malloc(210000 * sizeof(*ids));
	cams = malloc(210000 * sizeof(*cams));
	if (ids == NULL || cams == NULL)
		abort();
	while (total < 200000) {
		len = evt_gen_next(g, &json, &rx, &n);
		bytes += len;
		if (nmsg++ == 0)
			first_rx = rx;
		else if (rx < last_rx)
			badrx++;
		last_rx = rx;
		ns = scan_message(json, len, evs, 16);
		if (ns < 0) {
			if (layout++ < 3)
				printf("# bad layout: %.*s\n", (int)len, json);
			continue;
		}
		if (n < 1 || n > 8 || (uint32_t)ns != n)
			badn++;
		for (k = 0; k < ns; k++) {
			cnt[evs[k].type]++;
			if (evs[k].ticks > rx * 10 ||
			    evs[k].ticks < rx * 10 - 10000000)
				badtime++;
			if (k > 0 && evs[k].ticks < evs[k - 1].ticks)
				badorder++;
			if (!is_v4(evs[k].id) || !is_v4(evs[k].cam))
				badv4++;
			if (evs[k].ticks % 10000 == 0)
				round++;
			if (total + (size_t)k < 210000)
				guid_bits(evs[k].id, ids[total + k]);
		}
		/* Camera pointers point into the message buffer: copy them. */
		for (k = 0; k < ns && total + (size_t)k < 210000; k++) {
			char *c = malloc(36);

			if (c == NULL)
				abort();
			memcpy(c, evs[k].cam, 36);
			cams[total + k] = c;
		}
		total += n;
	}
	T_EQ(layout, 0, "every message is {\"events\":[...]} in gen.h's layout");
	T_EQ(badn, 0, "nevents is 1..8 and matches the message");
	T_EQ(badrx, 0, "receive times never go back");
	T_EQ(badtime, 0, "event times within 1 s before their rx time");
	T_EQ(badorder, 0, "event times ascend within a message");
	T_EQ(badv4, 0, "ids and cameras are version-4 GUIDs");
	T_OK(round < (long)total / 100, "times carry full tick precision "
	    "(%d of %zu on a whole ms)", round, total);

	qsort(ids, total, sizeof(*ids), cmp128);
	for (i = 1; i < total; i++)
		if (cmp128(ids[i - 1], ids[i]) == 0)
			dups++;
	T_EQ(dups, 0, "%zu event ids unique", total);

	rate = (double)(total - n) / ((double)(last_rx - first_rx) / 1e6);
	T_OK(rate > 190 && rate < 210, "mean rate %.1f events/s ~ 200", rate);
	T_OK((double)total / nmsg > 2.5 && (double)total / nmsg < 3.3,
	    "mean events per message %.2f", (double)total / nmsg);
	printf("# %zu events in %zu messages, %.1f bytes/event\n", total,
	    nmsg, (double)bytes / total);

	frac = (double)(cnt[E_MSTART] + cnt[E_MSTOP]) / total;
	T_OK(frac > 0.74 && frac < 0.82, "motion share %.3f", frac);
	frac = (double)(cnt[E_RSTART] + cnt[E_RSTOP]) / total;
	T_OK(frac > 0.17 && frac < 0.23, "recording share %.3f", frac);
	frac = (double)cnt[E_FPS] / total;
	T_OK(frac > 0.015 && frac < 0.03, "FPS warning share %.4f", frac);
	frac = (double)cnt[E_DATA] / total;
	T_OK(frac > 0.003 && frac < 0.008, "payload share %.4f", frac);

	/* Started - stopped is the number of cameras now in motion etc. */
	len = evt_gen_states(g, &json);
	st = calloc(8000, sizeof(*st));
	if (st == NULL)
		abort();
	ns = scan_states(json, len, st, 8000);
	T_EQ(ns, 2 * 2659, "states: two per camera after events");
	for (k = 0; k < ns; k++) {
		if (st[k].type == E_MSTART)
			mon++;
		else if (st[k].type == E_RSTOP)
			roff++;
		else if (st[k].type != E_MSTOP && st[k].type != E_RSTART)
			badstate++;
	}
	T_EQ(badstate, 0, "states hold only motion/recording types");
	T_EQ(cnt[E_MSTART] - cnt[E_MSTOP], mon,
	    "motion started - stopped = cameras in motion");
	T_EQ(cnt[E_RSTOP] - cnt[E_RSTART], roff,
	    "recording stopped - started = cameras not recording");
	free(st);

	/* Skew: a few busy cameras, a long tail. */
	qsort(cams, 210000 < total ? 210000 : total, sizeof(*cams), cmpcam);
	counts = calloc(210000, sizeof(*counts));
	if (counts == NULL)
		abort();
	ncam = 0;
	for (i = 0; i < total && i < 210000; i++) {
		if (i == 0 || memcmp(cams[i - 1], cams[i], 36) != 0)
			ncam++;
		counts[ncam - 1]++;
	}
	qsort(counts, ncam, sizeof(*counts), cmpdesc);
	top10 = ncam / 10;
	for (sum = 0, i = 0; i < top10; i++)
		sum += counts[i];
	frac = (double)counts[0] / total;
	T_OK(frac > 0.005 && frac < 0.05, "busiest camera share %.4f", frac);
	frac = (double)sum / total;
	T_OK(frac > 0.5 && frac < 0.95, "top 10%% of cameras share %.3f",
	    frac);
	T_OK(ncam > 2000, "%zu cameras seen", ncam);
	tt = counts[ncam - 1];
	T_OK(tt < 20, "quietest seen camera has %lld events", (long long)tt);
	for (i = 0; i < total && i < 210000; i++)
		free(cams[i]);
	free(cams);
	free(counts);
	free(ids);
	evt_gen_free(g);
}

/* Per camera: motion and recording alternate and states follow events. */
static void
test_alternation(void)
{
	struct evt_gen_opts o;
	struct evt_gen *g;
	struct ev evs[16], st[100];
	struct {
		char		 cam[36];
		int		 mon, rec;
		char		 mid[36], rid[36];
		int64_t		 mt, rt, last;
	} c[50];
	const char *json;
	size_t len, total = 0;
	int64_t rx;
	uint32_t n;
	int ns, k, j, badalt = 0, badcam = 0, badlast = 0, badst = 0;

	memset(&o, 0, sizeof(o));
	o.seed = 99;
	o.ncameras = 50;
	o.rate = 5000;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	len = evt_gen_states(g, &json);
	ns = scan_states(json, len, st, 100);
	T_EQ(ns, 100, "50 cameras: 100 initial states");
	if (ns != 100) {
		evt_gen_free(g);
		return;
	}
	for (j = 0; j < 50; j++) {
		memcpy(c[j].cam, st[2 * j].cam, 36);
		c[j].mon = 0;
		c[j].rec = 1;
		c[j].last = st[2 * j].ticks > st[2 * j + 1].ticks ?
		    st[2 * j].ticks : st[2 * j + 1].ticks;
	}
	while (total < 50000) {
		len = evt_gen_next(g, &json, &rx, &n);
		ns = scan_message(json, len, evs, 16);
		if (ns < 0) {
			badcam++;
			break;
		}
		for (k = 0; k < ns; k++) {
			for (j = 0; j < 50; j++)
				if (memcmp(c[j].cam, evs[k].cam, 36) == 0)
					break;
			if (j == 50) {
				badcam++;
				continue;
			}
			if (evs[k].ticks <= c[j].last)
				badlast++;
			c[j].last = evs[k].ticks;
			switch (evs[k].type) {
			case E_MSTART:
			case E_MSTOP:
				if ((evs[k].type == E_MSTART) == c[j].mon)
					badalt++;
				c[j].mon = evs[k].type == E_MSTART;
				memcpy(c[j].mid, evs[k].id, 36);
				c[j].mt = evs[k].ticks;
				break;
			case E_RSTART:
			case E_RSTOP:
				if ((evs[k].type == E_RSTART) == c[j].rec)
					badalt++;
				c[j].rec = evs[k].type == E_RSTART;
				memcpy(c[j].rid, evs[k].id, 36);
				c[j].rt = evs[k].ticks;
				break;
			default:
				break;
			}
		}
		total += n;
	}
	T_EQ(badcam, 0, "every event comes from a known camera");
	T_EQ(badalt, 0, "motion and recording alternate per camera");
	T_EQ(badlast, 0, "times strictly ascend per camera");

	len = evt_gen_states(g, &json);
	ns = scan_states(json, len, st, 100);
	T_EQ(ns, 100, "100 states after events");
	for (j = 0; j < 50 && ns == 100; j++) {
		if (memcmp(st[2 * j].cam, c[j].cam, 36) != 0 ||
		    memcmp(st[2 * j + 1].cam, c[j].cam, 36) != 0)
			badst++;
		if (st[2 * j].type != (c[j].mon ? E_MSTART : E_MSTOP) ||
		    memcmp(st[2 * j].id, c[j].mid, 36) != 0 ||
		    st[2 * j].ticks != c[j].mt)
			badst++;
		if (st[2 * j + 1].type != (c[j].rec ? E_RSTART : E_RSTOP) ||
		    memcmp(st[2 * j + 1].id, c[j].rid, 36) != 0 ||
		    st[2 * j + 1].ticks != c[j].rt)
			badst++;
	}
	T_EQ(badst, 0, "states are the latest event per camera and group");
	evt_gen_free(g);
}

/* Returns 1 if the payload object has the documented keys and times. */
static int
payload_ok(const struct ev *e)
{
	static const char *const keys[] = {
		"{\"description\":\"", "\",\"startTime\":\"", "\",\"endTime\":\"",
		"\",\"location\":{\"zone\":", ",\"latitude\":",
		",\"longitude\":", "},\"objects\":[{\"class\":\"",
		",\"confidence\":0.", ",\"trackId\":", ",\"box\":[",
		"],\"alarm\":", ",\"snapshots\":[]}"
	};
	const char *p = e->data, *end = e->data + e->datalen, *q;
	int64_t s = 0, t;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		q = memmem(p, (size_t)(end - p), keys[i], strlen(keys[i]));
		if (q == NULL)
			return 0;
		p = q + strlen(keys[i]);
		if (i == 1 && !evt_ticks_parse(p, EVT_TICKS_LEN, &s))
			return 0;
		if (i == 2 && (!evt_ticks_parse(p, EVT_TICKS_LEN, &t) ||
		    t != e->ticks || s > t))
			return 0;
	}
	return p == end;
}

/* Checks data_fraction at its extremes and the payload shape. */
static void
test_payloads(void)
{
	struct evt_gen_opts o;
	struct evt_gen *g;
	struct ev evs[16];
	const char *json;
	size_t len, total;
	int64_t rx;
	uint32_t n;
	long data = 0, bad = 0, floats = 0, neg = 0;
	int ns, k;

	memset(&o, 0, sizeof(o));
	o.seed = 5;
	o.data_fraction = -1;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	for (total = 0; total < 20000; total += n) {
		len = evt_gen_next(g, &json, &rx, &n);
		ns = scan_message(json, len, evs, 16);
		for (k = 0; k < ns; k++)
			data += evs[k].type == E_DATA;
		bad += ns < 0;
	}
	evt_gen_free(g);
	T_OK(bad == 0 && data == 0, "data_fraction < 0: no payloads");

	o.data_fraction = 1;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	for (total = 0; total < 5000; total += n) {
		len = evt_gen_next(g, &json, &rx, &n);
		ns = scan_message(json, len, evs, 16);
		if (ns < 0) {
			bad++;
			continue;
		}
		for (k = 0; k < ns; k++) {
			if (evs[k].type != E_DATA || !payload_ok(&evs[k]))
				bad++;
			if (memmem(evs[k].data, evs[k].datalen, ".125", 4))
				floats++;
			if (memmem(evs[k].data, evs[k].datalen, ":-", 2))
				neg++;
		}
	}
	evt_gen_free(g);
	T_EQ(bad, 0, "data_fraction 1: every event has a well-formed payload");
	T_OK(floats > 0 && neg > 0, "payloads vary (%ld with .125, %ld "
	    "negative)", floats, neg);
}

/* Checks that the rate option sets the mean event rate. */
static void
test_rate(void)
{
	struct evt_gen_opts o;
	struct evt_gen *g;
	const char *json;
	size_t total = 0;
	int64_t rx, first = 0;
	uint32_t n = 0;
	double rate;

	memset(&o, 0, sizeof(o));
	o.seed = 11;
	o.rate = 50000;
	if ((g = evt_gen_new(&o)) == NULL)
		abort();
	while (total < 200000) {
		evt_gen_next(g, &json, &rx, &n);
		if (total == 0)
			first = rx;
		total += n;
	}
	rate = (double)(total - n) / ((double)(rx - first) / 1e6);
	T_OK(rate > 47500 && rate < 52500, "rate 50000: measured %.0f", rate);
	evt_gen_free(g);
}

/* Sources of several resource types and late sources (evsim's
 * --resource-types and --late-sources). */
static void
test_kinds(void)
{
	static const char *const kinds[] = {"cameras", "inputEvents",
	    "outputs"};
	struct evt_gen_opts o;
	struct evt_gen *g, *d;
	const char *json, *kind, *id;
	int64_t rx;
	uint32_t n, nev = 0, ninput = 0, late_seen = 0;
	int bad_prefix = 0, cams_same = 1;

	memset(&o, 0, sizeof o);
	o.seed = 5;
	o.ncameras = 30;
	d = evt_gen_new(&o);
	o.kinds = kinds;
	o.nkinds = 3;
	o.nlate = 4;
	o.late_every = 100;
	g = evt_gen_new(&o);
	T_OK(g != NULL && d != NULL, "kinds: made");
	T_EQ(evt_gen_nsources(g), 30, "kinds: no late source before events");
	for (uint32_t i = 0; i < 30; i++) {
		id = evt_gen_source(g, i, &kind);
		T_OK(id != NULL, "kinds: source %u", i);
		if (strcmp(kind, kinds[i % 3]) != 0)
			bad_prefix = 1;
		if (memcmp(id, evt_gen_camera(d, i), 36) != 0)
			cams_same = 0;
	}
	T_OK(!bad_prefix, "kinds: source i is kinds[i %% 3]");
	T_OK(cams_same, "kinds: the same GUIDs as without the options");
	T_OK(evt_gen_source(g, 30, &kind) == NULL, "kinds: not yet");
	while (nev < 1000) {
		(void)evt_gen_next(g, &json, &rx, &n);
		if (strstr(json, "\"source\":\"inputEvents/") != NULL)
			ninput++;
		for (uint32_t k = evt_gen_nsources(g) > 30 ?
		    evt_gen_nsources(g) - 30 : 0; late_seen < k; late_seen++) {
			id = evt_gen_source(g, 30 + late_seen, &kind);
			char want[80];

			snprintf(want, sizeof want, "\"source\":\"%s/%.36s\"",
			    kind, id);
			T_OK(strstr(json, want) != NULL, "kinds: late source %u "
			    "appears in the message that adds it", late_seen);
			T_OK(nev >= (late_seen + 1) * 100 && nev < (late_seen +
			    1) * 100 + 8, "kinds: late source %u after %u "
			    "events", late_seen, (late_seen + 1) * 100);
		}
		nev += n;
	}
	T_EQ(evt_gen_nsources(g), 34, "kinds: all four late sources appeared");
	T_OK(ninput > 0, "kinds: events of inputEvents sources");
	evt_gen_free(g);
	evt_gen_free(d);
}

int
main(void)
{
	test_determinism();
	test_kinds();
	test_defaults();
	test_stream();
	test_alternation();
	test_payloads();
	test_rate();
	T_DONE();
}
