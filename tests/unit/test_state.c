/*
 * test_state.c: the state table (state.c) and the archive cursor
 * (cursor.c) on a small archive written in a private mkdtemp() directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/cursor.h"
#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "t.h"

#define G1 "720ef62a-78be-418a-8e4c-ee04ffca6429"
#define G2 "3e732c3f-c751-49e0-9f54-07cd07330586"
#define EV(id, src, grp)                                                   \
	"{\"id\":\"" id "\",\"source\":\"cameras/" src "\",\"specversion\":" \
	"\"1.0\"" grp ",\"time\":\"2026-01-05T08:00:00.0000000Z\","        \
	"\"type\":\"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77\"}"
#define SG(g) ",\"stategroupid\":\"" g "\""

/* Whether the table holds exactly these ids (in order). */
static int
holds(struct evt_state *s, const char *const *ids, size_t n)
{
	const char *const *st;
	const size_t *lens;
	if (evt_state_list(s, &st, &lens) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char pat[80];
		snprintf(pat, sizeof pat, "\"id\":\"%s\"", ids[i]);
		if (memmem(st[i], lens[i], pat, strlen(pat)) == NULL)
			return 0;
	}
	return 1;
}

/* The table alone. */
static void
test_state(void)
{
	struct evt_state *s = evt_state_new();
	T_EQ(evt_state_apply(s, L(EV("a1", "aaa", SG(G1)))), 1, "stateful");
	T_EQ(evt_state_apply(s, L(EV("a2", "aaa", SG(G2)))), 1, "group 2");
	T_EQ(evt_state_apply(s, L(EV("b1", "bbb", SG(G1)))), 1, "source 2");
	T_EQ(evt_state_apply(s, L(EV("x", "aaa", ""))), 0, "stateless");
	T_EQ(evt_state_apply(s, L(EV("y", "aaa", ",\"stategroupid\":null"))),
	    0, "null group: stateless");
	T_EQ(evt_state_apply(s, L("{\"stategroupid\":")), EVT_ERR_JSON,
	    "broken JSON");
	T_EQ(evt_state_apply(s, L("[\"stategroupid\"]")), EVT_ERR_JSON,
	    "not an object");
	/* case-folded GUIDs replace the same entry */
	T_EQ(evt_state_apply(s, L(EV("a3", "AAA",
	    SG("720EF62A-78BE-418A-8E4C-EE04FFCA6429")))), 1, "update");
	const char *want1[] = {"a3", "a2", "b1"};
	T_OK(holds(s, want1, 3), "latest per source and group, stable order");
	T_OK(strcmp(evt_state_source(s, 2), "cameras/bbb") == 0, "source");
	for (int i = 0; i < 500; i++) { /* growth and rehash */
		char ev[300];
		int n = snprintf(ev, sizeof ev, EV("z%d", "s%d", SG(G1)), i, i);
		evt_state_apply(s, ev, (size_t)n);
	}
	const char *const *st;
	const size_t *lens;
	T_EQ(evt_state_list(s, &st, &lens), 503, "503 entries");
	const char *items[] = {EV("s1", "ccc", SG(G1)), EV("s2", "aaa", SG(G1))};
	size_t il[] = {strlen(items[0]), strlen(items[1])};
	T_EQ(evt_state_apply_frame(s, EVT_K_STATES, items, il, 2), 0,
	    "a STATES frame");
	const char *want2[] = {"s1", "s2"};
	T_OK(holds(s, want2, 2), "a STATES frame replaces the table");
	T_EQ(evt_state_apply_frame(s, EVT_K_JSON, items, il, 1), 0, "JSON");
	T_OK(holds(s, want2, 2), "other frames do not touch it");
	evt_state_free(s);
}

static char tmpdir[] = "/tmp/evtape-state.XXXXXX";

