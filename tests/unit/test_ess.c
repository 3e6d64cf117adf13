/*
 * test_ess.c: unit tests for the ESS protocol core (src/ess.c).
 *
 * Server tests drive a struct evt_ess_conn with deterministic callbacks
 * (ids "id-1", "id-2", ...; token "good"; one resumable session "old") and
 * compare every response byte for byte.  Filter semantics are table-driven.
 * Client builders are compared with the wire shapes of docs/ess-protocol.md
 * §2.2-2.6, and the classifier runs on realistic frames from §3.3 and §4.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evtape/buf.h"
#include "evtape/err.h"
#include "evtape/ess.h"
#include "evtape/json.h"
#include "t.h"

/* Compares a byte range with a C string, printing both on failure. */
#define T_STR(got, glen, want, ...)                                      \
	do {                                                             \
		const char *t_g_ = (const char *)(got);                  \
		size_t t_gl_ = (glen);                                   \
		const char *t_w_ = (want);                               \
		int t_ok_ = t_gl_ == strlen(t_w_) &&                     \
		    memcmp(t_g_, t_w_, t_gl_) == 0;                      \
		T_OK(t_ok_, __VA_ARGS__);                                \
		if (!t_ok_)                                              \
			printf("#   got  %.*s\n#   want %s\n",           \
			    (int)t_gl_, t_g_ ? t_g_ : "", t_w_);         \
	} while (0)

#define CAM "cameras/a8a8b9dc-3995-49ed-9b00-62caac2ce74a"
#define CAM2 "cameras/25d08c6a-cc08-4498-8772-242111f9840c"
#define MOTION "6eb95dd6-7ccc-4bce-99f8-af0d0b582d77"
#define MSTOP "6f55a7a7-d21c-4629-ac18-af1975e395a2"
#define REC "4577f552-765a-438c-bc7d-e5ff1f754bc3"

static int id_counter;
static int state_fails;
static char resume_eid[EVT_ESS_ID_MAX + 1];
static struct evt_ess_subs *stored_subs; /* handed out on resume of "old" */

/* Accepts the token "good". */
static int
auth_cb(void *arg, const char *tok, size_t len)
{
	(void)arg;
	return len == 4 && memcmp(tok, "good", 4) == 0;
}

/* Returns "id-N". */
static size_t
id_cb(void *arg, char out[EVT_ESS_ID_MAX])
{
	(void)arg;
	return (size_t)snprintf(out, EVT_ESS_ID_MAX, "id-%d", ++id_counter);
}

/* Resumes the session "old" only. */
static int
resume_cb(void *arg, const char *sid, size_t sidlen, const char *eid,
    size_t eidlen, struct evt_ess_subs **subs)
{
	(void)arg;
	memcpy(resume_eid, eid, eidlen);
	resume_eid[eidlen] = '\0';
	if (sidlen != 3 || memcmp(sid, "old", 3) != 0)
		return 0;
	*subs = stored_subs;
	stored_subs = NULL;
	return 1;
}

static const char *const states[] = {
	"{\"id\":\"s1\",\"source\":\"" CAM "\",\"type\":\"" MOTION "\"}",
	"{\"id\":\"s2\",\"source\":\"" CAM2 "\",\"type\":\"" REC "\"}",
};
static const size_t state_lens[] = { 0, 0 };
static size_t slens[2];

/* Supplies the two states above, filtered. */
static int
state_cb(void *arg, const struct evt_ess_subs *subs, struct evt_buf *out)
{
	(void)arg;
	if (state_fails) {
		(void)evt_buf_put(out, "[{", 2); /* partial output, rolled back */
		return -1;
	}
	return evt_ess_states_array(subs, states, slens, 2, out) < 0 ? -1 : 0;
}

static struct evt_buf out;
static struct evt_ess_action act;

/* Feeds one frame; returns the response as a NUL-terminated string. */
static const char *
feed(struct evt_ess_conn *c, const char *frame)
{
	static char resp[8192];
	size_t start = out.len;
	int rc = evt_ess_conn_input(c, frame, strlen(frame), &out, &act);

	if (rc != 0)
		snprintf(resp, sizeof resp, "rc=%d", rc);
	else
		snprintf(resp, sizeof resp, "%.*s", (int)(out.len - start),
		    (const char *)out.p + start);
	out.len = 0;
	return resp;
}

/* Checks one frame's response. */
#define FEED(c, frame, want, ...)                                        \
	do {                                                             \
		const char *t_r_ = feed((c), (frame));                   \
		T_STR(t_r_, strlen(t_r_), (want), __VA_ARGS__);          \
	} while (0)

/* A connection with the test callbacks. */
static struct evt_ess_conn *
conn(int authed, const struct evt_ess_limits *lim)
{
	struct evt_ess_server_cbs cb = { auth_cb, id_cb, resume_cb, state_cb,
		NULL };

	id_counter = 0;
	return evt_ess_conn_new(&cb, lim, authed);
}

