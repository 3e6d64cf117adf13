/*
 * test_filter.c: unit tests for the id filter (src/filter.c).
 *
 * Builds filters over random distinct keys for a range of sizes and
 * location widths, then checks that every key comes back with its exact
 * location, that absent keys match at the rate 2^-(16-locbits) promises,
 * that duplicates keep their smallest location, that the geometry and the
 * slot invariant are the ones formats/segment.md fixes (recomputed here
 * independently of the library), and that bad arguments are refused.
 * Sizes, bytes per key and build speed are printed as TAP comments.
 */
#include <stdint.h>
#include <time.h>

#include "evtape/err.h"
#include "evtape/filter.h"
#include "t.h"

/* Returns the splitmix64 finalizer of x, a bijection on 64-bit words. */
static uint64_t
mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Returns the next number of a test-local generator. */
static uint64_t
rnd(uint64_t *state)
{
	*state += UINT64_C(0x9e3779b97f4a7c15);
	return mix(*state);
}

/* Returns the monotonic clock in seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads slot i of a filter as stored: a little-endian uint16. */
static uint16_t
slot(const struct evt_filter *f, uint32_t i)
{
	return (uint16_t)(f->slots[2 * (size_t)i] |
	    f->slots[2 * (size_t)i + 1] << 8);
}

/*
 * Checks the stored invariant for one key with the formulas of the format,
 * written out again here so that the test does not trust evt_filter_get.
 */
static int
invariant_holds(const struct evt_filter *f, uint64_t key, uint32_t loc)
{
	uint64_t h = evt_mix64(key + f->seed);
	uint16_t fp = (uint16_t)(h ^ (h >> 32));
	uint32_t locmask = (1u << f->locbits) - 1, h0, h1, h2;

	h0 = (uint32_t)(((unsigned __int128)h *
	    (f->segcount * f->seglen)) >> 64);
	h1 = h0 + f->seglen;
	h2 = h1 + f->seglen;
	h1 ^= (uint32_t)(h >> 18) & (f->seglen - 1);
	h2 ^= (uint32_t)h & (f->seglen - 1);
	if (h0 >= f->nslots || h1 >= f->nslots || h2 >= f->nslots)
		return 0;
	return (slot(f, h0) ^ slot(f, h1) ^ slot(f, h2)) ==
	    ((fp & ~locmask & 0xffff) | loc);
}

/* Checks the geometry the format fixes for a few sizes. */
static void
test_geometry(void)
{
	static const struct {
		size_t	 n;
		uint32_t seglen, segcount, nslots;
	} g[] = {
		{ 0, 4, 1, 12 },	{ 1, 4, 1, 12 },
		{ 2, 4, 1, 12 },	{ 3, 8, 1, 24 },
		{ 10, 16, 1, 48 },	{ 100, 64, 1, 192 },
		{ 1000, 128, 9, 1408 }, { 100000, 2048, 56, 118784 },
		{ 1000000, 8192, 136, 1130496 },
	};
	struct evt_filter f;
	uint64_t	 *keys;
	uint32_t	 *locs;
	size_t		  i, k;

	for (i = 0; i < sizeof g / sizeof g[0]; i++) {
		keys = malloc((g[i].n + 1) * sizeof *keys);
		locs = calloc(g[i].n + 1, sizeof *locs);
		for (k = 0; k < g[i].n; k++)
			keys[k] = mix(k + 77);
		T_EQ(evt_filter_build(keys, locs, g[i].n, 0, &f), 0,
		    "geometry n=%zu: build", g[i].n);
		T_OK(f.seglen == g[i].seglen && f.segcount == g[i].segcount &&
		    f.nslots == g[i].nslots,
		    "geometry n=%zu: seglen %u segcount %u nslots %u", g[i].n,
		    f.seglen, f.segcount, f.nslots);
		evt_filter_free(&f);
		free(keys);
		free(locs);
	}
}

/*
 * Builds a filter over n random distinct keys with random locations and
 * checks lookups of present and absent keys.
 */
