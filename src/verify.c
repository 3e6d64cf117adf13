/*
 * verify.c: the archive verifier (see verify.h).
 *
 * A segment is verified in three steps:
 *   1. scan: every block from the header on (evt_segr_force_scan, not
 *      through the block directory), every record rendered as JSON; the
 *      GUID column entries taken by rendered events and the id key and
 *      block of every event are noted;
 *   2. lost ids: when step 1 found damage, the GUID column of every block
 *      whose header checks is walked and each entry no rendered event took
 *      is reported as lost (evt_verify_lost_cb);
 *   3. index: for a sealed segment without damage in step 1, the index is
 *      checked against what step 1 saw: block count and offsets, trailer
 *      event and record counts, every event id found by the id filter
 *      in its block, and the summary (formats/segment.md, "Summary")
 *      equal to the one step 1 counted from the records, as the writer
 *      counts it.
 * Problems go through the program's error callback, counted on the way
 * (vfy_err_cb), so that a segment's problems include those the reading
 * layer reports while the verifier reads it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/ckpt.h"
#include "evtape/err.h"
#include "evtape/record.h"
#include "evtape/summary.h"
#include "evtape/verify.h"
#include "segment_layout.h"

struct evt_verify {
	struct evt_archive *a;
	struct evt_verify_cbs cb;
	uint64_t problems, bad, listed;
	struct evt_ckb *ckb;	/* the state table at the end of segment
				   ck_next - 1, rebuilt from the frames */
	size_t ck_next;
};

/* The GUID column entries of a segment's blocks that rendered events
 * took, in file order: the others are the ids of lost events. */
struct consumed {
	struct {
		uint64_t off;
		uint32_t gi;
	} *e;
	size_t n, cap, at;
};

/* The verification of one segment under way. */
struct vseg {
	struct evt_verify *v;
	const char *path;
	struct evt_segr *r;
	struct evt_buf tmp, tail;
	uint64_t events, records;
	uint64_t *ids, *blks;	/* id key and block number of each event */
	size_t nids, capids;
	struct consumed cons;
	struct evt_blkent *sb;	/* the blocks the scan found */
	uint32_t nscan;
	int in_msg, err;
	struct evt_sumb *sumb;	/* the summary of the records scanned */
	struct evt_buf sum;	/* ... packed (empty: none) */
};

/* Segment error callback of the verifier: counts, then tells the program. */
static void
vfy_err_cb(void *arg, const char *path, uint64_t off, const char *what)
{
	struct evt_verify *v = arg;
	v->problems++;
	if (v->cb.err != NULL)
		v->cb.err(v->cb.arg, path, off, what);
}

/* Archive warning callback of the verifier: passed on. */
static void
vfy_warn_cb(void *arg, const char *msg)
{
	struct evt_verify *v = arg;
	if (v->cb.warn != NULL)
		v->cb.warn(v->cb.arg, msg);
}

