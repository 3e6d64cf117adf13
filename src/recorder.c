/*
 * recorder.c: the recorder's sans-I/O decisions (see recorder.h).
 *
 * The dedupe set is a linear-probing hash of 64-bit id keys with a FIFO
 * ring beside it; eviction removes the oldest key with backward-shift
 * deletion, so there are no tombstones and lookups stay short at any age.
 * Key 0 marks an empty slot, so a real key 0 is stored as 1 (one more
 * collision in 2^64 does not matter).
 *
 * The dedupe walk reads the tokens evt_ess_classify already made: the
 * frame is tokenized once for classification, and its element texts are
 * copied only in the rare case that a duplicate has to be cut out.
 */
#include <stdlib.h>
#include <string.h>

#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/record.h"
#include "evtape/recorder.h"

/* ------------------------------------------------------------- dedupe */

/* Mixes a key into a slot index (keys of GUIDs are already hashed, text
 * keys may not be uniform in the low bits). */
static uint32_t
seen_hash(uint64_t k)
{
	k ^= k >> 33;
	k *= UINT64_C(0xff51afd7ed558ccd);
	k ^= k >> 33;
	return (uint32_t)k;
}

/* The key stored for an id. */
static uint64_t
seen_key(const char *id, size_t len)
{
	uint64_t k = evt_id_key(id, len);

	return k != 0 ? k : 1;
}

/* Initialises an empty set (see recorder.h). */
int
evt_recorder_seen_init(struct evt_recorder_seen *s, uint32_t cap)
{
	uint32_t nslots = 16;

	memset(s, 0, sizeof *s);
	if (cap == 0)
		cap = EVT_RECORDER_SEEN_DEFAULT;
	if (cap > (UINT32_C(1) << 28))
		return EVT_ERR_ARG;
	while (nslots < 2 * cap)
		nslots *= 2;
	s->slots = calloc(nslots, sizeof *s->slots);
	s->ring = calloc(cap, sizeof *s->ring);
	if (s->slots == NULL || s->ring == NULL) {
		evt_recorder_seen_free(s);
		return EVT_ERR_NOMEM;
	}
	s->mask = nslots - 1;
	s->cap = cap;
	return 0;
}

/* Frees the set. */
void
evt_recorder_seen_free(struct evt_recorder_seen *s)
{
	free(s->slots);
	free(s->ring);
	memset(s, 0, sizeof *s);
}

/* Returns the slot holding k, or the empty slot where it would go. */
static uint32_t
seen_find(const struct evt_recorder_seen *s, uint64_t k)
{
	uint32_t i = seen_hash(k) & s->mask;

	while (s->slots[i] != 0 && s->slots[i] != k)
		i = (i + 1) & s->mask;
	return i;
}

/* Removes key k (present) with backward-shift deletion. */
static void
seen_remove(struct evt_recorder_seen *s, uint64_t k)
{
	uint32_t i = seen_find(s, k), j = i;

	if (s->slots[i] == 0)
		return;
	for (;;) {
		s->slots[i] = 0;
		for (;;) {
			uint32_t home;

			j = (j + 1) & s->mask;
			if (s->slots[j] == 0)
				return;
			home = seen_hash(s->slots[j]) & s->mask;
			/* Move j back to i unless its home lies in (i, j]. */
			if (i <= j ? (home <= i || home > j) :
			    (home <= i && home > j))
				break;
		}
		s->slots[i] = s->slots[j];
		i = j;
	}
}

/* Adds key k; 1 if new, 0 if a duplicate. */
static int
seen_add_key(struct evt_recorder_seen *s, uint64_t k)
{
	uint32_t i;

	if (s->cap == 0)
		return 1;
	i = seen_find(s, k);
	if (s->slots[i] == k)
		return 0;
	if (s->n == s->cap) {
		/* Forget the oldest; the slot found above may move. */
		seen_remove(s, s->ring[s->head]);
		s->head = (s->head + 1) % s->cap;
		s->n--;
		i = seen_find(s, k);
	}
	s->slots[i] = k;
	s->ring[(s->head + s->n) % s->cap] = k;
	s->n++;
	return 1;
}

/* Adds an id; 1 if new, 0 if a duplicate. */
int
evt_recorder_seen_add(struct evt_recorder_seen *s, const char *id, size_t len)
{
	return seen_add_key(s, seen_key(id, len));
}

/* Adds an id by its key (see recorder.h). */
int
evt_recorder_seen_add_key(struct evt_recorder_seen *s, uint64_t key)
{
	return seen_add_key(s, key != 0 ? key : 1);
}

