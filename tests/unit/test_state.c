/*
 * test_state.c: the state table (state.c); the cursor that feeds it from
 * an archive is tested in test_cursor.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "t.h"
#include "tstate.h"

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

int
main(void)
{
	test_state();
	T_DONE();
}
