/*
 * fuzz_rollup.c: libFuzzer target for the roll-up run file parser
 * (src/rollup.c, formats/rollup.md).
 *
 * The input is a mode byte, then a run file, whole; the name's range is
 * taken as wide as can be (sequence numbers 1 .. 999,999,999,999).  With
 * mode bit 0 set, the header's and the body's CRCs are made right first,
 * so that the checks behind them get explored.  A run that parses must
 * have its segment table ascending within the range, its summary within
 * the file, its totals agreeing with the table; its summary, when it
 * decodes, must be complete with tables and buckets adding up to its
 * events.  Anything else abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/crc32c.h"
#include "evtape/rollup.h"
#include "../../src/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks a decoded summary's sums. */
static void
check_sum(const struct evt_sum *s)
{
	uint64_t t = 0, u = 0, b = 0;
	for (uint32_t i = 0; i < s->ntypes; i++)
		t += s->types[i].count;
	for (uint32_t i = 0; i < s->nsources; i++)
		u += s->sources[i].count;
	for (uint32_t i = 0; i < s->nbuckets; i++)
		b += s->buckets[i].count;
	if (!s->complete || t != s->events || u != s->events ||
	    b != s->events || s->has_config)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t insize)
{
	struct evt_ru_run run;
	const char *why = NULL;
	uint64_t at = 0;
	if (insize < 1)
		return 0;
	size_t size = insize - 1;
	uint8_t *data = malloc(size + 1);
	if (data == NULL)
		abort();
	memcpy(data, in + 1, size);
	if ((in[0] & 1) && size >= EVT_RU_HDR_SIZE) {
		le32_put(data + 248, evt_crc32c(0, data + EVT_RU_HDR_SIZE,
		    size - EVT_RU_HDR_SIZE));
		le32_put(data + 252, evt_crc32c(0, data, 252));
	}
	if (evt_ru_parse(data, size, 1, UINT64_C(999999999999), &run, &why,
	    &at) != 0) {
		if (why == NULL || at > size)
			abort();
		free(data);
		return 0;
	}
	uint64_t recs = 0;
	for (uint32_t i = 0; i < run.nsegs; i++) {
		if (run.segs[i].seq < 1 || (i > 0 && run.segs[i].seq <=
		    run.segs[i - 1].seq))
			abort();
		recs += run.segs[i].nrecords;
	}
	if (recs != run.records || run.sum < data || run.sum + run.sum_len !=
	    data + size)
		abort();
	struct evt_sum s;
	if (evt_ru_sum(&run, &s, &why) == 0)
		check_sum(&s);
	evt_sum_free(&s);
	evt_ru_free(&run);
	free(data);
	return 0;
}