static void
test_set(size_t n, unsigned locbits, uint64_t salt)
{
	struct evt_filter f;
	uint64_t	 *keys, *scratch, state = salt, key;
	uint32_t	 *locs, *lscratch, loc, locmask = (1u << locbits) - 1;
	size_t		  i, bad = 0, badinv = 0, hits = 0, nabsent;
	double		  t, p, rate;
	int		  rc;

	keys = malloc((n + 1) * sizeof *keys);
	scratch = malloc((n + 1) * sizeof *scratch);
	locs = malloc((n + 1) * sizeof *locs);
	lscratch = malloc((n + 1) * sizeof *lscratch);
	for (i = 0; i < n; i++) {
		keys[i] = mix(salt + i);
		locs[i] = (uint32_t)rnd(&state) & locmask;
	}
	memcpy(scratch, keys, n * sizeof *keys);
	memcpy(lscratch, locs, n * sizeof *locs);

	t = now();
	rc = evt_filter_build(scratch, lscratch, n, locbits, &f);
	t = now() - t;
	T_EQ(rc, 0, "n=%zu locbits=%u: build", n, locbits);
	if (rc != 0)
		goto out;

	for (i = 0; i < n; i++) {
		loc = UINT32_MAX;
		if (evt_filter_get(&f, keys[i], &loc) != 1 || loc != locs[i])
			bad++;
		if (!invariant_holds(&f, keys[i], locs[i]))
			badinv++;
	}
	T_EQ(bad, 0, "n=%zu locbits=%u: every key found with its location",
	    n, locbits);
	T_EQ(badinv, 0, "n=%zu locbits=%u: slot invariant per the format",
	    n, locbits);

	/*
	 * Absent keys are mix(salt + i) for i >= n, distinct from the
	 * present ones.  Enough of them that ~60 false positives are
	 * expected at locbits 0, so that the 2x band is far from noise.
	 */
	p = 1.0 / (double)(1u << (16 - locbits));
	nabsent = locbits == 0 ? 4000000 : 1000000;
	for (i = 0; i < nabsent; i++) {
		key = mix(salt + n + i);
		hits += evt_filter_get(&f, key, &loc);
	}
	rate = (double)hits / (double)nabsent;
	T_OK(rate >= p / 2 && rate <= p * 2,
	    "n=%zu locbits=%u: false positives %.3g%% within 2x of %.3g%%", n,
	    locbits, rate * 100, p * 100);
	printf("# n=%zu locbits=%u: seglen %u segcount %u nslots %u, "
	    "%.3f bytes/key, build %.1f ms (%.2f Mkeys/s)\n", n, locbits,
	    f.seglen, f.segcount, f.nslots,
	    n ? 2.0 * f.nslots / (double)n : 0.0, t * 1e3,
	    t > 0 ? (double)n / t / 1e6 : 0.0);
	evt_filter_free(&f);
out:
	free(keys);
	free(scratch);
	free(locs);
	free(lscratch);
}

/*
 * Packed slots (the id index's runs of version 2): a filter packed to
 * slotbits bits finds every key with its location, the packed bytes are
 * the low bits of the 16-bit slots in the documented bit order, and
 * absent keys match at about 2^-(slotbits - locbits).
 */
static void
test_packed(unsigned slotbits, unsigned locbits)
{
	size_t n = 50000, nabsent = 400000, bad = 0, order = 0, hits = 0;
	uint64_t *keys = malloc(n * sizeof *keys), *k2 = malloc(n * 8);
	uint32_t *locs = malloc(n * sizeof *locs), *l2 = malloc(n * 4), loc;
	uint64_t state = slotbits * 131 + locbits;
	for (size_t i = 0; i < n; i++) {
		keys[i] = k2[i] = mix(((uint64_t)slotbits << 48) + i);
		locs[i] = l2[i] = (uint32_t)rnd(&state) & ((1u << locbits) - 1);
	}
	struct evt_filter f;
	T_EQ(evt_filter_build(k2, l2, n, locbits, &f), 0,
	    "packed %u/%u: build", slotbits, locbits);
	size_t len = evt_filter_slot_bytes(f.nslots, slotbits);
	T_EQ(len, (f.nslots * (size_t)slotbits + 7) / 8,
	    "packed %u/%u: ceil(nslots * slotbits / 8) bytes", slotbits,
	    locbits);
	uint8_t *packed = malloc(len);
	evt_filter_pack(&f, slotbits, packed);
	for (uint32_t i = 0; i < f.nslots; i++) {
		uint32_t v = 0;
		for (unsigned b = 0; b < slotbits; b++) {
			size_t at = (size_t)i * slotbits + b;
			v |= (uint32_t)(packed[at / 8] >> (at % 8) & 1) << b;
		}
		uint32_t want = (uint32_t)(f.slots[2 * i] |
		    f.slots[2 * i + 1] << 8) & ((1u << slotbits) - 1);
		order += v != want;
	}
	T_EQ(order, 0, "packed %u/%u: slot i is bits slotbits*i.. of the "
	    "bytes, low bit first", slotbits, locbits);
	struct evt_filter p = f;
	p.slots = packed;
	p.slotbits = (uint8_t)slotbits;
	for (size_t i = 0; i < n; i++)
		if (evt_filter_get(&p, keys[i], &loc) != 1 || loc != locs[i])
			bad++;
	T_EQ(bad, 0, "packed %u/%u: every key found with its location",
	    slotbits, locbits);
	for (size_t i = 0; i < nabsent; i++)
		hits += evt_filter_get(&p, mix(((uint64_t)slotbits << 48) + n +
		    i), &loc);
	double rate = (double)hits / (double)nabsent;
	double want = 1.0 / (double)(1u << (slotbits - locbits));
	T_OK(rate >= want / 2 && rate <= want * 2, "packed %u/%u: false "
	    "positives %.3g%% within 2x of %.3g%%", slotbits, locbits,
	    rate * 100, want * 100);
	free(packed);
	evt_filter_free(&f);
	free(keys);
	free(k2);
	free(locs);
	free(l2);
}