/* Opens the archive for verification; see verify.h. */
int
evt_verify_open(const char *dir, int flags, const struct evt_verify_cbs *cbs,
    struct evt_verify **out)
{
	struct evt_verify *v = calloc(1, sizeof *v);
	if (v == NULL)
		return EVT_ERR_NOMEM;
	v->cb = *cbs;
	int rc = evt_archive_open(dir, flags, NULL, vfy_err_cb, vfy_warn_cb, v,
	    &v->a);
	if (rc != 0) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* The archive being verified. */
struct evt_archive *
evt_verify_archive(struct evt_verify *v)
{
	return v->a;
}

/* Closes the archive and frees v. */
void
evt_verify_close(struct evt_verify *v)
{
	if (v == NULL)
		return;
	evt_archive_close(v->a);
	evt_ckb_free(v->ckb);
	free(v);
}

/* Reports a problem of the segment under way at offset off. */
static void
vs_report(struct vseg *vs, uint64_t off, const char *what)
{
	vfy_err_cb(vs->v, vs->path, off, what);
}

/* Keeps the first error of vs; returns it. */
static int
vs_fail(struct vseg *vs, int rc)
{
	if (rc == EVT_ERR_NOMEM && vs->err == 0)
		vs->err = rc;
	return vs->err;
}

/* Notes the column entries of an event that rendered. */
static void
consumed_add(struct vseg *vs, uint64_t boff, const struct evt_rdec *d,
    const struct evt_rec *rec)
{
	struct consumed *c = &vs->cons;
	const struct evt_shape *sh = &d->dict->shape[rec->shape];
	for (uint32_t g = 0; g < sh->nfield - sh->nval; g++) {
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 4096;
			void *e = realloc(c->e, cap * sizeof *c->e);
			if (e == NULL) {
				vs_fail(vs, EVT_ERR_NOMEM);
				return;
			}
			c->e = e;
			c->cap = cap;
		}
		c->e[c->n].off = boff;
		c->e[c->n++].gi = rec->guid0 + g;
	}
}

/* Notes the id key of an event of a message and the block holding it, for
 * the id filter check. */
static void
note_id(struct vseg *vs, struct evt_rdec *d, const struct evt_rec *rec)
{
	char id[EVT_REC_MAX_INTERN + 1];
	int n = evt_rdec_field(d, rec, "id", id, sizeof id);
	if (n < 0)
		return;
	if (vs->nids == vs->capids) {
		size_t cap = vs->capids ? 2 * vs->capids : 4096;
		uint64_t *ids = realloc(vs->ids, cap * 8);
		if (ids != NULL)
			vs->ids = ids;
		uint64_t *blks = realloc(vs->blks, cap * 8);
		if (blks != NULL)
			vs->blks = blks;
		if (ids == NULL || blks == NULL) {
			vs_fail(vs, EVT_ERR_NOMEM);
			return;
		}
		vs->capids = cap;
	}
	uint32_t nb;
	evt_segr_blocks(vs->r, &nb);
	vs->ids[vs->nids] = evt_id_key(id, (size_t)n);
	vs->blks[vs->nids++] = nb - 1;
}

/* Step 1 for an EVENT or ITEM record: rendered, its column entries and id
 * noted; one that does not render is reported and counted as lost. */
static void
scan_item(struct vseg *vs, struct evt_rdec *d, const struct evt_rec *rec,
    uint64_t boff)
{
	int rc = evt_rdec_item_json(d, rec, &vs->tmp);
	if (rc == EVT_ERR_CORRUPT) {
		vs_report(vs, boff, d->err);
		evt_archive_add_lost(vs->v->a, rec->kind == EVT_K_EVENT &&
		    vs->in_msg);
	} else if (rc == 0 && rec->kind == EVT_K_EVENT) {
		consumed_add(vs, boff, d, rec);
	}
	vs_fail(vs, rc);
	if (rec->kind == EVT_K_EVENT && vs->in_msg) {
		vs->events++;
		note_id(vs, d, rec);
	}
}

/* Step 1 for a frame header or marker: counted, its head rendered. */
static void
scan_frame(struct vseg *vs, struct evt_rdec *d, const struct evt_rec *rec,
    uint64_t boff)
{
	vs->in_msg = rec->kind == EVT_K_MSG;
	int rc = evt_rdec_frame_head(d, rec, &vs->tmp, &vs->tail);
	if (rc == EVT_ERR_CORRUPT)
		vs_report(vs, boff, d->err);
	vs_fail(vs, rc);
}

/* Step 1: every block from the header on, every record rendered; keeps
 * the block directory the scan built. */
