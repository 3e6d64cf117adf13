/*
 * filter.c: the id filter of a sealed segment, a 3-wise binary fuse filter
 * with 16-bit slots used as a retrieval structure.
 *
 * Data flow: when a segment is sealed, the writer hands over the 64-bit id
 * hashes of its events with their block numbers.  evt_filter_build hashes
 * them with a seed (in place), radix-sorts them by that hash, drops
 * duplicates, and peels the 3-uniform hypergraph whose vertices are the
 * slots and whose edges are the three slots of each key (Graf & Lemire,
 * 2022; the construction follows FastFilter's binaryfusefilter.h).  The
 * peeling order, replayed backwards, lets each key fix one of its three
 * slots so that the xor of the three is its fingerprint-and-location.  The
 * segment reader maps the slots and calls evt_filter_get, which reads three
 * of them.
 *
 * The geometry (seglen, segcount) and the hashing are part of the file
 * format, formats/segment.md, "Id filter": do not change a formula here
 * without a format version bump.
 *
 * Sorting by the seeded hash is what makes the build fast: h0 is monotone
 * in the hash and h1, h2 lie within two segments after it, so the counting
 * pass sweeps the slot arrays instead of missing the cache on every key.
 * The same sort brings duplicate keys together.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/filter.h"

#define FILTER_MAXLOCBITS 10
#define FILTER_MAXSEGLEN 262144
/* More keys would overflow the 32-bit slot count of the format. */
#define FILTER_MAXKEYS ((size_t)1 << 31)
/* The first seed state (the reference implementation's). */
#define FILTER_SEED0 UINT64_C(0x726b2b9d438b9d4d)
/* Consecutive peeling failures after which the filter gets more segments. */
#ifndef FILTER_GROW_AFTER
#define FILTER_GROW_AFTER 32
#endif

/* Inverses mod 2^64 of the two evt_mix64 multipliers. */
#define FILTER_MIX_INV1 UINT64_C(0x4f74430c22a54005)
#define FILTER_MIX_INV2 UINT64_C(0x9cb4b2f8129337db)

/*
 * The sort: LSD radix passes of 11 bits, two over the top 22 bits (from
 * bit 42), then insertion sort on runs up to FILTER_SORT_RUN keys and four
 * more passes (bits 0-43) on longer ones.
 */
#define FILTER_RADIX_BITS 11
#define FILTER_RADIX_SIZE (1u << FILTER_RADIX_BITS)
#define FILTER_RADIX_MAXPASSES 4
#define FILTER_SORT_TOP 42
#define FILTER_SORT_RUN 64

/* Everything the builder allocates, freed together. */
struct filter_work {
	size_t	  n;	  /* distinct keys */
	uint32_t  seglen;
	uint32_t  segcount;
	uint32_t  nslots;
	uint64_t *tk;	  /* n: sort scratch, then the peeled hashes */
	uint32_t *tl;	  /* n: sort scratch, then loc | slot index << 16 */
	uint32_t *hist;	  /* FILTER_RADIX_MAXPASSES * FILTER_RADIX_SIZE */
	uint8_t	 *count;  /* nslots: keys per slot << 2 | xor of index */
	uint64_t *hash;	  /* nslots: xor of the hashes of its keys */
	uint16_t *loc;	  /* nslots: xor of the locations of its keys */
	uint32_t *alone;  /* nslots: queue of slots with one key */
	int	  dirty;  /* count, hash, loc used by a failed peel */
};

