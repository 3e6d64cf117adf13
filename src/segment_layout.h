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

#include "evtape/colform.h"
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
 *   6      1    u8    version: block version, EVT_BLK_VERSION (records
 *                     as MessagePack) or EVT_BLK_VERSION_COL (columnar)
 *   7      1    u8    codec: EVT_CODEC_ZSTD
 *   8      4    u32   zlen: bytes of the zstd frame
 *   12     4    u32   rawlen: bytes of the decompressed frame (the records;
 *                     in version 2 their columnar form)
 *   16     4    u32   nguid: GUID column entries (EVT_GUID_SIZE bytes each)
 *   20     4    u32   nrec: records of every kind
 *   24     4    u32   nevent: EVENT records that are items of a MSG frame
 *   28     4    u32   str_base: strings defined in the segment before it
 *   32     4    u32   shape_base: shapes defined before it
 *   36     4    u32   flags: EVT_BLKF_* (revision 1.1; reserved, 0 before)
 *   40     8    i64   first_rx: smallest receive time of its frames, us
 *   48     8    i64   last_rx: largest receive time of its frames, us
 *   56     4    u32   payload_crc: CRC-32C of the zlen + column bytes
 *                     after the header (16 * nguid, or ceil(122 * nguid / 8)
 *                     when packed)
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
#define EVT_META_SUMMARY "summary"	/* the segment's summary (1.3) */
#define EVT_META_CHECKPOINT "checkpoint" /* state checkpoint (1.7) */
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

/*
 * One field of a fixed structure: its OFFSET on disk, its SIZE (that of
 * the struct member: an integer of 1, 2, 4 or 8 bytes, little-endian on
 * disk, or a byte string) and the member's place in the struct.  The
 * tables below are the byte tables above, but for the magic and the CRC,
 * which the codec writes itself.
 */
struct evt_field {
	uint8_t off, size;
	uint16_t at;
};
#define EVT_FIELD(type, member, off) \
	{(off), sizeof(((type *)0)->member), offsetof(type, member)}

static const struct evt_field evt_seghdr_fields[] = {
	EVT_FIELD(struct evt_seghdr, major, EVT_SH_MAJOR),
	EVT_FIELD(struct evt_seghdr, minor, EVT_SH_MINOR),
	EVT_FIELD(struct evt_seghdr, hdr_size, EVT_SH_HDR_SIZE),
	EVT_FIELD(struct evt_seghdr, seq, EVT_SH_SEQ),
	EVT_FIELD(struct evt_seghdr, created, EVT_SH_CREATED),
	EVT_FIELD(struct evt_seghdr, uuid, EVT_SH_UUID),
};

static const struct evt_field evt_blkhdr_fields[] = {
	EVT_FIELD(struct evt_blkhdr, hdr_size, EVT_BH_HDR_SIZE),
	EVT_FIELD(struct evt_blkhdr, version, EVT_BH_VERSION),
	EVT_FIELD(struct evt_blkhdr, codec, EVT_BH_CODEC),
	EVT_FIELD(struct evt_blkhdr, zlen, EVT_BH_ZLEN),
	EVT_FIELD(struct evt_blkhdr, rawlen, EVT_BH_RAWLEN),
	EVT_FIELD(struct evt_blkhdr, nguid, EVT_BH_NGUID),
	EVT_FIELD(struct evt_blkhdr, nrec, EVT_BH_NREC),
	EVT_FIELD(struct evt_blkhdr, nevent, EVT_BH_NEVENT),
	EVT_FIELD(struct evt_blkhdr, str_base, EVT_BH_STR_BASE),
	EVT_FIELD(struct evt_blkhdr, shape_base, EVT_BH_SHAPE_BASE),
	EVT_FIELD(struct evt_blkhdr, flags, EVT_BH_FLAGS),
	EVT_FIELD(struct evt_blkhdr, first_rx, EVT_BH_FIRST_RX),
	EVT_FIELD(struct evt_blkhdr, last_rx, EVT_BH_LAST_RX),
	EVT_FIELD(struct evt_blkhdr, payload_crc, EVT_BH_PAYLOAD_CRC),
};