static void
scan(struct vseg *vs)
{
	struct evt_rec rec;
	uint64_t boff;
	int rc = 0;
	uint64_t cur = UINT64_MAX;
	evt_segr_force_scan(vs->r);
	evt_segr_rewind(vs->r, INT64_MIN);
	while (vs->err == 0 && (rc = evt_segr_next(vs->r, &rec, &boff)) == 1) {
		struct evt_rdec *d = evt_segr_decoder(vs->r);
		if (boff != cur) {
			cur = boff;
			evt_segr_blocks(vs->r, &vs->nscan);
			evt_sumb_block(vs->sumb, vs->nscan - 1);
		}
		vs_fail(vs, evt_sumb_record(vs->sumb, d, &rec));
		vs->records++;
		vs->tmp.len = 0;
		if (rec.kind == EVT_K_EVENT || rec.kind == EVT_K_ITEM)
			scan_item(vs, d, &rec, boff);
		else if (rec.kind != EVT_K_STRDEF && rec.kind != EVT_K_SHAPEDEF)
			scan_frame(vs, d, &rec, boff);
	}
	if (vs->err != 0 || vs_fail(vs, rc) != 0 ||
	    vs_fail(vs, evt_sumb_pack(vs->sumb, evt_segr_decoder(vs->r)->dict,
	    &vs->sum)) != 0)
		return;
	const struct evt_blkent *scanned = evt_segr_blocks(vs->r, &vs->nscan);
	vs->sb = malloc((vs->nscan + 1) * sizeof *vs->sb);
	if (vs->sb == NULL) {
		vs_fail(vs, EVT_ERR_NOMEM);
		return;
	}
	if (vs->nscan > 0) /* (no readable block: scanned may be NULL) */
		memcpy(vs->sb, scanned, vs->nscan * sizeof *vs->sb);
}

/* Reports the column entries of a block that no rendered event took as
 * lost events (evt_segr_columns callback). */
static void
lost_ids_cb(void *arg, uint64_t boff, uint32_t flags, const uint8_t *guids,
    uint32_t nguid, const uint8_t *bad)
{
	struct vseg *vs = arg;
	struct consumed *c = &vs->cons;
	while (c->at < c->n && c->e[c->at].off < boff)
		c->at++;
	for (uint32_t g = 0; g < nguid; g++) {
		if (c->at < c->n && c->e[c->at].off == boff &&
		    c->e[c->at].gi == g) {
			c->at++;
			continue;
		}
		char id[37];
		evt_guid_format(guids + EVT_GUID_SIZE * (size_t)g, id);
		id[36] = 0;
		vs->v->listed++;
		if (vs->v->cb.lost != NULL)
			vs->v->cb.lost(vs->v->cb.arg, vs->path, boff,
			    bad != NULL && bad[g] ? NULL : id, g);
	}
}

/* Step 2: the ids of lost events, from the GUID columns (a damaged block's
 * payload may be damaged where its column is intact). */
static void
list_lost(struct vseg *vs)
{
	int rc = evt_segr_columns(vs->r, lost_ids_cb, vs);
	if (rc == EVT_ERR_IO)
		vs_report(vs, 0, "cannot read the GUID columns");
	vs_fail(vs, rc);
}

/* Step 3, the block directory and trailer of index reader r against what
 * the scan saw. */
static void
check_blocks(struct vseg *vs, struct evt_segr *r)
{
	const struct evt_seg_info *si = evt_segr_info(r);
	uint32_t nb;
	const struct evt_blkent *bl = evt_segr_blocks(r, &nb);
	if (nb != vs->nscan)
		vs_report(vs, si->data_end,
		    "index lists a different number of blocks");
	for (uint32_t i = 0; i < nb && i < vs->nscan; i++)
		if (bl[i].off != vs->sb[i].off) {
			vs_report(vs, bl[i].off,
			    "index block offset disagrees");
			break;
		}
	uint64_t trailer = si->size - EVT_TRAILER_SIZE;
	if (si->nevents != vs->events)
		vs_report(vs, trailer, "trailer event count disagrees");
	if (si->nrecords != vs->records)
		vs_report(vs, trailer, "trailer record count disagrees");
}

