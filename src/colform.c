/*
 * colform.c: the columnar form of a block's records and the packed GUID
 * column (block version 2; formats/records.md, "Columnar blocks";
 * formats/segment.md, "GUID column").
 *
 * The writer turns the record bytes it built into the columnar form just
 * before compressing them; the reader rebuilds the identical record bytes
 * just after decompressing, so everything that decodes records is shared
 * by both block versions.  Columns put alike values side by side (the
 * times of one shape, the receive-time deltas, the string ids of one
 * field), which zstd compresses far better than the interleaved records:
 * docs/measurements.md.  The encoder splits its own MessagePack, which it
 * trusts; the decoder reads hostile bytes and never parses MessagePack
 * at all: every value is either a varint integer or a length and bytes.
 *
 * Columnar form, all integers unsigned LEB128 varints (records.md,
 * "Columnar blocks", has the byte-level rules):
 *
 *   reclen                 bytes of the rebuilt records
 *   nshape                 shapes with element columns
 *   nshape x (shape, npos) each shape's id and its number of columns
 *     [form 2: + jmask, tmask: its joined and its time columns]
 *   [form 2: join tables]  per shape with joins: ntup, then the tuples
 *   (base, width)          per integer column (RX, N, S, element columns
 *                          not joined): added to its integers; 0 =
 *                          varint codes, else the number of byte planes
 *   ncol x len             EVT_COL_FIXED + sum(npos) column lengths
 *   the columns, in that order
 *
 * Form 2 (block version 3, revision 1.6; records.md, "Columnar form 2")
 * also codes time columns against the receive time, item counts
 * against the class column, and a MSG header with its EVENTs as one
 * class byte (a run).
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/colform.h"
#include "evtape/dict.h"
#include "evtape/err.h"

#define KIND_STRDEF 0
#define KIND_MSG 2
#define KIND_EVENT 3
#define KIND_STATES 5
/* Form 2's class kind for a MSG header of 3 elements and the EVENTs
 * after it (records.md, "Columnar form 2"); no record has it. */
#define KIND_RUN 12

/* Appends v as an unsigned LEB128 varint. */
static inline int
put_varint(struct evt_buf *b, uint64_t v)
{
	if (b->cap - b->len < 10 && evt_buf_grow(b, 10) != 0)
		return EVT_ERR_NOMEM;
	uint8_t *t = b->p + b->len;
	size_t n = 0;
	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	b->len += n;
	return 0;
}

/* Converts between host and big-endian byte order (one instruction on
 * the little-endian machines evtape runs on). */
static inline uint64_t
to_be64(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}

/* Stores the low n bytes of u big-endian at p (n = 4 or 8). */
static inline void
put_be(uint8_t *p, uint64_t u, int n)
{
	uint64_t b = to_be64(u << (8 * (8 - n)));
	memcpy(p, &b, (size_t)n);
}

/* Loads 8 bytes big-endian. */
static inline uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return to_be64(v);
}

/* Writes v in its shortest MessagePack form (non-negative values in the
 * unsigned formats, as msgpack-c packs them); returns its length. */
static inline __attribute__((always_inline)) size_t
mp_int_put(uint8_t *o, int64_t v)
{
	uint64_t u = (uint64_t)v;
	if (v >= -32 && v < 128) {
		o[0] = (uint8_t)v;
		return 1;
	}
	if (v >= 0) {
		if (v < 256) {
			o[0] = 0xcc;
			o[1] = (uint8_t)u;
			return 2;
		}
		if (v < 65536) {
			o[0] = 0xcd;
			o[1] = (uint8_t)(u >> 8);
			o[2] = (uint8_t)u;
			return 3;
		}
		if (v <= 0xffffffff) {
			o[0] = 0xce;
			put_be(o + 1, u, 4);
			return 5;
		}
		o[0] = 0xcf;
	} else {
		if (v >= -128) {
			o[0] = 0xd0;
			o[1] = (uint8_t)u;
			return 2;
		}
		if (v >= -32768) {
			o[0] = 0xd1;
			o[1] = (uint8_t)(u >> 8);
			o[2] = (uint8_t)u;
			return 3;
		}
		if (v >= INT32_MIN) {
			o[0] = 0xd2;
			put_be(o + 1, u, 4);
			return 5;
		}
		o[0] = 0xd3;
	}
	put_be(o + 1, u, 8);
	return 9;
}

/* Whether the n bytes at p are exactly the shortest MessagePack form of
 * an integer whose zigzag code fits 63 bits; its value into *v. */
static int
mp_int_get(const uint8_t *p, size_t n, int64_t *v)
{
	uint8_t c = p[0];
	uint64_t u = 0;
	if (c <= 0x7f || c >= 0xe0) {
		*v = (int8_t)c;
		return n == 1;
	}
	size_t w;
	if (c >= 0xcc && c <= 0xcf)
		w = (size_t)1 << (c - 0xcc);
	else if (c >= 0xd0 && c <= 0xd3)
		w = (size_t)1 << (c - 0xd0);
	else
		return 0;
	if (n != 1 + w)
		return 0;
	for (size_t i = 0; i < w; i++)
		u = u << 8 | p[1 + i];
	if (c >= 0xd0) { /* sign-extend */
		if (w < 8 && (u >> (8 * w - 1)) & 1)
			u |= ~(uint64_t)0 << (8 * w);
	} else if (u > INT64_MAX) {
		return 0;
	}
	*v = (int64_t)u;
	if (*v >= ((int64_t)1 << 61) || *v < -((int64_t)1 << 61))
		return 0;
	/* Shortest: no shorter form of the family mp_int_put picks. */
	int64_t x = *v;
	size_t want = x >= -32 && x < 128 ? 1 : x >= 0 ?
	    (x < 256 ? 2 : x < 65536 ? 3 : x <= 0xffffffff ? 5 : 9) :
	    (x >= -128 ? 2 : x >= -32768 ? 3 : x >= INT32_MIN ? 5 : 9);
	return want == n && (x >= 0) == (c <= 0xcf);
}

/* The zigzag code of v (small magnitudes, small codes). */
static uint64_t
zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/*
 * Returns the end of the MessagePack value at p, or NULL if it does not
 * end before e.  The encoder's own output only; iterative, so depth
 * costs nothing.
 */
