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
#include "evtape/select.h"
#include "t.h"

/* Whether b holds exactly the text s. */
static int
buf_is(const struct evt_buf *b, const char *s)
{
	return b->len == strlen(s) && memcmp(b->p, s, b->len) == 0;
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
