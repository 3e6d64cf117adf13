/*
 * fuzz_catalog.c: libFuzzer target for the archive catalog's parser
 * (src/catalog.c, formats/catalog.md).
 *
 * The input is a mode byte, then a catalog file, whole.  With mode bit 0
 * set, the header's and the body's CRCs are made right first (the body
 * as long as the header's counts say, cut to the file), so that the
 * checks behind them get explored.  A catalog that parses must keep every
 * entry within the input, its segment numbers in range and ascending,
 * its run ranges ordered, every sealed entry's times ordered; its
 * entries are looked up by number, tested against a time window, and
 * encoded again, which must parse to the same entries.  Anything else
 * abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/catalog.h"
#include "evtape/crc32c.h"
#include "../../src/le.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Makes the header's and the body's CRCs right. */
static void
fix_crcs(uint8_t *b, size_t size)
{
	uint64_t end = le16_get(b + 10) + le32_get(b + 48) * le16_get(b + 12) +
	    le32_get(b + 52) * le16_get(b + 14);
	uint64_t sums = le16_get(b + 10) >= 72 && size >= 72 ?
	    (uint64_t)le32_get(b + 64) * le16_get(b + 14) : 0;
	if (sums > 0 && end + sums <= size)
		le32_put(b + 68, evt_crc32c(0, b + end, (size_t)sums));
	if (end > size)
		end = size;
	if (end > EVT_CAT_HDR_SIZE)
		le32_put(b + 56, evt_crc32c(0, b + EVT_CAT_HDR_SIZE,
		    (size_t)end - EVT_CAT_HDR_SIZE));
	le32_put(b + 60, evt_crc32c(0, b, 60));
}

/* Checks a parsed catalog's entries and their re-encoding. */
static void
check(const struct evt_cat *c, const uint8_t *data, size_t size)
{
	if (c->sp < data || c->rp < c->sp ||
	    (size_t)(c->rp - data) + (size_t)c->nrun * c->rstride > size)
		abort();
	struct evt_cat_seg *s = calloc((size_t)c->nseg + 1, sizeof *s);
	struct evt_cat_run *r = calloc((size_t)c->nrun + 1, sizeof *r);
	if (s == NULL || r == NULL)
		abort();
	for (uint32_t i = 0; i < c->nseg; i++) {
		evt_cat_seg_at(c, i, &s[i]);
		struct evt_cat_seg f;
		if (s[i].seq == 0 || (i > 0 && s[i].seq <= s[i - 1].seq) ||
		    evt_cat_find(c, s[i].seq, &f) != 1 || f.seq != s[i].seq)
			abort();
		if ((s[i].flags & EVT_CATS_SEALED) && s[i].nrecords > 0 &&
		    s[i].first_rx > s[i].last_rx)
			abort();
		(void)evt_cat_outside(&s[i], s[i].first_rx, s[i].last_rx);
	}
	for (uint32_t i = 0; i < c->nrun; i++) {
		evt_cat_run_at(c, i, &r[i]);
		if (r[i].lo == 0 || r[i].lo > r[i].hi)
			abort();
	}
	struct evt_cat_run *u = calloc((size_t)c->nsum + 1, sizeof *u);
	if (u == NULL || (c->nsum > 0 && (c->up < c->rp ||
	    (size_t)(c->up - data) + (size_t)c->nsum * c->rstride > size)))
		abort();
	for (uint32_t i = 0; i < c->nsum; i++) {
		evt_cat_sum_at(c, i, &u[i]);
		if (u[i].lo == 0 || u[i].lo > u[i].hi)
			abort();
	}
	size_t len = evt_cat_size(c->nseg, c->nrun, c->nsum);
	uint8_t *out = malloc(len);
	struct evt_cat c2;
	const char *why;
	uint64_t at;
	if (out == NULL)
		abort();
	evt_cat_encode(c, s, c->nseg, r, c->nrun, u, c->nsum, out);
	if (evt_cat_parse(out, len, &c2, &why, &at) != 0 ||
	    c2.nseg != c->nseg || c2.nrun != c->nrun || !c2.has_sums ||
	    c2.nsum != c->nsum)
		abort();
	for (uint32_t i = 0; i < c->nseg; i++) {
		struct evt_cat_seg e;
		evt_cat_seg_at(&c2, i, &e);
		if (memcmp(&e, &s[i], sizeof e) != 0)
			abort();
	}
	free(out);
	free(s);
	free(r);
	free(u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t insize)
{
	struct evt_cat c;
	const char *why = NULL;
	uint64_t at = 0;
	if (insize < 1)
		return 0;
	size_t size = insize - 1;
	uint8_t *data = malloc(size + 1);
	if (data == NULL)
		abort();
	memcpy(data, in + 1, size);
	if ((in[0] & 1) && size >= EVT_CAT_HDR_SIZE)
		fix_crcs(data, size);
	if (evt_cat_parse(data, size, &c, &why, &at) != 0) {
		if (why == NULL || at > size || c.nseg != 0 || c.sp != NULL)
			abort();
	} else {
		check(&c, data, size);
	}
	free(data);
	return 0;
}