static const uint8_t *
mp_skip(const uint8_t *p, const uint8_t *e)
{
	/* Integers, most of what the encoder splits, without the loop. */
	if (p < e) {
		uint8_t c = *p;
		size_t n = c <= 0x7f || c >= 0xe0 ? 1 : c >= 0xcc && c <= 0xd3 ?
		    1 + ((size_t)1 << ((c - 0xcc) & 3)) : 0;
		if (n > 0)
			return (size_t)(e - p) >= n ? p + n : NULL;
	}
	uint64_t need = 1;
	while (need > 0) {
		if (p >= e)
			return NULL;
		uint8_t c = *p++;
		uint64_t len = 0, items = 0;
		size_t w = 0;
		need--;
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 ||
		    c == 0xc3)
			continue;
		if (c >= 0x80 && c <= 0x8f)
			items = 2 * (uint64_t)(c & 15);
		else if (c >= 0x90 && c <= 0x9f)
			items = c & 15;
		else if (c >= 0xa0 && c <= 0xbf)
			len = c & 31;
		else if (c >= 0xcc && c <= 0xd3)
			len = (uint64_t)1 << ((c - 0xcc) & 3);
		else if (c == 0xca)
			len = 4;
		else if (c == 0xcb)
			len = 8;
		else if (c >= 0xd4 && c <= 0xd8)
			len = 1 + ((uint64_t)1 << (c - 0xd4));
		else if (c == 0xc4 || c == 0xd9 || c == 0xc7)
			w = 1;
		else if (c == 0xc5 || c == 0xda || c == 0xc8 || c == 0xdc ||
		    c == 0xde)
			w = 2;
		else if (c == 0xc6 || c == 0xdb || c == 0xc9 || c == 0xdd ||
		    c == 0xdf)
			w = 4;
		else
			return NULL; /* 0xc1, never used */
		if (w > 0) {
			if ((size_t)(e - p) < w)
				return NULL;
			uint64_t x = 0;
			for (size_t i = 0; i < w; i++)
				x = x << 8 | *p++;
			if (c == 0xdc || c == 0xdd)
				items = x;
			else if (c == 0xde || c == 0xdf)
				items = 2 * x;
			else
				len = x + (c >= 0xc7 && c <= 0xc9); /* ext type */
		}
		if ((uint64_t)(e - p) < len)
			return NULL;
		p += len;
		need += items;
	}
	return p;
}

/* Appends the MessagePack value of n bytes at p to column b: an integer
 * in its shortest form as varint(zigzag << 1), anything else as
 * varint(n << 1 | 1) and the bytes. */
static inline int
put_val(struct evt_buf *b, const uint8_t *p, size_t n)
{
	int64_t v;
	if (n == 1 && (p[0] <= 0x7f || p[0] >= 0xe0))
		return put_varint(b, zigzag((int8_t)p[0]) << 1);
	if (mp_int_get(p, n, &v))
		return put_varint(b, zigzag(v) << 1);
	if (put_varint(b, (uint64_t)n << 1 | 1) != 0)
		return EVT_ERR_NOMEM;
	return evt_buf_put(b, p, n);
}

/* Appends the receive-time delta of n bytes at p to column RX, adding
 * an integer to the running R. */
static int
put_rx(struct evt_colenc *c, const uint8_t *p, size_t n)
{
	int64_t v;
	if (mp_int_get(p, n, &v))
		c->r += (uint64_t)v;
	return put_val(&c->col[EVT_COL_RX], p, n);
}

/*
 * Appends a TIME delta of n bytes at p to time column b (form 2): an
 * integer d as the latency u = 10 R - T - d, the time's distance from
 * its frame's receive time (R microseconds, T ticks: the running values,
 * records.md "Columnar form 2"), which varies far less than the delta
 * from the previous event; T += d.  Anything else, or a u that does not
 * fit, as its bytes (T unchanged).
 */
static int
put_time(struct evt_colenc *c, struct evt_buf *b, const uint8_t *p, size_t n)
{
	int64_t d;
	if (mp_int_get(p, n, &d)) {
		int64_t u = (int64_t)(10 * c->r - c->t - (uint64_t)d);
		if (u < ((int64_t)1 << 61) && u > -((int64_t)1 << 61)) {
			c->t += (uint64_t)d;
			return put_varint(b, zigzag(u) << 1);
		}
	}
	if (put_varint(b, (uint64_t)n << 1 | 1) != 0)
		return EVT_ERR_NOMEM;
	return evt_buf_put(b, p, n);
}

/* The value of a lower-case hex digit, or -1. */
static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Whether the 36 bytes at s are a GUID in lower-case 8-4-4-4-12 form;
 * its bytes into g. */
static int
guid_text(const uint8_t *s, uint8_t g[16])
{
	int k = 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
			continue;
		}
		int h = hexval(s[i]), l;
		if (h < 0 || (l = hexval(s[i + 1])) < 0)
			return 0;
		g[k++] = (uint8_t)(h << 4 | l);
		i++;
	}
	return 1;
}

/* The length of the shortest MessagePack str header for n bytes. */
static size_t
str_hdr_len(uint64_t n)
{
	return n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;
}

/* Appends a STRDEF's string (the n-byte MessagePack value at p) to
 * columns D and G: a prefix and a lower-case GUID as varint(plen << 1),
 * the prefix and 16 bytes in G; anything else as put_val's bytes. */
static int
put_strdef(struct evt_colenc *c, const uint8_t *p, size_t n)
{
	uint64_t len = 0;
	size_t h = 0;
	uint8_t g[16];
	if (p[0] >= 0xa0 && p[0] <= 0xbf)
		len = p[0] & 31, h = 1;
	else if (p[0] == 0xd9 && n >= 2)
		len = p[1], h = 2;
	else if (p[0] == 0xda && n >= 3)
		len = (uint64_t)p[1] << 8 | p[2], h = 3;
	if (h == 0 || h != str_hdr_len(len) || h + len != n || len < 36 ||
	    !guid_text(p + n - 36, g)) {
		if (put_varint(&c->col[EVT_COL_D], (uint64_t)n << 1 | 1) != 0)
			return EVT_ERR_NOMEM;
		return evt_buf_put(&c->col[EVT_COL_D], p, n);
	}
	if (put_varint(&c->col[EVT_COL_D], (len - 36) << 1) != 0 ||
	    evt_buf_put(&c->col[EVT_COL_D], p + h, len - 36) != 0)
		return EVT_ERR_NOMEM;
	return evt_buf_put(&c->col[EVT_COL_G], g, 16);
}

/* The block-local index of shape id s, added if new; -1 when the block
 * has EVT_COL_MAX_SHAPES already. */
static int
local_shape(struct evt_colenc *c, uint32_t s)
{
	for (uint32_t i = 0; i < c->nshape; i++)
		if (c->shape[i] == s)
			return (int)i;
	if (c->nshape == EVT_COL_MAX_SHAPES)
		return -1;
	c->shape[c->nshape] = s;
	c->npos[c->nshape] = 0;
	c->nev[c->nshape] = 0;
	c->jmask[c->nshape] = 0;
	c->tmask[c->nshape] = c->form != EVT_COLFORM_1 && c->time_cols != NULL ?
	    c->time_cols(c->time_ctx, s) & ((1u << EVT_COL_MAX_POS) - 1) : 0;
	return (int)c->nshape++;
}

/* Splits the elements of the array record of n elements (its elements
 * from el; the block ends at end) into the columns of its class, and
 * sets *rend to the record's end; returns 1 if the record must be kept
 * whole instead. */
