/*
 * fuzz_ckpt.c: libFuzzer target for the state checkpoint decoder
 * (src/ckpt.c; formats/segment.md, "State checkpoint").
 *
 * A checkpoint sits in a segment's compressed, checksummed index, so
 * mutations of a segment file almost never reach its decoder; this target
 * feeds it directly, as the checkpoint of segment 5.  One that decodes
 * must hold what the decoder promises (bounds, base_seq up to 5); its
 * entries, loaded into a builder and packed again, must decode, and
 * packing that again must give the same bytes; anything else abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/ckpt.h"
#include "evtape/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_ckpt: %s:%d: %s\n",       \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* Packs the checkpoint c is, through a builder seeded with it. */
static int
repack(const struct evt_ckpt *c, struct evt_buf *out)
{
	struct evt_ckb *b = evt_ckb_new();
	int rc = b == NULL ? EVT_ERR_NOMEM : evt_ckb_seed(b, c);
	if (rc == 0)
		rc = evt_ckb_pack(b, out);
	evt_ckb_free(b);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_ckpt c, d;
	const char *why = NULL;
	int rc = evt_ckpt_decode(data, size, 5, &c, &why);
	if (rc == EVT_ERR_NOMEM)
		return 0;
	if (rc != 0) {
		CHECK(rc == EVT_ERR_CORRUPT && why != NULL);
		return 0;
	}
	if (!c.complete) {
		evt_ckpt_free(&c);
		return 0;
	}
	size_t bytes = 0;
	for (size_t i = 0; i < c.n; i++)
		bytes += c.len[i];
	CHECK(c.n <= EVT_CKPT_MAX_ENTRIES && bytes <= EVT_CKPT_MAX_BYTES);
	CHECK(c.base_seq >= 1 && c.base_seq <= 5);
	struct evt_buf p1 = {0}, p2 = {0};
	if (repack(&c, &p1) == 0) {
		CHECK(evt_ckpt_decode(p1.p, p1.len, 5, &d, &why) == 0);
		CHECK(d.complete && d.n <= c.n && d.base_seq == c.base_seq &&
		    d.has_rx == c.has_rx);
		if (repack(&d, &p2) == 0)
			CHECK(p2.len == p1.len && memcmp(p1.p, p2.p, p1.len) == 0);
		evt_ckpt_free(&d);
	}
	evt_buf_free(&p1);
	evt_buf_free(&p2);
	evt_ckpt_free(&c);
	return 0;
}