/* Tells whether an id is in the set. */
int
evt_recorder_seen_has(const struct evt_recorder_seen *s, const char *id,
    size_t len)
{
	uint64_t k;

	if (s->cap == 0)
		return 0;
	k = seen_key(id, len);
	return s->slots[seen_find(s, k)] == k;
}

/* Finds the string member "id" of the object token at index o (matched
 * as evt_ess_classify matches it); returns its token index or -1. */
static long
object_id(const struct evt_jtok *t, const char *frame, uint32_t o)
{
	long v = evt_ess_member(frame, t, o, "id");

	return v >= 0 && t[v].type == EVT_J_STRING ? v : -1;
}

/* Start offset of the text of token i (strings start at their quote). */
static uint32_t
tok_start(const struct evt_jtok *t, uint32_t i)
{
	return t[i].type == EVT_J_STRING ? t[i].off - 1 : t[i].off;
}

/* End offset (exclusive) of the text of token i. */
static uint32_t
tok_end(const struct evt_jtok *t, uint32_t i)
{
	return t[i].type == EVT_J_STRING ? t[i].off + t[i].len + 1 :
	    t[i].off + t[i].len;
}

/* Drops duplicate events of a message (see recorder.h). */
int
evt_recorder_dedupe(struct evt_recorder_seen *s, const struct evt_jparser *p,
    const char *frame, size_t len, struct evt_buf *out, size_t *ndup)
{
	const struct evt_jtok *t = p->tok;
	uint32_t ea, e, prev_end = 0;
	size_t dups = 0, n, kept = 0, mark = out->len;
	int oom = 0;
	long v;

	if (ndup != NULL)
		*ndup = 0;
	if (p->ntok == 0 || t[0].type != EVT_J_OBJECT || len == 0)
		return EVT_ERR_ARG;
	/* The array evt_ess_classify counted (same key matching). */
	v = evt_ess_member(frame, t, 0, "events");
	if (v < 0 || t[v].type != EVT_J_ARRAY)
		return EVT_ERR_ARG;
	ea = (uint32_t)v;
	n = t[ea].size;
	/*
	 * One pass, no bound on the batch: nothing is written until the
	 * first duplicate; then the text before the array's elements, the
	 * kept elements so far (one verbatim run) and each later kept element
	 * go to out.  The other top-level members stay as they arrived.
	 */
	e = ea + 1;
	for (size_t i = 0; i < n; i++, e = t[e].next) {
		int dup = 0;

		if (t[e].type == EVT_J_OBJECT) {
			long id = object_id(t, frame, e);

			dup = id >= 0 && !evt_recorder_seen_add(s,
			    frame + t[id].off, t[id].len);
		}
		if (oom) {
			/* Out of memory: only add the remaining ids. */
		} else if (dup && dups == 0) {
			if (evt_buf_put(out, frame, t[ea].off + 1) != 0 ||
			    (kept > 0 && evt_buf_put(out, frame +
			    tok_start(t, ea + 1), prev_end -
			    tok_start(t, ea + 1)) != 0))
				oom = 1;
		} else if (!dup && dups > 0) {
			if ((kept > 0 && evt_buf_putc(out, ',') != 0) ||
			    evt_buf_put(out, frame + tok_start(t, e),
			    tok_end(t, e) - tok_start(t, e)) != 0)
				oom = 1;
		}
		if (dup)
			dups++;
		else {
			kept++;
			prev_end = tok_end(t, e);
		}
	}
	if (ndup != NULL)
		*ndup = dups;
	if (oom)
		goto nomem;
	if (dups == 0)
		return EVT_RECORDER_KEEP;
	if (dups == n) {
		out->len = mark;
		return EVT_RECORDER_DROP;
	}
	/* From the array's closing bracket to the end of the message. */
	if (evt_buf_put(out, frame + t[ea].off + t[ea].len - 1,
	    len - (t[ea].off + t[ea].len - 1)) != 0)
		goto nomem;
	return EVT_RECORDER_REBUILT;
nomem:
	out->len = mark;
	return EVT_ERR_NOMEM;
}

/* ------------------------------------------------------------ sessions */

/* Decides what a startSession response means (see recorder.h). */
int
evt_recorder_start_outcome(const char *asked_sid, int status,
    const char *got_sid)
{
	int asked = asked_sid != NULL && asked_sid[0] != '\0';

	if (status < 200 || status > 299)
		return EVT_RECORDER_FAILED;
	if (asked && status == 200 && (got_sid[0] == '\0' ||
	    strcmp(asked_sid, got_sid) == 0))
		return EVT_RECORDER_RESUMED;
	if (got_sid[0] == '\0')
		return EVT_RECORDER_FAILED;
	return asked ? EVT_RECORDER_REFUSED : EVT_RECORDER_NEW;
}

