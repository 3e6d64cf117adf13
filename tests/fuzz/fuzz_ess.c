/*
 * fuzz_ess.c: libFuzzer target for the ESS protocol core (src/ess.c).
 *
 * Input layout: byte 0 holds flags (bit 0: the upgrade was authenticated;
 * bit 1: tiny limits, so the 413 paths are reachable; bit 2: state_cb
 * fails), the rest is split at 0xFF bytes (never part of valid UTF-8) into
 * frames.  A frame that is the single byte 0x01 "reconnects": the
 * subscription set is taken from the connection and kept under its session
 * id, and a new connection may resume it.  Every frame goes to:
 *   - the server connection; a response must be exactly one JSON object
 *     with only known keys, the action's status, and the request's
 *     commandId token text verbatim (or none); a close appends nothing and
 *     uses 1007/1008/1009;
 *   - the client classifier, evt_ess_sub_parse, evt_ess_filter_spec,
 *     evt_ess_event_fields and (if valid UTF-8) the client builders, whose
 *     outputs must parse;
 * and at the end an events message built from fixed events must parse and
 * hold exactly the events the connection delivers.  Any violation abort()s.
 * Plain C11 + the library, so tests/fuzz/driver.c replays the corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with the failed condition: the fuzzer's only way to report. */
