/*
 * test_natsio.c: unit tests for the pure parts of src/natsio.c
 * (formats/nats.md): tokens, subjects of events and markers, the
 * headers of a message (built into a real natsMsg), frame references
 * back from their header texts, prefixes, the shared options, and the
 * check of a credentials file (evt_nats_creds_check).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evtape/cli.h"
#include "evtape/err.h"
#include "evtape/json.h"
#include "evtape/natsio.h"
#include "evtape/record.h"
#include "t.h"

/* The token of s as a NUL-terminated string (static buffer). */
static const char *
tok(const char *s, size_t len)
{
	static char out[256];
	struct evt_buf b = {0};
	if (evt_nats_token(&b, s, len) != 0 || b.len >= sizeof out)
		return "(error)";
	memcpy(out, b.p, b.len);
	out[b.len] = '\0';
	evt_buf_free(&b);
	return out;
}

static void
test_tokens(void)
{
	T_OK(strcmp(tok(L("cameras")), "cameras") == 0, "a plain token");
	T_OK(strcmp(tok(L("A-z_09")), "A-z_09") == 0,
	    "letters, digits, '-' and '_' stay");
	T_OK(strcmp(tok(L("a.b*c>d e/f")), "a_b_c_d_e_f") == 0,
	    "dots, wildcards, blanks, slashes become '_'");
	T_OK(strcmp(tok(L("")), "_") == 0, "an empty text is \"_\"");
	T_OK(strcmp(tok(L("caf\xc3\xa9")), "caf__") == 0,
	    "each byte of a UTF-8 character becomes '_'");
	T_OK(strcmp(tok(L("a\0b")), "a_b") == 0, "a NUL byte too");
}

/* The subject of event text ev (kind EVT_NATS_EVENT). */
static const char *
ev_subject(const char *ev, struct evt_nats_event *e)
{
	static char out[512];
	struct evt_buf b = {0};
	evt_nats_event_read(ev, strlen(ev), e);
	if (evt_nats_subject(&b, "xprotect.s1", EVT_NATS_EVENT, e) != 0)
		return "(error)";
	snprintf(out, sizeof out, "%s", (const char *)b.p);
	evt_buf_free(&b);
	return out;
}

static void
test_event_subjects(void)
{
	struct evt_nats_event e;
	T_OK(strcmp(ev_subject("{\"id\":\"e1\",\"source\":\"cameras/"
	    "a8a8b9dc\",\"type\":\"6eb95dd6-7ccc\"}", &e),
	    "xprotect.s1.ev.cameras.6eb95dd6-7ccc") == 0 &&
	    strcmp(e.id, "e1") == 0,
	    "an event: P.ev.<source up to '/'>.<type>, its id");
	T_OK(strcmp(ev_subject("{\"source\":\"hardware\",\"type\":\"a.b\"}",
	    &e), "xprotect.s1.ev.hardware.a_b") == 0 && e.id[0] == '\0',
	    "a source without '/', a type with a dot; no id");
	T_OK(strcmp(ev_subject("{\"type\":\"t\"}", &e),
	    "xprotect.s1.ev._.t") == 0, "no source: \"_\"");
	T_OK(strcmp(ev_subject("{\"source\":7,\"type\":null,\"id\":3}", &e),
	    "xprotect.s1.ev._._") == 0 && e.id[0] == '\0',
	    "non-string source, type and id");
	T_OK(strcmp(ev_subject("7", &e), "xprotect.s1.ev._._") == 0 &&
	    !e.is_object, "an item that is not an object: P.ev._._");
	T_OK(strcmp(ev_subject("{\"source\":\"cam\\u00e9ras/x\",\"type\":"
	    "\"\\u0041b\",\"id\":\"i\\\"d\"}", &e),
	    "xprotect.s1.ev.cam__ras.Ab") == 0 && strcmp(e.id, "i\"d") == 0,
	    "escapes are decoded before tokens are made");
	T_OK(strcmp(ev_subject("{\"source\":\"/x\",\"type\":\"\",\"id\":"
	    "\"a\\nb\"}", &e), "xprotect.s1.ev._._") == 0 && e.id[0] == '\0',
	    "empty parts are \"_\"; an id with a control byte is no header");
	T_OK(strcmp(ev_subject("{\"source\":\"cameras/1\",\"source\":"
	    "\"hardware/2\",\"type\":\"t\"}", &e),
	    "xprotect.s1.ev.hardware.t") == 0,
	    "a repeated member: the last counts (as evt_ess_event_fields)");
}