static int
split_record(struct evt_colenc *c, unsigned n, unsigned k, const uint8_t *el,
    const uint8_t *end, const uint8_t **rend)
{
	const uint8_t *q[16];
	q[1] = el;
	for (unsigned i = 1; i < n; i++)
		if ((q[i + 1] = mp_skip(q[i], end)) == NULL)
			return 1;
	*rend = q[n];
	int l = -1;
	int64_t s;
	if (k == KIND_EVENT) {
		if (!mp_int_get(q[1], (size_t)(q[2] - q[1]), &s) || s < 0 ||
		    s > UINT32_MAX || (l = local_shape(c, (uint32_t)s)) < 0)
			return 1;
	}
	if (evt_buf_putc(&c->col[EVT_COL_K], (int)(n << 4 | k)) != 0)
		return EVT_ERR_NOMEM;
	for (unsigned i = 1; i < n; i++) {
		const uint8_t *p = q[i];
		size_t len = (size_t)(q[i + 1] - p);
		int rc, framed = k == KIND_MSG || (k >= KIND_STATES && k <= 10);
		struct evt_buf *ec = k != KIND_EVENT ? NULL :
		    &c->col[EVT_COL_FIXED + l * EVT_COL_MAX_POS + (i - 2)];
		if (k == KIND_EVENT && i == 1)
			rc = put_varint(&c->col[EVT_COL_S], zigzag(l) << 1);
		else if (k == KIND_EVENT && (c->tmask[l] >> (i - 2) & 1))
			rc = put_time(c, ec, p, len);
		else if (k == KIND_EVENT)
			rc = put_val(ec, p, len);
		else if (framed && i == 1)
			rc = put_rx(c, p, len);
		else if ((k == KIND_MSG || k == KIND_STATES) && i == 2)
			rc = put_val(&c->col[EVT_COL_N], p, len);
		else if (k == KIND_STRDEF && n == 2)
			rc = put_strdef(c, p, len);
		else
			rc = put_val(&c->col[EVT_COL_O], p, len);
		if (rc != 0)
			return rc;
	}
	if (k == KIND_EVENT && c->npos[l] < n - 2)
		c->npos[l] = n - 2;
	if (k == KIND_EVENT)
		c->nev[l]++;
	return 0;
}

/*
 * The number of item records (kind 3 or 4) among the class bytes from k
 * to e before the first that is neither an item nor a definition (kind 0
 * or 1) or is 0 (a record kept whole): what form 2 expects the item count
 * of the MSG or STATES header just before k to be.
 */
static uint64_t
items_ahead(const uint8_t *k, const uint8_t *e)
{
	uint64_t n = 0;
	for (; k < e; k++) {
		unsigned kind = *k & 15;
		if (*k == 0 || kind == 2 || kind > 4)
			break;
		n += kind >= 3;
	}
	return n;
}

/* The value of a zigzag code. */
static int64_t
unzigzag(uint64_t z)
{
	return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

/* The end of column b's bytes (its start when empty: an unused column
 * has no memory, and NULL + 0 is undefined in C). */
static const uint8_t *
buf_end(const struct evt_buf *b)
{
	return b->len > 0 ? b->p + b->len : b->p;
}

/* Reads a varint of a column the encoder wrote itself. */
static uint64_t
own_varint(const uint8_t **p)
{
	uint64_t x = 0;
	for (unsigned sh = 0; ; sh += 7) {
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return x;
	}
}

/*
 * Form 2: rewrites the integer item counts of column N as their
 * difference to items_ahead (0 for every header the writer makes), since
 * column K holds the same count; other values stay.  0 or EVT_ERR_NOMEM.
 */
static int
predict_counts(struct evt_colenc *c)
{
	struct evt_buf *k = &c->col[EVT_COL_K], *nb = &c->col[EVT_COL_N];
	const uint8_t *p = nb->p, *e = buf_end(nb);
	c->tmp.len = 0;
	for (size_t i = 0; i < k->len && p < e; i++) {
		unsigned kind = k->p[i] & 15;
		if ((kind != KIND_MSG && kind != KIND_STATES) || k->p[i] >> 4 < 3)
			continue;
		const uint8_t *v = p;
		uint64_t code = own_varint(&p);
		int rc;
		if (code & 1) {
			p += code >> 1;
			rc = evt_buf_put(&c->tmp, v, (size_t)(p - v));
		} else {
			int64_t d = unzigzag(code >> 1) -
			    (int64_t)items_ahead(k->p + i + 1, k->p + k->len);
			rc = put_varint(&c->tmp, zigzag(d) << 1);
		}
		if (rc != 0)
			return EVT_ERR_NOMEM;
	}
	struct evt_buf t = *nb;
	*nb = c->tmp;
	c->tmp = t;
	return 0;
}

/*
 * Subtracts from the integer values of element column b their smallest
 * value when that is positive (string ids, which grow through a segment,
 * become small), rewriting the column in place (no code grows); returns
 * that base, or 0 when nothing changed.
 */
static uint64_t
rebase(struct evt_buf *b)
{
	const uint8_t *p = b->p, *e = buf_end(b);
	int64_t min = INT64_MAX;
	while (p < e) {
		uint64_t code = own_varint(&p);
		if (code & 1)
			p += code >> 1;
		else if (unzigzag(code >> 1) < min)
			min = unzigzag(code >> 1);
	}
	if (min <= 0 || min == INT64_MAX)
		return 0;
	struct evt_buf w = {b->p, 0, b->cap};
	p = b->p;
	while (p < e) {
		uint64_t code = own_varint(&p);
		if (code & 1) {
			uint64_t n = code >> 1;
			put_varint(&w, code); /* in place: never grows */
			memmove(w.p + w.len, p, n);
			w.len += n;
			p += n;
		} else {
			put_varint(&w, zigzag(unzigzag(code >> 1) - min) << 1);
		}
	}
	b->len = w.len;
	return (uint64_t)min;
}

/* The bytes needed for z (at least 1). */
static int
bytes_of(uint64_t z)
{
	int w = 1;
	while (w < 8 && (z >> (8 * w)) != 0)
		w++;
	return w;
}

/* Integers of a column the encoder built, as pass 1 of planes() finds
 * them. */
struct colstat {
	uint64_t n;
	int64_t v0, min, rmin, rmax; /* first; least of all; of the rest */
};

/* Reads the integers of column b into *st; 0 if it holds anything
 * else. */
static int
col_stat(const struct evt_buf *b, struct colstat *st)
{
	const uint8_t *p = b->p, *e = buf_end(b);
	*st = (struct colstat){0, 0, INT64_MAX, INT64_MAX, INT64_MIN};
	while (p < e) {
		uint64_t code = own_varint(&p);
		if (code & 1)
			return 0;
		int64_t v = unzigzag(code >> 1);
		if (st->n++ == 0)
			st->v0 = v;
		else {
			st->rmin = v < st->rmin ? v : st->rmin;
			st->rmax = v > st->rmax ? v : st->rmax;
		}
		st->min = v < st->min ? v : st->min;
	}
	return st->n > 0;
}

/*
 * Stores integer column b, when it holds integers only, as byte planes
 * less a base: the base is the least value when that is positive (string
 * ids, which grow through a segment, become small), else 0; with n
 * values whose largest zigzag code z (of value - base) needs w bytes,
 * plane k (k < w) is the n bytes k (from the least significant) of the
 * codes.  A column of alike numbers compresses better so (each plane
 * gets its own zstd block).  The first value, when it needs more bytes
 * than the rest (the first receive-time delta and event time of a block
 * are absolute), goes to *head as its z + 1 instead (else *head = 0).
 * Returns w and *base, or 0 when the column keeps its varints (it then
 * only loses its base: rebase()); -1 when out of memory.
 */
static int
planes(struct evt_colenc *c, struct evt_buf *b, uint64_t *base,
    uint64_t *head)
{
	struct colstat st;
	*head = 0;
	if (!col_stat(b, &st)) {
		*base = rebase(b);
		return 0;
	}
	int64_t bs = st.min > 0 ? st.min : 0;
	uint64_t z0 = zigzag(st.v0 - bs), max = 0;
	if (st.n > 1)
		max = zigzag(st.rmin - bs) | zigzag(st.rmax - bs);
	int w = bytes_of(st.n > 1 ? max : z0);
	uint64_t skip = st.n > 1 && bytes_of(z0) > w;
	uint64_t m = st.n - skip;
	*base = (uint64_t)bs;
	*head = skip ? z0 + 1 : 0; /* (z0 < 2^62: no overflow) */
	c->tmp.len = 0;
	if (evt_buf_grow(&c->tmp, (size_t)(m * (uint64_t)w)) != 0)
		return -1;
	const uint8_t *p = b->p;
	uint8_t *o = c->tmp.p;
	for (uint64_t i = 0; i < st.n; i++) {
		uint64_t z = zigzag(unzigzag(own_varint(&p) >> 1) - bs);
		if (i < skip)
			continue;
		for (int k = 0; k < w; k++)
			o[k * m + i - skip] = (uint8_t)(z >> (8 * k));
	}
	c->tmp.len = (size_t)(m * (uint64_t)w);
	struct evt_buf t = *b;
	*b = c->tmp;
	c->tmp = t;
	return w;
}

/*
 * Form 2: rewrites column K so that each MSG header of 3 elements and
 * the EVENTs right after it that have their local shape's full element
 * count (at most 15) take one class byte, 16 * m + KIND_RUN: a frame of
 * m events costs one byte of K, not 1 + m.  Column S is read alongside
 * for the EVENTs' shapes.  0 or EVT_ERR_NOMEM.
 */
static int
compress_runs(struct evt_colenc *c)
{
	struct evt_buf *k = &c->col[EVT_COL_K];
	const uint8_t *s = c->col[EVT_COL_S].p;
	c->tmp.len = 0;
	for (size_t i = 0; i < k->len; ) {
		uint8_t b = k->p[i++];
		if ((b & 15) == KIND_EVENT)
			own_varint(&s);
		if (b != (3 << 4 | KIND_MSG)) {
			if (evt_buf_putc(&c->tmp, b) != 0)
				return EVT_ERR_NOMEM;
			continue;
		}
		unsigned m = 0;
		while (m < 15 && i < k->len && (k->p[i] & 15) == KIND_EVENT) {
			const uint8_t *t = s;
			uint64_t l = own_varint(&t) >> 2; /* zigzag(l) << 1 */
			if ((unsigned)(k->p[i] >> 4) != 2 + c->npos[l])
				break;
			s = t;
			m++;
			i++;
		}
		if (evt_buf_putc(&c->tmp, (int)(m << 4 | KIND_RUN)) != 0)
			return EVT_ERR_NOMEM;
	}
	struct evt_buf t = *k;
	*k = c->tmp;
	c->tmp = t;
	return 0;
}

/* Distinct values a column may have to be joined (its levels). */
#define JOIN_MAX_LEVELS 16

/*
 * Reads the n values of element column b as levels: its distinct zigzag
 * codes into vals (first seen first), each value's level into lv[].
 * Returns the number of levels, or 0 when the column does not hold
 * exactly n integers of at most JOIN_MAX_LEVELS distinct values.
 */
static int
col_levels(const struct evt_buf *b, uint32_t n, uint64_t *vals, uint8_t *lv)
{
	const uint8_t *p = b->p, *e = buf_end(b);
	int nd = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (p >= e)
			return 0;
		uint64_t code = own_varint(&p);
		if (code & 1)
			return 0;
		int k = 0;
		while (k < nd && vals[k] != code >> 1)
			k++;
		if (k == nd) {
			if (nd == JOIN_MAX_LEVELS)
				return 0;
			vals[nd++] = code >> 1;
		}
		lv[i] = (uint8_t)k;
	}
	return p == e ? nd : 0;
}

