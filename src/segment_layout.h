/*
 * segment_layout.h: the on-disk layout of a segment file, in one place.
 * formats/segment.md is the authority; this file repeats its byte tables
 * and is the only code that knows the offsets in them.  The writer
 * (segment_writer.c), the reader (segment_reader.c) and everything built
 * on them read and write the fixed-layout structures through the structs
 * and get/put functions below, the index through the names below.  The
 * sizes, magic numbers, versions, block flags and bounds are public, in
 * include/evtape/segment.h, because programs and tests use them too.
 * Internal to src/.
 *
 *   0        64                         data_end                 size-128   size
 *   +--------+---------+-----+----------+----------+-----------+-----------+
 *   | header | block 0 | ... | block n-1| metadata | id filter | trailer   |
 *   +--------+---------+-----+----------+----------+-----------+-----------+
 *   block = block header (64) | zstd frame (zlen) | GUID column (16 * nguid)
 *
 * Every fixed-layout integer is little-endian (le.h), and each of the three
 * fixed structures ends with the CRC-32C of all its bytes before it.
 * Reserved bytes are written as zero and never read.
 */
#ifndef EVT_SEGMENT_LAYOUT_H
#define EVT_SEGMENT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "evtape/crc32c.h"
#include "evtape/segment.h"
#include "le.h"

/* Bytes of one GUID column entry. */
#define EVT_GUID_SIZE 16

/*
 * Segment header (formats/segment.md, "Segment header"), EVT_SEG_HDR_SIZE
 * bytes at offset 0:
 *
 *   OFFSET SIZE TYPE  FIELD
 *   0      8    bytes magic: EVT_SEG_MAGIC, "\x89EVTSEG\n"
 *   8      2    u16   major: format major version, EVT_SEG_VERSION
 *   10     2    u16   minor: format minor version, EVT_SEG_MINOR (ignored)
 *   12     4    u32   hdr_size: EVT_SEG_HDR_SIZE
 *   16     8    u64   seq: segment sequence number (= the file name's)
 *   24     8    i64   created: creation time, us since the epoch
 *   32     16   bytes uuid: archive UUID
 *   48     12   -     reserved, 0
 *   60     4    u32   crc: CRC-32C of bytes 0..59
 */
enum {
	EVT_SH_MAGIC = 0,
	EVT_SH_MAJOR = 8,
	EVT_SH_MINOR = 10,
	EVT_SH_HDR_SIZE = 12,
	EVT_SH_SEQ = 16,
	EVT_SH_CREATED = 24,
	EVT_SH_UUID = 32,
	EVT_SH_CRC = 60,
};

/* A segment header's fields (the magic and the CRC are the codec's). */
struct evt_seghdr {
	uint16_t major, minor;
	uint32_t hdr_size;
	uint64_t seq;
	int64_t created;
	uint8_t uuid[16];
};

/*
 * Block header (formats/segment.md, "Block header"), EVT_BLK_HDR_SIZE
 * bytes at the start of every block; the payload (zstd frame, then GUID
 * column) follows it:
 *
 *   OFFSET SIZE TYPE  FIELD
 *   0      4    bytes magic: EVT_BLK_MAGIC, 9E 45 42 4B
 *   4      2    u16   hdr_size: EVT_BLK_HDR_SIZE
 *   6      1    u8    version: block version, EVT_BLK_VERSION
 *   7      1    u8    codec: EVT_CODEC_ZSTD
 *   8      4    u32   zlen: bytes of the zstd frame
 *   12     4    u32   rawlen: bytes of the decompressed records
 *   16     4    u32   nguid: GUID column entries (EVT_GUID_SIZE bytes each)
 *   20     4    u32   nrec: records of every kind
 *   24     4    u32   nevent: EVENT records that are items of a MSG frame
 *   28     4    u32   str_base: strings defined in the segment before it
 *   32     4    u32   shape_base: shapes defined before it
 *   36     4    u32   flags: EVT_BLKF_* (revision 1.1; reserved, 0 before)
 *   40     8    i64   first_rx: smallest receive time of its frames, us
 *   48     8    i64   last_rx: largest receive time of its frames, us
 *   56     4    u32   payload_crc: CRC-32C of the zlen + 16 * nguid bytes
 *                     after the header
 *   60     4    u32   crc: CRC-32C of bytes 0..59
 */
