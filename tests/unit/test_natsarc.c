/*
 * test_natsarc.c: unit tests for the sans-I/O parts of the central
 * archiver (src/natsarc.c: Evtape-Kind and Evtape-Rx, the site marker, a
 * SESSION body with its site added) and for the site of a SESSION marker
 * and the --site selection and site tracker (src/select.c), against
 * formats/records.md,
 * "Central archives".
 */
#include <stdint.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/natsarc.h"
#include "evtape/natsio.h"
#include "evtape/record.h"
#include "evtape/select.h"
#include "t.h"

/* Whether b holds exactly the text s. */
static int
buf_is(const struct evt_buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(b->p, s, b->len) == 0;
}

/* The kind of subject and the site it names ("" when none): "kind/site". */
static const char *
subj(const char *s)
{
	static char out[128];
	const char *site = "";
	size_t len = 0;
	int k = evt_natsarc_subject(s, &site, &len);

	snprintf(out, sizeof out, "%d/%.*s", k, (int)len, site);
	return out;
}

static struct evt_jparser kjp;
static struct evt_buf ktmp;

/* The key of a record of site "s" at rx 5. */
static uint64_t
key(int kind, const char *body)
{
	return evt_natsarc_rec_key(&kjp, &ktmp, "s", kind, 5, body,
	    strlen(body));
}

/* The site evt_session_site gives for body (static buffer). */
static const char *
site_of(const char *body)
{
	static struct evt_buf b;

	if (evt_session_site(body, strlen(body), &b) != 0)
		return "(error)";
	return (const char *)b.p;
}

