/*
 * segment_rewrite.c: writes a new sealed segment from everything that
 * reads in an existing one.
 *
 * Two users: `evtool repair` (a damaged or torn segment becomes whole) and
 * compaction at seal time (a segment written in small blocks, as a
 * recorder at a low event rate writes them for durability, becomes one of
 * large blocks, which compress better).  Frames are rebuilt as JSON text
 * and encoded again, which is lossless by the record codec's contract and
 * keeps every receive time, message grouping and marker.
 */
#include <string.h>

#include "evtape/err.h"
#include "evtape/segment.h"

/* Rewrites src into a new sealed segment at dst; see segment.h. */
int
evt_seg_rewrite(const char *src, const char *dst,
    const struct evt_segw_opts *opts, evt_seg_err_cb cb, void *cbarg,
    struct evt_rewrite_stats *st)
{
	struct evt_segr *r;
	memset(st, 0, sizeof *st);
	int rc = evt_segr_open(src, cb, cbarg, &r);
	if (rc != 0)
		return rc;
	const struct evt_seg_info *si = evt_segr_info(r);
	struct evt_segw *w;
	rc = evt_segw_create(dst, si->seq, si->uuid, si->created_us, opts, &w);
	if (rc != 0) {
		evt_segr_close(r);
		return rc;
	}
	/* The reader goes through the index where it is intact: its
	 * dictionary decodes records whose definitions sat in a damaged
	 * block. */
	struct evt_frames fr;
	struct evt_frame *f;
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, NULL, NULL, cb, cbarg, src);
	while ((rc = evt_frames_next(&fr, &f)) == 1) {
		if (f->kind >= EVT_K_SESSION)
			rc = evt_segw_marker(w, f->kind, f->rx_us,
			    (const char *)f->text.p, f->text.len);
		else
			rc = evt_segw_frame(w, f->rx_us, (const char *)f->text.p,
			    f->text.len);
		if (rc < 0)
			break;
		st->frames++;
	}
	st->dropped = fr.dropped;
	evt_frames_free(&fr);
	st->problems = evt_segr_errors(r);
	evt_segr_close(r);
	if (rc < 0) {
		evt_segw_close(w);
		return rc;
	}
	st->events = evt_segw_events(w);
	return evt_segw_seal(w);
}
