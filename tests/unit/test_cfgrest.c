/*
 * test_cfgrest.c: unit tests of the Config REST answers from a CONFIG
 * marker body (src/cfgrest.c): items and collections of event types,
 * state groups and sources, letter case, 404s, bad bodies; the merge of
 * a snapshot, a delta and a renaming snapshot (formats/records.md, "Names
 * from CONFIG markers", worked example).
 */
#include <string.h>

#include "evtape/cfgrest.h"
#include "evtape/err.h"
#include "t.h"

static const char cfg[] = "{\"eventTypes\":[{\"id\":\"t1\",\"name\":"
    "\"MotionStarted\",\"displayName\":\"Motion Started\",\"state\":"
    "\"Motion\",\"stateGroupId\":\"g1\"},{\"id\":\"t2\",\"name\":\"X\"}],"
    "\"stateGroups\":[{\"id\":\"g1\",\"name\":\"Motion\"}],"
    "\"sources\":[{\"id\":\"cameras/c1\",\"name\":\"Door \\\"A\\\"\"},"
    "{\"id\":\"hardware/h1\",\"name\":\"Box\"},{\"name\":\"no id\"}]}";

/* Answers path into b (emptied first); returns the status. */
static int
ask(const struct evt_cfgrest *c, const char *path, struct evt_buf *b)
{
	b->len = 0;
	int st = evt_cfgrest_answer(c, path, strlen(path), b);
	evt_buf_putc(b, '\0');
	b->len--;
	return st;
}

/* The worked example's markers at 10 (snapshot), 20 (delta), 30
 * (snapshot with a rename), merged as of each. */
static void
test_merge(struct evt_buf *b)
{
	static const char *const body[] = {
		"{\"sources\":[{\"id\":\"cameras/c1\",\"name\":\"Lobby\"}],"
		"\"eventTypes\":[{\"id\":\"t1\",\"name\":\"Motion\"}]}",
		"{\"kind\":\"delta\",\"eventTypes\":[],\"stateGroups\":[],"
		"\"sources\":[{\"id\":\"inputEvents/i7\",\"name\":\"Door 7\"}]}",
		"{\"sources\":[{\"id\":\"CAMERAS/C1\",\"name\":\"Lobby East\"},"
		"{\"id\":\"inputEvents/i7\",\"name\":\"Door 7\"}]}",
	};
	struct evt_cfgrest *c[3], *m;
	for (int i = 0; i < 3; i++)
		T_EQ(evt_cfgrest_new(body[i], strlen(body[i]), &c[i]), 0,
		    "marker %d", i);
	T_EQ(evt_cfgrest_merge(c, 3, 0, &m), 0, "merge as of the snapshot");
	T_EQ(ask(m, "inputEvents/i7", b), 200,
	    "a delta's source is served before the delta");
	T_EQ(ask(m, "cameras/c1", b), 200, "the snapshot's camera");
	T_OK(strstr((char *)b->p, "\"Lobby\"") != NULL, "old name: %s",
	    (char *)b->p);
	T_EQ(ask(m, "eventTypes/t1", b), 200,
	    "a type that only the first snapshot lists");
	T_EQ(ask(m, "stateGroups", b), 200, "a list only the delta has");
	T_OK(strcmp((char *)b->p, "{\"array\":[]}") == 0, "empty: %s",
	    (char *)b->p);
	evt_cfgrest_free(m);
	T_EQ(evt_cfgrest_merge(c, 3, 1, &m), 0, "merge as of the delta");
	T_EQ(ask(m, "cameras", b), 200, "cameras as of the delta");
	T_OK(strstr((char *)b->p, "\"Lobby\"") != NULL &&
	    strstr((char *)b->p, "Lobby East") == NULL,
	    "the delta leaves the snapshot's camera named: %s", (char *)b->p);
	evt_cfgrest_free(m);
	T_EQ(evt_cfgrest_merge(c, 3, 2, &m), 0, "merge as of the rename");
	T_EQ(ask(m, "cameras", b), 200, "cameras after the rename");
	T_OK(strstr((char *)b->p, "Lobby East") != NULL &&
	    strstr((char *)b->p, "\"Lobby\"") == NULL,
	    "one camera, the new name, letter case of ids ignored: %s",
	    (char *)b->p);
	T_EQ(ask(m, "eventTypes/t1", b), 200,
	    "a snapshot that lacks a list does not unname");
	evt_cfgrest_free(m);
	for (int i = 0; i < 3; i++)
		evt_cfgrest_free(c[i]);
}

int
main(void)
{
	struct evt_cfgrest *c;
	struct evt_buf b = {0};

	T_EQ(evt_cfgrest_new(cfg, sizeof cfg - 1, &c), 0, "parse");
	T_EQ(ask(c, "eventTypes/T1", &b), 200, "event type by id, any case");
	T_OK(strcmp((char *)b.p, "{\"data\":{\"id\":\"t1\",\"name\":"
	    "\"MotionStarted\",\"displayName\":\"Motion Started\",\"state\":"
	    "\"Motion\",\"stateGroupId\":\"g1\",\"relations\":{\"self\":"
	    "{\"type\":\"eventTypes\",\"id\":\"t1\"}}}}") == 0,
	    "event type item: %s", (char *)b.p);
	T_EQ(ask(c, "eventTypes", &b), 200, "event types");
	T_OK(strstr((char *)b.p, "{\"array\":[{\"id\":\"t1\"") == (char *)b.p &&
	    strstr((char *)b.p, "{\"id\":\"t2\",\"name\":\"X\",\"displayName\":"
	    "\"X\",\"relations\"") != NULL, "list; displayName = name: %s",
	    (char *)b.p);
	T_EQ(ask(c, "stateGroups/g1", &b), 200, "state group");
	T_EQ(ask(c, "cameras/C1", &b), 200, "camera");
	T_OK(strcmp((char *)b.p, "{\"data\":{\"id\":\"c1\",\"name\":"
	    "\"Door \\\"A\\\"\",\"displayName\":\"Door \\\"A\\\"\",\"relations\":"
	    "{\"self\":{\"type\":\"cameras\",\"id\":\"c1\"}}}}") == 0,
	    "camera item, escapes kept: %s", (char *)b.p);
	T_EQ(ask(c, "cameras", &b), 200, "cameras");
	T_OK(strstr((char *)b.p, "Box") == NULL, "cameras list holds no hardware");
	T_EQ(ask(c, "hardware/h1", &b), 200, "hardware");
	T_EQ(ask(c, "cameras/h1", &b), 404, "another kind's id");
	T_EQ(ask(c, "cameras/c1/x", &b), 404, "deeper path");
	T_EQ(ask(c, "speakers", &b), 404, "kind without items");
	T_EQ(ask(c, "", &b), 404, "empty path");
	T_EQ(ask(c, "eventTypes/zz", &b), 404, "unknown id");
	T_EQ(b.len, 0, "404 leaves the body empty");
	evt_cfgrest_free(c);
	T_EQ(evt_cfgrest_new("[1]", 3, &c), EVT_ERR_JSON, "not an object");
	T_EQ(evt_cfgrest_new("{\"eventTypes\":", 14, &c), EVT_ERR_JSON,
	    "not JSON");
	T_EQ(evt_cfgrest_new("{}", 2, &c), 0, "no lists");
	T_EQ(ask(c, "eventTypes", &b), 404, "no lists: 404");
	evt_cfgrest_free(c);
	test_merge(&b);
	evt_buf_free(&b);
	T_DONE();
}
