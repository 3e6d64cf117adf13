/*
 * test_gateway.c: the gateway's option defaults (gateway.h): a zeroed
 * struct evt_gw_opts gets exactly the documented EVT_GW_DEFAULT_* values,
 * fields that are set stay, the backlog marks are derived and bounded as
 * documented, and evt_gw_new applies the same defaults to its own copy
 * (a real gateway on a free loopback port).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "evtape/ess.h"
#include "evtape/gateway.h"
#include "evtape/http.h"
#include "../../src/gateway_int.h"
#include "t.h"

/* Checks that a zeroed struct gets every documented default. */
static void
test_zero_gets_defaults(void)
{
	struct evt_gw_opts o;

	memset(&o, 0, sizeof o);
	evt_gw_opts_defaults(&o);
	T_OK(o.host != NULL && strcmp(o.host, EVT_GW_DEFAULT_HOST) == 0,
	    "host %s", o.host ? o.host : "(null)");
	T_OK(o.password != NULL &&
	    strcmp(o.password, EVT_GW_DEFAULT_PASSWORD) == 0, "password");
	T_OK(o.username == NULL, "no default user: any user accepted");
	T_OK(o.product_version != NULL && strcmp(o.product_version,
	    EVT_GW_DEFAULT_PRODUCT_VERSION) == 0, "product version %s",
	    o.product_version ? o.product_version : "(null)");
	T_EQ(o.port, 0, "port 0: a free one");
	T_EQ(o.token_lifetime, EVT_GW_DEFAULT_TOKEN_LIFETIME,
	    "token lifetime");
	T_OK(o.resume_window == EVT_GW_DEFAULT_RESUME_WINDOW,
	    "resume window %g", o.resume_window);
	T_EQ(o.history_bytes, EVT_GW_DEFAULT_HISTORY_BYTES, "history bytes");
	T_EQ(o.max_sessions, EVT_GW_DEFAULT_MAX_SESSIONS, "max sessions");
	T_EQ(o.max_conns, EVT_GW_DEFAULT_MAX_CONNS, "max conns");
	T_EQ(o.max_queue, EVT_GW_DEFAULT_MAX_QUEUE, "max queue");
	T_EQ(o.max_head, EVT_HTTP_MAX_HEAD, "max head as http.h");
	T_EQ(o.max_body, EVT_HTTP_MAX_BODY, "max body as http.h");
	T_EQ(o.ess_limits.max_subs, EVT_ESS_MAX_SUBS, "max subs as ess.h");
	T_EQ(o.ess_limits.max_filters, EVT_ESS_MAX_FILTERS,
	    "max filters as ess.h");
	T_EQ(o.ess_limits.max_entries, EVT_ESS_MAX_ENTRIES,
	    "max entries as ess.h");
	T_EQ(o.ess_limits.max_frame, EVT_ESS_MAX_FRAME, "max frame as ess.h");
	T_OK(o.http_timeout == EVT_GW_DEFAULT_HTTP_TIMEOUT,
	    "http timeout %g", o.http_timeout);
	T_OK(o.http_idle == EVT_GW_DEFAULT_HTTP_IDLE, "http idle %g",
	    o.http_idle);
	T_OK(o.ws_session_timeout == EVT_GW_DEFAULT_WS_SESSION_TIMEOUT,
	    "ws session timeout %g", o.ws_session_timeout);
	T_OK(o.sub_timeout == 0 && o.ping_interval == 0 &&
	    o.dead_timeout == 0 && o.state_delay == 0,
	    "no subscription limit, pings, dead timeout or state delay");
	T_EQ(o.backlog_high, EVT_GW_DEFAULT_BACKLOG_HIGH, "backlog high");
	T_EQ(o.backlog_low, EVT_GW_DEFAULT_BACKLOG_HIGH / 4,
	    "backlog low is a quarter of high");
	T_OK(o.backlog_low >= EVT_GW_BACKLOG_LOW_MIN &&
	    o.backlog_high <= o.history_bytes / 2,
	    "default backlog marks within their bounds");
}

