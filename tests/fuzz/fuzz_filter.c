/*
 * fuzz_filter.c: libFuzzer target for the id filter (src/filter.c).
 *
 * The input chooses the location width and a key set: byte 0 is locbits
 * (values above 10 must be refused), byte 1 a mode, and the rest either
 * explicit (key, location) records or, in generated mode, a seed and a
 * count for up to 5000 pseudo-random keys.  Narrow keys make duplicates
 * common.  After a build every key must be found with the smallest
 * location it was given; anything else abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pair {
	uint64_t key;
	uint32_t loc;
};

/* Orders pairs by key, then location. */
static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->loc != y->loc)
		return x->loc < y->loc ? -1 : 1;
	return 0;
}

/* Reads an up to 8-byte little-endian number. */
static uint64_t
get_le(const uint8_t *p, size_t len)
{
	uint64_t v = 0;

	while (len-- > 0)
		v = v << 8 | p[len];
	return v;
}

/* Returns the next splitmix64 output. */
static uint64_t
next_rnd(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t widths[] = { 8, 1, 2, 3, 4, 8, 8, 8 };
	struct evt_filter   f;
	struct pair	   *p;
	uint64_t	 *keys, state, kmask;
	uint32_t	 *locs, loc, locmask;
	size_t		  n, i, kw, rec;
	unsigned	  locbits, mode;
	int		  rc;

	if (size < 2)
		return 0;
	locbits = data[0];
	mode = data[1];
	data += 2;
	size -= 2;
	locmask = locbits <= 10 ? (1u << locbits) - 1 : 0;

	/* Mode bits 0-2 pick the key width in bytes: 1, 2, 3, 4 or 8. */
	kw = widths[mode & 7];
	kmask = kw == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * kw)) - 1;
	if (mode & 8) {
		if (size < 10)
			return 0;
		state = get_le(data, 8);
		n = get_le(data + 8, 2) % 5001;
	} else {
		rec = kw + 2;
		n = size / rec;
		state = 0;
	}

	p = malloc((n + 1) * sizeof *p);
	keys = malloc((n + 1) * sizeof *keys);
	locs = malloc((n + 1) * sizeof *locs);
	if (p == NULL || keys == NULL || locs == NULL)
		abort();
	for (i = 0; i < n; i++) {
		if (mode & 8) {
			p[i].key = next_rnd(&state) & kmask;
			p[i].loc = (uint32_t)next_rnd(&state) & locmask;
		} else {
			p[i].key = get_le(data + i * (kw + 2), kw);
			p[i].loc = (uint32_t)get_le(data + i * (kw + 2) + kw,
			    2) & locmask;
		}
		keys[i] = p[i].key;
		locs[i] = p[i].loc;
	}

	rc = evt_filter_build(keys, locs, n, locbits, &f);
	if (locbits > 10) {
		if (rc != EVT_ERR_ARG)
			abort();
		goto out;
	}
	if (rc != 0)
		abort();

	/* The first pair of each key in sorted order has its smallest loc. */
	qsort(p, n, sizeof *p, pair_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0 && p[i].key == p[i - 1].key)
			continue;
		if (evt_filter_get(&f, p[i].key, &loc) != 1 || loc != p[i].loc)
			abort();
	}
	if (f.nslots != (f.segcount + 2) * f.seglen || f.segcount < 1 ||
	    (f.seglen & (f.seglen - 1)) != 0)
		abort();
	evt_filter_free(&f);
out:
	free(p);
	free(keys);
	free(locs);
	return 0;
}
