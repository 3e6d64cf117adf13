/*
 * fuzz_json.c: libFuzzer target for the JSON tokenizer and writer.
 *
 * Every input is checked three ways:
 *   1. against a slow, recursive, byte-at-a-time reference validator in this
 *      file, which must agree on accept/reject, the error code, err_off and
 *      the token count (so the SWAR fast paths cannot drift from the rules);
 *   2. on success, structural invariants of the token array: bounds, document
 *      order, `next` links, container sizes, flags, integer round trips,
 *      and the depth bound (max_depth = D parses, D - 1 is EVT_ERR_DEPTH);
 *   3. on success, the token tree is re-serialised as compact JSON through
 *      evt_json_unescape() (compared with a slow reference decoder) and
 *      evt_json_write_string(); that text must be no longer than the input,
 *      parse to the same shape, and re-serialise to the very same bytes.
 * A parse with lone_surrogates set (the record encoder's) must agree with
 * the strict one where that accepts, and its WTF-8 strings must survive
 * evt_json_write_string() and a second parse.
 * The raw input also goes to evt_json_int() (checked against digit-string
 * limits), evt_json_unescape() (must not overrun), and, when it is valid
 * UTF-8, through evt_json_write_string() and back.  Any violation abort()s.  Plain C11 + the library, so tests/fuzz/driver.c
 * can replay the corpus with gcc in `make test`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REF_DEPTH 64

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_json: %s:%d: %s\n",       \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

/* State of the reference validator. */
struct ref {
	const uint8_t *s;
	size_t len;
	size_t i;
	uint32_t maxd;
	uint32_t ntok;
	int rc;
	size_t off;
};

/*
 * Decodes the UTF-8 sequence at s[at] the long way (collect the bits, then
 * check minimal length, range and surrogates); returns its length or 0.
 */
