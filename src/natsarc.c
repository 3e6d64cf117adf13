/*
 * natsarc.c: the central archiver, evrec --from-nats (see natsarc.h).
 *
 * One thread, one loop: fetch a batch from the durable pull consumer,
 * write what it holds, and every --flush-interval (or when half of the
 * consumer's MaxAckPending waits) make the archive durable and only then
 * acknowledge the messages written.  Messages are held (not destroyed)
 * until acknowledged, so nothing is copied for the bookkeeping.
 *
 * A write error stops the archiver (status 3) without acknowledging:
 * what it had not made durable is redelivered to the next run, which
 * drops what did reach the disk by id.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/archive.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "evtape/log.h"
#include "evtape/natsarc.h"
#include "evtape/natsio.h"
#include "evtape/record.h"
#include "evtape/recorder.h"
#include "evtape/segment.h"
#include "evtape/select.h"
#include "evtape/timefmt.h"

#define TICK_MS 100
#define DEFAULT_MAX_PENDING 65536
#define MARK_SEGS 2		/* newest segments read for marker keys */

#define PARTS_MAX_BYTES (64 << 20)	/* parts held, all frames */
#define PARTS_DONE 16			/* frames joined, remembered */

/* ------------------------------------------------------------ headers */

/* The kind of an Evtape-Kind value (see natsarc.h). */
int
evt_natsarc_kind(const char *v)
{
	for (int k = EVT_NATS_EVENT; v != NULL && k <= EVT_NATS_RAW; k++)
		if (strcmp(v, evt_nats_kind_name(k)) == 0)
			return k;
	return -1;
}

/* Parses an unsigned decimal of 1..18 digits ending at a NUL or at end. */
static int
parse_dec(const char *v, const char *end, uint64_t *out)
{
	uint64_t x = 0;
	size_t n = 0;

	for (; v < end && *v >= '0' && *v <= '9'; v++, n++)
		x = x * 10 + (uint64_t)(*v - '0');
	if (n == 0 || n > 18 || v != end)
		return EVT_ERR_ARG;
	*out = x;
	return 0;
}

/* Parses an Evtape-Rx value (see natsarc.h). */
int
evt_natsarc_rx(const char *v, int64_t *rx)
{
	uint64_t x;
	int neg;

	if (v == NULL)
		return EVT_ERR_ARG;
	neg = v[0] == '-';
	if (parse_dec(v + neg, v + strlen(v), &x) != 0)
		return EVT_ERR_ARG;
	*rx = neg ? -(int64_t)x : (int64_t)x;
	return 0;
}

/* The kind a subject names (see natsarc.h). */
int
evt_natsarc_subject(const char *subj, const char **site, size_t *site_len)
{
	const char *dot[4] = { NULL, NULL, NULL, NULL }, *t;
	size_t n = subj != NULL ? strlen(subj) : 0, nd = 0;
	int k;

	/* The last four dots: tokens T1 (last) .. T4 end at them. */
	for (size_t i = n; i-- > 0 && nd < 4;)
		if (subj[i] == '.')
			dot[nd++] = subj + i;
	/* P.mk.<kind>: T2 "mk", T1 a marker word, the prefix ends at T3. */
	if (nd >= 2 && dot[0] - dot[1] == 3 && memcmp(dot[1] + 1, "mk", 2) ==
	    0 && (k = evt_natsarc_kind(dot[0] + 1)) > EVT_NATS_EVENT) {
		t = nd >= 3 ? dot[2] + 1 : subj;
		if (t < dot[1]) {
			*site = t;
			*site_len = (size_t)(dot[1] - t);
			return k;
		}
	}
	/* P.ev.<rt>.<type>: T3 "ev", the prefix ends at T4. */
	if (nd >= 3 && dot[1] - dot[2] == 3 && memcmp(dot[2] + 1, "ev", 2) ==
	    0) {
		t = nd >= 4 ? dot[3] + 1 : subj;
		if (t < dot[2]) {
			*site = t;
			*site_len = (size_t)(dot[2] - t);
			return EVT_NATS_EVENT;
		}
	}
	return -1;
}

/* What a message says of itself (see natsarc.h). */
int
evt_natsarc_in(const char *subj, const char *kind, const char *rx,
    const char *site, struct evt_natsarc_in *in)
{
	const char *ss = "";
	size_t sl = 0;
	int sk = -1;

	memset(in, 0, sizeof *in);
	in->kind = evt_natsarc_kind(kind);
	/* (The subject is read only for what the headers do not say.) */
	if (in->kind < 0 || site == NULL || *site == '\0')
		sk = evt_natsarc_subject(subj, &ss, &sl);
	if (in->kind < 0) {
		in->kind = sk;
		in->kind_from_subject = 1;
	}
	if (site != NULL && *site != '\0') {
		in->site = site;
		in->site_len = strlen(site);
	} else {
		in->site = sk >= 0 ? ss : "";
		in->site_len = sk >= 0 ? sl : 0;
	}
	in->have_rx = evt_natsarc_rx(rx, &in->rx) == 0;
	return in->kind < 0 ? -1 : 0;
}

/* FNV-1a 64 of p[0..n) continuing h. */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *u = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ u[i]) * 0x100000001b3ull;
	return h;
}

