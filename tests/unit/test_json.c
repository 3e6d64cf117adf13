/*
 * test_json.c: unit tests for the JSON tokenizer and writer (src/json.c).
 *
 * Inputs are copied into exactly-sized heap buffers before parsing, so an
 * out-of-bounds read shows up under `make asan`.  Tables list the expected
 * error code and err_off of every rejection class; the round-trip tests use
 * a fixed-seed PRNG so a failure reproduces.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/json.h"
#define T_RNG_SEED 0x9E3779B97F4A7C15ULL
#include "t.h"

/* Parses a copy of s[0..len) held in a buffer of exactly len bytes. */
static int
parse_n(struct evt_jparser *p, const char *s, size_t len)
{
	char *b = malloc(len != 0 ? len : 1);
	int rc;

	if (b == NULL)
		abort();
	memcpy(b, s, len);
	rc = evt_json_parse(p, b, len);
	free(b);
	return rc;
}

/* Encodes code point cp as UTF-8 into out; returns the byte count. */
static size_t
put_utf8(char *out, uint32_t cp)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Checks documents of every kind parse, with their token count and root. */
static void
test_valid(void)
{
	static const struct {
		const char *in;
		size_t len;
		int ntok;
		int type;
	} v[] = {
		{ L("null"), 1, EVT_J_NULL },
		{ L("true"), 1, EVT_J_TRUE },
		{ L("false"), 1, EVT_J_FALSE },
		{ L("0"), 1, EVT_J_NUMBER },
		{ L("-0"), 1, EVT_J_NUMBER },
		{ L("123456789012345678901234567890"), 1, EVT_J_NUMBER },
		{ L("-1.5e+10"), 1, EVT_J_NUMBER },
		{ L("0.0E-0"), 1, EVT_J_NUMBER },
		{ L("1E5"), 1, EVT_J_NUMBER },
		{ L("\"\""), 1, EVT_J_STRING },
		{ L("\"hello\""), 1, EVT_J_STRING },
		{ L("\"\x7f\""), 1, EVT_J_STRING },
		{ L("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""), 1,
		    EVT_J_STRING },
		{ L("\"\xef\xbf\xbf \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80\""),
		    1, EVT_J_STRING },
		{ L("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\uD83D\\uDE00\""), 1,
		    EVT_J_STRING },
		{ L("[]"), 1, EVT_J_ARRAY },
		{ L("{}"), 1, EVT_J_OBJECT },
		{ L("[ ]"), 1, EVT_J_ARRAY },
		{ L("{ }"), 1, EVT_J_OBJECT },
		{ L("[1,2,3]"), 4, EVT_J_ARRAY },
		{ L("[[],{},[[]]]"), 5, EVT_J_ARRAY },
		{ L("{\"a\":1,\"a\":2}"), 5, EVT_J_OBJECT },
		{ L("{\"\":null}"), 3, EVT_J_OBJECT },
		{ L("[null,true,false,0,\"s\",[],{}]"), 8, EVT_J_ARRAY },
		{ L(" \t\r\n[ 1 , { \"a\" : 2 } ] \n"), 5, EVT_J_ARRAY },
		{ L("  7  "), 1, EVT_J_NUMBER },
	};
	struct evt_jparser p;
	size_t k;
	int rc;

	evt_json_init(&p, 0);
	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		rc = parse_n(&p, v[k].in, v[k].len);
		T_EQ(rc, v[k].ntok, "valid #%zu parses to %d tokens", k,
		    v[k].ntok);
		T_OK(rc > 0 && p.tok[0].type == v[k].type &&
		    p.ntok == (uint32_t)rc && p.tok[0].next == p.ntok,
		    "valid #%zu root type and next", k);
	}
	evt_json_free(&p);
}

