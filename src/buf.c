/*
 * buf.c: growth of struct evt_buf (see buf.h).
 */
#include <stdlib.h>
#include <sys/mman.h>

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

/* The bytes before a table: its mapping's length, 0 when malloc'ed. */
#define TABLE_HDR 16
#define TABLE_MAP_MIN (64u << 10)

/* Allocates a zeroed table; see buf.h. */
void *
evt_table_alloc(size_t n)
{
	if (n > SIZE_MAX - TABLE_HDR)
		return NULL;
	size_t len = n + TABLE_HDR;
	uint8_t *p;
	if (len < TABLE_MAP_MIN) {
		if ((p = calloc(1, len)) == NULL)
			return NULL;
		len = 0;
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	}
	memcpy(p, &len, sizeof len);
	return p + TABLE_HDR;
}

/* Frees a table of evt_table_alloc. */
void
evt_table_free(void *q)
{
	if (q == NULL)
		return;
	uint8_t *p = (uint8_t *)q - TABLE_HDR;
	size_t len;
	memcpy(&len, p, sizeof len);
	if (len == 0)
		free(p);
	else
		munmap(p, len);
}

/* Writes v in decimal; see buf.h. */
char *
evt_put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/* Writes signed v in decimal; see buf.h. */
char *
evt_put_i64(char *p, int64_t v)
{
	if (v >= 0)
		return evt_put_u64(p, (uint64_t)v);
	*p++ = '-';
	return evt_put_u64(p, (uint64_t)0 - (uint64_t)v);
}