/* The whole happy path of §2 with a header-authenticated upgrade. */
static void
test_happy_path(void)
{
	struct evt_ess_conn *c = conn(1, NULL);
	size_t n;

	FEED(c, "{\"command\":\"startSession\",\"commandId\":1,\"sessionId\":\"\",\"eventId\":\"\"}",
	    "{\"commandId\":1,\"status\":201,\"sessionId\":\"id-1\"}",
	    "startSession new: 201 + fresh id");
	T_EQ(act.cmd, EVT_ESS_CMD_START_SESSION, "action names startSession");
	T_EQ(act.status, 201, "action status 201");
	T_EQ(act.resumed, 0, "not resumed");
	T_STR(evt_ess_conn_session_id(c, &n), n, "id-1", "session id accessor");
	FEED(c, "{\"command\":\"getState\",\"commandId\":2}",
	    "{\"commandId\":2,\"status\":200,\"states\":[]}",
	    "getState without subscriptions: []");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":3,\"filters\":["
	    "{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],"
	    "\"eventTypes\":[\"" MOTION "\",\"" MSTOP "\"]}]}",
	    "{\"commandId\":3,\"status\":200,\"subscriptionId\":\"id-2\"}",
	    "addSubscription: 200 + subscriptionId");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), MOTION, strlen(MOTION)),
	    1, "subscription delivers motion");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), REC, strlen(REC)), 0,
	    "subscription does not deliver recording");
	FEED(c, "{\"command\":\"getState\",\"commandId\":4}",
	    "{\"commandId\":4,\"status\":200,\"states\":[" "{\"id\":\"s1\",\"source\":\"" CAM
	    "\",\"type\":\"" MOTION "\"}]}",
	    "getState: states filtered by the subscription");
	FEED(c, "{\"command\":\"removeSubscription\",\"commandId\":5,\"subscriptionId\":\"id-2\"}",
	    "{\"commandId\":5,\"status\":200}", "removeSubscription: 200");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), MOTION, strlen(MOTION)),
	    0, "removed subscription delivers nothing");
	FEED(c, "{\"command\":\"removeSubscription\",\"commandId\":6,\"subscriptionId\":\"id-2\"}",
	    "{\"commandId\":6,\"status\":404,\"error\":{\"errorText\":\"unknown subscriptionId\"}}",
	    "removeSubscription of an unknown id: 404");
	FEED(c, "{\"command\":\"removeSubscription\",\"commandId\":7}",
	    "{\"commandId\":7,\"status\":400,\"error\":{\"errorText\":\"subscriptionId missing\"}}",
	    "removeSubscription without id: 400");
	evt_ess_conn_free(c);
}

/* authenticate command and commands before authentication. */
static void
test_authenticate(void)
{
	struct evt_ess_conn *c = conn(0, NULL);

	FEED(c, "{\"command\":\"startSession\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":401,\"error\":{\"errorText\":\"not authenticated\"}}",
	    "startSession before authentication: 401");
	FEED(c, "{\"command\":\"getState\",\"commandId\":2}",
	    "{\"commandId\":2,\"status\":401,\"error\":{\"errorText\":\"not authenticated\"}}",
	    "getState before authentication: 401");
	FEED(c, "{\"command\":\"authenticate\",\"commandId\":0,\"token\":\"Bearer bad\"}",
	    "{\"commandId\":0,\"status\":401,\"error\":{\"errorText\":\"invalid token\"}}",
	    "authenticate with a bad token: 401");
	FEED(c, "{\"command\":\"authenticate\",\"commandId\":0}",
	    "{\"commandId\":0,\"status\":401,\"error\":{\"errorText\":\"token missing\"}}",
	    "authenticate without token: 401");
	FEED(c, "{\"command\":\"authenticate\",\"commandId\":0,\"token\":\"Bearer good\"}",
	    "{\"commandId\":0,\"status\":200}", "authenticate: 200");
	FEED(c, "{\"command\":\"startSession\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":201,\"sessionId\":\"id-1\"}",
	    "startSession after authenticate, fields omitted: 201");
	evt_ess_conn_free(c);

	c = conn(0, NULL);
	FEED(c, "{\"command\":\"authenticate\",\"commandId\":1,\"token\":\"good\"}",
	    "{\"commandId\":1,\"status\":200}", "token without Bearer prefix");
	evt_ess_conn_free(c);
}

/* commandId is echoed as its exact token text. */
static void
test_command_id_echo(void)
{
	static const struct {
		const char *cid, *want;
	} t[] = {
		{ "0", "{\"commandId\":0,\"status\":200,\"states\":[]}" },
		{ "7", "{\"commandId\":7,\"status\":200,\"states\":[]}" },
		{ "\"abc\"", "{\"commandId\":\"abc\",\"status\":200,\"states\":[]}" },
		{ "1.5", "{\"commandId\":1.5,\"status\":200,\"states\":[]}" },
		{ "-3", "{\"commandId\":-3,\"status\":200,\"states\":[]}" },
		{ "1e2", "{\"commandId\":1e2,\"status\":200,\"states\":[]}" },
		{ "\"a\\u0062\"", "{\"commandId\":\"a\\u0062\",\"status\":200,\"states\":[]}" },
		{ NULL, "{\"status\":200,\"states\":[]}" },
	};
	struct evt_ess_conn *c = conn(1, NULL);
	char f[256];

	feed(c, "{\"command\":\"startSession\"}");
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		if (t[i].cid != NULL)
			snprintf(f, sizeof f,
			    "{\"command\":\"getState\", \"commandId\" : %s }",
			    t[i].cid);
		else
			snprintf(f, sizeof f, "{\"command\":\"getState\"}");
		FEED(c, f, t[i].want, "commandId echo of %s",
		    t[i].cid ? t[i].cid : "(missing)");
	}
	FEED(c, "{\"command\":\"nope\",\"commandId\":\"x\"}",
	    "{\"commandId\":\"x\",\"status\":400,\"error\":{\"errorText\":\"unknown command\"}}",
	    "commandId echoed on errors too");
	evt_ess_conn_free(c);
}

