/*
 * test_crc32c.c: CRC-32C's check value, and long buffers (the hardware
 * path's three lanes) against the same bytes fed one at a time (the path
 * that never uses lanes).
 */
#include <stdio.h>
#include <stdlib.h>

#include "evtape/crc32c.h"
#include "t.h"

/* The CRC of p[0..n) one byte a call. */
static uint32_t
bytewise(const unsigned char *p, size_t n)
{
	uint32_t c = 0;
	for (size_t i = 0; i < n; i++)
		c = evt_crc32c(c, p + i, 1);
	return c;
}

int
main(void)
{
	static unsigned char buf[40000];
	static const size_t lens[] = {0, 7, 8, 1535, 1536, 1537, 3072, 3080,
	    4607, 4608, 10000, 39999, 40000};
	T_EQ(evt_crc32c(0, "123456789", 9), 0xE3069283u, "check value");
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)rng();
	int bad = 0;
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++)
		for (size_t off = 0; off < 3; off++) {
			size_t n = lens[k] - (lens[k] >= off ? off : 0);
			if (evt_crc32c(0, buf + off, n) != bytewise(buf + off, n)) {
				printf("# length %zu at offset %zu\n", n, off);
				bad++;
			}
		}
	T_EQ(bad, 0, "long buffers in one call as byte by byte");
	uint32_t c = evt_crc32c(0, buf, 5000);
	T_EQ(evt_crc32c(c, buf + 5000, 20000), evt_crc32c(0, buf, 25000),
	    "extended in two calls as in one");
	T_DONE();
}