/* A set of tuple keys, numbered in the order they are first added. */
struct tupset {
	uint64_t key[2 * EVT_COL_MAX_TUPLES];
	int16_t at[2 * EVT_COL_MAX_TUPLES];	/* number + 1; 0 = free */
	uint64_t order[EVT_COL_MAX_TUPLES];	/* the keys by number */
	int n;
};

/* The number of key k in set t, added if new; -1 when t is full. */
static int
tup_index(struct tupset *t, uint64_t k)
{
	size_t h = (size_t)((k * 0x9e3779b97f4a7c15u) >> 55);
	for (;; h = (h + 1) % (2 * EVT_COL_MAX_TUPLES)) {
		if (t->at[h] == 0)
			break;
		if (t->key[h] == k)
			return t->at[h] - 1;
	}
	if (t->n == EVT_COL_MAX_TUPLES)
		return -1;
	t->key[h] = k;
	t->order[t->n] = k;
	t->at[h] = (int16_t)++t->n;
	return t->n - 1;
}

/* The number of distinct keys among the n at k, or -1 past max. */
static int
count_tuples(struct tupset *t, const uint64_t *k, uint32_t n, int max)
{
	memset(t->at, 0, sizeof t->at);
	t->n = 0;
	for (uint32_t i = 0; i < n; i++)
		if (tup_index(t, k[i]) < 0 || t->n > max)
			return -1;
	return t->n;
}

/*
 * Joins element columns of local shape l (form 2): going through its
 * columns in order, a column of few levels (col_levels) joins when the
 * tuples of the joined columns stay few (at most a quarter of the
 * shape's EVENTs, at most EVT_COL_MAX_TUPLES), so that each tuple repeats
 * and the table costs less than it saves: stategroupid, type and
 * specversion of evgen's events, which zstd would code at no less than a
 * bit each, become one byte of about two bits of entropy.  The first
 * joined column then holds the tuple numbers, one byte per EVENT, the
 * others nothing; the table goes to c->tup.  *budget is what is left of
 * EVT_COL_MAX_TUPVALS.  0 or EVT_ERR_NOMEM.
 */
