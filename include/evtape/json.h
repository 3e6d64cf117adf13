/*
 * json.h: a strict, tree-less JSON tokenizer and a JSON text writer.
 *
 * The tokenizer validates one whole JSON text (RFC 8259, UTF-8) and fills a
 * flat array of tokens in document order, jsmn style: a container token is
 * followed by its children; an object's children alternate key, value.  It
 * never copies or decodes strings: a string token points at the raw bytes
 * between the quotes, and evt_json_unescape() decodes them on demand.  This is
 * what lets the record encoder run at several hundred MB/s (README,
 * "Layout and hacking": common parsers are too slow and lose numbers' text).
 *
 * Sans-I/O: bytes in, tokens out.  No allocation except the token array,
 * which the parser owns and reuses across calls.
 */
#ifndef EVTAPE_JSON_H
#define EVTAPE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

enum evt_jtype {
	EVT_J_NULL = 0,
	EVT_J_FALSE,
	EVT_J_TRUE,
	EVT_J_NUMBER,
	EVT_J_STRING,
	EVT_J_ARRAY,
	EVT_J_OBJECT,
};

/* Token flags. */
#define EVT_JF_ESCAPED 0x01 /* string contains at least one backslash escape */
#define EVT_JF_INT 0x02	    /* number is a canonical integer: -?(0|[1-9][0-9]*) */

struct evt_jtok {
	uint8_t type;  /* enum evt_jtype */
	uint8_t flags; /* EVT_JF_* */
	uint32_t off;  /* offset of the first byte of the token in the input;
			  for strings, the byte after the opening quote */
	uint32_t len;  /* length in bytes; strings: raw bytes between the quotes
			  (escapes not decoded); containers: up to and including
			  the closing bracket */
	uint32_t size; /* arrays: element count; objects: member count
			  (so 2*size child subtrees follow); else 0 */
	uint32_t next; /* index of the first token after this token's subtree */
};

struct evt_jparser {
	struct evt_jtok *tok; /* owned; valid until the next parse or free */
	uint32_t ntok;	      /* tokens filled by the last successful parse */
	uint32_t cap;	      /* allocated tokens */
	uint32_t max_depth;   /* nesting bound; 0 means the default, 64 */
	uint32_t depth;	      /* deepest nesting of the last successful
				 parse (0: a scalar root) */
	size_t err_off;	      /* on error: byte offset where it was detected */
	int lone_surrogates;  /* accept \uXXXX escapes of unpaired surrogates
				 (0 after evt_json_init; the record encoder
				 keeps them, evt_json_unescape_wtf8) */
};

/* Initialises a parser.  max_depth 0 selects the default (64). */
void evt_json_init(struct evt_jparser *p, uint32_t max_depth);

/* Frees the token array.  The parser may be initialised again. */
/*
 * Frees the token array when it holds over 4,096 tokens (64 KiB), so that
 * one huge text (a getState answer of 100,000 states: 2.5 MiB of tokens)
 * is not held for the parser's whole life.  The caller must hold no
 * pointer into the tokens.  The next parse allocates again.
 */
void evt_json_shrink(struct evt_jparser *p);
void evt_json_free(struct evt_jparser *p);

