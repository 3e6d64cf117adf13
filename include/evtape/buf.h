/*
 * buf.h: a growable byte buffer, the one output type of every encoder.
 * Ownership: the struct owns p (malloc); evt_buf_free releases it.
 */
#ifndef EVTAPE_BUF_H
#define EVTAPE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct evt_buf {
	uint8_t *p;
	size_t len, cap;
};

/*
 * Zeroed memory for a table of n bytes that is filled at once (a lookup's
 * listings and index tables over 10,000 segments): from 64 KiB up it is
 * mapped with MAP_POPULATE, one call instead of a page fault per 4 KiB
 * (faults were a third of such a lookup's time).  NULL when out of
 * memory.  Free with evt_table_free (NULL is fine).
 */
void *evt_table_alloc(size_t n);
void evt_table_free(void *p);

/* Writes the decimal text of v at p (at most 20 bytes; no NUL); returns
 * the byte after it.  For hot paths that snprintf would slow (the event
 * generator, NATS headers). */
char *evt_put_u64(char *p, uint64_t v);

/* The same for a signed value (at most 20 bytes with the '-'). */
char *evt_put_i64(char *p, int64_t v);

/* Makes room for n more bytes; returns 0 or EVT_ERR_NOMEM (-900). */
int evt_buf_grow(struct evt_buf *b, size_t n);

/* Frees the buffer's memory and zeroes it. */
void evt_buf_free(struct evt_buf *b);

/* Appends n bytes; returns 0 or EVT_ERR_NOMEM. */
static inline int
evt_buf_put(struct evt_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n && evt_buf_grow(b, n) != 0)
		return -900;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Appends one byte; returns 0 or EVT_ERR_NOMEM. */
static inline int
evt_buf_putc(struct evt_buf *b, int c)
{
	if (b->cap == b->len && evt_buf_grow(b, 1) != 0)
		return -900;
	b->p[b->len++] = (uint8_t)c;
	return 0;
}

#endif