static size_t
ref_utf8(const uint8_t *s, size_t len, size_t at)
{
	uint32_t cp, min;
	size_t n, k;
	uint8_t c = s[at];

	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		n = 2;
		cp = c & 0x1F;
		min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		cp = c & 0x0F;
		min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else
		return 0;
	for (k = 1; k < n; k++) {
		if (at + k >= len || (s[at + k] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[at + k] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* Records the first error; always returns -1 so callers can `return`. */
static int
ref_fail(struct ref *r, size_t at, int rc)
{
	r->rc = rc;
	r->off = at;
	return -1;
}

/* Fails at an unexpected byte (or the end): UTF-8 or syntax error. */
static int
ref_unexpected(struct ref *r, size_t at)
{
	if (at < r->len && r->s[at] >= 0x80 && ref_utf8(r->s, r->len, at) == 0)
		return ref_fail(r, at, EVT_ERR_UTF8);
	return ref_fail(r, at, EVT_ERR_JSON);
}

/* Skips the four JSON whitespace bytes. */
static void
ref_ws(struct ref *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' ||
	    r->s[r->i] == '\n' || r->s[r->i] == '\r'))
		r->i++;
}

/* Tells whether r->s[at] is an ASCII digit (at < len). */
static int
ref_digit(const struct ref *r, size_t at)
{
	return at < r->len && r->s[at] >= '0' && r->s[at] <= '9';
}

/* Reads four hex digits into *cp, failing at the first bad one. */
static int
ref_hex4(struct ref *r, uint32_t *cp)
{
	uint32_t v = 0;
	int k;
	uint8_t c;

	for (k = 0; k < 4; k++) {
		if (r->i >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		c = r->s[r->i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (uint32_t)(c - 'A' + 10);
		else
			return ref_unexpected(r, r->i);
		r->i++;
	}
	*cp = v;
	return 0;
}

/* Validates a string starting at its opening quote. */
static int
ref_string(struct ref *r)
{
	size_t bs, n;
	uint32_t hi, lo;
	uint8_t c;

	r->i++;
	for (;;) {
		if (r->i >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		c = r->s[r->i];
		if (c == '"') {
			r->i++;
			return 0;
		}
		if (c < 0x20)
			return ref_fail(r, r->i, EVT_ERR_JSON);
		if (c >= 0x80) {
			if ((n = ref_utf8(r->s, r->len, r->i)) == 0)
				return ref_fail(r, r->i, EVT_ERR_UTF8);
			r->i += n;
			continue;
		}
		if (c != '\\') {
			r->i++;
			continue;
		}
		bs = r->i++;
		if (r->i >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		c = r->s[r->i];
		if (strchr("\"\\/bfnrt", c) != NULL && c != 0) {
			r->i++;
			continue;
		}
		if (c != 'u')
			return ref_unexpected(r, r->i);
		r->i++;
		if (ref_hex4(r, &hi) != 0)
			return -1;
		if (hi >= 0xDC00 && hi <= 0xDFFF)
			return ref_fail(r, bs, EVT_ERR_JSON);
		if (hi < 0xD800 || hi > 0xDBFF)
			continue;
		if (r->i >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		if (r->s[r->i] != '\\')
			return ref_fail(r, bs, EVT_ERR_JSON);
		if (r->i + 1 >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		if (r->s[r->i + 1] != 'u')
			return ref_fail(r, bs, EVT_ERR_JSON);
		r->i += 2;
		if (ref_hex4(r, &lo) != 0)
			return -1;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return ref_fail(r, bs, EVT_ERR_JSON);
	}
}

/* Validates a number per the RFC 8259 grammar. */
static int
ref_number(struct ref *r)
{
	if (r->s[r->i] == '-')
		r->i++;
	if (!ref_digit(r, r->i))
		return ref_unexpected(r, r->i);
	if (r->s[r->i++] != '0') {
		while (ref_digit(r, r->i))
			r->i++;
	}
	if (r->i < r->len && r->s[r->i] == '.') {
		r->i++;
		if (!ref_digit(r, r->i))
			return ref_unexpected(r, r->i);
		while (ref_digit(r, r->i))
			r->i++;
	}
	if (r->i < r->len && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		r->i++;
		if (r->i < r->len && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (!ref_digit(r, r->i))
			return ref_unexpected(r, r->i);
		while (ref_digit(r, r->i))
			r->i++;
	}
	return 0;
}

/* Validates one value (recursively) with depth containers already open. */
static int
ref_value(struct ref *r, uint32_t depth)
{
	const char *lit;
	size_t k;
	uint8_t c, close;

	ref_ws(r);
	if (r->i >= r->len)
		return ref_fail(r, r->len, EVT_ERR_JSON);
	r->ntok++;
	c = r->s[r->i];
	if (c == '"')
		return ref_string(r);
	if (c == '-' || (c >= '0' && c <= '9'))
		return ref_number(r);
	if (c == 't' || c == 'f' || c == 'n') {
		lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
		for (k = 0; lit[k] != '\0'; k++, r->i++) {
			if (r->i >= r->len || r->s[r->i] != (uint8_t)lit[k])
				return ref_unexpected(r, r->i);
		}
		return 0;
	}
	if (c != '[' && c != '{')
		return ref_unexpected(r, r->i);
	if (depth == r->maxd)
		return ref_fail(r, r->i, EVT_ERR_DEPTH);
	close = c == '[' ? ']' : '}';
	r->i++;
	ref_ws(r);
	if (r->i < r->len && r->s[r->i] == close) {
		r->i++;
		return 0;
	}
	for (;;) {
		if (c == '{') {
			ref_ws(r);
			if (r->i >= r->len || r->s[r->i] != '"')
				return ref_unexpected(r, r->i);
			r->ntok++;
			if (ref_string(r) != 0)
				return -1;
			ref_ws(r);
			if (r->i >= r->len || r->s[r->i] != ':')
				return ref_unexpected(r, r->i);
			r->i++;
		}
		if (ref_value(r, depth + 1) != 0)
			return -1;
		ref_ws(r);
		if (r->i >= r->len)
			return ref_fail(r, r->len, EVT_ERR_JSON);
		if (r->s[r->i] == close) {
			r->i++;
			return 0;
		}
		if (r->s[r->i] != ',')
			return ref_unexpected(r, r->i);
		r->i++;
	}
}

/* Runs the reference validator; returns the token count or the error. */
static int
ref_parse(struct ref *r, const uint8_t *s, size_t len)
{
	memset(r, 0, sizeof *r);
	r->s = s;
	r->len = len;
	r->maxd = REF_DEPTH;
	if (ref_value(r, 0) != 0)
		return r->rc;
	ref_ws(r);
	if (r->i != len) {
		ref_unexpected(r, r->i);
		return r->rc;
	}
	return (int)r->ntok;
}

/* Tells whether s[0..len) is JSON whitespace only. */
static int
all_ws(const uint8_t *s, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++) {
		if (s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
			return 0;
	}
	return 1;
}

/*
 * Tells whether canonical integer text fits evt_json_int()'s range, by
 * comparing digit strings with the limits (no arithmetic to share bugs).
 */
static int
int_fits(const uint8_t *s, size_t len)
{
	static const char umax[] = "18446744073709551615";
	static const char nmax[] = "9223372036854775808";
	int neg = s[0] == '-';
	const char *lim = neg ? nmax : umax;
	size_t nd = len - (size_t)neg, nl = strlen(lim);

	if (neg && nd == 1 && s[1] == '0')
		return 0; /* "-0" */
	if (nd != nl)
		return nd < nl;
	return memcmp(s + neg, lim, nl) <= 0;
}

/* Checks evt_json_int on text s: it fits exactly when it should, and prints back. */
static void
check_int(const uint8_t *s, size_t len, int canonical)
{
	char buf[24], *o = buf + sizeof buf;
	uint64_t mag = 0;
	int neg = 0, ok;

	ok = evt_json_int((const char *)s, len, &neg, &mag);
	CHECK(ok == (canonical && int_fits(s, len)));
	if (!ok)
		return;
	CHECK(!neg || mag <= (uint64_t)1 << 63);
	do {
		*--o = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	if (neg)
		*--o = '-';
	CHECK((size_t)(buf + sizeof buf - o) == len);
	CHECK(memcmp(o, s, len) == 0);
}

/* Reads four hex digits the tokenizer has already validated. */
static uint32_t
ref_hexval(const uint8_t *s)
{
	uint32_t v = 0;
	int k;

	for (k = 0; k < 4; k++)
		v = v * 16 + (uint32_t)(s[k] <= '9' ? s[k] - '0' :
		    (s[k] | 0x20) - 'a' + 10);
	return v;
}

/*
 * Decodes a validated string body the slow way, for comparison with
 * evt_json_unescape(); returns the decoded length.
 */
static size_t
ref_decode(const uint8_t *s, size_t len, uint8_t *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t i = 0, o = 0;
	uint32_t cp;

	while (i < len) {
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		if (s[i + 1] != 'u') {
			out[o++] = (uint8_t)to[strchr(from, s[i + 1]) - from];
			i += 2;
			continue;
		}
		cp = ref_hexval(s + i + 2);
		i += 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			cp = 0x10000 + (cp - 0xD800) * 0x400 +
			    (ref_hexval(s + i + 2) - 0xDC00);
			i += 6;
		}
		if (cp < 0x80)
			out[o++] = (uint8_t)cp;
		else if (cp < 0x800) {
			out[o++] = (uint8_t)(0xC0 + cp / 64);
			out[o++] = (uint8_t)(0x80 + cp % 64);
		} else if (cp < 0x10000) {
			out[o++] = (uint8_t)(0xE0 + cp / 4096);
			out[o++] = (uint8_t)(0x80 + cp / 64 % 64);
			out[o++] = (uint8_t)(0x80 + cp % 64);
		} else {
			out[o++] = (uint8_t)(0xF0 + cp / 262144);
			out[o++] = (uint8_t)(0x80 + cp / 4096 % 64);
			out[o++] = (uint8_t)(0x80 + cp / 64 % 64);
			out[o++] = (uint8_t)(0x80 + cp % 64);
		}
	}
	return o;
}

/*
 * Checks the token array of a successful parse of s[0..len) and returns the
 * maximum nesting depth.
 */
static uint32_t
check_tokens(const struct evt_jparser *p, int rc, const uint8_t *s,
    size_t len)
{
	const struct evt_jtok *t = p->tok, *c;
	uint32_t n = (uint32_t)rc, k, j, m, nchild, maxd = 0;
	uint32_t *open_end, nopen = 0;
	size_t lo, end, prev_end, k2;
	int canonical;

	CHECK(rc >= 1 && p->ntok == n && t[0].next == n);
	/* The stack of enclosing containers' `next`, to compute depth. */
	open_end = malloc(sizeof *open_end * (n + 1));
	CHECK(open_end != NULL);
	for (k = 0; k < n; k++) {
		const struct evt_jtok *x = &t[k];

		CHECK(x->type <= EVT_J_OBJECT);
		CHECK(x->next > k && x->next <= n);
		CHECK((size_t)x->off + x->len <= len);
		CHECK(k == 0 || x->off > t[k - 1].off);
		while (nopen > 0 && open_end[nopen - 1] <= k)
			nopen--;
		switch (x->type) {
		case EVT_J_NULL:
		case EVT_J_TRUE:
		case EVT_J_FALSE:
			lo = x->type == EVT_J_FALSE ? 5 : 4;
			CHECK(x->len == lo && x->flags == 0 && x->size == 0);
			CHECK(memcmp(s + x->off, x->type == EVT_J_NULL ? "null" :
			    x->type == EVT_J_TRUE ? "true" : "false", lo) == 0);
			CHECK(x->next == k + 1);
			break;
		case EVT_J_NUMBER:
			CHECK(x->len >= 1 && x->size == 0 && x->next == k + 1);
			CHECK((x->flags & ~EVT_JF_INT) == 0);
			canonical = 1;
			for (k2 = 0; k2 < x->len; k2++) {
				uint8_t b = s[x->off + k2];

				CHECK((b >= '0' && b <= '9') || b == '-' ||
				    b == '+' || b == '.' || b == 'e' || b == 'E');
				if (b == '.' || b == 'e' || b == 'E')
					canonical = 0;
			}
			CHECK(((x->flags & EVT_JF_INT) != 0) == canonical);
			check_int(s + x->off, x->len, canonical);
			break;
		case EVT_J_STRING:
			CHECK(x->off >= 1 && s[x->off - 1] == '"');
			CHECK((size_t)x->off + x->len < len &&
			    s[x->off + x->len] == '"');
			CHECK(x->size == 0 && x->next == k + 1);
			CHECK((x->flags & ~EVT_JF_ESCAPED) == 0);
			CHECK(((x->flags & EVT_JF_ESCAPED) != 0) ==
			    (memchr(s + x->off, '\\', x->len) != NULL));
			break;
		default:
			CHECK(x->len >= 2 && x->flags == 0);
			CHECK(s[x->off] == (x->type == EVT_J_ARRAY ? '[' : '{'));
			CHECK(s[x->off + x->len - 1] ==
			    (x->type == EVT_J_ARRAY ? ']' : '}'));
			if (x->size == 0) {
				CHECK(x->next == k + 1);
				CHECK(all_ws(s + x->off + 1, x->len - 2));
			}
			/* Walk the children through their `next` links. */
			nchild = x->type == EVT_J_OBJECT ? 2 * x->size : x->size;
			CHECK(nchild <= n);
			prev_end = x->off + 1;
			end = (size_t)x->off + x->len - 1;
			for (j = k + 1, m = 0; m < nchild; m++) {
				CHECK(j < x->next);
				c = &t[j];
				if (x->type == EVT_J_OBJECT && m % 2 == 0)
					CHECK(c->type == EVT_J_STRING);
				lo = c->type == EVT_J_STRING ? c->off - 1 :
				    c->off;
				CHECK(lo >= prev_end);
				prev_end = c->type == EVT_J_STRING ?
				    (size_t)c->off + c->len + 1 :
				    (size_t)c->off + c->len;
				CHECK(prev_end <= end);
				j = c->next;
			}
			CHECK(j == x->next);
			open_end[nopen++] = x->next;
			if (nopen > maxd)
				maxd = nopen;
			break;
		}
	}
	/* Only whitespace around the root value. */
	lo = t[0].type == EVT_J_STRING ? t[0].off - 1 : t[0].off;
	end = t[0].type == EVT_J_STRING ? (size_t)t[0].off + t[0].len + 1 :
	    (size_t)t[0].off + t[0].len;
	CHECK(all_ws(s, lo) && all_ws(s + end, len - end));
	free(open_end);
	return maxd;
}

/* Output buffer for serialisation. */
struct out {
	char *buf;
	size_t len;
	size_t cap;
	char *tmp; /* decoded string scratch */
	uint8_t *ref; /* reference-decoded string scratch */
};

/* Appends n bytes (the buffer was sized for the worst case). */
static void
out_put(struct out *o, const void *b, size_t n)
{
	CHECK(o->len + n <= o->cap);
	memcpy(o->buf + o->len, b, n);
	o->len += n;
}

/* Serialises token k of s as compact JSON; returns the index after it. */
static uint32_t
serialise(const struct evt_jparser *p, const uint8_t *s, uint32_t k,
    struct out *o)
{
	const struct evt_jtok *x = &p->tok[k];
	uint32_t j, m, nchild;
	int dl;

	switch (x->type) {
	case EVT_J_STRING:
		dl = evt_json_unescape((const char *)s + x->off, x->len, o->tmp);
		CHECK(dl >= 0 && (size_t)dl <= x->len);
		CHECK(ref_decode(s + x->off, x->len, o->ref) == (size_t)dl);
		CHECK(memcmp(o->ref, o->tmp, (size_t)dl) == 0);
		CHECK(o->len + evt_json_string_max((size_t)dl) <= o->cap);
		o->len += evt_json_write_string(o->buf + o->len, o->tmp,
		    (size_t)dl);
		return k + 1;
	case EVT_J_ARRAY:
	case EVT_J_OBJECT:
		out_put(o, x->type == EVT_J_ARRAY ? "[" : "{", 1);
		nchild = x->type == EVT_J_OBJECT ? 2 * x->size : x->size;
		for (j = k + 1, m = 0; m < nchild; m++) {
			if (m > 0)
				out_put(o, x->type == EVT_J_OBJECT &&
				    m % 2 == 1 ? ":" : ",", 1);
			j = serialise(p, s, j, o);
		}
		out_put(o, x->type == EVT_J_ARRAY ? "]" : "}", 1);
		return j;
	default:
		out_put(o, s + x->off, x->len);
		return k + 1;
	}
}

/* Checks the writer on arbitrary bytes that happen to be valid UTF-8. */
static void
check_writer(const uint8_t *data, size_t size)
{
	struct evt_jparser p;
	char *lit, *back;
	size_t k, n, nesc = 0;
	int rc;

	for (k = 0; k < size; k += n) {
		if ((n = ref_utf8(data, size, k)) == 0)
			return;
		if (data[k] < 0x20 || data[k] == '"' || data[k] == '\\')
			nesc++;
	}
	lit = malloc(evt_json_string_max(size));
	back = malloc(size + 1);
	CHECK(lit != NULL && back != NULL);
	n = evt_json_write_string(lit, (const char *)data, size);
	CHECK(n <= evt_json_string_max(size) && n >= size + 2 + nesc);
	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, lit, n);
	CHECK(rc == 1 && p.tok[0].type == EVT_J_STRING);
	CHECK(p.tok[0].off == 1 && p.tok[0].len == n - 2);
	CHECK(((p.tok[0].flags & EVT_JF_ESCAPED) != 0) == (nesc != 0));
	rc = evt_json_unescape(lit + 1, n - 2, back);
	CHECK(rc == (int)size && memcmp(back, data, size) == 0);
	evt_json_free(&p);
	free(lit);
	free(back);
}

/* Tells whether s[0..len) matches -?(0|[1-9][0-9]*). */
static int
canonical_int(const uint8_t *s, size_t len)
{
	size_t i = len > 0 && s[0] == '-';

	if (i == len || (s[i] == '0' && len != i + 1))
		return 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
	}
	return 1;
}

/*
 * Parses with lone_surrogates set, as the record encoder does: accepted
 * whenever the strict parse is, with the same tokens; and every string
 * decodes (evt_json_unescape_wtf8) to bytes that evt_json_write_string
 * writes as a literal which parses and decodes back to the same bytes.
 */
static void
check_wtf8(const uint8_t *data, size_t size, int strict_rc)
{
	struct evt_jparser p, q;
	evt_json_init(&p, 0);
	evt_json_init(&q, 0);
	p.lone_surrogates = q.lone_surrogates = 1;
	int rc = evt_json_parse(&p, (const char *)data, size);
	CHECK(strict_rc < 0 || rc == strict_rc);
	for (uint32_t k = 0; rc > 0 && k < p.ntok; k++) {
		const struct evt_jtok *t = &p.tok[k];
		if (t->type != EVT_J_STRING)
			continue;
		char *a = malloc(t->len + 1), *w = malloc(6 * t->len + 3);
		char *b = malloc(6 * t->len + 3);
		CHECK(a != NULL && w != NULL && b != NULL);
		int n = evt_json_unescape_wtf8((const char *)data + t->off,
		    t->len, a);
		CHECK(n >= 0 && (size_t)n <= t->len);
		size_t wl = evt_json_write_string(w, a, (size_t)n);
		CHECK(evt_json_parse(&q, w, wl) == 1);
		int m = evt_json_unescape_wtf8(w + 1, (uint32_t)(wl - 2), b);
		CHECK(m == n && memcmp(a, b, (size_t)n) == 0);
		free(a);
		free(w);
		free(b);
	}
	evt_json_free(&p);
	evt_json_free(&q);
}

/* The fuzz entry point: see the top of the file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_jparser p, q;
	struct ref r;
	struct out o, o2;
	uint32_t maxd, k;
	int rc, rc2, rrc, neg;
	uint64_t mag;
	char *scratch;
	const char *in = (const char *)data;

	/* Raw-input checks of the helpers that take unvalidated text. */
	if (evt_json_int(in, size, &neg, &mag))
		check_int(data, size, canonical_int(data, size));
	else
		CHECK(!canonical_int(data, size) || !int_fits(data, size));
	scratch = malloc(size + 1);
	CHECK(scratch != NULL);
	rc = evt_json_unescape(in, size, scratch);
	CHECK(rc == EVT_ERR_JSON || (rc >= 0 && (size_t)rc <= size));
	free(scratch);
	check_writer(data, size);

	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, in, size);
	rrc = ref_parse(&r, data, size);
	if (rc != rrc || (rc < 0 && p.err_off != r.off))
		fprintf(stderr, "fuzz_json: parse %d at %zu, reference %d "
		    "at %zu\n", rc, p.err_off, rrc, r.off);
	CHECK(rc == rrc);
	check_wtf8(data, size, rc);
	if (rc < 0) {
		CHECK(p.err_off == r.off && p.err_off <= size && p.ntok == 0);
		CHECK(rc == EVT_ERR_JSON || rc == EVT_ERR_UTF8 ||
		    rc == EVT_ERR_DEPTH);
		evt_json_free(&p);
		return 0;
	}
	maxd = check_tokens(&p, rc, data, size);
	CHECK(maxd <= REF_DEPTH);

	/* Compact re-serialisation, reparse, and a second serialisation. */
	memset(&o, 0, sizeof o);
	o.cap = 6 * size + 16;
	o.buf = malloc(o.cap);
	o.tmp = malloc(size + 1);
	o.ref = malloc(size + 1);
	CHECK(o.buf != NULL && o.tmp != NULL && o.ref != NULL);
	CHECK(serialise(&p, data, 0, &o) == p.ntok);
	CHECK(o.len <= size); /* compact form and escapes never grow */

	evt_json_init(&q, 0);
	rc2 = evt_json_parse(&q, o.buf, o.len);
	CHECK(rc2 == rc);
	for (k = 0; k < p.ntok; k++) {
		const struct evt_jtok *a = &p.tok[k], *b = &q.tok[k];

		CHECK(a->type == b->type && a->size == b->size &&
		    a->next == b->next);
		CHECK((a->flags & EVT_JF_INT) == (b->flags & EVT_JF_INT));
		if (a->type == EVT_J_NUMBER)
			CHECK(a->len == b->len && memcmp(data + a->off,
			    o.buf + b->off, a->len) == 0);
	}
	CHECK(check_tokens(&q, rc2, (const uint8_t *)o.buf, o.len) == maxd);
	memset(&o2, 0, sizeof o2);
	o2.cap = o.cap;
	o2.buf = malloc(o2.cap);
	o2.tmp = malloc(o.len + 1);
	o2.ref = malloc(o.len + 1);
	CHECK(o2.buf != NULL && o2.tmp != NULL && o2.ref != NULL);
	CHECK(serialise(&q, (const uint8_t *)o.buf, 0, &o2) == q.ntok);
	CHECK(o2.len == o.len && memcmp(o2.buf, o.buf, o.len) == 0);

	/* The depth bound is exact; p's token array is reused here. */
	if (maxd >= 1) {
		p.max_depth = maxd;
		CHECK(evt_json_parse(&p, in, size) == rc);
		CHECK(check_tokens(&p, rc, data, size) == maxd);
	}
	if (maxd >= 2) {
		p.max_depth = maxd - 1;
		CHECK(evt_json_parse(&p, in, size) == EVT_ERR_DEPTH);
		CHECK(p.ntok == 0 && p.err_off < size);
		CHECK(data[p.err_off] == '[' || data[p.err_off] == '{');
	}

	free(o.buf);
	free(o.tmp);
	free(o.ref);
	free(o2.buf);
	free(o2.tmp);
	free(o2.ref);
	evt_json_free(&q);
	evt_json_free(&p);
	return 0;
}