#define CHECK(c)                                                        \
	do {                                                            \
		if (!(c)) {                                             \
			fprintf(stderr, "fuzz_ess: %s:%d: %s\n",        \
			    __FILE__, __LINE__, #c);                    \
			abort();                                        \
		}                                                       \
	} while (0)

static int ids;
static int state_fail;
static struct evt_ess_subs *kept;
static char kept_sid[EVT_ESS_ID_MAX];
static size_t kept_sidlen;

static const char *const events[] = {
	"{\"id\":\"e1\",\"source\":\"cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a\","
	"\"type\":\"6eb95dd6-7ccc-4bce-99f8-af0d0b582d77\"}",
	"{\"id\":\"e2\",\"source\":\"hardware/25d08c6a-cc08-4498-8772-242111f9840c\","
	"\"type\":\"4577f552-765a-438c-bc7d-e5ff1f754bc3\",\"data\":{\"a\":[1,\"}\"]}}",
	"{\"id\":\"e3\",\"source\":\"userDefinedEvents\",\"type\":\"x\"}",
	"{\"source\":\"cameras\\/X\",\"type\":\"\\u0078\"}",
};
#define NEV (sizeof events / sizeof events[0])

/* Accepts the token "good". */
static int
auth_cb(void *arg, const char *t, size_t n)
{
	(void)arg;
	return n == 4 && memcmp(t, "good", 4) == 0;
}

/* Ids "00000000-0000-4000-8000-<n>"; a repeat every 7th call exercises
 * the collision paths. */
static size_t
id_cb(void *arg, char out[EVT_ESS_ID_MAX])
{
	(void)arg;
	ids++;
	return (size_t)snprintf(out, EVT_ESS_ID_MAX,
	    "00000000-0000-4000-8000-%012d", ids % 7 == 0 ? 1 : ids);
}

/* Resumes the kept session. */
static int
resume_cb(void *arg, const char *sid, size_t n, const char *eid, size_t en,
    struct evt_ess_subs **subs)
{
	(void)arg;
	(void)eid;
	CHECK(n > 0 && n <= EVT_ESS_ID_MAX && en <= EVT_ESS_ID_MAX);
	if (kept_sidlen == 0 || n != kept_sidlen || memcmp(sid, kept_sid, n) != 0)
		return 0;
	*subs = kept;
	kept = NULL;
	kept_sidlen = 0;
	return 1;
}

/* States: the fixed events, filtered; fails on request. */
static int
state_cb(void *arg, const struct evt_ess_subs *subs, struct evt_buf *out)
{
	size_t lens[NEV];

	(void)arg;
	if (state_fail) {
		(void)evt_buf_put(out, "[garbage", 8); /* must be rolled back */
		return -1;
	}
	for (size_t i = 0; i < NEV; i++)
		lens[i] = strlen(events[i]);
	return evt_ess_states_array(subs, events, lens, NEV, out) < 0 ? -1 : 0;
}

/* Returns 1 if key token k equals name ASCII case-insensitively (plain
 * keys only; escaped keys are compared decoded). */
static int
key_eq(const char *buf, const struct evt_jtok *k, const char *name)
{
	char tmp[64];
	int n;
	size_t m = strlen(name);

	if (k->len > sizeof tmp)
		return 0;
	n = evt_json_unescape(buf + k->off, k->len, tmp);
	if (n < 0 || (size_t)n != m)
		return 0;
	for (size_t i = 0; i < m; i++) {
		char c = tmp[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (c != name[i])
			return 0;
	}
	return 1;
}

/* Returns the value index of member name (last wins) of the root object. */
static long
root_member(const char *buf, const struct evt_jtok *t, const char *name)
{
	long found = -1;
	uint32_t k = 1;

	for (uint32_t i = 0; i < t[0].size; i++) {
		if (key_eq(buf, &t[k], name))
			found = (long)k + 1;
		k = t[k + 1].next;
	}
	return found;
}

/* Raw token text of a value (strings with their quotes). */
static void
raw_text(const char *buf, const struct evt_jtok *t, const char **p, size_t *n)
{
	if (t->type == EVT_J_STRING) {
		*p = buf + t->off - 1;
		*n = t->len + 2;
	} else {
		*p = buf + t->off;
		*n = t->len;
	}
}

/* Checks one server response against the request. */
static void
check_response(struct evt_jparser *jp, const char *req, size_t rlen,
    const char *resp, size_t n, const struct evt_ess_action *act)
{
	static const char *const keys[] = { "commandId", "status", "sessionId",
		"subscriptionId", "states", "error" };
	const char *want = NULL, *got;
	size_t wlen = 0, glen;
	int has_cid = 0, rc;
	uint32_t k = 1;

	/* What the request's commandId was. */
	rc = evt_json_parse(jp, req, rlen);
	CHECK(rc > 0 && jp->tok[0].type == EVT_J_OBJECT);
	long ci = root_member(req, jp->tok, "commandid");
	if (ci >= 0)
		raw_text(req, &jp->tok[ci], &want, &wlen);

	rc = evt_json_parse(jp, resp, n);
	CHECK(rc > 0);
	CHECK(jp->tok[0].type == EVT_J_OBJECT);
	CHECK(jp->tok[0].len == n); /* exactly one object, nothing around it */
	for (uint32_t i = 0; i < jp->tok[0].size; i++) {
		const struct evt_jtok *kt = &jp->tok[k], *v = &jp->tok[k + 1];
		size_t j;
		for (j = 0; j < sizeof keys / sizeof keys[0]; j++)
			if (kt->len == strlen(keys[j]) &&
			    memcmp(resp + kt->off, keys[j], kt->len) == 0)
				break;
		CHECK(j < sizeof keys / sizeof keys[0]);
		if (j == 0) {
			has_cid = 1;
			raw_text(resp, v, &got, &glen);
			CHECK(want != NULL && glen == wlen &&
			    memcmp(got, want, glen) == 0);
			CHECK(i == 0);
		}
		if (j == 1) {
			int neg;
			uint64_t mag;
			CHECK(v->type == EVT_J_NUMBER);
			CHECK(evt_json_int(resp + v->off, v->len, &neg, &mag));
			CHECK(!neg && mag == (uint64_t)act->status);
		}
		if (j == 4)
			CHECK(v->type == EVT_J_ARRAY && act->status == 200);
		if (j == 5)
			CHECK(v->type == EVT_J_OBJECT && v->size == 1 &&
			    act->status >= 400);
		k = jp->tok[k + 1].next;
	}
	CHECK(has_cid == (want != NULL));
	CHECK(act->status == 200 || act->status == 201 || act->status == 400 ||
	    act->status == 401 || act->status == 404 || act->status == 413 ||
	    act->status == 500);
	CHECK(act->status != 201 || act->cmd == EVT_ESS_CMD_START_SESSION);
	CHECK(!act->resumed || act->status == 200);
}

/* Returns 1 if s[0..n) is valid UTF-8 (so builders may take it). */
static int
valid_utf8(struct evt_jparser *jp, const char *s, size_t n)
{
	char *lit = malloc(evt_json_string_max(n));
	int ok;

	CHECK(lit != NULL);
	size_t m = evt_json_write_string(lit, s, n);
	ok = evt_json_parse(jp, lit, m) > 0;
	free(lit);
	return ok;
}

/* Asserts that b[from..len) is one JSON value of the given type. */
static void
check_json(struct evt_jparser *jp, const struct evt_buf *b, size_t from,
    int type)
{
	CHECK(b->len > from);
	CHECK(evt_json_parse(jp, (const char *)b->p + from, b->len - from) > 0);
	CHECK(jp->tok[0].type == type);
}

/* Runs the non-server parts on one frame. */
static void
side_checks(struct evt_jparser *jp, const char *f, size_t n)
{
	struct evt_ess_msg m;
	struct evt_ess_sub *sub = NULL;
	struct evt_ess_event_fields ef;
	struct evt_buf b = { 0 };
	const char *why = NULL;
	int rc, isjson;

	isjson = evt_json_parse(jp, f, n) > 0;
	rc = evt_ess_classify(jp, f, n, &m);
	CHECK(rc == m.kind);
	CHECK((rc == EVT_ESS_NOT_JSON) == !isjson);
	CHECK(strlen(m.last_id) <= EVT_ESS_ID_MAX && strlen(m.error_text) <= EVT_ESS_ID_MAX);
	if (rc == EVT_ESS_EVENTS)
		CHECK(m.nevents > 0 || m.last_id[0] == '\0');

	rc = evt_ess_sub_parse(f, n, NULL, &sub, &why);
	CHECK((rc == 0) == (sub != NULL));
	CHECK(rc == 0 || why != NULL);
	if (rc == 0) {
		for (size_t i = 0; i < NEV; i++) {
			struct evt_ess_event_fields e;
			CHECK(evt_ess_event_fields(events[i], strlen(events[i]), &e) == 0);
			(void)evt_ess_sub_delivers(sub, e.source, e.source_len,
			    e.type, e.type_len);
		}
		evt_ess_sub_free(sub);
	}

	if (evt_ess_event_fields(f, n, &ef) == 0) {
		CHECK(ef.id == NULL || (ef.id >= f && ef.id + ef.id_len <= f + n));
		CHECK(ef.source == NULL ||
		    (ef.source >= f && ef.source + ef.source_len <= f + n));
		CHECK(ef.type == NULL || (ef.type >= f && ef.type + ef.type_len <= f + n));
	}

	rc = evt_ess_filter_spec(n & 1, f, n, &b);
	CHECK(rc == 0 || rc == EVT_ERR_ARG);
	CHECK(rc == 0 || b.len == 0);
	if (rc == 0) {
		struct evt_buf arr = { 0 };
		struct evt_ess_client cl;

		check_json(jp, &b, 0, EVT_J_OBJECT);
		CHECK(evt_buf_putc(&arr, '[') == 0 &&
		    evt_buf_put(&arr, b.p, b.len) == 0 &&
		    evt_buf_putc(&arr, ']') == 0);
		CHECK(evt_ess_sub_parse((const char *)arr.p, arr.len, NULL, &sub,
		    NULL) == 0);
		evt_ess_sub_free(sub);
		evt_ess_client_init(&cl);
		b.len = 0;
		CHECK(evt_ess_client_add_subscription(&cl, (const char *)arr.p,
		    arr.len, &b, NULL) == 0);
		check_json(jp, &b, 0, EVT_J_OBJECT);
		evt_buf_free(&arr);
	}
	b.len = 0;

	/* The frame's lines as evrec --include/--exclude specs. */
	if (n < 512 && memchr(f, 0, n) == NULL) {
		char tmp[512], *specs[8];
		int excl[8];
		size_t ns = 0;

		memcpy(tmp, f, n);
		tmp[n] = '\0';
		for (char *q = tmp; ns < 8; ) {
			char *nl = strchr(q, '\n');
			excl[ns] = (int)(ns & 1);
			specs[ns++] = q;
			if (nl == NULL)
				break;
			*nl = '\0';
			q = nl + 1;
		}
		rc = evt_ess_filters_from_specs((const char *const *)specs, excl,
		    ns, &b);
		CHECK(rc == 0 || (rc == EVT_ERR_ARG && b.len == 0));
		if (rc == 0) {
			check_json(jp, &b, 0, EVT_J_ARRAY);
			CHECK(evt_ess_sub_parse((const char *)b.p, b.len, NULL,
			    &sub, NULL) == 0);
			evt_ess_sub_free(sub);
		}
		b.len = 0;
	}

	if (n > 0 && valid_utf8(jp, f, n)) {
		struct evt_ess_client cl;
		uint64_t id = 0;
		evt_ess_client_init(&cl);
		CHECK(evt_ess_client_authenticate(&cl, f, n, &b, &id) == 0 && id == 1);
		check_json(jp, &b, 0, EVT_J_OBJECT);
		b.len = 0;
		CHECK(evt_ess_client_start_session(&cl, f, n, f, n, &b, &id) == 0);
		check_json(jp, &b, 0, EVT_J_OBJECT);
		b.len = 0;
		CHECK(evt_ess_client_remove_subscription(&cl, f, n, &b, &id) == 0);
		check_json(jp, &b, 0, EVT_J_OBJECT);
		b.len = 0;
		rc = evt_ess_client_add_subscription(&cl, f, n, &b, &id);
		CHECK(rc == 0 || rc == EVT_ERR_ARG);
		if (rc == 0)
			check_json(jp, &b, 0, EVT_J_OBJECT);
		b.len = 0;
		CHECK(evt_ess_client_get_state(&cl, &b, &id) == 0);
		check_json(jp, &b, 0, EVT_J_OBJECT);
	}
	evt_buf_free(&b);
}

/* Builds an events message for the connection and checks it. */
static void
check_events(struct evt_jparser *jp, const struct evt_ess_conn *c)
{
	struct evt_buf b = { 0 };
	size_t lens[NEV];
	int want = 0, n;

	for (size_t i = 0; i < NEV; i++) {
		struct evt_ess_event_fields e;
		int d;

		lens[i] = strlen(events[i]);
		d = evt_ess_subs_delivers_event(evt_ess_conn_subs(c), events[i],
		    lens[i]);
		CHECK(evt_ess_event_fields(events[i], lens[i], &e) == 0);
		if (!e.escaped)
			CHECK(d == evt_ess_conn_delivers(c, e.source,
			    e.source_len, e.type, e.type_len));
		want += d;
	}
	CHECK(evt_ess_events_message(events, lens, NEV, &b) == (int)NEV);
	check_json(jp, &b, 0, EVT_J_OBJECT);
	b.len = 0;
	n = evt_ess_events_message_for(evt_ess_conn_subs(c), events, lens, NEV, &b);
	CHECK(n == want);
	if (n == 0) {
		CHECK(b.len == 0);
	} else {
		struct evt_ess_msg m;
		check_json(jp, &b, 0, EVT_J_OBJECT);
		CHECK(evt_ess_classify(jp, (const char *)b.p, b.len, &m) ==
		    EVT_ESS_EVENTS);
		CHECK(m.nevents == (size_t)n);
	}
	b.len = 0;
	n = evt_ess_states_array(evt_ess_conn_subs(c), events, lens, NEV, &b);
	CHECK(n == want);
	check_json(jp, &b, 0, EVT_J_ARRAY);
	evt_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evt_ess_server_cbs cb = { auth_cb, id_cb, resume_cb, state_cb,
		NULL };
	struct evt_ess_limits tiny = { 2, 2, 3, 512 };
	struct evt_ess_conn *c;
	struct evt_jparser jp;
	struct evt_buf out = { 0 };
	const char *s = (const char *)data;
	size_t i = 1;
	int flags, closed = 0;

	if (size == 0)
		return 0;
	flags = data[0];
	ids = 0;
	state_fail = (flags & 4) != 0;
	evt_json_init(&jp, 0);
	c = evt_ess_conn_new(&cb, (flags & 2) ? &tiny : NULL, flags & 1);
	CHECK(c != NULL);
	while (i <= size) {
		const char *end = memchr(s + i, 0xFF, size - i);
		size_t n = end ? (size_t)(end - (s + i)) : size - i;
		const char *f = s + i;
		struct evt_ess_action act;

		i += n + 1;
		if (n == 1 && f[0] == 1) {
			/* Reconnect: keep the session's subscriptions. */
			size_t sl;
			const char *sid = evt_ess_conn_session_id(c, &sl);
			evt_ess_subs_free(kept);
			kept = evt_ess_conn_take_subs(c);
			kept_sidlen = 0;
			if (sid != NULL) {
				memcpy(kept_sid, sid, sl);
				kept_sidlen = sl;
			}
			evt_ess_conn_free(c);
			c = evt_ess_conn_new(&cb, (flags & 2) ? &tiny : NULL,
			    flags & 1);
			CHECK(c != NULL);
			closed = 0;
			continue;
		}
		size_t before = out.len;
		int rc = evt_ess_conn_input(c, f, n, &out, &act);
		if (closed) {
			CHECK(rc == EVT_ERR_STATE && out.len == before);
		} else {
			CHECK(rc == 0);
			if (act.close_code != 0) {
				CHECK(out.len == before);
				CHECK(act.close_code == 1007 || act.close_code == 1008 ||
				    act.close_code == 1009);
				CHECK(act.close_reason != NULL &&
				    strlen(act.close_reason) <= 123);
				closed = 1;
			} else {
				CHECK(out.len > before);
				check_response(&jp, f, n, (const char *)out.p + before,
				    out.len - before, &act);
			}
		}
		out.len = 0;
		side_checks(&jp, f, n);
		check_events(&jp, c);
	}
	evt_ess_conn_free(c);
	evt_ess_subs_free(kept);
	kept = NULL;
	kept_sidlen = 0;
	evt_buf_free(&out);
	evt_json_free(&jp);
	return 0;
}