/* Checks every field of every token of a nested document. */
static void
test_layout(void)
{
	static const char doc[] =
	    "{\"a\":[1,{\"b\":null}],\"c\":\"x\\ny\"}";
	static const struct evt_jtok want[] = {
		{ EVT_J_OBJECT, 0, 0, 31, 2, 9 },
		{ EVT_J_STRING, 0, 2, 1, 0, 2 },
		{ EVT_J_ARRAY, 0, 5, 14, 2, 7 },
		{ EVT_J_NUMBER, EVT_JF_INT, 6, 1, 0, 4 },
		{ EVT_J_OBJECT, 0, 8, 10, 1, 7 },
		{ EVT_J_STRING, 0, 10, 1, 0, 6 },
		{ EVT_J_NULL, 0, 13, 4, 0, 7 },
		{ EVT_J_STRING, 0, 21, 1, 0, 8 },
		{ EVT_J_STRING, EVT_JF_ESCAPED, 25, 4, 0, 9 },
	};
	struct evt_jparser p;
	size_t k;
	int rc, bad = -1;

	evt_json_init(&p, 0);
	rc = parse_n(&p, L(doc));
	T_EQ(rc, 9, "layout: token count");
	T_EQ(p.ntok, 9, "layout: ntok");
	for (k = 0; rc == 9 && k < 9; k++) {
		const struct evt_jtok *t = &p.tok[k], *w = &want[k];

		if (t->type != w->type || t->flags != w->flags ||
		    t->off != w->off || t->len != w->len ||
		    t->size != w->size || t->next != w->next) {
			printf("# token %zu: type %u flags %u off %u len %u "
			    "size %u next %u\n", k, t->type, t->flags, t->off,
			    t->len, t->size, t->next);
			if (bad < 0)
				bad = (int)k;
		}
	}
	T_EQ(bad, -1, "layout: every token matches (first bad shown)");

	/* Leading whitespace shifts every offset. */
	rc = parse_n(&p, L("  [ \"ab\" , 12.5 ]"));
	T_EQ(rc, 3, "shifted: token count");
	T_OK(rc == 3 && p.tok[0].off == 2 && p.tok[0].len == 15 &&
	    p.tok[0].size == 2, "shifted: array off/len/size");
	T_OK(rc == 3 && p.tok[1].off == 5 && p.tok[1].len == 2 &&
	    p.tok[2].off == 11 && p.tok[2].len == 4 && p.tok[2].flags == 0,
	    "shifted: string and number spans");
	evt_json_free(&p);
}

/* Checks the INT and ESCAPED flags. */
static void
test_flags(void)
{
	static const struct {
		const char *in;
		size_t len;
		int flags;
	} v[] = {
		{ L("0"), EVT_JF_INT },
		{ L("-0"), EVT_JF_INT },
		{ L("-123"), EVT_JF_INT },
		{ L("18446744073709551616"), EVT_JF_INT },
		{ L("1.0"), 0 },
		{ L("1e5"), 0 },
		{ L("-0.0"), 0 },
		{ L("2E-3"), 0 },
		{ L("\"plain\""), 0 },
		{ L("\"a\\/b\""), EVT_JF_ESCAPED },
		{ L("\"\\u00e9\""), EVT_JF_ESCAPED },
		{ L("\"\xc3\xa9\""), 0 },
	};
	struct evt_jparser p;
	size_t k;
	int rc;

	evt_json_init(&p, 0);
	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		rc = parse_n(&p, v[k].in, v[k].len);
		T_OK(rc == 1 && p.tok[0].flags == v[k].flags,
		    "flags of %s are %d", v[k].in, v[k].flags);
	}
	evt_json_free(&p);
}