/* Step 3, the id filter of index reader r: every id found, pointing at
 * its block. */
static void
check_filter(struct vseg *vs, struct evt_segr *r)
{
	uint32_t nb;
	evt_segr_blocks(r, &nb);
	uint64_t missing = 0;
	if (evt_segr_check_filter(r) == 0 && nb == vs->nscan)
		for (size_t i = 0; i < vs->nids; i++) {
			uint32_t first, cnt;
			if (evt_segr_probe(r, vs->ids[i], &first, &cnt) != 1 ||
			    vs->blks[i] < first || vs->blks[i] - first >= cnt)
				missing++;
		}
	if (missing > 0) {
		char msg[96];
		snprintf(msg, sizeof msg, "id filter misses %" PRIu64 " events",
		    missing);
		vs_report(vs, evt_segr_info(r)->size - EVT_TRAILER_SIZE, msg);
	}
}

/* Writes into msg what differs first between summaries a (the index's)
 * and b (the blocks'), both complete; 0 if nothing does. */
static int
sum_differs(const struct evt_sum *a, const struct evt_sum *b, char *msg,
    size_t cap)
{
#define DIFF(what, x, y) do { if ((x) != (y)) { snprintf(msg, cap, \
	"summary disagrees with the blocks: %s %" PRId64 " in the index, %" \
	PRId64 " in the blocks", what, (int64_t)(x), (int64_t)(y)); \
	return 1; } } while (0)
	DIFF("events", a->events, b->events);
	DIFF("messages", a->messages, b->messages);
	for (int k = 0; k <= EVT_K_MAX; k++)
		DIFF(evt_kind_name(k), a->frames[k], b->frames[k]);
	if (a->events > 0) {
		DIFF("first_rx", a->first_rx, b->first_rx);
		DIFF("last_rx", a->last_rx, b->last_rx);
	}
	DIFF("types", a->ntypes, b->ntypes);
	DIFF("sources", a->nsources, b->nsources);
	for (uint32_t i = 0; i < a->ntypes; i++)
		DIFF("count of a type", a->types[i].count, b->types[i].count);
	for (uint32_t i = 0; i < a->nsources; i++)
		DIFF("count of a source", a->sources[i].count,
		    b->sources[i].count);
	DIFF("buckets", a->nbuckets, b->nbuckets);
	for (uint32_t i = 0; i < a->nbuckets; i++) {
		DIFF("bucket second", a->buckets[i].k, b->buckets[i].k);
		DIFF("bucket count", a->buckets[i].count, b->buckets[i].count);
	}
	DIFF("config markers placed", a->has_config, b->has_config);
	DIFF("config marker block", a->config.block, b->config.block);
	DIFF("config marker frame", a->config.frame, b->config.frame);
	DIFF("snapshot positions", a->nstates, b->nstates);
	for (uint32_t i = 0; i < a->nstates; i++) {
		DIFF("snapshot block", a->states[i].block, b->states[i].block);
		DIFF("snapshot frame", a->states[i].frame, b->states[i].frame);
	}
#undef DIFF
	snprintf(msg, cap, "summary disagrees with the blocks: a type or "
	    "source name, or a receive time of a position");
	return 1;
}

/*
 * Step 3, the summary of index reader r (if it has one): equal to the one
 * counted from the records in step 1, else reported with what differs.
 * Byte-equal summaries agree; others are compared decoded, so that an
 * encoding a writer may choose differently (formats/segment.md) is no
 * disagreement.
 */