static const struct evt_field evt_trailer_fields[] = {
	EVT_FIELD(struct evt_trailer, version, EVT_TR_VERSION),
	EVT_FIELD(struct evt_trailer, locbits, EVT_TR_LOCBITS),
	EVT_FIELD(struct evt_trailer, locshift, EVT_TR_LOCSHIFT),
	EVT_FIELD(struct evt_trailer, nblocks, EVT_TR_NBLOCKS),
	EVT_FIELD(struct evt_trailer, data_end, EVT_TR_DATA_END),
	EVT_FIELD(struct evt_trailer, meta_off, EVT_TR_META_OFF),
	EVT_FIELD(struct evt_trailer, meta_len, EVT_TR_META_LEN),
	EVT_FIELD(struct evt_trailer, filt_off, EVT_TR_FILT_OFF),
	EVT_FIELD(struct evt_trailer, filt_len, EVT_TR_FILT_LEN),
	EVT_FIELD(struct evt_trailer, seed, EVT_TR_SEED),
	EVT_FIELD(struct evt_trailer, seglen, EVT_TR_SEGLEN),
	EVT_FIELD(struct evt_trailer, segcount, EVT_TR_SEGCOUNT),
	EVT_FIELD(struct evt_trailer, nevents, EVT_TR_NEVENTS),
	EVT_FIELD(struct evt_trailer, nrecords, EVT_TR_NRECORDS),
	EVT_FIELD(struct evt_trailer, first_rx, EVT_TR_FIRST_RX),
	EVT_FIELD(struct evt_trailer, last_rx, EVT_TR_LAST_RX),
	EVT_FIELD(struct evt_trailer, meta_crc, EVT_TR_META_CRC),
	EVT_FIELD(struct evt_trailer, filt_crc, EVT_TR_FILT_CRC),
};

#define EVT_NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/*
 * Builds the size-byte structure at p from the struct s: zero (the
 * reserved bytes), the magic (maglen bytes at offset 0), every field of
 * fields, and the CRC of the bytes before it in the last 4.
 */
static inline void
evt_fixed_put(uint8_t *p, size_t size, const char *magic, size_t maglen,
    const void *s, const struct evt_field *fields, size_t n)
{
	memset(p, 0, size);
	memcpy(p, magic, maglen);
	for (const struct evt_field *f = fields; f < fields + n; f++) {
		const uint8_t *m = (const uint8_t *)s + f->at;
		uint8_t *d = p + f->off;
		uint16_t v16;
		uint32_t v32;
		uint64_t v64;
		switch (f->size) {
		case 1:
			*d = *m;
			break;
		case 2:
			memcpy(&v16, m, sizeof v16);
			le16_put(d, v16);
			break;
		case 4:
			memcpy(&v32, m, sizeof v32);
			le32_put(d, v32);
			break;
		case 8:
			memcpy(&v64, m, sizeof v64);
			le64_put(d, v64);
			break;
		default: /* bytes */
			memcpy(d, m, f->size);
		}
	}
	le32_put(p + size - 4, evt_crc32c(0, p, size - 4));
}

/* Reads every field of fields from the structure at p into the struct s,
 * checking nothing (the caller checks the magic and evt_fixed_crc_ok
 * first). */
static inline void
evt_fixed_get(const uint8_t *p, void *s, const struct evt_field *fields,
    size_t n)
{
	for (const struct evt_field *f = fields; f < fields + n; f++) {
		uint8_t *m = (uint8_t *)s + f->at;
		const uint8_t *d = p + f->off;
		uint16_t v16;
		uint32_t v32;
		uint64_t v64;
		switch (f->size) {
		case 1:
			*m = *d;
			break;
		case 2:
			v16 = le16_get(d);
			memcpy(m, &v16, sizeof v16);
			break;
		case 4:
			v32 = le32_get(d);
			memcpy(m, &v32, sizeof v32);
			break;
		case 8:
			v64 = le64_get(d);
			memcpy(m, &v64, sizeof v64);
			break;
		default: /* bytes */
			memcpy(m, d, f->size);
		}
	}
}

