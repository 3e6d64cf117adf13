/*
 * fuzz_state.c: libFuzzer target for what evplay and `evtool state` parse:
 * event texts going into the state table (state.c), and the time and
 * duration arguments (timefmt.c).
 *
 * The input is applied as one event, then split at newlines into several
 * (as a getState answer's items); the table must list only texts that were
 * applied, each holding "stategroupid", and a second apply of the same
 * texts must not grow it.  The input, NUL-terminated, also goes to
 * evt_time_parse_user and evt_duration_parse (durations must be >= 0).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/state.h"
#include "evtape/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_state *s = evt_state_new();
	if (s == NULL)
		return 0;
	const char *p = (const char *)data;
	int rc = evt_state_apply(s, p, size);
	if (rc > 1)
		abort();
	const char *ev[64];
	size_t lens[64], n = 0, start = 0;
	for (size_t i = 0; i <= size && n < 64; i++) {
		if (i == size || p[i] == '\n') {
			ev[n] = p + start;
			lens[n++] = i - start;
			start = i + 1;
		}
	}
	if (evt_state_apply_frame(s, EVT_K_MSG, ev, lens, n) != 0)
		abort();
	const char *const *st;
	const size_t *sl;
	size_t k = evt_state_list(s, &st, &sl);
	for (size_t i = 0; i < k; i++)
		if (memmem(st[i], sl[i], "stategroupid", 12) == NULL ||
		    memmem(data, size, st[i], sl[i]) == NULL)
			abort();
	if (evt_state_apply_frame(s, EVT_K_MSG, ev, lens, n) != 0 ||
	    evt_state_list(s, &st, &sl) != k)
		abort();
	evt_state_apply_frame(s, EVT_K_STATES, ev, lens, n);
	if (evt_state_list(s, &st, &sl) > n)
		abort();
	evt_state_free(s);

	char *z = malloc(size + 1);
	if (z == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = 0;
	int64_t us;
	(void)evt_time_parse_user(z, &us);
	if (evt_duration_parse(z, &us) == 0 && us < 0)
		abort();
	free(z);
	return 0;
}
