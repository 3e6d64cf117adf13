/*
 * gw_history.c: per-session event history, output queue and resume cursor
 * of the gateway server (see gw_history.h).
 *
 * An event is copied once per publish into a reference-counted struct
 * evt_gwh_event (text, then its decoded id, then decoded source and type
 * when they carry escapes); every session that receives it holds one
 * reference from a ring of entries.  The ring is a power-of-two array with
 * head and count; the cursor is the number of sent entries counted from the
 * head.  Eviction and trimming only ever remove from the head, so the
 * cursor just shrinks with them.
 *
 * Resume lookups scan backwards from the newest entry: the usual eventId is
 * one of the last few events, and a resume is rare next to a publish, so an
 * id index would cost more than it saves.
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/gw_history.h"
#include "evtape/json.h"

struct evt_gwh_event {
	uint32_t refs;
	uint32_t len;		/* text length */
	uint32_t idlen, srclen, typelen;
	int deliverable;	/* has string source and type */
	int raw;		/* a whole frame of its own (evt_gwh_raw_new) */
	const char *src, *type; /* into data: the text or decoded copies */
	char *id;		/* into data, NUL-terminated */
	char data[];		/* text NUL id NUL [src type] */
};

struct gwh_ent {
	struct evt_gwh_event *ev;
	int64_t t_us;
	int msg_start;
};

struct evt_gwh {
	struct gwh_ent *v;
	size_t cap;		/* power of two, or 0 */
	size_t head, n;
	size_t cursor;		/* entries [0, cursor) from head are sent */
	size_t bytes, unsent_bytes, max_bytes;
	uint64_t lost;
};

/* Returns the bytes an entry counts against the bound. */
static size_t
ent_bytes(const struct evt_gwh_event *ev)
{
	return (size_t)ev->len + EVT_GWH_ENTRY_OVERHEAD;
}

/* Creates a shared event from its text. */
struct evt_gwh_event *
evt_gwh_event_new(const char *json, size_t len)
{
	struct evt_ess_event_fields f;
	struct evt_gwh_event *ev;
	size_t extra = 0;
	char *p;
	int n;

	if (len > UINT32_MAX - 2)
		return NULL;
	if (evt_ess_event_fields(json, len, &f) != 0)
		memset(&f, 0, sizeof f);
	if (f.escaped)
		extra = f.source_len + f.type_len;
	/* text NUL id NUL (an id decodes to at most its raw length) */
	ev = malloc(sizeof *ev + len + 1 + f.id_len + 1 + extra);
	if (ev == NULL)
		return NULL;
	ev->refs = 1;
	ev->raw = 0;
	ev->len = (uint32_t)len;
	memcpy(ev->data, json, len);
	ev->data[len] = '\0';
	ev->id = ev->data + len + 1;
	ev->idlen = 0;
	if (f.id != NULL) {
		n = f.escaped ? evt_json_unescape(f.id, f.id_len, ev->id) :
		    (memcpy(ev->id, f.id, f.id_len), (int)f.id_len);
		ev->idlen = n > 0 ? (uint32_t)n : 0;
	}
	ev->id[ev->idlen] = '\0';
	p = ev->id + f.id_len + 1;
	ev->deliverable = f.source != NULL && f.type != NULL;
	ev->src = ev->type = "";
	ev->srclen = ev->typelen = 0;
	if (!ev->deliverable)
		return ev;
	if (!f.escaped) {
		/* Point into our copy of the text. */
		ev->src = ev->data + (f.source - json);
		ev->srclen = (uint32_t)f.source_len;
		ev->type = ev->data + (f.type - json);
		ev->typelen = (uint32_t)f.type_len;
		return ev;
	}
	n = evt_json_unescape(f.source, f.source_len, p);
	if (n < 0) {
		ev->deliverable = 0;
		return ev;
	}
	ev->src = p;
	ev->srclen = (uint32_t)n;
	p += n;
	n = evt_json_unescape(f.type, f.type_len, p);
	if (n < 0) {
		ev->deliverable = 0;
		return ev;
	}
	ev->type = p;
	ev->typelen = (uint32_t)n;
	return ev;
}