/* Checks every rejection class with its error code and offset. */
static void
test_reject(void)
{
	static const struct {
		const char *in;
		size_t len;
		int rc;
		size_t off;
		const char *what;
	} v[] = {
		/* Structure. */
		{ L(""), EVT_ERR_JSON, 0, "empty" },
		{ L("   "), EVT_ERR_JSON, 3, "only whitespace" },
		{ L("["), EVT_ERR_JSON, 1, "unclosed array" },
		{ L("]"), EVT_ERR_JSON, 0, "stray close" },
		{ L("[1,]"), EVT_ERR_JSON, 3, "trailing comma in array" },
		{ L("[,1]"), EVT_ERR_JSON, 1, "leading comma" },
		{ L("[1 2]"), EVT_ERR_JSON, 3, "missing comma" },
		{ L("[1}"), EVT_ERR_JSON, 2, "array closed by brace" },
		{ L("{\"a\":1]"), EVT_ERR_JSON, 6, "object closed by bracket" },
		{ L("{\"a\" 1}"), EVT_ERR_JSON, 5, "missing colon" },
		{ L("{\"a\":}"), EVT_ERR_JSON, 5, "missing value" },
		{ L("{\"a\":1,}"), EVT_ERR_JSON, 7, "trailing comma in object" },
		{ L("{1:2}"), EVT_ERR_JSON, 1, "non-string key" },
		{ L("{'a':2}"), EVT_ERR_JSON, 1, "single-quoted key" },
		{ L("{\"a\":1 \"b\":2}"), EVT_ERR_JSON, 7, "members w/o comma" },
		{ L("[1,\0]"), EVT_ERR_JSON, 3, "NUL outside string" },
		/* Trailing garbage. */
		{ L("1 2"), EVT_ERR_JSON, 2, "two values" },
		{ L("[] x"), EVT_ERR_JSON, 3, "garbage after array" },
		{ L("{}}"), EVT_ERR_JSON, 2, "extra close" },
		{ L("\"a\"\""), EVT_ERR_JSON, 3, "extra quote" },
		{ L("null\0"), EVT_ERR_JSON, 4, "trailing NUL" },
		/* Whitespace that JSON does not allow. */
		{ L("\f[]"), EVT_ERR_JSON, 0, "form feed" },
		{ L("[\v]"), EVT_ERR_JSON, 1, "vertical tab" },
		{ L("[\xc2\xa0]"), EVT_ERR_JSON, 1, "no-break space" },
		{ L("\xef\xbb\xbf{}"), EVT_ERR_JSON, 0, "byte order mark" },
		/* Literals. */
		{ L("tru"), EVT_ERR_JSON, 3, "truncated true" },
		{ L("trUe"), EVT_ERR_JSON, 2, "misspelt true" },
		{ L("fals"), EVT_ERR_JSON, 4, "truncated false" },
		{ L("nul"), EVT_ERR_JSON, 3, "truncated null" },
		{ L("nulll"), EVT_ERR_JSON, 4, "null plus l" },
		{ L("True"), EVT_ERR_JSON, 0, "capital True" },
		{ L("NaN"), EVT_ERR_JSON, 0, "NaN" },
		{ L("[Infinity]"), EVT_ERR_JSON, 1, "Infinity" },
		/* Numbers. */
		{ L("01"), EVT_ERR_JSON, 1, "leading zero" },
		{ L("-01"), EVT_ERR_JSON, 2, "negative leading zero" },
		{ L("-"), EVT_ERR_JSON, 1, "lone minus" },
		{ L("-a"), EVT_ERR_JSON, 1, "minus letter" },
		{ L("+1"), EVT_ERR_JSON, 0, "plus sign" },
		{ L(".5"), EVT_ERR_JSON, 0, "no integer part" },
		{ L("1."), EVT_ERR_JSON, 2, "no fraction digits" },
		{ L("1.e5"), EVT_ERR_JSON, 2, "dot then exponent" },
		{ L("1e"), EVT_ERR_JSON, 2, "empty exponent" },
		{ L("1e+"), EVT_ERR_JSON, 3, "signed empty exponent" },
		{ L("1e5.0"), EVT_ERR_JSON, 3, "fraction after exponent" },
		{ L("0x10"), EVT_ERR_JSON, 1, "hex number" },
		{ L("[1.5.]"), EVT_ERR_JSON, 4, "two dots" },
		/* Strings: structure and control characters. */
		{ L("\"abc"), EVT_ERR_JSON, 4, "unterminated string" },
		{ L("\"abcdefghijklmnopqrstuvwxyz"), EVT_ERR_JSON, 27,
		    "long unterminated string" },
		{ L("\"a\x01\""), EVT_ERR_JSON, 2, "control 0x01" },
		{ L("\"\x1f\""), EVT_ERR_JSON, 1, "control 0x1f" },
		{ L("\"\t\""), EVT_ERR_JSON, 1, "raw tab" },
		{ L("\"\n\""), EVT_ERR_JSON, 1, "raw newline" },
		{ L("\"a\0b\""), EVT_ERR_JSON, 2, "raw NUL" },
		{ L("\"abcdefghijklmnop\x05qrs\""), EVT_ERR_JSON, 17,
		    "control after a SWAR block" },
		{ L("{\"k\x02\":1}"), EVT_ERR_JSON, 3, "control in key" },
		/* Escapes. */
		{ L("\"\\x\""), EVT_ERR_JSON, 2, "unknown escape" },
		{ L("\"\\U0041\""), EVT_ERR_JSON, 2, "capital U escape" },
		{ L("\"\\'\""), EVT_ERR_JSON, 2, "escaped single quote" },
		{ L("\"\\"), EVT_ERR_JSON, 2, "input ends after backslash" },
		{ L("\"\\u12G4\""), EVT_ERR_JSON, 5, "bad hex digit" },
		{ L("\"\\u12\""), EVT_ERR_JSON, 5, "short \\u escape" },
		{ L("\"\\u004"), EVT_ERR_JSON, 6, "input ends in \\u" },
		/* Lone surrogates. */
		{ L("\"\\uD800\""), EVT_ERR_JSON, 1, "lone high surrogate" },
		{ L("\"\\uDC00\""), EVT_ERR_JSON, 1, "lone low surrogate" },
		{ L("\"\\uDFFF\\uD800\""), EVT_ERR_JSON, 1, "low then high" },
		{ L("\"\\uD800\\u0041\""), EVT_ERR_JSON, 1, "high then BMP" },
		{ L("\"\\uD800\\uD800\""), EVT_ERR_JSON, 1, "high then high" },
		{ L("\"\\uDBFF\\uE000\""), EVT_ERR_JSON, 1, "high then U+E000" },
		{ L("\"ab\\uDBFFx\""), EVT_ERR_JSON, 3, "high then letter" },
		{ L("\"\\uD800\\n\""), EVT_ERR_JSON, 1, "high then \\n" },
		{ L("\"\\uD800\\"), EVT_ERR_JSON, 8, "high then end" },
		{ L("\"\\uD800"), EVT_ERR_JSON, 7, "end after high" },
		{ L("\"\\uD83D\\uDE00\\uDE00\""), EVT_ERR_JSON, 13,
		    "pair then lone low" },
		{ L("\"\\uD800\\uDC0"), EVT_ERR_JSON, 12, "input ends in low" },
		/* UTF-8 inside strings. */
		{ L("\"\x80\""), EVT_ERR_UTF8, 1, "stray continuation" },
		{ L("\"abcdefgh\x80ijklmnop\""), EVT_ERR_UTF8, 9,
		    "stray 80 in a SWAR block" },
		{ L("\"abc\xc3\xa9\x9f" "defghijklm\""), EVT_ERR_UTF8, 6,
		    "stray 9F after a good pair" },
		{ L("\"\xbf\""), EVT_ERR_UTF8, 1, "stray continuation BF" },
		{ L("\"\xc0\x80\""), EVT_ERR_UTF8, 1, "C0 overlong NUL" },
		{ L("\"\xc1\xbf\""), EVT_ERR_UTF8, 1, "C1 overlong" },
		{ L("\"\xe0\x80\xaf\""), EVT_ERR_UTF8, 1, "3-byte overlong" },
		{ L("\"\xe0\x9f\xbf\""), EVT_ERR_UTF8, 1, "3-byte overlong top" },
		{ L("\"\xf0\x80\x80\xaf\""), EVT_ERR_UTF8, 1, "4-byte overlong" },
		{ L("\"\xf0\x8f\xbf\xbf\""), EVT_ERR_UTF8, 1,
		    "4-byte overlong top" },
		{ L("\"\xed\xa0\x80\""), EVT_ERR_UTF8, 1, "encoded U+D800" },
		{ L("\"\xed\xbf\xbf\""), EVT_ERR_UTF8, 1, "encoded U+DFFF" },
		{ L("\"\xf4\x90\x80\x80\""), EVT_ERR_UTF8, 1, "U+110000" },
		{ L("\"\xf5\x80\x80\x80\""), EVT_ERR_UTF8, 1, "lead F5" },
		{ L("\"\xf8\x88\x80\x80\x80\""), EVT_ERR_UTF8, 1, "5-byte form" },
		{ L("\"\xfe\""), EVT_ERR_UTF8, 1, "byte FE" },
		{ L("\"\xff\""), EVT_ERR_UTF8, 1, "byte FF" },
		{ L("\"\xe2\x82\""), EVT_ERR_UTF8, 1, "truncated by quote" },
		{ L("\"\xc3"), EVT_ERR_UTF8, 1, "truncated by end" },
		{ L("\"\xf0\x9f\x98"), EVT_ERR_UTF8, 1, "4-byte truncated by end" },
		{ L("\"\xf0\x9f\x98\""), EVT_ERR_UTF8, 1, "4-byte cut by quote" },
		{ L("\"\xe2\x28\xa1\""), EVT_ERR_UTF8, 1, "bad 2nd byte" },
		{ L("\"\xe2\x82\x28\""), EVT_ERR_UTF8, 1, "bad 3rd byte" },
		{ L("\"\xf0\x9f\x98\x28\""), EVT_ERR_UTF8, 1, "bad 4th byte" },
		{ L("\"abcdefghij\xc3\x28\""), EVT_ERR_UTF8, 11,
		    "after a SWAR block" },
		{ L("\"\xc3\xa9\xc3\""), EVT_ERR_UTF8, 3, "good then truncated" },
		{ L("{\"\xff\":1}"), EVT_ERR_UTF8, 2, "bad byte in key" },
		/* Bytes >= 0x80 outside strings. */
		{ L("[\xff]"), EVT_ERR_UTF8, 1, "FF in array" },
		{ L("[1]\x80"), EVT_ERR_UTF8, 3, "trailing continuation" },
		{ L("{\"a\":1}\xc3"), EVT_ERR_UTF8, 7, "trailing truncated" },
		{ L("\xc3\xa9"), EVT_ERR_JSON, 0, "valid UTF-8 as value" },
		{ L("tr\xc3\xa9"), EVT_ERR_JSON, 2, "valid UTF-8 in literal" },
		{ L("tr\xed\xa0\x80"), EVT_ERR_UTF8, 2, "surrogate in literal" },
		{ L("-\xff"), EVT_ERR_UTF8, 1, "FF after minus" },
		{ L("\"\\\xff\""), EVT_ERR_UTF8, 2, "FF after backslash" },
		{ L("\"\\u00\xff\""), EVT_ERR_UTF8, 5, "FF in hex digits" },
	};
	struct evt_jparser p;
	size_t k;
	int rc;

	evt_json_init(&p, 0);
	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		/* A good parse first, so ntok must really be reset. */
		parse_n(&p, L("[1]"));
		rc = parse_n(&p, v[k].in, v[k].len);
		T_EQ(rc, v[k].rc, "reject %s: code", v[k].what);
		T_EQ(p.err_off, v[k].off, "reject %s: err_off", v[k].what);
		T_EQ(p.ntok, 0, "reject %s: ntok is 0", v[k].what);
	}
	evt_json_free(&p);
}