/* Session resume: 200 + same id, or 201 + a new id. */
static void
test_resume(void)
{
	struct evt_ess_conn *c = conn(1, NULL);
	struct evt_ess_subs *taken;
	struct evt_ess_sub *sub;
	size_t n;

	stored_subs = evt_ess_subs_new();
	const char *all = "[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],"
	    "\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]";
	T_EQ(evt_ess_sub_parse(all, strlen(all), NULL, &sub, NULL),
	    0, "parse a catch-all subscription");
	T_EQ(evt_ess_subs_add(stored_subs, "sub-a", 5, sub), 0, "store it");
	FEED(c, "{\"command\":\"startSession\",\"commandId\":1,\"sessionId\":\"old\",\"eventId\":\"e-41\"}",
	    "{\"commandId\":1,\"status\":200,\"sessionId\":\"old\"}",
	    "resume of a known session: 200 + same id");
	T_EQ(act.resumed, 1, "action says resumed");
	T_STR(resume_eid, strlen(resume_eid), "e-41", "resume_cb got the eventId");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), REC, strlen(REC)), 1,
	    "resumed session keeps its subscriptions");
	FEED(c, "{\"command\":\"removeSubscription\",\"commandId\":2,\"subscriptionId\":\"sub-a\"}",
	    "{\"commandId\":2,\"status\":200}",
	    "resumed subscription can be removed by its id");
	FEED(c, "{\"command\":\"startSession\",\"commandId\":3}",
	    "{\"commandId\":3,\"status\":400,\"error\":{\"errorText\":\"session already started\"}}",
	    "second startSession on a connection: 400");
	taken = evt_ess_conn_take_subs(c);
	T_OK(taken != NULL && evt_ess_subs_count(taken) == 0,
	    "take_subs hands the (now empty) resumed set over");
	evt_ess_subs_free(taken);
	evt_ess_subs_free(stored_subs);
	stored_subs = NULL;
	evt_ess_conn_free(c);

	c = conn(1, NULL);
	FEED(c, "{\"command\":\"startSession\",\"commandId\":1,\"sessionId\":\"gone\",\"eventId\":\"e-1\"}",
	    "{\"commandId\":1,\"status\":201,\"sessionId\":\"id-1\"}",
	    "resume of an unknown session: 201 + new id");
	T_EQ(act.resumed, 0, "not resumed");
	T_STR(evt_ess_conn_session_id(c, &n), n, "id-1", "new id is current");
	evt_ess_conn_free(c);

	/* The id callback returning the refused id again must not yield
	 * 201 with the old id. */
	c = conn(1, NULL);
	FEED(c, "{\"command\":\"startSession\",\"commandId\":1,\"sessionId\":\"id-1\"}",
	    "{\"commandId\":1,\"status\":201,\"sessionId\":\"id-2\"}",
	    "201 never repeats the requested id");
	evt_ess_conn_free(c);

	c = conn(1, NULL);
	FEED(c, "{\"Command\":\"STARTSESSION\",\"CommandId\":5,\"SessionId\":\"old\",\"extra\":[1,{}]}",
	    "{\"commandId\":5,\"status\":200,\"sessionId\":\"old\"}",
	    "case-insensitive names, unknown fields tolerated, resume w/o eventId");
	T_EQ(evt_ess_subs_count(evt_ess_conn_subs(c)), 0,
	    "resume with no stored set gives an empty set");
	evt_ess_conn_free(c);
}

/* Filter semantics, table-driven. */
static void
test_filters(void)
{
	static const struct {
		const char *filters, *source, *type;
		int want;
	} t[] = {
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, MOTION, 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    "hardware/a8a8b9dc-3995-49ed-9b00-62caac2ce74a", MOTION, 0 },
		{ "[{\"modifier\":\"Include\",\"resourceTypes\":[\"CAMERAS\"],\"sourceIds\":[\"A8A8B9DC-3995-49ED-9B00-62CAAC2CE74A\"],\"eventTypes\":[\"6EB95DD6-7CCC-4BCE-99F8-AF0D0B582D77\"]}]",
		    CAM, MOTION, 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    "Cameras/A8A8B9DC-3995-49ED-9B00-62CAAC2CE74A", "6EB95DD6-7CCC-4BCE-99F8-AF0D0B582D77", 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"" MOTION "\"]}]",
		    CAM, MSTOP, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]},"
		  "{\"modifier\":\"exclude\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"25d08c6a-cc08-4498-8772-242111f9840c\"],\"eventTypes\":[\"*\"]}]",
		    CAM2, MOTION, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]},"
		  "{\"modifier\":\"exclude\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"25d08c6a-cc08-4498-8772-242111f9840c\"],\"eventTypes\":[\"*\"]}]",
		    CAM, MOTION, 1 },
		{ "[{\"modifier\":\"exclude\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"" REC "\"]},"
		  "{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 0 },
		{ "[{\"modifier\":\"exclude\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 0 },
		{ "[]", CAM, REC, 0 },
		{ "[{\"modifier\":\"include\"}]", CAM, REC, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":null,\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"userDefinedEvents\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    "userdefinedevents", REC, 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"x\"],\"sourceIds\":[\"x\"],\"eventTypes\":[\"*\"]}]",
		    "x", REC, 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"outputs\",\"cameras\",\"hardware\",\"a\",\"z\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 1 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"camera\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 0 },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":[\"cam\\u0065ras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
		    CAM, REC, 1 },
	};
	static const struct {
		const char *filters;
		int rc;
	} bad[] = {
		{ "[{\"modifier\":\"both\"}]", EVT_ERR_ARG },
		{ "[{\"resourceTypes\":[\"*\"]}]", EVT_ERR_ARG },
		{ "[{\"modifier\":1}]", EVT_ERR_ARG },
		{ "[{\"modifier\":\"include\",\"resourceTypes\":\"cameras\"}]", EVT_ERR_ARG },
		{ "[{\"modifier\":\"include\",\"eventTypes\":[1]}]", EVT_ERR_ARG },
		{ "[1]", EVT_ERR_ARG },
		{ "{}", EVT_ERR_ARG },
		{ "null", EVT_ERR_ARG },
		{ "[", EVT_ERR_JSON },
	};
	struct evt_ess_sub *s;
	const char *why;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int rc = evt_ess_sub_parse(t[i].filters, strlen(t[i].filters),
		    NULL, &s, &why);
		T_EQ(rc, 0, "filters %zu parse", i);
		T_EQ(evt_ess_sub_delivers(s, t[i].source, strlen(t[i].source),
		    t[i].type, strlen(t[i].type)), t[i].want,
		    "filters %zu on %s / %.8s", i, t[i].source, t[i].type);
		evt_ess_sub_free(s);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		T_EQ(evt_ess_sub_parse(bad[i].filters, strlen(bad[i].filters),
		    NULL, &s, &why), bad[i].rc, "bad filters %s", bad[i].filters);
		T_OK(s == NULL && why != NULL, "bad filters give no sub and a reason");
	}
}

