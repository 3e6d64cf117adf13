/*
 * natspub: the baseline of evrec --publish's rate (bench/nats.sh): a
 * minimal program written directly on the same C client (libnats) that
 * publishes the same payloads asynchronously into a JetStream stream and
 * waits for every acknowledgement.
 *
 *   natspub URL FILE [--prefix P] [--window N] [--user U --password-file F]
 *           [--all-headers SITE]
 *
 * FILE: one event per line (`evtool cat` output), read into memory before
 * the clock starts.  Each line is published as it is to
 * P.ev.<rt>.<type> (the subject of formats/nats.md: rt the event's source
 * up to its first '/', type its type, each made a token; found by a plain
 * scan for "source":" and "type":", no JSON parse) with the header
 * Nats-Msg-Id: the event's id; at most N (default 4096) publishes await
 * their acknowledgement at once (js_PublishAsync's MaxPending).  With
 * --all-headers, every header of formats/nats.md too, values of their
 * form (receive time now, an archive uuid, segment 1, frame ordinal =
 * line number, item 0/1, the site, kind event): the bytes evrec's
 * messages take.  What evrec does beside this is not done here: reading
 * the archive, the position file.  Prints
 *   acked N failed F seconds S rate R
 * (R: acknowledged events per second, from the first publish to the last
 * acknowledgement).  Exit 0 if every message was acknowledged.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "evtape/cli.h"

static atomic_ullong acked, failed;

static void
on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	if (pa != NULL)
		atomic_fetch_add(&acked, 1);
	else {
		if (atomic_fetch_add(&failed, 1) == 0 && pae != NULL)
			evt_cli_err("publish failed: %s (%d)",
			    pae->ErrText != NULL ? pae->ErrText :
			    natsStatus_GetText(pae->Err), (int)pae->ErrCode);
	}
	natsMsg_Destroy(m);
}

/* The string value after key (e.g. "\"type\":\"") in line[0..n), its
 * length in *len; NULL if absent. */
static const char *
scan(const char *line, size_t n, const char *key, size_t *len)
{
	const char *p = memmem(line, n, key, strlen(key)), *e;

	if (p == NULL)
		return NULL;
	p += strlen(key);
	e = memchr(p, '"', n - (size_t)(p - line));
	if (e == NULL)
		return NULL;
	*len = (size_t)(e - p);
	return p;
}

/* Appends s[0..n) as a subject token: bytes outside [A-Za-z0-9_-] become
 * '_', empty becomes "_". */
static char *
token(char *o, const char *s, size_t n)
{
	size_t i;

	if (s == NULL || n == 0) {
		*o++ = '_';
		return o;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-';
		*o++ = ok ? c : '_';
	}
	return o;
}

/* The other headers of an event message (formats/nats.md), values of
 * their form. */
static void
all_headers(natsMsg *m, const char *site, unsigned long long ordinal)
{
	char v[128];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(v, sizeof v, "%lld", (long long)ts.tv_sec * 1000000 +
	    ts.tv_nsec / 1000);
	natsMsgHeader_Set(m, "Evtape-Rx", v);
	snprintf(v, sizeof v, "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f/1/%llu",
	    ordinal);
	natsMsgHeader_Set(m, "Evtape-Frame", v);
	natsMsgHeader_Set(m, "Evtape-Item", "0/1");
	natsMsgHeader_Set(m, "Evtape-Site", site);
	natsMsgHeader_Set(m, "Evtape-Kind", "event");
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long sz;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0)
		evt_cli_fatal("%s: cannot read", path);
	rewind(f);
	if ((b = malloc((size_t)sz + 1)) == NULL ||
	    fread(b, 1, (size_t)sz, f) != (size_t)sz)
		evt_cli_fatal("%s: cannot read", path);
	fclose(f);
	*n = (size_t)sz;
	return b;
}

