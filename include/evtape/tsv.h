/*
 * tsv.h: received frames as lines, "<rx>[:<tag>]\t<text>" (formats/tsv.md):
 * what `evtool cat --tsv` and `evplay --tsv` write and `evtool import`
 * reads.  Sans-I/O: one line in, one line out.
 */
#ifndef EVTAPE_TSV_H
#define EVTAPE_TSV_H

#include <stddef.h>
#include <stdint.h>

#include "evtape/buf.h"

/*
 * Appends the line of one frame, LF included, to out: rx_us (within
 * EVT_RX_MIN..EVT_RX_MAX), then the tag "esc" when text holds an LF or CR
 * byte (written escaped) or "incomplete" when incomplete is set (a MSG or
 * STATES frame that lost items to damage), then TAB and the text.
 * Returns 0 or EVT_ERR_NOMEM.
 */
int evt_tsv_put(struct evt_buf *out, int64_t rx_us, const char *text,
    size_t len, int incomplete);

/* One parsed line; text points into the caller's line. */
struct evt_tsv_line {
	int has_rx;	  /* 0: the line had no receive time (the whole line
			     is the frame; the caller picks the time) */
	int64_t rx_us;
	int incomplete;	  /* tagged "incomplete" */
	char *text;
	size_t len;
	const char *err;  /* why the line was refused (static text) */
};

/*
 * Parses line[0..len), its LF already removed (one CR before it is
 * removed here).  An "esc" text is unescaped in place.  Returns 1 for a
 * frame, 0 for an empty line, or EVT_ERR_ARG with l->err set for a line
 * that must be refused: a receive time out of range, an unknown tag, a
 * bad escape.
 */
int evt_tsv_parse(char *line, size_t len, struct evt_tsv_line *l);

#endif