/* Advances a splitmix64 state and returns its next output. */
static uint64_t
filter_splitmix64(uint64_t *state)
{
	uint64_t z;

	z = (*state += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Inverts evt_mix64, so that a retry can rehash keys[] in place. */
static uint64_t
filter_unmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= FILTER_MIX_INV2;
	h ^= h >> 33;
	h *= FILTER_MIX_INV1;
	h ^= h >> 33;
	return h;
}

/* Computes the format's segment length and count for n distinct keys. */
static void
filter_geometry(size_t n, uint32_t *seglen, uint32_t *segcount)
{
	uint64_t len, cap, arraylen, count;
	int64_t	 init;
	double	 factor;

	if (n == 0)
		len = 4;
	else
		len = (uint64_t)1 << (int)floor(log((double)n) / log(3.33) +
		    2.25);
	if (len > FILTER_MAXSEGLEN)
		len = FILTER_MAXSEGLEN;
	factor = n <= 1 ? 0 : fmax(1.125, 0.875 + 0.25 * log(1000000.0) /
	    log((double)n));
	cap = n <= 1 ? 0 : (uint32_t)round((double)n * factor);

	/*
	 * The reference computes this in uint32_t, where a negative count
	 * wraps and the sum below wraps back; clamping at 0 gives the same
	 * segcount (1) for every small n.
	 */
	init = (int64_t)((cap + len - 1) / len) - 2;
	if (init < 0)
		init = 0;
	arraylen = ((uint64_t)init + 2) * len;
	count = (arraylen + len - 1) / len;
	count = count <= 2 ? 1 : count - 2;

	*seglen = (uint32_t)len;
	*segcount = (uint32_t)count;
}

/* Computes the three slots of a seeded hash. */
static inline void
filter_slots(uint64_t h, uint32_t seglen, uint64_t range, uint32_t s[3])
{
	uint32_t mask = seglen - 1;

	s[0] = (uint32_t)(((unsigned __int128)h * range) >> 64);
	s[1] = s[0] + seglen;
	s[2] = s[1] + seglen;
	s[1] ^= (uint32_t)(h >> 18) & mask;
	s[2] ^= (uint32_t)h & mask;
}

/* Returns the fingerprint of a seeded hash. */
static inline uint16_t
filter_fingerprint(uint64_t h)
{
	return (uint16_t)(h ^ (h >> 32));
}

/* Reads little-endian slot i. */
static inline uint16_t
filter_load(const uint8_t *slots, uint32_t i)
{
	return (uint16_t)(slots[2 * (size_t)i] |
	    (uint16_t)slots[2 * (size_t)i + 1] << 8);
}

/* Reads slot i of slotbits bits (1..15) packed as evt_filter_pack
 * writes them. */
static inline uint16_t
filter_load_packed(const uint8_t *slots, uint32_t i, unsigned bits)
{
	uint64_t at = (uint64_t)i * bits;
	size_t b = (size_t)(at >> 3), e = (size_t)((at + bits - 1) >> 3);
	uint32_t v = 0;
	for (size_t k = b; k <= e; k++) /* 2 or 3 bytes, never past */
		v |= (uint32_t)slots[k] << (8 * (k - b));
	return (uint16_t)((v >> (at & 7)) & ((1u << bits) - 1));
}

/* Reads slot i of f, whatever its width. */
static inline uint16_t
filter_slot(const struct evt_filter *f, uint32_t i)
{
	if (f->slotbits == 0 || f->slotbits >= 16)
		return filter_load(f->slots, i);
	return filter_load_packed(f->slots, i, f->slotbits);
}

/* Writes little-endian slot i. */
static inline void
filter_store(uint8_t *slots, uint32_t i, uint16_t v)
{
	slots[2 * (size_t)i] = (uint8_t)v;
	slots[2 * (size_t)i + 1] = (uint8_t)(v >> 8);
}

/*
 * Stably sorts keys (with locs alongside) by the bits lo .. lo + 11 * passes
 * of the keys, using w->tk and w->tl as scratch.
 */
static void
filter_radix(uint64_t *keys, uint32_t *locs, size_t n, unsigned lo,
    unsigned passes, struct filter_work *w)
{
	uint64_t *src = keys, *dst = w->tk, *tk;
	uint32_t *lsrc = locs, *ldst = w->tl, *tl, *c, sum, t;
	size_t	  i;
	unsigned  p, d, shift;

	memset(w->hist, 0, passes * FILTER_RADIX_SIZE * sizeof *w->hist);
	for (i = 0; i < n; i++) {
		for (p = 0; p < passes; p++) {
			shift = lo + p * FILTER_RADIX_BITS;
			d = (unsigned)(keys[i] >> shift) &
			    (FILTER_RADIX_SIZE - 1);
			w->hist[p * FILTER_RADIX_SIZE + d]++;
		}
	}

	for (p = 0; p < passes; p++) {
		shift = lo + p * FILTER_RADIX_BITS;
		c = w->hist + p * FILTER_RADIX_SIZE;
		/* A digit that all keys share orders nothing. */
		if (n == 0 || c[(src[0] >> shift) & (FILTER_RADIX_SIZE - 1)] ==
		    n)
			continue;
		sum = 0;
		for (d = 0; d < FILTER_RADIX_SIZE; d++) {
			t = c[d];
			c[d] = sum;
			sum += t;
		}
		for (i = 0; i < n; i++) {
			d = (unsigned)(src[i] >> shift) &
			    (FILTER_RADIX_SIZE - 1);
			dst[c[d]] = src[i];
			ldst[c[d]] = lsrc[i];
			c[d]++;
		}
		tk = src, src = dst, dst = tk;
		tl = lsrc, lsrc = ldst, ldst = tl;
	}
	if (src != keys) {
		memcpy(keys, src, n * sizeof *keys);
		memcpy(locs, lsrc, n * sizeof *locs);
	}
}

/* Sorts a short run of keys (with locs alongside) by insertion. */
static void
filter_insertion(uint64_t *keys, uint32_t *locs, size_t n)
{
	uint64_t k;
	uint32_t l;
	size_t	 i, j;

	for (i = 1; i < n; i++) {
		k = keys[i];
		l = locs[i];
		for (j = i; j > 0 && keys[j - 1] > k; j--) {
			keys[j] = keys[j - 1];
			locs[j] = locs[j - 1];
		}
		keys[j] = k;
		locs[j] = l;
	}
}

/*
 * Sorts keys (with locs alongside) ascending.  The keys are seeded hashes,
 * so two radix passes over the top 22 bits leave runs of a key or two;
 * those are finished by insertion, and the rare long run (many duplicates,
 * or billions of keys) by a radix sort of its low bits.
 */
static void
filter_sort(uint64_t *keys, uint32_t *locs, size_t n, struct filter_work *w)
{
	size_t s, e;

	filter_radix(keys, locs, n, FILTER_SORT_TOP, 2, w);
	for (s = 0; s < n; s = e) {
		for (e = s + 1; e < n && keys[e] >> FILTER_SORT_TOP ==
		    keys[s] >> FILTER_SORT_TOP; e++)
			;
		if (e - s > FILTER_SORT_RUN)
			filter_radix(keys + s, locs + s, e - s, 0, 4, w);
		else if (e - s > 1)
			filter_insertion(keys + s, locs + s, e - s);
	}
}

/* Drops repeated keys from sorted keys[], keeping the smallest location. */
static size_t
filter_dedup(uint64_t *keys, uint32_t *locs, size_t n)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (m > 0 && keys[m - 1] == keys[i]) {
			if (locs[i] < locs[m - 1])
				locs[m - 1] = locs[i];
			continue;
		}
		keys[m] = keys[i];
		locs[m] = locs[i];
		m++;
	}
	return m;
}