/* Several subscriptions on one session: union, one delivery, removal. */
static void
test_multi_subscriptions(void)
{
	struct evt_ess_conn *c = conn(1, NULL);
	static const char *const ev[] = {
		"{\"id\":\"e1\",\"source\":\"" CAM "\",\"type\":\"" MOTION "\"}",
		"{\"id\":\"e2\",\"source\":\"" CAM2 "\",\"type\":\"" REC "\"}",
		"{\"id\":\"e3\",\"source\":\"hardware/x\",\"type\":\"" REC "\"}",
	};
	size_t lens[3];
	int n;

	for (int i = 0; i < 3; i++)
		lens[i] = strlen(ev[i]);
	feed(c, "{\"command\":\"startSession\"}");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1,\"filters\":[{\"modifier\":\"include\","
	    "\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"" MOTION "\"]}]}",
	    "{\"commandId\":1,\"status\":200,\"subscriptionId\":\"id-2\"}", "first subscription");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":2,\"filters\":[{\"modifier\":\"include\","
	    "\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"" REC "\",\"" MOTION "\"]},"
	    "{\"modifier\":\"exclude\",\"resourceTypes\":[\"hardware\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]}",
	    "{\"commandId\":2,\"status\":200,\"subscriptionId\":\"id-3\"}", "second subscription");
	n = evt_ess_events_message_for(evt_ess_conn_subs(c), ev, lens, 3, &out);
	T_EQ(n, 2, "two of three events delivered, each once");
	T_STR(out.p, out.len, "{\"events\":[" "{\"id\":\"e1\",\"source\":\"" CAM "\",\"type\":\"" MOTION
	    "\"},{\"id\":\"e2\",\"source\":\"" CAM2 "\",\"type\":\"" REC "\"}]}",
	    "events message bytes");
	out.len = 0;
	feed(c, "{\"command\":\"removeSubscription\",\"subscriptionId\":\"id-3\"}");
	n = evt_ess_events_message_for(evt_ess_conn_subs(c), ev, lens, 3, &out);
	T_EQ(n, 1, "after removal only the camera motion event");
	out.len = 0;
	feed(c, "{\"command\":\"removeSubscription\",\"subscriptionId\":\"id-2\"}");
	n = evt_ess_events_message_for(evt_ess_conn_subs(c), ev, lens, 3, &out);
	T_EQ(n, 0, "nothing delivered: no message");
	T_EQ(out.len, 0, "an empty batch appends nothing");
	n = evt_ess_events_message(ev, lens, 2, &out);
	T_EQ(n, 2, "unfiltered message");
	out.len = 0;
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":9}",
	    "{\"commandId\":9,\"status\":200,\"subscriptionId\":\"id-4\"}",
	    "addSubscription without filters accepted");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), MOTION, strlen(MOTION)),
	    0, "filterless subscription matches nothing");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":10,"
	    "\"filters\":null}",
	    "{\"commandId\":10,\"status\":200,\"subscriptionId\":\"id-5\"}",
	    "addSubscription with null filters accepted");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), MOTION, strlen(MOTION)),
	    0, "null filters match nothing");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":11,"
	    "\"filters\":{}}",
	    "{\"commandId\":11,\"status\":400,\"error\":{\"errorText\":"
	    "\"filters must be an array\"}}",
	    "addSubscription with an object for filters refused");
	evt_ess_conn_free(c);
}