/* Creates a raw frame entry (see gw_history.h). */
struct evt_gwh_event *
evt_gwh_raw_new(const char *text, size_t len)
{
	struct evt_gwh_event *ev = evt_gwh_event_new(text, len);

	if (ev != NULL) {
		ev->raw = 1;
		ev->deliverable = 0;
		ev->idlen = 0;
		ev->id[0] = '\0';
	}
	return ev;
}

/* Tells whether ev is a raw frame. */
int
evt_gwh_event_is_raw(const struct evt_gwh_event *ev)
{
	return ev->raw;
}

/* Adds a reference. */
void
evt_gwh_event_ref(struct evt_gwh_event *ev)
{
	ev->refs++;
}

/* Drops a reference. */
void
evt_gwh_event_unref(struct evt_gwh_event *ev)
{
	if (ev != NULL && --ev->refs == 0)
		free(ev);
}

/* Returns the text. */
const char *
evt_gwh_event_text(const struct evt_gwh_event *ev, size_t *len)
{
	*len = ev->len;
	return ev->data;
}

/* Returns the decoded id. */
const char *
evt_gwh_event_id(const struct evt_gwh_event *ev, size_t *len)
{
	*len = ev->idlen;
	return ev->id;
}

/* Returns 1 if subs delivers the event. */
int
evt_gwh_event_delivers(const struct evt_gwh_event *ev,
    const struct evt_ess_subs *subs)
{
	if (!ev->deliverable || subs == NULL)
		return 0;
	return evt_ess_subs_delivers(subs, ev->src, ev->srclen, ev->type,
	    ev->typelen);
}

/* Creates an empty history. */
struct evt_gwh *
evt_gwh_new(size_t max_bytes)
{
	struct evt_gwh *h = calloc(1, sizeof *h);

	if (h != NULL)
		h->max_bytes = max_bytes != 0 ? max_bytes : EVT_GWH_DEFAULT_MAX;
	return h;
}

/* Returns entry i counted from the head. */
static struct gwh_ent *
ent(const struct evt_gwh *h, size_t i)
{
	return &h->v[(h->head + i) & (h->cap - 1)];
}

/* Removes the oldest entry. */
static void
drop_head(struct evt_gwh *h)
{
	struct gwh_ent *e = ent(h, 0);
	size_t b = ent_bytes(e->ev);

	h->bytes -= b;
	if (h->cursor > 0)
		h->cursor--;
	else {
		h->unsent_bytes -= b;
		h->lost++;
	}
	evt_gwh_event_unref(e->ev);
	e->ev = NULL;
	h->head = (h->head + 1) & (h->cap - 1);
	h->n--;
	/* The next message must not start with a message's tail unmarked:
	 * the new head always begins one. */
	if (h->n > 0)
		ent(h, 0)->msg_start = 1;
}

/* Frees a history. */
void
evt_gwh_free(struct evt_gwh *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		evt_gwh_event_unref(ent(h, i)->ev);
	free(h->v);
	free(h);
}

/* Doubles the ring; returns 0 or EVT_ERR_NOMEM. */
static int
grow(struct evt_gwh *h)
{
	size_t cap = h->cap ? h->cap * 2 : 64;
	struct gwh_ent *v = malloc(cap * sizeof *v);

	if (v == NULL || cap < h->cap) {
		free(v);
		return EVT_ERR_NOMEM;
	}
	for (size_t i = 0; i < h->n; i++)
		v[i] = *ent(h, i);
	free(h->v);
	h->v = v;
	h->cap = cap;
	h->head = 0;
	return 0;
}

/* Appends an unsent entry and evicts over the bound. */
int
evt_gwh_push(struct evt_gwh *h, struct evt_gwh_event *ev, int64_t t_us,
    int msg_start)
{
	struct gwh_ent *e;
	size_t b = ent_bytes(ev);

	if (h->n == h->cap && grow(h) != 0)
		return EVT_ERR_NOMEM;
	e = ent(h, h->n);
	e->ev = ev;
	e->t_us = t_us;
	e->msg_start = msg_start != 0;
	evt_gwh_event_ref(ev);
	h->n++;
	h->bytes += b;
	h->unsent_bytes += b;
	while (h->bytes > h->max_bytes && h->n > 1)
		drop_head(h);
	return 0;
}