/*
 * Tokenizes exactly one JSON value in buf[0..len), optionally surrounded by
 * whitespace.  Inputs larger than 4 GiB - 1 are rejected (EVT_ERR_TOOBIG).
 * Returns the number of tokens (>= 1), or:
 *   EVT_ERR_JSON   syntax error (also trailing garbage, empty input,
 *                  control characters in strings, lone surrogate escapes);
 *   EVT_ERR_UTF8   invalid UTF-8 anywhere in the input (overlong, surrogates
 *                  encoded in UTF-8, code points > U+10FFFF, truncated);
 *   EVT_ERR_DEPTH  nesting deeper than max_depth;
 *   EVT_ERR_TOOBIG input too large (or more than INT_MAX tokens);
 *   EVT_ERR_NOMEM.
 * On error p->err_off holds the offset of the offending byte and p->ntok is 0.
 * The first violation in input order is reported.  err_off is len when the
 * input ends too early (empty, unclosed, cut inside a token); the start of an
 * ill-formed UTF-8 sequence; the backslash of an unpaired surrogate escape;
 * the opening bracket that exceeds max_depth; else the unexpected byte.
 * Outside strings, a byte >= 0x80 is EVT_ERR_UTF8 if it does not start a
 * well-formed sequence and EVT_ERR_JSON if it does (e.g. a BOM).
 * Nesting: a scalar root is depth 0, "[]" is depth 1; max_depth containers
 * may be open at once.  Tokens from a failed parse must not be used.
 */
int evt_json_parse(struct evt_jparser *p, const char *buf, size_t len);

/*
 * Decodes the raw bytes of a string token (between the quotes) into out,
 * which must hold at least len bytes (decoded text is never longer).
 * Returns the decoded length, or EVT_ERR_JSON on a bad escape (the tokenizer
 * has already rejected those, so this only fails on unvalidated input), or
 * EVT_ERR_TOOBIG if len > INT_MAX.  "\u0000" decodes to a NUL byte.  Raw
 * bytes are copied as they are (no UTF-8 check here).
 */
int evt_json_unescape(const char *s, size_t len, char *out);

/*
 * The same for a token of a parser with lone_surrogates set: an escape of
 * an unpaired surrogate U+D800..U+DFFF decodes to its 3-byte generalized
 * UTF-8 form ED A0..BF 80..BF (WTF-8), which evt_json_write_string writes
 * back as the escape.  On strict tokens it equals evt_json_unescape.
 */
int evt_json_unescape_wtf8(const char *s, size_t len, char *out);

/*
 * Writes s[0..len) (UTF-8, already validated) as a JSON string literal with
 * quotes into out, which must hold at least evt_json_string_max(len) bytes.
 * Escapes only '"', '\\' and control characters (as \b \f \n \r \t or \u00XX,
 * with lower-case hex), and the WTF-8 form of a lone surrogate (as \udXXX,
 * lower-case hex); other bytes >= 0x80 and DEL are copied as they are.
 * Returns the number of bytes written.
 */
size_t evt_json_write_string(char *out, const char *s, size_t len);

/* Tells whether s[0..len) is well-formed UTF-8 (the same rules as the
 * tokenizer's: no overlong forms, surrogates or code points above
 * U+10FFFF).  Returns 1 or 0. */
int evt_json_utf8_valid(const char *s, size_t len);

/* Tells whether s[0..len) is printable ASCII (0x20..0x7e) without '"'
 * and '\\': its JSON string literal is the bytes between quotes, and
 * parsing that gives the very bytes back.  Returns 1 or 0. */
int evt_json_plain(const char *s, size_t len);

/* Upper bound of evt_json_write_string() output for an input of len bytes. */
static inline size_t
evt_json_string_max(size_t len)
{
	return 6 * len + 2;
}

/*
 * Converts a number token's text to an integer if it is canonical
 * (EVT_JF_INT) and fits: returns 1 and sets *neg and *mag (magnitude) when it
 * fits in a uint64 magnitude with int64 range for negatives, else 0.
 * "-0" returns 0 (it would not survive a round trip as an integer).
 */
int evt_json_int(const char *s, size_t len, int *neg, uint64_t *mag);

/*
 * Appends s[0..len) as a JSON string literal (evt_json_write_string) to b.
 * Returns 0 or EVT_ERR_NOMEM.
 */
int evt_json_put_string(struct evt_buf *b, const char *s, size_t len);

/* Appends a JSON integer: '-' if neg, then the decimal digits of mag.
 * Returns 0 or EVT_ERR_NOMEM. */
int evt_json_put_int(struct evt_buf *b, int neg, uint64_t mag);

#endif