/* Malformed frames close; wrong commands get error responses. */
static void
test_errors(void)
{
	struct evt_ess_conn *c = conn(1, NULL);
	struct evt_ess_limits lim = { 2, 2, 3, 200 };

	FEED(c, "{\"command\":\"fly\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":400,\"error\":{\"errorText\":\"unknown command\"}}",
	    "unknown command: 400, no close");
	T_EQ(act.close_code, 0, "unknown command does not close");
	FEED(c, "{\"command\":\"getState\",\"commandId\":2}",
	    "{\"commandId\":2,\"status\":400,\"error\":{\"errorText\":\"no session: send startSession first\"}}",
	    "getState before startSession: 400");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":3,\"filters\":[]}",
	    "{\"commandId\":3,\"status\":400,\"error\":{\"errorText\":\"no session: send startSession first\"}}",
	    "addSubscription before startSession: 400");
	FEED(c, "{\"command\":\"getState\",\"commandId\":", "", "truncated JSON: no response");
	T_EQ(act.close_code, 1007, "truncated JSON closes with 1007");
	T_OK(act.close_reason != NULL, "close has a reason");
	FEED(c, "{\"command\":\"getState\"}", "rc=-201", "input after close: EVT_ERR_STATE");
	evt_ess_conn_free(c);

	c = conn(1, NULL);
	FEED(c, "{\"command\":\"getSt\xff\"}", "", "invalid UTF-8: no response");
	T_EQ(act.close_code, 1007, "invalid UTF-8 closes with 1007");
	evt_ess_conn_free(c);
	c = conn(1, NULL);
	FEED(c, "[{\"command\":\"getState\"}]", "", "array: no response");
	T_EQ(act.close_code, 1008, "non-object JSON closes with 1008");
	evt_ess_conn_free(c);
	c = conn(1, NULL);
	FEED(c, "{\"commandId\":1}", "", "no command: no response");
	T_EQ(act.close_code, 1008, "object without command closes with 1008");
	evt_ess_conn_free(c);
	c = conn(1, NULL);
	FEED(c, "{\"command\":7}", "", "numeric command: no response");
	T_EQ(act.close_code, 1008, "non-string command closes with 1008");
	evt_ess_conn_free(c);

	c = conn(1, &lim);
	feed(c, "{\"command\":\"startSession\"}");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1,\"filters\":[{},{},{}]}",
	    "{\"commandId\":1,\"status\":413,\"error\":{\"errorText\":\"too many filters\"}}",
	    "too many filters: 413");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1,\"filters\":[{\"modifier\":\"include\",\"sourceIds\":[\"a\",\"b\",\"c\",\"d\"]}]}",
	    "{\"commandId\":1,\"status\":413,\"error\":{\"errorText\":\"too many entries in a filter list\"}}",
	    "too many list entries: 413");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1,\"filters\":[{\"modifier\":\"maybe\"}]}",
	    "{\"commandId\":1,\"status\":400,\"error\":{\"errorText\":\"filter modifier must be include or exclude\"}}",
	    "unknown modifier: 400");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1,\"filters\":{}}",
	    "{\"commandId\":1,\"status\":400,\"error\":{\"errorText\":\"filters must be an array\"}}",
	    "filters not an array: 400");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":200,\"subscriptionId\":\"id-2\"}", "subscription 1 of 2");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":200,\"subscriptionId\":\"id-3\"}", "subscription 2 of 2");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":1}",
	    "{\"commandId\":1,\"status\":413,\"error\":{\"errorText\":\"too many subscriptions\"}}",
	    "subscription over the bound: 413");
	{
		char big[256];
		memset(big, ' ', sizeof big);
		memcpy(big, "{\"command\":\"getState\"}", 22);
		big[255] = '\0';
		FEED(c, big, "", "frame over max_frame: no response");
		T_EQ(act.close_code, 1009, "frame over max_frame closes with 1009");
	}
	evt_ess_conn_free(c);

	c = conn(1, NULL);
	{
		char deep[200];
		size_t i = 0;
		i += (size_t)snprintf(deep, sizeof deep, "{\"command\":\"getState\",\"x\":");
		while (i < 150)
			deep[i++] = '[';
		deep[i] = '\0';
		FEED(c, deep, "", "deep nesting: no response");
		T_EQ(act.close_code, 1008, "nesting deeper than 64 closes with 1008");
	}
	evt_ess_conn_free(c);
}

/* Session bookkeeping around the commands: accessors, take_subs, a failing
 * state callback, NULL sets. */
static void
test_session_edges(void)
{
	struct evt_ess_conn *c = conn(1, NULL);
	struct evt_ess_subs *taken;
	const char *ev[] = { "{\"source\":\"" CAM "\",\"type\":\"" MOTION "\"}" };
	size_t len[] = { strlen(ev[0]) };
	size_t n = 99;

	T_OK(evt_ess_conn_session_id(c, &n) == NULL && n == 0,
	    "no session id before startSession");
	T_OK(evt_ess_conn_subs(c) == NULL, "no set before startSession");
	feed(c, "{\"command\":\"startSession\"}");
	feed(c, "{\"command\":\"addSubscription\",\"filters\":[{\"modifier\":\"include\","
	    "\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]}");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), REC, strlen(REC)), 1,
	    "catch-all delivers");
	state_fails = 1;
	FEED(c, "{\"command\":\"getState\",\"commandId\":3}",
	    "{\"commandId\":3,\"status\":500,\"error\":{\"errorText\":\"state unavailable\"}}",
	    "failing state_cb: 500, partial output rolled back");
	state_fails = 0;
	taken = evt_ess_conn_take_subs(c);
	T_EQ(evt_ess_subs_count(taken), 1, "take_subs returns the set");
	T_EQ(evt_ess_conn_delivers(c, CAM, strlen(CAM), REC, strlen(REC)), 0,
	    "after take_subs the connection delivers nothing");
	T_EQ(evt_ess_events_message_for(evt_ess_conn_subs(c), ev, len, 1, &out), 0,
	    "NULL set: no events message");
	T_EQ(out.len, 0, "nothing appended for a NULL set");
	FEED(c, "{\"command\":\"getState\",\"commandId\":4}",
	    "{\"commandId\":4,\"status\":200,\"states\":[]}", "getState after take_subs: []");
	FEED(c, "{\"command\":\"addSubscription\",\"commandId\":5}",
	    "{\"commandId\":5,\"status\":200,\"subscriptionId\":\"id-3\"}",
	    "addSubscription after take_subs starts a new set");
	T_EQ(evt_ess_subs_count(evt_ess_conn_subs(c)), 1, "new set holds one");
	T_EQ(evt_ess_events_message_for(taken, ev, len, 1, &out), 1,
	    "the taken set still filters");
	out.len = 0;
	evt_ess_subs_free(taken);
	evt_ess_conn_free(c);
}

