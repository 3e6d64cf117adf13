/*
 * test_tsv.c: unit tests for the TSV line form (src/tsv.c,
 * formats/tsv.md): what a reader accepts and refuses, and that every
 * frame, whatever its bytes, comes back from its line unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/tsv.h"
#include "t.h"

/* Parses a copy of s; returns evt_tsv_parse's result, fills l and the
 * text (NUL-terminated) into text. */
static int
parse(const char *s, struct evt_tsv_line *l, char *text, size_t cap)
{
	char buf[256];
	size_t n = strlen(s);
	memcpy(buf, s, n);
	int rc = evt_tsv_parse(buf, n, l);
	text[0] = 0;
	if (rc == 1 && l->len < cap) {
		memcpy(text, l->text, l->len);
		text[l->len] = 0;
	}
	return rc;
}

/* The reading rules of formats/tsv.md, "Reading". */
static void
test_parse(void)
{
	static const struct {
		const char *line;
		int rc, has_rx, incomplete;
		int64_t rx;
		const char *text;
	} cases[] = {
		{"", 0, 0, 0, 0, ""},
		{"\r", 0, 0, 0, 0, ""},
		{"5\t{}", 1, 1, 0, 5, "{}"},
		{"5\t{}\r", 1, 1, 0, 5, "{}"},
		{"-5\tx\ty", 1, 1, 0, -5, "x\ty"},
		{"007\tx", 1, 1, 0, 7, "x"},
		{"5\t", 1, 1, 0, 5, ""},
		{"253402300799999999\tx", 1, 1, 0, EVT_RX_MAX, "x"},
		{"-62135596800000000\tx", 1, 1, 0, EVT_RX_MIN, "x"},
		{"253402300800000000\tx", EVT_ERR_ARG, 0, 0, 0, ""},
		{"-62135596800000001\tx", EVT_ERR_ARG, 0, 0, 0, ""},
		{"99999999999999999999999999\tx", EVT_ERR_ARG, 0, 0, 0, ""},
		{"5:esc\ta\\nb\\rc\\\\d", 1, 1, 0, 5, "a\nb\rc\\d"},
		{"5:esc\tbad\\t", EVT_ERR_ARG, 0, 0, 0, ""},
		{"5:esc\tends\\", EVT_ERR_ARG, 0, 0, 0, ""},
		{"5:incomplete\t{\"events\":[]}", 1, 1, 1, 5, "{\"events\":[]}"},
		{"5:bogus\tx", EVT_ERR_ARG, 0, 0, 0, ""},
		{"5:esc", EVT_ERR_ARG, 0, 0, 0, ""},
		{"5:", EVT_ERR_ARG, 0, 0, 0, ""},
		/* Not a receive time: the whole line is the frame. */
		{"{\"events\":[]}", 1, 0, 0, 0, "{\"events\":[]}"},
		{"-\tx", 1, 0, 0, 0, "-\tx"},
		{"5x\ty", 1, 0, 0, 0, "5x\ty"},
		{"5", 1, 0, 0, 0, "5"},
		{"5 \tx", 1, 0, 0, 0, "5 \tx"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct evt_tsv_line l;
		char text[256];
		int rc = parse(cases[i].line, &l, text, sizeof text);
		int ok = rc == cases[i].rc;
		if (ok && rc == 1)
			ok = l.has_rx == cases[i].has_rx &&
			    l.incomplete == cases[i].incomplete &&
			    (!l.has_rx || l.rx_us == cases[i].rx) &&
			    strcmp(text, cases[i].text) == 0;
		if (ok && rc < 0)
			ok = l.err != NULL;
		T_OK(ok, "line %zu parses as formats/tsv.md says", i);
		if (!ok)
			printf("#   rc %d has_rx %d rx %lld text '%s'\n", rc,
			    l.has_rx, (long long)l.rx_us, text);
	}
}

/* Any bytes, any receive time in range: the line parses back to them. */
static void
test_round_trip(void)
{
	struct evt_buf out = {0};
	int bad = 0, esc = 0;
	for (int k = 0; k < 20000; k++) {
		char f[64];
		size_t n = rng() % sizeof f;
		for (size_t i = 0; i < n; i++) {
			/* Weighted towards the bytes that matter. */
			static const char special[] = "\n\r\\\t:-0";
			f[i] = rng() % 3 == 0 ? special[rng() % 7] :
			    (char)(rng() & 0xff);
		}
		int64_t rx = (int64_t)(rng() % (uint64_t)EVT_RX_MAX);
		if (rng() % 2)
			rx = -(rx % -EVT_RX_MIN);
		int inc = rng() % 5 == 0;
		out.len = 0;
		if (evt_tsv_put(&out, rx, f, n, inc) != 0)
			abort();
		char *nl = memchr(out.p, '\n', out.len);
		struct evt_tsv_line l;
		const char *h = (const char *)out.p;
		while (*h != ':' && *h != '\t') /* the head has one */
			h++;
		esc += h[0] == ':' && h[1] == 'e'; /* ":esc", not ":incomplete" */
		if (nl == NULL || (size_t)(nl - (char *)out.p) != out.len - 1 ||
		    evt_tsv_parse((char *)out.p, out.len - 1, &l) != 1 ||
		    !l.has_rx || l.rx_us != rx || l.len != n ||
		    memcmp(l.text, f, n) != 0 ||
		    (l.incomplete && !inc)) {
			if (bad++ < 3)
				printf("#   round trip %d failed (len %zu)\n", k,
				    n);
		}
	}
	T_EQ(bad, 0, "20000 random frames come back from their lines "
	    "(%d of them as :esc lines)", esc);
	evt_buf_free(&out);
}

int
main(void)
{
	test_parse();
	test_round_trip();
	T_DONE();
}
