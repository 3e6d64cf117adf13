/*
 * json.c: a strict JSON tokenizer (RFC 8259, UTF-8) and a JSON string writer.
 *
 * Data flow: evt_json_parse() makes one left-to-right pass over the input and
 * appends one struct evt_jtok per value to p->tok; nothing is copied and no
 * string is decoded (evt_json_unescape() does that on demand).  The nesting
 * stack is threaded through the token array itself: while a container is
 * open, its `next` field holds the index of the enclosing container, and it
 * is overwritten with the real value when the container closes.  So there is
 * no recursion, no allocation besides the token array, and max_depth only
 * bounds a counter.
 *
 * Speed: string bodies, which are most of the bytes in gateway messages
 * (GUIDs, times, paths), are scanned eight bytes at a time with SWAR for the
 * four byte classes that need attention ('"', '\\', controls, non-ASCII); only
 * those bytes leave the fast loop.  Whitespace and structure are byte-wise
 * but compact input takes one compare per byte.  The token array grows
 * geometrically and is kept between calls, so steady-state parsing does not
 * allocate.
 *
 * Errors: the first violation in input order wins, and p->err_off names its
 * byte (see json.h for the exact conventions).  Every read is bounds-checked
 * against len: the input needs no terminator or padding.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/json.h"

#define JSON_DEFAULT_DEPTH 64
#define JSON_NONE UINT32_MAX /* "no enclosing container" in the stack links */
#define JSON_MIN_CAP 64
/* Tokens a parser keeps between parses whatever their size (64 KiB). */
#define JSON_KEEP_CAP 4096

#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGH 0x8080808080808080ULL

