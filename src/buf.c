/*
 * buf.c: growth of struct evt_buf (see buf.h).
 */
#include <stdlib.h>

#include "evtape/buf.h"
#include "evtape/err.h"

/* Makes room for n more bytes, doubling the capacity. */
int
evt_buf_grow(struct evt_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			return EVT_ERR_NOMEM;
		cap *= 2;
	}
	uint8_t *p = realloc(b->p, cap);
	if (p == NULL)
		return EVT_ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Frees the buffer. */
void
evt_buf_free(struct evt_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