static void
check_summary(struct vseg *vs, struct evt_segr *r)
{
	size_t len;
	const uint8_t *p = evt_segr_summary(r, &len);
	if (p == NULL || (len == vs->sum.len && memcmp(p, vs->sum.p, len) == 0))
		return;
	uint32_t nb;
	const char *why;
	char msg[160];
	struct evt_sum a, b;
	const struct evt_dict *d = evt_segr_decoder(r)->dict;
	evt_segr_blocks(r, &nb);
	int ra = evt_sum_decode(p, len, d, nb, &a, &why);
	int rb = evt_sum_decode(vs->sum.p, vs->sum.len, d, nb, &b, &why);
	if (ra == EVT_ERR_NOMEM || rb == EVT_ERR_NOMEM)
		vs_fail(vs, EVT_ERR_NOMEM);
	else if (ra != 0 || rb != 0)
		snprintf(msg, sizeof msg, "summary does not decode: %s", why);
	else if (a.complete != b.complete)
		snprintf(msg, sizeof msg, "summary disagrees with the blocks: "
		    "%s in the index, %s in the blocks", a.complete ? "complete" :
		    "incomplete", b.complete ? "complete" : "incomplete");
	else if (!a.complete || !sum_differs(&a, &b, msg, sizeof msg))
		msg[0] = 0;
	if (vs->err == 0 && msg[0] != 0)
		vs_report(vs, evt_segr_info(r)->data_end, msg);
	evt_sum_free(&a);
	evt_sum_free(&b);
}

/*
 * Step 3, the state checkpoint of index reader r, segment i (if it has
 * one): equal to the table rebuilt from the archive's frames up to the
 * segment's end.  An incomplete one says nothing to check; one whose base
 * is gone (retention) is not used by readers; after damage in an earlier
 * segment (reported) the table is not known until a STATES frame.
 */
static void
check_checkpoint(struct vseg *vs, struct evt_segr *r, size_t i)
{
	struct evt_verify *v = vs->v;
	struct evt_ckpt st, re;
	const char *why;
	char msg[160];
	int rc = evt_ckpt_of(r, evt_archive_segment_seq(v->a, i), &st, &why);
	msg[0] = 0;
	if (rc == EVT_ERR_CORRUPT)
		snprintf(msg, sizeof msg, "state checkpoint does not decode: %s",
		    why);
	else if (rc != 0)
		vs_fail(vs, rc == EVT_ERR_NOMEM ? rc : 0);
	else if (!st.complete || !evt_ckpt_based(&st, v->a, i) ||
	    v->ckb == NULL || !evt_ckb_known(v->ckb))
		;
	else if (evt_ckb_view(v->ckb, &re) != 0)
		vs_fail(vs, EVT_ERR_NOMEM);
	else {
		if (!evt_ckpt_equal(&st, &re))
			snprintf(msg, sizeof msg, "state checkpoint disagrees "
			    "with the events (%zu entries in the index, %zu "
			    "rebuilt)", st.n, re.complete ? re.n : 0);
		evt_ckpt_free(&re);
	}
	evt_ckpt_free(&st);
	if (vs->err == 0 && msg[0] != 0)
		vs_report(vs, evt_segr_info(r)->data_end, msg);
}

/* Rebuilds the state table at the end of segment i from its frames
 * (ckpt.h), from the one at the end of segment i - 1 when the segments
 * are verified in order, else not known. */
static int
rebuild_state(struct evt_verify *v, size_t i, const char *path)
{
	if (v->ckb == NULL && (v->ckb = evt_ckb_new()) == NULL)
		return EVT_ERR_NOMEM;
	if (i == 0)
		evt_ckb_start(v->ckb, evt_archive_segment_seq(v->a, 0));
	else if (i != v->ck_next)
		evt_ckb_unknown(v->ckb);
	v->ck_next = i + 1;
	return evt_ckb_segment(v->ckb, path, evt_archive_segment_seq(v->a, i));
}

/* Step 3: the index of a sealed segment agrees with the blocks; after
 * damage (damaged), only its state checkpoint is checked: readers take it
 * as it is, and it holds what the damaged blocks lost. */
