/*
 * wscount: the benchmark client of tests/bench/gateway.sh.  Connects to a
 * gateway's Events and State API with a Bearer token (evt_wsclient, as the
 * recorder does), starts a session, subscribes to everything, and only
 * counts: every text frame is classified (evt_ess_classify, one JSON parse)
 * and its events counted until N have arrived.  Prints one line
 * "EVENTS SECONDS MESSAGES" (from the first event to the Nth) on stdout;
 * exits 1 on any failure.  With STAMPS (tests/bench/replay.sh, lateness at a client),
 * also writes "<monotonic us> <events>" for every event message to that
 * file at the end (kept in memory meanwhile, so no I/O between arrivals).
 * With "ids" after STAMPS (tests/bench/follow.sh, the direct client beside
 * the follower), each line is "<wall clock us> <first event's id>" instead:
 * the form of evsim --log-sent-times and of linestamp.
 *
 *   wscount PORT TOKEN_FILE N [STAMPS [ids]]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "evtape/buf.h"
#include "evtape/ess.h"
#include "evtape/httpc.h"
#include "evtape/json.h"
#include "evtape/wsclient.h"
#include "evtape/timefmt.h"
#include "evtape/wsconn.h"

static const char ALL[] = "[{\"modifier\":\"include\",\"resourceTypes\":"
    "[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]";

struct counter {
	struct event_base *base;
	struct evt_wsconn *ws;
	struct evt_jparser jp;
	uint64_t want, got, msgs;
	double t0, t1;
	uint64_t *stamps;	/* pairs: arrival us, events; NULL: none */
	size_t nstamps, capstamps;
	int ids;		/* "ids": wall clock us, first event's id */
	char (*id)[40];		/* with ids: each stamp's */
	int failed;
};

/* Returns the monotonic clock in seconds. */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Keeps the id of the message's first event (its first "id") as stamp
 * i's, and the wall clock as its time. */
static void
stamp_id(struct counter *c, size_t i, const char *msg, size_t len)
{
	const char *p = memmem(msg, len, "\"id\":\"", 6);
	size_t n = 0;

	c->stamps[2 * i] = (uint64_t)evt_wall_us();
	if (p != NULL) {
		p += 6;
		while (n < sizeof c->id[i] - 1 && p + n < msg + len &&
		    p[n] != '"')
			n++;
		memcpy(c->id[i], p, n);
	}
	c->id[i][n] = '\0';
}

/* A frame: counts its events, stops at the goal. */
static void
text_cb(struct evt_wsconn *ws, const char *msg, size_t len, void *arg)
{
	struct counter *c = arg;
	struct evt_ess_msg m;

	if (evt_ess_classify(&c->jp, msg, len, &m) < 0) {
		fprintf(stderr, "wscount: out of memory\n");
		exit(1);
	}
	if (m.kind == EVT_ESS_RESPONSE && (m.status < 200 || m.status > 299)) {
		fprintf(stderr, "wscount: command %lld answered %d\n",
		    (long long)m.command_id, m.status);
		c->failed = 1;
		event_base_loopbreak(c->base);
		return;
	}
	if (m.kind != EVT_ESS_EVENTS)
		return;
	if (c->got == 0)
		c->t0 = now_s();
	if (c->stamps != NULL) {
		if (c->nstamps == c->capstamps) {
			c->capstamps *= 2;
			c->stamps = realloc(c->stamps, 2 * c->capstamps *
			    sizeof *c->stamps);
			if (c->ids)
				c->id = realloc(c->id, c->capstamps *
				    sizeof *c->id);
			if (c->stamps == NULL || (c->ids && c->id == NULL)) {
				fprintf(stderr, "wscount: out of memory\n");
				exit(1);
			}
		}
		c->stamps[2 * c->nstamps] = (uint64_t)(now_s() * 1e6);
		c->stamps[2 * c->nstamps + 1] = m.nevents;
		if (c->ids)
			stamp_id(c, c->nstamps, msg, len);
		c->nstamps++;
	}
	c->got += m.nevents;
	c->msgs++;
	if (c->got >= c->want) {
		c->t1 = now_s();
		event_base_loopbreak(c->base);
	}
}