static void
test_marker_subjects(void)
{
	static const struct {
		int rec_kind;
		const char *subject, *kind;
	} c[] = {
		{ EVT_K_SESSION, "P.x.mk.session", "session" },
		{ EVT_K_GAP, "P.x.mk.gap", "gap" },
		{ EVT_K_CONFIG, "P.x.mk.config", "config" },
		{ EVT_K_STATES, "P.x.mk.states", "states" },
		{ EVT_K_JSON, "P.x.mk.json", "json" },
		{ EVT_K_RAW, "P.x.mk.raw", "raw" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct evt_buf b = {0};
		int k = evt_nats_kind_of(c[i].rec_kind);
		int rc = evt_nats_subject(&b, "P.x", k, NULL);
		T_OK(rc == 0 && strcmp((const char *)b.p, c[i].subject) == 0 &&
		    strcmp(evt_nats_kind_name(k), c[i].kind) == 0,
		    "%s frames go to %s", c[i].kind, c[i].subject);
		evt_buf_free(&b);
	}
	T_EQ(evt_nats_kind_of(EVT_K_MSG), EVT_NATS_EVENT,
	    "a MSG frame's events are events");
	T_EQ(evt_nats_kind_of(EVT_K_STRDEF), -1, "definitions are nothing");
}

/* A header of m as text ("" if absent). */
static const char *
hdr(natsMsg *m, const char *k)
{
	const char *v = NULL;
	return natsMsgHeader_Get(m, k, &v) == NATS_OK && v != NULL ? v : "";
}

static void
test_headers(void)
{
	struct evt_nats_ref ref = { .seg = 12, .ord = 345, .item = 2,
		.nitems = 5 };
	static const uint8_t u[16] = { 0x6a, 0x7f, 0x4b, 0x27, 0xb1, 0x6f,
		0x42, 0xcc, 0xb8, 0x36, 0xaf, 0x3c, 0x61, 0x64, 0x45, 0xbc };
	const char *uu = "6a7f4b27-b16f-42cc-b836-af3c616445bc";
	char want[128];
	struct evt_nats_event e;
	struct evt_nats_hdrs h;
	natsMsg *m = NULL;
	memcpy(ref.uuid, u, 16);
	evt_nats_event_read(L("{\"id\":\"ev-1\",\"type\":\"t\"}"), &e);
	evt_nats_headers(&h, EVT_NATS_EVENT, 1796414093474991, &ref, &e);
	T_OK(evt_nats_msg(&m, "P.ev._.t", "{}", 2, &h, "Site A/1") ==
	    NATS_OK, "a message with the headers");
	snprintf(want, sizeof want, "%s/12/345", uu);
	T_OK(strcmp(hdr(m, "Nats-Msg-Id"), "ev-1") == 0 &&
	    strcmp(hdr(m, "Evtape-Rx"), "1796414093474991") == 0 &&
	    strcmp(hdr(m, "Evtape-Frame"), want) == 0 &&
	    strcmp(hdr(m, "Evtape-Item"), "2/5") == 0 &&
	    strcmp(hdr(m, "Evtape-Site"), "Site A/1") == 0 &&
	    strcmp(hdr(m, "Evtape-Kind"), "event") == 0,
	    "an event: its id, rx, frame, item i/n, site as given, kind");
	natsMsg_Destroy(m);

	evt_nats_event_read(L("{\"type\":\"t\"}"), &e);
	evt_nats_headers(&h, EVT_NATS_EVENT, -5, &ref, &e);
	snprintf(want, sizeof want, "%s:12:345:2", uu);
	T_OK(strcmp(h.msg_id, want) == 0 && strcmp(h.rx, "-5") == 0,
	    "an event without id: <uuid>:<seq>:<ordinal>:<item>");

	ref.item = -1;
	evt_nats_headers(&h, EVT_NATS_GAP, 7, &ref, NULL);
	snprintf(want, sizeof want, "%s:12:345", uu);
	m = NULL;
	T_OK(evt_nats_msg(&m, "P.mk.gap", "{}", 2, &h, "s") == NATS_OK &&
	    strcmp(hdr(m, "Nats-Msg-Id"), want) == 0 &&
	    strcmp(hdr(m, "Evtape-Item"), "") == 0 &&
	    strcmp(hdr(m, "Evtape-Kind"), "gap") == 0,
	    "a marker: <uuid>:<seq>:<ordinal>, no Evtape-Item");
	natsMsg_Destroy(m);

	struct evt_buf b = {0};
	char full[400];
	snprintf(full, sizeof full, "NATS/1.0\r\nNats-Msg-Id: %s\r\n"
	    "Evtape-Rx: 7\r\nEvtape-Frame: %s/12/345\r\nEvtape-Site: s\r\n"
	    "Evtape-Kind: gap\r\n\r\n", want, uu);
	T_OK(evt_nats_header_block(&b, &h, "s") == 0 && b.len ==
	    strlen(full) && memcmp(b.p, full, b.len) == 0,
	    "the header block as the protocol carries it");
	evt_buf_free(&b);
}

static void
test_refs(void)
{
	struct evt_nats_ref a, b;
	const char *f = "6a7f4b27-b16f-42cc-b836-af3c616445bc/12/345";
	T_OK(evt_nats_ref_parse(f, "2/5", &a) == 0 && a.seg == 12 &&
	    a.ord == 345 && a.item == 2 && a.nitems == 5 &&
	    a.uuid[0] == 0x6a && a.uuid[15] == 0xbc,
	    "Evtape-Frame and Evtape-Item read back");
	T_OK(evt_nats_ref_parse(f, NULL, &b) == 0 && b.item == -1,
	    "a frame without item");
	T_OK(evt_nats_ref_cmp(&b, &a) < 0, "a frame comes before its items");
	T_OK(evt_nats_ref_parse("6A7F4B27-B16F-42CC-B836-AF3C616445BC/1/0",
	    "", &b) == 0 && evt_nats_ref_cmp(&b, &a) < 0,
	    "upper-case UUIDs read; segment order first");
	static const char *const badf[] = {
		"", "6a7f4b27-b16f-42cc-b836-af3c616445bc/12",
		"6a7f4b27-b16f-42cc-b836-af3c616445bc/12/",
		"6a7f4b27-b16f-42cc-b836-af3c616445bc/x/1",
		"6a7f4b27-b16f-42cc-b836-af3c616445bc/1/2/3",
		"6a7f4b27b16f42ccb836af3c616445bc/1/2",
		"6a7f4b27-b16f-42cc-b836-af3c616445bc/99999999999999999999/1",
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++)
		ok &= evt_nats_ref_parse(badf[i], NULL, &b) == -1;
	T_OK(ok, "malformed Evtape-Frame values are refused");
	T_OK(evt_nats_ref_parse(f, "5/5", &b) == -1 &&
	    evt_nats_ref_parse(f, "1", &b) == -1 &&
	    evt_nats_ref_parse(f, "a/2", &b) == -1,
	    "malformed Evtape-Item values (i >= n, no n) are refused");
}

static void
test_prefixes(void)
{
	T_OK(evt_nats_prefix_ok("xprotect.site-1") &&
	    evt_nats_prefix_ok("a"), "good prefixes");
	T_OK(!evt_nats_prefix_ok("") && !evt_nats_prefix_ok(".a") &&
	    !evt_nats_prefix_ok("a.") && !evt_nats_prefix_ok("a..b") &&
	    !evt_nats_prefix_ok("a.*") && !evt_nats_prefix_ok("a.>") &&
	    !evt_nats_prefix_ok("a b") && !evt_nats_prefix_ok("a\tb"),
	    "empty tokens, wildcards and blanks are refused");
}

static void
test_options(void)
{
	struct evt_nats_opts o;
	evt_nats_opts_init(&o);
	T_EQ(evt_nats_opt(&o, EVT_NATS_OP_PUBLISH,
	    "nats://127.0.0.1:4222,tls://10.0.0.2:4443", "--publish"), 1,
	    "--publish is a NATS option");
	T_EQ(evt_nats_opt(&o, EVT_NATS_OP_REPLICAS, "3", "--replicas"), 1,
	    "--replicas");
	T_EQ(evt_nats_opt(&o, EVT_NATS_OP_INSECURE, "no", "x: nats-insecure"),
	    1, "a config-file flag");
	T_EQ(evt_nats_opt(&o, 1000, "x", "--other"), 0,
	    "another program's option is not ours");
	evt_nats_opts_finish(&o, "gw.example.com");
	T_OK(strcmp(o.site, "gw.example.com") == 0 &&
	    strcmp(o.prefix, "xprotect.gw_example_com") == 0 &&
	    strcmp(o.stream, EVT_NATS_DEFAULT_STREAM) == 0 &&
	    o.replicas == 3 && !o.insecure &&
	    o.window == EVT_NATS_DEFAULT_WINDOW &&
	    o.dup_window_us == EVT_NATS_DEFAULT_DUP_US,
	    "defaults: site the gateway host, prefix xprotect.<site token>");
	evt_nats_opts_free(&o);
	evt_nats_opts_init(&o);
	evt_nats_opt(&o, EVT_NATS_OP_SITE, "Site 1", "--site");
	evt_nats_opt(&o, EVT_NATS_OP_PREFIX, "corp.vms", "--subject-prefix");
	evt_nats_opts_finish(&o, "gw");	/* no servers: nothing checked */
	T_OK(o.prefix != NULL && strcmp(o.prefix, "corp.vms") == 0,
	    "--subject-prefix kept as given");
	evt_nats_opts_free(&o);
}

/* A user seed of no account (made by tests/unit/nkeys.c for this test). */
#define SEED "SUAPEPKYKGM6KPSTVULGGJG24NCSIVZ7XA7SX5HHF6H7IDOSG3PTH3SUTY"

/* Writes text (len bytes) to path with mode; then evt_nats_creds_check
 * of it: its result, *loose, and err. */
static int
creds_of(const char *path, const char *text, size_t len, int mode,
    int *loose, char *err, size_t errlen)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0 ||
	    chmod(path, (mode_t)mode) != 0)
		return -2;
	err[0] = '\0';
	return evt_nats_creds_check(path, err, errlen, loose);
}