enum {
	EVT_BH_MAGIC = 0,
	EVT_BH_HDR_SIZE = 4,
	EVT_BH_VERSION = 6,
	EVT_BH_CODEC = 7,
	EVT_BH_ZLEN = 8,
	EVT_BH_RAWLEN = 12,
	EVT_BH_NGUID = 16,
	EVT_BH_NREC = 20,
	EVT_BH_NEVENT = 24,
	EVT_BH_STR_BASE = 28,
	EVT_BH_SHAPE_BASE = 32,
	EVT_BH_FLAGS = 36,
	EVT_BH_FIRST_RX = 40,
	EVT_BH_LAST_RX = 48,
	EVT_BH_PAYLOAD_CRC = 56,
	EVT_BH_CRC = 60,
};

/* A block header's fields (the magic and the header CRC are the
 * codec's). */
struct evt_blkhdr {
	uint16_t hdr_size;
	uint8_t version, codec;
	uint32_t zlen, rawlen, nguid, nrec, nevent, str_base, shape_base;
	uint32_t flags;
	int64_t first_rx, last_rx;
	uint32_t payload_crc;
};

/*
 * Trailer (formats/segment.md, "Trailer"), the last EVT_TRAILER_SIZE bytes
 * of a sealed segment:
 *
 *   OFFSET SIZE TYPE  FIELD
 *   0      8    bytes magic: EVT_TRL_MAGIC, "\x89EVTIDX\n"
 *   8      2    u16   version: trailer (index) version, EVT_SEG_VERSION
 *   10     1    u8    locbits: location bits in a filter slot, 0..10
 *   11     1    u8    locshift: location loc names blocks loc << locshift ..
 *   12     4    u32   nblocks: block directory entries
 *   16     8    u64   data_end: end of the last block
 *   24     8    u64   meta_off: the metadata frame (= data_end)
 *   32     8    u64   meta_len: its length
 *   40     8    u64   filt_off: the filter slots (= meta_off + meta_len)
 *   48     8    u64   filt_len: their length (= 2 * nslots)
 *   56     8    u64   seed: filter seed
 *   64     4    u32   seglen: filter segment length in slots
 *   68     4    u32   segcount: filter segments
 *   72     8    u64   nevents: sum of the blocks' nevent
 *   80     8    u64   nrecords: sum of the blocks' nrec
 *   88     8    i64   first_rx: smallest receive time (0: no blocks)
 *   96     8    i64   last_rx: largest receive time (0: no blocks)
 *   104    4    u32   meta_crc: CRC-32C of the meta_len metadata bytes
 *   108    4    u32   filt_crc: CRC-32C of the filt_len filter bytes
 *   112    12   -     reserved, 0
 *   124    4    u32   crc: CRC-32C of bytes 0..123
 */
enum {
	EVT_TR_MAGIC = 0,
	EVT_TR_VERSION = 8,
	EVT_TR_LOCBITS = 10,
	EVT_TR_LOCSHIFT = 11,
	EVT_TR_NBLOCKS = 12,
	EVT_TR_DATA_END = 16,
	EVT_TR_META_OFF = 24,
	EVT_TR_META_LEN = 32,
	EVT_TR_FILT_OFF = 40,
	EVT_TR_FILT_LEN = 48,
	EVT_TR_SEED = 56,
	EVT_TR_SEGLEN = 64,
	EVT_TR_SEGCOUNT = 68,
	EVT_TR_NEVENTS = 72,
	EVT_TR_NRECORDS = 80,
	EVT_TR_FIRST_RX = 88,
	EVT_TR_LAST_RX = 96,
	EVT_TR_META_CRC = 104,
	EVT_TR_FILT_CRC = 108,
	EVT_TR_CRC = 124,
};