/* Writes the arrival stamps to path; returns 0 or -1 (said on stderr). */
static int
write_stamps(const char *path, const struct counter *c)
{
	FILE *f;
	size_t i;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		return -1;
	}
	for (i = 0; i < c->nstamps; i++)
		if (c->ids)
			fprintf(f, "%llu %s\n",
			    (unsigned long long)c->stamps[2 * i], c->id[i]);
		else
			fprintf(f, "%llu %llu\n",
			    (unsigned long long)c->stamps[2 * i],
			    (unsigned long long)c->stamps[2 * i + 1]);
	if (fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

/* The connection ended before the goal. */
static void
close_cb(struct evt_wsconn *ws, int code, const char *reason, void *arg)
{
	struct counter *c = arg;

	fprintf(stderr, "wscount: closed after %llu events: %d %s\n",
	    (unsigned long long)c->got, code, reason);
	c->ws = NULL;
	c->failed = 1;
	event_base_loopbreak(c->base);
}

/* Connected: startSession and addSubscription, pipelined. */
static void
connected_cb(void *arg, struct evt_wsconn *ws, int status, const char *why)
{
	struct counter *c = arg;
	struct evt_ess_client cl;
	struct evt_buf b = { 0 };

	if (ws == NULL) {
		fprintf(stderr, "wscount: cannot connect: %s (%d)\n", why,
		    status);
		c->failed = 1;
		event_base_loopbreak(c->base);
		return;
	}
	c->ws = ws;
	evt_ess_client_init(&cl);
	if (evt_ess_client_start_session(&cl, NULL, 0, NULL, 0, &b,
	    NULL) != 0 || evt_wsconn_send_text(ws, b.p, b.len) != 0) {
		fprintf(stderr, "wscount: cannot send\n");
		exit(1);
	}
	b.len = 0;
	if (evt_ess_client_add_subscription(&cl, ALL, strlen(ALL), &b,
	    NULL) != 0 || evt_wsconn_send_text(ws, b.p, b.len) != 0) {
		fprintf(stderr, "wscount: cannot send\n");
		exit(1);
	}
	evt_buf_free(&b);
}

/* Connects, counts, prints "EVENTS SECONDS". */
int
main(int argc, char **argv)
{
	struct counter c;
	struct evt_wsclient_opts o;
	struct evt_httpc_url u;
	struct evt_wsclient *att;
	char url[64], tok[4096];
	FILE *f;

	if (argc < 4 || argc > 6 || (argc == 6 && strcmp(argv[5],
	    "ids") != 0)) {
		fprintf(stderr, "usage: wscount PORT TOKEN_FILE N "
		    "[STAMPS [ids]]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&c, 0, sizeof c);
	if (argc >= 5) {
		c.capstamps = 4096;
		c.ids = argc == 6;
		if ((c.stamps = malloc(2 * c.capstamps *
		    sizeof *c.stamps)) == NULL || (c.ids && (c.id =
		    malloc(c.capstamps * sizeof *c.id)) == NULL))
			return 1;
	}
	c.want = strtoull(argv[3], NULL, 10);
	if ((f = fopen(argv[2], "r")) == NULL || fgets(tok, sizeof tok,
	    f) == NULL) {
		fprintf(stderr, "wscount: cannot read %s\n", argv[2]);
		return 1;
	}
	fclose(f);
	tok[strcspn(tok, "\r\n")] = '\0';
	snprintf(url, sizeof url, "http://127.0.0.1:%s", argv[1]);
	if (evt_httpc_url_parse(url, &u) != 0 ||
	    (c.base = event_base_new()) == NULL) {
		fprintf(stderr, "wscount: bad port %s\n", argv[1]);
		return 1;
	}
	evt_json_init(&c.jp, 64);
	memset(&o, 0, sizeof o);
	o.base = c.base;
	o.ws.on_text = text_cb;
	o.ws.on_close = close_cb;
	o.ws.arg = &c;
	if (evt_wsclient_connect(&o, &u, tok, connected_cb, &c, &att) != 0) {
		fprintf(stderr, "wscount: cannot start connecting\n");
		return 1;
	}
	event_base_dispatch(c.base);
	if (!c.failed)
		printf("%llu %.6f %llu\n", (unsigned long long)c.got,
		    c.t1 - c.t0, (unsigned long long)c.msgs);
	if (c.stamps != NULL && !c.failed && write_stamps(argv[4], &c) != 0)
		c.failed = 1;
	free(c.stamps);
	free(c.id);
	evt_wsconn_free(c.ws);
	evt_json_free(&c.jp);
	event_base_free(c.base);
	return c.failed;
}