/* Checks that a repeated key keeps its smallest location. */
static void
test_duplicates(void)
{
	struct evt_filter f;
	uint64_t	  keys[] = { 11, 22, 11, 33, 11, 22 };
	uint32_t	  locs[] = { 7, 3, 2, 5, 9, 1 };
	uint64_t	 *big, *bkeys, state = 5;
	uint32_t	 *blocs, *want, loc;
	size_t		  i, nd = 50000, bad = 0;
	int		  ok;

	T_EQ(evt_filter_build(keys, locs, 6, 5, &f), 0, "dups: build");
	ok = evt_filter_get(&f, 11, &loc) == 1 && loc == 2;
	T_OK(ok, "dups: key seen three times keeps smallest location 2");
	ok = evt_filter_get(&f, 22, &loc) == 1 && loc == 1;
	T_OK(ok, "dups: key seen twice keeps smallest location 1");
	ok = evt_filter_get(&f, 33, &loc) == 1 && loc == 5;
	T_OK(ok, "dups: single key keeps location 5");
	T_EQ(f.nslots, 24, "dups: geometry is that of 3 distinct keys");
	evt_filter_free(&f);

	/* 1000 copies of one key is one key. */
	big = malloc(1000 * sizeof *big);
	blocs = malloc(1000 * sizeof *blocs);
	for (i = 0; i < 1000; i++) {
		big[i] = 42;
		blocs[i] = (uint32_t)(1000 - i) % 1024;
	}
	T_EQ(evt_filter_build(big, blocs, 1000, 10, &f), 0,
	    "dups: 1000 copies: build");
	ok = evt_filter_get(&f, 42, &loc) == 1 && loc == 1;
	T_OK(ok, "dups: 1000 copies: smallest location 1");
	T_EQ(f.nslots, 12, "dups: 1000 copies: geometry of one key");
	evt_filter_free(&f);
	free(big);
	free(blocs);

	/* Every key three times with random locations, shuffled. */
	bkeys = malloc(3 * nd * sizeof *bkeys);
	blocs = malloc(3 * nd * sizeof *blocs);
	want = malloc(nd * sizeof *want);
	for (i = 0; i < nd; i++)
		want[i] = 1023;
	for (i = 0; i < 3 * nd; i++) {
		bkeys[i] = mix(1000 + i % nd);
		blocs[i] = (uint32_t)rnd(&state) & 1023;
		if (blocs[i] < want[i % nd])
			want[i % nd] = blocs[i];
	}
	for (i = 3 * nd - 1; i > 0; i--) {
		size_t	 j = (size_t)(rnd(&state) % (i + 1));
		uint64_t tk = bkeys[i];
		uint32_t tl = blocs[i];

		bkeys[i] = bkeys[j];
		bkeys[j] = tk;
		blocs[i] = blocs[j];
		blocs[j] = tl;
	}
	T_EQ(evt_filter_build(bkeys, blocs, 3 * nd, 10, &f), 0,
	    "dups: %zu keys x3: build", nd);
	for (i = 0; i < nd; i++) {
		if (evt_filter_get(&f, mix(1000 + i), &loc) != 1 ||
		    loc != want[i])
			bad++;
	}
	T_EQ(bad, 0, "dups: %zu keys x3: each keeps its smallest location",
	    nd);
	evt_filter_free(&f);
	free(bkeys);
	free(blocs);
	free(want);
}

/* Checks that the build depends on the key set, not the key order. */
static void
test_deterministic(void)
{
	struct evt_filter f1, f2;
	uint64_t	  a[2000], b[2000];
	uint32_t	  la[2000], lb[2000];
	size_t		  i, n = 2000;
	int		  same;

	for (i = 0; i < n; i++) {
		a[i] = mix(i + 9);
		la[i] = (uint32_t)i & 511;
		b[n - 1 - i] = a[i];
		lb[n - 1 - i] = la[i];
	}
	T_EQ(evt_filter_build(a, la, n, 9, &f1), 0, "order: build 1");
	T_EQ(evt_filter_build(b, lb, n, 9, &f2), 0, "order: build 2");
	same = f1.seed == f2.seed && f1.nslots == f2.nslots &&
	    memcmp(f1.slots, f2.slots, 2 * (size_t)f1.nslots) == 0;
	T_OK(same, "order: reversed input gives the same filter");
	evt_filter_free(&f1);
	evt_filter_free(&f2);
}