/* Builds a segment header from h. */
static inline void
evt_seghdr_put(uint8_t p[EVT_SEG_HDR_SIZE], const struct evt_seghdr *h)
{
	evt_fixed_put(p, EVT_SEG_HDR_SIZE, EVT_SEG_MAGIC, 8, h,
	    evt_seghdr_fields, EVT_NFIELDS(evt_seghdr_fields));
}

/* Reads a segment header's fields, checking nothing. */
static inline void
evt_seghdr_get(const uint8_t p[EVT_SEG_HDR_SIZE], struct evt_seghdr *h)
{
	evt_fixed_get(p, h, evt_seghdr_fields, EVT_NFIELDS(evt_seghdr_fields));
}

/* Whether the bytes at p start with a segment header's magic. */
static inline int
evt_seghdr_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_SH_MAGIC, EVT_SEG_MAGIC, 8) == 0;
}

/* Builds a block header from h. */
static inline void
evt_blkhdr_put(uint8_t p[EVT_BLK_HDR_SIZE], const struct evt_blkhdr *h)
{
	evt_fixed_put(p, EVT_BLK_HDR_SIZE, EVT_BLK_MAGIC, 4, h,
	    evt_blkhdr_fields, EVT_NFIELDS(evt_blkhdr_fields));
}

/* Reads a block header's fields, checking nothing. */
static inline void
evt_blkhdr_get(const uint8_t p[EVT_BLK_HDR_SIZE], struct evt_blkhdr *h)
{
	evt_fixed_get(p, h, evt_blkhdr_fields, EVT_NFIELDS(evt_blkhdr_fields));
}

/* Whether the bytes at p start with a block header's magic. */
static inline int
evt_blkhdr_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_BH_MAGIC, EVT_BLK_MAGIC, 4) == 0;
}

/* Whether a block's GUID column is packed (122 bits an entry; block
 * version 2 with EVT_BLKF_PACKED, whatever EVT_BLKF_SET says;
 * formats/segment.md, "GUID column"). */
static inline int
evt_blkhdr_packed(const struct evt_blkhdr *h)
{
	return (h->version == EVT_BLK_VERSION_COL ||
	    h->version == EVT_BLK_VERSION_JOIN) &&
	    (h->flags & EVT_BLKF_PACKED) != 0;
}

/* The length of a block's payload: its zstd frame and GUID column. */
static inline uint64_t
evt_blkhdr_payload_len(const struct evt_blkhdr *h)
{
	return (uint64_t)h->zlen + evt_guidcol_len(h->nguid,
	    evt_blkhdr_packed(h));
}

/* Builds a trailer from t. */
static inline void
evt_trailer_put(uint8_t p[EVT_TRAILER_SIZE], const struct evt_trailer *t)
{
	evt_fixed_put(p, EVT_TRAILER_SIZE, EVT_TRL_MAGIC, 8, t,
	    evt_trailer_fields, EVT_NFIELDS(evt_trailer_fields));
}

/* Reads a trailer's fields, checking nothing. */
static inline void
evt_trailer_get(const uint8_t p[EVT_TRAILER_SIZE], struct evt_trailer *t)
{
	evt_fixed_get(p, t, evt_trailer_fields, EVT_NFIELDS(evt_trailer_fields));
}

/* Whether the bytes at p start with a trailer's magic. */
static inline int
evt_trailer_magic_ok(const uint8_t *p)
{
	return memcmp(p + EVT_TR_MAGIC, EVT_TRL_MAGIC, 8) == 0;
}

#endif