/* Appends ,"key":"value" (or without the comma when first). */
static int
put_member(struct evt_buf *b, int first, const char *key, const char *val)
{
	if (!first && evt_buf_putc(b, ',') != 0)
		return EVT_ERR_NOMEM;
	if (evt_json_put_string(b, key, strlen(key)) != 0 ||
	    evt_buf_putc(b, ':') != 0 ||
	    evt_json_put_string(b, val, strlen(val)) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Builds a SESSION marker body (see recorder.h). */
int
evt_recorder_session_json(struct evt_buf *out, const char *event,
    const char *sid, const char *gateway, const char *last, const char *after,
    const char *rec)
{
	size_t mark = out->len;

	if (evt_buf_putc(out, '{') != 0 ||
	    put_member(out, 1, "event", event) != 0 ||
	    put_member(out, 0, "sessionId", sid) != 0 ||
	    put_member(out, 0, "gateway", gateway) != 0 ||
	    (last != NULL && put_member(out, 0, "lastEventId", last) != 0) ||
	    (after != NULL && put_member(out, 0, "startedAfter", after) != 0) ||
	    (rec != NULL && put_member(out, 0, "recorder", rec) != 0) ||
	    evt_buf_putc(out, '}') != 0) {
		out->len = mark;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Builds a GAP marker body (see recorder.h). */
int
evt_recorder_gap_json(struct evt_buf *out, const char *reason,
    const char *prev_sid, const char *last, const char *sid)
{
	size_t mark = out->len;

	if (evt_buf_putc(out, '{') != 0 ||
	    put_member(out, 1, "reason", reason) != 0 ||
	    put_member(out, 0, "previousSessionId", prev_sid) != 0 ||
	    (last != NULL && last[0] != '\0' &&
	    put_member(out, 0, "lastEventId", last) != 0) ||
	    put_member(out, 0, "sessionId", sid) != 0 ||
	    evt_buf_putc(out, '}') != 0) {
		out->len = mark;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Returns the value token index of member key (exact, unescaped) of the
 * object at index o, or -1. */
static long
member(const struct evt_jtok *t, const char *text, uint32_t o,
    const char *key)
{
	size_t kl = strlen(key);
	uint32_t j = o + 1;

	for (uint32_t i = 0; i < t[o].size; i++) {
		const struct evt_jtok *k = &t[j];

		if (k->len == kl && memcmp(text + k->off, key, kl) == 0)
			return (long)k->next;
		j = t[k->next].next;
	}
	return -1;
}

/* Reads string member key of the object json[0..len) into val (at most
 * EVT_ESS_ID_MAX bytes and a NUL); empty values only when allow_empty. */
static int
string_member(const char *json, size_t len, const char *key,
    char val[EVT_ESS_ID_MAX + 1], int allow_empty)
{
	struct evt_jparser jp;
	long v;
	int rc, n = 0;

	val[0] = '\0';
	evt_json_init(&jp, 16);
	rc = evt_json_parse(&jp, json, len);
	if (rc == EVT_ERR_NOMEM)
		goto out;
	rc = EVT_ERR_NOTFOUND;
	if (jp.ntok == 0 || jp.tok[0].type != EVT_J_OBJECT)
		goto out;
	v = member(jp.tok, json, 0, key);
	if (v < 0 || jp.tok[v].type != EVT_J_STRING ||
	    (jp.tok[v].len == 0 && !allow_empty) ||
	    jp.tok[v].len > EVT_ESS_ID_MAX)
		goto out;
	if (jp.tok[v].len > 0 && (n = evt_json_unescape(json +
	    jp.tok[v].off, jp.tok[v].len, val)) <= 0)
		goto out;
	val[n] = '\0';
	rc = 0;
out:
	evt_json_free(&jp);
	return rc;
}

/* Reads the sessionId of a SESSION marker body (see recorder.h). */
int
evt_recorder_session_parse(const char *json, size_t len,
    char sid[EVT_ESS_ID_MAX + 1])
{
	return string_member(json, len, "sessionId", sid, 0);
}

/* Reads the startedAfter of a SESSION marker body (see recorder.h). */
int
evt_recorder_session_after(const char *json, size_t len,
    char after[EVT_ESS_ID_MAX + 1])
{
	return string_member(json, len, "startedAfter", after, 1);
}

/* Picks the event id to resume a session after (see recorder.h). */
const char *
evt_recorder_resume_id(const char *archive_last, const char *after)
{
	if (after != NULL && strcmp(archive_last, after) == 0)
		return "";
	return archive_last;
}

/* ------------------------------------------------------------- config */

/* Finds the items of a REST body: the root array, or its "array", "data"
 * or "items" member when it is an array, or its "data" member when it is
 * an object (one item: the answer to GET <resource>/<id>).  Returns the
 * token index or -1. */
static long
rest_items(const struct evt_jtok *t, const char *text)
{
	static const char *const keys[] = {"array", "data", "items"};
	long v;

	if (t[0].type == EVT_J_ARRAY)
		return 0;
	if (t[0].type != EVT_J_OBJECT)
		return -1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		v = member(t, text, 0, keys[i]);
		if (v >= 0 && t[v].type == EVT_J_ARRAY)
			return v;
	}
	v = member(t, text, 0, "data");
	return v >= 0 && t[v].type == EVT_J_OBJECT ? v : -1;
}

/* Appends the raw string token t[i] as a JSON string (already valid JSON
 * string content, so it is copied with its escapes). */
static int
put_tok_string(struct evt_buf *b, const char *text, const struct evt_jtok *t)
{
	if (evt_buf_putc(b, '"') != 0 || evt_buf_put(b, text + t->off,
	    t->len) != 0 || evt_buf_putc(b, '"') != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Appends ,"key": and the string token t (t may be NULL: nothing). */
static int
put_tok_member(struct evt_buf *b, const char *key, const char *text,
    const struct evt_jtok *t)
{
	if (t == NULL)
		return 0;
	if (evt_buf_put(b, ",\"", 2) != 0 ||
	    evt_buf_put(b, key, strlen(key)) != 0 ||
	    evt_buf_put(b, "\":", 2) != 0 || put_tok_string(b, text, t) != 0)
		return EVT_ERR_NOMEM;
	return 0;
}

/* Which kind of list a resource goes to. */
enum { CFG_TYPES, CFG_GROUPS, CFG_SOURCES };

/* The string member key of object token e, or NULL. */
static const struct evt_jtok *
str_tok(const struct evt_jtok *t, const char *text, uint32_t e,
    const char *key)
{
	long v = member(t, text, e, key);

	return v >= 0 && t[v].type == EVT_J_STRING ? &t[v] : NULL;
}

/* Appends one reduced item (object token e of text) to the list b of the
 * given kind, sources named "<resource>/<id>".  Returns 1 if written, 0
 * if skipped (no string id), or EVT_ERR_NOMEM. */
static int
reduce_item(struct evt_buf *b, const struct evt_jtok *t, const char *text,
    uint32_t e, const char *resource, int kind)
{
	const struct evt_jtok *id, *name, *dname, *sg;

	if (t[e].type != EVT_J_OBJECT)
		return 0;
	id = str_tok(t, text, e, "id");
	if (id == NULL || id->len == 0)
		return 0;
	name = str_tok(t, text, e, "name");
	dname = str_tok(t, text, e, "displayName");
	if (name == NULL)
		name = dname;
	/* displayName is what the official samples show; kept only where it
	 * differs from name, to keep the marker small. */
	if (dname != NULL && dname->len == name->len && memcmp(text +
	    dname->off, text + name->off, name->len) == 0)
		dname = NULL;
	if ((b->len > 0 && evt_buf_putc(b, ',') != 0) ||
	    evt_buf_put(b, "{\"id\":", 6) != 0)
		return EVT_ERR_NOMEM;
	if (kind == CFG_SOURCES) {
		if (evt_buf_putc(b, '"') != 0 || evt_buf_put(b, resource,
		    strlen(resource)) != 0 || evt_buf_putc(b, '/') != 0 ||
		    evt_buf_put(b, text + id->off, id->len) != 0 ||
		    evt_buf_putc(b, '"') != 0)
			return EVT_ERR_NOMEM;
	} else if (put_tok_string(b, text, id) != 0)
		return EVT_ERR_NOMEM;
	if (put_tok_member(b, "name", text, name) != 0 ||
	    put_tok_member(b, "displayName", text, dname) != 0)
		return EVT_ERR_NOMEM;
	if (kind == CFG_TYPES) {
		sg = str_tok(t, text, e, "stateGroupId");
		if (put_tok_member(b, "state", text, str_tok(t, text, e,
		    "state")) != 0 || put_tok_member(b, "stateGroupId", text,
		    sg != NULL && sg->len > 0 ? sg : NULL) != 0)
			return EVT_ERR_NOMEM;
	}
	return evt_buf_putc(b, '}') != 0 ? EVT_ERR_NOMEM : 1;
}

/* Reduces one Config REST answer into the collection (see recorder.h). */
int
evt_recorder_cfg_add(struct evt_recorder_cfg *c, const char *resource,
    const char *body, size_t len)
{
	int kind = strcmp(resource, "eventTypes") == 0 ? CFG_TYPES :
	    strcmp(resource, "stateGroups") == 0 ? CFG_GROUPS : CFG_SOURCES;
	struct evt_buf *b = &c->list[kind];
	const struct evt_jtok *t;
	size_t mark = b->len;
	long arr;
	uint32_t e, n;
	int count = 0, rc;

	if (!c->jp_init) {
		evt_json_init(&c->jp, 64);
		c->jp_init = 1;
	}
	if (body == NULL || evt_json_parse(&c->jp, body, len) < 0 ||
	    (arr = rest_items(c->jp.tok, body)) < 0) {
		c->bad++;
		return -1;
	}
	t = c->jp.tok;
	/* A list: its elements; one item: the object itself. */
	n = t[arr].type == EVT_J_ARRAY ? t[arr].size : 1;
	e = t[arr].type == EVT_J_ARRAY ? (uint32_t)arr + 1 : (uint32_t)arr;
	for (uint32_t i = 0; i < n; i++, e = t[e].next) {
		if ((rc = reduce_item(b, t, body, e, resource, kind)) < 0) {
			b->len = mark;
			return rc;
		}
		count += rc;
	}
	c->items += (size_t)count;
	return count;
}

/* Writes the CONFIG body of a collection (see recorder.h). */
int
evt_recorder_cfg_body(const struct evt_recorder_cfg *c, int delta,
    struct evt_buf *out)
{
	static const char *const lists[] = {"eventTypes", "stateGroups",
	    "sources"};
	size_t mark = out->len;
	int rc = 0;

	rc |= evt_buf_putc(out, '{');
	if (delta)
		rc |= evt_buf_put(out, "\"kind\":\"delta\",", 15);
	for (int k = CFG_TYPES; k <= CFG_SOURCES; k++) {
		if (k > CFG_TYPES)
			rc |= evt_buf_putc(out, ',');
		rc |= evt_buf_putc(out, '"');
		rc |= evt_buf_put(out, lists[k], strlen(lists[k]));
		rc |= evt_buf_put(out, "\":[", 3);
		rc |= evt_buf_put(out, c->list[k].p, c->list[k].len);
		rc |= evt_buf_putc(out, ']');
	}
	rc |= evt_buf_putc(out, '}');
	if (rc != 0) {
		out->len = mark;
		return EVT_ERR_NOMEM;
	}
	return 0;
}

/* Empties a collection. */
void
evt_recorder_cfg_free(struct evt_recorder_cfg *c)
{
	for (int k = CFG_TYPES; k <= CFG_SOURCES; k++)
		evt_buf_free(&c->list[k]);
	if (c->jp_init)
		evt_json_free(&c->jp);
	memset(c, 0, sizeof *c);
}

/* Reduces Config REST answers to a CONFIG marker body (see recorder.h). */
int
evt_recorder_config_reduce(struct evt_buf *out,
    const struct evt_recorder_rest *rest, size_t n, size_t *bad)
{
	struct evt_recorder_cfg c;
	int rc = 0;

	memset(&c, 0, sizeof c);
	for (size_t i = 0; i < n && rc >= 0; i++)
		if (rest[i].body != NULL)
			rc = evt_recorder_cfg_add(&c, rest[i].resource,
			    rest[i].body, rest[i].len);
	if (rc != EVT_ERR_NOMEM)
		rc = evt_recorder_cfg_body(&c, 0, out);
	if (bad != NULL)
		*bad = c.bad;
	if (rc == 0)
		rc = (int)c.items;
	evt_recorder_cfg_free(&c);
	return rc;
}

/* ------------------------------------------------------------- names */

/* Namespaces of ids: a source ("cameras/<guid>", as it is), an event
 * type, a state group; each hashes with its own seed, so the scan of the
 * hot path never builds "eventTypes/<id>" to look an id up. */
enum { NS_SOURCE, NS_TYPE, NS_GROUP };
static const char *const ns_prefix[] = {"", "eventTypes/", "stateGroups/"};

/* The key of id[0..len) of namespace ns: a multiply-xorshift hash of its
 * bytes 8 at a time, each byte OR 0x20, which folds letter case (resource
 * types and GUIDs compare case-insensitively, docs/ess-protocol.md section
 * 6) and keeps apart every other byte a path may hold; never 0 (the empty
 * slot).  About 10 ns for a camera source. */
static uint64_t
ns_key(int ns, const char *id, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull * (uint64_t)(ns + 1) ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, id + i, 8);
		h = (h ^ (w | 0x2020202020202020ull)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < len) {
		/* The tail: the last 8 bytes (overlapping), or byte by byte
		 * for an id of fewer than 8 (no copy call on the hot path). */
		if (len >= 8)
			memcpy(&w, id + len - 8, 8);
		else
			for (w = 0; i < len; i++)
				w = w << 8 | (unsigned char)id[i];
		h = (h ^ (w | 0x2020202020202020ull)) * 0xff51afd7ed558ccdull;
	}
	h ^= h >> 29;
	return h != 0 ? h : 1;
}

/* The key of a path: "eventTypes/<id>" and "stateGroups/<id>" in their
 * namespaces, anything else a source. */
static uint64_t
names_key(const char *p, size_t len)
{
	for (int ns = NS_TYPE; ns <= NS_GROUP; ns++) {
		size_t pl = strlen(ns_prefix[ns]);

		if (len > pl && memcmp(p, ns_prefix[ns], pl) == 0)
			return ns_key(ns, p + pl, len - pl);
	}
	return ns_key(NS_SOURCE, p, len);
}

/* The slot of key k in slots (mask), or the empty one where it goes. */
static uint32_t
names_find(const uint64_t *slots, uint32_t mask, uint64_t k)
{
	uint32_t i = (uint32_t)k & mask;	/* ns_key mixed it already */

	while (slots[i] != 0 && slots[i] != k)
		i = (i + 1) & mask;
	return i;
}

/* names_add: not added, EVT_RECORDER_NAMES_MAX keys are held. */
#define NAMES_FULL 2

/* Adds key k; 1 if new, 0 if held, NAMES_FULL, or EVT_ERR_NOMEM.  The
 * table doubles at half full. */
static int
names_add(struct evt_recorder_names *n, uint64_t k)
{
	uint32_t i;

	if (n->slots != NULL && n->slots[names_find(n->slots, n->mask,
	    k)] == k)
		return 0;
	if (n->n >= EVT_RECORDER_NAMES_MAX)
		return NAMES_FULL;
	if (n->slots == NULL || (n->n + 1) * 2 > n->mask + 1) {
		uint32_t size = n->slots == NULL ? 1024 : (n->mask + 1) * 2;
		uint64_t *s = calloc(size, sizeof *s);

		if (s == NULL)
			return EVT_ERR_NOMEM;
		for (uint32_t j = 0; n->slots != NULL && j <= n->mask; j++)
			if (n->slots[j] != 0)
				s[names_find(s, size - 1, n->slots[j])] =
				    n->slots[j];
		free(n->slots);
		n->slots = s;
		n->mask = size - 1;
	}
	i = names_find(n->slots, n->mask, k);
	n->slots[i] = k;
	n->n++;
	return 1;
}

/* Tells whether a path may be looked up (see recorder.h). */
int
evt_recorder_names_path_ok(const char *path, size_t len)
{
	size_t i = 0;

	if (len == 0 || len >= EVT_RECORDER_NAMES_PATH)
		return 0;
	while (i < len && i < 64 && ((path[i] >= 'a' && path[i] <= 'z') ||
	    (path[i] >= 'A' && path[i] <= 'Z') ||
	    (path[i] >= '0' && path[i] <= '9')))
		i++;
	if (i == 0 || i >= 64 || i + 1 >= len || path[i] != '/')
		return 0;
	for (i++; i < len; i++)
		if (!((path[i] >= 'a' && path[i] <= 'z') ||
		    (path[i] >= 'A' && path[i] <= 'Z') ||
		    (path[i] >= '0' && path[i] <= '9') || path[i] == '-' ||
		    path[i] == '_'))
			return 0;
	return 1;
}

/* Queues the path of id[0..len) of namespace ns (key k) unless known,
 * asked or refused; returns what evt_recorder_names_note does. */
static int
note_key(struct evt_recorder_names *n, uint64_t k, int ns, const char *id,
    size_t len)
{
	size_t pl;
	char *d;
	int rc;

	if (n->slots != NULL && n->slots[names_find(n->slots, n->mask,
	    k)] != 0)
		return 0;	/* the common case: known */
	pl = strlen(ns_prefix[ns]);
	if (pl + len >= EVT_RECORDER_NAMES_PATH)
		return 0;
	if (n->qn == EVT_RECORDER_NAMES_QUEUE) {
		n->skipped++;	/* asked at its next event */
		return 0;
	}
	if (n->q == NULL && (n->q = calloc(EVT_RECORDER_NAMES_QUEUE,
	    sizeof *n->q)) == NULL)
		return EVT_ERR_NOMEM;
	d = n->q[(n->qhead + n->qn) % EVT_RECORDER_NAMES_QUEUE];
	memcpy(d, ns_prefix[ns], pl);
	memcpy(d + pl, id, len);
	d[pl + len] = '\0';
	if (!evt_recorder_names_path_ok(d, pl + len))
		return 0;
	if ((rc = names_add(n, k)) != 1) {
		if (rc == NAMES_FULL)
			n->skipped++;
		return rc == EVT_ERR_NOMEM ? rc : 0;
	}
	n->qn++;
	n->queued++;
	return 1;
}

/* Queues a path unless known, asked or refused (see recorder.h). */
int
evt_recorder_names_note(struct evt_recorder_names *n, const char *path,
    size_t len)
{
	for (int ns = NS_TYPE; ns <= NS_GROUP; ns++) {
		size_t pl = strlen(ns_prefix[ns]);

		if (len > pl && memcmp(path, ns_prefix[ns], pl) == 0)
			return note_key(n, ns_key(ns, path + pl, len - pl), ns,
			    path + pl, len - pl);
	}
	return note_key(n, ns_key(NS_SOURCE, path, len), NS_SOURCE, path,
	    len);
}

/* Notes the sources, types and state groups of a message (see
 * recorder.h).  The hot path of a recorder: one pass over each event's
 * members, keys compared as they are (the gateway's lower case), a hash
 * and a probe per id; nothing is copied unless an id is new. */
int
evt_recorder_names_scan(struct evt_recorder_names *n,
    const struct evt_jparser *p, const char *frame)
{
	const struct evt_jtok *t = p->tok;
	int queued = 0, rc, ns;
	uint32_t e, j;
	uint64_t h;
	long v;

	if (p->ntok == 0 || t[0].type != EVT_J_OBJECT)
		return EVT_ERR_ARG;
	if (n->changed_key == 0)
		n->changed_key = ns_key(NS_TYPE, EVT_RECORDER_CONFIG_CHANGED,
		    strlen(EVT_RECORDER_CONFIG_CHANGED));
	/* The gateway's form {"events":[...]} at once, else the way
	 * evt_ess_classify matches the key. */
	if (t[0].size == 1 && t[1].len == 6 && memcmp(frame + t[1].off,
	    "events", 6) == 0)
		v = 2;
	else
		v = evt_ess_member(frame, t, 0, "events");
	if (v < 0 || t[v].type != EVT_J_ARRAY)
		return EVT_ERR_ARG;
	e = (uint32_t)v + 1;
	for (uint32_t i = 0; i < t[v].size; i++, e = t[e].next) {
		if (t[e].type != EVT_J_OBJECT)
			continue;
		j = e + 1;
		for (uint32_t m = 0; m < t[e].size; m++, j = t[t[j].next].next) {
			const struct evt_jtok *k = &t[j], *val = &t[k->next];
			const char *key = frame + k->off;

			if (val->type != EVT_J_STRING)
				continue;
			if (k->len == 6 && memcmp(key, "source", 6) == 0)
				ns = NS_SOURCE;
			else if (k->len == 4 && key[1] == 'y' &&
			    memcmp(key, "type", 4) == 0)
				ns = NS_TYPE;
			else if (k->len == 12 && memcmp(key, "stategroupid",
			    12) == 0)
				ns = NS_GROUP;
			else
				continue;
			h = ns_key(ns, frame + val->off, val->len);
			if (ns == NS_TYPE && h == n->changed_key)
				n->changed++;
			if (n->slots != NULL && n->slots[names_find(n->slots,
			    n->mask, h)] == h)
				continue;	/* known: the common case */
			rc = note_key(n, h, ns, frame + val->off, val->len);
			if (rc < 0)
				return rc;
			queued += rc;
		}
	}
	return queued;
}

/* Adds the ids of one list of a CONFIG body (of namespace ns); returns
 * the count or EVT_ERR_NOMEM. */
static int
learn_list(struct evt_recorder_names *n, const struct evt_jtok *t,
    const char *body, const char *list, int ns)
{
	long v = member(t, body, 0, list);
	int count = 0, rc;
	uint32_t e;

	if (v < 0 || t[v].type != EVT_J_ARRAY)
		return 0;
	e = (uint32_t)v + 1;
	for (uint32_t i = 0; i < t[v].size; i++, e = t[e].next) {
		const struct evt_jtok *id = t[e].type == EVT_J_OBJECT ?
		    str_tok(t, body, e, "id") : NULL;

		if (id == NULL)
			continue;
		rc = names_add(n, ns == NS_SOURCE ? names_key(body + id->off,
		    id->len) : ns_key(ns, body + id->off, id->len));
		if (rc == EVT_ERR_NOMEM)
			return rc;
		count += rc == 1;
	}
	return count;
}

/* Makes a snapshot's ids the known ones (see recorder.h). */
int
evt_recorder_names_learn(struct evt_recorder_names *n, const char *body,
    size_t len)
{
	struct evt_jparser jp;
	int total = 0, rc;
	uint32_t keep = 0;

	evt_json_init(&jp, 64);
	if ((rc = evt_json_parse(&jp, body, len)) < 0 ||
	    jp.tok[0].type != EVT_J_OBJECT) {
		evt_json_free(&jp);
		return rc == EVT_ERR_NOMEM ? rc : EVT_ERR_JSON;
	}
	if (n->slots != NULL)
		memset(n->slots, 0, ((size_t)n->mask + 1) * sizeof *n->slots);
	n->n = 0;
	if ((rc = learn_list(n, jp.tok, body, "eventTypes", NS_TYPE)) < 0 ||
	    (total = rc, rc = learn_list(n, jp.tok, body, "stateGroups",
	    NS_GROUP)) < 0 || (total += rc, rc = learn_list(n, jp.tok, body,
	    "sources", NS_SOURCE)) < 0) {
		evt_json_free(&jp);
		return rc;
	}
	total += rc;
	evt_json_free(&jp);
	/* Queued paths the snapshot names are known now; the others stay
	 * queued and asked. */
	for (uint32_t i = 0; i < n->qn; i++) {
		char *p = n->q[(n->qhead + i) % EVT_RECORDER_NAMES_QUEUE];

		if ((rc = names_add(n, names_key(p, strlen(p)))) == 1 ||
		    rc == NAMES_FULL)
			memmove(n->q[(n->qhead + keep++) %
			    EVT_RECORDER_NAMES_QUEUE], p, strlen(p) + 1);
		else if (rc == EVT_ERR_NOMEM)
			return rc;
	}
	n->qn = keep;
	return total;
}

/* Takes the next path when pacing allows (see recorder.h). */
const char *
evt_recorder_names_take(struct evt_recorder_names *n, int64_t now_us,
    double rate)
{
	if (n->qn == 0 || n->inflight >= EVT_RECORDER_NAMES_INFLIGHT ||
	    now_us < n->next_us)
		return NULL;
	if (!(rate > 0))
		rate = EVT_RECORDER_NAMES_RATE;
	memcpy(n->cur, n->q[n->qhead], sizeof n->cur);
	n->qhead = (n->qhead + 1) % EVT_RECORDER_NAMES_QUEUE;
	n->qn--;
	n->inflight++;
	n->next_us = now_us + (int64_t)(1e6 / rate);
	return n->cur;
}

/* A lookup ended. */
void
evt_recorder_names_done(struct evt_recorder_names *n)
{
	if (n->inflight > 0)
		n->inflight--;
}

/* Paths waiting. */
uint32_t
evt_recorder_names_waiting(const struct evt_recorder_names *n)
{
	return n->qn;
}

/* Forgets everything (see recorder.h). */
void
evt_recorder_names_clear(struct evt_recorder_names *n)
{
	unsigned inflight = n->inflight;

	free(n->slots);
	free(n->q);
	memset(n, 0, sizeof *n);
	n->inflight = inflight;
}

/* ------------------------------------------------------------- pacing */

/* Reconnect delay with exponential growth and jitter (see recorder.h). */
uint32_t
evt_recorder_backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t max_ms,
    uint32_t rnd)
{
	uint64_t d = base_ms;

	if (attempt == 0)
		return 0;
	for (unsigned i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* factor = 0.75 + rnd / 2^33, in [0.75, 1.25) */
	d = (d * 3) / 4 + ((d * (uint64_t)rnd) >> 33);
	return d > max_ms ? max_ms : (uint32_t)d;
}

/* Tells whether a connection proved stable (see recorder.h). */
int
evt_recorder_stable(int64_t up_us, uint64_t events, int64_t min_up_us,
    uint64_t min_events)
{
	return up_us >= min_up_us || events >= min_events;
}

/* Tells whether the token must be renewed (see recorder.h). */
int
evt_recorder_token_due(int64_t expires_us, int64_t now_us, int64_t margin_us)
{
	if (expires_us == 0)
		return 1;
	if (expires_us < 0)
		return 0;
	return now_us >= expires_us - margin_us;
}