/* Checks that every proper prefix of a document fails at its very end. */
static void
test_prefixes(void)
{
	static const char doc[] = "{\"k\":[1,-2.5e+3,true,false,null,"
	    "\"a\\u00e9\\uD83D\\uDE00\\n\",{\"x\":{}},[]],\"z\":\"\"}";
	struct evt_jparser p;
	size_t k, n = sizeof doc - 1;
	int bad = 0, rc;

	evt_json_init(&p, 0);
	for (k = 0; k < n; k++) {
		rc = parse_n(&p, doc, k);
		if (rc != EVT_ERR_JSON || p.err_off != k) {
			printf("# prefix %zu: rc %d err_off %zu\n", k, rc,
			    p.err_off);
			bad++;
		}
	}
	T_EQ(bad, 0, "all %zu proper prefixes fail at their end", n);
	T_EQ(parse_n(&p, doc, n), 15, "the whole document parses");
	evt_json_free(&p);
}

/* Builds depth nested containers (alternating arrays and objects). */
static char *
nest(uint32_t depth, size_t *lenp)
{
	char *b = malloc((size_t)depth * 6 + 2), *o = b;
	uint32_t k;

	if (b == NULL)
		abort();
	for (k = 0; k < depth; k++) {
		if (k % 2 == 0)
			*o++ = '[';
		else {
			memcpy(o, "{\"k\":", 5);
			o += 5;
		}
	}
	*o++ = '0';
	for (k = depth; k-- > 0;)
		*o++ = k % 2 == 0 ? ']' : '}';
	*lenp = (size_t)(o - b);
	return b;
}

