/*
 * test_merge.c: evt_merge on small archives written here (real files in a
 * private directory): the GAP rules of formats/records.md, "Merged
 * archives" (its worked example, a gap another input covers, gateways
 * that do not cover each other), partial frames, the dedupe window, and
 * that the order of the inputs does not change what is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/merge.h"
#include "evtape/record.h"
#include "evtape/segment.h"
#include "t.h"

static char base[64];
static int ndir;

#define S 1000000LL

/* A new archive directory's path (static storage, 8 in turn). */
static const char *
newdir(void)
{
	static char names[8][96];
	char *p = names[ndir % 8];
	snprintf(p, 96, "%s/a%d", base, ndir++);
	return p;
}

/* Writes an archive from a script: one item per line, "S rx gateway"
 * (a SESSION marker), "G rx" (a GAP marker), "E rx id,id,..." (a MSG
 * frame of events with these ids, each id a number made a GUID). */
static const char *
mk(const char *script)
{
	const char *dir = newdir();
	struct evt_archive *a;
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		return NULL;
	char line[256], body[1024];
	const char *p = script;
	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		snprintf(line, sizeof line, "%.*s", (int)n, p);
		p += n + (p[n] == '\n');
		char kind;
		double sec;
		char arg[200] = "";
		if (sscanf(line, "%c %lf %199s", &kind, &sec, arg) < 2)
			continue;
		int64_t rx = (int64_t)(sec * S);
		if (kind == 'S') {
			snprintf(body, sizeof body, "{\"event\":\"new\","
			    "\"sessionId\":\"s\",\"gateway\":\"%s\"}", arg);
			evt_archive_marker(a, EVT_K_SESSION, rx, body,
			    strlen(body));
		} else if (kind == 'G') {
			evt_archive_marker(a, EVT_K_GAP, rx, L("{\"reason\":"
			    "\"resume refused\"}"));
		} else {
			size_t o = (size_t)snprintf(body, sizeof body,
			    "{\"events\":[");
			for (char *tok = strtok(arg, ","); tok != NULL;
			    tok = strtok(NULL, ","))
				o += (size_t)snprintf(body + o, sizeof body - o,
				    "%s{\"id\":\"00000000-0000-4000-8000-%012d\"}",
				    body[o - 1] == '[' ? "" : ",", atoi(tok));
			snprintf(body + o, sizeof body - o, "]}");
			evt_archive_frame(a, rx, body, strlen(body));
		}
	}
	evt_archive_close(a);
	return dir;
}

/* Every frame and marker of archive dir as "KIND RX TEXT" lines. */
static void
dump(const char *dir, struct evt_buf *out)
{
	struct evt_archive *a;
	out->len = 0;
	if (evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) != 0)
		return;
	size_t n;
	const struct evt_segref *segs = evt_archive_segments(a, &n);
	for (size_t i = 0; i < n; i++) {
		struct evt_segr *r;
		if (evt_archive_open_segment(a, i, &r) != 0)
			continue;
		struct evt_frames fr;
		struct evt_frame *f;
		evt_segr_rewind(r, INT64_MIN);
		evt_frames_init(&fr, r, NULL, NULL, NULL, NULL, segs[i].path);
		while (evt_frames_next(&fr, &f) > 0) {
			char head[64];
			int l = snprintf(head, sizeof head, "%s %lld ",
			    evt_kind_name(f->kind), (long long)f->rx_us);
			evt_buf_put(out, head, (size_t)l);
			evt_buf_put(out, f->text.p, f->text.len);
			evt_buf_putc(out, '\n');
		}
		evt_frames_free(&fr);
		evt_archive_close_segment(a, r);
	}
	evt_archive_close(a);
	evt_buf_putc(out, '\0');
}

/* Merges the archives into a new one; returns its path. */
static const char *
merge(const char *const *in, size_t n, size_t window,
    struct evt_merge_stats *st)
{
	const char *dir = newdir();
	struct evt_archive *a;
	struct evt_merge_opts o = {window, NULL, NULL, NULL};
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a) != 0)
		return NULL;
	int rc = evt_merge(a, in, n, &o, st);
	T_EQ(rc, 0, "evt_merge returns 0");
	evt_archive_close(a);
	return dir;
}