/* Loads eight bytes as a little-endian word, so byte k is bits 8k..8k+7. */
static inline uint64_t
load64(const uint8_t *s)
{
	uint64_t v;

	memcpy(&v, s, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* Returns the index of the lowest byte whose high bit is set in mask m != 0. */
static inline size_t
first_byte(uint64_t m)
{
	return (size_t)__builtin_ctzll(m) >> 3;
}

/*
 * Flags (high bit of the byte) every byte of v that is '"', '\\', < 0x20 or
 * >= 0x80.  Borrows can flag bytes above a true hit, never below one, so the
 * lowest flag is always exact, which is all the callers use.
 */
static inline uint64_t
swar_string_special(uint64_t v)
{
	uint64_t q = v ^ (SWAR_ONES * '"');
	uint64_t b = v ^ (SWAR_ONES * '\\');

	return (((q - SWAR_ONES) & ~q) | ((b - SWAR_ONES) & ~b) |
	    (v - SWAR_ONES * 0x20) | v) & SWAR_HIGH;
}

/* Like swar_string_special() but lets bytes >= 0x80 through (writer side),
 * except 0xED, which may start the WTF-8 form of a lone surrogate. */
static inline uint64_t
swar_escape_needed(uint64_t v)
{
	uint64_t q = v ^ (SWAR_ONES * '"');
	uint64_t b = v ^ (SWAR_ONES * '\\');
	uint64_t e = v ^ (SWAR_ONES * 0xED);

	return (((q - SWAR_ONES) & ~q) | ((b - SWAR_ONES) & ~b) |
	    ((e - SWAR_ONES) & ~e) | ((v - SWAR_ONES * 0x20) & ~v)) & SWAR_HIGH;
}

/* Tells whether c is JSON whitespace (RFC 8259 section 2). */
static inline int
is_ws(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Returns the value of hex digit c, or -1. */
static inline int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Returns the length (2..4) of the well-formed UTF-8 sequence that starts at
 * s[i] (a byte >= 0x80), or 0 if it is ill-formed: a stray continuation byte,
 * C0/C1/F5..FF, an overlong form, a surrogate, a code point above U+10FFFF,
 * or a sequence cut short by the end of the input or by a non-continuation.
 * The ranges are those of Unicode 15 table 3-7.
 */
static size_t
utf8_seq(const uint8_t *s, size_t i, size_t len)
{
	uint8_t c = s[i], lo = 0x80, hi = 0xBF;
	size_t n, k;

	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		n = 2;
	else if (c < 0xF0) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong below U+0800 */
		else if (c == 0xED)
			hi = 0x9F; /* U+D800..DFFF */
	} else if (c < 0xF5) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong below U+10000 */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else
		return 0;
	if (len - i < n)
		return 0;
	if (s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (k = 2; k < n; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

/*
 * Classifies an unexpected byte at s[i] outside a string (or i == len): bytes
 * that do not start a well-formed UTF-8 sequence are EVT_ERR_UTF8, everything
 * else (including well-formed non-ASCII text) is a syntax error.
 */
static int
bad_byte(const uint8_t *s, size_t i, size_t len)
{
	if (i < len && s[i] >= 0x80 && utf8_seq(s, i, len) == 0)
		return EVT_ERR_UTF8;
	return EVT_ERR_JSON;
}

/*
 * Reads four hex digits at s[*ip] into *cp.  On error returns -1 with *ip at
 * the offending byte (len if the input ends), else advances *ip past them.
 */
static int
scan_hex4(const uint8_t *s, size_t len, size_t *ip, uint32_t *cp)
{
	size_t i = *ip, k;
	uint32_t v = 0;
	int h;

	for (k = 0; k < 4; k++, i++) {
		if (i == len || (h = hexval(s[i])) < 0) {
			*ip = i;
			return -1;
		}
		v = v << 4 | (uint32_t)h;
	}
	*ip = i;
	*cp = v;
	return 0;
}

/*
 * Validates the escape whose backslash is at s[*ip].  Advances *ip past it
 * and returns 0, or returns an error with *ip at the offending byte: the
 * byte after the backslash for an unknown escape, the bad hex digit, len if
 * the input ends (even between the halves of a surrogate pair), or the
 * backslash of an unpaired surrogate escape.  With lone set, an unpaired
 * surrogate escape is accepted on its own (a high one followed by anything
 * but a low one ends after its six bytes).
 */
static int
scan_escape(const uint8_t *s, size_t len, size_t *ip, int lone)
{
	size_t bs = *ip, i = bs + 1;
	uint32_t cp, lo;

	if (i == len) {
		*ip = len;
		return EVT_ERR_JSON;
	}
	switch (s[i]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		*ip = i + 1;
		return 0;
	case 'u':
		break;
	default:
		*ip = i;
		return bad_byte(s, i, len);
	}
	i++;
	if (scan_hex4(s, len, &i, &cp) != 0)
		goto bad;
	if (cp >= 0xDC00 && cp <= 0xDFFF && !lone) {
		i = bs; /* a low surrogate with no high one before it */
		goto bad;
	}
	if (cp >= 0xD800 && cp <= 0xDBFF && lone) {
		size_t j = i + 2;
		if (len - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' &&
		    scan_hex4(s, len, &j, &lo) == 0 && lo >= 0xDC00 &&
		    lo <= 0xDFFF)
			i = j; /* a pair after all */
	} else if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (len - i < 2 || s[i] != '\\' || s[i + 1] != 'u') {
			/* Cut short by the end of input, or really unpaired. */
			if (i == len || (s[i] == '\\' && i + 1 == len))
				i = len;
			else
				i = bs;
			goto bad;
		}
		i += 2;
		if (scan_hex4(s, len, &i, &lo) != 0)
			goto bad;
		if (lo < 0xDC00 || lo > 0xDFFF) {
			i = bs;
			goto bad;
		}
	}
	*ip = i;
	return 0;
bad:
	*ip = i;
	return bad_byte(s, i, len);
}

/*
 * Scans a string body from s[*ip] (just after the opening quote).  Returns 0
 * with *ip at the closing quote and EVT_JF_ESCAPED added to *flp if there was
 * a backslash, or an error with *ip at the offending byte.  lone: see
 * scan_escape.
 */
static inline int
scan_string(const uint8_t *s, size_t len, size_t *ip, uint8_t *flp, int lone)
{
	size_t i = *ip, n;
	uint64_t m;
	uint8_t c;
	int rc;

	for (;;) {
		while (len - i >= 8) {
			m = swar_string_special(load64(s + i));
			if (m != 0) {
				i += first_byte(m);
				goto special;
			}
			i += 8;
		}
		while (i < len && (c = s[i]) != '"' && c != '\\' &&
		    c >= 0x20 && c < 0x80)
			i++;
		if (i == len) {
			*ip = len; /* unterminated */
			return EVT_ERR_JSON;
		}
special:
		c = s[i];
		if (c == '"') {
			*ip = i;
			return 0;
		}
		if (c == '\\') {
			*flp |= EVT_JF_ESCAPED;
			if ((rc = scan_escape(s, len, &i, lone)) != 0) {
				*ip = i;
				return rc;
			}
			continue;
		}
		if (c < 0x20) {
			*ip = i;
			return EVT_ERR_JSON;
		}
		if ((n = utf8_seq(s, i, len)) == 0) {
			*ip = i;
			return EVT_ERR_UTF8;
		}
		i += n;
	}
}

/*
 * Scans a number from s[*ip] (a '-' or digit).  Returns 0 with *ip just past
 * it and *flp set to EVT_JF_INT or 0, or EVT_ERR_JSON with *ip at the byte
 * where a digit was required.  What follows the number is the caller's
 * business, which is how "01" and "1x" fail.
 */
static inline int
scan_number(const uint8_t *s, size_t len, size_t *ip, uint8_t *flp)
{
	size_t i = *ip;
	uint8_t fl = EVT_JF_INT;

	if (s[i] == '-')
		i++;
	if (i == len)
		goto bad;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else
		goto bad;
	if (i < len && s[i] == '.') {
		fl = 0;
		i++;
		if (i == len || s[i] < '0' || s[i] > '9')
			goto bad;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		fl = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || s[i] < '0' || s[i] > '9')
			goto bad;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	*ip = i;
	*flp = fl;
	return 0;
bad:
	*ip = i;
	return bad_byte(s, i, len);
}

/*
 * Matches the literal lit (n bytes) at s[*ip].  Returns 0 with *ip past it,
 * or an error with *ip at the first byte that differs (len if cut short).
 */
static int
scan_literal(const uint8_t *s, size_t len, size_t *ip, const char *lit,
    size_t n)
{
	size_t i = *ip, k;

	if (len - i >= n && memcmp(s + i, lit, n) == 0) {
		*ip = i + n;
		return 0;
	}
	for (k = 0; i + k < len && k < n && s[i + k] == (uint8_t)lit[k]; k++)
		;
	*ip = i + k;
	return bad_byte(s, i + k, len);
}

/* Doubles the token array (at least JSON_MIN_CAP, at most INT_MAX tokens). */
static int
grow(struct evt_jparser *p)
{
	size_t ncap = p->cap != 0 ? (size_t)p->cap * 2 : JSON_MIN_CAP;
	struct evt_jtok *nt;

	if (ncap > INT_MAX)
		ncap = INT_MAX;
	if (ncap <= p->cap)
		return EVT_ERR_TOOBIG; /* the count would not fit the return */
	if (ncap > SIZE_MAX / sizeof *nt)
		return EVT_ERR_NOMEM;
	if ((nt = realloc(p->tok, ncap * sizeof *nt)) == NULL)
		return EVT_ERR_NOMEM;
	p->tok = nt;
	p->cap = (uint32_t)ncap;
	return 0;
}

/* Initialises a parser with no token array yet. */
void
evt_json_init(struct evt_jparser *p, uint32_t max_depth)
{
	memset(p, 0, sizeof *p);
	p->max_depth = max_depth;
}

/* Frees a token array over JSON_KEEP_CAP tokens; see json.h. */
void
evt_json_shrink(struct evt_jparser *p)
{
	if (p->cap > JSON_KEEP_CAP)
		evt_json_free(p);
}

/* Frees the token array and leaves the parser empty but reusable. */
void
evt_json_free(struct evt_jparser *p)
{
	free(p->tok);
	p->tok = NULL;
	p->ntok = 0;
	p->cap = 0;
}

/* Skips JSON whitespace; compact input pays one compare per stop. */
#define SKIP_WS()                                                \
	while (i < len && s[i] <= ' ' && is_ws(s[i]))            \
		i++

/* Makes room for one more token, refreshing the cached array. */
#define RESERVE()                                                \
	do {                                                     \
		if (n == cap) {                                  \
			if ((rc = grow(p)) != 0)                 \
				goto fail;                       \
			t = p->tok;                              \
			cap = p->cap;                            \
		}                                                \
	} while (0)

/* Appends a leaf token (its subtree is itself). */
#define LEAF(ty, fl, o, l)                                       \
	do {                                                     \
		t[n].type = (ty);                                \
		t[n].flags = (fl);                               \
		t[n].off = (uint32_t)(o);                        \
		t[n].len = (uint32_t)(l);                        \
		t[n].size = 0;                                   \
		t[n].next = n + 1;                               \
		n++;                                             \
	} while (0)

/*
 * Tokenizes one JSON text.  The parser is a goto state machine over three
 * states: `value` (a value must start here), `key` (an object member must
 * start here) and `after` (a value just ended); `cur` is the innermost open
 * container and `isobj` caches its type.
 */
int
evt_json_parse(struct evt_jparser *p, const char *buf, size_t len)
{
	const uint8_t *s = (const uint8_t *)buf;
	struct evt_jtok *t = p->tok;
	uint32_t n = 0, cap = p->cap, cur = JSON_NONE, depth = 0, parent;
	uint32_t deepest = 0;
	uint32_t maxd = p->max_depth != 0 ? p->max_depth : JSON_DEFAULT_DEPTH;
	size_t i = 0, start;
	int isobj = 0, rc;
	uint8_t c, fl;

	p->ntok = 0;
	p->err_off = 0;
	p->depth = 0;
	if (len > UINT32_MAX) {
		p->err_off = UINT32_MAX; /* the first byte beyond the bound */
		return EVT_ERR_TOOBIG;
	}

value:
	SKIP_WS();
	if (i == len) {
		rc = EVT_ERR_JSON;
		goto fail;
	}
	RESERVE();
	switch ((c = s[i])) {
	case '"':
		start = ++i;
		fl = 0;
		if ((rc = scan_string(s, len, &i, &fl,
		    p->lone_surrogates)) != 0)
			goto fail;
		LEAF(EVT_J_STRING, fl, start, i - start);
		i++;
		goto after;
	case '{':
	case '[':
		if (depth == maxd) {
			rc = EVT_ERR_DEPTH;
			goto fail;
		}
		depth++;
		if (depth > deepest)
			deepest = depth;
		isobj = c == '{';
		t[n].type = isobj ? EVT_J_OBJECT : EVT_J_ARRAY;
		t[n].flags = 0;
		t[n].off = (uint32_t)i;
		t[n].len = 0;
		t[n].size = 0;
		t[n].next = cur; /* the stack link, until it closes */
		cur = n++;
		i++;
		SKIP_WS();
		if (i < len && s[i] == (isobj ? '}' : ']'))
			goto close;
		t[cur].size = 1;
		if (isobj)
			goto key;
		goto value;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		start = i;
		if ((rc = scan_number(s, len, &i, &fl)) != 0)
			goto fail;
		LEAF(EVT_J_NUMBER, fl, start, i - start);
		goto after;
	case 't':
		if ((rc = scan_literal(s, len, &i, "true", 4)) != 0)
			goto fail;
		LEAF(EVT_J_TRUE, 0, i - 4, 4);
		goto after;
	case 'f':
		if ((rc = scan_literal(s, len, &i, "false", 5)) != 0)
			goto fail;
		LEAF(EVT_J_FALSE, 0, i - 5, 5);
		goto after;
	case 'n':
		if ((rc = scan_literal(s, len, &i, "null", 4)) != 0)
			goto fail;
		LEAF(EVT_J_NULL, 0, i - 4, 4);
		goto after;
	default:
		rc = bad_byte(s, i, len);
		goto fail;
	}

key:
	SKIP_WS();
	if (i == len || s[i] != '"') {
		rc = bad_byte(s, i, len);
		goto fail;
	}
	RESERVE();
	start = ++i;
	fl = 0;
	if ((rc = scan_string(s, len, &i, &fl,
		    p->lone_surrogates)) != 0)
		goto fail;
	LEAF(EVT_J_STRING, fl, start, i - start);
	i++;
	SKIP_WS();
	if (i == len || s[i] != ':') {
		rc = bad_byte(s, i, len);
		goto fail;
	}
	i++;
	goto value;

after:
	if (cur == JSON_NONE)
		goto done;
	SKIP_WS();
	if (i == len) {
		rc = EVT_ERR_JSON;
		goto fail;
	}
	c = s[i];
	if (c == ',') {
		i++;
		t[cur].size++;
		if (isobj)
			goto key;
		goto value;
	}
	if (c != (isobj ? '}' : ']')) {
		rc = bad_byte(s, i, len);
		goto fail;
	}
close:
	/* s[i] closes t[cur]: pop it and give it its length and next. */
	parent = t[cur].next;
	t[cur].len = (uint32_t)(i + 1 - t[cur].off);
	t[cur].next = n;
	cur = parent;
	depth--;
	i++;
	if (cur != JSON_NONE)
		isobj = t[cur].type == EVT_J_OBJECT;
	goto after;

done:
	SKIP_WS();
	if (i != len) {
		rc = bad_byte(s, i, len); /* trailing garbage */
		goto fail;
	}
	p->ntok = n;
	p->depth = deepest;
	return (int)n;

fail:
	p->err_off = i;
	p->ntok = 0;
	return rc;
}

#undef SKIP_WS
#undef RESERVE
#undef LEAF

/* Tells whether s[0..len) is valid UTF-8 (see json.h). */
int
evt_json_utf8_valid(const char *s, size_t len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, n;

	while (i < len) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_seq(u, i, len)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* Writes code point cp (a Unicode scalar value) as UTF-8; returns the bytes. */
static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decodes a string token's raw bytes; runs without escapes are block copies.
 * lone: an unpaired surrogate escape becomes its 3-byte WTF-8 form. */
static int
unescape(const char *s, size_t len, char *out, int lone)
{
	const uint8_t *u = (const uint8_t *)s;
	const char *bs;
	size_t i = 0, o = 0, run;
	uint32_t cp, lo;
	char c;

	if (len > INT_MAX)
		return EVT_ERR_TOOBIG;
	while (i < len) {
		bs = memchr(s + i, '\\', len - i);
		run = bs != NULL ? (size_t)(bs - (s + i)) : len - i;
		memcpy(out + o, s + i, run);
		o += run;
		i += run;
		if (i == len)
			break;
		if (++i == len)
			return EVT_ERR_JSON;
		switch ((c = s[i++])) {
		case '"':
		case '\\':
		case '/':
			out[o++] = c;
			break;
		case 'b':
			out[o++] = '\b';
			break;
		case 'f':
			out[o++] = '\f';
			break;
		case 'n':
			out[o++] = '\n';
			break;
		case 'r':
			out[o++] = '\r';
			break;
		case 't':
			out[o++] = '\t';
			break;
		case 'u':
			if (scan_hex4(u, len, &i, &cp) != 0)
				return EVT_ERR_JSON;
			if (cp >= 0xDC00 && cp <= 0xDFFF && !lone)
				return EVT_ERR_JSON;
			if (cp >= 0xD800 && cp <= 0xDBFF && lone) {
				size_t j = i + 2;
				if (len - i >= 6 && s[i] == '\\' &&
				    s[i + 1] == 'u' &&
				    scan_hex4(u, len, &j, &lo) == 0 &&
				    lo >= 0xDC00 && lo <= 0xDFFF) {
					i = j;
					cp = 0x10000 + ((cp - 0xD800) << 10) +
					    (lo - 0xDC00);
				}
			} else if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (len - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
					return EVT_ERR_JSON;
				i += 2;
				if (scan_hex4(u, len, &i, &lo) != 0 ||
				    lo < 0xDC00 || lo > 0xDFFF)
					return EVT_ERR_JSON;
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
			}
			o += utf8_put(out + o, cp);
			break;
		default:
			return EVT_ERR_JSON;
		}
	}
	return (int)o;
}

/* Decodes a string token's raw bytes; see json.h. */
int
evt_json_unescape(const char *s, size_t len, char *out)
{
	return unescape(s, len, out, 0);
}

/* Decodes them keeping unpaired surrogates as WTF-8; see json.h. */
int
evt_json_unescape_wtf8(const char *s, size_t len, char *out)
{
	return unescape(s, len, out, 1);
}

/* The bytes a JSON string literal cannot hold as they are (find_escape):
 * controls, '"', '\\', and 0xED, which may begin a lone surrogate. */
static const uint8_t escape_byte[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0xED] = 1,
};

/* Returns the index of the first byte at or after i that must be escaped. */
static inline size_t
find_escape(const uint8_t *s, size_t i, size_t len)
{
	uint64_t m;

	while (len - i >= 8) {
		m = swar_escape_needed(load64(s + i));
		if (m != 0)
			return i + first_byte(m);
		i += 8;
	}
	/* The tail of up to 7 bytes (most strings written are short: one
	 * lookup a byte rather than four comparisons). */
	while (i < len && !escape_byte[s[i]])
		i++;
	return i;
}

/* Whether a string needs neither escapes nor non-ASCII bytes; see json.h. */
int
evt_json_plain(const char *s, size_t len)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0;

	for (; len - i >= 8; i += 8) {
		uint64_t v = load64(u + i);
		if ((swar_escape_needed(v) | (v & SWAR_HIGH)) != 0)
			return 0;
	}
	for (; i < len; i++)
		if (u[i] >= 0x80 || escape_byte[u[i]])
			return 0;
	return 1;
}

/* Writes a JSON string literal, copying runs of safe bytes with memcpy. */
size_t
evt_json_write_string(char *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *u = (const uint8_t *)s;
	size_t i = 0, e, o = 0;
	uint8_t c;

	out[o++] = '"';
	for (;;) {
		e = find_escape(u, i, len);
		if (e > i)
			memcpy(out + o, s + i, e - i);
		o += e - i;
		if (e == len)
			break;
		c = u[e];
		i = e + 1;
		if (c == 0xED) {
			/* ED A0..BF 80..BF: a lone surrogate kept as WTF-8
			 * (formats/records.md), written back as its escape;
			 * any other ED sequence is UTF-8 and copied. */
			if (len - i >= 2 && u[i] >= 0xA0 && u[i] <= 0xBF &&
			    (u[i + 1] & 0xC0) == 0x80) {
				uint32_t cp = 0xD000 | (uint32_t)(u[i] & 0x3F)
				    << 6 | (u[i + 1] & 0x3F);
				out[o++] = '\\';
				out[o++] = 'u';
				for (int k = 12; k >= 0; k -= 4)
					out[o++] = hex[cp >> k & 0xF];
				i += 2;
			} else {
				out[o++] = (char)c;
			}
			continue;
		}
		out[o++] = '\\';
		switch (c) {
		case '"':
		case '\\':
			out[o++] = (char)c;
			break;
		case '\b':
			out[o++] = 'b';
			break;
		case '\f':
			out[o++] = 'f';
			break;
		case '\n':
			out[o++] = 'n';
			break;
		case '\r':
			out[o++] = 'r';
			break;
		case '\t':
			out[o++] = 't';
			break;
		default:
			out[o++] = 'u';
			out[o++] = '0';
			out[o++] = '0';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xF];
			break;
		}
	}
	out[o++] = '"';
	return o;
}

/* Converts canonical integer text; see json.h for the exact range. */
int
evt_json_int(const char *s, size_t len, int *neg, uint64_t *mag)
{
	size_t i = 0;
	uint64_t m = 0, d;
	int ng = 0;

	if (len > 0 && s[0] == '-') {
		ng = 1;
		i = 1;
	}
	if (i == len)
		return 0;
	if (s[i] == '0') {
		if (ng || len != 1)
			return 0; /* "-0", "01", "0.5" */
		*neg = 0;
		*mag = 0;
		return 1;
	}
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		d = (uint64_t)(s[i] - '0');
		if (m > (UINT64_MAX - d) / 10)
			return 0;
		m = m * 10 + d;
	}
	if (ng && m > (uint64_t)1 << 63)
		return 0;
	*neg = ng;
	*mag = m;
	return 1;
}

/* Appends a JSON string literal to b; see json.h. */
int
evt_json_put_string(struct evt_buf *b, const char *s, size_t len)
{
	/* The room is checked inline: cat appends a string per field. */
	if (len > (SIZE_MAX - 2) / 6 ||
	    (b->cap - b->len < evt_json_string_max(len) &&
	    evt_buf_grow(b, evt_json_string_max(len)) != 0))
		return EVT_ERR_NOMEM;
	b->len += evt_json_write_string((char *)b->p + b->len, s, len);
	return 0;
}

/* Appends a JSON integer to b; see json.h. */
int
evt_json_put_int(struct evt_buf *b, int neg, uint64_t mag)
{
	if (evt_buf_grow(b, 21) != 0)
		return EVT_ERR_NOMEM;
	char *p = (char *)b->p + b->len;
	if (neg)
		*p++ = '-';
	b->len = (size_t)((uint8_t *)evt_put_u64(p, mag) - b->p);
	return 0;
}