static int
join_shape(struct evt_colenc *c, uint32_t l, uint32_t *budget)
{
	uint32_t n = c->nev[l];
	int max = (int)(n / 4 < EVT_COL_MAX_TUPLES ? n / 4 :
	    EVT_COL_MAX_TUPLES);
	c->jmask[l] = 0;
	if (max < 2 || c->npos[l] < 2)
		return 0;
	c->jbuf.len = 0;
	if (evt_buf_grow(&c->jbuf, (size_t)n * 17) != 0)
		return EVT_ERR_NOMEM;
	/* 8 KiB, the encoder's own: a writer and a sealing thread encode
	 * blocks at the same time (a static set here corrupted blocks). */
	if (c->tset == NULL && (c->tset = malloc(sizeof(struct tupset))) ==
	    NULL)
		return EVT_ERR_NOMEM;
	struct tupset *t = c->tset;
	uint64_t *key = (uint64_t *)(void *)c->jbuf.p, *nk = key + n;
	uint8_t *lv = (uint8_t *)(nk + n);
	uint64_t vals[EVT_COL_MAX_POS][JOIN_MAX_LEVELS];
	uint64_t nd[EVT_COL_MAX_POS];
	struct evt_buf *col = &c->col[EVT_COL_FIXED + l * EVT_COL_MAX_POS];
	uint16_t mask = 0;
	int nj = 0, ntup = 1;
	memset(key, 0, (size_t)n * sizeof *key);
	for (uint32_t j = 0; j < c->npos[l]; j++) {
		int d = col_levels(&col[j], n, vals[j], lv);
		if (d == 0)
			continue;
		for (uint32_t i = 0; i < n; i++)
			nk[i] = key[i] * (uint64_t)d + lv[i];
		int nt = count_tuples(t, nk, n, max);
		if (nt < 0)
			continue;
		uint64_t *sw = key;
		key = nk;
		nk = sw;
		nd[j] = (uint64_t)d;
		mask |= (uint16_t)(1u << j);
		nj++;
		ntup = nt;
	}
	if (nj < 2 || (uint32_t)(ntup * nj) > *budget)
		return 0;
	*budget -= (uint32_t)(ntup * nj);
	/* The table, tuple by tuple, and the numbers into the first
	 * joined column. */
	count_tuples(t, key, n, EVT_COL_MAX_TUPLES);
	if (put_varint(&c->tup, (uint64_t)t->n) != 0)
		return EVT_ERR_NOMEM;
	for (int i = 0; i < t->n; i++) {
		uint64_t v[EVT_COL_MAX_POS], k = t->order[i];
		for (int j = (int)c->npos[l] - 1; j >= 0; j--)
			if (mask >> j & 1) {
				v[j] = vals[j][k % nd[j]];
				k /= nd[j];
			}
		for (uint32_t j = 0; j < c->npos[l]; j++)
			if (mask >> j & 1 && put_varint(&c->tup, v[j]) != 0)
				return EVT_ERR_NOMEM;
	}
	int first = __builtin_ctz(mask);
	for (uint32_t j = 0; j < c->npos[l]; j++)
		if (mask >> j & 1)
			col[j].len = 0;
	if (evt_buf_grow(&col[first], n) != 0)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		col[first].p[i] = (uint8_t)tup_index(t, key[i]);
	col[first].len = n;
	c->jmask[l] = mask;
	return 0;
}

/* Whether stored column i holds integers (a base and a width in the
 * header): RX, N, S and the element columns. */
static int
numeric(size_t i)
{
	return i == EVT_COL_RX || i == EVT_COL_N || i == EVT_COL_S ||
	    i >= EVT_COL_FIXED;
}