/* Pipelined commands are answered in order, one frame each. */
static void
test_pipelined(void)
{
	static const char *const f[] = {
		"{\"command\":\"startSession\",\"commandId\":1,\"sessionId\":\"\",\"eventId\":\"\"}",
		"{\"command\":\"addSubscription\",\"commandId\":2,\"sessionId\":\"x\",\"filters\":[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]}",
		"{\"command\":\"addSubscription\",\"commandId\":3,\"subscriptionId\":\"\",\"filters\":[]}",
		"{\"command\":\"getState\",\"commandId\":4,\"sessionId\":\"x\"}",
	};
	struct evt_ess_conn *c = conn(1, NULL);
	size_t ends[4];

	for (int i = 0; i < 4; i++) {
		T_EQ(evt_ess_conn_input(c, f[i], strlen(f[i]), &out, &act), 0,
		    "pipelined frame %d accepted", i);
		ends[i] = out.len;
	}
	T_STR(out.p, ends[0], "{\"commandId\":1,\"status\":201,\"sessionId\":\"id-1\"}",
	    "pipelined response 1");
	T_STR(out.p + ends[0], ends[1] - ends[0],
	    "{\"commandId\":2,\"status\":200,\"subscriptionId\":\"id-2\"}", "pipelined response 2");
	T_STR(out.p + ends[1], ends[2] - ends[1],
	    "{\"commandId\":3,\"status\":200,\"subscriptionId\":\"id-3\"}", "pipelined response 3");
	T_OK(ends[3] - ends[2] > 40 && memcmp(out.p + ends[2],
	    "{\"commandId\":4,\"status\":200,\"states\":[{", 39) == 0,
	    "pipelined response 4 is getState with both states");
	out.len = 0;
	evt_ess_conn_free(c);
}

/* Client builders produce the wire shapes of §2.2-2.6. */
static void
test_client_builders(void)
{
	struct evt_ess_client cl;
	struct evt_buf f = { 0 };
	uint64_t id = 0;
	const char *specs[] = {
		"resourceTypes=cameras;sourceIds=*;eventTypes=" MOTION "," MSTOP,
		"sourceIds=25D08C6A-CC08-4498-8772-242111F9840C",
	};
	int excl[] = { 0, 1 };

	evt_ess_client_init(&cl);
	T_EQ(evt_ess_client_authenticate(&cl, "eyJhbGciOi", 10, &out, &id), 0,
	    "authenticate builds");
	T_STR(out.p, out.len,
	    "{\"command\":\"authenticate\",\"commandId\":1,\"token\":\"Bearer eyJhbGciOi\"}",
	    "authenticate wire shape");
	T_EQ(id, 1, "first commandId is 1");
	out.len = 0;
	evt_ess_client_start_session(&cl, NULL, 0, NULL, 0, &out, &id);
	T_STR(out.p, out.len,
	    "{\"command\":\"startSession\",\"commandId\":2,\"sessionId\":\"\",\"eventId\":\"\"}",
	    "startSession (new) wire shape");
	T_EQ(id, 2, "commandId increments");
	out.len = 0;
	evt_ess_client_start_session(&cl, "s-1", 3, "e\"9", 3, &out, &id);
	T_STR(out.p, out.len,
	    "{\"command\":\"startSession\",\"commandId\":3,\"sessionId\":\"s-1\",\"eventId\":\"e\\\"9\"}",
	    "startSession (resume) wire shape, escaped");
	out.len = 0;
	T_EQ(evt_ess_filters_from_specs(specs, excl, 2, &f), 0, "filters from specs");
	T_EQ(evt_ess_client_add_subscription(&cl, (const char *)f.p, f.len, &out, &id), 0,
	    "addSubscription builds");
	T_STR(out.p, out.len,
	    "{\"command\":\"addSubscription\",\"commandId\":4,\"filters\":["
	    "{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],\"sourceIds\":[\"*\"],"
	    "\"eventTypes\":[\"" MOTION "\",\"" MSTOP "\"]},"
	    "{\"modifier\":\"exclude\",\"resourceTypes\":[\"*\"],"
	    "\"sourceIds\":[\"25d08c6a-cc08-4498-8772-242111f9840c\"],\"eventTypes\":[\"*\"]}]}",
	    "addSubscription wire shape (§2.4 example)");
	out.len = 0;
	T_EQ(evt_ess_client_add_subscription(&cl, "{}", 2, &out, &id), EVT_ERR_ARG,
	    "addSubscription rejects a non-array");
	T_EQ(out.len, 0, "and leaves out unchanged");
	evt_ess_client_get_state(&cl, &out, &id);
	T_STR(out.p, out.len, "{\"command\":\"getState\",\"commandId\":5}",
	    "getState wire shape (failed build did not use an id)");
	out.len = 0;
	evt_ess_client_remove_subscription(&cl, "sub-7", 5, &out, &id);
	T_STR(out.p, out.len,
	    "{\"command\":\"removeSubscription\",\"commandId\":6,\"subscriptionId\":\"sub-7\"}",
	    "removeSubscription wire shape");
	T_EQ(id, 6, "id of the last command");
	out.len = 0;
	f.len = 0;
	T_EQ(evt_ess_filters_from_specs(NULL, NULL, 0, &f), 0, "no specs");
	T_STR(f.p, f.len,
	    "[{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}]",
	    "no specs: include everything");
	evt_buf_free(&f);
}

