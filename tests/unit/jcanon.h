/*
 * jcanon.h: the reference form of a JSON text for the losslessness tests
 * (unit tests and fuzz targets): compact, strings unescaped and written
 * again by evt_json_write_string, numbers and literals exactly as they
 * came; lone surrogate escapes, which the codec keeps, are accepted by
 * parsers with lone_surrogates set and kept as WTF-8.  Two texts are equal under the record codec's contract exactly when
 * their reference forms are equal.  Aborts on out of memory.
 */
#ifndef EVT_JCANON_H
#define EVT_JCANON_H

#include <stdlib.h>

#include "evtape/buf.h"
#include "evtape/json.h"

/* Appends bytes or aborts. */
static inline void
jc_put(struct evt_buf *out, const void *p, size_t n)
{
	if (evt_buf_put(out, p, n) != 0)
		abort();
}

/* Appends the reference form of token i of buf (parsed into p) to out;
 * returns the index of the token after its subtree. */
static inline uint32_t
jcanon(const struct evt_jparser *p, const char *buf, uint32_t i,
    struct evt_buf *out)
{
	const struct evt_jtok *t = &p->tok[i];
	switch (t->type) {
	case EVT_J_STRING: {
		/* Unescape in place at the end of out, then write it. */
		if (evt_buf_grow(out, t->len + evt_json_string_max(t->len)) != 0)
			abort();
		char *tmp = (char *)out->p + out->len + evt_json_string_max(t->len);
		int n = evt_json_unescape_wtf8(buf + t->off, t->len, tmp);
		if (n < 0 || (size_t)n > t->len)
			abort();
		out->len += evt_json_write_string((char *)out->p + out->len,
		    tmp, (size_t)n);
		return i + 1;
	}
	case EVT_J_ARRAY:
	case EVT_J_OBJECT: {
		int obj = t->type == EVT_J_OBJECT;
		uint32_t n = obj ? 2 * t->size : t->size, j = i + 1;
		jc_put(out, obj ? "{" : "[", 1);
		for (uint32_t m = 0; m < n; m++) {
			if (m > 0)
				jc_put(out, obj && m % 2 == 1 ? ":" : ",", 1);
			j = jcanon(p, buf, j, out);
		}
		jc_put(out, obj ? "}" : "]", 1);
		return j;
	}
	default:
		jc_put(out, buf + t->off, t->len);
		return i + 1;
	}
}

/* Nesting depth of the token subtree at i (a scalar is 0). */
static inline uint32_t
jdepth(const struct evt_jparser *p, uint32_t i)
{
	uint32_t maxd = 0, n = 0;
	const struct evt_jtok *root = &p->tok[i];
	uint32_t *stack = malloc(sizeof *stack * (root->next - i + 1));
	if (stack == NULL)
		abort();
	for (uint32_t k = i; k < root->next; k++) {
		while (n > 0 && stack[n - 1] <= k)
			n--;
		if (p->tok[k].type == EVT_J_ARRAY ||
		    p->tok[k].type == EVT_J_OBJECT) {
			stack[n++] = p->tok[k].next;
			if (n > maxd)
				maxd = n;
		}
	}
	free(stack);
	return maxd;
}

#endif