static void
test_creds(void)
{
#define CREDS(jwt) "-----BEGIN NATS USER JWT-----\n" jwt "\n" \
	    "------END NATS USER JWT------\n\n" \
	    "*** IMPORTANT ***\nNKEYs are sensitive.\n\n" \
	    "-----BEGIN USER NKEY SEED-----\n" SEED "\n" \
	    "------END USER NKEY SEED------\n"
	static const char good[] = CREDS("eyJhIjoxfQ.eyJiIjoyfQ.c2lnbmF0dXJl");
	/* Claims {"exp":1}: expired in 1970; {"exp":99999999999}: not. */
	static const char expired[] =
	    CREDS("eyJhIjoxfQ.eyJleHAiOjF9.c2lnbmF0dXJl");
	static const char later[] =
	    CREDS("eyJhIjoxfQ.eyJleHAiOjk5OTk5OTk5OTk5fQ.c2lnbmF0dXJl");
	char dir[] = "/tmp/test_natsio.XXXXXX", path[64], err[256], *t;
	int loose = -1;
	if (mkdtemp(dir) == NULL) {
		T_OK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof path, "%s/c", dir);
	T_EQ(creds_of(path, L(good), 0600, &loose, err, sizeof err), 0,
	    "a credentials file as nsc writes it");
	T_EQ(loose, 0, "... mode 600: not loose");
	T_EQ(creds_of(path, L(good), 0640, &loose, err, sizeof err), 0,
	    "mode 640");
	T_EQ(loose, 0, "... the group may read it: not loose");
	T_EQ(creds_of(path, L(good), 0644, &loose, err, sizeof err), 0,
	    "mode 644");
	T_EQ(loose, 1, "... others may read it: loose");
	/* CRLF lines (a file from Windows), as libnats reads them. */
	struct evt_buf b = {0};
	for (const char *p = good; *p; p++)
		if ((*p == '\n' && evt_buf_putc(&b, '\r') != 0) ||
		    evt_buf_putc(&b, (uint8_t)*p) != 0)
			break;
	T_EQ(creds_of(path, (const char *)b.p, b.len, 0600, &loose, err,
	    sizeof err), 0, "CRLF lines");
	evt_buf_free(&b);
	t = strstr(good, "-----BEGIN USER NKEY SEED");
	T_EQ(creds_of(path, good, (size_t)(t - good), 0600, &loose, err,
	    sizeof err), -1, "no seed block: refused");
	T_OK(strstr(err, "no NKey seed") != NULL, "... said: %s", err);
	T_EQ(creds_of(path, L("garbage\n"), 0600, &loose, err, sizeof err),
	    -1, "no block at all: refused");
	T_OK(strstr(err, "no user JWT") != NULL, "... said: %s", err);
	char bad[sizeof good];
	memcpy(bad, good, sizeof good);
	t = strstr(bad, SEED);
	t[20] = t[20] == 'A' ? 'B' : 'A';
	T_EQ(creds_of(path, L(bad), 0600, &loose, err, sizeof err), -1,
	    "a seed with a character changed: refused");
	T_OK(strstr(err, "damaged") != NULL && strstr(err, "SU") == NULL,
	    "... said, without the seed: %s", err);
	memcpy(bad, good, sizeof good);
	memcpy(strstr(bad, "eyJ"), "e!J", 3);
	T_EQ(creds_of(path, L(bad), 0600, &loose, err, sizeof err), -1,
	    "a JWT that is not base64url: refused");
	T_OK(strstr(err, "does not hold a JWT") != NULL, "... said: %s", err);
	T_EQ(creds_of(path, L(expired), 0600, &loose, err, sizeof err), -1,
	    "an expired JWT: refused");
	T_OK(strstr(err, "expired at 1970-01-01T00:00:01Z") != NULL,
	    "... said, with the time: %s", err);
	T_EQ(creds_of(path, L(later), 0600, &loose, err, sizeof err), 0,
	    "a JWT that expires in 5138: taken");
	memcpy(bad, good, sizeof good);
	bad[3] = '\0';
	T_EQ(creds_of(path, bad, sizeof good - 1, 0600, &loose, err,
	    sizeof err), -1, "a NUL byte: refused");
	T_OK(strstr(err, "binary") != NULL, "... said: %s", err);
	char *big = malloc(70000);
	if (big != NULL) {
		memset(big, '\n', 70000);
		memcpy(big, good, sizeof good - 1);
		T_EQ(creds_of(path, big, 70000, 0600, &loose, err,
		    sizeof err), -1, "over 64 KiB: refused");
		T_OK(strstr(err, "64 KiB") != NULL, "... said: %s", err);
		free(big);
	}
	unlink(path);
	T_EQ(evt_nats_creds_check(path, err, sizeof err, &loose), -1,
	    "a missing file: refused");
	T_OK(strcmp(err, "cannot read it: No such file or directory") == 0,
	    "... said: %s", err);
	T_EQ(evt_nats_creds_check(dir, err, sizeof err, &loose), -1,
	    "a directory: refused");
	T_OK(strcmp(err, "not a regular file") == 0, "... said: %s", err);
	rmdir(dir);
}