int
main(int argc, char **argv)
{
	const char *url = NULL, *file = NULL, *prefix = "xprotect.bench";
	const char *user = NULL, *pwfile = NULL, *site = NULL;
	unsigned long long line_no = 0;
	int64_t window = 4096;
	natsOptions *no = NULL;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	jsPubOptions po;
	char *buf, *p, *end, subj[1024], id[256];
	size_t n;
	double t0, t1;
	natsStatus s;
	int i;

	evt_cli_init("natspub");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc)
			prefix = argv[++i];
		else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
			window = (int64_t)evt_cli_count_arg("--window",
			    argv[++i]);
		else if (strcmp(argv[i], "--all-headers") == 0 && i + 1 < argc)
			site = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--password-file") == 0 &&
		    i + 1 < argc)
			pwfile = argv[++i];
		else if (url == NULL)
			url = argv[i];
		else if (file == NULL)
			file = argv[i];
		else
			evt_cli_usage_err("%s: unexpected", argv[i]);
	}
	if (file == NULL || strlen(prefix) > 200)
		evt_cli_usage_err("usage: natspub URL FILE [--prefix P] "
		    "[--window N] [--user U --password-file F] "
		    "[--all-headers SITE]");
	buf = slurp(file, &n);
	if (natsOptions_Create(&no) != NATS_OK ||
	    natsOptions_SetURL(no, url) != NATS_OK)
		evt_cli_fatal("%s: bad URL", url);
	if (user != NULL) {
		char *pw = evt_cli_secret_arg("natspub", "--password-file",
		    pwfile);
		natsOptions_SetUserInfo(no, user, pw);
		evt_cli_free_secret(pw);
	}
	if ((s = natsConnection_Connect(&nc, no)) != NATS_OK)
		evt_cli_fatal("%s: connect: %s", url, natsStatus_GetText(s));
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = window;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.StallWait = 10000;
	if (natsConnection_JetStream(&js, nc, &jo) != NATS_OK)
		evt_cli_fatal("out of memory");

	t0 = now();
	for (p = buf, end = buf + n; p < end;) {
		const char *line = p, *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *src, *typ, *eid, *slash;
		size_t sl = 0, tl = 0, il = 0;
		natsMsg *m = NULL;
		char *o;

		p = nl != NULL ? p + len + 1 : end;
		if (len == 0)
			continue;
		src = scan(line, len, "\"source\":\"", &sl);
		typ = scan(line, len, "\"type\":\"", &tl);
		eid = scan(line, len, "\"id\":\"", &il);
		if (src != NULL && (slash = memchr(src, '/', sl)) != NULL)
			sl = (size_t)(slash - src);
		if (sl > 300 || tl > 300 || il >= sizeof id)
			src = typ = eid = NULL;
		o = subj + sprintf(subj, "%s.ev.", prefix);
		o = token(o, src, sl);
		*o++ = '.';
		o = token(o, typ, tl);
		*o = '\0';
		if (natsMsg_Create(&m, subj, NULL, line, (int)len) != NATS_OK)
			evt_cli_fatal("out of memory");
		if (eid != NULL && il > 0) {
			memcpy(id, eid, il);
			id[il] = '\0';
			natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		}
		if (site != NULL)
			all_headers(m, site, ++line_no);
		if ((s = js_PublishMsgAsync(js, &m, NULL)) != NATS_OK)
			evt_cli_fatal("publish: %s", natsStatus_GetText(s));
		natsMsg_Destroy(m);
	}
	jsPubOptions_Init(&po);
	po.MaxWait = 600000;
	if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK)
		evt_cli_err("waiting for acknowledgements: %s",
		    natsStatus_GetText(s));
	t1 = now();
	printf("acked %llu failed %llu seconds %.3f rate %.0f\n",
	    (unsigned long long)atomic_load(&acked),
	    (unsigned long long)atomic_load(&failed), t1 - t0,
	    (double)atomic_load(&acked) / (t1 - t0));
	free(buf);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	natsOptions_Destroy(no);
	nats_CloseAndWait(1000);
	return atomic_load(&failed) == 0 ? 0 : 1;
}