/* Drops old sent entries. */
size_t
evt_gwh_trim(struct evt_gwh *h, int64_t cutoff_us)
{
	size_t k = 0;

	while (h->cursor > 0 && ent(h, 0)->t_us < cutoff_us) {
		drop_head(h);
		k++;
	}
	return k;
}

/* Recomputes the unsent bytes after a cursor move. */
static void
recount(struct evt_gwh *h)
{
	h->unsent_bytes = 0;
	for (size_t i = h->cursor; i < h->n; i++)
		h->unsent_bytes += ent_bytes(ent(h, i)->ev);
}

/* Moves the cursor after the event with the given id. */
int
evt_gwh_seek(struct evt_gwh *h, const char *id, size_t idlen)
{
	size_t i;

	if (idlen == 0) {
		h->cursor = 0;
		recount(h);
		return 0;
	}
	for (i = h->n; i > 0; i--) {
		const struct evt_gwh_event *ev = ent(h, i - 1)->ev;

		if (ev->idlen == idlen && memcmp(ev->id, id, idlen) == 0) {
			h->cursor = i;
			recount(h);
			return 0;
		}
	}
	return EVT_ERR_NOTFOUND;
}

/* Builds the next message from the cursor. */
int
evt_gwh_next(struct evt_gwh *h, struct evt_buf *out, size_t max_events)
{
	size_t i, k, need = 16;

	if (h->cursor >= h->n)
		return 0;
	if (ent(h, h->cursor)->ev->raw) {
		/* A raw frame goes out alone, as it is. */
		const struct evt_gwh_event *ev = ent(h, h->cursor)->ev;

		if (evt_buf_put(out, ev->data, ev->len) != 0)
			return EVT_ERR_NOMEM;
		h->unsent_bytes -= ent_bytes(ev);
		if (++h->cursor < h->n)
			ent(h, h->cursor)->msg_start = 1;
		return 1;
	}
	for (k = h->cursor; k < h->n; k++) {
		const struct gwh_ent *e = ent(h, k);

		if (k > h->cursor && (e->msg_start || e->ev->raw))
			break;
		if (max_events != 0 && k - h->cursor == max_events)
			break;
		need += e->ev->len + 1;
	}
	if (evt_buf_grow(out, need) != 0)
		return EVT_ERR_NOMEM;
	(void)evt_buf_put(out, "{\"events\":[", 11);
	for (i = h->cursor; i < k; i++) {
		const struct evt_gwh_event *ev = ent(h, i)->ev;

		if (i > h->cursor)
			(void)evt_buf_putc(out, ',');
		(void)evt_buf_put(out, ev->data, ev->len);
		h->unsent_bytes -= ent_bytes(ev);
	}
	(void)evt_buf_put(out, "]}", 2);
	i = k - h->cursor;
	h->cursor = k;
	/* A later resume that lands here starts a fresh message. */
	if (k < h->n)
		ent(h, k)->msg_start = 1;
	return (int)i;
}

/* Returns the number of entries. */
size_t
evt_gwh_count(const struct evt_gwh *h)
{
	return h->n;
}

/* Returns the number of unsent entries. */
size_t
evt_gwh_unsent(const struct evt_gwh *h)
{
	return h->n - h->cursor;
}

/* Returns the unsent bytes. */
size_t
evt_gwh_unsent_bytes(const struct evt_gwh *h)
{
	return h->unsent_bytes;
}

/* Returns all bytes held. */
size_t
evt_gwh_bytes(const struct evt_gwh *h)
{
	return h->bytes;
}

/* Returns and resets the lost count. */
uint64_t
evt_gwh_take_lost(struct evt_gwh *h)
{
	uint64_t n = h->lost;

	h->lost = 0;
	return n;
}