/* A getState-like answer of n states, with blanks around some elements
 * (a stranger's text is cut as it is) into b. */
static void
states_text(struct evt_buf *b, size_t n)
{
	char el[200];
	b->len = 0;
	evt_buf_put(b, L("{\"commandId\":3,\"status\":200,\"states\": [ "));
	for (size_t i = 0; i < n; i++) {
		int w = (int)(rng() % 60);
		snprintf(el, sizeof el, "%s{\"source\":\"cameras/%zu\","
		    "\"state\":\"%.*s\"}%s", i > 0 ? (i % 7 ? "," : " ,\n") :
		    "", i, w, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
		    "abcdefghij", i % 5 ? "" : " ");
		evt_buf_put(b, el, strlen(el));
	}
	evt_buf_put(b, L(" ],\"tail\":[1,2]}"));
}

/* Splits text into parts of at most max, checks each (size, JSON, the
 * other members, headers) and joins them; returns the part count or 0 on
 * a failure. */
static size_t
split_join(const struct evt_buf *text, size_t max)
{
	struct evt_nats_split sp;
	struct evt_buf part = {0}, joined = {0};
	struct evt_jparser jp;
	struct evt_nats_hdrs h;
	struct evt_nats_ref ref = { .seg = 1, .ord = 2, .item = -1 };
	size_t ok = 0, n;
	const char *t = (const char *)text->p;
	evt_json_init(&jp, 0);
	evt_nats_headers(&h, EVT_NATS_STATES, 5, &ref, NULL);
	if (evt_nats_split(&sp, t, text->len, max) != 0)
		return 0;
	n = sp.n;
	for (size_t k = 0; k < n; k++) {
		size_t off, slen, k2, n2, off2, slen2;
		natsMsg *m = NULL;
		const char *v1 = NULL, *v2 = NULL, *id = NULL;
		char want[sizeof h.msg_id + 32];
		if (evt_nats_part(&part, &sp, t, text->len, k, &off, &slen) !=
		    0 || part.len > max || evt_json_parse(&jp, (const char *)
		    part.p, part.len) < 1 || jp.tok[0].type != EVT_J_OBJECT ||
		    jp.tok[0].size != 4 || memcmp(part.p, t, sp.pre) != 0 ||
		    memcmp(part.p + off + slen, t + sp.post, text->len -
		    sp.post) != 0)
			goto out;
		if (evt_nats_part_msg(&m, "P.mk.states", part.p, part.len, &h,
		    "s", k, n, off, slen) != NATS_OK)
			goto out;
		natsMsgHeader_Get(m, "Evtape-Part", &v1);
		natsMsgHeader_Get(m, "Evtape-Part-Slice", &v2);
		natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
		snprintf(want, sizeof want, "%s:part%zu", h.msg_id, k + 1);
		int bad = id == NULL || strcmp(id, want) != 0 ||
		    evt_nats_part_parse(v1, v2, part.len, &k2, &n2, &off2,
		    &slen2) != 0 || k2 != k || n2 != n || off2 != off ||
		    slen2 != slen || evt_nats_join(&joined, part.p, part.len,
		    k, n, off, slen) != 0;
		natsMsg_Destroy(m);
		if (bad)
			goto out;
	}
	ok = joined.len == text->len && memcmp(joined.p, t, text->len) == 0 ?
	    n : 0;
out:
	evt_nats_split_free(&sp);
	evt_buf_free(&part);
	evt_buf_free(&joined);
	evt_json_free(&jp);
	return ok;
}