/* A trailer's fields (the magic and the trailer CRC are the codec's). */
struct evt_trailer {
	uint16_t version;
	uint8_t locbits, locshift;
	uint32_t nblocks;
	uint64_t data_end, meta_off, meta_len, filt_off, filt_len;
	uint64_t seed;
	uint32_t seglen, segcount;
	uint64_t nevents, nrecords;
	int64_t first_rx, last_rx;
	uint32_t meta_crc, filt_crc;
};

/* Each structure's CRC is its last field. */
_Static_assert(EVT_SH_CRC + 4 == EVT_SEG_HDR_SIZE, "segment header CRC");
_Static_assert(EVT_BH_CRC + 4 == EVT_BLK_HDR_SIZE, "block header CRC");
_Static_assert(EVT_TR_CRC + 4 == EVT_TRAILER_SIZE, "trailer CRC");

/*
 * Id filter slots (formats/segment.md, "Id filter bytes"): slot i is the
 * u16 at filt_off + EVT_FILT_SLOT_SIZE * i.
 */
#define EVT_FILT_SLOT_SIZE 2

/*
 * Index metadata map (formats/segment.md, "Metadata map"): one zstd frame
 * holding a MessagePack map with these keys, written in this order.
 */
#define EVT_META_FRAMES "frames"	/* frames per record kind */
#define EVT_META_STRINGS "strings"	/* the string dictionary */
#define EVT_META_SHAPES "shapes"	/* the shape dictionary */
#define EVT_META_BLOCKS "blocks"	/* the block directory */
#define EVT_META_LAST_ID "last_event_id" /* the last indexed id */
#define EVT_META_NKEYS 5

/* Elements of a block directory entry (an array of at least
 * EVT_DIR_MIN elements; the values of the block's header). */
enum {
	EVT_DIR_OFF,	    /* offset of the block header */
	EVT_DIR_FIRST_RX,   /* first_rx */
	EVT_DIR_LAST_RX,    /* last_rx */
	EVT_DIR_NREC,	    /* nrec */
	EVT_DIR_NEVENT,	    /* nevent */
	EVT_DIR_STR_BASE,   /* str_base */
	EVT_DIR_SHAPE_BASE, /* shape_base */
	EVT_DIR_MIN,	    /* elements every entry has */
	EVT_DIR_CHECKS = EVT_DIR_MIN, /* the check list, a bin (rev. 1.2) */
};

/*
 * Check list (formats/segment.md, "Check lists"), directory element 7:
 * u32 CRC-32C values, EVT_CHK_SIZE bytes each: entry 0 over the block's
 * zstd frame, entry 1 + k over GUID column entries
 * EVT_CHK_GUIDS * k .. EVT_CHK_GUIDS * (k + 1) - 1 (the last run shorter).
 */
#define EVT_CHK_SIZE 4

/* The length of the check list of a block of nguid GUID column entries. */
static inline uint64_t
evt_chk_len(uint32_t nguid)
{
	return EVT_CHK_SIZE *
	    (1 + ((uint64_t)nguid + EVT_CHK_GUIDS - 1) / EVT_CHK_GUIDS);
}

/* Entry i of check list l (0: the zstd frame; 1 + k: GUID run k). */
static inline uint32_t
evt_chk_get(const uint8_t *l, uint32_t i)
{
	return le32_get(l + EVT_CHK_SIZE * (size_t)i);
}

/* Whether the CRC-32C in the last 4 bytes of the n-byte structure at p
 * matches the bytes before it. */
static inline int
evt_fixed_crc_ok(const uint8_t *p, size_t n)
{
	return le32_get(p + n - 4) == evt_crc32c(0, p, n - 4);
}

/* Stores the CRC-32C of the first n - 4 bytes of the structure at p in
 * its last 4 bytes. */
static inline void
evt_fixed_crc_put(uint8_t *p, size_t n)
{
	le32_put(p + n - 4, evt_crc32c(0, p, n - 4));
}

