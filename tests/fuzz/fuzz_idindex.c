/*
 * fuzz_idindex.c: libFuzzer target for the id index's run file parser
 * (src/idindex.c, formats/idindex.md).
 *
 * The input is a mode byte, then a run file, whole; the name's range is
 * taken as wide as can be (sequence numbers 1 .. 999,999,999,999).  With
 * mode bit 0 set, the header's and the directory's CRCs are made right
 * first, so that the structural checks behind them get explored.  A run that parses must
 * keep every table reference within its tables and every partition
 * within the file; its partitions whose checksums (version 3: of every
 * chunk) match are probed with
 * a few keys, and every block range a probe names must lie within the
 * block table.  Anything else abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/crc32c.h"
#include "evtape/filter.h"
#include "evtape/idindex.h"
#include "../../src/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Makes the header's and the directory's CRCs right. */
static void
fix_crcs(uint8_t *b, size_t size)
{
	uint64_t dl = le64_get(b + 40);
	if (dl > size - EVT_IDX_HDR_SIZE)
		dl = size - EVT_IDX_HDR_SIZE;
	le32_put(b + 48, evt_crc32c(0, b + EVT_IDX_HDR_SIZE, (size_t)dl));
	le32_put(b + 60, evt_crc32c(0, b, 60));
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t insize)
{
	struct evt_idx_run run = {.lo = 1, .hi = UINT64_C(999999999999)};
	const char *why = NULL;
	uint64_t at = 0;
	if (insize < 1)
		return 0;
	size_t size = insize - 1;
	uint8_t *data = malloc(size + 1);
	if (data == NULL)
		abort();
	memcpy(data, in + 1, size);
	if ((in[0] & 1) && size >= EVT_IDX_HDR_SIZE)
		fix_crcs(data, size);
	if (size >= EVT_IDX_HDR_SIZE)
		(void)evt_idx_run_dir_len(data);
	if (evt_idx_run_parse(data, size, size, &run, &why, &at) != 0) {
		if (why == NULL || at > size)
			abort();
		free(data);
		return 0;
	}
	for (uint32_t i = 0; i < run.nblocks; i++)
		if (run.blks[i].seg >= run.nsegs)
			abort();
	for (uint32_t p = 0; p < run.nparts; p++) {
		const struct evt_idx_part *q = &run.parts[p];
		if (q->nkeys == 0)
			continue;
		uint64_t len = evt_idx_part_bytes(&run, p);
		if (run.slotbits < 1 || run.slotbits > 16 ||
		    run.locbits > run.slotbits)
			abort();
		if (q->off > size || len > size - q->off)
			abort();
		uint8_t *slots = malloc(evt_filter_slot_bytes((q->segcount +
		    2) * q->seglen, run.slotbits) + 1);
		if (slots == NULL)
			abort();
		/* Chunks (version 3) or the whole partition must check. */
		if (evt_idx_part_slots(&run, p, data + q->off, slots) != 0) {
			free(slots);
			continue;
		}
		for (uint64_t k = 0; k < 64; k++) {
			uint64_t key = k * UINT64_C(0x9e3779b97f4a7c15);
			uint32_t first, count;
			if (evt_idx_probe(&run, q, slots, key, &first,
			    &count) && (first > run.nblocks ||
			    count > run.nblocks - first))
				abort();
		}
		free(slots);
	}
	evt_idx_run_free(&run);
	free(data);
	return 0;
}