int
main(void)
{
	struct evt_buf b = {0};
	struct evt_sel sel;
	int64_t rx = 0;

	T_EQ(evt_natsarc_kind("event"), EVT_NATS_EVENT, "kind event");
	T_EQ(evt_natsarc_kind("session"), EVT_NATS_SESSION, "kind session");
	T_EQ(evt_natsarc_kind("raw"), EVT_NATS_RAW, "kind raw");
	T_EQ(evt_natsarc_kind("Event"), -1, "kinds are case-sensitive");
	T_EQ(evt_natsarc_kind(""), -1, "empty kind");
	T_EQ(evt_natsarc_kind(NULL), -1, "no header");

	T_OK(evt_natsarc_rx("1767600000000000", &rx) == 0 &&
	    rx == 1767600000000000LL, "rx parses");
	T_OK(evt_natsarc_rx("-5", &rx) == 0 && rx == -5, "negative rx");
	T_EQ(evt_natsarc_rx("", &rx), EVT_ERR_ARG, "empty rx");
	T_EQ(evt_natsarc_rx("12x", &rx), EVT_ERR_ARG, "rx with a letter");
	T_EQ(evt_natsarc_rx(" 12", &rx), EVT_ERR_ARG, "rx with a blank");
	T_EQ(evt_natsarc_rx("1234567890123456789", &rx), EVT_ERR_ARG,
	    "19 digits refused (no overflow)");
	T_EQ(evt_natsarc_rx(NULL, &rx), EVT_ERR_ARG, "no rx header");

	/* Kinds and sites from subjects (formats/nats.md, "Consuming"). */
	T_OK(strcmp(subj("xprotect.site1.ev.cameras.t"), "0/site1") == 0,
	    "event subject: site is the prefix's last token");
	T_OK(strcmp(subj("a.b.c.siteD.mk.gap"), "2/siteD") == 0,
	    "marker subject, a prefix of 4 tokens");
	T_OK(strcmp(subj("acme.mk.session"), "1/acme") == 0,
	    "a prefix of one token");
	T_OK(strcmp(subj("p.mk.raw"), "6/p") == 0, "raw");
	T_OK(strcmp(subj("p.ev.mk.session"), "1/ev") == 0,
	    "P.mk.<kind> is tried first");
	T_OK(strcmp(subj("p.ev.cameras.mk"), "0/p") == 0, "then P.ev.<rt>.<type>");
	T_OK(strcmp(subj("mk.gap"), "-1/") == 0, "no prefix: no kind");
	T_OK(strcmp(subj("ev.a.b"), "-1/") == 0, "no prefix before ev");
	T_OK(strcmp(subj("p.mk.event"), "-1/") == 0, "mk.event is no marker");
	T_OK(strcmp(subj("p.mk.Gap"), "-1/") == 0, "kind words are exact");
	T_OK(strcmp(subj("p.x.mk.gap.y"), "-1/") == 0, "mk not second-to-last");
	T_OK(strcmp(subj("foo"), "-1/") == 0, "one token");
	T_OK(strcmp(subj(""), "-1/") == 0, "empty subject");

	struct evt_natsarc_in in;
	T_OK(evt_natsarc_in("x.s1.mk.gap", NULL, NULL, NULL, &in) == 0 &&
	    in.kind == EVT_NATS_GAP && in.kind_from_subject && !in.have_rx &&
	    in.site_len == 2 && memcmp(in.site, "s1", 2) == 0,
	    "no header: all from the subject, no rx");
	T_OK(evt_natsarc_in("x.s1.mk.gap", "config", "12", "Site 1", &in) ==
	    0 && in.kind == EVT_NATS_CONFIG && !in.kind_from_subject &&
	    in.have_rx && in.rx == 12 && strcmp(in.site, "Site 1") == 0,
	    "headers win over the subject");
	T_OK(evt_natsarc_in("x.s1.ev.a.b", "alarm", "1e3", "", &in) == 0 &&
	    in.kind == EVT_NATS_EVENT && in.kind_from_subject && !in.have_rx &&
	    in.site_len == 2, "unknown kind, bad rx, empty site: the subject's");
	T_OK(evt_natsarc_in("other", "raw", NULL, NULL, &in) == 0 &&
	    in.kind == EVT_NATS_RAW && in.site_len == 0,
	    "a kind header on a subject of no form: site empty");
	T_EQ(evt_natsarc_in("other", NULL, "1", "s", &in), -1,
	    "no kind at all: poison");

	/* Record keys see through what the archive normalises. */
	T_OK(key(EVT_K_GAP, "{\"a\":\"\u00e9\",\"b\":[1,2.50]}") ==
	    key(EVT_K_GAP, " { \"a\" : \"\xc3\xa9\", \"b\": [ 1, 2.50 ] }\n"),
	    "key: blanks and escapes do not count");
	T_OK(key(EVT_K_GAP, "{\"x\":\"\\uD800\"}") ==
	    key(EVT_K_GAP, "{\"x\":\"\\ud800\"}"), "key: a lone surrogate");
	T_OK(key(EVT_K_GAP, "{\"b\":2.50}") != key(EVT_K_GAP, "{\"b\":2.5}"),
	    "key: a number's text counts");
	T_OK(key(EVT_K_GAP, "{\"a\":[1]}") != key(EVT_K_GAP, "{\"a\":1}"),
	    "key: structure counts");
	T_OK(key(EVT_K_GAP, "{}") != key(EVT_K_CONFIG, "{}"),
	    "key: marker kinds differ");
	T_OK(key(EVT_K_STATES, "{}") == key(EVT_K_JSON, "{}") &&
	    key(EVT_K_RAW, "{}") == key(EVT_K_JSON, "{}"),
	    "key: STATES, JSON and RAW are one kind");
	T_OK(key(EVT_K_RAW, "a b") != key(EVT_K_RAW, "ab"),
	    "key: bytes that are not JSON count all");
	evt_json_free(&kjp);
	evt_buf_free(&ktmp);

	T_OK(evt_natsarc_marker(&b, "site-a", "aaaaaaaa-0000-4000-8000-"
	    "00000000000a", "https://gw", "evrec 0.1.0", "XPROTECT") == 0 &&
	    buf_is(&b, "{\"event\":\"nats\",\"site\":\"site-a\",\"archive\":"
	    "\"aaaaaaaa-0000-4000-8000-00000000000a\",\"gateway\":"
	    "\"https://gw\",\"recorder\":\"evrec 0.1.0\",\"stream\":"
	    "\"XPROTECT\"}"), "site marker");
	b.len = 0;
	T_OK(evt_natsarc_marker(&b, "a\"b", "", NULL, "r", "s") == 0 &&
	    buf_is(&b, "{\"event\":\"nats\",\"site\":\"a\\\"b\",\"archive\":"
	    "\"\",\"recorder\":\"r\",\"stream\":\"s\"}"),
	    "site marker: escapes, no gateway");

	b.len = 0;
	T_OK(evt_natsarc_add_site(&b, "{\"event\":\"new\"}", 15, "x") == 0 &&
	    buf_is(&b, "{\"event\":\"new\",\"site\":\"x\"}"), "site added");
	b.len = 0;
	T_OK(evt_natsarc_add_site(&b, "{ }\n", 4, "x") == 0 &&
	    buf_is(&b, "{ \"site\":\"x\"}"), "site added to {}");
	b.len = 0;
	T_EQ(evt_natsarc_add_site(&b, "[1]", 3, "x"), EVT_ERR_JSON,
	    "not an object");
	T_EQ(b.len, 0, "nothing appended");
	evt_buf_free(&b);

	T_OK(strcmp(site_of("{\"event\":\"nats\",\"site\":\"site-a\"}"),
	    "site-a") == 0, "site member");
	T_OK(strcmp(site_of("{\"site\":\"s\\u00e9\",\"gateway\":\"http://h\"}"),
	    "s\xc3\xa9") == 0, "site member wins, escapes decoded");
	T_OK(strcmp(site_of("{\"gateway\":\"https://gw.example.com:8443/x\"}"),
	    "gw.example.com") == 0, "gateway host without port and path");
	T_OK(strcmp(site_of("{\"gateway\":\"http://u@10.0.0.5\"}"),
	    "10.0.0.5") == 0, "gateway host without user");
	T_OK(strcmp(site_of("{\"gateway\":\"http://[::1]:80\"}"), "::1") == 0,
	    "IPv6 gateway");
	T_OK(strcmp(site_of("{\"site\":1,\"gateway\":\"http://h\"}"), "h") == 0,
	    "a site that is not a string: the gateway's host");
	T_OK(strcmp(site_of("{\"event\":\"merged\"}"), "") == 0,
	    "neither: empty");
	T_OK(strcmp(site_of("not json"), "") == 0, "not JSON: empty");

	T_OK(evt_sel_init(&sel, 4) == 0, "selection");
	T_OK(evt_sel_site(&sel, "anything"), "no --site: every site");
	sel.sites[sel.nsites++] = "site-?";
	T_OK(evt_sel_site(&sel, "site-a") && evt_sel_site(&sel, "SITE-B"),
	    "glob in any letter case");
	T_OK(!evt_sel_site(&sel, "site-ab") && !evt_sel_site(&sel, ""),
	    "glob does not match");
	sel.sites[sel.nsites++] = "";
	T_OK(evt_sel_site(&sel, ""), "the empty site by an empty entry");
	sel.nsites = 1;

	/* The site tracker: the site of what follows each marker, and the
	 * distinct sites met, selected or not. */
	struct evt_siter t;
	static const char *const mk[] = {
	    "{\"event\":\"nats\",\"site\":\"site-a\"}",
	    "{\"event\":\"nats\",\"site\":\"other\"}",
	    "{\"event\":\"nats\",\"site\":\"site-a\"}",
	    "{\"event\":\"new\",\"gateway\":\"http://site-b:80\"}"};
	evt_siter_init(&t, &sel);
	T_OK(!t.on, "before any marker: the site \"\", not selected");
	int on[4];
	for (int i = 0; i < 4; i++) {
		T_EQ(evt_siter_marker(&t, mk[i], strlen(mk[i])), 0, "marker");
		on[i] = t.on;
	}
	T_OK(on[0] && !on[1] && on[2] && on[3], "on: the marker's site");
	T_OK(strcmp((const char *)t.site.p, "site-b") == 0, "the site now");
	T_EQ(evt_siter_count(&t, 0), 3, "three distinct sites met");
	T_EQ(evt_siter_count(&t, 1), 2, "two of them selected");
	T_OK(evt_siter_list(&t, 1, &b) == 0 &&
	    buf_is(&b, "\"site-a\", \"site-b\""), "the selected listed");
	b.len = 0;
	T_OK(evt_siter_list(&t, 0, &b) == 0 &&
	    buf_is(&b, "\"site-a\", \"other\", \"site-b\""), "all listed");
	evt_buf_free(&b);
	evt_siter_free(&t);
	evt_siter_init(&t, NULL);
	T_OK(t.on && evt_siter_marker(&t, mk[1], strlen(mk[1])) == 0 && t.on,
	    "no selection: every site on");
	evt_siter_free(&t);
	T_OK(evt_session_is_site(mk[0], strlen(mk[0])) &&
	    !evt_session_is_site(mk[3], strlen(mk[3])), "site markers told");
	evt_sel_free(&sel);
	T_DONE();
}
