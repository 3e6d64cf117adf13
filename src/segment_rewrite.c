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
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/segment.h"

/* A frame being rebuilt from its header and items. */
struct frame {
	int open;
	uint32_t left, emitted;
	int64_t rx;
	struct evt_buf head, tail, items;
};

/* Writes the rebuilt frame to w. */
static int
frame_flush(struct frame *f, struct evt_segw *w)
{
	if (!f->open)
		return 0;
	f->open = 0;
	if (evt_buf_put(&f->head, f->items.p, f->items.len) != 0 ||
	    evt_buf_put(&f->head, f->tail.p, f->tail.len) != 0)
		return EVT_ERR_NOMEM;
	int rc = evt_segw_frame(w, f->rx, (const char *)f->head.p,
	    f->head.len);
	return rc < 0 ? rc : 1;
}

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
	struct frame f = {0};
	struct evt_rec rec;
	evt_segr_rewind(r, INT64_MIN);
	while ((rc = evt_segr_next(r, &rec, NULL)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(r);
		if (rec.kind == EVT_K_STRDEF || rec.kind == EVT_K_SHAPEDEF)
			continue;
		int is_item = rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM;
		if (f.open && (!is_item || f.left == 0)) {
			if ((rc = frame_flush(&f, w)) < 0)
				break;
			st->frames++;
		}
		if (is_item) {
			if (!f.open) {
				st->dropped++; /* its header was lost */
				continue;
			}
			size_t mark = f.items.len;
			f.left--;
			if (f.emitted > 0 && evt_buf_putc(&f.items, ',') != 0) {
				rc = EVT_ERR_NOMEM;
				break;
			}
			rc = evt_rdec_item_json(d, &rec, &f.items);
			if (rc == EVT_ERR_NOMEM)
				break;
			if (rc < 0) {
				f.items.len = mark; /* cannot be read: drop */
				st->dropped++;
				if (cb != NULL)
					cb(cbarg, src, rec.off, d->err);
				continue;
			}
			f.emitted++;
			continue;
		}
		f.head.len = f.tail.len = f.items.len = 0;
		rc = evt_rdec_frame_head(d, &rec, &f.head, &f.tail);
		if (rc == EVT_ERR_NOMEM)
			break;
		if (rc < 0) {
			st->dropped++;
			continue;
		}
		if (rec.kind == EVT_K_MSG || rec.kind == EVT_K_STATES) {
			f.open = 1;
			f.left = rec.nitems;
			f.emitted = 0;
			f.rx = rec.rx_us;
			continue;
		}
		if (rec.kind >= EVT_K_SESSION)
			rc = evt_segw_marker(w, rec.kind, rec.rx_us,
			    (const char *)f.head.p, f.head.len);
		else
			rc = evt_segw_frame(w, rec.rx_us,
			    (const char *)f.head.p, f.head.len);
		if (rc < 0)
			break;
		st->frames++;
	}
	if (rc >= 0 && f.open) {
		rc = frame_flush(&f, w);
		st->frames++;
	}
	evt_buf_free(&f.head);
	evt_buf_free(&f.tail);
	evt_buf_free(&f.items);
	st->problems = evt_segr_errors(r);
	evt_segr_close(r);
	if (rc < 0) {
		evt_segw_close(w);
		return rc;
	}
	st->events = evt_segw_events(w);
	return evt_segw_seal(w);
}
