/*
 * fuzz_idindex.c: libFuzzer target for the id index's run file parser
 * (src/idindex.c, formats/idindex.md).
 *
 * The input is a run file, whole; the name's range is taken as wide as
 * can be (sequence numbers 1 .. 999,999,999,999).  A run that parses must
 * keep every table reference within its tables and every partition
 * within the file; its partitions whose checksum matches are probed with
 * a few keys, and every block range a probe names must lie within the
 * block table.  Anything else abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/crc32c.h"
#include "evtape/idindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_idx_run run = {.lo = 1, .hi = UINT64_C(999999999999)};
	const char *why = NULL;
	uint64_t at = 0;
	if (size >= EVT_IDX_HDR_SIZE) {
		uint64_t dl = evt_idx_run_dir_len(data);
		(void)dl;
	}
	if (evt_idx_run_parse(data, size, size, &run, &why, &at) != 0) {
		if (why == NULL || at > size)
			abort();
		return 0;
	}
	for (uint32_t i = 0; i < run.nblocks; i++)
		if (run.blks[i].seg >= run.nsegs)
			abort();
	for (uint32_t p = 0; p < run.nparts; p++) {
		const struct evt_idx_part *q = &run.parts[p];
		if (q->nkeys == 0)
			continue;
		uint64_t len = 2 * (uint64_t)(q->segcount + 2) * q->seglen;
		if (q->off > size || len > size - q->off)
			abort();
		if (evt_crc32c(0, data + q->off, (size_t)len) != q->crc)
			continue;
		for (uint64_t k = 0; k < 64; k++) {
			uint64_t key = k * UINT64_C(0x9e3779b97f4a7c15);
			uint32_t first, count;
			if (evt_idx_probe(&run, q, data + q->off, key, &first,
			    &count) && (first > run.nblocks ||
			    count > run.nblocks - first))
				abort();
		}
	}
	evt_idx_run_free(&run);
	return 0;
}
