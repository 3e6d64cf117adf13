/*
 * test_cfgrest.c: unit tests of the Config REST answers from a CONFIG
 * marker body (src/cfgrest.c): items and collections of event types,
 * state groups and sources, letter case, 404s, bad bodies.
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
	evt_buf_free(&b);
	T_DONE();
}