/* Builds a segment header: magic, h's fields, zero reserved bytes, CRC. */
static inline void
evt_seghdr_put(uint8_t p[EVT_SEG_HDR_SIZE], const struct evt_seghdr *h)
{
	memset(p, 0, EVT_SEG_HDR_SIZE);
	memcpy(p + EVT_SH_MAGIC, EVT_SEG_MAGIC, 8);
	le16_put(p + EVT_SH_MAJOR, h->major);
	le16_put(p + EVT_SH_MINOR, h->minor);
	le32_put(p + EVT_SH_HDR_SIZE, h->hdr_size);
	le64_put(p + EVT_SH_SEQ, h->seq);
	le64_put(p + EVT_SH_CREATED, (uint64_t)h->created);
	memcpy(p + EVT_SH_UUID, h->uuid, sizeof h->uuid);
	evt_fixed_crc_put(p, EVT_SEG_HDR_SIZE);
}

/* Reads a segment header's fields, checking nothing (the caller checks
 * the magic and evt_fixed_crc_ok first). */
static inline void
evt_seghdr_get(const uint8_t p[EVT_SEG_HDR_SIZE], struct evt_seghdr *h)
{
	h->major = le16_get(p + EVT_SH_MAJOR);
	h->minor = le16_get(p + EVT_SH_MINOR);
	h->hdr_size = le32_get(p + EVT_SH_HDR_SIZE);
	h->seq = le64_get(p + EVT_SH_SEQ);
	h->created = (int64_t)le64_get(p + EVT_SH_CREATED);
	memcpy(h->uuid, p + EVT_SH_UUID, sizeof h->uuid);
}

/* Whether the bytes at p start with a segment header's magic. */
static inline int
evt_seghdr_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_SH_MAGIC, EVT_SEG_MAGIC, 8) == 0;
}

/* Builds a block header: magic, h's fields, header CRC. */
static inline void
evt_blkhdr_put(uint8_t p[EVT_BLK_HDR_SIZE], const struct evt_blkhdr *h)
{
	memset(p, 0, EVT_BLK_HDR_SIZE);
	memcpy(p + EVT_BH_MAGIC, EVT_BLK_MAGIC, 4);
	le16_put(p + EVT_BH_HDR_SIZE, h->hdr_size);
	p[EVT_BH_VERSION] = h->version;
	p[EVT_BH_CODEC] = h->codec;
	le32_put(p + EVT_BH_ZLEN, h->zlen);
	le32_put(p + EVT_BH_RAWLEN, h->rawlen);
	le32_put(p + EVT_BH_NGUID, h->nguid);
	le32_put(p + EVT_BH_NREC, h->nrec);
	le32_put(p + EVT_BH_NEVENT, h->nevent);
	le32_put(p + EVT_BH_STR_BASE, h->str_base);
	le32_put(p + EVT_BH_SHAPE_BASE, h->shape_base);
	le32_put(p + EVT_BH_FLAGS, h->flags);
	le64_put(p + EVT_BH_FIRST_RX, (uint64_t)h->first_rx);
	le64_put(p + EVT_BH_LAST_RX, (uint64_t)h->last_rx);
	le32_put(p + EVT_BH_PAYLOAD_CRC, h->payload_crc);
	evt_fixed_crc_put(p, EVT_BLK_HDR_SIZE);
}

/* Reads a block header's fields, checking nothing (the caller checks the
 * magic and evt_fixed_crc_ok first). */
static inline void
evt_blkhdr_get(const uint8_t p[EVT_BLK_HDR_SIZE], struct evt_blkhdr *h)
{
	h->hdr_size = le16_get(p + EVT_BH_HDR_SIZE);
	h->version = p[EVT_BH_VERSION];
	h->codec = p[EVT_BH_CODEC];
	h->zlen = le32_get(p + EVT_BH_ZLEN);
	h->rawlen = le32_get(p + EVT_BH_RAWLEN);
	h->nguid = le32_get(p + EVT_BH_NGUID);
	h->nrec = le32_get(p + EVT_BH_NREC);
	h->nevent = le32_get(p + EVT_BH_NEVENT);
	h->str_base = le32_get(p + EVT_BH_STR_BASE);
	h->shape_base = le32_get(p + EVT_BH_SHAPE_BASE);
	h->flags = le32_get(p + EVT_BH_FLAGS);
	h->first_rx = (int64_t)le64_get(p + EVT_BH_FIRST_RX);
	h->last_rx = (int64_t)le64_get(p + EVT_BH_LAST_RX);
	h->payload_crc = le32_get(p + EVT_BH_PAYLOAD_CRC);
}