/* Frees the slot-sized work arrays. */
static void
filter_free_slots(struct filter_work *w)
{
	free(w->count);
	free(w->hash);
	free(w->loc);
	free(w->alone);
	w->count = NULL;
	w->hash = NULL;
	w->loc = NULL;
	w->alone = NULL;
}

/*
 * Allocates the slot-sized work arrays for w->nslots, zeroed (calloc, so
 * that fresh pages are not written twice); returns 0 or EVT_ERR_NOMEM.
 */
static int
filter_alloc_slots(struct filter_work *w)
{
	size_t ns = w->nslots;

	w->count = calloc(ns, 1);
	w->hash = calloc(ns, sizeof *w->hash);
	w->loc = calloc(ns, sizeof *w->loc);
	w->alone = malloc(ns * sizeof *w->alone);
	w->dirty = 0;
	if (w->count == NULL || w->hash == NULL || w->loc == NULL ||
	    w->alone == NULL) {
		filter_free_slots(w);
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/*
 * Adds the n sorted, distinct hashes in keys[] to the slot counters and
 * peels; on success leaves the peeling order in w->tk/w->tl and returns 1.
 * Returns 0 if the hypergraph has a core (or a slot counter overflowed), in
 * which case the caller retries with another seed.
 */
static int
filter_peel(struct filter_work *w, const uint64_t *keys,
    const uint32_t *locs)
{
	uint8_t	 *count = w->count;
	uint64_t *hash = w->hash, range, h;
	uint16_t *loc = w->loc, l;
	uint32_t *alone = w->alone, s[5], i, o, q, top, found, j;
	size_t	  k;
	int	  overflow = 0;

	if (w->dirty) {
		memset(count, 0, w->nslots);
		memset(hash, 0, w->nslots * sizeof *hash);
		memset(loc, 0, w->nslots * sizeof *loc);
	}
	w->dirty = 1;
	range = (uint64_t)w->segcount * w->seglen;

	/*
	 * The low two bits of count[] hold the xor of the index (0, 1, 2) of
	 * the slot within each key's triple, so a slot left with one key
	 * knows which of the key's three slots it is.  Counts live in the
	 * high six bits; 64 keys on one slot wrap, which is caught here.
	 */
	for (k = 0; k < w->n; k++) {
		h = keys[k];
		l = (uint16_t)locs[k];
		filter_slots(h, w->seglen, range, s);
		count[s[0]] += 4;
		hash[s[0]] ^= h;
		loc[s[0]] ^= l;
		count[s[1]] += 4;
		count[s[1]] ^= 1;
		hash[s[1]] ^= h;
		loc[s[1]] ^= l;
		count[s[2]] += 4;
		count[s[2]] ^= 2;
		hash[s[2]] ^= h;
		loc[s[2]] ^= l;
		overflow |= count[s[0]] < 4 || count[s[1]] < 4 ||
		    count[s[2]] < 4;
	}
	if (overflow)
		return 0;

	q = 0;
	for (i = 0; i < w->nslots; i++) {
		alone[q] = i;
		q += (count[i] >> 2) == 1;
	}
	top = 0;
	while (q > 0) {
		i = alone[--q];
		if ((count[i] >> 2) != 1)
			continue;
		h = hash[i];
		l = loc[i];
		found = count[i] & 3;
		w->tk[top] = h;
		w->tl[top] = l | found << 16;
		top++;

		/* Take the key off its two other slots. */
		filter_slots(h, w->seglen, range, s);
		s[3] = s[0];
		s[4] = s[1];
		for (j = 1; j <= 2; j++) {
			o = s[found + j];
			alone[q] = o;
			q += (count[o] >> 2) == 2;
			count[o] -= 4;
			count[o] ^= (found + j) % 3;
			hash[o] ^= h;
			loc[o] ^= l;
		}
	}
	return top == w->n;
}

/* Fills the slots from the peeling order, last peeled key first. */
static void
filter_assign(const struct filter_work *w, unsigned locbits, uint8_t *slots)
{
	uint64_t range, h;
	uint32_t s[5], found;
	uint16_t himask, v;
	size_t	 k;

	range = (uint64_t)w->segcount * w->seglen;
	himask = (uint16_t)(~((1u << locbits) - 1) & 0xffff);
	for (k = w->n; k-- > 0;) {
		h = w->tk[k];
		found = w->tl[k] >> 16;
		v = (uint16_t)((filter_fingerprint(h) & himask) |
		    (w->tl[k] & 0xffff));
		filter_slots(h, w->seglen, range, s);
		s[3] = s[0];
		s[4] = s[1];
		v ^= filter_load(slots, s[found + 1]);
		v ^= filter_load(slots, s[found + 2]);
		filter_store(slots, s[found], v);
	}
}

/* Builds the filter; see filter.h. */
int
evt_filter_build(uint64_t *keys, uint32_t *locs, size_t n, unsigned locbits,
    struct evt_filter *f)
{
	struct filter_work w;
	uint64_t	   state = FILTER_SEED0, seed, next;
	uint8_t		  *slots = NULL;
	size_t		   i;
	unsigned	   fails = 0;
	int		   error;

	memset(f, 0, sizeof *f);
	memset(&w, 0, sizeof w);
	if (locbits > FILTER_MAXLOCBITS || n > FILTER_MAXKEYS)
		return EVT_ERR_ARG;
	for (i = 0; i < n; i++) {
		if (locs[i] >> locbits != 0)
			return EVT_ERR_ARG;
	}

	error = EVT_ERR_NOMEM;
	w.tk = malloc((n + 1) * sizeof *w.tk);
	w.tl = malloc((n + 1) * sizeof *w.tl);
	w.hist = malloc(FILTER_RADIX_MAXPASSES * FILTER_RADIX_SIZE *
	    sizeof *w.hist);
	if (w.tk == NULL || w.tl == NULL || w.hist == NULL)
		goto out;

	/* keys[] holds seeded hashes from here on. */
	seed = filter_splitmix64(&state);
	for (i = 0; i < n; i++)
		keys[i] = evt_mix64(keys[i] + seed);
	filter_sort(keys, locs, n, &w);
	w.n = filter_dedup(keys, locs, n);

	filter_geometry(w.n, &w.seglen, &w.segcount);
	w.nslots = (w.segcount + 2) * w.seglen;
	if (filter_alloc_slots(&w) != 0)
		goto out;

	while (!filter_peel(&w, keys, locs)) {
		/*
		 * A seed fails with probability well under 1/2, so this is
		 * rare; a run of failures (tiny filters, bad luck) is broken
		 * by adding segments, which the reader takes from the header.
		 */
		if (++fails % FILTER_GROW_AFTER == 0) {
			if ((uint64_t)w.nslots + w.seglen > UINT32_MAX)
				goto out;
			filter_free_slots(&w);
			w.segcount++;
			w.nslots = (w.segcount + 2) * w.seglen;
			if (filter_alloc_slots(&w) != 0)
				goto out;
		}
		next = filter_splitmix64(&state);
		for (i = 0; i < w.n; i++)
			keys[i] = evt_mix64(filter_unmix64(keys[i]) - seed +
			    next);
		seed = next;
		filter_sort(keys, locs, w.n, &w);
	}

	slots = calloc(w.nslots, 2);
	if (slots == NULL)
		goto out;
	filter_assign(&w, locbits, slots);

	f->seed = seed;
	f->seglen = w.seglen;
	f->segcount = w.segcount;
	f->nslots = w.nslots;
	f->locbits = (uint8_t)locbits;
	f->slots = slots;
	error = 0;

out:
	filter_free_slots(&w);
	free(w.hist);
	free(w.tl);
	free(w.tk);
	return error;
}

/* The three slots of key; see filter.h. */
int
evt_filter_positions(const struct evt_filter *f, uint64_t key,
    uint32_t pos[3])
{
	/* A geometry the reader failed to check must not read past slots. */
	if (f->locbits > FILTER_MAXLOCBITS)
		return 0;
	uint64_t h = evt_mix64(key + f->seed);
	filter_slots(h, f->seglen, (uint64_t)f->segcount * f->seglen, pos);
	return pos[0] < f->nslots && pos[1] < f->nslots && pos[2] < f->nslots;
}

/* Checks the xor of key's three slots; see filter.h. */
int
evt_filter_match(const struct evt_filter *f, uint64_t key, uint16_t v,
    uint32_t *loc)
{
	uint64_t h = evt_mix64(key + f->seed);
	uint32_t locmask = (1u << f->locbits) - 1;
	uint32_t slotmask = f->slotbits == 0 || f->slotbits >= 16 ? 0xffff :
	    (1u << f->slotbits) - 1;
	if (((v ^ filter_fingerprint(h)) & ~locmask & slotmask) != 0)
		return 0;
	if (loc != NULL)
		*loc = v & locmask;
	return 1;
}

/* Looks a key up; see filter.h. */
int
evt_filter_get(const struct evt_filter *f, uint64_t key, uint32_t *loc)
{
	uint32_t s[3];
	if (!evt_filter_positions(f, key, s))
		return 0;
	uint16_t v = filter_slot(f, s[0]) ^ filter_slot(f, s[1]) ^
	    filter_slot(f, s[2]);
	return evt_filter_match(f, key, v, loc);
}

/* Bytes of packed slots; see filter.h. */
size_t
evt_filter_slot_bytes(uint32_t nslots, unsigned slotbits)
{
	if (slotbits == 0 || slotbits >= 16)
		return 2 * (size_t)nslots;
	return (size_t)(((uint64_t)nslots * slotbits + 7) / 8);
}

/* Packs the low slotbits bits of every slot; see filter.h. */
void
evt_filter_pack(const struct evt_filter *f, unsigned slotbits, uint8_t *out)
{
	size_t n = evt_filter_slot_bytes(f->nslots, slotbits);
	if (slotbits == 0 || slotbits >= 16) {
		memcpy(out, f->slots, n);
		return;
	}
	memset(out, 0, n);
	uint32_t mask = (1u << slotbits) - 1;
	for (uint32_t i = 0; i < f->nslots; i++) {
		uint64_t at = (uint64_t)i * slotbits;
		uint32_t v = (filter_load(f->slots, i) & mask) << (at & 7);
		for (size_t k = (size_t)(at >> 3); v != 0; k++, v >>= 8)
			out[k] |= (uint8_t)v;
	}
}

/* Frees slots allocated by evt_filter_build. */
void
evt_filter_free(struct evt_filter *f)
{
	free(f->slots);
	f->slots = NULL;
}