/* Checks the depth bound: exactly max_depth nests, one more is rejected. */
static void
test_depth(void)
{
	struct evt_jparser p;
	size_t len;
	char *b;
	int rc;

	evt_json_init(&p, 0);
	T_EQ(p.max_depth, 0, "max_depth 0 is kept (means the default)");
	b = nest(64, &len);
	rc = parse_n(&p, b, len);
	T_EQ(rc, 64 + 32 + 1, "default: depth 64 is accepted");
	free(b);
	b = nest(65, &len);
	rc = parse_n(&p, b, len);
	T_EQ(rc, EVT_ERR_DEPTH, "default: depth 65 is rejected");
	/* The 65th opener: 32 '[' and 32 '{"k":' before it. */
	T_EQ(p.err_off, 32 + 32 * 5, "default: err_off at the 65th opener");
	free(b);
	evt_json_free(&p);

	evt_json_init(&p, 5);
	T_EQ(parse_n(&p, L("[[[[[]]]]]")), 5, "max 5: depth 5 accepted");
	rc = parse_n(&p, L("[[[[[[]]]]]]"));
	T_EQ(rc, EVT_ERR_DEPTH, "max 5: depth 6 rejected");
	T_EQ(p.err_off, 5, "max 5: err_off at the 6th bracket");
	T_EQ(parse_n(&p, L("[[[[[]]]],[[[[]]]],{\"a\":[[{}]]}]")), 14,
	    "max 5: depth falls again after closing");
	T_EQ(p.depth, 5, "depth: the deepest nesting is reported");
	T_EQ(parse_n(&p, L(" 7 ")), 1, "scalar root");
	T_EQ(p.depth, 0, "depth: a scalar root is 0");
	T_EQ(parse_n(&p, L("[{},[]]")), 3, "shallow");
	T_EQ(p.depth, 2, "depth: [{},[]] is 2");
	rc = parse_n(&p, L("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{}}}}}}"));
	T_EQ(rc, EVT_ERR_DEPTH, "max 5: six nested objects rejected");
	T_EQ(p.depth, 0, "depth: 0 after a failed parse");
	evt_json_free(&p);

	evt_json_init(&p, 1);
	T_EQ(parse_n(&p, L("7")), 1, "max 1: scalar");
	T_EQ(parse_n(&p, L("[1,2]")), 3, "max 1: flat array");
	T_EQ(parse_n(&p, L("[[]]")), EVT_ERR_DEPTH, "max 1: nested array");
	evt_json_free(&p);

	evt_json_init(&p, 1000);
	b = nest(1000, &len);
	T_EQ(parse_n(&p, b, len), 1000 + 500 + 1, "max 1000: depth 1000");
	free(b);
	b = nest(1001, &len);
	T_EQ(parse_n(&p, b, len), EVT_ERR_DEPTH, "max 1000: depth 1001");
	free(b);
	evt_json_free(&p);
}

/* Parses one string literal and unescapes its token; returns the length. */
static int
decode(const char *lit, size_t len, char *out)
{
	struct evt_jparser p;
	int rc;

	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, lit, len);
	if (rc == 1 && p.tok[0].type == EVT_J_STRING)
		rc = evt_json_unescape(lit + p.tok[0].off, p.tok[0].len, out);
	else
		rc = -1;
	evt_json_free(&p);
	return rc;
}