static void
test_parts(void)
{
	struct evt_buf b = {0};
	struct evt_nats_split sp;
	size_t n;
	states_text(&b, 5318);
	T_OK(b.len > 300000, "a big states text (%zu bytes)", b.len);
	n = split_join(&b, 65536 - 1024);
	T_OK(n >= 5, "split for 64 KiB: %zu parts, each a JSON object of the "
	    "frame's members under the limit, joined byte for byte", n);
	T_OK(split_join(&b, 1000) > 100, "small parts too");
	T_OK(evt_nats_split(&sp, (const char *)b.p, b.len, b.len) == 0 &&
	    sp.n == 1, "a limit the text fits: one part");
	evt_nats_split_free(&sp);
	for (int i = 0; i < 20; i++) {
		states_text(&b, 2 + rng() % 300);
		size_t max = 200 + rng() % (b.len - 200);
		if (split_join(&b, max) == 0) {
			T_OK(0, "random split %d (max %zu)", i, max);
			break;
		}
	}
	T_OK(1, "random texts and limits split and join");
	states_text(&b, 10);
	T_EQ(evt_nats_split(&sp, (const char *)b.p, b.len, 90),
	    EVT_ERR_TOOBIG, "an element that does not fit alone: too big");
	T_EQ(evt_nats_split(&sp, L("[1,2,3]"), 4), EVT_ERR_JSON,
	    "not an object: not split");
	T_EQ(evt_nats_split(&sp, L("{\"a\":1,\"b\":[]}"), 4), EVT_ERR_JSON,
	    "no element to split: not split");
	T_EQ(evt_nats_split(&sp, L("{\"a\":[1,2"), 4), EVT_ERR_JSON,
	    "not JSON: not split");
	size_t k, n2, off, slen;
	T_OK(evt_nats_part_parse("1/1", "0/1", 5, &k, &n2, &off, &slen) != 0 &&
	    evt_nats_part_parse("3/2", "0/1", 5, &k, &n2, &off, &slen) != 0 &&
	    evt_nats_part_parse("0/2", "0/1", 5, &k, &n2, &off, &slen) != 0 &&
	    evt_nats_part_parse("1/2", "3/3", 5, &k, &n2, &off, &slen) != 0 &&
	    evt_nats_part_parse("1/2", NULL, 5, &k, &n2, &off, &slen) != 0 &&
	    evt_nats_part_parse("2/2", "2/3", 5, &k, &n2, &off, &slen) == 0 &&
	    k == 1 && n2 == 2 && off == 2 && slen == 3,
	    "part headers read back, bad ones refused");
	evt_buf_free(&b);
}

int
main(void)
{
	evt_cli_init("test_natsio");
	/* (A connection opens libnats; messages alone need it open.) */
	nats_Open(-1);
	test_tokens();
	test_event_subjects();
	test_marker_subjects();
	test_headers();
	test_refs();
	test_prefixes();
	test_options();
	test_creds();
	test_parts();
	evt_nats_shutdown();
	T_DONE();
}
