/*
 * fuzz_rewrite.c: libFuzzer target for the rewriter of evplay's rewritten
 * replays (rewrite.c).
 *
 * The first input byte picks a shift and a pass; the rest is rewritten as
 * an event, as a frame and as a CONFIG body (with a map, fresh ids and the
 * shift on), and checked: a pass that changes nothing gives the text back
 * byte for byte; every timestamp the rest holds (each run of 6..64 bytes
 * tried as one) that shifts by D shifts back by -D to the same bytes; a
 * fresh id of a GUID inverts to it (in any letter case: a GUID of mixed
 * case comes back in one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "evtape/buf.h"
#include "evtape/rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shifts a first byte picks (ns), both signs, every precision. */
static const int64_t shifts[8] = {1, -100, 1500000000, -999999999,
    86400000000000LL, -3600000000000LL, 123456789012345LL,
    -31557600000000000LL};

/* Checks that shifting s[0..n) by d and back gives s again. */
static void
check_inverse(const char *s, size_t n, int64_t d)
{
	char a[64], b[64];
	if (n > sizeof a || !evt_rw_time_shift(s, n, d, a))
		return;
	if (!evt_rw_time_shift(a, n, -d, b) || memcmp(b, s, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_rw *rw;
	struct evt_buf out = {0};
	if (size < 1 || evt_rw_new(&rw) != 0)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	int64_t d = shifts[data[0] & 7];
	struct evt_rw_pass none = {0, 0, 0}, p = {1, d, data[0] >> 3};

	/* Nothing to change: the same bytes. */
	if (evt_rw_event(rw, &none, s, n, &out) != 0 || out.len != n ||
	    (n > 0 && memcmp(out.p, s, n) != 0))
		abort();
	evt_rw_fresh_ids(rw, (const char *)data, size > 8 ? 8 : size);
	evt_rw_map(rw, "cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a",
	    "cameras/00000000-0000-4000-8000-000000000001");
	evt_rw_map(rw, "x", "hardware/y");
	out.len = 0;
	(void)evt_rw_event(rw, &p, s, n, &out);
	out.len = 0;
	(void)evt_rw_frame(rw, &p, s, n, &out);
	out.len = 0;
	(void)evt_rw_config(rw, s, n, &out);

	for (size_t i = 0; i < n && i < 256; i++)
		for (size_t k = 6; k <= 64 && i + k <= n; k++)
			check_inverse(s + i, k, d);
	if (n == EVT_RW_GUID_LEN) {
		char id[EVT_RW_GUID_LEN], back[EVT_RW_GUID_LEN];
		evt_rw_id(rw, p.pass, s, n, id);
		if (evt_rw_id_invert(rw, p.pass, id, n, back) &&
		    evt_rw_id_invert(rw, p.pass, s, n, id) &&
		    strncasecmp(back, s, n) != 0)
			abort();
	}
	evt_buf_free(&out);
	evt_rw_free(rw);
	return 0;
}