/* Encodes records into the columnar form; see colform.h. */
int
evt_colform_encode(struct evt_colenc *c, const uint8_t *recs, size_t len,
    struct evt_buf *out, size_t *parts, size_t *nparts)
{
	size_t ncol = EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS;
	for (size_t i = 0; i < ncol; i++)
		c->col[i].len = 0;
	c->nshape = 0;
	c->r = c->t = 0;
	memset(c->jmask, 0, sizeof c->jmask);
	const uint8_t *p = recs, *e = recs + len;
	while (p < e) {
		const uint8_t *q = NULL;
		int rc = 1;
		/* (Form 2 keeps records of kind KIND_RUN whole: their class
		 * bytes mean runs there.) */
		if (p[0] >= 0x92 && p[0] <= 0x9f && e - p >= 2 && p[1] <= 0x0f &&
		    (c->form == EVT_COLFORM_1 || p[1] != KIND_RUN))
			rc = split_record(c, p[0] & 15, p[1], p + 2, e, &q);
		if (rc < 0)
			return rc;
		if (rc == 1 && (q = mp_skip(p, e)) == NULL)
			q = e; /* not the writer's: kept whole */
		if (rc == 1 && (evt_buf_putc(&c->col[EVT_COL_K], 0) != 0 ||
		    put_val(&c->col[EVT_COL_O], p, (size_t)(q - p)) != 0))
			return EVT_ERR_NOMEM;
		p = q;
	}
	int form2 = c->form != EVT_COLFORM_1;
	uint32_t budget = EVT_COL_MAX_TUPVALS;
	c->tup.len = 0;
	if (form2 && (predict_counts(c) != 0 || compress_runs(c) != 0))
		return EVT_ERR_NOMEM;
	for (uint32_t s = 0; form2 && s < c->nshape; s++)
		if (join_shape(c, s, &budget) != 0)
			return EVT_ERR_NOMEM;
	out->len = 0;
	if (put_varint(out, len) != 0 || put_varint(out, c->nshape) != 0)
		return EVT_ERR_NOMEM;
	for (uint32_t i = 0; i < c->nshape; i++)
		if (put_varint(out, c->shape[i]) != 0 ||
		    put_varint(out, c->npos[i]) != 0 ||
		    (form2 && (put_varint(out, c->jmask[i]) != 0 ||
		    put_varint(out, c->tmask[i] &
		    ((1u << c->npos[i]) - 1)) != 0)))
			return EVT_ERR_NOMEM;
	if (evt_buf_put(out, c->tup.p, c->tup.len) != 0)
		return EVT_ERR_NOMEM;
	/* The stored columns: the fixed ones, then each shape's; joined
	 * columns have no base and width. */
	struct evt_buf *cols[EVT_COL_FIXED +
	    EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	uint8_t width[EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	uint8_t joined[EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	size_t n = 0;
	for (size_t i = 0; i < EVT_COL_FIXED; i++) {
		joined[n] = 0;
		cols[n++] = &c->col[i];
	}
	for (uint32_t s = 0; s < c->nshape; s++)
		for (uint32_t j = 0; j < c->npos[s]; j++) {
			joined[n] = (uint8_t)(c->jmask[s] >> j & 1);
			cols[n++] = &c->col[EVT_COL_FIXED + s * EVT_COL_MAX_POS +
			    j];
		}
	/* Integer columns: a base and a width each. */
	for (size_t i = 0; i < n; i++) {
		width[i] = 0;
		if (!numeric(i) || joined[i])
			continue;
		uint64_t base, head;
		int w = planes(c, cols[i], &base, &head);
		if (w < 0 || put_varint(out, base) != 0 ||
		    put_varint(out, (uint64_t)w) != 0 ||
		    (w > 0 && put_varint(out, head) != 0))
			return EVT_ERR_NOMEM;
		width[i] = (uint8_t)w;
	}
	for (size_t i = 0; i < n; i++)
		if (put_varint(out, cols[i]->len) != 0)
			return EVT_ERR_NOMEM;
	*nparts = 0;
	parts[(*nparts)++] = out->len;
	for (size_t i = 0; i < n; i++) {
		size_t at = out->len, w = width[i];
		if (evt_buf_put(out, cols[i]->p, cols[i]->len) != 0)
			return EVT_ERR_NOMEM;
		for (size_t k = 1; k < w; k++) /* a zstd block per plane */
			parts[(*nparts)++] = at + k * (cols[i]->len / w);
		if (cols[i]->len > 0)
			parts[(*nparts)++] = out->len;
	}
	return 0;
}

/* The TIME fields of a dictionary's shape; see colform.h. */
uint32_t
evt_colform_time_cols(const void *dict, uint32_t s)
{
	const struct evt_dict *d = dict;
	if (s >= d->nshape || d->shape[s].nval == UINT32_MAX)
		return 0;
	const struct evt_shape *sh = &d->shape[s];
	const uint32_t *f = evt_dict_fields(d, sh);
	uint32_t m = 0, j = 0;
	for (uint32_t i = 0; i < sh->nfield && j < 32; i++) {
		if (f[2 * i + 1] == EVT_ENC_GUID)
			continue;
		if (f[2 * i + 1] == EVT_ENC_TIME)
			m |= 1u << j;
		j++;
	}
	return m;
}

/* Frees the encoder's buffers; see colform.h. */
void
evt_colenc_free(struct evt_colenc *c)
{
	for (size_t i = 0; i < sizeof c->col / sizeof c->col[0]; i++)
		evt_buf_free(&c->col[i]);
	evt_buf_free(&c->tmp);
	evt_buf_free(&c->tup);
	evt_buf_free(&c->jbuf);
	free(c->tset);
	c->tset = NULL;
}

/* A column being read: its next byte, its end, and the base added to
 * its integers. */
struct rcol {
	const uint8_t *p, *e;	/* in a column of byte planes: plane 0 */
	uint64_t base;
	size_t stride;		/* bytes per plane */
	unsigned w;		/* byte planes, 0 for varints, or JOIN_* */
	uint64_t head;		/* planes: the first value's code + 1, or 0 */
	const uint64_t *tup;	/* joined: the shape's table, by tuple */
	uint32_t *cur;		/* joined: the EVENT's tuple number */
	uint32_t ntup, nj, slot; /* joined: tuples, values a tuple, which */
	int time;		/* form 2: a time column (get_time) */
};

/* The widths of joined columns (form 2): the first of a shape's joined
 * columns, which reads the tuple number, and the others. */
#define JOIN_FIRST 16
#define JOIN_REST 17

/* Reads a varint from column c into *v; 0, or -1 if it does not end in
 * the column or does not fit 64 bits. */
static inline __attribute__((always_inline)) int
get_varint(struct rcol *c, uint64_t *v)
{
	/* Values of up to 3 bytes (times, receive-time deltas, string ids)
	 * without the loop. */
	if (c->e - c->p >= 3) {
		const uint8_t *p = c->p;
		if (p[0] < 0x80) {
			*v = p[0];
			c->p += 1;
			return 0;
		}
		if (p[1] < 0x80) {
			*v = (p[0] & 0x7f) | (uint64_t)p[1] << 7;
			c->p += 2;
			return 0;
		}
		if (p[2] < 0x80) {
			*v = (p[0] & 0x7f) | (uint64_t)(p[1] & 0x7f) << 7 |
			    (uint64_t)p[2] << 14;
			c->p += 3;
			return 0;
		}
	}
	uint64_t x = 0;
	for (unsigned sh = 0; sh < 64; sh += 7) {
		if (c->p == c->e)
			return -1;
		uint8_t b = *c->p++;
		if (sh == 63 && b > 1)
			return -1;
		x |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The rebuilt records being written: the next byte and the end of the
 * room (reclen). */
struct wout {
	uint8_t *p, *e;
};

/* Reads the next value code of column c: a varint, or in a column of
 * byte planes an integer's code; 0 or -1. */
static inline __attribute__((always_inline)) int
get_code(struct rcol *c, uint64_t *code)
{
	if (c->w == 0)
		return get_varint(c, code);
	if (c->w >= JOIN_FIRST) {
		if (c->w == JOIN_FIRST) {
			if (c->p == c->e || *c->p >= c->ntup)
				return -1;
			*c->cur = *c->p++;
		}
		*code = c->tup[*c->cur * c->nj + c->slot] << 1;
		return 0;
	}
	if (c->head != 0) {
		*code = (c->head - 1) << 1;
		c->head = 0;
		return 0;
	}
	if (c->p == c->e)
		return -1;
	const uint8_t *p = c->p++;
	size_t s = c->stride;
	uint64_t z;
	switch (c->w) { /* the common widths without a loop */
	case 1:
		z = p[0];
		break;
	case 2:
		z = p[0] | (uint64_t)p[s] << 8;
		break;
	case 3:
		z = p[0] | (uint64_t)p[s] << 8 | (uint64_t)p[2 * s] << 16;
		break;
	default:
		z = 0;
		for (unsigned k = 0; k < c->w; k++)
			z |= (uint64_t)p[k * s] << (8 * k);
		break;
	}
	*code = z << 1;
	return 0;
}

/* Writes integer v to o in its shortest MessagePack form; 0 or -1. */
static inline __attribute__((always_inline)) int
out_int(struct wout *o, int64_t v)
{
	if (o->e - o->p >= 9) {
		o->p += mp_int_put(o->p, v);
		return 0;
	}
	uint8_t t[9];
	size_t n = mp_int_put(t, v);
	if ((size_t)(o->e - o->p) < n)
		return -1;
	memcpy(o->p, t, n);
	o->p += n;
	return 0;
}

/* Copies the n bytes of an odd value code from column c to o. */
static inline __attribute__((always_inline)) int
out_bytes(struct rcol *c, struct wout *o, uint64_t n)
{
	if (n > (uint64_t)(c->e - c->p) || n > (uint64_t)(o->e - o->p))
		return -1;
	memcpy(o->p, c->p, (size_t)n);
	c->p += n;
	o->p += n;
	return 0;
}

/* Copies the next value of column c to o (put_val's inverse), adding
 * add to an integer (form 2's prediction of nitems, else 0) and the
 * integer to *sum (form 2's R; NULL: none). */
static inline __attribute__((always_inline)) int
get_val_add(struct rcol *c, struct wout *o, uint64_t add, uint64_t *sum)
{
	uint64_t code;
	if (get_code(c, &code) != 0)
		return -1;
	if (code & 1)
		return out_bytes(c, o, code >> 1);
	/* (Wrapping, never undefined: a hostile base only makes a wrong
	 * value, which the record decoder judges.) */
	uint64_t v = (uint64_t)unzigzag(code >> 1) + c->base + add;
	if (sum != NULL)
		*sum += v;
	return out_int(o, (int64_t)v);
}

/* Copies the next value of column c to o (put_val's inverse). */
static inline __attribute__((always_inline)) int
get_val(struct rcol *c, struct wout *o)
{
	return get_val_add(c, o, 0, NULL);
}

/* The running values of form 2 (records.md, "Columnar form 2"): R, the
 * sum of the integer receive-time deltas so far, and T, that of the
 * time deltas of time columns. */
struct runv {
	uint64_t r, t;
};

/* Copies the next value of time column c to o (put_time's inverse):
 * an integer u is the latency 10 R - T - delta. */
static inline __attribute__((always_inline)) int
get_time(struct rcol *c, struct wout *o, struct runv *rv)
{
	uint64_t code;
	if (get_code(c, &code) != 0)
		return -1;
	if (code & 1)
		return out_bytes(c, o, code >> 1);
	uint64_t u = (uint64_t)unzigzag(code >> 1) + c->base;
	uint64_t d = 10 * rv->r - rv->t - u;
	rv->t += d;
	return out_int(o, (int64_t)d);
}

/* Copies the next STRDEF string of columns D and G to o (put_strdef's
 * inverse). */
static int
get_strdef(struct rcol *d, struct rcol *g, struct wout *o)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *save = d->p;
	uint64_t code;
	if (get_varint(d, &code) != 0)
		return -1;
	if (code & 1) {
		d->p = save;
		return get_val(d, o);
	}
	uint64_t plen = code >> 1, len = plen + 36;
	size_t h = str_hdr_len(len);
	if (plen > (uint64_t)(d->e - d->p) || g->e - g->p < 16 ||
	    len > 65535 || (uint64_t)(o->e - o->p) < h + len)
		return -1;
	o->p[0] = h == 2 ? 0xd9 : 0xda;
	if (h == 2)
		o->p[1] = (uint8_t)len;
	else
		o->p[1] = (uint8_t)(len >> 8), o->p[2] = (uint8_t)len;
	o->p += h;
	memcpy(o->p, d->p, (size_t)plen);
	d->p += plen;
	o->p += plen;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o->p++ = '-';
		*o->p++ = (uint8_t)hex[g->p[i] >> 4];
		*o->p++ = (uint8_t)hex[g->p[i] & 15];
	}
	g->p += 16;
	return 0;
}

/*
 * Rebuilds an EVENT record of n elements, or with n = 0 of its local
 * shape's full count (2 + npos), taking its local shape from column S;
 * 0 or -1.
 */
static inline int
get_event(struct rcol *col, const uint32_t *shape, const uint32_t *npos,
    const uint32_t *base, uint64_t nshape, unsigned n, struct wout *o,
    struct runv *rv)
{
	uint8_t t[9];
	uint64_t code, l;
	if (get_code(&col[EVT_COL_S], &code) != 0 || (code & 1) ||
	    (l = (uint64_t)unzigzag(code >> 1) + col[EVT_COL_S].base,
	    l >= nshape))
		return -1;
	if (n == 0)
		n = 2 + npos[l];
	if (n < 2 || n > 15 || n - 2 > npos[l])
		return -1;
	size_t tn = mp_int_put(t, shape[l]);
	if ((size_t)(o->e - o->p) < 2 + tn)
		return -1;
	*o->p++ = (uint8_t)(0x90 | n);
	*o->p++ = KIND_EVENT;
	memcpy(o->p, t, tn);
	o->p += tn;
	struct rcol *c = &col[base[l]];
	for (unsigned i = 2; i < n; i++, c++)
		if ((c->time ? get_time(c, o, rv) : get_val(c, o)) != 0)
			return -1;
	return 0;
}

/* Rebuilds one record of class byte cls from the columns (form 2: MSG
 * and STATES item counts against items_ahead; a run class, a MSG and
 * its EVENTs); 0 or -1. */
static inline int
get_record(int form, struct rcol *col, const uint32_t *shape,
    const uint32_t *npos, const uint32_t *base, uint64_t nshape,
    unsigned cls, struct wout *o, struct runv *rv)
{
	if (cls == 0)
		return get_val(&col[EVT_COL_O], o);
	unsigned n = cls >> 4, k = cls & 15;
	if (k == KIND_EVENT)
		return get_event(col, shape, npos, base, nshape, n == 0 ? 1 : n,
		    o, rv);
	int run = k == KIND_RUN && form != EVT_COLFORM_1;
	if (run)
		n = 3, k = KIND_MSG;
	if (n < 2 || o->e - o->p < 2)
		return -1;
	*o->p++ = (uint8_t)(0x90 | n);
	*o->p++ = (uint8_t)k;
	int framed = k == KIND_MSG || (k >= KIND_STATES && k <= 10);
	for (unsigned i = 1; i < n; i++) {
		int rc;
		if (framed && i == 1)
			rc = get_val_add(&col[EVT_COL_RX], o, 0, &rv->r);
		else if ((k == KIND_MSG || k == KIND_STATES) && i == 2)
			rc = get_val_add(&col[EVT_COL_N], o,
			    form == EVT_COLFORM_1 ? 0 : (run ? cls >> 4 : 0) +
			    items_ahead(col[EVT_COL_K].p, col[EVT_COL_K].e),
			    NULL);
		else if (k == KIND_STRDEF && n == 2)
			rc = get_strdef(&col[EVT_COL_D], &col[EVT_COL_G], o);
		else
			rc = get_val(&col[EVT_COL_O], o);
		if (rc != 0)
			return -1;
	}
	for (unsigned i = 0; run && i < cls >> 4; i++)
		if (get_event(col, shape, npos, base, nshape, 0, o, rv) != 0)
			return -1;
	return 0;
}

/* What read_header fills in besides the columns: the shapes, their
 * first columns, and (form 2) their join tables and tuple numbers. */
struct cf_header {
	uint64_t reclen, nshape;
	uint32_t shape[EVT_COL_MAX_SHAPES], npos[EVT_COL_MAX_SHAPES];
	uint32_t base[EVT_COL_MAX_SHAPES];
	uint32_t jmask[EVT_COL_MAX_SHAPES], cur[EVT_COL_MAX_SHAPES];
	uint32_t tmask[EVT_COL_MAX_SHAPES];
	uint64_t tup[EVT_COL_MAX_TUPVALS];
};

/*
 * Reads the join tables of form 2 (after the shape list) into x->tup and
 * makes the joined element columns read from them.  0, or -1 with *why
 * set.
 */
static int
read_joins(struct rcol *h, struct cf_header *x, struct rcol *col,
    const char **why)
{
	uint32_t used = 0;
	for (uint64_t l = 0; l < x->nshape; l++) {
		if (x->jmask[l] == 0)
			continue;
		uint64_t ntup;
		uint32_t nj = (uint32_t)__builtin_popcount(x->jmask[l]);
		if (get_varint(h, &ntup) != 0 || ntup == 0 ||
		    ntup > EVT_COL_MAX_TUPLES ||
		    ntup * nj > EVT_COL_MAX_TUPVALS - used) {
			*why = "columnar block: bad join table size";
			return -1;
		}
		for (uint64_t i = 0; i < ntup * nj; i++)
			if (get_varint(h, &x->tup[used + i]) != 0 ||
			    x->tup[used + i] >= ((uint64_t)1 << 63)) {
				*why = "columnar block: bad join table value";
				return -1;
			}
		x->cur[l] = 0;
		uint32_t slot = 0;
		for (uint32_t j = 0; j < x->npos[l]; j++) {
			if (!(x->jmask[l] >> j & 1))
				continue;
			struct rcol *c = &col[x->base[l] + j];
			c->w = slot == 0 ? JOIN_FIRST : JOIN_REST;
			c->tup = &x->tup[used];
			c->cur = &x->cur[l];
			c->ntup = (uint32_t)ntup;
			c->nj = nj;
			c->slot = slot++;
		}
		used += (uint32_t)ntup * nj;
	}
	return 0;
}

/* Reads the columnar form's header: reclen, shapes, (form 2) joins,
 * column bounds.  Returns the number of columns, or -1 with *why set. */
static long
read_header(int form, struct rcol *h, size_t max, struct cf_header *x,
    struct rcol *col, const char **why)
{
	uint64_t *reclen = &x->reclen, *nshape = &x->nshape;
	uint32_t *shape = x->shape, *npos = x->npos, *base = x->base;
	if (get_varint(h, reclen) != 0 || *reclen > max) {
		*why = "columnar block: bad record length";
		return -1;
	}
	if (get_varint(h, nshape) != 0 || *nshape > EVT_COL_MAX_SHAPES) {
		*why = "columnar block: bad shape count";
		return -1;
	}
	long ncol = EVT_COL_FIXED;
	for (uint64_t i = 0; i < *nshape; i++) {
		uint64_t s, np;
		if (get_varint(h, &s) != 0 || s > UINT32_MAX ||
		    get_varint(h, &np) != 0 || np > EVT_COL_MAX_POS) {
			*why = "columnar block: bad shape list";
			return -1;
		}
		uint64_t jm = 0, tm = 0;
		if (form != EVT_COLFORM_1 && (get_varint(h, &jm) != 0 ||
		    jm >> np != 0 || get_varint(h, &tm) != 0 ||
		    tm >> np != 0)) {
			*why = "columnar block: bad join or time mask";
			return -1;
		}
		shape[i] = (uint32_t)s;
		npos[i] = (uint32_t)np;
		base[i] = (uint32_t)ncol;
		x->jmask[i] = (uint32_t)jm;
		x->tmask[i] = (uint32_t)tm;
		ncol += (long)np;
	}
	for (long i = 0; i < ncol; i++)
		col[i].base = col[i].w = col[i].head = 0, col[i].time = 0;
	for (uint64_t l = 0; l < *nshape; l++)
		for (uint32_t j = 0; j < npos[l]; j++)
			col[base[l] + j].time = (int)(x->tmask[l] >> j & 1);
	if (form != EVT_COLFORM_1 && read_joins(h, x, col, why) != 0)
		return -1;
	for (long i = 0; i < ncol; i++) {
		uint64_t w;
		if (!numeric((size_t)i) || col[i].w != 0)
			continue;
		if (get_varint(h, &col[i].base) != 0 ||
		    col[i].base > INT64_MAX || get_varint(h, &w) != 0 ||
		    w > 8 || (w > 0 && (get_varint(h, &col[i].head) != 0 ||
		    col[i].head > ((uint64_t)1 << 63)))) {
			*why = "columnar block: bad column base or width";
			return -1;
		}
		col[i].w = (unsigned)w;
	}
	uint64_t lens[EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	uint64_t total = 0;
	for (long i = 0; i < ncol; i++) {
		if (get_varint(h, &lens[i]) != 0 ||
		    lens[i] > (uint64_t)(h->e - h->p)) {
			*why = "columnar block: bad column length";
			return -1;
		}
		total += lens[i];
	}
	if (total != (uint64_t)(h->e - h->p)) {
		*why = "columnar block: column lengths do not add up";
		return -1;
	}
	const uint8_t *p = h->p;
	for (long i = 0; i < ncol; i++) {
		unsigned w = col[i].w >= JOIN_FIRST ? 0 : col[i].w;
		if (w > 0 && lens[i] % w != 0) {
			*why = "columnar block: planes of unequal length";
			return -1;
		}
		if (col[i].w == JOIN_REST && lens[i] != 0) {
			*why = "columnar block: bytes in a joined column";
			return -1;
		}
		col[i].stride = w > 0 ? lens[i] / w : 0;
		col[i].p = p;
		col[i].e = w > 0 ? p + col[i].stride : p + lens[i];
		p += lens[i];
	}
	return ncol;
}

/* Rebuilds the records of a columnar block; see colform.h. */
int
evt_colform_decode(int form, const uint8_t *colform, size_t len, size_t max,
    struct evt_buf *recs, const char **why)
{
	struct rcol h = {colform, colform + len, 0, 0, 0, 0, NULL, NULL, 0,
	    0, 0, 0};
	struct rcol col[EVT_COL_FIXED + EVT_COL_MAX_SHAPES * EVT_COL_MAX_POS];
	struct cf_header x;
	long ncol = read_header(form, &h, max, &x, col, why);
	if (ncol < 0)
		return EVT_ERR_CORRUPT;
	uint64_t reclen = x.reclen, nshape = x.nshape;
	const uint32_t *shape = x.shape, *npos = x.npos, *base = x.base;
	recs->len = 0;
	if (evt_buf_grow(recs, (size_t)reclen + 1) != 0)
		return EVT_ERR_NOMEM;
	struct wout o = {recs->p, recs->p + reclen};
	struct runv rv = {0, 0};
	struct rcol *k = &col[EVT_COL_K];
	while (k->p < k->e)
		if (get_record(form, col, shape, npos, base, nshape,
		    *k->p++, &o, &rv) != 0) {
			*why = "columnar block: a record does not rebuild";
			return EVT_ERR_CORRUPT;
		}
	if (o.p != o.e) {
		*why = "columnar block: records shorter than stated";
		return EVT_ERR_CORRUPT;
	}
	for (long i = 0; i < ncol; i++)
		if (col[i].p != col[i].e || col[i].head != 0) {
			*why = "columnar block: bytes left in a column";
			return EVT_ERR_CORRUPT;
		}
	recs->len = (size_t)reclen;
	return 0;
}

/* Whether a GUID column can be packed; see colform.h. */
int
evt_guidcol_packable(const uint8_t *g, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, g += 16)
		if ((g[6] & 0xf0) != 0x40 || (g[8] & 0xc0) != 0x80)
			return 0;
	return 1;
}

/* 128-bit arithmetic for the packed column (gcc and clang). */
__extension__ typedef unsigned __int128 u128;

/* Reads 16 bytes big-endian. */
static inline u128
be128(const uint8_t *p)
{
	return (u128)get_be64(p) << 64 | get_be64(p + 8);
}

/* Writes v as 16 bytes big-endian. */
static inline void
put_be128(uint8_t *p, u128 v)
{
	put_be(p, (uint64_t)(v >> 64), 8);
	put_be(p + 8, (uint64_t)v, 8);
}

/* Packs a GUID column; see colform.h.  An entry's 122 bits are its
 * bytes 0..5, the low nibble of byte 6, byte 7, the low 6 bits of byte 8
 * and bytes 9..15, most significant bit first; entry i starts at bit
 * 122 * i, an even bit, so its 122 bits left-aligned in 128 (6 zero bits
 * at the bottom) always fit the 16 bytes from its first byte. */
void
evt_guidcol_pack(const uint8_t *g, uint32_t n, uint8_t *out)
{
	memset(out, 0, (size_t)evt_guidcol_len(n, 1));
	for (uint32_t i = 0; i < n; i++, g += 16) {
		u128 v = be128(g);
		u128 hi = v >> 80, lo = v & (((u128)1 << 62) - 1);
		/* hi: bytes 0..5; then bits 64..75 (byte 6 low nibble,
		 * byte 7), then the 62 bits after the variant. */
		u128 x = (hi << 74 | ((v >> 64) & 0xfff) << 62 | lo) << 6;
		uint64_t off = (uint64_t)i * EVT_GUID_PACKED_BITS;
		uint8_t *o = out + off / 8;
		x = x >> off % 8 | be128(o);
		put_be128(o, x);
	}
}

/* Unpacks a GUID column; see colform.h. */
void
evt_guidcol_unpack(const uint8_t *p, uint32_t n, uint8_t *out)
{
	for (uint32_t i = 0; i < n; i++, out += 16) {
		uint64_t off = (uint64_t)i * EVT_GUID_PACKED_BITS;
		u128 x = (be128(p + off / 8) << (off % 8)) >> 6;
		u128 v = (x >> 74) << 80 | (u128)0x4 << 76 |
		    ((x >> 62) & 0xfff) << 64 | (u128)0x2 << 62 |
		    (x & (((u128)1 << 62) - 1));
		put_be128(out, v);
	}
}
