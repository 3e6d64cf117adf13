/*
 * test_names.c: the name resolver (names.c): renames resolved as of a
 * time (latest marker at or before, else the earliest after), repeated
 * snapshots kept once, the members --names adds, the text line, globs and
 * the selection's name resolution (unknown, ambiguous), and the CONFIG
 * markers of a real archive of many sealed segments read back whole; the
 * state table's "since".
 *
 * With "--write-archive DIR [N]" it writes the archive of
 * tests/integration/names.sh instead (three CONFIG markers, a rename, a
 * getState answer; N events in default-sized segments: the benchmark's)
 * and exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evtape/archive.h"
#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/names.h"
#include "evtape/record.h"
#include "evtape/select.h"
#include "evtape/state.h"
#include "t.h"

#define T0 1767600000000000LL
#define SEC 1000000LL

static const char snap[] = "{\"eventTypes\":[{\"id\":\"6EB95DD6-0000-0000-"
    "0000-000000000001\",\"name\":\"MotionStarted\",\"displayName\":\"Motion "
    "Started\",\"state\":\"Motion\",\"stateGroupId\":\"720ef62a-0000-0000-"
    "0000-000000000001\"},{\"id\":\"6eb95dd6-0000-0000-0000-000000000002\","
    "\"name\":\"Motion Stopped\",\"state\":\"No Motion\",\"stateGroupId\":"
    "\"720ef62a-0000-0000-0000-000000000001\"},{\"id\":\"6eb95dd6-0000-"
    "0000-0000-000000000003\",\"name\":\"Door \\\"forced\\\"\"}],"
    "\"stateGroups\":[{\"id\":\"720ef62a-0000-0000-0000-000000000001\","
    "\"name\":\"Motion\"}],\"sources\":[{\"id\":\"cameras/aaaaaaaa-0000-"
    "0000-0000-000000000001\",\"name\":\"Lobby East\"},{\"id\":\"cameras/"
    "aaaaaaaa-0000-0000-0000-000000000002\",\"name\":\"Lobby West\"},{\"id\":"
    "\"cameras/aaaaaaaa-0000-0000-0000-000000000003\",\"name\":\"Garage\"}]}";
static const char delta[] = "{\"kind\":\"delta\",\"sources\":[{\"id\":"
    "\"cameras/aaaaaaaa-0000-0000-0000-000000000001\",\"name\":\"Lobby "
    "North\"},{\"id\":\"cameras/aaaaaaaa-0000-0000-0000-000000000004\","
    "\"name\":\"Yard\"}]}";

#define SRC(k) "cameras/aaaaaaaa-0000-0000-0000-00000000000" #k
/* A third marker, of the archive only: a second source named Garage. */
static const char twin[] = "{\"kind\":\"delta\",\"sources\":[{\"id\":"
    "\"cameras/aaaaaaaa-0000-0000-0000-000000000005\",\"name\":\"Garage\"}]}";
#define TYP(k) "6eb95dd6-0000-0000-0000-00000000000" #k
#define GRP "720ef62a-0000-0000-0000-000000000001"

/* The resolver fed snap at T0 + 1 s (twice: at T0 + 20 s again) and
 * delta at T0 + 10 s. */
static struct evt_names *
resolver(void)
{
	struct evt_names *n = evt_names_new();
	if (n == NULL || evt_names_add(n, T0 + 1 * SEC, L(snap)) != 0 ||
	    evt_names_add(n, T0 + 10 * SEC, L(delta)) != 0 ||
	    evt_names_add(n, T0 + 20 * SEC, L(snap)) != 0 ||
	    evt_names_finish(n) != 0)
		abort();
	return n;
}

/* The name of id in list as of rx, or "(none)". */
static const char *
name_at(struct evt_names *n, enum evt_names_list l, const char *id,
    int64_t rx)
{
	struct evt_names_item it;
	return evt_names_get(n, l, id, strlen(id), rx, &it) ? it.name :
	    "(none)";
}