/* The key of a record that is not a MSG frame (see natsarc.h). */
uint64_t
evt_natsarc_rec_key(struct evt_jparser *jp, struct evt_buf *tmp,
    const char *site, int rec_kind, int64_t rx, const char *body,
    size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull, u = (uint64_t)rx;
	unsigned char k = (unsigned char)(rec_kind == EVT_K_STATES ||
	    rec_kind == EVT_K_RAW ? EVT_K_JSON : rec_kind);

	h = fnv(h, site, strlen(site) + 1);
	h = fnv(h, &k, 1);
	h = fnv(h, &u, sizeof u);
	jp->lone_surrogates = 1;
	if (len == 0 || evt_json_parse(jp, body, len) < 0)
		return fnv(fnv(h, "R", 1), body, len);
	h = fnv(h, "J", 1);
	for (uint32_t i = 0; i < jp->ntok; i++) {
		const struct evt_jtok *t = &jp->tok[i];
		const char *v = body + t->off;
		uint32_t vl = t->len;
		int dl;

		h = fnv(h, &t->type, 1);
		if (t->type == EVT_J_ARRAY || t->type == EVT_J_OBJECT) {
			h = fnv(h, &t->size, sizeof t->size);
			continue;
		}
		if (t->type == EVT_J_STRING && (t->flags & EVT_JF_ESCAPED)) {
			tmp->len = 0;
			if (evt_buf_grow(tmp, vl) != 0 || (dl =
			    evt_json_unescape_wtf8(v, vl, (char *)tmp->p)) < 0)
				abort();	/* out of memory; parsed */
			v = (const char *)tmp->p;
			vl = (uint32_t)dl;
		}
		h = fnv(h, &vl, sizeof vl);
		h = fnv(h, v, vl);
	}
	return h;
}


