/*
 * tsv.c: the line form of received frames (formats/tsv.md).
 *
 * A line is "<rx>[:<tag>]\t<text>\n".  Rebuilt JSON never holds a control
 * byte, so only raw frames can hold the LF or CR that would break a line;
 * those, and only those, are written with the tag "esc" and their
 * backslashes, LFs and CRs escaped.  A message that lost items to damage
 * is tagged "incomplete", so that what reads the line does not take it
 * for what was received.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/tsv.h"

/* Appends the line of one frame; see tsv.h. */
int
evt_tsv_put(struct evt_buf *out, int64_t rx_us, const char *text,
    size_t len, int incomplete)
{
	char head[48];
	int esc = memchr(text, '\n', len) != NULL ||
	    memchr(text, '\r', len) != NULL;
	int n = snprintf(head, sizeof head, "%" PRId64 "%s\t", rx_us,
	    esc ? ":esc" : incomplete ? ":incomplete" : "");
	if (evt_buf_put(out, head, (size_t)n) != 0)
		return EVT_ERR_NOMEM;
	if (!esc)
		return evt_buf_put(out, text, len) == 0 &&
		    evt_buf_putc(out, '\n') == 0 ? 0 : EVT_ERR_NOMEM;
	if (evt_buf_grow(out, 2 * len + 1) != 0)
		return EVT_ERR_NOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (c == '\\' || c == '\n' || c == '\r') {
			out->p[out->len++] = '\\';
			c = c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
		}
		out->p[out->len++] = (uint8_t)c;
	}
	out->p[out->len++] = '\n';
	return 0;
}

/* Undoes the "esc" escaping of s[0..*len) in place; -1 on a bad escape. */
static int
unesc(char *s, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < *len; i++) {
		char c = s[i];
		if (c == '\\') {
			if (++i == *len)
				return -1;
			c = s[i] == 'n' ? '\n' : s[i] == 'r' ? '\r' :
			    s[i] == '\\' ? '\\' : 0;
			if (c == 0)
				return -1;
		}
		s[o++] = c;
	}
	*len = o;
	return 0;
}

/* Parses one line; see tsv.h. */
int
evt_tsv_parse(char *line, size_t len, struct evt_tsv_line *l)
{
	memset(l, 0, sizeof *l);
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;
	size_t i = line[0] == '-', d = i;
	while (i < len && line[i] >= '0' && line[i] <= '9')
		i++;
	if (i == d || i == len || (line[i] != '\t' && line[i] != ':')) {
		l->text = line; /* no receive time: the whole line */
		l->len = len;
		return 1;
	}
	/* The value, without overflow: anything past the range is out. */
	uint64_t mag = 0, lim = d ? (uint64_t)-EVT_RX_MIN : EVT_RX_MAX;
	for (size_t k = d; k < i; k++) {
		mag = mag * 10 + (uint64_t)(line[k] - '0');
		if (mag > lim) {
			l->err = "receive time out of range (years 0001..9999)";
			return EVT_ERR_ARG;
		}
	}
	l->has_rx = 1;
	l->rx_us = d ? -(int64_t)mag : (int64_t)mag;
	int esc = 0;
	if (line[i] == ':') {
		size_t t = ++i;
		while (i < len && line[i] != '\t')
			i++;
		if (i - t == 3 && memcmp(line + t, "esc", 3) == 0)
			esc = 1;
		else if (i - t == 10 && memcmp(line + t, "incomplete", 10) == 0)
			l->incomplete = 1;
		else {
			l->err = i == len ? "no tab after the receive time" :
			    "unknown tag after the receive time";
			return EVT_ERR_ARG;
		}
		if (i == len) {
			l->err = "no tab after the receive time";
			return EVT_ERR_ARG;
		}
	}
	l->text = line + i + 1;
	l->len = len - i - 1;
	if (esc && unesc(l->text, &l->len) != 0) {
		l->err = "bad escape in an \"esc\" line (only \\\\, \\n, \\r)";
		return EVT_ERR_ARG;
	}
	return 1;
}