/* Checks that escapes, surrogate pairs included, decode to the right bytes. */
static void
test_unescape(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
		size_t olen;
	} v[] = {
		{ L("\"plain\""), L("plain") },
		{ L("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), L("\"\\/\b\f\n\r\t") },
		{ L("\"a\\u0062c\""), L("abc") },
		{ L("\"\\u0000\""), L("\0") },
		{ L("\"\\u007F\\u0080\""), L("\x7f\xc2\x80") },
		{ L("\"\\u00e9\\u00E9\""), L("\xc3\xa9\xc3\xa9") },
		{ L("\"\\u07ff\\u0800\""), L("\xdf\xbf\xe0\xa0\x80") },
		{ L("\"\\u20AC\""), L("\xe2\x82\xac") },
		{ L("\"\\uFFFF\""), L("\xef\xbf\xbf") },
		{ L("\"\\uD800\\uDC00\""), L("\xf0\x90\x80\x80") },
		{ L("\"\\uD83D\\uDE00\""), L("\xf0\x9f\x98\x80") },
		{ L("\"\\udbff\\udfff\""), L("\xf4\x8f\xbf\xbf") },
		{ L("\"x\\uD834\\uDD1Ey\""), L("x\xf0\x9d\x84\x9ey") },
		{ L("\"\xc3\xa9\\n\xe2\x82\xac\""), L("\xc3\xa9\n\xe2\x82\xac") },
	};
	static const struct {
		const char *in;
		size_t len;
	} bad[] = {
		{ L("\\") }, { L("\\x") }, { L("\\u12") }, { L("\\u12g4") },
		{ L("\\uD800") }, { L("\\uDC00") }, { L("\\uD800\\u0041") },
		{ L("\\uD800\\") }, { L("\\uD800\\uE000") },
	};
	char out[64];
	size_t k;
	int rc;

	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		memset(out, 0x55, sizeof out);
		rc = decode(v[k].in, v[k].len, out);
		T_OK(rc == (int)v[k].olen && memcmp(out, v[k].out, v[k].olen) ==
		    0, "unescape #%zu gives %zu bytes", k, v[k].olen);
	}
	for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		rc = evt_json_unescape(bad[k].in, bad[k].len, out);
		T_EQ(rc, EVT_ERR_JSON, "unescape rejects raw #%zu", k);
	}
	T_EQ(evt_json_unescape("", 0, out), 0, "unescape of nothing");
}

/* Checks the exact output of the string writer. */
static void
test_write(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
		size_t olen;
	} v[] = {
		{ L(""), L("\"\"") },
		{ L("abc"), L("\"abc\"") },
		{ L("a\"b\\c"), L("\"a\\\"b\\\\c\"") },
		{ L("\b\f\n\r\t"), L("\"\\b\\f\\n\\r\\t\"") },
		{ L("\x01\x1f\0"), L("\"\\u0001\\u001f\\u0000\"") },
		{ L("/\x7f\xc3\xa9"), L("\"/\x7f\xc3\xa9\"") },
		{ L("0123456789abcdef\"0123456789abcdef\n"),
		    L("\"0123456789abcdef\\\"0123456789abcdef\\n\"") },
	};
	char out[128];
	size_t k, n;

	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		n = evt_json_write_string(out, v[k].in, v[k].len);
		T_OK(n == v[k].olen && memcmp(out, v[k].out, n) == 0,
		    "write_string #%zu", k);
	}
}