/* Checks that set fields stay and that the defaults are a fixed point. */
static void
test_set_fields_stay(void)
{
	struct evt_gw_opts o, again;

	memset(&o, 0, sizeof o);
	o.host = "::1";
	o.max_conns = 7;
	o.token_lifetime = 60;
	o.ws_session_timeout = -1;
	o.product_version = "evplay 1";
	o.ess_limits.max_frame = 4096;
	evt_gw_opts_defaults(&o);
	T_OK(strcmp(o.host, "::1") == 0, "host kept");
	T_EQ(o.max_conns, 7, "max conns kept");
	T_EQ(o.token_lifetime, 60, "token lifetime kept");
	T_OK(o.ws_session_timeout == -1, "no session limit kept");
	T_OK(strcmp(o.product_version, "evplay 1") == 0, "product kept");
	T_EQ(o.ess_limits.max_frame, 4096, "max frame kept");
	T_EQ(o.ess_limits.max_subs, EVT_ESS_MAX_SUBS,
	    "other ess limits defaulted");
	again = o;
	evt_gw_opts_defaults(&again);
	T_OK(memcmp(&o, &again, sizeof o) == 0, "applying twice changes "
	    "nothing");
}

/* Checks the backlog bounds against a small history. */
static void
test_backlog_bounds(void)
{
	struct evt_gw_opts o;

	memset(&o, 0, sizeof o);
	o.history_bytes = (size_t)2 << 20;
	evt_gw_opts_defaults(&o);
	T_EQ(o.backlog_high, (size_t)1 << 20, "high at half of a 2 MiB "
	    "history");
	T_EQ(o.backlog_low, EVT_GW_BACKLOG_LOW_MIN, "low a quarter of that");

	memset(&o, 0, sizeof o);
	o.history_bytes = (size_t)256 << 10;
	evt_gw_opts_defaults(&o);
	T_EQ(o.backlog_low, EVT_GW_BACKLOG_LOW_MIN, "low never below its "
	    "minimum");
	T_EQ(o.backlog_high, EVT_GW_BACKLOG_LOW_MIN, "high at least low");

	memset(&o, 0, sizeof o);
	o.backlog_high = (size_t)8 << 20;
	o.backlog_low = (size_t)16 << 20;
	evt_gw_opts_defaults(&o);
	T_EQ(o.backlog_low, (size_t)2 << 20, "low above high: a quarter of "
	    "high instead");
}

/* Checks that evt_gw_new applies the same defaults to its copy. */
static void
test_new_applies_defaults(void)
{
	struct event_base *base = event_base_new();
	struct evt_gw_opts zero, want;
	struct evt_gw *gw = NULL;
	int rc;

	memset(&zero, 0, sizeof zero);
	want = zero;
	evt_gw_opts_defaults(&want);
	rc = base != NULL ? evt_gw_new(base, &zero, &gw) : -1;
	T_EQ(rc, 0, "gateway on a free loopback port");
	if (rc != 0) {
		if (base != NULL)
			event_base_free(base);
		return;
	}
	T_OK(evt_gw_port(gw) != 0, "listening on port %u", evt_gw_port(gw));
	T_OK(strcmp(gw->host, EVT_GW_DEFAULT_HOST) == 0, "host applied");
	T_OK(strcmp(gw->password, EVT_GW_DEFAULT_PASSWORD) == 0,
	    "password applied");
	T_OK(strcmp(gw->product, EVT_GW_DEFAULT_PRODUCT_VERSION) == 0,
	    "product version applied: %s", gw->product);
	T_EQ(gw->o.token_lifetime, want.token_lifetime, "token lifetime "
	    "applied");
	T_OK(gw->o.resume_window == want.resume_window &&
	    gw->o.http_timeout == want.http_timeout &&
	    gw->o.http_idle == want.http_idle &&
	    gw->o.ws_session_timeout == want.ws_session_timeout,
	    "time limits applied");
	T_EQ(gw->o.history_bytes, want.history_bytes, "history applied");
	T_EQ(gw->o.max_sessions, want.max_sessions, "max sessions applied");
	T_EQ(gw->o.max_conns, want.max_conns, "max conns applied");
	T_EQ(gw->o.max_queue, want.max_queue, "max queue applied");
	T_EQ(gw->o.max_head, want.max_head, "max head applied");
	T_EQ(gw->o.max_body, want.max_body, "max body applied");
	T_OK(memcmp(&gw->o.ess_limits, &want.ess_limits,
	    sizeof want.ess_limits) == 0, "ess limits applied");
	T_EQ(gw->o.backlog_high, want.backlog_high, "backlog high applied");
	T_EQ(gw->o.backlog_low, want.backlog_low, "backlog low applied");
	evt_gw_free(gw);
	event_base_free(base);
}

int
main(void)
{
	test_zero_gets_defaults();
	test_set_fields_stay();
	test_backlog_bounds();
	test_new_applies_defaults();
	T_DONE();
}