static void
check_index(struct vseg *vs, size_t i, int damaged)
{
	struct evt_segr *r;
	if (evt_segr_open(vs->path, damaged ? NULL : vfy_err_cb, vs->v,
	    &r) != 0)
		return;
	if (evt_segr_load_index(r) == 0) {
		if (!damaged) {
			check_blocks(vs, r);
			check_filter(vs, r);
			check_summary(vs, r);
		}
		check_checkpoint(vs, r, i);
	}
	evt_segr_close(r);
}

/* Verifies one segment; see verify.h. */
int
evt_verify_segment(struct evt_verify *v, size_t i, struct evt_verify_seg *out)
{
	size_t nseg;
	struct vseg vs = {.v = v};
	uint64_t before = v->problems;
	vs.path = evt_archive_segments(v->a, &nseg)[i].path;
	memset(out, 0, sizeof *out);
	if (evt_archive_open_segment(v->a, i, &vs.r) != 0) {
		out->problems = v->problems - before + (v->problems == before);
		out->rewrite = 1;
		v->bad++;
		return 0;
	}
	const struct evt_seg_info *si = evt_segr_info(vs.r);
	int sealed = si->sealed, hdr_damaged = si->hdr_damaged;
	if ((vs.sumb = evt_sumb_new()) == NULL)
		vs.err = EVT_ERR_NOMEM;
	else
		scan(&vs);
	if (vs.err == 0 && v->problems > before)
		list_lost(&vs);
	evt_archive_close_segment(v->a, vs.r);
	if (vs.err == 0)
		vs.err = rebuild_state(v, i, vs.path);
	/* After damage only the state checkpoint: the counts then differ
	 * for that reason alone, and one report per damaged place is
	 * enough. */
	if (vs.err == 0 && sealed)
		check_index(&vs, i, v->problems > before);
	free(vs.cons.e);
	free(vs.sb);
	free(vs.ids);
	free(vs.blks);
	evt_sumb_free(vs.sumb);
	evt_buf_free(&vs.sum);
	evt_buf_free(&vs.tmp);
	evt_buf_free(&vs.tail);
	out->problems = v->problems - before;
	out->rewrite = out->problems > 0 || !sealed || hdr_damaged;
	v->bad += out->problems > 0;
	return vs.err;
}

/* The rebuilt state checkpoint; see verify.h. */
int
evt_verify_checkpoint(const struct evt_verify *v, struct evt_buf *out)
{
	out->len = 0;
	return v->ckb != NULL ? evt_ckb_pack(v->ckb, out) : 0;
}

/* The figures so far; see verify.h. */
void
evt_verify_summary(const struct evt_verify *v, struct evt_verify_sum *s)
{
	s->problems = v->problems;
	s->bad = v->bad;
	s->listed = v->listed;
	evt_archive_lost(v->a, &s->lost, &s->unknown);
}

/* The archive's identity; see verify.h. */
int
evt_verify_uuid(struct evt_verify *v, uint8_t uuid[16])
{
	size_t n;
	const struct evt_segref *s = evt_archive_segments(v->a, &n);
	int found = 0;
	for (size_t i = n; i-- > 0 && !found;) {
		struct evt_segr *r;
		if (evt_segr_open(s[i].path, NULL, NULL, &r) != 0)
			continue;
		if (!evt_segr_info(r)->hdr_damaged) {
			memcpy(uuid, evt_segr_info(r)->uuid, 16);
			found = 1;
		}
		evt_segr_close(r);
	}
	return found;
}

/* Words a loss; see verify.h. */
int
evt_verify_lost_text(char *out, size_t cap, uint64_t events,
    uint64_t unknown, const char *verb)
{
	if (cap > 0)
		out[0] = 0;
	if (events == 0 && unknown == 0)
		return 1;
	if (unknown == 0)
		snprintf(out, cap, "%" PRIu64 " events could not be %s", events,
		    verb);
	else
		snprintf(out, cap, "at least %" PRIu64 " events could not be "
		    "%s, and an unknown number more in %" PRIu64 " damaged "
		    "places", events, verb, unknown);
	return 0;
}
