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

#include "evtape/buf.h"
#include "evtape/ckpt.h"
#include "evtape/err.h"
#include "evtape/segment.h"

/* Rewrites src into a new sealed segment at dst; see segment.h. */
int
evt_seg_rewrite(const char *src, const char *dst,
    const struct evt_segw_opts *opts, const uint8_t uuid[16],
    evt_seg_err_cb cb, void *cbarg, struct evt_rewrite_stats *st)
{
	return evt_seg_rewrite_ckpt(src, dst, opts, uuid, NULL, cb, cbarg, st);
}

/* The same, with the state checkpoint given; see segment.h. */
int
evt_seg_rewrite_ckpt(const char *src, const char *dst,
    const struct evt_segw_opts *opts, const uint8_t uuid[16],
    const struct evt_buf *ckpt, evt_seg_err_cb cb, void *cbarg,
    struct evt_rewrite_stats *st)
{
	struct evt_segr *r;
	memset(st, 0, sizeof *st);
	int rc = evt_segr_open(src, cb, cbarg, &r);
	if (rc != 0)
		return rc;
	const struct evt_seg_info *si = evt_segr_info(r);
	struct evt_segw *w = NULL;
	/* The state checkpoint is kept as it is (the same frames give the
	 * same table); a segment without one gets none. */
	struct evt_buf ck = {0};
	size_t cklen = 0;
	const uint8_t *ckp = si->sealed && evt_segr_load_index(r) == 0 ?
	    evt_segr_checkpoint(r, &cklen) : NULL;
	if (ckp != NULL && ckpt != NULL) {
		ckp = ckpt->p;
		cklen = ckpt->len;
	}
	if (ckp != NULL && evt_buf_put(&ck, ckp, cklen) != 0) {
		evt_segr_close(r);
		return EVT_ERR_NOMEM;
	}
	/* The reader goes through the index where it is intact: its
	 * dictionary decodes records whose definitions sat in a damaged
	 * block. */
	struct evt_frames fr;
	struct evt_frame *f;
	evt_segr_rewind(r, INT64_MIN);
	evt_frames_init(&fr, r, NULL, NULL, cb, cbarg, src);
	for (;;) {
		int more = rc = evt_frames_next(&fr, &f);
		if (rc < 0)
			break;
		if (w == NULL) {
			/* Created once the first frame is known: a damaged
			 * header's creation time is taken to be that
			 * frame's receive time, as a writer sets it. */
			int64_t created = !si->hdr_damaged ? si->created_us :
			    more ? f->rx_us : 0;
			rc = evt_segw_create(dst, si->seq, uuid != NULL ? uuid :
			    si->uuid, created, opts, &w);
			if (rc != 0) {
				w = NULL;
				break;
			}
		}
		if (!more)
			break;
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
	if (rc == 0 && ckpt == NULL && (st->dropped > 0 || st->problems > 0) &&
	    ck.len > 0) {
		/* Frames lost: the table at the end is not known. */
		struct evt_ckb *b = evt_ckb_new();
		ck.len = 0;
		rc = b == NULL || evt_ckb_pack(b, &ck) != 0 ? EVT_ERR_NOMEM : 0;
		evt_ckb_free(b);
	}
	if (rc == 0)
		rc = evt_segw_set_checkpoint(w, ck.p, ck.len);
	evt_buf_free(&ck);
	if (rc < 0) {
		evt_segw_close(w);
		return rc;
	}
	st->events = evt_segw_events(w);
	return evt_segw_seal(w);
}