/* Renames as of a time, the rule's both halves. */
static void
test_as_of(void)
{
	struct evt_names *n = resolver();
	struct {
		const char *id;
		int64_t rx;
		const char *want;
	} c[] = {
		{SRC(1), T0, "Lobby East"},	/* before any: the first */
		{SRC(1), T0 + 1 * SEC, "Lobby East"},
		{SRC(1), T0 + 10 * SEC - 1, "Lobby East"},
		{SRC(1), T0 + 10 * SEC, "Lobby North"},	/* the delta */
		{SRC(1), T0 + 19 * SEC, "Lobby North"},
		{SRC(1), T0 + 20 * SEC, "Lobby East"},	/* renamed back */
		{SRC(4), T0, "Yard"},	/* only the delta lists it */
		{SRC(4), T0 + 30 * SEC, "Yard"},	/* not unnamed by a
							   snapshot */
		{"CAMERAS/AAAAAAAA-0000-0000-0000-000000000002", T0, "Lobby "
		    "West"},
		{SRC(5), T0, "(none)"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		T_OK(strcmp(name_at(n, EVT_NAMES_SOURCE, c[i].id, c[i].rx),
		    c[i].want) == 0, "%s as of T0+%lld us is %s",
		    c[i].id, (long long)(c[i].rx - T0), c[i].want);
	struct evt_names_item it;
	T_OK(evt_names_get(n, EVT_NAMES_TYPE, L(TYP(1)), T0, &it) &&
	    strcmp(it.name, "Motion Started") == 0 && strcmp(it.state,
	    "Motion") == 0 && strcmp(it.group, GRP) == 0,
	    "a type: displayName shown, its state and group (lower case)");
	T_OK(strcmp(name_at(n, EVT_NAMES_TYPE, TYP(3), T0), "Door \"forced\"")
	    == 0, "names are decoded from their JSON strings");
	T_EQ(evt_names_width(n, EVT_NAMES_SOURCE), 11, "widest source name");
	evt_names_free(n);
}

/* evt_names_match callback: counts. */
static int
count_cb(void *arg, const char *id)
{
	(*(int *)arg)++;
	return 0;
}

/* Globs, both names of an item, and the selection's resolution. */
static void
test_match(void)
{
	struct evt_names *n = resolver();
	int k = 0;
	T_EQ(evt_names_match(n, EVT_NAMES_SOURCE, "lobby*", count_cb, &k), 2,
	    "'lobby*' matches 2 ids (one under two names, counted once)");
	T_EQ(evt_names_match(n, EVT_NAMES_TYPE, "motionstarted", count_cb,
	    &k), 1, "the name matches where displayName is shown");
	T_EQ(evt_names_match(n, EVT_NAMES_SOURCE, "Lobby", count_cb, &k), 0,
	    "a name matches whole");

	struct evt_sel s;
	struct evt_buf why = {0};
	const char *args[] = {"Lobby W*", "garage"};
	evt_sel_init(&s, 4);
	s.sources[s.nsources++] = args[0];
	s.sources[s.nsources++] = args[1];
	s.types[s.ntypes++] = TYP(2);
	T_EQ(evt_sel_resolve(&s, n, &why), 0, "names resolve");
	T_OK(s.nsources == 2 && strcmp(s.sources[0], SRC(2)) == 0 &&
	    strcmp(s.sources[1], SRC(3)) == 0 && strcmp(s.types[0], TYP(2)) ==
	    0, "into their ids; a GUID stays");
	evt_sel_free(&s);

	evt_sel_init(&s, 4);
	s.sources[s.nsources++] = "lobby*";
	T_EQ(evt_sel_resolve(&s, n, &why), 0, "a glob may match several");
	T_EQ(s.nsources, 2, "... all of them selected");
	evt_sel_free(&s);

	evt_sel_init(&s, 4);
	s.sources[s.nsources++] = "Lobby Sud";
	T_EQ(evt_sel_resolve(&s, n, &why), EVT_ERR_NOTFOUND, "unknown name");
	evt_buf_putc(&why, 0);
	T_OK(strstr((char *)why.p, "\"Lobby Sud\"") != NULL &&
	    strstr((char *)why.p, "Garage (" SRC(3) ")") != NULL,
	    "the error names it and lists the candidates");
	evt_sel_free(&s);

	/* Two ids of one name. */
	evt_names_add(n, T0, L(twin));
	evt_names_finish(n);
	why.len = 0;
	evt_sel_init(&s, 4);
	s.sources[s.nsources++] = "GARAGE";
	T_EQ(evt_sel_resolve(&s, n, &why), EVT_ERR_ARG, "ambiguous name");
	evt_buf_putc(&why, 0);
	T_OK(strstr((char *)why.p, "ambiguous") != NULL &&
	    strstr((char *)why.p, SRC(5)) != NULL &&
	    strstr((char *)why.p, SRC(3)) != NULL && strstr((char *)why.p,
	    "Lobby") == NULL, "lists the two it names, only them");
	evt_sel_free(&s);
	evt_buf_free(&why);
	evt_names_free(n);
}

/* The JSON members and the text line. */
static void
test_output(void)
{
	struct evt_names *n = resolver();
	struct evt_buf b = {0};
	static const char ev[] = "{\"id\":\"e1\",\"source\":\"" SRC(1) "\","
	    "\"type\":\"" TYP(1) "\",\"x\":[1,{\"y\":2}]}";
	evt_buf_put(&b, "X", 1);
	evt_buf_put(&b, L(ev));
	T_EQ(evt_names_put_json(n, &b, 1, T0 + 15 * SEC), 0, "put_json");
	evt_buf_putc(&b, 0);
	T_OK(strcmp((char *)b.p, "X{\"id\":\"e1\",\"source\":\"" SRC(1) "\","
	    "\"type\":\"" TYP(1) "\",\"x\":[1,{\"y\":2}],\"sourceName\":\"Lobby "
	    "North\",\"typeName\":\"Motion Started\",\"stateGroupName\":"
	    "\"Motion\"}") == 0, "members appended in order, the group from "
	    "the type: %s", b.p);

	b.len = 0;
	static const char ev2[] = "{\"source\":\"cameras/zz\",\"type\":\"" TYP(3)
	    "\"}";
	evt_buf_put(&b, L(ev2));
	evt_names_put_json(n, &b, 0, T0);
	evt_buf_putc(&b, 0);
	T_OK(strcmp((char *)b.p, "{\"source\":\"cameras/zz\",\"type\":\""
	    TYP(3) "\",\"typeName\":\"Door \\\"forced\\\"\"}") == 0,
	    "only known names; escaped again: %s", b.p);
	b.len = 0;
	evt_buf_put(&b, L("{ }"));
	evt_names_put_json(n, &b, 0, T0);
	T_EQ(b.len, 3, "an object without members is left alone");

	struct evt_names_text t;
	evt_names_text_init(&t, n, 1, 0);
	b.len = 0;
	evt_buf_put(&b, L(ev2));
	evt_names_put_text(n, &t, &b, 0, T0 + 1500000);
	evt_buf_putc(&b, 0);
	T_OK(strcmp((char *)b.p, "2026-01-05 08:00:01.500000Z  zz           "
	    "Door \"forced\"   -\n") == 0, "text line: UTC, GUID for an "
	    "unknown source, padded");
	evt_buf_free(&b);
	evt_names_free(n);
}

/* The archive: frames and markers over many small sealed segments (big:
 * segments of the default size). */
static void
write_archive(const char *dir, int nev, int big)
{
	struct evt_archive *a;
	struct evt_archive_opts o = {.seg_bytes = big ? 0 : 4096};
	char msg[512];
	if (evt_archive_open(dir, EVT_AR_WRITE | EVT_AR_CREATE, &o, NULL, NULL,
	    NULL, &a) != 0)
		abort();
	for (int i = 0; i < nev; i++) {
		int64_t rx = T0 + (int64_t)i * SEC / 4;
		int src = 1 + (int)(rng() % 5), typ = 1 + (int)(rng() % 3);
		if (i == 4 && evt_archive_marker(a, EVT_K_CONFIG, rx, L(snap)) < 0)
			abort();
		if (i == nev / 2 && evt_archive_marker(a, EVT_K_CONFIG, rx,
		    L(delta)) < 0)
			abort();
		if (i == nev * 3 / 4 && evt_archive_marker(a, EVT_K_CONFIG, rx,
		    L(twin)) < 0)
			abort();
		if (i == nev / 3) {
			snprintf(msg, sizeof msg, "{\"states\":[{\"id\":\"s%d\","
			    "\"source\":\"" SRC(2) "\",\"type\":\"" TYP(1)
			    "\",\"stategroupid\":\"" GRP "\",\"time\":"
			    "\"2026-01-05T07:00:00Z\"}]}", i);
			if (evt_archive_frame(a, rx, msg, strlen(msg)) < 0)
				abort();
		}
		snprintf(msg, sizeof msg, "{\"events\":[{\"id\":\"e%d\","
		    "\"source\":\"cameras/aaaaaaaa-0000-0000-0000-00000000000%d\","
		    "\"type\":\"6eb95dd6-0000-0000-0000-00000000000%d\"%s}]}", i,
		    src, typ, typ < 3 ? ",\"stategroupid\":\"" GRP "\"" : "");
		if (evt_archive_frame(a, rx, msg, strlen(msg)) < 0)
			abort();
	}
	if (evt_archive_close(a) != 0)
		abort();
}

/* evt_names_configs callback: counts and checks the order. */
static int
cfg_cb(void *arg, int64_t rx, const char *body, size_t len)
{
	int64_t *seen = arg;
	seen[0]++;
	seen[1] = seen[1] <= rx ? rx : INT64_MAX;
	return 0;
}

/* The markers of a real archive. */
static void
test_archive(void)
{
	char dir[] = "/tmp/evtape-names-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	write_archive(dir, 2000, 0);
	struct evt_archive *a;
	size_t nseg;
	int64_t seen[2] = {0, INT64_MIN};
	if (evt_archive_open(dir, 0, NULL, NULL, NULL, NULL, &a) != 0)
		abort();
	evt_archive_segments(a, &nseg);
	T_OK(nseg > 10, "the archive has many segments (%zu)", nseg);
	T_EQ(evt_names_configs(a, dir, NULL, NULL, cfg_cb, seen), 0,
	    "configs read");
	T_OK(seen[0] == 3 && seen[1] != INT64_MAX, "the 3 markers, in order");
	struct evt_names *n = evt_names_new();
	T_EQ(evt_names_read(a, dir, n), 0, "names read");
	T_OK(strcmp(name_at(n, EVT_NAMES_SOURCE, SRC(1), T0 + 1000 * SEC / 4),
	    "Lobby North") == 0 && strcmp(name_at(n, EVT_NAMES_SOURCE, SRC(1),
	    T0), "Lobby East") == 0, "the rename as of its marker");
	evt_names_free(n);
	evt_archive_close(a);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	T_EQ(system(cmd), 0, "cleaned up");
}

/* The state table's since: entered by a change of type, kept by the same
 * type again, from a snapshot item's time. */
static void
test_since(void)
{
	struct evt_state *s = evt_state_new();
	evt_state_track_since(s);
	const char *on = "{\"source\":\"c/1\",\"stategroupid\":\"g\","
	    "\"type\":\"on\"}";
	const char *off = "{\"source\":\"c/1\",\"stategroupid\":\"g\","
	    "\"type\":\"off\"}";
	const char *snapitem = "{\"source\":\"c/2\",\"stategroupid\":\"g\","
	    "\"type\":\"on\",\"time\":\"2026-01-05T08:00:00.25Z\"}";
	size_t l1 = strlen(on), l2 = strlen(off), l3 = strlen(snapitem);
	evt_state_apply_frame_at(s, EVT_K_STATES, T0 + 5 * SEC, &snapitem, &l3,
	    1);
	T_EQ(evt_state_since(s, 0), T0 + 250000, "a snapshot item: its time");
	evt_state_apply_frame_at(s, EVT_K_MSG, T0 + 6 * SEC, &on, &l1, 1);
	evt_state_apply_frame_at(s, EVT_K_MSG, T0 + 7 * SEC, &on, &l1, 1);
	T_EQ(evt_state_since(s, 1), T0 + 6 * SEC, "the same type keeps since");
	evt_state_apply_frame_at(s, EVT_K_MSG, T0 + 8 * SEC, &off, &l2, 1);
	T_EQ(evt_state_since(s, 1), T0 + 8 * SEC, "another type: a new since");
	evt_state_free(s);
}

int
main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--write-archive") ==
	    0) {
		/* N events in default-sized segments: the benchmark's. */
		write_archive(argv[2], argc == 4 ? atoi(argv[3]) : 600,
		    argc == 4);
		return 0;
	}
	test_as_of();
	test_match();
	test_output();
	test_archive();
	test_since();
	T_DONE();
}