/* Counts the lines of text that start with prefix. */
static int
count(const char *text, const char *prefix)
{
	int c = 0;
	size_t pl = strlen(prefix);
	for (const char *p = text; p != NULL && *p != '\0';) {
		c += strncmp(p, prefix, pl) == 0;
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return c;
}

/* The frames of a dump (lines of kind msg), without the markers. */
static char *
msgs(const char *text)
{
	char *o = calloc(1, strlen(text) + 1);
	size_t k = 0;
	for (const char *p = text; *p != '\0';) {
		const char *e = strchr(p, '\n');
		size_t n = e != NULL ? (size_t)(e - p) + 1 : strlen(p);
		if (strncmp(p, "msg ", 4) == 0)
			memcpy(o + k, p, n), k += n;
		p += n;
	}
	return o;
}

static const char *A_GAP = "S 0.5 gw\nE 1 1\nE 2 2\nE 3 3\nG 9.5\n"
    "E 10 10\nE 11 11\n";
static const char *B_GAP = "S 0.6 gw\nE 1 1\nE 2 2\nG 6.5\nE 7 7\nE 8 8\n"
    "E 9 9\nE 10 10\nE 11 11\n";
static const char *B_ALL = "S 0.6 gw\nE 1 1\nE 2 2\nE 3 3\nE 4 4\nE 5 5\n"
    "E 6 6\nE 7 7\nE 8 8\nE 9 9\nE 10 10\nE 11 11\n";

/* formats/records.md's worked example: one GAP, the intersection. */
static void
test_worked_example(void)
{
	struct evt_buf b = {0};
	struct evt_merge_stats st[2];
	const char *in[2] = {mk(A_GAP), mk(B_GAP)};
	dump(merge(in, 2, 0, st), &b);
	const char *t = (const char *)b.p;
	T_EQ(count(t, "gap "), 1, "one GAP left");
	T_OK(strstr(t, "gap 7000000 {\"reason\":\"no merged input recorded "
	    "this time\",\"fromUs\":3000000,\"toUs\":7000000}") != NULL,
	    "it spans (3 s, 7 s) and is received at 7 s");
	T_EQ(count(t, "msg "), 8, "events 1, 2, 3, 7, 8, 9, 10, 11 once");
	T_EQ(st[0].gaps_left, 1, "A: one gap left");
	T_EQ(st[1].gaps_left, 1, "B: one gap left");
	T_EQ(st[0].events + st[1].events, 8, "8 events contributed");
	T_EQ(st[0].dups + st[1].dups, 4, "4 duplicates (1, 2, 10, 11)");
	T_EQ(count(t, "session "), 3, "the provenance and both SESSIONs");
	T_OK(strstr(t, "\"mergeInput\":1}") != NULL, "SESSION of input 1");
	T_OK(strstr(t, "\"event\":\"merged\"") != NULL, "provenance marker");
	T_OK(strstr(t, "switched") == NULL, "no switch marker for one gateway");
	evt_buf_free(&b);
}

/* A GAP the other input covers is closed; order of inputs: same frames. */
static void
test_closed_and_order(void)
{
	struct evt_buf b = {0}, c = {0};
	struct evt_merge_stats st[2];
	const char *in[2] = {mk(A_GAP), mk(B_ALL)};
	dump(merge(in, 2, 0, st), &b);
	const char *t = (const char *)b.p;
	T_EQ(count(t, "gap "), 0, "no GAP left");
	T_EQ(st[0].gaps_closed, 1, "A's gap closed");
	T_EQ(count(t, "msg "), 11, "every event once");
	const char *rev[2] = {in[1], in[0]};
	dump(merge(rev, 2, 0, st), &c);
	char *m1 = msgs(t), *m2 = msgs((const char *)c.p);
	T_OK(strcmp(m1, m2) == 0, "merge(B, A) has the frames of merge(A, B)");
	T_EQ(st[1].gaps_closed, 1, "A's gap closed (second input)");
	free(m1);
	free(m2);
	/* merge(A, A) == A. */
	const char *same[2] = {in[0], in[0]};
	dump(merge(same, 2, 0, st), &b);
	dump(in[0], &c);
	m1 = msgs((const char *)b.p);
	m2 = msgs((const char *)c.p);
	T_OK(strcmp(m1, m2) == 0, "merge(A, A) has A's frames");
	T_EQ(count((const char *)b.p, "gap "), 1, "and A's gap, once");
	T_EQ(st[0].dups, 0, "first copy: no duplicates");
	T_EQ(st[1].dups, 5, "second copy: all duplicates");
	free(m1);
	free(m2);
	evt_buf_free(&b);
	evt_buf_free(&c);
}

/* A frame partly known is written with its new events only. */
static void
test_partial_frame(void)
{
	struct evt_buf b = {0};
	struct evt_merge_stats st[2];
	const char *in[2] = {mk("E 1 1,2\nE 3 5\n"), mk("E 2 1,2,3\nE 3 5\n")};
	dump(merge(in, 2, 0, st), &b);
	const char *t = (const char *)b.p;
	T_OK(strstr(t, "msg 1000000 {\"events\":[{\"id\":\"00000000-0000-4000"
	    "-8000-000000000001\"},{\"id\":\"00000000-0000-4000-8000-"
	    "000000000002\"}]}\n") != NULL, "the whole frame, one frame");
	T_OK(strstr(t, "msg 2000000 {\"events\":[{\"id\":\"00000000-0000-4000"
	    "-8000-000000000003\"}]}\n") != NULL, "the rest: its own frame");
	T_EQ(count(t, "msg "), 3, "three frames (equal frames at 3 s: one)");
	T_EQ(st[1].dups, 3, "three duplicates in B");
	evt_buf_free(&b);
}

/* Gateways: another gateway's input closes no GAP; switch markers. */
static void
test_gateways(void)
{
	struct evt_buf b = {0};
	struct evt_merge_stats st[2];
	char other[256];
	snprintf(other, sizeof other, "%s", B_ALL);
	memcpy(strstr(other, "gw"), "gx", 2);
	const char *in[2] = {mk(A_GAP), mk(other)};
	dump(merge(in, 2, 0, st), &b);
	const char *t = (const char *)b.p;
	T_EQ(st[0].gaps_left, 1, "another gateway does not cover");
	T_EQ(count(t, "gap "), 1, "the GAP stays");
	T_OK(strstr(t, "\"fromUs\":3000000,\"toUs\":10000000") != NULL,
	    "as A had it");
	T_OK(strstr(t, "{\"event\":\"switched\",\"gateway\":\"gx\","
	    "\"mergeInput\":1}") != NULL, "a switch marker names gateway gx");
	evt_buf_free(&b);
}

/* A duplicate further apart than the window is written again. */
static void
test_window(void)
{
	struct evt_buf b = {0};
	struct evt_merge_stats st[2];
	const char *in[2] = {mk("E 1 1\nE 2 2\nE 3 3\nE 4 4\n"),
	    mk("E 1.5 1\nE 4.5 2\n")};
	dump(merge(in, 2, 2, st), &b);
	T_EQ(st[1].dups, 1, "window 2: the near copy is a duplicate");
	T_EQ(count((const char *)b.p, "msg "), 5, "the far one is written");
	dump(merge(in, 2, 0, st), &b);
	T_EQ(count((const char *)b.p, "msg "), 4, "default window: not");
	evt_buf_free(&b);
}

/* The window against a model (a FIFO of the last W ids written) on
 * random ids from a small pool: eviction and the table's deletions. */
static void
test_window_model(void)
{
	enum { N = 6000, POOL = 400, W = 61 };
	static int ids[N], fifo[W];
	size_t len = 0, cap = (size_t)N * 24;
	char *script = malloc(cap);
	int nf = 0, head = 0, written = 0;
	char *want = calloc(1, (size_t)N * 100);
	size_t wl = 0;
	for (int i = 0; i < N; i++) {
		ids[i] = (int)(rng() % POOL) + 1;
		len += (size_t)snprintf(script + len, cap - len, "E %d %d\n",
		    i + 1, ids[i]);
		int seen = 0;
		for (int k = 0; k < nf; k++)
			seen |= fifo[(head + k) % W] == ids[i];
		if (seen)
			continue;
		if (nf == W)
			fifo[head] = ids[i], head = (head + 1) % W;
		else
			fifo[(head + nf++) % W] = ids[i];
		written++;
		wl += (size_t)snprintf(want + wl, (size_t)N * 100 - wl,
		    "msg %lld {\"events\":[{\"id\":\"00000000-0000-4000-8000-"
		    "%012d\"}]}\n", (long long)(i + 1) * S, ids[i]);
	}
	struct evt_buf b = {0};
	struct evt_merge_stats st[1];
	const char *in[1] = {mk(script)};
	dump(merge(in, 1, W, st), &b);
	T_EQ(st[0].events, written, "window of %d: the model's events", W);
	T_EQ(st[0].dups, N - written, "and duplicates");
	char *got = msgs((const char *)b.p);
	T_OK(strcmp(got, want) == 0, "the same events in the same order");
	free(got);
	free(want);
	free(script);
	evt_buf_free(&b);
}

/* An input's gateway is the top-level member "gateway" of its first
 * SESSION marker, as written; nested ones, other types: ""
 * (formats/records.md, "Merged archives"). */
static void
test_gateway_member(void)
{
	static const struct {
		const char *body, *want;
	} c[] = {
		{"{\"event\":\"new\",\"gateway\":\"http://h:1\"}",
		    "http://h:1"},
		{"{\"event\":\"merged\",\"inputs\":[{\"archive\":\"/a\","
		    "\"gateway\":\"http://h:1\"}]}", ""},
		{"{\"x\":{\"gateway\":\"in\"},\"gateway\":\"out\"}", "out"},
		{"{\"gateway\":5}", ""},
		{"{\"gateway\":null,\"gw\":\"x\"}", ""},
		{"{\"Gateway\":\"x\"}", ""},
		{"{\"note\":\"\\\"gateway\\\":\\\"x\\\"\"}", ""},
		{"{\"gateway\":\"a\\\"b\\u00e9\"}", "a\\\"b\\u00e9"},
		{"{\"gateway\":\"1\",\"gateway\":\"2\"}", "1"},
		{"[\"gateway\"]", ""},
		{"not json \"gateway\":\"x\"", ""},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		char *g = evt_merge_gateway(c[i].body, strlen(c[i].body));
		T_OK(g != NULL && strcmp(g, c[i].want) == 0,
		    "gateway of %s: \"%s\" (got \"%s\")", c[i].body, c[i].want,
		    g != NULL ? g : "(null)");
		free(g);
	}
}

int
main(void)
{
	snprintf(base, sizeof base, "/tmp/test_merge.XXXXXX");
	if (mkdtemp(base) == NULL)
		return 1;
	test_worked_example();
	test_closed_and_order();
	test_partial_frame();
	test_gateways();
	test_gateway_member();
	test_window();
	test_window_model();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
