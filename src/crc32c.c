/*
 * crc32c.c: CRC-32C with the SSE4.2 instruction where the CPU has it and a
 * slice-by-8 table otherwise.  Both give identical results; the table path is
 * what unit tests compare the hardware path against.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "evtape/crc32c.h"

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw;

/* The hardware path runs three lanes of CRC_LANE bytes at once (the
 * instruction's latency is three times its throughput) and joins them
 * with lane_shift: lane_shift[b][v] is the register that the register
 * v << 8b becomes after CRC_LANE zero bytes (the CRC is linear). */
#define CRC_LANE 512
static uint32_t lane_shift[4][256];

#if defined(__x86_64__)
static void lane_init(void);
#endif

/* Fills the slice-by-8 tables and probes the CPU once. */
static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^
			    crc_tab[0][crc_tab[t - 1][i] & 0xff];
#if defined(__x86_64__)
	crc_hw = __builtin_cpu_supports("sse4.2");
	if (crc_hw)
		lane_init();
#endif
}

/* The portable path: eight bytes per step through eight tables. */
static uint32_t
crc_sw(uint32_t c, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		w ^= c;
		c = crc_tab[7][w & 0xff] ^ crc_tab[6][(w >> 8) & 0xff] ^
		    crc_tab[5][(w >> 16) & 0xff] ^ crc_tab[4][(w >> 24) & 0xff] ^
		    crc_tab[3][(w >> 32) & 0xff] ^ crc_tab[2][(w >> 40) & 0xff] ^
		    crc_tab[1][(w >> 48) & 0xff] ^ crc_tab[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xff];
	return c;
}

#if defined(__x86_64__)
/* Fills lane_shift from the 32 one-bit registers, each run through
 * CRC_LANE zero bytes by the instruction (a few microseconds). */
__attribute__((target("sse4.2"))) static void
lane_init(void)
{
	uint32_t basis[32];
	for (int j = 0; j < 32; j++) {
		uint64_t c = UINT32_C(1) << j;
		for (int i = 0; i < CRC_LANE; i += 8)
			c = __builtin_ia32_crc32di(c, 0);
		basis[j] = (uint32_t)c;
	}
	for (int b = 0; b < 4; b++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (int bit = 0; bit < 8; bit++)
				if (v >> bit & 1)
					x ^= basis[8 * b + bit];
			lane_shift[b][v] = x;
		}
}

/* The register c after CRC_LANE zero bytes. */
static uint32_t
lane_skip(uint32_t c)
{
	return lane_shift[0][c & 0xff] ^ lane_shift[1][(c >> 8) & 0xff] ^
	    lane_shift[2][(c >> 16) & 0xff] ^ lane_shift[3][c >> 24];
}

/* The SSE4.2 path: three lanes while 3 * CRC_LANE bytes remain (the
 * catalog and the id index's directories of 10,000 segments are a
 * megabyte a lookup), then eight bytes a step. */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw8(uint32_t c, const unsigned char *p, size_t len)
{
	uint64_t c64 = c;
	for (; len >= 3 * CRC_LANE; p += 3 * CRC_LANE, len -= 3 * CRC_LANE) {
		uint64_t a = c64, b = 0, d = 0;
		for (size_t i = 0; i < CRC_LANE; i += 8) {
			uint64_t wa, wb, wd;
			memcpy(&wa, p + i, 8);
			memcpy(&wb, p + CRC_LANE + i, 8);
			memcpy(&wd, p + 2 * CRC_LANE + i, 8);
			a = __builtin_ia32_crc32di(a, wa);
			b = __builtin_ia32_crc32di(b, wb);
			d = __builtin_ia32_crc32di(d, wd);
		}
		/* A's register then B's bytes, then C's: shifted, xored. */
		c64 = lane_skip(lane_skip((uint32_t)a) ^ (uint32_t)b) ^
		    (uint32_t)d;
	}
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

/* Extends crc over buf; see crc32c.h. */
uint32_t
evt_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	uint32_t c = ~crc;
#if defined(__x86_64__)
	if (crc_hw)
		return ~crc_hw8(c, buf, len);
#endif
	return ~crc_sw(c, buf, len);
}