/* Cursor over a three-segment archive. */
static void
test_cursor(void)
{
	char dir[64];
	snprintf(dir, sizeof dir, "%s/a", tmpdir);
	struct evt_archive *a;
	T_EQ(evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, NULL, NULL,
	    NULL, NULL, &a), 0, "create archive");
	static const char *fr[] = {
	    "{\"events\":[" EV("e1", "aaa", SG(G1)) "," EV("e2", "bbb", "")
	    "]}",
	    "{\"commandId\":3,\"status\":200,\"states\":[" EV("s1", "ccc",
	    SG(G1)) "]}",
	    "{\"events\":[" EV("e3", "aaa", SG(G1)) "," EV("e4", "bbb", "")
	    "," EV("e5", "ccc", SG(G2)) "]}",
	    "{\"other\":1}",
	    "{\"events\":[" EV("e6", "ddd", SG(G1)) "]}",
	};
	for (int i = 0; i < 5; i++) {
		T_OK(evt_archive_frame(a, 1000 * (i + 1), fr[i], strlen(fr[i]))
		    >= 0, "frame %d", i);
		if (i == 1 || i == 3)
			evt_archive_rotate(a);
	}
	T_EQ(evt_archive_close(a), 0, "close");

	struct evt_cur *c;
	T_EQ(evt_cur_open(dir, NULL, NULL, NULL, &c), 0, "cursor open");
	struct evt_cur_msg m;
	int kinds[8], n = 0;
	size_t nev = 0;
	int ok = 1;
	while (evt_cur_next(c, &m) == 1 && n < 8) {
		kinds[n] = m.kind;
		ok &= m.len == strlen(fr[n]) && memcmp(m.text, fr[n], m.len) == 0;
		ok &= m.rx_us == 1000 * (n + 1);
		for (size_t i = 0; i < m.n; i++)
			ok &= m.ev[i][0] == '{' && m.ev[i][m.evlen[i] - 1] == '}';
		nev += m.kind == EVT_K_MSG ? m.n : 0;
		n++;
	}
	T_EQ(n, 5, "five frames across three segments");
	T_OK(ok, "texts, times and item spans");
	T_OK(kinds[1] == EVT_K_STATES && kinds[3] == EVT_K_JSON, "kinds");
	T_EQ(nev, 6, "six events");

	evt_cur_seek(c, 3000);
	evt_cur_set_end(c, 5000);
	n = 0;
	int64_t first = 0;
	while (evt_cur_next(c, &m) == 1) {
		if (n++ == 0)
			first = m.rx_us;
	}
	T_EQ(n, 2, "seek 3000, end 5000: two frames");
	T_EQ(first, 3000, "from 3000");

	evt_cur_set_end(c, INT64_MAX);
	int64_t rx = 0;
	T_EQ(evt_cur_seek_id(c, L("e4"), &rx), 1, "seek id e4");
	T_EQ(rx, 3000, "its receive time");
	T_EQ(evt_cur_next(c, &m), 1, "next");
	T_OK(m.n == 2 && memmem(m.ev[0], m.evlen[0], "\"e4\"", 4) != NULL,
	    "the message from e4 on (%zu items)", m.n);
	T_EQ(evt_cur_seek_id(c, L("nope"), &rx), 0, "absent id");

	/* The state as of 3000 (inclusive). */
	struct evt_state *s = evt_state_new();
	evt_cur_seek(c, INT64_MIN);
	evt_cur_set_end(c, 3001);
	while (evt_cur_next(c, &m) == 1)
		evt_state_apply_frame(s, m.kind, m.ev, m.evlen, m.n);
	const char *want[] = {"s1", "e3", "e5"};
	T_OK(holds(s, want, 3), "state at 3000: snapshot, then updates");
	evt_state_free(s);
	evt_cur_close(c);
	T_EQ(evt_cur_open("/nonexistent/x", NULL, NULL, NULL, &c),
	    EVT_ERR_NOTFOUND, "no such archive");
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_state();
	test_cursor();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	T_DONE();
}
