/*
 * filter.h: the id index of a sealed segment, a static retrieval filter.
 *
 * A 3-wise binary fuse filter (Graf & Lemire, "Binary Fuse Filters: Fast and
 * Smaller Than Xor Filters", 2022) whose 16-bit slots hold, xor-combined, a
 * fingerprint in the high (16 - locbits) bits and a location (the block
 * number of the event within its segment) in the low locbits bits.  A lookup
 * reads three slots: if the fingerprint matches, the key is probably in the
 * segment and the low bits say which block to decode; else it is surely not.
 * ~1.13 * 16 bits per event.  formats/segment.md, "Id filter", is the
 * authoritative description of every formula here.
 *
 * Sans-I/O: the builder works on memory; lookups work on the little-endian
 * slot bytes exactly as stored in the file (they may be mmap'ed).
 */
#ifndef EVTAPE_FILTER_H
#define EVTAPE_FILTER_H

#include <stddef.h>
#include <stdint.h>

struct evt_filter {
	uint64_t seed;	   /* hashing seed chosen by the builder */
	uint32_t seglen;   /* segment length, a power of two */
	uint32_t segcount; /* number of segments (>= 1) */
	uint32_t nslots;   /* (segcount + 2) * seglen */
	uint8_t locbits;   /* location bits, 0..10 */
	uint8_t *slots;	   /* nslots little-endian uint16; owned by the
			      builder's caller (evt_filter_build allocates,
			      evt_filter_free frees) or borrowed (a view) */
};

/* murmur3 fmix64: the mixing function of the filter and the id hashes. */
static inline uint64_t
evt_mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/*
 * Builds a filter over n keys with their locations (locs[i] < 2^locbits).
 * keys and locs are used as scratch and reordered.  Keys that occur more
 * than once keep the location of one occurrence with the smallest location.
 * n may be 0 (an empty filter that matches nothing).  On success fills *f
 * (f->slots allocated with malloc) and returns 0; EVT_ERR_ARG if locbits > 10,
 * EVT_ERR_NOMEM.
 */
int evt_filter_build(uint64_t *keys, uint32_t *locs, size_t n,
    unsigned locbits, struct evt_filter *f);

/*
 * Looks key up.  Returns 1 and sets *loc if the fingerprint matches (the key
 * is in the set with probability 1 - 2^-(16-locbits) when absent keys are
 * looked up), 0 if the key is certainly absent.  f->slots is read only.
 */
int evt_filter_get(const struct evt_filter *f, uint64_t key, uint32_t *loc);

/*
 * The two halves of evt_filter_get for a reader that fetches slots itself
 * (three small preads are cheaper than mapping the filter for one probe):
 * evt_filter_positions gives the three slot numbers (0 if the geometry is
 * invalid: treat as absent); evt_filter_match takes the xor of those three
 * slots and answers like evt_filter_get.  f->slots is not used.
 */
int evt_filter_positions(const struct evt_filter *f, uint64_t key,
    uint32_t pos[3]);
int evt_filter_match(const struct evt_filter *f, uint64_t key, uint16_t v,
    uint32_t *loc);

/* Frees slots allocated by evt_filter_build. */
void evt_filter_free(struct evt_filter *f);

#endif