/* The command-line filter syntax. */
static void
test_filter_spec(void)
{
	static const struct {
		const char *spec, *want;
	} ok[] = {
		{ "", "{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}" },
		{ " RESOURCETYPES = cameras , hardware ;", "{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\",\"hardware\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"*\"]}" },
		{ "eventtypes=6EB95DD6-7CCC-4BCE-99F8-AF0D0B582D77;;", "{\"modifier\":\"include\",\"resourceTypes\":[\"*\"],\"sourceIds\":[\"*\"],\"eventTypes\":[\"" MOTION "\"]}" },
	};
	static const char *const bad[] = {
		"colour=red", "resourceTypes=a;resourceTypes=b", "eventTypes=",
		"eventTypes=" MOTION ",", "sourceIds=notaguid", "resourceTypes",
		"resourceTypes=caméras", ";;;", " ; ",
	};
	struct evt_buf b = { 0 };

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		b.len = 0;
		T_EQ(evt_ess_filter_spec(0, ok[i].spec, strlen(ok[i].spec), &b), 0,
		    "spec \"%s\" accepted", ok[i].spec);
		T_STR(b.p, b.len, ok[i].want, "spec \"%s\" output", ok[i].spec);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		b.len = 0;
		T_EQ(evt_ess_filter_spec(1, bad[i], strlen(bad[i]), &b), EVT_ERR_ARG,
		    "spec \"%s\" rejected", bad[i]);
		T_EQ(b.len, 0, "rejected spec leaves out unchanged");
	}
	evt_buf_free(&b);
}

/* The inbound-frame classifier on realistic frames. */
static void
test_classify(void)
{
	struct evt_jparser p;
	struct evt_ess_msg m;
	const char *ev =
	    "{\"events\":[\n {\"id\":\"0b5c4f1e-8a3d-4b52-9d0e-6f1c2a7e9b13\",\"source\":\"" CAM "\",\n"
	    "  \"specversion\":\"1.0\",\"stategroupid\":\"720ef62a-78be-418a-8e4c-ee04ffca6429\",\n"
	    "  \"time\":\"2025-10-27T15:03:52.8070000Z\",\"type\":\"" MOTION "\"},\n"
	    " {\"id\":\"5d0f7c2a-1e44-4f0b-8c3e-2b9a7f6d1e20\",\"source\":\"" CAM "\",\"specversion\":\"1.0\","
	    "\"time\":\"2025-10-27T15:03:52.9130000Z\",\"type\":\"" REC "\"},\n"
	    " {\"id\":\"9a1c0000-0000-4000-8000-000000000001\",\"source\":\"" CAM "\",\"specversion\":\"1.0\","
	    "\"time\":\"2025-10-27T15:03:53.0010000Z\",\"type\":\"x\",\"datacontenttype\":\"application/json\","
	    "\"data\":{\"id\":\"inner\",\"a\":[1,2,{\"b\":null}]}}\n]}";

	evt_json_init(&p, 0);
	T_EQ(evt_ess_classify(&p, ev, strlen(ev), &m), EVT_ESS_EVENTS, "events message");
	T_EQ(m.nevents, 3, "three events");
	T_STR(m.last_id, strlen(m.last_id), "9a1c0000-0000-4000-8000-000000000001",
	    "resume cursor is the last event's id");
#define CL(s, k_, what) do { evt_ess_classify(&p, s, strlen(s), &m); T_EQ(m.kind, k_, what); } while (0)
	CL("{\"commandId\":1,\"status\":201,\"sessionId\":\"3f2e-new\"}", EVT_ESS_RESPONSE,
	    "startSession response");
	T_EQ(m.has_int_id, 1, "integer commandId");
	T_EQ(m.command_id, 1, "commandId 1");
	T_EQ(m.status, 201, "status 201");
	T_STR(m.session_id, strlen(m.session_id), "3f2e-new", "sessionId");
	CL("{\"commandId\":2,\"status\":200,\"subscriptionId\":\"sub-\\u0031\"}", EVT_ESS_RESPONSE,
	    "addSubscription response");
	T_STR(m.subscription_id, strlen(m.subscription_id), "sub-1", "subscriptionId decoded");
	CL("{\"commandId\":4,\"status\":404,\"error\":{\"errorText\":\"Unknown resource\",\"httpCode\":404}}",
	    EVT_ESS_RESPONSE, "error response");
	T_EQ(m.status, 404, "error status");
	T_STR(m.error_text, strlen(m.error_text), "Unknown resource", "errorText");
	CL("{\"commandId\":3,\"status\":200,\"states\":[{\"id\":\"a\"},{\"id\":\"b\"}]}",
	    EVT_ESS_RESPONSE, "getState response");
	T_EQ(m.nstates, 2, "two states");
	CL("{\"commandId\":\"abc\",\"status\":200}", EVT_ESS_RESPONSE, "string commandId");
	T_EQ(m.has_int_id, 0, "string commandId is not an integer");
	CL("{\"events\":[]}", EVT_ESS_EVENTS, "empty events");
	T_EQ(m.nevents, 0, "zero events");
	T_EQ(m.last_id[0], 0, "no cursor");
	CL("{\"commandId\":null,\"events\":[{\"id\":\"e\"}]}", EVT_ESS_EVENTS,
	    "null commandId is not a response");
	CL("{\"hello\":1}", EVT_ESS_OTHER, "other JSON object");
	CL("[1,2]", EVT_ESS_OTHER, "JSON array is other");
	CL("{\"events\":[", EVT_ESS_NOT_JSON, "truncated frame is not JSON");
	CL("\xc3\x28", EVT_ESS_NOT_JSON, "bad UTF-8 is not JSON");
#undef CL
	evt_json_free(&p);
}

