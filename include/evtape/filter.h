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
	uint8_t slotbits;  /* 0 (or 16): 16-bit slots, as a segment stores
			      them; 1..15: the low slotbits bits of each
			      slot, packed (evt_filter_pack; the id index's
			      runs of version 2, formats/idindex.md) */
	uint8_t *slots;	   /* nslots little-endian uint16 (or packed);
			      owned by the builder's caller
			      (evt_filter_build allocates, evt_filter_free
			      frees) or borrowed (a view) */
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
 * Looks key up.  Returns 1 and sets *loc if the fingerprint matches (an
 * absent key matches with probability 2^-(slotbits - locbits), slotbits 16
 * when 0), 0 if the key is certainly absent.  f->slots is read only.
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

/* Bytes of nslots slots of slotbits bits (0: 16). */
size_t evt_filter_slot_bytes(uint32_t nslots, unsigned slotbits);

/*
 * Writes the low slotbits bits (1..16) of each of f's 16-bit slots into out
 * (evt_filter_slot_bytes(f->nslots, slotbits) bytes): slot i is bits
 * slotbits * i .. slotbits * (i + 1) - 1 of out, bit k being bit k % 8 of
 * byte k / 8.  The xor of three packed slots is the low slotbits bits of
 * the xor of the 16-bit ones, so a filter built once packs to any width
 * that holds its locbits.
 */
void evt_filter_pack(const struct evt_filter *f, unsigned slotbits,
    uint8_t *out);

/* Frees slots allocated by evt_filter_build. */
void evt_filter_free(struct evt_filter *f);

#endif
