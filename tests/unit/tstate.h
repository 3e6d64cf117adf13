/*
 * tstate.h: what test_state.c and test_cursor.c share: gateway-style event
 * texts with or without a state group, and a check of a state table's
 * entries against a list of event ids.
 */
#ifndef EVT_TSTATE_H
#define EVT_TSTATE_H

#include <stdio.h>
#include <string.h>

#include "evtape/state.h"

#define G1 "720ef62a-78be-418a-8e4c-ee04ffca6429"
#define G2 "3e732c3f-c751-49e0-9f54-07cd07330586"
/* An event with this id from camera src; grp is "" or SG(group). */
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

#endif
