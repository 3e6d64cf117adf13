/*
 * le.h: little-endian loads and stores for the fixed-layout structures
 * (segment header, block header, trailer).  Internal to src/ (the fuzz
 * targets' checksum fix-ups in tests/fuzz/ use it too).
 */
#ifndef EVT_LE_H
#define EVT_LE_H

#include <stdint.h>

/* Stores a 16-bit value little-endian. */
static inline void
le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Stores a 32-bit value little-endian. */
static inline void
le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Stores a 64-bit value little-endian. */
static inline void
le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Loads a 16-bit little-endian value. */
static inline uint16_t
le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Loads a 32-bit little-endian value. */
static inline uint32_t
le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Loads a 64-bit little-endian value. */
static inline uint64_t
le64_get(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

#endif
