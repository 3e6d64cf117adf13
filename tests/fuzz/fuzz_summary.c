/*
 * fuzz_summary.c: libFuzzer target for the segment summary decoder
 * (src/summary.c; formats/segment.md, "Summary").
 *
 * A summary sits in a segment's compressed, checksummed index, so
 * mutations of a segment file (fuzz_segment) almost never reach its
 * decoder; this target feeds it directly.  Byte 0 is the block count of
 * the segment (0..3); the rest is the summary's MessagePack bytes, decoded
 * against a dictionary of 16 strings "s0".."s15" (string 13 a placeholder
 * for a lost definition).  A summary that decodes must hold what the
 * decoder promises (counts that add up, buckets in order inside
 * first_rx..last_rx, positions inside the directory), and encoding it
 * again must decode to the same figures; anything else abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/dict.h"
#include "evtape/err.h"
#include "evtape/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_summary: %s:%d: %s\n",    \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* Checks the promises of a decoded complete summary. */
static void
check_sum(const struct evt_sum *s, uint32_t nblocks)
{
	uint64_t t = 0, u = 0, b = 0;
	for (uint32_t i = 0; i < s->ntypes; i++)
		t += s->types[i].count;
	for (uint32_t i = 0; i < s->nsources; i++)
		u += s->sources[i].count;
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		b += s->buckets[i].count;
		CHECK(i == 0 || s->buckets[i].k > s->buckets[i - 1].k);
		CHECK(s->buckets[i].k * EVT_SUM_BUCKET_US <= s->last_rx);
		CHECK((s->buckets[i].k + 1) * EVT_SUM_BUCKET_US > s->first_rx);
	}
	CHECK(t == s->events && u == s->events && b == s->events);
	CHECK(s->messages <= s->events);
	CHECK(!s->has_config || s->config.block < nblocks);
	for (uint32_t i = 0; i < s->nstates; i++)
		CHECK(s->states[i].block < nblocks);
}

/* Whether two decoded summaries tell the same figures. */
static int
same_sum(const struct evt_sum *a, const struct evt_sum *b)
{
	if (a->events != b->events || a->messages != b->messages ||
	    a->ntypes != b->ntypes || a->nsources != b->nsources ||
	    a->nbuckets != b->nbuckets || a->has_config != b->has_config ||
	    a->nstates != b->nstates || memcmp(a->frames, b->frames,
	    sizeof a->frames) != 0)
		return 0;
	if (a->events > 0 && (a->first_rx != b->first_rx ||
	    a->last_rx != b->last_rx))
		return 0;
	for (uint32_t i = 0; i < a->ntypes; i++)
		if (a->types[i].count != b->types[i].count ||
		    a->types[i].len != b->types[i].len ||
		    memcmp(a->types[i].s, b->types[i].s, a->types[i].len) != 0)
			return 0;
	for (uint32_t i = 0; i < a->nbuckets; i++)
		if (a->buckets[i].k != b->buckets[i].k ||
		    a->buckets[i].count != b->buckets[i].count)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint32_t nblocks = data[0] & 3;
	struct evt_dict d;
	evt_dict_init(&d);
	for (int i = 0; i < 16; i++) {
		char s[8];
		int n = snprintf(s, sizeof s, "s%d", i);
		/* String 13: a placeholder for a lost definition. */
		CHECK(evt_dict_str_add(&d, i == 13 ? NULL : s, (size_t)n) == i);
	}
	struct evt_sum s, s2;
	struct evt_buf b = {0};
	const char *why;
	int rc = evt_sum_decode(data + 1, size - 1, &d, nblocks, &s, &why);
	CHECK(rc == 0 || rc == EVT_ERR_CORRUPT || rc == EVT_ERR_NOMEM);
	CHECK(rc == 0 || why != NULL);
	if (rc == 0 && s.complete) {
		check_sum(&s, nblocks);
		CHECK(evt_sum_pack(&s, &d, &b) == 0);
		CHECK(evt_sum_decode(b.p, b.len, &d, nblocks, &s2, &why) == 0);
		CHECK(s2.complete && same_sum(&s, &s2));
		evt_sum_free(&s2);
	}
	evt_sum_free(&s);
	evt_buf_free(&b);
	evt_dict_free(&d);
	return 0;
}