/* Whether the bytes at p start with a block header's magic. */
static inline int
evt_blkhdr_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_BH_MAGIC, EVT_BLK_MAGIC, 4) == 0;
}

/* The length of a block's payload: its zstd frame and GUID column. */
static inline uint64_t
evt_blkhdr_payload_len(const struct evt_blkhdr *h)
{
	return (uint64_t)h->zlen + EVT_GUID_SIZE * (uint64_t)h->nguid;
}

/* Builds a trailer: magic, t's fields, zero reserved bytes, CRC. */
static inline void
evt_trailer_put(uint8_t p[EVT_TRAILER_SIZE], const struct evt_trailer *t)
{
	memset(p, 0, EVT_TRAILER_SIZE);
	memcpy(p + EVT_TR_MAGIC, EVT_TRL_MAGIC, 8);
	le16_put(p + EVT_TR_VERSION, t->version);
	p[EVT_TR_LOCBITS] = t->locbits;
	p[EVT_TR_LOCSHIFT] = t->locshift;
	le32_put(p + EVT_TR_NBLOCKS, t->nblocks);
	le64_put(p + EVT_TR_DATA_END, t->data_end);
	le64_put(p + EVT_TR_META_OFF, t->meta_off);
	le64_put(p + EVT_TR_META_LEN, t->meta_len);
	le64_put(p + EVT_TR_FILT_OFF, t->filt_off);
	le64_put(p + EVT_TR_FILT_LEN, t->filt_len);
	le64_put(p + EVT_TR_SEED, t->seed);
	le32_put(p + EVT_TR_SEGLEN, t->seglen);
	le32_put(p + EVT_TR_SEGCOUNT, t->segcount);
	le64_put(p + EVT_TR_NEVENTS, t->nevents);
	le64_put(p + EVT_TR_NRECORDS, t->nrecords);
	le64_put(p + EVT_TR_FIRST_RX, (uint64_t)t->first_rx);
	le64_put(p + EVT_TR_LAST_RX, (uint64_t)t->last_rx);
	le32_put(p + EVT_TR_META_CRC, t->meta_crc);
	le32_put(p + EVT_TR_FILT_CRC, t->filt_crc);
	evt_fixed_crc_put(p, EVT_TRAILER_SIZE);
}

/* Reads a trailer's fields, checking nothing (the caller checks the magic
 * and evt_fixed_crc_ok first). */
static inline void
evt_trailer_get(const uint8_t p[EVT_TRAILER_SIZE], struct evt_trailer *t)
{
	t->version = le16_get(p + EVT_TR_VERSION);
	t->locbits = p[EVT_TR_LOCBITS];
	t->locshift = p[EVT_TR_LOCSHIFT];
	t->nblocks = le32_get(p + EVT_TR_NBLOCKS);
	t->data_end = le64_get(p + EVT_TR_DATA_END);
	t->meta_off = le64_get(p + EVT_TR_META_OFF);
	t->meta_len = le64_get(p + EVT_TR_META_LEN);
	t->filt_off = le64_get(p + EVT_TR_FILT_OFF);
	t->filt_len = le64_get(p + EVT_TR_FILT_LEN);
	t->seed = le64_get(p + EVT_TR_SEED);
	t->seglen = le32_get(p + EVT_TR_SEGLEN);
	t->segcount = le32_get(p + EVT_TR_SEGCOUNT);
	t->nevents = le64_get(p + EVT_TR_NEVENTS);
	t->nrecords = le64_get(p + EVT_TR_NRECORDS);
	t->first_rx = (int64_t)le64_get(p + EVT_TR_FIRST_RX);
	t->last_rx = (int64_t)le64_get(p + EVT_TR_LAST_RX);
	t->meta_crc = le32_get(p + EVT_TR_META_CRC);
	t->filt_crc = le32_get(p + EVT_TR_FILT_CRC);
}

/* Whether the bytes at p start with a trailer's magic. */
static inline int
evt_trailer_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_TR_MAGIC, EVT_TRL_MAGIC, 8) == 0;
}

#endif
