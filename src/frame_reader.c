/*
 * frame_reader.c: rebuilds whole received frames (gateway messages,
 * getState responses, other JSON, raw frames, markers) from a segment's
 * records: a header record, then its items.  One mechanism for everyone
 * who needs frames back: `evtool cat --messages/--tsv`, repair and
 * compaction (segment_rewrite.c), and later replay.
 *
 * A frame is complete when its header's item count has been read, or,
 * when damage took items with it, when the next framed record arrives;
 * that record is then kept (the decoder still holds it) and starts the
 * next call.
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/segment.h"

/* Initialises a frame reader over r (borrowed). */
void
evt_frames_init(struct evt_frames *fr, struct evt_segr *r,
    evt_frame_keep_cb keep, void *keep_arg, evt_seg_err_cb cb, void *cbarg,
    const char *path)
{
	memset(fr, 0, sizeof *fr);
	fr->r = r;
	fr->keep = keep;
	fr->keep_arg = keep_arg;
	fr->cb = cb;
	fr->cbarg = cbarg;
	fr->path = path;
}

/* Frees the reader's buffers (not the segment reader). */
void
evt_frames_free(struct evt_frames *fr)
{
	evt_buf_free(&fr->f.text);
	evt_buf_free(&fr->f.flat);
	evt_buf_free(&fr->f.sids);
	evt_buf_free(&fr->tail);
	free(fr->f.span);
	fr->f.span = NULL;
	fr->f.span_cap = 0;
}

/* Puts the reader in flat mode; see segment.h. */
void
evt_frames_flat(struct evt_frames *fr)
{
	fr->flat = 1;
}

/* Notes where kept item f->kept lies: from start to the end of the text
 * (of the flat items if f->is_flat). */
static int
frames_span(struct evt_frame *f, size_t start)
{
	if (f->kept >= f->span_cap) {
		uint32_t cap = f->span_cap ? 2 * f->span_cap : 16;
		size_t *p = realloc(f->span, 2 * (size_t)cap * sizeof *p);
		if (p == NULL)
			return EVT_ERR_NOMEM;
		f->span = p;
		f->span_cap = cap;
	}
	f->span[2 * (size_t)f->kept] = start;
	f->span[2 * (size_t)f->kept + 1] = f->is_flat ? f->flat.len :
	    f->text.len;
	return 0;
}

/* Reports a record that cannot be rendered. */
static void
frames_report(struct evt_frames *fr, const struct evt_rec *rec)
{
	struct evt_rdec *d = evt_segr_decoder(fr->r);
	fr->dropped++;
	if (fr->cb != NULL)
		fr->cb(fr->cbarg, fr->path, rec->off,
		    d->err != NULL ? d->err : "record cannot be rendered");
}

/* Closes the open frame: appends its tail. */
static int
frames_finish(struct evt_frames *fr)
{
	fr->open = 0;
	if (evt_buf_put(&fr->f.text, fr->tail.p, fr->tail.len) != 0)
		return EVT_ERR_NOMEM;
	return 1;
}

/* Returns the next whole frame; see segment.h. */
int
evt_frames_next(struct evt_frames *fr, struct evt_frame **out)
{
	struct evt_frame *f = &fr->f;
	*out = f;
	for (;;) {
		struct evt_rec *rec = &fr->rec;
		int rc;
		if (fr->pending) {
			fr->pending = 0; /* still the decoder's current record */
		} else {
			rc = evt_segr_next(fr->r, rec, NULL);
			if (rc <= 0) {
				if (rc == 0 && fr->open)
					return frames_finish(fr);
				return rc;
			}
		}
		struct evt_rdec *d = evt_segr_decoder(fr->r);
		if (rec->kind == EVT_K_STRDEF || rec->kind == EVT_K_SHAPEDEF)
			continue;
		int is_item = rec->kind == EVT_K_EVENT || rec->kind == EVT_K_ITEM;
		if (!is_item && fr->open) {
			/* Items were lost: the frame ends here and this record
			 * starts the next call. */
			fr->pending = 1;
			return frames_finish(fr);
		}
		if (is_item) {
			if (!fr->open) {
				frames_report(fr, rec); /* its header was lost */
				fr->lost += rec->kind == EVT_K_EVENT &&
				    f->kind == EVT_K_MSG;
				continue;
			}
			fr->left--;
			if (fr->keep == NULL || fr->keep(fr->keep_arg, f->kind,
			    f->kept, d, rec)) {
				struct evt_buf *b = f->is_flat ? &f->flat :
				    &f->text;
				size_t mark = b->len;
				int comma = f->kept > 0 && !f->is_flat;
				if (comma && evt_buf_putc(b, ',') != 0)
					return EVT_ERR_NOMEM;
				rc = f->is_flat ? evt_rdec_event_flat(d, rec, b,
				    &f->sids) : evt_rdec_item_json(d, rec, b);
				if (rc == EVT_ERR_NOMEM)
					return rc;
				if (rc < 0) {
					b->len = mark;
					frames_report(fr, rec);
					fr->lost += rec->kind == EVT_K_EVENT &&
					    f->kind == EVT_K_MSG;
				} else {
					if (frames_span(f, mark + comma) != 0)
						return EVT_ERR_NOMEM;
					f->kept++;
				}
			}
			if (fr->left == 0)
				return frames_finish(fr);
			continue;
		}
		f->kind = rec->kind;
		f->rx_us = rec->rx_us;
		f->nitems = rec->nitems;
		f->kept = 0;
		f->text.len = 0;
		f->flat.len = 0;
		f->sids.len = 0;
		f->is_flat = fr->flat && rec->kind == EVT_K_MSG;
		rc = evt_rdec_frame_head(d, rec, &f->text, &fr->tail);
		if (rc == EVT_ERR_NOMEM)
			return rc;
		if (rc < 0) {
			frames_report(fr, rec);
			continue;
		}
		f->head_len = f->text.len;
		if (rec->kind != EVT_K_MSG && rec->kind != EVT_K_STATES)
			return 1;
		fr->open = 1;
		fr->left = rec->nitems;
		if (fr->left == 0)
			return frames_finish(fr);
	}
}
