/*
 * colform.h: the columnar form of a block's records (block version 2,
 * formats/records.md, "Columnar blocks") and the packed GUID column
 * (formats/segment.md, "GUID column").
 *
 * The columnar form is a lossless rearrangement of the MessagePack record
 * bytes of a block: the values of EVENT records go into one column per
 * (shape, position), receive-time deltas and item counts into their own
 * columns, GUID-valued string definitions into a binary form, and small
 * integers become varints.  Decoding rebuilds the identical record bytes,
 * so the record decoder (record.h) is the same for both block versions.
 * No I/O; no state beyond the buffers the caller passes.
 */
#ifndef EVT_COLFORM_H
#define EVT_COLFORM_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

/* Columns of the fixed part, in stored order (records.md). */
enum {
	EVT_COL_K,	/* one class byte per record */
	EVT_COL_O,	/* values of other records and elements */
	EVT_COL_RX,	/* rx_delta of framed records */
	EVT_COL_N,	/* nitems of MSG and STATES */
	EVT_COL_S,	/* an EVENT's shape, as its index in the block's list */
	EVT_COL_D,	/* STRDEF strings: GUID form prefixes, other values */
	EVT_COL_G,	/* 16-byte GUIDs of GUID-form STRDEF strings */
	EVT_COL_FIXED
};

/* At most this many shapes get their own columns in one block; EVENTs
 * of further shapes go whole into column O. */
#define EVT_COL_MAX_SHAPES 64
/* Element columns per shape: EVENT elements 2..15 (fixarray records). */
#define EVT_COL_MAX_POS 14
/* Joins (revision 1.6, form 2): element columns of one shape whose
 * values repeat are stored together as one byte per EVENT, an index into
 * a table of at most EVT_COL_MAX_TUPLES value tuples in the header; at
 * most EVT_COL_MAX_TUPVALS table entries in one block. */
#define EVT_COL_MAX_TUPLES 256
#define EVT_COL_MAX_TUPVALS 2048
/* The forms: 1 = revision 1.4 and 1.5 (block version 2), 2 = revision
 * 1.6 (block version 3: joins). */
#define EVT_COLFORM_1 1
#define EVT_COLFORM_2 2
/* Bounds on the parts of a columnar form (parts[] of the encoder): the
 * header, the fixed columns, and up to 8 byte planes of every element
 * column. */
#define EVT_COL_MAX_PARTS \
	(1 + EVT_COL_FIXED + 8 * EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS)

/* Reusable encoder state (the writer keeps one).  Owns its buffers;
 * evt_colenc_free releases them. */
struct evt_colenc {
	struct evt_buf col[EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	uint32_t shape[EVT_COL_MAX_SHAPES];
	uint32_t npos[EVT_COL_MAX_SHAPES];
	uint32_t nshape;
	uint32_t nev[EVT_COL_MAX_SHAPES];   /* EVENTs of each local shape */
	uint16_t jmask[EVT_COL_MAX_SHAPES]; /* its joined element columns */
	int form;		/* EVT_COLFORM_1 or 2; 0 = 2 (the default) */
	/* Form 2: which element columns of shape id s hold TIME fields (bit
	 * j: element 2 + j), coded against the receive time; NULL: none.
	 * The writer passes evt_colform_time_cols and its dictionary. */
	uint32_t (*time_cols)(const void *ctx, uint32_t s);
	const void *time_ctx;
	uint32_t tmask[EVT_COL_MAX_SHAPES]; /* time columns of each shape */
	uint64_t r, t;		/* running R and T of form 2 */
	struct evt_buf tmp;	/* a column being split into byte planes */
	struct evt_buf tup;	/* the join tables, as the header holds them */
	struct evt_buf jbuf;	/* scratch of the joins: keys, levels */
	void *tset;		/* the joins' key set (colform.c), made on
				   first use */
};

/*
 * Encodes the len record bytes at recs into the columnar form c->form
 * in *out (replacing its content).  parts[] receives the end offset in out of the
 * header and of every column or byte plane after it, *nparts their count
 * (at most EVT_COL_MAX_PARTS), so that a
 * compressor can end a zstd block at each.  Records that do not follow
 * the writer's own forms are kept whole (any bytes round-trip).
 * Returns 0 or EVT_ERR_NOMEM.
 */
int evt_colform_encode(struct evt_colenc *c, const uint8_t *recs, size_t len,
    struct evt_buf *out, size_t *parts, size_t *nparts);

/* The TIME fields of shape id s of the dictionary at dict (a struct
 * evt_dict) as evt_colenc.time_cols wants them. */
uint32_t evt_colform_time_cols(const void *dict, uint32_t s);

/* Frees the encoder's buffers. */
void evt_colenc_free(struct evt_colenc *c);

/*
 * Rebuilds the record bytes from the columnar form `form` (EVT_COLFORM_1
 * or 2) at col (len bytes) into *recs (replacing its content; at most max
 * bytes).  Returns 0, or EVT_ERR_CORRUPT with *why saying what does not
 * fit (a static string), or EVT_ERR_NOMEM.
 */
int evt_colform_decode(int form, const uint8_t *col, size_t len, size_t max,
    struct evt_buf *recs, const char **why);

/*
 * Packed GUID column (block flag EVT_BLKF_PACKED): each entry a version-4
 * GUID whose 6 fixed bits are left out, 122 bits, big-endian bit order,
 * entries back to back; the last byte padded with zero bits.
 */
#define EVT_GUID_PACKED_BITS 122

/* The stored length of a GUID column of n entries, packed or not. */
static inline uint64_t
evt_guidcol_len(uint32_t n, int packed)
{
	return packed ? ((uint64_t)n * EVT_GUID_PACKED_BITS + 7) / 8 :
	    16 * (uint64_t)n;
}

/* Whether every one of the n 16-byte GUIDs at g is of version 4 and
 * variant 10 (RFC 9562), so that the column can be packed. */
int evt_guidcol_packable(const uint8_t *g, uint32_t n);

/* Packs the n GUIDs at g into out (evt_guidcol_len(n, 1) bytes). */
void evt_guidcol_pack(const uint8_t *g, uint32_t n, uint8_t *out);

/* Unpacks n entries from p into 16-byte GUIDs at out. */
void evt_guidcol_unpack(const uint8_t *p, uint32_t n, uint8_t *out);

#endif
