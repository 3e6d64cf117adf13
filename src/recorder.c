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

/* Finds the array of items in a REST body: the root, or its "array",
 * "data" or "items" member.  Returns the token index or -1. */
static long
rest_items(const struct evt_jtok *t, const char *text)
{
	static const char *const keys[] = {"array", "data", "items"};

	if (t[0].type == EVT_J_ARRAY)
		return 0;
	if (t[0].type != EVT_J_OBJECT)
		return -1;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		long v = member(t, text, 0, keys[i]);

		if (v >= 0 && t[v].type == EVT_J_ARRAY)
			return v;
	}
	return -1;
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

/* Which kind of list a resource goes to. */
enum { CFG_TYPES, CFG_GROUPS, CFG_SOURCES };

/* Appends the reduced items of one REST body of the given kind; returns
 * the number written, -1 if the body is unusable, or EVT_ERR_NOMEM. */
static int
reduce_one(struct evt_buf *out, struct evt_jparser *jp,
    const struct evt_recorder_rest *r, int kind, int *first)
{
	const struct evt_jtok *t;
	long arr;
	uint32_t e;
	int count = 0;

	if (r->body == NULL)
		return 0;
	if (evt_json_parse(jp, r->body, r->len) < 0)
		return -1;
	t = jp->tok;
	if ((arr = rest_items(t, r->body)) < 0)
		return -1;
	e = (uint32_t)arr + 1;
	for (uint32_t i = 0; i < t[arr].size; i++, e = t[e].next) {
		long id, name, dname, sg, st;

		if (t[e].type != EVT_J_OBJECT)
			continue;
		id = member(t, r->body, e, "id");
		if (id < 0 || t[id].type != EVT_J_STRING || t[id].len == 0)
			continue;
		name = member(t, r->body, e, "name");
		dname = member(t, r->body, e, "displayName");
		if (dname >= 0 && t[dname].type != EVT_J_STRING)
			dname = -1;
		if (name < 0 || t[name].type != EVT_J_STRING)
			name = dname;
		/* displayName is what the official samples show; kept only
		 * where it differs from name, to keep the marker small. */
		if (dname >= 0 && name >= 0 && t[dname].len == t[name].len &&
		    memcmp(r->body + t[dname].off, r->body + t[name].off,
		    t[name].len) == 0)
			dname = -1;
		if (!*first && evt_buf_putc(out, ',') != 0)
			return EVT_ERR_NOMEM;
		*first = 0;
		if (evt_buf_put(out, "{\"id\":", 6) != 0)
			return EVT_ERR_NOMEM;
		if (kind == CFG_SOURCES) {
			if (evt_buf_putc(out, '"') != 0 ||
			    evt_buf_put(out, r->resource,
			    strlen(r->resource)) != 0 ||
			    evt_buf_putc(out, '/') != 0 ||
			    evt_buf_put(out, r->body + t[id].off,
			    t[id].len) != 0 || evt_buf_putc(out, '"') != 0)
				return EVT_ERR_NOMEM;
		} else if (put_tok_string(out, r->body, &t[id]) != 0)
			return EVT_ERR_NOMEM;
		if (name >= 0 && t[name].type == EVT_J_STRING &&
		    (evt_buf_put(out, ",\"name\":", 8) != 0 ||
		    put_tok_string(out, r->body, &t[name]) != 0))
			return EVT_ERR_NOMEM;
		if (dname >= 0 && (evt_buf_put(out, ",\"displayName\":",
		    15) != 0 || put_tok_string(out, r->body, &t[dname]) != 0))
			return EVT_ERR_NOMEM;
		if (kind == CFG_TYPES) {
			st = member(t, r->body, e, "state");
			if (st >= 0 && t[st].type == EVT_J_STRING &&
			    (evt_buf_put(out, ",\"state\":", 9) != 0 ||
			    put_tok_string(out, r->body, &t[st]) != 0))
				return EVT_ERR_NOMEM;
			sg = member(t, r->body, e, "stateGroupId");
			if (sg >= 0 && t[sg].type == EVT_J_STRING &&
			    t[sg].len > 0 &&
			    (evt_buf_put(out, ",\"stateGroupId\":", 16) != 0 ||
			    put_tok_string(out, r->body, &t[sg]) != 0))
				return EVT_ERR_NOMEM;
		}
		if (evt_buf_putc(out, '}') != 0)
			return EVT_ERR_NOMEM;
		count++;
	}
	return count;
}

/* Reduces Config REST answers to a CONFIG marker body (see recorder.h). */
int
evt_recorder_config_reduce(struct evt_buf *out,
    const struct evt_recorder_rest *rest, size_t n, size_t *bad)
{
	static const char *const lists[] = {"eventTypes", "stateGroups",
	    "sources"};
	struct evt_jparser jp;
	size_t mark = out->len, nbad = 0;
	int total = 0, rc = 0;

	evt_json_init(&jp, 64);
	if (evt_buf_putc(out, '{') != 0)
		goto nomem;
	for (int kind = CFG_TYPES; kind <= CFG_SOURCES; kind++) {
		int first = 1;

		if ((kind > CFG_TYPES && evt_buf_putc(out, ',') != 0) ||
		    evt_buf_putc(out, '"') != 0 || evt_buf_put(out,
		    lists[kind], strlen(lists[kind])) != 0 ||
		    evt_buf_put(out, "\":[", 3) != 0)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			int k = strcmp(rest[i].resource, "eventTypes") == 0 ?
			    CFG_TYPES : strcmp(rest[i].resource,
			    "stateGroups") == 0 ? CFG_GROUPS : CFG_SOURCES;

			if (k != kind)
				continue;
			rc = reduce_one(out, &jp, &rest[i], kind, &first);
			if (rc == EVT_ERR_NOMEM)
				goto nomem;
			if (rc < 0)
				nbad++;
			else
				total += rc;
		}
		if (evt_buf_putc(out, ']') != 0)
			goto nomem;
	}
	if (evt_buf_putc(out, '}') != 0)
		goto nomem;
	evt_json_free(&jp);
	if (bad != NULL)
		*bad = nbad;
	return total;
nomem:
	evt_json_free(&jp);
	out->len = mark;
	return EVT_ERR_NOMEM;
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
