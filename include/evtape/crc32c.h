/*
 * crc32c.h: CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected, initial
 * value and final xor 0xFFFFFFFF), the checksum of every evtape structure.
 * Check value: evt_crc32c(0, "123456789", 9) == 0xE3069283.
 */
#ifndef EVTAPE_CRC32C_H
#define EVTAPE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over buf[0..len) and returns the new value. */
uint32_t evt_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