/*
 * Builds many small filters, where a seed fails to peel most often, so
 * that the retry path (rehashing keys in place) is exercised.
 */
static void
test_small(void)
{
	struct evt_filter f;
	uint64_t	  keys[64], orig[64], state = 99;
	uint32_t	  locs[64], olocs[64], loc;
	size_t		  n, i, rep, bad = 0, fail = 0;

	for (n = 1; n <= 64; n++) {
		for (rep = 0; rep < 300; rep++) {
			for (i = 0; i < n; i++) {
				orig[i] = rnd(&state);
				olocs[i] = (uint32_t)rnd(&state) & 31;
			}
			memcpy(keys, orig, n * sizeof *keys);
			memcpy(locs, olocs, n * sizeof *locs);
			if (evt_filter_build(keys, locs, n, 5, &f) != 0) {
				fail++;
				continue;
			}
			for (i = 0; i < n; i++) {
				if (evt_filter_get(&f, orig[i], &loc) != 1 ||
				    loc != olocs[i])
					bad++;
			}
			evt_filter_free(&f);
		}
	}
	T_EQ(fail, 0, "small: 19200 filters of 1..64 keys all build");
	T_EQ(bad, 0, "small: every key found with its location");
}

/* Checks argument validation. */
static void
test_args(void)
{
	struct evt_filter f;
	uint64_t	  keys[3] = { 1, 2, 3 };
	uint32_t	  locs[3] = { 0, 1, 2 };
	uint32_t	  big[3] = { 0, 32, 1 };
	uint32_t	  loc;

	T_EQ(evt_filter_build(keys, locs, 3, 11, &f), EVT_ERR_ARG,
	    "args: locbits 11 is refused");
	T_OK(f.slots == NULL, "args: nothing allocated after an error");
	T_EQ(evt_filter_build(keys, big, 3, 5, &f), EVT_ERR_ARG,
	    "args: a location wider than locbits is refused");
	T_EQ(evt_filter_build(keys, locs, 3, 10, &f), 0,
	    "args: locbits 10 is accepted");
	f.locbits = 11;
	T_EQ(evt_filter_get(&f, 1, &loc), 0,
	    "args: a lookup with a bad locbits matches nothing");
	f.locbits = 10;
	f.nslots = 5;
	T_EQ(evt_filter_get(&f, 1, &loc), 0,
	    "args: a lookup never reads past nslots");
	f.nslots = 24;
	evt_filter_free(&f);
	T_OK(f.slots == NULL, "args: free clears slots");
}

/* Measures the build rate of a sealed segment's worth of keys. */
static void
bench_build(void)
{
	struct evt_filter f;
	size_t		  n = 1000000, i, rep;
	uint64_t	 *keys = malloc(n * sizeof *keys);
	uint32_t	 *locs = malloc(n * sizeof *locs);
	double		  t, best = 1e9;

	for (rep = 0; rep < 3; rep++) {
		for (i = 0; i < n; i++) {
			keys[i] = mix(i + rep * n);
			locs[i] = (uint32_t)(i >> 10) & 1023;
		}
		t = now();
		if (evt_filter_build(keys, locs, n, 10, &f) != 0)
			break;
		t = now() - t;
		if (t < best)
			best = t;
		evt_filter_free(&f);
	}
	printf("# build 1M keys: best of 3 %.1f ms, %.2f Mkeys/s\n",
	    best * 1e3, (double)n / best / 1e6);
	free(keys);
	free(locs);
}

int
main(void)
{
	static const size_t   sizes[] = { 0, 1, 2, 3, 10, 100, 1000, 100000,
		2000000 };
	static const unsigned widths[] = { 0, 5, 9, 10 };
	size_t		      i, j;

	test_geometry();
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		for (j = 0; j < sizeof widths / sizeof widths[0]; j++)
			test_set(sizes[i], widths[j],
			    (uint64_t)(i * 16 + j) << 40);
	}
	test_packed(8, 0);
	test_packed(10, 9);
	test_packed(11, 9);
	test_packed(12, 10);
	test_packed(15, 10);
	test_packed(16, 10);
	test_duplicates();
	test_deterministic();
	test_small();
	test_args();
	bench_build();
	T_DONE();
}