/* Appends ,"key":"val" (escaped). */
static int
put_str_member(struct evt_buf *b, const char *key, const char *val)
{
	if (evt_buf_putc(b, ',') != 0 ||
	    evt_json_put_string(b, key, strlen(key)) != 0 ||
	    evt_buf_putc(b, ':') != 0 ||
	    evt_json_put_string(b, val, strlen(val)) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Builds the SESSION "nats" marker body (see natsarc.h). */
int
evt_natsarc_marker(struct evt_buf *out, const char *site,
    const char *archive, const char *gateway, const char *recorder,
    const char *stream)
{
	size_t mark = out->len;

	if (evt_buf_put(out, "{\"event\":\"nats\"", 15) != 0 ||
	    put_str_member(out, "site", site) != 0 ||
	    put_str_member(out, "archive", archive) != 0 ||
	    (gateway != NULL && put_str_member(out, "gateway", gateway)
	    != 0) || put_str_member(out, "recorder", recorder) != 0 ||
	    put_str_member(out, "stream", stream) != 0 ||
	    evt_buf_putc(out, '}') != 0) {
		out->len = mark;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Copies a SESSION body with "site" added (see natsarc.h). */
int
evt_natsarc_add_site(struct evt_buf *out, const char *json, size_t len,
    const char *site)
{
	size_t mark = out->len, end = len;

	/* The object's closing brace: the last non-blank byte. */
	while (end > 0 && (json[end - 1] == ' ' || json[end - 1] == '\t' ||
	    json[end - 1] == '\r' || json[end - 1] == '\n'))
		end--;
	if (len == 0 || json[0] != '{' || end < 2 || json[end - 1] != '}')
		return EVT_ERR_JSON;
	if (evt_buf_put(out, json, end - 1) != 0)
		goto nomem;
	/* "{}" takes no comma before the new member. */
	for (size_t i = 1; i < end - 1; i++)
		if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' &&
		    json[i] != '\n') {
			if (put_str_member(out, "site", site) != 0)
				goto nomem;
			goto close;
		}
	if (evt_json_put_string(out, "site", 4) != 0 ||
	    evt_buf_putc(out, ':') != 0 ||
	    evt_json_put_string(out, site, strlen(site)) != 0)
		goto nomem;
close:
	if (evt_buf_putc(out, '}') != 0)
		goto nomem;
	return 0;
nomem:
	out->len = mark;
	return EVT_ERR_NOMEM;
}

/* ------------------------------------------------------------ the loop */

/* A site's gateway, learnt from its SESSION markers. */
struct gw {
	char *site, *gateway;
};

/* A frame arriving as parts (formats/nats.md, "Parts"). */
struct pframe {
	char *key;		/* site, Evtape-Frame, frame id (below) */
	char *site, arch[37];
	int64_t rx;
	size_t n, have, bytes;
	natsMsg **msg;		/* [n], NULL until it arrived */
};

/* The archiver (one per run). */
struct na {
	jsCtx *js;
	natsSubscription *sub;
	struct evt_archive *ar;
	struct evt_recorder_seen *seen;
	const struct evt_natsarc_opts *o;
	int64_t max_pending;

	/* Messages not acknowledged yet, in order: [0, nwritten) are in
	 * the archive, the others in the frame being gathered. */
	natsMsg **pend;
	size_t npend, cap, nwritten;
	int64_t pend_since;		/* mono time of the oldest */

	/* The MSG frame being gathered: {"events":[ + the events so far,
	 * of one Evtape-Frame of one site. */
	struct evt_buf frame, fkey, fsite, farch;
	size_t nev;
	int64_t frx;

	/* Site and source archive of the last "nats" marker written. */
	struct evt_buf site, arch;
	int have_site;
	struct gw *gws;
	size_t ngw;

	struct evt_buf marker, rebuilt, tmp;
	struct evt_jparser jp;

	/* Frames arriving as parts, oldest first; the keys of the last
	 * ones joined (a part of one of them again is a duplicate). */
	struct pframe *pf;
	size_t npf, pbytes, pmsgs;
	char *done[PARTS_DONE];
	size_t ndone;
	int failed;
	uint64_t msgs, events, dups, poison, acks, frames;

	/* Keys of the records other than MSG frames written lately (and
	 * found in the archive's newest segments at start): a marker
	 * delivered again after a kill is not written twice. */
	struct evt_recorder_seen marks;
	struct evt_jparser kjp;
	struct evt_buf ktmp, hsite;
	uint64_t mdups;
	int said_kind, said_rx;		/* logged once a run */
};

/* Notes an archive error: the run stops. */
static void
ar_failed(struct na *na, int rc, const char *what)
{
	if (na->failed)
		return;
	na->failed = 1;
	evt_log_err("archive: %s: %s; stopping without acknowledging what "
	    "is not durable (it is delivered again)", what, evt_strerror(rc));
}

/* The header key of m, or NULL. */
static const char *
hdr(natsMsg *m, const char *key)
{
	const char *v = NULL;

	return natsMsgHeader_Get(m, key, &v) == NATS_OK ? v : NULL;
}

/* Terminates a message that can never be archived (a poison message):
 * logged with its subject and why, and not delivered again. */
static void
poison(struct na *na, natsMsg *m, const char *why)
{
	jsMsgMetaData *md = NULL;
	uint64_t seq = 0;

	if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
		seq = md->Sequence.Stream;
		jsMsgMetaData_Destroy(md);
	}
	evt_log_warn("stream %s: message %" PRIu64 " on %s: %s; terminated "
	    "(not archived, not delivered again)", na->o->stream, seq,
	    natsMsg_GetSubject(m), why);
	natsMsg_Term(m, NULL);
	natsMsg_Destroy(m);
	na->poison++;
}

/* Puts a string in b, NUL-terminated. */
static void
set_str(struct evt_buf *b, const char *s, size_t len)
{
	b->len = 0;
	if (evt_buf_put(b, s, len) != 0 || evt_buf_putc(b, '\0') != 0)
		abort();	/* daemon glue: out of memory */
	b->len--;
}

/* The gateway of site, or NULL. */
static const char *
gw_of(struct na *na, const char *site)
{
	for (size_t i = 0; i < na->ngw; i++)
		if (strcmp(na->gws[i].site, site) == 0)
			return na->gws[i].gateway;
	return NULL;
}

/* Remembers the "gateway" of a SESSION body of site. */
static void
gw_learn(struct na *na, const char *site, const char *body, size_t len)
{
	long v;
	char *g;
	int n;

	if (evt_json_parse(&na->jp, body, len) < 0 ||
	    na->jp.tok[0].type != EVT_J_OBJECT ||
	    (v = evt_ess_member(body, na->jp.tok, 0, "gateway")) < 0 ||
	    na->jp.tok[v].type != EVT_J_STRING ||
	    (g = malloc(na->jp.tok[v].len + 1)) == NULL)
		return;
	n = na->jp.tok[v].len == 0 ? 0 : evt_json_unescape(body +
	    na->jp.tok[v].off, na->jp.tok[v].len, g);
	if (n < 0) {
		free(g);
		return;
	}
	g[n] = '\0';
	for (size_t i = 0; i < na->ngw; i++)
		if (strcmp(na->gws[i].site, site) == 0) {
			free(na->gws[i].gateway);
			na->gws[i].gateway = g;
			return;
		}
	struct gw *p = realloc(na->gws, (na->ngw + 1) * sizeof *p);
	if (p == NULL || (p[na->ngw].site = strdup(site)) == NULL)
		abort();
	na->gws = p;
	na->gws[na->ngw++].gateway = g;
}

/* Before a record of site and source archive: the "nats" marker when
 * either differs from the last one's (also the segment carry). */
static void
site_switch(struct na *na, int64_t rx, const char *site, const char *arch,
    size_t alen)
{
	int rc;

	if (na->have_site && strcmp((const char *)na->site.p, site) == 0 &&
	    na->arch.len == alen && memcmp(na->arch.p, arch, alen) == 0)
		return;
	set_str(&na->site, site, strlen(site));
	set_str(&na->arch, arch, alen);
	na->have_site = 1;
	na->marker.len = 0;
	if (evt_natsarc_marker(&na->marker, site, (const char *)na->arch.p,
	    gw_of(na, site), na->o->recorder, na->o->stream) != 0)
		abort();
	if ((rc = evt_archive_marker(na->ar, EVT_K_SESSION, rx,
	    (const char *)na->marker.p, na->marker.len)) < 0)
		ar_failed(na, rc, "writing a SESSION marker");
	/* The carry after the marker: a segment this append starts does
	 * not begin with the same marker twice. */
	if (evt_archive_set_carry(na->ar, (const char *)na->marker.p,
	    na->marker.len) != 0)
		abort();
}

/* Holds m until the records holding it are durable. */
static void
pend_push(struct na *na, natsMsg *m)
{
	if (na->npend == na->cap) {
		size_t cap = na->cap ? na->cap * 2 : 1024;
		natsMsg **p = realloc(na->pend, cap * sizeof *p);

		if (p == NULL)
			abort();
		na->pend = p;
		na->cap = cap;
	}
	if (na->npend == 0)
		na->pend_since = evt_mono_us();
	na->pend[na->npend++] = m;
}

/* Whether the events text of the frame being gathered parses as a MSG
 * frame of exactly nev events, each an object (a payload that is not one
 * JSON value would make it more, fewer, or none). */
static int
frame_parses(struct na *na)
{
	const struct evt_jtok *t;
	uint32_t i = 3;

	if (evt_json_parse(&na->jp, (const char *)na->frame.p,
	    na->frame.len) < 0)
		return 0;
	t = na->jp.tok;
	if (t[0].type != EVT_J_OBJECT || t[0].size != 1 ||
	    t[2].type != EVT_J_ARRAY || t[2].size != na->nev)
		return 0;
	for (size_t k = 0; k < na->nev; k++, i = t[i].next)
		if (t[i].type != EVT_J_OBJECT)
			return 0;
	return 1;
}

/* The frame of the messages pend[nwritten..npend) rebuilt from those
 * whose payload is one JSON value; the others are terminated. */
static void
frame_rebuild(struct na *na)
{
	size_t k = na->nwritten;

	na->frame.len = 0;
	na->nev = 0;
	if (evt_buf_put(&na->frame, "{\"events\":[", 11) != 0)
		abort();
	for (size_t i = na->nwritten; i < na->npend; i++) {
		natsMsg *m = na->pend[i];
		const char *d = natsMsg_GetData(m);
		int len = natsMsg_GetDataLength(m);

		if (len <= 0 || evt_json_parse(&na->jp, d, (size_t)len) < 0 ||
		    na->jp.tok[0].type != EVT_J_OBJECT) {
			poison(na, m, "the payload of an event is not a JSON "
			    "object");
			continue;
		}
		if ((na->nev++ > 0 && evt_buf_putc(&na->frame, ',') != 0) ||
		    evt_buf_put(&na->frame, d, (size_t)len) != 0)
			abort();
		na->pend[k++] = m;
	}
	na->npend = k;
	if (evt_buf_put(&na->frame, "]}", 2) != 0)
		abort();
}

/* Writes the MSG frame being gathered (its duplicate events cut out). */
static void
frame_write(struct na *na)
{
	size_t ndup = 0;
	int rc;

	if (na->nev == 0)
		return;
	if (evt_buf_put(&na->frame, "]}", 2) != 0)
		abort();
	if (!frame_parses(na)) {
		frame_rebuild(na);
		if (na->nev == 0 || !frame_parses(na))
			goto done;
	}
	site_switch(na, na->frx, (const char *)na->fsite.p,
	    (const char *)na->farch.p, na->farch.len);
	na->rebuilt.len = 0;
	rc = evt_recorder_dedupe(na->seen, &na->jp, (const char *)
	    na->frame.p, na->frame.len, &na->rebuilt, &ndup);
	if (rc == EVT_ERR_NOMEM)
		abort();
	na->dups += ndup;
	na->events += na->nev - ndup;
	if (rc == EVT_RECORDER_KEEP)
		rc = evt_archive_frame_tok(na->ar, na->frx, (const char *)
		    na->frame.p, na->frame.len, &na->jp);
	else if (rc == EVT_RECORDER_REBUILT)
		rc = evt_archive_frame(na->ar, na->frx, (const char *)
		    na->rebuilt.p, na->rebuilt.len);
	else
		rc = 0;
	if (rc < 0)
		ar_failed(na, rc, "writing a MSG frame");
	else if (ndup < na->nev)
		na->frames++;
done:
	na->nwritten = na->npend;
	na->nev = 0;
	na->frame.len = 0;
}

/*
 * Writes record d[0..len) of kind rk (a marker; EVT_K_JSON: a frame as it
 * is) of site, unless it was written before: by a run killed before its
 * acknowledgement went out, the message delivered again.
 */
static void
rec_write(struct na *na, int rk, int64_t rx, const char *site,
    const char *arch, size_t alen, const char *d, size_t len)
{
	int rc;

	if (!evt_recorder_seen_add_key(&na->marks, evt_natsarc_rec_key(
	    &na->kjp, &na->ktmp, site, rk, rx, d, len))) {
		na->mdups++;
		return;
	}
	if (rk == EVT_K_SESSION)
		gw_learn(na, site, d, len);	/* named by the marker below */
	site_switch(na, rx, site, arch, alen);
	if (rk != EVT_K_JSON)
		rc = evt_archive_marker(na->ar, rk, rx, d, len);
	else
		rc = evt_archive_frame(na->ar, rx, d, len);
	if (rc < 0)
		ar_failed(na, rc, "writing a record");
	na->frames++;
}

/* ------------------------------------------------------------ parts */

/* Writes frame text d[0..len) of site as it is, m holding it. */
static void
frame_as_is(struct na *na, natsMsg *m, int64_t rx, const char *site,
    const char *arch, size_t alen, const char *d, size_t len)
{
	if (m != NULL) {
		pend_push(na, m);
		na->nwritten = na->npend;
	}
	rec_write(na, EVT_K_JSON, rx, site, arch, alen, d, len);
}

/* Forgets pframe i (its messages are the caller's). */
static void
pframe_drop(struct na *na, size_t i)
{
	struct pframe *f = &na->pf[i];

	na->pbytes -= f->bytes;
	na->pmsgs -= f->have;
	free(f->key);
	free(f->site);
	free(f->msg);
	memmove(f, f + 1, (na->npf - i - 1) * sizeof *f);
	na->npf--;
}

/* Writes the parts of pframe i that arrived, each as a frame of its own,
 * and forgets it (the held parts exceed what the archiver keeps). */
static void
pframe_as_is(struct na *na, size_t i, const char *why)
{
	struct pframe *f = &na->pf[i];

	evt_log_warn("stream %s: site %s: %zu of the %zu parts of frame %s "
	    "held (%zu bytes) %s: written as they are, each a frame", na->o->stream,
	    f->site, f->have, f->n, strchr(f->key, '\n') + 1, f->bytes, why);
	for (size_t k = 0; k < f->n; k++)
		if (f->msg[k] != NULL)
			frame_as_is(na, f->msg[k], f->rx, f->site, f->arch,
			    strlen(f->arch), natsMsg_GetData(f->msg[k]),
			    (size_t)natsMsg_GetDataLength(f->msg[k]));
	pframe_drop(na, i);
}

/* Writes pframe i joined, once all its parts arrived, and forgets it; a
 * join that is not JSON is written as its parts. */
static void
pframe_join(struct na *na, size_t i)
{
	struct pframe *f = &na->pf[i];
	size_t k, pk, n, off, slen;

	na->tmp.len = 0;
	for (k = 0; k < f->n; k++) {
		natsMsg *m = f->msg[k];
		const char *d = natsMsg_GetData(m);
		size_t len = (size_t)natsMsg_GetDataLength(m);

		if (evt_nats_part_parse(hdr(m, "Evtape-Part"), hdr(m,
		    "Evtape-Part-Slice"), len, &pk, &n, &off, &slen) != 0 ||
		    evt_nats_join(&na->tmp, d, len, pk, n, off, slen) != 0)
			abort();	/* parsed when taken; out of memory */
	}
	if (evt_json_parse(&na->jp, (const char *)na->tmp.p, na->tmp.len) < 0) {
		pframe_as_is(na, i, "join into no JSON text");
		return;
	}
	frame_as_is(na, NULL, f->rx, f->site, f->arch, strlen(f->arch),
	    (const char *)na->tmp.p, na->tmp.len);
	for (k = 0; k < f->n; k++)
		pend_push(na, f->msg[k]);
	na->nwritten = na->npend;
	free(na->done[na->ndone % PARTS_DONE]);
	na->done[na->ndone++ % PARTS_DONE] = f->key;
	f->key = NULL;
	pframe_drop(na, i);
	evt_json_shrink(&na->jp);
}

/* The key of a part: site, Evtape-Frame and its Nats-Msg-Id without
 * ":part<k>" (evplay's looped passes differ there), newline-separated. */
static char *
part_key(natsMsg *m, const char *site, const char *fr)
{
	const char *id = hdr(m, "Nats-Msg-Id"), *c;
	size_t idlen = id == NULL ? 0 : (c = strrchr(id, ':')) != NULL &&
	    strncmp(c, ":part", 5) == 0 ? (size_t)(c - id) : strlen(id);
	size_t sl = strlen(site), fl = strlen(fr);
	char *key = malloc(sl + fl + idlen + 3);

	if (key == NULL)
		abort();
	memcpy(key, site, sl);
	key[sl] = '\n';
	memcpy(key + sl + 1, fr, fl);
	key[sl + 1 + fl] = '\n';
	memcpy(key + sl + fl + 2, id != NULL ? id : "", idlen);
	key[sl + fl + 2 + idlen] = '\0';
	return key;
}

/* The pframe of key (n parts, made if new), or NULL when one of that key
 * has another part count. */
static struct pframe *
pframe_of(struct na *na, char *key, size_t n, int64_t rx, const char *site,
    const char *arch, size_t alen)
{
	struct pframe *f;

	for (size_t i = 0; i < na->npf; i++)
		if (strcmp(na->pf[i].key, key) == 0) {
			free(key);
			return na->pf[i].n == n ? &na->pf[i] : NULL;
		}
	f = realloc(na->pf, (na->npf + 1) * sizeof *f);
	if (f == NULL)
		abort();
	na->pf = f;
	f = &na->pf[na->npf++];
	memset(f, 0, sizeof *f);
	f->key = key;
	f->n = n;
	f->rx = rx;
	memcpy(f->arch, arch, alen < 36 ? alen : 36);
	if ((f->site = strdup(site)) == NULL ||
	    (f->msg = calloc(n, sizeof *f->msg)) == NULL)
		abort();
	return f;
}

/*
 * Takes m if it is a part of a frame (Evtape-Part, Evtape-Part-Slice and
 * Evtape-Frame): held until all the frame's parts arrived, then the frame
 * is written joined, once.  A part again (a redelivery) replaces the one
 * held; a part of a frame joined lately is a duplicate, acknowledged.
 * Past PARTS_MAX_BYTES held (or half the consumer's MaxAckPending in
 * messages, which would stop deliveries), the oldest frame's parts are
 * written as they are.  Returns 0 when m is not a part (or its headers
 * are not of the form): the caller writes it as it is.
 */
static int
part_take(struct na *na, natsMsg *m, int64_t rx, const char *site,
    const char *arch, size_t alen)
{
	const char *fr = hdr(m, "Evtape-Frame");
	size_t len = (size_t)natsMsg_GetDataLength(m), k, n, off, slen;
	struct pframe *f;
	char *key;

	if (hdr(m, "Evtape-Part") == NULL || fr == NULL ||
	    evt_nats_part_parse(hdr(m, "Evtape-Part"), hdr(m,
	    "Evtape-Part-Slice"), len, &k, &n, &off, &slen) != 0)
		return 0;
	key = part_key(m, site, fr);
	for (size_t i = 0; i < PARTS_DONE && i < na->ndone; i++)
		if (strcmp(na->done[i], key) == 0) {
			free(key);
			pend_push(na, m);
			na->nwritten = na->npend;
			na->dups++;
			return 1;
		}
	if ((f = pframe_of(na, key, n, rx, site, arch, alen)) == NULL)
		return 0;
	if (f->msg[k] != NULL) {
		f->bytes -= (size_t)natsMsg_GetDataLength(f->msg[k]);
		na->pbytes -= (size_t)natsMsg_GetDataLength(f->msg[k]);
		natsMsg_Destroy(f->msg[k]);	/* delivered again */
	} else {
		f->have++;
		na->pmsgs++;
	}
	f->msg[k] = m;
	f->bytes += len;
	na->pbytes += len;
	if (f->have == f->n)
		pframe_join(na, (size_t)(f - na->pf));
	while (na->npf > 0 && (na->pbytes > PARTS_MAX_BYTES ||
	    (int64_t)na->pmsgs >= na->max_pending / 2))
		pframe_as_is(na, 0, na->pbytes > PARTS_MAX_BYTES ? "exceed "
		    "64 MiB" : "reach half the consumer's MaxAckPending");
	return 1;
}

/* Drops the parts held, refused (NAK: delivered again to the next run at
 * once, not after AckWait), and the joined frames' keys. */
static void
parts_free(struct na *na)
{
	if (na->npf > 0)
		evt_log_info("stream %s: %zu parts of %zu frames not complete; "
		    "they are delivered again to the next run", na->o->stream,
		    na->pmsgs, na->npf);
	while (na->npf > 0) {
		for (size_t k = 0; k < na->pf[0].n; k++) {
			if (na->pf[0].msg[k] != NULL)
				natsMsg_Nak(na->pf[0].msg[k], NULL);
			natsMsg_Destroy(na->pf[0].msg[k]);
		}
		pframe_drop(na, 0);
	}
	free(na->pf);
	for (size_t i = 0; i < PARTS_DONE && i < na->ndone; i++)
		free(na->done[i]);
}

/* Writes a marker or a non-event frame of message m. */
static void
other_write(struct na *na, natsMsg *m, int kind, int64_t rx,
    const char *site, const char *arch, size_t alen)
{
	const char *d = natsMsg_GetData(m);
	size_t len = (size_t)natsMsg_GetDataLength(m);
	int rk = kind == EVT_NATS_SESSION ? EVT_K_SESSION :
	    kind == EVT_NATS_GAP ? EVT_K_GAP : kind == EVT_NATS_CONFIG ?
	    EVT_K_CONFIG : EVT_K_JSON;

	if ((kind == EVT_NATS_STATES || kind == EVT_NATS_JSON) &&
	    part_take(na, m, rx, site, arch, alen))
		return;
	if (rk != EVT_K_JSON) {
		if (len == 0 || evt_json_parse(&na->jp, d, len) < 0 ||
		    na->jp.tok[0].type != EVT_J_OBJECT) {
			poison(na, m, "a marker body that is not a JSON "
			    "object");
			return;
		}
	}
	if (rk == EVT_K_SESSION) {
		na->tmp.len = 0;
		if (evt_natsarc_add_site(&na->tmp, d, len, site) != 0)
			abort();
		d = (const char *)na->tmp.p;
		len = na->tmp.len;
	}
	pend_push(na, m);
	na->nwritten = na->npend;
	rec_write(na, rk, rx, site, arch, alen, d, len);
}

/* The time JetStream stored m at, in microseconds since the epoch (the
 * receive time of a message without Evtape-Rx), or now. */
static int64_t
stream_time(natsMsg *m)
{
	jsMsgMetaData *md = NULL;
	int64_t t;

	if (natsMsg_GetMetaData(&md, m) != NATS_OK)
		return evt_wall_us();
	t = md->Timestamp / 1000;
	jsMsgMetaData_Destroy(md);
	return t;
}

/* Archives one message (or terminates it). */
static void
on_msg(struct na *na, natsMsg *m)
{
	const char *fr = hdr(m, "Evtape-Frame"), *site;
	struct evt_natsarc_in in;
	struct evt_nats_ref ref;
	int kind;
	int64_t rx;

	na->msgs++;
	if (evt_natsarc_in(natsMsg_GetSubject(m), hdr(m, "Evtape-Kind"),
	    hdr(m, "Evtape-Rx"), hdr(m, "Evtape-Site"), &in) != 0) {
		poison(na, m, "no Evtape-Kind header of a known kind, and a "
		    "subject that is neither <prefix>.ev.<rt>.<type> nor "
		    "<prefix>.mk.<kind>");
		return;
	}
	kind = in.kind;
	if (in.kind_from_subject && !na->said_kind && (na->said_kind = 1))
		evt_log_info("stream %s: message on %s without Evtape-Kind: "
		    "kind taken from the subject (said once)", na->o->stream,
		    natsMsg_GetSubject(m));
	rx = in.have_rx ? in.rx : stream_time(m);
	if (!in.have_rx && !na->said_rx && (na->said_rx = 1))
		evt_log_info("stream %s: message on %s without a usable "
		    "Evtape-Rx: receive time taken from the stream's "
		    "timestamp (said once)", na->o->stream,
		    natsMsg_GetSubject(m));
	site = in.site;
	if (in.site[in.site_len] != '\0') {	/* a token of the subject */
		set_str(&na->hsite, in.site, in.site_len);
		site = (const char *)na->hsite.p;
	}
	/* The source archive is the Evtape-Frame's UUID; a message without
	 * a usable one is archived all the same (archive "", alone). */
	if (evt_nats_ref_parse(fr, kind == EVT_NATS_EVENT ? hdr(m,
	    "Evtape-Item") : NULL, &ref) != 0) {
		fr = NULL;
		ref.item = -1;
	}
	if (kind != EVT_NATS_EVENT) {
		frame_write(na);
		other_write(na, m, kind, rx, site, fr != NULL ? fr : "",
		    fr != NULL ? 36 : 0);
		return;
	}
	/* Another frame (or one without Evtape-Frame: alone). */
	if (na->nev > 0 && (fr == NULL || strcmp((const char *)na->fkey.p,
	    fr) != 0 || strcmp((const char *)na->fsite.p, site) != 0))
		frame_write(na);
	if (na->nev == 0) {
		set_str(&na->fkey, fr != NULL ? fr : "", fr != NULL ?
		    strlen(fr) : 0);
		set_str(&na->fsite, site, strlen(site));
		set_str(&na->farch, fr != NULL ? fr : "", fr != NULL ? 36 :
		    0);
		na->frx = rx;
		na->frame.len = 0;
		if (evt_buf_put(&na->frame, "{\"events\":[", 11) != 0)
			abort();
	}
	if ((na->nev++ > 0 && evt_buf_putc(&na->frame, ',') != 0) ||
	    evt_buf_put(&na->frame, natsMsg_GetData(m),
	    (size_t)natsMsg_GetDataLength(m)) != 0)
		abort();
	pend_push(na, m);
	/* Its last event, or an event without Evtape-Item: complete. */
	if (fr == NULL || ref.item < 0 || (uint64_t)ref.item + 1 ==
	    ref.nitems)
		frame_write(na);
}

/* Makes what is written durable, then acknowledges it; with all, the
 * frame being gathered is written first. */
static void
ack_durable(struct na *na, int all)
{
	size_t n;
	int rc;

	if (all)
		frame_write(na);
	if (na->nwritten == 0 || na->failed)
		return;
	if ((rc = evt_archive_durable(na->ar)) != 0) {
		ar_failed(na, rc, "making the written records durable");
		return;
	}
	n = na->nwritten;
	for (size_t i = 0; i < n; i++) {
		natsMsg_Ack(na->pend[i], NULL);
		natsMsg_Destroy(na->pend[i]);
	}
	na->acks += n;
	memmove(na->pend, na->pend + n, (na->npend - n) * sizeof *na->pend);
	na->npend -= n;
	na->nwritten = 0;
	na->pend_since = evt_mono_us();
}

/* Finds or creates the durable consumer and binds a pull subscription to
 * it.  Returns 0, 1 when the stream does not exist (yet), or -1 after
 * logging why. */
static int
consumer_setup(struct na *na)
{
	const struct evt_natsarc_opts *o = na->o;
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetConsumerInfo(&ci, na->js, o->stream, o->durable, NULL,
	    &jerr);
	if (s == NATS_NOT_FOUND) {
		jsConsumerConfig_Init(&cc);
		cc.Durable = o->durable;
		cc.AckPolicy = js_AckExplicit;
		cc.DeliverPolicy = js_DeliverAll;
		cc.AckWait = (o->ack_wait_us > 0 ? o->ack_wait_us :
		    60000000) * 1000;
		cc.MaxAckPending = o->max_pending > 0 ? o->max_pending :
		    DEFAULT_MAX_PENDING;
		cc.FilterSubject = o->filter;
		s = js_AddConsumer(&ci, na->js, o->stream, &cc, NULL, &jerr);
		if (s == NATS_OK)
			evt_log_info("stream %s: durable consumer %s created "
			    "(filter %s)", o->stream, o->durable,
			    o->filter != NULL ? o->filter : "none");
	}
	if (s != NATS_OK && jerr == JSStreamNotFoundErr)
		return 1;
	if (s != NATS_OK) {
		evt_log_err("stream %s, consumer %s: %s (JetStream error "
		    "%d)", o->stream, o->durable, nats_GetLastError(NULL),
		    (int)jerr);
		return -1;
	}
	if (o->filter != NULL && (ci->Config->FilterSubject == NULL ||
	    strcmp(ci->Config->FilterSubject, o->filter) != 0))
		evt_log_warn("consumer %s exists with filter %s, not %s: "
		    "used as it is", o->durable, ci->Config->FilterSubject ?
		    ci->Config->FilterSubject : "none", o->filter);
	na->max_pending = ci->Config->MaxAckPending > 0 ?
	    ci->Config->MaxAckPending : DEFAULT_MAX_PENDING;
	jsSubOptions_Init(&so);
	so.Stream = o->stream;
	so.Consumer = o->durable;
	s = js_PullSubscribe(&na->sub, na->js, ci->Config->FilterSubject !=
	    NULL ? ci->Config->FilterSubject : "", o->durable, NULL, &so,
	    &jerr);
	jsConsumerInfo_Destroy(ci);
	if (s != NATS_OK) {
		evt_log_err("stream %s, consumer %s: pull subscription: %s "
		    "(JetStream error %d)", o->stream, o->durable,
		    nats_GetLastError(NULL), (int)jerr);
		return -1;
	}
	return 0;
}

/* Frees the archiver's memory; unacknowledged messages are dropped
 * (the server delivers them again). */
static void
na_free(struct na *na)
{
	for (size_t i = 0; i < na->npend; i++)
		natsMsg_Destroy(na->pend[i]);
	free(na->pend);
	for (size_t i = 0; i < na->ngw; i++) {
		free(na->gws[i].site);
		free(na->gws[i].gateway);
	}
	free(na->gws);
	evt_buf_free(&na->frame);
	evt_buf_free(&na->fkey);
	evt_buf_free(&na->fsite);
	evt_buf_free(&na->farch);
	evt_buf_free(&na->site);
	evt_buf_free(&na->arch);
	evt_buf_free(&na->marker);
	evt_buf_free(&na->rebuilt);
	evt_buf_free(&na->tmp);
	parts_free(na);
	evt_json_free(&na->jp);
	evt_json_free(&na->kjp);
	evt_buf_free(&na->ktmp);
	evt_buf_free(&na->hsite);
	evt_recorder_seen_free(&na->marks);
	if (na->sub != NULL)
		natsSubscription_Destroy(na->sub);
}

/* Keeps no item of a frame: the tail is read for its other records. */
static int
keep_none(void *arg, int frame_kind, uint32_t kept, struct evt_rdec *d,
    const struct evt_rec *rec)
{
	return frame_kind == EVT_K_STATES;
}

/* Learns the keys of the records other than MSG frames of the archive's
 * MARK_SEGS newest segments, oldest first (so that the newest are kept):
 * what a run killed before acknowledging wrote is not written again when
 * it is delivered again (records.md, "Central archives"). */
static void
marks_load(struct na *na)
{
	size_t nseg = evt_archive_nsegments(na->ar), i, nkeys = 0;
	int64_t t0 = evt_mono_us();
	struct evt_buf site = {0};

	for (i = nseg > MARK_SEGS ? nseg - MARK_SEGS : 0; i < nseg; i++) {
		struct evt_segr *r = NULL;
		struct evt_frames fr;
		struct evt_frame *f;
		int rc, rk;

		if (evt_archive_open_segment(na->ar, i, &r) != 0)
			continue;	/* reported */
		set_str(&site, "", 0);
		evt_segr_live(r, 1);
		(void)evt_segr_rewind(r, INT64_MIN);
		evt_frames_init(&fr, r, keep_none, NULL, NULL, NULL,
		    evt_archive_segment_path(na->ar, i));
		while ((rc = evt_frames_next(&fr, &f)) == 1) {
			if ((rk = f->kind) == EVT_K_MSG)
				continue;
			if (rk == EVT_K_SESSION && evt_session_site((const char *)
			    f->text.p, f->text.len, &site) != 0)
				abort();	/* out of memory */
			(void)evt_recorder_seen_add_key(&na->marks,
			    evt_natsarc_rec_key(&na->kjp, &na->ktmp,
			    (const char *)site.p, rk, f->rx_us, (const char *)
			    f->text.p, f->text.len));
			nkeys++;
		}
		evt_frames_free(&fr);
		evt_archive_close_segment(na->ar, r);
	}
	evt_buf_free(&site);
	evt_log_info("archive: %zu markers and frames of its newest segments "
	    "loaded for dedupe (%.1f ms)", nkeys, (double)(evt_mono_us() -
	    t0) / 1e3);
}

/* Consumes until *stop (see natsarc.h). */
int
evt_natsarc_run(struct evt_nats *n, struct evt_archive *ar,
    struct evt_recorder_seen *seen, const struct evt_natsarc_opts *o,
    volatile sig_atomic_t *stop)
{
	struct na na;
	int64_t last_tick = 0, hw;
	int rc;

	memset(&na, 0, sizeof na);
	na.js = evt_nats_js(n);
	na.ar = ar;
	na.seen = seen;
	na.o = o;
	evt_json_init(&na.jp, 0);
	evt_json_init(&na.kjp, 0);
	if (evt_recorder_seen_init(&na.marks, 0) != 0)
		abort();	/* out of memory */
	marks_load(&na);
	/* An archiver started before its stream exists (before the first
	 * publisher created it) waits for it, as a recorder waits for its
	 * gateway. */
	while ((rc = consumer_setup(&na)) == 1 && !*stop) {
		if (last_tick == 0)
			evt_log_warn("stream %s: not found; waiting for it to "
			    "be created", o->stream);
		last_tick = 1;
		nats_Sleep(TICK_MS);
	}
	last_tick = 0;
	if (rc != 0) {
		if (rc == 1)
			evt_log_info("stream %s: stopped while waiting for "
			    "it", o->stream);
		na_free(&na);
		return rc == 1 ? 0 : -1;
	}
	hw = na.max_pending / 2 > 0 ? na.max_pending / 2 : 1;
	evt_log_info("consuming stream %s through durable consumer %s "
	    "(MaxAckPending %" PRId64 ")", o->stream, o->durable,
	    na.max_pending);
	while (!*stop && !na.failed) {
		natsMsgList list = {0};
		int64_t want = na.max_pending - (int64_t)na.npend, now;
		int queued = 0, qbytes = 0;
		natsStatus s;

		if (want > o->fetch)
			want = o->fetch;
		if (want <= 0) {
			ack_durable(&na, 1);
			continue;
		}
		/*
		 * libnats 3.4.1's fetch takes the messages already queued
		 * (a late answer to an earlier request) first and then
		 * compares that count to the batch less it: when it took
		 * some but fewer than the batch, it writes past its array
		 * (nats.c #749).  Taking queued messages one at a time
		 * keeps it to none or all.
		 */
		if (natsSubscription_GetPending(na.sub, &queued, &qbytes) ==
		    NATS_OK && queued > 0)
			want = 1;
		s = natsSubscription_Fetch(&list, na.sub, (int)want, TICK_MS,
		    NULL);
		if (s != NATS_OK && s != NATS_TIMEOUT) {
			evt_log_warn("stream %s: fetch: %s", o->stream,
			    nats_GetLastError(NULL));
			nats_Sleep(TICK_MS);
		}
		for (int i = 0; i < list.Count && i < want && !na.failed; i++) {
			on_msg(&na, list.Msgs[i]);
			list.Msgs[i] = NULL;	/* held, or destroyed */
		}
		natsMsgList_Destroy(&list);
		now = evt_mono_us();
		if (now - last_tick >= TICK_MS * 1000) {
			last_tick = now;
			if ((rc = evt_archive_tick(ar, evt_wall_us())) != 0)
				ar_failed(&na, rc, "periodic write");
		}
		if ((int64_t)na.nwritten >= hw)
			ack_durable(&na, 0);
		else if (na.npend > 0 && now - na.pend_since >= o->flush_us)
			ack_durable(&na, 1);
	}
	if (!na.failed)
		ack_durable(&na, 1);
	evt_log_info("stream %s: %" PRIu64 " messages, %" PRIu64 " events "
	    "archived, %" PRIu64 " duplicate events and %" PRIu64 " "
	    "duplicate markers or frames dropped, %" PRIu64 " poison "
	    "messages terminated, %" PRIu64 " acknowledged", o->stream,
	    na.msgs, na.events, na.dups, na.mdups, na.poison, na.acks);
	rc = na.failed ? -1 : 0;
	na_free(&na);
	return rc;
}