/* The fast field extractor. */
static void
test_event_fields(void)
{
	struct evt_ess_event_fields f;
	const char *e = " { \"data\" : {\"source\":\"no\",\"x\":[\"]\",{}]}, \"id\":\"e1\", \"n\":-1.5e3,"
	    "\"t\":true,\"source\":\"cameras\\/x\",\"type\":\"" MOTION "\" } ";
	struct evt_ess_subs *set = evt_ess_subs_new();
	struct evt_ess_sub *s;

	T_EQ(evt_ess_event_fields(e, strlen(e), &f), 0, "extract from a nested event");
	T_STR(f.id, f.id_len, "e1", "id");
	T_STR(f.source, f.source_len, "cameras\\/x", "source raw text");
	T_STR(f.type, f.type_len, MOTION, "type");
	T_EQ(f.escaped, 1, "escape flagged");
	T_EQ(evt_ess_event_fields("{\"id\":\"x\"", 9, &f), EVT_ERR_JSON, "unterminated object");
	T_EQ(evt_ess_event_fields("[]", 2, &f), EVT_ERR_JSON, "not an object");
	T_EQ(evt_ess_event_fields("{}", 2, &f), 0, "empty object");
	T_OK(f.id == NULL && f.source == NULL, "empty object has no fields");
	const char *fx = "[{\"modifier\":\"include\",\"resourceTypes\":[\"cameras\"],"
	    "\"sourceIds\":[\"X\"],\"eventTypes\":[\"*\"]}]";
	T_EQ(evt_ess_sub_parse(fx, strlen(fx), NULL, &s, NULL), 0, "parse source X filter");
	T_EQ(evt_ess_subs_add(set, "a", 1, s), 0, "add it");
	T_EQ(evt_ess_subs_delivers_event(set, e, strlen(e)), 1,
	    "escaped source decoded before matching");
	T_EQ(evt_ess_subs_delivers_event(set, "{\"source\":\"cameras/y\",\"type\":\"t\"}", 34), 0,
	    "other source not delivered");
	T_EQ(evt_ess_sub_parse("[]", 2, NULL, &s, NULL), 0, "parse []");
	T_EQ(evt_ess_subs_add(set, "a", 1, s), EVT_ERR_EXISTS, "duplicate id rejected");
	T_EQ(evt_ess_subs_add(set, "b", 1, NULL), EVT_ERR_ARG, "NULL subscription rejected");
	T_EQ(evt_ess_subs_count(set), 1, "set still holds one");
	T_EQ(evt_ess_subs_remove(set, "b", 1), EVT_ERR_NOTFOUND, "remove unknown id");
	evt_ess_subs_free(set);
}

/* evt_ess_events_within: the selected events where the events array held
 * them, every other member as it was. */
static void
test_events_within(void)
{
	static const char msg[] = "{\"seq\":7,\"events\":[{\"id\":\"a\"},"
	    "{\"id\":\"b\"},{\"id\":\"c\"}],\"more\":{\"x\":[1]}}";
	const char *first = strstr(msg, "{\"id\":\"a\"}");
	const char *last = strstr(msg, "{\"id\":\"c\"}");
	size_t from = (size_t)(first - msg), to = (size_t)(last - msg) + 10;
	const char *ev[] = {first, last};
	size_t lens[] = {10, 10};
	out.len = 0;
	T_EQ(evt_ess_events_within(msg, strlen(msg), from, to, ev, lens, 2,
	    &out), 2, "within: two events kept");
	T_STR(out.p, out.len, "{\"seq\":7,\"events\":[{\"id\":\"a\"},"
	    "{\"id\":\"c\"}],\"more\":{\"x\":[1]}}",
	    "within: the other members kept, b left out");
	out.len = 0;
	T_EQ(evt_ess_events_within(msg, strlen(msg), from, to, ev, lens, 0,
	    &out), 0, "within: none kept");
	T_STR(out.p, out.len, "{\"seq\":7,\"events\":[],\"more\":"
	    "{\"x\":[1]}}", "within: an empty events array");
	out.len = 0;
	T_EQ(evt_ess_events_within(msg, strlen(msg), to, from, ev, lens, 2,
	    &out), EVT_ERR_ARG, "within: from after to refused");
	T_EQ(evt_ess_events_within(msg, 5, from, to, ev, lens, 2, &out),
	    EVT_ERR_ARG, "within: to past the end refused");
	T_EQ(out.len, 0, "within: nothing appended when refused");
}

int
main(void)
{
	(void)state_lens;
	for (int i = 0; i < 2; i++)
		slens[i] = strlen(states[i]);
	test_happy_path();
	test_authenticate();
	test_command_id_echo();
	test_resume();
	test_filters();
	test_multi_subscriptions();
	test_errors();
	test_session_edges();
	test_pipelined();
	test_client_builders();
	test_filter_spec();
	test_classify();
	test_event_fields();
	test_events_within();
	evt_buf_free(&out);
	T_DONE();
}