/* Draws a random Unicode scalar value, biased to the bytes that matter. */
static uint32_t
rand_cp(void)
{
	static const char special[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f u";
	uint32_t r = (uint32_t)(rng() % 100), cp;

	if (r < 40)
		return 0x20 + (uint32_t)(rng() % 0x5F);
	if (r < 55)
		return (uint8_t)special[rng() % (sizeof special - 1)];
	if (r < 62)
		return (uint32_t)(rng() % 0x20);
	if (r < 75)
		return 0x80 + (uint32_t)(rng() % (0x800 - 0x80));
	if (r < 90) {
		do
			cp = 0x800 + (uint32_t)(rng() % (0x10000 - 0x800));
		while (cp >= 0xD800 && cp <= 0xDFFF);
		return cp;
	}
	return 0x10000 + (uint32_t)(rng() % (0x110000 - 0x10000));
}

/* Writes random valid UTF-8 strings, then parses and unescapes them back. */
static void
test_roundtrip(void)
{
	enum { NCASE = 4000, MAXCP = 300 };
	static char in[MAXCP * 4], lit[MAXCP * 4 * 6 + 2], back[MAXCP * 4 * 6];
	struct evt_jparser p;
	size_t len, n, k, ncp;
	int c, rc, fails = 0, first = -1, needesc;

	evt_json_init(&p, 0);
	for (c = 0; c < NCASE; c++) {
		ncp = c % 10 == 0 ? (size_t)(rng() % MAXCP) :
		    (size_t)(rng() % 40);
		len = 0;
		needesc = 0;
		for (k = 0; k < ncp; k++) {
			uint32_t cp = rand_cp();

			if (cp < 0x20 || cp == '"' || cp == '\\')
				needesc = 1;
			len += put_utf8(in + len, cp);
		}
		n = evt_json_write_string(lit, in, len);
		rc = n <= evt_json_string_max(len) ? parse_n(&p, lit, n) : -1;
		if (rc == 1 && p.tok[0].type == EVT_J_STRING &&
		    p.tok[0].off == 1 && p.tok[0].len == n - 2 &&
		    ((p.tok[0].flags & EVT_JF_ESCAPED) != 0) == needesc)
			rc = evt_json_unescape(lit + 1, n - 2, back);
		else
			rc = -1;
		if (rc != (int)len || memcmp(back, in, len) != 0) {
			fails++;
			if (first < 0)
				first = c;
		}
	}
	T_EQ(fails, 0, "%d random strings round-trip (first failure %d)",
	    NCASE, first);
	evt_json_free(&p);
}

/* Checks evt_json_int on the edges of its range and on non-canonical text. */
static void
test_int(void)
{
	static const struct {
		const char *in;
		int ok;
		int neg;
		uint64_t mag;
	} v[] = {
		{ "0", 1, 0, 0 },
		{ "-0", 0, 0, 0 },
		{ "7", 1, 0, 7 },
		{ "-7", 1, 1, 7 },
		{ "9223372036854775807", 1, 0, 9223372036854775807ULL },
		{ "9223372036854775808", 1, 0, 9223372036854775808ULL },
		{ "18446744073709551615", 1, 0, UINT64_MAX },
		{ "18446744073709551616", 0, 0, 0 },
		{ "99999999999999999999", 0, 0, 0 },
		{ "184467440737095516150", 0, 0, 0 },
		{ "-9223372036854775807", 1, 1, 9223372036854775807ULL },
		{ "-9223372036854775808", 1, 1, 9223372036854775808ULL },
		{ "-9223372036854775809", 0, 0, 0 },
		{ "-18446744073709551615", 0, 0, 0 },
		{ "01", 0, 0, 0 },
		{ "-01", 0, 0, 0 },
		{ "00", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "-", 0, 0, 0 },
		{ "+1", 0, 0, 0 },
		{ "1.0", 0, 0, 0 },
		{ "1e3", 0, 0, 0 },
		{ "12a", 0, 0, 0 },
		{ " 1", 0, 0, 0 },
		{ "--1", 0, 0, 0 },
	};
	size_t k;
	uint64_t mag;
	int neg, ok;

	for (k = 0; k < sizeof v / sizeof v[0]; k++) {
		neg = -1;
		mag = 12345;
		ok = evt_json_int(v[k].in, strlen(v[k].in), &neg, &mag);
		T_EQ(ok, v[k].ok, "int \"%s\" fits: %d", v[k].in, v[k].ok);
		if (v[k].ok)
			T_OK(ok && neg == v[k].neg && mag == v[k].mag,
			    "int \"%s\" value", v[k].in);
	}
	/* The length bounds the text: "123" read as "12". */
	ok = evt_json_int("123", 2, &neg, &mag);
	T_OK(ok == 1 && neg == 0 && mag == 12, "int honours len");
}

/* Parses big inputs and checks the token array is reused across calls. */
static void
test_big(void)
{
	enum { NUM = 1000000, SLEN = 4 << 20, NMEM = 100000 };
	struct evt_jparser p;
	char *b, *o;
	size_t k, len;
	uint32_t cap;
	int rc, ok;

	evt_json_init(&p, 0);

	/* [0,1,2,...] with a million elements. */
	b = malloc((size_t)NUM * 8 + 2);
	o = b;
	*o++ = '[';
	for (k = 0; k < NUM; k++)
		o += sprintf(o, k ? ",%zu" : "%zu", k);
	*o++ = ']';
	len = (size_t)(o - b);
	rc = parse_n(&p, b, len);
	T_EQ(rc, NUM + 1, "million-element array");
	T_OK(rc == NUM + 1 && p.tok[0].size == NUM && p.tok[0].len == len &&
	    p.tok[0].next == NUM + 1, "million-element array root");
	ok = rc == NUM + 1;
	for (k = 1; ok && k <= NUM; k++) {
		int neg;
		uint64_t mag;

		ok = p.tok[k].next == k + 1 &&
		    evt_json_int(b + p.tok[k].off, p.tok[k].len, &neg, &mag) &&
		    mag == k - 1;
	}
	T_OK(ok, "million-element array: every element in order");
	cap = p.cap;
	T_OK(cap >= NUM + 1, "token array grew to %u", cap);

	/* A small parse gives the big array back (a recorder must not
	 * hold a getState answer's tokens for good); a big one grows it
	 * again. */
	T_EQ(parse_n(&p, L("[1]")), 2, "small parse after a big one");
	T_OK(p.cap >= 2 && p.cap <= 4096, "token array given back (%u of %u)",
	    p.cap, cap);
	T_EQ(p.tok[0].size, 1, "small parse after a big one: its tokens");
	T_EQ(parse_n(&p, b, len), NUM + 1, "big parse again");
	T_OK(p.cap >= NUM + 1, "the big parse grew it again (%u)", p.cap);
	T_EQ(parse_n(&p, b, len / 2), EVT_ERR_JSON,
	    "half of the big text is not JSON");
	free(b);

	/* One 4 MiB string with an escape at the very end. */
	b = malloc(SLEN + 4);
	b[0] = '"';
	for (k = 1; k <= SLEN; k++)
		b[k] = (char)('a' + k % 26);
	memcpy(b + SLEN - 1, "\\n", 2);
	b[SLEN + 1] = '"';
	rc = parse_n(&p, b, SLEN + 2);
	T_OK(rc == 1 && p.tok[0].len == SLEN &&
	    p.tok[0].flags == EVT_JF_ESCAPED, "4 MiB string");
	b[SLEN - 1] = 'x';
	b[SLEN] = '\x01';
	rc = parse_n(&p, b, SLEN + 2);
	T_OK(rc == EVT_ERR_JSON && p.err_off == SLEN,
	    "4 MiB string with a control byte at the end");
	free(b);

	/* An object with 100k members. */
	b = malloc((size_t)NMEM * 24 + 2);
	o = b;
	*o++ = '{';
	for (k = 0; k < NMEM; k++)
		o += sprintf(o, "%s\"key%zu\":\"v\\t%zu\"", k ? "," : "", k, k);
	*o++ = '}';
	len = (size_t)(o - b);
	rc = parse_n(&p, b, len);
	T_EQ(rc, 2 * NMEM + 1, "object with %d members", NMEM);
	T_OK(rc > 0 && p.tok[0].size == NMEM && p.tok[2 * NMEM].flags ==
	    EVT_JF_ESCAPED, "object size and last value");
	free(b);
	evt_json_free(&p);
	T_OK(p.tok == NULL && p.cap == 0 && p.ntok == 0, "free empties");

	/* The parser is usable again after free. */
	T_EQ(parse_n(&p, L("{\"a\":[]}")), 3, "parse after free");
	evt_json_free(&p);

#if SIZE_MAX > UINT32_MAX
	/*
	 * The length bound is checked before any byte is read, so a short
	 * buffer with a lying length is safe here and needs no 4 GiB.
	 */
	evt_json_init(&p, 0);
	rc = evt_json_parse(&p, "[]", (size_t)UINT32_MAX + 1);
	T_EQ(rc, EVT_ERR_TOOBIG, "4 GiB input is too big");
	T_EQ(p.ntok, 0, "too big: ntok is 0");
	evt_json_free(&p);
#endif
}

/* Checks a realistic gateway message: layout and decoded values. */
static void
test_gateway(void)
{
	static const char msg[] =
	    "{\"events\":[{\"id\":\"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13\","
	    "\"source\":\"cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a\","
	    "\"specversion\":\"1.0\","
	    "\"stategroupid\":\"720ef62a-78be-418a-8e4c-ee04ffca6429\","
	    "\"time\":\"2025-10-27T15:03:52.8070000Z\","
	    "\"type\":\"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77\"},"
	    "{\"id\":\"x\",\"n\":-42}]}";
	struct evt_jparser p;
	const struct evt_jtok *t;
	int rc;

	evt_json_init(&p, 0);
	rc = parse_n(&p, L(msg));
	T_EQ(rc, 3 + 13 + 5, "gateway message token count");
	t = p.tok;
	T_OK(rc == 21 && t[2].type == EVT_J_ARRAY && t[2].size == 2 &&
	    t[3].type == EVT_J_OBJECT && t[3].size == 6 && t[3].next == 16 &&
	    t[16].size == 2 && t[16].next == 21 && t[2].next == 21,
	    "gateway message structure");
	T_OK(rc == 21 && t[13].len == 28 &&
	    memcmp(msg + t[13].off, "2025-10-27T15:03:52.8070000Z", 28) == 0,
	    "gateway message time value");
	T_OK(rc == 21 && t[20].type == EVT_J_NUMBER &&
	    t[20].flags == EVT_JF_INT && t[20].len == 3,
	    "gateway message number");
	evt_json_free(&p);
}

int
main(void)
{
	test_valid();
	test_layout();
	test_flags();
	test_reject();
	test_prefixes();
	test_depth();
	test_unescape();
	test_write();
	test_roundtrip();
	test_int();
	test_big();
	test_gateway();
	T_DONE();
}
